//! Checks `stek.json` and `keyring.json` against the code.
//!
//! Placeholder left by the crypto half: it checks nothing yet. The keyring owner fills it in.

use std::path::Path;

/// Runs every case and negative case of the STEK and keyring files in `dir`.
pub fn check_all(dir: &Path) {
    let _ = dir;
}
