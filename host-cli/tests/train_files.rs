//! `host-cli train` with model files: `--out`, `--checkpoint`, `--resume`,
//! `--init`, `--freeze`, and Ctrl-C, run as the real binary.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use mlp_core::model::Model;

fn host_cli(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_host-cli")).args(args).current_dir(dir).output().expect("run host-cli")
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let out = host_cli(dir, args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{args:?} failed: {stderr}");
    stderr.into_owned()
}

fn failure(dir: &Path, args: &[&str]) -> String {
    let out = host_cli(dir, args);
    assert_eq!(out.status.code(), Some(1), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    let message = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(message.starts_with("error: "), "{message}");
    message
}

/// A command line clap refuses (exit 2, its usage message).
fn usage_error(dir: &Path, args: &[&str]) -> String {
    let out = host_cli(dir, args);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn read(dir: &Path, name: &str) -> Vec<u8> {
    std::fs::read(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Per optimizer, some with a schedule that changes every epoch, penalties
/// and clipping: train 4 epochs in one run, or 2, save, and resume to 4.
#[test]
fn resuming_a_checkpoint_gives_the_bits_of_one_run_for_every_optimizer() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cases: [&[&str]; 7] = [
        &["--optimizer", "sgd", "--schedule", "exp", "--gamma", "0.8"],
        &["--optimizer", "momentum", "--l1", "1e-4", "--clip-norm", "2"],
        &["--optimizer", "nesterov", "--schedule", "step", "--step-every", "1", "--gamma", "0.5"],
        &["--optimizer", "adagrad"],
        &["--optimizer", "rmsprop", "--warmup", "3"],
        &["--optimizer", "adam", "--schedule", "cosine", "--min-lr", "1e-4"],
        &["--optimizer", "adamw", "--weight-decay", "0.05", "--seed", "9", "--test-fraction", "0.3"],
    ];
    for flags in cases {
        let base = ["train", "digits", "--hidden", "16", "--batch-size", "64", "--epochs", "4", "-q", "--checkpoint"];
        let mut whole = base.to_vec();
        whole.extend(["--out", "whole.mlpm"]);
        whole.extend_from_slice(flags);
        ok(d, &whole);
        // The first half is planned as the same 4-epoch run and stopped after 2 (as Ctrl-C would).
        let mut half = base.to_vec();
        half.extend(["--out", "half.mlpm"]);
        half.extend_from_slice(flags);
        half[7] = "2";
        ok(d, &half);
        if flags.contains(&"cosine") {
            // Its horizon is the planned epochs: a 2-epoch run cannot be stretched to 4.
            let message =
                failure(d, &["train", "digits", "--resume", "half.mlpm", "--epochs", "4", "--out", "x.mlpm", "-q"]);
            assert!(message.contains("cosine schedule runs over 2 epochs"), "{message}");
            continue;
        }
        ok(
            d,
            &[
                "train",
                "digits",
                "--resume",
                "half.mlpm",
                "--epochs",
                "4",
                "--out",
                "resumed.mlpm",
                "--checkpoint",
                "-q",
            ],
        );
        assert!(read(d, "whole.mlpm") == read(d, "resumed.mlpm"), "{flags:?}: the resumed checkpoint differs");
        let bytes = read(d, "resumed.mlpm");
        let model = Model::parse(&bytes).unwrap();
        assert_eq!(model.training().unwrap().epoch, 4);
    }
}

#[test]
fn resume_says_what_differs_and_refuses_what_cannot_continue() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(
        d,
        &[
            "train",
            "digits",
            "--hidden",
            "16",
            "--epochs",
            "2",
            "--out",
            "c.mlpm",
            "--checkpoint",
            "-q",
            "--l2",
            "1e-3",
        ],
    );
    ok(d, &["train", "digits", "--hidden", "16", "--epochs", "2", "--out", "m.mlpm", "-q"]);
    let message = failure(d, &["train", "digits", "--resume", "c.mlpm", "--epochs", "3", "--lr", "0.5", "--l2", "0.1"]);
    assert!(
        message.contains("--lr 0.5 (the checkpoint has") && message.contains("--l2 0.1 (the checkpoint has 0.001)")
    );
    let message = failure(d, &["train", "digits", "--resume", "c.mlpm", "--optimizer", "adam", "--epochs", "3"]);
    assert!(message.contains("--optimizer adam (the checkpoint has momentum)"), "{message}");
    let message = failure(d, &["train", "digits", "--resume", "c.mlpm"]);
    assert!(message.contains("already trained 2 of 2 epochs"), "{message}");
    let message = failure(d, &["train", "digits", "--resume", "m.mlpm", "--epochs", "3"]);
    assert!(message.contains("m.mlpm: not a checkpoint"), "{message}");
    let message = failure(d, &["train", "digits", "--resume", "c.mlpm", "--epochs", "3", "--seed", "4"]);
    assert!(message.contains("split of --seed 0"), "{message}");
    let message = failure(d, &["train", "digits", "--resume", "missing.mlpm"]);
    assert!(message.contains("missing.mlpm"), "{message}");
    // Architecture flags come from the file.
    let message = usage_error(d, &["train", "digits", "--resume", "c.mlpm", "--hidden", "32"]);
    assert!(message.contains("--hidden"), "{message}");
}

/// Parameters of layer `layer` as bits.
fn layer_bits(bytes: &[u8], layer: usize) -> Vec<u32> {
    let model = Model::parse(bytes).unwrap();
    let (w, b) = model.parameters(layer).unwrap();
    w.iter::<f32>().chain(b.iter::<f32>()).map(f32::to_bits).collect()
}

#[test]
fn init_fine_tunes_and_freeze_keeps_the_first_layers() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(d, &["train", "digits", "--hidden", "32", "--epochs", "2", "--out", "base.mlpm", "-q"]);
    let base = read(d, "base.mlpm");
    let common = ["train", "digits", "--init", "base.mlpm", "--epochs", "2", "-q", "--checkpoint"];
    let mut frozen = common.to_vec();
    frozen.extend(["--freeze", "1", "--out", "frozen.mlpm"]);
    ok(d, &frozen);
    let tuned = read(d, "frozen.mlpm");
    assert_eq!(layer_bits(&tuned, 0), layer_bits(&base, 0), "the frozen layer moved");
    assert_ne!(layer_bits(&tuned, 1), layer_bits(&base, 1), "the last layer did not train");
    let model = Model::parse(&tuned).unwrap();
    assert!(model.layer(0).unwrap().frozen && !model.layer(1).unwrap().frozen);
    assert_eq!(model.training().unwrap().config.frozen_layers, 1);

    let mut free = common.to_vec();
    free.extend(["--out", "free.mlpm"]);
    ok(d, &free);
    assert_ne!(layer_bits(&read(d, "free.mlpm"), 0), layer_bits(&base, 0), "without --freeze every layer trains");

    // A frozen checkpoint resumes frozen, bit for bit.
    let mut four = common.to_vec();
    four.extend(["--freeze", "1", "--out", "four.mlpm"]);
    four[5] = "4";
    ok(d, &four);
    ok(
        d,
        &["train", "digits", "--resume", "frozen.mlpm", "--epochs", "4", "--out", "resumed.mlpm", "--checkpoint", "-q"],
    );
    assert!(read(d, "four.mlpm") == read(d, "resumed.mlpm"));

    let message = failure(d, &["train", "digits", "--init", "base.mlpm", "--freeze", "2"]);
    assert!(message.contains("invalid --freeze 2: the model has 2 layers"), "{message}");
    let message = usage_error(d, &["train", "digits", "--init", "base.mlpm", "--hidden", "16"]);
    assert!(message.contains("--hidden"), "{message}");
}

#[test]
fn an_unwritable_out_fails_before_training_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let start = Instant::now();
    let message = failure(d, &["train", "digits", "--epochs", "1000", "--out", "no/such/dir/m.mlpm"]);
    assert!(message.contains("directory no/such/dir does not exist"), "{message}");
    assert!(start.elapsed() < Duration::from_secs(30), "it trained before checking");
    std::fs::create_dir(d.join("sub")).unwrap();
    let message = failure(d, &["train", "digits", "--epochs", "1", "--out", "sub"]);
    assert!(message.contains("sub: it is a directory"), "{message}");
    let entries: Vec<_> = std::fs::read_dir(d).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(entries, ["sub"]);
}

/// Ctrl-C saves the last completed epoch as a checkpoint, says where, and
/// exits with 130; resuming it gives the bits of the uninterrupted run.
#[cfg(unix)]
#[test]
fn ctrl_c_saves_a_checkpoint_that_resumes_to_the_uninterrupted_run() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let flags = ["train", "digits", "--hidden", "16", "--epochs", "60", "-q"];
    let mut whole = flags.to_vec();
    whole.extend(["--out", "whole.mlpm", "--checkpoint"]);
    let start = Instant::now();
    ok(d, &whole);
    let whole_run = start.elapsed();

    let child = Command::new(env!("CARGO_BIN_EXE_host-cli"))
        .args(flags)
        .current_dir(d)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A third of the way through the run on this machine, whatever its speed.
    std::thread::sleep(whole_run / 3);
    let status = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    let message = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{message}");
    assert!(message.contains("saved a checkpoint to digits-interrupted.mlpm"), "{message}");
    let saved = read(d, "digits-interrupted.mlpm");
    let epoch = Model::parse(&saved).unwrap().training().unwrap().epoch;
    assert!(epoch < 60, "it was not interrupted (epoch {epoch})");
    assert!(message.contains(&format!("interrupted after epoch {epoch} of 60")), "{message}");

    ok(d, &["train", "digits", "--resume", "digits-interrupted.mlpm", "--out", "resumed.mlpm", "--checkpoint", "-q"]);
    assert!(read(d, "whole.mlpm") == read(d, "resumed.mlpm"), "resumed from epoch {epoch}: bits differ");
    // Only the files written on purpose, no temporaries.
    let mut names: Vec<_> =
        std::fs::read_dir(d).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    assert_eq!(names, ["digits-interrupted.mlpm", "resumed.mlpm", "whole.mlpm"]);
}
