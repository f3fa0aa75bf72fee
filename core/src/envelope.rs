//! The sealed envelope: a clear header authenticated with the cluster name, an AES-256-GCM body.
//!
//! CONTRACT (skeleton). Layout, all integers big-endian:
//!
//! | field      | bytes | |
//! |------------|-------|---|
//! | version    | 1     | [`VERSION`] |
//! | kind       | 1     | [`Kind`] |
//! | sender     | 16    | the sender's [`NodeId`] |
//! | sequence   | 8     | counts up from 0 per sender; the GCM nonce is 4 zero bytes ‖ sequence |
//! | issued_at  | 8     | seconds since the Unix epoch |
//! | ciphertext | n     | |
//! | tag        | 16    | |
//!
//! AAD = header ‖ u8 length of cluster name ‖ cluster name. The key is the sender key of the
//! purpose that matches `kind`.

use crate::keys::{ClusterKeys, NodeId};

/// The envelope format version this crate writes and reads.
pub const VERSION: u8 = 1;
/// Bytes of the clear header.
pub const HEADER_LEN: usize = 34;
/// Bytes of the GCM tag.
pub const TAG_LEN: usize = 16;
/// Bytes an envelope adds to its plaintext.
pub const OVERHEAD: usize = HEADER_LEN + TAG_LEN;
/// Longest plaintext sealed or opened, in bytes.
pub const MAX_PLAINTEXT_LEN: usize = 16 * 1024;

/// What an envelope carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    /// A [`crate::session::SessionRecord`].
    Session = 1,
    /// A [`crate::keyring::Keyring`].
    Keyring = 2,
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
        Sealer { node, next_sequence: 0 }
    }

    /// Seals `plaintext` into `out`, returns the envelope length; consumes one sequence number.
    pub fn seal(
        &mut self,
        _keys: &ClusterKeys,
        _kind: Kind,
        _issued_at: u64,
        _plaintext: &[u8],
        _out: &mut [u8],
    ) -> Result<usize, SealError> {
        todo!()
    }
}

/// Opens an envelope of `kind`: checks length, version, kind, tag, then freshness when given.
/// Returns the header and the plaintext, written to the front of `out`.
pub fn open<'o>(
    _keys: &ClusterKeys,
    _kind: Kind,
    _envelope: &[u8],
    _freshness: Option<Freshness>,
    _out: &'o mut [u8],
) -> Result<(Header, &'o [u8]), OpenError> {
    todo!()
}
