//! Saved sessions: a file of PEM blocks, so that sessions made before a rotation (or before a
//! node started) can be offered after it, by another process.
//!
//! Each block is the DER of an `SSL_SESSION` under the label `SSL SESSION PARAMETERS` (the one
//! `openssl sess_id` reads), preceded by one line `# mode=<mode> target=<addr>` naming the
//! mode whose client made it and the node that issued it.

use std::fs;
use std::path::Path;

use openssl::base64;
use openssl::ssl::SslSession;

use crate::{Error, Mode};

const BEGIN: &str = "-----BEGIN SSL SESSION PARAMETERS-----";
const END: &str = "-----END SSL SESSION PARAMETERS-----";

/// A session with the mode that made it and the node that issued it.
pub struct SavedSession {
    /// The mode of the client that made it; only a client of that mode may offer it.
    pub mode: Mode,
    /// The node that issued it, as `HOST:PORT`.
    pub issued_by: String,
    /// The session.
    pub session: SslSession,
}

/// Writes `sessions` to `path` (replacing the file).
pub fn save_sessions(path: &Path, sessions: &[SavedSession]) -> Result<(), Error> {
    let mut out = String::new();
    for s in sessions {
        let der = s.session.to_der()?;
        out.push_str(&format!(
            "# mode={} target={}\n{BEGIN}\n",
            s.mode, s.issued_by
        ));
        let b64 = base64::encode_block(&der);
        for line in b64.as_bytes().chunks(64) {
            out.push_str(&String::from_utf8_lossy(line));
            out.push('\n');
        }
        out.push_str(END);
        out.push('\n');
    }
    fs::write(path, out)?;
    Ok(())
}

/// Reads a file written by [`save_sessions`]. A block without a mode line, or one that does
/// not parse, is an error naming its position.
pub fn load_sessions(path: &Path) -> Result<Vec<SavedSession>, Error> {
    let text = fs::read_to_string(path)?;
    let mut sessions = Vec::new();
    let mut header: Option<(Mode, String)> = None;
    let mut body: Option<String> = None;
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        let at = || format!("{}:{}", path.display(), n + 1);
        if let Some(rest) = line.strip_prefix("# ") {
            header = Some(
                parse_header(rest).ok_or_else(|| Error::Usage(format!("{}: bad header", at())))?,
            );
        } else if line == BEGIN {
            body = Some(String::new());
        } else if line == END {
            let b64 = body
                .take()
                .ok_or_else(|| Error::Usage(format!("{}: END without BEGIN", at())))?;
            let (mode, issued_by) = header
                .take()
                .ok_or_else(|| Error::Usage(format!("{}: block without a mode line", at())))?;
            let der = base64::decode_block(&b64)
                .map_err(|e| Error::Usage(format!("{}: bad base64: {e}", at())))?;
            let session = SslSession::from_der(&der)
                .map_err(|e| Error::Usage(format!("{}: bad session: {e}", at())))?;
            sessions.push(SavedSession {
                mode,
                issued_by,
                session,
            });
        } else if let Some(b) = body.as_mut() {
            b.push_str(line);
        }
    }
    Ok(sessions)
}

fn parse_header(rest: &str) -> Option<(Mode, String)> {
    let mut mode = None;
    let mut target = String::new();
    for field in rest.split_whitespace() {
        match field.split_once('=') {
            Some(("mode", m)) => mode = Mode::parse(m).ok(),
            Some(("target", t)) => target = t.to_string(),
            _ => {}
        }
    }
    Some((mode?, target))
}
