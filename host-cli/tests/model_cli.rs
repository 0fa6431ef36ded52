//! `host-cli eval` and `host-cli predict` run as the real binary: the split
//! a model records, the scores against the training run's own, predictions
//! from the test split and from a CSV file, and every kind of bad model or
//! input file refused with exit code 1 and one line naming the file and
//! the problem.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use host_cli::data::DIGITS;
use host_cli::split::stratified_split;
use mlp_core::activation::{Relu, Tanh};
use mlp_core::loss::SoftmaxCrossEntropy;
use mlp_core::model::{self, Section};
use mlp_core::optim::Momentum;
use mlp_core::{
    Dataset, DefaultRng, Dense, Init, Learner, Network, Persistent, SeedableRng, TrainConfig, TrainState, Zeroed,
    evaluate, layers,
};
use serde_json::Value;

type Net = layers![Dense<f32, 64, 32, Relu>, Dense<f32, 32, 10>];

fn host_cli(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_host-cli")).args(args).current_dir(dir).output().expect("run host-cli")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("UTF-8")
}

/// Runs a command that must succeed; returns its stdout.
fn ok(dir: &Path, args: &[&str]) -> String {
    let out = host_cli(dir, args);
    assert!(out.status.success(), "{args:?} failed: {}", text(&out.stderr));
    text(&out.stdout)
}

fn json(dir: &Path, args: &[&str]) -> Value {
    let stdout = ok(dir, args);
    serde_json::from_str(stdout.lines().last().expect("a JSON line")).expect("valid JSON")
}

/// Runs a command that must fail with exit code 1 and one `error: ` line on
/// stderr (nothing on stdout); returns that line.
fn failure(dir: &Path, args: &[&str]) -> String {
    let out = host_cli(dir, args);
    assert_eq!(out.status.code(), Some(1), "{args:?}: {}", text(&out.stderr));
    let message = text(&out.stderr);
    assert!(message.starts_with("error: "), "{args:?}: {message}");
    assert_eq!(message.lines().count(), 1, "{args:?}: one line: {message}");
    assert!(out.stdout.is_empty(), "{args:?}: {}", text(&out.stdout));
    message
}

fn digits_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/digits.csv.gz")
}

/// A 64-32-10 network trained a few epochs with mlp-core alone (no
/// metadata: the file does not record its split), on the split of `seed`.
fn core_trained(seed: u64) -> Net {
    let samples = DIGITS.load(Some(&digits_path())).unwrap();
    let split = stratified_split(&samples, 0.2, seed).unwrap();
    let mut net = Net::ZEROED;
    let mut state = TrainState::<Net>::new();
    state.persistent.rng = DefaultRng::seed_from_u64(seed);
    net.initialize(Init::HeUniform, &mut state.persistent.rng).unwrap();
    let inputs = Net::inputs_from_flat(&split.train.features).unwrap();
    let data = Dataset::new(inputs, &split.train.labels).unwrap();
    let mut order = vec![0u32; data.len()];
    let config = TrainConfig { epochs: 5, ..TrainConfig::DEFAULT };
    Learner::new(&mut net, &mut state, &mut order, SoftmaxCrossEntropy, &config)
        .unwrap()
        .fit(data, |_, _| std::ops::ControlFlow::Continue(()))
        .unwrap();
    net
}

fn model_bytes<N: Network>(net: &N) -> Vec<u8> {
    let mut bytes = vec![0u8; N::MODEL_BYTES];
    model::write_model(net, &mut bytes).unwrap();
    bytes
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    std::fs::write(dir.join(name), bytes).unwrap();
    name.to_owned()
}

fn recrc(bytes: &mut [u8]) {
    let end = bytes.len() - 4;
    let crc = model::crc32(&bytes[..end]);
    bytes[end..].copy_from_slice(&crc.to_le_bytes());
}

/// `bytes` with a section inserted before the checksum, length and CRC updated.
fn with_section(bytes: &[u8], id: u16, flags: u16, payload: &[u8]) -> Vec<u8> {
    let mut out = bytes[..bytes.len() - 4].to_vec();
    out.extend_from_slice(&id.to_le_bytes());
    out.extend_from_slice(&flags.to_le_bytes());
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(payload);
    out.extend_from_slice(&[0; 4]);
    let total = out.len() as u32;
    out[8..12].copy_from_slice(&total.to_le_bytes());
    recrc(&mut out);
    out
}

#[test]
fn eval_scores_the_split_the_model_was_trained_beside() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let train = json(
        d,
        &["train", "digits", "--hidden", "32", "--epochs", "8", "--seed", "3", "--test-fraction", "0.25", "-q"]
            .into_iter()
            .chain(["--json", "--out", "m.mlpm"])
            .collect::<Vec<_>>(),
    );
    // No flags: the split comes from the file, and the scores are the training run's.
    let eval = json(d, &["eval", "m.mlpm", "digits", "--json"]);
    assert_eq!(eval["seed"], 3);
    assert_eq!(eval["test_fraction"], 0.25);
    assert_eq!(eval["split_recorded_in_model"], true);
    assert_eq!(eval["samples"], train["test_samples"]);
    assert_eq!(eval["train_samples"], train["train_samples"]);
    assert_eq!(eval["accuracy"], train["test_accuracy"]);
    assert_eq!(eval["confusion_matrix"], train["confusion_matrix"]);
    assert_eq!(eval["architecture"], "64-32-10");
    // Per-class scores agree with the matrix they come from.
    let matrix: Vec<Vec<u64>> = serde_json::from_value(eval["confusion_matrix"].clone()).unwrap();
    for (class, row) in matrix.iter().enumerate() {
        let support: u64 = row.iter().sum();
        let predicted: u64 = matrix.iter().map(|r| r[class]).sum();
        let scores = &eval["per_class"][class];
        assert_eq!(scores["support"], support);
        // JSON numbers are parsed to within an ulp.
        assert!((scores["recall"].as_f64().unwrap() - row[class] as f64 / support as f64).abs() < 1e-15);
        assert!((scores["precision"].as_f64().unwrap() - row[class] as f64 / predicted as f64).abs() < 1e-15);
    }
    let f1s: f64 = (0..10).map(|c| eval["per_class"][c]["f1"].as_f64().unwrap()).sum();
    assert!((eval["macro_average"]["f1"].as_f64().unwrap() - f1s / 10.0).abs() < 1e-12);

    // The text says which split and how many samples, and aligns the matrix.
    let text = ok(d, &["eval", "m.mlpm", "digits"]);
    let samples = train["test_samples"].as_u64().unwrap();
    assert!(
        text.contains(&format!(
            "the test split (seed 3, test fraction 0.25, as recorded in the model): {samples} samples"
        )),
        "{text}"
    );
    assert!(text.contains("accuracy  ") && text.contains("\nmacro "), "{text}");
    let matrix_lines: Vec<&str> = text.lines().skip_while(|l| !l.starts_with("confusion matrix")).skip(1).collect();
    assert_eq!(matrix_lines.len(), 11, "{text}");
    assert!(matrix_lines.iter().all(|l| l.len() == matrix_lines[0].len()), "{text}");

    // The same flags are fine; flags naming another split are refused.
    ok(d, &["eval", "m.mlpm", "digits", "--seed", "3", "--test-fraction", "0.25"]);
    let message = failure(d, &["eval", "m.mlpm", "digits", "--seed", "4"]);
    assert!(message.contains("m.mlpm") && message.contains("--seed 3, not 4"), "{message}");
    let message = failure(d, &["eval", "m.mlpm", "digits", "--test-fraction", "0.2"]);
    assert!(message.contains("m.mlpm") && message.contains("--test-fraction 0.25, not 0.2"), "{message}");

    // A checkpoint holds the same network.
    ok(
        d,
        &[
            "train",
            "digits",
            "--hidden",
            "32",
            "--epochs",
            "8",
            "--seed",
            "3",
            "--test-fraction",
            "0.25",
            "-q",
            "--out",
            "c.mlpm",
            "--checkpoint",
        ],
    );
    let from_checkpoint = json(d, &["eval", "c.mlpm", "digits", "--json"]);
    assert_eq!(from_checkpoint["confusion_matrix"], eval["confusion_matrix"]);
}

#[test]
fn a_model_that_records_no_split_is_evaluated_on_the_flags_split() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let net = core_trained(5);
    write(d, "core.mlpm", &model_bytes(&net));
    let eval = json(d, &["eval", "core.mlpm", "digits", "--seed", "5", "--json"]);
    assert_eq!((eval["seed"].as_u64(), eval["split_recorded_in_model"].as_bool()), (Some(5), Some(false)));

    let samples = DIGITS.load(Some(&digits_path())).unwrap();
    let split = stratified_split(&samples, 0.2, 5).unwrap();
    let test = Dataset::new(Net::inputs_from_flat(&split.test.features).unwrap(), &split.test.labels).unwrap();
    let mut scratch = Default::default();
    let expected = evaluate(&net, &mut scratch, SoftmaxCrossEntropy, test).unwrap();
    assert_eq!(eval["correct"], expected.correct);
    assert_eq!(eval["samples"], split.test.len());
    let text = ok(d, &["eval", "core.mlpm", "digits", "--seed", "5"]);
    assert!(text.contains("from the flags; the model does not record its split"), "{text}");
}

#[test]
fn predict_a_test_sample_and_the_same_pixels_from_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(d, &["train", "digits", "--hidden", "32", "--epochs", "8", "--seed", "2", "-q", "--out", "m.mlpm"]);
    let samples = DIGITS.load(Some(&digits_path())).unwrap();
    let split = stratified_split(&samples, 0.2, 2).unwrap();
    let index = 17;

    let report = json(d, &["predict", "m.mlpm", "--sample", &index.to_string(), "--json"]);
    assert_eq!(report["seed"], 2);
    let p = &report["predictions"][0];
    assert_eq!(p["sample"], index);
    assert_eq!(p["label"], split.test.labels[index]);
    assert_eq!(p["data_row"], split.test_indices[index] + 1);
    let probabilities: Vec<f64> = serde_json::from_value(p["probabilities"].clone()).unwrap();
    assert_eq!(probabilities.len(), 10);
    assert!((probabilities.iter().sum::<f64>() - 1.0).abs() < 1e-5, "{probabilities:?}");
    let best = (0..10).max_by(|&a, &b| probabilities[a].total_cmp(&probabilities[b])).unwrap();
    assert_eq!(p["predicted"], best);

    // The same pixels (0–16, as in the data file) from a CSV file with a header: the same probabilities.
    let pixels: Vec<String> = split.test.row(index).iter().map(|v| (v * 16.0).to_string()).collect();
    let header: Vec<String> = (0..64).map(|k| format!("pixel{k}")).collect();
    let csv = format!("{}\n{}\n\n{}\n", header.join(","), pixels.join(", "), pixels.join(","));
    write(d, "in.csv", csv.as_bytes());
    let from_file = json(d, &["predict", "m.mlpm", "--input", "in.csv", "--json"]);
    let lines: Vec<u64> =
        from_file["predictions"].as_array().unwrap().iter().map(|p| p["line"].as_u64().unwrap()).collect();
    assert_eq!(lines, [2, 4]);
    for p in from_file["predictions"].as_array().unwrap() {
        assert_eq!(p["probabilities"], report["predictions"][0]["probabilities"]);
        assert!(p.get("label").is_none());
    }

    // The text: the digit's picture, the class and every probability.
    let text = ok(d, &["predict", "m.mlpm", "--sample", &index.to_string()]);
    let picture: Vec<&str> = text.lines().filter(|l| l.starts_with("    ") && l.len() == 4 + 16).collect();
    assert_eq!(picture.len(), 8, "{text}");
    assert!(picture.iter().any(|l| l.contains('@') || l.contains('%')), "{text}");
    assert!(text.contains(&format!("predicted class {best} (probability")), "{text}");
    assert!(text.contains(&format!("true class {}", split.test.labels[index])), "{text}");
    assert_eq!(text.lines().filter(|l| l.trim_start().starts_with(char::is_numeric) && l.contains("0.")).count(), 10);

    // Out of range: the message gives the valid range.
    let count = split.test.len();
    let message = failure(d, &["predict", "m.mlpm", "--sample", &count.to_string()]);
    assert!(
        message.contains(&format!("invalid --sample {count}")) && message.contains(&format!("0 to {}", count - 1)),
        "{message}"
    );
}

#[test]
fn bad_input_files_name_the_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "m.mlpm", &model_bytes(&Net::ZEROED));
    let row = vec!["3"; 64];
    let with = |k: usize, text: &'static str| {
        let mut r = row.clone();
        r[k] = text;
        r.join(",")
    };
    let cases = [
        (
            "word.csv",
            format!("{}\n{}\n", row.join(","), with(9, "bright")),
            "line 2, field 10: \"bright\" is not a number",
        ),
        ("nan.csv", format!("{}\n", with(0, "NaN")), "line 1, field 1: \"NaN\" is not a finite number"),
        ("inf.csv", format!("{}\n", with(63, "inf")), "line 1, field 64: \"inf\" is not a finite number"),
        ("short.csv", format!("{}\n", row[..63].join(",")), "line 1: expected 64 comma-separated pixel values"),
        (
            "long.csv",
            format!("{},1\n", row.join(",")),
            "line 1: expected 64 comma-separated pixel values (the model's inputs), found 65",
        ),
        ("range.csv", format!("{}\n", with(5, "17")), "line 1, field 6: pixel value 17 is outside 0..=16"),
        ("empty.csv", String::new(), "no samples"),
        ("header.csv", "a,b,c\n".to_owned(), "no samples"),
    ];
    for (name, contents, problem) in cases {
        write(d, name, contents.as_bytes());
        let message = failure(d, &["predict", "m.mlpm", "--input", name]);
        assert!(message.contains(&format!("{name}: ")) && message.contains(problem), "{name}: {message}");
    }
    let message = failure(d, &["predict", "m.mlpm", "--input", "missing.csv"]);
    assert!(message.contains("cannot read input file missing.csv"), "{message}");
    std::fs::create_dir(d.join("folder.csv")).unwrap();
    let message = failure(d, &["predict", "m.mlpm", "--input", "folder.csv"]);
    assert!(message.contains("folder.csv") && message.contains("directory"), "{message}");
}

/// Every kind of bad model file, fed to `eval` and `predict`.
#[test]
fn bad_model_files_are_refused_naming_the_file_and_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut net = Net::ZEROED;
    net.initialize(Init::HeUniform, &mut DefaultRng::seed_from_u64(1)).unwrap();
    let good = model_bytes(&net);
    let n = good.len();

    let mut cases: Vec<(String, Vec<u8>, String)> = Vec::new();
    let mut case = |name: &str, bytes: Vec<u8>, problem: &str| cases.push((name.to_owned(), bytes, problem.to_owned()));

    case("empty.mlpm", Vec::new(), "the model file is truncated: 0 bytes, 12 needed");
    case("text.mlpm", b"dataset,seed\n".to_vec(), "not a model file (it does not start with \"MLPM\")");
    let mut gzip = good.clone();
    gzip[..4].copy_from_slice(&[0x1f, 0x8b, 8, 0]);
    case("gzip.mlpm", gzip, "not a model file");
    case("header.mlpm", good[..7].to_vec(), "the model file is truncated: 7 bytes, 12 needed");
    for cut in [12, 13, n / 2, n - 1] {
        case(
            &format!("cut{cut}.mlpm"),
            good[..cut].to_vec(),
            &format!("the model file is truncated: {cut} bytes, {n} needed"),
        );
    }
    let mut longer = good.clone();
    longer.extend_from_slice(b"junk");
    case("trailing.mlpm", longer, "4 unexpected bytes after the end of the model");
    let mut version = good.clone();
    version[4] = 2;
    recrc(&mut version);
    case("version.mlpm", version, "model format version 2 is not supported (this build reads version 1)");
    for bit in [8 * 40 + 3, 8 * (n / 2), 8 * (n - 1)] {
        let mut flipped = good.clone();
        flipped[bit / 8] ^= 1 << (bit % 8);
        case(&format!("flip{bit}.mlpm"), flipped, "the model file is corrupted: checksum");
    }
    let mut nan = good.clone();
    let bias = 36 + (64 * 32 + 32 + 32 * 10 + 4) * 4;
    nan[bias..bias + 4].copy_from_slice(&f32::NAN.to_le_bytes());
    recrc(&mut nan);
    case("nan.mlpm", nan, "layer 1's bias 4 is NaN or infinite");
    case("required.mlpm", with_section(&good, 77, 1, b"new"), "the model file needs section 77");
    case("flags.mlpm", with_section(&good, 77, 6, b"new"), "malformed model file: a section has unknown flags");

    // A checkpoint with its training section twice.
    let mut checkpoint = vec![0u8; model::checkpoint_bytes::<Net, Momentum>()];
    model::write_checkpoint(&net, &Persistent::<Net, Momentum>::ZEROED, &TrainConfig::DEFAULT, &mut checkpoint)
        .unwrap();
    let training_at = checkpoint.len() - 4 - model::TRAINING_SECTION_BYTES;
    assert_eq!(checkpoint[training_at], Section::Training.id() as u8);
    let training = checkpoint[training_at + 8..checkpoint.len() - 4].to_vec();
    case("twice.mlpm", with_section(&checkpoint, 2, 1, &training), "section 2 appears twice");

    // Valid files of networks host-cli cannot run on digits.
    type Wide = layers![Dense<f32, 64, 48, Relu>, Dense<f32, 48, 10>];
    case(
        "wide.mlpm",
        model_bytes(&Wide::ZEROED),
        "the model's architecture 64-48-10 is not built into host-cli; built in for digits: 64-16-10, 64-32-10",
    );
    type Three = layers![Dense<f32, 3, 8, Tanh>, Dense<f32, 8, 2>];
    case(
        "three.mlpm",
        model_bytes(&Three::ZEROED),
        "the model takes 3 inputs and gives 2 classes, but digits samples have 64 pixels and 10 classes",
    );
    type Double = layers![Dense<f64, 64, 32, Relu>, Dense<f64, 32, 10>];
    case("f64.mlpm", model_bytes(&Double::ZEROED), "the model stores f64 values; host-cli's networks are f32");
    type ReluOut = layers![Dense<f32, 64, 32, Relu>, Dense<f32, 32, 10, Relu>];
    case("reluout.mlpm", model_bytes(&ReluOut::ZEROED), "the output layer uses relu");
    type Mixed = layers![Dense<f32, 64, 32, Relu>, Dense<f32, 32, 32, Tanh>, Dense<f32, 32, 10>];
    case("mixed.mlpm", model_bytes(&Mixed::ZEROED), "hidden layer 1 uses tanh but layer 0 uses relu");
    type Deep =
        layers![Dense<f32, 64, 32, Relu>, Dense<f32, 32, 32, Relu>, Dense<f32, 32, 16, Relu>, Dense<f32, 16, 10>];
    case("deep.mlpm", model_bytes(&Deep::ZEROED), "the model's architecture 64-32-32-16-10 is not built into host-cli");
    // A checkpoint whose optimizer state holds a NaN.
    let mut state = Persistent::<Net, Momentum>::ZEROED;
    state.optimizer[0].tail.biases[3] = f32::NAN;
    let mut nan_state = vec![0u8; model::checkpoint_bytes::<Net, Momentum>()];
    model::write_checkpoint(&net, &state, &TrainConfig::DEFAULT, &mut nan_state).unwrap();
    case(
        "nanstate.mlpm",
        nan_state,
        &format!("value {} of optimizer-state buffer 0 is NaN or infinite", Net::PARAMETERS - 7),
    );

    for (name, bytes, problem) in &cases {
        write(d, name, bytes);
        for args in
            [&["eval", name, "digits"][..], &["predict", name, "--sample", "0"], &["predict", name, "--input", "x.csv"]]
        {
            let message = failure(d, args);
            assert!(message.contains(&format!("{name}: ")) && message.contains(problem), "{args:?}: {message}");
        }
    }

    // An unknown optional section is skipped: the model is evaluated as without it.
    write(d, "plain.mlpm", &good);
    write(d, "optional.mlpm", &with_section(&good, 77, 0, b"for a newer tool"));
    let plain = json(d, &["eval", "plain.mlpm", "digits", "--json"]);
    let optional = json(d, &["eval", "optional.mlpm", "digits", "--json"]);
    assert_eq!(plain["confusion_matrix"], optional["confusion_matrix"]);

    // The file itself missing or not a file.
    std::fs::create_dir(d.join("dir.mlpm")).unwrap();
    for (name, problem) in [
        ("missing.mlpm", "cannot read model file missing.mlpm: No such file"),
        ("dir.mlpm", "cannot read model file dir.mlpm: it is a directory"),
    ] {
        for args in [&["eval", name, "digits"][..], &["predict", name, "--sample", "0"]] {
            let message = failure(d, args);
            assert!(message.contains(problem), "{args:?}: {message}");
        }
    }
}
