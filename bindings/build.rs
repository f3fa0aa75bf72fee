//! Gives the shared library a SONAME, so that a program linked to it records
//! `libatsreuse.so.0` (the installed name) rather than the path it was linked from.

fn main() {
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if os == "linux" {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libatsreuse.so.0");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
