//! libatsreuse: shares TLS sessions and session-ticket keys across a pod of ATS nodes through
//! Redis, on its own threads, behind a C API.
//!
//! - [`config`]: the key=value config file (the old plugin's keys and ours).
//! - [`node`]: a running node: publish, lookup, stats, rotate, stop.
//! - [`stats`]: the counters and gauges a node keeps.
//! - [`ffi`]: the C API (`atsreuse_*`), the header is generated from it.

pub mod clock;
pub mod config;
pub mod dist;
pub mod ffi;
pub mod leader;
pub mod map;
pub mod node;
pub mod stats;
