//! `cargo xtask ci`: everything CI runs, in order: formatting, clippy (host and thumbv7em),
//! docs, packaging, the test suites, the firmware checks and tests, fw-bench (docs/firmware.md
//! checked against it), the C library (`cargo xtask capi`), the Envoy filter (`cargo xtask
//! gateway`), a fuzz smoke run and the demo.

use std::time::Instant;

use crate::demo::demo;
use crate::firmware::{
    firmware_dir, firmware_link_check, fw_bench, fw_panic_check, fw_test, Report,
};
use crate::fuzz::fuzz;
use crate::test::tests;
use crate::util::{cargo, ensure_target, run, Result, THUMB_CRATES};

pub fn ci() -> Result {
    let t = Instant::now();
    let mut c = cargo();
    c.args(["fmt", "--all", "--", "--check"]);
    run("cargo fmt --check", c)?;
    crate::cycles::check()?;
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
    c.arg("clippy")
        .args(THUMB_CRATES)
        .args(["--", "-D", "warnings"]);
    ensure_target()?;
    run("clippy core and the device protocol crate for thumbv7em", c)?;
    let mut c = cargo();
    c.args([
        "doc",
        "--no-deps",
        "-p",
        "tokenguard",
        "-p",
        "tokenguard-device",
        "-p",
        "tokenguard-atecc",
        "-p",
        "tokenguard-limbs",
        "--all-features",
    ])
    .env("RUSTDOCFLAGS", "-D warnings");
    run("docs build without warnings", c)?;
    forget_packaged_sources()?;
    let mut c = cargo();
    c.args([
        "package",
        "-p",
        "tokenguard",
        "-p",
        "tokenguard-device",
        "-p",
        "tokenguard-atecc",
        "-p",
        "tokenguard-limbs",
        "--allow-dirty",
    ]);
    run(
        "every library crate packages and builds from its package (cargo package)",
        c,
    )?;
    tests()?;
    firmware_link_check()?;
    fw_panic_check()?;
    let mut c = cargo();
    c.current_dir(firmware_dir()).args(["fmt", "--", "--check"]);
    run("firmware: cargo fmt --check", c)?;
    let mut c = cargo();
    c.current_dir(firmware_dir()).args([
        "clippy",
        "--release",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]);
    run("firmware: clippy -D warnings", c)?;
    fw_test()?;
    fw_bench(Report::Check)?;
    crate::capi::capi(false)?;
    crate::gateway::gateway()?;
    fuzz(&["--smoke".to_string()])?;
    demo(true)?;
    println!("==> ci passed in {:.0}s", t.elapsed().as_secs_f64());
    Ok(())
}

/// Removes cargo's extracted copies of this workspace's own crates from earlier `cargo package`
/// runs. Packaging several crates verifies each against the others through a temporary local
/// registry, and cargo reuses a copy it extracted before when the name and version match
/// (`tokenguard-0.1.0`), so without this the device crate would be checked against the engine
/// as it was at an earlier packaging, not as it is now.
fn forget_packaged_sources() -> Result {
    let home = std::env::var_os("CARGO_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".cargo")))
        .ok_or("neither CARGO_HOME nor HOME is set")?;
    let Ok(registries) = std::fs::read_dir(home.join("registry/src")) else {
        return Ok(());
    };
    for reg in registries.flatten() {
        // Temporary local registries only (their directory names start with `-`); crates.io's
        // index directory is never touched.
        if !reg.file_name().to_string_lossy().starts_with('-') {
            continue;
        }
        for krate in [
            "tokenguard",
            "tokenguard-device",
            "tokenguard-atecc",
            "tokenguard-limbs",
        ] {
            let dir = reg
                .path()
                .join(format!("{krate}-{}", env!("CARGO_PKG_VERSION")));
            if dir.exists() {
                std::fs::remove_dir_all(&dir)
                    .map_err(|e| format!("removing {}: {e}", dir.display()))?;
            }
        }
    }
    Ok(())
}
