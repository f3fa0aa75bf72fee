//! The rotation schedule: what the rotating node must do at time t.
//!
//! CONTRACT (skeleton). Key n activates at activate(n-1) + interval; it is introduced no later
//! than lead before that; it expires at its deactivation (the next activation) + ticket
//! lifetime. `plan` is pure.

use crate::keyring::{KeyTimes, Keyring};

/// The rotation settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// How long each key encrypts, in seconds.
    pub interval_secs: u64,
    /// How long before activation a key is introduced, in seconds.
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
    /// When to look again, seconds since the Unix epoch.
    pub next_check_at: u64,
}

/// Why settings were refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SettingsError {
    /// A zero interval, or a lead time not shorter than the interval.
    BadInterval,
    /// More keys would be alive at once than a keyring holds.
    TooManyLiveKeys,
}

impl Settings {
    /// Checks the settings against the keyring capacity.
    pub fn validate(&self) -> Result<(), SettingsError> {
        todo!()
    }
}

/// What to do at `now` with `keyring`.
pub fn plan(_settings: &Settings, _keyring: &Keyring, _now: u64) -> Plan {
    todo!()
}
