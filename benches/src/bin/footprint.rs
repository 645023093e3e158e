//! The instruction-cache footprint of a code path: distinct 64-byte lines of code executed,
//! per function and in all, read from a callgrind profile with instruction addresses.
//!
//! ```text
//! cargo build --release -p tokenguard-benches --bin profile --bin footprint
//! valgrind --tool=callgrind --dump-instr=yes --compress-pos=no --compress-strings=no \
//!     --toggle-collect='tokenguard::verify::verify_jwt*' --callgrind-out-file=cg.out \
//!     target/release/profile RS256 tokenguard 50
//! target/release/footprint cg.out 20
//! ```
//!
//! `--toggle-collect` limits the profile to one full-token verify call and everything it
//! calls, so setup does not count (for ring's check alone, collect
//! `'tokenguard_benches::rsa_fixture::{{closure}}*'` with `profile RS256 raw`). The misses that
//! follow, per verify, are the difference of two cachegrind runs (which removes the setup):
//!
//! ```text
//! valgrind --tool=cachegrind --cache-sim=yes target/release/profile RS256 tokenguard 500
//! valgrind --tool=cachegrind --cache-sim=yes target/release/profile RS256 tokenguard 2500
//! ```
//!
//! (`I1 misses` grew by about 1 M over the 2,000 extra verifies: about 500 each; ring's check
//! alone, `raw`, none.) A path whose footprint exceeds the core's L1 instruction
//! cache (32 KiB on the Zen cores the benchmarks ran on) refetches code on every call.

use std::collections::{BTreeMap, BTreeSet};

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().expect("usage: footprint CALLGRIND_OUT [TOP_N]");
    let top: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(15);
    let text = std::fs::read_to_string(&path).expect("read the callgrind output");
    let lines = footprint(&text);
    let all: BTreeSet<u64> = lines.values().flatten().copied().collect();
    let kib = |n: usize| n as f64 * 64.0 / 1024.0;
    let mut by_owner: BTreeMap<&str, usize> = BTreeMap::new();
    for (f, set) in &lines {
        *by_owner.entry(owner(f)).or_default() += set.len();
    }
    println!("footprint: {} lines, {:.1} KiB", all.len(), kib(all.len()));
    for (o, n) in &by_owner {
        println!("  {o}: {:.1} KiB", kib(*n));
    }
    let mut rows: Vec<(usize, &String)> = lines.iter().map(|(f, s)| (s.len(), f)).collect();
    rows.sort_by(|a, b| b.cmp(a));
    for (n, f) in rows.into_iter().take(top) {
        println!("{n:6} lines  {f}");
    }
}

/// Whose code a function is: tokenguard's, ring's (its Rust and its assembly), or other.
fn owner(f: &str) -> &'static str {
    if f.contains("tokenguard") {
        "tokenguard"
    } else if f.contains("ring") {
        "ring"
    } else {
        "libc and other"
    }
}

/// Function name -> the 64-byte lines its executed instructions occupy. In callgrind's
/// format (positions uncompressed), a cost line starts with the instruction address; the
/// line after `calls=` is the call's inclusive cost, at the call site, and is skipped.
fn footprint(text: &str) -> BTreeMap<String, BTreeSet<u64>> {
    let mut out: BTreeMap<String, BTreeSet<u64>> = BTreeMap::new();
    let mut func = String::new();
    let mut after_call = false;
    for l in text.lines() {
        if let Some(name) = l.strip_prefix("fn=") {
            func = name.trim().to_string();
        } else if l.starts_with("calls=") {
            after_call = true;
        } else if let Some(hex) = l.strip_prefix("0x") {
            if std::mem::take(&mut after_call) {
                continue;
            }
            let addr = hex.split_whitespace().next().unwrap_or("");
            if let Ok(a) = u64::from_str_radix(addr, 16) {
                out.entry(func.clone()).or_default().insert(a >> 6);
            }
        }
    }
    out
}
