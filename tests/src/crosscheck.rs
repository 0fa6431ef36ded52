//! Golden values for the host↔target cross-checks, computed on the host from
//! fixed seeds and written as Rust source for the firmware to embed.
//!
//! Every `f32` is written as its bit pattern (`u32` hex), so nothing is
//! parsed or rounded on the way to the device: the firmware turns the arrays
//! into floats with `const fn`s at compile time and compares its own results
//! with the expected bits, value by value. Digit images are written as their
//! raw pixels (`0..=16`); an input is `pixel / 16`, exact in `f32`, as the
//! host's loader computes it. See `fixtures/crosscheck/README.md`.

use std::fmt::Write as _;
use std::ops::ControlFlow;
use std::path::PathBuf;

use host_cli::data::{DIGITS, Samples};
use host_cli::split::stratified_split;
use mlp_core::activation::{Relu, Sigmoid, Tanh, sigmoid};
use mlp_core::dropout::{Dropout, DropoutCache};
use mlp_core::loss::SoftmaxCrossEntropy;
use mlp_core::model;
use mlp_core::optim::{Adagrad, Adam, AdamW, Momentum, Nesterov, Optimizer, RmsProp, Sgd};
use mlp_core::schedule::{Schedule, Shape};
use mlp_core::{
    Chain, Dataset, DefaultRng, Dense, DenseGradients, Float, Frozen, Init, Learner, Metrics, Network, Rng,
    SeedableRng, TrainConfig, TrainState, Zeroed, accumulate_sample, accumulate_sample_dropout, evaluate, layers,
    predict_probabilities,
};

/// The digits network of the cross-checks: 64 pixels, 32 ReLU units, 10 logits.
pub type DigitsNet = layers![Dense<f32, 64, 32, Relu>, Dense<f32, 32, 10>];
/// A network with smooth activations, to check `tanh` and the exponential on the target.
pub type SmoothNet = layers![Dense<f32, 64, 16, Tanh>, Dense<f32, 16, 12, Sigmoid>, Dense<f32, 12, 10>];
/// [`DigitsNet`] with its first layer frozen: fine-tuning trains only the head.
pub type TunedNet<'a> = layers![Frozen<'a, f32, 64, 32, Relu>, Dense<f32, 32, 10>];
/// One digit image as network input.
pub type Image = [f32; 64];
/// One value per digit: logits or probabilities.
pub type Scores = [f32; 10];

/// Where the fixtures live, relative to the repository root.
pub const DIR: &str = "fixtures/crosscheck";
/// The command that regenerates them, from the repository root.
pub const COMMAND: &str = "cargo run -p mlp-tests --bin crosscheck-fixtures";

/// Seed of the stratified train/test split of the digits.
pub const SPLIT_SEED: u64 = 7;
/// Fraction of each class held out by that split.
pub const TEST_FRACTION: f64 = 0.2;
/// Seed of the host-trained digits network (initialisation, then shuffles).
pub const DIGITS_SEED: u64 = 11;
/// Seed of the host-trained smooth network.
pub const SMOOTH_SEED: u64 = 12;
/// Seed of the math-routine inputs.
pub const MATH_SEED: u64 = 13;
/// Seed of on-device training (initialisation on the device, then shuffles).
pub const TRAIN_SEED: u64 = 2024;
/// Seed of on-device fine-tuning (the head's initialisation, then shuffles).
pub const FINETUNE_SEED: u64 = 2025;

/// How the digits network of the inference fixture is trained on the host.
pub const DIGITS_CONFIG: TrainConfig = TrainConfig {
    epochs: 6,
    batch_size: 32,
    schedule: Schedule::constant(0.1),
    l2: 1e-3,
    ..TrainConfig::new(Momentum { momentum: 0.9 })
};
/// How the smooth network is trained on the host.
pub const SMOOTH_CONFIG: TrainConfig = TrainConfig {
    epochs: 8,
    batch_size: 32,
    schedule: Schedule::constant(0.2),
    ..TrainConfig::new(Momentum { momentum: 0.9 })
};
/// On-device training.
pub const TRAIN_CONFIG: TrainConfig = TrainConfig {
    epochs: 5,
    batch_size: 16,
    schedule: Schedule::constant(0.05),
    l2: 1e-4,
    ..TrainConfig::new(Momentum { momentum: 0.9 })
};
/// On-device fine-tuning of the head.
pub const FINETUNE_CONFIG: TrainConfig = TrainConfig {
    epochs: 4,
    batch_size: 16,
    schedule: Schedule { lr: 0.05, shape: Shape::InverseTime { decay: 0.3 }, warmup: 0 },
    ..TrainConfig::new(Momentum { momentum: 0.9 })
};
/// The initialiser on the device for full training.
pub const TRAIN_INIT: Init = Init::HeUniform;
/// The initialiser of the fine-tuned head.
pub const FINETUNE_INIT: Init = Init::GlorotUniform;

/// Test images in the inference fixture.
pub const INFERENCE_SAMPLES: usize = 16;
/// Images in the gradient fixture's minibatch.
pub const GRADIENT_BATCH: usize = 32;
/// Sizes of the optimizer fixture's minibatches: a short last one, as at the
/// end of an epoch, and 1/24 is not exact in binary.
pub const STEP_BATCHES: [usize; 5] = [24, 24, 24, 24, 13];
/// Inputs of the math-routine check.
pub const MATH_VALUES: usize = 256;
/// Training images per class embedded for on-device training (400 in all:
/// the order buffer then takes 800 bytes of the 32 KiB).
pub const TRAIN_PER_CLASS: usize = 40;
/// Held-out images per class.
pub const TEST_PER_CLASS: usize = 20;

/// A configuration of the optimizer fixture: `STEP_BATCHES.len()` epochs (one
/// step each), the rest from the arguments.
const fn step_config<O: Optimizer>(optimizer: O, schedule: Schedule, l2: f64, clip_norm: f64) -> TrainConfig<O> {
    TrainConfig {
        epochs: STEP_BATCHES.len() as u32,
        batch_size: 24,
        schedule,
        l2,
        clip_norm,
        ..TrainConfig::new(optimizer)
    }
}

/// Optimizer case: momentum with L2, a constant rate.
pub const MOMENTUM_L2: TrainConfig<Momentum> =
    step_config(Momentum { momentum: 0.9 }, Schedule::constant(0.1), 1e-3, 0.0);
/// Optimizer case: momentum with L2 and dropout on the hidden layer, its
/// masks drawn from the fresh state's generator before each sample.
pub const DROPOUT: TrainConfig<Momentum> = TrainConfig { dropout: Dropout::uniform(0.3, 1), ..MOMENTUM_L2 };
/// Optimizer case: Nesterov momentum with L2.
pub const NESTEROV: TrainConfig<Nesterov> =
    step_config(Nesterov { momentum: 0.9 }, Schedule::constant(0.05), 1e-3, 0.0);
/// Optimizer case: momentum with an inverse-time decay of the rate.
pub const DECAY: TrainConfig<Momentum> = step_config(
    Momentum { momentum: 0.5 },
    Schedule { lr: 0.1, shape: Shape::InverseTime { decay: 0.3 }, warmup: 0 },
    0.0,
    0.0,
);
/// Optimizer case: plain SGD with L1 and L2.
pub const L1: TrainConfig<Sgd> = TrainConfig { l1: 1e-3, ..step_config(Sgd, Schedule::constant(0.1), 1e-4, 0.0) };
/// Optimizer case: Adagrad, the rate halved every two epochs.
pub const ADAGRAD: TrainConfig<Adagrad> = step_config(
    Adagrad::DEFAULT,
    Schedule { lr: 0.05, shape: Shape::Step { every: 2, gamma: 0.5 }, warmup: 0 },
    0.0,
    0.0,
);
/// Optimizer case: RMSprop with an exponential schedule after a warm-up
/// epoch, the mean gradient clipped.
pub const RMSPROP: TrainConfig<RmsProp> = step_config(
    RmsProp::DEFAULT,
    Schedule { lr: 0.01, shape: Shape::Exponential { gamma: 0.8 }, warmup: 1 },
    0.0,
    CLIP_NORM,
);
/// Optimizer case: Adam with L2.
pub const ADAM_L2: TrainConfig<Adam> = step_config(Adam::DEFAULT, Schedule::constant(0.01), 1e-3, 0.0);
/// Optimizer case: AdamW with a cosine schedule, the mean gradient clipped.
pub const ADAMW: TrainConfig<AdamW> = step_config(
    AdamW { weight_decay: 0.05, ..AdamW::DEFAULT },
    Schedule { lr: 0.01, shape: Shape::Cosine { min_lr: 0.001 }, warmup: 0 },
    0.0,
    CLIP_NORM,
);
/// The clip norm of the clipped cases: below every step's mean-gradient
/// norm, so that clipping changes every step.
pub const CLIP_NORM: f64 = 0.05;

/// One generated file: its name in [`DIR`] and its contents, Rust source
/// (`.rs`) or a binary model file (`.mlpm`).
#[derive(Clone, Debug, PartialEq)]
pub struct Fixture {
    /// File name.
    pub name: String,
    /// Contents.
    pub bytes: Vec<u8>,
}

impl Fixture {
    fn source(name: &str, source: Source) -> Self {
        Fixture { name: name.to_owned(), bytes: source.0.into_bytes() }
    }

    fn model(name: String, bytes: Vec<u8>) -> Self {
        Fixture { name, bytes }
    }
}

/// `fixtures/crosscheck` in this repository.
pub fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join(DIR)
}

/// The trained digits model that `host-cli export --format rust` exported
/// (`fixtures/exported/digits_64_32_10.rs`, `pub static MODEL`), relative to
/// the repository root: the fine-tuning fixture starts from it.
pub const EXPORTED_MODEL: &str = "fixtures/exported/digits_64_32_10.mlpm";

/// The exported digits model, read from its model file ([`EXPORTED_MODEL`]).
pub fn exported_model() -> Result<DigitsNet, String> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join(EXPORTED_MODEL);
    let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut net = DigitsNet::default();
    model::read_model(&bytes, &mut net).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(net)
}

/// Images and labels, as the core's [`Dataset`] borrows them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Images {
    /// Inputs, `pixel / 16`.
    pub inputs: Vec<Image>,
    /// Digits.
    pub labels: Vec<usize>,
}

impl Images {
    fn from_samples(samples: &Samples) -> Result<Self, String> {
        let inputs = (0..samples.len())
            .map(|i| Image::try_from(samples.row(i)).map_err(|_| format!("digit {i} is not 64 pixels")))
            .collect::<Result<_, _>>()?;
        Ok(Images { inputs, labels: samples.labels.clone() })
    }

    /// The images as a data set.
    pub fn dataset(&self) -> Result<Dataset<'_, Image, usize>, String> {
        Dataset::new(&self.inputs, &self.labels).map_err(|e| e.to_string())
    }

    /// The first `n` images.
    fn take(&self, n: usize) -> Images {
        Images { inputs: self.inputs[..n].to_vec(), labels: self.labels[..n].to_vec() }
    }

    /// The first `per_class` images of every class, keeping their order.
    pub fn stratified(&self, per_class: usize) -> Images {
        let mut taken = [0usize; 10];
        let mut out = Images::default();
        for (x, &label) in self.inputs.iter().zip(&self.labels) {
            if taken[label] < per_class {
                taken[label] += 1;
                out.inputs.push(*x);
                out.labels.push(label);
            }
        }
        out
    }
}

/// The raw pixels of an image; fails unless every input is exactly `pixel / 16`.
pub fn pixels(x: &Image) -> Result<[u8; 64], String> {
    let mut out = [0u8; 64];
    for (p, &v) in out.iter_mut().zip(x) {
        let raw = v * 16.0;
        if !(0.0..=16.0).contains(&raw) || raw.fract() != 0.0 {
            return Err(format!("input {v} is not a pixel in 0..=16 divided by 16"));
        }
        *p = raw as u8;
        if f32::from(*p) / 16.0 != v {
            return Err(format!("input {v} does not round-trip through its pixel"));
        }
    }
    Ok(out)
}

/// The digits split into the host's training and held-out parts.
pub fn digits() -> Result<(Images, Images), String> {
    let samples = DIGITS.load(None).map_err(|e| e.to_string())?;
    let split = stratified_split(&samples, TEST_FRACTION, SPLIT_SEED).map_err(|e| e.to_string())?;
    Ok((Images::from_samples(&split.train)?, Images::from_samples(&split.test)?))
}

/// Trains `net` with `state` (its generator already seeded) until `config.epochs`.
fn run<N, const O: usize>(
    net: &mut N,
    state: &mut TrainState<N>,
    data: &Images,
    config: &TrainConfig,
) -> Result<Metrics<f32>, String>
where
    N: Network<Scalar = f32, Input = Image, Output = [f32; O]>,
{
    let mut order = vec![0u16; data.inputs.len()];
    let mut learner = Learner::new(net, state, &mut order, SoftmaxCrossEntropy, config).map_err(|e| e.to_string())?;
    let summary = learner.fit(data.dataset()?, |_, _| ControlFlow::Continue(())).map_err(|e| e.to_string())?;
    Ok(summary.last.train)
}

/// A fresh state whose generator is seeded with `seed`, and a network
/// initialised from it: one stream initialises, then shuffles.
fn seeded<N: Network<Scalar = f32>, O: Optimizer>(
    net: &mut N,
    init: Init,
    seed: u64,
) -> Result<TrainState<N, O>, String> {
    let mut state = TrainState::<N, O>::new();
    state.persistent.rng = DefaultRng::seed_from_u64(seed);
    net.initialize(init, &mut state.persistent.rng).map_err(|e| e.to_string())?;
    Ok(state)
}

/// The host-trained digits network.
pub fn trained_digits(train_set: &Images) -> Result<DigitsNet, String> {
    let mut net = DigitsNet::default();
    let mut state = seeded(&mut net, Init::HeUniform, DIGITS_SEED)?;
    run(&mut net, &mut state, train_set, &DIGITS_CONFIG)?;
    Ok(net)
}

/// The host-trained smooth network.
pub fn trained_smooth(train_set: &Images) -> Result<SmoothNet, String> {
    let mut net = SmoothNet::default();
    let mut state = seeded(&mut net, Init::GlorotUniform, SMOOTH_SEED)?;
    run(&mut net, &mut state, train_set, &SMOOTH_CONFIG)?;
    Ok(net)
}

/// Raw outputs and softmax probabilities of every input.
pub fn infer<N>(net: &N, inputs: &[Image]) -> Result<(Vec<Scores>, Vec<Scores>), String>
where
    N: Network<Scalar = f32, Input = Image, Output = [f32; 10]>,
{
    let mut activations = N::Activations::zeroed();
    let mut outputs = Vec::new();
    let mut probabilities = Vec::new();
    for x in inputs {
        outputs.push(*net.forward(x, &mut activations));
        let mut p = [0.0; 10];
        predict_probabilities(net, SoftmaxCrossEntropy, x, &mut activations, &mut p).map_err(|e| e.to_string())?;
        probabilities.push(p);
    }
    Ok((outputs, probabilities))
}

/// The gradient summed over `batch` from a fresh state, and each sample's loss.
pub fn batch_gradient<N>(net: &N, batch: &Images) -> (TrainState<N>, Vec<f32>)
where
    N: Network<Scalar = f32, Input = Image, Output = [f32; 10]>,
{
    let mut state = TrainState::<N>::new();
    let losses = batch
        .inputs
        .iter()
        .zip(&batch.labels)
        .map(|(x, label)| accumulate_sample(net, &mut state, SoftmaxCrossEntropy, x, label).0)
        .collect();
    (state, losses)
}

/// The network and its state after one step per minibatch, the minibatches
/// `sizes` long and one after another in `data`, from `start` and a fresh
/// state, step `k` in epoch `k` (the epoch sets the scheduled rate).
pub fn steps<O: Optimizer>(
    start: &DigitsNet,
    data: &Images,
    sizes: &[usize],
    config: &TrainConfig<O>,
) -> Result<(DigitsNet, Box<TrainState<DigitsNet, O>>), String> {
    if sizes.iter().sum::<usize>() != data.inputs.len() {
        return Err(format!("minibatches of {sizes:?} do not cover {} samples", data.inputs.len()));
    }
    let mut net = start.clone();
    let mut state = Box::new(TrainState::<DigitsNet, O>::new());
    let rule = config.dropout.check::<f32>().map_err(|e| e.to_string())?;
    let mut cache = DropoutCache::<DigitsNet>::new();
    let mut first = 0;
    for (epoch, &len) in (0u32..).zip(sizes) {
        let end = first + len;
        for (x, label) in data.inputs[first..end].iter().zip(&data.labels[first..end]) {
            if rule.is_active() {
                accumulate_sample_dropout::<_, _, SoftmaxCrossEntropy, f32, 10>(
                    &net, &mut state, &mut cache, &rule, x, label,
                );
            } else {
                accumulate_sample(&net, &mut state, SoftmaxCrossEntropy, x, label);
            }
        }
        state.persistent.epoch = epoch;
        let mut no_order: [u16; 0] = [];
        Learner::new(&mut net, &mut state, &mut no_order, SoftmaxCrossEntropy, config)
            .map_err(|e| e.to_string())?
            .step(len);
        first = end;
    }
    Ok((net, state))
}

/// Inputs of the math-routine check: special points, then seeded draws on [−20, 20).
pub fn math_inputs() -> Vec<f32> {
    let mut values = vec![0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 1e-30, -1e-30, 88.0, -87.0, 9.0, -9.0, 20.0, -20.0];
    let mut rng = DefaultRng::seed_from_u64(MATH_SEED);
    while values.len() < MATH_VALUES {
        let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        values.push((40.0 * u - 20.0) as f32);
    }
    values
}

/// `exp`, `tanh`, the logistic function and `ln |x|` of every input, as the core computes them.
pub fn math_outputs(x: &[f32]) -> [Vec<f32>; 4] {
    [
        x.iter().map(|&v| Float::exp(v)).collect(),
        x.iter().map(|&v| Float::tanh(v)).collect(),
        x.iter().map(|&v| sigmoid(v)).collect(),
        x.iter().map(|&v| Float::ln(Float::abs(v))).collect(),
    ]
}

/// A seed, an initialiser and a training run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Run {
    /// Seeds the one generator that initialises, then shuffles.
    pub seed: u64,
    /// The initialiser.
    pub init: Init,
    /// The training run.
    pub config: TrainConfig,
}

/// Trains a zeroed digits network on `train_set` as the device does: the
/// weights are drawn from the run's seed, and the same generator shuffles.
/// Returns the network and the last epoch's running metrics.
pub fn device_training(train_set: &Images, run_with: &Run) -> Result<(DigitsNet, Metrics<f32>), String> {
    let mut net = DigitsNet::default();
    let mut state = seeded(&mut net, run_with.init, run_with.seed)?;
    let metrics = run(&mut net, &mut state, train_set, &run_with.config)?;
    Ok((net, metrics))
}

/// Fine-tunes a zeroed head behind `features` as the device does (only the head draws weights).
pub fn device_finetuning(
    features: &Dense<f32, 64, 32, Relu>,
    train_set: &Images,
    run_with: &Run,
) -> Result<(Dense<f32, 32, 10>, Metrics<f32>), String> {
    let mut net: TunedNet<'_> = Chain::new(Frozen(features), Dense::zeroed());
    let mut state = seeded(&mut net, run_with.init, run_with.seed)?;
    let metrics = run(&mut net, &mut state, train_set, &run_with.config)?;
    Ok((net.tail, metrics))
}

/// Mean loss and accuracy on `data`.
pub fn held_out<N>(net: &N, data: &Images) -> Result<Metrics<f32>, String>
where
    N: Network<Scalar = f32, Input = Image, Output = [f32; 10]>,
{
    let mut activations = N::Activations::zeroed();
    evaluate(net, &mut activations, SoftmaxCrossEntropy, data.dataset()?).map_err(|e| e.to_string())
}

/// The network of the resume cross-check: 64 pixels, 16 tanh units, 10
/// logits. Small, so that the device keeps one training state, the
/// network and a checkpoint buffer in little RAM.
pub type ResumeNet = layers![Dense<f32, 64, 16, Tanh>, Dense<f32, 16, 10>];
/// Seed of the resume cases (initialisation, then shuffles).
pub const RESUME_SEED: u64 = 2026;
/// The initialiser of the resume cases.
pub const RESUME_INIT: Init = Init::GlorotUniform;
/// Epochs the host trains before it writes the checkpoint the device resumes.
pub const RESUME_HOST_EPOCHS: u32 = 2;
/// Epochs each side trains after reading the other's checkpoint: the device
/// from the host's, then the host from the device's.
pub const RESUME_EPOCHS: u32 = 2;

/// A resume case's configuration: the whole run (host, device, host again)
/// in epochs over the on-device training digits, in minibatches of 32 (the
/// last one of each epoch is 16).
const fn resume_config<O: Optimizer>(optimizer: O, schedule: Schedule, l2: f64, clip_norm: f64) -> TrainConfig<O> {
    TrainConfig {
        epochs: RESUME_HOST_EPOCHS + 2 * RESUME_EPOCHS,
        batch_size: 32,
        schedule,
        l2,
        clip_norm,
        ..TrainConfig::new(optimizer)
    }
}

/// Resume case: SGD with L1 and L2.
pub const RESUME_SGD: TrainConfig<Sgd> =
    TrainConfig { l1: 1e-4, ..resume_config(Sgd, Schedule::constant(0.1), 1e-4, 0.0) };
/// Resume case: momentum with an inverse-time decay and L2.
pub const RESUME_MOMENTUM: TrainConfig<Momentum> = resume_config(
    Momentum { momentum: 0.9 },
    Schedule { lr: 0.05, shape: Shape::InverseTime { decay: 0.3 }, warmup: 0 },
    1e-3,
    0.0,
);
/// Resume case: Nesterov momentum fine-tuning the last layer (the first one
/// frozen by the configuration, so the checkpoint stores no state for it).
pub const RESUME_NESTEROV: TrainConfig<Nesterov> =
    TrainConfig { frozen_layers: 1, ..resume_config(Nesterov { momentum: 0.9 }, Schedule::constant(0.05), 1e-3, 0.0) };
/// Resume case: Adagrad, the rate halved every two epochs, so that it
/// changes at each side's first epoch.
pub const RESUME_ADAGRAD: TrainConfig<Adagrad> = resume_config(
    Adagrad::DEFAULT,
    Schedule { lr: 0.05, shape: Shape::Step { every: 2, gamma: 0.5 }, warmup: 0 },
    0.0,
    0.0,
);
/// Resume case: RMSprop with a warm-up epoch, an exponential schedule and clipping.
pub const RESUME_RMSPROP: TrainConfig<RmsProp> = resume_config(
    RmsProp::DEFAULT,
    Schedule { lr: 0.01, shape: Shape::Exponential { gamma: 0.8 }, warmup: 1 },
    0.0,
    RESUME_CLIP_NORM,
);
/// Resume case: Adam with L2.
pub const RESUME_ADAM: TrainConfig<Adam> = resume_config(Adam::DEFAULT, Schedule::constant(0.01), 1e-3, 0.0);
/// Resume case: AdamW with a cosine schedule and clipping.
pub const RESUME_ADAMW: TrainConfig<AdamW> = resume_config(
    AdamW { weight_decay: 0.05, ..AdamW::DEFAULT },
    Schedule { lr: 0.01, shape: Shape::Cosine { min_lr: 0.001 }, warmup: 0 },
    0.0,
    RESUME_CLIP_NORM,
);
/// The clip norm of the clipped resume cases.
pub const RESUME_CLIP_NORM: f64 = 0.5;

/// What is done with each resume case, one optimizer type at a time.
pub trait ResumeCases {
    /// One case: the optimizer `O` (its [`Optimizer::NAME`] names the files) and its configuration.
    fn case<O: Optimizer>(&mut self, config: &TrainConfig<O>) -> Result<(), String>;
}

/// Visits every resume case: one per optimizer.
pub fn resume_cases(cases: &mut impl ResumeCases) -> Result<(), String> {
    cases.case(&RESUME_SGD)?;
    cases.case(&RESUME_MOMENTUM)?;
    cases.case(&RESUME_NESTEROV)?;
    cases.case(&RESUME_ADAGRAD)?;
    cases.case(&RESUME_RMSPROP)?;
    cases.case(&RESUME_ADAM)?;
    cases.case(&RESUME_ADAMW)
}

/// The host's checkpoint of a resume case, which the device resumes.
pub fn checkpoint_name<O: Optimizer>() -> String {
    format!("checkpoint_{}.mlpm", O::NAME)
}

/// The checkpoint the device must write after its [`RESUME_EPOCHS`], as the host computed it.
pub fn resumed_name<O: Optimizer>() -> String {
    format!("checkpoint_{}_resumed.mlpm", O::NAME)
}

/// The file the device hands its own checkpoint out as (a semihosting
/// write, in QEMU's working directory).
pub fn device_checkpoint_name<O: Optimizer>() -> String {
    format!("resume_{}.mlpm", O::NAME)
}

/// The digits the device trains on, those of `subsets.rs`: the first
/// [`TRAIN_PER_CLASS`] of each class in the training split.
pub fn device_train_set() -> Result<Images, String> {
    Ok(digits()?.0.stratified(TRAIN_PER_CLASS))
}

/// A resume case's network and state after [`RESUME_HOST_EPOCHS`] on the
/// host: initialised from [`RESUME_SEED`], whose generator then shuffles.
pub fn resume_start<O: Optimizer>(
    config: &TrainConfig<O>,
    data: &Images,
) -> Result<(ResumeNet, Box<TrainState<ResumeNet, O>>), String> {
    let mut net = ResumeNet::default();
    let mut state = Box::new(seeded::<ResumeNet, O>(&mut net, RESUME_INIT, RESUME_SEED)?);
    train_epochs(&mut net, &mut state, config, data, RESUME_HOST_EPOCHS)?;
    Ok((net, state))
}

/// `epochs` more epochs of `config` (each one shuffled by the state's
/// generator), as a device runs them: `Learner::epoch`, one sample at a time.
pub fn train_epochs<N, O, const K: usize>(
    net: &mut N,
    state: &mut TrainState<N, O>,
    config: &TrainConfig<O>,
    data: &Images,
    epochs: u32,
) -> Result<(), String>
where
    N: Network<Scalar = f32, Input = Image, Output = [f32; K]>,
    O: Optimizer,
{
    let mut order = vec![0u16; data.inputs.len()];
    let mut learner = Learner::new(net, state, &mut order, SoftmaxCrossEntropy, config).map_err(|e| e.to_string())?;
    for _ in 0..epochs {
        learner.epoch(data.dataset()?).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// `net`, its optimizer state and position, and `config` as a checkpoint.
pub fn checkpoint<N: Network, O: Optimizer>(
    net: &N,
    state: &TrainState<N, O>,
    config: &TrainConfig<O>,
) -> Result<Vec<u8>, String> {
    let mut file = vec![0u8; model::checkpoint_bytes::<N, O>() + model::dropout_section_bytes::<N>()];
    let written = model::write_checkpoint(net, &state.persistent, config, &mut file).map_err(|e| e.to_string())?;
    file.truncate(written);
    Ok(file)
}

/// A resumed run: the network, its training state and the configuration
/// its checkpoint held.
pub type Resumed<O> = (ResumeNet, Box<TrainState<ResumeNet, O>>, TrainConfig<O>);

/// Reads a resume case's checkpoint and trains `epochs` more epochs from it.
pub fn resume_from<O: Optimizer>(file: &[u8], data: &Images, epochs: u32) -> Result<Resumed<O>, String> {
    let mut net = ResumeNet::default();
    let mut state = Box::new(TrainState::<ResumeNet, O>::new());
    let config = model::read_checkpoint(file, &mut net, &mut state.persistent).map_err(|e| e.to_string())?;
    train_epochs(&mut net, &mut state, &config, data, epochs)?;
    Ok((net, state, config))
}

/// Writes each resume case's two checkpoints: the host's after
/// [`RESUME_HOST_EPOCHS`], and what the device must write after
/// [`RESUME_EPOCHS`] more (the host resuming from the first file).
struct ResumeFixtures<'a> {
    data: &'a Images,
    out: Vec<Fixture>,
}

impl ResumeCases for ResumeFixtures<'_> {
    fn case<O: Optimizer>(&mut self, config: &TrainConfig<O>) -> Result<(), String> {
        let (net, state) = resume_start(config, self.data)?;
        let start = checkpoint(&net, &state, config)?;
        let (net, state, read) = resume_from::<O>(&start, self.data, RESUME_EPOCHS)?;
        if read != *config {
            return Err(format!("{}: the checkpoint gave back {read:?}, not {config:?}", O::NAME));
        }
        let resumed = checkpoint(&net, &state, config)?;
        self.out.push(Fixture::model(checkpoint_name::<O>(), start));
        self.out.push(Fixture::model(resumed_name::<O>(), resumed));
        Ok(())
    }
}

/// Rust source of constants.
struct Source(String);

const HEADER: &str = "// @generated by `cargo run -p mlp-tests --bin crosscheck-fixtures`: do not edit.\n\
                      // f32 values are bit patterns (f32::to_bits); see README.md in this directory.\n";

impl Source {
    fn new(what: &str) -> Self {
        Source(format!("{HEADER}// {what}\n"))
    }

    fn doc(&mut self, doc: &str) {
        for line in doc.lines() {
            let _ = writeln!(self.0, "\n/// {line}");
        }
    }

    fn item(&mut self, doc: &str, declaration: &str, value: &str) {
        self.doc(doc);
        let _ = writeln!(self.0, "pub const {declaration} = {value};");
    }

    /// `[a, b, …]` with `per_line` values a line, indented by `indent`.
    fn list(values: &[String], per_line: usize, indent: usize) -> String {
        let pad = " ".repeat(indent + 4);
        let mut s = String::from("[\n");
        for line in values.chunks(per_line) {
            let _ = writeln!(s, "{pad}{},", line.join(", "));
        }
        s.push_str(&" ".repeat(indent));
        s.push(']');
        s
    }

    fn bits(values: &[f32]) -> Vec<String> {
        values.iter().map(|v| format!("0x{:08x}", v.to_bits())).collect()
    }

    fn floats(&mut self, doc: &str, name: &str, values: &[f32]) {
        let value = Self::list(&Self::bits(values), 8, 0);
        self.item(doc, &format!("{name}: [u32; {}]", values.len()), &value);
    }

    fn float_rows<R: AsRef<[f32]>>(&mut self, doc: &str, name: &str, rows: &[R]) {
        let width = rows.first().map_or(0, |r| r.as_ref().len());
        let body: Vec<String> = rows.iter().map(|r| Self::list(&Self::bits(r.as_ref()), 8, 4)).collect();
        let value = Self::list(&body, 1, 0);
        self.item(doc, &format!("{name}: [[u32; {width}]; {}]", rows.len()), &value);
    }

    fn scalar(&mut self, doc: &str, name: &str, value: f32) {
        self.item(doc, &format!("{name}: u32"), &format!("0x{:08x}", value.to_bits()));
    }

    fn images(&mut self, doc: &str, name: &str, inputs: &[Image]) -> Result<(), String> {
        let mut body = Vec::new();
        for x in inputs {
            let p = pixels(x)?;
            body.push(Self::list(&p.iter().map(u8::to_string).collect::<Vec<_>>(), 16, 4));
        }
        let value = Self::list(&body, 1, 0);
        self.item(doc, &format!("{name}: [[u8; 64]; {}]", inputs.len()), &value);
        Ok(())
    }

    fn labels(&mut self, doc: &str, name: &str, labels: &[usize]) {
        let value = Self::list(&labels.iter().map(usize::to_string).collect::<Vec<_>>(), 20, 0);
        self.item(doc, &format!("{name}: [usize; {}]", labels.len()), &value);
    }

    fn dense<const I: usize, const O: usize, A>(&mut self, what: &str, prefix: &str, layer: &Dense<f32, I, O, A>) {
        self.weights(what, prefix, &layer.weights.data.0, layer.biases.as_slice());
    }

    fn gradients<const I: usize, const O: usize>(&mut self, what: &str, prefix: &str, g: &DenseGradients<f32, I, O>) {
        self.weights(what, prefix, &g.weights.data.0, g.biases.as_slice());
    }

    fn weights<const I: usize, const O: usize>(
        &mut self,
        what: &str,
        prefix: &str,
        columns: &[[f32; O]; I],
        b: &[f32],
    ) {
        self.float_rows(
            &format!("{what}: weights, one row per input (`Dense::from_columns`)."),
            &format!("{prefix}_W"),
            columns,
        );
        self.floats(&format!("{what}: biases."), &format!("{prefix}_B"), b);
    }

    /// A configuration as a Rust literal with full paths.
    fn config<O: Optimizer>(config: &TrainConfig<O>) -> String {
        let TrainConfig { epochs, batch_size, optimizer, schedule, l2, l1, clip_norm, frozen_layers, dropout } =
            *config;
        let Schedule { lr, shape, warmup } = schedule;
        let optimizer_path = std::any::type_name::<O>().rsplit_once("::").map_or("", |(path, _)| path);
        format!(
            "mlp_core::TrainConfig {{ epochs: {epochs}, batch_size: {batch_size}, \
             optimizer: {optimizer_path}::{optimizer:?}, \
             schedule: mlp_core::schedule::Schedule {{ lr: {lr:?}, shape: mlp_core::schedule::Shape::{shape:?}, warmup: {warmup} }}, \
             l2: {l2:?}, l1: {l1:?}, clip_norm: {clip_norm:?}, frozen_layers: {frozen_layers}, dropout: {dropout} }}",
            dropout = if dropout.is_none() {
                "mlp_core::dropout::Dropout::NONE".to_owned()
            } else {
                format!("mlp_core::dropout::Dropout {{ rates: {:?} }}", dropout.rates)
            }
        )
    }

    fn train_config<O: Optimizer>(&mut self, doc: &str, name: &str, config: &TrainConfig<O>) {
        let declaration = format!("{name}: mlp_core::TrainConfig<{}>", std::any::type_name::<O>());
        self.item(doc, &declaration, &Self::config(config));
    }

    fn metrics(&mut self, what: &str, prefix: &str, m: &Metrics<f32>) {
        self.scalar(&format!("{what}: mean loss."), &format!("{prefix}_LOSS"), m.loss);
        self.scalar(&format!("{what}: accuracy."), &format!("{prefix}_ACCURACY"), m.accuracy);
        self.item(
            &format!("{what}: samples classified right."),
            &format!("{prefix}_CORRECT: usize"),
            &m.correct.to_string(),
        );
    }
}

/// The optimizer fixture's cases, written one after another: each one's
/// configuration into `optimizer.rs`, its network and optimizer state after
/// the steps as a checkpoint of its own.
struct StepCases<'a> {
    out: &'a mut Source,
    files: &'a mut Vec<Fixture>,
    start: &'a DigitsNet,
    data: &'a Images,
}

/// The digits network's gradient buffer, the shape of every optimizer buffer.
pub type DigitsGradients = <DigitsNet as Network>::Gradients;

/// The checkpoint of optimizer case `case` (`MOMENTUM_L2`): `optimizer_momentum_l2.mlpm`.
pub fn step_checkpoint_name(case: &str) -> String {
    format!("optimizer_{}.mlpm", case.to_lowercase())
}

impl StepCases<'_> {
    /// Runs one case and writes its configuration, and the weights and every
    /// optimizer buffer after the steps as a checkpoint.
    fn add<O: Optimizer>(&mut self, name: &str, config: &TrainConfig<O>) -> Result<(), String> {
        let (after, state) = steps(self.start, self.data, &STEP_BATCHES, config)?;
        let file = step_checkpoint_name(name);
        self.out.train_config(
            &format!("Case {name}: the configuration. The network and optimizer state after the steps: `{file}`."),
            &format!("{name}_CONFIG"),
            config,
        );
        self.files.push(Fixture::model(file, checkpoint(&after, &state, config)?));
        Ok(())
    }
}

fn init_name(init: Init) -> String {
    format!("mlp_core::Init::{init:?}")
}

/// Every fixture file, computed from the seeds above.
pub fn generate() -> Result<Vec<Fixture>, String> {
    let (train_set, test_set) = digits()?;
    let digits_net = trained_digits(&train_set)?;
    let smooth_net = trained_smooth(&train_set)?;

    // The host-trained networks, as model files.
    let mut files = vec![
        Fixture::model(DIGITS_MODEL.to_owned(), model_file(&digits_net)?),
        Fixture::model(SMOOTH_MODEL.to_owned(), model_file(&smooth_net)?),
    ];

    // Inference and the math routines.
    let inputs = test_set.take(INFERENCE_SAMPLES);
    let mut inference = Source::new("Inference: held-out digits through both networks, and the math routines.");
    inference.images("Held-out digits: pixels in 0..=16; the input is pixel / 16.", "INPUT_PIXELS", &inputs.inputs)?;
    inference.labels("Their digits.", "INPUT_LABELS", &inputs.labels);
    let (outputs, probabilities) = infer(&digits_net, &inputs.inputs)?;
    inference.float_rows("Digits network: raw outputs (logits).", "DIGITS_OUTPUTS", &outputs);
    inference.float_rows(
        "Digits network: `predict_probabilities` with softmax.",
        "DIGITS_PROBABILITIES",
        &probabilities,
    );
    let (outputs, probabilities) = infer(&smooth_net, &inputs.inputs)?;
    inference.float_rows("Smooth network: raw outputs.", "SMOOTH_OUTPUTS", &outputs);
    inference.float_rows("Smooth network: softmax probabilities.", "SMOOTH_PROBABILITIES", &probabilities);
    let math = math_inputs();
    let [exp, tanh, logistic, ln] = math_outputs(&math);
    inference.floats("Inputs of the math routines.", "MATH_INPUTS", &math);
    inference.floats("`Float::exp` of every input.", "MATH_EXP", &exp);
    inference.floats("`Float::tanh` of every input.", "MATH_TANH", &tanh);
    inference.floats("`activation::sigmoid` of every input.", "MATH_SIGMOID", &logistic);
    inference.floats("`Float::ln` of the absolute value of every input.", "MATH_LN_ABS", &ln);

    // One minibatch's summed gradient.
    let batch = train_set.take(GRADIENT_BATCH);
    let mut gradients =
        Source::new("Gradients: one minibatch summed with `accumulate_sample` from a fresh `TrainState`.");
    gradients.images("The minibatch: the first training digits of the split.", "BATCH_PIXELS", &batch.inputs)?;
    gradients.labels("Their digits.", "BATCH_LABELS", &batch.labels);
    let (state, losses) = batch_gradient(&digits_net, &batch);
    gradients.floats(
        "Digits network: each sample's loss, as `accumulate_sample` returns it.",
        "DIGITS_LOSSES",
        &losses,
    );
    gradients.gradients("Digits network, layer 1 gradient", "DIGITS_GRAD_1", &state.gradients.head);
    gradients.gradients("Digits network, layer 2 gradient", "DIGITS_GRAD_2", &state.gradients.tail);
    let (state, losses) = batch_gradient(&smooth_net, &batch);
    gradients.floats("Smooth network: each sample's loss.", "SMOOTH_LOSSES", &losses);
    gradients.gradients("Smooth network, layer 1 gradient", "SMOOTH_GRAD_1", &state.gradients.head);
    gradients.gradients("Smooth network, layer 2 gradient", "SMOOTH_GRAD_2", &state.gradients.tail.head);
    gradients.gradients("Smooth network, layer 3 gradient", "SMOOTH_GRAD_3", &state.gradients.tail.tail);

    // K optimizer steps per configuration.
    let step_data = train_set.take(STEP_BATCHES.iter().sum());
    let mut optimizer = Source::new(
        "Optimizer steps: from the digits network in digits.mlpm and a fresh `TrainState`, one\n\
         // `Learner::step` per minibatch (summed with `accumulate_sample`), step k in epoch k; the network\n\
         // and the optimizer state after the steps are a checkpoint per case, optimizer_<case>.mlpm.",
    );
    optimizer.images("The minibatches' digits, one after another.", "STEP_PIXELS", &step_data.inputs)?;
    optimizer.labels("Their digits.", "STEP_LABELS", &step_data.labels);
    optimizer.labels("Samples in each minibatch; step k uses epoch k.", "STEP_BATCHES", &STEP_BATCHES);
    let mut cases = StepCases { out: &mut optimizer, files: &mut files, start: &digits_net, data: &step_data };
    cases.add("MOMENTUM_L2", &MOMENTUM_L2)?;
    cases.add("DROPOUT", &DROPOUT)?;
    cases.add("NESTEROV", &NESTEROV)?;
    cases.add("DECAY", &DECAY)?;
    cases.add("L1", &L1)?;
    cases.add("ADAGRAD", &ADAGRAD)?;
    cases.add("RMSPROP", &RMSPROP)?;
    cases.add("ADAM_L2", &ADAM_L2)?;
    cases.add("ADAMW", &ADAMW)?;

    // The on-device data.
    let device_train = train_set.stratified(TRAIN_PER_CLASS);
    let device_test = test_set.stratified(TEST_PER_CLASS);
    let mut subsets = Source::new("Digits for on-device training: stratified subsets of the host's split.");
    subsets.images(
        &format!("Training digits: the first {TRAIN_PER_CLASS} of each class in the training split."),
        "TRAIN_PIXELS",
        &device_train.inputs,
    )?;
    subsets.labels("Their digits.", "TRAIN_LABELS", &device_train.labels);
    subsets.images(
        &format!("Held-out digits: the first {TEST_PER_CLASS} of each class in the test split."),
        "TEST_PIXELS",
        &device_test.inputs,
    )?;
    subsets.labels("Their digits.", "TEST_LABELS", &device_test.labels);

    // Full training on the device.
    let (trained, last_epoch) =
        device_training(&device_train, &Run { seed: TRAIN_SEED, init: TRAIN_INIT, config: TRAIN_CONFIG })?;
    let test_metrics = held_out(&trained, &device_test)?;
    let mut training = Source::new(
        "On-device training: a zeroed digits network initialised on the device with\n\
         // `Network::initialize(TRAIN_INIT, &mut state.persistent.rng)`, the state's generator seeded with\n\
         // `DefaultRng::seed_from_u64(TRAIN_SEED)`, then `Learner::fit` (which shuffles with the same generator)\n\
         // on the training digits of subsets.rs (order buffer of `u16`).",
    );
    training.item("Seed of the generator.", "TRAIN_SEED: u64", &TRAIN_SEED.to_string());
    training.item("The initialiser.", "TRAIN_INIT: mlp_core::Init", &init_name(TRAIN_INIT));
    training.train_config("The training run.", "TRAIN_CONFIG", &TRAIN_CONFIG);
    training.dense("Trained layer 1", "TRAINED_1", &trained.head);
    training.dense("Trained layer 2", "TRAINED_2", &trained.tail);
    training.metrics("Last epoch's running metrics (`TrainSummary::last.train`)", "LAST_EPOCH", &last_epoch);
    training.metrics("Held-out digits (`evaluate`)", "TEST", &test_metrics);

    // Fine-tuning behind the exported model's first layer, frozen; and the
    // exported model itself, unmodified, on the held-out digits.
    let exported = exported_model()?;
    let finetune_run = Run { seed: FINETUNE_SEED, init: FINETUNE_INIT, config: FINETUNE_CONFIG };
    let (head, last_epoch) = device_finetuning(&exported.head, &device_train, &finetune_run)?;
    let tuned: TunedNet<'_> = Chain::new(Frozen(&exported.head), head);
    let test_metrics = held_out(&tuned, &device_test)?;
    let mut finetune = Source::new(
        "On-device fine-tuning: layer 1 of the exported model (`MODEL.head` of\n\
         // fixtures/exported/digits_64_32_10.rs; read here from digits_64_32_10.mlpm), frozen in flash, and a\n\
         // zeroed head initialised with `initialize(FINETUNE_INIT, &mut state.persistent.rng)`, the generator\n\
         // seeded with `DefaultRng::seed_from_u64(FINETUNE_SEED)` (only the head draws), then `Learner::fit`\n\
         // (which shuffles with the same generator) on the training digits of subsets.rs. Then the exported\n\
         // model, unmodified, on the held-out digits of subsets.rs.",
    );
    finetune.item("Seed of the generator.", "FINETUNE_SEED: u64", &FINETUNE_SEED.to_string());
    finetune.item("The head's initialiser.", "FINETUNE_INIT: mlp_core::Init", &init_name(FINETUNE_INIT));
    finetune.train_config("The training run.", "FINETUNE_CONFIG", &FINETUNE_CONFIG);
    let tuned_head = &tuned.tail;
    finetune.dense("Trained head", "TUNED_2", tuned_head);
    finetune.metrics("Last epoch's running metrics", "LAST_EPOCH", &last_epoch);
    finetune.metrics("Held-out digits", "TEST", &test_metrics);
    let (outputs, _) = infer(&exported, &device_test.inputs)?;
    finetune.float_rows(
        "The exported model, unmodified: raw outputs (logits) of each held-out digit, one row per digit.",
        "MODEL_OUTPUTS",
        &outputs,
    );
    finetune.metrics(
        "The exported model on the held-out digits (`evaluate`)",
        "MODEL_TEST",
        &held_out(&exported, &device_test)?,
    );

    // Checkpoints across the boundary, both ways: for every optimizer, the
    // host's after a few epochs and what the device must write after resuming it.
    let mut resume = ResumeFixtures { data: &device_train, out: Vec::new() };
    resume_cases(&mut resume)?;
    files.append(&mut resume.out);

    let mut fixtures = vec![
        Fixture::source("inference.rs", inference),
        Fixture::source("gradients.rs", gradients),
        Fixture::source("optimizer.rs", optimizer),
        Fixture::source("subsets.rs", subsets),
        Fixture::source("training.rs", training),
        Fixture::source("finetune.rs", finetune),
    ];
    fixtures.append(&mut files);
    Ok(fixtures)
}

/// The digits network of the inference, gradient and optimizer fixtures.
pub const DIGITS_MODEL: &str = "digits.mlpm";
/// The smooth network of the inference and gradient fixtures.
pub const SMOOTH_MODEL: &str = "smooth.mlpm";

/// `net` as a model file.
pub fn model_file<N: Network>(net: &N) -> Result<Vec<u8>, String> {
    let mut file = vec![0u8; N::MODEL_BYTES];
    let written = model::write_model(net, &mut file).map_err(|e| e.to_string())?;
    file.truncate(written);
    Ok(file)
}
