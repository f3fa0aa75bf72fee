//! A pod of three nodes and two Redis endpoints: sessions, keyrings, leader, restarts.

mod support;

use std::time::{Duration, Instant};

use atsreuse::node::Node;
use support::{derived_password, wait_until, PodSpec, RedisServer, TestHost};

const CLUSTER: &str = "podtest";
const PSK: &[u8] = b"a pod test key of more than sixteen bytes\n";
const ATS_LEN: usize = 48;

fn two_endpoints() -> (RedisServer, RedisServer) {
    let password = derived_password(PSK, CLUSTER);
    (RedisServer::start(&password), RedisServer::start(&password))
}

/// The 48-byte keys of a block.
fn keys_of(block: &[u8]) -> Vec<Vec<u8>> {
    block.chunks(ATS_LEN).map(<[u8]>::to_vec).collect()
}

fn start_three(spec: &PodSpec) -> Vec<(Node, std::sync::Arc<TestHost>)> {
    ["a", "b", "c"]
        .iter()
        .map(|name| {
            let extra = if *name == "a" {
                "atsreuse.prefer_leader=1\n"
            } else {
                ""
            };
            let mut config = spec.config(name, extra);
            config.ticket_lifetime = Duration::from_secs(3);
            let host = std::sync::Arc::new(TestHost::default());
            let node = Node::start(config, host.clone()).expect("node start");
            // A key block is installed before start returns, so ATS can issue tickets at once:
            // the start key alone when the pod had no keyring yet, else the pod's keys then
            // the start key (decrypt only).
            assert_eq!(
                host.block_count(),
                1,
                "node {name} installed no key at start"
            );
            let len = host.last_block().map_or(0, |b| b.len());
            assert!(len >= ATS_LEN && len % ATS_LEN == 0, "block of {len} bytes");
            (node, host)
        })
        .collect()
}

#[test]
fn sessions_published_on_one_node_are_found_on_the_other_two() {
    let (r1, r2) = two_endpoints();
    let spec = PodSpec::new(CLUSTER, PSK, &[r1.port, r2.port]);
    let nodes = start_three(&spec);
    assert!(wait_until(Duration::from_secs(10), || nodes
        .iter()
        .all(|(n, _)| n.stats().redis_connected == 2)));

    for i in 0..20u8 {
        let id = [i; 32];
        let der = vec![0x30, 0x82, i, i, i];
        nodes[0].0.publish(&id, &der).unwrap();
    }
    let mut out = [0u8; 64];
    for (node, _) in &nodes[1..] {
        for i in 0..20u8 {
            let found = wait_until(Duration::from_secs(5), || {
                matches!(node.lookup(&[i; 32], &mut out), Ok(Some(5)))
            });
            assert!(found, "session {i} not found");
            assert_eq!(&out[..5], &[0x30, 0x82, i, i, i]);
        }
    }
    // The sender does not store its own sessions (ATS has them already).
    assert_eq!(nodes[0].0.lookup(&[1; 32], &mut out).unwrap(), None);
    let stats = nodes[1].0.stats();
    assert_eq!(stats.sessions_received, 20);
    assert!(nodes[0].0.stats().ignored_own >= 20);
    assert_eq!(nodes[0].0.stats().sessions_published, 20);
}

#[test]
fn keyrings_converge_to_the_same_key_block_everywhere() {
    let (r1, r2) = two_endpoints();
    let spec = PodSpec::new(CLUSTER, PSK, &[r1.port, r2.port]);
    let nodes = start_three(&spec);
    // Each node's start key is the last key of its first block.
    let start_keys: Vec<Vec<u8>> = nodes
        .iter()
        .map(|(_, h)| {
            h.first_block().unwrap()[..]
                .rchunks(ATS_LEN)
                .next()
                .unwrap()
                .to_vec()
        })
        .collect();

    // Every node encrypts with the same key.
    let same_encrypting_key = wait_until(Duration::from_secs(10), || {
        let firsts: Vec<Vec<u8>> = nodes
            .iter()
            .map(|(_, h)| h.last_block().unwrap()[..ATS_LEN].to_vec())
            .collect();
        firsts.iter().all(|f| *f == firsts[0])
            && nodes.iter().all(|(n, _)| n.stats().keyring_epoch >= 1)
    });
    assert!(
        same_encrypting_key,
        "nodes do not agree on the encrypting key"
    );

    // A node that did not found the keyring keeps its start key, decrypt only.
    for ((node, host), start) in nodes.iter().zip(&start_keys) {
        let block = host.last_block().unwrap();
        if block[..ATS_LEN] != start[..] {
            assert!(
                keys_of(&block)[1..].contains(start),
                "start key dropped too early on {}",
                node.node_id_hex()
            );
        }
    }
    // After one ticket lifetime (3 s here) the start keys are gone and the blocks are equal.
    let identical = wait_until(Duration::from_secs(8), || {
        let blocks: Vec<Vec<u8>> = nodes.iter().map(|(_, h)| h.last_block().unwrap()).collect();
        blocks.iter().all(|b| *b == blocks[0])
    });
    assert!(identical, "key blocks differ after the ticket lifetime");
    let leaders: u64 = nodes.iter().map(|(n, _)| n.stats().is_leader).sum();
    assert_eq!(leaders, 1);
}

#[test]
fn when_the_leader_stops_another_node_rotates_within_one_lease() {
    let (r1, r2) = two_endpoints();
    let spec = PodSpec::new(CLUSTER, PSK, &[r1.port, r2.port]);
    let mut nodes = start_three(&spec);
    assert!(wait_until(Duration::from_secs(10), || {
        nodes.iter().map(|(n, _)| n.stats().is_leader).sum::<u64>() == 1
            && nodes.iter().all(|(n, _)| n.stats().keyring_epoch >= 1)
    }));
    let leader = nodes
        .iter()
        .position(|(n, _)| n.stats().is_leader == 1)
        .unwrap();
    let epoch = nodes[leader].0.stats().keyring_epoch;
    let (old, _) = nodes.remove(leader);
    let stopped_at = Instant::now();
    old.stop();

    // A follower asks for a rotation; whichever node takes the lease makes it.
    nodes[0].0.rotate_now().unwrap();
    let rotated = wait_until(Duration::from_secs(6), || {
        nodes.iter().all(|(n, _)| n.stats().keyring_epoch > epoch)
    });
    assert!(rotated, "no rotation after the leader stopped");
    let new_leader_in = stopped_at.elapsed();
    assert_eq!(
        nodes.iter().map(|(n, _)| n.stats().is_leader).sum::<u64>(),
        1
    );
    assert_eq!(
        nodes.iter().map(|(n, _)| n.stats().rotations).sum::<u64>(),
        1
    );
    // Lease is 2 s; allow the poll that spreads the new keyring (1 s) and scheduling slack.
    assert!(
        new_leader_in < Duration::from_secs(4),
        "took {new_leader_in:?}"
    );
}

#[test]
fn a_redis_restarted_empty_gets_the_keyring_back() {
    let (mut r1, r2) = two_endpoints();
    let spec = PodSpec::new(CLUSTER, PSK, &[r1.port, r2.port]);
    let nodes = start_three(&spec);
    assert!(wait_until(Duration::from_secs(10), || nodes
        .iter()
        .all(|(n, _)| n.stats().keyring_epoch >= 1)));
    let epoch = nodes[0].0.stats().keyring_epoch;
    let key = format!("atsreuse:{CLUSTER}:keyring");
    let stored_before: Vec<u8> = redis::cmd("HGET")
        .arg(&key)
        .arg("blob")
        .query(&mut r1.client().unwrap())
        .unwrap();

    r1.restart_empty();
    let restored = wait_until(Duration::from_secs(10), || {
        let mut con = r1.client().unwrap();
        let fields: (Option<u64>, Option<Vec<u8>>) = redis::cmd("HMGET")
            .arg(&key)
            .arg("epoch")
            .arg("blob")
            .query(&mut con)
            .unwrap();
        fields.0 == Some(epoch) && fields.1.is_some()
    });
    assert!(restored, "the keyring was not written back");
    let stored_after: Vec<u8> = redis::cmd("HGET")
        .arg(&key)
        .arg("blob")
        .query(&mut r1.client().unwrap())
        .unwrap();
    assert!(!stored_after.is_empty() && !stored_before.is_empty());
    // Nothing changed for the nodes: same epoch, no new rotation.
    assert!(nodes.iter().all(|(n, _)| n.stats().keyring_epoch == epoch));
}

#[test]
fn the_leader_rotates_on_schedule_and_every_node_switches_key_at_activation() {
    let (r1, r2) = two_endpoints();
    let spec = PodSpec::new(CLUSTER, PSK, &[r1.port, r2.port]);
    // A fast schedule (below what the config file allows): a key encrypts for 6 s and is
    // introduced 2 s before it activates.
    let nodes: Vec<_> = ["a", "b"]
        .iter()
        .map(|name| {
            let mut config = spec.config(
                name,
                if *name == "a" {
                    "atsreuse.prefer_leader=1\n"
                } else {
                    ""
                },
            );
            config.rotation_interval = Duration::from_secs(6);
            config.lead_time = Duration::from_secs(2);
            config.ticket_lifetime = Duration::from_secs(6);
            let host = std::sync::Arc::new(TestHost::default());
            (Node::start(config, host.clone()).expect("node start"), host)
        })
        .collect();
    assert!(wait_until(Duration::from_secs(10), || nodes
        .iter()
        .all(|(n, _)| n.stats().keyring_epoch >= 1)));
    let first_key = |h: &TestHost| h.last_block().map(|b| b[..ATS_LEN].to_vec());
    let founding_key = first_key(&nodes[0].1);

    // The next key is introduced before it activates, then both nodes switch to it.
    let rotated = wait_until(Duration::from_secs(12), || {
        let keys: Vec<_> = nodes.iter().map(|(_, h)| first_key(h)).collect();
        nodes.iter().all(|(n, _)| n.stats().keyring_epoch >= 2)
            && keys[0] != founding_key
            && keys[0] == keys[1]
    });
    assert!(rotated, "no scheduled rotation reached both nodes");
    // The old key still decrypts on both.
    for (_, host) in &nodes {
        let block = host.last_block().unwrap();
        assert!(keys_of(&block).contains(founding_key.as_ref().unwrap()));
    }
    assert_eq!(
        nodes[0].0.stats().rotations + nodes[1].0.stats().rotations,
        nodes[0].0.stats().keyring_epoch - 1
    );
}
