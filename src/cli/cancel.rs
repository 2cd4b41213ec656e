//! `tandem cancel RUN`: each running phase of a run stopped with its own engine (Ray's stop for a
//! Ray job, scancel for a Slurm job, SIGTERM then SIGKILL for a local process), saying what it did.

use super::{journal_run, print_json, Failure, Global};
use crate::engine::Connections;
use crate::pipeline::{cancel, resume};
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct CancelArgs {
    /// Run id (a unique prefix is enough; `last` is the newest).
    run: String,
    #[arg(long)]
    project: Option<PathBuf>,
    #[arg(long)]
    json: bool,
}

impl CancelArgs {
    pub async fn run(self, g: &Global) -> Result<(), Failure> {
        let ws = g.workspace();
        let r = journal_run(&ws, &self.run)?;
        let (p, _) = resume::project_of(&r, self.project.as_deref())
            .map_err(|e| Failure::bad(e.to_string()))?;
        let done = cancel::cancel_run(&p, &r, &Connections::default()).await;
        if self.json {
            print_json(&serde_json::json!({"run": r.id, "cancelled": done}));
        } else if done.is_empty() {
            println!("{}: nothing running", r.id);
        } else {
            for d in &done {
                match &d.detail {
                    None => println!("{}: {}: {}", r.id, d.phase, d.action),
                    Some(why) => println!(
                        "{}: {}: {}: {}",
                        r.id,
                        d.phase,
                        d.action,
                        crate::observe::sanitize(why)
                    ),
                }
            }
        }
        match done.iter().all(|d| d.ok) {
            true => Ok(()),
            false => Err(Failure::failed(String::new())),
        }
    }
}
