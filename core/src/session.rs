//! The session record: what a node shares about one new TLS session.
//!
//! Plaintext layout inside an envelope of kind [`Kind::Session`], big-endian:
//!
//! | field      | bytes    | |
//! |------------|----------|---|
//! | id length  | 1        | 1..=[`ID_MAX_LEN`] |
//! | id         | id len   | the TLS session id |
//! | expires_at | 8        | seconds since the Unix epoch |
//! | DER length | 2        | 1..=[`DER_MAX_LEN`] |
//! | DER        | DER len  | the `SSL_SESSION` |
//!
//! Nothing may follow the DER.

use crate::envelope::{self, Freshness, Header, Kind, OpenError, SealError, Sealer, HEADER_LEN};
use crate::keys::ClusterKeys;

/// Longest session id, in bytes (TLS caps it at 32).
pub const ID_MAX_LEN: usize = 32;
/// Longest DER accepted, in bytes.
pub const DER_MAX_LEN: usize = 10 * 1024;
/// Longest encoded record, in bytes.
pub const RECORD_MAX_LEN: usize = 1 + ID_MAX_LEN + 8 + 2 + DER_MAX_LEN;
/// Longest sealed session record, in bytes.
pub const SEALED_MAX_LEN: usize = RECORD_MAX_LEN + envelope::OVERHEAD;

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

/// Why a sealed session record could not be opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionOpenError {
    /// The envelope was rejected.
    Envelope(OpenError),
    /// The envelope opened but the record inside is not valid.
    Record(RecordError),
}

/// Why a session record could not be sealed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionSealError {
    /// The record is not valid, or the buffer cannot hold it.
    Record(RecordError),
    /// The envelope could not be sealed.
    Envelope(SealError),
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

/// Splits `n` bytes off the front of `bytes`.
fn take<'a>(bytes: &mut &'a [u8], n: usize) -> Result<&'a [u8], RecordError> {
    if bytes.len() < n {
        return Err(RecordError::Malformed);
    }
    let (head, tail) = bytes.split_at(n);
    *bytes = tail;
    Ok(head)
}

impl<'a> SessionRecord<'a> {
    /// Checks the id and DER lengths.
    pub fn validate(&self) -> Result<(), RecordError> {
        if self.id.is_empty() || self.id.len() > ID_MAX_LEN {
            return Err(RecordError::BadId);
        }
        if self.der.is_empty() || self.der.len() > DER_MAX_LEN {
            return Err(RecordError::BadDer);
        }
        Ok(())
    }

    /// Bytes of the encoded record.
    pub fn encoded_len(&self) -> usize {
        1 + self.id.len() + 8 + 2 + self.der.len()
    }

    /// Writes the record into `out`, returns its length.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, RecordError> {
        self.validate()?;
        let len = self.encoded_len();
        let out = out.get_mut(..len).ok_or(RecordError::BufferTooSmall)?;
        // validate() bounded both lengths, so the conversions cannot fail.
        let id_len = u8::try_from(self.id.len()).map_err(|_| RecordError::BadId)?;
        let der_len = u16::try_from(self.der.len()).map_err(|_| RecordError::BadDer)?;
        let (id_field, rest) = out.split_at_mut(1 + self.id.len());
        id_field[0] = id_len;
        id_field[1..].copy_from_slice(self.id);
        let (fixed, der_field) = rest.split_at_mut(10);
        fixed[..8].copy_from_slice(&self.expires_at.to_be_bytes());
        fixed[8..].copy_from_slice(&der_len.to_be_bytes());
        der_field.copy_from_slice(self.der);
        Ok(len)
    }

    /// Reads a record; every length is checked before use.
    pub fn decode(bytes: &'a [u8]) -> Result<SessionRecord<'a>, RecordError> {
        let mut rest = bytes;
        let id_len = usize::from(take(&mut rest, 1)?[0]);
        if id_len == 0 || id_len > ID_MAX_LEN {
            return Err(RecordError::BadId);
        }
        let id = take(&mut rest, id_len)?;
        let mut expires_at = [0u8; 8];
        expires_at.copy_from_slice(take(&mut rest, 8)?);
        let mut der_len = [0u8; 2];
        der_len.copy_from_slice(take(&mut rest, 2)?);
        let der_len = usize::from(u16::from_be_bytes(der_len));
        if der_len == 0 || der_len > DER_MAX_LEN {
            return Err(RecordError::BadDer);
        }
        let der = take(&mut rest, der_len)?;
        if !rest.is_empty() {
            return Err(RecordError::Malformed);
        }
        Ok(SessionRecord {
            id,
            der,
            expires_at: u64::from_be_bytes(expires_at),
        })
    }

    /// Encodes the record straight into an envelope in `out` and seals it; returns the
    /// envelope length. `out` needs `encoded_len() + OVERHEAD` bytes.
    pub fn seal(
        &self,
        sealer: &mut Sealer,
        keys: &ClusterKeys,
        issued_at: u64,
        out: &mut [u8],
    ) -> Result<usize, SessionSealError> {
        let body = out
            .get_mut(HEADER_LEN..)
            .ok_or(SessionSealError::Record(RecordError::BufferTooSmall))?;
        let len = self.encode(body).map_err(SessionSealError::Record)?;
        sealer
            .seal_in_place(keys, Kind::Session, issued_at, len, out)
            .map_err(SessionSealError::Envelope)
    }
}

/// Opens a sealed session record: the envelope checks of [`envelope::open`], then the record.
/// The record borrows from `out`, which needs room for the plaintext
/// (envelope length − [`envelope::OVERHEAD`]).
pub fn open<'o>(
    keys: &ClusterKeys,
    sealed: &[u8],
    freshness: Option<Freshness>,
    out: &'o mut [u8],
) -> Result<(Header, SessionRecord<'o>), SessionOpenError> {
    let (header, plaintext) = envelope::open(keys, Kind::Session, sealed, freshness, out)
        .map_err(SessionOpenError::Envelope)?;
    let record = SessionRecord::decode(plaintext).map_err(SessionOpenError::Record)?;
    Ok((header, record))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{NodeId, Psk};

    const RECORD: SessionRecord<'static> = SessionRecord {
        id: &[1, 2, 3],
        der: &[0x30, 0x82, 0xaa],
        expires_at: 0x1122,
    };

    #[test]
    fn record_has_the_documented_layout() {
        let mut out = [0u8; 32];
        let n = RECORD.encode(&mut out).expect("encode");
        let expected = [
            3, 1, 2, 3, 0, 0, 0, 0, 0, 0, 0x11, 0x22, 0, 3, 0x30, 0x82, 0xaa,
        ];
        assert_eq!(&out[..n], &expected);
        assert_eq!(n, RECORD.encoded_len());
        assert_eq!(SessionRecord::decode(&expected), Ok(RECORD));
    }

    #[test]
    fn encode_checks_lengths_and_room() {
        let mut out = [0u8; RECORD_MAX_LEN + 1];
        let id33 = [1u8; 33];
        let der_big = [1u8; DER_MAX_LEN + 1];
        let bad = |r: SessionRecord<'_>, out: &mut [u8]| r.encode(out).err();
        assert_eq!(
            bad(SessionRecord { id: &[], ..RECORD }, &mut out),
            Some(RecordError::BadId)
        );
        assert_eq!(
            bad(
                SessionRecord {
                    id: &id33,
                    ..RECORD
                },
                &mut out
            ),
            Some(RecordError::BadId)
        );
        assert_eq!(
            bad(SessionRecord { der: &[], ..RECORD }, &mut out),
            Some(RecordError::BadDer)
        );
        let big = SessionRecord {
            der: &der_big,
            ..RECORD
        };
        assert_eq!(bad(big, &mut out), Some(RecordError::BadDer));
        assert_eq!(
            bad(RECORD, &mut out[..16]),
            Some(RecordError::BufferTooSmall)
        );
        let full = SessionRecord {
            id: &[1; 32],
            der: &der_big[..DER_MAX_LEN],
            expires_at: 1,
        };
        assert_eq!(full.encode(&mut out), Ok(RECORD_MAX_LEN));
    }

    #[test]
    fn decode_rejects_every_truncation_and_trailing_bytes() {
        let mut buf = [0u8; 32];
        let n = RECORD.encode(&mut buf).expect("encode");
        for cut in 0..n {
            assert!(SessionRecord::decode(&buf[..cut]).is_err(), "cut at {cut}");
        }
        assert_eq!(
            SessionRecord::decode(&buf[..n + 1]),
            Err(RecordError::Malformed)
        );
    }

    #[test]
    fn decode_rejects_bad_declared_lengths() {
        let id_zero = [0u8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0x30];
        assert_eq!(SessionRecord::decode(&id_zero), Err(RecordError::BadId));
        let mut id_long = [0u8; 60];
        id_long[0] = 33;
        assert_eq!(SessionRecord::decode(&id_long), Err(RecordError::BadId));
        let der_zero = [1u8, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(SessionRecord::decode(&der_zero), Err(RecordError::BadDer));
        let der_long = [1u8, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0x28, 0x01];
        assert_eq!(SessionRecord::decode(&der_long), Err(RecordError::BadDer));
    }

    #[test]
    fn sealed_record_opens_to_the_same_record() {
        let psk = Psk::from_file_bytes(b"secret").expect("psk");
        let keys = ClusterKeys::derive(&psk, "pod").expect("keys");
        let mut sealer = Sealer::new(NodeId([3; 16]));
        let mut env = [0u8; 128];
        let n = RECORD.seal(&mut sealer, &keys, 50, &mut env).expect("seal");
        assert_eq!(n, RECORD.encoded_len() + envelope::OVERHEAD);
        let mut out = [0u8; 64];
        let (header, record) = open(&keys, &env[..n], None, &mut out).expect("open");
        assert_eq!(record, RECORD);
        assert_eq!((header.issued_at, header.sender), (50, NodeId([3; 16])));
        let small = RECORD.seal(&mut sealer, &keys, 50, &mut env[..n - 1]);
        assert_eq!(
            small,
            Err(SessionSealError::Envelope(SealError::BufferTooSmall))
        );
    }

    #[test]
    fn keyring_envelope_is_not_a_session() {
        let psk = Psk::from_file_bytes(b"secret").expect("psk");
        let keys = ClusterKeys::derive(&psk, "pod").expect("keys");
        let mut sealer = Sealer::new(NodeId([3; 16]));
        let mut env = [0u8; 128];
        let n = sealer
            .seal(&keys, Kind::Keyring, 1, b"x", &mut env)
            .expect("seal");
        let mut out = [0u8; 64];
        let r = open(&keys, &env[..n], None, &mut out).map(|_| ());
        assert_eq!(r, Err(SessionOpenError::Envelope(OpenError::WrongKind)));
    }
}
