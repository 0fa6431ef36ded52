//! The host's fast paths change no bit, for every optimizer: an epoch run
//! through `host_cli::accel` on the baseline vector unit and on AVX2 (when
//! this CPU has it), one sample at a time and two at a time, gives the
//! weights, optimizer state and metrics of a plain `Learner::epoch`.

mod common;

use common::params::{bits_f32, state_bits};
use common::{rng, uniform, with_optimizer};
use host_cli::accel::{VectorUnit, train_epoch_on};
use mlp_core::activation::{LeakyRelu, Relu, Tanh};
use mlp_core::loss::SoftmaxCrossEntropy;
use mlp_core::optim::{Adagrad, Adam, AdamW, Momentum, Nesterov, Optimizer, RmsProp, Sgd};
use mlp_core::schedule::{Schedule, Shape};
use mlp_core::{Dataset, Dense, EpochMetrics, Init, Learner, Network, PairCache, TrainConfig, TrainState, layers};

/// A wide first layer (skips zero inputs on hosts), narrow ones (do not), three activations.
type Net = layers![Dense<f32, 20, 72, Relu>, Dense<f32, 72, 12, Tanh>, Dense<f32, 12, 5, LeakyRelu>, Dense<f32, 5, 3>];
type Grads = <Net as Network>::Gradients;

type Outcome = (Vec<u32>, Vec<u64>, Vec<EpochMetrics<f32>>);

/// How an epoch is run.
#[derive(Clone, Copy, Debug)]
enum Path {
    /// `Learner::epoch` itself, as a device runs it.
    Plain,
    /// Through `train_epoch_on` on a vector unit, with or without pairs.
    Accel(VectorUnit, bool),
}

fn run<O: Optimizer>(config: &TrainConfig<O>, path: Path) -> Outcome
where
    O::State<Grads>: AsRef<[Grads]>,
{
    let mut r = rng(5);
    let inputs: Vec<[f32; 20]> =
        (0..150).map(|_| core::array::from_fn(|_| uniform(&mut r, -0.6, 1.0).max(0.0) as f32)).collect();
    let labels: Vec<usize> = inputs.iter().map(|x| usize::from(x[0] > x[1]) + usize::from(x[2] > 0.3)).collect();
    let data = Dataset::new(&inputs, &labels).unwrap();
    let mut net = Net::default();
    let mut state = TrainState::<Net, O>::new();
    state.persistent.rng = rng(6);
    net.initialize(Init::HeUniform, &mut state.persistent.rng).unwrap();
    let mut pair = PairCache::<Net>::new();
    let mut order = vec![0u16; inputs.len()];
    let mut learner = Learner::new(&mut net, &mut state, &mut order, SoftmaxCrossEntropy, config).unwrap();
    if let Path::Accel(_, true) = path {
        learner = learner.with_pairs(&mut pair);
    }
    let history = (0..config.epochs)
        .map(|_| match path {
            Path::Plain => learner.epoch(data),
            Path::Accel(unit, _) => train_epoch_on(unit, &mut learner, data),
        })
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    (bits_f32(&net), state_bits::<f32, Net>(state.persistent.optimizer.as_ref()), history)
}

fn assert_every_path_agrees<O: Optimizer>(optimizer: O)
where
    O::State<Grads>: AsRef<[Grads]>,
{
    let base = TrainConfig {
        epochs: 3,
        batch_size: 15,
        optimizer: (),
        schedule: Schedule { lr: 0.01, shape: Shape::InverseTime { decay: 0.1 }, warmup: 1 },
        l2: 1e-3,
        l1: 1e-4,
        clip_norm: 1.0,
        frozen_layers: 0,
        dropout: mlp_core::dropout::Dropout::NONE,
    };
    let config = with_optimizer(&base, optimizer);
    let expected = run(&config, Path::Plain);
    assert!(expected.2.iter().all(|m| m.train.loss.is_finite()), "{}", O::NAME);
    let avx2 = cfg!(target_arch = "x86_64") && std::arch::is_x86_feature_detected!("avx2");
    if !avx2 {
        eprintln!("this CPU has no AVX2: only the baseline is compared");
    }
    for unit in [VectorUnit::Baseline, VectorUnit::Avx2] {
        for pairs in [false, true] {
            let path = Path::Accel(unit, pairs);
            let got = run(&config, path);
            assert_eq!(got.0, expected.0, "{}, {path:?}: weights differ", O::NAME);
            assert_eq!(got.1, expected.1, "{}, {path:?}: optimizer state differs", O::NAME);
            assert_eq!(got.2, expected.2, "{}, {path:?}: epoch metrics differ", O::NAME);
        }
    }
}

#[test]
fn sgd() {
    assert_every_path_agrees(Sgd);
}

#[test]
fn momentum() {
    assert_every_path_agrees(Momentum::DEFAULT);
}

#[test]
fn nesterov() {
    assert_every_path_agrees(Nesterov::DEFAULT);
}

#[test]
fn adagrad() {
    assert_every_path_agrees(Adagrad::DEFAULT);
}

#[test]
fn rmsprop() {
    assert_every_path_agrees(RmsProp::DEFAULT);
}

#[test]
fn adam() {
    assert_every_path_agrees(Adam::DEFAULT);
}

#[test]
fn adamw() {
    assert_every_path_agrees(AdamW::DEFAULT);
}
