//! Properties of the key schedule, the envelope, the session record and the legacy codec,
//! over random inputs: round trips, and rejection of every single-bit flip and every
//! truncation of a sealed envelope. Parsers get arbitrary bytes and must return, not panic.

use atsreuse_core::envelope::{self, Freshness, Kind, OpenError, Sealer};
use atsreuse_core::keys::{ClusterKeys, NodeId, Psk};
use atsreuse_core::session::{self, SessionRecord};
use proptest::prelude::*;

fn keys(psk: &[u8], cluster: &str) -> ClusterKeys {
    let psk = Psk::from_file_bytes(psk).expect("psk");
    ClusterKeys::derive(&psk, cluster).expect("keys")
}

fn seal(k: &ClusterKeys, kind: Kind, node: [u8; 16], seq: u64, t: u64, pt: &[u8]) -> Vec<u8> {
    let mut sealer = Sealer {
        node: NodeId(node),
        next_sequence: seq,
    };
    let mut out = vec![0u8; pt.len() + envelope::OVERHEAD];
    let n = sealer.seal(k, kind, t, pt, &mut out).expect("seal");
    assert_eq!(n, out.len());
    out
}

fn psk_bytes() -> impl Strategy<Value = Vec<u8>> {
    // Leading byte not a newline, so the PSK never strips down to nothing.
    (
        any::<u8>().prop_filter("not a newline", |b| *b != b'\n'),
        prop::collection::vec(any::<u8>(), 0..64),
    )
        .prop_map(|(first, rest)| [vec![first], rest].concat())
}

fn bytes(len: std::ops::Range<usize>) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), len)
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![Just(Kind::Session), Just(Kind::Keyring)]
}

proptest! {
    #[test]
    fn sealed_envelope_opens_to_its_plaintext(
        psk in psk_bytes(),
        cluster in "[a-z0-9.-]{1,128}",
        kind in kind(),
        node in any::<[u8; 16]>(),
        seq in 0..u64::MAX,
        t in any::<u64>(),
        pt in prop::collection::vec(any::<u8>(), 0..2048),
    ) {
        let k = keys(&psk, &cluster);
        let sealed = seal(&k, kind, node, seq, t, &pt);
        let mut out = vec![0u8; pt.len()];
        let fresh = Freshness { now: t, max_age_secs: 0, max_future_secs: 0 };
        let (header, got) = envelope::open(&k, kind, &sealed, Some(fresh), &mut out).expect("open");
        prop_assert_eq!(got, &pt[..]);
        prop_assert_eq!((header.sender, header.sequence, header.issued_at), (NodeId(node), seq, t));
    }

    #[test]
    fn every_single_bit_flip_of_an_envelope_is_rejected(
        kind in kind(),
        node in any::<[u8; 16]>(),
        seq in any::<u32>(),
        pt in prop::collection::vec(any::<u8>(), 0..48),
    ) {
        let k = keys(b"flip psk", "pod");
        let sealed = seal(&k, kind, node, u64::from(seq), 1000, &pt);
        let mut out = vec![0u8; sealed.len()];
        for index in 0..sealed.len() {
            for bit in 0..8 {
                let mut bad = sealed.clone();
                bad[index] ^= 1 << bit;
                let err = envelope::open(&k, kind, &bad, None, &mut out).err();
                // Version and kind are checked before the tag; everything else breaks the tag.
                let expected = match index {
                    0 => OpenError::UnknownVersion,
                    1 => OpenError::WrongKind,
                    _ => OpenError::BadTag,
                };
                prop_assert_eq!(err, Some(expected), "byte {} bit {}", index, bit);
            }
        }
    }

    #[test]
    fn every_truncation_of_an_envelope_is_rejected(
        pt in prop::collection::vec(any::<u8>(), 0..64),
        t in any::<u64>(),
    ) {
        let k = keys(b"cut psk", "pod");
        let sealed = seal(&k, Kind::Session, [5; 16], 0, t, &pt);
        let mut out = vec![0u8; sealed.len()];
        for len in 0..sealed.len() {
            let err = envelope::open(&k, Kind::Session, &sealed[..len], None, &mut out).err();
            let expected =
                if len < envelope::OVERHEAD { OpenError::Malformed } else { OpenError::BadTag };
            prop_assert_eq!(err, Some(expected), "cut to {}", len);
        }
    }

    #[test]
    fn envelope_from_another_cluster_or_psk_is_rejected(
        pt in prop::collection::vec(any::<u8>(), 0..64),
        a in "[a-z]{1,16}",
        b in "[a-z]{1,16}",
    ) {
        prop_assume!(a != b);
        let sealed = seal(&keys(b"psk", &a), Kind::Session, [1; 16], 0, 0, &pt);
        let mut out = vec![0u8; sealed.len()];
        let other_cluster =
            envelope::open(&keys(b"psk", &b), Kind::Session, &sealed, None, &mut out);
        prop_assert_eq!(other_cluster.err(), Some(OpenError::BadTag));
        let other_psk = envelope::open(&keys(b"psK", &a), Kind::Session, &sealed, None, &mut out);
        prop_assert_eq!(other_psk.err(), Some(OpenError::BadTag));
    }

    #[test]
    fn open_of_arbitrary_bytes_returns_an_error(
        bytes in prop::collection::vec(any::<u8>(), 0..256),
        kind in kind(),
    ) {
        let k = keys(b"psk", "pod");
        let mut out = vec![0u8; 256];
        prop_assert!(envelope::open(&k, kind, &bytes, None, &mut out).is_err());
        let mut small = [0u8; 3];
        let _ = envelope::open(&k, kind, &bytes, None, &mut small);
    }

    #[test]
    fn session_record_round_trips_sealed_and_plain(
        id in prop::collection::vec(any::<u8>(), 1..=session::ID_MAX_LEN),
        der in prop::collection::vec(any::<u8>(), 1..1024),
        expires_at in any::<u64>(),
    ) {
        let record = SessionRecord { id: &id, der: &der, expires_at };
        let mut plain = vec![0u8; record.encoded_len()];
        prop_assert_eq!(record.encode(&mut plain), Ok(plain.len()));
        prop_assert_eq!(SessionRecord::decode(&plain), Ok(record));
        let k = keys(b"psk", "pod");
        let mut sealer = Sealer::new(NodeId([2; 16]));
        let mut sealed = vec![0u8; record.encoded_len() + envelope::OVERHEAD];
        let n = record.seal(&mut sealer, &k, 10, &mut sealed).expect("seal");
        let mut out = vec![0u8; n];
        let (_, got) = session::open(&k, &sealed[..n], None, &mut out).expect("open");
        prop_assert_eq!(got, record);
    }

    #[test]
    fn record_decode_of_arbitrary_bytes_never_panics(bytes in bytes(0..128)) {
        if let Ok(record) = SessionRecord::decode(&bytes) {
            // Whatever decodes encodes back to the same bytes: one encoding per record.
            let mut out = vec![0u8; bytes.len()];
            prop_assert_eq!(record.encode(&mut out), Ok(bytes.len()));
            prop_assert_eq!(out, bytes);
        }
    }
}

/// The legacy codec (feature `legacy`).
#[cfg(feature = "legacy")]
mod legacy_props {
    use super::*;
    use atsreuse_core::legacy::{self, LegacyKey};

    proptest! {
        #[test]
        fn legacy_session_round_trips(
            pass in prop::collection::vec(any::<u8>(), 1..64),
            der in prop::collection::vec(any::<u8>(), 1..600),
        ) {
            let key = LegacyKey::derive(&pass);
            let mut payload = vec![0u8; legacy::session_payload_len(der.len())];
            let n = legacy::encode_session(&key, &der, &mut payload).expect("encode");
            prop_assert_eq!(n, payload.len());
            let mut out = vec![0u8; n];
            prop_assert_eq!(legacy::decode_session(&key, &payload, &mut out), Ok(&der[..]));
        }

        #[test]
        fn legacy_stek_round_trips(pass in bytes(1..64), stek in any::<[u8; 48]>()) {
            let key = LegacyKey::derive(&pass);
            let payload = legacy::encode_stek(&key, &stek);
            let mut back = [0u8; 48];
            prop_assert_eq!(legacy::decode_stek(&key, &payload, &mut back), Ok(()));
            prop_assert_eq!(back, stek);
        }

        #[test]
        fn legacy_decoders_take_arbitrary_text_without_panic(text in bytes(0..200)) {
            let key = LegacyKey::derive(b"secret");
            let mut out = vec![0u8; 200];
            let _ = legacy::decode_session(&key, &text, &mut out);
            let mut small = [0u8; 7];
            let _ = legacy::decode_session(&key, &text, &mut small);
            let mut stek = [0u8; 48];
            let _ = legacy::decode_stek(&key, &text, &mut stek);
            let mut id = [0u8; session::ID_MAX_LEN];
            if let Ok(n) = legacy::decode_session_id(&text, &mut id) {
                prop_assert!((1..=session::ID_MAX_LEN).contains(&n));
            }
        }

        #[test]
        fn base64_round_trips_and_url_safe_text_decodes_the_same(data in bytes(0..100)) {
            let bytes = data;
            let mut text = vec![0u8; legacy::base64_encoded_len(bytes.len())];
            let n = legacy::base64_encode(&bytes, &mut text).expect("encode");
            let mut back = vec![0u8; bytes.len()];
            prop_assert_eq!(legacy::base64_decode(&text[..n], &mut back), Ok(bytes.len()));
            prop_assert_eq!(&back, &bytes);
            let url_safe = |c: &u8| match c {
                b'+' => b'-',
                b'/' => b'_',
                c => *c,
            };
            let url: Vec<u8> = text.iter().map(url_safe).collect();
            prop_assert_eq!(legacy::base64_decode(&url, &mut back), Ok(bytes.len()));
            prop_assert_eq!(&back, &bytes);
        }
    }
}
