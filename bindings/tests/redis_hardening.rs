//! What someone who can write to Redis, or a long Redis outage, must not be able to do: stop
//! rotation forever, force rotations at will, or push real old-format keys out.

mod support;

use std::time::{Duration, Instant};

use atsreuse::node::{LogLevel, Node};
use atsreuse_core::envelope::Sealer;
use atsreuse_core::keyring::{self, KeyEntry, KeyTimes, Keyring, ENCODED_MAX_LEN};
use atsreuse_core::keys::{ClusterKeys, NodeId, Psk};
use atsreuse_core::legacy::{self, LegacyPskFile};
use atsreuse_core::stek::Stek;
use rand::rngs::OsRng;
use support::{derived_password, wait_until, PodSpec, RedisServer, TestHost};

const PSK: &[u8] = b"hardening test key, long enough for the warning\n";

fn keys(cluster: &str) -> ClusterKeys {
    let psk = Psk::from_file_bytes(PSK).expect("test PSK");
    ClusterKeys::derive(&psk, cluster).expect("test keys")
}

fn keyring_key(cluster: &str) -> String {
    format!("atsreuse:{cluster}:keyring")
}

fn now() -> u64 {
    atsreuse::clock::unix_now()
}

/// The keyring stored in Redis, opened with the pod's keys (`None`: absent or unreadable).
fn stored(redis: &RedisServer, cluster: &str) -> Option<Keyring> {
    let mut con = redis.client().ok()?;
    let blob: Option<Vec<u8>> = redis::cmd("HGET")
        .arg(keyring_key(cluster))
        .arg("blob")
        .query(&mut con)
        .ok()?;
    let mut scratch = vec![0u8; ENCODED_MAX_LEN];
    keyring::open(&keys(cluster), &blob?, &mut scratch)
        .ok()
        .map(|(_, k)| k)
}

fn stored_epoch(redis: &RedisServer, cluster: &str) -> u64 {
    stored(redis, cluster).map_or(0, |k| k.epoch())
}

fn hset(redis: &RedisServer, key: &str, field: &str, value: &[u8]) {
    let mut con = redis.client().expect("test setup");
    redis::cmd("HSET")
        .arg(key)
        .arg(field)
        .arg(value)
        .query::<()>(&mut con)
        .expect("test setup");
}

fn publish(redis: &RedisServer, channel: &str, payload: &[u8]) {
    let mut con = redis.client().expect("test setup");
    redis::cmd("PUBLISH")
        .arg(channel)
        .arg(payload)
        .query::<()>(&mut con)
        .expect("test setup");
}

/// Waits until `node` leads and holds a keyring; returns how long that took.
fn wait_leading(node: &Node) {
    assert!(
        wait_until(Duration::from_secs(15), || {
            let s = node.stats();
            s.is_leader == 1 && s.keyring_epoch >= 1 && s.redis_connected >= 1
        }),
        "the node did not lead with a keyring"
    );
}

fn log_lines(host: &TestHost, needle: &str) -> usize {
    host.logs
        .lock()
        .expect("log lock")
        .iter()
        .filter(|(_, t)| t.contains(needle))
        .count()
}

/// Every key of a pod expires while Redis is away, and Redis comes back empty. The leader
/// founds a fresh keyring (above every epoch seen), installs it, and rotates again after.
#[test]
fn a_keyring_whose_keys_all_expired_during_an_outage_is_founded_again() {
    const CLUSTER: &str = "expiry";
    let mut redis = RedisServer::start(&derived_password(PSK, CLUSTER));
    let mut spec = PodSpec::new(CLUSTER, PSK, &[redis.port]);
    // The shortest lifetime the config takes: the start key retires one minute after the
    // pod key encrypts.
    spec.ticket_lifetime_secs = 60;

    // The pod's keyring before the outage: epoch 7, one key that expires in 70 s (on its
    // schedule the next key would only be due in an hour, so nothing replaces it).
    let t0 = now();
    let old = Stek::generate(&mut OsRng);
    let old_name = *old.name();
    let mut ring = Keyring::new();
    let times = KeyTimes {
        introduce_at: t0 - 10,
        activate_at: t0 - 10,
        expire_at: t0 + 70,
    };
    ring.insert(KeyEntry {
        epoch: 7,
        times,
        stek: old,
    })
    .unwrap();
    let mut blob = vec![0u8; keyring::SEALED_MAX_LEN];
    let mut sealer = Sealer::new(NodeId([9; 16]));
    let n = keyring::seal(&mut sealer, &keys(CLUSTER), t0, &ring, &mut blob).unwrap();
    hset(&redis, &keyring_key(CLUSTER), "blob", &blob[..n]);

    let (node, host) = spec.start("a", "atsreuse.prefer_leader=1\n");
    wait_leading(&node);
    assert_eq!(node.stats().keyring_epoch, 7);
    assert!(wait_until(Duration::from_secs(5), || host
        .last_block()
        .is_some_and(|b| b[..16] == old_name)));

    // Redis goes away; the key expires meanwhile (the start key has retired before).
    redis.kill();
    let warned = wait_until(Duration::from_secs(90), || {
        host.logged(LogLevel::Warn, "no ticket key can encrypt")
    });
    assert!(
        warned,
        "no warning without a usable key:\n{}",
        host.all_logs()
    );
    let dry_at = now();
    assert!(dry_at >= t0 + 70, "warned before the key expired");

    // Redis back, empty: a fresh keyring is founded and installed.
    redis.restart_empty();
    let back = Instant::now();
    let founded = wait_until(Duration::from_secs(20), || {
        stored(&redis, CLUSTER).is_some_and(|k| k.encrypting_at(now()).is_some())
            && node.stats().keyring_epoch >= 8
    });
    assert!(founded, "no keyring founded:\n{}", host.all_logs());
    let took = back.elapsed();
    let ring = stored(&redis, CLUSTER).unwrap();
    assert!(ring.epoch() >= 8, "epoch {} not above 7", ring.epoch());
    let current = *ring.encrypting_at(now()).unwrap().stek.name();
    assert_ne!(current, old_name);
    assert!(wait_until(Duration::from_secs(5), || host
        .last_block()
        .is_some_and(|b| b[..16] == current)));
    assert!(wait_until(Duration::from_secs(2), || {
        host.logged(LogLevel::Info, "a ticket key encrypts again")
    }));
    eprintln!(
        "keys dry at +{} s, founded epoch {} {took:?} after Redis came back",
        dry_at - t0,
        ring.epoch()
    );

    // Rotation resumes.
    let before = ring.epoch();
    node.rotate_now().unwrap();
    assert!(wait_until(Duration::from_secs(10), || stored_epoch(
        &redis, CLUSTER
    ) > before));
}

/// A forged `epoch` field, then a garbage blob: the leader still rotates, the pod converges.
#[test]
fn a_forged_epoch_field_or_garbage_blob_does_not_stop_rotation() {
    const CLUSTER: &str = "forged";
    let redis = RedisServer::start(&derived_password(PSK, CLUSTER));
    let spec = PodSpec::new(CLUSTER, PSK, &[redis.port]);
    let (a, ha) = spec.start("a", "atsreuse.prefer_leader=1\n");
    wait_leading(&a);
    let (b, _hb) = spec.start("b", "");
    let key = keyring_key(CLUSTER);

    let mut last = stored_epoch(&redis, CLUSTER);
    assert!(last >= 1);
    for forged in ["1e300", "inf", "99999999999999999999", "-1"] {
        hset(&redis, &key, "epoch", forged.as_bytes());
        // A new key waits the lead time (3 s) to activate; a request before that is ignored.
        let rotated = wait_until(Duration::from_secs(15), || {
            let _ = a.rotate_now();
            stored_epoch(&redis, CLUSTER) > last
        });
        assert!(rotated, "no rotation past epoch field {forged}");
        last = stored_epoch(&redis, CLUSTER);
        assert!(
            wait_until(Duration::from_secs(10), || b.stats().keyring_epoch == last),
            "b did not converge to {last}"
        );
    }

    // A blob that does not open (and a huge epoch beside it): the leader replaces it.
    hset(&redis, &key, "blob", b"garbage, not a sealed keyring");
    hset(&redis, &key, "epoch", b"1e300");
    assert!(
        wait_until(Duration::from_secs(10), || stored_epoch(&redis, CLUSTER)
            == last),
        "the leader did not repair a garbage blob:\n{}",
        ha.all_logs()
    );
    hset(&redis, &key, "blob", b"garbage again");
    let rotated = wait_until(Duration::from_secs(15), || {
        let _ = a.rotate_now();
        stored_epoch(&redis, CLUSTER) > last
    });
    assert!(rotated, "no rotation over a garbage blob");
    last = stored_epoch(&redis, CLUSTER);
    assert!(wait_until(Duration::from_secs(10), || b
        .stats()
        .keyring_epoch
        == last));
    // The epoch field is the writer's own again.
    let mut con = redis.client().unwrap();
    let field: String = redis::cmd("HGET")
        .arg(&key)
        .arg("epoch")
        .query(&mut con)
        .unwrap();
    assert_eq!(field, last.to_string());
    eprintln!("rotated past 4 forged epoch fields and 2 garbage blobs, epoch now {last}");
}

/// Forged and replayed rotation notices: at most one rotation, no `Full` errors; a request
/// made with the PSK rotates.
#[test]
fn forged_rotation_notices_make_at_most_one_rotation() {
    const CLUSTER: &str = "notices";
    let redis = RedisServer::start(&derived_password(PSK, CLUSTER));
    let spec = PodSpec::new(CLUSTER, PSK, &[redis.port]);
    let (a, ha) = spec.start("a", "atsreuse.prefer_leader=1\n");
    wait_leading(&a);
    let channel = keyring_key(CLUSTER);
    let rotations = a.stats().rotations;
    let epoch = stored_epoch(&redis, CLUSTER);
    let bad_tag = a.stats().rejected_bad_tag;

    // The old plain notice, wrong tags, a stale tag: none of them rotates.
    let t = now();
    let other_keys = ClusterKeys::derive(
        &Psk::from_file_bytes(b"some other pod's key material\n").unwrap(),
        CLUSTER,
    )
    .unwrap();
    let stale = atsreuse::dist::rotation_request(&keys(CLUSTER), t - 1000);
    for n in 0..20u64 {
        publish(&redis, &channel, b"rotate");
        let forged = atsreuse::dist::rotation_request(&other_keys, t + n % 3);
        publish(&redis, &channel, &forged);
        publish(&redis, &channel, &stale);
        publish(&redis, &channel, format!("rotate:{n}:zz").as_bytes());
    }
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(a.stats().rotations, rotations, "a forged request rotated");
    assert_eq!(stored_epoch(&redis, CLUSTER), epoch);
    assert_eq!(a.stats().rejected_bad_tag - bad_tag, 20);
    // One debug line per reason, not one per message.
    assert_eq!(log_lines(&ha, "unauthenticated rotation request"), 1);
    assert_eq!(log_lines(&ha, "rotation request with a bad tag"), 1);
    assert!(ha.logged(
        LogLevel::Debug,
        "rejected 1 message(s) (stale rotation request)"
    ));

    // One request made with the PSK, replayed 20 times within its minute: one rotation.
    let real = atsreuse::dist::rotation_request(&keys(CLUSTER), now());
    for _ in 0..20 {
        publish(&redis, &channel, &real);
        std::thread::sleep(Duration::from_millis(250));
    }
    assert!(wait_until(Duration::from_secs(5), || a.stats().rotations
        == rotations + 1));
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(a.stats().rotations, rotations + 1, "a replay rotated again");
    assert_eq!(stored_epoch(&redis, CLUSTER), epoch + 1);
    assert!(ha.logged(LogLevel::Debug, "(rotation request over the rate limit)"));
    let logs = ha.all_logs();
    assert!(
        !logs.contains("Full") && !logs.contains("cannot add"),
        "{logs}"
    );
    assert!(!ha.logged(LogLevel::Error, ""), "{logs}");
    eprintln!(
        "80 forged notices: 0 rotations; 20 replays of one real request: 1 rotation; \
         {} rejection log lines",
        log_lines(&ha, "rejected ")
    );
}

/// Legacy `accept`: a burst of old-format STEKs (anyone can make one, that format has no
/// MAC) takes one slot, not both.
#[test]
fn forged_old_format_keys_are_taken_at_most_one_a_minute() {
    const CLUSTER: &str = "legacyburst";
    let redis = RedisServer::start(&derived_password(PSK, CLUSTER));
    let spec = PodSpec::new(CLUSTER, PSK, &[redis.port]);
    let (a, ha) = spec.start(
        "a",
        "atsreuse.legacy_protocol=accept\natsreuse.prefer_leader=1\n",
    );
    wait_leading(&a);
    let old_key = LegacyPskFile::parse(PSK).unwrap().key();
    let steks: Vec<[u8; 48]> = (0..5u8).map(|n| [n + 1; 48]).collect();
    let rejected = a.stats().legacy_rejected;
    for stek in &steks {
        let payload = legacy::encode_stek(&old_key, stek);
        publish(&redis, &format!("{CLUSTER}.@stek@"), &payload[..]);
    }
    assert!(wait_until(Duration::from_secs(5), || a
        .stats()
        .legacy_rejected
        == rejected + 4));
    let block = ha.last_block().unwrap();
    let held: Vec<&[u8]> = block.chunks(48).skip(1).collect();
    assert!(
        held.contains(&&steks[0][..]),
        "the first old key is missing"
    );
    for stek in &steks[1..] {
        assert!(!held.contains(&&stek[..]), "a second old key got in");
    }
    assert_eq!(log_lines(&ha, "took an old-format ticket key"), 1);
    assert!(ha.logged(
        LogLevel::Info,
        &format!("took an old-format ticket key {}", "01".repeat(16))
    ));
}
