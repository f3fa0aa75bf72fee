//! `rediss://` endpoints: TLS to Redis, the server checked against a CA file.

mod support;

use std::time::Duration;

use atsreuse::node::LogLevel;
use support::{derived_password, wait_until, PodSpec, RedisServer, TestCa};

const CLUSTER: &str = "tlstest";
const PSK: &[u8] = b"tls test key with more than sixteen bytes\n";

#[test]
fn sessions_and_keyrings_flow_over_tls_with_a_ca_file() {
    let certs = support::TempDir::new("certs");
    let ca = TestCa::create(certs.path());
    let redis = RedisServer::start_tls(&derived_password(PSK, CLUSTER), &ca);
    let mut spec = PodSpec::new(CLUSTER, PSK, &[redis.port]);
    spec.scheme = "rediss";
    let extra = format!("atsreuse.redis_ca_file={}\n", ca.ca_file.display());
    let (a, _ha) = spec.start("a", &format!("{extra}atsreuse.prefer_leader=1\n"));
    let (b, hb) = spec.start("b", &extra);
    let connected = wait_until(Duration::from_secs(10), || {
        a.stats().redis_connected == 1 && b.stats().redis_connected == 1
    });
    assert!(connected, "no TLS connection:\n{}", hb.all_logs());
    a.publish(b"tls-session", b"0\x82tls").unwrap();
    let mut out = [0u8; 16];
    assert!(wait_until(Duration::from_secs(5), || matches!(
        b.lookup(b"tls-session", &mut out),
        Ok(Some(5))
    )));
    assert!(wait_until(Duration::from_secs(5), || b
        .stats()
        .keyring_epoch
        >= 1));
}

#[test]
fn a_server_certificate_from_another_ca_is_refused() {
    let certs = support::TempDir::new("certs");
    let ca = TestCa::create(certs.path());
    let other_dir = support::TempDir::new("other-ca");
    let other = TestCa::create(other_dir.path());
    let redis = RedisServer::start_tls(&derived_password(PSK, CLUSTER), &ca);
    let mut spec = PodSpec::new(CLUSTER, PSK, &[redis.port]);
    spec.scheme = "rediss";
    let (node, host) = spec.start(
        "a",
        &format!("atsreuse.redis_ca_file={}\n", other.ca_file.display()),
    );
    let endpoint = format!("127.0.0.1:{}", redis.port);
    assert!(wait_until(Duration::from_secs(5), || host
        .logged(LogLevel::Warn, &endpoint)));
    assert!(
        host.logged(LogLevel::Warn, "certificate"),
        "{}",
        host.all_logs()
    );
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(node.stats().redis_connected, 0);
}
