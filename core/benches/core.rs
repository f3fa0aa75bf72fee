//! Cost of sharing one TLS session: seal and open of a session record with a 256-byte DER
//! (the largest ATS shares by session id), against the legacy codec on the same session.
//!
//! Run: `cargo bench -p atsreuse-core --bench core`.

use std::hint::black_box;

use atsreuse_core::envelope::{Freshness, Sealer};
use atsreuse_core::keys::{ClusterKeys, NodeId, Psk};
use atsreuse_core::legacy::{self, LegacyPskFile};
use atsreuse_core::session::{self, SessionRecord};
use criterion::Criterion;

const DER_LEN: usize = 256;

fn session_benches(c: &mut Criterion) {
    let psk = Psk::from_file_bytes(b"a bench psk of thirty-two bytes!\n").expect("psk");
    let keys = ClusterKeys::derive(&psk, "bench-pod").expect("keys");
    let der: [u8; DER_LEN] = core::array::from_fn(|i| u8::try_from(i % 251).expect("byte"));
    let id = [0x5a; 32];
    let record = SessionRecord {
        id: &id,
        der: &der,
        expires_at: 1_800_000_000,
    };
    let mut sealer = Sealer::new(NodeId([9; 16]));
    let mut envelope = [0u8; 512];

    c.bench_function("session seal (256-byte DER)", |b| {
        b.iter(|| {
            let n = record.seal(&mut sealer, &keys, 1_700_000_000, &mut envelope);
            black_box(n.expect("seal"))
        })
    });

    let n = record
        .seal(&mut sealer, &keys, 1_700_000_000, &mut envelope)
        .expect("seal");
    let freshness = Freshness {
        now: 1_700_000_000,
        max_age_secs: 300,
        max_future_secs: 60,
    };
    let mut plain = [0u8; 512];
    c.bench_function("session open (256-byte DER)", |b| {
        b.iter(|| {
            let opened = session::open(
                &keys,
                black_box(&envelope[..n]),
                Some(freshness),
                &mut plain,
            );
            black_box(opened.expect("open").1.der.len())
        })
    });

    let legacy_key = LegacyPskFile::parse(b"a bench psk of thirty-two bytes!\n")
        .expect("psk")
        .key();
    let mut payload = [0u8; 512];
    c.bench_function("legacy encode (256-byte DER)", |b| {
        b.iter(|| {
            black_box(legacy::encode_session(
                &legacy_key,
                black_box(&der),
                &mut payload,
            ))
        })
    });

    let p = legacy::encode_session(&legacy_key, &der, &mut payload).expect("encode");
    let mut out = [0u8; 512];
    c.bench_function("legacy decode (256-byte DER)", |b| {
        b.iter(|| {
            let der = legacy::decode_session(&legacy_key, black_box(&payload[..p]), &mut out);
            black_box(der.expect("decode").len())
        })
    });
}

// Written out instead of criterion's macros, which generate undocumented public items.
fn main() {
    let mut c = Criterion::default().configure_from_args();
    session_benches(&mut c);
    c.final_summary();
}
