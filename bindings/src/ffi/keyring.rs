//! Pure functions of the C API for STEKs and keyrings: export layouts, the ATS key block, the
//! encrypting key, merge, seal and open. No node, no threads, no clock; any thread.
//!
//! A keyring crosses this boundary in two forms: *encoded* (the plaintext layout of
//! `core/src/keyring.rs`, as in `vectors/keyring.json`) and *sealed* (an envelope of kind
//! keyring, as stored in Redis). Both hold secrets: erase the buffers after use.

use std::ffi::c_char;

use atsreuse_core::envelope::Sealer;
use atsreuse_core::keyring::{
    self, KeyEntry, KeyTimes, Keyring, KeyringError, KeyringOpenError, ENCODED_MAX_LEN,
};
use atsreuse_core::stek::{Layout, Stek, StekError, NAME_LEN, SECRET_LEN};
use zeroize::Zeroizing;

use super::sealed::header_to_c;
use super::{
    boundary, cluster_keys, input, node_id, out_ref, output, with_len, AtsreuseHeader,
    AtsreuseStatus, S,
};

/// The key-file layouts a STEK can be exported in (`layout` arguments take these numbers).
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AtsreuseLayout {
    /// ATS `TSSslTicketKeyUpdate`: 48 bytes, name 16, HMAC secret 16, AES key 16.
    Ats = 1,
    /// nginx `ssl_session_ticket_key` file, 48 bytes (AES-128).
    Nginx48 = 2,
    /// nginx `ssl_session_ticket_key` file, 80 bytes (AES-256).
    Nginx80 = 3,
    /// HAProxy `tls-ticket-keys` entry, 48 bytes (raw; HAProxy's file holds base64 lines).
    Haproxy48 = 4,
    /// HAProxy `tls-ticket-keys` entry, 80 bytes (raw; HAProxy's file holds base64 lines).
    Haproxy80 = 5,
}

/// The layout behind a number from C.
pub(crate) fn layout_from(layout: u32) -> Result<Layout, AtsreuseStatus> {
    match layout {
        1 => Ok(Layout::Ats),
        2 => Ok(Layout::Nginx48),
        3 => Ok(Layout::Nginx80),
        4 => Ok(Layout::Haproxy48),
        5 => Ok(Layout::Haproxy80),
        _ => Err(S::InvalidArgument),
    }
}

impl From<StekError> for AtsreuseStatus {
    fn from(e: StekError) -> S {
        match e {
            StekError::AllZero | StekError::SameSecrets => S::BadStek,
            StekError::BufferTooSmall => S::BufferTooSmall,
            _ => S::Internal,
        }
    }
}

impl From<KeyringError> for AtsreuseStatus {
    fn from(e: KeyringError) -> S {
        match e {
            KeyringError::BadTimes => S::KeyringBadTimes,
            KeyringError::Full => S::KeyringFull,
            KeyringError::Duplicate => S::KeyringDuplicate,
            KeyringError::Malformed => S::Malformed,
            KeyringError::BufferTooSmall => S::BufferTooSmall,
            _ => S::Internal,
        }
    }
}

impl From<KeyringOpenError> for AtsreuseStatus {
    fn from(e: KeyringOpenError) -> S {
        match e {
            KeyringOpenError::Envelope(o) => S::from(o),
            KeyringOpenError::Keyring(k) => S::from(k),
            KeyringOpenError::OldEpoch => S::KeyringOldEpoch,
            _ => S::Internal,
        }
    }
}

/// Exports one STEK, given by its parts (name 16 bytes, HMAC key 32, AES key 32), in `layout`
/// (an `atsreuse_layout` number) into `out` (48 or 80 bytes); `*out_len` receives the length.
/// An all-zero part or equal secrets: `ATSREUSE_STATUS_BAD_STEK`.
///
/// # Safety
/// `name`, `hmac_key`, `aes_key` point to 16, 32 and 32 readable bytes; `out` to `out_cap`
/// writable bytes; `out_len` to a writable `size_t`.
#[no_mangle]
pub unsafe extern "C" fn atsreuse_stek_export(
    name: *const u8,
    hmac_key: *const u8,
    aes_key: *const u8,
    layout: u32,
    out: *mut u8,
    out_cap: usize,
    out_len: *mut usize,
) -> AtsreuseStatus {
    boundary("atsreuse_stek_export", None, || {
        // SAFETY: the caller's contract.
        let (name, hmac, aes, buf, len_out) = unsafe {
            (
                input(name, NAME_LEN)?,
                input(hmac_key, SECRET_LEN)?,
                input(aes_key, SECRET_LEN)?,
                output(out, out_cap)?,
                out_ref(out_len)?,
            )
        };
        let layout = layout_from(layout)?;
        let mut parts = Zeroizing::new(([0u8; NAME_LEN], [0u8; SECRET_LEN], [0u8; SECRET_LEN]));
        parts.0.copy_from_slice(name);
        parts.1.copy_from_slice(hmac);
        parts.2.copy_from_slice(aes);
        let stek = Stek::from_parts(parts.0, parts.1, parts.2).map_err(S::from)?;
        if buf.len() < layout.len() {
            return with_len(len_out, layout.len(), S::BufferTooSmall);
        }
        let n = stek.export(layout, buf).map_err(S::from)?;
        with_len(len_out, n, S::Ok)
    })
}

/// One key of a keyring, in the open: for building and reading keyrings in tests and vector
/// runners. Holds secrets: erase it after use.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct AtsreuseKeyringEntry {
    /// The rotation counter.
    pub epoch: u64,
    /// From here the key decrypts, seconds since the Unix epoch.
    pub introduce_at: u64,
    /// From here it may encrypt.
    pub activate_at: u64,
    /// From here it is erased.
    pub expire_at: u64,
    /// The STEK name.
    pub name: [u8; 16],
    /// The HMAC key.
    pub hmac_key: [u8; 32],
    /// The AES key.
    pub aes_key: [u8; 32],
}

/// Builds a keyring by inserting `count` entries in the order given (any order gives the same
/// keyring) and writes it, encoded, to `out`. A bad entry gives its reason
/// (`ATSREUSE_STATUS_BAD_STEK`, `_KEYRING_BAD_TIMES`, `_KEYRING_DUPLICATE`, `_KEYRING_FULL`).
///
/// # Safety
/// `entries` points to `count` readable entries (it may dangle when `count` is 0 but must not
/// be NULL); `out` `out_cap` writable bytes; `out_len` writable.
#[no_mangle]
pub unsafe extern "C" fn atsreuse_keyring_build(
    entries: *const AtsreuseKeyringEntry,
    count: usize,
    out: *mut u8,
    out_cap: usize,
    out_len: *mut usize,
) -> AtsreuseStatus {
    boundary("atsreuse_keyring_build", None, || {
        if entries.is_null() {
            return Err(S::NullArgument);
        }
        if count > keyring::CAPACITY {
            return Err(S::KeyringFull);
        }
        // SAFETY: the caller's contract; count is bounded above.
        let (list, buf, len_out) = unsafe {
            (
                std::slice::from_raw_parts(entries, count),
                output(out, out_cap)?,
                out_ref(out_len)?,
            )
        };
        let mut ring = Keyring::new();
        for e in list {
            let stek = Stek::from_parts(e.name, e.hmac_key, e.aes_key).map_err(S::from)?;
            let times = KeyTimes {
                introduce_at: e.introduce_at,
                activate_at: e.activate_at,
                expire_at: e.expire_at,
            };
            ring.insert(KeyEntry {
                epoch: e.epoch,
                times,
                stek,
            })
            .map_err(S::from)?;
        }
        encode_to(&ring, buf, len_out)
    })
}

/// Decodes an encoded keyring into at most `cap` entries at `entries_out`, sorted by (epoch,
/// name); `*count_out` receives the number of keys (on `ATSREUSE_STATUS_BUFFER_TOO_SMALL`, the
/// number needed). At most 8.
///
/// # Safety
/// `encoded` readable for `encoded_len`; `entries_out` `cap` writable entries (not NULL);
/// `count_out` writable.
#[no_mangle]
pub unsafe extern "C" fn atsreuse_keyring_entries(
    encoded: *const u8,
    encoded_len: usize,
    entries_out: *mut AtsreuseKeyringEntry,
    cap: usize,
    count_out: *mut usize,
) -> AtsreuseStatus {
    boundary("atsreuse_keyring_entries", None, || {
        // SAFETY: the caller's contract.
        let (ring, count) = unsafe { (decode(encoded, encoded_len)?, out_ref(count_out)?) };
        if entries_out.is_null() {
            return Err(S::NullArgument);
        }
        let n = ring.entries().len();
        if cap < n {
            return with_len(count, n, S::BufferTooSmall);
        }
        // SAFETY: the caller promised `cap` >= n writable entries.
        let out = unsafe { std::slice::from_raw_parts_mut(entries_out, n) };
        for (dst, e) in out.iter_mut().zip(ring.entries()) {
            *dst = AtsreuseKeyringEntry {
                epoch: e.epoch,
                introduce_at: e.times.introduce_at,
                activate_at: e.times.activate_at,
                expire_at: e.times.expire_at,
                name: *e.stek.name(),
                hmac_key: *e.stek.hmac_key(),
                aes_key: *e.stek.aes_key(),
            };
        }
        with_len(count, n, S::Ok)
    })
}

/// Decodes an encoded keyring from C.
///
/// # Safety
/// As [`input`].
unsafe fn decode(encoded: *const u8, len: usize) -> Result<Keyring, S> {
    // SAFETY: forwarded contract.
    let bytes = unsafe { input(encoded, len) }?;
    Keyring::decode(bytes).map_err(S::from)
}

/// Encodes `keyring` into the caller's buffer.
fn encode_to(keyring: &Keyring, buf: &mut [u8], len_out: &mut usize) -> Result<S, S> {
    let mut tmp = Zeroizing::new([0u8; ENCODED_MAX_LEN]);
    let n = keyring.encode(&mut tmp[..]).map_err(S::from)?;
    match buf.get_mut(..n) {
        Some(dst) => {
            dst.copy_from_slice(&tmp[..n]);
            with_len(len_out, n, S::Ok)
        }
        None => with_len(len_out, n, S::BufferTooSmall),
    }
}

/// Writes the decrypting keys of `keyring` at `t` in `layout`, in the order of the ATS block
/// (the encrypting key first, then the others newest first).
fn export_at(
    keyring: &Keyring,
    t: u64,
    layout: Layout,
    buf: &mut [u8],
    len_out: &mut usize,
) -> Result<S, S> {
    let mut block = Zeroizing::new([0u8; keyring::ATS_BLOCK_MAX_LEN]);
    let n = keyring.ats_block_at(t, &mut block[..]).map_err(S::from)?;
    let count = n / atsreuse_core::stek::ATS_LEN;
    let needed = count * layout.len();
    if buf.len() < needed {
        return with_len(len_out, needed, S::BufferTooSmall);
    }
    for (i, record) in block[..n]
        .chunks_exact(atsreuse_core::stek::ATS_LEN)
        .enumerate()
    {
        let mut name = [0u8; NAME_LEN];
        name.copy_from_slice(&record[..NAME_LEN]);
        let entry = keyring.decrypting_key(&name, t).ok_or(S::Internal)?;
        let at = i * layout.len();
        entry
            .stek
            .export(layout, &mut buf[at..at + layout.len()])
            .map_err(S::from)?;
    }
    with_len(len_out, needed, S::Ok)
}

/// Writes the ATS key block of an encoded keyring at time `t` (48 bytes per decrypting key,
/// the encrypting key first) into `out`; `*out_len` receives its length, 0 when no key
/// decrypts at `t`.
///
/// # Safety
/// `encoded` readable for `encoded_len`; `out` `out_cap` writable bytes; `out_len` writable.
#[no_mangle]
pub unsafe extern "C" fn atsreuse_keyring_ats_block(
    encoded: *const u8,
    encoded_len: usize,
    t: u64,
    out: *mut u8,
    out_cap: usize,
    out_len: *mut usize,
) -> AtsreuseStatus {
    boundary("atsreuse_keyring_ats_block", None, || {
        // SAFETY: the caller's contract.
        let (keyring, buf, len_out) = unsafe {
            (
                decode(encoded, encoded_len)?,
                output(out, out_cap)?,
                out_ref(out_len)?,
            )
        };
        export_at(&keyring, t, Layout::Ats, buf, len_out)
    })
}

/// Finds the key of an encoded keyring that encrypts at time `t`: its epoch goes to
/// `*epoch_out`, its 16-byte name to `name_out`. `ATSREUSE_STATUS_NOT_FOUND` when none does.
///
/// # Safety
/// `encoded` readable for `encoded_len`; `epoch_out` writable; `name_out` 16 writable bytes.
#[no_mangle]
pub unsafe extern "C" fn atsreuse_keyring_encrypting_at(
    encoded: *const u8,
    encoded_len: usize,
    t: u64,
    epoch_out: *mut u64,
    name_out: *mut u8,
) -> AtsreuseStatus {
    boundary("atsreuse_keyring_encrypting_at", None, || {
        // SAFETY: the caller's contract.
        let (keyring, epoch, name) = unsafe {
            (
                decode(encoded, encoded_len)?,
                out_ref(epoch_out)?,
                output(name_out, NAME_LEN)?,
            )
        };
        match keyring.encrypting_at(t) {
            Some(entry) => {
                *epoch = entry.epoch;
                name.copy_from_slice(entry.stek.name());
                Ok(S::Ok)
            }
            None => Ok(S::NotFound),
        }
    })
}

/// Merges two encoded keyrings at time `now` (union by epoch and name, then expired keys and
/// those beyond capacity dropped) and writes the encoded result to `out`. `*changed_out` is 1
/// when the result differs from `a`, else 0.
///
/// # Safety
/// `a`, `b` readable for their lengths; `out` `out_cap` writable bytes; `out_len` and
/// `changed_out` writable.
#[no_mangle]
pub unsafe extern "C" fn atsreuse_keyring_merge(
    a: *const u8,
    a_len: usize,
    b: *const u8,
    b_len: usize,
    now: u64,
    out: *mut u8,
    out_cap: usize,
    out_len: *mut usize,
    changed_out: *mut u32,
) -> AtsreuseStatus {
    boundary("atsreuse_keyring_merge", None, || {
        // SAFETY: the caller's contract.
        let (mut merged, other, buf, len_out, changed) = unsafe {
            (
                decode(a, a_len)?,
                decode(b, b_len)?,
                output(out, out_cap)?,
                out_ref(out_len)?,
                out_ref(changed_out)?,
            )
        };
        *changed = u32::from(merged.merge(&other, now));
        encode_to(&merged, buf, len_out)
    })
}

/// Seals an encoded keyring as the sender `node_id` (16 bytes) with message number `sequence`
/// at time `now`: what the rotating node stores in Redis. `out` needs the encoded length + 50
/// bytes; `*out_len` receives the envelope length.
///
/// # Safety
/// `psk`, `encoded` readable for their lengths; `cluster` NUL-terminated; `node_id` 16
/// readable bytes; `out` `out_cap` writable bytes; `out_len` writable.
#[no_mangle]
pub unsafe extern "C" fn atsreuse_keyring_seal(
    psk: *const u8,
    psk_len: usize,
    cluster: *const c_char,
    node_id: *const u8,
    sequence: u64,
    now: u64,
    encoded: *const u8,
    encoded_len: usize,
    out: *mut u8,
    out_cap: usize,
    out_len: *mut usize,
) -> AtsreuseStatus {
    boundary("atsreuse_keyring_seal", None, || {
        // SAFETY: the caller's contract.
        let (node, ring, buf, len_out) = unsafe {
            (
                self::node_id(node_id)?,
                decode(encoded, encoded_len)?,
                output(out, out_cap)?,
                out_ref(out_len)?,
            )
        };
        // SAFETY: the caller's contract.
        let keys = unsafe { cluster_keys(psk, psk_len, cluster) }?;
        let needed = encoded_len + atsreuse_core::envelope::OVERHEAD;
        if buf.len() < needed {
            return with_len(len_out, needed, S::BufferTooSmall);
        }
        let mut sealer = Sealer {
            node,
            next_sequence: sequence,
        };
        let n = keyring::seal(&mut sealer, &keys, now, &ring, buf).map_err(S::from)?;
        with_len(len_out, n, S::Ok)
    })
}

/// Opens a sealed keyring (no freshness window: a stored keyring is as old as its last
/// rotation) and writes it, encoded, to `out` (at most 1 + 8 * 112 bytes); `*header_out`
/// receives the envelope header. When `held_epoch` is not NULL, a keyring whose epoch is not
/// greater than `*held_epoch` is refused with `ATSREUSE_STATUS_KEYRING_OLD_EPOCH` (a replay).
///
/// # Safety
/// `psk`, `sealed` readable for their lengths; `cluster` NUL-terminated; `held_epoch` NULL or
/// readable; `out` `out_cap` writable bytes; `out_len` and `header_out` writable.
#[no_mangle]
pub unsafe extern "C" fn atsreuse_keyring_open(
    psk: *const u8,
    psk_len: usize,
    cluster: *const c_char,
    sealed: *const u8,
    sealed_len: usize,
    held_epoch: *const u64,
    out: *mut u8,
    out_cap: usize,
    out_len: *mut usize,
    header_out: *mut AtsreuseHeader,
) -> AtsreuseStatus {
    boundary("atsreuse_keyring_open", None, || {
        // SAFETY: the caller's contract.
        let (bytes, buf, len_out, header_out) = unsafe {
            (
                input(sealed, sealed_len)?,
                output(out, out_cap)?,
                out_ref(out_len)?,
                out_ref(header_out)?,
            )
        };
        // SAFETY: the caller's contract.
        let keys = unsafe { cluster_keys(psk, psk_len, cluster) }?;
        let mut scratch = Zeroizing::new([0u8; ENCODED_MAX_LEN]);
        // SAFETY: the caller's contract.
        let opened = match unsafe { held_epoch.as_ref() } {
            Some(held) => keyring::open_newer(&keys, bytes, *held, &mut scratch[..]),
            None => keyring::open(&keys, bytes, &mut scratch[..]),
        };
        let (header, ring) = opened.map_err(S::from)?;
        *header_out = header_to_c(&header);
        encode_to(&ring, buf, len_out)
    })
}

/// Opens a sealed keyring and exports the keys that decrypt at time `t` in `layout` (an
/// `atsreuse_layout` number), concatenated in the order of the ATS block: the encrypting key
/// first, then the others newest first. `*out_len` receives the length (a multiple of 48 or
/// 80; 0 when no key decrypts at `t`). nginx takes the first key as its encrypting key;
/// HAProxy's file wants its own order, which the `atsreuse export` command writes.
///
/// # Safety
/// `psk`, `sealed` readable for their lengths; `cluster` NUL-terminated; `out` `out_cap`
/// writable bytes; `out_len` writable.
#[no_mangle]
pub unsafe extern "C" fn atsreuse_keyring_export(
    psk: *const u8,
    psk_len: usize,
    cluster: *const c_char,
    sealed: *const u8,
    sealed_len: usize,
    t: u64,
    layout: u32,
    out: *mut u8,
    out_cap: usize,
    out_len: *mut usize,
) -> AtsreuseStatus {
    boundary("atsreuse_keyring_export", None, || {
        // SAFETY: the caller's contract.
        let (bytes, buf, len_out) = unsafe {
            (
                input(sealed, sealed_len)?,
                output(out, out_cap)?,
                out_ref(out_len)?,
            )
        };
        // SAFETY: the caller's contract.
        let keys = unsafe { cluster_keys(psk, psk_len, cluster) }?;
        let layout = layout_from(layout)?;
        let mut scratch = Zeroizing::new([0u8; ENCODED_MAX_LEN]);
        let (_, ring) = keyring::open(&keys, bytes, &mut scratch[..]).map_err(S::from)?;
        export_at(&ring, t, layout, buf, len_out)
    })
}
