//! The leader thread: who rotates, the rotation itself, and time-driven key block updates.
//!
//! Leadership rule (several endpoints): every node tries to hold the lease
//! `atsreuse:{cluster}:leader` on every endpoint; a node leads when it holds the lease on the
//! first endpoint, in configured order, that its control connection reaches. Every node must
//! list the endpoints in the same order. When the first endpoint dies, the holder of the next
//! one leads; a released or expired lease is taken by another node within one lease time.
//! During a network split two nodes may lead at once; that is safe, because keyrings merge
//! (union by epoch and name) and every write is a compare-and-set on the epoch.
//!
//! Rotation: the leader follows `rotation::plan`. It builds a candidate keyring (the held one
//! plus the new key), stores it with the compare-and-set on every reachable endpoint, and only
//! adopts it when at least one endpoint stored it; otherwise it discards the candidate, reads
//! the keyring again, and asks the plan again after one poll interval.
//!
//! `rotate_now`: the leader introduces a key right away that activates after the lead time
//! (at once when the lead time is 0; then a ticket sealed with it may reach a node that has
//! not merged it yet for up to one poll interval, a full handshake for that client). A request
//! that arrives while a new key waits for its activation is ignored: that rotation is already
//! under way, and repeated requests cannot pile up keys. On a node that does not lead, the
//! request is published on the keyring channel for the leader, authenticated with a tag only
//! PSK holders can make (`dist::rotation_request`, also what `atsreuse rotate` sends) and good
//! for one minute. The leader acts on at most one remote request per
//! max(lead time, interval / 4): a copied request replayed within its minute, or a flood of
//! them, makes at most one rotation. The old plain `rotate` notice is ignored.
//!
//! A keyring with no usable key: when every held key has expired (say Redis was away longer
//! than a key lives and came back empty), the leader founds the pod keyring again, with its
//! start key while that is still alive, else with a fresh key active at once (the core's plan
//! for an empty keyring), at an epoch above every one seen. Until then a node with no key
//! that can encrypt logs a warning; ATS keeps the last block it was given.
//!
//! A new key always goes in through `rotation::apply` (a merge): a full keyring drops its
//! oldest key instead of refusing the new one.

use std::sync::atomic::Ordering;
use std::sync::mpsc::sync_channel;
use std::sync::Arc;
use std::time::{Duration, Instant};

use atsreuse_core::keyring::{KeyTimes, Keyring};
use atsreuse_core::rotation::{self, Plan};
use rand::rngs::OsRng;
use zeroize::Zeroizing;

use crate::clock::unix_now;
use crate::dist::keystore::seal_keyring;
use crate::dist::legacy;
use crate::dist::{ControlCmd, Shared, TICK};
use crate::node::LogLevel;
use crate::stats::{bump, set};

struct Leader {
    was_leader: bool,
    /// Legacy `both`: the key last published in the old format.
    legacy_published: Option<Zeroizing<Vec<u8>>>,
    /// After a failed store, no new candidate before this.
    next_try: Instant,
    /// A local `rotate_now` forwarded to the leader: since when, and the epoch then.
    forwarding: Option<(Instant, u64)>,
    last_forward: Option<Instant>,
    /// When a remote rotation request was last acted on.
    last_remote: Option<Instant>,
    /// Whether the last tick found no key that can encrypt (warned once per episode).
    unusable: bool,
}

/// Runs until shutdown.
pub(crate) fn run_leader(shared: &Shared) {
    let mut state = Leader {
        was_leader: false,
        legacy_published: None,
        next_try: Instant::now(),
        forwarding: None,
        last_forward: None,
        last_remote: None,
        unusable: false,
    };
    while !shared.stopping() {
        let now = unix_now();
        shared.keystore.refresh(shared, now);
        update_gauges(shared);
        warn_unusable(shared, &mut state, now);
        let leading = is_leader(shared);
        if leading != state.was_leader {
            let what = if leading {
                "this node now leads rotation"
            } else {
                "this node no longer leads rotation"
            };
            shared.log(LogLevel::Info, format_args!("{what}"));
            state.was_leader = leading;
        }
        set(&shared.counters.is_leader, u64::from(leading));
        if leading {
            lead(shared, &mut state, now);
            publish_legacy_stek(shared, &mut state);
        } else {
            shared.legacy_resend.store(false, Ordering::Release);
            // A request heard while following is for whoever leads now, not for later.
            shared.rotate_remote.store(false, Ordering::Release);
            forward_rotation(shared, &mut state);
        }
        shared.sleep(TICK);
    }
}

/// Whether this node holds the lease on the first endpoint it reaches.
pub(crate) fn is_leader(shared: &Shared) -> bool {
    let now_ms = shared.now_ms();
    shared
        .endpoints
        .iter()
        .find(|e| e.control_up.load(Ordering::Acquire))
        .is_some_and(|e| e.holds_lease(now_ms))
}

fn update_gauges(shared: &Shared) {
    let connected = shared
        .endpoints
        .iter()
        .filter(|e| e.control_up.load(Ordering::Acquire) && e.subscribed.load(Ordering::Acquire))
        .count();
    set(&shared.counters.redis_connected, connected as u64);
}

fn lead(shared: &Shared, state: &mut Leader, now: u64) {
    // Decide only after every reachable endpoint's stored keyring was read once, so a
    // restarted leader never founds a keyring while the pod already has one.
    let read_all = shared
        .endpoints
        .iter()
        .filter(|e| e.control_up.load(Ordering::Acquire))
        .all(|e| e.keyring_read_once.load(Ordering::Acquire));
    if !read_all || Instant::now() < state.next_try {
        return;
    }
    let held = shared.keystore.candidate();
    if held.entries().iter().all(|e| e.times.expire_at <= now) {
        // Empty, or every key expired: nothing can encrypt, found the keyring again.
        found(shared, state, now);
        return;
    }
    let plan = rotation::plan(&shared.settings, &held, now);
    let local = shared.rotate_local.swap(false, Ordering::AcqRel);
    let remote = remote_request(shared, state);
    let forced = local || remote;
    let next_epoch = shared.keystore.max_epoch_seen().max(held.epoch()) + 1;
    let introduce = match plan.introduce {
        Some((epoch, times)) => Some((epoch.max(next_epoch), times)),
        None if forced => forced_times(shared, &held, now).map(|times| (next_epoch, times)),
        None => None,
    };
    if let Some((epoch, times)) = introduce {
        // Only a request that made a key uses up the remote allowance: one ignored because
        // a key was already waiting to activate does not hold the next one back. A local
        // request uses it up too: a node that became leader while forwarding its own request
        // hears that request again a moment later, and one request must make one key.
        if forced && plan.introduce.is_none() {
            state.last_remote = Some(Instant::now());
        }
        rotate(shared, state, held, epoch, times, now);
    }
}

/// Shortest time between two remote rotation requests the leader acts on.
fn remote_request_every(shared: &Shared) -> Duration {
    let settings = &shared.settings;
    Duration::from_secs(settings.lead_secs.max(settings.interval_secs / 4))
}

/// Whether a remote rotation request is pending and may be acted on now. Requests within
/// [`remote_request_every`] of the last one that made a key are dropped: even an authenticated
/// request can be replayed for its minute by anyone who saw it on Redis.
fn remote_request(shared: &Shared, state: &Leader) -> bool {
    if !shared.rotate_remote.swap(false, Ordering::AcqRel) {
        return false;
    }
    let every = remote_request_every(shared);
    if state.last_remote.is_some_and(|at| at.elapsed() < every) {
        // Logged as a rejection: at most one line per 10 s however many requests come.
        shared.note_rejected("rotation request over the rate limit");
        return false;
    }
    true
}

/// Warns once when this node has no key that can encrypt, and says when it has one again.
fn warn_unusable(shared: &Shared, state: &mut Leader, now: u64) {
    let unusable = !shared.keystore.has_usable_key(now);
    if unusable && !state.unusable {
        shared.log(
            LogLevel::Warn,
            format_args!(
                "no ticket key can encrypt (every key expired); ATS keeps its last keys until \
                 the leader founds a new keyring"
            ),
        );
    } else if !unusable && state.unusable {
        shared.log(LogLevel::Info, format_args!("a ticket key encrypts again"));
    }
    state.unusable = unusable;
}

/// The pod has no usable keyring: this node's start key becomes its first key if it is still
/// alive (it may have issued tickets already), else a fresh key active at once; either way at
/// an epoch above every one seen, so the stored keyring is replaced.
fn found(shared: &Shared, state: &mut Leader, now: u64) {
    let from_start_key = shared
        .keystore
        .founding_keyring(&shared.settings)
        .filter(|k| k.encrypting_at(now).is_some());
    let keyring = match from_start_key {
        Some(keyring) => keyring,
        None => {
            let mut fresh = Keyring::new();
            let empty = rotation::plan(&shared.settings, &fresh, now);
            let epoch = shared.keystore.max_epoch_seen() + 1;
            let plan = Plan {
                introduce: empty.introduce.map(|(_, times)| (epoch, times)),
                ..empty
            };
            rotation::apply(&plan, &mut fresh, now, &mut OsRng);
            fresh
        }
    };
    if store(shared, &keyring, now) {
        shared.log(
            LogLevel::Info,
            format_args!("founded the pod keyring, epoch {}", keyring.epoch()),
        );
    } else {
        state.next_try = Instant::now() + shared.config.keyring_poll_interval;
    }
}

/// The times of a forced key, or `None` while a key introduced earlier waits for its
/// activation (the rotation asked for is already under way).
fn forced_times(shared: &Shared, held: &Keyring, now: u64) -> Option<KeyTimes> {
    let pending = held
        .entries()
        .iter()
        .any(|e| e.times.introduce_at <= now && now < e.times.activate_at);
    if pending {
        shared.log(
            LogLevel::Info,
            format_args!("rotation request ignored: a new key is already waiting to activate"),
        );
        return None;
    }
    let lead = shared.settings.lead_secs;
    let activate_at = now + lead;
    Some(KeyTimes {
        introduce_at: now,
        activate_at,
        // As the core's schedule: one interval encrypting, then lead + ticket lifetime decrypting.
        expire_at: activate_at
            + shared.settings.interval_secs
            + shared.settings.ticket_lifetime_secs
            + lead,
    })
}

fn rotate(
    shared: &Shared,
    state: &mut Leader,
    mut candidate: Keyring,
    epoch: u64,
    times: KeyTimes,
    now: u64,
) {
    let plan = Plan {
        introduce: Some((epoch, times)),
        prune: true,
        next_check_at: now,
    };
    // Through a merge: a full keyring drops its oldest key to make room.
    rotation::apply(&plan, &mut candidate, now, &mut OsRng);
    if !candidate.entries().iter().any(|e| e.epoch == epoch) {
        shared.log(
            LogLevel::Error,
            format_args!("cannot add key epoch {epoch} to the keyring (its times are invalid)"),
        );
        state.next_try = Instant::now() + shared.config.keyring_poll_interval;
        return;
    }
    if store(shared, &candidate, now) {
        bump(&shared.counters.rotations);
        shared.log(
            LogLevel::Info,
            format_args!(
                "rotated: key epoch {epoch} introduced, activates at {}",
                times.activate_at
            ),
        );
    } else {
        // Another node stored a newer keyring: drop the candidate, read again, plan again.
        shared.log(
            LogLevel::Info,
            format_args!(
                "rotation to epoch {epoch} lost a compare-and-set; reading the keyring again"
            ),
        );
        for ep in &shared.endpoints {
            ep.refresh.store(true, Ordering::Release);
        }
        state.next_try = Instant::now() + shared.config.keyring_poll_interval;
    }
}

/// Stores a keyring on every reachable endpoint through its control thread; adopts it when at
/// least one stored it. Waits at most one connect and three IO timeouts.
fn store(shared: &Shared, keyring: &Keyring, now: u64) -> bool {
    let Some((epoch, blob)) = seal_keyring(shared, keyring, now) else {
        return false;
    };
    let blob = Arc::new(blob);
    let (reply, replies) = sync_channel(shared.endpoints.len().max(1));
    let mut asked = 0;
    for ep in shared
        .endpoints
        .iter()
        .filter(|e| e.control_up.load(Ordering::Acquire))
    {
        let cmd = ControlCmd::Write {
            epoch,
            blob: Arc::clone(&blob),
            reply: reply.clone(),
        };
        let sender = ep
            .control
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if sender.send(cmd).is_ok() {
            asked += 1;
        }
    }
    drop(reply);
    let deadline = Instant::now() + shared.config.connect_timeout + shared.config.io_timeout * 3;
    let mut stored = 0;
    for _ in 0..asked {
        let left = deadline.saturating_duration_since(Instant::now());
        match replies.recv_timeout(left) {
            Ok(true) => stored += 1,
            Ok(false) => {}
            Err(_) => break,
        }
    }
    if stored == 0 {
        return false;
    }
    shared.keystore.adopt(keyring, now);
    shared.keystore.refresh(shared, now);
    true
}

/// On a node that does not lead: publishes a local `rotate_now` request once a second until
/// the keyring epoch grows or two lease times pass.
fn forward_rotation(shared: &Shared, state: &mut Leader) {
    if !shared.rotate_local.load(Ordering::Acquire) {
        state.forwarding = None;
        return;
    }
    let epoch = shared.keystore.epoch();
    let (since, epoch_then) = *state.forwarding.get_or_insert((Instant::now(), epoch));
    if epoch > epoch_then || since.elapsed() > shared.config.lease_time * 2 {
        shared.rotate_local.store(false, Ordering::Release);
        state.forwarding = None;
        return;
    }
    if state
        .last_forward
        .map_or(true, |at| at.elapsed() >= Duration::from_secs(1))
    {
        for ep in &shared.endpoints {
            let sender = ep
                .control
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let _ = sender.send(ControlCmd::AskRotation);
        }
        state.last_forward = Some(Instant::now());
    }
}

/// Legacy `both`: publishes the encrypting key in the old format when it changed or an old
/// node asked for it, so old nodes encrypt with the pod's key.
fn publish_legacy_stek(shared: &Shared, state: &mut Leader) {
    let (true, Some(key)) = (shared.legacy_write, &shared.legacy_key) else {
        return;
    };
    let Some(first) = shared.keystore.installed_first_key() else {
        return;
    };
    let asked = shared.legacy_resend.swap(false, Ordering::AcqRel);
    let changed = state
        .legacy_published
        .as_ref()
        .map_or(true, |k| **k != *first);
    if !asked && !changed {
        return;
    }
    let Some((channel, payload)) = legacy::encode_stek(&shared.config.cluster_name, key, &first)
    else {
        return;
    };
    let payload = Arc::new(payload);
    for ep in &shared.endpoints {
        let cmd = ControlCmd::PublishLegacy {
            channel: channel.clone(),
            payload: Arc::clone(&payload),
        };
        let sender = ep
            .control
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let _ = sender.send(cmd);
    }
    state.legacy_published = Some(first);
}
