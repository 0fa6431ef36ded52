//! Trains the 64→32→10 digits network on the device in 32 KiB of RAM: 400
//! digits in flash, the weights drawn on the device from a seed, a seeded
//! shuffle, minibatch SGD with momentum. Then checks that every weight, the
//! last epoch's metrics and the held-out loss and accuracy have the host's
//! bits (`fixtures/crosscheck/training.rs`).
//!
//! RAM is proven three ways: a compile-time assertion from the core's sizes,
//! the link against `memory/train.x` (RAM = 32K), and the measured stack
//! high-water against the stated allowance.
#![no_std]
#![no_main]

use core::mem::size_of;

use cortex_m_rt::entry;
use mlp_core::activation::Relu;
use mlp_core::{DefaultRng, Dense, Network, SeedableRng, TrainState, Zeroed, layers};
use mlp_firmware::compare::{inputs_from_pixels, same_bit, same_bits, same_count};
use mlp_firmware::digits::fit_and_evaluate;
use mlp_firmware::{exit, stack};
use static_cell::ConstStaticCell;

#[allow(dead_code, clippy::large_const_arrays)]
mod fixtures {
    pub mod subsets {
        include!("../../../fixtures/crosscheck/subsets.rs");
    }
    pub mod training {
        include!("../../../fixtures/crosscheck/training.rs");
    }
}
use fixtures::{subsets, training};

type Net = layers![Dense<f32, 64, 32, Relu>, Dense<f32, 32, 10>];

const SAMPLES: usize = subsets::TRAIN_LABELS.len();
/// memory/train.x gives this program 32 KiB of RAM.
const RAM_BUDGET: usize = 32 * 1024;
/// Deepest stack allowed: the training loop, evaluation and the logger.
const STACK_ALLOWANCE: usize = 2048;
/// The network and its training state (`Net::TRAINING_BYTES`, 29,280 B) and
/// the shuffle order, two bytes a sample.
const STATE_BYTES: usize = Net::TRAINING_BYTES + size_of::<[u16; SAMPLES]>();
const _: () = assert!(STATE_BYTES + STACK_ALLOWANCE <= RAM_BUDGET, "training does not fit in 32 KiB");

// The data in flash, converted at compile time.
static TRAIN_INPUTS: [[f32; 64]; SAMPLES] = inputs_from_pixels(subsets::TRAIN_PIXELS);
static TRAIN_LABELS: [usize; SAMPLES] = subsets::TRAIN_LABELS;
static TEST_INPUTS: [[f32; 64]; subsets::TEST_LABELS.len()] = inputs_from_pixels(subsets::TEST_PIXELS);
static TEST_LABELS: [usize; subsets::TEST_LABELS.len()] = subsets::TEST_LABELS;

// Everything that changes, in .bss: const-built, no stack temporary.
static NET: ConstStaticCell<Net> = ConstStaticCell::new(Net::ZEROED);
static STATE: ConstStaticCell<TrainState<Net>> = ConstStaticCell::new(TrainState::new());
static ORDER: ConstStaticCell<[u16; SAMPLES]> = ConstStaticCell::new([0; SAMPLES]);

#[entry]
fn main() -> ! {
    let (Some(net), Some(state), Some(order)) = (NET.try_take(), STATE.try_take(), ORDER.try_take()) else {
        fail("a static was taken twice")
    };
    defmt::info!(
        "RAM: network and training state {=usize} B, order {=usize} B, stack allowance {=usize} B, budget {=usize} B",
        Net::TRAINING_BYTES,
        size_of::<[u16; SAMPLES]>(),
        STACK_ALLOWANCE,
        RAM_BUDGET
    );
    // The statics the link placed must leave the stated allowance.
    if stack::size() < STACK_ALLOWANCE {
        defmt::error!("stack region {=usize} B < allowance {=usize} B", stack::size(), STACK_ALLOWANCE);
        fail("the statics leave less stack than stated")
    }

    // One generator, in the state: it draws the weights, then shuffles.
    state.persistent.rng = DefaultRng::seed_from_u64(training::TRAIN_SEED);
    if let Err(error) = net.initialize(training::TRAIN_INIT, &mut state.persistent.rng) {
        defmt::error!("initialisation: {}", error);
        fail("initialisation refused")
    }
    let config = training::TRAIN_CONFIG;
    defmt::info!("training on {=usize} digits: {}", SAMPLES, config);
    let digits = ((&TRAIN_INPUTS[..], &TRAIN_LABELS[..]), (&TEST_INPUTS[..], &TEST_LABELS[..]));
    let (summary, test) = match fit_and_evaluate(net, state, order, &config, digits) {
        Ok(done) => done,
        Err(why) => fail(why),
    };

    let last = summary.last.train;
    let checks = [
        same_bits("layer 1 weights", training::TRAINED_1_W.as_flattened(), net.head.weights.as_slice()),
        same_bits("layer 1 biases", &training::TRAINED_1_B, net.head.biases.as_slice()),
        same_bits("layer 2 weights", training::TRAINED_2_W.as_flattened(), net.tail.weights.as_slice()),
        same_bits("layer 2 biases", &training::TRAINED_2_B, net.tail.biases.as_slice()),
        same_bit("last epoch loss", training::LAST_EPOCH_LOSS, last.loss),
        same_bit("last epoch accuracy", training::LAST_EPOCH_ACCURACY, last.accuracy),
        same_count("last epoch right", training::LAST_EPOCH_CORRECT, last.correct),
        same_bit("held-out loss", training::TEST_LOSS, test.loss),
        same_bit("held-out accuracy", training::TEST_ACCURACY, test.accuracy),
        same_count("held-out right", training::TEST_CORRECT, test.correct),
    ];
    let same = checks.iter().all(|&ok| ok);

    let high_water = stack::high_water();
    defmt::info!("MEMORY train stack_high_water={=usize}", high_water);
    if high_water > STACK_ALLOWANCE {
        defmt::error!("stack high-water {=usize} B > allowance {=usize} B", high_water, STACK_ALLOWANCE);
        fail("stack over its allowance")
    }
    if !same {
        fail("the device's training differs from the host's (see above)")
    }
    defmt::info!("PASS train");
    exit(true)
}

fn fail(why: &str) -> ! {
    defmt::error!("FAIL train: {=str}", why);
    exit(false)
}
