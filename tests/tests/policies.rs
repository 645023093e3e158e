//! The policy decisions of docs/decisions.md that peer test suites meet, one test each, with
//! the exact outcome: where tokenguard differs from a peer on purpose, this pins it.

use std::process::Command;

use tokenguard::{alg, Claim, Error, Expect, Jwk, KeyError, KeySet, Validation};
use tokenguard_tests::keys::data;
use tokenguard_tests::{b64, mint, verify_both};

const NOW: u64 = 1_767_225_600;
const KEY: [u8; 32] = [0x21; 32];

fn hs_set(kid: Option<&str>) -> KeySet<1> {
    let mut s = KeySet::new();
    s.insert(Jwk::hmac(kid.map(str::as_bytes), &KEY, alg::HS256).unwrap())
        .unwrap();
    s
}

fn policy() -> Validation<'static> {
    Validation::new(Expect::One("i"), Expect::One("a")).allow_missing_kid(true)
}

fn hs(header: &str, claims: &str) -> String {
    mint::hs256(&KEY, header, claims)
}

const CLAIMS: &str = r#"{"iss":"i","aud":"a","exp":1767229200}"#;

#[test]
fn a_token_kid_is_never_matched_to_a_key_without_one() {
    let t = hs(r#"{"alg":"HS256","kid":"k1"}"#, CLAIMS);
    assert_eq!(
        verify_both(&hs_set(None), &t, &policy(), NOW),
        Err(Error::KeyNotFound)
    );
    // Control: the same key with that kid, and a token without kid against the keyless key.
    assert!(verify_both(&hs_set(Some("k1")), &t, &policy(), NOW).is_ok());
    let t = hs(r#"{"alg":"HS256"}"#, CLAIMS);
    assert!(verify_both(&hs_set(None), &t, &policy(), NOW).is_ok());
}

#[test]
fn nested_jwts_are_malformed() {
    let t = hs(r#"{"alg":"HS256","cty":"JWT"}"#, CLAIMS);
    assert!(matches!(
        verify_both(&hs_set(None), &t, &policy(), NOW),
        Err(Error::Malformed(_))
    ));
}

#[test]
fn claim_types_are_strict() {
    let set = hs_set(None);
    for (claims, claim) in [
        (r#"{"iss":["i"],"aud":"a","exp":1767229200}"#, Claim::Iss),
        (r#"{"iss":"i","aud":"a","exp":"1767229200"}"#, Claim::Exp),
        (r#"{"iss":"i","aud":null,"exp":1767229200}"#, Claim::Aud),
    ] {
        let t = hs(r#"{"alg":"HS256"}"#, claims);
        assert_eq!(
            verify_both(&set, &t, &policy(), NOW),
            Err(Error::InvalidClaim(claim)),
            "{claims}"
        );
    }
    // Control: `aud` absent is a missing claim, not an invalid one.
    let t = hs(r#"{"alg":"HS256"}"#, r#"{"iss":"i","exp":1767229200}"#);
    assert_eq!(
        verify_both(&set, &t, &policy(), NOW),
        Err(Error::MissingClaim(Claim::Aud))
    );
}

#[test]
fn short_hmac_secrets_are_refused_at_import() {
    // "secret", as in many peer test suites: 6 bytes for HS256's 32.
    let jwk = format!(r#"{{"kty":"oct","alg":"HS256","k":"{}"}}"#, b64(b"secret"));
    assert_eq!(
        Jwk::from_json(jwk.as_bytes()).unwrap_err(),
        KeyError::SymmetricKeySize
    );
    assert_eq!(
        Jwk::hmac(None, &[1; 47], alg::HS384).unwrap_err(),
        KeyError::SymmetricKeySize
    );
}

/// PSS with a salt other than the hash length (what Go's `PSSSaltLengthAuto` makes) is a bad
/// signature; OpenSSL's `rsa_pss_saltlen:digest` is the compatible way to mint.
#[test]
fn pss_salt_is_the_hash_length() {
    let dir = std::env::temp_dir().join(format!("tokenguard-pss-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let key_file = dir.join("key.pem");
    std::fs::write(&key_file, data("rsa2048.pkcs8.pem")).unwrap();
    let input = mint::signing_input(r#"{"alg":"PS256"}"#, CLAIMS);
    let msg = dir.join("msg");
    std::fs::write(&msg, &input).unwrap();
    let sign = |saltlen: &str| {
        let out = Command::new("openssl")
            .args(["dgst", "-sha256", "-sign"])
            .arg(&key_file)
            .args(["-sigopt", "rsa_padding_mode:pss"])
            .args(["-sigopt", &format!("rsa_pss_saltlen:{saltlen}")])
            .arg(&msg)
            .output()
            .expect("openssl");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        format!("{input}.{}", b64(&out.stdout))
    };
    let mut scratch = vec![0u8; 4096];
    let public = tokenguard::keys::public_key(&data("rsa2048.spki.pem"), &mut scratch)
        .unwrap()
        .to_jwk(None, Some(alg::PS256))
        .unwrap();
    let mut set: KeySet<1> = KeySet::new();
    set.insert(public).unwrap();
    assert!(verify_both(&set, &sign("digest"), &policy(), NOW).is_ok());
    for other in ["max", "20", "0"] {
        assert_eq!(
            verify_both(&set, &sign(other), &policy(), NOW),
            Err(Error::BadSignature),
            "salt {other}"
        );
    }
}
