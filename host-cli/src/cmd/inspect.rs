//! `host-cli inspect MODEL`: what a model file holds and what it needs on a device.

use std::io::{self, Write};
use std::path::PathBuf;

use clap::Args;
use host_cli::export::summary;
use host_cli::modelfile::ModelFile;

/// Describe a model file: architecture, parameters, memory on a device, sections.
///
/// The file is checked first (checksum, every value, every section); a file
/// that fails is an error. Memory: flash for the parameters, RAM for
/// inference (with the parameters in RAM or in flash) and for training with
/// the stored optimizer, as the core's constants give them.
#[derive(Debug, Args)]
pub struct Cmd {
    /// The model file.
    #[arg(value_name = "MODEL")]
    model: PathBuf,

    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

impl Cmd {
    pub fn run(self) -> anyhow::Result<()> {
        let file = ModelFile::read(&self.model)?;
        let summary = summary::summarize(&file.model(), &self.model.display().to_string());
        let mut out = io::stdout().lock();
        if self.json {
            writeln!(out, "{}", serde_json::to_string(&summary)?)?;
        } else {
            write!(out, "{}", summary.human())?;
        }
        Ok(out.flush()?)
    }
}
