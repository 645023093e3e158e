//! Verifies per second with every core busy: `available_parallelism()` threads, each verifying
//! the same RS256 (2048) or ES256 token in a loop with the ring backend for a fixed time,
//! against one thread alone. Prints one line per run:
//!
//! `throughput alg=RS256 backend=ring threads=2 verifies=… secs=… per_sec=… cores_used=…`
//!
//! `cores_used` is the process's CPU time over the wall time: fewer than `threads` when other
//! work on the machine takes a share.
//!
//! Run: `cargo bench -p tokenguard-benches --bench throughput`
//! (`TOKENGUARD_THROUGHPUT_SECS`, default 2, sets the time per run).

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokenguard::crypto::Ring;
use tokenguard_benches::{fixture, now, Fixture};

/// This process's CPU time (user + system, all threads) in seconds, from `/proc/self/stat`
/// (clock ticks of 1/100 s); `None` off Linux.
fn cpu_secs() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the `(comm)`: state is field 3, utime 14 and stime 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// Runs `threads` verifiers for `secs`: (verifies, wall seconds, CPU seconds used).
fn run(f: &Arc<Fixture>, threads: usize, secs: f64) -> (u64, f64, Option<f64>) {
    let stop = Arc::new(AtomicBool::new(false));
    let cpu0 = cpu_secs();
    let start = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (f, stop) = (Arc::clone(f), Arc::clone(&stop));
            std::thread::spawn(move || {
                let v = f.validation();
                let t0 = now();
                let mut buf = vec![0u8; f.token.len()];
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let ok = f
                        .ring_keys
                        .verify_with::<Ring>(black_box(f.token.as_bytes()), &v, t0, &mut buf)
                        .is_ok();
                    assert!(ok, "{}: verify failed", f.name);
                    n += 1;
                }
                n
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs_f64(secs));
    stop.store(true, Ordering::Relaxed);
    let total: u64 = handles.into_iter().map(|h| h.join().expect("worker")).sum();
    let took = start.elapsed().as_secs_f64();
    let cpu = cpu_secs().zip(cpu0).map(|(b, a)| b - a);
    (total, took, cpu)
}

fn main() {
    // `cargo bench` passes `--bench` (and any filter); nothing here takes arguments.
    let secs: f64 = std::env::var("TOKENGUARD_THROUGHPUT_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2.0);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    for name in ["RS256", "ES256"] {
        let f = Arc::new(fixture(name));
        for threads in [1, cores] {
            let (n, took, cpu) = run(&f, threads, secs);
            // Cores actually obtained: CPU time over wall time (other work on the machine
            // shows up here as less than `threads`).
            let cores_used = cpu.map_or("?".into(), |c| format!("{:.2}", c / took));
            println!(
                "throughput alg={name} backend=ring threads={threads} verifies={n} secs={took:.3} per_sec={:.0} cores_used={cores_used}",
                n as f64 / took
            );
        }
    }
}
