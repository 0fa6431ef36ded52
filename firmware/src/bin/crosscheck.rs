//! Recomputes on the target what the host computed for `fixtures/crosscheck/`
//! and compares every value bit for bit: inference of two networks (ReLU;
//! tanh and sigmoid), the math routines, the summed gradient of a minibatch,
//! and, for every optimizer (SGD, momentum, Nesterov, Adagrad, RMSprop, Adam,
//! AdamW; with schedules, penalties and clipping), the weights and every
//! value of the optimizer's state after five steps.
#![no_std]
#![no_main]

use core::mem::size_of;

use cortex_m_rt::entry;
use mlp_core::activation::{Relu, Sigmoid, Tanh, sigmoid};
use mlp_core::loss::SoftmaxCrossEntropy;
use mlp_core::optim::{Adagrad, Adam, AdamW, Nesterov, Optimizer, RmsProp, Sgd};
use mlp_core::{
    Chain, Dense, Float, Learner, Network, TrainConfig, TrainState, Zeroed, accumulate_sample, layers,
    predict_probabilities,
};
use mlp_firmware::compare::{columns_from_bits, f32_from_bits, inputs_from_pixels, same_bits, same_count};
use mlp_firmware::{exit, stack};
use static_cell::ConstStaticCell;

#[allow(dead_code, clippy::large_const_arrays)]
mod fixtures {
    pub mod network {
        include!("../../../fixtures/crosscheck/network.rs");
    }
    pub mod inference {
        include!("../../../fixtures/crosscheck/inference.rs");
    }
    pub mod gradients {
        include!("../../../fixtures/crosscheck/gradients.rs");
    }
    pub mod optimizer {
        include!("../../../fixtures/crosscheck/optimizer.rs");
    }
}
use fixtures::optimizer::DigitsBits;
use fixtures::{gradients, inference, network, optimizer};

type DigitsNet = layers![Dense<f32, 64, 32, Relu>, Dense<f32, 32, 10>];
type SmoothNet = layers![Dense<f32, 64, 16, Tanh>, Dense<f32, 16, 12, Sigmoid>, Dense<f32, 12, 10>];
type DigitsGradients = <DigitsNet as Network>::Gradients;

/// memory/default.x gives this program 256 KiB of RAM; it has no tight budget to prove.
const RAM_BUDGET: usize = 256 * 1024;
/// Deepest stack allowed: the checks, their result buffers and the logger.
const STACK_ALLOWANCE: usize = 16 * 1024;
/// Two training states (the digits network's also for momentum), one for
/// each other optimizer, and a network for the optimizer steps.
const STATE_BYTES: usize = size_of::<TrainState<DigitsNet>>()
    + size_of::<TrainState<SmoothNet>>()
    + size_of::<DigitsNet>()
    + TrainState::<DigitsNet, Sgd>::BYTES
    + TrainState::<DigitsNet, Nesterov>::BYTES
    + TrainState::<DigitsNet, Adagrad>::BYTES
    + TrainState::<DigitsNet, RmsProp>::BYTES
    + TrainState::<DigitsNet, Adam>::BYTES
    + TrainState::<DigitsNet, AdamW>::BYTES;
const _: () = assert!(STATE_BYTES + STACK_ALLOWANCE <= RAM_BUDGET, "the cross-checks do not fit");

static DIGITS: DigitsNet = Chain::new(
    Dense::from_columns(columns_from_bits(network::DIGITS_1_W), f32_from_bits(network::DIGITS_1_B)),
    Dense::from_columns(columns_from_bits(network::DIGITS_2_W), f32_from_bits(network::DIGITS_2_B)),
);
static SMOOTH: SmoothNet = Chain::new(
    Dense::from_columns(columns_from_bits(network::SMOOTH_1_W), f32_from_bits(network::SMOOTH_1_B)),
    Chain::new(
        Dense::from_columns(columns_from_bits(network::SMOOTH_2_W), f32_from_bits(network::SMOOTH_2_B)),
        Dense::from_columns(columns_from_bits(network::SMOOTH_3_W), f32_from_bits(network::SMOOTH_3_B)),
    ),
);

static INPUTS: [[f32; 64]; 16] = inputs_from_pixels(inference::INPUT_PIXELS);
static MATH_INPUTS: [f32; 256] = f32_from_bits(inference::MATH_INPUTS);
static BATCH: [[f32; 64]; 32] = inputs_from_pixels(gradients::BATCH_PIXELS);
static STEP_INPUTS: [[f32; 64]; 109] = inputs_from_pixels(optimizer::STEP_PIXELS);

static DIGITS_STATE: ConstStaticCell<TrainState<DigitsNet>> = ConstStaticCell::new(TrainState::new());
static SMOOTH_STATE: ConstStaticCell<TrainState<SmoothNet>> = ConstStaticCell::new(TrainState::new());
static STEPPED: ConstStaticCell<DigitsNet> = ConstStaticCell::new(DigitsNet::ZEROED);
static SGD: ConstStaticCell<TrainState<DigitsNet, Sgd>> = ConstStaticCell::new(TrainState::new());
static NESTEROV: ConstStaticCell<TrainState<DigitsNet, Nesterov>> = ConstStaticCell::new(TrainState::new());
static ADAGRAD: ConstStaticCell<TrainState<DigitsNet, Adagrad>> = ConstStaticCell::new(TrainState::new());
static RMSPROP: ConstStaticCell<TrainState<DigitsNet, RmsProp>> = ConstStaticCell::new(TrainState::new());
static ADAM: ConstStaticCell<TrainState<DigitsNet, Adam>> = ConstStaticCell::new(TrainState::new());
static ADAMW: ConstStaticCell<TrainState<DigitsNet, AdamW>> = ConstStaticCell::new(TrainState::new());

#[entry]
fn main() -> ! {
    let (Some(digits_state), Some(smooth_state), Some(stepped)) =
        (DIGITS_STATE.try_take(), SMOOTH_STATE.try_take(), STEPPED.try_take())
    else {
        defmt::error!("FAIL crosscheck: a static was taken twice");
        exit(false)
    };
    let (Some(sgd), Some(nesterov), Some(adagrad), Some(rmsprop), Some(adam), Some(adamw)) = (
        SGD.try_take(),
        NESTEROV.try_take(),
        ADAGRAD.try_take(),
        RMSPROP.try_take(),
        ADAM.try_take(),
        ADAMW.try_take(),
    ) else {
        defmt::error!("FAIL crosscheck: a static was taken twice");
        exit(false)
    };
    let mut ok = true;
    ok &= inference_digits(&mut digits_state.scratch.activations);
    ok &= inference_smooth(&mut smooth_state.scratch.activations);
    ok &= math();
    ok &= gradients_digits(digits_state);
    ok &= gradients_smooth(smooth_state);

    // Every optimizer; the closure views its buffers as a slice (an array once `O` is known).
    macro_rules! case {
        ($name:literal, $config:ident, $after:ident, $state:ident, $train_state:expr) => {
            steps($name, &optimizer::$config, &optimizer::$after, &optimizer::$state, stepped, $train_state, |s| {
                &s.persistent.optimizer[..]
            })
        };
    }
    ok &= case!("momentum+L2", MOMENTUM_L2_CONFIG, MOMENTUM_L2_AFTER, MOMENTUM_L2_STATE, digits_state);
    ok &= case!("Nesterov", NESTEROV_CONFIG, NESTEROV_AFTER, NESTEROV_STATE, nesterov);
    ok &= case!("decay", DECAY_CONFIG, DECAY_AFTER, DECAY_STATE, digits_state);
    ok &= case!("L1", L1_CONFIG, L1_AFTER, L1_STATE, sgd);
    ok &= case!("Adagrad", ADAGRAD_CONFIG, ADAGRAD_AFTER, ADAGRAD_STATE, adagrad);
    ok &= case!("RMSprop", RMSPROP_CONFIG, RMSPROP_AFTER, RMSPROP_STATE, rmsprop);
    ok &= case!("Adam+L2", ADAM_L2_CONFIG, ADAM_L2_AFTER, ADAM_L2_STATE, adam);
    ok &= case!("AdamW", ADAMW_CONFIG, ADAMW_AFTER, ADAMW_STATE, adamw);

    let high_water = stack::high_water();
    defmt::info!("MEMORY crosscheck stack_high_water={=usize}", high_water);
    if high_water > STACK_ALLOWANCE {
        defmt::error!(
            "FAIL crosscheck: stack high-water {=usize} B > allowance {=usize} B",
            high_water,
            STACK_ALLOWANCE
        );
        exit(false);
    }
    if ok {
        defmt::info!("PASS crosscheck");
    } else {
        defmt::error!("FAIL crosscheck: a value differs from the host's (see above)");
    }
    exit(ok)
}

/// Raw outputs and probabilities of every input, compared with the host's.
fn infer<N>(
    what: &str,
    net: &N,
    activations: &mut N::Activations,
    expected_outputs: &[[u32; 10]; 16],
    expected_probabilities: &[[u32; 10]; 16],
) -> bool
where
    N: Network<Scalar = f32, Input = [f32; 64], Output = [f32; 10]>,
{
    let mut outputs = [[0.0f32; 10]; 16];
    let mut probabilities = [[0.0f32; 10]; 16];
    for ((x, output), p) in INPUTS.iter().zip(&mut outputs).zip(&mut probabilities) {
        if let Err(error) = predict_probabilities(net, SoftmaxCrossEntropy, x, activations, p) {
            defmt::error!("{=str}: {}", what, error);
            return false;
        }
        *output = *N::output(activations);
    }
    defmt::info!("{=str} inference, {=usize} held-out digits", what, INPUTS.len());
    let outputs_ok = same_bits("  outputs", expected_outputs.as_flattened(), outputs.as_flattened());
    let probabilities_ok =
        same_bits("  probabilities", expected_probabilities.as_flattened(), probabilities.as_flattened());
    outputs_ok & probabilities_ok
}

fn inference_digits(activations: &mut <DigitsNet as Network>::Activations) -> bool {
    infer("digits (ReLU)", &DIGITS, activations, &inference::DIGITS_OUTPUTS, &inference::DIGITS_PROBABILITIES)
}

fn inference_smooth(activations: &mut <SmoothNet as Network>::Activations) -> bool {
    infer("smooth (tanh, sigmoid)", &SMOOTH, activations, &inference::SMOOTH_OUTPUTS, &inference::SMOOTH_PROBABILITIES)
}

/// A math routine's name, the routine, and its expected values.
type Routine = (&'static str, fn(f32) -> f32, &'static [u32; 256]);

/// The core's exponential, `tanh`, logistic function and logarithm.
fn math() -> bool {
    let mut ok = true;
    let mut out = [0.0f32; 256];
    let routines: [Routine; 4] = [
        ("exp", Float::exp, &inference::MATH_EXP),
        ("tanh", Float::tanh, &inference::MATH_TANH),
        ("sigmoid", sigmoid, &inference::MATH_SIGMOID),
        ("ln |x|", |x| Float::ln(Float::abs(x)), &inference::MATH_LN_ABS),
    ];
    for (what, f, expected) in routines {
        for (y, &x) in out.iter_mut().zip(&MATH_INPUTS) {
            *y = f(x);
        }
        ok &= same_bits(what, expected, &out);
    }
    ok
}

/// Sums the minibatch's gradient from a zeroed state; returns each sample's loss.
fn accumulate<N>(net: &N, state: &mut TrainState<N>) -> [f32; 32]
where
    N: Network<Scalar = f32, Input = [f32; 64], Output = [f32; 10]>,
{
    state.set_zero();
    let mut losses = [0.0f32; 32];
    for ((x, label), loss) in BATCH.iter().zip(&gradients::BATCH_LABELS).zip(&mut losses) {
        *loss = accumulate_sample(net, state, SoftmaxCrossEntropy, x, label).0;
    }
    losses
}

fn gradients_digits(state: &mut TrainState<DigitsNet>) -> bool {
    let losses = accumulate(&DIGITS, state);
    defmt::info!("digits gradient, minibatch of {=usize}", BATCH.len());
    let g = &state.gradients;
    [
        same_bits("  losses", &gradients::DIGITS_LOSSES, &losses),
        same_bits("  layer 1 weights", gradients::DIGITS_GRAD_1_W.as_flattened(), g.head.weights.as_slice()),
        same_bits("  layer 1 biases", &gradients::DIGITS_GRAD_1_B, g.head.biases.as_slice()),
        same_bits("  layer 2 weights", gradients::DIGITS_GRAD_2_W.as_flattened(), g.tail.weights.as_slice()),
        same_bits("  layer 2 biases", &gradients::DIGITS_GRAD_2_B, g.tail.biases.as_slice()),
    ]
    .iter()
    .all(|&ok| ok)
}

fn gradients_smooth(state: &mut TrainState<SmoothNet>) -> bool {
    let losses = accumulate(&SMOOTH, state);
    defmt::info!("smooth gradient, minibatch of {=usize}", BATCH.len());
    let g = &state.gradients;
    [
        same_bits("  losses", &gradients::SMOOTH_LOSSES, &losses),
        same_bits("  layer 1 weights", gradients::SMOOTH_GRAD_1_W.as_flattened(), g.head.weights.as_slice()),
        same_bits("  layer 1 biases", &gradients::SMOOTH_GRAD_1_B, g.head.biases.as_slice()),
        same_bits("  layer 2 weights", gradients::SMOOTH_GRAD_2_W.as_flattened(), g.tail.head.weights.as_slice()),
        same_bits("  layer 2 biases", &gradients::SMOOTH_GRAD_2_B, g.tail.head.biases.as_slice()),
        same_bits("  layer 3 weights", gradients::SMOOTH_GRAD_3_W.as_flattened(), g.tail.tail.weights.as_slice()),
        same_bits("  layer 3 biases", &gradients::SMOOTH_GRAD_3_B, g.tail.tail.biases.as_slice()),
    ]
    .iter()
    .all(|&ok| ok)
}

/// From the host-trained network and a fresh state, one step per minibatch
/// (step k in epoch k); then compares the weights and every optimizer
/// buffer (`buffers` views the state's) with the host's. False if anything
/// differs or the configuration is refused.
fn steps<O: Optimizer + defmt::Format>(
    name: &str,
    config: &TrainConfig<O>,
    after: &DigitsBits,
    expected_state: &[DigitsBits],
    net: &mut DigitsNet,
    state: &mut TrainState<DigitsNet, O>,
    buffers: impl Fn(&TrainState<DigitsNet, O>) -> &[DigitsGradients],
) -> bool {
    defmt::info!("optimizer {=str}: {=usize} steps, {}", name, optimizer::STEP_BATCHES.len(), config);
    net.head.weights = DIGITS.head.weights;
    net.head.biases = DIGITS.head.biases;
    net.tail.weights = DIGITS.tail.weights;
    net.tail.biases = DIGITS.tail.biases;
    state.set_zero();
    let mut samples = STEP_INPUTS.iter().zip(&optimizer::STEP_LABELS);
    let mut no_order: [u16; 0] = [];
    for (epoch, &len) in (0u32..).zip(&optimizer::STEP_BATCHES) {
        let mut taken = 0;
        for (x, label) in samples.by_ref().take(len) {
            accumulate_sample(&*net, state, SoftmaxCrossEntropy, x, label);
            taken += 1;
        }
        if taken != len {
            defmt::error!("minibatch {=u32}: {=usize} of {=usize} samples embedded", epoch, taken, len);
            return false;
        }
        // The epoch sets the scheduled rate.
        state.persistent.epoch = epoch;
        match Learner::new(&mut *net, &mut *state, &mut no_order, SoftmaxCrossEntropy, config) {
            Ok(mut learner) => learner.step(len),
            Err(error) => {
                defmt::error!("  refused: {}", error);
                return false;
            }
        }
    }
    let mut ok = same_count("  steps taken", optimizer::STEP_BATCHES.len(), state.persistent.steps as usize);
    let (head, tail) = (&net.head, &net.tail);
    let weights = [head.weights.as_slice(), head.biases.as_slice(), tail.weights.as_slice(), tail.biases.as_slice()];
    ok &= same_layers("  weights", after, weights);
    let buffers = buffers(state);
    ok &= same_count("  optimizer buffers", expected_state.len(), buffers.len());
    for (expected, buffer) in expected_state.iter().zip(buffers) {
        let (head, tail) = (&buffer.head, &buffer.tail);
        let values = [head.weights.as_slice(), head.biases.as_slice(), tail.weights.as_slice(), tail.biases.as_slice()];
        ok &= same_layers("  optimizer buffer", expected, values);
    }
    ok
}

/// Compares a digits network's four arrays of values (weights and biases of
/// both layers) with their expected bits.
fn same_layers(what: &str, (w1, b1, w2, b2): &DigitsBits, actual: [&[f32]; 4]) -> bool {
    defmt::info!("{=str}", what);
    [
        same_bits("    layer 1 weights", w1.as_flattened(), actual[0]),
        same_bits("    layer 1 biases", b1, actual[1]),
        same_bits("    layer 2 weights", w2.as_flattened(), actual[2]),
        same_bits("    layer 2 biases", b2, actual[3]),
    ]
    .iter()
    .all(|&ok| ok)
}
