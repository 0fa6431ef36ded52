//! Every update rule against its reference formula, written out here as
//! plain loops over a flat list of parameters (layer by layer, weights
//! column-major, then biases), for four steps, in `f32` and `f64`, without
//! and with L2, L1 and clipping by global norm.
//!
//! The test sets the summed gradient of a batch itself and takes one
//! `Learner::step`, so only the rule is under test. Its reference performs
//! the operations `core/src/optim.rs` documents in the order it documents
//! them: `ĝ = Σ∇ + (l2·w + l1·sign w)` for weights with L1, `Σ∇ + l2·w`
//! with L2 alone, `Σ∇` for biases and without penalties (the bits mlp-core
//! has always computed), `rate = η·(1/B)` for SGD, momentum and
//! Nesterov, `g = ĝ·(1/B)` for the adaptive rules, the clip norm summed in
//! walk order, and `βᵗ` by repeated squaring. So the comparison is of bits.

mod common;

use common::params::{Params, bits, grads, param_bits, randomize, values};
use common::{rng, uniform};
use mlp_core::activation::Tanh;
use mlp_core::loss::Quadratic;
use mlp_core::optim::{Adagrad, Adam, AdamW, Momentum, Nesterov, Optimizer, RmsProp, Sgd};
use mlp_core::schedule::Schedule;
use mlp_core::{Dense, Float, Learner, Network, TrainConfig, TrainState, layers};

type Net<T> = layers![Dense<T, 3, 4, Tanh>, Dense<T, 4, 2>];
type Grads<T> = <Net<T> as Network>::Gradients;

/// Trainable parameters of [`Net`]: 3·4 + 4 + 4·2 + 2.
const COUNT: usize = 26;

/// Whether flat index `k` of [`Net`] is a weight (penalised) or a bias (never).
fn is_weight(k: usize) -> bool {
    k < 12 || (16..24).contains(&k)
}

/// A rate that is not a power of two, and a batch that is not either, so
/// that `η·(1/B)` and `(η/B)` would differ if the order were not followed.
const LR: f64 = 0.02;
const BATCH: usize = 3;
const STEPS: u32 = 4;

/// The rules with their hyperparameters as written in a configuration.
#[derive(Clone, Copy, Debug)]
enum Rule {
    Sgd,
    Momentum(f64),
    Nesterov(f64),
    Adagrad { eps: f64 },
    RmsProp { rho: f64, eps: f64 },
    Adam { beta1: f64, beta2: f64, eps: f64, weight_decay: f64 },
}

/// `base^n` by repeated squaring, as documented for the bias corrections.
fn pow_by_squaring<T: Float>(base: T, mut n: u32) -> T {
    let (mut result, mut power) = (T::ONE, base);
    while n > 0 {
        if n % 2 == 1 {
            result *= power;
        }
        power *= power;
        n /= 2;
    }
    result
}

fn sign<T: Float>(w: T) -> T {
    if w > T::ZERO {
        T::ONE
    } else if w < T::ZERO {
        -T::ONE
    } else {
        T::ZERO
    }
}

/// The reference optimizer: flat parameters and state buffers.
struct Reference<T> {
    w: Vec<T>,
    buffers: Vec<Vec<T>>,
    t: u32,
}

impl<T: Float> Reference<T> {
    /// One step from the summed gradient `sum` of a batch of [`BATCH`];
    /// returns whether clipping scaled it.
    fn step(&mut self, rule: Rule, sum: &[T], l2: f64, l1: f64, clip: f64) -> bool {
        let (l2, l1, clip) = (T::from_f64(l2), T::from_f64(l1), T::from_f64(clip));
        let lr = T::from_f64(LR);
        self.t += 1;
        let penalised: Vec<T> = (0..COUNT)
            .map(|k| {
                let (g, w) = (sum[k], self.w[k]);
                if !is_weight(k) {
                    g
                } else if l1 != T::ZERO {
                    g + (l2 * w + l1 * sign(w))
                } else if l2 != T::ZERO {
                    g + l2 * w
                } else {
                    g
                }
            })
            .collect();
        let mut mean = T::ONE / T::from_count(BATCH);
        let mut rate = lr * mean;
        let mut clipped = false;
        if clip != T::ZERO {
            let mut squares = T::ZERO;
            for &g in &penalised {
                let g = g * mean;
                squares += g * g;
            }
            let norm = squares.sqrt();
            if norm > clip {
                let scale = clip / norm;
                mean *= scale;
                rate *= scale;
                clipped = true;
            }
        }
        let w = &mut self.w;
        match rule {
            Rule::Sgd => {
                for k in 0..COUNT {
                    w[k] -= rate * penalised[k];
                }
            }
            Rule::Momentum(mu) => {
                let mu = T::from_f64(mu);
                let v = &mut self.buffers[0];
                for k in 0..COUNT {
                    v[k] = mu * v[k] - rate * penalised[k];
                    w[k] += v[k];
                }
            }
            Rule::Nesterov(mu) => {
                let mu = T::from_f64(mu);
                let v = &mut self.buffers[0];
                for k in 0..COUNT {
                    let step = rate * penalised[k];
                    v[k] = mu * v[k] - step;
                    w[k] += mu * v[k] - step;
                }
            }
            Rule::Adagrad { eps } => {
                let eps = T::from_f64(eps);
                let s = &mut self.buffers[0];
                for k in 0..COUNT {
                    let g = penalised[k] * mean;
                    s[k] += g * g;
                    w[k] -= lr * g / (s[k].sqrt() + eps);
                }
            }
            Rule::RmsProp { rho, eps } => {
                let (rho, eps) = (T::from_f64(rho), T::from_f64(eps));
                let s = &mut self.buffers[0];
                for k in 0..COUNT {
                    let g = penalised[k] * mean;
                    s[k] = rho * s[k] + (T::ONE - rho) * (g * g);
                    w[k] -= lr * g / (s[k].sqrt() + eps);
                }
            }
            Rule::Adam { beta1, beta2, eps, weight_decay } => {
                let (beta1, beta2, eps) = (T::from_f64(beta1), T::from_f64(beta2), T::from_f64(eps));
                let weight_decay = T::from_f64(weight_decay);
                let correction1 = T::ONE - pow_by_squaring(beta1, self.t);
                let correction2 = T::ONE - pow_by_squaring(beta2, self.t);
                let [m, v] = &mut self.buffers[..] else { unreachable!("Adam keeps two buffers") };
                for k in 0..COUNT {
                    let g = penalised[k] * mean;
                    if weight_decay != T::ZERO {
                        w[k] *= T::ONE - lr * weight_decay;
                    }
                    m[k] = beta1 * m[k] + (T::ONE - beta1) * g;
                    v[k] = beta2 * v[k] + (T::ONE - beta2) * (g * g);
                    let m_hat = m[k] / correction1;
                    let v_hat = v[k] / correction2;
                    w[k] -= lr * m_hat / (v_hat.sqrt() + eps);
                }
            }
        }
        clipped
    }
}

/// A network with random parameters and a few exactly zero (where sign w = 0).
fn start<T: Float>() -> Net<T> {
    let mut net = Net::<T>::default();
    randomize(&mut net, &mut rng(1), 1.0);
    for k in [2, 13, 17] {
        *net.value_mut(k) = T::ZERO;
    }
    net
}

/// Runs `STEPS` steps of `optimizer` and of its reference from the same
/// network and gradients, comparing parameters and state after every step.
/// Returns how many steps clipping scaled.
fn compare<T, O>(optimizer: O, rule: Rule, l2: f64, l1: f64, clip: f64) -> u32
where
    T: Float,
    O: Optimizer,
    O::State<Grads<T>>: AsRef<[Grads<T>]>,
{
    let what = format!("{} in {}, l2 {l2}, l1 {l1}, clip {clip}", O::NAME, core::any::type_name::<T>());
    let mut net = start::<T>();
    let initial = param_bits(&net);
    let mut state = TrainState::<Net<T>, O>::new();
    let config = TrainConfig {
        epochs: 1,
        batch_size: BATCH,
        optimizer,
        schedule: Schedule::constant(LR),
        l2,
        l1,
        clip_norm: clip,
        frozen_layers: 0,
        dropout: mlp_core::dropout::Dropout::NONE,
    };
    let mut reference = Reference { w: values(&net), buffers: vec![vec![T::ZERO; COUNT]; O::BUFFERS], t: 0 };
    let mut gradients = rng(2);
    let mut clipped = 0;
    for step in 1..=STEPS {
        // Some gradients exactly zero, as for a unit that no sample activated.
        let sum: Vec<T> = (0..COUNT)
            .map(|k| if k % 7 == 3 { T::ZERO } else { T::from_f64(uniform(&mut gradients, -2.0, 2.0)) })
            .collect();
        for (k, &g) in sum.iter().enumerate() {
            *Net::<T>::grad_mut(&mut state.gradients, k) = g;
        }
        let mut order: [u16; 0] = [];
        Learner::new(&mut net, &mut state, &mut order, Quadratic, &config).unwrap().step(BATCH);
        clipped += u32::from(reference.step(rule, &sum, l2, l1, clip));

        assert_eq!(param_bits(&net), bits(&reference.w), "{what}: parameters after step {step}");
        let buffers = state.persistent.optimizer.as_ref();
        assert_eq!(buffers.len(), O::BUFFERS, "{what}");
        for (i, buffer) in buffers.iter().enumerate() {
            let ours = bits(&grads::<T, Net<T>>(buffer));
            assert_eq!(ours, bits(&reference.buffers[i]), "{what}: state buffer {i} after step {step}");
        }
        assert!(grads::<T, Net<T>>(&state.gradients).iter().all(|&g| g == T::ZERO), "{what}: gradient not cleared");
        assert_eq!(state.persistent.steps, step, "{what}: step count");
    }
    assert_ne!(param_bits(&net), initial, "{what}: nothing moved");
    clipped
}

/// Every penalty and clipping combination for one rule, in one float type.
fn every_setting<T, O>(optimizer: O, rule: Rule)
where
    T: Float,
    O: Optimizer,
    O::State<Grads<T>>: AsRef<[Grads<T>]>,
{
    for (l2, l1) in [(0.0, 0.0), (0.1, 0.0), (0.0, 0.05), (0.1, 0.05)] {
        assert_eq!(compare::<T, O>(optimizer, rule, l2, l1, 0.0), 0);
        // The mean gradient's norm is about 2: a limit of 0.5 clips every
        // step, one of 100 none (and must then change nothing).
        assert_eq!(compare::<T, O>(optimizer, rule, l2, l1, 0.5), STEPS, "{} clipped", O::NAME);
        assert_eq!(compare::<T, O>(optimizer, rule, l2, l1, 100.0), 0);
    }
}

/// Each rule with its defaults and with hyperparameters far from them.
fn every_rule<T: Float>() {
    every_setting::<T, _>(Sgd, Rule::Sgd);
    for momentum in [Momentum::DEFAULT.momentum, 0.5] {
        every_setting::<T, _>(Momentum { momentum }, Rule::Momentum(momentum));
        every_setting::<T, _>(Nesterov { momentum }, Rule::Nesterov(momentum));
    }
    for eps in [Adagrad::DEFAULT.eps, 0.01] {
        every_setting::<T, _>(Adagrad { eps }, Rule::Adagrad { eps });
    }
    for RmsProp { rho, eps } in [RmsProp::DEFAULT, RmsProp { rho: 0.8, eps: 1e-3 }] {
        every_setting::<T, _>(RmsProp { rho, eps }, Rule::RmsProp { rho, eps });
    }
    for Adam { beta1, beta2, eps } in
        [Adam::DEFAULT, Adam { beta1: 0.7, beta2: 0.95, eps: 1e-3 }, Adam { beta1: 0.0, beta2: 0.5, eps: 0.1 }]
    {
        every_setting::<T, _>(Adam { beta1, beta2, eps }, Rule::Adam { beta1, beta2, eps, weight_decay: 0.0 });
    }
    for AdamW { beta1, beta2, eps, weight_decay } in
        [AdamW::DEFAULT, AdamW { beta1: 0.7, beta2: 0.95, eps: 1e-3, weight_decay: 0.5 }]
    {
        every_setting::<T, _>(
            AdamW { beta1, beta2, eps, weight_decay },
            Rule::Adam { beta1, beta2, eps, weight_decay },
        );
    }
}

#[test]
fn every_rule_matches_its_reference_formula_in_f32() {
    every_rule::<f32>();
}

#[test]
fn every_rule_matches_its_reference_formula_in_f64() {
    every_rule::<f64>();
}

/// AdamW with no decay is Adam, bit for bit.
#[test]
fn adamw_without_weight_decay_is_adam() {
    let adam = Adam { beta1: 0.7, beta2: 0.95, eps: 1e-3 };
    let adamw = AdamW { beta1: 0.7, beta2: 0.95, eps: 1e-3, weight_decay: 0.0 };
    let rule = Rule::Adam { beta1: 0.7, beta2: 0.95, eps: 1e-3, weight_decay: 0.0 };
    compare::<f32, _>(adam, rule, 0.1, 0.05, 0.0);
    compare::<f32, _>(adamw, rule, 0.1, 0.05, 0.0);
}

/// Bias correction, checked without the reference: for a gradient that
/// stays the same, `m̂ = g` and `v̂ = g²` at every step, so each step moves a
/// parameter by `η·g/(|g| + ε) ≈ η·sign g`. Without the correction the first
/// step would be `η·(1 − β₁)/√(1 − β₂) ≈ 3.2·η`.
fn adam_steps_are_the_learning_rate<T: Float>(tolerance: f64) {
    let mut net = start::<T>();
    let mut state = TrainState::<Net<T>, Adam>::new();
    let config = TrainConfig {
        batch_size: 1,
        schedule: Schedule::constant(LR),
        ..TrainConfig::new(Adam { eps: 1e-30, ..Adam::DEFAULT })
    };
    let gradient: Vec<f64> = (0..COUNT).map(|k| if k % 5 == 1 { 0.0 } else { (k as f64 - 12.5) / 4.0 }).collect();
    for step in 1..=3 {
        let before = values(&net);
        for (k, &g) in gradient.iter().enumerate() {
            *Net::<T>::grad_mut(&mut state.gradients, k) = T::from_f64(g);
        }
        let mut order: [u16; 0] = [];
        Learner::new(&mut net, &mut state, &mut order, Quadratic, &config).unwrap().step(1);
        for (k, (after, before)) in values(&net).iter().zip(&before).enumerate() {
            let moved = before.to_f64() - after.to_f64();
            let expected = LR * gradient[k].signum() * f64::from(u8::from(gradient[k] != 0.0));
            assert!(
                (moved - expected).abs() <= tolerance * LR,
                "step {step}, parameter {k}: moved by {moved}, expected {expected}"
            );
        }
    }
}

#[test]
fn adam_bias_correction_makes_every_step_the_learning_rate() {
    // A few roundings of the moments, the square root and the divisions,
    // each relative to the step; plus ε/|g| ≤ 1e-30·4 (negligible), and the
    // rounding of the parameter itself (|w| ≤ 1, so ε_T/η relative to η).
    adam_steps_are_the_learning_rate::<f32>(1e-5);
    adam_steps_are_the_learning_rate::<f64>(1e-13);
}
