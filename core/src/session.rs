//! The session record: what a node shares about one new TLS session.
//!
//! CONTRACT (skeleton). Plaintext layout inside an envelope of kind `Session`, big-endian:
//! u8 id length (1..=32) ‖ id ‖ u64 expires_at ‖ u16 DER length (1..=10240) ‖ DER.
//! Nothing may follow the DER.

/// Longest session id, in bytes (TLS caps it at 32).
pub const ID_MAX_LEN: usize = 32;
/// Longest DER accepted, in bytes.
pub const DER_MAX_LEN: usize = 10 * 1024;
/// Longest encoded record, in bytes.
pub const RECORD_MAX_LEN: usize = 1 + ID_MAX_LEN + 8 + 2 + DER_MAX_LEN;

/// Why a record could not be encoded or decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecordError {
    /// The id is empty or longer than [`ID_MAX_LEN`].
    BadId,
    /// The DER is empty or longer than [`DER_MAX_LEN`].
    BadDer,
    /// The bytes end early, or more follow the DER.
    Malformed,
    /// The output buffer is too small.
    BufferTooSmall,
}

/// One shared TLS session, borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionRecord<'a> {
    /// The TLS session id.
    pub id: &'a [u8],
    /// The DER of the `SSL_SESSION`.
    pub der: &'a [u8],
    /// When the sender stops honouring it, seconds since the Unix epoch.
    pub expires_at: u64,
}

impl<'a> SessionRecord<'a> {
    /// Writes the record into `out`, returns its length.
    pub fn encode(&self, _out: &mut [u8]) -> Result<usize, RecordError> {
        todo!()
    }
    /// Reads a record; every length is checked before use.
    pub fn decode(_bytes: &'a [u8]) -> Result<SessionRecord<'a>, RecordError> {
        todo!()
    }
}
