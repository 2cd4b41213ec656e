//! Resuming runs a stopped tandem left unfinished, for the TUI (on start) and `tandem runs
//! resume` alike: which runs are left, the project each is driven with, and following a run that
//! another live tandem drives until it ends (or its driver goes, and it can be taken over).

use super::run::Run;
use super::workspace::Workspace;
use crate::project::{self, Project, ProjectError};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Unfinished runs no live tandem drives, split into those of one project and target (the TUI
/// re-attaches to these) and the others (left for `tandem runs resume`).
pub struct Orphans {
    pub mine: Vec<Run>,
    pub elsewhere: usize,
}

pub fn orphans_of(ws: &Workspace, project_file: &Path, target: &str) -> std::io::Result<Orphans> {
    let file = project_file.display().to_string();
    let (mine, others): (Vec<Run>, Vec<Run>) = ws
        .journal
        .orphans()?
        .into_iter()
        .partition(|r| r.project_file == file && r.target == target);
    Ok(Orphans {
        mine,
        elsewhere: others.len(),
    })
}

/// The project a run is driven (or cancelled, or shown) with: the file given, else the one the
/// run was started from; and whether that file changed since the run started.
pub fn project_of(run: &Run, given: Option<&Path>) -> Result<(Project, bool), ProjectError> {
    let file = given
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(&run.project_file));
    let p = project::load(&file)?;
    let changed = p.hash != run.project_hash;
    Ok((p, changed))
}

/// Follow a run that another tandem drives, from the journal, calling `seen` with each new record,
/// until it ends (its final record) or its driver goes away first (`None`: the caller takes the
/// run over).
pub async fn follow_driven(
    ws: &Workspace,
    id: &str,
    mut seen: impl FnMut(&Run),
) -> std::io::Result<Option<Run>> {
    loop {
        let Some(r) = ws.journal.get(id)? else {
            return Ok(None);
        };
        seen(&r);
        if r.state.is_terminal() {
            return Ok(Some(r));
        }
        if ws.journal.driver(id)?.is_none() {
            return Ok(None);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
