//! One module per subcommand, each a clap `Cmd` with `run() -> anyhow::Result<()>`.

pub mod args;
pub mod train;
