//! A running node.
//!
//! CONTRACT (skeleton): the caller's thread (an ATS net thread) only calls `publish` (copy into
//! a bounded queue, never blocks), `lookup` (a map read), `stats` (atomic loads) and
//! `rotate_now` (sets a flag). `start` spawns the node's threads and returns before any Redis
//! endpoint answers, with a local key already handed to `Host::install_keys`.

use std::sync::Arc;

use crate::config::Config;
use crate::stats::AtsreuseStats;

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

/// A running node. Dropping it stops it.
pub struct Node {
    _todo: (),
}

impl Node {
    /// Starts a node from a loaded config.
    pub fn start(_config: Config, _host: Arc<dyn Host>) -> Result<Node, NodeError> {
        todo!()
    }
    /// Queues a new session for the pod. Never blocks.
    pub fn publish(&self, _id: &[u8], _der: &[u8]) -> Result<(), NodeError> {
        todo!()
    }
    /// Copies the DER of a shared session into `out`; `Ok(None)` when unknown or expired.
    pub fn lookup(&self, _id: &[u8], _out: &mut [u8]) -> Result<Option<usize>, NodeError> {
        todo!()
    }
    /// A snapshot of the counters and gauges.
    pub fn stats(&self) -> AtsreuseStats {
        todo!()
    }
    /// Asks the leader (this node, or whichever holds the lease) to rotate now.
    pub fn rotate_now(&self) -> Result<(), NodeError> {
        todo!()
    }
    /// Stops the threads and waits for them.
    pub fn stop(self) {}
}
