//! `host-cli export`, `import` and `inspect`, run as the real binary in a
//! temporary directory: outputs, round trips, and errors (one line naming
//! the file, exit status 1, nothing written).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

const MODEL: &str = "digits_64_32_10.mlpm";

fn host_cli(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_host-cli")).args(args).current_dir(dir).output().expect("run host-cli")
}

fn exported_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/exported")
}

/// A temporary directory holding a copy of the committed digits model.
fn workdir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(exported_dir().join(MODEL), dir.path().join(MODEL)).unwrap();
    dir
}

fn success(dir: &Path, args: &[&str]) -> Vec<u8> {
    let out = host_cli(dir, args);
    assert!(out.status.success(), "{args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// Runs a command that must fail; checks the error's form and that `unwritten` was not created.
fn failure(dir: &Path, args: &[&str], unwritten: &str) -> String {
    let out = host_cli(dir, args);
    assert_eq!(out.status.code(), Some(1), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    let message = String::from_utf8(out.stderr).unwrap();
    assert!(message.starts_with("error: "), "{message}");
    assert_eq!(message.lines().count(), 1, "one line: {message}");
    assert!(out.stdout.is_empty(), "{args:?} printed to stdout");
    assert!(!dir.join(unwritten).exists(), "{args:?} wrote {unwritten}");
    // Nor a temporary file left behind.
    let leftovers: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    message
}

#[test]
fn exports_to_stdout_and_to_files() {
    let dir = workdir();
    let d = dir.path();
    let committed = std::fs::read(exported_dir().join("digits_64_32_10.rs")).unwrap();
    assert_eq!(success(d, &["export", MODEL, "--format", "rust"]), committed);
    success(d, &["export", MODEL, "--format", "rust", "-o", "m.rs"]);
    assert_eq!(std::fs::read(d.join("m.rs")).unwrap(), committed);

    let header = String::from_utf8(success(d, &["export", MODEL, "-f", "c"])).unwrap();
    assert!(header.contains("#ifndef MLP_MODEL_H") && header.contains("#include <stddef.h>"), "{header}");
    assert!(header.contains("static void mlp_forward(const float in[MLP_INPUTS], float out[MLP_OUTPUTS])"));
    assert!(header.contains("#define MLP_INPUTS 64") && header.contains("#define MLP_LAYER0_ACTIVATION \"relu\""));

    // bin: the model file itself, checked.
    assert_eq!(success(d, &["export", MODEL, "--format", "bin"]), std::fs::read(d.join(MODEL)).unwrap());
}

#[test]
fn safetensors_round_trip_through_the_cli() {
    let dir = workdir();
    let d = dir.path();
    success(d, &["export", MODEL, "--format", "safetensors", "-o", "m.safetensors"]);
    let tensors = std::fs::read(d.join("m.safetensors")).unwrap();
    // Reproducible, and the same on stdout.
    assert_eq!(success(d, &["export", MODEL, "--format", "safetensors"]), tensors);
    let file = safetensors::SafeTensors::deserialize(&tensors).unwrap();
    let mut names = file.names();
    names.sort();
    assert_eq!(names, ["0.bias", "0.weight", "2.bias", "2.weight"]);
    assert_eq!(file.tensor("0.weight").unwrap().shape(), &[32, 64]);
    assert_eq!(file.tensor("2.weight").unwrap().shape(), &[10, 32]);

    // The architecture from the file's metadata, or given (and agreeing).
    success(d, &["import", "m.safetensors", "-o", "back.mlpm"]);
    assert_eq!(std::fs::read(d.join("back.mlpm")).unwrap(), std::fs::read(d.join(MODEL)).unwrap());
    success(d, &["import", "m.safetensors", "--arch", "64-32-10", "--activation", "relu", "-o", "again.mlpm"]);
    assert_eq!(std::fs::read(d.join("again.mlpm")).unwrap(), std::fs::read(d.join(MODEL)).unwrap());
}

/// A tensor to write: name, dtype, shape, little-endian data.
type Tensor = (&'static str, safetensors::Dtype, Vec<usize>, Vec<u8>);

/// A PyTorch-style file with the given tensors.
fn write_tensors(path: &Path, tensors: &[Tensor]) {
    let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = tensors
        .iter()
        .map(|(name, dtype, shape, data)| {
            ((*name).to_owned(), safetensors::tensor::TensorView::new(*dtype, shape.clone(), data).unwrap())
        })
        .collect();
    std::fs::write(path, safetensors::serialize(views, None).unwrap()).unwrap();
}

fn f32s(values: impl IntoIterator<Item = f32>) -> Vec<u8> {
    values.into_iter().flat_map(f32::to_le_bytes).collect()
}

/// The tensors of a 64-16-10 network with PyTorch's names and no metadata.
fn pytorch_tensors() -> Vec<Tensor> {
    use safetensors::Dtype::F32;
    let weights = |n: usize| f32s((0..n).map(|i| (i % 7) as f32 / 10.0 - 0.3));
    vec![
        ("0.weight", F32, vec![16, 64], weights(16 * 64)),
        ("0.bias", F32, vec![16], f32s([0.1; 16])),
        ("2.weight", F32, vec![10, 16], weights(160)),
        ("2.bias", F32, vec![10], f32s([0.0; 10])),
    ]
}

#[test]
fn imports_pytorch_files_and_names_every_problem() {
    use safetensors::Dtype::{F16, F64};
    let dir = workdir();
    let d = dir.path();
    let arch = ["--arch", "64-16-10", "--activation", "tanh", "-o", "out.mlpm"];
    fn import<'a>(file: &'a str, arch: &[&'a str]) -> Vec<&'a str> {
        [&["import", file][..], arch].concat()
    }

    write_tensors(&d.join("good.safetensors"), &pytorch_tensors());
    success(d, &import("good.safetensors", &arch));
    let summary: Value = serde_json::from_slice(&success(d, &["inspect", "out.mlpm", "--json"])).unwrap();
    assert_eq!(summary["architecture"], "64-16-10");
    assert_eq!(summary["layers"][0]["activation"], "tanh");
    std::fs::remove_file(d.join("out.mlpm")).unwrap();

    // Without metadata the architecture must be given.
    let e = failure(d, &["import", "good.safetensors", "-o", "out.mlpm"], "out.mlpm");
    assert!(e.contains("good.safetensors") && e.contains("--arch"), "{e}");

    let case = |name: &str, change: &dyn Fn(&mut Vec<Tensor>)| {
        let mut tensors = pytorch_tensors();
        change(&mut tensors);
        let file = format!("{name}.safetensors");
        write_tensors(&d.join(&file), &tensors);
        let e = failure(d, &import(&file, &arch), "out.mlpm");
        assert!(e.contains(&file), "{e}");
        e
    };
    let e = case("f64", &|t| t[0] = ("0.weight", F64, vec![16, 64], vec![0; 16 * 64 * 8]));
    assert!(e.contains("tensor 0.weight is F64") && e.contains("only F32"), "{e}");
    let e = case("f16", &|t| t[3] = ("2.bias", F16, vec![10], vec![0; 20]));
    assert!(e.contains("tensor 2.bias is F16"), "{e}");
    let e = case("shape", &|t| t[2].2 = vec![16, 10]);
    assert!(e.contains("tensor 2.weight has shape [16, 10], expected [10, 16]"), "{e}");
    let e = case("missing", &|t| {
        t.remove(1);
    });
    assert!(e.contains("tensor 0.bias is missing"), "{e}");
    let e = case("extra", &|t| t.push(("4.weight", safetensors::Dtype::F32, vec![1], f32s([1.0]))));
    assert!(e.contains("unexpected tensors") && e.contains("4.weight"), "{e}");
    let e = case("nan", &|t| t[1].3 = f32s((0..16).map(|i| if i == 5 { f32::NAN } else { 0.0 })));
    assert!(e.contains("tensor 0.bias's value 5 is NaN or infinite"), "{e}");

    // An architecture that is not compiled in: the usual list of those that are.
    let mut tensors = pytorch_tensors();
    tensors[0] = ("0.weight", safetensors::Dtype::F32, vec![48, 64], f32s(vec![0.0; 48 * 64]));
    tensors[1] = ("0.bias", safetensors::Dtype::F32, vec![48], f32s([0.0; 48]));
    tensors[2] = ("2.weight", safetensors::Dtype::F32, vec![10, 48], f32s(vec![0.0; 480]));
    write_tensors(&d.join("wide.safetensors"), &tensors);
    let e = failure(
        d,
        &["import", "wide.safetensors", "--arch", "64-48-10", "--activation", "relu", "-o", "o.mlpm"],
        "o.mlpm",
    );
    assert!(e.contains("wide.safetensors") && e.contains("supported: 16 32 64 128"), "{e}");

    let e =
        failure(d, &["import", "good.safetensors", "--arch", "64-x", "--activation", "relu", "-o", "o.mlpm"], "o.mlpm");
    assert!(e.contains("64-32-10"), "{e}");
    std::fs::write(d.join("junk.safetensors"), b"not tensors").unwrap();
    let e = failure(d, &import("junk.safetensors", &arch), "out.mlpm");
    assert!(e.contains("junk.safetensors") && e.contains("not a valid safetensors file"), "{e}");
    let e = failure(d, &import("absent.safetensors", &arch), "out.mlpm");
    assert!(e.contains("absent.safetensors"), "{e}");
}

#[test]
fn inspect_reports_the_model_and_its_memory() {
    let dir = workdir();
    let d = dir.path();
    let text = String::from_utf8(success(d, &["inspect", MODEL])).unwrap();
    for expected in ["64-32-10", "relu", "2410", "flash          9640 bytes", "status         ok", "dataset=digits"] {
        assert!(text.contains(expected), "{expected:?} in\n{text}");
    }
    let json: Value = serde_json::from_slice(&success(d, &["inspect", MODEL, "--json"])).unwrap();
    assert_eq!(json["status"], "ok");
    assert_eq!(json["architecture"], "64-32-10");
    assert_eq!(json["parameters"], 2410);
    assert_eq!(json["format_version"], 1);
    assert_eq!(json["memory"]["flash_bytes"], 2410 * 4);
    // The network and one sample's outputs (32 + 10 values).
    assert_eq!(json["memory"]["inference_ram_bytes"], (2410 + 42) * 4);
    assert_eq!(json["file_bytes"], std::fs::metadata(d.join(MODEL)).unwrap().len());
    let checksum = json["checksum"].as_str().unwrap();
    assert!(checksum.starts_with("0x") && checksum.len() == 10, "{checksum}");
}

#[test]
fn inspect_shows_a_checkpoints_sections() {
    let dir = workdir();
    let d = dir.path();
    success(
        d,
        &[
            "train",
            "digits",
            "--hidden",
            "16",
            "--epochs",
            "2",
            "--optimizer",
            "adam",
            "--out",
            "c.mlpm",
            "--checkpoint",
            "--quiet",
        ],
    );
    let json: Value = serde_json::from_slice(&success(d, &["inspect", "c.mlpm", "--json"])).unwrap();
    let sections = &json["sections"];
    assert_eq!(sections["optimizer"]["kind"], "adam");
    assert_eq!(sections["optimizer"]["hyperparameters"]["beta1"], 0.9);
    assert_eq!(sections["training"]["epoch"], 2);
    assert_eq!(json["memory"]["training_optimizer"], "adam");
    // Adam's two buffers add two values per parameter over SGD.
    let parameters = json["parameters"].as_u64().unwrap();
    let text = String::from_utf8(success(d, &["inspect", "c.mlpm"])).unwrap();
    assert!(text.contains("optimizer      adam (beta1 0.9"), "{text}");
    assert!(text.contains("training       epoch 2 of 2"), "{text}");
    let sgd = host_cli::export::summary::training_ram_bytes(parameters as usize, 26, 0, 4);
    assert_eq!(json["memory"]["training_ram_bytes"].as_u64().unwrap() as usize, sgd + 2 * 4 * parameters as usize);
}

#[test]
fn damaged_or_missing_models_are_refused() {
    let dir = workdir();
    let d = dir.path();
    let mut bytes = std::fs::read(d.join(MODEL)).unwrap();
    bytes[100] ^= 1;
    std::fs::write(d.join("bad.mlpm"), &bytes).unwrap();
    let e = failure(d, &["inspect", "bad.mlpm"], "none");
    assert!(e.contains("bad.mlpm") && e.contains("checksum"), "{e}");
    for format in ["rust", "c", "bin", "safetensors"] {
        let e = failure(d, &["export", "bad.mlpm", "--format", format, "-o", "out"], "out");
        assert!(e.contains("bad.mlpm") && e.contains("corrupted"), "{e}");
    }
    let e = failure(d, &["export", "missing.mlpm", "--format", "rust", "-o", "out"], "out");
    assert!(e.contains("missing.mlpm"), "{e}");
    let e = failure(d, &["inspect", "missing.mlpm"], "none");
    assert!(e.contains("missing.mlpm"), "{e}");
    // A directory that does not exist for -o: the error names the output.
    let e = failure(d, &["export", MODEL, "--format", "rust", "-o", "no/such/dir/m.rs"], "no");
    assert!(e.contains("no/such/dir/m.rs"), "{e}");
}
