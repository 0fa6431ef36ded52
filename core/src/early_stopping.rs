//! Early stopping: end training once a validation loss has stopped
//! improving, and go back to the weights of its best epoch.
//!
//! The state is small and fixed ([`EarlyStopping`]); the copy of the best
//! weights is a buffer shaped like the trainable parameters
//! (`N::Gradients`), which the caller owns: a `static` on a device (built
//! from [`Zeroed::ZEROED`](crate::Zeroed::ZEROED), in `.bss`), a heap
//! allocation on a host. [`best_copy_bytes`] is what it costs in RAM. Frozen
//! layers never change, so only the trainable parameters are copied.
//!
//! ```
//! use mlp_core::early_stopping::{EarlyStopping, Verdict};
//! use mlp_core::{layers, Dense, Network, Zeroed, activation::Relu};
//!
//! type Net = layers![Dense<f32, 2, 3, Relu>, Dense<f32, 3, 2>];
//! let mut net = Net::zeroed();
//! let mut best = <Net as Network>::Gradients::zeroed();
//! let mut stopping = EarlyStopping::new(2, 0.0).unwrap();
//! // Validation losses after epochs 1 to 4: the best is epoch 2's.
//! let mut verdicts = [0.0; 4].map(|_| Verdict::Improved);
//! for (epoch, loss) in [(1, 0.9f32), (2, 0.5), (3, 0.6), (4, 0.7)] {
//!     net.head.biases[0] = epoch as f32; // stands for an epoch of training
//!     verdicts[epoch as usize - 1] = stopping.observe(epoch, loss, &mut net, &mut best);
//! }
//! assert_eq!(verdicts[2], Verdict::Waiting { epochs_left: 1 });
//! assert_eq!(verdicts[3], Verdict::Stop);
//! assert_eq!(stopping.restore(&mut net, &best), Some(2));
//! assert_eq!(net.head.biases[0], 2.0);
//! ```

use crate::error::{Error, Hyperparameter};
use crate::float::Float;
use crate::network::Network;
use crate::walk::Slots;

/// Bytes of RAM the copy of the best weights takes for network `N`: one
/// value per trainable parameter. Add `size_of::<EarlyStopping<_>>()` for
/// the counters.
pub const fn best_copy_bytes<N: Network>() -> usize {
    size_of::<N::Gradients>()
}

/// What [`EarlyStopping::observe`] concludes after an epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Verdict {
    /// The loss improved: this epoch's weights are now the best copy.
    Improved,
    /// No improvement; training goes on for at most this many more epochs without one.
    Waiting {
        /// Epochs still allowed without an improvement.
        epochs_left: u32,
    },
    /// `patience` epochs in a row without an improvement: stop, and
    /// [`restore`](EarlyStopping::restore) the best weights.
    Stop,
}

/// Stops training after `patience` epochs in a row in which the monitored
/// loss did not fall by more than `min_delta` below the best so far.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct EarlyStopping<T> {
    patience: u32,
    min_delta: T,
    best_loss: T,
    best_epoch: u32,
    waited: u32,
}

impl<T: Float> EarlyStopping<T> {
    /// Watches a loss with `patience` (at least 1) and `min_delta` (finite, 0 or more).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHyperparameter`] naming [`Hyperparameter::Patience`]
    /// or [`Hyperparameter::MinDelta`].
    pub fn new(patience: u32, min_delta: T) -> Result<Self, Error> {
        if patience == 0 {
            return Err(Error::InvalidHyperparameter { name: Hyperparameter::Patience, requirement: "at least 1" });
        }
        if !(min_delta.is_finite() && min_delta >= T::ZERO) {
            return Err(Error::InvalidHyperparameter {
                name: Hyperparameter::MinDelta,
                requirement: "finite and not negative",
            });
        }
        Ok(EarlyStopping { patience, min_delta, best_loss: T::ZERO, best_epoch: 0, waited: 0 })
    }

    /// Records epoch `epoch`'s loss (a NaN never improves). When it is
    /// below the best so far by more than `min_delta` (or is the first),
    /// copies `net`'s trainable parameters into `best`.
    pub fn observe<N: Network<Scalar = T>>(
        &mut self,
        epoch: u32,
        loss: T,
        net: &mut N,
        best: &mut N::Gradients,
    ) -> Verdict {
        let first = self.best_epoch == 0;
        if loss.is_finite() && (first || loss < self.best_loss - self.min_delta) {
            self.best_loss = loss;
            self.best_epoch = epoch;
            self.waited = 0;
            net.for_each_trainable_mut(|_, index, values| best.slot_mut(index).copy_from_slice(values));
            return Verdict::Improved;
        }
        self.waited += 1;
        if self.waited >= self.patience {
            Verdict::Stop
        } else {
            Verdict::Waiting { epochs_left: self.patience - self.waited }
        }
    }

    /// Puts the best epoch's trainable parameters back into `net` and
    /// returns that epoch; `None` (and `net` untouched) if no epoch was recorded.
    pub fn restore<N: Network<Scalar = T>>(&self, net: &mut N, best: &N::Gradients) -> Option<u32> {
        if self.best_epoch == 0 {
            return None;
        }
        net.for_each_trainable_mut(|_, index, values| values.copy_from_slice(best.slot(index)));
        Some(self.best_epoch)
    }

    /// The best epoch so far (1-based), if any.
    pub fn best_epoch(&self) -> Option<u32> {
        (self.best_epoch > 0).then_some(self.best_epoch)
    }

    /// The best loss so far, if any.
    pub fn best_loss(&self) -> Option<T> {
        (self.best_epoch > 0).then_some(self.best_loss)
    }
}
