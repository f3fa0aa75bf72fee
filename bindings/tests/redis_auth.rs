//! Refused credentials: a clear error naming the endpoint, never the password, and retries
//! until the credentials work.

mod support;

use std::time::Duration;

use atsreuse::node::LogLevel;
use support::{derived_password, wait_until, PodSpec, RedisServer};

const CLUSTER: &str = "authtest";
const PSK: &[u8] = b"auth test key with enough bytes in it\n";

#[test]
fn a_wrong_password_is_an_error_naming_the_endpoint_and_is_retried() {
    let redis = RedisServer::start("not-the-derived-password");
    let spec = PodSpec::new(CLUSTER, PSK, &[redis.port]);
    let (node, host) = spec.start("a", "");
    let endpoint = format!("127.0.0.1:{}", redis.port);
    assert!(wait_until(Duration::from_secs(5), || host
        .logged(LogLevel::Error, &endpoint)));
    assert_eq!(node.stats().redis_connected, 0);
    let password = derived_password(PSK, CLUSTER);
    assert!(
        !host.all_logs().contains(&password),
        "the password reached the log"
    );

    // The operator fixes Redis; the node connects without a restart.
    let mut con = redis.client().unwrap();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("requirepass")
        .arg(&password)
        .query(&mut con)
        .unwrap();
    assert_recovers(&node);
    assert!(host.logged(LogLevel::Info, "connected again"));
}

#[test]
fn a_wrong_user_is_an_error_naming_the_endpoint_and_is_retried() {
    let password = derived_password(PSK, CLUSTER);
    let redis = RedisServer::start(&password);
    let spec = PodSpec::new(CLUSTER, PSK, &[redis.port]);
    let (node, host) = spec.start("a", "atsreuse.redis_user=atsreuse-node\n");
    let endpoint = format!("127.0.0.1:{}", redis.port);
    assert!(wait_until(Duration::from_secs(5), || host
        .logged(LogLevel::Error, &endpoint)));
    assert!(host.logged(LogLevel::Error, "credentials refused"));
    assert_eq!(node.stats().redis_connected, 0);

    let mut con = redis.client().unwrap();
    let _: () = redis::cmd("ACL")
        .arg("SETUSER")
        .arg("atsreuse-node")
        .arg("on")
        .arg(format!(">{password}"))
        .arg("~atsreuse:*")
        .arg("&atsreuse:*")
        .arg("+@all")
        .query(&mut con)
        .unwrap();
    assert_recovers(&node);
    assert!(!host.all_logs().contains(&password));
}

/// Once Redis takes the credentials, the node connects without a restart and gets a keyring.
fn assert_recovers(node: &atsreuse::node::Node) {
    assert!(wait_until(Duration::from_secs(10), || node
        .stats()
        .redis_connected
        == 1));
    assert!(wait_until(Duration::from_secs(5), || node
        .stats()
        .keyring_epoch
        >= 1));
}
