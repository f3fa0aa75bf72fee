//! Key schedule: PSK and cluster name in, one key per purpose out.
//!
//! CONTRACT (skeleton; the implementation replaces the bodies, not the signatures):
//! - `Psk::from_file_bytes` strips trailing `\n` (and `\r\n`), rejects empty and > 256 bytes.
//! - `ClusterKeys::derive`: HKDF-SHA256, salt = fixed project string, ikm = PSK,
//!   info = purpose label ‖ cluster name; one 32-byte key for sessions, one for keyrings.
//! - `ClusterKeys::sender_key`: HKDF-Expand of the purpose key with the 16-byte node id, so a
//!   counter nonce never repeats under one key.
//! - `redis_password`: a third purpose, rendered as 64 lowercase hex characters.

/// Longest PSK accepted, in bytes (the old plugin's limit).
pub const PSK_MAX_LEN: usize = 256;
/// Longest cluster name accepted, in bytes.
pub const CLUSTER_NAME_MAX_LEN: usize = 128;
/// Length of the derived Redis password, in ASCII characters.
pub const REDIS_PASSWORD_LEN: usize = 64;

/// Why key material could not be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyError {
    /// The PSK is empty after its trailing newlines are removed.
    EmptyPsk,
    /// The PSK is longer than [`PSK_MAX_LEN`].
    PskTooLong,
    /// The cluster name is empty or longer than [`CLUSTER_NAME_MAX_LEN`].
    BadClusterName,
}

/// A node's random identity for one run; every sender key is bound to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NodeId(pub [u8; 16]);

/// What a derived key is for; each purpose gets its own key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Purpose {
    /// Session records.
    Sessions,
    /// Keyrings.
    Keyrings,
}

/// The pre-shared key, erased on drop.
pub struct Psk {
    _todo: (),
}

impl Psk {
    /// The PSK from the bytes of its file: trailing newlines are removed.
    pub fn from_file_bytes(_bytes: &[u8]) -> Result<Psk, KeyError> {
        todo!()
    }
    /// Length in bytes (for warnings about short keys; never log the bytes).
    pub fn len(&self) -> usize {
        todo!()
    }
    /// Whether the PSK is empty (never true for a constructed PSK).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The keys of one cluster, erased on drop.
pub struct ClusterKeys {
    _todo: (),
}

/// A sender's AES-256-GCM key for one purpose, erased on drop.
pub struct SenderKey {
    _todo: (),
}

impl ClusterKeys {
    /// Derives every purpose key for `cluster` from `psk`.
    pub fn derive(_psk: &Psk, _cluster: &str) -> Result<ClusterKeys, KeyError> {
        todo!()
    }
    /// The cluster name these keys are bound to.
    pub fn cluster(&self) -> &str {
        todo!()
    }
    /// The key that `sender` seals `purpose` messages with.
    pub fn sender_key(&self, _purpose: Purpose, _sender: &NodeId) -> SenderKey {
        todo!()
    }
}

/// The Redis password derived from the PSK: 64 lowercase hex characters, so an eavesdropper on
/// Redis AUTH learns nothing that opens a message.
pub fn redis_password(_psk: &Psk, _cluster: &str) -> Result<[u8; REDIS_PASSWORD_LEN], KeyError> {
    todo!()
}
