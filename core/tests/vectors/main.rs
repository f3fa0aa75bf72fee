//! The vector files of `vectors/`: every case must hold and every negative case must fail
//! with its named error; and the committed files must be exactly what the generator writes
//! today, so a format change without regenerated vectors fails here.

use std::path::{Path, PathBuf};

mod crypto;
mod keyring;

// The generator itself, compiled into this test to regenerate into a temporary directory.
#[path = "../../examples/gen_vectors/crypto.rs"]
mod gen_crypto;
#[path = "../../examples/gen_vectors/keyring.rs"]
mod gen_keyring;

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
    gen_crypto::generate(&fresh.0).expect("generate crypto vectors");
    gen_keyring::generate(&fresh.0).expect("generate keyring vectors");

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
