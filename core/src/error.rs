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
        name: &'static str,
        /// What it must be.
        requirement: &'static str,
    },
    /// The loss or a parameter became NaN or infinite.
    Diverged {
        /// The 1-based epoch in which it happened.
        epoch: u32,
    },
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
