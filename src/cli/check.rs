//! `tandem check [PROJECT]`: validate a project file (exit 2 with file, line:col and key when bad).

use super::{print_json, Failure};
use crate::project;
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct CheckArgs {
    project: Option<PathBuf>,
    #[arg(long)]
    json: bool,
}

impl CheckArgs {
    pub fn run(self) -> Result<(), Failure> {
        let file = project::locate(self.project.as_deref());
        match project::load(&file) {
            Ok(p) => {
                if self.json {
                    print_json(
                        &serde_json::json!({"ok": true, "file": file, "name": p.name, "hash": p.hash}),
                    );
                } else {
                    println!(
                        "{}: ok ({}, {} datasets, {} plots, targets: {})",
                        file.display(),
                        p.name,
                        p.datasets.len(),
                        p.plots.len(),
                        p.targets.keys().cloned().collect::<Vec<_>>().join(", ")
                    );
                }
                Ok(())
            }
            Err(e) => {
                if self.json {
                    print_json(
                        &serde_json::json!({"ok": false, "file": e.file, "line": e.pos.map(|p| p.line), "col": e.pos.map(|p| p.col), "key": e.key, "message": e.message}),
                    );
                }
                Err(Failure::bad(e.to_string()))
            }
        }
    }
}
