//! Early stopping through the real binary, on a deliberately over-fitting
//! case: the digits with 30 % of their labels replaced by random ones, and a
//! 128-unit hidden layer with no penalty, which learns the wrong labels by
//! heart given enough epochs. Early stopping on a validation slice must
//! narrow the gap between training and test accuracy, and keep exactly the
//! weights its best epoch had.

mod common;

use common::{gap, host_cli, json, noisy_digits};

#[test]
fn early_stopping_narrows_the_gap_and_keeps_the_best_epochs_weights_bit_for_bit() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("noisy.csv");
    noisy_digits(&data);
    let data = data.to_str().unwrap();
    let base =
        ["train", "digits", "--data", data, "--hidden", "128", "--l2", "0", "--lr", "0.05", "--validation", "0.2"];
    let run = |extra: &[&str]| json(dir.path(), &[&base[..], extra, &["--json"]].concat());

    let full = run(&["--epochs", "100", "--out", "full.mlpm"]);
    let stopped = run(&["--epochs", "100", "--early-stopping", "10", "--out", "stopped.mlpm"]);
    let best = stopped["best_epoch"].as_u64().expect("a best epoch") as usize;
    let ran = stopped["history"].as_array().unwrap().len();
    assert_eq!(ran, best + 10, "stops after 10 epochs without improvement");
    let losses: Vec<f64> =
        stopped["history"].as_array().unwrap().iter().map(|r| r["validation_loss"].as_f64().unwrap()).collect();
    let lowest = losses.iter().copied().fold(f64::INFINITY, f64::min);
    assert_eq!(losses[best - 1], lowest, "the kept epoch has the lowest validation loss");
    // Without it, the network learns the random labels: training accuracy
    // near 1 while test accuracy falls.
    assert!(gap(&full) > 0.25, "{}", gap(&full));
    assert!(gap(&stopped) < gap(&full) / 3.0, "{} vs {}", gap(&stopped), gap(&full));
    assert!(stopped["test_accuracy"].as_f64() > full["test_accuracy"].as_f64());

    // The kept weights are those of a run that ends at the best epoch.
    let epochs = best.to_string();
    run(&["--epochs", &epochs, "--out", "short.mlpm"]);
    let read = |name: &str| std::fs::read(dir.path().join(name)).unwrap();
    assert_eq!(read("stopped.mlpm"), read("short.mlpm"));
}

#[test]
fn early_stopping_flags_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let fails = |args: &[&str], needle: &str| {
        let out = host_cli(dir.path(), args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && stderr.contains(needle), "{args:?}: {stderr}");
    };
    fails(&["train", "digits", "--early-stopping", "5"], "--validation");
    fails(&["train", "digits", "--validation", "0.2", "--early-stopping", "0"], "invalid --early-stopping 0");
    fails(&["train", "digits", "--validation", "0.2", "--early-stopping", "3", "--min-delta", "-1"], "--min-delta");
    fails(
        &["train", "digits", "--validation", "0.2", "--early-stopping", "3", "--out", "m.mlpm", "--checkpoint"],
        "--checkpoint",
    );
    fails(&["train", "digits", "--validation", "0.2", "--task", "regression"], "--task");
    assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none(), "nothing written");
}
