//! Keys in a PKCS#11 token: SoftHSM v2 (Debian `softhsm2`), as rust-cryptoki's own CI tests.
//! A token in a temporary directory, initialised by `softhsm2-util`; key pairs generated
//! inside it through PKCS#11 (sensitive, not extractable); `tokenguard-sim jwk --key pkcs11:`
//! and `sign --key pkcs11:` with every preset and algorithm, each assertion verified by
//! tokenguard and, when the interop peers are installed (`peers/install.sh`), by PyJWT,
//! jwcrypto and node `jose`; the documented errors; and the JWT-bearer grant at the mock IdP
//! with the key in the token.
//!
//! Without SoftHSM the test says so and passes, unless `TOKENGUARD_REQUIRE_HSM=1` (what
//! `cargo xtask ci` sets after installing it), which also requires the interop peers.

use std::path::{Path, PathBuf};
use std::process::Command;

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::Attribute;
use cryptoki::session::UserType;
use cryptoki::types::AuthPin;

mod hw;
use hw::{refused, repo, sim, Minted};

const PIN: &str = "5678";
const TOKEN: &str = "tg-test";
const MODULES: [&str; 2] = [
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
];

fn required() -> bool {
    std::env::var("TOKENGUARD_REQUIRE_HSM").is_ok_and(|v| v == "1")
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

#[test]
fn keys_in_a_pkcs11_token_sign_every_preset_and_fail_clearly() {
    let Some((dir, module)) = softhsm() else {
        return;
    };
    generate_keys(&module);
    let uri = |object: &str| format!("pkcs11:token={TOKEN};object={object}?module-path={module}");
    let pin_env = [("HSM_PIN", PIN)];
    let mut minted: Vec<Minted> = vec![];
    for (object, alg, sig_len) in [
        ("ec256", "ES256", 64),
        ("ec384", "ES384", 96),
        ("ed", "EdDSA", 64),
        ("rsa", "RS256", 256),
        ("rsa", "PS256", 256),
    ] {
        let key = uri(object);
        minted.extend(hw::mint_every_preset(
            &dir,
            &format!("{object}-{alg}"),
            &["--key", &key, "--pin-env", "HSM_PIN", "--alg", alg],
            &pin_env,
            alg,
            sig_len,
        ));
    }
    assert_eq!(minted.len(), 20);
    hw::verify_with_peers(&minted, required().then_some("TOKENGUARD_REQUIRE_HSM"));

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

    hw::jwt_bearer_grant(&uri("ec256"), &["--pin-env", "HSM_PIN"], &pin_env);
    let _ = std::fs::remove_dir_all(&dir);
}
