//! Vectors for the STEK export layouts and the keyring (`stek.json`, `keyring.json`).
//!
//! Compiled into the `gen_vectors` example and, by `#[path]`, into the `vectors` test: keep
//! it self-contained (std, serde, serde_json, hex, rand_chacha, atsreuse_core).
//!
//! Placeholder left by the crypto half: it writes no file yet. The keyring owner fills it in;
//! until then the vectors test checks no STEK or keyring vectors.

use std::io;
use std::path::Path;

/// Writes `stek.json` and `keyring.json` into `dir`.
pub fn generate(dir: &Path) -> io::Result<()> {
    let _ = dir;
    Ok(())
}
