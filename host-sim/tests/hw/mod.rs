//! What the hardware-key tests (`pkcs11.rs`, `tpm.rs`) share: running the CLI, checking a
//! refusal, the Python peers' verification and the JWT-bearer grant at the mock IdP.
#![allow(dead_code)] // each test file uses its part

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use tokenguard_sim::idp::{self, ClientKind, Idp, IdpConfig, JWT_BEARER};
use tokenguard_tests::peers;

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Runs `tokenguard-sim` with `args` and extra environment (the TSS libraries' own logging
/// off).
pub fn sim(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tokenguard-sim"));
    c.args(args);
    c.env("TSS2_LOG", "all+NONE");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

/// Standard output of a command that must succeed.
pub fn ok(o: &Output, what: &str) -> String {
    assert!(
        o.status.success(),
        "{what}: exit {:?}: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout.clone()).unwrap()
}

/// A refusal: exit 2, `message` on standard error, no panic and no token.
pub fn refused(o: &Output, what: &str, message: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{what}: {err}");
    assert!(
        err.contains(message),
        "{what}: expected {message:?} in: {err}"
    );
    assert!(!err.contains("panicked"), "{what}: {err}");
    assert!(o.stdout.is_empty(), "{what}: no token on a refusal");
}

/// A JWS header's members.
pub fn header(token: &str) -> Value {
    let h = token.split('.').next().unwrap();
    let mut buf = vec![0u8; h.len()];
    let n = tokenguard::b64::decode(h.as_bytes(), &mut buf).unwrap();
    serde_json::from_slice(&buf[..n]).unwrap()
}

/// An assertion a hardware key minted, with the JWK Set `jwk --key` exported.
pub struct Minted {
    pub jwks: String,
    pub token: String,
    pub iss: String,
    pub aud: String,
    pub alg: String,
}

/// The presets, each with an issuer and an audience.
pub const PRESETS: [(&str, &str, &str); 4] = [
    (
        "zitadel-user",
        "318438939318438939",
        "https://zitadel.example",
    ),
    ("zitadel-app", "app-1", "https://zitadel.example"),
    (
        "zitadel-system",
        "system-user",
        "https://zitadel.example:8443",
    ),
    ("auth0", "client-1", "https://tenant.example/oauth/token"),
];

/// Exports the public JWK Set of the hardware key `key_args` names (`--key ... --alg ALG`
/// and any `--pin-env`) into `dir/NAME.jwks`, then mints an assertion with every preset and
/// checks each: the header names the exported key and `alg`, the signature has the
/// algorithm's length (`sig_len`), and `tokenguard-sim verify` accepts it with that set.
pub fn mint_every_preset(
    dir: &Path,
    name: &str,
    key_args: &[&str],
    env: &[(&str, &str)],
    alg: &str,
    sig_len: usize,
) -> Vec<Minted> {
    let jwks_path = dir.join(format!("{name}.jwks"));
    let mut args = vec!["jwk", "--set", "--output", jwks_path.to_str().unwrap()];
    args.extend(key_args);
    assert_eq!(ok(&sim(&args, env), &format!("jwk {name}")), "");
    let jwks = std::fs::read_to_string(&jwks_path).unwrap();
    let set: Value = serde_json::from_str(&jwks).unwrap();
    let jwk = &set["keys"][0];
    assert_eq!(jwk["alg"], alg, "{name}");
    assert!(jwk.get("d").is_none(), "no private member in {jwk}");
    let kid = jwk["kid"].as_str().unwrap().to_owned();
    let mut minted = vec![];
    for (preset, who, aud) in PRESETS {
        let what = format!("{name} {alg} {preset}");
        let mut args = vec![
            "sign",
            "--preset",
            preset,
            "--issuer",
            who,
            "--audience",
            aud,
        ];
        args.extend(key_args);
        let token = ok(&sim(&args, env), &format!("sign {what}"))
            .trim()
            .to_owned();
        let h = header(&token);
        assert_eq!(
            (h["kid"].as_str(), h["alg"].as_str()),
            (Some(kid.as_str()), Some(alg))
        );
        let s = token.rsplit('.').next().unwrap();
        let mut buf = vec![0u8; s.len()];
        let n = tokenguard::b64::decode(s.as_bytes(), &mut buf).unwrap();
        assert_eq!(n, sig_len, "{what}: the signature's length");
        let claims = ok(
            &sim(
                &[
                    "verify",
                    "--jwks",
                    jwks_path.to_str().unwrap(),
                    "--iss",
                    who,
                    "--aud",
                    aud,
                    &token,
                ],
                &[],
            ),
            &format!("verify {what}"),
        );
        let c: Value = serde_json::from_str(claims.trim()).unwrap();
        assert_eq!(
            (c["iss"].as_str(), c["sub"].as_str()),
            (Some(who), Some(who)),
            "{what}"
        );
        minted.push(Minted {
            jwks: jwks.clone(),
            token,
            iss: who.into(),
            aud: aud.into(),
            alg: alg.into(),
        });
    }
    minted
}

/// Every assertion, verified by each interop peer (PyJWT, jwcrypto, node `jose`) with the
/// exported JWK Set, through the peers' verify contract (peers/README.md). Without the peers
/// (`peers/install.sh`) the check is skipped with a message, unless `required` names the
/// variable that requires it.
pub fn verify_with_peers(minted: &[Minted], required: Option<&str>) {
    if peers::installed().is_none() {
        let why = "the interop peers (PyJWT, jwcrypto, jose) are not installed (peers/install.sh): their check is skipped";
        if let Some(var) = required {
            panic!("{why}, but {var}=1");
        }
        eprintln!("{why}");
        return;
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let cases: Vec<Value> = minted
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let set: Value = serde_json::from_str(&m.jwks).unwrap();
            serde_json::json!({"name": i.to_string(), "token": m.token, "jwk": set["keys"][0],
                "alg": m.alg, "iss": m.iss, "aud": m.aud, "sub": m.iss, "now": now,
                "require": [], "leeway": 0})
        })
        .collect();
    for peer in peers::ALL {
        let out = peers::run(peer, "verify", &serde_json::json!({ "cases": cases }));
        let results = out["results"].as_array().unwrap();
        assert_eq!(results.len(), minted.len(), "{peer}");
        for (r, m) in results.iter().zip(minted) {
            assert_eq!(r["ok"], true, "{peer} {} {}: {}", m.alg, m.iss, r["error"]);
        }
    }
}

/// The demo's ZITADEL flow with the key in hardware: the mock IdP knows the service user by
/// the public JWK `jwk --key` exported, the device mints with `sign --key`, and the
/// JWT-bearer grant gives an access token. `auth` is the `--pin-env` arguments and variable.
pub fn jwt_bearer_grant(key: &str, auth: &[&str], env: &[(&str, &str)]) {
    let mut args = vec!["jwk", "--key", key];
    args.extend(auth);
    let jwk = ok(&sim(&args, env), "jwk");
    let idp = Idp::start("127.0.0.1:0", IdpConfig::default()).unwrap();
    idp.with(|s| s.register("hw-user", ClientKind::ServiceUser, jwk.trim()))
        .unwrap()
        .unwrap();
    let mut args = vec![
        "sign",
        "--key",
        key,
        "--preset",
        "zitadel-user",
        "--issuer",
        "hw-user",
        "--audience",
        &idp.url,
    ];
    args.extend(auth);
    let assertion = ok(&sim(&args, env), "sign for the grant");
    let (status, body) = idp::post_form(
        &idp::agent(),
        &format!("{}/oauth/v2/token", idp.url),
        &[("grant_type", JWT_BEARER), ("assertion", assertion.trim())],
    )
    .unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(
        body["access_token"].as_str().is_some_and(|t| !t.is_empty()),
        "{body}"
    );
}
