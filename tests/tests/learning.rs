//! End-to-end learning: the training loop, losses and optimizer together reach
//! a good solution on small problems generated from a seed.

mod common;

use std::ops::ControlFlow;

use common::data::{XOR_INPUTS, XOR_LABELS, sine, two_moons};
use common::params::bits_f32;
use common::rng;
use common::tolerances::{
    FINE_TUNE_MAX_LOSS_RATIO, MOONS_MIN_TEST_ACCURACY, SINE_MAX_MSE, XOR_MAX_LOSS, mse_agreement_relative,
};
use mlp_core::activation::Tanh;
use mlp_core::loss::{Quadratic, SoftmaxCrossEntropy};
use mlp_core::schedule::Schedule;
use mlp_core::{
    Chain, Dataset, Dense, Frozen, Init, Learner, Network, TrainConfig, TrainState, evaluate, layers, predict_class,
};

/// Momentum 0.9 at a constant rate `lr`.
const fn momentum(epochs: u32, batch_size: usize, lr: f64) -> TrainConfig {
    TrainConfig { epochs, batch_size, schedule: Schedule::constant(lr), ..TrainConfig::DEFAULT }
}

#[test]
fn xor_is_learned_exactly() {
    type Net = layers![Dense<f32, 2, 8, Tanh>, Dense<f32, 8, 2>];
    let data = Dataset::new(&XOR_INPUTS, &XOR_LABELS).unwrap();
    let mut net = Net::default();
    let mut state = TrainState::new();
    // One stream: the initial weights, then every epoch's shuffle.
    state.persistent.rng = rng(1);
    net.initialize(Init::GlorotUniform, &mut state.persistent.rng).unwrap();
    let mut order = [0u16; 4];
    let config = momentum(3000, 4, 0.5);
    let mut learner = Learner::new(&mut net, &mut state, &mut order, SoftmaxCrossEntropy, &config).unwrap();
    let summary = learner
        .fit(data, |m, _| {
            if f64::from(m.train.loss) < XOR_MAX_LOSS { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
        })
        .unwrap();
    assert!(summary.stopped_early, "loss still {} after {} epochs", summary.last.train.loss, summary.epochs);

    let mut scratch = Default::default();
    for (x, &label) in XOR_INPUTS.iter().zip(&XOR_LABELS) {
        assert_eq!(predict_class(&net, SoftmaxCrossEntropy, x, &mut scratch), Ok(label), "XOR{x:?}");
    }
    let metrics = evaluate(&net, &mut scratch, SoftmaxCrossEntropy, data).unwrap();
    assert_eq!(metrics.accuracy, 1.0);
    assert_eq!(metrics.samples, 4);
}

type MoonsNet = layers![Dense<f32, 2, 16, Tanh>, Dense<f32, 16, 16, Tanh>, Dense<f32, 16, 2>];

/// 400 points, noise 0.12; the first 300 train, the last 100 are held out.
fn moons() -> (Vec<[f32; 2]>, Vec<usize>) {
    two_moons(&mut rng(2024), 400, 0.12)
}
const MOONS_TRAIN: usize = 300;

#[test]
fn two_moons_generalise_to_held_out_points() {
    let (inputs, labels) = moons();
    let train_set = Dataset::new(&inputs[..MOONS_TRAIN], &labels[..MOONS_TRAIN]).unwrap();
    let test_set = Dataset::new(&inputs[MOONS_TRAIN..], &labels[MOONS_TRAIN..]).unwrap();

    let mut net = MoonsNet::default();
    let mut state = TrainState::new();
    state.persistent.rng = rng(5);
    net.initialize(Init::GlorotUniform, &mut state.persistent.rng).unwrap();
    let mut order = vec![0u16; MOONS_TRAIN];
    let mut scratch = Default::default();
    let before = evaluate(&net, &mut scratch, SoftmaxCrossEntropy, test_set).unwrap();

    let config = momentum(150, 16, 0.1);
    let mut learner = Learner::new(&mut net, &mut state, &mut order, SoftmaxCrossEntropy, &config).unwrap();
    let summary = learner.fit(train_set, |_, _| ControlFlow::Continue(())).unwrap();
    assert_eq!(summary.epochs, 150);
    assert!(!summary.stopped_early);

    let after = evaluate(&net, &mut scratch, SoftmaxCrossEntropy, test_set).unwrap();
    assert_eq!(after.samples, 400 - MOONS_TRAIN);
    assert!(
        f64::from(after.accuracy) >= MOONS_MIN_TEST_ACCURACY,
        "held-out accuracy {} (train {}, before training {})",
        after.accuracy,
        summary.last.train.accuracy,
        before.accuracy
    );
    assert!(after.loss < before.loss);
}

#[test]
fn quadratic_loss_fits_a_sine() {
    type Net = layers![Dense<f32, 1, 16, Tanh>, Dense<f32, 16, 1>];
    let (inputs, targets) = sine(101);
    // Even-indexed points train, odd-indexed ones (between them) are held out.
    let pick = |parity: usize| -> (Vec<[f32; 1]>, Vec<[f32; 1]>) {
        inputs.iter().zip(&targets).enumerate().filter(|(i, _)| i % 2 == parity).map(|(_, (x, y))| (*x, *y)).unzip()
    };
    let (train_x, train_y) = pick(0);
    let (test_x, test_y) = pick(1);
    let train_set = Dataset::new(&train_x, &train_y).unwrap();
    let test_set = Dataset::new(&test_x, &test_y).unwrap();

    let mut net = Net::default();
    let mut state = TrainState::new();
    state.persistent.rng = rng(9);
    // Weights on (−2, 2): with a single input on [−1, 1], Glorot's range
    // √(6/17) ≈ 0.6 leaves every tanh unit nearly linear, so the bends the
    // sine needs would first have to be learned from small weights.
    net.initialize(Init::Uniform(2.0), &mut state.persistent.rng).unwrap();
    let mut order = vec![0u16; train_x.len()];
    let config = momentum(1000, 8, 0.05);
    let mut learner = Learner::new(&mut net, &mut state, &mut order, Quadratic, &config).unwrap();
    learner.fit(train_set, |_, _| ControlFlow::Continue(())).unwrap();

    let mut scratch = Default::default();
    let metrics = evaluate(&net, &mut scratch, Quadratic, test_set).unwrap();
    // The quadratic loss is ½(a − y)² per sample, so the MSE is twice the mean loss.
    let mse = 2.0 * f64::from(metrics.loss);
    // Recompute the MSE independently of the loss implementation.
    let direct: f64 = test_x
        .iter()
        .zip(&test_y)
        .map(|(x, y)| {
            let out = net.forward(x, &mut scratch);
            f64::from(out[0] - y[0]).powi(2)
        })
        .sum::<f64>()
        / test_x.len() as f64;
    assert!(
        (mse - direct).abs() <= mse_agreement_relative(test_x.len()) * direct,
        "loss-based MSE {mse}, direct {direct}"
    );
    assert!(mse < SINE_MAX_MSE, "held-out MSE {mse}");
}

#[test]
fn frozen_first_layer_fine_tuning_improves_and_leaves_it_untouched() {
    let (inputs, labels) = moons();
    let train_set = Dataset::new(&inputs[..MOONS_TRAIN], &labels[..MOONS_TRAIN]).unwrap();
    let test_set = Dataset::new(&inputs[MOONS_TRAIN..], &labels[MOONS_TRAIN..]).unwrap();

    // Pre-train a whole network briefly; its first layer becomes the frozen feature extractor.
    // One stream throughout: pre-training's initialisation and shuffles, then
    // the head's initialisation and the fine-tuning's shuffles.
    let mut rng = rng(77);
    let mut pretrained = MoonsNet::default();
    pretrained.initialize(Init::GlorotUniform, &mut rng).unwrap();
    let mut order = vec![0u16; MOONS_TRAIN];
    let mut pretraining = TrainState::new();
    pretraining.persistent.rng = rng;
    let config = momentum(20, 16, 0.1);
    Learner::new(&mut pretrained, &mut pretraining, &mut order, SoftmaxCrossEntropy, &config)
        .unwrap()
        .fit(train_set, |_, _| ControlFlow::Continue(()))
        .unwrap();
    let mut rng = pretraining.persistent.rng;
    let features: Dense<f32, 2, 16, Tanh> = pretrained.head;
    let features_bits = bits_f32(&features);

    type Tuned<'a> = layers![Frozen<'a, f32, 2, 16, Tanh>, Dense<f32, 16, 16, Tanh>, Dense<f32, 16, 2>];
    let mut net: Tuned<'_> = Chain::new(Frozen(&features), Default::default());
    // Fresh trainable layers; `initialize` must skip the frozen one.
    net.initialize(Init::GlorotUniform, &mut rng).unwrap();
    assert_eq!(bits_f32(&features), features_bits);
    assert_eq!(<Tuned<'_> as Network>::PARAMETERS, 16 * 16 + 16 + 16 * 2 + 2);

    let mut scratch = Default::default();
    let before = evaluate(&net, &mut scratch, SoftmaxCrossEntropy, test_set).unwrap();
    let trainable_before = bits_f32(&net.tail);
    let mut state = TrainState::<Tuned<'_>>::new();
    state.persistent.rng = rng;
    let config = momentum(60, 16, 0.1);
    Learner::new(&mut net, &mut state, &mut order, SoftmaxCrossEntropy, &config)
        .unwrap()
        .fit(train_set, |_, _| ControlFlow::Continue(()))
        .unwrap();
    let after = evaluate(&net, &mut scratch, SoftmaxCrossEntropy, test_set).unwrap();

    assert!(
        f64::from(after.loss) < FINE_TUNE_MAX_LOSS_RATIO * f64::from(before.loss),
        "held-out loss {} -> {} (accuracy {} -> {})",
        before.loss,
        after.loss,
        before.accuracy,
        after.accuracy
    );
    assert_ne!(bits_f32(&net.tail), trainable_before, "the trainable layers did not move");
    assert_eq!(bits_f32(&features), features_bits, "the frozen layer changed");
    assert_eq!(bits_f32(net.head.0), features_bits, "the network reads a different frozen layer");
}
