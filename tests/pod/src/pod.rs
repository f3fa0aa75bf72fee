//! A pod: one redis-server and N ATS nodes with the atsreuse plugin, plus optional control
//! nodes without it, all on 127.0.0.1 in one temporary directory.

use std::fmt::Write as _;
use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::sleep;
use std::time::{Duration, Instant};

use crate::ats::{AtsNode, Launch, NodeSpec};
use crate::cert::{write_named, write_self_signed};
use crate::process::{register_dir, unregister_dir};
use crate::redis::RedisServer;

/// The plugin config file format a pod's nodes get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigStyle {
    /// The old plugin's keys plus `atsreuse.*` keys: a random Redis password from a file.
    Current,
    /// Only the old plugin's keys (LEGACY-PROTOCOL.md), exactly as an old node's file: the
    /// Redis password is then the library's default, derived from the PSK, and the harness
    /// asks the operator command for it.
    Legacy,
}

/// How a pod is built.
#[derive(Debug, Clone)]
pub struct PodOptions {
    /// Nodes with the plugin.
    pub nodes: usize,
    /// Control nodes (no plugin), started after the plugin nodes.
    pub control_nodes: usize,
    /// The plugin `.so`; required when `nodes > 0`.
    pub plugin: Option<PathBuf>,
    /// Bare `traffic_server` or under `traffic_manager`.
    pub launch: Launch,
    /// Config file format.
    pub style: ConfigStyle,
    /// More `key=value` lines for every node's plugin config.
    pub extra_config: Vec<String>,
    /// The `ssl_multicert.config` content of every node (one or more lines).
    pub multicert_line: String,
    /// How long after a rotation the new key starts encrypting (`Current` style only; the
    /// legacy style keeps the library's default).
    pub lead_time_secs: u64,
}

impl Default for PodOptions {
    fn default() -> Self {
        PodOptions {
            nodes: 3,
            control_nodes: 0,
            plugin: None,
            launch: default_launch(),
            style: ConfigStyle::Current,
            extra_config: Vec::new(),
            multicert_line: NodeSpec::control("x").multicert_line,
            lead_time_secs: 6,
        }
    }
}

/// `traffic_manager` (what `traffic_ctl` needs on 9.2), or bare `traffic_server` when
/// `ATSREUSE_POD_LAUNCH=bare` (to tell a manager-only problem from a plugin one; rotation
/// then goes through the operator command).
fn default_launch() -> Launch {
    match std::env::var("ATSREUSE_POD_LAUNCH").as_deref() {
        Ok("bare") => Launch::Bare,
        _ => Launch::Managed,
    }
}

/// How a rotation was sent to the pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RotateVia {
    /// `atsreuse rotate --config F` (the operator command, straight to Redis).
    OperatorCommand,
    /// `traffic_ctl plugin msg atsreuse rotate` on a node under `traffic_manager`.
    TrafficCtl(String),
}

/// A running pod; everything is stopped and the directory removed on drop (kept when
/// `ATSREUSE_KEEP_POD=1`, for reading the logs of a failed run).
///
/// Processes are started with a parent-death signal tied to the thread that creates the pod:
/// keep a pod on the thread that made it.
pub struct Pod {
    dir: PathBuf,
    redis: RedisServer,
    nodes: Vec<AtsNode>,
    controls: Vec<AtsNode>,
    opts: PodOptions,
    cluster: String,
    psk_file: PathBuf,
    password_file: PathBuf,
    redis_password: String,
}

static POD_SEQ: AtomicUsize = AtomicUsize::new(0);

impl Pod {
    /// Starts Redis, then the plugin nodes, then the control nodes.
    pub fn start(opts: PodOptions) -> io::Result<Pod> {
        if opts.nodes > 0 && opts.plugin.is_none() {
            return Err(io::Error::other(
                "a pod with plugin nodes needs the plugin path",
            ));
        }
        let seq = POD_SEQ.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("atsreuse-pod-{}-{seq}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir)?;
        register_dir(&dir);
        // A pod that fails before it exists has no Drop to clean up after it.
        Pod::start_in(dir.clone(), seq, opts).inspect_err(|_| {
            let _ = fs::remove_dir_all(&dir);
            unregister_dir(&dir);
        })
    }

    fn start_in(dir: PathBuf, seq: usize, opts: PodOptions) -> io::Result<Pod> {
        write_self_signed(&dir)?;
        // A second certificate, for tests that tell certificate lines apart.
        write_named(&dir, "other", "other.invalid")?;

        let cluster = format!("pod{}x{seq}", std::process::id());
        let psk_file = dir.join("psk");
        write_secret(&psk_file, &format!("{}\n", random_hex(32)?))?;
        let password_file = dir.join("redis-password");

        // Redis needs the password before any node runs: a random one, or (old config format)
        // the one the library derives from the PSK, asked from the operator command with a
        // sample config.
        let redis_password = match opts.style {
            ConfigStyle::Current => {
                let pw = random_hex(24)?;
                write_secret(&password_file, &pw)?;
                pw
            }
            ConfigStyle::Legacy => {
                let sample = dir.join("sample.config");
                fs::write(&sample, legacy_config(&cluster, 6379, &psk_file, true))?;
                derived_password(&sample)?
            }
        };
        let redis = RedisServer::start(&dir.join("redis"), Some(&redis_password))?;
        let mut pod = Pod {
            dir,
            redis,
            nodes: Vec::new(),
            controls: Vec::new(),
            opts: opts.clone(),
            cluster,
            psk_file,
            password_file,
            redis_password,
        };
        // Every node is launched first and then waited on, so they start in parallel; all
        // are launched from this thread, which their parent-death signal is tied to.
        for _ in 0..opts.nodes {
            pod.launch_node()?;
        }
        for _ in 0..opts.control_nodes {
            pod.launch_control_node()?;
        }
        for n in pod.nodes.iter_mut().chain(pod.controls.iter_mut()) {
            n.wait_ready()?;
        }
        Ok(pod)
    }

    /// Starts one more node with the plugin (it joins the running pod); returns its index
    /// once the node answers.
    pub fn add_node(&mut self) -> io::Result<usize> {
        let i = self.launch_node()?;
        self.nodes[i].wait_ready()?;
        Ok(i)
    }

    /// Starts one more control node (no plugin); returns its index among control nodes
    /// once the node answers.
    pub fn add_control_node(&mut self) -> io::Result<usize> {
        let i = self.launch_control_node()?;
        self.controls[i].wait_ready()?;
        Ok(i)
    }

    fn launch_node(&mut self) -> io::Result<usize> {
        let i = self.nodes.len();
        let name = format!("node{}", i + 1);
        let dir = self.dir.join(&name);
        fs::create_dir_all(dir.join("etc"))?;
        let config = dir.join("etc/atsreuse.config");
        fs::write(&config, self.plugin_config(&name, i == 0))?;
        let plugin = self
            .opts
            .plugin
            .clone()
            .ok_or_else(|| io::Error::other("no plugin path"))?;
        let mut spec = NodeSpec::control(&name);
        spec.plugin_line = Some(format!("{} {}", plugin.display(), config.display()));
        spec.launch = self.opts.launch;
        spec.multicert_line = self.opts.multicert_line.clone();
        self.nodes.push(AtsNode::launch(&dir, &self.dir, &spec)?);
        Ok(i)
    }

    fn launch_control_node(&mut self) -> io::Result<usize> {
        let i = self.controls.len();
        let name = format!("control{}", i + 1);
        let mut spec = NodeSpec::control(&name);
        spec.launch = self.opts.launch;
        spec.multicert_line = self.opts.multicert_line.clone();
        self.controls
            .push(AtsNode::launch(&self.dir.join(&name), &self.dir, &spec)?);
        Ok(i)
    }

    /// The plugin config of one node.
    fn plugin_config(&self, name: &str, first: bool) -> String {
        let mut c = match self.opts.style {
            ConfigStyle::Legacy => {
                legacy_config(&self.cluster, self.redis.port(), &self.psk_file, first)
            }
            ConfigStyle::Current => {
                let mut c = String::new();
                let _ = writeln!(c, "# atsreuse config of {name}, written by the pod harness");
                let _ = writeln!(c, "ssl_session.ClusterName={}", self.cluster);
                let _ = writeln!(c, "redis.RedisEndpoints=127.0.0.1:{}", self.redis.port());
                let _ = writeln!(
                    c,
                    "ssl_session.redis_auth_key_file={}",
                    self.psk_file.display()
                );
                let _ = writeln!(c, "atsreuse.redis_password_mode=file");
                let _ = writeln!(
                    c,
                    "atsreuse.redis_password_file={}",
                    self.password_file.display()
                );
                let _ = writeln!(c, "atsreuse.node_name={name}");
                // Ten minutes per key, so that no scheduled rotation lands in a run; a short
                // lead time, so that a forced rotation switches the encrypting key within
                // seconds; a keyring poll shorter than the lead time, as the library requires.
                let _ = writeln!(c, "atsreuse.rotation_interval_secs=600");
                let _ = writeln!(c, "atsreuse.lead_time_secs={}", self.opts.lead_time_secs);
                let _ = writeln!(c, "atsreuse.ticket_lifetime_secs=1200");
                let _ = writeln!(c, "atsreuse.keyring_poll_secs=1");
                // The library wants a lease shorter than the lead time.
                let lease = (self.opts.lead_time_secs / 2).max(2);
                let _ = writeln!(c, "atsreuse.lease_secs={lease}");
                c
            }
        };
        for line in &self.opts.extra_config {
            let _ = writeln!(c, "{line}");
        }
        c
    }

    /// The nodes with the plugin.
    pub fn nodes(&self) -> &[AtsNode] {
        &self.nodes
    }

    /// One node with the plugin, mutable (to stop or restart it).
    pub fn node_mut(&mut self, i: usize) -> &mut AtsNode {
        &mut self.nodes[i]
    }

    /// The control nodes.
    pub fn controls(&self) -> &[AtsNode] {
        &self.controls
    }

    /// The Redis server.
    pub fn redis(&self) -> &RedisServer {
        &self.redis
    }

    /// The Redis password the nodes use.
    pub fn redis_password(&self) -> &str {
        &self.redis_password
    }

    /// The cluster name.
    pub fn cluster(&self) -> &str {
        &self.cluster
    }

    /// The pod's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The certificate every node serves by default (`CN=localhost`); also its own CA (for
    /// `--ca-file`). `other.pem` / `other.key` (`CN=other.invalid`) sit beside it for tests
    /// with several certificate lines.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.join("server.pem")
    }

    /// The plugin config of node `i`.
    pub fn node_config(&self, i: usize) -> PathBuf {
        self.nodes[i].etc().join("atsreuse.config")
    }

    /// Asks the pod to rotate now: through `traffic_ctl plugin msg` when the nodes run under
    /// `traffic_manager`, else with the operator command `atsreuse rotate`.
    pub fn rotate(&self) -> io::Result<RotateVia> {
        if self.opts.launch == Launch::Managed {
            let node = self
                .nodes
                .first()
                .ok_or_else(|| io::Error::other("no node"))?;
            node.traffic_ctl(&["plugin", "msg", "atsreuse", "rotate"])?;
            return Ok(RotateVia::TrafficCtl(node.name().to_string()));
        }
        let config = self.node_config(0);
        run_operator(&["rotate", "--config", &config.to_string_lossy()])?;
        Ok(RotateVia::OperatorCommand)
    }

    /// Rotates and waits until every node holds the new keyring and encrypts with its new
    /// key (the lead time after the rotation). Returns how the rotation was sent and the new
    /// epoch.
    pub fn rotate_and_activate(&self, limit: Duration) -> io::Result<(RotateVia, u64)> {
        let before = self.wait_keyring_converged(1, limit)?;
        let sent = Instant::now();
        let via = self.rotate()?;
        let epoch = self.wait_keyring_converged(before + 1, limit)?;
        self.wait_key_activated(sent, limit)?;
        Ok((via, epoch))
    }

    /// Waits until every node's encrypting key activated after `since`: its age (the
    /// plugin's `keyring_age_secs`) is below the whole seconds elapsed since then, which no key
    /// active before `since` can show.
    pub fn wait_key_activated(&self, since: Instant, limit: Duration) -> io::Result<()> {
        let deadline = Instant::now() + limit;
        loop {
            let elapsed = since.elapsed().as_secs();
            let ages = self.plugin_stat("keyring_age_secs")?;
            if ages.iter().all(|a| matches!(a, Some(a) if *a < elapsed)) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(io::Error::other(format!(
                    "no new encrypting key within {limit:?}: key ages {ages:?}, {elapsed} s after"
                )));
            }
            sleep(Duration::from_millis(200));
        }
    }

    /// A line per node whose `traffic_server` crashed since it started (empty when none did).
    pub fn crashes(&self) -> Vec<String> {
        self.nodes
            .iter()
            .chain(&self.controls)
            .filter_map(|n| n.crash_report().map(|c| format!("{}: {c}", n.name())))
            .collect()
    }

    /// The value of the plugin statistic whose name ends with `suffix` on every plugin node.
    pub fn plugin_stat(&self, suffix: &str) -> io::Result<Vec<Option<u64>>> {
        self.nodes.iter().map(|n| plugin_stat(n, suffix)).collect()
    }

    /// Waits until every plugin node holds the same keyring epoch, at least `min_epoch`;
    /// returns it. Read from the plugin's `*keyring_epoch` statistic.
    pub fn wait_keyring_converged(&self, min_epoch: u64, limit: Duration) -> io::Result<u64> {
        let deadline = Instant::now() + limit;
        loop {
            let epochs = self.plugin_stat("keyring_epoch")?;
            if let Some(Some(first)) = epochs.first() {
                if *first >= min_epoch && epochs.iter().all(|e| *e == Some(*first)) {
                    return Ok(*first);
                }
            }
            // A plugin that refused its config never gets a keyring: say why at once.
            for n in &self.nodes {
                let diags = n.diags();
                if diags.contains("[atsreuse] cannot start") {
                    let errors: Vec<&str> = diags
                        .lines()
                        .filter(|l| l.contains("ERROR: [atsreuse]"))
                        .collect();
                    let why = errors.join(" | ");
                    return Err(io::Error::other(format!("{}: {why}", n.name())));
                }
            }
            if Instant::now() >= deadline {
                return Err(io::Error::other(format!(
                    "keyring epochs did not converge to >= {min_epoch} within {limit:?}: {epochs:?}"
                )));
            }
            sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Pod {
    fn drop(&mut self) {
        for n in self.nodes.iter_mut().chain(self.controls.iter_mut()) {
            n.stop(Duration::ZERO);
        }
        self.redis.stop();
        if std::env::var("ATSREUSE_KEEP_POD").as_deref() == Ok("1") {
            eprintln!("atsreuse-pod: kept {}", self.dir.display());
        } else {
            let _ = fs::remove_dir_all(&self.dir);
        }
        unregister_dir(&self.dir);
    }
}

/// The plugin statistic of `node` named `plugin.atsreuse.<suffix>` (or, should the plugin
/// rename its prefix, any statistic containing `atsreuse` and ending in `suffix`).
pub fn plugin_stat(node: &AtsNode, suffix: &str) -> io::Result<Option<u64>> {
    let stats = node.stats()?;
    let value = stats.get(&format!("plugin.atsreuse.{suffix}")).or_else(|| {
        stats
            .iter()
            .find(|(k, _)| k.contains("atsreuse") && k.ends_with(suffix))
            .map(|(_, v)| v)
    });
    Ok(value.and_then(|v| v.parse().ok()))
}

/// An old plugin's config file: only keys from LEGACY-PROTOCOL.md, as an old node had them.
pub fn legacy_config(cluster: &str, redis_port: u16, psk: &Path, master: bool) -> String {
    format!(
        "# ssl_session_reuse config (old plugin format)\n\
         redis.RedisEndpoints=127.0.0.1:{redis_port}\n\
         redis.RedisConnectTimeout=1000\n\
         redis.RedisRetryDelay=5000000\n\
         pubconfig.PubNumWorkers=100\n\
         pubconfig.PubRedisPublishTries=5\n\
         pubconfig.PubRedisConnectTries=5\n\
         pubconfig.PubMaxQueuedMessages=1000\n\
         pubconfig.PubColoChannelId=1\n\
         subconfig.SubColoChannel={cluster}.*\n\
         ssl_session.ClusterName={cluster}\n\
         ssl_session.KeyUpdateInterval=25200\n\
         ssl_session.STEKMaster={}\n\
         ssl_session.redis_auth_key_file={}\n",
        u8::from(master),
        psk.display()
    )
}

/// The workspace root (two levels above this crate).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The plugin `.so`: `$ATSREUSE_PLUGIN`, else `build/c-plugin/atsreuse.so` in the workspace.
/// `None` when neither exists.
pub fn plugin_path() -> Option<PathBuf> {
    let p = std::env::var_os("ATSREUSE_PLUGIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("build/c-plugin/atsreuse.so"));
    let p = fs::canonicalize(p).ok()?;
    p.is_file().then_some(p)
}

/// The operator command: `$ATSREUSE_BIN`, else `target/release/atsreuse` in the workspace.
pub fn operator_command() -> PathBuf {
    std::env::var_os("ATSREUSE_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target/release/atsreuse"))
}

/// Runs the operator command with `args`; its standard output on success.
pub fn run_operator(args: &[&str]) -> io::Result<String> {
    let bin = operator_command();
    let out = Command::new(&bin)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", bin.display())))?;
    if !out.status.success() {
        return Err(io::Error::other(format!(
            "{} {}: {}{}",
            bin.display(),
            args.join(" "),
            String::from_utf8_lossy(&out.stdout).trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The Redis password the library derives from the PSK of `config`.
fn derived_password(config: &Path) -> io::Result<String> {
    let out = run_operator(&["redis-password", "--config", &config.to_string_lossy()])?;
    let pw = out.trim().to_string();
    if pw.is_empty() {
        return Err(io::Error::other("atsreuse redis-password printed nothing"));
    }
    Ok(pw)
}

/// Writes a secret file readable by its owner only (the library warns about others).
fn write_secret(path: &Path, text: &str) -> io::Result<()> {
    fs::write(path, text)?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o600))
}

/// `n` random bytes as hex.
fn random_hex(n: usize) -> io::Result<String> {
    let mut buf = vec![0u8; n];
    openssl::rand::rand_bytes(&mut buf).map_err(|e| io::Error::other(e.to_string()))?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}
