//! The model file under random and hostile input.
//!
//! - Round trips (a property test): random networks of several shapes, `f32`
//!   and `f64`, one with a `Frozen` layer; every optimizer with random state
//!   values; random counters, generator state and configurations (every
//!   schedule shape, penalties, `frozen_layers`). What comes back is the same
//!   bits, and writing it again gives the same bytes.
//! - Every truncation and every single-bit flip of a small model and a small
//!   checkpoint is refused (never accepted, never a panic), and leaves the
//!   network and state it was read into as they were.
//! - Each way a file can be wrong is refused with its own error.

mod common;

use host_cli::optim::AnyOptimizer;
use mlp_core::activation::{ActivationKind, LeakyRelu, Relu, Sigmoid, Tanh};
use mlp_core::model::{self, Extras, FormatError, Model, Scaling, Section};
use mlp_core::optim::{Adagrad, Adam, AdamW, Momentum, Nesterov, Optimizer, OptimizerKind, RmsProp, Sgd};
use mlp_core::schedule::{Schedule, Shape};
use mlp_core::{
    Chain, DefaultRng, Dense, Error, Float, Frozen, Hyperparameter, Network, Part, Persistent, Rng, SeedableRng, Slots,
    TrainConfig, Zeroed, layers,
};
use proptest::prelude::*;
use proptest::strategy::ValueTree;

type Small = layers![Dense<f32, 3, 4, Tanh>, Dense<f32, 4, 2>];
type Deep64 = layers![Dense<f64, 2, 3, Relu>, Dense<f64, 3, 3, Sigmoid>, Dense<f64, 3, 2>];
type Single64 = Dense<f64, 2, 3>;
type WithFrozen<'a> = layers![Frozen<'a, f32, 3, 4, LeakyRelu>, Dense<f32, 4, 3, Relu>, Dense<f32, 3, 2>];

// ---------------------------------------------------------------------------
// Random values and byte surgery

/// A random finite value: any bit pattern (subnormals included), with the
/// exponent's top bit cleared when it would be NaN or infinite; one in
/// sixteen each is +0, −0 or the smallest subnormal.
fn random_value<T: Float>(rng: &mut DefaultRng) -> T {
    let mut bytes = rng.next_u64().to_le_bytes();
    match rng.next_u32() % 16 {
        0 => bytes = [0; 8],
        1 => {
            bytes = [0; 8];
            bytes[T::BYTES - 1] = 0x80;
        }
        2 => bytes = [1, 0, 0, 0, 0, 0, 0, 0],
        _ => {}
    }
    if !T::read_le(&bytes).is_some_and(T::is_finite) {
        bytes[T::BYTES - 1] &= !0x40;
    }
    T::read_le(&bytes).unwrap_or(T::ZERO)
}

fn fill<T: Float>(values: &mut [T], rng: &mut DefaultRng) {
    values.iter_mut().for_each(|v| *v = random_value(rng));
}

fn fill_network<N: Network>(net: &mut N, rng: &mut DefaultRng) {
    net.for_each_trainable_mut(|_, _, values| fill(values, rng));
}

/// Every parameter's bits (frozen layers included), widened exactly to `f64`.
fn parameter_bits<N: Network>(net: &N) -> Vec<u64> {
    let mut bits = Vec::new();
    net.for_each_parameter(|_, values| bits.extend(values.iter().map(|v| v.to_f64().to_bits())));
    bits
}

/// Every optimizer-state value's bits, buffer after buffer.
fn state_bits<N: Network, O: Optimizer>(persistent: &Persistent<N, O>) -> Vec<u64> {
    let slots = <N::Gradients as Slots<N::Scalar>>::SLOTS;
    let mut bits = Vec::new();
    for buffer in persistent.optimizer.as_ref() {
        for slot in 0..slots {
            bits.extend(buffer.slot(slot).iter().map(|v| v.to_f64().to_bits()));
        }
    }
    bits
}

/// Everything a checkpoint restores into the state, as bits.
fn persistent_bits<N: Network, O: Optimizer>(p: &Persistent<N, O>) -> (Vec<u64>, u32, u32, [u32; 4]) {
    (state_bits(p), p.steps, p.epoch, p.rng.state())
}

/// Stores the CRC-32 of everything before the last four bytes in them.
fn recrc(bytes: &mut [u8]) {
    let end = bytes.len() - 4;
    let crc = model::crc32(&bytes[..end]);
    bytes[end..].copy_from_slice(&crc.to_le_bytes());
}

/// Writes the file's length into its header, then its CRC.
fn reseal(bytes: &mut [u8]) {
    let total = bytes.len() as u32;
    bytes[8..12].copy_from_slice(&total.to_le_bytes());
    recrc(bytes);
}

/// `bytes` with a section inserted before the checksum, length and CRC updated.
fn with_section(bytes: &[u8], id: u16, flags: u16, payload: &[u8]) -> Vec<u8> {
    let end = bytes.len() - 4;
    let mut out = bytes[..end].to_vec();
    out.extend_from_slice(&id.to_le_bytes());
    out.extend_from_slice(&flags.to_le_bytes());
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(payload);
    out.extend_from_slice(&[0; 4]);
    reseal(&mut out);
    out
}

/// (offset of the header, id, payload) of every section after the parameters of `N`.
fn sections<N: Network>(bytes: &[u8]) -> Vec<(usize, u16, Vec<u8>)> {
    let mut at = N::MODEL_BYTES - 4;
    let mut found = Vec::new();
    while at + 4 < bytes.len() {
        let id = u16::from_le_bytes([bytes[at], bytes[at + 1]]);
        let length = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().unwrap()) as usize;
        found.push((at, id, bytes[at + 8..at + 8 + length].to_vec()));
        at += 8 + length;
    }
    found
}

// ---------------------------------------------------------------------------
// Round trips

/// One random case: the optimizer, everything in the configuration but the
/// optimizer, the counters and generator state, and a seed for the values.
#[derive(Clone, Debug)]
struct Case {
    seed: u64,
    optimizer: AnyOptimizer,
    config: TrainConfig<()>,
    steps: u32,
    epoch: u32,
    rng: [u32; 4],
}

fn optimizer() -> impl Strategy<Value = AnyOptimizer> {
    let mu = 0.01..0.99f64;
    let eps = 1e-10..1e-3f64;
    let beta = 0.0..0.999f64;
    prop_oneof![
        Just(AnyOptimizer::Sgd(Sgd)),
        mu.clone().prop_map(|momentum| AnyOptimizer::Momentum(Momentum { momentum })),
        mu.clone().prop_map(|momentum| AnyOptimizer::Nesterov(Nesterov { momentum })),
        eps.clone().prop_map(|eps| AnyOptimizer::Adagrad(Adagrad { eps })),
        (mu, eps.clone()).prop_map(|(rho, eps)| AnyOptimizer::RmsProp(RmsProp { rho, eps })),
        (beta.clone(), beta.clone(), eps.clone()).prop_map(|(beta1, beta2, eps)| AnyOptimizer::Adam(Adam {
            beta1,
            beta2,
            eps
        })),
        (beta.clone(), beta, eps, 0.0..0.1f64).prop_map(|(beta1, beta2, eps, weight_decay)| {
            AnyOptimizer::AdamW(AdamW { beta1, beta2, eps, weight_decay })
        }),
    ]
}

/// Every shape, with parameters that mostly pass the schedule's checks over
/// the case's epochs (those that do not test the refusal instead).
fn schedule() -> impl Strategy<Value = Schedule> {
    (1e-3..1.0f64, 0u32..8, 0u8..5, 0.0..1.0f64, 1u32..40).prop_map(|(lr, warmup, shape, p, every)| {
        let shape = match shape {
            0 => Shape::Constant,
            1 => Shape::InverseTime { decay: p },
            2 => Shape::Step { every, gamma: 0.1 + 0.9 * p },
            3 => Shape::Exponential { gamma: 0.6 + 0.4 * p },
            _ => Shape::Cosine { min_lr: lr * p * 0.9 },
        };
        Schedule { lr, shape, warmup }
    })
}

/// A penalty or clip norm: zero, negative zero (a valid "none" with other bits) or positive.
fn penalty() -> impl Strategy<Value = f64> {
    prop_oneof![Just(0.0), Just(-0.0), 1e-9..10.0f64]
}

fn case() -> impl Strategy<Value = Case> {
    let config = (1u32..60, 1usize..100_000, schedule(), penalty(), penalty(), penalty(), 0u32..3).prop_map(
        |(epochs, batch_size, schedule, l2, l1, clip_norm, frozen_layers)| TrainConfig {
            epochs,
            batch_size,
            optimizer: (),
            schedule,
            l2,
            l1,
            clip_norm,
            frozen_layers,
            dropout: mlp_core::dropout::Dropout::NONE,
        },
    );
    (any::<u64>(), optimizer(), config, any::<u32>(), any::<u32>(), any::<[u32; 4]>())
        .prop_map(|(seed, optimizer, config, steps, epoch, rng)| Case { seed, optimizer, config, steps, epoch, rng })
}

/// The model's length is `MODEL_BYTES`, and reading it gives the same bits.
fn assert_model_round_trip<N: Network>(net: &N, fresh: &impl Fn() -> N) {
    let mut file = vec![0u8; N::MODEL_BYTES + 8];
    let written = model::write_model(net, &mut file).unwrap();
    assert_eq!(written, N::MODEL_BYTES);
    file.truncate(written);
    let mut back = fresh();
    let parsed = model::read_model(&file, &mut back).unwrap();
    assert_eq!((parsed.len(), parsed.layer_count()), (N::MODEL_BYTES, N::LAYERS));
    assert_eq!(parameter_bits(&back), parameter_bits(net));
    let mut again = vec![0u8; N::MODEL_BYTES];
    model::write_model(&back, &mut again).unwrap();
    assert_eq!(again, file);
}

/// Parameters of the layers whose optimizer state a checkpoint keeps.
fn stored_parameters<N: Network>(frozen_layers: usize) -> usize {
    let mut count = 0;
    N::describe_layers(0, &mut |layer, record| {
        if !record.frozen && layer >= frozen_layers {
            count += record.parameters();
        }
    });
    count
}

/// The state a checkpoint restores, as bits: the buffers the rule uses,
/// with the slices of layers frozen by the configuration zeroed (they are
/// not stored), and every other buffer zeroed.
fn kept_state_bits<N: Network, O: Optimizer>(persistent: &Persistent<N, O>, config: &TrainConfig<O>) -> Vec<u64> {
    let mut layer_of_slot = Vec::new();
    N::describe_layers(0, &mut |layer, record| {
        if !record.frozen {
            layer_of_slot.extend([layer, layer]);
        }
    });
    let in_use = config.optimizer.buffers_in_use();
    let mut bits = Vec::new();
    for (b, buffer) in persistent.optimizer.as_ref().iter().enumerate() {
        for (slot, &layer) in layer_of_slot.iter().enumerate() {
            let kept = b < in_use && layer >= config.frozen_layers as usize;
            bits.extend(buffer.slot(slot).iter().map(|v| if kept { v.to_f64().to_bits() } else { 0 }));
        }
    }
    bits
}

/// A checkpoint of `net` with `optimizer` and the case's state and
/// configuration: its length is what the format says, and reading it gives
/// the same bits and configuration (or, for a configuration the network's
/// scalar refuses, `InvalidConfig`).
fn assert_checkpoint_round_trip<N: Network, O: Optimizer>(
    case: &Case,
    optimizer: O,
    net: &N,
    fresh: &impl Fn() -> N,
    rng: &mut DefaultRng,
) {
    let c = case.config;
    let config = TrainConfig {
        epochs: c.epochs,
        batch_size: c.batch_size,
        optimizer,
        schedule: c.schedule,
        l2: c.l2,
        l1: c.l1,
        clip_norm: c.clip_norm,
        frozen_layers: c.frozen_layers % N::LAYERS as u32,
        dropout: mlp_core::dropout::Dropout::NONE,
    };
    let mut persistent = Persistent::<N, O>::ZEROED;
    let slots = <N::Gradients as Slots<N::Scalar>>::SLOTS;
    for buffer in persistent.optimizer.as_mut() {
        (0..slots).for_each(|slot| fill(buffer.slot_mut(slot), rng));
    }
    persistent.steps = case.steps;
    persistent.epoch = case.epoch;
    persistent.rng = DefaultRng::from_state(case.rng);

    let capacity = model::checkpoint_bytes::<N, O>();
    let mut file = vec![0u8; capacity];
    let written = model::write_checkpoint(net, &persistent, &config, &mut file).unwrap();
    let size = size_of::<N::Scalar>();
    let hyperparameters = config.optimizer.record().hyperparameters().len();
    let stored = config.optimizer.buffers_in_use() * stored_parameters::<N>(config.frozen_layers as usize);
    let expected = N::MODEL_BYTES + 8 + 4 + 8 * hyperparameters + stored * size + model::TRAINING_SECTION_BYTES;
    assert_eq!(written, expected, "{config:?}");
    if config.frozen_layers == 0 && O::NAME != AnyOptimizer::NAME {
        assert_eq!(written, capacity, "checkpoint_bytes is exact for {}", O::NAME);
    }
    file.truncate(written);

    let mut back = fresh();
    let mut restored = Persistent::<N, O>::ZEROED;
    let result = model::read_checkpoint(&file, &mut back, &mut restored);
    if let Err(e) = config.check::<N::Scalar>() {
        assert_eq!(result, Err(FormatError::InvalidConfig(e)), "{config:?}");
        return;
    }
    let read = result.unwrap_or_else(|e| panic!("{e} for {config:?}"));
    assert_eq!(read, config);
    // `==` takes 0 for −0; the debug form tells them apart.
    assert_eq!(format!("{read:?}"), format!("{config:?}"));
    assert_eq!(parameter_bits(&back), parameter_bits(net));
    let kept = kept_state_bits(&persistent, &config);
    assert_eq!(persistent_bits(&restored), (kept, case.steps, case.epoch, case.rng));

    let mut again = vec![0u8; capacity];
    let rewritten = model::write_checkpoint(&back, &restored, &read, &mut again).unwrap();
    assert_eq!(&again[..rewritten], &file[..]);
}

/// Both round trips for `net`, with the case's optimizer as its own type and as `AnyOptimizer`.
fn assert_round_trips<N: Network>(case: &Case, net: &N, fresh: impl Fn() -> N, rng: &mut DefaultRng) {
    assert_model_round_trip(net, &fresh);
    match case.optimizer {
        AnyOptimizer::Sgd(o) => assert_checkpoint_round_trip(case, o, net, &fresh, rng),
        AnyOptimizer::Momentum(o) => assert_checkpoint_round_trip(case, o, net, &fresh, rng),
        AnyOptimizer::Nesterov(o) => assert_checkpoint_round_trip(case, o, net, &fresh, rng),
        AnyOptimizer::Adagrad(o) => assert_checkpoint_round_trip(case, o, net, &fresh, rng),
        AnyOptimizer::RmsProp(o) => assert_checkpoint_round_trip(case, o, net, &fresh, rng),
        AnyOptimizer::Adam(o) => assert_checkpoint_round_trip(case, o, net, &fresh, rng),
        AnyOptimizer::AdamW(o) => assert_checkpoint_round_trip(case, o, net, &fresh, rng),
    }
    assert_checkpoint_round_trip(case, case.optimizer, net, &fresh, rng);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn models_and_checkpoints_round_trip_bit_for_bit(case in case()) {
        let mut rng = DefaultRng::seed_from_u64(case.seed);

        let mut small = Small::default();
        fill_network(&mut small, &mut rng);
        assert_round_trips(&case, &small, Small::default, &mut rng);

        let mut deep = Deep64::default();
        fill_network(&mut deep, &mut rng);
        assert_round_trips(&case, &deep, Deep64::default, &mut rng);

        let mut single = Single64::default();
        fill_network(&mut single, &mut rng);
        assert_round_trips(&case, &single, Single64::default, &mut rng);

        // The frozen layer's values are fixed in the type's borrowed layer;
        // a network it is read into must borrow the same values.
        let mut features = Dense::<f32, 3, 4, LeakyRelu>::default();
        fill_network(&mut features, &mut rng);
        let fresh = || -> WithFrozen<'_> { Chain::new(Frozen(&features), Default::default()) };
        let mut tuned = fresh();
        fill_network(&mut tuned, &mut rng);
        assert_round_trips(&case, &tuned, fresh, &mut rng);
    }
}

#[test]
fn every_optimizer_kind_is_generated() {
    // The property above covers every rule only if the strategy makes them all.
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let mut seen = std::collections::HashSet::new();
    for _ in 0..500 {
        seen.insert(optimizer().new_tree(&mut runner).unwrap().current().record().kind);
    }
    assert_eq!(seen.len(), 7, "{seen:?}");
}

// ---------------------------------------------------------------------------
// Small files to break

fn small_network() -> Small {
    let mut net = Small::default();
    fill_network(&mut net, &mut DefaultRng::seed_from_u64(7));
    net
}

fn small_model() -> Vec<u8> {
    let mut file = vec![0u8; Small::MODEL_BYTES];
    model::write_model(&small_network(), &mut file).unwrap();
    file
}

fn adam_config() -> TrainConfig<Adam> {
    TrainConfig {
        epochs: 5,
        batch_size: 8,
        optimizer: Adam::DEFAULT,
        schedule: Schedule { lr: 0.01, shape: Shape::Cosine { min_lr: 0.001 }, warmup: 1 },
        l2: 1e-3,
        l1: 0.0,
        clip_norm: 1.0,
        frozen_layers: 0,
        dropout: mlp_core::dropout::Dropout::NONE,
    }
}

fn adam_state() -> Persistent<Small, Adam> {
    let mut state = Persistent::<Small, Adam>::ZEROED;
    let mut rng = DefaultRng::seed_from_u64(8);
    for buffer in state.optimizer.as_mut() {
        (0..4).for_each(|slot| fill(buffer.slot_mut(slot), &mut rng));
    }
    (state.steps, state.epoch, state.rng) = (40, 2, DefaultRng::from_state([1, 2, 3, 4]));
    state
}

fn small_checkpoint() -> Vec<u8> {
    let mut file = vec![0u8; model::checkpoint_bytes::<Small, Adam>()];
    let n = model::write_checkpoint(&small_network(), &adam_state(), &adam_config(), &mut file).unwrap();
    file.truncate(n);
    file
}

/// A checkpoint with scaling and metadata sections too: every section there is.
fn small_checkpoint_with_scaling() -> Vec<u8> {
    let (offset, scale) = ([0.5f32, -1.0, 0.0], [2.0f32, 0.25, 1.0]);
    let extras = Extras {
        training: Some((&adam_state(), &adam_config())),
        scaling: Some(Scaling { offset: &offset, scale: &scale }),
        metadata: Some("dataset=digits\nseed=0\n"),
    };
    let mut file = vec![0u8; 1024];
    let n = model::write(&small_network(), extras, &mut file).unwrap();
    file.truncate(n);
    file
}

/// Reads `bytes` every way (parsed view, model, checkpoint) into networks and
/// a state holding sentinel values; returns the errors and checks that a
/// refused read left the network and state as they were.
fn read_every_way(bytes: &[u8]) -> [Result<(), FormatError>; 3] {
    let sentinel = small_network();
    let mut net = sentinel.clone();
    let mut state = adam_state();
    let before = (parameter_bits(&net), persistent_bits(&state));
    let parsed = Model::parse(bytes).map(|_| ());
    let model = model::read_model(bytes, &mut net).map(|_| ());
    if model.is_err() {
        assert_eq!(parameter_bits(&net), before.0, "a refused model changed the network");
    }
    let mut net = sentinel;
    let checkpoint = model::read_checkpoint(bytes, &mut net, &mut state).map(|_| ());
    if checkpoint.is_err() {
        assert_eq!((parameter_bits(&net), persistent_bits(&state)), before, "a refused checkpoint changed the state");
    }
    [parsed, model, checkpoint]
}

#[test]
fn the_unbroken_files_are_read() {
    assert_eq!(read_every_way(&small_model())[..2], [Ok(()), Ok(())]);
    for file in [small_checkpoint(), small_checkpoint_with_scaling()] {
        assert_eq!(read_every_way(&file), [Ok(()), Ok(()), Ok(())]);
    }
    let file = small_checkpoint_with_scaling();
    let scaling = Model::parse(&file).unwrap().scaling().unwrap();
    assert_eq!(scaling.0.iter::<f32>().collect::<Vec<_>>(), [0.5, -1.0, 0.0]);
    assert_eq!(scaling.1.iter::<f32>().collect::<Vec<_>>(), [2.0, 0.25, 1.0]);
}

#[test]
fn every_truncation_is_refused() {
    for file in [small_model(), small_checkpoint(), small_checkpoint_with_scaling()] {
        for end in 0..file.len() {
            let results = read_every_way(&file[..end]);
            for result in results {
                let error = result.expect_err(&format!("{end} of {} bytes accepted", file.len()));
                // An empty or short prefix of the magic is a truncated file; anything else says by how much.
                let expected = FormatError::Truncated { needed: if end < 12 { 12 } else { file.len() }, found: end };
                assert_eq!(error, expected, "{end} of {} bytes", file.len());
            }
        }
        // And one byte too many.
        let mut longer = file.clone();
        longer.push(0);
        assert_eq!(read_every_way(&longer), [Err(FormatError::TrailingBytes { extra: 1 }); 3]);
    }
}

#[test]
fn every_single_bit_flip_is_refused() {
    for file in [small_model(), small_checkpoint(), small_checkpoint_with_scaling()] {
        for bit in 0..file.len() * 8 {
            let mut flipped = file.clone();
            flipped[bit / 8] ^= 1 << (bit % 8);
            for result in read_every_way(&flipped) {
                let error = result.expect_err(&format!("bit {bit} of {} bytes flipped and accepted", file.len()));
                // The header is checked before the checksum; the CRC-32 catches every other flip.
                let expected = match bit / 8 {
                    0..4 => matches!(error, FormatError::BadMagic),
                    4..6 => matches!(error, FormatError::UnsupportedVersion { supported: 1, .. }),
                    8..12 => matches!(error, FormatError::Truncated { .. } | FormatError::TrailingBytes { .. }),
                    _ => matches!(error, FormatError::ChecksumMismatch { .. }),
                };
                assert!(expected, "bit {bit}: {error:?}");
            }
        }
    }
}

/// Bits of the epoch count in the training section that are left alone by
/// the test below: the schedule is checked epoch by epoch, so a count of
/// 2^31 takes minutes to refuse or accept. 2^20 epochs is a fraction of a second.
const SLOW_EPOCH_BITS: std::ops::Range<usize> = 20..32;

#[test]
fn every_single_bit_flip_with_a_valid_checksum_is_refused_or_written_back_as_read() {
    // Past the checksum: a flip with the CRC recomputed reaches the layer
    // table, the sections and the values. Nothing may panic, and what is
    // accepted is what the writer makes of the values read: the same bytes,
    // except a flip of a known section's "required" flag, which the writer
    // sets as it always does, and of the metadata's identifier.
    let file = small_checkpoint_with_scaling();
    let found = sections::<Small>(&file);
    let flag_bytes: Vec<usize> = found.iter().flat_map(|&(at, _, _)| [at + 2, at + 3]).collect();
    let epochs_at = found[1].0 + 8 + 24;
    // A flipped identifier makes the optional metadata an unknown optional
    // section: skipped when read, so not written back.
    let (metadata_at, _, _) = *found.iter().find(|s| s.1 == Section::Metadata.id()).unwrap();
    let mut without_metadata = file[..metadata_at].to_vec();
    without_metadata.extend_from_slice(&[0; 4]);
    reseal(&mut without_metadata);
    let (mut accepted, mut refused) = (0, 0);
    for bit in 0..(file.len() - 4) * 8 {
        let byte = bit / 8;
        if (epochs_at..epochs_at + 4).contains(&byte) && SLOW_EPOCH_BITS.contains(&((byte - epochs_at) * 8 + bit % 8)) {
            continue;
        }
        let mut flipped = file.clone();
        flipped[byte] ^= 1 << (bit % 8);
        recrc(&mut flipped);
        let [_, _, checkpoint] = read_every_way(&flipped);
        if checkpoint.is_err() {
            refused += 1;
            continue;
        }
        accepted += 1;
        let (mut net, mut state) = (Small::default(), Persistent::<Small, Adam>::ZEROED);
        let config = model::read_checkpoint(&flipped, &mut net, &mut state).unwrap();
        let (offset, scale) = Model::parse(&flipped).unwrap().scaling().unwrap();
        let (offset, scale): (Vec<f32>, Vec<f32>) = (offset.iter().collect(), scale.iter().collect());
        let metadata = Model::parse(&flipped).unwrap().metadata();
        let extras = Extras {
            training: Some((&state, &config)),
            scaling: Some(Scaling { offset: &offset, scale: &scale }),
            metadata,
        };
        let mut again = vec![0u8; 1024];
        let n = model::write(&net, extras, &mut again).unwrap();
        let expected = if flag_bytes.contains(&byte) {
            &file
        } else if (metadata_at..metadata_at + 2).contains(&byte) {
            &without_metadata
        } else {
            &flipped
        };
        assert_eq!(&again[..n], &expected[..], "bit {bit} (byte {byte}) flipped: accepted, written back otherwise");
    }
    // Flipped parameters and state that stay finite are data, not damage;
    // flipped sizes, codes and reserved bytes are refused.
    assert!(accepted > 1000 && refused > 100, "{accepted} accepted, {refused} refused");

    // The same for a model: a flipped frozen flag is accepted (a model does
    // not say how it was trained) and written back as the network's type says.
    let file = small_model();
    for bit in 0..(file.len() - 4) * 8 {
        let byte = bit / 8;
        let mut flipped = file.clone();
        flipped[byte] ^= 1 << (bit % 8);
        recrc(&mut flipped);
        let mut net = Small::default();
        if model::read_model(&flipped, &mut net).is_ok() {
            let mut again = vec![0u8; Small::MODEL_BYTES];
            model::write_model(&net, &mut again).unwrap();
            let frozen_flag = (12..36).contains(&byte) && (byte - 12) % 12 == 9 && bit % 8 == 0;
            let expected = if frozen_flag { &file } else { &flipped };
            assert_eq!(&again, expected, "bit {bit} (byte {byte}) flipped: accepted, written back otherwise");
        }
    }
}

// ---------------------------------------------------------------------------
// Each error

#[test]
fn bad_magic() {
    let mut file = small_model();
    file[..4].copy_from_slice(b"PK\x03\x04");
    assert_eq!(Model::parse(&file).unwrap_err(), FormatError::BadMagic);
    assert_eq!(Model::parse(b"MX").unwrap_err(), FormatError::BadMagic);
    assert_eq!(Model::parse(b"{\"weights\": []}").unwrap_err(), FormatError::BadMagic);
    // A prefix of the magic is a truncated model file, not another format.
    assert_eq!(Model::parse(b"ML").unwrap_err(), FormatError::Truncated { needed: 12, found: 2 });
    assert_eq!(Model::parse(b"").unwrap_err(), FormatError::Truncated { needed: 12, found: 0 });
    assert!(FormatError::BadMagic.to_string().contains("not a model file"));
}

#[test]
fn unsupported_version() {
    let mut file = small_model();
    file[4..6].copy_from_slice(&2u16.to_le_bytes());
    recrc(&mut file);
    let error = Model::parse(&file).unwrap_err();
    assert_eq!(error, FormatError::UnsupportedVersion { found: 2, supported: 1 });
    assert_eq!(error.to_string(), "model format version 2 is not supported (this build reads version 1)");
}

#[test]
fn wrong_scalar() {
    type Small64 = layers![Dense<f64, 3, 4, Tanh>, Dense<f64, 4, 2>];
    let mut file = vec![0u8; Small64::MODEL_BYTES];
    model::write_model(&Small64::default(), &mut file).unwrap();
    let error = model::read_model(&file, &mut Small::default()).unwrap_err();
    assert_eq!(error, FormatError::WrongScalar { expected: 1, found: 2 });
    assert_eq!(error.to_string(), "the model stores f64 values but the network computes in f32");
    // An unknown scalar code, with a valid checksum.
    let mut file = small_model();
    file[6] = 3;
    recrc(&mut file);
    assert_eq!(Model::parse(&file).unwrap_err(), FormatError::Malformed { reason: "unknown scalar type" });
}

#[test]
fn layer_count_mismatch() {
    type Three = layers![Dense<f32, 3, 4, Tanh>, Dense<f32, 4, 4, Tanh>, Dense<f32, 4, 2>];
    let mut file = vec![0u8; Three::MODEL_BYTES];
    model::write_model(&Three::default(), &mut file).unwrap();
    let error = model::read_model(&file, &mut Small::default()).unwrap_err();
    assert_eq!(error, FormatError::LayerCount { expected: 2, found: 3 });
    assert_eq!(error.to_string(), "the model has 3 layers but the network has 2");
}

#[test]
fn shape_mismatch_names_the_layer() {
    type Wider = layers![Dense<f32, 3, 4, Tanh>, Dense<f32, 4, 3>];
    let error = model::read_model(&small_model(), &mut Wider::default()).unwrap_err();
    assert_eq!(error, FormatError::Shape { layer: 1, expected: (4, 3), found: (4, 2) });
    assert_eq!(error.to_string(), "layer 1 is 4→2 in the model but 4→3 in the network");
    type OtherInputs = layers![Dense<f32, 5, 4, Tanh>, Dense<f32, 4, 2>];
    let error = model::read_model(&small_model(), &mut OtherInputs::default()).unwrap_err();
    assert_eq!(error, FormatError::Shape { layer: 0, expected: (5, 4), found: (3, 4) });
}

#[test]
fn activation_mismatch_names_the_layer() {
    type Rectified = layers![Dense<f32, 3, 4, Relu>, Dense<f32, 4, 2>];
    let error = model::read_model(&small_model(), &mut Rectified::default()).unwrap_err();
    assert_eq!(
        error,
        FormatError::Activation { layer: 0, expected: ActivationKind::Relu, found: ActivationKind::Tanh }
    );
    assert!(error.to_string().starts_with("layer 0 uses tanh in the model but relu in the network"), "{error}");
    // A code no version knows.
    let mut file = small_model();
    file[12 + 8] = 9;
    recrc(&mut file);
    assert_eq!(Model::parse(&file).unwrap_err(), FormatError::UnknownActivation { layer: 0, code: 9 });
}

#[test]
fn truncated_and_trailing_bytes() {
    let file = small_model();
    let n = file.len();
    let error = Model::parse(&file[..n - 1]).unwrap_err();
    assert_eq!(error, FormatError::Truncated { needed: n, found: n - 1 });
    assert_eq!(error.to_string(), format!("the model file is truncated: {} bytes, {n} needed", n - 1));
    assert_eq!(Model::parse(&file[..5]).unwrap_err(), FormatError::Truncated { needed: 12, found: 5 });
    let mut longer = file.clone();
    longer.extend_from_slice(&[0; 3]);
    let error = Model::parse(&longer).unwrap_err();
    assert_eq!(error, FormatError::TrailingBytes { extra: 3 });
    assert_eq!(error.to_string(), "3 unexpected bytes after the end of the model");
}

#[test]
fn checksum_mismatch() {
    let mut file = small_model();
    file[40] ^= 0x10;
    let n = file.len();
    let stored = u32::from_le_bytes(file[n - 4..].try_into().unwrap());
    let computed = model::crc32(&file[..n - 4]);
    let error = Model::parse(&file).unwrap_err();
    assert_eq!(error, FormatError::ChecksumMismatch { stored, computed });
    assert!(error.to_string().starts_with("the model file is corrupted: checksum"), "{error}");
}

#[test]
fn non_finite_parameters_name_their_place() {
    // Small: the parameters start after the 12-byte header and two 12-byte
    // layer entries; layer 0 has 12 weights and 4 biases, layer 1 8 and 2.
    let start = 12 + 2 * 12;
    let cases = [
        (start + 5 * 4, f32::INFINITY, FormatError::NonFiniteParameter { layer: 0, part: Part::Weights, index: 5 }),
        (start + 12 * 4 + 3 * 4, f32::NAN, FormatError::NonFiniteParameter { layer: 0, part: Part::Biases, index: 3 }),
        (start + 24 * 4, f32::NEG_INFINITY, FormatError::NonFiniteParameter { layer: 1, part: Part::Biases, index: 0 }),
    ];
    for (at, value, expected) in cases {
        let mut file = small_model();
        file[at..at + 4].copy_from_slice(&value.to_le_bytes());
        recrc(&mut file);
        assert_eq!(Model::parse(&file).unwrap_err(), expected);
    }
    let error = FormatError::NonFiniteParameter { layer: 1, part: Part::Biases, index: 0 };
    assert_eq!(error.to_string(), "layer 1's bias 0 is NaN or infinite");
}

#[test]
fn non_finite_optimizer_state_names_its_place() {
    let mut file = small_checkpoint();
    // Adam's section: 8-byte header, 4 fixed bytes, three f64 hyperparameters, then the buffers.
    let (at, _, _) = sections::<Small>(&file)[0];
    let second_buffer = at + 8 + 4 + 3 * 8 + Small::PARAMETERS * 4;
    file[second_buffer + 3 * 4..][..4].copy_from_slice(&f32::NAN.to_le_bytes());
    recrc(&mut file);
    assert_eq!(Model::parse(&file).unwrap_err(), FormatError::NonFiniteState { buffer: 1, index: 3 });
}

#[test]
fn unknown_sections_required_refused_optional_skipped() {
    let payload = [1, 2, 3, 4, 5];
    let required = with_section(&small_model(), 0x7777, 1, &payload);
    let error = Model::parse(&required).unwrap_err();
    assert_eq!(error, FormatError::UnknownRequiredSection { id: 0x7777 });
    assert!(error.to_string().contains("needs section 30583"), "{error}");

    // An optional one is skipped by every reader: the model and the checkpoint read as before.
    let optional = with_section(&small_model(), 0x7777, 0, &payload);
    let mut net = Small::default();
    model::read_model(&optional, &mut net).unwrap();
    assert_eq!(parameter_bits(&net), parameter_bits(&small_network()));
    let optional = with_section(&small_checkpoint(), 0x7777, 0, &payload);
    let (mut net, mut state) = (Small::default(), Persistent::<Small, Adam>::ZEROED);
    assert_eq!(model::read_checkpoint(&optional, &mut net, &mut state), Ok(adam_config()));
    assert_eq!(persistent_bits(&state), persistent_bits(&adam_state()));
    // Unknown flags on any section are refused: their meaning is not known.
    let flagged = with_section(&small_model(), 0x7777, 2, &payload);
    assert_eq!(Model::parse(&flagged).unwrap_err(), FormatError::Malformed { reason: "a section has unknown flags" });
}

#[test]
fn duplicate_section() {
    let file = small_checkpoint();
    let (_, id, payload) = sections::<Small>(&file).into_iter().find(|s| s.1 == Section::Training.id()).unwrap();
    let twice = with_section(&file, id, 1, &payload);
    let error = Model::parse(&twice).unwrap_err();
    assert_eq!(error, FormatError::DuplicateSection { id: 2 });
    assert_eq!(error.to_string(), "section 2 appears twice");
}

#[test]
fn optimizer_mismatch() {
    let (mut net, mut state) = (Small::default(), Persistent::<Small, Momentum>::ZEROED);
    let error = model::read_checkpoint(&small_checkpoint(), &mut net, &mut state).unwrap_err();
    assert_eq!(error, FormatError::OptimizerMismatch { expected: "momentum", found: OptimizerKind::Adam });
    assert_eq!(error.to_string(), "the checkpoint was trained with adam, not momentum");
    // The run-time optimizer takes any rule.
    let mut any = Persistent::<Small, AnyOptimizer>::ZEROED;
    let config = model::read_checkpoint(&small_checkpoint(), &mut net, &mut any).unwrap();
    assert_eq!(config.optimizer, AnyOptimizer::Adam(Adam::DEFAULT));
}

#[test]
fn missing_section() {
    let (mut net, mut state) = (Small::default(), Persistent::<Small, Adam>::ZEROED);
    let error = model::read_checkpoint(&small_model(), &mut net, &mut state).unwrap_err();
    assert_eq!(error, FormatError::MissingSection { section: Section::Optimizer });
    assert_eq!(error.to_string(), "the file has no optimizer section (a model, not a checkpoint?)");
    // An optimizer section without its training section is malformed.
    let file = small_checkpoint();
    let found = sections::<Small>(&file);
    let (at, _, payload) = &found[0];
    let mut alone = file[..*at].to_vec();
    alone.extend_from_slice(&file[*at..*at + 8]);
    alone.extend_from_slice(payload);
    alone.extend_from_slice(&[0; 4]);
    reseal(&mut alone);
    assert!(
        matches!(Model::parse(&alone), Err(FormatError::MalformedSection { section: Section::Optimizer, .. })),
        "{:?}",
        Model::parse(&alone)
    );
}

#[test]
fn an_invalid_stored_configuration() {
    // Epochs 0 in the training section (its first two fields are the counters).
    let mut file = small_checkpoint();
    let (at, _, _) = sections::<Small>(&file)[1];
    file[at + 8 + 24..][..4].copy_from_slice(&0u32.to_le_bytes());
    recrc(&mut file);
    let (mut net, mut state) = (Small::default(), Persistent::<Small, Adam>::ZEROED);
    let error = model::read_checkpoint(&file, &mut net, &mut state).unwrap_err();
    assert_eq!(
        error,
        FormatError::InvalidConfig(Error::InvalidHyperparameter {
            name: Hyperparameter::Epochs,
            requirement: "at least 1"
        })
    );
}

#[test]
fn frozen_layers_must_agree() {
    // A checkpoint of a network whose first layer is `Frozen`, read into one that trains it.
    let features = Dense::<f32, 3, 4, LeakyRelu>::default();
    let tuned: WithFrozen<'_> = Chain::new(Frozen(&features), Default::default());
    type Plain = layers![Dense<f32, 3, 4, LeakyRelu>, Dense<f32, 4, 3, Relu>, Dense<f32, 3, 2>];
    let state = Persistent::<WithFrozen<'_>, Momentum>::ZEROED;
    let mut file = vec![0u8; model::checkpoint_bytes::<WithFrozen<'_>, Momentum>()];
    model::write_checkpoint(&tuned, &state, &TrainConfig::DEFAULT, &mut file).unwrap();
    let (mut net, mut plain_state) = (Plain::default(), Persistent::<Plain, Momentum>::ZEROED);
    let error = model::read_checkpoint(&file, &mut net, &mut plain_state).unwrap_err();
    assert_eq!(error, FormatError::FrozenMismatch { layer: 0, expected: false });

    // A model whose values differ from those the network keeps read-only.
    let mut other = Plain::default();
    fill_network(&mut other, &mut DefaultRng::seed_from_u64(3));
    let mut file = vec![0u8; Plain::MODEL_BYTES];
    model::write_model(&other, &mut file).unwrap();
    let mut net: WithFrozen<'_> = Chain::new(Frozen(&features), Default::default());
    let before = parameter_bits(&net);
    assert_eq!(model::read_model(&file, &mut net).unwrap_err(), FormatError::FrozenValues { layer: 0 });
    assert_eq!(parameter_bits(&net), before, "a refused model changed the network");
}

#[test]
fn writing_refuses_what_it_cannot_store() {
    let mut short = [0u8; 16];
    let error = model::write_model(&small_network(), &mut short).unwrap_err();
    assert_eq!(error, FormatError::BufferTooSmall { needed: Small::MODEL_BYTES, found: 16 });
    let config = TrainConfig { frozen_layers: 2, ..adam_config() };
    let mut file = vec![0u8; model::checkpoint_bytes::<Small, Adam>()];
    let error = model::write_checkpoint(&small_network(), &adam_state(), &config, &mut file).unwrap_err();
    assert!(matches!(error, FormatError::InvalidConfig(_)), "{error:?}");
}

#[cfg(target_pointer_width = "64")]
#[test]
fn a_batch_size_the_file_cannot_hold_is_refused_not_cut() {
    // The file stores the batch size in 32 bits: a larger one must not come back as another number.
    let config = TrainConfig { batch_size: u32::MAX as usize + 1, ..adam_config() };
    let mut file = vec![0u8; model::checkpoint_bytes::<Small, Adam>()];
    let error = model::write_checkpoint(&small_network(), &adam_state(), &config, &mut file).unwrap_err();
    assert!(
        matches!(
            error,
            FormatError::InvalidConfig(Error::InvalidHyperparameter { name: Hyperparameter::BatchSize, .. })
        ),
        "{error:?}"
    );
}

#[test]
fn a_dropout_section_holds_each_hidden_layers_rate() {
    let mut dropped = adam_config();
    dropped.dropout.rates[0] = 0.25;
    let mut file = vec![0u8; model::checkpoint_bytes::<Small, Adam>() + model::dropout_section_bytes::<Small>()];
    let n = model::write_checkpoint(&small_network(), &adam_state(), &dropped, &mut file).unwrap();
    assert_eq!(n, file.len(), "checkpoint_bytes plus dropout_section_bytes");
    let (at, id, payload) = sections::<Small>(&file).into_iter().find(|s| s.1 == Section::Dropout.id()).unwrap();
    assert_eq!((id, payload), (5, 0.25f64.to_le_bytes().to_vec()), "one f64 per hidden layer");
    assert_eq!(u16::from_le_bytes([file[at + 2], file[at + 3]]), 1, "required");
    let (mut net, mut state) = (Small::default(), Persistent::<Small, Adam>::ZEROED);
    assert_eq!(model::read_checkpoint(&file, &mut net, &mut state), Ok(dropped));
    // Without dropout nothing is written: files are as they were.
    assert!(sections::<Small>(&small_checkpoint()).iter().all(|s| s.1 != Section::Dropout.id()));

    let malformed = |bytes: &[u8]| match Model::parse(bytes) {
        Err(FormatError::MalformedSection { section: Section::Dropout, reason }) => reason,
        other => panic!("{other:?}"),
    };
    let rate = 0.25f64.to_le_bytes();
    assert_eq!(malformed(&with_section(&small_model(), 5, 1, &rate)), "a dropout section without a training section");
    let two = [rate, rate].concat();
    assert_eq!(malformed(&with_section(&small_checkpoint(), 5, 1, &two)), "it does not hold one rate per hidden layer");
    // A rate out of range is the configuration's error.
    let one = with_section(&small_checkpoint(), 5, 1, &1.0f64.to_le_bytes());
    let (mut net, mut state) = (Small::default(), Persistent::<Small, Adam>::ZEROED);
    let error = model::read_checkpoint(&one, &mut net, &mut state).unwrap_err();
    assert!(
        matches!(error, FormatError::InvalidConfig(Error::InvalidHyperparameter { name: Hyperparameter::Dropout, .. })),
        "{error:?}"
    );
}
