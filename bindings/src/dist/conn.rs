//! Connections to one Redis endpoint: connect with bounded timeouts, classify errors, back off.

use std::time::{Duration, Instant};

use rand::Rng;
use redis::{
    Client, Connection, ConnectionAddr, ConnectionInfo, ErrorKind, ProtocolVersion,
    RedisConnectionInfo, RedisError, RetryMethod, TlsCertificates,
};

use super::Shared;
use crate::config::{Config, Endpoint};
use crate::node::LogLevel;
use crate::stats::bump;

/// What to do after a failed Redis call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Recovery {
    /// The connection is fine; try the operation again later.
    Retry,
    /// The connection cannot be trusted: drop it and connect again (with backoff).
    Reconnect,
    /// The operation cannot succeed as written (a script error, a key of the wrong type):
    /// give it up, keep the connection.
    GiveUp,
}

/// Classifies a Redis error. A timed-out command may still get its reply later, so any
/// timeout means a fresh connection. Every `RetryMethod` the crate has today is named; the
/// enum is non-exhaustive, so a future one falls to reconnecting, the safe choice.
pub(crate) fn classify(err: &RedisError) -> Recovery {
    if err.is_timeout() || err.is_connection_dropped() || err.is_io_error() {
        return Recovery::Reconnect;
    }
    match err.retry_method() {
        RetryMethod::Reconnect | RetryMethod::ReconnectFromInitialConnections => {
            Recovery::Reconnect
        }
        RetryMethod::RetryImmediately | RetryMethod::WaitAndRetry => Recovery::Retry,
        RetryMethod::NoRetry => Recovery::GiveUp,
        // Cluster redirects: atsreuse talks to plain Redis servers; a redirect means the
        // endpoint is a cluster node, which a new connection will not fix, but it is not our
        // command's fault either.
        RetryMethod::AskRedirect | RetryMethod::MovedRedirect => Recovery::Reconnect,
        _ => Recovery::Reconnect,
    }
}

/// Whether an error says the credentials were refused.
fn is_auth_error(err: &RedisError) -> bool {
    if err.kind() == ErrorKind::AuthenticationFailed {
        return true;
    }
    matches!(err.code(), Some("WRONGPASS" | "NOAUTH" | "NOPERM"))
}

/// Exponential backoff with jitter: `base`, doubling up to 8 × `base`, each wait ±25 %.
#[derive(Debug)]
pub(crate) struct Backoff {
    base: Duration,
    step: u32,
}

impl Backoff {
    pub(crate) fn new(base: Duration) -> Backoff {
        Backoff {
            base: base.max(Duration::from_millis(10)),
            step: 0,
        }
    }

    /// The next wait; each call doubles it until 8 × base.
    pub(crate) fn next_wait(&mut self) -> Duration {
        let wait = self.base * (1u32 << self.step.min(3));
        self.step = self.step.saturating_add(1);
        let jitter = rand::thread_rng().gen_range(0.75..1.25);
        wait.mul_f64(jitter)
    }

    pub(crate) fn reset(&mut self) {
        self.step = 0;
    }
}

/// One connection role (subscriber, publisher, control) to one endpoint: connects when due,
/// logs state changes once (lost = warn, refused credentials = error, back = info).
pub(crate) struct Link<'s> {
    shared: &'s Shared,
    endpoint: usize,
    role: &'static str,
    con: Option<Connection>,
    backoff: Backoff,
    next_attempt: Instant,
    /// A failure was logged since the last working connection (later ones go to debug).
    failing: bool,
}

impl<'s> Link<'s> {
    pub(crate) fn new(shared: &'s Shared, endpoint: usize, role: &'static str) -> Link<'s> {
        Link {
            shared,
            endpoint,
            role,
            con: None,
            backoff: Backoff::new(shared.config.retry_delay),
            next_attempt: Instant::now(),
            failing: false,
        }
    }

    pub(crate) fn label(&self) -> &str {
        &self.shared.endpoints[self.endpoint].label
    }

    pub(crate) fn is_connected(&self) -> bool {
        self.con.is_some()
    }

    /// How long until the next connect attempt (zero when connected or due).
    pub(crate) fn wait_left(&self) -> Duration {
        if self.con.is_some() {
            return Duration::ZERO;
        }
        self.next_attempt.saturating_duration_since(Instant::now())
    }

    /// The connection, connecting first when none is open and an attempt is due. `None` when
    /// not connected (the caller waits [`Link::wait_left`] or does other work).
    pub(crate) fn get(&mut self) -> Option<&mut Connection> {
        if self.con.is_none() && Instant::now() >= self.next_attempt && !self.shared.stopping() {
            match connect(self.shared, self.endpoint) {
                Ok(con) => {
                    if self.failing {
                        self.shared.log(
                            LogLevel::Info,
                            format_args!("redis {} ({}): connected again", self.label(), self.role),
                        );
                    }
                    self.failing = false;
                    self.backoff.reset();
                    self.con = Some(con);
                }
                Err(err) => self.connect_failed(&err),
            }
        }
        self.con.as_mut()
    }

    /// Takes the open connection out (for a pub/sub session that borrows it); give it back
    /// with [`Link::put_back`] or report its loss with [`Link::lost`].
    pub(crate) fn take(&mut self) -> Option<Connection> {
        self.get();
        self.con.take()
    }

    pub(crate) fn put_back(&mut self, con: Connection) {
        self.con = Some(con);
    }

    fn connect_failed(&mut self, err: &RedisError) {
        bump(&self.shared.counters.redis_failures);
        let wait = self.backoff.next_wait();
        self.next_attempt = Instant::now() + wait;
        // Refused credentials are an error at every attempt: an operator must act. Other
        // failures are a warning the first time, then debug until the endpoint is back.
        let (level, what) = if is_auth_error(err) {
            let what = "credentials refused (check the Redis user and password)";
            (LogLevel::Error, what)
        } else if self.failing {
            (LogLevel::Debug, "connect failed")
        } else {
            (LogLevel::Warn, "connect failed")
        };
        let (label, role, wait_ms) = (self.label(), self.role, wait.as_millis());
        self.shared.log(
            level,
            format_args!("redis {label} ({role}): {what}: {err}; retrying in {wait_ms} ms"),
        );
        self.failing = true;
    }

    /// Reports a failed call on the connection. Returns the recovery taken; on
    /// [`Recovery::Reconnect`] the connection is dropped and the next attempt scheduled.
    pub(crate) fn failed(&mut self, err: &RedisError, doing: &str) -> Recovery {
        let recovery = classify(err);
        match recovery {
            Recovery::Reconnect => self.lost(err, doing),
            Recovery::Retry => self.shared.log(
                LogLevel::Debug,
                format_args!(
                    "redis {} ({}): {doing}: {err}; will retry",
                    self.label(),
                    self.role
                ),
            ),
            Recovery::GiveUp => self.shared.log(
                LogLevel::Warn,
                format_args!(
                    "redis {} ({}): {doing} refused: {err}",
                    self.label(),
                    self.role
                ),
            ),
        }
        recovery
    }

    /// Drops the connection after `err` and schedules a reconnect.
    pub(crate) fn lost(&mut self, err: &RedisError, doing: &str) {
        self.con = None;
        bump(&self.shared.counters.redis_failures);
        let wait = self.backoff.next_wait();
        self.next_attempt = Instant::now() + wait;
        if !self.failing {
            self.shared.log(
                LogLevel::Warn,
                format_args!(
                    "redis {} ({}): connection lost during {doing}: {err}; reconnecting in {} ms",
                    self.label(),
                    self.role,
                    wait.as_millis()
                ),
            );
        }
        self.failing = true;
    }
}

/// Opens one connection for the node: see [`open_endpoint`] for the timeouts. TCP keepalive:
/// the blocking client of redis 0.32 does not expose its socket options, so each thread
/// instead sends a command at least every few seconds (PING when idle) and a dead or silent
/// server is found within the IO timeout.
pub(crate) fn connect(shared: &Shared, endpoint: usize) -> Result<Connection, RedisError> {
    let config = &shared.config;
    open_endpoint(
        config,
        &config.endpoints[endpoint],
        shared.password.as_ref().map(|p| p.as_str()),
        shared.ca_pem.as_deref(),
    )
}

/// Opens one connection to `ep` with the settings of `config`: the Redis user, the connect
/// timeout (bounding connect and AUTH) and the IO timeout (bounding every later read and
/// write). `password` is sent with AUTH when given; `ca_pem` (PEM bytes) is the only root the
/// server's certificate may chain to on a `rediss://` endpoint, and the system roots are used
/// when it is `None`. Shared by the node's threads and the `atsreuse` command-line tool so both
/// reach Redis the same way.
pub fn open_endpoint(
    config: &Config,
    ep: &Endpoint,
    password: Option<&str>,
    ca_pem: Option<&[u8]>,
) -> Result<Connection, RedisError> {
    let addr = if ep.tls {
        ConnectionAddr::TcpTls {
            host: ep.host.clone(),
            port: ep.port,
            insecure: false,
            tls_params: None,
        }
    } else {
        ConnectionAddr::Tcp(ep.host.clone(), ep.port)
    };
    let info = ConnectionInfo {
        addr,
        redis: RedisConnectionInfo {
            db: 0,
            username: config.redis_user.clone(),
            password: password.map(str::to_string),
            protocol: ProtocolVersion::RESP2,
        },
    };
    let client = match (ca_pem, ep.tls) {
        (Some(pem), true) => Client::build_with_tls(
            info,
            TlsCertificates {
                client_tls: None,
                root_cert: Some(pem.to_vec()),
            },
        )?,
        _ => Client::open(info)?,
    };
    let con = client.get_connection_with_timeout(config.connect_timeout)?;
    con.set_read_timeout(Some(config.io_timeout))?;
    con.set_write_timeout(Some(config.io_timeout))?;
    Ok(con)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_eight_times_the_base_with_jitter() {
        let mut backoff = Backoff::new(Duration::from_millis(100));
        let waits: Vec<Duration> = (0..6).map(|_| backoff.next_wait()).collect();
        assert!(waits[0] >= Duration::from_millis(75) && waits[0] <= Duration::from_millis(125));
        assert!(waits[3] >= Duration::from_millis(600) && waits[3] <= Duration::from_millis(1000));
        assert!(waits[5] <= Duration::from_millis(1000));
        backoff.reset();
        assert!(backoff.next_wait() <= Duration::from_millis(125));
    }

    #[test]
    fn timeouts_and_dropped_connections_mean_reconnect() {
        let timeout = RedisError::from(std::io::Error::new(std::io::ErrorKind::TimedOut, "t"));
        assert_eq!(classify(&timeout), Recovery::Reconnect);
        let reset = RedisError::from(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "r",
        ));
        assert_eq!(classify(&reset), Recovery::Reconnect);
    }

    #[test]
    fn a_refused_command_is_given_up_and_a_busy_server_retried() {
        let wrong_type = RedisError::from((ErrorKind::TypeError, "wrong type"));
        assert_eq!(classify(&wrong_type), Recovery::GiveUp);
        let loading = RedisError::from((ErrorKind::BusyLoadingError, "loading"));
        assert_eq!(classify(&loading), Recovery::Retry);
    }
}
