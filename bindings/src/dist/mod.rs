//! Distribution through Redis: the node's threads and the state they share.
//!
//! Threads of one node (each loop checks the shutdown flag at least every [`TICK`]; every Redis
//! call is bounded by the connect or IO timeout):
//!
//! | thread | count | work |
//! |---|---|---|
//! | sealer | 1 | seals queued sessions, fans them out to every endpoint's send queue |
//! | publisher | per endpoint | `PUBLISH`es sealed sessions, in pipelines |
//! | subscriber | per endpoint | receives sessions and keyring notices |
//! | control | per endpoint | keyring read / compare-and-set write, the leader lease |
//! | leader | 1 | leadership, rotation, time-driven key block updates, gauges |
//!
//! Each endpoint has its own connections, so a dead or frozen endpoint costs only its own
//! messages, and keyring writes never wait behind session traffic.

pub(crate) mod conn;
pub(crate) mod control;
pub(crate) mod keystore;
pub(crate) mod legacy;
pub(crate) mod sessions;
pub(crate) mod subscriber;

pub use conn::open_endpoint;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Sender, SyncSender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use atsreuse_core::envelope::Sealer;
use atsreuse_core::keys::{ClusterKeys, NodeId};
use atsreuse_core::legacy::LegacyKey;
use atsreuse_core::rotation::Settings;
use zeroize::Zeroizing;

use crate::config::Config;
use crate::map::SessionMap;
use crate::node::{Host, LogLevel};
use crate::stats::Counters;

use self::keystore::KeyStore;

/// Longest wait of any loop before it looks at the shutdown flag again.
pub(crate) const TICK: Duration = Duration::from_millis(200);

/// Payload of the notice published on the keyring channel after a keyring write.
pub(crate) const NOTICE_KEYRING: &[u8] = b"keyring";
/// Payload of the old, unauthenticated rotation request. It is ignored now: anyone who can
/// publish to Redis could send it.
pub(crate) const NOTICE_ROTATE_PLAIN: &[u8] = b"rotate";
/// Prefix of an authenticated rotation request: `rotate:<tag, 64 hex>:<issued_at, decimal>`.
const ROTATE_PREFIX: &str = "rotate:";
/// How far the `issued_at` of a rotation request may be from the receiver's clock, in seconds.
pub const ROTATE_REQUEST_WINDOW_SECS: u64 = 60;
/// HKDF salt of the rotation request tag; distinct from every envelope key's derivation.
const ROTATE_SALT: &[u8] = b"atsreuse rotation request v1";

/// The tag of a rotation request issued at `issued_at`: HKDF-SHA256 (an HMAC-SHA256 based
/// PRF) keyed with the pod's keyring key, over "rotate" and the time. Only a holder of the PSK
/// can make it; a copy is only good within [`ROTATE_REQUEST_WINDOW_SECS`], and the leader
/// acts on at most one remote request per rate limit (see `leader`).
fn rotate_tag(keys: &ClusterKeys, issued_at: u64) -> Option<[u8; 32]> {
    let mut tag = [0u8; 32];
    let key = keys.expose_purpose_key(atsreuse_core::keys::Purpose::Keyrings);
    atsreuse_core::keys::hkdf_sha256(
        ROTATE_SALT,
        &key[..],
        &[b"rotate", &issued_at.to_be_bytes()],
        &mut tag,
    )
    .ok()?;
    Some(tag)
}

/// The payload of an authenticated rotation request issued at `issued_at` (Unix seconds), as
/// the nodes and the `atsreuse rotate` command publish it on the keyring channel.
pub fn rotation_request(keys: &ClusterKeys, issued_at: u64) -> Vec<u8> {
    let tag = rotate_tag(keys, issued_at)
        .map(|t| hex(&t))
        .unwrap_or_default();
    format!("{ROTATE_PREFIX}{tag}:{issued_at}").into_bytes()
}

/// Why a rotation request was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BadRequest {
    /// Not of the form `rotate:<64 hex>:<decimal>`.
    Malformed,
    /// The tag is wrong (another PSK or cluster, or forged).
    BadTag,
    /// Issued too far from now.
    Stale,
}

/// Checks a payload of the keyring channel that starts with `rotate:`.
pub(crate) fn check_rotation_request(
    keys: &ClusterKeys,
    payload: &[u8],
    now: u64,
) -> Result<(), BadRequest> {
    let text = std::str::from_utf8(payload).map_err(|_| BadRequest::Malformed)?;
    let rest = text
        .strip_prefix(ROTATE_PREFIX)
        .ok_or(BadRequest::Malformed)?;
    let (tag_hex, issued) = rest.split_once(':').ok_or(BadRequest::Malformed)?;
    if tag_hex.len() != 64 || issued.is_empty() || issued.len() > 20 {
        return Err(BadRequest::Malformed);
    }
    if !issued.bytes().all(|b| b.is_ascii_digit()) {
        return Err(BadRequest::Malformed);
    }
    let issued_at: u64 = issued.parse().map_err(|_| BadRequest::Malformed)?;
    let expected = rotate_tag(keys, issued_at).ok_or(BadRequest::Malformed)?;
    let expected = hex(&expected);
    // Compared without an early exit, so the time taken says nothing about the tag.
    let differ = expected
        .bytes()
        .zip(tag_hex.bytes())
        .fold(0u8, |acc, (a, b)| acc | (a ^ b));
    if differ != 0 {
        return Err(BadRequest::BadTag);
    }
    if now.abs_diff(issued_at) > ROTATE_REQUEST_WINDOW_SECS {
        return Err(BadRequest::Stale);
    }
    Ok(())
}

/// Redis names of one cluster.
#[derive(Debug, Clone)]
pub(crate) struct Names {
    /// Pub/sub channel of sealed sessions.
    pub sessions: String,
    /// Pub/sub channel of keyring notices and rotation requests.
    pub keyring_channel: String,
    /// Hash holding the stored keyring: fields `epoch` (decimal) and `blob` (sealed).
    pub keyring_key: String,
    /// String key of the leader lease; its value is the holder's node id in hex.
    pub leader_key: String,
}

impl Names {
    pub(crate) fn new(cluster: &str) -> Names {
        Names {
            sessions: format!("atsreuse:{cluster}:sessions"),
            keyring_channel: format!("atsreuse:{cluster}:keyring"),
            keyring_key: format!("atsreuse:{cluster}:keyring"),
            leader_key: format!("atsreuse:{cluster}:leader"),
        }
    }
}

/// A message for a publisher: a sealed session on the sessions channel, or a message of the
/// old format on its own channel.
pub(crate) struct Outgoing {
    /// `None`: the sessions channel.
    pub channel: Option<String>,
    pub payload: Vec<u8>,
}

/// What a control thread is asked to do by the leader thread.
pub(crate) enum ControlCmd {
    /// Store this sealed keyring if the stored epoch is older; reply whether it was stored.
    Write {
        epoch: u64,
        blob: Arc<Vec<u8>>,
        reply: SyncSender<bool>,
    },
    /// Publish a rotation request for whichever node leads.
    AskRotation,
    /// Publish a message of the old format (a STEK, in legacy mode `both`).
    PublishLegacy {
        channel: String,
        payload: Arc<Vec<u8>>,
    },
}

/// The state of one endpoint that other threads read.
pub(crate) struct EndpointState {
    /// `host:port` (brackets around IPv6), for logs.
    pub label: String,
    /// The subscriber is subscribed.
    pub subscribed: AtomicBool,
    /// The control connection works.
    pub control_up: AtomicBool,
    /// Milliseconds since node start until which this node holds the lease here; 0: not held.
    pub lease_until_ms: AtomicU64,
    /// The control thread has read the stored keyring at least once (found or not).
    pub keyring_read_once: AtomicBool,
    /// A keyring notice arrived or the subscription was renewed: read the keyring again.
    pub refresh: AtomicBool,
    /// Sealed sessions for this endpoint's publisher.
    pub send_queue: SyncSender<Arc<Outgoing>>,
    /// Commands for this endpoint's control thread.
    pub control: Mutex<Sender<ControlCmd>>,
}

impl EndpointState {
    /// Whether this node holds the lease on this endpoint at `now_ms` (ms since node start).
    pub(crate) fn holds_lease(&self, now_ms: u64) -> bool {
        now_ms < self.lease_until_ms.load(Ordering::Acquire)
    }
}

/// Everything the node's threads share.
pub(crate) struct Shared {
    pub config: Config,
    pub host: Arc<dyn Host>,
    pub keys: ClusterKeys,
    pub node_id: NodeId,
    /// The node id as 32 hex characters: the lease value.
    pub node_hex: String,
    pub names: Names,
    pub settings: Settings,
    /// The Redis password, `None` for no AUTH.
    pub password: Option<Zeroizing<String>>,
    /// PEM bytes of the CA for `rediss://` endpoints.
    pub ca_pem: Option<Vec<u8>>,
    pub counters: Counters,
    pub map: SessionMap,
    pub keystore: KeyStore,
    /// Seals keyrings; shared by the control threads (repairs) and the leader (rotations).
    pub keyring_sealer: Mutex<Sealer>,
    pub endpoints: Vec<EndpointState>,
    pub shutdown: AtomicBool,
    /// `rotate_now` was called on this node.
    pub rotate_local: AtomicBool,
    /// A rotation request arrived from another node.
    pub rotate_remote: AtomicBool,
    pub started: Instant,
    /// The old plugin's key, when the legacy protocol is on (accept or both).
    pub legacy_key: Option<LegacyKey>,
    /// Legacy mode `both`: also write the old format.
    pub legacy_write: bool,
    /// An old node asked for the STEK (`@resendstek@`).
    pub legacy_resend: AtomicBool,
    /// Holds key blocks back from the host until `Node::start` has waited for the first
    /// keyring read.
    pub start_gate: StartGate,
    /// Rejections not logged yet, by reason: when the last line was written and how many
    /// came since.
    pub rejections: Mutex<Vec<(&'static str, Option<Instant>, u64)>>,
}

/// Shortest time between two log lines about rejected messages of one reason.
pub(crate) const REJECTION_LOG_EVERY: Duration = Duration::from_secs(10);

impl Shared {
    /// One log line through the host, prefixed with the node name.
    pub(crate) fn log(&self, level: LogLevel, text: std::fmt::Arguments<'_>) {
        let line = format!("[{}] {}", self.config.node_name, text);
        self.host.log(level, &line);
    }

    /// Notes one rejected message (its counter is bumped by the caller) and logs at debug at
    /// most one line per reason every [`REJECTION_LOG_EVERY`], with the count since the last
    /// line. No message bytes are logged: a forged message must not reach the logs.
    pub(crate) fn note_rejected(&self, reason: &'static str) {
        let now = Instant::now();
        let due = {
            let mut seen = self
                .rejections
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let index = match seen.iter().position(|(r, _, _)| *r == reason) {
                Some(index) => index,
                None => {
                    seen.push((reason, None, 0));
                    seen.len() - 1
                }
            };
            let entry = &mut seen[index];
            entry.2 += 1;
            // The first rejection of a reason is logged at once, later ones in batches.
            if entry
                .1
                .map_or(true, |at| now.duration_since(at) >= REJECTION_LOG_EVERY)
            {
                let count = entry.2;
                entry.1 = Some(now);
                entry.2 = 0;
                Some(count)
            } else {
                None
            }
        };
        if let Some(count) = due {
            self.log(
                LogLevel::Debug,
                format_args!("rejected {count} message(s) ({reason}) since the last such line"),
            );
        }
    }

    pub(crate) fn stopping(&self) -> bool {
        self.shutdown.load(Ordering::Acquire)
    }

    /// Milliseconds since the node started (a monotonic clock for leases).
    pub(crate) fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Sleeps up to `total`, in slices of at most [`TICK`], returning early on shutdown.
    pub(crate) fn sleep(&self, total: Duration) {
        let end = Instant::now() + total;
        while !self.stopping() {
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            std::thread::sleep(left.min(TICK));
        }
    }
}

/// How the first keyring read of one endpoint went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FirstRead {
    /// The control connection read the stored keyring (found or not).
    Answered,
    /// The first connect attempt or the first read failed.
    Failed,
}

/// Why the start wait ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StartWaitEnd {
    /// `atsreuse.start_wait_ms` is 0: no wait.
    NotAsked,
    /// An endpoint delivered a keyring that was merged.
    Merged,
    /// Every endpoint answered or failed, none delivered a keyring that could be merged.
    /// The counts are (answered, failed).
    Settled(usize, usize),
    /// The bound passed first.
    TimedOut,
}

struct GateState {
    first_reads: Vec<Option<FirstRead>>,
    merged: bool,
}

impl GateState {
    /// Why the wait may end now, or `None` while it must go on.
    fn end(&self) -> Option<StartWaitEnd> {
        if self.merged {
            return Some(StartWaitEnd::Merged);
        }
        if self.first_reads.iter().any(Option::is_none) {
            return None;
        }
        let answered = self
            .first_reads
            .iter()
            .filter(|r| **r == Some(FirstRead::Answered))
            .count();
        Some(StartWaitEnd::Settled(
            answered,
            self.first_reads.len() - answered,
        ))
    }
}

/// What `Node::start` waits for before the first key block goes to the host: the pod's
/// keyring, or the news that no endpoint has one or can be reached. The control threads report
/// into it; the key store asks it whether a block may be installed yet.
///
/// An endpoint counts once, by its first outcome: an endpoint whose first connect failed does
/// not hold the wait up while it retries, so one dead Redis next to a live one that stores no
/// keyring ends the wait at once. That node then issues tickets with its start key until the
/// pod's keyring arrives by a later read, as every node did before the wait existed.
pub(crate) struct StartGate {
    state: Mutex<GateState>,
    changed: Condvar,
    /// Key blocks may reach the host.
    open: AtomicBool,
}

impl StartGate {
    pub(crate) fn new(endpoints: usize) -> StartGate {
        StartGate {
            state: Mutex::new(GateState {
                first_reads: vec![None; endpoints],
                merged: false,
            }),
            changed: Condvar::new(),
            open: AtomicBool::new(false),
        }
    }

    fn lock(&self) -> MutexGuard<'_, GateState> {
        // The state is a few flags, each set in one store: valid after any panic.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn first_read(&self, endpoint: usize, outcome: FirstRead) {
        let mut state = self.lock();
        if let Some(slot @ None) = state.first_reads.get_mut(endpoint) {
            *slot = Some(outcome);
            self.changed.notify_all();
        }
    }

    /// The endpoint's control connection read the stored keyring (found or not). Only its
    /// first outcome counts.
    pub(crate) fn answered(&self, endpoint: usize) {
        self.first_read(endpoint, FirstRead::Answered);
    }

    /// The endpoint's first connect attempt or first read failed. Only its first outcome
    /// counts.
    pub(crate) fn failed(&self, endpoint: usize) {
        self.first_read(endpoint, FirstRead::Failed);
    }

    /// A keyring read from an endpoint was merged into the held one.
    pub(crate) fn merged(&self) {
        let mut state = self.lock();
        if !state.merged {
            state.merged = true;
            self.changed.notify_all();
        }
    }

    /// Blocks until the wait may end or `bound` passes; returns why it ended.
    pub(crate) fn wait(&self, bound: Duration) -> StartWaitEnd {
        if bound.is_zero() {
            return StartWaitEnd::NotAsked;
        }
        let state = self.lock();
        let (state, _) = self
            .changed
            .wait_timeout_while(state, bound, |s| s.end().is_none())
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        state.end().unwrap_or(StartWaitEnd::TimedOut)
    }

    /// From now on key blocks reach the host.
    pub(crate) fn open(&self) {
        self.open.store(true, Ordering::Release);
    }

    pub(crate) fn is_open(&self) -> bool {
        self.open.load(Ordering::Acquire)
    }
}

/// Formats bytes as lowercase hex (node ids and key names only, never secrets).
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// `host:port` of an endpoint, brackets around IPv6.
pub(crate) fn endpoint_label(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_start_wait_ends_when_every_endpoint_has_a_first_outcome() {
        let gate = StartGate::new(2);
        gate.answered(0);
        assert_eq!(gate.lock().end(), None);
        gate.failed(1);
        // A later outcome of the same endpoint changes nothing.
        gate.answered(1);
        assert_eq!(
            gate.wait(Duration::from_secs(5)),
            StartWaitEnd::Settled(1, 1)
        );
    }

    #[test]
    fn a_merged_keyring_ends_the_start_wait_at_once() {
        let gate = StartGate::new(3);
        gate.merged();
        assert_eq!(gate.wait(Duration::from_secs(5)), StartWaitEnd::Merged);
    }

    #[test]
    fn the_start_wait_is_bounded_and_woken_by_another_thread() {
        let gate = Arc::new(StartGate::new(1));
        let began = Instant::now();
        assert_eq!(gate.wait(Duration::from_millis(50)), StartWaitEnd::TimedOut);
        assert!(began.elapsed() >= Duration::from_millis(50));
        assert_eq!(gate.wait(Duration::ZERO), StartWaitEnd::NotAsked);

        let other = Arc::clone(&gate);
        let answer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            other.answered(0);
        });
        let began = Instant::now();
        assert_eq!(
            gate.wait(Duration::from_secs(10)),
            StartWaitEnd::Settled(1, 0)
        );
        assert!(began.elapsed() < Duration::from_secs(5));
        answer.join().unwrap();
        assert!(!gate.is_open());
        gate.open();
        assert!(gate.is_open());
    }
}
