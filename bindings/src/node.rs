//! A running node.
//!
//! The caller's thread (an ATS net thread) only calls [`Node::publish`] (a copy into a bounded
//! queue, never blocks, no crypto), [`Node::lookup`] (a map read), [`Node::stats`] (atomic
//! loads) and [`Node::rotate_now`] (sets a flag). [`Node::start`] spawns the node's threads
//! (see [`crate::dist`]), waits a bounded time (`atsreuse.start_wait_ms`) for the pod's stored
//! keyring, and hands a key block to [`Host::install_keys`] before it returns: the pod's keys
//! when an endpoint delivered them in time, else a local start key.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

use atsreuse_core::envelope::Sealer;
use atsreuse_core::keyring::{KeyEntry, KeyTimes};
use atsreuse_core::keys::{self, ClusterKeys, NodeId, Psk};
use atsreuse_core::legacy::{LegacyKey, LegacyPskFile};
use atsreuse_core::rotation::Settings;
use atsreuse_core::session::DER_MAX_LEN;
use atsreuse_core::stek::Stek;
use rand::rngs::OsRng;
use rand::RngCore;
use zeroize::Zeroizing;

use crate::clock::unix_now;
use crate::config::{Config, LegacyMode, RedisPassword};
use crate::dist::keystore::KeyStore;
use crate::dist::sessions::Pending;
use crate::dist::{
    endpoint_label, hex, ControlCmd, EndpointState, Names, Outgoing, Shared, StartGate,
    StartWaitEnd,
};
use crate::map::{LookupError, SessionId, SessionMap};
use crate::stats::{bump, set, AtsreuseStats, Counters};

/// Severity of a log line handed to the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(C)]
pub enum LogLevel {
    /// An operator must act.
    Error = 1,
    /// Degraded but serving.
    Warn = 2,
    /// A state change.
    Info = 3,
    /// Per-round detail.
    Debug = 4,
    /// Per-message detail.
    Trace = 5,
}

/// What the node needs from its host (the ATS plugin, a test, the operator command).
/// Both calls come from the node's own threads (and from `start`), never concurrently with
/// each other for `install_keys`.
pub trait Host: Send + Sync {
    /// A new ATS key block: `n` × 48 bytes, the encrypting key first.
    fn install_keys(&self, block: &[u8]);
    /// One log line; it never holds a key, a PSK or a session's bytes.
    fn log(&self, level: LogLevel, line: &str);
}

/// Why a node call failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum NodeError {
    /// The config cannot be used; the text names file, line and key.
    Config(String),
    /// The PSK file cannot be read or is unusable.
    Psk(String),
    /// A session id or DER outside its bounds.
    BadArgument(&'static str),
    /// The publish queue is full; the session was dropped and counted.
    QueueFull,
    /// The caller's buffer is too small; the needed length is given.
    BufferTooSmall(usize),
    /// The node is stopping.
    Stopped,
    /// A thread could not be started.
    Spawn(std::io::Error),
}

impl std::fmt::Display for NodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NodeError::Config(text) => write!(f, "config: {text}"),
            NodeError::Psk(text) => write!(f, "PSK: {text}"),
            NodeError::BadArgument(text) => write!(f, "bad argument: {text}"),
            NodeError::QueueFull => write!(f, "publish queue full, session dropped"),
            NodeError::BufferTooSmall(n) => write!(f, "buffer too small, {n} bytes needed"),
            NodeError::Stopped => write!(f, "node stopped"),
            NodeError::Spawn(err) => write!(f, "cannot start a thread: {err}"),
        }
    }
}

impl std::error::Error for NodeError {}

/// A running node. Dropping it stops it (as [`Node::stop`] does).
pub struct Node {
    shared: Arc<Shared>,
    queue: Option<SyncSender<Pending>>,
    threads: Vec<JoinHandle<()>>,
}

impl Node {
    /// Starts a node from a loaded config: reads the PSK, derives the cluster keys, picks a
    /// random node id, makes a local start key, spawns the threads, then waits until the pod's
    /// stored keyring is merged, or every endpoint answered or failed its first connect, or
    /// `config.start_wait` passed (zero: no wait). Only then is the first key block handed to
    /// `host`, so it is the pod's whenever the pod has one and Redis answered in time; the
    /// start key encrypts only when not. Endpoints that did not answer are connected by the
    /// node's threads afterwards, with retries.
    pub fn start(config: Config, host: Arc<dyn Host>) -> Result<Node, NodeError> {
        for notice in &config.notices {
            host.log(notice.level, &notice.text);
        }
        let secrets = load_secrets(&config)?;
        let settings = rotation_settings(&config)?;
        let mut id = [0u8; 16];
        OsRng.fill_bytes(&mut id);
        let node_id = NodeId(id);
        let now = unix_now();
        let (endpoints, send_queues, control_queues) = endpoint_states(&config);
        let config_endpoints = endpoints.len();
        let (queue_tx, queue_rx) = sync_channel(config.publish_queue_capacity.max(1));
        let shared = Arc::new(Shared {
            names: Names::new(&config.cluster_name),
            map: SessionMap::new(config.session_map_capacity.max(1)),
            keystore: KeyStore::new(start_key(&settings, now), settings.ticket_lifetime_secs),
            keyring_sealer: Mutex::new(Sealer::new(node_id)),
            node_hex: hex(&node_id.0),
            legacy_write: config.legacy == LegacyMode::Both,
            config,
            host,
            keys: secrets.keys,
            node_id,
            settings,
            password: secrets.password,
            ca_pem: secrets.ca_pem,
            counters: Counters::default(),
            endpoints,
            shutdown: AtomicBool::new(false),
            rotate_local: AtomicBool::new(false),
            rotate_remote: AtomicBool::new(false),
            started: Instant::now(),
            legacy_key: secrets.legacy_key,
            legacy_resend: AtomicBool::new(false),
            start_gate: StartGate::new(config_endpoints),
            rejections: Mutex::new(Vec::new()),
        });
        set(
            &shared.counters.redis_endpoints,
            shared.endpoints.len() as u64,
        );
        let mut node = Node {
            shared,
            queue: Some(queue_tx),
            threads: Vec::new(),
        };
        node.spawn_all(queue_rx, send_queues, control_queues)?;
        node.wait_for_pod_keyring();
        let (id, count) = (&node.shared.node_hex, node.shared.endpoints.len());
        node.shared.log(
            LogLevel::Info,
            format_args!("started: node id {id}, {count} Redis endpoint(s)"),
        );
        Ok(node)
    }

    /// Waits (bounded) for the first keyring reads, then lets key blocks reach the host and
    /// installs the first one, so ATS can issue tickets as soon as start returns.
    fn wait_for_pod_keyring(&self) {
        let shared = &self.shared;
        let bound = shared.config.start_wait;
        let began = Instant::now();
        let end = shared.start_gate.wait(bound);
        let took = began.elapsed().as_millis();
        shared.start_gate.open();
        shared.keystore.refresh(shared, unix_now());
        let epoch = shared.keystore.epoch();
        let bound_ms = bound.as_millis();
        let (level, what) = match end {
            StartWaitEnd::NotAsked => (
                LogLevel::Info,
                "no wait asked for (atsreuse.start_wait_ms=0); start key installed".to_owned(),
            ),
            StartWaitEnd::Merged => (
                LogLevel::Info,
                format!("pod keyring epoch {epoch} read and installed"),
            ),
            StartWaitEnd::Settled(answered, 0) => (
                LogLevel::Info,
                format!("{answered} endpoint(s) answered, none with a keyring to merge; start key installed"),
            ),
            StartWaitEnd::Settled(0, failed) => (
                LogLevel::Info,
                format!("{failed} endpoint(s) unreachable; start key installed"),
            ),
            StartWaitEnd::Settled(answered, failed) => (
                LogLevel::Info,
                format!(
                    "{answered} endpoint(s) answered, none with a keyring to merge, {failed} \
                     unreachable; start key installed"
                ),
            ),
            StartWaitEnd::TimedOut => (
                LogLevel::Warn,
                format!(
                    "no keyring read within atsreuse.start_wait_ms={bound_ms}; start key \
                     installed, the pod's keys follow when an endpoint answers"
                ),
            ),
        };
        shared.log(
            level,
            format_args!("start wait: {took} ms, ended because: {what}"),
        );
    }

    fn spawn_all(
        &mut self,
        queue: Receiver<Pending>,
        send_queues: Vec<Receiver<Arc<Outgoing>>>,
        control_queues: Vec<Receiver<ControlCmd>>,
    ) -> Result<(), NodeError> {
        use crate::dist::{control, sessions, subscriber};
        self.spawn("sealer", move |s| sessions::run_sealer(s, queue))?;
        for (i, (send, control)) in send_queues.into_iter().zip(control_queues).enumerate() {
            self.spawn(&format!("sub-{i}"), move |s| {
                subscriber::run_subscriber(s, i)
            })?;
            self.spawn(&format!("pub-{i}"), move |s| {
                sessions::run_publisher(s, i, send)
            })?;
            self.spawn(&format!("ctl-{i}"), move |s| {
                control::run_control(s, i, control)
            })?;
        }
        self.spawn("leader", crate::leader::run_leader)?;
        Ok(())
    }

    /// Spawns one thread; a panic inside it is caught and logged (its work stops). On error
    /// the node is stopped (threads already running are joined) by the caller's drop.
    fn spawn<F>(&mut self, role: &str, body: F) -> Result<(), NodeError>
    where
        F: FnOnce(&Shared) + Send + 'static,
    {
        let shared = Arc::clone(&self.shared);
        let name = format!("atsreuse-{role}");
        let label = name.clone();
        let handle = std::thread::Builder::new()
            .name(name)
            .spawn(move || {
                if catch_unwind(AssertUnwindSafe(|| body(&shared))).is_err() {
                    shared.log(
                        LogLevel::Error,
                        format_args!("thread {label} failed and stopped"),
                    );
                }
            })
            .map_err(NodeError::Spawn)?;
        self.threads.push(handle);
        Ok(())
    }

    /// Queues a new session for the pod. Never blocks: when the queue is full the session is
    /// dropped, counted, and [`NodeError::QueueFull`] returned.
    pub fn publish(&self, id: &[u8], der: &[u8]) -> Result<(), NodeError> {
        let Some(id) = SessionId::new(id) else {
            return Err(NodeError::BadArgument("session id must be 1 to 32 bytes"));
        };
        if der.is_empty() || der.len() > DER_MAX_LEN {
            return Err(NodeError::BadArgument(
                "session DER must be 1 to 10240 bytes",
            ));
        }
        let Some(queue) = &self.queue else {
            return Err(NodeError::Stopped);
        };
        let pending = Pending {
            id,
            der: Zeroizing::new(der.to_vec()),
        };
        match queue.try_send(pending) {
            Ok(()) => {
                bump(&self.shared.counters.sessions_published);
                Ok(())
            }
            Err(TrySendError::Full(_)) => {
                bump(&self.shared.counters.sessions_dropped);
                Err(NodeError::QueueFull)
            }
            Err(TrySendError::Disconnected(_)) => Err(NodeError::Stopped),
        }
    }

    /// Copies the DER of a shared session into `out`; `Ok(None)` when unknown or expired.
    pub fn lookup(&self, id: &[u8], out: &mut [u8]) -> Result<Option<usize>, NodeError> {
        let Some(id) = SessionId::new(id) else {
            return Err(NodeError::BadArgument("session id must be 1 to 32 bytes"));
        };
        let counters = &self.shared.counters;
        match self.shared.map.lookup(&id, out, unix_now()) {
            Ok(Some(len)) => {
                bump(&counters.lookups_hit);
                Ok(Some(len))
            }
            Ok(None) => {
                bump(&counters.lookups_miss);
                Ok(None)
            }
            Err(LookupError::BufferTooSmall(len)) => Err(NodeError::BufferTooSmall(len)),
        }
    }

    /// A snapshot of the counters and gauges.
    pub fn stats(&self) -> AtsreuseStats {
        let mut stats = self.shared.counters.snapshot();
        stats.session_map_len = self.shared.map.len() as u64;
        stats
    }

    /// Asks the leader (this node, or whichever holds the lease) to rotate now; see
    /// [`crate::leader`] for what a forced rotation does.
    pub fn rotate_now(&self) -> Result<(), NodeError> {
        if self.shared.stopping() {
            return Err(NodeError::Stopped);
        }
        self.shared.rotate_local.store(true, Ordering::Release);
        Ok(())
    }

    /// This run's node id (random per start), as 32 hex characters.
    pub fn node_id_hex(&self) -> &str {
        &self.shared.node_hex
    }

    /// Stops the threads and waits for them (each is bounded by the Redis timeouts); the
    /// leader lease is released, every key and session erased.
    pub fn stop(self) {
        drop(self);
    }

    fn shutdown(&mut self) {
        self.shared.shutdown.store(true, Ordering::Release);
        self.queue = None;
        for handle in self.threads.drain(..) {
            // A thread's panic was caught and logged inside it; nothing is left to report.
            let _ = handle.join();
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// What the node derives from its PSK file and reads from the files the config names.
struct Secrets {
    keys: ClusterKeys,
    password: Option<Zeroizing<String>>,
    legacy_key: Option<LegacyKey>,
    ca_pem: Option<Vec<u8>>,
}

/// Reads the PSK file (erased after use) and derives everything the node needs from it.
fn load_secrets(config: &Config) -> Result<Secrets, NodeError> {
    let psk_file = config.psk_file.display().to_string();
    let psk_bytes = config
        .read_psk_file()
        .map_err(|err| NodeError::Psk(format!("{psk_file}: cannot read: {err}")))?;
    let psk = Psk::from_file_bytes(&psk_bytes)
        .map_err(|err| NodeError::Psk(format!("{psk_file}: {err:?}")))?;
    let keys = ClusterKeys::derive(&psk, &config.cluster_name).map_err(|err| {
        NodeError::Config(format!("{}: cluster name: {err:?}", config.path.display()))
    })?;
    let password = redis_password(config, &psk, &psk_bytes)?;
    let legacy_key = match config.legacy {
        LegacyMode::Off => None,
        LegacyMode::Accept | LegacyMode::Both => Some(
            LegacyPskFile::parse(&psk_bytes)
                .map_err(|err| NodeError::Psk(format!("{psk_file}: legacy protocol: {err:?}")))?
                .key(),
        ),
    };
    let ca_pem = match &config.redis_ca_file {
        Some(path) => Some(
            crate::config::read_regular_file(path, crate::config::CA_FILE_MAX_BYTES).map_err(
                |err| {
                    let file = config.path.display();
                    NodeError::Config(format!("{file}: CA file {}: {err}", path.display()))
                },
            )?,
        ),
        None => None,
    };
    Ok(Secrets {
        keys,
        password,
        legacy_key,
        ca_pem,
    })
}

/// The rotation settings of the config, checked against the keyring capacity.
fn rotation_settings(config: &Config) -> Result<Settings, NodeError> {
    let settings = Settings {
        interval_secs: config.rotation_interval.as_secs(),
        lead_secs: config.lead_time.as_secs(),
        ticket_lifetime_secs: config.ticket_lifetime.as_secs(),
    };
    settings.validate().map_err(|err| {
        let file = config.path.display();
        NodeError::Config(format!("{file}: rotation settings: {err:?}"))
    })?;
    Ok(settings)
}

/// The node's start key: active now, alive as long as a key of the schedule would be.
fn start_key(settings: &Settings, now: u64) -> KeyEntry {
    let lifetime = settings.interval_secs + settings.ticket_lifetime_secs + settings.lead_secs;
    KeyEntry {
        epoch: 0,
        times: KeyTimes {
            introduce_at: now,
            activate_at: now,
            expire_at: now + lifetime,
        },
        stek: Stek::generate(&mut OsRng),
    }
}

type EndpointParts = (
    Vec<EndpointState>,
    Vec<Receiver<Arc<Outgoing>>>,
    Vec<Receiver<ControlCmd>>,
);

/// The shared state of each endpoint, with the receiving ends of its two queues.
fn endpoint_states(config: &Config) -> EndpointParts {
    let mut parts: EndpointParts = (Vec::new(), Vec::new(), Vec::new());
    for ep in &config.endpoints {
        let (send_tx, send_rx) = sync_channel(config.publish_queue_capacity.max(1));
        let (control_tx, control_rx) = channel();
        parts.0.push(EndpointState {
            label: endpoint_label(&ep.host, ep.port),
            subscribed: AtomicBool::new(false),
            control_up: AtomicBool::new(false),
            lease_until_ms: Default::default(),
            keyring_read_once: AtomicBool::new(false),
            refresh: AtomicBool::new(false),
            send_queue: send_tx,
            control: Mutex::new(control_tx),
        });
        parts.1.push(send_rx);
        parts.2.push(control_rx);
    }
    parts
}

/// The Redis password the config asks for (never logged).
fn redis_password(
    config: &Config,
    psk: &Psk,
    psk_bytes: &[u8],
) -> Result<Option<Zeroizing<String>>, NodeError> {
    let as_text = |bytes: &[u8], what: &str| -> Result<Zeroizing<String>, NodeError> {
        let trimmed = trim_newlines(bytes);
        std::str::from_utf8(trimmed)
            .map(|s| Zeroizing::new(s.to_owned()))
            .map_err(|_| {
                NodeError::Psk(format!(
                    "{what} is not UTF-8 text and cannot be sent as a Redis password"
                ))
            })
    };
    match &config.redis_password {
        RedisPassword::Derived => {
            let derived = keys::redis_password(psk, &config.cluster_name)
                .map_err(|err| NodeError::Psk(format!("Redis password: {err:?}")))?;
            let derived = Zeroizing::new(derived);
            as_text(&derived[..], "the derived password").map(Some)
        }
        RedisPassword::Psk => as_text(psk_bytes, "the PSK").map(Some),
        RedisPassword::File(path) => {
            let bytes = crate::config::read_secret_file(path).map_err(|err| {
                NodeError::Config(format!("Redis password file {}: {err}", path.display()))
            })?;
            as_text(&bytes, "the Redis password file").map(Some)
        }
        RedisPassword::None => Ok(None),
    }
}

/// The bytes without trailing `\n` and `\r\n`.
fn trim_newlines(mut bytes: &[u8]) -> &[u8] {
    while let Some(rest) = bytes.strip_suffix(b"\n") {
        bytes = rest.strip_suffix(b"\r").unwrap_or(rest);
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailing_newlines_are_trimmed_from_passwords() {
        assert_eq!(trim_newlines(b"secret\n"), b"secret");
        assert_eq!(trim_newlines(b"secret\r\n\n"), b"secret");
        assert_eq!(trim_newlines(b"sec\nret"), b"sec\nret");
    }
}
