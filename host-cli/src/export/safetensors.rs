//! safetensors in the layout PyTorch gives `nn.Sequential(nn.Linear,
//! activation, nn.Linear, …)`: layer `k` is `{2k}.weight`, `[outputs,
//! inputs]` row-major, and `{2k}.bias`, `[outputs]`, all `F32` (the
//! activation modules at odd indices hold no tensors). `__metadata__` says
//! `format` = `mlp-core`, the `architecture` (`64-32-10`) and the
//! `activations` (`relu,identity`); a model's metadata text goes in
//! `metadata`. A model that scales its inputs adds `scaling.offset` and
//! `scaling.scale` (`[inputs]`), which a `load_state_dict` must drop.

use std::collections::HashMap;
use std::fmt;

use mlp_core::activation::ActivationKind;
use safetensors::{Dtype, SafeTensors};
use serde_json::{Map, Value, json};

use super::{Exported, Layer};
use crate::arch::HiddenActivation;

/// `__metadata__`'s `format` in files this module writes.
pub const FORMAT: &str = "mlp-core";
/// Names of the scaling tensors.
pub const SCALING_OFFSET: &str = "scaling.offset";
/// See [`SCALING_OFFSET`].
pub const SCALING_SCALE: &str = "scaling.scale";

/// The tensor names of layer `k`: (weight, bias).
pub fn tensor_names(layer: usize) -> (String, String) {
    (format!("{}.weight", 2 * layer), format!("{}.bias", 2 * layer))
}

/// The safetensors file for `exported`.
///
/// The header is written here rather than by the safetensors crate's
/// `serialize`, whose `__metadata__` passes through a `HashMap` and so comes
/// out in another order on every run: an export must be reproducible. Its
/// reader reads the result (the tests check).
pub fn to_bytes(exported: &Exported) -> Vec<u8> {
    let mut tensors: Vec<(String, Vec<usize>, Vec<f32>)> = Vec::new();
    for (k, layer) in exported.layers.iter().enumerate() {
        let (weight, bias) = tensor_names(k);
        // Row-major [outputs, inputs] from the column-major store.
        let rows: Vec<f32> =
            (0..layer.outputs).flat_map(|o| (0..layer.inputs).map(move |i| layer.weight(o, i))).collect();
        tensors.push((weight, vec![layer.outputs, layer.inputs], rows));
        tensors.push((bias, vec![layer.outputs], layer.biases.clone()));
    }
    if let Some((offset, scale)) = &exported.scaling {
        tensors.push((SCALING_OFFSET.to_owned(), vec![offset.len()], offset.clone()));
        tensors.push((SCALING_SCALE.to_owned(), vec![scale.len()], scale.clone()));
    }

    let mut metadata = Map::new();
    metadata.insert("format".into(), FORMAT.into());
    metadata.insert("architecture".into(), exported.architecture_name().into());
    metadata.insert("activations".into(), exported.activation_names().into());
    if let Some(text) = &exported.metadata {
        metadata.insert("metadata".into(), text.as_str().into());
    }
    let mut header = Map::new();
    header.insert("__metadata__".into(), Value::Object(metadata));
    let mut offset = 0;
    for (name, shape, values) in &tensors {
        let end = offset + 4 * values.len();
        header.insert(name.clone(), json!({ "dtype": "F32", "shape": shape, "data_offsets": [offset, end] }));
        offset = end;
    }
    let mut header = Value::Object(header).to_string().into_bytes();
    // Padded with spaces to a multiple of 8, as the format's writers do, so the data is aligned.
    header.resize(header.len().next_multiple_of(8), b' ');

    let mut bytes = Vec::with_capacity(8 + header.len() + offset);
    bytes.extend_from_slice(&(header.len() as u64).to_le_bytes());
    bytes.extend_from_slice(&header);
    for (_, _, values) in &tensors {
        for v in values {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
    }
    bytes
}

/// Why a safetensors file cannot be imported. The message names the tensor.
#[derive(Clone, Debug, PartialEq)]
pub enum ImportError {
    /// The file is not valid safetensors.
    Invalid(String),
    /// `--arch` is missing or malformed, or disagrees with the file's metadata.
    Architecture(String),
    /// A tensor the architecture needs is not in the file.
    Missing(String),
    /// Tensors the architecture does not name.
    Extra(Vec<String>),
    /// A tensor that is not `F32`.
    Dtype {
        /// The tensor.
        name: String,
        /// Its dtype, as the format spells it.
        found: String,
    },
    /// A tensor of another shape than the architecture's.
    Shape {
        /// The tensor.
        name: String,
        /// The architecture's.
        expected: Vec<usize>,
        /// The file's.
        found: Vec<usize>,
    },
    /// A NaN or infinite value (or a scale that is not positive).
    Value {
        /// The tensor.
        name: String,
        /// Flat index in the tensor, row-major.
        index: usize,
        /// What is wrong.
        problem: &'static str,
    },
}

impl fmt::Display for ImportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImportError::Invalid(reason) => write!(f, "not a valid safetensors file: {reason}"),
            ImportError::Architecture(reason) => f.write_str(reason),
            ImportError::Missing(name) => write!(f, "tensor {name} is missing"),
            ImportError::Extra(names) => {
                write!(f, "unexpected tensors for this architecture: {}", names.join(", "))
            }
            ImportError::Dtype { name, found } => {
                write!(f, "tensor {name} is {found}; only F32 tensors can be imported (convert it first)")
            }
            ImportError::Shape { name, expected, found } => {
                write!(f, "tensor {name} has shape {found:?}, expected {expected:?}")
            }
            ImportError::Value { name, index, problem } => write!(f, "tensor {name}'s value {index} {problem}"),
        }
    }
}

impl std::error::Error for ImportError {}

/// What the importer is told about the network beside the file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ImportOptions {
    /// Layer widths, `64-32-10`; from the file's metadata when `None`.
    pub architecture: Option<String>,
    /// The hidden layers' activation; from the file's metadata when `None`.
    pub activation: Option<HiddenActivation>,
}

/// Layer widths from `64-32-10`: at least two, each a positive integer.
pub fn parse_architecture(text: &str) -> Result<Vec<usize>, ImportError> {
    let bad = || {
        ImportError::Architecture(format!(
            "--arch {text:?} is not a list of layer widths such as 64-32-10 (inputs, hidden sizes, outputs)"
        ))
    };
    let sizes: Vec<usize> =
        text.split('-').map(|s| s.trim().parse::<usize>().map_err(|_| bad())).collect::<Result<_, _>>()?;
    if sizes.len() < 2 || sizes.contains(&0) {
        return Err(bad());
    }
    Ok(sizes)
}

/// Reads a safetensors file in [this module's layout](self) into layers.
/// Every tensor is checked (names, dtype, shape, finite values) before
/// anything is built.
pub fn from_bytes(bytes: &[u8], options: &ImportOptions) -> Result<Exported, ImportError> {
    let (_, header) = SafeTensors::read_metadata(bytes).map_err(|e| ImportError::Invalid(e.to_string()))?;
    let tensors = SafeTensors::deserialize(bytes).map_err(|e| ImportError::Invalid(e.to_string()))?;
    let empty = HashMap::new();
    let metadata = header.metadata().as_ref().unwrap_or(&empty);
    let ours = metadata.get("format").is_some_and(|f| f == FORMAT);

    let from_file = |key: &str| if ours { metadata.get(key).cloned() } else { None };
    let sizes = match (&options.architecture, from_file("architecture")) {
        (Some(given), stored) => {
            let sizes = parse_architecture(given)?;
            if let Some(stored) = stored
                && parse_architecture(&stored).ok().as_ref() != Some(&sizes)
            {
                return Err(ImportError::Architecture(format!(
                    "the file's metadata says architecture {stored}, but --arch {given} was given"
                )));
            }
            sizes
        }
        (None, Some(stored)) => parse_architecture(&stored).map_err(|_| {
            ImportError::Architecture(format!("the file's metadata has a malformed architecture {stored:?}"))
        })?,
        (None, None) => {
            return Err(ImportError::Architecture(
                "the file does not say its architecture (no mlp-core metadata): give --arch, e.g. --arch 64-32-10"
                    .into(),
            ));
        }
    };
    let layers = sizes.len() - 1;
    let hidden = match (options.activation, from_file("activations")) {
        (given, Some(stored)) => {
            let stored_kinds: Option<Vec<ActivationKind>> = stored.split(',').map(activation_named).collect();
            let implied = stored_kinds.as_ref().and_then(|kinds| hidden_of(kinds, layers));
            match (given, implied) {
                (Some(g), Some(s)) if g != s => {
                    return Err(ImportError::Architecture(format!(
                        "the file's metadata says activations {stored}, but --activation {} was given",
                        g.name()
                    )));
                }
                (Some(g), _) => g,
                (None, Some(s)) => s,
                (None, None) => {
                    return Err(ImportError::Architecture(format!(
                        "the file's metadata has activations {stored:?}, which host-cli's networks cannot take \
                         (one hidden activation, identity at the output)"
                    )));
                }
            }
        }
        (Some(g), None) => g,
        // A single layer has no hidden activation: any choice gives the same network.
        (None, None) if layers == 1 => HiddenActivation::Relu,
        (None, None) => {
            return Err(ImportError::Architecture(
                "the file does not say its activations (no mlp-core metadata): give --activation".into(),
            ));
        }
    };

    let mut expected: Vec<String> = Vec::new();
    let mut out = Vec::with_capacity(layers);
    for (k, pair) in sizes.windows(2).enumerate() {
        let (inputs, outputs) = (pair[0], pair[1]);
        let (weight_name, bias_name) = tensor_names(k);
        let rows = read_tensor(&tensors, &weight_name, &[outputs, inputs])?;
        let biases = read_tensor(&tensors, &bias_name, &[outputs])?;
        let weights =
            (0..inputs).flat_map(|i| (0..outputs).map(move |o| (i, o))).map(|(i, o)| rows[o * inputs + i]).collect();
        expected.extend([weight_name, bias_name]);
        let activation = if k + 1 == layers { ActivationKind::Identity } else { hidden_kind(hidden) };
        out.push(Layer { inputs, outputs, activation, frozen: false, weights, biases });
    }
    let scaling = if tensors.names().contains(&SCALING_OFFSET) || tensors.names().contains(&SCALING_SCALE) {
        let offset = read_tensor(&tensors, SCALING_OFFSET, &[sizes[0]])?;
        let scale = read_tensor(&tensors, SCALING_SCALE, &[sizes[0]])?;
        if let Some(index) = scale.iter().position(|&s| s <= 0.0) {
            return Err(ImportError::Value { name: SCALING_SCALE.into(), index, problem: "is not positive" });
        }
        expected.extend([SCALING_OFFSET.to_owned(), SCALING_SCALE.to_owned()]);
        Some((offset, scale))
    } else {
        None
    };
    let mut extra: Vec<String> =
        tensors.names().into_iter().filter(|n| !expected.iter().any(|e| e == n)).map(str::to_owned).collect();
    if !extra.is_empty() {
        extra.sort();
        return Err(ImportError::Extra(extra));
    }
    Ok(Exported { layers: out, scaling, metadata: from_file("metadata"), checksum: None })
}

fn read_tensor(tensors: &SafeTensors<'_>, name: &str, shape: &[usize]) -> Result<Vec<f32>, ImportError> {
    let view = tensors.tensor(name).map_err(|_| ImportError::Missing(name.to_owned()))?;
    if view.dtype() != Dtype::F32 {
        return Err(ImportError::Dtype { name: name.to_owned(), found: format!("{:?}", view.dtype()) });
    }
    if view.shape() != shape {
        return Err(ImportError::Shape {
            name: name.to_owned(),
            expected: shape.to_vec(),
            found: view.shape().to_vec(),
        });
    }
    let values: Vec<f32> = view.data().chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
    if let Some(index) = values.iter().position(|v| !v.is_finite()) {
        return Err(ImportError::Value { name: name.to_owned(), index, problem: "is NaN or infinite" });
    }
    Ok(values)
}

fn activation_named(name: &str) -> Option<ActivationKind> {
    ActivationKind::ALL.into_iter().find(|k| k.name() == name.trim())
}

/// The one hidden activation of `kinds` (identity last), if it has one.
fn hidden_of(kinds: &[ActivationKind], layers: usize) -> Option<HiddenActivation> {
    let (last, hidden) = kinds.split_last()?;
    if kinds.len() != layers || *last != ActivationKind::Identity {
        return None;
    }
    let first = match hidden.first() {
        None => return Some(HiddenActivation::Relu),
        Some(&k) => crate::modelfile::hidden_activation(k)?,
    };
    hidden.iter().all(|&k| k == hidden_kind(first)).then_some(first)
}

fn hidden_kind(activation: HiddenActivation) -> ActivationKind {
    match activation {
        HiddenActivation::Relu => ActivationKind::Relu,
        HiddenActivation::Sigmoid => ActivationKind::Sigmoid,
        HiddenActivation::Tanh => ActivationKind::Tanh,
        HiddenActivation::LeakyRelu => ActivationKind::LeakyRelu,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> Exported {
        Exported {
            layers: vec![
                Layer {
                    inputs: 2,
                    outputs: 3,
                    activation: ActivationKind::Tanh,
                    frozen: false,
                    weights: vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
                    biases: vec![0.5, -0.5, 0.0],
                },
                Layer {
                    inputs: 3,
                    outputs: 1,
                    activation: ActivationKind::Identity,
                    frozen: false,
                    weights: vec![7.0, 8.0, 9.0],
                    biases: vec![-1.0],
                },
            ],
            scaling: Some((vec![0.0, 1.0], vec![2.0, 3.0])),
            metadata: Some("dataset=test".into()),
            checksum: None,
        }
    }

    #[test]
    fn pytorch_layout_and_back() {
        let bytes = to_bytes(&tiny());
        assert_eq!(to_bytes(&tiny()), bytes, "reproducible");
        let file = SafeTensors::deserialize(&bytes).unwrap();
        let w = file.tensor("0.weight").unwrap();
        assert_eq!((w.dtype(), w.shape()), (Dtype::F32, &[3usize, 2][..]));
        // Row o is output o's weights: [[1, 4], [2, 5], [3, 6]].
        let values: Vec<f32> = w.data().chunks(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect();
        assert_eq!(values, [1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
        assert_eq!(file.tensor("2.weight").unwrap().shape(), &[1, 3]);
        let (_, header) = SafeTensors::read_metadata(&bytes).unwrap();
        let metadata = header.metadata().clone().unwrap();
        assert_eq!(metadata["activations"], "tanh,identity");
        assert_eq!(metadata["architecture"], "2-3-1");
        assert_eq!(from_bytes(&bytes, &ImportOptions::default()).unwrap(), tiny());
    }

    #[test]
    fn refusals_name_the_tensor() {
        let bytes = to_bytes(&tiny());
        let options = |arch: &str, activation| ImportOptions { architecture: Some(arch.into()), activation };
        let e = from_bytes(&bytes, &options("2-4-1", None)).unwrap_err().to_string();
        assert!(e.contains("architecture 2-3-1") && e.contains("--arch 2-4-1"), "{e}");
        let e = from_bytes(&bytes, &options("2-3-1", Some(HiddenActivation::Relu))).unwrap_err().to_string();
        assert!(e.contains("tanh,identity") && e.contains("--activation relu"), "{e}");
        assert!(matches!(parse_architecture("64-x-10"), Err(ImportError::Architecture(_))));
        assert!(parse_architecture("64").is_err() && parse_architecture("64-0-10").is_err());
        assert_eq!(parse_architecture("64-32-10").unwrap(), [64, 32, 10]);
        let e = from_bytes(b"garbage", &ImportOptions::default()).unwrap_err();
        assert!(matches!(e, ImportError::Invalid(_)), "{e}");
    }
}
