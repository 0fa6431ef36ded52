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
        early_stopping: None,
    };
    let arch = Architecture { inputs: 784, hidden: vec![128], outputs: 10, activation: HiddenActivation::Relu };
    let training = Training {
        train,
        test,
        validation: None,
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

fn host_cli(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_host-cli")).args(args).output().expect("run host-cli")
}

fn json_of(out: &std::process::Output) -> serde_json::Value {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("one JSON object")
}

#[test]
fn the_cli_trains_on_the_official_split_with_a_validation_slice_and_the_same_bits_on_any_thread_count() {
    let Some(dir) = mnist_dir() else { return };
    let dir = dir.to_str().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let model = |name: &str| tmp.path().join(name).to_str().unwrap().to_owned();
    let (one, two) = (model("one.mlpm"), model("two.mlpm"));
    let run = |threads: &str, out: &str| {
        let args = ["train", "mnist", "--data", dir, "--max-samples", "1500", "--epochs", "2", "--validation", "300"];
        json_of(&host_cli(&[&args[..], &["--threads", threads, "--out", out, "--json"]].concat()))
    };
    let report = run("1", &one);
    assert_eq!(report, {
        let mut other = run("2", &two);
        other["train_seconds"] = report["train_seconds"].clone();
        other
    });
    assert_eq!(std::fs::read(&one).unwrap(), std::fs::read(&two).unwrap(), "a model file independent of --threads");
    // The official split: the first 1500 training images less the last 300, and the first 1500 test images.
    assert_eq!(report["train_samples"], 1200);
    assert_eq!(report["validation_samples"], 300);
    assert_eq!(report["test_samples"], 1500);
    assert_eq!(report["test_fraction"], serde_json::Value::Null);
    assert_eq!(report["schedule"]["name"], "cosine", "{}", report["schedule"]);
    let last = &report["history"][1];
    assert!(last["validation_accuracy"].as_f64().unwrap() > 0.75, "{last}");
    assert!(last["validation_loss"].as_f64().unwrap() < last["test_loss"].as_f64().unwrap() + 1.0, "{last}");
    let test_accuracy = report["test_accuracy"].as_f64().unwrap();
    assert!(test_accuracy > 0.75, "{test_accuracy}");

    // eval finds the same test images and the same accuracy.
    let eval = json_of(&host_cli(&["eval", &one, "mnist", "--data", dir, "--max-samples", "1500", "--json"]));
    assert_eq!(eval["accuracy"].as_f64(), Some(test_accuracy), "{eval}");

    // A resumed run must hold out the same samples.
    let checkpoint = model("checkpoint.mlpm");
    let base = ["train", "mnist", "--data", dir, "--max-samples", "400", "--epochs", "1", "--schedule", "constant"];
    let made = host_cli(&[&base[..], &["--validation", "100", "--checkpoint", "--out", &checkpoint]].concat());
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let other = host_cli(&[
        "train",
        "mnist",
        "--data",
        dir,
        "--max-samples",
        "400",
        "--resume",
        &checkpoint,
        "--epochs",
        "2",
        "--validation",
        "50",
    ]);
    assert!(!other.status.success());
    assert!(String::from_utf8_lossy(&other.stderr).contains("--validation 100, not 50"));
}

#[test]
fn bad_mnist_input_is_an_error_that_names_the_problem_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("model.mlpm");
    let out_str = out.to_str().unwrap();
    let expect_error = |args: &[&str], needle: &str| {
        let result = host_cli(args);
        let stderr = String::from_utf8_lossy(&result.stderr);
        assert!(!result.status.success(), "{args:?} succeeded");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
        assert!(!out.exists(), "{args:?} left a file");
    };
    expect_error(&["train", "mnist", "--out", out_str], "give it with --data");
    let empty = tmp.path().to_str().unwrap();
    expect_error(&["train", "mnist", "--data", empty, "--out", out_str], "train-images-idx3-ubyte");
    // A truncated training-images file.
    let broken = tmp.path().join("broken");
    std::fs::create_dir(&broken).unwrap();
    let mut images = Vec::from(0x0803u32.to_be_bytes());
    for dim in [3u32, 28, 28] {
        images.extend(dim.to_be_bytes());
    }
    images.extend([0u8; 784 * 2]);
    std::fs::write(broken.join("train-images-idx3-ubyte"), &images).unwrap();
    let mut labels = Vec::from(0x0801u32.to_be_bytes());
    labels.extend(3u32.to_be_bytes());
    labels.extend([1u8, 2, 3]);
    std::fs::write(broken.join("train-labels-idx1-ubyte"), &labels).unwrap();
    std::fs::write(broken.join("t10k-images-idx3-ubyte"), &images).unwrap();
    std::fs::write(broken.join("t10k-labels-idx1-ubyte"), &labels).unwrap();
    let broken = broken.to_str().unwrap();
    expect_error(&["train", "mnist", "--data", broken, "--out", out_str], "train-images-idx3-ubyte");
    let Some(dir) = mnist_dir() else { return };
    let dir = dir.to_str().unwrap();
    expect_error(&["train", "mnist", "--data", dir, "--test-fraction", "0.2", "--out", out_str], "its own split");
    expect_error(
        &["train", "mnist", "--data", dir, "--max-samples", "100", "--validation", "100", "--out", out_str],
        "invalid --validation",
    );
    expect_error(&["train", "mnist", "--data", dir, "--hidden", "64", "--out", out_str], "supported: 128 256 256,128");
}
