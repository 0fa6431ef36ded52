//! Fine-tunes the last layer of the exported digits model in 8 KiB of RAM:
//! the first layer (64→32, ReLU) of `MODEL`, the `static` that
//! `host-cli export --format rust` wrote (`fixtures/exported/digits_64_32_10.rs`),
//! stays in flash, frozen; only a new 32→10 head, drawn on the device from
//! a seed, trains in RAM on 400 digits in flash. Checks that the head's
//! weights, the last epoch's metrics and the held-out loss and accuracy have
//! the host's bits (`fixtures/crosscheck/finetune.rs`, which the host
//! computed from the model file `digits_64_32_10.mlpm`).
//!
//! First, the whole exported `MODEL`, unmodified, runs on the 200 held-out
//! digits: its logits and its held-out loss, accuracy and count must be the
//! host's, bit for bit, as the host computed them from the model file.
//!
//! RAM is proven three ways: a compile-time assertion from the core's sizes,
//! the link against `memory/finetune.x` (RAM = 8K), and the measured stack
//! high-water against the stated allowance.
#![no_std]
#![no_main]

use core::mem::size_of;

use cortex_m_rt::entry;
use mlp_core::activation::Relu;
use mlp_core::loss::SoftmaxCrossEntropy;
use mlp_core::{Chain, Dataset, DefaultRng, Dense, Frozen, Network, SeedableRng, TrainState, Zeroed, evaluate, layers};
use mlp_firmware::compare::{inputs_from_pixels, same_bit, same_bits, same_bits_streamed, same_count};
use mlp_firmware::digits::fit_and_evaluate;
use mlp_firmware::{exit, stack};
use static_cell::ConstStaticCell;

#[allow(dead_code, clippy::large_const_arrays)]
mod fixtures {
    pub mod subsets {
        include!("../../../fixtures/crosscheck/subsets.rs");
    }
    pub mod finetune {
        include!("../../../fixtures/crosscheck/finetune.rs");
    }
}
use fixtures::{finetune, subsets};

/// The trained digits model as `host-cli export --format rust` wrote it:
/// `pub type Model`, `pub static MODEL: Model`, in flash.
#[path = "../../../fixtures/exported/digits_64_32_10.rs"]
mod exported;

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

// The data in flash, converted at compile time.
static TRAIN_INPUTS: [[f32; 64]; SAMPLES] = inputs_from_pixels(subsets::TRAIN_PIXELS);
static TRAIN_LABELS: [usize; SAMPLES] = subsets::TRAIN_LABELS;
static TEST_INPUTS: [[f32; 64]; subsets::TEST_LABELS.len()] = inputs_from_pixels(subsets::TEST_PIXELS);
static TEST_LABELS: [usize; subsets::TEST_LABELS.len()] = subsets::TEST_LABELS;

// Everything that changes, in .bss: const-built, no stack temporary.
static NET: ConstStaticCell<Net> = ConstStaticCell::new(Chain::new(Frozen(&exported::MODEL.head), Dense::zeroed()));
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

    // The exported model as it is, before its first layer serves as the frozen one.
    let exported_ok = exported_model_as_on_the_host();

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
    if same {
        defmt::info!(
            "FINETUNED behind the exported MODEL's first layer (frozen, in flash): the head's {=usize} weights and {=usize} biases, the last epoch's and the held-out loss, accuracy and count as on the host, bit for bit",
            net.tail.weights.as_slice().len(),
            net.tail.biases.as_slice().len()
        );
    }

    let high_water = stack::high_water();
    defmt::info!("MEMORY finetune stack_high_water={=usize}", high_water);
    if high_water > STACK_ALLOWANCE {
        defmt::error!("stack high-water {=usize} B > allowance {=usize} B", high_water, STACK_ALLOWANCE);
        fail("stack over its allowance")
    }
    if !exported_ok {
        fail("the exported MODEL's predictions differ from the host's (see above)")
    }
    if !same {
        fail("the device's fine-tuning differs from the host's (see above)")
    }
    defmt::info!("PASS finetune");
    exit(true)
}

/// Runs the exported `MODEL`, unmodified, on every held-out digit and
/// compares each digit's logits, then the held-out loss, accuracy and count
/// (`evaluate`), with what the host computed from the model file
/// `digits_64_32_10.mlpm`, bit for bit. The logits are compared as they come
/// (2000 of them would not fit in RAM beside the fine-tuning).
fn exported_model_as_on_the_host() -> bool {
    let mut activations = <exported::Model as Network>::Activations::ZEROED;
    defmt::info!(
        "exported MODEL (fixtures/exported/digits_64_32_10.rs: {=usize} inputs, {=usize} outputs), unmodified, on {=usize} held-out digits, against the host's run of digits_64_32_10.mlpm",
        exported::INPUTS,
        exported::OUTPUTS,
        TEST_LABELS.len()
    );
    let logits = TEST_INPUTS.iter().flat_map(|x| *exported::MODEL.forward(x, &mut activations));
    let logits_ok = same_bits_streamed("  logits", finetune::MODEL_OUTPUTS.as_flattened(), logits);
    let test = match Dataset::new(&TEST_INPUTS[..], &TEST_LABELS[..])
        .and_then(|set| evaluate(&exported::MODEL, &mut activations, SoftmaxCrossEntropy, set))
    {
        Ok(test) => test,
        Err(error) => {
            defmt::error!("exported MODEL: evaluation refused: {}", error);
            return false;
        }
    };
    let checks = [
        logits_ok,
        same_bit("  held-out loss", finetune::MODEL_TEST_LOSS, test.loss),
        same_bit("  held-out accuracy", finetune::MODEL_TEST_ACCURACY, test.accuracy),
        same_count("  held-out right", finetune::MODEL_TEST_CORRECT, test.correct),
    ];
    let same = checks.iter().all(|&ok| ok);
    if same {
        defmt::info!(
            "EXPORTED MODEL predicts as on the host: {=usize} logits of {=usize} held-out digits and their loss, accuracy and count ({=usize} right), bit for bit",
            finetune::MODEL_OUTPUTS.as_flattened().len(),
            TEST_LABELS.len(),
            test.correct
        );
    }
    same
}

fn fail(why: &str) -> ! {
    defmt::error!("FAIL finetune: {=str}", why);
    exit(false)
}
