//! Transfers in the TUI: download the selected object or folder, upload a local file or directory
//! into the current prefix, follow each with a gauge (throughput, ETA), cancel, retry (a download
//! picks up from the parts already written), and ask before a local file is replaced.

use super::command::Command;
use super::msg::Action;
use super::state::{AppState, Level, Popup, Prompt, RowKind};
use crate::observe::sanitize;
pub use crate::storage::transfer::{Direction, TransferProgress, TransferSpec, TransferState};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use std::path::PathBuf;

/// What a path prompt is asking for.
#[derive(Debug, Clone, PartialEq)]
pub enum PathFor {
    Download {
        bucket: String,
        key: String,
        recursive: bool,
    },
    Upload {
        bucket: String,
        prefix: String,
    },
    /// A directory to sync with the current prefix, in `way`.
    Sync {
        bucket: String,
        prefix: String,
        way: Direction,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Transfer {
    pub id: u64,
    pub spec: TransferSpec,
    pub state: TransferState,
    pub progress: TransferProgress,
}

impl Transfer {
    /// Mean bytes a second since the start.
    pub fn rate(&self) -> Option<f64> {
        let p = &self.progress;
        (p.elapsed_ms >= 200 && p.done > 0).then(|| p.done as f64 * 1000.0 / p.elapsed_ms as f64)
    }
    pub fn eta_secs(&self) -> Option<u64> {
        let r = self.rate()?;
        Some((self.progress.total.saturating_sub(self.progress.done) as f64 / r).ceil() as u64)
    }
    pub fn fraction(&self) -> f64 {
        let p = &self.progress;
        if self.state == TransferState::Done {
            1.0
        } else if p.total == 0 {
            0.0
        } else {
            (p.done as f64 / p.total as f64).clamp(0.0, 1.0)
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct TransfersState {
    pub list: Vec<Transfer>,
    pub selected: usize,
    pub next_id: u64,
}

impl TransfersState {
    pub fn running(&self) -> impl Iterator<Item = &Transfer> {
        self.list
            .iter()
            .filter(|t| t.state == TransferState::Running)
    }
    /// Bytes done, bytes to do and throughput over every running transfer.
    pub fn totals(&self) -> Option<(u64, u64, f64)> {
        let mut any = false;
        let (mut d, mut t, mut r) = (0, 0, 0.0);
        for x in self.running() {
            any = true;
            d += x.progress.done;
            t += x.progress.total;
            r += x.rate().unwrap_or(0.0);
        }
        any.then_some((d, t, r))
    }
}

/// `d` in Datasets: ask where the selected object or folder goes.
pub fn ask_download(s: &mut AppState) -> Vec<Command> {
    let Some(bucket) = s.datasets.bucket.clone() else {
        super::status::set_status(s, Level::Info, "open a bucket first".into());
        return vec![];
    };
    let vis = s.datasets.visible();
    let Some(row) = vis.get(s.datasets.selected).map(|r| (*r).clone()) else {
        return vec![];
    };
    let recursive = row.kind == RowKind::Prefix;
    s.prompt = Some(Prompt::Path {
        purpose: PathFor::Download {
            bucket,
            key: row.key.into(),
            recursive,
        },
        text: s.download_dir.clone(),
    });
    vec![]
}

/// `u` in Datasets: ask which local file or directory goes into the current prefix.
pub fn ask_upload(s: &mut AppState) -> Vec<Command> {
    let Some(bucket) = s.datasets.bucket.clone() else {
        super::status::set_status(s, Level::Info, "open a bucket first".into());
        return vec![];
    };
    s.prompt = Some(Prompt::Path {
        purpose: PathFor::Upload {
            bucket,
            prefix: s.datasets.prefix.clone(),
        },
        text: s.download_dir.clone(),
    });
    vec![]
}

/// `S` / `U` in Datasets: ask which local directory to sync with the current prefix (down into
/// it, or up from it). The sync is planned first, and the plan asked about before anything moves.
pub fn ask_sync(s: &mut AppState, way: Direction) -> Vec<Command> {
    let Some(bucket) = s.datasets.bucket.clone() else {
        super::status::set_status(s, Level::Info, "open a bucket first".into());
        return vec![];
    };
    s.prompt = Some(Prompt::Path {
        purpose: PathFor::Sync {
            bucket,
            prefix: s.datasets.prefix.clone(),
            way,
        },
        text: s.download_dir.clone(),
    });
    vec![]
}

/// A sync's plan arrived: ask with its numbers, or say why there is none.
pub fn on_sync_planned(
    s: &mut AppState,
    id: u64,
    spec: TransferSpec,
    summary: Result<String, String>,
) -> Vec<Command> {
    match summary {
        Ok(summary) => {
            let (from, to) = spec.label();
            s.popup = Some(Popup::Confirm {
                text: format!("sync {from} → {to}: {}.  Start?  y / n", sanitize(&summary)),
                action: Action::StartSync { id, spec },
            });
        }
        Err(e) => {
            super::status::set_status(s, Level::Error, format!("sync: {}", sanitize(&e)));
        }
    }
    vec![]
}

/// Editing the path prompt; Enter starts the transfer.
pub fn on_path_key(
    s: &mut AppState,
    purpose: PathFor,
    mut text: String,
    k: KeyEvent,
) -> Vec<Command> {
    match k.code {
        KeyCode::Esc => {
            s.prompt = None;
            return vec![];
        }
        KeyCode::Enter => {
            s.prompt = None;
            if text.trim().is_empty() {
                return vec![];
            }
            let local = PathBuf::from(crate::project::expand_tilde(text.trim()));
            let spec = match purpose {
                PathFor::Download {
                    bucket,
                    key,
                    recursive,
                } => TransferSpec {
                    dir: Direction::Down,
                    bucket,
                    key,
                    local,
                    recursive,
                    overwrite: false,
                    sync: false,
                },
                PathFor::Upload { bucket, prefix } => TransferSpec {
                    dir: Direction::Up,
                    bucket,
                    key: prefix,
                    local,
                    recursive: true,
                    overwrite: false,
                    sync: false,
                },
                PathFor::Sync {
                    bucket,
                    prefix,
                    way,
                } => {
                    let spec = TransferSpec {
                        dir: way,
                        bucket,
                        key: prefix,
                        local,
                        recursive: true,
                        overwrite: true,
                        sync: true,
                    };
                    let id = s.transfers.next_id;
                    s.transfers.next_id += 1;
                    let (from, to) = spec.label();
                    super::status::set_status(
                        s,
                        Level::Info,
                        format!("comparing {from} with {to}…"),
                    );
                    return vec![Command::PlanSync { id, spec }];
                }
            };
            return start(s, spec);
        }
        KeyCode::Backspace => {
            text.pop();
        }
        KeyCode::Char('u') if k.modifiers.contains(KeyModifiers::CONTROL) => text.clear(),
        KeyCode::Char(c) if !k.modifiers.contains(KeyModifiers::CONTROL) => text.push(c),
        _ => {}
    }
    s.prompt = Some(Prompt::Path { purpose, text });
    vec![]
}

fn start(s: &mut AppState, spec: TransferSpec) -> Vec<Command> {
    let id = s.transfers.next_id;
    s.transfers.next_id += 1;
    start_as(s, id, spec)
}

/// Start transfer `id` (a sync the user said yes to keeps the id its plan was made under).
pub fn start_as(s: &mut AppState, id: u64, spec: TransferSpec) -> Vec<Command> {
    let (from, to) = spec.label();
    super::status::set_status(
        s,
        Level::Info,
        format!("{from} → {to} started (7 shows transfers)"),
    );
    s.transfers.list.push(Transfer {
        id,
        spec: spec.clone(),
        state: TransferState::Running,
        progress: TransferProgress::default(),
    });
    vec![Command::Transfer { id, spec }]
}

pub fn on_progress(s: &mut AppState, id: u64, p: TransferProgress) {
    if let Some(t) = s.transfers.list.iter_mut().find(|t| t.id == id) {
        if t.state == TransferState::Running {
            t.progress = p;
        }
    }
}

pub fn on_ended(s: &mut AppState, id: u64, state: TransferState) -> Vec<Command> {
    let Some(t) = s.transfers.list.iter_mut().find(|t| t.id == id) else {
        return vec![];
    };
    t.state = state.clone();
    let spec = t.spec.clone();
    let (from, to) = spec.label();
    match state {
        TransferState::Exists(path) => {
            s.popup = Some(Popup::Confirm {
                text: format!(
                    "{} exists. Replace it (and any other existing file of this download)?  y / n",
                    sanitize(&path)
                ),
                action: Action::Overwrite(id),
            });
            vec![]
        }
        TransferState::Failed(e) => {
            let msg = format!(
                "{from} → {to} failed: {} — R in Transfers retries",
                sanitize(&e)
            );
            super::status::set_status(s, Level::Error, msg);
            vec![]
        }
        TransferState::Cancelled => {
            super::status::set_status(s, Level::Warn, format!("{from} → {to} cancelled"));
            vec![]
        }
        TransferState::Done => {
            super::status::set_status(s, Level::Info, format!("{from} → {to} done"));
            // an upload into the listed prefix shows up at once
            let here = s.datasets.bucket.as_deref() == Some(spec.bucket.as_str())
                && spec.key.starts_with(&s.datasets.prefix);
            if spec.dir == Direction::Up && here && !s.datasets.loading {
                super::datasets::list_datasets(s)
            } else {
                vec![]
            }
        }
        TransferState::Running => vec![],
    }
}

/// Start transfer `id` again: after a failure or a cancel (a download resumes), or with
/// `overwrite` once the user allowed replacing local files.
pub fn restart(s: &mut AppState, id: u64, overwrite: bool) -> Vec<Command> {
    let Some(t) = s.transfers.list.iter_mut().find(|t| t.id == id) else {
        return vec![];
    };
    if t.state == TransferState::Running || t.state == TransferState::Done {
        return vec![];
    }
    t.spec.overwrite |= overwrite;
    t.state = TransferState::Running;
    t.progress = TransferProgress::default();
    vec![Command::Transfer {
        id,
        spec: t.spec.clone(),
    }]
}

pub fn selected(s: &AppState) -> Option<&Transfer> {
    s.transfers.list.get(s.transfers.selected)
}

/// `c` in Transfers: ask before cancelling the selected transfer.
pub fn ask_cancel(s: &mut AppState) -> Vec<Command> {
    match selected(s) {
        Some(t) if t.state == TransferState::Running => {
            let (from, to) = t.spec.label();
            s.popup = Some(Popup::Confirm {
                text: format!(
                    "Cancel {from} → {to}? A download keeps its parts for a retry.  y / n"
                ),
                action: Action::CancelTransfer(t.id),
            });
        }
        _ => super::status::set_status(s, Level::Info, "no running transfer selected".into()),
    }
    vec![]
}

/// `R` in Transfers: retry the selected transfer.
pub fn retry_selected(s: &mut AppState) -> Vec<Command> {
    match selected(s).map(|t| t.id) {
        Some(id) => restart(s, id, false),
        None => vec![],
    }
}

/// `x` in Transfers: forget the finished ones.
pub fn clear_finished(s: &mut AppState) -> Vec<Command> {
    s.transfers
        .list
        .retain(|t| matches!(t.state, TransferState::Running | TransferState::Exists(_)));
    s.transfers.selected = s
        .transfers
        .selected
        .min(s.transfers.list.len().saturating_sub(1));
    vec![]
}
