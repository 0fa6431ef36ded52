//! Gives each program its own `memory.x`: `memory/<bin>.x` where the program
//! has a RAM budget, `memory/default.x` otherwise. cortex-m-rt's `link.x`
//! includes `memory.x` from the linker's search path, so each program gets a
//! directory holding only its own copy.
//!
//! The linker scripts are passed here too, after that directory: GNU ld
//! (the Debian route's linker) reads `link.x` as soon as it meets `-T`, with
//! only the search paths given before it.
use std::{env, fs, path::Path};

fn main() {
    let out = env::var_os("OUT_DIR").expect("cargo sets OUT_DIR");
    let out = Path::new(&out);
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=memory");
    println!("cargo:rerun-if-changed=src/bin");
    let bins = fs::read_dir("src/bin").expect("src/bin lists the programs");
    for entry in bins {
        let path = entry.expect("src/bin is readable").path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_suffix(".rs")) else {
            continue;
        };
        let own = Path::new("memory").join(format!("{name}.x"));
        let memory = if own.exists() { own } else { Path::new("memory").join("default.x") };
        let dir = out.join("memory").join(name);
        fs::create_dir_all(&dir).expect("OUT_DIR is writable");
        fs::copy(&memory, dir.join("memory.x")).expect("the memory file is readable");
        println!("cargo:rustc-link-arg-bin={name}=-L{}", dir.display());
        // link.x: cortex-m-rt's layout; defmt.x: the log strings' table, which defmt-print reads.
        println!("cargo:rustc-link-arg-bin={name}=-Tlink.x");
        println!("cargo:rustc-link-arg-bin={name}=-Tdefmt.x");
    }
}
