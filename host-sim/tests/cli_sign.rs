//! `tokenguard-sim sign` and `tokenguard-sim jwk`, run as processes.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tokenguard-sim"))
}

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/data")
        .join(name)
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tokenguard-cli-sign-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().unwrap()
}

fn ok(args: &[&str]) -> String {
    let o = run(args);
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

/// Runs, expects exit 2 and returns stderr.
fn fails(args: &[&str]) -> String {
    let o = run(args);
    assert_eq!(
        o.status.code(),
        Some(2),
        "{args:?}: stdout {}",
        String::from_utf8_lossy(&o.stdout)
    );
    String::from_utf8(o.stderr).unwrap()
}

fn part(jwt: &str, i: usize) -> Value {
    let seg = jwt.trim().split('.').nth(i).unwrap();
    let mut out = vec![0u8; seg.len()];
    let n = tokenguard::b64::decode(seg.as_bytes(), &mut out).unwrap();
    serde_json::from_slice(&out[..n]).unwrap()
}

fn key_file(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(data(name)).unwrap()).unwrap()
}

/// The public JWK Set of a ZITADEL key file, made by `tokenguard-sim jwk --private-key`.
fn zitadel_jwks(name: &str) -> PathBuf {
    let kf = key_file(name);
    let pem = tmp(&format!("{name}.pem"));
    std::fs::write(&pem, kf["key"].as_str().unwrap()).unwrap();
    let out = tmp(&format!("{name}.jwks"));
    ok(&[
        "jwk",
        "--private-key",
        pem.to_str().unwrap(),
        "--kid",
        kf["keyId"].as_str().unwrap(),
        "--use",
        "sig",
        "--alg",
        "RS256",
        "--set",
        "--output",
        out.to_str().unwrap(),
    ]);
    out
}

fn verify(jwks: &Path, iss: &str, aud: &str, now: u64, jwt: &str) -> Output {
    bin()
        .args([
            "verify",
            "--jwks",
            jwks.to_str().unwrap(),
            "--iss",
            iss,
            "--aud",
            aud,
            "--now",
            &now.to_string(),
        ])
        .arg(jwt.trim())
        .output()
        .unwrap()
}

const NOW: u64 = 1_764_000_000;

#[test]
fn zitadel_service_user_key_file() {
    let kf = key_file("zitadel-serviceaccount.json");
    let user = kf["userId"].as_str().unwrap();
    let issuer = "https://tokenguard-demo.zitadel.cloud";
    let jwt = ok(&[
        "sign",
        "--key",
        data("zitadel-serviceaccount.json").to_str().unwrap(),
        "--audience",
        issuer,
        "--now",
        &NOW.to_string(),
    ]);
    let h = part(&jwt, 0);
    assert_eq!(h["alg"], "RS256");
    assert_eq!(h["kid"], kf["keyId"]);
    assert_eq!(h["typ"], "JWT");
    let c = part(&jwt, 1);
    assert_eq!(c["iss"], user);
    assert_eq!(c["sub"], user);
    assert_eq!(c["aud"], issuer);
    assert_eq!(c["iat"], NOW - 5);
    assert_eq!(c["exp"], NOW - 5 + 3600);
    let v = verify(
        &zitadel_jwks("zitadel-serviceaccount.json"),
        user,
        issuer,
        NOW,
        &jwt,
    );
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stderr));
}

#[test]
fn zitadel_application_key_file_uses_client_id() {
    let kf = key_file("zitadel-application.json");
    let client = kf["clientId"].as_str().unwrap();
    let issuer = "https://tokenguard-demo.zitadel.cloud";
    let jwt = ok(&[
        "sign",
        "--key",
        data("zitadel-application.json").to_str().unwrap(),
        "--audience",
        issuer,
        "--now",
        &NOW.to_string(),
    ]);
    assert_eq!(part(&jwt, 0)["kid"], kf["keyId"]);
    let c = part(&jwt, 1);
    assert_eq!(c["iss"], client);
    assert_eq!(c["sub"], client);
    let v = verify(
        &zitadel_jwks("zitadel-application.json"),
        client,
        issuer,
        NOW,
        &jwt,
    );
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stderr));
}

#[test]
fn key2jwt_flags_give_the_same_token() {
    let key = data("zitadel-serviceaccount.json");
    let out = tmp("key2jwt.jwt");
    let n = NOW.to_string();
    // key2jwt spelling: single dashes, `-flag value` and `-flag=value`; no backdating.
    ok(&[
        "sign",
        "-key",
        key.to_str().unwrap(),
        "-audience=https://issuer.example",
        "-output",
        out.to_str().unwrap(),
        "--now",
        &n,
    ]);
    let ours = ok(&[
        "sign",
        "--key",
        key.to_str().unwrap(),
        "--audience",
        "https://issuer.example",
        "--backdate",
        "0",
        "--now",
        &n,
    ]);
    let theirs = std::fs::read_to_string(&out).unwrap();
    // RS256 (PKCS#1 v1.5) is deterministic: same claims, same bytes.
    assert_eq!(theirs.trim(), ours.trim());
    let c = part(&theirs, 1);
    assert_eq!(c["iat"], NOW);
    assert_eq!(c["exp"], NOW + 3600);
    // -issuer overrides iss/sub, as in key2jwt.
    let jwt = ok(&[
        "sign",
        "-key",
        key.to_str().unwrap(),
        "-audience",
        "https://a",
        "-issuer",
        "someone",
        "--now",
        &n,
    ]);
    assert_eq!(part(&jwt, 1)["iss"], "someone");
    assert_eq!(part(&jwt, 1)["sub"], "someone");
}

#[test]
fn presets_enforce_provider_rules() {
    let key = data("zitadel-serviceaccount.json");
    let k = key.to_str().unwrap();
    // Auth0 clients sign with their own key (a ZITADEL key file is for ZITADEL's presets).
    let auth0_pem = data("rsa2048.pkcs8.pem");
    let auth0_key = auth0_pem.to_str().unwrap();
    let n = NOW.to_string();
    // ZITADEL service user: at most one hour.
    let e = fails(&[
        "sign",
        "--key",
        k,
        "--audience",
        "https://i",
        "--lifetime",
        "3601",
        "--now",
        &n,
    ]);
    assert!(
        e.contains("claims: ZITADEL assertions live at most one hour"),
        "{e}"
    );
    // Auth0: at most five minutes, and a jti by default.
    let e = fails(&[
        "sign",
        "--key",
        auth0_key,
        "--issuer",
        "client-1",
        "--preset",
        "auth0",
        "--audience",
        "https://t/oauth/token",
        "--lifetime",
        "301",
        "--now",
        &n,
    ]);
    assert!(
        e.contains("claims: Auth0 client assertions live at most five minutes"),
        "{e}"
    );
    let jwt = ok(&[
        "sign",
        "--key",
        auth0_key,
        "--issuer",
        "client-1",
        "--preset",
        "auth0",
        "--audience",
        "https://t/oauth/token",
        "--now",
        &n,
    ]);
    let c = part(&jwt, 1);
    assert_eq!(c["exp"].as_u64().unwrap() - c["iat"].as_u64().unwrap(), 300);
    assert!(c["jti"].as_str().unwrap().len() >= 16, "{c}");
    let jwt2 = ok(&[
        "sign",
        "--key",
        auth0_key,
        "--issuer",
        "client-1",
        "--preset",
        "auth0",
        "--audience",
        "https://t/oauth/token",
        "--now",
        &n,
    ]);
    assert_ne!(part(&jwt2, 1)["jti"], c["jti"]);
    // System API: one hour from now (backdated).
    let jwt = ok(&[
        "sign",
        "--key",
        k,
        "--preset",
        "zitadel-system",
        "--issuer",
        "system-user-1",
        "--audience",
        "http://localhost:8080",
        "--now",
        &n,
    ]);
    let c = part(&jwt, 1);
    assert_eq!(c["iss"], "system-user-1");
    assert_eq!(c["sub"], "system-user-1");
    assert_eq!(c["aud"], "http://localhost:8080");
    assert_eq!(c["iat"], NOW - 5);
    assert_eq!(c["exp"], NOW - 5 + 3600);
    // Missing audience is a clear error.
    let e = fails(&["sign", "--key", k, "--now", &n]);
    assert!(e.contains("--audience is required"), "{e}");
    // --subject is for the plain preset only.
    let e = fails(&[
        "sign",
        "--key",
        k,
        "--audience",
        "https://i",
        "--subject",
        "x",
        "--now",
        &n,
    ]);
    assert!(e.contains("plain preset only"), "{e}");
}

#[test]
fn generated_keys_sign_and_verify_with_extra_claims() {
    for (kty, crv, alg) in [
        ("ec", "P-256", "ES256"),
        ("ec", "P-384", "ES384"),
        ("okp", "Ed25519", "EdDSA"),
    ] {
        let private = tmp(&format!("gen-{alg}.jwk"));
        ok(&[
            "jwk",
            "--generate",
            kty,
            "--crv",
            crv,
            "--alg",
            alg,
            "--kid",
            "gen-1",
            "--include-private",
            "--output",
            private.to_str().unwrap(),
        ]);
        let jwk: Value = serde_json::from_str(&std::fs::read_to_string(&private).unwrap()).unwrap();
        assert_eq!(jwk["use"], "sig");
        assert!(jwk["d"].is_string());
        let public = tmp(&format!("gen-{alg}.pub.jwk"));
        ok(&[
            "jwk",
            "--json",
            &format!("@{}", private.display()),
            "--output",
            public.to_str().unwrap(),
        ]);
        let pub_jwk: Value =
            serde_json::from_str(&std::fs::read_to_string(&public).unwrap()).unwrap();
        assert!(pub_jwk.get("d").is_none(), "{pub_jwk}");
        assert_eq!(pub_jwk["x"], jwk["x"]);
        let jwt = ok(&[
            "sign",
            "--key",
            private.to_str().unwrap(),
            "--issuer",
            "dev-1",
            "--audience",
            "api",
            "--claim",
            "n=7",
            "--claim",
            "ok=true",
            "--claim",
            "s=\"quoted\" \\ text",
            "--now",
            &NOW.to_string(),
        ]);
        assert_eq!(part(&jwt, 0)["alg"], alg);
        assert_eq!(part(&jwt, 0)["kid"], "gen-1");
        let c = part(&jwt, 1);
        assert_eq!(c["n"], 7);
        assert_eq!(c["ok"], true);
        assert_eq!(c["s"], "\"quoted\" \\ text");
        let v = verify(&public, "dev-1", "api", NOW, &jwt);
        assert!(
            v.status.success(),
            "{alg}: {}",
            String::from_utf8_lossy(&v.stderr)
        );
        // A different key does not verify it. A key pair is never generated without its
        // private half: the public JWK is derived from the private one.
        let e = fails(&["jwk", "--generate", kty, "--crv", crv]);
        assert!(e.contains("add --include-private"), "{e}");
        let other_private = tmp(&format!("other-{alg}.private.jwk"));
        ok(&[
            "jwk",
            "--generate",
            kty,
            "--crv",
            crv,
            "--alg",
            alg,
            "--kid",
            "gen-1",
            "--include-private",
            "--output",
            other_private.to_str().unwrap(),
        ]);
        let other = tmp(&format!("other-{alg}.jwk"));
        ok(&[
            "jwk",
            "--json",
            &format!("@{}", other_private.display()),
            "--output",
            other.to_str().unwrap(),
        ]);
        let public: Value =
            serde_json::from_str(&std::fs::read_to_string(&other).unwrap()).unwrap();
        assert!(public.get("d").is_none(), "{public}");
        let v = verify(&other, "dev-1", "api", NOW, &jwt);
        assert_eq!(v.status.code(), Some(1));
        assert!(
            String::from_utf8_lossy(&v.stderr).contains("bad_signature"),
            "{}",
            String::from_utf8_lossy(&v.stderr)
        );
    }
}

#[test]
fn jwk_from_pem_der_and_certificates() {
    // Private PEM: public members only unless asked.
    let j: Value = serde_json::from_str(&ok(&[
        "jwk",
        "--private-key",
        data("rsa2048.pkcs1.pem").to_str().unwrap(),
    ]))
    .unwrap();
    assert_eq!(j["kty"], "RSA");
    assert_eq!(j["e"], "AQAB");
    assert!(j.get("d").is_none() && j.get("p").is_none());
    let jp: Value = serde_json::from_str(&ok(&[
        "jwk",
        "--private-key",
        data("rsa2048.pkcs8.der").to_str().unwrap(),
        "--include-private",
    ]))
    .unwrap();
    assert_eq!(jp["n"], j["n"]);
    for m in ["d", "p", "q", "dp", "dq", "qi"] {
        assert!(jp[m].is_string(), "{m}");
    }
    // SPKI and the certificate of the same key give the same JWK.
    let spki: Value = serde_json::from_str(&ok(&[
        "jwk",
        "--public-key",
        data("p256.spki.pem").to_str().unwrap(),
    ]))
    .unwrap();
    let cert: Value = serde_json::from_str(&ok(&[
        "jwk",
        "--cert",
        data("p256.cert.der").to_str().unwrap(),
    ]))
    .unwrap();
    let sec1: Value = serde_json::from_str(&ok(&[
        "jwk",
        "--private-key",
        data("p256.sec1.pem").to_str().unwrap(),
    ]))
    .unwrap();
    assert_eq!(spki, cert);
    assert_eq!(spki, sec1);
    assert_eq!(spki["crv"], "P-256");
    let ed: Value = serde_json::from_str(&ok(&[
        "jwk",
        "--public-key",
        data("ed25519.spki.pem").to_str().unwrap(),
    ]))
    .unwrap();
    assert_eq!(ed["kty"], "OKP");
    assert_eq!(ed["crv"], "Ed25519");
    // A set.
    let set: Value = serde_json::from_str(&ok(&[
        "jwk",
        "--cert",
        data("rsa2048.cert.pem").to_str().unwrap(),
        "--set",
    ]))
    .unwrap();
    assert_eq!(set["keys"][0]["kty"], "RSA");
}

#[test]
fn jwk_use_and_alg_follow_rfc7518() {
    let rsa = data("rsa2048.spki.pem");
    let r = rsa.to_str().unwrap();
    let e = fails(&["jwk", "--public-key", r, "--alg", "RSA"]);
    assert!(e.contains("\"RSA\" is a key type, not an algorithm"), "{e}");
    let e = fails(&["jwk", "--public-key", r, "--alg", "ES256"]);
    assert!(e.contains("alg ES256 does not fit an RSA key"), "{e}");
    let e = fails(&["jwk", "--public-key", r, "--alg", "rs256"]);
    assert!(e.contains("case-sensitive; did you mean RS256?"), "{e}");
    let e = fails(&[
        "jwk",
        "--generate",
        "oct",
        "--include-private",
        "--alg",
        "DIR",
    ]);
    assert!(e.contains("did you mean dir?"), "{e}");
    let ed = data("ed25519.spki.pem");
    let e = fails(&["jwk", "--public-key", ed.to_str().unwrap(), "--use", "enc"]);
    assert!(
        e.contains("an Ed25519 key only signs (RFC 8037 §3.1)"),
        "{e}"
    );
    let e = fails(&[
        "jwk",
        "--generate",
        "EC",
        "--size",
        "256",
        "--include-private",
    ]);
    assert!(e.contains("the curve sets an EC or OKP key's size"), "{e}");
    let e = fails(&[
        "jwk",
        "--generate",
        "RSA",
        "--crv",
        "P-256",
        "--include-private",
    ]);
    assert!(e.contains("only EC and OKP keys have a curve"), "{e}");
    let e = fails(&[
        "jwk",
        "--public-key",
        ed.to_str().unwrap(),
        "--alg",
        "ECDH-ES",
    ]);
    assert!(e.contains("does not fit an OKP key"), "{e}");
    let e = fails(&["jwk", "--public-key", r, "--use", "enc", "--alg", "RS256"]);
    assert!(e.contains("for use enc") && e.contains("RSA-OAEP"), "{e}");
    // An encryption algorithm implies use enc.
    let j: Value =
        serde_json::from_str(&ok(&["jwk", "--public-key", r, "--alg", "RSA-OAEP-256"])).unwrap();
    assert_eq!(j["use"], "enc");
    let j: Value =
        serde_json::from_str(&ok(&["jwk", "--public-key", r, "--alg", "PS256"])).unwrap();
    assert_eq!(j["use"], "sig");
    // EC: the curve must fit.
    let p = data("p256.spki.pem");
    let e = fails(&["jwk", "--public-key", p.to_str().unwrap(), "--alg", "ES384"]);
    assert!(e.contains("needs curve P-384"), "{e}");
    let j: Value = serde_json::from_str(&ok(&[
        "jwk",
        "--public-key",
        p.to_str().unwrap(),
        "--alg",
        "ECDH-ES+A128KW",
    ]))
    .unwrap();
    assert_eq!(j["use"], "enc");
    // oct: secret only when asked; HS* for sig, key wrap for enc.
    let e = fails(&["jwk", "--generate", "oct"]);
    assert!(e.contains("secret"), "{e}");
    let j: Value = serde_json::from_str(&ok(&[
        "jwk",
        "--generate",
        "oct",
        "--include-private",
        "--alg",
        "A256KW",
    ]))
    .unwrap();
    assert_eq!(j["use"], "enc");
    assert_eq!(j["k"].as_str().unwrap().len(), 43);
    // The size follows the algorithm: HMAC keys as long as the hash, key-wrap keys exact.
    for (alg, bits) in [
        ("HS256", 256usize),
        ("HS384", 384),
        ("HS512", 512),
        ("A128KW", 128),
        ("A192GCMKW", 192),
        ("A256KW", 256),
    ] {
        let j: Value = serde_json::from_str(&ok(&[
            "jwk",
            "--generate",
            "oct",
            "--include-private",
            "--alg",
            alg,
        ]))
        .unwrap();
        let k = j["k"].as_str().unwrap();
        assert_eq!(k.len(), (bits / 8 * 4).div_ceil(3), "{alg}: {k}");
    }
    let e = fails(&[
        "jwk",
        "--generate",
        "oct",
        "--include-private",
        "--alg",
        "HS512",
        "--size",
        "256",
    ]);
    assert!(
        e.contains("--size for HS512 must be a multiple of 8 from 512 to 1024 bits"),
        "{e}"
    );
    let e = fails(&[
        "jwk",
        "--generate",
        "oct",
        "--include-private",
        "--alg",
        "A128KW",
        "--size",
        "256",
    ]);
    assert!(e.contains("A128KW keys are exactly 128 bits"), "{e}");
}

#[test]
fn jwk_source_errors_are_clear() {
    let o = run(&["jwk"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("--url"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let set = r#"{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"a","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
                          {"kty":"OKP","crv":"Ed25519","kid":"b","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#;
    let e = fails(&["jwk", "--json", set]);
    assert!(e.contains("holds 2 keys: pick one with --kid"), "{e}");
    let e = fails(&["jwk", "--json", set, "--kid", "zz"]);
    assert!(e.contains("no key with kid \"zz\""), "{e}");
    let j: Value = serde_json::from_str(&ok(&["jwk", "--json", set, "--kid", "b"])).unwrap();
    assert_eq!(j["kid"], "b");
    let e = fails(&["jwk", "--private-key", "/nonexistent/key.pem"]);
    assert!(e.contains("reading /nonexistent/key.pem"), "{e}");
}

/// A one-shot HTTP server on loopback answering every request with `body`.
fn serve(body: Vec<u8>, requests: usize) -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        for _ in 0..requests {
            let (mut s, _) = l.accept().unwrap();
            let mut req = [0u8; 4096];
            let _ = s.read(&mut req);
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nCache-Control: max-age=300\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = s.write_all(head.as_bytes());
            let _ = s.write_all(&body);
        }
    });
    format!("http://{addr}/jwks.json")
}

#[test]
fn jwk_from_url_with_limits() {
    let set = br#"{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"a","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#;
    let url = serve(set.to_vec(), 2);
    let j: Value = serde_json::from_str(&ok(&["jwk", "--url", &url])).unwrap();
    assert_eq!(j["kid"], "a");
    let e = fails(&["jwk", "--url", &url, "--max-size", "50"]);
    assert!(e.contains("response larger than 50 bytes"), "{e}");
    // Nothing listening: a fetch failure, quickly.
    let dead = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let e = fails(&[
        "jwk",
        "--url",
        &format!("http://{dead}/jwks.json"),
        "--connect-timeout",
        "1",
    ]);
    assert!(e.contains("fetching http://"), "{e}");
}

/// ES512 (P-521), ES256K (secp256k1) and `Ed25519` (RFC 9864) from PEM keys: `sign --alg`
/// names the algorithm in the header, `jwk --private-key ... --alg` publishes the key, and
/// `verify` accepts the token under it.
#[test]
fn es512_es256k_and_ed25519_sign_and_verify() {
    for (file, alg) in [
        ("p521.pkcs8.pem", "ES512"),
        ("secp256k1.pkcs8.pem", "ES256K"),
        ("ed25519.pkcs8.pem", "Ed25519"),
    ] {
        let key = data(file);
        let jwt = ok(&[
            "sign",
            "--key",
            key.to_str().unwrap(),
            "--alg",
            alg,
            "--kid",
            "k-1",
            "--issuer",
            "dev-1",
            "--audience",
            "api",
            "--now",
            &NOW.to_string(),
        ]);
        assert_eq!(part(&jwt, 0)["alg"], alg, "{file}");
        let jwks = tmp(&format!("new-{alg}.jwks"));
        ok(&[
            "jwk",
            "--private-key",
            key.to_str().unwrap(),
            "--alg",
            alg,
            "--kid",
            "k-1",
            "--set",
            "--output",
            jwks.to_str().unwrap(),
        ]);
        let set: Value = serde_json::from_str(&std::fs::read_to_string(&jwks).unwrap()).unwrap();
        assert_eq!(set["keys"][0]["alg"], alg, "{set}");
        let v = verify(&jwks, "dev-1", "api", NOW, &jwt);
        assert!(
            v.status.success(),
            "{alg}: {}",
            String::from_utf8_lossy(&v.stderr)
        );
    }
}

/// Auth0-shaped tokens: an `aud` array and any JSON claim value (`permissions`), with the
/// rule for `--claim` values.
#[test]
fn sign_mints_aud_arrays_and_json_claims() {
    let key = data("rsa2048.pkcs8.pem");
    let jwt = ok(&[
        "sign",
        "--key",
        key.to_str().unwrap(),
        "--issuer",
        "https://tenant.auth0.com/",
        "--audience",
        "https://api.example.com",
        "--audience",
        "https://tenant.auth0.com/userinfo",
        "--claim",
        r#"permissions=["read:messages","write:messages"]"#,
        "--claim",
        r#"ctx={"n":null,"f":1.5}"#,
        "--claim",
        "ratio=0.25",
        "--claim",
        "gone=null",
        "--claim",
        r#"quoted="42""#,
        "--claim",
        "n=42",
        "--claim",
        "scope=read write",
        "--claim",
        "gty=client-credentials",
        "--now",
        "1700000000",
    ]);
    let c = part(&jwt, 1);
    assert_eq!(
        c["aud"],
        serde_json::json!([
            "https://api.example.com",
            "https://tenant.auth0.com/userinfo"
        ])
    );
    assert_eq!(
        c["permissions"],
        serde_json::json!(["read:messages", "write:messages"])
    );
    assert_eq!(c["ctx"], serde_json::json!({"n": null, "f": 1.5}));
    assert_eq!(c["ratio"], serde_json::json!(0.25));
    assert!(c["gone"].is_null() && c.get("gone").is_some());
    assert_eq!(c["quoted"], "42");
    assert_eq!(c["n"], 42);
    assert_eq!(c["scope"], "read write");
    assert_eq!(c["gty"], "client-credentials");
}

/// Values a provider would refuse are refused when minting, with the flag named.
#[test]
fn sign_refuses_what_providers_refuse() {
    let key = data("p256.pkcs8.pem");
    let k = key.to_str().unwrap();
    let base = ["sign", "--key", k, "--issuer", "dev"];
    fn with<'a>(base: &[&'a str], extra: &[&'a str]) -> Vec<&'a str> {
        base.iter().chain(extra).copied().collect()
    }
    for (extra, want) in [
        (&["--audience", ""][..], "--audience is empty"),
        (
            &["--audience", "a", "--claim", "big=1e999"][..],
            "--claim big=1e999: not a number JSON can carry",
        ),
        (&[][..], "--audience is required"),
        (&["--audience", "a", "--kid", ""][..], "--kid is empty"),
        (&["--audience", "a", "--typ", ""][..], "--typ is empty"),
        (
            &["--audience", "a", "--lifetime", "0"][..],
            "--lifetime 0: a token would expire",
        ),
        (
            &["--audience", "a", "--lifetime", "60", "--backdate", "60"][..],
            "--backdate 60 is at least the lifetime (60 s)",
        ),
        (
            &["--audience", "a", "--now", "18446744073709551615"][..],
            "is after 9999-12-31",
        ),
        (
            &["--audience", "a", "--preset", "auth0", "--audience", "b"][..],
            "--preset auth0 takes one --audience",
        ),
        (
            &[
                "--audience",
                "https://i.example",
                "--preset",
                "zitadel-system",
                "--lifetime",
                "7200",
            ][..],
            "at most one hour",
        ),
    ] {
        let e = fails(&with(&base, extra));
        assert!(e.contains(want), "{extra:?}: {e}");
    }
    // The System API preset honours a shorter lifetime.
    let jwt = ok(&with(
        &base,
        &[
            "--audience",
            "https://i.example",
            "--preset",
            "zitadel-system",
            "--lifetime",
            "600",
            "--backdate",
            "0",
        ],
    ));
    let c = part(&jwt, 1);
    assert_eq!(c["exp"].as_u64().unwrap() - c["iat"].as_u64().unwrap(), 600);
    // A key file's type decides the presets it can sign for; --issuer over its id warns.
    let user = data("zitadel-serviceaccount.json");
    let e = fails(&[
        "sign",
        "--key",
        user.to_str().unwrap(),
        "--preset",
        "zitadel-app",
        "--audience",
        "https://i.example",
    ]);
    assert!(
        e.contains("type serviceaccount) signs with --preset zitadel-user, not zitadel-app"),
        "{e}"
    );
    let o = run(&[
        "sign",
        "--key",
        user.to_str().unwrap(),
        "--audience",
        "https://i.example",
        "--issuer",
        "someone-else",
    ]);
    assert!(o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr)
            .contains("warning: --issuer \"someone-else\" overrides the id"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// RFC 7638 §3.1: the example RSA key's thumbprint, printed and used as the kid.
#[test]
fn jwk_thumbprint_is_rfc7638() {
    let jwk = r#"{"kty":"RSA","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw","e":"AQAB","alg":"RS256","kid":"2011-04-29"}"#;
    assert_eq!(
        ok(&["jwk", "--json", jwk, "--thumbprint"]),
        "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs\n"
    );
    let j: Value = serde_json::from_str(&ok(&[
        "jwk",
        "--public-key",
        data("rsa2048.spki.pem").to_str().unwrap(),
        "--kid",
        "thumbprint",
    ]))
    .unwrap();
    let tp = ok(&[
        "jwk",
        "--public-key",
        data("rsa2048.spki.pem").to_str().unwrap(),
        "--thumbprint",
    ]);
    assert_eq!(j["kid"].as_str().unwrap(), tp.trim());
    assert_eq!(tp.trim().len(), 43);
    // sign --kid thumbprint computes the same kid from the private key.
    let jwt = ok(&[
        "sign",
        "--key",
        data("rsa2048.pkcs8.pem").to_str().unwrap(),
        "--kid",
        "thumbprint",
        "--issuer",
        "i",
        "--audience",
        "a",
    ]);
    assert_eq!(part(&jwt, 0)["kid"].as_str().unwrap(), tp.trim());
}

/// `jwk --json` imports the key the way `verify` does: nothing unusable comes out with exit 0.
#[test]
fn jwk_json_validates_like_verify() {
    let good = r#"{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}"#;
    let j: Value = serde_json::from_str(&ok(&["jwk", "--json", good])).unwrap();
    assert_eq!(j["crv"], "P-256");
    // The same point with y changed is off the curve.
    let off = good.replace("x_FEzRu9m36HLN", "x_FEzRu9m36HLM");
    for (doc, want) in [
        (r#"{"kty":"FOO"}"#.to_owned(), "unknown key type \"FOO\""),
        (
            r#"{"kty":"RSA","n":"not base64!","e":"AQAB"}"#.to_owned(),
            "key refused",
        ),
        (
            r#"{"kty":"RSA","n":"AQAB","e":"AQAB"}"#.to_owned(),
            "key refused",
        ),
        (off, "key refused"),
        (r#"{"kty":"oct","k":"AQID"}"#.to_owned(), "key refused"),
        (
            good.replace(r#""kty""#, r#""use":"enc","alg":"RS256","kty""#),
            "the JWK's own use and alg",
        ),
    ] {
        let e = fails(&["jwk", "--json", &doc]);
        assert!(e.contains(want), "{doc}: {e}");
    }
}

/// A file that is not the private key a command wanted says what it is instead.
#[test]
fn wrong_key_files_say_what_they_hold() {
    let pem = std::fs::read_to_string(data("p256.pkcs8.pem")).unwrap();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty.pem", vec![], "is empty: a private key (PEM or DER) was expected"),
        (
            "bom.pem",
            [&[0xEF, 0xBB, 0xBF][..], pem.as_bytes()].concat(),
            "starts with a UTF-8 byte order mark",
        ),
        (
            "cert.pem",
            std::fs::read(data("rsa2048.cert.pem")).unwrap(),
            "holds a certificate: signing needs the private key",
        ),
        (
            "public.pem",
            std::fs::read(data("p256.spki.pem")).unwrap(),
            "holds a public key: signing needs the private key",
        ),
        (
            "escaped.pem",
            pem.trim().replace('\n', "\\n").into_bytes(),
            "line breaks written as the two characters \\n",
        ),
        (
            "encrypted.pem",
            b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n".to_vec(),
            "is an encrypted PKCS#8 key: give its password with --password-env VAR",
        ),
        (
            "traditional.pem",
            b"-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nMIIB\n-----END RSA PRIVATE KEY-----\n".to_vec(),
            "traditional encrypted PEM (Proc-Type: 4,ENCRYPTED): convert it with `openssl pkey",
        ),
    ];
    for (name, bytes, want) in cases {
        let path = tmp(name);
        std::fs::write(&path, &bytes).unwrap();
        let p = path.to_str().unwrap();
        let e = fails(&["sign", "--key", p, "--issuer", "i", "--audience", "a"]);
        assert!(e.contains(want), "sign {name}: {e}");
        let e = fails(&["jwk", "--private-key", p]);
        assert!(e.contains(want), "jwk {name}: {e}");
    }
    // jwk --private-key takes a ZITADEL key file, its keyId as the kid.
    let kf = key_file("zitadel-serviceaccount.json");
    let j: Value = serde_json::from_str(&ok(&[
        "jwk",
        "--private-key",
        data("zitadel-serviceaccount.json").to_str().unwrap(),
    ]))
    .unwrap();
    assert_eq!(j["kid"], kf["keyId"]);
    assert_eq!(j["kty"], "RSA");
    assert!(j.get("d").is_none());
}

/// An `oct` JWK without `alg` signs with `--alg` (verify takes the same key); a short secret
/// is reported as short, with the remedy.
#[test]
fn oct_keys_without_alg_sign_with_the_flag() {
    let k = tokenguard_tests::b64(&[7u8; 32]);
    let key = tmp("oct-no-alg.json");
    std::fs::write(&key, format!(r#"{{"kty":"oct","kid":"o","k":"{k}"}}"#)).unwrap();
    let jwt = ok(&[
        "sign",
        "--key",
        key.to_str().unwrap(),
        "--alg",
        "HS256",
        "--issuer",
        "i",
        "--audience",
        "a",
    ]);
    assert_eq!(part(&jwt, 0)["alg"], "HS256");
    let v = bin()
        .args([
            "verify",
            "--jwks",
            key.to_str().unwrap(),
            "--iss",
            "i",
            "--aud",
            "a",
            jwt.trim(),
        ])
        .output()
        .unwrap();
    assert_eq!(
        v.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&v.stderr)
    );
    let e = fails(&[
        "sign",
        "--key",
        key.to_str().unwrap(),
        "--issuer",
        "i",
        "--audience",
        "a",
    ]);
    assert!(
        e.contains("an oct key without \"alg\": name the algorithm with --alg"),
        "{e}"
    );
    let short = tmp("oct-short.json");
    std::fs::write(&short, r#"{"kty":"oct","alg":"HS256","k":"c2VjcmV0"}"#).unwrap();
    let e = fails(&[
        "sign",
        "--key",
        short.to_str().unwrap(),
        "--issuer",
        "i",
        "--audience",
        "a",
    ]);
    assert!(
        e.contains("symmetric key shorter") && e.contains("HS256 needs at least 32 bytes"),
        "{e}"
    );
}

/// A shared secret (Auth0's HS256 signing secret) as an `oct` JWK, in each spelling, checked
/// for length as verify checks it; and the token it signs verifies.
#[test]
fn jwk_from_a_shared_secret() {
    let secret = "a-long-auth0-signing-secret-of-40-chars!";
    let run_env = |args: &[&str]| {
        bin()
            .env("TG_SECRET", secret)
            .env(
                "TG_SECRET_HEX",
                "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
            )
            .env(
                "TG_SECRET_B64",
                "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
            )
            .args(args)
            .output()
            .unwrap()
    };
    let o = run_env(&[
        "jwk",
        "--secret-env",
        "TG_SECRET",
        "--alg",
        "HS256",
        "--kid",
        "auth0",
        "--include-private",
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let j: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["k"], tokenguard_tests::b64(secret.as_bytes()));
    assert_eq!(
        (j["kty"].as_str(), j["alg"].as_str()),
        (Some("oct"), Some("HS256"))
    );
    for var in ["TG_SECRET_HEX", "TG_SECRET_B64"] {
        let enc = if var.ends_with("HEX") {
            "hex"
        } else {
            "base64"
        };
        let o = run_env(&[
            "jwk",
            "--secret-env",
            var,
            "--secret-encoding",
            enc,
            "--include-private",
        ]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        let j: Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(
            j["k"], "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
            "{enc}"
        );
    }
    let o = run_env(&[
        "jwk",
        "--secret-env",
        "TG_SECRET",
        "--alg",
        "HS512",
        "--include-private",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("the secret (40 bytes) is refused"));
    let o = run_env(&["jwk", "--secret-env", "TG_SECRET"]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "a secret is printed only with --include-private"
    );
    // The JWK from a file signs and verifies (the file's final newline is not the secret's).
    let file = tmp("auth0-secret.txt");
    std::fs::write(&file, format!("{secret}\n")).unwrap();
    let jwk = tmp("auth0-secret.jwk");
    ok(&[
        "jwk",
        "--secret-file",
        file.to_str().unwrap(),
        "--alg",
        "HS256",
        "--include-private",
        "--output",
        jwk.to_str().unwrap(),
    ]);
    let j: Value = serde_json::from_str(&std::fs::read_to_string(&jwk).unwrap()).unwrap();
    assert_eq!(j["k"], tokenguard_tests::b64(secret.as_bytes()));
    let jwt = ok(&[
        "sign",
        "--key",
        jwk.to_str().unwrap(),
        "--issuer",
        "https://t.auth0.com/",
        "--audience",
        "api",
    ]);
    let v = bin()
        .args([
            "verify",
            "--jwks",
            jwk.to_str().unwrap(),
            "--iss",
            "https://t.auth0.com/",
            "--aud",
            "api",
            jwt.trim(),
        ])
        .output()
        .unwrap();
    assert_eq!(
        v.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&v.stderr)
    );
}

/// A PEM bundle given to `jwk --cert`: the leaf's key, and a note that says so; `--x5c`
/// publishes the whole chain, leaf first.
#[test]
fn jwk_cert_bundles_take_the_leaf_and_say_so() {
    let leaf = std::fs::read_to_string(data("rsa2048.cert.pem")).unwrap();
    let other = std::fs::read_to_string(data("p256.cert.pem")).unwrap();
    let bundle = tmp("bundle.pem");
    std::fs::write(&bundle, format!("{leaf}{other}")).unwrap();
    let o = run(&["jwk", "--cert", bundle.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("holds 2 certificates: the JWK is the first one's key (the leaf); --x5c publishes the chain"),
        "{err}"
    );
    let j: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["kty"], "RSA");
    let j: Value =
        serde_json::from_str(&ok(&["jwk", "--cert", bundle.to_str().unwrap(), "--x5c"])).unwrap();
    let x5c = j["x5c"].as_array().unwrap();
    assert_eq!(x5c.len(), 2);
    let first_line = leaf.lines().nth(1).unwrap();
    assert!(
        x5c[0].as_str().unwrap().starts_with(first_line),
        "the leaf comes first"
    );
    // No chain for a lone public key.
    let e = fails(&[
        "jwk",
        "--public-key",
        data("rsa2048.spki.pem").to_str().unwrap(),
        "--x5c",
    ]);
    assert!(e.contains("--x5c needs a certificate"), "{e}");
}

/// The HS512 key `jwk --generate` makes (512 bits) is one `sign` takes.
#[test]
fn generated_hs512_keys_sign() {
    let key = tmp("hs512.jwk");
    ok(&[
        "jwk",
        "--generate",
        "oct",
        "--include-private",
        "--alg",
        "HS512",
        "--output",
        key.to_str().unwrap(),
    ]);
    let jwt = ok(&[
        "sign",
        "--key",
        key.to_str().unwrap(),
        "--issuer",
        "i",
        "--audience",
        "a",
    ]);
    assert_eq!(part(&jwt, 0)["alg"], "HS512");
}
