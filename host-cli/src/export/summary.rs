//! What `host-cli inspect` reports about a model file: its layers, its
//! parameter count, the memory it needs on a device, and its sections.
//!
//! The memory figures are the core's constants for the network with every
//! layer a `Dense` in RAM ([`Network::INFERENCE_BYTES`](mlp_core::Network),
//! `PARAMETER_BYTES + TrainState::<N, O>::BYTES`), computed from the layer
//! table so that any architecture can be inspected; the tests check them
//! against the constants of every compiled-in network and optimizer.

use std::fmt::Write;

use mlp_core::model::{Model, Section};
use mlp_core::optim::OptimizerKind;
use serde::Serialize;

use crate::report::{ScheduleReport, number};

/// One layer in the summary.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LayerSummary {
    /// Inputs.
    pub inputs: usize,
    /// Outputs.
    pub outputs: usize,
    /// Its activation's name.
    pub activation: &'static str,
    /// Whether it was kept fixed in training.
    pub frozen: bool,
    /// Weights and biases.
    pub parameters: usize,
}

/// Bytes a device needs for the network.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Memory {
    /// The parameters, as the Rust or C export stores them (flash).
    pub flash_bytes: usize,
    /// Every layer's outputs for one sample: the RAM inference needs with
    /// the parameters in flash.
    pub activation_bytes: usize,
    /// The network and its activations in RAM (`Network::INFERENCE_BYTES`).
    pub inference_ram_bytes: usize,
    /// The optimizer the training figure is for: the stored one, or SGD
    /// (no state) when the file stores none.
    pub training_optimizer: &'static str,
    /// The network and its training state (activations, deltas, gradients,
    /// the optimizer's buffers, counters and generator) in RAM.
    pub training_ram_bytes: usize,
}

/// The optimizer section.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OptimizerSummary {
    /// Its name.
    pub kind: &'static str,
    /// (name, value) in the record's order (a JSON object).
    #[serde(serialize_with = "as_map")]
    pub hyperparameters: Vec<(&'static str, f64)>,
}

fn as_map<S: serde::Serializer>(pairs: &[(&'static str, f64)], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_map(pairs.iter().map(|(k, v)| (k, v)))
}

/// The training section.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TrainingSummary {
    /// Epochs completed.
    pub epoch: u32,
    /// Of the epochs planned.
    pub epochs: u32,
    /// Optimizer steps taken.
    pub steps: u32,
    /// Samples per step.
    pub batch_size: usize,
    /// The learning-rate schedule.
    pub schedule: ScheduleReport,
    /// L2 penalty.
    pub l2: f64,
    /// L1 penalty.
    pub l1: f64,
    /// Gradient-norm clipping (0: none).
    pub clip_norm: f64,
    /// Layers kept fixed, from the first.
    pub frozen_layers: u32,
    /// Each hidden layer's dropout rate; left out without dropout.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dropout: Option<Vec<f64>>,
}

/// Which optional sections the file holds and what they say.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Sections {
    /// The optimizer and its hyperparameters.
    pub optimizer: Option<OptimizerSummary>,
    /// The training position and configuration.
    pub training: Option<TrainingSummary>,
    /// Whether the inputs are scaled.
    pub scaling: bool,
    /// The metadata text.
    pub metadata: Option<String>,
}

/// Everything `host-cli inspect` reports.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Summary {
    /// The file as given.
    pub file: String,
    /// "ok": the file parsed, its checksum and every value checked.
    pub status: &'static str,
    /// The format version.
    pub format_version: u16,
    /// `f32` or `f64`.
    pub scalar: &'static str,
    /// The file's length.
    pub file_bytes: usize,
    /// The stored CRC-32, `0x…`.
    pub checksum: String,
    /// Layer widths, `64-32-10`.
    pub architecture: String,
    /// First to last.
    pub layers: Vec<LayerSummary>,
    /// Every parameter.
    pub parameters: usize,
    /// Those of layers not marked frozen.
    pub trainable_parameters: usize,
    /// What a device needs.
    pub memory: Memory,
    /// The optional sections.
    pub sections: Sections,
}

/// Bytes of the core's generator state and the step and epoch counters in `Persistent`.
const COUNTER_BYTES: usize = 4 * 4 + 4 + 4;

/// The summary of a parsed model file; `file` names it.
pub fn summarize(model: &Model<'_>, file: &str) -> Summary {
    let width = if model.scalar() == 2 { 8 } else { 4 };
    let layers: Vec<LayerSummary> = model
        .layers()
        .map(|l| LayerSummary {
            inputs: l.inputs,
            outputs: l.outputs,
            activation: l.activation.name(),
            frozen: l.frozen,
            parameters: l.parameters(),
        })
        .collect();
    let parameters = model.parameter_count();
    let activations: usize = layers.iter().map(|l| l.outputs).sum();
    let record = model.optimizer().map(|(record, _)| record);
    let kind = record.map_or(OptimizerKind::Sgd, |r| r.kind);
    let memory = Memory {
        flash_bytes: parameters * width,
        activation_bytes: activations * width,
        inference_ram_bytes: (parameters + activations) * width,
        training_optimizer: kind.name(),
        training_ram_bytes: training_ram_bytes(parameters, activations, kind.buffers(), width),
    };
    let training = model.training().map(|t| TrainingSummary {
        epoch: t.epoch,
        epochs: t.config.epochs,
        steps: t.steps,
        batch_size: t.config.batch_size,
        schedule: t.config.schedule.into(),
        l2: t.config.l2,
        l1: t.config.l1,
        clip_norm: t.config.clip_norm,
        frozen_layers: t.config.frozen_layers,
        dropout: model
            .has(Section::Dropout)
            .then(|| (0..model.layer_count().saturating_sub(1)).map(|l| t.config.dropout.rate(l)).collect()),
    });
    let optimizer = record.map(|r| OptimizerSummary {
        kind: r.kind.name(),
        hyperparameters: r
            .kind
            .hyperparameter_names()
            .iter()
            .copied()
            .zip(r.hyperparameters().iter().copied())
            .collect(),
    });
    let shapes: Vec<(usize, usize)> = layers.iter().map(|l| (l.inputs, l.outputs)).collect();
    Summary {
        file: file.to_owned(),
        status: "ok",
        format_version: model.version(),
        scalar: model.scalar_name(),
        file_bytes: model.len(),
        checksum: format!("{:#010x}", model.checksum()),
        architecture: super::architecture_name(&shapes),
        layers,
        parameters,
        trainable_parameters: model.trainable_parameter_count(),
        memory,
        sections: Sections {
            optimizer,
            training,
            scaling: model.has(Section::Scaling),
            metadata: model.metadata().map(str::to_owned),
        },
    }
}

/// `PARAMETER_BYTES + TrainState::<N, O>::BYTES` for a network of
/// `parameters` values and `activations` layer outputs, trained with an
/// optimizer of `buffers` state buffers: the network, one sample's
/// activations and deltas, the batch gradient, the buffers, and the
/// counters and generator.
pub fn training_ram_bytes(parameters: usize, activations: usize, buffers: usize, width: usize) -> usize {
    let values = parameters * (2 + buffers) + 2 * activations;
    // The struct is aligned to the scalar: the counters round up to it.
    values * width + COUNTER_BYTES.next_multiple_of(width)
}

impl Summary {
    /// The summary as text for a person.
    pub fn human(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = self.write_human(&mut out);
        out
    }

    fn write_human(&self, out: &mut String) -> std::fmt::Result {
        let m = &self.memory;
        writeln!(out, "file           {}", self.file)?;
        writeln!(
            out,
            "status         {} (format version {}, {} bytes, CRC-32 {})",
            self.status, self.format_version, self.file_bytes, self.checksum
        )?;
        writeln!(out, "architecture   {} ({})", self.architecture, self.scalar)?;
        for (i, l) in self.layers.iter().enumerate() {
            let frozen = if l.frozen { ", frozen" } else { "" };
            writeln!(
                out,
                "  layer {i}      {}→{} {}{frozen}, {} parameters",
                l.inputs, l.outputs, l.activation, l.parameters
            )?;
        }
        writeln!(out, "parameters     {} ({} trainable)", self.parameters, self.trainable_parameters)?;
        writeln!(out, "flash          {} bytes of parameters", m.flash_bytes)?;
        writeln!(
            out,
            "inference RAM  {} bytes with the parameters in RAM, {} with them in flash",
            m.inference_ram_bytes, m.activation_bytes
        )?;
        let s = &self.sections;
        write!(out, "training RAM   {} bytes with {}", m.training_ram_bytes, m.training_optimizer)?;
        if s.optimizer.is_none() {
            // One state buffer is one value per parameter.
            write!(out, " (none stored; momentum adds {0}, adam {1})", m.flash_bytes, 2 * m.flash_bytes)?;
        }
        writeln!(out)?;
        match &s.optimizer {
            Some(o) => {
                let values: Vec<String> =
                    o.hyperparameters.iter().map(|(name, v)| format!("{name} {}", number(*v))).collect();
                let values = if values.is_empty() { String::new() } else { format!(" ({})", values.join(", ")) };
                writeln!(out, "optimizer      {}{values}", o.kind)?;
            }
            None => writeln!(out, "optimizer      none stored (a model, not a checkpoint)")?,
        }
        if let Some(t) = &s.training {
            write!(
                out,
                "training       epoch {} of {}, {} steps, batch size {}, {}, l2 {}",
                t.epoch,
                t.epochs,
                t.steps,
                t.batch_size,
                t.schedule,
                number(t.l2)
            )?;
            if t.l1 != 0.0 {
                write!(out, ", l1 {}", number(t.l1))?;
            }
            if t.clip_norm != 0.0 {
                write!(out, ", clip norm {}", number(t.clip_norm))?;
            }
            if t.frozen_layers != 0 {
                write!(out, ", first {} layers frozen", t.frozen_layers)?;
            }
            if let Some(rates) = &t.dropout {
                let rates: Vec<String> = rates.iter().map(|&p| number(p)).collect();
                write!(out, ", dropout {}", rates.join(","))?;
            }
            writeln!(out)?;
        }
        writeln!(
            out,
            "scaling        {}",
            if s.scaling { "inputs standardised (offset and scale stored)" } else { "none" }
        )?;
        if let Some(text) = &s.metadata {
            let lines: Vec<&str> = text.lines().collect();
            writeln!(out, "metadata       {}", lines.join("; "))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arch::{self, Architecture, HiddenActivation, NetworkVisitor};
    use mlp_core::optim::{Adagrad, Adam, AdamW, Momentum, Nesterov, Optimizer, RmsProp, Sgd};
    use mlp_core::{Network, TrainState, Zeroed};

    /// (inference bytes, training bytes per optimizer) from the core's constants.
    struct Constants;
    impl NetworkVisitor for Constants {
        type Output = (usize, usize, usize, Vec<(OptimizerKind, usize)>);
        fn visit<N, const I: usize, const O: usize>(self) -> Self::Output
        where
            N: Network<Scalar = f32, Input = [f32; I], Output = [f32; O]> + Zeroed,
        {
            fn training<N: Network, O: Optimizer>() -> usize {
                N::PARAMETER_BYTES + TrainState::<N, O>::BYTES
            }
            let per_optimizer = vec![
                (OptimizerKind::Sgd, training::<N, Sgd>()),
                (OptimizerKind::Momentum, training::<N, Momentum>()),
                (OptimizerKind::Nesterov, training::<N, Nesterov>()),
                (OptimizerKind::Adagrad, training::<N, Adagrad>()),
                (OptimizerKind::RmsProp, training::<N, RmsProp>()),
                (OptimizerKind::Adam, training::<N, Adam>()),
                (OptimizerKind::AdamW, training::<N, AdamW>()),
            ];
            (N::ALL_PARAMETERS, N::INFERENCE_BYTES, N::TRAINING_BYTES, per_optimizer)
        }
    }

    #[test]
    fn memory_matches_the_core_constants() {
        for hidden in arch::supported_hidden(64, 10) {
            let a =
                Architecture { inputs: 64, hidden: hidden.to_vec(), outputs: 10, activation: HiddenActivation::Relu };
            let (parameters, inference, momentum, per_optimizer) = arch::with_network(&a, Constants).unwrap();
            let activations: usize = hidden.iter().sum::<usize>() + 10;
            assert_eq!((parameters + activations) * 4, inference, "{}", a.name());
            assert_eq!(training_ram_bytes(parameters, activations, 1, 4), momentum, "{}", a.name());
            for (kind, bytes) in per_optimizer {
                assert_eq!(
                    training_ram_bytes(parameters, activations, kind.buffers(), 4),
                    bytes,
                    "{} {kind}",
                    a.name()
                );
            }
        }
    }
}
