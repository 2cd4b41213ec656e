//! Runs: where each phase runs (placement), its lifecycle on each placement, chaining through the
//! handoff, the journal, cancelling and resuming. No ratatui here.

pub mod cancel;
pub mod diff;
pub mod executor;
pub mod follow;
pub mod journal;
pub mod manifest;
pub mod phase;
pub mod placement;
pub mod plan;
pub mod resume;
pub mod reuse;
pub mod run;
pub mod runner;
pub mod workspace;

pub use executor::{execute, output_of, prepare_run, RunEvent};
pub use journal::Journal;
pub use manifest::{Manifest, MANIFEST};
pub use placement::Placement;
pub use run::{PhaseRun, Run, RunState};
pub use workspace::{Part, Workspace};
