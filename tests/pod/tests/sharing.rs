//! Sessions made on one node resume on the others: the main job, asserted. A control node
//! without the plugin gets the same offers and must do full handshakes, so these tests can
//! fail.

mod common;

use std::time::Duration;

use atsreuse_pod::resume::Sessions;
use atsreuse_pod::{AtsNode, PodOptions};
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
    let ready = std::time::Instant::now();
    let at_once: Vec<_> = tickets.iter().map(|s| s.resume_on(late)).collect();
    // For the failure message: how long after answering did the node resume them?
    let mut caught_up = None;
    while caught_up.is_none() && ready.elapsed() < CONVERGE_LIMIT {
        if tickets.iter().all(|s| s.resume_on(late).all_resumed()) {
            caught_up = Some(ready.elapsed());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    for (s, o) in tickets.iter().zip(&at_once) {
        assert!(
            o.all_resumed(),
            "{} on the late node at once: {o:?}; every ticket resumed {caught_up:?} after \
             the node first answered",
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
    let names = [
        "plugin.atsreuse.sessions_published",
        "plugin.atsreuse.sessions_received",
        "plugin.atsreuse.lookups_hit",
        "plugin.atsreuse.sessions_inserted",
        "proxy.process.ssl.total_tickets_verified",
        "proxy.process.ssl.total_success_handshake_count_in",
    ];
    let snapshot = |node: &AtsNode| -> Vec<u64> {
        let stats = node.stats().unwrap();
        names
            .iter()
            .map(|k| stats.get(*k).and_then(|v| v.parse().ok()).unwrap_or(0))
            .collect()
    };
    let (a0, b0) = (snapshot(a), snapshot(b));

    let ids = Sessions::establish(Mode::Tls12Id, a, COUNT).unwrap();
    let t12 = Sessions::establish(Mode::Tls12Ticket, a, COUNT).unwrap();
    let t13 = Sessions::establish(Mode::Tls13Ticket, a, COUNT).unwrap();
    propagate();
    assert!(ids.resume_on(b).all_resumed());
    assert!(t12.resume_on(b).all_resumed());
    assert!(t13.resume_on(b).all_resumed());

    // Counters reach the stats page through a plugin timer and ATS's own fold (about a
    // second): wait for the handshake counts, then one more fold, then compare exactly.
    let n = COUNT as u64;
    let limit = Duration::from_secs(10);
    let handshakes = names[5];
    a.wait_stat(handshakes, limit, |v| v >= a0[5] + 3 * n)
        .unwrap();
    b.wait_stat(handshakes, limit, |v| v >= b0[5] + 3 * n)
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let delta = |now: Vec<u64>, then: &[u64]| -> Vec<u64> {
        now.iter().zip(then).map(|(x, y)| x - y).collect()
    };
    let (da, db) = (delta(snapshot(a), &a0), delta(snapshot(b), &b0));
    // Node 1 did 3n full handshakes; only the n without a ticket made a session for the
    // session cache, and each of those was published (TLS 1.3 and ticket sessions are not).
    assert_eq!(da[0], n, "published on node 1 ({names:?}: {da:?})");
    assert_eq!(da[5], 3 * n, "handshakes on node 1");
    // Node 2 received those n, found each once when offered, and put each into ATS; it
    // opened the 2n tickets offered; it did 3n handshakes, all resumed.
    assert_eq!(db[1], n, "received on node 2 ({names:?}: {db:?})");
    assert_eq!(db[2], n, "lookup hits on node 2");
    assert_eq!(db[3], n, "sessions inserted on node 2");
    assert_eq!(db[4], 2 * n, "tickets opened on node 2");
    assert_eq!(db[5], 3 * n, "handshakes on node 2");
    common::no_crash(&pod);
}
