//! Training and evaluation loops, written out over caller-owned data.
//!
//! The data set and the shuffle order are the caller's slices; everything the
//! loop writes is the network and its [`TrainState`], so nothing here
//! allocates. Per-batch gradients are summed sample by sample in shuffle order.

use core::ops::ControlFlow;

use crate::buffer::Zeroed;
use crate::dropout::{Dropout, DropoutRule};
use crate::error::Error;
use crate::error::Hyperparameter;
use crate::float::Float;
use crate::init::shuffle;
use crate::loss::Loss;
use crate::metrics::{ConfusionMatrix, EpochMetrics, Metrics, TrainSummary};
use crate::network::{DropoutCache, Network, PairCache, Scratch, TrainState};
use crate::optim::{Momentum, Optimizer, Step, check_non_negative, clip_scale};
use crate::schedule::{CheckedSchedule, Schedule};

/// Inputs with their targets, borrowed from the caller.
#[derive(Debug)]
pub struct Dataset<'a, X, Y> {
    inputs: &'a [X],
    targets: &'a [Y],
}

impl<X, Y> Clone for Dataset<'_, X, Y> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<X, Y> Copy for Dataset<'_, X, Y> {}

impl<'a, X, Y> Dataset<'a, X, Y> {
    /// Pairs inputs with targets; both must be non-empty and of equal length.
    pub fn new(inputs: &'a [X], targets: &'a [Y]) -> Result<Self, Error> {
        if inputs.len() != targets.len() {
            return Err(Error::TargetCount { inputs: inputs.len(), targets: targets.len() });
        }
        if inputs.is_empty() {
            return Err(Error::EmptyDataset);
        }
        Ok(Dataset { inputs, targets })
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.inputs.len()
    }

    /// Always false: an empty data set is rejected by [`Dataset::new`].
    pub fn is_empty(&self) -> bool {
        self.inputs.is_empty()
    }

    /// The inputs.
    pub fn inputs(&self) -> &'a [X] {
        self.inputs
    }

    /// The targets.
    pub fn targets(&self) -> &'a [Y] {
        self.targets
    }

    /// Sample `i` of a shuffle order. `fill_order` writes only indices below
    /// the length, so this is never `None`; the check costs one compare and
    /// keeps a panic path (an index out of bounds) out of firmware.
    #[inline(always)]
    fn sample(&self, i: usize) -> Option<(&'a X, &'a Y)> {
        self.inputs.get(i).zip(self.targets.get(i))
    }

    /// Checks that every input value is finite.
    pub fn check_inputs<N: Network<Input = X>>(&self) -> Result<(), Error> {
        match self.inputs.iter().position(|x| !all_finite(N::input_values(x))) {
            Some(sample) => Err(Error::NonFiniteInput { sample }),
            None => Ok(()),
        }
    }

    /// Checks every target against the loss (a class in range, values it accepts).
    pub fn check_targets<L, T, const O: usize>(&self) -> Result<(), Error>
    where
        T: Float,
        L: Loss<T, O, Target = Y>,
    {
        match self.targets.iter().position(|t| !L::is_valid_target(t)) {
            Some(sample) => Err(Error::InvalidTarget { sample }),
            None => Ok(()),
        }
    }
}

/// Whether every value is finite, without an early exit so that it
/// vectorises: `v · 0` is ±0 for a finite `v` and NaN for ±∞ or NaN.
#[inline(always)]
pub(crate) fn all_finite<T: Float>(values: &[T]) -> bool {
    let mut finite = true;
    for &v in values {
        finite &= v * T::ZERO == T::ZERO;
    }
    finite
}

pub(crate) mod sealed {
    /// Only mlp-core implements [`SampleIndex`](super::SampleIndex).
    pub trait Sealed {}
}

/// An integer type for the shuffle order: `u16` saves RAM on a device, `usize` suits the host.
///
/// Sealed: implemented for `u16`, `u32` and `usize` only, whose conversions
/// round-trip, so an index read back from the order is always a valid sample.
///
/// ```compile_fail,E0277
/// #[derive(Clone, Copy)]
/// struct Wrapping(u8);
/// impl mlp_core::SampleIndex for Wrapping {
///     fn from_index(index: usize) -> Option<Self> { Some(Wrapping(index as u8)) }
///     fn index(self) -> usize { usize::MAX }
/// }
/// ```
pub trait SampleIndex: sealed::Sealed + Copy {
    /// `None` if `index` does not fit.
    fn from_index(index: usize) -> Option<Self>;
    /// Back to `usize`.
    fn index(self) -> usize;
}

macro_rules! sample_index {
    ($($t:ty),*) => {$(
        impl sealed::Sealed for $t {}
        impl SampleIndex for $t {
            #[inline(always)]
            fn from_index(index: usize) -> Option<Self> {
                <$t>::try_from(index).ok()
            }
            #[inline(always)]
            fn index(self) -> usize {
                self as usize
            }
        }
    )*};
}
sample_index!(u16, u32, usize);

/// How long, in what batches and with which optimizer, schedule and
/// penalties to train. `O` is the update rule ([`Momentum`] by default).
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct TrainConfig<O = Momentum> {
    /// Epochs of the whole run (≥ 1). A [`Learner`] stops when its state's
    /// epoch count reaches it, so a resumed run continues to the same end.
    pub epochs: u32,
    /// Samples per optimizer step (≥ 1); the last batch of an epoch may be smaller.
    pub batch_size: usize,
    /// The update rule and its hyperparameters.
    pub optimizer: O,
    /// The learning rate of each epoch.
    pub schedule: Schedule,
    /// L2 penalty on weights (≥ 0), scikit-learn's scaling (see [`optim`](crate::optim)).
    pub l2: f64,
    /// L1 penalty on weights (≥ 0).
    pub l1: f64,
    /// The largest global norm of the mean gradient; 0 for no clipping.
    pub clip_norm: f64,
    /// Layers at the front that keep their parameters (fine-tuning the
    /// rest): 0 for none; fewer than the network's layers. Gradients still
    /// flow through them. On a device a [`Frozen`](crate::Frozen) layer
    /// does the same without RAM for its parameters or state.
    pub frozen_layers: u32,
    /// Inverted dropout on hidden layers while training ([`dropout`](crate::dropout)):
    /// [`Dropout::NONE`] for none. A learner with any rate above 0 needs a
    /// [`DropoutCache`] ([`Learner::with_dropout`]).
    pub dropout: Dropout,
}

impl TrainConfig<Momentum> {
    /// 10 epochs of batches of 32, momentum 0.9, a constant rate of 0.1. A
    /// constant, so firmware can keep its configuration in flash:
    ///
    /// ```
    /// use mlp_core::{TrainConfig, schedule::Schedule, optim::Momentum};
    /// static CONFIG: TrainConfig = TrainConfig {
    ///     epochs: 20,
    ///     schedule: Schedule::constant(0.05),
    ///     l2: 1e-4,
    ///     ..TrainConfig::DEFAULT
    /// };
    /// assert_eq!(CONFIG.optimizer, Momentum { momentum: 0.9 });
    /// ```
    pub const DEFAULT: Self = TrainConfig::new(Momentum::DEFAULT);
}

impl Default for TrainConfig<Momentum> {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl<O> TrainConfig<O> {
    /// The same configuration with another optimizer (a checkpoint's
    /// training record has none: `TrainConfig<()>`).
    pub fn with_optimizer<P>(self, optimizer: P) -> TrainConfig<P> {
        let TrainConfig { epochs, batch_size, optimizer: _, schedule, l2, l1, clip_norm, frozen_layers, dropout } =
            self;
        TrainConfig { epochs, batch_size, optimizer, schedule, l2, l1, clip_norm, frozen_layers, dropout }
    }
}

impl<O: Optimizer> TrainConfig<O> {
    /// 10 epochs of batches of 32 with `optimizer`, a constant rate of 0.1,
    /// no penalty and no clipping.
    pub const fn new(optimizer: O) -> Self {
        TrainConfig {
            epochs: 10,
            batch_size: 32,
            optimizer,
            schedule: Schedule::DEFAULT,
            l2: 0.0,
            l1: 0.0,
            clip_norm: 0.0,
            frozen_layers: 0,
            dropout: Dropout::NONE,
        }
    }

    /// Validates everything as the network's float type will see it: epochs,
    /// batch size, the optimizer's hyperparameters, every epoch's scheduled
    /// rate, the penalties, the clip norm and the dropout rates.
    pub fn check<T: Float>(&self) -> Result<Checked<T, O>, Error> {
        if self.batch_size == 0 {
            return Err(Error::InvalidHyperparameter { name: Hyperparameter::BatchSize, requirement: "at least 1" });
        }
        let rule = self.optimizer.check::<T>()?;
        let schedule = self.schedule.check::<T>(self.epochs)?;
        let l2 = check_non_negative::<T>(self.l2, Hyperparameter::L2)?;
        let l1 = check_non_negative::<T>(self.l1, Hyperparameter::L1)?;
        let clip_norm = check_non_negative::<T>(self.clip_norm, Hyperparameter::ClipNorm)?;
        let dropout = self.dropout.check::<T>()?;
        Ok(Checked { config: *self, rule, schedule, l2, l1, clip_norm, dropout })
    }
}

/// A [`TrainConfig`] checked for the network's scalar `T`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Checked<T: Float, O: Optimizer> {
    config: TrainConfig<O>,
    rule: O::Rule<T>,
    schedule: CheckedSchedule<T>,
    l2: T,
    l1: T,
    clip_norm: T,
    dropout: DropoutRule<T>,
}

impl<T: Float, O: Optimizer> Checked<T, O> {
    /// The configuration it was made from.
    pub fn config(&self) -> &TrainConfig<O> {
        &self.config
    }

    /// The dropout thresholds and scales in `T`.
    pub fn dropout(&self) -> &DropoutRule<T> {
        &self.dropout
    }

    /// The learning rate of 0-based epoch `epoch`.
    pub fn learning_rate(&self, epoch: u32) -> T {
        self.schedule.rate(epoch)
    }

    /// The coefficients of step `t` (1-based) over a batch of `batch_len` samples in `epoch`.
    pub fn step(&self, epoch: u32, t: u32, batch_len: usize) -> Step<T> {
        let lr = self.schedule.rate(epoch);
        let mean = T::ONE / T::from_count(batch_len.max(1));
        Step {
            lr,
            mean,
            rate: lr * mean,
            l2: self.l2,
            l1: self.l1,
            t,
            frozen_layers: self.config.frozen_layers as usize,
        }
    }
}

/// Forward and backward for one sample: adds its gradient to `state.gradients`
/// and returns its loss and whether its predicted class was right.
///
/// A building block for learning one sample at a time (then
/// [`Learner::step`]); it does not check its input, so validate new samples
/// first (a [`Dataset`]'s `check_inputs` and `check_targets`).
#[inline(always)]
pub fn accumulate_sample<N, O, L, T, const K: usize>(
    net: &N,
    state: &mut TrainState<N, O>,
    _loss: L,
    x: &N::Input,
    target: &L::Target,
) -> (T, bool)
where
    T: Float,
    N: Network<Scalar = T, Output = [T; K]>,
    O: Optimizer,
    L: Loss<T, K>,
{
    let Scratch { activations, deltas } = &mut state.scratch;
    let output = net.forward(x, activations);
    let scored = score::<N, L, T, K>(output, target, deltas);
    net.backward(x, activations, deltas, &mut state.gradients, None);
    scored
}

/// [`accumulate_sample`] with dropout: draws the sample's masks from
/// `state.persistent.rng` into `cache` by `rule` (a checked configuration's
/// [`Checked::dropout`]), then runs forward and backward through them
/// (see [`dropout`](crate::dropout)).
#[inline(always)]
pub fn accumulate_sample_dropout<N, O, L, T, const K: usize>(
    net: &N,
    state: &mut TrainState<N, O>,
    cache: &mut DropoutCache<N>,
    rule: &DropoutRule<T>,
    x: &N::Input,
    target: &L::Target,
) -> (T, bool)
where
    T: Float,
    N: Network<Scalar = T, Output = [T; K]>,
    O: Optimizer,
    L: Loss<T, K>,
{
    let TrainState { scratch: Scratch { activations, deltas }, gradients, persistent } = state;
    N::draw_masks(rule, 0, &mut cache.masks, &mut persistent.rng);
    let output = net.forward_dropout(x, activations, &cache.masks, &mut cache.dropped);
    let scored = score::<N, L, T, K>(output, target, deltas);
    net.backward_dropout(x, activations, &cache.masks, &cache.dropped, deltas, gradients, None);
    scored
}

/// The loss and whether the predicted class is right; writes `∂L/∂output` into `deltas`.
#[inline(always)]
fn score<N, L, T, const K: usize>(output: &[T; K], target: &L::Target, deltas: &mut N::Deltas) -> (T, bool)
where
    T: Float,
    N: Network<Scalar = T, Output = [T; K]>,
    L: Loss<T, K>,
{
    let correct = L::predicted_class(output) == L::target_class(target);
    (L::loss_and_gradient(output, target, N::output_delta(deltas)), correct)
}

/// [`accumulate_sample`] for two consecutive samples, the second one's
/// values in `pair`: the same bits in `state.gradients` as two calls.
#[inline(always)]
fn accumulate_pair<N, O, L, T, const K: usize>(
    net: &N,
    state: &mut TrainState<N, O>,
    pair: &mut PairCache<N>,
    x: [&N::Input; 2],
    target: [&L::Target; 2],
) -> [(T, bool); 2]
where
    T: Float,
    N: Network<Scalar = T, Output = [T; K]>,
    O: Optimizer,
    L: Loss<T, K>,
{
    let TrainState { scratch: Scratch { activations, deltas }, gradients, .. } = state;
    let [out0, out1] = net.forward_pair(x, [&mut *activations, &mut pair.activations]);
    let scored = [score::<N, L, T, K>(out0, target[0], deltas), score::<N, L, T, K>(out1, target[1], &mut pair.deltas)];
    net.backward_pair(x, [activations, &pair.activations], [deltas, &mut pair.deltas], gradients, None);
    scored
}

fn fill_order<Ix: SampleIndex>(order: &mut [Ix], samples: usize) -> Result<(), Error> {
    if order.len() != samples {
        return Err(Error::OrderLength { expected: samples, found: order.len() });
    }
    for (k, slot) in order.iter_mut().enumerate() {
        *slot = Ix::from_index(k).ok_or(Error::IndexOverflow { samples, max: k })?;
    }
    Ok(())
}

/// One optimizer step of the configured rule from the summed gradient.
#[inline(always)]
fn apply_step<N: Network, O: Optimizer>(
    net: &mut N,
    state: &mut TrainState<N, O>,
    checked: &Checked<N::Scalar, O>,
    batch_len: usize,
) {
    let persistent = &mut state.persistent;
    persistent.steps = persistent.steps.saturating_add(1);
    let mut step = checked.step(persistent.epoch, persistent.steps, batch_len);
    if checked.clip_norm != N::Scalar::ZERO {
        let scale = clip_scale(net, &mut state.gradients, &step, checked.clip_norm);
        step.mean *= scale;
        step.rate *= scale;
    }
    O::apply(&checked.rule, net, &mut state.gradients, &mut state.persistent.optimizer, &step);
}

/// What the batches of one epoch need beside the network, its state and the
/// pair cache: the shuffled order, the loss, the checked configuration and
/// the data. Handed to the function given to [`Learner::epoch_with`].
pub struct Batches<'a, N: Network, O: Optimizer, L: Loss<N::Scalar, K>, Ix, const K: usize> {
    order: &'a [Ix],
    loss: L,
    checked: &'a Checked<N::Scalar, O>,
    data: Dataset<'a, N::Input, L::Target>,
    /// The dropout cache when the configuration drops units.
    dropout: Option<&'a mut DropoutCache<N>>,
}

/// One epoch's shuffled order and the optimizer step that ends each batch:
/// what [`Learner::epoch_over`] hands to the caller's batch runner.
pub struct EpochPlan<'a, T: Float, O: Optimizer, Ix> {
    order: &'a [Ix],
    checked: &'a Checked<T, O>,
}

impl<'a, T: Float, O: Optimizer, Ix: SampleIndex> EpochPlan<'a, T, O, Ix> {
    /// Every sample index of the epoch, in the shuffled order.
    pub fn order(&self) -> &'a [Ix] {
        self.order
    }

    /// Samples per batch (the last batch of an epoch may be smaller).
    pub fn batch_size(&self) -> usize {
        self.checked.config.batch_size.max(1)
    }

    /// The batches, in order: consecutive runs of [`order`](EpochPlan::order).
    pub fn batches(&self) -> core::slice::Chunks<'a, Ix> {
        self.order.chunks(self.batch_size())
    }

    /// The checked configuration.
    pub fn checked(&self) -> &'a Checked<T, O> {
        self.checked
    }

    /// The optimizer step after a batch of `batch_len` samples, from the
    /// gradient summed in `state.gradients`, which is left at zero: what
    /// [`Learner::step`] and every epoch do.
    #[inline(always)]
    pub fn step<N: Network<Scalar = T>>(&self, net: &mut N, state: &mut TrainState<N, O>, batch_len: usize) {
        apply_step(net, state, self.checked, batch_len);
    }
}

/// The batches of one epoch: every sample's gradient summed in the shuffled
/// order, one optimizer step per batch; returns the summed loss and the
/// count of right predictions. [`Learner::epoch`] calls it; a host calls it
/// through [`Learner::epoch_with`] from a function compiled for a wider
/// vector unit. Taking the network, the state and the cache as arguments of
/// their own lets the compiler assume they do not overlap, which keeps the
/// kernels vectorised; reached through the fields of a struct, it cannot.
#[inline(always)]
pub fn run_batches<N, O, L, Ix, T, const K: usize>(
    net: &mut N,
    state: &mut TrainState<N, O>,
    mut pair: Option<&mut PairCache<N>>,
    batches: Batches<'_, N, O, L, Ix, K>,
) -> (T, usize)
where
    T: Float,
    N: Network<Scalar = T, Output = [T; K]>,
    O: Optimizer,
    L: Loss<T, K>,
    Ix: SampleIndex,
{
    let Batches { order, loss, checked, data, dropout } = batches;
    let mut loss_sum = T::ZERO;
    let mut correct = 0usize;
    if let Some(cache) = dropout {
        // One sample at a time: each sample's masks are drawn just before its
        // forward pass, so pairs would gain nothing but a second cache.
        for batch in order.chunks(checked.config.batch_size.max(1)) {
            for &i in batch {
                let Some((x, target)) = data.sample(i.index()) else { continue };
                let (sample_loss, right) =
                    accumulate_sample_dropout::<N, O, L, T, K>(net, state, cache, &checked.dropout, x, target);
                loss_sum += sample_loss;
                correct += usize::from(right);
            }
            apply_step(net, state, checked, batch.len());
        }
        return (loss_sum, correct);
    }
    for batch in order.chunks(checked.config.batch_size.max(1)) {
        let mut singles = batch;
        if let Some(pair) = pair.as_deref_mut() {
            let (pairs, odd) = batch.as_chunks::<2>();
            for &[i, j] in pairs {
                let (Some((x0, t0)), Some((x1, t1))) = (data.sample(i.index()), data.sample(j.index())) else {
                    continue;
                };
                for (sample_loss, right) in accumulate_pair::<N, O, L, T, K>(net, state, pair, [x0, x1], [t0, t1]) {
                    loss_sum += sample_loss;
                    correct += usize::from(right);
                }
            }
            singles = odd;
        }
        for &i in singles {
            let Some((x, target)) = data.sample(i.index()) else { continue };
            let (sample_loss, right) = accumulate_sample(net, state, loss, x, target);
            loss_sum += sample_loss;
            correct += usize::from(right);
        }
        apply_step(net, state, checked, batch.len());
    }
    (loss_sum, correct)
}

/// Trains a network: it borrows the network, its [`TrainState`] (whose
/// persistent part holds the optimizer's state, the step and epoch counts and
/// the random generator) and the shuffle order, and knows the loss and the
/// checked configuration.
///
/// ```
/// use core::ops::ControlFlow;
/// use mlp_core::{layers, Dataset, DefaultRng, Dense, Init, Learner, Network, SeedableRng, TrainConfig, TrainState};
/// use mlp_core::{activation::Tanh, loss::SoftmaxCrossEntropy, optim::Adam, schedule::Schedule};
///
/// type Net = layers![Dense<f32, 2, 8, Tanh>, Dense<f32, 8, 2>];
/// let inputs = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]];
/// let labels = [0, 1, 1, 0];
/// let data = Dataset::new(&inputs, &labels).unwrap();
///
/// let mut net = Net::default();
/// let mut state = TrainState::<Net, Adam>::new();
/// state.persistent.rng = DefaultRng::seed_from_u64(1);
/// net.initialize(Init::GlorotUniform, &mut state.persistent.rng).unwrap();
/// let config = TrainConfig { epochs: 500, batch_size: 4, schedule: Schedule::constant(0.05), ..TrainConfig::new(Adam::DEFAULT) };
/// let mut order = [0u16; 4];
/// let mut learner = Learner::new(&mut net, &mut state, &mut order, SoftmaxCrossEntropy, &config).unwrap();
/// let summary = learner
///     .fit(data, |epoch, _| if epoch.train.loss < 0.01 { ControlFlow::Break(()) } else { ControlFlow::Continue(()) })
///     .unwrap();
/// assert_eq!(summary.last.train.accuracy, 1.0);
/// ```
pub struct Learner<'a, N: Network, O: Optimizer, L, Ix> {
    net: &'a mut N,
    state: &'a mut TrainState<N, O>,
    order: &'a mut [Ix],
    pair: Option<&'a mut PairCache<N>>,
    dropout: Option<&'a mut DropoutCache<N>>,
    loss: L,
    checked: Checked<N::Scalar, O>,
}

impl<'a, N, O, L, Ix, T, const K: usize> Learner<'a, N, O, L, Ix>
where
    T: Float,
    N: Network<Scalar = T, Output = [T; K]>,
    O: Optimizer,
    L: Loss<T, K>,
    Ix: SampleIndex,
{
    /// A learner for `config`, checked for the network's float type.
    /// `order` must hold one slot per training sample.
    pub fn new(
        net: &'a mut N,
        state: &'a mut TrainState<N, O>,
        order: &'a mut [Ix],
        loss: L,
        config: &TrainConfig<O>,
    ) -> Result<Self, Error> {
        if config.frozen_layers as usize >= N::LAYERS {
            return Err(Error::InvalidHyperparameter {
                name: Hyperparameter::FrozenLayers,
                requirement: "fewer than the network's layers",
            });
        }
        let checked = config.check::<T>()?;
        // Only hidden layers drop units: every layer but the last.
        if (N::LAYERS - 1..crate::dropout::MAX_LAYERS).any(|l| config.dropout.rate(l) != 0.0) {
            return Err(Error::InvalidHyperparameter {
                name: Hyperparameter::Dropout,
                requirement: "0 beyond the network's hidden layers (the output layer never drops units)",
            });
        }
        Ok(Learner { net, state, order, pair: None, dropout: None, loss, checked })
    }

    /// Gives the learner the cache that dropout needs (one sample's masks
    /// and dropped outputs), required when the configuration has a rate
    /// above 0. With dropout, samples are taken one at a time even if
    /// [`with_pairs`](Learner::with_pairs) was called.
    pub fn with_dropout(mut self, cache: &'a mut DropoutCache<N>) -> Self {
        self.dropout = Some(cache);
        self
    }

    /// Takes the samples of each batch two at a time, the second one's
    /// values in `cache`: the same bits, faster on a host's vector unit. A
    /// device gains nothing and saves the cache's RAM by not calling this.
    pub fn with_pairs(mut self, cache: &'a mut PairCache<N>) -> Self {
        self.pair = Some(cache);
        self
    }

    /// The network.
    pub fn net(&self) -> &N {
        self.net
    }

    /// The network, to change between epochs: early stopping copies the
    /// best weights out and back ([`crate::early_stopping`]).
    pub fn net_mut(&mut self) -> &mut N {
        self.net
    }

    /// The training state.
    pub fn state(&self) -> &TrainState<N, O> {
        self.state
    }

    /// The checked configuration.
    pub fn checked(&self) -> &Checked<T, O> {
        &self.checked
    }

    /// One step from the gradient summed over `batch_len` samples (by
    /// [`accumulate_sample`] or an epoch), which is left at zero.
    #[inline(always)]
    pub fn step(&mut self, batch_len: usize) {
        apply_step(self.net, self.state, &self.checked, batch_len);
    }

    /// One pass over the data in a freshly shuffled order, at the epoch the
    /// state has reached (which sets the learning rate), then counts it.
    ///
    /// Inputs and targets are checked first, so a NaN input or a label out of
    /// range is an error, not silently learned. An epoch whose loss or
    /// resulting weights are not finite is [`Error::Diverged`]; the weights
    /// and the optimizer state may then hold NaN or infinite values.
    ///
    /// Always inlined, with everything it calls, so a host caller compiled
    /// for a wider vector unit (`#[target_feature]`) gets the whole epoch in that code.
    #[inline(always)]
    pub fn epoch(&mut self, data: Dataset<'_, N::Input, L::Target>) -> Result<EpochMetrics<T>, Error> {
        self.epoch_with(data, run_batches)
    }

    /// [`epoch`](Learner::epoch) with its batches run by `batches`, which
    /// must call [`run_batches`] with the arguments it is given: a host wraps
    /// that call in a function compiled for a wider vector unit
    /// (`#[target_feature]`), so that the network, state and cache arrive as
    /// arguments the compiler knows do not overlap.
    #[inline(always)]
    pub fn epoch_with(
        &mut self,
        data: Dataset<'_, N::Input, L::Target>,
        batches: impl FnOnce(
            &mut N,
            &mut TrainState<N, O>,
            Option<&mut PairCache<N>>,
            Batches<'_, N, O, L, Ix, K>,
        ) -> (T, usize),
    ) -> Result<EpochMetrics<T>, Error> {
        data.check_inputs::<N>()?;
        data.check_targets::<L, T, K>()?;
        let dropout = match (self.checked.dropout.is_active(), self.dropout.as_deref_mut()) {
            (false, _) => None,
            (true, Some(cache)) => Some(cache),
            (true, None) => {
                return Err(Error::InvalidHyperparameter {
                    name: Hyperparameter::Dropout,
                    requirement: "given a DropoutCache (Learner::with_dropout) to train with",
                });
            }
        };
        fill_order(self.order, data.len())?;
        shuffle(&mut self.state.persistent.rng, self.order);
        self.state.gradients.set_zero();
        let epoch = self.state.persistent.epoch;
        let plan = Batches { order: self.order, loss: self.loss, checked: &self.checked, data, dropout };
        let (loss_sum, correct) = batches(self.net, self.state, self.pair.as_deref_mut(), plan);
        let train = Metrics::from_sums(loss_sum, correct, data.len());
        // ReLU maps NaN to 0, so NaN weights can hide behind a finite loss.
        if !train.loss.is_finite() || !self.net.parameters_finite() {
            return Err(Error::Diverged { epoch: epoch.saturating_add(1) });
        }
        self.state.persistent.epoch = epoch.saturating_add(1);
        Ok(EpochMetrics { epoch: epoch.saturating_add(1), learning_rate: self.checked.learning_rate(epoch), train })
    }

    /// An epoch over `samples` samples that the caller keeps and runs
    /// itself (samples held in another form than a [`Dataset`], batches run
    /// by several threads): the order is refilled and shuffled with the
    /// state's generator exactly as [`epoch`](Learner::epoch) does it, the
    /// gradient is zeroed, and `run` gets the network, the state and an
    /// [`EpochPlan`]. One seed thus gives the same run on either path.
    ///
    /// `run` must, for each batch of [`EpochPlan::batches`] in turn, add
    /// every sample's gradient to `state.gradients` with the operations and
    /// in the order of [`accumulate_sample`] (each gradient value summed
    /// sample by sample in the batch's order), then call
    /// [`EpochPlan::step`] (with dropout configured, each sample as
    /// [`accumulate_sample_dropout`] does it, masks drawn from the state's
    /// generator in the batch's order); it returns the loss summed in the shuffled order
    /// and the count of right predictions, or an error that ends the epoch
    /// as it is. Nothing checks the samples here: check them (finite inputs,
    /// valid targets) before the first epoch. The end is as in `epoch`: a
    /// loss or weights that are not finite are [`Error::Diverged`], otherwise
    /// the epoch is counted.
    ///
    /// ```
    /// use mlp_core::{accumulate_sample, layers, Dense, Init, Learner, Network, TrainConfig, TrainState};
    /// use mlp_core::{DefaultRng, SeedableRng, activation::Tanh, loss::SoftmaxCrossEntropy, optim::Sgd};
    ///
    /// type Net = layers![Dense<f32, 2, 4, Tanh>, Dense<f32, 4, 2>];
    /// // Samples kept as bytes, converted only when a batch needs them.
    /// let bytes = [[0u8, 0], [0, 255], [255, 0], [255, 255]];
    /// let labels = [0, 1, 1, 0];
    /// let (mut net, mut state, mut order) = (Net::default(), TrainState::<Net, Sgd>::new(), [0u32; 4]);
    /// state.persistent.rng = DefaultRng::seed_from_u64(1);
    /// net.initialize(Init::GlorotUniform, &mut state.persistent.rng).unwrap();
    /// let config = TrainConfig { batch_size: 2, ..TrainConfig::new(Sgd) };
    /// let mut learner = Learner::new(&mut net, &mut state, &mut order, SoftmaxCrossEntropy, &config).unwrap();
    /// let metrics = learner
    ///     .epoch_over(bytes.len(), |net, state, plan| {
    ///         let (mut loss, mut correct) = (0.0, 0);
    ///         for batch in plan.batches() {
    ///             for &i in batch {
    ///                 let x = bytes[i as usize].map(|b| f32::from(b) / 255.0);
    ///                 let (l, right) = accumulate_sample(net, state, SoftmaxCrossEntropy, &x, &labels[i as usize]);
    ///                 loss += l;
    ///                 correct += usize::from(right);
    ///             }
    ///             plan.step(net, state, batch.len());
    ///         }
    ///         Ok((loss, correct))
    ///     })
    ///     .unwrap();
    /// assert_eq!((metrics.epoch, metrics.train.samples), (1, 4));
    /// ```
    #[inline(always)]
    pub fn epoch_over(
        &mut self,
        samples: usize,
        run: impl FnOnce(&mut N, &mut TrainState<N, O>, EpochPlan<'_, T, O, Ix>) -> Result<(T, usize), Error>,
    ) -> Result<EpochMetrics<T>, Error> {
        if samples == 0 {
            return Err(Error::EmptyDataset);
        }
        fill_order(self.order, samples)?;
        shuffle(&mut self.state.persistent.rng, self.order);
        self.state.gradients.set_zero();
        let epoch = self.state.persistent.epoch;
        let plan = EpochPlan { order: self.order, checked: &self.checked };
        let (loss_sum, correct) = run(self.net, self.state, plan)?;
        let train = Metrics::from_sums(loss_sum, correct, samples);
        // ReLU maps NaN to 0, so NaN weights can hide behind a finite loss.
        if !train.loss.is_finite() || !self.net.parameters_finite() {
            return Err(Error::Diverged { epoch: epoch.saturating_add(1) });
        }
        self.state.persistent.epoch = epoch.saturating_add(1);
        Ok(EpochMetrics { epoch: epoch.saturating_add(1), learning_rate: self.checked.learning_rate(epoch), train })
    }

    /// Trains until the state's epoch count reaches the configuration's
    /// `epochs`, calling `on_epoch` after each with its metrics and the
    /// network; the hook returns `ControlFlow::Break` to stop.
    pub fn fit(
        &mut self,
        data: Dataset<'_, N::Input, L::Target>,
        mut on_epoch: impl FnMut(&EpochMetrics<T>, &N) -> ControlFlow<()>,
    ) -> Result<TrainSummary<T>, Error> {
        let mut summary = TrainSummary::default();
        while self.state.persistent.epoch < self.checked.config.epochs {
            let metrics = self.epoch(data)?;
            summary.epochs = metrics.epoch;
            summary.last = metrics;
            if on_epoch(&metrics, self.net).is_break() {
                summary.stopped_early = summary.epochs < self.checked.config.epochs;
                break;
            }
        }
        Ok(summary)
    }
}

/// Mean loss and accuracy of `net` on `data`; `activations` is scratch.
///
/// ```
/// use mlp_core::{Dataset, Dense, Metrics, evaluate, loss::SoftmaxCrossEntropy};
/// // Output k is input k: the class is the larger input.
/// let net: Dense<f32, 2, 2> = Dense::from_columns([[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0]);
/// let inputs = [[2.0, 0.0], [0.0, 2.0], [2.0, 0.0]];
/// let labels = [0, 1, 1];
/// let data = Dataset::new(&inputs, &labels).unwrap();
/// let mut scratch = Default::default();
/// let metrics: Metrics<f32> = evaluate(&net, &mut scratch, SoftmaxCrossEntropy, data).unwrap();
/// assert_eq!((metrics.correct, metrics.samples), (2, 3));
/// assert_eq!(metrics.accuracy, 2.0 / 3.0);
/// // Logits 2 and 0: ln(1 + e²) for the wrong sample, ln(1 + e⁻²) for the right ones.
/// let expected = (2.0 * (1.0 + (-2.0f32).exp()).ln() + (1.0 + 2.0f32.exp()).ln()) / 3.0;
/// assert!((metrics.loss - expected).abs() < 1e-6);
/// ```
pub fn evaluate<N, L, T, const O: usize>(
    net: &N,
    activations: &mut N::Activations,
    _loss: L,
    data: Dataset<'_, N::Input, L::Target>,
) -> Result<Metrics<T>, Error>
where
    T: Float,
    N: Network<Scalar = T, Output = [T; O]>,
    L: Loss<T, O>,
{
    data.check_inputs::<N>()?;
    data.check_targets::<L, T, O>()?;
    let mut loss_sum = T::ZERO;
    let mut correct = 0usize;
    for (x, target) in data.inputs.iter().zip(data.targets) {
        let output = net.forward(x, activations);
        loss_sum += L::loss(output, target);
        correct += usize::from(L::predicted_class(output) == L::target_class(target));
    }
    Ok(Metrics::from_sums(loss_sum, correct, data.len()))
}

/// The confusion matrix of `net` on `data` over `K` classes.
///
/// `K` should be the number of classes the loss tells apart: `O`, the number
/// of outputs, for [`SoftmaxCrossEntropy`](crate::loss::SoftmaxCrossEntropy)
/// (and for the other losses with `O ≥ 2`, which vote by the largest output),
/// but 2 for a single output, which the other losses read as a yes/no. A pair
/// with a class `≥ K` has no cell and is counted in
/// [`out_of_range`](ConfusionMatrix::out_of_range) instead.
///
/// ```
/// use mlp_core::{ConfusionMatrix, Dataset, Dense, confusion_matrix, loss::SoftmaxCrossEntropy};
/// let net: Dense<f32, 2, 2> = Dense::from_columns([[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0]);
/// let inputs = [[2.0, 0.0], [0.0, 2.0], [2.0, 0.0]];
/// let labels = [0, 1, 1];
/// let data = Dataset::new(&inputs, &labels).unwrap();
/// let mut scratch = Default::default();
/// let matrix: ConfusionMatrix<2> = confusion_matrix(&net, &mut scratch, SoftmaxCrossEntropy, data).unwrap();
/// // counts[actual][predicted]: the third sample is a 1 taken for a 0.
/// assert_eq!(matrix.counts, [[1, 0], [1, 1]]);
/// assert_eq!(matrix.out_of_range, 0);
/// ```
pub fn confusion_matrix<N, L, T, const O: usize, const K: usize>(
    net: &N,
    activations: &mut N::Activations,
    _loss: L,
    data: Dataset<'_, N::Input, L::Target>,
) -> Result<ConfusionMatrix<K>, Error>
where
    T: Float,
    N: Network<Scalar = T, Output = [T; O]>,
    L: Loss<T, O>,
{
    data.check_inputs::<N>()?;
    data.check_targets::<L, T, O>()?;
    let mut matrix = ConfusionMatrix::new();
    for (x, target) in data.inputs.iter().zip(data.targets) {
        let output = net.forward(x, activations);
        matrix.record(L::target_class(target), L::predicted_class(output));
    }
    Ok(matrix)
}

/// Raw outputs for one sample given as a slice (its length is checked, and
/// a NaN or infinite value is [`Error::NonFiniteInput`] with `sample: 0`).
///
/// ```
/// use mlp_core::{Dense, Error, predict};
/// // Outputs: x₀ + 2x₁ and x₀ − x₁ + 1.
/// let net: Dense<f32, 2, 2> = Dense::from_columns([[1.0, 1.0], [2.0, -1.0]], [0.0, 1.0]);
/// let mut scratch = Default::default();
/// assert_eq!(predict(&net, &[1.0, 3.0], &mut scratch), Ok(&[7.0, -1.0]));
/// assert_eq!(predict(&net, &[1.0], &mut scratch), Err(Error::InputLength { expected: 2, found: 1 }));
/// assert_eq!(predict(&net, &[1.0, f32::INFINITY], &mut scratch), Err(Error::NonFiniteInput { sample: 0 }));
/// ```
pub fn predict<'a, N: Network>(
    net: &N,
    x: &[N::Scalar],
    activations: &'a mut N::Activations,
) -> Result<&'a N::Output, Error> {
    let x = N::input_from_slice(x)?;
    if !all_finite(N::input_values(x)) {
        return Err(Error::NonFiniteInput { sample: 0 });
    }
    let output = net.forward(x, activations);
    if !all_finite(N::output_values(output)) {
        return Err(Error::NonFiniteOutput { sample: 0 });
    }
    Ok(output)
}

/// The predicted class of one sample.
///
/// ```
/// use mlp_core::{Dense, loss::SoftmaxCrossEntropy, predict_class};
/// let net: Dense<f32, 2, 2> = Dense::from_columns([[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0]);
/// let mut scratch = Default::default();
/// assert_eq!(predict_class(&net, SoftmaxCrossEntropy, &[0.2, 0.9], &mut scratch), Ok(1));
/// assert!(predict_class(&net, SoftmaxCrossEntropy, &[0.2], &mut scratch).is_err());
/// assert!(predict_class(&net, SoftmaxCrossEntropy, &[0.2, f32::NAN], &mut scratch).is_err());
/// ```
pub fn predict_class<N, L, T, const O: usize>(
    net: &N,
    _loss: L,
    x: &[T],
    activations: &mut N::Activations,
) -> Result<usize, Error>
where
    T: Float,
    N: Network<Scalar = T, Output = [T; O]>,
    L: Loss<T, O>,
{
    Ok(L::predicted_class(predict(net, x, activations)?))
}

/// Class probabilities (or, for the quadratic loss, the outputs) of one sample.
///
/// ```
/// use mlp_core::{Dense, loss::{SigmoidCrossEntropy, SoftmaxCrossEntropy}, predict_probabilities};
/// let net: Dense<f32, 2, 2> = Dense::from_columns([[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0]);
/// let mut scratch = Default::default();
/// let mut p = [0.0; 2];
/// // Softmax of the logits [0, ln 3]: probabilities 1/4 and 3/4.
/// predict_probabilities(&net, SoftmaxCrossEntropy, &[0.0, 3f32.ln()], &mut scratch, &mut p).unwrap();
/// assert!((p[0] - 0.25).abs() < 1e-6 && (p[1] - 0.75).abs() < 1e-6);
/// // Independent sigmoids of the same logits: 1/2 and 3/4.
/// predict_probabilities(&net, SigmoidCrossEntropy, &[0.0, 3f32.ln()], &mut scratch, &mut p).unwrap();
/// assert!((p[0] - 0.5).abs() < 1e-6 && (p[1] - 0.75).abs() < 1e-6);
/// ```
pub fn predict_probabilities<N, L, T, const O: usize>(
    net: &N,
    _loss: L,
    x: &[T],
    activations: &mut N::Activations,
    probabilities: &mut [T; O],
) -> Result<(), Error>
where
    T: Float,
    N: Network<Scalar = T, Output = [T; O]>,
    L: Loss<T, O>,
{
    L::prediction(predict(net, x, activations)?, probabilities);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activation::{Relu, argmax};
    use crate::init::unit_interval;
    use crate::layer::Dense;
    use crate::layers;
    use crate::loss::SoftmaxCrossEntropy;
    use rand_core::SeedableRng;

    /// Output k is input k, so the predicted class is the largest input.
    fn pick_largest() -> Dense<f32, 3, 3> {
        Dense::from_columns([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]], [0.0; 3])
    }

    #[test]
    fn confusion_matrix_counts_a_hand_made_case() {
        let inputs = [
            [3.0, 0.0, 0.0], // predicted 0
            [0.0, 3.0, 0.0], // predicted 1
            [0.0, 0.0, 3.0], // predicted 2
            [1.0, 2.0, 0.0], // predicted 1
            [2.0, 0.0, 1.0], // predicted 0
            [0.0, 1.0, 2.0], // predicted 2
            [0.5, 0.0, 0.0], // predicted 0
        ];
        let labels = [0, 1, 2, 0, 2, 2, 1];
        let data = Dataset::new(&inputs, &labels).unwrap();
        let net = pick_largest();
        let mut scratch = Zeroed::zeroed();
        let matrix: ConfusionMatrix<3> = confusion_matrix(&net, &mut scratch, SoftmaxCrossEntropy, data).unwrap();
        // counts[actual][predicted]
        assert_eq!(matrix.counts, [[1, 1, 0], [1, 1, 0], [1, 0, 2]]);
        assert_eq!((matrix.total(), matrix.out_of_range), (7, 0));
        let metrics = evaluate(&net, &mut scratch, SoftmaxCrossEntropy, data).unwrap();
        assert_eq!((metrics.correct, metrics.samples), (4, 7));
        assert_eq!(matrix.accuracy(), 4.0 / 7.0);
        assert_eq!(metrics.accuracy, 4.0f32 / 7.0);
        // A matrix too small for the classes counts the rest aside.
        let small: ConfusionMatrix<2> = confusion_matrix(&net, &mut scratch, SoftmaxCrossEntropy, data).unwrap();
        assert_eq!(small.counts, [[1, 1], [1, 1]]);
        assert_eq!(small.out_of_range, 3);
    }

    /// `epoch_over` with a runner that does what `run_batches` does, one
    /// sample at a time, against `epoch`: the same weights, optimizer state,
    /// generator and metrics after several epochs, with clipping and penalties.
    #[test]
    fn an_epoch_run_by_the_caller_gives_the_bits_of_epoch() {
        use crate::optim::{Adam, Momentum};
        use crate::walk::Slots;
        type Net = layers![Dense<f32, 5, 7, Relu>, Dense<f32, 7, 3>];
        fn train<O: Optimizer>(optimizer: O, by_caller: bool) -> (Net, TrainState<Net, O>, [EpochMetrics<f32>; 3]) {
            let mut rng = crate::DefaultRng::seed_from_u64(9);
            let inputs: [[f32; 5]; 23] =
                core::array::from_fn(|_| core::array::from_fn(|_| (unit_interval(&mut rng) as f32 - 0.3).max(0.0)));
            let labels: [usize; 23] = core::array::from_fn(|i| i % 3);
            let data = Dataset::new(&inputs, &labels).unwrap();
            let (mut net, mut state, mut order) = (Net::default(), TrainState::<Net, O>::new(), [0u16; 23]);
            state.persistent.rng = rng;
            net.initialize(crate::Init::HeUniform, &mut state.persistent.rng).unwrap();
            let config =
                TrainConfig { batch_size: 5, l2: 1e-3, l1: 1e-4, clip_norm: 0.5, ..TrainConfig::new(optimizer) };
            let mut learner = Learner::new(&mut net, &mut state, &mut order, SoftmaxCrossEntropy, &config).unwrap();
            let metrics = core::array::from_fn(|_| {
                if !by_caller {
                    return learner.epoch(data).unwrap();
                }
                learner
                    .epoch_over(inputs.len(), |net, state, plan| {
                        let (mut loss, mut correct) = (0.0, 0);
                        for batch in plan.batches() {
                            for &i in batch {
                                let (x, t) = (&inputs[usize::from(i)], &labels[usize::from(i)]);
                                let (l, right) = accumulate_sample(net, state, SoftmaxCrossEntropy, x, t);
                                loss += l;
                                correct += usize::from(right);
                            }
                            plan.step(net, state, batch.len());
                        }
                        Ok((loss, correct))
                    })
                    .unwrap()
            });
            (net, state, metrics)
        }
        fn same<O: Optimizer>(optimizer: O) {
            let (net, state, metrics) = train(optimizer, false);
            let (net2, state2, metrics2) = train(optimizer, true);
            let bits = |n: &Net| {
                let mut all = [0u32; Net::PARAMETERS];
                let mut k = 0;
                n.for_each_parameter(|_, values| {
                    for v in values {
                        all[k] = v.to_bits();
                        k += 1;
                    }
                });
                all
            };
            assert_eq!(bits(&net), bits(&net2), "{}", O::NAME);
            let state_bits = |s: &TrainState<Net, O>| {
                let mut all = [0u32; 2 * Net::PARAMETERS];
                let mut k = 0;
                for buffer in s.persistent.optimizer.as_ref() {
                    for slot in 0..4 {
                        for v in buffer.slot(slot) {
                            all[k] = v.to_bits();
                            k += 1;
                        }
                    }
                }
                all
            };
            assert_eq!(state_bits(&state), state_bits(&state2), "{}", O::NAME);
            assert_eq!(state.persistent.rng.state(), state2.persistent.rng.state());
            assert_eq!((state.persistent.steps, state.persistent.epoch), (15, 3));
            assert_eq!((state2.persistent.steps, state2.persistent.epoch), (15, 3));
            assert_eq!(metrics, metrics2, "{}", O::NAME);
        }
        same(Momentum::DEFAULT);
        same(Adam::DEFAULT);
    }

    #[test]
    fn an_empty_epoch_run_by_the_caller_is_refused() {
        type Net = Dense<f32, 2, 2>;
        let (mut net, mut state, mut order) = (Net::default(), TrainState::<Net>::new(), [0u16; 0]);
        let config = TrainConfig::DEFAULT;
        let mut learner = Learner::new(&mut net, &mut state, &mut order, SoftmaxCrossEntropy, &config).unwrap();
        assert_eq!(learner.epoch_over(0, |_, _, _| Ok((0.0, 0))), Err(Error::EmptyDataset));
        let mut order = [0u16; 3];
        let mut learner = Learner::new(&mut net, &mut state, &mut order, SoftmaxCrossEntropy, &config).unwrap();
        let failed = learner.epoch_over(3, |_, _, _| Err(Error::NonFiniteInput { sample: 1 }));
        assert_eq!(failed, Err(Error::NonFiniteInput { sample: 1 }));
        assert_eq!(state.persistent.epoch, 0, "a failed epoch is not counted");
    }

    #[test]
    fn probabilities_sum_to_one_and_agree_with_the_predicted_class() {
        type Net = layers![Dense<f32, 4, 6, Relu>, Dense<f32, 6, 5>];
        let mut rng = crate::DefaultRng::seed_from_u64(17);
        let mut net = Net::default();
        net.initialize(crate::Init::HeUniform, &mut rng).unwrap();
        let mut scratch = Zeroed::zeroed();
        for _ in 0..500 {
            let x: [f32; 4] = core::array::from_fn(|_| (8.0 * unit_interval(&mut rng) - 4.0) as f32);
            let mut p = [f32::NAN; 5];
            predict_probabilities(&net, SoftmaxCrossEntropy, &x, &mut scratch, &mut p).unwrap();
            let sum: f32 = p.iter().sum();
            // Five terms, each within a few roundings of its exact value.
            assert!((sum - 1.0).abs() <= 8.0 * f32::EPSILON, "Σp = {sum} for {x:?}");
            assert!(p.iter().all(|q| (0.0..=1.0).contains(q)), "{p:?}");
            let class = predict_class(&net, SoftmaxCrossEntropy, &x, &mut scratch).unwrap();
            let output = *predict(&net, &x, &mut scratch).unwrap();
            assert_eq!(argmax(&p), class, "{p:?} for {x:?}");
            assert_eq!(argmax(&output), class, "{output:?} for {x:?}");
        }
    }
}
