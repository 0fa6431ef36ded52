//! The host side of mlp-core: data loading, splits, training runs and reports.
//!
//! The `host-cli` binary is a thin layer of flags over these modules, so
//! integration tests and benchmarks can run the same code.

pub mod accel;
pub mod arch;
pub mod boxed;
pub mod data;
pub mod engine;
pub mod evaluate;
pub mod export;
pub mod fullbatch;
pub mod idx;
pub mod modelfile;
pub mod optim;
pub mod pages;
pub mod parallel;
pub mod plot;
pub mod prepare;
pub mod regression;
pub mod report;
pub mod run;
pub mod source;
pub mod split;
pub mod sweep;
