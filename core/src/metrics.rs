//! What training and evaluation report.

/// Loss and accuracy over a set of samples.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Metrics {
    /// Mean per-sample loss (without the regularisation penalty).
    pub loss: f64,
    /// Fraction of samples whose predicted class is the target's.
    pub accuracy: f64,
    /// Number of samples measured.
    pub samples: usize,
}

/// One finished epoch, as handed to the per-epoch hook.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct EpochMetrics {
    /// 1-based epoch number.
    pub epoch: u32,
    /// Learning rate used in this epoch, exactly as the update used it: after
    /// rounding to the network's float type (`0.1` reads `0.10000000149011612`
    /// for an `f32` network).
    pub learning_rate: f64,
    /// Running loss and accuracy over the epoch's samples, each measured
    /// with the weights as they were when the sample was seen.
    pub train: Metrics,
}

/// How a finished [`train`](crate::train) run ended.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct TrainSummary {
    /// Epochs completed.
    pub epochs: u32,
    /// Whether the hook stopped training before the configured number of epochs.
    pub stopped_early: bool,
    /// Metrics of the last completed epoch.
    pub last: EpochMetrics,
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

    /// Fraction on the diagonal (0 when empty).
    pub fn accuracy(&self) -> f64 {
        let correct: u64 = (0..K).map(|k| u64::from(self.counts[k][k])).sum();
        match self.total() {
            0 => 0.0,
            total => correct as f64 / total as f64,
        }
    }
}
