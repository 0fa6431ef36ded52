//! Model files on disk: reading one with errors that name the file, finding
//! the pre-built architecture it needs, loading it into that network type,
//! and writing files atomically so a failed or interrupted run never leaves
//! half a file behind.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow, bail};
use mlp_core::activation::ActivationKind;
use mlp_core::model::{self, FormatError, Model};
use mlp_core::{Network, Zeroed};

use crate::arch::{Architecture, HiddenActivation};
use crate::boxed::zeroed_box;

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
