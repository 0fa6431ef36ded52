//! `host-cli predict MODEL --sample N | --input FILE.csv`: a saved model's
//! class and class probabilities for single samples.

use std::fs;
use std::io::{self, Write};
use std::path::PathBuf;

use anyhow::{Context, anyhow, bail};
use clap::Args;
use clap::ValueEnum;
use clap::builder::PossibleValuesParser;
use host_cli::data::{self, CsvOptions, DatasetSpec, Kind, LabelColumn, MoonsOptions, Request, Samples, Task};
use host_cli::evaluate::{self, Predictor, Recorded, SplitChoice};
use host_cli::modelfile::ModelFile;
use host_cli::regression::{Outputs, TargetScaling};
use host_cli::report::short;
use serde::Serialize;

/// Input files larger than this are refused before reading (a digits
/// sample is under 200 bytes a line): a wrong path fails fast.
const MAX_INPUT_BYTES: u64 = 64 << 20;

/// Predict the class of samples with a saved model.
///
/// Either one sample of the data set's test split (the split the model
/// records, as `eval` uses it) with its true class, or every line of a CSV
/// file. Prints the predicted class and every class's probability (softmax),
/// and, for 8×8 digits, the picture; for a regression model, the predicted
/// value. Inputs are scaled as the model was trained (its scaling section).
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("samples").required(true).args(["sample", "input"])))]
pub struct Cmd {
    /// The model file (as `host-cli train --out FILE` writes it).
    #[arg(value_name = "MODEL")]
    model: PathBuf,

    /// Predict sample N (from 0) of the data set's test split.
    #[arg(long, value_name = "N")]
    sample: Option<usize>,

    /// Predict every sample in this file: one per line, the data set's values
    /// without a label, comma-separated (digits: 64 pixels, 0–16, row by row;
    /// iris: 4 measurements; moons: x and y), an optional header line; for a
    /// csv model, a CSV file whose header names the model's feature columns
    /// (other columns, such as the label, are ignored).
    #[arg(long, value_name = "FILE.csv", conflicts_with_all = ["seed", "test_fraction", "data"])]
    input: Option<PathBuf>,

    /// The data set the model was trained on [default: the one it records, else digits].
    #[arg(long, value_name = "NAME", value_parser = PossibleValuesParser::new(data::DATASETS.iter().map(|d| d.name)))]
    dataset: Option<String>,

    /// With --sample: read the samples from this file instead of the built-in copy (digits, iris);
    /// for a csv model, the CSV file it was trained on.
    #[arg(long, value_name = "PATH")]
    data: Option<PathBuf>,

    /// With --sample: the split's held-out fraction [default: the model's, else the data set's: digits 0.2].
    #[arg(long, value_name = "FRACTION", allow_negative_numbers = true)]
    test_fraction: Option<f64>,

    /// With --sample: the split's seed [default: the model's, else 0].
    #[arg(long, allow_negative_numbers = true)]
    seed: Option<u64>,

    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

/// One predicted sample.
#[derive(Debug, Serialize)]
struct Prediction {
    /// Its index in the test split (--sample).
    #[serde(skip_serializing_if = "Option::is_none")]
    sample: Option<usize>,
    /// Its 1-based row in the data file (--sample) or line in the input file (--input).
    #[serde(skip_serializing_if = "Option::is_none")]
    data_row: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    line: Option<usize>,
    /// The true class, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    label: Option<usize>,
    /// The true target, when known (regression).
    #[serde(skip_serializing_if = "Option::is_none")]
    target: Option<f64>,
    /// The predicted value (regression), in the target's units.
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<f64>,
    /// The predicted class (classification).
    #[serde(skip_serializing_if = "Option::is_none")]
    predicted: Option<usize>,
    /// Every class's probability (classification).
    #[serde(skip_serializing_if = "Option::is_none")]
    probabilities: Option<Vec<f32>>,
    /// In the data set's units, for the picture.
    #[serde(skip)]
    raw: Vec<f64>,
}

/// What `predict` reports.
#[derive(Debug, Serialize)]
struct PredictReport {
    model: String,
    architecture: String,
    dataset: &'static str,
    /// The data file (--sample) or the input file (--input).
    source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    seed: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    test_fraction: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    split_recorded_in_model: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    test_samples: Option<usize>,
    predictions: Vec<Prediction>,
}

impl Cmd {
    pub fn run(self) -> anyhow::Result<()> {
        let file = ModelFile::read(&self.model)?;
        let spec = self.dataset(&file)?;
        let arch = evaluate::architecture_for(&file, spec)?;
        let recorded = Recorded::from_metadata(file.model().metadata().unwrap_or(""));
        // What the model records, else (an older digits model) the data set's own shape.
        let classes = recorded.classes.unwrap_or(spec.format.classes).min(arch.outputs);
        let mut report = PredictReport {
            model: file.path.display().to_string(),
            architecture: arch.name(),
            dataset: spec.name,
            source: String::new(),
            seed: None,
            test_fraction: None,
            split_recorded_in_model: None,
            test_samples: None,
            predictions: Vec::new(),
        };
        let mut choice = None;
        let (rows, mut predictions) = match (&self.input, self.sample) {
            (Some(path), _) => {
                report.source = path.display().to_string();
                let bytes = read_input(path)?;
                let samples = match (&recorded.feature_names, spec.kind) {
                    (Some(names), Kind::Csv) => {
                        evaluate::parse_csv_inputs(&bytes, names).map_err(|e| anyhow!("{}: {e}", path.display()))?
                    }
                    (None, Kind::Csv) => bail!(
                        "{}: the model records no column names (it was not trained by host-cli train csv), \
                         so the columns of {} cannot be matched to its inputs",
                        file.path.display(),
                        path.display()
                    ),
                    _ => evaluate::parse_inputs(&bytes, &spec.format)
                        .map_err(|e| anyhow!(e.describe(path, &spec.format)))?,
                };
                let scaling = InputScaling::of(&file, spec)?;
                let rows: Vec<Vec<f32>> = samples.iter().map(|s| scaling.row(&s.raw, arch.inputs)).collect();
                let predictions = samples.into_iter().map(|s| pending(None, None, Some(s.line), None, s.raw)).collect();
                (rows, predictions)
            }
            (None, Some(index)) => {
                let split_choice = evaluate::choose_split(&file, spec, self.seed, self.test_fraction)?;
                if matches!(spec.kind, Kind::Csv) && self.data.is_none() {
                    bail!("--sample of a csv model reads its CSV file: give it with --data FILE");
                }
                let request = self.request(&recorded, split_choice.seed);
                let (table, indices) = evaluate::model_samples(&file, spec, &request, &split_choice)?;
                let count = indices.test.len();
                if index >= count {
                    bail!(
                        "invalid --sample {index}: the test split ({}) has {count} samples, 0 to {}",
                        split_choice.describe(),
                        count.saturating_sub(1)
                    );
                }
                report.source = table.origin().describe();
                report.seed = Some(split_choice.seed);
                report.test_fraction = Some(split_choice.test_fraction);
                report.split_recorded_in_model = Some(split_choice.from_model);
                report.test_samples = Some(count);
                choice = Some(split_choice);
                let sample = indices.test[index];
                let raw = table.raw(sample).into_iter().map(f64::from).collect();
                let label = (!table.is_regression()).then(|| table.class(sample));
                let mut prediction = pending(Some(index), Some(sample + 1), None, label, raw);
                prediction.target = table.is_regression().then(|| f64::from(table.target(sample)));
                (vec![table.row(sample)], vec![prediction])
            }
            (None, None) => bail!("give --sample N or --input FILE.csv"),
        };
        if let Some(targets) = regression_targets(&recorded, &file)? {
            let inputs = Samples {
                features: rows.concat(),
                labels: vec![0; rows.len()],
                feature_count: arch.inputs,
                class_count: 1,
            };
            let outputs = evaluate::with_network(&arch, Outputs { file: &file, source: &inputs })?;
            for (prediction, a) in predictions.iter_mut().zip(outputs) {
                prediction.value = Some(targets.from_network(a));
            }
        } else {
            let probabilities = evaluate::with_network(&arch, Predictor { file: &file, rows: &rows, classes })?;
            for (prediction, p) in predictions.iter_mut().zip(probabilities) {
                prediction.predicted = Some(argmax(&p));
                prediction.probabilities = Some(p);
            }
        }
        report.predictions = predictions;

        let mut out = io::stdout().lock();
        if self.json {
            let line = serde_json::to_string(&report).context("cannot serialise the report")?;
            writeln!(out, "{line}")?;
        } else {
            write_text(&mut out, &report, spec, choice.as_ref())?;
        }
        out.flush()?;
        Ok(())
    }

    /// The samples the model was trained beside, read as it records them.
    fn request(&self, recorded: &Recorded, seed: u64) -> Request {
        let defaults = MoonsOptions::DEFAULT;
        let moons = MoonsOptions {
            samples: recorded.samples.unwrap_or(defaults.samples),
            noise: recorded.noise.unwrap_or(defaults.noise),
            seed,
        };
        let csv = CsvOptions {
            label: recorded.label_column.clone().map_or(LabelColumn::Last, LabelColumn::Named),
            delimiter: recorded.delimiter,
            task: recorded.task.as_deref().and_then(|t| Task::from_str(t, true).ok()).unwrap_or_default(),
            max_samples: recorded.max_samples,
        };
        Request { file: self.data.clone(), max_samples: recorded.max_samples, moons, csv }
    }

    /// --dataset, else the one the model records, else the first the CLI knows (digits).
    fn dataset(&self, file: &ModelFile) -> anyhow::Result<&'static DatasetSpec> {
        let recorded = Recorded::from_metadata(file.model().metadata().unwrap_or("")).dataset;
        let name = self.dataset.clone().or(recorded);
        match name {
            None => Ok(data::DATASETS[0]),
            Some(name) => data::dataset_named(&name).ok_or_else(|| {
                anyhow!(
                    "{}: the model was trained on {name}, which this build does not know (it knows {})",
                    file.path.display(),
                    data::DATASETS.iter().map(|d| d.name).collect::<Vec<_>>().join(", ")
                )
            }),
        }
    }
}

/// How raw values from an input file become the model's inputs: its
/// scaling section (standardised data sets), or the format's divisor.
enum InputScaling {
    Divide(f64),
    Standardise(Vec<f32>, Vec<f32>),
}

impl InputScaling {
    fn of(file: &ModelFile, spec: &DatasetSpec) -> anyhow::Result<Self> {
        let model = file.model();
        match (model.scaling(), spec.standardise) {
            (Some((offset, scale)), true) => {
                Ok(InputScaling::Standardise(offset.iter().collect(), scale.iter().collect()))
            }
            (None, false) => Ok(InputScaling::Divide(spec.format.divisor)),
            (None, true) => bail!(
                "{}: the model records no input scaling, but {} inputs are standardised (host-cli train saves it)",
                file.path.display(),
                spec.name
            ),
            (Some(_), false) => {
                bail!("{}: the model scales its inputs, but {}'s are fixed", file.path.display(), spec.name)
            }
        }
    }

    /// The inputs of one sample, `width` wide (zeros after the values):
    /// computed in `f32` as training computed them.
    fn row(&self, raw: &[f64], width: usize) -> Vec<f32> {
        let mut row = vec![0f32; width];
        for (j, (x, &v)) in row.iter_mut().zip(raw).enumerate() {
            *x = match self {
                InputScaling::Divide(d) => v as f32 / *d as f32,
                InputScaling::Standardise(offset, scale) => (v as f32 - offset[j]) / scale[j],
            };
        }
        row
    }
}

/// The targets' scaling of a regression model (`None` for a classifier).
fn regression_targets(recorded: &Recorded, file: &ModelFile) -> anyhow::Result<Option<TargetScaling>> {
    if recorded.task.as_deref() != Some(Task::Regression.name()) {
        return Ok(None);
    }
    match (recorded.target_offset, recorded.target_scale) {
        (Some(offset), Some(scale)) => Ok(Some(TargetScaling { offset, scale })),
        _ => bail!("{}: the model records no target scaling (target_offset, target_scale)", file.path.display()),
    }
}

fn pending(
    sample: Option<usize>,
    data_row: Option<usize>,
    line: Option<usize>,
    label: Option<usize>,
    raw: Vec<f64>,
) -> Prediction {
    Prediction { sample, data_row, line, label, target: None, value: None, predicted: None, probabilities: None, raw }
}

/// Reads an input file; errors name it.
fn read_input(path: &std::path::Path) -> anyhow::Result<Vec<u8>> {
    let metadata = fs::metadata(path).with_context(|| format!("cannot read input file {}", path.display()))?;
    if metadata.is_dir() {
        bail!("cannot read input file {}: it is a directory", path.display());
    }
    if metadata.len() > MAX_INPUT_BYTES {
        bail!(
            "{}: {} bytes is more than the {} MiB an input file may have",
            path.display(),
            metadata.len(),
            MAX_INPUT_BYTES >> 20
        );
    }
    fs::read(path).with_context(|| format!("cannot read input file {}", path.display()))
}

/// The first class of largest probability.
fn argmax(p: &[f32]) -> usize {
    p.iter().enumerate().fold(0, |best, (k, &v)| if v > p[best] { k } else { best })
}

/// Bar length for a probability of 1.
const BAR: f32 = 30.0;

fn write_text(
    out: &mut impl Write,
    r: &PredictReport,
    spec: &DatasetSpec,
    choice: Option<&SplitChoice>,
) -> io::Result<()> {
    writeln!(out, "model {}: {}", r.model, r.architecture)?;
    for (k, p) in r.predictions.iter().enumerate() {
        if k > 0 {
            writeln!(out)?;
        }
        match (p.sample, choice) {
            (Some(sample), Some(choice)) => writeln!(
                out,
                "{} test sample {sample} of {} ({}; row {} of {})",
                spec.name,
                r.test_samples.unwrap_or(0),
                choice.describe(),
                p.data_row.unwrap_or(0),
                r.source
            )?,
            _ => writeln!(out, "{} line {}", r.source, p.line.unwrap_or(0))?,
        }
        if let Some(rows) = evaluate::picture(&p.raw, spec.format.raw_max).filter(|_| spec.pictures) {
            writeln!(out)?;
            for row in rows {
                writeln!(out, "    {row}")?;
            }
        }
        writeln!(out)?;
        if let Some(value) = p.value {
            write!(out, "predicted value {}", short(value))?;
            match p.target {
                Some(target) => writeln!(out, "; true value {} (error {})", short(target), short(value - target))?,
                None => writeln!(out)?,
            }
            continue;
        }
        let (Some(predicted), Some(probabilities)) = (p.predicted, &p.probabilities) else { continue };
        let confidence = probabilities.get(predicted).copied().unwrap_or(0.0);
        let name = |class: usize| match spec.class_names.get(class) {
            Some(name) => format!("{class} ({name})"),
            None => class.to_string(),
        };
        write!(out, "predicted class {} (probability {:.4})", name(predicted), confidence)?;
        match p.label {
            Some(label) if label == predicted => writeln!(out, "; true class {}: right", name(label))?,
            Some(label) => writeln!(out, "; true class {}: wrong", name(label))?,
            None => writeln!(out)?,
        }
        let width = (0..probabilities.len()).map(|c| name(c).len()).max().unwrap_or(0).max(5);
        writeln!(out, "{:<width$}  probability", "class")?;
        for (class, &probability) in probabilities.iter().enumerate() {
            let bar = "#".repeat((probability.clamp(0.0, 1.0) * BAR).round() as usize);
            let mark = if Some(class) == p.label { " <- true class" } else { "" };
            let tail = format!("{bar}{mark}");
            let gap = if tail.is_empty() { "" } else { "  " };
            writeln!(out, "{:>width$}  {probability:>11.4}{gap}{tail}", name(class))?;
        }
    }
    Ok(())
}
