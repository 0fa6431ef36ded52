//! What the over-fitting tests share (`dropout.rs`, `early_stopping.rs`):
//! running the binary, and a data set that a big network learns by heart.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

/// Runs host-cli in `dir`.
pub fn host_cli(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_host-cli")).args(args).current_dir(dir).output().expect("run host-cli")
}

/// Runs a command that must succeed and returns its `--json` object.
pub fn json(dir: &Path, args: &[&str]) -> Value {
    let out = host_cli(dir, args);
    assert!(out.status.success(), "{args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("one JSON object")
}

/// Writes the built-in digits in their file format to `path`, 30 % of the
/// labels drawn at random (seeded): a 128-unit network with no penalty
/// learns the wrong labels by heart.
pub fn noisy_digits(path: &Path) {
    let digits = host_cli::data::DIGITS.load(None).unwrap();
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut text = String::new();
    for (i, &label) in digits.labels.iter().enumerate() {
        let label = if next() % 10 < 3 { (next() % 10) as usize } else { label };
        let pixels: Vec<String> = digits.row(i).iter().map(|&x| (x * 16.0).to_string()).collect();
        text += &format!("{},{label}\n", pixels.join(","));
    }
    std::fs::write(path, text).unwrap();
}

/// Training accuracy minus test accuracy.
pub fn gap(report: &Value) -> f64 {
    report["train_accuracy"].as_f64().unwrap() - report["test_accuracy"].as_f64().unwrap()
}
