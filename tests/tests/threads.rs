//! The host's threaded engine (`host_cli::engine`) changes no bit: epochs
//! run by 1, 2 or 3 threads, on the baseline vector unit and on AVX2 (when
//! this CPU has it), give the weights, optimizer state, generator and
//! metrics of mlp-core's own `Learner::epoch`, for every optimizer, every
//! hidden activation, frozen layers, clipping and penalties, dropout,
//! batches smaller and larger than one group of samples; and its evaluation gives the
//! metrics of `mlp_core::evaluate` and the classes of `predict_class`.

mod common;

use common::{rng, uniform, with_optimizer};
use host_cli::accel::VectorUnit;
use host_cli::data::Samples;
use host_cli::engine::{self, DenseStack};
use host_cli::idx::IdxSet;
use host_cli::optim::AnyOptimizer;
use host_cli::parallel::with_team;
use host_cli::source::SampleSource;
use mlp_core::activation::{LeakyRelu, Relu, Sigmoid, Tanh};
use mlp_core::dropout::{Dropout, DropoutCache};
use mlp_core::loss::SoftmaxCrossEntropy;
use mlp_core::optim::{Adagrad, Adam, AdamW, Momentum, Nesterov, RmsProp, Sgd};
use mlp_core::schedule::{Schedule, Shape};
use mlp_core::{
    Dataset, Dense, EpochMetrics, Init, Learner, Network, Slots, TrainConfig, TrainState, Zeroed, evaluate, layers,
    predict_class,
};

/// A wide first layer, narrow ones, three hidden activations.
type Mixed =
    layers![Dense<f32, 20, 72, Relu>, Dense<f32, 72, 12, Tanh>, Dense<f32, 12, 5, LeakyRelu>, Dense<f32, 5, 3>];
/// MNIST's shape: the first layer in several tiles of columns.
type Wide = layers![Dense<f32, 784, 128, Sigmoid>, Dense<f32, 128, 10>];

type Outcome = (Vec<u32>, Vec<u64>, [u32; 4], Vec<EpochMetrics<f32>>);

/// How the epochs are run.
#[derive(Clone, Copy, Debug)]
enum Path {
    /// `Learner::epoch` over the samples as `f32` rows: what a device runs.
    Core,
    /// `engine::train_epoch` with this many threads on this unit.
    Engine(usize, VectorUnit),
}

fn run<N, const I: usize, const K: usize>(
    source: &dyn SampleSource,
    config: &TrainConfig<AnyOptimizer>,
    path: Path,
) -> Outcome
where
    N: DenseStack<Input = [f32; I], Output = [f32; K]> + Zeroed,
{
    let mut net = host_cli::boxed::zeroed_box::<N>();
    let mut state = host_cli::boxed::zeroed_box::<TrainState<N, AnyOptimizer>>();
    state.persistent.rng = rng(6);
    net.initialize(Init::HeUniform, &mut state.persistent.rng).unwrap();
    let mut order = vec![0u32; source.len()];
    let mut cache = host_cli::boxed::zeroed_box::<DropoutCache<N>>();
    let mut learner =
        Learner::new(&mut *net, &mut state, &mut order, SoftmaxCrossEntropy, config).unwrap().with_dropout(&mut cache);
    let history = match path {
        Path::Core => {
            let (inputs, labels) = rows::<I>(source);
            let data = Dataset::new(&inputs, &labels).unwrap();
            (0..config.epochs).map(|_| learner.epoch(data).unwrap()).collect()
        }
        Path::Engine(threads, unit) => with_team(threads, |team| {
            (0..config.epochs)
                .map(|_| engine::train_epoch::<N, _, _, K>(&mut learner, source, team, unit).unwrap())
                .collect()
        }),
    };
    let mut weights = Vec::new();
    net.for_each_parameter(|_, values| weights.extend(values.iter().map(|v| v.to_bits())));
    let mut buffers = Vec::new();
    for buffer in &state.persistent.optimizer {
        for slot in 0..<N::Gradients as Slots<f32>>::SLOTS {
            buffers.extend(buffer.slot(slot).iter().map(|v| u64::from(v.to_bits())));
        }
    }
    (weights, buffers, state.persistent.rng.state(), history)
}

/// Every sample as an `f32` row, as the core's `Dataset` takes them.
fn rows<const I: usize>(source: &dyn SampleSource) -> (Vec<[f32; I]>, Vec<usize>) {
    let inputs = (0..source.len())
        .map(|i| {
            let mut x = [0.0; I];
            source.features_into(i, &mut x);
            x
        })
        .collect();
    (inputs, (0..source.len()).map(|i| source.label(i)).collect())
}

fn units() -> Vec<VectorUnit> {
    let avx2 = cfg!(target_arch = "x86_64") && engine::usable(VectorUnit::Avx2) == VectorUnit::Avx2;
    if !avx2 {
        eprintln!("this CPU has no AVX2: only the baseline is compared");
    }
    if avx2 { vec![VectorUnit::Baseline, VectorUnit::Avx2] } else { vec![VectorUnit::Baseline] }
}

fn assert_every_path_agrees<N, const I: usize, const K: usize>(
    source: &dyn SampleSource,
    config: &TrainConfig<AnyOptimizer>,
) where
    N: DenseStack<Input = [f32; I], Output = [f32; K]> + Zeroed,
{
    let expected = run::<N, I, K>(source, config, Path::Core);
    assert!(expected.3.iter().all(|m| m.train.loss.is_finite()), "{config:?}");
    for unit in units() {
        for threads in [1, 2, 3] {
            let got = run::<N, I, K>(source, config, Path::Engine(threads, unit));
            let what = format!("{} threads on {}, {config:?}", threads, unit.name());
            assert_eq!(got.0, expected.0, "weights: {what}");
            assert_eq!(got.1, expected.1, "optimizer state: {what}");
            assert_eq!(got.2, expected.2, "generator: {what}");
            assert_eq!(got.3, expected.3, "metrics: {what}");
        }
    }
}

/// 150 samples of 20 values, a third of them zero.
fn mixed_samples() -> Samples {
    let mut r = rng(5);
    let features: Vec<f32> = (0..150 * 20).map(|_| uniform(&mut r, -0.6, 1.0).max(0.0) as f32).collect();
    let labels = features.chunks(20).map(|x| usize::from(x[0] > x[1]) + usize::from(x[2] > 0.3)).collect();
    Samples { features, labels, feature_count: 20, class_count: 3 }
}

fn base_config() -> TrainConfig<()> {
    TrainConfig {
        epochs: 2,
        batch_size: 16,
        optimizer: (),
        schedule: Schedule { lr: 0.01, shape: Shape::InverseTime { decay: 0.1 }, warmup: 1 },
        l2: 1e-3,
        l1: 1e-4,
        clip_norm: 1.0,
        frozen_layers: 0,
        dropout: Dropout::NONE,
    }
}

#[test]
fn every_optimizer_gives_the_bits_of_the_core_whatever_the_thread_count() {
    let samples = mixed_samples();
    for optimizer in [
        AnyOptimizer::Sgd(Sgd),
        AnyOptimizer::Momentum(Momentum::DEFAULT),
        AnyOptimizer::Nesterov(Nesterov::DEFAULT),
        AnyOptimizer::Adagrad(Adagrad::DEFAULT),
        AnyOptimizer::RmsProp(RmsProp::DEFAULT),
        AnyOptimizer::Adam(Adam::DEFAULT),
        AnyOptimizer::AdamW(AdamW::DEFAULT),
    ] {
        let config = with_optimizer(&base_config(), optimizer);
        assert_every_path_agrees::<Mixed, 20, 3>(&samples, &config);
    }
}

#[test]
fn batches_of_any_size_frozen_layers_and_no_penalty_give_the_same_bits() {
    let samples = mixed_samples();
    let momentum = with_optimizer(&base_config(), AnyOptimizer::Momentum(Momentum::DEFAULT));
    // One sample, a group and a half (two groups of samples), the whole set in one batch.
    for batch_size in [1, 64, 96, 150] {
        assert_every_path_agrees::<Mixed, 20, 3>(&samples, &TrainConfig { batch_size, ..momentum });
    }
    for frozen_layers in [1, 3] {
        assert_every_path_agrees::<Mixed, 20, 3>(&samples, &TrainConfig { frozen_layers, ..momentum });
    }
    let plain = TrainConfig { l1: 0.0, l2: 0.0, clip_norm: 0.0, ..momentum };
    assert_every_path_agrees::<Mixed, 20, 3>(&samples, &plain);
}

#[test]
fn dropout_gives_the_bits_of_the_core_whatever_the_thread_count() {
    let samples = mixed_samples();
    let momentum = with_optimizer(&base_config(), AnyOptimizer::Momentum(Momentum::DEFAULT));
    // ReLU, tanh (whose derivative needs the output before dropout) and leaky ReLU layers.
    let mut rates = Dropout::NONE;
    rates.rates[..3].copy_from_slice(&[0.5, 0.2, 0.3]);
    let dropped = TrainConfig { dropout: rates, ..momentum };
    for batch_size in [1, 16, 96] {
        assert_every_path_agrees::<Mixed, 20, 3>(&samples, &TrainConfig { batch_size, ..dropped });
    }
    // A layer without dropout between two with it; frozen layers in front.
    rates.rates[1] = 0.0;
    assert_every_path_agrees::<Mixed, 20, 3>(&samples, &TrainConfig { dropout: rates, ..dropped });
    for frozen_layers in [1, 3] {
        assert_every_path_agrees::<Mixed, 20, 3>(&samples, &TrainConfig { frozen_layers, ..dropped });
    }
    let adam = with_optimizer(&dropped, AnyOptimizer::Adam(Adam::DEFAULT));
    assert_every_path_agrees::<Mixed, 20, 3>(&samples, &adam);
    // Dropout changes the run: the masks are drawn and used.
    let plain = run::<Mixed, 20, 3>(&samples, &momentum, Path::Core);
    let with = run::<Mixed, 20, 3>(&samples, &dropped, Path::Core);
    assert_ne!(plain.0, with.0);
    assert_ne!(plain.2, with.2, "the masks come from the training generator");
}

/// Byte images like MNIST's: blank borders, strokes in the middle, some
/// pixels saturated (exactly 1.0 once scaled).
fn images(n: usize, seed: u64) -> IdxSet {
    let mut r = rng(seed);
    let mut pixels = vec![0u8; n * 784];
    for image in pixels.chunks_mut(784) {
        for (k, p) in image.iter_mut().enumerate() {
            let (row, col) = ((k / 28) as f64 - 13.5, (k % 28) as f64 - 13.5);
            if row * row + col * col < 80.0 && uniform(&mut r, 0.0, 1.0) < 0.45 {
                *p = if uniform(&mut r, 0.0, 1.0) < 0.3 { 255 } else { uniform(&mut r, 1.0, 255.0) as u8 };
            }
        }
    }
    let labels = (0..n).map(|i| (pixels[i * 784 + 14 * 28 + 14] % 10) as u8).collect();
    IdxSet { pixels, labels, rows: 28, cols: 28 }
}

#[test]
fn byte_images_through_the_tiled_first_layer_give_the_same_bits() {
    let data = images(100, 8);
    let config = TrainConfig {
        epochs: 1,
        batch_size: 32,
        schedule: Schedule::constant(0.05),
        l2: 1e-4,
        ..TrainConfig::new(AnyOptimizer::Momentum(Momentum::DEFAULT))
    };
    assert_every_path_agrees::<Wide, 784, 10>(&data, &config);
    let adam =
        TrainConfig { batch_size: 70, clip_norm: 2.0, ..with_optimizer(&config, AnyOptimizer::Adam(Adam::DEFAULT)) };
    assert_every_path_agrees::<Wide, 784, 10>(&data, &adam);
    // Sigmoid hidden units dropped: the masked outputs feed the second layer's columns.
    assert_every_path_agrees::<Wide, 784, 10>(&data, &TrainConfig { dropout: Dropout::uniform(0.5, 1), ..adam });
}

#[test]
fn evaluation_gives_the_metrics_and_classes_of_the_core() {
    let data = images(150, 9);
    let mut net = host_cli::boxed::zeroed_box::<Wide>();
    net.initialize(Init::GlorotUniform, &mut rng(10)).unwrap();
    let (inputs, labels) = rows::<784>(&data);
    let mut scratch = host_cli::boxed::zeroed_box::<<Wide as Network>::Activations>();
    let expected =
        evaluate(&*net, &mut *scratch, SoftmaxCrossEntropy, Dataset::new(&inputs, &labels).unwrap()).unwrap();
    let classes: Vec<usize> =
        inputs.iter().map(|x| predict_class(&*net, SoftmaxCrossEntropy, x, &mut *scratch).unwrap()).collect();
    for unit in units() {
        for threads in [1, 2, 3] {
            let got = with_team(threads, |team| engine::evaluate::<Wide, 10>(&*net, &data, team, unit));
            assert_eq!(got.metrics.loss.to_bits(), expected.loss.to_bits(), "{threads} threads on {}", unit.name());
            assert_eq!(got.metrics, expected, "{threads} threads on {}", unit.name());
            assert_eq!(got.predictions, classes, "{threads} threads on {}", unit.name());
        }
    }
}

#[test]
fn inputs_and_labels_are_checked_before_training() {
    let mut samples = mixed_samples();
    assert_eq!(engine::check_source(&samples, 20, 3), Ok(()));
    assert_eq!(engine::check_source(&samples, 21, 3), Err(mlp_core::Error::InputLength { expected: 21, found: 20 }));
    samples.labels[7] = 3;
    assert_eq!(engine::check_source(&samples, 20, 3), Err(mlp_core::Error::InvalidTarget { sample: 7 }));
    samples.features[5 * 20 + 2] = f32::NAN;
    assert_eq!(engine::check_source(&samples, 20, 3), Err(mlp_core::Error::NonFiniteInput { sample: 5 }));
}
