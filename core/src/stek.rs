//! One session-ticket encryption key (STEK) and the layouts it is exported in.
//!
//! A STEK is a 16-byte name (sent in clear in every ticket), a 32-byte HMAC key and a 32-byte
//! AES key. The pod generates full-size secrets; each export takes the part its product uses.
//!
//! | layout      | bytes | field order                      | source |
//! |-------------|-------|----------------------------------|--------|
//! | `Ats`       | 48    | name 16 ‖ hmac[..16] ‖ aes[..16] | ATS `TSSslTicketKeyUpdate` |
//! | `Nginx48`   | 48    | name 16 ‖ aes[..16] ‖ hmac[..16] | nginx `ssl_session_ticket_key` |
//! | `Nginx80`   | 80    | name 16 ‖ hmac 32 ‖ aes 32       | nginx `ssl_session_ticket_key` |
//! | `Haproxy48` | 48    | name 16 ‖ aes[..16] ‖ hmac[..16] | HAProxy `tls_sess_key_128` |
//! | `Haproxy80` | 80    | name 16 ‖ aes 32 ‖ hmac 32       | HAProxy `tls_sess_key_256` |
//!
//! Each branch of [`Stek::export`] cites the source file and function it follows.
//! Note that nginx swaps the two secrets between its 48- and 80-byte files, HAProxy does not.

use rand_core::CryptoRngCore;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Bytes of a STEK name.
pub const NAME_LEN: usize = 16;
/// Bytes of the HMAC key and of the AES key.
pub const SECRET_LEN: usize = 32;
/// Bytes of one key in ATS's `TSSslTicketKeyUpdate` block.
pub const ATS_LEN: usize = 48;
/// Bytes of the secrets a 48-byte layout keeps (AES-128 and a 16-byte HMAC key).
const SHORT_SECRET_LEN: usize = 16;

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
    /// HAProxy `tls-ticket-keys`, 48 bytes (AES-128). Raw bytes: HAProxy's file holds one
    /// base64 line per key, the caller encodes.
    Haproxy48,
    /// HAProxy `tls-ticket-keys`, 80 bytes (AES-256). Raw bytes, as for [`Layout::Haproxy48`].
    Haproxy80,
}

// A layout is never empty, so an `is_empty` beside `len` would always say false.
#[allow(clippy::len_without_is_empty)]
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
///
/// Not `Clone`: every copy of the secrets goes through [`Stek::duplicate`], so copies are
/// visible in the code. Moving a value may leave bytes on the stack that no drop erases; the
/// `zeroize` crate documents that limit, and nothing in safe Rust removes it.
pub struct Stek {
    name: [u8; NAME_LEN],
    hmac_key: [u8; SECRET_LEN],
    aes_key: [u8; SECRET_LEN],
}

impl Stek {
    /// A new random STEK.
    pub fn generate(rng: &mut impl CryptoRngCore) -> Stek {
        loop {
            let mut stek = Stek::empty();
            rng.fill_bytes(&mut stek.name);
            rng.fill_bytes(&mut stek.hmac_key);
            rng.fill_bytes(&mut stek.aes_key);
            // A working RNG never gives an all-zero part or two equal secrets; a broken one
            // (stuck at one value) would loop forever here instead of handing out a weak key,
            // which is the only safe outcome without an error path.
            if stek.check().is_ok() {
                return stek;
            }
        }
    }

    /// A STEK from its parts; all-zero parts and equal secrets are refused.
    pub fn from_parts(
        name: [u8; NAME_LEN],
        hmac_key: [u8; SECRET_LEN],
        aes_key: [u8; SECRET_LEN],
    ) -> Result<Stek, StekError> {
        let stek = Stek {
            name,
            hmac_key,
            aes_key,
        };
        stek.check()?;
        Ok(stek)
    }

    /// The name, sent in clear in every ticket.
    pub fn name(&self) -> &[u8; NAME_LEN] {
        &self.name
    }

    /// Whether `name` is this key's name, compared in constant time.
    pub fn has_name(&self, name: &[u8; NAME_LEN]) -> bool {
        bool::from(self.name.ct_eq(name))
    }

    /// The 32-byte HMAC key.
    pub fn hmac_key(&self) -> &[u8; SECRET_LEN] {
        &self.hmac_key
    }

    /// The 32-byte AES key.
    pub fn aes_key(&self) -> &[u8; SECRET_LEN] {
        &self.aes_key
    }

    /// An explicit copy (STEKs are not `Clone`, so copies of secrets are visible in code).
    pub fn duplicate(&self) -> Stek {
        Stek {
            name: self.name,
            hmac_key: self.hmac_key,
            aes_key: self.aes_key,
        }
    }

    /// Whether both keys hold the same name and secrets, compared in constant time.
    pub fn same_key(&self, other: &Stek) -> bool {
        let same = self.name.ct_eq(&other.name)
            & self.hmac_key.ct_eq(&other.hmac_key)
            & self.aes_key.ct_eq(&other.aes_key);
        bool::from(same)
    }

    /// Writes the key in `layout` into `out`, returns the length written.
    pub fn export(&self, layout: Layout, out: &mut [u8]) -> Result<usize, StekError> {
        let len = layout.len();
        let out = out.get_mut(..len).ok_or(StekError::BufferTooSmall)?;
        let (name, secrets) = out.split_at_mut(NAME_LEN);
        name.copy_from_slice(&self.name);
        let (first, second) = secrets.split_at_mut(secrets.len() / 2);
        let short = SHORT_SECRET_LEN;
        match layout {
            // ATS 9.2 iocore/net/SSLCertLookup.cc, ticket_block_create() (what
            // TSSslTicketKeyUpdate calls): each 48-byte record is copied into `ssl_ticket_key_t
            // { key_name[16]; hmac_secret[16]; aes_key[16]; }` (iocore/net/P_SSLCertLookup.h).
            Layout::Ats => {
                first.copy_from_slice(&self.hmac_key[..short]);
                second.copy_from_slice(&self.aes_key[..short]);
            }
            // nginx src/event/ngx_event_openssl.c, ngx_ssl_session_ticket_keys(): a 48-byte
            // file is name (0..16), aes_key (16..32), hmac_key (32..48); an 80-byte file is
            // name (0..16), hmac_key (16..48), aes_key (48..80).
            Layout::Nginx48 => {
                first.copy_from_slice(&self.aes_key[..short]);
                second.copy_from_slice(&self.hmac_key[..short]);
            }
            Layout::Nginx80 => {
                first.copy_from_slice(&self.hmac_key);
                second.copy_from_slice(&self.aes_key);
            }
            // HAProxy include/haproxy/ssl_sock-t.h: `struct tls_sess_key_128 { name[16];
            // aes_key[16]; hmac_key[16]; }` and `struct tls_sess_key_256 { name[16];
            // aes_key[32]; hmac_key[32]; }`, both packed; the tls-ticket-keys file gives one
            // base64 line per key, decoded into these structs by its length (48 or 80).
            Layout::Haproxy48 => {
                first.copy_from_slice(&self.aes_key[..short]);
                second.copy_from_slice(&self.hmac_key[..short]);
            }
            Layout::Haproxy80 => {
                first.copy_from_slice(&self.aes_key);
                second.copy_from_slice(&self.hmac_key);
            }
        }
        Ok(len)
    }

    /// An all-zero placeholder for unused keyring slots; never handed out as a key.
    pub(crate) const fn empty() -> Stek {
        Stek {
            name: [0; NAME_LEN],
            hmac_key: [0; SECRET_LEN],
            aes_key: [0; SECRET_LEN],
        }
    }

    /// Erases the secrets and the name in place.
    pub(crate) fn wipe(&mut self) {
        self.name.zeroize();
        self.hmac_key.zeroize();
        self.aes_key.zeroize();
    }

    /// Checks the rules every STEK obeys: no all-zero part, two different secrets.
    fn check(&self) -> Result<(), StekError> {
        let zero_name = self.name.ct_eq(&[0; NAME_LEN]);
        let zero_hmac = self.hmac_key.ct_eq(&[0; SECRET_LEN]);
        let zero_aes = self.aes_key.ct_eq(&[0; SECRET_LEN]);
        if bool::from(zero_name | zero_hmac | zero_aes) {
            return Err(StekError::AllZero);
        }
        // The 48-byte layouts keep only the first 16 bytes of each secret, so those must
        // differ too, or an exported AES-128 key would equal its HMAC key.
        let short = SHORT_SECRET_LEN;
        let same_short = self.hmac_key[..short].ct_eq(&self.aes_key[..short]);
        if bool::from(self.hmac_key.ct_eq(&self.aes_key) | same_short) {
            return Err(StekError::SameSecrets);
        }
        Ok(())
    }
}

impl Drop for Stek {
    fn drop(&mut self) {
        self.wipe();
    }
}

impl ZeroizeOnDrop for Stek {}

impl core::fmt::Debug for Stek {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Stek { name: ")?;
        for byte in self.name {
            write!(f, "{byte:02x}")?;
        }
        f.write_str(", .. }")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::rand_core::SeedableRng;
    use std::format;

    fn counting_stek() -> Stek {
        let byte = |i: usize| u8::try_from(i).unwrap();
        let name = core::array::from_fn(byte);
        let hmac = core::array::from_fn(|i| 0x20 + byte(i));
        let aes = core::array::from_fn(|i| 0x40 + byte(i));
        Stek::from_parts(name, hmac, aes).unwrap()
    }

    fn exported(stek: &Stek, layout: Layout) -> std::vec::Vec<u8> {
        let mut out = [0u8; 80];
        let len = stek.export(layout, &mut out).unwrap();
        out[..len].to_vec()
    }

    fn run(start: u8, len: u8) -> std::vec::Vec<u8> {
        (start..start + len).collect()
    }

    #[test]
    fn ats_layout_is_name_then_hmac_then_aes_prefixes() {
        let want = [run(0, 16), run(0x20, 16), run(0x40, 16)].concat();
        assert_eq!(exported(&counting_stek(), Layout::Ats), want);
    }

    #[test]
    fn nginx_48_puts_aes_before_hmac_and_80_puts_hmac_first() {
        let stek = counting_stek();
        let want48 = [run(0, 16), run(0x40, 16), run(0x20, 16)].concat();
        let want80 = [run(0, 16), run(0x20, 32), run(0x40, 32)].concat();
        assert_eq!(exported(&stek, Layout::Nginx48), want48);
        assert_eq!(exported(&stek, Layout::Nginx80), want80);
    }

    #[test]
    fn haproxy_puts_aes_before_hmac_in_both_sizes() {
        let stek = counting_stek();
        let want48 = [run(0, 16), run(0x40, 16), run(0x20, 16)].concat();
        let want80 = [run(0, 16), run(0x40, 32), run(0x20, 32)].concat();
        assert_eq!(exported(&stek, Layout::Haproxy48), want48);
        assert_eq!(exported(&stek, Layout::Haproxy80), want80);
    }

    #[test]
    fn export_refuses_a_short_buffer_and_writes_nothing() {
        let stek = counting_stek();
        let mut out = [0xAAu8; 79];
        assert_eq!(
            stek.export(Layout::Nginx80, &mut out),
            Err(StekError::BufferTooSmall)
        );
        assert!(out.iter().all(|&b| b == 0xAA));
        assert_eq!(stek.export(Layout::Ats, &mut out[..48]), Ok(48));
    }

    #[test]
    fn all_zero_parts_are_refused() {
        let one = [1u8; 32];
        let two = [2u8; 32];
        assert_eq!(
            Stek::from_parts([0; 16], one, two).err(),
            Some(StekError::AllZero)
        );
        assert_eq!(
            Stek::from_parts([1; 16], [0; 32], two).err(),
            Some(StekError::AllZero)
        );
        assert_eq!(
            Stek::from_parts([1; 16], one, [0; 32]).err(),
            Some(StekError::AllZero)
        );
    }

    #[test]
    fn equal_secrets_are_refused_also_when_only_the_short_prefix_is_equal() {
        let one = [1u8; 32];
        assert_eq!(
            Stek::from_parts([1; 16], one, one).err(),
            Some(StekError::SameSecrets)
        );
        let mut other = one;
        other[31] = 9;
        assert_eq!(
            Stek::from_parts([1; 16], one, other).err(),
            Some(StekError::SameSecrets)
        );
        other[0] = 9;
        assert!(Stek::from_parts([1; 16], one, other).is_ok());
    }

    #[test]
    fn debug_output_shows_the_name_and_no_secret() {
        let text = format!("{:?}", counting_stek());
        assert_eq!(text, "Stek { name: 000102030405060708090a0b0c0d0e0f, .. }");
    }

    #[test]
    fn generated_keys_differ_and_pass_the_checks() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(7);
        let a = Stek::generate(&mut rng);
        let b = Stek::generate(&mut rng);
        assert!(a.check().is_ok());
        assert!(!a.same_key(&b));
        assert_ne!(a.name(), b.name());
    }

    #[test]
    fn duplicate_is_the_same_key_and_names_compare() {
        let a = counting_stek();
        let b = a.duplicate();
        assert!(a.same_key(&b));
        assert!(a.has_name(b.name()));
        assert!(!a.has_name(&[9; 16]));
    }

    #[test]
    fn wipe_erases_every_byte() {
        let mut a = counting_stek();
        a.wipe();
        assert_eq!(a.name(), &[0; 16]);
        assert_eq!(a.hmac_key(), &[0; 32]);
        assert_eq!(a.aes_key(), &[0; 32]);
    }
}
