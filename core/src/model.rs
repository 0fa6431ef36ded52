//! The model file: a network's parameters and, in a checkpoint, everything
//! training needs to continue bit for bit. Written into and read from byte
//! slices, so it needs no heap and no file system: firmware embeds one with
//! `include_bytes!` or writes one into a static buffer.
//!
//! The layout, specified in the repository's `docs/model-format.md`: a
//! 12-byte header (magic `MLPM`, version, scalar type, layer count, total
//! length), 12 bytes per layer (inputs, outputs, activation, frozen), the
//! parameters little-endian in the [`walk`](crate::walk)'s order, optional
//! sections (optimizer and its state, training position and configuration,
//! feature scaling), and a CRC-32 of everything before it.
//!
//! ```
//! use mlp_core::{layers, model, Dense, Network, activation::Relu};
//! type Net = layers![Dense<f32, 4, 3, Relu>, Dense<f32, 3, 2>];
//! let net = Net::default();
//! // The exact size is a constant of the type: a static buffer fits it.
//! let mut file = [0u8; Net::MODEL_BYTES];
//! let written = model::write_model(&net, &mut file).unwrap();
//! assert_eq!(written, Net::MODEL_BYTES);
//!
//! let mut back = Net::default();
//! model::read_model(&file, &mut back).unwrap();
//! assert_eq!(back, net);
//!
//! // A model of another shape is refused, naming the layer.
//! type Other = layers![Dense<f32, 4, 5, Relu>, Dense<f32, 5, 2>];
//! let error = model::read_model(&file, &mut Other::default()).unwrap_err();
//! assert_eq!(error, model::FormatError::Shape { layer: 0, expected: (4, 5), found: (4, 3) });
//! ```
//!
//! A checkpoint adds the optimizer's state and the training position; a
//! [`Learner`](crate::Learner) over the restored state continues exactly as
//! the one that wrote it would have:
//!
//! ```
//! use mlp_core::{layers, model, Dense, Network, TrainConfig, TrainState, activation::Tanh, optim::Adam};
//! type Net = layers![Dense<f32, 2, 4, Tanh>, Dense<f32, 4, 2>];
//! let (net, state) = (Net::default(), TrainState::<Net, Adam>::new());
//! let config = TrainConfig::new(Adam::DEFAULT);
//! let mut file = [0u8; model::checkpoint_bytes::<Net, Adam>()];
//! model::write_checkpoint(&net, &state.persistent, &config, &mut file).unwrap();
//!
//! let (mut net2, mut state2) = (Net::default(), TrainState::<Net, Adam>::new());
//! let restored = model::read_checkpoint(&file, &mut net2, &mut state2.persistent).unwrap();
//! assert_eq!(restored, config);
//! ```

use core::fmt;
use core::mem::size_of;

use crate::activation::ActivationKind;
use crate::error::Error;
use crate::float::Float;
use crate::network::{Network, Persistent};
use crate::optim::{Optimizer, OptimizerKind, OptimizerRecord};
use crate::rng::XorShift128;
use crate::schedule::{Schedule, Shape};
use crate::train::TrainConfig;
use crate::walk::{Part, Slots};

/// The first four bytes of every model file.
pub const MAGIC: [u8; 4] = *b"MLPM";
/// The format version this crate writes and reads.
pub const VERSION: u16 = 1;

const HEADER_BYTES: usize = 12;
const LAYER_BYTES: usize = 12;
const SECTION_HEADER_BYTES: usize = 8;
const CHECKSUM_BYTES: usize = 4;
/// Bit 0 of a section's flags: a reader that does not know the section must refuse the file.
const REQUIRED: u16 = 1;
/// Bit 0 of a layer's flags: the layer did not train.
const LAYER_FROZEN: u8 = 1;

const OPTIMIZER_FIXED_BYTES: usize = 4;
/// The sections this version knows: [`Section::ALL`].
const SECTIONS: usize = Section::ALL.len();
const TRAINING_PAYLOAD_BYTES: usize = 88;

/// The sections a version-1 file may hold after the parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[repr(u16)]
pub enum Section {
    /// The optimizer's kind, hyperparameters and state buffers.
    Optimizer = 1,
    /// Step and epoch counts, the generator's state, and the rest of the
    /// training configuration (epochs, batch size, schedule, penalties).
    Training = 2,
    /// Per-input offset and scale that the inputs are standardised with.
    Scaling = 3,
    /// Free-form UTF-8 text for tools (`key=value` lines: the data set, the
    /// seed of its split); the core does not interpret it. Written as optional.
    Metadata = 4,
    /// The dropout rate of each hidden layer, in a checkpoint whose training
    /// drops units (absent otherwise, and in files written before it existed).
    Dropout = 5,
}

impl Section {
    /// Every section this version knows.
    pub const ALL: [Section; 5] =
        [Section::Optimizer, Section::Training, Section::Scaling, Section::Metadata, Section::Dropout];

    /// Its identifier in the file.
    pub const fn id(self) -> u16 {
        self as u16
    }

    /// Its name in messages.
    pub const fn name(self) -> &'static str {
        match self {
            Section::Optimizer => "optimizer",
            Section::Training => "training",
            Section::Scaling => "scaling",
            Section::Metadata => "metadata",
            Section::Dropout => "dropout",
        }
    }

    const fn from_id(id: u16) -> Option<Self> {
        match id {
            1 => Some(Section::Optimizer),
            2 => Some(Section::Training),
            3 => Some(Section::Scaling),
            4 => Some(Section::Metadata),
            5 => Some(Section::Dropout),
            _ => None,
        }
    }

    const fn index(self) -> usize {
        self as usize - 1
    }
}

/// Why a model file was refused or could not be written.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum FormatError {
    /// The file does not start with [`MAGIC`]: not a model file.
    BadMagic,
    /// A format version this crate does not read.
    UnsupportedVersion {
        /// The file's version.
        found: u16,
        /// The newest version this crate reads.
        supported: u16,
    },
    /// The file's scalar type is not the network's.
    WrongScalar {
        /// The network's scalar code (1 = `f32`, 2 = `f64`).
        expected: u8,
        /// The file's.
        found: u8,
    },
    /// The file has another number of layers than the network.
    LayerCount {
        /// The network's.
        expected: usize,
        /// The file's.
        found: usize,
    },
    /// A layer of another shape (inputs, outputs) than the network's.
    Shape {
        /// 0-based layer index.
        layer: usize,
        /// The network's (inputs, outputs).
        expected: (usize, usize),
        /// The file's.
        found: (usize, usize),
    },
    /// A layer with another activation than the network's.
    Activation {
        /// 0-based layer index.
        layer: usize,
        /// The network's.
        expected: ActivationKind,
        /// The file's.
        found: ActivationKind,
    },
    /// The file is shorter than its header or its own stated length.
    Truncated {
        /// Bytes the file needs.
        needed: usize,
        /// Bytes there are.
        found: usize,
    },
    /// Bytes after the end the header states.
    TrailingBytes {
        /// How many.
        extra: usize,
    },
    /// The stored CRC-32 does not match the contents: the file is corrupted.
    ChecksumMismatch {
        /// The CRC-32 stored at the end of the file.
        stored: u32,
        /// The CRC-32 of the contents.
        computed: u32,
    },
    /// A parameter is NaN or infinite.
    NonFiniteParameter {
        /// 0-based layer index.
        layer: usize,
        /// Weights or biases.
        part: Part,
        /// Index within that part, in storage order.
        index: usize,
    },
    /// An optimizer-state value is NaN or infinite.
    NonFiniteState {
        /// 0-based state buffer.
        buffer: usize,
        /// Index within the buffer, in the walk's order over trainable layers.
        index: usize,
    },
    /// The header or layer table is inconsistent (the reason says how).
    Malformed {
        /// What is wrong.
        reason: &'static str,
    },
    /// A layer's activation code is not one this version knows.
    UnknownActivation {
        /// 0-based layer index.
        layer: usize,
        /// The code.
        code: u8,
    },
    /// A section this version does not know, marked as required.
    UnknownRequiredSection {
        /// Its identifier.
        id: u16,
    },
    /// A section that appears twice.
    DuplicateSection {
        /// Its identifier.
        id: u16,
    },
    /// A known section whose contents are inconsistent.
    MalformedSection {
        /// Which.
        section: Section,
        /// What is wrong.
        reason: &'static str,
    },
    /// A section the operation needs is not in the file (a model, not a checkpoint).
    MissingSection {
        /// Which.
        section: Section,
    },
    /// The checkpoint's optimizer is not the one asked for.
    OptimizerMismatch {
        /// The optimizer asked for.
        expected: &'static str,
        /// The checkpoint's.
        found: OptimizerKind,
    },
    /// A layer's frozen flag differs from the network's.
    FrozenMismatch {
        /// 0-based layer index.
        layer: usize,
        /// Whether the network keeps the layer fixed.
        expected: bool,
    },
    /// A layer that is [`Frozen`](crate::Frozen) in the network (its
    /// parameters read-only, in flash) holds other values in the file.
    FrozenValues {
        /// 0-based layer index.
        layer: usize,
    },
    /// The checkpoint's configuration is invalid for the network.
    InvalidConfig(Error),
    /// The output buffer is too small.
    BufferTooSmall {
        /// Bytes needed.
        needed: usize,
        /// Bytes available.
        found: usize,
    },
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            FormatError::BadMagic => f.write_str("not a model file (it does not start with \"MLPM\")"),
            FormatError::UnsupportedVersion { found, supported } => {
                write!(f, "model format version {found} is not supported (this build reads version {supported})")
            }
            FormatError::WrongScalar { expected, found } => {
                write!(
                    f,
                    "the model stores {} values but the network computes in {}",
                    scalar_name(found),
                    scalar_name(expected)
                )
            }
            FormatError::LayerCount { expected, found } => {
                write!(f, "the model has {found} layers but the network has {expected}")
            }
            FormatError::Shape { layer, expected, found } => write!(
                f,
                "layer {layer} is {}→{} in the model but {}→{} in the network",
                found.0, found.1, expected.0, expected.1
            ),
            FormatError::Activation { layer, expected, found } => {
                write!(f, "layer {layer} uses {found} in the model but {expected} in the network")
            }
            FormatError::Truncated { needed, found } => {
                write!(f, "the model file is truncated: {found} bytes, {needed} needed")
            }
            FormatError::TrailingBytes { extra } => {
                write!(f, "{extra} unexpected bytes after the end of the model")
            }
            FormatError::ChecksumMismatch { stored, computed } => write!(
                f,
                "the model file is corrupted: checksum {computed:#010x} does not match the stored {stored:#010x}"
            ),
            FormatError::NonFiniteParameter { layer, part, index } => {
                let part = match part {
                    Part::Weights => "weight",
                    Part::Biases => "bias",
                };
                write!(f, "layer {layer}'s {part} {index} is NaN or infinite")
            }
            FormatError::NonFiniteState { buffer, index } => {
                write!(f, "value {index} of optimizer-state buffer {buffer} is NaN or infinite")
            }
            FormatError::Malformed { reason } => write!(f, "malformed model file: {reason}"),
            FormatError::UnknownActivation { layer, code } => {
                write!(f, "layer {layer} has an unknown activation (code {code})")
            }
            FormatError::UnknownRequiredSection { id } => {
                write!(
                    f,
                    "the model file needs section {id}, which this build does not know (written by a newer version?)"
                )
            }
            FormatError::DuplicateSection { id } => write!(f, "section {id} appears twice"),
            FormatError::MalformedSection { section, reason } => {
                write!(f, "malformed {} section: {reason}", section.name())
            }
            FormatError::MissingSection { section } => {
                write!(f, "the file has no {} section (a model, not a checkpoint?)", section.name())
            }
            FormatError::OptimizerMismatch { expected, found } => {
                write!(f, "the checkpoint was trained with {found}, not {expected}")
            }
            FormatError::FrozenMismatch { layer, expected } => {
                let (model, network) = if expected { ("trains", "keeps it fixed") } else { ("is frozen", "trains it") };
                write!(f, "layer {layer} {model} in the model but the network {network}")
            }
            FormatError::FrozenValues { layer } => {
                write!(f, "layer {layer} is read-only in the network and holds other values in the model")
            }
            FormatError::InvalidConfig(e) => write!(f, "the checkpoint's configuration is invalid: {e}"),
            FormatError::BufferTooSmall { needed, found } => {
                write!(f, "the output buffer holds {found} bytes, {needed} needed")
            }
        }
    }
}

impl core::error::Error for FormatError {}

fn scalar_name(code: u8) -> &'static str {
    match code {
        1 => "f32",
        2 => "f64",
        _ => "unknown",
    }
}

/// Bytes of a model file of `N` with no optional section: [`Network::MODEL_BYTES`].
pub const fn model_bytes<N: Network>() -> usize {
    HEADER_BYTES + LAYER_BYTES * N::LAYERS + N::ALL_PARAMETERS * size_of::<N::Scalar>() + CHECKSUM_BYTES
}

/// Bytes of the optimizer section of a checkpoint of `N` trained with `O`
/// (exact for the core's optimizers; for a type that stands for several
/// rules, the largest).
pub const fn optimizer_section_bytes<N: Network, O: Optimizer>() -> usize {
    SECTION_HEADER_BYTES
        + OPTIMIZER_FIXED_BYTES
        + 8 * O::HYPERPARAMETERS
        + O::BUFFERS * N::PARAMETERS * size_of::<N::Scalar>()
}

/// Bytes of the training section.
pub const TRAINING_SECTION_BYTES: usize = SECTION_HEADER_BYTES + TRAINING_PAYLOAD_BYTES;

/// Bytes of the dropout section of a checkpoint of `N` (one `f64` per
/// hidden layer), which a checkpoint of training with dropout adds to
/// [`checkpoint_bytes`].
///
/// ```
/// use mlp_core::{layers, model, Dense, activation::Relu};
/// type Net = layers![Dense<f32, 64, 32, Relu>, Dense<f32, 32, 10>];
/// assert_eq!(model::dropout_section_bytes::<Net>(), 8 + 8);
/// ```
pub const fn dropout_section_bytes<N: Network>() -> usize {
    SECTION_HEADER_BYTES + 8 * (N::LAYERS - 1)
}

/// Bytes of a scaling section for `N`'s inputs.
pub const fn scaling_section_bytes<N: Network>() -> usize {
    SECTION_HEADER_BYTES + 4 + 2 * N::INPUTS * size_of::<N::Scalar>()
}

/// Bytes of a checkpoint of `N` trained with `O`, without scaling: a
/// static buffer of this size holds any such checkpoint.
///
/// ```
/// use mlp_core::{layers, model, Dense, Network, activation::Relu, optim::{Momentum, Sgd}};
/// type Net = layers![Dense<f32, 64, 32, Relu>, Dense<f32, 32, 10>];
/// // Momentum adds its velocity (one value per parameter) and μ (an f64)
/// // to what SGD stores.
/// let extra = model::checkpoint_bytes::<Net, Momentum>() - model::checkpoint_bytes::<Net, Sgd>();
/// assert_eq!(extra, Net::PARAMETERS * 4 + 8);
/// // The figures docs/model-format.md quotes:
/// assert_eq!(Net::MODEL_BYTES, 9_680);
/// assert_eq!(model::checkpoint_bytes::<Net, Momentum>(), 19_436);
/// assert_eq!(model::checkpoint_bytes::<Net, mlp_core::optim::Adam>(), 29_092);
/// ```
pub const fn checkpoint_bytes<N: Network, O: Optimizer>() -> usize {
    model_bytes::<N>() + optimizer_section_bytes::<N, O>() + TRAINING_SECTION_BYTES
}

/// CRC-32 (IEEE 802.3, as zlib and PNG compute it) of `bytes`.
///
/// ```
/// assert_eq!(mlp_core::model::crc32(b"123456789"), 0xcbf4_3926);
/// ```
pub fn crc32(bytes: &[u8]) -> u32 {
    !bytes.iter().fold(!0u32, |crc, &b| CRC_TABLE[usize::from((crc as u8) ^ b)] ^ (crc >> 8))
}

const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut n = 0;
    while n < 256 {
        let mut c = n as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 { 0xedb8_8320 ^ (c >> 1) } else { c >> 1 };
            k += 1;
        }
        table[n] = c;
        n += 1;
    }
    table
};

/// One layer as the file describes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct LayerRecord {
    /// Its inputs.
    pub inputs: usize,
    /// Its outputs.
    pub outputs: usize,
    /// Its activation.
    pub activation: ActivationKind,
    /// Whether it was kept fixed in training (its optimizer state is not stored).
    pub frozen: bool,
}

impl LayerRecord {
    /// Its weights and biases.
    pub const fn parameters(&self) -> usize {
        self.inputs * self.outputs + self.outputs
    }
}

/// Values of the file's scalar type, little-endian, as stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Values<'a> {
    bytes: &'a [u8],
    scalar: u8,
}

impl<'a> Values<'a> {
    /// How many values.
    pub fn len(&self) -> usize {
        self.bytes.len() / scalar_bytes(self.scalar)
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Value `index` as `T`: bit for bit when `T` is the file's scalar,
    /// otherwise converted through `f64`.
    pub fn get<T: Float>(&self, index: usize) -> Option<T> {
        let width = scalar_bytes(self.scalar);
        let bytes = self.bytes.get(index.checked_mul(width)?..)?;
        if T::FORMAT_CODE == self.scalar {
            // No conversion: on a single-precision device, no f64 either.
            return T::read_le(bytes);
        }
        match self.scalar {
            1 => f32::read_le(bytes).map(|v| T::from_f64(f64::from(v))),
            _ => f64::read_le(bytes).map(T::from_f64),
        }
    }

    /// Index of the first value that is NaN or infinite, tested on the bits.
    pub fn first_non_finite(&self) -> Option<usize> {
        if self.scalar == 2 {
            self.bytes
                .chunks_exact(8)
                .position(|c| c.first_chunk::<8>().is_some_and(|b| u64::from_le_bytes(*b) & EXP64 == EXP64))
        } else {
            self.bytes
                .chunks_exact(4)
                .position(|c| c.first_chunk::<4>().is_some_and(|b| u32::from_le_bytes(*b) & EXP32 == EXP32))
        }
    }

    /// Whether every value is positive and finite.
    fn all_positive_finite(&self) -> bool {
        self.first_non_finite().is_none()
            && if self.scalar == 2 {
                self.bytes.chunks_exact(8).all(|c| c.first_chunk::<8>().is_some_and(|b| f64::from_le_bytes(*b) > 0.0))
            } else {
                self.bytes.chunks_exact(4).all(|c| c.first_chunk::<4>().is_some_and(|b| f32::from_le_bytes(*b) > 0.0))
            }
    }

    /// Every value as `T` (see [`get`](Values::get)).
    pub fn iter<T: Float>(&self) -> impl Iterator<Item = T> + 'a {
        let copy = *self;
        (0..self.len()).filter_map(move |i| copy.get::<T>(i))
    }

    /// The stored bytes.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }
}

const EXP32: u32 = 0x7f80_0000;
const EXP64: u64 = 0x7ff0_0000_0000_0000;

const fn scalar_bytes(code: u8) -> usize {
    if code == 2 { 8 } else { 4 }
}

/// The training position and configuration a checkpoint stores.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct TrainingRecord {
    /// Optimizer steps taken.
    pub steps: u32,
    /// Epochs completed.
    pub epoch: u32,
    /// The shuffling generator's state.
    pub rng: [u32; 4],
    /// The configuration, its optimizer aside.
    pub config: TrainConfig<()>,
}

/// A parsed, checked model file: header, layers, parameters and sections,
/// borrowed from the bytes. What tools that do not know the network's type
/// at compile time (inspection, export) read.
#[derive(Clone, Copy, Debug)]
pub struct Model<'a> {
    bytes: &'a [u8],
    version: u16,
    scalar: u8,
    layers: usize,
    parameters_at: usize,
    trainable: usize,
    sections: [Option<&'a [u8]>; SECTIONS],
}

impl<'a> Model<'a> {
    /// Checks and parses a model file: magic, version, length, checksum,
    /// layer table, that every parameter is finite, and the sections.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, FormatError> {
        match bytes.get(..MAGIC.len()) {
            Some(magic) if magic != MAGIC => return Err(FormatError::BadMagic),
            None if !MAGIC.starts_with(bytes) => return Err(FormatError::BadMagic),
            _ => {}
        }
        let header = bytes
            .first_chunk::<HEADER_BYTES>()
            .ok_or(FormatError::Truncated { needed: HEADER_BYTES, found: bytes.len() })?;
        let version = u16::from_le_bytes([header[4], header[5]]);
        if version != VERSION {
            return Err(FormatError::UnsupportedVersion { found: version, supported: VERSION });
        }
        let total = u32::from_le_bytes([header[8], header[9], header[10], header[11]]) as usize;
        if bytes.len() < total {
            return Err(FormatError::Truncated { needed: total, found: bytes.len() });
        }
        if bytes.len() > total {
            return Err(FormatError::TrailingBytes { extra: bytes.len() - total });
        }
        let Some((body, stored)) = bytes.split_last_chunk::<CHECKSUM_BYTES>() else {
            return Err(FormatError::Malformed { reason: "the stated length is shorter than the header" });
        };
        let (stored, computed) = (u32::from_le_bytes(*stored), crc32(body));
        if stored != computed {
            return Err(FormatError::ChecksumMismatch { stored, computed });
        }
        let scalar = header[6];
        if scalar != 1 && scalar != 2 {
            return Err(FormatError::Malformed { reason: "unknown scalar type" });
        }
        let layers = usize::from(header[7]);
        if layers == 0 {
            return Err(FormatError::Malformed { reason: "no layers" });
        }
        let table = body
            .get(HEADER_BYTES..HEADER_BYTES + LAYER_BYTES * layers)
            .ok_or(FormatError::Malformed { reason: "the layer table runs past the end" })?;
        let mut parameters = 0usize;
        let mut trainable = 0usize;
        let mut previous_outputs = None;
        for (layer, entry) in table.chunks_exact(LAYER_BYTES).enumerate() {
            let record = decode_layer(layer, entry)?;
            if record.inputs == 0 || record.outputs == 0 {
                return Err(FormatError::Malformed { reason: "a layer with no inputs or no outputs" });
            }
            if previous_outputs.is_some_and(|o| o != record.inputs) {
                return Err(FormatError::Malformed {
                    reason: "a layer's inputs differ from the previous layer's outputs",
                });
            }
            previous_outputs = Some(record.outputs);
            let count = record
                .inputs
                .checked_mul(record.outputs)
                .and_then(|w| w.checked_add(record.outputs))
                .ok_or(FormatError::Malformed { reason: "a layer too large to address" })?;
            parameters =
                parameters.checked_add(count).ok_or(FormatError::Malformed { reason: "too many parameters" })?;
            if !record.frozen {
                trainable += count;
            }
        }
        let parameters_at = HEADER_BYTES + LAYER_BYTES * layers;
        let parameter_bytes = parameters
            .checked_mul(scalar_bytes(scalar))
            .ok_or(FormatError::Malformed { reason: "too many parameters" })?;
        let sections_at = parameters_at
            .checked_add(parameter_bytes)
            .filter(|&end| end <= body.len())
            .ok_or(FormatError::Malformed { reason: "the parameters run past the end" })?;
        let mut model = Model { bytes, version, scalar, layers, parameters_at, trainable, sections: [None; SECTIONS] };
        model.sections = parse_sections(body.get(sections_at..).unwrap_or(&[]))?;
        model.check_values()?;
        Ok(model)
    }

    /// The format version.
    pub fn version(&self) -> u16 {
        self.version
    }

    /// The scalar type's code: 1 for `f32`, 2 for `f64`.
    pub fn scalar(&self) -> u8 {
        self.scalar
    }

    /// The scalar type's name.
    pub fn scalar_name(&self) -> &'static str {
        scalar_name(self.scalar)
    }

    /// The number of layers.
    pub fn layer_count(&self) -> usize {
        self.layers
    }

    /// Layer `index`, first to last.
    pub fn layer(&self, index: usize) -> Option<LayerRecord> {
        if index >= self.layers {
            return None;
        }
        let at = HEADER_BYTES + LAYER_BYTES * index;
        self.bytes.get(at..at + LAYER_BYTES).and_then(|entry| decode_layer(index, entry).ok())
    }

    /// Every layer, first to last.
    pub fn layers(&self) -> impl Iterator<Item = LayerRecord> + '_ {
        (0..self.layers).filter_map(|i| self.layer(i))
    }

    /// Every parameter's count, frozen layers included.
    pub fn parameter_count(&self) -> usize {
        self.layers().map(|l| l.parameters()).sum()
    }

    /// The parameters of the layers not marked frozen (what the optimizer's state covers).
    pub fn trainable_parameter_count(&self) -> usize {
        self.trainable
    }

    /// Layer `index`'s weights (column-major: all the weights from input 0
    /// first) and biases.
    pub fn parameters(&self, index: usize) -> Option<(Values<'a>, Values<'a>)> {
        let width = scalar_bytes(self.scalar);
        let mut at = self.parameters_at;
        for (i, layer) in self.layers().enumerate() {
            let weights = layer.inputs * layer.outputs * width;
            let biases = layer.outputs * width;
            if i == index {
                let w = self.bytes.get(at..at + weights)?;
                let b = self.bytes.get(at + weights..at + weights + biases)?;
                return Some((Values { bytes: w, scalar: self.scalar }, Values { bytes: b, scalar: self.scalar }));
            }
            at += weights + biases;
        }
        None
    }

    /// Whether the file holds `section`.
    pub fn has(&self, section: Section) -> bool {
        self.sections[section.index()].is_some()
    }

    /// The stored CRC-32 (already checked by [`parse`](Model::parse)).
    pub fn checksum(&self) -> u32 {
        self.bytes.last_chunk::<4>().map_or(0, |c| u32::from_le_bytes(*c))
    }

    /// The file's length in bytes.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Always false: a parsed model has at least a header.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The optimizer's record and its state buffers (each over the trainable
    /// parameters in the walk's order), if the file is a checkpoint.
    pub fn optimizer(&self) -> Option<(OptimizerRecord, impl Iterator<Item = Values<'a>> + 'a)> {
        let payload = self.sections[Section::Optimizer.index()]?;
        let (record, buffers) = decode_optimizer(payload).ok()?;
        let width = scalar_bytes(self.scalar);
        let buffer_bytes = self.trainable * width;
        let states = payload.get(OPTIMIZER_FIXED_BYTES + 8 * record.hyperparameters().len()..).unwrap_or(&[]);
        let scalar = self.scalar;
        Some((
            record,
            (0..buffers).filter_map(move |b| {
                states.get(b * buffer_bytes..(b + 1) * buffer_bytes).map(|bytes| Values { bytes, scalar })
            }),
        ))
    }

    /// The training position and configuration, if the file is a
    /// checkpoint (with its dropout rates, if it has a dropout section).
    pub fn training(&self) -> Option<TrainingRecord> {
        let mut record = self.sections[Section::Training.index()].and_then(|p| decode_training(p).ok())?;
        if let Some(payload) = self.sections[Section::Dropout.index()] {
            for (l, rate) in record.config.dropout.rates.iter_mut().enumerate() {
                *rate = read_f64(payload, 8 * l).unwrap_or(0.0);
            }
        }
        Some(record)
    }

    /// Per-input (offset, scale), if stored: a model's input is `(x − offset) / scale`.
    pub fn scaling(&self) -> Option<(Values<'a>, Values<'a>)> {
        let payload = self.sections[Section::Scaling.index()]?;
        let count = read_u32(payload, 0)? as usize;
        let half = count * scalar_bytes(self.scalar);
        let values = payload.get(4..)?;
        Some((
            Values { bytes: values.get(..half)?, scalar: self.scalar },
            Values { bytes: values.get(half..2 * half)?, scalar: self.scalar },
        ))
    }

    /// The metadata text, if stored (see [`Section::Metadata`]).
    pub fn metadata(&self) -> Option<&'a str> {
        self.sections[Section::Metadata.index()].and_then(|p| core::str::from_utf8(p).ok())
    }

    /// Checks every stored value is finite and every known section's contents.
    fn check_values(&self) -> Result<(), FormatError> {
        for (layer, _) in self.layers().enumerate() {
            let Some((weights, biases)) = self.parameters(layer) else {
                return Err(FormatError::Malformed { reason: "the parameters run past the end" });
            };
            for (part, values) in [(Part::Weights, weights), (Part::Biases, biases)] {
                if let Some(index) = values.first_non_finite() {
                    return Err(FormatError::NonFiniteParameter { layer, part, index });
                }
            }
        }
        if let Some(payload) = self.sections[Section::Optimizer.index()] {
            let (record, buffers) = decode_optimizer(payload)?;
            let expected = OPTIMIZER_FIXED_BYTES
                + 8 * record.hyperparameters().len()
                + buffers * self.trainable * scalar_bytes(self.scalar);
            if payload.len() != expected {
                return Err(FormatError::MalformedSection {
                    section: Section::Optimizer,
                    reason: "its length does not match its buffers and the trainable parameters",
                });
            }
            if let Some((_, states)) = self.optimizer() {
                for (buffer, values) in states.enumerate() {
                    if let Some(index) = values.first_non_finite() {
                        return Err(FormatError::NonFiniteState { buffer, index });
                    }
                }
            }
            if !self.has(Section::Training) {
                return Err(FormatError::MalformedSection {
                    section: Section::Optimizer,
                    reason: "an optimizer section without a training section",
                });
            }
        }
        if let Some(payload) = self.sections[Section::Metadata.index()]
            && core::str::from_utf8(payload).is_err()
        {
            return Err(FormatError::MalformedSection { section: Section::Metadata, reason: "not UTF-8 text" });
        }
        if let Some(payload) = self.sections[Section::Training.index()] {
            let record = decode_training(payload)?;
            if record.config.frozen_layers as usize > self.layers {
                return Err(FormatError::MalformedSection {
                    section: Section::Training,
                    reason: "more frozen layers than layers",
                });
            }
        }
        if let Some(payload) = self.sections[Section::Dropout.index()] {
            let malformed = |reason| FormatError::MalformedSection { section: Section::Dropout, reason };
            if !self.has(Section::Training) {
                return Err(malformed("a dropout section without a training section"));
            }
            if payload.len() != 8 * self.layers.saturating_sub(1) || self.layers < 2 {
                return Err(malformed("it does not hold one rate per hidden layer"));
            }
            let beyond = (crate::dropout::MAX_LAYERS..self.layers - 1).any(|l| read_f64(payload, 8 * l) != Some(0.0));
            if beyond {
                return Err(malformed("a rate for a hidden layer deeper than a configuration holds"));
            }
        }
        if let Some(payload) = self.sections[Section::Scaling.index()] {
            let inputs = self.layer(0).map_or(0, |l| l.inputs);
            let count = read_u32(payload, 0).unwrap_or(u32::MAX) as usize;
            if count != inputs || payload.len() != 4 + 2 * count * scalar_bytes(self.scalar) {
                return Err(FormatError::MalformedSection {
                    section: Section::Scaling,
                    reason: "it does not hold an offset and a scale for every input",
                });
            }
            if let Some((offset, scale)) = self.scaling()
                && (offset.first_non_finite().is_some() || !scale.all_positive_finite())
            {
                return Err(FormatError::MalformedSection {
                    section: Section::Scaling,
                    reason: "an offset that is not finite or a scale that is not positive and finite",
                });
            }
        }
        Ok(())
    }
}

fn read_u32(bytes: &[u8], at: usize) -> Option<u32> {
    bytes.get(at..)?.first_chunk::<4>().map(|b| u32::from_le_bytes(*b))
}

fn read_f64(bytes: &[u8], at: usize) -> Option<f64> {
    f64::read_le(bytes.get(at..)?)
}

fn decode_layer(layer: usize, entry: &[u8]) -> Result<LayerRecord, FormatError> {
    let malformed = FormatError::Malformed { reason: "a layer entry is cut short" };
    let inputs = read_u32(entry, 0).ok_or(malformed)? as usize;
    let outputs = read_u32(entry, 4).ok_or(malformed)? as usize;
    let (code, flags) = match entry.get(8..12) {
        Some(&[code, flags, 0, 0]) => (code, flags),
        Some(_) => return Err(FormatError::Malformed { reason: "a layer's reserved bytes are not zero" }),
        None => return Err(malformed),
    };
    let activation = ActivationKind::from_code(code).ok_or(FormatError::UnknownActivation { layer, code })?;
    if flags & !LAYER_FROZEN != 0 {
        return Err(FormatError::Malformed { reason: "a layer has unknown flags" });
    }
    Ok(LayerRecord { inputs, outputs, activation, frozen: flags & LAYER_FROZEN != 0 })
}

fn parse_sections(mut rest: &[u8]) -> Result<[Option<&[u8]>; SECTIONS], FormatError> {
    let mut sections: [Option<&[u8]>; SECTIONS] = [None; SECTIONS];
    while !rest.is_empty() {
        let Some(header) = rest.first_chunk::<SECTION_HEADER_BYTES>() else {
            return Err(FormatError::Malformed { reason: "a section header is cut short" });
        };
        let id = u16::from_le_bytes([header[0], header[1]]);
        let flags = u16::from_le_bytes([header[2], header[3]]);
        let length = u32::from_le_bytes([header[4], header[5], header[6], header[7]]) as usize;
        let payload = rest
            .get(SECTION_HEADER_BYTES..)
            .and_then(|r| r.get(..length))
            .ok_or(FormatError::Malformed { reason: "a section runs past the end" })?;
        if flags & !REQUIRED != 0 {
            return Err(FormatError::Malformed { reason: "a section has unknown flags" });
        }
        match Section::from_id(id) {
            Some(section) => {
                let slot = &mut sections[section.index()];
                if slot.is_some() {
                    return Err(FormatError::DuplicateSection { id });
                }
                *slot = Some(payload);
            }
            None if flags & REQUIRED != 0 => return Err(FormatError::UnknownRequiredSection { id }),
            None => {}
        }
        rest = rest.get(SECTION_HEADER_BYTES + length..).unwrap_or(&[]);
    }
    Ok(sections)
}

fn decode_optimizer(payload: &[u8]) -> Result<(OptimizerRecord, usize), FormatError> {
    let malformed = |reason| FormatError::MalformedSection { section: Section::Optimizer, reason };
    let Some(&[code, count, buffers, reserved]) = payload.first_chunk::<4>() else {
        return Err(malformed("cut short"));
    };
    if reserved != 0 {
        return Err(malformed("a reserved byte is not zero"));
    }
    let kind = OptimizerKind::from_code(code).ok_or(malformed("unknown optimizer"))?;
    let mut values = [0.0; OptimizerRecord::MAX_HYPERPARAMETERS];
    let count = usize::from(count);
    if count != kind.hyperparameter_names().len() {
        return Err(malformed("the wrong number of hyperparameters for its optimizer"));
    }
    for (i, value) in values.iter_mut().take(count).enumerate() {
        *value = read_f64(payload, OPTIMIZER_FIXED_BYTES + 8 * i).ok_or(malformed("cut short"))?;
    }
    if usize::from(buffers) != kind.buffers() {
        return Err(malformed("the wrong number of state buffers for its optimizer"));
    }
    let record = OptimizerRecord::try_new(kind, values.get(..count).unwrap_or(&[])).ok_or(malformed("cut short"))?;
    Ok((record, usize::from(buffers)))
}

fn decode_training(payload: &[u8]) -> Result<TrainingRecord, FormatError> {
    let malformed = |reason| FormatError::MalformedSection { section: Section::Training, reason };
    if payload.len() != TRAINING_PAYLOAD_BYTES {
        return Err(malformed("not 88 bytes long"));
    }
    let u = |at| read_u32(payload, at).unwrap_or(0);
    let f = |at| read_f64(payload, at).unwrap_or(f64::NAN);
    let (every, parameter) = (u(44), f(56));
    let shape = match payload.get(40..44) {
        Some(&[0, 0, 0, 0]) => Shape::Constant,
        Some(&[1, 0, 0, 0]) => Shape::InverseTime { decay: parameter },
        Some(&[2, 0, 0, 0]) => Shape::Step { every, gamma: parameter },
        Some(&[3, 0, 0, 0]) => Shape::Exponential { gamma: parameter },
        Some(&[4, 0, 0, 0]) => Shape::Cosine { min_lr: parameter },
        _ => return Err(malformed("unknown learning-rate schedule")),
    };
    // Fields the shape does not use are 0: a file has one reading, and is written back as it was read.
    if (every != 0 && !matches!(shape, Shape::Step { .. }))
        || (parameter.to_bits() != 0 && matches!(shape, Shape::Constant))
    {
        return Err(malformed("a field its learning-rate schedule does not use is not zero"));
    }
    Ok(TrainingRecord {
        steps: u(0),
        epoch: u(4),
        rng: [u(8), u(12), u(16), u(20)],
        config: TrainConfig {
            epochs: u(24),
            batch_size: u(28) as usize,
            optimizer: (),
            schedule: Schedule { lr: f(48), shape, warmup: u(36) },
            l2: f(64),
            l1: f(72),
            clip_norm: f(80),
            frozen_layers: u(32),
            // In a section of its own: see `Model::training`.
            dropout: crate::dropout::Dropout::NONE,
        },
    })
}

/// Writes sequentially into a buffer already known to be large enough.
struct Writer<'a> {
    out: &'a mut [u8],
    at: usize,
}

impl Writer<'_> {
    fn bytes(&mut self, bytes: &[u8]) {
        if let Some(dst) = self.out.get_mut(self.at..) {
            for (d, s) in dst.iter_mut().zip(bytes) {
                *d = *s;
            }
        }
        self.at += bytes.len();
    }
    fn u32(&mut self, v: u32) {
        self.bytes(&v.to_le_bytes());
    }
    fn f64(&mut self, v: f64) {
        self.bytes(&v.to_le_bytes());
    }
    fn scalar<T: Float>(&mut self, v: T) {
        if let Some(dst) = self.out.get_mut(self.at..) {
            v.write_le(dst);
        }
        self.at += T::BYTES;
    }
    fn section(&mut self, section: Section, length: usize) {
        self.bytes(&section.id().to_le_bytes());
        // Metadata is for tools: a reader may skip it; everything else changes what the file means.
        let flags = if section == Section::Metadata { 0 } else { REQUIRED };
        self.bytes(&flags.to_le_bytes());
        self.u32(length as u32);
    }
}

/// Offsets and scales of a network's inputs, for the scaling section.
#[derive(Clone, Copy, Debug)]
pub struct Scaling<'a, T> {
    /// Subtracted from each input.
    pub offset: &'a [T],
    /// Then divides it.
    pub scale: &'a [T],
}

/// What a file holds besides the parameters.
pub struct Extras<'a, N: Network, O: Optimizer> {
    /// The training state and configuration: makes the file a checkpoint.
    pub training: Option<(&'a Persistent<N, O>, &'a TrainConfig<O>)>,
    /// The inputs' standardisation.
    pub scaling: Option<Scaling<'a, N::Scalar>>,
    /// Text for tools (see [`Section::Metadata`]).
    pub metadata: Option<&'a str>,
}

/// Writes `net` as a model file into `out`; returns the bytes written
/// ([`Network::MODEL_BYTES`]).
pub fn write_model<N: Network>(net: &N, out: &mut [u8]) -> Result<usize, FormatError> {
    write::<N, crate::optim::Sgd>(net, Extras { training: None, scaling: None, metadata: None }, out)
}

/// Writes `net`, its optimizer state and training position, and the
/// configuration as a checkpoint into `out`; returns the bytes written (at
/// most [`checkpoint_bytes`]).
pub fn write_checkpoint<N: Network, O: Optimizer>(
    net: &N,
    persistent: &Persistent<N, O>,
    config: &TrainConfig<O>,
    out: &mut [u8],
) -> Result<usize, FormatError> {
    write(net, Extras { training: Some((persistent, config)), scaling: None, metadata: None }, out)
}

/// Bytes [`write()`] will take for `net` with `extras`.
pub fn written_bytes<N: Network, O: Optimizer>(extras: &Extras<'_, N, O>) -> usize {
    let mut total = model_bytes::<N>();
    if let Some((_, config)) = extras.training {
        let record = config.optimizer.record();
        let trainable = trainable_parameters::<N>(config.frozen_layers as usize);
        total += SECTION_HEADER_BYTES
            + OPTIMIZER_FIXED_BYTES
            + 8 * record.hyperparameters().len()
            + config.optimizer.buffers_in_use() * trainable * size_of::<N::Scalar>();
        total += TRAINING_SECTION_BYTES;
        if !config.dropout.is_none() {
            total += dropout_section_bytes::<N>();
        }
    }
    if extras.scaling.is_some() {
        total += scaling_section_bytes::<N>();
    }
    if let Some(text) = extras.metadata {
        total += SECTION_HEADER_BYTES + text.len();
    }
    total
}

/// Parameters of the layers that train under `frozen_layers`, from the types alone.
fn trainable_parameters<N: Network>(frozen_layers: usize) -> usize {
    let mut count = 0;
    N::describe_layers(0, &mut |layer, record| {
        if !record.frozen && layer >= frozen_layers {
            count += record.parameters();
        }
    });
    count
}

/// Writes `net` with `extras` into `out`; returns the bytes written.
pub fn write<N: Network, O: Optimizer>(
    net: &N,
    extras: Extras<'_, N, O>,
    out: &mut [u8],
) -> Result<usize, FormatError> {
    let total = written_bytes(&extras);
    if out.len() < total {
        return Err(FormatError::BufferTooSmall { needed: total, found: out.len() });
    }
    if N::LAYERS > usize::from(u8::MAX) {
        return Err(FormatError::Malformed { reason: "more than 255 layers" });
    }
    if let Some((_, config)) = extras.training
        && config.frozen_layers as usize >= N::LAYERS
    {
        return Err(FormatError::InvalidConfig(Error::InvalidHyperparameter {
            name: crate::error::Hyperparameter::FrozenLayers,
            requirement: "fewer than the network's layers",
        }));
    }
    // One rate per hidden layer is stored: a rate for the output layer would be lost.
    if let Some((_, config)) = extras.training
        && (N::LAYERS - 1..crate::dropout::MAX_LAYERS).any(|l| config.dropout.rate(l) != 0.0)
    {
        return Err(FormatError::InvalidConfig(Error::InvalidHyperparameter {
            name: crate::error::Hyperparameter::Dropout,
            requirement: "0 beyond the network's hidden layers (the output layer never drops units)",
        }));
    }
    // Stored in 32 bits: a larger batch would come back as another number.
    if let Some((_, config)) = extras.training
        && u32::try_from(config.batch_size).is_err()
    {
        return Err(FormatError::InvalidConfig(Error::InvalidHyperparameter {
            name: crate::error::Hyperparameter::BatchSize,
            requirement: "at most 4294967295 to be stored in a checkpoint",
        }));
    }
    if let Some(scaling) = extras.scaling
        && (scaling.offset.len() != N::INPUTS || scaling.scale.len() != N::INPUTS)
    {
        return Err(FormatError::MalformedSection {
            section: Section::Scaling,
            reason: "it does not hold an offset and a scale for every input",
        });
    }
    let frozen_layers = extras.training.map_or(0, |(_, c)| c.frozen_layers as usize);
    let mut w = Writer { out, at: 0 };
    w.bytes(&MAGIC);
    w.bytes(&VERSION.to_le_bytes());
    w.bytes(&[N::Scalar::FORMAT_CODE, N::LAYERS as u8]);
    w.u32(total as u32);
    N::describe_layers(0, &mut |layer, record| {
        w.u32(record.inputs as u32);
        w.u32(record.outputs as u32);
        let frozen = record.frozen || layer < frozen_layers;
        w.bytes(&[record.activation.code(), if frozen { LAYER_FROZEN } else { 0 }, 0, 0]);
    });
    net.for_each_parameter(|_, values| values.iter().for_each(|&v| w.scalar(v)));
    if let Some((persistent, config)) = extras.training {
        let record = config.optimizer.record();
        let buffers = config.optimizer.buffers_in_use();
        let trainable = trainable_parameters::<N>(frozen_layers);
        let hyper = record.hyperparameters();
        w.section(
            Section::Optimizer,
            OPTIMIZER_FIXED_BYTES + 8 * hyper.len() + buffers * trainable * size_of::<N::Scalar>(),
        );
        w.bytes(&[record.kind.code(), hyper.len() as u8, buffers as u8, 0]);
        hyper.iter().for_each(|&v| w.f64(v));
        for buffer in persistent.optimizer.as_ref().iter().take(buffers) {
            for_each_state_slice::<N>(buffer, frozen_layers, |values| values.iter().for_each(|&v| w.scalar(v)));
        }
        w.section(Section::Training, TRAINING_PAYLOAD_BYTES);
        let c = config;
        w.u32(persistent.steps);
        w.u32(persistent.epoch);
        persistent.rng.state().iter().for_each(|&s| w.u32(s));
        w.u32(c.epochs);
        w.u32(u32::try_from(c.batch_size).unwrap_or(u32::MAX));
        w.u32(c.frozen_layers);
        w.u32(c.schedule.warmup);
        let (code, every, parameter) = match c.schedule.shape {
            Shape::Constant => (0, 0, 0.0),
            Shape::InverseTime { decay } => (1, 0, decay),
            Shape::Step { every, gamma } => (2, every, gamma),
            Shape::Exponential { gamma } => (3, 0, gamma),
            Shape::Cosine { min_lr } => (4, 0, min_lr),
        };
        w.bytes(&[code, 0, 0, 0]);
        w.u32(every);
        w.f64(c.schedule.lr);
        w.f64(parameter);
        w.f64(c.l2);
        w.f64(c.l1);
        w.f64(c.clip_norm);
        // Only when training drops units, so that other checkpoints stay as they were.
        if !c.dropout.is_none() {
            w.section(Section::Dropout, 8 * (N::LAYERS - 1));
            (0..N::LAYERS - 1).for_each(|l| w.f64(c.dropout.rate(l)));
        }
    }
    if let Some(scaling) = extras.scaling {
        w.section(Section::Scaling, 4 + 2 * N::INPUTS * size_of::<N::Scalar>());
        w.u32(N::INPUTS as u32);
        scaling.offset.iter().chain(scaling.scale).for_each(|&v| w.scalar(v));
    }
    if let Some(text) = extras.metadata {
        w.section(Section::Metadata, text.len());
        w.bytes(text.as_bytes());
    }
    let body_end = w.at;
    let crc = crc32(w.out.get(..body_end).unwrap_or(&[]));
    w.u32(crc);
    Ok(w.at)
}

/// Visits the slices of one state buffer that a checkpoint stores: those of
/// trainable layers not frozen by the configuration, in the walk's order.
fn for_each_state_slice<N: Network>(buffer: &N::Gradients, frozen_layers: usize, mut f: impl FnMut(&[N::Scalar])) {
    let mut slot = 0;
    N::describe_layers(0, &mut |layer, record| {
        if record.frozen {
            return;
        }
        for _ in 0..2 {
            if layer >= frozen_layers {
                f(buffer.slot(slot));
            }
            slot += 1;
        }
    });
}

fn for_each_state_slice_mut<N: Network>(
    buffer: &mut N::Gradients,
    frozen_layers: usize,
    mut f: impl FnMut(bool, &mut [N::Scalar]),
) {
    let mut slot = 0;
    N::describe_layers(0, &mut |layer, record| {
        if record.frozen {
            return;
        }
        for _ in 0..2 {
            f(layer >= frozen_layers, buffer.slot_mut(slot));
            slot += 1;
        }
    });
}

/// Checks that the file's layers are `N`'s: count, shapes, activations.
fn check_layers<N: Network>(model: &Model<'_>) -> Result<(), FormatError> {
    if model.scalar() != N::Scalar::FORMAT_CODE {
        return Err(FormatError::WrongScalar { expected: N::Scalar::FORMAT_CODE, found: model.scalar() });
    }
    if model.layer_count() != N::LAYERS {
        return Err(FormatError::LayerCount { expected: N::LAYERS, found: model.layer_count() });
    }
    let mut result = Ok(());
    N::describe_layers(0, &mut |layer, expected| {
        let Some(found) = model.layer(layer) else { return };
        if result.is_err() {
            return;
        }
        if (found.inputs, found.outputs) != (expected.inputs, expected.outputs) {
            result = Err(FormatError::Shape {
                layer,
                expected: (expected.inputs, expected.outputs),
                found: (found.inputs, found.outputs),
            });
        } else if found.activation != expected.activation {
            result = Err(FormatError::Activation { layer, expected: expected.activation, found: found.activation });
        }
    });
    result
}

/// Copies the file's parameters into `net`'s trainable layers; `Frozen`
/// layers (read-only) must already hold the file's values. Checks
/// everything before changing anything.
fn load_parameters<N: Network>(model: &Model<'_>, net: &mut N) -> Result<(), FormatError> {
    let mut result = Ok(());
    net.for_each_parameter(|slot, values| {
        if !slot.frozen || result.is_err() {
            return;
        }
        let stored = stored_part(model, slot.layer, slot.part);
        let same = stored.is_some_and(|s| {
            s.len() == values.len() && s.iter::<N::Scalar>().zip(values).all(|(a, &b)| same_bits(a, b))
        });
        if !same {
            result = Err(FormatError::FrozenValues { layer: slot.layer });
        }
    });
    result?;
    net.for_each_trainable_mut(|slot, _, values| {
        if let Some(stored) = stored_part(model, slot.layer, slot.part) {
            for (v, s) in values.iter_mut().zip(stored.iter::<N::Scalar>()) {
                *v = s;
            }
        }
    });
    Ok(())
}

fn stored_part<'a>(model: &Model<'a>, layer: usize, part: Part) -> Option<Values<'a>> {
    model.parameters(layer).map(|(w, b)| if part == Part::Weights { w } else { b })
}

fn same_bits<T: Float>(a: T, b: T) -> bool {
    let (mut x, mut y) = ([0u8; 8], [0u8; 8]);
    a.write_le(&mut x);
    b.write_le(&mut y);
    x == y
}

/// Reads a model file into `net`, whose type fixes the architecture: the
/// file must have its scalar type, layers, shapes and activations. Layers
/// that are [`Frozen`](crate::Frozen) in `net` are read-only; the file must
/// hold their values. On error `net` is unchanged. Returns the parsed file
/// (sections, scaling) for anything else the caller wants from it.
pub fn read_model<'a, N: Network>(bytes: &'a [u8], net: &mut N) -> Result<Model<'a>, FormatError> {
    let model = Model::parse(bytes)?;
    check_layers::<N>(&model)?;
    load_parameters(&model, net)?;
    Ok(model)
}

/// Reads a checkpoint into `net` and `persistent` and returns its training
/// configuration with the optimizer `O` it names. The file must be a
/// checkpoint of `N` trained with an `O`; layers frozen in the file must be
/// frozen in `net` (by type or by the configuration's `frozen_layers`). On
/// error nothing is changed.
pub fn read_checkpoint<N: Network, O: Optimizer>(
    bytes: &[u8],
    net: &mut N,
    persistent: &mut Persistent<N, O>,
) -> Result<TrainConfig<O>, FormatError> {
    let model = Model::parse(bytes)?;
    check_layers::<N>(&model)?;
    let (record, _) = model.optimizer().ok_or(FormatError::MissingSection { section: Section::Optimizer })?;
    let training = model.training().ok_or(FormatError::MissingSection { section: Section::Training })?;
    let optimizer =
        O::from_record(&record).ok_or(FormatError::OptimizerMismatch { expected: O::NAME, found: record.kind })?;
    let config = training.config.with_optimizer(optimizer);
    if config.frozen_layers as usize >= N::LAYERS {
        return Err(FormatError::InvalidConfig(Error::InvalidHyperparameter {
            name: crate::error::Hyperparameter::FrozenLayers,
            requirement: "fewer than the network's layers",
        }));
    }
    config.check::<N::Scalar>().map_err(FormatError::InvalidConfig)?;
    let mut frozen_ok = Ok(());
    N::describe_layers(0, &mut |layer, expected| {
        let frozen = expected.frozen || layer < config.frozen_layers as usize;
        if frozen_ok.is_ok() && model.layer(layer).is_some_and(|l| l.frozen != frozen) {
            frozen_ok = Err(FormatError::FrozenMismatch { layer, expected: frozen });
        }
    });
    frozen_ok?;
    let buffers = optimizer.buffers_in_use();
    if buffers > persistent.optimizer.as_ref().len() {
        return Err(FormatError::MalformedSection {
            section: Section::Optimizer,
            reason: "more buffers than the optimizer keeps",
        });
    }
    load_parameters(&model, net)?;
    let Some((_, states)) = model.optimizer() else {
        return Err(FormatError::MissingSection { section: Section::Optimizer });
    };
    let frozen_layers = config.frozen_layers as usize;
    for (buffer, values) in persistent.optimizer.as_mut().iter_mut().zip(states) {
        let mut at = 0;
        for_each_state_slice_mut::<N>(buffer, frozen_layers, |stored, slice| {
            if stored {
                for v in slice.iter_mut() {
                    *v = values.get::<N::Scalar>(at).unwrap_or(N::Scalar::ZERO);
                    at += 1;
                }
            } else {
                slice.fill(N::Scalar::ZERO);
            }
        });
    }
    for buffer in persistent.optimizer.as_mut().iter_mut().skip(buffers) {
        crate::buffer::Zeroed::set_zero(buffer);
    }
    persistent.steps = training.steps;
    persistent.epoch = training.epoch;
    persistent.rng = XorShift128::from_state(training.rng);
    Ok(config)
}
