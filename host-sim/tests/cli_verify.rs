//! The `tokenguard-sim verify` contract (DESIGN.md), run as a process.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use tokenguard_tests::corpus::Corpus;
use tokenguard_tests::load;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tokenguard-sim"))
}

fn tmp(name: &str, content: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("tokenguard-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, content).unwrap();
    p
}

/// A JWKS with 18 usable keys of every type (RSA 2048-4096, EC, OKP, oct) and 6 unusable.
fn big_jwks() -> String {
    let corpus = Corpus::new();
    let mut keys: Vec<serde_json::Value> = vec![];
    for k in ["hs-1", "ec-1"] {
        keys.push(corpus.doc["meta"]["keys"][k].clone());
    }
    for (i, (bits, sha)) in [
        (2048, 256),
        (2048, 384),
        (2048, 512),
        (3072, 256),
        (3072, 384),
        (3072, 512),
        (4096, 256),
        (4096, 384),
        (4096, 512),
    ]
    .iter()
    .enumerate()
    {
        let doc = load(&format!(
            "wycheproof/rsa_signature_{bits}_sha{sha}_test.json"
        ));
        let mut jwk = doc["testGroups"][0]["keyJwk"].clone();
        jwk["kid"] = format!("rsa-{i}").into();
        keys.push(jwk);
    }
    for (i, f) in [
        "ecdsa_secp256r1_sha256_p1363_test.json",
        "ecdsa_secp384r1_sha384_p1363_test.json",
    ]
    .iter()
    .enumerate()
    {
        let doc = load(&format!("wycheproof/{f}"));
        for j in 0..2 {
            let mut jwk = doc["testGroups"][j]["publicKeyJwk"].clone();
            jwk["kid"] = format!("ec-{i}-{j}").into();
            keys.push(jwk);
        }
    }
    let ed = load("wycheproof/ed25519_test.json");
    for j in 0..2 {
        let mut jwk = ed["testGroups"][j]["publicKeyJwk"].clone();
        jwk["kid"] = format!("ed-{j}").into();
        keys.push(jwk);
    }
    keys.push(serde_json::json!({"kty":"oct","kid":"hs512","alg":"HS512","k": tokenguard_tests::b64(&[5u8; 64])}));
    // Unusable: weak RSA, use enc, unknown kty, unknown crv, malformed, EC point off-curve.
    let weak = load("wycheproof/json_web_key_test.json");
    let mut w = weak["testGroups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["comment"] == "keysize_too_small")
        .unwrap()["public"]["keys"][0]
        .clone();
    w["kid"] = "weak".into();
    keys.push(w);
    keys.push(serde_json::json!({"kty":"oct","kid":"enc","use":"enc","k": tokenguard_tests::b64(&[1u8; 32])}));
    keys.push(serde_json::json!({"kty":"XYZ","kid":"unknown-kty"}));
    keys.push(serde_json::json!({"kty":"EC","kid":"p192","crv":"P-192","x":"AA","y":"AA"}));
    keys.push(serde_json::json!({"kty":"RSA","kid":"broken","n":"@@@","e":"AQAB"}));
    let mut bad = corpus.doc["meta"]["keys"]["ec-1"].clone();
    bad["kid"] = "off-curve".into();
    bad["y"] = "eQP-EAi4vJmkGunpVii8ZPLxsgwtfp9Rd6PClNRGIpg".into();
    keys.push(bad);
    serde_json::json!({ "keys": keys }).to_string()
}

fn run(args: &[&str], stdin: Option<&str>) -> Output {
    let mut c = bin();
    c.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    if let Some(s) = stdin {
        child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
    } else {
        drop(child.stdin.take());
    }
    child.wait_with_output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn base_args(jwks: &str) -> Vec<String> {
    [
        "verify",
        "--jwks",
        jwks,
        "--iss",
        "https://issuer.example",
        "--aud",
        "device-1",
        "--now",
        "1700000300",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

#[test]
fn loads_many_keys_and_warns_about_unusable_ones() {
    let jwks = tmp("big.json", &big_jwks());
    let corpus = Corpus::new();
    let (_, tok) = corpus.case("ctl-hs256");
    let mut a = base_args(jwks.to_str().unwrap());
    a.push(tok);
    let out = run(&a.iter().map(String::as_str).collect::<Vec<_>>(), None);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    for (kid, why) in [
        ("weak", "RSA modulus"),
        ("enc", "use is not sig"),
        ("unknown-kty", "unsupported kty"),
        ("p192", "unsupported crv"),
        ("broken", "base64url"),
        ("off-curve", "not on the curve"),
    ] {
        assert!(
            err.contains(&format!("(kid {kid}) skipped")) && err.contains(why),
            "{kid}: {err}"
        );
    }
    assert_eq!(err.lines().count(), 6, "{err}");
    let claims: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(claims["sub"], "u1");
}

#[test]
fn single_token_exit_codes_and_messages() {
    let corpus = Corpus::new();
    let jwks = tmp("corpus.json", &serde_json::json!({"keys":[corpus.doc["meta"]["keys"]["hs-1"], corpus.doc["meta"]["keys"]["ec-1"]]}).to_string());
    let j = jwks.to_str().unwrap();
    let (_, good) = corpus.case("ctl-es256");
    let (_, expired) = corpus.case("exp-past");
    let mut a = base_args(j);
    a.push(good.clone());
    let out = run(&a.iter().map(String::as_str).collect::<Vec<_>>(), None);
    assert_eq!(out.status.code(), Some(0));
    // Default leeway 0: exp-past (now - 61) is expired.
    let mut a = base_args(j);
    a.push(expired.clone());
    let out = run(&a.iter().map(String::as_str).collect::<Vec<_>>(), None);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).starts_with("error: expired: "),
        "{}",
        text(&out.stderr)
    );
    assert!(out.stdout.is_empty());
    // --alg restricts; stdin with `-`.
    let mut a = base_args(j);
    a.extend(["--alg".into(), "HS256".into(), "-".into()]);
    let out = run(
        &a.iter().map(String::as_str).collect::<Vec<_>>(),
        Some(&format!("{good}\n")),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).starts_with("error: alg_not_allowed: "));
    // --typ.
    let mut a = base_args(j);
    a.extend(["--typ".into(), "at+jwt".into(), good.clone()]);
    let out = run(&a.iter().map(String::as_str).collect::<Vec<_>>(), None);
    assert!(text(&out.stderr).starts_with("error: wrong_type: "));
    // Usage and I/O errors exit 2.
    let out = run(&["verify", "--jwks", j, "--aud", "x", &good], None);
    assert_eq!(out.status.code(), Some(2));
    let out = run(
        &[
            "verify",
            "--jwks",
            "/nonexistent/jwks.json",
            "--iss",
            "i",
            "--aud",
            "a",
            &good,
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).starts_with("error: "));
    let out = run(
        &[
            "verify", "--jwks", j, "--iss", "i", "--aud", "a", "--alg", "RSA", &good,
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    let out = run(
        &[
            "verify", "--jwks", j, "--iss", "i", "--aud", "a", "--leeway", "601", &good,
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn batch_mode_matches_the_core_on_the_whole_corpus() {
    let corpus = Corpus::new();
    let (v, now) = corpus.policy();
    let jwks = tmp("corpus2.json", &serde_json::json!({"keys":[corpus.doc["meta"]["keys"]["hs-1"], corpus.doc["meta"]["keys"]["ec-1"]]}).to_string());
    // A token containing a newline cannot be written as one line (struct-newline).
    let cases: Vec<&serde_json::Value> = corpus.doc["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| !c["token"].as_str().unwrap().contains('\n'))
        .collect();
    assert_eq!(cases.len(), 137);
    let tokens: Vec<&str> = cases.iter().map(|c| c["token"].as_str().unwrap()).collect();
    let batch = tmp("batch.txt", &tokens.join("\n"));
    let now_s = now.to_string();
    let args = [
        "verify",
        "--jwks",
        jwks.to_str().unwrap(),
        "--iss",
        "https://issuer.example",
        "--aud",
        "device-1",
        "--now",
        &now_s,
        "--leeway",
        "60",
        "--max-len",
        "4096",
        "--max-depth",
        "8",
        "--batch",
        batch.to_str().unwrap(),
    ];
    let out = run(&args, None);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // The same answers, in the same order, whatever the number of threads (chunks of 64
    // lines: 5 threads get uneven shares of the 137 lines).
    for jobs in ["1", "2", "5"] {
        let again = run(&[&args[..], &["--jobs", jobs]].concat(), None);
        assert_eq!(again.status.code(), Some(0), "{}", text(&again.stderr));
        assert_eq!(text(&again.stdout), text(&out.stdout), "--jobs {jobs}");
    }
    let lines: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), cases.len());
    // Same verdicts as the library with the corpus policy and both keys in one set.
    let mut keys: tokenguard::KeySet<4> = tokenguard::KeySet::new();
    keys.allow_mixed_key_types(true);
    let set = serde_json::json!({"keys":[corpus.doc["meta"]["keys"]["hs-1"], corpus.doc["meta"]["keys"]["ec-1"]]}).to_string();
    keys.load_jwks(set.as_bytes(), &mut |_| {}).unwrap();
    for (line, c) in lines.iter().zip(&cases) {
        let tok = c["token"].as_str().unwrap();
        let mut buf = vec![0u8; tok.len()];
        match keys.verify(tok.as_bytes(), &v, now, &mut buf) {
            Ok(t) => {
                assert_eq!(line["ok"], true, "{}", c["id"]);
                let want: serde_json::Value = serde_json::from_str(t.claims_json()).unwrap();
                assert_eq!(line["claims"], want);
            }
            Err(e) => assert_eq!(
                line,
                &serde_json::json!({"ok": false, "error": e.code()}),
                "{}",
                c["id"]
            ),
        }
    }
    let accepted = lines.iter().filter(|l| l["ok"] == true).count();
    assert_eq!(
        accepted, 8,
        "4 controls + exp-now + exp-float + typ-unexpected + ecdsa-highS"
    );
}

/// `--typ` assumes the `application/` prefix only for a value with no other `/` (RFC 7515
/// §4.1.9), in both directions.
#[test]
fn typ_prefix_is_implied_only_without_another_slash() {
    let key = [5u8; 32];
    let jwks = tmp(
        "typ-jwks.json",
        &format!(
            r#"{{"keys":[{{"kty":"oct","kid":"t","alg":"HS256","k":"{}"}}]}}"#,
            tokenguard_tests::b64(&key)
        ),
    );
    let claims = r#"{"iss":"i","aud":"a","exp":4102444800}"#;
    let token = |typ: &str| {
        tokenguard_tests::mint::hs256(
            &key,
            format!(r#"{{"alg":"HS256","kid":"t","typ":"{typ}"}}"#),
            claims,
        )
    };
    let verdict = |typ_in_token: &str, flag: &str| {
        let out = bin()
            .args([
                "verify",
                "--jwks",
                jwks.to_str().unwrap(),
                "--iss",
                "i",
                "--aud",
                "a",
            ])
            .args(["--typ", flag, &token(typ_in_token)])
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    for (in_token, flag) in [
        ("text/plain", "application/text/plain"),
        ("application/x/y", "x/y"),
    ] {
        let (code, err) = verdict(in_token, flag);
        assert_eq!(code, Some(1), "{in_token} vs --typ {flag}: {err}");
        assert!(err.starts_with("error: wrong_type: "), "{err}");
        let (code, err) = verdict(flag, in_token);
        assert_eq!(code, Some(1), "{flag} vs --typ {in_token}: {err}");
        assert!(err.starts_with("error: wrong_type: "), "{err}");
    }
    for (in_token, flag) in [
        ("at+jwt", "application/at+jwt"),
        ("application/at+jwt", "AT+JWT"),
        ("text/plain", "Text/Plain"),
    ] {
        assert_eq!(
            verdict(in_token, flag).0,
            Some(0),
            "{in_token} vs --typ {flag}"
        );
    }
}

/// `--batch` writes exactly one JSON line per input line, in order: claims that were
/// pretty-printed in the token come out compact (strings untouched), a blank line gets its own
/// `malformed`, CRLF line ends are accepted.
#[test]
fn batch_writes_one_compact_line_per_input_line() {
    let key = [9u8; 32];
    let jwks = tmp(
        "batch-lines-jwks.json",
        &format!(
            r#"{{"keys":[{{"kty":"oct","kid":"b","alg":"HS256","k":"{}"}}]}}"#,
            tokenguard_tests::b64(&key)
        ),
    );
    let header = r#"{"alg":"HS256","kid":"b"}"#;
    let pretty = "{\n  \"iss\": \"i\",\n\t\"aud\" : [ \"a\" ],\r\n  \"exp\": 4102444800,\n  \"note\": \"two  spaces, a \\\"quote\\\" and \\\\n\"\n}\n";
    let flat = r#"{"iss":"i","aud":"a","exp":4102444800}"#;
    let input = format!(
        "{}\n\n{}\r\nnot-a-token\n{}",
        tokenguard_tests::mint::hs256(&key, header, pretty),
        tokenguard_tests::mint::hs256(&key, header, flat),
        tokenguard_tests::mint::hs256(&[1u8; 32], header, flat),
    );
    let batch = tmp("batch-lines.txt", &input);
    let out = run(
        &[
            "verify",
            "--jwks",
            jwks.to_str().unwrap(),
            "--iss",
            "i",
            "--aud",
            "a",
            "--now",
            "1700000000",
            "--batch",
            batch.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        concat!(
            r#"{"ok":true,"claims":{"iss":"i","aud":["a"],"exp":4102444800,"note":"two  spaces, a \"quote\" and \\n"}}"#,
            "\n",
            r#"{"ok":false,"error":"malformed"}"#,
            "\n",
            r#"{"ok":true,"claims":{"iss":"i","aud":"a","exp":4102444800}}"#,
            "\n",
            r#"{"ok":false,"error":"malformed"}"#,
            "\n",
            r#"{"ok":false,"error":"bad_signature"}"#,
            "\n",
        )
    );
}

/// The library's policy knobs on the command line, and rejections a user can act on.
#[test]
fn policy_flags_and_actionable_rejections() {
    let key = [3u8; 32];
    let jwks = tmp(
        "policy-jwks.json",
        &format!(
            r#"{{"keys":[{{"kty":"oct","kid":"p","alg":"HS256","k":"{}"}}]}}"#,
            tokenguard_tests::b64(&key)
        ),
    );
    let now = 1_700_000_000u64;
    let mint = |header: &str, claims: String| tokenguard_tests::mint::hs256(&key, header, claims);
    let h = r#"{"alg":"HS256","kid":"p","typ":"JWT"}"#;
    let good = |extra: &str| {
        mint(
            h,
            format!(
                r#"{{"iss":"i","aud":["a","b"],"iat":{now},"exp":{}{extra}}}"#,
                now + 60
            ),
        )
    };
    let verify = |flags: &[&str], token: &str| -> (Option<i32>, String) {
        let now_s = now.to_string();
        let mut args = vec!["verify", "--jwks", jwks.to_str().unwrap(), "--now", &now_s];
        args.extend_from_slice(flags);
        args.push(token);
        let out = run(&args, None);
        (out.status.code(), text(&out.stderr))
    };
    let ia = ["--iss", "i", "--aud", "a"];
    assert_eq!(verify(&ia, &good("")).0, Some(0));

    // --no-iss / --no-aud: the explicit Expect::Ignore; with --iss/--aud a usage error.
    let other = mint(h, format!(r#"{{"iss":"x","aud":"y","exp":{}}}"#, now + 60));
    assert_eq!(verify(&["--no-iss", "--no-aud"], &other).0, Some(0));
    assert_eq!(verify(&["--no-iss", "--aud", "a"], &other).0, Some(1));
    assert_eq!(
        verify(&["--iss", "i", "--no-iss", "--aud", "a"], &other).0,
        Some(2)
    );
    assert_eq!(verify(&["--aud", "a"], &other).0, Some(2));

    // --allow-missing-exp.
    let no_exp = mint(h, r#"{"iss":"i","aud":"a"}"#.to_owned());
    let (code, err) = verify(&ia, &no_exp);
    assert_eq!(
        (code, err.lines().next()),
        (
            Some(1),
            Some("error: missing_claim: required claim exp is missing")
        )
    );
    assert_eq!(
        verify(&[&ia[..], &["--allow-missing-exp"]].concat(), &no_exp).0,
        Some(0)
    );

    // --max-age (iat) and --max-lifetime (exp - iat).
    let old = mint(
        h,
        format!(
            r#"{{"iss":"i","aud":"a","iat":{},"exp":{}}}"#,
            now - 3600,
            now + 60
        ),
    );
    assert_eq!(
        verify(&[&ia[..], &["--max-age", "3600"]].concat(), &old).0,
        Some(0)
    );
    let (code, err) = verify(&[&ia[..], &["--max-age", "3599"]].concat(), &old);
    assert_eq!(
        (code, err.starts_with("error: expired: ")),
        (Some(1), true),
        "{err}"
    );
    let long = mint(
        h,
        format!(
            r#"{{"iss":"i","aud":"a","iat":{now},"exp":{}}}"#,
            now + 2_592_001
        ),
    );
    let (code, err) = verify(&[&ia[..], &["--max-lifetime", "2592000"]].concat(), &long);
    assert_eq!(
        (code, err.starts_with("error: invalid_claim: claim exp ")),
        (Some(1), true),
        "{err}"
    );
    assert_eq!(verify(&ia, &long).0, Some(0));

    // --max-depth 0 is refused.
    assert_eq!(
        verify(&[&ia[..], &["--max-depth", "0"]].concat(), &good("")).0,
        Some(2)
    );

    // Expected and actual, from a token whose signature verified.
    let (code, err) = verify(&["--iss", "j", "--aud", "a"], &good(""));
    assert_eq!(code, Some(1));
    assert_eq!(
        err,
        "error: wrong_issuer: issuer (iss) is not the expected one\nexpected issuer \"j\", the token has \"i\"\n"
    );
    let (_, err) = verify(&["--iss", "i", "--aud", "c"], &good(""));
    assert!(
        err.ends_with("expected audience \"c\", the token has [\"a\",\"b\"]\n"),
        "{err}"
    );
    let (_, err) = verify(&[&ia[..], &["--typ", "at+jwt"]].concat(), &good(""));
    assert!(
        err.ends_with("expected typ \"at+jwt\", the token has \"JWT\"\n"),
        "{err}"
    );
    // A forged token tells nothing about its claims.
    let forged = tokenguard_tests::mint::hs256(
        &[4u8; 32],
        h,
        format!(r#"{{"iss":"evil","aud":"a","exp":{}}}"#, now + 60),
    );
    let (code, err) = verify(&["--iss", "i", "--aud", "a"], &forged);
    assert_eq!(
        (code, err.as_str()),
        (Some(1), "error: bad_signature: signature does not verify\n")
    );

    // Hints: a Bearer prefix, a file name, a missing kid under --require-kid.
    let (code, err) = verify(&ia, &format!("Bearer {}", good("")));
    assert_eq!(code, Some(1));
    assert!(err.contains("pass the token without `Bearer `"), "{err}");
    let file = tmp("token.txt", &good(""));
    let (code, err) = verify(&ia, file.to_str().unwrap());
    assert_eq!(code, Some(1));
    assert!(err.contains("is a file, not a token"), "{err}");
    let no_kid = mint(
        r#"{"alg":"HS256"}"#,
        format!(r#"{{"iss":"i","aud":"a","exp":{}}}"#, now + 60),
    );
    let (code, err) = verify(&[&ia[..], &["--require-kid"]].concat(), &no_kid);
    assert_eq!(code, Some(1));
    assert!(
        err.ends_with("the token has no kid, and --require-kid refuses such tokens\n"),
        "{err}"
    );
}

/// `--batch`: a line that is not UTF-8 is one `malformed` answer, not the end of the batch;
/// and through a pipe each answer comes out before the next token is sent, with one thread
/// or several.
#[test]
fn batch_answers_bad_bytes_and_answers_as_lines_arrive() {
    use std::io::{BufRead, BufReader};
    let key = [8u8; 32];
    let jwks = tmp(
        "batch-bytes-jwks.json",
        &format!(
            r#"{{"keys":[{{"kty":"oct","kid":"y","alg":"HS256","k":"{}"}}]}}"#,
            tokenguard_tests::b64(&key)
        ),
    );
    let token = tokenguard_tests::mint::hs256(
        &key,
        r#"{"alg":"HS256","kid":"y"}"#,
        r#"{"iss":"i","aud":"a","exp":4102444800}"#,
    );
    let dir = std::env::temp_dir().join(format!("tokenguard-cli-{}", std::process::id()));
    let file = dir.join("batch-bytes.txt");
    std::fs::write(
        &file,
        [&b"ab\xff\xfe.c.d\n"[..], token.as_bytes(), b"\n"].concat(),
    )
    .unwrap();
    let args = |batch: &str, jobs: &str| {
        vec![
            "verify".to_owned(),
            "--jobs".into(),
            jobs.into(),
            "--jwks".into(),
            jwks.to_str().unwrap().into(),
            "--iss".into(),
            "i".into(),
            "--aud".into(),
            "a".into(),
            "--now".into(),
            "1700000000".into(),
            "--batch".into(),
            batch.into(),
        ]
    };
    // One thread, and a pool of three that must still answer each line as it arrives.
    for jobs in ["1", "3"] {
        let out = bin()
            .args(args(file.to_str().unwrap(), jobs))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let lines: Vec<String> = text(&out.stdout).lines().map(str::to_owned).collect();
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert_eq!(lines[0], r#"{"ok":false,"error":"malformed"}"#);
        assert!(lines[1].starts_with(r#"{"ok":true,"#), "{}", lines[1]);

        // Interactive: one token in, one answer out, stdin still open.
        let mut child = bin()
            .args(args("-", jobs))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let mut answers = BufReader::new(child.stdout.take().unwrap());
        for _ in 0..3 {
            writeln!(stdin, "{token}").unwrap();
            stdin.flush().unwrap();
            let mut answer = String::new();
            answers.read_line(&mut answer).unwrap();
            assert!(answer.starts_with(r#"{"ok":true,"#), "{answer}");
        }
        drop(stdin);
        assert_eq!(child.wait().unwrap().code(), Some(0));
    }
}

/// A short HMAC secret (the `"secret"` of many peer test suites) is refused with the rule and
/// a way to make a proper key.
#[test]
fn short_hmac_secrets_are_refused_with_a_remedy() {
    let short = tokenguard_tests::b64(b"secret");
    let set = tmp(
        "short-set.json",
        &format!(r#"{{"keys":[{{"kty":"oct","kid":"s","alg":"HS256","k":"{short}"}}]}}"#),
    );
    let one = tmp(
        "short-one.json",
        &format!(r#"{{"kty":"oct","kid":"s","alg":"HS256","k":"{short}"}}"#),
    );
    let token = tokenguard_tests::mint::hs256(
        b"secret",
        r#"{"alg":"HS256","kid":"s"}"#,
        r#"{"iss":"i","aud":"a","exp":4102444800}"#,
    );
    for (file, code) in [(&set, 2), (&one, 2)] {
        let out = run(
            &[
                "verify",
                "--jwks",
                file.to_str().unwrap(),
                "--iss",
                "i",
                "--aud",
                "a",
                &token,
            ],
            None,
        );
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{err}");
        assert!(
            err.contains("HS256 needs at least 32 bytes")
                && err.contains("tokenguard-sim jwk --generate oct --include-private --alg HS256"),
            "{err}"
        );
    }
}

/// `--jobs` takes 1 to 256 threads and only with `--batch`.
#[test]
fn jobs_is_bounded_and_needs_a_batch() {
    let jwks = tmp(
        "jobs-jwks.json",
        &format!(
            r#"{{"keys":[{{"kty":"oct","kid":"j","alg":"HS256","k":"{}"}}]}}"#,
            tokenguard_tests::b64(&[3u8; 32])
        ),
    );
    let batch = tmp("jobs-batch.txt", "x\n");
    let base = [
        "verify",
        "--jwks",
        jwks.to_str().unwrap(),
        "--iss",
        "i",
        "--aud",
        "a",
    ];
    for (extra, code) in [
        (vec!["--jobs", "0", "--batch", batch.to_str().unwrap()], 2),
        (vec!["--jobs", "257", "--batch", batch.to_str().unwrap()], 2),
        (vec!["--jobs", "2", "some.token.here"], 2),
        (vec!["--jobs", "256", "--batch", batch.to_str().unwrap()], 0),
    ] {
        let out = run(&[&base[..], &extra[..]].concat(), None);
        assert_eq!(
            out.status.code(),
            Some(code),
            "{extra:?}: {}",
            text(&out.stderr)
        );
        if code == 0 {
            assert_eq!(
                text(&out.stdout),
                "{\"ok\":false,\"error\":\"malformed\"}\n"
            );
        }
    }
}
