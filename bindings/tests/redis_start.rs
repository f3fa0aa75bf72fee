//! The start wait: a node started next to a running pod hands ATS the pod's keys first, and a
//! node whose Redis does not answer still starts within `atsreuse.start_wait_ms`.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use atsreuse::node::{LogLevel, Node};
use support::{derived_password, free_port, wait_until, PodSpec, RedisServer, TestHost};

const CLUSTER: &str = "starttest";
const PSK: &[u8] = b"a start test key of more than sixteen bytes\n";
const ATS_LEN: usize = 48;

/// Starts a node from `spec` with `extra` config lines; returns it with its host and how long
/// `Node::start` took.
fn timed_start(spec: &PodSpec, name: &str, extra: &str) -> (Node, Arc<TestHost>, Duration) {
    let config = spec.config(name, extra);
    let host = Arc::new(TestHost::default());
    let began = Instant::now();
    let node = Node::start(config, host.clone()).expect("node start");
    let took = began.elapsed();
    eprintln!("node {name}: Node::start took {took:?}");
    (node, host, took)
}

/// The encrypting key of a block.
fn first_key(host: &TestHost) -> Option<Vec<u8>> {
    host.last_block().map(|b| b[..ATS_LEN].to_vec())
}

#[test]
fn a_node_started_after_rotations_installs_the_pod_key_first() {
    let password = derived_password(PSK, CLUSTER);
    let (r1, r2) = (RedisServer::start(&password), RedisServer::start(&password));
    let spec = PodSpec::new(CLUSTER, PSK, &[r1.port, r2.port]);

    // Two pod nodes with a short lead time (below what the file allows), so forced
    // rotations activate within a second.
    let pod: Vec<(Node, Arc<TestHost>)> = ["a", "b"]
        .iter()
        .map(|name| {
            let extra = if *name == "a" {
                "atsreuse.prefer_leader=1\n"
            } else {
                ""
            };
            let mut config = spec.config(name, extra);
            config.lead_time = Duration::from_secs(1);
            let host = Arc::new(TestHost::default());
            (
                Node::start(config, host.clone()).expect("pod node start"),
                host,
            )
        })
        .collect();
    assert!(
        wait_until(Duration::from_secs(10), || pod
            .iter()
            .all(|(n, _)| n.stats().keyring_epoch >= 1)),
        "the pod keyring was not founded"
    );
    let founding_key = first_key(&pod[0].1);

    for round in 0..3 {
        let epoch = pod[0].0.stats().keyring_epoch;
        let before = first_key(&pod[0].1);
        pod[0].0.rotate_now().unwrap();
        // The new key reaches both nodes, then encrypts on both after the 1 s lead; only then
        // is the next request taken (one made while a key waits to activate is ignored).
        let rotated = wait_until(Duration::from_secs(10), || {
            let keys: Vec<_> = pod.iter().map(|(_, h)| first_key(h)).collect();
            pod.iter().all(|(n, _)| n.stats().keyring_epoch > epoch)
                && keys[0] == keys[1]
                && keys[0] != before
        });
        assert!(rotated, "rotation {round} did not reach both pod nodes");
    }
    let pod_epoch = pod[0].0.stats().keyring_epoch;
    assert!(pod_epoch >= 4, "epoch {pod_epoch} after three rotations");
    let pod_key = first_key(&pod[0].1).unwrap();
    assert_eq!(first_key(&pod[1].1).as_ref(), Some(&pod_key));
    assert_ne!(founding_key.as_ref(), Some(&pod_key));
    let pod_block = pod[0].1.last_block().unwrap();

    // A new node (ordinary settings) gets the pod's keys in the very first block.
    let (node, host, took) = timed_start(&spec, "c", "");
    assert_eq!(host.block_count(), 1, "start returned with no key block");
    let first = host.first_block().unwrap();
    assert_eq!(
        &first[..ATS_LEN],
        &pod_key[..],
        "the first block does not encrypt with the pod's key"
    );
    // The pod's whole block, then the node's own start key (decrypt only, not a pod key).
    assert_eq!(&first[..pod_block.len()], &pod_block[..]);
    assert_eq!(first.len(), pod_block.len() + ATS_LEN);
    let own = &first[pod_block.len()..];
    assert!(!pod_block.chunks(ATS_LEN).any(|k| k == own));
    assert_eq!(node.stats().keyring_epoch, pod_epoch);
    assert!(
        host.logged(LogLevel::Info, "start wait:")
            && host.logged(LogLevel::Info, "pod keyring epoch"),
        "{}",
        host.all_logs()
    );
    assert!(took < Duration::from_millis(1_500), "start took {took:?}");
}

#[test]
fn with_a_new_pod_the_start_key_goes_first_after_every_endpoint_answered() {
    let password = derived_password(PSK, CLUSTER);
    let redis = RedisServer::start(&password);
    let spec = PodSpec::new(CLUSTER, PSK, &[redis.port]);
    let (node, host, took) = timed_start(&spec, "alone", "");
    assert_eq!(host.block_count(), 1);
    assert_eq!(host.first_block().map(|b| b.len()), Some(ATS_LEN));
    assert!(
        host.logged(LogLevel::Info, "1 endpoint(s) answered"),
        "{}",
        host.all_logs()
    );
    assert!(took < Duration::from_millis(1_500), "start took {took:?}");
    // The start key then founds the pod keyring: the block keeps the same encrypting key.
    assert!(wait_until(Duration::from_secs(10), || node
        .stats()
        .keyring_epoch
        >= 1));
    assert_eq!(
        first_key(&host),
        host.first_block().map(|b| b[..ATS_LEN].to_vec())
    );
}

#[test]
fn with_redis_refusing_connections_start_returns_without_waiting_the_bound() {
    // Nothing listens on this loopback port: every connect is refused at once.
    let spec = PodSpec::new(CLUSTER, PSK, &[free_port()]);
    let (_node, host, took) = timed_start(&spec, "refused", "atsreuse.start_wait_ms=1500\n");
    assert_eq!(host.block_count(), 1);
    assert_eq!(host.first_block().map(|b| b.len()), Some(ATS_LEN));
    assert!(
        host.logged(LogLevel::Info, "1 endpoint(s) unreachable"),
        "{}",
        host.all_logs()
    );
    assert!(took < Duration::from_millis(1_500 + 300), "took {took:?}");
}

#[test]
fn with_redis_silent_start_returns_at_the_bound_and_warns() {
    let password = derived_password(PSK, CLUSTER);
    let redis = RedisServer::start(&password);
    // Frozen: the kernel still accepts connections, nothing answers (connect timeout 1 s).
    redis.freeze();
    let spec = PodSpec::new(CLUSTER, PSK, &[redis.port]);

    let (_node, host, took) = timed_start(&spec, "bounded", "atsreuse.start_wait_ms=300\n");
    assert_eq!(host.block_count(), 1);
    assert_eq!(host.first_block().map(|b| b.len()), Some(ATS_LEN));
    assert!(
        host.logged(LogLevel::Warn, "atsreuse.start_wait_ms=300"),
        "{}",
        host.all_logs()
    );
    assert!(took >= Duration::from_millis(300), "took {took:?}");
    assert!(took < Duration::from_millis(300 + 300), "took {took:?}");

    let (_node, host, took) = timed_start(&spec, "nowait", "atsreuse.start_wait_ms=0\n");
    assert_eq!(host.block_count(), 1);
    assert_eq!(host.first_block().map(|b| b.len()), Some(ATS_LEN));
    assert!(host.logged(LogLevel::Info, "no wait asked for"));
    assert!(took < Duration::from_millis(300), "took {took:?}");
    redis.thaw();
}
