//! The committed Rust export of the digits model (`fixtures/exported/`) is
//! what the exporter makes from the committed model file, byte for byte, and
//! compiled in (as firmware compiles it) it computes what the model file
//! computes, bit for bit. Safetensors export and import give the model file
//! back byte for byte.

use std::path::{Path, PathBuf};

use host_cli::export::{self, Exported};
use mlp_core::model::{self, Model};
use mlp_core::{Network, Zeroed, predict};

// Compiled as firmware would compile it: a module around `include!`, no
// allowances here (the file brings its own).
mod exported {
    include!("../../fixtures/exported/digits_64_32_10.rs");
}

const MODEL_NAME: &str = "digits_64_32_10.mlpm";
const RUST_NAME: &str = "digits_64_32_10.rs";

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/exported").join(name)
}

fn model_bytes() -> Vec<u8> {
    std::fs::read(fixture(MODEL_NAME)).expect("the committed model file")
}

#[test]
fn committed_rust_export_is_what_the_exporter_makes() {
    let bytes = model_bytes();
    let model = Model::parse(&bytes).unwrap();
    let made = export::rust::source(&Exported::from_model(&model).unwrap(), MODEL_NAME);
    let committed = std::fs::read_to_string(fixture(RUST_NAME)).unwrap();
    assert!(
        made == committed,
        "fixtures/exported/{RUST_NAME} is not what the exporter makes from {MODEL_NAME}; regenerate it with\n  \
         cargo run -p host-cli -- export fixtures/exported/{MODEL_NAME} --format rust -o fixtures/exported/{RUST_NAME}"
    );
}

#[test]
fn compiled_export_predicts_what_the_model_file_predicts() {
    assert_eq!((exported::INPUTS, exported::OUTPUTS), (64, 10));
    let bytes = model_bytes();
    let mut loaded = host_cli::boxed::zeroed_box::<exported::Model>();
    model::read_model(&bytes, &mut *loaded).unwrap();

    // Every parameter, bit for bit (`==` on floats would let −0 pass for +0).
    let mut from_file = Vec::new();
    loaded.for_each_parameter(|_, values| from_file.extend(values.iter().map(|v| v.to_bits())));
    let mut compiled = Vec::new();
    exported::MODEL.for_each_parameter(|_, values| compiled.extend(values.iter().map(|v| v.to_bits())));
    assert_eq!(compiled, from_file);

    let digits = host_cli::data::DIGITS.load(None).unwrap();
    let (mut a, mut b) =
        (<exported::Model as Network>::Activations::ZEROED, <exported::Model as Network>::Activations::ZEROED);
    for i in 0..digits.len() {
        let x = digits.row(i);
        let ours = predict(&exported::MODEL, x, &mut a).unwrap().map(f32::to_bits);
        let theirs = predict(&*loaded, x, &mut b).unwrap().map(f32::to_bits);
        assert_eq!(ours, theirs, "sample {i}");
    }
}

#[test]
fn safetensors_round_trip_is_byte_identical() {
    let bytes = model_bytes();
    let original = Exported::from_model(&Model::parse(&bytes).unwrap()).unwrap();
    assert!(original.metadata.is_some(), "the committed model carries metadata: the round trip must keep it");
    let tensors = export::safetensors::to_bytes(&original);
    let imported = export::safetensors::from_bytes(&tensors, &Default::default()).unwrap();
    assert_eq!(export::model_file(&imported).unwrap(), bytes);
}

#[test]
fn safetensors_round_trip_keeps_scaling() {
    use host_cli::export::summary;
    use mlp_core::activation::Tanh;
    use mlp_core::model::{Extras, Scaling};
    use mlp_core::optim::Sgd;
    use mlp_core::{Dense, Init, SeedableRng, layers};

    type Net = layers![Dense<f32, 64, 16, Tanh>, Dense<f32, 16, 10>];
    let mut net = Net::ZEROED;
    net.initialize(Init::GlorotUniform, &mut mlp_core::DefaultRng::seed_from_u64(1)).unwrap();
    let offset: Vec<f32> = (0..64).map(|i| i as f32 / 8.0).collect();
    let scale: Vec<f32> = (0..64).map(|i| 1.0 + i as f32).collect();
    let extras = Extras::<Net, Sgd> {
        training: None,
        scaling: Some(Scaling { offset: &offset, scale: &scale }),
        metadata: Some("dataset=test\n"),
    };
    let mut bytes = vec![0; model::written_bytes(&extras)];
    model::write(&net, extras, &mut bytes).unwrap();
    let model = Model::parse(&bytes).unwrap();
    assert!(summary::summarize(&model, "t").sections.scaling);

    let original = Exported::from_model(&model).unwrap();
    let tensors = export::safetensors::to_bytes(&original);
    let imported = export::safetensors::from_bytes(&tensors, &Default::default()).unwrap();
    assert_eq!(export::model_file(&imported).unwrap(), bytes);
    let rust = export::rust::source(&original, "t.mlpm");
    assert!(
        rust.contains("pub static SCALING_OFFSET: [f32; 64]") && rust.contains("pub static SCALING_SCALE: [f32; 64]")
    );
}
