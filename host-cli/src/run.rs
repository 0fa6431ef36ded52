//! A whole training run on a training set and a test set, each a
//! [`SampleSource`]: initialise, train epoch by epoch, evaluate, and collect
//! what a report needs. Knows nothing of terminals: progress goes to a
//! per-epoch callback.
//!
//! Epochs and evaluations run through [`crate::engine`] on a team of
//! threads ([`RunOptions::threads`]); the results are the same bits for
//! every thread count, and those of mlp-core's own `Learner::epoch`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;

use mlp_core::early_stopping::{EarlyStopping, Verdict};
use mlp_core::loss::SoftmaxCrossEntropy;
use mlp_core::model::{self, Extras};
use mlp_core::{
    ConfusionMatrix, DefaultRng, Init, Learner, Metrics, Network, SeedableRng, TrainConfig, TrainState, Zeroed,
};

use crate::arch::NetworkVisitor;
use crate::boxed::zeroed_box;
use crate::engine::{self, DenseStack};
use crate::modelfile::{ModelFile, file_error};
use crate::optim::AnyOptimizer;
use crate::parallel::{available_threads, with_team};
use crate::source::SampleSource;
use crate::split::Split;

/// Everything about a run besides the architecture and the data.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RunOptions {
    /// Epochs, batch size, optimizer, schedule and penalties.
    pub train: TrainConfig<AnyOptimizer>,
    /// Weight initialiser.
    pub init: Init,
    /// Seed of the run; see [`training_rng`].
    pub seed: u64,
    /// Threads to train and evaluate with; `None` for every core
    /// ([`available_threads`]). The results do not depend on it.
    pub threads: Option<usize>,
    /// Stop once the validation loss stops improving, and keep the best
    /// epoch's weights; needs validation samples.
    pub early_stopping: Option<StopEarly>,
}

/// Early stopping's settings ([`mlp_core::early_stopping`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StopEarly {
    /// Epochs in a row without an improvement before training stops.
    pub patience: u32,
    /// The smallest fall of the validation loss that counts as an improvement.
    pub min_delta: f32,
}

impl RunOptions {
    /// The thread count to use: [`threads`](RunOptions::threads), or every core.
    pub fn thread_count(&self) -> usize {
        self.threads.unwrap_or_else(available_threads).max(1)
    }
}

/// Mixed into the seed for the training stream, so that it differs from the
/// split's stream (`DefaultRng::seed_from_u64(seed)`): "training" in ASCII.
pub const TRAINING_STREAM: u64 = u64::from_be_bytes(*b"training");

/// The generator that initialises the weights and then shuffles every epoch.
pub fn training_rng(seed: u64) -> DefaultRng {
    DefaultRng::seed_from_u64(seed ^ TRAINING_STREAM)
}

/// One epoch of the history.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct EpochRecord {
    /// 1-based epoch number.
    pub epoch: u32,
    /// Mean training loss over the epoch (each sample seen with the weights of its moment).
    pub loss: f64,
    /// Training accuracy over the epoch, measured the same way.
    pub train_accuracy: f64,
    /// Test accuracy with the weights at the end of the epoch.
    pub test_accuracy: f64,
    /// Mean test loss with the weights at the end of the epoch.
    pub test_loss: f64,
    /// Validation accuracy with the weights at the end of the epoch, when
    /// training samples are held out for validation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validation_accuracy: Option<f64>,
    /// Mean validation loss with the weights at the end of the epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validation_loss: Option<f64>,
    /// Learning rate used in the epoch. `f32`, as the networks use it, so
    /// JSON shows `0.1` rather than its `f64` widening `0.10000000149011612`.
    pub learning_rate: f32,
}

/// The result of a finished run.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    /// One record per epoch.
    pub history: Vec<EpochRecord>,
    /// The final network on the training set.
    pub train: Metrics<f32>,
    /// The final network on the test set.
    pub test: Metrics<f32>,
    /// Time spent in the training epochs only (no per-epoch test evaluation).
    pub train_time: Duration,
    /// `confusion[actual][predicted]` on the test set.
    pub confusion: Vec<Vec<u32>>,
    /// Trainable parameters of the network.
    pub parameters: usize,
    /// The final network as a model file.
    pub model: Vec<u8>,
    /// The final network and training state as a checkpoint.
    pub checkpoint: Vec<u8>,
    /// Epochs completed before this run (0 unless resumed).
    pub first_epoch: u32,
    /// Whether the run stopped early because it was asked to (Ctrl-C).
    pub interrupted: bool,
    /// With early stopping: the epoch whose weights the run kept.
    pub best_epoch: Option<u32>,
}

impl Outcome {
    /// Mean training loss of the last epoch.
    pub fn final_loss(&self) -> f64 {
        self.history.last().map_or(f64::NAN, |r| r.loss)
    }
}

/// Where a run's network and training state come from.
#[derive(Clone, Debug, Default)]
pub enum Start {
    /// Weights drawn by the initialiser from the seed; fresh training state.
    #[default]
    Fresh,
    /// Weights from a model file (fine-tuning); fresh training state.
    Init(ModelFile),
    /// Weights and training state from a checkpoint: the run continues it.
    /// Its configuration must be the run's (the caller checks and says what differs).
    Resume(ModelFile),
}

/// A [`NetworkVisitor`] that runs [`train_network`] with the visited type.
pub struct Training<'a, F> {
    /// The samples to train on.
    pub train: &'a dyn SampleSource,
    /// The held-out samples, evaluated after every epoch.
    pub test: &'a dyn SampleSource,
    /// Training samples held out for validation, evaluated after every epoch.
    pub validation: Option<&'a dyn SampleSource>,
    /// The run's settings.
    pub options: &'a RunOptions,
    /// Where the network starts from.
    pub start: &'a Start,
    /// Set (by a signal handler) to stop after the current epoch.
    pub stop: Option<&'a AtomicBool>,
    /// Text for the files' metadata section (data set, seed).
    pub metadata: &'a str,
    /// Called after every epoch.
    pub on_epoch: F,
}

impl<F: FnMut(&EpochRecord)> NetworkVisitor for Training<'_, F> {
    type Output = anyhow::Result<Outcome>;
    fn visit<N, const I: usize, const O: usize>(self) -> Self::Output
    where
        N: Network<Scalar = f32, Input = [f32; I], Output = [f32; O]> + Zeroed + DenseStack,
    {
        train_network::<N, I, O>(self)
    }
}

/// [`Training`] on the two parts of a [`Split`].
pub struct Trainer<'a, F> {
    /// The data.
    pub split: &'a Split,
    /// The run's settings.
    pub options: &'a RunOptions,
    /// Where the network starts from.
    pub start: &'a Start,
    /// Set (by a signal handler) to stop after the current epoch.
    pub stop: Option<&'a AtomicBool>,
    /// Text for the files' metadata section (data set, seed).
    pub metadata: &'a str,
    /// Called after every epoch.
    pub on_epoch: F,
}

impl<F: FnMut(&EpochRecord)> NetworkVisitor for Trainer<'_, F> {
    type Output = anyhow::Result<Outcome>;
    fn visit<N, const I: usize, const O: usize>(self) -> Self::Output
    where
        N: Network<Scalar = f32, Input = [f32; I], Output = [f32; O]> + Zeroed + DenseStack,
    {
        let Trainer { split, options, start, stop, metadata, on_epoch } = self;
        let training = Training {
            train: &split.train,
            test: &split.test,
            validation: None,
            options,
            start,
            stop,
            metadata,
            on_epoch,
        };
        train_network::<N, I, O>(training)
    }
}

/// Runs `trainer`: starts `N` as it says (fresh, from a model's weights, or
/// resuming a checkpoint), trains until the configuration's epoch count or
/// until `stop` is set, evaluating on both sets after every epoch, and
/// returns the results with the final model and checkpoint files.
///
/// The network and its training state live on the heap (zeroed in place), so
/// big networks never pass through the stack. Both sets are checked first
/// (finite inputs of the network's width, labels below `O`). Every epoch
/// goes through [`engine::train_epoch`] on the vector unit of
/// [`crate::accel::vector_unit`]; only those calls are timed. Errors of the
/// core come out as [`mlp_core::Error`] (downcast to match them).
pub fn train_network<N, const I: usize, const O: usize>(
    trainer: Training<'_, impl FnMut(&EpochRecord)>,
) -> anyhow::Result<Outcome>
where
    N: Network<Scalar = f32, Input = [f32; I], Output = [f32; O]> + Zeroed + DenseStack,
{
    let Training { train, test, validation, options, start, stop, metadata, mut on_epoch } = trainer;
    engine::check_source(train, I, O)?;
    engine::check_source(test, I, O)?;
    if let Some(validation) = validation {
        engine::check_source(validation, I, O)?;
    }
    let mut stopping = match options.early_stopping {
        Some(_) if validation.is_none() => anyhow::bail!("early stopping needs validation samples (--validation)"),
        Some(StopEarly { patience, min_delta }) => Some(EarlyStopping::new(patience, min_delta)?),
        None => None,
    };
    // The best epoch's weights, shaped like the trainable parameters.
    let mut best = stopping.as_ref().map(|_| zeroed_box::<N::Gradients>());
    let threads = options.thread_count();

    let (mut net, mut state) = start_network::<N>(start, options)?;
    let first_epoch = state.persistent.epoch;
    let mut order = vec![0u32; train.len()];
    let unit = crate::accel::vector_unit();
    let mut history = Vec::new();
    let mut train_time = Duration::ZERO;
    let mut interrupted = false;
    let (train_metrics, test_result, best_epoch) = with_team(threads, |team| -> anyhow::Result<_> {
        let mut learner = Learner::new(&mut *net, &mut state, &mut order, SoftmaxCrossEntropy, &options.train)?;
        while learner.state().persistent.epoch < options.train.epochs {
            if stop.is_some_and(|flag| flag.load(Ordering::SeqCst)) {
                interrupted = true;
                break;
            }
            let start = Instant::now();
            let metrics = engine::train_epoch::<N, _, _, O>(&mut learner, train, team, unit)?;
            train_time += start.elapsed();
            let test_metrics = engine::evaluate::<N, O>(learner.net(), test, team, unit).metrics;
            let validation_metrics = validation.map(|v| engine::evaluate::<N, O>(learner.net(), v, team, unit).metrics);
            let validation_loss = validation_metrics.as_ref().map(|m| m.loss);
            let record = EpochRecord {
                epoch: metrics.epoch,
                loss: f64::from(metrics.train.loss),
                train_accuracy: accuracy(&metrics.train),
                test_accuracy: accuracy(&test_metrics),
                test_loss: f64::from(test_metrics.loss),
                validation_accuracy: validation_metrics.as_ref().map(accuracy),
                validation_loss: validation_metrics.map(|m| f64::from(m.loss)),
                learning_rate: metrics.learning_rate,
            };
            history.push(record);
            on_epoch(&record);
            if let (Some(stopping), Some(best), Some(loss)) = (&mut stopping, &mut best, validation_loss)
                && stopping.observe(record.epoch, loss, learner.net_mut(), best) == Verdict::Stop
            {
                break;
            }
        }
        let best_epoch = match (&stopping, &best) {
            (Some(stopping), Some(best)) => stopping.restore(learner.net_mut(), best),
            _ => None,
        };
        let net = learner.net();
        let train_metrics = engine::evaluate::<N, O>(net, train, team, unit).metrics;
        Ok((train_metrics, engine::evaluate::<N, O>(net, test, team, unit), best_epoch))
    })?;
    let test_metrics = test_result.metrics;
    let mut matrix = ConfusionMatrix::<O>::new();
    for (sample, &predicted) in test_result.predictions.iter().enumerate() {
        matrix.record(test.label(sample), predicted);
    }
    let metadata = (!metadata.is_empty()).then_some(metadata);
    let model_extras = Extras::<N, AnyOptimizer> { training: None, scaling: None, metadata };
    let model = write_file(&*net, model_extras)?;
    let checkpoint_extras = Extras { training: Some((&state.persistent, &options.train)), scaling: None, metadata };
    let checkpoint = write_file(&*net, checkpoint_extras)?;
    Ok(Outcome {
        history,
        train: train_metrics,
        test: test_metrics,
        train_time,
        confusion: matrix.counts.iter().map(|row| row.to_vec()).collect(),
        parameters: N::PARAMETERS,
        model,
        checkpoint,
        first_epoch,
        interrupted,
        best_epoch,
    })
}

/// The training state of every host run: the optimizer chosen at run time.
pub type HostState<N> = TrainState<N, AnyOptimizer>;

/// A network and its training state on the heap (zeroed in place, so big
/// networks never pass through the stack), started as `start` says: weights
/// from the seed, from a model file, or weights and state from a checkpoint,
/// whose configuration must be the run's up to its planned end (the caller
/// settles and reports any other difference first).
pub fn start_network<N: Network + Zeroed>(
    start: &Start,
    options: &RunOptions,
) -> anyhow::Result<(Box<N>, Box<HostState<N>>)> {
    let mut net = zeroed_box::<N>();
    let mut state = zeroed_box::<HostState<N>>();
    match start {
        Start::Fresh => {
            // One stream: it initialises the weights, then shuffles every epoch.
            state.persistent.rng = training_rng(options.seed);
            net.initialize(options.init, &mut state.persistent.rng)?;
        }
        Start::Init(file) => {
            model::read_model(&file.bytes, &mut *net).map_err(|e| file_error(&file.path, e))?;
            state.persistent.rng = training_rng(options.seed);
        }
        Start::Resume(file) => {
            let stored = model::read_checkpoint(&file.bytes, &mut *net, &mut state.persistent)
                .map_err(|e| file_error(&file.path, e))?;
            let planned = TrainConfig { epochs: options.train.epochs, ..stored };
            anyhow::ensure!(
                planned == options.train,
                "{}: the run's configuration differs from the checkpoint's",
                file.path.display()
            );
        }
    }
    Ok((net, state))
}

/// The model file of `net` with `extras`, in a buffer of exactly its size.
fn write_file<N: Network>(net: &N, extras: Extras<'_, N, AnyOptimizer>) -> anyhow::Result<Vec<u8>> {
    let mut bytes = vec![0; model::written_bytes(&extras)];
    let written = model::write(net, extras, &mut bytes).context("cannot encode the model file")?;
    bytes.truncate(written);
    Ok(bytes)
}

/// The accuracy in `f64`, from the exact counts (the network's `f32`
/// accuracy would print as `0.98611110448837`).
pub fn accuracy(metrics: &Metrics<f32>) -> f64 {
    metrics.correct as f64 / metrics.samples.max(1) as f64
}
