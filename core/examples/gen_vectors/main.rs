//! Writes every vector file of `vectors/` (see `vectors/README.md`).
//!
//! Run from the workspace root: `cargo run -p atsreuse-core --example gen_vectors -- vectors`.
//! The output is deterministic (fixed seeds, fixed times): running it twice gives the same
//! bytes, and the `vectors` test fails when the committed files differ from a fresh run.
//!
//! The `vectors` test compiles this file too (by `#[path]`, with `crypto` and `keyring`), to
//! regenerate into a temporary directory; so it and its modules use only std, serde,
//! serde_json, hex, rand_chacha and atsreuse_core, and the helpers both halves share live here.

use std::fmt::Debug;
use std::io;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use atsreuse_core::keys::{ClusterKeys, Psk};
use rand_chacha::rand_core::RngCore;
use rand_chacha::ChaCha20Rng;
use serde::Serialize;

pub(crate) mod crypto;
pub(crate) mod keyring;

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

/// Pretty JSON with a final newline, the committed form.
fn write_json(dir: &Path, name: &str, value: &impl Serialize) -> io::Result<()> {
    let mut text = serde_json::to_string_pretty(value).map_err(io::Error::other)?;
    text.push('\n');
    std::fs::write(dir.join(name), text)
}

/// `Prefix::Variant` for an error, as the files name them.
fn error_name(prefix: &str, e: impl Debug) -> String {
    format!("{prefix}::{e:?}")
}

/// Checks that the code fails as the case says, before the case is written.
fn expect_error(name: &str, expected: &str, got: Option<String>) -> String {
    assert_eq!(
        got.as_deref(),
        Some(expected),
        "negative case '{name}' fails otherwise"
    );
    expected.to_string()
}

/// `N` bytes from the file's seeded RNG.
fn random<const N: usize>(rng: &mut ChaCha20Rng) -> [u8; N] {
    let mut bytes = [0u8; N];
    rng.fill_bytes(&mut bytes);
    bytes
}

/// The cluster keys of a generator PSK file and cluster name, both fixed in the source.
fn cluster_keys(psk: &[u8], cluster: &str) -> ClusterKeys {
    let psk = Psk::from_file_bytes(psk).expect("generator psk");
    ClusterKeys::derive(&psk, cluster).expect("generator cluster")
}
