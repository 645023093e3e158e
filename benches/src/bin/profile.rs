//! One algorithm's full-token verify (or its raw signature check) in a loop, for a profiler:
//!
//! ```text
//! cargo build --release -p tokenguard-benches --bin profile
//! valgrind --tool=callgrind target/release/profile HS256 tokenguard 20000
//! perf record --call-graph dwarf target/release/profile RS256 aws-lc 20000
//! ```
//!
//! Arguments: the bench group (`RS256`, `RS256-4096`, `PS256`, `ES256`, `ES384`, `ES512`,
//! `ES256K`, `EdDSA`, `HS256`), what to run (`tokenguard` with the ring backend, `aws-lc`,
//! `rustcrypto`, `fastest`, or `raw` for ring's check of the signing input alone), and the
//! number of iterations. It prints the number of accepted verifications, which must equal the
//! iterations.

use std::hint::black_box;

use tokenguard::crypto::{AwsLc, Fastest, Ring, RustCrypto};
use tokenguard_benches::{fixture, now};

fn main() {
    let mut args = std::env::args().skip(1);
    let name = args.next().unwrap_or_else(|| "HS256".into());
    let what = args.next().unwrap_or_else(|| "tokenguard".into());
    let iters: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let f = fixture(&name);
    let v = f.validation();
    let (input, sig) = f.split();
    let token = f.token.as_bytes();
    let mut buf = vec![0u8; token.len()];
    let t0 = now();
    let mut ok = 0u64;
    for _ in 0..iters {
        let accepted = match what.as_str() {
            "tokenguard" => f
                .ring_keys
                .verify_with::<Ring>(black_box(token), &v, t0, &mut buf)
                .is_ok(),
            "aws-lc" => f
                .keys
                .verify_with::<AwsLc>(black_box(token), &v, t0, &mut buf)
                .is_ok(),
            "rustcrypto" => f
                .keys
                .verify_with::<RustCrypto>(black_box(token), &v, t0, &mut buf)
                .is_ok(),
            "fastest" => f
                .keys
                .verify_with::<Fastest>(black_box(token), &v, t0, &mut buf)
                .is_ok(),
            "raw" => {
                f.raw.as_ref().expect("ring has no such curve")(black_box(input.as_bytes()), &sig)
            }
            other => {
                panic!("unknown mode {other}: tokenguard, aws-lc, rustcrypto, fastest or raw")
            }
        };
        ok += u64::from(accepted);
    }
    println!("{name} {what}: {ok} of {iters} accepted");
    assert_eq!(ok, iters, "every iteration must accept the fixture token");
}
