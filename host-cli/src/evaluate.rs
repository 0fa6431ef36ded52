//! Using a saved model: evaluating it on a data set's test split, predicting
//! single samples, and what their reports need (per-class scores from a
//! confusion matrix, the split a model records, samples read from a CSV file,
//! a terminal picture of an 8×8 digit).
//!
//! The network type comes from the file's layer table through
//! [`crate::arch::with_network`]; [`Evaluator`] and [`Predictor`] are the
//! visitors that run with it.

use std::path::Path;

use anyhow::{anyhow, bail};
use mlp_core::loss::{Loss, SoftmaxCrossEntropy};
use mlp_core::{Error, Network, Zeroed, predict, predict_probabilities};
use serde::Serialize;

use crate::arch::{self, Architecture, NetworkVisitor};
use crate::boxed::zeroed_box;
use crate::data::{CsvFormat, DatasetSpec, Kind, MoonsOptions, Request, Table};
use crate::modelfile::{ModelFile, load_network};
use crate::prepare;
use crate::report::number;
use crate::source::SampleSource;
use crate::split::Indices;

/// Precision, recall and F1 of one class.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct ClassScores {
    /// The class.
    pub class: usize,
    /// Of the samples predicted as this class, the fraction that are (0 when none is).
    pub precision: f64,
    /// Of the samples of this class, the fraction predicted as it (0 when there are none).
    pub recall: f64,
    /// Harmonic mean of precision and recall (0 when both are 0).
    pub f1: f64,
    /// Samples of this class.
    pub support: u32,
}

/// Unweighted means over the classes.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct MacroScores {
    /// Mean precision.
    pub precision: f64,
    /// Mean recall.
    pub recall: f64,
    /// Mean F1 (of the per-class F1s, as scikit-learn's `f1_score(average="macro")`).
    pub f1: f64,
}

/// Everything a confusion matrix says about a classifier.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Scores {
    /// Correct predictions over all samples.
    pub accuracy: f64,
    /// Correct predictions.
    pub correct: u32,
    /// All samples.
    pub samples: u32,
    /// One entry per class, in order.
    pub per_class: Vec<ClassScores>,
    /// Their unweighted means.
    pub macro_average: MacroScores,
}

/// Scores from `confusion[actual][predicted]` (a square matrix). A ratio
/// with nothing to divide by is 0, as scikit-learn reports it by default.
pub fn scores(confusion: &[Vec<u32>]) -> Scores {
    let ratio = |num: u64, den: u64| if den == 0 { 0.0 } else { num as f64 / den as f64 };
    let classes = confusion.len();
    let cell = |actual: usize, predicted: usize| u64::from(confusion[actual].get(predicted).copied().unwrap_or(0));
    let per_class: Vec<ClassScores> = (0..classes)
        .map(|class| {
            let hits = cell(class, class);
            let actual: u64 = (0..classes).map(|p| cell(class, p)).sum();
            let predicted: u64 = (0..classes).map(|a| cell(a, class)).sum();
            let (precision, recall) = (ratio(hits, predicted), ratio(hits, actual));
            let f1 = if precision + recall > 0.0 { 2.0 * precision * recall / (precision + recall) } else { 0.0 };
            ClassScores { class, precision, recall, f1, support: actual as u32 }
        })
        .collect();
    let mean = |f: fn(&ClassScores) -> f64| {
        if classes == 0 { 0.0 } else { per_class.iter().map(f).sum::<f64>() / classes as f64 }
    };
    let correct: u64 = (0..classes).map(|c| cell(c, c)).sum();
    let samples: u64 = confusion.iter().flatten().map(|&n| u64::from(n)).sum();
    Scores {
        accuracy: ratio(correct, samples),
        correct: correct as u32,
        samples: samples as u32,
        macro_average: MacroScores { precision: mean(|s| s.precision), recall: mean(|s| s.recall), f1: mean(|s| s.f1) },
        per_class,
    }
}

/// Writes the per-class table and the macro averages, columns aligned.
pub fn write_scores(out: &mut impl std::io::Write, scores: &Scores) -> std::io::Result<()> {
    let label = scores.per_class.len().saturating_sub(1).to_string().len().max("macro".len());
    let support = scores.samples.to_string().len().max("support".len());
    writeln!(out, "{:<label$}  precision  recall      f1  {:>support$}", "class", "support")?;
    for s in &scores.per_class {
        writeln!(
            out,
            "{:<label$}  {:>9.4}  {:>6.4}  {:>6.4}  {:>support$}",
            s.class, s.precision, s.recall, s.f1, s.support
        )?;
    }
    let m = &scores.macro_average;
    writeln!(
        out,
        "{:<label$}  {:>9.4}  {:>6.4}  {:>6.4}  {:>support$}",
        "macro", m.precision, m.recall, m.f1, scores.samples
    )
}

/// Shades from blank (0) to full (the format's largest value).
pub const SHADES: &[u8] = b" .:-=+*#%@";

/// An 8×8 digit (or any square image) as text, one line per row, two
/// characters per pixel so it keeps its proportions in a terminal; `raw`
/// holds the pixels in the data set's units, `max` is full intensity.
/// `None` when the input is not a square image.
pub fn picture(raw: &[f64], max: f64) -> Option<Vec<String>> {
    let side = (1..=raw.len()).find(|s| s * s >= raw.len()).filter(|s| s * s == raw.len() && *s > 1)?;
    let top = (SHADES.len() - 1) as f64;
    Some(
        raw.chunks(side)
            .map(|row| {
                row.iter()
                    .map(|&v| {
                        let level = if max > 0.0 { (v / max).clamp(0.0, 1.0) } else { 0.0 };
                        let shade = char::from(SHADES[(level * top).round() as usize]);
                        [shade, shade].into_iter().collect::<String>()
                    })
                    .collect()
            })
            .collect(),
    )
}

/// What a model records of the data it was trained on, in its metadata
/// section (`key=value` lines, written by `host-cli train`): the data set,
/// the split, and what it takes to read the same samples again and make
/// the same inputs of them. Text values are JSON strings, so any column name
/// fits on its line. Every key is optional: older files record only the
/// data set and the split.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Recorded {
    /// The data set's name.
    pub dataset: Option<String>,
    /// The split's seed.
    pub seed: Option<u64>,
    /// The held-out fraction.
    pub test_fraction: Option<f64>,
    /// Features per sample as read (the network may take more inputs: zeros).
    pub features: Option<usize>,
    /// Classes of the data (the network may have more outputs: never winning).
    pub classes: Option<usize>,
    /// `classification` or `regression`.
    pub task: Option<String>,
    /// CSV: the label column's header name.
    pub label_column: Option<String>,
    /// CSV: the feature columns' header names, in order.
    pub feature_names: Option<Vec<String>>,
    /// CSV: the delimiter.
    pub delimiter: Option<u8>,
    /// `--max-samples`.
    pub max_samples: Option<usize>,
    /// Moons: the points generated.
    pub samples: Option<usize>,
    /// Moons: the noise.
    pub noise: Option<f64>,
    /// Regression: the training targets' mean, which the network's output is added to.
    pub target_offset: Option<f64>,
    /// Regression: the training targets' standard deviation, which the output is multiplied by.
    pub target_scale: Option<f64>,
    /// Training samples held out for validation (`--validation`; 0 for none).
    pub validation: Option<usize>,
}

impl Recorded {
    /// Reads the keys from metadata text (`key=value` lines); values that do not parse are left out.
    pub fn from_metadata(text: &str) -> Self {
        let value = |key: &str| text.lines().find_map(|line| line.strip_prefix(key)?.strip_prefix('='));
        let json = |key: &str| value(key).and_then(|v| serde_json::from_str::<String>(v).ok());
        Recorded {
            dataset: value("dataset").map(str::to_owned),
            seed: value("seed").and_then(|v| v.parse().ok()),
            test_fraction: value("test_fraction").and_then(|v| v.parse().ok()).filter(|f| *f > 0.0 && *f < 1.0),
            features: value("features").and_then(|v| v.parse().ok()).filter(|&f| f > 0),
            classes: value("classes").and_then(|v| v.parse().ok()).filter(|&c| c > 0),
            task: value("task").map(str::to_owned),
            label_column: json("label_column"),
            feature_names: value("feature_names").and_then(|v| serde_json::from_str(v).ok()),
            delimiter: json("delimiter").and_then(|d| <[u8; 1]>::try_from(d.as_bytes()).ok()).map(|[d]| d),
            max_samples: value("max_samples").and_then(|v| v.parse().ok()),
            // Only as many points as `--samples` accepts: a file cannot make eval generate more.
            samples: value("samples")
                .and_then(|v| v.parse().ok())
                .filter(|n| (MoonsOptions::MIN_SAMPLES..=MoonsOptions::MAX_SAMPLES).contains(n)),
            noise: value("noise").and_then(|v| v.parse().ok()).filter(|n: &f64| n.is_finite() && *n >= 0.0),
            target_offset: value("target_offset").and_then(|v| v.parse().ok()).filter(|v: &f64| v.is_finite()),
            target_scale: value("target_scale")
                .and_then(|v| v.parse().ok())
                .filter(|v: &f64| *v > 0.0 && v.is_finite()),
            validation: value("validation").and_then(|v| v.parse().ok()),
        }
    }

    /// The metadata text: one `key=value` line per key that is set.
    pub fn to_metadata(&self) -> String {
        let mut text = String::new();
        let mut line = |key: &str, value: Option<String>| {
            if let Some(value) = value {
                text += &format!("{key}={value}\n");
            }
        };
        let json = |s: &str| serde_json::to_string(s).unwrap_or_default();
        line("dataset", self.dataset.clone());
        line("seed", self.seed.map(|v| v.to_string()));
        line("test_fraction", self.test_fraction.map(number));
        line("features", self.features.map(|v| v.to_string()));
        line("classes", self.classes.map(|v| v.to_string()));
        line("task", self.task.clone());
        line("label_column", self.label_column.as_deref().map(json));
        line("feature_names", self.feature_names.as_ref().and_then(|n| serde_json::to_string(n).ok()));
        line("delimiter", self.delimiter.map(|d| json(&char::from(d).to_string())));
        line("max_samples", self.max_samples.map(|v| v.to_string()));
        line("samples", self.samples.map(|v| v.to_string()));
        line("noise", self.noise.map(number));
        line("target_offset", self.target_offset.map(number));
        line("target_scale", self.target_scale.map(number));
        line("validation", self.validation.map(|v| v.to_string()));
        text
    }

    /// What a model records of a run on `table`, read as `request` asked.
    pub fn of_run(spec: &DatasetSpec, table: &Table, request: &Request, seed: u64, test_fraction: f64) -> Self {
        let mut recorded = Recorded {
            dataset: Some(spec.name.to_owned()),
            seed: Some(seed),
            test_fraction: table.official_split().is_none().then_some(test_fraction),
            features: Some(table.features()),
            classes: (!table.is_regression()).then(|| table.class_count()),
            max_samples: request.max_samples,
            ..Recorded::default()
        };
        if let Some(columns) = table.columns() {
            recorded.task = Some(request.csv.task.name().to_owned());
            recorded.label_column = Some(columns.label.clone());
            recorded.feature_names = Some(columns.features.clone());
            recorded.delimiter = Some(columns.delimiter);
        }
        if matches!(spec.kind, Kind::Moons) {
            recorded.samples = Some(request.moons.samples);
            recorded.noise = Some(request.moons.noise);
        }
        recorded
    }
}

/// The seed and test fraction of the split to use, and where they came from.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SplitChoice {
    /// The split's seed.
    pub seed: u64,
    /// The held-out fraction.
    pub test_fraction: f64,
    /// Whether they are those the model records (else the flags').
    pub from_model: bool,
    /// Whether the data set comes with its own test set (MNIST): seed and
    /// fraction do not apply.
    pub official: bool,
}

impl SplitChoice {
    /// "seed 0, test fraction 0.2, as recorded in the model", for reports.
    pub fn describe(&self) -> String {
        if self.official {
            return "the data set's own test set".to_owned();
        }
        let source = if self.from_model {
            "as recorded in the model"
        } else {
            "from the flags; the model does not record its split"
        };
        format!("seed {}, test fraction {}, {source}", self.seed, number(self.test_fraction))
    }
}

/// The split to evaluate `file` on: the one it records, so that its test
/// samples are ones it never trained on. A `--seed` or `--test-fraction`
/// that names another split, and a recorded data set other than `spec`, are
/// errors. A model that records nothing takes the flags (`None`: seed 0 and
/// the data set's default fraction).
pub fn choose_split(
    file: &ModelFile,
    spec: &DatasetSpec,
    seed: Option<u64>,
    fraction: Option<f64>,
) -> anyhow::Result<SplitChoice> {
    let path = file.path.display();
    if let Some(f) = fraction
        && !(f > 0.0 && f < 1.0)
    {
        bail!("invalid --test-fraction {}: must be greater than 0 and less than 1", number(f));
    }
    let recorded = Recorded::from_metadata(file.model().metadata().unwrap_or(""));
    if let Some(dataset) = recorded.dataset.as_deref().filter(|&d| d != spec.name) {
        bail!("{path}: the model was trained on {dataset}, not {}", spec.name);
    }
    if matches!(spec.kind, Kind::Idx) {
        if let Some(f) = fraction {
            bail!("invalid --test-fraction {}: {} comes with its own test set", number(f), spec.name);
        }
        let test_fraction = spec.defaults.test_fraction;
        return Ok(SplitChoice { seed: seed.unwrap_or(0), test_fraction, from_model: false, official: true });
    }
    let (Some(recorded_seed), Some(recorded_fraction)) = (recorded.seed, recorded.test_fraction) else {
        let test_fraction = fraction.unwrap_or(spec.defaults.test_fraction);
        return Ok(SplitChoice { seed: seed.unwrap_or(0), test_fraction, from_model: false, official: false });
    };
    if let Some(seed) = seed.filter(|&s| s != recorded_seed) {
        bail!(
            "{path}: the model was trained on the split of --seed {recorded_seed}, not {seed} \
             (another split's test samples include ones it trained on)"
        );
    }
    if let Some(f) = fraction.filter(|&f| f != recorded_fraction) {
        bail!(
            "{path}: the model was trained with --test-fraction {}, not {} \
             (another split's test samples include ones it trained on)",
            number(recorded_fraction),
            number(f)
        );
    }
    Ok(SplitChoice { seed: recorded_seed, test_fraction: recorded_fraction, from_model: true, official: false })
}

/// The file's architecture, checked against the data set first (a clear
/// message for a model of another data set) and then against the ones
/// compiled in (listing those).
pub fn architecture_for(file: &ModelFile, spec: &DatasetSpec) -> anyhow::Result<Architecture> {
    let path = file.path.display();
    let arch = file.architecture()?;
    let (features, classes) = (spec.format.features, spec.format.classes);
    // A CSV file's shape is checked once it is read (`model_samples`).
    if !matches!(spec.kind, Kind::Csv) && (arch.inputs, arch.outputs) != (features, classes) {
        bail!(
            "{path}: the model takes {} inputs and gives {} classes, but {} samples have {features} {}s and {classes} classes",
            arch.inputs,
            arch.outputs,
            spec.name,
            spec.format.feature_noun
        );
    }
    if arch::check(&arch).is_err() {
        let built: Vec<String> = arch::supported_hidden(arch.inputs, arch.outputs)
            .iter()
            .map(|hidden| {
                let (inputs, outputs) = (arch.inputs, arch.outputs);
                format!("{inputs}-{}-{outputs}", hidden.iter().map(usize::to_string).collect::<Vec<_>>().join("-"))
            })
            .collect();
        bail!(
            "{path}: the model's architecture {} is not built into host-cli; built in for {}: {} \
             (each with relu, sigmoid, tanh or leaky-relu hidden layers)",
            arch.name(),
            spec.name,
            built.join(", ")
        );
    }
    Ok(arch)
}

/// Checks that a CSV file's columns are those the model was trained on
/// (the same feature names in the same order, the same label column).
pub fn check_recorded_columns(table: &Table, recorded: &Recorded, path: &Path) -> anyhow::Result<()> {
    if let Some(features) = recorded.features
        && features != table.features()
    {
        bail!(
            "{}: the model was trained on {features} features, but {} has {}",
            path.display(),
            table.origin(),
            table.features()
        );
    }
    let (Some(columns), Some(names)) = (table.columns(), &recorded.feature_names) else { return Ok(()) };
    if let Some(label) = &recorded.label_column
        && *label != columns.label
    {
        bail!(
            "{}: the model was trained to predict column {label:?}, but the label column of {} is {:?} \
             (give --label-column {label:?})",
            path.display(),
            table.origin(),
            columns.label
        );
    }
    if *names != columns.features {
        bail!(
            "{}: the model was trained on the columns {}, but {} has {}",
            path.display(),
            names.join(", "),
            table.origin(),
            columns.features.join(", ")
        );
    }
    Ok(())
}

/// Reads the samples a model was trained beside (as `request` asks),
/// splits them as `choice` says, and makes the model's inputs of them: its
/// scaling, its width. The columns must be those the model records, and
/// its outputs must cover the classes.
pub fn model_samples(
    file: &ModelFile,
    spec: &DatasetSpec,
    request: &Request,
    choice: &SplitChoice,
) -> anyhow::Result<(Table, Indices)> {
    let model = file.model();
    let recorded = Recorded::from_metadata(model.metadata().unwrap_or(""));
    let mut table = spec.read(request)?;
    check_recorded_columns(&table, &recorded, &file.path)?;
    let indices = prepare::split(&table, choice.test_fraction, choice.seed)
        .map_err(|e| anyhow!("{}: cannot split it ({}): {e}", table.origin(), choice.describe()))?;
    prepare::use_model_scaling(&mut table, spec, &model, &file.path.display().to_string())?;
    let outputs = model.layers().last().map_or(0, |layer| layer.outputs);
    if table.class_count() > outputs {
        bail!(
            "{}: the model gives {outputs} classes, but {} has labels up to {}",
            file.path.display(),
            table.origin(),
            table.class_count() - 1
        );
    }
    Ok((table, indices))
}

/// What an evaluation measured.
#[derive(Clone, Debug, PartialEq)]
pub struct Measured {
    /// `confusion[actual][predicted]`.
    pub confusion: Vec<Vec<u32>>,
    /// Mean cross-entropy over the samples.
    pub loss: f64,
}

/// Loads the model into its network type and measures it on `source`:
/// mean cross-entropy, and the confusion matrix over the data's `classes`
/// (a network may have more outputs, which stand for no class: the
/// prediction is the largest of the first `classes` logits).
pub struct Evaluator<'a> {
    /// The model.
    pub file: &'a ModelFile,
    /// The samples, read as the network's inputs.
    pub source: &'a dyn SampleSource,
    /// Classes of the data.
    pub classes: usize,
}

impl NetworkVisitor for Evaluator<'_> {
    type Output = anyhow::Result<Measured>;
    fn visit<N, const I: usize, const O: usize>(self) -> Self::Output
    where
        N: Network<Scalar = f32, Input = [f32; I], Output = [f32; O]> + Zeroed,
    {
        let net = load_network::<N>(self.file)?;
        let mut scratch = zeroed_box::<N::Activations>();
        let classes = self.classes.min(O);
        let mut confusion = vec![vec![0u32; classes]; classes];
        let mut loss_sum = 0f32;
        let mut x = [0f32; I];
        for sample in 0..self.source.len() {
            self.source.features_into(sample, &mut x);
            let label = self.source.label(sample);
            if label >= classes {
                return Err(Error::InvalidTarget { sample }.into());
            }
            let logits = predict(&*net, &x, &mut scratch).map_err(|e| match e {
                Error::NonFiniteInput { .. } => Error::NonFiniteInput { sample },
                Error::NonFiniteOutput { .. } => Error::NonFiniteOutput { sample },
                e => e,
            })?;
            // Summed in f32 in sample order, as mlp-core's `evaluate` sums.
            loss_sum += <SoftmaxCrossEntropy as Loss<f32, O>>::loss(logits, &label);
            confusion[label][argmax(&logits[..classes])] += 1;
        }
        let samples = self.source.len().max(1);
        Ok(Measured { confusion, loss: f64::from(loss_sum / samples as f32) })
    }
}

/// The first index of the largest value.
fn argmax(values: &[f32]) -> usize {
    values.iter().enumerate().fold(0, |best, (k, &v)| if v > values[best] { k } else { best })
}

/// Loads the model into its network type and gives every row's class
/// probabilities (softmax), for the data's first `classes` outputs.
pub struct Predictor<'a> {
    /// The model.
    pub file: &'a ModelFile,
    /// Samples, each the network's input count wide.
    pub rows: &'a [Vec<f32>],
    /// Classes of the data.
    pub classes: usize,
}

impl NetworkVisitor for Predictor<'_> {
    type Output = anyhow::Result<Vec<Vec<f32>>>;
    fn visit<N, const I: usize, const O: usize>(self) -> Self::Output
    where
        N: Network<Scalar = f32, Input = [f32; I], Output = [f32; O]> + Zeroed,
    {
        let net = load_network::<N>(self.file)?;
        let mut scratch = zeroed_box::<N::Activations>();
        self.rows
            .iter()
            .map(|row| {
                let mut p = [0f32; O];
                predict_probabilities(&*net, SoftmaxCrossEntropy, row, &mut scratch, &mut p)?;
                // An output beyond the classes has probability 0 (its bias masks it).
                Ok(p[..self.classes.min(O)].to_vec())
            })
            .collect()
    }
}

/// Runs a visitor with the network type of `arch` (already checked by [`architecture_for`]).
pub fn with_network<V: NetworkVisitor<Output = anyhow::Result<T>>, T>(
    arch: &Architecture,
    visitor: V,
) -> anyhow::Result<T> {
    arch::with_network(arch, visitor).map_err(|e| anyhow!(e))?
}

/// One sample read from an input file.
#[derive(Clone, Debug, PartialEq)]
pub struct InputSample {
    /// Its 1-based line in the file.
    pub line: usize,
    /// The values as written (the data set's units).
    pub raw: Vec<f64>,
    /// The values the network takes (divided by the format's divisor).
    pub scaled: Vec<f32>,
}

/// Why an input file was refused; the place is 1-based.
#[derive(Clone, Debug, PartialEq)]
pub enum InputError {
    /// No sample lines.
    Empty,
    /// Not UTF-8 text.
    NotUtf8 {
        /// The line.
        line: usize,
    },
    /// Another number of values than the model takes.
    Count {
        /// The line.
        line: usize,
        /// The model's inputs.
        expected: usize,
        /// Fields on the line.
        found: usize,
    },
    /// A field that is not a number.
    NotANumber {
        /// The line.
        line: usize,
        /// The field (column).
        field: usize,
        /// Its text.
        text: String,
    },
    /// NaN or infinite.
    NotFinite {
        /// The line.
        line: usize,
        /// The field (column).
        field: usize,
        /// Its text.
        text: String,
    },
    /// Outside the data set's range.
    OutOfRange {
        /// The line.
        line: usize,
        /// The field (column).
        field: usize,
        /// The value.
        value: f64,
    },
}

impl InputError {
    /// The message, with the file, the data set's format and the model's input count.
    pub fn describe(&self, path: &Path, format: &CsvFormat) -> String {
        let path = path.display();
        let noun = format.feature_noun;
        match self {
            InputError::Empty => {
                format!("{path}: no samples (one per line, {} comma-separated {noun} values)", format.features)
            }
            InputError::NotUtf8 { line } => format!("{path}: line {line}: not valid UTF-8 text"),
            InputError::Count { line, expected, found } => format!(
                "{path}: line {line}: expected {expected} comma-separated {noun} values (the model's inputs), found {found}"
            ),
            InputError::NotANumber { line, field, text } => {
                format!("{path}: line {line}, field {field}: {text:?} is not a number")
            }
            InputError::NotFinite { line, field, text } => {
                format!("{path}: line {line}, field {field}: {text:?} is not a finite number")
            }
            InputError::OutOfRange { line, field, value } => format!(
                "{path}: line {line}, field {field}: {noun} value {} is outside {}..={}",
                number(*value),
                number(format.raw_min),
                number(format.raw_max)
            ),
        }
    }
}

/// Reads samples without labels: one per line, `format.features`
/// comma-separated values in the data set's units (digits: pixels 0–16),
/// scaled as training scales them. Blank lines are skipped; a first line in
/// which no field is a number is a header.
pub fn parse_inputs(bytes: &[u8], format: &CsvFormat) -> Result<Vec<InputSample>, InputError> {
    let mut samples = Vec::new();
    for (k, line) in bytes.split(|&b| b == b'\n').enumerate() {
        let line_no = k + 1;
        let line = std::str::from_utf8(line).map_err(|_| InputError::NotUtf8 { line: line_no })?;
        let line = line.strip_suffix('\r').unwrap_or(line);
        let line = if line_no == 1 { line.strip_prefix('\u{feff}').unwrap_or(line) } else { line };
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        if line_no == 1 && fields.iter().all(|f| f.parse::<f64>().is_err()) {
            continue;
        }
        if fields.len() != format.features {
            return Err(InputError::Count { line: line_no, expected: format.features, found: fields.len() });
        }
        let mut raw = Vec::with_capacity(fields.len());
        for (j, text) in fields.iter().enumerate() {
            let (line, field, text) = (line_no, j + 1, text.to_string());
            let value: f64 = text.parse().map_err(|_| InputError::NotANumber { line, field, text: text.clone() })?;
            if !value.is_finite() {
                return Err(InputError::NotFinite { line, field, text });
            }
            if !(format.raw_min..=format.raw_max).contains(&value) {
                return Err(InputError::OutOfRange { line, field, value });
            }
            raw.push(value);
        }
        let scaled = raw.iter().map(|&v| (v / format.divisor) as f32).collect();
        samples.push(InputSample { line: line_no, raw, scaled });
    }
    if samples.is_empty() {
        return Err(InputError::Empty);
    }
    Ok(samples)
}

/// Reads samples without labels from a CSV file with a header: the
/// columns named `names` (a model's feature columns, in its order), found
/// by name; other columns are ignored. The delimiter is guessed from the
/// header as training guesses it. Errors give the line and
/// column.
pub fn parse_csv_inputs(bytes: &[u8], names: &[String]) -> Result<Vec<InputSample>, String> {
    // The file's own delimiter, which need not be the training file's.
    let first_line = bytes.split(|&b| b == b'\n').next().unwrap_or_default();
    let delimiter = crate::data::guess_delimiter(first_line);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .delimiter(delimiter)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let mut record = csv::ByteRecord::new();
    let read = |reader: &mut csv::Reader<&[u8]>, record: &mut csv::ByteRecord| {
        reader.read_byte_record(record).map_err(|e| format!("not readable as CSV: {e}"))
    };
    if !read(&mut reader, &mut record)? {
        return Err("no header line naming the columns".into());
    }
    let header: Vec<String> = record
        .iter()
        .enumerate()
        .map(|(k, f)| {
            let f = if k == 0 { f.strip_prefix("\u{feff}".as_bytes()).unwrap_or(f) } else { f };
            String::from_utf8_lossy(f).into_owned()
        })
        .collect();
    let mut positions = Vec::with_capacity(names.len());
    let mut missing = Vec::new();
    for name in names {
        match header.iter().position(|h| h == name) {
            Some(k) => positions.push(k),
            None => missing.push(format!("{name:?}")),
        }
    }
    if !missing.is_empty() {
        return Err(format!(
            "line 1: the header lacks the model's feature columns {} (it has {})",
            missing.join(", "),
            header.join(", ")
        ));
    }
    let mut samples = Vec::new();
    while read(&mut reader, &mut record)? {
        let line = record.position().map_or(0, |p| p.line() as usize);
        if record.len() == 1 && record[0].is_empty() {
            continue;
        }
        if record.len() != header.len() {
            return Err(format!(
                "line {line}: expected {} columns, as the header has, found {}",
                header.len(),
                record.len()
            ));
        }
        let mut raw = Vec::with_capacity(names.len());
        for &k in &positions {
            let text = String::from_utf8_lossy(&record[k]);
            let value: f64 = text
                .parse()
                .map_err(|_| format!("line {line}, column {} ({}): {text:?} is not a number", k + 1, header[k]))?;
            if !value.is_finite() || !(value as f32).is_finite() {
                return Err(format!(
                    "line {line}, column {} ({}): {text:?} is not a finite number in f32's range",
                    k + 1,
                    header[k]
                ));
            }
            raw.push(value);
        }
        let scaled = raw.iter().map(|&v| v as f32).collect();
        samples.push(InputSample { line, raw, scaled });
    }
    if samples.is_empty() {
        return Err("no samples after the header".into());
    }
    Ok(samples)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::DIGITS;

    #[test]
    fn scores_match_hand_computed_values() {
        // Class 0: 3 of 4 right, 1 predicted wrongly as 0 → precision 3/4, recall 3/4.
        // Class 1: 5 of 6 right, 1 predicted as 1 from class 0 → precision 5/6, recall 5/6.
        // Class 2: no samples and never predicted → 0, 0, 0.
        let s = scores(&[vec![3, 1, 0], vec![1, 5, 0], vec![0, 0, 0]]);
        assert_eq!((s.correct, s.samples), (8, 10));
        assert_eq!(s.accuracy, 0.8);
        assert_eq!(s.per_class[0].precision, 0.75);
        assert_eq!(s.per_class[1].recall, 5.0 / 6.0);
        assert!((s.per_class[1].f1 - 5.0 / 6.0).abs() < 1e-15);
        assert_eq!((s.per_class[2].precision, s.per_class[2].recall, s.per_class[2].f1), (0.0, 0.0, 0.0));
        assert_eq!(s.per_class[0].support, 4);
        assert!((s.macro_average.precision - (0.75 + 5.0 / 6.0) / 3.0).abs() < 1e-15);
    }

    #[test]
    fn the_score_table_is_aligned() {
        let mut out = Vec::new();
        write_scores(&mut out, &scores(&[vec![3, 1], vec![1, 5]])).unwrap();
        let text = String::from_utf8(out).unwrap();
        let widths: Vec<usize> = text.lines().map(|l| l.chars().count()).collect();
        assert!(widths.windows(2).all(|w| w[0] == w[1]), "{text}");
        assert!(text.lines().last().unwrap().starts_with("macro"), "{text}");
    }

    #[test]
    fn a_digit_picture_shades_by_intensity() {
        let mut raw = vec![0.0; 64];
        raw[0] = 16.0;
        raw[9] = 8.0;
        let rows = picture(&raw, 16.0).unwrap();
        assert_eq!(rows.len(), 8);
        assert_eq!(rows[0], format!("@@{}", " ".repeat(14)));
        assert_eq!(&rows[1][2..4], "++"); // 8 of 16: 4.5 of 9 steps, rounded up
        assert!(picture(&[1.0; 63], 16.0).is_none());
    }

    #[test]
    fn metadata_gives_the_recorded_split() {
        let r = Recorded::from_metadata("dataset=digits\nseed=7\ntest_fraction=0.3\n");
        let expected =
            Recorded { dataset: Some("digits".into()), seed: Some(7), test_fraction: Some(0.3), ..Recorded::default() };
        assert_eq!(r, expected);
        assert_eq!(Recorded::from_metadata("seed=x\ntest_fraction=2"), Recorded::default());
    }

    #[test]
    fn metadata_round_trips_any_column_name() {
        let r = Recorded {
            dataset: Some("csv".into()),
            seed: Some(3),
            test_fraction: Some(0.25),
            features: Some(2),
            classes: Some(3),
            task: Some("classification".into()),
            label_column: Some("kind\nof \"thing\"".into()),
            feature_names: Some(vec!["a=b".into(), "ü, c".into()]),
            delimiter: Some(b';'),
            max_samples: Some(100),
            samples: None,
            noise: None,
            target_offset: Some(-1.5),
            target_scale: Some(2.0),
            validation: Some(40),
        };
        let text = r.to_metadata();
        assert_eq!(text.lines().count(), 13, "{text}");
        assert_eq!(Recorded::from_metadata(&text), r);
    }

    #[test]
    fn inputs_are_checked_and_scaled() {
        let row = |v: &str| vec![v; 64].join(",");
        let text = format!("{}\n\n{}\n", (0..64).map(|k| format!("p{k}")).collect::<Vec<_>>().join(","), row("16"));
        let samples = parse_inputs(text.as_bytes(), &DIGITS.format).unwrap();
        assert_eq!((samples.len(), samples[0].line, samples[0].scaled[0]), (1, 3, 1.0));
        let bad = format!("{}\n{},x\n", row("1"), row("1").rsplit_once(',').unwrap().0);
        assert_eq!(
            parse_inputs(bad.as_bytes(), &DIGITS.format),
            Err(InputError::NotANumber { line: 2, field: 64, text: "x".into() })
        );
        let nan = row("1").replacen('1', "NaN", 1);
        assert_eq!(
            parse_inputs(nan.as_bytes(), &DIGITS.format),
            Err(InputError::NotFinite { line: 1, field: 1, text: "NaN".into() })
        );
        assert_eq!(
            parse_inputs(b"1,2,3\n", &DIGITS.format),
            Err(InputError::Count { line: 1, expected: 64, found: 3 })
        );
        assert_eq!(parse_inputs(b"\n\n", &DIGITS.format), Err(InputError::Empty));
        let message =
            InputError::OutOfRange { line: 4, field: 2, value: 17.0 }.describe(Path::new("in.csv"), &DIGITS.format);
        assert_eq!(message, "in.csv: line 4, field 2: pixel value 17 is outside 0..=16");
    }
}
