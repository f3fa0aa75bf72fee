//! The config file.
//!
//! CONTRACT (skeleton): `Config::load(path)` parses the old plugin's keys and ours; every error
//! names file, line and key. `Config` is what `node::Node::start` consumes.

use std::path::PathBuf;
use std::time::Duration;

/// How the old plugin's wire format is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LegacyMode {
    /// Neither read nor written.
    Off,
    /// Read and installed, never written.
    Accept,
    /// Read and written, for a pod of mixed old and new nodes.
    Both,
}

/// One Redis endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Host name or IP address (IPv6 without brackets).
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// TLS to Redis (`rediss://`).
    pub tls: bool,
}

/// Where the Redis password comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedisPassword {
    /// Derived from the PSK (the default).
    Derived,
    /// The PSK itself, for a Redis set up for the old plugin.
    Psk,
    /// The contents of a file.
    File(PathBuf),
    /// No AUTH.
    None,
}

/// A loaded, checked config. Secrets are not held here: the PSK file is read by the node.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it came from.
    pub path: PathBuf,
    /// Channel and key prefix; bound into every key.
    pub cluster_name: String,
    /// Redis endpoints, in the order given.
    pub endpoints: Vec<Endpoint>,
    /// PSK file.
    pub psk_file: PathBuf,
    /// Redis ACL user name.
    pub redis_user: Option<String>,
    /// Redis password source.
    pub redis_password: RedisPassword,
    /// CA file for `rediss://` endpoints.
    pub redis_ca_file: Option<PathBuf>,
    /// Connect timeout.
    pub connect_timeout: Duration,
    /// Read and write timeout of every Redis call.
    pub io_timeout: Duration,
    /// Delay after a failed connect (grows with backoff up to 8x, with jitter).
    pub retry_delay: Duration,
    /// STEK rotation interval.
    pub rotation_interval: Duration,
    /// How long before activation a new key is introduced.
    pub lead_time: Duration,
    /// How long tickets are honoured after their key stops encrypting.
    pub ticket_lifetime: Duration,
    /// How long a shared session stays in the session map.
    pub session_lifetime: Duration,
    /// Most sessions held in the session map.
    pub session_map_capacity: usize,
    /// Most sessions waiting to be published.
    pub publish_queue_capacity: usize,
    /// Lease time of the rotating node.
    pub lease_time: Duration,
    /// How often every node re-reads the stored keyring.
    pub keyring_poll_interval: Duration,
    /// A name for this node in logs and pod status.
    pub node_name: String,
    /// The old wire format.
    pub legacy: LegacyMode,
    /// `ssl_session.STEKMaster=1`: this node asks for the lease first at start.
    pub prefer_leader: bool,
}
