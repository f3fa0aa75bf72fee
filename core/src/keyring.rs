//! The keyring: the STEKs a pod uses, each with its epoch and lifetime.
//!
//! CONTRACT (skeleton). Every function here is pure: same keyring, same time, same answer.
//! - A key decrypts while `introduce_at <= t < expire_at`.
//! - The encrypting key at t: among keys with `activate_at <= t < expire_at`, the greatest
//!   (activate_at, epoch, name).
//! - ATS block at t: the encrypting key first, then the other decrypting keys, newest first.
//! - Merge: union by (epoch, name), then prune expired keys at `now`, then drop the oldest
//!   (smallest epoch, then name) beyond [`CAPACITY`]. Commutative, associative, idempotent.
//! - Encoded form: u8 count ‖ count × (u64 epoch ‖ u64 introduce ‖ u64 activate ‖ u64 expire
//!   ‖ name 16 ‖ hmac 32 ‖ aes 32), big-endian, sorted by (epoch, name); sealed in an envelope
//!   of kind `Keyring`.

use crate::stek::Stek;

/// Most keys a keyring holds.
pub const CAPACITY: usize = 8;
/// Bytes of one encoded key entry.
pub const ENTRY_LEN: usize = 8 * 4 + 16 + 32 + 32;
/// Longest encoded keyring.
pub const ENCODED_MAX_LEN: usize = 1 + CAPACITY * ENTRY_LEN;
/// Longest ATS key block.
pub const ATS_BLOCK_MAX_LEN: usize = CAPACITY * crate::stek::ATS_LEN;

/// The three times of a key, seconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyTimes {
    /// From here it decrypts.
    pub introduce_at: u64,
    /// From here it may encrypt.
    pub activate_at: u64,
    /// From here it is erased.
    pub expire_at: u64,
}

/// One key of a keyring.
pub struct KeyEntry {
    /// The rotation counter; strictly increasing per rotation.
    pub epoch: u64,
    /// When it decrypts, encrypts, is erased.
    pub times: KeyTimes,
    /// The key itself.
    pub stek: Stek,
}

/// Why a keyring was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyringError {
    /// Times out of order (introduce <= activate < expire required).
    BadTimes,
    /// The keyring is full.
    Full,
    /// An entry with the same epoch and name is already there.
    Duplicate,
    /// The encoded bytes are malformed.
    Malformed,
    /// The output buffer is too small.
    BufferTooSmall,
}

/// An ordered set of at most [`CAPACITY`] keys.
#[derive(Default)]
pub struct Keyring {
    _todo: (),
}

impl Keyring {
    /// An empty keyring.
    pub fn new() -> Keyring {
        todo!()
    }
    /// The greatest epoch held, 0 when empty.
    pub fn epoch(&self) -> u64 {
        todo!()
    }
    /// The entries, sorted by (epoch, name).
    pub fn entries(&self) -> &[KeyEntry] {
        todo!()
    }
    /// Adds a key.
    pub fn insert(&mut self, _entry: KeyEntry) -> Result<(), KeyringError> {
        todo!()
    }
    /// The key that encrypts at `t`.
    pub fn encrypting_at(&self, _t: u64) -> Option<&KeyEntry> {
        todo!()
    }
    /// Writes the ATS key block at `t` into `out`; returns its length (0: no key).
    pub fn ats_block_at(&self, _t: u64, _out: &mut [u8]) -> Result<usize, KeyringError> {
        todo!()
    }
    /// Merges `other` into `self` at `now`; returns whether `self` changed.
    pub fn merge(&mut self, _other: &Keyring, _now: u64) -> bool {
        todo!()
    }
    /// Erases expired keys at `now`; returns whether any was erased.
    pub fn prune(&mut self, _now: u64) -> bool {
        todo!()
    }
    /// An explicit copy.
    pub fn duplicate(&self) -> Keyring {
        todo!()
    }
    /// Encodes the keyring (plaintext, before sealing); returns the length.
    pub fn encode(&self, _out: &mut [u8]) -> Result<usize, KeyringError> {
        todo!()
    }
    /// Decodes a keyring; checks every length, time order and duplicate.
    pub fn decode(_bytes: &[u8]) -> Result<Keyring, KeyringError> {
        todo!()
    }
}
