//! `host-cli sweep` through the real binary: results that do not depend on
//! the thread count, shards that merge into the single run, merges that
//! refuse what does not fit, and flags checked before any work.

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

fn host_cli(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_host-cli")).args(args).current_dir(dir).output().expect("run host-cli")
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("UTF-8 stdout")
}

fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).expect("UTF-8 stderr")
}

/// A grid of 3 × 3 cells that trains in well under a second per cell in a debug build.
const TINY: [&str; 12] =
    ["sweep", "digits", "--lr", "0.01..1", "--l2", "1e-4..1e-2", "--steps", "3", "--hidden", "16", "--epochs", "2"];

/// Runs a sweep that must succeed and returns its stdout.
fn success(dir: &Path, extra: &[&str]) -> String {
    let args: Vec<&str> = TINY.iter().chain(extra).copied().collect();
    let out = host_cli(dir, &args);
    assert!(out.status.success(), "{args:?} failed: {}", stderr(&out));
    stdout(&out)
}

/// Runs a command that must fail with a one-line error and returns it.
fn failure(dir: &Path, args: &[&str]) -> String {
    let out = host_cli(dir, args);
    assert_eq!(out.status.code(), Some(1), "{args:?}: {}{}", stdout(&out), stderr(&out));
    let message = stderr(&out);
    assert!(message.starts_with("error: ") && message.lines().count() == 1, "{message}");
    message
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    let one = success(dir.path(), &["--json", "--threads", "1"]);
    let two = success(dir.path(), &["--json", "--threads", "2"]);
    assert_eq!(one, two);
    let results: Value = serde_json::from_str(one.trim_end()).unwrap();
    let cells = results["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 9);
    assert_eq!(results["grid"]["lr"], serde_json::json!([0.01, 0.1, 1.0]));
    assert_eq!(results["grid"]["l2"], serde_json::json!([1e-4, 1e-3, 1e-2]));
    assert!(results["shard"].is_null());
    // Cells in grid order, row by row, each with its own values.
    for (i, cell) in cells.iter().enumerate() {
        assert_eq!(cell["index"], i);
        assert_eq!(cell["lr"], results["grid"]["lr"][i / 3]);
        assert_eq!(cell["l2"], results["grid"]["l2"][i % 3]);
    }
    // The best cell has the most test samples right.
    let best = &results["best"];
    let most = cells.iter().filter_map(|c| c["test_correct"].as_u64()).max().unwrap();
    assert_eq!(best["test_correct"], most);
    assert_eq!(best, &cells[best["index"].as_u64().unwrap() as usize]);

    // Fewer cells than threads: the spare threads work inside the cells, with the same bits.
    let single = ["sweep", "digits", "--lr", "0.1", "--l2", "1e-3", "--hidden", "16", "--epochs", "2", "--json"];
    let runs: Vec<String> = ["1", "2"]
        .iter()
        .map(|threads| {
            let args: Vec<&str> = single.iter().copied().chain(["--threads", threads]).collect();
            let out = host_cli(dir.path(), &args);
            assert!(out.status.success(), "{}", stderr(&out));
            stdout(&out)
        })
        .collect();
    assert_eq!(runs[0], runs[1]);
}

#[test]
fn shards_merge_into_the_single_run() {
    let dir = tempfile::tempdir().unwrap();
    let full = success(dir.path(), &["--json", "--out", "full.json"]);
    let first = success(dir.path(), &["--shard", "1/2", "--out", "s1.json", "--threads", "1"]);
    success(dir.path(), &["--shard", "2/2", "--out", "s2.json", "--json"]);
    // A shard's table shows its own cells and marks the others.
    assert!(first.contains("shard 1/2 (5 of 9 cells)") && first.contains('·'), "{first}");
    let shard: Value = serde_json::from_slice(&fs::read(dir.path().join("s2.json")).unwrap()).unwrap();
    let indices: Vec<u64> = shard["cells"].as_array().unwrap().iter().map(|c| c["index"].as_u64().unwrap()).collect();
    assert_eq!(indices, [1, 3, 5, 7]);

    let merged = host_cli(dir.path(), &["sweep", "merge", "s2.json", "s1.json", "--json", "--out", "merged.json"]);
    assert!(merged.status.success(), "{}", stderr(&merged));
    assert_eq!(stdout(&merged), full);
    assert_eq!(fs::read(dir.path().join("merged.json")).unwrap(), fs::read(dir.path().join("full.json")).unwrap());

    // The table and the heat map come from the merged results as from a run.
    let table = host_cli(dir.path(), &["sweep", "merge", "s1.json", "s2.json", "--plot", "merged.png"]);
    assert!(table.status.success(), "{}", stderr(&table));
    let text = stdout(&table);
    assert!(text.contains("lr \\ l2") && text.contains("best: --lr ") && !text.contains('·'), "{text}");
    let picture = fs::read(dir.path().join("merged.png")).unwrap();
    assert_eq!(&picture[..8], b"\x89PNG\r\n\x1a\n");
}

#[test]
fn merge_refuses_other_grids_duplicates_and_gaps() {
    let dir = tempfile::tempdir().unwrap();
    success(dir.path(), &["--shard", "1/2", "--out", "s1.json", "--quiet"]);
    success(dir.path(), &["--shard", "2/2", "--out", "s2.json", "--quiet", "--batch-size", "16"]);
    success(dir.path(), &["--shard", "2/3", "--out", "t2.json", "--quiet"]);

    let message = failure(dir.path(), &["sweep", "merge", "s1.json", "s2.json"]);
    assert!(message.contains("different sweeps") && message.contains("batch_size: 32 vs 16"), "{message}");
    let message = failure(dir.path(), &["sweep", "merge", "s1.json", "s1.json"]);
    assert!(message.contains("is in both s1.json and s1.json"), "{message}");
    // Shard 1/2 holds 0, 2, 4, 6, 8 and shard 2/3 holds 1, 4, 7: cell 4 twice.
    let message = failure(dir.path(), &["sweep", "merge", "s1.json", "t2.json"]);
    assert!(message.contains("cell 4 (--lr 0.1 --l2 0.001) is in both"), "{message}");
    let message = failure(dir.path(), &["sweep", "merge", "s1.json"]);
    assert!(message.contains("4 of the grid's 9 cells are missing") && message.contains("--shard 2/2"), "{message}");

    // Files that are not results, or whose cells contradict their grid.
    fs::write(dir.path().join("other.json"), "{\"format\": \"something else\"}").unwrap();
    let message = failure(dir.path(), &["sweep", "merge", "other.json"]);
    assert!(message.contains("other.json: not a sweep results file"), "{message}");
    let text = fs::read_to_string(dir.path().join("s1.json")).unwrap();
    fs::write(dir.path().join("moved.json"), text.replacen("\"index\":2", "\"index\":3", 1)).unwrap();
    let message = failure(dir.path(), &["sweep", "merge", "moved.json"]);
    assert!(message.contains("moved.json: inconsistent sweep results"), "{message}");
    let out = host_cli(dir.path(), &["sweep", "merge"]);
    assert_eq!(out.status.code(), Some(2), "no files: a usage error");
}

#[test]
fn flags_are_checked_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let sweep = |extra: &[&str]| {
        let args: Vec<&str> = ["sweep", "digits"].iter().chain(extra).copied().collect();
        failure(dir.path(), &args)
    };
    assert!(sweep(&["--lr", "1..1e-5"]).contains("invalid --lr 1..1e-5: the range must go up"));
    assert!(sweep(&["--lr", "1..1"]).contains("must go up"));
    assert!(sweep(&["--l2", "0..1"]).contains("invalid --l2 0..1: a log-spaced range needs positive bounds"));
    assert!(sweep(&["--lr", "-1..1"]).contains("positive bounds"));
    assert!(sweep(&["--lr", "fast"]).contains("\"fast\" is not a number"));
    assert!(sweep(&["--steps", "0"]).contains("invalid --steps 0"));
    assert!(sweep(&["--steps", "1000000"]).contains("invalid --steps 1000000: must be from 1 to 50"));
    assert!(sweep(&["--lr", "0.1..1", "--steps", "1"]).contains("needs at least 2 steps"));
    assert!(sweep(&["--lr", "1e-60..1"]).contains("sweep cell --lr 1e-60"));
    assert!(sweep(&["--shard", "3/2", "--out", "x.json"]).contains("invalid --shard 3/2"));
    assert!(sweep(&["--shard", "half", "--out", "x.json"]).contains("expected K/N"));
    assert!(sweep(&["--threads", "0"]).contains("invalid --threads 0"));
    assert!(sweep(&["--threads", "100000"]).contains("at most 256"));
    assert!(sweep(&["--plot", "grid.jpg"]).contains("invalid --plot grid.jpg"));
    assert!(sweep(&["--out", "no/such/dir/r.json"]).contains("does not exist"));
    assert!(sweep(&["--beta1", "0.5"]).contains("--beta1 does not apply"));
    // --shard without --out is a usage error.
    let out = host_cli(dir.path(), &["sweep", "digits", "--shard", "1/2"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    // Nothing was written.
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn a_diverging_cell_is_a_result_not_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let args = ["sweep", "digits", "--lr", "1e30", "--l2", "0.1..1", "--steps", "2", "--epochs", "2", "--hidden", "16"];
    let out = host_cli(dir.path(), &args);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("diverged") && text.contains("best: none"), "{text}");
    let mut json = args.to_vec();
    json.extend(["--json", "--plot", "diverged.svg"]);
    let out = host_cli(dir.path(), &json);
    let results: Value = serde_json::from_str(stdout(&out).trim_end()).unwrap();
    assert!(results["best"].is_null());
    assert!(results["cells"].as_array().unwrap().iter().all(|c| c["diverged_in_epoch"].as_u64().is_some()));
    assert!(fs::read_to_string(dir.path().join("diverged.svg")).unwrap().contains("diverged"));
}

#[test]
fn any_data_set_can_be_swept() {
    let dir = tempfile::tempdir().unwrap();
    let moons = ["sweep", "moons", "--lr", "0.01..1", "--steps", "2", "--epochs", "3", "--json"];
    let out = host_cli(dir.path(), &moons);
    assert!(out.status.success(), "{}", stderr(&out));
    let results: Value = serde_json::from_str(stdout(&out).trim_end()).unwrap();
    assert_eq!(results["grid"]["dataset"], "moons");
    assert_eq!(results["grid"]["settings"]["architecture"], "2-16-2");
    assert_eq!(results["cells"].as_array().unwrap().len(), 2);

    // A CSV file of two features: its own data, so its own grid.
    let mut text = String::from("x,y,class\n");
    for i in 0..40 {
        let (x, class) = if i % 2 == 0 { (-1.0 - f64::from(i) / 40.0, 0) } else { (1.0 + f64::from(i) / 40.0, 1) };
        text += &format!("{x},{},{class}\n", f64::from(i) / 20.0);
    }
    fs::write(dir.path().join("two.csv"), text).unwrap();
    let csv = ["sweep", "csv", "two.csv", "--lr", "0.1..1", "--steps", "2", "--epochs", "3", "--batch-size", "8"];
    let out = host_cli(dir.path(), &[&csv[..], &["--shard", "1/2", "--out", "c1.json", "-q"]].concat());
    assert!(out.status.success(), "{}", stderr(&out));
    let out = host_cli(dir.path(), &[&csv[..], &["--shard", "2/2", "--out", "c2.json", "-q"]].concat());
    assert!(out.status.success(), "{}", stderr(&out));
    let merged = host_cli(dir.path(), &["sweep", "merge", "c1.json", "c2.json", "--json"]);
    assert!(merged.status.success(), "{}", stderr(&merged));
    let full = host_cli(dir.path(), &[&csv[..], &["--json"]].concat());
    assert_eq!(stdout(&merged), stdout(&full));
    // Shards of different data do not merge.
    let moons_shard = ["sweep", "moons", "--lr", "0.1..1", "--steps", "2", "--epochs", "3", "--batch-size", "8"];
    let out = host_cli(dir.path(), &[&moons_shard[..], &["--shard", "2/2", "--out", "m2.json", "-q"]].concat());
    assert!(out.status.success(), "{}", stderr(&out));
    let message = failure(dir.path(), &["sweep", "merge", "c1.json", "m2.json"]);
    assert!(message.contains("different sweeps (data set: csv vs moons)"), "{message}");
}
