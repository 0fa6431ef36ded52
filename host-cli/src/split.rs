//! Stratified train/test split from a seed.
//!
//! For each class in turn (0, 1, …), that class's sample indices are shuffled
//! with [`mlp_core::init::shuffle`] driven by one `DefaultRng` seeded from the
//! seed, and the first `round(n_c · fraction)` go to the test set (rounding
//! half to even, as Python's `round` in the reference peers does). Both sets
//! keep the file's order, so the split depends only on the data, the fraction
//! and the seed.

use std::fmt;

use mlp_core::DefaultRng;
use rand_core::SeedableRng;

use crate::data::Samples;

/// Training and test samples, and where each came from in the original data.
#[derive(Clone, Debug, PartialEq)]
pub struct Split {
    /// Samples to train on.
    pub train: Samples,
    /// Held-out samples.
    pub test: Samples,
    /// Original index of every training sample, ascending.
    pub train_indices: Vec<usize>,
    /// Original index of every test sample, ascending.
    pub test_indices: Vec<usize>,
}

/// Why a split is impossible.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum SplitError {
    /// The fraction is not in the open interval (0, 1).
    Fraction {
        /// The fraction asked for.
        fraction: f64,
    },
    /// The fraction leaves a class without training or without test samples.
    EmptyPart {
        /// The class.
        class: usize,
        /// Its number of samples.
        samples: usize,
        /// How many of them would be test samples.
        test: usize,
        /// The fraction asked for.
        fraction: f64,
    },
}

impl fmt::Display for SplitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            SplitError::Fraction { fraction } => write!(f, "the test fraction must be in (0, 1), got {fraction}"),
            SplitError::EmptyPart { class, samples, test, fraction } => {
                let part = if test == 0 { "test" } else { "training" };
                write!(
                    f,
                    "test fraction {fraction} leaves class {class} with no {part} samples \
                     ({test} of its {samples} samples would be held out for testing)"
                )
            }
        }
    }
}

impl std::error::Error for SplitError {}

/// How many of a class's `samples` go to the test set.
pub fn test_count(samples: usize, fraction: f64) -> usize {
    (samples as f64 * fraction).round_ties_even() as usize
}

/// Checks that `fraction` is in (0, 1) and leaves every class that has samples
/// with at least one training and one test sample.
pub fn check_fraction(class_counts: &[usize], fraction: f64) -> Result<(), SplitError> {
    if !(fraction > 0.0 && fraction < 1.0) {
        return Err(SplitError::Fraction { fraction });
    }
    for (class, &samples) in class_counts.iter().enumerate() {
        let test = test_count(samples, fraction);
        if samples > 0 && (test == 0 || test == samples) {
            return Err(SplitError::EmptyPart { class, samples, test, fraction });
        }
    }
    Ok(())
}

/// Splits `samples` per class; see the module documentation.
pub fn stratified_split(samples: &Samples, fraction: f64, seed: u64) -> Result<Split, SplitError> {
    check_fraction(&samples.class_counts(), fraction)?;
    let mut rng = DefaultRng::seed_from_u64(seed);
    let mut is_test = vec![false; samples.len()];
    for class in 0..samples.class_count {
        let mut members: Vec<usize> = (0..samples.len()).filter(|&i| samples.labels[i] == class).collect();
        mlp_core::init::shuffle(&mut rng, &mut members);
        for &i in &members[..test_count(members.len(), fraction)] {
            is_test[i] = true;
        }
    }
    let (test_indices, train_indices): (Vec<usize>, Vec<usize>) = (0..samples.len()).partition(|&i| is_test[i]);
    Ok(Split {
        train: samples.subset(&train_indices),
        test: samples.subset(&test_indices),
        train_indices,
        test_indices,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toy(per_class: &[usize]) -> Samples {
        let labels: Vec<usize> = per_class.iter().enumerate().flat_map(|(c, &n)| std::iter::repeat_n(c, n)).collect();
        Samples {
            features: (0..labels.len()).map(|i| i as f32).collect(),
            labels,
            feature_count: 1,
            class_count: per_class.len(),
        }
    }

    #[test]
    fn stratified_and_deterministic() {
        let data = toy(&[10, 20, 7]);
        let a = stratified_split(&data, 0.2, 5).unwrap();
        assert_eq!(a, stratified_split(&data, 0.2, 5).unwrap());
        assert_ne!(a.test_indices, stratified_split(&data, 0.2, 6).unwrap().test_indices);
        // round(2.0) = 2, round(4.0) = 4, round(1.4) = 1.
        assert_eq!(a.test.class_counts(), [2, 4, 1]);
        assert_eq!(a.train.len() + a.test.len(), data.len());
        for (k, &i) in a.test_indices.iter().enumerate() {
            assert_eq!(a.test.row(k), data.row(i));
        }
    }

    #[test]
    fn halves_round_to_even() {
        assert_eq!(test_count(5, 0.5), 2);
        assert_eq!(test_count(7, 0.5), 4);
    }

    #[test]
    fn rejects_fractions_that_empty_a_class() {
        let data = toy(&[10, 3]);
        assert!(matches!(stratified_split(&data, 0.1, 0), Err(SplitError::EmptyPart { class: 1, test: 0, .. })));
        assert!(matches!(stratified_split(&data, 0.9, 0), Err(SplitError::EmptyPart { class: 1, test: 3, .. })));
        for fraction in [0.0, 1.0, 1.5, -0.2, f64::NAN] {
            assert!(matches!(stratified_split(&data, fraction, 0), Err(SplitError::Fraction { .. })));
        }
    }
}
