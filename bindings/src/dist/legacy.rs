//! The old plugin's wire format (`ssl_session_reuse`, ATS 9.x), for a rolling migration.
//!
//! - `accept`: every node also listens on `<ClusterName>.*`. Old sessions go into the session
//!   map; old STEKs are added to the key block as decrypt-only keys (the two most recent), so
//!   tickets and sessions of old nodes still resume on new ones. An old STEK never encrypts:
//!   that format has no MAC, so a forged or bit-flipped one must not become the pod's key; the
//!   worst it can do here is sit in the block as a key no ticket matches, or push a real old
//!   key out of its slot. Legacy mode trusts anyone who can publish to Redis that far: at most
//!   one new old STEK is taken per minute (`LEGACY_ADD_EVERY_SECS`), each logged at info with
//!   its key name.
//! - `both`: additionally, each new session is published in the old format, and the leader
//!   publishes the pod's encrypting key as an old STEK message whenever it changes and when an
//!   old node asks (`@resendstek@`), so old nodes resume what new nodes issue. An old node
//!   that still rotates (`STEKMaster=1`) makes the old nodes follow its key instead, while new
//!   nodes only decrypt with it: give that role to a new node during the migration.

use atsreuse_core::legacy::{self, LegacyKey, STEK_LEN};
use atsreuse_core::session::{DER_MAX_LEN, ID_MAX_LEN};
use std::sync::atomic::Ordering;
use zeroize::Zeroizing;

use super::keystore::LegacyAdded;
use super::Shared;
use crate::clock::unix_now;
use crate::map::SessionId;
use crate::node::LogLevel;
use crate::stats::{bump, set};

/// Channel suffix of STEK messages.
pub(crate) const STEK_SUFFIX: &str = "@stek@";
/// Channel suffix of STEK resend requests.
pub(crate) const RESEND_SUFFIX: &str = "@resendstek@";

/// The subscribe pattern of the old plugin: every channel under the cluster name.
pub(crate) fn pattern(cluster: &str) -> String {
    format!("{cluster}.*")
}

/// Handles one message received on the legacy pattern. Every failure is counted in
/// `legacy_rejected`; nothing received here can encrypt a ticket.
pub(crate) fn receive(shared: &Shared, key: &LegacyKey, channel: &str, payload: &[u8]) {
    let prefix_len = shared.config.cluster_name.len() + 1;
    let suffix = channel.get(prefix_len..).unwrap_or("");
    let taken = match suffix {
        STEK_SUFFIX => receive_stek(shared, key, payload),
        RESEND_SUFFIX => {
            shared.legacy_resend.store(true, Ordering::Release);
            true
        }
        _ => receive_session(shared, key, suffix, payload),
    };
    let counter = if taken {
        &shared.counters.legacy_received
    } else {
        shared.note_rejected("old-format message refused");
        &shared.counters.legacy_rejected
    };
    bump(counter);
}

fn receive_stek(shared: &Shared, key: &LegacyKey, payload: &[u8]) -> bool {
    let mut stek = Zeroizing::new([0u8; STEK_LEN]);
    if legacy::decode_stek(key, payload, &mut stek).is_err() {
        return false;
    }
    let now = unix_now();
    let name = super::hex(&stek[..16]);
    match shared.keystore.add_legacy(stek, now) {
        LegacyAdded::Known => true,
        LegacyAdded::Added => {
            // Logged at info: the old format is unauthenticated, so every key taken from it
            // must be visible to the operator.
            shared.log(
                LogLevel::Info,
                format_args!("took an old-format ticket key {name} (decrypt only)"),
            );
            shared.keystore.refresh(shared, now);
            true
        }
        LegacyAdded::Limited => false,
    }
}

fn receive_session(shared: &Shared, key: &LegacyKey, suffix: &str, payload: &[u8]) -> bool {
    let mut id = [0u8; ID_MAX_LEN];
    let Ok(id_len) = legacy::decode_session_id(suffix.as_bytes(), &mut id) else {
        return false;
    };
    if payload.len() > legacy::session_payload_len(DER_MAX_LEN) {
        return false;
    }
    let Some(id) = SessionId::new(&id[..id_len]) else {
        return false;
    };
    let mut plain = Zeroizing::new(vec![0u8; payload.len() / 4 * 3 + 3]);
    let Ok(der) = legacy::decode_session(key, payload, &mut plain) else {
        return false;
    };
    if der.is_empty() || der.len() > DER_MAX_LEN {
        return false;
    }
    let now = unix_now();
    // The old format carries no expiry: this node's session lifetime applies.
    shared.map.insert(
        &id,
        der,
        now + shared.config.session_lifetime.as_secs(),
        now,
    );
    set(&shared.counters.session_map_len, shared.map.len() as u64);
    true
}

/// The channel and payload of a session in the old format, or `None` if it cannot be encoded.
pub(crate) fn encode_session(
    cluster: &str,
    key: &LegacyKey,
    id: &[u8],
    der: &[u8],
) -> Option<(String, Vec<u8>)> {
    let mut suffix = [0u8; legacy::SESSION_ID_SUFFIX_MAX_LEN];
    let suffix_len = legacy::encode_session_id(id, &mut suffix).ok()?;
    let suffix = std::str::from_utf8(&suffix[..suffix_len]).ok()?;
    let mut payload = vec![0u8; legacy::session_payload_len(der.len())];
    let len = legacy::encode_session(key, der, &mut payload).ok()?;
    payload.truncate(len);
    Some((format!("{cluster}.{suffix}"), payload))
}

/// The channel and payload of a STEK message for the first key of an ATS block.
pub(crate) fn encode_stek(
    cluster: &str,
    key: &LegacyKey,
    block: &[u8],
) -> Option<(String, Vec<u8>)> {
    let first: &[u8; STEK_LEN] = block.get(..STEK_LEN)?.try_into().ok()?;
    let payload = legacy::encode_stek(key, first);
    Some((format!("{cluster}.{STEK_SUFFIX}"), payload.to_vec()))
}
