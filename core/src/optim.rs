//! Stochastic gradient descent: configuration, validation and the per-parameter update.
//!
//! Regularisation is scaled as in scikit-learn: for a batch of `B` samples the
//! objective is `mean loss + l2/(2B)·‖W‖² + l1/B·‖W‖₁`, so the weight gradient is
//! `(Σ ∇loss + l2·W + l1·sign W) / B`. Biases are never regularised.
//! The optimizer's state (one velocity per trainable parameter) lives in
//! [`TrainState`](crate::TrainState).

use crate::error::Error;
use crate::float::Float;
use crate::network::Network;
use crate::walk::Part;

/// Hyperparameters of SGD, unchecked until [`SgdConfig::check`].
///
/// ```
/// use mlp_core::SgdConfig;
/// let sgd = SgdConfig { lr: 0.1, momentum: 0.9, ..SgdConfig::default() };
/// assert!(sgd.check::<f32>().is_ok());
/// assert!(SgdConfig { lr: f64::NAN, ..sgd }.check::<f32>().is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SgdConfig {
    /// Initial learning rate η₀ (> 0).
    pub lr: f64,
    /// Momentum μ in `[0, 1)`; 0 is plain SGD.
    pub momentum: f64,
    /// Nesterov's accelerated gradient instead of classical momentum.
    pub nesterov: bool,
    /// L2 penalty on weights (≥ 0).
    pub l2: f64,
    /// L1 penalty on weights (≥ 0).
    pub l1: f64,
    /// Inverse-time decay d (≥ 0): in epoch t (from 0), η = η₀ / (1 + d·t).
    /// [`TrainConfig::check`](crate::TrainConfig::check) rejects a decay that
    /// would round the last epoch's η to zero or a subnormal in the network's
    /// float type, which would silently stop learning.
    pub decay: f64,
}

impl Default for SgdConfig {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl SgdConfig {
    /// Plain SGD with a learning rate of 0.1: no momentum, penalty or decay.
    /// A constant, so firmware can build its configuration in a `const` or `static`:
    ///
    /// ```
    /// use mlp_core::SgdConfig;
    /// const SGD: SgdConfig = SgdConfig { lr: 0.05, momentum: 0.9, ..SgdConfig::DEFAULT };
    /// assert_eq!(SGD.l2, 0.0);
    /// ```
    pub const DEFAULT: Self = SgdConfig { lr: 0.1, momentum: 0.0, nesterov: false, l2: 0.0, l1: 0.0, decay: 0.0 };

    /// Validates every field, both as given and rounded to the network's scalar.
    ///
    /// How far the decay lowers the learning rate depends on the number of
    /// epochs, which [`TrainConfig::check`](crate::TrainConfig::check) also knows and checks.
    pub fn check<T: Float>(&self) -> Result<Sgd<T>, Error> {
        let bad = |name, requirement| Err(Error::InvalidHyperparameter { name, requirement });
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return bad("learning rate", "positive and finite");
        }
        if !(self.momentum >= 0.0 && self.momentum < 1.0) {
            return bad("momentum", "in [0, 1)");
        }
        if self.nesterov && self.momentum == 0.0 {
            return bad("momentum", "positive when Nesterov is on");
        }
        if !(self.l2.is_finite() && self.l2 >= 0.0) {
            return bad("l2", "non-negative and finite");
        }
        if !(self.l1.is_finite() && self.l1 >= 0.0) {
            return bad("l1", "non-negative and finite");
        }
        if !(self.decay.is_finite() && self.decay >= 0.0) {
            return bad("decay", "non-negative and finite");
        }
        // What the update will actually use: an `f64` setting can round to 0
        // or a subnormal (a learning rate of 1e-50 or 1e-40), to 1 (a momentum
        // of 0.99999999999) or to infinity (an L2 penalty of 1e300) in `f32`.
        let (lr, momentum) = (T::from_f64(self.lr), T::from_f64(self.momentum));
        if !(lr.is_finite() && lr >= T::MIN_POSITIVE) {
            return bad("learning rate", "positive and finite in the network's float type, and not subnormal");
        }
        if momentum >= T::ONE {
            return bad("momentum", "below 1 in the network's float type");
        }
        // A non-zero momentum or penalty that vanishes in `T` would be
        // silently ignored (a momentum of 1e-50 turns Nesterov into plain SGD).
        let vanishes = |value: f64| value != 0.0 && T::from_f64(value) < T::MIN_POSITIVE;
        if vanishes(self.momentum) {
            return bad("momentum", "zero or at least the smallest normal number of the network's float type");
        }
        for (name, value) in [("l2", self.l2), ("l1", self.l1)] {
            if !T::from_f64(value).is_finite() {
                return bad(name, "finite in the network's float type");
            }
            if vanishes(value) {
                return bad(name, "zero or at least the smallest normal number of the network's float type");
            }
        }
        Ok(Sgd {
            config: *self,
            lr,
            momentum,
            l2: T::from_f64(self.l2),
            l1: T::from_f64(self.l1),
            decay: T::from_f64(self.decay),
        })
    }
}

/// A validated [`SgdConfig`], its values rounded once to the network's
/// scalar: every step is computed in `T` (no software `f64` on a
/// single-precision device).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sgd<T> {
    config: SgdConfig,
    lr: T,
    momentum: T,
    l2: T,
    l1: T,
    decay: T,
}

impl<T: Float> Sgd<T> {
    /// The configuration it was made from.
    pub fn config(&self) -> &SgdConfig {
        &self.config
    }

    /// The learning rate the update uses in the given 0-based epoch:
    /// `η₀ / (1 + d·t)`, computed in `T` from the rounded `η₀` and `d`.
    pub fn learning_rate(&self, epoch: u32) -> T {
        if self.decay == T::ZERO {
            return self.lr;
        }
        self.lr / (T::ONE + self.decay * T::from_count(epoch as usize))
    }

    /// Coefficients of one step over a batch of `batch_len` samples in `epoch`.
    pub fn step(&self, epoch: u32, batch_len: usize) -> Step<T> {
        Step {
            lr: self.learning_rate(epoch),
            momentum: self.momentum,
            nesterov: self.config.nesterov,
            inv_batch: T::ONE / T::from_count(batch_len.max(1)),
            l2: self.l2,
            l1: self.l1,
        }
    }
}

/// Calls `rule(w, g, v)` for every parameter with its summed gradient, which
/// is reset to zero. Two parameters at a time, so that the two zeros are one
/// 64-bit store on a Cortex-M4F.
#[inline(always)]
fn sweep<T: Float>(params: &mut [T], grads: &mut [T], velocity: &mut [T], mut rule: impl FnMut(&mut T, T, &mut T)) {
    let (param_pairs, params_left) = params.as_chunks_mut::<2>();
    let (grad_pairs, grads_left) = grads.as_chunks_mut::<2>();
    let (velocity_pairs, velocity_left) = velocity.as_chunks_mut::<2>();
    for (([w0, w1], g), [v0, v1]) in param_pairs.iter_mut().zip(grad_pairs).zip(velocity_pairs) {
        let [g0, g1] = core::mem::replace(g, [T::ZERO; 2]);
        rule(w0, g0, v0);
        rule(w1, g1, v1);
    }
    for ((w, g), v) in params_left.iter_mut().zip(grads_left).zip(velocity_left) {
        rule(w, core::mem::replace(g, T::ZERO), v);
    }
}

/// The scalars of one optimizer step, computed once per batch.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Step<T> {
    /// Learning rate for this step.
    pub lr: T,
    /// Momentum coefficient.
    pub momentum: T,
    /// Nesterov look-ahead.
    pub nesterov: bool,
    /// 1 / batch size: gradients are sums over the batch.
    pub inv_batch: T,
    /// L2 coefficient.
    pub l2: T,
    /// L1 coefficient.
    pub l1: T,
}

impl<T: Float> Step<T> {
    /// One step on every trainable parameter of `net`, through the walk.
    #[inline(always)]
    pub(crate) fn apply<N: Network<Scalar = T>>(
        &self,
        net: &mut N,
        gradients: &mut N::Gradients,
        velocity: &mut N::Gradients,
    ) {
        net.for_each_trainable_zip(gradients, [velocity], |slot, w, g, [v]| match slot.part {
            Part::Weights => self.update_weights(w, g, v),
            Part::Biases => self.update_biases(w, g, v),
        });
    }

    /// Updates weights from summed gradients; velocities hold the momentum.
    #[inline(always)]
    pub(crate) fn update_weights(&self, params: &mut [T], grads: &mut [T], velocity: &mut [T]) {
        let (l2, l1) = (self.l2, self.l1);
        if l1 == T::ZERO && l2 == T::ZERO {
            // Without the `+ 0·w`: one operation fewer per weight.
            self.update(params, grads, velocity, |_| -T::ZERO);
        } else if l1 == T::ZERO {
            self.update(params, grads, velocity, |w| l2 * w);
        } else {
            self.update(params, grads, velocity, |w| {
                let sign = if w > T::ZERO {
                    T::ONE
                } else if w < T::ZERO {
                    -T::ONE
                } else {
                    T::ZERO
                };
                l2 * w + l1 * sign
            });
        }
    }

    /// Updates biases: no penalty.
    #[inline(always)]
    pub(crate) fn update_biases(&self, params: &mut [T], grads: &mut [T], velocity: &mut [T]) {
        // `g + (−0)` is `g` for every `g`, so the compiler drops the add.
        self.update(params, grads, velocity, |_| -T::ZERO);
    }

    /// `g = Σ∇ + penalty(w)` and `s = (η/B)·g`; plain SGD (μ = 0): `w −= s`;
    /// classical momentum: `v = μv − s; w += v`; Nesterov: `v = μv − s;
    /// w += μv − s`. Each summed gradient is reset to zero as it is read,
    /// ready for the next batch, which saves a second pass over the buffer.
    ///
    /// `η/B` is one coefficient, so a parameter costs one multiply for it
    /// (for a power-of-two batch `(g/B)·η` and `g·(η/B)` are the same
    /// number). Each rule is its own loop, so the loop body holds no choice:
    /// on a Cortex-M4F a momentum step is three loads, three stores and
    /// three or four floating-point operations per parameter.
    #[inline(always)]
    fn update(&self, params: &mut [T], grads: &mut [T], velocity: &mut [T], penalty: impl Fn(T) -> T + Copy) {
        let Step { lr, momentum, nesterov, inv_batch, .. } = *self;
        let rate = lr * inv_batch;
        if momentum == T::ZERO {
            // With μ = 0 the velocity would always be −s, and adding it is
            // subtracting s: plain SGD neither reads nor writes it.
            sweep(params, grads, velocity, |w, g, _| *w -= rate * (g + penalty(*w)));
        } else if nesterov {
            sweep(params, grads, velocity, |w, g, v| {
                let step = rate * (g + penalty(*w));
                let velocity_new = momentum * *v - step;
                *v = velocity_new;
                *w += momentum * velocity_new - step;
            });
        } else {
            sweep(params, grads, velocity, |w, g, v| {
                let step = rate * (g + penalty(*w));
                let velocity_new = momentum * *v - step;
                *v = velocity_new;
                *w += velocity_new;
            });
        }
    }
}
