//! Sessions made on one node resume on the others: the main job, asserted. A control node
//! without the plugin gets the same offers and must do full handshakes, so these tests can
//! fail.

mod common;

use std::time::Duration;

use atsreuse_pod::resume::Sessions;
use atsreuse_pod::{plugin_stat, PodOptions};
use atsreuse_tlsclient::Mode;
use common::{pod, propagate, CONVERGE_LIMIT};

const COUNT: usize = 10;

#[test]
fn sessions_made_on_node_1_resume_on_nodes_2_and_3_but_not_on_a_control_node() {
    let (pod, _) = pod(PodOptions {
        nodes: 3,
        control_nodes: 1,
        ..PodOptions::default()
    });
    let n = pod.nodes();
    let control = &pod.controls()[0];
    for mode in Mode::ALL {
        let s = Sessions::establish(mode, &n[0], COUNT).unwrap();
        propagate();
        for node in &n[1..] {
            let o = s.resume_on(node);
            assert!(o.all_resumed(), "{mode} on {}: {o:?}", node.name());
        }
        let o = s.resume_on(control);
        assert_eq!(o.errors, 0, "{mode} on the control node: {o:?}");
        assert_eq!(
            o.full, COUNT as u64,
            "{mode} resumed on a node without the plugin: {o:?}"
        );
    }
    common::no_crash(&pod);
}

#[test]
fn tickets_from_before_a_rotation_resume_everywhere_after_it_and_new_ones_too() {
    let (pod, epoch) = pod(PodOptions::default());
    let n = pod.nodes();
    let before: Vec<Sessions> = Mode::ALL
        .iter()
        .map(|m| Sessions::establish(*m, &n[0], COUNT).unwrap())
        .collect();
    propagate();

    let (via, after) = pod.rotate_and_activate(CONVERGE_LIMIT).expect("rotation");
    assert!(after > epoch, "rotation via {via:?}");

    for s in &before {
        for node in n {
            let o = s.resume_on(node);
            assert!(
                o.all_resumed(),
                "old {} on {}: {o:?}",
                s.mode(),
                node.name()
            );
        }
    }
    for (mode, old) in Mode::ALL.into_iter().zip(&before) {
        let s = Sessions::establish(mode, &n[0], COUNT).unwrap();
        propagate();
        for node in &n[1..] {
            let o = s.resume_on(node);
            assert!(o.all_resumed(), "new {mode} on {}: {o:?}", node.name());
        }
        // The key really changed: tickets carry their STEK's name in clear.
        if mode != Mode::Tls12Id {
            let (a, b) = (old.ticket_key_names(), s.ticket_key_names());
            assert_eq!((a.len(), b.len()), (1, 1), "{mode}: one key per round");
            assert_ne!(a, b, "{mode}: tickets after the rotation under the old key");
        }
    }
    common::no_crash(&pod);
}

#[test]
fn a_node_started_after_a_rotation_resumes_older_tickets_at_once() {
    let (mut pod, epoch) = pod(PodOptions {
        nodes: 2,
        ..PodOptions::default()
    });
    let tickets: Vec<Sessions> = [Mode::Tls12Ticket, Mode::Tls13Ticket]
        .iter()
        .map(|m| Sessions::establish(*m, &pod.nodes()[0], COUNT).unwrap())
        .collect();
    let (_, after) = pod.rotate_and_activate(CONVERGE_LIMIT).unwrap();
    assert!(after > epoch);

    // No wait after the start: the node must hold the pod's keys when it first answers.
    let i = pod.add_node().unwrap();
    let late = &pod.nodes()[i];
    let at_once: Vec<_> = tickets.iter().map(|s| s.resume_on(late)).collect();
    // For the failure message: does it resume once it caught up?
    let t0 = std::time::Instant::now();
    let caught_up = pod.wait_keyring_converged(after, CONVERGE_LIMIT);
    let waited = t0.elapsed();
    for (s, o) in tickets.iter().zip(&at_once) {
        let later = s.resume_on(late);
        assert!(
            o.all_resumed(),
            "{} on the late node at once: {o:?}; after waiting {waited:?} for the keyring \
             ({caught_up:?}): {later:?}",
            s.mode()
        );
    }
    common::no_crash(&pod);
}

#[test]
fn counters_after_a_run_match_what_the_clients_did() {
    let (pod, _) = pod(PodOptions {
        nodes: 2,
        ..PodOptions::default()
    });
    let (a, b) = (&pod.nodes()[0], &pod.nodes()[1]);
    let read = |node, name: &str| plugin_stat(node, name).unwrap().unwrap_or(0);
    let ats = |node: &atsreuse_pod::AtsNode, name: &str| node.stat(name).unwrap().unwrap_or(0);
    let published0 = read(a, "sessions_published");
    let received0 = read(b, "sessions_received");
    let hits0 = read(b, "lookups_hit");
    let verified0 = ats(b, "proxy.process.ssl.total_tickets_verified");

    let ids = Sessions::establish(Mode::Tls12Id, a, COUNT).unwrap();
    let t12 = Sessions::establish(Mode::Tls12Ticket, a, COUNT).unwrap();
    let t13 = Sessions::establish(Mode::Tls13Ticket, a, COUNT).unwrap();
    propagate();
    assert!(ids.resume_on(b).all_resumed());
    assert!(t12.resume_on(b).all_resumed());
    assert!(t13.resume_on(b).all_resumed());

    let n = COUNT as u64;
    let limit = Duration::from_secs(10);
    // Session IDs: every full TLS 1.2 handshake without a ticket is published on node 1,
    // received on node 2 and found there by each resumption.
    a.wait_stat("plugin.atsreuse.sessions_published", limit, |v| {
        v >= published0 + n
    })
    .unwrap();
    b.wait_stat("plugin.atsreuse.lookups_hit", limit, |v| v >= hits0 + n)
        .unwrap();
    assert!(read(b, "sessions_received") >= received0 + n);
    assert_eq!(
        read(b, "lookups_hit"),
        hits0 + n,
        "one hit per session-id resumption"
    );
    // Tickets: node 2 opened exactly the tickets offered to it.
    b.wait_stat("proxy.process.ssl.total_tickets_verified", limit, |v| {
        v >= verified0 + 2 * n
    })
    .unwrap();
    assert_eq!(
        ats(b, "proxy.process.ssl.total_tickets_verified"),
        verified0 + 2 * n
    );
    common::no_crash(&pod);
}
