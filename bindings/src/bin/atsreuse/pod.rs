//! Reading and poking the pod through Redis: `status`, `rotate`, and the keyring for `export`.
//!
//! The Redis names and the stored layout are the runtime's (`bindings/src/dist/mod.rs` and
//! `dist/control.rs`): the keyring is a hash `atsreuse:{cluster}:keyring` with fields `epoch`
//! and `blob` (the sealed keyring); the lease is a string `atsreuse:{cluster}:leader` holding
//! the leader's node id in hex; notices and rotation requests go to the channel
//! `atsreuse:{cluster}:keyring`, sessions to `atsreuse:{cluster}:sessions`.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use atsreuse::config::{Config, Endpoint};
use atsreuse::dist::open_endpoint;
use atsreuse_core::envelope::Header;
use atsreuse_core::keyring::{self, Keyring, ENCODED_MAX_LEN};
use atsreuse_core::keys::{ClusterKeys, Psk};
use redis::Connection;
use zeroize::Zeroizing;

use crate::Fail;

/// The Redis names of a cluster.
pub struct Names {
    pub sessions: String,
    pub keyring_channel: String,
    pub keyring_key: String,
    pub leader_key: String,
}

impl Names {
    pub fn new(cluster: &str) -> Names {
        Names {
            sessions: format!("atsreuse:{cluster}:sessions"),
            keyring_channel: format!("atsreuse:{cluster}:keyring"),
            keyring_key: format!("atsreuse:{cluster}:keyring"),
            leader_key: format!("atsreuse:{cluster}:leader"),
        }
    }
}

/// What a command needs to talk to the pod.
pub struct Pod<'c> {
    pub config: &'c Config,
    pub names: Names,
    keys: ClusterKeys,
    password: Option<Zeroizing<String>>,
    ca_pem: Option<Vec<u8>>,
}

impl<'c> Pod<'c> {
    pub fn new(config: &'c Config) -> Result<Pod<'c>, Fail> {
        let bytes = config.read_psk_file().map_err(|e| {
            Fail::usage(format!(
                "cannot read the PSK file {}: {e}",
                config.psk_file.display()
            ))
        })?;
        let psk = Psk::from_file_bytes(&bytes).map_err(|e| {
            Fail::usage(format!(
                "the PSK file {} is unusable: {e:?}",
                config.psk_file.display()
            ))
        })?;
        let keys = ClusterKeys::derive(&psk, &config.cluster_name)
            .map_err(|e| Fail::usage(format!("cluster {}: {e:?}", config.cluster_name)))?;
        let password = config.redis_auth_password().map_err(Fail::usage)?;
        let ca_pem = match &config.redis_ca_file {
            Some(path) => Some(
                std::fs::read(path)
                    .map_err(|e| Fail::usage(format!("CA file {}: {e}", path.display())))?,
            ),
            None => None,
        };
        Ok(Pod {
            config,
            names: Names::new(&config.cluster_name),
            keys,
            password,
            ca_pem,
        })
    }

    /// One connection to `ep`, every call bounded by the config's timeouts.
    pub fn connect(&self, ep: &Endpoint) -> redis::RedisResult<Connection> {
        open_endpoint(
            self.config,
            ep,
            self.password.as_ref().map(|p| p.as_str()),
            self.ca_pem.as_deref(),
        )
    }

    /// The stored keyring of one endpoint: `None` when there is none.
    pub fn read_keyring(&self, con: &mut Connection) -> Result<Option<(Header, Keyring)>, String> {
        let blob: Option<Vec<u8>> = redis::cmd("HGET")
            .arg(&self.names.keyring_key)
            .arg("blob")
            .query(con)
            .map_err(|e| format!("HGET {}: {e}", self.names.keyring_key))?;
        let Some(blob) = blob else { return Ok(None) };
        let mut scratch = Zeroizing::new([0u8; ENCODED_MAX_LEN]);
        keyring::open(&self.keys, &blob, &mut scratch[..]).map(Some).map_err(|e| {
            format!("the stored keyring does not open ({e:?}): another PSK or cluster name, or tampered")
        })
    }

    /// The hash's `epoch` field as stored (`None` when absent). It is informational only (the
    /// writer's sealed epoch) and not authenticated: see [`epoch_field_warning`].
    pub fn read_epoch_field(&self, con: &mut Connection) -> Result<Option<String>, String> {
        redis::cmd("HGET")
            .arg(&self.names.keyring_key)
            .arg("epoch")
            .query(con)
            .map_err(|e| format!("HGET {}: {e}", self.names.keyring_key))
    }

    /// The keyrings of every reachable endpoint, merged at `now` as the nodes merge them.
    pub fn merged_keyring(&self, now: u64) -> Result<Keyring, Fail> {
        let mut merged = Keyring::new();
        let mut found = 0;
        let mut problems = Vec::new();
        for ep in &self.config.endpoints {
            let read = self
                .connect(ep)
                .map_err(|e| e.to_string())
                .and_then(|mut con| self.read_keyring(&mut con));
            match read {
                Ok(Some((_, ring))) => {
                    merged.merge(&ring, now);
                    found += 1;
                }
                Ok(None) => problems.push(format!("{ep}: no stored keyring")),
                Err(e) => problems.push(format!("{ep}: {e}")),
            }
        }
        for p in &problems {
            eprintln!("atsreuse: {p}");
        }
        if found == 0 {
            return Err(Fail::work("no endpoint gave a keyring"));
        }
        Ok(merged)
    }
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `secs` as `YYYY-MM-DD hh:mm:ss` UTC (proleptic Gregorian calendar).
pub fn utc(secs: u64) -> String {
    let days = i64::try_from(secs / 86_400).unwrap_or(i64::MAX / 2);
    let rem = secs % 86_400;
    // Days since 1970-01-01 to a civil date, by 400-year eras of 146097 days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// A time relative to now, in words: "in 5m 3s", "2h 1m ago".
fn relative(t: u64, now: u64) -> String {
    let span = |d: u64| match d {
        0..=59 => format!("{d}s"),
        60..=3599 => format!("{}m {}s", d / 60, d % 60),
        3600..=86_399 => format!("{}h {}m", d / 3600, d % 3600 / 60),
        _ => format!("{}d {}h", d / 86_400, d % 86_400 / 3600),
    };
    if t == now {
        "now".to_owned()
    } else if t > now {
        format!("in {}", span(t - now))
    } else {
        format!("{} ago", span(now - t))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Prints one keyring as a table.
fn print_keyring(ring: &Keyring, now: u64) {
    let encrypting = ring.encrypting_at(now).map(|e| (e.epoch, *e.stek.name()));
    println!(
        "    {:>6}  {:<32}  {:<9}  {:<19}  {:<19}  expires",
        "epoch", "name", "state", "introduced", "active from"
    );
    for e in ring.entries() {
        let state = if encrypting == Some((e.epoch, *e.stek.name())) {
            "encrypts"
        } else if e.times.decrypts_at(now) {
            "decrypts"
        } else if now < e.times.introduce_at {
            "future"
        } else {
            "expired"
        };
        println!(
            "    {:>6}  {:<32}  {:<9}  {:<19}  {:<19}  {}",
            e.epoch,
            hex(e.stek.name()),
            state,
            utc(e.times.introduce_at),
            utc(e.times.activate_at),
            utc(e.times.expire_at),
        );
    }
    match ring.entries().iter().find(|e| e.times.activate_at > now) {
        Some(next) => println!(
            "    next key (epoch {}) encrypts {}",
            next.epoch,
            relative(next.times.activate_at, now)
        ),
        None => println!("    no next key introduced yet"),
    }
}

/// `atsreuse status`: per endpoint, the stored keyring, the lease holder and the subscribers.
pub fn status(config: &Config) -> Result<(), Fail> {
    let pod = Pod::new(config)?;
    let now = unix_now();
    println!(
        "cluster {} at {} UTC, {} endpoint(s)",
        config.cluster_name,
        utc(now),
        config.endpoints.len()
    );
    let mut reachable = 0;
    for ep in &config.endpoints {
        println!("{ep}");
        let mut con = match pod.connect(ep) {
            Ok(con) => con,
            Err(e) => {
                println!("    unreachable: {e}");
                continue;
            }
        };
        reachable += 1;
        let subscribers: redis::RedisResult<(String, i64)> = redis::cmd("PUBSUB")
            .arg("NUMSUB")
            .arg(&pod.names.sessions)
            .query(&mut con);
        match subscribers {
            Ok((_, n)) => println!("    nodes subscribed: {n}"),
            Err(e) => println!("    nodes subscribed: unknown ({e})"),
        }
        let leader: redis::RedisResult<(Option<String>, i64)> = redis::pipe()
            .cmd("GET")
            .arg(&pod.names.leader_key)
            .cmd("PTTL")
            .arg(&pod.names.leader_key)
            .query(&mut con);
        match leader {
            Ok((Some(node), ttl)) => println!(
                "    leader: node {node}, lease {:.1} s left",
                ttl as f64 / 1000.0
            ),
            Ok((None, _)) => println!("    leader: none (no node holds the lease here)"),
            Err(e) => println!("    leader: unknown ({e})"),
        }
        match pod.read_keyring(&mut con) {
            Ok(Some((header, ring))) => {
                println!(
                    "    keyring: epoch {}, {} key(s), stored by node {} at {} UTC ({})",
                    ring.epoch(),
                    ring.entries().len(),
                    hex(&header.sender.0),
                    utc(header.issued_at),
                    relative(header.issued_at, now)
                );
                print_keyring(&ring, now);
                match pod.read_epoch_field(&mut con) {
                    Ok(field) => {
                        let key = &pod.names.keyring_key;
                        if let Some(w) = epoch_field_warning(key, field.as_deref(), ring.epoch()) {
                            println!("    {w}");
                        }
                    }
                    Err(e) => println!("    epoch field: unknown ({e})"),
                }
            }
            Ok(None) => println!("    keyring: none stored"),
            Err(e) => println!("    keyring: {e}"),
        }
    }
    if reachable == 0 {
        return Err(Fail::work("no Redis endpoint reachable"));
    }
    Ok(())
}

/// A warning when the hash's `epoch` field disagrees with the sealed keyring's epoch. The
/// nodes write that field with every keyring but decide nothing by it (a write compares the
/// stored blob itself), so a mismatch means someone else wrote to Redis: harmless to the
/// rotation, but worth the operator's attention; `status` says so and how to tidy it.
pub fn epoch_field_warning(key: &str, field: Option<&str>, sealed_epoch: u64) -> Option<String> {
    let field = field.unwrap_or("(absent)");
    if field == sealed_epoch.to_string() {
        return None;
    }
    let shown: String = field.chars().take(40).collect();
    Some(format!(
        "WARNING: the stored epoch field is {shown:?} but the sealed keyring is epoch \
         {sealed_epoch}: the nodes did not write that (the field decides nothing, rotations go \
         on), so something else writes to this Redis; tidy with: HSET {key} epoch {sealed_epoch}"
    ))
}

/// The greatest stored epoch over all endpoints (0 when none can be read).
fn stored_epoch(pod: &Pod<'_>) -> u64 {
    pod.config
        .endpoints
        .iter()
        .filter_map(|ep| pod.connect(ep).ok())
        .filter_map(|mut con| pod.read_keyring(&mut con).ok().flatten())
        .map(|(_, ring)| ring.epoch())
        .max()
        .unwrap_or(0)
}

/// `atsreuse rotate`: publishes a rotation request on every endpoint, authenticated with the
/// PSK and good for one minute (`atsreuse::dist::rotation_request`); the node holding the
/// lease introduces a new key at once (it activates after the lead time), at most once per
/// max(lead time, interval / 4) for requests from outside. With `wait_secs`,
/// waits for the stored epoch to grow.
pub fn rotate(config: &Config, wait_secs: u64) -> Result<(), Fail> {
    let pod = Pod::new(config)?;
    let before = stored_epoch(&pod);
    let mut receivers = 0;
    let mut reached = 0;
    for ep in &config.endpoints {
        let sent = pod.connect(ep).and_then(|mut con| {
            redis::cmd("PUBLISH")
                .arg(&pod.names.keyring_channel)
                .arg(atsreuse::dist::rotation_request(&pod.keys, unix_now()))
                .query::<i64>(&mut con)
        });
        match sent {
            Ok(n) => {
                reached += 1;
                receivers += n;
                println!("{ep}: rotation request heard by {n} node(s)");
            }
            Err(e) => eprintln!("atsreuse: {ep}: {e}"),
        }
    }
    if reached == 0 {
        return Err(Fail::work("no Redis endpoint reachable: nothing asked"));
    }
    if receivers == 0 {
        return Err(Fail::work(
            "no node is subscribed: is any node of this cluster running?",
        ));
    }
    if wait_secs == 0 {
        println!("asked; the stored keyring is at epoch {before}");
        return Ok(());
    }
    let deadline = Instant::now() + Duration::from_secs(wait_secs);
    while Instant::now() < deadline {
        let epoch = stored_epoch(&pod);
        if epoch > before {
            println!("rotated: stored keyring epoch {before} -> {epoch}");
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    Err(Fail::work(format!(
        "the stored epoch is still {before} after {wait_secs} s"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_formats_known_instants() {
        assert_eq!(utc(0), "1970-01-01 00:00:00");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00:00");
        assert_eq!(utc(1_700_000_000), "2023-11-14 22:13:20");
        assert_eq!(utc(4_107_542_399), "2100-02-28 23:59:59");
    }

    #[test]
    fn relative_times_read_naturally() {
        assert_eq!(relative(105, 100), "in 5s");
        assert_eq!(relative(100, 100), "now");
        assert_eq!(relative(100, 3_761), "1h 1m ago");
        assert_eq!(relative(200_000, 10), "in 2d 7h");
    }
}

/// Tests against a real redis-server on a free loopback port, with `requirepass` set to the
/// derived password, as a pod's Redis would be.
#[cfg(test)]
pub(crate) mod redis_tests {
    use super::*;
    use std::path::PathBuf;
    use std::process::{Child, Command, Stdio};

    use atsreuse_core::envelope::Sealer;
    use atsreuse_core::keyring::{KeyEntry, KeyTimes};
    use atsreuse_core::keys::NodeId;
    use atsreuse_core::stek::Stek;

    /// A redis-server and its directory, stopped and removed on drop (also when a test fails).
    pub(crate) struct Server {
        child: Child,
        pub dir: PathBuf,
    }

    impl Drop for Server {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    /// Starts redis-server with `password` and writes a config pointing at it; returns both.
    pub(crate) fn start(tag: &str) -> (Server, Config) {
        let dir = std::env::temp_dir().join(format!("atsreuse-cli-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("psk.key"), b"cli-test-psk-0123456789abcdef\n").unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let text = format!(
            "ssl_session.ClusterName=clipod\nssl_session.redis_auth_key_file=psk.key\n\
             redis.RedisEndpoints=127.0.0.1:{port}\n"
        );
        std::fs::write(dir.join("c.conf"), text).unwrap();
        let config = Config::load(dir.join("c.conf")).unwrap();
        let password = config.redis_auth_password().unwrap().unwrap();
        let child = Command::new("redis-server")
            .args([
                "--bind",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .args(["--requirepass", password.as_str()])
            .arg("--dir")
            .arg(&dir)
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server must be installed");
        let server = Server { child, dir };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        (server, config)
    }

    fn entry(epoch: u64, activate: u64) -> KeyEntry {
        let seed = u8::try_from(epoch).unwrap();
        let stek = Stek::from_parts([seed; 16], [seed ^ 0x33; 32], [seed ^ 0xcc; 32]).unwrap();
        let times = KeyTimes {
            introduce_at: activate - 1_000,
            activate_at: activate,
            expire_at: activate + 100_000,
        };
        KeyEntry { epoch, times, stek }
    }

    /// Stores a sealed keyring of epochs 1 (active) and 2 (next) the way the leader does.
    pub(crate) fn store_keyring(pod: &Pod<'_>, now: u64) -> Keyring {
        let mut ring = Keyring::new();
        ring.insert(entry(1, now - 50)).unwrap();
        ring.insert(entry(2, now + 500)).unwrap();
        let mut sealer = Sealer::new(NodeId([9; 16]));
        let mut blob = vec![0u8; keyring::SEALED_MAX_LEN];
        let n = keyring::seal(&mut sealer, &pod.keys, now, &ring, &mut blob).unwrap();
        let mut con = pod.connect(&pod.config.endpoints[0]).unwrap();
        redis::cmd("HSET")
            .arg(&pod.names.keyring_key)
            .arg("epoch")
            .arg(ring.epoch())
            .arg("blob")
            .arg(&blob[..n])
            .query::<()>(&mut con)
            .unwrap();
        ring
    }

    #[test]
    fn status_and_merged_keyring_read_what_the_leader_stored() {
        let (_server, config) = start("status");
        let pod = Pod::new(&config).unwrap();
        let now = unix_now();
        assert!(
            pod.merged_keyring(now).is_err(),
            "an empty Redis has no keyring"
        );
        let stored = store_keyring(&pod, now);
        let read = pod.merged_keyring(now).unwrap();
        assert_eq!(read.epoch(), 2);
        assert_eq!(read.entries().len(), stored.entries().len());
        assert_eq!(read.encrypting_at(now).unwrap().epoch, 1);
        status(&config).unwrap();
    }

    #[test]
    fn an_epoch_field_that_disagrees_with_the_sealed_keyring_is_reported() {
        let (_server, config) = start("epochfield");
        let pod = Pod::new(&config).unwrap();
        let ring = store_keyring(&pod, unix_now());
        let mut con = pod.connect(&config.endpoints[0]).unwrap();
        let key = pod.names.keyring_key.clone();
        let field = pod.read_epoch_field(&mut con).unwrap();
        assert_eq!(field.as_deref(), Some("2"));
        assert_eq!(
            epoch_field_warning(&key, field.as_deref(), ring.epoch()),
            None
        );
        // What a writer to Redis can do to stop rotations: the field only, blob untouched.
        for poisoned in ["1e300", "inf", "99999999999999999999"] {
            redis::cmd("HSET")
                .arg(&key)
                .arg("epoch")
                .arg(poisoned)
                .query::<()>(&mut con)
                .unwrap();
            let field = pod.read_epoch_field(&mut con).unwrap();
            let w = epoch_field_warning(&key, field.as_deref(), ring.epoch()).unwrap();
            assert!(
                w.contains(poisoned) && w.contains(&format!("HSET {key} epoch 2")),
                "{w}"
            );
        }
        redis::cmd("HDEL")
            .arg(&key)
            .arg("epoch")
            .query::<()>(&mut con)
            .unwrap();
        let field = pod.read_epoch_field(&mut con).unwrap();
        assert!(epoch_field_warning(&key, field.as_deref(), 2)
            .unwrap()
            .contains("absent"));
        status(&config).unwrap();
    }

    #[test]
    fn a_keyring_sealed_for_another_cluster_is_reported_not_used() {
        let (_server, config) = start("other");
        let pod = Pod::new(&config).unwrap();
        let mut other = config.clone();
        other.cluster_name = "otherpod".into();
        let other_pod = Pod::new(&other).unwrap();
        // Sealed with the other cluster's keys, stored under this cluster's name.
        let mut ring = Keyring::new();
        ring.insert(entry(1, unix_now())).unwrap();
        let mut sealer = Sealer::new(NodeId([1; 16]));
        let mut blob = vec![0u8; keyring::SEALED_MAX_LEN];
        let n = keyring::seal(&mut sealer, &other_pod.keys, unix_now(), &ring, &mut blob).unwrap();
        let mut con = pod.connect(&config.endpoints[0]).unwrap();
        redis::cmd("HSET")
            .arg(&pod.names.keyring_key)
            .arg("blob")
            .arg(&blob[..n])
            .query::<()>(&mut con)
            .unwrap();
        let err = pod.read_keyring(&mut con).unwrap_err();
        assert!(err.contains("does not open"), "{err}");
        assert!(pod.merged_keyring(unix_now()).is_err());
    }

    #[test]
    fn rotate_publishes_a_request_a_subscribed_node_hears() {
        let (_server, config) = start("rotate");
        let pod = Pod::new(&config).unwrap();
        let failed = rotate(&config, 0).unwrap_err();
        assert!(
            failed.message.contains("no node is subscribed"),
            "{}",
            failed.message
        );

        // A stand-in for a node: subscribed to the keyring channel.
        let mut con = pod.connect(&config.endpoints[0]).unwrap();
        let mut sub = con.as_pubsub();
        sub.subscribe(&pod.names.keyring_channel).unwrap();
        sub.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        rotate(&config, 0).unwrap();
        let msg = sub.get_message().unwrap();
        let payload = msg.get_payload_bytes();
        // `rotate:<64 hex tag>:<issued_at>`, the tag made with this pod's keys.
        assert!(payload.starts_with(b"rotate:"), "{payload:?}");
        let issued: u64 = std::str::from_utf8(&payload[7 + 64 + 1..])
            .unwrap()
            .parse()
            .unwrap();
        assert!(unix_now().abs_diff(issued) < 5);
        assert_eq!(payload, atsreuse::dist::rotation_request(&pod.keys, issued));
        assert_ne!(
            payload,
            atsreuse::dist::rotation_request(&pod.keys, issued + 1)
        );
    }

    /// A host that keeps the last key block a node installed.
    #[derive(Default)]
    struct KeptBlock(std::sync::Mutex<Vec<u8>>);

    impl atsreuse::node::Host for KeptBlock {
        fn install_keys(&self, block: &[u8]) {
            *self.0.lock().unwrap() = block.to_vec();
        }
        fn log(&self, _level: atsreuse::node::LogLevel, _line: &str) {}
    }

    #[test]
    fn rotate_status_and_export_work_against_a_running_node() {
        let (server, _) = start("node");
        let text = std::fs::read_to_string(server.dir.join("c.conf")).unwrap()
            + "atsreuse.rotation_interval_secs=60\natsreuse.lead_time_secs=10\natsreuse.ticket_lifetime_secs=60\n\
               atsreuse.lease_secs=2\natsreuse.keyring_poll_secs=5\n";
        std::fs::write(server.dir.join("c.conf"), text).unwrap();
        let config = Config::load(server.dir.join("c.conf")).unwrap();
        let host = std::sync::Arc::new(KeptBlock::default());
        let node = atsreuse::node::Node::start(config.clone(), host.clone()).unwrap();
        let pod = Pod::new(&config).unwrap();

        // The node founds the pod keyring and stores it.
        let deadline = Instant::now() + Duration::from_secs(15);
        while stored_epoch(&pod) == 0 {
            assert!(Instant::now() < deadline, "the node stored no keyring");
            std::thread::sleep(Duration::from_millis(100));
        }
        let before = stored_epoch(&pod);
        status(&config).unwrap();

        // A rotation request reaches the node, which stores a newer keyring.
        rotate(&config, 15).unwrap();
        let after = stored_epoch(&pod);
        assert!(after > before, "epoch {before} -> {after}");
        let deadline = Instant::now() + Duration::from_secs(10);
        while node.stats().keyring_epoch < after {
            assert!(
                Instant::now() < deadline,
                "the node did not install epoch {after}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }

        // The exported encrypting key is the one the node hands to ATS.
        let ring = pod.merged_keyring(unix_now()).unwrap();
        let enc = ring.encrypting_at(unix_now()).unwrap();
        let mut first = [0u8; 48];
        enc.stek
            .export(atsreuse_core::stek::Layout::Ats, &mut first)
            .unwrap();
        assert_eq!(&host.0.lock().unwrap()[..48], &first[..]);
        node.stop();
    }

    #[test]
    fn a_wrong_password_is_refused_by_redis() {
        let (_server, mut config) = start("auth");
        config.redis_password = atsreuse::config::RedisPassword::Psk;
        let pod = Pod::new(&config).unwrap();
        let err = pod.connect(&config.endpoints[0]).map(|_| ()).unwrap_err();
        assert!(
            err.to_string().to_lowercase().contains("pass")
                || err.to_string().contains("WRONGPASS"),
            "{err}"
        );
    }
}
