//! Inverted dropout on hidden layers: while training, each hidden unit's
//! output is kept with probability `keep = 1 − p` and then divided by
//! `keep`, or set to 0; inference and evaluation never drop anything, and
//! need no rescaling because training already did it.
//!
//! # The masks
//!
//! Before each training sample's forward pass, every hidden layer with a
//! rate above 0 draws one `u32` per unit from the training generator
//! (`TrainState::persistent.rng`), first layer to last, unit by unit; the
//! unit is kept when the draw is below `⌊keep·2³²⌋`. Its mask value is then
//! `1/keep` (rounded once to the network's scalar) or 0, and training uses
//!
//! * forward: `a′ = a · m`, which the next layer takes as its input;
//! * backward: `δ = ((∂L/∂a′) · m) · f′(a)`, with `f′` taken from the
//!   output `a` before dropout (tanh and sigmoid need it).
//!
//! Why this draw: an integer compare is exact and the same on every machine,
//! so the masks do not depend on how a platform converts or rounds a float,
//! and a device's per-sample path needs no `f64` (the threshold and the
//! scale are computed once, when the configuration is checked). Drawing
//! every mask of a sample from the one generator, in sample order, before
//! its forward pass makes the masks a function of the seed alone: the
//! host's threaded engine draws a group's masks on the calling thread in
//! that same order, and its threads only read them, so the thread count
//! changes nothing. A rate of 0 draws nothing: a run without dropout takes
//! exactly the numbers from the generator it took before dropout existed.
//!
//! The masks and the dropped outputs live in a [`DropoutCache`] (two values
//! per hidden unit, [`Network::DROPOUT_BYTES`](crate::Network::DROPOUT_BYTES)),
//! outside [`TrainState`](crate::TrainState), so the RAM of training without
//! dropout does not grow.
//!
//! ```
//! use mlp_core::dropout::{Dropout, DropoutCache};
//! use mlp_core::{layers, Dense, Network, TrainConfig, activation::Relu};
//! type Net = layers![Dense<f32, 64, 32, Relu>, Dense<f32, 32, 10>];
//! // A mask and a dropped output per hidden unit:
//! assert_eq!(Net::DROPOUT_BYTES, 2 * 32 * 4);
//! static CACHE: DropoutCache<Net> = DropoutCache::new();
//! static CONFIG: TrainConfig = TrainConfig { dropout: Dropout::uniform(0.5, 1), ..TrainConfig::DEFAULT };
//! assert_eq!(CONFIG.dropout.rate(0), 0.5);
//! ```
//!
//! [`DropoutCache`]: crate::DropoutCache

use rand_core::Rng;

use crate::error::{Error, Hyperparameter};
use crate::float::Float;

pub use crate::network::DropoutCache;

/// The most hidden layers a configuration gives a rate to; deeper layers train without dropout.
pub const MAX_LAYERS: usize = 8;

/// The probability of dropping each hidden unit, per hidden layer (first
/// hidden layer first); 0 for none. Stored as configured, in `f64`, like
/// every other hyperparameter, so a checkpoint resumes with the same masks.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Dropout {
    /// `rates[l]` for hidden layer `l`; each in `[0, 1)`.
    pub rates: [f64; MAX_LAYERS],
}

impl Dropout {
    /// No dropout.
    pub const NONE: Self = Dropout { rates: [0.0; MAX_LAYERS] };

    /// The same rate for the first `hidden_layers` hidden layers (a
    /// network's hidden layers: its layers but the last), 0 for the rest.
    pub const fn uniform(rate: f64, hidden_layers: usize) -> Self {
        let mut rates = [0.0; MAX_LAYERS];
        let mut l = 0;
        while l < hidden_layers && l < MAX_LAYERS {
            rates[l] = rate;
            l += 1;
        }
        Dropout { rates }
    }

    /// The rate of hidden layer `layer` (0 beyond [`MAX_LAYERS`]).
    pub fn rate(&self, layer: usize) -> f64 {
        self.rates.get(layer).copied().unwrap_or(0.0)
    }

    /// Whether no layer drops anything.
    pub fn is_none(&self) -> bool {
        self.rates.iter().all(|&p| p == 0.0)
    }

    /// Checks every rate (in `[0, 1)`) and computes the thresholds and
    /// scales that training uses in `T`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHyperparameter`] naming [`Hyperparameter::Dropout`].
    pub fn check<T: Float>(&self) -> Result<DropoutRule<T>, Error> {
        let mut rule =
            DropoutRule { threshold: [0; MAX_LAYERS], scale: [T::ONE; MAX_LAYERS], active: [false; MAX_LAYERS] };
        for (l, &p) in self.rates.iter().enumerate() {
            if !(0.0..1.0).contains(&p) {
                return Err(Error::InvalidHyperparameter {
                    name: Hyperparameter::Dropout,
                    requirement: "at least 0 and below 1 (the probability of dropping a unit)",
                });
            }
            if p == 0.0 {
                continue;
            }
            let keep = 1.0 - p;
            // Below 2³² since keep < 1 unless p is below f64's rounding of 1 − p.
            let threshold = libm::floor(keep * 4_294_967_296.0);
            rule.threshold[l] = if threshold >= 4_294_967_295.0 { u32::MAX } else { threshold as u32 };
            rule.scale[l] = T::from_f64(1.0 / keep);
            rule.active[l] = true;
        }
        Ok(rule)
    }
}

impl Default for Dropout {
    fn default() -> Self {
        Self::NONE
    }
}

/// A [`Dropout`] checked for the scalar `T`: per hidden layer, the threshold
/// below which a draw keeps a unit and the scale `1/keep` of a kept one.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DropoutRule<T> {
    threshold: [u32; MAX_LAYERS],
    scale: [T; MAX_LAYERS],
    active: [bool; MAX_LAYERS],
}

impl<T: Float> DropoutRule<T> {
    /// Whether any layer drops units.
    pub fn is_active(&self) -> bool {
        self.active.iter().any(|&a| a)
    }

    /// Whether hidden layer `layer` drops units.
    pub fn drops(&self, layer: usize) -> bool {
        self.active.get(layer).copied().unwrap_or(false)
    }

    /// Draws hidden layer `layer`'s mask for one sample into `mask`: one
    /// `u32` per unit, in order, `scale` where it is below the threshold,
    /// else 0. A layer that does not drop draws nothing and gets all ones.
    #[inline(always)]
    pub fn draw<R: Rng + ?Sized>(&self, layer: usize, rng: &mut R, mask: &mut [T]) {
        let (Some(&threshold), Some(&scale), true) =
            (self.threshold.get(layer), self.scale.get(layer), self.drops(layer))
        else {
            mask.fill(T::ONE);
            return;
        };
        for m in mask {
            *m = if rng.next_u32() < threshold { scale } else { T::ZERO };
        }
    }
}
