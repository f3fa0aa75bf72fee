//! Pure functions of the C API for the ATS 9.x `ssl_session_reuse` wire format (AES-256-CBC, a
//! fixed IV, no MAC): for vector runners and migration tools. `passphrase` is the old plugin's
//! encryption passphrase (see `atsreuse_legacy_psk_file`). No node, no threads; any thread.

use atsreuse_core::legacy::{
    self, LegacyError, LegacyKey, LegacyPskFile, STEK_LEN, STEK_PAYLOAD_LEN,
};
use atsreuse_core::session::{DER_MAX_LEN, ID_MAX_LEN};
use zeroize::Zeroizing;

use super::{boundary, in_out, input, out_ref, output, with_len, write_sized, AtsreuseStatus, S};

impl From<LegacyError> for AtsreuseStatus {
    fn from(e: LegacyError) -> S {
        match e {
            LegacyError::Base64 => S::LegacyBase64,
            LegacyError::BadPadding => S::LegacyBadPadding,
            LegacyError::ShortFrame => S::Malformed,
            LegacyError::WrongVersion => S::LegacyWrongVersion,
            LegacyError::LengthMismatch => S::LegacyLengthMismatch,
            LegacyError::BadDer => S::BadDer,
            LegacyError::BadStekLength => S::LegacyBadStekLength,
            LegacyError::SessionIdTooLong | LegacyError::EmptySessionId => S::BadSessionId,
            LegacyError::BufferTooSmall => S::BufferTooSmall,
            LegacyError::EmptyPsk | LegacyError::PskTooLong => S::Psk,
            _ => S::Internal,
        }
    }
}

/// Copies `bytes` to the caller's buffer, or reports the length needed.
fn copy_out(bytes: &[u8], buf: &mut [u8], len_out: &mut usize) -> Result<S, S> {
    match buf.get_mut(..bytes.len()) {
        Some(dst) => {
            dst.copy_from_slice(bytes);
            with_len(len_out, bytes.len(), S::Ok)
        }
        None => with_len(len_out, bytes.len(), S::BufferTooSmall),
    }
}

/// `needed` when `der` has a length a session may have; `None` otherwise, so that the encoder
/// reports the bad DER itself instead of asking for a larger buffer.
fn der_needed(der: &[u8], needed: usize) -> Option<usize> {
    (!der.is_empty() && der.len() <= DER_MAX_LEN).then_some(needed)
}

/// The legacy key from a passphrase from C.
///
/// # Safety
/// As [`input`].
unsafe fn key(passphrase: *const u8, len: usize) -> Result<LegacyKey, S> {
    // SAFETY: forwarded contract.
    Ok(LegacyKey::derive(unsafe { input(passphrase, len) }?))
}

/// Derives the old plugin's AES-256 key (32 bytes to `key_out`) and IV (16 bytes to `iv_out`)
/// from `passphrase` (OpenSSL `EVP_BytesToKey`, MD5, fixed salt, one round). Secrets: for
/// vector runners only.
///
/// # Safety
/// `passphrase` readable for `passphrase_len`; `key_out` 32 and `iv_out` 16 writable bytes.
#[no_mangle]
pub unsafe extern "C" fn atsreuse_legacy_derive(
    passphrase: *const u8,
    passphrase_len: usize,
    key_out: *mut u8,
    iv_out: *mut u8,
) -> AtsreuseStatus {
    boundary("atsreuse_legacy_derive", None, || {
        // SAFETY: the caller's contract.
        let (key, key_buf, iv_buf) = unsafe {
            (
                key(passphrase, passphrase_len)?,
                output(key_out, 32)?,
                output(iv_out, 16)?,
            )
        };
        key_buf.copy_from_slice(key.expose_key());
        iv_buf.copy_from_slice(key.expose_iv());
        Ok(S::Ok)
    })
}

/// Reads a PSK file as the old plugin did: the Redis AUTH password (trailing newlines removed)
/// to `auth_out`, the encryption passphrase (the file's full length, each removed newline a
/// zero byte) to `passphrase_out`.
///
/// # Safety
/// `psk` readable for `psk_len`; each output buffer writable for its capacity; both length
/// outputs writable.
#[no_mangle]
pub unsafe extern "C" fn atsreuse_legacy_psk_file(
    psk: *const u8,
    psk_len: usize,
    auth_out: *mut u8,
    auth_cap: usize,
    auth_len_out: *mut usize,
    passphrase_out: *mut u8,
    passphrase_cap: usize,
    passphrase_len_out: *mut usize,
) -> AtsreuseStatus {
    boundary("atsreuse_legacy_psk_file", None, || {
        // SAFETY: the caller's contract.
        let (file, auth_buf, auth_len, pass_buf, pass_len) = unsafe {
            (
                input(psk, psk_len)?,
                output(auth_out, auth_cap)?,
                out_ref(auth_len_out)?,
                output(passphrase_out, passphrase_cap)?,
                out_ref(passphrase_len_out)?,
            )
        };
        let parsed = LegacyPskFile::parse(file).map_err(S::from)?;
        let status = copy_out(parsed.auth_password(), auth_buf, auth_len)?;
        if status != S::Ok {
            return Ok(status);
        }
        write_sized(pass_buf, pass_len, Some(parsed.passphrase_len()), |b| {
            parsed.write_passphrase(b).map_err(S::from)
        })
    })
}

/// Encodes a 48-byte STEK as the old plugin's STEK message: 88 base64 characters written to
/// `payload_out` (no NUL), which needs 88 bytes.
///
/// # Safety
/// `passphrase` readable for its length; `stek` 48 readable bytes; `payload_out` 88 writable.
#[no_mangle]
pub unsafe extern "C" fn atsreuse_legacy_stek_encode(
    passphrase: *const u8,
    passphrase_len: usize,
    stek: *const u8,
    payload_out: *mut u8,
    payload_cap: usize,
) -> AtsreuseStatus {
    boundary("atsreuse_legacy_stek_encode", None, || {
        // SAFETY: the caller's contract.
        let (key, stek, buf) = unsafe {
            (
                key(passphrase, passphrase_len)?,
                input(stek, STEK_LEN)?,
                output(payload_out, payload_cap)?,
            )
        };
        let dst = buf.get_mut(..STEK_PAYLOAD_LEN).ok_or(S::BufferTooSmall)?;
        let mut plain = Zeroizing::new([0u8; STEK_LEN]);
        plain.copy_from_slice(stek);
        dst.copy_from_slice(&legacy::encode_stek(&key, &plain));
        Ok(S::Ok)
    })
}

/// Decodes an old STEK message (base64 text, `payload_len` bytes) into 48 bytes at `stek_out`.
/// Without a MAC only a broken padding or length is caught: a flipped bit can decode to a
/// wrong key without error (the old format's defect).
///
/// # Safety
/// `passphrase`, `payload` readable for their lengths; `stek_out` 48 writable bytes.
#[no_mangle]
pub unsafe extern "C" fn atsreuse_legacy_stek_decode(
    passphrase: *const u8,
    passphrase_len: usize,
    payload: *const u8,
    payload_len: usize,
    stek_out: *mut u8,
) -> AtsreuseStatus {
    boundary("atsreuse_legacy_stek_decode", None, || {
        // SAFETY: the caller's contract.
        let (key, payload, out) = unsafe {
            (
                key(passphrase, passphrase_len)?,
                input(payload, payload_len)?,
                output(stek_out, STEK_LEN)?,
            )
        };
        let mut stek = Zeroizing::new([0u8; STEK_LEN]);
        legacy::decode_stek(&key, payload, &mut stek).map_err(S::from)?;
        out.copy_from_slice(&stek[..]);
        Ok(S::Ok)
    })
}

/// Writes the old session frame (u64 version 2, u32 DER length, both little-endian, then the
/// DER) of `der` into `out`.
///
/// # Safety
/// `der` readable for `der_len`; `out` `out_cap` writable bytes; `out_len` writable.
#[no_mangle]
pub unsafe extern "C" fn atsreuse_legacy_frame_encode(
    der: *const u8,
    der_len: usize,
    out: *mut u8,
    out_cap: usize,
    out_len: *mut usize,
) -> AtsreuseStatus {
    boundary("atsreuse_legacy_frame_encode", None, || {
        // SAFETY: the caller's contract.
        let (der, buf, len_out) = unsafe { in_out(der, der_len, out, out_cap, out_len)? };
        let needed = der_needed(der, legacy::FRAME_HEADER_LEN + der.len());
        write_sized(buf, len_out, needed, |b| {
            legacy::encode_frame(der, b).map_err(S::from)
        })
    })
}

/// Encodes `der` as the payload of an old session message (base64 text, no NUL) into `out`.
///
/// # Safety
/// `passphrase`, `der` readable for their lengths; `out` `out_cap` writable; `out_len` writable.
#[no_mangle]
pub unsafe extern "C" fn atsreuse_legacy_session_encode(
    passphrase: *const u8,
    passphrase_len: usize,
    der: *const u8,
    der_len: usize,
    out: *mut u8,
    out_cap: usize,
    out_len: *mut usize,
) -> AtsreuseStatus {
    boundary("atsreuse_legacy_session_encode", None, || {
        // SAFETY: the caller's contract.
        let (key, (der, buf, len_out)) = unsafe {
            (
                key(passphrase, passphrase_len)?,
                in_out(der, der_len, out, out_cap, out_len)?,
            )
        };
        let needed = der_needed(der, legacy::session_payload_len(der.len()));
        write_sized(buf, len_out, needed, |b| {
            legacy::encode_session(&key, der, b).map_err(S::from)
        })
    })
}

/// Decodes the payload of an old session message (base64, decrypt, frame checks) and writes
/// the DER to `der_out`.
///
/// # Safety
/// `passphrase`, `payload` readable for their lengths; `der_out` `der_cap` writable bytes;
/// `der_len_out` writable.
#[no_mangle]
pub unsafe extern "C" fn atsreuse_legacy_session_decode(
    passphrase: *const u8,
    passphrase_len: usize,
    payload: *const u8,
    payload_len: usize,
    der_out: *mut u8,
    der_cap: usize,
    der_len_out: *mut usize,
) -> AtsreuseStatus {
    boundary("atsreuse_legacy_session_decode", None, || {
        // SAFETY: the caller's contract.
        let (key, (payload, buf, len_out)) = unsafe {
            (
                key(passphrase, passphrase_len)?,
                in_out(payload, payload_len, der_out, der_cap, der_len_out)?,
            )
        };
        let mut scratch = Zeroizing::new(vec![0u8; payload.len() / 4 * 3 + 3]);
        let der = legacy::decode_session(&key, payload, &mut scratch).map_err(S::from)?;
        copy_out(der, buf, len_out)
    })
}

/// Writes the channel suffix of a session id (its base64, no NUL) into `out` (at most 44 bytes).
///
/// # Safety
/// `id` readable for `id_len`; `out` `out_cap` writable bytes; `out_len` writable.
#[no_mangle]
pub unsafe extern "C" fn atsreuse_legacy_session_id_encode(
    id: *const u8,
    id_len: usize,
    out: *mut u8,
    out_cap: usize,
    out_len: *mut usize,
) -> AtsreuseStatus {
    boundary("atsreuse_legacy_session_id_encode", None, || {
        // SAFETY: the caller's contract.
        let (id, buf, len_out) = unsafe { in_out(id, id_len, out, out_cap, out_len)? };
        write_sized(buf, len_out, None, |b| {
            legacy::encode_session_id(id, b).map_err(S::from)
        })
    })
}

/// Reads a session id from an old channel suffix (base64) into `id_out` (32 bytes).
///
/// # Safety
/// `suffix` readable for `suffix_len`; `id_out` 32 writable bytes; `id_len_out` writable.
#[no_mangle]
pub unsafe extern "C" fn atsreuse_legacy_session_id_decode(
    suffix: *const u8,
    suffix_len: usize,
    id_out: *mut u8,
    id_len_out: *mut usize,
) -> AtsreuseStatus {
    boundary("atsreuse_legacy_session_id_decode", None, || {
        // SAFETY: the caller's contract.
        let (suffix, buf, len_out) =
            unsafe { in_out(suffix, suffix_len, id_out, ID_MAX_LEN, id_len_out)? };
        let mut id = [0u8; ID_MAX_LEN];
        let n = legacy::decode_session_id(suffix, &mut id).map_err(S::from)?;
        buf[..n].copy_from_slice(&id[..n]);
        with_len(len_out, n, S::Ok)
    })
}

/// Decodes padded base64 the way the old plugin's decoder did (also taking `-` and `_`).
///
/// # Safety
/// `text` readable for `text_len`; `out` `out_cap` writable bytes; `out_len` writable.
#[no_mangle]
pub unsafe extern "C" fn atsreuse_legacy_base64_decode(
    text: *const u8,
    text_len: usize,
    out: *mut u8,
    out_cap: usize,
    out_len: *mut usize,
) -> AtsreuseStatus {
    boundary("atsreuse_legacy_base64_decode", None, || {
        // SAFETY: the caller's contract.
        let (text, buf, len_out) = unsafe { in_out(text, text_len, out, out_cap, out_len)? };
        let needed = legacy::base64_decoded_len(text).map_err(S::from)?;
        write_sized(buf, len_out, Some(needed), |b| {
            legacy::base64_decode(text, b).map_err(S::from)
        })
    })
}
