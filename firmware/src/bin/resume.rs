//! Checkpoints across the boundary, both ways, for every optimizer (SGD to
//! AdamW, with schedules, penalties, clipping and a frozen layer):
//!
//! 1. reads the host's checkpoint, embedded in flash
//!    (`fixtures/crosscheck/checkpoint_<optimizer>.mlpm`), into the
//!    network and the training state in RAM;
//! 2. trains on with a `Learner` over 400 digits in flash, epoch after
//!    epoch (shuffled by the restored generator), up to the epoch of the
//!    host's own continuation (`checkpoint_<optimizer>_resumed.mlpm`);
//! 3. compares the weights, every value of the optimizer's state, the step
//!    and epoch counts and the generator with that file, bit for bit;
//! 4. writes its own checkpoint into a static buffer (byte for byte the
//!    host's file) and hands it out as the host's file
//!    `resume_<optimizer>.mlpm` (semihosting), which the host test resumes.
//!
//! One network, one training state and one checkpoint buffer serve all
//! seven optimizers: the core's [`AnyOptimizer`] is chosen by the checkpoint
//! at run time, its state sized for the largest rule (two buffers), and each
//! step runs the rule's own update. RAM is proven three ways: a compile-time
//! assertion from the core's sizes, the link against `memory/resume.x`, and
//! the measured stack high-water against the stated allowance.
#![no_std]
#![no_main]

use core::mem::size_of;

use cortex_m_rt::entry;
use mlp_core::activation::Tanh;
use mlp_core::loss::SoftmaxCrossEntropy;
use mlp_core::model::{self, Model};
use mlp_core::optim::AnyOptimizer;
use mlp_core::{Dataset, Dense, Error, Learner, TrainConfig, TrainState, Zeroed, layers};
use mlp_firmware::compare::{inputs_from_pixels, same_count, same_parameters, same_state};
use mlp_firmware::{exit, host_file, icount, stack};
use static_cell::ConstStaticCell;

#[allow(dead_code, clippy::large_const_arrays)]
mod fixtures {
    pub mod subsets {
        include!("../../../fixtures/crosscheck/subsets.rs");
    }
}
use fixtures::subsets;

/// The network of the checkpoints (`mlp_tests::crosscheck::ResumeNet`).
type Net = layers![Dense<f32, 64, 16, Tanh>, Dense<f32, 16, 10>];

const SAMPLES: usize = subsets::TRAIN_LABELS.len();
/// A checkpoint of `Net` with any optimizer fits.
const FILE_BYTES: usize = model::checkpoint_bytes::<Net, AnyOptimizer>();
/// memory/resume.x gives this program 40 KiB of RAM.
const RAM_BUDGET: usize = 40 * 1024;
/// Deepest stack allowed: training (the learner keeps the checked
/// configuration, dropout's per-layer thresholds and scales included), the
/// comparisons and the logger.
const STACK_ALLOWANCE: usize = 3584;
/// The network, its training state (two optimizer buffers), the shuffle
/// order (two bytes a sample) and the checkpoint buffer.
const STATE_BYTES: usize =
    size_of::<Net>() + TrainState::<Net, AnyOptimizer>::BYTES + size_of::<[u16; SAMPLES]>() + FILE_BYTES;
const _: () = assert!(STATE_BYTES + STACK_ALLOWANCE <= RAM_BUDGET, "resuming does not fit in 40 KiB");

// The data in flash, converted at compile time.
static TRAIN_INPUTS: [[f32; 64]; SAMPLES] = inputs_from_pixels(subsets::TRAIN_PIXELS);
static TRAIN_LABELS: [usize; SAMPLES] = subsets::TRAIN_LABELS;

// Everything that changes, in .bss: const-built, no stack temporary.
static NET: ConstStaticCell<Net> = ConstStaticCell::new(Net::ZEROED);
static STATE: ConstStaticCell<TrainState<Net, AnyOptimizer>> = ConstStaticCell::new(TrainState::new());
static ORDER: ConstStaticCell<[u16; SAMPLES]> = ConstStaticCell::new([0; SAMPLES]);
static FILE: ConstStaticCell<[u8; FILE_BYTES]> = ConstStaticCell::new([0; FILE_BYTES]);

/// One optimizer's checkpoints.
struct Case {
    /// The optimizer's name, as `Optimizer::NAME` spells it.
    optimizer: &'static str,
    /// The host's checkpoint, which the device resumes.
    host: &'static [u8],
    /// The host's checkpoint after as many more epochs as the device trains.
    expected: &'static [u8],
    /// The host's file the device's checkpoint is written to.
    out: &'static str,
}

macro_rules! case {
    ($name:literal) => {
        Case {
            optimizer: $name,
            host: include_bytes!(concat!("../../../fixtures/crosscheck/checkpoint_", $name, ".mlpm")),
            expected: include_bytes!(concat!("../../../fixtures/crosscheck/checkpoint_", $name, "_resumed.mlpm")),
            out: concat!("resume_", $name, ".mlpm"),
        }
    };
}

static CASES: [Case; 7] = [
    case!("sgd"),
    case!("momentum"),
    case!("nesterov"),
    case!("adagrad"),
    case!("rmsprop"),
    case!("adam"),
    case!("adamw"),
];

#[entry]
fn main() -> ! {
    let (Some(net), Some(state), Some(order), Some(file)) =
        (NET.try_take(), STATE.try_take(), ORDER.try_take(), FILE.try_take())
    else {
        fail("a static was taken twice")
    };
    defmt::info!(
        "RAM: network {=usize} B, training state {=usize} B, order {=usize} B, checkpoint buffer {=usize} B, stack allowance {=usize} B, budget {=usize} B",
        size_of::<Net>(),
        TrainState::<Net, AnyOptimizer>::BYTES,
        size_of::<[u16; SAMPLES]>(),
        FILE_BYTES,
        STACK_ALLOWANCE,
        RAM_BUDGET
    );
    // The statics the link placed must leave the stated allowance.
    if stack::size() < STACK_ALLOWANCE {
        defmt::error!("stack region {=usize} B < allowance {=usize} B", stack::size(), STACK_ALLOWANCE);
        fail("the statics leave less stack than stated")
    }
    icount::start();
    let exact = icount::calibrated();

    let mut ok = true;
    for case in &CASES {
        ok &= resume(case, net, state, order, file, exact);
    }

    let high_water = stack::high_water();
    defmt::info!("MEMORY resume stack_high_water={=usize}", high_water);
    if high_water > STACK_ALLOWANCE {
        defmt::error!("stack high-water {=usize} B > allowance {=usize} B", high_water, STACK_ALLOWANCE);
        fail("stack over its allowance")
    }
    if !ok {
        fail("a resumed run differs from the host's or its checkpoint was not handed out (see above)")
    }
    defmt::info!("PASS resume");
    exit(true)
}

/// One case: resume, train, compare, write and hand out. False if anything
/// differs or fails (logged).
fn resume(
    case: &Case,
    net: &mut Net,
    state: &mut TrainState<Net, AnyOptimizer>,
    order: &mut [u16; SAMPLES],
    file: &mut [u8; FILE_BYTES],
    exact: bool,
) -> bool {
    let what = case.optimizer;
    let reading = icount::instructions();
    let read = model::read_checkpoint::<Net, AnyOptimizer>(case.host, net, &mut state.persistent);
    let reading = icount::instructions().saturating_sub(reading);
    let config = match read {
        Ok(config) => config,
        Err(error) => {
            defmt::error!("{=str}: the host's checkpoint was refused: {}", what, error);
            return false;
        }
    };
    defmt::info!(
        "{=str}: the host's checkpoint ({=usize} B, read and checked in {=u64} instructions) at epoch {=u32}, step {=u32}; {}",
        what,
        case.host.len(),
        reading,
        state.persistent.epoch,
        state.persistent.steps,
        config
    );
    if config.optimizer.name() != what {
        defmt::error!("{=str}: the checkpoint holds {=str}", what, config.optimizer.name());
        return false;
    }
    // The host's continuation: where to stop, and every value to match there.
    let expected = match Model::parse(case.expected) {
        Ok(expected) => expected,
        Err(error) => {
            defmt::error!("{=str}: the expected checkpoint was refused: {}", what, error);
            return false;
        }
    };
    let Some(target) = expected.training() else {
        defmt::error!("{=str}: the expected file is not a checkpoint", what);
        return false;
    };

    let begin = (state.persistent.epoch, state.persistent.steps, icount::instructions());
    if let Err(error) = train(net, state, order, &config, target.epoch) {
        defmt::error!("{=str}: training stopped: {}", what, error);
        return false;
    }
    let instructions = icount::instructions().saturating_sub(begin.2);
    defmt::info!(
        "{=str}: {=u32} epochs, {=u32} steps in {=u64} instructions{=str}",
        what,
        state.persistent.epoch.saturating_sub(begin.0),
        state.persistent.steps.saturating_sub(begin.1),
        instructions,
        if exact { "" } else { " (not exact: run with --icount)" }
    );

    // Bit for bit with the host's continuation.
    let persistent = &state.persistent;
    let mut same = same_count("  epochs", target.epoch as usize, persistent.epoch as usize)
        & same_count("  steps", target.steps as usize, persistent.steps as usize);
    if persistent.rng.state() == target.rng {
        defmt::info!("  generator: {=[?]:#010x}, as on the host", &target.rng[..]);
    } else {
        defmt::error!(
            "  generator: expected {=[?]:#010x}, got {=[?]:#010x}",
            &target.rng[..],
            &persistent.rng.state()[..]
        );
        same = false;
    }
    same &= same_parameters(&expected, &*net);
    same &= same_state::<Net>(&expected, persistent.optimizer.as_ref(), config.frozen_layers as usize);

    // The device's own checkpoint: the host's file, byte for byte.
    let writing = icount::instructions();
    let written = model::write_checkpoint(&*net, persistent, &config, file);
    let writing = icount::instructions().saturating_sub(writing);
    let written = match written {
        Ok(written) => written,
        Err(error) => {
            defmt::error!("{=str}: writing the checkpoint: {}", what, error);
            return false;
        }
    };
    let bytes = file.get(..written).unwrap_or_default();
    let crc = model::crc32(bytes.get(..written.saturating_sub(4)).unwrap_or_default());
    match bytes.iter().zip(case.expected).position(|(a, b)| a != b) {
        None if bytes.len() == case.expected.len() => {
            defmt::info!(
                "  checkpoint: {=usize} B written in {=u64} instructions, identical to the host's (CRC-32 {=u32:#010x})",
                written,
                writing,
                crc
            )
        }
        first => {
            defmt::error!(
                "  checkpoint: {=usize} B, the host's {=usize} B; first differing byte {=?}",
                written,
                case.expected.len(),
                first
            );
            same = false;
        }
    }
    // Handed out: the host test resumes from this file.
    if let Err(error) = host_file::write(case.out, bytes) {
        defmt::error!("{=str}: writing {=str} on the host: {}", what, case.out, error);
        return false;
    }
    defmt::info!("CHECKPOINT {=str} {=usize} B crc32={=u32:#010x} written to {=str}", what, written, crc, case.out);
    if same {
        defmt::info!("RESUMED {=str}: every value as on the host", what);
    }
    same
}

/// Epochs over the digits in flash until the state's epoch count reaches `until`.
fn train(
    net: &mut Net,
    state: &mut TrainState<Net, AnyOptimizer>,
    order: &mut [u16; SAMPLES],
    config: &TrainConfig<AnyOptimizer>,
    until: u32,
) -> Result<(), Error> {
    let data = Dataset::new(&TRAIN_INPUTS[..], &TRAIN_LABELS[..])?;
    let mut learner = Learner::new(net, state, order.as_mut_slice(), SoftmaxCrossEntropy, config)?;
    while learner.state().persistent.epoch < until {
        let m = learner.epoch(data)?;
        defmt::info!(
            "  epoch {=u32}: rate {=f32}, loss {=f32}, accuracy {=f32}",
            m.epoch,
            m.learning_rate,
            m.train.loss,
            m.train.accuracy
        );
    }
    Ok(())
}

fn fail(why: &str) -> ! {
    defmt::error!("FAIL resume: {=str}", why);
    exit(false)
}
