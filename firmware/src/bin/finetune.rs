//! Fine-tunes the last layer of the digits network in 8 KiB of RAM: the
//! host-trained first layer (64→32, ReLU) is a `static` in flash, frozen;
//! only the 32→10 head, drawn on the device from a seed, trains in RAM on
//! 400 digits in flash. Then checks that the head's weights, the last
//! epoch's metrics and the held-out loss and accuracy have the host's bits
//! (`fixtures/crosscheck/finetune.rs`).
//!
//! RAM is proven three ways: a compile-time assertion from the core's sizes,
//! the link against `memory/finetune.x` (RAM = 8K), and the measured stack
//! high-water against the stated allowance.
#![no_std]
#![no_main]

use core::mem::size_of;

use cortex_m_rt::entry;
use mlp_core::activation::Relu;
use mlp_core::{Chain, DefaultRng, Dense, Frozen, Network, SeedableRng, TrainState, layers};
use mlp_firmware::compare::{columns_from_bits, f32_from_bits, inputs_from_pixels, same_bit, same_bits, same_count};
use mlp_firmware::digits::fit_and_evaluate;
use mlp_firmware::{exit, stack};
use static_cell::ConstStaticCell;

#[allow(dead_code, clippy::large_const_arrays)]
mod fixtures {
    pub mod subsets {
        include!("../../../fixtures/crosscheck/subsets.rs");
    }
    pub mod network {
        include!("../../../fixtures/crosscheck/network.rs");
    }
    pub mod finetune {
        include!("../../../fixtures/crosscheck/finetune.rs");
    }
}
use fixtures::{finetune, network, subsets};

type Net = layers![Frozen<'static, f32, 64, 32, Relu>, Dense<f32, 32, 10>];

const SAMPLES: usize = subsets::TRAIN_LABELS.len();
/// memory/finetune.x gives this program 8 KiB of RAM.
const RAM_BUDGET: usize = 8 * 1024;
/// Deepest stack allowed: the training loop, evaluation and the logger.
const STACK_ALLOWANCE: usize = 2048;
/// The head, the reference to the frozen layer and the training state
/// (`Net::TRAINING_BYTES`: the frozen layer's parameters stay in flash), and
/// the shuffle order, two bytes a sample.
const STATE_BYTES: usize = Net::TRAINING_BYTES + size_of::<[u16; SAMPLES]>();
const _: () = assert!(STATE_BYTES + STACK_ALLOWANCE <= RAM_BUDGET, "fine-tuning does not fit in 8 KiB");

/// The host-trained first layer, in flash.
static FEATURES: Dense<f32, 64, 32, Relu> =
    Dense::from_columns(columns_from_bits(network::DIGITS_1_W), f32_from_bits(network::DIGITS_1_B));

// The data in flash, converted at compile time.
static TRAIN_INPUTS: [[f32; 64]; SAMPLES] = inputs_from_pixels(subsets::TRAIN_PIXELS);
static TRAIN_LABELS: [usize; SAMPLES] = subsets::TRAIN_LABELS;
static TEST_INPUTS: [[f32; 64]; subsets::TEST_LABELS.len()] = inputs_from_pixels(subsets::TEST_PIXELS);
static TEST_LABELS: [usize; subsets::TEST_LABELS.len()] = subsets::TEST_LABELS;

// Everything that changes, in .bss: const-built, no stack temporary.
static NET: ConstStaticCell<Net> = ConstStaticCell::new(Chain::new(Frozen(&FEATURES), Dense::zeroed()));
static STATE: ConstStaticCell<TrainState<Net>> = ConstStaticCell::new(TrainState::new());
static ORDER: ConstStaticCell<[u16; SAMPLES]> = ConstStaticCell::new([0; SAMPLES]);

#[entry]
fn main() -> ! {
    let (Some(net), Some(state), Some(order)) = (NET.try_take(), STATE.try_take(), ORDER.try_take()) else {
        fail("a static was taken twice")
    };
    defmt::info!(
        "RAM: head and training state {=usize} B, order {=usize} B, stack allowance {=usize} B, budget {=usize} B",
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
    state.persistent.rng = DefaultRng::seed_from_u64(finetune::FINETUNE_SEED);
    if let Err(error) = net.initialize(finetune::FINETUNE_INIT, &mut state.persistent.rng) {
        defmt::error!("initialisation: {}", error);
        fail("initialisation refused")
    }
    let config = finetune::FINETUNE_CONFIG;
    defmt::info!("fine-tuning the head on {=usize} digits: {}", SAMPLES, config);
    let digits = ((&TRAIN_INPUTS[..], &TRAIN_LABELS[..]), (&TEST_INPUTS[..], &TEST_LABELS[..]));
    let (summary, test) = match fit_and_evaluate(net, state, order, &config, digits) {
        Ok(done) => done,
        Err(why) => fail(why),
    };

    let last = summary.last.train;
    let checks = [
        same_bits("head weights", finetune::TUNED_2_W.as_flattened(), net.tail.weights.as_slice()),
        same_bits("head biases", &finetune::TUNED_2_B, net.tail.biases.as_slice()),
        same_bit("last epoch loss", finetune::LAST_EPOCH_LOSS, last.loss),
        same_bit("last epoch accuracy", finetune::LAST_EPOCH_ACCURACY, last.accuracy),
        same_count("last epoch right", finetune::LAST_EPOCH_CORRECT, last.correct),
        same_bit("held-out loss", finetune::TEST_LOSS, test.loss),
        same_bit("held-out accuracy", finetune::TEST_ACCURACY, test.accuracy),
        same_count("held-out right", finetune::TEST_CORRECT, test.correct),
    ];
    let same = checks.iter().all(|&ok| ok);

    let high_water = stack::high_water();
    defmt::info!("MEMORY finetune stack_high_water={=usize}", high_water);
    if high_water > STACK_ALLOWANCE {
        defmt::error!("stack high-water {=usize} B > allowance {=usize} B", high_water, STACK_ALLOWANCE);
        fail("stack over its allowance")
    }
    if !same {
        fail("the device's fine-tuning differs from the host's (see above)")
    }
    defmt::info!("PASS finetune");
    exit(true)
}

fn fail(why: &str) -> ! {
    defmt::error!("FAIL finetune: {=str}", why);
    exit(false)
}
