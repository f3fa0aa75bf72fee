//! The `atsreuse-tlsclient` program against an OpenSSL server run by the test on 127.0.0.1:
//! the JSON report, saved sessions reused by a later run, and the loopback guard.

// The server fixture and the helpers sit outside `#[test]` functions, where clippy's test
// exemption does not reach; a fixture that cannot be built must fail the test loudly.
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use openssl::asn1::Asn1Time;
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::PKey;
use openssl::ssl::{SslAcceptor, SslMethod, SslSessionCacheMode};
use openssl::x509::{X509Builder, X509NameBuilder};
use serde_json::Value;

/// A TLS 1.2/1.3 server with a session cache and tickets, answering every request with a 404
/// and closing. Stops when dropped.
struct Server {
    port: u16,
    stop: Arc<AtomicBool>,
}

impl Server {
    fn start() -> Server {
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
        let key = PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap();
        let mut name = X509NameBuilder::new().unwrap();
        name.append_entry_by_nid(Nid::COMMONNAME, "localhost")
            .unwrap();
        let name = name.build();
        let mut cert = X509Builder::new().unwrap();
        cert.set_version(2).unwrap();
        cert.set_subject_name(&name).unwrap();
        cert.set_issuer_name(&name).unwrap();
        cert.set_pubkey(&key).unwrap();
        let (from, to) = (
            Asn1Time::days_from_now(0).unwrap(),
            Asn1Time::days_from_now(1).unwrap(),
        );
        cert.set_not_before(&from).unwrap();
        cert.set_not_after(&to).unwrap();
        cert.sign(&key, MessageDigest::sha256()).unwrap();
        let cert = cert.build();

        let mut b = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server()).unwrap();
        b.set_private_key(&key).unwrap();
        b.set_certificate(&cert).unwrap();
        b.set_session_cache_mode(SslSessionCacheMode::SERVER);
        b.set_session_id_context(b"cli-test").unwrap();
        let acceptor = b.build();

        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                let Ok((tcp, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(2));
                    continue;
                };
                let _ = tcp.set_nonblocking(false);
                let _ = tcp.set_read_timeout(Some(Duration::from_millis(300)));
                if let Ok(mut tls) = acceptor.accept(tcp) {
                    let mut buf = [0u8; 1024];
                    // A request comes only when the client wants the TLS 1.3 tickets.
                    if matches!(tls.read(&mut buf), Ok(n) if n > 0) {
                        let _ =
                            tls.write_all(b"HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n");
                    }
                    let _ = tls.shutdown();
                }
            }
        });
        Server { port, stop }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn client(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_atsreuse-tlsclient"))
        .args(args)
        .output()
        .unwrap()
}

fn report(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn count(v: &Value, path: &[&str]) -> u64 {
    let mut x = v;
    for p in path {
        x = match p.parse::<usize>() {
            Ok(i) => &x[i],
            Err(_) => &x[*p],
        };
    }
    x.as_u64().unwrap_or_else(|| panic!("{path:?} in {v}"))
}

#[test]
fn every_mode_establishes_then_resumes_and_the_report_counts_them() {
    let server = Server::start();
    let target = format!("127.0.0.1:{}", server.port);
    let out = client(&[
        "--establish",
        &target,
        "--resume",
        &target,
        "--count",
        "4",
        "--no-verify",
    ]);
    let v = report(&out);
    let modes = v["modes"].as_array().unwrap();
    assert_eq!(modes.len(), 3);
    for m in modes {
        assert_eq!(count(m, &["establish", "full"]), 4, "{m}");
        assert_eq!(count(m, &["establish", "resumed"]), 0, "{m}");
        assert_eq!(count(m, &["resume", "0", "resumed"]), 4, "{m}");
        assert_eq!(count(m, &["resume", "0", "errors"]), 0, "{m}");
        assert!(m["resume"][0]["latency_ms"]["p50"].as_f64().unwrap() > 0.0);
    }
}

#[test]
fn saved_sessions_resume_in_a_later_run_and_not_on_another_server() {
    let (a, b) = (Server::start(), Server::start());
    let (ta, tb) = (
        format!("127.0.0.1:{}", a.port),
        format!("127.0.0.1:{}", b.port),
    );
    let dir = std::env::temp_dir().join(format!("tlsclient-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("sessions.pem");
    let f = file.to_str().unwrap();
    report(&client(&[
        "--establish",
        &ta,
        "--count",
        "3",
        "--no-verify",
        "--save-sessions",
        f,
    ]));
    assert!(std::fs::read_to_string(Path::new(f))
        .unwrap()
        .contains("BEGIN SSL SESSION"));

    let again = report(&client(&[
        "--load-sessions",
        f,
        "--resume",
        &ta,
        "--resume",
        &tb,
        "--no-verify",
    ]));
    for m in again["modes"].as_array().unwrap() {
        assert!(m["establish"].is_null(), "{m}");
        assert_eq!(count(m, &["resume", "0", "resumed"]), 3, "same server: {m}");
        // Another server has other ticket keys and an empty cache: full handshakes.
        assert_eq!(count(m, &["resume", "1", "full"]), 3, "other server: {m}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn targets_off_loopback_are_refused_before_any_connection() {
    for t in ["192.0.2.1:443", "example.invalid:443", "[2001:db8::1]:443"] {
        let out = client(&["--establish", t, "--no-verify"]);
        assert_eq!(out.status.code(), Some(2), "{t}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("only loopback"), "{t}: {err}");
    }
}
