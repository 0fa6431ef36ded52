//! Learning-rate schedules: every shape, with and without warm-up, against
//! values worked out by hand; every epoch's rate as a `Learner` uses and
//! reports it; and the refusal of a schedule whose rate would round to zero
//! or a subnormal in the network's float type, naming the culprit.

mod common;

use std::f64::consts::PI;
use std::ops::ControlFlow;

use common::data::{XOR_INPUTS, XOR_LABELS};
use common::rng;
use mlp_core::activation::Tanh;
use mlp_core::loss::SoftmaxCrossEntropy;
use mlp_core::schedule::{Schedule, Shape};
use mlp_core::{Dataset, Dense, Error, Float, Hyperparameter, Init, Learner, Network, TrainConfig, TrainState, layers};

/// Every epoch's rate of `schedule` over `epochs`, in `T`, as `f64`.
fn rates<T: Float>(schedule: Schedule, epochs: u32) -> Vec<f64> {
    let checked = schedule.check::<T>(epochs).unwrap();
    (0..epochs).map(|e| checked.rate(e).to_f64()).collect()
}

/// `actual` within `ulps` units in the last place of `T` (relative) of each `expected`.
fn assert_close<T: Float>(what: &str, actual: &[f64], expected: &[f64], ulps: f64) {
    let epsilon = if size_of::<T>() == 4 { f64::from(f32::EPSILON) } else { f64::EPSILON };
    assert_eq!(actual.len(), expected.len(), "{what}");
    for (e, (a, x)) in actual.iter().zip(expected).enumerate() {
        assert!((a - x).abs() <= ulps * epsilon * x.abs(), "{what}, epoch {e}: {a} instead of {x}");
    }
}

/// η₀ = 1/2 and factors of 1/2 keep most values exact: those are compared
/// with `==`; the others within a few roundings.
fn every_shape<T: Float>() {
    let lr = 0.5;
    let constant = Schedule::constant(lr);
    assert_eq!(rates::<T>(constant, 4), [0.5; 4]);
    // Warm-up: epoch t < w at (t + 1)/(w + 1) of the scheduled rate.
    assert_eq!(rates::<T>(Schedule { warmup: 3, ..constant }, 6), [0.125, 0.25, 0.375, 0.5, 0.5, 0.5]);

    // η₀/(1 + d·t) with d = 1.
    let inverse = Schedule { lr, shape: Shape::InverseTime { decay: 1.0 }, warmup: 0 };
    assert_close::<T>("inverse time", &rates::<T>(inverse, 4), &[0.5, 0.25, 0.5 / 3.0, 0.125], 1.0);
    assert_eq!(rates::<T>(inverse, 4)[3], 0.125);
    // The warm-up scales the scheduled rate of the same epoch: (1/2)/(1 + 1)·(2/3) at epoch 1.
    let warm = rates::<T>(Schedule { warmup: 2, ..inverse }, 4);
    assert_close::<T>("inverse time, warm-up", &warm, &[0.5 / 3.0, 0.25 * 2.0 / 3.0, 0.5 / 3.0, 0.125], 3.0);
    // d = 0 is the constant rate.
    assert_eq!(rates::<T>(Schedule { shape: Shape::InverseTime { decay: 0.0 }, ..inverse }, 3), [0.5; 3]);

    // η₀·γ^⌊t/k⌋ with k = 2, γ = 1/2.
    let step = Schedule { lr, shape: Shape::Step { every: 2, gamma: 0.5 }, warmup: 0 };
    assert_eq!(rates::<T>(step, 7), [0.5, 0.5, 0.25, 0.25, 0.125, 0.125, 0.0625]);
    assert_eq!(rates::<T>(Schedule { warmup: 1, ..step }, 4), [0.25, 0.5, 0.25, 0.25]);
    assert_eq!(rates::<T>(Schedule { warmup: 3, ..step }, 5), [0.125, 0.25, 0.1875, 0.25, 0.125]);

    // η₀·γ^t with γ = 1/2.
    let exponential = Schedule { lr, shape: Shape::Exponential { gamma: 0.5 }, warmup: 0 };
    assert_eq!(rates::<T>(exponential, 5), [0.5, 0.25, 0.125, 0.0625, 0.03125]);
    assert_eq!(rates::<T>(Schedule { warmup: 1, ..exponential }, 3), [0.25, 0.25, 0.125]);
    // γ = 1 is the constant rate.
    assert_eq!(rates::<T>(Schedule { shape: Shape::Exponential { gamma: 1.0 }, ..exponential }, 3), [0.5; 3]);
    // A factor that is not a power of two, checked against f64's powers.
    let tenth = Schedule { lr: 1.0, shape: Shape::Exponential { gamma: 0.9 }, warmup: 0 };
    assert_close::<T>(
        "exponential 0.9",
        &rates::<T>(tenth, 9),
        &(0..9).map(|t| 0.9f64.powi(t)).collect::<Vec<_>>(),
        12.0,
    );

    // min + (η₀ − min)·(1 + cos(π·t/T))/2 over T = 4 epochs, min = 0.1.
    let cosine = Schedule { lr, shape: Shape::Cosine { min_lr: 0.1 }, warmup: 0 };
    let half = |x: f64| 0.1 + 0.4 * (1.0 + x) / 2.0;
    let expected = [0.5, half((PI / 4.0).cos()), 0.3, half((3.0 * PI / 4.0).cos())];
    assert_close::<T>("cosine", &rates::<T>(cosine, 4), &expected, 4.0);
    assert_eq!(rates::<T>(cosine, 4)[0], 0.5);
    // With a warm-up of 2 the cosine spans the 4 epochs after it (of 6):
    // epochs 0 and 1 ramp up to the cosine's start, 0.5.
    let warm = rates::<T>(Schedule { warmup: 2, ..cosine }, 6);
    let expected = [0.5 / 3.0, 1.0 / 3.0, 0.5, half((PI / 4.0).cos()), 0.3, half((3.0 * PI / 4.0).cos())];
    assert_close::<T>("cosine, warm-up", &warm, &expected, 4.0);
    // Down to a minimum of 0: the last epoch is still positive.
    let to_zero = rates::<T>(Schedule { shape: Shape::Cosine { min_lr: 0.0 }, ..cosine }, 4);
    assert_close::<T>(
        "cosine to 0",
        &to_zero,
        &[0.5, 0.25 * (1.0 + 0.5f64.sqrt()), 0.25, 0.25 * (1.0 - 0.5f64.sqrt())],
        8.0,
    );
}

#[test]
fn every_shape_with_and_without_warm_up_in_f32() {
    every_shape::<f32>();
}

#[test]
fn every_shape_with_and_without_warm_up_in_f64() {
    every_shape::<f64>();
}

/// The rate of each epoch of a run is the schedule's, computed in the
/// network's float type, reported in the epoch's metrics, and a state
/// resumed at a later epoch picks up the schedule there.
#[test]
fn a_learner_runs_and_reports_each_epoch_at_the_scheduled_rate() {
    type Net = layers![Dense<f32, 2, 4, Tanh>, Dense<f32, 4, 2>];
    let data = Dataset::new(&XOR_INPUTS, &XOR_LABELS).unwrap();
    let schedules = [
        Schedule { lr: 0.1, shape: Shape::Constant, warmup: 2 },
        Schedule { lr: 0.1, shape: Shape::InverseTime { decay: 0.3 }, warmup: 1 },
        Schedule { lr: 0.1, shape: Shape::Step { every: 3, gamma: 0.3 }, warmup: 2 },
        Schedule { lr: 0.1, shape: Shape::Exponential { gamma: 0.7 }, warmup: 0 },
        Schedule { lr: 0.1, shape: Shape::Cosine { min_lr: 0.01 }, warmup: 3 },
    ];
    for schedule in schedules {
        let config = TrainConfig { epochs: 8, batch_size: 4, schedule, ..TrainConfig::DEFAULT };
        let checked = config.check::<f32>().unwrap();
        let mut net = Net::default();
        net.initialize(Init::GlorotUniform, &mut rng(3)).unwrap();
        let mut state = TrainState::new();
        let mut order = [0u16; 4];
        let mut reported = Vec::new();
        let mut learner = Learner::new(&mut net, &mut state, &mut order, SoftmaxCrossEntropy, &config).unwrap();
        learner
            .fit(data, |m, _| {
                reported.push((m.epoch, m.learning_rate));
                ControlFlow::Continue(())
            })
            .unwrap();
        let expected: Vec<(u32, f32)> = (0..8).map(|e| (e + 1, checked.learning_rate(e))).collect();
        assert_eq!(reported, expected, "{schedule:?}");
        assert_eq!(expected, (0..8).map(|e| (e + 1, checked.step(e, 1, 4).lr)).collect::<Vec<_>>());

        // Resumed at epoch 5: the next epoch runs at epoch 5's rate, and the run ends at 8.
        state.persistent.epoch = 5;
        let mut learner = Learner::new(&mut net, &mut state, &mut order, SoftmaxCrossEntropy, &config).unwrap();
        let metrics = learner.epoch(data).unwrap();
        assert_eq!((metrics.epoch, metrics.learning_rate), expected[5], "{schedule:?}");
        let summary = learner.fit(data, |_, _| ControlFlow::Continue(())).unwrap();
        assert_eq!((summary.epochs, summary.last.learning_rate), expected[7], "{schedule:?}");
    }
}

fn refused(schedule: Schedule, epochs: u32) -> Hyperparameter {
    assert!(schedule.check::<f64>(epochs).is_ok(), "{schedule:?} is fine in f64");
    let error = schedule.check::<f32>(epochs).unwrap_err();
    // The configuration reports the same.
    let config = TrainConfig { epochs, schedule, ..TrainConfig::DEFAULT };
    assert_eq!(config.check::<f32>().unwrap_err(), error);
    match error {
        Error::InvalidHyperparameter { name, requirement } => {
            assert!(requirement.contains("zero or a subnormal"), "{requirement}");
            name
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_rate_that_rounds_to_zero_or_a_subnormal_in_f32_is_refused_with_its_cause() {
    // f32's smallest normal number is about 1.18e-38.
    // γ per epoch: 0.1·1e-20 = 1e-21 at epoch 1, 1e-41 (subnormal) at epoch 2.
    let exponential = Schedule { lr: 0.1, shape: Shape::Exponential { gamma: 1e-20 }, warmup: 0 };
    assert!(exponential.check::<f32>(2).is_ok());
    assert_eq!(refused(exponential, 3), Hyperparameter::Gamma);
    // γ per step: 0.1·(1e-30)² = 1e-61 rounds to zero at epoch 4.
    let step = Schedule { lr: 0.1, shape: Shape::Step { every: 2, gamma: 1e-30 }, warmup: 0 };
    assert!(step.check::<f32>(4).is_ok());
    assert_eq!(refused(step, 5), Hyperparameter::Gamma);
    // 0.1/(1 + 1e37·t): 1e-38 at epoch 1.
    let inverse = Schedule { lr: 0.1, shape: Shape::InverseTime { decay: 1e37 }, warmup: 0 };
    assert_eq!(refused(inverse, 2), Hyperparameter::Decay);
    // A cosine down to 0 from 1e-36: the last of 100 epochs runs at about
    // 1e-36·(π/100)²/4 ≈ 2.5e-40.
    let cosine = Schedule { lr: 1e-36, shape: Shape::Cosine { min_lr: 0.0 }, warmup: 0 };
    assert_eq!(refused(cosine, 100), Hyperparameter::MinLearningRate);
    assert!(Schedule { shape: Shape::Cosine { min_lr: 1e-37 }, ..cosine }.check::<f32>(100).is_ok());
    // A warm-up that starts at a quarter of 2e-38: 5e-39.
    let warm = Schedule { lr: 2e-38, shape: Shape::Constant, warmup: 3 };
    assert!(Schedule { warmup: 0, ..warm }.check::<f32>(10).is_ok());
    assert_eq!(refused(warm, 10), Hyperparameter::Warmup);
    // The base rate itself.
    let tiny = Schedule::constant(1e-40);
    let error = tiny.check::<f32>(1).unwrap_err();
    assert_eq!(
        error,
        Error::InvalidHyperparameter {
            name: Hyperparameter::LearningRate,
            requirement: "positive and finite in the network's float type, and not subnormal"
        }
    );
}

#[test]
fn shapes_outside_their_domain_are_refused() {
    let invalid = |name, requirement| Error::InvalidHyperparameter { name, requirement };
    let with = |shape| Schedule { lr: 0.1, shape, warmup: 0 }.check::<f32>(10).unwrap_err();
    assert_eq!(with(Shape::Step { every: 0, gamma: 0.5 }), invalid(Hyperparameter::StepEvery, "at least 1"));
    for gamma in [0.0, -0.5, 1.5, f64::NAN, f64::INFINITY] {
        assert_eq!(with(Shape::Step { every: 1, gamma }), invalid(Hyperparameter::Gamma, "in (0, 1]"), "{gamma}");
        assert_eq!(with(Shape::Exponential { gamma }), invalid(Hyperparameter::Gamma, "in (0, 1]"), "{gamma}");
    }
    for min_lr in [0.1, 0.2, -0.01, f64::NAN] {
        assert_eq!(
            with(Shape::Cosine { min_lr }),
            invalid(Hyperparameter::MinLearningRate, "non-negative and below the learning rate"),
            "{min_lr}"
        );
    }
    assert_eq!(Schedule::constant(0.1).check::<f32>(0).unwrap_err(), invalid(Hyperparameter::Epochs, "at least 1"));
    // The messages name the hyperparameter as a user writes it.
    assert_eq!(Hyperparameter::StepEvery.to_string(), "step interval");
    assert_eq!(Hyperparameter::MinLearningRate.to_string(), "minimum learning rate");
    assert_eq!(Hyperparameter::Warmup.to_string(), "warm-up");
}

/// Checking computes every epoch's rate, so the planned epochs are bounded:
/// a checkpoint stating four billion is refused at once, not after a minute.
#[test]
fn more_epochs_than_the_bound_are_refused() {
    use mlp_core::schedule::MAX_EPOCHS;
    let cosine = Schedule { lr: 0.1, shape: Shape::Cosine { min_lr: 0.0 }, warmup: 0 };
    for epochs in [MAX_EPOCHS + 1, u32::MAX] {
        let error = cosine.check::<f32>(epochs).unwrap_err();
        assert!(matches!(error, Error::InvalidHyperparameter { name: Hyperparameter::Epochs, .. }), "{error:?}");
    }
    assert!(Schedule::constant(0.1).check::<f32>(MAX_EPOCHS).is_ok());
}
