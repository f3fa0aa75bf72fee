//! The session map: session id to DER, bounded, with expiry; least recently used out first.
//!
//! The map is split into shards, each behind its own mutex, so lookups on several ATS threads
//! and inserts from the subscriber threads rarely meet on one lock. A shard keeps its entries in
//! a `HashMap` (SipHash with a random key, so crafted ids cannot force collisions) and its use
//! order in a `BTreeMap` from a use counter to the id. Every DER is erased when it leaves the
//! map: replaced, expired, evicted, or dropped with the map.

use std::collections::hash_map::RandomState;
use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use atsreuse_core::session::ID_MAX_LEN;
use zeroize::Zeroizing;

/// Number of shards; a power of two well above the number of ATS net threads on most hosts.
const SHARDS: usize = 16;

/// A session id held inline, so a lookup allocates nothing.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionId {
    len: u8,
    bytes: [u8; ID_MAX_LEN],
}

impl SessionId {
    /// The id from its bytes; `None` when empty or longer than [`ID_MAX_LEN`].
    pub fn new(id: &[u8]) -> Option<SessionId> {
        if id.is_empty() || id.len() > ID_MAX_LEN {
            return None;
        }
        let mut bytes = [0u8; ID_MAX_LEN];
        bytes[..id.len()].copy_from_slice(id);
        // The length fits in a u8: it was checked against ID_MAX_LEN (32) just above.
        let len = u8::try_from(id.len()).ok()?;
        Some(SessionId { len, bytes })
    }

    /// The id's bytes.
    pub fn as_slice(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

/// Why a lookup could not copy a session out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LookupError {
    /// The caller's buffer is shorter than the DER; the DER length is given.
    BufferTooSmall(usize),
}

struct Entry {
    der: Zeroizing<Vec<u8>>,
    expires_at: u64,
    used: u64,
}

#[derive(Default)]
struct Shard {
    entries: HashMap<SessionId, Entry>,
    order: BTreeMap<u64, SessionId>,
    clock: u64,
}

impl Shard {
    fn touch(&mut self, id: SessionId, old: u64) -> u64 {
        self.order.remove(&old);
        self.clock += 1;
        self.order.insert(self.clock, id);
        self.clock
    }

    fn remove(&mut self, id: &SessionId) -> bool {
        match self.entries.remove(id) {
            Some(entry) => {
                self.order.remove(&entry.used);
                true
            }
            None => false,
        }
    }

    fn evict_oldest(&mut self) -> bool {
        match self.order.pop_first() {
            Some((_, id)) => self.entries.remove(&id).is_some(),
            None => false,
        }
    }
}

/// A bounded map of shared sessions. All methods take `now` in seconds since the Unix epoch.
pub struct SessionMap {
    shards: Vec<Mutex<Shard>>,
    hasher: RandomState,
    shard_capacity: usize,
    len: AtomicUsize,
}

impl SessionMap {
    /// A map holding at most about `capacity` sessions (rounded up to a multiple of the shard
    /// count; at least one per shard).
    pub fn new(capacity: usize) -> SessionMap {
        SessionMap {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            hasher: RandomState::new(),
            shard_capacity: capacity.div_ceil(SHARDS).max(1),
            len: AtomicUsize::new(0),
        }
    }

    /// Sessions held now (expired ones count until swept or looked up).
    pub fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }

    /// Whether the map holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn shard(&self, id: &SessionId) -> MutexGuard<'_, Shard> {
        // The remainder is below SHARDS, so the conversion cannot fail.
        let index = usize::try_from(self.hasher.hash_one(id) % SHARDS as u64).unwrap_or(0);
        // A panic while a shard was locked leaves consistent data (every update is a few
        // plain map operations), so a poisoned lock is used as it is.
        self.shards[index]
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Stores a session; returns whether the id was new. Already expired sessions are ignored.
    /// When the shard is full its least recently used session is erased first.
    pub fn insert(&self, id: &SessionId, der: &[u8], expires_at: u64, now: u64) -> bool {
        if expires_at <= now {
            return false;
        }
        let mut shard = self.shard(id);
        let old_used = shard.entries.get(id).map(|e| e.used);
        if let Some(old) = old_used {
            let used = shard.touch(*id, old);
            if let Some(entry) = shard.entries.get_mut(id) {
                entry.der = Zeroizing::new(der.to_vec());
                entry.expires_at = expires_at;
                entry.used = used;
            }
            return false;
        }
        if shard.entries.len() >= self.shard_capacity && shard.evict_oldest() {
            self.len.fetch_sub(1, Ordering::Relaxed);
        }
        shard.clock += 1;
        let used = shard.clock;
        shard.order.insert(used, *id);
        let der = Zeroizing::new(der.to_vec());
        shard.entries.insert(
            *id,
            Entry {
                der,
                expires_at,
                used,
            },
        );
        self.len.fetch_add(1, Ordering::Relaxed);
        true
    }

    /// Copies the DER of `id` into `out`; `Ok(None)` when unknown or expired (an expired
    /// session is erased on the way).
    pub fn lookup(
        &self,
        id: &SessionId,
        out: &mut [u8],
        now: u64,
    ) -> Result<Option<usize>, LookupError> {
        let mut shard = self.shard(id);
        let (expires_at, used, der_len) = match shard.entries.get(id) {
            Some(entry) => (entry.expires_at, entry.used, entry.der.len()),
            None => return Ok(None),
        };
        if expires_at <= now {
            if shard.remove(id) {
                self.len.fetch_sub(1, Ordering::Relaxed);
            }
            return Ok(None);
        }
        if out.len() < der_len {
            return Err(LookupError::BufferTooSmall(der_len));
        }
        let new_used = shard.touch(*id, used);
        match shard.entries.get_mut(id) {
            Some(entry) => {
                entry.used = new_used;
                out[..der_len].copy_from_slice(&entry.der);
                Ok(Some(der_len))
            }
            None => Ok(None),
        }
    }

    /// Erases every expired session; returns how many.
    pub fn sweep(&self, now: u64) -> usize {
        let mut erased = 0;
        for lock in &self.shards {
            let mut shard = lock.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            let expired: Vec<SessionId> = shard
                .entries
                .iter()
                .filter(|(_, e)| e.expires_at <= now)
                .map(|(id, _)| *id)
                .collect();
            for id in &expired {
                if shard.remove(id) {
                    erased += 1;
                }
            }
        }
        self.len.fetch_sub(erased, Ordering::Relaxed);
        erased
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u32) -> SessionId {
        SessionId::new(&n.to_be_bytes()).unwrap()
    }

    #[test]
    fn ids_outside_1_to_32_bytes_are_refused() {
        assert!(SessionId::new(&[]).is_none());
        assert!(SessionId::new(&[1; 33]).is_none());
        assert!(SessionId::new(&[1; 32]).is_some());
    }

    #[test]
    fn a_stored_session_is_found_until_it_expires() {
        let map = SessionMap::new(64);
        assert!(map.insert(&id(1), b"der-1", 100, 10));
        let mut out = [0u8; 16];
        assert_eq!(map.lookup(&id(1), &mut out, 99), Ok(Some(5)));
        assert_eq!(&out[..5], b"der-1");
        assert_eq!(map.lookup(&id(1), &mut out, 100), Ok(None));
        assert_eq!(map.len(), 0);
    }

    #[test]
    fn a_short_buffer_gets_the_needed_length() {
        let map = SessionMap::new(64);
        map.insert(&id(1), b"0123456789", 100, 10);
        let mut out = [0u8; 4];
        assert_eq!(
            map.lookup(&id(1), &mut out, 11),
            Err(LookupError::BufferTooSmall(10))
        );
    }

    #[test]
    fn the_least_recently_used_session_goes_first() {
        // One shard's worth of capacity: SHARDS total means one entry per shard.
        let map = SessionMap::new(SHARDS);
        let mut out = [0u8; 8];
        let mut inserted = Vec::new();
        for n in 0..1000u32 {
            map.insert(&id(n), b"x", 100, 1);
            inserted.push(n);
            assert!(map.len() <= SHARDS);
        }
        // The most recent insert is always present.
        assert_eq!(map.lookup(&id(999), &mut out, 2), Ok(Some(1)));
    }

    #[test]
    fn a_looked_up_session_survives_eviction_of_its_shard_neighbours() {
        let map = SessionMap::new(2 * SHARDS);
        let mut out = [0u8; 8];
        map.insert(&id(0), b"keep", 100, 1);
        // Insert many others; keep touching id 0 so it stays the most recently used.
        for n in 1..500u32 {
            map.insert(&id(n), b"x", 100, 1);
            assert_eq!(map.lookup(&id(0), &mut out, 2), Ok(Some(4)));
        }
    }

    #[test]
    fn sweep_erases_only_expired_sessions() {
        let map = SessionMap::new(64);
        map.insert(&id(1), b"a", 50, 1);
        map.insert(&id(2), b"b", 150, 1);
        assert_eq!(map.sweep(100), 1);
        assert_eq!(map.len(), 1);
        let mut out = [0u8; 4];
        assert_eq!(map.lookup(&id(2), &mut out, 100), Ok(Some(1)));
    }

    #[test]
    fn reinserting_an_id_replaces_its_der_and_is_not_new() {
        let map = SessionMap::new(64);
        assert!(map.insert(&id(1), b"old", 100, 1));
        assert!(!map.insert(&id(1), b"newer", 100, 1));
        let mut out = [0u8; 8];
        assert_eq!(map.lookup(&id(1), &mut out, 2), Ok(Some(5)));
        assert_eq!(map.len(), 1);
    }
}
