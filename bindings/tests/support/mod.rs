//! Shared helpers of the Redis tests: real `redis-server` processes on free loopback ports,
//! a host that records what the node hands it, configs with short timings.
//!
//! Every process is started in its own temp dir and killed when its handle drops, also when
//! a test fails.

// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]
// Helpers of tests and benches: a failed setup step must stop the test with its panic message,
// exactly as `unwrap` in a #[test] function does (which clippy.toml allows).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use atsreuse::config::Config;
use atsreuse::node::{Host, LogLevel, Node};
use atsreuse_core::keys::{redis_password, Psk};

/// A temp dir removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let unique = format!("atsreuse-{tag}-{}-{}", std::process::id(), rand_suffix());
        let path = std::env::temp_dir().join(unique);
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn rand_suffix() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(Instant::now())
}

/// A port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// One `redis-server`, killed on drop.
pub struct RedisServer {
    pub port: u16,
    pub password: String,
    dir: TempDir,
    child: Option<Child>,
    /// For a TLS-only server: the CA (PEM) its certificate chains to.
    tls: Option<TestCa>,
}

/// A CA and a server certificate for 127.0.0.1, made with the `openssl` command.
#[derive(Clone)]
pub struct TestCa {
    pub ca_file: PathBuf,
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
}

impl TestCa {
    /// Writes `ca.pem`, `server.pem` and `server.key` (P-256) into `dir`.
    pub fn create(dir: &Path) -> TestCa {
        let run = |args: &[&str]| {
            let status = Command::new("openssl")
                .args(args)
                .current_dir(dir)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .expect("openssl must be installed");
            assert!(status.success(), "openssl {args:?}");
        };
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        let ca_subject = ["-subj", "/CN=atsreuse test CA", "-days", "2"];
        run(&[
            &["req", "-x509"][..],
            &ec,
            &["-keyout", "ca.key", "-out", "ca.pem"],
            &ca_subject,
        ]
        .concat());
        run(&[
            &["req"][..],
            &ec,
            &[
                "-keyout",
                "server.key",
                "-out",
                "server.csr",
                "-subj",
                "/CN=127.0.0.1",
            ],
        ]
        .concat());
        std::fs::write(
            dir.join("ext.cnf"),
            "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        run(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
        ]);
        TestCa {
            ca_file: dir.join("ca.pem"),
            cert_file: dir.join("server.pem"),
            key_file: dir.join("server.key"),
        }
    }
}

impl RedisServer {
    /// Starts a server with `requirepass password` on a free port; waits until it answers.
    pub fn start(password: &str) -> RedisServer {
        RedisServer::start_with(password, None)
    }

    /// Starts a server that speaks TLS only, with a certificate from `ca`.
    pub fn start_tls(password: &str, ca: &TestCa) -> RedisServer {
        RedisServer::start_with(password, Some(ca.clone()))
    }

    fn start_with(password: &str, tls: Option<TestCa>) -> RedisServer {
        let dir = TempDir::new("redis");
        let mut server = RedisServer {
            port: 0,
            password: password.to_owned(),
            dir,
            child: None,
            tls,
        };
        for _ in 0..5 {
            server.port = free_port();
            if server.spawn() {
                return server;
            }
        }
        panic!("redis-server did not start");
    }

    fn spawn(&mut self) -> bool {
        let port = self.port.to_string();
        let mut command = Command::new("redis-server");
        match &self.tls {
            None => command.args(["--port", &port]),
            Some(ca) => command
                .args([
                    "--port",
                    "0",
                    "--tls-port",
                    &port,
                    "--tls-auth-clients",
                    "no",
                ])
                .arg("--tls-cert-file")
                .arg(&ca.cert_file)
                .arg("--tls-key-file")
                .arg(&ca.key_file)
                .arg("--tls-ca-cert-file")
                .arg(&ca.ca_file),
        };
        let child = command
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(["--requirepass", &self.password, "--dir"])
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be installed");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if self.client().is_ok() {
                return true;
            }
            if let Some(Ok(Some(_))) = self.child.as_mut().map(|c| c.try_wait()) {
                self.child = None;
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.kill();
        false
    }

    /// A direct connection for the test itself.
    pub fn client(&self) -> redis::RedisResult<redis::Connection> {
        let host = "127.0.0.1".to_owned();
        let addr = match &self.tls {
            None => redis::ConnectionAddr::Tcp(host, self.port),
            Some(_) => redis::ConnectionAddr::TcpTls {
                host,
                port: self.port,
                insecure: false,
                tls_params: None,
            },
        };
        let info = redis::ConnectionInfo {
            addr,
            redis: redis::RedisConnectionInfo {
                password: Some(self.password.clone()),
                ..Default::default()
            },
        };
        let client = match &self.tls {
            None => redis::Client::open(info)?,
            Some(ca) => {
                let root_cert = Some(std::fs::read(&ca.ca_file)?);
                redis::Client::build_with_tls(
                    info,
                    redis::TlsCertificates {
                        client_tls: None,
                        root_cert,
                    },
                )?
            }
        };
        let con = client.get_connection_with_timeout(Duration::from_secs(1))?;
        con.set_read_timeout(Some(Duration::from_secs(2)))?;
        Ok(con)
    }

    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts again, empty, on the same port.
    pub fn restart_empty(&mut self) {
        self.kill();
        assert!(
            self.spawn(),
            "redis-server did not restart on port {}",
            self.port
        );
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// SIGSTOP: the server keeps its sockets and answers nothing.
    pub fn freeze(&self) {
        signal(self.pid(), "-STOP");
    }

    /// SIGCONT.
    pub fn thaw(&self) {
        signal(self.pid(), "-CONT");
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(child) = &self.child {
            // A frozen server must be woken to die cleanly.
            signal(child.id(), "-CONT");
        }
        self.kill();
    }
}

fn signal(pid: u32, sig: &str) {
    let status = Command::new("kill")
        .arg(sig)
        .arg(pid.to_string())
        .status()
        .unwrap();
    assert!(status.success(), "kill {sig} {pid}");
}

/// The password a node derives from `psk` for `cluster`.
pub fn derived_password(psk: &[u8], cluster: &str) -> String {
    let psk = Psk::from_file_bytes(psk).unwrap();
    String::from_utf8(redis_password(&psk, cluster).unwrap().to_vec()).unwrap()
}

/// Records what a node hands its host.
#[derive(Default)]
pub struct TestHost {
    pub blocks: Mutex<Vec<Vec<u8>>>,
    pub logs: Mutex<Vec<(LogLevel, String)>>,
}

impl Host for TestHost {
    fn install_keys(&self, block: &[u8]) {
        self.blocks.lock().unwrap().push(block.to_vec());
    }

    fn log(&self, level: LogLevel, line: &str) {
        if std::env::var_os("ATSREUSE_TEST_LOG").is_some() {
            eprintln!("{level:?} {line}");
        }
        self.logs.lock().unwrap().push((level, line.to_owned()));
    }
}

impl TestHost {
    /// The first block the node handed over: what ATS has when the plugin's start returns.
    pub fn first_block(&self) -> Option<Vec<u8>> {
        self.blocks.lock().unwrap().first().cloned()
    }

    pub fn last_block(&self) -> Option<Vec<u8>> {
        self.blocks.lock().unwrap().last().cloned()
    }

    pub fn block_count(&self) -> usize {
        self.blocks.lock().unwrap().len()
    }

    pub fn logged(&self, level: LogLevel, needle: &str) -> bool {
        self.logs
            .lock()
            .unwrap()
            .iter()
            .any(|(l, t)| *l == level && t.contains(needle))
    }

    pub fn all_logs(&self) -> String {
        let logs = self.logs.lock().unwrap();
        logs.iter().map(|(l, t)| format!("{l:?} {t}\n")).collect()
    }
}

/// A pod's shared settings: cluster, PSK, endpoints.
pub struct PodSpec {
    pub dir: TempDir,
    pub cluster: String,
    pub psk: Vec<u8>,
    pub ports: Vec<u16>,
    /// Endpoint scheme: `redis` or `rediss`.
    pub scheme: &'static str,
    /// `atsreuse.ticket_lifetime_secs` of every node (3600 unless a test needs keys that
    /// expire sooner; 60 is the least the config takes).
    pub ticket_lifetime_secs: u64,
}

impl PodSpec {
    pub fn new(cluster: &str, psk: &[u8], ports: &[u16]) -> PodSpec {
        PodSpec {
            dir: TempDir::new("pod"),
            cluster: cluster.into(),
            psk: psk.to_vec(),
            ports: ports.to_vec(),
            scheme: "redis",
            ticket_lifetime_secs: 3600,
        }
    }

    /// A config with test timings: lease 2 s, poll 1 s, IO timeout 1 s, retry 100 ms, lead 3 s,
    /// rotation every hour (tests rotate with `rotate_now`), ticket lifetime as set in the spec.
    /// `extra` lines are appended (they may override nothing already set: keys are unique).
    pub fn config(&self, node_name: &str, extra: &str) -> Config {
        let psk_path = self.dir.path().join(format!("{node_name}.psk"));
        std::fs::write(&psk_path, &self.psk).unwrap();
        std::fs::set_permissions(&psk_path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let endpoints: Vec<String> = self
            .ports
            .iter()
            .map(|p| format!("{}://127.0.0.1:{p}", self.scheme))
            .collect();
        let mut text = format!(
            "ssl_session.ClusterName={}\nredis.RedisEndpoints={}\nssl_session.redis_auth_key_file={}\n\
             atsreuse.node_name={node_name}\natsreuse.connect_timeout_ms=1000\natsreuse.io_timeout_ms=1000\n\
             atsreuse.retry_delay_ms=100\natsreuse.lease_secs=2\natsreuse.keyring_poll_secs=1\n\
             atsreuse.rotation_interval_secs=3600\natsreuse.lead_time_secs=3\natsreuse.ticket_lifetime_secs={}\n",
            self.cluster,
            endpoints.join(","),
            psk_path.display(),
            self.ticket_lifetime_secs,
        );
        text.push_str(extra);
        let path = self.dir.path().join(format!("{node_name}.config"));
        std::fs::write(&path, &text).unwrap();
        Config::parse(&path, &text).unwrap_or_else(|e| panic!("test config refused: {e}"))
    }

    pub fn start(&self, node_name: &str, extra: &str) -> (Node, Arc<TestHost>) {
        let host = Arc::new(TestHost::default());
        let node = Node::start(self.config(node_name, extra), host.clone()).unwrap();
        (node, host)
    }
}

/// Polls `check` every 50 ms until it holds or `timeout` passes; returns whether it held.
pub fn wait_until(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if check() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
