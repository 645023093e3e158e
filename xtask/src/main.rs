//! `cargo xtask <command>`: the project's automation, with no dependencies.
//!
//! - `ci`: everything CI runs (installs what is missing, idempotently).
//! - `test`: the test suites only.
//! - `demo`: the simulator's end-to-end demo.
//! - `tpm`: the TPM 2.0 signer's suite against swtpm (also part of `test`).
//! - `gateway`: the Envoy filter, built and tested in Envoy (also part of `ci`);
//!   `gateway-bench`: its throughput against Envoy's `jwt_authn`.
//!
//! One module per task: [`ci`], [`test`], [`demo`], [`firmware`] (`fw-*`), [`capi`] (the C
//! library), [`gateway`] (the Envoy filter), [`bench`], [`fuzz`], [`cycles`]; [`util`] holds
//! what they share.

mod bench;
mod capi;
mod ci;
mod cycles;
mod demo;
mod firmware;
mod fuzz;
mod gateway;
mod test;
mod util;

use std::process::ExitCode;

use crate::bench::bench;
use crate::ci::ci;
use crate::demo::demo;
use crate::firmware::{firmware_link_check, fw_bench, fw_build, fw_panic_check, fw_test, Report};
use crate::fuzz::fuzz;
use crate::test::tests;

/// The long run of the constant-time test of RSA signing's exponentiation (CI runs 2,000
/// measurements per class in the unit tests; this runs 50,000, optimized).
fn dudect() -> util::Result {
    let mut c = util::cargo();
    c.args([
        "test",
        "--release",
        "-p",
        "tokenguard",
        "--lib",
        "dudect",
        "--",
        "--nocapture",
    ])
    .env("TOKENGUARD_DUDECT_N", "50000");
    util::run(
        "dudect: pow_secret against random exponents, 50,000 per class",
        c,
    )
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
        Some("fw-bench") => fw_bench(if args.iter().any(|a| a == "--write") {
            Report::Write
        } else if args.iter().any(|a| a == "--check") {
            Report::Check
        } else {
            Report::Print
        }),
        Some("tpm") => test::tpm_keys(),
        Some("gateway") => gateway::gateway(),
        Some("gateway-bench") => gateway::gateway_bench(),
        Some("capi") => capi::capi(args.iter().any(|a| a == "--write")),
        Some("bench") => bench(),
        Some("fuzz") => fuzz(&args[1..]),
        Some("cycles") => cycles::check(),
        Some("dudect") => dudect(),
        _ => {
            eprintln!(
                "usage: cargo xtask <ci|test|demo|cycles|fw-link|fw-panic-check|fw-build|fw-test|fw-bench [--write|--check]|capi [--write]|tpm|gateway|gateway-bench|bench|dudect|fuzz [--smoke|--seconds N] [TARGET...]>"
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
