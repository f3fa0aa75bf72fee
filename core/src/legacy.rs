//! The ATS 9.x `ssl_session_reuse` wire format, for rolling migrations only: AES-256-CBC with
//! a fixed IV and no MAC, so nothing it carries is authenticated.
//!
//! CONTRACT (skeleton): `LegacyKey::derive` (EVP_BytesToKey, MD5, fixed salt), encrypt/decrypt
//! of a frame, the session frame v2, the 48-byte STEK message, base64 with padding (decoder also
//! takes `-` and `_`). Known answers in LEGACY-PROTOCOL.md are tests.
