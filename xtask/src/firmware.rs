//! The firmware tasks: the tools they need (the Cortex-M target, QEMU, the Arm GNU toolchain,
//! defmt-print), `fw-link` (the no-allocator link check), `fw-panic-check`, `fw-build`,
//! `fw-test`, and `fw-bench` with its docs/firmware.md report and the parsers of `size` and
//! `arm-none-eabi-nm` output it reads.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::test::outsider;
use crate::util::{cargo, ensure_target, output, root, run, Result, THUMB, THUMB_CRATES};

pub fn firmware_link_check() -> Result {
    ensure_firmware_tools()?;
    let mut c = cargo();
    c.arg("build").args(THUMB_CRATES);
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
pub fn ensure_firmware_tools() -> Result {
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

pub fn firmware_dir() -> PathBuf {
    root().join("firmware")
}

pub fn firmware_elf(name: &str) -> PathBuf {
    firmware_dir()
        .join("target")
        .join(THUMB)
        .join("release")
        .join(name)
}

pub fn fw_build() -> Result {
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

pub fn fw_test() -> Result {
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
pub fn elf_sizes(elf: &Path) -> Result<(u64, u64, u64)> {
    let mut c = Command::new("size");
    c.arg(elf);
    let out = output(c)?;
    parse_size(&out)
}

/// (text, data, bss) from `size` output (Berkeley format: a header line, then
/// `text data bss dec hex filename`).
fn parse_size(out: &str) -> Result<(u64, u64, u64)> {
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
    "RSA (tokenguard's Montgomery arithmetic, `tokenguard-limbs` at -O2, also Ed25519's scalars mod L and RSA-CRT's constant-time forms; PKCS#1 v1.5, PSS)",
    "P-256 (P256-Cortex-M4 assembly) and curve point checks",
    "P-384 ECDSA (tokenguard's own)",
    "SHA-2 and HMAC",
    "Ed25519 (tokenguard's own: the field in `tokenguard-limbs` at -O2, points, scalars, the signing comb's 1.5 KB table)",
    "signing (assertions, RSA-CRT on tokenguard's constant-time arithmetic, RFC 6979 nonces for the P-256 assembly)",
    "runtime: compiler builtins, core, cortex-m-rt, defmt, vectors, other",
];

/// Flash bytes (code, read-only and initialized data) per [`FLASH_PARTS`] component of an
/// image, from the sizes `arm-none-eabi-nm` gives each symbol (demangled names classified by
/// path); `None` without `arm-none-eabi-nm`.
fn flash_parts(elf: &Path) -> Option<[u64; 9]> {
    let mut c = Command::new("arm-none-eabi-nm");
    c.args(["--size-sort", "-S", "-C", "--radix=d"]).arg(elf);
    let out = c.output().ok()?;
    if !out.status.success() {
        return None;
    }
    Some(flash_sums(&String::from_utf8_lossy(&out.stdout)))
}

/// Flash bytes per [`FLASH_PARTS`] component from `arm-none-eabi-nm --size-sort -S -C
/// --radix=d` output (`address size kind name` lines); other lines and symbols outside flash
/// count for nothing.
fn flash_sums(nm: &str) -> [u64; 9] {
    let mut t = [0u64; 9];
    for line in nm.lines() {
        let mut f = line.splitn(4, ' ');
        let (_, Some(size), Some(kind), Some(name)) = (f.next(), f.next(), f.next(), f.next())
        else {
            continue;
        };
        // Code, read-only and initialized data: what occupies flash.
        if !matches!(kind, "t" | "T" | "r" | "R" | "d" | "D") {
            continue;
        }
        if let (Ok(sz), Some(slot)) = (size.parse::<u64>(), t.get_mut(flash_part(name))) {
            *slot += sz;
        }
    }
    t
}

/// The [`FLASH_PARTS`] index of a demangled symbol name, by its path.
fn flash_part(name: &str) -> usize {
    let n = name.trim_start_matches(['<', '&', '*']);
    let has = |p: &str| n.starts_with(p) || name.contains(&format!(" as {p}"));
    if has("tokenguard::ed25519") || has("tokenguard_limbs::f25519") {
        6
    } else if has("tokenguard::sign")
        || has("tokenguard::assertion")
        || has("tokenguard::bigint::secret")
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
    } else if has("tokenguard::bigint") || has("tokenguard_limbs::") || has("tokenguard::rsa") {
        2
    } else if n.starts_with("P256_")
        || n.starts_with("p256_")
        || has("tokenguard::ec::")
        || has("tokenguard::crypto::rustcrypto_backend::ecdsa_p256")
    {
        3
    } else if has("tokenguard::ecdsa") || has("tokenguard::crypto::rustcrypto_backend::ecdsa_p384")
    {
        4
    } else if has("tokenguard::crypto::sha")
        || has("tokenguard::sha256_compact")
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
         The build (firmware/Cargo.toml): everything for size (`opt-level = \"s\"`), the engine \
         included, except its Montgomery word loops (`tokenguard-limbs`, a crate of their own for \
         this) and the device protocol, at -O2. Measured: the \
         engine at \"s\" instead of -O2 saved 8.0 KiB of flash without SIGN and 16.3 KiB with it; \
         with the word loops at \"s\" too, RS256 verification would cost 26 % more instructions.\n\n\
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

/// What `fw-bench` does with the report it generates.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Report {
    /// Print it.
    Print,
    /// Print it and write docs/firmware.md.
    Write,
    /// Print it and fail unless docs/firmware.md is exactly it (CI).
    Check,
}

pub fn fw_bench(report: Report) -> Result {
    fw_build()?;
    let elf = firmware_elf("fw-bench");
    let mut c = Command::new(firmware_dir().join("qemu-run.sh"));
    c.arg(&elf).env("TOKENGUARD_ICOUNT", "1");
    println!("==> fw-bench in QEMU (-icount shift=7)");
    let out = output(c)?;
    let mut rows = vec![];
    for line in out.lines() {
        if let Some(f) = FwBenchLine::parse(line) {
            rows.push((
                f.0[0].to_string(),
                f.value("verify_insns="),
                f.value("import_insns="),
                f.value("verify_stack="),
                f.value("import_stack="),
            ));
        }
    }
    // Signing on the device: (alg, per assertion, with the self-check, key build, stacks).
    let sign_rows: Vec<[String; 7]> = out
        .lines()
        .filter_map(|l| FwBenchLine::parse_kind(l, "fw-bench sign-alg="))
        .map(|f| {
            [
                f.alg().unwrap_or("?").to_string(),
                f.value("sign_insns="),
                f.value("checked_insns="),
                f.value("key_insns="),
                f.value("sign_stack="),
                f.value("key_stack="),
                f.value("ct_spread="),
            ]
        })
        .collect();
    if rows.len() != 13 || sign_rows.len() != 3 || !out.contains("fw-bench done") {
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
    md.push_str("Generated by `cargo xtask fw-bench --write`. Instruction counts are exact and repeatable: QEMU\nruns with `-icount shift=7` (1 instruction = 128 ns of virtual time) and TIMER0 ticks at\n25 MHz, 3.2 ticks per instruction, so every figure is exact to the instruction.\nQEMU counts instructions, not cycles. Each verify is a full token (split, base64url, JSON\nheader and claims, policy, signature) of the fixture in `firmware/src/fixtures.rs`\n(~300 bytes of claims; tokens of 475–775 bytes), best of three runs. The stack columns are\nthe `fw-bench` harness's, measured by painting below the caller's frame: what each operation\nadds, not the device's RAM (that is the next section).\n\n");
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
        "Without the SIGN command (`--no-default-features`: verification only, all algorithms): flash\n**{} bytes ({:.1} KiB)**, RAM **{} bytes ({:.1} KiB)** (static {} + peak stack {}). Verification of ES256 and RS256 only\n(`--no-default-features --features es256-rs256`: the `Es256Rs256` backend declares those two\nalgorithms; the device refuses keys of other types, curves and algorithms at import (`LOAD_JWK`, a JWK Set's\nskip log), so the linker drops their import and verification code): flash **{} bytes ({:.1} KiB)**, static RAM **{} bytes**.\n",
        vtext + vdata, (vtext + vdata) as f64 / 1024.0, vdata + vbss + vpeak, (vdata + vbss + vpeak) as f64 / 1024.0, vdata + vbss, vpeak,
        etext + edata, (etext + edata) as f64 / 1024.0, edata + ebss
    ));
    md.push_str(
        "\n## RAM: how it is measured\n\nThe device (`Device<8, 1024>`: key cache, policies, frame buffers, the transfer in progress, the signing key) lives in the firmware's `main` frame, which never returns, so it is built in place and counted once, in the stack; static RAM is what is left (the clock, the logger). At boot the firmware paints all free RAM below its stack; after each burst of UART bytes it finds the lowest overwritten word, the high-water mark since boot, which `STATS` reports. `host-sim/tests/stack_peak.rs` boots each image in QEMU and drives every command over the wire at its largest: four policies (three with the longest strings), `LOAD_JWK` of a key of every algorithm the image verifies and `VERIFY` of tokens of about 990 bytes with each, a JWK Set of 8 RSA-2048 keys streamed in 1000-byte chunks (refused while the slots are taken, then loaded), corrupt and oversized frames, and with SIGN: an RSA-2048 signing key through the chunked upload, P-256, Ed25519 and HMAC keys, each signing assertions with 200- and 255-byte subject and audience (a P-384 key is refused with `unsupported crv`: the default image is built without the `es384-signing` feature). The high-water mark after each phase:\n\n| phase | with SIGN | verification only |\n|---|---:|---:|\n",
    );
    for (what, bytes) in &peak_phases {
        let v = vpeak_phases
            .iter()
            .find(|(w, _)| w == what)
            .map_or("–".to_string(), |(_, b)| b.to_string());
        md.push_str(&format!("| {what} | {bytes} | {v} |\n"));
    }
    md.push_str("\n## Signing on the device\n\nA whole assertion as the device mints it (`firmware/src/bin/fw-bench.rs`: header and RFC 7523\nclaims JSON, base64url, hash, signature; 310-566-byte tokens), best of three; then the same\nwith the self-check the SIGN command adds (the signature verified before it leaves the\ndevice); building the key from its private bytes; the stack each adds. Each assertion is\nverified by the device's own verifier before the figures are printed.\n\n| alg | instructions per assertion | spread over 3 keys or messages | with the self-check | key build (instructions) | sign stack | key build stack |\n|---|---:|---:|---:|---:|---:|---:|\n");
    for r in &sign_rows {
        md.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} |\n",
            r[0], r[1], r[6], r[2], r[3], r[4], r[5]
        ));
    }
    md.push_str("\nES256 signs in P256-Cortex-M4's constant-time assembly with RFC 6979 nonces (the same\nsignature bytes as RustCrypto's deterministic ECDSA: `host-sim/tests/device_e2e.rs` compares\nthe firmware's assertion with the simulator's); RS256 is RSA-CRT on tokenguard's own\nMontgomery arithmetic with its constant-time operations (`core/src/bigint/secret.rs`: masked\nfinal subtractions, fixed 4-bit windows with masked table reads); EdDSA is tokenguard's own (`core/src/ed25519.rs`: a\n4-tooth comb with masked table scans, reductions mod L in constant time). The spread is the largest difference in instructions between signing with three different\nkeys (ES256, EdDSA; one with a leading zero byte) or, for RS256 (one key), three different\nmessages: QEMU counts every instruction, so a branch on a secret bit shows here, to the\ninstruction. The host build of the same RSA code passes a dudect-style\ntiming test (docs/hardening.md).\n");
    md.push_str("\nAt boot the peak is the device and `main`'s own frame (the command dispatch is inlined into it; the commands that parse keys or tokens, `LOAD_JWK`, `JWKS_BEGIN`, `JWKS_CHUNK`/`JWKS_END` and `VERIFY`, are functions of their own, so one command's locals at a time are on the stack). Without SIGN the deepest commands are `VERIFY` with EdDSA or ES384 and importing RSA keys, within a few hundred bytes of each other. What keeps them small: RSA keys are built where they are returned (the modulus and `R^2 mod n` written once), a JWK Set's parsed key is lent to the update and copied once, into its slot, the update is worked on where it lies in the device, `VERIFY` borrows its policy, Ed25519 verification uses 4-bit windows (tables of 4 points per scalar, both scalars' digits in one 256-byte array), and an EC key's point is checked before the key is built, in a frame of its own (the P-384 check's 0.9 KB frame is not on top of the key's). The figure is a high-water mark: where a UART interrupt lands (its exception frame stacks the FPU registers) moves it by up to about 100 bytes from run to run (16,120 and 16,208 bytes in two runs of one verification-only image). The signing key's jump is building an RSA key: `PrivateJwkParser::finish` and `SigningKey::rsa` keep the key's parts and several copies of the key by value in their frames (12 KiB and 10 KiB).\n");
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
    let sign_insns = |alg: &str| -> Option<(u64, u64)> {
        sign_rows
            .iter()
            .find(|r| r[0] == alg)
            .and_then(|r| Some((r[1].parse().ok()?, r[6].parse().ok()?)))
    };
    for (alg, limit, what) in [
        (
            "ES256",
            600_000u64,
            "ES256 sign on the device (whole assertion), one instruction count for every key",
        ),
        (
            "RS256",
            40_000_000,
            "RS256-2048 sign on the device (whole assertion), constant-time",
        ),
        (
            "EdDSA",
            2_000_000,
            "EdDSA sign on the device (whole assertion), one instruction count for every key",
        ),
    ] {
        if let Some((n, spread)) = sign_insns(alg) {
            // Constant time is judged by the exact instruction-count spread (0: one path).
            let ct = spread == 0;
            let over = if alg == "RS256" { "messages" } else { "keys" };
            goals.push((
                format!("{what}: ≤ {:.1} M instructions", limit as f64 / 1e6),
                format!(
                    "{:.3} M, spread over three {over} {spread} instructions",
                    n as f64 / 1e6
                ),
                n <= limit && ct,
            ));
        }
    }
    let (full, vonly) = (text + data, vtext + vdata);
    goals.push((
        "flash ≤ 64 KiB, verification only (all algorithms, protocol, 8-key cache)".into(),
        format!("{:.1} KiB", vonly as f64 / 1024.0),
        vonly <= 64 * 1024,
    ));
    goals.push((
        "flash ≤ 112 KiB, the whole device with SIGN".into(),
        format!("{:.1} KiB", full as f64 / 1024.0),
        full <= 112 * 1024,
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
             to 128 bytes each). Above it on the stack: `main`'s frame with the command dispatch, \
             then one command's frame and its deepest operation (a JWK Set's RSA key import, \
             P-384 or Ed25519 verification, building a signing key).\n"
        ));
    }
    md.push_str(&flash_breakdown(
        verify_parts,
        flash_parts(&firmware_elf("tokenguard-firmware")),
    ));
    println!("{md}");
    let path = root().join("docs/firmware.md");
    match report {
        Report::Print => {}
        Report::Write => {
            std::fs::write(&path, md).map_err(|e| e.to_string())?;
            println!("wrote docs/firmware.md");
        }
        Report::Check => {
            let committed = std::fs::read_to_string(&path).map_err(|e| e.to_string())?;
            if let Some(d) = first_difference(&deterministic(&committed), &deterministic(&md)) {
                return Err(format!(
                    "docs/firmware.md is not what fw-bench measures now (run `cargo xtask fw-bench --write` and commit it):\n{d}"
                ));
            }
            println!("    ok: docs/firmware.md matches the measured figures");
        }
    }
    Ok(())
}

/// `md` with the stack campaign's figures masked (`#`), for `--check`: the instruction
/// counts, the fw-bench harness's stack columns and the flash figures are exact and
/// repeatable, but the device's high-water marks are measured over TCP while QEMU runs in
/// real time, and where a UART interrupt lands moves them by tens of bytes from run to run
/// (`boot` read 15784, 15816 and 15824 bytes in three runs of one image).
pub fn deterministic(md: &str) -> String {
    let mask = |s: &str| -> String {
        s.chars()
            .map(|c| if c.is_ascii_digit() { '#' } else { c })
            .collect()
    };
    let mut out = String::new();
    let mut in_phases = false;
    for line in md.lines() {
        if line.starts_with("| phase |") {
            in_phases = true;
        } else if line.is_empty() {
            in_phases = false;
        }
        let masked = if in_phases || line.contains("static RAM + peak stack") {
            mask(line)
        } else if let Some(at) = line.find("RAM **") {
            format!("{}{}", &line[..at], mask(&line[at..]))
        } else {
            line.to_string()
        };
        out.push_str(&masked);
        out.push('\n');
    }
    out
}

/// The first line where `committed` and `generated` differ, both shown, or `None` when they
/// are equal.
pub fn first_difference(committed: &str, generated: &str) -> Option<String> {
    if committed == generated {
        return None;
    }
    let (a, b): (Vec<&str>, Vec<&str>) = (committed.lines().collect(), generated.lines().collect());
    let n = a.len().max(b.len());
    (0..n)
        .find_map(|i| {
            let (x, y) = (a.get(i).copied(), b.get(i).copied());
            (x != y).then(|| {
                format!(
                    "line {}:\n  committed: {}\n  measured:  {}",
                    i + 1,
                    x.unwrap_or("(end of file)"),
                    y.unwrap_or("(end of file)")
                )
            })
        })
        .or_else(|| Some("the files differ in their line endings".to_string()))
}

/// The words of a `fw-bench alg=<ALG> key=value...` line of the firmware's QEMU output, after
/// `alg=`: the algorithm, then the `key=value` figures.
pub struct FwBenchLine<'a>(Vec<&'a str>);

impl<'a> FwBenchLine<'a> {
    /// The line's words, if it is a `fw-bench alg=` line (anywhere in it: defmt prefixes it).
    pub fn parse(line: &'a str) -> Option<Self> {
        Self::parse_kind(line, "fw-bench alg=")
    }

    /// The line's words after `prefix` (`fw-bench sign-alg=` for the signing lines).
    pub fn parse_kind(line: &'a str, prefix: &str) -> Option<Self> {
        line.split(prefix)
            .nth(1)
            .map(|rest| Self(rest.split_whitespace().collect()))
    }

    /// The algorithm: the first word.
    pub fn alg(&self) -> Option<&'a str> {
        self.0.first().copied()
    }

    /// The value of `key` (with its `=`, e.g. `verify_insns=`), or `?` when missing.
    pub fn value(&self, key: &str) -> String {
        self.0
            .iter()
            .find_map(|x| x.strip_prefix(key))
            .unwrap_or("?")
            .to_string()
    }
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

/// Link-time panic-freedom proof: the firmware's `panic-check` image (the device with
/// HS*/RS*/PS* on tokenguard's own RSA) links against a panic handler that calls an
/// undefined symbol, so it links only if no panic is reachable.
pub fn fw_panic_check() -> Result {
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

#[cfg(test)]
mod tests {
    use super::{deterministic, first_difference, flash_part, flash_sums, parse_size, FwBenchLine};

    #[test]
    fn parse_size_reads_text_data_bss_of_the_berkeley_line() {
        let out = "   text\t   data\t    bss\t    dec\t    hex\tfilename
 230660\t     24\t      0\t 230684\t  3851c\ttarget/thumbv7em-none-eabihf/release/tokenguard-firmware
";
        assert_eq!(parse_size(out), Ok((230_660, 24, 0)));
    }

    #[test]
    fn parse_size_refuses_output_without_its_figures() {
        assert_eq!(
            parse_size("   text\t   data\t    bss\t    dec\t    hex\tfilename\n"),
            Err("no size output".to_string())
        );
        assert_eq!(
            parse_size("   text\t   data\t    bss\t    dec\t    hex\tfilename\n 230660\t?\t0\n"),
            Err("cannot parse size output:  230660\t?\t0".to_string())
        );
    }

    #[test]
    fn flash_part_classifies_demangled_symbols_by_path() {
        assert_eq!(flash_part("tokenguard_device::handle_verify"), 0);
        assert_eq!(flash_part("tokenguard_firmware::main"), 0);
        assert_eq!(flash_part("tokenguard::jose::header::parse"), 1);
        assert_eq!(
            flash_part("<tokenguard::rsa::RsaKey as core::clone::Clone>::clone"),
            2
        );
        assert_eq!(flash_part("tokenguard_limbs::mont_square"), 2);
        assert_eq!(flash_part("tokenguard_limbs::mont_mul_ct"), 2);
        assert_eq!(flash_part("P256_verify"), 3);
        assert_eq!(flash_part("tokenguard::ec::p256::check_point"), 3);
        assert_eq!(flash_part("tokenguard::ecdsa_vartime::verify_inner"), 4);
        assert_eq!(flash_part("sha2::sha256::compress256"), 5);
        assert_eq!(flash_part("tokenguard::ed25519::decode"), 6);
        assert_eq!(flash_part("tokenguard_limbs::f25519::mul"), 6);
        assert_eq!(
            flash_part("tokenguard::sha256_compact::HmacSha256::verify"),
            5
        );
        assert_eq!(flash_part("ed25519_compact::edwards25519::ge_add"), 6);
        assert_eq!(flash_part("ed25519_verify"), 6);
        assert_eq!(flash_part("tokenguard::sign::rsa::sign"), 7);
        assert_eq!(flash_part("sha2::sha512::compress512"), 7);
        assert_eq!(
            flash_part("<ecdsa::SigningKey<p384::NistP384> as signature::Signer>::try_sign"),
            7
        );
        assert_eq!(flash_part("<&T as core::fmt::Debug>::fmt"), 8);
        assert_eq!(flash_part(".Lanon.4f0c1d2e.12"), 8);
        assert_eq!(flash_part("memcpy"), 8);
    }

    #[test]
    fn flash_sums_adds_flash_symbols_per_part_and_skips_the_rest() {
        let nm = "\
0000001024 0000000004 r .Lanon.4f0c1d2e.12
0000002048 0000000080 T tokenguard_device::handle_verify
0000003072 0000000120 t <tokenguard::rsa::RsaKey as core::clone::Clone>::clone
0000004096 0000000200 T P256_verify
0000004500 0000000256 T tokenguard::ecdsa_vartime::verify_inner
0536870912 0000000064 b tokenguard_firmware::STACK
0000005000 0000000300 t sha2::sha256::compress256
0000006000 0000000016 T ed25519_compact::edwards25519::ge_add
0000007000 0000000048 R tokenguard::jose::HEADER
0000008000 0000000096 t tokenguard::sign::rsa::sign
0000008200 0000000400 t sha2::sha512::compress512
0000009000 0000000010 T memcpy
0000009100 0000000012 D tokenguard_firmware::CLOCK
0000009200 000000000x T tokenguard::broken
arm-none-eabi-nm: warning: no symbols
";
        assert_eq!(flash_sums(nm), [92, 48, 120, 200, 256, 300, 16, 496, 14]);
        assert_eq!(flash_sums("arm-none-eabi-nm: 'x': No such file\n"), [0; 9]);
    }

    #[test]
    fn fw_bench_line_reads_the_algorithm_and_its_figures() {
        let line = "INFO  fw-bench alg=ES256 verify_insns=736600 import_insns=36200 verify_stack=2632 import_stack=3756";
        let f = FwBenchLine::parse(line).expect("a fw-bench line");
        assert_eq!(f.alg(), Some("ES256"));
        assert_eq!(f.value("verify_insns="), "736600");
        assert_eq!(f.value("import_insns="), "36200");
        assert_eq!(f.value("verify_stack="), "2632");
        assert_eq!(f.value("import_stack="), "3756");
        assert_eq!(f.value("sign_insns="), "?");
    }

    #[test]
    fn first_difference_names_the_first_line_that_differs() {
        assert_eq!(first_difference("a\nb\n", "a\nb\n"), None);
        assert_eq!(
            first_difference("a\nb\nc\n", "a\nB\nc\n").as_deref(),
            Some("line 2:\n  committed: b\n  measured:  B")
        );
        assert_eq!(
            first_difference("a\n", "a\nb\n").as_deref(),
            Some("line 2:\n  committed: (end of file)\n  measured:  b")
        );
        assert_eq!(
            first_difference("a\n", "a").as_deref(),
            Some("the files differ in their line endings")
        );
    }

    #[test]
    fn deterministic_masks_only_the_stack_campaign_figures() {
        let md = "| ES256 | 736560 | 36240 | 2648 | 3756 |\n\
                  frames): flash (text + data) **230352 bytes**, RAM **45724 bytes**: peak stack of 45700 bytes.\n\
                  \n\
                  | phase | with SIGN | verification only |\n\
                  | boot | 19024 | 15816 |\n\
                  \n\
                  | static RAM + peak stack ≤ 16 KiB | 22.8 KiB | **missed** |\n";
        let want = "| ES256 | 736560 | 36240 | 2648 | 3756 |\n\
                    frames): flash (text + data) **230352 bytes**, RAM **##### bytes**: peak stack of ##### bytes.\n\
                    \n\
                    | phase | with SIGN | verification only |\n\
                    | boot | ##### | ##### |\n\
                    \n\
                    | static RAM + peak stack ≤ ## KiB | ##.# KiB | **missed** |\n";
        assert_eq!(deterministic(md), want);
    }

    #[test]
    fn fw_bench_line_is_none_for_other_lines() {
        assert!(FwBenchLine::parse("INFO  fw-bench done").is_none());
        assert!(FwBenchLine::parse(
            "INFO  fw-bench sizes device=9712 cache=6080 jwk=752 pending=1100"
        )
        .is_none());
        let empty = FwBenchLine::parse("fw-bench alg=").expect("the prefix alone");
        assert_eq!(empty.alg(), None);
        assert_eq!(empty.value("verify_insns="), "?");
        // Signing lines are their own kind: not a verify row.
        let sign = "0.000 INFO  fw-bench sign-alg=RS256 sign_insns=35021600 ct_spread=0";
        assert!(FwBenchLine::parse(sign).is_none());
        let f = FwBenchLine::parse_kind(sign, "fw-bench sign-alg=").expect("a signing line");
        assert_eq!(f.alg(), Some("RS256"));
        assert_eq!(f.value("sign_insns="), "35021600");
        assert_eq!(f.value("ct_spread="), "0");
    }
}
