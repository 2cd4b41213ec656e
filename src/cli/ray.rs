//! `tandem ray --target T`: a target's Ray cluster from its dashboard: nodes, resource use, jobs.

use super::{load_project, print_json, Failure};
use crate::engine::Connections;
use crate::observe::sanitize;
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct RayArgs {
    #[arg(long)]
    target: Option<String>,
    #[arg(long)]
    project: Option<PathBuf>,
    #[arg(long)]
    json: bool,
}

impl RayArgs {
    pub async fn run(self) -> Result<(), Failure> {
        let p = load_project(self.project.as_deref())?;
        let target = self.target.unwrap_or_else(|| p.default_target.clone());
        let ray = Connections::default()
            .ray(&p, &target)
            .await
            .map_err(|e| Failure::bad(e.to_string()))?;
        let c = ray
            .cluster()
            .await
            .map_err(|e| Failure::failed(e.to_string()))?;
        if self.json {
            print_json(&c);
            return Ok(());
        }
        println!(
            "{} · {} nodes · {} running jobs",
            ray.describe(),
            c.nodes.len(),
            c.running_jobs()
        );
        for (k, (u, t)) in &c.usage {
            println!("  {k:<20} {u} / {t}");
        }
        println!("\n{:<16} {:<7} {:<6} resources", "node ip", "role", "state");
        for n in &c.nodes {
            let res: Vec<String> = n
                .resources
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            println!(
                "{:<16} {:<7} {:<6} {}",
                sanitize(&n.ip),
                if n.head { "head" } else { "worker" },
                sanitize(&n.state),
                sanitize(&res.join(" "))
            );
        }
        println!("\n{:<36} {:<10} entrypoint", "submission id", "status");
        for j in &c.jobs {
            println!(
                "{:<36} {:<10} {}",
                sanitize(j.submission_id.as_deref().unwrap_or("-")),
                sanitize(&j.status),
                sanitize(&j.entrypoint)
            );
        }
        Ok(())
    }
}
