//! Train a small network on the board, then use it: no heap, no `unsafe`,
//! nothing that can panic. Every call that can fail returns `mlp_core::Error`.
#![no_std]
#![no_main]

use core::ops::ControlFlow;

use cortex_m_rt::entry;
use mlp_core::activation::Tanh;
use mlp_core::loss::SoftmaxCrossEntropy;
use mlp_core::schedule::Schedule;
use mlp_core::{Dataset, DefaultRng, Dense, Error, Init, Learner, Network, SeedableRng, TrainConfig, TrainState};
use mlp_core::{Zeroed, layers, predict_class};
use mlp_firmware::{exit, stack};
use static_cell::ConstStaticCell;

/// The architecture is a type: two inputs, eight hidden units, two classes.
type Net = layers![Dense<f32, 2, 8, Tanh>, Dense<f32, 8, 2>];
// Weights, gradients, momentum, one sample's cache and the generator must fit the RAM we give them.
const _: () = assert!(Net::TRAINING_BYTES <= 1024, "training does not fit");

// Built at compile time, so both land in .bss with no copy on the stack.
static NET: ConstStaticCell<Net> = ConstStaticCell::new(Net::ZEROED);
static STATE: ConstStaticCell<TrainState<Net>> = ConstStaticCell::new(TrainState::new());

// Exclusive or: class 1 when exactly one input is on.
static INPUTS: [[f32; 2]; 4] = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]];
static LABELS: [usize; 4] = [0, 1, 1, 0];

// Momentum 0.9 (the default optimizer) at a constant rate of 0.5.
const CONFIG: TrainConfig =
    TrainConfig { epochs: 100, batch_size: 4, schedule: Schedule::constant(0.5), ..TrainConfig::DEFAULT };

#[entry]
fn main() -> ! {
    // Each static is handed out once, as `&'static mut` (`try_take`: no panic path).
    let (Some(net), Some(state)) = (NET.try_take(), STATE.try_take()) else { exit(false) };
    let ok = match train_and_check(net, state) {
        Ok(correct) => {
            defmt::info!("{=usize} of {=usize} samples right", correct, LABELS.len());
            correct == LABELS.len()
        }
        Err(error) => {
            defmt::error!("{}", error);
            false
        }
    };
    defmt::info!("MEMORY board stack_high_water={=usize}", stack::high_water());
    if ok {
        defmt::info!("PASS board");
    } else {
        defmt::error!("FAIL board");
    }
    exit(ok)
}

/// Trains from a fixed seed, then predicts every sample; returns how many were right.
fn train_and_check(net: &mut Net, state: &mut TrainState<Net>) -> Result<usize, Error> {
    // One generator, kept in the state: it draws the weights, then shuffles.
    state.persistent.rng = DefaultRng::seed_from_u64(1);
    net.initialize(Init::GlorotUniform, &mut state.persistent.rng)?;
    let data = Dataset::new(&INPUTS, &LABELS)?;
    let mut order = [0u16; 4]; // the shuffle buffer: 2 bytes per sample
    let mut learner = Learner::new(net, state, &mut order, SoftmaxCrossEntropy, &CONFIG)?;
    let summary = learner.fit(data, |_, _| {
        ControlFlow::Continue(()) // or Break(()) to stop early, e.g. on a target loss
    })?;
    defmt::info!("{}", summary);

    let mut correct = 0;
    for (x, &label) in INPUTS.iter().zip(&LABELS) {
        let class = predict_class(net, SoftmaxCrossEntropy, x, &mut state.scratch.activations)?;
        defmt::info!("{} -> class {=usize}", x, class);
        correct += usize::from(class == label);
    }
    Ok(correct)
}
