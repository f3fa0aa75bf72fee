//! The subscriber of one endpoint: sessions and keyring notices.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use redis::{Connection, Msg, RedisError};

use super::conn::Link;
use super::sessions::receive_session;
use super::BadRequest;
use super::{check_rotation_request, Shared, NOTICE_KEYRING, NOTICE_ROTATE_PLAIN, TICK};
use crate::clock::unix_now;
use crate::node::LogLevel;
use crate::stats::bump;

/// Longest the subscription stays silent before a PING checks that the server still answers.
const IDLE_PING: Duration = Duration::from_secs(3);

/// Runs until shutdown: (re)connects, subscribes to both channels, handles each message.
pub(crate) fn run_subscriber(shared: &Shared, endpoint: usize) {
    let mut link = Link::new(shared, endpoint, "subscriber");
    let state = &shared.endpoints[endpoint];
    while !shared.stopping() {
        let Some(mut con) = link.take() else {
            shared.sleep(link.wait_left().max(Duration::from_millis(10)));
            continue;
        };
        let result = listen(shared, endpoint, &mut con);
        state.subscribed.store(false, Ordering::Release);
        match result {
            Ok(()) => link.put_back(con),
            Err((err, doing)) => {
                // The pub/sub handle was dropped inside `listen`; the connection goes too.
                drop(con);
                link.lost(&err, doing);
            }
        }
    }
}

/// Subscribes and handles messages until shutdown (`Ok`) or an error.
fn listen(
    shared: &Shared,
    endpoint: usize,
    con: &mut Connection,
) -> Result<(), (RedisError, &'static str)> {
    let state = &shared.endpoints[endpoint];
    let names = &shared.names;
    let mut pubsub = con.as_pubsub();
    pubsub
        .subscribe(&[names.sessions.as_str(), names.keyring_channel.as_str()])
        .map_err(|e| (e, "SUBSCRIBE"))?;
    if shared.legacy_key.is_some() {
        let pattern = super::legacy::pattern(&shared.config.cluster_name);
        pubsub.psubscribe(pattern).map_err(|e| (e, "PSUBSCRIBE"))?;
    }
    // Short reads so the shutdown flag is seen within a tick; a timed-out read loses nothing
    // (the client keeps a partly read reply for the next call).
    pubsub
        .set_read_timeout(Some(TICK))
        .map_err(|e| (e, "SUBSCRIBE"))?;
    state.subscribed.store(true, Ordering::Release);
    // Notices sent while this node was not subscribed are lost: read the keyring again.
    state.refresh.store(true, Ordering::Release);
    let mut last_heard = Instant::now();
    while !shared.stopping() {
        match pubsub.get_message() {
            Ok(msg) => {
                handle(shared, endpoint, &msg);
                last_heard = Instant::now();
            }
            Err(err) if err.is_timeout() => {
                if last_heard.elapsed() >= IDLE_PING {
                    pubsub
                        .set_read_timeout(Some(shared.config.io_timeout))
                        .map_err(|e| (e, "PING"))?;
                    pubsub.ping::<()>().map_err(|e| (e, "PING"))?;
                    pubsub
                        .set_read_timeout(Some(TICK))
                        .map_err(|e| (e, "PING"))?;
                    last_heard = Instant::now();
                }
            }
            Err(err) => return Err((err, "receive")),
        }
    }
    Ok(())
}

fn handle(shared: &Shared, endpoint: usize, msg: &Msg) {
    let channel = msg.get_channel_name();
    let payload = msg.get_payload_bytes();
    if msg.from_pattern() {
        if let Some(key) = &shared.legacy_key {
            super::legacy::receive(shared, key, channel, payload);
        }
    } else if channel == shared.names.sessions {
        receive_session(shared, payload);
    } else if channel == shared.names.keyring_channel {
        if payload == NOTICE_KEYRING {
            shared.endpoints[endpoint]
                .refresh
                .store(true, Ordering::Release);
        } else if payload == NOTICE_ROTATE_PLAIN {
            // The old request carries no proof of the PSK: anyone with Redis access could
            // send it, so it asks for nothing.
            shared.note_rejected("unauthenticated rotation request");
        } else if payload.starts_with(b"rotate:") {
            match check_rotation_request(&shared.keys, payload, unix_now()) {
                Ok(()) => {
                    shared.rotate_remote.store(true, Ordering::Release);
                    shared.log(
                        LogLevel::Debug,
                        format_args!("authenticated rotation request received"),
                    );
                }
                Err(why) => {
                    let (counter, reason) = match why {
                        BadRequest::Malformed => (
                            &shared.counters.rejected_malformed,
                            "malformed rotation request",
                        ),
                        BadRequest::BadTag => (
                            &shared.counters.rejected_bad_tag,
                            "rotation request with a bad tag",
                        ),
                        BadRequest::Stale => {
                            (&shared.counters.rejected_stale, "stale rotation request")
                        }
                    };
                    bump(counter);
                    shared.note_rejected(reason);
                }
            }
        }
    }
}
