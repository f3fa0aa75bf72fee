//! The rotation schedule: what the rotating node (the leader) must do at time t.
//!
//! With interval I, lead L and ticket lifetime T (seconds):
//! - Key n+1 activates at activate(n) + I, where key n is the newest key held (greatest
//!   activation, then epoch, then name).
//! - The leader introduces it from 2·L before that activation on: one L for the clocks of the
//!   nodes (each may be up to L/2 off), one L for the keyring to reach every node. Its
//!   `introduce_at` is the moment it is made, so it decrypts everywhere before anyone uses it.
//!   A leader that comes later than L before the activation moves the activation to now + L.
//! - It expires at activate + I + T + L: after it stops encrypting (the next activation) it
//!   still decrypts for the ticket lifetime, plus L for clocks that run behind.
//! - An empty keyring (or one whose keys are all about to expire) gets a key active at once:
//!   nobody can have tickets to protect yet.
//!
//! The guarantee "a key decrypts for T after it stops encrypting" holds as long as some
//! leader acts within L of each introduction time. If the whole pod loses its leader for
//! longer, the old key keeps encrypting past activate + I and the tickets it issues then
//! live shorter than T; the first leader back restores the schedule.
//!
//! [`plan`] is pure; [`apply`] carries a plan out on a keyring with the caller's RNG.

use rand_core::CryptoRngCore;

use crate::keyring::{KeyEntry, KeyTimes, Keyring, CAPACITY};
use crate::stek::Stek;

/// The rotation settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// How long each key encrypts, in seconds.
    pub interval_secs: u64,
    /// How long before activation a key is introduced at the least, in seconds; also the
    /// tolerance for clocks (each node up to half of it off) and for delivery.
    pub lead_secs: u64,
    /// How long a ticket is honoured after its key stops encrypting, in seconds.
    pub ticket_lifetime_secs: u64,
}

/// What the rotating node must do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// Introduce a new key with this epoch and these times.
    pub introduce: Option<(u64, KeyTimes)>,
    /// Some key has expired and must be pruned.
    pub prune: bool,
    /// When to look again, seconds since the Unix epoch (assuming this plan is carried out).
    pub next_check_at: u64,
}

/// Why settings were refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SettingsError {
    /// A zero interval, or a lead time of half the interval or more (the next key is made
    /// two lead times before it activates, so that must fit inside one interval).
    BadInterval,
    /// More keys would be alive at once than a keyring holds.
    TooManyLiveKeys,
}

impl Settings {
    /// Checks the settings against the keyring capacity.
    ///
    /// Room is kept for twice the keys one leader has alive at once: while two nodes both
    /// believe they lead (a lease overlap) each makes its own key per interval, and none of
    /// them may be pushed out of the keyring before it expires.
    pub fn validate(&self) -> Result<(), SettingsError> {
        if self.interval_secs == 0 || self.lead_secs.saturating_mul(2) >= self.interval_secs {
            return Err(SettingsError::BadInterval);
        }
        let live = self.max_live_keys().ok_or(SettingsError::TooManyLiveKeys)?;
        if live.saturating_mul(2) > CAPACITY as u64 {
            return Err(SettingsError::TooManyLiveKeys);
        }
        Ok(())
    }

    /// The most keys one leader's schedule keeps in a keyring at once, `None` on overflow.
    ///
    /// A key is held from its making (up to 2·L before activation, seen by a clock up to L
    /// ahead of the pruning node's) to its expiry (I + T + L after activation): at most
    /// I + T + 4·L, and keys activate I apart.
    pub fn max_live_keys(&self) -> Option<u64> {
        let held = self
            .interval_secs
            .checked_add(self.ticket_lifetime_secs)?
            .checked_add(self.lead_secs.checked_mul(4)?)?;
        held.checked_add(self.interval_secs - 1)?
            .checked_div(self.interval_secs)
    }

    /// The times of a key that activates at `activate_at`.
    fn times(&self, introduce_at: u64, activate_at: u64) -> KeyTimes {
        let expire_at = activate_at
            .saturating_add(self.interval_secs)
            .saturating_add(self.ticket_lifetime_secs)
            .saturating_add(self.lead_secs);
        KeyTimes {
            introduce_at,
            activate_at,
            expire_at,
        }
    }

    /// When the key following one that activates at `activate_at` is due to be made.
    fn next_due(&self, activate_at: u64) -> u64 {
        let lead_twice = self.lead_secs.saturating_mul(2);
        activate_at
            .saturating_add(self.interval_secs)
            .saturating_sub(lead_twice)
    }
}

/// What to do at `now` with `keyring`.
///
/// Call it before pruning: the new epoch is one more than the greatest held, expired keys
/// included, so epochs keep increasing even after every key expired. Settings are expected
/// to have passed [`Settings::validate`]; others give a plan without panicking.
pub fn plan(settings: &Settings, keyring: &Keyring, now: u64) -> Plan {
    let prune = keyring.entries().iter().any(|e| e.times.expire_at <= now);
    let live = keyring.entries().iter().filter(|e| e.times.expire_at > now);
    let newest = live.clone().max_by(|a, b| a.newness_cmp(b));
    let next_epoch = keyring.epoch().saturating_add(1);

    let introduce = match newest {
        Some(newest) if now < settings.next_due(newest.times.activate_at) => None,
        Some(newest) => {
            let on_time = newest
                .times
                .activate_at
                .saturating_add(settings.interval_secs);
            let activate_at = on_time.max(now.saturating_add(settings.lead_secs));
            // If the newest key expires before its successor could activate, no key would
            // encrypt in between: activate at once, as for an empty keyring.
            let activate_at = if activate_at >= newest.times.expire_at {
                now
            } else {
                activate_at
            };
            Some((next_epoch, settings.times(now, activate_at)))
        }
        None => Some((next_epoch, settings.times(now, now))),
    };

    let next_due = match (introduce, newest) {
        (Some((_, times)), _) => settings.next_due(times.activate_at),
        (None, Some(newest)) => settings.next_due(newest.times.activate_at),
        (None, None) => now,
    };
    let next_expiry = live.map(|e| e.times.expire_at).min().unwrap_or(u64::MAX);
    let next_check_at = next_due.min(next_expiry).max(now.saturating_add(1));
    Plan {
        introduce,
        prune,
        next_check_at,
    }
}

/// Carries out `plan` on `keyring` at `now`: prunes, then adds a new random key if the plan
/// says so. Returns whether the keyring changed.
///
/// The new key goes in through [`Keyring::merge`], so a full keyring makes room by dropping
/// its oldest key instead of refusing the new one.
pub fn apply(plan: &Plan, keyring: &mut Keyring, now: u64, rng: &mut impl CryptoRngCore) -> bool {
    let mut changed = keyring.prune(now);
    if let Some((epoch, times)) = plan.introduce {
        let mut new = Keyring::new();
        let entry = KeyEntry {
            epoch,
            times,
            stek: Stek::generate(rng),
        };
        // The plan's times are ordered by construction; a refusal would only mean a
        // corrupted plan, and then the keyring stays as it is.
        if new.insert(entry).is_ok() {
            changed |= keyring.merge(&new, now);
        }
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::rand_core::SeedableRng;

    const I: u64 = 3600;
    const L: u64 = 300;
    const T: u64 = 3600;
    const SETTINGS: Settings = Settings {
        interval_secs: I,
        lead_secs: L,
        ticket_lifetime_secs: T,
    };
    const START: u64 = 1_000_000;

    fn rng() -> rand_chacha::ChaCha20Rng {
        rand_chacha::ChaCha20Rng::seed_from_u64(1)
    }

    /// A keyring built by following the schedule from START up to `until`.
    fn scheduled(until: u64) -> Keyring {
        let mut keyring = Keyring::new();
        let mut rng = rng();
        let mut now = START;
        while now <= until {
            let p = plan(&SETTINGS, &keyring, now);
            apply(&p, &mut keyring, now, &mut rng);
            now = p.next_check_at;
        }
        keyring
    }

    #[test]
    fn validate_refuses_zero_interval_long_lead_and_too_many_keys() {
        assert_eq!(SETTINGS.validate(), Ok(()));
        let zero = Settings {
            interval_secs: 0,
            ..SETTINGS
        };
        assert_eq!(zero.validate(), Err(SettingsError::BadInterval));
        let long_lead = Settings {
            lead_secs: I / 2,
            ..SETTINGS
        };
        assert_eq!(long_lead.validate(), Err(SettingsError::BadInterval));
        let just_short = Settings {
            lead_secs: I / 2 - 1,
            ticket_lifetime_secs: 0,
            ..SETTINGS
        };
        assert_eq!(just_short.validate(), Ok(()));
        // Lifetime 6 intervals: I + 6I + 4L = 7.33 I -> 8 keys, 16 with two leaders: fits.
        let six = Settings {
            ticket_lifetime_secs: 6 * I,
            ..SETTINGS
        };
        assert_eq!(six.max_live_keys(), Some(8));
        assert_eq!(six.validate(), Ok(()));
        // One second more of lifetime needs a ninth key.
        let over = Settings {
            ticket_lifetime_secs: 6 * I + 1 + (I - 4 * L),
            ..SETTINGS
        };
        assert_eq!(over.max_live_keys(), Some(9));
        assert_eq!(over.validate(), Err(SettingsError::TooManyLiveKeys));
        let just_under = Settings {
            ticket_lifetime_secs: 6 * I + (I - 4 * L),
            ..SETTINGS
        };
        assert_eq!(just_under.validate(), Ok(()));
        let huge = Settings {
            ticket_lifetime_secs: u64::MAX,
            ..SETTINGS
        };
        assert_eq!(huge.validate(), Err(SettingsError::TooManyLiveKeys));
    }

    #[test]
    fn empty_keyring_gets_epoch_one_active_now() {
        let p = plan(&SETTINGS, &Keyring::new(), START);
        let times = KeyTimes {
            introduce_at: START,
            activate_at: START,
            expire_at: START + I + T + L,
        };
        assert_eq!(p.introduce, Some((1, times)));
        assert!(!p.prune);
        assert_eq!(p.next_check_at, START + I - 2 * L);
    }

    #[test]
    fn after_bootstrap_the_next_key_is_made_exactly_two_leads_before_it_activates() {
        let keyring = scheduled(START);
        assert_eq!(keyring.len(), 1);
        let due = START + I - 2 * L;
        assert_eq!(plan(&SETTINGS, &keyring, due - 1).introduce, None);
        assert_eq!(plan(&SETTINGS, &keyring, due - 1).next_check_at, due);
        let at = plan(&SETTINGS, &keyring, due).introduce.unwrap();
        let times = KeyTimes {
            introduce_at: due,
            activate_at: START + I,
            expire_at: START + 2 * I + T + L,
        };
        assert_eq!(at, (2, times));
        // A little late, still before activation - lead: the activation stays on schedule.
        let late = plan(&SETTINGS, &keyring, due + L).introduce.unwrap();
        assert_eq!(late.1.activate_at, START + I);
        assert_eq!(late.1.introduce_at, due + L);
    }

    #[test]
    fn a_leader_later_than_one_lead_keeps_the_full_lead_before_activation() {
        let keyring = scheduled(START);
        let activate_at = |now| {
            plan(&SETTINGS, &keyring, now)
                .introduce
                .unwrap()
                .1
                .activate_at
        };
        // Exactly one lead before the planned activation: still on schedule.
        assert_eq!(activate_at(START + I - L - 1), START + I);
        assert_eq!(activate_at(START + I - L), START + I);
        // Later: the activation moves so that the key keeps a full lead.
        assert_eq!(activate_at(START + I - L + 1), START + I + 1);
        assert_eq!(activate_at(START + I + 500), START + I + 500 + L);
    }

    #[test]
    fn a_keyring_about_to_run_dry_gets_a_key_active_at_once() {
        let keyring = scheduled(START);
        let expire = keyring.entries()[0].times.expire_at;
        let (_, times) = plan(&SETTINGS, &keyring, expire - L).introduce.unwrap();
        assert_eq!(times.activate_at, expire - L);
        let (_, before) = plan(&SETTINGS, &keyring, expire - L - 1).introduce.unwrap();
        assert_eq!(before.activate_at, expire - 1);
    }

    #[test]
    fn keys_expire_exactly_lifetime_plus_lead_after_they_stop_encrypting() {
        let keyring = scheduled(START + 5 * I);
        let entries = keyring.entries();
        for pair in entries.windows(2) {
            let (old, new) = (&pair[0], &pair[1]);
            assert_eq!(new.times.activate_at, old.times.activate_at + I);
            assert_eq!(old.times.expire_at, new.times.activate_at + T + L);
            assert!(new.times.activate_at - new.times.introduce_at >= 2 * L);
        }
    }

    #[test]
    fn prune_is_due_at_expiry_and_not_a_second_before() {
        let keyring = scheduled(START + 3 * I);
        let first = keyring.entries()[0].times.expire_at;
        assert!(!plan(&SETTINGS, &keyring, first - 1).prune);
        assert!(plan(&SETTINGS, &keyring, first).prune);
        assert!(plan(&SETTINGS, &keyring, first + 1).prune);
        let p = plan(&SETTINGS, &keyring, first - 10);
        assert!(p.next_check_at <= first);
    }

    #[test]
    fn every_moment_has_exactly_one_encrypting_key_and_its_successor_is_known_in_time() {
        let mut keyring = Keyring::new();
        let mut rng = rng();
        let end = START + 20 * I;
        let mut now = START;
        let mut next = START;
        while now < end {
            if now >= next {
                let p = plan(&SETTINGS, &keyring, now);
                apply(&p, &mut keyring, now, &mut rng);
                next = p.next_check_at;
                assert!(next > now);
            }
            let current = keyring.encrypting_at(now).expect("a key encrypts");
            // The key that will encrypt one lead from now is already held.
            if let Some(soon) = keyring.encrypting_at(now + L) {
                assert!(soon.times.introduce_at <= now + L);
            }
            assert!(current.times.expire_at > now + T);
            assert!(keyring.len() <= 3);
            now += 60;
        }
        assert_eq!(keyring.epoch(), 21);
    }

    #[test]
    fn epochs_keep_growing_after_every_key_expired() {
        let keyring = scheduled(START);
        let far = START + 100 * I;
        let (epoch, times) = plan(&SETTINGS, &keyring, far).introduce.unwrap();
        assert_eq!(epoch, 2);
        assert_eq!(times.activate_at, far);
    }

    #[test]
    fn apply_makes_room_in_a_full_keyring() {
        let mut keyring = Keyring::new();
        let mut rng = rng();
        for epoch in 1..=CAPACITY as u64 {
            let times = KeyTimes {
                introduce_at: 0,
                activate_at: epoch,
                expire_at: u64::MAX,
            };
            let stek = Stek::generate(&mut rng);
            keyring.insert(KeyEntry { epoch, times, stek }).unwrap();
        }
        let far = u64::MAX - 1;
        let p = Plan {
            introduce: Some((99, SETTINGS.times(10, 20))),
            prune: false,
            next_check_at: far,
        };
        assert!(apply(&p, &mut keyring, 10, &mut rng));
        assert_eq!(keyring.len(), CAPACITY);
        assert_eq!(keyring.entries()[0].epoch, 2);
        assert_eq!(keyring.epoch(), 99);
    }
}
