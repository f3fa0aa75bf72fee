//! The keyring: the STEKs a pod uses, each with its epoch and lifetime.
//!
//! Every function here is pure: same keyring, same time, same answer, on every node.
//! - A key decrypts while `introduce_at <= t < expire_at`.
//! - The encrypting key at t: among keys with `activate_at <= t < expire_at`, the greatest
//!   (activate_at, epoch, name).
//! - ATS block at t: the encrypting key first, then the other decrypting keys, newest first
//!   (by the same order, descending).
//! - Merge: union by (epoch, name), then prune expired keys at `now`, then keep the greatest
//!   [`CAPACITY`] keys by (epoch, name), dropping the oldest. Commutative, associative and
//!   idempotent for one `now`, so nodes that exchange keyrings in any order converge.
//!
//! Encoded form (plaintext, sealed in an envelope of kind [`Kind::Keyring`]), big-endian:
//!
//! | field        | bytes | |
//! |--------------|-------|---|
//! | count        | 1     | 0 to [`CAPACITY`] |
//! | per key:     |       | sorted by (epoch, name), strictly increasing |
//! | epoch        | 8     | |
//! | introduce_at | 8     | seconds since the Unix epoch |
//! | activate_at  | 8     | |
//! | expire_at    | 8     | |
//! | name         | 16    | |
//! | hmac key     | 32    | |
//! | aes key      | 32    | |
//!
//! Key names are public (every ticket carries its key's name in clear), so ordering by name
//! may take data-dependent time; equality of names and all secret comparisons are
//! constant-time.

use core::cmp::Ordering;

use subtle::{Choice, ConditionallySelectable, ConstantTimeEq, ConstantTimeGreater};
use zeroize::{Zeroize, Zeroizing};

use crate::envelope::{self, Header, Kind, OpenError, SealError, Sealer};
use crate::keys::ClusterKeys;
use crate::stek::{Stek, ATS_LEN, NAME_LEN, SECRET_LEN};

/// Most keys a keyring holds.
///
/// Twice what the longest schedule [`crate::rotation::Settings::validate`] accepts keeps
/// alive, so that two leaders at once can each add their keys without pushing any out early.
pub const CAPACITY: usize = 16;
/// Bytes of one encoded key entry.
pub const ENTRY_LEN: usize = 8 * 4 + 16 + 32 + 32;
/// Longest encoded keyring.
pub const ENCODED_MAX_LEN: usize = 1 + CAPACITY * ENTRY_LEN;
/// Longest ATS key block.
pub const ATS_BLOCK_MAX_LEN: usize = CAPACITY * crate::stek::ATS_LEN;
/// Longest sealed keyring.
pub const SEALED_MAX_LEN: usize = ENCODED_MAX_LEN + envelope::OVERHEAD;

/// The three times of a key, seconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyTimes {
    /// From here it decrypts.
    pub introduce_at: u64,
    /// From here it may encrypt.
    pub activate_at: u64,
    /// From here it is erased.
    pub expire_at: u64,
}

impl KeyTimes {
    /// Whether `introduce_at <= activate_at < expire_at`, the order every key obeys.
    pub const fn is_ordered(&self) -> bool {
        self.introduce_at <= self.activate_at && self.activate_at < self.expire_at
    }
    /// Whether a key with these times decrypts at `t`.
    pub const fn decrypts_at(&self, t: u64) -> bool {
        self.introduce_at <= t && t < self.expire_at
    }
    /// Whether a key with these times may encrypt at `t`.
    pub const fn may_encrypt_at(&self, t: u64) -> bool {
        self.activate_at <= t && t < self.expire_at
    }
}

/// One key of a keyring. Its STEK is erased when the entry is dropped or pruned.
#[derive(Debug)]
pub struct KeyEntry {
    /// The rotation counter; strictly increasing per rotation.
    pub epoch: u64,
    /// When it decrypts, encrypts, is erased.
    pub times: KeyTimes,
    /// The key itself.
    pub stek: Stek,
}

impl KeyEntry {
    /// An explicit copy, secrets included.
    pub fn duplicate(&self) -> KeyEntry {
        KeyEntry {
            epoch: self.epoch,
            times: self.times,
            stek: self.stek.duplicate(),
        }
    }

    /// The placeholder of an unused slot.
    const fn empty() -> KeyEntry {
        const ZERO: KeyTimes = KeyTimes {
            introduce_at: 0,
            activate_at: 0,
            expire_at: 0,
        };
        KeyEntry {
            epoch: 0,
            times: ZERO,
            stek: Stek::empty(),
        }
    }

    /// The identity of a key in a keyring: union and capacity go by it.
    fn id_cmp(&self, epoch: u64, name: &[u8; NAME_LEN]) -> Ordering {
        self.epoch
            .cmp(&epoch)
            .then_with(|| self.stek.name().cmp(name))
    }

    /// The order in which keys take over encryption, also the order of the ATS block.
    pub(crate) fn newness_cmp(&self, other: &KeyEntry) -> Ordering {
        let this = (self.times.activate_at, self.epoch, self.stek.name());
        this.cmp(&(other.times.activate_at, other.epoch, other.stek.name()))
    }

    /// Whether both entries carry the same (epoch, name); the name compared in constant time.
    fn same_id(&self, other: &KeyEntry) -> bool {
        self.epoch == other.epoch && self.stek.has_name(other.stek.name())
    }

    /// Whether `other` should replace `self` when both have the same (epoch, name) but differ.
    ///
    /// Well-behaved leaders never make two such entries; a fixed choice keeps merge
    /// commutative anyway: later times win, then the greater secrets, compared in constant
    /// time so the choice says nothing about the bytes.
    fn loses_to(&self, other: &KeyEntry) -> bool {
        match self.times.cmp(&other.times) {
            Ordering::Less => true,
            Ordering::Greater => false,
            // The common case, the same key seen again: a cheaper equality check first.
            Ordering::Equal if self.stek.same_key(&other.stek) => false,
            Ordering::Equal => {
                let mine = (self.stek.hmac_key(), self.stek.aes_key());
                let theirs = (other.stek.hmac_key(), other.stek.aes_key());
                let less = ct_less(mine.0, theirs.0);
                let equal = mine.0.ct_eq(theirs.0);
                bool::from(less | (equal & ct_less(mine.1, theirs.1)))
            }
        }
    }

    /// Puts the slot back to its unused state, erasing the key.
    fn clear(&mut self) {
        self.epoch = 0;
        self.times = KeyEntry::empty().times;
        self.stek.wipe();
    }
}

/// Whether `a < b` as big-endian numbers, in time independent of the bytes.
fn ct_less(a: &[u8; SECRET_LEN], b: &[u8; SECRET_LEN]) -> Choice {
    let mut less = Choice::from(0);
    let mut decided = Choice::from(0);
    for (x, y) in a.iter().zip(b) {
        let lt = y.ct_gt(x);
        let differ = !x.ct_eq(y);
        less = Choice::conditional_select(&less, &lt, !decided & differ);
        decided |= differ;
    }
    less
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
///
/// The keys live in a fixed array; removing one moves the others by swapping and erases the
/// freed slot, so no stale copy of a removed key is left behind inside the keyring. Copies a
/// move of the whole keyring leaves on the stack are outside its reach (see [`Stek`]).
pub struct Keyring {
    slots: [KeyEntry; CAPACITY],
    len: usize,
}

impl Default for Keyring {
    fn default() -> Keyring {
        Keyring::new()
    }
}

impl core::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_list().entries(self.entries()).finish()
    }
}

impl Keyring {
    /// An empty keyring.
    pub const fn new() -> Keyring {
        Keyring {
            slots: [const { KeyEntry::empty() }; CAPACITY],
            len: 0,
        }
    }

    /// The greatest epoch held, 0 when empty.
    pub fn epoch(&self) -> u64 {
        self.entries().last().map_or(0, |entry| entry.epoch)
    }

    /// The number of keys held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The entries, sorted by (epoch, name).
    pub fn entries(&self) -> &[KeyEntry] {
        &self.slots[..self.len]
    }

    /// Adds a key; refuses disordered times, a second (epoch, name) and a full keyring.
    pub fn insert(&mut self, entry: KeyEntry) -> Result<(), KeyringError> {
        if !entry.times.is_ordered() {
            return Err(KeyringError::BadTimes);
        }
        if self.entries().iter().any(|held| held.same_id(&entry)) {
            return Err(KeyringError::Duplicate);
        }
        if self.len == CAPACITY {
            return Err(KeyringError::Full);
        }
        self.place(entry);
        Ok(())
    }

    /// The key that encrypts at `t`: the greatest (activate_at, epoch, name) among the keys
    /// that may encrypt at `t`.
    pub fn encrypting_at(&self, t: u64) -> Option<&KeyEntry> {
        let usable = self.entries().iter().filter(|e| e.times.may_encrypt_at(t));
        // (epoch, name) is unique in a keyring, so there is never a tie.
        usable.max_by(|a, b| a.newness_cmp(b))
    }

    /// The keys that decrypt at `t`, sorted by (epoch, name).
    pub fn decrypting_at(&self, t: u64) -> impl Iterator<Item = &KeyEntry> {
        self.entries()
            .iter()
            .filter(move |e| e.times.decrypts_at(t))
    }

    /// The key named `name` that decrypts at `t`, the name compared in constant time.
    pub fn decrypting_key(&self, name: &[u8; NAME_LEN], t: u64) -> Option<&KeyEntry> {
        self.decrypting_at(t)
            .find(|entry| entry.stek.has_name(name))
    }

    /// Writes the ATS key block at `t` into `out`; returns its length (0: no key).
    ///
    /// The block is the encrypting key, then every other key that decrypts at `t`, newest
    /// first, 48 bytes each. When no key may encrypt at `t` the block is empty even if some
    /// keys decrypt: ATS encrypts with the first key it is given, and a key that is not yet
    /// active may still be missing on other nodes.
    pub fn ats_block_at(&self, t: u64, out: &mut [u8]) -> Result<usize, KeyringError> {
        let Some(encrypting) = self.encrypting_at(t) else {
            return Ok(0);
        };
        // Slot indexes: the encrypting key first, then the other decrypting keys.
        let mut order = [0usize; CAPACITY];
        let mut count = 1;
        for (index, entry) in self.entries().iter().enumerate() {
            if core::ptr::eq(entry, encrypting) {
                order[0] = index;
            } else if entry.times.decrypts_at(t) {
                order[count] = index;
                count += 1;
            }
        }
        let order = &mut order[..count];
        order[1..].sort_unstable_by(|&a, &b| self.slots[b].newness_cmp(&self.slots[a]));
        let len = count * ATS_LEN;
        let out = out.get_mut(..len).ok_or(KeyringError::BufferTooSmall)?;
        for (chunk, &index) in out.chunks_exact_mut(ATS_LEN).zip(order.iter()) {
            let stek = &self.slots[index].stek;
            let written = stek.export(crate::stek::Layout::Ats, chunk);
            debug_assert_eq!(written, Ok(ATS_LEN));
        }
        Ok(len)
    }

    /// Merges `other` into `self` at `now`; returns whether `self` changed.
    ///
    /// The result is the union by (epoch, name) without the keys expired at `now`, cut to the
    /// greatest [`CAPACITY`] keys by (epoch, name). When both hold a key under one (epoch,
    /// name) with different contents, the same one wins whichever side it came from.
    pub fn merge(&mut self, other: &Keyring, now: u64) -> bool {
        let mut changed = self.prune(now);
        for theirs in other.entries() {
            if theirs.times.expire_at <= now || !theirs.times.is_ordered() {
                continue;
            }
            if let Some(index) = self.position(theirs) {
                if self.slots[index].loses_to(theirs) {
                    self.slots[index].times = theirs.times;
                    self.slots[index].stek = theirs.stek.duplicate();
                    changed = true;
                }
                continue;
            }
            if self.len == CAPACITY {
                // Full: the newcomer goes in only if it is newer than the oldest key held.
                if self.slots[0].id_cmp(theirs.epoch, theirs.stek.name()) == Ordering::Greater {
                    continue;
                }
                self.remove_at(0);
            }
            self.place(theirs.duplicate());
            changed = true;
        }
        changed
    }

    /// Erases expired keys at `now`; returns whether any was erased.
    pub fn prune(&mut self, now: u64) -> bool {
        let mut kept = 0;
        for index in 0..self.len {
            if self.slots[index].times.expire_at > now {
                self.slots.swap(kept, index);
                kept += 1;
            }
        }
        let pruned = kept < self.len;
        for slot in &mut self.slots[kept..self.len] {
            slot.clear();
        }
        self.len = kept;
        pruned
    }

    /// An explicit copy.
    pub fn duplicate(&self) -> Keyring {
        let mut copy = Keyring::new();
        for entry in self.entries() {
            copy.place(entry.duplicate());
        }
        copy
    }

    /// Encodes the keyring (plaintext, before sealing); returns the length.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, KeyringError> {
        let len = 1 + self.len * ENTRY_LEN;
        let out = out.get_mut(..len).ok_or(KeyringError::BufferTooSmall)?;
        let (count, body) = out.split_at_mut(1);
        count[0] = u8::try_from(self.len).map_err(|_| KeyringError::Malformed)?;
        for (chunk, entry) in body.chunks_exact_mut(ENTRY_LEN).zip(self.entries()) {
            let times = [
                entry.times.introduce_at,
                entry.times.activate_at,
                entry.times.expire_at,
            ];
            for (field, value) in chunk
                .chunks_exact_mut(8)
                .zip([entry.epoch].iter().chain(&times))
            {
                field.copy_from_slice(&value.to_be_bytes());
            }
            let (_, key) = chunk.split_at_mut(32);
            let (name, secrets) = key.split_at_mut(NAME_LEN);
            let (hmac, aes) = secrets.split_at_mut(SECRET_LEN);
            name.copy_from_slice(entry.stek.name());
            hmac.copy_from_slice(entry.stek.hmac_key());
            aes.copy_from_slice(entry.stek.aes_key());
        }
        Ok(len)
    }

    /// Decodes a keyring; checks every length, time order, key and order of entries.
    ///
    /// Entries must be sorted by (epoch, name), strictly increasing, so that one keyring has
    /// exactly one encoding; a repeated (epoch, name) is [`KeyringError::Duplicate`].
    pub fn decode(bytes: &[u8]) -> Result<Keyring, KeyringError> {
        let (&count, body) = bytes.split_first().ok_or(KeyringError::Malformed)?;
        let count = usize::from(count);
        if count > CAPACITY || body.len() != count * ENTRY_LEN {
            return Err(KeyringError::Malformed);
        }
        let mut keyring = Keyring::new();
        for chunk in body.chunks_exact(ENTRY_LEN) {
            let entry = decode_entry(chunk)?;
            if let Some(last) = keyring.entries().last() {
                match last.id_cmp(entry.epoch, entry.stek.name()) {
                    Ordering::Less => {}
                    Ordering::Equal => return Err(KeyringError::Duplicate),
                    Ordering::Greater => return Err(KeyringError::Malformed),
                }
            }
            keyring.place(entry);
        }
        Ok(keyring)
    }

    /// The slot holding the same (epoch, name) as `entry`.
    fn position(&self, entry: &KeyEntry) -> Option<usize> {
        self.entries().iter().position(|held| held.same_id(entry))
    }

    /// Puts `entry` into its sorted place; the caller checked room and uniqueness.
    fn place(&mut self, entry: KeyEntry) {
        let mut index = self.len;
        self.slots[index] = entry;
        self.len += 1;
        while index > 0 {
            let new = &self.slots[index];
            if self.slots[index - 1].id_cmp(new.epoch, new.stek.name()) != Ordering::Greater {
                break;
            }
            self.slots.swap(index - 1, index);
            index -= 1;
        }
    }

    /// Removes the entry at `index`, keeping the order, and erases its slot.
    fn remove_at(&mut self, index: usize) {
        for at in index..self.len - 1 {
            self.slots.swap(at, at + 1);
        }
        self.len -= 1;
        self.slots[self.len].clear();
    }
}

/// Reads one encoded entry (its length already checked).
fn decode_entry(chunk: &[u8]) -> Result<KeyEntry, KeyringError> {
    let number = |at: usize| {
        let mut field = [0u8; 8];
        field.copy_from_slice(&chunk[at..at + 8]);
        u64::from_be_bytes(field)
    };
    let epoch = number(0);
    let times = KeyTimes {
        introduce_at: number(8),
        activate_at: number(16),
        expire_at: number(24),
    };
    if !times.is_ordered() {
        return Err(KeyringError::BadTimes);
    }
    let mut name = [0u8; NAME_LEN];
    let mut hmac = Zeroizing::new([0u8; SECRET_LEN]);
    let mut aes = Zeroizing::new([0u8; SECRET_LEN]);
    name.copy_from_slice(&chunk[32..48]);
    hmac.copy_from_slice(&chunk[48..80]);
    aes.copy_from_slice(&chunk[80..112]);
    let stek = Stek::from_parts(name, *hmac, *aes).map_err(|_| KeyringError::Malformed)?;
    Ok(KeyEntry { epoch, times, stek })
}

/// Why a sealed keyring was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyringOpenError {
    /// The envelope did not open (tampered, another cluster or PSK, malformed, ...).
    Envelope(OpenError),
    /// The envelope opened but its body is not a valid keyring.
    Keyring(KeyringError),
    /// The keyring's epoch is not newer than the one already held.
    OldEpoch,
}

/// Seals `keyring` with the keyring key of `sealer`'s node; returns the envelope length.
///
/// `out` needs `encoded length + envelope::OVERHEAD` bytes; [`SEALED_MAX_LEN`] always fits.
/// The plaintext passes through a stack buffer that is erased before returning.
pub fn seal(
    sealer: &mut Sealer,
    keys: &ClusterKeys,
    now: u64,
    keyring: &Keyring,
    out: &mut [u8],
) -> Result<usize, SealError> {
    let mut plain = Zeroizing::new([0u8; ENCODED_MAX_LEN]);
    // The buffer holds the longest encoding, so encode cannot fail.
    let len = keyring
        .encode(&mut plain[..])
        .map_err(|_| SealError::BufferTooSmall)?;
    sealer.seal(keys, Kind::Keyring, now, &plain[..len], out)
}

/// Opens a sealed keyring; `scratch` receives the plaintext and is erased before returning.
///
/// `scratch` needs [`ENCODED_MAX_LEN`] bytes. No freshness window applies: a stored keyring
/// is as old as the last rotation. Opening an old keyring again is harmless to
/// [`Keyring::merge`] (a union pruned by expiry); use [`open_newer`] to also refuse keyrings
/// whose epoch is not newer than the one held.
pub fn open(
    keys: &ClusterKeys,
    sealed: &[u8],
    scratch: &mut [u8],
) -> Result<(Header, Keyring), KeyringOpenError> {
    let opened = envelope::open(keys, Kind::Keyring, sealed, None, scratch);
    let result = match opened {
        Ok((header, plain)) => Keyring::decode(plain)
            .map(|keyring| (header, keyring))
            .map_err(KeyringOpenError::Keyring),
        Err(error) => Err(KeyringOpenError::Envelope(error)),
    };
    let used = scratch.len().min(ENCODED_MAX_LEN);
    scratch[..used].zeroize();
    result
}

/// Like [`open`], and refuses a keyring whose epoch is not greater than `held_epoch`.
pub fn open_newer(
    keys: &ClusterKeys,
    sealed: &[u8],
    held_epoch: u64,
    scratch: &mut [u8],
) -> Result<(Header, Keyring), KeyringOpenError> {
    let (header, keyring) = open(keys, sealed, scratch)?;
    if keyring.epoch() <= held_epoch {
        return Err(KeyringOpenError::OldEpoch);
    }
    Ok((header, keyring))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    /// A key whose bytes all derive from `seed`, valid for any seed.
    fn stek(seed: u8) -> Stek {
        let name = [seed.wrapping_mul(3).wrapping_add(1); 16];
        let mut hmac = [0x55; 32];
        hmac[0] = seed;
        let mut aes = [0xAA; 32];
        aes[0] = seed;
        Stek::from_parts(name, hmac, aes).unwrap()
    }

    fn entry(epoch: u64, seed: u8, introduce: u64, activate: u64, expire: u64) -> KeyEntry {
        let times = KeyTimes {
            introduce_at: introduce,
            activate_at: activate,
            expire_at: expire,
        };
        KeyEntry {
            epoch,
            times,
            stek: stek(seed),
        }
    }

    fn ring(entries: Vec<KeyEntry>) -> Keyring {
        let mut keyring = Keyring::new();
        for e in entries {
            keyring.insert(e).unwrap();
        }
        keyring
    }

    fn ids(keyring: &Keyring) -> Vec<(u64, u8)> {
        keyring
            .entries()
            .iter()
            .map(|e| (e.epoch, e.stek.hmac_key()[0]))
            .collect()
    }

    #[test]
    fn insert_keeps_entries_sorted_by_epoch_then_name() {
        let keyring = ring(std::vec![
            entry(3, 1, 0, 0, 9),
            entry(1, 2, 0, 0, 9),
            entry(3, 0, 0, 0, 9)
        ]);
        assert_eq!(ids(&keyring), [(1, 2), (3, 0), (3, 1)]);
        assert_eq!(keyring.epoch(), 3);
    }

    #[test]
    fn insert_refuses_bad_times_duplicates_and_a_full_keyring() {
        let mut keyring = Keyring::new();
        assert_eq!(
            keyring.insert(entry(1, 1, 5, 4, 9)),
            Err(KeyringError::BadTimes)
        );
        assert_eq!(
            keyring.insert(entry(1, 1, 0, 9, 9)),
            Err(KeyringError::BadTimes)
        );
        keyring.insert(entry(1, 1, 0, 0, 9)).unwrap();
        assert_eq!(
            keyring.insert(entry(1, 1, 0, 1, 9)),
            Err(KeyringError::Duplicate)
        );
        for seed in 2..=u8::try_from(CAPACITY).unwrap() {
            keyring
                .insert(entry(u64::from(seed), seed, 0, 0, 9))
                .unwrap();
        }
        assert_eq!(
            keyring.insert(entry(20, 20, 0, 0, 9)),
            Err(KeyringError::Full)
        );
    }

    #[test]
    fn encrypting_key_changes_exactly_at_activation_and_expiry() {
        let keyring = ring(std::vec![entry(1, 1, 0, 0, 300), entry(2, 2, 90, 100, 400)]);
        let epoch_at = |t| keyring.encrypting_at(t).map(|e| e.epoch);
        assert_eq!(epoch_at(99), Some(1));
        assert_eq!(epoch_at(100), Some(2));
        assert_eq!(epoch_at(399), Some(2));
        assert_eq!(epoch_at(400), None);
    }

    #[test]
    fn encrypting_key_prefers_activation_then_epoch_then_name() {
        // Epoch 5 activates earlier than epoch 4: the later activation wins.
        let keyring = ring(std::vec![entry(4, 1, 0, 50, 900), entry(5, 2, 0, 10, 900)]);
        assert_eq!(keyring.encrypting_at(60).unwrap().epoch, 4);
        // Same activation and epoch: the greater name wins (seed 2 has the greater name).
        let twins = ring(std::vec![entry(7, 2, 0, 10, 900), entry(7, 1, 0, 10, 900)]);
        assert_eq!(twins.encrypting_at(10).unwrap().stek.hmac_key()[0], 2);
    }

    #[test]
    fn decrypt_set_starts_at_introduction_and_ends_before_expiry() {
        let keyring = ring(std::vec![entry(1, 1, 100, 200, 300)]);
        let name = *keyring.entries()[0].stek.name();
        assert!(keyring.decrypting_key(&name, 99).is_none());
        assert!(keyring.decrypting_key(&name, 100).is_some());
        assert!(keyring.decrypting_key(&name, 299).is_some());
        assert!(keyring.decrypting_key(&name, 300).is_none());
        assert!(keyring.decrypting_key(&[0xEE; 16], 150).is_none());
    }

    #[test]
    fn ats_block_puts_the_encrypting_key_first_then_newest_first() {
        let keyring = ring(std::vec![
            entry(1, 1, 0, 0, 1000),
            entry(2, 2, 90, 100, 1000),
            entry(3, 3, 190, 200, 1000),
            entry(4, 4, 500, 600, 1000),
        ]);
        let mut out = [0u8; ATS_BLOCK_MAX_LEN];
        let len = keyring.ats_block_at(195, &mut out).unwrap();
        assert_eq!(len, 3 * ATS_LEN);
        let names: Vec<u8> = out[..len].chunks(ATS_LEN).map(|k| k[0]).collect();
        // Epoch 2 encrypts; epoch 3 (introduced, newer) follows; epoch 1 last; 4 not yet.
        let name_of = |seed: u8| stek(seed).name()[0];
        assert_eq!(names, [name_of(2), name_of(3), name_of(1)]);
        let mut stek2 = [0u8; ATS_LEN];
        stek(2)
            .export(crate::stek::Layout::Ats, &mut stek2)
            .unwrap();
        assert_eq!(&out[..ATS_LEN], &stek2);
    }

    #[test]
    fn ats_block_is_empty_without_an_active_key_and_checks_the_buffer() {
        let keyring = ring(std::vec![entry(1, 1, 0, 100, 200)]);
        let mut out = [0u8; ATS_LEN];
        assert_eq!(keyring.ats_block_at(50, &mut out), Ok(0));
        assert_eq!(keyring.ats_block_at(150, &mut out), Ok(ATS_LEN));
        assert_eq!(
            keyring.ats_block_at(150, &mut out[..47]),
            Err(KeyringError::BufferTooSmall)
        );
    }

    #[test]
    fn prune_erases_keys_at_their_expiry_and_keeps_order() {
        let mut keyring = ring(std::vec![
            entry(1, 1, 0, 0, 100),
            entry(2, 2, 0, 0, 300),
            entry(3, 3, 0, 0, 200)
        ]);
        assert!(!keyring.prune(99));
        assert!(keyring.prune(200));
        assert_eq!(ids(&keyring), [(2, 2)]);
        // The freed slots hold no key bytes any more.
        for slot in &keyring.slots[keyring.len..] {
            assert_eq!(slot.stek.hmac_key(), &[0; 32]);
            assert_eq!(slot.stek.name(), &[0; 16]);
        }
    }

    #[test]
    fn merge_unions_prunes_and_keeps_the_newest_within_capacity() {
        let by_epoch = |n: u8| entry(u64::from(n), n, 0, 0, 1000);
        let cap = u8::try_from(CAPACITY).unwrap();
        let mut a = ring((1..=cap - 6).map(by_epoch).collect());
        let b = ring((4..=cap + 2).map(by_epoch).collect());
        assert!(a.merge(&b, 10));
        let want: Vec<(u64, u8)> = (3..=cap + 2).map(|n| (u64::from(n), n)).collect();
        assert_eq!(ids(&a), want);
        assert!(!a.merge(&b, 10));
        let expired = ring(std::vec![entry(11, 11, 0, 0, 10)]);
        assert!(!a.merge(&expired, 10));
    }

    #[test]
    fn merge_resolves_a_conflict_the_same_way_from_both_sides() {
        let mut late = entry(1, 1, 0, 0, 500);
        late.times.expire_at = 600;
        let mut a = ring(std::vec![entry(1, 1, 0, 0, 500)]);
        let mut b = ring(std::vec![late]);
        let a0 = a.duplicate();
        assert!(a.merge(&b, 0));
        assert!(!b.merge(&a0, 0));
        assert_eq!(a.entries()[0].times.expire_at, 600);
        assert_eq!(b.entries()[0].times.expire_at, 600);

        // Same times, different secrets: the greater secret wins both ways.
        let low = KeyEntry {
            epoch: 1,
            times: a.entries()[0].times,
            stek: stek(1),
        };
        let name = *stek(1).name();
        let high_stek = Stek::from_parts(name, [0x99; 32], [0x11; 32]).unwrap();
        let high = KeyEntry {
            epoch: 1,
            times: low.times,
            stek: high_stek,
        };
        let (mut x, mut y) = (ring(std::vec![low.duplicate()]), ring(std::vec![high]));
        let x0 = x.duplicate();
        x.merge(&y, 0);
        y.merge(&x0, 0);
        assert_eq!(x.entries()[0].stek.hmac_key(), &[0x99; 32]);
        assert!(x.entries()[0].stek.same_key(&y.entries()[0].stek));
    }

    #[test]
    fn constant_time_less_orders_like_bytes() {
        let mut a = [5u8; 32];
        let b = [5u8; 32];
        assert!(!bool::from(ct_less(&a, &b)));
        a[3] = 4;
        a[10] = 200;
        assert!(bool::from(ct_less(&a, &b)));
        assert!(!bool::from(ct_less(&b, &a)));
    }

    #[test]
    fn encode_then_decode_gives_the_same_keyring() {
        let keyring = ring(std::vec![entry(9, 2, 1, 2, 3), entry(1, 7, 10, 20, 30)]);
        let mut out = [0u8; ENCODED_MAX_LEN];
        let len = keyring.encode(&mut out).unwrap();
        assert_eq!(len, 1 + 2 * ENTRY_LEN);
        assert_eq!(out[0], 2);
        assert_eq!(&out[1..9], &1u64.to_be_bytes());
        assert_eq!(&out[9..17], &10u64.to_be_bytes());
        let back = Keyring::decode(&out[..len]).unwrap();
        assert_eq!(ids(&back), ids(&keyring));
        for (x, y) in back.entries().iter().zip(keyring.entries()) {
            assert_eq!(x.times, y.times);
            assert!(x.stek.same_key(&y.stek));
        }
        assert_eq!(
            keyring.encode(&mut out[..len - 1]),
            Err(KeyringError::BufferTooSmall)
        );
    }

    #[test]
    fn decode_refuses_every_malformed_shape() {
        let keyring = ring(std::vec![entry(1, 1, 1, 2, 3), entry(2, 2, 1, 2, 3)]);
        let mut good = [0u8; ENCODED_MAX_LEN];
        let len = keyring.encode(&mut good).unwrap();
        let good = &good[..len];
        assert_eq!(Keyring::decode(&[]).err(), Some(KeyringError::Malformed));
        assert_eq!(
            Keyring::decode(&good[..len - 1]).err(),
            Some(KeyringError::Malformed)
        );
        let mut long = good.to_vec();
        long.push(0);
        assert_eq!(Keyring::decode(&long).err(), Some(KeyringError::Malformed));
        let mut many = good.to_vec();
        many[0] = 9;
        assert_eq!(Keyring::decode(&many).err(), Some(KeyringError::Malformed));

        let mut swapped = std::vec![2u8];
        swapped.extend_from_slice(&good[1 + ENTRY_LEN..]);
        swapped.extend_from_slice(&good[1..1 + ENTRY_LEN]);
        assert_eq!(
            Keyring::decode(&swapped).err(),
            Some(KeyringError::Malformed)
        );
        let mut twice = std::vec![2u8];
        twice.extend_from_slice(&good[1..1 + ENTRY_LEN]);
        twice.extend_from_slice(&good[1..1 + ENTRY_LEN]);
        assert_eq!(Keyring::decode(&twice).err(), Some(KeyringError::Duplicate));

        let mut bad_times = good.to_vec();
        bad_times[1 + 24..1 + 32].copy_from_slice(&1u64.to_be_bytes());
        assert_eq!(
            Keyring::decode(&bad_times).err(),
            Some(KeyringError::BadTimes)
        );
        let mut zero_key = good.to_vec();
        zero_key[1 + 48..1 + 80].fill(0);
        assert_eq!(
            Keyring::decode(&zero_key).err(),
            Some(KeyringError::Malformed)
        );
        assert!(Keyring::decode(&[0]).unwrap().is_empty());
    }
}
