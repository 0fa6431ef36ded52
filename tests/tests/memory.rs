//! Memory accounting: every `Network` byte constant (dropout's cache too), and every optimizer's
//! `TrainState::BYTES`, equals both the size of the real buffers it describes
//! and the count of scalars it should hold; and a 784→128→10 network trains
//! on a thread with a small stack.

mod common;

use std::mem::{size_of, size_of_val};
use std::ops::ControlFlow;

use common::rng;
use host_cli::boxed::zeroed_box;
use mlp_core::activation::{Relu, Sigmoid, Tanh};
use mlp_core::loss::SoftmaxCrossEntropy;
use mlp_core::optim::{Adagrad, Adam, AdamW, Momentum, Nesterov, Optimizer, RmsProp, Sgd};
use mlp_core::schedule::Schedule;
use mlp_core::{
    Chain, Dataset, DefaultRng, Dense, DropoutCache, Frozen, Init, Learner, Network, TrainConfig, TrainState, Zeroed,
    evaluate, layers,
};

type Small32 = layers![Dense<f32, 64, 32, Relu>, Dense<f32, 32, 10>];
type Small64 = layers![Dense<f64, 64, 32, Relu>, Dense<f64, 32, 10>];
type Mnist = layers![Dense<f32, 784, 128, Relu>, Dense<f32, 128, 10>];
type Mnist64 = layers![Dense<f64, 784, 128, Relu>, Dense<f64, 128, 10>];
type Deep64 = layers![Dense<f64, 16, 12, Tanh>, Dense<f64, 12, 8, Relu>, Dense<f64, 8, 6, Sigmoid>, Dense<f64, 6, 4>];
type Deep32 = layers![Dense<f32, 16, 12, Tanh>, Dense<f32, 12, 8, Relu>, Dense<f32, 8, 6, Sigmoid>, Dense<f32, 6, 4>];
type FrozenFirst<'a> = layers![Frozen<'a, f32, 64, 32, Relu>, Dense<f32, 32, 10>];
type FrozenMiddle<'a> = layers![Dense<f64, 8, 16, Tanh>, Frozen<'a, f64, 16, 16, Tanh>, Dense<f64, 16, 4>];
type FrozenLast<'a> = layers![Dense<f64, 5, 12, Sigmoid>, Frozen<'a, f64, 12, 3>];

/// Bytes of the persistent counters and generator: the step and epoch counts
/// (`u32` each) and xorshift128's four `u32` words.
const COUNTERS: usize = 2 * 4 + 4 * 4;

// The constants are usable at compile time, e.g. to size a device's RAM budget.
const _: () = assert!(Small32::TRAINING_BYTES == 3 * (64 * 32 + 32 + 32 * 10 + 10) * 4 + 2 * (32 + 10) * 4 + COUNTERS);
const _: () = assert!(Mnist::PARAMETER_BYTES == (784 * 128 + 128 + 128 * 10 + 10) * 4);
// Per optimizer: choosing SGD over Adam saves two gradient-sized buffers.
const _: () = assert!(
    Small32::PARAMETER_BYTES + TrainState::<Small32, Sgd>::BYTES + 2 * Small32::GRADIENT_BYTES
        == Small32::PARAMETER_BYTES + TrainState::<Small32, Adam>::BYTES
);

/// What a network's buffers should hold, counted by hand from its layers.
struct Counts {
    /// Bytes of the network value: trainable parameters, plus one reference per frozen layer.
    network_bytes: usize,
    /// Trainable scalars (weights and biases of non-frozen layers).
    trainable: usize,
    /// Outputs of all layers together: the activations of one sample.
    units: usize,
    /// Bytes of one scalar.
    scalar: usize,
}

impl Counts {
    fn trainable_bytes(&self) -> usize {
        self.trainable * self.scalar
    }

    fn cache_bytes(&self) -> usize {
        2 * self.units * self.scalar
    }
}

/// Compares every constant with the real buffers and with `counts`.
fn check<N: Network>(net: &N, counts: Counts) {
    let state = zeroed_box::<TrainState<N>>();
    let activations = zeroed_box::<N::Activations>();
    let Counts { network_bytes, trainable, units, scalar } = counts;

    assert_eq!(N::PARAMETERS, trainable, "PARAMETERS");
    assert_eq!(size_of::<N::Scalar>(), scalar);

    assert_eq!(N::PARAMETER_BYTES, size_of_val(net), "PARAMETER_BYTES vs the network value");
    assert_eq!(N::PARAMETER_BYTES, network_bytes, "PARAMETER_BYTES vs the count");

    assert_eq!(N::GRADIENT_BYTES, size_of_val(&state.gradients), "GRADIENT_BYTES vs the buffer");
    assert_eq!(N::GRADIENT_BYTES, trainable * scalar, "GRADIENT_BYTES vs the count");

    assert_eq!(N::OPTIMIZER_BYTES, size_of_val(&state.persistent.optimizer[0]), "OPTIMIZER_BYTES vs the buffer");
    assert_eq!(N::OPTIMIZER_BYTES, trainable * scalar, "OPTIMIZER_BYTES vs the count");

    assert_eq!(
        N::CACHE_BYTES,
        size_of_val(&state.scratch.activations) + size_of_val(&state.scratch.deltas),
        "CACHE_BYTES vs the buffers"
    );
    assert_eq!(N::CACHE_BYTES, 2 * units * scalar, "CACHE_BYTES vs the count");

    assert_eq!(N::INFERENCE_BYTES, size_of_val(net) + size_of_val(&*activations), "INFERENCE_BYTES vs the buffers");
    assert_eq!(N::INFERENCE_BYTES, network_bytes + units * scalar, "INFERENCE_BYTES vs the count");

    assert_eq!(N::TRAINING_BYTES, size_of_val(net) + size_of_val(&*state), "TRAINING_BYTES vs the buffers");
    assert_eq!(
        N::TRAINING_BYTES,
        network_bytes + 2 * trainable * scalar + 2 * units * scalar + COUNTERS,
        "TRAINING_BYTES vs the count"
    );
    assert_eq!(
        N::TRAINING_BYTES,
        N::PARAMETER_BYTES + N::GRADIENT_BYTES + N::OPTIMIZER_BYTES + N::CACHE_BYTES + COUNTERS,
        "TRAINING_BYTES vs the sum of its parts"
    );
    assert_eq!(N::TRAINING_BYTES, N::PARAMETER_BYTES + TrainState::<N>::BYTES, "TRAINING_BYTES is with momentum");

    // Dropout's cache: a mask and a dropped output per hidden unit (every layer's output but the last).
    let dropout = zeroed_box::<DropoutCache<N>>();
    assert_eq!(N::DROPOUT_BYTES, size_of_val(&*dropout), "DROPOUT_BYTES vs the cache");
    assert_eq!(
        N::DROPOUT_BYTES,
        size_of_val(&dropout.masks) + size_of_val(&dropout.dropped),
        "DROPOUT_BYTES vs its buffers"
    );
    assert_eq!(N::DROPOUT_BYTES, 2 * (units - N::OUTPUTS) * scalar, "DROPOUT_BYTES vs the count");

    let buffers = [
        check_optimizer::<N, Sgd>(counts.trainable_bytes(), counts.cache_bytes()),
        check_optimizer::<N, Momentum>(counts.trainable_bytes(), counts.cache_bytes()),
        check_optimizer::<N, Nesterov>(counts.trainable_bytes(), counts.cache_bytes()),
        check_optimizer::<N, Adagrad>(counts.trainable_bytes(), counts.cache_bytes()),
        check_optimizer::<N, RmsProp>(counts.trainable_bytes(), counts.cache_bytes()),
        check_optimizer::<N, Adam>(counts.trainable_bytes(), counts.cache_bytes()),
        check_optimizer::<N, AdamW>(counts.trainable_bytes(), counts.cache_bytes()),
    ];
    assert_eq!(
        buffers,
        [0, 1, 1, 1, 1, 2, 2],
        "state buffers of SGD, momentum, Nesterov, Adagrad, RMSprop, Adam, AdamW"
    );
}

/// `TrainState::<N, O>::BYTES` against the size of each real part of a
/// state (scratch, gradient, `O::BUFFERS` optimizer buffers, counters and
/// generator) and against the count; returns `O::BUFFERS`.
fn check_optimizer<N: Network, O: Optimizer>(gradient_bytes: usize, cache_bytes: usize) -> usize {
    let state = zeroed_box::<TrainState<N, O>>();
    let name = O::NAME;
    let persistent = &state.persistent;
    let parts = size_of_val(&state.scratch.activations)
        + size_of_val(&state.scratch.deltas)
        + size_of_val(&state.gradients)
        + size_of_val(&persistent.optimizer)
        + size_of_val(&persistent.steps)
        + size_of_val(&persistent.epoch)
        + size_of_val(&persistent.rng);
    assert_eq!(TrainState::<N, O>::BYTES, size_of_val(&*state), "{name}: BYTES vs the state");
    assert_eq!(TrainState::<N, O>::BYTES, parts, "{name}: BYTES vs the sum of the real parts (no padding)");
    assert_eq!(size_of_val(&persistent.optimizer), O::BUFFERS * N::GRADIENT_BYTES, "{name}: optimizer state");
    assert_eq!(size_of_val(&persistent.rng), size_of::<DefaultRng>(), "{name}: generator");
    assert_eq!(size_of::<DefaultRng>(), 16, "xorshift128 keeps four u32 words");
    assert_eq!(
        TrainState::<N, O>::BYTES,
        cache_bytes + (1 + O::BUFFERS) * gradient_bytes + COUNTERS,
        "{name}: BYTES vs the count"
    );
    O::BUFFERS
}

/// A trainable network of any size, allocated zeroed on the heap.
fn check_trainable<N: Network + Zeroed>(trainable: usize, units: usize, scalar: usize) {
    let net = zeroed_box::<N>();
    check(&*net, Counts { network_bytes: trainable * scalar, trainable, units, scalar });
}

#[test]
fn small_f32_and_f64() {
    let params = 64 * 32 + 32 + 32 * 10 + 10;
    check_trainable::<Small32>(params, 32 + 10, 4);
    check_trainable::<Small64>(params, 32 + 10, 8);
    assert_eq!(Small32::PARAMETER_BYTES, 2410 * 4);
    // Every buffer doubles; the counters and the generator do not.
    assert_eq!(Small64::TRAINING_BYTES - COUNTERS, 2 * (Small32::TRAINING_BYTES - COUNTERS));
}

#[test]
fn mnist_sized_f32_and_f64() {
    let params = 784 * 128 + 128 + 128 * 10 + 10;
    check_trainable::<Mnist>(params, 128 + 10, 4);
    check_trainable::<Mnist64>(params, 128 + 10, 8);
    assert_eq!(Mnist::PARAMETER_BYTES, 407_080);
    assert_eq!(Mnist::CACHE_BYTES, 2 * (128 + 10) * 4);
    assert_eq!(Mnist::TRAINING_BYTES, 3 * 407_080 + 1104 + COUNTERS);
    assert_eq!(TrainState::<Mnist, Adam>::BYTES, 3 * 407_080 + 1104 + COUNTERS);
    assert_eq!(TrainState::<Mnist, Sgd>::BYTES, 407_080 + 1104 + COUNTERS);
}

#[test]
fn four_layers_f32_and_f64() {
    let params = (16 * 12 + 12) + (12 * 8 + 8) + (8 * 6 + 6) + (6 * 4 + 4);
    check_trainable::<Deep32>(params, 12 + 8 + 6 + 4, 4);
    check_trainable::<Deep64>(params, 12 + 8 + 6 + 4, 8);
}

#[test]
fn frozen_first_layer() {
    static FEATURES: Dense<f32, 64, 32, Relu> = Dense::from_columns([[0.0; 32]; 64], [0.0; 32]);
    let net: FrozenFirst<'_> = Chain::new(Frozen(&FEATURES), Dense::zeroed());
    let trainable = 32 * 10 + 10;
    // The frozen layer's 64·32 + 32 parameters live in `FEATURES` (flash on a
    // device); the network holds only a reference to them.
    let reference = size_of::<&Dense<f32, 64, 32, Relu>>();
    check(&net, Counts { network_bytes: trainable * 4 + reference, trainable, units: 32 + 10, scalar: 4 });
}

#[test]
fn frozen_middle_layer() {
    let middle = Dense::<f64, 16, 16, Tanh>::zeroed();
    let net: FrozenMiddle<'_> = Chain::new(Dense::zeroed(), Chain::new(Frozen(&middle), Dense::zeroed()));
    let trainable = (8 * 16 + 16) + (16 * 4 + 4);
    let reference = size_of::<&Dense<f64, 16, 16, Tanh>>();
    check(&net, Counts { network_bytes: trainable * 8 + reference, trainable, units: 16 + 16 + 4, scalar: 8 });
}

#[test]
fn single_dense_layer() {
    // Depth 1: the layer is the whole network, with no `Chain` around it.
    check_trainable::<Dense<f32, 5, 3, Relu>>(5 * 3 + 3, 3, 4);
    check_trainable::<Dense<f64, 1, 1>>(2, 1, 8);
    check_trainable::<Dense<f32, 784, 10>>(784 * 10 + 10, 10, 4);
}

#[test]
fn single_frozen_layer() {
    static ONLY: Dense<f32, 6, 4, Tanh> = Dense::from_columns([[0.0; 4]; 6], [0.0; 4]);
    let net: Frozen<'_, f32, 6, 4, Tanh> = Frozen(&ONLY);
    // Nothing to train: no gradient or optimizer state at all, only the
    // reference, the cache, the counters and the generator.
    let reference = size_of::<&Dense<f32, 6, 4, Tanh>>();
    check(&net, Counts { network_bytes: reference, trainable: 0, units: 4, scalar: 4 });
    assert_eq!(<Frozen<'_, f32, 6, 4, Tanh> as Network>::GRADIENT_BYTES, 0);
}

#[test]
fn frozen_last_layer() {
    static HEAD: Dense<f64, 12, 3> = Dense::from_columns([[0.0; 3]; 12], [0.0; 3]);
    let net: FrozenLast<'_> = Chain::new(Dense::zeroed(), Frozen(&HEAD));
    let trainable = 5 * 12 + 12;
    let reference = size_of::<&Dense<f64, 12, 3>>();
    check(&net, Counts { network_bytes: trainable * 8 + reference, trainable, units: 12 + 3, scalar: 8 });
}

/// A 784→128→10 network, its training state and a few hundred samples, with
/// only 256 KiB of stack: one training epoch and an evaluation must fit. The
/// network alone is 400 KB and its training state 800 KB more, so any copy of
/// either onto the stack would overflow.
#[test]
fn mnist_sized_network_trains_on_a_256_kib_stack() {
    const SAMPLES: usize = 200;
    let worker = std::thread::Builder::new()
        .name("small-stack".into())
        .stack_size(256 * 1024)
        .spawn(|| {
            let mut rng = rng(784);
            // Sparse "images"; the label is the tenth of the image with the most ink.
            let mut inputs: Vec<[f32; 784]> = Vec::with_capacity(SAMPLES);
            let mut labels = Vec::with_capacity(SAMPLES);
            for _ in 0..SAMPLES {
                let mut x = [0.0f32; 784];
                for v in x.iter_mut() {
                    if common::uniform(&mut rng, 0.0, 1.0) < 0.2 {
                        *v = common::uniform(&mut rng, 0.0, 1.0) as f32;
                    }
                }
                let ink: Vec<f32> = x.chunks(79).map(|c| c.iter().sum()).collect();
                labels.push(mlp_core::activation::argmax(&ink));
                inputs.push(x);
            }
            let data = Dataset::new(&inputs, &labels).unwrap();

            let mut net = zeroed_box::<Mnist>();
            let mut state = zeroed_box::<TrainState<Mnist>>();
            net.initialize(Init::HeUniform, &mut rng).unwrap();
            state.persistent.rng = rng;
            let initial = net.head.weights.as_slice()[..16].to_vec();
            let before = evaluate(&*net, &mut state.scratch.activations, SoftmaxCrossEntropy, data).unwrap();
            let mut order = vec![0u16; SAMPLES];
            let config =
                TrainConfig { epochs: 1, batch_size: 20, schedule: Schedule::constant(0.01), ..TrainConfig::DEFAULT };
            let summary = Learner::new(&mut *net, &mut *state, &mut order, SoftmaxCrossEntropy, &config)
                .unwrap()
                .fit(data, |_, _| ControlFlow::Continue(()))
                .unwrap();
            let after = evaluate(&*net, &mut state.scratch.activations, SoftmaxCrossEntropy, data).unwrap();
            assert_ne!(net.head.weights.as_slice()[..16], initial[..], "training did not change the weights");
            (summary, before, after)
        })
        .unwrap();
    let (summary, before, after) =
        worker.join().expect("the training thread failed (stack overflow aborts the process)");
    assert_eq!(summary.epochs, 1);
    assert_eq!(summary.last.train.samples, SAMPLES);
    assert_eq!(after.samples, SAMPLES);
    assert!(after.loss.is_finite() && (0.0..=1.0).contains(&after.accuracy));
    assert!(after.loss < before.loss, "loss {} -> {}", before.loss, after.loss);
}
