//! The vector files of `vectors/`: every case must hold and every negative case must fail
//! with its named error; and the committed files must be exactly what the generator writes
//! today, so a format change without regenerated vectors fails here.

use std::fmt::Debug;
use std::path::{Path, PathBuf};

use atsreuse_core::keys::{ClusterKeys, Psk};
use serde_json::Value;

mod crypto;
mod keyring;

// The generator itself, compiled into this test to regenerate into a temporary directory
// (its `main` is not called here).
#[path = "../../examples/gen_vectors/main.rs"]
#[allow(dead_code)]
mod gen_vectors;

/// Reads a vector file as JSON and checks its frame: `format` is the file name without
/// `.json`, `schema` is 1, `provenance` is not empty.
fn load(dir: &Path, name: &str) -> Value {
    let text = std::fs::read_to_string(dir.join(name)).expect("vector file readable");
    let json: Value = serde_json::from_str(&text).expect("vector file is JSON");
    assert_eq!(
        json["format"],
        name.trim_end_matches(".json"),
        "{name}: format"
    );
    assert_eq!(json["schema"], 1, "{name}: schema");
    assert!(
        json["provenance"].as_str().is_some_and(|p| !p.is_empty()),
        "{name}: provenance"
    );
    json
}

/// A string field of a case.
fn text<'v>(case: &'v Value, field: &str) -> &'v str {
    case[field]
        .as_str()
        .unwrap_or_else(|| panic!("field {field} is a string in {case}"))
}

/// A hex field of a case, decoded.
fn bytes(case: &Value, field: &str) -> Vec<u8> {
    hex::decode(text(case, field)).unwrap_or_else(|_| panic!("field {field} is hex in {case}"))
}

/// A number field of a case.
fn number(case: &Value, field: &str) -> u64 {
    case[field]
        .as_u64()
        .unwrap_or_else(|| panic!("field {field} is a number in {case}"))
}

/// A hex field of a case that must have exactly `N` bytes.
fn array<const N: usize>(case: &Value, field: &str) -> [u8; N] {
    bytes(case, field)
        .try_into()
        .unwrap_or_else(|_| panic!("field {field} has {N} bytes"))
}

/// The cluster keys of a case's `psk` (hex of the PSK file) and `cluster`.
fn cluster_keys(case: &Value) -> ClusterKeys {
    let psk = Psk::from_file_bytes(&bytes(case, "psk")).expect("case psk");
    ClusterKeys::derive(&psk, text(case, "cluster")).expect("case cluster")
}

/// `Prefix::Variant` for an error, as the files name them.
fn error_name(prefix: &str, e: impl Debug) -> String {
    format!("{prefix}::{e:?}")
}

/// Asserts that a negative case failed with the error it names.
fn assert_error(case: &Value, got: Option<String>) {
    let expected = text(case, "error");
    assert_eq!(
        got.as_deref(),
        Some(expected),
        "negative case '{}'",
        text(case, "name")
    );
}

fn committed_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../vectors")
}

#[test]
fn every_committed_vector_holds() {
    let (cases, negative) = crypto::check_all(&committed_dir());
    keyring::check_all(&committed_dir());
    println!("crypto vectors: {cases} cases and {negative} negative cases checked");
}

/// The `.json` files of a directory, by name.
fn json_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("vector directory readable")
        .map(|entry| {
            entry
                .expect("directory entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|name| name.ends_with(".json"))
        .collect();
    names.sort();
    names
}

/// A temporary directory removed when dropped, also when the test fails.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn committed_vectors_are_what_the_generator_writes_today() {
    let name = format!("atsreuse-vectors-{}", std::process::id());
    let fresh = TempDir(std::env::temp_dir().join(name));
    std::fs::create_dir_all(&fresh.0).expect("temp dir");
    gen_vectors::crypto::generate(&fresh.0).expect("generate crypto vectors");
    gen_vectors::keyring::generate(&fresh.0).expect("generate keyring vectors");

    let generated = json_files(&fresh.0);
    assert_eq!(
        generated,
        json_files(&committed_dir()),
        "set of vector files differs"
    );
    for file in &generated {
        let new = std::fs::read(fresh.0.join(file)).expect("generated file");
        let old = std::fs::read(committed_dir().join(file)).expect("committed file");
        let regenerate = "cargo run -p atsreuse-core --example gen_vectors -- vectors";
        assert!(new == old, "vectors/{file} is stale: run `{regenerate}`");
    }
}
