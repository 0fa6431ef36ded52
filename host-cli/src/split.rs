//! Train/test splits from a seed, as indices into the samples: a split never
//! copies them.
//!
//! A stratified split takes each class in turn (0, 1, …): that class's
//! sample indices are shuffled with [`mlp_core::init::shuffle`] driven by one
//! `DefaultRng` seeded from the seed, and the first `round(n_c · fraction)`
//! go to the test set (rounding half to even, as Python's `round` in the
//! reference peers does). Both sets keep the file's order, so the split
//! depends only on the labels, the fraction and the seed. Regression, which
//! has no classes, shuffles all indices the same way ([`random`]).

use std::fmt;

use mlp_core::DefaultRng;
use rand_core::SeedableRng;

use crate::data::Samples;
use crate::source::{SampleSource, Subset};

/// The samples of a split's two parts, as indices into the whole data set.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Indices {
    /// Samples to train on, ascending.
    pub train: Vec<usize>,
    /// Held-out samples, ascending.
    pub test: Vec<usize>,
}

impl Indices {
    /// The training part of `source`, by index.
    pub fn train_of<'a, S: ?Sized>(&'a self, source: &'a S) -> Subset<'a, S> {
        Subset { source, indices: &self.train }
    }

    /// The test part of `source`, by index.
    pub fn test_of<'a, S: ?Sized>(&'a self, source: &'a S) -> Subset<'a, S> {
        Subset { source, indices: &self.test }
    }
}

/// Training and test samples copied out as flat rows, and where each came
/// from in the original data: for callers that need rows in memory (tests,
/// benchmarks, sweeps); the commands train on [`Indices`] views instead.
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

/// Splits `source`'s samples per class (labels below `class_count`); see
/// the module documentation.
pub fn stratified(
    source: &(impl SampleSource + ?Sized),
    class_count: usize,
    fraction: f64,
    seed: u64,
) -> Result<Indices, SplitError> {
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); class_count];
    for i in 0..source.len() {
        members[source.label(i)].push(i);
    }
    check_fraction(&members.iter().map(Vec::len).collect::<Vec<_>>(), fraction)?;
    let mut rng = DefaultRng::seed_from_u64(seed);
    let mut is_test = vec![false; source.len()];
    for mut class in members {
        mlp_core::init::shuffle(&mut rng, &mut class);
        for &i in &class[..test_count(class.len(), fraction)] {
            is_test[i] = true;
        }
    }
    Ok(partition(&is_test))
}

/// Splits `len` samples without regard to labels: all indices shuffled as
/// one class is in [`stratified`], the first `round(len · fraction)` held out.
pub fn random(len: usize, fraction: f64, seed: u64) -> Result<Indices, SplitError> {
    check_fraction(&[len], fraction)?;
    let mut rng = DefaultRng::seed_from_u64(seed);
    let mut all: Vec<usize> = (0..len).collect();
    mlp_core::init::shuffle(&mut rng, &mut all);
    let mut is_test = vec![false; len];
    for &i in &all[..test_count(len, fraction)] {
        is_test[i] = true;
    }
    Ok(partition(&is_test))
}

/// How many training samples to hold out for validation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ValidationSize {
    /// This many.
    Count(usize),
    /// This fraction of the training samples, rounded half to even.
    Fraction(f64),
}

impl ValidationSize {
    /// Reads `N` (a whole number, at least 1) or `FRACTION` (in (0, 1)).
    pub fn parse(text: &str) -> Result<Self, String> {
        if let Ok(count) = text.parse::<usize>() {
            return if count == 0 {
                Err("at least 1 sample, or a fraction in (0, 1)".into())
            } else {
                Ok(ValidationSize::Count(count))
            };
        }
        match text.parse::<f64>() {
            Ok(f) if f > 0.0 && f < 1.0 => Ok(ValidationSize::Fraction(f)),
            Ok(_) => Err("a fraction must be greater than 0 and less than 1".into()),
            Err(_) => Err("expected a number of samples (500) or a fraction (0.1)".into()),
        }
    }

    /// The number of samples out of `train`.
    pub fn count(self, train: usize) -> usize {
        match self {
            ValidationSize::Count(n) => n,
            ValidationSize::Fraction(f) => test_count(train, f),
        }
    }
}

/// Mixed into the seed for the validation draw, so that it differs from
/// the split's and the training's streams: "validate" in ASCII.
pub const VALIDATION_STREAM: u64 = u64::from_be_bytes(*b"validate");

/// Takes `size` of `train` (ascending indices) out for validation and
/// returns them, ascending. A data set with its own split (MNIST) gives its
/// last training samples, as is customary (the first 50 000 train, the last
/// 10 000 validate); any other gives samples drawn from `seed`: `train`
/// shuffled by a `DefaultRng` seeded with `seed ^ VALIDATION_STREAM`, the
/// first `count` taken. Both parts must keep at least one sample.
pub fn hold_out_validation(
    train: &mut Vec<usize>,
    size: ValidationSize,
    official_split: bool,
    seed: u64,
) -> Result<Vec<usize>, String> {
    let count = size.count(train.len());
    if count == 0 || count >= train.len() {
        return Err(format!(
            "{count} validation samples out of {} training samples leave {} part empty",
            train.len(),
            if count == 0 { "the validation" } else { "the training" }
        ));
    }
    if official_split {
        return Ok(train.split_off(train.len() - count));
    }
    let mut order = train.clone();
    mlp_core::init::shuffle(&mut DefaultRng::seed_from_u64(seed ^ VALIDATION_STREAM), &mut order);
    let mut validation = order[..count].to_vec();
    validation.sort_unstable();
    let mut held = vec![false; train.iter().max().map_or(0, |&m| m + 1)];
    validation.iter().for_each(|&i| held[i] = true);
    train.retain(|&i| !held[i]);
    Ok(validation)
}

fn partition(is_test: &[bool]) -> Indices {
    let (test, train) = (0..is_test.len()).partition(|&i| is_test[i]);
    Indices { train, test }
}

/// Splits `samples` per class and copies both parts out; see the module
/// documentation. The indices are those of [`stratified`].
pub fn stratified_split(samples: &Samples, fraction: f64, seed: u64) -> Result<Split, SplitError> {
    let Indices { train, test } = stratified(samples, samples.class_count, fraction, seed)?;
    Ok(Split { train: samples.subset(&train), test: samples.subset(&test), train_indices: train, test_indices: test })
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
    fn validation_comes_from_the_training_part_only_and_from_the_seed() {
        let mut train: Vec<usize> = (0..100).filter(|i| i % 5 != 0).collect();
        let original = train.clone();
        let validation = hold_out_validation(&mut train, ValidationSize::Fraction(0.25), false, 3).unwrap();
        assert_eq!((train.len(), validation.len()), (60, 20));
        assert!(validation.is_sorted() && train.is_sorted());
        let mut joined = [train.clone(), validation.clone()].concat();
        joined.sort_unstable();
        assert_eq!(joined, original);
        let mut again = original.clone();
        assert_eq!(hold_out_validation(&mut again, ValidationSize::Count(20), false, 3).unwrap(), validation);
        let mut other = original.clone();
        assert_ne!(hold_out_validation(&mut other, ValidationSize::Count(20), false, 4).unwrap(), validation);
        let mut official = original.clone();
        assert_eq!(hold_out_validation(&mut official, ValidationSize::Count(2), true, 3).unwrap(), [98, 99]);
        assert!(hold_out_validation(&mut original.clone(), ValidationSize::Count(80), false, 3).is_err());
        assert_eq!(ValidationSize::parse("500"), Ok(ValidationSize::Count(500)));
        assert_eq!(ValidationSize::parse("0.1"), Ok(ValidationSize::Fraction(0.1)));
        for bad in ["0", "1.0", "-3", "NaN", "x"] {
            assert!(ValidationSize::parse(bad).is_err(), "{bad}");
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
        let indices = stratified(&data, 3, 0.2, 5).unwrap();
        assert_eq!((indices.train, indices.test), (a.train_indices, a.test_indices));
    }

    #[test]
    fn views_read_the_samples_in_place() {
        let data = toy(&[4, 4]);
        let indices = stratified(&data, 2, 0.25, 1).unwrap();
        let test = indices.test_of(&data);
        assert_eq!(SampleSource::len(&test), 2);
        let mut x = [0.0];
        test.features_into(1, &mut x);
        assert_eq!(x[0], indices.test[1] as f32);
    }

    #[test]
    fn the_digits_split_is_the_one_models_record() {
        // Test samples 0, 1, 2, 100 and 358 of digits' seed-0 split, as the
        // split that copied samples chose them: models trained then record
        // this split, and eval and predict must find the same one.
        let digits = crate::data::DIGITS.read(&crate::data::Request::default()).unwrap();
        let split = stratified(&digits, 10, 0.2, 0).unwrap();
        let test = &split.test;
        assert_eq!([test[0], test[1], test[2], test[100], test[358]], [1, 6, 11, 553, 1794]);
        assert_eq!((split.train.len(), test.len()), (1438, 359));
        let random = random(10, 0.3, 0).unwrap();
        assert_eq!((random.train.len(), random.test.len()), (7, 3));
        assert_eq!(random, super::random(10, 0.3, 0).unwrap());
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
