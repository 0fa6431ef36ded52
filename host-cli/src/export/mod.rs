//! Model files turned into what other tools take: Rust source with the
//! network as a `static` ([`rust`]), a C header with a reference forward
//! pass ([`c`]), PyTorch-style safetensors ([`safetensors`], both ways), and
//! a summary of a file's contents and memory needs ([`summary`]).
//!
//! Exporters work from the parsed file alone ([`Exported`]), so they handle
//! any architecture; only building a model file from imported values needs
//! a compiled-in network type ([`model_file`]).

pub mod c;
pub mod rust;
pub mod safetensors;
pub mod summary;

use anyhow::{anyhow, bail};
use mlp_core::activation::ActivationKind;
use mlp_core::model::{self, Extras, Model, Scaling};
use mlp_core::optim::Sgd;
use mlp_core::{Network, Part, Zeroed};

use crate::arch::{self, Architecture, NetworkVisitor};
use crate::boxed::zeroed_box;
use crate::modelfile::hidden_activation;

/// What `host-cli export` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Rust source: the network as a `static` of its mlp-core type.
    Rust,
    /// A C header: weights, biases and a reference forward function.
    C,
    /// The model file itself, checked (for `include_bytes!`).
    Bin,
    /// safetensors in the layout of PyTorch's `nn.Sequential` of `nn.Linear`.
    Safetensors,
}

impl Format {
    /// Whether the output is text (and so may go to a terminal).
    pub fn is_text(self) -> bool {
        matches!(self, Format::Rust | Format::C)
    }
}

/// One layer's shape, activation and values.
#[derive(Clone, Debug, PartialEq)]
pub struct Layer {
    /// Inputs.
    pub inputs: usize,
    /// Outputs.
    pub outputs: usize,
    /// Activation applied to its outputs.
    pub activation: ActivationKind,
    /// Whether it was kept fixed in training (informational).
    pub frozen: bool,
    /// Column-major, as stored: the weight from input `i` to output `o` is
    /// `weights[i * outputs + o]`.
    pub weights: Vec<f32>,
    /// One per output.
    pub biases: Vec<f32>,
}

impl Layer {
    /// The weight from input `i` to output `o`.
    pub fn weight(&self, output: usize, input: usize) -> f32 {
        self.weights[input * self.outputs + output]
    }
}

/// A network's values read out of a model file (or a safetensors file), in
/// `f32`, plus what a model file keeps beside them that exports carry.
#[derive(Clone, Debug, PartialEq)]
pub struct Exported {
    /// First to last.
    pub layers: Vec<Layer>,
    /// Per-input (offset, scale): the network's input is `(x − offset) / scale`.
    pub scaling: Option<(Vec<f32>, Vec<f32>)>,
    /// The model file's metadata text.
    pub metadata: Option<String>,
    /// The source file's CRC-32, when read from a model file.
    pub checksum: Option<u32>,
}

impl Exported {
    /// The values of a parsed model file. Only `f32` models are exported.
    pub fn from_model(model: &Model<'_>) -> anyhow::Result<Self> {
        if model.scalar() != 1 {
            bail!("the model stores {} values; only f32 models can be exported", model.scalar_name());
        }
        let mut layers = Vec::with_capacity(model.layer_count());
        for (index, record) in model.layers().enumerate() {
            let (weights, biases) =
                model.parameters(index).ok_or_else(|| anyhow!("layer {index}'s parameters are missing"))?;
            layers.push(Layer {
                inputs: record.inputs,
                outputs: record.outputs,
                activation: record.activation,
                frozen: record.frozen,
                weights: weights.iter::<f32>().collect(),
                biases: biases.iter::<f32>().collect(),
            });
        }
        let scaling = model.scaling().map(|(offset, scale)| (offset.iter().collect(), scale.iter().collect()));
        Ok(Exported {
            layers,
            scaling,
            metadata: model.metadata().map(str::to_owned),
            checksum: Some(model.checksum()),
        })
    }

    /// The features and classes of the data, when the network is wider: a
    /// CSV file's network is of a built-in shape, its extra inputs zeros and
    /// its extra outputs classes that never win (see
    /// `host_cli::modelfile::mask_padding`). From the metadata `host-cli
    /// train` writes; `None` when the network is exactly the data's.
    pub fn padding(&self) -> Option<(usize, usize)> {
        let recorded = self.recorded();
        let features = recorded.features.filter(|&f| f <= self.inputs()).unwrap_or(self.inputs());
        // A regression network predicts with its first output alone.
        let used = if self.regression().is_some() { Some(1) } else { recorded.classes };
        let classes = used.filter(|&c| c <= self.outputs()).unwrap_or(self.outputs());
        ((features, classes) != (self.inputs(), self.outputs())).then_some((features, classes))
    }

    /// A regression network's target scaling, `(offset, scale)`: its
    /// prediction is `output[0] · scale + offset` (from the metadata).
    pub fn regression(&self) -> Option<(f64, f64)> {
        let recorded = self.recorded();
        if recorded.task.as_deref() != Some(crate::data::Task::Regression.name()) {
            return None;
        }
        recorded.target_offset.zip(recorded.target_scale)
    }

    fn recorded(&self) -> crate::evaluate::Recorded {
        crate::evaluate::Recorded::from_metadata(self.metadata.as_deref().unwrap_or(""))
    }

    /// Inputs of the first layer.
    pub fn inputs(&self) -> usize {
        self.layers.first().map_or(0, |l| l.inputs)
    }

    /// Outputs of the last layer.
    pub fn outputs(&self) -> usize {
        self.layers.last().map_or(0, |l| l.outputs)
    }

    /// Layer widths joined by dashes, e.g. `64-32-10`.
    pub fn architecture_name(&self) -> String {
        architecture_name(&self.layers.iter().map(|l| (l.inputs, l.outputs)).collect::<Vec<_>>())
    }

    /// Every layer's activation, comma-separated: `relu,identity`.
    pub fn activation_names(&self) -> String {
        self.layers.iter().map(|l| l.activation.name()).collect::<Vec<_>>().join(",")
    }

    /// The compiled-in architecture these layers need: one hidden
    /// activation, identity at the output.
    pub fn architecture(&self) -> anyhow::Result<Architecture> {
        let (last, hidden) = self.layers.split_last().ok_or_else(|| anyhow!("no layers"))?;
        if last.activation != ActivationKind::Identity {
            bail!("the output layer uses {}; host-cli's networks end in identity (logits)", last.activation);
        }
        let activation = match hidden.first() {
            None => arch::HiddenActivation::Relu,
            Some(first) => hidden_activation(first.activation)
                .ok_or_else(|| anyhow!("hidden layer 0 uses identity; host-cli's hidden layers do not"))?,
        };
        if let Some((i, l)) =
            hidden.iter().enumerate().find(|(_, l)| hidden_activation(l.activation) != Some(activation))
        {
            bail!(
                "hidden layer {i} uses {} but layer 0 uses {}; host-cli's networks use one",
                l.activation,
                activation.name()
            );
        }
        Ok(Architecture {
            inputs: self.inputs(),
            hidden: hidden.iter().map(|l| l.outputs).collect(),
            outputs: self.outputs(),
            activation,
        })
    }
}

/// `64-32-10` from the layers' (inputs, outputs).
pub fn architecture_name(shapes: &[(usize, usize)]) -> String {
    let sizes = shapes.first().map(|s| s.0).into_iter().chain(shapes.iter().map(|s| s.1));
    sizes.map(|n| n.to_string()).collect::<Vec<_>>().join("-")
}

/// A file name as it may appear in a generated comment: characters other
/// than letters, digits and `._+-` become `_`, so no name can end a comment
/// or start a line of code.
pub fn comment_safe(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() || "._+-".contains(c) { c } else { '_' }).collect()
}

/// Writes `exported` as a model file (no training state; scaling and
/// metadata kept), through the compiled-in network type its architecture
/// names: an architecture that is not compiled in is an error listing those
/// that are. The values must be finite (scales positive): the model file
/// refuses anything else.
pub fn model_file(exported: &Exported) -> anyhow::Result<Vec<u8>> {
    let arch = exported.architecture()?;
    arch::with_network(&arch, Writer { exported })?
}

struct Writer<'a> {
    exported: &'a Exported,
}

impl NetworkVisitor for Writer<'_> {
    type Output = anyhow::Result<Vec<u8>>;
    fn visit<N, const I: usize, const O: usize>(self) -> Self::Output
    where
        N: Network<Scalar = f32, Input = [f32; I], Output = [f32; O]> + Zeroed,
    {
        let layers = &self.exported.layers;
        let mut net = zeroed_box::<N>();
        net.for_each_trainable_mut(|slot, _, values| {
            if let Some(layer) = layers.get(slot.layer) {
                let source = if slot.part == Part::Weights { &layer.weights } else { &layer.biases };
                for (v, s) in values.iter_mut().zip(source) {
                    *v = *s;
                }
            }
        });
        let scaling = self.exported.scaling.as_ref().map(|(offset, scale)| Scaling { offset, scale });
        let extras = Extras::<N, Sgd> { training: None, scaling, metadata: self.exported.metadata.as_deref() };
        let mut bytes = vec![0; model::written_bytes(&extras)];
        let written = model::write(&*net, extras, &mut bytes)?;
        bytes.truncate(written);
        // What we wrote must read back: a value the format refuses fails here, not later.
        Model::parse(&bytes)?;
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(architecture_name(&[(64, 32), (32, 10)]), "64-32-10");
        assert_eq!(comment_safe("a*/b\nc.mlpm"), "a__b_c.mlpm");
    }
}
