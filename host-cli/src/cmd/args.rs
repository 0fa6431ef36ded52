//! Flag groups that every subcommand working on a network shares: the data,
//! the architecture and the optimizer with its schedule.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail};
use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use clap::{ArgAction, Args, ValueEnum};
use host_cli::arch::{self, Architecture, HiddenActivation};
use host_cli::data::{self, CsvOptions, DatasetSpec, Defaults, Kind, LabelColumn, MoonsOptions, Request, Task};
use host_cli::evaluate::Recorded;
use host_cli::fullbatch::{self, LineSearch, Method};
use host_cli::optim::{AnyOptimizer, OptimizerKind};
use host_cli::report::number;
use mlp_core::dropout::{Dropout, MAX_LAYERS as MAX_DROPOUT_LAYERS};
use mlp_core::optim::{Adagrad, Adam, AdamW, Momentum, Nesterov, RmsProp, Sgd};
use mlp_core::schedule::{Schedule, Shape};
use mlp_core::{Error, Hyperparameter, Init, TrainConfig};

/// Which data, and how it is split.
#[derive(Debug, Args)]
pub struct DataArgs {
    /// The data set: digits or iris (built in), moons (generated from --seed), csv FILE (any numeric
    /// CSV file with a header), or mnist --data DIR (MNIST's four IDX files, or any data set so laid out).
    #[arg(value_name = "DATASET", value_parser = dataset_parser())]
    pub dataset: &'static DatasetSpec,

    /// csv: the file to read (a header line naming the columns, then one sample per line).
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,

    /// digits, iris: read the samples from this file (in the built-in copy's format) instead of the
    /// copy built into the program. mnist: the directory of the four IDX files (train-images-idx3-ubyte,
    /// train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, each gzipped or not).
    #[arg(long, value_name = "PATH")]
    pub data: Option<PathBuf>,

    /// Read only the first N samples of the file (for files larger than memory should hold); mnist: the
    /// first N of its training images and the first N of its test images.
    #[arg(long, value_name = "N")]
    pub max_samples: Option<usize>,

    /// csv: the label column, by header name or by 1-based column number [default: the last column].
    #[arg(long, value_name = "NAME|INDEX")]
    pub label_column: Option<String>,

    /// csv: the column delimiter: one character, or "tab" [default: guessed from the header: , ; or tab].
    #[arg(long, value_name = "CHAR", value_parser = parse_delimiter)]
    pub delimiter: Option<u8>,

    /// csv: whether the label column holds classes (whole numbers 0 to 9) or numbers to predict
    /// [default: classification].
    #[arg(long, value_enum, value_name = "TASK")]
    pub task: Option<Task>,

    /// moons: points to generate [default: 1000].
    #[arg(long, value_name = "N")]
    pub samples: Option<usize>,

    /// moons: standard deviation of the Gaussian noise on each coordinate [default: 0.2].
    #[arg(long, value_name = "SD", allow_negative_numbers = true)]
    pub noise: Option<f64>,

    /// Fraction of each class held out for testing, in (0, 1) [default: 0.2; mnist has its own split].
    #[arg(long, value_name = "FRACTION", allow_negative_numbers = true)]
    pub test_fraction: Option<f64>,

    /// Seed of the split, the initial weights and the shuffles (and of the moons' noise).
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    pub seed: u64,
}

fn dataset_parser() -> impl TypedValueParser<Value = &'static DatasetSpec> {
    PossibleValuesParser::new(data::DATASETS.iter().map(|spec| spec.name)).map(|name| {
        // The possible values are exactly the table's names.
        data::dataset_named(&name).unwrap_or(data::DATASETS[0])
    })
}

/// `--delimiter`: one ASCII character other than a quote or a line break, or "tab".
fn parse_delimiter(text: &str) -> Result<u8, String> {
    match text {
        "tab" | "\\t" | "\t" => Ok(b'\t'),
        _ => match text.as_bytes() {
            [b] if b.is_ascii() && !matches!(b, b'"' | b'\n' | b'\r') => Ok(*b),
            _ => Err(format!("{text:?} is not a delimiter: give one ASCII character (not a quote), or \"tab\"")),
        },
    }
}

/// More threads than any machine this runs on has cores: a typing mistake,
/// refused rather than asking the system for thousands of threads.
pub const MAX_THREADS: usize = 256;

/// `--threads`, checked: at least 1, at most [`MAX_THREADS`].
pub fn check_threads(threads: Option<usize>) -> anyhow::Result<Option<usize>> {
    match threads {
        Some(0) => bail!("invalid --threads 0: at least one thread does the work"),
        Some(n) if n > MAX_THREADS => bail!("invalid --threads {n}: at most {MAX_THREADS}"),
        other => Ok(other),
    }
}

/// A flag that only some data sets take, refused for the others.
fn only_for(flag: &str, given: bool, spec: &DatasetSpec, takes: &[&str]) -> anyhow::Result<()> {
    if given && !takes.contains(&spec.name) {
        bail!("{flag} does not apply to {} (it is for {})", spec.name, takes.join(" and "));
    }
    Ok(())
}

impl DataArgs {
    /// The held-out fraction, checked.
    pub fn test_fraction(&self) -> anyhow::Result<f64> {
        if let (Some(given), Kind::Idx) = (self.test_fraction, self.dataset.kind) {
            bail!(
                "invalid --test-fraction {}: {} comes with its own split (its training and test files); \
                 hold out training images for validation with --validation N instead",
                number(given),
                self.dataset.name
            );
        }
        let fraction = self.test_fraction.unwrap_or(self.dataset.defaults.test_fraction);
        if !(fraction > 0.0 && fraction < 1.0) {
            bail!("invalid --test-fraction {}: must be greater than 0 and less than 1", number(fraction));
        }
        Ok(fraction)
    }

    /// What to read, every flag checked against the data set before any work.
    pub fn request(&self) -> anyhow::Result<Request> {
        let spec = self.dataset;
        let is_csv = matches!(spec.kind, Kind::Csv);
        match (&self.file, is_csv) {
            (None, true) => bail!("csv reads a file: give its path after csv (host-cli train csv FILE)"),
            (Some(file), false) => {
                let hint = match spec.kind {
                    Kind::BuiltIn { .. } => {
                        format!("; to read {} from a file, give --data {}", spec.name, file.display())
                    }
                    Kind::Idx => format!("; give {}'s directory with --data {}", spec.name, file.display()),
                    _ => String::new(),
                };
                bail!("unexpected FILE {} after {}: only csv reads a file given so{hint}", file.display(), spec.name)
            }
            _ => {}
        }
        only_for("--data", self.data.is_some(), spec, &["digits", "iris", "mnist"])?;
        only_for("--label-column", self.label_column.is_some(), spec, &["csv"])?;
        only_for("--delimiter", self.delimiter.is_some(), spec, &["csv"])?;
        only_for("--task", self.task.is_some(), spec, &["csv"])?;
        only_for("--samples", self.samples.is_some(), spec, &["moons"])?;
        only_for("--noise", self.noise.is_some(), spec, &["moons"])?;
        if let Some(max) = self.max_samples.filter(|&n| n < 2) {
            bail!("invalid --max-samples {max}: a split needs at least 2 samples");
        }
        let mut moons = MoonsOptions { seed: self.seed, ..MoonsOptions::DEFAULT };
        if let Some(samples) = self.samples {
            if !(MoonsOptions::MIN_SAMPLES..=MoonsOptions::MAX_SAMPLES).contains(&samples) {
                bail!(
                    "invalid --samples {samples}: must be from {} to {} (each moon needs training and test points)",
                    MoonsOptions::MIN_SAMPLES,
                    MoonsOptions::MAX_SAMPLES
                );
            }
            moons.samples = samples;
        }
        if let Some(noise) = self.noise {
            if !(noise.is_finite() && noise >= 0.0) {
                bail!("invalid --noise {}: must be a finite standard deviation, 0 or more", number(noise));
            }
            moons.noise = noise;
        }
        let csv = CsvOptions {
            label: self.label_column.clone().map_or(LabelColumn::Last, LabelColumn::Named),
            delimiter: self.delimiter,
            task: self.task.unwrap_or_default(),
            max_samples: self.max_samples,
        };
        Ok(Request { file: self.file.clone().or_else(|| self.data.clone()), max_samples: self.max_samples, moons, csv })
    }

    /// The data set and its data flags as given, for a command to repeat: `csv data.csv --label-column y`.
    pub fn command_words(&self) -> String {
        let mut words = vec![self.dataset.name.to_owned()];
        let quoted = |text: &str| {
            if text.chars().all(|c| c.is_ascii_alphanumeric() || "._-/+:=,".contains(c)) {
                text.to_owned()
            } else {
                format!("'{}'", text.replace('\'', "'\\''"))
            }
        };
        if let Some(file) = &self.file {
            words.push(quoted(&file.display().to_string()));
        }
        if let Some(data) = &self.data {
            words.push(format!("--data {}", quoted(&data.display().to_string())));
        }
        if let Some(label) = &self.label_column {
            words.push(format!("--label-column {}", quoted(label)));
        }
        if let Some(delimiter) = self.delimiter {
            let text = if delimiter == b'\t' { "tab".to_owned() } else { char::from(delimiter).to_string() };
            words.push(format!("--delimiter {}", quoted(&text)));
        }
        if let Some(task) = self.task {
            words.push(format!("--task {}", task.name()));
        }
        if let Some(max) = self.max_samples {
            words.push(format!("--max-samples {max}"));
        }
        words.join(" ")
    }

    /// What to read to get the samples a model was trained on: the flags'
    /// request, with what the model records (`recorded`, from `path`) for
    /// every flag left out. A flag that would read other samples than the
    /// model's (--max-samples, --samples, --noise) is an error; the columns
    /// are checked once read ([`check_recorded_columns`]).
    pub fn request_for_model(&self, recorded: &Recorded, path: &Path) -> anyhow::Result<Request> {
        let mut request = self.request()?;
        let path = path.display();
        let differs = |flag: &str, given: String, stored: String| {
            anyhow!("{path}: the model was trained with {flag} {stored}, not {given} (other samples)")
        };
        match (self.max_samples, recorded.max_samples) {
            (Some(given), Some(stored)) if given != stored => {
                return Err(differs("--max-samples", given.to_string(), stored.to_string()));
            }
            (None, Some(stored)) => request.max_samples = Some(stored),
            _ => {}
        }
        request.csv.max_samples = request.max_samples;
        if let Some(stored) = recorded.samples {
            match self.samples {
                Some(given) if given != stored => {
                    return Err(differs("--samples", given.to_string(), stored.to_string()));
                }
                _ => request.moons.samples = stored,
            }
        }
        if let Some(stored) = recorded.noise {
            match self.noise {
                Some(given) if given != stored => return Err(differs("--noise", number(given), number(stored))),
                _ => request.moons.noise = stored,
            }
        }
        if let (None, Some(label)) = (&self.label_column, &recorded.label_column) {
            request.csv.label = LabelColumn::Named(label.clone());
        }
        if let (None, Some(delimiter)) = (self.delimiter, recorded.delimiter) {
            request.csv.delimiter = Some(delimiter);
        }
        if let Some(task) = &recorded.task {
            let stored = Task::from_str(task, true)
                .map_err(|_| anyhow!("{path}: the model records an unknown task {task:?}"))?;
            match self.task {
                Some(given) if given != stored => {
                    return Err(differs("--task", given.name().to_owned(), stored.name().to_owned()));
                }
                _ => request.csv.task = stored,
            }
        }
        Ok(request)
    }
}

/// The network: layer sizes, activation and initialiser.
#[derive(Debug, Args)]
pub struct ArchArgs {
    #[arg(long, value_name = "SIZES", value_delimiter = ',', value_parser = parse_layer_size,
          action = ArgAction::Set, allow_negative_numbers = true, help = hidden_help())]
    pub hidden: Option<Vec<usize>>,

    /// Activation of the hidden layers (the output layer gives logits for softmax cross-entropy).
    #[arg(long, value_enum, default_value_t = HiddenActivation::Relu)]
    pub activation: HiddenActivation,

    /// Weight initialiser; auto is he-uniform for relu and leaky-relu, glorot-uniform for sigmoid and tanh.
    #[arg(long, value_enum, default_value_t = InitName::Auto)]
    pub initializer: InitName,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum InitName {
    /// he-uniform for relu and leaky-relu, glorot-uniform for sigmoid and tanh.
    Auto,
    HeUniform,
    HeNormal,
    GlorotUniform,
    GlorotNormal,
    LecunNormal,
}

impl ArchArgs {
    /// The architecture for `spec`, checked against the compiled-in ones.
    pub fn architecture(&self, spec: &DatasetSpec) -> anyhow::Result<Architecture> {
        self.architecture_for(spec.format.features, spec.format.classes, spec)
    }

    /// The architecture for `inputs` and `outputs` (a CSV file's shape), with
    /// `spec`'s default hidden layers, checked against the compiled-in ones.
    pub fn architecture_for(&self, inputs: usize, outputs: usize, spec: &DatasetSpec) -> anyhow::Result<Architecture> {
        let arch = Architecture {
            inputs,
            hidden: self.hidden.clone().unwrap_or_else(|| spec.defaults.hidden.to_vec()),
            outputs,
            activation: self.activation,
        };
        arch::check(&arch)?;
        Ok(arch)
    }

    /// The initialiser, `auto` resolved.
    pub fn init(&self) -> Init {
        match self.initializer {
            InitName::Auto => self.activation.default_init(),
            InitName::HeUniform => Init::HeUniform,
            InitName::HeNormal => Init::HeNormal,
            InitName::GlorotUniform => Init::GlorotUniform,
            InitName::GlorotNormal => Init::GlorotNormal,
            InitName::LecunNormal => Init::LecunNormal,
        }
    }
}

/// `--hidden`'s help, with the sizes compiled in for each data set.
fn hidden_help() -> String {
    let listed = |inputs, outputs| -> String {
        let lists = arch::supported_hidden(inputs, outputs);
        lists.iter().map(|l| arch::join_hidden(l)).collect::<Vec<_>>().join(" ")
    };
    let per_dataset: Vec<String> = data::DATASETS
        .iter()
        .map(|spec| {
            let default = arch::join_hidden(spec.defaults.hidden);
            if matches!(spec.kind, Kind::Csv) {
                // A CSV file's shape depends on the file: list every one.
                let shapes: Vec<String> = data::CSV_SHAPES
                    .iter()
                    .map(|&(i, o)| format!("{i} inputs and {o} classes: {}", listed(i, o)))
                    .collect();
                format!("csv ({}) [default: {default}]", shapes.join(", "))
            } else {
                format!("{}: {} [default: {default}]", spec.name, listed(spec.format.features, spec.format.classes))
            }
        })
        .collect();
    format!("Hidden-layer sizes, first to last, comma-separated (32 or 64,32); compiled in: {}", per_dataset.join("; "))
}

/// `--lr`'s help, with each data set's rate per optimizer.
fn lr_help() -> String {
    let per_dataset: Vec<String> = data::DATASETS
        .iter()
        .map(|spec| {
            let rates: Vec<String> = OptimizerKind::ALL
                .iter()
                .map(|&kind| format!("{} {}", kind.name(), number(spec.defaults.lr.get(kind))))
                .collect();
            format!("[{}: {}]", spec.name, rates.join(", "))
        })
        .collect();
    format!("Base learning rate, positive {}", per_dataset.join(" "))
}

/// A flag's help with each data set's default, data sets of one default
/// together: `Passes over the training set [digits, iris, csv: 100; moons: 200]`.
fn defaults_help(text: &str, value: fn(&Defaults) -> String) -> String {
    let mut groups: Vec<(String, Vec<&str>)> = Vec::new();
    for spec in data::DATASETS {
        let v = value(&spec.defaults);
        match groups.iter_mut().find(|(g, _)| *g == v) {
            Some((_, names)) => names.push(spec.name),
            None => groups.push((v, vec![spec.name])),
        }
    }
    let shown: Vec<String> = groups.iter().map(|(v, names)| format!("{}: {v}", names.join(", "))).collect();
    format!("{text} [{}]", shown.join("; "))
}

/// One `--hidden` entry: a layer width, spaces around it allowed ("64, 32").
fn parse_layer_size(text: &str) -> Result<usize, String> {
    let text = text.trim();
    text.parse().map_err(|_| format!("{text:?} is not a layer size (a positive whole number)"))
}

/// How to train: epochs, batches, the update rule, its schedule and penalties.
#[derive(Debug, Args)]
pub struct OptimizerArgs {
    #[arg(long, value_name = "N", allow_negative_numbers = true,
          help = defaults_help("Passes over the training set (lbfgs, cg: iterations)", |d| d.epochs.to_string()))]
    pub epochs: Option<u64>,

    #[arg(long, value_name = "N", allow_negative_numbers = true,
          help = defaults_help("Samples per optimizer step, at most the number of training samples", |d| d.batch_size.to_string()))]
    pub batch_size: Option<usize>,

    /// The update rule [default: momentum]; lbfgs and cg take the whole training set as one batch, and
    /// each epoch is one of their iterations.
    #[arg(long, value_enum, value_name = "NAME")]
    pub optimizer: Option<OptimizerName>,

    /// L-BFGS's memory: the corrections kept, at least 1 [default: 10].
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub history: Option<usize>,

    /// How lbfgs and cg find each step [default: more-thuente].
    #[arg(long, value_enum, value_name = "NAME")]
    pub line_search: Option<LineSearch>,

    /// Shorthand for --optimizer nesterov.
    #[arg(long, conflicts_with = "optimizer")]
    pub nesterov: bool,

    #[arg(long, value_name = "RATE", allow_negative_numbers = true, help = lr_help())]
    pub lr: Option<f64>,

    /// Momentum μ of momentum and nesterov, in (0, 1) [digits: 0.9].
    #[arg(long, value_name = "MU", allow_negative_numbers = true)]
    pub momentum: Option<f64>,

    /// Adam's and AdamW's first-moment decay β1, in [0, 1) [default: 0.9].
    #[arg(long, value_name = "B", allow_negative_numbers = true)]
    pub beta1: Option<f64>,

    /// Adam's and AdamW's second-moment decay β2, in [0, 1) [default: 0.999].
    #[arg(long, value_name = "B", allow_negative_numbers = true)]
    pub beta2: Option<f64>,

    /// ε added to the root of the squared-gradient average (adagrad, rmsprop, adam, adamw)
    /// [default: adagrad 1e-10, others 1e-8].
    #[arg(long, value_name = "EPS", allow_negative_numbers = true)]
    pub eps: Option<f64>,

    /// RMSprop's squared-gradient decay ρ, in (0, 1) [default: 0.99].
    #[arg(long, value_name = "RHO", allow_negative_numbers = true)]
    pub rho: Option<f64>,

    /// AdamW's decoupled weight decay λ: w *= 1 - lr·λ before each step [default: 0.01].
    #[arg(long, value_name = "LAMBDA", allow_negative_numbers = true)]
    pub weight_decay: Option<f64>,

    #[arg(long, value_name = "LAMBDA", allow_negative_numbers = true,
          help = defaults_help("L2 penalty on weights, scikit-learn scaling: gradient += l2·W/batch (adamw: 0; lbfgs, cg: 1)", |d| number(d.l2)))]
    pub l2: Option<f64>,

    /// L1 penalty on weights: gradient += l1·sign(W)/batch.
    #[arg(long, value_name = "LAMBDA", allow_negative_numbers = true, default_value_t = 0.0)]
    pub l1: f64,

    /// Scale the mean gradient down to this global norm when it is longer; 0 for no clipping.
    #[arg(long, value_name = "NORM", allow_negative_numbers = true, default_value_t = 0.0)]
    pub clip_norm: f64,

    /// Inverted dropout while training: the probability, in [0, 1), of dropping each hidden unit;
    /// one rate for every hidden layer, or one per hidden layer ("0.5,0.2") [default: 0].
    #[arg(long, value_name = "P[,P...]", allow_negative_numbers = true, value_delimiter = ',')]
    pub dropout: Option<Vec<f64>>,

    /// How the learning rate changes from epoch to epoch [default: inverse-time with --decay, else
    /// cosine for mnist and constant for the others].
    #[arg(long, value_enum, value_name = "SHAPE")]
    pub schedule: Option<ScheduleKind>,

    /// Inverse-time decay: in epoch t (from 0) the rate is lr / (1 + decay·t) [default: 0.01].
    #[arg(long, value_name = "D", allow_negative_numbers = true)]
    pub decay: Option<f64>,

    /// Step schedule: epochs between two cuts of the rate [default: 30].
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub step_every: Option<u32>,

    /// Factor of each cut (step) or of each epoch (exp), in (0, 1] [default: step 0.1, exp 0.95].
    #[arg(long, value_name = "G", allow_negative_numbers = true)]
    pub gamma: Option<f64>,

    /// Cosine schedule: the rate at the end of the run, below --lr [default: 0].
    #[arg(long, value_name = "RATE", allow_negative_numbers = true)]
    pub min_lr: Option<f64>,

    /// Epochs of linear warm-up: epoch t < N runs at (t + 1)/(N + 1) of the scheduled rate.
    #[arg(long, value_name = "N", default_value_t = 0, allow_negative_numbers = true)]
    pub warmup: u32,
}

/// What `--optimizer` takes: a first-order rule (which the firmware runs
/// too), or a full-batch method (host only, [`fullbatch`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OptimizerName {
    /// A first-order rule.
    FirstOrder(OptimizerKind),
    /// L-BFGS or CG.
    FullBatch(Method),
}

impl ValueEnum for OptimizerName {
    fn value_variants<'a>() -> &'a [Self] {
        use OptimizerKind as K;
        const ALL: [OptimizerName; 9] = [
            OptimizerName::FirstOrder(K::Sgd),
            OptimizerName::FirstOrder(K::Momentum),
            OptimizerName::FirstOrder(K::Nesterov),
            OptimizerName::FirstOrder(K::Adagrad),
            OptimizerName::FirstOrder(K::RmsProp),
            OptimizerName::FirstOrder(K::Adam),
            OptimizerName::FirstOrder(K::AdamW),
            OptimizerName::FullBatch(Method::Lbfgs),
            OptimizerName::FullBatch(Method::Cg),
        ];
        &ALL
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        match self {
            OptimizerName::FirstOrder(kind) => kind.to_possible_value(),
            OptimizerName::FullBatch(method) => method.to_possible_value(),
        }
    }
}

/// The learning-rate schedules, as `--schedule` takes them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ScheduleKind {
    /// lr in every epoch
    Constant,
    /// lr / (1 + decay·t)
    InverseTime,
    /// lr · gamma^⌊t / step-every⌋
    Step,
    /// lr · gamma^t
    Exp,
    /// from lr down to min-lr along half a cosine
    Cosine,
}

impl ScheduleKind {
    fn name(self) -> &'static str {
        match self {
            ScheduleKind::Constant => "constant",
            ScheduleKind::InverseTime => "inverse-time",
            ScheduleKind::Step => "step",
            ScheduleKind::Exp => "exp",
            ScheduleKind::Cosine => "cosine",
        }
    }
}

/// More epochs than anyone would wait for (digits with the defaults: over
/// half an hour) is taken for a typing mistake rather than started.
pub const MAX_EPOCHS: u32 = 1_000_000;

/// The smallest learning rate a schedule may reach, as a fraction of the
/// base rate. Below it the weights barely move (while momentum's velocity
/// keeps them drifting), so such a schedule is a typing mistake, not a plan.
pub const MIN_RATE_FRACTION: f64 = 1e-6;

/// A flag's name and the rules or schedules it applies to, for the error
/// that refuses it elsewhere.
fn refuse(flag: &str, given: bool, used_by: &str, chosen: &str) -> anyhow::Result<()> {
    if given {
        bail!("{flag} does not apply to {chosen} (it is used by {used_by})");
    }
    Ok(())
}

impl OptimizerArgs {
    /// The rule chosen by `--optimizer` or `--nesterov`.
    pub fn kind(&self) -> OptimizerKind {
        match (self.optimizer, self.nesterov) {
            (Some(OptimizerName::FirstOrder(kind)), _) => kind,
            (None, true) => OptimizerKind::Nesterov,
            // lbfgs and cg: `config` settles them before asking for a rule.
            _ => OptimizerKind::Momentum,
        }
    }

    /// The full-batch method chosen by `--optimizer lbfgs|cg` with its
    /// flags, or `None` for a first-order rule. A flag that only one kind
    /// takes is an error with the other.
    pub fn full_batch(&self) -> anyhow::Result<Option<fullbatch::Settings>> {
        let Some(OptimizerName::FullBatch(method)) = self.optimizer else {
            let chosen = format!("--optimizer {}", self.kind().name());
            refuse("--history", self.history.is_some(), "lbfgs", &chosen)?;
            refuse("--line-search", self.line_search.is_some(), "lbfgs and cg", &chosen)?;
            return Ok(None);
        };
        let chosen = format!("--optimizer {}", method.name());
        refuse("--history", self.history.is_some() && method != Method::Lbfgs, "lbfgs", &chosen)?;
        let first_order = "the first-order optimizers; the line search chooses each step here";
        for (flag, given) in [
            ("--lr", self.lr.is_some()),
            ("--momentum", self.momentum.is_some()),
            ("--beta1", self.beta1.is_some()),
            ("--beta2", self.beta2.is_some()),
            ("--eps", self.eps.is_some()),
            ("--rho", self.rho.is_some()),
            ("--weight-decay", self.weight_decay.is_some()),
            ("--schedule", self.schedule.is_some()),
            ("--decay", self.decay.is_some()),
            ("--step-every", self.step_every.is_some()),
            ("--gamma", self.gamma.is_some()),
            ("--min-lr", self.min_lr.is_some()),
            ("--warmup", self.warmup != 0),
            ("--clip-norm", self.clip_norm != 0.0),
            ("--dropout", self.dropout.is_some()),
        ] {
            refuse(flag, given, first_order, &chosen)?;
        }
        refuse(
            "--batch-size",
            self.batch_size.is_some(),
            "the first-order optimizers; this one takes every training sample at once",
            &chosen,
        )?;
        refuse("--l1", self.l1 != 0.0, "the first-order optimizers; its objective is not smooth", &chosen)?;
        let mut settings = fullbatch::Settings::new(method);
        if let Some(history) = self.history {
            if !(1..=fullbatch::Settings::MAX_HISTORY).contains(&history) {
                bail!("invalid --history {history}: must be from 1 to {}", fullbatch::Settings::MAX_HISTORY);
            }
            settings.history = history;
        }
        settings.line_search = self.line_search.unwrap_or(settings.line_search);
        Ok(Some(settings))
    }

    /// The training configuration: the data set's defaults where a flag is
    /// left out, every flag checked as the network's `f32` will see it.
    pub fn config(&self, defaults: &Defaults) -> anyhow::Result<TrainConfig<AnyOptimizer>> {
        let epochs = self.epochs.unwrap_or(defaults.epochs.into());
        if epochs > MAX_EPOCHS.into() {
            bail!("invalid --epochs {epochs}: must be at most {MAX_EPOCHS}");
        }
        let epochs = epochs as u32; // at most MAX_EPOCHS, checked above
        if self.full_batch()?.is_some() {
            // What a full-batch run reads of it: the iterations and the penalty.
            let l2 = self.l2.unwrap_or(fullbatch::Settings::DEFAULT_L2);
            // The batch size is unused (the batch is the training set): 1 fits any.
            let config = TrainConfig { epochs, l2, batch_size: 1, ..TrainConfig::new(AnyOptimizer::Sgd(Sgd)) };
            config.check::<f32>().map_err(|e| self.hyperparameter_error(e, &config))?;
            return Ok(config);
        }
        let kind = self.kind();
        let optimizer = self.optimizer_for(kind, defaults)?;
        let schedule = self.schedule(defaults.lr.get(kind), defaults.cosine)?;
        let l2 = self.l2.unwrap_or(if kind == OptimizerKind::AdamW { 0.0 } else { defaults.l2 });
        let config = TrainConfig {
            epochs,
            batch_size: self.batch_size.unwrap_or(defaults.batch_size),
            optimizer,
            schedule,
            l2,
            l1: self.l1,
            clip_norm: self.clip_norm,
            frozen_layers: 0,
            dropout: self.dropout_rates(usize::MAX)?,
        };
        config.check::<f32>().map_err(|e| self.hyperparameter_error(e, &config))?;
        self.check_rate_floor(&config)?;
        Ok(config)
    }

    /// `--dropout` for a network with `hidden_layers` hidden layers (one
    /// rate for all of them, or one each), each rate checked; no dropout
    /// without the flag. With `usize::MAX` the count is not known yet: one
    /// rate then applies to every layer a configuration holds.
    pub fn dropout_rates(&self, hidden_layers: usize) -> anyhow::Result<Dropout> {
        let Some(given) = &self.dropout else { return Ok(Dropout::NONE) };
        let listed = || given.iter().map(|&p| number(p)).collect::<Vec<_>>().join(",");
        if let Some(&p) = given.iter().find(|p| !(0.0..1.0).contains(*p)) {
            bail!(
                "invalid --dropout {}: must be at least 0 and below 1 (the probability of dropping a unit)",
                number(p)
            );
        }
        let mut dropout = Dropout::NONE;
        match given.as_slice() {
            [] => bail!("invalid --dropout: give a rate"),
            &[p] => dropout.rates.iter_mut().take(hidden_layers).for_each(|r| *r = p),
            rates if hidden_layers != usize::MAX && rates.len() != hidden_layers => bail!(
                "invalid --dropout {}: {} rates for a network with {hidden_layers} hidden layer{} \
                 (give one rate for every hidden layer, or one per hidden layer)",
                listed(),
                rates.len(),
                if hidden_layers == 1 { "" } else { "s" }
            ),
            rates if rates.len() > MAX_DROPOUT_LAYERS => {
                bail!("invalid --dropout {}: at most {MAX_DROPOUT_LAYERS} hidden layers take a rate", listed())
            }
            rates => dropout.rates[..rates.len()].copy_from_slice(rates),
        }
        Ok(dropout)
    }

    /// The rule with its flags; a flag the rule does not use is an error.
    fn optimizer_for(&self, kind: OptimizerKind, defaults: &Defaults) -> anyhow::Result<AnyOptimizer> {
        let chosen = format!("--optimizer {}", kind.name());
        let uses = |kinds: &[OptimizerKind]| kinds.contains(&kind);
        use OptimizerKind as K;
        refuse(
            "--momentum",
            self.momentum.is_some() && !uses(&[K::Momentum, K::Nesterov]),
            "momentum and nesterov",
            &chosen,
        )?;
        refuse("--beta1", self.beta1.is_some() && !uses(&[K::Adam, K::AdamW]), "adam and adamw", &chosen)?;
        refuse("--beta2", self.beta2.is_some() && !uses(&[K::Adam, K::AdamW]), "adam and adamw", &chosen)?;
        refuse(
            "--eps",
            self.eps.is_some() && !uses(&[K::Adagrad, K::RmsProp, K::Adam, K::AdamW]),
            "adagrad, rmsprop, adam and adamw",
            &chosen,
        )?;
        refuse("--rho", self.rho.is_some() && kind != K::RmsProp, "rmsprop", &chosen)?;
        refuse("--weight-decay", self.weight_decay.is_some() && kind != K::AdamW, "adamw", &chosen)?;
        let momentum = self.momentum.unwrap_or(defaults.momentum);
        if momentum == 0.0 && uses(&[K::Momentum, K::Nesterov]) {
            let flag = if self.nesterov { "--nesterov" } else { &chosen };
            bail!("invalid --momentum 0: {flag} needs a positive momentum (--optimizer sgd has none)");
        }
        Ok(match kind.with_defaults(momentum) {
            AnyOptimizer::Adagrad(d) => AnyOptimizer::Adagrad(Adagrad { eps: self.eps.unwrap_or(d.eps) }),
            AnyOptimizer::RmsProp(d) => {
                AnyOptimizer::RmsProp(RmsProp { rho: self.rho.unwrap_or(d.rho), eps: self.eps.unwrap_or(d.eps) })
            }
            AnyOptimizer::Adam(d) => AnyOptimizer::Adam(Adam {
                beta1: self.beta1.unwrap_or(d.beta1),
                beta2: self.beta2.unwrap_or(d.beta2),
                eps: self.eps.unwrap_or(d.eps),
            }),
            AnyOptimizer::AdamW(d) => AnyOptimizer::AdamW(AdamW {
                beta1: self.beta1.unwrap_or(d.beta1),
                beta2: self.beta2.unwrap_or(d.beta2),
                eps: self.eps.unwrap_or(d.eps),
                weight_decay: self.weight_decay.unwrap_or(d.weight_decay),
            }),
            other => other,
        })
    }

    /// The schedule with its flags; a flag the schedule does not use is an error.
    fn schedule(&self, default_lr: f64, default_cosine: bool) -> anyhow::Result<Schedule> {
        let kind = self.schedule.unwrap_or(if self.decay.is_some() {
            ScheduleKind::InverseTime
        } else if default_cosine {
            ScheduleKind::Cosine
        } else {
            ScheduleKind::Constant
        });
        let chosen = format!("--schedule {}", kind.name());
        use ScheduleKind as S;
        refuse("--decay", self.decay.is_some() && kind != S::InverseTime, "inverse-time", &chosen)?;
        refuse("--step-every", self.step_every.is_some() && kind != S::Step, "step", &chosen)?;
        refuse("--gamma", self.gamma.is_some() && !matches!(kind, S::Step | S::Exp), "step and exp", &chosen)?;
        refuse("--min-lr", self.min_lr.is_some() && kind != S::Cosine, "cosine", &chosen)?;
        let shape = match kind {
            S::Constant => Shape::Constant,
            S::InverseTime => Shape::InverseTime { decay: self.decay.unwrap_or(0.01) },
            S::Step => Shape::Step { every: self.step_every.unwrap_or(30), gamma: self.gamma.unwrap_or(0.1) },
            S::Exp => Shape::Exponential { gamma: self.gamma.unwrap_or(0.95) },
            S::Cosine => Shape::Cosine { min_lr: self.min_lr.unwrap_or(0.0) },
        };
        Ok(Schedule { lr: self.lr.unwrap_or(default_lr), shape, warmup: self.warmup })
    }

    /// Refuses a schedule under which some epoch's rate falls below
    /// [`MIN_RATE_FRACTION`] of the base rate, naming the flag to change.
    fn check_rate_floor(&self, config: &TrainConfig<AnyOptimizer>) -> anyhow::Result<()> {
        let schedule = config.schedule;
        let checked = schedule.check::<f32>(config.epochs).map_err(|e| self.hyperparameter_error(e, config))?;
        let floor = schedule.lr * MIN_RATE_FRACTION;
        let Some(epoch) = (0..config.epochs).find(|&e| f64::from(checked.rate(e)) < floor) else {
            return Ok(());
        };
        let rate = f64::from(checked.rate(epoch));
        let cause = if epoch < schedule.warmup {
            format!("--warmup {}", schedule.warmup)
        } else {
            match schedule.shape {
                Shape::InverseTime { decay } => format!("--decay {}", number(decay)),
                Shape::Step { gamma, .. } | Shape::Exponential { gamma } => format!("--gamma {}", number(gamma)),
                Shape::Cosine { min_lr } => format!("--min-lr {}", number(min_lr)),
                Shape::Constant => format!("--lr {}", number(schedule.lr)),
            }
        };
        Err(anyhow!(
            "invalid {cause}: epoch {} would train at a learning rate of {rate:.3e}, below {MIN_RATE_FRACTION:e} of \
             --lr {} (the weights would all but stop moving); use a gentler schedule or fewer --epochs",
            epoch + 1,
            number(schedule.lr)
        ))
    }

    /// Names the flag behind a hyperparameter the core rejected.
    fn hyperparameter_error(&self, e: Error, config: &TrainConfig<AnyOptimizer>) -> anyhow::Error {
        let Error::InvalidHyperparameter { name, requirement } = e else {
            return anyhow!(e);
        };
        use Hyperparameter as H;
        let optimizer = config.optimizer;
        let shape = config.schedule.shape;
        let (flag, value) = match name {
            H::Epochs => ("--epochs", config.epochs.to_string()),
            H::BatchSize => ("--batch-size", config.batch_size.to_string()),
            H::LearningRate => ("--lr", number(config.schedule.lr)),
            H::L2 => ("--l2", number(config.l2)),
            H::L1 => ("--l1", number(config.l1)),
            H::ClipNorm => ("--clip-norm", number(config.clip_norm)),
            H::Dropout => {
                let rates: Vec<String> = config.dropout.rates.iter().map(|&p| number(p)).collect();
                ("--dropout", rates.join(","))
            }
            H::Warmup => ("--warmup", config.schedule.warmup.to_string()),
            H::Momentum => match optimizer {
                AnyOptimizer::Momentum(Momentum { momentum }) | AnyOptimizer::Nesterov(Nesterov { momentum }) => {
                    ("--momentum", number(momentum))
                }
                _ => return anyhow!(e),
            },
            H::Beta1 | H::Beta2 | H::Epsilon | H::Rho | H::WeightDecay => {
                let (beta1, beta2, eps, rho, weight_decay) = match optimizer {
                    AnyOptimizer::Adagrad(o) => (0.0, 0.0, o.eps, 0.0, 0.0),
                    AnyOptimizer::RmsProp(o) => (0.0, 0.0, o.eps, o.rho, 0.0),
                    AnyOptimizer::Adam(o) => (o.beta1, o.beta2, o.eps, 0.0, 0.0),
                    AnyOptimizer::AdamW(o) => (o.beta1, o.beta2, o.eps, 0.0, o.weight_decay),
                    _ => return anyhow!(e),
                };
                match name {
                    H::Beta1 => ("--beta1", number(beta1)),
                    H::Beta2 => ("--beta2", number(beta2)),
                    H::Epsilon => ("--eps", number(eps)),
                    H::Rho => ("--rho", number(rho)),
                    _ => ("--weight-decay", number(weight_decay)),
                }
            }
            H::Decay => match shape {
                Shape::InverseTime { decay } => ("--decay", number(decay)),
                _ => return anyhow!(e),
            },
            H::StepEvery => match shape {
                Shape::Step { every, .. } => ("--step-every", every.to_string()),
                _ => return anyhow!(e),
            },
            H::Gamma => match shape {
                Shape::Step { gamma, .. } | Shape::Exponential { gamma } => ("--gamma", number(gamma)),
                _ => return anyhow!(e),
            },
            H::MinLearningRate => match shape {
                Shape::Cosine { min_lr } => ("--min-lr", number(min_lr)),
                _ => return anyhow!(e),
            },
            _ => return anyhow!(e),
        };
        anyhow!("invalid {flag} {value}: must be {requirement}")
    }
}

/// One hyperparameter that a flag sets and a checkpoint stores.
fn differs(differences: &mut Vec<String>, flag: &str, given: Option<f64>, stored: Option<f64>) {
    match (given, stored) {
        (Some(given), Some(stored)) if given != stored => {
            differences.push(format!("{flag} {} (the checkpoint has {})", number(given), number(stored)));
        }
        (Some(given), None) => {
            differences.push(format!("{flag} {} (the checkpoint's training has no such setting)", number(given)));
        }
        _ => {}
    }
}

impl OptimizerArgs {
    /// The configuration to resume a checkpoint with: the checkpoint's own,
    /// with `--epochs` as the new end if given. Any other training flag must
    /// agree with the checkpoint; the error lists every one that does not.
    pub fn resume_config(
        &self,
        stored: TrainConfig<AnyOptimizer>,
        epochs_done: u32,
        hidden_layers: usize,
    ) -> anyhow::Result<TrainConfig<AnyOptimizer>> {
        let mut differences = Vec::new();
        if (self.optimizer.is_some() || self.nesterov) && self.kind().name() != stored.optimizer.name() {
            differences.push(format!(
                "--optimizer {} (the checkpoint has {})",
                self.kind().name(),
                stored.optimizer.name()
            ));
        }
        let record = mlp_core::Optimizer::record(&stored.optimizer);
        let names = record.kind.hyperparameter_names();
        let stored_value = |name: &str| names.iter().position(|&n| n == name).map(|i| record.hyperparameters()[i]);
        differs(&mut differences, "--momentum", self.momentum, stored_value("momentum"));
        differs(&mut differences, "--beta1", self.beta1, stored_value("beta1"));
        differs(&mut differences, "--beta2", self.beta2, stored_value("beta2"));
        differs(&mut differences, "--eps", self.eps, stored_value("eps"));
        differs(&mut differences, "--rho", self.rho, stored_value("rho"));
        differs(&mut differences, "--weight-decay", self.weight_decay, stored_value("weight_decay"));
        if let Some(batch) = self.batch_size.filter(|&b| b != stored.batch_size) {
            differences.push(format!("--batch-size {batch} (the checkpoint has {})", stored.batch_size));
        }
        differs(&mut differences, "--lr", self.lr, Some(stored.schedule.lr));
        differs(&mut differences, "--l2", self.l2, Some(stored.l2));
        // Flags with a default of 0 count as given only when not 0.
        differs(&mut differences, "--l1", Some(self.l1).filter(|&v| v != 0.0), Some(stored.l1));
        differs(&mut differences, "--clip-norm", Some(self.clip_norm).filter(|&v| v != 0.0), Some(stored.clip_norm));
        if self.dropout.is_some() {
            let given = self.dropout_rates(hidden_layers)?;
            if given != stored.dropout {
                let rates = |d: &Dropout| (0..hidden_layers).map(|l| number(d.rate(l))).collect::<Vec<_>>().join(",");
                differences.push(format!(
                    "--dropout {} (the checkpoint has {})",
                    rates(&given),
                    rates(&stored.dropout)
                ));
            }
        }
        let warmup = (self.warmup != 0).then_some(f64::from(self.warmup));
        differs(&mut differences, "--warmup", warmup, Some(f64::from(stored.schedule.warmup)));
        let (kind, decay, every, gamma, min_lr) = match stored.schedule.shape {
            Shape::Constant => (ScheduleKind::Constant, None, None, None, None),
            Shape::InverseTime { decay } => (ScheduleKind::InverseTime, Some(decay), None, None, None),
            Shape::Step { every, gamma } => (ScheduleKind::Step, None, Some(f64::from(every)), Some(gamma), None),
            Shape::Exponential { gamma } => (ScheduleKind::Exp, None, None, Some(gamma), None),
            Shape::Cosine { min_lr } => (ScheduleKind::Cosine, None, None, None, Some(min_lr)),
        };
        if let Some(given) = self.schedule.filter(|&s| s != kind) {
            differences.push(format!("--schedule {} (the checkpoint has {})", given.name(), kind.name()));
        }
        differs(&mut differences, "--decay", self.decay, decay);
        differs(&mut differences, "--step-every", self.step_every.map(f64::from), every);
        differs(&mut differences, "--gamma", self.gamma, gamma);
        differs(&mut differences, "--min-lr", self.min_lr, min_lr);
        if !differences.is_empty() {
            bail!(
                "--resume: these flags differ from the checkpoint's training: {}; leave them out to continue as it was trained",
                differences.join(", ")
            );
        }
        let epochs = match self.epochs {
            None => stored.epochs,
            Some(e) if e > MAX_EPOCHS.into() => bail!("invalid --epochs {e}: must be at most {MAX_EPOCHS}"),
            Some(e) => e as u32, // at most MAX_EPOCHS, checked above
        };
        if epochs <= epochs_done {
            bail!(
                "--resume: the checkpoint has already trained {epochs_done} of {} epochs; \
                 give --epochs above {epochs_done} to train further",
                stored.epochs
            );
        }
        if epochs != stored.epochs && matches!(stored.schedule.shape, Shape::Cosine { .. }) {
            bail!(
                "--resume: the checkpoint's cosine schedule runs over {} epochs; --epochs {epochs} would change the rate \
                 of every epoch left, so it cannot continue bit for bit (leave --epochs out)",
                stored.epochs
            );
        }
        Ok(TrainConfig { epochs, ..stored })
    }
}
