//! The C API: every `atsreuse_*` function of `include/atsreuse.h`.
//!
//! Rules every function here follows:
//! - it returns an [`AtsreuseStatus`] (except `atsreuse_node_stop`, `atsreuse_status_str` and
//!   `atsreuse_version`);
//! - every pointer argument is checked for NULL first (`ATSREUSE_STATUS_NULL_ARGUMENT`), also
//!   when its length is 0; only the arguments documented as optional may be NULL;
//! - the body runs inside `catch_unwind`: a panic becomes `ATSREUSE_STATUS_PANIC` (and a log
//!   line when a node is at hand), never an unwind into C;
//! - input buffers are only read during the call; output buffers are written only during the
//!   call; nothing keeps a pointer the caller passed, except the callbacks' `userdata`.
//! - a `*_len_out` argument receives the length written, or on `ATSREUSE_STATUS_BUFFER_TOO_SMALL`
//!   the length needed.
//!
//! Status numbers are fixed forever; enum-typed inputs from C (`kind`, `layout`, a status to
//! name) are taken as `uint32_t` and checked, so an unknown number is an error, not undefined
//! behaviour.

use std::ffi::{c_char, c_void, CStr, CString};
use std::os::unix::ffi::OsStrExt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use atsreuse_core::envelope::{Kind, OpenError, SealError};
use atsreuse_core::keys::{ClusterKeys, KeyError, NodeId, Psk};
use atsreuse_core::session::RecordError;

use crate::config::Config;
use crate::node::{Host, LogLevel, Node, NodeError};
use crate::stats::AtsreuseStats;

mod keyring;
mod legacy;
mod sealed;

pub use keyring::*;
pub use legacy::*;
pub use sealed::*;

/// The result of every call. The numbers are fixed and never reused; 0 is success,
/// 1 a miss that is not an error, 7001 and up are errors.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AtsreuseStatus {
    /// Success.
    Ok = 0,
    /// `atsreuse_node_lookup`: no such session (not an error).
    NotFound = 1,
    /// A required pointer argument is NULL.
    NullArgument = 7001,
    /// An argument is out of its bounds: a session id or DER length, a cluster name that is not
    /// UTF-8, an unknown kind or layout number.
    InvalidArgument = 7002,
    /// An output buffer is too small; the `*_len_out` argument holds the length needed.
    BufferTooSmall = 7003,
    /// The config file cannot be used; the reason (file, line, key) went to the log callback.
    Config = 7004,
    /// The PSK is unusable: empty or longer than 256 bytes, or its file cannot be read.
    Psk = 7005,
    /// The publish queue is full: the session was dropped (and counted).
    QueueFull = 7006,
    /// The node is stopping.
    Stopped = 7007,
    /// A sealed message did not open: authentication failed (tampered, another cluster, or
    /// another PSK).
    OpenFailed = 7008,
    /// A sealed message is older than the freshness window allows.
    Stale = 7009,
    /// Bytes that do not have the shape of the format (too short, too long, trailing bytes).
    Malformed = 7010,
    /// A sealed message with an unknown version byte.
    UnknownVersion = 7011,
    /// A sealed message of another kind than the one expected, or of an unknown kind.
    WrongKind = 7012,
    /// A sealed message issued further in the future than the freshness window allows.
    FromFuture = 7013,
    /// The cluster name is empty or longer than 128 bytes.
    BadClusterName = 7014,
    /// A session id that is empty or longer than 32 bytes.
    BadSessionId = 7015,
    /// A session DER that is empty, too long, or whose length does not match.
    BadDer = 7016,
    /// A STEK with an all-zero part or equal HMAC and AES keys.
    BadStek = 7017,
    /// A keyring entry whose times are out of order.
    KeyringBadTimes = 7018,
    /// A keyring holds no more keys.
    KeyringFull = 7019,
    /// A keyring entry with the same epoch and name is already there.
    KeyringDuplicate = 7020,
    /// A sender's sequence numbers are exhausted.
    SequenceExhausted = 7021,
    /// A keyring whose epoch is not newer than the one held.
    KeyringOldEpoch = 7022,
    /// Legacy codec: bad base64.
    LegacyBase64 = 7030,
    /// Legacy codec: CBC padding wrong (wrong PSK, or tampered).
    LegacyBadPadding = 7031,
    /// Legacy codec: a session frame version other than 2.
    LegacyWrongVersion = 7032,
    /// Legacy codec: a declared DER length that is not the rest of the frame.
    LegacyLengthMismatch = 7033,
    /// Legacy codec: a STEK message that does not hold 48 bytes.
    LegacyBadStekLength = 7034,
    /// A panic inside libatsreuse was caught at the boundary; the call did nothing useful.
    Panic = 7099,
    /// An unexpected internal failure (a thread could not be started, ...); logged.
    Internal = 7100,
}

use AtsreuseStatus as S;

/// What a sealed envelope carries (`kind` arguments take these numbers).
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AtsreuseKind {
    /// A session record.
    Session = 1,
    /// A keyring.
    Keyring = 2,
}

/// The header of an opened envelope.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct AtsreuseHeader {
    /// The sender's node id.
    pub sender: [u8; 16],
    /// The sender's message counter (also the GCM nonce).
    pub sequence: u64,
    /// When it was sealed, seconds since the Unix epoch.
    pub issued_at: u64,
    /// What it carries (an [`AtsreuseKind`] number).
    pub kind: u32,
}

/// A freshness window for opening: messages issued before `now - max_age_secs` or after
/// `now + max_future_secs` are refused. Times are seconds since the Unix epoch.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct AtsreuseFreshness {
    /// The receiver's time.
    pub now: u64,
    /// Oldest accepted age, in seconds.
    pub max_age_secs: u64,
    /// Furthest accepted distance into the future, in seconds.
    pub max_future_secs: u64,
}

/// The fields of a decoded or opened session record other than the DER.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct AtsreuseSessionInfo {
    /// The session id; `id_len` bytes of it are used.
    pub id: [u8; 32],
    /// Length of the session id, 1 to 32.
    pub id_len: usize,
    /// When the sender stops honouring the session, seconds since the Unix epoch.
    pub expires_at: u64,
    /// Length of the DER written to the caller's buffer.
    pub der_len: usize,
}

/// The key schedule of a PSK, a cluster and a node id. These are secrets: only vector runners
/// and tests need them. Erase the struct after use.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct AtsreuseKeySchedule {
    /// Length of the PSK after its trailing newlines are removed.
    pub psk_len: usize,
    /// The purpose key for session records.
    pub sessions_key: [u8; 32],
    /// The purpose key for keyrings.
    pub keyrings_key: [u8; 32],
    /// The node's sender key for session records.
    pub sender_sessions_key: [u8; 32],
    /// The node's sender key for keyrings.
    pub sender_keyrings_key: [u8; 32],
    /// The derived Redis password: 64 lowercase hex characters and a NUL.
    pub redis_password: [c_char; 65],
}

/// A running node (opaque). Made by `atsreuse_node_start`, freed by `atsreuse_node_stop`.
pub struct AtsreuseNode {
    node: Node,
    host: Arc<CHost>,
}

/// Receives a new ATS key block: `len` is a multiple of 48 (name 16, HMAC secret 16, AES key
/// 16 per key), the encrypting key first; this is what `TSSslTicketKeyUpdate` takes. `block` is
/// valid only during the call: copy it. Called from libatsreuse's own threads, and once from
/// inside `atsreuse_node_start` (with the pod's keys when Redis answered within
/// `atsreuse.start_wait_ms`, else with the node's local key); never twice at the same time.
pub type AtsreuseInstallKeysCb =
    Option<unsafe extern "C" fn(userdata: *mut c_void, block: *const u8, len: usize)>;

/// Receives one log line: `line` is NUL-terminated UTF-8 without a newline, valid only during
/// the call. It never holds a key, a PSK or a session's bytes. Called from any thread,
/// possibly from several at once.
pub type AtsreuseLogCb =
    Option<unsafe extern "C" fn(userdata: *mut c_void, level: LogLevel, line: *const c_char)>;

/// What the host gives a node. Copied by `atsreuse_node_start`; the struct itself need not
/// outlive the call, but `userdata` and the functions must stay valid until
/// `atsreuse_node_stop` returns.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct AtsreuseCallbacks {
    /// Passed back to every callback, untouched. libatsreuse calls the callbacks from its own
    /// threads: whatever `userdata` points to must be safe to use from any thread (the C side
    /// guarantees that).
    pub userdata: *mut c_void,
    /// May be NULL: no keys are handed out.
    pub install_keys: AtsreuseInstallKeysCb,
    /// May be NULL: nothing is logged.
    pub log: AtsreuseLogCb,
}

/// The C callbacks as a [`Host`].
struct CHost {
    userdata: *mut c_void,
    install_keys: AtsreuseInstallKeysCb,
    log: AtsreuseLogCb,
}

// SAFETY: the pointer is only passed back to the C callbacks, never dereferenced here; the
// header's contract makes the C side responsible for the thread safety of what it points to.
unsafe impl Send for CHost {}
// SAFETY: as for Send: CHost has no interior state of its own.
unsafe impl Sync for CHost {}

impl Host for CHost {
    fn install_keys(&self, block: &[u8]) {
        if let Some(f) = self.install_keys {
            // SAFETY: the C side promised a valid function; the block outlives the call.
            unsafe { f(self.userdata, block.as_ptr(), block.len()) }
        }
    }

    fn log(&self, level: LogLevel, line: &str) {
        let Some(f) = self.log else { return };
        // An interior NUL would cut the line short in C: replace it.
        let text = CString::new(line.replace('\0', " ")).unwrap_or_default();
        // SAFETY: the C side promised a valid function; the string outlives the call.
        unsafe { f(self.userdata, level, text.as_ptr()) }
    }
}

/// Runs `body` inside the panic boundary; a panic is logged on `host` when there is one.
fn boundary(name: &str, host: Option<&dyn Host>, body: impl FnOnce() -> Result<S, S>) -> S {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(status)) | Ok(Err(status)) => status,
        Err(payload) => {
            if let Some(host) = host {
                let why = payload
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown".to_owned());
                // A panicking log callback would be C unwinding, which cannot happen; this
                // call is outside any other catch, so keep it simple.
                host.log(
                    LogLevel::Error,
                    &format!("{name}: internal panic caught: {why}"),
                );
            }
            S::Panic
        }
    }
}

/// A byte slice from C. NULL is refused whatever the length.
///
/// # Safety
/// `ptr` must point to `len` readable bytes that stay unchanged during the call.
unsafe fn input<'a>(ptr: *const u8, len: usize) -> Result<&'a [u8], S> {
    if ptr.is_null() {
        return Err(S::NullArgument);
    }
    if len > isize::MAX as usize {
        return Err(S::InvalidArgument);
    }
    // SAFETY: non-NULL and the caller promised `len` readable bytes.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// A writable byte buffer from C. NULL is refused whatever the capacity.
///
/// # Safety
/// `ptr` must point to `cap` writable bytes that nothing else uses during the call.
unsafe fn output<'a>(ptr: *mut u8, cap: usize) -> Result<&'a mut [u8], S> {
    if ptr.is_null() {
        return Err(S::NullArgument);
    }
    if cap > isize::MAX as usize {
        return Err(S::InvalidArgument);
    }
    // SAFETY: non-NULL and the caller promised `cap` writable bytes.
    Ok(unsafe { std::slice::from_raw_parts_mut(ptr, cap) })
}

/// A writable struct from C.
///
/// # Safety
/// `ptr` must be NULL or point to a writable, aligned `T`.
unsafe fn out_ref<'a, T>(ptr: *mut T) -> Result<&'a mut T, S> {
    // SAFETY: the caller promised an aligned writable T when non-NULL.
    unsafe { ptr.as_mut() }.ok_or(S::NullArgument)
}

/// A NUL-terminated UTF-8 string from C.
///
/// # Safety
/// `ptr` must be NULL or point to a NUL-terminated string that stays unchanged during the call.
unsafe fn text<'a>(ptr: *const c_char) -> Result<&'a str, S> {
    if ptr.is_null() {
        return Err(S::NullArgument);
    }
    // SAFETY: non-NULL and the caller promised a NUL-terminated string.
    unsafe { CStr::from_ptr(ptr) }
        .to_str()
        .map_err(|_| S::InvalidArgument)
}

/// Sixteen bytes from C.
///
/// # Safety
/// As [`input`] with a length of 16.
unsafe fn node_id(ptr: *const u8) -> Result<NodeId, S> {
    // SAFETY: forwarded contract.
    let bytes = unsafe { input(ptr, 16) }?;
    let mut id = [0u8; 16];
    id.copy_from_slice(bytes);
    Ok(NodeId(id))
}

/// Writes `len` to `len_out` and returns `status`.
fn with_len(len_out: &mut usize, len: usize, status: S) -> Result<S, S> {
    *len_out = len;
    Ok(status)
}

/// The three arguments of a call that turns one byte string into another: the input, the
/// output buffer and where its length goes, checked in that order (the first bad one decides
/// the status).
///
/// # Safety
/// As [`input`], [`output`] and [`out_ref`].
unsafe fn in_out<'a>(
    data: *const u8,
    data_len: usize,
    out: *mut u8,
    out_cap: usize,
    out_len: *mut usize,
) -> Result<(&'a [u8], &'a mut [u8], &'a mut usize), S> {
    // SAFETY: forwarded contract.
    unsafe {
        Ok((
            input(data, data_len)?,
            output(out, out_cap)?,
            out_ref(out_len)?,
        ))
    }
}

/// Runs `write` on `buf` and reports the length it wrote. When `needed`, the length the
/// output will take, is given and `buf` is shorter, nothing is written: `needed` goes to
/// `len_out` with `BufferTooSmall`, so the caller can retry with a buffer of that size.
/// Callers pass `None` where the input is itself invalid, so that `write` reports the input
/// error rather than a size request.
fn write_sized(
    buf: &mut [u8],
    len_out: &mut usize,
    needed: Option<usize>,
    write: impl FnOnce(&mut [u8]) -> Result<usize, S>,
) -> Result<S, S> {
    if let Some(needed) = needed.filter(|&needed| buf.len() < needed) {
        return with_len(len_out, needed, S::BufferTooSmall);
    }
    let n = write(buf)?;
    with_len(len_out, n, S::Ok)
}

fn kind_from(kind: u32) -> Result<Kind, S> {
    match kind {
        1 => Ok(Kind::Session),
        2 => Ok(Kind::Keyring),
        _ => Err(S::InvalidArgument),
    }
}

/// The cluster keys from PSK file bytes and a cluster name.
///
/// # Safety
/// As [`input`] and [`text`].
unsafe fn cluster_keys(
    psk: *const u8,
    psk_len: usize,
    cluster: *const c_char,
) -> Result<ClusterKeys, S> {
    // SAFETY: forwarded contract.
    let (psk, cluster) = unsafe { (input(psk, psk_len)?, text(cluster)?) };
    let psk = Psk::from_file_bytes(psk).map_err(S::from)?;
    ClusterKeys::derive(&psk, cluster).map_err(S::from)
}

impl From<KeyError> for AtsreuseStatus {
    fn from(e: KeyError) -> S {
        match e {
            KeyError::EmptyPsk | KeyError::PskTooLong => S::Psk,
            KeyError::BadClusterName => S::BadClusterName,
            _ => S::Internal,
        }
    }
}

impl From<OpenError> for AtsreuseStatus {
    fn from(e: OpenError) -> S {
        match e {
            OpenError::Malformed => S::Malformed,
            OpenError::UnknownVersion => S::UnknownVersion,
            OpenError::WrongKind => S::WrongKind,
            OpenError::BadTag => S::OpenFailed,
            OpenError::TooOld => S::Stale,
            OpenError::FromFuture => S::FromFuture,
            OpenError::BufferTooSmall => S::BufferTooSmall,
            _ => S::Internal,
        }
    }
}

impl From<SealError> for AtsreuseStatus {
    fn from(e: SealError) -> S {
        match e {
            SealError::TooLong => S::InvalidArgument,
            SealError::BufferTooSmall => S::BufferTooSmall,
            SealError::SequenceExhausted => S::SequenceExhausted,
            _ => S::Internal,
        }
    }
}

impl From<RecordError> for AtsreuseStatus {
    fn from(e: RecordError) -> S {
        match e {
            RecordError::BadId => S::BadSessionId,
            RecordError::BadDer => S::BadDer,
            RecordError::Malformed => S::Malformed,
            RecordError::BufferTooSmall => S::BufferTooSmall,
            _ => S::Internal,
        }
    }
}

impl From<NodeError> for AtsreuseStatus {
    fn from(e: NodeError) -> S {
        match e {
            NodeError::Config(_) => S::Config,
            NodeError::Psk(_) => S::Psk,
            NodeError::BadArgument(_) => S::InvalidArgument,
            NodeError::QueueFull => S::QueueFull,
            NodeError::BufferTooSmall(_) => S::BufferTooSmall,
            NodeError::Stopped => S::Stopped,
            NodeError::Spawn(_) => S::Internal,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The node
// ---------------------------------------------------------------------------------------------

/// Loads the config file at `config_path` and starts a node. It waits, at most
/// `atsreuse.start_wait_ms` (1500 ms by default, 0 = not at all), for the pod's stored keyring;
/// before it returns, `install_keys` has been called once: with the pod's keys when Redis
/// answered in time, else with a local key, so the host can issue tickets at once. The node's
/// threads go on connecting to Redis in the background.
///
/// On success `*node_out` receives the node, to be freed with `atsreuse_node_stop`. On failure
/// `*node_out` is set to NULL and the reason went to the log callback: a config error names the
/// file, the line and the key (`ATSREUSE_STATUS_CONFIG`); `ATSREUSE_STATUS_PSK` when the PSK file
/// is unusable. Notices about the config (ignored old keys, a PSK file others can read) are
/// logged once by the starting node.
///
/// `callbacks` may be NULL (no keys handed out, nothing logged); it is copied.
/// Thread rules: start and stop a node from any one thread, never concurrently with each other.
///
/// # Safety
/// `config_path` is a NUL-terminated path; `callbacks`, when not NULL, points to a valid
/// struct whose functions and `userdata` stay valid until `atsreuse_node_stop` returns;
/// `node_out` points to writable storage for a pointer.
#[no_mangle]
pub unsafe extern "C" fn atsreuse_node_start(
    config_path: *const c_char,
    callbacks: *const AtsreuseCallbacks,
    node_out: *mut *mut AtsreuseNode,
) -> AtsreuseStatus {
    // SAFETY: the caller promised a readable struct when non-NULL.
    let host = Arc::new(match unsafe { callbacks.as_ref() } {
        Some(c) => CHost {
            userdata: c.userdata,
            install_keys: c.install_keys,
            log: c.log,
        },
        None => CHost {
            userdata: std::ptr::null_mut(),
            install_keys: None,
            log: None,
        },
    });
    let log_host = host.clone();
    boundary("atsreuse_node_start", Some(log_host.as_ref()), move || {
        // SAFETY: the caller's contract for node_out.
        let node_out = unsafe { out_ref(node_out) }?;
        *node_out = std::ptr::null_mut();
        if config_path.is_null() {
            return Err(S::NullArgument);
        }
        // A Unix path is bytes, not necessarily UTF-8: take it as it is, so a config file
        // whose path is not UTF-8 still loads, and any error names the path (lossily).
        // SAFETY: non-NULL, and the caller promised a NUL-terminated string.
        let bytes = unsafe { CStr::from_ptr(config_path) }.to_bytes();
        let path = std::path::Path::new(std::ffi::OsStr::from_bytes(bytes));
        let config = match Config::load(path) {
            Ok(config) => config,
            Err(e) => {
                host.log(LogLevel::Error, &format!("config not loaded: {e}"));
                return Err(S::Config);
            }
        };
        // The config's notices (ignored keys, PSK file warnings) are logged once by
        // Node::start itself.
        let node = match Node::start(config, host.clone()) {
            Ok(node) => node,
            Err(e) => {
                host.log(
                    LogLevel::Error,
                    &format!("node not started: {}", describe(&e)),
                );
                return Err(S::from(e));
            }
        };
        *node_out = Box::into_raw(Box::new(AtsreuseNode { node, host }));
        Ok(S::Ok)
    })
}

/// A node error in words, for the log.
fn describe(e: &NodeError) -> String {
    match e {
        NodeError::Config(s) => format!("config: {s}"),
        NodeError::Psk(s) => format!("PSK: {s}"),
        NodeError::BadArgument(s) => format!("bad argument: {s}"),
        NodeError::QueueFull => "publish queue full".to_owned(),
        NodeError::BufferTooSmall(n) => format!("buffer too small, {n} bytes needed"),
        NodeError::Stopped => "stopped".to_owned(),
        NodeError::Spawn(e) => format!("cannot start a thread: {e}"),
    }
}

/// The node behind a handle.
///
/// # Safety
/// `node` is NULL or a handle from `atsreuse_node_start` not yet stopped.
unsafe fn node_ref<'a>(node: *const AtsreuseNode) -> Result<&'a AtsreuseNode, S> {
    // SAFETY: the caller's contract.
    unsafe { node.as_ref() }.ok_or(S::NullArgument)
}

/// Hands a new TLS session to the pod: copies `id` (1 to 32 bytes) and `der` (the DER of the
/// `SSL_SESSION`, 1 to 10240 bytes) into the node's bounded queue and returns; it never waits
/// for Redis. `ATSREUSE_STATUS_QUEUE_FULL`: the queue is full, the session was dropped and
/// counted. The buffers are only read during the call.
///
/// Thread rules: any thread, concurrently with lookup, stats and rotate_now.
///
/// # Safety
/// `node` is a live handle; `id` and `der` point to `id_len` and `der_len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn atsreuse_node_publish(
    node: *mut AtsreuseNode,
    id: *const u8,
    id_len: usize,
    der: *const u8,
    der_len: usize,
) -> AtsreuseStatus {
    // SAFETY: the caller's contract.
    let Ok(handle) = (unsafe { node_ref(node) }) else {
        return S::NullArgument;
    };
    boundary("atsreuse_node_publish", Some(handle.host.as_ref()), || {
        // SAFETY: the caller's contract.
        let (id, der) = unsafe { (input(id, id_len)?, input(der, der_len)?) };
        handle.node.publish(id, der).map_err(S::from)?;
        Ok(S::Ok)
    })
}

/// Looks a session id up in the node's session map (filled from the pod). On a hit the DER is
/// copied to `der_out` and its length to `*der_len_out`; on a miss `ATSREUSE_STATUS_NOT_FOUND`
/// and `*der_len_out` = 0; when `der_cap` is too small, `ATSREUSE_STATUS_BUFFER_TOO_SMALL` and
/// `*der_len_out` holds the length needed. A map read: it never waits for Redis.
///
/// Thread rules: any thread, concurrently with publish, stats and rotate_now.
///
/// # Safety
/// `node` is a live handle; `id` points to `id_len` readable bytes; `der_out` to `der_cap`
/// writable bytes; `der_len_out` to a writable `size_t`.
#[no_mangle]
pub unsafe extern "C" fn atsreuse_node_lookup(
    node: *mut AtsreuseNode,
    id: *const u8,
    id_len: usize,
    der_out: *mut u8,
    der_cap: usize,
    der_len_out: *mut usize,
) -> AtsreuseStatus {
    // SAFETY: the caller's contract.
    let Ok(handle) = (unsafe { node_ref(node) }) else {
        return S::NullArgument;
    };
    boundary("atsreuse_node_lookup", Some(handle.host.as_ref()), || {
        // SAFETY: the caller's contract.
        let (id, out, len_out) = unsafe {
            (
                input(id, id_len)?,
                output(der_out, der_cap)?,
                out_ref(der_len_out)?,
            )
        };
        match handle.node.lookup(id, out) {
            Ok(Some(n)) => with_len(len_out, n, S::Ok),
            Ok(None) => with_len(len_out, 0, S::NotFound),
            Err(NodeError::BufferTooSmall(n)) => with_len(len_out, n, S::BufferTooSmall),
            Err(e) => Err(S::from(e)),
        }
    })
}

/// Copies a snapshot of the node's counters and gauges to `*stats_out`. Atomic loads only.
///
/// Thread rules: any thread, concurrently with publish, lookup and rotate_now.
///
/// # Safety
/// `node` is a live handle; `stats_out` points to a writable `atsreuse_stats`.
#[no_mangle]
pub unsafe extern "C" fn atsreuse_node_stats(
    node: *mut AtsreuseNode,
    stats_out: *mut AtsreuseStats,
) -> AtsreuseStatus {
    // SAFETY: the caller's contract.
    let Ok(handle) = (unsafe { node_ref(node) }) else {
        return S::NullArgument;
    };
    boundary("atsreuse_node_stats", Some(handle.host.as_ref()), || {
        // SAFETY: the caller's contract.
        let out = unsafe { out_ref(stats_out) }?;
        *out = handle.node.stats();
        Ok(S::Ok)
    })
}

/// Asks the pod to rotate now: the node holding the rotation lease (this one or another)
/// introduces a new key at once. Returns after setting a flag; the rotation happens on the
/// node's threads.
///
/// Thread rules: any thread, concurrently with publish, lookup and stats.
///
/// # Safety
/// `node` is a live handle.
#[no_mangle]
pub unsafe extern "C" fn atsreuse_node_rotate_now(node: *mut AtsreuseNode) -> AtsreuseStatus {
    // SAFETY: the caller's contract.
    let Ok(handle) = (unsafe { node_ref(node) }) else {
        return S::NullArgument;
    };
    boundary(
        "atsreuse_node_rotate_now",
        Some(handle.host.as_ref()),
        || {
            handle.node.rotate_now().map_err(S::from)?;
            Ok(S::Ok)
        },
    )
}

/// Stops the node's threads, waits for them, and frees the node. NULL is a no-op. After it
/// returns no callback is called any more and the handle is invalid.
///
/// Thread rules: call it once, from any thread, when no other call on the same handle is
/// running or can start.
///
/// # Safety
/// `node` is NULL or a live handle, not used again afterwards.
#[no_mangle]
pub unsafe extern "C" fn atsreuse_node_stop(node: *mut AtsreuseNode) {
    if node.is_null() {
        return;
    }
    // SAFETY: the caller hands back a pointer made by Box::into_raw in atsreuse_node_start.
    let handle = unsafe { Box::from_raw(node) };
    let host = handle.host.clone();
    boundary("atsreuse_node_stop", Some(host.as_ref()), move || {
        handle.node.stop();
        Ok(S::Ok)
    });
}

/// The name of a status, as a static NUL-terminated English string; never NULL. An unknown
/// number gives "unknown status". Any thread.
#[no_mangle]
pub extern "C" fn atsreuse_status_str(status: u32) -> *const c_char {
    status_str(status).as_ptr()
}

fn status_str(status: u32) -> &'static CStr {
    match status {
        0 => c"ok",
        1 => c"not found",
        7001 => c"null argument",
        7002 => c"invalid argument",
        7003 => c"buffer too small",
        7004 => c"config file unusable (see the log)",
        7005 => c"PSK unusable",
        7006 => c"publish queue full: session dropped",
        7007 => c"node stopped",
        7008 => c"did not open: authentication failed (tampered, other cluster or other PSK)",
        7009 => c"stale: older than the freshness window",
        7010 => c"malformed",
        7011 => c"unknown format version",
        7012 => c"wrong or unknown message kind",
        7013 => c"from the future: beyond the freshness window",
        7014 => c"bad cluster name",
        7015 => c"bad session id length",
        7016 => c"bad session DER",
        7017 => c"bad STEK (all-zero part or equal secrets)",
        7018 => c"keyring entry times out of order",
        7019 => c"keyring full",
        7020 => c"keyring entry already present",
        7021 => c"sender sequence exhausted",
        7022 => c"keyring epoch not newer than the one held",
        7030 => c"legacy: bad base64",
        7031 => c"legacy: bad CBC padding (wrong PSK or tampered)",
        7032 => c"legacy: wrong session frame version",
        7033 => c"legacy: DER length mismatch",
        7034 => c"legacy: STEK message is not 48 bytes",
        7099 => c"internal panic caught",
        7100 => c"internal error",
        _ => c"unknown status",
    }
}

/// `sizeof(atsreuse_stats)` as this library was built. A caller compiled against another header
/// sees a different number from its own `sizeof`: check it once at start and refuse to run
/// with a mismatched library. Any thread.
#[no_mangle]
pub extern "C" fn atsreuse_stats_size() -> usize {
    std::mem::size_of::<AtsreuseStats>()
}

/// The library version, a static NUL-terminated string such as "0.1.0". Any thread.
#[no_mangle]
pub extern "C" fn atsreuse_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// A host that records log lines.
    #[derive(Default)]
    struct Recorder(Mutex<Vec<(LogLevel, String)>>);

    impl Host for Recorder {
        fn install_keys(&self, _block: &[u8]) {}
        fn log(&self, level: LogLevel, line: &str) {
            self.0.lock().unwrap().push((level, line.to_owned()));
        }
    }

    #[test]
    fn a_panic_becomes_the_panic_status_and_a_log_line() {
        let host = Recorder::default();
        let status = boundary("atsreuse_test", Some(&host), || panic!("boom {}", 7));
        assert_eq!(status, S::Panic);
        let lines = host.0.lock().unwrap();
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].0, LogLevel::Error);
        assert!(
            lines[0].1.contains("atsreuse_test") && lines[0].1.contains("boom 7"),
            "{}",
            lines[0].1
        );
        assert_eq!(boundary("x", None, || panic!("no host")), S::Panic);
    }

    #[test]
    fn errors_and_successes_pass_through_the_boundary() {
        assert_eq!(boundary("x", None, || Ok(S::NotFound)), S::NotFound);
        assert_eq!(boundary("x", None, || Err(S::BadDer)), S::BadDer);
    }

    #[test]
    fn every_status_has_its_own_name_and_unknown_numbers_have_one_too() {
        let all = [
            S::Ok,
            S::NotFound,
            S::NullArgument,
            S::InvalidArgument,
            S::BufferTooSmall,
            S::Config,
            S::Psk,
            S::QueueFull,
            S::Stopped,
            S::OpenFailed,
            S::Stale,
            S::Malformed,
            S::UnknownVersion,
            S::WrongKind,
            S::FromFuture,
            S::BadClusterName,
            S::BadSessionId,
            S::BadDer,
            S::BadStek,
            S::KeyringBadTimes,
            S::KeyringFull,
            S::KeyringDuplicate,
            S::SequenceExhausted,
            S::KeyringOldEpoch,
            S::LegacyBase64,
            S::LegacyBadPadding,
            S::LegacyWrongVersion,
            S::LegacyLengthMismatch,
            S::LegacyBadStekLength,
            S::Panic,
            S::Internal,
        ];
        let unknown = status_str(4242);
        assert_eq!(unknown.to_str().unwrap(), "unknown status");
        let mut seen = std::collections::HashSet::new();
        for s in all {
            let name = status_str(s as u32);
            assert_ne!(name, unknown, "{s:?} has no name");
            assert!(seen.insert(name), "{s:?} shares its name");
        }
        assert!(!atsreuse_status_str(u32::MAX).is_null());
    }

    #[test]
    fn the_c_host_replaces_nul_bytes_and_tolerates_missing_callbacks() {
        unsafe extern "C" fn log(userdata: *mut c_void, _level: LogLevel, line: *const c_char) {
            // SAFETY: the test passes a Mutex<String> and a NUL-terminated line.
            let (out, line) =
                unsafe { (&*(userdata as *const Mutex<String>), CStr::from_ptr(line)) };
            *out.lock().unwrap() = line.to_string_lossy().into_owned();
        }
        let seen = Mutex::new(String::new());
        let host = CHost {
            userdata: &seen as *const _ as *mut c_void,
            install_keys: None,
            log: Some(log),
        };
        host.log(LogLevel::Info, "a\0b");
        assert_eq!(*seen.lock().unwrap(), "a b");
        host.install_keys(&[0u8; 48]);
        let silent = CHost {
            userdata: std::ptr::null_mut(),
            install_keys: None,
            log: None,
        };
        silent.log(LogLevel::Error, "nobody listens");
    }

    #[test]
    fn a_config_path_that_is_not_utf8_is_read_and_its_errors_are_logged() {
        unsafe extern "C" fn log(userdata: *mut c_void, _level: LogLevel, line: *const c_char) {
            // SAFETY: the test passes a Mutex<Vec<String>> and a NUL-terminated line.
            let (out, line) = unsafe {
                (
                    &*(userdata as *const Mutex<Vec<String>>),
                    CStr::from_ptr(line),
                )
            };
            out.lock()
                .unwrap()
                .push(line.to_string_lossy().into_owned());
        }
        let dir = std::env::temp_dir().join(format!("atsreuse-ffi-path-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // "caf\xe9.config": Latin-1, not UTF-8. The file lacks the cluster name, so a load
        // that reads it fails with that reason (and one that never reads it does not).
        let mut name = dir.as_os_str().as_bytes().to_vec();
        name.extend_from_slice(b"/caf\xe9.config");
        let path = std::path::PathBuf::from(std::ffi::OsStr::from_bytes(&name));
        std::fs::write(&path, "ssl_session.redis_auth_key_file=psk\n").unwrap();
        let c_path = CString::new(name).unwrap();
        let lines: Mutex<Vec<String>> = Mutex::new(Vec::new());
        let callbacks = AtsreuseCallbacks {
            userdata: &lines as *const _ as *mut c_void,
            install_keys: None,
            log: Some(log),
        };
        let mut node = std::ptr::NonNull::<AtsreuseNode>::dangling().as_ptr();
        // SAFETY: valid path, callbacks and output pointer for the duration of the call.
        let status = unsafe { atsreuse_node_start(c_path.as_ptr(), &callbacks, &mut node) };
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(status, S::Config);
        assert!(node.is_null());
        let lines = lines.lock().unwrap();
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(
            lines[0].contains("caf") && lines[0].contains("ssl_session.ClusterName: missing"),
            "{lines:?}"
        );
    }

    #[test]
    fn null_pointers_are_refused_before_anything_is_read() {
        let mut len = 0usize;
        let mut buf = [0u8; 128];
        // SAFETY: every pointer passed is NULL or valid for the length given.
        unsafe {
            assert_eq!(
                atsreuse_node_publish(std::ptr::null_mut(), buf.as_ptr(), 1, buf.as_ptr(), 1),
                S::NullArgument
            );
            assert_eq!(
                atsreuse_node_rotate_now(std::ptr::null_mut()),
                S::NullArgument
            );
            atsreuse_node_stop(std::ptr::null_mut());
            assert_eq!(
                atsreuse_session_record_encode(
                    std::ptr::null(),
                    0,
                    buf.as_ptr(),
                    1,
                    0,
                    buf.as_mut_ptr(),
                    128,
                    &mut len
                ),
                S::NullArgument
            );
            assert_eq!(
                atsreuse_stek_export(
                    buf.as_ptr(),
                    buf.as_ptr(),
                    std::ptr::null(),
                    1,
                    buf.as_mut_ptr(),
                    128,
                    &mut len
                ),
                S::NullArgument
            );
            assert_eq!(
                atsreuse_legacy_base64_decode(
                    b"AAAA".as_ptr(),
                    4,
                    buf.as_mut_ptr(),
                    128,
                    std::ptr::null_mut()
                ),
                S::NullArgument
            );
            assert_eq!(
                atsreuse_keyring_build(std::ptr::null(), 0, buf.as_mut_ptr(), 128, &mut len),
                S::NullArgument
            );
        }
    }

    #[test]
    fn unknown_kinds_and_layouts_are_invalid_arguments() {
        assert_eq!(kind_from(0).unwrap_err(), S::InvalidArgument);
        assert_eq!(kind_from(3).unwrap_err(), S::InvalidArgument);
        assert_eq!(layout_from(0).unwrap_err(), S::InvalidArgument);
        assert_eq!(layout_from(6).unwrap_err(), S::InvalidArgument);
        assert_eq!(atsreuse_stats_size(), std::mem::size_of::<AtsreuseStats>());
    }

    #[test]
    fn random_bytes_into_every_decoder_give_an_error_never_a_panic() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let psk = b"random-input-psk-0123456789\n";
        let cluster = c"pod";
        let mut out = vec![0u8; 64 * 1024];
        let mut len = 0usize;
        let mut header = AtsreuseHeader::default();
        let mut info = AtsreuseSessionInfo::default();
        let mut entries = [AtsreuseKeyringEntry::default(); 8];
        for round in 0..3000 {
            let n = rng.gen_range(0..if round % 10 == 0 { 20_000 } else { 400 });
            let mut input: Vec<u8> = (0..n).map(|_| rng.gen()).collect();
            if round % 3 == 0 && n > 2 {
                // A plausible envelope header, so the checks past the first bytes run too.
                input[0] = 1;
                input[1] = rng.gen_range(0..4);
            }
            let (p, l, o, cap) = (input.as_ptr(), input.len(), out.as_mut_ptr(), out.len());
            // SAFETY: every pointer is valid for the length passed with it.
            let results = unsafe {
                [
                    atsreuse_envelope_open(
                        psk.as_ptr(),
                        psk.len(),
                        cluster.as_ptr(),
                        1,
                        p,
                        l,
                        std::ptr::null(),
                        o,
                        cap,
                        &mut len,
                        &mut header,
                    ),
                    atsreuse_session_open(
                        psk.as_ptr(),
                        psk.len(),
                        cluster.as_ptr(),
                        p,
                        l,
                        std::ptr::null(),
                        o,
                        cap,
                        &mut info,
                        &mut header,
                    ),
                    atsreuse_session_record_decode(p, l, o, cap, &mut info),
                    atsreuse_keyring_open(
                        psk.as_ptr(),
                        psk.len(),
                        cluster.as_ptr(),
                        p,
                        l,
                        std::ptr::null(),
                        o,
                        cap,
                        &mut len,
                        &mut header,
                    ),
                    atsreuse_keyring_entries(p, l, entries.as_mut_ptr(), 8, &mut len),
                    atsreuse_keyring_ats_block(p, l, 0, o, cap, &mut len),
                    atsreuse_legacy_session_decode(psk.as_ptr(), psk.len(), p, l, o, cap, &mut len),
                    atsreuse_legacy_stek_decode(psk.as_ptr(), psk.len(), p, l, o),
                    atsreuse_legacy_session_id_decode(p, l, o, &mut len),
                    atsreuse_legacy_base64_decode(p, l, o, cap, &mut len),
                ]
            };
            for (i, status) in results.iter().enumerate() {
                assert!(
                    !matches!(status, S::Panic | S::Internal),
                    "decoder {i} gave {status:?} on {n} random bytes"
                );
            }
        }
    }
}
