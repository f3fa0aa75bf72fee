//! Messages written straight into Redis by the test: each is rejected, counted under its
//! reason, and installs nothing.

mod support;

use std::time::Duration;

use atsreuse::node::Node;
use atsreuse::stats::AtsreuseStats;
use atsreuse_core::envelope::{Kind, Sealer, OVERHEAD};
use atsreuse_core::keys::{ClusterKeys, NodeId, Psk};
use atsreuse_core::session::SessionRecord;
use support::{derived_password, wait_until, PodSpec, RedisServer, TestHost};

const CLUSTER: &str = "rejects";
const PSK: &[u8] = b"reject test key, at least sixteen bytes\n";

fn now() -> u64 {
    atsreuse::clock::unix_now()
}

/// A session envelope sealed by a stranger node with `psk` for `cluster`, issued at `issued_at`.
fn sealed_session(psk: &[u8], cluster: &str, issued_at: u64, id: &[u8]) -> Vec<u8> {
    let keys = ClusterKeys::derive(&Psk::from_file_bytes(psk).expect("test setup"), cluster)
        .expect("test setup");
    let record = SessionRecord {
        id,
        der: b"0\x82stranger",
        expires_at: issued_at + 300,
    };
    let mut plain = [0u8; 128];
    let len = record.encode(&mut plain).expect("test setup");
    let mut out = vec![0u8; len + OVERHEAD];
    let mut sealer = Sealer::new(NodeId([0x5a; 16]));
    let n = sealer
        .seal(&keys, Kind::Session, issued_at, &plain[..len], &mut out)
        .expect("test setup");
    out.truncate(n);
    out
}

struct Pod {
    redis: RedisServer,
    nodes: Vec<(Node, std::sync::Arc<TestHost>)>,
}

impl Pod {
    fn publish(&self, payload: &[u8]) {
        let mut con = self.redis.client().expect("test setup");
        let _: () = redis::cmd("PUBLISH")
            .arg(format!("atsreuse:{CLUSTER}:sessions"))
            .arg(payload)
            .query(&mut con)
            .expect("test setup");
    }

    fn store_keyring(&self, epoch: u64, blob: &[u8]) {
        let mut con = self.redis.client().expect("test setup");
        let key = format!("atsreuse:{CLUSTER}:keyring");
        let _: () = redis::cmd("HSET")
            .arg(&key)
            .arg("epoch")
            .arg(epoch)
            .arg("blob")
            .arg(blob)
            .query(&mut con)
            .expect("test setup");
        let _: () = redis::cmd("PUBLISH")
            .arg(format!("atsreuse:{CLUSTER}:keyring"))
            .arg("keyring")
            .query(&mut con)
            .expect("test setup");
    }

    fn stored_keyring(&self) -> (u64, Vec<u8>) {
        let mut con = self.redis.client().expect("test setup");
        redis::cmd("HMGET")
            .arg(format!("atsreuse:{CLUSTER}:keyring"))
            .arg("epoch")
            .arg("blob")
            .query(&mut con)
            .expect("test setup")
    }

    fn stats(&self) -> Vec<AtsreuseStats> {
        self.nodes.iter().map(|(n, _)| n.stats()).collect()
    }

    fn block_counts(&self) -> Vec<usize> {
        self.nodes.iter().map(|(_, h)| h.block_count()).collect()
    }

    /// Waits until `field` grew by `by` on every node since `before`, and checks that no other
    /// rejection counter moved and nothing was stored or installed.
    fn expect(
        &self,
        what: &str,
        before: &[AtsreuseStats],
        blocks: &[usize],
        field: fn(&AtsreuseStats) -> u64,
        by: u64,
    ) {
        self.expect_on(what, before, blocks, field, by, self.nodes.len());
    }

    /// As [`Pod::expect`], but only `nodes` of the nodes need to have seen the message (a
    /// replayed keyring is put right by the first node that reads it, so the others may never
    /// see it); each node counts it at most once.
    fn expect_on(
        &self,
        what: &str,
        before: &[AtsreuseStats],
        blocks: &[usize],
        field: fn(&AtsreuseStats) -> u64,
        by: u64,
        nodes: usize,
    ) {
        let grew = wait_until(Duration::from_secs(5), || {
            self.stats()
                .iter()
                .zip(before)
                .filter(|(s, b)| field(s) == field(b) + by)
                .count()
                >= nodes
        });
        assert!(
            grew,
            "{what}: not counted under its reason: before {before:?} after {:?}",
            self.stats()
        );
        std::thread::sleep(Duration::from_millis(300));
        for (after, before) in self.stats().iter().zip(before) {
            let total = |s: &AtsreuseStats| {
                s.rejected_malformed + s.rejected_bad_tag + s.rejected_stale + s.rejected_old_epoch
            };
            let counted = field(after) - field(before);
            assert!(counted <= by, "{what}: counted {counted} times");
            assert_eq!(
                total(after),
                total(before) + counted,
                "{what}: counted under another reason too"
            );
            assert_eq!(
                after.sessions_received, before.sessions_received,
                "{what}: a session was stored"
            );
            assert_eq!(
                after.keyring_epoch, before.keyring_epoch,
                "{what}: keyring changed"
            );
        }
        assert_eq!(self.block_counts(), blocks, "{what}: keys were installed");
    }
}

#[test]
fn every_bad_message_is_rejected_and_counted_under_its_reason() {
    let redis = RedisServer::start(&derived_password(PSK, CLUSTER));
    let spec = PodSpec::new(CLUSTER, PSK, &[redis.port]);
    let nodes = vec![
        spec.start("a", "atsreuse.prefer_leader=1\n"),
        spec.start("b", ""),
    ];
    let pod = Pod { redis, nodes };
    assert!(wait_until(Duration::from_secs(10), || pod
        .stats()
        .iter()
        .all(|s| s.keyring_epoch >= 1 && s.redis_connected == 1)));

    // A good stranger's session is taken: the crafted messages below differ from it only in
    // what each case changes.
    let good = sealed_session(PSK, CLUSTER, now(), b"good-id");
    pod.publish(&good);
    assert!(wait_until(Duration::from_secs(5), || pod
        .stats()
        .iter()
        .all(|s| s.sessions_received == 1)));

    let (b, k) = (pod.stats(), pod.block_counts());
    let mut random: Vec<u8> = (0..200u32)
        .map(|i| i.wrapping_mul(2_654_435_761).to_be_bytes()[1])
        .collect();
    random[0] = 0xee; // not a known version
    pod.publish(&random);
    pod.expect("random bytes", &b, &k, |s| s.rejected_malformed, 1);

    let (b, k) = (pod.stats(), pod.block_counts());
    let mut flipped = sealed_session(PSK, CLUSTER, now(), b"flip");
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x01;
    pod.publish(&flipped);
    pod.expect("a flipped bit", &b, &k, |s| s.rejected_bad_tag, 1);

    let (b, k) = (pod.stats(), pod.block_counts());
    pod.publish(&good[..20]);
    pod.expect("truncated", &b, &k, |s| s.rejected_malformed, 1);

    let (b, k) = (pod.stats(), pod.block_counts());
    let mut huge = sealed_session(PSK, CLUSTER, now(), b"huge");
    huge.resize(1 << 20, 0xab);
    pod.publish(&huge);
    pod.expect("1 MiB", &b, &k, |s| s.rejected_malformed, 1);

    let (b, k) = (pod.stats(), pod.block_counts());
    pod.publish(&sealed_session(PSK, "another-cluster", now(), b"other"));
    pod.expect("another cluster's", &b, &k, |s| s.rejected_bad_tag, 1);

    let (b, k) = (pod.stats(), pod.block_counts());
    pod.publish(&sealed_session(
        b"a different pre-shared key!!\n",
        CLUSTER,
        now(),
        b"psk",
    ));
    pod.expect("wrong PSK", &b, &k, |s| s.rejected_bad_tag, 1);

    let (b, k) = (pod.stats(), pod.block_counts());
    pod.publish(&sealed_session(PSK, CLUSTER, now() - 3600, b"old"));
    pod.expect("an hour old", &b, &k, |s| s.rejected_stale, 1);

    // An old keyring replayed: rotate, let the new key activate, then put the old one back.
    let (old_epoch, old_blob) = pod.stored_keyring();
    pod.nodes[0].0.rotate_now().unwrap();
    assert!(wait_until(Duration::from_secs(5), || pod
        .stats()
        .iter()
        .all(|s| s.keyring_epoch > old_epoch)));
    std::thread::sleep(Duration::from_millis(4500)); // lead time 3 s: the new key activates
    let (new_epoch, _) = pod.stored_keyring();
    assert!(new_epoch > old_epoch);
    let (b, k) = (pod.stats(), pod.block_counts());
    pod.store_keyring(old_epoch, &old_blob);
    pod.expect_on(
        "an old keyring replayed",
        &b,
        &k,
        |s| s.rejected_old_epoch,
        1,
        1,
    );
    // The nodes put the current keyring back.
    assert!(wait_until(Duration::from_secs(5), || pod
        .stored_keyring()
        .0
        == new_epoch));

    // An unreadable keyring under a high epoch: refused, counted once, nothing installed.
    // The leader stores the pod's keyring over it at its next read (the epoch field decides
    // nothing), so a node reading later may never see it.
    let (b, k) = (pod.stats(), pod.block_counts());
    let mut bad = pod.stored_keyring().1;
    let last = bad.len() - 1;
    bad[last] ^= 0x80;
    pod.store_keyring(new_epoch + 100, &bad);
    pod.expect_on("a tampered keyring", &b, &k, |s| s.rejected_bad_tag, 1, 1);
    assert!(wait_until(Duration::from_secs(5), || pod
        .stored_keyring()
        .0
        == new_epoch));

    let (b, k) = (pod.stats(), pod.block_counts());
    pod.store_keyring(new_epoch + 101, &random);
    pod.expect_on("a random keyring", &b, &k, |s| s.rejected_malformed, 1, 1);
    assert!(wait_until(Duration::from_secs(5), || pod
        .stored_keyring()
        .0
        == new_epoch));
}
