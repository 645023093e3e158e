//! Helpers every task shares: the workspace root, `cargo` and other commands run as steps,
//! the Cortex-M target.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

pub type Result<T = ()> = std::result::Result<T, String>;

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

pub fn cargo() -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(root());
    c
}

pub fn run(step: &str, mut c: Command) -> Result {
    let t = Instant::now();
    println!("==> {step}");
    let status = c
        .status()
        .map_err(|e| format!("{step}: cannot start: {e}"))?;
    if status.success() {
        println!("    ok: {step} ({:.1}s)", t.elapsed().as_secs_f64());
        Ok(())
    } else {
        Err(format!("{step}: failed ({status})"))
    }
}

pub fn output(mut c: Command) -> Result<String> {
    let out = c.output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

pub const THUMB: &str = "thumbv7em-none-eabihf";

/// The no_std library crates as the microcontroller builds them (pure-Rust backend, the
/// device's embedded-io serving, the ATECC608 signer): one selection for CI's thumb build and
/// its clippy run.
pub const THUMB_CRATES: [&str; 13] = [
    "-p",
    "tokenguard",
    "-p",
    "tokenguard-device",
    "-p",
    "tokenguard-atecc",
    "-p",
    "tokenguard-limbs",
    "--no-default-features",
    "--features",
    "tokenguard/rustcrypto,tokenguard-device/embedded-io",
    "--target",
    THUMB,
];

/// Installs the Cortex-M target if it is missing.
pub fn ensure_target() -> Result {
    let mut c = Command::new("rustup");
    c.args(["target", "list", "--installed"]);
    let installed = output(c).unwrap_or_default();
    if installed.lines().any(|l| l.trim() == THUMB) {
        return Ok(());
    }
    let mut c = Command::new("rustup");
    c.args(["target", "add", THUMB]);
    run("rustup target add thumbv7em-none-eabihf", c)
}
