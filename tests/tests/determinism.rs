//! Reproducibility and the optimizer's update rules.
//!
//! * The same seed gives bit-identical `f32` weights; another seed does not.
//! * Nesterov, L1, L2 and decay each change the trained weights, in the
//!   direction they should.
//! * One and two steps of SGD, classical and Nesterov momentum on a one-layer
//!   network match, exactly, the update rules documented in `core/src/optim.rs`
//!   (every rule against its reference formula: `optimizers.rs`).
//! * Freezing layers in front of trainable ones leaves those layers' gradient
//!   bits unchanged (behind a frozen front, backprop stops early).
//! * Forward and gradient bits follow the documented summation order whether
//!   or not the core skips zero inputs (it does on devices, and on hosts in
//!   wide layers), so host and device compute the same bits. All inputs are dyadic rationals
//!   with few bits, so every intermediate value is exact in `f64` and the
//!   comparison is `==`, independent of the order of operations.

mod common;

use std::ops::ControlFlow;

use common::data::two_moons;
use common::params::bits_f32;
use common::rng;
use common::with_optimizer;
use mlp_core::activation::{Activation, Identity, Relu, Tanh};
use mlp_core::loss::{Quadratic, SoftmaxCrossEntropy};
use mlp_core::optim::{Momentum, Nesterov, Optimizer, Sgd};
use mlp_core::schedule::{Schedule, Shape};
use mlp_core::{
    Chain, Dataset, Dense, DenseGradients, EpochMetrics, Frozen, Init, Learner, Network, TrainConfig, TrainState,
    Zeroed, accumulate_sample, layers,
};

type Net = layers![Dense<f32, 2, 12, Tanh>, Dense<f32, 12, 8, Relu>, Dense<f32, 8, 2>];

/// Momentum 0.9 at a constant 0.1, 6 epochs of batches of 10.
const BASELINE: TrainConfig =
    TrainConfig { epochs: 6, batch_size: 10, schedule: Schedule::constant(0.1), ..TrainConfig::DEFAULT };

/// Initialises from `init_seed`, trains on 200 moons points with shuffling
/// from `shuffle_seed`, and returns the network and each epoch's metrics.
fn trained<O: Optimizer>(config: TrainConfig<O>, init_seed: u64, shuffle_seed: u64) -> (Net, Vec<EpochMetrics<f32>>) {
    let (inputs, labels) = two_moons(&mut rng(99), 200, 0.15);
    let data = Dataset::new(&inputs, &labels).unwrap();
    let mut net = Net::default();
    net.initialize(Init::GlorotUniform, &mut rng(init_seed)).unwrap();
    let mut state = TrainState::<Net, O>::new();
    state.persistent.rng = rng(shuffle_seed);
    let mut order = vec![0u16; inputs.len()];
    let mut history = Vec::new();
    let mut learner = Learner::new(&mut net, &mut state, &mut order, SoftmaxCrossEntropy, &config).unwrap();
    learner
        .fit(data, |m, _| {
            history.push(*m);
            ControlFlow::Continue(())
        })
        .unwrap();
    (net, history)
}

/// Weights only (biases are not regularised), as `f64`.
fn weights(net: &Net) -> Vec<f64> {
    let mut w: Vec<f32> = net.head.weights.as_slice().to_vec();
    w.extend_from_slice(net.tail.head.weights.as_slice());
    w.extend_from_slice(net.tail.tail.weights.as_slice());
    w.into_iter().map(f64::from).collect()
}

#[test]
fn same_seed_gives_bit_identical_weights() {
    let (a, history_a) = trained(BASELINE, 1, 2);
    let (b, history_b) = trained(BASELINE, 1, 2);
    assert_eq!(bits_f32(&a), bits_f32(&b));
    let loss_bits = |h: &[EpochMetrics<f32>]| h.iter().map(|m| m.train.loss.to_bits()).collect::<Vec<_>>();
    assert_eq!(loss_bits(&history_a), loss_bits(&history_b));
    assert_eq!(history_a.len(), 6);
    // Training moved the weights at all (otherwise the comparisons above prove little).
    let mut untrained = Net::default();
    untrained.initialize(Init::GlorotUniform, &mut rng(1)).unwrap();
    assert_ne!(bits_f32(&a), bits_f32(&untrained));
}

#[test]
fn different_seeds_give_different_weights() {
    let (base, _) = trained(BASELINE, 1, 2);
    let (other_init, _) = trained(BASELINE, 3, 2);
    let (other_shuffle, _) = trained(BASELINE, 1, 4);
    let differing = |x: &Net, y: &Net| bits_f32(x).iter().zip(bits_f32(y)).filter(|(p, q)| **p != *q).count();
    // Not just one stray bit: nearly every parameter differs.
    let n = Net::PARAMETERS;
    assert!(differing(&base, &other_init) > n / 2, "{} of {n}", differing(&base, &other_init));
    assert!(differing(&base, &other_shuffle) > n / 2, "{} of {n}", differing(&base, &other_shuffle));
}

#[test]
fn nesterov_changes_the_result() {
    let (base, _) = trained(BASELINE, 1, 2);
    let (nesterov, _) = trained(with_optimizer(&BASELINE, Nesterov { momentum: 0.9 }), 1, 2);
    assert_ne!(bits_f32(&base), bits_f32(&nesterov));
}

#[test]
fn l2_changes_the_result_and_shrinks_the_weights() {
    let (base, _) = trained(BASELINE, 1, 2);
    let (l2, _) = trained(TrainConfig { l2: 1.0, ..BASELINE }, 1, 2);
    assert_ne!(bits_f32(&base), bits_f32(&l2));
    let norm2 = |n: &Net| weights(n).iter().map(|w| w * w).sum::<f64>();
    assert!(norm2(&l2) < norm2(&base), "‖W‖² {} with L2 vs {} without", norm2(&l2), norm2(&base));
}

#[test]
fn l1_changes_the_result_and_shrinks_the_weights() {
    let (base, _) = trained(BASELINE, 1, 2);
    let (l1, _) = trained(TrainConfig { l1: 0.1, ..BASELINE }, 1, 2);
    assert_ne!(bits_f32(&base), bits_f32(&l1));
    let norm1 = |n: &Net| weights(n).iter().map(|w| w.abs()).sum::<f64>();
    assert!(norm1(&l1) < norm1(&base), "‖W‖₁ {} with L1 vs {} without", norm1(&l1), norm1(&base));
}

#[test]
fn decay_changes_the_result_and_follows_inverse_time() {
    let (base, base_history) = trained(BASELINE, 1, 2);
    let schedule = Schedule { lr: 0.1, shape: Shape::InverseTime { decay: 0.5 }, warmup: 0 };
    let (decayed, history) = trained(TrainConfig { schedule, ..BASELINE }, 1, 2);
    assert_ne!(bits_f32(&base), bits_f32(&decayed));
    // The first epoch (t = 0) is undecayed, so its running loss is the same.
    assert_eq!(history[0].train.loss.to_bits(), base_history[0].train.loss.to_bits());
    for (t, m) in history.iter().enumerate() {
        assert_eq!(m.epoch, t as u32 + 1);
        // Reported as the f32 network uses it: rounded from the f64 schedule.
        assert_eq!(m.learning_rate, 0.1f32 / (1.0 + 0.5 * t as f32), "epoch {t}");
        assert_eq!(base_history[t].learning_rate, 0.1f32);
    }
}

// ---------------------------------------------------------------- hand-computed steps

type One = Dense<f64, 3, 1>;

/// `w = [1/2, −1/4, 0]` (one weight exactly 0, where sign w = 0), `b = 1/8`.
fn one_layer() -> One {
    Dense::from_columns([[0.5], [-0.25], [0.0]], [0.125])
}

/// Two samples with quadratic-loss targets.
const X: [[f64; 3]; 2] = [[1.0, 2.0, 0.5], [2.0, -1.0, -1.0]];
const Y: [[f64; 1]; 2] = [[1.0], [0.0]];

/// η₀ = 1/2, μ = 1/2, l2 = 1/2, l1 = 1/4, d = 1, so η = 1/2 in epoch 0 and
/// 1/4 in epoch 1; two epochs of one full batch.
const SGD: TrainConfig = TrainConfig {
    epochs: 2,
    batch_size: 2,
    optimizer: Momentum { momentum: 0.5 },
    schedule: Schedule { lr: 0.5, shape: Shape::InverseTime { decay: 1.0 }, warmup: 0 },
    l2: 0.5,
    l1: 0.25,
    clip_norm: 0.0,
    frozen_layers: 0,
    dropout: mlp_core::dropout::Dropout::NONE,
};

fn params(net: &One) -> [f64; 4] {
    [net.weights[(0, 0)], net.weights[(0, 1)], net.weights[(0, 2)], net.biases[0]]
}

fn flat(v: &DenseGradients<f64, 3, 1>) -> [f64; 4] {
    [v.weights[(0, 0)], v.weights[(0, 1)], v.weights[(0, 2)], v.biases[0]]
}

#[test]
fn one_sgd_step_matches_the_documented_rule() {
    let mut net = one_layer();
    let mut state = TrainState::<One>::new();
    // z₁ = 1/2 − 1/2 + 0 + 1/8 = 1/8,   e₁ = z₁ − 1 = −7/8,  L₁ = ½e₁² = 49/128
    // z₂ = 1 + 1/4 + 0 + 1/8 = 11/8,    e₂ = 11/8,           L₂ = 121/128
    let (l1, right1) = accumulate_sample(&net, &mut state, Quadratic, &X[0], &Y[0]);
    let (l2, _) = accumulate_sample(&net, &mut state, Quadratic, &X[1], &Y[1]);
    assert_eq!((l1, l2), (49.0 / 128.0, 121.0 / 128.0));
    // One output: class 1 iff output ≥ 1/2. z₁ = 1/8 → class 0, target 1 → class 1.
    assert!(!right1);
    // Σ∇w = e₁x₁ + e₂x₂ = [−7/8 + 11/4, −7/4 − 11/8, −7/16 − 11/8] = [15/8, −25/8, −29/16]; Σ∇b = 1/2.
    let g = &state.gradients;
    assert_eq!(
        [g.weights[(0, 0)], g.weights[(0, 1)], g.weights[(0, 2)], g.biases[0]],
        [15.0 / 8.0, -25.0 / 8.0, -29.0 / 16.0, 0.5]
    );

    // The order is read only by whole epochs; a single step needs none.
    let mut order: [usize; 0] = [];
    Learner::new(&mut net, &mut state, &mut order, Quadratic, &SGD).unwrap().step(2);
    assert_eq!((state.persistent.steps, state.persistent.epoch), (1, 0));
    // g = (Σ∇ + l2·w + l1·sign w) / B with B = 2, biases unregularised:
    //   g_w0 = (15/8 + 1/4 + 1/4) / 2 = 19/16
    //   g_w1 = (−25/8 − 1/8 − 1/4) / 2 = −7/4
    //   g_w2 = (−29/16 + 0 + 0) / 2 = −29/32      (sign 0 = 0)
    //   g_b  = (1/2) / 2 = 1/4
    // v = μ·0 − ηg with η = 1/2:  [−19/32, 7/8, 29/64, −1/8];  w += v.
    assert_eq!(flat(&state.persistent.optimizer[0]), [-19.0 / 32.0, 7.0 / 8.0, 29.0 / 64.0, -1.0 / 8.0]);
    assert_eq!(params(&net), [0.5 - 19.0 / 32.0, -0.25 + 7.0 / 8.0, 29.0 / 64.0, 0.0]);
    // The gradient buffer is cleared for the next batch.
    let g = &state.gradients;
    assert!(g.weights.iter().chain(g.biases.iter()).all(|&x| x == 0.0));
}

/// The parameters after each of two epochs, the state buffers, the metrics.
type TwoEpochs = ([[f64; 4]; 2], Vec<[f64; 4]>, Vec<EpochMetrics<f64>>);

/// Runs two epochs of one full batch each through a `Learner` and returns
/// the parameters after each epoch, the final state buffers (none for plain
/// SGD, the velocity for momentum) and the epoch metrics.
fn two_epochs<O: Optimizer>(config: TrainConfig<O>) -> TwoEpochs
where
    O::State<DenseGradients<f64, 3, 1>>: AsRef<[DenseGradients<f64, 3, 1>]>,
{
    let mut net = one_layer();
    let mut state = TrainState::<One, O>::new();
    state.persistent.rng = rng(0);
    let data = Dataset::new(&X, &Y).unwrap();
    let mut order = [0usize; 2];
    let mut after = Vec::new();
    let mut history = Vec::new();
    // Shuffling cannot matter: 0 + a + b and 0 + b + a are the same float.
    let mut learner = Learner::new(&mut net, &mut state, &mut order, Quadratic, &config).unwrap();
    learner
        .fit(data, |m, n| {
            after.push(params(n));
            history.push(*m);
            ControlFlow::Continue(())
        })
        .unwrap();
    assert_eq!(params(&net), after[1]);
    assert_eq!((state.persistent.steps, state.persistent.epoch), (2, 2));
    ([after[0], after[1]], state.persistent.optimizer.as_ref().iter().map(flat).collect(), history)
}

#[test]
fn two_classical_momentum_steps_with_decay_match_exact_arithmetic() {
    let (after, v, history) = two_epochs(SGD);
    let [v] = v[..] else { panic!("momentum keeps one buffer, not {}", v.len()) };
    // Epoch 0: as in `one_sgd_step_matches_the_documented_rule`.
    assert_eq!(after[0], [-3.0 / 32.0, 5.0 / 8.0, 29.0 / 64.0, 0.0]);
    // Epoch 1, η = η₀/(1 + d·1) = 1/4: Σ∇ = [−275/128, 65/32, 373/256; −113/128],
    // v = μv − ηg, w += v (worked out in exact rational arithmetic).
    assert_eq!(v, [9.0 / 1024.0, 29.0 / 256.0, -31.0 / 2048.0, 49.0 / 1024.0]);
    assert_eq!(after[1], [-87.0 / 1024.0, 189.0 / 256.0, 897.0 / 2048.0, 49.0 / 1024.0]);
    assert_eq!(history.iter().map(|m| m.learning_rate).collect::<Vec<_>>(), [0.5, 0.25]);
    // Mean quadratic loss of each epoch, measured before its step.
    assert_eq!(history[0].train.loss, 85.0 / 128.0);
    assert_eq!(history[1].train.loss, 28645.0 / 65536.0);
}

#[test]
fn two_nesterov_steps_with_decay_match_exact_arithmetic() {
    let (after, v, _) = two_epochs(with_optimizer(&SGD, Nesterov { momentum: 0.5 }));
    let [v] = v[..] else { panic!("Nesterov keeps one buffer, not {}", v.len()) };
    // Epoch 0: v = −ηg = [−19/32, 7/8, 29/64, −1/8] and w += μv − ηg = 3/2·v.
    assert_eq!(after[0], [0.5 - 57.0 / 64.0, -0.25 + 21.0 / 16.0, 87.0 / 128.0, 0.125 - 3.0 / 16.0]);
    // Epoch 1, η = 1/4 (exact rational arithmetic).
    assert_eq!(v, [571.0 / 2048.0, -121.0 / 512.0, -957.0 / 4096.0, 275.0 / 2048.0]);
    assert_eq!(after[1], [1329.0 / 4096.0, 277.0 / 1024.0, 841.0 / 8192.0, 825.0 / 4096.0]);
}

#[test]
fn plain_sgd_without_momentum_is_w_minus_eta_g() {
    let config = TrainConfig { l1: 0.0, l2: 0.0, schedule: Schedule::constant(0.5), ..SGD };
    let (after, v, _) = two_epochs(with_optimizer(&config, Sgd));
    // Epoch 0: g = Σ∇/2 = [15/16, −25/16, −29/32; 1/4] and w −= g/2.
    assert_eq!(after[0], [1.0 / 32.0, 17.0 / 32.0, 29.0 / 64.0, 0.0]);
    // Epoch 1, still η = 1/2 (exact rational arithmetic); plain SGD keeps no
    // velocity at all.
    assert_eq!(after[1], [211.0 / 512.0, 9.0 / 64.0, 187.0 / 1024.0, 77.0 / 512.0]);
    assert!(v.is_empty());
    assert_eq!(Sgd::BUFFERS, 0);
}

// ---------------------------------------------------------------- summation order

/// `a_o = f(((b_o + 0) + w_o0·x_0) + w_o1·x_1 + …)`: the documented order, with
/// every input added, zero or not.
fn reference_forward<A: Activation, const I: usize, const O: usize>(
    layer: &Dense<f32, I, O, A>,
    x: &[f32; I],
) -> [f32; O] {
    std::array::from_fn(|o| {
        let mut z = layer.biases[o] + 0.0;
        for (j, &xj) in x.iter().enumerate() {
            z += layer.weights[(o, j)] * xj;
        }
        A::apply(z)
    })
}

/// Random inputs where about half the entries are `+0` or `−0`, plus an all-zero sample.
fn sparse_inputs<const I: usize>(seed: u64) -> Vec<[f32; I]> {
    let mut rng = rng(seed);
    let mut samples: Vec<[f32; I]> = (0..16)
        .map(|_| {
            std::array::from_fn(|_| match (common::uniform(&mut rng, 0.0, 4.0)) as u32 {
                0 => 0.0,
                1 => -0.0,
                _ => common::uniform(&mut rng, -1.0, 1.0) as f32,
            })
        })
        .collect();
    samples.push([0.0; I]);
    samples.push([-0.0; I]);
    samples
}

/// A layer with random weights and biases, some biases exactly `−0` and `+0`.
fn sparse_layer<A: Activation, const I: usize, const O: usize>(seed: u64) -> Dense<f32, I, O, A> {
    let mut layer = Dense::<f32, I, O, A>::default();
    common::params::randomize(&mut layer, &mut rng(seed), 1.0);
    layer.biases[0] = -0.0;
    layer.biases[1] = 0.0;
    layer
}

/// The core may branch around zero inputs (on devices, and on hosts in layers
/// of 64 or more outputs) or not; both must give the bits of the documented
/// order, forward and in the weight gradients, or host and device disagree.
fn assert_zero_skipping_is_invisible<A: Activation, const I: usize, const O: usize>() {
    let layer = sparse_layer::<A, I, O>(31);
    for x in sparse_inputs::<I>(32) {
        let mut activations = <Dense<f32, I, O, A> as Network>::Activations::zeroed();
        let out = *layer.forward(&x, &mut activations);
        let expected = reference_forward(&layer, &x);
        assert_eq!(out.map(f32::to_bits), expected.map(f32::to_bits), "{} forward, {O} outputs, x = {x:?}", A::NAME);

        // One sample's gradient with the quadratic loss against target 0:
        // δ_o = a_o·f'(a_o), ∂w_oj = 0 + δ_o·x_j, ∂b_o = 0 + δ_o.
        let mut state = TrainState::<Dense<f32, I, O, A>>::new();
        accumulate_sample(&layer, &mut state, Quadratic, &x, &[0.0; O]);
        for (o, &a) in expected.iter().enumerate() {
            let delta = a * A::derivative_from_output(a);
            assert_eq!(state.gradients.biases[o].to_bits(), (0.0 + delta).to_bits(), "bias gradient {o}");
            for (j, &xj) in x.iter().enumerate() {
                assert_eq!(
                    state.gradients.weights[(o, j)].to_bits(),
                    (0.0 + delta * xj).to_bits(),
                    "weight gradient ({o}, {j})"
                );
            }
        }
    }
}

#[test]
fn skipping_zero_inputs_never_changes_the_bits() {
    // Narrow layers (no skipping on hosts) and wide ones (skipping everywhere).
    assert_zero_skipping_is_invisible::<Identity, 20, 8>();
    assert_zero_skipping_is_invisible::<Relu, 20, 8>();
    assert_zero_skipping_is_invisible::<Identity, 20, 96>();
    assert_zero_skipping_is_invisible::<Tanh, 20, 96>();
    assert_zero_skipping_is_invisible::<Relu, 20, 64>();
}

// ---------------------------------------------------------------- frozen layers

fn gradient_bits<const I: usize, const O: usize>(g: &DenseGradients<f32, I, O>) -> Vec<u32> {
    g.weights.iter().chain(g.biases.iter()).map(|v| v.to_bits()).collect()
}

/// Behind frozen front layers no gradient is needed past the first trainable
/// layer, so backprop stops there; the trainable layers must still get the
/// bits they get when every layer is trainable.
#[test]
fn frozen_front_layers_leave_the_trainable_gradients_unchanged() {
    type FrontFrozen<'a> = layers![Frozen<'a, f32, 2, 12, Tanh>, Dense<f32, 12, 8, Relu>, Dense<f32, 8, 2>];
    type TwoFrozen<'a> = layers![Frozen<'a, f32, 2, 12, Tanh>, Frozen<'a, f32, 12, 8, Relu>, Dense<f32, 8, 2>];
    let (inputs, labels) = two_moons(&mut rng(98), 64, 0.15);
    let mut net = Net::default();
    net.initialize(Init::GlorotUniform, &mut rng(5)).unwrap();
    let one: FrontFrozen<'_> = Chain::new(Frozen(&net.head), net.tail.clone());
    let two: TwoFrozen<'_> = Chain::new(Frozen(&net.head), Chain::new(Frozen(&net.tail.head), net.tail.tail.clone()));

    let mut all = TrainState::<Net>::new();
    let mut front = TrainState::<FrontFrozen<'_>>::new();
    let mut both = TrainState::<TwoFrozen<'_>>::new();
    // ∂L/∂(output of a frozen layer) with nothing trainable in front: never computed.
    front.scratch.deltas.head.fill(f32::NAN);
    both.scratch.deltas.head.fill(f32::NAN);
    both.scratch.deltas.tail.head.fill(f32::NAN);
    for (x, y) in inputs.iter().zip(&labels) {
        let expected = accumulate_sample(&net, &mut all, SoftmaxCrossEntropy, x, y);
        assert_eq!(accumulate_sample(&one, &mut front, SoftmaxCrossEntropy, x, y), expected);
        assert_eq!(accumulate_sample(&two, &mut both, SoftmaxCrossEntropy, x, y), expected);
    }
    let last = gradient_bits(&all.gradients.tail.tail);
    assert!(last.iter().any(|&b| f32::from_bits(b) != 0.0));
    assert_eq!(gradient_bits(&front.gradients.tail.head), gradient_bits(&all.gradients.tail.head));
    assert_eq!(gradient_bits(&front.gradients.tail.tail), last);
    assert_eq!(gradient_bits(&both.gradients.tail.tail), last);
    let untouched = |d: &[f32]| d.iter().all(|v| v.is_nan());
    assert!(untouched(front.scratch.deltas.head.as_slice()), "backprop went past the first trainable layer");
    assert!(untouched(both.scratch.deltas.head.as_slice()) && untouched(both.scratch.deltas.tail.head.as_slice()));
    assert!(!untouched(front.scratch.deltas.tail.head.as_slice()));
}
