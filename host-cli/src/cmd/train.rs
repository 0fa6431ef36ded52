//! `host-cli train DATASET`: train a network and report its test accuracy.

use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;

use anyhow::{Context, anyhow, bail};
use clap::{ArgAction, Args, ValueEnum};
use host_cli::arch::{self, Architecture, HiddenActivation};
use host_cli::data::{self, DatasetSpec};
use host_cli::optim::AnyOptimizer;
use host_cli::report::{TrainReport, number};
use host_cli::run::{EpochRecord, Outcome, RunOptions, Trainer};
use host_cli::split::{self, SplitError};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use mlp_core::optim::{Momentum, Nesterov, Sgd};
use mlp_core::schedule::{Schedule, Shape};
use mlp_core::{Error, Hyperparameter, Init, TrainConfig};

/// Train a network on a data set and report its accuracy on held-out samples.
///
/// The data set is split per class into training and test samples from the
/// seed; the same seed and flags give the same numbers on every run. Flags
/// left out take the data set's defaults (shown as [digits: …]).
#[derive(Debug, Args)]
pub struct Cmd {
    /// The data set.
    #[arg(value_enum)]
    dataset: DatasetName,

    /// Hidden-layer sizes, first to last, comma-separated: 32 or 64,32 [digits: 128].
    #[arg(long, value_name = "SIZES", value_delimiter = ',', value_parser = parse_layer_size,
          action = ArgAction::Set, allow_negative_numbers = true)]
    hidden: Option<Vec<usize>>,

    /// Activation of the hidden layers (the output layer gives logits for softmax cross-entropy).
    #[arg(long, value_enum, default_value_t = HiddenActivation::Relu)]
    activation: HiddenActivation,

    /// Weight initialiser; auto is he-uniform for relu and leaky-relu, glorot-uniform for sigmoid and tanh.
    #[arg(long, value_enum, default_value_t = InitName::Auto)]
    init: InitName,

    /// Passes over the training set [digits: 100].
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    epochs: Option<u64>,

    /// Samples per optimizer step, at most the number of training samples [digits: 32].
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    batch_size: Option<usize>,

    /// Learning rate, positive [digits: 0.1].
    #[arg(long, value_name = "RATE", allow_negative_numbers = true)]
    lr: Option<f64>,

    /// Momentum, in [0, 1) [digits: 0.9].
    #[arg(long, value_name = "MU", allow_negative_numbers = true)]
    momentum: Option<f64>,

    /// Nesterov's accelerated gradient instead of classical momentum.
    #[arg(long)]
    nesterov: bool,

    /// L2 penalty on weights, scikit-learn scaling: gradient += l2·W/batch [digits: 1e-3].
    #[arg(long, value_name = "LAMBDA", allow_negative_numbers = true)]
    l2: Option<f64>,

    /// L1 penalty on weights: gradient += l1·sign(W)/batch.
    #[arg(long, value_name = "LAMBDA", allow_negative_numbers = true, default_value_t = 0.0)]
    l1: f64,

    /// Inverse-time decay: in epoch t (from 0) the learning rate is lr / (1 + decay·t) [digits: 0].
    #[arg(long, value_name = "D", allow_negative_numbers = true)]
    decay: Option<f64>,

    /// Seed of the split, the initial weights and the shuffles.
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    seed: u64,

    /// Fraction of each class held out for testing, in (0, 1) [digits: 0.2].
    #[arg(long, value_name = "FRACTION", allow_negative_numbers = true)]
    test_fraction: Option<f64>,

    /// Draw no progress bar (none is drawn when stdout is not a terminal either).
    #[arg(long, short)]
    quiet: bool,

    /// Print one JSON object with the settings, results and per-epoch history instead of text.
    #[arg(long)]
    json: bool,

    /// Read the samples from this file instead of the data set's file in fixtures/.
    #[arg(long, value_name = "PATH")]
    data: Option<PathBuf>,
}

/// The data sets the CLI knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum DatasetName {
    /// 8×8 handwritten digits (1797 samples, 64 pixels, 10 classes).
    Digits,
}

impl DatasetName {
    fn spec(self) -> &'static DatasetSpec {
        match self {
            DatasetName::Digits => &data::DIGITS,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum InitName {
    /// he-uniform for relu and leaky-relu, glorot-uniform for sigmoid and tanh.
    Auto,
    HeUniform,
    HeNormal,
    GlorotUniform,
    GlorotNormal,
    LecunNormal,
}

/// Flags after defaults and validation: everything a run needs except the data.
struct Plan {
    spec: &'static DatasetSpec,
    arch: Architecture,
    options: RunOptions,
    test_fraction: f64,
}

impl Cmd {
    pub fn run(self) -> anyhow::Result<()> {
        let plan = self.plan()?;
        let data_file = match &self.data {
            Some(path) => path.clone(),
            None => plan.spec.locate()?,
        };
        let samples = data::load_csv(&data_file, &plan.spec.format)?;
        let split = split::stratified_split(&samples, plan.test_fraction, plan.options.seed)
            .map_err(|e| test_fraction_error(plan.test_fraction, &e))?;
        let (batch_size, train_samples) = (plan.options.train.batch_size, split.train.len());
        if batch_size > train_samples {
            bail!(
                "invalid --batch-size {batch_size}: larger than the {train_samples} training samples \
                 (use at most {train_samples}, which takes one step per epoch)"
            );
        }

        let bar = self.progress_bar(plan.options.train.epochs);
        let on_epoch = |record: &EpochRecord| {
            // The epoch number is part of the message, so it always matches the figures beside it.
            bar.set_message(format!(
                "epoch {}/{}  loss {:.4}  train {:.4}  test {:.4}",
                record.epoch, plan.options.train.epochs, record.loss, record.train_accuracy, record.test_accuracy
            ));
            bar.inc(1);
        };
        let trainer = Trainer { split: &split, options: &plan.options, on_epoch };
        let result = arch::with_network(&plan.arch, trainer);
        bar.finish_and_clear();
        let outcome = result?.map_err(|e| training_error(e, &plan.options))?;

        warn_if_no_better_than_chance(&outcome, &split.train.class_counts(), &plan);
        let report =
            TrainReport::new(plan.spec.name, &data_file, &plan.arch, &plan.options, plan.test_fraction, &outcome);
        let mut out = io::stdout().lock();
        if self.json {
            let line = serde_json::to_string(&report).context("cannot serialise the report")?;
            writeln!(out, "{line}")?;
        } else {
            report.write_human(&mut out)?;
        }
        out.flush()?;
        Ok(())
    }

    /// Applies the data set's defaults and checks every flag before any work.
    fn plan(&self) -> anyhow::Result<Plan> {
        let spec = self.dataset.spec();
        let d = &spec.defaults;
        let epochs = self.epochs.unwrap_or(d.epochs.into());
        if epochs > MAX_EPOCHS.into() {
            bail!("invalid --epochs {epochs}: must be at most {MAX_EPOCHS}");
        }
        let momentum = self.momentum.unwrap_or(d.momentum);
        let optimizer = match (self.nesterov, momentum) {
            (true, 0.0) => bail!("invalid --momentum 0: --nesterov needs a positive momentum"),
            (true, momentum) => AnyOptimizer::Nesterov(Nesterov { momentum }),
            (false, 0.0) => AnyOptimizer::Sgd(Sgd),
            (false, momentum) => AnyOptimizer::Momentum(Momentum { momentum }),
        };
        let decay = self.decay.unwrap_or(d.decay);
        let train = TrainConfig {
            epochs: epochs as u32, // at most MAX_EPOCHS, checked above
            batch_size: self.batch_size.unwrap_or(d.batch_size),
            optimizer,
            schedule: Schedule {
                lr: self.lr.unwrap_or(d.lr),
                shape: if decay == 0.0 { Shape::Constant } else { Shape::InverseTime { decay } },
                warmup: 0,
            },
            l2: self.l2.unwrap_or(d.l2),
            l1: self.l1,
            clip_norm: 0.0,
        };
        if let Err(e) = train.check::<f32>() {
            return Err(hyperparameter_error(e, &train));
        }
        let test_fraction = self.test_fraction.unwrap_or(d.test_fraction);
        if !(test_fraction > 0.0 && test_fraction < 1.0) {
            bail!("invalid --test-fraction {}: must be greater than 0 and less than 1", number(test_fraction));
        }
        let arch = Architecture {
            inputs: spec.format.features,
            hidden: self.hidden.clone().unwrap_or_else(|| d.hidden.to_vec()),
            outputs: spec.format.classes,
            activation: self.activation,
        };
        arch::check(&arch)?;
        let init = match self.init {
            InitName::Auto => self.activation.default_init(),
            InitName::HeUniform => Init::HeUniform,
            InitName::HeNormal => Init::HeNormal,
            InitName::GlorotUniform => Init::GlorotUniform,
            InitName::GlorotNormal => Init::GlorotNormal,
            InitName::LecunNormal => Init::LecunNormal,
        };
        Ok(Plan { spec, arch, options: RunOptions { train, init, seed: self.seed }, test_fraction })
    }

    /// A bar over the epochs on stderr, hidden with `--quiet` or when stdout is not a terminal.
    fn progress_bar(&self, epochs: u32) -> ProgressBar {
        if self.quiet || !io::stdout().is_terminal() {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::with_draw_target(Some(u64::from(epochs)), ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template("[{wide_bar}] {msg}, eta {eta}")
            .map(|s| s.progress_chars("=> "))
            .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        bar
    }
}

/// More epochs than anyone would wait for (digits with the defaults: over
/// half an hour) is taken for a typing mistake rather than started.
const MAX_EPOCHS: u32 = 1_000_000;

/// Names the flag behind a hyperparameter the core rejected.
fn hyperparameter_error(e: Error, config: &TrainConfig<AnyOptimizer>) -> anyhow::Error {
    let Error::InvalidHyperparameter { name, requirement } = e else {
        return anyhow!(e);
    };
    let (flag, value) = match (name, config.optimizer, config.schedule.shape) {
        (Hyperparameter::Epochs, ..) => ("--epochs", config.epochs.to_string()),
        (Hyperparameter::BatchSize, ..) => ("--batch-size", config.batch_size.to_string()),
        (Hyperparameter::LearningRate, ..) => ("--lr", number(config.schedule.lr)),
        (Hyperparameter::Momentum, AnyOptimizer::Momentum(Momentum { momentum }), _)
        | (Hyperparameter::Momentum, AnyOptimizer::Nesterov(Nesterov { momentum }), _) => {
            ("--momentum", number(momentum))
        }
        (Hyperparameter::L2, ..) => ("--l2", number(config.l2)),
        (Hyperparameter::L1, ..) => ("--l1", number(config.l1)),
        (Hyperparameter::Decay, _, Shape::InverseTime { decay }) => ("--decay", number(decay)),
        _ => return anyhow!(e),
    };
    anyhow!("invalid {flag} {value}: must be {requirement}")
}

/// Training that ends no better than guessing is reported (it is what was
/// asked for), with a warning on stderr and a hint from the epochs' losses: a
/// loss that spiked or stopped falling points at too large a learning rate (it
/// blew up without reaching NaN), one still falling at too little training.
fn warn_if_no_better_than_chance(outcome: &Outcome, train_counts: &[usize], plan: &Plan) {
    // Cross-entropy of always predicting the training set's class frequencies.
    let total: usize = train_counts.iter().sum();
    let chance_loss: f64 = train_counts
        .iter()
        .filter(|&&n| n > 0)
        .map(|&n| {
            let p = n as f64 / total as f64;
            -p * p.ln()
        })
        .sum();
    if f64::from(outcome.train.loss) < chance_loss {
        return;
    }
    let losses: Vec<f64> = outcome.history.iter().map(|r| r.loss).collect();
    let peak = losses.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let lr = number(plan.options.train.schedule.lr);
    let hint = match losses[..] {
        _ if peak > 4.0 * chance_loss => {
            let peak = if peak < 1e4 { format!("{peak:.2}") } else { format!("{peak:.2e}") };
            format!("an epoch's loss reached {peak}: try a smaller learning rate than --lr {lr}")
        }
        [.., before, last] if last < before => {
            format!("the loss is still falling: try more --epochs or a larger learning rate than --lr {lr}")
        }
        [.., _, _] => format!("the loss stopped falling: try a smaller learning rate than --lr {lr}"),
        _ => format!("try more --epochs or another learning rate than --lr {lr}"),
    };
    eprintln!(
        "warning: the trained network does no better than chance (training loss {:.4} >= {chance_loss:.4}, \
         the loss of predicting each class with its training frequency); {hint}",
        outcome.train.loss
    );
}

/// One `--hidden` entry: a layer width, spaces around it allowed ("64, 32").
fn parse_layer_size(text: &str) -> Result<usize, String> {
    let text = text.trim();
    text.parse().map_err(|_| format!("{text:?} is not a layer size (a positive whole number)"))
}

fn test_fraction_error(fraction: f64, e: &SplitError) -> anyhow::Error {
    match *e {
        SplitError::EmptyPart { class, samples, test, .. } => {
            let part = if test == 0 { "test" } else { "training" };
            anyhow!(
                "invalid --test-fraction {}: class {class} would have no {part} samples \
                 ({test} of its {samples} samples held out); every class needs at least one of each",
                number(fraction)
            )
        }
        _ => anyhow!("invalid --test-fraction: {e}"),
    }
}

fn training_error(e: Error, options: &RunOptions) -> anyhow::Error {
    match e {
        Error::Diverged { epoch } => {
            let train = &options.train;
            let penalties = if train.l1 > 0.0 || train.l2 > 0.0 { " (or smaller --l1/--l2 penalties)" } else { "" };
            anyhow!(
                "training diverged in epoch {epoch}: the loss or a weight became NaN or infinite; \
                 try a smaller learning rate than --lr {}{penalties}",
                number(train.schedule.lr)
            )
        }
        e => anyhow!(e).context("training failed"),
    }
}
