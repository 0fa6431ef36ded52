//! `host-cli export MODEL --format rust|c|bin|safetensors`: a model file as
//! Rust source, a C header, the checked file itself, or safetensors.

use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail};
use clap::Args;
use host_cli::export::{self, Exported, Format};
use host_cli::modelfile::{ModelFile, write_atomic};

/// Export a model file for firmware or other tools.
///
/// rust: the network as a `static` of its mlp-core type, every value as its
/// f32 bits (for `include!`). c: a C99 header with the weights, biases and a
/// forward function computing what mlp-core computes. bin: the model file,
/// checked (for `include_bytes!`). safetensors: PyTorch `nn.Sequential` of
/// `nn.Linear` names and layout (`0.weight` [outputs, inputs], `0.bias`, then
/// `2.weight`, …).
#[derive(Debug, Args)]
pub struct Cmd {
    /// The model file.
    #[arg(value_name = "MODEL")]
    model: PathBuf,

    /// What to write.
    #[arg(long, short, value_enum)]
    format: Format,

    /// Write to this file (atomically) instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    out: Option<PathBuf>,
}

impl Cmd {
    pub fn run(self) -> anyhow::Result<()> {
        if self.out.is_none() && !self.format.is_text() && io::stdout().is_terminal() {
            bail!("{}: refusing to write binary output to a terminal; give -o FILE or redirect", self.model.display());
        }
        let file = ModelFile::read(&self.model)?;
        let bytes = exported_bytes(&file, self.format)?;
        match &self.out {
            Some(path) => write_atomic(path, &bytes),
            None => {
                let mut stdout = io::stdout().lock();
                stdout.write_all(&bytes)?;
                Ok(stdout.flush()?)
            }
        }
    }
}

/// The bytes `export --format format` writes for `file`.
fn exported_bytes(file: &ModelFile, format: Format) -> anyhow::Result<Vec<u8>> {
    if format == Format::Bin {
        // Already checked by `ModelFile::read`: magic, version, checksum, values, sections.
        return Ok(file.bytes.clone());
    }
    let exported = Exported::from_model(&file.model()).map_err(|e| anyhow!("{}: {e}", file.path.display()))?;
    let name = source_name(&file.path);
    Ok(match format {
        Format::Rust => export::rust::source(&exported, &name).into_bytes(),
        Format::C => export::c::header(&exported, &name).into_bytes(),
        Format::Safetensors => export::safetensors::to_bytes(&exported),
        Format::Bin => file.bytes.clone(),
    })
}

/// The file name alone: generated comments do not depend on where it was read from.
fn source_name(path: &Path) -> String {
    path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned())
}
