//! A fixed-capacity window of the most recent labelled samples, for a device
//! that keeps learning from data as it arrives (personalisation, drift).

use heapless::HistoryBuf;

use crate::error::Error;
use crate::train::Dataset;

/// The `N` most recent `(input, target)` pairs; a new pair replaces the oldest
/// once the window is full. Its size is fixed at compile time
/// (`size_of::<SampleWindow<X, Y, N>>()`), so it can be a `static`.
///
/// Training shuffles anyway, so the samples are handed out in storage order,
/// which needs no copying.
///
/// ```
/// use mlp_core::SampleWindow;
/// let mut window = SampleWindow::<[f32; 2], usize, 3>::new();
/// for (i, label) in [0, 1, 1, 0, 1].into_iter().enumerate() {
///     window.push([i as f32, 0.0], label);
/// }
/// let data = window.dataset().unwrap();
/// assert_eq!(data.len(), 3);
/// // Sample 2 (label 1), 3 (label 0) and 4 (label 1) remain, each with its own label.
/// for (x, &y) in data.inputs().iter().zip(data.targets()) {
///     assert_eq!(y, [0, 1, 1, 0, 1][x[0] as usize]);
///     assert!(x[0] >= 2.0);
/// }
/// ```
#[derive(Debug)]
pub struct SampleWindow<X, Y, const N: usize> {
    inputs: HistoryBuf<X, N>,
    targets: HistoryBuf<Y, N>,
}

impl<X, Y, const N: usize> Default for SampleWindow<X, Y, N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<X, Y, const N: usize> SampleWindow<X, Y, N> {
    /// An empty window.
    pub const fn new() -> Self {
        SampleWindow { inputs: HistoryBuf::new(), targets: HistoryBuf::new() }
    }

    /// Adds a pair, dropping the oldest when full.
    pub fn push(&mut self, input: X, target: Y) {
        // Both buffers are always written together, so they share one write
        // position and index `i` of one pairs with index `i` of the other.
        self.inputs.write(input);
        self.targets.write(target);
    }

    /// Pairs held (at most `N`).
    pub fn len(&self) -> usize {
        self.inputs.len()
    }

    /// Whether no pair has been pushed since creation or [`clear`](SampleWindow::clear).
    pub fn is_empty(&self) -> bool {
        self.inputs.is_empty()
    }

    /// Whether the next push replaces the oldest pair.
    pub fn is_full(&self) -> bool {
        self.inputs.is_full()
    }

    /// Forgets every pair.
    pub fn clear(&mut self) {
        self.inputs.clear();
        self.targets.clear();
    }

    /// The pairs as a data set for [`Learner::epoch`](crate::Learner::epoch) or [`evaluate`](crate::evaluate);
    /// [`Error::EmptyDataset`] while the window is empty.
    pub fn dataset(&self) -> Result<Dataset<'_, X, Y>, Error> {
        Dataset::new(self.inputs.as_slice(), self.targets.as_slice())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_stay_together_through_many_wraps() {
        let mut window = SampleWindow::<u32, u32, 5>::new();
        assert_eq!(window.dataset().unwrap_err(), Error::EmptyDataset);
        for i in 0..23u32 {
            window.push(i, i * 10);
            assert_eq!(window.len(), (i as usize + 1).min(5));
        }
        assert!(window.is_full());
        let data = window.dataset().unwrap();
        let mut seen: [u32; 5] = [0; 5];
        for (k, (&x, &y)) in data.inputs().iter().zip(data.targets()).enumerate() {
            assert_eq!(y, x * 10);
            seen[k] = x;
        }
        seen.sort_unstable();
        assert_eq!(seen, [18, 19, 20, 21, 22]);
        window.clear();
        assert!(window.is_empty());
    }
}
