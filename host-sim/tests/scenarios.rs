//! The shipped scenarios (scenarios/*.toml) against the simulated device and, with
//! `--ignored` (run by `cargo xtask ci`), the firmware in QEMU: identical verdicts.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

fn shipped() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    v.sort();
    v
}

fn run(files: &[PathBuf], extra: &[&str]) -> (Option<i32>, Value, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_tokenguard-sim"))
        .args(["scenario", "run", "--json"])
        .args(extra)
        .args(files)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    let v = serde_json::from_slice(&o.stdout).unwrap_or(Value::Null);
    (o.status.code(), v, stderr)
}

/// `(scenario, step, observed)` for every step.
fn verdicts(v: &Value) -> Vec<(String, u64, String)> {
    let mut out = vec![];
    for s in v["scenarios"].as_array().unwrap() {
        for st in s["steps"].as_array().unwrap() {
            out.push((
                s["scenario"].as_str().unwrap().to_owned(),
                st["step"].as_u64().unwrap(),
                st["actual"].as_str().unwrap().to_owned(),
            ));
        }
    }
    out
}

#[test]
fn shipped_scenarios_pass_on_the_simulated_device() {
    let files = shipped();
    assert_eq!(files.len(), 5, "{files:?}");
    let (code, v, err) = run(&files, &[]);
    assert_eq!(code, Some(0), "{err}\n{v:#}");
    assert_eq!(v["passed"], true);
    assert_eq!(v["mismatches"], 0);
    let names: Vec<&str> = v["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["scenario"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "clock skew",
            "JWKS outage",
            "replay",
            "key rotation",
            "unknown-kid flood"
        ]
    );
    assert_eq!(verdicts(&v).len(), 58);
    // Progress goes to stderr, one line per step.
    assert_eq!(
        err.lines()
            .filter(|l| l.trim_start().starts_with("step "))
            .count(),
        58
    );
}

#[test]
fn a_wrong_expectation_is_a_mismatch_and_a_bad_file_an_error() {
    let dir = std::env::temp_dir().join(format!("tokenguard-scenarios-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let wrong = dir.join("wrong.toml");
    std::fs::write(
        &wrong,
        "name = \"wrong\"\n[[step]]\naction = \"refresh\"\nexpect = \"loaded:1\"\n[[step]]\naction = \"token\"\nname = \"t\"\nexpect = \"issued\"\n[[step]]\naction = \"tamper\"\ntoken = \"t\"\nexpect = \"accept\"\n",
    )
    .unwrap();
    let (code, v, _) = run(&[wrong], &[]);
    assert_eq!(code, Some(1));
    assert_eq!(v["mismatches"], 1);
    let step = &v["scenarios"][0]["steps"][2];
    assert_eq!(step["ok"], false);
    assert_eq!(step["expected"], "accept");
    assert_eq!(step["actual"], "bad_signature");

    let bad = dir.join("bad.toml");
    std::fs::write(
        &bad,
        "name = \"bad\"\n[[step]]\naction = \"explode\"\nexpect = \"ok\"\n",
    )
    .unwrap();
    let (code, _, err) = run(&[bad], &[]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("is not a valid scenario") && err.contains("unknown variant `explode`"),
        "{err}"
    );
}

#[test]
#[ignore = "needs QEMU and the firmware ELF (run by `cargo xtask ci`)"]
fn scenarios_give_identical_verdicts_on_the_firmware() {
    let elf = std::env::var("TOKENGUARD_FIRMWARE_ELF")
        .expect("TOKENGUARD_FIRMWARE_ELF must name the firmware");
    let files = shipped();
    let (code, fw, err) = run(&files, &["--qemu", &elf]);
    assert_eq!(code, Some(0), "{err}\n{fw:#}");
    let (_, sim, _) = run(&files, &[]);
    assert_eq!(verdicts(&fw), verdicts(&sim));
}
