//! One module per subcommand, each a clap `Cmd` with `run() -> anyhow::Result<()>`.

pub mod args;
pub mod eval;
pub mod export;
pub mod import;
pub mod inspect;
pub mod predict;
pub mod sweep;
pub mod train;
