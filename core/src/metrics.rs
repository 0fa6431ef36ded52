//! What training and evaluation report.
//!
//! Every figure is in the network's scalar `T`: on a Cortex-M4F, whose FPU
//! is single precision, an `f32` network's metrics cost no software `f64`
//! arithmetic. Losses are summed in `T` in sample order, so a device reports
//! the same bits as the host. The counts (`correct`, `samples`) are exact,
//! for a host that wants the accuracy in `f64`.

use crate::float::Float;

/// Loss and accuracy over a set of samples, in the network's scalar `T`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Metrics<T> {
    /// Mean per-sample loss (without the regularisation penalty), summed in
    /// `T` sample by sample and divided by `samples`.
    pub loss: T,
    /// Fraction of samples whose predicted class is the target's, `correct / samples` rounded to `T`.
    pub accuracy: T,
    /// Samples whose predicted class is the target's.
    pub correct: usize,
    /// Number of samples measured.
    pub samples: usize,
}

impl<T: Float> Metrics<T> {
    /// Metrics from a loss summed over `samples` samples and the count of right predictions.
    pub(crate) fn from_sums(loss_sum: T, correct: usize, samples: usize) -> Self {
        let n = T::from_count(samples.max(1));
        Metrics { loss: loss_sum / n, accuracy: T::from_count(correct) / n, correct, samples }
    }
}

/// One finished epoch, as handed to the per-epoch hook.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct EpochMetrics<T> {
    /// 1-based epoch number.
    pub epoch: u32,
    /// Learning rate used in this epoch, exactly as the update used it.
    pub learning_rate: T,
    /// Running loss and accuracy over the epoch's samples, each measured
    /// with the weights as they were when the sample was seen.
    pub train: Metrics<T>,
}

/// How a finished [`Learner::fit`](crate::Learner::fit) run ended.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct TrainSummary<T> {
    /// Epochs completed.
    pub epochs: u32,
    /// Whether the hook stopped training before the configured number of epochs.
    pub stopped_early: bool,
    /// Metrics of the last completed epoch.
    pub last: EpochMetrics<T>,
}

/// Counts of (actual, predicted) class pairs for `K` classes.
///
/// ```
/// let mut m = mlp_core::ConfusionMatrix::<3>::new();
/// m.record(0, 0);
/// m.record(2, 1);
/// assert_eq!(m.counts[2][1], 1);
/// assert_eq!(m.accuracy(), 0.5);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ConfusionMatrix<const K: usize> {
    /// `counts[actual][predicted]`.
    pub counts: [[u32; K]; K],
    /// Pairs with a class `≥ K`, which have no cell.
    pub out_of_range: u32,
}

impl<const K: usize> Default for ConfusionMatrix<K> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const K: usize> ConfusionMatrix<K> {
    /// An empty matrix.
    pub const fn new() -> Self {
        ConfusionMatrix { counts: [[0; K]; K], out_of_range: 0 }
    }

    /// Counts one sample.
    pub fn record(&mut self, actual: usize, predicted: usize) {
        match self.counts.get_mut(actual).and_then(|row| row.get_mut(predicted)) {
            Some(cell) => *cell = cell.saturating_add(1),
            None => self.out_of_range = self.out_of_range.saturating_add(1),
        }
    }

    /// Samples counted in cells.
    pub fn total(&self) -> u64 {
        self.counts.iter().flatten().map(|&c| u64::from(c)).sum()
    }

    /// Fraction on the diagonal (0 when empty), in `f64`: for reports on a
    /// host (a device compares the counts, or uses [`Metrics::accuracy`]).
    pub fn accuracy(&self) -> f64 {
        let correct: u64 = (0..K).map(|k| u64::from(self.counts[k][k])).sum();
        match self.total() {
            0 => 0.0,
            total => correct as f64 / total as f64,
        }
    }
}
