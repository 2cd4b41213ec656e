//! `tandem jobs --target T`: the Slurm queue of a target's cluster (squeue through its
//! transport), or its partitions and node states (`--partitions`, sinfo).

use super::{load_project, print_json, Failure};
use crate::engine::Connections;
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct JobsArgs {
    #[arg(long)]
    target: String,
    #[arg(long)]
    project: Option<PathBuf>,
    /// Partitions and node states (sinfo) instead of the queue.
    #[arg(long)]
    partitions: bool,
    #[arg(long)]
    json: bool,
}

impl JobsArgs {
    pub async fn run(self) -> Result<(), Failure> {
        let p = load_project(self.project.as_deref())?;
        let cluster = Connections::default()
            .slurm(&p, &self.target)
            .await
            .map_err(|e| match e {
                crate::engine::EngineError::Transport(_) => Failure::failed(e.to_string()),
                _ => Failure::bad(e.to_string()),
            })?;
        let slurm = cluster.slurm();
        let c = tokio_util::sync::CancellationToken::new();
        if self.partitions {
            let lines = slurm
                .sinfo(&c)
                .await
                .map_err(|e| Failure::failed(e.to_string()))?;
            if self.json {
                print_json(&lines);
            } else {
                lines.iter().for_each(|l| println!("{l}"));
            }
            return Ok(());
        }
        let q = slurm
            .queue(&c)
            .await
            .map_err(|e| Failure::failed(e.to_string()))?;
        if self.json {
            print_json(&q);
            return Ok(());
        }
        println!(
            "{:>10}  {:<24} {:<10} {:<11} {:<18} {:>9} {:>5}",
            "JOBID", "NAME", "USER", "STATE", "REASON", "ELAPSED", "NODES"
        );
        for j in &q {
            let s = |x: &str| crate::observe::sanitize(x).into_owned();
            println!(
                "{:>10}  {:<24} {:<10} {:<11} {:<18} {:>9} {:>5}",
                s(&j.id),
                s(&j.name),
                s(&j.user),
                s(&j.state),
                s(&j.reason),
                crate::fmt::duration(chrono::Duration::seconds(j.elapsed_s as i64)),
                j.nodes
            );
        }
        Ok(())
    }
}
