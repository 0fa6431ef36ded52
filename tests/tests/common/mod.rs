//! Helpers shared by the integration tests. Each file in `tests/tests/` is its
//! own crate and uses only part of this module, hence the `dead_code` allowance.
#![allow(dead_code)]

pub mod data;
pub mod params;
pub mod tolerances;

use mlp_core::{DefaultRng, TrainConfig};
use rand_core::SeedableRng;

/// The core's default generator from a seed.
pub fn rng(seed: u64) -> DefaultRng {
    DefaultRng::seed_from_u64(seed)
}

/// A uniform draw on `[lo, hi)` from the core's own `[0, 1)` sampler.
pub fn uniform<R: rand_core::Rng>(rng: &mut R, lo: f64, hi: f64) -> f64 {
    lo + (hi - lo) * mlp_core::init::unit_interval(rng)
}

/// `config` with another update rule: the same epochs, batches, schedule,
/// penalties and clipping.
pub fn with_optimizer<O, P>(config: &TrainConfig<P>, optimizer: O) -> TrainConfig<O> {
    let TrainConfig { epochs, batch_size, optimizer: _, schedule, l2, l1, clip_norm, frozen_layers, dropout } = *config;
    TrainConfig { epochs, batch_size, optimizer, schedule, l2, l1, clip_norm, frozen_layers, dropout }
}
