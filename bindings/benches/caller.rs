//! Cost of `publish` and `lookup` on the caller's thread.
fn main() {}
