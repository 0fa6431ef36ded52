//! `train --plot` and `eval --plot` through the real binary: the files they
//! name are written and decode; a bad extension fails before any work.

use std::path::Path;
use std::process::{Command, Output};

fn host_cli(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_host-cli")).args(args).current_dir(dir).output().expect("run host-cli")
}

fn png_size(path: &Path) -> (u32, u32) {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let reader = decoder.read_info().unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (reader.info().width, reader.info().height)
}

#[test]
fn train_and_eval_draw_their_pictures() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = host_cli(d, &["train", "moons", "--epochs", "20", "--out", "m.mlpm", "--plot", "curves.png", "-q"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for name in ["curves.png", "curves-boundary.png"] {
        let (w, h) = png_size(&d.join(name));
        assert!(w >= 200 && h >= 200, "{name}: {w}×{h}");
    }
    let out = host_cli(d, &["eval", "m.mlpm", "moons", "--plot", "eval.png"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    png_size(&d.join("eval.png"));
    png_size(&d.join("eval-boundary.png"));

    let out = host_cli(d, &["train", "digits", "--epochs", "1000", "--plot", "x.gif"]);
    assert_eq!(out.status.code(), Some(1));
    let message = String::from_utf8_lossy(&out.stderr);
    assert!(message.contains("invalid --plot x.gif") && message.contains(".png and .svg"), "{message}");
    assert!(!d.join("x.gif").exists());
}
