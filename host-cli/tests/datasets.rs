//! The data sets through the real binary, run in an empty temporary
//! directory (as an installed program runs, with no `fixtures/` beside it):
//! the built-in copies, the moons, CSV files with their scaling carried
//! from `train` to `eval`, `predict` and `export`, and every malformed file
//! refused with one line that names the file, the line and the column.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

fn host_cli(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_host-cli")).args(args).current_dir(dir).output().expect("run host-cli")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("UTF-8 output")
}

/// Runs a command that must succeed and returns its `--json` object (the last stdout line).
fn json(dir: &Path, args: &[&str]) -> Value {
    let out = host_cli(dir, args);
    assert!(out.status.success(), "{args:?} failed: {}", text(&out.stderr));
    let stdout = text(&out.stdout);
    serde_json::from_str(stdout.lines().last().expect("a JSON line")).expect("valid JSON")
}

/// Runs a command that must fail with status 1 and one `error: ` line; returns that line.
fn failure(dir: &Path, args: &[&str]) -> String {
    let out = host_cli(dir, args);
    assert_eq!(out.status.code(), Some(1), "{args:?}: {}", text(&out.stderr));
    assert!(out.stdout.is_empty(), "{args:?} printed a report: {}", text(&out.stdout));
    let message = text(&out.stderr);
    assert!(message.starts_with("error: "), "{message}");
    assert_eq!(message.lines().count(), 1, "one line: {message}");
    message.trim_end().to_owned()
}

/// Fisher's iris as a CSV file with a header, the label between the
/// features, a `;` delimiter and quoted names (one with the delimiter in it).
fn iris_csv() -> String {
    let shipped = include_str!("../../fixtures/iris.csv");
    let mut out = String::from("\"sepal; length\";species;\"sepal width\";petal length;petal width\n");
    for line in shipped.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        let f: Vec<&str> = line.split(',').collect();
        out += &format!("{};{};{};{};{}\n", f[0], f[4], f[1], f[2], f[3]);
    }
    out
}

#[test]
fn iris_reaches_095_with_the_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let report = json(dir.path(), &["train", "iris", "--json"]);
    let accuracy = report["test_accuracy"].as_f64().unwrap();
    assert!(accuracy >= 0.95, "iris test accuracy {accuracy}");
    assert_eq!((report["train_samples"].as_u64(), report["test_samples"].as_u64()), (Some(120), Some(30)));
    // Stratified: ten of each species held out.
    let matrix = report["confusion_matrix"].as_array().unwrap();
    for row in matrix {
        assert_eq!(row.as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).sum::<u64>(), 10);
    }
    assert!(report["data_file"].as_str().unwrap().starts_with("built-in iris (scikit-learn"), "{report}");
}

#[test]
fn moons_reach_095_with_the_defaults_and_follow_their_flags() {
    let dir = tempfile::tempdir().unwrap();
    let report = json(dir.path(), &["train", "moons", "--json"]);
    let accuracy = report["test_accuracy"].as_f64().unwrap();
    assert!(accuracy >= 0.95, "moons test accuracy {accuracy}");
    assert_eq!(report["train_samples"].as_u64().unwrap() + report["test_samples"].as_u64().unwrap(), 1000);
    let small = json(dir.path(), &["train", "moons", "--samples", "40", "--noise", "0", "--epochs", "2", "--json"]);
    assert_eq!(small["test_samples"], 8);
    assert_eq!(small["data_file"], "two moons: 40 points, noise 0, seed 0");
    // The seed draws the noise: the same seed, the same numbers.
    let again = json(dir.path(), &["train", "moons", "--samples", "40", "--noise", "0", "--epochs", "2", "--json"]);
    assert_eq!(small["history"], again["history"]);
}

#[test]
fn the_program_needs_no_files_beside_it() {
    // An empty directory, as after `cargo install`: the data sets are in the binary.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let report = json(
        d,
        &["train", "digits", "--epochs", "2", "--hidden", "16", "--max-samples", "500", "--out", "m.mlpm", "--json"],
    );
    assert!(report["data_file"].as_str().unwrap().starts_with("built-in digits (scikit-learn 1.9.1"), "{report}");
    assert_eq!(report["train_samples"].as_u64().unwrap() + report["test_samples"].as_u64().unwrap(), 500);
    assert_eq!((report["max_samples"].as_u64(), report["truncated"].as_bool()), (Some(500), Some(true)));
    let eval = json(d, &["eval", "m.mlpm", "digits", "--json"]);
    assert_eq!(eval["samples"], report["test_samples"], "eval reads the same 500 samples");
    assert_eq!(eval["accuracy"], report["test_accuracy"]);
    let predicted = json(d, &["predict", "m.mlpm", "--sample", "0", "--json"]);
    assert_eq!(predicted["predictions"][0]["probabilities"].as_array().unwrap().len(), 10);
    // A directory called fixtures is not read: only --data reads another file.
    std::fs::create_dir(d.join("fixtures")).unwrap();
    std::fs::write(d.join("fixtures/digits.csv.gz"), b"not gzip").unwrap();
    let report = json(d, &["train", "digits", "--epochs", "1", "--hidden", "16", "--json"]);
    assert_eq!(report["train_samples"].as_u64().unwrap() + report["test_samples"].as_u64().unwrap(), 1797);
    let message = failure(d, &["train", "digits", "--data", "fixtures/digits.csv.gz"]);
    assert!(message.contains("fixtures/digits.csv.gz is not gzip-compressed"), "{message}");
}

#[test]
fn a_csv_model_carries_its_scaling_to_eval_predict_and_export() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("flowers.csv"), iris_csv()).unwrap();
    let args = ["train", "csv", "flowers.csv", "--label-column", "species", "--out", "m.mlpm", "--json"];
    let trained = json(d, &args);
    assert!(trained["test_accuracy"].as_f64().unwrap() >= 0.95, "{trained}");
    assert_eq!(trained["label_column"], "species");
    assert_eq!(trained["feature_columns"][0], "sepal; length");
    assert_eq!((trained["features"].as_u64(), trained["inputs"].as_u64()), (Some(4), Some(4)));
    // The shipped iris through the CSV reader: the same samples, split and inputs.
    let built_in = json(d, &["train", "iris", "--json"]);
    assert_eq!(trained["history"], built_in["history"]);

    let eval = json(d, &["eval", "m.mlpm", "csv", "flowers.csv", "--json"]);
    assert_eq!((&eval["accuracy"], &eval["loss"]), (&trained["test_accuracy"], &trained["test_loss"]));
    let inspect = text(&host_cli(d, &["inspect", "m.mlpm"]).stdout);
    assert!(inspect.contains("inputs standardised"), "{inspect}");

    // A file of inputs: the model's columns found by name, in another order, the label ignored.
    let sample = json(d, &["predict", "m.mlpm", "--sample", "4", "--data", "flowers.csv", "--json"]);
    let row = sample["predictions"][0]["data_row"].as_u64().unwrap() as usize;
    let line = iris_csv().lines().nth(row).unwrap().to_owned();
    let f: Vec<&str> = line.split(';').collect();
    let input = format!(
        "petal width,\"sepal; length\",species,petal length,sepal width\n{},{},{},{},{}\n",
        f[4], f[0], f[1], f[3], f[2]
    );
    std::fs::write(d.join("in.csv"), input).unwrap();
    let from_file = json(d, &["predict", "m.mlpm", "--input", "in.csv", "--json"]);
    assert_eq!(from_file["predictions"][0]["probabilities"], sample["predictions"][0]["probabilities"]);
    std::fs::write(d.join("partial.csv"), "petal width,sepal width,petal length\n1,2,3\n").unwrap();
    let missing = failure(d, &["predict", "m.mlpm", "--input", "partial.csv"]);
    assert!(
        missing.contains("partial.csv: line 1: the header lacks the model's feature columns \"sepal; length\""),
        "{missing}"
    );

    let rust = text(&host_cli(d, &["export", "m.mlpm", "--format", "rust"]).stdout);
    assert!(rust.contains("pub static SCALING_OFFSET: [f32; 4]"), "{rust}");
    let c = text(&host_cli(d, &["export", "m.mlpm", "--format", "c"]).stdout);
    assert!(c.contains("mlp_scaling_offset[4]"), "{c}");
}

#[test]
fn a_narrow_csv_file_is_padded_invisibly() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Seven features and two classes: a 16-input, 10-output network.
    let mut csv = String::from("a,b,c,d,e,f,g,label\n");
    for i in 0..120u32 {
        let x: Vec<f64> = (0..7).map(|j| f64::from((i * 37 + j * 11) % 23) * 10.0 + 500.0).collect();
        let label = u32::from(x[0] + 0.5 * x[3] > 1.5 * 610.0);
        csv += &format!("{},{label}\n", x.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(","));
    }
    std::fs::write(d.join("seven.csv"), csv).unwrap();
    let trained = json(d, &["train", "csv", "seven.csv", "--epochs", "20", "--out", "m.mlpm", "--json"]);
    assert_eq!((trained["inputs"].as_u64(), trained["architecture"].as_str()), (Some(16), Some("16-16-10")));
    assert_eq!(trained["confusion_matrix"].as_array().unwrap().len(), 2, "only the file's classes are shown");
    let eval = json(d, &["eval", "m.mlpm", "csv", "seven.csv", "--json"]);
    assert_eq!(eval["per_class"].as_array().unwrap().len(), 2);
    assert_eq!((&eval["accuracy"], &eval["loss"]), (&trained["test_accuracy"], &trained["test_loss"]));
    let predicted = json(d, &["predict", "m.mlpm", "--sample", "0", "--data", "seven.csv", "--json"]);
    let p = predicted["predictions"][0]["probabilities"].as_array().unwrap();
    assert_eq!(p.len(), 2);
    assert!((p[0].as_f64().unwrap() + p[1].as_f64().unwrap() - 1.0).abs() < 1e-6, "{p:?}");
    let c = text(&host_cli(d, &["export", "m.mlpm", "--format", "c"]).stdout);
    assert!(c.contains("#define MLP_FEATURES 7") && c.contains("#define MLP_CLASSES 2"), "{c}");

    // Three epochs and three more from the checkpoint are six epochs.
    let six = json(d, &["train", "csv", "seven.csv", "--epochs", "6", "--out", "six.mlpm", "--json"]);
    json(d, &["train", "csv", "seven.csv", "--epochs", "3", "--out", "c.mlpm", "--checkpoint", "--json"]);
    let resumed =
        json(d, &["train", "csv", "seven.csv", "--resume", "c.mlpm", "--epochs", "6", "--out", "r.mlpm", "--json"]);
    assert_eq!(resumed["test_loss"], six["test_loss"]);
    assert_eq!(std::fs::read(d.join("r.mlpm")).unwrap(), std::fs::read(d.join("six.mlpm")).unwrap());
}

#[test]
fn malformed_csv_files_are_refused_naming_the_place() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cases: &[(&str, String, &str)] = &[
        (
            "cell.csv",
            "a,b,y\n1,2,0\n1,x,1\n3,4,1\n5,6,0\n".into(),
            "cell.csv: line 3, column 2 (b): \"x\" is not a number",
        ),
        (
            "label.csv",
            "a,b,y\n1,2,0\n1,3,1\n1,4,12\n".into(),
            "label.csv: line 4, column 3 (y): label \"12\" is not a class in 0..=9",
        ),
        ("negative.csv", "a,b,y\n1,2,0\n1,3,-1\n".into(), "negative.csv: line 3, column 3 (y): label \"-1\""),
        (
            "one.csv",
            "a,b,y\n1,2,1\n1,3,1\n4,4,1\n".into(),
            "one.csv: all 3 samples have label 1; training needs at least two classes",
        ),
        (
            "constant.csv",
            "a,b,y\n1,7,0\n2,7,1\n3,7,0\n4,7,1\n5,7,0\n6,7,1\n".into(),
            "constant.csv: column 2 (b) is constant (every sample has 7)",
        ),
        (
            "short.csv",
            "a,b,y\n1,2,0\n1,2\n".into(),
            "short.csv: line 3: expected 3 columns, as the header has, found 2",
        ),
        ("nan.csv", "a,b,y\n1,2,0\n1,NaN,1\n".into(), "nan.csv: line 3, column 2 (b): \"NaN\" is not a finite number"),
        (
            "wide.csv",
            format!("{}\n", (0..66).map(|k| format!("c{k}")).collect::<Vec<_>>().join(",")),
            "wide.csv: 65 feature columns; host-cli's networks take at most 64 inputs",
        ),
        ("noheader.csv", "1,2,0\n1,3,1\n".into(), "noheader.csv: line 1 holds numbers, not column names"),
        ("long.csv", format!("a,b,y\n{}\n", "1".repeat(70_000)), "long.csv: line 2: longer than 65536 bytes"),
        ("empty.csv", String::new(), "empty.csv contains no samples"),
    ];
    for (name, content, expected) in cases {
        std::fs::write(d.join(name), content).unwrap();
        let message = failure(d, &["train", "csv", name, "--epochs", "1", "--out", "never.mlpm"]);
        assert!(message.starts_with(&format!("error: {expected}")), "{name}: {message}");
        assert!(!d.join("never.mlpm").exists(), "{name}: a model was written");
    }
    let message = failure(d, &["train", "csv", "cell.csv", "--label-column", "z"]);
    assert!(message.contains("no column named \"z\"") && message.contains("the columns are: a, b, y"), "{message}");
    let message = failure(d, &["train", "csv", "missing.csv"]);
    assert!(message.contains("cannot read missing.csv"), "{message}");
}

#[test]
fn data_flags_are_checked_against_the_data_set() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cases: &[(&[&str], &str)] = &[
        (&["train", "csv"], "csv reads a file: give its path after csv"),
        (&["train", "digits", "x.csv"], "unexpected FILE x.csv after digits"),
        (&["train", "iris", "--samples", "50"], "--samples does not apply to iris (it is for moons)"),
        (&["train", "moons", "--data", "x.csv"], "--data does not apply to moons"),
        (&["train", "digits", "--label-column", "y"], "--label-column does not apply to digits"),
        (&["train", "moons", "--samples", "3"], "invalid --samples 3"),
        (&["train", "moons", "--noise", "-1"], "invalid --noise -1"),
        (&["train", "digits", "--max-samples", "1"], "invalid --max-samples 1"),
        (&["train", "iris", "--hidden", "64"], "unsupported --hidden 64 for 4 inputs and 3 classes"),
    ];
    for (args, expected) in cases {
        let message = failure(d, args);
        assert!(message.contains(expected), "{args:?}: {message}");
    }
}

#[test]
fn every_report_parses_as_json() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for dataset in ["iris", "moons"] {
        let out = format!("{dataset}.mlpm");
        let trained = json(d, &["train", dataset, "--epochs", "3", "--out", &out, "--json"]);
        assert_eq!(trained["dataset"], dataset);
        let eval = json(d, &["eval", &out, dataset, "--json"]);
        assert_eq!(eval["dataset"], dataset);
        let predicted = json(d, &["predict", &out, "--sample", "1", "--json"]);
        assert_eq!(predicted["dataset"], dataset);
    }
    std::fs::write(d.join("points.csv"), "x,y\n0.5,1.5\n-1,2\n").unwrap();
    let predicted = json(d, &["predict", "moons.mlpm", "--input", "points.csv", "--json"]);
    assert_eq!(predicted["predictions"].as_array().unwrap().len(), 2);
}

/// A target that depends on three of four columns, with a little noise, in
/// units far from 1 (the targets are standardised for training).
fn regression_csv(rows: usize) -> String {
    let mut out = String::from("x0,x1,x2,unused,price\n");
    let mut state = 12345u64;
    let mut uniform = || {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (state >> 11) as f64 / (1u64 << 53) as f64 * 4.0 - 2.0
    };
    for _ in 0..rows {
        let x: Vec<f64> = (0..4).map(|_| uniform()).collect();
        let y = 1000.0 + 300.0 * x[0] - 200.0 * x[1] + 150.0 * (2.0 * x[2]).sin() + 10.0 * uniform();
        out += &format!("{:.5},{:.5},{:.5},{:.5},{y:.3}\n", x[0], x[1], x[2], x[3]);
    }
    out
}

#[test]
fn regression_reports_r2_and_rmse_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("houses.csv"), regression_csv(400)).unwrap();
    let args = ["train", "csv", "houses.csv", "--task", "regression", "--label-column", "price", "--out", "m.mlpm"];
    let trained = json(d, &[&args[..], &["--json"]].concat());
    let r2 = trained["test_r2"].as_f64().unwrap();
    assert!(r2 > 0.95, "test R² {r2}");
    assert!(trained["test_rmse"].as_f64().unwrap() < 60.0, "{trained}");
    assert_eq!((trained["task"].as_str(), trained["architecture"].as_str()), (Some("regression"), Some("16-16-10")));
    let report = text(&host_cli(d, &args).stdout);
    assert!(report.contains("R²") && report.contains("RMSE"), "{report}");

    let eval = json(d, &["eval", "m.mlpm", "csv", "houses.csv", "--json"]);
    assert_eq!(
        (&eval["r2"], &eval["rmse"], &eval["loss"]),
        (&trained["test"]["r2"], &trained["test"]["rmse"], &trained["test"]["loss"])
    );
    let predicted = json(d, &["predict", "m.mlpm", "--sample", "0", "--data", "houses.csv", "--json"]);
    let p = &predicted["predictions"][0];
    assert!((p["value"].as_f64().unwrap() - p["target"].as_f64().unwrap()).abs() < 200.0, "{p}");
    assert!(p.get("probabilities").is_none(), "{p}");
    std::fs::write(d.join("new.csv"), "unused,x2,x1,x0\n0,0,0,0\n").unwrap();
    let predicted = json(d, &["predict", "m.mlpm", "--input", "new.csv", "--json"]);
    let value = predicted["predictions"][0]["value"].as_f64().unwrap();
    assert!((value - 1000.0).abs() < 100.0, "at the origin the price is about 1000: {value}");

    let c = text(&host_cli(d, &["export", "m.mlpm", "--format", "c"]).stdout);
    assert!(c.contains("#define MLP_TARGET_OFFSET") && c.contains("output 0 is the prediction"), "{c}");
    let rust = text(&host_cli(d, &["export", "m.mlpm", "--format", "rust"]).stdout);
    assert!(rust.contains("pub const TARGET_SCALE: f64 = "), "{rust}");

    // Two epochs and two more from the checkpoint are four epochs.
    let four = json(d, &[&args[..7], &["--epochs", "4", "--json"]].concat());
    json(d, &[&args[..7], &["--epochs", "2", "--out", "c.mlpm", "--checkpoint", "--json"]].concat());
    let resumed = json(d, &[&args[..7], &["--resume", "c.mlpm", "--epochs", "4", "--json"]].concat());
    assert_eq!(resumed["test"], four["test"]);

    std::fs::write(d.join("flat.csv"), "x,y\n1,5\n2,5\n3,5\n4,5\n5,5\n").unwrap();
    let message = failure(d, &["train", "csv", "flat.csv", "--task", "regression"]);
    assert!(message.contains("flat.csv: the target column 2 (y) is constant (every sample has 5)"), "{message}");
    std::fs::write(d.join("word.csv"), "x,y\n1,5\n2,five\n").unwrap();
    let message = failure(d, &["train", "csv", "word.csv", "--task", "regression"]);
    assert!(message.contains("word.csv: line 3, column 2 (y): \"five\" is not a number"), "{message}");
    let message = failure(d, &["train", "iris", "--task", "regression"]);
    assert!(message.contains("--task does not apply to iris"), "{message}");
}
