//! `cargo xtask ci`: everything CI runs, in order: formatting, clippy (host and thumbv7em),
//! docs, packaging, the test suites, the firmware checks and tests, fw-bench (docs/firmware.md checked against it), a fuzz smoke run
//! and the demo.

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
        "--all-features",
    ])
    .env("RUSTDOCFLAGS", "-D warnings");
    run("docs build without warnings", c)?;
    let mut c = cargo();
    c.args([
        "package",
        "-p",
        "tokenguard",
        "-p",
        "tokenguard-device",
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
    fuzz(&["--smoke".to_string()])?;
    demo(true)?;
    println!("==> ci passed in {:.0}s", t.elapsed().as_secs_f64());
    Ok(())
}
