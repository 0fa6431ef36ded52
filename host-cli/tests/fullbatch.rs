//! L-BFGS and nonlinear CG (`--optimizer lbfgs|cg`): accuracy on digits
//! with the defaults, the same model file from the same seed, the same bits
//! on any thread count, the gradient against finite differences, and the
//! flags they refuse.

use std::path::Path;
use std::process::{Command, Output};

use host_cli::data::Samples;
use host_cli::fullbatch::{self, FullBatchTraining, LineSearch, Method, Settings};
use host_cli::optim::AnyOptimizer;
use host_cli::run::{RunOptions, Start, Training};
use mlp_core::activation::{Relu, Sigmoid, Tanh};
use mlp_core::optim::Sgd;
use mlp_core::{DefaultRng, Dense, Init, Network, SeedableRng, TrainConfig, layers};
use serde_json::Value;

fn host_cli(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_host-cli")).args(args).current_dir(dir).output().expect("run host-cli")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `host-cli train digits --json ARGS`, which must succeed: its report.
fn train_json(dir: &Path, args: &[&str]) -> Value {
    let mut all = vec!["train", "digits", "--json"];
    all.extend_from_slice(args);
    let out = host_cli(dir, &all);
    assert!(out.status.success(), "{all:?} failed: {}", stderr(&out));
    let text = String::from_utf8(out.stdout).expect("UTF-8 stdout");
    serde_json::from_str(text.lines().last().expect("a JSON line")).expect("valid JSON")
}

/// The default run of `method` on digits (seed 0, 100 iterations, l2 1).
fn defaults_reach_097(method: &str) {
    let dir = tempfile::tempdir().unwrap();
    let report = train_json(dir.path(), &["--optimizer", method, "--quiet"]);
    let accuracy = report["test_accuracy"].as_f64().unwrap();
    assert!(accuracy >= 0.97, "{method}: test accuracy {accuracy}");
    let optimizer = &report["optimizer"];
    assert_eq!(optimizer["name"], method);
    assert_eq!(optimizer["line_search"], "more-thuente");
    assert!(optimizer["evaluations"].as_u64().unwrap() >= 100, "{optimizer}");
    assert_eq!(report["l2"], 1.0);
    // The batch is the training set; no learning-rate schedule applies.
    assert_eq!(report["batch_size"], report["train_samples"]);
    assert!(report.get("schedule").is_none(), "{report}");
    let history = report["history"].as_array().unwrap();
    assert_eq!(history.len() as u64, report["epochs"].as_u64().unwrap());
    assert!(history.last().unwrap()["loss"].as_f64().unwrap() < history[0]["loss"].as_f64().unwrap());
}

#[test]
fn lbfgs_with_its_defaults_reaches_097_on_digits() {
    defaults_reach_097("lbfgs");
}

#[test]
fn cg_with_its_defaults_reaches_097_on_digits() {
    defaults_reach_097("cg");
}

#[test]
fn the_same_seed_writes_the_same_model_file() {
    let dir = tempfile::tempdir().unwrap();
    for (method, line_search) in [("lbfgs", "more-thuente"), ("cg", "hager-zhang"), ("lbfgs", "backtracking")] {
        let files: Vec<Vec<u8>> = ["a.mlpm", "b.mlpm"]
            .iter()
            .map(|name| {
                let args = ["--optimizer", method, "--line-search", line_search, "--epochs", "8", "--seed", "3"];
                let report = train_json(dir.path(), &[&args[..], &["--out", name]].concat());
                assert_eq!(report["optimizer"]["line_search"], line_search);
                std::fs::read(dir.path().join(name)).unwrap()
            })
            .collect();
        assert_eq!(files[0], files[1], "{method} with {line_search}");
    }
    // A model file like any other: eval reads it back.
    let out = host_cli(dir.path(), &["eval", "b.mlpm", "digits"]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn threads_1_and_2_write_the_same_model_file() {
    let dir = tempfile::tempdir().unwrap();
    for method in ["lbfgs", "cg"] {
        let reports: Vec<Value> = ["1", "2"]
            .iter()
            .map(|threads| {
                let out = format!("{method}-{threads}.mlpm");
                let args = ["--optimizer", method, "--epochs", "6", "--threads", threads, "--out", &out];
                let mut report = train_json(dir.path(), &args);
                // Everything but the clock must agree.
                report.as_object_mut().unwrap().remove("train_seconds");
                report
            })
            .collect();
        assert_eq!(reports[0], reports[1], "{method}");
        let read = |threads: &str| std::fs::read(dir.path().join(format!("{method}-{threads}.mlpm"))).unwrap();
        assert_eq!(read("1"), read("2"), "{method}");
    }
}

#[test]
fn the_human_report_names_the_method_and_its_iterations() {
    let dir = tempfile::tempdir().unwrap();
    let out = host_cli(dir.path(), &["train", "digits", "--optimizer", "cg", "--epochs", "3", "--l2", "0.5"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("iterations 3, full batch, cg (polak-ribiere+, more-thuente line search;"), "{text}");
    assert!(text.contains("l2 0.5"), "{text}");
    assert!(text.contains("ms per iteration"), "{text}");
}

#[test]
fn flags_that_do_not_apply_are_errors_naming_them() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&[&str], &str)] = &[
        (&["--optimizer", "lbfgs", "--history", "0"], "invalid --history 0"),
        (&["--optimizer", "adam", "--history", "5"], "--history does not apply to --optimizer adam"),
        (&["--history", "5"], "--history does not apply to --optimizer momentum"),
        (&["--optimizer", "cg", "--history", "5"], "--history does not apply to --optimizer cg"),
        (&["--optimizer", "sgd", "--line-search", "hager-zhang"], "--line-search does not apply to --optimizer sgd"),
        (&["--optimizer", "lbfgs", "--lr", "0.1"], "--lr does not apply to --optimizer lbfgs"),
        (&["--optimizer", "cg", "--momentum", "0.5"], "--momentum does not apply to --optimizer cg"),
        (&["--optimizer", "cg", "--schedule", "cosine"], "--schedule does not apply to --optimizer cg"),
        (&["--optimizer", "lbfgs", "--batch-size", "64"], "--batch-size does not apply to --optimizer lbfgs"),
        (&["--optimizer", "lbfgs", "--l1", "0.01"], "--l1 does not apply to --optimizer lbfgs"),
        (&["--optimizer", "lbfgs", "--out", "m.mlpm", "--checkpoint"], "--checkpoint does not apply"),
        (&["--optimizer", "cg", "--resume", "m.mlpm"], "--resume does not apply to --optimizer cg"),
    ];
    for (args, expected) in cases {
        let out = host_cli(dir.path(), &[&["train", "digits"][..], args].concat());
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
        let message = stderr(&out);
        assert!(message.starts_with("error: ") && message.contains(expected), "{args:?}: {message}");
    }
    // Refused before any training: nothing was written.
    assert!(!dir.path().join("m.mlpm").exists());
    let out = host_cli(dir.path(), &["sweep", "digits", "--optimizer", "lbfgs"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("--optimizer lbfgs"), "{}", stderr(&out));
}

/// 150 samples of 20 inputs, a quarter of them zeros (which the engine skips), 3 classes.
fn samples(seed: u64) -> Samples {
    let mut rng = DefaultRng::seed_from_u64(seed);
    let features: Vec<f32> =
        (0..150 * 20).map(|_| (mlp_core::init::unit_interval(&mut rng) as f32 - 0.25).max(0.0)).collect();
    let labels = features.chunks(20).map(|x| usize::from(x[0] > x[1]) + usize::from(x[2] > 0.3)).collect();
    Samples { features, labels, feature_count: 20, class_count: 3 }
}

type Small = layers![Dense<f32, 20, 24, Relu>, Dense<f32, 24, 3>];

/// A full-batch run of `Small` on `threads` threads: its model file and history.
fn run(settings: Settings, threads: usize) -> (Vec<u8>, Vec<host_cli::run::EpochRecord>, fullbatch::Stop) {
    let (train, test) = (samples(1), samples(2));
    let config = TrainConfig { epochs: 15, l2: 0.5, ..TrainConfig::new(AnyOptimizer::Sgd(Sgd)) };
    let options =
        RunOptions { train: config, init: Init::HeUniform, seed: 4, threads: Some(threads), early_stopping: None };
    let training = Training {
        train: &train,
        test: &test,
        validation: None,
        options: &options,
        start: &Start::Fresh,
        stop: None,
        metadata: "",
        on_epoch: |_: &host_cli::run::EpochRecord| {},
    };
    let done = fullbatch::train_full_batch::<Small, 20, 3>(FullBatchTraining { training, settings }).unwrap();
    (done.outcome.model, done.outcome.history, done.stop)
}

#[test]
fn any_thread_count_gives_the_same_bits() {
    for settings in [
        Settings::new(Method::Lbfgs),
        Settings { history: 3, line_search: LineSearch::HagerZhang, ..Settings::new(Method::Lbfgs) },
        Settings::new(Method::Cg),
    ] {
        let one = run(settings, 1);
        assert!(one.1.last().unwrap().loss < one.1[0].loss, "{settings:?} learns: {:?}", one.1);
        for threads in [2, 3] {
            assert_eq!(run(settings, threads), one, "{settings:?} on {threads} threads");
        }
    }
}

/// The gradient of the objective (mean cross-entropy plus the L2 term)
/// against central differences, on smooth activations.
#[test]
fn the_gradient_matches_finite_differences() {
    type Net = layers![Dense<f32, 20, 6, Tanh>, Dense<f32, 6, 5, Sigmoid>, Dense<f32, 5, 3>];
    let data = samples(7);
    let mut net = Net::default();
    net.initialize(Init::GlorotUniform, &mut DefaultRng::seed_from_u64(8)).unwrap();
    let l2 = 3.0;
    let (objective, gradient) = fullbatch::objective_and_gradient::<Net, 3>(&net, &data, l2, 2).unwrap();
    assert_eq!(gradient.len(), Net::PARAMETERS);
    // The same on one thread, bit for bit.
    let single = fullbatch::objective_and_gradient::<Net, 3>(&net, &data, l2, 1).unwrap();
    assert_eq!((objective.to_bits(), &gradient), (single.0.to_bits(), &single.1));
    let at = |k: usize, delta: f32| {
        let mut moved = net.clone();
        let mut index = 0;
        moved.for_each_trainable_mut(|_, _, values| {
            for v in values {
                if index == k {
                    *v += delta;
                }
                index += 1;
            }
        });
        fullbatch::objective_and_gradient::<Net, 3>(&moved, &data, l2, 1).unwrap().0
    };
    // Every parameter of the small layers, and a stride through the first.
    let checked: Vec<usize> = (0..Net::PARAMETERS).filter(|&k| k >= 120 || k % 7 == 0).collect();
    let h = 1e-2f32;
    for &k in &checked {
        let numeric = (at(k, h) - at(k, -h)) / (2.0 * f64::from(h));
        let error = (numeric - gradient[k]).abs();
        assert!(error <= 2e-4 + 1e-2 * gradient[k].abs(), "parameter {k}: analytic {} numeric {numeric}", gradient[k]);
    }
    assert!(checked.len() > 60 && objective.is_finite());
}
