//! Key schedule: PSK and cluster name in, one key per purpose out.
//!
//! ```text
//! prk          = HKDF-Extract(salt = KDF_SALT, ikm = PSK)
//! purpose key  = HKDF-Expand(prk, info = u8 len ‖ label ‖ u8 len ‖ cluster name, 32)
//! sender key   = HKDF-Expand(purpose key, info = "sender" ‖ node id (16 bytes), 32)
//! ```
//!
//! Labels: `sessions`, `keyrings`, `redis password`. The length prefixes keep a label and a
//! cluster name from running into each other (label `ab` with cluster `c` differs from label
//! `a` with cluster `bc`). The per-sender key lets every node count its GCM nonces up from zero
//! without ever meeting another node's nonce under the same key.
//!
//! Every type holding key bytes erases them on drop, has no `Clone`, and prints no key bytes in
//! its debug form. Limit: the HMAC state inside `hkdf` during a derivation is not erased by
//! that crate; it lives on the stack only for the duration of one call.

use hkdf::Hkdf;
use sha2::Sha256;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Longest PSK accepted, in bytes (the old plugin's limit).
pub const PSK_MAX_LEN: usize = 256;
/// Longest cluster name accepted, in bytes.
pub const CLUSTER_NAME_MAX_LEN: usize = 128;
/// Length of the derived Redis password, in ASCII characters.
pub const REDIS_PASSWORD_LEN: usize = 64;
/// Bytes of every derived key.
pub const KEY_LEN: usize = 32;
/// The fixed HKDF salt of this project: it separates our keys from any other use of the PSK.
pub const KDF_SALT: &[u8] = b"atsreuse key schedule v1";
/// The HKDF info prefix of a per-sender key; the 16-byte node id follows it.
pub const SENDER_LABEL: &[u8] = b"sender";

const LABEL_SESSIONS: &[u8] = b"sessions";
const LABEL_KEYRINGS: &[u8] = b"keyrings";
const LABEL_REDIS_PASSWORD: &[u8] = b"redis password";

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
    /// HKDF was asked for more than 255 × 32 bytes of output.
    OutputTooLong,
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

impl Purpose {
    /// The HKDF label of this purpose.
    pub const fn label(self) -> &'static [u8] {
        match self {
            Purpose::Sessions => LABEL_SESSIONS,
            Purpose::Keyrings => LABEL_KEYRINGS,
        }
    }
}

/// HKDF-SHA256 (RFC 5869) as this crate calls it: extract with `salt`, then expand with the
/// concatenation of `info_parts` into `okm`.
///
/// Public so that the Wycheproof tests run the exact code path of the key schedule.
pub fn hkdf_sha256(
    salt: &[u8],
    ikm: &[u8],
    info_parts: &[&[u8]],
    okm: &mut [u8],
) -> Result<(), KeyError> {
    let hkdf = Hkdf::<Sha256>::new(Some(salt), ikm);
    hkdf.expand_multi_info(info_parts, okm)
        .map_err(|_| KeyError::OutputTooLong)
}

/// The pre-shared key, erased on drop.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct Psk {
    bytes: [u8; PSK_MAX_LEN],
    len: usize,
}

impl Psk {
    /// The PSK from the bytes of its file: trailing newlines (`\n` or `\r\n`) are removed;
    /// what remains must be 1 to [`PSK_MAX_LEN`] bytes.
    pub fn from_file_bytes(bytes: &[u8]) -> Result<Psk, KeyError> {
        let mut rest = bytes;
        while let Some(stripped) = rest.strip_suffix(b"\n") {
            rest = stripped.strip_suffix(b"\r").unwrap_or(stripped);
        }
        if rest.is_empty() {
            return Err(KeyError::EmptyPsk);
        }
        if rest.len() > PSK_MAX_LEN {
            return Err(KeyError::PskTooLong);
        }
        let mut psk = Psk {
            bytes: [0; PSK_MAX_LEN],
            len: rest.len(),
        };
        psk.bytes[..rest.len()].copy_from_slice(rest);
        Ok(psk)
    }

    /// Length in bytes (for warnings about short keys; never log the bytes).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the PSK is empty (never true for a constructed PSK).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether two PSKs are equal, in time that depends only on their lengths.
    pub fn ct_eq(&self, other: &Psk) -> bool {
        self.expose_bytes().ct_eq(other.expose_bytes()).into()
    }

    /// The PSK bytes. For key derivation and vector runners only: never log them.
    pub fn expose_bytes(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or(&[])
    }
}

impl core::fmt::Debug for Psk {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Psk")
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

/// Checks a cluster name and returns it as a length-prefix byte.
fn cluster_len_prefix(cluster: &str) -> Result<[u8; 1], KeyError> {
    match u8::try_from(cluster.len()) {
        Ok(n) if n > 0 && cluster.len() <= CLUSTER_NAME_MAX_LEN => Ok([n]),
        _ => Err(KeyError::BadClusterName),
    }
}

/// Derives the purpose key with `label` for `cluster`.
fn derive_purpose_key(psk: &Psk, cluster: &str, label: &[u8]) -> Result<[u8; KEY_LEN], KeyError> {
    let cluster_len = cluster_len_prefix(cluster)?;
    // Labels are short constants of this module: they always fit the one-byte prefix.
    let label_len = [u8::try_from(label.len()).unwrap_or(u8::MAX)];
    let info: [&[u8]; 4] = [&label_len, label, &cluster_len, cluster.as_bytes()];
    let mut key = [0u8; KEY_LEN];
    hkdf_sha256(KDF_SALT, psk.expose_bytes(), &info, &mut key)?;
    Ok(key)
}

/// The keys of one cluster, erased on drop.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct ClusterKeys {
    sessions: [u8; KEY_LEN],
    keyrings: [u8; KEY_LEN],
    #[zeroize(skip)]
    cluster: heapless::String<CLUSTER_NAME_MAX_LEN>,
}

/// A sender's AES-256-GCM key for one purpose, erased on drop.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct SenderKey {
    bytes: [u8; KEY_LEN],
}

impl SenderKey {
    /// A key from raw bytes: for tests and vector runners that check the AEAD on its own.
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> SenderKey {
        SenderKey { bytes }
    }

    /// The key bytes. For the AEAD and for vector runners only: never log them.
    pub fn expose_bytes(&self) -> &[u8; KEY_LEN] {
        &self.bytes
    }
}

impl core::fmt::Debug for SenderKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("SenderKey(AES-256-GCM, ..)")
    }
}

impl ClusterKeys {
    /// Derives every purpose key for `cluster` from `psk`.
    pub fn derive(psk: &Psk, cluster: &str) -> Result<ClusterKeys, KeyError> {
        let mut name = heapless::String::new();
        name.push_str(cluster)
            .map_err(|_| KeyError::BadClusterName)?;
        Ok(ClusterKeys {
            sessions: derive_purpose_key(psk, cluster, LABEL_SESSIONS)?,
            keyrings: derive_purpose_key(psk, cluster, LABEL_KEYRINGS)?,
            cluster: name,
        })
    }

    /// The cluster name these keys are bound to.
    pub fn cluster(&self) -> &str {
        self.cluster.as_str()
    }

    /// The purpose key itself. For vector runners only: never log it.
    pub fn expose_purpose_key(&self, purpose: Purpose) -> &[u8; KEY_LEN] {
        match purpose {
            Purpose::Sessions => &self.sessions,
            Purpose::Keyrings => &self.keyrings,
        }
    }

    /// The key that `sender` seals `purpose` messages with.
    pub fn sender_key(&self, purpose: Purpose, sender: &NodeId) -> SenderKey {
        let prk = self.expose_purpose_key(purpose);
        let mut key = SenderKey {
            bytes: [0; KEY_LEN],
        };
        // A 32-byte PRK is exactly SHA-256's output size, so `from_prk` accepts it, and
        // 32 bytes of output are far below HKDF's limit: neither call can fail.
        if let Ok(hkdf) = Hkdf::<Sha256>::from_prk(prk) {
            let info: [&[u8]; 2] = [SENDER_LABEL, &sender.0];
            let _ = hkdf.expand_multi_info(&info, &mut key.bytes);
        }
        key
    }
}

impl core::fmt::Debug for ClusterKeys {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ClusterKeys")
            .field("cluster", &self.cluster())
            .finish_non_exhaustive()
    }
}

/// The Redis password derived from the PSK: 64 lowercase hex characters, so an eavesdropper on
/// Redis AUTH learns nothing that opens a message.
pub fn redis_password(psk: &Psk, cluster: &str) -> Result<[u8; REDIS_PASSWORD_LEN], KeyError> {
    let mut key = derive_purpose_key(psk, cluster, LABEL_REDIS_PASSWORD)?;
    let mut out = [0u8; REDIS_PASSWORD_LEN];
    for (pair, byte) in out.chunks_exact_mut(2).zip(key.iter()) {
        pair.copy_from_slice(&hex_pair(*byte));
    }
    key.zeroize();
    Ok(out)
}

/// One byte as two lowercase hex digits.
fn hex_pair(byte: u8) -> [u8; 2] {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    [
        DIGITS[usize::from(byte >> 4)],
        DIGITS[usize::from(byte & 0x0f)],
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::format;

    fn psk(bytes: &[u8]) -> Psk {
        Psk::from_file_bytes(bytes).expect("valid psk")
    }

    #[test]
    fn psk_file_loses_its_trailing_newlines_only() {
        assert_eq!(psk(b"secret\n").expose_bytes(), b"secret");
        assert_eq!(psk(b"secret\r\n\n").expose_bytes(), b"secret");
        assert_eq!(psk(b"sec\nret").expose_bytes(), b"sec\nret");
        assert_eq!(psk(b" secret ").expose_bytes(), b" secret ");
    }

    #[test]
    fn psk_must_be_one_to_256_bytes() {
        assert_eq!(
            Psk::from_file_bytes(b"\n\n").err(),
            Some(KeyError::EmptyPsk)
        );
        assert_eq!(Psk::from_file_bytes(b"").err(), Some(KeyError::EmptyPsk));
        assert_eq!(psk(&[7u8; 256]).len(), 256);
        let long = [7u8; 257];
        assert_eq!(
            Psk::from_file_bytes(&long).err(),
            Some(KeyError::PskTooLong)
        );
    }

    #[test]
    fn cluster_name_must_be_one_to_128_bytes() {
        let p = psk(b"secret");
        assert!(ClusterKeys::derive(&p, &"c".repeat(128)).is_ok());
        let long = "c".repeat(129);
        assert_eq!(
            ClusterKeys::derive(&p, &long).err(),
            Some(KeyError::BadClusterName)
        );
        assert_eq!(
            ClusterKeys::derive(&p, "").err(),
            Some(KeyError::BadClusterName)
        );
        assert_eq!(redis_password(&p, "").err(), Some(KeyError::BadClusterName));
    }

    #[test]
    fn purpose_key_matches_hkdf_written_out_by_hand() {
        let keys = ClusterKeys::derive(&psk(b"secret"), "pod").expect("keys");
        let mut expected = [0u8; 32];
        let info = b"\x08sessions\x03pod";
        Hkdf::<Sha256>::new(Some(KDF_SALT), b"secret")
            .expand(info, &mut expected)
            .expect("expand");
        assert_eq!(keys.expose_purpose_key(Purpose::Sessions), &expected);
    }

    #[test]
    fn every_purpose_cluster_psk_and_sender_gives_another_key() {
        let a = ClusterKeys::derive(&psk(b"secret"), "pod").expect("keys");
        let b = ClusterKeys::derive(&psk(b"secret"), "pod2").expect("keys");
        let c = ClusterKeys::derive(&psk(b"secreT"), "pod").expect("keys");
        let n1 = NodeId([1; 16]);
        let n2 = NodeId([2; 16]);
        let keys = [
            *a.sender_key(Purpose::Sessions, &n1).expose_bytes(),
            *a.sender_key(Purpose::Keyrings, &n1).expose_bytes(),
            *a.sender_key(Purpose::Sessions, &n2).expose_bytes(),
            *b.sender_key(Purpose::Sessions, &n1).expose_bytes(),
            *c.sender_key(Purpose::Sessions, &n1).expose_bytes(),
            *a.expose_purpose_key(Purpose::Sessions),
            *a.expose_purpose_key(Purpose::Keyrings),
        ];
        for (i, x) in keys.iter().enumerate() {
            for y in keys.iter().skip(i + 1) {
                assert_ne!(x, y);
            }
        }
    }

    #[test]
    fn length_prefixes_keep_label_and_cluster_apart() {
        let p = psk(b"secret");
        let a = derive_purpose_key(&p, "bc", b"a").expect("key");
        let b = derive_purpose_key(&p, "c", b"ab").expect("key");
        assert_ne!(a, b);
    }

    #[test]
    fn redis_password_is_64_lowercase_hex_and_not_the_psk() {
        let p = psk(b"secret");
        let pw = redis_password(&p, "pod").expect("password");
        assert!(pw
            .iter()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(c)));
        assert_ne!(&pw[..], &redis_password(&p, "pod2").expect("password")[..]);
        let sessions = ClusterKeys::derive(&p, "pod").expect("keys");
        let hex_of_sessions: std::string::String = sessions
            .expose_purpose_key(Purpose::Sessions)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_ne!(hex_of_sessions.as_bytes(), &pw[..]);
    }

    #[test]
    fn debug_output_shows_no_key_bytes() {
        let p = psk(&[0xab; 40]);
        let keys = ClusterKeys::derive(&p, "pod").expect("keys");
        let sender = keys.sender_key(Purpose::Sessions, &NodeId([0; 16]));
        let texts = [format!("{p:?}"), format!("{keys:?}"), format!("{sender:?}")];
        assert_eq!(texts[0], "Psk { len: 40, .. }");
        assert_eq!(texts[1], "ClusterKeys { cluster: \"pod\", .. }");
        assert_eq!(texts[2], "SenderKey(AES-256-GCM, ..)");
        let key_hex: std::string::String = sender.expose_bytes()[..4]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        for text in &texts {
            assert!(!text.contains("171") && !text.contains("ab, ab"));
            assert!(!text.contains(&key_hex));
        }
    }

    #[test]
    fn psk_comparison_sees_every_byte() {
        assert!(psk(b"secret").ct_eq(&psk(b"secret\n")));
        assert!(!psk(b"secret").ct_eq(&psk(b"secreT")));
        assert!(!psk(b"secret").ct_eq(&psk(b"secret2")));
    }

    #[test]
    fn hkdf_rejects_an_output_longer_than_255_blocks() {
        let mut okm = [0u8; 255 * 32 + 1];
        let too_long = hkdf_sha256(b"", b"ikm", &[], &mut okm);
        assert_eq!(too_long, Err(KeyError::OutputTooLong));
        assert!(hkdf_sha256(b"", b"ikm", &[], &mut okm[..255 * 32]).is_ok());
    }
}
