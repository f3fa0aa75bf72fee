//! The old plugin's wire format during a migration: `accept` reads it, `both` also writes it.

mod support;

use std::time::{Duration, Instant};

use atsreuse_core::legacy::{self, LegacyPskFile};
use support::{derived_password, wait_until, PodSpec, RedisServer};

const CLUSTER: &str = "legacytest";
const PSK: &[u8] = b"legacy test key, sixteen bytes or more\n";

fn old_key() -> legacy::LegacyKey {
    LegacyPskFile::parse(PSK).expect("legacy PSK").key()
}

fn old_session(id: &[u8], der: &[u8]) -> (String, Vec<u8>) {
    let mut suffix = [0u8; 64];
    let n = legacy::encode_session_id(id, &mut suffix).expect("id");
    let mut payload = vec![0u8; legacy::session_payload_len(der.len())];
    let len = legacy::encode_session(&old_key(), der, &mut payload).expect("session");
    payload.truncate(len);
    (
        format!(
            "{CLUSTER}.{}",
            std::str::from_utf8(&suffix[..n]).expect("base64")
        ),
        payload,
    )
}

#[test]
fn accept_takes_old_sessions_and_old_steks_for_decryption_only() {
    let redis = RedisServer::start(&derived_password(PSK, CLUSTER));
    let spec = PodSpec::new(CLUSTER, PSK, &[redis.port]);
    let (node, host) = spec.start(
        "new",
        "atsreuse.legacy_protocol=accept\natsreuse.prefer_leader=1\n",
    );
    assert!(wait_until(Duration::from_secs(10), || node
        .stats()
        .keyring_epoch
        >= 1
        && node.stats().redis_connected == 1));
    let mut con = redis.client().unwrap();

    let (channel, payload) = old_session(&[7; 32], b"0\x82old-der");
    let _: () = redis::cmd("PUBLISH")
        .arg(&channel)
        .arg(&payload)
        .query(&mut con)
        .unwrap();
    let mut out = [0u8; 64];
    assert!(wait_until(Duration::from_secs(5), || matches!(
        node.lookup(&[7; 32], &mut out),
        Ok(Some(9))
    )));
    assert_eq!(&out[..9], b"0\x82old-der");

    let old_stek: [u8; 48] = std::array::from_fn(|i| u8::try_from(i + 1).unwrap());
    let stek_payload = legacy::encode_stek(&old_key(), &old_stek);
    let _: () = redis::cmd("PUBLISH")
        .arg(format!("{CLUSTER}.@stek@"))
        .arg(&stek_payload[..])
        .query(&mut con)
        .unwrap();
    assert!(wait_until(Duration::from_secs(5), || {
        host.last_block()
            .is_some_and(|b| b.chunks(48).skip(1).any(|k| k == old_stek))
    }));
    // Never the encrypting key.
    assert_ne!(&host.last_block().unwrap()[..48], &old_stek[..]);

    let before = node.stats().legacy_rejected;
    let _: () = redis::cmd("PUBLISH")
        .arg(format!("{CLUSTER}.AAECAw=="))
        .arg("not base64 !")
        .query(&mut con)
        .unwrap();
    let _: () = redis::cmd("PUBLISH")
        .arg(format!("{CLUSTER}.@stek@"))
        .arg(&payload)
        .query(&mut con)
        .unwrap();
    assert!(wait_until(Duration::from_secs(5), || node
        .stats()
        .legacy_rejected
        == before + 2));
    assert_eq!(node.stats().legacy_received, 2);
}

#[test]
fn both_publishes_sessions_and_the_encrypting_key_in_the_old_format() {
    let redis = RedisServer::start(&derived_password(PSK, CLUSTER));
    let spec = PodSpec::new(CLUSTER, PSK, &[redis.port]);
    // The test listens as an old node would, before the new node starts.
    let mut listener = redis.client().unwrap();
    let mut pubsub = listener.as_pubsub();
    pubsub.psubscribe(format!("{CLUSTER}.*")).unwrap();
    pubsub
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();

    let (node, host) = spec.start(
        "new",
        "atsreuse.legacy_protocol=both\natsreuse.prefer_leader=1\n",
    );
    assert!(wait_until(Duration::from_secs(10), || node
        .stats()
        .keyring_epoch
        >= 1
        && node.stats().redis_connected == 1));
    node.publish(&[9; 32], b"0\x82new-der").unwrap();

    let (mut got_session, mut got_stek) = (false, false);
    let deadline = Instant::now() + Duration::from_secs(8);
    while Instant::now() < deadline && !(got_session && got_stek) {
        let Ok(msg) = pubsub.get_message() else {
            continue;
        };
        let channel = msg.get_channel_name().to_owned();
        let payload = msg.get_payload_bytes();
        if channel == format!("{CLUSTER}.@stek@") {
            let mut stek = [0u8; 48];
            legacy::decode_stek(&old_key(), payload, &mut stek).unwrap();
            // The key the pod encrypts with, as installed in ATS.
            got_stek = host.last_block().is_some_and(|b| b[..48] == stek);
        } else if channel == old_session(&[9; 32], b"x").0 {
            let mut out = [0u8; 128];
            let der = legacy::decode_session(&old_key(), payload, &mut out).unwrap();
            assert_eq!(der, b"0\x82new-der");
            got_session = true;
        }
    }
    assert!(got_session, "no session in the old format");
    assert!(got_stek, "no STEK in the old format");
}
