//! tandem: a terminal workbench for two-phase research pipelines (Ray preprocess, Slurm solve) on AWS,
//! with an embedded local default that runs the whole loop offline.

pub mod app;
pub mod aws;
pub mod cli;
pub mod cluster;
pub mod engine;
pub mod fmt;
pub mod observe;
pub mod pipeline;
pub mod plot;
pub mod project;
pub mod storage;
pub mod theme;
pub mod tools;
pub mod transport;
pub mod tui;
pub mod views;
