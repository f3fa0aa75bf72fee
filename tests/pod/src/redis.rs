//! A private `redis-server` on a free loopback port, in a temporary directory.

use std::io::{self, BufRead, BufReader, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use crate::net::free_port;
use crate::process::Guarded;

/// A running redis-server, killed on drop.
#[derive(Debug)]
pub struct RedisServer {
    proc: Guarded,
    port: u16,
    password: Option<String>,
    dir: PathBuf,
}

impl RedisServer {
    /// Starts redis-server in `dir` (created), bound to 127.0.0.1, no persistence, with
    /// `requirepass` when `password` is given; returns once it answers PING.
    pub fn start(dir: &Path, password: Option<&str>) -> io::Result<RedisServer> {
        std::fs::create_dir_all(dir)?;
        let port = free_port()?;
        let mut cmd = Command::new("redis-server");
        cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .arg("--dir")
            .arg(dir)
            .arg("--logfile")
            .arg(dir.join("redis.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(pw) = password {
            cmd.args(["--requirepass", pw]);
        }
        let proc = Guarded::spawn("redis-server", &mut cmd)?;
        let mut redis = RedisServer {
            proc,
            port,
            password: password.map(str::to_string),
            dir: dir.to_path_buf(),
        };
        redis.wait_ready(Duration::from_secs(10))?;
        Ok(redis)
    }

    fn wait_ready(&mut self, limit: Duration) -> io::Result<()> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.proc.exited() {
                let log = std::fs::read_to_string(self.dir.join("redis.log")).unwrap_or_default();
                return Err(io::Error::other(format!(
                    "redis-server exited ({status}) on port {}: {}",
                    self.port,
                    tail(&log, 5)
                )));
            }
            match self.command(&["PING"]) {
                Ok(reply) if reply == "+PONG" => return Ok(()),
                Ok(reply) if Instant::now() >= deadline => {
                    return Err(io::Error::other(format!("redis PING answered {reply}")))
                }
                Err(e) if Instant::now() >= deadline => return Err(e),
                _ => sleep(Duration::from_millis(30)),
            }
        }
    }

    /// The TCP port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The `requirepass` password, if any.
    pub fn password(&self) -> Option<&str> {
        self.password.as_deref()
    }

    /// Runs one command (after AUTH when a password is set) and returns the first line of
    /// the reply as Redis sent it (`+OK`, `:1`, `$5`, `-ERR ...`). For checks in tests, not
    /// a client library.
    pub fn command(&self, args: &[&str]) -> io::Result<String> {
        let mut s = TcpStream::connect((Ipv4Addr::LOCALHOST, self.port))?;
        s.set_read_timeout(Some(Duration::from_secs(5)))?;
        let mut r = BufReader::new(s.try_clone()?);
        let mut line = String::new();
        if let Some(pw) = &self.password {
            s.write_all(&encode(&["AUTH", pw]))?;
            r.read_line(&mut line)?;
            if !line.starts_with("+OK") {
                return Err(io::Error::other(format!("redis AUTH: {}", line.trim_end())));
            }
            line.clear();
        }
        s.write_all(&encode(args))?;
        r.read_line(&mut line)?;
        Ok(line.trim_end().to_string())
    }

    /// Stops the server (SIGKILL).
    pub fn stop(&mut self) {
        self.proc.stop(Duration::ZERO);
    }
}

/// A command as a RESP array of bulk strings.
fn encode(args: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// The last `n` lines of `text`, joined by " | ".
pub(crate) fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join(" | ")
}
