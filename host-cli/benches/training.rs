//! Per-operation and per-epoch training costs on the host.
//!
//! `cargo bench -p host-cli --bench training`. Compare the baseline and AVX2
//! rows of one run with each other: ratios are stable from machine to
//! machine, absolute times are not.

use std::hint::black_box;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use host_cli::accel::{VectorUnit, train_epoch_on};
use host_cli::boxed::zeroed_box;
use host_cli::optim::AnyOptimizer;
use mlp_core::activation::Relu;
use mlp_core::loss::SoftmaxCrossEntropy;
use mlp_core::optim::Momentum;
use mlp_core::schedule::Schedule;
use mlp_core::{
    Dataset, DefaultRng, Dense, Init, Learner, Network, PairCache, Rng, Scratch, SeedableRng, TrainConfig, TrainState,
    Zeroed, accumulate_sample, layers,
};

type Digits = layers![Dense<f32, 64, 32, Relu>, Dense<f32, 32, 10>];
type Mnist = layers![Dense<f32, 784, 128, Relu>, Dense<f32, 128, 10>];

const CONFIG: TrainConfig<AnyOptimizer> = TrainConfig {
    epochs: 1,
    schedule: Schedule::constant(0.1),
    l2: 1e-4,
    ..TrainConfig::new(AnyOptimizer::Momentum(Momentum::DEFAULT))
};

/// A sample whose values are zero with probability `zero_fraction`, like
/// blank pixels (digits: about 0.49; MNIST: about 0.81).
fn sparse_sample<const I: usize>(rng: &mut DefaultRng, zero_fraction: f64) -> [f32; I] {
    core::array::from_fn(|_| {
        let u = mlp_core::init::unit_interval(rng);
        if u < zero_fraction { 0.0 } else { (rng.next_u32() >> 8) as f32 / (1u32 << 24) as f32 }
    })
}

/// Forward, backward and an optimizer step of one network, each on its own.
fn per_operation<N, const I: usize>(c: &mut Criterion, name: &str, zero_fraction: f64)
where
    N: Network<Scalar = f32, Input = [f32; I], Output = [f32; 10]> + Zeroed,
{
    let mut rng = DefaultRng::seed_from_u64(1);
    let mut net = zeroed_box::<N>();
    net.initialize(Init::HeUniform, &mut rng).unwrap();
    let mut state = zeroed_box::<TrainState<N, AnyOptimizer>>();
    let x = sparse_sample::<I>(&mut rng, zero_fraction);

    let mut group = c.benchmark_group(name);
    group.bench_function("forward", |b| b.iter(|| *net.forward(black_box(&x), &mut state.scratch.activations)));
    // One forward and loss first; backward then leaves its inputs unchanged, so it can repeat.
    accumulate_sample(&*net, &mut *state, SoftmaxCrossEntropy, &x, &3);
    group.bench_function("backward", |b| {
        b.iter(|| {
            let TrainState { scratch: Scratch { activations, deltas }, gradients, .. } = &mut *state;
            net.backward(black_box(&x), activations, deltas, gradients, None)
        })
    });
    group.bench_function("forward+loss+backward", |b| {
        b.iter(|| accumulate_sample(&*net, &mut *state, SoftmaxCrossEntropy, black_box(&x), &3))
    });
    let mut order = [0u32; 1];
    let mut learner = Learner::new(&mut *net, &mut state, &mut order, SoftmaxCrossEntropy, &CONFIG).unwrap();
    group.bench_function("sgd_step", |b| b.iter(|| learner.step(32)));
    group.finish();
}

fn operations(c: &mut Criterion) {
    per_operation::<Digits, 64>(c, "64-32-10", 0.49);
    per_operation::<Mnist, 784>(c, "784-128-10", 0.81);
}

/// One epoch over the digits training split, as `host-cli train digits` runs it.
fn digits_epoch(c: &mut Criterion) {
    let samples = host_cli::data::DIGITS.load(None).expect("fixtures/digits.csv.gz");
    let split = host_cli::split::stratified_split(&samples, 0.2, 0).unwrap();
    let inputs = Digits::inputs_from_flat(&split.train.features).unwrap().to_vec();
    let data = Dataset::new(&inputs, &split.train.labels).unwrap();
    assert_eq!(data.len(), 1438);
    let mut group = c.benchmark_group("digits-epoch");
    for paired in [false, true] {
        for unit in [VectorUnit::Baseline, VectorUnit::Avx2] {
            let name = format!("{}{}", unit.name(), if paired { "-paired" } else { "" });
            group.bench_function(name, |b| {
                b.iter_batched_ref(
                    || {
                        let mut net = zeroed_box::<Digits>();
                        let mut state = zeroed_box::<TrainState<Digits, AnyOptimizer>>();
                        state.persistent.rng = DefaultRng::seed_from_u64(0);
                        net.initialize(Init::HeUniform, &mut state.persistent.rng).unwrap();
                        (net, state, zeroed_box::<PairCache<Digits>>(), vec![0u32; data.len()])
                    },
                    |(net, state, pair, order)| {
                        let learner = Learner::new(&mut **net, state, order, SoftmaxCrossEntropy, &CONFIG).unwrap();
                        let mut learner = if paired { learner.with_pairs(pair) } else { learner };
                        train_epoch_on(unit, &mut learner, data).unwrap()
                    },
                    BatchSize::SmallInput,
                )
            });
        }
    }
    group.finish();
}

criterion_group!(benches, operations, digits_epoch);
criterion_main!(benches);
