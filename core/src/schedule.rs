//! Learning-rate schedules, separate from the update rule: the rate of each
//! epoch is a function of the epoch alone, computed in the network's scalar.
//!
//! ```
//! use mlp_core::schedule::{Schedule, Shape};
//! // 0.1, halved every 10 epochs, after 2 epochs of linear warm-up.
//! let schedule = Schedule { lr: 0.1, shape: Shape::Step { every: 10, gamma: 0.5 }, warmup: 2 };
//! let checked = schedule.check::<f32>(30).unwrap();
//! assert_eq!(checked.rate(0), 0.1f32 / 3.0); // warm-up: (epoch + 1) / (warmup + 1)
//! assert_eq!(checked.rate(5), 0.1);
//! assert_eq!(checked.rate(25), 0.1 * 0.5 * 0.5);
//! ```

use core::num::NonZeroU32;

use crate::error::{Error, Hyperparameter};
use crate::float::Float;

/// The most epochs a schedule plans for. [`Schedule::check`] computes every
/// epoch's rate, so this bounds its time (a fraction of a second on a host)
/// even for a checkpoint that states a hostile count.
pub const MAX_EPOCHS: u32 = 1 << 24;

/// How the rate changes with the (0-based) epoch `t`, before warm-up.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Shape {
    /// `η₀` throughout.
    Constant,
    /// `η₀ / (1 + d·t)`.
    InverseTime {
        /// The decay `d` (≥ 0).
        decay: f64,
    },
    /// `η₀ · γ^⌊t / every⌋`.
    Step {
        /// Epochs between steps (≥ 1).
        every: u32,
        /// Factor per step, in (0, 1].
        gamma: f64,
    },
    /// `η₀ · γ^t`.
    Exponential {
        /// Factor per epoch, in (0, 1].
        gamma: f64,
    },
    /// From `η₀` down to `min_lr` along half a cosine over the run's epochs
    /// (after the warm-up): `min + (η₀ − min)·(1 + cos(π·t/T))/2`.
    Cosine {
        /// The rate of the last epoch's end (≥ 0, below `η₀`).
        min_lr: f64,
    },
}

/// A learning-rate schedule: the base rate, its shape, and a linear warm-up.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Schedule {
    /// The base learning rate η₀ (> 0).
    pub lr: f64,
    /// How it changes with the epoch.
    pub shape: Shape,
    /// Epochs of linear warm-up: epoch `t < warmup` runs at `(t + 1)/(warmup + 1)`
    /// of the scheduled rate. 0 for none.
    pub warmup: u32,
}

impl Schedule {
    /// A constant rate of 0.1 with no warm-up.
    pub const DEFAULT: Self = Schedule::constant(0.1);

    /// A constant rate `lr`.
    pub const fn constant(lr: f64) -> Self {
        Schedule { lr, shape: Shape::Constant, warmup: 0 }
    }

    /// Checks the schedule for a run of `epochs` epochs as the network's
    /// float type will see it: every epoch's rate must be a positive normal
    /// number (a rate that rounds to zero or a subnormal silently stops learning).
    pub fn check<T: Float>(&self, epochs: u32) -> Result<CheckedSchedule<T>, Error> {
        let bad = |name, requirement| Err(Error::InvalidHyperparameter { name, requirement });
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return bad(Hyperparameter::LearningRate, "positive and finite");
        }
        let lr = T::from_f64(self.lr);
        if !(lr.is_finite() && lr >= T::MIN_POSITIVE) {
            return bad(
                Hyperparameter::LearningRate,
                "positive and finite in the network's float type, and not subnormal",
            );
        }
        let shape = match self.shape {
            Shape::Constant => CheckedShape::Constant,
            Shape::InverseTime { decay } => {
                if !(decay.is_finite() && decay >= 0.0) {
                    return bad(Hyperparameter::Decay, "non-negative and finite");
                }
                let d = T::from_f64(decay);
                if decay != 0.0 && !(d.is_finite() && d >= T::MIN_POSITIVE) {
                    return bad(Hyperparameter::Decay, "zero, or normal and finite in the network's float type");
                }
                CheckedShape::InverseTime { decay: d }
            }
            Shape::Step { every, gamma } => {
                let Some(every) = NonZeroU32::new(every) else {
                    return bad(Hyperparameter::StepEvery, "at least 1");
                };
                CheckedShape::Step { every, gamma: check_factor::<T>(gamma)? }
            }
            Shape::Exponential { gamma } => CheckedShape::Exponential { gamma: check_factor::<T>(gamma)? },
            Shape::Cosine { min_lr } => {
                if !(min_lr.is_finite() && min_lr >= 0.0 && min_lr < self.lr) {
                    return bad(Hyperparameter::MinLearningRate, "non-negative and below the learning rate");
                }
                CheckedShape::Cosine { min_lr: T::from_f64(min_lr) }
            }
        };
        if epochs == 0 {
            return bad(Hyperparameter::Epochs, "at least 1");
        }
        if epochs > MAX_EPOCHS {
            return bad(Hyperparameter::Epochs, "at most 2^24 (16 777 216)");
        }
        let checked = CheckedSchedule { lr, shape, warmup: self.warmup, epochs };
        // Every epoch's rate, as the update will use it.
        for epoch in 0..epochs {
            let rate = checked.rate(epoch);
            if !(rate.is_finite() && rate >= T::MIN_POSITIVE) {
                let name = match self.shape {
                    Shape::Constant => Hyperparameter::Warmup,
                    Shape::InverseTime { .. } => Hyperparameter::Decay,
                    Shape::Step { .. } | Shape::Exponential { .. } => Hyperparameter::Gamma,
                    Shape::Cosine { .. } => Hyperparameter::MinLearningRate,
                };
                return bad(
                    name,
                    "such that every epoch's learning rate stays positive and normal in the network's float type \
                     (the last epoch's rate rounds to zero or a subnormal)",
                );
            }
        }
        Ok(checked)
    }
}

impl Default for Schedule {
    fn default() -> Self {
        Self::DEFAULT
    }
}

fn check_factor<T: Float>(gamma: f64) -> Result<T, Error> {
    if !(gamma.is_finite() && gamma > 0.0 && gamma <= 1.0) {
        return Err(Error::InvalidHyperparameter { name: Hyperparameter::Gamma, requirement: "in (0, 1]" });
    }
    Ok(T::from_f64(gamma))
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum CheckedShape<T> {
    Constant,
    InverseTime { decay: T },
    Step { every: NonZeroU32, gamma: T },
    Exponential { gamma: T },
    Cosine { min_lr: T },
}

/// A [`Schedule`] checked for a run's epochs, its values rounded to `T`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CheckedSchedule<T> {
    lr: T,
    shape: CheckedShape<T>,
    warmup: u32,
    epochs: u32,
}

impl<T: Float> CheckedSchedule<T> {
    /// The learning rate of 0-based epoch `epoch`, computed in `T` (the
    /// same operations on every machine, so the same bits).
    pub fn rate(&self, epoch: u32) -> T {
        let t = T::from_count(epoch as usize);
        let scheduled = match self.shape {
            CheckedShape::Constant => self.lr,
            CheckedShape::InverseTime { decay } => {
                if decay == T::ZERO {
                    self.lr
                } else {
                    self.lr / (T::ONE + decay * t)
                }
            }
            CheckedShape::Step { every, gamma } => self.lr * powi(gamma, epoch / every),
            CheckedShape::Exponential { gamma } => self.lr * powi(gamma, epoch),
            CheckedShape::Cosine { min_lr } => {
                let span = self.epochs.saturating_sub(self.warmup).max(1);
                let done = T::from_count(epoch.saturating_sub(self.warmup) as usize) / T::from_count(span as usize);
                let cosine = (T::PI * done).cos();
                min_lr + (self.lr - min_lr) * (T::ONE + cosine) * T::HALF
            }
        };
        if epoch < self.warmup {
            scheduled * T::from_count(epoch as usize + 1) / T::from_count(self.warmup as usize + 1)
        } else {
            scheduled
        }
    }
}

/// `base^n` by repeated squaring: the same multiplications, so the same
/// bits, on every machine.
pub(crate) fn powi<T: Float>(base: T, mut n: u32) -> T {
    let (mut result, mut power) = (T::ONE, base);
    while n > 0 {
        if n & 1 == 1 {
            result *= power;
        }
        power *= power;
        n >>= 1;
    }
    result
}
