//! The sealed envelope: a clear header authenticated with the cluster name, an AES-256-GCM body.
//!
//! Layout, all integers big-endian:
//!
//! | field      | bytes | |
//! |------------|-------|---|
//! | version    | 1     | [`VERSION`] |
//! | kind       | 1     | [`Kind`] |
//! | sender     | 16    | the sender's [`NodeId`] |
//! | sequence   | 8     | counts up from 0 per sender; the GCM nonce is 4 zero bytes ‖ sequence |
//! | issued_at  | 8     | seconds since the Unix epoch |
//! | ciphertext | n     | n ≤ [`MAX_PLAINTEXT_LEN`] |
//! | tag        | 16    | |
//!
//! AAD = header ‖ u8 length of cluster name ‖ cluster name. The key is the sender key of the
//! purpose that matches `kind` ([`crate::keys::ClusterKeys::sender_key`]), so a nonce repeats
//! only if one sender reuses a sequence number, which [`Sealer`] never does.
//!
//! Opening checks, in this order: length, version, kind, output room, tag, freshness. The
//! freshness check reads the authenticated time, so a forged time is reported as a bad tag.
//!
//! Each seal and open builds its cipher value on the stack from the sender key; its AES key
//! schedule and GHASH key are erased when it drops (the `zeroize` features of `aes` and
//! `polyval`, switched on in Cargo.toml). Deriving the sender key per message costs one HMAC;
//! the bench (`benches/core.rs`) shows a whole seal still below the legacy encoder's time.

use aes_gcm::aead::AeadInPlace;
use aes_gcm::{Aes256Gcm, Key, KeyInit, Nonce, Tag};
use zeroize::Zeroize;

use crate::keys::{ClusterKeys, NodeId, Purpose, SenderKey, CLUSTER_NAME_MAX_LEN};

/// The envelope format version this crate writes and reads.
pub const VERSION: u8 = 1;
/// Bytes of the clear header.
pub const HEADER_LEN: usize = 34;
/// Bytes of the GCM tag.
pub const TAG_LEN: usize = 16;
/// Bytes of the GCM nonce.
pub const NONCE_LEN: usize = 12;
/// Bytes an envelope adds to its plaintext.
pub const OVERHEAD: usize = HEADER_LEN + TAG_LEN;
/// Longest plaintext sealed or opened, in bytes.
pub const MAX_PLAINTEXT_LEN: usize = 16 * 1024;
/// Longest envelope sealed or opened, in bytes.
pub const MAX_ENVELOPE_LEN: usize = MAX_PLAINTEXT_LEN + OVERHEAD;

/// Longest AAD: header, length byte, cluster name.
const AAD_MAX_LEN: usize = HEADER_LEN + 1 + CLUSTER_NAME_MAX_LEN;

/// What an envelope carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    /// A [`crate::session::SessionRecord`].
    Session = 1,
    /// A [`crate::keyring::Keyring`].
    Keyring = 2,
}

impl Kind {
    /// The kind a byte names, if any.
    pub const fn from_byte(byte: u8) -> Option<Kind> {
        match byte {
            1 => Some(Kind::Session),
            2 => Some(Kind::Keyring),
            _ => None,
        }
    }

    /// The key purpose that seals this kind.
    pub const fn purpose(self) -> Purpose {
        match self {
            Kind::Session => Purpose::Sessions,
            Kind::Keyring => Purpose::Keyrings,
        }
    }
}

/// The clear header of an envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// What the body is.
    pub kind: Kind,
    /// Who sealed it.
    pub sender: NodeId,
    /// The sender's message counter, also the nonce.
    pub sequence: u64,
    /// When it was sealed, seconds since the Unix epoch.
    pub issued_at: u64,
}

impl Header {
    /// The header's wire form.
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[0] = VERSION;
        out[1] = self.kind as u8;
        out[2..18].copy_from_slice(&self.sender.0);
        out[18..26].copy_from_slice(&self.sequence.to_be_bytes());
        out[26..34].copy_from_slice(&self.issued_at.to_be_bytes());
        out
    }

    /// The GCM nonce of this header: 4 zero bytes, then the sequence.
    pub fn nonce(&self) -> [u8; NONCE_LEN] {
        let mut nonce = [0u8; NONCE_LEN];
        nonce[4..].copy_from_slice(&self.sequence.to_be_bytes());
        nonce
    }
}

/// The caller's clock and its tolerance, for rejecting stale and future messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Freshness {
    /// The receiver's time, seconds since the Unix epoch.
    pub now: u64,
    /// Oldest accepted age, in seconds.
    pub max_age_secs: u64,
    /// Furthest accepted distance into the future, in seconds.
    pub max_future_secs: u64,
}

impl Freshness {
    /// Whether a message issued at `issued_at` is inside the window (both ends included).
    pub fn check(&self, issued_at: u64) -> Result<(), OpenError> {
        if issued_at < self.now.saturating_sub(self.max_age_secs) {
            return Err(OpenError::TooOld);
        }
        if issued_at > self.now.saturating_add(self.max_future_secs) {
            return Err(OpenError::FromFuture);
        }
        Ok(())
    }
}

/// Why an envelope could not be sealed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SealError {
    /// The plaintext is longer than [`MAX_PLAINTEXT_LEN`].
    TooLong,
    /// The output buffer is shorter than plaintext + [`OVERHEAD`].
    BufferTooSmall,
    /// The sender's sequence is exhausted.
    SequenceExhausted,
}

/// Why an envelope was rejected. Each reason is counted separately by the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OpenError {
    /// Shorter than a header and a tag, or longer than any envelope ever sealed.
    Malformed,
    /// An unknown version byte.
    UnknownVersion,
    /// A kind byte that is unknown or not the one expected.
    WrongKind,
    /// Authentication failed: tampered, another cluster, or another PSK.
    BadTag,
    /// Issued before `now - max_age_secs`.
    TooOld,
    /// Issued after `now + max_future_secs`.
    FromFuture,
    /// The output buffer is shorter than the plaintext.
    BufferTooSmall,
}

/// Builds the AAD of `header` for `cluster` into `buf`, returns its length.
fn build_aad(header: &[u8; HEADER_LEN], cluster: &str, buf: &mut [u8; AAD_MAX_LEN]) -> usize {
    // ClusterKeys only holds names of 1..=128 bytes, so both fit.
    let name = cluster.as_bytes();
    let name = name.get(..CLUSTER_NAME_MAX_LEN).unwrap_or(name);
    let end = HEADER_LEN + 1 + name.len();
    buf[..HEADER_LEN].copy_from_slice(header);
    buf[HEADER_LEN] = u8::try_from(name.len()).unwrap_or(u8::MAX);
    buf[HEADER_LEN + 1..end].copy_from_slice(name);
    end
}

/// AES-256-GCM encryption of `buf` in place; returns the tag. This is the only place the crate
/// seals with GCM (public so that the Wycheproof tests run this exact code).
pub fn gcm_seal_in_place(
    key: &SenderKey,
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    buf: &mut [u8],
) -> Result<[u8; TAG_LEN], SealError> {
    let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key.expose_bytes()));
    let tag = cipher
        .encrypt_in_place_detached(Nonce::from_slice(nonce), aad, buf)
        .map_err(|_| SealError::TooLong)?;
    Ok(tag.into())
}

/// AES-256-GCM decryption of `buf` in place. The tag is checked (in constant time, by
/// `aes-gcm`) before any byte is decrypted, so on failure `buf` still holds the ciphertext.
pub fn gcm_open_in_place(
    key: &SenderKey,
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    buf: &mut [u8],
    tag: &[u8; TAG_LEN],
) -> Result<(), OpenError> {
    let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key.expose_bytes()));
    cipher
        .decrypt_in_place_detached(Nonce::from_slice(nonce), aad, buf, Tag::from_slice(tag))
        .map_err(|_| OpenError::BadTag)
}

/// A sender: its node id and its next sequence number.
#[derive(Debug)]
pub struct Sealer {
    /// This node's identity.
    pub node: NodeId,
    /// The next sequence number to use.
    pub next_sequence: u64,
}

impl Sealer {
    /// A sender starting at sequence 0.
    pub fn new(node: NodeId) -> Sealer {
        Sealer {
            node,
            next_sequence: 0,
        }
    }

    /// Seals `plaintext` into `out`, returns the envelope length; consumes one sequence number.
    pub fn seal(
        &mut self,
        keys: &ClusterKeys,
        kind: Kind,
        issued_at: u64,
        plaintext: &[u8],
        out: &mut [u8],
    ) -> Result<usize, SealError> {
        if plaintext.len() > MAX_PLAINTEXT_LEN {
            return Err(SealError::TooLong);
        }
        let body = out
            .get_mut(HEADER_LEN..HEADER_LEN + plaintext.len())
            .ok_or(SealError::BufferTooSmall)?;
        body.copy_from_slice(plaintext);
        self.seal_in_place(keys, kind, issued_at, plaintext.len(), out)
    }

    /// Seals the `plaintext_len` bytes that the caller already wrote at
    /// `out[HEADER_LEN..]`: the header goes in front, the tag behind. Returns the envelope
    /// length; consumes one sequence number. Lets a caller encode straight into the envelope.
    pub fn seal_in_place(
        &mut self,
        keys: &ClusterKeys,
        kind: Kind,
        issued_at: u64,
        plaintext_len: usize,
        out: &mut [u8],
    ) -> Result<usize, SealError> {
        if plaintext_len > MAX_PLAINTEXT_LEN {
            return Err(SealError::TooLong);
        }
        let total = plaintext_len + OVERHEAD;
        if out.len() < total {
            return Err(SealError::BufferTooSmall);
        }
        // The last value is never used, so "next" can always be stored after a seal.
        if self.next_sequence == u64::MAX {
            return Err(SealError::SequenceExhausted);
        }
        let header = Header {
            kind,
            sender: self.node,
            sequence: self.next_sequence,
            issued_at,
        };
        self.next_sequence += 1;

        let header_bytes = header.to_bytes();
        let mut aad = [0u8; AAD_MAX_LEN];
        let aad_len = build_aad(&header_bytes, keys.cluster(), &mut aad);
        let key = keys.sender_key(kind.purpose(), &self.node);
        let (head, rest) = out.split_at_mut(HEADER_LEN);
        let (body, tail) = rest.split_at_mut(plaintext_len);
        let tag = gcm_seal_in_place(&key, &header.nonce(), &aad[..aad_len], body)?;
        head.copy_from_slice(&header_bytes);
        tail[..TAG_LEN].copy_from_slice(&tag);
        Ok(total)
    }
}

/// Reads the clear header of an envelope without authenticating anything: for routing and
/// counting only. [`open`] performs the same checks and then the real ones.
pub fn peek_header(envelope: &[u8]) -> Result<Header, OpenError> {
    if envelope.len() < OVERHEAD || envelope.len() > MAX_ENVELOPE_LEN {
        return Err(OpenError::Malformed);
    }
    let mut fixed = [0u8; HEADER_LEN];
    fixed.copy_from_slice(&envelope[..HEADER_LEN]);
    if fixed[0] != VERSION {
        return Err(OpenError::UnknownVersion);
    }
    let kind = Kind::from_byte(fixed[1]).ok_or(OpenError::WrongKind)?;
    let mut sender = [0u8; 16];
    sender.copy_from_slice(&fixed[2..18]);
    let mut sequence = [0u8; 8];
    sequence.copy_from_slice(&fixed[18..26]);
    let mut issued_at = [0u8; 8];
    issued_at.copy_from_slice(&fixed[26..34]);
    Ok(Header {
        kind,
        sender: NodeId(sender),
        sequence: u64::from_be_bytes(sequence),
        issued_at: u64::from_be_bytes(issued_at),
    })
}

/// Opens an envelope of `kind`: checks length, version, kind, tag, then freshness when given.
/// Returns the header and the plaintext, written to the front of `out`. On any error `out`
/// holds no plaintext.
pub fn open<'o>(
    keys: &ClusterKeys,
    kind: Kind,
    envelope: &[u8],
    freshness: Option<Freshness>,
    out: &'o mut [u8],
) -> Result<(Header, &'o [u8]), OpenError> {
    let header = peek_header(envelope)?;
    if header.kind != kind {
        return Err(OpenError::WrongKind);
    }
    // peek_header guaranteed envelope.len() >= OVERHEAD.
    let body_len = envelope.len() - OVERHEAD;
    let (fixed, rest) = envelope.split_at(HEADER_LEN);
    let (ciphertext, tag_bytes) = rest.split_at(body_len);
    let body = out.get_mut(..body_len).ok_or(OpenError::BufferTooSmall)?;
    body.copy_from_slice(ciphertext);

    let mut header_bytes = [0u8; HEADER_LEN];
    header_bytes.copy_from_slice(fixed);
    let mut tag = [0u8; TAG_LEN];
    tag.copy_from_slice(tag_bytes);
    let mut aad = [0u8; AAD_MAX_LEN];
    let aad_len = build_aad(&header_bytes, keys.cluster(), &mut aad);
    let key = keys.sender_key(kind.purpose(), &header.sender);
    let opened = gcm_open_in_place(&key, &header.nonce(), &aad[..aad_len], body, &tag)
        .and_then(|()| freshness.map_or(Ok(()), |f| f.check(header.issued_at)));
    match opened {
        Ok(()) => Ok((header, body)),
        Err(e) => {
            body.zeroize();
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::Psk;

    fn keys(psk: &[u8], cluster: &str) -> ClusterKeys {
        let psk = Psk::from_file_bytes(psk).expect("psk");
        ClusterKeys::derive(&psk, cluster).expect("keys")
    }

    fn fresh(now: u64) -> Option<Freshness> {
        Some(Freshness {
            now,
            max_age_secs: 60,
            max_future_secs: 10,
        })
    }

    fn sealed(kind: Kind, issued_at: u64, plaintext: &[u8]) -> ([u8; 256], usize) {
        let mut sealer = Sealer::new(NodeId([7; 16]));
        let mut out = [0u8; 256];
        let k = keys(b"secret", "pod");
        let n = sealer
            .seal(&k, kind, issued_at, plaintext, &mut out)
            .expect("seal");
        (out, n)
    }

    #[test]
    fn sealed_envelope_opens_with_its_header_and_plaintext() {
        let (env, n) = sealed(Kind::Session, 1000, b"hello");
        assert_eq!(n, 5 + OVERHEAD);
        let mut out = [0u8; 64];
        let (header, pt) = open(
            &keys(b"secret", "pod"),
            Kind::Session,
            &env[..n],
            fresh(1000),
            &mut out,
        )
        .expect("open");
        assert_eq!(pt, b"hello");
        assert_eq!(header.sender, NodeId([7; 16]));
        assert_eq!(
            (header.sequence, header.issued_at, header.kind),
            (0, 1000, Kind::Session)
        );
    }

    #[test]
    fn layout_is_the_documented_one() {
        let (env, n) = sealed(Kind::Keyring, 0x0102, b"");
        assert_eq!(n, OVERHEAD);
        assert_eq!(env[0], VERSION);
        assert_eq!(env[1], 2);
        assert_eq!(&env[2..18], &[7; 16]);
        assert_eq!(&env[18..26], &[0; 8]);
        assert_eq!(&env[26..34], &[0, 0, 0, 0, 0, 0, 1, 2]);
    }

    #[test]
    fn sequence_counts_up_and_stops_before_wrapping() {
        let k = keys(b"secret", "pod");
        let mut sealer = Sealer::new(NodeId([1; 16]));
        let mut out = [0u8; 64];
        sealer
            .seal(&k, Kind::Session, 1, b"a", &mut out)
            .expect("seal");
        assert_eq!(sealer.next_sequence, 1);
        sealer.next_sequence = u64::MAX - 1;
        sealer
            .seal(&k, Kind::Session, 1, b"a", &mut out)
            .expect("seal");
        assert_eq!(&out[18..26], &(u64::MAX - 1).to_be_bytes());
        let last = sealer.seal(&k, Kind::Session, 1, b"a", &mut out);
        assert_eq!(last, Err(SealError::SequenceExhausted));
    }

    #[test]
    fn seal_refuses_long_plaintext_and_small_buffer() {
        let k = keys(b"secret", "pod");
        let mut sealer = Sealer::new(NodeId([1; 16]));
        let big = [0u8; MAX_PLAINTEXT_LEN + 1];
        let mut out = [0u8; MAX_PLAINTEXT_LEN + OVERHEAD + 1];
        assert_eq!(
            sealer.seal(&k, Kind::Session, 1, &big, &mut out),
            Err(SealError::TooLong)
        );
        let mut small = [0u8; 5 + OVERHEAD - 1];
        let r = sealer.seal(&k, Kind::Session, 1, b"hello", &mut small);
        assert_eq!(r, Err(SealError::BufferTooSmall));
        assert_eq!(
            sealer.next_sequence, 0,
            "a failed seal uses no sequence number"
        );
    }

    #[test]
    fn each_rejection_names_its_reason() {
        let (env, n) = sealed(Kind::Session, 1000, b"hello");
        let good = keys(b"secret", "pod");
        let mut out = [0u8; 64];
        let mut try_open = |k: &ClusterKeys, kind, bytes: &[u8], f| {
            open(k, kind, bytes, f, &mut out).map(|(h, _)| h).err()
        };
        assert_eq!(
            try_open(&good, Kind::Session, &env[..n - 1], None),
            Some(OpenError::BadTag)
        );
        assert_eq!(
            try_open(&good, Kind::Session, &env[..OVERHEAD - 1], None),
            Some(OpenError::Malformed)
        );
        assert_eq!(
            try_open(&good, Kind::Keyring, &env[..n], None),
            Some(OpenError::WrongKind)
        );
        assert_eq!(
            try_open(&keys(b"secret", "pod2"), Kind::Session, &env[..n], None),
            Some(OpenError::BadTag)
        );
        assert_eq!(
            try_open(&keys(b"secreT", "pod"), Kind::Session, &env[..n], None),
            Some(OpenError::BadTag)
        );
        assert_eq!(
            try_open(&good, Kind::Session, &env[..n], fresh(1061)),
            Some(OpenError::TooOld)
        );
        assert_eq!(try_open(&good, Kind::Session, &env[..n], fresh(1060)), None);
        assert_eq!(
            try_open(&good, Kind::Session, &env[..n], fresh(989)),
            Some(OpenError::FromFuture)
        );
        assert_eq!(try_open(&good, Kind::Session, &env[..n], fresh(990)), None);
        let mut bad = env;
        bad[0] = 2;
        assert_eq!(
            try_open(&good, Kind::Session, &bad[..n], None),
            Some(OpenError::UnknownVersion)
        );
        bad = env;
        bad[1] = 9;
        assert_eq!(
            try_open(&good, Kind::Session, &bad[..n], None),
            Some(OpenError::WrongKind)
        );
        bad = env;
        bad[30] ^= 1;
        assert_eq!(
            try_open(&good, Kind::Session, &bad[..n], fresh(1000)),
            Some(OpenError::BadTag)
        );
    }

    #[test]
    fn open_needs_room_for_the_plaintext_only() {
        let (env, n) = sealed(Kind::Session, 1000, b"hello");
        let k = keys(b"secret", "pod");
        let mut four = [0u8; 4];
        let r = open(&k, Kind::Session, &env[..n], None, &mut four).map(|_| ());
        assert_eq!(r, Err(OpenError::BufferTooSmall));
        let mut five = [0u8; 5];
        assert!(open(&k, Kind::Session, &env[..n], None, &mut five).is_ok());
    }

    #[test]
    fn rejected_envelope_leaves_no_plaintext_behind() {
        let (env, n) = sealed(Kind::Session, 1000, b"hello");
        let k = keys(b"secret", "pod");
        let mut out = [0xeeu8; 16];
        let r = open(&k, Kind::Session, &env[..n], fresh(5000), &mut out).map(|_| ());
        assert_eq!(r, Err(OpenError::TooOld));
        assert_eq!(&out[..5], &[0; 5]);
    }

    #[test]
    fn envelope_longer_than_any_sealed_is_malformed_before_any_work() {
        let mut big = [0u8; MAX_ENVELOPE_LEN + 1];
        big[0] = VERSION;
        big[1] = Kind::Session as u8;
        assert_eq!(peek_header(&big), Err(OpenError::Malformed));
        assert!(peek_header(&big[..MAX_ENVELOPE_LEN]).is_ok());
    }

    #[test]
    fn freshness_window_saturates_at_the_ends_of_time() {
        let f = Freshness {
            now: 5,
            max_age_secs: 10,
            max_future_secs: u64::MAX,
        };
        assert_eq!(f.check(0), Ok(()));
        assert_eq!(f.check(u64::MAX), Ok(()));
        let g = Freshness {
            now: u64::MAX,
            max_age_secs: 0,
            max_future_secs: 0,
        };
        assert_eq!(g.check(u64::MAX - 1), Err(OpenError::TooOld));
    }
}
