//! Counters and gauges of a node, readable from any thread without locks.
//!
//! CONTRACT (skeleton): `Stats` is `#[repr(C)]` and is what `atsreuse_node_stats` copies out.
//! Fields are only appended, never reordered (the C header pins the order).

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
}
