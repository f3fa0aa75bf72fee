//! Cost of `publish` and `lookup` on the caller's thread (what an ATS net thread pays).
//!
//! Needs `redis-server` (started on a free loopback port). Run:
//! `cargo bench -p atsreuse --bench caller`.

// A benchmark program: a failed setup step (no redis-server, a refused config) must stop it with
// its message, as in a test.
#![allow(clippy::unwrap_used, clippy::expect_used)]
// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use support::{derived_password, wait_until, PodSpec, RedisServer};

const CLUSTER: &str = "bench";
const PSK: &[u8] = b"benchmark key with more than sixteen bytes\n";
const SESSIONS: u32 = 10_000;

/// A DER of typical size for an ATS TLS 1.2 session (about 120 bytes without a ticket).
fn der() -> Vec<u8> {
    let mut der = vec![0x30, 0x81, 0x76];
    der.resize(121, 0x42);
    der
}

fn caller_thread(c: &mut Criterion) {
    let redis = RedisServer::start(&derived_password(PSK, CLUSTER));
    let spec = PodSpec::new(CLUSTER, PSK, &[redis.port]);
    let extra = "atsreuse.publish_queue_capacity=100000\natsreuse.session_map_capacity=100000\n";
    let (a, _) = spec.start("a", extra);
    let (b, _) = spec.start("b", extra);
    assert!(wait_until(Duration::from_secs(10), || b
        .stats()
        .redis_connected
        == 1
        && a.stats().redis_connected == 1));
    let der = der();

    // Fill b's map through Redis, for lookups that hit.
    for n in 0..SESSIONS {
        while a.publish(&n.to_be_bytes(), &der).is_err() {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    assert!(wait_until(Duration::from_secs(30), || b
        .stats()
        .sessions_received
        >= u64::from(SESSIONS)));

    // Lookups first: the publish bench sends millions of sessions to b, which would evict
    // the ones the lookups hit.
    let mut out = [0u8; 512];
    let mut n = 0u32;
    c.bench_function("lookup hit", |bench| {
        bench.iter(|| {
            n = (n + 7919) % SESSIONS;
            b.lookup(&n.to_be_bytes(), &mut out).unwrap().unwrap()
        })
    });
    c.bench_function("lookup miss", |bench| {
        bench.iter(|| {
            n = n.wrapping_add(1);
            let [_, _, hi, lo] = n.to_be_bytes();
            b.lookup(&[0xee, 0xee, 0xee, 0xee, 0xee, hi, lo], &mut out)
                .unwrap()
        })
    });
    let mut next = SESSIONS;
    c.bench_function("publish (121-byte DER)", |bench| {
        bench.iter_custom(|iters| {
            let mut spent = Duration::ZERO;
            for _ in 0..iters {
                next = next.wrapping_add(1);
                let started = Instant::now();
                let result = a.publish(&next.to_be_bytes(), &der);
                spent += started.elapsed();
                if result.is_err() {
                    // Queue full: let the sealer catch up, outside the measured time.
                    std::thread::sleep(Duration::from_millis(2));
                }
            }
            spent
        })
    });

    let stats = a.stats();
    eprintln!(
        "publish: {} accepted, {} dropped (queue full)",
        stats.sessions_published, stats.sessions_dropped
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = caller_thread
}
criterion_main!(benches);
