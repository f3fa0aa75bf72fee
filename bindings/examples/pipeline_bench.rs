//! Throughput and delay of the session pipeline: one node publishes, a second node receives
//! through a loopback `redis-server`.
//!
//! 1. Sessions per second: the sender publishes at rising rates for 2 s each; a rate holds when
//!    nothing was dropped (publish queue, endpoint queue) and every session reached the
//!    receiver. Stops at the first rate that does not hold.
//! 2. Publish-to-lookup delay: at a steady rate, a second thread looks each session up on the
//!    receiver as soon as it can; p50 / p99 / max of the time from `publish` to the first hit.
//!
//! Run: `cargo run --release -p atsreuse --example pipeline_bench` (needs `redis-server`).

// A benchmark program: a failed setup step (no redis-server, a refused config) must stop it with
// its message, as in a test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/support/mod.rs"]
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use atsreuse::node::Node;
use support::{derived_password, wait_until, PodSpec, RedisServer};

const CLUSTER: &str = "pipeline";
const PSK: &[u8] = b"pipeline benchmark key, more than sixteen bytes\n";

fn der() -> Vec<u8> {
    let mut der = vec![0x30, 0x81, 0x76];
    der.resize(121, 0x42);
    der
}

/// Publishes `rate` sessions per second for `secs`, ids from `first`; returns how many were
/// offered.
fn publish_at(node: &Node, rate: u64, secs: u64, first: u64) -> u64 {
    let der = der();
    let total = rate * secs;
    let started = Instant::now();
    for i in 0..total {
        let due = started + Duration::from_nanos(i * 1_000_000_000 / rate);
        while Instant::now() < due {
            std::hint::spin_loop();
        }
        let _ = node.publish(&(first + i).to_be_bytes(), &der);
    }
    total
}

fn throughput(a: &Node, b: &Node) {
    let mut first = 0u64;
    let mut best = 0;
    for rate in [
        5_000u64, 10_000, 20_000, 40_000, 60_000, 80_000, 100_000, 150_000, 200_000, 300_000,
    ] {
        let before_a = a.stats();
        let before_b = b.stats();
        let offered = publish_at(a, rate, 2, first);
        first += offered;
        // Let the tail arrive.
        let expected = before_b.sessions_received + offered;
        wait_until(Duration::from_secs(3), || {
            b.stats().sessions_received >= expected
        });
        let (sa, sb) = (a.stats(), b.stats());
        let dropped = (sa.sessions_dropped - before_a.sessions_dropped)
            + (sa.endpoint_queue_dropped - before_a.endpoint_queue_dropped);
        let received = sb.sessions_received - before_b.sessions_received;
        println!(
            "rate {rate:>7}/s: offered {offered:>7}, dropped {dropped:>6}, received {received:>7}"
        );
        if dropped > 0 || received < offered {
            break;
        }
        best = rate;
    }
    println!("highest rate without loss: {best} sessions/s");
}

fn delay(a: &Arc<Node>, b: &Arc<Node>, rate: u64, secs: u64) {
    let first = 1u64 << 40;
    let total = rate * secs;
    let started = Instant::now();
    let sender = {
        let a = Arc::clone(a);
        std::thread::spawn(move || publish_at(&a, rate, secs, first))
    };
    let mut delays = Vec::new();
    let mut lost = 0;
    let mut out = [0u8; 512];
    for i in 0..total {
        // Session i is published at started + i / rate.
        let due = started + Duration::from_nanos(i * 1_000_000_000 / rate);
        let id = (first + i).to_be_bytes();
        let deadline = due + Duration::from_secs(1);
        loop {
            if let Ok(Some(_)) = b.lookup(&id, &mut out) {
                delays.push(Instant::now().saturating_duration_since(due));
                break;
            }
            if Instant::now() > deadline {
                lost += 1;
                break;
            }
            std::hint::spin_loop();
        }
    }
    let _ = sender.join();
    delays.sort();
    // Nearest-rank percentile: index p% of the way through the sorted delays.
    let pct = |percent: usize| delays[(delays.len() - 1) * percent / 100];
    println!(
        "delay at {rate}/s ({} sessions, {lost} not found within 1 s): p50 {:?}, p99 {:?}, max {:?}",
        delays.len(),
        pct(50),
        pct(99),
        delays.last().copied().unwrap_or_default()
    );
}

fn main() {
    let redis = RedisServer::start(&derived_password(PSK, CLUSTER));
    let spec = PodSpec::new(CLUSTER, PSK, &[redis.port]);
    let extra = "atsreuse.publish_queue_capacity=10000\natsreuse.session_map_capacity=2000000\n";
    let (a, _ha) = spec.start("sender", extra);
    let (b, _hb) = spec.start("receiver", extra);
    assert!(wait_until(Duration::from_secs(10), || a
        .stats()
        .redis_connected
        == 1
        && b.stats().redis_connected == 1));
    throughput(&a, &b);
    let (a, b) = (Arc::new(a), Arc::new(b));
    delay(&a, &b, 1_000, 3);
    delay(&a, &b, 10_000, 3);
}
