//! Training two samples at a time (`train_epoch_paired`, the host's path)
//! gives the bits of training one at a time (`train_epoch`, the device's):
//! the same weights, momentum and epoch metrics, for deep and shallow
//! networks, every activation, frozen layers, and batches of odd and even size.
//!
//! Inputs are about half exact zeros, so layers of 64 or more outputs (which
//! skip zero inputs on hosts too) see pairs with both, one and neither input zero.

mod common;

use common::params::{Params, bits_f32, grads};
use common::{rng, uniform};
use mlp_core::activation::{LeakyRelu, Relu, Sigmoid, Tanh};
use mlp_core::loss::SoftmaxCrossEntropy;
use mlp_core::{
    Chain, Dataset, Dense, EpochMetrics, Frozen, Init, Network, PairCache, SgdConfig, TrainState, layers, train_epoch,
    train_epoch_paired,
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

/// Trains a copy of `net` for 4 epochs either way and asserts identical bits.
fn assert_pairing_is_invisible<N>(name: &str, net: &N, batch_sizes: &[usize])
where
    N: Network<Scalar = f32, Input = [f32; INPUTS], Output = [f32; CLASSES]> + Clone,
    N: Params<f32, Grads = <N as Network>::Gradients>,
{
    let (inputs, labels) = data_set();
    let data = Dataset::new(&inputs, &labels).unwrap();
    let sgd = SgdConfig { lr: 0.05, momentum: 0.9, nesterov: true, l2: 1e-3, l1: 1e-4, decay: 0.01 };
    let sgd = sgd.check::<f32>().unwrap();
    for &batch_size in batch_sizes {
        let run = |paired: bool| -> (Vec<u32>, Vec<u32>, Vec<EpochMetrics<f32>>) {
            let mut net = net.clone();
            let mut state = TrainState::<N>::new();
            let mut pair = PairCache::<N>::new();
            let mut order = vec![0u16; SAMPLES];
            let mut shuffle = rng(7);
            let history = (0..4)
                .map(|epoch| {
                    let (state, order, shuffle) = (&mut state, &mut order[..], &mut shuffle);
                    if paired {
                        train_epoch_paired(
                            &mut net,
                            state,
                            Some(&mut pair),
                            SoftmaxCrossEntropy,
                            data,
                            order,
                            &sgd,
                            batch_size,
                            epoch,
                            shuffle,
                        )
                    } else {
                        train_epoch(&mut net, state, SoftmaxCrossEntropy, data, order, &sgd, batch_size, epoch, shuffle)
                    }
                    .unwrap()
                })
                .collect();
            let momentum = grads::<f32, N>(&state.velocity).iter().map(|v| v.to_bits()).collect();
            (bits_f32(&net), momentum, history)
        };
        let (single, paired) = (run(false), run(true));
        assert!(single.0 != bits_f32(net), "{name}, batch {batch_size}: training changed nothing");
        assert!(single.2.iter().all(|m| m.train.loss.is_finite()), "{name}, batch {batch_size}: {:?}", single.2);
        assert_eq!(single.0, paired.0, "{name}, batch {batch_size}: weights differ");
        assert_eq!(single.1, paired.1, "{name}, batch {batch_size}: momentum differs");
        assert_eq!(single.2, paired.2, "{name}, batch {batch_size}: epoch metrics differ");
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
