//! The ATS 9.x `ssl_session_reuse` wire format, for rolling migrations only: AES-256-CBC with
//! a fixed IV and no MAC, so nothing it carries is authenticated. Facts from
//! `shared/LEGACY-PROTOCOL.md`; the code is ours.
//!
//! - Key and IV: OpenSSL's `EVP_BytesToKey` with MD5, one round, salt `73 61 6c 75 00 55 89 e5`:
//!   D1 = MD5(pass ‖ salt), D2 = MD5(D1 ‖ pass ‖ salt), D3 = MD5(D2 ‖ pass ‖ salt);
//!   key = D1 ‖ D2, IV = D3 (the same IV for every message).
//! - Payload: base64 (standard alphabet, with padding) of AES-256-CBC with PKCS#7 padding.
//! - Session frame (plaintext), little-endian:
//!
//! | field      | bytes | |
//! |------------|-------|---|
//! | version    | 8     | u64, always 2 |
//! | DER length | 4     | u32, must equal the bytes that follow |
//! | DER        | n     | the `SSL_SESSION` |
//!
//! - STEK message (plaintext): 48 bytes, name 16 ‖ HMAC secret 16 ‖ AES key 16; its payload is
//!   always 88 base64 characters.
//! - Session channel suffix: base64 of the session id (at most 32 bytes).
//!
//! The base64 decoder reads `-` as `+` and `_` as `/`, as the old one did; it wants padding
//! and rejects non-zero bits after the last byte, so every byte string has one accepted text
//! per alphabet. Nothing here allocates: every function writes into the caller's buffer.

use aes::Aes256;
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use md5::{Digest, Md5};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::session::{DER_MAX_LEN, ID_MAX_LEN};

/// The fixed `EVP_BytesToKey` salt of the old plugin.
pub const SALT: [u8; 8] = [0x73, 0x61, 0x6c, 0x75, 0x00, 0x55, 0x89, 0xe5];
/// The only session frame version.
pub const FRAME_VERSION: u64 = 2;
/// Bytes before the DER in a session frame.
pub const FRAME_HEADER_LEN: usize = 12;
/// Bytes of a STEK message's plaintext.
pub const STEK_LEN: usize = 48;
/// Characters of a STEK message's payload (64 bytes of ciphertext in base64).
pub const STEK_PAYLOAD_LEN: usize = base64_encoded_len(cbc_len(STEK_LEN));
/// Longest session id a channel suffix may carry.
pub const SESSION_ID_SUFFIX_MAX_LEN: usize = base64_encoded_len(ID_MAX_LEN);
/// Longest PSK (without its trailing newlines) the old plugin accepted.
pub const PSK_MAX_LEN: usize = 256;

const BLOCK: usize = 16;

/// Why a legacy message could not be encoded or decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LegacyError {
    /// Not valid base64: a bad character, length or padding.
    Base64,
    /// The CBC padding is wrong after decryption: another PSK, or a tampered payload.
    BadPadding,
    /// The frame is shorter than its 12-byte header.
    ShortFrame,
    /// The frame version is not 2.
    WrongVersion,
    /// The declared DER length is not the number of bytes that follow.
    LengthMismatch,
    /// The DER is empty or longer than [`DER_MAX_LEN`].
    BadDer,
    /// A STEK message whose plaintext is not 48 bytes.
    BadStekLength,
    /// A channel suffix that decodes to more than 32 bytes.
    SessionIdTooLong,
    /// An empty session id.
    EmptySessionId,
    /// The output buffer is too small.
    BufferTooSmall,
    /// The PSK file is empty once its trailing newlines are removed.
    EmptyPsk,
    /// The PSK file is longer than [`PSK_MAX_LEN`] once its trailing newlines are removed.
    PskTooLong,
}

/// Bytes of the CBC ciphertext of `len` plaintext bytes (PKCS#7 always adds 1 to 16 bytes).
pub const fn cbc_len(len: usize) -> usize {
    (len / BLOCK + 1) * BLOCK
}

/// Characters of the base64 text of `len` bytes, with padding.
pub const fn base64_encoded_len(len: usize) -> usize {
    len.div_ceil(3) * 4
}

/// Characters of the payload of a session frame holding `der_len` bytes of DER.
pub const fn session_payload_len(der_len: usize) -> usize {
    base64_encoded_len(cbc_len(FRAME_HEADER_LEN + der_len))
}

/// The old plugin's key and IV, erased on drop.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct LegacyKey {
    key: [u8; 32],
    iv: [u8; 16],
}

impl core::fmt::Debug for LegacyKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("LegacyKey(AES-256-CBC, ..)")
    }
}

/// One `EVP_BytesToKey` round: MD5(previous ‖ pass ‖ zeros ‖ salt). The pass is given as
/// bytes plus a count of zero bytes, so the old plugin's passphrase needs no buffer.
fn md5_round(previous: Option<&[u8; 16]>, pass: &[u8], zeros: usize) -> [u8; 16] {
    let mut md5 = Md5::new();
    if let Some(previous) = previous {
        md5.update(previous);
    }
    md5.update(pass);
    let mut left = zeros;
    while left > 0 {
        let n = left.min(BLOCK);
        md5.update(&[0u8; BLOCK][..n]);
        left -= n;
    }
    md5.update(SALT);
    md5.finalize().into()
}

impl LegacyKey {
    /// `EVP_BytesToKey(AES-256-CBC, MD5, SALT, passphrase, 1 round)`.
    pub fn derive(passphrase: &[u8]) -> LegacyKey {
        Self::derive_padded(passphrase, 0)
    }

    /// The key for a passphrase of `pass` followed by `zeros` zero bytes.
    fn derive_padded(pass: &[u8], zeros: usize) -> LegacyKey {
        let mut d1 = md5_round(None, pass, zeros);
        let mut d2 = md5_round(Some(&d1), pass, zeros);
        let iv = md5_round(Some(&d2), pass, zeros);
        let mut key = [0u8; 32];
        key[..16].copy_from_slice(&d1);
        key[16..].copy_from_slice(&d2);
        d1.zeroize();
        d2.zeroize();
        LegacyKey { key, iv }
    }

    /// The AES-256 key. For vector runners only: never log it.
    pub fn expose_key(&self) -> &[u8; 32] {
        &self.key
    }

    /// The fixed IV. For vector runners only: never log it.
    pub fn expose_iv(&self) -> &[u8; 16] {
        &self.iv
    }

    /// Encrypts `buf[..len]` in place, returns the ciphertext length.
    fn encrypt(&self, buf: &mut [u8], len: usize) -> Result<usize, LegacyError> {
        let cipher = cbc::Encryptor::<Aes256>::new(&self.key.into(), &self.iv.into());
        let ct = cipher.encrypt_padded_mut::<Pkcs7>(buf, len);
        ct.map(|ct| ct.len())
            .map_err(|_| LegacyError::BufferTooSmall)
    }

    /// Decrypts `buf` in place, returns the plaintext length.
    fn decrypt(&self, buf: &mut [u8]) -> Result<usize, LegacyError> {
        let cipher = cbc::Decryptor::<Aes256>::new(&self.key.into(), &self.iv.into());
        let pt = cipher.decrypt_padded_mut::<Pkcs7>(buf);
        pt.map(|pt| pt.len()).map_err(|_| LegacyError::BadPadding)
    }
}

/// The PSK file as the old plugin read it.
#[derive(Clone, Copy)]
pub struct LegacyPskFile<'a> {
    auth: &'a [u8],
    stripped_newlines: usize,
}

impl core::fmt::Debug for LegacyPskFile<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("LegacyPskFile")
            .field("len", &self.auth.len())
            .finish_non_exhaustive()
    }
}

impl<'a> LegacyPskFile<'a> {
    /// Reads the bytes of the PSK file: trailing `\n` are removed for the AUTH password, which
    /// must be 1 to [`PSK_MAX_LEN`] bytes.
    pub fn parse(file: &'a [u8]) -> Result<LegacyPskFile<'a>, LegacyError> {
        let mut auth = file;
        while let Some(rest) = auth.strip_suffix(b"\n") {
            auth = rest;
        }
        if auth.is_empty() {
            return Err(LegacyError::EmptyPsk);
        }
        if auth.len() > PSK_MAX_LEN {
            return Err(LegacyError::PskTooLong);
        }
        Ok(LegacyPskFile {
            auth,
            stripped_newlines: file.len() - auth.len(),
        })
    }

    /// The Redis AUTH password the old plugin sent (the PSK in clear).
    pub fn auth_password(&self) -> &'a [u8] {
        self.auth
    }

    /// Bytes of the encryption passphrase: the file's full length.
    pub fn passphrase_len(&self) -> usize {
        self.auth.len() + self.stripped_newlines
    }

    /// Writes the passphrase (each stripped newline became a zero byte), returns its length.
    pub fn write_passphrase(&self, out: &mut [u8]) -> Result<usize, LegacyError> {
        let out = out
            .get_mut(..self.passphrase_len())
            .ok_or(LegacyError::BufferTooSmall)?;
        let (auth, zeros) = out.split_at_mut(self.auth.len());
        auth.copy_from_slice(self.auth);
        zeros.fill(0);
        Ok(out.len())
    }

    /// The key the old plugin derived from this file.
    pub fn key(&self) -> LegacyKey {
        LegacyKey::derive_padded(self.auth, self.stripped_newlines)
    }
}

/// Writes the session frame v2 of `der` into `out`, returns its length.
pub fn encode_frame(der: &[u8], out: &mut [u8]) -> Result<usize, LegacyError> {
    if der.is_empty() || der.len() > DER_MAX_LEN {
        return Err(LegacyError::BadDer);
    }
    let der_len = u32::try_from(der.len()).map_err(|_| LegacyError::BadDer)?;
    let len = FRAME_HEADER_LEN + der.len();
    let out = out.get_mut(..len).ok_or(LegacyError::BufferTooSmall)?;
    let (header, body) = out.split_at_mut(FRAME_HEADER_LEN);
    header[..8].copy_from_slice(&FRAME_VERSION.to_le_bytes());
    header[8..].copy_from_slice(&der_len.to_le_bytes());
    body.copy_from_slice(der);
    Ok(len)
}

/// Reads a session frame v2 and returns its DER; the version and the declared length are
/// checked (the old plugin checked neither).
pub fn decode_frame(frame: &[u8]) -> Result<&[u8], LegacyError> {
    if frame.len() < FRAME_HEADER_LEN {
        return Err(LegacyError::ShortFrame);
    }
    let (header, der) = frame.split_at(FRAME_HEADER_LEN);
    let mut version = [0u8; 8];
    version.copy_from_slice(&header[..8]);
    if u64::from_le_bytes(version) != FRAME_VERSION {
        return Err(LegacyError::WrongVersion);
    }
    let mut declared = [0u8; 4];
    declared.copy_from_slice(&header[8..]);
    let declared = u32::from_le_bytes(declared);
    if usize::try_from(declared).ok() != Some(der.len()) {
        return Err(LegacyError::LengthMismatch);
    }
    if der.is_empty() || der.len() > DER_MAX_LEN {
        return Err(LegacyError::BadDer);
    }
    Ok(der)
}

/// Encrypts the `len` bytes at the front of `buf` and turns them into base64 in place; returns
/// the payload length. `buf` needs `base64_encoded_len(cbc_len(len))` bytes. This is the
/// outer layer of every legacy message.
pub fn encrypt_payload_in_place(
    key: &LegacyKey,
    buf: &mut [u8],
    len: usize,
) -> Result<usize, LegacyError> {
    if buf.len() < base64_encoded_len(cbc_len(len)) {
        return Err(LegacyError::BufferTooSmall);
    }
    let ct_len = key.encrypt(buf, len)?;
    base64_expand_in_place(buf, ct_len)
}

/// Decodes the base64 `payload` into `out` and decrypts it there; returns the plaintext, at
/// the front of `out` (which needs 3/4 of the payload length). On error `out` is zeroed.
pub fn decrypt_payload<'o>(
    key: &LegacyKey,
    payload: &[u8],
    out: &'o mut [u8],
) -> Result<&'o [u8], LegacyError> {
    let decrypted = base64_decode(payload, out).and_then(|ct_len| match out.get_mut(..ct_len) {
        Some(ct) => key.decrypt(ct),
        None => Err(LegacyError::BufferTooSmall),
    });
    match decrypted {
        Ok(len) => out.get(..len).ok_or(LegacyError::BadPadding),
        Err(e) => {
            out.zeroize();
            Err(e)
        }
    }
}

/// Encodes `der` as the payload of a session message into `out` (needs
/// [`session_payload_len`] bytes), returns the payload length.
pub fn encode_session(key: &LegacyKey, der: &[u8], out: &mut [u8]) -> Result<usize, LegacyError> {
    if der.is_empty() || der.len() > DER_MAX_LEN {
        return Err(LegacyError::BadDer);
    }
    if out.len() < session_payload_len(der.len()) {
        return Err(LegacyError::BufferTooSmall);
    }
    // Frame, encryption and base64 all happen in `out`: the frame at the front, then the
    // ciphertext over it, then the base64 text grown backwards from its end.
    let frame_len = encode_frame(der, out)?;
    encrypt_payload_in_place(key, out, frame_len)
}

/// Decodes a session payload: base64, decrypt, frame. The DER is returned from `out`, which
/// needs room for the decoded payload (3/4 of its length). On error `out` holds no plaintext.
pub fn decode_session<'o>(
    key: &LegacyKey,
    payload: &[u8],
    out: &'o mut [u8],
) -> Result<&'o [u8], LegacyError> {
    let checked = decrypt_payload(key, payload, out)
        .and_then(|frame| decode_frame(frame).map(|der| der.len()));
    match checked {
        Ok(len) => out
            .get(FRAME_HEADER_LEN..FRAME_HEADER_LEN + len)
            .ok_or(LegacyError::BadDer),
        Err(e) => {
            out.zeroize();
            Err(e)
        }
    }
}

/// Encodes a 48-byte STEK as the payload of a STEK message (always 88 characters).
pub fn encode_stek(key: &LegacyKey, stek: &[u8; STEK_LEN]) -> [u8; STEK_PAYLOAD_LEN] {
    let mut out = [0u8; STEK_PAYLOAD_LEN];
    out[..STEK_LEN].copy_from_slice(stek);
    // 88 bytes hold the 64-byte ciphertext and its base64 text: neither step can fail.
    let encoded = encrypt_payload_in_place(key, &mut out, STEK_LEN);
    debug_assert_eq!(encoded, Ok(STEK_PAYLOAD_LEN));
    out
}

/// Decodes a STEK message into `stek`. Without a MAC this only catches a wrong length or
/// broken padding: a flipped bit elsewhere gives a wrong key and no error.
pub fn decode_stek(
    key: &LegacyKey,
    payload: &[u8],
    stek: &mut [u8; STEK_LEN],
) -> Result<(), LegacyError> {
    if base64_decoded_len(payload)? != cbc_len(STEK_LEN) {
        return Err(LegacyError::BadStekLength);
    }
    let mut buf = [0u8; cbc_len(STEK_LEN)];
    base64_decode(payload, &mut buf)?;
    let result = key.decrypt(&mut buf).and_then(|n| match buf.get(..n) {
        Some(plain) if n == STEK_LEN => {
            stek.copy_from_slice(plain);
            Ok(())
        }
        _ => Err(LegacyError::BadStekLength),
    });
    buf.zeroize();
    result
}

/// Writes the channel suffix of a session id (its base64), returns its length.
pub fn encode_session_id(id: &[u8], out: &mut [u8]) -> Result<usize, LegacyError> {
    if id.is_empty() {
        return Err(LegacyError::EmptySessionId);
    }
    if id.len() > ID_MAX_LEN {
        return Err(LegacyError::SessionIdTooLong);
    }
    base64_encode(id, out)
}

/// Reads a session id from a channel suffix into `out`, returns its length. The length is
/// checked from the text before any byte is written (the old plugin overflowed here).
pub fn decode_session_id(suffix: &[u8], out: &mut [u8; ID_MAX_LEN]) -> Result<usize, LegacyError> {
    let len = base64_decoded_len(suffix)?;
    if len > ID_MAX_LEN {
        return Err(LegacyError::SessionIdTooLong);
    }
    if len == 0 {
        return Err(LegacyError::EmptySessionId);
    }
    base64_decode(suffix, out)
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// The base64 text of three bytes (missing bytes as zeros).
fn encode_group([b0, b1, b2]: [u8; 3]) -> [u8; 4] {
    let digit = |six_bits: u8| ALPHABET[usize::from(six_bits & 0x3f)];
    [
        digit(b0 >> 2),
        digit(b0 << 4 | b1 >> 4),
        digit(b1 << 2 | b2 >> 6),
        digit(b2),
    ]
}

/// Turns the `len` bytes at the front of `buf` into their base64 text in place, returns the
/// text length. Groups are done last to first: group j reads bytes 3j..3j+3 and writes
/// 4j..4j+4, which never reaches the bytes of an earlier group (3j' + 3 <= 3j <= 4j).
fn base64_expand_in_place(buf: &mut [u8], len: usize) -> Result<usize, LegacyError> {
    let text_len = base64_encoded_len(len);
    if buf.len() < text_len || buf.len() < len {
        return Err(LegacyError::BufferTooSmall);
    }
    for group in (0..len.div_ceil(3)).rev() {
        let start = group * 3;
        let take = (len - start).min(3);
        let mut bytes = [0u8; 3];
        bytes[..take].copy_from_slice(&buf[start..start + take]);
        let mut text = encode_group(bytes);
        // One missing byte gives one '=', two give two.
        for c in text.iter_mut().skip(take + 1) {
            *c = b'=';
        }
        buf[group * 4..group * 4 + 4].copy_from_slice(&text);
    }
    Ok(text_len)
}

/// Writes the base64 text of `input` (standard alphabet, padded) into `out`, returns its length.
pub fn base64_encode(input: &[u8], out: &mut [u8]) -> Result<usize, LegacyError> {
    let head = out
        .get_mut(..input.len())
        .ok_or(LegacyError::BufferTooSmall)?;
    head.copy_from_slice(input);
    base64_expand_in_place(out, input.len())
}

/// The value of one base64 character; `-` and `_` count as `+` and `/`.
fn decode_char(c: u8) -> Option<u32> {
    let value = match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' | b'-' => 62,
        b'/' | b'_' => 63,
        _ => return None,
    };
    Some(u32::from(value))
}

/// Bytes that a padded base64 text decodes to, from its length and padding alone.
pub fn base64_decoded_len(text: &[u8]) -> Result<usize, LegacyError> {
    if text.len() % 4 != 0 {
        return Err(LegacyError::Base64);
    }
    let padding = match text {
        [.., b'=', b'='] => 2,
        [.., b'='] => 1,
        _ => 0,
    };
    Ok(text.len() / 4 * 3 - padding)
}

/// Decodes padded base64 (also taking `-` and `_`) into `out`, returns the byte count.
pub fn base64_decode(text: &[u8], out: &mut [u8]) -> Result<usize, LegacyError> {
    let len = base64_decoded_len(text)?;
    let out = out.get_mut(..len).ok_or(LegacyError::BufferTooSmall)?;
    for (group, chunk) in text.chunks_exact(4).enumerate() {
        let start = group * 3;
        let take = (len - start).min(3);
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            // Padding only in the positions the length calculation allowed.
            let value = if i > take {
                (c == b'=').then_some(0)
            } else {
                decode_char(c)
            };
            n = n << 6 | value.ok_or(LegacyError::Base64)?;
        }
        let [_, b0, b1, b2] = n.to_be_bytes();
        let bytes = [b0, b1, b2];
        // Bits after the last byte must be zero: one accepted text per byte string.
        if bytes[take..].iter().any(|&b| b != 0) {
            return Err(LegacyError::Base64);
        }
        out[start..start + take].copy_from_slice(&bytes[..take]);
    }
    Ok(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> std::vec::Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
            .collect()
    }

    fn counting(from: u8) -> [u8; 16] {
        core::array::from_fn(|i| from + u8::try_from(i).expect("small"))
    }

    fn known_stek() -> [u8; STEK_LEN] {
        let mut stek = [0u8; STEK_LEN];
        stek[..16].copy_from_slice(&counting(0x00));
        stek[16..32].copy_from_slice(&counting(0x10));
        stek[32..].copy_from_slice(&counting(0x20));
        stek
    }

    const KNOWN_STEK_PAYLOAD: &str =
        "GUWOP1jJwlKljz6SSZPDZC900bnXPI1IeH/iuoaOIDV22nsnWskU06SdYP2NCW0cwhZgPMa9tO04aGlP1kyILg==";
    const KNOWN_SESSION_PAYLOAD: &str = "NOzwSYcLibnuPFqheSKks3U/ryJuDA586UaLzyItUZo=";
    const KNOWN_SUFFIX: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

    #[test]
    fn key_and_iv_of_secret_are_the_known_answers() {
        let key = LegacyKey::derive(b"secret");
        let expected = hex("070552d26b7814523fdcff43cf33ffad8138581b7f9d58d3317edd44ee357143");
        assert_eq!(&key.expose_key()[..], &expected[..]);
        assert_eq!(
            &key.expose_iv()[..],
            &hex("7e5738afff99fb39d0392d17543817f9")[..]
        );
    }

    #[test]
    fn counting_stek_encodes_to_the_known_payload_and_back() {
        let key = LegacyKey::derive(b"secret");
        let payload = encode_stek(&key, &known_stek());
        assert_eq!(&payload[..], KNOWN_STEK_PAYLOAD.as_bytes());
        let mut stek = [0u8; STEK_LEN];
        decode_stek(&key, KNOWN_STEK_PAYLOAD.as_bytes(), &mut stek).expect("decode");
        assert_eq!(stek, known_stek());
    }

    #[test]
    fn stand_in_der_gives_the_known_frame_and_payload() {
        let key = LegacyKey::derive(b"secret");
        let der = hex("3082aaaaaaaaaaaa");
        let mut frame = [0u8; 32];
        let n = encode_frame(&der, &mut frame).expect("frame");
        assert_eq!(
            &frame[..n],
            &hex("0200000000000000080000003082aaaaaaaaaaaa")[..]
        );
        let mut out = [0u8; 64];
        let n = encode_session(&key, &der, &mut out).expect("encode");
        assert_eq!(&out[..n], KNOWN_SESSION_PAYLOAD.as_bytes());
        assert_eq!(n, session_payload_len(der.len()));
        let mut buf = [0u8; 64];
        let decoded = decode_session(&key, KNOWN_SESSION_PAYLOAD.as_bytes(), &mut buf);
        assert_eq!(decoded, Ok(&der[..]));
    }

    #[test]
    fn counting_session_id_gives_the_known_channel_suffix() {
        let id: [u8; 32] = core::array::from_fn(|i| u8::try_from(i).expect("small"));
        let mut text = [0u8; SESSION_ID_SUFFIX_MAX_LEN];
        let n = encode_session_id(&id, &mut text).expect("encode");
        assert_eq!(&text[..n], KNOWN_SUFFIX.as_bytes());
        let mut back = [0u8; ID_MAX_LEN];
        assert_eq!(
            decode_session_id(KNOWN_SUFFIX.as_bytes(), &mut back),
            Ok(32)
        );
        assert_eq!(back, id);
    }

    #[test]
    fn psk_file_newlines_become_zero_bytes_of_the_passphrase() {
        let file = LegacyPskFile::parse(b"secret\n").expect("file");
        assert_eq!(file.auth_password(), b"secret");
        let mut pass = [0xffu8; 16];
        assert_eq!(file.write_passphrase(&mut pass), Ok(7));
        assert_eq!(&pass[..7], b"secret\0");
        assert_eq!(
            file.key().expose_key(),
            LegacyKey::derive(b"secret\0").expose_key()
        );
        let plain = LegacyPskFile::parse(b"secret").expect("file");
        assert_eq!(
            plain.key().expose_key(),
            LegacyKey::derive(b"secret").expose_key()
        );
        assert_eq!(
            LegacyPskFile::parse(b"\n\n").err(),
            Some(LegacyError::EmptyPsk)
        );
        assert_eq!(
            LegacyPskFile::parse(&[1; 257]).err(),
            Some(LegacyError::PskTooLong)
        );
    }

    #[test]
    fn frame_with_a_wrong_version_is_refused() {
        let key = LegacyKey::derive(b"secret");
        let mut frame = hex("0300000000000000080000003082aaaaaaaaaaaa");
        assert_eq!(decode_frame(&frame), Err(LegacyError::WrongVersion));
        frame.resize(64, 0);
        let t = encrypt_payload_in_place(&key, &mut frame, 20).expect("encrypt");
        let text = frame;
        let mut buf = [0xeeu8; 64];
        let r = decode_session(&key, &text[..t], &mut buf);
        assert_eq!(r, Err(LegacyError::WrongVersion));
        assert!(buf.iter().all(|&b| b == 0), "no plaintext is left behind");
    }

    #[test]
    fn frame_whose_declared_length_does_not_match_is_refused() {
        let longer = hex("0200000000000000090000003082aaaaaaaaaaaa");
        let shorter = hex("0200000000000000070000003082aaaaaaaaaaaa");
        assert_eq!(decode_frame(&longer), Err(LegacyError::LengthMismatch));
        assert_eq!(decode_frame(&shorter), Err(LegacyError::LengthMismatch));
        let huge = hex("0200000000000000ffffffff3082");
        assert_eq!(decode_frame(&huge), Err(LegacyError::LengthMismatch));
        assert_eq!(
            decode_frame(&hex("020000000000000000000000")),
            Err(LegacyError::BadDer)
        );
        assert_eq!(
            decode_frame(&hex("02000000000000000000")),
            Err(LegacyError::ShortFrame)
        );
    }

    #[test]
    fn channel_suffix_longer_than_32_bytes_is_refused_before_writing() {
        let mut out = [0u8; ID_MAX_LEN];
        let thirty_three = [7u8; 33];
        let mut text = [0u8; 64];
        let n = base64_encode(&thirty_three, &mut text).expect("b64");
        assert_eq!(
            decode_session_id(&text[..n], &mut out),
            Err(LegacyError::SessionIdTooLong)
        );
        assert_eq!(out, [0u8; ID_MAX_LEN]);
        assert_eq!(
            decode_session_id(b"", &mut out),
            Err(LegacyError::EmptySessionId)
        );
        assert_eq!(
            encode_session_id(&thirty_three, &mut text),
            Err(LegacyError::SessionIdTooLong)
        );
    }

    #[test]
    fn decoder_takes_url_safe_characters_and_refuses_junk() {
        let mut out = [0u8; 8];
        assert_eq!(base64_decode(b"-_-_", &mut out), Ok(3));
        assert_eq!(&out[..3], &[0xfb, 0xff, 0xbf]);
        assert_eq!(base64_decode(b"+/+/", &mut out), Ok(3));
        assert_eq!(&out[..3], &[0xfb, 0xff, 0xbf]);
        for bad in [
            &b"abc"[..],
            b"ab=c",
            b"a===",
            b"ab*d",
            b"AB==",
            b"ABC=",
            b"=AAA",
            b"AA==AAAA",
        ] {
            assert_eq!(
                base64_decode(bad, &mut out),
                Err(LegacyError::Base64),
                "{bad:?}"
            );
        }
        assert_eq!(base64_decode(b"AA==", &mut out), Ok(1));
        assert_eq!(base64_decode(b"AAA=", &mut out), Ok(2));
        assert_eq!(
            base64_decode(b"AAAAAAAA", &mut out[..5]),
            Err(LegacyError::BufferTooSmall)
        );
    }

    #[test]
    fn base64_round_trips_every_length_in_place() {
        let data: [u8; 40] = core::array::from_fn(|i| u8::try_from(i * 37 % 256).expect("byte"));
        for len in 0..data.len() {
            let mut text = [0u8; 64];
            let n = base64_encode(&data[..len], &mut text).expect("encode");
            assert_eq!(n, base64_encoded_len(len));
            let mut back = [0u8; 40];
            assert_eq!(base64_decode(&text[..n], &mut back), Ok(len));
            assert_eq!(&back[..len], &data[..len]);
        }
    }

    #[test]
    fn stek_payload_of_wrong_length_or_padding_is_refused() {
        let key = LegacyKey::derive(b"secret");
        let mut stek = [0u8; STEK_LEN];
        let short = &KNOWN_STEK_PAYLOAD.as_bytes()[..84];
        assert_eq!(
            decode_stek(&key, short, &mut stek),
            Err(LegacyError::BadStekLength)
        );
        let other = LegacyKey::derive(b"other");
        let r = decode_stek(&other, KNOWN_STEK_PAYLOAD.as_bytes(), &mut stek);
        assert!(matches!(
            r,
            Err(LegacyError::BadPadding | LegacyError::BadStekLength)
        ));
        assert_eq!(stek, [0u8; STEK_LEN]);
    }

    #[test]
    fn flipped_bit_in_a_stek_message_goes_unnoticed() {
        // The defect atsreuse fixes: no MAC, so a changed first block changes the key silently.
        let key = LegacyKey::derive(b"secret");
        let mut payload = [0u8; STEK_PAYLOAD_LEN];
        payload.copy_from_slice(KNOWN_STEK_PAYLOAD.as_bytes());
        payload[0] = b'H';
        let mut stek = [0u8; STEK_LEN];
        assert_eq!(decode_stek(&key, &payload, &mut stek), Ok(()));
        assert_ne!(stek, known_stek());
    }

    #[test]
    fn session_encode_checks_der_and_room() {
        let key = LegacyKey::derive(b"secret");
        let mut out = [0u8; 64];
        assert_eq!(
            encode_session(&key, &[], &mut out),
            Err(LegacyError::BadDer)
        );
        let der = [0x30u8; 21];
        assert_eq!(session_payload_len(21), 64);
        assert_eq!(
            encode_session(&key, &der, &mut out[..63]),
            Err(LegacyError::BufferTooSmall)
        );
        assert_eq!(encode_session(&key, &der, &mut out), Ok(64));
        let big = [0u8; DER_MAX_LEN + 1];
        let mut out = [0u8; session_payload_len(DER_MAX_LEN + 1)];
        assert_eq!(
            encode_session(&key, &big, &mut out),
            Err(LegacyError::BadDer)
        );
    }

    #[test]
    fn debug_output_shows_no_key_bytes() {
        let key = LegacyKey::derive(b"secret");
        assert_eq!(std::format!("{key:?}"), "LegacyKey(AES-256-CBC, ..)");
        let file = LegacyPskFile::parse(b"secret\n").expect("file");
        assert_eq!(std::format!("{file:?}"), "LegacyPskFile { len: 6, .. }");
    }
}
