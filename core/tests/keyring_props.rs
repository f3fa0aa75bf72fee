//! Property tests of the keyring: merge laws against a plain model, deterministic key choice,
//! encoding round trips, and sealed keyrings that refuse every bit flip and truncation.

use std::collections::BTreeMap;

use atsreuse_core::envelope::{OpenError, Sealer};
use atsreuse_core::keyring::{
    self, KeyEntry, KeyTimes, Keyring, KeyringError, KeyringOpenError, CAPACITY, ENCODED_MAX_LEN,
    SEALED_MAX_LEN,
};
use atsreuse_core::keys::{ClusterKeys, NodeId, Psk};
use atsreuse_core::stek::Stek;
use proptest::prelude::*;

/// One key as plain values: epoch, name byte, times, HMAC byte, AES byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Plain {
    epoch: u64,
    name: u8,
    times: KeyTimes,
    hmac: u8,
    aes: u8,
}

impl Plain {
    fn name(&self) -> [u8; 16] {
        [self.name; 16]
    }
    fn entry(&self) -> KeyEntry {
        let stek = Stek::from_parts(self.name(), [self.hmac; 32], [self.aes; 32])
            .expect("test keys are valid");
        KeyEntry {
            epoch: self.epoch,
            times: self.times,
            stek,
        }
    }
    fn of(entry: &KeyEntry) -> Plain {
        Plain {
            epoch: entry.epoch,
            name: entry.stek.name()[0],
            times: entry.times,
            hmac: entry.stek.hmac_key()[0],
            aes: entry.stek.aes_key()[0],
        }
    }
}

/// Keys from a small universe, so that (epoch, name) collisions and conflicts happen often.
fn plain() -> impl Strategy<Value = Plain> {
    (
        1u64..=6,
        1u8..=3,
        0u64..100,
        0u64..100,
        1u64..200,
        1u8..=3,
        0x10u8..=0x12,
    )
        .prop_map(|(epoch, name, introduce_at, lead, life, hmac, aes)| Plain {
            epoch,
            name,
            times: KeyTimes {
                introduce_at,
                activate_at: introduce_at + lead,
                expire_at: introduce_at + lead + life,
            },
            hmac,
            aes,
        })
}

/// A keyring from up to 24 keys; duplicates and overflow are left out as `insert` refuses
/// them, so full keyrings are common and merges overflow the capacity.
fn keyring_strategy() -> impl Strategy<Value = Vec<Plain>> {
    prop::collection::vec(plain(), 0..24)
}

/// Up to CAPACITY keys with distinct (epoch, name), so any order of insertion keeps them all.
fn distinct_keys() -> impl Strategy<Value = Vec<Plain>> {
    prop::collection::vec(plain(), 0..24).prop_map(|keys| {
        let mut by_id = BTreeMap::new();
        for key in keys {
            by_id.entry((key.epoch, key.name)).or_insert(key);
        }
        by_id.into_values().take(CAPACITY).collect()
    })
}

fn build(keys: &[Plain]) -> Keyring {
    let mut keyring = Keyring::new();
    for key in keys {
        let _ = keyring.insert(key.entry());
    }
    keyring
}

fn plains(keyring: &Keyring) -> Vec<Plain> {
    keyring.entries().iter().map(Plain::of).collect()
}

/// The merge as a plain model: union, expired out, one winner per (epoch, name) by
/// (times, hmac, aes), the greatest CAPACITY ids kept.
fn model_merge(sides: &[&[Plain]], now: u64) -> Vec<Plain> {
    let mut by_id: BTreeMap<(u64, u8), Plain> = BTreeMap::new();
    for key in sides.iter().flat_map(|side| side.iter()) {
        if key.times.expire_at <= now {
            continue;
        }
        let slot = by_id.entry((key.epoch, key.name)).or_insert(*key);
        if (key.times, key.hmac, key.aes) > (slot.times, slot.hmac, slot.aes) {
            *slot = *key;
        }
    }
    let all: Vec<Plain> = by_id.into_values().collect();
    all[all.len().saturating_sub(CAPACITY)..].to_vec()
}

fn merged(a: &Keyring, b: &Keyring, now: u64) -> Keyring {
    let mut out = a.duplicate();
    out.merge(b, now);
    out
}

/// 512 cases per property; failures are reported, not stored in a regressions file.
fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 512,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn merge_matches_the_model(a in keyring_strategy(), b in keyring_strategy(), now in 0u64..250) {
        let (ka, kb) = (build(&a), build(&b));
        let got = plains(&merged(&ka, &kb, now));
        prop_assert_eq!(got, model_merge(&[&plains(&ka), &plains(&kb)], now));
    }

    #[test]
    fn merge_is_commutative(a in keyring_strategy(), b in keyring_strategy(), now in 0u64..250) {
        let (ka, kb) = (build(&a), build(&b));
        prop_assert_eq!(plains(&merged(&ka, &kb, now)), plains(&merged(&kb, &ka, now)));
    }

    #[test]
    fn merge_is_associative(
        a in keyring_strategy(),
        b in keyring_strategy(),
        c in keyring_strategy(),
        now in 0u64..250,
    ) {
        let (ka, kb, kc) = (build(&a), build(&b), build(&c));
        let left = merged(&merged(&ka, &kb, now), &kc, now);
        let right = merged(&ka, &merged(&kb, &kc, now), now);
        prop_assert_eq!(plains(&left), plains(&right));
    }

    #[test]
    fn merge_is_idempotent_and_reports_no_change(a in keyring_strategy(), now in 0u64..250) {
        let mut ka = build(&a);
        ka.prune(now);
        let before = plains(&ka);
        let copy = ka.duplicate();
        prop_assert!(!ka.merge(&copy, now));
        prop_assert_eq!(plains(&ka), before);
    }

    #[test]
    fn merge_reports_change_exactly_when_the_keyring_changed(
        a in keyring_strategy(),
        b in keyring_strategy(),
        now in 0u64..250,
    ) {
        let (mut ka, kb) = (build(&a), build(&b));
        let before = plains(&ka);
        let changed = ka.merge(&kb, now);
        prop_assert_eq!(changed, plains(&ka) != before);
    }

    #[test]
    fn key_choice_depends_only_on_the_set_of_keys(
        (keys, shuffled) in distinct_keys().prop_flat_map(|keys| {
            let shuffled = Just(keys.clone()).prop_shuffle();
            (Just(keys), shuffled)
        }),
        t in 0u64..300,
    ) {
        let (one, other) = (build(&keys), build(&shuffled));
        let pick = |k: &Keyring| k.encrypting_at(t).map(Plain::of);
        prop_assert_eq!(pick(&one), pick(&other));
        // The model: the greatest (activate, epoch, name) among keys that may encrypt at t.
        let model = keys
            .iter()
            .filter(|p| p.times.activate_at <= t && t < p.times.expire_at)
            .max_by_key(|p| (p.times.activate_at, p.epoch, p.name))
            .copied();
        prop_assert_eq!(pick(&one), model);
    }

    #[test]
    fn ats_block_is_the_encrypting_key_then_the_rest_newest_first(
        keys in prop::collection::vec(plain(), 0..9),
        t in 0u64..300,
    ) {
        let keyring = build(&keys);
        let mut out = [0u8; keyring::ATS_BLOCK_MAX_LEN];
        let len = keyring.ats_block_at(t, &mut out).unwrap();
        let first = keyring.encrypting_at(t).map(Plain::of);
        let Some(first) = first else {
            prop_assert_eq!(len, 0);
            return Ok(());
        };
        let mut rest: Vec<Plain> = plains(&keyring)
            .into_iter()
            .filter(|p| p.times.introduce_at <= t && t < p.times.expire_at && *p != first)
            .collect();
        rest.sort_by_key(|p| std::cmp::Reverse((p.times.activate_at, p.epoch, p.name)));
        let want: Vec<u8> = std::iter::once(first)
            .chain(rest)
            .flat_map(|p| [[p.name; 16], [p.hmac; 16], [p.aes; 16]].concat())
            .collect();
        prop_assert_eq!(&out[..len], &want[..]);
    }

    #[test]
    fn encoding_round_trips(keys in keyring_strategy()) {
        let keyring = build(&keys);
        let mut out = [0u8; ENCODED_MAX_LEN];
        let len = keyring.encode(&mut out).unwrap();
        let back = Keyring::decode(&out[..len]).unwrap();
        prop_assert_eq!(plains(&back), plains(&keyring));
    }

    #[test]
    fn decode_never_panics_on_any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..1000)) {
        let _ = Keyring::decode(&bytes);
    }

    #[test]
    fn decode_of_a_damaged_encoding_never_panics_and_never_adds_keys(
        keys in keyring_strategy(),
        at in any::<prop::sample::Index>(),
        bit in 0u8..8,
    ) {
        let keyring = build(&keys);
        let mut out = [0u8; ENCODED_MAX_LEN];
        let len = keyring.encode(&mut out).unwrap();
        let flip = at.index(len);
        out[flip] ^= 1 << bit;
        if let Ok(back) = Keyring::decode(&out[..len]) {
            prop_assert_eq!(back.len(), keyring.len());
        }
    }
}

fn cluster(name: &str, psk: &[u8]) -> ClusterKeys {
    let psk = Psk::from_file_bytes(psk).expect("test PSK is valid");
    ClusterKeys::derive(&psk, name).expect("test cluster name is valid")
}

fn sample_keyring() -> Keyring {
    build(&[
        Plain {
            epoch: 1,
            name: 1,
            times: KeyTimes {
                introduce_at: 10,
                activate_at: 10,
                expire_at: 900,
            },
            hmac: 1,
            aes: 0x10,
        },
        Plain {
            epoch: 2,
            name: 2,
            times: KeyTimes {
                introduce_at: 300,
                activate_at: 400,
                expire_at: 1300,
            },
            hmac: 2,
            aes: 0x11,
        },
    ])
}

fn sealed(keys: &ClusterKeys, keyring: &Keyring) -> Vec<u8> {
    let mut sealer = Sealer::new(NodeId([7; 16]));
    let mut out = [0u8; SEALED_MAX_LEN];
    let len = keyring::seal(&mut sealer, keys, 1000, keyring, &mut out)
        .expect("the buffer fits any keyring");
    out[..len].to_vec()
}

#[test]
fn a_sealed_keyring_opens_to_the_same_keys() {
    let keys = cluster("pod-a", b"a pre-shared key of some length\n");
    let keyring = sample_keyring();
    let bytes = sealed(&keys, &keyring);
    let mut scratch = [0u8; ENCODED_MAX_LEN];
    let (header, back) = keyring::open(&keys, &bytes, &mut scratch).unwrap();
    assert_eq!(header.sender, NodeId([7; 16]));
    assert_eq!(header.issued_at, 1000);
    assert_eq!(plains(&back), plains(&keyring));
    assert!(
        scratch.iter().all(|&b| b == 0),
        "the plaintext is erased from the scratch buffer"
    );
}

#[test]
fn every_bit_flip_and_truncation_of_a_sealed_keyring_is_refused() {
    let keys = cluster("pod-a", b"a pre-shared key of some length\n");
    let bytes = sealed(&keys, &sample_keyring());
    let mut scratch = [0u8; ENCODED_MAX_LEN];
    let mut refused = 0;
    for index in 0..bytes.len() {
        for bit in 0..8 {
            let mut bad = bytes.clone();
            bad[index] ^= 1 << bit;
            assert!(
                keyring::open(&keys, &bad, &mut scratch).is_err(),
                "flip {index}:{bit}"
            );
            refused += 1;
        }
    }
    for len in 0..bytes.len() {
        assert!(
            keyring::open(&keys, &bytes[..len], &mut scratch).is_err(),
            "truncated to {len}"
        );
        refused += 1;
    }
    println!("sealed keyring: {refused} damaged copies refused");
}

#[test]
fn another_cluster_or_psk_cannot_open_a_keyring() {
    let keys = cluster("pod-a", b"a pre-shared key of some length\n");
    let bytes = sealed(&keys, &sample_keyring());
    let mut scratch = [0u8; ENCODED_MAX_LEN];
    for other in [
        cluster("pod-b", b"a pre-shared key of some length\n"),
        cluster("pod-a", b"another key\n"),
    ] {
        let error = keyring::open(&other, &bytes, &mut scratch).unwrap_err();
        assert_eq!(error, KeyringOpenError::Envelope(OpenError::BadTag));
    }
}

#[test]
fn open_newer_refuses_a_keyring_that_is_not_newer() {
    let keys = cluster("pod-a", b"a pre-shared key of some length\n");
    let bytes = sealed(&keys, &sample_keyring());
    let mut scratch = [0u8; ENCODED_MAX_LEN];
    assert!(keyring::open_newer(&keys, &bytes, 1, &mut scratch).is_ok());
    for held in [2, 3] {
        let error = keyring::open_newer(&keys, &bytes, held, &mut scratch).unwrap_err();
        assert_eq!(error, KeyringOpenError::OldEpoch);
    }
}

#[test]
fn a_sealed_body_that_is_not_a_keyring_is_refused_as_malformed() {
    let keys = cluster("pod-a", b"a pre-shared key of some length\n");
    let mut sealer = Sealer::new(NodeId([7; 16]));
    let mut out = [0u8; 64];
    let body = [3u8, 0, 0];
    let kind = atsreuse_core::envelope::Kind::Keyring;
    let len = sealer.seal(&keys, kind, 5, &body, &mut out).unwrap();
    let mut scratch = [0u8; ENCODED_MAX_LEN];
    let error = keyring::open(&keys, &out[..len], &mut scratch).unwrap_err();
    assert_eq!(error, KeyringOpenError::Keyring(KeyringError::Malformed));
}
