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
    outsider(&["serve"], &[])?;
    outsider_cli()
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
fn outsider(device: &[&str], script_args: &[&str]) -> Result {
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

fn firmware_link_check() -> Result {
    ensure_firmware_tools()?;
    let mut c = cargo();
    c.args([
        "build",
        "-p",
        "tokenguard",
        "-p",
        "tokenguard-device",
        "--no-default-features",
        "--features",
        "tokenguard/rustcrypto,tokenguard-device/embedded-io",
        "--target",
        THUMB,
    ]);
    run(
        "core and the device protocol crate for thumbv7em-none-eabihf (pure-Rust backend)",
        c,
    )?;
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

/// A device image without the SIGN command (`--no-default-features`), with `features` on,
/// built in its own target dir `target/<dir>` so it does not replace the main build.
struct FwVariant {
    dir: &'static str,
    features: &'static [&'static str],
    what: &'static str,
}

/// Verification only, every algorithm.
const VERIFY_ONLY: FwVariant = FwVariant {
    dir: "verify-only",
    features: &[],
    what: "firmware build without signing",
};

/// Verification only, ES256 and RS256 (`es256-rs256`).
const ES256_RS256: FwVariant = FwVariant {
    dir: "es256-rs256",
    features: &["es256-rs256"],
    what: "firmware build, ES256 and RS256 only",
};

impl FwVariant {
    fn elf(&self) -> PathBuf {
        firmware_dir()
            .join("target")
            .join(self.dir)
            .join(THUMB)
            .join("release/tokenguard-firmware")
    }

    fn build(&self) -> Result {
        let mut c = cargo();
        c.current_dir(firmware_dir()).args([
            "build",
            "--release",
            "--bin",
            "tokenguard-firmware",
            "--no-default-features",
        ]);
        for f in self.features {
            c.args(["--features", f]);
        }
        c.args(["--target-dir", &format!("target/{}", self.dir)]);
        run(self.what, c)
    }
}

fn fw_test() -> Result {
    fw_build()?;
    ES256_RS256.build()?;
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
        "--test",
        "scenarios",
        "--",
        "--ignored",
    ])
    .env(
        "TOKENGUARD_FIRMWARE_ELF",
        firmware_elf("tokenguard-firmware"),
    )
    .env("TOKENGUARD_FIRMWARE_ES256_RS256_ELF", ES256_RS256.elf());
    run(
        "host-driven end-to-end tests against the firmware in QEMU (protocol, demo, scenarios)",
        c,
    )?;
    let elf = firmware_elf("tokenguard-firmware");
    outsider(
        &["qemu", "--elf", &elf.to_string_lossy()],
        // The UART takes ~5 ms a byte: a shorter run here (the Rust end-to-end tests race
        // clients 100 times on the firmware already).
        &[
            "--kind",
            "qemu",
            "--quick",
            "--frames",
            "200",
            "--race-rounds",
            "20",
        ],
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

/// The components of [`flash_parts`], in its order.
const FLASH_PARTS: [&str; 9] = [
    "device protocol (`tokenguard-device`), command loop (firmware `main`, the command dispatch and handlers)",
    "JOSE: JSON, base64url, header, claims, JWK import, JWK Set streaming, cache",
    "RSA (tokenguard's Montgomery arithmetic, PKCS#1 v1.5, PSS)",
    "P-256 (P256-Cortex-M4 assembly) and curve point checks",
    "P-384 ECDSA (tokenguard's own)",
    "SHA-2 and HMAC",
    "Ed25519 (ed25519-compact, small tables)",
    "signing (RSA-CRT on crypto-bigint, RustCrypto ECDSA signing, RFC 6979, P-384)",
    "runtime: compiler builtins, core, cortex-m-rt, defmt, vectors, other",
];

/// Flash bytes (code, read-only and initialized data) per [`FLASH_PARTS`] component of an
/// image, from the sizes `arm-none-eabi-nm` gives each symbol (demangled names classified by
/// path); `None` without `arm-none-eabi-nm`.
fn flash_parts(elf: &Path) -> Option<[u64; 9]> {
    let classify = |name: &str| -> usize {
        let n = name.trim_start_matches(['<', '&', '*']);
        let has = |p: &str| n.starts_with(p) || name.contains(&format!(" as {p}"));
        if has("tokenguard::sign")
            || has("crypto_bigint")
            || has("rfc6979")
            || has("ecdsa::")
            || has("p384")
            || has("primeorder")
            || has("elliptic_curve")
            || has("p256::")
            || has("der::")
            || has("const_oid")
            || has("ff::")
            || has("group::")
            || n.starts_with("sha2::sha512")
        {
            7
        } else if has("tokenguard_firmware") || has("tokenguard_device") {
            0
        } else if has("tokenguard::bigint") || has("tokenguard::rsa") {
            2
        } else if n.starts_with("P256_")
            || n.starts_with("p256_")
            || has("tokenguard::ec::")
            || has("tokenguard::crypto::rustcrypto_backend::ecdsa_p256")
        {
            3
        } else if has("tokenguard::ecdsa")
            || has("tokenguard::crypto::rustcrypto_backend::ecdsa_p384")
        {
            4
        } else if has("tokenguard::crypto::sha")
            || has("sha2")
            || has("hmac")
            || has("digest")
            || has("tokenguard::crypto::rustcrypto_backend::compact")
            || has("tokenguard::crypto::rustcrypto_backend::hmac")
            || has("tokenguard::crypto::rustcrypto_backend::hash")
        {
            5
        } else if has("ed25519_compact") || name.contains("ed25519_verify") || has("curve25519") {
            6
        } else if has("tokenguard") {
            1
        } else {
            8
        }
    };
    let mut c = Command::new("arm-none-eabi-nm");
    c.args(["--size-sort", "-S", "-C", "--radix=d"]).arg(elf);
    let out = c.output().ok()?;
    if !out.status.success() {
        return None;
    }
    let mut t = [0u64; 9];
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let mut f = line.splitn(4, ' ');
        let (_, Some(size), Some(kind), Some(name)) = (f.next(), f.next(), f.next(), f.next())
        else {
            continue;
        };
        // Code, read-only and initialized data: what occupies flash.
        if !matches!(kind, "t" | "T" | "r" | "R" | "d" | "D") {
            continue;
        }
        if let (Ok(sz), Some(slot)) = (size.parse::<u64>(), t.get_mut(classify(name))) {
            *slot += sz;
        }
    }
    Some(t)
}

/// Where the flash goes: the [`flash_parts`] of both images, as a table.
fn flash_breakdown(verify_only: Option<[u64; 9]>, full: Option<[u64; 9]>) -> String {
    let (Some(v), Some(f)) = (verify_only, full) else {
        return "
(No flash breakdown: `arm-none-eabi-nm` not found.)
"
        .into();
    };
    let kib = |b: u64| format!("{:.1} KiB", b as f64 / 1024.0);
    let mut md = String::from(
        "\n## Where the flash goes\n\nSymbol sizes from `arm-none-eabi-nm --size-sort -S -C` of both images, \
         grouped by the path of each (demangled) symbol; what the linker inlined counts where it \
         landed, and unnamed constants (`.Lanon`) count as runtime. The sums are a little below \
         the image sizes above (alignment, the vector table's padding).\n\n\
         | component | verification only | with SIGN |\n|---|---:|---:|\n",
    );
    for (i, part) in FLASH_PARTS.iter().enumerate() {
        let (a, b) = (
            v.get(i).copied().unwrap_or(0),
            f.get(i).copied().unwrap_or(0),
        );
        md.push_str(&format!("| {part} | {} | {} |\n", kib(a), kib(b)));
    }
    md.push_str(&format!(
        "| **sum** | **{}** | **{}** |\n",
        kib(v.iter().sum()),
        kib(f.iter().sum())
    ));
    md
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
    VERIFY_ONLY.build()?;
    let (vtext, vdata, vbss) = elf_sizes(&VERIFY_ONLY.elf())?;
    let verify_parts = flash_parts(&VERIFY_ONLY.elf());
    ES256_RS256.build()?;
    let (etext, edata, ebss) = elf_sizes(&ES256_RS256.elf())?;
    let (text, data, bss) = elf_sizes(&firmware_elf("tokenguard-firmware"))?;
    // The true peaks: every command at its largest frames and keys, over the wire.
    let (peak, peak_phases) = stack_peak(&firmware_elf("tokenguard-firmware"), true)?;
    let (vpeak, vpeak_phases) = stack_peak(&VERIFY_ONLY.elf(), false)?;
    let mut md = String::new();
    md.push_str("# Firmware footprint and speed (QEMU mps2-an386, Cortex-M4F)\n\n");
    md.push_str("Generated by `cargo xtask fw-bench --write`. Instruction counts are exact and repeatable: QEMU\nruns with `-icount shift=0` (1 instruction = 1 ns of virtual time) and TIMER0 ticks at\n25 MHz, so one tick is 40 instructions (the figures have a 40-instruction resolution).\nQEMU counts instructions, not cycles. Each verify is a full token (split, base64url, JSON\nheader and claims, policy, signature) of the fixture in `firmware/src/fixtures.rs`\n(~300 bytes of claims; tokens of 475–775 bytes), best of three runs. The stack columns are\nthe `fw-bench` harness's, measured by painting below the caller's frame: what each operation\nadds, not the device's RAM (that is the next section).\n\n");
    md.push_str("| alg | instructions per verify | key import (instructions) | verify stack | import stack |\n|---|---:|---:|---:|---:|\n");
    for r in &rows {
        md.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            r.0, r.1, r.2, r.3, r.4
        ));
    }
    md.push_str(&format!(
        "\nDevice image (`tokenguard-firmware`: all algorithms, the device protocol, 8-key cache, 1 KiB\nframes): flash (text + data) **{} bytes ({:.1} KiB)**, RAM **{} bytes ({:.1} KiB)**: static RAM (data + bss) {} bytes and a peak stack of {} bytes.\n",
        text + data, (text + data) as f64 / 1024.0, data + bss + peak, (data + bss + peak) as f64 / 1024.0, data + bss, peak
    ));
    md.push_str(&format!(
        "Without the SIGN command (`--no-default-features`: verification only, all algorithms): flash\n**{} bytes ({:.1} KiB)**, RAM **{} bytes ({:.1} KiB)** (static {} + peak stack {}). Verification of ES256 and RS256 only\n(`--no-default-features --features es256-rs256`: the `Es256Rs256` backend declares those two\nalgorithms, so the linker drops the others): flash **{} bytes ({:.1} KiB)**, static RAM **{} bytes**.\n",
        vtext + vdata, (vtext + vdata) as f64 / 1024.0, vdata + vbss + vpeak, (vdata + vbss + vpeak) as f64 / 1024.0, vdata + vbss, vpeak,
        etext + edata, (etext + edata) as f64 / 1024.0, edata + ebss
    ));
    md.push_str(
        "\n## RAM: how it is measured\n\nThe device (`Device<8, 1024>`: key cache, policies, frame buffers, the transfer in progress, the signing key) lives in the firmware's `main` frame, which never returns, so it is built in place and counted once, in the stack; static RAM is what is left (the clock, the logger). At boot the firmware paints all free RAM below its stack; after each burst of UART bytes it finds the lowest overwritten word, the high-water mark since boot, which `STATS` reports. `host-sim/tests/stack_peak.rs` boots each image in QEMU and drives every command over the wire at its largest: four policies (three with the longest strings), `LOAD_JWK` of a key of every algorithm the image verifies and `VERIFY` of tokens of about 990 bytes with each, a JWK Set of 8 RSA-2048 keys streamed in 1000-byte chunks (refused while the slots are taken, then loaded), corrupt and oversized frames, and with SIGN: an RSA-2048 signing key through the chunked upload, P-256, P-384, Ed25519 and HMAC keys, each signing assertions with 200- and 255-byte subject and audience. The high-water mark after each phase:\n\n| phase | with SIGN | verification only |\n|---|---:|---:|\n",
    );
    for (what, bytes) in &peak_phases {
        let v = vpeak_phases
            .iter()
            .find(|(w, _)| w == what)
            .map_or("–".to_string(), |(_, b)| b.to_string());
        md.push_str(&format!("| {what} | {bytes} | {v} |\n"));
    }
    md.push_str("\nAt boot the peak is the device and `main`'s own frame (the command loop is inlined into it). The signing key's jump is building an RSA key: `PrivateJwkParser::finish` and `SigningKey::rsa` keep the key's parts and several copies of the key by value in their frames (12 KiB and 10 KiB).\n");
    // The goals of the firmware issue, each with its measured figure.
    let insns = |alg: &str| -> Option<u64> {
        rows.iter()
            .find(|r| r.0 == alg)
            .and_then(|r| r.1.parse().ok())
    };
    let mut goals: Vec<(String, String, bool)> = Vec::new();
    for (alg, limit) in [
        ("ES256", 750_000u64),
        ("RS256", 750_000),
        ("EdDSA", 1_800_000),
        ("HS256-300B", 30_000),
    ] {
        if let Some(n) = insns(alg) {
            let fmt = |x: u64| {
                if limit < 100_000 {
                    format!("{:.1} k", x as f64 / 1e3)
                } else {
                    format!("{:.3} M", x as f64 / 1e6)
                }
            };
            goals.push((
                format!("{alg}: ≤ {} instructions per verify", fmt(limit)),
                fmt(n),
                n <= limit,
            ));
        }
    }
    let (full, vonly) = (text + data, vtext + vdata);
    goals.push((
        "flash ≤ 64 KiB, whole device (all algorithms, protocol, 8-key cache)".into(),
        format!(
            "{:.1} KiB with SIGN, {:.1} KiB verification only",
            full as f64 / 1024.0,
            vonly as f64 / 1024.0
        ),
        vonly <= 64 * 1024,
    ));
    goals.push((
        "flash ≤ 48 KiB, verification only with ES256 and RS256".into(),
        format!(
            "{:.1} KiB (`es256-rs256`){}",
            (etext + edata) as f64 / 1024.0,
            // The protocol and JOSE components of the verification-only image.
            verify_parts.map_or(String::new(), |p| format!(
                "; the protocol and JOSE code alone are {:.1} KiB (table below)",
                (p[0] + p[1]) as f64 / 1024.0
            ))
        ),
        etext + edata <= 48 * 1024,
    ));
    // The device's true peak over every command (the section above).
    let ram = vdata + vbss + vpeak;
    goals.push((
        "static RAM + peak stack ≤ 16 KiB (8-key cache of RSA-2048 keys)".into(),
        format!(
            "{:.1} KiB verification only ({} + {} bytes, every command at its largest); {:.1} KiB with SIGN",
            ram as f64 / 1024.0,
            vdata + vbss,
            vpeak,
            (data + bss + peak) as f64 / 1024.0
        ),
        ram <= 16 * 1024,
    ));
    md.push_str("\n## Goals\n\n| goal | measured | |\n|---|---|---|\n");
    for (what, got, met) in &goals {
        md.push_str(&format!(
            "| {what} | {got} | {} |\n",
            if *met { "met" } else { "**missed**" }
        ));
    }
    if let Some(sizes) = out.lines().find_map(|l| l.split("fw-bench sizes ").nth(1)) {
        let get = |k: &str| -> u64 {
            sizes
                .split_whitespace()
                .find_map(|x| x.strip_prefix(k))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        let (dev, cache, jwk, pending) =
            (get("device="), get("cache="), get("jwk="), get("pending="));
        md.push_str(&format!(
            "\n## Where the RAM goes\n\nThe `Device<8, 1024>` (`size_of` on this target, printed by \
             fw-bench) is {dev} bytes with the signing key slot. Of that, the key cache is {cache} bytes \
             (8 slots of {jwk}-byte keys: an RSA-2048 key keeps its modulus and `R^2 mod n`, 512 bytes, \
             so no verification recomputes them), the state of a transfer in progress (a JWK Set \
             update or a signing-key upload) {pending} bytes, the frame receiver and the \
             work buffer 1 KiB each, the four policy slots about 1.5 KiB (issuer and audience up \
             to 128 bytes each). Above it on the stack: `main`'s frame with the inlined command \
             loop, then the deepest operation (RSA key import, Ed25519, building a signing key).\n"
        ));
    }
    md.push_str(&flash_breakdown(
        verify_parts,
        flash_parts(&firmware_elf("tokenguard-firmware")),
    ));
    println!("{md}");
    if write {
        std::fs::write(root().join("docs/firmware.md"), md).map_err(|e| e.to_string())?;
        println!("wrote docs/firmware.md");
    }
    Ok(())
}

/// Boots `elf` in QEMU and runs the stack campaign (`host-sim/tests/stack_peak.rs`): the
/// device's peak stack over every command, and the high-water mark after each phase.
fn stack_peak(elf: &Path, signing: bool) -> Result<(u64, Vec<(String, u64)>)> {
    println!("==> stack campaign on {}", elf.display());
    let mut c = cargo();
    c.args([
        "test",
        "--quiet",
        "-p",
        "tokenguard-sim",
        "--test",
        "stack_peak",
        "--",
        "--ignored",
        "--nocapture",
    ])
    .env("TOKENGUARD_STACK_ELF", elf)
    .env("TOKENGUARD_STACK_SIGNING", if signing { "1" } else { "0" });
    let out = output(c)?;
    let mut phases = vec![];
    let mut peak = None;
    for line in out.lines() {
        if let Some(rest) = line.strip_prefix("stack-peak after ") {
            if let Some((what, n)) = rest.rsplit_once(": ") {
                phases.push((what.to_string(), n.trim().parse().unwrap_or(0)));
            }
        } else if let Some(rest) = line.strip_prefix("stack-peak bytes=") {
            peak = rest.split_whitespace().next().and_then(|n| n.parse().ok());
        }
    }
    let peak = peak.ok_or_else(|| format!("the stack campaign printed no peak:\n{out}"))?;
    Ok((peak, phases))
}

/// Bench groups (one per algorithm) and the implementations measured in each, in report order.
const BENCH_GROUPS: [&str; 9] = [
    "RS256",
    "RS256-4096",
    "PS256",
    "ES256",
    "ES384",
    "ES512",
    "ES256K",
    "EdDSA",
    "HS256",
];
const BENCH_IMPLS: [&str; 10] = [
    "raw-ring",
    "raw-aws-lc",
    "raw-aws-lc-parsed",
    "tokenguard-fastest",
    "tokenguard-ring",
    "tokenguard-aws-lc",
    "tokenguard-rustcrypto",
    "jsonwebtoken",
    "jwt-simple",
    "jwt-compact",
];
const BENCH_EXTRA: [(&str, &str); 2] = [("jwks", "load-10-keys"), ("cache", "get-last-of-32")];

/// Criterion's median point estimate (ns) from `target/criterion/<group>/<function>/new`.
fn bench_median(group: &str, function: &str) -> Option<f64> {
    let path = root()
        .join("target/criterion")
        .join(group)
        .join(function)
        .join("new/estimates.json");
    let text = std::fs::read_to_string(path).ok()?;
    let at = text.find("\"median\"")?;
    let rest = &text[at..];
    let p = rest.find("\"point_estimate\"")? + "\"point_estimate\"".len();
    let num: String = rest[p..]
        .trim_start_matches([':', ' '])
        .chars()
        .take_while(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '-' | '+'))
        .collect();
    num.parse().ok()
}

/// `23.4 µs`-style durations from nanoseconds.
fn bench_fmt(ns: f64) -> String {
    if ns < 1_000.0 {
        format!("{ns:.0} ns")
    } else if ns < 10_000.0 {
        format!("{:.2} µs", ns / 1e3)
    } else if ns < 1_000_000.0 {
        format!("{:.1} µs", ns / 1e3)
    } else {
        format!("{:.2} ms", ns / 1e6)
    }
}

/// Every version of each named package in Cargo.lock.
fn bench_lock_versions(names: &[&str]) -> Vec<(String, String)> {
    let lock = std::fs::read_to_string(root().join("Cargo.lock")).unwrap_or_default();
    let mut found: Vec<(String, Vec<String>)> =
        names.iter().map(|n| (n.to_string(), vec![])).collect();
    for pkg in lock.split("[[package]]") {
        let field = |k: &str| {
            pkg.lines()
                .find_map(|l| l.strip_prefix(&format!("{k} = \"")))
                .map(|v| v.trim_end_matches('"').to_string())
        };
        if let (Some(name), Some(version)) = (field("name"), field("version")) {
            if let Some((_, vs)) = found.iter_mut().find(|(n, _)| *n == name) {
                vs.push(version);
            }
        }
    }
    found
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(n, v)| (n, v.join(", ")))
        .collect()
}

/// The Cortex-M4 figures: a fresh `fw-bench` run in QEMU (alg, instructions per verify, key
/// import instructions), or docs/firmware.md's table when QEMU cannot run here.
fn bench_firmware_rows() -> (Vec<(String, String, String)>, String) {
    let fresh = || -> Result<Vec<(String, String, String)>> {
        fw_build()?;
        let mut c = Command::new(firmware_dir().join("qemu-run.sh"));
        c.arg(firmware_elf("fw-bench"))
            .env("TOKENGUARD_ICOUNT", "1");
        println!("==> fw-bench in QEMU (-icount shift=0)");
        let out = output(c)?;
        let rows: Vec<(String, String, String)> = out
            .lines()
            .filter_map(|l| l.split("fw-bench alg=").nth(1))
            .map(|rest| {
                let f: Vec<&str> = rest.split_whitespace().collect();
                let val = |k: &str| {
                    f.iter()
                        .find_map(|x| x.strip_prefix(k))
                        .unwrap_or("?")
                        .to_string()
                };
                (
                    f.first().copied().unwrap_or("?").to_string(),
                    val("verify_insns="),
                    val("import_insns="),
                )
            })
            .collect();
        if rows.is_empty() || !out.contains("fw-bench done") {
            return Err(format!("fw-bench did not complete:\n{out}"));
        }
        Ok(rows)
    };
    match fresh() {
        Ok(rows) => (
            rows,
            "measured in this run (`fw-bench` in QEMU, `-icount shift=0`)".into(),
        ),
        Err(e) => {
            eprintln!("    fw-bench unavailable ({e}); using docs/firmware.md");
            let md = std::fs::read_to_string(root().join("docs/firmware.md")).unwrap_or_default();
            let rows = md
                .lines()
                .filter_map(|l| {
                    let c: Vec<&str> = l.trim_matches('|').split('|').map(str::trim).collect();
                    (c.len() >= 3 && c[1].chars().all(|x| x.is_ascii_digit()) && !c[1].is_empty())
                        .then(|| (c[0].to_string(), c[1].to_string(), c[2].to_string()))
                })
                .collect();
            (
                rows,
                "from docs/firmware.md (QEMU was not available for this run)".into(),
            )
        }
    }
}

/// A grouped horizontal bar chart (log scale) of the medians: one group per algorithm, one bar
/// per implementation.
fn bench_svg(groups: &[(&str, Vec<(&str, f64)>)]) -> String {
    let colors = |imp: &str| match imp {
        "raw-ring" => "#8c8c8c",
        "raw-aws-lc" => "#c7b8e0",
        "raw-aws-lc-parsed" => "#a08cc8",
        "tokenguard-ring" => "#1f5fa8",
        "tokenguard-aws-lc" => "#0b3d73",
        "tokenguard-rustcrypto" => "#74a9d8",
        "tokenguard-fastest" => "#17becf",
        "jsonwebtoken" => "#d62728",
        "jwt-simple" => "#ff9f1c",
        _ => "#2ca02c",
    };
    let all: Vec<f64> = groups
        .iter()
        .flat_map(|(_, b)| b.iter().map(|(_, v)| *v))
        .filter(|v| *v > 0.0)
        .collect();
    let lo = all.iter().copied().fold(f64::MAX, f64::min).log10().floor();
    // A little room right of the slowest bar for its label.
    let hi = all.iter().copied().fold(0.0, f64::max).log10() + 0.15;
    let (left, plot_w, right, bar_h, gap) = (120.0, 560.0, 90.0, 13.0, 3.0);
    let x = |ns: f64| left + (ns.log10() - lo) / (hi - lo).max(1.0) * plot_w;
    let width = left + plot_w + right;
    let legend_name = |imp: &'static str| match imp {
        "raw-ring" => "raw ring",
        "raw-aws-lc" => "raw aws-lc",
        "raw-aws-lc-parsed" => "raw aws-lc, parsed key",
        "tokenguard-ring" => "tokenguard (ring)",
        "tokenguard-aws-lc" => "tokenguard (aws-lc)",
        "tokenguard-rustcrypto" => "tokenguard (rustcrypto)",
        "tokenguard-fastest" => "tokenguard (fastest: the host default)",
        other => other,
    };
    // The legend, wrapped to the width.
    let mut legend = String::new();
    let (mut lx, mut ly) = (10.0, 28.0);
    for imp in BENCH_IMPLS {
        let name = legend_name(imp);
        let w = 14.0 + 6.0 * name.chars().count() as f64 + 12.0;
        if lx + w > width - 10.0 {
            lx = 10.0;
            ly += 16.0;
        }
        legend.push_str(&format!(
            "<rect x=\"{lx:.0}\" y=\"{ly:.0}\" width=\"10\" height=\"10\" fill=\"{}\"/><text x=\"{:.0}\" y=\"{:.0}\">{name}</text>\n",
            colors(imp),
            lx + 14.0,
            ly + 9.0
        ));
        lx += w;
    }
    let legend_h = ly + 22.0;
    let mut y = legend_h + 20.0;
    let mut body = String::new();
    for (name, bars) in groups {
        body.push_str(&format!(
            "<text x=\"{:.0}\" y=\"{:.1}\" text-anchor=\"end\" font-weight=\"bold\">{name}</text>\n",
            left - 8.0,
            y + bar_h - 2.0
        ));
        for (imp, v) in bars {
            let w = (x(*v) - left).max(1.0);
            body.push_str(&format!(
                "<rect x=\"{left:.0}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{bar_h:.0}\" fill=\"{}\"><title>{name} {imp}: {}</title></rect>\n<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\">{}</text>\n",
                colors(imp),
                bench_fmt(*v),
                left + w + 4.0,
                y + bar_h - 3.0,
                bench_fmt(*v)
            ));
            y += bar_h + gap;
        }
        body.push_str(&format!(
            "<line x1=\"{:.0}\" y1=\"{:.1}\" x2=\"{:.0}\" y2=\"{:.1}\" stroke=\"#ddd\"/>\n",
            10.0,
            y + 5.0,
            left + plot_w + right - 10.0,
            y + 5.0
        ));
        y += 12.0;
    }
    let height = y + 30.0;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w:.0}\" height=\"{height:.0}\" viewBox=\"0 0 {w:.0} {height:.0}\" font-family=\"sans-serif\" font-size=\"11\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n<text x=\"10\" y=\"16\" font-size=\"13\" font-weight=\"bold\">Full-token verify, median time per token, best of two passes (log scale, lower is better)</text>\n",
        w = width
    );
    svg.push_str(&legend);
    let decade = |d: f64| match d as i32 {
        0 => "1 ns".to_string(),
        1 => "10 ns".into(),
        2 => "100 ns".into(),
        3 => "1 µs".into(),
        4 => "10 µs".into(),
        5 => "100 µs".into(),
        6 => "1 ms".into(),
        7 => "10 ms".into(),
        8 => "100 ms".into(),
        _ => format!("1e{d} ns"),
    };
    let mut d = lo;
    while d <= hi {
        let gx = x(10f64.powf(d));
        svg.push_str(&format!(
            "<line x1=\"{gx:.1}\" y1=\"{:.0}\" x2=\"{gx:.1}\" y2=\"{:.0}\" stroke=\"#ccc\" stroke-dasharray=\"3,3\"/>\n<text x=\"{gx:.1}\" y=\"{:.0}\" text-anchor=\"middle\" fill=\"#555\">{}</text>\n",
            legend_h + 12.0,
            y,
            y + 16.0,
            decade(d)
        ));
        d += 1.0;
    }
    svg.push_str(&body);
    svg.push_str("</svg>\n");
    svg
}

/// One algorithm's whole-process `verify --batch` runs: wall seconds per run, alternating.
struct WholeProcess {
    group: &'static str,
    tokens: usize,
    /// tokenguard-sim with `--jobs 1` (single-threaded, like the peer).
    tokenguard: Vec<f64>,
    /// tokenguard-sim with its default `--jobs` (the available cores).
    tokenguard_jobs: Vec<f64>,
    jsonwebtoken: Vec<f64>,
    /// Instructions per token under callgrind (`--jobs 1`), when valgrind is installed:
    /// (whole process, inside AWS-LC's `EVP_DigestVerify`) for tokenguard-sim, then for
    /// jsonwebtoken-batch.
    instructions: Option<[(f64, f64); 2]>,
}

impl WholeProcess {
    fn median(runs: &[f64]) -> f64 {
        let mut v = runs.to_vec();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    }
    /// jsonwebtoken's median over tokenguard's (single-threaded): how many times faster
    /// tokenguard is.
    fn ratio(&self) -> f64 {
        Self::median(&self.jsonwebtoken) / Self::median(&self.tokenguard)
    }
    /// The same with tokenguard-sim's default `--jobs`.
    fn ratio_jobs(&self) -> f64 {
        Self::median(&self.jsonwebtoken) / Self::median(&self.tokenguard_jobs)
    }
}

/// The inclusive instruction count of the first line of `callgrind_annotate --inclusive=yes`
/// output that names `function` itself (`...:function [binary]`), or of `PROGRAM TOTALS`.
fn callgrind_inclusive(annotate: &str, function: &str) -> Option<u64> {
    let needle = format!("{function} [");
    annotate.lines().find_map(|l| {
        let l = l.trim_start();
        let (count, rest) = l.split_once(' ')?;
        let named =
            rest.contains(&needle) || (function == "PROGRAM TOTALS" && rest.ends_with(function));
        if !named {
            return None;
        }
        count.replace(',', "").parse().ok()
    })
}

/// Instructions per token of one single-threaded `verify --batch` process under callgrind:
/// (whole process, inside `EVP_DigestVerify`). `None` when valgrind is not installed.
fn callgrind_per_token(mut c: Command, tokens: usize, out: &Path) -> Result<Option<(f64, f64)>> {
    if Command::new("valgrind").arg("--version").output().is_err() {
        return Ok(None);
    }
    let prog = c.get_program().to_owned();
    let args: Vec<_> = c.get_args().map(ToOwned::to_owned).collect();
    let mut v = Command::new("valgrind");
    v.args(["--tool=callgrind", "--quiet"])
        .arg(format!("--callgrind-out-file={}", out.display()))
        .arg(prog)
        .args(args)
        .stdout(std::process::Stdio::null());
    c = v;
    let status = c.status().map_err(|e| format!("valgrind: {e}"))?;
    if !status.success() {
        return Err(format!("valgrind: {status}"));
    }
    let mut a = Command::new("callgrind_annotate");
    a.arg("--inclusive=yes").arg(out);
    let text = output(a)?;
    let total = callgrind_inclusive(&text, "PROGRAM TOTALS");
    let check = callgrind_inclusive(&text, "EVP_DigestVerify");
    match (total, check) {
        (Some(t), Some(c)) => Ok(Some((t as f64 / tokens as f64, c as f64 / tokens as f64))),
        _ => Err(format!(
            "callgrind_annotate {}: no totals or no EVP_DigestVerify",
            out.display()
        )),
    }
}

/// Whole processes: `tokenguard-sim verify --batch` (release build, its default backend)
/// against the same contract built on jsonwebtoken (`benches/src/bin/jsonwebtoken-batch.rs`),
/// on the same file of 10,000 distinct tokens per algorithm, 5 runs each, alternating which
/// goes first; every run must accept every line.
fn whole_process() -> Result<Vec<WholeProcess>> {
    const GROUPS: [&str; 3] = ["RS256", "ES256", "EdDSA"];
    const TOKENS: usize = 10_000;
    const RUNS: usize = 5;
    let mut c = cargo();
    c.args([
        "build",
        "--release",
        "-p",
        "tokenguard-sim",
        "-p",
        "tokenguard-benches",
        "--bin",
        "tokenguard-sim",
        "--bin",
        "jsonwebtoken-batch",
    ]);
    run(
        "build tokenguard-sim and the jsonwebtoken peer (release)",
        c,
    )?;
    let bin = root().join("target/release");
    let mut all = Vec::new();
    for group in GROUPS {
        let dir = root().join("target/whole-process").join(group);
        let mut c = Command::new(bin.join("jsonwebtoken-batch"));
        c.arg("mint").arg(group).arg(TOKENS.to_string()).arg(&dir);
        run(&format!("mint {TOKENS} {group} tokens"), c)?;
        let command = |exe: &str, jobs: Option<&str>, tokens: &Path| {
            let mut c = Command::new(bin.join(exe));
            c.arg("verify")
                .arg("--jwks")
                .arg(dir.join("jwks.json"))
                .args(["--iss", "https://issuer.example.com/tenant/7f3c2a"])
                .args(["--aud", "device-api", "--alg", group]);
            if let Some(j) = jobs {
                c.args(["--jobs", j]);
            }
            c.arg("--batch").arg(tokens);
            c
        };
        let once = |exe: &str, jobs: Option<&str>| -> Result<f64> {
            let path = dir.join(format!("{exe}.out"));
            let out = std::fs::File::create(&path).map_err(|e| e.to_string())?;
            let mut c = command(exe, jobs, &dir.join("tokens.txt"));
            c.stdout(out);
            let t = Instant::now();
            let status = c.status().map_err(|e| format!("{exe}: {e}"))?;
            let secs = t.elapsed().as_secs_f64();
            let text = std::fs::read_to_string(&path).map_err(|e| e.to_string())?;
            let accepted = text
                .lines()
                .filter(|l| l.starts_with(r#"{"ok":true,"claims":{"#))
                .count();
            if !status.success() || text.lines().count() != TOKENS || accepted != TOKENS {
                return Err(format!(
                    "{exe} {group}: {status}, {accepted} of {TOKENS} lines accepted"
                ));
            }
            Ok(secs)
        };
        // One untimed run each warms the page cache.
        once("tokenguard-sim", Some("1"))?;
        once("jsonwebtoken-batch", None)?;
        once("tokenguard-sim", None)?;
        let mut w = WholeProcess {
            group,
            tokens: TOKENS,
            tokenguard: Vec::new(),
            tokenguard_jobs: Vec::new(),
            jsonwebtoken: Vec::new(),
            instructions: None,
        };
        for i in 0..RUNS {
            // The three take turns going first.
            for k in 0..3 {
                match (i + k) % 3 {
                    0 => w.tokenguard.push(once("tokenguard-sim", Some("1"))?),
                    1 => w.jsonwebtoken.push(once("jsonwebtoken-batch", None)?),
                    _ => w.tokenguard_jobs.push(once("tokenguard-sim", None)?),
                }
            }
        }
        // Where the instructions go, single-threaded, on the first 1,000 tokens.
        const COUNTED: usize = 1000;
        let head = dir.join("tokens-1000.txt");
        let all_tokens =
            std::fs::read_to_string(dir.join("tokens.txt")).map_err(|e| e.to_string())?;
        let first: Vec<&str> = all_tokens.lines().take(COUNTED).collect();
        std::fs::write(&head, first.join("\n") + "\n").map_err(|e| e.to_string())?;
        let tg = callgrind_per_token(
            command("tokenguard-sim", Some("1"), &head),
            COUNTED,
            &dir.join("callgrind.tokenguard-sim"),
        )?;
        let jwt = callgrind_per_token(
            command("jsonwebtoken-batch", None, &head),
            COUNTED,
            &dir.join("callgrind.jsonwebtoken-batch"),
        )?;
        if let (Some(a), Some(b)) = (tg, jwt) {
            w.instructions = Some([a, b]);
        }
        println!(
            "whole process {group}: tokenguard-sim --jobs 1 {:.3} s, default --jobs {:.3} s, jsonwebtoken-batch {:.3} s (medians of {RUNS}): {:.2}x, {:.2}x",
            WholeProcess::median(&w.tokenguard),
            WholeProcess::median(&w.tokenguard_jobs),
            WholeProcess::median(&w.jsonwebtoken),
            w.ratio(),
            w.ratio_jobs()
        );
        all.push(w);
    }
    Ok(all)
}

/// `cargo xtask bench`: builds the benches, runs the criterion suite twice (forward, then in
/// reverse order, so slow drift on a shared machine shows up as a run-to-run spread), the
/// all-cores throughput run and the Cortex-M4 `fw-bench` in QEMU, then writes
/// docs/benchmarks.md and docs/benchmarks.svg. `TOKENGUARD_BENCH_NOTE` adds a note on the run's
/// conditions to the report.
fn bench() -> Result {
    use std::collections::BTreeMap;
    use std::fmt::Write as _;
    let t0 = Instant::now();
    let loadavg = || {
        std::fs::read_to_string("/proc/loadavg")
            .ok()
            .and_then(|s| s.split_whitespace().next().map(str::to_string))
            .unwrap_or_else(|| "?".into())
    };
    let load_start = loadavg();

    let mut c = cargo();
    c.args(["bench", "-p", "tokenguard-benches", "--no-run"]);
    let t = Instant::now();
    run("build the benches (bench profile)", c)?;
    let build_secs = t.elapsed().as_secs_f64();

    // Two passes, forward then reversed: medians per (group, function), in ns.
    type Medians = BTreeMap<(String, String), f64>;
    let mut passes: Vec<Medians> = Vec::new();
    let mut pass_secs = Vec::new();
    for reverse in [false, true] {
        for g in BENCH_GROUPS
            .iter()
            .chain(BENCH_EXTRA.iter().map(|(g, _)| g))
        {
            let _ = std::fs::remove_dir_all(root().join("target/criterion").join(g));
        }
        let mut c = cargo();
        c.args(["bench", "-p", "tokenguard-benches", "--bench", "verify"])
            .env("TOKENGUARD_BENCH_REVERSE", if reverse { "1" } else { "0" });
        let t = Instant::now();
        run(
            if reverse {
                "criterion suite, pass 2 (reverse order)"
            } else {
                "criterion suite, pass 1"
            },
            c,
        )?;
        pass_secs.push(t.elapsed().as_secs_f64());
        let mut m = Medians::new();
        for g in BENCH_GROUPS {
            for f in BENCH_IMPLS {
                if let Some(v) = bench_median(g, f) {
                    m.insert((g.into(), f.into()), v);
                }
            }
        }
        for (g, f) in BENCH_EXTRA {
            if let Some(v) = bench_median(g, f) {
                m.insert((g.into(), f.into()), v);
            }
        }
        if !BENCH_GROUPS
            .iter()
            .all(|g| m.contains_key(&(g.to_string(), "tokenguard-fastest".into())))
        {
            return Err("criterion estimates missing under target/criterion".into());
        }
        passes.push(m);
    }

    let mut c = cargo();
    c.args(["bench", "-p", "tokenguard-benches", "--bench", "throughput"]);
    println!("==> throughput (all cores)");
    let t = Instant::now();
    let tp_out = output(c)?;
    let tp_secs = t.elapsed().as_secs_f64();
    let throughput: Vec<(String, String, String, String)> = tp_out
        .lines()
        .filter_map(|l| l.strip_prefix("throughput "))
        .map(|l| {
            let kv = |k: &str| {
                l.split_whitespace()
                    .find_map(|x| x.strip_prefix(k))
                    .unwrap_or("?")
                    .to_string()
            };
            (
                kv("alg="),
                kv("threads="),
                kv("per_sec="),
                kv("cores_used="),
            )
        })
        .collect();
    print!("{tp_out}");

    let t = Instant::now();
    let whole = whole_process()?;
    let whole_secs = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let (fw, fw_source) = bench_firmware_rows();
    let fw_secs = t.elapsed().as_secs_f64();
    let load_end = loadavg();

    // Machine and toolchain.
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|s| s.trim_start_matches([' ', '\t', ':']).to_string())
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let rustc = {
        let mut c = Command::new("rustc");
        c.arg("-V");
        output(c).unwrap_or_default().trim().to_string()
    };
    let date = {
        let mut c = Command::new("date");
        c.args(["-u", "+%Y-%m-%d %H:%M UTC"]);
        output(c).unwrap_or_default().trim().to_string()
    };
    let versions = bench_lock_versions(&[
        "ring",
        "jsonwebtoken",
        "aws-lc-rs",
        "aws-lc-sys",
        "jwt-simple",
        "superboring",
        "jwt-compact",
        "rsa",
        "p256",
        "p384",
        "p521",
        "k256",
        "ed25519-compact",
        "criterion",
    ]);

    // Per (group, function): both passes, the better of the two (contention from other work on
    // the machine only ever adds time to a CPU-bound loop) and the spread between them.
    let get = |p: usize, g: &str, f: &str| passes[p].get(&(g.to_string(), f.to_string())).copied();
    let best = |g: &str, f: &str| match (get(0, g, f), get(1, g, f)) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let spread = |g: &str, f: &str| match (get(0, g, f), get(1, g, f)) {
        (Some(a), Some(b)) => Some((a - b).abs() / ((a + b) / 2.0) * 100.0),
        _ => None,
    };
    // A ratio num/den from the best times, and within each pass.
    let ratio = |g: &str, num: &str, den: &str| -> Option<(f64, f64, f64)> {
        let r = |p| Some(get(p, g, num)? / get(p, g, den)?);
        Some((best(g, num)? / best(g, den)?, r(0)?, r(1)?))
    };
    // A difference a − b (ns) of the best times.
    let diff = |g: &str, a: &str, b: &str| -> Option<f64> { Some(best(g, a)? - best(g, b)?) };
    // Groups whose passes disagree by more than 10 % somewhere.
    let noisy: Vec<&str> = BENCH_GROUPS
        .iter()
        .copied()
        .filter(|g| {
            BENCH_IMPLS
                .iter()
                .any(|f| spread(g, f).is_some_and(|s| s > 10.0))
        })
        .collect();
    let mut spreads: Vec<f64> = BENCH_GROUPS
        .iter()
        .flat_map(|g| BENCH_IMPLS.iter().filter_map(move |f| spread(g, f)))
        .collect();
    spreads.sort_by(f64::total_cmp);
    let median_spread = spreads.get(spreads.len() / 2).copied().unwrap_or(0.0);
    let max_spread = spreads.last().copied().unwrap_or(0.0);

    // Goals.
    let mut goals: Vec<(String, String, bool)> = Vec::new();
    // What holds each missed goal back, from the same measurements.
    let mut why: Vec<String> = Vec::new();
    let hs_over = diff("HS256", "tokenguard-ring", "raw-ring");
    for (g, limit) in [
        ("RS256", 1.05),
        ("ES256", 1.05),
        ("EdDSA", 1.05),
        ("HS256", 2.5),
    ] {
        if let Some((m, a, b)) = ratio(g, "tokenguard-ring", "raw-ring") {
            if m > limit {
                if let (Some(raw), Some(over)) =
                    (best(g, "raw-ring"), diff(g, "tokenguard-ring", "raw-ring"))
                {
                    why.push(format!(
                        "{g} (ring): tokenguard spends {} above ring's {} signature check, where {limit}x allows {}. \
                         That is splitting, base64url, the header, the key lookup and the claims: about \
                         the same for every algorithm (HS256: {}){}.",
                        bench_fmt(over),
                        bench_fmt(raw),
                        bench_fmt(raw * (limit - 1.0)),
                        hs_over.map(bench_fmt).unwrap_or_default(),
                        if g.starts_with("RS") || g.starts_with("PS") {
                            ", plus the base64url of a 342-character signature"
                        } else {
                            ""
                        }
                    ));
                }
            }
            goals.push((
                format!("{g}: tokenguard (ring) full token ≤ {limit:.2}x raw ring"),
                format!(
                    "{m:.3}x (pass 1 {a:.3}x, pass 2 {b:.3}x){}",
                    if (a <= limit) != (b <= limit) {
                        "; the passes disagree"
                    } else {
                        ""
                    }
                ),
                m <= limit,
            ));
        }
    }
    // RS256 with the aws-lc backend, whose keys are parsed once.
    if let Some((m, a, b)) = ratio("RS256", "tokenguard-aws-lc", "raw-ring") {
        if m > 0.75 {
            if let (Some(parsed), Some(ring), Some(over)) = (
                best("RS256", "raw-aws-lc-parsed"),
                best("RS256", "raw-ring"),
                diff("RS256", "tokenguard-aws-lc", "raw-aws-lc-parsed"),
            ) {
                why.push(format!(
                    "RS256 (aws-lc): AWS-LC's own check with the key parsed once takes {} ({:.2}x raw \
                     ring) and tokenguard adds {} of parsing and policy on top; 0.75x ({}) would \
                     leave {} for everything but the signature.",
                    bench_fmt(parsed),
                    parsed / ring,
                    bench_fmt(over),
                    bench_fmt(0.75 * ring),
                    bench_fmt((0.75 * ring - parsed).max(0.0))
                ));
            }
        }
        goals.push((
            "RS256: tokenguard (aws-lc) full token ≤ 0.75x raw ring".into(),
            format!("{m:.2}x (pass 1 {a:.2}x, pass 2 {b:.2}x)"),
            m <= 0.75,
        ));
    }
    // Against the peers, tokenguard is its fastest backend on each algorithm (on a host all
    // three run; a user picks one; the table names the one that counted).
    let host_best = |g: &str| -> &'static str {
        [
            "tokenguard-fastest",
            "tokenguard-ring",
            "tokenguard-aws-lc",
            "tokenguard-rustcrypto",
        ]
        .into_iter()
        .filter_map(|f| Some((best(g, f)?, f)))
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .map_or("tokenguard-fastest", |(_, f)| f)
    };
    let backend = |f: &str| f.trim_start_matches("tokenguard-").to_string();
    for (g, min) in [("ES256", 1.1), ("HS256", 3.0), ("RS256", 1.0)] {
        let tg = host_best(g);
        if let Some((m, a, b)) = ratio(g, "jsonwebtoken", tg) {
            if m < min {
                let floor = ["raw-ring", "raw-aws-lc", "raw-aws-lc-parsed"]
                    .into_iter()
                    .filter_map(|f| best(g, f))
                    .fold(f64::MAX, f64::min);
                if let (Some(jwt), Some(t)) = (best(g, "jsonwebtoken"), best(g, tg)) {
                    let need = jwt / min;
                    why.push(if floor >= need {
                        format!(
                            "{g} against jsonwebtoken: {min}x needs a full token in {}, but the \
                             fastest signature check alone (ring or AWS-LC, key parsed or not) takes \
                             {}: no verifier on these crypto libraries can get there, whatever its \
                             parsing costs. tokenguard ({}) takes {}.",
                            bench_fmt(need),
                            bench_fmt(floor),
                            backend(tg),
                            bench_fmt(t)
                        )
                    } else {
                        format!(
                            "{g} against jsonwebtoken: {min}x needs a full token in {}; tokenguard \
                             ({}) takes {}, of which the signature check is about {}: the rest is the \
                             parse (see the ring rows above).",
                            bench_fmt(need),
                            backend(tg),
                            bench_fmt(t),
                            bench_fmt(floor)
                        )
                    });
                }
            }
            let what = if min > 1.0 {
                format!("{g}: ≥ {min}x faster than jsonwebtoken")
            } else {
                format!("{g}: not slower than jsonwebtoken")
            };
            goals.push((
                what,
                format!(
                    "{} with {} (jsonwebtoken time / tokenguard time {m:.2}x; pass 1 {a:.2}x, pass 2 {b:.2}x){}",
                    if m >= 1.0 {
                        format!("{m:.2}x faster")
                    } else {
                        format!("{:.0} % slower", (1.0 / m - 1.0) * 100.0)
                    },
                    backend(tg),
                    if (a >= min) != (b >= min) {
                        "; the passes disagree"
                    } else {
                        ""
                    }
                ),
                m >= min,
            ));
        }
    }
    // The host default (`crypto::Fastest`) against jsonwebtoken on every algorithm it has, and
    // against the fastest bare signature check where no peer has the algorithm.
    for g in BENCH_GROUPS {
        if let Some((m, a, b)) = ratio(g, "jsonwebtoken", "tokenguard-fastest") {
            if m <= 1.0 {
                why.push(format!(
                    "{g}: jsonwebtoken is ahead of tokenguard's default backend (fastest)."
                ));
            }
            goals.push((
                format!("{g}: tokenguard (fastest, the host default) ahead of jsonwebtoken"),
                format!("{m:.2}x faster (pass 1 {a:.2}x, pass 2 {b:.2}x)"),
                m > 1.0,
            ));
        } else if let Some((floor, f)) = ["raw-ring", "raw-aws-lc", "raw-aws-lc-parsed"]
            .into_iter()
            .filter_map(|f| Some((best(g, f)?, f)))
            .min_by(|a, b| a.0.total_cmp(&b.0))
        {
            if let Some(t) = best(g, "tokenguard-fastest") {
                let m = t / floor;
                if m > 1.05 {
                    why.push(format!(
                        "{g} (fastest): {} above the bare signature check ({}).",
                        bench_fmt(t - floor),
                        bench_fmt(floor)
                    ));
                }
                goals.push((
                    format!(
                        "{g}: tokenguard (fastest) full token ≤ 1.05x the fastest bare signature \
                         check (jsonwebtoken has no {g})"
                    ),
                    format!("{m:.3}x {}", f.replace('-', " ")),
                    m <= 1.05,
                ));
            }
        }
    }
    for g in BENCH_GROUPS {
        let tg = host_best(g);
        let mut worst: Option<(f64, &str)> = None;
        for p in ["jsonwebtoken", "jwt-simple", "jwt-compact"] {
            if let Some((m, _, _)) = ratio(g, p, tg) {
                if worst.is_none_or(|(w, _)| m < w) {
                    worst = Some((m, p));
                }
            }
        }
        if let Some((m, p)) = worst {
            if m <= 1.0 {
                why.push(format!(
                    "{g}: {p} is ahead of tokenguard's fastest backend ({}).",
                    backend(tg)
                ));
            }
            goals.push((
                format!("{g}: tokenguard ahead of every peer"),
                if m >= 1.0 {
                    format!(
                        "with {}; closest peer {p}: tokenguard {m:.2}x faster",
                        backend(tg)
                    )
                } else {
                    format!(
                        "with {}; {p} is faster: tokenguard takes {:.0} % longer ({m:.2}x)",
                        backend(tg),
                        (1.0 / m - 1.0) * 100.0
                    )
                },
                m > 1.0,
            ));
        }
    }

    // Whole processes: `verify --batch` against the same contract on jsonwebtoken.
    for w in &whole {
        let g = w.group;
        let m = w.ratio();
        if m < 1.2 {
            if let Some([(tg_all, tg_check), (jwt_all, jwt_check)]) = w.instructions {
                // Instructions do not drift with the machine's load: the single-threaded
                // ceiling is jsonwebtoken's whole token over the check both programs end in.
                let c = jwt_all / jwt_check;
                why.push(format!(
                    "{g} whole process, instructions per token under callgrind (`--jobs 1`, the \
                     first 1,000 tokens): jsonwebtoken-batch {:.0}k, of which {:.0}k inside \
                     AWS-LC's `EVP_DigestVerify`; tokenguard-sim {:.0}k, of which {:.0}k in the \
                     same function ({:.1} % of its process). Both end in the same AWS-LC check, \
                     so a single-threaded verifier that spent nothing on parsing, policy and I/O \
                     would be {c:.2}x faster at most{}. On more than one core, the default \
                     `--jobs` verifies lines in parallel: {:.2}x (table below).",
                    jwt_all / 1e3,
                    jwt_check / 1e3,
                    tg_all / 1e3,
                    tg_check / 1e3,
                    100.0 * tg_check / tg_all,
                    if c < 1.2 {
                        ": 1.2x single-threaded is out of reach without a faster signature check than AWS-LC's"
                    } else {
                        ""
                    },
                    w.ratio_jobs()
                ));
            }
        }
        goals.push((
            format!(
                "{g}: whole-process `verify --batch` ≥ 1.2x faster than jsonwebtoken (both single-threaded)"
            ),
            format!(
                "{m:.2}x ({} against {} per token, medians of {} alternating runs)",
                bench_fmt(WholeProcess::median(&w.tokenguard) * 1e9 / w.tokens as f64),
                bench_fmt(WholeProcess::median(&w.jsonwebtoken) * 1e9 / w.tokens as f64),
                w.tokenguard.len()
            ),
            m >= 1.2,
        ));
    }

    // The report.
    let mut md = String::new();
    let _ = writeln!(md, "# Benchmarks\n");
    let _ = writeln!(
        md,
        "Generated by `cargo xtask bench` on {date}; do not edit by hand. Machine: {cpu}, {cores} cores \
         (`available_parallelism`); {rustc}. Load average (1 min) {load_start} at the start and \
         {load_end} at the end of the run: on {cores} cores, anything above {cores} means other work \
         competed with the benches and the figures are noisier than they would be on an idle machine.\n"
    );
    if let Ok(note) = std::env::var("TOKENGUARD_BENCH_NOTE") {
        let _ = writeln!(md, "Note on this run: {note}\n");
    }
    let _ = writeln!(
        md,
        "![Full-token verify, median per token, log scale](benchmarks.svg)\n"
    );
    let _ = writeln!(md, "## Method\n");
    let _ = writeln!(
        md,
        "Criterion (`benches/benches/verify.rs`): warm-up 0.5 s, measurement 2 s, 30 samples per \
         function; the figure is criterion's median. Every column verifies the same compact token \
         (~300 bytes of claims: iss, sub, aud, exp, iat, nbf, jti and three private claims), and \
         every implementation accepts it once before timing, so no error path is timed. The suite \
         runs twice, forward and then in reverse order (groups and functions), so drift on this \
         shared machine shows up as a difference between the passes instead of a bias against \
         whichever ran last. The tables give both passes and the better of the two (\"best\"): \
         other work on the machine only ever adds time to a CPU-bound loop, so the lower median \
         is the less disturbed one; ratios are taken between best times, and the goals also show \
         the ratio within each pass.\n\n\
         - **raw ring**: ring checking the signature of the signing input alone (RSA: \
         `RsaPublicKeyComponents::verify`; ECDSA/EdDSA: `UnparsedPublicKey::verify`; HMAC: \
         `hmac::verify` with the key prepared once): the floor.\n\
         - **raw aws-lc**: aws-lc-rs doing the same (the crypto under jsonwebtoken's provider); \
         informational, to separate parsing and validation costs from crypto-library speed.\n\
         - **raw aws-lc, key parsed once**: aws-lc-rs `ParsedPublicKey::verify_sig`, the floor under \
         tokenguard's aws-lc backend.\n\
         - **tokenguard**: `KeySet::verify_with::<Ring>` / `::<AwsLc>` / `::<RustCrypto>`: split, strict base64url, \
         JOSE header policy, key lookup by `kid`, signature, claims (iss, aud, exp, nbf, iat), \
         algorithm pinned by the policy and by the key. `now` is passed in, as the API requires. \
         The aws-lc backend verifies with the key AWS-LC parsed when it entered the key set \
         (`ParsedPublicKey`; for RSA, AWS-LC then keeps the Montgomery setup too). \
         **tokenguard (fastest)** is `verify_with::<Fastest>`: each primitive from the fastest \
         backend compiled in (AWS-LC for RSA, ECDSA and Ed25519, the pure-Rust HMAC), the default \
         backend of `tokenguard-sim` and of every host build with more than one backend. ES512 and \
         ES256K tokens are signed by tokenguard's own signer with our test keys (ring has neither \
         curve). Against the peers, the goals count tokenguard's fastest backend per algorithm, and \
         the default one against jsonwebtoken.\n\
         - **jsonwebtoken** (`aws_lc_rs` provider, as its README recommends; the default features \
         select no crypto provider): `decode::<T>` with `Validation::new(alg)`, issuer and audience \
         set, `validate_nbf`; T holds the registered claims.\n\
         - **jwt-simple** (`default-features = false, features = [\"pure-rust\"]`: its default \
         `optimal` feature builds BoringSSL, which needs cmake and Go): `verify_token` with allowed \
         issuers and audiences; the key type pins the algorithm.\n\
         - **jwt-compact** (`p256`, `rsa`, `ed25519-compact`; no ES384 support): \
         `validator().validate()`, `validate_expiration`, `validate_maturity`, then issuer and \
         audience compared by the caller.\n\n\
         The peers read the system clock on every verify (tens of ns); tokenguard is handed `now`.\n"
    );
    let _ = writeln!(md, "Crate versions (Cargo.lock):\n");
    for (n, v) in &versions {
        let _ = writeln!(md, "- {n} {v}");
    }
    let _ = writeln!(
        md,
        "\nRun-to-run spread between the two passes, over every (algorithm, implementation) pair: \
         median {median_spread:.1} %, largest {max_spread:.1} %.\n"
    );
    if !noisy.is_empty() {
        let _ = writeln!(
            md,
            "Noisy in this run (the passes disagree by more than 10 % on some row): {}. Their \
             best times are the less disturbed pass; a quiet machine would settle them.\n",
            noisy.join(", ")
        );
    }

    let _ = writeln!(md, "## Goals\n");
    let _ = writeln!(md, "| goal | measured | |\n|---|---|---|");
    for (what, got, met) in &goals {
        let _ = writeln!(
            md,
            "| {what} | {got} | {} |",
            if *met { "met" } else { "**missed**" }
        );
    }
    let missed: Vec<&(String, String, bool)> = goals.iter().filter(|g| !g.2).collect();
    if missed.is_empty() {
        let _ = writeln!(md, "\nEvery goal was met in this run.\n");
    } else {
        let _ = writeln!(
            md,
            "\n{} of {} goals missed in this run. What holds them back, from the same \
             measurements:\n",
            missed.len(),
            goals.len()
        );
        for w in &why {
            let _ = writeln!(md, "- {w}");
        }
        let _ = writeln!(md);
    }

    // Where the gaps to jsonwebtoken come from: each library's cost above its own crypto's
    // raw signature check, and the gap between the two crypto libraries themselves.
    let _ = writeln!(
        md,
        "Where the gaps to jsonwebtoken come from: the time each spends above its own crypto \
         library's raw signature check (tokenguard on ring, and on aws-lc with the key parsed once as \
         its backend keeps it; jsonwebtoken on aws-lc, which parses the key on every call), and \
         the gap between the two crypto libraries on the same signature:\n\n\
         | alg | tokenguard (ring) − raw ring | tokenguard (aws-lc) − raw aws-lc, parsed key | jsonwebtoken − raw aws-lc | raw ring − raw aws-lc |\n|---|---:|---:|---:|---:|"
    );
    for g in BENCH_GROUPS {
        let d = |a: &str, b: &str| -> String {
            match diff(g, a, b) {
                Some(x) if x >= 0.0 => bench_fmt(x),
                Some(x) => format!("−{}", bench_fmt(-x)),
                None => "–".into(),
            }
        };
        let _ = writeln!(
            md,
            "| {g} | {} | {} | {} | {} |",
            d("tokenguard-ring", "raw-ring"),
            d("tokenguard-aws-lc", "raw-aws-lc-parsed"),
            d("jsonwebtoken", "raw-aws-lc"),
            d("raw-ring", "raw-aws-lc")
        );
    }
    let _ = writeln!(md);

    let _ = writeln!(md, "## Full-token verify, per algorithm\n");
    let label = |f: &'static str| match f {
        "raw-ring" => "raw ring (signature only)",
        "raw-aws-lc" => "raw aws-lc (signature only)",
        "raw-aws-lc-parsed" => "raw aws-lc, key parsed once (signature only)",
        "tokenguard-ring" => "**tokenguard (ring)**",
        "tokenguard-aws-lc" => "**tokenguard (aws-lc)**",
        "tokenguard-rustcrypto" => "tokenguard (rustcrypto)",
        "tokenguard-fastest" => "**tokenguard (fastest: the host default)**",
        other => other,
    };
    let mut chart: Vec<(&str, Vec<(&str, f64)>)> = Vec::new();
    for g in BENCH_GROUPS {
        let _ = writeln!(
            md,
            "### {g}\n\n| implementation | pass 1 | pass 2 | best | vs raw ring | vs tokenguard (ring) | spread |\n|---|---:|---:|---:|---:|---:|---:|"
        );
        let mut bars = Vec::new();
        for f in BENCH_IMPLS {
            let Some(m) = best(g, f) else { continue };
            let cell = |p| get(p, g, f).map(bench_fmt).unwrap_or_else(|| "–".into());
            let vs_raw = ratio(g, f, "raw-ring")
                .map(|r| format!("{:.2}x", r.0))
                .unwrap_or_default();
            let vs_tg = ratio(g, f, "tokenguard-ring")
                .map(|r| format!("{:.2}x", r.0))
                .unwrap_or_default();
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {vs_raw} | {vs_tg} | {} |",
                label(f),
                cell(0),
                cell(1),
                bench_fmt(m),
                spread(g, f)
                    .map(|s| format!("{s:.1} %"))
                    .unwrap_or_default()
            );
            bars.push((f, m));
        }
        match g {
            "ES384" => {
                let _ = writeln!(md, "\njwt-compact has no ES384.");
            }
            "ES512" => {
                let _ = writeln!(
                    md,
                    "\nring has no P-521 (so no ring rows), and none of the peers has ES512 \
                     (jsonwebtoken's request for it has been open since 2022)."
                );
            }
            "ES256K" => {
                let _ = writeln!(
                    md,
                    "\nring and jsonwebtoken have no secp256k1; jwt-compact has ES256K only \
                     through the C library libsecp256k1, not built here."
                );
            }
            _ => {}
        }
        let _ = writeln!(md);
        chart.push((g, bars));
    }

    let _ = writeln!(md, "## JWK Set ingestion, cache lookup, throughput\n");
    if let Some(m) = best("jwks", "load-10-keys") {
        let _ = writeln!(
            md,
            "- `KeySet::load_jwks` of a 10-key JWK Set (eight RSA-2048 and two P-256 keys with `kid`, \
             `use`, `alg`, like Google's or Auth0's), into an empty `KeySet<16>`: {} for the set, \
             **{} per key** (passes: {} / {}). This includes validating each key and, for RSA, \
             computing the Montgomery constants once, at load; the benches build tokenguard with \
             the `aws-lc` feature on, so each key is also parsed by AWS-LC, once.",
            bench_fmt(m),
            bench_fmt(m / 10.0),
            get(0, "jwks", "load-10-keys").map(bench_fmt).unwrap_or_default(),
            get(1, "jwks", "load-10-keys").map(bench_fmt).unwrap_or_default()
        );
    }
    if let Some(m) = best("cache", "get-last-of-32") {
        let _ = writeln!(
            md,
            "- `KeySet::get(kid)` of the last key in a full `KeySet<32>`: **{}** (passes: {} / {}).",
            bench_fmt(m),
            get(0, "cache", "get-last-of-32").map(bench_fmt).unwrap_or_default(),
            get(1, "cache", "get-last-of-32").map(bench_fmt).unwrap_or_default()
        );
    }
    if !throughput.is_empty() {
        let _ = writeln!(
            md,
            "\nVerifies per second with tokenguard's ring backend, 1 thread and then {cores} threads \
             (`benches/benches/throughput.rs`: each thread verifies the same token in a loop for 2 s; \
             \"cores used\" is the process's CPU time over the wall time):\n\n\
             | alg | threads | verifies/s | cores used |\n|---|---:|---:|---:|"
        );
        for (alg, threads, per_sec, used) in &throughput {
            let _ = writeln!(md, "| {alg} | {threads} | {per_sec} | {used} |");
        }
        let starved: Vec<String> = throughput
            .iter()
            .filter(|(_, t, _, u)| {
                matches!((t.parse::<f64>(), u.parse::<f64>()), (Ok(t), Ok(u)) if t > 1.0 && u < 0.9 * t)
            })
            .map(|(alg, _, _, u)| format!("{alg} ({u} cores)"))
            .collect();
        if !starved.is_empty() {
            let _ = writeln!(
                md,
                "\nSome {cores}-thread runs got fewer than {cores} cores: {}. Other work on this shared \
                 machine held the rest, so those totals understate what {cores} idle cores give (one \
                 thread's rate times the cores is the better estimate there).",
                starved.join(", ")
            );
        }
    }
    let _ = writeln!(md);

    let _ = writeln!(md, "## Whole process: `verify --batch`\n");
    let _ = writeln!(
        md,
        "`tokenguard-sim verify --batch` (release build, its default backend `Fastest`) against the \
         same contract built on jsonwebtoken (`benches/src/bin/jsonwebtoken-batch.rs`: `aws_lc_rs` \
         provider, the keys parsed once at start, `decode` into a `serde_json::Value`, one JSON line \
         out per token line), single-threaded, on the same file of distinct tokens (same key, \
         claims as above, a new `jti` each), with `--jwks --iss --aud --alg ALG --batch FILE` and \
         stdout to a file. tokenguard-sim runs twice: with `--jobs 1` (single-threaded, the \
         comparison the goals count) and with its default `--jobs` (one thread per available \
         core; the answers keep the input order). Wall time per process, 5 runs each taking turns \
         at going first, after one untimed run each; every run must accept every line. \
         Reproduce by hand:\n\n\
         ```text\n\
         cargo build --release -p tokenguard-sim -p tokenguard-benches --bin tokenguard-sim --bin jsonwebtoken-batch\n\
         target/release/jsonwebtoken-batch mint ES256 10000 /tmp/es256\n\
         target/release/tokenguard-sim verify --jwks /tmp/es256/jwks.json --iss https://issuer.example.com/tenant/7f3c2a \\\n\
         \x20   --aud device-api --alg ES256 --jobs 1 --batch /tmp/es256/tokens.txt > /dev/null\n\
         target/release/jsonwebtoken-batch verify --jwks /tmp/es256/jwks.json --iss https://issuer.example.com/tenant/7f3c2a \\\n\
         \x20   --aud device-api --alg ES256 --batch /tmp/es256/tokens.txt > /dev/null\n\
         ```\n\n\
         | alg | tokens | tokenguard-sim --jobs 1 (median) | jsonwebtoken-batch (median) | per token | runs (tokenguard / jsonwebtoken, s) | jsonwebtoken / tokenguard | tokenguard-sim, default --jobs ({cores} cores) | jsonwebtoken / that |\n|---|---:|---:|---:|---:|---|---:|---:|---:|"
    );
    for w in &whole {
        let list = |v: &[f64]| {
            v.iter()
                .map(|x| format!("{x:.3}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let (t, j) = (
            WholeProcess::median(&w.tokenguard),
            WholeProcess::median(&w.jsonwebtoken),
        );
        let _ = writeln!(
            md,
            "| {} | {} | {t:.3} s | {j:.3} s | {} / {} | {} / {} | {:.2}x | {:.3} s ({}) | {:.2}x |",
            w.group,
            w.tokens,
            bench_fmt(t * 1e9 / w.tokens as f64),
            bench_fmt(j * 1e9 / w.tokens as f64),
            list(&w.tokenguard),
            list(&w.jsonwebtoken),
            w.ratio(),
            WholeProcess::median(&w.tokenguard_jobs),
            list(&w.tokenguard_jobs),
            w.ratio_jobs()
        );
    }
    let _ = writeln!(md);

    let _ = writeln!(md, "## Cortex-M4 (QEMU mps2-an386)\n");
    let _ = writeln!(
        md,
        "tokenguard's figures are {fw_source}: instructions for a whole token (split, base64url, \
         header, claims, policy, hash and signature) with the firmware's pure-Rust backend, ES256 \
         through P256-Cortex-M4's assembly. **QEMU counts instructions, not cycles**: a Cortex-M4 \
         needs more cycles than instructions (loads, taken branches, flash wait states), by a factor \
         that depends on the part and its memory system. The published figures below are cycles \
         for the signature operation alone on real Cortex-M4 parts, so read the comparison as an \
         order of magnitude, not a ratio. See docs/firmware.md for stack and flash.\n"
    );
    let _ = writeln!(
        md,
        "| alg | tokenguard, instructions per full-token verify | key import (instructions) |\n|---|---:|---:|"
    );
    for (alg, v, imp) in &fw {
        let _ = writeln!(md, "| {alg} | {v} | {imp} |");
    }
    let _ = writeln!(
        md,
        "\nPublished Cortex-M4 figures (cycles, signature verification only):\n\n\
         | operation | implementation | cycles | source |\n|---|---|---:|---|\n\
         | P-256 ECDSA verify | P256-Cortex-M4 (assembly; the one tokenguard's firmware links) | 976 k | [Emill/P256-Cortex-M4 README](https://github.com/Emill/P256-Cortex-M4), nRF52840, GCC -O2 |\n\
         | P-256 ECDSA verify | p256-cm4 (Rust port of the same) | 1.23 M (1,225,746) | [newAM/p256-cm4 README](https://github.com/newAM/p256-cm4), STM32WLE5 |\n\
         | P-256 ECDSA verify | RustCrypto `p256` | 14.3 M (14,303,277) | [newAM/p256-cm4 README](https://github.com/newAM/p256-cm4), STM32WLE5 |\n\
         | P-256 ECDSA verify | micro-ecc | ~9.4 M (52.0 ms at 180 MHz) | [thingsat/ecc_mcu_benchmarks](https://github.com/thingsat/ecc_mcu_benchmarks), Nucleo-F446RE |\n\
         | RSA-2048 public (verify) | wolfSSL 5.6.4, SP Cortex-M asm | 2.2 M (28.0 ms at 80 MHz) | [wolfSSL IDE/STM32Cube/STM32_Benchmarks.md](https://github.com/wolfSSL/wolfssl/blob/master/IDE/STM32Cube/STM32_Benchmarks.md), STM32L4A6Z |\n\
         | Ed25519 verify | wolfSSL 5.6.4, Thumb-2 asm | 2.93 M (36.571 ms at 80 MHz) | same, STM32L4A6Z |\n"
    );

    let total = t0.elapsed().as_secs_f64();
    let _ = writeln!(
        md,
        "## This run\n\n{total:.0} s in all: build {build_secs:.0} s (incremental), criterion pass 1 \
         {:.0} s, pass 2 {:.0} s, throughput {tp_secs:.0} s, whole processes {whole_secs:.0} s, \
         firmware build and QEMU {fw_secs:.0} s.",
        pass_secs.first().copied().unwrap_or(0.0),
        pass_secs.get(1).copied().unwrap_or(0.0)
    );

    let docs = root().join("docs");
    std::fs::write(docs.join("benchmarks.md"), &md).map_err(|e| e.to_string())?;
    std::fs::write(docs.join("benchmarks.svg"), bench_svg(&chart)).map_err(|e| e.to_string())?;
    println!("{md}");
    println!("wrote docs/benchmarks.md and docs/benchmarks.svg ({total:.0} s)");
    Ok(())
}

/// Link-time panic-freedom proof: the firmware's `panic-check` image (the device with
/// HS*/RS*/PS* on tokenguard's own RSA) links against a panic handler that calls an
/// undefined symbol, so it links only if no panic is reachable.
fn fw_panic_check() -> Result {
    ensure_firmware_tools()?;
    let mut c = cargo();
    c.current_dir(firmware_dir()).args([
        "build",
        "--release",
        "--bin",
        "panic-check",
        "--no-default-features",
        "--features",
        "panic-check",
    ]);
    run(
        "panic-freedom: the device image links with an undefined panic handler",
        c,
    )
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
        "-p",
        "tokenguard-device",
        "--no-default-features",
        "--features",
        "tokenguard/rustcrypto,tokenguard-device/embedded-io",
        "--target",
        THUMB,
        "--",
        "-D",
        "warnings",
    ]);
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
    fw_bench(false)?;
    fuzz(&["--smoke".to_string()])?;
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

/// `cargo xtask fuzz [--smoke | --seconds N] [TARGET...]`: installs cargo-fuzz and the
/// nightly toolchain if missing, builds the seed corpora, builds every target (with debug
/// assertions), then runs each target for N seconds (`--smoke`: 30, the default) and fails if
/// any finds a crash. New inputs accumulate in `fuzz/corpus/<target>` (git-ignored); seeds are
/// rebuilt each run in `target/fuzz-seeds/<target>`; `fuzz/regressions/<target>` (committed
/// crash reproducers) is replayed first. Logs: `target/fuzz-logs/<target>.log`.
fn fuzz(args: &[String]) -> Result {
    /// Seed corpora from the committed seeds (`fuzz/seeds/`), the negative corpus, the
    /// Wycheproof and RFC 7520 files, all read in place (nothing third-party is copied into the
    /// repository; the seeds land in `target/`).
    mod seeds {
        use std::collections::BTreeSet;
        use std::path::{Path, PathBuf};

        /// What one JSON file yields.
        #[derive(Default)]
        struct Found {
            tokens: Vec<String>,
            jwks: Vec<String>,
            sets: Vec<String>,
        }

        /// Walks JSON text without a parser: string values that look like compact JWS, leaf
        /// objects with a `kty` member (JWKs) and objects with a `keys` member (JWK Sets).
        fn scan(text: &[u8], f: &mut Found) {
            let mut stack: Vec<(usize, bool)> = Vec::new();
            let mut i = 0;
            while i < text.len() {
                match text[i] {
                    b'"' => {
                        let start = i + 1;
                        let mut j = start;
                        let mut escaped = false;
                        while j < text.len() && text[j] != b'"' {
                            if text[j] == b'\\' {
                                escaped = true;
                                j += 1;
                            }
                            j += 1;
                        }
                        let s = &text[start..j.min(text.len())];
                        if !escaped && looks_like_jws(s) {
                            f.tokens.push(String::from_utf8_lossy(s).into_owned());
                        }
                        i = j + 1;
                        continue;
                    }
                    b'{' => {
                        if let Some(top) = stack.last_mut() {
                            top.1 = true;
                        }
                        stack.push((i, false));
                    }
                    b'}' => {
                        if let Some((start, nested)) = stack.pop() {
                            let obj = String::from_utf8_lossy(&text[start..=i]).into_owned();
                            if !nested && obj.contains("\"kty\"") {
                                f.jwks.push(obj);
                            } else if obj.contains("\"keys\"") && obj.contains("\"kty\"") {
                                f.sets.push(obj);
                            }
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
        }

        fn looks_like_jws(s: &[u8]) -> bool {
            s.len() >= 10
                && s.starts_with(b"eyJ")
                && s.iter().filter(|&&c| c == b'.').count() == 2
                && s.iter()
                    .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
        }

        /// Strict-enough base64url decoding for seeds.
        fn unb64(s: &str) -> Option<Vec<u8>> {
            let mut out = Vec::new();
            let (mut acc, mut bits) = (0u32, 0u32);
            for c in s.bytes() {
                let v = match c {
                    b'A'..=b'Z' => c - b'A',
                    b'a'..=b'z' => c - b'a' + 26,
                    b'0'..=b'9' => c - b'0' + 52,
                    b'-' => 62,
                    b'_' => 63,
                    _ => return None,
                };
                acc = (acc << 6) | u32::from(v);
                bits += 6;
                if bits >= 8 {
                    bits -= 8;
                    out.push((acc >> bits) as u8);
                }
            }
            Some(out)
        }

        fn fnv(b: &[u8]) -> u64 {
            b.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &x| {
                (h ^ u64::from(x)).wrapping_mul(0x0000_0100_0000_01b3)
            })
        }

        fn put(dir: &Path, data: &[u8]) -> Result<(), String> {
            std::fs::write(dir.join(format!("{:016x}", fnv(data))), data)
                .map_err(|e| format!("{}: {e}", dir.display()))
        }

        fn json_files(dir: &Path, out: &mut Vec<PathBuf>) {
            let Ok(rd) = std::fs::read_dir(dir) else {
                return;
            };
            let mut entries: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
            entries.sort();
            for p in entries {
                if p.is_dir() {
                    json_files(&p, out);
                } else if p.extension().is_some_and(|e| e == "json") {
                    out.push(p);
                }
            }
        }

        /// A `device_proto` request: `tag len:u16 body` (tag = index into its KNOWN table).
        fn req(out: &mut Vec<u8>, tag: u8, body: &[u8]) {
            out.push(tag);
            out.extend_from_slice(&(body.len() as u16).to_le_bytes());
            out.extend_from_slice(body);
        }
        const INFO: u8 = 0;
        const SET_TIME: u8 = 1;
        const GET_TIME: u8 = 2;
        const LOAD_JWK: u8 = 3;
        const JWKS_BEGIN: u8 = 4;
        const JWKS_CHUNK: u8 = 5;
        const JWKS_END: u8 = 6;
        const REMOVE_KEY: u8 = 7;
        const LIST_KEYS: u8 = 8;
        const FETCH_FAILED: u8 = 9;
        const REFRESH_STATE: u8 = 10;
        const VERIFY: u8 = 12;
        const SIGN: u8 = 13;
        const STATS: u8 = 15;

        fn sign_body(preset: u8, sub: &str, aud: &str, jti: &str) -> Vec<u8> {
            let mut b = vec![preset];
            b.extend_from_slice(&300u32.to_le_bytes());
            b.extend_from_slice(&5u16.to_le_bytes());
            for s in ["", sub, aud, jti] {
                b.push(s.len() as u8);
                b.extend_from_slice(s.as_bytes());
            }
            b
        }

        /// Builds `out/<target>/` for every target; returns the seed count per target.
        pub fn build(
            root: &Path,
            vectors: &Path,
            out: &Path,
        ) -> Result<Vec<(String, usize)>, String> {
            let _ = std::fs::remove_dir_all(out);
            let targets = [
                "verify",
                "jwk_parse",
                "jwks_stream",
                "claims_typed",
                "device_proto",
                "assertion",
            ];
            for t in targets {
                std::fs::create_dir_all(out.join(t)).map_err(|e| e.to_string())?;
            }
            let dir = |t: &str| out.join(t);
            let mut f = Found::default();
            let mut files = Vec::new();
            json_files(vectors, &mut files);
            if files.is_empty() {
                return Err(format!("no JSON vectors under {}", vectors.display()));
            }
            for p in &files {
                let text = std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()))?;
                let before = f.jwks.len();
                scan(&text, &mut f);
                // Each file's keys also make one JWK Set.
                if f.jwks.len() > before {
                    f.sets
                        .push(format!(r#"{{"keys":[{}]}}"#, f.jwks[before..].join(",")));
                }
            }
            // Our own committed seeds (tokens minted with our test keys, see fuzz/seeds/mint.sh).
            let own = root.join("fuzz/seeds");
            for t in targets {
                if let Ok(rd) = std::fs::read_dir(own.join(t)) {
                    for e in rd.flatten() {
                        let data = std::fs::read(e.path()).map_err(|e| e.to_string())?;
                        if t == "verify" {
                            f.tokens
                                .push(String::from_utf8_lossy(&data).trim().to_owned());
                        } else {
                            put(&dir(t), &data)?;
                        }
                    }
                }
            }
            let tokens: BTreeSet<String> = f.tokens.into_iter().collect();
            let jwks: BTreeSet<String> = f.jwks.into_iter().collect();
            let sets: BTreeSet<String> = f.sets.into_iter().collect();
            for t in &tokens {
                put(&dir("verify"), t.as_bytes())?;
                if let Some(p) = t.split('.').nth(1).and_then(unb64) {
                    put(&dir("claims_typed"), &p)?;
                }
                if t.len() < 1000 {
                    for slot in [0u8, 1] {
                        let mut body = vec![slot];
                        body.extend_from_slice(t.as_bytes());
                        let mut s = Vec::new();
                        req(&mut s, VERIFY, &body);
                        put(&dir("device_proto"), &s)?;
                    }
                }
            }
            for j in &jwks {
                put(&dir("jwk_parse"), j.as_bytes())?;
            }
            for (i, s) in sets.iter().enumerate() {
                // h = 0: one byte at a time; h = 3: chunks of 1, 7 and 64 bytes; bit 7 set:
                // mixed key sets allowed.
                for head in [&[0u8][..], &[3, 1, 7, 64], &[0x81, 13]] {
                    if head[0] == 0 && s.len() > 2000 {
                        continue;
                    }
                    let mut seed = head.to_vec();
                    seed.extend_from_slice(s.as_bytes());
                    put(&dir("jwks_stream"), &seed)?;
                }
                // A device session that streams this set in two chunks.
                if s.len() < 900 {
                    let mut d = Vec::new();
                    req(&mut d, JWKS_BEGIN, &600u32.to_le_bytes());
                    let half = s.len() / 2;
                    req(&mut d, JWKS_CHUNK, &s.as_bytes()[..half]);
                    req(&mut d, JWKS_CHUNK, &s.as_bytes()[half..]);
                    req(&mut d, JWKS_END, &[]);
                    req(&mut d, LIST_KEYS, &[0]);
                    put(&dir("device_proto"), &d)?;
                }
                let _ = i;
            }
            // A session touching every command once.
            let mut d = Vec::new();
            req(&mut d, INFO, &[]);
            req(&mut d, GET_TIME, &[]);
            req(&mut d, LIST_KEYS, &[0]);
            req(&mut d, STATS, &[]);
            req(&mut d, REFRESH_STATE, &[]);
            d.extend_from_slice(&[0xFE, 0xA0, 0x0F]); // 4000 s later: the key set is stale
            req(&mut d, REFRESH_STATE, &[]);
            req(&mut d, FETCH_FAILED, &[]);
            req(&mut d, REMOVE_KEY, b"ec-1");
            req(&mut d, REMOVE_KEY, b"hs-1");
            if let Some(j) = jwks.iter().find(|j| j.len() < 600) {
                let mut body = vec![0u8];
                body.extend_from_slice(j.as_bytes());
                req(&mut d, LOAD_JWK, &body);
            }
            for (p, aud) in [
                (0u8, "https://idp.example"),
                (1, "https://zitadel.example"),
                (2, "https://zitadel.example"),
                (3, "https://zitadel.example:8080"),
                (4, "https://tenant.auth0.com/oauth/token"),
            ] {
                req(&mut d, SIGN, &sign_body(p, "device-7", aud, "jti-1"));
            }
            req(&mut d, SET_TIME, &1_700_000_000u64.to_le_bytes());
            d.extend_from_slice(&[0xFF, 5, 0x02, 0x41, 0x00, 0x01, 0x00]); // raw bytes
            d.extend_from_slice(&[0xFD, 3, 0x40, INFO, 0, 0]); // a corrupted INFO
            req(&mut d, STATS, &[]);
            put(&dir("device_proto"), &d)?;
            let mut counts = Vec::new();
            for t in targets {
                let n = std::fs::read_dir(dir(t)).map(|r| r.count()).unwrap_or(0);
                counts.push((t.to_string(), n));
            }
            Ok(counts)
        }
    }

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

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let r = match args.first().map(String::as_str) {
        Some("ci") => ci(),
        Some("test") => tests(),
        Some("demo") => demo(false),
        Some("fw-link") => firmware_link_check(),
        Some("fw-panic-check") => fw_panic_check(),
        Some("fw-build") => fw_build(),
        Some("fw-test") => fw_test(),
        Some("fw-bench") => fw_bench(args.iter().any(|a| a == "--write")),
        Some("bench") => bench(),
        Some("fuzz") => fuzz(&args[1..]),
        _ => {
            eprintln!(
                "usage: cargo xtask <ci|test|demo|fw-link|fw-panic-check|fw-build|fw-test|fw-bench [--write]|bench|fuzz [--smoke|--seconds N] [TARGET...]>"
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

#[cfg(test)]
mod tests {
    use super::callgrind_inclusive;

    #[test]
    fn callgrind_inclusive_reads_the_function_line_not_its_callers() {
        let text = "\
--------------------------------------------------------------------------------
1,495,565,130 (100.0%)  PROGRAM TOTALS
--------------------------------------------------------------------------------
1,447,114,493 (96.76%)  /aws-lc/crypto/fipsmodule/evp/digestsign.c:aws_lc_0_47_0_EVP_DigestVerify [/work/main/target/release/tokenguard-sim]
1,421,584,493 (95.05%)  /aws-lc/crypto/fipsmodule/evp/digestsign.c:aws_lc_0_47_0_EVP_DigestVerifyFinal [/work/main/target/release/tokenguard-sim]
";
        assert_eq!(
            callgrind_inclusive(text, "PROGRAM TOTALS"),
            Some(1_495_565_130)
        );
        assert_eq!(
            callgrind_inclusive(text, "EVP_DigestVerify"),
            Some(1_447_114_493)
        );
        assert_eq!(
            callgrind_inclusive(text, "EVP_DigestVerifyFinal"),
            Some(1_421_584_493)
        );
        assert_eq!(callgrind_inclusive(text, "ECDSA_verify"), None);
    }
}
