//! Training and inference of fully connected neural networks on
//! microcontrollers: `no_std`, no heap, no `unsafe`.
//!
//! * A network is a type: `layers![Dense<f32, 64, 32, Relu>, Dense<f32, 32, 10>]`.
//!   Sizes are const generics, so mismatched layers do not compile and every
//!   buffer has a size known at build time ([`Network::TRAINING_BYTES`]).
//! * Forward, backprop and seven update rules ([`optim`]: SGD, momentum,
//!   Nesterov, Adagrad, RMSprop, Adam, AdamW; L1/L2, gradient clipping;
//!   learning-rate [`schedule`]s) are written out here with a fixed summation
//!   order, so a host and a Cortex-M compute the same bits from the same seed.
//! * A [`Learner`] trains: it borrows the network, its [`TrainState`] (split
//!   into per-sample [`Scratch`], the batch's gradient, and the [`Persistent`]
//!   part a checkpoint keeps) and the shuffle order. Every parameter is
//!   reached through one walk in one documented order ([`walk`]).
//! * Layers can be [`Frozen`]: read-only parameters (in flash) that still pass
//!   gradients through, to fine-tune only the last layers on a device.
//! * Inverted [`dropout`] on hidden layers, its masks drawn from the seeded
//!   generator into a fixed [`DropoutCache`].
//! * A [`SampleWindow`] keeps the most recent labelled samples in a fixed
//!   buffer, so a device can keep learning from the data it sees.
//!
//! ```
//! use mlp_core::{layers, Dense, Network, activation::Relu};
//! type Digits = layers![Dense<f32, 64, 32, Relu>, Dense<f32, 32, 10>];
//! // Parameters, gradients, momentum and one sample's cache, in bytes, plus
//! // the step and epoch counters and the generator's state (24 bytes):
//! const _: () = assert!(Digits::TRAINING_BYTES == 3 * (64 * 32 + 32 + 32 * 10 + 10) * 4 + 2 * (32 + 10) * 4 + 24);
//! ```
//!
//! A firmware that states its RAM budget this way does not build when training would not fit:
//!
//! ```compile_fail,E0080
//! use mlp_core::{layers, Dense, Network, activation::Relu};
//! type Digits = layers![Dense<f32, 64, 32, Relu>, Dense<f32, 32, 10>];
//! const _: () = assert!(Digits::TRAINING_BYTES <= 16 * 1024, "training needs more than 16 KiB");
//! ```
//!
//! The optimizer's state is part of the type, so the choice of optimizer is
//! part of the budget: Adam keeps two buffers per parameter, SGD none.
//!
//! ```
//! use mlp_core::{layers, Dense, Network, TrainState, activation::Relu, optim::{Adam, Sgd}};
//! type Digits = layers![Dense<f32, 64, 32, Relu>, Dense<f32, 32, 10>];
//! const BUDGET: usize = 24 * 1024;
//! const _: () = assert!(Digits::PARAMETER_BYTES + TrainState::<Digits, Sgd>::BYTES <= BUDGET);
//! const _: () = assert!(Digits::PARAMETER_BYTES + TrainState::<Digits, Adam>::BYTES > BUDGET); // Adam does not fit
//! ```
//!
//! Training with Adam, a cosine schedule after two epochs of warm-up, and clipping:
//!
//! ```
//! use mlp_core::{layers, Dataset, DefaultRng, Dense, Init, Learner, Network, SeedableRng, TrainConfig, TrainState};
//! use mlp_core::{activation::Tanh, loss::SoftmaxCrossEntropy, optim::Adam, schedule::{Schedule, Shape}};
//!
//! type Net = layers![Dense<f32, 2, 8, Tanh>, Dense<f32, 8, 2>];
//! let inputs = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]];
//! let labels = [0, 1, 1, 0];
//! let data = Dataset::new(&inputs, &labels).unwrap();
//! let (mut net, mut state, mut order) = (Net::default(), TrainState::<Net, Adam>::new(), [0u16; 4]);
//! state.persistent.rng = DefaultRng::seed_from_u64(3);
//! net.initialize(Init::GlorotUniform, &mut state.persistent.rng).unwrap();
//! let config = TrainConfig {
//!     epochs: 400,
//!     batch_size: 4,
//!     schedule: Schedule { lr: 0.05, shape: Shape::Cosine { min_lr: 0.001 }, warmup: 2 },
//!     clip_norm: 5.0,
//!     ..TrainConfig::new(Adam::DEFAULT)
//! };
//! let mut learner = Learner::new(&mut net, &mut state, &mut order, SoftmaxCrossEntropy, &config).unwrap();
//! let summary = learner.fit(data, |_, _| core::ops::ControlFlow::Continue(())).unwrap();
//! assert_eq!(summary.last.train.accuracy, 1.0);
//! ```
//!
//! # On a device
//!
//! * **State in `static`s.** Networks, layers, training states and
//!   configurations have `const` constructors ([`Zeroed::ZEROED`],
//!   [`Dense::zeroed`], [`Dense::from_columns`], [`TrainState::new`],
//!   [`DropoutCache::new`], [`TrainConfig::DEFAULT`]), so they can be `static`s that land in `.bss`
//!   (or, for trained weights, in flash) without passing through the stack.
//!   `static_cell::ConstStaticCell::new(TrainState::new()).take()` hands out a
//!   `&'static mut` with no `unsafe` in the firmware.
//! * **No `f64` unless the network is `f64`.** Forward, backprop, losses,
//!   metrics ([`Metrics`] is in the network's scalar), learning rates and
//!   updates all compute in the network's scalar, which is what a
//!   single-precision FPU runs in hardware. Two things use `f64`: validating a
//!   configuration ([`TrainConfig::check`], once per [`Learner`]) and
//!   drawing initial weights ([`Network::initialize`], so that an `f32` and an
//!   `f64` network start from the same values). Firmware that receives its
//!   weights from the host never initialises; [`ConfusionMatrix::accuracy`]
//!   is `f64` for host reports.
//! * **Time depends on the data.** A dense layer skips inputs that are
//!   exactly zero (on a Cortex-M two at a time: a pair of zeros is skipped),
//!   which saves the work of a blank pixel or a ReLU unit that is off, with
//!   the same bits as not skipping. Budget for the worst case, every input
//!   non-zero: the repository's `BENCHMARKS.md` gives instruction counts for
//!   both, counted under QEMU for a Cortex-M4F.
//! * **No panics.** Every fallible call returns [`Error`]; the repository's
//!   tests disassemble the firmware built on this crate and fail on any
//!   call into a bounds-check, `unwrap` or slice-index panic.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "std")]
extern crate std;

pub mod activation;
mod buffer;
pub mod dropout;
pub mod early_stopping;
mod error;
pub mod float;
pub mod init;
mod layer;
pub mod loss;
mod metrics;
pub mod model;
mod network;
pub mod optim;
mod rng;
pub mod schedule;
mod train;
pub mod walk;
mod window;

pub use buffer::Zeroed;
pub use error::{Error, Hyperparameter};
pub use float::Float;
pub use init::Init;
pub use layer::{Dense, DenseGradients, Frozen, Layer};
pub use metrics::{ConfusionMatrix, EpochMetrics, Metrics, TrainSummary};
pub use network::{Chain, DropoutCache, Network, PairCache, Persistent, Scratch, TrainState};
pub use optim::Optimizer;
pub use train::{
    Batches, Checked, Dataset, EpochPlan, Learner, SampleIndex, TrainConfig, accumulate_sample,
    accumulate_sample_dropout, confusion_matrix, evaluate, predict, predict_class, predict_probabilities, run_batches,
};
pub use walk::{Part, Slot, Slots};
pub use window::SampleWindow;

/// The default random generator: small, fast, and reproducible from a `u64` seed.
///
/// ```
/// use mlp_core::{DefaultRng, SeedableRng};
/// let mut a = DefaultRng::seed_from_u64(7);
/// let mut b = DefaultRng::seed_from_u64(7);
/// assert_eq!(mlp_core::Rng::next_u64(&mut a), mlp_core::Rng::next_u64(&mut b));
/// ```
pub type DefaultRng = rng::XorShift128;
pub use rng::XorShift128;

/// The random-number traits the core's functions take, re-exported so that
/// firmware can seed [`DefaultRng`] without depending on `rand_core` itself.
pub use rand_core::{self, Rng, SeedableRng};
