//! Property tests: softmax, the cross-entropy losses and `predict` hold up for
//! arbitrary inputs, including huge finite logits, NaN and infinite inputs and
//! wrong slice lengths.

mod common;

use common::tolerances::{LOSS_AGREEMENT_ULPS, SOFTMAX_SUM_ULPS_PER_TERM};
use mlp_core::activation::{Relu, Tanh, softmax};
use mlp_core::loss::{Loss, SigmoidCrossEntropy, SoftmaxCrossEntropy};
use mlp_core::{Dense, Error, Network, layers, predict, predict_class, predict_probabilities};
use proptest::prelude::*;

const N: usize = 7;

/// Any finite `f32`: normal, subnormal, zero, either sign, up to `±f32::MAX`.
fn finite_f32() -> impl Strategy<Value = f32> {
    prop_oneof![
        prop::num::f32::NORMAL | prop::num::f32::SUBNORMAL | prop::num::f32::ZERO,
        -100.0f32..100.0,
        Just(f32::MAX),
        Just(f32::MIN),
    ]
}

/// Any finite `f64`, with the same mix.
fn finite_f64() -> impl Strategy<Value = f64> {
    prop_oneof![
        prop::num::f64::NORMAL | prop::num::f64::SUBNORMAL | prop::num::f64::ZERO,
        -100.0f64..100.0,
        Just(f64::MAX),
        Just(f64::MIN),
    ]
}

/// Logits whose true loss is representable: `|z| ≤ f32::MAX / (2N)`, so no
/// sum or difference of two of them, nor N of them, overflows.
fn large_logit() -> impl Strategy<Value = f32> {
    let bound = f32::MAX / (2 * N) as f32;
    prop_oneof![-bound..bound, -1e4f32..1e4, -10.0f32..10.0, Just(bound), Just(-bound)]
}

macro_rules! softmax_is_a_distribution {
    ($name:ident, $t:ty, $strategy:expr) => {
        proptest! {
            #[test]
            fn $name(z in prop::array::uniform7($strategy)) {
                let mut p = [0.0 as $t; N];
                softmax(&z, &mut p);
                for (&pi, &zi) in p.iter().zip(&z) {
                    prop_assert!((0.0..=1.0).contains(&pi), "p = {pi} for logit {zi}");
                }
                let sum: $t = p.iter().sum();
                let tolerance = (SOFTMAX_SUM_ULPS_PER_TERM * N as f64) as $t * <$t>::EPSILON;
                prop_assert!((sum - 1.0).abs() <= tolerance, "Σp = {sum}");
                // The largest logit gets the largest probability.
                let top = mlp_core::activation::argmax(&z);
                prop_assert!(p.iter().all(|&q| q <= p[top]));
            }
        }
    };
}

softmax_is_a_distribution!(softmax_f32_is_a_distribution, f32, finite_f32());
softmax_is_a_distribution!(softmax_f64_is_a_distribution, f64, finite_f64());

proptest! {
    #[test]
    fn softmax_cross_entropy_is_finite_and_non_negative(z in prop::array::uniform7(large_logit()), label in 0usize..N) {
        let mut g = [0.0f32; N];
        let loss = <SoftmaxCrossEntropy as Loss<f32, N>>::loss_and_gradient(&z, &label, &mut g);
        prop_assert!(loss.is_finite() && loss >= 0.0, "loss {loss}");
        // The gradient is softmax − one-hot: finite, in [−1, 1], summing to ~0.
        for &gi in &g {
            prop_assert!(gi.is_finite() && (-1.0..=1.0).contains(&gi), "gradient {g:?}");
        }
        prop_assert!(g[label] <= 0.0);
        let evaluated = <SoftmaxCrossEntropy as Loss<f32, N>>::loss(&z, &label);
        prop_assert!(
            (evaluated - loss).abs() <= LOSS_AGREEMENT_ULPS * f32::EPSILON * loss.abs().max(1.0),
            "loss() = {evaluated}, loss_and_gradient() = {loss}"
        );
    }

    #[test]
    fn sigmoid_cross_entropy_is_finite_and_non_negative(
        z in prop::array::uniform7(large_logit()),
        y in prop::array::uniform7(prop_oneof![0.0f32..=1.0, Just(0.0), Just(1.0)]),
    ) {
        let mut g = [0.0f32; N];
        let loss = <SigmoidCrossEntropy as Loss<f32, N>>::loss_and_gradient(&z, &y, &mut g);
        prop_assert!(loss.is_finite() && loss >= 0.0, "loss {loss}");
        for (&gi, &yi) in g.iter().zip(&y) {
            // σ(z) − y with σ(z) ∈ [0, 1].
            prop_assert!(gi.is_finite() && gi >= -yi && gi <= 1.0 - yi, "gradient {g:?}");
        }
    }
}

type Net = layers![Dense<f32, 8, 5, Relu>, Dense<f32, 5, 3, Tanh>, Dense<f32, 3, 3>];

fn net() -> Net {
    let mut net = Net::default();
    net.initialize(mlp_core::Init::HeUniform, &mut common::rng(8)).unwrap();
    net
}

/// Any `f32` bit pattern's class: NaN, ±∞, normal, subnormal or zero, either
/// sign, mostly finite so that a whole sample is often finite.
fn any_f32() -> impl Strategy<Value = f32> {
    prop_oneof![
        3 => finite_f32(),
        1 => prop::num::f32::ANY,
        1 => prop_oneof![Just(f32::NAN), Just(f32::INFINITY), Just(f32::NEG_INFINITY)],
    ]
}

proptest! {
    #[test]
    fn predict_never_panics_and_checks_length_and_finiteness(
        x in prop_oneof![
            prop::collection::vec(any_f32(), 0..40),
            prop::collection::vec(any_f32(), Net::INPUTS..=Net::INPUTS),
        ],
    ) {
        let net = net();
        let mut scratch = Default::default();
        // The length is checked first, then every value: NonFiniteInput exactly
        // when a sample of the right width holds a NaN or an infinity. A finite
        // sample is NonFiniteOutput exactly when the forward pass overflows.
        let expected = if x.len() != Net::INPUTS {
            Some(Error::InputLength { expected: 8, found: x.len() })
        } else if x.iter().any(|v| !v.is_finite()) {
            Some(Error::NonFiniteInput { sample: 0 })
        } else {
            let input: [f32; 8] = x.as_slice().try_into().unwrap();
            let output = *net.forward(&input, &mut scratch);
            output.iter().any(|v| !v.is_finite()).then_some(Error::NonFiniteOutput { sample: 0 })
        };
        // Inputs small enough that no pre-activation overflows (|w| < 1,
        // 8 inputs: 8e30 ≪ f32::MAX) always give a prediction.
        let small = x.iter().all(|v| v.is_finite() && v.abs() < 1e30);
        if small && x.len() == Net::INPUTS {
            prop_assert_eq!(expected, None);
        }
        prop_assert_eq!(predict(&net, &x, &mut scratch).err(), expected);
        prop_assert_eq!(predict_class(&net, SoftmaxCrossEntropy, &x, &mut scratch).err(), expected);
        let mut p = [0.0f32; 3];
        prop_assert_eq!(predict_probabilities(&net, SoftmaxCrossEntropy, &x, &mut scratch, &mut p).err(), expected);
        // For those small inputs the probabilities are a distribution.
        if expected.is_none() && small {
            prop_assert!(p.iter().all(|q| (0.0..=1.0).contains(q)), "{p:?}");
        }
    }

    #[test]
    fn flat_buffers_split_into_whole_samples_or_fail(len in 0usize..100) {
        let flat = vec![1.0f32; len];
        match Net::inputs_from_flat(&flat) {
            Ok(samples) => {
                prop_assert_eq!(len % 8, 0);
                prop_assert_eq!(samples.len(), len / 8);
            }
            Err(e) => {
                prop_assert_ne!(len % 8, 0);
                prop_assert_eq!(e, Error::RaggedInputs { width: 8, len });
            }
        }
    }
}
