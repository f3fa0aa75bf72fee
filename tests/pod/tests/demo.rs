//! The demo program stops everything it started when interrupted.

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

/// Processes whose command line mentions `dir`.
fn processes_under(dir: &str) -> Vec<String> {
    let mut found = Vec::new();
    // An unreadable /proc finds nothing, which fails the check made before the signal.
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in entries.flatten() {
        let Ok(cmd) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        if cmd.contains(dir) {
            found.push(format!("{}: {cmd}", entry.file_name().to_string_lossy()));
        }
    }
    found
}

#[test]
fn ctrl_c_during_the_demo_stops_every_process_and_removes_the_pod() {
    let plugin = atsreuse_pod::plugin_path()
        .expect("no plugin .so: set ATSREUSE_PLUGIN (scripts/e2e.sh does)");
    let mut demo = Command::new(env!("CARGO_BIN_EXE_atsreuse-pod"))
        .args(["--plugin", &plugin.to_string_lossy(), "--count", "2"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();

    // The demo prints the Redis port and the pod directory once every node answers.
    let mut lines = BufReader::new(demo.stdout.take().unwrap()).lines();
    let (port, dir) = loop {
        let line = lines.next().expect("demo output ends early").unwrap();
        if let Some(rest) = line.trim().strip_prefix("redis: 127.0.0.1:") {
            let (port, dir) = rest.split_once("  dir: ").unwrap();
            break (port.parse::<u16>().unwrap(), dir.to_string());
        }
    };
    assert!(
        !processes_under(&dir).is_empty(),
        "no ATS process found under {dir}"
    );
    assert!(TcpStream::connect(("127.0.0.1", port)).is_ok());

    // SAFETY: kill(2) on the child's own pid; no memory is involved.
    unsafe { libc::kill(demo.id() as i32, libc::SIGINT) };
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = demo.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "the demo did not end after SIGINT"
        );
        sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(130));
    // Killed processes may take a moment to leave the process table.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !processes_under(&dir).is_empty() && Instant::now() < deadline {
        sleep(Duration::from_millis(50));
    }
    assert_eq!(processes_under(&dir), Vec::<String>::new());
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "redis-server still answers"
    );
    assert!(!PathBuf::from(&dir).exists(), "{dir} left behind");
}
