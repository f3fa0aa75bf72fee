//! Vectors for the STEK export layouts, the ATS key block and the keyring (`stek.json`,
//! `ats_block.json`, `keyring.json`).
//!
//! Compiled, as a module of `gen_vectors/main.rs` (whose helpers it uses), into the
//! `gen_vectors` example and into the `vectors` test.
//!
//! Keys come from a ChaCha20 RNG with a fixed seed, and keyrings from following the rotation
//! schedule from a fixed time, so the files are the same on every run. Every negative case
//! names its error by hand and the generator checks the code agrees before writing.

use std::io;
use std::path::Path;

use atsreuse_core::envelope::{Kind, Sealer};
use atsreuse_core::keyring::{self, KeyEntry, KeyTimes, Keyring, KeyringOpenError};
use atsreuse_core::keys::NodeId;
use atsreuse_core::rotation::{self, Settings};
use atsreuse_core::stek::{Layout, Stek};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use serde::Serialize;

use super::{cluster_keys, error_name, expect_error, random, write_json};

/// The start of every generated schedule (2023-11-14T22:13:20Z).
const T0: u64 = 1_700_000_000;
/// The schedule of the generated keyrings: rotate hourly, 5 minutes lead, 1 hour tickets.
const SETTINGS: Settings = Settings {
    interval_secs: 3600,
    lead_secs: 300,
    ticket_lifetime_secs: 3600,
};
const PSK: &[u8] = b"keyring vector psk\n";
const CLUSTER: &str = "pod";

const PROVENANCE: &str = "atsreuse generator (core/examples/gen_vectors/keyring.rs), ChaCha20 \
seed and times fixed in its source; regenerate with `cargo run -p atsreuse-core --example \
gen_vectors -- vectors`";

/// The common frame of every vector file (see vectors/README.md).
#[derive(Serialize)]
struct VectorFile<C, N> {
    format: &'static str,
    schema: u32,
    provenance: &'static str,
    cases: Vec<C>,
    negative: Vec<N>,
}

impl<C, N> VectorFile<C, N> {
    fn new(format: &'static str, cases: Vec<C>, negative: Vec<N>) -> Self {
        VectorFile {
            format,
            schema: 1,
            provenance: PROVENANCE,
            cases,
            negative,
        }
    }
}

/// Writes `stek.json`, `ats_block.json` and `keyring.json` into `dir`.
pub fn generate(dir: &Path) -> io::Result<()> {
    write_json(dir, "stek.json", &stek_file())?;
    write_json(dir, "ats_block.json", &ats_block_file())?;
    write_json(dir, "keyring.json", &keyring_file())
}

// ---- stek.json ----

#[derive(Serialize)]
struct StekCase {
    name: String,
    stek_name: String,
    hmac_key: String,
    aes_key: String,
    ats: String,
    nginx48: String,
    nginx80: String,
    haproxy48: String,
    haproxy80: String,
}

#[derive(Serialize)]
struct StekNegative {
    name: String,
    op: &'static str,
    stek_name: String,
    hmac_key: String,
    aes_key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    layout: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    buffer_len: Option<usize>,
    error: String,
}

fn export(stek: &Stek, layout: Layout) -> String {
    let mut out = [0u8; 80];
    let len = stek
        .export(layout, &mut out)
        .expect("80 bytes fit every layout");
    hex::encode(&out[..len])
}

fn stek_case(name: &str, parts: ([u8; 16], [u8; 32], [u8; 32])) -> StekCase {
    let stek = Stek::from_parts(parts.0, parts.1, parts.2).expect("generator stek");
    StekCase {
        name: name.to_string(),
        stek_name: hex::encode(parts.0),
        hmac_key: hex::encode(parts.1),
        aes_key: hex::encode(parts.2),
        ats: export(&stek, Layout::Ats),
        nginx48: export(&stek, Layout::Nginx48),
        nginx80: export(&stek, Layout::Nginx80),
        haproxy48: export(&stek, Layout::Haproxy48),
        haproxy80: export(&stek, Layout::Haproxy80),
    }
}

fn stek_parts_negative(
    name: &str,
    parts: ([u8; 16], [u8; 32], [u8; 32]),
    expected: &str,
) -> StekNegative {
    let got = Stek::from_parts(parts.0, parts.1, parts.2).err();
    StekNegative {
        name: name.to_string(),
        op: "from_parts",
        stek_name: hex::encode(parts.0),
        hmac_key: hex::encode(parts.1),
        aes_key: hex::encode(parts.2),
        layout: None,
        buffer_len: None,
        error: expect_error(name, expected, got.map(|e| error_name("StekError", e))),
    }
}

fn stek_export_negative(
    name: &str,
    parts: ([u8; 16], [u8; 32], [u8; 32]),
    layout: (&'static str, Layout),
    buffer_len: usize,
) -> StekNegative {
    let stek = Stek::from_parts(parts.0, parts.1, parts.2).expect("generator stek");
    let mut out = vec![0u8; buffer_len];
    let got = stek.export(layout.1, &mut out).err();
    StekNegative {
        name: name.to_string(),
        op: "export",
        stek_name: hex::encode(parts.0),
        hmac_key: hex::encode(parts.1),
        aes_key: hex::encode(parts.2),
        layout: Some(layout.0),
        buffer_len: Some(buffer_len),
        error: expect_error(
            name,
            "StekError::BufferTooSmall",
            got.map(|e| error_name("StekError", e)),
        ),
    }
}

/// Name 00..0f, HMAC key 20..3f, AES key 40..5f: every byte shows where it came from.
fn counting_parts() -> ([u8; 16], [u8; 32], [u8; 32]) {
    let mut name = [0u8; 16];
    let mut hmac = [0u8; 32];
    let mut aes = [0u8; 32];
    for (i, byte) in (0u8..).zip(name.iter_mut()) {
        *byte = i;
    }
    for (i, (h, a)) in (0u8..).zip(hmac.iter_mut().zip(aes.iter_mut())) {
        *h = 0x20 + i;
        *a = 0x40 + i;
    }
    (name, hmac, aes)
}

fn stek_file() -> VectorFile<StekCase, StekNegative> {
    let mut rng = ChaCha20Rng::seed_from_u64(0x57e4);
    let counting = counting_parts();
    let cases = vec![
        stek_case("counting bytes: name 00.., hmac 20.., aes 40..", counting),
        stek_case(
            "random key 1",
            (random(&mut rng), random(&mut rng), random(&mut rng)),
        ),
        stek_case(
            "random key 2",
            (random(&mut rng), random(&mut rng), random(&mut rng)),
        ),
    ];
    let (name, hmac, aes) = counting;
    let mut same_prefix = aes;
    same_prefix[..16].copy_from_slice(&hmac[..16]);
    let negative = vec![
        stek_parts_negative("all-zero name", ([0; 16], hmac, aes), "StekError::AllZero"),
        stek_parts_negative(
            "all-zero hmac key",
            (name, [0; 32], aes),
            "StekError::AllZero",
        ),
        stek_parts_negative(
            "all-zero aes key",
            (name, hmac, [0; 32]),
            "StekError::AllZero",
        ),
        stek_parts_negative(
            "equal secrets",
            (name, hmac, hmac),
            "StekError::SameSecrets",
        ),
        stek_parts_negative(
            "secrets equal in the 16 bytes the 48-byte layouts keep",
            (name, hmac, same_prefix),
            "StekError::SameSecrets",
        ),
        stek_export_negative(
            "ats export into 47 bytes",
            counting,
            ("ats", Layout::Ats),
            47,
        ),
        stek_export_negative(
            "nginx80 export into 48 bytes",
            counting,
            ("nginx80", Layout::Nginx80),
            48,
        ),
        stek_export_negative(
            "haproxy80 export into 79 bytes",
            counting,
            ("haproxy80", Layout::Haproxy80),
            79,
        ),
    ];
    VectorFile::new("stek", cases, negative)
}

// ---- keyrings used by ats_block.json and keyring.json ----

/// A keyring made by following the schedule from T0 until `until`, with keys from `seed`.
fn scheduled(seed: u64, until: u64) -> Keyring {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let mut keyring = Keyring::new();
    let mut now = T0;
    while now <= until {
        let plan = rotation::plan(&SETTINGS, &keyring, now);
        rotation::apply(&plan, &mut keyring, now, &mut rng);
        now = plan.next_check_at;
    }
    keyring
}

fn encoded(keyring: &Keyring) -> String {
    let mut out = [0u8; keyring::ENCODED_MAX_LEN];
    let len = keyring.encode(&mut out).expect("buffer fits any keyring");
    hex::encode(&out[..len])
}

// ---- ats_block.json ----

#[derive(Serialize)]
struct AtsBlockCase {
    name: String,
    keyring: String,
    t: u64,
    encrypting_name: String,
    block: String,
}

#[derive(Serialize)]
struct AtsBlockNegative {
    name: String,
    keyring: String,
    t: u64,
    buffer_len: usize,
    error: String,
}

fn ats_block_case(name: &str, keyring: &Keyring, t: u64) -> AtsBlockCase {
    let mut out = [0u8; keyring::ATS_BLOCK_MAX_LEN];
    let len = keyring
        .ats_block_at(t, &mut out)
        .expect("buffer fits any block");
    let encrypting = keyring.encrypting_at(t).map(|e| hex::encode(e.stek.name()));
    AtsBlockCase {
        name: name.to_string(),
        keyring: encoded(keyring),
        t,
        encrypting_name: encrypting.unwrap_or_default(),
        block: hex::encode(&out[..len]),
    }
}

fn ats_block_file() -> VectorFile<AtsBlockCase, AtsBlockNegative> {
    // Three hours of schedule: epochs 1 to 4 made; epoch 4 introduced at T0 + 3h - 10 min.
    let keyring = scheduled(0xa75b, T0 + 3 * 3600 - 600);
    let times: Vec<KeyTimes> = keyring.entries().iter().map(|e| e.times).collect();
    assert_eq!(times.len(), 3, "epochs 2 to 4 held (epoch 1 pruned)");
    let activate_last = times[2].activate_at;
    let expire_first = times[0].expire_at;
    let cases = vec![
        ats_block_case("empty keyring gives an empty block", &Keyring::new(), T0),
        ats_block_case(
            "before any key is introduced the block is empty",
            &keyring,
            times[0].introduce_at - 1,
        ),
        ats_block_case(
            "one second before the newest key activates",
            &keyring,
            activate_last - 1,
        ),
        ats_block_case(
            "the second the newest key activates it comes first",
            &keyring,
            activate_last,
        ),
        ats_block_case(
            "one second after the newest key activates",
            &keyring,
            activate_last + 1,
        ),
        ats_block_case(
            "one second before the oldest key expires",
            &keyring,
            expire_first - 1,
        ),
        ats_block_case(
            "the second the oldest key expires it leaves the block",
            &keyring,
            expire_first,
        ),
        ats_block_case(
            "after every key expired the block is empty",
            &keyring,
            times[2].expire_at,
        ),
    ];
    let mut blocks = [0u8; keyring::ATS_BLOCK_MAX_LEN];
    let t = activate_last;
    let need = keyring.ats_block_at(t, &mut blocks).expect("fits");
    let name = "a buffer one byte short of the block";
    let mut short = vec![0u8; need - 1];
    let got = keyring
        .ats_block_at(t, &mut short)
        .err()
        .map(|e| error_name("KeyringError", e));
    let negative = vec![AtsBlockNegative {
        name: name.to_string(),
        keyring: encoded(&keyring),
        t,
        buffer_len: need - 1,
        error: expect_error(name, "KeyringError::BufferTooSmall", got),
    }];
    VectorFile::new("ats_block", cases, negative)
}

// ---- keyring.json ----

#[derive(Serialize)]
struct EntryJson {
    epoch: u64,
    introduce_at: u64,
    activate_at: u64,
    expire_at: u64,
    stek_name: String,
    hmac_key: String,
    aes_key: String,
}

impl EntryJson {
    fn of(entry: &KeyEntry) -> EntryJson {
        EntryJson {
            epoch: entry.epoch,
            introduce_at: entry.times.introduce_at,
            activate_at: entry.times.activate_at,
            expire_at: entry.times.expire_at,
            stek_name: hex::encode(entry.stek.name()),
            hmac_key: hex::encode(entry.stek.hmac_key()),
            aes_key: hex::encode(entry.stek.aes_key()),
        }
    }
}

#[derive(Serialize)]
struct KeyringCase {
    name: String,
    op: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    entries: Option<Vec<EntryJson>>,
    #[serde(flatten)]
    seal: Option<SealFields>,
    #[serde(flatten)]
    merge: Option<MergeFields>,
    #[serde(skip_serializing_if = "Option::is_none")]
    encoded: Option<String>,
}

#[derive(Serialize)]
struct SealFields {
    psk: String,
    cluster: String,
    node_id: String,
    sequence: u64,
    issued_at: u64,
    envelope: String,
}

#[derive(Serialize)]
struct MergeFields {
    a: String,
    b: String,
    now: u64,
    merged: String,
}

#[derive(Serialize)]
struct KeyringNegative {
    name: String,
    op: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    encoded: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    psk: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cluster: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    envelope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    held_epoch: Option<u64>,
    error: String,
}

fn encode_case(name: &str, keyring: &Keyring) -> KeyringCase {
    KeyringCase {
        name: name.to_string(),
        op: "encode",
        entries: Some(keyring.entries().iter().map(EntryJson::of).collect()),
        seal: None,
        merge: None,
        encoded: Some(encoded(keyring)),
    }
}

const NODE: [u8; 16] = [0x6b; 16];

fn sealed(keyring: &Keyring, sequence: u64, issued_at: u64) -> Vec<u8> {
    let keys = cluster_keys(PSK, CLUSTER);
    let mut sealer = Sealer::new(NodeId(NODE));
    sealer.next_sequence = sequence;
    let mut out = [0u8; keyring::SEALED_MAX_LEN];
    let len = keyring::seal(&mut sealer, &keys, issued_at, keyring, &mut out).expect("seal");
    out[..len].to_vec()
}

fn seal_case(name: &str, keyring: &Keyring, sequence: u64, issued_at: u64) -> KeyringCase {
    let seal = SealFields {
        psk: hex::encode(PSK),
        cluster: CLUSTER.to_string(),
        node_id: hex::encode(NODE),
        sequence,
        issued_at,
        envelope: hex::encode(sealed(keyring, sequence, issued_at)),
    };
    KeyringCase {
        name: name.to_string(),
        op: "seal",
        entries: None,
        seal: Some(seal),
        merge: None,
        encoded: Some(encoded(keyring)),
    }
}

fn merge_case(name: &str, a: &Keyring, b: &Keyring, now: u64) -> KeyringCase {
    let mut merged = a.duplicate();
    merged.merge(b, now);
    let mut other_way = b.duplicate();
    other_way.merge(a, now);
    assert_eq!(
        encoded(&merged),
        encoded(&other_way),
        "merge '{name}' commutes"
    );
    let merge = MergeFields {
        a: encoded(a),
        b: encoded(b),
        now,
        merged: encoded(&merged),
    };
    KeyringCase {
        name: name.to_string(),
        op: "merge",
        entries: None,
        seal: None,
        merge: Some(merge),
        encoded: None,
    }
}

fn decode_negative(name: &str, bytes: &[u8], expected: &str) -> KeyringNegative {
    let got = Keyring::decode(bytes)
        .err()
        .map(|e| error_name("KeyringError", e));
    KeyringNegative {
        name: name.to_string(),
        op: "decode",
        encoded: Some(hex::encode(bytes)),
        psk: None,
        cluster: None,
        envelope: None,
        held_epoch: None,
        error: expect_error(name, expected, got),
    }
}

fn open_error_name(e: KeyringOpenError) -> String {
    match e {
        KeyringOpenError::Envelope(e) => error_name("OpenError", e),
        KeyringOpenError::Keyring(e) => error_name("KeyringError", e),
        other => error_name("KeyringOpenError", other),
    }
}

fn open_negative(
    name: &str,
    receiver: (&[u8], &str),
    envelope: &[u8],
    held_epoch: u64,
    expected: &str,
) -> KeyringNegative {
    let keys = cluster_keys(receiver.0, receiver.1);
    let mut scratch = [0u8; keyring::ENCODED_MAX_LEN];
    let got = keyring::open_newer(&keys, envelope, held_epoch, &mut scratch).err();
    KeyringNegative {
        name: name.to_string(),
        op: "open",
        encoded: None,
        psk: Some(hex::encode(receiver.0)),
        cluster: Some(receiver.1.to_string()),
        envelope: Some(hex::encode(envelope)),
        held_epoch: Some(held_epoch),
        error: expect_error(name, expected, got.map(open_error_name)),
    }
}

fn flipped(bytes: &[u8], index: usize, bit: u8) -> Vec<u8> {
    let mut out = bytes.to_vec();
    out[index] ^= 1 << bit;
    out
}

/// Two leaders at once: each makes its own epoch 2 from the same epoch 1.
fn two_leaders() -> (Keyring, Keyring) {
    let first = scheduled(0xb1, T0);
    let mut a = first.duplicate();
    let mut b = first.duplicate();
    let now = T0 + SETTINGS.interval_secs - 2 * SETTINGS.lead_secs;
    let plan = rotation::plan(&SETTINGS, &first, now);
    rotation::apply(&plan, &mut a, now, &mut ChaCha20Rng::seed_from_u64(0xb2));
    rotation::apply(&plan, &mut b, now, &mut ChaCha20Rng::seed_from_u64(0xb3));
    (a, b)
}

fn keyring_file() -> VectorFile<KeyringCase, KeyringNegative> {
    let three = scheduled(0x4e1, T0 + 2 * 3600);
    let one = scheduled(0x4e2, T0);
    let later = scheduled(0x4e1, T0 + 4 * 3600);
    let (twin_a, twin_b) = two_leaders();
    let empty = Keyring::new();
    let cases = vec![
        encode_case("empty keyring", &empty),
        encode_case("first key of a pod", &one),
        encode_case("three keys of a schedule", &three),
        seal_case("sealed empty keyring", &empty, 0, T0),
        seal_case("sealed three keys", &three, 41, T0 + 2 * 3600),
        merge_case("merge with an empty keyring", &three, &empty, T0 + 2 * 3600),
        merge_case(
            "two leaders' epochs are both kept",
            &twin_a,
            &twin_b,
            T0 + 3600,
        ),
        merge_case(
            "merge prunes keys expired at now",
            &three,
            &later,
            T0 + 4 * 3600,
        ),
    ];
    let mut negative = decode_negatives(&three);
    negative.extend(open_negatives(&three));
    VectorFile::new("keyring", cases, negative)
}

/// Encodings of `keyring` (three keys) broken in every way decode checks.
fn decode_negatives(keyring: &Keyring) -> Vec<KeyringNegative> {
    let mut bytes = [0u8; keyring::ENCODED_MAX_LEN];
    let len = keyring.encode(&mut bytes).expect("fits");
    let good = &bytes[..len];
    let (count, first, second, rest) = (
        &good[..1],
        &good[1..1 + keyring::ENTRY_LEN],
        &good[1 + keyring::ENTRY_LEN..1 + 2 * keyring::ENTRY_LEN],
        &good[1 + 2 * keyring::ENTRY_LEN..],
    );
    let over = keyring::CAPACITY + 1;
    let mut too_many = vec![u8::try_from(over).expect("capacity below 255")];
    too_many.extend(std::iter::repeat(first).take(over).flatten());
    let mut disordered = good.to_vec();
    disordered[1 + 24..1 + 32].copy_from_slice(&0u64.to_be_bytes());
    let mut zero_key = good.to_vec();
    zero_key[1 + 80..1 + 112].fill(0);

    let malformed = "KeyringError::Malformed";
    let broken: [(&str, Vec<u8>, &str); 8] = [
        ("empty input", Vec::new(), malformed),
        ("truncated by one byte", good[..len - 1].to_vec(), malformed),
        ("one byte too long", [good, &[0]].concat(), malformed),
        ("count above capacity", too_many, malformed),
        (
            "entries out of order",
            [count, second, first, rest].concat(),
            malformed,
        ),
        (
            "the same epoch and name twice",
            [count, first, first, rest].concat(),
            "KeyringError::Duplicate",
        ),
        (
            "expiry before activation",
            disordered,
            "KeyringError::BadTimes",
        ),
        ("all-zero aes key", zero_key, malformed),
    ];
    let to_case =
        |(name, bytes, error): (&str, Vec<u8>, &str)| decode_negative(name, &bytes, error);
    broken.into_iter().map(to_case).collect()
}

/// A sealed keyring that must not open: name, envelope, receiver (PSK file, cluster), held
/// epoch, expected error.
type OpenCase<'a> = (&'a str, Vec<u8>, (&'a [u8], &'a str), u64, &'a str);

/// Sealed keyrings that must not open: tampered, truncated, another cluster or PSK, another
/// kind, a body that is no keyring, and an epoch not newer than the one held.
fn open_negatives(keyring: &Keyring) -> Vec<KeyringNegative> {
    let envelope = sealed(keyring, 41, T0 + 2 * 3600);
    let last = envelope.len() - 1;
    let epoch = keyring.epoch();
    let home = (PSK, CLUSTER);
    let bad_tag = "OpenError::BadTag";
    let old = "KeyringOpenError::OldEpoch";

    // A session envelope offered as a keyring, and a keyring envelope with a bad body.
    let keys = cluster_keys(PSK, CLUSTER);
    let mut sealer = Sealer::new(NodeId(NODE));
    let mut out = [0u8; 128];
    let body = [3u8, 0, 0];
    let len = sealer
        .seal(&keys, Kind::Session, T0, &body, &mut out)
        .expect("seal");
    let session = out[..len].to_vec();
    let len = sealer
        .seal(&keys, Kind::Keyring, T0, &body, &mut out)
        .expect("seal");
    let not_a_keyring = out[..len].to_vec();

    let cases: [OpenCase<'_>; 11] = [
        (
            "flipped bit in the header",
            flipped(&envelope, 20, 0),
            home,
            0,
            bad_tag,
        ),
        (
            "flipped bit in the body",
            flipped(&envelope, 100, 3),
            home,
            0,
            bad_tag,
        ),
        (
            "flipped bit in the tag",
            flipped(&envelope, last, 7),
            home,
            0,
            bad_tag,
        ),
        (
            "truncated by one byte",
            envelope[..last].to_vec(),
            home,
            0,
            bad_tag,
        ),
        (
            "shorter than header and tag",
            envelope[..49].to_vec(),
            home,
            0,
            "OpenError::Malformed",
        ),
        (
            "another cluster",
            envelope.clone(),
            (PSK, "other-pod"),
            0,
            bad_tag,
        ),
        (
            "another PSK",
            envelope.clone(),
            (b"another psk\n", CLUSTER),
            0,
            bad_tag,
        ),
        (
            "old epoch: the held keyring is as new",
            envelope.clone(),
            home,
            epoch,
            old,
        ),
        (
            "old epoch: the held keyring is newer",
            envelope,
            home,
            epoch + 5,
            old,
        ),
        (
            "a session envelope",
            session,
            home,
            0,
            "OpenError::WrongKind",
        ),
        (
            "sealed body is not a keyring",
            not_a_keyring,
            home,
            0,
            "KeyringError::Malformed",
        ),
    ];
    let to_case =
        |(name, bytes, receiver, held, error): (&str, Vec<u8>, (&[u8], &str), u64, &str)| {
            open_negative(name, receiver, &bytes, held, error)
        };
    cases.into_iter().map(to_case).collect()
}
