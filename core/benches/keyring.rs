//! Cost of keyring work on a node: merging two full keyrings (what every node does when a
//! stored keyring arrives), building the ATS key block, and sealing and opening a keyring.
//!
//! Run: `cargo bench -p atsreuse-core --bench keyring`.

use std::hint::black_box;

use atsreuse_core::envelope::Sealer;
use atsreuse_core::keyring::{self, KeyEntry, KeyTimes, Keyring, CAPACITY};
use atsreuse_core::keys::{ClusterKeys, NodeId, Psk};
use atsreuse_core::stek::Stek;
use criterion::{BatchSize, Criterion};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

const NOW: u64 = 1_800_000_000;

/// A full keyring of epochs `first..first + CAPACITY`, one key per hour, none expired at NOW.
fn full_keyring(first: u64, rng: &mut ChaCha20Rng) -> Keyring {
    let mut keyring = Keyring::new();
    for epoch in first..first + CAPACITY as u64 {
        let activate_at = NOW - 3600 * 4 + epoch * 600;
        let times = KeyTimes {
            introduce_at: activate_at - 600,
            activate_at,
            expire_at: NOW + 86_400,
        };
        let entry = KeyEntry {
            epoch,
            times,
            stek: Stek::generate(rng),
        };
        keyring.insert(entry).expect("room for CAPACITY keys");
    }
    keyring
}

fn merge_benches(c: &mut Criterion) {
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let ours = full_keyring(1, &mut rng);
    let theirs = full_keyring(CAPACITY as u64 / 2 + 1, &mut rng);
    let same = ours.duplicate();

    c.bench_function("keyring merge: two full keyrings, half the keys new", |b| {
        b.iter_batched(
            || ours.duplicate(),
            |mut into| black_box(into.merge(black_box(&theirs), NOW)),
            BatchSize::SmallInput,
        )
    });
    c.bench_function(
        "keyring merge: two full keyrings, identical (steady state)",
        |b| {
            b.iter_batched(
                || ours.duplicate(),
                |mut into| black_box(into.merge(black_box(&same), NOW)),
                BatchSize::SmallInput,
            )
        },
    );

    let mut block = [0u8; keyring::ATS_BLOCK_MAX_LEN];
    c.bench_function("ATS key block of a full keyring", |b| {
        b.iter(|| black_box(ours.ats_block_at(black_box(NOW), &mut block)))
    });
}

fn seal_benches(c: &mut Criterion) {
    let mut rng = ChaCha20Rng::seed_from_u64(2);
    let keyring = full_keyring(1, &mut rng);
    let psk = Psk::from_file_bytes(b"a bench psk of thirty-two bytes!\n").expect("psk");
    let keys = ClusterKeys::derive(&psk, "bench-pod").expect("keys");
    let mut sealer = Sealer::new(NodeId([9; 16]));
    let mut sealed = [0u8; keyring::SEALED_MAX_LEN];

    c.bench_function("keyring seal (full keyring)", |b| {
        b.iter(|| {
            black_box(keyring::seal(
                &mut sealer,
                &keys,
                NOW,
                &keyring,
                &mut sealed,
            ))
        })
    });
    let len = keyring::seal(&mut sealer, &keys, NOW, &keyring, &mut sealed).expect("seal");
    let mut scratch = [0u8; keyring::ENCODED_MAX_LEN];
    c.bench_function("keyring open (full keyring)", |b| {
        b.iter(|| black_box(keyring::open(&keys, black_box(&sealed[..len]), &mut scratch).is_ok()))
    });
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    merge_benches(&mut c);
    seal_benches(&mut c);
    c.final_summary();
}
