//! Regenerates `fixtures/crosscheck/`, the golden values the firmware checks
//! its own results against (Rust source, `*.rs`, and model files, `*.mlpm`):
//! `cargo run -p mlp-tests --bin crosscheck-fixtures`.

use std::process::ExitCode;

use mlp_tests::crosscheck::{fixture_dir, generate};

fn main() -> ExitCode {
    let fixtures = match generate() {
        Ok(fixtures) => fixtures,
        Err(e) => {
            eprintln!("crosscheck-fixtures: {e}");
            return ExitCode::FAILURE;
        }
    };
    let dir = fixture_dir();
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("crosscheck-fixtures: cannot create {}: {e}", dir.display());
        return ExitCode::FAILURE;
    }
    for fixture in &fixtures {
        let path = dir.join(&fixture.name);
        if let Err(e) = std::fs::write(&path, &fixture.bytes) {
            eprintln!("crosscheck-fixtures: cannot write {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
        println!("wrote {} ({} bytes)", path.display(), fixture.bytes.len());
    }
    ExitCode::SUCCESS
}
