//! The C export, compiled with the system's C compiler as
//! `docs/c-export.md` says (`-std=c99 -O2 -ffp-contract=off`), computes
//! what mlp-core computes: bit for bit for ReLU, leaky ReLU and identity
//! networks (the committed digits model on every digit, small networks with
//! zero inputs, −0 biases and a layer wide enough for the host to skip zero
//! inputs), and within a stated tolerance for tanh and sigmoid, whose
//! `tanhf` and `expf` are the C library's.
//!
//! Without a `cc` on the PATH the tests say so and pass, except in CI
//! (`CI` set), where the compiler is required.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use host_cli::export::{self, Exported};
use mlp_core::activation::{Activation, LeakyRelu, Relu, Sigmoid, Tanh};
use mlp_core::model::{self, Model};
use mlp_core::{Dense, Init, Network, Part, SeedableRng, Zeroed, layers, predict};

/// Largest accepted difference between C and mlp-core for tanh and sigmoid
/// networks, relative to the output's scale `Σ|w·a| + |b|` of the last
/// layer: the two libraries' `tanhf`/`expf` may differ by an ulp or two
/// (relative 1.2e-7 each), which the last layer's sum carries over with at
/// most its scale; 1e-6 leaves a factor of about four.
const SMOOTH_MAX_RELATIVE_ERROR: f64 = 1e-6;

/// The flags `docs/c-export.md` gives for bit-exact results, plus warnings
/// as errors so the header stays clean.
const CFLAGS: &[&str] = &["-std=c99", "-O2", "-ffp-contract=off", "-Wall", "-Wextra", "-Wpedantic", "-Werror"];

/// Reads samples as hexadecimal bit patterns, `MLP_INPUTS` per sample, and
/// prints each sample's outputs the same way, one line per sample.
const MAIN: &str = r#"#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "model.h"

int main(void)
{
    float in[MLP_INPUTS], out[MLP_OUTPUTS];
    for (;;) {
        size_t i;
        for (i = 0; i < MLP_INPUTS; i++) {
            unsigned long bits;
            uint32_t b;
            if (scanf("%lx", &bits) != 1) {
                return i == 0 ? 0 : 1;
            }
            b = (uint32_t)bits;
            memcpy(&in[i], &b, sizeof b);
        }
        mlp_forward(in, out);
        for (i = 0; i < MLP_OUTPUTS; i++) {
            uint32_t b;
            memcpy(&b, &out[i], sizeof b);
            printf(i + 1 < MLP_OUTPUTS ? "%08lx " : "%08lx\n", (unsigned long)b);
        }
    }
}
"#;

/// A directory of its own under the system's temporary directory, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("mlp-c-export-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The C compiler, or `None` (with a note) where there is none and this is not CI.
fn compiler() -> Option<PathBuf> {
    let found = std::env::var_os("PATH")
        .and_then(|paths| std::env::split_paths(&paths).map(|dir| dir.join("cc")).find(|p| p.is_file()));
    if found.is_none() {
        assert!(std::env::var_os("CI").is_none(), "CI must have a C compiler (cc) for the C export's tests");
        eprintln!("note: no `cc` on the PATH; the C export's compiled tests did not run");
    }
    found
}

/// Compiles `header` with [`MAIN`] in `dir` and runs it on `inputs`; returns every output's bits.
fn run_c(cc: &Path, dir: &Path, header: &str, inputs: &[Vec<f32>]) -> Vec<Vec<u32>> {
    std::fs::write(dir.join("model.h"), header).unwrap();
    std::fs::write(dir.join("main.c"), MAIN).unwrap();
    let exe = dir.join("forward");
    let out =
        Command::new(cc).args(CFLAGS).arg("-o").arg(&exe).arg(dir.join("main.c")).arg("-lm").output().expect("run cc");
    assert!(out.status.success(), "cc failed:\n{}", String::from_utf8_lossy(&out.stderr));

    let mut text = String::new();
    for x in inputs {
        let words: Vec<String> = x.iter().map(|v| format!("{:08x}", v.to_bits())).collect();
        text += &words.join(" ");
        text.push('\n');
    }
    let mut child = Command::new(&exe).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    // Written from another thread: the program's output could otherwise fill its pipe first.
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(text.as_bytes()));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(out.status.success(), "the C program failed");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|line| line.split(' ').map(|w| u32::from_str_radix(w, 16).unwrap()).collect())
        .collect()
}

/// mlp-core's outputs for every input.
fn run_core<N: Network<Scalar = f32>>(net: &N, inputs: &[Vec<f32>]) -> Vec<Vec<u32>> {
    let mut activations = N::Activations::ZEROED;
    inputs
        .iter()
        .map(|x| {
            let output = predict(net, x, &mut activations).unwrap();
            N::output_values(output).iter().map(|v| v.to_bits()).collect()
        })
        .collect()
}

/// `net` as the C exporter sees it, through a model file.
fn exported<N: Network<Scalar = f32>>(net: &N) -> Exported {
    let mut bytes = vec![0; N::MODEL_BYTES];
    model::write_model(net, &mut bytes).unwrap();
    Exported::from_model(&Model::parse(&bytes).unwrap()).unwrap()
}

/// The same with a scaling section (which `mlp_forward` leaves to the caller, as mlp-core's `predict` does).
fn exported_with_scaling<N: Network<Scalar = f32>>(net: &N) -> Exported {
    let (offset, scale) = (vec![0.5; N::INPUTS], vec![2.0; N::INPUTS]);
    let extras = model::Extras::<N, mlp_core::optim::Sgd> {
        training: None,
        scaling: Some(model::Scaling { offset: &offset, scale: &scale }),
        metadata: None,
    };
    let mut bytes = vec![0; model::written_bytes(&extras)];
    model::write(net, extras, &mut bytes).unwrap();
    let exported = Exported::from_model(&Model::parse(&bytes).unwrap()).unwrap();
    assert!(exported.scaling.is_some());
    exported
}

/// A network with random weights and biases, some biases −0.
fn random_net<N: Network<Scalar = f32> + Zeroed>(seed: u64, init: Init) -> Box<N> {
    let mut net = host_cli::boxed::zeroed_box::<N>();
    let mut rng = mlp_core::DefaultRng::seed_from_u64(seed);
    net.initialize(init, &mut rng).unwrap();
    let mut k = 0;
    net.for_each_trainable_mut(|slot, _, values| {
        if slot.part == Part::Biases {
            for v in values.iter_mut() {
                k += 1;
                *v = if k % 3 == 0 { -0.0 } else { (mlp_core::init::unit_interval(&mut rng) - 0.5) as f32 };
            }
        }
    });
    net
}

/// Inputs in (−2, 2), about a third of them ±0, plus an all-zero sample and an all-(−0) one.
fn random_inputs(seed: u64, width: usize, count: usize) -> Vec<Vec<f32>> {
    let mut rng = mlp_core::DefaultRng::seed_from_u64(seed);
    let mut inputs: Vec<Vec<f32>> = (0..count)
        .map(|_| {
            (0..width)
                .map(|_| {
                    let u = mlp_core::init::unit_interval(&mut rng);
                    match (u * 9.0) as u32 {
                        0 => 0.0,
                        1 => -0.0,
                        2 => 0.0,
                        _ => (4.0 * mlp_core::init::unit_interval(&mut rng) - 2.0) as f32,
                    }
                })
                .collect()
        })
        .collect();
    inputs.push(vec![0.0; width]);
    inputs.push(vec![-0.0; width]);
    inputs
}

fn assert_bits_equal(c: &[Vec<u32>], core: &[Vec<u32>], what: &str) {
    assert_eq!(c.len(), core.len(), "{what}: one output line per sample");
    for (i, (a, b)) in c.iter().zip(core).enumerate() {
        assert_eq!(a, b, "{what}: sample {i} differs between C and mlp-core");
    }
}

#[test]
fn digits_model_is_bit_exact_in_c() {
    let Some(cc) = compiler() else { return };
    let dir = TempDir::new();
    type Net = layers![Dense<f32, 64, 32, Relu>, Dense<f32, 32, 10>];
    let bytes =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/exported/digits_64_32_10.mlpm")).unwrap();
    let mut net = host_cli::boxed::zeroed_box::<Net>();
    model::read_model(&bytes, &mut *net).unwrap();
    let header = export::c::header(&Exported::from_model(&Model::parse(&bytes).unwrap()).unwrap(), "digits.mlpm");

    let digits = host_cli::data::DIGITS.load(None).unwrap();
    let mut inputs: Vec<Vec<f32>> = (0..digits.len()).map(|i| digits.row(i).to_vec()).collect();
    inputs.extend(random_inputs(1, 64, 200));
    assert_bits_equal(&run_c(&cc, dir.path(), &header, &inputs), &run_core(&*net, &inputs), "digits 64-32-10");
}

#[test]
fn rectifier_networks_are_bit_exact_in_c() {
    let Some(cc) = compiler() else { return };
    let dir = TempDir::new();
    // 64 outputs: the host's kernel skips zero inputs there, the C code never does.
    type Wide = layers![Dense<f32, 9, 64, Relu>, Dense<f32, 64, 16, Relu>, Dense<f32, 16, 3>];
    let net = random_net::<Wide>(2, Init::HeUniform);
    let inputs = random_inputs(3, 9, 300);
    let header = export::c::header(&exported(&*net), "wide.mlpm");
    assert_bits_equal(&run_c(&cc, dir.path(), &header, &inputs), &run_core(&*net, &inputs), "relu 9-64-16-3");

    type Leaky = layers![Dense<f32, 7, 12, LeakyRelu>, Dense<f32, 12, 5, LeakyRelu>, Dense<f32, 5, 4>];
    let net = random_net::<Leaky>(4, Init::HeUniform);
    let inputs = random_inputs(5, 7, 300);
    let header = export::c::header(&exported(&*net), "leaky.mlpm");
    assert_bits_equal(&run_c(&cc, dir.path(), &header, &inputs), &run_core(&*net, &inputs), "leaky-relu 7-12-5-4");

    // A single identity layer: outputs are the raw sums, −0 biases and all.
    let net = random_net::<Dense<f32, 6, 5>>(6, Init::GlorotUniform);
    let inputs = random_inputs(7, 6, 100);
    let header = export::c::header(&exported_with_scaling(&*net), "linear.mlpm");
    assert!(header.contains("mlp_scaling_scale[6]"));
    assert_bits_equal(&run_c(&cc, dir.path(), &header, &inputs), &run_core(&*net, &inputs), "identity 6-5");
}

type Smooth<A> = layers![Dense<f32, 8, 16, A>, Dense<f32, 16, 4>];

/// Runs a tanh or sigmoid network in C and checks every output against
/// mlp-core's within [`SMOOTH_MAX_RELATIVE_ERROR`] of its scale
/// `Σ|w·a| + |b|`; returns how many outputs differed at all.
fn check_smooth<A: Activation>(cc: &Path, seed: u64) -> (usize, usize) {
    let dir = TempDir::new();
    let net = random_net::<Smooth<A>>(seed, Init::GlorotUniform);
    let inputs = random_inputs(seed + 1, 8, 500);
    let header = export::c::header(&exported(&*net), "smooth.mlpm");
    let c = run_c(cc, dir.path(), &header, &inputs);
    assert_eq!(c.len(), inputs.len());
    let mut activations = <Smooth<A> as Network>::Activations::ZEROED;
    let (mut differing, mut total) = (0, 0);
    for (i, (x, c_out)) in inputs.iter().zip(&c).enumerate() {
        let out = *predict(&*net, x, &mut activations).unwrap();
        let hidden = &activations.head;
        for (o, (&core, &c_bits)) in out.iter().zip(c_out).enumerate() {
            let ours = f32::from_bits(c_bits);
            let scale = f64::from(net.tail.biases[o].abs())
                + (0..16).map(|j| f64::from((net.tail.weights[(o, j)] * hidden[j]).abs())).sum::<f64>();
            let error = (f64::from(ours) - f64::from(core)).abs();
            assert!(
                error <= SMOOTH_MAX_RELATIVE_ERROR * scale,
                "{}: sample {i} output {o}: C {ours:e}, mlp-core {core:e}, scale {scale:e}",
                A::NAME
            );
            differing += usize::from(ours.to_bits() != core.to_bits());
            total += 1;
        }
    }
    (differing, total)
}

#[test]
fn tanh_and_sigmoid_networks_are_close_in_c() {
    let Some(cc) = compiler() else { return };
    let (tanh_differing, total) = check_smooth::<Tanh>(&cc, 8);
    let (sigmoid_differing, _) = check_smooth::<Sigmoid>(&cc, 10);
    // Not required to be zero (the C library's functions are not mlp-core's), only reported.
    eprintln!("outputs differing in any bit: tanh {tanh_differing} of {total}, sigmoid {sigmoid_differing} of {total}");
}
