//! One session-ticket encryption key (STEK) and the layouts it is exported in.
//!
//! CONTRACT (skeleton). A STEK is a 16-byte name, a 32-byte HMAC key and a 32-byte AES key.
//! Exports: ATS `TSSslTicketKeyUpdate` 48 bytes (name ‖ hmac[..16] ‖ aes[..16]); nginx 48 and
//! 80; HAProxy 48 and 80 (field orders differ by product; cite each product's source).

use rand_core::CryptoRngCore;

/// Bytes of a STEK name.
pub const NAME_LEN: usize = 16;
/// Bytes of the HMAC key and of the AES key.
pub const SECRET_LEN: usize = 32;
/// Bytes of one key in ATS's `TSSslTicketKeyUpdate` block.
pub const ATS_LEN: usize = 48;

/// Why a STEK was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StekError {
    /// A name, HMAC key or AES key of all zero bytes.
    AllZero,
    /// The HMAC key equals the AES key.
    SameSecrets,
    /// The output buffer is too small for the layout.
    BufferTooSmall,
}

/// The key-file layouts a STEK can be exported in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Layout {
    /// ATS `TSSslTicketKeyUpdate`, 48 bytes.
    Ats,
    /// nginx `ssl_session_ticket_key`, 48 bytes (AES-128).
    Nginx48,
    /// nginx `ssl_session_ticket_key`, 80 bytes (AES-256).
    Nginx80,
    /// HAProxy `tls-ticket-keys`, 48 bytes (AES-128).
    Haproxy48,
    /// HAProxy `tls-ticket-keys`, 80 bytes (AES-256).
    Haproxy80,
}

impl Layout {
    /// Bytes of one key in this layout.
    pub const fn len(self) -> usize {
        match self {
            Layout::Ats | Layout::Nginx48 | Layout::Haproxy48 => 48,
            Layout::Nginx80 | Layout::Haproxy80 => 80,
        }
    }
}

/// One STEK, erased on drop; its debug form shows only the name.
pub struct Stek {
    _todo: (),
}

impl Stek {
    /// A new random STEK.
    pub fn generate(_rng: &mut impl CryptoRngCore) -> Stek {
        todo!()
    }
    /// A STEK from its parts; all-zero parts and equal secrets are refused.
    pub fn from_parts(
        _name: [u8; NAME_LEN],
        _hmac_key: [u8; SECRET_LEN],
        _aes_key: [u8; SECRET_LEN],
    ) -> Result<Stek, StekError> {
        todo!()
    }
    /// The name, sent in clear in every ticket.
    pub fn name(&self) -> &[u8; NAME_LEN] {
        todo!()
    }
    /// An explicit copy (STEKs are not `Clone`, so copies of secrets are visible in code).
    pub fn duplicate(&self) -> Stek {
        todo!()
    }
    /// Writes the key in `layout` into `out`, returns the length written.
    pub fn export(&self, _layout: Layout, _out: &mut [u8]) -> Result<usize, StekError> {
        todo!()
    }
}
