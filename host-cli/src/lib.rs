//! Host side library.
