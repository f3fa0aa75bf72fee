//! A pod of real Apache Traffic Server nodes on loopback, for the demo, the end-to-end tests
//! and the benchmarks: one `redis-server`, N ATS nodes loading the atsreuse plugin, and
//! control nodes without it, each a private instance in a temporary directory (the recipe is
//! in ATS-SANDBOX.md). Every process is killed when its owner is dropped, on Ctrl-C and on
//! SIGTERM.

pub mod ats;
pub mod cert;
pub mod net;
pub mod pod;
pub mod process;
pub mod redis;
pub mod resume;

pub use ats::{AtsNode, Launch, NodeSpec};
pub use pod::{
    legacy_config, operator_command, plugin_path, plugin_stat, run_operator, ConfigStyle, Pod,
    PodOptions, RotateVia,
};
pub use redis::RedisServer;
pub use resume::{cross_node, Outcome};
