//! Sessions made on one node and offered on others, with counts per node.

use std::collections::BTreeSet;
use std::io;

use atsreuse_tlsclient::{ticket_key_name, Client, ClientConfig, Mode, Target};
use openssl::ssl::SslSession;

use crate::ats::AtsNode;

/// What offering a set of sessions on one node gave.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Sessions offered.
    pub attempts: u64,
    /// Abbreviated handshakes.
    pub resumed: u64,
    /// Full handshakes (the node did not take the session).
    pub full: u64,
    /// Failed handshakes.
    pub errors: u64,
    /// The first error, if any.
    pub first_error: Option<String>,
}

impl Outcome {
    /// `resumed/attempts`, with the error count when there were errors.
    pub fn cell(&self) -> String {
        if self.errors > 0 {
            format!(
                "{}/{} ({} errors)",
                self.resumed, self.attempts, self.errors
            )
        } else {
            format!("{}/{}", self.resumed, self.attempts)
        }
    }

    /// Every attempt resumed.
    pub fn all_resumed(&self) -> bool {
        self.attempts > 0 && self.resumed == self.attempts
    }
}

/// Sessions made by one client in one mode, kept so that they can be offered later (after a
/// rotation, or on a node started later).
pub struct Sessions {
    client: Client,
    sessions: Vec<SslSession>,
    /// Full handshakes made to get them.
    pub full_handshakes: u64,
}

impl Sessions {
    /// Makes `count` sessions on `node` with full handshakes. Any failed or resumed
    /// handshake is an error: a fresh client cannot resume.
    pub fn establish(mode: Mode, node: &AtsNode, count: usize) -> io::Result<Sessions> {
        Sessions::establish_with(mode, node, count, &ClientConfig::default())
    }

    /// [`Sessions::establish`] with client settings (e.g. a CA file to check which
    /// certificate the node served); resumptions use the same settings.
    pub fn establish_with(
        mode: Mode,
        node: &AtsNode,
        count: usize,
        config: &ClientConfig,
    ) -> io::Result<Sessions> {
        let client = Client::new(mode, config).map_err(io::Error::other)?;
        let mut sessions = Vec::with_capacity(count);
        for _ in 0..count {
            let hs = client
                .establish(node.target())
                .map_err(|e| io::Error::other(format!("{mode} on {}: {e}", node.name())))?;
            if hs.resumed {
                return Err(io::Error::other("a first handshake was abbreviated"));
            }
            sessions.extend(hs.session);
        }
        Ok(Sessions {
            client,
            full_handshakes: count as u64,
            sessions,
        })
    }

    /// The mode of these sessions.
    pub fn mode(&self) -> Mode {
        self.client.mode()
    }

    /// How many sessions are held.
    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    /// No session held.
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// The distinct key names of the tickets held (empty in session-ID mode): which STEKs
    /// sealed them.
    pub fn ticket_key_names(&self) -> BTreeSet<[u8; 16]> {
        self.sessions
            .iter()
            .filter_map(|s| ticket_key_name(s))
            .collect()
    }

    /// Offers every session once on `node`.
    pub fn resume_on(&self, node: &AtsNode) -> Outcome {
        self.resume_on_target(node.target())
    }

    /// Offers every session once on `target`.
    pub fn resume_on_target(&self, target: Target) -> Outcome {
        let mut o = Outcome::default();
        for s in &self.sessions {
            o.attempts += 1;
            match self.client.resume(target, s) {
                Ok(hs) if hs.resumed => o.resumed += 1,
                Ok(_) => o.full += 1,
                Err(e) => {
                    o.errors += 1;
                    o.first_error.get_or_insert_with(|| e.to_string());
                }
            }
        }
        o
    }
}

/// Makes `count` sessions on `from` and offers each on every node of `to`.
pub fn cross_node(
    mode: Mode,
    from: &AtsNode,
    to: &[&AtsNode],
    count: usize,
) -> io::Result<Vec<Outcome>> {
    let s = Sessions::establish(mode, from, count)?;
    Ok(to.iter().map(|n| s.resume_on(n)).collect())
}

/// A key name as the first 4 bytes in hex (enough to tell keys apart in a table).
pub fn short_name(name: &[u8; 16]) -> String {
    name[..4].iter().map(|b| format!("{b:02x}")).collect()
}
