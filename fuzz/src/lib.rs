//! What the `model_reader` fuzz target checks, and the valid files its
//! corpus starts from.
//!
//! [`check`] gives arbitrary bytes to every reader of `mlp_core::model`:
//! [`Model::parse`] and its accessors, `read_model` into three network types
//! (`f32`, `f64`, one with a `Frozen` layer) and `read_checkpoint` for six
//! (network, optimizer) pairs. None may panic; a refused read leaves the
//! network and state as they were; and whatever is accepted round-trips:
//! written again, it holds the same parameters and sections byte for byte,
//! and a file in the writer's own form comes back identical.

use mlp_core::activation::{Relu, Tanh};
use mlp_core::init::unit_interval;
use mlp_core::model::{self, Extras, Model, Scaling, Section};
use mlp_core::optim::{Adam, AdamW, Momentum, Optimizer, RmsProp, Sgd};
use mlp_core::schedule::{Schedule, Shape};
use mlp_core::{
    Chain, DefaultRng, Dense, Float, Frozen, Init, Network, Persistent, SeedableRng, Slots, TrainConfig, Zeroed, layers,
};

/// A small `f32` network.
pub type Small = layers![Dense<f32, 3, 4, Tanh>, Dense<f32, 4, 2>];
/// A small `f64` network.
pub type Small64 = layers![Dense<f64, 2, 3, Relu>, Dense<f64, 3, 2>];
/// [`Small`] with its first layer read-only, as firmware keeps one in flash.
pub type Tuned = layers![Frozen<'static, f32, 3, 4, Tanh>, Dense<f32, 4, 2>];

/// The read-only first layer of every [`Tuned`] network.
pub static FEATURES: Dense<f32, 3, 4, Tanh> = Dense::from_columns(
    [[0.5, -0.25, 0.0, 1.0], [0.125, 0.0, -1.0, 0.75], [0.0, 2.0, 0.5, -0.5]],
    [0.0, 0.1, -0.1, 0.0],
);

/// A [`Tuned`] network with a zero last layer.
pub fn tuned() -> Tuned {
    Chain { head: Frozen(&FEATURES), tail: Dense::zeroed() }
}

/// Bit 0 of a section's flags: required.
const REQUIRED: u16 = 1;

/// A checkpoint's schedule is checked epoch by epoch (`TrainConfig::check`
/// tests every epoch's rate), so reading one that plans 2^32 epochs takes
/// minutes: correct, but libFuzzer would stall on such inputs. Checkpoints
/// planning more epochs than this are only parsed.
pub const MAX_EPOCHS_READ: u32 = 1 << 16;

/// Runs every reader on `data`. Its first byte says how to take the rest:
/// odd, with the header's length field and the checksum rewritten to match
/// (so that mutations reach the checks behind the CRC); even, as it is.
pub fn check(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else { return };
    let mut bytes = rest.to_vec();
    if mode & 1 == 1 {
        reseal(&mut bytes);
    }
    read_every_way(&bytes);
}

/// Writes the file's length into its header and its CRC-32 into its last four bytes.
pub fn reseal(bytes: &mut [u8]) {
    let len = bytes.len();
    if len < 16 {
        return;
    }
    bytes[8..12].copy_from_slice(&(len as u32).to_le_bytes());
    let crc = model::crc32(&bytes[..len - 4]);
    bytes[len - 4..].copy_from_slice(&crc.to_le_bytes());
}

/// Every reader on `bytes`, with the checks of the module's documentation;
/// returns how many typed reads (models and checkpoints) accepted it.
pub fn read_every_way(bytes: &[u8]) -> usize {
    let parsed = Model::parse(bytes);
    if let Ok(model) = &parsed {
        inspect(model, bytes);
    }
    let models = [
        model_round_trip(bytes, Small::default),
        model_round_trip(bytes, Small64::default),
        model_round_trip(bytes, tuned),
    ];
    let accepted = models.iter().filter(|&&a| a).count();
    let planned = parsed.ok().and_then(|m| m.training()).map_or(0, |t| t.config.epochs);
    if planned > MAX_EPOCHS_READ {
        return accepted;
    }
    let checkpoints = [
        checkpoint_round_trip::<_, Sgd>(bytes, Small::default),
        checkpoint_round_trip::<_, Momentum>(bytes, Small::default),
        checkpoint_round_trip::<_, Adam>(bytes, Small::default),
        checkpoint_round_trip::<_, RmsProp>(bytes, Small64::default),
        checkpoint_round_trip::<_, AdamW>(bytes, Small64::default),
        checkpoint_round_trip::<_, Momentum>(bytes, tuned),
    ];
    accepted + checkpoints.iter().filter(|&&a| a).count()
}

/// Every accessor of a parsed file, and what they must agree on.
fn inspect(model: &Model<'_>, bytes: &[u8]) {
    assert_eq!(model.len(), bytes.len());
    assert_eq!(model.version(), model::VERSION);
    assert_eq!(model.checksum(), model::crc32(&bytes[..bytes.len() - 4]));
    assert!(!model.scalar_name().is_empty());
    let layers: Vec<_> = model.layers().collect();
    assert_eq!(layers.len(), model.layer_count());
    let mut values = 0;
    for (k, layer) in layers.iter().enumerate() {
        let (weights, biases) = model.parameters(k).expect("every layer's parameters");
        assert_eq!((weights.len(), biases.len()), (layer.inputs * layer.outputs, layer.outputs));
        assert_eq!((weights.first_non_finite(), biases.first_non_finite()), (None, None));
        assert_eq!(weights.iter::<f64>().count() + biases.iter::<f32>().count(), layer.parameters());
        values += layer.parameters();
    }
    assert_eq!(values, model.parameter_count());
    assert!(model.trainable_parameter_count() <= values);
    for section in Section::ALL {
        let _ = model.has(section);
    }
    if let Some((record, buffers)) = model.optimizer() {
        assert!(model.has(Section::Training));
        for buffer in buffers.take(record.kind.buffers()) {
            assert_eq!(buffer.len(), model.trainable_parameter_count());
            assert_eq!(buffer.first_non_finite(), None);
        }
    }
    let _ = model.training();
    if let Some((offset, scale)) = model.scaling() {
        assert_eq!(offset.len(), scale.len());
        assert!(scale.iter::<f64>().all(|s| s > 0.0 && s.is_finite()));
    }
    let _ = model.metadata();
}

/// Every parameter's bits (frozen layers included), widened exactly to `f64`.
fn parameter_bits<N: Network>(net: &N) -> Vec<u64> {
    let mut bits = Vec::new();
    net.for_each_parameter(|_, values| bits.extend(values.iter().map(|v| v.to_f64().to_bits())));
    bits
}

/// The optimizer buffers', counters' and generator's bits.
fn state_bits<N: Network, O: Optimizer>(p: &Persistent<N, O>) -> (Vec<u64>, u32, u32, [u32; 4]) {
    let mut bits = Vec::new();
    for buffer in p.optimizer.as_ref() {
        for slot in 0..<N::Gradients as Slots<N::Scalar>>::SLOTS {
            bits.extend(buffer.slot(slot).iter().map(|v| v.to_f64().to_bits()));
        }
    }
    (bits, p.steps, p.epoch, p.rng.state())
}

/// (identifier, flags, payload) of every section after the parameters of `N`
/// (in a file that was read as an `N`, so well formed).
fn sections<N: Network>(bytes: &[u8]) -> Vec<(u16, u16, &[u8])> {
    let mut found = Vec::new();
    let mut at = N::MODEL_BYTES - 4;
    while at + 4 < bytes.len() {
        let id = u16::from_le_bytes([bytes[at], bytes[at + 1]]);
        let flags = u16::from_le_bytes([bytes[at + 2], bytes[at + 3]]);
        let length = u32::from_le_bytes([bytes[at + 4], bytes[at + 5], bytes[at + 6], bytes[at + 7]]) as usize;
        found.push((id, flags, &bytes[at + 8..at + 8 + length]));
        at += 8 + length;
    }
    found
}

/// The header (but its length field), each layer's entry (but its flags) and the parameters.
fn assert_same_body<N: Network>(written: &[u8], read: &[u8]) {
    assert_eq!(written[..8], read[..8], "header");
    for layer in 0..N::LAYERS {
        let entry = 12 + 12 * layer;
        assert_eq!(written[entry..entry + 9], read[entry..entry + 9], "layer {layer}");
        assert_eq!(written[entry + 10..entry + 12], read[entry + 10..entry + 12], "layer {layer}");
    }
    let parameters = 12 + 12 * N::LAYERS..N::MODEL_BYTES - 4;
    assert_eq!(written[parameters.clone()], read[parameters], "parameters");
}

/// `read_model` into a fresh `N`: refused, nothing changed; accepted,
/// written back with the same body, identical for a file without sections
/// whose frozen flags are the type's, and read again to the same bits.
/// Returns whether it was accepted.
fn model_round_trip<N: Network>(bytes: &[u8], fresh: fn() -> N) -> bool {
    let mut net = fresh();
    let before = parameter_bits(&net);
    if model::read_model(bytes, &mut net).is_err() {
        assert_eq!(parameter_bits(&net), before, "a refused model changed the network");
        return false;
    }
    let mut again = vec![0u8; N::MODEL_BYTES];
    let written = model::write_model(&net, &mut again).expect("an accepted model is written back");
    assert_eq!(written, N::MODEL_BYTES);
    assert_same_body::<N>(&again, bytes);
    let flags_as_typed = (0..N::LAYERS).all(|layer| again[12 + 12 * layer + 9] == bytes[12 + 12 * layer + 9]);
    if bytes.len() == N::MODEL_BYTES && flags_as_typed {
        assert_eq!(again, bytes, "a plain model is written back as it was read");
    }
    let mut back = fresh();
    model::read_model(&again, &mut back).expect("a written model is read");
    assert_eq!(parameter_bits(&back), parameter_bits(&net));
    true
}

/// `read_checkpoint` into a fresh `N` and state: refused, nothing changed;
/// accepted, written back with the same body and the same optimizer and
/// training sections, identical for a file holding only those two (as the
/// writer orders and flags them), and read again to the same bits.
/// Returns whether it was accepted.
fn checkpoint_round_trip<N: Network, O: Optimizer>(bytes: &[u8], fresh: fn() -> N) -> bool {
    let (mut net, mut state) = (fresh(), Persistent::<N, O>::ZEROED);
    let before = (parameter_bits(&net), state_bits(&state));
    let config = match model::read_checkpoint(bytes, &mut net, &mut state) {
        Ok(config) => config,
        Err(_) => {
            assert_eq!((parameter_bits(&net), state_bits(&state)), before, "a refused checkpoint changed the state");
            return false;
        }
    };
    let mut again = vec![0u8; model::checkpoint_bytes::<N, O>()];
    let written =
        model::write_checkpoint(&net, &state, &config, &mut again).expect("an accepted checkpoint is written back");
    again.truncate(written);
    assert_same_body::<N>(&again, bytes);
    let (read, rewritten) = (sections::<N>(bytes), sections::<N>(&again));
    for &(id, _, payload) in &rewritten {
        let stored = read.iter().find(|s| s.0 == id).map(|s| s.2);
        assert_eq!(stored, Some(payload), "section {id} is written back as it was read");
    }
    let as_written = [(Section::Optimizer.id(), REQUIRED), (Section::Training.id(), REQUIRED)];
    if read.iter().map(|s| (s.0, s.1)).eq(as_written) {
        assert_eq!(again, bytes, "a checkpoint in the writer's form is written back as it was read");
    }
    let (mut net2, mut state2) = (fresh(), Persistent::<N, O>::ZEROED);
    let config2 = model::read_checkpoint(&again, &mut net2, &mut state2).expect("a written checkpoint is read");
    assert_eq!(format!("{config2:?}"), format!("{config:?}"));
    assert_eq!((parameter_bits(&net2), state_bits(&state2)), (parameter_bits(&net), state_bits(&state)));
    true
}

/// Fills every optimizer buffer with values in [−1, 1).
fn fill_state<N: Network, O: Optimizer>(state: &mut Persistent<N, O>, rng: &mut DefaultRng) {
    for buffer in state.optimizer.as_mut() {
        for slot in 0..<N::Gradients as Slots<N::Scalar>>::SLOTS {
            for v in buffer.slot_mut(slot) {
                *v = N::Scalar::from_f64(2.0 * unit_interval(rng) - 1.0);
            }
        }
    }
    (state.steps, state.epoch, state.rng) = (120, 3, DefaultRng::from_state([7, 11, 13, 17]));
}

fn config<O>(optimizer: O, shape: Shape, frozen_layers: u32) -> TrainConfig<O> {
    TrainConfig {
        epochs: 8,
        batch_size: 4,
        optimizer,
        schedule: Schedule { lr: 0.05, shape, warmup: 2 },
        l2: 1e-3,
        l1: 1e-4,
        clip_norm: 1.5,
        frozen_layers,
        dropout: mlp_core::dropout::Dropout::NONE,
    }
}

fn checkpoint<N: Network, O: Optimizer>(net: &N, config: &TrainConfig<O>, rng: &mut DefaultRng) -> Vec<u8> {
    let mut state = Persistent::<N, O>::ZEROED;
    fill_state(&mut state, rng);
    let mut bytes = vec![0u8; model::checkpoint_bytes::<N, O>()];
    let written = model::write_checkpoint(net, &state, config, &mut bytes).expect("a seed checkpoint");
    bytes.truncate(written);
    bytes
}

fn plain<N: Network>(net: &N) -> Vec<u8> {
    let mut bytes = vec![0u8; N::MODEL_BYTES];
    model::write_model(net, &mut bytes).expect("a seed model");
    bytes
}

/// Valid files for each network type: models, checkpoints of every
/// optimizer the target reads with, every schedule shape, a frozen layer,
/// and a file with scaling and metadata sections.
pub fn seeds() -> Vec<(&'static str, Vec<u8>)> {
    let mut rng = DefaultRng::seed_from_u64(2024);
    let mut small = Small::default();
    small.initialize(Init::GlorotUniform, &mut rng).expect("initialised");
    let mut small64 = Small64::default();
    small64.initialize(Init::HeUniform, &mut rng).expect("initialised");
    let mut tuned = tuned();
    tuned.initialize(Init::GlorotUniform, &mut rng).expect("initialised");

    let (offset, scale) = ([0.5f32, -1.0, 0.0], [2.0f32, 0.25, 1.0]);
    let mut state = Persistent::<Small, Adam>::ZEROED;
    fill_state(&mut state, &mut rng);
    let adam = config(Adam::DEFAULT, Shape::Cosine { min_lr: 0.001 }, 0);
    let extras = Extras {
        training: Some((&state, &adam)),
        scaling: Some(Scaling { offset: &offset, scale: &scale }),
        metadata: Some("dataset=digits\nseed=0\ntest_fraction=0.2\n"),
    };
    let mut everything = vec![0u8; 4096];
    let written = model::write(&small, extras, &mut everything).expect("a seed with every section");
    everything.truncate(written);

    vec![
        ("small", plain(&small)),
        ("small64", plain(&small64)),
        ("tuned", plain(&tuned)),
        ("small-sgd-step", checkpoint(&small, &config(Sgd, Shape::Step { every: 3, gamma: 0.5 }, 0), &mut rng)),
        ("small-momentum-constant", checkpoint(&small, &config(Momentum::DEFAULT, Shape::Constant, 1), &mut rng)),
        ("small-adam-cosine", checkpoint(&small, &adam, &mut rng)),
        (
            "small64-rmsprop-exp",
            checkpoint(&small64, &config(RmsProp::DEFAULT, Shape::Exponential { gamma: 0.9 }, 0), &mut rng),
        ),
        (
            "small64-adamw-inverse",
            checkpoint(&small64, &config(AdamW::DEFAULT, Shape::InverseTime { decay: 0.1 }, 1), &mut rng),
        ),
        ("tuned-momentum", checkpoint(&tuned, &config(Momentum::DEFAULT, Shape::Constant, 0), &mut rng)),
        ("small-every-section", everything),
    ]
}
