//! Runs `keys.json`, `envelope.json`, `session.json` and `legacy.json` against the code.
//!
//! The files are read as plain JSON values, field by field as `vectors/README.md` describes
//! them (not through the generator's types), the way the C vector runner reads them.

use std::path::Path;

use atsreuse_core::envelope::{self, Freshness, Header, Kind, Sealer};
use atsreuse_core::keys::{self, ClusterKeys, NodeId, Psk, Purpose};
use atsreuse_core::legacy::{self, LegacyKey, LegacyPskFile};
use atsreuse_core::session::{self, SessionOpenError, SessionRecord};
use serde_json::Value;

use super::{array, assert_error, bytes, cluster_keys, error_name, load, number, text};

/// A parsed vector file with its name, for messages.
struct VectorFile {
    name: String,
    json: Value,
}

impl VectorFile {
    fn load(dir: &Path, name: &str) -> VectorFile {
        let json = load(dir, name);
        VectorFile {
            name: name.to_string(),
            json,
        }
    }

    fn list(&self, key: &str) -> &[Value] {
        let list = self.json[key]
            .as_array()
            .expect("cases and negative are arrays");
        assert!(!list.is_empty(), "{}: no {key}", self.name);
        list
    }
}

fn kind(case: &Value) -> Kind {
    match text(case, "kind") {
        "Session" => Kind::Session,
        "Keyring" => Kind::Keyring,
        other => panic!("unknown kind {other}"),
    }
}

fn freshness(case: &Value) -> Freshness {
    Freshness {
        now: number(case, "now"),
        max_age_secs: number(case, "max_age_secs"),
        max_future_secs: number(case, "max_future_secs"),
    }
}

/// Runs every file of this half; returns how many cases and negative cases ran.
pub fn check_all(dir: &Path) -> (usize, usize) {
    let counts = [
        check_keys(dir),
        check_envelope(dir),
        check_session(dir),
        check_legacy(dir),
    ];
    counts
        .iter()
        .fold((0, 0), |(c, n), (dc, dn)| (c + dc, n + dn))
}

fn check_keys(dir: &Path) -> (usize, usize) {
    let file = VectorFile::load(dir, "keys.json");
    for case in file.list("cases") {
        let psk = Psk::from_file_bytes(&bytes(case, "psk")).expect("psk");
        let cluster = text(case, "cluster");
        let keys = ClusterKeys::derive(&psk, cluster).expect("keys");
        let node = NodeId(array(case, "node_id"));
        let name = text(case, "name");
        assert_eq!(psk.len() as u64, number(case, "psk_len"), "{name}");
        let expect = |field: &str, got: &[u8; 32]| {
            assert_eq!(&got[..], bytes(case, field), "{name}: {field}")
        };
        expect("sessions_key", keys.expose_purpose_key(Purpose::Sessions));
        expect("keyrings_key", keys.expose_purpose_key(Purpose::Keyrings));
        expect(
            "sender_sessions_key",
            keys.sender_key(Purpose::Sessions, &node).expose_bytes(),
        );
        expect(
            "sender_keyrings_key",
            keys.sender_key(Purpose::Keyrings, &node).expose_bytes(),
        );
        let password = keys::redis_password(&psk, cluster).expect("password");
        assert_eq!(
            &password[..],
            text(case, "redis_password").as_bytes(),
            "{name}"
        );
    }
    for case in file.list("negative") {
        let psk = Psk::from_file_bytes(&bytes(case, "psk"));
        let cluster = text(case, "cluster");
        let derived = psk
            .as_ref()
            .map_err(|e| *e)
            .and_then(|p| ClusterKeys::derive(p, cluster).map(|_| ()));
        assert_error(case, derived.err().map(|e| error_name("KeyError", e)));
        let password = psk.and_then(|p| keys::redis_password(&p, cluster));
        assert_error(case, password.err().map(|e| error_name("KeyError", e)));
    }
    (file.list("cases").len(), file.list("negative").len())
}

/// Seals `plaintext` as the case's sender at the case's sequence.
fn seal_as_case(case: &Value, plaintext: &[u8]) -> Vec<u8> {
    let mut sealer = Sealer {
        node: NodeId(array(case, "node_id")),
        next_sequence: number(case, "sequence"),
    };
    let mut out = vec![0u8; plaintext.len() + envelope::OVERHEAD];
    let n = sealer
        .seal(
            &cluster_keys(case),
            kind(case),
            number(case, "issued_at"),
            plaintext,
            &mut out,
        )
        .expect("seal");
    out.truncate(n);
    out
}

fn expected_header(case: &Value, kind: Kind) -> Header {
    Header {
        kind,
        sender: NodeId(array(case, "node_id")),
        sequence: number(case, "sequence"),
        issued_at: number(case, "issued_at"),
    }
}

fn check_envelope(dir: &Path) -> (usize, usize) {
    let file = VectorFile::load(dir, "envelope.json");
    for case in file.list("cases") {
        let name = text(case, "name");
        let plaintext = bytes(case, "plaintext");
        let sealed = bytes(case, "envelope");
        assert_eq!(seal_as_case(case, &plaintext), sealed, "{name}: seal");
        let header = expected_header(case, kind(case));
        assert_eq!(
            header.nonce().to_vec(),
            bytes(case, "nonce"),
            "{name}: nonce"
        );
        let aad = bytes(case, "aad");
        assert_eq!(
            &aad[..envelope::HEADER_LEN],
            &sealed[..envelope::HEADER_LEN],
            "{name}: aad"
        );

        let mut out = vec![0u8; sealed.len()];
        let keys = cluster_keys(case);
        let opened = envelope::open(&keys, kind(case), &sealed, Some(freshness(case)), &mut out);
        let (got_header, got) = opened.unwrap_or_else(|e| panic!("{name}: open failed: {e:?}"));
        assert_eq!((got_header, got), (header, &plaintext[..]), "{name}: open");

        // The AEAD on its own, with the documented key, nonce and AAD, gives the same bytes.
        let key = keys.sender_key(kind(case).purpose(), &header.sender);
        let mut body = plaintext.clone();
        let tag = envelope::gcm_seal_in_place(&key, &header.nonce(), &aad, &mut body).expect("gcm");
        body.extend_from_slice(&tag);
        assert_eq!(&sealed[envelope::HEADER_LEN..], &body[..], "{name}: aead");
    }
    // The negative cases cover every reason an envelope is rejected for.
    let named: Vec<&str> = file
        .list("negative")
        .iter()
        .map(|c| text(c, "error"))
        .collect();
    for reason in [
        "BadTag",
        "TooOld",
        "FromFuture",
        "UnknownVersion",
        "WrongKind",
        "Malformed",
    ] {
        assert!(
            named.contains(&format!("OpenError::{reason}").as_str()),
            "no {reason} case"
        );
    }
    for case in file.list("negative") {
        let sealed = bytes(case, "envelope");
        let mut out = vec![0u8; sealed.len()];
        let keys = cluster_keys(case);
        let opened = envelope::open(&keys, kind(case), &sealed, Some(freshness(case)), &mut out);
        assert_error(case, opened.err().map(|e| error_name("OpenError", e)));
    }
    (file.list("cases").len(), file.list("negative").len())
}

fn record_of(case: &Value) -> (Vec<u8>, Vec<u8>, u64) {
    (
        bytes(case, "id"),
        bytes(case, "der"),
        number(case, "expires_at"),
    )
}

fn check_session(dir: &Path) -> (usize, usize) {
    let file = VectorFile::load(dir, "session.json");
    for case in file.list("cases") {
        let name = text(case, "name");
        let (id, der, expires_at) = record_of(case);
        let record = SessionRecord {
            id: &id,
            der: &der,
            expires_at,
        };
        let encoded = bytes(case, "record");
        let mut out = vec![0u8; session::RECORD_MAX_LEN];
        let n = record.encode(&mut out).expect("encode");
        assert_eq!(&out[..n], &encoded[..], "{name}: encode");
        assert_eq!(
            SessionRecord::decode(&encoded),
            Ok(record),
            "{name}: decode"
        );

        let keys = cluster_keys(case);
        let mut sealer = Sealer {
            node: NodeId(array(case, "node_id")),
            next_sequence: number(case, "sequence"),
        };
        let mut sealed = vec![0u8; session::SEALED_MAX_LEN];
        let n = record
            .seal(&mut sealer, &keys, number(case, "issued_at"), &mut sealed)
            .expect("seal");
        assert_eq!(&sealed[..n], &bytes(case, "envelope")[..], "{name}: seal");
        let mut plain = vec![0u8; n];
        let (header, got) = session::open(&keys, &sealed[..n], Some(freshness(case)), &mut plain)
            .unwrap_or_else(|e| panic!("{name}: open failed: {e:?}"));
        assert_eq!(
            header,
            expected_header(case, Kind::Session),
            "{name}: header"
        );
        assert_eq!(got, record, "{name}: open");
    }
    for case in file.list("negative") {
        let got = match text(case, "op") {
            "open" => {
                let sealed = bytes(case, "envelope");
                let mut out = vec![0u8; sealed.len()];
                let opened = session::open(
                    &cluster_keys(case),
                    &sealed,
                    Some(freshness(case)),
                    &mut out,
                );
                opened.err().map(|e| match e {
                    SessionOpenError::Envelope(e) => error_name("OpenError", e),
                    SessionOpenError::Record(e) => error_name("RecordError", e),
                    other => format!("{other:?}"),
                })
            }
            "decode" => {
                let record = bytes(case, "record");
                SessionRecord::decode(&record)
                    .err()
                    .map(|e| error_name("RecordError", e))
            }
            "encode" => {
                let (id, der, expires_at) = record_of(case);
                let mut out = vec![0u8; session::RECORD_MAX_LEN + 64];
                let record = SessionRecord {
                    id: &id,
                    der: &der,
                    expires_at,
                };
                record
                    .encode(&mut out)
                    .err()
                    .map(|e| error_name("RecordError", e))
            }
            other => panic!("unknown session op {other}"),
        };
        assert_error(case, got);
    }
    (file.list("cases").len(), file.list("negative").len())
}

fn legacy_key(case: &Value) -> LegacyKey {
    LegacyKey::derive(&bytes(case, "passphrase"))
}

fn check_legacy_case(case: &Value) {
    let name = text(case, "name");
    match text(case, "op") {
        "derive" => {
            let key = legacy_key(case);
            assert_eq!(key.expose_key().to_vec(), bytes(case, "key"), "{name}: key");
            assert_eq!(key.expose_iv().to_vec(), bytes(case, "iv"), "{name}: iv");
        }
        "psk_file" => {
            let file_bytes = bytes(case, "psk");
            let file = LegacyPskFile::parse(&file_bytes).expect("psk file");
            assert_eq!(
                file.auth_password(),
                &bytes(case, "auth_password")[..],
                "{name}"
            );
            let mut pass = vec![0u8; file.passphrase_len()];
            file.write_passphrase(&mut pass).expect("passphrase");
            assert_eq!(pass, bytes(case, "passphrase"), "{name}: passphrase");
            let derived = LegacyKey::derive(&pass);
            assert_eq!(file.key().expose_key(), derived.expose_key(), "{name}: key");
        }
        "stek" => {
            let key = legacy_key(case);
            let stek: [u8; legacy::STEK_LEN] = array(case, "stek");
            let payload = legacy::encode_stek(&key, &stek);
            assert_eq!(
                &payload[..],
                text(case, "payload").as_bytes(),
                "{name}: encode"
            );
            let mut back = [0u8; legacy::STEK_LEN];
            legacy::decode_stek(&key, text(case, "payload").as_bytes(), &mut back).expect("decode");
            assert_eq!(back, stek, "{name}: decode");
        }
        "session" => {
            let key = legacy_key(case);
            let der = bytes(case, "der");
            let mut frame = vec![0u8; legacy::FRAME_HEADER_LEN + der.len()];
            legacy::encode_frame(&der, &mut frame).expect("frame");
            assert_eq!(frame, bytes(case, "frame"), "{name}: frame");
            assert_eq!(
                legacy::decode_frame(&frame),
                Ok(&der[..]),
                "{name}: frame decode"
            );
            let mut payload = vec![0u8; legacy::session_payload_len(der.len())];
            let n = legacy::encode_session(&key, &der, &mut payload).expect("encode");
            assert_eq!(
                &payload[..n],
                text(case, "payload").as_bytes(),
                "{name}: encode"
            );
            let mut out = vec![0u8; n];
            let got = legacy::decode_session(&key, text(case, "payload").as_bytes(), &mut out);
            assert_eq!(got, Ok(&der[..]), "{name}: decode");
        }
        "session_id" => {
            let id = bytes(case, "id");
            let mut suffix = [0u8; legacy::SESSION_ID_SUFFIX_MAX_LEN];
            let n = legacy::encode_session_id(&id, &mut suffix).expect("encode");
            assert_eq!(
                &suffix[..n],
                text(case, "suffix").as_bytes(),
                "{name}: encode"
            );
            let mut back = [0u8; session::ID_MAX_LEN];
            let n = legacy::decode_session_id(text(case, "suffix").as_bytes(), &mut back);
            assert_eq!(n.map(|n| back[..n].to_vec()), Ok(id), "{name}: decode");
        }
        "base64_decode" => {
            let mut out = vec![0u8; text(case, "text").len()];
            let n = legacy::base64_decode(text(case, "text").as_bytes(), &mut out).expect("decode");
            assert_eq!(out[..n].to_vec(), bytes(case, "bytes"), "{name}");
        }
        other => panic!("unknown legacy op {other}"),
    }
}

fn check_legacy_negative(case: &Value) {
    let name_err = |e| error_name("LegacyError", e);
    let got = match text(case, "op") {
        "stek" => {
            let mut stek = [0u8; legacy::STEK_LEN];
            let r = legacy::decode_stek(
                &legacy_key(case),
                text(case, "payload").as_bytes(),
                &mut stek,
            );
            r.err().map(name_err)
        }
        "session" => {
            let payload = text(case, "payload").as_bytes();
            let mut out = vec![0u8; payload.len()];
            legacy::decode_session(&legacy_key(case), payload, &mut out)
                .err()
                .map(name_err)
        }
        "session_id" => {
            let mut out = [0u8; session::ID_MAX_LEN];
            legacy::decode_session_id(text(case, "suffix").as_bytes(), &mut out)
                .err()
                .map(name_err)
        }
        "base64_decode" => {
            let mut out = vec![0u8; text(case, "text").len()];
            legacy::base64_decode(text(case, "text").as_bytes(), &mut out)
                .err()
                .map(name_err)
        }
        other => panic!("unknown legacy negative op {other}"),
    };
    assert_error(case, got);
}

fn check_legacy(dir: &Path) -> (usize, usize) {
    let file = VectorFile::load(dir, "legacy.json");
    file.list("cases").iter().for_each(check_legacy_case);
    file.list("negative").iter().for_each(check_legacy_negative);
    (file.list("cases").len(), file.list("negative").len())
}
