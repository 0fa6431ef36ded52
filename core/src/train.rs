//! Training and evaluation loops, written out over caller-owned data.
//!
//! The data set and the shuffle order are the caller's slices; everything the
//! loop writes is the network and its [`TrainState`], so nothing here
//! allocates. Per-batch gradients are summed sample by sample in shuffle order.

use core::ops::ControlFlow;

use rand_core::Rng;

use crate::buffer::Zeroed;
use crate::error::Error;
use crate::float::Float;
use crate::init::shuffle;
use crate::loss::Loss;
use crate::metrics::{ConfusionMatrix, EpochMetrics, Metrics, TrainSummary};
use crate::network::{Network, PairCache, TrainState};
use crate::optim::{Sgd, SgdConfig};

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

/// How long and in what batches to train.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct TrainConfig {
    /// Passes over the data (≥ 1).
    pub epochs: u32,
    /// Samples per optimizer step (≥ 1); the last batch of an epoch may be smaller.
    pub batch_size: usize,
    /// The optimizer.
    pub sgd: SgdConfig,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl TrainConfig {
    /// 10 epochs of batches of 32 with [`SgdConfig::DEFAULT`]. A constant, so
    /// firmware can keep its configuration in flash:
    ///
    /// ```
    /// use mlp_core::{SgdConfig, TrainConfig};
    /// static CONFIG: TrainConfig = TrainConfig {
    ///     epochs: 20,
    ///     sgd: SgdConfig { lr: 0.05, momentum: 0.9, ..SgdConfig::DEFAULT },
    ///     ..TrainConfig::DEFAULT
    /// };
    /// assert_eq!(CONFIG.batch_size, 32);
    /// ```
    pub const DEFAULT: Self = TrainConfig { epochs: 10, batch_size: 32, sgd: SgdConfig::DEFAULT };

    /// [`TrainConfig::DEFAULT`], as a `const fn`.
    pub const fn new() -> Self {
        Self::DEFAULT
    }

    /// Validates epochs, batch size and the optimizer ([`SgdConfig::check`]),
    /// and that the decayed learning rate of the last epoch, rounded to `T` as
    /// the update uses it, is still a positive normal number.
    pub fn check<T: Float>(&self) -> Result<Sgd<T>, Error> {
        if self.epochs == 0 {
            return Err(Error::InvalidHyperparameter { name: "epochs", requirement: "at least 1" });
        }
        if self.batch_size == 0 {
            return Err(Error::InvalidHyperparameter { name: "batch size", requirement: "at least 1" });
        }
        let sgd = self.sgd.check::<T>()?;
        // The rate only falls with the epoch, and the first is checked above.
        if sgd.learning_rate(self.epochs - 1) < T::MIN_POSITIVE {
            return Err(Error::InvalidHyperparameter {
                name: "decay",
                requirement: "small enough that the last epoch's learning rate stays positive and normal \
                              in the network's float type",
            });
        }
        Ok(sgd)
    }
}

/// Forward and backward for one sample: adds its gradient to `state.gradients`
/// and returns its loss and whether its predicted class was right.
///
/// A building block for learning one sample at a time (with
/// [`apply_gradients`]); it does not check its input, so validate new samples
/// first (a [`Dataset`]'s `check_inputs` and `check_targets`) or use
/// [`train_epoch`], which does.
#[inline(always)]
pub fn accumulate_sample<N, L, T, const O: usize>(
    net: &N,
    state: &mut TrainState<N>,
    _loss: L,
    x: &N::Input,
    target: &L::Target,
) -> (T, bool)
where
    T: Float,
    N: Network<Scalar = T, Output = [T; O]>,
    L: Loss<T, O>,
{
    let output = net.forward(x, &mut state.activations);
    let scored = score::<N, L, T, O>(output, target, &mut state.deltas);
    net.backward(x, &state.activations, &mut state.deltas, &mut state.gradients, None);
    scored
}

/// The loss and whether the predicted class is right; writes `∂L/∂output` into `deltas`.
#[inline(always)]
fn score<N, L, T, const O: usize>(output: &[T; O], target: &L::Target, deltas: &mut N::Deltas) -> (T, bool)
where
    T: Float,
    N: Network<Scalar = T, Output = [T; O]>,
    L: Loss<T, O>,
{
    let correct = L::predicted_class(output) == L::target_class(target);
    (L::loss_and_gradient(output, target, N::output_delta(deltas)), correct)
}

/// [`accumulate_sample`] for two consecutive samples, the second one's
/// values in `pair`: the same bits in `state.gradients` as two calls.
#[inline(always)]
fn accumulate_pair<N, L, T, const O: usize>(
    net: &N,
    state: &mut TrainState<N>,
    pair: &mut PairCache<N>,
    x: [&N::Input; 2],
    target: [&L::Target; 2],
) -> [(T, bool); 2]
where
    T: Float,
    N: Network<Scalar = T, Output = [T; O]>,
    L: Loss<T, O>,
{
    let TrainState { activations, deltas, gradients, .. } = state;
    let [out0, out1] = net.forward_pair(x, [&mut *activations, &mut pair.activations]);
    let scored = [score::<N, L, T, O>(out0, target[0], deltas), score::<N, L, T, O>(out1, target[1], &mut pair.deltas)];
    net.backward_pair(x, [activations, &pair.activations], [deltas, &mut pair.deltas], gradients, None);
    scored
}

/// Applies the gradient summed over `batch_len` samples and clears it.
#[inline(always)]
pub fn apply_gradients<N: Network>(
    net: &mut N,
    state: &mut TrainState<N>,
    sgd: &Sgd<N::Scalar>,
    epoch: u32,
    batch_len: usize,
) {
    let step = sgd.step(epoch, batch_len);
    step.apply(net, &mut state.gradients, &mut state.velocity);
}

/// One pass over the data in a freshly shuffled order; `epoch` is 0-based and sets the learning rate.
///
/// `order` must hold one slot per sample; its contents are overwritten.
/// Inputs and targets are checked first (one comparison per value, about 1 %
/// of an epoch), so a NaN input or a label out of range is an error, not
/// silently learned. An epoch whose loss or resulting weights are not finite
/// is [`Error::Diverged`]; the network's weights and the momentum in `state`
/// may then hold NaN or infinite values, so re-initialise them (or restore a
/// saved copy and a fresh [`TrainState`]) before training again.
///
/// An [`Sgd`] from [`SgdConfig::check`] does not know how many epochs will
/// run: only [`TrainConfig::check`] rejects a decay that rounds a late
/// epoch's learning rate to zero.
///
/// Always inlined, with everything it calls, so a host caller compiled for a
/// wider vector unit (`#[target_feature]`) gets the whole epoch in that code.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub fn train_epoch<N, L, T, R, Ix, const O: usize>(
    net: &mut N,
    state: &mut TrainState<N>,
    loss: L,
    data: Dataset<'_, N::Input, L::Target>,
    order: &mut [Ix],
    sgd: &Sgd<T>,
    batch_size: usize,
    epoch: u32,
    rng: &mut R,
) -> Result<EpochMetrics<T>, Error>
where
    T: Float,
    N: Network<Scalar = T, Output = [T; O]>,
    L: Loss<T, O>,
    R: Rng + ?Sized,
    Ix: SampleIndex,
{
    train_epoch_paired(net, state, None, loss, data, order, sgd, batch_size, epoch, rng)
}

/// [`train_epoch`] taking the samples of each batch two at a time
/// ([`Network::forward_pair`], [`Network::backward_pair`]) when given a
/// `pair` cache for the second one's values; an odd batch's last sample goes
/// alone, and with `None` every sample does, exactly as in [`train_epoch`].
/// Same arguments otherwise, and the same bits in the network, the momentum
/// and gradients in `state`, and the metrics. (The per-sample scratch,
/// `state.activations` and `state.deltas`, may hold a different sample of the
/// batch afterwards.)
///
/// For hosts: interleaving two samples keeps a vector unit busier. A scalar
/// FPU gains nothing from it, and the cache costs [`Network::CACHE_BYTES`]
/// more RAM, so a device keeps [`train_epoch`].
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub fn train_epoch_paired<N, L, T, R, Ix, const O: usize>(
    net: &mut N,
    state: &mut TrainState<N>,
    mut pair: Option<&mut PairCache<N>>,
    loss_fn: L,
    data: Dataset<'_, N::Input, L::Target>,
    order: &mut [Ix],
    sgd: &Sgd<T>,
    batch_size: usize,
    epoch: u32,
    rng: &mut R,
) -> Result<EpochMetrics<T>, Error>
where
    T: Float,
    N: Network<Scalar = T, Output = [T; O]>,
    L: Loss<T, O>,
    R: Rng + ?Sized,
    Ix: SampleIndex,
{
    if batch_size == 0 {
        return Err(Error::InvalidHyperparameter { name: "batch size", requirement: "at least 1" });
    }
    data.check_inputs::<N>()?;
    data.check_targets::<L, T, O>()?;
    fill_order(order, data.len())?;
    shuffle(rng, order);
    state.gradients.set_zero();
    let mut loss_sum = T::ZERO;
    let mut correct = 0usize;
    for batch in order.chunks(batch_size) {
        let mut singles = batch;
        if let Some(pair) = pair.as_deref_mut() {
            let (pairs, odd) = batch.as_chunks::<2>();
            for &[i, j] in pairs {
                let (Some((x0, t0)), Some((x1, t1))) = (data.sample(i.index()), data.sample(j.index())) else {
                    continue;
                };
                for (loss, right) in accumulate_pair::<N, L, T, O>(net, state, pair, [x0, x1], [t0, t1]) {
                    loss_sum += loss;
                    correct += usize::from(right);
                }
            }
            singles = odd;
        }
        for &i in singles {
            let Some((x, target)) = data.sample(i.index()) else { continue };
            let (loss, right) = accumulate_sample(net, state, loss_fn, x, target);
            loss_sum += loss;
            correct += usize::from(right);
        }
        apply_gradients(net, state, sgd, epoch, batch.len());
    }
    let train = Metrics::from_sums(loss_sum, correct, data.len());
    // ReLU maps NaN to 0, so NaN weights can hide behind a finite loss.
    if !train.loss.is_finite() || !net.parameters_finite() {
        return Err(Error::Diverged { epoch: epoch.saturating_add(1) });
    }
    Ok(EpochMetrics { epoch: epoch.saturating_add(1), learning_rate: sgd.learning_rate(epoch), train })
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

/// Trains for `config.epochs` epochs, calling `on_epoch` after each with the
/// epoch's metrics and the network; the hook returns `ControlFlow::Break` to stop.
///
/// Momentum carries over from `state`, so calling `train` again continues
/// where the last call stopped (give a fresh [`TrainState`] to start over).
///
/// On [`Error::Diverged`] the network's weights and the momentum in `state`
/// may hold NaN or infinite values: re-initialise them (or restore a saved
/// copy and a fresh [`TrainState`]) before training again.
///
/// ```
/// use core::ops::ControlFlow;
/// use mlp_core::{layers, Dataset, Dense, Init, Network, SgdConfig, TrainConfig, TrainState, train};
/// use mlp_core::{activation::Tanh, loss::SoftmaxCrossEntropy};
/// use rand_core::SeedableRng;
///
/// type Net = layers![Dense<f32, 2, 8, Tanh>, Dense<f32, 8, 2>];
/// let inputs = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]];
/// let labels = [0, 1, 1, 0];
/// let data = Dataset::new(&inputs, &labels).unwrap();
///
/// let mut rng = rand_xorshift::XorShiftRng::seed_from_u64(1);
/// let mut net = Net::default();
/// net.initialize(mlp_core::Init::GlorotUniform, &mut rng).unwrap();
/// let mut state = TrainState::new();
/// let mut order = [0u16; 4];
/// let config = TrainConfig {
///     epochs: 2000,
///     batch_size: 4,
///     sgd: SgdConfig { lr: 0.5, momentum: 0.9, ..SgdConfig::default() },
/// };
/// let summary = train(&mut net, &mut state, SoftmaxCrossEntropy, data, &mut order, &config, &mut rng,
///     |epoch, _net| if epoch.train.loss < 0.01 { ControlFlow::Break(()) } else { ControlFlow::Continue(()) },
/// ).unwrap();
/// assert_eq!(summary.last.train.accuracy, 1.0);
/// ```
#[allow(clippy::too_many_arguments)]
pub fn train<N, L, T, R, Ix, H, const O: usize>(
    net: &mut N,
    state: &mut TrainState<N>,
    loss: L,
    data: Dataset<'_, N::Input, L::Target>,
    order: &mut [Ix],
    config: &TrainConfig,
    rng: &mut R,
    mut on_epoch: H,
) -> Result<TrainSummary<T>, Error>
where
    T: Float,
    N: Network<Scalar = T, Output = [T; O]>,
    L: Loss<T, O>,
    R: Rng + ?Sized,
    Ix: SampleIndex,
    H: FnMut(&EpochMetrics<T>, &N) -> ControlFlow<()>,
{
    let sgd = config.check::<T>()?;
    let mut summary = TrainSummary::default();
    for epoch in 0..config.epochs {
        let metrics = train_epoch(net, state, loss, data, order, &sgd, config.batch_size, epoch, rng)?;
        summary.epochs = metrics.epoch;
        summary.last = metrics;
        if on_epoch(&metrics, net).is_break() {
            summary.stopped_early = summary.epochs < config.epochs;
            break;
        }
    }
    Ok(summary)
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
    Ok(net.forward(x, activations))
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
