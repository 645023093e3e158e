//! `cargo xtask fuzz`: installs cargo-fuzz and nightly, builds the seed corpora ([`seeds`]),
//! builds every fuzz target and runs each for a time budget.

mod seeds;

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use crate::util::{output, root, run, Result};

/// `cargo xtask fuzz [--smoke | --seconds N] [TARGET...]`: installs cargo-fuzz and the
/// nightly toolchain if missing, builds the seed corpora, builds every target (with debug
/// assertions), then runs each target for N seconds (`--smoke`: 30, the default) and fails if
/// any finds a crash. New inputs accumulate in `fuzz/corpus/<target>` (git-ignored); seeds are
/// rebuilt each run in `target/fuzz-seeds/<target>`; `fuzz/regressions/<target>` (committed
/// crash reproducers) is replayed first. Logs: `target/fuzz-logs/<target>.log`.
pub fn fuzz(args: &[String]) -> Result {
    const TARGETS: [&str; 6] = [
        "verify",
        "jwk_parse",
        "jwks_stream",
        "claims_typed",
        "device_proto",
        "assertion",
    ];
    let mut seconds = 30u64;
    let mut only: Vec<String> = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--smoke" => seconds = 30,
            "--seconds" => {
                seconds = it
                    .next()
                    .and_then(|s| s.parse().ok())
                    .ok_or("--seconds needs a number")?;
            }
            t if TARGETS.contains(&t) => only.push(t.to_string()),
            other => return Err(format!("fuzz: unknown argument {other}")),
        }
    }
    let targets: Vec<&str> = TARGETS
        .iter()
        .copied()
        .filter(|t| only.is_empty() || only.iter().any(|o| o == t))
        .collect();
    let t0 = Instant::now();

    // Tools: the rustup proxy (not $CARGO, which is this toolchain's cargo) with +nightly.
    let nightly = || {
        let mut c = Command::new("cargo");
        c.current_dir(root())
            .env_remove("CARGO")
            .env_remove("RUSTUP_TOOLCHAIN")
            .env_remove("RUSTC")
            .arg("+nightly");
        c
    };
    let mut c = Command::new("rustup");
    c.args(["toolchain", "list"]);
    if !output(c)?.lines().any(|l| l.starts_with("nightly")) {
        let mut c = Command::new("rustup");
        c.args(["toolchain", "install", "nightly", "--profile", "minimal"]);
        run("rustup toolchain install nightly", c)?;
    }
    let mut c = nightly();
    c.args(["fuzz", "--version"]);
    if output(c).is_err() {
        let mut c = Command::new("cargo");
        c.env_remove("CARGO").env_remove("RUSTUP_TOOLCHAIN").args([
            "install",
            "cargo-fuzz",
            "--locked",
        ]);
        run("cargo install cargo-fuzz --locked", c)?;
    }

    // Seeds.
    let vectors = std::env::var("TOKENGUARD_VECTORS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root().join("../shared/vectors"));
    let seed_dir = root().join("target/fuzz-seeds");
    println!("==> seed corpora in {}", seed_dir.display());
    let counts = seeds::build(&root(), &vectors, &seed_dir)?;
    for (t, n) in &counts {
        println!("    {t}: {n} seeds");
    }

    // One build of every target, so the time budget below is all fuzzing.
    let mut c = nightly();
    c.args(["fuzz", "build", "--debug-assertions"]);
    run(
        "cargo +nightly fuzz build --debug-assertions (all targets)",
        c,
    )?;

    let logs = root().join("target/fuzz-logs");
    std::fs::create_dir_all(&logs).map_err(|e| e.to_string())?;
    let mut failed = Vec::new();
    let mut summary = Vec::new();
    for t in &targets {
        let corpus = root().join("fuzz/corpus").join(t);
        std::fs::create_dir_all(&corpus).map_err(|e| e.to_string())?;
        let mut dirs = vec![corpus, seed_dir.join(t)];
        let reg = root().join("fuzz/regressions").join(t);
        if reg.is_dir() {
            dirs.push(reg);
        }
        let log = logs.join(format!("{t}.log"));
        let file = std::fs::File::create(&log).map_err(|e| e.to_string())?;
        let mut c = nightly();
        c.args(["fuzz", "run", "--debug-assertions", t])
            .args(&dirs)
            .arg("--")
            .arg(format!("-max_total_time={seconds}"))
            .arg(if matches!(*t, "device_proto" | "jwks_stream") {
                "-max_len=16384"
            } else {
                "-max_len=8192"
            })
            .arg("-timeout=30")
            .arg("-print_final_stats=1")
            .stdout(file.try_clone().map_err(|e| e.to_string())?)
            .stderr(file);
        let started = Instant::now();
        println!("==> fuzz {t} for {seconds}s (log: {})", log.display());
        let status = c
            .status()
            .map_err(|e| format!("fuzz {t}: cannot start: {e}"))?;
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let stat = |k: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(&format!("stat::{k}:")))
                .map(|v| v.trim().to_string())
                .unwrap_or_else(|| "?".into())
        };
        let last = text
            .lines()
            .rev()
            .find(|l| l.starts_with('#') && l.contains("cov:"))
            .unwrap_or("")
            .to_string();
        let line = format!(
            "{t}: {} execs, {} exec/s, {} new units, {:.0}s | {last}",
            stat("number_of_executed_units"),
            stat("average_exec_per_sec"),
            stat("new_units_added"),
            started.elapsed().as_secs_f64()
        );
        if status.success() {
            println!("    ok: {line}");
        } else {
            let tail: Vec<&str> = text.lines().rev().take(40).collect();
            for l in tail.iter().rev() {
                eprintln!("    | {l}");
            }
            if text.contains("failed to build fuzz script") {
                // cargo-fuzz rebuilds before running: a source tree edited mid-run (or broken)
                // fails here, and that is not a finding.
                eprintln!("    FAILED: {t} did not build ({status}); nothing was fuzzed");
                failed.push(format!("{t} (build failed)"));
            } else {
                eprintln!("    FAILED: {t} ({status}); the crash input is in fuzz/artifacts/{t}/");
                failed.push(t.to_string());
            }
        }
        summary.push(line);
    }
    println!(
        "==> fuzz summary ({:.0}s in all)",
        t0.elapsed().as_secs_f64()
    );
    for l in &summary {
        println!("    {l}");
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!("fuzz targets failed: {}", failed.join(", ")))
    }
}
