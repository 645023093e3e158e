//! Wycheproof primitive vectors through `Jwk::verify_signature`, on every backend that
//! declares the algorithm, which must agree on every case: ECDSA P-256/P-384/P-521 and
//! secp256k1 (P1363 `r || s`), RSA PKCS#1 v1.5 and PSS
//! (2048-4096 bits), Ed25519, HMAC-SHA-256/384/512.
//!
//! Scope decisions (JWS rules, not gaps): HMAC groups with truncated tags are not JWS
//! (RFC 7518 §3.2 uses the full tag) and are checked to be refused; HMAC keys shorter than
//! the hash output are refused at import (RFC 7518 §3.2).

use tokenguard::crypto::{AwsLc, Fastest, Ring, RustCrypto};
use tokenguard::{alg, Algorithm, Backend, Curve, Error, Jwk, KeyError};
use tokenguard_tests::{fixed, hex, load, minimal};

#[derive(Default, Debug)]
struct Tally {
    valid: usize,
    invalid: usize,
    acceptable: usize,
}

/// Runs one vector on every backend that declares the algorithm (ring has no P-521 or
/// secp256k1) and on `Fastest`; asserts agreement and the expected result.
fn run(key: &Jwk, a: Algorithm, t: &serde_json::Value, tally: &mut Tally, what: &str) {
    let msg = hex(t["msg"].as_str().unwrap());
    let sig = hex(t["sig"].as_str().or(t["tag"].as_str()).unwrap());
    let c = key.verify_signature::<RustCrypto>(a, &msg, &sig);
    let w = key.verify_signature::<AwsLc>(a, &msg, &sig);
    let tc = &t["tcId"];
    assert_eq!(c, w, "{what} tcId {tc}: rustcrypto and aws-lc disagree");
    // The host default routes each primitive to one of them: the same verdicts.
    let f = key.verify_signature::<Fastest>(a, &msg, &sig);
    assert_eq!(f, c, "{what} tcId {tc}: fastest and rustcrypto disagree");
    if Ring::ALGORITHMS.contains(a) {
        let r = key.verify_signature::<Ring>(a, &msg, &sig);
        assert_eq!(r, c, "{what} tcId {tc}: ring and rustcrypto disagree");
    }
    let r = c;
    match t["result"].as_str().unwrap() {
        "valid" => {
            assert_eq!(r, Ok(()), "{what} tcId {tc} {}", t["comment"]);
            tally.valid += 1;
        }
        "invalid" => {
            assert_eq!(
                r,
                Err(Error::BadSignature),
                "{what} tcId {tc} {}",
                t["comment"]
            );
            tally.invalid += 1;
        }
        _ => tally.acceptable += 1,
    }
}

fn ecdsa(file: &str, curve: Curve, a: Algorithm) -> Tally {
    let doc = load(file);
    let mut tally = Tally::default();
    for g in doc["testGroups"].as_array().unwrap() {
        let pk = &g["publicKey"];
        let cl = curve.coord_len();
        let x = fixed(&hex(pk["wx"].as_str().unwrap()), cl).unwrap();
        let y = fixed(&hex(pk["wy"].as_str().unwrap()), cl).unwrap();
        let key = Jwk::ec(None, curve, &x, &y, Some(a))
            .unwrap_or_else(|e| panic!("{file}: key refused: {e:?}"));
        for t in g["tests"].as_array().unwrap() {
            run(&key, a, t, &mut tally, file);
        }
    }
    tally
}

#[test]
fn ecdsa_p256_p1363() {
    let t = ecdsa(
        "wycheproof/ecdsa_secp256r1_sha256_p1363_test.json",
        Curve::P256,
        alg::ES256,
    );
    assert_eq!((t.valid, t.invalid, t.acceptable), (173, 89, 0));
}

/// ES512: P-521 with SHA-512 (RFC 7518 §3.4), on rustcrypto (`p521`) and aws-lc.
#[test]
fn ecdsa_p521_p1363() {
    let t = ecdsa(
        "wycheproof/ecdsa_secp521r1_sha512_p1363_test.json",
        Curve::P521,
        alg::ES512,
    );
    assert!(
        t.valid > 100 && t.invalid > 50 && t.acceptable == 0,
        "{t:?}"
    );
}

/// ES256K: secp256k1 with SHA-256 (RFC 8812), on rustcrypto (`k256`, high S accepted like
/// Wycheproof's P1363 file wants) and aws-lc.
#[test]
fn ecdsa_secp256k1_p1363() {
    let t = ecdsa(
        "wycheproof/ecdsa_secp256k1_sha256_p1363_test.json",
        Curve::Secp256k1,
        alg::ES256K,
    );
    assert!(
        t.valid > 100 && t.invalid > 50 && t.acceptable == 0,
        "{t:?}"
    );
}

#[test]
fn ecdsa_p384_p1363() {
    let t = ecdsa(
        "wycheproof/ecdsa_secp384r1_sha384_p1363_test.json",
        Curve::P384,
        alg::ES384,
    );
    assert!(t.valid > 100 && t.invalid > 50, "{t:?}");
}

fn rsa(file: &str, a: Algorithm) -> Tally {
    let doc = load(file);
    let mut tally = Tally::default();
    for g in doc["testGroups"].as_array().unwrap() {
        let pk = &g["publicKey"];
        let n = hex(pk["modulus"].as_str().unwrap());
        let e = hex(pk["publicExponent"].as_str().unwrap());
        let key = Jwk::rsa(None, minimal(&n), minimal(&e), Some(a))
            .unwrap_or_else(|err| panic!("{file}: key refused: {err:?}"));
        for t in g["tests"].as_array().unwrap() {
            run(&key, a, t, &mut tally, file);
        }
    }
    tally
}

#[test]
fn rsa_pkcs1_v15() {
    for (bits, sha, a) in [
        (2048, 256, alg::RS256),
        (2048, 384, alg::RS384),
        (2048, 512, alg::RS512),
        (3072, 256, alg::RS256),
        (3072, 384, alg::RS384),
        (3072, 512, alg::RS512),
        (4096, 256, alg::RS256),
        (4096, 384, alg::RS384),
        (4096, 512, alg::RS512),
    ] {
        let t = rsa(
            &format!("wycheproof/rsa_signature_{bits}_sha{sha}_test.json"),
            a,
        );
        assert!(t.valid >= 5 && t.invalid >= 100, "{bits}/{sha}: {t:?}");
    }
}

#[test]
fn rsa_pss() {
    for (file, a) in [
        ("rsa_pss_2048_sha256_mgf1_32_test.json", alg::PS256),
        ("rsa_pss_2048_sha384_mgf1_48_test.json", alg::PS384),
        ("rsa_pss_3072_sha256_mgf1_32_test.json", alg::PS256),
        ("rsa_pss_4096_sha256_mgf1_32_test.json", alg::PS256),
        ("rsa_pss_4096_sha384_mgf1_48_test.json", alg::PS384),
        ("rsa_pss_4096_sha512_mgf1_64_test.json", alg::PS512),
    ] {
        let t = rsa(&format!("wycheproof/{file}"), a);
        assert!(t.valid >= 5 && t.invalid >= 5, "{file}: {t:?}");
    }
}

#[test]
fn ed25519() {
    let doc = load("wycheproof/ed25519_test.json");
    let mut tally = Tally::default();
    for g in doc["testGroups"].as_array().unwrap() {
        let pk: [u8; 32] = hex(g["publicKey"]["pk"].as_str().unwrap())
            .try_into()
            .unwrap();
        let key = Jwk::ed25519(None, &pk, Some(alg::EDDSA)).unwrap();
        for t in g["tests"].as_array().unwrap() {
            run(&key, alg::EDDSA, t, &mut tally, "ed25519");
        }
    }
    assert_eq!((tally.valid, tally.invalid), (88, 63));
}

#[test]
fn hmac() {
    for (sha, a) in [(256usize, alg::HS256), (384, alg::HS384), (512, alg::HS512)] {
        let doc = load(&format!("wycheproof/hmac_sha{sha}_test.json"));
        let mut tally = Tally::default();
        let (mut refused_keys, mut truncated) = (0, 0);
        for g in doc["testGroups"].as_array().unwrap() {
            let key_bits = usize::try_from(g["keySize"].as_u64().unwrap()).unwrap();
            let tag_bits = usize::try_from(g["tagSize"].as_u64().unwrap()).unwrap();
            for t in g["tests"].as_array().unwrap() {
                let k = hex(t["key"].as_str().unwrap());
                let key = Jwk::hmac(None, &k, a);
                if key_bits < sha {
                    assert_eq!(key.unwrap_err(), KeyError::SymmetricKeySize);
                    refused_keys += 1;
                    continue;
                }
                let key = key.unwrap();
                if tag_bits < sha {
                    // A truncated tag is never a valid JWS signature.
                    let msg = hex(t["msg"].as_str().unwrap());
                    let tag = hex(t["tag"].as_str().unwrap());
                    assert_eq!(
                        key.verify_signature::<Ring>(a, &msg, &tag),
                        Err(Error::BadSignature)
                    );
                    assert_eq!(
                        key.verify_signature::<RustCrypto>(a, &msg, &tag),
                        Err(Error::BadSignature)
                    );
                    assert_eq!(
                        key.verify_signature::<AwsLc>(a, &msg, &tag),
                        Err(Error::BadSignature)
                    );
                    truncated += 1;
                    continue;
                }
                run(&key, a, t, &mut tally, "hmac");
            }
        }
        assert!(
            tally.valid > 0 && tally.invalid > 0 && refused_keys > 0 && truncated > 0,
            "{sha}: {tally:?}"
        );
    }
}
