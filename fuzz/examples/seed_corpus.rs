//! Writes the fuzz target's starting corpus: every seed file of
//! `mlp_fuzz::seeds`, once as it is and once with the first byte that asks
//! the target to repair the checksum of what the fuzzer makes of it.
//!
//! `cargo run --example seed_corpus -- DIR` (default `corpus/model_reader`).

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let dir = std::env::args_os().nth(1).map_or_else(|| PathBuf::from("corpus/model_reader"), PathBuf::from);
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("seed_corpus: cannot create {}: {e}", dir.display());
        return ExitCode::FAILURE;
    }
    let seeds = mlp_fuzz::seeds();
    for (name, bytes) in &seeds {
        // A seed the readers refuse would start the fuzzer from the wrong
        // place: a model must be read by its network type, a checkpoint by
        // its (network, optimizer) pair too.
        let checkpoint = mlp_core::model::Model::parse(bytes).is_ok_and(|m| m.training().is_some());
        let accepted = mlp_fuzz::read_every_way(bytes);
        if accepted < 1 + usize::from(checkpoint) {
            eprintln!("seed_corpus: seed {name} is read by {accepted} of the target's readers");
            return ExitCode::FAILURE;
        }
        for mode in [0u8, 1] {
            let path = dir.join(format!("seed-{name}-{mode}"));
            let file: Vec<u8> = std::iter::once(mode).chain(bytes.iter().copied()).collect();
            if let Err(e) = std::fs::write(&path, file) {
                eprintln!("seed_corpus: cannot write {}: {e}", path.display());
                return ExitCode::FAILURE;
            }
        }
    }
    println!("seed_corpus: {} seed files in {}", 2 * seeds.len(), dir.display());
    ExitCode::SUCCESS
}
