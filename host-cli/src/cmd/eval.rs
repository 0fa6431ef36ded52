//! `host-cli eval MODEL DATASET [FILE]`: a saved model's accuracy, per-class
//! scores and confusion matrix (or R² and RMSE) on the test split it was
//! trained beside.

use std::io::{self, Write};
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Args;
use host_cli::evaluate::{self, Evaluator, Recorded, Scores, SplitChoice};
use host_cli::modelfile::ModelFile;
use host_cli::regression::{self, Fit, Outputs, TargetScaling};
use host_cli::report::{DataReport, write_matrix};
use serde::Serialize;

use super::args::DataArgs;

/// Evaluate a saved model on a data set's test split.
///
/// The split is the one the model was trained beside, so that none of its
/// test samples are ones it trained on: the seed and test fraction its file
/// records (`host-cli train --out` writes them), or the flags' for a model
/// that records none, read as the model records (a CSV file's columns, the
/// moons' points) and scaled as it was trained. Prints the accuracy, each
/// class's precision, recall and F1 with their macro averages, and the
/// confusion matrix; for a regression model, R², RMSE and MAE.
#[derive(Debug, Args)]
pub struct Cmd {
    /// The model file (as `host-cli train --out FILE` writes it).
    #[arg(value_name = "MODEL")]
    model: PathBuf,

    #[command(flatten)]
    data: DataArgs,

    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,

    /// Draw the confusion matrix to FILE (.png or .svg), the misclassified samples of picture data
    /// (digits, MNIST) to FILE-misclassified.png, the decision boundary of two-feature data to
    /// FILE-boundary.png (or .svg).
    #[arg(long, value_name = "FILE")]
    plot: Option<PathBuf>,
}

/// What `eval` reports, as text or JSON.
#[derive(Debug, Serialize)]
struct EvalReport<'a> {
    model: String,
    architecture: String,
    activation: &'static str,
    parameters: usize,
    dataset: &'static str,
    #[serde(flatten)]
    data: DataReport,
    split: &'static str,
    seed: u64,
    test_fraction: f64,
    split_recorded_in_model: bool,
    train_samples: usize,
    /// Mean cross-entropy over the test samples.
    loss: f64,
    #[serde(flatten)]
    scores: &'a Scores,
    confusion_matrix: &'a [Vec<u32>],
}

/// What `eval` reports of a regression model.
#[derive(Debug, Serialize)]
struct RegressionEvalReport {
    model: String,
    architecture: String,
    activation: &'static str,
    parameters: usize,
    dataset: &'static str,
    #[serde(flatten)]
    data: DataReport,
    split: &'static str,
    seed: u64,
    test_fraction: f64,
    split_recorded_in_model: bool,
    train_samples: usize,
    /// R², RMSE, MAE and loss on the test split.
    #[serde(flatten)]
    fit: Fit,
}

impl Cmd {
    pub fn run(self) -> anyhow::Result<()> {
        let figure = self.plot.as_ref().map(host_cli::plot::Figure::new).transpose()?;
        let file = ModelFile::read(&self.model)?;
        let spec = self.data.dataset;
        let arch = evaluate::architecture_for(&file, spec)?;
        // As `train --resume` reads it: --seed 0, the default, is no --seed.
        let seed = Some(self.data.seed).filter(|&s| s != 0);
        let choice = evaluate::choose_split(&file, spec, seed, self.data.test_fraction)?;
        let recorded = Recorded::from_metadata(file.model().metadata().unwrap_or(""));
        let mut request = self.data.request_for_model(&recorded, &file.path)?;
        request.moons.seed = choice.seed;
        let (table, indices) = evaluate::model_samples(&file, spec, &request, &choice)?;
        let test = indices.test_of(&table);
        if table.is_regression() {
            if figure.is_some() {
                bail!("--plot draws classification models; it does not apply to a regression model");
            }
            let targets = match (recorded.target_offset, recorded.target_scale) {
                (Some(offset), Some(scale)) => TargetScaling { offset, scale },
                _ => {
                    bail!("{}: the model records no target scaling (target_offset, target_scale)", file.path.display())
                }
            };
            let outputs = evaluate::with_network(&arch, Outputs { file: &file, source: &test })?;
            let report = RegressionEvalReport {
                model: file.path.display().to_string(),
                architecture: arch.name(),
                activation: arch.activation.name(),
                parameters: file.model().parameter_count(),
                dataset: spec.name,
                data: DataReport::of(&table, &recorded),
                split: "test",
                seed: choice.seed,
                test_fraction: choice.test_fraction,
                split_recorded_in_model: choice.from_model,
                train_samples: indices.train.len(),
                fit: regression::fit_of_outputs(&outputs, &table, &indices.test, &targets),
            };
            let mut out = io::stdout().lock();
            if self.json {
                writeln!(out, "{}", serde_json::to_string(&report).context("cannot serialise the report")?)?;
            } else {
                let f = &report.fit;
                writeln!(
                    out,
                    "model {}: {} ({} hidden layers), {} parameters",
                    report.model, report.architecture, report.activation, report.parameters
                )?;
                writeln!(out, "{}: {}", report.dataset, report.data.describe())?;
                writeln!(
                    out,
                    "the test split ({}): {} samples; the other {} are the training split",
                    choice.describe(),
                    f.samples,
                    report.train_samples
                )?;
                writeln!(out)?;
                writeln!(out, "R²    {:.4}", f.r2)?;
                writeln!(out, "RMSE  {:.6}", f.rmse)?;
                writeln!(out, "MAE   {:.6}", f.mae)?;
                writeln!(out, "loss  {:.6} (mean quadratic loss, standardised targets)", f.loss)?;
            }
            out.flush()?;
            return Ok(());
        }
        let evaluator = Evaluator { file: &file, source: &test, classes: table.class_count() };
        let measured = evaluate::with_network(&arch, evaluator)?;
        let scores = evaluate::scores(&measured.confusion);
        if let Some(figure) = &figure {
            let written = host_cli::plot::pictures::evaluation(figure, &arch, &file.bytes, &test, &measured.confusion)?;
            if !self.json {
                written.iter().for_each(|path| eprintln!("drew {}", path.display()));
            }
        }
        let report = EvalReport {
            model: file.path.display().to_string(),
            architecture: arch.name(),
            activation: arch.activation.name(),
            parameters: file.model().parameter_count(),
            dataset: spec.name,
            data: DataReport::of(&table, &recorded),
            split: "test",
            seed: choice.seed,
            test_fraction: choice.test_fraction,
            split_recorded_in_model: choice.from_model,
            train_samples: indices.train.len(),
            loss: measured.loss,
            scores: &scores,
            confusion_matrix: &measured.confusion,
        };
        let mut out = io::stdout().lock();
        if self.json {
            let line = serde_json::to_string(&report).context("cannot serialise the report")?;
            writeln!(out, "{line}")?;
        } else {
            write_text(&mut out, &report, &choice)?;
        }
        out.flush()?;
        Ok(())
    }
}

fn write_text(out: &mut impl Write, r: &EvalReport<'_>, choice: &SplitChoice) -> io::Result<()> {
    let s = r.scores;
    writeln!(
        out,
        "model {}: {} ({} hidden layers), {} parameters",
        r.model, r.architecture, r.activation, r.parameters
    )?;
    writeln!(out, "{}: {}", r.dataset, r.data.describe())?;
    writeln!(
        out,
        "the test split ({}): {} samples; the other {} are the training split",
        choice.describe(),
        s.samples,
        r.train_samples
    )?;
    writeln!(out)?;
    writeln!(out, "accuracy  {:.4} ({}/{})", s.accuracy, s.correct, s.samples)?;
    writeln!(out, "loss      {:.4} (mean cross-entropy)", r.loss)?;
    writeln!(out)?;
    evaluate::write_scores(out, s)?;
    writeln!(out)?;
    writeln!(out, "confusion matrix on the test split (rows: actual, columns: predicted)")?;
    write_matrix(out, r.confusion_matrix)
}
