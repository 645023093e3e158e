//! `cargo xtask bench`: the criterion suite (two passes), the all-cores throughput run, the
//! whole-process `verify --batch` comparison (with its callgrind instruction counts) and the
//! Cortex-M4 figures, gathered here; [`report`] writes docs/benchmarks.md and
//! docs/benchmarks.svg from them.

mod report;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use crate::firmware::{firmware_dir, firmware_elf, fw_build, FwBenchLine};
use crate::util::{cargo, output, root, run, Result};

/// The bench groups, one per algorithm, from the benches' own list (the same file).
#[path = "../../benches/src/groups.rs"]
mod groups;
use groups::GROUPS as BENCH_GROUPS;

/// The implementations measured in each group, in report order.
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
    criterion_median(&text)
}

/// The median's point estimate in the text of a criterion `estimates.json`.
fn criterion_median(text: &str) -> Option<f64> {
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
        println!("==> fw-bench in QEMU (-icount shift=7)");
        let out = output(c)?;
        let rows: Vec<(String, String, String)> = out
            .lines()
            .filter_map(FwBenchLine::parse)
            .map(|f| {
                (
                    f.alg().unwrap_or("?").to_string(),
                    f.value("verify_insns="),
                    f.value("import_insns="),
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
            "measured in this run (`fw-bench` in QEMU, `-icount shift=7`)".into(),
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
fn callgrind_per_token(c: Command, tokens: usize, out: &Path) -> Result<Option<(f64, f64)>> {
    if Command::new("valgrind").arg("--version").output().is_err() {
        return Ok(None);
    }
    let status = Command::new("valgrind")
        .args(["--tool=callgrind", "--quiet"])
        .arg(format!("--callgrind-out-file={}", out.display()))
        .arg(c.get_program())
        .args(c.get_args())
        .stdout(std::process::Stdio::null())
        .status()
        .map_err(|e| format!("valgrind: {e}"))?;
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

/// Whole processes: `tokenguard-sim verify --batch` (release build, its key sets built for `Fastest`)
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
pub fn bench() -> Result {
    let m = measure()?;
    report::write(&m)
}

/// Medians per (group, function), in ns, of one criterion pass.
type Medians = BTreeMap<(String, String), f64>;

/// Both criterion passes, forward then reversed.
struct Passes(Vec<Medians>);

impl Passes {
    /// Pass `p`'s median of (`g`, `f`).
    fn get(&self, p: usize, g: &str, f: &str) -> Option<f64> {
        self.0[p].get(&(g.to_string(), f.to_string())).copied()
    }

    /// The better of the two passes (contention from other work on the machine only ever adds
    /// time to a CPU-bound loop).
    fn best(&self, g: &str, f: &str) -> Option<f64> {
        match (self.get(0, g, f), self.get(1, g, f)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The spread between the two passes, in %.
    fn spread(&self, g: &str, f: &str) -> Option<f64> {
        match (self.get(0, g, f), self.get(1, g, f)) {
            (Some(a), Some(b)) => Some((a - b).abs() / ((a + b) / 2.0) * 100.0),
            _ => None,
        }
    }

    /// A ratio num/den from the best times, and within each pass.
    fn ratio(&self, g: &str, num: &str, den: &str) -> Option<(f64, f64, f64)> {
        let r = |p| Some(self.get(p, g, num)? / self.get(p, g, den)?);
        Some((self.best(g, num)? / self.best(g, den)?, r(0)?, r(1)?))
    }

    /// A difference a − b (ns) of the best times.
    fn diff(&self, g: &str, a: &str, b: &str) -> Option<f64> {
        Some(self.best(g, a)? - self.best(g, b)?)
    }
}

/// Everything one `cargo xtask bench` run measured, for [`report`].
struct Measurements {
    /// When the run started.
    t0: Instant,
    load_start: String,
    load_end: String,
    build_secs: f64,
    passes: Passes,
    pass_secs: Vec<f64>,
    /// (alg, threads, verifies per second, cores used) of the throughput bench.
    throughput: Vec<(String, String, String, String)>,
    tp_secs: f64,
    whole: Vec<WholeProcess>,
    whole_secs: f64,
    /// The Cortex-M4 rows of [`bench_firmware_rows`] and where they come from.
    fw: Vec<(String, String, String)>,
    fw_source: String,
    fw_secs: f64,
    cpu: String,
    cores: usize,
    rustc: String,
    date: String,
    versions: Vec<(String, String)>,
}

/// The `(alg, threads, per_sec, cores_used)` of a `throughput alg=... threads=... per_sec=...
/// cores_used=...` line of the throughput bench's output (`?` for a missing key); `None` for
/// any other line.
fn throughput_row(line: &str) -> Option<(String, String, String, String)> {
    let l = line.strip_prefix("throughput ")?;
    let kv = |k: &str| {
        l.split_whitespace()
            .find_map(|x| x.strip_prefix(k))
            .unwrap_or("?")
            .to_string()
    };
    Some((
        kv("alg="),
        kv("threads="),
        kv("per_sec="),
        kv("cores_used="),
    ))
}

/// Runs every measurement of `cargo xtask bench`, in order.
fn measure() -> Result<Measurements> {
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
    let throughput: Vec<(String, String, String, String)> =
        tp_out.lines().filter_map(throughput_row).collect();
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
    Ok(Measurements {
        t0,
        load_start,
        load_end,
        build_secs,
        passes: Passes(passes),
        pass_secs,
        throughput,
        tp_secs,
        whole,
        whole_secs,
        fw,
        fw_source,
        fw_secs,
        cpu,
        cores,
        rustc,
        date,
        versions,
    })
}

#[cfg(test)]
mod tests {
    use super::{callgrind_inclusive, criterion_median, throughput_row};

    #[test]
    fn criterion_median_reads_the_median_point_estimate() {
        let estimates = r#"{"mean":{"confidence_interval":{"confidence_level":0.95,"lower_bound":61645.87718908925,"upper_bound":66610.52003722881},"point_estimate":64193.94021836729,"standard_error":1269.8117574894034},"median":{"confidence_interval":{"confidence_level":0.95,"lower_bound":61853.31194196429,"upper_bound":68846.43323863635},"point_estimate":67104.82700892857,"standard_error":1708.0708299234257},"median_abs_dev":{"confidence_interval":{"confidence_level":0.95,"lower_bound":1862.2005025643373,"upper_bound":10562.132714554115},"point_estimate":4780.45343997715,"standard_error":2403.6731223171832},"slope":null,"std_dev":{"confidence_interval":{"confidence_level":0.95,"lower_bound":5468.765851107407,"upper_bound":8086.3729983},"point_estimate":6822.1,"standard_error":660.2}}"#;
        assert_eq!(criterion_median(estimates), Some(67104.82700892857));
        assert_eq!(
            criterion_median(r#"{"median": {"point_estimate": 1.5e3}}"#),
            Some(1500.0)
        );
    }

    #[test]
    fn criterion_median_is_none_without_a_median_estimate() {
        assert_eq!(
            criterion_median(r#"{"mean":{"point_estimate":64193.9}}"#),
            None
        );
        assert_eq!(
            criterion_median(r#"{"median":{"point_estimate":null}}"#),
            None
        );
        assert_eq!(criterion_median(""), None);
    }

    #[test]
    fn throughput_row_reads_alg_threads_rate_and_cores() {
        assert_eq!(
            throughput_row(
                "throughput alg=RS256 backend=ring threads=2 verifies=61234 secs=2.001 per_sec=30602 cores_used=1.98"
            ),
            Some((
                "RS256".to_string(),
                "2".to_string(),
                "30602".to_string(),
                "1.98".to_string()
            ))
        );
        assert_eq!(
            throughput_row("throughput alg=ES256 threads=1"),
            Some((
                "ES256".to_string(),
                "1".to_string(),
                "?".to_string(),
                "?".to_string()
            ))
        );
        assert_eq!(throughput_row("     Running benches/throughput.rs"), None);
        assert_eq!(throughput_row("  throughput alg=RS256"), None);
    }

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
