//! The `atsreuse` operator command (skeleton).
fn main() {}
