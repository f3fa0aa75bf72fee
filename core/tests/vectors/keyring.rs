//! Runs `stek.json`, `ats_block.json` and `keyring.json` against the code.
//!
//! The files are read as plain JSON values, field by field as `vectors/README.md` describes
//! them (not through the generator's types), the way the C vector runner reads them. Export
//! layouts are also checked against the field orders written in the README, independently
//! of the code that made them.

use std::path::Path;

use atsreuse_core::envelope::{Kind, Sealer};
use atsreuse_core::keyring::{self, KeyEntry, KeyTimes, Keyring, KeyringOpenError};
use atsreuse_core::keys::NodeId;
use atsreuse_core::stek::{Layout, Stek};
use serde_json::Value;

use super::{array, assert_error, bytes, cluster_keys, error_name, load, number, text};

fn list<'v>(json: &'v Value, key: &str) -> &'v [Value] {
    let list = json[key].as_array().expect("cases and negative are arrays");
    assert!(!list.is_empty(), "no {key}");
    list
}

fn name(case: &Value) -> &str {
    text(case, "name")
}

fn stek_of(case: &Value) -> Result<Stek, String> {
    let parts = (
        array(case, "stek_name"),
        array(case, "hmac_key"),
        array(case, "aes_key"),
    );
    Stek::from_parts(parts.0, parts.1, parts.2).map_err(|e| error_name("StekError", e))
}

fn layout(text: &str) -> Layout {
    match text {
        "ats" => Layout::Ats,
        "nginx48" => Layout::Nginx48,
        "nginx80" => Layout::Nginx80,
        "haproxy48" => Layout::Haproxy48,
        "haproxy80" => Layout::Haproxy80,
        other => panic!("unknown layout {other}"),
    }
}

fn keyring_of(case: &Value, field: &str) -> Keyring {
    Keyring::decode(&bytes(case, field))
        .unwrap_or_else(|e| panic!("'{}': {field} decodes: {e:?}", name(case)))
}

fn encoded(keyring: &Keyring) -> Vec<u8> {
    let mut out = [0u8; keyring::ENCODED_MAX_LEN];
    let len = keyring.encode(&mut out).expect("buffer fits any keyring");
    out[..len].to_vec()
}

/// Runs every case of the three files; prints and returns how many ran.
pub fn check_all(dir: &Path) -> (usize, usize) {
    let counts = [check_stek(dir), check_ats_block(dir), check_keyring(dir)];
    let total = counts
        .iter()
        .fold((0, 0), |(c, n), (dc, dn)| (c + dc, n + dn));
    println!(
        "keyring vectors: {} cases and {} negative cases checked",
        total.0, total.1
    );
    total
}

fn check_stek(dir: &Path) -> (usize, usize) {
    let json = load(dir, "stek.json");
    let cases = list(&json, "cases");
    for case in cases {
        let stek = stek_of(case).expect("positive case is a valid STEK");
        let (n, h, a) = (
            bytes(case, "stek_name"),
            bytes(case, "hmac_key"),
            bytes(case, "aes_key"),
        );
        // The layouts as the README writes them.
        let want = [
            ("ats", [&n[..], &h[..16], &a[..16]].concat()),
            ("nginx48", [&n[..], &a[..16], &h[..16]].concat()),
            ("nginx80", [&n[..], &h[..], &a[..]].concat()),
            ("haproxy48", [&n[..], &a[..16], &h[..16]].concat()),
            ("haproxy80", [&n[..], &a[..], &h[..]].concat()),
        ];
        for (field, defined) in want {
            let mut out = [0u8; 80];
            let len = stek.export(layout(field), &mut out).expect("export");
            assert_eq!(
                out[..len],
                bytes(case, field),
                "'{}': {field} from the code",
                name(case)
            );
            assert_eq!(
                defined,
                bytes(case, field),
                "'{}': {field} by definition",
                name(case)
            );
        }
    }
    let negative = list(&json, "negative");
    for case in negative {
        let got = match text(case, "op") {
            "from_parts" => stek_of(case).err(),
            "export" => {
                let stek = stek_of(case).expect("export case has a valid STEK");
                let mut out = vec![0u8; usize::try_from(number(case, "buffer_len")).expect("len")];
                let result = stek.export(layout(text(case, "layout")), &mut out);
                result.err().map(|e| error_name("StekError", e))
            }
            other => panic!("unknown op {other}"),
        };
        assert_error(case, got);
    }
    (cases.len(), negative.len())
}

fn check_ats_block(dir: &Path) -> (usize, usize) {
    let json = load(dir, "ats_block.json");
    let cases = list(&json, "cases");
    for case in cases {
        let keyring = keyring_of(case, "keyring");
        let t = number(case, "t");
        let mut out = [0u8; keyring::ATS_BLOCK_MAX_LEN];
        let len = keyring.ats_block_at(t, &mut out).expect("block fits");
        assert_eq!(out[..len], bytes(case, "block"), "'{}': block", name(case));
        let encrypting = keyring.encrypting_at(t).map(|e| e.stek.name().to_vec());
        assert_eq!(
            encrypting.unwrap_or_default(),
            bytes(case, "encrypting_name"),
            "'{}'",
            name(case)
        );
        assert_eq!(
            out[..len.min(16)],
            bytes(case, "encrypting_name"),
            "'{}': first",
            name(case)
        );
    }
    let negative = list(&json, "negative");
    for case in negative {
        let keyring = keyring_of(case, "keyring");
        let mut out = vec![0u8; usize::try_from(number(case, "buffer_len")).expect("len")];
        let got = keyring.ats_block_at(number(case, "t"), &mut out).err();
        assert_error(case, got.map(|e| error_name("KeyringError", e)));
    }
    (cases.len(), negative.len())
}

fn entry_of(value: &Value) -> KeyEntry {
    let times = KeyTimes {
        introduce_at: number(value, "introduce_at"),
        activate_at: number(value, "activate_at"),
        expire_at: number(value, "expire_at"),
    };
    let stek = stek_of(value).expect("entry has a valid STEK");
    KeyEntry {
        epoch: number(value, "epoch"),
        times,
        stek,
    }
}

fn check_encode(case: &Value) {
    let entries = case["entries"].as_array().expect("entries");
    // Inserted newest first: the encoding must come out sorted anyway.
    let mut keyring = Keyring::new();
    for entry in entries.iter().rev() {
        keyring.insert(entry_of(entry)).expect("insert");
    }
    assert_eq!(
        encoded(&keyring),
        bytes(case, "encoded"),
        "'{}': encode",
        name(case)
    );
    let back = keyring_of(case, "encoded");
    assert_eq!(back.len(), entries.len());
    for (got, want) in back.entries().iter().zip(entries) {
        let want = entry_of(want);
        assert_eq!(
            (got.epoch, got.times),
            (want.epoch, want.times),
            "'{}': decode",
            name(case)
        );
        assert!(
            got.stek.same_key(&want.stek),
            "'{}': decoded key",
            name(case)
        );
    }
}

fn check_seal(case: &Value) {
    let keys = cluster_keys(case);
    let keyring = keyring_of(case, "encoded");
    let mut sealer = Sealer::new(NodeId(array(case, "node_id")));
    sealer.next_sequence = number(case, "sequence");
    let mut out = [0u8; keyring::SEALED_MAX_LEN];
    let issued_at = number(case, "issued_at");
    let len = keyring::seal(&mut sealer, &keys, issued_at, &keyring, &mut out).expect("seal");
    assert_eq!(
        out[..len],
        bytes(case, "envelope"),
        "'{}': seal",
        name(case)
    );

    let mut scratch = [0u8; keyring::ENCODED_MAX_LEN];
    let (header, opened) =
        keyring::open(&keys, &bytes(case, "envelope"), &mut scratch).expect("open");
    assert_eq!(header.kind, Kind::Keyring);
    assert_eq!(header.sender, NodeId(array(case, "node_id")));
    assert_eq!(
        (header.sequence, header.issued_at),
        (number(case, "sequence"), issued_at)
    );
    assert_eq!(
        encoded(&opened),
        bytes(case, "encoded"),
        "'{}': open",
        name(case)
    );
}

fn check_merge(case: &Value) {
    let (a, b) = (keyring_of(case, "a"), keyring_of(case, "b"));
    let now = number(case, "now");
    for (mut into, from) in [(a.duplicate(), &b), (b.duplicate(), &a)] {
        into.merge(from, now);
        assert_eq!(
            encoded(&into),
            bytes(case, "merged"),
            "'{}': merge",
            name(case)
        );
    }
}

fn open_error_name(e: KeyringOpenError) -> String {
    match e {
        KeyringOpenError::Envelope(e) => error_name("OpenError", e),
        KeyringOpenError::Keyring(e) => error_name("KeyringError", e),
        other => error_name("KeyringOpenError", other),
    }
}

fn check_keyring(dir: &Path) -> (usize, usize) {
    let json = load(dir, "keyring.json");
    let cases = list(&json, "cases");
    for case in cases {
        match text(case, "op") {
            "encode" => check_encode(case),
            "seal" => check_seal(case),
            "merge" => check_merge(case),
            other => panic!("unknown op {other}"),
        }
    }
    let negative = list(&json, "negative");
    for case in negative {
        let got = match text(case, "op") {
            "decode" => {
                let result = Keyring::decode(&bytes(case, "encoded"));
                result.err().map(|e| error_name("KeyringError", e))
            }
            "open" => {
                let keys = cluster_keys(case);
                let mut scratch = [0u8; keyring::ENCODED_MAX_LEN];
                let envelope = bytes(case, "envelope");
                let held = number(case, "held_epoch");
                let result = keyring::open_newer(&keys, &envelope, held, &mut scratch);
                result.err().map(open_error_name)
            }
            other => panic!("unknown op {other}"),
        };
        assert_error(case, got);
    }
    (cases.len(), negative.len())
}
