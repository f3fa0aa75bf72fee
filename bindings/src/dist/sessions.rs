//! Sessions: sealing what the caller queued, publishing it, opening what others sent.

use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError, TrySendError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use atsreuse_core::envelope::{self, Freshness, Kind, OpenError, Sealer, HEADER_LEN, OVERHEAD};
use atsreuse_core::session::{SessionRecord, RECORD_MAX_LEN};
use zeroize::Zeroizing;

use super::conn::Link;
use super::{legacy, Outgoing, Shared, TICK};
use crate::clock::unix_now;
use crate::map::SessionId;
use crate::node::LogLevel;
use crate::stats::{bump, set};

/// Oldest session message accepted, in seconds: delivery takes milliseconds, the rest is
/// room for clock differences between nodes.
pub(crate) const SESSION_MAX_AGE_SECS: u64 = 60;
/// Furthest a session message may come from the future, in seconds (clock differences).
pub(crate) const SESSION_MAX_FUTURE_SECS: u64 = 10;
/// Most sealed sessions sent in one pipeline.
const PUBLISH_BATCH: usize = 64;
/// Longest a publisher stays silent before it sends a PING (a liveness check).
const IDLE_PING: Duration = Duration::from_secs(5);
/// Byte offset of the sender node id in an envelope header (after version and kind).
const SENDER_AT: usize = 2;

/// A session queued by `publish`, waiting for the sealer. The DER is erased on drop.
pub(crate) struct Pending {
    pub id: SessionId,
    pub der: Zeroizing<Vec<u8>>,
}

/// The sealer thread: seals each queued session and hands the envelope to every endpoint's
/// publisher. A full endpoint queue drops the envelope for that endpoint only. Also sweeps
/// expired sessions from the map once a second.
pub(crate) fn run_sealer(shared: &Shared, queue: Receiver<Pending>) {
    let mut sealer = Sealer::new(shared.node_id);
    let mut plain = Zeroizing::new(vec![0u8; RECORD_MAX_LEN]);
    let mut last_sweep = Instant::now();
    while !shared.stopping() {
        match queue.recv_timeout(TICK) {
            Ok(pending) => seal_and_fan_out(shared, &mut sealer, &pending, &mut plain),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        if last_sweep.elapsed() >= Duration::from_secs(1) {
            shared.map.sweep(unix_now());
            set(&shared.counters.session_map_len, shared.map.len() as u64);
            last_sweep = Instant::now();
        }
    }
}

fn seal_and_fan_out(shared: &Shared, sealer: &mut Sealer, pending: &Pending, plain: &mut [u8]) {
    let now = unix_now();
    let record = SessionRecord {
        id: pending.id.as_slice(),
        der: &pending.der,
        expires_at: now + shared.config.session_lifetime.as_secs(),
    };
    let Ok(len) = record.encode(plain) else {
        // publish() checked both lengths, so this cannot happen; count it as a drop.
        bump(&shared.counters.sessions_dropped);
        return;
    };
    let mut out = vec![0u8; len + OVERHEAD];
    match sealer.seal(&shared.keys, Kind::Session, now, &plain[..len], &mut out) {
        Ok(n) => out.truncate(n),
        Err(err) => {
            bump(&shared.counters.sessions_dropped);
            shared.log(
                LogLevel::Error,
                format_args!("cannot seal a session: {err:?}"),
            );
            return;
        }
    }
    fan_out(
        shared,
        Outgoing {
            channel: None,
            payload: out,
        },
    );
    if let (true, Some(key)) = (shared.legacy_write, &shared.legacy_key) {
        let cluster = &shared.config.cluster_name;
        if let Some((channel, payload)) =
            legacy::encode_session(cluster, key, pending.id.as_slice(), &pending.der)
        {
            fan_out(
                shared,
                Outgoing {
                    channel: Some(channel),
                    payload,
                },
            );
        }
    }
}

/// Hands one message to every endpoint's publisher; a full queue drops it for that endpoint.
fn fan_out(shared: &Shared, message: Outgoing) {
    let message = Arc::new(message);
    for ep in &shared.endpoints {
        match ep.send_queue.try_send(Arc::clone(&message)) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => bump(&shared.counters.endpoint_queue_dropped),
            Err(TrySendError::Disconnected(_)) => {}
        }
    }
}

/// The publisher of one endpoint: sends sealed sessions in pipelines of up to
/// [`PUBLISH_BATCH`]. While the endpoint is down, what arrives is dropped and counted.
pub(crate) fn run_publisher(shared: &Shared, endpoint: usize, queue: Receiver<Arc<Outgoing>>) {
    let mut link = Link::new(shared, endpoint, "publisher");
    let channel = shared.names.sessions.as_str();
    let mut last_sent = Instant::now();
    while !shared.stopping() {
        let first = match queue.recv_timeout(TICK) {
            Ok(first) => first,
            Err(RecvTimeoutError::Timeout) => {
                if last_sent.elapsed() >= IDLE_PING {
                    ping(&mut link);
                    last_sent = Instant::now();
                }
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => break,
        };
        let mut batch = vec![first];
        while batch.len() < PUBLISH_BATCH {
            match queue.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let Some(con) = link.get() else {
            shared
                .counters
                .endpoint_queue_dropped
                .fetch_add(batch.len() as u64, Ordering::Relaxed);
            continue;
        };
        let mut pipe = redis::pipe();
        for message in &batch {
            let to = message.channel.as_deref().unwrap_or(channel);
            pipe.cmd("PUBLISH")
                .arg(to)
                .arg(message.payload.as_slice())
                .ignore();
        }
        if let Err(err) = pipe.query::<()>(con) {
            link.failed(&err, "PUBLISH");
        }
        last_sent = Instant::now();
    }
}

fn ping(link: &mut Link<'_>) {
    if !link.is_connected() {
        link.get();
        return;
    }
    if let Some(con) = link.get() {
        if let Err(err) = redis::cmd("PING").query::<()>(con) {
            link.failed(&err, "PING");
        }
    }
}

/// Opens a session message from the pod and stores it. Own messages are ignored; every
/// rejection is counted by reason. Runs on a subscriber thread.
pub(crate) fn receive_session(shared: &Shared, payload: &[u8]) {
    let counters = &shared.counters;
    if payload.len() < OVERHEAD || payload.len() > RECORD_MAX_LEN + OVERHEAD {
        bump(&counters.rejected_malformed);
        shared.note_rejected("session message of a wrong length");
        return;
    }
    if payload.len() >= HEADER_LEN && payload[SENDER_AT..SENDER_AT + 16] == shared.node_id.0 {
        bump(&counters.ignored_own);
        return;
    }
    let now = unix_now();
    let freshness = Freshness {
        now,
        max_age_secs: SESSION_MAX_AGE_SECS,
        max_future_secs: SESSION_MAX_FUTURE_SECS,
    };
    let mut plain = Zeroizing::new(vec![0u8; RECORD_MAX_LEN]);
    let body = match envelope::open(
        &shared.keys,
        Kind::Session,
        payload,
        Some(freshness),
        &mut plain,
    ) {
        Ok((_, body)) => body,
        Err(err) => {
            count_open_error(shared, err);
            return;
        }
    };
    let Ok(record) = SessionRecord::decode(body) else {
        bump(&counters.rejected_malformed);
        shared.note_rejected("session record that does not decode");
        return;
    };
    let Some(id) = SessionId::new(record.id) else {
        bump(&counters.rejected_malformed);
        shared.note_rejected("session record with a bad session id");
        return;
    };
    // The sender's expiry, capped by this node's own session lifetime.
    let expires_at = record
        .expires_at
        .min(now + shared.config.session_lifetime.as_secs());
    if shared.map.insert(&id, record.der, expires_at, now) {
        bump(&counters.sessions_received);
    }
    set(&counters.session_map_len, shared.map.len() as u64);
}

/// Counts a failed open under its reason.
pub(crate) fn count_open_error(shared: &Shared, err: OpenError) {
    let counters = &shared.counters;
    let (counter, reason) = match err {
        OpenError::BadTag => (&counters.rejected_bad_tag, "envelope with a bad tag"),
        OpenError::TooOld | OpenError::FromFuture => (
            &counters.rejected_stale,
            "envelope too old or from the future",
        ),
        OpenError::Malformed
        | OpenError::UnknownVersion
        | OpenError::WrongKind
        | OpenError::BufferTooSmall => (&counters.rejected_malformed, "malformed envelope"),
        // A reason added to the core later: counted as malformed until it gets its own counter.
        _ => (&counters.rejected_malformed, "malformed envelope"),
    };
    bump(counter);
    shared.note_rejected(reason);
}
