//! docs/hardware-keys.md's step-by-step block, run as written: bash runs the `sh` block
//! between `<!-- tested:begin -->` and `<!-- tested:end -->` in a fresh directory, with this
//! build's `tokenguard-sim` first on PATH. It needs SoftHSM v2, pkcs11-tool (OpenSC), openssl
//! and curl; without them the test says so and passes, unless `TOKENGUARD_REQUIRE_HSM=1`.

use std::path::Path;
use std::process::Command;

fn tested_block(doc: &str) -> String {
    let start = doc.find("<!-- tested:begin -->").expect("begin marker");
    let end = doc.find("<!-- tested:end -->").expect("end marker");
    let block = &doc[start..end];
    let code = block
        .split_once("```sh\n")
        .map(|(_, rest)| rest)
        .and_then(|rest| rest.rsplit_once("```"))
        .map(|(code, _)| code)
        .expect("a ```sh block between the markers");
    code.to_owned()
}

#[test]
fn the_step_by_step_guide_runs_as_written() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let missing: Vec<&str> = ["softhsm2-util", "pkcs11-tool", "openssl", "curl"]
        .into_iter()
        .filter(|t| {
            !Command::new("sh")
                .args(["-c", &format!("command -v {t}")])
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .collect();
    if !missing.is_empty() {
        let why = format!("{missing:?} not installed: docs/hardware-keys.md's block is not run");
        assert!(
            std::env::var("TOKENGUARD_REQUIRE_HSM").as_deref() != Ok("1"),
            "{why}, but TOKENGUARD_REQUIRE_HSM=1"
        );
        eprintln!("{why}");
        return;
    }
    let doc = std::fs::read_to_string(repo.join("docs/hardware-keys.md")).unwrap();
    let script = tested_block(&doc);
    let dir = repo.join(format!(
        "target/tmp/hardware-keys-doc-{}",
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
    let out = Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script])
        .current_dir(&dir)
        .env("PATH", path)
        .env_remove("SOFTHSM2_CONF")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the guide's block failed (exit {:?}):\n{}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // What it produced: two access tokens, and assertions whose kid the exported JWKs name.
    for f in ["zitadel-token.json", "auth0-token.json"] {
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join(f)).unwrap()).unwrap();
        assert!(
            v["access_token"].as_str().is_some_and(|t| t.len() > 20),
            "{f}: {v}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
