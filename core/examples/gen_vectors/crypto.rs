//! Vectors for the key schedule, the envelope, the session record and the legacy codec.
//!
//! Compiled twice, as a module of `gen_vectors/main.rs` (whose helpers it uses): into the
//! `gen_vectors` example, and into the `vectors` test, which regenerates into a temporary
//! directory and compares with the committed files.
//!
//! Every value comes from a ChaCha20 RNG with a fixed seed per file, or is written out here.
//! Every negative case states its expected error by hand, and the generator checks that the
//! code agrees before it writes anything, so a file never records a behaviour nobody chose.

use std::io;
use std::path::Path;

use atsreuse_core::envelope::{self, Header, Kind, Sealer};
use atsreuse_core::keys::{self, ClusterKeys, NodeId, Psk, Purpose};
use atsreuse_core::legacy::{self, LegacyKey, LegacyPskFile};
use atsreuse_core::session::{self, SessionRecord};
use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use serde::Serialize;

use super::{cluster_keys, error_name, expect_error, random, write_json};

/// The time every generated message is issued at (2023-11-14T22:13:20Z).
const T0: u64 = 1_700_000_000;
/// The freshness window of the generated cases.
const MAX_AGE: u64 = 300;
const MAX_FUTURE: u64 = 60;

/// The common frame of every vector file (see vectors/README.md).
#[derive(Serialize)]
pub struct VectorFile<C, N> {
    pub format: &'static str,
    pub schema: u32,
    pub provenance: &'static str,
    pub cases: Vec<C>,
    pub negative: Vec<N>,
}

const PROVENANCE: &str = "atsreuse generator (core/examples/gen_vectors), ChaCha20 seed and \
times fixed in its source; regenerate with `cargo run -p atsreuse-core --example gen_vectors \
-- vectors`";
const LEGACY_PROVENANCE: &str = "cases named 'known answer' are the values of \
shared/LEGACY-PROTOCOL.md (checked there with openssl enc); the others come from the atsreuse \
generator (core/examples/gen_vectors); regenerate with `cargo run -p atsreuse-core --example \
gen_vectors -- vectors`";

/// Writes every file of this module into `dir`.
pub fn generate(dir: &Path) -> io::Result<()> {
    write_json(dir, "keys.json", &keys_file())?;
    write_json(dir, "envelope.json", &envelope_file())?;
    write_json(dir, "session.json", &session_file())?;
    write_json(dir, "legacy.json", &legacy_file())
}

fn random_vec(rng: &mut ChaCha20Rng, len: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; len];
    rng.fill_bytes(&mut bytes);
    bytes
}

// ---- keys.json ----

#[derive(Serialize)]
pub struct KeyCase {
    name: String,
    psk: String,
    cluster: String,
    node_id: String,
    psk_len: usize,
    sessions_key: String,
    keyrings_key: String,
    sender_sessions_key: String,
    sender_keyrings_key: String,
    redis_password: String,
}

#[derive(Serialize)]
pub struct KeyNegative {
    name: String,
    psk: String,
    cluster: String,
    error: String,
}

fn key_case(name: &str, psk_file: &[u8], cluster: &str, node: [u8; 16]) -> KeyCase {
    let psk = Psk::from_file_bytes(psk_file).expect("generator psk");
    let keys = ClusterKeys::derive(&psk, cluster).expect("generator cluster");
    let node_id = NodeId(node);
    let password = keys::redis_password(&psk, cluster).expect("password");
    KeyCase {
        name: name.into(),
        psk: hex::encode(psk_file),
        cluster: cluster.into(),
        node_id: hex::encode(node),
        psk_len: psk.len(),
        sessions_key: hex::encode(keys.expose_purpose_key(Purpose::Sessions)),
        keyrings_key: hex::encode(keys.expose_purpose_key(Purpose::Keyrings)),
        sender_sessions_key: hex::encode(
            keys.sender_key(Purpose::Sessions, &node_id).expose_bytes(),
        ),
        sender_keyrings_key: hex::encode(
            keys.sender_key(Purpose::Keyrings, &node_id).expose_bytes(),
        ),
        redis_password: String::from_utf8(password.to_vec()).expect("hex is ascii"),
    }
}

fn key_negative(name: &str, psk_file: &[u8], cluster: &str, expected: &str) -> KeyNegative {
    let got = Psk::from_file_bytes(psk_file)
        .and_then(|psk| ClusterKeys::derive(&psk, cluster).map(|_| ()))
        .err()
        .map(|e| error_name("KeyError", e));
    KeyNegative {
        name: name.into(),
        psk: hex::encode(psk_file),
        cluster: cluster.into(),
        error: expect_error(name, expected, got),
    }
}

fn keys_file() -> VectorFile<KeyCase, KeyNegative> {
    let mut rng = ChaCha20Rng::seed_from_u64(0x6b65_7973);
    let binary_psk = random_vec(&mut rng, 32);
    let longest_psk = random_vec(&mut rng, 256);
    let longest_cluster = "c".repeat(128);
    let cases = vec![
        key_case(
            "psk file with a trailing newline",
            b"secret\n",
            "pod",
            random(&mut rng),
        ),
        key_case(
            "psk file with a CRLF line end",
            b"correct horse battery staple\r\n",
            "edge-eu-1",
            random(&mut rng),
        ),
        key_case(
            "binary psk, one-letter cluster",
            &binary_psk,
            "a",
            random(&mut rng),
        ),
        key_case(
            "longest psk and cluster name",
            &longest_psk,
            &longest_cluster,
            random(&mut rng),
        ),
        key_case("all-zero node id", b"secret", "pod", [0; 16]),
    ];
    let negative = vec![
        key_negative("empty psk file", b"", "pod", "KeyError::EmptyPsk"),
        key_negative(
            "psk file of newlines only",
            b"\n\r\n",
            "pod",
            "KeyError::EmptyPsk",
        ),
        key_negative(
            "psk of 257 bytes",
            &[0x41; 257],
            "pod",
            "KeyError::PskTooLong",
        ),
        key_negative(
            "empty cluster name",
            b"secret",
            "",
            "KeyError::BadClusterName",
        ),
        key_negative(
            "cluster name of 129 bytes",
            b"secret",
            &"c".repeat(129),
            "KeyError::BadClusterName",
        ),
    ];
    VectorFile {
        format: "keys",
        schema: 1,
        provenance: PROVENANCE,
        cases,
        negative,
    }
}

// ---- envelope.json ----

#[derive(Serialize)]
pub struct EnvelopeCase {
    name: String,
    psk: String,
    cluster: String,
    kind: String,
    node_id: String,
    sequence: u64,
    issued_at: u64,
    plaintext: String,
    nonce: String,
    aad: String,
    envelope: String,
    now: u64,
    max_age_secs: u64,
    max_future_secs: u64,
}

#[derive(Serialize)]
pub struct EnvelopeNegative {
    name: String,
    psk: String,
    cluster: String,
    kind: String,
    envelope: String,
    now: u64,
    max_age_secs: u64,
    max_future_secs: u64,
    error: String,
}

/// What one generated message is made of.
struct Message<'a> {
    psk: &'a [u8],
    cluster: &'a str,
    kind: Kind,
    node: [u8; 16],
    sequence: u64,
    issued_at: u64,
}

impl Message<'_> {
    fn seal(&self, plaintext: &[u8]) -> Vec<u8> {
        let keys = cluster_keys(self.psk, self.cluster);
        let mut sealer = Sealer {
            node: NodeId(self.node),
            next_sequence: self.sequence,
        };
        let mut out = vec![0u8; plaintext.len() + envelope::OVERHEAD];
        let n = sealer
            .seal(&keys, self.kind, self.issued_at, plaintext, &mut out)
            .expect("seal");
        out.truncate(n);
        out
    }

    fn header(&self) -> Header {
        Header {
            kind: self.kind,
            sender: NodeId(self.node),
            sequence: self.sequence,
            issued_at: self.issued_at,
        }
    }

    /// The AAD written out from its definition (header ‖ u8 len ‖ cluster).
    fn aad(&self) -> Vec<u8> {
        let mut aad = self.header().to_bytes().to_vec();
        aad.push(u8::try_from(self.cluster.len()).expect("short cluster"));
        aad.extend_from_slice(self.cluster.as_bytes());
        aad
    }
}

fn envelope_case(name: &str, m: &Message<'_>, plaintext: &[u8], now: u64) -> EnvelopeCase {
    EnvelopeCase {
        name: name.into(),
        psk: hex::encode(m.psk),
        cluster: m.cluster.into(),
        kind: format!("{:?}", m.kind),
        node_id: hex::encode(m.node),
        sequence: m.sequence,
        issued_at: m.issued_at,
        plaintext: hex::encode(plaintext),
        nonce: hex::encode(m.header().nonce()),
        aad: hex::encode(m.aad()),
        envelope: hex::encode(m.seal(plaintext)),
        now,
        max_age_secs: MAX_AGE,
        max_future_secs: MAX_FUTURE,
    }
}

/// How a receiver tries to open a negative case.
struct Receiver<'a> {
    psk: &'a [u8],
    cluster: &'a str,
    kind: Kind,
    now: u64,
}

fn open_error(r: &Receiver<'_>, sealed: &[u8]) -> Option<String> {
    let keys = cluster_keys(r.psk, r.cluster);
    let freshness = envelope::Freshness {
        now: r.now,
        max_age_secs: MAX_AGE,
        max_future_secs: MAX_FUTURE,
    };
    let mut out = vec![0u8; sealed.len()];
    envelope::open(&keys, r.kind, sealed, Some(freshness), &mut out)
        .err()
        .map(|e| error_name("OpenError", e))
}

fn envelope_negative(
    name: &str,
    r: &Receiver<'_>,
    sealed: &[u8],
    expected: &str,
) -> EnvelopeNegative {
    EnvelopeNegative {
        name: name.into(),
        psk: hex::encode(r.psk),
        cluster: r.cluster.into(),
        kind: format!("{:?}", r.kind),
        envelope: hex::encode(sealed),
        now: r.now,
        max_age_secs: MAX_AGE,
        max_future_secs: MAX_FUTURE,
        error: expect_error(name, expected, open_error(r, sealed)),
    }
}

/// `bytes` with bit `bit` of byte `index` flipped.
fn flipped(bytes: &[u8], index: usize, bit: u8) -> Vec<u8> {
    let mut out = bytes.to_vec();
    out[index] ^= 1 << bit;
    out
}

fn envelope_file() -> VectorFile<EnvelopeCase, EnvelopeNegative> {
    let mut rng = ChaCha20Rng::seed_from_u64(0x656e_7665);
    let psk = b"envelope vector psk\n";
    let base = Message {
        psk,
        cluster: "pod",
        kind: Kind::Session,
        node: random(&mut rng),
        sequence: 0,
        issued_at: T0,
    };
    let body = random_vec(&mut rng, 40);
    let long = random_vec(&mut rng, 1500);
    let keyring = Message {
        kind: Kind::Keyring,
        sequence: 7,
        node: random(&mut rng),
        ..base
    };
    let later = Message {
        sequence: 123_456_789,
        issued_at: T0 + 86_400,
        ..base
    };
    let other = Message {
        psk: b"another psk",
        cluster: "edge-eu-1",
        sequence: (1 << 53) - 1,
        ..base
    };
    let cases = vec![
        envelope_case("session, first message of a sender", &base, &body, T0),
        envelope_case(
            "empty plaintext",
            &Message {
                sequence: 1,
                ..base
            },
            b"",
            T0,
        ),
        envelope_case("keyring kind", &keyring, &body, T0),
        envelope_case("large sequence and later time", &later, &long, T0 + 86_400),
        envelope_case("largest sequence a JSON number holds", &other, &body, T0),
        envelope_case("oldest accepted age opens", &base, &body, T0 + MAX_AGE),
        envelope_case(
            "furthest accepted future opens",
            &base,
            &body,
            T0 - MAX_FUTURE,
        ),
    ];

    let sealed = base.seal(&body);
    let me = Receiver {
        psk,
        cluster: "pod",
        kind: Kind::Session,
        now: T0,
    };
    let n = sealed.len();
    let mut too_long = sealed.clone();
    too_long.resize(envelope::MAX_ENVELOPE_LEN + 1, 0);
    let negative = vec![
        envelope_negative(
            "flipped bit in the sender id",
            &me,
            &flipped(&sealed, 2, 0),
            "OpenError::BadTag",
        ),
        envelope_negative(
            "flipped bit in the sequence",
            &me,
            &flipped(&sealed, 25, 0),
            "OpenError::BadTag",
        ),
        envelope_negative(
            "flipped bit in the issue time",
            &me,
            &flipped(&sealed, 33, 0),
            "OpenError::BadTag",
        ),
        envelope_negative(
            "flipped bit in the body",
            &me,
            &flipped(&sealed, 40, 5),
            "OpenError::BadTag",
        ),
        envelope_negative(
            "flipped bit in the tag",
            &me,
            &flipped(&sealed, n - 1, 7),
            "OpenError::BadTag",
        ),
        envelope_negative(
            "truncated by one byte",
            &me,
            &sealed[..n - 1],
            "OpenError::BadTag",
        ),
        envelope_negative(
            "truncated below header and tag",
            &me,
            &sealed[..envelope::OVERHEAD - 1],
            "OpenError::Malformed",
        ),
        envelope_negative("empty", &me, b"", "OpenError::Malformed"),
        envelope_negative(
            "longer than any sealed envelope",
            &me,
            &too_long,
            "OpenError::Malformed",
        ),
        envelope_negative(
            "stale",
            &Receiver {
                now: T0 + MAX_AGE + 1,
                ..me
            },
            &sealed,
            "OpenError::TooOld",
        ),
        envelope_negative(
            "from the future",
            &Receiver {
                now: T0 - MAX_FUTURE - 1,
                ..me
            },
            &sealed,
            "OpenError::FromFuture",
        ),
        envelope_negative(
            "wrong cluster",
            &Receiver {
                cluster: "pod2",
                ..me
            },
            &sealed,
            "OpenError::BadTag",
        ),
        envelope_negative(
            "wrong psk",
            &Receiver {
                psk: b"envelope vector psK",
                ..me
            },
            &sealed,
            "OpenError::BadTag",
        ),
        envelope_negative(
            "unknown version",
            &me,
            &flipped(&sealed, 0, 1),
            "OpenError::UnknownVersion",
        ),
        envelope_negative(
            "keyring opened as a session",
            &me,
            &keyring.seal(&body),
            "OpenError::WrongKind",
        ),
        envelope_negative(
            "session opened as a keyring",
            &Receiver {
                kind: Kind::Keyring,
                ..me
            },
            &sealed,
            "OpenError::WrongKind",
        ),
        envelope_negative(
            "unknown kind byte",
            &me,
            &flipped(&sealed, 1, 2),
            "OpenError::WrongKind",
        ),
    ];
    VectorFile {
        format: "envelope",
        schema: 1,
        provenance: PROVENANCE,
        cases,
        negative,
    }
}

// ---- session.json ----

#[derive(Serialize)]
pub struct SessionCase {
    name: String,
    psk: String,
    cluster: String,
    node_id: String,
    sequence: u64,
    issued_at: u64,
    id: String,
    der: String,
    expires_at: u64,
    record: String,
    envelope: String,
    now: u64,
    max_age_secs: u64,
    max_future_secs: u64,
}

#[derive(Serialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum SessionNegative {
    Open {
        name: String,
        psk: String,
        cluster: String,
        envelope: String,
        now: u64,
        max_age_secs: u64,
        max_future_secs: u64,
        error: String,
    },
    Decode {
        name: String,
        record: String,
        error: String,
    },
    Encode {
        name: String,
        id: String,
        der: String,
        expires_at: u64,
        error: String,
    },
}

fn encode_record(record: &SessionRecord<'_>) -> Vec<u8> {
    let mut out = vec![0u8; record.encoded_len()];
    record.encode(&mut out).expect("encode");
    out
}

fn session_case(name: &str, m: &Message<'_>, record: &SessionRecord<'_>) -> SessionCase {
    let keys = cluster_keys(m.psk, m.cluster);
    let mut sealer = Sealer {
        node: NodeId(m.node),
        next_sequence: m.sequence,
    };
    let mut sealed = vec![0u8; record.encoded_len() + envelope::OVERHEAD];
    let n = record
        .seal(&mut sealer, &keys, m.issued_at, &mut sealed)
        .expect("seal");
    sealed.truncate(n);
    SessionCase {
        name: name.into(),
        psk: hex::encode(m.psk),
        cluster: m.cluster.into(),
        node_id: hex::encode(m.node),
        sequence: m.sequence,
        issued_at: m.issued_at,
        id: hex::encode(record.id),
        der: hex::encode(record.der),
        expires_at: record.expires_at,
        record: hex::encode(encode_record(record)),
        envelope: hex::encode(sealed),
        now: m.issued_at,
        max_age_secs: MAX_AGE,
        max_future_secs: MAX_FUTURE,
    }
}

fn session_open_negative(
    name: &str,
    r: &Receiver<'_>,
    sealed: &[u8],
    expected: &str,
) -> SessionNegative {
    let keys = cluster_keys(r.psk, r.cluster);
    let freshness = envelope::Freshness {
        now: r.now,
        max_age_secs: MAX_AGE,
        max_future_secs: MAX_FUTURE,
    };
    let mut out = vec![0u8; sealed.len()];
    let got = session::open(&keys, sealed, Some(freshness), &mut out)
        .err()
        .map(|e| match e {
            session::SessionOpenError::Envelope(e) => error_name("OpenError", e),
            session::SessionOpenError::Record(e) => error_name("RecordError", e),
            other => format!("{other:?}"),
        });
    SessionNegative::Open {
        name: name.into(),
        psk: hex::encode(r.psk),
        cluster: r.cluster.into(),
        envelope: hex::encode(sealed),
        now: r.now,
        max_age_secs: MAX_AGE,
        max_future_secs: MAX_FUTURE,
        error: expect_error(name, expected, got),
    }
}

fn session_decode_negative(name: &str, record: &[u8], expected: &str) -> SessionNegative {
    let got = SessionRecord::decode(record)
        .err()
        .map(|e| error_name("RecordError", e));
    SessionNegative::Decode {
        name: name.into(),
        record: hex::encode(record),
        error: expect_error(name, expected, got),
    }
}

fn session_encode_negative(name: &str, id: &[u8], der: &[u8], expected: &str) -> SessionNegative {
    let record = SessionRecord {
        id,
        der,
        expires_at: T0,
    };
    let mut out = vec![0u8; session::RECORD_MAX_LEN + 64];
    let got = record
        .encode(&mut out)
        .err()
        .map(|e| error_name("RecordError", e));
    SessionNegative::Encode {
        name: name.into(),
        id: hex::encode(id),
        der: hex::encode(der),
        expires_at: T0,
        error: expect_error(name, expected, got),
    }
}

fn session_file() -> VectorFile<SessionCase, SessionNegative> {
    let mut rng = ChaCha20Rng::seed_from_u64(0x7365_7373);
    let psk = b"session vector psk\n";
    let m = Message {
        psk,
        cluster: "pod",
        kind: Kind::Session,
        node: random(&mut rng),
        sequence: 3,
        issued_at: T0,
    };
    let id: [u8; 32] = random(&mut rng);
    let mut der = random_vec(&mut rng, 256);
    der[..4].copy_from_slice(&[0x30, 0x82, 0x00, 0xfc]);
    let max_der = random_vec(&mut rng, session::DER_MAX_LEN);
    let typical = SessionRecord {
        id: &id,
        der: &der,
        expires_at: T0 + 7200,
    };
    let cases = vec![
        session_case("32-byte id, 256-byte DER", &m, &typical),
        session_case(
            "1-byte id, 1-byte DER",
            &m,
            &SessionRecord {
                id: &[0x01],
                der: &[0x30],
                expires_at: T0,
            },
        ),
        session_case(
            "16-byte id, longest DER",
            &m,
            &SessionRecord {
                id: &id[..16],
                der: &max_der,
                expires_at: 0,
            },
        ),
    ];

    let keys = cluster_keys(psk, "pod");
    let seal_plain = |plaintext: &[u8]| {
        let mut sealer = Sealer {
            node: NodeId(m.node),
            next_sequence: 9,
        };
        let mut out = vec![0u8; plaintext.len() + envelope::OVERHEAD];
        let n = sealer
            .seal(&keys, Kind::Session, T0, plaintext, &mut out)
            .expect("seal");
        out.truncate(n);
        out
    };
    let record = encode_record(&typical);
    let sealed = seal_plain(&record);
    let me = Receiver {
        psk,
        cluster: "pod",
        kind: Kind::Session,
        now: T0,
    };
    let der_at = 1 + 32 + 8 + 2 + envelope::HEADER_LEN;
    let mut id33 = vec![33u8];
    id33.extend_from_slice(&[7; 33]);
    id33.extend_from_slice(&record[33..]);
    let mut zero_der = record[..41].to_vec();
    zero_der.extend_from_slice(&[0, 0]);
    let mut trailing = record.clone();
    trailing.push(0);
    let mut zero_id = vec![0u8];
    zero_id.extend_from_slice(&record[33..]);
    let negative = vec![
        session_open_negative(
            "tampered DER",
            &me,
            &flipped(&sealed, der_at + 10, 3),
            "OpenError::BadTag",
        ),
        session_open_negative(
            "stale",
            &Receiver {
                now: T0 + MAX_AGE + 1,
                ..me
            },
            &sealed,
            "OpenError::TooOld",
        ),
        session_open_negative(
            "from the future",
            &Receiver {
                now: T0 - MAX_FUTURE - 1,
                ..me
            },
            &sealed,
            "OpenError::FromFuture",
        ),
        session_open_negative(
            "wrong cluster",
            &Receiver {
                cluster: "other-pod",
                ..me
            },
            &sealed,
            "OpenError::BadTag",
        ),
        session_open_negative(
            "wrong psk",
            &Receiver {
                psk: b"session vector PSK",
                ..me
            },
            &sealed,
            "OpenError::BadTag",
        ),
        session_open_negative(
            "truncated",
            &me,
            &sealed[..sealed.len() - 16],
            "OpenError::BadTag",
        ),
        session_open_negative(
            "keyring kind",
            &me,
            &Message {
                kind: Kind::Keyring,
                ..m
            }
            .seal(&record),
            "OpenError::WrongKind",
        ),
        session_open_negative(
            "unknown version",
            &me,
            &flipped(&sealed, 0, 7),
            "OpenError::UnknownVersion",
        ),
        session_open_negative(
            "sealed record with a 33-byte id",
            &me,
            &seal_plain(&id33),
            "RecordError::BadId",
        ),
        session_open_negative(
            "sealed record with an empty id",
            &me,
            &seal_plain(&zero_id),
            "RecordError::BadId",
        ),
        session_open_negative(
            "sealed record with DER length 0",
            &me,
            &seal_plain(&zero_der),
            "RecordError::BadDer",
        ),
        session_open_negative(
            "sealed record with a trailing byte",
            &me,
            &seal_plain(&trailing),
            "RecordError::Malformed",
        ),
        session_open_negative(
            "sealed record cut inside the DER",
            &me,
            &seal_plain(&record[..100]),
            "RecordError::Malformed",
        ),
        session_decode_negative("empty record", b"", "RecordError::Malformed"),
        session_decode_negative(
            "record cut in expires_at",
            &record[..36],
            "RecordError::Malformed",
        ),
        session_decode_negative(
            "record with a trailing byte",
            &trailing,
            "RecordError::Malformed",
        ),
        session_decode_negative("record with a 33-byte id", &id33, "RecordError::BadId"),
        session_decode_negative(
            "record with DER length 10241",
            &[&record[..41], &[0x28, 0x01][..]].concat(),
            "RecordError::BadDer",
        ),
        session_encode_negative("empty id", b"", &der, "RecordError::BadId"),
        session_encode_negative("33-byte id", &[1; 33], &der, "RecordError::BadId"),
        session_encode_negative("empty DER", &id, b"", "RecordError::BadDer"),
        session_encode_negative(
            "DER of 10241 bytes",
            &id,
            &vec![0x30; session::DER_MAX_LEN + 1],
            "RecordError::BadDer",
        ),
    ];
    VectorFile {
        format: "session",
        schema: 1,
        provenance: PROVENANCE,
        cases,
        negative,
    }
}

// ---- legacy.json ----

#[derive(Serialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum LegacyCase {
    Derive {
        name: String,
        passphrase: String,
        key: String,
        iv: String,
    },
    PskFile {
        name: String,
        psk: String,
        auth_password: String,
        passphrase: String,
    },
    Stek {
        name: String,
        passphrase: String,
        stek: String,
        payload: String,
    },
    Session {
        name: String,
        passphrase: String,
        der: String,
        frame: String,
        payload: String,
    },
    SessionId {
        name: String,
        id: String,
        suffix: String,
    },
    Base64Decode {
        name: String,
        text: String,
        bytes: String,
    },
}

#[derive(Serialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum LegacyNegative {
    Stek {
        name: String,
        passphrase: String,
        payload: String,
        error: String,
    },
    Session {
        name: String,
        passphrase: String,
        payload: String,
        error: String,
    },
    SessionId {
        name: String,
        suffix: String,
        error: String,
    },
    Base64Decode {
        name: String,
        text: String,
        error: String,
    },
}

fn legacy_derive(name: &str, passphrase: &[u8]) -> LegacyCase {
    let key = LegacyKey::derive(passphrase);
    LegacyCase::Derive {
        name: name.into(),
        passphrase: hex::encode(passphrase),
        key: hex::encode(key.expose_key()),
        iv: hex::encode(key.expose_iv()),
    }
}

fn legacy_psk_file(name: &str, file: &[u8]) -> LegacyCase {
    let parsed = LegacyPskFile::parse(file).expect("psk file");
    let mut pass = vec![0u8; parsed.passphrase_len()];
    parsed.write_passphrase(&mut pass).expect("passphrase");
    LegacyCase::PskFile {
        name: name.into(),
        psk: hex::encode(file),
        auth_password: hex::encode(parsed.auth_password()),
        passphrase: hex::encode(pass),
    }
}

fn legacy_stek(name: &str, passphrase: &[u8], stek: &[u8; legacy::STEK_LEN]) -> LegacyCase {
    let payload = legacy::encode_stek(&LegacyKey::derive(passphrase), stek);
    LegacyCase::Stek {
        name: name.into(),
        passphrase: hex::encode(passphrase),
        stek: hex::encode(stek),
        payload: String::from_utf8(payload.to_vec()).expect("base64 is ascii"),
    }
}

fn legacy_session(name: &str, passphrase: &[u8], der: &[u8]) -> LegacyCase {
    let key = LegacyKey::derive(passphrase);
    let mut frame = vec![0u8; legacy::FRAME_HEADER_LEN + der.len()];
    legacy::encode_frame(der, &mut frame).expect("frame");
    let mut payload = vec![0u8; legacy::session_payload_len(der.len())];
    let n = legacy::encode_session(&key, der, &mut payload).expect("encode");
    payload.truncate(n);
    LegacyCase::Session {
        name: name.into(),
        passphrase: hex::encode(passphrase),
        der: hex::encode(der),
        frame: hex::encode(frame),
        payload: String::from_utf8(payload).expect("base64 is ascii"),
    }
}

fn legacy_session_id(name: &str, id: &[u8]) -> LegacyCase {
    let mut suffix = vec![0u8; legacy::SESSION_ID_SUFFIX_MAX_LEN];
    let n = legacy::encode_session_id(id, &mut suffix).expect("suffix");
    suffix.truncate(n);
    LegacyCase::SessionId {
        name: name.into(),
        id: hex::encode(id),
        suffix: String::from_utf8(suffix).expect("base64 is ascii"),
    }
}

fn legacy_base64(name: &str, text: &str) -> LegacyCase {
    let mut bytes = vec![0u8; text.len()];
    let n = legacy::base64_decode(text.as_bytes(), &mut bytes).expect("base64");
    bytes.truncate(n);
    LegacyCase::Base64Decode {
        name: name.into(),
        text: text.into(),
        bytes: hex::encode(bytes),
    }
}

/// Encrypts arbitrary plaintext as a legacy payload (for frames the encoder refuses to make).
fn legacy_payload(passphrase: &[u8], plaintext: &[u8]) -> String {
    let mut buf = vec![0u8; legacy::base64_encoded_len(legacy::cbc_len(plaintext.len()))];
    buf[..plaintext.len()].copy_from_slice(plaintext);
    let n =
        legacy::encrypt_payload_in_place(&LegacyKey::derive(passphrase), &mut buf, plaintext.len())
            .expect("payload");
    buf.truncate(n);
    String::from_utf8(buf).expect("base64 is ascii")
}

fn legacy_err(e: legacy::LegacyError) -> String {
    error_name("LegacyError", e)
}

fn legacy_stek_negative(
    name: &str,
    passphrase: &[u8],
    payload: &str,
    expected: &str,
) -> LegacyNegative {
    let mut stek = [0u8; legacy::STEK_LEN];
    let got = legacy::decode_stek(
        &LegacyKey::derive(passphrase),
        payload.as_bytes(),
        &mut stek,
    )
    .err()
    .map(legacy_err);
    LegacyNegative::Stek {
        name: name.into(),
        passphrase: hex::encode(passphrase),
        payload: payload.into(),
        error: expect_error(name, expected, got),
    }
}

fn legacy_session_negative(
    name: &str,
    passphrase: &[u8],
    payload: &str,
    expected: &str,
) -> LegacyNegative {
    let mut out = vec![0u8; payload.len()];
    let got = legacy::decode_session(&LegacyKey::derive(passphrase), payload.as_bytes(), &mut out)
        .err()
        .map(legacy_err);
    LegacyNegative::Session {
        name: name.into(),
        passphrase: hex::encode(passphrase),
        payload: payload.into(),
        error: expect_error(name, expected, got),
    }
}

fn legacy_suffix_negative(name: &str, suffix: &str, expected: &str) -> LegacyNegative {
    let mut out = [0u8; session::ID_MAX_LEN];
    let got = legacy::decode_session_id(suffix.as_bytes(), &mut out)
        .err()
        .map(legacy_err);
    LegacyNegative::SessionId {
        name: name.into(),
        suffix: suffix.into(),
        error: expect_error(name, expected, got),
    }
}

fn legacy_base64_negative(name: &str, text: &str, expected: &str) -> LegacyNegative {
    let mut out = vec![0u8; text.len()];
    let got = legacy::base64_decode(text.as_bytes(), &mut out)
        .err()
        .map(legacy_err);
    LegacyNegative::Base64Decode {
        name: name.into(),
        text: text.into(),
        error: expect_error(name, expected, got),
    }
}

/// The counting STEK of LEGACY-PROTOCOL.md: name 00..0f, HMAC 10..1f, AES 20..2f.
fn counting_stek() -> [u8; legacy::STEK_LEN] {
    std::array::from_fn(|i| u8::try_from(i).expect("small"))
}

fn legacy_file() -> VectorFile<LegacyCase, LegacyNegative> {
    let mut rng = ChaCha20Rng::seed_from_u64(0x6c65_6761);
    let random_pass = random_vec(&mut rng, 24);
    let random_stek: [u8; legacy::STEK_LEN] = random(&mut rng);
    let der256 = random_vec(&mut rng, 256);
    let id16 = random_vec(&mut rng, 16);
    let counting_id: Vec<u8> = (0u8..32).collect();
    let stand_in_der = [0x30, 0x82, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa];

    // The STEK payload with its first character changed: decodes, to another key.
    let mut tampered = String::from_utf8(
        legacy::encode_stek(&LegacyKey::derive(b"secret"), &counting_stek()).to_vec(),
    )
    .expect("ascii");
    tampered.replace_range(0..1, "H");
    let mut wrong_stek = [0u8; legacy::STEK_LEN];
    legacy::decode_stek(
        &LegacyKey::derive(b"secret"),
        tampered.as_bytes(),
        &mut wrong_stek,
    )
    .expect("silent");
    assert_ne!(wrong_stek, counting_stek());

    let cases = vec![
        legacy_derive("known answer: key and IV of secret", b"secret"),
        legacy_stek("known answer: counting STEK", b"secret", &counting_stek()),
        legacy_session(
            "known answer: 8-byte stand-in DER",
            b"secret",
            &stand_in_der,
        ),
        legacy_session_id("known answer: counting 32-byte session id", &counting_id),
        legacy_psk_file("psk file secret with a newline", b"secret\n"),
        legacy_derive("passphrase of the file secret with a newline", b"secret\0"),
        legacy_psk_file("psk file without a newline", b"secret"),
        legacy_derive("random 24-byte passphrase", &random_pass),
        legacy_stek(
            "random STEK under a random passphrase",
            &random_pass,
            &random_stek,
        ),
        legacy_stek(
            "tampered stek message decodes to a wrong key without error",
            b"secret",
            &wrong_stek,
        ),
        legacy_session(
            "256-byte DER under a random passphrase",
            &random_pass,
            &der256,
        ),
        legacy_session("1-byte DER", b"secret", &[0x30]),
        legacy_session_id("16-byte session id", &id16),
        legacy_session_id("1-byte session id", &[0xfb]),
        legacy_base64("url-safe characters read as + and /", "-_-_"),
        legacy_base64("standard characters", "+/+/"),
        legacy_base64("one byte with two padding characters", "+w=="),
        legacy_base64("empty text", ""),
    ];

    // The known answers must be the documented ones, not just what this code produces.
    let documented = [
        (1, "GUWOP1jJwlKljz6SSZPDZC900bnXPI1IeH/iuoaOIDV22nsnWskU06SdYP2NCW0cwhZgPMa9tO04aGlP1kyILg=="),
        (2, "NOzwSYcLibnuPFqheSKks3U/ryJuDA586UaLzyItUZo="),
        (3, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="),
    ];
    for (index, text) in documented {
        let made = match &cases[index] {
            LegacyCase::Stek { payload, .. } | LegacyCase::Session { payload, .. } => payload,
            LegacyCase::SessionId { suffix, .. } => suffix,
            _ => unreachable!("cases 1 to 3 are encodings"),
        };
        assert_eq!(
            made, text,
            "known answer {index} differs from LEGACY-PROTOCOL.md"
        );
    }
    if let LegacyCase::Derive { key, iv, .. } = &cases[0] {
        assert_eq!(
            key,
            "070552d26b7814523fdcff43cf33ffad8138581b7f9d58d3317edd44ee357143"
        );
        assert_eq!(iv, "7e5738afff99fb39d0392d17543817f9");
    }

    let known_stek = match &cases[1] {
        LegacyCase::Stek { payload, .. } => payload.clone(),
        _ => unreachable!("case 1 is the known STEK"),
    };
    let known_session = match &cases[2] {
        LegacyCase::Session { payload, .. } => payload.clone(),
        _ => unreachable!("case 2 is the known session"),
    };
    let frame = |version: u64, declared: u32, der: &[u8]| {
        [&version.to_le_bytes()[..], &declared.to_le_bytes(), der].concat()
    };
    let negative = vec![
        legacy_stek_negative(
            "stek message under another psk",
            b"wrong",
            &known_stek,
            "LegacyError::BadPadding",
        ),
        legacy_stek_negative(
            "stek message cut by 4 characters",
            b"secret",
            &known_stek[..84],
            "LegacyError::BadStekLength",
        ),
        legacy_stek_negative(
            "stek message of a 64-byte plaintext",
            b"secret",
            &legacy_payload(b"secret", &[1; 64]),
            "LegacyError::BadStekLength",
        ),
        legacy_stek_negative(
            "stek message with a bad character",
            b"secret",
            &known_stek.replacen('G', "*", 1),
            "LegacyError::Base64",
        ),
        legacy_session_negative(
            "frame version 3",
            b"secret",
            &legacy_payload(b"secret", &frame(3, 8, &stand_in_der)),
            "LegacyError::WrongVersion",
        ),
        legacy_session_negative(
            "frame version 0",
            b"secret",
            &legacy_payload(b"secret", &frame(0, 8, &stand_in_der)),
            "LegacyError::WrongVersion",
        ),
        legacy_session_negative(
            "declared DER length one more",
            b"secret",
            &legacy_payload(b"secret", &frame(2, 9, &stand_in_der)),
            "LegacyError::LengthMismatch",
        ),
        legacy_session_negative(
            "declared DER length one less",
            b"secret",
            &legacy_payload(b"secret", &frame(2, 7, &stand_in_der)),
            "LegacyError::LengthMismatch",
        ),
        legacy_session_negative(
            "declared DER length 4 GiB",
            b"secret",
            &legacy_payload(b"secret", &frame(2, u32::MAX, &stand_in_der)),
            "LegacyError::LengthMismatch",
        ),
        legacy_session_negative(
            "frame of 11 bytes",
            b"secret",
            &legacy_payload(b"secret", &frame(2, 0, &[])[..11]),
            "LegacyError::ShortFrame",
        ),
        legacy_session_negative(
            "empty DER",
            b"secret",
            &legacy_payload(b"secret", &frame(2, 0, &[])),
            "LegacyError::BadDer",
        ),
        legacy_session_negative(
            "session under another psk",
            b"secreT",
            &known_session,
            "LegacyError::BadPadding",
        ),
        legacy_session_negative(
            "payload cut by 4 characters",
            b"secret",
            &known_session[..known_session.len() - 4],
            "LegacyError::BadPadding",
        ),
        legacy_session_negative(
            "payload without its padding",
            b"secret",
            known_session.trim_end_matches('='),
            "LegacyError::Base64",
        ),
        legacy_suffix_negative(
            "33-byte session id",
            &"AAAA".repeat(11),
            "LegacyError::SessionIdTooLong",
        ),
        legacy_suffix_negative(
            "1 KiB session id",
            &"QUFB".repeat(342),
            "LegacyError::SessionIdTooLong",
        ),
        legacy_suffix_negative("empty suffix", "", "LegacyError::EmptySessionId"),
        legacy_suffix_negative("suffix of 3 characters", "AAE", "LegacyError::Base64"),
        legacy_base64_negative("bad character", "ab*d", "LegacyError::Base64"),
        legacy_base64_negative("length not a multiple of 4", "abc", "LegacyError::Base64"),
        legacy_base64_negative("padding in the middle", "AA==AAAA", "LegacyError::Base64"),
        legacy_base64_negative("bits after the last byte", "AB==", "LegacyError::Base64"),
    ];
    VectorFile {
        format: "legacy",
        schema: 1,
        provenance: LEGACY_PROVENANCE,
        cases,
        negative,
    }
}
