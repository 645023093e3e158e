//! Keys in a TPM 2.0: swtpm (Debian `swtpm`) in TCP mode on loopback, started and stopped by
//! this test, keys created in it with tpm2-tools (Debian `tpm2-tools`) and made persistent
//! (transient contexts are flushed after each step: without a resource manager a TPM with
//! full object slots refuses loads); `tokenguard-sim jwk --key tpm:` and `sign --key tpm:`
//! with every preset and algorithm the TPM has, each assertion verified by tokenguard and,
//! when the interop peers are installed (`peers/install.sh`), by PyJWT, jwcrypto and
//! node `jose`; the
//! documented errors; and the JWT-bearer grant at the mock IdP with the key in the TPM.
//!
//! It needs the `tpm` feature (`cargo test -p tokenguard-sim --features tpm --test tpm`).
//! Without swtpm or tpm2-tools it says so and passes, unless `TOKENGUARD_REQUIRE_TPM=1` (what
//! `cargo xtask ci` sets after installing them), which also requires the interop peers. A
//! build without the feature checks that `--key tpm:` says how to get it.

mod hw;
#[cfg(not(feature = "tpm"))]
use hw::{refused, sim};

#[cfg(not(feature = "tpm"))]
#[test]
fn without_the_feature_a_tpm_key_says_how_to_get_it() {
    let o = sim(
        &[
            "sign",
            "--key",
            "tpm:handle=0x81010001",
            "--issuer",
            "a",
            "--audience",
            "b",
        ],
        &[],
    );
    refused(
        &o,
        "no tpm feature",
        "this tokenguard-sim was built without TPM support: build it with `--features tpm`",
    );
    // A malformed reference is reported as such first.
    let o = sim(&["jwk", "--key", "tpm:object=k"], &[]);
    refused(
        &o,
        "bad reference",
        "TPM key reference: unknown attribute \"object\"",
    );
}

#[cfg(feature = "tpm")]
mod with_tpm {
    use std::path::PathBuf;
    use std::process::Command;

    use super::hw::{self, ok, refused, repo, sim, Minted};

    const KEY_AUTH: &str = "key-pass-1";

    fn required() -> bool {
        std::env::var("TOKENGUARD_REQUIRE_TPM").is_ok_and(|v| v == "1")
    }

    /// A running swtpm; killed when dropped.
    struct Swtpm {
        child: std::process::Child,
        tcti: String,
        dir: PathBuf,
    }

    impl Drop for Swtpm {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    fn free_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    }

    fn have(tool: &str) -> bool {
        Command::new(tool).arg("--version").output().is_ok()
    }

    /// A fresh swtpm on loopback, or `None` (with the reason printed) when swtpm or
    /// tpm2-tools are not installed.
    fn swtpm() -> Option<Swtpm> {
        if !have("swtpm") || !have("tpm2_createprimary") {
            let why = "swtpm and tpm2-tools are not installed (Debian packages swtpm, tpm2-tools): TPM tests skipped";
            assert!(!required(), "{why}, but TOKENGUARD_REQUIRE_TPM=1");
            eprintln!("{why}");
            return None;
        }
        let dir = repo().join(format!("target/tmp/swtpm-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("state")).unwrap();
        for _attempt in 0..5 {
            // The swtpm TCTI finds the control channel at the next port.
            let port = free_port();
            let ctrl = port.wrapping_add(1);
            if ctrl == 0 {
                continue;
            }
            let mut child = Command::new("swtpm")
                .args(["socket", "--tpm2", "--tpmstate"])
                .arg(format!("dir={}", dir.join("state").display()))
                .arg("--server")
                .arg(format!("type=tcp,port={port},bindaddr=127.0.0.1"))
                .arg("--ctrl")
                .arg(format!("type=tcp,port={ctrl},bindaddr=127.0.0.1"))
                .args(["--flags", "not-need-init,startup-clear"])
                .spawn()
                .unwrap();
            // Ready when it accepts connections (or gone if the port was taken meanwhile).
            for _ in 0..100 {
                if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    let tcti = format!("swtpm:host=127.0.0.1,port={port}");
                    return Some(Swtpm { child, tcti, dir });
                }
                if child.try_wait().unwrap().is_some() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("swtpm did not start on loopback");
    }

    impl Swtpm {
        /// Runs a tpm2-tools command against this TPM, then flushes transient objects and
        /// sessions.
        fn tool(&self, args: &[&str]) {
            for cmd in [
                args,
                &["tpm2_flushcontext", "-t"],
                &["tpm2_flushcontext", "-s"],
            ] {
                let out = Command::new(cmd[0])
                    .args(&cmd[1..])
                    .current_dir(&self.dir)
                    .env("TPM2TOOLS_TCTI", &self.tcti)
                    .env("TSS2_LOG", "all+NONE")
                    .output()
                    .unwrap();
                assert!(
                    out.status.success(),
                    "{cmd:?}: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }

        /// Creates a key under the persistent primary, loads it and makes it persistent.
        fn key(&self, handle: &str, alg: &str, extra: &[&str]) {
            let mut args = vec![
                "tpm2_create",
                "-C",
                "0x81000001",
                "-G",
                alg,
                "-u",
                "k.pub",
                "-r",
                "k.priv",
            ];
            args.extend(extra);
            self.tool(&args);
            // Loaded and made persistent in one step (transients are flushed after each).
            self.tool(&[
                "sh",
                "-c",
                &format!(
                    "tpm2_load -C 0x81000001 -u k.pub -r k.priv -c k.ctx -Q && tpm2_evictcontrol -C o -c k.ctx {handle} -Q"
                ),
            ]);
        }

        fn reference(&self, handle: &str) -> String {
            format!("tpm:handle={handle}?tcti={}", self.tcti)
        }
    }

    #[test]
    fn keys_in_a_tpm_sign_every_preset_and_fail_clearly() {
        let Some(tpm) = swtpm() else {
            return;
        };
        // A storage primary key, persistent: the parent of the signing keys, and a key that
        // may not sign.
        tpm.tool(&["tpm2_createprimary", "-C", "o", "-c", "primary.ctx", "-Q"]);
        tpm.tool(&[
            "tpm2_evictcontrol",
            "-C",
            "o",
            "-c",
            "primary.ctx",
            "0x81000001",
            "-Q",
        ]);
        // Dictionary-attack protection: lockout after 3 failed authorizations, for a minute.
        tpm.tool(&[
            "tpm2_dictionarylockout",
            "-s",
            "-n",
            "3",
            "-t",
            "60",
            "-l",
            "60",
        ]);
        tpm.key("0x81010001", "ecc256:ecdsa-sha256", &[]);
        tpm.key("0x81010002", "ecc384:ecdsa-sha384", &[]);
        tpm.key("0x81010003", "rsa2048", &["-p", KEY_AUTH]);
        tpm.key("0x81010004", "rsa2048:rsassa-sha256", &[]);
        tpm.key(
            "0x81010005",
            "ecc256:ecdsa-sha256:null",
            &[
                "-a",
                "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|restricted|sign",
            ],
        );
        let auth_env = [("TPM_KEY_AUTH", KEY_AUTH)];
        let mut minted: Vec<Minted> = vec![];
        for (handle, alg, auth, sig_len) in [
            ("0x81010001", "ES256", false, 64),
            ("0x81010002", "ES384", false, 96),
            ("0x81010003", "RS256", true, 256),
            ("0x81010003", "PS256", true, 256),
            ("0x81010004", "RS256", false, 256),
        ] {
            let key = tpm.reference(handle);
            let mut args = vec!["--key", key.as_str(), "--alg", alg];
            if auth {
                args.extend(["--pin-env", "TPM_KEY_AUTH"]);
            }
            let env: &[(&str, &str)] = if auth { &auth_env } else { &[] };
            minted.extend(hw::mint_every_preset(
                &tpm.dir,
                &format!("{handle}-{alg}"),
                &args,
                env,
                alg,
                sig_len,
            ));
        }
        assert_eq!(minted.len(), 20);
        hw::verify_with_peers(&minted, required().then_some("TOKENGUARD_REQUIRE_TPM"));

        // The documented errors, without a panic and without a token.
        let run = |key: &str, extra: &[&str], env: &[(&str, &str)]| {
            let mut args = vec![
                "sign",
                "--preset",
                "auth0",
                "--issuer",
                "c",
                "--audience",
                "https://t.example/oauth/token",
                "--key",
                key,
            ];
            args.extend(extra);
            sim(&args, env)
        };
        let rsa = tpm.reference("0x81010003");
        refused(
            &run(&rsa, &["--pin-env", "BAD"], &[("BAD", "wrong")]),
            "wrong authorization value",
            "TPM key 0x81010003: wrong authorization value (the key's password: --pin-env, pin-value or pin-source)",
        );
        refused(
            &run(&rsa, &[], &[]),
            "no authorization value",
            "TPM key 0x81010003: wrong authorization value",
        );
        refused(
            &run(&format!("{rsa}&pin-value=wrong"), &[], &[]),
            "wrong pin-value",
            "TPM key 0x81010003: wrong authorization value",
        );
        // Three authorization failures (the maximum set below) put the TPM in
        // dictionary-attack lockout: even the right value is refused until it is cleared.
        refused(
            &run(&rsa, &["--pin-env", "TPM_KEY_AUTH"], &auth_env),
            "lockout",
            "TPM key 0x81010003: the TPM is in dictionary-attack lockout after failed authorizations; wait, or clear it (tpm2_dictionarylockout -c)",
        );
        tpm.tool(&["tpm2_dictionarylockout", "-c"]);
        ok(
            &run(&rsa, &["--pin-env", "TPM_KEY_AUTH"], &auth_env),
            "after the lockout is cleared",
        );
        refused(
            &run(&tpm.reference("0x81010009"), &[], &[]),
            "missing key",
            "TPM key 0x81010009: no key at this handle; the TPM's persistent handles: 0x81000001, 0x81010001, 0x81010002, 0x81010003, 0x81010004, 0x81010005",
        );
        refused(
            &run(
                &rsa,
                &["--pin-env", "TPM_KEY_AUTH", "--alg", "ES256"],
                &auth_env,
            ),
            "key of the wrong type",
            "TPM key 0x81010003 is an RSA key: it signs RS256/384/512 or PS256/384/512, not ES256",
        );
        refused(
            &run(&tpm.reference("0x81010001"), &["--alg", "ES384"], &[]),
            "curve of the wrong size",
            "TPM key 0x81010001 is a P-256 key: it signs ES256, not ES384",
        );
        refused(
            &run(&tpm.reference("0x81010001"), &["--alg", "RS256"], &[]),
            "an EC key asked for RSA",
            "TPM key 0x81010001 is a P-256 key: it signs ES256, not RS256",
        );
        refused(
            &run(&tpm.reference("0x81010004"), &["--alg", "PS256"], &[]),
            "a key bound to another scheme",
            "TPM key 0x81010004 was created for RS256; it cannot sign PS256",
        );
        refused(
            &run(&tpm.reference("0x81000001"), &[], &[]),
            "a key that may not sign",
            "TPM key 0x81000001: the key may not sign (its sign attribute is clear)",
        );
        refused(
            &run(&tpm.reference("0x81010005"), &[], &[]),
            "a restricted key",
            "TPM key 0x81010005: a restricted key (an attestation key) signs only digests the TPM made itself",
        );
        let closed = free_port();
        refused(
            &run(
                &format!("tpm:handle=0x81010001?tcti=swtpm:host=127.0.0.1,port={closed}"),
                &[],
                &[],
            ),
            "no TPM there",
            &format!("cannot reach the TPM through TCTI \"swtpm:host=127.0.0.1,port={closed}\""),
        );
        refused(
            &run("tpm:handle=0x01000001", &[], &[]),
            "not a persistent handle",
            "TPM key reference: handle=0x01000001 is not a persistent handle",
        );
        refused(
            &run(&rsa, &["--pin-env", "UNSET_VAR_FOR_TEST"], &[]),
            "unset variable",
            "--pin-env UNSET_VAR_FOR_TEST: the variable is not set",
        );

        hw::jwt_bearer_grant(&tpm.reference("0x81010001"), &[], &[]);
    }
}
