//! The control connection of one endpoint: stored keyring (read, compare-and-set write,
//! notice) and the leader lease. It has its own connection, so keyring writes never wait
//! behind session traffic.
//!
//! Redis layout: the keyring is a hash at `atsreuse:{cluster}:keyring` with fields `blob` (the
//! sealed keyring) and `epoch` (decimal, the writer's own sealed epoch). The `epoch` field is
//! informational only (for `atsreuse status` and people reading Redis): nothing the nodes
//! decide depends on it, because anyone who can write Redis can set it to anything.
//!
//! A write is a compare-and-set on the stored blob itself: the writer reads the stored blob,
//! opens it with the pod's keys, and writes only when that keyring is older than its own (or
//! absent, or does not open); the script then sets the new blob only if the stored one is
//! still byte for byte what the writer read. A blob that does not open (garbage, another PSK)
//! counts as no keyring for writing, so it cannot stop the pod rotating. The trade-off: a
//! node with a wrong PSK that leads overwrites the pod's keyring instead of being refused by
//! an epoch it cannot read. Accepted, because the pod's nodes keep their held keyrings (a
//! merge only ever adds), they log every stored keyring they cannot open, and anyone with
//! write access to Redis can delete the keyring anyway: Redis access protects availability,
//! the PSK protects the keys.

use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use redis::{Connection, RedisError, Script};

use super::conn::{Link, Recovery};
use super::keystore::{open_keyring, Received, Rejected};
use super::sessions::count_open_error;
use super::{ControlCmd, Shared, NOTICE_KEYRING, TICK};
use crate::clock::unix_now;
use crate::node::LogLevel;
use crate::stats::bump;

/// Stores the keyring only when the stored blob is still exactly the one the writer read.
/// KEYS[1] keyring hash; ARGV[1] `1` when the writer read a blob, `0` when there was none;
/// ARGV[2] the blob read (empty when none); ARGV[3] new epoch (informational); ARGV[4] new
/// sealed blob. Returns 1 when stored.
const CAS_KEYRING: &str = r"
local current = redis.call('HGET', KEYS[1], 'blob')
if ARGV[1] == '1' then
  if current ~= ARGV[2] then
    return 0
  end
elseif current then
  return 0
end
redis.call('HSET', KEYS[1], 'epoch', ARGV[3], 'blob', ARGV[4])
return 1
";

/// Renews the lease only for its holder. KEYS[1] lease; ARGV[1] node, ARGV[2] lease in ms.
const RENEW_LEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
";

/// Deletes the lease only for its holder. KEYS[1] lease; ARGV[1] node.
const RELEASE_LEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
";

struct Control<'s> {
    shared: &'s Shared,
    endpoint: usize,
    link: Link<'s>,
    cas: Script,
    renew: Script,
    release: Script,
    next_read: Instant,
    next_lease: Instant,
    /// The last stored blob that was refused, so one bad blob is counted and logged once, and
    /// its epoch when it was only old (so the repair write is still tried at every read).
    last_refused: Option<(Vec<u8>, Option<u64>)>,
}

/// Runs until shutdown; releases the lease on the way out.
pub(crate) fn run_control(shared: &Shared, endpoint: usize, commands: Receiver<ControlCmd>) {
    // A node not marked as preferred leaves the first lease attempt to one that is.
    let first_lease = if shared.config.prefer_leader {
        Instant::now()
    } else {
        Instant::now() + (shared.config.lease_time / 2).min(Duration::from_secs(2))
    };
    let mut control = Control {
        shared,
        endpoint,
        link: Link::new(shared, endpoint, "control"),
        cas: Script::new(CAS_KEYRING),
        renew: Script::new(RENEW_LEASE),
        release: Script::new(RELEASE_LEASE),
        next_read: Instant::now(),
        next_lease: first_lease,
        last_refused: None,
    };
    // The round comes first so the stored keyring is read at once: `Node::start` waits for it.
    while !shared.stopping() {
        control.round();
        match commands.recv_timeout(TICK) {
            Ok(cmd) => control.handle(cmd),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }
    control.release_lease();
    shared.endpoints[endpoint]
        .control_up
        .store(false, Ordering::Release);
}

impl Control<'_> {
    fn state(&self) -> &super::EndpointState {
        &self.shared.endpoints[self.endpoint]
    }

    fn handle(&mut self, cmd: ControlCmd) {
        match cmd {
            ControlCmd::Write { epoch, blob, reply } => {
                let stored = self.write(epoch, &blob);
                // The leader may have stopped waiting; a closed reply channel is fine.
                let _ = reply.try_send(stored);
            }
            ControlCmd::PublishLegacy { channel, payload } => {
                if let Some(con) = self.link.get() {
                    let sent = redis::cmd("PUBLISH")
                        .arg(channel)
                        .arg(payload.as_slice())
                        .query::<()>(con);
                    if let Err(err) = sent {
                        self.failure(&err, "legacy STEK");
                    }
                }
            }
            ControlCmd::AskRotation => {
                let channel = self.shared.names.keyring_channel.clone();
                let request = super::rotation_request(&self.shared.keys, unix_now());
                if let Some(con) = self.link.get() {
                    let sent = redis::cmd("PUBLISH")
                        .arg(channel)
                        .arg(request)
                        .query::<()>(con);
                    if let Err(err) = sent {
                        self.failure(&err, "rotation request");
                    }
                }
            }
        }
    }

    /// One round: connect if due, read the keyring when due or noticed, tend the lease.
    fn round(&mut self) {
        let was_up = self.link.is_connected();
        let up = self.link.get().is_some();
        self.state().control_up.store(up, Ordering::Release);
        if !up {
            // At the first round this is the first connect attempt failing: the start wait
            // need not wait for this endpoint's retries (later calls change nothing).
            self.shared.start_gate.failed(self.endpoint);
            if was_up {
                self.state().lease_until_ms.store(0, Ordering::Release);
            }
            return;
        }
        let noticed = self.state().refresh.swap(false, Ordering::AcqRel);
        if noticed || Instant::now() >= self.next_read {
            self.read();
            self.next_read = Instant::now() + self.shared.config.keyring_poll_interval;
        }
        if Instant::now() >= self.next_lease {
            self.tend_lease();
        }
    }

    fn failure(&mut self, err: &RedisError, doing: &str) {
        if self.link.failed(err, doing) == Recovery::Reconnect {
            self.state().control_up.store(false, Ordering::Release);
            self.state().lease_until_ms.store(0, Ordering::Release);
        }
    }

    /// Reads the stored keyring, merges it, and stores the held one back when Redis has none
    /// or an older one (a Redis restarted empty gets the pod's keyring back).
    fn read(&mut self) {
        let key = self.shared.names.keyring_key.clone();
        let Some(con) = self.link.get() else { return };
        let fetched = redis::cmd("HGET")
            .arg(&key)
            .arg("blob")
            .query::<Option<Vec<u8>>>(con);
        let blob = match fetched {
            Ok(blob) => blob,
            Err(err) => {
                self.shared.start_gate.failed(self.endpoint);
                self.failure(&err, "keyring read");
                return;
            }
        };
        self.state()
            .keyring_read_once
            .store(true, Ordering::Release);
        let stored_epoch = match blob {
            None => Some(0),
            Some(blob) => self.take_stored(&blob),
        };
        // After the merge, so a start wait that ends here sees the merged keyring.
        self.shared.start_gate.answered(self.endpoint);
        let shared = self.shared;
        // A stored blob that does not open counts as none, but only the leader replaces it,
        // so that one node with a wrong PSK does not rewrite the pod's keyring at every read.
        let stored_epoch = match stored_epoch {
            Some(epoch) => epoch,
            None if crate::leader::is_leader(shared) => 0,
            None => return,
        };
        if shared.keystore.epoch() > stored_epoch {
            if let Some((epoch, sealed)) = shared.keystore.seal_held(shared, unix_now()) {
                if self.write(epoch, &sealed) {
                    shared.log(
                        LogLevel::Info,
                        format_args!(
                            "redis {}: stored keyring epoch {epoch} (it had {stored_epoch})",
                            self.link.label()
                        ),
                    );
                }
            }
        }
    }

    /// Opens and merges a stored blob; returns its epoch, or `None` when it was refused.
    fn take_stored(&mut self, blob: &[u8]) -> Option<u64> {
        if let Some((refused, old_epoch)) = &self.last_refused {
            if refused == blob {
                return *old_epoch;
            }
        }
        let shared = self.shared;
        let now = unix_now();
        match shared.keystore.receive(&shared.keys, blob, now) {
            Ok((received, epoch)) => {
                self.last_refused = None;
                if received == Received::Changed {
                    shared.keystore.refresh(shared, now);
                    shared.start_gate.merged();
                }
                Some(epoch)
            }
            Err(reason) => {
                self.refused(blob, reason);
                // An old keyring is overwritten by the held one (its epoch is older); an
                // unreadable one only by the leader (see `read`), because every node with a
                // wrong PSK would otherwise fight the pod over the key.
                match reason {
                    Rejected::OldEpoch(epoch) => Some(epoch),
                    Rejected::Open(_) | Rejected::Decode => None,
                }
            }
        }
    }

    fn refused(&mut self, blob: &[u8], reason: Rejected) {
        let shared = self.shared;
        match reason {
            Rejected::Open(err) => count_open_error(shared, err),
            Rejected::Decode => {
                bump(&shared.counters.rejected_malformed);
                shared.note_rejected("stored keyring that does not decode");
            }
            Rejected::OldEpoch(_) => {
                bump(&shared.counters.rejected_old_epoch);
                shared.note_rejected("stored keyring of an older epoch");
            }
        }
        shared.log(
            LogLevel::Warn,
            format_args!(
                "redis {}: stored keyring refused ({reason:?}); nothing installed",
                self.link.label()
            ),
        );
        let old_epoch = match reason {
            Rejected::OldEpoch(epoch) => Some(epoch),
            Rejected::Open(_) | Rejected::Decode => None,
        };
        self.last_refused = Some((blob.to_vec(), old_epoch));
    }

    /// Stores `blob` (a sealed keyring of `epoch`) unless the stored keyring is as new or
    /// newer; publishes a notice when stored. The stored blob is read and opened here, and the
    /// script writes only if it has not changed since (see the module docs). A refusal because
    /// the stored keyring is newer asks for a read, so the leader merges it before planning.
    fn write(&mut self, epoch: u64, blob: &[u8]) -> bool {
        let names = &self.shared.names;
        let (key, channel) = (names.keyring_key.clone(), names.keyring_channel.clone());
        let Some(con) = self.link.get() else {
            return false;
        };
        let read = redis::cmd("HGET")
            .arg(&key)
            .arg("blob")
            .query::<Option<Vec<u8>>>(con);
        let current = match read {
            Ok(current) => current,
            Err(err) => {
                self.failure(&err, "keyring read before write");
                return false;
            }
        };
        if let Some(current) = &current {
            if let Ok(stored) = open_keyring(&self.shared.keys, current) {
                if stored.epoch() >= epoch {
                    self.state().refresh.store(true, Ordering::Release);
                    return false;
                }
            }
        }
        let Some(con) = self.link.get() else {
            return false;
        };
        let (had, expected) = match &current {
            Some(bytes) => ("1", bytes.as_slice()),
            None => ("0", &[][..]),
        };
        let stored = self
            .cas
            .key(&key)
            .arg(had)
            .arg(expected)
            .arg(epoch)
            .arg(blob)
            .invoke::<i64>(con);
        match stored {
            Ok(1) => {
                bump(&self.shared.counters.keyring_writes);
                let notice = redis::cmd("PUBLISH")
                    .arg(&channel)
                    .arg(NOTICE_KEYRING)
                    .query::<()>(con);
                if let Err(err) = notice {
                    self.failure(&err, "keyring notice");
                }
                true
            }
            Ok(_) => {
                // Someone wrote between the read and the script: read again.
                self.state().refresh.store(true, Ordering::Release);
                false
            }
            Err(err) => {
                self.failure(&err, "keyring write");
                false
            }
        }
    }

    /// Takes the lease when free, renews it when held; renews every third of a lease.
    fn tend_lease(&mut self) {
        let shared = self.shared;
        let lease = shared.config.lease_time;
        let lease_ms = u64::try_from(lease.as_millis()).unwrap_or(u64::MAX).max(1);
        let key = shared.names.leader_key.clone();
        let sent_ms = shared.now_ms();
        let holding = self.state().holds_lease(sent_ms);
        let Some(con) = self.link.get() else { return };
        let result = if holding {
            self.renew
                .key(&key)
                .arg(&shared.node_hex)
                .arg(lease_ms)
                .invoke::<i64>(con)
                .map(|n| n == 1)
        } else {
            acquire(con, &key, &shared.node_hex, lease_ms)
        };
        self.next_lease = Instant::now() + lease / 3;
        match result {
            // Counted from when the request left, less a tenth, so this node stops acting as
            // leader before the lease can have expired on the server.
            Ok(true) => {
                let until = sent_ms + lease_ms - lease_ms / 10;
                self.state().lease_until_ms.store(until, Ordering::Release);
            }
            Ok(false) => {
                if holding {
                    shared.log(
                        LogLevel::Info,
                        format_args!("redis {}: lease lost", self.link.label()),
                    );
                }
                self.state().lease_until_ms.store(0, Ordering::Release);
                // Not holding: try again soon, so a released lease is taken quickly.
                self.next_lease = Instant::now() + (lease / 10).max(TICK);
            }
            Err(err) => {
                self.state().lease_until_ms.store(0, Ordering::Release);
                self.failure(&err, "lease");
            }
        }
    }

    /// Gives the lease back at stop, so another node takes it at once.
    fn release_lease(&mut self) {
        let shared = self.shared;
        if !self.state().holds_lease(shared.now_ms()) {
            return;
        }
        self.state().lease_until_ms.store(0, Ordering::Release);
        let key = shared.names.leader_key.clone();
        if let Some(con) = self.link.get() {
            let _ = self
                .release
                .key(&key)
                .arg(&shared.node_hex)
                .invoke::<i64>(con);
        }
    }
}

/// `SET key node NX PX lease`: whether the lease was taken.
fn acquire(con: &mut Connection, key: &str, node: &str, lease_ms: u64) -> Result<bool, RedisError> {
    let reply: Option<String> = redis::cmd("SET")
        .arg(key)
        .arg(node)
        .arg("NX")
        .arg("PX")
        .arg(lease_ms)
        .query(con)?;
    Ok(reply.is_some())
}
