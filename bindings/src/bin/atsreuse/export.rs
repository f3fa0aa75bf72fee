//! `atsreuse export`: the pod's stored keys in the key-file formats of ATS, nginx and HAProxy,
//! so that other TLS servers (or an ATS node without the plugin) can resume the pod's tickets.
//!
//! | format | output | which key encrypts |
//! |---|---|---|
//! | `ats` | one binary file of 48-byte keys (`proxy.config.ssl.server.ticket_key.filename`) | the first |
//! | `nginx48`, `nginx80` | one binary file per key in `--out-dir`, plus the `ssl_session_ticket_key` lines | the first line |
//! | `haproxy48`, `haproxy80` | three base64 lines (`tls-ticket-keys`) | the second (HAProxy uses the penultimate) |
//!
//! HAProxy keeps three keys by default (its compile-time `TLS_TICKETS_NO`): the previous, the
//! encrypting and the next key are written; a ticket under an older key gets a full handshake
//! there. Where a neighbour is missing, the encrypting key stands in, so HAProxy still
//! encrypts with the right one.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use atsreuse::config::Config;
use atsreuse_core::keyring::{KeyEntry, Keyring};
use atsreuse_core::stek::Layout;
use clap::{Arg, ArgMatches, Command};
use zeroize::Zeroizing;

use crate::pod::{unix_now, Pod};
use crate::Fail;

const FORMATS: [&str; 5] = ["ats", "nginx48", "nginx80", "haproxy48", "haproxy80"];

pub fn command() -> Command {
    Command::new("export")
        .about("Writes the pod's stored ticket keys for ATS, nginx or HAProxy")
        .arg(
            Arg::new("format")
                .long("format")
                .short('f')
                .required(true)
                .value_parser(FORMATS)
                .help("Key-file layout"),
        )
        .arg(
            Arg::new("out")
                .long("out")
                .short('o')
                .value_name("FILE")
                .value_parser(clap::value_parser!(PathBuf))
                .help("Output file, created with mode 600 (ats, haproxy*); haproxy* default to stdout"),
        )
        .arg(
            Arg::new("out-dir")
                .long("out-dir")
                .value_name("DIR")
                .value_parser(clap::value_parser!(PathBuf))
                .help("Directory for nginx's one-file-per-key layout (nginx*)"),
        )
        .arg(
            Arg::new("at")
                .long("at")
                .value_name("UNIX_SECS")
                .value_parser(clap::value_parser!(u64))
                .help("The keys in use at this time instead of now"),
        )
}

fn layout_of(format: &str) -> Layout {
    match format {
        "nginx48" => Layout::Nginx48,
        "nginx80" => Layout::Nginx80,
        "haproxy48" => Layout::Haproxy48,
        "haproxy80" => Layout::Haproxy80,
        _ => Layout::Ats,
    }
}

/// The keys that decrypt at `t`, the encrypting one first, then the others newest first.
pub fn ats_order(ring: &Keyring, t: u64) -> Vec<&KeyEntry> {
    let Some(enc) = ring.encrypting_at(t) else {
        return Vec::new();
    };
    let mut rest: Vec<&KeyEntry> = ring
        .decrypting_at(t)
        .filter(|e| !std::ptr::eq(*e, enc))
        .collect();
    rest.sort_by(|a, b| {
        (b.times.activate_at, b.epoch, b.stek.name()).cmp(&(
            a.times.activate_at,
            a.epoch,
            a.stek.name(),
        ))
    });
    let mut all = vec![enc];
    all.extend(rest);
    all
}

/// The three keys of a HAProxy file: previous, encrypting, next.
pub fn haproxy_order(ring: &Keyring, t: u64) -> Vec<&KeyEntry> {
    let Some(enc) = ring.encrypting_at(t) else {
        return Vec::new();
    };
    let rank = |e: &KeyEntry| (e.times.activate_at, e.epoch, *e.stek.name());
    let decrypting: Vec<&KeyEntry> = ring.decrypting_at(t).collect();
    let older = decrypting
        .iter()
        .copied()
        .filter(|e| rank(e) < rank(enc))
        .max_by_key(|e| rank(e));
    let newer = decrypting
        .iter()
        .copied()
        .filter(|e| rank(e) > rank(enc))
        .min_by_key(|e| rank(e));
    vec![older.unwrap_or(enc), enc, newer.or(older).unwrap_or(enc)]
}

/// A new file with mode 600 (replacing an old one), written whole.
fn write_secret(path: &Path, bytes: &[u8]) -> Result<(), Fail> {
    let _ = std::fs::remove_file(path);
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| Fail::work(format!("{}: {e}", path.display())))?;
    file.write_all(bytes)
        .map_err(|e| Fail::work(format!("{}: {e}", path.display())))
}

fn export_key(entry: &KeyEntry, layout: Layout) -> Result<Zeroizing<Vec<u8>>, Fail> {
    let mut out = Zeroizing::new(vec![0u8; layout.len()]);
    entry
        .stek
        .export(layout, &mut out)
        .map_err(|e| Fail::work(format!("export: {e:?}")))?;
    Ok(out)
}

pub fn run(config: &Config, args: &ArgMatches) -> Result<(), Fail> {
    let format = args
        .get_one::<String>("format")
        .map(String::as_str)
        .unwrap_or("ats");
    let out = args.get_one::<PathBuf>("out");
    let out_dir = args.get_one::<PathBuf>("out-dir");
    let layout = layout_of(format);
    let is_nginx = format.starts_with("nginx");
    if is_nginx && out_dir.is_none() {
        return Err(Fail::usage(
            "nginx reads one key per file: give --out-dir DIR",
        ));
    }
    if format == "ats" && out.is_none() {
        return Err(Fail::usage("the ats format is binary: give --out FILE"));
    }
    let pod = Pod::new(config)?;
    let now = unix_now();
    let t = args.get_one::<u64>("at").copied().unwrap_or(now);
    let ring = pod.merged_keyring(now)?;
    let keys = if format.starts_with("haproxy") {
        haproxy_order(&ring, t)
    } else {
        ats_order(&ring, t)
    };
    if keys.is_empty() {
        return Err(Fail::work(format!(
            "no key encrypts at {t}: nothing to export"
        )));
    }

    if let Some(dir) = out_dir.filter(|_| is_nginx) {
        for (i, entry) in keys.iter().enumerate() {
            let path = dir.join(format!("ticket-{i}.key"));
            write_secret(&path, &export_key(entry, layout)?)?;
            println!("ssl_session_ticket_key {};", path.display());
        }
        eprintln!(
            "atsreuse: {} key(s) written; the first line's key encrypts",
            keys.len()
        );
        return Ok(());
    }
    let mut bytes = Zeroizing::new(Vec::new());
    for entry in &keys {
        let key = export_key(entry, layout)?;
        if format == "ats" {
            bytes.extend_from_slice(&key);
        } else {
            let mut line = Zeroizing::new(vec![0u8; 4 * key.len().div_ceil(3)]);
            let n = atsreuse_core::legacy::base64_encode(&key, &mut line)
                .map_err(|e| Fail::work(format!("base64: {e:?}")))?;
            bytes.extend_from_slice(&line[..n]);
            bytes.push(b'\n');
        }
    }
    match out {
        Some(path) => {
            write_secret(path, &bytes)?;
            eprintln!(
                "atsreuse: {} key(s) written to {}",
                keys.len(),
                path.display()
            );
            Ok(())
        }
        None => std::io::stdout()
            .write_all(&bytes)
            .map_err(|e| Fail::work(format!("stdout: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use atsreuse_core::keyring::KeyTimes;
    use atsreuse_core::stek::Stek;

    fn entry(epoch: u64, introduce: u64, activate: u64, expire: u64) -> KeyEntry {
        let seed = u8::try_from(epoch).unwrap();
        let stek = Stek::from_parts([seed; 16], [seed ^ 0x55; 32], [seed ^ 0xaa; 32]).unwrap();
        KeyEntry {
            epoch,
            times: KeyTimes {
                introduce_at: introduce,
                activate_at: activate,
                expire_at: expire,
            },
            stek,
        }
    }

    /// Epoch 1 active since 100, epoch 2 since 200, epoch 3 introduced at 250 for 300, epoch 0 expired.
    fn ring() -> Keyring {
        let mut ring = Keyring::new();
        for e in [
            entry(1, 100, 100, 1000),
            entry(2, 150, 200, 1000),
            entry(3, 250, 300, 1000),
            entry(4, 1, 1, 50),
        ] {
            ring.insert(e).unwrap();
        }
        ring
    }

    fn epochs(keys: &[&KeyEntry]) -> Vec<u64> {
        keys.iter().map(|e| e.epoch).collect()
    }

    #[test]
    fn ats_order_puts_the_encrypting_key_first_then_newest() {
        let ring = ring();
        assert_eq!(epochs(&ats_order(&ring, 260)), vec![2, 3, 1]);
        assert_eq!(epochs(&ats_order(&ring, 300)), vec![3, 2, 1]);
        assert!(ats_order(&ring, 1000).is_empty());
    }

    #[test]
    fn ats_order_matches_the_core_ats_block() {
        let ring = ring();
        let mut block = [0u8; atsreuse_core::keyring::ATS_BLOCK_MAX_LEN];
        let n = ring.ats_block_at(260, &mut block).unwrap();
        let mine: Vec<u8> = ats_order(&ring, 260)
            .iter()
            .flat_map(|e| export_key(e, Layout::Ats).unwrap().to_vec())
            .collect();
        assert_eq!(&block[..n], &mine[..]);
    }

    #[test]
    fn haproxy_order_puts_the_encrypting_key_second() {
        let ring = ring();
        assert_eq!(epochs(&haproxy_order(&ring, 260)), vec![1, 2, 3]);
        // No next key yet: the previous stands in after the encrypting key.
        assert_eq!(epochs(&haproxy_order(&ring, 310)), vec![2, 3, 2]);
        let mut one = Keyring::new();
        one.insert(entry(7, 0, 0, 100)).unwrap();
        assert_eq!(epochs(&haproxy_order(&one, 5)), vec![7, 7, 7]);
    }
}

/// `export` end to end against a real redis-server holding a stored keyring.
#[cfg(test)]
mod redis_tests {
    use super::*;
    use crate::pod::redis_tests::{start, store_keyring};
    use std::os::unix::fs::PermissionsExt;

    fn run_args(config: &Config, args: &[&str]) -> Result<(), Fail> {
        let mut argv = vec!["export", "--config", "unused"];
        argv.extend_from_slice(args);
        let matches = command()
            .arg(crate::config_arg())
            .try_get_matches_from(argv)
            .unwrap();
        run(config, &matches)
    }

    #[test]
    fn every_format_writes_the_stored_keys_in_its_order() {
        let (server, config) = start("export");
        let pod = Pod::new(&config).unwrap();
        let now = unix_now();
        let ring = store_keyring(&pod, now);
        let enc = ring.encrypting_at(now).unwrap();

        let ats = server.dir.join("ats.key");
        run_args(
            &config,
            &["--format", "ats", "--out", ats.to_str().unwrap()],
        )
        .unwrap();
        let bytes = std::fs::read(&ats).unwrap();
        let mut block = [0u8; atsreuse_core::keyring::ATS_BLOCK_MAX_LEN];
        let n = ring.ats_block_at(now, &mut block).unwrap();
        assert_eq!(bytes, &block[..n]);
        assert_eq!(bytes.len(), 96, "both keys decrypt now");
        assert_eq!(
            std::fs::metadata(&ats).unwrap().permissions().mode() & 0o777,
            0o600
        );

        let dir = server.dir.join("nginx");
        std::fs::create_dir(&dir).unwrap();
        run_args(
            &config,
            &["--format", "nginx80", "--out-dir", dir.to_str().unwrap()],
        )
        .unwrap();
        let first = std::fs::read(dir.join("ticket-0.key")).unwrap();
        assert_eq!(first, &export_key(enc, Layout::Nginx80).unwrap()[..]);
        assert!(dir.join("ticket-1.key").exists());

        let ha = server.dir.join("haproxy.keys");
        run_args(
            &config,
            &["--format", "haproxy48", "--out", ha.to_str().unwrap()],
        )
        .unwrap();
        let text = std::fs::read_to_string(&ha).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        let mut decoded = [0u8; 48];
        let n = atsreuse_core::legacy::base64_decode(lines[1].as_bytes(), &mut decoded).unwrap();
        assert_eq!(
            &decoded[..n],
            &export_key(enc, Layout::Haproxy48).unwrap()[..],
            "HAProxy encrypts with line 2"
        );

        let usage = run_args(&config, &["--format", "nginx48"]).unwrap_err();
        assert_eq!(usage.code, 2);
        let none = run_args(
            &config,
            &[
                "--format",
                "ats",
                "--out",
                ats.to_str().unwrap(),
                "--at",
                "1",
            ],
        )
        .unwrap_err();
        assert!(none.message.contains("no key encrypts"), "{}", none.message);
    }
}
