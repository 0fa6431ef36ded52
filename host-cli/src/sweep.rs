//! Hyperparameter sweeps: a grid of learning rates × L2 penalties, each
//! cell one training run from the same seed, on as many threads as asked.
//!
//! A grid's cells are numbered row by row (`index = lr_index · columns +
//! l2_index`). Shard `K/N` of a grid holds the cells whose index `i` has
//! `i % N == K - 1`, so shards are the same on every machine and together
//! hold every cell once. A run writes a [`Results`] document (JSON); results
//! of the shards of one grid [`merge`] into the results of the whole grid,
//! equal to those of a single run over it.
//!
//! Every cell starts from the same split, the same initial weights and the
//! same shuffles (they all come from `--seed`), so cells differ by their
//! hyperparameters alone, and a cell's result does not depend on the thread
//! that trained it, on the number of threads or on the shard.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use anyhow::{Context, anyhow, bail};
use mlp_core::schedule::Schedule;
use mlp_core::{Error, TrainConfig};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::arch::{self, Architecture};
use crate::optim::AnyOptimizer;
use crate::report::{OptimizerReport, ScheduleReport, init_name, number};
use crate::run::{self, Outcome, RunOptions, Start, Training};
use crate::source::SampleSource;

/// The most values an axis may have: 50 × 50 = 2500 runs is already a
/// cluster's work; more is taken for a typing mistake.
pub const MAX_STEPS: usize = 50;

/// Names the results file format in its `format` field.
pub const FORMAT: &str = "host-cli sweep results";

/// Version of the results file format.
pub const VERSION: u32 = 1;

/// Values of one axis as given: `A..B` (log-spaced over `--steps`) or one value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Span {
    /// From `A` to `B`, both included.
    Range(f64, f64),
    /// A single value: the axis has one step.
    Single(f64),
}

impl Span {
    /// Parses `--flag`'s text: `A..B` with `0 < A < B`, or one value `A ≥ 0`.
    pub fn parse(flag: &str, text: &str) -> anyhow::Result<Span> {
        let value = |part: &str| -> anyhow::Result<f64> {
            let v: f64 = part.trim().parse().map_err(|_| {
                anyhow!(
                    "invalid {flag} {text}: {:?} is not a number; give A..B (such as 1e-5..1) or one value",
                    part.trim()
                )
            })?;
            if !v.is_finite() {
                bail!("invalid {flag} {text}: the values must be finite");
            }
            Ok(v)
        };
        match text.split_once("..") {
            Some((from, to)) => {
                let (from, to) = (value(from)?, value(to)?);
                if from <= 0.0 || to <= 0.0 {
                    bail!("invalid {flag} {text}: a log-spaced range needs positive bounds");
                }
                if from >= to {
                    bail!("invalid {flag} {text}: the range must go up (A..B with A < B)");
                }
                Ok(Span::Range(from, to))
            }
            None => {
                let v = value(text)?;
                if v < 0.0 {
                    bail!("invalid {flag} {text}: must not be negative");
                }
                Ok(Span::Single(v))
            }
        }
    }

    /// The axis's values: `steps` log-spaced from `A` to `B` (a range), or
    /// the one value. Values are rounded to 12 significant digits, so
    /// `1e-5..1` over 6 steps gives exactly 1e-5, 1e-4, … 1 and a results
    /// file shows them as typed.
    pub fn values(self, flag: &str, steps: usize) -> anyhow::Result<Vec<f64>> {
        match self {
            Span::Single(v) => Ok(vec![v]),
            Span::Range(from, to) => {
                if steps < 2 {
                    bail!("invalid --steps {steps}: {flag} {}..{} needs at least 2 steps", number(from), number(to));
                }
                let (low, high) = (from.log10(), to.log10());
                let values: Vec<f64> = (0..steps)
                    .map(|i| {
                        let v = 10f64.powf(low + (high - low) * i as f64 / (steps - 1) as f64);
                        format!("{v:.11e}").parse().unwrap_or(v)
                    })
                    .collect();
                if values.windows(2).any(|w| w[0] >= w[1]) {
                    bail!("invalid {flag} {}..{}: too narrow for {steps} distinct steps", number(from), number(to));
                }
                Ok(values)
            }
        }
    }
}

/// Checks `--steps`: at least 1, at most [`MAX_STEPS`].
pub fn check_steps(steps: usize) -> anyhow::Result<()> {
    if !(1..=MAX_STEPS).contains(&steps) {
        bail!("invalid --steps {steps}: must be from 1 to {MAX_STEPS} (the grid has steps × steps cells)");
    }
    Ok(())
}

/// Shard `index` of `count` (1-based): the cells `i` with `i % count == index - 1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// Which shard, from 1.
    pub index: usize,
    /// How many shards the grid is cut into.
    pub count: usize,
}

impl Shard {
    /// Parses `K/N` with `1 ≤ K ≤ N`.
    pub fn parse(text: &str) -> anyhow::Result<Shard> {
        let parsed = text.split_once('/').and_then(|(k, n)| Some((k.trim().parse().ok()?, n.trim().parse().ok()?)));
        let Some((index, count)) = parsed else {
            bail!("invalid --shard {text}: expected K/N, such as 2/8 (the second of eight shards)");
        };
        if count == 0 || index == 0 || index > count {
            bail!("invalid --shard {text}: K must be from 1 to N");
        }
        Ok(Shard { index, count })
    }

    /// Whether the shard holds cell `cell`.
    pub fn holds(self, cell: usize) -> bool {
        cell % self.count == self.index - 1
    }

    /// The cells of a grid of `cells` that the shard holds, in order.
    pub fn cells(self, cells: usize) -> Vec<usize> {
        (0..cells).filter(|&i| self.holds(i)).collect()
    }
}

/// What a grid is: the data, every setting of the runs except the two
/// swept ones, and the values of those. Shards merge only if their grids are equal.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Grid {
    /// Data set name.
    pub dataset: String,
    /// A checksum of the training and test samples (features as the network
    /// sees them, and labels), so that shards run on different machines are
    /// known to have used the same data.
    pub data_checksum: String,
    /// Training samples.
    pub train_samples: usize,
    /// Test samples.
    pub test_samples: usize,
    /// Every other setting: architecture, optimizer, schedule, epochs, seed, …
    pub settings: Map<String, Value>,
    /// Learning rates, one per row.
    pub lr: Vec<f64>,
    /// L2 penalties, one per column.
    pub l2: Vec<f64>,
}

impl Grid {
    /// The grid of `lr` × `l2` over the `train` and `test` samples with the
    /// settings of `options` (whose learning rate and L2 penalty are replaced
    /// in each cell).
    #[allow(clippy::too_many_arguments)] // each is one field of the grid
    pub fn new(
        dataset: &str,
        train: &dyn SampleSource,
        test: &dyn SampleSource,
        arch: &Architecture,
        options: &RunOptions,
        test_fraction: f64,
        lr: Vec<f64>,
        l2: Vec<f64>,
    ) -> Self {
        let config = &options.train;
        let mut schedule = serde_json::to_value(ScheduleReport::from(config.schedule)).unwrap_or(Value::Null);
        // The base rate is swept, so it is not a setting.
        if let Some(fields) = schedule.as_object_mut() {
            fields.remove("lr");
        }
        let mut settings = Map::new();
        let mut set = |key: &str, value: Value| {
            settings.insert(key.to_owned(), value);
        };
        set("architecture", arch.name().into());
        set("activation", arch.activation.name().into());
        set("init", init_name(options.init).into());
        set("epochs", config.epochs.into());
        set("batch_size", config.batch_size.into());
        set("optimizer", serde_json::to_value(OptimizerReport::from(config.optimizer)).unwrap_or(Value::Null));
        set("schedule", schedule);
        set("l1", config.l1.into());
        set("clip_norm", config.clip_norm.into());
        set("seed", options.seed.into());
        set("test_fraction", test_fraction.into());
        Grid {
            dataset: dataset.to_owned(),
            data_checksum: checksum(train, test),
            train_samples: train.len(),
            test_samples: test.len(),
            settings,
            lr,
            l2,
        }
    }

    /// The settings in a few words: `64-128-10 relu, 100 epochs, batch size 32, momentum, seed 0`.
    pub fn describe(&self) -> String {
        let get = |key: &str| self.settings.get(key);
        let text = |key: &str| match get(key) {
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None => "?".to_owned(),
        };
        let optimizer = get("optimizer").and_then(|o| o.get("name")).and_then(Value::as_str).unwrap_or("?");
        format!(
            "{} {}, {} epochs, batch size {}, {optimizer}, seed {}",
            text("architecture"),
            text("activation"),
            text("epochs"),
            text("batch_size"),
            text("seed")
        )
    }

    /// Number of cells.
    pub fn cells(&self) -> usize {
        self.lr.len() * self.l2.len()
    }

    /// The learning rate and L2 penalty of cell `index`.
    pub fn cell(&self, index: usize) -> (f64, f64) {
        let columns = self.l2.len().max(1);
        (self.lr[index / columns], self.l2[index % columns])
    }

    /// The run options of cell `index`: `base` with the cell's rate and penalty.
    pub fn options(&self, base: &RunOptions, index: usize) -> RunOptions {
        let (lr, l2) = self.cell(index);
        let train = TrainConfig { schedule: Schedule { lr, ..base.train.schedule }, l2, ..base.train };
        RunOptions { train, ..*base }
    }

    /// The first difference from `other`, as `what: this vs other`.
    fn difference(&self, other: &Grid) -> Option<String> {
        let pairs: [(&str, String, String); 6] = [
            ("data set", self.dataset.clone(), other.dataset.clone()),
            ("data (checksum of the split)", self.data_checksum.clone(), other.data_checksum.clone()),
            ("training samples", self.train_samples.to_string(), other.train_samples.to_string()),
            ("test samples", self.test_samples.to_string(), other.test_samples.to_string()),
            ("--lr values", list(&self.lr), list(&other.lr)),
            ("--l2 values", list(&self.l2), list(&other.l2)),
        ];
        if let Some((what, a, b)) = pairs.into_iter().find(|(_, a, b)| a != b) {
            return Some(format!("{what}: {a} vs {b}"));
        }
        let keys: std::collections::BTreeSet<&String> = self.settings.keys().chain(other.settings.keys()).collect();
        keys.into_iter().find_map(|key| {
            let (a, b) = (self.settings.get(key), other.settings.get(key));
            (a != b).then(|| {
                let text = |v: Option<&Value>| v.map_or_else(|| "(none)".to_owned(), Value::to_string);
                format!("{key}: {} vs {}", text(a), text(b))
            })
        })
    }
}

/// Values as a list for messages: `[0.001, 0.01]`.
fn list(values: &[f64]) -> String {
    let values: Vec<String> = values.iter().map(|&v| number(v)).collect();
    format!("[{}]", values.join(", "))
}

/// FNV-1a (64 bits) over both parts' features (as bits) and labels, in hex.
fn checksum(train: &dyn SampleSource, test: &dyn SampleSource) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |bytes: &[u8]| {
        for &b in bytes {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    };
    for part in [train, test] {
        feed(&(part.len() as u64).to_le_bytes());
        feed(&(part.feature_count() as u64).to_le_bytes());
        let mut row = vec![0.0f32; part.feature_count()];
        for i in 0..part.len() {
            part.features_into(i, &mut row);
            for &x in &row {
                feed(&x.to_bits().to_le_bytes());
            }
            feed(&(part.label(i) as u64).to_le_bytes());
        }
    }
    format!("{hash:016x}")
}

/// The result of one cell.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Cell {
    /// Position in the grid, row by row.
    pub index: usize,
    /// The cell's learning rate.
    pub lr: f64,
    /// The cell's L2 penalty.
    pub l2: f64,
    /// Final test accuracy; `None` if training diverged.
    pub test_accuracy: Option<f64>,
    /// Final training accuracy; `None` if training diverged.
    pub train_accuracy: Option<f64>,
    /// Test samples predicted right.
    pub test_correct: Option<usize>,
    /// Training samples predicted right.
    pub train_correct: Option<usize>,
    /// Final mean loss on the test set.
    pub test_loss: Option<f32>,
    /// Final mean loss on the training set.
    pub train_loss: Option<f32>,
    /// The epoch in which the loss or a weight stopped being finite, if it did.
    pub diverged_in_epoch: Option<u32>,
}

impl Cell {
    fn trained(index: usize, (lr, l2): (f64, f64), outcome: &Outcome) -> Cell {
        Cell {
            index,
            lr,
            l2,
            test_accuracy: Some(run::accuracy(&outcome.test)),
            train_accuracy: Some(run::accuracy(&outcome.train)),
            test_correct: Some(outcome.test.correct),
            train_correct: Some(outcome.train.correct),
            test_loss: Some(outcome.test.loss),
            train_loss: Some(outcome.train.loss),
            diverged_in_epoch: None,
        }
    }

    fn diverged(index: usize, (lr, l2): (f64, f64), epoch: u32) -> Cell {
        Cell {
            index,
            lr,
            l2,
            test_accuracy: None,
            train_accuracy: None,
            test_correct: None,
            train_correct: None,
            test_loss: None,
            train_loss: None,
            diverged_in_epoch: Some(epoch),
        }
    }

    /// The cell as flags: `--lr 0.1 --l2 0.001`.
    pub fn flags(&self) -> String {
        format!("--lr {} --l2 {}", number(self.lr), number(self.l2))
    }
}

/// The best of `cells`: the most test samples right, then the lowest test
/// loss, then the first in grid order (smallest learning rate, then
/// smallest penalty); diverged cells never.
pub fn best(cells: &[Cell]) -> Option<&Cell> {
    cells.iter().filter(|c| c.test_correct.is_some()).min_by(|a, b| {
        b.test_correct
            .cmp(&a.test_correct)
            .then_with(|| a.test_loss.unwrap_or(f32::INFINITY).total_cmp(&b.test_loss.unwrap_or(f32::INFINITY)))
            .then_with(|| a.index.cmp(&b.index))
    })
}

/// A sweep's results: the grid, the cells run (all of them, or one
/// shard's), and the best of those. Written by `--out`, printed by `--json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Results {
    /// Always [`FORMAT`].
    pub format: String,
    /// Always [`VERSION`].
    pub version: u32,
    /// What was swept.
    pub grid: Grid,
    /// The shard these cells are, or `None` for the whole grid.
    pub shard: Option<Shard>,
    /// The cells, in grid order.
    pub cells: Vec<Cell>,
    /// The best cell (see [`best`]).
    pub best: Option<Cell>,
}

impl Results {
    /// Results of `cells` (in any order) of `grid`.
    pub fn new(grid: Grid, shard: Option<Shard>, mut cells: Vec<Cell>) -> Self {
        cells.sort_by_key(|c| c.index);
        let best = best(&cells).cloned();
        Results { format: FORMAT.to_owned(), version: VERSION, grid, shard, cells, best }
    }

    /// Reads and checks a results file; errors name it.
    pub fn read(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        let value: Value = serde_json::from_str(&text)
            .with_context(|| format!("{}: not a sweep results file (not JSON)", path.display()))?;
        if value.get("format").and_then(Value::as_str) != Some(FORMAT) {
            bail!("{}: not a sweep results file (no \"format\": \"{FORMAT}\")", path.display());
        }
        let version = value.get("version").and_then(Value::as_u64);
        if version != Some(u64::from(VERSION)) {
            let found = version.map_or_else(|| "none".to_owned(), |v| v.to_string());
            bail!("{}: results file version {found}; this program reads version {VERSION}", path.display());
        }
        let results: Results = serde_json::from_value(value)
            .with_context(|| format!("{}: a malformed sweep results file", path.display()))?;
        results.check().with_context(|| format!("{}: inconsistent sweep results", path.display()))?;
        Ok(results)
    }

    /// Checks that the cells belong to the grid (and shard) and agree with it.
    fn check(&self) -> anyhow::Result<()> {
        let grid = &self.grid;
        for (flag, values) in [("--lr", &grid.lr), ("--l2", &grid.l2)] {
            if values.is_empty() || values.len() > MAX_STEPS || values.iter().any(|v| !v.is_finite() || *v < 0.0) {
                bail!("the grid's {flag} values are not 1 to {MAX_STEPS} finite non-negative numbers");
            }
        }
        if let Some(shard) = self.shard
            && (shard.index == 0 || shard.index > shard.count)
        {
            bail!("shard {}/{}: K must be from 1 to N", shard.index, shard.count);
        }
        let mut seen = vec![false; grid.cells()];
        for cell in &self.cells {
            let Some(slot) = seen.get_mut(cell.index) else {
                bail!("cell {} is outside the grid of {} cells", cell.index, grid.cells());
            };
            if std::mem::replace(slot, true) {
                bail!("cell {} appears twice", cell.index);
            }
            if (cell.lr, cell.l2) != grid.cell(cell.index) {
                bail!(
                    "cell {} has {}, but the grid puts {} there",
                    cell.index,
                    cell.flags(),
                    flags(grid.cell(cell.index))
                );
            }
            if let Some(shard) = self.shard.filter(|s| !s.holds(cell.index)) {
                bail!("cell {} does not belong to shard {}/{}", cell.index, shard.index, shard.count);
            }
            let counts = [(cell.test_correct, grid.test_samples), (cell.train_correct, grid.train_samples)];
            if counts.iter().any(|&(correct, samples)| correct.is_some_and(|c| c > samples)) {
                bail!("cell {} counts more samples right than there are", cell.index);
            }
            if cell.test_correct.is_none() == cell.diverged_in_epoch.is_none() {
                bail!("cell {} must have either results or the epoch it diverged in", cell.index);
            }
        }
        Ok(())
    }
}

/// The flags of a cell from its values.
fn flags((lr, l2): (f64, f64)) -> String {
    format!("--lr {} --l2 {}", number(lr), number(l2))
}

/// Combines results files of one grid into the results of the whole grid.
///
/// Every file must have the same grid (data, settings, values), every cell
/// must be in exactly one file, and none may be missing; each error names the
/// files and cells concerned.
pub fn merge(files: &[(PathBuf, Results)]) -> anyhow::Result<Results> {
    let Some((first_path, first)) = files.first() else {
        bail!("sweep merge: no results files given");
    };
    for (path, results) in &files[1..] {
        if let Some(difference) = first.grid.difference(&results.grid) {
            bail!(
                "{} and {} are results of different sweeps ({difference}); only shards of one grid merge",
                first_path.display(),
                path.display()
            );
        }
    }
    let grid = &first.grid;
    let mut owner: BTreeMap<usize, &Path> = BTreeMap::new();
    let mut cells = Vec::with_capacity(grid.cells());
    for (path, results) in files {
        for cell in &results.cells {
            if let Some(other) = owner.insert(cell.index, path) {
                bail!(
                    "cell {} ({}) is in both {} and {}; give each shard's file once",
                    cell.index,
                    cell.flags(),
                    other.display(),
                    path.display()
                );
            }
            cells.push(cell.clone());
        }
    }
    let missing: Vec<usize> = (0..grid.cells()).filter(|i| !owner.contains_key(i)).collect();
    if !missing.is_empty() {
        const SHOWN: usize = 8;
        let mut listed: Vec<String> =
            missing.iter().take(SHOWN).map(|&i| format!("{i} ({})", flags(grid.cell(i)))).collect();
        if missing.len() > SHOWN {
            listed.push(format!("… ({} in all)", missing.len()));
        }
        let counts: Vec<usize> = files.iter().filter_map(|(_, r)| r.shard.map(|s| s.count)).collect();
        let hint = match counts.first() {
            Some(&n) if counts.iter().all(|&c| c == n) => {
                let mut shards: Vec<usize> = missing.iter().map(|i| i % n + 1).collect();
                shards.dedup();
                shards.sort_unstable();
                shards.dedup();
                let shards: Vec<String> = shards.iter().map(|k| format!("{k}/{n}")).collect();
                format!("; they belong to --shard {}", shards.join(", "))
            }
            _ => String::new(),
        };
        bail!(
            "sweep merge: {} of the grid's {} cells are missing: {}{hint}",
            missing.len(),
            grid.cells(),
            listed.join(", ")
        );
    }
    Ok(Results::new(grid.clone(), None, cells))
}

/// Where a sweep runs: the data and the settings shared by every cell.
#[derive(Clone, Copy)]
pub struct Runner<'a> {
    /// The samples to train on, the same for every cell.
    pub train: &'a dyn SampleSource,
    /// The held-out samples.
    pub test: &'a dyn SampleSource,
    /// Where every cell's network starts (fresh from the seed, or given weights).
    pub start: &'a Start,
    /// The architecture.
    pub arch: &'a Architecture,
    /// Settings of every cell; each cell replaces the rate and the L2 penalty.
    pub base: &'a RunOptions,
    /// Threads that train cells side by side.
    pub threads: usize,
}

impl Runner<'_> {
    /// Trains the cells `indices` of `grid`, up to `threads` at a time, and
    /// returns their results in the order of `indices`. `on_epoch` is called
    /// after every epoch of every cell (from the training threads).
    ///
    /// A cell whose training diverges is a result (`diverged_in_epoch`);
    /// any other error stops the sweep and names the cell.
    pub fn run(&self, grid: &Grid, indices: &[usize], on_epoch: &(dyn Fn() + Sync)) -> anyhow::Result<Vec<Cell>> {
        let next = AtomicUsize::new(0);
        let failed = AtomicBool::new(false);
        let slots: Mutex<Vec<Option<anyhow::Result<Cell>>>> = Mutex::new((0..indices.len()).map(|_| None).collect());
        let workers = self.threads.clamp(1, indices.len().max(1));
        std::thread::scope(|scope| {
            for _ in 0..workers {
                scope.spawn(|| {
                    while !failed.load(Ordering::Relaxed) {
                        let position = next.fetch_add(1, Ordering::Relaxed);
                        let Some(&index) = indices.get(position) else { break };
                        let result = self.cell(grid, index, on_epoch);
                        if result.is_err() {
                            failed.store(true, Ordering::Relaxed);
                        }
                        if let Ok(mut slots) = slots.lock() {
                            slots[position] = Some(result);
                        }
                    }
                });
            }
        });
        let slots = slots.into_inner().map_err(|_| anyhow!("a training thread failed"))?;
        // The first failure in grid order, so the error does not depend on timing.
        let mut cells = Vec::with_capacity(indices.len());
        for slot in slots {
            match slot {
                Some(Ok(cell)) => cells.push(cell),
                Some(Err(e)) => return Err(e),
                None => {}
            }
        }
        if cells.len() != indices.len() {
            bail!("the sweep stopped before every cell was trained");
        }
        Ok(cells)
    }

    /// Trains one cell.
    fn cell(&self, grid: &Grid, index: usize, on_epoch: &(dyn Fn() + Sync)) -> anyhow::Result<Cell> {
        let options = grid.options(self.base, index);
        let values = grid.cell(index);
        let context = || format!("cell {index} of the sweep ({})", flags(values));
        let trainer = Training {
            train: self.train,
            test: self.test,
            validation: None,
            options: &options,
            start: self.start,
            stop: None,
            metadata: "",
            on_epoch: |_: &run::EpochRecord| on_epoch(),
        };
        let trained = arch::with_network(self.arch, trainer).with_context(context)?;
        match trained {
            Ok(outcome) => Ok(Cell::trained(index, values, &outcome)),
            Err(e) => match e.downcast_ref::<Error>() {
                Some(&Error::Diverged { epoch }) => Ok(Cell::diverged(index, values, epoch)),
                _ => Err(e.context(context())),
            },
        }
    }
}

/// Checks every cell's configuration as the network's `f32` will see it,
/// before any training; the error names the cell's flags.
pub fn check_cells(grid: &Grid, base: &RunOptions) -> anyhow::Result<()> {
    for index in 0..grid.cells() {
        let options = grid.options(base, index);
        let config: TrainConfig<AnyOptimizer> = options.train;
        if let Err(e) = config.check::<f32>() {
            bail!("sweep cell {} cannot be trained: {e}", flags(grid.cell(index)));
        }
        if let Err(e) = config.schedule.check::<f32>(config.epochs) {
            bail!("sweep cell {} cannot be trained: {e}", flags(grid.cell(index)));
        }
    }
    Ok(())
}

/// Writes the results as a table of test accuracies, rows `--lr`, columns
/// `--l2`, then the best cell. Cells of other shards show as `·`,
/// diverged ones as `diverged`.
pub fn write_table(out: &mut impl Write, results: &Results) -> io::Result<()> {
    let grid = &results.grid;
    let mut by_index: Vec<Option<&Cell>> = vec![None; grid.cells()];
    for cell in &results.cells {
        if let Some(slot) = by_index.get_mut(cell.index) {
            *slot = Some(cell);
        }
    }
    let text = |cell: Option<&Cell>| match cell {
        None => "·".to_owned(),
        Some(Cell { test_accuracy: Some(a), .. }) => format!("{a:.4}"),
        Some(_) => "diverged".to_owned(),
    };
    let row_labels: Vec<String> = grid.lr.iter().map(|&v| number(v)).collect();
    let column_labels: Vec<String> = grid.l2.iter().map(|&v| number(v)).collect();
    let corner = "lr \\ l2";
    let first = row_labels.iter().map(String::len).chain([corner.len()]).max().unwrap_or(0);
    let width = column_labels.iter().map(|l| l.chars().count()).chain([8]).max().unwrap_or(8) + 2;
    let shard = match results.shard {
        Some(s) => format!(", shard {}/{} ({} of {} cells)", s.index, s.count, results.cells.len(), grid.cells()),
        None => String::new(),
    };
    writeln!(
        out,
        "test accuracy on {} ({} test samples){shard}: {}",
        grid.dataset,
        grid.test_samples,
        grid.describe()
    )?;
    let mut line = format!("{corner:>first$}");
    for label in &column_labels {
        let _ = write!(line, "{label:>width$}");
    }
    writeln!(out, "{line}")?;
    let columns = grid.l2.len();
    for (row, label) in row_labels.iter().enumerate() {
        let mut line = format!("{label:>first$}");
        for column in 0..columns {
            let _ = write!(line, "{:>width$}", text(by_index[row * columns + column]));
        }
        writeln!(out, "{line}")?;
    }
    let diverged = results.cells.iter().filter(|c| c.diverged_in_epoch.is_some()).count();
    if diverged > 0 {
        writeln!(out, "{diverged} cells diverged (the loss or a weight became NaN or infinite)")?;
    }
    match &results.best {
        Some(best) => writeln!(
            out,
            "best: {}, test accuracy {:.4} ({}/{}), training accuracy {:.4}, test loss {:.4}",
            best.flags(),
            best.test_accuracy.unwrap_or(f64::NAN),
            best.test_correct.unwrap_or(0),
            grid.test_samples,
            best.train_accuracy.unwrap_or(f64::NAN),
            best.test_loss.unwrap_or(f32::NAN)
        ),
        None => writeln!(out, "best: none (every cell diverged)"),
    }
}

/// Draws the results as a heat map of test accuracy (see [`crate::plot::sweep_heatmap`]).
pub fn draw(results: &Results, figure: &crate::plot::Figure) -> anyhow::Result<()> {
    let grid = &results.grid;
    let mut values = vec![None; grid.cells()];
    let mut diverged = vec![false; grid.cells()];
    for cell in &results.cells {
        if cell.index < values.len() {
            values[cell.index] = cell.test_accuracy;
            diverged[cell.index] = cell.diverged_in_epoch.is_some();
        }
    }
    let missing =
        |i: usize| if diverged.get(i).copied().unwrap_or(false) { "diverged".to_owned() } else { String::new() };
    let title = format!(
        "test accuracy on {}, {} epochs",
        grid.dataset,
        grid.settings.get("epochs").map_or_else(String::new, Value::to_string)
    );
    let heat = crate::plot::HeatGrid {
        title: &title,
        row_name: "learning rate (--lr)",
        rows: &grid.lr,
        column_name: "L2 penalty (--l2)",
        columns: &grid.l2,
        values: &values,
        missing: &missing,
        best: results.best.as_ref().map(|b| b.index),
    };
    crate::plot::sweep_heatmap(&heat, figure)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_log_spaced_and_exact() {
        let values = Span::parse("--lr", "1e-5..1").unwrap().values("--lr", 6).unwrap();
        assert_eq!(values, [1e-5, 1e-4, 1e-3, 1e-2, 0.1, 1.0]);
        let values = Span::parse("--l2", "0.01..1").unwrap().values("--l2", 3).unwrap();
        assert_eq!(values, [0.01, 0.1, 1.0]);
        assert_eq!(Span::parse("--l2", "0").unwrap().values("--l2", 6).unwrap(), [0.0]);
    }

    #[test]
    fn bad_ranges_name_the_flag_and_the_problem() {
        let error = |text: &str| Span::parse("--lr", text).unwrap_err().to_string();
        assert!(error("1..1e-5").contains("must go up"), "{}", error("1..1e-5"));
        assert!(error("1..1").contains("must go up"));
        assert!(error("0..1").contains("positive bounds"));
        assert!(error("-1..1").contains("positive bounds"));
        assert!(error("a..1").contains("\"a\" is not a number"));
        assert!(error("1..inf").contains("finite"));
        assert!(error("-0.1").contains("negative"));
        let message = Span::parse("--lr", "1e-3..1").unwrap().values("--lr", 1).unwrap_err().to_string();
        assert!(message.contains("--steps 1") && message.contains("at least 2"), "{message}");
        assert!(check_steps(0).is_err() && check_steps(MAX_STEPS + 1).is_err() && check_steps(6).is_ok());
        let message = Span::parse("--lr", "1..1.0000000000001").unwrap().values("--lr", 50).unwrap_err();
        assert!(message.to_string().contains("too narrow"), "{message}");
    }

    #[test]
    fn shards_cut_the_grid_into_interleaved_slices() {
        let shards: Vec<Vec<usize>> = (1..=3).map(|k| Shard { index: k, count: 3 }.cells(8)).collect();
        assert_eq!(shards, [vec![0, 3, 6], vec![1, 4, 7], vec![2, 5]]);
        assert_eq!(Shard::parse("2/8").unwrap(), Shard { index: 2, count: 8 });
        for bad in ["0/2", "3/2", "1/0", "2", "a/b", "1/2/3"] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
    }

    fn cell(index: usize, correct: Option<usize>, loss: f32) -> Cell {
        Cell {
            index,
            lr: 0.1,
            l2: 0.1,
            test_accuracy: correct.map(|c| c as f64 / 10.0),
            train_accuracy: correct.map(|_| 1.0),
            test_correct: correct,
            train_correct: correct.map(|_| 10),
            test_loss: correct.map(|_| loss),
            train_loss: correct.map(|_| 0.1),
            diverged_in_epoch: if correct.is_none() { Some(3) } else { None },
        }
    }

    #[test]
    fn the_best_cell_is_chosen_deterministically() {
        let cells = [cell(0, Some(8), 0.3), cell(1, None, 0.0), cell(2, Some(9), 0.5), cell(3, Some(9), 0.4)];
        assert_eq!(best(&cells).unwrap().index, 3);
        let tied = [cell(0, Some(9), 0.4), cell(1, Some(9), 0.4)];
        assert_eq!(best(&tied).unwrap().index, 0);
        assert!(best(&[cell(0, None, 0.0)]).is_none());
    }
}
