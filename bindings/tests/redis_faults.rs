//! One endpoint dead, then one frozen: sessions still flow through the other, and no call on
//! the caller's thread waits for Redis.

mod support;

use std::time::{Duration, Instant};

use atsreuse::node::Node;
use support::{derived_password, wait_until, PodSpec, RedisServer};

const CLUSTER: &str = "faults";
const PSK: &[u8] = b"fault test key, long enough for the warning\n";

/// Publishes `count` sessions on `from` and waits until `to` finds them all; returns the worst
/// time of one publish and of one lookup on this (the caller's) thread.
fn flow(from: &Node, to: &Node, first: u32, count: u32) -> (Duration, Duration) {
    let mut worst_publish = Duration::ZERO;
    let mut worst_lookup = Duration::ZERO;
    let mut out = [0u8; 64];
    for n in first..first + count {
        let id = n.to_be_bytes();
        let started = Instant::now();
        from.publish(&id, b"0\x82der").expect("publish");
        worst_publish = worst_publish.max(started.elapsed());
        std::thread::sleep(Duration::from_millis(5));
    }
    for n in first..first + count {
        let id = n.to_be_bytes();
        let found = wait_until(Duration::from_secs(5), || {
            let started = Instant::now();
            let hit = matches!(to.lookup(&id, &mut out), Ok(Some(5)));
            worst_lookup = worst_lookup.max(started.elapsed());
            hit
        });
        assert!(found, "session {n} did not arrive");
    }
    (worst_publish, worst_lookup)
}

#[test]
fn sessions_flow_through_the_other_endpoint_while_one_is_dead_then_frozen() {
    let password = derived_password(PSK, CLUSTER);
    let mut r1 = RedisServer::start(&password);
    let r2 = RedisServer::start(&password);
    let spec = PodSpec::new(CLUSTER, PSK, &[r1.port, r2.port]);
    let (a, _ha) = spec.start("a", "");
    let (b, hb) = spec.start("b", "");
    assert!(wait_until(Duration::from_secs(10), || a
        .stats()
        .redis_connected
        == 2
        && b.stats().redis_connected == 2));
    let io_timeout = Duration::from_secs(1);
    let limit = Duration::from_millis(5);

    // Endpoint 1 dead.
    r1.kill();
    let (p, l) = flow(&a, &b, 0, 50);
    assert!(
        p < limit && l < limit,
        "dead endpoint: worst publish {p:?}, lookup {l:?}"
    );
    assert!(wait_until(Duration::from_secs(5), || b
        .stats()
        .redis_connected
        == 1));
    assert!(hb.logged(
        atsreuse::node::LogLevel::Warn,
        &format!("127.0.0.1:{}", r1.port)
    ));

    // Endpoint 1 back, endpoint 2 frozen: it keeps its sockets and answers nothing.
    r1.restart_empty();
    assert!(wait_until(Duration::from_secs(10), || a
        .stats()
        .redis_connected
        == 2
        && b.stats().redis_connected == 2));
    r2.freeze();
    let frozen_at = Instant::now();
    let (p, l) = flow(&a, &b, 1000, 50);
    // Keep publishing across several IO timeouts, while the frozen endpoint's threads wait.
    let (p2, l2) = flow(&a, &b, 2000, 200);
    assert!(
        frozen_at.elapsed() > io_timeout,
        "the frozen phase must outlast the IO timeout"
    );
    let worst_publish = p.max(p2);
    let worst_lookup = l.max(l2);
    assert!(
        worst_publish < limit && worst_lookup < limit,
        "frozen endpoint: worst publish {worst_publish:?}, lookup {worst_lookup:?} (IO timeout {io_timeout:?})"
    );
    eprintln!("caller thread with one endpoint frozen: worst publish {worst_publish:?}, worst lookup {worst_lookup:?}");
    assert!(wait_until(Duration::from_secs(5), || b
        .stats()
        .redis_connected
        == 1));

    // Stop is bounded by the IO timeouts even with an endpoint frozen.
    let stopping = Instant::now();
    a.stop();
    b.stop();
    assert!(
        stopping.elapsed() < Duration::from_secs(8),
        "stop took {:?}",
        stopping.elapsed()
    );
    r2.thaw();
}

#[test]
fn a_full_publish_queue_drops_the_new_session_and_counts_it() {
    // No Redis at all: nothing drains the endpoint queue, the sealer fills it, then `publish`'s
    // own queue fills.
    let port = support::free_port();
    let spec = PodSpec::new(CLUSTER, PSK, &[port]);
    let (node, _host) = spec.start("lonely", "atsreuse.publish_queue_capacity=10\n");
    let mut dropped = 0;
    let mut worst = Duration::ZERO;
    for n in 0..5000u32 {
        let started = Instant::now();
        match node.publish(&n.to_be_bytes(), b"der") {
            Ok(()) => {}
            Err(atsreuse::node::NodeError::QueueFull) => dropped += 1,
            Err(err) => panic!("unexpected {err:?}"),
        }
        worst = worst.max(started.elapsed());
    }
    let stats = node.stats();
    assert!(dropped > 0);
    assert_eq!(stats.sessions_dropped, dropped);
    assert_eq!(stats.sessions_published + stats.sessions_dropped, 5000);
    // The sealed ones cannot reach the missing endpoint: dropped there and counted.
    assert!(wait_until(Duration::from_secs(5), || node
        .stats()
        .endpoint_queue_dropped
        > 0));
    assert!(worst < Duration::from_millis(5), "worst publish {worst:?}");
}
