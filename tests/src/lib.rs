//! Integration tests live in `tests/`; this library holds what they share
//! with the project's tools.

pub mod crosscheck;
