//! Runs, their lifecycle, chaining through the handoff, and the journal. No ratatui here.

pub mod executor;
pub mod journal;
pub mod run;
pub mod runner;

pub use executor::{execute, prepare_run, RunEvent, Workspace};
pub use journal::Journal;
pub use run::{fmt_duration, PhaseRun, Run, RunState};
