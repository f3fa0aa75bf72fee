//! Configuration on real nodes: the old plugin's file, ATS config reload, and certificate
//! lines with an explicit `dest_ip`.

mod common;

use atsreuse_pod::resume::Sessions;
use atsreuse_pod::{ConfigStyle, Launch, PodOptions};
use atsreuse_tlsclient::Mode;
use atsreuse_tlsclient::{ClientConfig, Verify};
use common::{pod, propagate, CONVERGE_LIMIT};

const COUNT: usize = 5;

#[test]
fn the_old_plugins_config_file_loads_unchanged_and_shares_sessions() {
    let (pod, _) = pod(PodOptions {
        nodes: 2,
        style: ConfigStyle::Legacy,
        ..PodOptions::default()
    });
    let text = std::fs::read_to_string(pod.node_config(1)).unwrap();
    assert!(
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .all(|l| !l.starts_with("atsreuse.")),
        "the legacy config must hold only old keys:\n{text}"
    );
    for mode in Mode::ALL {
        let s = Sessions::establish(mode, &pod.nodes()[0], COUNT).unwrap();
        propagate();
        let o = s.resume_on(&pod.nodes()[1]);
        assert!(o.all_resumed(), "{mode}: {o:?}");
    }
    common::no_crash(&pod);
}

#[test]
fn an_ats_config_reload_keeps_the_shared_keys() {
    let (pod, _) = pod(PodOptions {
        nodes: 2,
        launch: Launch::Managed,
        ..PodOptions::default()
    });
    let n = pod.nodes();
    let before: Vec<Sessions> = [Mode::Tls12Ticket, Mode::Tls13Ticket]
        .iter()
        .map(|m| Sessions::establish(*m, &n[0], COUNT).unwrap())
        .collect();
    // Both nodes rebuild their TLS contexts; the keys the plugin installed must survive.
    for node in n {
        node.reload_config().unwrap();
    }
    for s in &before {
        for node in n {
            let o = s.resume_on(node);
            assert!(
                o.all_resumed(),
                "{} on {} after reload: {o:?}",
                s.mode(),
                node.name()
            );
        }
    }
    let after = Sessions::establish(Mode::Tls12Ticket, &n[1], COUNT).unwrap();
    let o = after.resume_on(&n[0]);
    assert!(o.all_resumed(), "made after reload: {o:?}");
    common::no_crash(&pod);
}

/// `LEGACY-PROTOCOL.md`: before a 2026 ATS fix, keys set through `TSSslTicketKeyUpdate` were
/// ignored by `ssl_multicert.config` lines with an explicit `dest_ip`. Observed on Debian's
/// 9.2.9 build: such a line gets the shared keys, tickets and session IDs resume across nodes
/// and across a rotation. The test pins that, and proves the explicit line served the
/// handshake: the `dest_ip=*` line has another certificate, which the client would reject.
#[test]
fn a_certificate_line_with_an_explicit_dest_ip_shares_keys_on_this_ats() {
    let (pod, _) = pod(PodOptions {
        nodes: 2,
        multicert_line: "dest_ip=* ssl_cert_name=other.pem ssl_key_name=other.key\n\
                         dest_ip=127.0.0.1 ssl_cert_name=server.pem ssl_key_name=server.key"
            .into(),
        ..PodOptions::default()
    });
    let strict = ClientConfig {
        verify: Verify::CaFile(pod.ca_file()),
        ..ClientConfig::default()
    };
    let n = pod.nodes();
    let check = |when: &str| {
        for mode in Mode::ALL {
            let s = Sessions::establish_with(mode, &n[0], COUNT, &strict).unwrap();
            propagate();
            let o = s.resume_on(&n[1]);
            assert!(o.all_resumed(), "{when}, {mode}: {o:?}");
        }
    };
    check("before a rotation");
    pod.rotate_and_activate(CONVERGE_LIMIT).unwrap();
    check("after a rotation");
    common::no_crash(&pod);
}

#[test]
fn a_node_with_a_bad_config_logs_why_and_serves_tls_without_sharing() {
    let pod = atsreuse_pod::Pod::start(PodOptions {
        nodes: 2,
        plugin: Some(common::plugin()),
        extra_config: vec!["atsreuse.no_such_key=1".into()],
        ..PodOptions::default()
    })
    .expect("nodes start even with a config the plugin refuses");
    let n = pod.nodes();
    let diags = n[0].diags();
    let errors: Vec<&str> = diags
        .lines()
        .filter(|l| l.contains("ERROR: [atsreuse]"))
        .collect();
    let config = pod.node_config(0);
    assert!(
        errors
            .iter()
            .any(|l| l.contains("atsreuse.no_such_key") && l.contains(&*config.to_string_lossy())),
        "no error naming the file and the key: {errors:?}"
    );
    // TLS is served, sessions resume on the node that made them, and nothing is shared.
    for mode in Mode::ALL {
        let s = Sessions::establish(mode, &n[0], COUNT).unwrap();
        propagate();
        assert!(s.resume_on(&n[0]).all_resumed(), "{mode} on its own node");
        let o = s.resume_on(&n[1]);
        assert_eq!(
            o.full, COUNT as u64,
            "{mode} shared without a config: {o:?}"
        );
    }
    common::no_crash(&pod);
}
