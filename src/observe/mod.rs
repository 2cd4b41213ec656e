//! Observing runs: the sanitiser, log buffers and tailing.

pub mod ansi;
pub mod cloudwatch;
pub mod filter;
pub mod logbuf;
pub mod sanitize;
pub mod tail;

pub use sanitize::{sanitize, sanitize_bytes};
