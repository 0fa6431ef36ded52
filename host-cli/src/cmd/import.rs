//! `host-cli import FILE.safetensors -o MODEL`: a network from PyTorch-style
//! safetensors into a model file.

use std::fs;
use std::path::PathBuf;

use anyhow::{Context, anyhow, bail};
use clap::Args;
use host_cli::arch::HiddenActivation;
use host_cli::export::{self, safetensors::ImportOptions};
use host_cli::modelfile::{MAX_MODEL_BYTES, write_atomic};

/// Import a network from safetensors into a model file.
///
/// The file holds `nn.Sequential` of `nn.Linear` tensors as PyTorch names
/// them: `0.weight` [outputs, inputs] and `0.bias` [outputs] for the first
/// layer, `2.weight` and `2.bias` for the second, and so on, all F32.
/// `--arch` and `--activation` may be left out when the file says them (as
/// files from `host-cli export --format safetensors` do). The architecture
/// must be one host-cli has compiled in.
#[derive(Debug, Args)]
pub struct Cmd {
    /// The safetensors file.
    #[arg(value_name = "FILE")]
    file: PathBuf,

    /// Layer widths, inputs to outputs: 64-32-10.
    #[arg(long, value_name = "SIZES")]
    arch: Option<String>,

    /// Activation of the hidden layers (the output layer gives logits).
    #[arg(long, value_enum)]
    activation: Option<HiddenActivation>,

    /// The model file to write (atomically).
    #[arg(long, short, value_name = "MODEL")]
    out: PathBuf,
}

impl Cmd {
    pub fn run(self) -> anyhow::Result<()> {
        let path = &self.file;
        let metadata = fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
        if metadata.is_dir() {
            bail!("cannot read {}: it is a directory", path.display());
        }
        if metadata.len() > MAX_MODEL_BYTES {
            bail!("{}: {} bytes is larger than any network this build can hold", path.display(), metadata.len());
        }
        let bytes = fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        let options = ImportOptions { architecture: self.arch.clone(), activation: self.activation };
        let exported =
            export::safetensors::from_bytes(&bytes, &options).map_err(|e| anyhow!("{}: {e}", path.display()))?;
        let model = export::model_file(&exported).map_err(|e| anyhow!("{}: {e:#}", path.display()))?;
        write_atomic(&self.out, &model)
    }
}
