//! Engines: the schedulers tandem speaks, as clients with no idea of runs. Slurm (over any
//! transport) and Ray (the Jobs REST API, direct or through a transport), and `connect`, the one
//! place a target's transport and engines are found and connected. How a phase's lifecycle uses
//! them is in `pipeline::phase`; the local runner is `pipeline::runner`.

pub mod connect;
pub mod joblog;
pub mod ray;
pub mod slurm;

pub use connect::{Connections, EngineError, SlurmCluster};
