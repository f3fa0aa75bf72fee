//! Free loopback ports and small TCP helpers.

use std::collections::HashSet;
use std::io;
use std::net::{Ipv4Addr, TcpListener};
use std::sync::Mutex;

/// Ports handed out by this process, never handed out twice (the OS may offer a port again
/// once the probe socket is closed, before the server that got it has bound it).
static GIVEN: Mutex<Option<HashSet<u16>>> = Mutex::new(None);

/// A TCP port on 127.0.0.1 that was free a moment ago and not given out before by this
/// process. Another program may still take it before the server binds it; callers check
/// the server's log for a failed bind.
pub fn free_port() -> io::Result<u16> {
    for _ in 0..64 {
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
            .local_addr()?
            .port();
        let mut given = GIVEN
            .lock()
            .map_err(|_| io::Error::other("port registry poisoned"))?;
        if given.get_or_insert_with(HashSet::new).insert(port) {
            return Ok(port);
        }
    }
    Err(io::Error::other("no free loopback port found"))
}
