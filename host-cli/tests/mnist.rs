//! MNIST from `../shared/data/mnist` (the four IDX files, never committed):
//! the official files load with their counts, and training on them through
//! `host_cli::run` learns and gives the same bits on one thread or two. A
//! test skips with a note when the directory is absent.

use std::path::{Path, PathBuf};

use host_cli::arch::{self, Architecture, HiddenActivation};
use host_cli::idx::{self, IdxSet};
use host_cli::optim::AnyOptimizer;
use host_cli::run::{Outcome, RunOptions, Start, Training};
use host_cli::source::SampleSource;
use mlp_core::optim::Momentum;
use mlp_core::schedule::Schedule;
use mlp_core::{Init, TrainConfig};

fn mnist_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/mnist");
    if dir.join("train-images-idx3-ubyte.gz").is_file() || dir.join("train-images-idx3-ubyte").is_file() {
        Some(dir)
    } else {
        eprintln!("skipped: no MNIST files in {}", dir.display());
        None
    }
}

#[test]
fn the_official_files_load_with_their_counts() {
    let Some(dir) = mnist_dir() else { return };
    let mnist = idx::load_mnist(&dir, None).unwrap();
    assert_eq!((mnist.train.len(), mnist.test.len()), (60_000, 10_000));
    assert_eq!((mnist.train.rows, mnist.train.cols, mnist.train.feature_count()), (28, 28, 784));
    // The official label counts (../shared/data/PROVENANCE.md).
    assert_eq!(mnist.train.class_counts(), [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]);
    assert_eq!(mnist.test.class_counts(), [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]);
    // About 81 % of the pixels are blank, which is what the engine skips.
    let zeros = mnist.train.pixels.iter().filter(|&&p| p == 0).count() as f64 / mnist.train.pixels.len() as f64;
    assert!((0.78..0.83).contains(&zeros), "{zeros}");
    let mut x = vec![f32::NAN; 784];
    mnist.train.features_into(0, &mut x);
    assert!(x.iter().all(|&v| (0.0..=1.0).contains(&v)) && x.contains(&1.0), "pixels scaled to [0, 1]");
    let limited = idx::load_mnist(&dir, Some(1000)).unwrap();
    assert_eq!((limited.train.len(), limited.test.len()), (1000, 1000));
    assert_eq!(limited.train.pixels, mnist.train.pixels[..1000 * 784]);
    assert_eq!(limited.test.labels, mnist.test.labels[..1000]);
}

fn train(train: &IdxSet, test: &IdxSet, threads: usize) -> Outcome {
    let options = RunOptions {
        train: TrainConfig {
            epochs: 2,
            batch_size: 32,
            schedule: Schedule::constant(0.05),
            l2: 1e-4,
            ..TrainConfig::new(AnyOptimizer::Momentum(Momentum::DEFAULT))
        },
        init: Init::HeUniform,
        seed: 0,
        threads: Some(threads),
    };
    let arch = Architecture { inputs: 784, hidden: vec![128], outputs: 10, activation: HiddenActivation::Relu };
    let training = Training {
        train,
        test,
        options: &options,
        start: &Start::Fresh,
        stop: None,
        metadata: "",
        on_epoch: |_: &_| {},
    };
    arch::with_network(&arch, training).unwrap().unwrap()
}

#[test]
fn training_learns_and_gives_the_same_bits_on_one_thread_or_two() {
    let Some(dir) = mnist_dir() else { return };
    let mnist = idx::load_mnist(&dir, Some(4000)).unwrap();
    let one = train(&mnist.train, &mnist.test, 1);
    let two = train(&mnist.train, &mnist.test, 2);
    assert_eq!(one.model, two.model, "the trained weights");
    assert_eq!(one.checkpoint, two.checkpoint, "the optimizer state and generator");
    assert_eq!(one.history, two.history);
    assert_eq!((one.test, one.confusion.clone()), (two.test, two.confusion.clone()));
    // Two epochs of 4000 images: well above chance (0.1), if far from a full run's 0.98.
    let accuracy = host_cli::run::accuracy(&one.test);
    assert!(accuracy > 0.85, "test accuracy {accuracy}");
    assert_eq!(one.confusion.iter().flatten().sum::<u32>(), 4000);
}
