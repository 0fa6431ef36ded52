//! Recomputes on the target what the host computed for `fixtures/crosscheck/`
//! and compares every value bit for bit: inference of two networks (ReLU;
//! tanh and sigmoid), the math routines, the summed gradient of a minibatch,
//! and the weights after five optimizer steps for four optimizers.
#![no_std]
#![no_main]

use core::mem::size_of;

use cortex_m_rt::entry;
use mlp_core::activation::{Relu, Sigmoid, Tanh, sigmoid};
use mlp_core::loss::SoftmaxCrossEntropy;
use mlp_core::{
    Chain, Dense, Float, Network, SgdConfig, TrainState, Zeroed, accumulate_sample, apply_gradients, layers,
    predict_probabilities,
};
use mlp_firmware::compare::{columns_from_bits, f32_from_bits, inputs_from_pixels, same_bits};
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
use fixtures::{gradients, inference, network, optimizer};

type DigitsNet = layers![Dense<f32, 64, 32, Relu>, Dense<f32, 32, 10>];
type SmoothNet = layers![Dense<f32, 64, 16, Tanh>, Dense<f32, 16, 12, Sigmoid>, Dense<f32, 12, 10>];

/// memory/default.x gives this program 256 KiB of RAM; it has no tight budget to prove.
const RAM_BUDGET: usize = 256 * 1024;
/// Deepest stack allowed: the checks, their result buffers and the logger.
const STACK_ALLOWANCE: usize = 16 * 1024;
/// Two training states and a network for the optimizer steps.
const STATE_BYTES: usize =
    size_of::<TrainState<DigitsNet>>() + size_of::<TrainState<SmoothNet>>() + size_of::<DigitsNet>();
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

#[entry]
fn main() -> ! {
    let (Some(digits_state), Some(smooth_state), Some(stepped)) =
        (DIGITS_STATE.try_take(), SMOOTH_STATE.try_take(), STEPPED.try_take())
    else {
        defmt::error!("FAIL crosscheck: a static was taken twice");
        exit(false)
    };
    let mut ok = true;
    ok &= inference_digits(&mut digits_state.activations);
    ok &= inference_smooth(&mut smooth_state.activations);
    ok &= math();
    ok &= gradients_digits(digits_state);
    ok &= gradients_smooth(smooth_state);
    let cases = [
        (
            "momentum+L2",
            &optimizer::MOMENTUM_L2_SGD,
            &optimizer::MOMENTUM_L2_1_W,
            &optimizer::MOMENTUM_L2_1_B,
            &optimizer::MOMENTUM_L2_2_W,
            &optimizer::MOMENTUM_L2_2_B,
        ),
        (
            "Nesterov",
            &optimizer::NESTEROV_SGD,
            &optimizer::NESTEROV_1_W,
            &optimizer::NESTEROV_1_B,
            &optimizer::NESTEROV_2_W,
            &optimizer::NESTEROV_2_B,
        ),
        (
            "decay",
            &optimizer::DECAY_SGD,
            &optimizer::DECAY_1_W,
            &optimizer::DECAY_1_B,
            &optimizer::DECAY_2_W,
            &optimizer::DECAY_2_B,
        ),
        ("L1", &optimizer::L1_SGD, &optimizer::L1_1_W, &optimizer::L1_1_B, &optimizer::L1_2_W, &optimizer::L1_2_B),
    ];
    for (name, sgd, w1, b1, w2, b2) in cases {
        if steps(stepped, digits_state, sgd) {
            defmt::info!("optimizer {=str}: {=usize} steps", name, optimizer::STEP_BATCHES.len());
            ok &= same_bits("  layer 1 weights", w1.as_flattened(), stepped.head.weights.as_slice());
            ok &= same_bits("  layer 1 biases", b1, stepped.head.biases.as_slice());
            ok &= same_bits("  layer 2 weights", w2.as_flattened(), stepped.tail.weights.as_slice());
            ok &= same_bits("  layer 2 biases", b2, stepped.tail.biases.as_slice());
        } else {
            defmt::error!("optimizer {=str}: the steps did not run", name);
            ok = false;
        }
    }

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
/// (step k in epoch k). False if the optimizer is refused.
fn steps(net: &mut DigitsNet, state: &mut TrainState<DigitsNet>, sgd: &SgdConfig) -> bool {
    let sgd = match sgd.check::<f32>() {
        Ok(sgd) => sgd,
        Err(error) => {
            defmt::error!("optimizer refused: {}", error);
            return false;
        }
    };
    net.head.weights = DIGITS.head.weights;
    net.head.biases = DIGITS.head.biases;
    net.tail.weights = DIGITS.tail.weights;
    net.tail.biases = DIGITS.tail.biases;
    state.set_zero();
    let mut samples = STEP_INPUTS.iter().zip(&optimizer::STEP_LABELS);
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
        apply_gradients(net, state, &sgd, epoch, len);
    }
    true
}
