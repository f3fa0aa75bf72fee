//! The core of atsreuse: everything that must be exact and needs no operating system.
//!
//! - [`keys`]: the key schedule, from the pre-shared key (PSK) and the cluster name.
//! - [`envelope`]: the sealed message every node sends (AES-256-GCM, header as AAD).
//! - [`session`]: the session record carried inside an envelope.
//! - [`stek`]: one session-ticket encryption key and its export layouts.
//! - [`keyring`]: the ordered set of STEKs a pod uses, its merge and its seal.
//! - [`rotation`]: what the rotating node must do at a given time.
//! - [`legacy`]: the wire format of the ATS 9.x `ssl_session_reuse` plugin (feature `legacy`).
//!
//! The crate reads no clock and owns no random number generator: time is a number of seconds
//! since the Unix epoch passed by the caller, randomness a `rand_core` RNG passed by the caller.
#![no_std]
#![forbid(unsafe_code)]
#![warn(clippy::std_instead_of_core, clippy::alloc_instead_of_core)]

#[cfg(test)]
extern crate std;

pub mod envelope;
pub mod keyring;
pub mod keys;
#[cfg(feature = "legacy")]
pub mod legacy;
pub mod rotation;
pub mod session;
pub mod stek;
