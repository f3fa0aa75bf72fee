//! What every end-to-end test file shares.

use std::path::PathBuf;
use std::thread::sleep;
use std::time::{Duration, Instant};

use atsreuse_pod::{plugin_path, Pod, PodOptions};

/// Session-ID sharing goes through Redis pub/sub, so a session reaches the other nodes a few
/// milliseconds after it is made; tests wait this long before offering it elsewhere.
pub const PROPAGATION_WAIT: Duration = Duration::from_millis(300);

/// How long a pod may take to agree on a keyring.
pub const CONVERGE_LIMIT: Duration = Duration::from_secs(30);

/// The plugin under test. These tests exist to check it, so its absence fails them.
pub fn plugin() -> PathBuf {
    plugin_path().unwrap_or_else(|| {
        panic!(
            "no plugin .so: set ATSREUSE_PLUGIN or build build/c-plugin/atsreuse.so \
             (scripts/e2e.sh does both)"
        )
    })
}

/// A pod of `nodes` plugin nodes and `controls` control nodes, waited on until every plugin
/// node holds the pod's keyring; returns it with that epoch.
pub fn pod(opts: PodOptions) -> (Pod, u64) {
    let t0 = Instant::now();
    let pod = Pod::start(PodOptions {
        plugin: Some(plugin()),
        ..opts
    })
    .expect("pod starts");
    let started = t0.elapsed();
    let epoch = pod
        .wait_keyring_converged(1, CONVERGE_LIMIT)
        .expect("keyring converges");
    eprintln!(
        "pod: {} nodes answered after {started:?}, keyring epoch {epoch} everywhere after {:?}",
        pod.nodes().len(),
        t0.elapsed()
    );
    (pod, epoch)
}

/// Waits for session-ID sharing to deliver what was just published.
pub fn propagate() {
    sleep(PROPAGATION_WAIT);
}

/// Fails the test when a node's traffic_server crashed during it (under traffic_manager it
/// restarts, and a later check might pass on the restarted node).
pub fn no_crash(pod: &Pod) {
    let crashes = pod.crashes();
    assert!(crashes.is_empty(), "{}", crashes.join("\n"));
}
