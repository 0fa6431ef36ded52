//! What a training run reports: one JSON object, or text for a person.

use std::fmt;
use std::io::{self, Write};

use mlp_core::Init;
use mlp_core::schedule::{Schedule, Shape};
use serde::Serialize;

use crate::arch::Architecture;
use crate::data::{Table, Task};
use crate::evaluate::Recorded;
use crate::fullbatch;
use crate::optim::AnyOptimizer;
use crate::regression::{Fit, RegressionEpoch, RegressionOutcome, TargetScaling};
use crate::run::{EpochRecord, Outcome, RunOptions};

/// Everything a training run reports; serialised as the `--json` line.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TrainReport {
    /// Data set name.
    pub dataset: String,
    /// Where the samples came from and what they are.
    #[serde(flatten)]
    pub data: DataReport,
    /// Layer widths, e.g. `64-32-10`.
    pub architecture: String,
    /// Hidden-layer activation.
    pub activation: String,
    /// Weight initialiser.
    pub init: String,
    /// Epochs trained (full-batch methods: iterations run).
    pub epochs: u32,
    /// Samples per optimizer step.
    pub batch_size: usize,
    /// The update rule and its hyperparameters.
    pub optimizer: OptimizerReport,
    /// The learning rate of each epoch; none for the full-batch methods,
    /// whose line search chooses each step.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule: Option<ScheduleReport>,
    /// L2 penalty.
    pub l2: f64,
    /// L1 penalty.
    pub l1: f64,
    /// Global gradient-norm clip (0: none).
    pub clip_norm: f64,
    /// Dropout rate of each hidden layer, first to last; left out without dropout.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dropout: Option<Vec<f64>>,
    /// Seed of split, initialisation and shuffles.
    pub seed: u64,
    /// Fraction of each class held out; none when the data set has its own split (MNIST).
    pub test_fraction: Option<f64>,
    /// Training samples.
    pub train_samples: usize,
    /// Training samples held out for validation (`--validation`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validation_samples: Option<usize>,
    /// With early stopping: the epoch whose weights were kept (the lowest validation loss).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub best_epoch: Option<u32>,
    /// Test samples.
    pub test_samples: usize,
    /// Trainable parameters.
    pub parameters: usize,
    /// Final network on the training set.
    pub train_accuracy: f64,
    /// Final network on the test set.
    pub test_accuracy: f64,
    /// Final network's mean loss on the training set.
    pub train_loss: f64,
    /// Final network's mean loss on the test set.
    pub test_loss: f64,
    /// Mean training loss of the last epoch (as in `history`).
    pub final_loss: f64,
    /// Seconds in the training epochs alone (not loading, not evaluation).
    pub train_seconds: f64,
    /// The vector unit the training loop ran on (see [`crate::accel`]).
    pub vector_unit: &'static str,
    /// `confusion_matrix[actual][predicted]` on the test set.
    pub confusion_matrix: Vec<Vec<u32>>,
    /// One record per epoch.
    pub history: Vec<EpochRecord>,
}

/// What a report says of the samples: where they came from (`data_file`:
/// `built-in digits (…)`, a path, or what was generated) and their shape.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DataReport {
    /// Where the samples were read from.
    pub data_file: String,
    /// `classification` or `regression`.
    pub task: &'static str,
    /// Features per sample.
    pub features: usize,
    /// Classes of the data (the network may have more outputs, which never
    /// win); 0 for regression.
    pub classes: usize,
    /// Inputs of the network: the features, then zeros.
    pub inputs: usize,
    /// A CSV file's label column.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label_column: Option<String>,
    /// A CSV file's feature columns.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub feature_columns: Option<Vec<String>>,
    /// `--max-samples`, when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_samples: Option<usize>,
    /// Whether the source held more samples than `--max-samples` let in.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
}

impl DataReport {
    /// The report of `table`, read as `recorded` says.
    pub fn of(table: &Table, recorded: &Recorded) -> Self {
        DataReport {
            data_file: table.origin().describe(),
            task: if table.is_regression() { Task::Regression.name() } else { Task::Classification.name() },
            features: table.features(),
            classes: table.class_count(),
            inputs: table.inputs(),
            label_column: table.columns().map(|c| c.label.clone()),
            feature_columns: table.columns().map(|c| c.features.clone()),
            max_samples: recorded.max_samples,
            truncated: table.truncated(),
        }
    }

    /// One line for a person: "built-in iris (…), 4 features, 3 classes".
    pub fn describe(&self) -> String {
        let mut text = format!("{}, {} features", self.data_file, self.features);
        match (&self.label_column, self.task == Task::Regression.name()) {
            (Some(label), true) => text += &format!(" and target column {label:?} (regression)"),
            (Some(label), false) => text += &format!(" and label column {label:?}, {} classes", self.classes),
            (None, _) => text += &format!(", {} classes", self.classes),
        }
        if self.inputs > self.features {
            text += &format!(" (a {}-input network: the other inputs are zeros)", self.inputs);
        }
        if let Some(max) = self.max_samples {
            let what = if self.truncated { "the first" } else { "all, at most" };
            text += &format!("; {what} {max} samples");
        }
        text
    }
}

/// An optimizer in the report: `{"name": "adam", "beta1": 0.9, …}`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(tag = "name", rename_all = "lowercase")]
pub enum OptimizerReport {
    /// Plain SGD.
    Sgd,
    /// Classical momentum.
    Momentum {
        /// μ.
        momentum: f64,
    },
    /// Nesterov momentum.
    Nesterov {
        /// μ.
        momentum: f64,
    },
    /// Adagrad.
    Adagrad {
        /// ε.
        eps: f64,
    },
    /// RMSprop.
    RmsProp {
        /// ρ.
        rho: f64,
        /// ε.
        eps: f64,
    },
    /// Adam.
    Adam {
        /// β1.
        beta1: f64,
        /// β2.
        beta2: f64,
        /// ε.
        eps: f64,
    },
    /// AdamW.
    AdamW {
        /// β1.
        beta1: f64,
        /// β2.
        beta2: f64,
        /// ε.
        eps: f64,
        /// Decoupled weight decay λ.
        weight_decay: f64,
    },
    /// L-BFGS over the whole training set.
    Lbfgs {
        /// The corrections kept.
        history: usize,
        /// `--line-search`.
        line_search: &'static str,
        /// Evaluations of loss and gradient.
        evaluations: u64,
        /// Why it stopped.
        stopped: &'static str,
    },
    /// Nonlinear conjugate gradient (Polak–Ribière+) over the whole training set.
    Cg {
        /// `--line-search`.
        line_search: &'static str,
        /// Evaluations of loss and gradient.
        evaluations: u64,
        /// Why it stopped.
        stopped: &'static str,
    },
}

impl From<AnyOptimizer> for OptimizerReport {
    fn from(optimizer: AnyOptimizer) -> Self {
        match optimizer {
            AnyOptimizer::Sgd(_) => OptimizerReport::Sgd,
            AnyOptimizer::Momentum(o) => OptimizerReport::Momentum { momentum: o.momentum },
            AnyOptimizer::Nesterov(o) => OptimizerReport::Nesterov { momentum: o.momentum },
            AnyOptimizer::Adagrad(o) => OptimizerReport::Adagrad { eps: o.eps },
            AnyOptimizer::RmsProp(o) => OptimizerReport::RmsProp { rho: o.rho, eps: o.eps },
            AnyOptimizer::Adam(o) => OptimizerReport::Adam { beta1: o.beta1, beta2: o.beta2, eps: o.eps },
            AnyOptimizer::AdamW(o) => {
                OptimizerReport::AdamW { beta1: o.beta1, beta2: o.beta2, eps: o.eps, weight_decay: o.weight_decay }
            }
        }
    }
}

/// A schedule's shape in the report, named as `--schedule` takes it.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(tag = "name", rename_all = "kebab-case")]
pub enum ShapeReport {
    /// The base rate throughout.
    Constant,
    /// `lr / (1 + decay·t)`.
    InverseTime {
        /// d.
        decay: f64,
    },
    /// `lr · gamma^⌊t / every⌋`.
    Step {
        /// Epochs between cuts.
        every: u32,
        /// Factor per cut.
        gamma: f64,
    },
    /// `lr · gamma^t`.
    Exp {
        /// Factor per epoch.
        gamma: f64,
    },
    /// Half a cosine from `lr` to `min_lr`.
    Cosine {
        /// The final rate.
        min_lr: f64,
    },
}

/// A schedule in the report: `{"name": "step", "lr": 0.1, "every": 30, "gamma": 0.1, "warmup": 0}`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct ScheduleReport {
    /// The shape, with its name.
    #[serde(flatten)]
    pub shape: ShapeReport,
    /// The base learning rate.
    pub lr: f64,
    /// Epochs of linear warm-up.
    pub warmup: u32,
}

impl From<Schedule> for ScheduleReport {
    fn from(schedule: Schedule) -> Self {
        let shape = match schedule.shape {
            Shape::Constant => ShapeReport::Constant,
            Shape::InverseTime { decay } => ShapeReport::InverseTime { decay },
            Shape::Step { every, gamma } => ShapeReport::Step { every, gamma },
            Shape::Exponential { gamma } => ShapeReport::Exp { gamma },
            Shape::Cosine { min_lr } => ShapeReport::Cosine { min_lr },
        };
        ScheduleReport { shape, lr: schedule.lr, warmup: schedule.warmup }
    }
}

impl fmt::Display for OptimizerReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = |v: f64| number(v);
        match *self {
            OptimizerReport::Sgd => write!(f, "sgd"),
            OptimizerReport::Momentum { momentum } => write!(f, "momentum {}", n(momentum)),
            OptimizerReport::Nesterov { momentum } => write!(f, "nesterov momentum {}", n(momentum)),
            OptimizerReport::Adagrad { eps } => write!(f, "adagrad (eps {})", n(eps)),
            OptimizerReport::RmsProp { rho, eps } => write!(f, "rmsprop (rho {}, eps {})", n(rho), n(eps)),
            OptimizerReport::Adam { beta1, beta2, eps } => {
                write!(f, "adam (beta1 {}, beta2 {}, eps {})", n(beta1), n(beta2), n(eps))
            }
            OptimizerReport::AdamW { beta1, beta2, eps, weight_decay } => write!(
                f,
                "adamw (beta1 {}, beta2 {}, eps {}, weight decay {})",
                n(beta1),
                n(beta2),
                n(eps),
                n(weight_decay)
            ),
            OptimizerReport::Lbfgs { history, line_search, evaluations, stopped } => {
                write!(f, "lbfgs (history {history}, {line_search} line search; {evaluations} evaluations, {stopped})")
            }
            OptimizerReport::Cg { line_search, evaluations, stopped } => {
                write!(f, "cg (polak-ribiere+, {line_search} line search; {evaluations} evaluations, {stopped})")
            }
        }
    }
}

impl fmt::Display for ScheduleReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "lr {}", number(self.lr))?;
        match self.shape {
            ShapeReport::Constant => {}
            ShapeReport::InverseTime { decay } => write!(f, " with inverse-time decay {}", number(decay))?,
            ShapeReport::Step { every, gamma } => write!(f, " times {} every {every} epochs", number(gamma))?,
            ShapeReport::Exp { gamma } => write!(f, " times {} per epoch", number(gamma))?,
            ShapeReport::Cosine { min_lr } => write!(f, " along a cosine to {}", number(min_lr))?,
        }
        if self.warmup > 0 {
            write!(f, " after {} warm-up epochs", self.warmup)?;
        }
        Ok(())
    }
}

/// Kebab-case name of an initialiser, as the `--init` flag spells it.
pub fn init_name(init: Init) -> String {
    match init {
        Init::Uniform(a) => format!("uniform({a})"),
        Init::GlorotUniform => "glorot-uniform".into(),
        Init::GlorotNormal => "glorot-normal".into(),
        Init::HeUniform => "he-uniform".into(),
        Init::HeNormal => "he-normal".into(),
        Init::LecunNormal => "lecun-normal".into(),
    }
}

/// Each hidden layer's dropout rate, or `None` without dropout.
fn dropout_rates(dropout: &mlp_core::dropout::Dropout, hidden_layers: usize) -> Option<Vec<f64>> {
    (!dropout.is_none()).then(|| (0..hidden_layers).map(|l| dropout.rate(l)).collect())
}

impl TrainReport {
    /// The report of a finished run.
    pub fn new(
        dataset: &str,
        data: DataReport,
        arch: &Architecture,
        options: &RunOptions,
        test_fraction: Option<f64>,
        outcome: &Outcome,
    ) -> Self {
        let train = &options.train;
        TrainReport {
            dataset: dataset.to_owned(),
            data,
            architecture: arch.name(),
            activation: arch.activation.name().to_owned(),
            init: init_name(options.init),
            epochs: options.train.epochs,
            batch_size: options.train.batch_size,
            optimizer: train.optimizer.into(),
            schedule: Some(train.schedule.into()),
            l2: train.l2,
            l1: train.l1,
            clip_norm: train.clip_norm,
            dropout: dropout_rates(&train.dropout, arch.hidden.len()),
            seed: options.seed,
            test_fraction,
            train_samples: outcome.train.samples,
            validation_samples: None,
            best_epoch: None,
            test_samples: outcome.test.samples,
            parameters: outcome.parameters,
            train_accuracy: crate::run::accuracy(&outcome.train),
            test_accuracy: crate::run::accuracy(&outcome.test),
            train_loss: f64::from(outcome.train.loss),
            test_loss: f64::from(outcome.test.loss),
            final_loss: outcome.final_loss(),
            train_seconds: outcome.train_time.as_secs_f64(),
            vector_unit: crate::accel::vector_unit().name(),
            confusion_matrix: outcome.confusion.clone(),
            history: outcome.history.clone(),
        }
    }

    /// Reports a full-batch run: its method and how it went instead of the
    /// first-order settings, the training set as the batch, and the
    /// iterations it ran as its epochs.
    pub fn full_batch(&mut self, settings: fullbatch::Settings, evaluations: u64, stop: fullbatch::Stop) {
        let (line_search, stopped) = (settings.line_search.name(), stop.describe());
        self.optimizer = match settings.method {
            fullbatch::Method::Lbfgs => {
                OptimizerReport::Lbfgs { history: settings.history, line_search, evaluations, stopped }
            }
            fullbatch::Method::Cg => OptimizerReport::Cg { line_search, evaluations, stopped },
        };
        self.schedule = None;
        self.batch_size = self.train_samples;
        self.epochs = self.history.len() as u32;
    }

    /// The report as text for a person.
    pub fn write_human(&self, out: &mut impl Write) -> io::Result<()> {
        let count = |accuracy: f64, samples: usize| (accuracy * samples as f64).round() as usize;
        writeln!(out, "{}: {}", self.dataset, self.data.describe())?;
        write!(
            out,
            "{} {} ({} parameters, {} init), {} training",
            self.architecture, self.activation, self.parameters, self.init, self.train_samples
        )?;
        if let Some(validation) = self.validation_samples {
            write!(out, ", {validation} validation")?;
        }
        writeln!(out, " and {} test samples", self.test_samples)?;
        match &self.schedule {
            Some(schedule) => write!(
                out,
                "epochs {}, batch size {}, {}, {schedule}, l2 {}",
                self.epochs,
                self.batch_size,
                self.optimizer,
                number(self.l2)
            )?,
            None => write!(out, "iterations {}, full batch, {}, l2 {}", self.epochs, self.optimizer, number(self.l2))?,
        }
        if self.l1 != 0.0 {
            write!(out, ", l1 {}", number(self.l1))?;
        }
        if self.clip_norm != 0.0 {
            write!(out, ", clip norm {}", number(self.clip_norm))?;
        }
        if let Some(rates) = &self.dropout {
            let rates: Vec<String> = rates.iter().map(|&p| number(p)).collect();
            write!(out, ", dropout {}", rates.join(","))?;
        }
        match self.test_fraction {
            Some(fraction) => writeln!(out, ", seed {}, test fraction {fraction}", self.seed)?,
            None => writeln!(out, ", seed {}, the data set's own test set", self.seed)?,
        }
        writeln!(out)?;
        writeln!(
            out,
            "test accuracy   {:.4} ({}/{})",
            self.test_accuracy,
            count(self.test_accuracy, self.test_samples),
            self.test_samples
        )?;
        writeln!(
            out,
            "train accuracy  {:.4} ({}/{})",
            self.train_accuracy,
            count(self.train_accuracy, self.train_samples),
            self.train_samples
        )?;
        // The kept weights' epoch: the best one with early stopping, else the last.
        let kept = match self.best_epoch {
            Some(best) => self.history.iter().find(|r| r.epoch == best),
            None => self.history.last(),
        };
        if let Some(last) = kept
            && let (Some(accuracy), Some(samples)) = (last.validation_accuracy, self.validation_samples)
        {
            writeln!(out, "validation      {accuracy:.4} ({}/{samples})", count(accuracy, samples))?;
        }
        writeln!(out, "final loss      {:.6} (mean training loss of the last epoch)", self.final_loss)?;
        if let Some(best) = self.best_epoch {
            let ran = self.history.last().map_or(0, |r| r.epoch);
            writeln!(out, "early stopping  kept epoch {best} (lowest validation loss) after {ran} epochs")?;
        }
        let per_epoch = self.train_seconds / f64::from(self.epochs.max(1));
        let epoch = if self.schedule.is_some() { "epoch" } else { "iteration" };
        writeln!(
            out,
            "train time      {:.3} s ({:.2} ms per {epoch}, {})",
            self.train_seconds,
            per_epoch * 1e3,
            self.vector_unit
        )?;
        writeln!(out)?;
        writeln!(out, "confusion matrix on the test set (rows: actual, columns: predicted)")?;
        write_matrix(out, &self.confusion_matrix)
    }
}

/// What a regression run reports; serialised as the `--json` line.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RegressionReport {
    /// Data set name (`csv`).
    pub dataset: String,
    /// Where the samples came from and what they are.
    #[serde(flatten)]
    pub data: DataReport,
    /// Layer widths.
    pub architecture: String,
    /// Hidden-layer activation.
    pub activation: String,
    /// Weight initialiser.
    pub init: String,
    /// Epochs trained.
    pub epochs: u32,
    /// Samples per optimizer step.
    pub batch_size: usize,
    /// The update rule and its hyperparameters.
    pub optimizer: OptimizerReport,
    /// The learning rate of each epoch.
    pub schedule: ScheduleReport,
    /// L2 penalty.
    pub l2: f64,
    /// L1 penalty.
    pub l1: f64,
    /// Global gradient-norm clip (0: none).
    pub clip_norm: f64,
    /// Seed of split, initialisation and shuffles.
    pub seed: u64,
    /// Fraction held out.
    pub test_fraction: f64,
    /// Training samples.
    pub train_samples: usize,
    /// Test samples.
    pub test_samples: usize,
    /// Trainable parameters.
    pub parameters: usize,
    /// The training targets' mean, added back to the network's output.
    pub target_mean: f64,
    /// Their standard deviation, which the network's output is multiplied by.
    pub target_std: f64,
    /// Final network on the training set, in the target's units.
    pub train: Fit,
    /// Final network on the test set, in the target's units.
    pub test: Fit,
    /// Test R² (as `test.r2`, at the top level for scripts).
    pub test_r2: f64,
    /// Test RMSE (as `test.rmse`).
    pub test_rmse: f64,
    /// Mean training loss of the last epoch.
    pub final_loss: f64,
    /// Seconds in the training epochs alone.
    pub train_seconds: f64,
    /// One record per epoch.
    pub history: Vec<RegressionEpoch>,
}

impl RegressionReport {
    /// The report of a finished regression run.
    pub fn new(
        data: DataReport,
        arch: &Architecture,
        options: &RunOptions,
        test_fraction: f64,
        targets: TargetScaling,
        outcome: &RegressionOutcome,
    ) -> Self {
        let train = &options.train;
        RegressionReport {
            dataset: "csv".to_owned(),
            data,
            architecture: arch.name(),
            activation: arch.activation.name().to_owned(),
            init: init_name(options.init),
            epochs: train.epochs,
            batch_size: train.batch_size,
            optimizer: train.optimizer.into(),
            schedule: train.schedule.into(),
            l2: train.l2,
            l1: train.l1,
            clip_norm: train.clip_norm,
            seed: options.seed,
            test_fraction,
            train_samples: outcome.train.samples,
            test_samples: outcome.test.samples,
            parameters: outcome.parameters,
            target_mean: targets.offset,
            target_std: targets.scale,
            train: outcome.train,
            test: outcome.test,
            test_r2: outcome.test.r2,
            test_rmse: outcome.test.rmse,
            final_loss: outcome.history.last().map_or(f64::NAN, |r| r.loss),
            train_seconds: outcome.train_time.as_secs_f64(),
            history: outcome.history.clone(),
        }
    }

    /// The report as text for a person.
    pub fn write_human(&self, out: &mut impl Write) -> io::Result<()> {
        writeln!(out, "{}: {}", self.dataset, self.data.describe())?;
        writeln!(
            out,
            "{} {} ({} parameters, {} init; the first output predicts, standardised: mean {}, deviation {}), \
             {} training and {} test samples",
            self.architecture,
            self.activation,
            self.parameters,
            self.init,
            short(self.target_mean),
            short(self.target_std),
            self.train_samples,
            self.test_samples
        )?;
        writeln!(
            out,
            "epochs {}, batch size {}, {}, {}, l2 {}, seed {}, test fraction {}",
            self.epochs,
            self.batch_size,
            self.optimizer,
            self.schedule,
            number(self.l2),
            self.seed,
            self.test_fraction
        )?;
        writeln!(out)?;
        writeln!(out, "{:<6} {:>12} {:>12} {:>12}", "", "R²", "RMSE", "MAE")?;
        for (name, fit) in [("test", &self.test), ("train", &self.train)] {
            writeln!(out, "{name:<6} {:>12.4} {:>12.6} {:>12.6}", fit.r2, fit.rmse, fit.mae)?;
        }
        writeln!(out)?;
        writeln!(
            out,
            "final loss      {:.6} (mean training loss of the last epoch, standardised targets)",
            self.final_loss
        )?;
        writeln!(out, "train time      {:.3} s", self.train_seconds)
    }
}

/// A hyperparameter as a person would write it: the shortest exact form,
/// with an exponent when tiny or huge (`1e-50`, not fifty zeros), and no
/// trailing `.0` (`1`, not `1.0`).
pub fn number(value: f64) -> String {
    let text = format!("{value:?}");
    match text.strip_suffix(".0") {
        Some(integer) => integer.to_owned(),
        None => text,
    }
}

/// A measured value for a person: six decimals with trailing zeros dropped
/// (`973.499992`, `-37.113414`, `2`), or six significant digits with an
/// exponent when it is tiny or huge.
pub fn short(value: f64) -> String {
    if value != 0.0 && !(1e-3..1e12).contains(&value.abs()) {
        return format!("{value:.5e}");
    }
    let text = format!("{value:.6}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" { "0".to_owned() } else { text.to_owned() }
}

/// Writes a square count matrix with class numbers along both edges, right-aligned.
pub fn write_matrix(out: &mut impl Write, matrix: &[Vec<u32>]) -> io::Result<()> {
    let classes = matrix.len();
    let largest = matrix.iter().flatten().copied().max().unwrap_or(0);
    let width = largest.to_string().len().max(classes.saturating_sub(1).to_string().len()) + 2;
    let label = classes.saturating_sub(1).to_string().len();
    write!(out, "{:label$}", "")?;
    for class in 0..classes {
        write!(out, "{class:>width$}")?;
    }
    writeln!(out)?;
    for (class, row) in matrix.iter().enumerate() {
        write!(out, "{class:>label$}")?;
        for count in row {
            write!(out, "{count:>width$}")?;
        }
        writeln!(out)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_as_typed() {
        let shown: Vec<String> = [0.1, 1.0, -1.0, 1e6, 1e-50, 2.5e20, f64::NAN, f64::INFINITY].map(number).into();
        assert_eq!(shown, ["0.1", "1", "-1", "1000000", "1e-50", "2.5e20", "NaN", "inf"]);
    }

    #[test]
    fn measured_values_read_short() {
        let shown: Vec<String> = [973.4999923261348, -37.11341383403101, 2.0, 0.0, -1e-9, 2.5e13].map(short).into();
        assert_eq!(shown, ["973.499992", "-37.113414", "2", "0", "-1.00000e-9", "2.50000e13"]);
    }

    #[test]
    fn matrix_is_aligned() {
        let mut out = Vec::new();
        write_matrix(&mut out, &[vec![120, 3], vec![0, 7]]).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text, "     0    1\n0  120    3\n1    0    7\n");
    }
}
