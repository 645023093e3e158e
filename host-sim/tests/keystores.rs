//! Password-protected key sources through the CLI, made the way users make them: PKCS#12
//! keystores from `openssl pkcs12 -export` (current PBES2/AES and `-legacy` 3DES/RC2) and
//! from `keytool` (when a JDK is installed), Java's JKS, encrypted PKCS#8 and traditional
//! encrypted PEM from openssl.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tokenguard-sim"));
    c.env("TG_TEST_PW", "changeit").env("TG_WRONG_PW", "wrong");
    c
}

fn dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("tokenguard-keystores-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn sh(cmd: &str, args: &[&str], cwd: &Path) -> Output {
    let out = Command::new(cmd)
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap_or_else(|e| panic!("{cmd}: {e} (openssl is part of the test set-up)"));
    assert!(
        out.status.success(),
        "{cmd} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn tg(args: &[&str]) -> Output {
    bin().args(args).current_dir(dir()).output().unwrap()
}

fn ok(args: &[&str]) -> String {
    let o = tg(args);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

fn fails(args: &[&str]) -> String {
    let o = tg(args);
    assert_eq!(o.status.code(), Some(2), "{args:?}");
    String::from_utf8(o.stderr).unwrap()
}

/// An EC P-256 key, a self-signed certificate for it, and the keystores openssl makes.
fn openssl_material(d: &Path) {
    sh(
        "openssl",
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-keyout",
            "key.pem",
            "-out",
            "cert.pem",
            "-days",
            "30",
            "-nodes",
            "-subj",
            "/CN=gateway",
        ],
        d,
    );
    for (out, legacy) in [("current.p12", false), ("legacy.p12", true)] {
        let mut args = vec![
            "pkcs12",
            "-export",
            "-inkey",
            "key.pem",
            "-in",
            "cert.pem",
            "-name",
            "gw-key",
            "-passout",
            "pass:changeit",
            "-out",
            out,
        ];
        if legacy {
            args.push("-legacy");
        }
        sh("openssl", &args, d);
    }
}

#[test]
fn pkcs12_keystores_from_openssl_give_the_key_and_sign() {
    let d = dir();
    openssl_material(&d);
    // The reference: the same key's public JWK from its PEM.
    let want: Value = serde_json::from_str(&ok(&["jwk", "--private-key", "key.pem"])).unwrap();
    for p12 in ["current.p12", "legacy.p12"] {
        let j: Value = serde_json::from_str(&ok(&[
            "jwk",
            "--keystore",
            p12,
            "--password-env",
            "TG_TEST_PW",
            "--x5c",
        ]))
        .unwrap();
        assert_eq!(
            (&j["x"], &j["y"], &j["crv"]),
            (&want["x"], &want["y"], &want["crv"]),
            "{p12}"
        );
        assert_eq!(j["kid"], "gw-key", "{p12}: the alias is the kid");
        assert!(
            j.get("d").is_none(),
            "{p12}: no private member without --include-private"
        );
        assert_eq!(j["x5c"].as_array().unwrap().len(), 1, "{p12}");
        assert_eq!(j["x5t#S256"].as_str().unwrap().len(), 43, "{p12}");
        // The x5c certificate is the one openssl wrote.
        let cert_der = sh(
            "openssl",
            &["x509", "-in", "cert.pem", "-outform", "DER"],
            &d,
        )
        .stdout;
        let x5c = j["x5c"][0].as_str().unwrap();
        let decoded = sh("sh", &["-c", &format!("printf %s '{x5c}' | base64 -d")], &d).stdout;
        assert_eq!(decoded, cert_der, "{p12}: x5c");
        // Private members on request, in a file only the owner reads.
        let out = format!("{p12}.private.json");
        ok(&[
            "jwk",
            "--keystore",
            p12,
            "--password-env",
            "TG_TEST_PW",
            "--include-private",
            "--output",
            &out,
        ]);
        let private: Value =
            serde_json::from_str(&std::fs::read_to_string(d.join(&out)).unwrap()).unwrap();
        assert!(private["d"].is_string());
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(d.join(&out))
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o600
        );
        // sign with the keystore; verify with the public JWK.
        let jwks = format!("{p12}.jwks");
        std::fs::write(d.join(&jwks), format!(r#"{{"keys":[{j}]}}"#)).unwrap();
        let jwt = ok(&[
            "sign",
            "--key",
            p12,
            "--password-env",
            "TG_TEST_PW",
            "--issuer",
            "gw",
            "--audience",
            "api",
        ]);
        let claims = ok(&[
            "verify",
            "--jwks",
            &jwks,
            "--iss",
            "gw",
            "--aud",
            "api",
            jwt.trim(),
        ]);
        assert!(claims.contains(r#""iss":"gw""#), "{claims}");
    }
    // Refusals name the file and what to do.
    let e = fails(&["jwk", "--keystore", "current.p12"]);
    assert!(
        e.contains(
            "password-protected: give the password with --password-env VAR or --password-file FILE"
        ),
        "{e}"
    );
    let e = fails(&[
        "jwk",
        "--keystore",
        "current.p12",
        "--password-env",
        "TG_WRONG_PW",
    ]);
    assert!(
        e.contains("current.p12: the keystore does not open: wrong password"),
        "{e}"
    );
    let e = fails(&[
        "jwk",
        "--keystore",
        "current.p12",
        "--password-env",
        "TG_TEST_PW",
        "--alias",
        "other",
    ]);
    assert!(
        e.contains("no private key entry with alias \"other\"; its entries: gw-key"),
        "{e}"
    );
    let pw = d.join("pw.txt");
    std::fs::write(&pw, "changeit\n").unwrap();
    let j: Value = serde_json::from_str(&ok(&[
        "jwk",
        "--keystore",
        "legacy.p12",
        "--password-file",
        pw.to_str().unwrap(),
        "--alias",
        "gw-key",
    ]))
    .unwrap();
    assert_eq!(j["x"], want["x"]);
}

#[test]
fn encrypted_pem_keys_open_with_the_password() {
    let d = dir().join("pem");
    std::fs::create_dir_all(&d).unwrap();
    openssl_material(&d);
    sh(
        "openssl",
        &[
            "pkcs8",
            "-topk8",
            "-in",
            "key.pem",
            "-out",
            "enc.pem",
            "-v2",
            "aes-256-cbc",
            "-passout",
            "pass:changeit",
        ],
        &d,
    );
    let p = |f: &str| d.join(f).to_str().unwrap().to_owned();
    let want: Value = serde_json::from_str(&ok(&["jwk", "--private-key", &p("key.pem")])).unwrap();
    let j: Value = serde_json::from_str(&ok(&[
        "jwk",
        "--private-key",
        &p("enc.pem"),
        "--password-env",
        "TG_TEST_PW",
    ]))
    .unwrap();
    assert_eq!((&j["x"], &j["y"]), (&want["x"], &want["y"]));
    let jwt = ok(&[
        "sign",
        "--key",
        &p("enc.pem"),
        "--password-env",
        "TG_TEST_PW",
        "--issuer",
        "i",
        "--audience",
        "a",
    ]);
    assert_eq!(jwt.trim().split('.').count(), 3);
    let e = fails(&[
        "sign",
        "--key",
        &p("enc.pem"),
        "--issuer",
        "i",
        "--audience",
        "a",
    ]);
    assert!(
        e.contains("is an encrypted PKCS#8 key: give its password with --password-env VAR"),
        "{e}"
    );
    let e = fails(&[
        "jwk",
        "--private-key",
        &p("enc.pem"),
        "--password-env",
        "TG_WRONG_PW",
    ]);
    assert!(e.contains("does not decrypt: wrong password"), "{e}");
    // A traditional encrypted PEM (Proc-Type: 4,ENCRYPTED) says how to convert it.
    sh("openssl", &["genrsa", "-out", "rsa.pem", "2048"], &d);
    sh(
        "openssl",
        &[
            "rsa",
            "-in",
            "rsa.pem",
            "-traditional",
            "-aes128",
            "-passout",
            "pass:changeit",
            "-out",
            "trad.pem",
        ],
        &d,
    );
    let e = fails(&[
        "jwk",
        "--private-key",
        &p("trad.pem"),
        "--password-env",
        "TG_TEST_PW",
    ]);
    assert!(
        e.contains(
            "traditional encrypted PEM (Proc-Type: 4,ENCRYPTED): convert it with `openssl pkey"
        ),
        "{e}"
    );
}

#[test]
fn keytool_keystores_when_a_jdk_is_installed() {
    if Command::new("keytool").arg("-help").output().is_err() {
        eprintln!(
            "keytool not installed: the JDK-made keystores are covered by the openssl test only"
        );
        return;
    }
    let d = dir().join("keytool");
    std::fs::create_dir_all(&d).unwrap();
    for (alias, alg) in [("signing-ec", "EC"), ("signing-rsa", "RSA")] {
        let mut args = vec![
            "-genkeypair",
            "-alias",
            alias,
            "-keyalg",
            alg,
            "-dname",
            "CN=k",
            "-storetype",
            "pkcs12",
            "-keystore",
            "two.p12",
            "-storepass",
            "changeit",
            "-validity",
            "30",
        ];
        if alg == "RSA" {
            args.extend(["-keysize", "2048"]);
        }
        sh("keytool", &args, &d);
    }
    sh(
        "keytool",
        &[
            "-genkeypair",
            "-alias",
            "old",
            "-keyalg",
            "RSA",
            "-keysize",
            "2048",
            "-dname",
            "CN=k",
            "-storetype",
            "jks",
            "-keystore",
            "old.jks",
            "-storepass",
            "changeit",
            "-keypass",
            "changeit",
            "-validity",
            "30",
        ],
        &d,
    );
    let p = |f: &str| d.join(f).to_str().unwrap().to_owned();
    let e = fails(&[
        "jwk",
        "--keystore",
        &p("two.p12"),
        "--password-env",
        "TG_TEST_PW",
    ]);
    assert!(
        e.contains("holds 2 private keys: pick one with --alias (signing-ec, signing-rsa)"),
        "{e}"
    );
    for (alias, kty) in [("signing-ec", "EC"), ("signing-rsa", "RSA")] {
        let j: Value = serde_json::from_str(&ok(&[
            "jwk",
            "--keystore",
            &p("two.p12"),
            "--password-env",
            "TG_TEST_PW",
            "--alias",
            alias,
        ]))
        .unwrap();
        assert_eq!(
            (j["kty"].as_str(), j["kid"].as_str()),
            (Some(kty), Some(alias))
        );
        let jwt = ok(&[
            "sign",
            "--key",
            &p("two.p12"),
            "--password-env",
            "TG_TEST_PW",
            "--alias",
            alias,
            "--issuer",
            "i",
            "--audience",
            "a",
        ]);
        let jwks = d.join(format!("{alias}.jwks"));
        std::fs::write(&jwks, format!(r#"{{"keys":[{j}]}}"#)).unwrap();
        ok(&[
            "verify",
            "--jwks",
            jwks.to_str().unwrap(),
            "--iss",
            "i",
            "--aud",
            "a",
            jwt.trim(),
        ]);
    }
    let e = fails(&[
        "jwk",
        "--keystore",
        &p("old.jks"),
        "--password-env",
        "TG_TEST_PW",
    ]);
    assert!(
        e.contains("is a Java JKS keystore")
            && e.contains("keytool -importkeystore")
            && e.contains("-deststoretype pkcs12"),
        "{e}"
    );
}

/// RSA keys outside 2048..=4096 bits give their size and the range, for every source.
#[test]
fn rsa_sizes_outside_the_range_say_so() {
    let d = dir().join("rsa-size");
    std::fs::create_dir_all(&d).unwrap();
    for bits in ["1024", "8192"] {
        let private = format!("r{bits}.pem");
        let public = format!("r{bits}.pub.pem");
        sh("openssl", &["genrsa", "-out", &private, bits], &d);
        sh(
            "openssl",
            &["rsa", "-in", &private, "-pubout", "-out", &public],
            &d,
        );
        let p = |f: &str| d.join(f).to_str().unwrap().to_owned();
        let want = format!("an RSA key of {bits} bits; tokenguard takes 2048 to 4096 bits");
        for args in [
            vec!["jwk".to_owned(), "--private-key".into(), p(&private)],
            vec!["jwk".to_owned(), "--public-key".into(), p(&public)],
            vec![
                "sign".to_owned(),
                "--key".into(),
                p(&private),
                "--issuer".into(),
                "i".into(),
                "--audience".into(),
                "a".into(),
            ],
        ] {
            let a: Vec<&str> = args.iter().map(String::as_str).collect();
            let e = fails(&a);
            assert!(e.contains(&want), "{a:?}: {e}");
        }
    }
}
