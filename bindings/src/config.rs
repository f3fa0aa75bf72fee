//! The config file: one `key=value` per line, the old `ssl_session_reuse` plugin's keys and ours.
//!
//! `Config::load` reads and checks the whole file before anything starts. Every error names the
//! file, the line and the key; every value that is accepted but means nothing any more, or is
//! risky, becomes a [`Notice`] the caller logs once. `docs/config.md` lists every key with its
//! default and unit.
//!
//! Rules of the format:
//! - whitespace around keys and values is trimmed; blank lines are skipped;
//! - a line whose first non-blank character is `#` is a comment (a `#` later in a line is part
//!   of the value);
//! - a key may appear once; an unknown key is an error (a typo must not silently fall back to a
//!   default);
//! - a relative path is resolved against the config file's directory.

use std::collections::HashMap;
use std::fmt;
use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use atsreuse_core::keys::{KeyError, Psk};
use atsreuse_core::rotation::{Settings, SettingsError};
use zeroize::Zeroizing;

use crate::node::LogLevel;

/// How the old plugin's wire format is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LegacyMode {
    /// Neither read nor written.
    Off,
    /// Read and installed, never written.
    Accept,
    /// Read and written, for a pod of mixed old and new nodes.
    Both,
}

/// One Redis endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Host name or IP address (IPv6 without brackets).
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// TLS to Redis (`rediss://`).
    pub tls: bool,
}

impl fmt::Display for Endpoint {
    /// The endpoint as an operator wrote it: `redis://host:port`, brackets around IPv6.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.tls { "rediss" } else { "redis" };
        if self.host.contains(':') {
            write!(f, "{scheme}://[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{scheme}://{}:{}", self.host, self.port)
        }
    }
}

/// Where the Redis password comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedisPassword {
    /// Derived from the PSK (the default).
    Derived,
    /// The PSK itself, for a Redis set up for the old plugin.
    Psk,
    /// The contents of a file.
    File(PathBuf),
    /// No AUTH.
    None,
}

/// A remark about an accepted config, for the log: an ignored key, a risky PSK file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// `Warn` for what an operator should fix, `Info` for what is merely ignored.
    pub level: LogLevel,
    /// The text; it names the file, and the line and key when there is one.
    pub text: String,
}

/// A loaded, checked config. Secrets are not held here: the PSK file is read by the node
/// (see [`Config::read_psk_file`]).
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it came from.
    pub path: PathBuf,
    /// Channel and key prefix; bound into every key.
    pub cluster_name: String,
    /// Redis endpoints, in the order given.
    pub endpoints: Vec<Endpoint>,
    /// PSK file.
    pub psk_file: PathBuf,
    /// Redis ACL user name.
    pub redis_user: Option<String>,
    /// Redis password source.
    pub redis_password: RedisPassword,
    /// CA file for `rediss://` endpoints.
    pub redis_ca_file: Option<PathBuf>,
    /// Connect timeout.
    pub connect_timeout: Duration,
    /// Read and write timeout of every Redis call.
    pub io_timeout: Duration,
    /// Delay after a failed connect (grows with backoff up to 8x, with jitter).
    pub retry_delay: Duration,
    /// STEK rotation interval.
    pub rotation_interval: Duration,
    /// How long before activation a new key is introduced.
    pub lead_time: Duration,
    /// How long tickets are honoured after their key stops encrypting.
    pub ticket_lifetime: Duration,
    /// How long a shared session stays in the session map.
    pub session_lifetime: Duration,
    /// Most sessions held in the session map.
    pub session_map_capacity: usize,
    /// Most sessions waiting to be published.
    pub publish_queue_capacity: usize,
    /// Lease time of the rotating node.
    pub lease_time: Duration,
    /// How often every node re-reads the stored keyring.
    pub keyring_poll_interval: Duration,
    /// Longest time `Node::start` waits for the pod's stored keyring before it installs a key
    /// block; zero: no wait (the start key is installed at once).
    pub start_wait: Duration,
    /// A name for this node in logs and pod status.
    pub node_name: String,
    /// The old wire format.
    pub legacy: LegacyMode,
    /// `ssl_session.STEKMaster=1`: this node asks for the lease first at start.
    pub prefer_leader: bool,
    /// Remarks to log once when the node starts (ignored keys, PSK file warnings). Loading
    /// never logs by itself: it has no logger.
    pub notices: Vec<Notice>,
}

/// Why a config file cannot be used. Its text names the file, and the line and key when the
/// problem sits on one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The config file.
    pub file: PathBuf,
    /// 1-based line number, when the problem is on one line.
    pub line: Option<usize>,
    /// The key concerned, when there is one.
    pub key: Option<String>,
    /// What is wrong, in words.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(key) = &self.key {
            write!(f, ": {key}")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ConfigError {}

/// Shortest PSK, in bytes, that does not get a warning.
pub(crate) const PSK_MIN_GOOD_LEN: usize = 16;
/// Longest PSK accepted, in bytes (the old plugin's limit).
pub(crate) const PSK_MAX_LEN: usize = atsreuse_core::keys::PSK_MAX_LEN;
/// Longest cluster name accepted, in bytes.
pub(crate) const CLUSTER_NAME_MAX_LEN: usize = 128;
/// Most Redis endpoints accepted.
pub(crate) const ENDPOINTS_MAX: usize = 64;
/// Port used when an endpoint names none.
pub(crate) const DEFAULT_PORT: u16 = 6379;
/// Most keys in a keyring (the core's capacity), used to check rotation settings.
const KEYRING_CAPACITY: u64 = atsreuse_core::keyring::CAPACITY as u64;

/// Keys of the old plugin that are accepted and ignored: what each meant.
const IGNORED_KEYS: &[(&str, &str)] = &[
    (
        "pubconfig.PubNumWorkers",
        "one connection per endpoint is made",
    ),
    (
        "pubconfig.PubRedisPublishTries",
        "publishing retries until the message is stale",
    ),
    (
        "pubconfig.PubRedisConnectTries",
        "connecting retries with backoff forever",
    ),
    ("pubconfig.PubColoChannelId", "the old plugin never read it"),
];

/// Every key the parser knows: ignored ones above, plus these.
const KNOWN_KEYS: &[&str] = &[
    "redis.RedisEndpoints",
    "redis.RedisConnectTimeout",
    "redis.RedisRetryDelay",
    "pubconfig.PubMaxQueuedMessages",
    "subconfig.SubColoChannel",
    "ssl_session.ClusterName",
    "ssl_session.KeyUpdateInterval",
    "ssl_session.STEKMaster",
    "ssl_session.redis_auth_key_file",
    "atsreuse.psk_file",
    "atsreuse.redis_endpoints",
    "atsreuse.redis_user",
    "atsreuse.redis_password_mode",
    "atsreuse.redis_password_file",
    "atsreuse.redis_ca_file",
    "atsreuse.connect_timeout_ms",
    "atsreuse.io_timeout_ms",
    "atsreuse.retry_delay_ms",
    "atsreuse.rotation_interval_secs",
    "atsreuse.lead_time_secs",
    "atsreuse.ticket_lifetime_secs",
    "atsreuse.session_lifetime_secs",
    "atsreuse.session_map_capacity",
    "atsreuse.publish_queue_capacity",
    "atsreuse.lease_secs",
    "atsreuse.keyring_poll_secs",
    "atsreuse.start_wait_ms",
    "atsreuse.node_name",
    "atsreuse.legacy_protocol",
    "atsreuse.prefer_leader",
];

/// Pairs of keys that say the same thing; setting both is an error.
const SYNONYMS: &[(&str, &str)] = &[
    ("redis.RedisEndpoints", "atsreuse.redis_endpoints"),
    ("redis.RedisConnectTimeout", "atsreuse.connect_timeout_ms"),
    ("redis.RedisRetryDelay", "atsreuse.retry_delay_ms"),
    (
        "pubconfig.PubMaxQueuedMessages",
        "atsreuse.publish_queue_capacity",
    ),
    (
        "ssl_session.KeyUpdateInterval",
        "atsreuse.rotation_interval_secs",
    ),
    ("ssl_session.STEKMaster", "atsreuse.prefer_leader"),
    ("ssl_session.redis_auth_key_file", "atsreuse.psk_file"),
];

/// Defaults, each documented in docs/config.md.
mod defaults {
    pub(super) const ENDPOINT: &str = "127.0.0.1:6379";
    pub(super) const CONNECT_TIMEOUT_MS: u64 = 1_000;
    pub(super) const IO_TIMEOUT_MS: u64 = 2_000;
    pub(super) const RETRY_DELAY_MS: u64 = 1_000;
    pub(super) const ROTATION_INTERVAL_SECS: u64 = 25_200;
    pub(super) const LEAD_TIME_SECS: u64 = 300;
    pub(super) const TICKET_LIFETIME_SECS: u64 = 43_200;
    pub(super) const SESSION_LIFETIME_SECS: u64 = 300;
    pub(super) const SESSION_MAP_CAPACITY: u64 = 20_000;
    pub(super) const PUBLISH_QUEUE_CAPACITY: u64 = 1_000;
    pub(super) const LEASE_SECS: u64 = 30;
    pub(super) const KEYRING_POLL_SECS: u64 = 60;
    pub(super) const START_WAIT_MS: u64 = 1_500;
}

/// One `key=value` line of the file.
struct Entry {
    line: usize,
    value: String,
}

/// The entries of a file by key, with what is needed to word errors.
struct Entries {
    file: PathBuf,
    dir: PathBuf,
    map: HashMap<String, Entry>,
}

impl Entries {
    fn error(&self, line: Option<usize>, key: &str, message: impl Into<String>) -> ConfigError {
        ConfigError {
            file: self.file.clone(),
            line,
            key: Some(key.to_owned()),
            message: message.into(),
        }
    }

    fn line_of(&self, key: &str) -> Option<usize> {
        self.map.get(key).map(|e| e.line)
    }

    /// The value of the first of `keys` that is set, with its key and line.
    fn get(&self, keys: &[&'static str]) -> Option<(&'static str, &Entry)> {
        keys.iter().find_map(|k| self.map.get(*k).map(|e| (*k, e)))
    }

    /// A whole number in `min..=max`, or `default` when none of `keys` is set.
    fn number(
        &self,
        keys: &[&'static str],
        default: u64,
        min: u64,
        max: u64,
    ) -> Result<u64, ConfigError> {
        let Some((key, entry)) = self.get(keys) else {
            return Ok(default);
        };
        let value = parse_number(&entry.value).ok_or_else(|| {
            self.error(
                Some(entry.line),
                key,
                format!(
                    "bad number {:?}: expected a whole number of decimal digits",
                    entry.value
                ),
            )
        })?;
        if value < min || value > max {
            return Err(self.error(
                Some(entry.line),
                key,
                format!("{value} is out of range: it must be from {min} to {max}"),
            ));
        }
        Ok(value)
    }

    /// A path resolved against the config file's directory.
    fn path(&self, keys: &[&'static str]) -> Option<(&'static str, usize, PathBuf)> {
        self.get(keys)
            .map(|(key, e)| (key, e.line, self.dir.join(&e.value)))
    }

    /// A word out of `choices`.
    fn choice<T: Copy>(
        &self,
        key: &'static str,
        choices: &[(&str, T)],
        default: T,
    ) -> Result<T, ConfigError> {
        let Some(entry) = self.map.get(key) else {
            return Ok(default);
        };
        choices
            .iter()
            .find(|(word, _)| *word == entry.value)
            .map(|(_, v)| *v)
            .ok_or_else(|| {
                let words: Vec<&str> = choices.iter().map(|(w, _)| *w).collect();
                self.error(
                    Some(entry.line),
                    key,
                    format!(
                        "bad value {:?}: expected one of {}",
                        entry.value,
                        words.join(", ")
                    ),
                )
            })
    }
}

/// Decimal digits only: no sign, no unit, no separators.
fn parse_number(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

impl Config {
    /// Reads and checks the config file at `path`, and checks that the PSK file (and the Redis
    /// password file and CA file, when set) can be read.
    pub fn load(path: impl AsRef<Path>) -> Result<Config, ConfigError> {
        let path = path.as_ref();
        let error = |line: Option<usize>, message: String| ConfigError {
            file: path.to_owned(),
            line,
            key: None,
            message,
        };
        let bytes = read_regular_file(path, CONFIG_MAX_BYTES)
            .map_err(|e| error(None, format!("cannot read the config file: {e}")))?;
        let text = String::from_utf8(bytes).map_err(|e| {
            // Name the line of the first byte that is not UTF-8, as for every other error.
            let bad = e.utf8_error().valid_up_to();
            let line = e.as_bytes()[..bad].iter().filter(|b| **b == b'\n').count() + 1;
            error(
                Some(line),
                "not UTF-8 text (save the file as UTF-8)".to_owned(),
            )
        })?;
        Config::parse(path, &text)
    }

    /// Checks the text of a config file as if it had been read from `path` (relative paths in
    /// it resolve against `path`'s directory). The files it names are read.
    pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
        let mut notices = Vec::new();
        let entries = split_lines(path, text, &mut notices)?;
        build(&entries, notices)
    }

    /// Reads the PSK file: its bytes as they are on disk, trailing newlines included (the core's
    /// `Psk::from_file_bytes` removes them). The buffer is erased when dropped.
    /// The file must be a regular file of at most [`SECRET_FILE_MAX_BYTES`]: a FIFO or a device
    /// named by mistake would otherwise block the caller or fill its memory.
    pub fn read_psk_file(&self) -> io::Result<Zeroizing<Vec<u8>>> {
        read_secret_file(&self.psk_file)
    }

    /// The password sent to Redis AUTH, as the config asks for it (`None`: no AUTH): derived
    /// from the PSK (64 hex characters), the PSK itself, or a file's contents, without trailing
    /// newlines. The error says which file is unusable; it never holds secret bytes.
    pub fn redis_auth_password(&self) -> Result<Option<Zeroizing<String>>, String> {
        let text = |bytes: &[u8], what: &str| -> Result<Zeroizing<String>, String> {
            let mut end = bytes.len();
            while end > 0 && bytes[end - 1] == b'\n' {
                end -= 1;
                if end > 0 && bytes[end - 1] == b'\r' {
                    end -= 1;
                }
            }
            std::str::from_utf8(&bytes[..end])
                .map(|s| Zeroizing::new(s.to_owned()))
                .map_err(|_| format!("{what} is not UTF-8 text and cannot be a Redis password"))
        };
        let psk_error =
            |e: io::Error| format!("cannot read the PSK file {}: {e}", self.psk_file.display());
        match &self.redis_password {
            RedisPassword::None => Ok(None),
            RedisPassword::Derived => {
                let bytes = self.read_psk_file().map_err(psk_error)?;
                let psk = Psk::from_file_bytes(&bytes).map_err(|e| {
                    format!(
                        "the PSK file {} is unusable: {e:?}",
                        self.psk_file.display()
                    )
                })?;
                let derived = Zeroizing::new(
                    atsreuse_core::keys::redis_password(&psk, &self.cluster_name)
                        .map_err(|e| format!("cannot derive the Redis password: {e:?}"))?,
                );
                text(&derived[..], "the derived password").map(Some)
            }
            RedisPassword::Psk => {
                let bytes = self.read_psk_file().map_err(psk_error)?;
                text(&bytes, "the PSK").map(Some)
            }
            RedisPassword::File(path) => {
                let bytes = read_secret_file(path).map_err(|e| {
                    format!(
                        "cannot read the Redis password file {}: {e}",
                        path.display()
                    )
                })?;
                text(&bytes, "the Redis password file").map(Some)
            }
        }
    }
}

/// Largest config file read, in bytes (a real one is a few hundred).
pub(crate) const CONFIG_MAX_BYTES: u64 = 1 << 20;
/// Largest CA file accepted, in bytes (a whole system bundle is about 200 KiB).
pub(crate) const CA_FILE_MAX_BYTES: u64 = 4 << 20;
/// Largest PSK or password file read, in bytes: a PSK is at most 256 bytes, and this leaves
/// room for trailing newlines without reading a huge file by mistake.
pub(crate) const SECRET_FILE_MAX_BYTES: u64 = 4096;

/// Reads a whole file that must be a regular file of at most `limit` bytes. A FIFO, a device
/// (`/dev/zero`, `/dev/random`) or a directory is refused before it is opened: opening a FIFO
/// blocks until a writer comes, and a device never ends, so either would hang ATS at start.
pub(crate) fn read_regular_file(path: &Path, limit: u64) -> io::Result<Vec<u8>> {
    read_bounded(path, limit, Vec::new())
}

/// As [`read_regular_file`] with [`SECRET_FILE_MAX_BYTES`], into a buffer reserved up front
/// and erased on drop, so no copy of the secret is left behind by a reallocation.
pub(crate) fn read_secret_file(path: &Path) -> io::Result<Zeroizing<Vec<u8>>> {
    let limit = SECRET_FILE_MAX_BYTES;
    let buffer = Vec::with_capacity(usize::try_from(limit).unwrap_or(0) + 1);
    read_bounded(path, limit, buffer).map(Zeroizing::new)
}

fn read_bounded(path: &Path, limit: u64, mut buffer: Vec<u8>) -> io::Result<Vec<u8>> {
    use std::io::Read;
    let meta = fs::metadata(path)?;
    if meta.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "it is a directory",
        ));
    }
    if !meta.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file (a FIFO, socket or device is refused)",
        ));
    }
    // One byte more than the limit tells a file at the limit from a longer one.
    fs::File::open(path)?
        .take(limit + 1)
        .read_to_end(&mut buffer)?;
    if buffer.len() as u64 > limit {
        // Erase what was read before the buffer goes: it may be a secret.
        zeroize::Zeroize::zeroize(&mut buffer);
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("larger than {limit} bytes"),
        ));
    }
    Ok(buffer)
}

/// Splits the text into entries; refuses malformed lines, unknown and repeated keys.
fn split_lines(path: &Path, text: &str, notices: &mut Vec<Notice>) -> Result<Entries, ConfigError> {
    // A byte order mark, as some editors write, is not part of the first key.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    let mut entries = Entries {
        file: path.to_owned(),
        dir,
        map: HashMap::new(),
    };
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let Some((key, value)) = trimmed.split_once('=') else {
            return Err(ConfigError {
                file: path.to_owned(),
                line: Some(line),
                key: None,
                message: format!("expected key=value, found {:?}", shorten(trimmed)),
            });
        };
        let (key, value) = (key.trim(), value.trim());
        if let Some((_, meant)) = IGNORED_KEYS.iter().find(|(k, _)| *k == key) {
            notices.push(Notice {
                level: LogLevel::Info,
                text: format!("{}:{line}: {key}: ignored ({meant})", path.display()),
            });
            continue;
        }
        if !KNOWN_KEYS.contains(&key) {
            return Err(entries.error(Some(line), key, "unknown key (see docs/config.md)"));
        }
        if value.is_empty() {
            return Err(entries.error(Some(line), key, "empty value"));
        }
        if let Some(first) = entries.line_of(key) {
            return Err(entries.error(
                Some(line),
                key,
                format!("set twice (first on line {first})"),
            ));
        }
        entries.map.insert(
            key.to_owned(),
            Entry {
                line,
                value: value.to_owned(),
            },
        );
    }
    for (old, new) in SYNONYMS {
        if let (Some(a), Some(b)) = (entries.line_of(old), entries.line_of(new)) {
            let msg = format!("says the same as {old} on line {a}: keep one of them");
            return Err(entries.error(Some(b), new, msg));
        }
    }
    Ok(entries)
}

/// A line cut to a length fit for an error message.
fn shorten(text: &str) -> String {
    text.chars().take(60).collect()
}

/// Turns checked entries into a config.
fn build(e: &Entries, mut notices: Vec<Notice>) -> Result<Config, ConfigError> {
    let cluster_name = cluster_name(e)?;
    check_sub_channel(e, &cluster_name)?;
    let endpoints = endpoints(e)?;
    let psk_file = psk_file(e, &mut notices)?;
    let redis_password = redis_password(e)?;
    if redis_password == RedisPassword::Psk {
        // Allowed for a Redis set up for the old plugin, but it is the old plugin's defect:
        // whoever sees the AUTH (or the Redis config) holds the key to every message.
        const KEY: &str = "atsreuse.redis_password_mode";
        let line = e.line_of(KEY).map_or(String::new(), |l| format!(":{l}"));
        notices.push(Notice {
            level: LogLevel::Warn,
            text: format!(
                "{}{line}: {KEY}: psk sends the PSK itself as the Redis password, readable by \
                 anyone who sees that traffic or the Redis config; switch to derived \
                 (`atsreuse redis-password` prints it) once Redis is set up for it",
                e.file.display()
            ),
        });
    }
    let redis_ca_file = ca_file(e, &endpoints, &mut notices)?;
    let secs = Duration::from_secs;
    let ms = Duration::from_millis;
    let rotation = rotation_settings(e)?;
    let connect_ms = e.number(
        &["redis.RedisConnectTimeout", "atsreuse.connect_timeout_ms"],
        defaults::CONNECT_TIMEOUT_MS,
        10,
        60_000,
    )?;
    let config = Config {
        path: e.file.clone(),
        cluster_name,
        endpoints,
        psk_file,
        redis_user: redis_user(e)?,
        redis_password,
        redis_ca_file,
        connect_timeout: ms(connect_ms),
        io_timeout: ms(e.number(
            &["atsreuse.io_timeout_ms"],
            defaults::IO_TIMEOUT_MS,
            10,
            60_000,
        )?),
        retry_delay: retry_delay(e)?,
        rotation_interval: secs(rotation.0),
        lead_time: secs(rotation.1),
        ticket_lifetime: secs(rotation.2),
        session_lifetime: secs(e.number(
            &["atsreuse.session_lifetime_secs"],
            defaults::SESSION_LIFETIME_SECS,
            1,
            7 * 86_400,
        )?),
        session_map_capacity: count(
            e,
            "atsreuse.session_map_capacity",
            defaults::SESSION_MAP_CAPACITY,
        )?,
        publish_queue_capacity: publish_queue_capacity(e)?,
        lease_time: secs(e.number(&["atsreuse.lease_secs"], defaults::LEASE_SECS, 2, 3_600)?),
        keyring_poll_interval: secs(e.number(
            &["atsreuse.keyring_poll_secs"],
            defaults::KEYRING_POLL_SECS,
            1,
            3_600,
        )?),
        start_wait: ms(e.number(
            &["atsreuse.start_wait_ms"],
            defaults::START_WAIT_MS,
            0,
            60_000,
        )?),
        node_name: node_name(e)?,
        legacy: e.choice(
            "atsreuse.legacy_protocol",
            &[
                ("off", LegacyMode::Off),
                ("accept", LegacyMode::Accept),
                ("both", LegacyMode::Both),
            ],
            LegacyMode::Off,
        )?,
        prefer_leader: e.choice(
            if e.map.contains_key("atsreuse.prefer_leader") {
                "atsreuse.prefer_leader"
            } else {
                "ssl_session.STEKMaster"
            },
            &[("0", false), ("1", true)],
            false,
        )?,
        notices,
    };
    check_poll_and_lease(e, &config)?;
    Ok(config)
}

/// The cluster name: required; it becomes a Redis channel prefix and a key prefix, so glob
/// characters (which would widen the pattern subscription) and blanks are refused.
fn cluster_name(e: &Entries) -> Result<String, ConfigError> {
    const KEY: &str = "ssl_session.ClusterName";
    let Some(entry) = e.map.get(KEY) else {
        return Err(e.error(
            None,
            KEY,
            "missing: every node of a pod needs the same cluster name",
        ));
    };
    let name = &entry.value;
    if name.len() > CLUSTER_NAME_MAX_LEN {
        let msg = format!("longer than {CLUSTER_NAME_MAX_LEN} bytes");
        return Err(e.error(Some(entry.line), KEY, msg));
    }
    let bad = |c: char| c.is_whitespace() || c.is_control() || "*?[]\\".contains(c);
    if let Some(c) = name.chars().find(|c| bad(*c)) {
        let msg = format!("{c:?} is not allowed in a cluster name (no blanks and no * ? [ ] \\)");
        return Err(e.error(Some(entry.line), KEY, msg));
    }
    Ok(name.clone())
}

/// The old subscribe pattern: only `<ClusterName>.*` makes sense, anything else is refused.
fn check_sub_channel(e: &Entries, cluster: &str) -> Result<(), ConfigError> {
    const KEY: &str = "subconfig.SubColoChannel";
    match e.map.get(KEY) {
        Some(entry) if entry.value != format!("{cluster}.*") => Err(e.error(
            Some(entry.line),
            KEY,
            format!(
                "must be {cluster}.* (the cluster name followed by .*), found {:?}",
                entry.value
            ),
        )),
        _ => Ok(()),
    }
}

/// The Redis endpoints: a comma-separated list; empty items (a trailing comma) are skipped.
fn endpoints(e: &Entries) -> Result<Vec<Endpoint>, ConfigError> {
    let (key, line, list) = match e.get(&["redis.RedisEndpoints", "atsreuse.redis_endpoints"]) {
        Some((key, entry)) => (key, Some(entry.line), entry.value.as_str()),
        None => ("redis.RedisEndpoints", None, defaults::ENDPOINT),
    };
    let mut out: Vec<Endpoint> = Vec::new();
    for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let endpoint =
            parse_endpoint(item).map_err(|why| e.error(line, key, format!("{item:?}: {why}")))?;
        if out.contains(&endpoint) {
            return Err(e.error(line, key, format!("{item:?} is listed twice")));
        }
        out.push(endpoint);
    }
    if out.is_empty() {
        return Err(e.error(line, key, "no endpoint in the list"));
    }
    if out.len() > ENDPOINTS_MAX {
        return Err(e.error(line, key, format!("more than {ENDPOINTS_MAX} endpoints")));
    }
    Ok(out)
}

/// One endpoint: `host`, `host:port`, `[v6]`, `[v6]:port`, a bare IPv6 address, each optionally
/// after `redis://` or `rediss://` (TLS).
pub fn parse_endpoint(text: &str) -> Result<Endpoint, String> {
    let (tls, rest) = if let Some(rest) = text.strip_prefix("rediss://") {
        (true, rest)
    } else if let Some(rest) = text.strip_prefix("redis://") {
        (false, rest)
    } else if text.contains("://") {
        return Err("unknown scheme: use redis:// or rediss://".into());
    } else {
        (false, text)
    };
    if rest.contains('@') {
        return Err(
            "credentials do not go in the endpoint: use atsreuse.redis_user and the password keys"
                .into(),
        );
    }
    if rest.contains('/') {
        return Err("a path or database number is not supported: write host:port only".into());
    }
    let (host, port) = if let Some(inner) = rest.strip_prefix('[') {
        let (host, after) = inner
            .split_once(']')
            .ok_or("missing ] after the IPv6 address")?;
        match after {
            "" => (host, None),
            _ => (
                host,
                Some(after.strip_prefix(':').ok_or("expected :port after ]")?),
            ),
        }
    } else if rest.matches(':').count() > 1 {
        // More than one colon without brackets: a bare IPv6 address, which cannot carry a port.
        (rest, None)
    } else {
        match rest.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (rest, None),
        }
    };
    if host.is_empty() || host.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("empty or blank host".into());
    }
    let bracketed = rest.starts_with('[');
    if (bracketed || host.contains(':')) && host.parse::<std::net::Ipv6Addr>().is_err() {
        return Err(format!("{host:?} is not an IPv6 address"));
    }
    if !bracketed && !host.contains(':') {
        // A host name or an IPv4 address: say what is wrong now rather than let a name lookup
        // fail at every connect. Underscores are let through (container and compose names).
        let name_char = |c: char| c.is_ascii_alphanumeric() || "-._".contains(c);
        if let Some(c) = host.chars().find(|c| !name_char(*c)) {
            return Err(format!("{c:?} cannot appear in a host name"));
        }
        let numeric = host.chars().all(|c| c.is_ascii_digit() || c == '.');
        if numeric && host.parse::<std::net::Ipv4Addr>().is_err() {
            return Err(format!("{host:?} is not an IPv4 address"));
        }
    }
    let port = match port {
        None => DEFAULT_PORT,
        Some(p) => match parse_number(p) {
            Some(n) if n > 0 => {
                u16::try_from(n).map_err(|_| format!("bad port {p:?}: expected 1 to 65535"))?
            }
            _ => return Err(format!("bad port {p:?}: expected 1 to 65535")),
        },
    };
    Ok(Endpoint {
        host: host.to_owned(),
        port,
        tls,
    })
}

/// The PSK file: required, must be readable, 1 to 256 bytes once trailing newlines are removed.
/// Warns when group or others can read it and when it is short.
fn psk_file(e: &Entries, notices: &mut Vec<Notice>) -> Result<PathBuf, ConfigError> {
    let keys = ["ssl_session.redis_auth_key_file", "atsreuse.psk_file"];
    let Some((key, line, path)) = e.path(&keys) else {
        return Err(e.error(
            None,
            keys[0],
            "missing: the pre-shared key file is required",
        ));
    };
    let (line_no, line) = (line, Some(line));
    let bytes = read_secret_file(&path).map_err(|err| {
        e.error(
            line,
            key,
            format!("cannot read the PSK file {}: {err}", path.display()),
        )
    })?;
    // The core reads the PSK the way the node will; only its length is kept here.
    let len = match Psk::from_file_bytes(&bytes) {
        Ok(psk) => psk.len(),
        Err(KeyError::EmptyPsk) => {
            let msg = format!("the PSK file {} is empty", path.display());
            return Err(e.error(line, key, msg));
        }
        Err(_) => {
            let msg = format!(
                "the PSK file {} holds more than {PSK_MAX_LEN} bytes",
                path.display()
            );
            return Err(e.error(line, key, msg));
        }
    };
    let here = format!("{}:{line_no}: {key}", e.file.display());
    if let Ok(meta) = fs::metadata(&path) {
        if meta.permissions().mode() & 0o044 != 0 {
            notices.push(Notice {
                level: LogLevel::Warn,
                text: format!(
                    "{here}: the PSK file {} is readable by group or others: chmod 600 it",
                    path.display()
                ),
            });
        }
    }
    if len < PSK_MIN_GOOD_LEN {
        notices.push(Notice {
            level: LogLevel::Warn,
            text: format!(
                "{here}: the PSK is only {len} bytes; make a strong one with \
                 `atsreuse psk new > file; chmod 600 file` and give it to every node"
            ),
        });
    }
    Ok(path)
}

/// Where the Redis password comes from: `atsreuse.redis_password_mode`, implied `file` when only
/// `atsreuse.redis_password_file` is set.
fn redis_password(e: &Entries) -> Result<RedisPassword, ConfigError> {
    const MODE: &str = "atsreuse.redis_password_mode";
    const FILE: &str = "atsreuse.redis_password_file";
    #[derive(Clone, Copy, PartialEq)]
    enum Mode {
        Derived,
        Psk,
        File,
        None,
    }
    let file = e.path(&[FILE]);
    let default = if file.is_some() {
        Mode::File
    } else {
        Mode::Derived
    };
    let words = [
        ("derived", Mode::Derived),
        ("psk", Mode::Psk),
        ("file", Mode::File),
        ("none", Mode::None),
    ];
    let mode = e.choice(MODE, &words, default)?;
    match (mode, file) {
        (Mode::File, None) => Err(e.error(e.line_of(MODE), MODE, format!("file needs {FILE}"))),
        (Mode::File, Some((_, line, path))) => match fs::metadata(&path) {
            Ok(m) if m.is_file() => Ok(RedisPassword::File(path)),
            Ok(_) => Err(e.error(
                Some(line),
                FILE,
                format!("{} is not a file", path.display()),
            )),
            Err(err) => Err(e.error(
                Some(line),
                FILE,
                format!("cannot read {}: {err}", path.display()),
            )),
        },
        (_, Some((_, line, _))) => Err(e.error(
            Some(line),
            FILE,
            format!("set, but {MODE} is not file: remove one of them"),
        )),
        (Mode::Derived, None) => Ok(RedisPassword::Derived),
        (Mode::Psk, None) => Ok(RedisPassword::Psk),
        (Mode::None, None) => Ok(RedisPassword::None),
    }
}

/// The CA file for `rediss://` endpoints: must exist; a notice when no endpoint uses TLS.
fn ca_file(
    e: &Entries,
    endpoints: &[Endpoint],
    notices: &mut Vec<Notice>,
) -> Result<Option<PathBuf>, ConfigError> {
    let Some((key, line, path)) = e.path(&["atsreuse.redis_ca_file"]) else {
        return Ok(None);
    };
    // Read once here so a FIFO, a device or a huge file is refused with the line and key
    // instead of blocking or filling the node's memory when it loads the CA.
    if let Err(err) = read_regular_file(&path, CA_FILE_MAX_BYTES) {
        return Err(e.error(
            Some(line),
            key,
            format!("cannot read {}: {err}", path.display()),
        ));
    }
    if !endpoints.iter().any(|p| p.tls) {
        notices.push(Notice {
            level: LogLevel::Info,
            text: format!(
                "{}:{line}: {key}: no rediss:// endpoint, the CA file is unused",
                e.file.display()
            ),
        });
    }
    Ok(Some(path))
}

/// The retry delay: the old key counts microseconds (as the old code slept), ours milliseconds.
fn retry_delay(e: &Entries) -> Result<Duration, ConfigError> {
    if e.map.contains_key("redis.RedisRetryDelay") {
        let us = e.number(&["redis.RedisRetryDelay"], 0, 1_000, 600_000_000)?;
        return Ok(Duration::from_micros(us));
    }
    let ms = e.number(
        &["atsreuse.retry_delay_ms"],
        defaults::RETRY_DELAY_MS,
        1,
        600_000,
    )?;
    Ok(Duration::from_millis(ms))
}

/// A count of sessions.
fn count(e: &Entries, key: &'static str, default: u64) -> Result<usize, ConfigError> {
    let n = e.number(&[key], default, 1, 10_000_000)?;
    usize::try_from(n).map_err(|_| e.error(e.line_of(key), key, "too large for this machine"))
}

fn publish_queue_capacity(e: &Entries) -> Result<usize, ConfigError> {
    let keys = [
        "pubconfig.PubMaxQueuedMessages",
        "atsreuse.publish_queue_capacity",
    ];
    let n = e.number(&keys, defaults::PUBLISH_QUEUE_CAPACITY, 1, 1_000_000)?;
    usize::try_from(n).map_err(|_| e.error(None, keys[0], "too large for this machine"))
}

/// Interval, lead time and ticket lifetime, in seconds, checked together: the lead time must be
/// shorter than the interval, and the keys alive at once must fit in a keyring.
fn rotation_settings(e: &Entries) -> Result<(u64, u64, u64), ConfigError> {
    let interval_keys = [
        "ssl_session.KeyUpdateInterval",
        "atsreuse.rotation_interval_secs",
    ];
    // The old key kept its old bound of one day; ours allows up to a week.
    let max_interval = if e.map.contains_key(interval_keys[0]) {
        86_400
    } else {
        7 * 86_400
    };
    let interval = e.number(
        &interval_keys,
        defaults::ROTATION_INTERVAL_SECS,
        60,
        max_interval,
    )?;
    let lead = e.number(
        &["atsreuse.lead_time_secs"],
        defaults::LEAD_TIME_SECS,
        1,
        86_400,
    )?;
    let lifetime = e.number(
        &["atsreuse.ticket_lifetime_secs"],
        defaults::TICKET_LIFETIME_SECS,
        60,
        7 * 86_400,
    )?;
    let interval_key = e.get(&interval_keys).map_or(interval_keys[1], |(k, _)| k);
    // The core's rule is the one the node enforces at start; checking it here lets the error
    // name a key and a line.
    let settings = Settings {
        interval_secs: interval,
        lead_secs: lead,
        ticket_lifetime_secs: lifetime,
    };
    match settings.validate() {
        Ok(()) => {}
        Err(SettingsError::BadInterval) => {
            let key = "atsreuse.lead_time_secs";
            let msg = format!(
                "{lead} s must be less than half the rotation interval ({interval} s, {interval_key})"
            );
            return Err(e.error(e.line_of(key), key, msg));
        }
        Err(_) => {
            let key = "atsreuse.ticket_lifetime_secs";
            let live = settings.max_live_keys().unwrap_or(u64::MAX);
            let msg = format!(
                "with a rotation interval of {interval} s ({interval_key}) and a lead time of \
                 {lead} s, {lifetime} s keeps up to {live} keys alive (interval + lifetime + 4 x \
                 lead, over the interval); twice that must fit in a keyring of {KEYRING_CAPACITY} \
                 (two leaders may overlap for a lease): lengthen the interval or shorten the \
                 lifetime"
            );
            return Err(e.error(e.line_of(key), key, msg));
        }
    }
    Ok((interval, lead, lifetime))
}

/// The keyring poll and the lease must let a new key reach every node before it activates.
fn check_poll_and_lease(e: &Entries, c: &Config) -> Result<(), ConfigError> {
    if c.keyring_poll_interval >= c.lead_time {
        let key = "atsreuse.keyring_poll_secs";
        let msg = format!(
            "{} s must be shorter than the lead time ({} s): a node that missed the notice must \
             still read a new key before it encrypts",
            c.keyring_poll_interval.as_secs(),
            c.lead_time.as_secs()
        );
        return Err(e.error(e.line_of(key), key, msg));
    }
    if c.lease_time >= c.lead_time {
        let key = "atsreuse.lease_secs";
        let msg = format!(
            "{} s must be shorter than the lead time ({} s), so a new leader takes over in time",
            c.lease_time.as_secs(),
            c.lead_time.as_secs()
        );
        return Err(e.error(e.line_of(key), key, msg));
    }
    Ok(())
}

/// The Redis ACL user: one word (Redis user names hold no blanks).
fn redis_user(e: &Entries) -> Result<Option<String>, ConfigError> {
    const KEY: &str = "atsreuse.redis_user";
    match e.map.get(KEY) {
        Some(entry)
            if entry
                .value
                .chars()
                .any(|c| c.is_whitespace() || c.is_control()) =>
        {
            Err(e.error(Some(entry.line), KEY, "a Redis user name holds no blanks"))
        }
        Some(entry) => Ok(Some(entry.value.clone())),
        None => Ok(None),
    }
}

/// The node name: given, or the host name, or `atsreuse-node`.
fn node_name(e: &Entries) -> Result<String, ConfigError> {
    const KEY: &str = "atsreuse.node_name";
    if let Some(entry) = e.map.get(KEY) {
        if entry.value.len() > 64
            || entry
                .value
                .chars()
                .any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(e.error(Some(entry.line), KEY, "at most 64 bytes, no blanks"));
        }
        return Ok(entry.value.clone());
    }
    let host = fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let host = host.trim();
    if host.is_empty() || host.len() > 64 {
        Ok("atsreuse-node".to_owned())
    } else {
        Ok(host.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A fresh directory under the system temp dir, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new() -> TempDir {
            static N: AtomicUsize = AtomicUsize::new(0);
            let n = N.fetch_add(1, Ordering::Relaxed);
            let dir =
                std::env::temp_dir().join(format!("atsreuse-config-{}-{n}", std::process::id()));
            let _ = fs::remove_dir_all(&dir);
            fs::create_dir_all(&dir).unwrap();
            TempDir(dir)
        }

        fn write(&self, name: &str, bytes: &[u8], mode: u32) -> PathBuf {
            let path = self.0.join(name);
            fs::write(&path, bytes).unwrap();
            fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
            path
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    const GOOD_PSK: &[u8] = b"0123456789abcdef0123456789abcdef\n";
    const MINIMAL: &str = "ssl_session.ClusterName=pod1\nssl_session.redis_auth_key_file=psk\n";

    /// Writes a PSK file `psk` (mode 600) and the config text, then loads it.
    fn load(text: &str) -> (TempDir, Result<Config, ConfigError>) {
        let dir = TempDir::new();
        dir.write("psk", GOOD_PSK, 0o600);
        let path = dir.write("atsreuse.config", text.as_bytes(), 0o644);
        let result = Config::load(&path);
        (dir, result)
    }

    fn ok(text: &str) -> Config {
        let (_dir, result) = load(text);
        result.unwrap()
    }

    /// Loads `MINIMAL` plus `extra` and returns the error.
    fn err(extra: &str) -> ConfigError {
        let (_dir, result) = load(&format!("{MINIMAL}{extra}"));
        result.unwrap_err()
    }

    fn assert_err(extra: &str, line: Option<usize>, key: &str, words: &str) {
        let e = err(extra);
        assert_eq!(e.line, line, "{e}");
        assert_eq!(e.key.as_deref(), Some(key), "{e}");
        assert!(e.message.contains(words), "{e:?} lacks {words:?}");
        let text = e.to_string();
        assert!(text.contains("atsreuse.config"), "{text}");
        assert!(text.contains(key), "{text}");
        if let Some(l) = line {
            assert!(text.contains(&format!(":{l}:")), "{text}");
        }
    }

    #[test]
    fn minimal_file_gets_documented_defaults() {
        let c = ok(MINIMAL);
        assert_eq!(c.cluster_name, "pod1");
        assert_eq!(
            c.endpoints,
            vec![Endpoint {
                host: "127.0.0.1".into(),
                port: 6379,
                tls: false
            }]
        );
        assert!(c.psk_file.ends_with("psk"));
        assert_eq!(c.redis_user, None);
        assert_eq!(c.redis_password, RedisPassword::Derived);
        assert_eq!(c.redis_ca_file, None);
        assert_eq!(c.connect_timeout, Duration::from_millis(1_000));
        assert_eq!(c.io_timeout, Duration::from_millis(2_000));
        assert_eq!(c.retry_delay, Duration::from_millis(1_000));
        assert_eq!(c.rotation_interval, Duration::from_secs(25_200));
        assert_eq!(c.lead_time, Duration::from_secs(300));
        assert_eq!(c.ticket_lifetime, Duration::from_secs(43_200));
        assert_eq!(c.session_lifetime, Duration::from_secs(300));
        assert_eq!(c.session_map_capacity, 20_000);
        assert_eq!(c.publish_queue_capacity, 1_000);
        assert_eq!(c.lease_time, Duration::from_secs(30));
        assert_eq!(c.keyring_poll_interval, Duration::from_secs(60));
        assert_eq!(c.start_wait, Duration::from_millis(1_500));
        assert!(!c.node_name.is_empty());
        assert_eq!(c.legacy, LegacyMode::Off);
        assert!(!c.prefer_leader);
        assert!(c.notices.is_empty(), "{:?}", c.notices);
    }

    #[test]
    fn old_plugin_file_loads_unchanged_and_ignored_keys_are_noticed_once_each() {
        let text = "\
# the old plugin's example
redis.RedisEndpoints=127.0.0.1:6379,127.0.0.2
redis.RedisConnectTimeout=2000
redis.RedisRetryDelay=5000000
pubconfig.PubNumWorkers=100
pubconfig.PubRedisPublishTries=5
pubconfig.PubRedisConnectTries=5
pubconfig.PubMaxQueuedMessages=1000
pubconfig.PubColoChannelId=
subconfig.SubColoChannel=pod1.*
ssl_session.ClusterName=pod1
ssl_session.KeyUpdateInterval=25200
ssl_session.STEKMaster=1
ssl_session.redis_auth_key_file=psk
";
        let c = ok(text);
        assert_eq!(c.endpoints.len(), 2);
        assert_eq!(
            c.endpoints[1],
            Endpoint {
                host: "127.0.0.2".into(),
                port: 6379,
                tls: false
            }
        );
        assert_eq!(c.connect_timeout, Duration::from_millis(2_000));
        assert_eq!(
            c.retry_delay,
            Duration::from_secs(5),
            "RedisRetryDelay counts microseconds"
        );
        assert_eq!(c.publish_queue_capacity, 1_000);
        assert_eq!(c.rotation_interval, Duration::from_secs(25_200));
        assert!(c.prefer_leader);
        let ignored: Vec<_> = c
            .notices
            .iter()
            .filter(|n| n.text.contains("ignored"))
            .collect();
        assert_eq!(ignored.len(), 4, "{:?}", c.notices);
        assert!(ignored.iter().all(|n| n.level == LogLevel::Info));
        assert!(
            ignored[0].text.contains(":5: pubconfig.PubNumWorkers"),
            "{}",
            ignored[0].text
        );
    }

    #[test]
    fn whitespace_comments_and_blank_lines_are_skipped() {
        let text = "\n   # comment\n\t\n  ssl_session.ClusterName \t=  pod1  \r\nssl_session.redis_auth_key_file= psk\n";
        let c = ok(text);
        assert_eq!(c.cluster_name, "pod1");
    }

    #[test]
    fn every_new_key_is_read() {
        let dir = TempDir::new();
        dir.write("psk", GOOD_PSK, 0o600);
        dir.write("pw", b"hunter2\n", 0o600);
        dir.write("ca.pem", b"-----BEGIN CERTIFICATE-----\n", 0o644);
        let text = "\
ssl_session.ClusterName=pod1
atsreuse.psk_file=psk
atsreuse.redis_endpoints=rediss://[::1]:6380, redis://127.0.0.1:7000
atsreuse.redis_user=ats
atsreuse.redis_password_mode=file
atsreuse.redis_password_file=pw
atsreuse.redis_ca_file=ca.pem
atsreuse.connect_timeout_ms=250
atsreuse.io_timeout_ms=750
atsreuse.retry_delay_ms=40
atsreuse.rotation_interval_secs=3600
atsreuse.lead_time_secs=120
atsreuse.ticket_lifetime_secs=7200
atsreuse.session_lifetime_secs=900
atsreuse.session_map_capacity=5000
atsreuse.publish_queue_capacity=64
atsreuse.lease_secs=10
atsreuse.keyring_poll_secs=20
atsreuse.node_name=ats-1
atsreuse.legacy_protocol=both
atsreuse.prefer_leader=1
";
        let path = dir.write("c.conf", text.as_bytes(), 0o644);
        let c = Config::load(&path).unwrap();
        assert_eq!(c.psk_file, dir.0.join("psk"));
        assert_eq!(
            c.endpoints,
            vec![
                Endpoint {
                    host: "::1".into(),
                    port: 6380,
                    tls: true
                },
                Endpoint {
                    host: "127.0.0.1".into(),
                    port: 7000,
                    tls: false
                },
            ]
        );
        assert_eq!(c.redis_user.as_deref(), Some("ats"));
        assert_eq!(c.redis_password, RedisPassword::File(dir.0.join("pw")));
        assert_eq!(c.redis_ca_file, Some(dir.0.join("ca.pem")));
        assert_eq!(c.connect_timeout, Duration::from_millis(250));
        assert_eq!(c.io_timeout, Duration::from_millis(750));
        assert_eq!(c.retry_delay, Duration::from_millis(40));
        assert_eq!(c.rotation_interval, Duration::from_secs(3_600));
        assert_eq!(c.lead_time, Duration::from_secs(120));
        assert_eq!(c.ticket_lifetime, Duration::from_secs(7_200));
        assert_eq!(c.session_lifetime, Duration::from_secs(900));
        assert_eq!(c.session_map_capacity, 5_000);
        assert_eq!(c.publish_queue_capacity, 64);
        assert_eq!(c.lease_time, Duration::from_secs(10));
        assert_eq!(c.keyring_poll_interval, Duration::from_secs(20));
        assert_eq!(c.node_name, "ats-1");
        assert_eq!(c.legacy, LegacyMode::Both);
        assert!(c.prefer_leader);
        assert!(c.notices.is_empty(), "{:?}", c.notices);
    }

    #[test]
    fn password_modes_are_read() {
        for (word, want) in [
            ("derived", RedisPassword::Derived),
            ("psk", RedisPassword::Psk),
            ("none", RedisPassword::None),
        ] {
            let c = ok(&format!("{MINIMAL}atsreuse.redis_password_mode={word}\n"));
            assert_eq!(c.redis_password, want);
        }
        for (word, want) in [("off", LegacyMode::Off), ("accept", LegacyMode::Accept)] {
            assert_eq!(
                ok(&format!("{MINIMAL}atsreuse.legacy_protocol={word}\n")).legacy,
                want
            );
        }
    }

    #[test]
    fn psk_password_mode_is_warned_about_and_the_others_are_not() {
        let c = ok(&format!("{MINIMAL}atsreuse.redis_password_mode=psk\n"));
        let warns: Vec<&Notice> = c
            .notices
            .iter()
            .filter(|n| n.level == LogLevel::Warn)
            .collect();
        assert_eq!(warns.len(), 1, "{:?}", c.notices);
        let text = &warns[0].text;
        assert!(
            text.contains("atsreuse.config:3: atsreuse.redis_password_mode")
                && text.contains("derived"),
            "{text}"
        );
        for word in ["derived", "none"] {
            let c = ok(&format!("{MINIMAL}atsreuse.redis_password_mode={word}\n"));
            assert!(
                c.notices.iter().all(|n| n.level != LogLevel::Warn),
                "{:?}",
                c.notices
            );
        }
    }

    #[test]
    fn a_password_file_alone_implies_file_mode() {
        let dir = TempDir::new();
        dir.write("psk", GOOD_PSK, 0o600);
        dir.write("pw", b"pw", 0o600);
        let path = dir.write(
            "c",
            format!("{MINIMAL}atsreuse.redis_password_file=pw\n").as_bytes(),
            0o600,
        );
        assert_eq!(
            Config::load(path).unwrap().redis_password,
            RedisPassword::File(dir.0.join("pw"))
        );
    }

    #[test]
    fn endpoint_forms_are_parsed() {
        let ep = |h: &str, p: u16, tls: bool| Endpoint {
            host: h.into(),
            port: p,
            tls,
        };
        assert_eq!(
            parse_endpoint("localhost").unwrap(),
            ep("localhost", 6379, false)
        );
        assert_eq!(
            parse_endpoint("10.0.0.1:7001").unwrap(),
            ep("10.0.0.1", 7001, false)
        );
        assert_eq!(
            parse_endpoint("[::1]:6379").unwrap(),
            ep("::1", 6379, false)
        );
        assert_eq!(parse_endpoint("[::1]").unwrap(), ep("::1", 6379, false));
        assert_eq!(parse_endpoint("::1").unwrap(), ep("::1", 6379, false));
        assert_eq!(parse_endpoint("redis://h:1").unwrap(), ep("h", 1, false));
        assert_eq!(parse_endpoint("rediss://h").unwrap(), ep("h", 6379, true));
        assert_eq!(
            parse_endpoint("redis_1.pod-a:7000").unwrap(),
            ep("redis_1.pod-a", 7000, false)
        );
        assert_eq!(
            parse_endpoint("rediss://[fe80::2]:65535").unwrap(),
            ep("fe80::2", 65535, true)
        );
        assert_eq!(ep("::1", 6379, true).to_string(), "rediss://[::1]:6379");
        assert_eq!(ep("h", 1, false).to_string(), "redis://h:1");
    }

    #[test]
    fn bad_endpoints_are_refused_with_a_reason() {
        for (text, words) in [
            ("http://h", "scheme"),
            ("redis://u:p@h", "credentials"),
            ("redis://h:1/0", "path"),
            ("[::1", "missing ]"),
            ("[::1]6379", ":port"),
            (":6379", "empty"),
            ("h:0", "bad port"),
            ("h:65536", "bad port"),
            ("h:x", "bad port"),
            ("h:", "bad port"),
            ("[nothex]:1", "IPv6"),
            ("a b", "blank"),
            ("h#1", "host name"),
            ("redis.example.com;x", "host name"),
            ("caf\u{e9}.example", "host name"),
            ("999.1.1.1", "IPv4"),
            ("1.2.3.4.5:6379", "IPv4"),
            ("10.0.0:6379", "IPv4"),
        ] {
            let why = parse_endpoint(text).unwrap_err();
            assert!(why.contains(words), "{text}: {why}");
        }
    }

    #[test]
    fn endpoint_errors_name_line_and_key() {
        assert_err(
            "redis.RedisEndpoints=h:99999\n",
            Some(3),
            "redis.RedisEndpoints",
            "bad port",
        );
        assert_err(
            "redis.RedisEndpoints= , ,\n",
            Some(3),
            "redis.RedisEndpoints",
            "no endpoint",
        );
        assert_err(
            "redis.RedisEndpoints=a,b,a\n",
            Some(3),
            "redis.RedisEndpoints",
            "twice",
        );
        let many: Vec<String> = (0..65).map(|i| format!("h{i}")).collect();
        assert_err(
            &format!("redis.RedisEndpoints={}\n", many.join(",")),
            Some(3),
            "redis.RedisEndpoints",
            "more than 64",
        );
    }

    #[test]
    fn a_trailing_comma_in_the_endpoint_list_is_tolerated() {
        assert_eq!(
            ok(&format!("{MINIMAL}redis.RedisEndpoints=a,b,\n"))
                .endpoints
                .len(),
            2
        );
    }

    #[test]
    fn line_and_key_errors() {
        assert_err("no.such.Key=1\n", Some(3), "no.such.Key", "unknown key");
        assert_err(
            "ssl_session.STEKMaster=\n",
            Some(3),
            "ssl_session.STEKMaster",
            "empty value",
        );
        assert_err(
            "\n\nssl_session.ClusterName=pod2\n",
            Some(5),
            "ssl_session.ClusterName",
            "first on line 1",
        );
        assert_err(
            "ssl_session.KeyUpdateInterval=3600\natsreuse.rotation_interval_secs=3600\n",
            Some(4),
            "atsreuse.rotation_interval_secs",
            "ssl_session.KeyUpdateInterval on line 3",
        );
        let e = err("just words\n");
        assert_eq!((e.line, e.key.as_deref()), (Some(3), None));
        assert!(e.to_string().contains(":3: expected key=value"), "{e}");
    }

    #[test]
    fn the_start_wait_may_be_zero_and_is_bounded() {
        let c = ok(&format!("{MINIMAL}atsreuse.start_wait_ms=0\n"));
        assert_eq!(c.start_wait, Duration::ZERO);
        let c = ok(&format!("{MINIMAL}atsreuse.start_wait_ms=250\n"));
        assert_eq!(c.start_wait, Duration::from_millis(250));
        let key = "atsreuse.start_wait_ms";
        assert_err(&format!("{key}=60001\n"), Some(3), key, "out of range");
        assert_err(&format!("{key}=1.5\n"), Some(3), key, "bad number");
    }

    #[test]
    fn bad_numbers_are_refused_for_every_numeric_key() {
        for key in [
            "redis.RedisConnectTimeout",
            "redis.RedisRetryDelay",
            "pubconfig.PubMaxQueuedMessages",
            "ssl_session.KeyUpdateInterval",
            "atsreuse.connect_timeout_ms",
            "atsreuse.io_timeout_ms",
            "atsreuse.retry_delay_ms",
            "atsreuse.rotation_interval_secs",
            "atsreuse.lead_time_secs",
            "atsreuse.ticket_lifetime_secs",
            "atsreuse.session_lifetime_secs",
            "atsreuse.session_map_capacity",
            "atsreuse.publish_queue_capacity",
            "atsreuse.lease_secs",
            "atsreuse.keyring_poll_secs",
        ] {
            for bad in ["-1", "1.5", "12s", "0x10", "99999999999999999999999"] {
                assert_err(&format!("{key}={bad}\n"), Some(3), key, "bad number");
            }
            assert_err(&format!("{key}=0\n"), Some(3), key, "out of range");
            assert_err(
                &format!("{key}=999999999999\n"),
                Some(3),
                key,
                "out of range",
            );
        }
    }

    #[test]
    fn bad_words_are_refused() {
        assert_err(
            "ssl_session.STEKMaster=yes\n",
            Some(3),
            "ssl_session.STEKMaster",
            "one of 0, 1",
        );
        assert_err(
            "atsreuse.prefer_leader=2\n",
            Some(3),
            "atsreuse.prefer_leader",
            "one of 0, 1",
        );
        assert_err(
            "atsreuse.legacy_protocol=on\n",
            Some(3),
            "atsreuse.legacy_protocol",
            "off, accept, both",
        );
        assert_err(
            "atsreuse.redis_password_mode=clear\n",
            Some(3),
            "atsreuse.redis_password_mode",
            "derived",
        );
        assert_err(
            "atsreuse.redis_user=ats user\n",
            Some(3),
            "atsreuse.redis_user",
            "no blanks",
        );
        assert_err(
            "atsreuse.node_name=a b\n",
            Some(3),
            "atsreuse.node_name",
            "no blanks",
        );
    }

    #[test]
    fn key_update_interval_keeps_its_one_day_bound() {
        assert_err(
            "ssl_session.KeyUpdateInterval=86401\n",
            Some(3),
            "ssl_session.KeyUpdateInterval",
            "out of range",
        );
        let c = ok(&format!("{MINIMAL}atsreuse.rotation_interval_secs=172800\natsreuse.ticket_lifetime_secs=86400\n"));
        assert_eq!(c.rotation_interval, Duration::from_secs(172_800));
    }

    #[test]
    fn rotation_settings_that_cannot_work_are_refused() {
        assert_err(
            "atsreuse.rotation_interval_secs=300\n",
            None,
            "atsreuse.lead_time_secs",
            "less than half the rotation interval",
        );
        // Just at and just past the bound on the lead time.
        assert_err(
            "atsreuse.rotation_interval_secs=600\natsreuse.ticket_lifetime_secs=600\n",
            None,
            "atsreuse.lead_time_secs",
            "less than half",
        );
        let c = ok(&format!(
            "{MINIMAL}atsreuse.rotation_interval_secs=601\natsreuse.ticket_lifetime_secs=600\n"
        ));
        assert_eq!(c.rotation_interval, Duration::from_secs(601));
        assert_err(
            "atsreuse.rotation_interval_secs=3600\natsreuse.ticket_lifetime_secs=86400\n",
            Some(4),
            "atsreuse.ticket_lifetime_secs",
            "keys alive",
        );
        assert_err(
            "atsreuse.keyring_poll_secs=300\n",
            Some(3),
            "atsreuse.keyring_poll_secs",
            "lead time",
        );
        assert_err(
            "atsreuse.lease_secs=600\n",
            Some(3),
            "atsreuse.lease_secs",
            "lead time",
        );
    }

    #[test]
    fn the_defaults_pass_the_rule_the_node_enforces() {
        let c = ok(MINIMAL);
        let settings = Settings {
            interval_secs: c.rotation_interval.as_secs(),
            lead_secs: c.lead_time.as_secs(),
            ticket_lifetime_secs: c.ticket_lifetime.as_secs(),
        };
        assert_eq!(settings.validate(), Ok(()));
    }

    #[test]
    fn cluster_name_is_required_and_checked() {
        let (_d, r) = load("ssl_session.redis_auth_key_file=psk\n");
        let e = r.unwrap_err();
        assert_eq!(
            (e.line, e.key.as_deref()),
            (None, Some("ssl_session.ClusterName"))
        );
        assert!(e.to_string().contains("missing"), "{e}");
        for bad in ["a*b", "a?", "x[1]", "a\\b"] {
            let (_d, r) = load(&format!(
                "ssl_session.ClusterName={bad}\nssl_session.redis_auth_key_file=psk\n"
            ));
            let e = r.unwrap_err();
            assert_eq!(e.line, Some(1), "{bad}: {e}");
            assert!(e.message.contains("not allowed"), "{e}");
        }
        let long = "x".repeat(129);
        let (_d, r) = load(&format!(
            "ssl_session.ClusterName={long}\nssl_session.redis_auth_key_file=psk\n"
        ));
        assert!(r.unwrap_err().message.contains("longer than 128"));
    }

    #[test]
    fn sub_colo_channel_must_be_the_cluster_pattern() {
        assert_eq!(
            ok(&format!("{MINIMAL}subconfig.SubColoChannel=pod1.*\n")).cluster_name,
            "pod1"
        );
        assert_err(
            "subconfig.SubColoChannel=pod2.*\n",
            Some(3),
            "subconfig.SubColoChannel",
            "must be pod1.*",
        );
        assert_err(
            "subconfig.SubColoChannel=pod1\n",
            Some(3),
            "subconfig.SubColoChannel",
            "must be pod1.*",
        );
    }

    #[test]
    fn psk_file_is_required_readable_and_bounded() {
        let (_d, r) = load("ssl_session.ClusterName=pod1\n");
        let e = r.unwrap_err();
        assert_eq!(e.key.as_deref(), Some("ssl_session.redis_auth_key_file"));
        assert!(e.message.contains("missing"), "{e}");

        let (_d, r) = load("ssl_session.ClusterName=pod1\nssl_session.redis_auth_key_file=nope\n");
        let e = r.unwrap_err();
        assert_eq!(e.line, Some(2));
        assert!(
            e.message.contains("cannot read the PSK file") && e.message.contains("nope"),
            "{e}"
        );

        for (bytes, words) in [
            (&b"\n\n"[..], "is empty"),
            (&[b'k'; 257][..], "more than 256"),
        ] {
            let dir = TempDir::new();
            dir.write("k", bytes, 0o600);
            let path = dir.write(
                "c",
                b"ssl_session.ClusterName=p\nssl_session.redis_auth_key_file=k\n",
                0o600,
            );
            let e = Config::load(path).unwrap_err();
            assert!(e.message.contains(words), "{e}");
        }
    }

    #[test]
    fn psk_path_resolves_against_the_config_directory_not_the_working_directory() {
        let dir = TempDir::new();
        fs::create_dir(dir.0.join("sub")).unwrap();
        dir.write("sub/key", GOOD_PSK, 0o600);
        let path = dir.write(
            "c",
            b"ssl_session.ClusterName=p\nssl_session.redis_auth_key_file=sub/key\n",
            0o600,
        );
        assert_eq!(Config::load(&path).unwrap().psk_file, dir.0.join("sub/key"));
        let absolute = dir.0.join("sub/key");
        let text = format!(
            "ssl_session.ClusterName=p\nssl_session.redis_auth_key_file={}\n",
            absolute.display()
        );
        let path = dir.write("d", text.as_bytes(), 0o600);
        assert_eq!(Config::load(&path).unwrap().psk_file, absolute);
    }

    #[test]
    fn a_loose_or_short_psk_gets_warnings_with_the_fix() {
        let dir = TempDir::new();
        dir.write("psk", b"secret\n", 0o644);
        let path = dir.write("c", MINIMAL.as_bytes(), 0o600);
        let c = Config::load(path).unwrap();
        assert_eq!(c.notices.len(), 2, "{:?}", c.notices);
        assert!(c.notices.iter().all(|n| n.level == LogLevel::Warn));
        assert!(
            c.notices[0].text.contains("group or others"),
            "{:?}",
            c.notices[0]
        );
        assert!(
            c.notices[1].text.contains("only 6 bytes"),
            "{:?}",
            c.notices[1]
        );
        assert!(c.notices[1]
            .text
            .contains("atsreuse psk new > file; chmod 600 file"));
        assert!(
            c.notices[1]
                .text
                .contains(":2: ssl_session.redis_auth_key_file"),
            "{}",
            c.notices[1].text
        );
    }

    #[test]
    fn password_file_errors() {
        assert_err(
            "atsreuse.redis_password_mode=file\n",
            Some(3),
            "atsreuse.redis_password_mode",
            "needs",
        );
        assert_err(
            "atsreuse.redis_password_file=missing\n",
            Some(3),
            "atsreuse.redis_password_file",
            "cannot read",
        );
        assert_err(
            "atsreuse.redis_password_mode=psk\natsreuse.redis_password_file=psk\n",
            Some(4),
            "atsreuse.redis_password_file",
            "not file",
        );
        assert_err(
            "atsreuse.redis_password_file=.\n",
            Some(3),
            "atsreuse.redis_password_file",
            "not a file",
        );
    }

    #[test]
    fn ca_file_must_exist_and_is_noticed_when_unused() {
        assert_err(
            "atsreuse.redis_ca_file=missing.pem\n",
            Some(3),
            "atsreuse.redis_ca_file",
            "cannot read",
        );
        let c = ok(&format!("{MINIMAL}atsreuse.redis_ca_file=psk\n"));
        assert_eq!(c.notices.len(), 1);
        assert!(
            c.notices[0].text.contains("no rediss://"),
            "{:?}",
            c.notices
        );
    }

    /// Makes a FIFO at `path` (no writer ever opens it: opening it to read would block).
    fn fifo(path: &Path) {
        let status = std::process::Command::new("mkfifo")
            .arg(path)
            .status()
            .expect("mkfifo runs");
        assert!(status.success(), "mkfifo {}", path.display());
    }

    #[test]
    fn a_psk_file_that_is_a_fifo_a_device_or_huge_is_refused_without_reading_it() {
        let dir = TempDir::new();
        fifo(&dir.0.join("fifo.key"));
        // A file far over the limit, with valid-looking bytes (a node must not read it all).
        dir.write("huge.key", &vec![b'k'; 1 << 20], 0o600);
        let cases = [
            ("fifo.key", "not a regular file"),
            ("/dev/zero", "not a regular file"),
            ("/dev/null", "not a regular file"),
            (".", "directory"),
            ("huge.key", "larger than 4096 bytes"),
        ];
        for (psk, words) in cases {
            let text =
                format!("ssl_session.ClusterName=pod1\nssl_session.redis_auth_key_file={psk}\n");
            let path = dir.write("atsreuse.config", text.as_bytes(), 0o644);
            // Without the checks this call blocks forever on the FIFO or reads /dev/zero until
            // memory runs out.
            let e = Config::load(&path).unwrap_err();
            assert_eq!(e.line, Some(2), "{psk}: {e}");
            assert_eq!(e.key.as_deref(), Some("ssl_session.redis_auth_key_file"));
            assert!(e.message.contains(words), "{psk}: {e} lacks {words:?}");
        }
    }

    #[test]
    fn password_and_ca_files_that_are_fifos_or_devices_are_refused() {
        let dir = TempDir::new();
        dir.write("psk", GOOD_PSK, 0o600);
        fifo(&dir.0.join("fifo"));
        for (extra, key) in [
            (
                "atsreuse.redis_password_file=fifo",
                "atsreuse.redis_password_file",
            ),
            (
                "atsreuse.redis_password_file=/dev/zero",
                "atsreuse.redis_password_file",
            ),
            ("atsreuse.redis_ca_file=fifo", "atsreuse.redis_ca_file"),
            ("atsreuse.redis_ca_file=/dev/zero", "atsreuse.redis_ca_file"),
        ] {
            let text = format!("{MINIMAL}{extra}\n");
            let path = dir.write("atsreuse.config", text.as_bytes(), 0o644);
            let e = Config::load(&path).unwrap_err();
            assert_eq!((e.line, e.key.as_deref()), (Some(3), Some(key)), "{e}");
        }
        // A password file swapped for a FIFO after the config was checked: the node's read
        // fails instead of blocking.
        dir.write("pw", b"secret\n", 0o600);
        let text = format!("{MINIMAL}atsreuse.redis_password_file=pw\n");
        let path = dir.write("atsreuse.config", text.as_bytes(), 0o644);
        let c = Config::load(&path).unwrap();
        fs::remove_file(dir.0.join("pw")).unwrap();
        fifo(&dir.0.join("pw"));
        let why = c.redis_auth_password().unwrap_err();
        assert!(why.contains("not a regular file"), "{why}");
        assert!(!why.contains("secret"), "{why}");
    }

    #[test]
    fn a_config_file_that_is_a_device_huge_or_not_utf8_is_refused_with_the_line() {
        let e = Config::load("/dev/zero").unwrap_err();
        assert!(e.message.contains("not a regular file"), "{e}");
        let dir = TempDir::new();
        dir.write("psk", GOOD_PSK, 0o600);
        let big = dir.write("big.config", &vec![b'#'; 2 << 20], 0o644);
        let e = Config::load(&big).unwrap_err();
        assert!(e.message.contains("larger than"), "{e}");
        // Latin-1 on line 2: the error names that line.
        let text = b"ssl_session.ClusterName=pod1\natsreuse.node_name=n\xe9\nx\n";
        let path = dir.write("latin1.config", text, 0o644);
        let e = Config::load(&path).unwrap_err();
        assert_eq!(e.line, Some(2), "{e}");
        assert!(e.message.contains("not UTF-8"), "{e}");
    }

    #[test]
    fn a_byte_order_mark_before_the_first_key_is_skipped() {
        let c = ok(&format!("\u{feff}{MINIMAL}"));
        assert_eq!(c.cluster_name, "pod1");
        // Anywhere else it is still part of a key, and refused.
        let e = err("\u{feff}atsreuse.lease_secs=5\n");
        assert_eq!(e.line, Some(3), "{e}");
    }

    #[test]
    fn an_unreadable_config_file_is_named() {
        let e = Config::load("/nonexistent/atsreuse.config").unwrap_err();
        assert_eq!(e.line, None);
        assert!(
            e.to_string()
                .starts_with("/nonexistent/atsreuse.config: cannot read"),
            "{e}"
        );
    }

    #[test]
    fn redis_auth_password_follows_the_mode() {
        let dir = TempDir::new();
        dir.write("psk", b"secret-psk-of-some-length\r\n", 0o600);
        dir.write("pw", b"from-file\n\n", 0o600);
        let load_with = |extra: &str| {
            let text = format!(
                "ssl_session.ClusterName=pod1\nssl_session.redis_auth_key_file=psk\n{extra}"
            );
            Config::load(dir.write("c", text.as_bytes(), 0o600)).unwrap()
        };
        let derived = load_with("").redis_auth_password().unwrap().unwrap();
        assert_eq!(derived.len(), 64);
        assert!(derived
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        let psk = Psk::from_file_bytes(b"secret-psk-of-some-length\r\n").unwrap();
        let want = atsreuse_core::keys::redis_password(&psk, "pod1").unwrap();
        assert_eq!(derived.as_bytes(), &want[..]);
        let psk = load_with("atsreuse.redis_password_mode=psk\n")
            .redis_auth_password()
            .unwrap();
        assert_eq!(psk.unwrap().as_str(), "secret-psk-of-some-length");
        let file = load_with("atsreuse.redis_password_file=pw\n")
            .redis_auth_password()
            .unwrap();
        assert_eq!(file.unwrap().as_str(), "from-file");
        assert!(load_with("atsreuse.redis_password_mode=none\n")
            .redis_auth_password()
            .unwrap()
            .is_none());
    }

    #[test]
    fn read_psk_file_returns_the_bytes_on_disk() {
        let (_d, r) = load(MINIMAL);
        assert_eq!(&r.unwrap().read_psk_file().unwrap()[..], GOOD_PSK);
    }

    #[test]
    fn random_config_text_gives_a_config_or_an_error_never_a_panic() {
        use rand::{Rng, SeedableRng};
        let dir = TempDir::new();
        dir.write("psk", GOOD_PSK, 0o600);
        let path = dir.0.join("random.config");
        let pieces = [
            "ssl_session.ClusterName",
            "ssl_session.redis_auth_key_file",
            "redis.RedisEndpoints",
            "atsreuse.lead_time_secs",
            "atsreuse.redis_password_mode",
            "subconfig.SubColoChannel",
            "=",
            "=",
            "\n",
            "\n",
            "#",
            " ",
            "\t",
            "psk",
            "pod",
            "[::1]",
            ":",
            ",",
            "*",
            "0",
            "99999999999999999999",
            "rediss://",
            "\u{e9}",
            "\r",
        ];
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        for _ in 0..5000 {
            let text: String = (0..rng.gen_range(0..40))
                .map(|_| pieces[rng.gen_range(0..pieces.len())])
                .collect();
            // An accepted text is fine; a refused one must name the file first.
            if let Err(e) = Config::parse(&path, &text) {
                assert!(
                    e.to_string().starts_with(&path.display().to_string()),
                    "{e}"
                );
            }
        }
    }
}
