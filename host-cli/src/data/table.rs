//! A data set held once: every sample's raw values, compactly, its label or
//! target, and how a raw value becomes a network input.

use super::{ClassProblem, DataError, Origin, Samples, Variation};
use crate::source::SampleSource;

/// Raw feature values, row-major, in the smallest form that holds every one
/// exactly: a byte each while all are whole numbers in `0..=255` (pixels),
/// else `f32`.
#[derive(Clone, Debug, PartialEq)]
enum Values {
    Bytes(Vec<u8>),
    Floats(Vec<f32>),
}

impl Values {
    fn push(&mut self, value: f32) {
        if let Values::Bytes(bytes) = self {
            let byte = value as u8;
            // Bits, not `==`: −0 must stay −0, which a byte cannot hold.
            if f32::from(byte).to_bits() == value.to_bits() {
                bytes.push(byte);
                return;
            }
            *self = Values::Floats(bytes.iter().map(|&b| f32::from(b)).collect());
        }
        if let Values::Floats(floats) = self {
            floats.push(value);
        }
    }

    #[inline]
    fn get(&self, index: usize) -> f32 {
        match self {
            Values::Bytes(bytes) => f32::from(bytes[index]),
            Values::Floats(floats) => floats[index],
        }
    }

    fn len(&self) -> usize {
        match self {
            Values::Bytes(bytes) => bytes.len(),
            Values::Floats(floats) => floats.len(),
        }
    }

    fn shrink_to_fit(&mut self) {
        match self {
            Values::Bytes(bytes) => bytes.shrink_to_fit(),
            Values::Floats(floats) => floats.shrink_to_fit(),
        }
    }

    fn bytes_per_value(&self) -> usize {
        match self {
            Values::Bytes(_) => 1,
            Values::Floats(_) => 4,
        }
    }
}

/// How a raw value becomes a network input.
#[derive(Clone, Debug, PartialEq)]
pub enum Transform {
    /// Divided by a constant, in `f32` (digits: pixel / 16; 1 leaves values as read).
    Divide(f32),
    /// Standardised: `(x − offset[j]) / scale[j]` in `f32` for feature `j`,
    /// as the model file's scaling section states it.
    Standardise {
        /// Per feature: the training split's mean.
        offset: Vec<f32>,
        /// Per feature: the training split's standard deviation.
        scale: Vec<f32>,
    },
}

impl Transform {
    #[inline]
    fn apply(&self, feature: usize, raw: f32) -> f32 {
        match self {
            Transform::Divide(d) => raw / d,
            Transform::Standardise { offset, scale } => (raw - offset[feature]) / scale[feature],
        }
    }
}

/// What each sample is labelled with.
#[derive(Clone, Debug, PartialEq)]
enum Targets {
    /// A class in `0..count` per sample.
    Classes { labels: Vec<u16>, count: usize },
    /// A number per sample (regression).
    Values(Vec<f32>),
}

/// The names of a file's columns, as its header gives them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Columns {
    /// The feature columns, in file order.
    pub features: Vec<String>,
    /// The label (or target) column.
    pub label: String,
    /// The label column's 1-based position in the file.
    pub label_position: usize,
    /// The column delimiter.
    pub delimiter: u8,
}

/// A data set held once in memory: the raw values of every sample (bytes
/// while they are small whole numbers, else `f32`), each sample's class or
/// target, and the [`Transform`] that makes network inputs of them. It is a
/// [`SampleSource`]: a split or an epoch reads it by index, and each input is
/// computed when read, so no part of it is ever copied.
///
/// A network may take more inputs than there are features
/// ([`pad_inputs`](Table::pad_inputs)): the extra ones read as zeros.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    origin: Origin,
    values: Values,
    features: usize,
    inputs: usize,
    targets: Targets,
    transform: Transform,
    columns: Option<Columns>,
    truncated: bool,
    /// The first test sample of a data set that comes with its own split
    /// (MNIST's 60 000 then 10 000): samples before it train, the rest test.
    official_split: Option<usize>,
    /// Every byte value's input under `transform`, while the values are
    /// bytes and the transform a division: an input is then one lookup.
    byte_inputs: Option<Box<[f32; 256]>>,
}

impl Table {
    /// An empty table of `features` values per sample and classes in `0..classes`.
    pub fn classes(origin: Origin, features: usize, classes: usize) -> Self {
        Table::new(origin, features, Targets::Classes { labels: Vec::new(), count: classes })
    }

    /// An empty table of `features` values per sample and a number to predict for each.
    pub fn regression(origin: Origin, features: usize) -> Self {
        Table::new(origin, features, Targets::Values(Vec::new()))
    }

    fn new(origin: Origin, features: usize, targets: Targets) -> Self {
        Table {
            origin,
            values: Values::Bytes(Vec::new()),
            features,
            inputs: features,
            targets,
            transform: Transform::Divide(1.0),
            columns: None,
            truncated: false,
            official_split: None,
            byte_inputs: None,
        }
    }

    /// A table of images and their classes, `features` bytes per image
    /// (pixels), taken over without copying; `official_split` is the first
    /// test image when the images come as training then test sets.
    pub fn of_bytes(
        origin: Origin,
        features: usize,
        classes: usize,
        pixels: Vec<u8>,
        labels: Vec<u16>,
        official_split: Option<usize>,
    ) -> Self {
        debug_assert_eq!(pixels.len(), labels.len() * features);
        let mut table = Table::new(origin, features, Targets::Classes { labels, count: classes });
        table.values = Values::Bytes(pixels);
        table.official_split = official_split;
        table
    }

    /// The first test sample, when the data set comes with its own split.
    pub fn official_split(&self) -> Option<usize> {
        self.official_split
    }

    /// Appends a sample of class `label` (below the class count, which the caller checks).
    pub fn push_class(&mut self, row: &[f32], label: usize) {
        debug_assert_eq!(row.len(), self.features);
        if let Targets::Classes { labels, count } = &mut self.targets {
            debug_assert!(label < *count);
            row.iter().for_each(|&v| self.values.push(v));
            labels.push(label as u16);
        }
    }

    /// Appends a sample with a numeric target.
    pub fn push_target(&mut self, row: &[f32], target: f32) {
        debug_assert_eq!(row.len(), self.features);
        if let Targets::Values(targets) = &mut self.targets {
            row.iter().for_each(|&v| self.values.push(v));
            targets.push(target);
        }
    }

    /// Gives back the memory that growing reserved; call once all samples are in.
    pub fn shrink_to_fit(&mut self) {
        self.values.shrink_to_fit();
        match &mut self.targets {
            Targets::Classes { labels, .. } => labels.shrink_to_fit(),
            Targets::Values(targets) => targets.shrink_to_fit(),
        }
    }

    /// Sets the transform from raw values to inputs.
    pub fn set_transform(&mut self, transform: Transform) {
        self.byte_inputs = match (&self.values, &transform) {
            // `raw / d` for each byte, as `Transform::apply` computes it.
            (Values::Bytes(_), &Transform::Divide(d)) => {
                Some(Box::new(core::array::from_fn(|b| Transform::Divide(d).apply(0, b as f32))))
            }
            _ => None,
        };
        self.transform = transform;
    }

    /// The transform from raw values to inputs.
    pub fn transform(&self) -> &Transform {
        &self.transform
    }

    /// Records the file's column names.
    pub fn set_columns(&mut self, columns: Columns) {
        self.columns = Some(columns);
    }

    /// The file's column names, when it has a header.
    pub fn columns(&self) -> Option<&Columns> {
        self.columns.as_ref()
    }

    /// Marks the table as the first samples of a longer source (`--max-samples`).
    pub fn set_truncated(&mut self, truncated: bool) {
        self.truncated = truncated;
    }

    /// Whether reading stopped at `--max-samples` before the end of the source.
    pub fn truncated(&self) -> bool {
        self.truncated
    }

    /// Where the samples came from.
    pub fn origin(&self) -> &Origin {
        &self.origin
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        match &self.targets {
            Targets::Classes { labels, .. } => labels.len(),
            Targets::Values(targets) => targets.len(),
        }
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Features per sample, as read.
    pub fn features(&self) -> usize {
        self.features
    }

    /// Network inputs per sample: the features, then zeros up to this width.
    pub fn inputs(&self) -> usize {
        self.inputs
    }

    /// Whether the samples have numeric targets instead of classes.
    pub fn is_regression(&self) -> bool {
        matches!(self.targets, Targets::Values(_))
    }

    /// Number of classes the labels are drawn from (0 for regression).
    pub fn class_count(&self) -> usize {
        match &self.targets {
            Targets::Classes { count, .. } => *count,
            Targets::Values(_) => 0,
        }
    }

    /// Sets the number of classes: at least one more than the largest label.
    pub fn set_class_count(&mut self, classes: usize) {
        if let Targets::Classes { labels, count } = &mut self.targets {
            debug_assert!(labels.iter().all(|&l| usize::from(l) < classes));
            *count = classes;
        }
    }

    /// Sample `index`'s class (0 for regression).
    pub fn class(&self, index: usize) -> usize {
        match &self.targets {
            Targets::Classes { labels, .. } => usize::from(labels[index]),
            Targets::Values(_) => 0,
        }
    }

    /// Sample `index`'s numeric target (its class, for classification).
    pub fn target(&self, index: usize) -> f32 {
        match &self.targets {
            Targets::Classes { labels, .. } => f32::from(labels[index]),
            Targets::Values(targets) => targets[index],
        }
    }

    /// How many samples each class has.
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.class_count()];
        if let Targets::Classes { labels, .. } = &self.targets {
            for &label in labels {
                counts[usize::from(label)] += 1;
            }
        }
        counts
    }

    /// Sample `index`'s raw feature values, as read.
    pub fn raw(&self, index: usize) -> Vec<f32> {
        (0..self.features).map(|j| self.values.get(index * self.features + j)).collect()
    }

    /// Sample `index`'s network inputs (transformed, padded with zeros).
    pub fn row(&self, index: usize) -> Vec<f32> {
        let mut out = vec![0.0; self.inputs];
        self.features_into(index, &mut out);
        out
    }

    /// Bytes the samples take in memory (values and labels, not the vectors' spare capacity).
    pub fn heap_bytes(&self) -> usize {
        let targets = match &self.targets {
            Targets::Classes { labels, .. } => labels.len() * 2,
            Targets::Values(targets) => targets.len() * 4,
        };
        self.values.len() * self.values.bytes_per_value() + targets
    }

    /// Makes the network's inputs `width` wide: the features, then zeros.
    /// Zero inputs add nothing to any sum (the core skips them), so a
    /// network trained on them computes what a narrower one would.
    pub fn pad_inputs(&mut self, width: usize) {
        debug_assert!(width >= self.features);
        self.inputs = width.max(self.features);
    }

    /// Standardises every feature with the mean and standard deviation
    /// (population, as scikit-learn's `StandardScaler`) of the samples at
    /// `rows` (the training split, so that nothing of the test samples
    /// leaks into training). A feature that does not vary there is an
    /// error naming it: it carries nothing to learn from, and dividing by its
    /// deviation would not be finite.
    pub fn standardise(&mut self, rows: &[usize]) -> Result<(), DataError> {
        let mut offset = Vec::with_capacity(self.features);
        let mut scale = Vec::with_capacity(self.features);
        for j in 0..self.features {
            let value = |i: usize| f64::from(self.values.get(i * self.features + j));
            let n = rows.len().max(1) as f64;
            let mean = rows.iter().map(|&i| value(i)).sum::<f64>() / n;
            let variance = rows.iter().map(|&i| (value(i) - mean).powi(2)).sum::<f64>() / n;
            let (mean32, deviation32) = (mean as f32, variance.sqrt() as f32);
            // The inputs are computed in f32 from these f32 values (as predict
            // and an exported model compute them), so they must be usable there.
            let largest = rows.iter().map(|&i| ((value(i) as f32 - mean32) / deviation32).abs()).fold(0f32, f32::max);
            if !(deviation32 > 0.0 && deviation32.is_finite() && largest.is_finite()) {
                let first = rows.first().map_or(0.0, |&i| value(i));
                let variation = if !rows.iter().all(|&i| value(i) == first) {
                    Variation::TooLittle
                } else if (0..self.len()).all(|i| value(i) == first) {
                    Variation::None
                } else {
                    Variation::NoneInTraining
                };
                return Err(DataError::ConstantColumn {
                    origin: self.origin.clone(),
                    column: self.feature_column_name(j),
                    value: first,
                    variation,
                });
            }
            offset.push(mean32);
            scale.push(deviation32);
        }
        self.set_transform(Transform::Standardise { offset, scale });
        Ok(())
    }

    /// The scaling section for a model of [`inputs`](Table::inputs) inputs:
    /// the standardisation, with offset 0 and scale 1 for padding inputs;
    /// `None` unless the table is standardised.
    pub fn scaling(&self) -> Option<(Vec<f32>, Vec<f32>)> {
        let Transform::Standardise { offset, scale } = &self.transform else { return None };
        let pad = self.inputs - self.features;
        let offset = offset.iter().copied().chain(std::iter::repeat_n(0.0, pad)).collect();
        let scale = scale.iter().copied().chain(std::iter::repeat_n(1.0, pad)).collect();
        Some((offset, scale))
    }

    /// "column 3 (petal_width)" for feature `j` of a file with a header,
    /// "feature 3" otherwise.
    pub fn feature_column_name(&self, j: usize) -> String {
        match &self.columns {
            Some(columns) => {
                // Feature columns are the file's columns without the label's.
                let position = if j + 1 < columns.label_position { j + 1 } else { j + 2 };
                format!("column {position} ({})", columns.features[j])
            }
            None => format!("feature {}", j + 1),
        }
    }

    /// Checks that the classes can be split and learned: at least two, and at
    /// least two samples (one to train on, one to test) in every class present.
    pub fn check_classes(&self) -> Result<(), DataError> {
        let counts = self.class_counts();
        check_counts(&counts).map_err(|problem| DataError::Classes { origin: self.origin.clone(), problem })
    }

    /// The samples at `indices` as flat `f32` rows (for callers that need
    /// rows in memory: tests, benchmarks, the model's reference checks).
    pub fn gather(&self, indices: &[usize]) -> Samples {
        let mut features = Vec::with_capacity(indices.len() * self.inputs);
        let mut row = vec![0.0; self.inputs];
        for &i in indices {
            self.features_into(i, &mut row);
            features.extend_from_slice(&row);
        }
        Samples {
            features,
            labels: indices.iter().map(|&i| self.class(i)).collect(),
            feature_count: self.inputs,
            class_count: self.class_count(),
        }
    }

    /// Every sample as flat `f32` rows; see [`gather`](Table::gather).
    pub fn to_samples(&self) -> Samples {
        self.gather(&(0..self.len()).collect::<Vec<_>>())
    }
}

/// See [`Table::check_classes`].
pub(super) fn check_counts(counts: &[usize]) -> Result<(), ClassProblem> {
    let present: Vec<usize> = (0..counts.len()).filter(|&c| counts[c] > 0).collect();
    if present.is_empty() {
        return Err(ClassProblem::NoSamples);
    }
    if let [only] = present[..] {
        return Err(ClassProblem::OneClass { class: only, samples: counts[only] });
    }
    if let Some(class) = present.iter().copied().find(|&c| counts[c] < 2) {
        return Err(ClassProblem::SingleSample { class });
    }
    Ok(())
}

impl SampleSource for Table {
    fn len(&self) -> usize {
        Table::len(self)
    }

    fn feature_count(&self) -> usize {
        self.inputs
    }

    #[inline]
    fn features_into(&self, index: usize, out: &mut [f32]) {
        let start = index * self.features;
        if let (Values::Bytes(bytes), Some(inputs)) = (&self.values, &self.byte_inputs) {
            crate::source::bytes_into(&bytes[start..][..self.features], inputs, &mut out[..self.features]);
            out[self.features..].fill(0.0);
            return;
        }
        for (j, x) in out[..self.features].iter_mut().enumerate() {
            *x = self.transform.apply(j, self.values.get(start + j));
        }
        out[self.features..].fill(0.0);
    }

    fn label(&self, index: usize) -> usize {
        self.class(index)
    }

    fn prefetch(&self, index: usize) {
        if let Values::Bytes(bytes) = &self.values
            && let Some(row) = bytes.get(index * self.features..(index + 1) * self.features)
        {
            crate::source::prefetch(row);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(rows: &[(&[f32], usize)]) -> Table {
        let mut t = Table::classes(Origin::Generated("test".into()), rows[0].0.len(), 3);
        for (row, label) in rows {
            t.push_class(row, *label);
        }
        t
    }

    #[test]
    fn small_whole_numbers_take_a_byte_and_anything_else_promotes_exactly() {
        let mut t = table(&[(&[0.0, 16.0], 2), (&[8.0, 4.0], 0)]);
        assert!(matches!(t.values, Values::Bytes(_)));
        assert_eq!(t.heap_bytes(), 4 + 4);
        t.push_class(&[-0.0, 0.5], 1);
        assert!(matches!(t.values, Values::Floats(_)));
        assert_eq!(t.raw(0), [0.0, 16.0]);
        assert_eq!(t.raw(2)[0].to_bits(), (-0.0f32).to_bits());
        assert_eq!(t.class_counts(), [1, 1, 1]);
    }

    #[test]
    fn inputs_are_transformed_when_read_and_padded_with_zeros() {
        let mut t = table(&[(&[0.0, 16.0], 2), (&[8.0, 4.0], 0)]);
        t.set_transform(Transform::Divide(16.0));
        t.pad_inputs(4);
        assert_eq!(t.row(1), [0.5, 0.25, 0.0, 0.0]);
        assert_eq!(SampleSource::feature_count(&t), 4);
        let flat = t.gather(&[1, 0]);
        assert_eq!(flat.features, [0.5, 0.25, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0]);
        assert_eq!(flat.labels, [0, 2]);
    }

    #[test]
    fn standardising_uses_the_given_rows_and_refuses_a_constant_column() {
        let mut t = table(&[(&[1.0, 5.0], 0), (&[3.0, 5.0], 1), (&[100.0, 6.0], 1)]);
        let error = t.standardise(&[0, 1]).unwrap_err();
        let message = error.to_string();
        assert!(message.contains("feature 2") && message.contains("training split"), "{message}");
        let mut t = table(&[(&[1.0, 5.0], 0), (&[3.0, 7.0], 1), (&[100.0, 6.0], 1)]);
        t.standardise(&[0, 1]).unwrap();
        assert_eq!(t.row(0), [-1.0, -1.0]);
        t.pad_inputs(3);
        assert_eq!(t.scaling().unwrap(), (vec![2.0, 6.0, 0.0], vec![1.0, 1.0, 1.0]));
    }
}
