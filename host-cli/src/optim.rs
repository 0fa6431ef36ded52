//! The update rules by name, as `--optimizer` takes them.
//!
//! mlp-core's optimizers are types, and the training loop is compiled once
//! per (network, optimizer) pair. The CLI builds every architecture in
//! advance, so a type per rule would multiply the compiled training loops by
//! seven: it trains with [`AnyOptimizer`], one optimizer type for every rule
//! (its step is inlined into both copies of each network's epoch, baseline
//! and AVX2: about 4 % of the digits training time, against a quarter more
//! build time).

use mlp_core::Optimizer;
use mlp_core::optim::{Adagrad, Adam, AdamW, Momentum, Nesterov, RmsProp, Sgd};
pub use mlp_core::optim::{AnyOptimizer, AnyRule};

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

impl From<mlp_core::optim::OptimizerKind> for OptimizerKind {
    fn from(kind: mlp_core::optim::OptimizerKind) -> Self {
        use mlp_core::optim::OptimizerKind as K;
        match kind {
            K::Sgd => OptimizerKind::Sgd,
            K::Momentum => OptimizerKind::Momentum,
            K::Nesterov => OptimizerKind::Nesterov,
            K::Adagrad => OptimizerKind::Adagrad,
            K::RmsProp => OptimizerKind::RmsProp,
            K::Adam => OptimizerKind::Adam,
            K::AdamW => OptimizerKind::AdamW,
        }
    }
}
