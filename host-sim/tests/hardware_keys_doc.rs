//! docs/hardware-keys.md's step-by-step blocks, run as written: bash runs the `sh` block
//! between `<!-- tested:begin -->` and `<!-- tested:end -->` (PKCS#11), and with the `tpm`
//! feature the one between `<!-- tested:tpm:begin -->` and `<!-- tested:tpm:end -->`, each in
//! a fresh directory, with this build's `tokenguard-sim` first on PATH. The first needs
//! SoftHSM v2, pkcs11-tool (OpenSC), openssl and curl, the second swtpm, tpm2-tools and curl;
//! without them the test says so and passes, unless `TOKENGUARD_REQUIRE_HSM=1` (or
//! `TOKENGUARD_REQUIRE_TPM=1`).

use std::path::{Path, PathBuf};
use std::process::Command;

fn tested_block(doc: &str, tag: &str) -> String {
    let start = doc
        .find(&format!("<!-- {tag}:begin -->"))
        .expect("begin marker");
    let end = doc
        .find(&format!("<!-- {tag}:end -->"))
        .expect("end marker");
    let block = &doc[start..end];
    let code = block
        .split_once("```sh\n")
        .map(|(_, rest)| rest)
        .and_then(|rest| rest.rsplit_once("```"))
        .map(|(code, _)| code)
        .expect("a ```sh block between the markers");
    code.to_owned()
}

/// Runs the doc's block `tag` if `tools` are installed (else skips, unless `require_var` is
/// 1), with extra environment; returns the directory it ran in.
fn run_block(
    tag: &str,
    tools: &[&str],
    require_var: &str,
    env: &[(&str, String)],
) -> Option<PathBuf> {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let missing: Vec<&str> = tools
        .iter()
        .copied()
        .filter(|t| {
            !Command::new("sh")
                .args(["-c", &format!("command -v {t}")])
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .collect();
    if !missing.is_empty() {
        let why =
            format!("{missing:?} not installed: docs/hardware-keys.md's {tag} block is not run");
        assert!(
            std::env::var(require_var).as_deref() != Ok("1"),
            "{why}, but {require_var}=1"
        );
        eprintln!("{why}");
        return None;
    }
    let doc = std::fs::read_to_string(repo.join("docs/hardware-keys.md")).unwrap();
    let script = tested_block(&doc, tag);
    let dir = repo.join(format!(
        "target/tmp/hardware-keys-doc-{tag}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let bin = Path::new(env!("CARGO_BIN_EXE_tokenguard-sim"))
        .parent()
        .unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut c = Command::new("bash");
    c.args(["-euo", "pipefail", "-c", &script])
        .current_dir(&dir)
        .env("PATH", path)
        .env_remove("SOFTHSM2_CONF")
        .env_remove("TPM2TOOLS_TCTI");
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "the guide's {tag} block failed (exit {:?}):\n{}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // What it produced: two access tokens.
    for f in ["zitadel-token.json", "auth0-token.json"] {
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join(f)).unwrap()).unwrap();
        assert!(
            v["access_token"].as_str().is_some_and(|t| t.len() > 20),
            "{f}: {v}"
        );
    }
    Some(dir)
}

#[test]
fn the_pkcs11_guide_runs_as_written() {
    let Some(dir) = run_block(
        "tested",
        &["softhsm2-util", "pkcs11-tool", "openssl", "curl"],
        "TOKENGUARD_REQUIRE_HSM",
        &[],
    ) else {
        return;
    };
    let _ = std::fs::remove_dir_all(&dir);
}

#[cfg(feature = "tpm")]
#[test]
fn the_tpm_guide_runs_as_written() {
    // A free loopback port whose next port (the control channel) is free too.
    let port = (0..20)
        .find_map(|_| {
            let p = std::net::TcpListener::bind("127.0.0.1:0")
                .ok()?
                .local_addr()
                .ok()?
                .port();
            std::net::TcpListener::bind(("127.0.0.1", p.checked_add(1)?)).ok()?;
            Some(p)
        })
        .expect("a free port pair");
    let Some(dir) = run_block(
        "tested:tpm",
        &["swtpm", "tpm2_createprimary", "curl"],
        "TOKENGUARD_REQUIRE_TPM",
        &[("TPM_PORT", port.to_string())],
    ) else {
        return;
    };
    // The keys are in the TPM: the assertions' kid is the exported JWK's.
    let jwk: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("zitadel-key.jwk")).unwrap())
            .unwrap();
    let jwt = std::fs::read_to_string(dir.join("zitadel.jwt")).unwrap();
    let h = jwt.split('.').next().unwrap();
    let mut buf = vec![0u8; h.len()];
    let n = tokenguard::b64::decode(h.as_bytes(), &mut buf).unwrap();
    let header: serde_json::Value = serde_json::from_slice(&buf[..n]).unwrap();
    assert_eq!(header["kid"], jwk["kid"]);
    assert_eq!(
        (header["alg"].as_str(), jwk["kty"].as_str()),
        (Some("RS256"), Some("RSA"))
    );
    // The imported key: an access token, the key file's keyId as kid, and no plaintext copy
    // of the private key left but the downloaded file the mock IdP reads.
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("imported-token.json")).unwrap())
            .unwrap();
    assert!(
        v["access_token"].as_str().is_some_and(|t| t.len() > 20),
        "{v}"
    );
    let jwt = std::fs::read_to_string(dir.join("imported.jwt")).unwrap();
    let h = jwt.split('.').next().unwrap();
    let n = tokenguard::b64::decode(h.as_bytes(), &mut buf).unwrap();
    let header: serde_json::Value = serde_json::from_slice(&buf[..n]).unwrap();
    assert_eq!(header["kid"], "318440000000000001");
    assert!(!dir.join("imported.pem").exists() && !dir.join("stand-in.pem").exists());
    let _ = std::fs::remove_dir_all(&dir);
}
