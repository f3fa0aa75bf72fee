//! A TLS client that establishes sessions on one node and resumes them on others.
//!
//! Everything runs in one process: sessions stay in memory as OpenSSL `SSL_SESSION` objects, so
//! thousands of handshakes cost no process start each. Three modes cover what a pod shares:
//!
//! | mode | protocol | how it resumes |
//! |---|---|---|
//! | `tls12-ticket` | TLS 1.2 | session ticket (the pod's shared STEKs) |
//! | `tls12-id` | TLS 1.2, `SSL_OP_NO_TICKET` | session ID (the pod's shared session map) |
//! | `tls13-ticket` | TLS 1.3 | PSK from a NewSessionTicket (shared STEKs) |
//!
//! Only loopback targets are accepted ([`Target::parse`]): this client exists to test nodes
//! started on this machine, and refuses to send handshakes anywhere else.

mod pool;
mod report;
mod run;

use std::fmt;
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use foreign_types::ForeignTypeRef;
use openssl::ex_data::Index;
use openssl::ssl::{
    Ssl, SslContext, SslMethod, SslOptions, SslSession, SslSessionCacheMode, SslSessionRef,
    SslVerifyMode, SslVersion,
};
use openssl::x509::verify::X509CheckFlags;

pub use pool::{load_sessions, save_sessions, SavedSession};
pub use report::{percentile, Latency, ModeReport, TargetReport};
pub use run::{parallel, run_mode, RunPlan};

/// What went wrong in a handshake or a setting.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// A target is not a loopback address (or does not resolve to one).
    NotLoopback(String),
    /// A target or option could not be parsed.
    Usage(String),
    /// TCP connect, read or write failed.
    Io(std::io::Error),
    /// OpenSSL refused a setting or the handshake failed.
    Tls(String),
    /// The handshake worked but the server gave no resumable session.
    NoSession,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NotLoopback(t) => write!(
                f,
                "refusing target {t}: only loopback addresses (127.0.0.0/8, ::1) are allowed"
            ),
            Error::Usage(m) => write!(f, "{m}"),
            Error::Io(e) => write!(f, "i/o: {e}"),
            Error::Tls(m) => write!(f, "tls: {m}"),
            Error::NoSession => write!(f, "the server sent no resumable session"),
        }
    }
}

impl std::error::Error for Error {}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io(e)
    }
}

impl From<openssl::error::ErrorStack> for Error {
    fn from(e: openssl::error::ErrorStack) -> Self {
        Error::Tls(e.to_string())
    }
}

/// How a session is made and resumed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// TLS 1.2, resumed by session ticket.
    Tls12Ticket,
    /// TLS 1.2 without tickets, resumed by session ID.
    Tls12Id,
    /// TLS 1.3, resumed by ticket (PSK).
    Tls13Ticket,
}

impl Mode {
    /// Every mode, in the order reports show them.
    pub const ALL: [Mode; 3] = [Mode::Tls12Ticket, Mode::Tls12Id, Mode::Tls13Ticket];

    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Tls12Ticket => "tls12-ticket",
            Mode::Tls12Id => "tls12-id",
            Mode::Tls13Ticket => "tls13-ticket",
        }
    }

    /// Parses a name from [`Mode::name`].
    pub fn parse(s: &str) -> Result<Mode, Error> {
        Mode::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| {
                Error::Usage(format!(
                    "unknown mode {s:?} (tls12-ticket, tls12-id, tls13-ticket)"
                ))
            })
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A node to connect to: always a loopback socket address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Target(SocketAddr);

impl Target {
    /// Parses `HOST:PORT` (`127.0.0.1:8443`, `[::1]:8443`, `localhost:8443`) and refuses
    /// anything that is not, or does not resolve only to, loopback addresses.
    pub fn parse(s: &str) -> Result<Target, Error> {
        if let Ok(addr) = s.parse::<SocketAddr>() {
            return Target::from_addr(addr);
        }
        // A name: only `localhost` is allowed, and it must resolve to loopback only, so
        // that a host file pointing it elsewhere is caught too.
        let host = s.rsplit_once(':').map(|(h, _)| h).unwrap_or(s);
        if host != "localhost" {
            return Err(Error::NotLoopback(s.to_string()));
        }
        let addrs: Vec<SocketAddr> = s
            .to_socket_addrs()
            .map_err(|e| Error::Usage(format!("cannot resolve {s}: {e}")))?
            .collect();
        let first = *addrs
            .first()
            .ok_or_else(|| Error::NotLoopback(s.to_string()))?;
        if addrs.iter().any(|a| !a.ip().is_loopback()) {
            return Err(Error::NotLoopback(s.to_string()));
        }
        Ok(Target(first))
    }

    /// Wraps a socket address after checking that it is loopback.
    pub fn from_addr(addr: SocketAddr) -> Result<Target, Error> {
        let ip = match addr.ip() {
            IpAddr::V6(v6) => v6
                .to_ipv4_mapped()
                .map(IpAddr::V4)
                .unwrap_or(IpAddr::V6(v6)),
            v4 => v4,
        };
        if ip.is_loopback() {
            Ok(Target(addr))
        } else {
            Err(Error::NotLoopback(addr.to_string()))
        }
    }

    /// A loopback IPv4 target on `port`.
    pub fn localhost(port: u16) -> Target {
        Target(SocketAddr::from(([127, 0, 0, 1], port)))
    }

    /// The socket address.
    pub fn addr(&self) -> SocketAddr {
        self.0
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// How the server's certificate is checked.
#[derive(Debug, Clone)]
pub enum Verify {
    /// Not at all (self-signed test certificates).
    None,
    /// Against this CA file, and the certificate must name the server name.
    CaFile(PathBuf),
}

/// Settings shared by every handshake of a client.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Certificate check.
    pub verify: Verify,
    /// SNI and the name the certificate must carry. Every node of a pod gets the same one,
    /// because OpenSSL offers a TLS 1.3 session only to the name it was made for.
    pub server_name: String,
    /// Bound on connect, and on every read and write.
    pub timeout: Duration,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            verify: Verify::None,
            server_name: "localhost".to_string(),
            timeout: Duration::from_secs(5),
        }
    }
}

/// What one handshake did.
pub struct Handshake {
    /// The server accepted the offered session (abbreviated handshake).
    pub resumed: bool,
    /// From the start of the TCP connect to the end of the TLS handshake.
    pub latency: Duration,
    /// The newest resumable session the server gave on this connection, if any.
    pub session: Option<SslSession>,
}

impl fmt::Debug for Handshake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A session holds its master secret: show only whether there is one.
        f.debug_struct("Handshake")
            .field("resumed", &self.resumed)
            .field("latency", &self.latency)
            .field("has_session", &self.session.is_some())
            .finish()
    }
}

/// The slot where the new-session callback leaves the session of one connection.
type SessionSlot = Arc<Mutex<Option<SslSession>>>;

fn session_slot_index() -> Result<Index<Ssl, SessionSlot>, Error> {
    static INDEX: OnceLock<Index<Ssl, SessionSlot>> = OnceLock::new();
    if let Some(i) = INDEX.get() {
        return Ok(*i);
    }
    let index = Ssl::new_ex_index::<SessionSlot>()?;
    // Two threads racing here each make an index; one wins and both use it afterwards.
    Ok(*INDEX.get_or_init(|| index))
}

/// A client for one mode. Sessions it made may only be resumed through the same client,
/// because OpenSSL ties a session to the context that made it.
pub struct Client {
    mode: Mode,
    ctx: SslContext,
    config: ClientConfig,
}

impl Client {
    /// Builds the TLS context for `mode`.
    pub fn new(mode: Mode, config: &ClientConfig) -> Result<Client, Error> {
        let mut b = SslContext::builder(SslMethod::tls_client())?;
        let version = match mode {
            Mode::Tls12Ticket | Mode::Tls12Id => SslVersion::TLS1_2,
            Mode::Tls13Ticket => SslVersion::TLS1_3,
        };
        b.set_min_proto_version(Some(version))?;
        b.set_max_proto_version(Some(version))?;
        if mode == Mode::Tls12Id {
            b.set_options(SslOptions::NO_TICKET);
        }
        match &config.verify {
            Verify::None => b.set_verify(SslVerifyMode::NONE),
            Verify::CaFile(path) => {
                b.set_ca_file(path)?;
                b.set_verify(SslVerifyMode::PEER);
            }
        }
        // The client cache mode makes OpenSSL call back with every resumable session: after
        // a TLS 1.2 handshake, and for each TLS 1.3 NewSessionTicket. The internal cache is
        // off; this client keeps sessions itself.
        b.set_session_cache_mode(SslSessionCacheMode::CLIENT | SslSessionCacheMode::NO_INTERNAL);
        let index = session_slot_index()?;
        b.set_new_session_callback(move |ssl, session| {
            if let Some(slot) = ssl.ex_data(index) {
                if let Ok(mut s) = slot.lock() {
                    *s = Some(session);
                }
            }
        });
        Ok(Client {
            mode,
            ctx: b.build(),
            config: config.clone(),
        })
    }

    /// The mode of this client.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// A full handshake on `target` that returns a resumable session. For TLS 1.3 it sends
    /// one HTTP request and reads the answer, so that the tickets sent after the handshake
    /// are processed.
    pub fn establish(&self, target: Target) -> Result<Handshake, Error> {
        let hs = self.handshake(target, None, self.mode == Mode::Tls13Ticket)?;
        if hs.session.is_none() {
            return Err(Error::NoSession);
        }
        Ok(hs)
    }

    /// A handshake on `target` offering `session`; [`Handshake::resumed`] says whether the
    /// node took it. `session` must come from this client (or from a file it saved).
    pub fn resume(&self, target: Target, session: &SslSession) -> Result<Handshake, Error> {
        self.handshake(target, Some(session), false)
    }

    /// One handshake on `target`, offering `offer` when given, and nothing more: no request,
    /// so a TLS 1.3 connection closes before its tickets are read. For measuring handshake
    /// rates; [`Client::establish`] is the way to get a TLS 1.3 session.
    pub fn handshake_only(
        &self,
        target: Target,
        offer: Option<&SslSession>,
    ) -> Result<Handshake, Error> {
        self.handshake(target, offer, false)
    }

    fn handshake(
        &self,
        target: Target,
        offer: Option<&SslSession>,
        read_tickets: bool,
    ) -> Result<Handshake, Error> {
        let mut ssl = Ssl::new(&self.ctx)?;
        ssl.set_hostname(&self.config.server_name)?;
        if let Verify::CaFile(_) = self.config.verify {
            let param = ssl.param_mut();
            param.set_hostflags(X509CheckFlags::NO_PARTIAL_WILDCARDS);
            param.set_host(&self.config.server_name)?;
        }
        let slot: SessionSlot = Arc::new(Mutex::new(None));
        ssl.set_ex_data(session_slot_index()?, Arc::clone(&slot));
        if let Some(session) = offer {
            // OpenSSL's client uses a TLS 1.3 session object once: offered a second time it
            // sends no ticket. A test offers one ticket to several nodes (and again after a
            // rotation), so each handshake gets its own copy, made through the DER form.
            // Servers accept a stateless ticket more than once, so this shows what the pod
            // does; a real client would use each TLS 1.3 ticket once.
            let copy = SslSession::from_der(&session.to_der()?)?;
            // SAFETY: OpenSSL requires the session to come from a context with the same
            // method; every session offered here was made by a client of the same mode
            // (same method, same version bounds), in memory or loaded from a file this
            // crate wrote for that mode.
            unsafe { ssl.set_session(&copy)? };
        }

        let start = Instant::now();
        let tcp = TcpStream::connect_timeout(&target.addr(), self.config.timeout)?;
        tcp.set_read_timeout(Some(self.config.timeout))?;
        tcp.set_write_timeout(Some(self.config.timeout))?;
        tcp.set_nodelay(true)?;
        let mut stream = ssl.connect(tcp).map_err(|e| Error::Tls(e.to_string()))?;
        let latency = start.elapsed();
        let resumed = stream.ssl().session_reused();

        if read_tickets {
            let req = format!(
                "GET / HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
                self.config.server_name
            );
            stream.write_all(req.as_bytes())?;
            read_to_close(&mut stream)?;
        }
        let _ = stream.shutdown();
        let session = slot.lock().ok().and_then(|mut s| s.take());
        Ok(Handshake {
            resumed,
            latency,
            session,
        })
    }
}

extern "C" {
    // libssl, linked through the openssl crate; not bound by openssl-sys.
    fn SSL_SESSION_get0_ticket(
        s: *const openssl_sys::SSL_SESSION,
        tick: *mut *const u8,
        len: *mut usize,
    );
}

/// The key name of the session's ticket: its first 16 bytes, which ATS (like OpenSSL's
/// ticket format) sends in clear so that a node can pick the key that opens it. `None` for a
/// session without a ticket. Comparing names shows which STEK sealed a ticket.
pub fn ticket_key_name(session: &SslSessionRef) -> Option<[u8; 16]> {
    let mut tick: *const u8 = std::ptr::null();
    let mut len: usize = 0;
    // SAFETY: the session pointer is valid for the borrow; OpenSSL writes a pointer into the
    // session's own ticket buffer (or NULL) and its length, and copies nothing.
    unsafe { SSL_SESSION_get0_ticket(session.as_ptr(), &mut tick, &mut len) };
    if tick.is_null() || len < 16 {
        return None;
    }
    // SAFETY: OpenSSL reported `len` >= 16 readable bytes at `tick`, owned by the session,
    // which outlives this copy.
    let bytes = unsafe { std::slice::from_raw_parts(tick, 16) };
    bytes.try_into().ok()
}

/// Reads until the server closes (the request asked for `Connection: close`). A reset after
/// the answer started is taken as the end too: some servers close without close_notify.
fn read_to_close<S: Read>(stream: &mut S) -> Result<(), Error> {
    let mut buf = [0u8; 4096];
    let mut total = 0usize;
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => total += n,
            Err(_) if total > 0 => return Ok(()),
            Err(e) => return Err(Error::Io(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_targets_are_accepted() {
        for t in [
            "127.0.0.1:8443",
            "127.9.8.7:1",
            "[::1]:443",
            "[::ffff:127.0.0.1]:80",
        ] {
            assert!(Target::parse(t).is_ok(), "{t}");
        }
    }

    #[test]
    fn other_targets_are_refused_with_a_clear_error() {
        for t in [
            "10.0.0.1:443",
            "[2001:db8::1]:443",
            "example.com:443",
            "0.0.0.0:443",
        ] {
            let err = Target::parse(t).unwrap_err();
            assert!(matches!(err, Error::NotLoopback(_)), "{t}: {err}");
            assert!(err.to_string().contains("only loopback"), "{err}");
        }
    }

    #[test]
    fn mode_names_round_trip() {
        for m in Mode::ALL {
            assert_eq!(Mode::parse(m.name()).unwrap(), m);
        }
        assert!(Mode::parse("tls11").is_err());
    }
}
