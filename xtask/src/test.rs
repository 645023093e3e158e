//! `cargo xtask test`: the test suites (every member, each backend alone, the compact SHA-2
//! vector suites), the interop suite against PyJWT, jwcrypto and jose, and the outsider scripts
//! written from the docs alone.

use std::path::PathBuf;
use std::process::Command;

use crate::util::{cargo, root, run, Result};

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

pub fn tests() -> Result {
    vectors_present()?;
    let mut c = cargo();
    c.args(["test", "--workspace", "--exclude", "tokenguard-benches"]);
    run("tests (all members, all backends)", c)?;
    // The core suite with one backend at a time.
    for (features, what) in [
        ("ring,serde", "core tests with the ring backend alone"),
        (
            "aws-lc,serde,rsa-4096",
            "core tests with the aws-lc backend alone",
        ),
        (
            "rustcrypto",
            "core tests with rustcrypto alone, 2048-bit RSA cap, no serde",
        ),
    ] {
        let mut c = cargo();
        c.args([
            "test",
            "-p",
            "tokenguard",
            "--no-default-features",
            "--features",
            features,
        ]);
        run(what, c)?;
    }
    // ring and aws-lc without the pure-Rust backend: there is no default backend, and the
    // engine's own tests (which verify with the default) do not apply; this one checks that.
    let mut c = cargo();
    c.args([
        "test",
        "-p",
        "tokenguard",
        "--no-default-features",
        "--features",
        "ring,aws-lc",
        "--lib",
        "unchosen_tests",
    ]);
    run(
        "core with ring and aws-lc only: no default backend until one is named",
        c,
    )?;
    let mut c = cargo();
    c.args([
        "test",
        "-p",
        "tokenguard-tests",
        "--features",
        "tokenguard/compact-sha512,tokenguard/compact-sha256",
    ]);
    run(
        "vector suites with the compact SHA-256 and SHA-384/512 (the firmware's)",
        c,
    )?;
    interop()?;
    hardware_keys()?;
    outsider(&["serve"], &[])?;
    outsider_cli()?;
    tpm_keys()
}

/// Runs the CLI's outsider scripts, written from the README and docs/simulator.md alone, against
/// the debug build: `tests/outsider/cli_contract.py` (the contracts scripts rely on) and
/// `tests/outsider/provider_flows.py` (each provider document's flow, checked with PyJWT,
/// jwcrypto, openssl and keytool).
fn outsider_cli() -> Result {
    let mut build = cargo();
    build.args(["build", "--quiet", "-p", "tokenguard-sim"]);
    run("build tokenguard-sim", build)?;
    for (script, what) in [
        ("cli_contract.py", "the CLI's contracts"),
        ("provider_flows.py", "the provider documents' flows"),
    ] {
        let mut c = Command::new("python3");
        c.arg(root().join("tests/outsider").join(script))
            .arg("--bin")
            .arg(root().join("target/debug/tokenguard-sim"))
            .env("PYTHONPATH", root().join("target/peers/python"));
        run(
            &format!("outsider script from the docs (Python): {what}"),
            c,
        )?;
    }
    Ok(())
}

/// Runs `tests/outsider/device_conformance.py`, a client written from docs/protocol.md
/// alone in Python (conformance, the link properties, a fault campaign), against a device
/// started with `tokenguard-sim device <args> --listen 127.0.0.1:0`.
pub fn outsider(device: &[&str], script_args: &[&str]) -> Result {
    use std::io::{BufRead, BufReader};
    let mut build = cargo();
    build.args(["build", "--quiet", "-p", "tokenguard-sim"]);
    run("build tokenguard-sim", build)?;
    let mut dev = Command::new(root().join("target/debug/tokenguard-sim"));
    dev.arg("device")
        .args(device)
        .args(["--listen", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null());
    let mut child = dev
        .spawn()
        .map_err(|e| format!("starting the device: {e}"))?;
    let mut line = String::new();
    if let Some(out) = child.stdout.take() {
        let mut out = BufReader::new(out);
        let _ = out.read_line(&mut line);
        std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    }
    let Some(addr) = line.trim().strip_prefix("listening on ").map(str::to_owned) else {
        let _ = child.kill();
        return Err(format!("the device did not start: {line:?}"));
    };
    let mut c = Command::new("python3");
    c.arg(root().join("tests/outsider/device_conformance.py"))
        .args(["--device", &addr])
        .args(script_args)
        .env("PYTHONPATH", root().join("target/peers/python"));
    let r = run(
        &format!(
            "outsider client from docs/protocol.md (Python) against `device {}`",
            device.join(" ")
        ),
        c,
    );
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    r
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
        "--test",
        "differential",
        "--",
        "--ignored",
    ])
    .env("TOKENGUARD_PEERS", &peers);
    run(
        "interop and the differential corpus: PyJWT, jwcrypto, jose",
        c,
    )?;
    let mut c = cargo();
    c.args([
        "test",
        "-p",
        "tokenguard-sim",
        "--test",
        "oauth_client",
        "--",
        "--ignored",
    ])
    .env("TOKENGUARD_PEERS", &peers);
    run(
        "Authlib gets tokens from the mock IdP with tokenguard assertions",
        c,
    )
}

/// After the interop peers are in place: the ATECC608 signer's transcript tests with PyJWT
/// and jwcrypto required; then installs SoftHSM v2 and OpenSC's pkcs11-tool (Debian's
/// `softhsm2`, `opensc`) if missing and runs the PKCS#11 suite with it required (its
/// assertions are also checked by PyJWT and jwcrypto). Where the package cannot be installed, says so and runs the suite without it
/// (which then skips).
fn hardware_keys() -> Result {
    let mut c = cargo();
    c.args(["test", "-p", "tokenguard-atecc", "--test", "transcripts"])
        .env("TOKENGUARD_REQUIRE_PEERS", "1");
    run(
        "ATECC608 signer: its assertion and exported JWK verified by PyJWT, jwcrypto and jose",
        c,
    )?;
    let module = [
        "/usr/lib/softhsm/libsofthsm2.so",
        "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    ];
    let present = || {
        module.iter().any(|m| std::path::Path::new(m).exists())
            && std::path::Path::new("/usr/bin/pkcs11-tool").exists()
    };
    if !present() {
        apt_install(&["softhsm2", "opensc"]);
    }
    let mut c = cargo();
    c.args([
        "test",
        "-p",
        "tokenguard-sim",
        "--test",
        "pkcs11",
        "--test",
        "hardware_keys_doc",
    ]);
    if present() {
        c.env("TOKENGUARD_REQUIRE_HSM", "1");
        run(
            "PKCS#11 signing with keys in SoftHSM v2 (every preset, PyJWT, jwcrypto and jose, errors, the JWT-bearer grant, docs/hardware-keys.md as written)",
            c,
        )
    } else {
        println!(
            "    SoftHSM v2 could not be installed: the PKCS#11 suite runs without it and skips"
        );
        run("PKCS#11 suite (SoftHSM unavailable: skipped)", c)
    }
}

/// Installs swtpm and tpm2-tools (Debian's `swtpm`, `swtpm-tools`, `tpm2-tools`) if missing,
/// installs the TSS 2.0 libraries to link (`libtss2-dev`), and runs the TPM suite and the TPM
/// guide in docs/hardware-keys.md with `tokenguard-sim --features tpm`, required; lints that
/// build. Where the packages cannot be installed, says so and skips.
pub fn tpm_keys() -> Result {
    let have = |tool: &str| {
        Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    let present = || have("swtpm") && have("tpm2_createprimary");
    if !present() {
        apt_install(&["swtpm", "swtpm-tools", "tpm2-tools"]);
    }
    if !present() {
        println!("    swtpm and tpm2-tools could not be installed: the TPM suite is skipped");
        return Ok(());
    }
    if let Err(e) = tss2_dev() {
        println!("    the TSS 2.0 libraries cannot be linked ({e}): the TPM suite is skipped");
        return Ok(());
    }
    let mut c = cargo();
    c.args([
        "clippy",
        "-p",
        "tokenguard-sim",
        "--features",
        "tpm",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]);
    run("clippy: tokenguard-sim with the tpm feature", c)?;
    let mut c = cargo();
    c.args([
        "test",
        "-p",
        "tokenguard-sim",
        "--features",
        "tpm",
        "--lib",
        "--test",
        "tpm",
        "--test",
        "hardware_keys_doc",
    ])
    .env("TOKENGUARD_REQUIRE_TPM", "1");
    run(
        "TPM 2.0 signing with keys in swtpm (ES256, ES384, RS256, PS256, every preset, PyJWT, jwcrypto and jose, errors, the JWT-bearer grant, docs/hardware-keys.md's TPM guide as written)",
        c,
    )
}

/// `apt-get install -y --no-install-recommends PKGS`, with an `apt-get update` and a retry if
/// the first attempt fails. Failures are left to the caller's check.
fn apt_install(pkgs: &[&str]) -> bool {
    let install = || {
        let mut c = Command::new("apt-get");
        c.args(["install", "-y", "--no-install-recommends"])
            .args(pkgs)
            .env("DEBIAN_FRONTEND", "noninteractive");
        c
    };
    let what = format!("apt-get install {}", pkgs.join(" "));
    if run(&what, install()).is_ok() {
        return true;
    }
    let mut up = Command::new("apt-get");
    up.arg("update");
    let _ = run("apt-get update", up);
    run(&format!("{what} (retry)"), install()).is_ok()
}

/// Makes tss-esapi's build find the TSS 2.0 libraries through pkg-config: nothing to do if
/// `pkg-config` already knows them, else Debian's `libtss2-dev` is installed.
fn tss2_dev() -> Result {
    const LIBS: [&str; 4] = ["tss2-esys", "tss2-sys", "tss2-tctildr", "tss2-mu"];
    let known = || {
        Command::new("pkg-config")
            .arg("--exists")
            .args(LIBS)
            .status()
            .is_ok_and(|s| s.success())
    };
    if known() || (apt_install(&["libtss2-dev", "pkg-config"]) && known()) {
        Ok(())
    } else {
        Err("libtss2-dev could not be installed".into())
    }
}
