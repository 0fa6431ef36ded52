//! `host-cli`: train and evaluate mlp-core networks on a workstation.

use std::io;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cmd;

/// Train and evaluate mlp-core networks on a workstation.
#[derive(Debug, Parser)]
#[command(name = "host-cli", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// Parsed once per run: the size of the largest command's flags does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
enum Command {
    Train(cmd::train::Cmd),
    Eval(cmd::eval::Cmd),
    Predict(cmd::predict::Cmd),
    Export(cmd::export::Cmd),
    Import(cmd::import::Cmd),
    Inspect(cmd::inspect::Cmd),
    Sweep(cmd::sweep::Cmd),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Train(cmd) => cmd.run(),
        Command::Eval(cmd) => cmd.run(),
        Command::Predict(cmd) => cmd.run(),
        Command::Export(cmd) => cmd.run(),
        Command::Import(cmd) => cmd.run(),
        Command::Inspect(cmd) => cmd.run(),
        Command::Sweep(cmd) => cmd.run(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // `host-cli … | head` is not a failure.
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        // Ctrl-C: the run has said where it saved its checkpoint; 128 + SIGINT, as shells report it.
        Err(e) if e.is::<cmd::train::Interrupted>() => ExitCode::from(130),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| cause.downcast_ref::<io::Error>().is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe))
}
