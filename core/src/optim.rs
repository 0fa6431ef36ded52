//! Optimizers: the update rules, their hyperparameters, and their state.
//!
//! An [`Optimizer`] is a configuration (`f64` hyperparameters, as a user
//! writes them) whose [`check`](Optimizer::check) rounds them to the
//! network's float type and refuses values that the type would turn into
//! zero, a subnormal or infinity. Its state is `BUFFERS` buffers shaped like
//! the network's trainable parameters, so its size is a constant of the
//! network and optimizer types:
//!
//! ```
//! use core::mem::size_of;
//! use mlp_core::{layers, Dense, Network, TrainState, activation::Relu};
//! use mlp_core::optim::{Adam, Momentum, Optimizer, Sgd};
//! type Net = layers![Dense<f32, 64, 32, Relu>, Dense<f32, 32, 10>];
//! assert_eq!((Sgd::BUFFERS, Momentum::BUFFERS, Adam::BUFFERS), (0, 1, 2));
//! // Plain SGD keeps no per-parameter state; Adam keeps two moments.
//! assert_eq!(TrainState::<Net, Adam>::BYTES - TrainState::<Net, Sgd>::BYTES, 2 * Net::GRADIENT_BYTES);
//! // A firmware that must train in 24 KiB can afford SGD but not Adam:
//! const _: () = assert!(Net::PARAMETER_BYTES + TrainState::<Net, Sgd>::BYTES <= 24 * 1024);
//! ```
//!
//! Regularisation is scaled as in scikit-learn: for a batch of `B` samples
//! the objective is `mean loss + l2/(2B)·‖W‖² + l1/B·‖W‖₁`, so the weight
//! gradient is `ĝ/B` with `ĝ = Σ∇ + (l2·W + l1·sign W)` (with L1 off,
//! `Σ∇ + l2·W`; the grouping is part of the result's bits). Biases are never
//! regularised. With a clip norm, the mean gradient `ĝ/B` of every
//! parameter is scaled by `min(1, clip / ‖ĝ/B‖)`, the norm summed in the
//! walk's order.
//!
//! The rules, with `g = ĝ/B` (clipped) and `η` the scheduled rate:
//!
//! | optimizer | state | update |
//! |---|---|---|
//! | [`Sgd`] | none | `w −= η·g` |
//! | [`Momentum`] | `v` | `v = μv − η·g; w += v` |
//! | [`Nesterov`] | `v` | `v = μv − η·g; w += μv − η·g` |
//! | [`Adagrad`] | `s` | `s += g²; w −= η·g / (√s + ε)` |
//! | [`RmsProp`] | `s` | `s = ρs + (1 − ρ)g²; w −= η·g / (√s + ε)` |
//! | [`Adam`] | `m`, `v` | `m = β₁m + (1 − β₁)g; v = β₂v + (1 − β₂)g²; w −= η·m̂ / (√v̂ + ε)`, `m̂ = m/(1 − β₁ᵗ)`, `v̂ = v/(1 − β₂ᵗ)` |
//! | [`AdamW`] | `m`, `v` | `w ·= 1 − ηλ`, then as Adam |
//!
//! For the first three, `η·g` is computed as `(η/B)·ĝ`: one multiply per
//! parameter instead of two (for a power-of-two batch the same number).

use core::fmt::Debug;

use crate::buffer::Zeroed;
use crate::error::{Error, Hyperparameter};
use crate::float::{Float, SCALAR_FPU};
use crate::network::Network;
use crate::schedule::powi;
use crate::walk::Part;

/// An update rule and its hyperparameters, as configured.
pub trait Optimizer: Copy + Debug + PartialEq {
    /// Its name in reports.
    const NAME: &'static str;
    /// Buffers shaped like the trainable parameters that its state holds.
    const BUFFERS: usize;
    /// Hyperparameters its [`record`](Optimizer::record) holds (for a type
    /// that stands for several rules, the most).
    const HYPERPARAMETERS: usize;
    /// Its state for a network whose gradient buffer is `G`: `[G; BUFFERS]`.
    type State<G: Zeroed>: Zeroed + AsRef<[G]> + AsMut<[G]>;
    /// The hyperparameters, checked and rounded to the network's scalar.
    type Rule<T: Float>: Copy + Debug + PartialEq;

    /// Validates every hyperparameter, both as given and as `T` will see it.
    fn check<T: Float>(&self) -> Result<Self::Rule<T>, Error>;

    /// Its kind and hyperparameters, as a checkpoint stores them.
    fn record(&self) -> OptimizerRecord;

    /// The optimizer a checkpoint's record describes, or `None` if the
    /// record is of another kind (hyperparameters are checked later, by
    /// [`check`](Optimizer::check)).
    fn from_record(record: &OptimizerRecord) -> Option<Self>;

    /// How many of the state's buffers the configured rule uses (a
    /// checkpoint stores these): [`BUFFERS`](Optimizer::BUFFERS) unless one
    /// type stands for several rules.
    fn buffers_in_use(&self) -> usize {
        Self::BUFFERS
    }

    /// One step on every trainable parameter of `net` from its summed
    /// gradient, which is left at zero for the next batch.
    fn apply<N: Network>(
        rule: &Self::Rule<N::Scalar>,
        net: &mut N,
        gradients: &mut N::Gradients,
        state: &mut Self::State<N::Gradients>,
        step: &Step<N::Scalar>,
    );
}

/// The update rules by value: what a checkpoint stores.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[repr(u8)]
pub enum OptimizerKind {
    /// [`Sgd`].
    Sgd = 1,
    /// [`Momentum`].
    Momentum = 2,
    /// [`Nesterov`].
    Nesterov = 3,
    /// [`Adagrad`].
    Adagrad = 4,
    /// [`RmsProp`].
    RmsProp = 5,
    /// [`Adam`].
    Adam = 6,
    /// [`AdamW`].
    AdamW = 7,
}

impl OptimizerKind {
    /// Every kind, by code.
    pub const ALL: [OptimizerKind; 7] = [
        OptimizerKind::Sgd,
        OptimizerKind::Momentum,
        OptimizerKind::Nesterov,
        OptimizerKind::Adagrad,
        OptimizerKind::RmsProp,
        OptimizerKind::Adam,
        OptimizerKind::AdamW,
    ];

    /// Its code in model files.
    pub const fn code(self) -> u8 {
        self as u8
    }

    /// The kind with model-file code `code`, if there is one.
    pub const fn from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(OptimizerKind::Sgd),
            2 => Some(OptimizerKind::Momentum),
            3 => Some(OptimizerKind::Nesterov),
            4 => Some(OptimizerKind::Adagrad),
            5 => Some(OptimizerKind::RmsProp),
            6 => Some(OptimizerKind::Adam),
            7 => Some(OptimizerKind::AdamW),
            _ => None,
        }
    }

    /// Its name, as the optimizer's [`Optimizer::NAME`].
    pub const fn name(self) -> &'static str {
        match self {
            OptimizerKind::Sgd => Sgd::NAME,
            OptimizerKind::Momentum => Momentum::NAME,
            OptimizerKind::Nesterov => Nesterov::NAME,
            OptimizerKind::Adagrad => Adagrad::NAME,
            OptimizerKind::RmsProp => RmsProp::NAME,
            OptimizerKind::Adam => Adam::NAME,
            OptimizerKind::AdamW => AdamW::NAME,
        }
    }

    /// The names of its hyperparameters, in the order a record stores them.
    pub const fn hyperparameter_names(self) -> &'static [&'static str] {
        match self {
            OptimizerKind::Sgd => &[],
            OptimizerKind::Momentum | OptimizerKind::Nesterov => &["momentum"],
            OptimizerKind::Adagrad => &["eps"],
            OptimizerKind::RmsProp => &["rho", "eps"],
            OptimizerKind::Adam => &["beta1", "beta2", "eps"],
            OptimizerKind::AdamW => &["beta1", "beta2", "eps", "weight_decay"],
        }
    }

    /// The state buffers the rule keeps.
    pub const fn buffers(self) -> usize {
        match self {
            OptimizerKind::Sgd => 0,
            OptimizerKind::Adam | OptimizerKind::AdamW => 2,
            _ => 1,
        }
    }
}

impl core::fmt::Display for OptimizerKind {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

/// An optimizer's kind and hyperparameters (as configured, in `f64`): the
/// optimizer part of a checkpoint.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct OptimizerRecord {
    /// Which rule.
    pub kind: OptimizerKind,
    values: [f64; OptimizerRecord::MAX_HYPERPARAMETERS],
}

impl OptimizerRecord {
    /// The most hyperparameters any rule has.
    pub const MAX_HYPERPARAMETERS: usize = 4;

    /// A record of `kind` with its hyperparameters, in the order of
    /// [`OptimizerKind::hyperparameter_names`]; `None` if their number is wrong.
    pub fn try_new(kind: OptimizerKind, hyperparameters: &[f64]) -> Option<Self> {
        if hyperparameters.len() != kind.hyperparameter_names().len() {
            return None;
        }
        let mut values = [0.0; Self::MAX_HYPERPARAMETERS];
        for (slot, &value) in values.iter_mut().zip(hyperparameters) {
            *slot = value;
        }
        Some(OptimizerRecord { kind, values })
    }

    /// [`try_new`](Self::try_new) for the core's own rules, whose counts are right by construction.
    fn new(kind: OptimizerKind, hyperparameters: &[f64]) -> Self {
        Self::try_new(kind, hyperparameters).unwrap_or(OptimizerRecord { kind, values: [0.0; 4] })
    }

    /// Its hyperparameters, as many as the kind has.
    pub fn hyperparameters(&self) -> &[f64] {
        let count = self.kind.hyperparameter_names().len();
        self.values.get(..count).unwrap_or(&[])
    }
}

/// What one step needs beside the rule: computed once per batch.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Step<T> {
    /// The scheduled learning rate η.
    pub lr: T,
    /// `1/B`, times the clip scale when clipping.
    pub mean: T,
    /// `η/B`, times the clip scale when clipping.
    pub rate: T,
    /// L2 coefficient.
    pub l2: T,
    /// L1 coefficient.
    pub l1: T,
    /// 1-based number of this step (Adam's bias correction).
    pub t: u32,
    /// Layers at the front that do not train (see
    /// [`TrainConfig::frozen_layers`](crate::TrainConfig::frozen_layers)):
    /// their gradient is discarded and their state left as it is.
    pub frozen_layers: usize,
}

/// The penalty of one slice's gradients, decided once per slice so that each
/// kind is a loop of its own (no test per parameter).
#[derive(Clone, Copy, Debug, PartialEq)]
enum Penalty<T> {
    /// Biases, or weights without L1 or L2.
    None,
    /// `ĝ = g + l2·w`.
    L2(T),
    /// `ĝ = g + (l2·w + l1·sign w)`.
    L1L2(T, T),
}

impl<T: Float> Step<T> {
    #[inline(always)]
    fn penalty(&self, part: Part) -> Penalty<T> {
        match part {
            Part::Biases => Penalty::None,
            Part::Weights if self.l1 != T::ZERO => Penalty::L1L2(self.l2, self.l1),
            Part::Weights if self.l2 != T::ZERO => Penalty::L2(self.l2),
            Part::Weights => Penalty::None,
        }
    }

    /// `ĝ` for one parameter (the clipping pass; rules use [`with_penalty!`]).
    #[inline(always)]
    fn penalized(&self, part: Part, g: T, w: T) -> T {
        match self.penalty(part) {
            Penalty::None => g,
            Penalty::L2(l2) => g + l2 * w,
            Penalty::L1L2(l2, l1) => g + (l2 * w + l1 * sign(w)),
        }
    }
}

/// Runs `$body` with `$pen(g, w)` bound to the slice's penalised gradient,
/// once per kind of penalty, so that each kind is its own loop.
macro_rules! with_penalty {
    ($step:expr, $part:expr, |$pen:ident| $body:expr) => {
        match $step.penalty($part) {
            Penalty::None => {
                let $pen = |g, _w| g;
                $body
            }
            Penalty::L2(l2) => {
                let $pen = move |g, w| g + l2 * w;
                $body
            }
            Penalty::L1L2(l2, l1) => {
                let $pen = move |g, w| g + (l2 * w + l1 * sign(w));
                $body
            }
        }
    };
}

#[inline(always)]
fn sign<T: Float>(w: T) -> T {
    if w > T::ZERO {
        T::ONE
    } else if w < T::ZERO {
        -T::ONE
    } else {
        T::ZERO
    }
}

/// Calls `rule(w, ĝ)` for every parameter of a slice with its summed
/// gradient, which is reset to zero. Two parameters at a time, so that the
/// two zeros are one 64-bit store on a Cortex-M4F.
#[inline(always)]
fn sweep0<T: Float>(params: &mut [T], grads: &mut [T], mut rule: impl FnMut(&mut T, T)) {
    if !SCALAR_FPU {
        // A vector unit takes the plain loop whole; pairs would stop it vectorising.
        for (w, g) in params.iter_mut().zip(grads) {
            rule(w, core::mem::replace(g, T::ZERO));
        }
        return;
    }
    let (param_pairs, params_left) = params.as_chunks_mut::<2>();
    let (grad_pairs, grads_left) = grads.as_chunks_mut::<2>();
    for ([w0, w1], g) in param_pairs.iter_mut().zip(grad_pairs) {
        let [g0, g1] = core::mem::replace(g, [T::ZERO; 2]);
        rule(w0, g0);
        rule(w1, g1);
    }
    for (w, g) in params_left.iter_mut().zip(grads_left) {
        rule(w, core::mem::replace(g, T::ZERO));
    }
}

/// [`sweep0`] with one state value per parameter.
#[inline(always)]
fn sweep1<T: Float>(params: &mut [T], grads: &mut [T], state: &mut [T], mut rule: impl FnMut(&mut T, T, &mut T)) {
    if !SCALAR_FPU {
        for ((w, g), s) in params.iter_mut().zip(grads).zip(state.iter_mut()) {
            rule(w, core::mem::replace(g, T::ZERO), s);
        }
        return;
    }
    let (param_pairs, params_left) = params.as_chunks_mut::<2>();
    let (grad_pairs, grads_left) = grads.as_chunks_mut::<2>();
    let (state_pairs, state_left) = state.as_chunks_mut::<2>();
    for (([w0, w1], g), [s0, s1]) in param_pairs.iter_mut().zip(grad_pairs).zip(state_pairs) {
        let [g0, g1] = core::mem::replace(g, [T::ZERO; 2]);
        rule(w0, g0, s0);
        rule(w1, g1, s1);
    }
    for ((w, g), s) in params_left.iter_mut().zip(grads_left).zip(state_left) {
        rule(w, core::mem::replace(g, T::ZERO), s);
    }
}

/// [`sweep0`] with two state values per parameter, one at a time.
#[inline(always)]
fn sweep2<T: Float>(
    params: &mut [T],
    grads: &mut [T],
    [first, second]: [&mut [T]; 2],
    mut rule: impl FnMut(&mut T, T, &mut T, &mut T),
) {
    for (((w, g), a), b) in params.iter_mut().zip(grads).zip(first.iter_mut()).zip(second.iter_mut()) {
        rule(w, core::mem::replace(g, T::ZERO), a, b);
    }
}

/// Applies `f` to every slice of the walk with its gradient slice and state
/// slices (`K` buffers), choosing the penalty outside the inner loop.
#[inline(always)]
fn for_each_slice<N: Network, const K: usize>(
    net: &mut N,
    gradients: &mut N::Gradients,
    state: &mut [N::Gradients; K],
    step: &Step<N::Scalar>,
    mut f: impl FnMut(Part, &mut [N::Scalar], &mut [N::Scalar], [&mut [N::Scalar]; K]),
) {
    let frozen_layers = step.frozen_layers;
    net.for_each_trainable_zip(gradients, state.each_mut(), |slot, w, g, s| {
        if slot.layer < frozen_layers {
            g.fill(N::Scalar::ZERO);
        } else {
            f(slot.part, w, g, s);
        }
    });
}

/// The global norm of the mean (penalised) gradient, summed in the walk's
/// order, and the factor `min(1, clip / norm)` that clipping scales by.
pub(crate) fn clip_scale<N: Network>(
    net: &mut N,
    gradients: &mut N::Gradients,
    step: &Step<N::Scalar>,
    clip: N::Scalar,
) -> N::Scalar {
    let mut sum = N::Scalar::ZERO;
    net.for_each_trainable_zip(gradients, [], |slot, w, g, []| {
        if slot.layer < step.frozen_layers {
            return;
        }
        for (&w, &g) in w.iter().zip(g.iter()) {
            let mean = step.penalized(slot.part, g, w) * step.mean;
            sum += mean * mean;
        }
    });
    let norm = sum.sqrt();
    if norm > clip { clip / norm } else { N::Scalar::ONE }
}

macro_rules! check_in_t {
    ($value:expr, $name:expr, $t:ty) => {{
        let rounded = <$t>::from_f64($value);
        if !(rounded.is_finite()) {
            return Err(Error::InvalidHyperparameter {
                name: $name,
                requirement: "finite in the network's float type",
            });
        }
        if $value != 0.0 && rounded.abs() < <$t>::MIN_POSITIVE {
            return Err(Error::InvalidHyperparameter {
                name: $name,
                requirement: "zero or at least the smallest normal number of the network's float type",
            });
        }
        rounded
    }};
}

/// A decay factor in `[0, 1)` (momentum, β₁, β₂, ρ), checked as `T` sees it:
/// not rounded to 1, and not a non-zero value that vanishes.
fn check_decay<T: Float>(value: f64, name: Hyperparameter, positive: bool) -> Result<T, Error> {
    let lower_ok = if positive { value > 0.0 } else { value >= 0.0 };
    if !(lower_ok && value < 1.0) {
        return Err(Error::InvalidHyperparameter {
            name,
            requirement: if positive { "in (0, 1)" } else { "in [0, 1)" },
        });
    }
    let rounded = check_in_t!(value, name, T);
    if rounded >= T::ONE {
        return Err(Error::InvalidHyperparameter { name, requirement: "below 1 in the network's float type" });
    }
    Ok(rounded)
}

/// A positive ε, normal in `T`.
fn check_epsilon<T: Float>(value: f64) -> Result<T, Error> {
    if !(value.is_finite() && value > 0.0) {
        return Err(Error::InvalidHyperparameter { name: Hyperparameter::Epsilon, requirement: "positive and finite" });
    }
    Ok(check_in_t!(value, Hyperparameter::Epsilon, T))
}

/// A non-negative penalty or decay, finite and not vanishing in `T`.
pub(crate) fn check_non_negative<T: Float>(value: f64, name: Hyperparameter) -> Result<T, Error> {
    if !(value.is_finite() && value >= 0.0) {
        return Err(Error::InvalidHyperparameter { name, requirement: "non-negative and finite" });
    }
    Ok(check_in_t!(value, name, T))
}

/// Plain stochastic gradient descent: `w −= η·g`. No state.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Sgd;

impl Optimizer for Sgd {
    const NAME: &'static str = "sgd";
    const BUFFERS: usize = 0;
    const HYPERPARAMETERS: usize = 0;
    type State<G: Zeroed> = [G; 0];
    type Rule<T: Float> = Sgd;

    fn record(&self) -> OptimizerRecord {
        OptimizerRecord::new(OptimizerKind::Sgd, &[])
    }

    fn from_record(record: &OptimizerRecord) -> Option<Self> {
        match (record.kind, record.hyperparameters()) {
            (OptimizerKind::Sgd, []) => Some(Sgd),
            _ => None,
        }
    }

    fn check<T: Float>(&self) -> Result<Sgd, Error> {
        Ok(Sgd)
    }

    #[inline(always)]
    fn apply<N: Network>(
        _: &Sgd,
        net: &mut N,
        gradients: &mut N::Gradients,
        state: &mut [N::Gradients; 0],
        step: &Step<N::Scalar>,
    ) {
        for_each_slice(net, gradients, state, step, |part, w, g, []| {
            // Copied here, inside the per-slice closure, so that the loop keeps
            // them in registers rather than reloading them from the caller's
            // frame after every store (the compiler cannot rule out aliasing).
            let rate = step.rate;
            with_penalty!(step, part, |pen| sweep0(w, g, |w, g| *w -= rate * pen(g, *w)))
        });
    }
}

/// Classical momentum: `v = μv − η·g; w += v`.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Momentum {
    /// μ in (0, 1).
    pub momentum: f64,
}

impl Momentum {
    /// μ = 0.9.
    pub const DEFAULT: Self = Momentum { momentum: 0.9 };
}

impl Default for Momentum {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Momentum rounded to the network's scalar.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MomentumRule<T> {
    /// μ.
    pub momentum: T,
}

impl Optimizer for Momentum {
    const NAME: &'static str = "momentum";
    const BUFFERS: usize = 1;
    const HYPERPARAMETERS: usize = 1;
    type State<G: Zeroed> = [G; 1];
    type Rule<T: Float> = MomentumRule<T>;

    fn record(&self) -> OptimizerRecord {
        OptimizerRecord::new(OptimizerKind::Momentum, &[self.momentum])
    }

    fn from_record(record: &OptimizerRecord) -> Option<Self> {
        match (record.kind, record.hyperparameters()) {
            (OptimizerKind::Momentum, &[momentum]) => Some(Momentum { momentum }),
            _ => None,
        }
    }

    fn check<T: Float>(&self) -> Result<MomentumRule<T>, Error> {
        Ok(MomentumRule { momentum: check_decay(self.momentum, Hyperparameter::Momentum, true)? })
    }

    #[inline(always)]
    fn apply<N: Network>(
        rule: &MomentumRule<N::Scalar>,
        net: &mut N,
        gradients: &mut N::Gradients,
        state: &mut [N::Gradients; 1],
        step: &Step<N::Scalar>,
    ) {
        for_each_slice(net, gradients, state, step, |part, w, g, [v]| {
            let (rate, momentum) = (step.rate, rule.momentum); // in registers: see `Sgd::apply`
            with_penalty!(step, part, |pen| sweep1(w, g, v, |w, g, v| {
                let velocity = momentum * *v - rate * pen(g, *w);
                *v = velocity;
                *w += velocity;
            }))
        });
    }
}

/// Nesterov's accelerated gradient: `v = μv − η·g; w += μv − η·g`.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Nesterov {
    /// μ in (0, 1).
    pub momentum: f64,
}

impl Nesterov {
    /// μ = 0.9.
    pub const DEFAULT: Self = Nesterov { momentum: 0.9 };
}

impl Default for Nesterov {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl Optimizer for Nesterov {
    const NAME: &'static str = "nesterov";
    const BUFFERS: usize = 1;
    const HYPERPARAMETERS: usize = 1;
    type State<G: Zeroed> = [G; 1];
    type Rule<T: Float> = MomentumRule<T>;

    fn record(&self) -> OptimizerRecord {
        OptimizerRecord::new(OptimizerKind::Nesterov, &[self.momentum])
    }

    fn from_record(record: &OptimizerRecord) -> Option<Self> {
        match (record.kind, record.hyperparameters()) {
            (OptimizerKind::Nesterov, &[momentum]) => Some(Nesterov { momentum }),
            _ => None,
        }
    }

    fn check<T: Float>(&self) -> Result<MomentumRule<T>, Error> {
        Ok(MomentumRule { momentum: check_decay(self.momentum, Hyperparameter::Momentum, true)? })
    }

    #[inline(always)]
    fn apply<N: Network>(
        rule: &MomentumRule<N::Scalar>,
        net: &mut N,
        gradients: &mut N::Gradients,
        state: &mut [N::Gradients; 1],
        step: &Step<N::Scalar>,
    ) {
        for_each_slice(net, gradients, state, step, |part, w, g, [v]| {
            let (rate, momentum) = (step.rate, rule.momentum); // in registers: see `Sgd::apply`
            with_penalty!(step, part, |pen| sweep1(w, g, v, |w, g, v| {
                let step = rate * pen(g, *w);
                let velocity = momentum * *v - step;
                *v = velocity;
                *w += momentum * velocity - step;
            }))
        });
    }
}

/// Adagrad: `s += g²; w −= η·g / (√s + ε)`.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Adagrad {
    /// ε > 0.
    pub eps: f64,
}

impl Adagrad {
    /// ε = 1e-10.
    pub const DEFAULT: Self = Adagrad { eps: 1e-10 };
}

impl Default for Adagrad {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// ε rounded to the network's scalar.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdagradRule<T> {
    /// ε.
    pub eps: T,
}

impl Optimizer for Adagrad {
    const NAME: &'static str = "adagrad";
    const BUFFERS: usize = 1;
    const HYPERPARAMETERS: usize = 1;
    type State<G: Zeroed> = [G; 1];
    type Rule<T: Float> = AdagradRule<T>;

    fn record(&self) -> OptimizerRecord {
        OptimizerRecord::new(OptimizerKind::Adagrad, &[self.eps])
    }

    fn from_record(record: &OptimizerRecord) -> Option<Self> {
        match (record.kind, record.hyperparameters()) {
            (OptimizerKind::Adagrad, &[eps]) => Some(Adagrad { eps }),
            _ => None,
        }
    }

    fn check<T: Float>(&self) -> Result<AdagradRule<T>, Error> {
        Ok(AdagradRule { eps: check_epsilon(self.eps)? })
    }

    #[inline(always)]
    fn apply<N: Network>(
        rule: &AdagradRule<N::Scalar>,
        net: &mut N,
        gradients: &mut N::Gradients,
        state: &mut [N::Gradients; 1],
        step: &Step<N::Scalar>,
    ) {
        for_each_slice(net, gradients, state, step, |part, w, g, [s]| {
            let (lr, mean, eps) = (step.lr, step.mean, rule.eps); // in registers: see `Sgd::apply`
            with_penalty!(step, part, |pen| sweep1(w, g, s, |w, g, s| {
                let g = pen(g, *w) * mean;
                *s += g * g;
                *w -= lr * g / (s.sqrt() + eps);
            }))
        });
    }
}

/// RMSprop: `s = ρs + (1 − ρ)g²; w −= η·g / (√s + ε)`.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct RmsProp {
    /// ρ in (0, 1).
    pub rho: f64,
    /// ε > 0.
    pub eps: f64,
}

impl RmsProp {
    /// ρ = 0.99, ε = 1e-8.
    pub const DEFAULT: Self = RmsProp { rho: 0.99, eps: 1e-8 };
}

impl Default for RmsProp {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// RMSprop's hyperparameters rounded to the network's scalar.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RmsPropRule<T> {
    /// ρ.
    pub rho: T,
    /// 1 − ρ, rounded once.
    pub one_minus_rho: T,
    /// ε.
    pub eps: T,
}

impl Optimizer for RmsProp {
    const NAME: &'static str = "rmsprop";
    const BUFFERS: usize = 1;
    const HYPERPARAMETERS: usize = 2;
    type State<G: Zeroed> = [G; 1];
    type Rule<T: Float> = RmsPropRule<T>;

    fn record(&self) -> OptimizerRecord {
        OptimizerRecord::new(OptimizerKind::RmsProp, &[self.rho, self.eps])
    }

    fn from_record(record: &OptimizerRecord) -> Option<Self> {
        match (record.kind, record.hyperparameters()) {
            (OptimizerKind::RmsProp, &[rho, eps]) => Some(RmsProp { rho, eps }),
            _ => None,
        }
    }

    fn check<T: Float>(&self) -> Result<RmsPropRule<T>, Error> {
        let rho = check_decay::<T>(self.rho, Hyperparameter::Rho, true)?;
        Ok(RmsPropRule { rho, one_minus_rho: T::ONE - rho, eps: check_epsilon(self.eps)? })
    }

    #[inline(always)]
    fn apply<N: Network>(
        rule: &RmsPropRule<N::Scalar>,
        net: &mut N,
        gradients: &mut N::Gradients,
        state: &mut [N::Gradients; 1],
        step: &Step<N::Scalar>,
    ) {
        for_each_slice(net, gradients, state, step, |part, w, g, [s]| {
            let (lr, mean) = (step.lr, step.mean); // in registers: see `Sgd::apply`
            let RmsPropRule { rho, one_minus_rho, eps } = *rule;
            with_penalty!(step, part, |pen| sweep1(w, g, s, |w, g, s| {
                let g = pen(g, *w) * mean;
                *s = rho * *s + one_minus_rho * (g * g);
                *w -= lr * g / (s.sqrt() + eps);
            }))
        });
    }
}

/// Adam with bias correction.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Adam {
    /// β₁ in [0, 1).
    pub beta1: f64,
    /// β₂ in [0, 1).
    pub beta2: f64,
    /// ε > 0.
    pub eps: f64,
}

impl Adam {
    /// β₁ = 0.9, β₂ = 0.999, ε = 1e-8.
    pub const DEFAULT: Self = Adam { beta1: 0.9, beta2: 0.999, eps: 1e-8 };
}

impl Default for Adam {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Adam's (and AdamW's) hyperparameters rounded to the network's scalar.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamRule<T> {
    /// β₁.
    pub beta1: T,
    /// β₂.
    pub beta2: T,
    /// ε.
    pub eps: T,
    /// AdamW's λ (0 for Adam).
    pub weight_decay: T,
}

impl<T: Float> AdamRule<T> {
    #[inline(always)]
    fn apply<N: Network<Scalar = T>>(
        &self,
        net: &mut N,
        gradients: &mut N::Gradients,
        state: &mut [N::Gradients; 2],
        step: &Step<T>,
    ) {
        // Bias corrections 1 − βᵗ, by repeated squaring: the same bits everywhere.
        let correction1 = T::ONE - powi(self.beta1, step.t);
        let correction2 = T::ONE - powi(self.beta2, step.t);
        for_each_slice(net, gradients, state, step, |part, w, g, [m, v]| {
            let (lr, mean) = (step.lr, step.mean); // in registers: see `Sgd::apply`
            let AdamRule { beta1, beta2, eps, weight_decay } = *self;
            let (one_minus_beta1, one_minus_beta2) = (T::ONE - beta1, T::ONE - beta2);
            let (correction1, correction2) = (correction1, correction2);
            let shrink = T::ONE - lr * weight_decay;
            let decoupled = weight_decay != T::ZERO;
            with_penalty!(step, part, |pen| sweep2(w, g, [m, v], |w, g, m, v| {
                let g = pen(g, *w) * mean;
                if decoupled {
                    *w *= shrink;
                }
                *m = beta1 * *m + one_minus_beta1 * g;
                *v = beta2 * *v + one_minus_beta2 * (g * g);
                let m_hat = *m / correction1;
                let v_hat = *v / correction2;
                *w -= lr * m_hat / (v_hat.sqrt() + eps);
            }))
        });
    }
}

fn check_adam<T: Float>(beta1: f64, beta2: f64, eps: f64, weight_decay: T) -> Result<AdamRule<T>, Error> {
    Ok(AdamRule {
        beta1: check_decay(beta1, Hyperparameter::Beta1, false)?,
        beta2: check_decay(beta2, Hyperparameter::Beta2, false)?,
        eps: check_epsilon(eps)?,
        weight_decay,
    })
}

impl Optimizer for Adam {
    const NAME: &'static str = "adam";
    const BUFFERS: usize = 2;
    const HYPERPARAMETERS: usize = 3;
    type State<G: Zeroed> = [G; 2];
    type Rule<T: Float> = AdamRule<T>;

    fn record(&self) -> OptimizerRecord {
        OptimizerRecord::new(OptimizerKind::Adam, &[self.beta1, self.beta2, self.eps])
    }

    fn from_record(record: &OptimizerRecord) -> Option<Self> {
        match (record.kind, record.hyperparameters()) {
            (OptimizerKind::Adam, &[beta1, beta2, eps]) => Some(Adam { beta1, beta2, eps }),
            _ => None,
        }
    }

    fn check<T: Float>(&self) -> Result<AdamRule<T>, Error> {
        check_adam(self.beta1, self.beta2, self.eps, T::ZERO)
    }

    #[inline(always)]
    fn apply<N: Network>(
        rule: &AdamRule<N::Scalar>,
        net: &mut N,
        gradients: &mut N::Gradients,
        state: &mut [N::Gradients; 2],
        step: &Step<N::Scalar>,
    ) {
        rule.apply(net, gradients, state, step);
    }
}

/// AdamW: Adam with decoupled weight decay, `w ·= 1 − ηλ` before each step
/// (on every parameter, biases included, as the reference implementations do).
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct AdamW {
    /// β₁ in [0, 1).
    pub beta1: f64,
    /// β₂ in [0, 1).
    pub beta2: f64,
    /// ε > 0.
    pub eps: f64,
    /// λ ≥ 0.
    pub weight_decay: f64,
}

impl AdamW {
    /// β₁ = 0.9, β₂ = 0.999, ε = 1e-8, λ = 0.01.
    pub const DEFAULT: Self = AdamW { beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.01 };
}

impl Default for AdamW {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl Optimizer for AdamW {
    const NAME: &'static str = "adamw";
    const BUFFERS: usize = 2;
    const HYPERPARAMETERS: usize = 4;
    type State<G: Zeroed> = [G; 2];
    type Rule<T: Float> = AdamRule<T>;

    fn record(&self) -> OptimizerRecord {
        OptimizerRecord::new(OptimizerKind::AdamW, &[self.beta1, self.beta2, self.eps, self.weight_decay])
    }

    fn from_record(record: &OptimizerRecord) -> Option<Self> {
        match (record.kind, record.hyperparameters()) {
            (OptimizerKind::AdamW, &[beta1, beta2, eps, weight_decay]) => {
                Some(AdamW { beta1, beta2, eps, weight_decay })
            }
            _ => None,
        }
    }

    fn check<T: Float>(&self) -> Result<AdamRule<T>, Error> {
        let weight_decay = check_non_negative(self.weight_decay, Hyperparameter::WeightDecay)?;
        check_adam(self.beta1, self.beta2, self.eps, weight_decay)
    }

    #[inline(always)]
    fn apply<N: Network>(
        rule: &AdamRule<N::Scalar>,
        net: &mut N,
        gradients: &mut N::Gradients,
        state: &mut [N::Gradients; 2],
        step: &Step<N::Scalar>,
    ) {
        rule.apply(net, gradients, state, step);
    }
}

/// Any of the update rules, chosen at run time: by a host's flags, or by
/// the checkpoint a device resumes. Its state is sized for the largest rule
/// (two buffers); its step matches the rule once and runs that rule's own
/// update, so every rule gives the same bits as its own type. A device that
/// knows its rule at compile time saves the unused buffer by naming the type.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum AnyOptimizer {
    /// Plain SGD.
    Sgd(Sgd),
    /// Classical momentum.
    Momentum(Momentum),
    /// Nesterov momentum.
    Nesterov(Nesterov),
    /// Adagrad.
    Adagrad(Adagrad),
    /// RMSprop.
    RmsProp(RmsProp),
    /// Adam.
    Adam(Adam),
    /// AdamW.
    AdamW(AdamW),
}

impl AnyOptimizer {
    /// Which rule it is.
    pub const fn kind(&self) -> OptimizerKind {
        match self {
            AnyOptimizer::Sgd(_) => OptimizerKind::Sgd,
            AnyOptimizer::Momentum(_) => OptimizerKind::Momentum,
            AnyOptimizer::Nesterov(_) => OptimizerKind::Nesterov,
            AnyOptimizer::Adagrad(_) => OptimizerKind::Adagrad,
            AnyOptimizer::RmsProp(_) => OptimizerKind::RmsProp,
            AnyOptimizer::Adam(_) => OptimizerKind::Adam,
            AnyOptimizer::AdamW(_) => OptimizerKind::AdamW,
        }
    }

    /// The rule's name, as [`Optimizer::NAME`] spells it.
    pub const fn name(&self) -> &'static str {
        self.kind().name()
    }
}

/// An [`AnyOptimizer`] checked for the network's scalar.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum AnyRule<T: Float> {
    /// Plain SGD.
    Sgd(<Sgd as Optimizer>::Rule<T>),
    /// Classical momentum.
    Momentum(<Momentum as Optimizer>::Rule<T>),
    /// Nesterov momentum.
    Nesterov(<Nesterov as Optimizer>::Rule<T>),
    /// Adagrad.
    Adagrad(<Adagrad as Optimizer>::Rule<T>),
    /// RMSprop.
    RmsProp(<RmsProp as Optimizer>::Rule<T>),
    /// Adam.
    Adam(<Adam as Optimizer>::Rule<T>),
    /// AdamW.
    AdamW(<AdamW as Optimizer>::Rule<T>),
}

impl Optimizer for AnyOptimizer {
    const NAME: &'static str = "any";
    const BUFFERS: usize = 2;
    const HYPERPARAMETERS: usize = OptimizerRecord::MAX_HYPERPARAMETERS;
    type State<G: Zeroed> = [G; 2];
    type Rule<T: Float> = AnyRule<T>;

    fn record(&self) -> OptimizerRecord {
        match self {
            AnyOptimizer::Sgd(o) => o.record(),
            AnyOptimizer::Momentum(o) => o.record(),
            AnyOptimizer::Nesterov(o) => o.record(),
            AnyOptimizer::Adagrad(o) => o.record(),
            AnyOptimizer::RmsProp(o) => o.record(),
            AnyOptimizer::Adam(o) => o.record(),
            AnyOptimizer::AdamW(o) => o.record(),
        }
    }

    fn from_record(record: &OptimizerRecord) -> Option<Self> {
        Sgd::from_record(record)
            .map(AnyOptimizer::Sgd)
            .or_else(|| Momentum::from_record(record).map(AnyOptimizer::Momentum))
            .or_else(|| Nesterov::from_record(record).map(AnyOptimizer::Nesterov))
            .or_else(|| Adagrad::from_record(record).map(AnyOptimizer::Adagrad))
            .or_else(|| RmsProp::from_record(record).map(AnyOptimizer::RmsProp))
            .or_else(|| Adam::from_record(record).map(AnyOptimizer::Adam))
            .or_else(|| AdamW::from_record(record).map(AnyOptimizer::AdamW))
    }

    fn buffers_in_use(&self) -> usize {
        self.record().kind.buffers()
    }

    fn check<T: Float>(&self) -> Result<AnyRule<T>, Error> {
        Ok(match self {
            AnyOptimizer::Sgd(o) => AnyRule::Sgd(o.check::<T>()?),
            AnyOptimizer::Momentum(o) => AnyRule::Momentum(o.check::<T>()?),
            AnyOptimizer::Nesterov(o) => AnyRule::Nesterov(o.check::<T>()?),
            AnyOptimizer::Adagrad(o) => AnyRule::Adagrad(o.check::<T>()?),
            AnyOptimizer::RmsProp(o) => AnyRule::RmsProp(o.check::<T>()?),
            AnyOptimizer::Adam(o) => AnyRule::Adam(o.check::<T>()?),
            AnyOptimizer::AdamW(o) => AnyRule::AdamW(o.check::<T>()?),
        })
    }

    /// Once per step: the rule's own update on the buffers it uses (the
    /// first ones; the rest stay zero).
    ///
    /// Always inlined into the epoch, so that on a host the step runs on the
    /// epoch's vector unit (AVX2 where there is one).
    #[inline(always)]
    fn apply<N: Network>(
        rule: &AnyRule<N::Scalar>,
        net: &mut N,
        gradients: &mut N::Gradients,
        state: &mut [N::Gradients; 2],
        step: &Step<N::Scalar>,
    ) {
        match rule {
            AnyRule::Sgd(r) => Sgd::apply(r, net, gradients, &mut [], step),
            AnyRule::Momentum(r) => Momentum::apply(r, net, gradients, first(state), step),
            AnyRule::Nesterov(r) => Nesterov::apply(r, net, gradients, first(state), step),
            AnyRule::Adagrad(r) => Adagrad::apply(r, net, gradients, first(state), step),
            AnyRule::RmsProp(r) => RmsProp::apply(r, net, gradients, first(state), step),
            AnyRule::Adam(r) => Adam::apply(r, net, gradients, state, step),
            AnyRule::AdamW(r) => AdamW::apply(r, net, gradients, state, step),
        }
    }
}

/// The first of two buffers, for a rule that keeps one.
#[inline(always)]
fn first<G>(state: &mut [G; 2]) -> &mut [G; 1] {
    let [first, _] = state;
    core::array::from_mut(first)
}
