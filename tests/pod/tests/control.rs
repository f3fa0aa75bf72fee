//! The harness itself, on nodes without the plugin: what ATS does alone, so that the plugin
//! tests can tell sharing from ATS's own per-node resumption.

use std::time::Duration;

use atsreuse_pod::resume::Sessions;
use atsreuse_pod::{Launch, Pod, PodOptions};
use atsreuse_tlsclient::Mode;

const COUNT: usize = 5;

fn control_pod(n: usize) -> Pod {
    Pod::start(PodOptions {
        nodes: 0,
        control_nodes: n,
        // Bare traffic_server: the fast start, and the mode the plugin pods do not use.
        launch: Launch::Bare,
        ..PodOptions::default()
    })
    .expect("control pod starts")
}

#[test]
fn a_single_node_resumes_its_own_sessions_in_every_mode() {
    let pod = control_pod(1);
    let node = &pod.controls()[0];
    for mode in Mode::ALL {
        let s = Sessions::establish(mode, node, COUNT).unwrap();
        let o = s.resume_on(node);
        assert!(o.all_resumed(), "{mode} on its own node: {o:?}");
    }
}

#[test]
fn two_control_nodes_do_not_resume_each_others_sessions() {
    let pod = control_pod(2);
    let (a, b) = (&pod.controls()[0], &pod.controls()[1]);
    for mode in Mode::ALL {
        let s = Sessions::establish(mode, a, COUNT).unwrap();
        let o = s.resume_on(b);
        assert_eq!(o.errors, 0, "{mode}: {o:?}");
        assert_eq!(
            o.full, COUNT as u64,
            "{mode} resumed across control nodes: {o:?}"
        );
    }
}

#[test]
fn node_counters_match_what_the_client_did() {
    let pod = control_pod(1);
    let node = &pod.controls()[0];
    let verified = "proxy.process.ssl.total_tickets_verified";
    let cache_hit = "proxy.process.ssl.ssl_session_cache_hit";
    let handshakes = "proxy.process.ssl.total_success_handshake_count_in";
    let before = |n| node.stat(n).unwrap().unwrap_or(0);
    let (v0, h0, c0) = (before(verified), before(handshakes), before(cache_hit));

    let tickets = Sessions::establish(Mode::Tls12Ticket, node, COUNT).unwrap();
    assert!(tickets.resume_on(node).all_resumed());
    let ids = Sessions::establish(Mode::Tls12Id, node, COUNT).unwrap();
    assert!(ids.resume_on(node).all_resumed());

    // Four rounds of COUNT handshakes; ATS folds its counters in about once a second.
    let limit = Duration::from_secs(10);
    let n = COUNT as u64;
    node.wait_stat(handshakes, limit, |v| v >= h0 + 4 * n)
        .unwrap();
    assert_eq!(node.stat(handshakes).unwrap(), Some(h0 + 4 * n));
    assert_eq!(
        node.stat(verified).unwrap(),
        Some(v0 + n),
        "ticket resumptions"
    );
    assert_eq!(
        node.stat(cache_hit).unwrap(),
        Some(c0 + n),
        "session-id resumptions"
    );
}

#[test]
fn a_node_that_cannot_bind_its_port_is_reported() {
    // A port held by this test: ATS logs "unable to listen" and keeps running, which the
    // harness must catch instead of probing whatever holds the port.
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = holder.local_addr().unwrap().port();
    let dir = std::env::temp_dir().join(format!("atsreuse-bind-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    atsreuse_pod::cert::write_self_signed(&dir).unwrap();
    let mut spec = atsreuse_pod::NodeSpec::control("busy");
    spec.extra_records.push(format!(
        "CONFIG proxy.config.http.server_ports STRING {port}:ssl:ip-in=127.0.0.1"
    ));
    let err = atsreuse_pod::AtsNode::start(&dir.join("busy"), &dir, &spec).unwrap_err();
    assert!(err.to_string().contains("could not bind"), "{err}");
    // The same under traffic_manager, which binds the ports itself.
    spec.launch = Launch::Managed;
    let err = atsreuse_pod::AtsNode::start(&dir.join("busy-managed"), &dir, &spec).unwrap_err();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(err.to_string().contains("could not bind"), "{err}");
}
