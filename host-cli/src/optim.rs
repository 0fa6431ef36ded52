//! One optimizer type for every update rule, chosen at run time.
//!
//! mlp-core's optimizers are types, and the training loop is compiled once
//! per (network, optimizer) pair. The CLI builds every architecture in
//! advance, so a type per rule would multiply the compiled training loops by
//! seven. [`AnyOptimizer`] is one optimizer whose state is sized for the
//! largest rule (two buffers); its step matches the rule once and runs that
//! rule's own update, so every rule gives the same bits as its own type.

use mlp_core::optim::{Adagrad, Adam, AdamW, Momentum, Nesterov, OptimizerRecord, RmsProp, Sgd, Step};
use mlp_core::{Error, Float, Network, Optimizer, Zeroed};

/// The update rules by name, as `--optimizer` takes them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum OptimizerKind {
    /// w -= lr·g
    Sgd,
    /// Classical momentum: v = μv - lr·g; w += v
    Momentum,
    /// Nesterov momentum: v = μv - lr·g; w += μv - lr·g
    Nesterov,
    /// Adagrad: s += g²; w -= lr·g/(√s + eps)
    Adagrad,
    /// RMSprop: s = ρs + (1-ρ)g²; w -= lr·g/(√s + eps)
    #[value(name = "rmsprop")]
    RmsProp,
    /// Adam with bias correction
    Adam,
    /// Adam with decoupled weight decay
    #[value(name = "adamw")]
    AdamW,
}

impl OptimizerKind {
    /// Every rule, in the order of `--help`.
    pub const ALL: [OptimizerKind; 7] = [
        OptimizerKind::Sgd,
        OptimizerKind::Momentum,
        OptimizerKind::Nesterov,
        OptimizerKind::Adagrad,
        OptimizerKind::RmsProp,
        OptimizerKind::Adam,
        OptimizerKind::AdamW,
    ];

    /// Its name, as `--optimizer` spells it.
    pub fn name(self) -> &'static str {
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

    /// The rule with mlp-core's default hyperparameters (`momentum` for the two momentum rules).
    pub fn with_defaults(self, momentum: f64) -> AnyOptimizer {
        match self {
            OptimizerKind::Sgd => AnyOptimizer::Sgd(Sgd),
            OptimizerKind::Momentum => AnyOptimizer::Momentum(Momentum { momentum }),
            OptimizerKind::Nesterov => AnyOptimizer::Nesterov(Nesterov { momentum }),
            OptimizerKind::Adagrad => AnyOptimizer::Adagrad(Adagrad::DEFAULT),
            OptimizerKind::RmsProp => AnyOptimizer::RmsProp(RmsProp::DEFAULT),
            OptimizerKind::Adam => AnyOptimizer::Adam(Adam::DEFAULT),
            OptimizerKind::AdamW => AnyOptimizer::AdamW(AdamW::DEFAULT),
        }
    }
}

/// Any of mlp-core's update rules with its hyperparameters.
#[derive(Clone, Copy, Debug, PartialEq)]
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
    pub fn kind(&self) -> OptimizerKind {
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

    /// The rule's name, as `--optimizer` spells it.
    pub fn name(&self) -> &'static str {
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
    /// Inlined into the epoch, so that the step runs on the epoch's vector
    /// unit (AVX2 where there is one): about 4 % of the digits training time,
    /// side by side with the step out of line and compiled for the baseline.
    /// The cost is build time: every rule is compiled into both copies of
    /// every network's epoch (about a quarter more for a clean build).
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
