//! Inference in 2 KiB of RAM: the 64→32→10 digits network is a `static` in
//! flash, so RAM holds only its activations (168 bytes) and the stack.
//!
//! Proven three ways: a compile-time assertion from the core's sizes, the
//! link against `memory/infer.x` (RAM = 2K), and the measured stack
//! high-water. The outputs are checked against a plain-loop reference with
//! the same summation order, bit for bit.
#![no_std]
#![no_main]

use core::hint::black_box;
use core::mem::size_of;

use cortex_m_rt::entry;
use mlp_core::activation::Relu;
use mlp_core::loss::SoftmaxCrossEntropy;
use mlp_core::{Chain, Dense, Network, Zeroed, layers, predict_class};
use mlp_firmware::{exit, stack};
use static_cell::ConstStaticCell;

type Net = layers![Dense<f32, 64, 32, Relu>, Dense<f32, 32, 10>];
type Activations = <Net as Network>::Activations;

/// memory/infer.x gives this program 2 KiB of RAM.
const RAM_BUDGET: usize = 2 * 1024;
/// Deepest stack allowed: inference, the reference and the logger.
const STACK_ALLOWANCE: usize = 1280;
/// The activations are the only state in RAM; the logger and the stack
/// painter's bookkeeping take a few bytes more, which the link checks.
const _: () = assert!(size_of::<Activations>() + STACK_ALLOWANCE <= RAM_BUDGET, "inference does not fit");

// Weights in flash: `const`-built, so the `static` is placed in `.rodata`.
const W1: [[f32; 32]; 64] = columns(0x1234_5678);
const B1: [f32; 32] = column(0x0bad_5eed);
const W2: [[f32; 10]; 32] = columns(0x0dec_0ded);
const B2: [f32; 10] = column(0x5eed_f00d);
static NET: Net = Chain::new(Dense::from_columns(W1, B1), Dense::from_columns(W2, B2));

static ACTIVATIONS: ConstStaticCell<Activations> = ConstStaticCell::new(<Activations as Zeroed>::ZEROED);

/// A "3" from the digits data set (row 4 of fixtures/digits.csv.gz), 0..=16 per pixel.
const DIGIT: [u8; 64] = [
    0, 0, 7, 15, 13, 1, 0, 0, 0, 8, 13, 6, 15, 4, 0, 0, 0, 2, 1, 13, 13, 0, 0, 0, 0, 0, 2, 15, 11, 1, 0, 0, 0, 0, 0, 1,
    12, 12, 1, 0, 0, 0, 0, 0, 1, 10, 8, 0, 0, 0, 8, 4, 5, 14, 9, 0, 0, 0, 7, 13, 13, 9, 0, 0,
];

#[entry]
fn main() -> ! {
    // Handed out once; `try_take` has no panic path.
    let Some(activations) = ACTIVATIONS.try_take() else { exit(false) };
    let digit: [f32; 64] = DIGIT.map(|p| f32::from(p) / 16.0);
    let dense: [f32; 64] = core::array::from_fn(|i| (i + 1) as f32 / 64.0);

    let mut all_ok = true;
    for (what, x) in [("typical digit", &digit), ("every input non-zero", &dense)] {
        let class = match predict_class(&NET, SoftmaxCrossEntropy, black_box(x), activations) {
            Ok(class) => class,
            Err(error) => {
                defmt::error!("{=str}: {}", what, error);
                all_ok = false;
                continue;
            }
        };
        let output = Net::output(activations);
        let same = *output == reference(x);
        defmt::info!("{=str}: class {=usize}, outputs {}, same as the reference: {=bool}", what, class, output, same);
        all_ok &= same;
    }

    let high_water = stack::high_water();
    defmt::info!("MEMORY infer stack_high_water={=usize}", high_water);
    if high_water > STACK_ALLOWANCE {
        defmt::error!("FAIL infer: stack high-water {=usize} B > allowance {=usize} B", high_water, STACK_ALLOWANCE);
        exit(false);
    }
    if all_ok {
        defmt::info!("PASS infer");
    } else {
        defmt::error!("FAIL infer: an output differs from the reference");
    }
    exit(all_ok)
}

/// The network's output by plain loops over the same weights, summing in
/// mlp-core's order: the bias, then each input's term in input order.
#[inline(never)]
fn reference(x: &[f32; 64]) -> [f32; 10] {
    let hidden = layer(&W1, &B1, x).map(|z| if z > 0.0 { z } else { 0.0 });
    layer(&W2, &B2, &hidden)
}

fn layer<const I: usize, const O: usize>(columns: &[[f32; O]; I], biases: &[f32; O], x: &[f32; I]) -> [f32; O] {
    let mut z = biases.map(|b| b + 0.0);
    for (column, &xj) in columns.iter().zip(x) {
        for (zi, &w) in z.iter_mut().zip(column) {
            *zi += w * xj;
        }
    }
    z
}

/// Weights in [−0.25, 0.25) from a seeded xorshift, computed at compile time.
const fn columns<const I: usize, const O: usize>(seed: u32) -> [[f32; O]; I] {
    let mut out = [[0.0; O]; I];
    let mut state = seed;
    let mut i = 0;
    while i < I {
        let mut o = 0;
        while o < O {
            state = xorshift(state);
            out[i][o] = ((state >> 8) as f32 / (1 << 24) as f32 - 0.5) * 0.5;
            o += 1;
        }
        i += 1;
    }
    out
}

const fn column<const O: usize>(seed: u32) -> [f32; O] {
    let [biases] = columns::<1, O>(seed);
    biases
}

const fn xorshift(mut x: u32) -> u32 {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    x
}
