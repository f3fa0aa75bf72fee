//! One ATS node as a private instance (see ATS-SANDBOX.md): its own runroot, config, logs and
//! ports on 127.0.0.1, started as a bare `traffic_server` or under `traffic_manager`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant, SystemTime};

use atsreuse_tlsclient::Target;

use crate::net::free_port;
use crate::process::Guarded;
use crate::redis::tail;

/// Where ATS's own configuration is copied from.
const SYSTEM_ETC: &str = "/etc/trafficserver";
/// How long a node may take to answer after start.
const START_LIMIT: Duration = Duration::from_secs(30);
/// The path `stats_over_http.so` answers on (its default).
const STATS_PATH: &str = "/_stats";

/// How a node's processes are started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Launch {
    /// `traffic_server` alone: starts in about 0.1 s; no `traffic_ctl`.
    Bare,
    /// `traffic_manager`, which starts `traffic_server`: needed on 9.2 for
    /// `traffic_ctl config reload` and `traffic_ctl plugin msg`.
    Managed,
}

/// What a node is made of.
#[derive(Debug, Clone)]
pub struct NodeSpec {
    /// Name, used for its directory and in messages.
    pub name: String,
    /// The plugin line of `plugin.config` (`<plugin .so> <config path>`); `None` for a
    /// control node without the plugin.
    pub plugin_line: Option<String>,
    /// The `ssl_multicert.config` content, one or more lines (default `dest_ip=* ...`).
    pub multicert_line: String,
    /// Bare or under `traffic_manager`.
    pub launch: Launch,
    /// More `records.config` lines, appended last (so they win).
    pub extra_records: Vec<String>,
}

impl NodeSpec {
    /// A bare node with the default certificate line and no plugin.
    pub fn control(name: &str) -> NodeSpec {
        NodeSpec {
            name: name.to_string(),
            plugin_line: None,
            multicert_line: "dest_ip=* ssl_cert_name=server.pem ssl_key_name=server.key".into(),
            launch: Launch::Bare,
            extra_records: Vec::new(),
        }
    }
}

/// A running ATS node, killed on drop.
#[derive(Debug)]
pub struct AtsNode {
    name: String,
    dir: PathBuf,
    tls_port: u16,
    http_port: u16,
    launch: Launch,
    has_plugin: bool,
    proc: Guarded,
}

impl AtsNode {
    /// Lays out the node under `dir` (created), copies `server.pem` and `server.key` from
    /// `cert_dir`, starts it, and returns once it answers on its HTTP port. A node that exits,
    /// cannot bind its ports or does not answer within 30 s is an error quoting its log.
    pub fn start(dir: &Path, cert_dir: &Path, spec: &NodeSpec) -> io::Result<AtsNode> {
        let mut node = AtsNode::launch(dir, cert_dir, spec)?;
        node.wait_ready()?;
        Ok(node)
    }

    /// Like [`AtsNode::start`] but returns at once; call [`AtsNode::wait_ready`] before use.
    /// Several nodes launched first and then waited on start in parallel.
    pub fn launch(dir: &Path, cert_dir: &Path, spec: &NodeSpec) -> io::Result<AtsNode> {
        let tls_port = free_port()?;
        let http_port = free_port()?;
        layout(dir, cert_dir, spec, tls_port, http_port)?;
        let runroot = dir.join("runroot.yaml");
        let (program, name) = match spec.launch {
            Launch::Bare => ("traffic_server", "traffic_server"),
            Launch::Managed => ("traffic_manager", "traffic_manager"),
        };
        let out = fs::File::create(dir.join("stdout.log"))?;
        let mut cmd = Command::new(program);
        cmd.arg(format!("--run-root={}", runroot.display()))
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out);
        let proc = Guarded::spawn(name, &mut cmd)?;
        Ok(AtsNode {
            name: spec.name.clone(),
            dir: dir.to_path_buf(),
            tls_port,
            http_port,
            launch: spec.launch,
            has_plugin: spec.plugin_line.is_some(),
            proc,
        })
    }

    /// Returns once the node answers; an error quoting its log when it exited, could not
    /// bind its ports, or did not answer within 30 s.
    pub fn wait_ready(&mut self) -> io::Result<()> {
        let deadline = Instant::now() + START_LIMIT;
        loop {
            let exited = self.proc.exited();
            // traffic_server logs "unable to listen" and runs on; traffic_manager, which binds
            // the ports for it, prints "Unable to bind socket" and exits.
            let out = fs::read_to_string(self.dir.join("stdout.log")).unwrap_or_default();
            if self.diags().contains("unable to listen") || out.contains("Unable to bind socket") {
                return Err(self.failure("could not bind its ports"));
            }
            if let Some(status) = exited {
                return Err(self.failure(&format!("exited with {status}")));
            }
            // The stats page proves that this node (not another program on a reused port)
            // answers; ATS opens its HTTP and TLS ports together, after loading certificates
            // and plugins. The TLS port is only checked to accept, so that readiness makes no
            // TLS session that would show in the node's counters.
            let ready = self.stats().is_ok()
                && TcpStream::connect((Ipv4Addr::LOCALHOST, self.tls_port)).is_ok();
            if ready {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(self.failure("did not answer within 30 s"));
            }
            sleep(Duration::from_millis(50));
        }
    }

    fn failure(&self, what: &str) -> io::Error {
        let out = fs::read_to_string(self.dir.join("stdout.log")).unwrap_or_default();
        io::Error::other(format!(
            "ATS node {} ({}) {what}; diags.log: {} ; stdout: {}",
            self.name,
            self.dir.display(),
            tail(&self.diags(), 8),
            tail(&out, 4)
        ))
    }

    /// The node's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether `plugin.config` loads atsreuse.
    pub fn has_plugin(&self) -> bool {
        self.has_plugin
    }

    /// The node's directory (runroot).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The node's config directory.
    pub fn etc(&self) -> PathBuf {
        self.dir.join("etc")
    }

    /// The TLS port on 127.0.0.1.
    pub fn tls_port(&self) -> u16 {
        self.tls_port
    }

    /// The plain HTTP port on 127.0.0.1 (stats).
    pub fn http_port(&self) -> u16 {
        self.http_port
    }

    /// The TLS port as a client target.
    pub fn target(&self) -> Target {
        Target::localhost(self.tls_port)
    }

    /// The whole `diags.log` (notes, errors and `atsreuse` debug lines).
    pub fn diags(&self) -> String {
        fs::read_to_string(self.dir.join("log/diags.log")).unwrap_or_default()
    }

    /// Whether the node's process is still running.
    pub fn is_running(&mut self) -> bool {
        self.proc.exited().is_none()
    }

    /// Every statistic of the node, from `stats_over_http` (values as ATS prints them).
    /// ATS folds per-thread counters into these values about once a second, so a caller that
    /// just made handshakes polls (see [`AtsNode::wait_stat`]).
    pub fn stats(&self) -> io::Result<BTreeMap<String, String>> {
        self.read_stats().map_err(|e| match self.crash_report() {
            Some(crash) => io::Error::other(format!("node {}: {crash} ({e})", self.name)),
            None => e,
        })
    }

    /// What the logs say when `traffic_server` crashed (under `traffic_manager` the node's
    /// process lives on and restarts it, so only the logs tell).
    pub fn crash_report(&self) -> Option<String> {
        let out = fs::read_to_string(self.dir.join("stdout.log")).unwrap_or_default();
        let manager = fs::read_to_string(self.dir.join("log/manager.log")).unwrap_or_default();
        let signal = out.lines().find(|l| l.contains("received signal"));
        let reset = manager
            .lines()
            .find(|l| l.contains("Server Process terminated"));
        let frames: Vec<&str> = out
            .lines()
            .skip_while(|l| !l.contains("STACK TRACE"))
            .skip(1)
            .take(3)
            .collect();
        match (signal, reset) {
            (None, None) => None,
            (a, b) => Some(format!(
                "traffic_server crashed: {} {} {}",
                a.unwrap_or_default(),
                b.unwrap_or_default(),
                frames.join(" ")
            )),
        }
    }

    fn read_stats(&self) -> io::Result<BTreeMap<String, String>> {
        let mut s = TcpStream::connect((Ipv4Addr::LOCALHOST, self.http_port))?;
        s.set_read_timeout(Some(Duration::from_secs(3)))?;
        // HTTP/1.0 so that the answer is not chunked and ends with the connection.
        s.write_all(format!("GET {STATS_PATH} HTTP/1.0\r\nHost: localhost\r\n\r\n").as_bytes())?;
        let mut raw = Vec::new();
        s.read_to_end(&mut raw)?;
        let text = String::from_utf8_lossy(&raw);
        let (head, body) = text
            .split_once("\r\n\r\n")
            .ok_or_else(|| io::Error::other("stats: no HTTP header end"))?;
        if !head.starts_with("HTTP/1.0 200") && !head.starts_with("HTTP/1.1 200") {
            let first = head.lines().next().unwrap_or_default();
            return Err(io::Error::other(format!("stats: {first}")));
        }
        let json: serde_json::Value = serde_json::from_str(body)
            .map_err(|e| io::Error::other(format!("stats: bad JSON: {e}")))?;
        let global = json
            .get("global")
            .and_then(|g| g.as_object())
            .ok_or_else(|| io::Error::other("stats: no \"global\" object"))?;
        let mut out = BTreeMap::new();
        for (k, v) in global {
            let v = v.as_str().map_or_else(|| v.to_string(), str::to_string);
            out.insert(k.clone(), v);
        }
        if !out.keys().any(|k| k.starts_with("proxy.process.")) {
            return Err(io::Error::other("stats: not an ATS stats page"));
        }
        Ok(out)
    }

    /// One statistic as a number; `None` when the node has no such statistic.
    pub fn stat(&self, name: &str) -> io::Result<Option<u64>> {
        Ok(self.stats()?.get(name).and_then(|v| v.parse().ok()))
    }

    /// Polls `name` until `ok` holds for its value (up to `limit`); returns the last value.
    pub fn wait_stat(
        &self,
        name: &str,
        limit: Duration,
        ok: impl Fn(u64) -> bool,
    ) -> io::Result<u64> {
        let deadline = Instant::now() + limit;
        loop {
            let v = self.stat(name)?;
            match v {
                Some(v) if ok(v) => return Ok(v),
                _ if Instant::now() >= deadline => {
                    return Err(io::Error::other(format!(
                        "node {}: stat {name} is {v:?} after {limit:?}",
                        self.name
                    )))
                }
                _ => sleep(Duration::from_millis(100)),
            }
        }
    }

    /// Runs `traffic_ctl <args>` against this node (only under `traffic_manager` on 9.2).
    pub fn traffic_ctl(&self, args: &[&str]) -> io::Result<String> {
        if self.launch != Launch::Managed {
            return Err(io::Error::other(format!(
                "node {}: traffic_ctl needs traffic_manager on ATS 9.2; start it with Launch::Managed",
                self.name
            )));
        }
        let out = Command::new("traffic_ctl")
            .arg(format!(
                "--run-root={}",
                self.dir.join("runroot.yaml").display()
            ))
            .args(args)
            .stdin(Stdio::null())
            .output()?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if !out.status.success() {
            return Err(io::Error::other(format!(
                "traffic_ctl {}: {}",
                args.join(" "),
                text.trim()
            )));
        }
        Ok(text)
    }

    /// Reloads the node's configuration the way an operator does on 9.2: marks
    /// `ssl_multicert.config` changed (ATS reloads only files whose time changed) and runs
    /// `traffic_ctl config reload`; returns once `diags.log` shows the certificates reloaded.
    pub fn reload_config(&self) -> io::Result<()> {
        let marker = "ssl_multicert.config finished loading";
        let before = self.diags().matches(marker).count();
        let f = fs::File::options()
            .append(true)
            .open(self.etc().join("ssl_multicert.config"))?;
        f.set_modified(SystemTime::now() + Duration::from_secs(2))?;
        self.traffic_ctl(&["config", "reload"])?;
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.diags().matches(marker).count() <= before {
            if Instant::now() >= deadline {
                return Err(io::Error::other(format!(
                    "node {}: no certificate reload seen in diags.log",
                    self.name
                )));
            }
            sleep(Duration::from_millis(100));
        }
        Ok(())
    }

    /// Stops the node: SIGKILL to its process group, or SIGTERM first with `grace`.
    pub fn stop(&mut self, grace: Duration) {
        self.proc.stop(grace);
    }
}

/// Writes the private instance: directories, runroot.yaml, records, certificate, plugins.
fn layout(
    dir: &Path,
    cert_dir: &Path,
    spec: &NodeSpec,
    tls_port: u16,
    http_port: u16,
) -> io::Result<()> {
    let etc = dir.join("etc");
    for sub in ["etc", "log", "run", "cache", "var"] {
        fs::create_dir_all(dir.join(sub))?;
    }
    copy_dir(Path::new(SYSTEM_ETC), &etc)?;
    fs::write(dir.join("runroot.yaml"), runroot_yaml(dir))?;

    let mut records = fs::read_to_string(etc.join("records.config")).unwrap_or_default();
    let d = dir.display();
    let lines = [
        "CONFIG proxy.config.admin.user_id STRING #-1".to_string(),
        format!(
            "CONFIG proxy.config.http.server_ports STRING \
             {tls_port}:ssl:ip-in=127.0.0.1 {http_port}:ip-in=127.0.0.1"
        ),
        format!("CONFIG proxy.config.ssl.server.cert.path STRING {d}/etc"),
        format!("CONFIG proxy.config.ssl.server.private_key.path STRING {d}/etc"),
        "CONFIG proxy.config.ssl.session_cache INT 2".into(),
        "CONFIG proxy.config.crash_log_helper STRING /bin/true".into(),
        "CONFIG proxy.config.exec_thread.autoconfig INT 0".into(),
        "CONFIG proxy.config.exec_thread.limit INT 2".into(),
        "CONFIG proxy.config.diags.debug.enabled INT 1".into(),
        "CONFIG proxy.config.diags.debug.tags STRING atsreuse".into(),
        "CONFIG proxy.config.diags.output.debug STRING L".into(),
    ];
    records.push('\n');
    for l in lines.iter().chain(&spec.extra_records) {
        let _ = writeln!(records, "{l}");
    }
    fs::write(etc.join("records.config"), records)?;

    // Every certificate and key of the pod (server.*, and any other a test made).
    for entry in fs::read_dir(cert_dir)? {
        let path = entry?.path();
        let ext = path.extension().and_then(|e| e.to_str());
        if matches!(ext, Some("pem" | "key")) && path.is_file() {
            if let Some(name) = path.file_name() {
                fs::copy(&path, etc.join(name))?;
            }
        }
    }
    fs::write(
        etc.join("ssl_multicert.config"),
        format!("{}\n", spec.multicert_line),
    )?;
    fs::write(etc.join("storage.config"), "")?;
    let mut plugins = String::from("stats_over_http.so\n");
    if let Some(line) = &spec.plugin_line {
        let _ = writeln!(plugins, "{line}");
    }
    fs::write(etc.join("plugin.config"), plugins)
}

fn runroot_yaml(dir: &Path) -> String {
    let d = dir.display();
    format!(
        "prefix: {d}\nexec_prefix: /usr\nbindir: /usr/bin\nsbindir: /usr/sbin\n\
         includedir: /usr/include\nlibdir: /usr/lib/trafficserver\n\
         libexecdir: /usr/lib/trafficserver/modules\nsysconfdir: {d}/etc\n\
         datadir: {d}/var\nlocalstatedir: {d}/var\nruntimedir: {d}/run\n\
         logdir: {d}/log\ncachedir: {d}/cache\n"
    )
}

fn copy_dir(from: &Path, to: &Path) -> io::Result<()> {
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let dest = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            fs::create_dir_all(&dest)?;
            copy_dir(&entry.path(), &dest)?;
        } else {
            fs::copy(entry.path(), dest)?;
        }
    }
    Ok(())
}
