//! Resuming from a checkpoint is invisible: 10 epochs in one run give the
//! bits of 5 epochs, a checkpoint file (weights, optimizer buffers, step and
//! epoch counts, the generator's state, the configuration), and 5 more
//! epochs with a new `Learner` over what was read back, for every optimizer.

mod common;

use std::ops::ControlFlow;

use common::data::two_moons;
use common::params::{bits_f32, state_bits};
use common::{rng, with_optimizer};
use mlp_core::activation::{Relu, Tanh};
use mlp_core::loss::SoftmaxCrossEntropy;
use mlp_core::optim::{Adagrad, Adam, AdamW, Momentum, Nesterov, Optimizer, RmsProp, Sgd};
use mlp_core::schedule::{Schedule, Shape};
use mlp_core::{Dataset, Dense, EpochMetrics, Init, Learner, Network, TrainConfig, TrainState, layers, model};

type Net = layers![Dense<f32, 2, 12, Tanh>, Dense<f32, 12, 8, Relu>, Dense<f32, 8, 2>];

/// Everything that must agree after training: weights, optimizer buffers,
/// counters, generator, and the metrics of every epoch.
type Outcome = (Vec<u32>, Vec<u64>, (u32, u32, [u32; 4]), Vec<EpochMetrics<f32>>);

fn outcome<O: Optimizer>(net: &Net, state: &TrainState<Net, O>, history: Vec<EpochMetrics<f32>>) -> Outcome
where
    O::State<<Net as Network>::Gradients>: AsRef<[<Net as Network>::Gradients]>,
{
    let p = &state.persistent;
    (bits_f32(net), state_bits::<f32, Net>(p.optimizer.as_ref()), (p.steps, p.epoch, p.rng.state()), history)
}

fn assert_resuming_is_invisible<O: Optimizer>(optimizer: O)
where
    O::State<<Net as Network>::Gradients>: AsRef<[<Net as Network>::Gradients]>,
{
    let (inputs, labels) = two_moons(&mut rng(12), 150, 0.15);
    let data = Dataset::new(&inputs, &labels).unwrap();
    // A schedule that changes every epoch and a warm-up across the break,
    // penalties and clipping: all of it must resume where it stopped.
    let base = TrainConfig {
        epochs: 10,
        batch_size: 16,
        optimizer: (),
        schedule: Schedule { lr: 0.02, shape: Shape::Cosine { min_lr: 0.002 }, warmup: 6 },
        l2: 1e-3,
        l1: 1e-4,
        clip_norm: 2.0,
        frozen_layers: 0,
        dropout: mlp_core::dropout::Dropout::NONE,
    };
    let config = with_optimizer(&base, optimizer);
    let mut start = Net::default();
    let mut fresh = TrainState::<Net, O>::new();
    fresh.persistent.rng = rng(4);
    start.initialize(Init::GlorotUniform, &mut fresh.persistent.rng).unwrap();
    let mut order = vec![0u16; inputs.len()];

    // In one run.
    let (mut net, mut state) = (start.clone(), fresh.clone());
    let mut history = Vec::new();
    Learner::new(&mut net, &mut state, &mut order, SoftmaxCrossEntropy, &config)
        .unwrap()
        .fit(data, |m, _| {
            history.push(*m);
            ControlFlow::Continue(())
        })
        .unwrap();
    let whole = outcome(&net, &state, history);

    // Stopped after 5 epochs, the state copied, resumed with a new learner.
    let (mut net, mut state) = (start.clone(), fresh.clone());
    let mut history = Vec::new();
    let summary = Learner::new(&mut net, &mut state, &mut order, SoftmaxCrossEntropy, &config)
        .unwrap()
        .fit(data, |m, _| {
            history.push(*m);
            if m.epoch == 5 { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
        })
        .unwrap();
    assert!(summary.stopped_early);
    assert_eq!(state.persistent.epoch, 5);
    // Through a checkpoint file, into a network and state that start zeroed
    // (as after a reset), with the configuration read back from the file.
    let mut file = vec![0u8; model::checkpoint_bytes::<Net, O>()];
    let written = model::write_checkpoint(&net, &state.persistent, &config, &mut file).unwrap();
    assert_eq!(written, file.len(), "{}: the checkpoint's size is the compile-time constant", O::NAME);
    drop((net, state));
    let mut resumed_net = Net::default();
    let mut resumed = TrainState::<Net, O>::new();
    let config = model::read_checkpoint(&file, &mut resumed_net, &mut resumed.persistent).unwrap();
    // A new shuffle buffer: the order is rebuilt every epoch, not state.
    let mut order = vec![u16::MAX; inputs.len()];
    let summary = Learner::new(&mut resumed_net, &mut resumed, &mut order, SoftmaxCrossEntropy, &config)
        .unwrap()
        .fit(data, |m, _| {
            history.push(*m);
            ControlFlow::Continue(())
        })
        .unwrap();
    assert_eq!(summary.epochs, 10);
    let split = outcome(&resumed_net, &resumed, history);

    let name = O::NAME;
    assert_ne!(whole.0, bits_f32(&start), "{name}: training changed nothing");
    assert_eq!(whole.2.1, 10, "{name}");
    assert_eq!(split.0, whole.0, "{name}: weights differ");
    assert_eq!(split.1, whole.1, "{name}: optimizer state differs");
    assert_eq!(split.2, whole.2, "{name}: counters or generator differ");
    assert_eq!(split.3, whole.3, "{name}: epoch metrics differ");
}

#[test]
fn sgd() {
    assert_resuming_is_invisible(Sgd);
}

#[test]
fn momentum() {
    assert_resuming_is_invisible(Momentum::DEFAULT);
}

#[test]
fn nesterov() {
    assert_resuming_is_invisible(Nesterov::DEFAULT);
}

#[test]
fn adagrad() {
    assert_resuming_is_invisible(Adagrad::DEFAULT);
}

#[test]
fn rmsprop() {
    assert_resuming_is_invisible(RmsProp::DEFAULT);
}

#[test]
fn adam() {
    assert_resuming_is_invisible(Adam::DEFAULT);
}

#[test]
fn adamw() {
    assert_resuming_is_invisible(AdamW::DEFAULT);
}
