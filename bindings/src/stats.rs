//! Counters and gauges of a node, readable from any thread without locks.
//!
//! [`AtsreuseStats`] is `#[repr(C)]` and is what `atsreuse_node_stats` copies out. Fields are
//! only appended, never reordered (the C header pins the order). [`Counters`] is the live,
//! atomic twin a node updates; [`Counters::snapshot`] copies it into an [`AtsreuseStats`].

use std::sync::atomic::{AtomicU64, Ordering};

/// A snapshot of a node's counters (monotonic) and gauges (current values).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AtsreuseStats {
    /// Sessions accepted by `publish`.
    pub sessions_published: u64,
    /// Sessions dropped because the publish queue was full.
    pub sessions_dropped: u64,
    /// Session records received from the pod and stored.
    pub sessions_received: u64,
    /// Lookups that found a session.
    pub lookups_hit: u64,
    /// Lookups that found nothing.
    pub lookups_miss: u64,
    /// Messages rejected: malformed, unknown version or kind.
    pub rejected_malformed: u64,
    /// Messages rejected: authentication failed (tampered, other cluster, wrong PSK).
    pub rejected_bad_tag: u64,
    /// Messages rejected: too old or from the future.
    pub rejected_stale: u64,
    /// Keyrings rejected: epoch older than the one held.
    pub rejected_old_epoch: u64,
    /// Messages rejected: this node's own.
    pub ignored_own: u64,
    /// Keyrings installed (key block handed to the host).
    pub keyrings_installed: u64,
    /// Rotations this node made as leader.
    pub rotations: u64,
    /// Gauge: epoch of the keyring held.
    pub keyring_epoch: u64,
    /// Gauge: seconds since the encrypting key activated.
    pub keyring_age_secs: u64,
    /// Gauge: 1 when this node holds the rotation lease.
    pub is_leader: u64,
    /// Gauge: endpoints with a working connection.
    pub redis_connected: u64,
    /// Gauge: endpoints configured.
    pub redis_endpoints: u64,
    /// Gauge: sessions in the session map.
    pub session_map_len: u64,
    /// Sealed sessions not sent to one endpoint because its send queue was full (that endpoint
    /// is slow or down); counted once per endpoint.
    pub endpoint_queue_dropped: u64,
    /// Keyrings this node stored in Redis (compare-and-set won), counted per endpoint.
    pub keyring_writes: u64,
    /// Redis connections lost or refused, all endpoints and connection roles together.
    pub redis_failures: u64,
    /// Legacy (`ssl_session_reuse`) messages taken: sessions stored and STEKs accepted for
    /// decryption. Only with `atsreuse.legacy_protocol` accept or both.
    pub legacy_received: u64,
    /// Legacy messages that did not decode (bad base64, padding, frame, or id).
    pub legacy_rejected: u64,
}

/// Declares [`Counters`] with one atomic per [`AtsreuseStats`] field. The struct literal in
/// `snapshot` names every field, so a field added to one and not the other fails to compile.
macro_rules! counters {
    ($($field:ident),* $(,)?) => {
        /// The live counters and gauges of a node: one relaxed atomic per field.
        #[derive(Debug, Default)]
        pub struct Counters {
            $(
                #[doc = concat!("Live value of [`AtsreuseStats::", stringify!($field), "`].")]
                pub $field: AtomicU64,
            )*
        }

        impl Counters {
            /// Copies every counter; each load is atomic, the set is not a single instant.
            pub fn snapshot(&self) -> AtsreuseStats {
                AtsreuseStats { $($field: self.$field.load(Ordering::Relaxed),)* }
            }
        }
    };
}

counters!(
    sessions_published,
    sessions_dropped,
    sessions_received,
    lookups_hit,
    lookups_miss,
    rejected_malformed,
    rejected_bad_tag,
    rejected_stale,
    rejected_old_epoch,
    ignored_own,
    keyrings_installed,
    rotations,
    keyring_epoch,
    keyring_age_secs,
    is_leader,
    redis_connected,
    redis_endpoints,
    session_map_len,
    endpoint_queue_dropped,
    keyring_writes,
    redis_failures,
    legacy_received,
    legacy_rejected,
);

/// Adds one to a counter.
pub(crate) fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// Sets a gauge.
pub(crate) fn set(gauge: &AtomicU64, value: u64) {
    gauge.store(value, Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_copies_every_counter() {
        let counters = Counters::default();
        bump(&counters.sessions_published);
        bump(&counters.sessions_published);
        set(&counters.keyring_epoch, 7);
        bump(&counters.redis_failures);
        let snap = counters.snapshot();
        assert_eq!(snap.sessions_published, 2);
        assert_eq!(snap.keyring_epoch, 7);
        assert_eq!(snap.redis_failures, 1);
        assert_eq!(snap.sessions_dropped, 0);
    }
}
