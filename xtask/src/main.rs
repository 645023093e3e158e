//! `cargo xtask <command>`: the project's automation, with no dependencies.
//!
//! - `ci`: everything CI runs (installs what is missing, idempotently).
//! - `test`: the test suites only.
//! - `demo`: the simulator's end-to-end demo.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

type Result<T = ()> = std::result::Result<T, String>;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

fn cargo() -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(root());
    c
}

fn run(step: &str, mut c: Command) -> Result {
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

fn output(mut c: Command) -> Result<String> {
    let out = c.output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

const THUMB: &str = "thumbv7em-none-eabihf";

/// Installs the Cortex-M target if it is missing.
fn ensure_target() -> Result {
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

fn vectors_present() -> Result {
    let v = std::env::var("TOKENGUARD_VECTORS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root().join("../shared/vectors"));
    if v.join("jwt-negative-vectors.json").exists() {
        Ok(())
    } else {
        Err(format!(
            "test vectors not found at {} (set TOKENGUARD_VECTORS)",
            v.display()
        ))
    }
}

fn tests() -> Result {
    vectors_present()?;
    let mut c = cargo();
    c.args(["test", "--workspace", "--exclude", "tokenguard-benches"]);
    run("tests (all members, both backends)", c)?;
    let mut c = cargo();
    c.args([
        "test",
        "-p",
        "tokenguard",
        "--no-default-features",
        "--features",
        "ring,serde",
    ]);
    run("core tests with the ring backend alone", c)?;
    let mut c = cargo();
    c.args([
        "test",
        "-p",
        "tokenguard",
        "--no-default-features",
        "--features",
        "rustcrypto",
    ]);
    run(
        "core tests with rustcrypto alone, 2048-bit RSA cap, no serde",
        c,
    )
}

fn firmware_link_check() -> Result {
    ensure_target()?;
    let mut c = cargo();
    c.args([
        "build",
        "-p",
        "tokenguard",
        "--no-default-features",
        "--features",
        "rustcrypto",
        "--target",
        THUMB,
    ]);
    run("core for thumbv7em-none-eabihf (pure-Rust backend)", c)?;
    let mut c = cargo();
    c.current_dir(root().join("firmware"))
        .args(["build", "--release"]);
    run("firmware image (links with no global allocator)", c)?;
    let elf = root()
        .join("firmware/target")
        .join(THUMB)
        .join("release/tokenguard-firmware");
    let mut c = Command::new("nm");
    c.arg(&elf);
    let syms = output(c)?;
    let alloc: Vec<&str> = syms
        .lines()
        .filter(|l| {
            [
                "__rust_alloc",
                "__rg_alloc",
                "__rust_alloc_error_handler",
                "__rust_no_alloc_shim",
            ]
            .iter()
            .any(|s| l.contains(s))
        })
        .collect();
    if !alloc.is_empty() {
        return Err(format!("firmware ELF has allocator symbols: {alloc:?}"));
    }
    println!("    ok: no allocator symbols in {}", elf.display());
    Ok(())
}

fn ci() -> Result {
    let t = Instant::now();
    let mut c = cargo();
    c.args(["fmt", "--all", "--", "--check"]);
    run("cargo fmt --check", c)?;
    let mut c = cargo();
    c.args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]);
    run("clippy -D warnings (all targets)", c)?;
    let mut c = cargo();
    c.args([
        "clippy",
        "-p",
        "tokenguard",
        "--no-default-features",
        "--features",
        "rustcrypto",
        "--target",
        THUMB,
        "--",
        "-D",
        "warnings",
    ]);
    ensure_target()?;
    run("clippy core for thumbv7em", c)?;
    let mut c = cargo();
    c.args(["doc", "--no-deps", "-p", "tokenguard", "--all-features"])
        .env("RUSTDOCFLAGS", "-D warnings");
    run("docs build without warnings", c)?;
    tests()?;
    firmware_link_check()?;
    demo(true)?;
    println!("==> ci passed in {:.0}s", t.elapsed().as_secs_f64());
    Ok(())
}

fn demo(quiet: bool) -> Result {
    let mut c = cargo();
    c.args(["run", "--quiet", "-p", "tokenguard-sim", "--", "demo"]);
    if quiet {
        c.arg("--quiet");
    }
    run("tokenguard-sim demo", c)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let r = match args.first().map(String::as_str) {
        Some("ci") => ci(),
        Some("test") => tests(),
        Some("demo") => demo(false),
        Some("fw-link") => firmware_link_check(),
        _ => {
            eprintln!("usage: cargo xtask <ci|test|demo|fw-link>");
            return ExitCode::from(2);
        }
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}
