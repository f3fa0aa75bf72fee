//! `atsreuse vectors check DIR`: runs every vector file in DIR (schema in `vectors/README.md`)
//! through the core this command was built with, and says which cases differ. The same files
//! are run by the core's own tests and, through the C API, by `tests/c/vectors.c`; this one is
//! for an operator who wants to check a build on the machine it runs on.

use std::path::Path;

use atsreuse_core::envelope::{self, Freshness, Header, Kind, Sealer};
use atsreuse_core::keyring::{self, KeyEntry, KeyTimes, Keyring, ENCODED_MAX_LEN};
use atsreuse_core::keys::{self, ClusterKeys, NodeId, Psk, Purpose};
use atsreuse_core::legacy::{self, LegacyKey, LegacyPskFile};
use atsreuse_core::session::{self, SessionOpenError, SessionRecord};
use atsreuse_core::stek::{Layout, Stek};
use serde_json::Value;

use crate::Fail;

/// One case's verdict: `Err` says what differs.
type Verdict = Result<(), String>;

/// The fields of a case, read with errors that name the field.
struct Case<'a>(&'a Value);

impl Case<'_> {
    fn str(&self, key: &str) -> Result<&str, String> {
        self.0
            .get(key)
            .and_then(Value::as_str)
            .ok_or_else(|| format!("field {key} missing"))
    }
    fn hex(&self, key: &str) -> Result<Vec<u8>, String> {
        let text = self.str(key)?;
        if text.len() % 2 != 0 {
            return Err(format!("field {key}: odd hex length"));
        }
        (0..text.len())
            .step_by(2)
            .map(|i| {
                u8::from_str_radix(&text[i..i + 2], 16).map_err(|_| format!("field {key}: bad hex"))
            })
            .collect()
    }
    fn array<const N: usize>(&self, key: &str) -> Result<[u8; N], String> {
        self.hex(key)?
            .try_into()
            .map_err(|_| format!("field {key}: not {N} bytes"))
    }
    fn u64(&self, key: &str) -> Result<u64, String> {
        self.0
            .get(key)
            .and_then(Value::as_u64)
            .ok_or_else(|| format!("field {key} missing"))
    }
    fn freshness(&self) -> Result<Freshness, String> {
        Ok(Freshness {
            now: self.u64("now")?,
            max_age_secs: self.u64("max_age_secs")?,
            max_future_secs: self.u64("max_future_secs")?,
        })
    }
    fn keys(&self) -> Result<ClusterKeys, String> {
        let psk = Psk::from_file_bytes(&self.hex("psk")?).map_err(|e| format!("PSK: {e:?}"))?;
        ClusterKeys::derive(&psk, self.str("cluster")?).map_err(|e| format!("keys: {e:?}"))
    }
    fn kind(&self) -> Result<Kind, String> {
        match self.str("kind")? {
            "Session" => Ok(Kind::Session),
            "Keyring" => Ok(Kind::Keyring),
            other => Err(format!("unknown kind {other}")),
        }
    }
}

fn same(what: &str, got: &[u8], want: &[u8]) -> Verdict {
    if got == want {
        Ok(())
    } else {
        Err(format!(
            "{what} differs ({} bytes, want {})",
            got.len(),
            want.len()
        ))
    }
}

/// Checks that `result` failed with the error `want` names (`Enum::Variant`).
fn fails_with<T, E: std::fmt::Debug>(prefix: &str, result: Result<T, E>, want: &str) -> Verdict {
    match result {
        Ok(_) => Err(format!("succeeded, want {want}")),
        Err(e) => {
            let got = format!("{prefix}::{e:?}");
            if got == want {
                Ok(())
            } else {
                Err(format!("failed with {got}, want {want}"))
            }
        }
    }
}

fn keys_case(c: &Case<'_>) -> Verdict {
    let psk = Psk::from_file_bytes(&c.hex("psk")?).map_err(|e| format!("{e:?}"))?;
    let cluster = c.str("cluster")?;
    let node = NodeId(c.array("node_id")?);
    let keys = ClusterKeys::derive(&psk, cluster).map_err(|e| format!("{e:?}"))?;
    if psk.len() as u64 != c.u64("psk_len")? {
        return Err("psk_len differs".into());
    }
    same(
        "sessions_key",
        keys.expose_purpose_key(Purpose::Sessions),
        &c.hex("sessions_key")?,
    )?;
    same(
        "keyrings_key",
        keys.expose_purpose_key(Purpose::Keyrings),
        &c.hex("keyrings_key")?,
    )?;
    let sender = keys.sender_key(Purpose::Sessions, &node);
    same(
        "sender_sessions_key",
        sender.expose_bytes(),
        &c.hex("sender_sessions_key")?,
    )?;
    let sender = keys.sender_key(Purpose::Keyrings, &node);
    same(
        "sender_keyrings_key",
        sender.expose_bytes(),
        &c.hex("sender_keyrings_key")?,
    )?;
    let password = keys::redis_password(&psk, cluster).map_err(|e| format!("{e:?}"))?;
    same(
        "redis_password",
        &password,
        c.str("redis_password")?.as_bytes(),
    )
}

fn keys_negative(c: &Case<'_>) -> Verdict {
    let want = c.str("error")?;
    let cluster = c.str("cluster")?;
    let derived =
        Psk::from_file_bytes(&c.hex("psk")?).and_then(|psk| ClusterKeys::derive(&psk, cluster));
    fails_with("KeyError", derived, want)
}

fn header_matches(h: &Header, c: &Case<'_>) -> Verdict {
    if h.sender.0 != c.array::<16>("node_id")?
        || h.sequence != c.u64("sequence")?
        || h.issued_at != c.u64("issued_at")?
    {
        return Err("opened header differs".into());
    }
    Ok(())
}

fn envelope_case(c: &Case<'_>) -> Verdict {
    let keys = c.keys()?;
    let (plain, want) = (c.hex("plaintext")?, c.hex("envelope")?);
    let mut sealer = Sealer {
        node: NodeId(c.array("node_id")?),
        next_sequence: c.u64("sequence")?,
    };
    let mut out = vec![0u8; plain.len() + envelope::OVERHEAD];
    let n = sealer
        .seal(&keys, c.kind()?, c.u64("issued_at")?, &plain, &mut out)
        .map_err(|e| format!("{e:?}"))?;
    same("envelope", &out[..n], &want)?;
    let (h, opened) = envelope::open(&keys, c.kind()?, &want, Some(c.freshness()?), &mut out)
        .map_err(|e| format!("open: {e:?}"))?;
    same("plaintext", opened, &plain)?;
    header_matches(&h, c)
}

fn envelope_negative(c: &Case<'_>) -> Verdict {
    let keys = c.keys()?;
    let sealed = c.hex("envelope")?;
    let mut out = vec![0u8; sealed.len()];
    fails_with(
        "OpenError",
        envelope::open(&keys, c.kind()?, &sealed, Some(c.freshness()?), &mut out),
        c.str("error")?,
    )
}

fn session_case(c: &Case<'_>) -> Verdict {
    let keys = c.keys()?;
    let (id, der, record, want) = (
        c.hex("id")?,
        c.hex("der")?,
        c.hex("record")?,
        c.hex("envelope")?,
    );
    let rec = SessionRecord {
        id: &id,
        der: &der,
        expires_at: c.u64("expires_at")?,
    };
    let mut out = vec![0u8; want.len() + 64];
    let n = rec.encode(&mut out).map_err(|e| format!("encode: {e:?}"))?;
    same("record", &out[..n], &record)?;
    if SessionRecord::decode(&record).map_err(|e| format!("decode: {e:?}"))? != rec {
        return Err("decoded record differs".into());
    }
    let mut sealer = Sealer {
        node: NodeId(c.array("node_id")?),
        next_sequence: c.u64("sequence")?,
    };
    let n = rec
        .seal(&mut sealer, &keys, c.u64("issued_at")?, &mut out)
        .map_err(|e| format!("seal: {e:?}"))?;
    same("envelope", &out[..n], &want)?;
    let (h, opened) = session::open(&keys, &want, Some(c.freshness()?), &mut out)
        .map_err(|e| format!("open: {e:?}"))?;
    if opened != rec {
        return Err("opened record differs".into());
    }
    header_matches(&h, c)
}

fn session_negative(c: &Case<'_>) -> Verdict {
    let want = c.str("error")?;
    match c.str("op")? {
        "open" => {
            let keys = c.keys()?;
            let sealed = c.hex("envelope")?;
            let mut out = vec![0u8; sealed.len()];
            match session::open(&keys, &sealed, Some(c.freshness()?), &mut out) {
                Err(SessionOpenError::Envelope(e)) => {
                    fails_with::<(), _>("OpenError", Err(e), want)
                }
                Err(SessionOpenError::Record(e)) => {
                    fails_with::<(), _>("RecordError", Err(e), want)
                }
                other => Err(format!("gave {:?}, want {want}", other.map(|_| ()))),
            }
        }
        "decode" => fails_with(
            "RecordError",
            SessionRecord::decode(&c.hex("record")?),
            want,
        ),
        "encode" => {
            let (id, der) = (c.hex("id")?, c.hex("der")?);
            let rec = SessionRecord {
                id: &id,
                der: &der,
                expires_at: c.u64("expires_at")?,
            };
            let mut out = vec![0u8; id.len() + der.len() + 16];
            fails_with("RecordError", rec.encode(&mut out), want)
        }
        op => Err(format!("unknown op {op}")),
    }
}

const LAYOUTS: [(&str, Layout); 5] = [
    ("ats", Layout::Ats),
    ("nginx48", Layout::Nginx48),
    ("nginx80", Layout::Nginx80),
    ("haproxy48", Layout::Haproxy48),
    ("haproxy80", Layout::Haproxy80),
];

fn stek_of(c: &Case<'_>) -> Result<Result<Stek, atsreuse_core::stek::StekError>, String> {
    Ok(Stek::from_parts(
        c.array("stek_name")?,
        c.array("hmac_key")?,
        c.array("aes_key")?,
    ))
}

fn stek_case(c: &Case<'_>) -> Verdict {
    let stek = stek_of(c)?.map_err(|e| format!("{e:?}"))?;
    for (field, layout) in LAYOUTS {
        let mut out = [0u8; 80];
        let n = stek
            .export(layout, &mut out)
            .map_err(|e| format!("{field}: {e:?}"))?;
        same(field, &out[..n], &c.hex(field)?)?;
    }
    Ok(())
}

fn stek_negative(c: &Case<'_>) -> Verdict {
    let want = c.str("error")?;
    match c.str("op")? {
        "from_parts" => fails_with("StekError", stek_of(c)?, want),
        "export" => {
            let stek = stek_of(c)?.map_err(|e| format!("{e:?}"))?;
            let layout = LAYOUTS
                .iter()
                .find(|(f, _)| *f == c.str("layout").unwrap_or(""))
                .map(|(_, l)| *l);
            let layout = layout.ok_or("unknown layout")?;
            let mut out =
                vec![0u8; usize::try_from(c.u64("buffer_len")?).map_err(|e| e.to_string())?];
            fails_with("StekError", stek.export(layout, &mut out), want)
        }
        op => Err(format!("unknown op {op}")),
    }
}

fn encode(ring: &Keyring) -> Result<Vec<u8>, String> {
    let mut out = vec![0u8; ENCODED_MAX_LEN];
    let n = ring
        .encode(&mut out)
        .map_err(|e| format!("encode: {e:?}"))?;
    out.truncate(n);
    Ok(out)
}

fn decode(c: &Case<'_>, key: &str) -> Result<Keyring, String> {
    Keyring::decode(&c.hex(key)?).map_err(|e| format!("decode {key}: {e:?}"))
}

fn keyring_case(c: &Case<'_>) -> Verdict {
    match c.str("op")? {
        "encode" => {
            let list =
                c.0.get("entries")
                    .and_then(Value::as_array)
                    .ok_or("entries missing")?;
            let mut ring = Keyring::new();
            for e in list.iter().rev() {
                let e = Case(e);
                let stek = stek_of(&e)?.map_err(|x| format!("{x:?}"))?;
                let times = KeyTimes {
                    introduce_at: e.u64("introduce_at")?,
                    activate_at: e.u64("activate_at")?,
                    expire_at: e.u64("expire_at")?,
                };
                ring.insert(KeyEntry {
                    epoch: e.u64("epoch")?,
                    times,
                    stek,
                })
                .map_err(|x| format!("insert: {x:?}"))?;
            }
            same("encoded", &encode(&ring)?, &c.hex("encoded")?)?;
            same(
                "re-encoded",
                &encode(&decode(c, "encoded")?)?,
                &c.hex("encoded")?,
            )
        }
        "seal" => {
            let keys = c.keys()?;
            let ring = decode(c, "encoded")?;
            let mut sealer = Sealer {
                node: NodeId(c.array("node_id")?),
                next_sequence: c.u64("sequence")?,
            };
            let mut out = vec![0u8; keyring::SEALED_MAX_LEN];
            let n = keyring::seal(&mut sealer, &keys, c.u64("issued_at")?, &ring, &mut out)
                .map_err(|e| format!("{e:?}"))?;
            same("envelope", &out[..n], &c.hex("envelope")?)?;
            let mut scratch = vec![0u8; ENCODED_MAX_LEN];
            let (h, opened) = keyring::open(&keys, &c.hex("envelope")?, &mut scratch)
                .map_err(|e| format!("open: {e:?}"))?;
            header_matches(&h, c)?;
            same("opened keyring", &encode(&opened)?, &c.hex("encoded")?)
        }
        "merge" => {
            let now = c.u64("now")?;
            let (mut a, mut b) = (decode(c, "a")?, decode(c, "b")?);
            let (a0, b0) = (a.duplicate(), b.duplicate());
            a.merge(&b0, now);
            b.merge(&a0, now);
            same("merge of b into a", &encode(&a)?, &c.hex("merged")?)?;
            same("merge of a into b", &encode(&b)?, &c.hex("merged")?)
        }
        op => Err(format!("unknown op {op}")),
    }
}

fn keyring_negative(c: &Case<'_>) -> Verdict {
    let want = c.str("error")?;
    match c.str("op")? {
        "decode" => fails_with("KeyringError", Keyring::decode(&c.hex("encoded")?), want),
        "open" => {
            let keys = c.keys()?;
            let mut scratch = vec![0u8; ENCODED_MAX_LEN];
            let opened = keyring::open_newer(
                &keys,
                &c.hex("envelope")?,
                c.u64("held_epoch")?,
                &mut scratch,
            );
            // The file names the innermost reason: OpenError::*, KeyringError::*, or OldEpoch.
            let got = match opened {
                Ok(_) => return Err(format!("opened, want {want}")),
                Err(keyring::KeyringOpenError::Envelope(e)) => format!("OpenError::{e:?}"),
                Err(keyring::KeyringOpenError::Keyring(e)) => format!("KeyringError::{e:?}"),
                Err(e) => format!("KeyringOpenError::{e:?}"),
            };
            if got == want {
                Ok(())
            } else {
                Err(format!("failed with {got}, want {want}"))
            }
        }
        op => Err(format!("unknown op {op}")),
    }
}

fn ats_block_case(c: &Case<'_>) -> Verdict {
    let ring = decode(c, "keyring")?;
    let t = c.u64("t")?;
    let mut out = vec![0u8; keyring::ATS_BLOCK_MAX_LEN];
    let n = ring
        .ats_block_at(t, &mut out)
        .map_err(|e| format!("{e:?}"))?;
    same("block", &out[..n], &c.hex("block")?)?;
    let name = ring
        .encrypting_at(t)
        .map(|e| e.stek.name().to_vec())
        .unwrap_or_default();
    same("encrypting_name", &name, &c.hex("encrypting_name")?)
}

fn ats_block_negative(c: &Case<'_>) -> Verdict {
    let ring = decode(c, "keyring")?;
    let mut out = vec![0u8; usize::try_from(c.u64("buffer_len")?).map_err(|e| e.to_string())?];
    fails_with(
        "KeyringError",
        ring.ats_block_at(c.u64("t")?, &mut out),
        c.str("error")?,
    )
}

fn legacy_case(c: &Case<'_>) -> Verdict {
    let mut buf = vec![0u8; 32 * 1024];
    match c.str("op")? {
        "derive" => {
            let key = LegacyKey::derive(&c.hex("passphrase")?);
            same("key", key.expose_key(), &c.hex("key")?)?;
            same("iv", key.expose_iv(), &c.hex("iv")?)
        }
        "psk_file" => {
            let psk = c.hex("psk")?;
            let file = LegacyPskFile::parse(&psk).map_err(|e| format!("{e:?}"))?;
            same(
                "auth_password",
                file.auth_password(),
                &c.hex("auth_password")?,
            )?;
            let n = file
                .write_passphrase(&mut buf)
                .map_err(|e| format!("{e:?}"))?;
            same("passphrase", &buf[..n], &c.hex("passphrase")?)
        }
        "stek" => {
            let key = LegacyKey::derive(&c.hex("passphrase")?);
            let stek: [u8; 48] = c.array("stek")?;
            let payload = c.str("payload")?.as_bytes();
            let mut decoded = [0u8; 48];
            legacy::decode_stek(&key, payload, &mut decoded)
                .map_err(|e| format!("decode: {e:?}"))?;
            same("decoded stek", &decoded, &stek)?;
            // The tampered case decodes to a wrong key: only the decode direction applies.
            if c.str("name")?.contains("tampered") {
                return Ok(());
            }
            same("payload", &legacy::encode_stek(&key, &stek), payload)
        }
        "session" => {
            let key = LegacyKey::derive(&c.hex("passphrase")?);
            let der = c.hex("der")?;
            let n = legacy::encode_frame(&der, &mut buf).map_err(|e| format!("frame: {e:?}"))?;
            same("frame", &buf[..n], &c.hex("frame")?)?;
            let payload = c.str("payload")?.as_bytes();
            let n = legacy::encode_session(&key, &der, &mut buf)
                .map_err(|e| format!("encode: {e:?}"))?;
            same("payload", &buf[..n], payload)?;
            let got = legacy::decode_session(&key, payload, &mut buf)
                .map_err(|e| format!("decode: {e:?}"))?;
            same("decoded DER", got, &der)
        }
        "session_id" => {
            let id = c.hex("id")?;
            let suffix = c.str("suffix")?.as_bytes();
            let n = legacy::encode_session_id(&id, &mut buf).map_err(|e| format!("{e:?}"))?;
            same("suffix", &buf[..n], suffix)?;
            let mut out = [0u8; 32];
            let n = legacy::decode_session_id(suffix, &mut out).map_err(|e| format!("{e:?}"))?;
            same("decoded id", &out[..n], &id)
        }
        "base64_decode" => {
            let n = legacy::base64_decode(c.str("text")?.as_bytes(), &mut buf)
                .map_err(|e| format!("{e:?}"))?;
            same("bytes", &buf[..n], &c.hex("bytes")?)
        }
        op => Err(format!("unknown op {op}")),
    }
}

fn legacy_negative(c: &Case<'_>) -> Verdict {
    let want = c.str("error")?;
    let mut buf = vec![0u8; 32 * 1024];
    match c.str("op")? {
        "stek" => {
            let key = LegacyKey::derive(&c.hex("passphrase")?);
            let mut out = [0u8; 48];
            fails_with(
                "LegacyError",
                legacy::decode_stek(&key, c.str("payload")?.as_bytes(), &mut out),
                want,
            )
        }
        "session" => {
            let key = LegacyKey::derive(&c.hex("passphrase")?);
            fails_with(
                "LegacyError",
                legacy::decode_session(&key, c.str("payload")?.as_bytes(), &mut buf),
                want,
            )
        }
        "session_id" => {
            let mut out = [0u8; 32];
            fails_with(
                "LegacyError",
                legacy::decode_session_id(c.str("suffix")?.as_bytes(), &mut out),
                want,
            )
        }
        "base64_decode" => fails_with(
            "LegacyError",
            legacy::base64_decode(c.str("text")?.as_bytes(), &mut buf),
            want,
        ),
        op => Err(format!("unknown op {op}")),
    }
}

/// The runners of one format: positive cases, negative cases.
type Runners = (fn(&Case<'_>) -> Verdict, fn(&Case<'_>) -> Verdict);

fn runners(format: &str) -> Option<Runners> {
    Some(match format {
        "keys" => (keys_case, keys_negative),
        "envelope" => (envelope_case, envelope_negative),
        "session" => (session_case, session_negative),
        "stek" => (stek_case, stek_negative),
        "keyring" => (keyring_case, keyring_negative),
        "ats_block" => (ats_block_case, ats_block_negative),
        "legacy" => (legacy_case, legacy_negative),
        _ => return None,
    })
}

/// Runs one file; returns (cases run, failures).
fn check_file(path: &Path) -> (usize, usize) {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let parsed = std::fs::read_to_string(path)
        .map_err(|e| e.to_string())
        .and_then(|text| serde_json::from_str::<Value>(&text).map_err(|e| e.to_string()));
    let root = match parsed {
        Ok(root) => root,
        Err(e) => {
            println!("FAIL {name}: {e}");
            return (0, 1);
        }
    };
    let format = root.get("format").and_then(Value::as_str).unwrap_or("");
    let Some((positive, negative)) = runners(format) else {
        println!("FAIL {name}: no checker for format {format:?}");
        return (0, 1);
    };
    if root.get("schema").and_then(Value::as_u64) != Some(1) {
        println!("FAIL {name}: unknown schema");
        return (0, 1);
    }
    let (mut run, mut failed) = (0, 0);
    for (list, check) in [("cases", positive), ("negative", negative)] {
        for case in root
            .get(list)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            run += 1;
            if let Err(why) = check(&Case(case)) {
                failed += 1;
                let case_name = case.get("name").and_then(Value::as_str).unwrap_or("?");
                println!("FAIL {name}: {case_name}: {why}");
            }
        }
    }
    println!("{name:<16} {run:>4} cases, {failed} failed");
    (run, failed)
}

pub fn check(dir: &Path) -> Result<(), Fail> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| Fail::usage(format!("{}: {e}", dir.display())))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(Fail::work(format!(
            "no vector file (*.json) in {}",
            dir.display()
        )));
    }
    let (mut run, mut failed) = (0, 0);
    for file in &files {
        let (r, f) = check_file(file);
        run += r;
        failed += f;
    }
    println!("{} files, {run} cases, {failed} failed", files.len());
    if failed > 0 {
        return Err(Fail::work(format!("{failed} vector case(s) failed")));
    }
    Ok(())
}
