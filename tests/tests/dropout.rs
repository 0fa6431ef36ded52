//! Inverted dropout (`mlp_core::dropout`): masks drawn from the seed alone,
//! a rate of 0 exactly training without dropout, inference untouched,
//! backprop through a fixed mask against central differences, the rates
//! checked, and checkpoints that keep them and resume bit for bit.

mod common;

use common::{rng, uniform};
use mlp_core::activation::{Relu, Sigmoid, Tanh};
use mlp_core::dropout::{Dropout, DropoutCache, MAX_LAYERS};
use mlp_core::loss::{Loss, SoftmaxCrossEntropy};
use mlp_core::model::{self, FormatError, Model, Section};
use mlp_core::optim::Adam;
use mlp_core::schedule::Schedule;
use mlp_core::{
    Dataset, Dense, Error, Hyperparameter, Init, Learner, Network, TrainConfig, TrainState, Zeroed, evaluate, layers,
    predict,
};

type Net = layers![Dense<f32, 6, 24, Relu>, Dense<f32, 24, 12, Tanh>, Dense<f32, 12, 3>];

fn data() -> (Vec<[f32; 6]>, Vec<usize>) {
    let mut r = rng(21);
    let inputs: Vec<[f32; 6]> =
        (0..90).map(|_| core::array::from_fn(|_| uniform(&mut r, -1.0, 1.0).max(-0.2) as f32)).collect();
    let labels = inputs.iter().map(|x| usize::from(x[0] > x[1]) + usize::from(x[2] > 0.3)).collect();
    (inputs, labels)
}

fn config(dropout: Dropout) -> TrainConfig<Adam> {
    TrainConfig {
        epochs: 3,
        batch_size: 10,
        schedule: Schedule::constant(0.01),
        dropout,
        ..TrainConfig::new(Adam::DEFAULT)
    }
}

fn rates(first: f64, second: f64) -> Dropout {
    let mut d = Dropout::NONE;
    d.rates[..2].copy_from_slice(&[first, second]);
    d
}

/// Trains from seed `seed`; returns the weights' bits and the generator's state.
fn train(config: &TrainConfig<Adam>, seed: u64, with_cache: bool) -> (Net, Vec<u32>, [u32; 4]) {
    let (inputs, labels) = data();
    let data = Dataset::new(&inputs, &labels).unwrap();
    let (mut net, mut state, mut order) = (Net::zeroed(), TrainState::<Net, Adam>::new(), vec![0u16; inputs.len()]);
    let mut cache = DropoutCache::<Net>::new();
    state.persistent.rng = rng(seed);
    net.initialize(Init::HeUniform, &mut state.persistent.rng).unwrap();
    let mut learner = Learner::new(&mut net, &mut state, &mut order, SoftmaxCrossEntropy, config).unwrap();
    if with_cache {
        learner = learner.with_dropout(&mut cache);
    }
    for _ in 0..config.epochs {
        learner.epoch(data).unwrap();
    }
    let rng_state = state.persistent.rng.state();
    let bits = bits(&net);
    (net, bits, rng_state)
}

fn bits<N: Network<Scalar = f32>>(net: &N) -> Vec<u32> {
    let mut all = Vec::new();
    net.for_each_parameter(|_, values| all.extend(values.iter().map(|v| v.to_bits())));
    all
}

#[test]
fn the_masks_come_from_the_seed_alone() {
    let dropped = config(rates(0.5, 0.2));
    let (_, a, rng_a) = train(&dropped, 3, true);
    let (_, b, rng_b) = train(&dropped, 3, true);
    assert_eq!((a.clone(), rng_a), (b, rng_b), "one seed, one run");
    let (_, other, _) = train(&dropped, 4, true);
    assert_ne!(a, other);
    let (_, plain, rng_plain) = train(&config(Dropout::NONE), 3, false);
    assert_ne!(a, plain, "the masks change the run");
    assert_ne!(rng_a, rng_plain, "they are drawn from the training generator");
}

#[test]
fn a_rate_of_zero_is_training_without_dropout() {
    let plain = train(&config(Dropout::NONE), 5, false);
    // With a cache and no rate: nothing drawn, the same bits.
    let cached = train(&config(Dropout::NONE), 5, true);
    assert_eq!((&plain.1, plain.2), (&cached.1, cached.2));
}

#[test]
fn mask_values_are_the_scale_or_zero_in_the_expected_proportion() {
    let rule = rates(0.25, 0.0).check::<f32>().unwrap();
    let mut r = rng(8);
    let mut masks = <Net as Network>::Hidden::zeroed();
    let (mut kept, mut total) = (0usize, 0usize);
    for _ in 0..2000 {
        let before = r.state();
        Net::draw_masks(&rule, 0, &mut masks, &mut r);
        let first: &[f32] = masks.head.as_slice();
        assert!(first.iter().all(|&m| m == 0.0 || m == (1.0 / 0.75) as f32), "{first:?}");
        kept += first.iter().filter(|&&m| m != 0.0).count();
        total += first.len();
        assert!(masks.tail.head.as_slice().iter().all(|&m| m == 1.0), "a layer with rate 0 keeps every unit");
        assert_ne!(before, r.state());
    }
    let fraction = kept as f64 / total as f64;
    assert!((fraction - 0.75).abs() < 0.01, "{fraction}");
    // No rate: nothing is drawn.
    let none = Dropout::NONE.check::<f32>().unwrap();
    let before = r.state();
    Net::draw_masks(&none, 0, &mut masks, &mut r);
    assert_eq!(before, r.state());
}

#[test]
fn inference_does_not_drop_units() {
    let (net, _, _) = train(&config(rates(0.5, 0.5)), 6, true);
    let (inputs, labels) = data();
    let mut scratch = <Net as Network>::Activations::zeroed();
    let first = evaluate(&net, &mut scratch, SoftmaxCrossEntropy, Dataset::new(&inputs, &labels).unwrap()).unwrap();
    let again = evaluate(&net, &mut scratch, SoftmaxCrossEntropy, Dataset::new(&inputs, &labels).unwrap()).unwrap();
    assert_eq!(first, again);
    // The plain forward pass is the forward pass through masks of ones.
    let ones = Dropout::NONE.check::<f32>().unwrap();
    let mut cache = DropoutCache::<Net>::new();
    Net::draw_masks(&ones, 0, &mut cache.masks, &mut rng(1));
    for x in &inputs {
        let plain = *predict(&net, x, &mut scratch).unwrap();
        let mut activations = <Net as Network>::Activations::zeroed();
        let masked = *net.forward_dropout(x, &mut activations, &cache.masks, &mut cache.dropped);
        assert_eq!(plain.map(f32::to_bits), masked.map(f32::to_bits));
    }
}

/// Backprop through one fixed mask against central differences of the
/// loss through the same mask, in `f64`, with tanh and sigmoid hidden layers
/// (whose derivatives need the outputs before dropout).
#[test]
fn backprop_through_a_fixed_mask_matches_central_differences() {
    type Smooth = layers![Dense<f64, 4, 7, Tanh>, Dense<f64, 7, 5, Sigmoid>, Dense<f64, 5, 3>];
    let mut r = rng(11);
    let mut net = Smooth::zeroed();
    net.initialize(Init::GlorotUniform, &mut r).unwrap();
    net.for_each_trainable_mut(|_, _, values| values.iter_mut().for_each(|v| *v = uniform(&mut r, -1.0, 1.0)));
    let x: [f64; 4] = core::array::from_fn(|_| uniform(&mut r, -1.0, 1.0));
    let label = 1usize;
    let rule = rates(0.4, 0.3).check::<f64>().unwrap();
    let mut cache = DropoutCache::<Smooth>::new();
    Smooth::draw_masks(&rule, 0, &mut cache.masks, &mut r);
    assert!(cache.masks.head.iter().any(|&m| m == 0.0) && cache.masks.head.iter().any(|&m| m != 0.0));
    let loss = |net: &Smooth| {
        let mut activations = <Smooth as Network>::Activations::zeroed();
        let mut dropped = <Smooth as Network>::Hidden::zeroed();
        let out = net.forward_dropout(&x, &mut activations, &cache.masks, &mut dropped);
        <SoftmaxCrossEntropy as Loss<f64, 3>>::loss(out, &label)
    };
    let mut activations = <Smooth as Network>::Activations::zeroed();
    let mut deltas = <Smooth as Network>::Deltas::zeroed();
    let mut gradients = <Smooth as Network>::Gradients::zeroed();
    let mut dropped = <Smooth as Network>::Hidden::zeroed();
    let out = *net.forward_dropout(&x, &mut activations, &cache.masks, &mut dropped);
    <SoftmaxCrossEntropy as Loss<f64, 3>>::loss_and_gradient(&out, &label, Smooth::output_delta(&mut deltas));
    let mut dx = [0.0; 4];
    net.backward_dropout(&x, &activations, &cache.masks, &dropped, &mut deltas, &mut gradients, Some(&mut dx));
    let mut analytic = Vec::new();
    net.for_each_trainable_mut(|_, slot, _| analytic.extend_from_slice(mlp_core::Slots::slot(&gradients, slot)));
    let h = 1e-6;
    let mut worst = 0.0f64;
    for (k, &a) in analytic.iter().enumerate() {
        let nudge = |net: &mut Smooth, by: f64| {
            let mut at = 0;
            net.for_each_trainable_mut(|_, _, values| {
                for v in values {
                    if at == k {
                        *v += by;
                    }
                    at += 1;
                }
            });
        };
        let mut plus = net.clone();
        nudge(&mut plus, h);
        let mut minus = net.clone();
        nudge(&mut minus, -h);
        let numeric = (loss(&plus) - loss(&minus)) / (2.0 * h);
        let error = (a - numeric).abs() / a.abs().max(numeric.abs()).max(1e-4);
        worst = worst.max(error);
    }
    assert!(worst < 1e-6, "largest relative error {worst:e}");
    // Weights from a dropped unit get no gradient.
    let dropped_unit = cache.masks.head.iter().position(|&m| m == 0.0).unwrap();
    assert!(gradients.tail.head.weights.column(dropped_unit).iter().all(|&g| g == 0.0));
}

#[test]
fn rates_are_checked() {
    for p in [1.0, -0.1, f64::NAN, f64::INFINITY] {
        let error = config(rates(p, 0.0)).check::<f32>().unwrap_err();
        assert!(matches!(error, Error::InvalidHyperparameter { name: Hyperparameter::Dropout, .. }), "{p}: {error}");
    }
    let (mut net, mut state, mut order) = (Net::zeroed(), TrainState::<Net, Adam>::new(), [0u16; 4]);
    // The output layer (layer 2 of Net) never drops units.
    let mut output = Dropout::NONE;
    output.rates[2] = 0.5;
    let refused = Learner::new(&mut net, &mut state, &mut order, SoftmaxCrossEntropy, &config(output)).err();
    assert!(matches!(refused, Some(Error::InvalidHyperparameter { name: Hyperparameter::Dropout, .. })));
    // A rate without a cache to draw the masks into.
    let inputs = [[0.5f32; 6]; 4];
    let labels = [0, 1, 2, 0];
    let mut learner =
        Learner::new(&mut net, &mut state, &mut order, SoftmaxCrossEntropy, &config(rates(0.5, 0.0))).unwrap();
    let error = learner.epoch(Dataset::new(&inputs, &labels).unwrap()).unwrap_err();
    assert!(matches!(error, Error::InvalidHyperparameter { name: Hyperparameter::Dropout, .. }), "{error}");
    assert_eq!(Dropout::uniform(0.5, 2).rates[..3], [0.5, 0.5, 0.0]);
    assert_eq!(Dropout::uniform(0.5, 99).rates, [0.5; MAX_LAYERS]);
}

#[test]
fn a_checkpoint_keeps_the_rates_and_resumes_bit_for_bit() {
    let (inputs, labels) = data();
    let data = Dataset::new(&inputs, &labels).unwrap();
    let dropped = TrainConfig { epochs: 4, ..config(rates(0.5, 0.25)) };
    let start = |net: &mut Net, state: &mut TrainState<Net, Adam>| {
        state.persistent.rng = rng(9);
        net.initialize(Init::HeUniform, &mut state.persistent.rng).unwrap();
    };
    // Straight through.
    let (mut whole, mut state, mut order) = (Net::zeroed(), TrainState::<Net, Adam>::new(), vec![0u16; 90]);
    let mut cache = DropoutCache::<Net>::new();
    start(&mut whole, &mut state);
    let mut learner = Learner::new(&mut whole, &mut state, &mut order, SoftmaxCrossEntropy, &dropped)
        .unwrap()
        .with_dropout(&mut cache);
    for _ in 0..4 {
        learner.epoch(data).unwrap();
    }
    // Two epochs, a checkpoint, two more from it.
    let (mut half, mut state) = (Net::zeroed(), TrainState::<Net, Adam>::new());
    start(&mut half, &mut state);
    let mut learner = Learner::new(&mut half, &mut state, &mut order, SoftmaxCrossEntropy, &dropped)
        .unwrap()
        .with_dropout(&mut cache);
    for _ in 0..2 {
        learner.epoch(data).unwrap();
    }
    let mut file = vec![0u8; model::checkpoint_bytes::<Net, Adam>() + model::dropout_section_bytes::<Net>()];
    let written = model::write_checkpoint(&half, &state.persistent, &dropped, &mut file).unwrap();
    assert_eq!(written, file.len(), "checkpoint_bytes plus the dropout section");
    let parsed = Model::parse(&file).unwrap();
    assert!(parsed.has(Section::Dropout));
    assert_eq!(parsed.training().unwrap().config.dropout, dropped.dropout);
    let (mut resumed, mut state) = (Net::zeroed(), TrainState::<Net, Adam>::new());
    let restored = model::read_checkpoint(&file, &mut resumed, &mut state.persistent).unwrap();
    assert_eq!(restored, dropped);
    let mut learner = Learner::new(&mut resumed, &mut state, &mut order, SoftmaxCrossEntropy, &restored)
        .unwrap()
        .with_dropout(&mut cache);
    for _ in 0..2 {
        learner.epoch(data).unwrap();
    }
    assert_eq!(bits(&resumed), bits(&whole));

    // Without dropout the file is as before: no dropout section.
    let plain = config(Dropout::NONE);
    let mut file = vec![0u8; model::checkpoint_bytes::<Net, Adam>()];
    model::write_checkpoint(&half, &state.persistent, &plain, &mut file).unwrap();
    assert!(!Model::parse(&file).unwrap().has(Section::Dropout));
    // A rate for the output layer cannot be stored.
    let mut output = Dropout::NONE;
    output.rates[2] = 0.5;
    let mut big = vec![0u8; 2 * file.len()];
    let refused = model::write_checkpoint(&half, &state.persistent, &config(output), &mut big);
    assert!(matches!(refused, Err(FormatError::InvalidConfig(_))), "{refused:?}");
}
