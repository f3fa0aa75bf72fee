//! Pure functions of the C API for the key schedule, the sealed envelope and the session
//! record: no node, no threads, no clock. Any thread, concurrently. `psk` is always the bytes
//! of the PSK file (trailing newlines are removed here); `cluster` the cluster name.

use std::ffi::c_char;

use atsreuse_core::envelope::{self, Freshness, Header, Sealer};
use atsreuse_core::keys::{self, ClusterKeys, Psk, Purpose};
use atsreuse_core::session::{self, SessionOpenError, SessionRecord, SessionSealError};

use super::{
    boundary, cluster_keys, in_out, input, kind_from, node_id, out_ref, output, text, write_sized,
    AtsreuseFreshness, AtsreuseHeader, AtsreuseKeySchedule, AtsreuseSessionInfo, AtsreuseStatus, S,
};

/// Writes the Redis password derived from the PSK (64 lowercase hex characters and a NUL) to
/// `out`, which needs 65 bytes. This is what the node sends to Redis AUTH by default.
///
/// # Safety
/// `psk` points to `psk_len` readable bytes; `cluster` is NUL-terminated; `out` points to
/// `out_cap` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn atsreuse_redis_password(
    psk: *const u8,
    psk_len: usize,
    cluster: *const c_char,
    out: *mut c_char,
    out_cap: usize,
) -> AtsreuseStatus {
    boundary("atsreuse_redis_password", None, || {
        // SAFETY: the caller's contract.
        let (psk, cluster, out) = unsafe {
            (
                input(psk, psk_len)?,
                text(cluster)?,
                output(out.cast(), out_cap)?,
            )
        };
        if out.len() < keys::REDIS_PASSWORD_LEN + 1 {
            return Err(S::BufferTooSmall);
        }
        let psk = Psk::from_file_bytes(psk).map_err(S::from)?;
        let password =
            zeroize::Zeroizing::new(keys::redis_password(&psk, cluster).map_err(S::from)?);
        out[..keys::REDIS_PASSWORD_LEN].copy_from_slice(&password[..]);
        out[keys::REDIS_PASSWORD_LEN] = 0;
        Ok(S::Ok)
    })
}

/// Fills `*out` with the key schedule of `psk`, `cluster` and the 16-byte `node_id`. For vector
/// runners and tests: the output holds secrets.
///
/// # Safety
/// `psk` points to `psk_len` readable bytes; `cluster` is NUL-terminated; `node_id` points to
/// 16 readable bytes; `out` to a writable `atsreuse_key_schedule`.
#[no_mangle]
pub unsafe extern "C" fn atsreuse_keys_derive(
    psk: *const u8,
    psk_len: usize,
    cluster: *const c_char,
    node_id: *const u8,
    out: *mut AtsreuseKeySchedule,
) -> AtsreuseStatus {
    boundary("atsreuse_keys_derive", None, || {
        // SAFETY: the caller's contract.
        let (psk_bytes, cluster, node, out) = unsafe {
            (
                input(psk, psk_len)?,
                text(cluster)?,
                self::node_id(node_id)?,
                out_ref(out)?,
            )
        };
        let psk = Psk::from_file_bytes(psk_bytes).map_err(S::from)?;
        let keys = ClusterKeys::derive(&psk, cluster).map_err(S::from)?;
        let password =
            zeroize::Zeroizing::new(keys::redis_password(&psk, cluster).map_err(S::from)?);
        out.psk_len = psk.len();
        out.sessions_key = *keys.expose_purpose_key(Purpose::Sessions);
        out.keyrings_key = *keys.expose_purpose_key(Purpose::Keyrings);
        out.sender_sessions_key = *keys.sender_key(Purpose::Sessions, &node).expose_bytes();
        out.sender_keyrings_key = *keys.sender_key(Purpose::Keyrings, &node).expose_bytes();
        for (dst, src) in out.redis_password.iter_mut().zip(password.iter()) {
            *dst = *src as c_char;
        }
        out.redis_password[keys::REDIS_PASSWORD_LEN] = 0;
        Ok(S::Ok)
    })
}

/// Seals `plaintext` into an envelope of `kind` (an `atsreuse_kind` number) as the sender
/// `node_id` (16 bytes) with message number `sequence`, issued at `issued_at`. `out` needs
/// `plaintext_len + 50` bytes; `*out_len` receives the envelope length.
///
/// # Safety
/// `psk`/`psk_len`, `plaintext`/`plaintext_len` readable; `cluster` NUL-terminated; `node_id`
/// 16 readable bytes; `out` `out_cap` writable bytes; `out_len` a writable `size_t`.
#[no_mangle]
pub unsafe extern "C" fn atsreuse_envelope_seal(
    psk: *const u8,
    psk_len: usize,
    cluster: *const c_char,
    kind: u32,
    node_id: *const u8,
    sequence: u64,
    issued_at: u64,
    plaintext: *const u8,
    plaintext_len: usize,
    out: *mut u8,
    out_cap: usize,
    out_len: *mut usize,
) -> AtsreuseStatus {
    boundary("atsreuse_envelope_seal", None, || {
        // SAFETY: the caller's contract.
        let (node, (plain, buf, len_out)) = unsafe {
            (
                self::node_id(node_id)?,
                in_out(plaintext, plaintext_len, out, out_cap, out_len)?,
            )
        };
        // SAFETY: the caller's contract.
        let keys = unsafe { cluster_keys(psk, psk_len, cluster) }?;
        let kind = kind_from(kind)?;
        // A plaintext too long to seal gets its own error, not a size request.
        let needed = (plain.len() <= envelope::MAX_PLAINTEXT_LEN)
            .then_some(plain.len().saturating_add(envelope::OVERHEAD));
        let mut sealer = Sealer {
            node,
            next_sequence: sequence,
        };
        write_sized(buf, len_out, needed, |b| {
            sealer
                .seal(&keys, kind, issued_at, plain, b)
                .map_err(S::from)
        })
    })
}

/// Opens an envelope of `kind`: checks length, version, kind, tag, then the freshness window
/// when `freshness` is not NULL. The plaintext goes to `out` (needs `envelope_len - 50` bytes),
/// its length to `*out_len`, the header to `*header_out`. On failure nothing of the plaintext
/// is left in `out`.
///
/// # Safety
/// As `atsreuse_envelope_seal`; `freshness` is NULL or readable; `header_out` writable.
#[no_mangle]
pub unsafe extern "C" fn atsreuse_envelope_open(
    psk: *const u8,
    psk_len: usize,
    cluster: *const c_char,
    kind: u32,
    envelope: *const u8,
    envelope_len: usize,
    freshness: *const AtsreuseFreshness,
    out: *mut u8,
    out_cap: usize,
    out_len: *mut usize,
    header_out: *mut AtsreuseHeader,
) -> AtsreuseStatus {
    boundary("atsreuse_envelope_open", None, || {
        // SAFETY: the caller's contract.
        let (sealed, buf, len_out, header_out) =
            unsafe { open_outputs(envelope, envelope_len, out, out_cap, out_len, header_out)? };
        // SAFETY: the caller's contract.
        let keys = unsafe { cluster_keys(psk, psk_len, cluster) }?;
        let kind = kind_from(kind)?;
        // SAFETY: the caller's contract.
        let window = unsafe { freshness_from(freshness) };
        // An envelope too long to open gets its own error, not a size request.
        let needed = (sealed.len() <= envelope::MAX_ENVELOPE_LEN)
            .then_some(sealed.len().saturating_sub(envelope::OVERHEAD));
        write_sized(buf, len_out, needed, |b| {
            let (header, plain) =
                envelope::open(&keys, kind, sealed, window, b).map_err(S::from)?;
            *header_out = header_to_c(&header);
            Ok(plain.len())
        })
    })
}

/// The envelope, the output buffer, the output length or session info, and the header of an
/// open call.
type OpenArgs<'a, T> = (&'a [u8], &'a mut [u8], &'a mut T, &'a mut AtsreuseHeader);

/// The pointer arguments of the two open calls, checked in this order: the envelope, the
/// output buffer, `out` (the output length or the session info), the header.
///
/// # Safety
/// As [`input`], [`output`] and [`out_ref`].
unsafe fn open_outputs<'a, T>(
    envelope: *const u8,
    envelope_len: usize,
    buf: *mut u8,
    buf_cap: usize,
    out: *mut T,
    header_out: *mut AtsreuseHeader,
) -> Result<OpenArgs<'a, T>, S> {
    // SAFETY: forwarded contract.
    unsafe {
        Ok((
            input(envelope, envelope_len)?,
            output(buf, buf_cap)?,
            out_ref(out)?,
            out_ref(header_out)?,
        ))
    }
}

/// # Safety
/// `ptr` is NULL or points to a readable struct.
unsafe fn freshness_from(ptr: *const AtsreuseFreshness) -> Option<Freshness> {
    // SAFETY: the caller's contract.
    unsafe { ptr.as_ref() }.map(|f| Freshness {
        now: f.now,
        max_age_secs: f.max_age_secs,
        max_future_secs: f.max_future_secs,
    })
}

pub(super) fn header_to_c(h: &Header) -> AtsreuseHeader {
    AtsreuseHeader {
        sender: h.sender.0,
        sequence: h.sequence,
        issued_at: h.issued_at,
        kind: h.kind as u32,
    }
}

/// Encodes a session record (`id` 1 to 32 bytes, `der` 1 to 10240 bytes, `expires_at`) into
/// `out`; `*out_len` receives its length (at most 10283).
///
/// # Safety
/// `id`, `der` readable for their lengths; `out` `out_cap` writable bytes; `out_len` writable.
#[no_mangle]
pub unsafe extern "C" fn atsreuse_session_record_encode(
    id: *const u8,
    id_len: usize,
    der: *const u8,
    der_len: usize,
    expires_at: u64,
    out: *mut u8,
    out_cap: usize,
    out_len: *mut usize,
) -> AtsreuseStatus {
    boundary("atsreuse_session_record_encode", None, || {
        // SAFETY: the caller's contract.
        let (id, (der, buf, len_out)) = unsafe {
            (
                input(id, id_len)?,
                in_out(der, der_len, out, out_cap, out_len)?,
            )
        };
        let record = SessionRecord {
            id,
            der,
            expires_at,
        };
        record.validate().map_err(S::from)?;
        write_sized(buf, len_out, Some(record.encoded_len()), |b| {
            record.encode(b).map_err(S::from)
        })
    })
}

/// Decodes a session record: the DER goes to `der_out`, the rest to `*info_out`
/// (`info_out->der_len` is the DER length; on `ATSREUSE_STATUS_BUFFER_TOO_SMALL` the length needed).
///
/// # Safety
/// `record` readable for `record_len`; `der_out` `der_cap` writable bytes; `info_out` writable.
#[no_mangle]
pub unsafe extern "C" fn atsreuse_session_record_decode(
    record: *const u8,
    record_len: usize,
    der_out: *mut u8,
    der_cap: usize,
    info_out: *mut AtsreuseSessionInfo,
) -> AtsreuseStatus {
    boundary("atsreuse_session_record_decode", None, || {
        // SAFETY: the caller's contract.
        let (bytes, buf, info) = unsafe {
            (
                input(record, record_len)?,
                output(der_out, der_cap)?,
                out_ref(info_out)?,
            )
        };
        let record = SessionRecord::decode(bytes).map_err(S::from)?;
        copy_record(&record, buf, info)
    })
}

/// Copies a decoded record to the caller's buffers.
fn copy_record(
    record: &SessionRecord<'_>,
    der_out: &mut [u8],
    info: &mut AtsreuseSessionInfo,
) -> Result<S, S> {
    *info = AtsreuseSessionInfo::default();
    info.der_len = record.der.len();
    let dst = der_out
        .get_mut(..record.der.len())
        .ok_or(S::BufferTooSmall)?;
    dst.copy_from_slice(record.der);
    info.id[..record.id.len()].copy_from_slice(record.id);
    info.id_len = record.id.len();
    info.expires_at = record.expires_at;
    Ok(S::Ok)
}

/// Seals a session record as the sender `node_id` (16 bytes) with message number `sequence`,
/// issued at `issued_at`: exactly what a node publishes. `out` needs
/// `1 + id_len + 8 + 2 + der_len + 50` bytes; `*out_len` receives the envelope length.
///
/// # Safety
/// As `atsreuse_envelope_seal`, with `id` and `der` readable for their lengths.
#[no_mangle]
pub unsafe extern "C" fn atsreuse_session_seal(
    psk: *const u8,
    psk_len: usize,
    cluster: *const c_char,
    node_id: *const u8,
    sequence: u64,
    issued_at: u64,
    id: *const u8,
    id_len: usize,
    der: *const u8,
    der_len: usize,
    expires_at: u64,
    out: *mut u8,
    out_cap: usize,
    out_len: *mut usize,
) -> AtsreuseStatus {
    boundary("atsreuse_session_seal", None, || {
        // SAFETY: the caller's contract.
        let (node, id, (der, buf, len_out)) = unsafe {
            (
                self::node_id(node_id)?,
                input(id, id_len)?,
                in_out(der, der_len, out, out_cap, out_len)?,
            )
        };
        // SAFETY: the caller's contract.
        let keys = unsafe { cluster_keys(psk, psk_len, cluster) }?;
        let record = SessionRecord {
            id,
            der,
            expires_at,
        };
        record.validate().map_err(S::from)?;
        let needed = record.encoded_len() + envelope::OVERHEAD;
        let mut sealer = Sealer {
            node,
            next_sequence: sequence,
        };
        write_sized(buf, len_out, Some(needed), |b| {
            record
                .seal(&mut sealer, &keys, issued_at, b)
                .map_err(|e| match e {
                    SessionSealError::Record(r) => S::from(r),
                    SessionSealError::Envelope(s) => S::from(s),
                    _ => S::Internal,
                })
        })
    })
}

/// Opens a sealed session record: the envelope checks (freshness when `freshness` is not NULL),
/// then the record. The DER goes to `der_out`, the other fields to `*info_out`, the envelope
/// header to `*header_out`.
///
/// # Safety
/// As `atsreuse_envelope_open`; `info_out` writable.
#[no_mangle]
pub unsafe extern "C" fn atsreuse_session_open(
    psk: *const u8,
    psk_len: usize,
    cluster: *const c_char,
    envelope: *const u8,
    envelope_len: usize,
    freshness: *const AtsreuseFreshness,
    der_out: *mut u8,
    der_cap: usize,
    info_out: *mut AtsreuseSessionInfo,
    header_out: *mut AtsreuseHeader,
) -> AtsreuseStatus {
    boundary("atsreuse_session_open", None, || {
        // SAFETY: the caller's contract.
        let (sealed, buf, info, header_out) = unsafe {
            open_outputs(
                envelope,
                envelope_len,
                der_out,
                der_cap,
                info_out,
                header_out,
            )?
        };
        // SAFETY: the caller's contract.
        let keys = unsafe { cluster_keys(psk, psk_len, cluster) }?;
        // SAFETY: the caller's contract.
        let window = unsafe { freshness_from(freshness) };
        let mut scratch =
            zeroize::Zeroizing::new(vec![0u8; sealed.len().min(envelope::MAX_ENVELOPE_LEN)]);
        let (header, record) =
            session::open(&keys, sealed, window, &mut scratch).map_err(|e| match e {
                SessionOpenError::Envelope(o) => S::from(o),
                SessionOpenError::Record(r) => S::from(r),
                _ => S::Internal,
            })?;
        *header_out = header_to_c(&header);
        copy_record(&record, buf, info)
    })
}
