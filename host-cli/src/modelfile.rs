//! Model files on disk: reading one with errors that name the file, finding
//! the pre-built architecture it needs, loading it into that network type,
//! and writing files atomically so a failed or interrupted run never leaves
//! half a file behind.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow, bail};
use mlp_core::activation::ActivationKind;
use mlp_core::model::{self, Extras, FormatError, Model, Scaling};
use mlp_core::{Network, TrainState, Zeroed};

use crate::arch::{Architecture, HiddenActivation, NetworkVisitor};
use crate::boxed::zeroed_box;
use crate::export::Exported;
use crate::optim::AnyOptimizer;

/// Model files larger than this are refused before reading: far above any
/// pre-built architecture's checkpoint, so a wrong path (a disk image, a
/// data set) fails fast instead of filling memory.
pub const MAX_MODEL_BYTES: u64 = 256 << 20;

/// A model file read from disk and checked (magic, version, length,
/// checksum, layer table, finite values, sections).
#[derive(Clone, Debug)]
pub struct ModelFile {
    /// Where it was read from.
    pub path: PathBuf,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

impl ModelFile {
    /// Reads and checks `path`; every error names the file.
    pub fn read(path: &Path) -> anyhow::Result<Self> {
        let metadata = fs::metadata(path).with_context(|| format!("cannot read model file {}", path.display()))?;
        if metadata.is_dir() {
            bail!("cannot read model file {}: it is a directory", path.display());
        }
        if metadata.len() > MAX_MODEL_BYTES {
            bail!(
                "{}: {} bytes is larger than any model this build can hold ({} MiB at most); is it a model file?",
                path.display(),
                metadata.len(),
                MAX_MODEL_BYTES >> 20
            );
        }
        let bytes = fs::read(path).with_context(|| format!("cannot read model file {}", path.display()))?;
        Model::parse(&bytes).map_err(|e| file_error(path, e))?;
        Ok(ModelFile { path: path.to_path_buf(), bytes })
    }

    /// The parsed view (already checked by [`read`](ModelFile::read)).
    pub fn model(&self) -> Model<'_> {
        Model::parse(&self.bytes).expect("checked when read")
    }

    /// The pre-built architecture the file needs, or an error that says why
    /// none fits (naming the file).
    pub fn architecture(&self) -> anyhow::Result<Architecture> {
        architecture_of(&self.model()).map_err(|e| anyhow!("{}: {e}", self.path.display()))
    }
}

/// `FILE: message`, for a format error in a file.
pub fn file_error(path: &Path, e: FormatError) -> anyhow::Error {
    anyhow!("{}: {e}", path.display())
}

/// The activation as `--activation` names it, for a hidden layer.
pub fn hidden_activation(kind: ActivationKind) -> Option<HiddenActivation> {
    match kind {
        ActivationKind::Relu => Some(HiddenActivation::Relu),
        ActivationKind::Sigmoid => Some(HiddenActivation::Sigmoid),
        ActivationKind::Tanh => Some(HiddenActivation::Tanh),
        ActivationKind::LeakyRelu => Some(HiddenActivation::LeakyRelu),
        ActivationKind::Identity => None,
    }
}

/// The file's layers as an [`Architecture`]: `f32`, one activation for
/// every hidden layer, logits out (identity). Whether it is compiled in is
/// checked by [`crate::arch::with_network`].
pub fn architecture_of(model: &Model<'_>) -> anyhow::Result<Architecture> {
    if model.scalar() != 1 {
        bail!("the model stores {} values; host-cli's networks are f32", model.scalar_name());
    }
    let layers: Vec<_> = model.layers().collect();
    let (last, hidden) = layers.split_last().ok_or_else(|| anyhow!("the model has no layers"))?;
    if last.activation != ActivationKind::Identity {
        bail!(
            "the output layer uses {}; host-cli's networks end in logits (identity) for softmax cross-entropy",
            last.activation
        );
    }
    let activation = match hidden.first() {
        None => HiddenActivation::Relu,
        Some(first) => hidden_activation(first.activation).ok_or_else(|| {
            anyhow!("hidden layer 0 uses identity; host-cli's hidden layers use relu, sigmoid, tanh or leaky-relu")
        })?,
    };
    if let Some((i, layer)) =
        hidden.iter().enumerate().find(|(_, l)| hidden_activation(l.activation) != Some(activation))
    {
        bail!(
            "hidden layer {i} uses {} but layer 0 uses {}; host-cli's networks use one hidden activation",
            layer.activation,
            activation.name()
        );
    }
    Ok(Architecture {
        inputs: layers[0].inputs,
        hidden: hidden.iter().map(|l| l.outputs).collect(),
        outputs: last.outputs,
        activation,
    })
}

/// Reads the file's parameters into a fresh boxed `N` (zeroed on the heap:
/// big networks never pass through the stack).
pub fn load_network<N: Network + Zeroed>(file: &ModelFile) -> anyhow::Result<Box<N>> {
    let mut net = zeroed_box::<N>();
    model::read_model(&file.bytes, &mut *net).map_err(|e| file_error(&file.path, e))?;
    Ok(net)
}

/// A classifier's padding masked: [`mask_outputs`] with [`MASKED_BIAS`] for
/// the outputs from `classes` on, which then never win.
pub fn mask_padding(bytes: &[u8], features: usize, classes: usize) -> anyhow::Result<Vec<u8>> {
    mask_outputs(bytes, features, classes, MASKED_BIAS)
}

/// The first layer's weights from input `features` on set to 0, and the
/// last layer's outputs from `outputs` on given weights 0 and bias `bias`: a
/// network of a compiled-in shape that computes exactly what one of
/// `features` inputs and `outputs` outputs would.
///
/// Training keeps it so. The padding inputs are always 0. With
/// [`MASKED_BIAS`], an extra class is never a target, so the softmax gives it
/// probability exactly 0 (its logit is far below where `exp` underflows);
/// with bias 0, an extra output of a regression network has target 0, which
/// it already gives. Either way every gradient that reaches those weights
/// and biases is exactly 0.
pub fn mask_outputs(bytes: &[u8], features: usize, outputs: usize, bias: f32) -> anyhow::Result<Vec<u8>> {
    let mut exported = Exported::from_model(&Model::parse(bytes)?)?;
    if let Some(first) = exported.layers.first_mut() {
        let outputs = first.outputs;
        first.weights[features.min(first.inputs) * outputs..].fill(0.0);
    }
    if let Some(last) = exported.layers.last_mut() {
        for o in outputs..last.outputs {
            for i in 0..last.inputs {
                last.weights[i * last.outputs + o] = 0.0;
            }
            last.biases[o] = bias;
        }
    }
    crate::export::model_file(&exported)
}

/// The bias of an output that stands for no class: its softmax probability
/// is exactly 0 while the other logits are above about −10³⁰ + 88.
pub const MASKED_BIAS: f32 = -1e30;

/// A model file of `arch` initialised as a fresh run would start it: `init`
/// drawn from [`crate::run::training_rng`]`(seed)`.
pub fn initial_model(arch: &Architecture, init: mlp_core::Init, seed: u64) -> anyhow::Result<Vec<u8>> {
    crate::arch::with_network(arch, Initial { init, seed }).map_err(|e| anyhow!(e))?
}

struct Initial {
    init: mlp_core::Init,
    seed: u64,
}

impl NetworkVisitor for Initial {
    type Output = anyhow::Result<Vec<u8>>;
    fn visit<N, const I: usize, const O: usize>(self) -> Self::Output
    where
        N: Network<Scalar = f32, Input = [f32; I], Output = [f32; O]> + Zeroed,
    {
        let mut net = zeroed_box::<N>();
        net.initialize(self.init, &mut crate::run::training_rng(self.seed))?;
        let mut bytes = vec![0; N::MODEL_BYTES];
        let written = model::write_model(&*net, &mut bytes)?;
        bytes.truncate(written);
        Ok(bytes)
    }
}

/// The model file or checkpoint `bytes` (of `arch`) with its inputs'
/// scaling section set to `offset` and `scale`; everything else as it was.
pub fn with_scaling(bytes: &[u8], arch: &Architecture, offset: &[f32], scale: &[f32]) -> anyhow::Result<Vec<u8>> {
    crate::arch::with_network(arch, Rescaler { bytes, offset, scale }).map_err(|e| anyhow!(e))?
}

struct Rescaler<'a> {
    bytes: &'a [u8],
    offset: &'a [f32],
    scale: &'a [f32],
}

impl NetworkVisitor for Rescaler<'_> {
    type Output = anyhow::Result<Vec<u8>>;
    fn visit<N, const I: usize, const O: usize>(self) -> Self::Output
    where
        N: Network<Scalar = f32, Input = [f32; I], Output = [f32; O]> + Zeroed,
    {
        let model = Model::parse(self.bytes)?;
        let metadata = model.metadata();
        let scaling = Some(Scaling { offset: self.offset, scale: self.scale });
        let mut net = zeroed_box::<N>();
        let mut state = zeroed_box::<TrainState<N, AnyOptimizer>>();
        let config;
        let extras = if model.training().is_some() {
            config = model::read_checkpoint(self.bytes, &mut *net, &mut state.persistent)?;
            Extras { training: Some((&state.persistent, &config)), scaling, metadata }
        } else {
            model::read_model(self.bytes, &mut *net)?;
            Extras::<N, AnyOptimizer> { training: None, scaling, metadata }
        };
        let mut out = vec![0; model::written_bytes(&extras)];
        let written = model::write(&*net, extras, &mut out)?;
        out.truncate(written);
        Ok(out)
    }
}

/// Writes `bytes` to `path` atomically: into a temporary file in the same
/// directory, flushed to disk, then renamed over `path`. A failure at any
/// point removes the temporary file and leaves `path` as it was.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path.file_name().ok_or_else(|| anyhow!("cannot write {}: not a file name", path.display()))?;
    if path.is_dir() {
        bail!("cannot write {}: it is a directory", path.display());
    }
    let temporary = dir.join(format!(".{}.{}.tmp", name.to_string_lossy(), std::process::id()));
    let result = (|| {
        let mut file = File::create(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&temporary, path)
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&temporary);
        return Err(e).with_context(|| format!("cannot write {}", path.display()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use mlp_core::activation::Relu;
    use mlp_core::{Dense, layers};

    type Net = layers![Dense<f32, 64, 16, Relu>, Dense<f32, 16, 10>];

    #[test]
    fn architecture_and_load_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.mlpm");
        let mut net = zeroed_box::<Net>();
        net.head.biases[3] = 1.5;
        let mut bytes = vec![0; Net::MODEL_BYTES];
        model::write_model(&*net, &mut bytes).unwrap();
        write_atomic(&path, &bytes).unwrap();
        let file = ModelFile::read(&path).unwrap();
        let arch = file.architecture().unwrap();
        assert_eq!((arch.inputs, arch.hidden.clone(), arch.outputs), (64, vec![16], 10));
        assert_eq!(arch.activation, HiddenActivation::Relu);
        assert_eq!(*load_network::<Net>(&file).unwrap(), *net);
        // Only the file itself is left in the directory.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.mlpm");
        fs::write(&path, b"MLPM\x01\x00").unwrap();
        let message = ModelFile::read(&path).unwrap_err().to_string();
        assert!(message.contains("bad.mlpm") && message.contains("truncated"), "{message}");
        let message = ModelFile::read(&dir.path().join("missing")).unwrap_err().to_string();
        assert!(message.contains("missing"), "{message}");
        // A failed write leaves nothing behind.
        assert!(write_atomic(&dir.path().join("no/such/dir/m"), b"x").is_err());
        assert!(write_atomic(dir.path(), b"x").is_err());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
