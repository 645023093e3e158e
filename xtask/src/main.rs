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
    )?;
    let mut c = cargo();
    c.args([
        "test",
        "-p",
        "tokenguard-tests",
        "--features",
        "tokenguard/compact-sha512",
    ]);
    run(
        "vector suites with the compact SHA-384/512 (the firmware's)",
        c,
    )?;
    interop()
}

/// Installs PyJWT, jwcrypto and node `jose` into target/peers (idempotent) and runs the
/// interop suite against them.
fn interop() -> Result {
    let peers = root().join("target/peers");
    let mut c = Command::new("bash");
    c.arg(root().join("peers/install.sh")).arg(&peers);
    run("install interop peers (PyPI, npm)", c)?;
    let mut c = cargo();
    c.args([
        "test",
        "-p",
        "tokenguard-tests",
        "--test",
        "interop",
        "--",
        "--ignored",
    ])
    .env("TOKENGUARD_PEERS", &peers);
    run(
        "interop: PyJWT, jwcrypto, jose verify our tokens and we verify theirs",
        c,
    )
}

fn firmware_link_check() -> Result {
    ensure_firmware_tools()?;
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

/// Installs QEMU, the Arm GNU toolchain (for P256-Cortex-M4's assembly) and defmt-print if
/// missing. apt's download cache is pointed at target/ (this image's cleanup hook deletes
/// packages from the default cache between dpkg runs).
fn ensure_firmware_tools() -> Result {
    ensure_target()?;
    let have = |c: &str| {
        Command::new("sh")
            .args(["-c", &format!("command -v {c}")])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    };
    let newlib = Path::new("/usr/lib/arm-none-eabi/include/string.h").exists();
    if !(have("qemu-system-arm") && have("arm-none-eabi-gcc") && newlib) {
        let cache = root().join("target/apt-cache");
        std::fs::create_dir_all(cache.join("partial")).map_err(|e| e.to_string())?;
        let install = || {
            let mut c = Command::new("apt-get");
            c.args([
                "-o",
                &format!("Dir::Cache::Archives={}", cache.display()),
                "install",
                "-y",
                "--no-install-recommends",
                "qemu-system-arm",
                "gcc-arm-none-eabi",
                "libnewlib-arm-none-eabi",
            ])
            .env("DEBIAN_FRONTEND", "noninteractive");
            c
        };
        if run(
            "apt-get install qemu-system-arm gcc-arm-none-eabi libnewlib-arm-none-eabi",
            install(),
        )
        .is_err()
        {
            let mut up = Command::new("apt-get");
            up.arg("update");
            run("apt-get update", up)?;
            run("apt-get install (retry)", install())?;
        }
    }
    if !have("defmt-print") {
        let mut c = cargo();
        c.args(["install", "defmt-print", "--locked"]);
        run("cargo install defmt-print --locked", c)?;
    }
    Ok(())
}

fn firmware_dir() -> PathBuf {
    root().join("firmware")
}

fn firmware_elf(name: &str) -> PathBuf {
    firmware_dir()
        .join("target")
        .join(THUMB)
        .join("release")
        .join(name)
}

fn fw_build() -> Result {
    ensure_firmware_tools()?;
    let mut c = cargo();
    c.current_dir(firmware_dir())
        .args(["build", "--release", "--bins"]);
    run("firmware build (device, fw-bench)", c)
}

fn fw_test() -> Result {
    fw_build()?;
    let mut c = cargo();
    c.current_dir(firmware_dir()).args(["test", "--release"]);
    run("on-target defmt-test suites in QEMU", c)?;
    let mut c = cargo();
    c.args([
        "test",
        "-p",
        "tokenguard-sim",
        "--test",
        "device_e2e",
        "--",
        "--ignored",
    ])
    .env(
        "TOKENGUARD_FIRMWARE_ELF",
        firmware_elf("tokenguard-firmware"),
    );
    run(
        "host-driven end-to-end test against the firmware in QEMU",
        c,
    )
}

/// Section sizes (text, data, bss) of an ELF, via `size`.
fn elf_sizes(elf: &Path) -> Result<(u64, u64, u64)> {
    let mut c = Command::new("size");
    c.arg(elf);
    let out = output(c)?;
    let line = out.lines().nth(1).ok_or("no size output")?;
    let v: Vec<u64> = line
        .split_whitespace()
        .take(3)
        .filter_map(|x| x.parse().ok())
        .collect();
    match v.as_slice() {
        [t, d, b] => Ok((*t, *d, *b)),
        _ => Err(format!("cannot parse size output: {line}")),
    }
}

fn fw_bench(write: bool) -> Result {
    fw_build()?;
    let elf = firmware_elf("fw-bench");
    let mut c = Command::new(firmware_dir().join("qemu-run.sh"));
    c.arg(&elf).env("TOKENGUARD_ICOUNT", "1");
    println!("==> fw-bench in QEMU (-icount shift=0)");
    let out = output(c)?;
    let mut rows = vec![];
    for line in out.lines() {
        if let Some(rest) = line.split("fw-bench alg=").nth(1) {
            let f: Vec<&str> = rest.split_whitespace().collect();
            let val = |k: &str| {
                f.iter()
                    .find_map(|x| x.strip_prefix(k))
                    .unwrap_or("?")
                    .to_string()
            };
            rows.push((
                f[0].to_string(),
                val("verify_insns="),
                val("import_insns="),
                val("verify_stack="),
                val("import_stack="),
            ));
        }
    }
    if rows.len() != 13 || !out.contains("fw-bench done") {
        return Err(format!("fw-bench did not complete:\n{out}"));
    }
    let mut c = cargo();
    c.current_dir(firmware_dir()).args([
        "build",
        "--release",
        "--bin",
        "tokenguard-firmware",
        "--no-default-features",
        "--target-dir",
        "target/verify-only",
    ]);
    run("firmware build without signing", c)?;
    let (vtext, vdata, vbss) = elf_sizes(
        &firmware_dir()
            .join("target/verify-only")
            .join(THUMB)
            .join("release/tokenguard-firmware"),
    )?;
    let (text, data, bss) = elf_sizes(&firmware_elf("tokenguard-firmware"))?;
    let max_stack: u64 = rows
        .iter()
        .flat_map(|r| [r.3.parse().unwrap_or(0u64), r.4.parse().unwrap_or(0)])
        .max()
        .unwrap_or(0);
    let mut md = String::new();
    md.push_str("# Firmware footprint and speed (QEMU mps2-an386, Cortex-M4F)\n\n");
    md.push_str("Generated by `cargo xtask fw-bench --write`. Instruction counts are exact and repeatable: QEMU\nruns with `-icount shift=0` (1 instruction = 1 ns of virtual time) and TIMER0 ticks at\n25 MHz, so one tick is 40 instructions (the figures have a 40-instruction resolution).\nQEMU counts instructions, not cycles. Each verify is a full token (split, base64url, JSON\nheader and claims, policy, signature) of the fixture in `firmware/src/fixtures.rs`\n(~300 bytes of claims; tokens of 475–775 bytes), best of three runs. Stack is measured by\npainting: the peak below the caller's frame, in bytes.\n\n");
    md.push_str("| alg | instructions per verify | key import (instructions) | verify stack | import stack |\n|---|---:|---:|---:|---:|\n");
    for r in &rows {
        md.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            r.0, r.1, r.2, r.3, r.4
        ));
    }
    md.push_str(&format!(
        "\nDevice image (`tokenguard-firmware`: all algorithms, the device protocol, 8-key cache, 1 KiB\nframes): flash (text + data) **{} bytes ({:.1} KiB)**, static RAM (data + bss) **{} bytes**, peak stack\nof the operations above {} bytes, so static RAM + peak stack = {} bytes ({:.1} KiB).\n",
        text + data, (text + data) as f64 / 1024.0, data + bss, max_stack, data + bss + max_stack, (data + bss + max_stack) as f64 / 1024.0
    ));
    md.push_str(&format!(
        "Without the SIGN command (`--no-default-features`: verification only, all algorithms): flash\n**{} bytes ({:.1} KiB)**, static RAM **{} bytes**.\n",
        vtext + vdata, (vtext + vdata) as f64 / 1024.0, vdata + vbss
    ));
    println!("{md}");
    if write {
        std::fs::write(root().join("docs/firmware.md"), md).map_err(|e| e.to_string())?;
        println!("wrote docs/firmware.md");
    }
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
    fw_bench(false)?;
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
        Some("fw-build") => fw_build(),
        Some("fw-test") => fw_test(),
        Some("fw-bench") => fw_bench(args.iter().any(|a| a == "--write")),
        _ => {
            eprintln!(
                "usage: cargo xtask <ci|test|demo|fw-link|fw-build|fw-test|fw-bench [--write]>"
            );
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
