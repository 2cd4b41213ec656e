//! Engines: how a phase runs somewhere. The local runner lives in `pipeline::runner`; Slurm (over any
//! transport) and Ray (the Jobs REST API, direct or through a transport) are here.

pub mod ray;
pub mod slurm;
