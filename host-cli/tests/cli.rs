//! Runs the real `host-cli` binary in a temporary directory.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use flate2::Compression;
use flate2::write::GzEncoder;
use serde_json::Value;

/// The test's own temporary working directory (removed when dropped).
fn workdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temporary directory")
}

fn host_cli(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_host-cli")).args(args).current_dir(dir).output().expect("run host-cli")
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("UTF-8 stdout")
}

fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).expect("UTF-8 stderr")
}

/// Runs a training that must succeed and returns its `--json` report (the last stdout line).
fn train_json(dir: &Path, args: &[&str]) -> Value {
    let mut all = vec!["train", "digits", "--json"];
    all.extend_from_slice(args);
    let out = host_cli(dir, &all);
    assert!(out.status.success(), "{all:?} failed: {}", stderr(&out));
    let text = stdout(&out);
    let last = text.lines().last().expect("a JSON line");
    serde_json::from_str(last).expect("valid JSON")
}

/// Runs a command that must fail and returns its stderr.
fn failure(dir: &Path, args: &[&str]) -> String {
    let out = host_cli(dir, args);
    assert!(!out.status.success(), "{args:?} succeeded: {}", stdout(&out));
    assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
    let message = stderr(&out);
    assert!(message.starts_with("error: "), "{message}");
    assert_eq!(message.lines().count(), 1, "error printed once, on one line: {message}");
    message
}

fn digits_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/digits.csv.gz")
}

fn digits_lines() -> Vec<String> {
    let file = std::fs::File::open(digits_path()).unwrap();
    BufReader::new(flate2::read::GzDecoder::new(file)).lines().map(Result::unwrap).collect()
}

fn write_gz(path: &Path, text: &str) {
    let mut encoder = GzEncoder::new(std::fs::File::create(path).unwrap(), Compression::default());
    encoder.write_all(text.as_bytes()).unwrap();
    encoder.finish().unwrap();
}

/// With the defaults (seed 0) the test accuracy must reach 0.975 (it is 0.986),
/// and the report must be complete and consistent.
#[test]
fn defaults_reach_target_accuracy() {
    let dir = workdir();
    // The full default run, in debug builds too (about 20 s there): the claim
    // that the defaults reach 0.975 is what a new user sees first.
    let report = train_json(dir.path(), &[]);
    let accuracy = report["test_accuracy"].as_f64().unwrap();
    assert!(accuracy >= 0.975, "test accuracy {accuracy} < 0.975");
    assert_eq!(report["dataset"], "digits");
    assert_eq!(report["architecture"], "64-128-10");
    assert_eq!(report["activation"], "relu");
    assert_eq!(report["seed"], 0);
    assert_eq!(report["test_fraction"], 0.2);
    assert_eq!((report["train_samples"].as_u64(), report["test_samples"].as_u64()), (Some(1438), Some(359)));
    let epochs = report["epochs"].as_u64().unwrap();
    let history = report["history"].as_array().unwrap();
    assert_eq!(history.len() as u64, epochs);
    for (k, record) in history.iter().enumerate() {
        assert_eq!(record["epoch"].as_u64(), Some(k as u64 + 1));
        for field in ["loss", "train_accuracy", "test_accuracy", "learning_rate"] {
            assert!(record[field].is_f64(), "history[{k}].{field}");
        }
    }
    assert_eq!(history.last().unwrap()["test_accuracy"], report["test_accuracy"]);
    assert_eq!(history.last().unwrap()["loss"], report["final_loss"]);
    let matrix = report["confusion_matrix"].as_array().unwrap();
    assert_eq!(matrix.len(), 10);
    let total: u64 = matrix.iter().flat_map(|row| row.as_array().unwrap()).map(|c| c.as_u64().unwrap()).sum();
    let diagonal: u64 = (0..10).map(|k| matrix[k][k].as_u64().unwrap()).sum();
    assert_eq!(total, 359);
    assert!((diagonal as f64 / 359.0 - accuracy).abs() < 1e-12, "{diagonal} right but accuracy {accuracy}");
    for key in ["l2", "l1", "clip_norm", "batch_size", "train_accuracy", "train_seconds"] {
        assert!(!report[key].is_null(), "missing {key}");
    }
    assert_eq!(report["optimizer"], serde_json::json!({"name": "momentum", "momentum": 0.9}));
    assert_eq!(report["schedule"], serde_json::json!({"name": "constant", "lr": 0.1, "warmup": 0}));
}

#[test]
fn same_seed_same_numbers() {
    let dir = workdir();
    let args = ["--hidden", "32,32", "--activation", "tanh", "--epochs", "3", "--seed", "7", "--l1", "1e-4"];
    let strip = |mut report: Value| {
        let seconds = report.as_object_mut().unwrap().remove("train_seconds");
        assert!(seconds.unwrap().as_f64().unwrap() > 0.0);
        report
    };
    let first = strip(train_json(dir.path(), &args));
    let second = strip(train_json(dir.path(), &args));
    assert_eq!(first, second);
    assert_eq!(first["architecture"], "64-32-32-10");
    assert_eq!(first["init"], "glorot-uniform");

    let mut other_seed = args;
    other_seed[7] = "8";
    assert_ne!(first["history"], strip(train_json(dir.path(), &other_seed))["history"]);
}

#[test]
fn vector_units_agree_bit_for_bit() {
    let dir = workdir();
    let run = |unit: Option<&str>| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_host-cli"));
        command.args(["train", "digits", "--json", "--epochs", "3", "--hidden", "64,32"]).current_dir(dir.path());
        if let Some(unit) = unit {
            command.env("MLP_VECTOR_UNIT", unit);
        }
        let out = command.output().expect("run host-cli");
        assert!(out.status.success(), "{}", stderr(&out));
        let mut report: Value = serde_json::from_str(stdout(&out).lines().last().unwrap()).unwrap();
        let object = report.as_object_mut().unwrap();
        object.remove("train_seconds");
        let unit = object.remove("vector_unit").unwrap();
        (unit, report)
    };
    let (baseline_unit, baseline) = run(Some("baseline"));
    let (detected_unit, detected) = run(None);
    assert_eq!(baseline_unit, "baseline");
    // On a CPU without a wider unit both runs take the baseline path, and the comparison is trivially true.
    eprintln!("detected vector unit: {detected_unit}");
    // serde_json prints the shortest representation that round-trips, so equal text is equal bits.
    assert_eq!(baseline, detected);
}

#[test]
fn human_report_has_a_confusion_matrix() {
    let dir = workdir();
    let out = host_cli(dir.path(), &["train", "digits", "--hidden", "16", "--epochs", "2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for needle in ["test accuracy", "train accuracy", "final loss", "train time", "rows: actual, columns: predicted"] {
        assert!(text.contains(needle), "no {needle:?} in\n{text}");
    }
    let header = text.lines().find(|l| l.trim_start().starts_with("0   1")).expect("column header");
    assert_eq!(header.split_whitespace().collect::<Vec<_>>(), ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]);
    let rows: Vec<&str> = text.lines().skip_while(|l| *l != header).skip(1).collect();
    assert_eq!(rows.len(), 10);
    assert!(rows.iter().all(|r| r.len() == header.len()), "aligned:\n{text}");
}

#[test]
fn progress_bar_only_on_a_terminal_and_not_with_quiet() {
    let dir = workdir();
    let args = ["train", "digits", "--hidden", "16", "--epochs", "2"];
    // Piped stdout: no bar, with or without --quiet.
    for quiet in [true, false] {
        let mut all = args.to_vec();
        if quiet {
            all.push("--quiet");
        }
        let out = host_cli(dir.path(), &all);
        assert!(out.status.success());
        assert_eq!(stderr(&out), "", "stdout is not a terminal: no bar");
    }
    // On a terminal (a pseudo-terminal from util-linux `script`, which merges
    // stdout and stderr): a bar, unless --quiet.
    let on_terminal = |quiet: bool| {
        let command =
            format!("'{}' {}{}", env!("CARGO_BIN_EXE_host-cli"), args.join(" "), if quiet { " --quiet" } else { "" });
        let out = Command::new("script")
            .args(["-qec", &command, "/dev/null"])
            .current_dir(dir.path())
            .output()
            .expect("util-linux `script` runs the command on a pseudo-terminal");
        assert!(out.status.success(), "{}", stderr(&out));
        stdout(&out)
    };
    let shown = on_terminal(false);
    assert!(shown.contains("epoch 2/2") && shown.contains("loss "), "no progress bar on a terminal:\n{shown}");
    let quiet = on_terminal(true);
    assert!(!quiet.contains("epoch "), "--quiet still drew a bar:\n{quiet}");
    assert!(quiet.contains("test accuracy"), "the report is still printed:\n{quiet}");
}

#[test]
fn the_built_in_copy_is_read_unless_data_names_a_file() {
    let dir = workdir();
    // Ten samples of each digit: a file that differs from the built-in copy.
    let mut per_class = [0; 10];
    let lines: Vec<String> = digits_lines()
        .into_iter()
        .filter(|line| {
            let label: usize = line.rsplit(',').next().unwrap().parse().unwrap();
            per_class[label] += 1;
            per_class[label] <= 10
        })
        .collect();
    std::fs::create_dir(dir.path().join("fixtures")).unwrap();
    write_gz(&dir.path().join("fixtures/digits.csv.gz"), &(lines.join("\n") + "\n"));
    // A fixtures directory beside the program is not looked in.
    let report = train_json(dir.path(), &["--epochs", "1", "--hidden", "16"]);
    assert_eq!((report["train_samples"].as_u64(), report["test_samples"].as_u64()), (Some(1438), Some(359)));
    assert!(report["data_file"].as_str().unwrap().starts_with("built-in digits ("), "{report}");
    let report = train_json(dir.path(), &["--epochs", "1", "--hidden", "16", "--data", "fixtures/digits.csv.gz"]);
    assert_eq!((report["train_samples"].as_u64(), report["test_samples"].as_u64()), (Some(80), Some(20)));
    assert_eq!(report["data_file"], "fixtures/digits.csv.gz");
}

#[test]
fn help_works() {
    let dir = workdir();
    let out = host_cli(dir.path(), &["--help"]);
    assert!(out.status.success());
    assert!(stdout(&out).contains("train"));
    let out = host_cli(dir.path(), &["train", "--help"]);
    assert!(out.status.success());
    let text = stdout(&out);
    for flag in [
        "--hidden",
        "--activation",
        "--epochs",
        "--batch-size",
        "--lr",
        "--momentum",
        "--nesterov",
        "--l2",
        "--l1",
        "--decay",
        "--optimizer",
        "--beta1",
        "--beta2",
        "--eps",
        "--rho",
        "--weight-decay",
        "--clip-norm",
        "--schedule",
        "--step-every",
        "--gamma",
        "--min-lr",
        "--warmup",
        "--seed",
        "--test-fraction",
        "--quiet",
        "--json",
        "--data",
    ] {
        assert!(text.contains(flag), "{flag} missing from help");
    }
    // The sizes --hidden takes, and each optimizer's default rate.
    assert!(text.contains("digits: 16 32 64 128 32,32 64,32 64,64 128,64"), "{text}");
    assert!(text.contains("adam 0.001"), "{text}");
}

#[test]
fn missing_file_is_named() {
    let dir = workdir();
    let message = failure(dir.path(), &["train", "digits", "--data", "no-such.csv.gz"]);
    assert!(message.contains("no-such.csv.gz") && message.contains("No such file"), "{message}");
}

/// Edits the lines of a data file in place.
type Corruption = fn(&mut Vec<String>);

#[test]
fn malformed_lines_name_file_line_and_field() {
    let dir = workdir();
    let mut lines = digits_lines();
    lines.truncate(200);
    let cases: [(&str, Corruption, &[&str]); 5] = [
        (
            "short.csv.gz",
            |l| {
                let cut = l[41].rfind(',').unwrap();
                l[41].truncate(cut);
            },
            &["short.csv.gz", "line 42", "expected 65", "found 64"],
        ),
        (
            "word.csv.gz",
            |l| l[6] = l[6].replacen("0,", "abc,", 1),
            &["word.csv.gz", "line 7, field 1", "\"abc\" is not a number"],
        ),
        (
            "nan.csv.gz",
            |l| l[9] = l[9].replacen("0,", "NaN,", 1),
            &["nan.csv.gz", "line 10, field 1", "not a finite number"],
        ),
        (
            "pixel.csv.gz",
            |l| l[0] = l[0].replacen("0,", "17,", 1),
            &["pixel.csv.gz", "line 1, field 1", "17 is outside 0..=16"],
        ),
        (
            "label.csv.gz",
            |l| l[3] = format!("{},12", &l[3][..l[3].rfind(',').unwrap()]),
            &["label.csv.gz", "line 4, field 65 (label)", "\"12\""],
        ),
    ];
    for (name, corrupt, needles) in cases {
        let mut broken = lines.clone();
        corrupt(&mut broken);
        write_gz(&dir.path().join(name), &broken.join("\n"));
        let message = failure(dir.path(), &["train", "digits", "--data", name]);
        for needle in needles {
            assert!(message.contains(needle), "{needle:?} not in {message}");
        }
    }
    std::fs::write(dir.path().join("plain.csv.gz"), lines.join("\n")).unwrap();
    let message = failure(dir.path(), &["train", "digits", "--data", "plain.csv.gz"]);
    assert!(message.contains("plain.csv.gz is not gzip"), "{message}");
    write_gz(&dir.path().join("empty.csv.gz"), "");
    let message = failure(dir.path(), &["train", "digits", "--data", "empty.csv.gz"]);
    assert!(message.contains("empty.csv.gz contains no samples"), "{message}");
    std::fs::write(dir.path().join("zero-bytes.csv.gz"), "").unwrap();
    let message = failure(dir.path(), &["train", "digits", "--data", "zero-bytes.csv.gz"]);
    assert!(message.contains("zero-bytes.csv.gz contains no samples"), "{message}");
}

/// A gzip bomb (a few kilobytes that inflate to one endless line) is refused
/// at its first line, without inflating it.
#[test]
fn an_endless_line_is_refused_early() {
    let dir = workdir();
    let mut encoder =
        GzEncoder::new(std::fs::File::create(dir.path().join("bomb.csv.gz")).unwrap(), Compression::best());
    let chunk = "0,".repeat(1 << 16);
    for _ in 0..512 {
        encoder.write_all(chunk.as_bytes()).unwrap(); // 64 MiB inflated
    }
    encoder.finish().unwrap();
    let message = failure(dir.path(), &["train", "digits", "--data", "bomb.csv.gz"]);
    assert!(message.contains("bomb.csv.gz: line 1: longer than"), "{message}");
}

#[test]
fn classes_that_cannot_be_split_are_named() {
    let dir = workdir();
    let lines = digits_lines();
    let of_class = |class: &str, count: usize| -> Vec<String> {
        let suffix = format!(",{class}");
        lines.iter().filter(|l| l.ends_with(&suffix)).take(count).cloned().collect()
    };
    write_gz(&dir.path().join("threes.csv.gz"), &of_class("3", usize::MAX).join("\n"));
    let message = failure(dir.path(), &["train", "digits", "--data", "threes.csv.gz"]);
    assert!(message.contains("threes.csv.gz: all 183 samples have label 3"), "{message}");
    let lonely = [of_class("3", 5), of_class("7", 1)].concat();
    write_gz(&dir.path().join("lonely.csv.gz"), &lonely.join("\n"));
    let message = failure(dir.path(), &["train", "digits", "--data", "lonely.csv.gz"]);
    assert!(message.contains("lonely.csv.gz: class 7 has a single sample"), "{message}");
}

#[test]
fn a_run_no_better_than_chance_is_reported_with_a_warning() {
    let dir = workdir();
    let out = host_cli(dir.path(), &["train", "digits", "--json", "--hidden", "16", "--epochs", "3", "--lr", "5"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: Value = serde_json::from_str(stdout(&out).lines().last().unwrap()).unwrap();
    let chance = 10f64.ln();
    assert!(report["train_loss"].as_f64().unwrap() >= chance, "{report}");
    assert!(stderr(&out).contains("warning: the trained network does no better than chance"), "{}", stderr(&out));
    assert!(stderr(&out).contains("smaller learning rate than --lr 5"), "{}", stderr(&out));
    // A rate too small to move the loss much gets the opposite hint.
    let out = host_cli(dir.path(), &["train", "digits", "--json", "--hidden", "16", "--epochs", "2", "--lr", "1e-5"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("the loss is still falling: try more --epochs or a larger learning rate"));
    // A run that learns gets no warning.
    let out = host_cli(dir.path(), &["train", "digits", "--json", "--hidden", "16", "--epochs", "2"]);
    assert!(out.status.success() && stderr(&out).is_empty(), "{}", stderr(&out));
}

#[test]
fn unsupported_hidden_lists_the_supported_ones() {
    let dir = workdir();
    let message = failure(dir.path(), &["train", "digits", "--hidden", "48"]);
    assert!(message.contains("--hidden 48"), "{message}");
    assert!(message.contains("16 32 64 128 32,32 64,32 64,64 128,64"), "{message}");
    let endless = vec!["7"; 10_000].join(",");
    let message = failure(dir.path(), &["train", "digits", "--hidden", &endless]);
    assert!(message.contains("--hidden 7,7,7,7,7,7,7,7,… (10000 layers)") && message.len() < 1000, "{message}");
}

/// Sizes may have spaces around them; anything else, or the flag twice, is a usage error.
#[test]
fn hidden_sizes_parse_strictly() {
    let dir = workdir();
    let report = train_json(dir.path(), &["--hidden", "64, 32", "--epochs", "1"]);
    assert_eq!(report["architecture"], "64-64-32-10");
    for (args, needle) in [
        (&["--hidden", "-1"][..], "\"-1\" is not a layer size"),
        (&["--hidden", "32,,32"], "\"\" is not a layer size"),
        (&["--hidden", "abc"], "\"abc\" is not a layer size"),
        (&["--hidden", "32", "--hidden", "64"], "cannot be used multiple times"),
    ] {
        let mut all = vec!["train", "digits"];
        all.extend_from_slice(args);
        let out = host_cli(dir.path(), &all);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(stderr(&out).contains(needle), "{args:?}: {}", stderr(&out));
        assert!(stdout(&out).is_empty());
    }
}

#[test]
fn bad_flags_are_rejected_by_name() {
    let dir = workdir();
    let cases: &[(&[&str], &str)] = &[
        (&["--epochs", "0"], "invalid --epochs 0: must be at least 1"),
        (&["--epochs", "4000000000"], "invalid --epochs 4000000000: must be at most 1000000"),
        (&["--epochs", "1000000000000"], "invalid --epochs 1000000000000: must be at most 1000000"),
        (&["--batch-size", "1439"], "invalid --batch-size 1439: larger than the 1438 training samples"),
        (&["--batch-size", "18446744073709551615"], "larger than the 1438 training samples"),
        (&["--lr", "1e-50"], "invalid --lr 1e-50: must be positive and finite"),
        (&["--batch-size", "0"], "invalid --batch-size 0"),
        (&["--lr", "nan"], "invalid --lr NaN: must be positive and finite"),
        (&["--lr", "-1"], "invalid --lr -1: must be positive and finite"),
        (&["--lr", "0"], "invalid --lr 0"),
        (&["--momentum", "1"], "invalid --momentum 1: must be in (0, 1)"),
        (&["--nesterov", "--momentum", "0"], "--nesterov needs a positive momentum"),
        (&["--momentum", "0"], "--optimizer momentum needs a positive momentum (--optimizer sgd has none)"),
        (
            &["--optimizer", "sgd", "--beta1", "0.9"],
            "--beta1 does not apply to --optimizer sgd (it is used by adam and adamw)",
        ),
        (&["--optimizer", "adam", "--momentum", "0.5"], "--momentum does not apply to --optimizer adam"),
        (&["--optimizer", "adam", "--rho", "0.9"], "--rho does not apply to --optimizer adam (it is used by rmsprop)"),
        (&["--optimizer", "adam", "--weight-decay", "0.1"], "--weight-decay does not apply to --optimizer adam"),
        (&["--eps", "1e-8"], "--eps does not apply to --optimizer momentum"),
        (&["--optimizer", "adam", "--beta1", "1"], "invalid --beta1 1: must be in [0, 1)"),
        (&["--optimizer", "adamw", "--beta2", "nan"], "invalid --beta2 NaN"),
        (&["--optimizer", "adagrad", "--eps", "0"], "invalid --eps 0: must be positive and finite"),
        (&["--optimizer", "rmsprop", "--rho", "1"], "invalid --rho 1: must be in (0, 1)"),
        (&["--optimizer", "adamw", "--weight-decay", "-1"], "invalid --weight-decay -1"),
        (&["--clip-norm", "-1"], "invalid --clip-norm -1"),
        (
            &["--schedule", "exp", "--decay", "0.1"],
            "--decay does not apply to --schedule exp (it is used by inverse-time)",
        ),
        (&["--schedule", "cosine", "--gamma", "0.5"], "--gamma does not apply to --schedule cosine"),
        (&["--schedule", "step", "--min-lr", "0"], "--min-lr does not apply to --schedule step (it is used by cosine)"),
        (&["--step-every", "3"], "--step-every does not apply to --schedule constant"),
        (&["--schedule", "step", "--step-every", "0"], "invalid --step-every 0: must be at least 1"),
        (&["--schedule", "exp", "--gamma", "1.5"], "invalid --gamma 1.5: must be in (0, 1]"),
        (&["--schedule", "cosine", "--min-lr", "0.2"], "invalid --min-lr 0.2: must be non-negative and below"),
        // A schedule that all but stops learning is refused, naming the flag.
        (&["--decay", "1e30"], "invalid --decay 1e30: epoch 2 would train at a learning rate of 1.000e-31"),
        (&["--schedule", "exp", "--gamma", "0.5"], "invalid --gamma 0.5: epoch 21 would train"),
        (&["--warmup", "2000000", "--epochs", "3"], "invalid --warmup 2000000: epoch 1 would train"),
        (&["--l2", "-0.1"], "invalid --l2 -0.1"),
        (&["--l1", "inf"], "invalid --l1 inf"),
        (&["--decay", "nan"], "invalid --decay NaN"),
        (&["--test-fraction", "1.5"], "invalid --test-fraction 1.5"),
        (&["--test-fraction", "0"], "invalid --test-fraction 0"),
        (&["--test-fraction", "0.001"], "class 0 would have no test samples"),
        (&["--test-fraction", "0.999"], "class 0 would have no training samples"),
    ];
    for (args, needle) in cases {
        let mut all = vec!["train", "digits"];
        all.extend_from_slice(args);
        let message = failure(dir.path(), &all);
        assert!(message.contains(needle), "{args:?}: {needle:?} not in {message}");
    }
}

#[test]
fn divergence_names_the_epoch() {
    let dir = workdir();
    let message = failure(dir.path(), &["train", "digits", "--hidden", "16", "--lr", "1e3"]);
    let epoch = message.split("diverged in epoch ").nth(1).and_then(|rest| rest.split(':').next());
    assert!(epoch.is_some_and(|e| e.parse::<u32>().is_ok_and(|e| e >= 1)), "{message}");
    assert!(message.contains("smaller learning rate"), "{message}");
}

/// Every optimizer reaches 0.97 with its defaults, and the report nests it.
/// Seven full runs: minutes in a debug build, so release builds only.
#[test]
#[cfg_attr(debug_assertions, ignore = "seven full runs; run with cargo test --release")]
fn every_optimizer_learns_digits_with_its_defaults() {
    let dir = workdir();
    for (name, lr) in [
        ("sgd", 0.5),
        ("momentum", 0.1),
        ("nesterov", 0.1),
        ("adagrad", 0.05),
        ("rmsprop", 0.001),
        ("adam", 0.001),
        ("adamw", 0.001),
    ] {
        let report = train_json(dir.path(), &["--optimizer", name]);
        let accuracy = report["test_accuracy"].as_f64().unwrap();
        assert!(accuracy >= 0.97, "{name}: test accuracy {accuracy} < 0.97");
        assert_eq!(report["optimizer"]["name"], name);
        assert_eq!(report["schedule"]["lr"], lr, "{name}");
    }
}

#[test]
fn optimizer_and_schedule_flags_reach_the_report() {
    let dir = workdir();
    let report = train_json(
        dir.path(),
        &["--epochs", "4", "--optimizer", "adamw", "--beta1", "0.8", "--weight-decay", "0.02", "--schedule", "step"],
    );
    let expected =
        serde_json::json!({"name": "adamw", "beta1": 0.8, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.02});
    assert_eq!(report["optimizer"], expected);
    assert_eq!(
        report["schedule"],
        serde_json::json!({"name": "step", "lr": 0.001, "every": 30, "gamma": 0.1, "warmup": 0})
    );
    assert_eq!(report["l2"], 0.0, "adamw's decay replaces the L2 default");

    let report = train_json(
        dir.path(),
        &[
            "--epochs",
            "4",
            "--nesterov",
            "--schedule",
            "cosine",
            "--min-lr",
            "0.01",
            "--warmup",
            "1",
            "--clip-norm",
            "5",
        ],
    );
    assert_eq!(report["optimizer"], serde_json::json!({"name": "nesterov", "momentum": 0.9}));
    assert_eq!(report["schedule"], serde_json::json!({"name": "cosine", "lr": 0.1, "min_lr": 0.01, "warmup": 1}));
    assert_eq!(report["clip_norm"], 5.0);
    let rates: Vec<f64> =
        report["history"].as_array().unwrap().iter().map(|r| r["learning_rate"].as_f64().unwrap()).collect();
    assert!(rates[0] < rates[1] && rates[1] > rates[2] && rates[2] > rates[3], "warm-up then cosine: {rates:?}");

    // --decay alone still means inverse-time decay.
    let report = train_json(dir.path(), &["--epochs", "2", "--decay", "0.5"]);
    assert_eq!(report["schedule"], serde_json::json!({"name": "inverse-time", "lr": 0.1, "decay": 0.5, "warmup": 0}));
    let report = train_json(dir.path(), &["--epochs", "2", "--optimizer", "rmsprop", "--rho", "0.9", "--eps", "1e-6"]);
    assert_eq!(report["optimizer"], serde_json::json!({"name": "rmsprop", "rho": 0.9, "eps": 1e-6}));
}

#[test]
fn nesterov_conflicts_with_another_optimizer() {
    let dir = workdir();
    let out = host_cli(dir.path(), &["train", "digits", "--nesterov", "--optimizer", "sgd"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("cannot be used with"), "{}", stderr(&out));
}

/// A loss that wanders around the chance level is not "still falling".
#[test]
fn a_wandering_loss_gets_the_smaller_rate_hint() {
    let dir = workdir();
    let out = host_cli(dir.path(), &["train", "digits", "--json", "--hidden", "16", "--epochs", "30", "--lr", "3"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let message = stderr(&out);
    assert!(message.contains("no better than chance"), "{message}");
    assert!(
        message.contains("the loss stopped falling") && message.contains("smaller learning rate than --lr 3"),
        "{message}"
    );
}

#[test]
fn an_unknown_vector_unit_is_an_error() {
    let dir = workdir();
    let out = Command::new(env!("CARGO_BIN_EXE_host-cli"))
        .args(["train", "digits", "--epochs", "1"])
        .env("MLP_VECTOR_UNIT", "bogus")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("invalid MLP_VECTOR_UNIT=\"bogus\": accepted values are baseline, avx2 and auto"));
    for unit in ["baseline", "avx2", "auto"] {
        let out = Command::new(env!("CARGO_BIN_EXE_host-cli"))
            .args(["train", "digits", "--epochs", "1", "--json"])
            .env("MLP_VECTOR_UNIT", unit)
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "{unit}: {}", stderr(&out));
    }
}
