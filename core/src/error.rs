//! The one error type of the core. Nothing in the core panics on caller input;
//! every check a caller can fail returns one of these.

use core::fmt;

/// Why a core operation refused its input.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Error {
    /// A sample slice does not have the network's input width.
    InputLength {
        /// The network's number of inputs.
        expected: usize,
        /// The slice's length.
        found: usize,
    },
    /// A flat input buffer is not a whole number of samples.
    RaggedInputs {
        /// The network's number of inputs.
        width: usize,
        /// The buffer's length.
        len: usize,
    },
    /// Inputs and targets disagree on how many samples there are.
    TargetCount {
        /// Number of input samples.
        inputs: usize,
        /// Number of targets.
        targets: usize,
    },
    /// A data set with no samples.
    EmptyDataset,
    /// An input value that is NaN or infinite.
    NonFiniteInput {
        /// Index of the sample.
        sample: usize,
    },
    /// The network's output for a sample is NaN or infinite (weights that
    /// are not finite, or a finite input so large that a sum overflows).
    NonFiniteOutput {
        /// Index of the sample.
        sample: usize,
    },
    /// A target the loss cannot use (class out of range, value outside `[0, 1]`, NaN).
    InvalidTarget {
        /// Index of the sample.
        sample: usize,
    },
    /// The shuffle-order buffer does not hold one slot per training sample.
    OrderLength {
        /// Number of training samples.
        expected: usize,
        /// Length of the buffer.
        found: usize,
    },
    /// The shuffle-order index type cannot number every sample (e.g. `u16` for more than 65 536).
    IndexOverflow {
        /// Number of training samples.
        samples: usize,
        /// Largest sample count the index type can number.
        max: usize,
    },
    /// A hyperparameter outside its domain.
    InvalidHyperparameter {
        /// Which one.
        name: Hyperparameter,
        /// What it must be.
        requirement: &'static str,
    },
    /// The loss or a parameter became NaN or infinite.
    Diverged {
        /// The 1-based epoch in which it happened.
        epoch: u32,
    },
}

/// A hyperparameter, named in [`Error::InvalidHyperparameter`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Hyperparameter {
    /// The (base) learning rate.
    LearningRate,
    /// Momentum μ (classical or Nesterov).
    Momentum,
    /// Adam's first-moment decay β₁.
    Beta1,
    /// Adam's second-moment decay β₂.
    Beta2,
    /// The ε added to a denominator (Adagrad, RMSprop, Adam).
    Epsilon,
    /// RMSprop's decay ρ.
    Rho,
    /// AdamW's decoupled weight decay λ.
    WeightDecay,
    /// The L2 penalty.
    L2,
    /// The L1 penalty.
    L1,
    /// The largest global gradient norm before clipping.
    ClipNorm,
    /// Inverse-time decay of the learning rate.
    Decay,
    /// Epochs between steps of a step schedule.
    StepEvery,
    /// The factor of a step or exponential schedule.
    Gamma,
    /// The learning rate a cosine schedule ends at.
    MinLearningRate,
    /// Epochs of linear warm-up.
    Warmup,
    /// The number of epochs.
    Epochs,
    /// Samples per optimizer step.
    BatchSize,
    /// The initialiser's range.
    InitialiserRange,
    /// Layers kept fixed at the front of the network.
    FrozenLayers,
    /// Early stopping's epochs without improvement.
    Patience,
    /// Early stopping's smallest improvement.
    MinDelta,
    /// A hidden layer's dropout rate.
    Dropout,
}

impl Hyperparameter {
    /// Its name in messages.
    pub const fn name(self) -> &'static str {
        match self {
            Hyperparameter::LearningRate => "learning rate",
            Hyperparameter::Momentum => "momentum",
            Hyperparameter::Beta1 => "beta1",
            Hyperparameter::Beta2 => "beta2",
            Hyperparameter::Epsilon => "epsilon",
            Hyperparameter::Rho => "rho",
            Hyperparameter::WeightDecay => "weight decay",
            Hyperparameter::L2 => "l2",
            Hyperparameter::L1 => "l1",
            Hyperparameter::ClipNorm => "clip norm",
            Hyperparameter::Decay => "decay",
            Hyperparameter::StepEvery => "step interval",
            Hyperparameter::Gamma => "gamma",
            Hyperparameter::MinLearningRate => "minimum learning rate",
            Hyperparameter::Warmup => "warm-up",
            Hyperparameter::Epochs => "epochs",
            Hyperparameter::BatchSize => "batch size",
            Hyperparameter::InitialiserRange => "initialiser range",
            Hyperparameter::FrozenLayers => "frozen layers",
            Hyperparameter::Patience => "patience",
            Hyperparameter::MinDelta => "minimum improvement",
            Hyperparameter::Dropout => "dropout",
        }
    }
}

impl fmt::Display for Hyperparameter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::InputLength { expected, found } => {
                write!(f, "sample has {found} values but the network takes {expected} inputs")
            }
            Error::RaggedInputs { width, len } => {
                write!(f, "input buffer of {len} values is not a whole number of {width}-value samples")
            }
            Error::TargetCount { inputs, targets } => {
                write!(f, "{inputs} input samples but {targets} targets")
            }
            Error::EmptyDataset => f.write_str("the data set has no samples"),
            Error::NonFiniteInput { sample } => write!(f, "sample {sample} has a NaN or infinite input"),
            Error::NonFiniteOutput { sample } => write!(
                f,
                "the network's output for sample {sample} is NaN or infinite (non-finite weights, or an input so large that a sum overflows)"
            ),
            Error::InvalidTarget { sample } => {
                write!(f, "target of sample {sample} is not valid for this loss")
            }
            Error::OrderLength { expected, found } => {
                write!(f, "shuffle buffer holds {found} indices, but there are {expected} samples")
            }
            Error::IndexOverflow { samples, max } => {
                write!(f, "{samples} samples, but the shuffle buffer's index type can number only {max}")
            }
            Error::InvalidHyperparameter { name, requirement } => {
                write!(f, "{name} must be {requirement}")
            }
            Error::Diverged { epoch } => {
                write!(
                    f,
                    "training diverged in epoch {epoch} (the loss or a weight is NaN or infinite); try a smaller learning rate"
                )
            }
        }
    }
}

impl core::error::Error for Error {}
