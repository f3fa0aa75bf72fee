//! The keyring this node holds, its start key, and the ATS key block handed to the host.
//!
//! - The held keyring is the pod's: it only grows by merge (or by this node's own rotation as
//!   leader) and is what the node writes to Redis.
//! - The start key is made by `Node::start` so ATS can issue tickets when no endpoint answers
//!   within `atsreuse.start_wait_ms`. It is never written to Redis unless this node founds the
//!   pod keyring (then it becomes epoch 1). Once the pod keyring has an encrypting key, the
//!   start key stays in the block as a decrypt-only key for one ticket lifetime, so tickets it
//!   sealed still open (when the pod keyring came within the start wait, the start key never
//!   encrypted and only sits in the block, harmless, until it retires).
//! - No block reaches the host before the start gate opens (see [`super::StartGate`]); the key
//!   store still merges and prunes meanwhile.
//! - The block is recomputed at every merge and on every leader tick, because the encrypting
//!   key changes with time (activation times), not only with the keyring.

use std::sync::{Mutex, MutexGuard};

use atsreuse_core::envelope::{self, Kind, OpenError, Sealer, OVERHEAD};
use atsreuse_core::keyring::{KeyEntry, KeyTimes, Keyring, ATS_BLOCK_MAX_LEN, ENCODED_MAX_LEN};
use atsreuse_core::keys::ClusterKeys;
use atsreuse_core::rotation::Settings;
use atsreuse_core::stek::{Layout, ATS_LEN};
use zeroize::Zeroizing;

use super::{hex, Shared};
use crate::node::LogLevel;
use crate::stats::{bump, set};

/// Why a stored keyring was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rejected {
    /// The envelope did not open.
    Open(OpenError),
    /// It opened but its plaintext is not a keyring.
    Decode,
    /// Its epoch (given) is older than the one held.
    OldEpoch(u64),
}

/// What a received keyring did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Received {
    /// Merged; the held keyring changed.
    Changed,
    /// Merged; nothing new.
    Unchanged,
}

struct Inner {
    held: Keyring,
    start_key: Option<KeyEntry>,
    /// When the start key leaves the block (set once the pod keyring encrypts).
    start_key_retire_at: Option<u64>,
    /// The block last handed to the host.
    installed: Zeroizing<Vec<u8>>,
    /// Greatest epoch ever held, so a new key after a full prune still counts up.
    max_epoch_seen: u64,
    /// STEKs of old nodes (legacy accept/both), newest first, with when each was last heard.
    legacy: Vec<(Zeroizing<[u8; ATS_LEN]>, u64)>,
    /// When the last new old-format STEK was taken (Unix seconds).
    legacy_added_at: Option<u64>,
}

/// Shortest time between two new old-format STEKs taken, in seconds. The old format has no
/// MAC: anyone who can publish to Redis can send a STEK, and without this limit a stream of
/// forged ones would push the real old nodes' keys out of the [`LEGACY_KEYS`] slots at once.
/// Old nodes publish a new key once per update interval (at least a minute), so a real one
/// still gets in; a forger can still replace one slot a minute, which is why the legacy mode
/// is for a migration only.
pub(crate) const LEGACY_ADD_EVERY_SECS: u64 = 60;

/// What [`KeyStore::add_legacy`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LegacyAdded {
    /// A key already held (or this node's own key): only its last-heard time moved.
    Known,
    /// A new key, now held.
    Added,
    /// A new key refused: another came less than [`LEGACY_ADD_EVERY_SECS`] ago.
    Limited,
}

/// Old STEKs kept for decryption: the old plugin installed the new one and the previous one.
const LEGACY_KEYS: usize = 2;

/// The keyring state of a node.
pub(crate) struct KeyStore {
    inner: Mutex<Inner>,
    ticket_lifetime_secs: u64,
}

impl KeyStore {
    pub(crate) fn new(start_key: KeyEntry, ticket_lifetime_secs: u64) -> KeyStore {
        KeyStore {
            inner: Mutex::new(Inner {
                held: Keyring::new(),
                start_key: Some(start_key),
                start_key_retire_at: None,
                installed: Zeroizing::new(Vec::new()),
                max_epoch_seen: 0,
                legacy: Vec::new(),
                legacy_added_at: None,
            }),
            ticket_lifetime_secs,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every update below is done on a copy or as one merge, so the data behind a poisoned
        // lock is still a valid keyring.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The epoch of the held keyring (0: none yet).
    pub(crate) fn epoch(&self) -> u64 {
        self.lock().held.epoch()
    }

    /// Whether some key can encrypt at `now`: a pod key, or the start key while it is in the
    /// block (it encrypts while the pod keyring has no key).
    pub(crate) fn has_usable_key(&self, now: u64) -> bool {
        let inner = self.lock();
        inner.held.encrypting_at(now).is_some() || inner.start_key.is_some()
    }

    /// Greatest epoch ever held.
    pub(crate) fn max_epoch_seen(&self) -> u64 {
        self.lock().max_epoch_seen
    }

    /// A copy of the held keyring (a leader's candidate starts from it).
    pub(crate) fn candidate(&self) -> Keyring {
        self.lock().held.duplicate()
    }

    /// Opens a stored keyring (no freshness window: it is stored, not sent) and merges it.
    /// A keyring older than the one held is refused and installs nothing.
    /// Returns what the merge did and the stored keyring's epoch.
    pub(crate) fn receive(
        &self,
        keys: &ClusterKeys,
        blob: &[u8],
        now: u64,
    ) -> Result<(Received, u64), Rejected> {
        let keyring = open_keyring(keys, blob)?;
        let mut inner = self.lock();
        // Even a keyring whose keys have all expired moves the epoch on: a key made after it
        // must have a greater epoch, or the compare-and-set would refuse it forever.
        inner.max_epoch_seen = inner.max_epoch_seen.max(keyring.epoch());
        if keyring.epoch() < inner.held.epoch() {
            return Err(Rejected::OldEpoch(keyring.epoch()));
        }
        Ok((merge_into(&mut inner, &keyring, now), keyring.epoch()))
    }

    /// Merges a keyring this node built (its own rotation, once stored).
    pub(crate) fn adopt(&self, keyring: &Keyring, now: u64) -> Received {
        merge_into(&mut self.lock(), keyring, now)
    }

    /// Seals the held keyring for storing; `None` when nothing is held.
    pub(crate) fn seal_held(&self, shared: &Shared, now: u64) -> Option<(u64, Vec<u8>)> {
        let held = self.candidate();
        seal_keyring(shared, &held, now)
    }

    /// The keyring a founding leader stores when the pod has none: its start key as the first
    /// key, active since this node started. `None` if the start key is gone.
    pub(crate) fn founding_keyring(&self, settings: &Settings) -> Option<Keyring> {
        let inner = self.lock();
        let start = inner.start_key.as_ref()?;
        let epoch = inner.max_epoch_seen.max(start.epoch) + 1;
        let times = KeyTimes {
            introduce_at: start.times.introduce_at,
            activate_at: start.times.activate_at,
            expire_at: start.times.activate_at
                + settings.interval_secs
                + settings.ticket_lifetime_secs
                + settings.lead_secs,
        };
        let mut keyring = Keyring::new();
        let entry = KeyEntry {
            epoch,
            times,
            stek: start.stek.duplicate(),
        };
        keyring.insert(entry).ok()?;
        Some(keyring)
    }

    /// Adds a STEK of an old node (decrypt only); the most recent [`LEGACY_KEYS`] are kept,
    /// and at most one new one per [`LEGACY_ADD_EVERY_SECS`] is taken.
    pub(crate) fn add_legacy(&self, stek: Zeroizing<[u8; ATS_LEN]>, now: u64) -> LegacyAdded {
        let mut inner = self.lock();
        if let Some(known) = inner.legacy.iter_mut().find(|(k, _)| **k == *stek) {
            known.1 = now;
            return LegacyAdded::Known;
        }
        // This node's own key, sent back in the old format (legacy `both`): already in use.
        if inner.installed.chunks(ATS_LEN).any(|k| k == &stek[..]) {
            return LegacyAdded::Known;
        }
        let limited = inner
            .legacy_added_at
            .is_some_and(|at| now < at.saturating_add(LEGACY_ADD_EVERY_SECS) && now >= at);
        if limited {
            return LegacyAdded::Limited;
        }
        inner.legacy_added_at = Some(now);
        inner.legacy.insert(0, (stek, now));
        inner.legacy.truncate(LEGACY_KEYS);
        LegacyAdded::Added
    }

    /// The first key of the block last installed (the encrypting one), for legacy `both`.
    pub(crate) fn installed_first_key(&self) -> Option<Zeroizing<Vec<u8>>> {
        let inner = self.lock();
        inner
            .installed
            .get(..ATS_LEN)
            .map(|k| Zeroizing::new(k.to_vec()))
    }

    /// Recomputes the key block for `now` and hands it to the host when it differs from the
    /// last one. Holding the lock across the call keeps `install_keys` calls from overlapping.
    pub(crate) fn refresh(&self, shared: &Shared, now: u64) -> bool {
        let mut inner = self.lock();
        inner.held.prune(now);
        retire_start_key(&mut inner, now, self.ticket_lifetime_secs);
        // An old STEK not heard again for one ticket lifetime opens no live ticket any more.
        let lifetime = self.ticket_lifetime_secs;
        inner.legacy.retain(|(_, heard)| now < heard + lifetime);
        let block = build_block(&inner, now);
        update_gauges(shared, &inner.held, now);
        // Until `Node::start` has waited for the pod's keyring, nothing goes to the host: the
        // first block it sees is then the pod's whenever one could be read in time.
        if !shared.start_gate.is_open() || block.is_empty() || *block == *inner.installed {
            return false;
        }
        shared.host.install_keys(&block);
        bump(&shared.counters.keyrings_installed);
        let keys = block.len() / ATS_LEN;
        let name = hex(&block[..16]);
        shared.log(
            LogLevel::Info,
            format_args!(
                "installed {keys} ticket key(s), keyring epoch {}, encrypting key {name}",
                inner.held.epoch()
            ),
        );
        inner.installed = block;
        true
    }
}

fn merge_into(inner: &mut Inner, keyring: &Keyring, now: u64) -> Received {
    let changed = inner.held.merge(keyring, now);
    inner.max_epoch_seen = inner.max_epoch_seen.max(inner.held.epoch());
    if changed {
        Received::Changed
    } else {
        Received::Unchanged
    }
}

/// Opens and decodes a sealed keyring; every length is checked before any work.
pub(crate) fn open_keyring(keys: &ClusterKeys, blob: &[u8]) -> Result<Keyring, Rejected> {
    if blob.len() < OVERHEAD || blob.len() > ENCODED_MAX_LEN + OVERHEAD {
        return Err(Rejected::Open(OpenError::Malformed));
    }
    let mut plain = Zeroizing::new([0u8; ENCODED_MAX_LEN]);
    let (_, body) =
        envelope::open(keys, Kind::Keyring, blob, None, &mut plain[..]).map_err(Rejected::Open)?;
    Keyring::decode(body).map_err(|_| Rejected::Decode)
}

/// Seals a keyring with the node's keyring sealer; returns its epoch and the envelope.
pub(crate) fn seal_keyring(shared: &Shared, keyring: &Keyring, now: u64) -> Option<(u64, Vec<u8>)> {
    if keyring.entries().is_empty() {
        return None;
    }
    let mut plain = Zeroizing::new([0u8; ENCODED_MAX_LEN]);
    let len = keyring.encode(&mut plain[..]).ok()?;
    let mut out = vec![0u8; len + OVERHEAD];
    let mut sealer: MutexGuard<'_, Sealer> = shared
        .keyring_sealer
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let sealed = sealer
        .seal(&shared.keys, Kind::Keyring, now, &plain[..len], &mut out)
        .ok()?;
    out.truncate(sealed);
    Some((keyring.epoch(), out))
}

fn retire_start_key(inner: &mut Inner, now: u64, ticket_lifetime_secs: u64) {
    if inner.start_key.is_none() {
        return;
    }
    if inner.start_key_retire_at.is_none() && inner.held.encrypting_at(now).is_some() {
        inner.start_key_retire_at = Some(now + ticket_lifetime_secs);
    }
    let expired = inner
        .start_key
        .as_ref()
        .is_some_and(|k| now >= k.times.expire_at);
    let retired = inner.start_key_retire_at.is_some_and(|at| now >= at);
    if expired || retired {
        // Dropping the entry erases the STEK.
        inner.start_key = None;
    }
}

/// The block at `now`: the pod keyring's block, then the start key (decrypt only) unless the
/// pod keyring holds it already; the start key encrypts only while the pod has no key.
fn build_block(inner: &Inner, now: u64) -> Zeroizing<Vec<u8>> {
    let mut block = Zeroizing::new(vec![0u8; ATS_BLOCK_MAX_LEN + (1 + LEGACY_KEYS) * ATS_LEN]);
    let mut len = inner
        .held
        .ats_block_at(now, &mut block[..ATS_BLOCK_MAX_LEN])
        .unwrap_or(0);
    if let Some(start) = &inner.start_key {
        let in_pod = inner
            .held
            .entries()
            .iter()
            .any(|e| e.stek.name() == start.stek.name());
        if !in_pod {
            if let Ok(n) = start
                .stek
                .export(Layout::Ats, &mut block[len..len + ATS_LEN])
            {
                len += n;
            }
        }
    }
    // Old STEKs last, decrypt only, unless a key of that name is in the block already.
    for (stek, _) in &inner.legacy {
        let name = &stek[..16];
        let known = block[..len].chunks(ATS_LEN).any(|k| &k[..16] == name);
        if !known && len > 0 {
            block[len..len + ATS_LEN].copy_from_slice(&stek[..]);
            len += ATS_LEN;
        }
    }
    block.truncate(len);
    block
}

fn update_gauges(shared: &Shared, held: &Keyring, now: u64) {
    set(&shared.counters.keyring_epoch, held.epoch());
    let age = held
        .encrypting_at(now)
        .map(|e| now.saturating_sub(e.times.activate_at))
        .unwrap_or(0);
    set(&shared.counters.keyring_age_secs, age);
}

#[cfg(test)]
mod tests {
    use super::*;
    use atsreuse_core::stek::Stek;
    use rand::rngs::OsRng;

    const LIFETIME: u64 = 100;

    fn entry(epoch: u64, introduce_at: u64, activate_at: u64, expire_at: u64) -> KeyEntry {
        let times = KeyTimes {
            introduce_at,
            activate_at,
            expire_at,
        };
        KeyEntry {
            epoch,
            times,
            stek: Stek::generate(&mut OsRng),
        }
    }

    fn inner_with_start_key(start: KeyEntry) -> Inner {
        Inner {
            held: Keyring::new(),
            start_key: Some(start),
            start_key_retire_at: None,
            installed: Zeroizing::new(Vec::new()),
            max_epoch_seen: 0,
            legacy: Vec::new(),
            legacy_added_at: None,
        }
    }

    fn names(block: &[u8]) -> Vec<[u8; 16]> {
        block
            .chunks(ATS_LEN)
            .map(|k| k[..16].try_into().unwrap())
            .collect()
    }

    #[test]
    fn the_start_key_encrypts_while_the_pod_has_no_key() {
        let inner = inner_with_start_key(entry(0, 1000, 1000, 5000));
        let start_name = *inner.start_key.as_ref().unwrap().stek.name();
        assert_eq!(names(&build_block(&inner, 1001)), vec![start_name]);
    }

    #[test]
    fn the_start_key_follows_the_pod_key_then_retires_after_one_ticket_lifetime() {
        let mut inner = inner_with_start_key(entry(0, 1000, 1000, 5000));
        let start_name = *inner.start_key.as_ref().unwrap().stek.name();
        let mut pod = Keyring::new();
        pod.insert(entry(1, 900, 900, 9000)).unwrap();
        let pod_name = *pod.entries()[0].stek.name();
        merge_into(&mut inner, &pod, 1010);

        retire_start_key(&mut inner, 1010, LIFETIME);
        assert_eq!(
            names(&build_block(&inner, 1010)),
            vec![pod_name, start_name]
        );
        retire_start_key(&mut inner, 1010 + LIFETIME - 1, LIFETIME);
        assert!(inner.start_key.is_some());
        retire_start_key(&mut inner, 1010 + LIFETIME, LIFETIME);
        assert!(inner.start_key.is_none());
        assert_eq!(names(&build_block(&inner, 1010 + LIFETIME)), vec![pod_name]);
    }

    #[test]
    fn a_start_key_that_founded_the_pod_keyring_appears_once() {
        let start = entry(0, 1000, 1000, 5000);
        let mut pod = Keyring::new();
        let founded = KeyEntry {
            epoch: 1,
            times: start.times,
            stek: start.stek.duplicate(),
        };
        pod.insert(founded).unwrap();
        let mut inner = inner_with_start_key(start);
        merge_into(&mut inner, &pod, 1001);
        assert_eq!(build_block(&inner, 1001).len(), ATS_LEN);
    }

    #[test]
    fn old_steks_only_decrypt_and_at_most_two_are_kept() {
        let store = KeyStore::new(entry(0, 1000, 1000, 5000), LIFETIME);
        for n in 1..=3u8 {
            let at = 1000 + u64::from(n) * LEGACY_ADD_EVERY_SECS;
            let added = store.add_legacy(Zeroizing::new([n; ATS_LEN]), at);
            assert_eq!(added, LegacyAdded::Added);
        }
        let last = 1000 + 3 * LEGACY_ADD_EVERY_SECS;
        // The same key heard again is not kept twice.
        let again = store.add_legacy(Zeroizing::new([3; ATS_LEN]), last + 1);
        assert_eq!(again, LegacyAdded::Known);
        // A new key within a minute of the last one is refused; a minute later it is taken.
        let early = store.add_legacy(
            Zeroizing::new([4; ATS_LEN]),
            last + LEGACY_ADD_EVERY_SECS - 1,
        );
        assert_eq!(early, LegacyAdded::Limited);
        let inner = store.lock();
        let block = build_block(&inner, 1001);
        let names = names(&block);
        assert_eq!(names.len(), 3);
        assert_eq!(names[0], *inner.start_key.as_ref().unwrap().stek.name());
        assert_eq!(&names[1..], &[[3; 16], [2; 16]]);
    }

    #[test]
    fn an_older_keyring_is_refused_and_installs_nothing() {
        let keys = ClusterKeys::derive(
            &atsreuse_core::keys::Psk::from_file_bytes(b"unit test key material\n").unwrap(),
            "unit",
        )
        .unwrap();
        let store = KeyStore::new(entry(0, 1000, 1000, 5000), LIFETIME);
        let seal = |keyring: &Keyring| {
            let mut plain = [0u8; ENCODED_MAX_LEN];
            let len = keyring.encode(&mut plain).unwrap();
            let mut out = vec![0u8; len + OVERHEAD];
            let mut sealer = Sealer::new(atsreuse_core::keys::NodeId([7; 16]));
            let n = sealer
                .seal(&keys, Kind::Keyring, 1000, &plain[..len], &mut out)
                .unwrap();
            out.truncate(n);
            out
        };
        let mut old = Keyring::new();
        old.insert(entry(1, 900, 900, 9000)).unwrap();
        let mut new = old.duplicate();
        new.insert(entry(2, 950, 1100, 9500)).unwrap();
        assert_eq!(
            store.receive(&keys, &seal(&new), 1000),
            Ok((Received::Changed, 2))
        );
        assert_eq!(
            store.receive(&keys, &seal(&old), 1000),
            Err(Rejected::OldEpoch(1))
        );
        assert_eq!(store.epoch(), 2);
        let mut tampered = seal(&new);
        tampered[40] ^= 1;
        assert!(matches!(
            store.receive(&keys, &tampered, 1000),
            Err(Rejected::Open(_))
        ));
    }
}
