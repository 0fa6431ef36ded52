//! Trains and runs a small network with mlp-core on a Cortex-M4F, with no heap.
//!
//! Nothing here is meant to run: a successful link proves that mlp-core builds
//! for the target, needs no allocator, and fits the RAM budget below.
#![no_std]
#![no_main]

use core::hint::black_box;
use core::ops::ControlFlow;

use cortex_m as _; // provides the critical-section implementation
use cortex_m_rt::entry;
use mlp_core::activation::Tanh;
use mlp_core::loss::SoftmaxCrossEntropy;
use mlp_core::{Chain, Dataset, DefaultRng, Dense, EpochMetrics, Frozen, Init, Network, SgdConfig, TrainConfig};
use mlp_core::{SampleWindow, TrainState, Zeroed, layers, predict_class, train};
use rand_core::SeedableRng;

type Net = layers![Dense<f32, 2, 8, Tanh>, Dense<f32, 8, 2>];
/// The same network with its first layer read-only: fine-tunes only the last layer.
type Tuned<'a> = layers![Frozen<'a, f32, 2, 8, Tanh>, Dense<f32, 8, 2>];

// The RAM budget, checked at compile time.
const _: () = assert!(Net::TRAINING_BYTES <= 16 * 1024);

static INPUTS: [[f32; 2]; 4] = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]];
static LABELS: [usize; 4] = [0, 1, 1, 0];

#[entry]
fn main() -> ! {
    let data = Dataset::new(black_box(&INPUTS[..]), black_box(&LABELS[..])).unwrap();
    let config = TrainConfig {
        epochs: black_box(20),
        batch_size: 4,
        sgd: SgdConfig { lr: 0.5, momentum: 0.9, ..SgdConfig::default() },
    };
    #[cfg(feature = "defmt")]
    defmt::println!("training with {}", config);

    let mut rng = DefaultRng::seed_from_u64(black_box(1));
    let mut net = Net::default();
    net.initialize(Init::GlorotUniform, &mut rng).unwrap();
    let mut state = TrainState::new();
    let mut order = [0u16; 4];
    let summary =
        train(&mut net, &mut state, SoftmaxCrossEntropy, data, &mut order, &config, &mut rng, run_on).unwrap();
    black_box(summary.last.train.loss);

    let mut tuned: Tuned<'_> = Chain::new(Frozen(&net.head), net.tail);
    let mut tuned_state = TrainState::new();
    let summary =
        train(&mut tuned, &mut tuned_state, SoftmaxCrossEntropy, data, &mut order, &config, &mut rng, run_on).unwrap();
    #[cfg(feature = "defmt")]
    defmt::println!("{}", summary);
    black_box(summary);

    // Keep learning from the most recent labelled samples, as they arrive.
    let mut window = SampleWindow::<[f32; 2], usize, 3>::new();
    let mut activations = Zeroed::zeroed();
    for (x, &label) in INPUTS.iter().zip(&LABELS) {
        black_box(predict_class(&tuned, SoftmaxCrossEntropy, black_box(x), &mut activations).unwrap());
        window.push(*x, label);
    }
    let recent = window.dataset().unwrap();
    let mut recent_order = [0u16; 3];
    black_box(
        train(&mut tuned, &mut tuned_state, SoftmaxCrossEntropy, recent, &mut recent_order, &config, &mut rng, run_on)
            .unwrap(),
    );
    loop {
        cortex_m::asm::wfi();
    }
}

/// Trains every epoch asked for.
fn run_on<N>(_: &EpochMetrics, _: &N) -> ControlFlow<()> {
    ControlFlow::Continue(())
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    cortex_m::asm::udf()
}

/// A defmt logger that discards everything (through `black_box`, so the encoding is kept).
#[cfg(feature = "defmt")]
#[defmt::global_logger]
struct NullLogger;

#[cfg(feature = "defmt")]
// SAFETY: every method does nothing, so there is no state to guard.
unsafe impl defmt::Logger for NullLogger {
    fn acquire() {}
    unsafe fn flush() {}
    unsafe fn release() {}
    unsafe fn write(bytes: &[u8]) {
        black_box(bytes);
    }
}
