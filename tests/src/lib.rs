//! Integration tests live in `tests/`; this library holds what they share
//! with the project's tools.

pub mod crosscheck;

/// The Rust code blocks of the repository's `README.md`, compiled and run as
/// doc tests. A block marked `ignore` is a whole program instead, which
/// `tests/readme.rs` checks is the file it names.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;

/// The Rust code blocks of `core/README.md`, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../../core/README.md")]
pub struct CoreReadmeDoctests;
