//! The host side of mlp-core: data loading, training runs, reports and export.

pub mod boxed;
