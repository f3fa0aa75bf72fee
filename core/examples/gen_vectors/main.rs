//! Writes every vector file of `vectors/` (see `vectors/README.md`).
//!
//! Run from the workspace root: `cargo run -p atsreuse-core --example gen_vectors -- vectors`.
//! The output is deterministic (fixed seeds, fixed times): running it twice gives the same
//! bytes, and the `vectors` test fails when the committed files differ from a fresh run.

use std::path::PathBuf;
use std::process::ExitCode;

mod crypto;
mod keyring;

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let (Some(dir), None) = (args.next(), args.next()) else {
        eprintln!("usage: gen_vectors <output directory>");
        return ExitCode::from(2);
    };
    let dir = PathBuf::from(dir);
    let written = std::fs::create_dir_all(&dir)
        .and_then(|()| crypto::generate(&dir))
        .and_then(|()| keyring::generate(&dir));
    match written {
        Ok(()) => {
            println!("vectors written to {}", dir.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("gen_vectors: cannot write to {}: {e}", dir.display());
            ExitCode::FAILURE
        }
    }
}
