//! `host-cli train DATASET`: train a network and report its test accuracy.

use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, anyhow, bail};
use clap::Args;
use host_cli::arch::{self, Architecture};
use host_cli::data::{self, DatasetSpec, Kind, LabelColumn, Request, Table, Task};
use host_cli::evaluate::{Recorded, check_recorded_columns};
use host_cli::fullbatch::{self, FullBatchTraining};
use host_cli::modelfile::{self, ModelFile};
use host_cli::optim::AnyOptimizer;
use host_cli::prepare;
use host_cli::regression::{self, RegressionEpoch, RegressionTraining, TargetScaling};
use host_cli::report::{DataReport, RegressionReport, TrainReport, number};
use host_cli::run::{EpochRecord, Outcome, RunOptions, Start, StopEarly, Training};
use host_cli::split::{self, Indices, SplitError, ValidationSize};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use mlp_core::Error;

use super::args::{ArchArgs, DataArgs, OptimizerArgs};

/// Train a network on a data set and report its accuracy on held-out samples.
///
/// The data set is split per class into training and test samples from the
/// seed; the same seed and flags give the same numbers on every run. Flags
/// left out take the data set's defaults (shown as [digits: …]). A flag that
/// the chosen optimizer or schedule does not use is an error.
#[derive(Debug, Args)]
pub struct Cmd {
    #[command(flatten)]
    data: DataArgs,

    #[command(flatten)]
    arch: ArchArgs,

    #[command(flatten)]
    train: OptimizerArgs,

    /// Draw no progress bar (none is drawn when stdout is not a terminal either).
    #[arg(long, short)]
    quiet: bool,

    /// Print one JSON object with the settings, results and per-epoch history instead of text.
    #[arg(long)]
    json: bool,

    /// Save the trained model to this file (atomically: a failed run leaves no partial file).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,

    /// Draw the loss and accuracy per epoch to FILE (.png or .svg); with two features, the decision
    /// boundary too, to FILE-boundary.png (or .svg).
    #[arg(long, value_name = "FILE")]
    plot: Option<PathBuf>,

    /// Save the training state with the model (optimizer state, epoch, shuffle generator, configuration),
    /// so that --resume can continue it bit for bit.
    #[arg(long, requires = "out")]
    checkpoint: bool,

    /// Continue training a checkpoint to --epochs (default: the epochs it was planned for). Training
    /// flags may be left out; any given must agree with the checkpoint.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["init_from", "freeze", "hidden", "initializer"])]
    resume: Option<PathBuf>,

    /// Start from this model's weights with a fresh training state (fine-tuning).
    #[arg(long = "init", value_name = "FILE", conflicts_with_all = ["hidden", "initializer"])]
    init_from: Option<PathBuf>,

    /// Keep the first N layers of the --init model fixed; train the rest.
    #[arg(long, value_name = "N", requires = "init_from")]
    freeze: Option<u32>,

    /// Hold out N training samples (or a FRACTION of them) for validation, measured after every epoch
    /// and drawn by --plot. mnist holds out its last N training images; the others draw them from --seed.
    #[arg(long, value_name = "N|FRACTION", value_parser = ValidationSize::parse)]
    validation: Option<ValidationSize>,

    /// Stop once the validation loss has not improved for PATIENCE epochs in a row, and keep the best
    /// epoch's weights. Needs --validation.
    #[arg(long, value_name = "PATIENCE", requires = "validation", conflicts_with_all = ["checkpoint", "resume"])]
    early_stopping: Option<u32>,

    /// Early stopping: the smallest fall of the validation loss that counts as an improvement.
    #[arg(
        long,
        value_name = "DELTA",
        requires = "early_stopping",
        default_value_t = 0.0,
        allow_negative_numbers = true
    )]
    min_delta: f64,

    /// Threads to train and evaluate with [default: every core]. The results are the same bits for
    /// any number of threads.
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
}

/// Raised by Ctrl-C: the run stopped early after saving a checkpoint.
#[derive(Debug)]
pub struct Interrupted;

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("interrupted")
    }
}

impl std::error::Error for Interrupted {}

/// Set by the first Ctrl-C: training stops after the epoch in progress.
static STOP: AtomicBool = AtomicBool::new(false);

/// Installs the Ctrl-C handler: the first press asks the run to stop after
/// its current epoch and save a checkpoint; a second one exits at once (every
/// file is written atomically, so nothing half-written is left).
fn install_interrupt_handler() -> anyhow::Result<()> {
    ctrlc::set_handler(|| {
        if STOP.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
        eprintln!("\ninterrupt: stopping after the current epoch (Ctrl-C again to quit at once)");
    })
    .context("cannot install the Ctrl-C handler")
}

/// Flags after defaults and validation: everything a run needs except the data.
struct Plan {
    spec: &'static DatasetSpec,
    /// Known before the data is read, except for a fresh run on a CSV file,
    /// whose shape the file decides.
    arch: Option<Architecture>,
    options: RunOptions,
    test_fraction: f64,
    start: Start,
    request: Request,
    /// The targets' scaling a --resume or --init model records (regression).
    stored_targets: Option<(f64, f64)>,
    /// The validation samples a --resume checkpoint held out (0: none).
    stored_validation: Option<usize>,
}

impl Cmd {
    pub fn run(self) -> anyhow::Result<()> {
        install_interrupt_handler()?;
        host_cli::accel::check_vector_unit_var()?;
        let full_batch = self.full_batch()?;
        let mut plan = self.plan()?;
        // Checked before reading, so a bad path does not cost a whole run.
        if let Some(out) = &self.out {
            check_writable(out)?;
        }
        let figure = self.plot.as_ref().map(host_cli::plot::Figure::new).transpose()?;
        let mut table = plan.spec.read(&plan.request)?;
        let mut indices = prepare::split(&table, plan.test_fraction, plan.options.seed)
            .map_err(|e| test_fraction_error(plan.test_fraction, &e))?;
        if table.is_regression() && self.validation.is_some() {
            bail!("--validation applies to classification; it does not apply to --task regression");
        }
        // Held out before the inputs are scaled, so the scaling is the training samples' alone.
        let validation = self.hold_out_validation(&plan, &table, &mut indices.train)?;
        let arch = self.shape(&mut plan, &mut table, &indices)?;
        if self.train.dropout.is_some() {
            // A resumed run keeps the checkpoint's rates (`resume_config` compares them).
            if !matches!(plan.start, Start::Resume(_)) {
                plan.options.train.dropout = self.train.dropout_rates(arch.hidden.len())?;
            }
        }
        let (batch_size, train_samples) = (plan.options.train.batch_size, indices.train.len());
        if batch_size > train_samples {
            bail!(
                "invalid --batch-size {batch_size}: larger than the {train_samples} training samples \
                 (use at most {train_samples}, which takes one step per epoch)"
            );
        }
        if table.is_regression() {
            if let Some(settings) = full_batch {
                bail!(
                    "--optimizer {} trains classification only; it does not apply to --task regression",
                    settings.method.name()
                );
            }
            if figure.is_some() {
                bail!("--plot draws classification runs; it does not apply to --task regression");
            }
            return self.run_regression(&plan, &table, &indices, &arch);
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
        let mut recorded = Recorded::of_run(plan.spec, &table, &plan.request, plan.options.seed, plan.test_fraction);
        recorded.validation = Some(validation.len());
        let metadata = recorded.to_metadata();
        let (train, test) = (indices.train_of(&table), indices.test_of(&table));
        let held_out = host_cli::source::Subset { source: &table, indices: &validation };
        let training = Training {
            train: &train,
            test: &test,
            validation: (!validation.is_empty()).then_some(&held_out as &dyn host_cli::source::SampleSource),
            options: &plan.options,
            start: &plan.start,
            stop: Some(&STOP),
            metadata: &metadata,
            on_epoch,
        };
        let mut full_batch_run = None;
        let result = match full_batch {
            None => arch::with_network(&arch, training),
            Some(settings) => arch::with_network(&arch, FullBatchTraining { training, settings }).map(|run| {
                run.map(|run| {
                    full_batch_run = Some((settings, run.evaluations, run.stop));
                    run.outcome
                })
            }),
        };
        bar.finish_and_clear();
        let mut outcome = result?.map_err(|e| match e.downcast::<Error>() {
            Ok(e) => training_error(e, &plan.options),
            Err(e) => e,
        })?;
        if let Some((offset, scale)) = table.scaling() {
            outcome.model = modelfile::with_scaling(&outcome.model, &arch, &offset, &scale)?;
            outcome.checkpoint = modelfile::with_scaling(&outcome.checkpoint, &arch, &offset, &scale)?;
        }
        // Outputs beyond the file's classes never win (see `modelfile::mask_padding`): not shown.
        let classes = table.class_count();
        outcome.confusion.truncate(classes);
        outcome.confusion.iter_mut().for_each(|row| row.truncate(classes));

        if outcome.interrupted {
            let done = outcome.first_epoch + outcome.history.len() as u32;
            return self.interrupted(&plan, &outcome.checkpoint, done);
        }
        self.save(&outcome.model, &outcome.checkpoint)?;
        if let Some(figure) = &figure {
            let written = host_cli::plot::pictures::training(figure, &outcome.history, &arch, &outcome.model, &train)?;
            if !self.json {
                written.iter().for_each(|path| eprintln!("drew {}", path.display()));
            }
        }

        let train_counts: Vec<usize> = {
            let mut counts = vec![0; classes];
            indices.train.iter().for_each(|&i| counts[table.class(i)] += 1);
            counts
        };
        warn_if_no_better_than_chance(&outcome, &train_counts, &plan);
        let data = DataReport::of(&table, &recorded);
        let test_fraction = table.official_split().is_none().then_some(plan.test_fraction);
        let mut report = TrainReport::new(plan.spec.name, data, &arch, &plan.options, test_fraction, &outcome);
        report.validation_samples = (!validation.is_empty()).then_some(validation.len());
        report.best_epoch = outcome.best_epoch;
        if let Some((settings, evaluations, stop)) = full_batch_run {
            report.full_batch(settings, evaluations, stop);
        }
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

    /// Trains on numeric targets ([`host_cli::regression`]) and reports R² and RMSE.
    fn run_regression(&self, plan: &Plan, table: &Table, indices: &Indices, arch: &Architecture) -> anyhow::Result<()> {
        // A resumed or fine-tuned network keeps the targets' scaling it learned with.
        let targets = match plan.stored_targets {
            Some((offset, scale)) => TargetScaling { offset, scale },
            None => TargetScaling::of(table, &indices.train)?,
        };
        let mut recorded = Recorded::of_run(plan.spec, table, &plan.request, plan.options.seed, plan.test_fraction);
        recorded.target_offset = Some(targets.offset);
        recorded.target_scale = Some(targets.scale);
        let metadata = recorded.to_metadata();
        let bar = self.progress_bar(plan.options.train.epochs);
        let on_epoch = |record: &RegressionEpoch| {
            bar.set_message(format!(
                "epoch {}/{}  loss {:.4}  train RMSE {:.4}  test RMSE {:.4}",
                record.epoch, plan.options.train.epochs, record.loss, record.train_rmse, record.test_rmse
            ));
            bar.inc(1);
        };
        let training = RegressionTraining {
            table,
            train: &indices.train,
            test: &indices.test,
            targets,
            options: &plan.options,
            start: &plan.start,
            stop: Some(&STOP),
            metadata: &metadata,
            on_epoch,
        };
        let result = regression::with_network(arch, training);
        bar.finish_and_clear();
        let outcome = result?.map_err(|e| match e.downcast::<Error>() {
            Ok(e) => training_error(e, &plan.options),
            Err(e) => e,
        })?;
        if outcome.interrupted {
            let done = outcome.first_epoch + outcome.history.len() as u32;
            return self.interrupted(plan, &outcome.checkpoint, done);
        }
        self.save(&outcome.model, &outcome.checkpoint)?;
        let report = RegressionReport::new(
            DataReport::of(table, &recorded),
            arch,
            &plan.options,
            plan.test_fraction,
            targets,
            &outcome,
        );
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

    /// --early-stopping and --min-delta, checked.
    fn early_stopping(&self) -> anyhow::Result<Option<StopEarly>> {
        let Some(patience) = self.early_stopping else { return Ok(None) };
        if patience == 0 {
            bail!("invalid --early-stopping 0: the patience is at least 1 epoch");
        }
        let min_delta = self.min_delta as f32;
        if !(min_delta.is_finite() && min_delta >= 0.0) {
            bail!("invalid --min-delta {}: must be a finite loss difference, 0 or more", number(self.min_delta));
        }
        Ok(Some(StopEarly { patience, min_delta }))
    }

    /// Takes the validation samples out of `train`: as --validation asks, or
    /// as the resumed checkpoint did (a resumed run must train on the same samples).
    fn hold_out_validation(&self, plan: &Plan, table: &Table, train: &mut Vec<usize>) -> anyhow::Result<Vec<usize>> {
        let resuming = matches!(plan.start, Start::Resume(_));
        let stored = plan.stored_validation.filter(|_| resuming);
        let size = match (self.validation, stored) {
            (Some(given), Some(stored)) if given.count(train.len()) != stored => {
                bail!(
                    "the checkpoint was trained with --validation {stored}, not {} (other training samples)",
                    given.count(train.len())
                )
            }
            (Some(given), None) if resuming => {
                bail!("the checkpoint was trained without --validation, not with {}", given.count(train.len()))
            }
            (None, Some(stored)) => Some(ValidationSize::Count(stored)),
            (given, _) => given,
        };
        let Some(size) = size.filter(|size| *size != ValidationSize::Count(0)) else {
            return Ok(Vec::new());
        };
        split::hold_out_validation(train, size, table.official_split().is_some(), plan.options.seed)
            .map_err(|problem| anyhow!("invalid --validation: {problem}"))
    }

    /// Saves the checkpoint of an interrupted run, says how to resume it, and ends with [`Interrupted`].
    fn interrupted(&self, plan: &Plan, checkpoint: &[u8], done: u32) -> anyhow::Result<()> {
        let path = self.out.clone().unwrap_or_else(|| PathBuf::from(format!("{}-interrupted.mlpm", plan.spec.name)));
        modelfile::write_atomic(&path, checkpoint)?;
        eprintln!(
            "interrupted after epoch {done} of {}: saved a checkpoint to {}; continue with: host-cli train {} --resume {}",
            plan.options.train.epochs,
            path.display(),
            self.data.command_words(),
            path.display()
        );
        Err(Interrupted.into())
    }

    /// Writes the model, or with --checkpoint the checkpoint, to --out.
    fn save(&self, model: &[u8], checkpoint: &[u8]) -> anyhow::Result<()> {
        if let Some(out) = &self.out {
            let (bytes, what) = if self.checkpoint { (checkpoint, "checkpoint") } else { (model, "model") };
            modelfile::write_atomic(out, bytes)?;
            if !self.json {
                eprintln!("saved the {what} to {}", out.display());
            }
        }
        Ok(())
    }

    /// Applies the data set's defaults and checks every flag before any work.
    fn plan(&self) -> anyhow::Result<Plan> {
        let spec = self.data.dataset;
        let init = self.arch.init();
        if let Some(path) = &self.resume {
            let file = ModelFile::read(path)?;
            let model = file.model();
            let (Some(training), Some((record, _))) = (model.training(), model.optimizer()) else {
                bail!(
                    "{}: not a checkpoint (a model without training state); use --init to fine-tune it",
                    path.display()
                );
            };
            let arch = self.file_architecture(&file, spec)?;
            let (seed, test_fraction) = self.resume_split(&file, spec)?;
            let optimizer = <AnyOptimizer as mlp_core::Optimizer>::from_record(&record).ok_or_else(|| {
                anyhow!("{}: the checkpoint's optimizer {} is not supported", path.display(), record.kind)
            })?;
            let stored = training.config.with_optimizer(optimizer);
            let train = self.train.resume_config(stored, training.epoch, arch.hidden.len())?;
            let recorded = Recorded::from_metadata(model.metadata().unwrap_or(""));
            let mut request = self.data.request_for_model(&recorded, path)?;
            // The moons of a resumed run are those of its split's seed.
            request.moons.seed = seed;
            let threads = super::args::check_threads(self.threads)?;
            let options = RunOptions { train, init, seed, threads, early_stopping: None };
            let stored_targets = recorded.target_offset.zip(recorded.target_scale);
            let stored_validation = recorded.validation;
            let start = Start::Resume(file);
            return Ok(Plan {
                spec,
                arch: Some(arch),
                options,
                test_fraction,
                start,
                request,
                stored_targets,
                stored_validation,
            });
        }
        let mut train = self.train.config(&spec.defaults)?;
        let test_fraction = self.data.test_fraction()?;
        let mut request = self.data.request()?;
        let mut stored_targets = None;
        let (arch, start) = match &self.init_from {
            Some(path) => {
                let file = ModelFile::read(path)?;
                let arch = self.file_architecture(&file, spec)?;
                if let Some(freeze) = self.freeze {
                    let layers = arch.hidden.len() as u32 + 1;
                    if freeze >= layers {
                        bail!(
                            "invalid --freeze {freeze}: the model has {layers} layers; at most {} can be kept fixed",
                            layers - 1
                        );
                    }
                    train.frozen_layers = freeze;
                }
                // Fine-tuning reads the columns the model was trained on.
                let recorded = Recorded::from_metadata(file.model().metadata().unwrap_or(""));
                if let (None, Some(label)) = (&self.data.label_column, &recorded.label_column) {
                    request.csv.label = LabelColumn::Named(label.clone());
                }
                if let (None, Some(task)) = (self.data.task, recorded.task.as_deref()) {
                    request.csv.task =
                        if task == Task::Regression.name() { Task::Regression } else { Task::Classification };
                }
                stored_targets = recorded.target_offset.zip(recorded.target_scale);
                (Some(arch), Start::Init(file))
            }
            // A CSV file's shape is known once it is read.
            None if matches!(spec.kind, Kind::Csv) => {
                if let Some(hidden) = &self.arch.hidden
                    && !data::CSV_SHAPES.iter().any(|&(i, o)| arch::supported_hidden(i, o).contains(&hidden.as_slice()))
                {
                    bail!(
                        "unsupported --hidden {} for csv; every CSV shape is built with --hidden {}",
                        arch::join_hidden(hidden),
                        arch::join_hidden(spec.defaults.hidden)
                    );
                }
                (None, Start::Fresh)
            }
            None => (Some(self.arch.architecture(spec)?), Start::Fresh),
        };
        let threads = super::args::check_threads(self.threads)?;
        let early_stopping = self.early_stopping()?;
        let options = RunOptions { train, init, seed: self.data.seed, threads, early_stopping };
        Ok(Plan { spec, arch, options, test_fraction, start, request, stored_targets, stored_validation: None })
    }

    /// The network for `table`: the plan's (a model file's, checked against
    /// the file's features and classes) or the smallest shape that holds it,
    /// with the table padded to its inputs and standardised (with the
    /// training split's statistics, or a model's). A fresh network of a
    /// larger shape than the file starts with its padding masked
    /// ([`modelfile::mask_padding`]).
    fn shape(&self, plan: &mut Plan, table: &mut Table, indices: &Indices) -> anyhow::Result<Architecture> {
        let spec = plan.spec;
        let (features, classes) = (table.features(), table.class_count());
        match &plan.start {
            Start::Init(file) | Start::Resume(file) => {
                let arch = plan.arch.clone().ok_or_else(|| anyhow!("no architecture"))?;
                let model = file.model();
                let recorded = Recorded::from_metadata(model.metadata().unwrap_or(""));
                check_recorded_columns(table, &recorded, &file.path)?;
                if arch.inputs < features || arch.outputs < classes {
                    bail!(
                        "{}: the model takes {} inputs and gives {} classes, but {} has {features} features and {classes} classes",
                        file.path.display(),
                        arch.inputs,
                        arch.outputs,
                        table.origin()
                    );
                }
                if spec.standardise && model.scaling().is_some() {
                    // Fine-tuned or resumed, the inputs must mean what they meant.
                    prepare::use_model_scaling(table, spec, &model, &file.path.display().to_string())?;
                } else {
                    table.pad_inputs(arch.inputs);
                    if spec.standardise {
                        table.standardise(&indices.train)?;
                    }
                }
                Ok(arch)
            }
            Start::Fresh => {
                let (inputs, outputs) = prepare::network_shape(spec, table)?;
                let arch = match &plan.arch {
                    Some(arch) => arch.clone(),
                    None => self.arch.architecture_for(inputs, outputs, spec)?,
                };
                table.pad_inputs(arch.inputs);
                if spec.standardise {
                    table.standardise(&indices.train)?;
                }
                // A regression network's first output predicts; the others give their target, 0.
                let (outputs, bias) = if table.is_regression() { (1, 0.0) } else { (classes, modelfile::MASKED_BIAS) };
                if (arch.inputs, arch.outputs) != (features, outputs) {
                    let initial = modelfile::initial_model(&arch, plan.options.init, plan.options.seed)?;
                    let bytes = modelfile::mask_outputs(&initial, features, outputs, bias)?;
                    let path = PathBuf::from(format!("(initial weights of {})", arch.name()));
                    plan.start = Start::Init(ModelFile { path, bytes });
                }
                Ok(arch)
            }
        }
    }

    /// The architecture a model file needs, compiled in, which must fit the
    /// data set (a CSV file's shape is checked once it is read).
    fn file_architecture(&self, file: &ModelFile, spec: &DatasetSpec) -> anyhow::Result<Architecture> {
        let arch = file.architecture()?;
        let (inputs, classes) = (spec.format.features, spec.format.classes);
        if !matches!(spec.kind, Kind::Csv) && (arch.inputs, arch.outputs) != (inputs, classes) {
            bail!(
                "{}: the model takes {} inputs and gives {} classes, but {} has {inputs} features and {classes} classes",
                file.path.display(),
                arch.inputs,
                arch.outputs,
                spec.name
            );
        }
        arch::check(&arch).map_err(|e| anyhow!("{}: {e}", file.path.display()))?;
        Ok(arch)
    }

    /// The seed and test fraction of the checkpoint's split (from its
    /// metadata), which a resumed run must train on; flags that name another are an error.
    fn resume_split(&self, file: &ModelFile, spec: &DatasetSpec) -> anyhow::Result<(u64, f64)> {
        let given_fraction = self.data.test_fraction()?;
        let metadata = file.model().metadata().unwrap_or("");
        let value = |key: &str| metadata.lines().find_map(|line| line.strip_prefix(key)?.strip_prefix('='));
        if let Some(dataset) = value("dataset").filter(|&d| d != spec.name) {
            bail!("{}: the checkpoint was trained on {dataset}, not {}", file.path.display(), spec.name);
        }
        let seed = match value("seed").map(str::parse::<u64>) {
            Some(Ok(seed)) => seed,
            _ => self.data.seed,
        };
        let fraction = match value("test_fraction").map(str::parse::<f64>) {
            Some(Ok(fraction)) => fraction,
            _ => given_fraction,
        };
        if self.data.seed != 0 && self.data.seed != seed {
            bail!(
                "{}: the checkpoint was trained on the split of --seed {seed}, not {}",
                file.path.display(),
                self.data.seed
            );
        }
        if self.data.test_fraction.is_some() && given_fraction != fraction {
            bail!(
                "{}: the checkpoint was trained with --test-fraction {}, not {}",
                file.path.display(),
                number(fraction),
                number(given_fraction)
            );
        }
        Ok((seed, fraction))
    }

    /// `--optimizer lbfgs|cg` with its flags, refused with what it cannot do:
    /// its state is not kept in model files, so it can neither write nor
    /// continue a checkpoint bit for bit.
    fn full_batch(&self) -> anyhow::Result<Option<fullbatch::Settings>> {
        let Some(settings) = self.train.full_batch()? else { return Ok(None) };
        let chosen = settings.method.name();
        if self.checkpoint || self.resume.is_some() {
            let flag = if self.checkpoint { "--checkpoint" } else { "--resume" };
            bail!(
                "{flag} does not apply to --optimizer {chosen}: its state (the line search's and the solver's history) \
                 is not kept in model files, so it cannot continue bit for bit; --out saves the trained model"
            );
        }
        if self.freeze.is_some() {
            bail!(
                "--freeze does not apply to --optimizer {chosen}: it trains every layer (use a first-order optimizer)"
            );
        }
        if self.early_stopping.is_some() {
            bail!(
                "--early-stopping does not apply to --optimizer {chosen}: it stops when the solver converges \
                 (use a first-order optimizer to stop on the validation loss)"
            );
        }
        Ok(Some(settings))
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

/// Fails early if `path` cannot be written: a directory, or a parent that does not exist.
fn check_writable(path: &Path) -> anyhow::Result<()> {
    if path.is_dir() {
        bail!("cannot write {}: it is a directory", path.display());
    }
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() && !parent.is_dir() => {
            bail!("cannot write {}: directory {} does not exist", path.display(), parent.display())
        }
        _ => Ok(()),
    }
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
    let hint = if peak > 4.0 * chance_loss {
        let peak = if peak < 1e4 { format!("{peak:.2}") } else { format!("{peak:.2e}") };
        format!("an epoch's loss reached {peak}: try a smaller learning rate than --lr {lr}")
    } else {
        match loss_trend(&losses) {
            Trend::Falling => {
                format!("the loss is still falling: try more --epochs or a larger learning rate than --lr {lr}")
            }
            Trend::Stalled { rises, steps } => format!(
                "the loss stopped falling (it rose in {rises} of the last {steps} epochs): \
                 try a smaller learning rate than --lr {lr}"
            ),
            Trend::Unknown => format!("try more --epochs or another learning rate than --lr {lr}"),
        }
    };
    eprintln!(
        "warning: the trained network does no better than chance (training loss {:.4} >= {chance_loss:.4}, \
         the loss of predicting each class with its training frequency); {hint}",
        outcome.train.loss
    );
}

/// Where the epochs' losses were heading at the end of a run.
#[derive(Debug, PartialEq)]
enum Trend {
    /// Down in nearly every one of the last epochs: training was cut short.
    Falling,
    /// Up about as often as down: the loss wanders around a level.
    Stalled { rises: usize, steps: usize },
    /// A single epoch.
    Unknown,
}

/// The trend over the last half of the epochs (at least the last two), not
/// just the last step: a loss that wanders around a level falls in about
/// half of its steps, one still learning in nearly all of them.
fn loss_trend(losses: &[f64]) -> Trend {
    let window = (losses.len() / 2).max(2);
    let Some(recent) = losses.get(losses.len().saturating_sub(window)..).filter(|r| r.len() >= 2) else {
        return Trend::Unknown;
    };
    let steps = recent.len() - 1;
    let falls = recent.windows(2).filter(|w| w[1] < w[0]).count();
    let (first, last) = (recent[0], recent[steps]);
    // Falling in at least three steps out of four, and lower at the end.
    if last < first && 4 * falls >= 3 * steps { Trend::Falling } else { Trend::Stalled { rises: steps - falls, steps } }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_trend_reads_more_than_the_last_two_epochs() {
        assert_eq!(loss_trend(&[2.39, 2.38]), Trend::Falling);
        assert_eq!(loss_trend(&[2.4]), Trend::Unknown);
        // Around a level, with a last step down: not still falling.
        let wandering = [7.9, 2.61, 2.56, 2.64, 2.63, 2.51, 2.57, 2.59, 2.49, 2.57, 2.47];
        assert_eq!(loss_trend(&wandering), Trend::Stalled { rises: 2, steps: 4 });
        let slow: Vec<f64> = (0..20).map(|k| 2.45 - 0.009 * f64::from(k)).collect();
        assert_eq!(loss_trend(&slow), Trend::Falling);
    }
}
