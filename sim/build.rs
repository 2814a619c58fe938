//! Build script of `conclave-sim`: records the compiler's version for `manifest.json`.
//!
//! Sets `CONCLAVE_RUSTC_VERSION` to the output of `$RUSTC --version` (for example
//! `rustc 1.86.0 (05f9846f8 2025-03-31)`), or to `unknown` if that cannot be run. It never fails
//! the build.

use std::process::Command;

fn rustc_version() -> Option<String> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let out = Command::new(rustc).arg("--version").output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    // One line only: an env var set through `cargo:` directives cannot hold a newline.
    let line = text.lines().next()?.trim().to_owned();
    (!line.is_empty()).then_some(line)
}

fn main() {
    let version = rustc_version().unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=CONCLAVE_RUSTC_VERSION={version}");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=RUSTC");
}
