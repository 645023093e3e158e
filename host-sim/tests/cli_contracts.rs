//! Contracts every `tokenguard-sim` command keeps for scripts: a closed stdout ends it
//! quietly (status 141, no panic), `-` reads standard input for every file argument (once),
//! and files holding private or secret key material are the owner's alone (0600).

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Output, Stdio};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tokenguard-sim"))
}

fn dir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("tokenguard-contracts-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn data(name: &str) -> String {
    format!("{}/../tests/data/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// Runs with `stdin` on standard input.
fn run(args: &[&str], stdin: &str) -> Output {
    let mut child = bin()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Runs with stdout a pipe whose reader is already gone: every write fails with EPIPE.
fn with_closed_stdout(args: &[&str]) -> (Option<i32>, String) {
    // The pipe's read end is closed before the child starts: closing it after `spawn` raced
    // with a fast command (`sign` wrote its token into the pipe first and exited 0).
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let mut child = bin()
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::from(writer))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A command that waits forever on its own threads is a failure, not a hung test run.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            panic!("{args:?}: still running 60 s after its stdout closed");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    (status.code(), err)
}

#[test]
fn a_closed_stdout_ends_every_command_quietly() {
    let scenario = format!("{}/../scenarios/rotation.toml", env!("CARGO_MANIFEST_DIR"));
    let jwks = dir().join("closed-jwks.json");
    std::fs::write(
        &jwks,
        r#"{"keys":[{"kty":"oct","kid":"c","alg":"HS256","k":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}]}"#,
    )
    .unwrap();
    let batch = dir().join("closed-batch.txt");
    // Long enough that the answers fill the pipe while lines are still being read: the
    // reader and the workers of `--jobs 2` must stop too, not wait on each other.
    std::fs::write(&batch, "a\nb\nc\n".repeat(20_000)).unwrap();
    let key = data("p256.pkcs8.pem");
    for args in [
        vec!["demo"],
        vec!["scenario", "run", scenario.as_str()],
        vec!["jwk", "--generate", "RSA", "--include-private"],
        vec!["jwk", "--private-key", key.as_str()],
        vec![
            "sign",
            "--key",
            key.as_str(),
            "--issuer",
            "dev",
            "--audience",
            "https://a.example",
        ],
        vec![
            "verify",
            "--jwks",
            jwks.to_str().unwrap(),
            "--iss",
            "i",
            "--aud",
            "a",
            "--batch",
            batch.to_str().unwrap(),
        ],
        vec![
            "verify",
            "--jwks",
            jwks.to_str().unwrap(),
            "--iss",
            "i",
            "--aud",
            "a",
            "--jobs",
            "2",
            "--batch",
            batch.to_str().unwrap(),
        ],
    ] {
        let (code, err) = with_closed_stdout(&args);
        assert_eq!(code, Some(141), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(!err.contains("Broken pipe"), "{args:?}: {err}");
    }
}

#[test]
fn dash_reads_standard_input_for_every_file_argument() {
    let pem = std::fs::read_to_string(data("p256.pkcs8.pem")).unwrap();
    // sign --key -
    let out = run(
        &[
            "sign",
            "--key",
            "-",
            "--audience",
            "https://a.example",
            "--issuer",
            "dev",
        ],
        &pem,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let token = text(&out.stdout).trim().to_owned();
    assert_eq!(token.split('.').count(), 3, "{token}");
    // jwk --private-key -: the same key's public JWK, as from the file.
    let from_file = bin()
        .args(["jwk", "--private-key", &data("p256.pkcs8.pem"), "--set"])
        .output()
        .unwrap();
    let out = run(&["jwk", "--private-key", "-", "--set"], &pem);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), text(&from_file.stdout));
    let jwks_text = text(&out.stdout);
    // jwk --json -: the set read back.
    let out = run(&["jwk", "--json", "-", "--set"], &jwks_text);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let a: serde_json::Value = serde_json::from_str(&text(&out.stdout)).unwrap();
    let b: serde_json::Value = serde_json::from_str(&jwks_text).unwrap();
    assert_eq!(a["keys"][0]["x"], b["keys"][0]["x"]);
    // verify --jwks - TOKEN: the token minted above.
    let out = run(
        &[
            "verify",
            "--jwks",
            "-",
            "--iss",
            "dev",
            "--aud",
            "https://a.example",
            &token,
        ],
        &jwks_text,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let claims: serde_json::Value = serde_json::from_str(&text(&out.stdout)).unwrap();
    assert_eq!(claims["iss"], "dev");
    // verify --batch -: tokens on stdin, keys from a file.
    let jwks = dir().join("dash-jwks.json");
    std::fs::write(&jwks, &jwks_text).unwrap();
    let args = [
        "verify",
        "--jwks",
        jwks.to_str().unwrap(),
        "--iss",
        "dev",
        "--aud",
        "https://a.example",
        "--batch",
        "-",
    ];
    let out = run(&args, &format!("{token}\nx\n"));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let lines: Vec<String> = text(&out.stdout).lines().map(str::to_owned).collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines[0].starts_with(r#"{"ok":true,"claims":{"#),
        "{}",
        lines[0]
    );
    assert_eq!(lines[1], r#"{"ok":false,"error":"malformed"}"#);
    // Two arguments cannot both read stdin.
    let out = run(
        &[
            "verify",
            "--jwks",
            "-",
            "--iss",
            "dev",
            "--aud",
            "https://a.example",
            "-",
        ],
        &jwks_text,
    );
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stderr),
        "error: `-` (standard input) is given for two arguments; only one can read it\n"
    );
}

#[test]
fn key_files_with_secrets_are_created_owner_only() {
    let d = dir();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    // A secret (oct) and a private key: 0600, also when replacing a world-readable file.
    let hs = d.join("hs.json");
    std::fs::write(&hs, "old").unwrap();
    std::fs::set_permissions(&hs, std::fs::Permissions::from_mode(0o644)).unwrap();
    let ec = d.join("ec-private.json");
    for (args, path) in [
        (
            vec![
                "jwk",
                "--generate",
                "oct",
                "--include-private",
                "--alg",
                "HS256",
            ],
            &hs,
        ),
        (vec!["jwk", "--generate", "EC", "--include-private"], &ec),
    ] {
        let out = bin()
            .args(&args)
            .arg("--output")
            .arg(path)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        assert_eq!(mode(path), 0o600, "{args:?}");
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        assert!(v.get("k").or(v.get("d")).is_some(), "{v}");
    }
    // A public key keeps the ordinary mode (what the umask allows).
    let public = d.join("ec-public.json");
    let out = bin()
        .args(["jwk", "--private-key", &data("p256.pkcs8.pem"), "--output"])
        .arg(&public)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&public).unwrap()).unwrap();
    assert!(v.get("d").is_none(), "{v}");
    assert_ne!(mode(&public), 0o600);
    // No temporary file is left beside the outputs.
    let left: Vec<String> = std::fs::read_dir(&d)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.contains(".tmp-"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

fn stderr_of(args: &[&str]) -> (Option<i32>, String) {
    let out = bin().args(args).stdin(Stdio::null()).output().unwrap();
    (out.status.code(), text(&out.stderr))
}

/// Errors in plain words: a URL without a scheme, https to a plain-HTTP server, `jwks fetch`
/// without a target, single-dash options.
#[test]
fn usage_mistakes_get_plain_words() {
    // A plain-HTTP server on loopback, answering every connection with a 404.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut s in listener.incoming().flatten() {
            let mut buf = [0u8; 2048];
            let _ = std::io::Read::read(&mut s, &mut buf);
            let _ = s.write_all(
                b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            );
        }
    });
    let (code, err) = stderr_of(&["jwk", "--url", &format!("https://127.0.0.1:{port}/keys")]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("the server did not answer in TLS")
            && err.contains(&format!("use http://127.0.0.1:{port}/keys")),
        "{err}"
    );
    let (code, err) = stderr_of(&["jwks", "fetch", "example.com/keys", "--output", "x.json"]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("example.com/keys has no scheme: did you mean https://example.com/keys"),
        "{err}"
    );
    let (code, err) = stderr_of(&["jwks", "fetch", "http://127.0.0.1:1/keys"]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("--output <OUTPUT>|--device <HOST:PORT>"),
        "{err}"
    );
    let (code, err) = stderr_of(&["sign", "--key", "k.pem", "-audiance=https://a.example"]);
    assert_eq!(code, Some(2));
    assert_eq!(
        err,
        "error: -audiance=https://a.example: options take two dashes; did you mean --audience?\n"
    );
    // Values may start with '-': a base64url thumbprint used as the kid often does.
    let key = data("p256.pkcs8.pem");
    let out = bin()
        .args([
            "sign",
            "--key",
            &key,
            "--kid",
            "-6bc_x",
            "--issuer",
            "-dev",
            "--audience",
            "a",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let header = text(&out.stdout);
    let seg = header.split('.').next().unwrap();
    let mut raw = vec![0u8; seg.len()];
    let n = tokenguard::b64::decode(seg.as_bytes(), &mut raw).unwrap();
    assert_eq!(
        std::str::from_utf8(&raw[..n]).unwrap(),
        r#"{"alg":"ES256","typ":"JWT","kid":"-6bc_x"}"#
    );
    let out = bin()
        .args(["jwk", "--private-key", &key, "--kid", "-6bc_x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains(r#""kid": "-6bc_x""#));
    // key2jwt's own single-dash flags still work (they are translated, not typos).
    let key = data("p256.pkcs8.pem");
    let out = bin()
        .args([
            "sign",
            "-key",
            &key,
            "-audience",
            "https://a.example",
            "-issuer",
            "dev",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

/// The demo and scenario output speak plainly: no internal codes, no verdict said twice, plurals
/// right; their JSON gives each step a stable id and separate expected and actual fields.
#[test]
fn demo_and_scenario_output_are_plain_and_their_json_has_ids() {
    let out = bin().arg("demo").output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let narrative = text(&out.stdout);
    for bad in ["reason ", "freshness ", " 1 keys", "1 fetchs", " 1 tokens"] {
        assert!(!narrative.contains(bad), "{bad:?} in:\n{narrative}");
    }
    for line in narrative.lines() {
        // "(x) (x)": the same verdict twice.
        let parts: Vec<&str> = line.split(" (").collect();
        for w in parts.windows(2) {
            assert_ne!(w[0].rsplit('(').next(), Some(w[1]), "doubled: {line}");
        }
    }
    assert!(narrative.contains("demo passed: 24 checks"), "{narrative}");
    let out = bin().args(["demo", "--json"]).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let steps = v["steps"].as_array().unwrap();
    assert_eq!(steps[0]["id"], "1.1");
    assert_eq!(steps[1]["id"], "1.2");
    assert_eq!(steps[2]["id"], "2.1");
    let ids: std::collections::HashSet<&str> =
        steps.iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), steps.len(), "ids are unique");
    for s in steps {
        assert!(s["expected"].is_string() && s["actual"].is_string(), "{s}");
    }
    let scenario = format!("{}/../scenarios/rotation.toml", env!("CARGO_MANIFEST_DIR"));
    let out = bin().args(["scenario", "run", &scenario]).output().unwrap();
    assert!(
        text(&out.stdout).ends_with("1 scenario, 13 steps: all verdicts as expected\n"),
        "{}",
        text(&out.stdout)
    );
    let out = bin()
        .args(["scenario", "run", &scenario, "--json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let step = &v["scenarios"][0]["steps"][5];
    assert_eq!(step["id"], "key rotation#6");
    assert_eq!(
        (step["expected"].as_str(), step["actual"].as_str()),
        (Some("key_not_found"), Some("key_not_found"))
    );
}
