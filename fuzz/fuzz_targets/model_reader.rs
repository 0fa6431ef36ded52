//! Arbitrary bytes through every reader of mlp-core's model files: no
//! panic, nothing changed by a refused read, and whatever is accepted is
//! written back as it was read (see `mlp_fuzz::check`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| mlp_fuzz::check(data));
