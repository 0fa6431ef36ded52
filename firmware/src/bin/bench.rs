//! Speed and memory of mlp-core's kernels on a Cortex-M4F, in instructions
//! counted exactly by QEMU: `scripts/run-qemu.sh ELF --icount`.
//!
//! Network: 64→32→10, ReLU then identity (the digits network). Each figure is
//! the difference between timing 2·N and N calls, so the loop and the timer
//! reads cancel out. Zero inputs are skipped by the first layer, so inference
//! is timed twice: with every input non-zero (the worst case) and with a
//! typical digit (31 of its 64 pixels are zero).
#![no_std]
#![no_main]

use core::hint::black_box;

use cortex_m_rt::entry;
use mlp_core::activation::Relu;
use mlp_core::loss::SoftmaxCrossEntropy;
use mlp_core::optim::{Adagrad, Adam, AdamW, Momentum, Nesterov, Optimizer, RmsProp, Sgd};
use mlp_core::schedule::Schedule;
use mlp_core::{
    DefaultRng, Dense, Init, Learner, Network, SeedableRng, TrainConfig, TrainState, Zeroed, accumulate_sample, layers,
};
use mlp_firmware::{exit, icount, stack};
use static_cell::ConstStaticCell;

type Net = layers![Dense<f32, 64, 32, Relu>, Dense<f32, 32, 10>];
/// Multiply-accumulates of one inference with every input non-zero.
const MACS: u64 = 64 * 32 + 32 * 10;

/// Generous: this program proves speed, not size (memory/default.x).
const RAM_BUDGET: usize = 256 * 1024;
const STACK_ALLOWANCE: usize = 4 * 1024;
/// The network, its momentum state (for the samples too), and one state per other optimizer.
const STATE_BYTES: usize = Net::TRAINING_BYTES
    + TrainState::<Net, Sgd>::BYTES
    + TrainState::<Net, Nesterov>::BYTES
    + TrainState::<Net, Adagrad>::BYTES
    + TrainState::<Net, RmsProp>::BYTES
    + TrainState::<Net, Adam>::BYTES
    + TrainState::<Net, AdamW>::BYTES;
const _: () = assert!(STATE_BYTES + STACK_ALLOWANCE <= RAM_BUDGET);

static NET: ConstStaticCell<Net> = ConstStaticCell::new(Net::ZEROED);
static STATE: ConstStaticCell<TrainState<Net>> = ConstStaticCell::new(TrainState::new());
static SGD: ConstStaticCell<TrainState<Net, Sgd>> = ConstStaticCell::new(TrainState::new());
static NESTEROV: ConstStaticCell<TrainState<Net, Nesterov>> = ConstStaticCell::new(TrainState::new());
static ADAGRAD: ConstStaticCell<TrainState<Net, Adagrad>> = ConstStaticCell::new(TrainState::new());
static RMSPROP: ConstStaticCell<TrainState<Net, RmsProp>> = ConstStaticCell::new(TrainState::new());
static ADAM: ConstStaticCell<TrainState<Net, Adam>> = ConstStaticCell::new(TrainState::new());
static ADAMW: ConstStaticCell<TrainState<Net, AdamW>> = ConstStaticCell::new(TrainState::new());

/// Calls per timing: 2·N of the slowest (a training sample) stay well under
/// the counter's 10 M instructions, though wraps are counted anyway.
const N: u64 = 40;

/// A "3" from the digits data set (row 4 of fixtures/digits.csv.gz), scaled
/// to [0, 1] as the host does: 31 zero pixels, close to the data set's mean of 31.3.
const DIGIT: [f32; 64] = scale([
    0, 0, 7, 15, 13, 1, 0, 0, 0, 8, 13, 6, 15, 4, 0, 0, 0, 2, 1, 13, 13, 0, 0, 0, 0, 0, 2, 15, 11, 1, 0, 0, 0, 0, 0, 1,
    12, 12, 1, 0, 0, 0, 0, 0, 1, 10, 8, 0, 0, 0, 8, 4, 5, 14, 9, 0, 0, 0, 7, 13, 13, 9, 0, 0,
]);
const DIGIT_LABEL: usize = 3;

/// One inference, as firmware calls it: not inlined into the timing loop, so
/// the count is that of the call a user makes.
#[inline(never)]
fn infer(net: &Net, x: &[f32; 64], activations: &mut <Net as Network>::Activations) -> f32 {
    net.forward(x, activations)[0]
}

/// One training sample (forward, loss, backward), called as [`infer`] is.
#[inline(never)]
fn learn(net: &Net, state: &mut TrainState<Net>, x: &[f32; 64]) {
    black_box(accumulate_sample(net, state, SoftmaxCrossEntropy, x, &DIGIT_LABEL));
}

const fn scale(pixels: [u8; 64]) -> [f32; 64] {
    let mut out = [0.0; 64];
    let mut i = 0;
    while i < 64 {
        out[i] = pixels[i] as f32 / 16.0;
        i += 1;
    }
    out
}

#[entry]
fn main() -> ! {
    // Each static is handed out once; `try_take` has no panic path.
    let (Some(net), Some(state)) = (NET.try_take(), STATE.try_take()) else { exit(false) };
    icount::start();
    if !icount::calibrated() {
        defmt::error!("FAIL bench: instruction counts are not exact; run QEMU with -icount shift=6");
        exit(false);
    }
    let mut rng = DefaultRng::seed_from_u64(7);
    if let Err(error) = net.initialize(Init::GlorotUniform, &mut rng) {
        defmt::error!("FAIL bench: initialising: {}", error);
        exit(false);
    }

    // Worst case: no input is zero.
    let dense: [f32; 64] = core::array::from_fn(|i| (i + 1) as f32 / 64.0);
    let zeros = DIGIT.iter().filter(|&&v| v == 0.0).count();

    let worst = per_call(|| {
        black_box(infer(net, black_box(&dense), &mut state.scratch.activations));
    });
    report("inference, every input non-zero", worst, Some(MACS), None);
    let typical = per_call(|| {
        black_box(infer(net, black_box(&DIGIT), &mut state.scratch.activations));
    });
    defmt::info!("typical digit: {=usize} of 64 inputs are zero", zeros);
    report("inference, typical digit", typical, Some(MACS), None);

    let sample = per_call(|| learn(net, state, black_box(&dense)));
    report("training sample (forward + backward), every input non-zero", sample, None, None);
    if let Some(ratio) = hundredths(sample, worst) {
        defmt::info!("training sample / inference: {=u64}.{=u64:02}", ratio / 100, ratio % 100);
    }
    let sample_digit = per_call(|| learn(net, state, black_box(&DIGIT)));
    report("training sample (forward + backward), typical digit", sample_digit, None, None);

    // One step from a gradient summed over 32 samples, per optimizer.
    let (Some(sgd), Some(nesterov), Some(adagrad), Some(rmsprop), Some(adam), Some(adamw)) = (
        SGD.try_take(),
        NESTEROV.try_take(),
        ADAGRAD.try_take(),
        RMSPROP.try_take(),
        ADAM.try_take(),
        ADAMW.try_take(),
    ) else {
        exit(false)
    };
    let momentum = with(Momentum::DEFAULT);
    let all_ok = [
        step_cost("optimizer step, plain SGD", net, sgd, &with(Sgd)),
        step_cost("optimizer step, momentum", net, state, &momentum),
        step_cost("optimizer step, Nesterov momentum", net, nesterov, &with(Nesterov::DEFAULT)),
        step_cost("optimizer step, momentum + L2", net, state, &TrainConfig { l2: 1e-4, ..momentum }),
        step_cost("optimizer step, momentum + L1", net, state, &TrainConfig { l1: 1e-4, ..momentum }),
        step_cost("optimizer step, momentum + clipping", net, state, &TrainConfig { clip_norm: 1.0, ..momentum }),
        step_cost("optimizer step, Adagrad", net, adagrad, &with(Adagrad::DEFAULT)),
        step_cost("optimizer step, RMSprop", net, rmsprop, &with(RmsProp::DEFAULT)),
        step_cost("optimizer step, Adam", net, adam, &with(Adam::DEFAULT)),
        step_cost("optimizer step, AdamW", net, adamw, &with(AdamW::DEFAULT)),
    ]
    .iter()
    .all(|&ok| ok);

    // Stack of one call, from the depth it is called at.
    let inference_stack = stack_of(|| {
        black_box(net.forward(black_box(&dense), &mut state.scratch.activations));
    });
    let sample_stack = stack_of(|| {
        black_box(accumulate_sample(&*net, state, SoftmaxCrossEntropy, black_box(&dense), &DIGIT_LABEL));
    });
    defmt::info!("stack: inference {=usize} B, training sample {=usize} B", inference_stack, sample_stack);
    defmt::info!(
        "RAM: network {=usize} B, inference {=usize} B (Net::INFERENCE_BYTES); training state \
         (TrainState::<Net, O>::BYTES): SGD {=usize} B, momentum {=usize} B, Adam {=usize} B",
        Net::PARAMETER_BYTES,
        Net::INFERENCE_BYTES,
        TrainState::<Net, Sgd>::BYTES,
        TrainState::<Net, Momentum>::BYTES,
        TrainState::<Net, Adam>::BYTES
    );

    let high_water = stack::high_water();
    defmt::info!("MEMORY bench stack_high_water={=usize}", high_water);
    if high_water > STACK_ALLOWANCE {
        defmt::error!("FAIL bench: stack high-water {=usize} B > allowance {=usize} B", high_water, STACK_ALLOWANCE);
        exit(false);
    }
    if all_ok {
        defmt::info!("PASS bench");
    } else {
        defmt::error!("FAIL bench: an optimizer configuration was rejected");
    }
    exit(all_ok)
}

/// `optimizer` at a constant rate of 0.01.
const fn with<O: Optimizer>(optimizer: O) -> TrainConfig<O> {
    TrainConfig { schedule: Schedule::constant(0.01), ..TrainConfig::new(optimizer) }
}

/// Logs the instructions of one optimizer step on the whole network (the
/// gradient is zero after the first, which costs the same: no rule branches
/// on values). False if `config` is refused.
fn step_cost<O: Optimizer>(what: &str, net: &mut Net, state: &mut TrainState<Net, O>, config: &TrainConfig<O>) -> bool {
    let mut no_order: [u16; 0] = [];
    match Learner::new(net, state, &mut no_order, SoftmaxCrossEntropy, config) {
        Ok(mut learner) => {
            let step = per_call(|| learner.step(black_box(32)));
            report(what, step, None, Some(Net::PARAMETERS as u64));
            true
        }
        Err(error) => {
            defmt::error!("{=str}: {}", what, error);
            false
        }
    }
}

/// Instructions of one call of `f`: the difference between timing 2·N and
/// N calls, over N. Computed from ticks, so the readings' quantisation
/// (about one instruction) shrinks N-fold before rounding.
fn per_call(mut f: impl FnMut()) -> u64 {
    let once = repeat(N, &mut f);
    let twice = repeat(2 * N, &mut f);
    // A tick is 5/8 of an instruction (see mlp_firmware::icount); rounded to the nearest.
    (twice.saturating_sub(once) * 5 + 4 * N) / (8 * N)
}

/// SysTick ticks of `n` calls of `f`.
#[inline(never)]
fn repeat(n: u64, f: &mut impl FnMut()) -> u64 {
    let begin = bench_begin();
    for _ in 0..black_box(n) {
        f();
    }
    bench_end(begin)
}

/// Marks where a timed region starts in the disassembly (`nm` finds it).
#[unsafe(no_mangle)]
#[inline(never)]
extern "C" fn bench_begin() -> u64 {
    icount::ticks()
}

/// Marks where a timed region ends; a different body from [`bench_begin`],
/// so the two are not merged into one address.
#[unsafe(no_mangle)]
#[inline(never)]
extern "C" fn bench_end(begin: u64) -> u64 {
    icount::ticks().saturating_sub(begin)
}

/// Bytes of stack that one call of `f` uses below the caller's frame.
fn stack_of(mut f: impl FnMut()) -> usize {
    stack::repaint();
    let depth = stack::depth();
    run_once(&mut f);
    stack::high_water().saturating_sub(depth)
}

#[inline(never)]
fn run_once(f: &mut impl FnMut()) {
    f();
}

/// Logs one figure, also per multiply-accumulate or per parameter, to two decimals.
fn report(what: &str, instructions: u64, macs: Option<u64>, parameters: Option<u64>) {
    let (per, unit) = match (macs, parameters) {
        (Some(macs), _) => (hundredths(instructions, macs), "multiply-accumulate"),
        (None, Some(parameters)) => (hundredths(instructions, parameters), "parameter"),
        (None, None) => (None, ""),
    };
    match per {
        Some(per) => defmt::info!(
            "{=str}: {=u64} instructions, {=u64}.{=u64:02} per {=str}",
            what,
            instructions,
            per / 100,
            per % 100,
            unit
        ),
        None => defmt::info!("{=str}: {=u64} instructions", what, instructions),
    }
}

/// `a / b` in hundredths, rounded; `None` if `b` is 0.
fn hundredths(a: u64, b: u64) -> Option<u64> {
    (a * 100 + b / 2).checked_div(b)
}
