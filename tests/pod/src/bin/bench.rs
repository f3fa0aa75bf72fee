//! `atsreuse-bench` (being written).
fn main() {}
