//! `host-cli predict MODEL --sample N | --input FILE.csv`: a saved model's
//! class and class probabilities for single samples.

use std::fs;
use std::io::{self, Write};
use std::path::PathBuf;

use anyhow::{Context, anyhow, bail};
use clap::Args;
use clap::builder::PossibleValuesParser;
use host_cli::data::{self, DatasetSpec};
use host_cli::evaluate::{self, Predictor, Recorded, SplitChoice};
use host_cli::modelfile::ModelFile;
use host_cli::split;
use serde::Serialize;

/// Input files larger than this are refused before reading (a digits
/// sample is under 200 bytes a line): a wrong path fails fast.
const MAX_INPUT_BYTES: u64 = 64 << 20;

/// Predict the class of samples with a saved model.
///
/// Either one sample of the data set's test split (the split the model
/// records, as `eval` uses it) with its true class, or every line of a CSV
/// file. Prints the predicted class and every class's probability (softmax),
/// and, for 8×8 digits, the picture.
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
    /// without a label, comma-separated (digits: 64 pixels, 0–16, row by row);
    /// an optional header line.
    #[arg(long, value_name = "FILE.csv", conflicts_with_all = ["seed", "test_fraction", "data"])]
    input: Option<PathBuf>,

    /// The data set the model was trained on [default: the one it records, else digits].
    #[arg(long, value_name = "NAME", value_parser = PossibleValuesParser::new(data::DATASETS.iter().map(|d| d.name)))]
    dataset: Option<String>,

    /// With --sample: read the samples from this file instead of the data set's file in fixtures/.
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
    predicted: usize,
    probabilities: Vec<f32>,
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
                let samples = evaluate::parse_inputs(&bytes, &spec.format)
                    .map_err(|e| anyhow!(e.describe(path, &spec.format)))?;
                let rows: Vec<Vec<f32>> = samples.iter().map(|s| s.scaled.clone()).collect();
                let predictions = samples.into_iter().map(|s| pending(None, None, Some(s.line), None, s.raw)).collect();
                (rows, predictions)
            }
            (None, Some(index)) => {
                let split_choice = evaluate::choose_split(&file, spec, self.seed, self.test_fraction)?;
                let data_file = match &self.data {
                    Some(path) => path.clone(),
                    None => spec.locate()?,
                };
                let samples = data::load_csv(&data_file, &spec.format)?;
                let split =
                    split::stratified_split(&samples, split_choice.test_fraction, split_choice.seed).map_err(|e| {
                        anyhow!("{}: cannot split it ({}): {e}", data_file.display(), split_choice.describe())
                    })?;
                let count = split.test.len();
                if index >= count {
                    bail!(
                        "invalid --sample {index}: the test split ({}) has {count} samples, 0 to {}",
                        split_choice.describe(),
                        count.saturating_sub(1)
                    );
                }
                report.source = data_file.display().to_string();
                report.seed = Some(split_choice.seed);
                report.test_fraction = Some(split_choice.test_fraction);
                report.split_recorded_in_model = Some(split_choice.from_model);
                report.test_samples = Some(count);
                choice = Some(split_choice);
                let row = split.test.row(index).to_vec();
                let raw = row.iter().map(|&v| f64::from(v) * spec.format.divisor).collect();
                let label = split.test.labels[index];
                let prediction = pending(Some(index), Some(split.test_indices[index] + 1), None, Some(label), raw);
                (vec![row], vec![prediction])
            }
            (None, None) => bail!("give --sample N or --input FILE.csv"),
        };
        let probabilities = evaluate::with_network(&arch, Predictor { file: &file, rows: &rows })?;
        for (prediction, p) in predictions.iter_mut().zip(probabilities) {
            prediction.predicted = argmax(&p);
            prediction.probabilities = p;
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

fn pending(
    sample: Option<usize>,
    data_row: Option<usize>,
    line: Option<usize>,
    label: Option<usize>,
    raw: Vec<f64>,
) -> Prediction {
    Prediction { sample, data_row, line, label, predicted: 0, probabilities: Vec::new(), raw }
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
        if let Some(rows) = evaluate::picture(&p.raw, spec.format.raw_max) {
            writeln!(out)?;
            for row in rows {
                writeln!(out, "    {row}")?;
            }
        }
        writeln!(out)?;
        let confidence = p.probabilities.get(p.predicted).copied().unwrap_or(0.0);
        write!(out, "predicted class {} (probability {:.4})", p.predicted, confidence)?;
        match p.label {
            Some(label) if label == p.predicted => writeln!(out, "; true class {label}: right")?,
            Some(label) => writeln!(out, "; true class {label}: wrong")?,
            None => writeln!(out)?,
        }
        writeln!(out, "class  probability")?;
        for (class, &probability) in p.probabilities.iter().enumerate() {
            let bar = "#".repeat((probability.clamp(0.0, 1.0) * BAR).round() as usize);
            let mark = if Some(class) == p.label { " <- true class" } else { "" };
            let tail = format!("{bar}{mark}");
            let gap = if tail.is_empty() { "" } else { "  " };
            writeln!(out, "{class:>5}  {probability:>11.4}{gap}{tail}")?;
        }
    }
    Ok(())
}
