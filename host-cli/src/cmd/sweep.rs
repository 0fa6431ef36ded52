//! `host-cli sweep DATASET --lr A..B --l2 A..B --steps S`: train a grid of
//! learning rates × L2 penalties; `host-cli sweep merge FILES…`: combine the
//! results of a grid's shards.

use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, anyhow, bail};
use clap::{ArgMatches, Args, FromArgMatches, Subcommand};
use host_cli::modelfile::{self, ModelFile};
use host_cli::plot::Figure;
use host_cli::prepare;
use host_cli::report::number;
use host_cli::run::{RunOptions, Start};
use host_cli::split::SplitError;
use host_cli::sweep::{self, Grid, Results, Runner, Shard, Span};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use mlp_core::TrainConfig;

use super::args::{ArchArgs, DataArgs, OptimizerArgs};

/// `sweep DATASET …` runs a grid (or a shard of it); `sweep merge FILES…` combines shards.
#[derive(Debug)]
pub enum Cmd {
    /// Train the cells.
    Run(Box<RunArgs>),
    /// Combine results files.
    Merge(MergeArgs),
}

// `sweep`'s own subcommand (a doc comment here would replace `sweep`'s description).
#[derive(Debug, Subcommand)]
enum Action {
    /// Combine the results files of a sweep's shards (--shard K/N --out FILE) into the results of
    /// the whole grid: the same table, heat map, best cell and JSON as one run over it.
    ///
    /// Every file must come from the same grid (data, settings, --lr and --l2 values), and
    /// every cell must be in exactly one file.
    Merge(MergeArgs),
}

// By hand rather than derived: `sweep DATASET` takes the data set's required
// positional argument, which `sweep merge` must not ask for, and the derive
// cannot leave a flattened required argument out when a subcommand is given.
impl FromArgMatches for Cmd {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        if matches.subcommand_name().is_some() {
            let Action::Merge(merge) = Action::from_arg_matches(matches)?;
            Ok(Cmd::Merge(merge))
        } else {
            Ok(Cmd::Run(Box::new(RunArgs::from_arg_matches(matches)?)))
        }
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

impl Args for Cmd {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        let cmd = RunArgs::augment_args(cmd);
        Action::augment_subcommands(cmd).args_conflicts_with_subcommands(true).subcommand_negates_reqs(true)
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        Self::augment_args(cmd)
    }
}

/// Train every cell of a grid of learning rates × L2 penalties and report the test accuracy of each.
///
/// `--lr A..B` and `--l2 A..B` are log-spaced over --steps values each (`1e-5..1` with 6 steps:
/// 1e-5, 1e-4, … 1); a single value keeps that axis fixed, and an axis left out uses the data set's
/// default. Every other flag of `train` applies to every cell. All cells start from the same split,
/// weights and shuffles (--seed), so they differ by their hyperparameters alone, and the results do
/// not depend on --threads or on sharding. A cell whose training diverges is reported as diverged.
///
/// The grid's cells are numbered row by row (lr, then l2). --shard K/N trains the cells i with
/// i % N == K - 1 and writes their results to --out, for `host-cli sweep merge`.
#[derive(Debug, Args)]
#[command(
    // The swept flags replace the training group's single-valued --lr and --l2.
    mut_arg("lr", |arg| arg.long("base-lr").hide(true)),
    mut_arg("l2", |arg| arg.long("base-l2").hide(true)),
)]
pub struct RunArgs {
    #[command(flatten)]
    data: DataArgs,

    #[command(flatten)]
    arch: ArchArgs,

    #[command(flatten)]
    train: OptimizerArgs,

    /// Learning rates: A..B, log-spaced over --steps values (0 < A < B), or one value
    /// [default: the optimizer's rate for the data set].
    #[arg(long = "lr", id = "lr_span", value_name = "A..B", allow_hyphen_values = true)]
    lr_span: Option<String>,

    /// L2 penalties: A..B, log-spaced over --steps values (0 < A < B), or one value
    /// [default: the data set's].
    #[arg(long = "l2", id = "l2_span", value_name = "A..B", allow_hyphen_values = true)]
    l2_span: Option<String>,

    /// Values per swept axis (the grid has up to steps × steps cells).
    #[arg(long, value_name = "S", default_value_t = 6)]
    steps: usize,

    /// Cells trained side by side [default: the number of cores].
    #[arg(long, value_name = "N")]
    threads: Option<usize>,

    /// Train only shard K of N: the cells i with i % N == K - 1 (K from 1). Needs --out.
    #[arg(long, value_name = "K/N", requires = "out")]
    shard: Option<String>,

    /// Write the results (grid, cells, best) as JSON to this file, for `sweep merge`.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,

    /// Draw the test accuracies as a heat map, the best cell outlined (.png or .svg).
    #[arg(long, value_name = "FILE")]
    plot: Option<PathBuf>,

    /// Print one JSON object (grid, every cell, best) instead of the table.
    #[arg(long)]
    json: bool,

    /// Draw no progress bar (none is drawn when stdout is not a terminal either).
    #[arg(long, short)]
    quiet: bool,
}

/// Flags of `sweep merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Results files written by `sweep … --shard K/N --out FILE`.
    #[arg(value_name = "FILES", required = true)]
    files: Vec<PathBuf>,

    /// Write the merged results as JSON to this file.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,

    /// Draw the test accuracies as a heat map (.png or .svg).
    #[arg(long, value_name = "FILE")]
    plot: Option<PathBuf>,

    /// Print one JSON object (grid, every cell, best) instead of the table.
    #[arg(long)]
    json: bool,
}

impl Cmd {
    pub fn run(self) -> anyhow::Result<()> {
        match self {
            Cmd::Run(args) => args.run(),
            Cmd::Merge(args) => args.run(),
        }
    }
}

impl RunArgs {
    fn run(self) -> anyhow::Result<()> {
        host_cli::accel::check_vector_unit_var()?;
        // Every flag is checked before the data is read or anything trained.
        let spec = self.data.dataset;
        sweep::check_steps(self.steps)?;
        let lr_span = self.lr_span.as_deref().map(|text| Span::parse("--lr", text)).transpose()?;
        let l2_span = self.l2_span.as_deref().map(|text| Span::parse("--l2", text)).transpose()?;
        let shard = self.shard.as_deref().map(Shard::parse).transpose()?;
        let threads = match super::args::check_threads(self.threads)? {
            Some(n) => n,
            None => std::thread::available_parallelism().map_or(1, |n| n.get()),
        };
        let figure = self.plot.as_ref().map(Figure::new).transpose()?;
        if let Some(out) = &self.out {
            check_writable(out)?;
        }
        if let Some(settings) = self.train.full_batch()? {
            bail!(
                "sweep grids the learning rate of the first-order optimizers; --optimizer {} has none \
                 (run host-cli train with it)",
                settings.method.name()
            );
        }
        let train = self.train.config(&spec.defaults)?;
        let lr = match lr_span {
            Some(span) => span.values("--lr", self.steps)?,
            None => vec![train.schedule.lr],
        };
        let l2 = match l2_span {
            Some(span) => span.values("--l2", self.steps)?,
            None => vec![train.l2],
        };
        let test_fraction = self.data.test_fraction()?;
        let request = self.data.request()?;
        let base =
            RunOptions { train, init: self.arch.init(), seed: self.data.seed, threads: None, early_stopping: None };

        // The data as `train` prepares it for a fresh run: read, split from
        // the seed, the network's shape (a CSV file's from the file), inputs
        // padded to it and standardised where the data set asks for it.
        let mut table = spec.read(&request)?;
        if table.is_regression() {
            bail!("--task regression cannot be swept: the training engine fits classes only");
        }
        let split =
            prepare::split(&table, test_fraction, base.seed).map_err(|e| test_fraction_error(test_fraction, &e))?;
        let (batch_size, train_samples) = (base.train.batch_size, split.train.len());
        if batch_size > train_samples {
            bail!(
                "invalid --batch-size {batch_size}: larger than the {train_samples} training samples \
                 (use at most {train_samples}, which takes one step per epoch)"
            );
        }
        let (inputs, outputs) = prepare::network_shape(spec, &table)?;
        let arch = self.arch.architecture_for(inputs, outputs, spec)?;
        // One rate per hidden layer, now that the layers are known.
        let base = RunOptions {
            train: TrainConfig { dropout: self.train.dropout_rates(arch.hidden.len())?, ..base.train },
            ..base
        };
        let (features, classes) = (table.features(), table.class_count());
        table.pad_inputs(arch.inputs);
        if spec.standardise {
            table.standardise(&split.train)?;
        }
        // A network wider than the data starts from the seed's weights with
        // the padding masked, as `train` starts it; every cell from the same.
        let start = if (arch.inputs, arch.outputs) == (features, classes) {
            Start::Fresh
        } else {
            let initial = modelfile::initial_model(&arch, base.init, base.seed)?;
            let bytes = modelfile::mask_padding(&initial, features, classes)?;
            Start::Init(ModelFile { path: PathBuf::from(format!("(initial weights of {})", arch.name())), bytes })
        };
        let (train, test) = (split.train_of(&table), split.test_of(&table));
        let grid = Grid::new(spec.name, &train, &test, &arch, &base, test_fraction, lr, l2);
        sweep::check_cells(&grid, &base)?;
        let indices = match shard {
            Some(shard) => shard.cells(grid.cells()),
            None => (0..grid.cells()).collect(),
        };

        // Cells side by side first, since a run scales best across cells; what
        // cores are left over go to the cells' own epochs. The results are the
        // same bits for every split of the threads.
        let workers = threads.clamp(1, indices.len().max(1));
        let base = RunOptions { threads: Some((threads / workers).max(1)), ..base };
        let epochs = u64::from(base.train.epochs) * indices.len() as u64;
        let bar = self.progress_bar(epochs, indices.len(), threads);
        let started = Instant::now();
        let runner = Runner { train: &train, test: &test, start: &start, arch: &arch, base: &base, threads: workers };
        let cells = runner.run(&grid, &indices, &|| bar.inc(1));
        bar.finish_and_clear();
        let results = Results::new(grid, shard, cells?);
        if !self.json && !self.quiet {
            eprintln!(
                "trained {} cells in {:.1} s on {threads} threads",
                indices.len(),
                started.elapsed().as_secs_f64()
            );
        }
        report(&results, self.out.as_deref(), figure.as_ref(), self.json)
    }

    /// A bar over every epoch of every cell on stderr, hidden with `--quiet`
    /// or when stdout is not a terminal.
    fn progress_bar(&self, epochs: u64, cells: usize, threads: usize) -> ProgressBar {
        if self.quiet || !io::stdout().is_terminal() {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::with_draw_target(Some(epochs), ProgressDrawTarget::stderr());
        let template =
            format!("[{{wide_bar}}] {{pos}}/{{len}} epochs of {cells} cells on {threads} threads, eta {{eta}}");
        let style = ProgressStyle::with_template(&template)
            .map(|s| s.progress_chars("=> "))
            .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        bar
    }
}

impl MergeArgs {
    fn run(self) -> anyhow::Result<()> {
        let figure = self.plot.as_ref().map(Figure::new).transpose()?;
        if let Some(out) = &self.out {
            check_writable(out)?;
        }
        let files = self
            .files
            .iter()
            .map(|path| Ok((path.clone(), Results::read(path)?)))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let results = sweep::merge(&files)?;
        report(&results, self.out.as_deref(), figure.as_ref(), self.json)
    }
}

/// Writes the results file and the heat map if asked for, then the table or the JSON line.
fn report(results: &Results, out: Option<&Path>, figure: Option<&Figure>, json: bool) -> anyhow::Result<()> {
    let line = serde_json::to_string(results).context("cannot serialise the results")?;
    if let Some(out) = out {
        host_cli::modelfile::write_atomic(out, format!("{line}\n").as_bytes())?;
        if !json {
            eprintln!("saved the results to {}", out.display());
        }
    }
    if let Some(figure) = figure {
        sweep::draw(results, figure)?;
        if !json {
            eprintln!("drew the heat map to {}", figure.path().display());
        }
    }
    let mut stdout = io::stdout().lock();
    if json {
        writeln!(stdout, "{line}")?;
    } else {
        sweep::write_table(&mut stdout, results)?;
    }
    stdout.flush()?;
    Ok(())
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
