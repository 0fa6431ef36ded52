//! `host-cli eval MODEL DATASET`: a saved model's accuracy, per-class scores
//! and confusion matrix on the test split it was trained beside.

use std::io::{self, Write};
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use host_cli::evaluate::{self, Evaluator, Recorded, Scores, SplitChoice};
use host_cli::modelfile::ModelFile;
use host_cli::report::{DataReport, write_matrix};
use serde::Serialize;

use super::args::DataArgs;

/// Evaluate a saved model on a data set's test split.
///
/// The split is the one the model was trained beside, so that none of its
/// test samples are ones it trained on: the seed and test fraction its file
/// records (`host-cli train --out` writes them), or the flags' for a model
/// that records none. Prints the accuracy, each class's precision, recall and
/// F1 with their macro averages, and the confusion matrix.
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

impl Cmd {
    pub fn run(self) -> anyhow::Result<()> {
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
        let evaluator = Evaluator { file: &file, source: &test, classes: table.class_count() };
        let measured = evaluate::with_network(&arch, evaluator)?;
        let scores = evaluate::scores(&measured.confusion);
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
