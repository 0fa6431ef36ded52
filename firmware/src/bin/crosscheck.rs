//! Recomputes on the target what the host computed for `fixtures/crosscheck/`
//! and compares every value bit for bit: inference of two networks (ReLU;
//! tanh and sigmoid), the math routines, the summed gradient of a minibatch,
//! and, for every optimizer (SGD, momentum, Nesterov, Adagrad, RMSprop, Adam,
//! AdamW; with schedules, penalties and clipping; momentum with dropout, its
//! masks drawn on the device), the weights and every value of the
//! optimizer's state after five steps. The host-trained
//! networks are model files read with `read_model`, and the host's results
//! after the steps are checkpoints, both embedded with `include_bytes!`.
#![no_std]
#![no_main]

use core::mem::size_of;

use cortex_m_rt::entry;
use mlp_core::activation::{Relu, Sigmoid, Tanh, sigmoid};
use mlp_core::loss::SoftmaxCrossEntropy;
use mlp_core::model::{Model, read_model};
use mlp_core::optim::{Adagrad, Adam, AdamW, Nesterov, Optimizer, RmsProp, Sgd};
use mlp_core::{
    Dense, DropoutCache, Float, Learner, Network, TrainConfig, TrainState, Zeroed, accumulate_sample,
    accumulate_sample_dropout, layers, predict_probabilities,
};
use mlp_firmware::compare::{f32_from_bits, inputs_from_pixels, same_bits, same_count, same_parameters, same_state};
use mlp_firmware::{exit, stack};
use static_cell::ConstStaticCell;

#[allow(dead_code, clippy::large_const_arrays)]
mod fixtures {
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
use fixtures::{gradients, inference, optimizer};

type DigitsNet = layers![Dense<f32, 64, 32, Relu>, Dense<f32, 32, 10>];
type SmoothNet = layers![Dense<f32, 64, 16, Tanh>, Dense<f32, 16, 12, Sigmoid>, Dense<f32, 12, 10>];

/// memory/default.x gives this program 256 KiB of RAM; it has no tight budget to prove.
const RAM_BUDGET: usize = 256 * 1024;
/// Deepest stack allowed: the checks, their result buffers and the logger.
const STACK_ALLOWANCE: usize = 16 * 1024;
/// The two networks read from their files, two training states (the digits
/// network's also for momentum), one for each other optimizer, and a
/// network for the optimizer steps.
const STATE_BYTES: usize = size_of::<DigitsNet>()
    + size_of::<SmoothNet>()
    + size_of::<TrainState<DigitsNet>>()
    + size_of::<TrainState<SmoothNet>>()
    + size_of::<DigitsNet>()
    + TrainState::<DigitsNet, Sgd>::BYTES
    + TrainState::<DigitsNet, Nesterov>::BYTES
    + TrainState::<DigitsNet, Adagrad>::BYTES
    + TrainState::<DigitsNet, RmsProp>::BYTES
    + TrainState::<DigitsNet, Adam>::BYTES
    + TrainState::<DigitsNet, AdamW>::BYTES
    + DigitsNet::DROPOUT_BYTES;
const _: () = assert!(STATE_BYTES + STACK_ALLOWANCE <= RAM_BUDGET, "the cross-checks do not fit");

/// The host-trained networks, as model files in flash.
static DIGITS_FILE: &[u8] = include_bytes!("../../../fixtures/crosscheck/digits.mlpm");
static SMOOTH_FILE: &[u8] = include_bytes!("../../../fixtures/crosscheck/smooth.mlpm");

/// The host's network and optimizer state after each optimizer case's steps.
macro_rules! after_steps {
    ($case:literal) => {
        include_bytes!(concat!("../../../fixtures/crosscheck/optimizer_", $case, ".mlpm"))
    };
}

static INPUTS: [[f32; 64]; 16] = inputs_from_pixels(inference::INPUT_PIXELS);
static MATH_INPUTS: [f32; 256] = f32_from_bits(inference::MATH_INPUTS);
static BATCH: [[f32; 64]; 32] = inputs_from_pixels(gradients::BATCH_PIXELS);
static STEP_INPUTS: [[f32; 64]; 109] = inputs_from_pixels(optimizer::STEP_PIXELS);

static DIGITS: ConstStaticCell<DigitsNet> = ConstStaticCell::new(DigitsNet::ZEROED);
static SMOOTH: ConstStaticCell<SmoothNet> = ConstStaticCell::new(SmoothNet::ZEROED);
static DIGITS_STATE: ConstStaticCell<TrainState<DigitsNet>> = ConstStaticCell::new(TrainState::new());
static SMOOTH_STATE: ConstStaticCell<TrainState<SmoothNet>> = ConstStaticCell::new(TrainState::new());
static STEPPED: ConstStaticCell<DigitsNet> = ConstStaticCell::new(DigitsNet::ZEROED);
static SGD: ConstStaticCell<TrainState<DigitsNet, Sgd>> = ConstStaticCell::new(TrainState::new());
static NESTEROV: ConstStaticCell<TrainState<DigitsNet, Nesterov>> = ConstStaticCell::new(TrainState::new());
static ADAGRAD: ConstStaticCell<TrainState<DigitsNet, Adagrad>> = ConstStaticCell::new(TrainState::new());
static RMSPROP: ConstStaticCell<TrainState<DigitsNet, RmsProp>> = ConstStaticCell::new(TrainState::new());
static ADAM: ConstStaticCell<TrainState<DigitsNet, Adam>> = ConstStaticCell::new(TrainState::new());
static ADAMW: ConstStaticCell<TrainState<DigitsNet, AdamW>> = ConstStaticCell::new(TrainState::new());
static DROPOUT: ConstStaticCell<DropoutCache<DigitsNet>> = ConstStaticCell::new(DropoutCache::new());

#[entry]
fn main() -> ! {
    let (Some(digits), Some(smooth), Some(digits_state), Some(smooth_state), Some(stepped)) =
        (DIGITS.try_take(), SMOOTH.try_take(), DIGITS_STATE.try_take(), SMOOTH_STATE.try_take(), STEPPED.try_take())
    else {
        defmt::error!("FAIL crosscheck: a static was taken twice");
        exit(false)
    };
    let (Some(sgd), Some(nesterov), Some(adagrad), Some(rmsprop), Some(adam), Some(adamw), Some(dropout)) = (
        SGD.try_take(),
        NESTEROV.try_take(),
        ADAGRAD.try_take(),
        RMSPROP.try_take(),
        ADAM.try_take(),
        ADAMW.try_take(),
        DROPOUT.try_take(),
    ) else {
        defmt::error!("FAIL crosscheck: a static was taken twice");
        exit(false)
    };
    let mut ok = true;
    ok &= read("digits", DIGITS_FILE, digits);
    ok &= read("smooth", SMOOTH_FILE, smooth);
    ok &= inference_digits(digits, &mut digits_state.scratch.activations);
    ok &= inference_smooth(smooth, &mut smooth_state.scratch.activations);
    ok &= math();
    ok &= gradients_digits(digits, digits_state);
    ok &= gradients_smooth(smooth, smooth_state);

    // Every optimizer.
    macro_rules! case {
        ($name:literal, $config:ident, $file:literal, $train_state:expr) => {
            steps($name, &optimizer::$config, after_steps!($file), digits, stepped, $train_state, dropout)
        };
    }
    ok &= case!("momentum+L2", MOMENTUM_L2_CONFIG, "momentum_l2", digits_state);
    ok &= case!("momentum+dropout", DROPOUT_CONFIG, "dropout", digits_state);
    ok &= case!("Nesterov", NESTEROV_CONFIG, "nesterov", nesterov);
    ok &= case!("decay", DECAY_CONFIG, "decay", digits_state);
    ok &= case!("L1", L1_CONFIG, "l1", sgd);
    ok &= case!("Adagrad", ADAGRAD_CONFIG, "adagrad", adagrad);
    ok &= case!("RMSprop", RMSPROP_CONFIG, "rmsprop", rmsprop);
    ok &= case!("Adam+L2", ADAM_L2_CONFIG, "adam_l2", adam);
    ok &= case!("AdamW", ADAMW_CONFIG, "adamw", adamw);

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

/// Reads a host-trained network from its model file.
fn read<N: Network>(what: &str, file: &[u8], net: &mut N) -> bool {
    match read_model(file, net) {
        Ok(model) => {
            defmt::info!(
                "{=str} network: read from its model file ({=usize} B, {=usize} layers, {=usize} parameters)",
                what,
                model.len(),
                model.layer_count(),
                model.parameter_count()
            );
            true
        }
        Err(error) => {
            defmt::error!("{=str} network: its model file was refused: {}", what, error);
            false
        }
    }
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

fn inference_digits(net: &DigitsNet, activations: &mut <DigitsNet as Network>::Activations) -> bool {
    infer("digits (ReLU)", net, activations, &inference::DIGITS_OUTPUTS, &inference::DIGITS_PROBABILITIES)
}

fn inference_smooth(net: &SmoothNet, activations: &mut <SmoothNet as Network>::Activations) -> bool {
    infer("smooth (tanh, sigmoid)", net, activations, &inference::SMOOTH_OUTPUTS, &inference::SMOOTH_PROBABILITIES)
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

fn gradients_digits(net: &DigitsNet, state: &mut TrainState<DigitsNet>) -> bool {
    let losses = accumulate(net, state);
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

fn gradients_smooth(net: &SmoothNet, state: &mut TrainState<SmoothNet>) -> bool {
    let losses = accumulate(net, state);
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
/// buffer with the host's checkpoint `after`. False if anything differs or
/// the configuration is refused.
fn steps<O: Optimizer + defmt::Format>(
    name: &str,
    config: &TrainConfig<O>,
    after: &[u8],
    start: &DigitsNet,
    net: &mut DigitsNet,
    state: &mut TrainState<DigitsNet, O>,
    dropout: &mut DropoutCache<DigitsNet>,
) -> bool {
    defmt::info!("optimizer {=str}: {=usize} steps, {}", name, optimizer::STEP_BATCHES.len(), config);
    net.head.weights = start.head.weights;
    net.head.biases = start.head.biases;
    net.tail.weights = start.tail.weights;
    net.tail.biases = start.tail.biases;
    state.set_zero();
    // Masks, if any, come from the fresh state's generator, as on the host.
    let rule = match config.dropout.check::<f32>() {
        Ok(rule) => rule,
        Err(error) => {
            defmt::error!("  refused: {}", error);
            return false;
        }
    };
    let mut samples = STEP_INPUTS.iter().zip(&optimizer::STEP_LABELS);
    let mut no_order: [u16; 0] = [];
    for (epoch, &len) in (0u32..).zip(&optimizer::STEP_BATCHES) {
        let mut taken = 0;
        for (x, label) in samples.by_ref().take(len) {
            if rule.is_active() {
                accumulate_sample_dropout::<_, _, SoftmaxCrossEntropy, f32, 10>(&*net, state, dropout, &rule, x, label);
            } else {
                accumulate_sample(&*net, state, SoftmaxCrossEntropy, x, label);
            }
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
    let expected = match Model::parse(after) {
        Ok(expected) => expected,
        Err(error) => {
            defmt::error!("  the host's checkpoint was refused: {}", error);
            return false;
        }
    };
    let host_steps = expected.training().map_or(0, |t| t.steps as usize);
    let mut ok = same_count("  steps taken", host_steps, state.persistent.steps as usize);
    ok &= same_count("  steps of the fixture", optimizer::STEP_BATCHES.len(), host_steps);
    defmt::info!("  weights");
    ok &= same_parameters(&expected, &*net);
    ok &= same_state::<DigitsNet>(&expected, state.persistent.optimizer.as_ref(), 0);
    ok
}
