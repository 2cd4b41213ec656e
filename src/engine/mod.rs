//! Engines: how a phase runs somewhere. The local runner lives in `pipeline::runner`; Slurm (over any
//! transport) is here; Ray arrives with issue 5.

pub mod slurm;
