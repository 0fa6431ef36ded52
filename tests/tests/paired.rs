//! Training two samples at a time (`Learner::with_pairs`, the host's path)
//! gives the bits of training one at a time (a plain `Learner`, the
//! device's): the same weights, optimizer state and epoch metrics, for deep
//! and shallow networks, every activation, frozen layers, batches of odd and
//! even size, and every optimizer.
//!
//! Inputs are about half exact zeros, so layers of 64 or more outputs (which
//! skip zero inputs on hosts too) see pairs with both, one and neither input zero.

mod common;

use common::params::{Params, bits_f32, state_bits};
use common::{rng, uniform, with_optimizer};
use mlp_core::activation::{LeakyRelu, Relu, Sigmoid, Tanh};
use mlp_core::loss::SoftmaxCrossEntropy;
use mlp_core::optim::{Adagrad, Adam, AdamW, Momentum, Nesterov, Optimizer, RmsProp, Sgd};
use mlp_core::schedule::{Schedule, Shape};
use mlp_core::{
    Chain, Dataset, Dense, EpochMetrics, Frozen, Init, Learner, Network, PairCache, TrainConfig, TrainState, layers,
};

/// Nesterov momentum with both penalties and an inverse-time decay, 4 epochs.
const NESTEROV: TrainConfig<Nesterov> = TrainConfig {
    epochs: 4,
    batch_size: 1,
    optimizer: Nesterov { momentum: 0.9 },
    schedule: Schedule { lr: 0.05, shape: Shape::InverseTime { decay: 0.01 }, warmup: 0 },
    l2: 1e-3,
    l1: 1e-4,
    clip_norm: 0.0,
    frozen_layers: 0,
    dropout: mlp_core::dropout::Dropout::NONE,
};

const INPUTS: usize = 20;
const CLASSES: usize = 4;
/// Odd, so a batch size that divides it evenly leaves no odd tail in the last batch, and others do.
const SAMPLES: usize = 101;

fn data_set() -> (Vec<[f32; INPUTS]>, Vec<usize>) {
    let mut r = rng(41);
    let inputs: Vec<[f32; INPUTS]> =
        (0..SAMPLES).map(|_| core::array::from_fn(|_| uniform(&mut r, -0.8, 1.0).max(0.0) as f32)).collect();
    let labels = inputs.iter().map(|x| usize::from(x[0] > x[1]) + 2 * usize::from(x[2] + x[3] > 0.5)).collect();
    (inputs, labels)
}

/// Trains a copy of `net` for 4 epochs with Nesterov momentum either way and asserts identical bits.
fn assert_pairing_is_invisible<N>(name: &str, net: &N, batch_sizes: &[usize])
where
    N: Network<Scalar = f32, Input = [f32; INPUTS], Output = [f32; CLASSES]> + Clone,
    N: Params<f32, Grads = <N as Network>::Gradients>,
{
    assert_pairing_is_invisible_with(name, net, batch_sizes, &NESTEROV);
}

/// Trains a copy of `net` to the end of `config` (at each batch size) one
/// sample at a time and two at a time, and asserts identical bits.
fn assert_pairing_is_invisible_with<N, O>(name: &str, net: &N, batch_sizes: &[usize], config: &TrainConfig<O>)
where
    N: Network<Scalar = f32, Input = [f32; INPUTS], Output = [f32; CLASSES]> + Clone,
    N: Params<f32, Grads = <N as Network>::Gradients>,
    O: Optimizer,
    O::State<N::Gradients>: AsRef<[N::Gradients]>,
{
    let (inputs, labels) = data_set();
    let data = Dataset::new(&inputs, &labels).unwrap();
    let name = format!("{name}, {}", O::NAME);
    for &batch_size in batch_sizes {
        let config = TrainConfig { batch_size, ..*config };
        let run = |paired: bool| -> (Vec<u32>, Vec<u64>, Vec<EpochMetrics<f32>>, [u32; 4]) {
            let mut net = net.clone();
            let mut state = TrainState::<N, O>::new();
            state.persistent.rng = rng(7);
            let mut pair = PairCache::<N>::new();
            let mut order = vec![0u16; SAMPLES];
            let mut learner = Learner::new(&mut net, &mut state, &mut order, SoftmaxCrossEntropy, &config).unwrap();
            if paired {
                learner = learner.with_pairs(&mut pair);
            }
            let mut history = Vec::new();
            learner
                .fit(data, |m, _| {
                    history.push(*m);
                    std::ops::ControlFlow::Continue(())
                })
                .unwrap();
            let optimizer = state_bits::<f32, N>(state.persistent.optimizer.as_ref());
            (bits_f32(&net), optimizer, history, state.persistent.rng.state())
        };
        let (single, paired) = (run(false), run(true));
        assert!(single.0 != bits_f32(net), "{name}, batch {batch_size}: training changed nothing");
        assert!(single.2.iter().all(|m| m.train.loss.is_finite()), "{name}, batch {batch_size}: {:?}", single.2);
        assert_eq!(single.2.len(), config.epochs as usize);
        assert_eq!(single.0, paired.0, "{name}, batch {batch_size}: weights differ");
        assert_eq!(single.1, paired.1, "{name}, batch {batch_size}: optimizer state differs");
        assert_eq!(single.2, paired.2, "{name}, batch {batch_size}: epoch metrics differ");
        assert_eq!(single.3, paired.3, "{name}, batch {batch_size}: generator state differs");
    }
}

fn initialized<N: Network + Default>(seed: u64) -> N {
    let mut net = N::default();
    net.initialize(Init::HeUniform, &mut rng(seed)).unwrap();
    net
}

const BATCHES: [usize; 6] = [1, 2, 7, 10, 16, SAMPLES];

#[test]
fn one_layer() {
    assert_pairing_is_invisible("20-4", &initialized::<Dense<f32, INPUTS, CLASSES>>(1), &BATCHES);
}

#[test]
fn two_layers() {
    type Narrow = layers![Dense<f32, INPUTS, 16, Relu>, Dense<f32, 16, CLASSES>];
    type Wide = layers![Dense<f32, INPUTS, 72, Tanh>, Dense<f32, 72, CLASSES>];
    assert_pairing_is_invisible("20-16-4 relu", &initialized::<Narrow>(2), &BATCHES);
    assert_pairing_is_invisible("20-72-4 tanh", &initialized::<Wide>(3), &BATCHES);
}

#[test]
fn three_layers() {
    type Net = layers![Dense<f32, INPUTS, 64, Relu>, Dense<f32, 64, 96, LeakyRelu>, Dense<f32, 96, CLASSES>];
    type Smooth = layers![Dense<f32, INPUTS, 12, Tanh>, Dense<f32, 12, 8, Sigmoid>, Dense<f32, 8, CLASSES>];
    assert_pairing_is_invisible("20-64-96-4 relu/leaky", &initialized::<Net>(4), &BATCHES);
    assert_pairing_is_invisible("20-12-8-4 tanh/sigmoid", &initialized::<Smooth>(5), &BATCHES);
}

#[test]
fn frozen_front_layers() {
    type Net = layers![Dense<f32, INPUTS, 72, Relu>, Dense<f32, 72, 12, Tanh>, Dense<f32, 12, CLASSES>];
    type FrontFrozen<'a> =
        layers![Frozen<'a, f32, INPUTS, 72, Relu>, Dense<f32, 72, 12, Tanh>, Dense<f32, 12, CLASSES>];
    type TwoFrozen<'a> =
        layers![Frozen<'a, f32, INPUTS, 72, Relu>, Frozen<'a, f32, 72, 12, Tanh>, Dense<f32, 12, CLASSES>];
    type Last<'a> = layers![Dense<f32, INPUTS, 12, Tanh>, Frozen<'a, f32, 12, CLASSES>];
    let net = initialized::<Net>(6);
    let one: FrontFrozen<'_> = Chain::new(Frozen(&net.head), net.tail.clone());
    let two: TwoFrozen<'_> = Chain::new(Frozen(&net.head), Chain::new(Frozen(&net.tail.head), net.tail.tail.clone()));
    assert_pairing_is_invisible("frozen-72-12-4", &one, &BATCHES);
    assert_pairing_is_invisible("frozen-frozen-4", &two, &BATCHES);
    let out = initialized::<Dense<f32, 12, CLASSES>>(7);
    let last: Last<'_> = Chain::new(initialized(8), Frozen(&out));
    assert_pairing_is_invisible("12-frozen", &last, &BATCHES);
}

#[test]
fn every_optimizer() {
    type Net = layers![Dense<f32, INPUTS, 72, Relu>, Dense<f32, 72, 12, Tanh>, Dense<f32, 12, CLASSES>];
    let net = initialized::<Net>(9);
    // Penalties, clipping (tight enough to act on some steps) and a warm-up
    // with a cosine decay, so every term of every rule is exercised.
    let base = TrainConfig {
        epochs: 3,
        batch_size: 1,
        optimizer: (),
        schedule: Schedule { lr: 0.01, shape: Shape::Cosine { min_lr: 0.001 }, warmup: 1 },
        l2: 1e-3,
        l1: 1e-4,
        clip_norm: 1.0,
        dropout: mlp_core::dropout::Dropout::NONE,
        frozen_layers: 0,
    };
    let batches = [1, 7, 16];
    assert_pairing_is_invisible_with("20-72-12-4", &net, &batches, &with_optimizer(&base, Sgd));
    assert_pairing_is_invisible_with("20-72-12-4", &net, &batches, &with_optimizer(&base, Momentum::DEFAULT));
    assert_pairing_is_invisible_with("20-72-12-4", &net, &batches, &with_optimizer(&base, Nesterov::DEFAULT));
    assert_pairing_is_invisible_with("20-72-12-4", &net, &batches, &with_optimizer(&base, Adagrad::DEFAULT));
    assert_pairing_is_invisible_with("20-72-12-4", &net, &batches, &with_optimizer(&base, RmsProp::DEFAULT));
    assert_pairing_is_invisible_with("20-72-12-4", &net, &batches, &with_optimizer(&base, Adam::DEFAULT));
    assert_pairing_is_invisible_with("20-72-12-4", &net, &batches, &with_optimizer(&base, AdamW::DEFAULT));
}
