//! Every `mlp_core::Error` variant the API can return, each produced by a bad
//! input, with a check of the variant's fields and that its `Display` text
//! names the problem.

mod common;

use std::ops::ControlFlow;

use common::rng;
use mlp_core::activation::{Relu, Tanh};
use mlp_core::loss::{Loss, Quadratic, SigmoidCrossEntropy, SoftmaxCrossEntropy};
use mlp_core::optim::{Adagrad, Adam, AdamW, Momentum, Nesterov, Optimizer, RmsProp, Sgd};
use mlp_core::schedule::{Schedule, Shape};
use mlp_core::{
    Dataset, Dense, EpochMetrics, Error, Frozen, Hyperparameter, Init, Learner, Network, SampleIndex, TrainConfig,
    TrainState, TrainSummary, Zeroed, confusion_matrix, evaluate, layers, predict, predict_class,
    predict_probabilities,
};

type Net = layers![Dense<f32, 3, 4, Tanh>, Dense<f32, 4, 2>];
type Regressor = layers![Dense<f32, 1, 8, Tanh>, Dense<f32, 8, 1>];

fn net() -> Net {
    let mut net = Net::default();
    net.initialize(Init::GlorotUniform, &mut rng(1)).unwrap();
    net
}

const INPUTS: [[f32; 3]; 4] = [[0.0, 1.0, 2.0], [1.0, 0.0, -1.0], [0.5, 0.5, 0.5], [-1.0, 2.0, 0.0]];
const LABELS: [usize; 4] = [0, 1, 1, 0];

/// Asserts the error's message contains every fragment (case-insensitively).
fn assert_message(error: &Error, fragments: &[&str]) {
    let text = error.to_string();
    for fragment in fragments {
        assert!(
            text.to_lowercase().contains(&fragment.to_lowercase()),
            "{error:?} displays as {text:?}, which lacks {fragment:?}"
        );
    }
    // It is a `std::error::Error` too, so it composes with `?` in host code.
    let boxed: Box<dyn std::error::Error> = Box::new(*error);
    assert_eq!(boxed.to_string(), text);
}

/// Trains `net` to the end of `config` with a fresh state whose generator is seeded with `seed`.
fn fit<N, O, L, Ix, const K: usize>(
    net: &mut N,
    loss: L,
    data: Dataset<'_, N::Input, L::Target>,
    order: &mut [Ix],
    config: &TrainConfig<O>,
    seed: u64,
    mut on_epoch: impl FnMut(&EpochMetrics<f32>, &N) -> ControlFlow<()>,
) -> Result<TrainSummary<f32>, Error>
where
    N: Network<Scalar = f32, Output = [f32; K]>,
    O: Optimizer,
    L: Loss<f32, K>,
    Ix: SampleIndex,
{
    let mut state = TrainState::<N, O>::new();
    state.persistent.rng = rng(seed);
    Learner::new(net, &mut state, order, loss, config)?.fit(data, &mut on_epoch)
}

/// Trains on the small classification set with `config`.
fn train_with<O: Optimizer>(config: TrainConfig<O>) -> Result<TrainSummary<f32>, Error> {
    let data = Dataset::new(&INPUTS, &LABELS).unwrap();
    let mut order = [0u16; 4];
    fit(&mut net(), SoftmaxCrossEntropy, data, &mut order, &config, 2, |_, _| ControlFlow::Continue(()))
}

/// One epoch of batches of 2 with `optimizer` and `adjust` applied to the configuration.
fn one_epoch<O: Optimizer>(optimizer: O, adjust: impl FnOnce(&mut TrainConfig<O>)) -> TrainConfig<O> {
    let mut config = TrainConfig { epochs: 1, batch_size: 2, ..TrainConfig::new(optimizer) };
    adjust(&mut config);
    config
}

/// The error `TrainConfig::check` gives for `config`; a `Learner` reports
/// the same one before touching the network.
fn config_error<O: Optimizer>(config: TrainConfig<O>) -> Error {
    let checked = config.check::<f32>().expect_err("TrainConfig::check accepted a bad config");
    assert_eq!(train_with(config).unwrap_err(), checked);
    checked
}

/// The error of `config` with the default momentum, `adjust`ed.
fn momentum_error(adjust: impl FnOnce(&mut TrainConfig)) -> Error {
    config_error(one_epoch(Momentum::DEFAULT, adjust))
}

fn invalid(name: Hyperparameter, requirement: &'static str) -> Error {
    Error::InvalidHyperparameter { name, requirement }
}

#[test]
fn wrong_sample_length_is_input_length() {
    let net = net();
    let mut scratch = Default::default();
    for len in [0, 2, 4, 100] {
        let x = vec![0.5f32; len];
        let expected = Error::InputLength { expected: 3, found: len };
        assert_eq!(predict(&net, &x, &mut scratch).unwrap_err(), expected);
        assert_eq!(predict_class(&net, SoftmaxCrossEntropy, &x, &mut scratch).unwrap_err(), expected);
        let mut p = [0.0; 2];
        assert_eq!(predict_probabilities(&net, SoftmaxCrossEntropy, &x, &mut scratch, &mut p).unwrap_err(), expected);
        assert_eq!(Net::input_from_slice(&x).unwrap_err(), expected);
        assert_message(&expected, &[&len.to_string(), "3 inputs"]);
    }
    assert!(predict(&net, &[0.5; 3], &mut scratch).is_ok());
}

#[test]
fn ragged_flat_buffer_is_ragged_inputs() {
    let flat = [0.25f32; 10];
    let error = Net::inputs_from_flat(&flat).unwrap_err();
    assert_eq!(error, Error::RaggedInputs { width: 3, len: 10 });
    assert_message(&error, &["10 values", "3-value samples"]);
    // Whole numbers of samples are fine, including none.
    assert_eq!(Net::inputs_from_flat(&flat[..9]).unwrap().len(), 3);
    assert_eq!(Net::inputs_from_flat(&[]).unwrap().len(), 0);
}

#[test]
fn inputs_and_targets_of_different_lengths_are_target_count() {
    let error = Dataset::new(&INPUTS, &LABELS[..3]).unwrap_err();
    assert_eq!(error, Error::TargetCount { inputs: 4, targets: 3 });
    assert_message(&error, &["4 input samples", "3 targets"]);
    let error = Dataset::new(&INPUTS[..0], &LABELS[..1]).unwrap_err();
    assert_eq!(error, Error::TargetCount { inputs: 0, targets: 1 });
}

#[test]
fn empty_data_set_is_empty_dataset() {
    let error = Dataset::<[f32; 3], usize>::new(&[], &[]).unwrap_err();
    assert_eq!(error, Error::EmptyDataset);
    assert_message(&error, &["no samples"]);
}

#[test]
fn class_out_of_range_is_invalid_target() {
    let labels = [0, 1, 2, 0]; // two outputs: class 2 does not exist
    let data = Dataset::new(&INPUTS, &labels).unwrap();
    let expected = Error::InvalidTarget { sample: 2 };
    let mut net = net();
    let untouched = net.clone();
    let mut order = [0u16; 4];
    let config = one_epoch(Momentum::DEFAULT, |_| {});
    let result = fit(&mut net, SoftmaxCrossEntropy, data, &mut order, &config, 2, |_, _| ControlFlow::Continue(()));
    assert_eq!(result.unwrap_err(), expected);
    assert_eq!(net, untouched, "training changed the network before rejecting the data");
    let mut scratch = Default::default();
    assert_eq!(evaluate(&net, &mut scratch, SoftmaxCrossEntropy, data).unwrap_err(), expected);
    assert_eq!(confusion_matrix::<_, _, _, 2, 2>(&net, &mut scratch, SoftmaxCrossEntropy, data).unwrap_err(), expected);
    assert_message(&expected, &["sample 2", "not valid"]);
}

#[test]
fn target_outside_the_loss_domain_is_invalid_target() {
    type Binary = layers![Dense<f32, 3, 4, Tanh>, Dense<f32, 4, 1>];
    let net = Binary::default();
    let mut scratch = Default::default();
    // Sigmoid cross-entropy needs probabilities in [0, 1].
    for bad in [1.5f32, -0.1, f32::NAN] {
        let targets = [[0.0], [1.0], [0.5], [bad]];
        let data = Dataset::new(&INPUTS, &targets).unwrap();
        assert_eq!(
            evaluate(&net, &mut scratch, SigmoidCrossEntropy, data).unwrap_err(),
            Error::InvalidTarget { sample: 3 }
        );
    }
    // The quadratic loss needs finite targets.
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        let targets = [[0.0], [bad], [0.5], [7.0]];
        let data = Dataset::new(&INPUTS, &targets).unwrap();
        assert_eq!(evaluate(&net, &mut scratch, Quadratic, data).unwrap_err(), Error::InvalidTarget { sample: 1 });
    }
}

#[test]
fn shuffle_buffer_of_wrong_length_is_order_length() {
    let data = Dataset::new(&INPUTS, &LABELS).unwrap();
    let config = one_epoch(Momentum::DEFAULT, |_| {});
    for len in [0, 3, 5] {
        let mut order = vec![0u16; len];
        let result =
            fit(&mut net(), SoftmaxCrossEntropy, data, &mut order, &config, 2, |_, _| ControlFlow::Continue(()));
        let expected = Error::OrderLength { expected: 4, found: len };
        assert_eq!(result.unwrap_err(), expected);
        assert_message(&expected, &[&format!("holds {len}"), "4 samples"]);
    }
}

#[test]
fn index_type_too_small_for_the_data_set_is_an_error_not_a_panic() {
    // 70 000 samples cannot be numbered with u16.
    type Tiny = Dense<f32, 1, 1>;
    let inputs = vec![[0.5f32]; 70_000];
    let targets = vec![[0.0f32]; 70_000];
    let data = Dataset::new(&inputs, &targets).unwrap();
    let mut order = vec![0u16; 70_000];
    let config = TrainConfig { epochs: 1, batch_size: 100, ..TrainConfig::DEFAULT };
    let result = fit(&mut Tiny::default(), Quadratic, data, &mut order, &config, 2, |_, _| ControlFlow::Continue(()));
    let error = result.unwrap_err();
    assert_eq!(error, Error::IndexOverflow { samples: 70_000, max: 65_536 });
    assert_message(&error, &["70000 samples", "65536"]);
    // u32 indices are fine.
    let mut order = vec![0u32; 70_000];
    let result = fit(&mut Tiny::default(), Quadratic, data, &mut order, &config, 2, |_, _| ControlFlow::Continue(()));
    assert!(result.is_ok(), "{result:?}");
}

#[test]
fn invalid_uniform_range_is_rejected_and_leaves_the_network_alone() {
    // 1e300 overflows and 1e-50 vanishes in the network's f32; 1e-40 and half
    // the smallest normal f32 are subnormal there, so most weights would round to 0.
    let half_min_normal = f64::from(f32::MIN_POSITIVE) / 2.0;
    for bad in [f64::NAN, f64::INFINITY, 0.0, -1.0, 1e300, 1e-50, 1e-40, half_min_normal] {
        let mut network = net();
        let before = network.clone();
        let error = network.initialize(Init::Uniform(bad), &mut rng(4)).unwrap_err();
        assert_eq!(
            error,
            invalid(
                Hyperparameter::InitialiserRange,
                "positive and finite in the network's float type, and not subnormal"
            ),
            "range {bad:e}"
        );
        assert_message(&error, &["initialiser range", "positive and finite", "subnormal"]);
        assert_eq!(network, before);
    }
    assert!(net().initialize(Init::Uniform(0.5), &mut rng(4)).is_ok());
    // An f64 network accepts what is subnormal only in f32.
    assert!(Init::Uniform(1e-40).is_valid_for::<f64>() && !Init::Uniform(1e-40).is_valid_for::<f32>());
    // The smallest normal range is accepted, and does not draw all zeros.
    let mut network = net();
    network.initialize(Init::Uniform(f64::from(f32::MIN_POSITIVE)), &mut rng(4)).unwrap();
    let mut weights = network.head.weights.iter().chain(network.tail.weights.iter());
    assert!(weights.clone().filter(|w| **w != 0.0).count() > 16, "{:?}", network.head.weights);
    assert!(weights.all(|w| w.abs() <= f32::MIN_POSITIVE));
}

#[test]
fn batch_size_zero_is_rejected_by_the_check_and_the_learner() {
    let expected = invalid(Hyperparameter::BatchSize, "at least 1");
    let config = one_epoch(Momentum::DEFAULT, |c| c.batch_size = 0);
    assert_eq!(config.check::<f32>().unwrap_err(), expected);
    assert_eq!(train_with(config).unwrap_err(), expected);

    // A learner cannot be made for it, so no epoch or step can run with it.
    let mut order = [0u16; 4];
    let (mut network, mut state) = (net(), TrainState::new());
    let result = Learner::new(&mut network, &mut state, &mut order, SoftmaxCrossEntropy, &config);
    assert_eq!(result.err(), Some(expected));
    assert_message(&expected, &["batch size", "at least 1"]);
}

#[test]
fn zero_epochs_is_rejected() {
    let expected = invalid(Hyperparameter::Epochs, "at least 1");
    assert_eq!(train_with(one_epoch(Momentum::DEFAULT, |c| c.epochs = 0)).unwrap_err(), expected);
    assert_message(&expected, &["epochs", "at least 1"]);
}

#[test]
fn bad_learning_rates_are_rejected() {
    for lr in [f64::NAN, 0.0, -0.0, -0.1, f64::INFINITY, f64::NEG_INFINITY] {
        let error = momentum_error(|c| c.schedule.lr = lr);
        assert_eq!(error, invalid(Hyperparameter::LearningRate, "positive and finite"), "lr {lr}");
        assert_message(&error, &["learning rate", "positive and finite"]);
    }
}

#[test]
fn momentum_outside_zero_to_one_is_rejected() {
    // μ = 0 is plain SGD, which is its own optimizer (`Sgd`): momentum and
    // Nesterov need μ in (0, 1).
    for momentum in [0.0, -0.0, 1.0, 1.5, -0.1, f64::NAN, f64::INFINITY] {
        for error in [
            config_error(one_epoch(Momentum { momentum }, |_| {})),
            config_error(one_epoch(Nesterov { momentum }, |_| {})),
        ] {
            assert_eq!(error, invalid(Hyperparameter::Momentum, "in (0, 1)"), "momentum {momentum}");
            assert_message(&error, &["momentum", "(0, 1)"]);
        }
    }
    // The largest double below 1 is fine in f64, but rounds to 1 in f32.
    let just_below_one = one_epoch(Momentum { momentum: 1.0 - f64::EPSILON / 2.0 }, |_| {});
    assert!(just_below_one.check::<f64>().is_ok());
    let error = just_below_one.check::<f32>().unwrap_err();
    assert_eq!(error, invalid(Hyperparameter::Momentum, "below 1 in the network's float type"));
    assert!(one_epoch(Momentum { momentum: 0.999_999 }, |_| {}).check::<f32>().is_ok());
}

#[test]
fn learning_rate_that_vanishes_in_f32_is_rejected() {
    // 1e-50 rounds to 0 in f32, 1e-40 to a subnormal: both fine in f64.
    for lr in [1e-50, 1e-40] {
        let tiny = one_epoch(Momentum::DEFAULT, |c| c.schedule.lr = lr);
        assert!(tiny.check::<f64>().is_ok());
        let error = tiny.check::<f32>().unwrap_err();
        assert_eq!(
            error,
            invalid(Hyperparameter::LearningRate, "positive and finite in the network's float type, and not subnormal"),
            "lr {lr:e}"
        );
        assert_message(&error, &["learning rate", "float type"]);
        assert_eq!(train_with(tiny).unwrap_err(), error);
    }
    assert!(one_epoch(Momentum::DEFAULT, |c| c.schedule.lr = f64::from(f32::MIN_POSITIVE)).check::<f32>().is_ok());
}

#[test]
fn settings_that_vanish_in_f32_are_rejected() {
    type Setter = (Hyperparameter, fn(f64) -> Error, fn(f64) -> bool, fn(f64) -> bool);
    let setters: [Setter; 3] = [
        (
            Hyperparameter::L2,
            |l2| momentum_error(|c| c.l2 = l2),
            |l2| one_epoch(Momentum::DEFAULT, |c| c.l2 = l2).check::<f64>().is_ok(),
            |l2| one_epoch(Momentum::DEFAULT, |c| c.l2 = l2).check::<f32>().is_ok(),
        ),
        (
            Hyperparameter::L1,
            |l1| momentum_error(|c| c.l1 = l1),
            |l1| one_epoch(Momentum::DEFAULT, |c| c.l1 = l1).check::<f64>().is_ok(),
            |l1| one_epoch(Momentum::DEFAULT, |c| c.l1 = l1).check::<f32>().is_ok(),
        ),
        (
            Hyperparameter::Momentum,
            |momentum| config_error(one_epoch(Nesterov { momentum }, |_| {})),
            |momentum| one_epoch(Nesterov { momentum }, |_| {}).check::<f64>().is_ok(),
            |momentum| one_epoch(Nesterov { momentum }, |_| {}).check::<f32>().is_ok(),
        ),
    ];
    for (name, error_of, ok_in_f64, ok_in_f32) in setters {
        // Positive in f64, zero (1e-50) or subnormal (1e-40) in f32: the
        // setting would silently do nothing.
        for tiny in [1e-50, 1e-40] {
            assert!(ok_in_f64(tiny), "{name} {tiny:e}");
            assert_eq!(
                error_of(tiny),
                invalid(name, "zero or at least the smallest normal number of the network's float type"),
                "{name} {tiny:e}"
            );
        }
        assert!(ok_in_f32(f64::from(f32::MIN_POSITIVE)), "{name}");
    }
    assert!(one_epoch(Sgd, |c| (c.l1, c.l2) = (0.0, 0.0)).check::<f32>().is_ok());
}

#[test]
fn penalties_that_overflow_f32_are_rejected() {
    type Setter = (Hyperparameter, fn(&mut TrainConfig, f64));
    let setters: [Setter; 2] = [(Hyperparameter::L2, |c, l2| c.l2 = l2), (Hyperparameter::L1, |c, l1| c.l1 = l1)];
    for (name, set) in setters {
        // Finite in f64, infinite once rounded to f32: the first step would
        // make every weight infinite.
        for huge in [1e300, 1e39] {
            let config = one_epoch(Momentum::DEFAULT, |c| set(c, huge));
            assert!(config.check::<f64>().is_ok(), "{name} {huge:e}");
            let error = config_error(config);
            assert_eq!(error, invalid(name, "finite in the network's float type"), "{name} {huge:e}");
            assert_message(&error, &[name.name(), "finite", "float type"]);
        }
        assert!(one_epoch(Momentum::DEFAULT, |c| set(c, f64::from(f32::MAX))).check::<f32>().is_ok(), "{name}");
    }
}

#[test]
fn decay_that_rounds_the_last_learning_rate_to_zero_is_rejected() {
    let expected = invalid(
        Hyperparameter::Decay,
        "such that every epoch's learning rate stays positive and normal in the network's float type \
         (the last epoch's rate rounds to zero or a subnormal)",
    );
    // η = 0.1 / (1 + 1e37·t): epoch 0 learns at 0.1, epoch 1 at 1e-38, a
    // subnormal in f32 (normal in f64), epoch 2 at 5e-39.
    let decayed = |epochs, decay| {
        one_epoch(Momentum::DEFAULT, |c| {
            c.epochs = epochs;
            c.schedule.shape = Shape::InverseTime { decay };
        })
    };
    assert!(decayed(1, 1e37).check::<f32>().is_ok(), "one epoch runs at the undecayed rate only");
    for epochs in [2, 3, 1000] {
        let config = decayed(epochs, 1e37);
        assert_eq!(config.check::<f32>().unwrap_err(), expected, "{epochs} epochs");
        assert_eq!(train_with(config).unwrap_err(), expected, "{epochs} epochs");
        assert!(config.check::<f64>().is_ok(), "{epochs} epochs in f64");
    }
    // Rounding to 0 outright, in f64 too.
    assert_eq!(decayed(2, 1e308).check::<f64>().unwrap_err(), expected);
    assert_message(&expected, &["decay", "last epoch", "normal"]);
    // A strong but usable decay passes: the last epoch of 1000 learns at ~1e-7.
    assert!(decayed(1000, 1e3).check::<f32>().is_ok());
    // A decay that is itself infinite in f32 is refused whatever the epochs.
    let error = decayed(1, 1e40).check::<f32>().unwrap_err();
    assert_eq!(error, invalid(Hyperparameter::Decay, "zero, or normal and finite in the network's float type"));
    assert!(decayed(1, 1e40).check::<f64>().is_ok());
}

#[test]
fn epoch_metrics_report_the_learning_rate_rounded_as_used() {
    let config = one_epoch(Momentum::DEFAULT, |c| {
        c.epochs = 3;
        c.schedule = Schedule { lr: 0.1, shape: Shape::InverseTime { decay: 0.5 }, warmup: 0 };
    });
    let data = Dataset::new(&INPUTS, &LABELS).unwrap();
    let (mut rates, mut order) = (Vec::new(), [0u16; 4]);
    let checked = config.check::<f32>().unwrap();
    fit(&mut net(), SoftmaxCrossEntropy, data, &mut order, &config, 2, |m, _| {
        rates.push(m.learning_rate);
        ControlFlow::Continue(())
    })
    .unwrap();
    let used: Vec<f32> = (0..3).map(|t| checked.step(t, 1, 2).lr).collect();
    assert_eq!(rates, used);
    assert_eq!(rates, (0..3).map(|t| checked.learning_rate(t)).collect::<Vec<_>>());
    // η₀ / (1 + d·t), computed in f32 from the rounded η₀ and d.
    assert_eq!(rates, [0.1f32, 0.1f32 / 1.5f32, 0.1f32 / 2.0f32]);
    assert_ne!(f64::from(rates[0]), 0.1, "an f32 network cannot learn at exactly 0.1");
}

#[test]
fn non_finite_inputs_are_rejected_by_training_evaluation_and_prediction() {
    let mut inputs = INPUTS;
    inputs[2][1] = f32::NAN;
    let data = Dataset::new(&inputs, &LABELS).unwrap();
    let mut network = net();
    let before = network.clone();
    let mut order = [0u16; 4];
    let config = one_epoch(Momentum::DEFAULT, |_| {});
    let result = fit(&mut network, SoftmaxCrossEntropy, data, &mut order, &config, 6, |_, _| ControlFlow::Continue(()));
    let error = result.unwrap_err();
    assert_eq!(error, Error::NonFiniteInput { sample: 2 });
    assert_message(&error, &["sample 2", "NaN or infinite"]);
    assert_eq!(network, before, "nothing was learned from the bad data");
    let mut scratch = Zeroed::zeroed();
    assert_eq!(evaluate(&network, &mut scratch, SoftmaxCrossEntropy, data), Err(Error::NonFiniteInput { sample: 2 }));
    assert_eq!(
        predict(&network, &[0.0, f32::INFINITY, 1.0], &mut scratch).map(|_| ()),
        Err(Error::NonFiniteInput { sample: 0 })
    );
}

#[test]
fn nan_weights_are_divergence_even_when_the_loss_stays_finite() {
    // ReLU turns a NaN pre-activation into 0, so the loss of a network whose
    // first layer is NaN can stay finite; the epoch must still fail.
    type ReluNet = layers![Dense<f32, 3, 4, Relu>, Dense<f32, 4, 2>];
    let mut network = ReluNet::default();
    network.initialize(Init::GlorotUniform, &mut rng(7)).unwrap();
    network.head.weights[(0, 0)] = f32::NAN;
    let data = Dataset::new(&INPUTS, &LABELS).unwrap();
    let config = TrainConfig { batch_size: 4, ..TrainConfig::DEFAULT };
    let mut order = [0u16; 4];
    let mut state = TrainState::new();
    state.persistent.rng = rng(8);
    let mut learner = Learner::new(&mut network, &mut state, &mut order, SoftmaxCrossEntropy, &config).unwrap();
    assert_eq!(learner.epoch(data), Err(Error::Diverged { epoch: 1 }));
    // A diverged epoch is not counted: the state stays at epoch 0.
    assert_eq!(learner.state().persistent.epoch, 0);
}

#[test]
fn nesterov_without_momentum_is_rejected() {
    let error = config_error(one_epoch(Nesterov { momentum: 0.0 }, |_| {}));
    assert_eq!(error, invalid(Hyperparameter::Momentum, "in (0, 1)"));
    assert_message(&error, &["momentum", "(0, 1)"]);
}

#[test]
fn negative_or_non_finite_penalties_clip_norm_and_decay_are_rejected() {
    type Setter = (Hyperparameter, fn(&mut TrainConfig, f64));
    let setters: [Setter; 4] = [
        (Hyperparameter::L2, |c, l2| c.l2 = l2),
        (Hyperparameter::L1, |c, l1| c.l1 = l1),
        (Hyperparameter::ClipNorm, |c, clip| c.clip_norm = clip),
        (Hyperparameter::Decay, |c, decay| c.schedule.shape = Shape::InverseTime { decay }),
    ];
    for bad in [-1e-9, -1.0, f64::NAN, f64::INFINITY] {
        for (name, set) in setters {
            let error = momentum_error(|c| set(c, bad));
            assert_eq!(error, invalid(name, "non-negative and finite"), "{name} {bad}");
            assert_message(&error, &[name.name(), "non-negative"]);
        }
    }
}

#[test]
fn bad_optimizer_hyperparameters_are_rejected_with_their_names() {
    let decay = "in (0, 1)";
    let moment = "in [0, 1)";
    let epsilon = "positive and finite";
    let vanishes = "zero or at least the smallest normal number of the network's float type";
    let cases: [(Error, Error); 14] = [
        (
            config_error(one_epoch(RmsProp { rho: 0.0, ..RmsProp::DEFAULT }, |_| {})),
            invalid(Hyperparameter::Rho, decay),
        ),
        (
            config_error(one_epoch(RmsProp { rho: 1.0, ..RmsProp::DEFAULT }, |_| {})),
            invalid(Hyperparameter::Rho, decay),
        ),
        (
            config_error(one_epoch(RmsProp { eps: 0.0, ..RmsProp::DEFAULT }, |_| {})),
            invalid(Hyperparameter::Epsilon, epsilon),
        ),
        (config_error(one_epoch(Adagrad { eps: -1e-8 }, |_| {})), invalid(Hyperparameter::Epsilon, epsilon)),
        (config_error(one_epoch(Adagrad { eps: f64::INFINITY }, |_| {})), invalid(Hyperparameter::Epsilon, epsilon)),
        // Normal in f64, zero in f32: ε would no longer guard the division.
        (config_error(one_epoch(Adagrad { eps: 1e-50 }, |_| {})), invalid(Hyperparameter::Epsilon, vanishes)),
        (config_error(one_epoch(Adam { beta1: 1.0, ..Adam::DEFAULT }, |_| {})), invalid(Hyperparameter::Beta1, moment)),
        (
            config_error(one_epoch(Adam { beta1: -0.1, ..Adam::DEFAULT }, |_| {})),
            invalid(Hyperparameter::Beta1, moment),
        ),
        (config_error(one_epoch(Adam { beta2: 1.0, ..Adam::DEFAULT }, |_| {})), invalid(Hyperparameter::Beta2, moment)),
        (
            config_error(one_epoch(Adam { beta2: f64::NAN, ..Adam::DEFAULT }, |_| {})),
            invalid(Hyperparameter::Beta2, moment),
        ),
        (
            config_error(one_epoch(Adam { eps: 0.0, ..Adam::DEFAULT }, |_| {})),
            invalid(Hyperparameter::Epsilon, epsilon),
        ),
        (
            config_error(one_epoch(AdamW { weight_decay: -0.01, ..AdamW::DEFAULT }, |_| {})),
            invalid(Hyperparameter::WeightDecay, "non-negative and finite"),
        ),
        (
            config_error(one_epoch(AdamW { weight_decay: 1e-40, ..AdamW::DEFAULT }, |_| {})),
            invalid(Hyperparameter::WeightDecay, vanishes),
        ),
        (
            config_error(one_epoch(AdamW { beta2: 1.0 - f64::EPSILON / 2.0, ..AdamW::DEFAULT }, |_| {})),
            invalid(Hyperparameter::Beta2, "below 1 in the network's float type"),
        ),
    ];
    for (error, expected) in cases {
        assert_eq!(error, expected);
        let Error::InvalidHyperparameter { name, .. } = expected else { unreachable!() };
        assert_message(&error, &[name.name()]);
    }
    // β = 0 is a valid Adam (no averaging), and the defaults pass in both float types.
    assert!(one_epoch(Adam { beta1: 0.0, beta2: 0.0, ..Adam::DEFAULT }, |_| {}).check::<f32>().is_ok());
    assert!(one_epoch(Adagrad::DEFAULT, |_| {}).check::<f32>().is_ok());
    assert!(one_epoch(RmsProp::DEFAULT, |_| {}).check::<f32>().is_ok());
    assert!(one_epoch(AdamW::DEFAULT, |_| {}).check::<f64>().is_ok());
}

#[test]
fn non_finite_outputs_are_an_error_not_a_prediction() {
    // Finite inputs so large that a layer's sum overflows f32 (ReLU passes
    // the infinity on, where tanh would saturate it).
    type ReluNet = layers![Dense<f32, 3, 4, Relu>, Dense<f32, 4, 2>];
    let mut net = ReluNet::default();
    net.initialize(Init::GlorotUniform, &mut rng(1)).unwrap();
    let mut scratch = Default::default();
    let huge = [3e38f32; 3];
    let expected = Error::NonFiniteOutput { sample: 0 };
    assert_eq!(predict(&net, &huge, &mut scratch).map(|_| ()), Err(expected));
    assert_eq!(predict_class(&net, SoftmaxCrossEntropy, &huge, &mut scratch), Err(expected));
    let mut p = [0.0; 2];
    assert_eq!(predict_probabilities(&net, SoftmaxCrossEntropy, &huge, &mut scratch, &mut p), Err(expected));
    assert_message(&expected, &["output", "sample 0", "NaN or infinite"]);
    // A frozen layer with a NaN weight (a corrupted model in flash) is caught the same way.
    let mut corrupted = Dense::<f32, 3, 2>::default();
    corrupted.weights[(1, 2)] = f32::NAN;
    let frozen = Frozen(&corrupted);
    assert_eq!(predict_class(&frozen, SoftmaxCrossEntropy, &[1.0, 2.0, 3.0], &mut Zeroed::zeroed()), Err(expected));
    assert!(predict(&net, &[1.0, 2.0, 3.0], &mut scratch).is_ok());
}

#[test]
fn diverging_regression_is_diverged_with_its_epoch() {
    let inputs: Vec<[f32; 1]> = (0..32).map(|i| [i as f32 / 8.0 - 2.0]).collect();
    let targets: Vec<[f32; 1]> = inputs.iter().map(|x| [3.0 * x[0] + 1.0]).collect();
    let data = Dataset::new(&inputs, &targets).unwrap();

    // A sane learning rate trains without error, so the error below is the learning rate's doing.
    let run = |lr: f64, epochs: u32| {
        let mut net = Regressor::default();
        net.initialize(Init::GlorotUniform, &mut rng(3)).unwrap();
        let mut order = vec![0u16; 32];
        let config = TrainConfig { epochs, batch_size: 4, schedule: Schedule::constant(lr), ..TrainConfig::DEFAULT };
        let mut epochs_seen = 0;
        let result = fit(&mut net, Quadratic, data, &mut order, &config, 4, |_, _| {
            epochs_seen += 1;
            ControlFlow::Continue(())
        });
        (result, epochs_seen)
    };
    let (result, _) = run(0.01, 20);
    assert!(result.is_ok(), "{result:?}");

    // With η = 1e6 the first step already sends the weights to ~1e6 and the
    // next batches' squared errors overflow f32, within the first epoch.
    let (result, epochs_seen) = run(1e6, 20);
    let error = result.unwrap_err();
    assert_eq!(error, Error::Diverged { epoch: 1 });
    assert_eq!(epochs_seen, 0, "the hook ran for a diverged epoch");
    assert_message(&error, &["diverged", "epoch 1", "learning rate"]);
}

/// A single `Learner::epoch` checks targets too (a label out of range must not
/// be clamped to the last class and trained on), and so does `Dataset::check_targets`.
#[test]
fn one_epoch_rejects_invalid_targets() {
    let labels = [0, 1, 7, 0];
    let data = Dataset::new(&INPUTS, &labels).unwrap();
    let config = one_epoch(Momentum::DEFAULT, |_| {});
    let mut order = [0u16; 4];
    let mut state = TrainState::new();
    let mut network = net();
    let mut learner = Learner::new(&mut network, &mut state, &mut order, SoftmaxCrossEntropy, &config).unwrap();
    assert_eq!(learner.epoch(data).unwrap_err(), Error::InvalidTarget { sample: 2 });
    assert_eq!(data.check_targets::<SoftmaxCrossEntropy, f32, 2>(), Err(Error::InvalidTarget { sample: 2 }));
    let good = Dataset::new(&INPUTS, &LABELS).unwrap();
    assert_eq!(good.check_targets::<SoftmaxCrossEntropy, f32, 2>(), Ok(()));
}
