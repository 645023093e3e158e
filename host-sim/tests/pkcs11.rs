//! Keys in a PKCS#11 token: SoftHSM v2 (Debian `softhsm2`), as rust-cryptoki's own CI tests.
//! A token in a temporary directory, initialised by `softhsm2-util`; key pairs generated
//! inside it through PKCS#11 (sensitive, not extractable); `tokenguard-sim jwk --key pkcs11:`
//! and `sign --key pkcs11:` with every preset and algorithm, each assertion verified by
//! tokenguard and, when the Python peers are installed (`peers/install.sh`), by PyJWT and
//! jwcrypto; the documented errors; and the JWT-bearer grant at the mock IdP with the key in
//! the token.
//!
//! Without SoftHSM the test says so and passes, unless `TOKENGUARD_REQUIRE_HSM=1` (what
//! `cargo xtask ci` sets after installing it), which also requires the Python peers.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::Attribute;
use cryptoki::session::UserType;
use cryptoki::types::AuthPin;
use serde_json::Value;
use tokenguard_sim::idp::{self, ClientKind, Idp, IdpConfig, JWT_BEARER};

const PIN: &str = "5678";
const TOKEN: &str = "tg-test";
const MODULES: [&str; 2] = [
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
];

fn required() -> bool {
    std::env::var("TOKENGUARD_REQUIRE_HSM").is_ok_and(|v| v == "1")
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A SoftHSM token directory of this test run, or `None` (with the reason printed) when
/// SoftHSM is not installed.
fn softhsm() -> Option<(PathBuf, String)> {
    let module = MODULES.iter().find(|m| Path::new(m).exists());
    let util = Command::new("softhsm2-util").arg("--version").output();
    let (Some(module), Ok(_)) = (module, util) else {
        let why = "SoftHSM v2 is not installed (Debian package softhsm2): PKCS#11 tests skipped";
        assert!(!required(), "{why}, but TOKENGUARD_REQUIRE_HSM=1");
        eprintln!("{why}");
        return None;
    };
    let dir = repo().join(format!("target/tmp/softhsm-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("tokens")).unwrap();
    let conf = dir.join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
            dir.join("tokens").display()
        ),
    )
    .unwrap();
    // The process environment is this test's own (one #[test] in this file).
    std::env::set_var("SOFTHSM2_CONF", &conf);
    let out = Command::new("softhsm2-util")
        .args([
            "--init-token",
            "--free",
            "--label",
            TOKEN,
            "--so-pin",
            "1234",
            "--pin",
            PIN,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "softhsm2-util: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some((dir, (*module).to_owned()))
}

const P256: &[u8] = &[0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07];
const P384: &[u8] = &[0x06, 0x05, 0x2B, 0x81, 0x04, 0x00, 0x22];

/// Generates the test's key pairs inside the token: private halves sensitive and not
/// extractable, as an HSM holds them.
fn generate_keys(module: &str) {
    let ctx = Pkcs11::new(module).unwrap();
    ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
        .unwrap();
    let slot = ctx
        .get_slots_with_token()
        .unwrap()
        .into_iter()
        .find(|s| ctx.get_token_info(*s).unwrap().label().trim_end() == TOKEN)
        .unwrap();
    let session = ctx.open_rw_session(slot).unwrap();
    session
        .login(UserType::User, Some(&AuthPin::new(PIN.into())))
        .unwrap();
    let mut ed_params = vec![0x13, 12];
    ed_params.extend_from_slice(b"edwards25519");
    let keys: [(&str, u8, Mechanism<'_>, Vec<Attribute>, bool); 5] = [
        (
            "ec256",
            1,
            Mechanism::EccKeyPairGen,
            vec![Attribute::EcParams(P256.to_vec())],
            true,
        ),
        (
            "ec384",
            2,
            Mechanism::EccKeyPairGen,
            vec![Attribute::EcParams(P384.to_vec())],
            true,
        ),
        (
            "ed",
            3,
            Mechanism::EccEdwardsKeyPairGen,
            vec![Attribute::EcParams(ed_params)],
            true,
        ),
        (
            "rsa",
            4,
            Mechanism::RsaPkcsKeyPairGen,
            vec![
                Attribute::ModulusBits(2048.into()),
                Attribute::PublicExponent(vec![1, 0, 1]),
            ],
            true,
        ),
        (
            "nosign",
            5,
            Mechanism::RsaPkcsKeyPairGen,
            vec![
                Attribute::ModulusBits(2048.into()),
                Attribute::PublicExponent(vec![1, 0, 1]),
            ],
            false,
        ),
    ];
    for (label, id, mech, extra, sign) in keys {
        let mut public = vec![
            Attribute::Token(true),
            Attribute::Verify(true),
            Attribute::Label(label.into()),
            Attribute::Id(vec![id]),
        ];
        public.extend(extra);
        let private = vec![
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::Sign(sign),
            Attribute::Decrypt(!sign),
            Attribute::Label(label.into()),
            Attribute::Id(vec![id]),
        ];
        session.generate_key_pair(&mech, &public, &private).unwrap();
    }
}

fn sim(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tokenguard-sim"));
    c.args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn ok(o: &Output, what: &str) -> String {
    assert!(
        o.status.success(),
        "{what}: exit {:?}: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn refused(o: &Output, what: &str, message: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{what}: {err}");
    assert!(
        err.contains(message),
        "{what}: expected {message:?} in: {err}"
    );
    assert!(!err.contains("panicked"), "{what}: {err}");
}

struct Minted {
    jwks: String,
    token: String,
    iss: String,
    aud: String,
    alg: String,
}

#[test]
fn keys_in_a_pkcs11_token_sign_every_preset_and_fail_clearly() {
    let Some((dir, module)) = softhsm() else {
        return;
    };
    generate_keys(&module);
    let uri = |object: &str| format!("pkcs11:token={TOKEN};object={object}?module-path={module}");
    let pin_env = [("HSM_PIN", PIN)];
    let presets: [(&str, &str, &str); 4] = [
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
    let mut minted: Vec<Minted> = vec![];
    for (object, alg) in [
        ("ec256", "ES256"),
        ("ec384", "ES384"),
        ("ed", "EdDSA"),
        ("rsa", "RS256"),
        ("rsa", "PS256"),
    ] {
        let jwks_path = dir.join(format!("{object}-{alg}.jwks"));
        let jwks = ok(
            &sim(
                &[
                    "jwk",
                    "--key",
                    &uri(object),
                    "--pin-env",
                    "HSM_PIN",
                    "--alg",
                    alg,
                    "--set",
                    "--output",
                    jwks_path.to_str().unwrap(),
                ],
                &pin_env,
            ),
            "jwk --key pkcs11:",
        );
        assert!(jwks.is_empty());
        let set: Value =
            serde_json::from_str(&std::fs::read_to_string(&jwks_path).unwrap()).unwrap();
        let key = &set["keys"][0];
        assert_eq!(key["alg"], alg, "{object}");
        assert!(key.get("d").is_none(), "no private member in {key}");
        let kid = key["kid"].as_str().unwrap().to_owned();
        for (preset, who, aud) in presets {
            let token = ok(
                &sim(
                    &[
                        "sign",
                        "--key",
                        &uri(object),
                        "--pin-env",
                        "HSM_PIN",
                        "--alg",
                        alg,
                        "--preset",
                        preset,
                        "--issuer",
                        who,
                        "--audience",
                        aud,
                    ],
                    &pin_env,
                ),
                &format!("sign {object} {alg} {preset}"),
            )
            .trim()
            .to_owned();
            // The header names the key the JWK Set publishes.
            let header: Value = {
                let h = token.split('.').next().unwrap();
                let mut buf = vec![0u8; h.len()];
                let n = tokenguard::b64::decode(h.as_bytes(), &mut buf).unwrap();
                serde_json::from_slice(&buf[..n]).unwrap()
            };
            assert_eq!(header["kid"], kid.as_str());
            assert_eq!(header["alg"], alg);
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
                &format!("verify {object} {alg} {preset}"),
            );
            let c: Value = serde_json::from_str(claims.trim()).unwrap();
            assert_eq!(
                (c["iss"].as_str(), c["sub"].as_str()),
                (Some(who), Some(who))
            );
            minted.push(Minted {
                jwks: std::fs::read_to_string(&jwks_path).unwrap(),
                token,
                iss: who.into(),
                aud: aud.into(),
                alg: alg.into(),
            });
        }
    }
    assert_eq!(minted.len(), 20);
    verify_with_python_peers(&dir, &minted);

    // The documented errors, without a panic.
    let base = [
        "sign",
        "--preset",
        "auth0",
        "--issuer",
        "c",
        "--audience",
        "https://t.example/oauth/token",
    ];
    let run = |key: &str, extra: &[&str], env: &[(&str, &str)]| {
        let mut args: Vec<&str> = base.to_vec();
        args.extend(["--key", key]);
        args.extend(extra);
        sim(&args, env)
    };
    refused(
        &run(&uri("rsa"), &["--pin-env", "BAD"], &[("BAD", "0000")]),
        "wrong PIN",
        "wrong PIN for PKCS#11 token \"tg-test\"",
    );
    refused(
        &run(&uri("missing"), &["--pin-env", "HSM_PIN"], &pin_env),
        "missing key",
        "no private key in PKCS#11 token \"tg-test\" matches the URI; the token holds: ",
    );
    refused(
        &run(&uri("missing"), &["--pin-env", "HSM_PIN"], &pin_env),
        "the list names the keys",
        "object=ec256;id=%01",
    );
    refused(
        &run(&uri("rsa"), &[], &[]),
        "no PIN",
        "private keys are visible only after login",
    );
    refused(
        &run(
            &uri("rsa"),
            &["--pin-env", "HSM_PIN", "--alg", "ES256"],
            &pin_env,
        ),
        "key of the wrong type",
        "is an RSA key: it signs RS256/384/512 or PS256/384/512, not ES256",
    );
    refused(
        &run(
            &uri("ec256"),
            &["--pin-env", "HSM_PIN", "--alg", "ES384"],
            &pin_env,
        ),
        "curve of the wrong size",
        "is a P-256 key: it signs ES256, not ES384",
    );
    refused(
        &run(&uri("nosign"), &["--pin-env", "HSM_PIN"], &pin_env),
        "a key that may not sign",
        "may not sign (CKA_SIGN is false)",
    );
    refused(
        &run(
            &format!("pkcs11:token={TOKEN};object=rsa?module-path=/nonexistent/module.so"),
            &["--pin-env", "HSM_PIN"],
            &pin_env,
        ),
        "module not found",
        "PKCS#11 module /nonexistent/module.so: no such file",
    );
    refused(
        &run(
            &format!("pkcs11:token=other;object=rsa?module-path={module}"),
            &["--pin-env", "HSM_PIN"],
            &pin_env,
        ),
        "token not found",
        "no PKCS#11 token matches the URI; the module has: \"tg-test\"",
    );
    refused(
        &run(
            &format!("pkcs11:object=rsa;colour=red?module-path={module}"),
            &[],
            &[],
        ),
        "bad URI",
        "unknown path attribute `colour`",
    );
    refused(
        &run(&uri("rsa"), &["--pin-env", "UNSET_VAR_FOR_TEST"], &[]),
        "unset PIN variable",
        "--pin-env UNSET_VAR_FOR_TEST: the variable is not set",
    );

    jwt_bearer_grant_with_the_key_in_the_token(&uri("ec256"), &pin_env);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The demo's ZITADEL flow with the key in the token: the mock IdP knows the service user by
/// the public JWK `jwk --key` exported, the device mints with `sign --key pkcs11:`, and the
/// JWT-bearer grant gives an access token.
fn jwt_bearer_grant_with_the_key_in_the_token(uri: &str, pin_env: &[(&str, &str)]) {
    let jwk = ok(
        &sim(&["jwk", "--key", uri, "--pin-env", "HSM_PIN"], pin_env),
        "jwk",
    );
    let idp = Idp::start("127.0.0.1:0", IdpConfig::default()).unwrap();
    idp.with(|s| s.register("hsm-user", ClientKind::ServiceUser, jwk.trim()))
        .unwrap()
        .unwrap();
    let assertion = ok(
        &sim(
            &[
                "sign",
                "--key",
                uri,
                "--pin-env",
                "HSM_PIN",
                "--preset",
                "zitadel-user",
                "--issuer",
                "hsm-user",
                "--audience",
                &idp.url,
            ],
            pin_env,
        ),
        "sign for the grant",
    );
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

/// Every assertion, verified by PyJWT and jwcrypto with the exported JWK Set.
fn verify_with_python_peers(dir: &Path, minted: &[Minted]) {
    let peers = repo().join("target/peers/python");
    if !peers.join("jwt").exists() || !peers.join("jwcrypto").exists() {
        let why = "the Python peers (PyJWT, jwcrypto) are not installed (peers/install.sh): their check is skipped";
        assert!(!required(), "{why}, but TOKENGUARD_REQUIRE_HSM=1");
        eprintln!("{why}");
        return;
    }
    let cases: Vec<Value> = minted
        .iter()
        .map(|m| serde_json::json!({"jwks": m.jwks, "token": m.token, "iss": m.iss, "aud": m.aud, "alg": m.alg}))
        .collect();
    let file = dir.join("cases.json");
    std::fs::write(&file, serde_json::to_string(&cases).unwrap()).unwrap();
    let script = r#"
import json, sys
import jwt
from jwcrypto import jwk as cjwk, jws as cjws
cases = json.load(open(sys.argv[1]))
for c in cases:
    key = json.loads(c["jwks"])["keys"][0]
    claims = jwt.decode(c["token"], jwt.PyJWK(key).key, algorithms=[c["alg"]], audience=c["aud"], issuer=c["iss"])
    assert claims["sub"] == c["iss"], claims
    s = cjws.JWS()
    s.deserialize(c["token"])
    s.verify(cjwk.JWK(**key), alg=c["alg"])
print(len(cases))
"#;
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(&file)
        .env("PYTHONPATH", &peers)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "PyJWT/jwcrypto: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        minted.len().to_string()
    );
}
