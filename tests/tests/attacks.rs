//! One named test per JOSE attack class, each asserting the exact rejection on both
//! backends. docs/attacks.md links here.

use tokenguard::crypto::{AwsLc, Ring, RustCrypto};
use tokenguard::{
    alg, Curve, Error, Expect, HeaderError, JsonError, Jwk, KeyError, KeySet, Malformed, Validation,
};
use tokenguard_tests::corpus::code;
use tokenguard_tests::{b64, hex, mint, verify_both};

const NOW: u64 = 1_700_000_300;
const PAYLOAD: &str = r#"{"iss":"https://issuer.example","aud":"device-1","exp":1700000600}"#;

fn policy() -> Validation<'static> {
    Validation::new(
        Expect::One("https://issuer.example"),
        Expect::One("device-1"),
    )
}

fn codes(ids: &[&str]) -> Vec<&'static str> {
    ids.iter().map(|id| code(id)).collect()
}

#[test]
fn alg_none_in_any_spelling() {
    assert_eq!(
        codes(&["alg-none-0", "alg-none-1", "alg-none-2", "alg-none-3"]),
        ["malformed"; 4]
    );
    assert_eq!(code("alg-none-sig"), "unsupported_alg");
    // `none` with a signature present and a kid that exists: still refused.
    let key = Jwk::hmac(Some(b"k"), &[9; 32], alg::HS256).unwrap();
    let tok = format!(
        "{}.{}.{}",
        b64(br#"{"alg":"NoNe","kid":"k"}"#),
        b64(PAYLOAD.as_bytes()),
        b64(&[0; 32])
    );
    assert_eq!(
        verify_both(&key, &tok, &policy(), NOW),
        Err(Error::UnsupportedAlg)
    );
}

#[test]
fn key_confusion_hmac_with_public_key() {
    assert_eq!(
        codes(&[
            "confusion-sec1",
            "confusion-spki-der",
            "confusion-spki-pem",
            "confusion-jwk-json",
            "confusion-x-coord",
            "confusion-kid-swap"
        ]),
        ["alg_not_allowed"; 6]
    );
    // RSA flavour: HS256 MACed with the RSA modulus, kid naming the RSA key.
    let n = hex(RSA_N);
    let rsa = Jwk::rsa(Some(b"rsa"), &n, &[1, 0, 1], None).unwrap();
    let tok = mint::hs256(&n, r#"{"alg":"HS256","kid":"rsa"}"#, PAYLOAD);
    assert_eq!(
        verify_both(&rsa, &tok, &policy(), NOW),
        Err(Error::AlgNotAllowed)
    );
}

#[test]
fn psychic_signatures_ecdsa_zero() {
    assert_eq!(
        codes(&[
            "ecdsa-r0s0",
            "ecdsa-r0s1",
            "ecdsa-rns1",
            "ecdsa-r1sn",
            "ecdsa-rnsn",
            "ecdsa-s+n"
        ]),
        ["bad_signature"; 6]
    );
    assert_eq!(
        codes(&["ecdsa-der", "ecdsa-65", "ecdsa-63"]),
        ["bad_signature"; 3]
    );
}

#[test]
fn invalid_curve_points_refused_at_import() {
    let x = hex("60fed4ba255a9d31c961eb74c6356d68c049b8923b61fa6ce669622e60f29fb6");
    let mut y = hex("7903fe1008b8bc99a41ae9e95628bc64f2f1b20c2d7e9f5177a3c294d4462299");
    assert!(Jwk::ec(None, Curve::P256, &x, &y, None).is_ok());
    y[31] ^= 1;
    assert_eq!(
        Jwk::ec(None, Curve::P256, &x, &y, None).unwrap_err(),
        KeyError::InvalidPoint
    );
    // Coordinates of the wrong length (a P-256 point offered as P-384).
    assert_eq!(
        Jwk::ec(None, Curve::P384, &x, &y, None).unwrap_err(),
        KeyError::InvalidPoint
    );
}

#[test]
fn weak_rsa_keys_refused() {
    let n = hex(RSA_N);
    assert_eq!(
        Jwk::rsa(None, &n[..128], &[1, 0, 1], None).unwrap_err(),
        KeyError::RsaModulus
    );
    assert_eq!(
        Jwk::rsa(None, &n, &[1], None).unwrap_err(),
        KeyError::RsaExponent
    );
    assert_eq!(
        Jwk::rsa(None, &n, &[1, 0, 0], None).unwrap_err(),
        KeyError::RsaExponent
    );
    let mut padded = vec![0u8];
    padded.extend_from_slice(&n);
    assert_eq!(
        Jwk::rsa(None, &padded, &[1, 0, 1], None).unwrap_err(),
        KeyError::RsaModulus
    );
    // ROCA-fingerprinted moduli: Wycheproof JWK tcId 7 (tests/wycheproof_jws.rs).
}

#[test]
fn pkcs1_e3_forgery_with_garbage() {
    // A cube root of 00 01 FF 00 || DigestInfo || SHA-256 || garbage: parsers that stop at
    // the hash accept it; building the full expected encoding does not.
    let n = hex(RSA_N);
    let key = Jwk::rsa(Some(b"e3"), &n, &[3], Some(alg::RS256)).unwrap();
    let input = "eyJhbGciOiJSUzI1NiIsImtpZCI6ImUzIn0.eyJpc3MiOiJodHRwczovL2lzc3Vlci5leGFtcGxlIiwiYXVkIjoiZGV2aWNlLTEiLCJleHAiOjE3MDAwMDA2MDB9";
    let tok = format!("{input}.{E3_FORGED_SIG}");
    assert_eq!(
        verify_both(&key, &tok, &policy(), NOW),
        Err(Error::BadSignature)
    );
}

#[test]
fn ed25519_small_order_keys_and_identity_forgery() {
    let identity = {
        let mut a = [0u8; 32];
        a[0] = 1;
        a
    };
    assert_eq!(
        Jwk::ed25519(None, &identity, None).unwrap_err(),
        KeyError::SmallOrder
    );
    assert_eq!(
        Jwk::ed25519(None, &[0; 32], None).unwrap_err(),
        KeyError::SmallOrder
    );
    // The forged signature (R = identity, s = 0) under a real key.
    let signer = mint::Ed25519::generate();
    let jwk = Jwk::from_json(signer.jwk("ed").as_bytes()).unwrap();
    let mut sig = [0u8; 64];
    sig[0] = 1;
    assert_eq!(
        jwk.verify_signature::<Ring>(alg::EDDSA, b"m", &sig),
        Err(Error::BadSignature)
    );
    assert_eq!(
        jwk.verify_signature::<RustCrypto>(alg::EDDSA, b"m", &sig),
        Err(Error::BadSignature)
    );
    assert_eq!(
        jwk.verify_signature::<AwsLc>(alg::EDDSA, b"m", &sig),
        Err(Error::BadSignature)
    );
    // S >= L (malleated) is refused before any backend runs.
    let tok = signer.sign(r#"{"alg":"EdDSA","kid":"ed"}"#, PAYLOAD);
    assert!(verify_both(&jwk, &tok, &policy(), NOW).is_ok());
    let (input, s) = tok.rsplit_once('.').unwrap();
    let mut raw = tokenguard_tests::unb64(s);
    add_l(&mut raw[32..]);
    let malleated = format!("{input}.{}", b64(&raw));
    assert_eq!(
        verify_both(&jwk, &malleated, &policy(), NOW),
        Err(Error::BadSignature)
    );
}

/// s += L (little-endian), the classic Ed25519 malleation.
fn add_l(s: &mut [u8]) {
    let l = hex("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010");
    let mut carry = 0u16;
    for (a, b) in s.iter_mut().zip(l) {
        let [lo, hi] = (u16::from(*a) + u16::from(b) + carry).to_le_bytes();
        *a = lo;
        carry = u16::from(hi);
    }
}

#[test]
fn header_supplied_keys_never_trusted() {
    assert_eq!(
        codes(&[
            "hdr-jwk",
            "hdr-jku",
            "hdr-x5u",
            "hdr-x5c",
            "hdr-jku-validsig"
        ]),
        ["malformed"; 5]
    );
    let c = tokenguard_tests::corpus::Corpus::new();
    let (v, now) = c.policy();
    let (set, tok) = c.case("hdr-jwk");
    assert_eq!(
        verify_both(&set, &tok, &v, now),
        Err(Error::Malformed(Malformed::Header(
            HeaderError::EmbeddedKey
        )))
    );
}

#[test]
fn kid_injection_is_an_opaque_exact_match() {
    assert_eq!(
        codes(&["kid-0", "kid-1", "kid-2", "kid-3", "kid-6"]),
        ["key_not_found"; 5]
    );
    assert_eq!(codes(&["kid-4", "kid-5"]), ["malformed"; 2]);
}

#[test]
fn crit_and_b64_refused() {
    assert_eq!(
        codes(&[
            "crit-unknown",
            "crit-empty",
            "crit-registered",
            "crit-notarray"
        ]),
        ["crit_unsupported"; 4]
    );
    assert_eq!(
        codes(&["b64-false-crit", "b64-false-nocrit", "b64-true"]),
        ["malformed"; 3]
    );
}

#[test]
fn audience_and_issuer_confusion() {
    assert_eq!(
        codes(&["aud-0", "aud-1", "aud-2", "aud-3", "aud-8"]),
        ["wrong_audience"; 5]
    );
    assert_eq!(codes(&["aud-4", "aud-5", "aud-6"]), ["invalid_claim"; 3]);
    assert_eq!(code("aud-7"), "missing_claim");
    assert_eq!(codes(&["iss-0", "iss-1", "iss-2"]), ["wrong_issuer"; 3]);
    assert_eq!(code("iss-3"), "invalid_claim");
    assert_eq!(code("iss-4"), "missing_claim");
}

#[test]
fn time_claim_type_confusion() {
    assert_eq!(
        codes(&[
            "exp-string",
            "exp-neg",
            "exp-huge",
            "exp-2^64",
            "exp-bool",
            "exp-null",
            "exp-array",
            "nbf-string",
            "iat-string",
            "exp-253402300800",
            "exp-1e30",
            "exp-1e400"
        ]),
        ["invalid_claim"; 12]
    );
    assert_eq!(
        codes(&["exp-NaN", "exp-Infinity", "exp-leading0", "exp-plus"]),
        ["malformed"; 4]
    );
    assert_eq!(code("exp-missing"), "missing_claim");
}

#[test]
fn duplicate_members_including_escaped() {
    assert_eq!(
        codes(&["dup-exp", "dup-escaped", "dup-aud", "dup-alg-hdr"]),
        ["malformed"; 4]
    );
}

#[test]
fn deep_nesting_without_recursion() {
    assert_eq!(code("json-deep-9"), "malformed");
    // 100 000 levels inside a validly MACed token: a depth error, not a stack overflow.
    let key = [7u8; 32];
    let deep = format!(
        r#"{{"iss":"https://issuer.example","aud":"device-1","exp":1700000600,"x":{}{}}}"#,
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let tok = mint::hs256(&key, r#"{"alg":"HS256","kid":"k"}"#, &deep);
    let jwk = Jwk::hmac(Some(b"k"), &key, alg::HS256).unwrap();
    assert_eq!(
        verify_both(
            &jwk,
            &tok,
            &policy().max_token_len(1 << 20).max_depth(63),
            NOW
        ),
        Err(Error::Malformed(Malformed::Json(JsonError::Depth)))
    );
}

#[test]
fn size_bombs() {
    assert_eq!(
        codes(&["oversize-dots", "oversize-valid", "json-deep-5000"]),
        ["too_large"; 3]
    );
    // The caller's buffer bounds decoding too: a token larger than the buffer is too_large.
    let key = [7u8; 32];
    let tok = mint::hs256(&key, r#"{"alg":"HS256","kid":"k"}"#, PAYLOAD);
    let jwk = Jwk::hmac(Some(b"k"), &key, alg::HS256).unwrap();
    let mut small = [0u8; 40];
    let r = tokenguard::verify_jwt::<Ring, _>(&jwk, tok.as_bytes(), &policy(), NOW, &mut small);
    assert_eq!(r.unwrap_err(), Error::TooLarge);
    let huge = "a".repeat(10 << 20);
    assert_eq!(
        verify_both(&jwk, &huge, &policy(), NOW),
        Err(Error::TooLarge)
    );
}

#[test]
fn non_canonical_base64url() {
    assert_eq!(
        codes(&[
            "struct-pad-sig",
            "struct-pad-sig2",
            "struct-pad-hdr",
            "struct-space-lead",
            "struct-space-trail",
            "struct-newline",
            "struct-tab",
            "struct-std-alphabet",
            "struct-invalid-char",
            "b64-trailing-bits"
        ]),
        ["malformed"; 10]
    );
}

#[test]
fn jwe_jws_and_nested_confusion() {
    assert_eq!(
        codes(&[
            "struct-five-part-jwe",
            "struct-json-serialization",
            "struct-two-parts",
            "struct-four-parts"
        ]),
        ["malformed"; 4]
    );
    assert_eq!(
        codes(&["enc-in-jws", "zip-in-jws", "cty-jwt-nested"]),
        ["malformed"; 3]
    );
}

#[test]
fn hmac_tag_truncation_and_stripping() {
    assert_eq!(codes(&["hs-trunc16", "hs-33"]), ["bad_signature"; 2]);
    assert_eq!(codes(&["hs-empty", "struct-empty-sig"]), ["malformed"; 2]);
}

#[test]
fn key_use_and_ops_bind_the_key() {
    let mut set: KeySet<2> = KeySet::new();
    let doc = r#"{"keys":[{"kty":"oct","kid":"enc","use":"enc","k":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"}]}"#;
    let mut reasons = vec![];
    let r = set.load_jwks(doc.as_bytes(), &mut |e| {
        if let tokenguard::UpdateEvent::Skipped(s) = e {
            reasons.push(s.reason)
        }
    });
    assert_eq!(reasons, [KeyError::WrongUse]);
    // Its only key unusable, the set is refused whole (and the empty key set stays empty).
    assert!(
        matches!(r, Err(tokenguard::JwksError::Refused(ref u)) if u.outcome == tokenguard::UpdateOutcome::NoUsableKey),
        "{r:?}"
    );
    let tok = mint::hs256(
        &tokenguard_tests::unb64("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"),
        r#"{"alg":"HS256","kid":"enc"}"#,
        PAYLOAD,
    );
    assert_eq!(
        verify_both(&set, &tok, &policy(), NOW),
        Err(Error::KeyNotFound)
    );
    // A key bound to RS256 never verifies PS256.
    let n = hex(RSA_N);
    let rs = Jwk::rsa(Some(b"r"), &n, &[1, 0, 1], Some(alg::RS256)).unwrap();
    assert_eq!(rs.permits(alg::PS256), Err(Error::AlgNotAllowed));
}

/// An arbitrary odd 2048-bit modulus (no one knows its factors; only public operations).
const RSA_N: &str = "98f135d25f557203301850c5a38fd547923a736994e3bf911a61dbe22e44158bae97ba94d0eda82f8f6d05584ef8aa38922766581e27a1c08a6a63ec24ede6a46b4cb2424a23d5962217beaddbc496cb8e81973e0becd7b03898d190f9ebdacc0cb1e29c658cda1495e60af593bd04cf0fd630f1f29d0da9953f48f1a09f76b5a170b33839263059f28c105d1fb17c2390c192cfd3ac94af0f21ddb66cad4a268d116ece1738f7d93d9c172411e20b8f6b0d549b6f03675a1600a35a099950d836f675cc81e74ef5e8e25d940ed904759531985d5d9dc9f81818e811892f902bd23f0824128b2f330c5c7fd0a6a3a4506513270e269e0d37f2a74de452e6b439";

/// floor(cbrt(00 01 FF 00 || DigestInfo(SHA-256) || H(input) || FF..)), 256 bytes.
const E3_FORGED_SIG: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAMsOGJIRZEYF78SXDzxU0PO4TifjPA63I4Fs3BrSPPM54aRq6wDzDqHCIfPp88LPtHsJqAo_WIY0ZQlFsyjlK27wvzgYFRhzKk0HVx9o-59PZcK3xrw";
