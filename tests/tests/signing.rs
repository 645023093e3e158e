//! Key import (PEM/DER: PKCS#1, PKCS#8, SEC1, SPKI, X.509) and signing for every algorithm,
//! checked against the verifier on both backends and against OpenSSL's signatures.

use tokenguard::assertion::{encode, presets, Aud, Claims};
use tokenguard::crypto::{AwsLc, Ring, RustCrypto};
use tokenguard::keys;
use tokenguard::sign::{SignError, Signer, SigningKey};
use tokenguard::{alg, Algorithm, Expect, Jwk, KeyType, Validation};

fn data(name: &str) -> Vec<u8> {
    std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("data")
            .join(name),
    )
    .unwrap()
}

fn public(name: &str) -> Jwk {
    let input = data(name);
    let mut scratch = vec![0u8; 8192];
    keys::public_key(&input, &mut scratch)
        .unwrap()
        .to_jwk(None, None)
        .unwrap()
}

fn check(key: &SigningKey, verifier: &Jwk) {
    let mut sig = vec![0u8; 1024];
    let n = key.sign(b"hello", Some(&[0x5a; 64]), &mut sig).unwrap();
    for r in [
        verifier.verify_signature::<Ring>(key.alg(), b"hello", &sig[..n]),
        verifier.verify_signature::<RustCrypto>(key.alg(), b"hello", &sig[..n]),
        verifier.verify_signature::<AwsLc>(key.alg(), b"hello", &sig[..n]),
    ] {
        assert_eq!(r, Ok(()), "{:?}", key.alg());
    }
    assert!(key.public_jwk().unwrap().same_material(verifier));
}

#[test]
fn imports_every_format_and_signs() {
    let cases: &[(&str, &str, Option<Algorithm>)] = &[
        ("rsa2048.pkcs1.pem", "rsa2048.spki.pem", Some(alg::RS256)),
        ("rsa2048.pkcs8.pem", "rsa2048.cert.pem", Some(alg::PS256)),
        ("rsa2048.pkcs8.der", "rsa2048.spki.pem", Some(alg::RS384)),
        ("rsa4096.pkcs8.pem", "rsa4096.spki.pem", Some(alg::PS512)),
        ("p256.sec1.pem", "p256.spki.pem", None),
        ("p256.pkcs8.pem", "p256.cert.der", None),
        ("p384.sec1.pem", "p384.spki.pem", None),
        ("ed25519.pkcs8.pem", "ed25519.spki.pem", None),
    ];
    for (private, public_name, a) in cases {
        let key = SigningKey::from_pem_or_der(&data(private), Some(b"kid"), *a)
            .unwrap_or_else(|e| panic!("{private}: {e}"));
        check(&key.with_self_check(true), &public(public_name));
    }
    let p256 = public("p256.cert.pem");
    assert_eq!((p256.key_type(), p256.bits()), (KeyType::Ec, 256));
}

#[test]
fn rsa_pkcs1_signatures_match_openssl() {
    let msg = data("msg.txt");
    let key =
        SigningKey::from_pem_or_der(&data("rsa2048.pkcs1.pem"), None, Some(alg::RS256)).unwrap();
    let mut sig = vec![0u8; 512];
    let n = key.sign(&msg, None, &mut sig).unwrap();
    assert_eq!(&sig[..n], &data("rs256.sig")[..]);
    let key =
        SigningKey::from_pem_or_der(&data("rsa4096.pkcs8.pem"), None, Some(alg::RS512)).unwrap();
    let n = key.sign(&msg, None, &mut sig).unwrap();
    assert_eq!(&sig[..n], &data("rs512-4096.sig")[..]);
}

#[test]
fn pss_needs_entropy_and_is_randomized() {
    let key =
        SigningKey::from_pem_or_der(&data("rsa2048.pkcs1.pem"), None, Some(alg::PS256)).unwrap();
    let mut sig = vec![0u8; 256];
    assert_eq!(
        key.sign(b"m", None, &mut sig),
        Err(SignError::EntropyRequired)
    );
    assert_eq!(
        key.sign(b"m", Some(&[1; 16]), &mut sig),
        Err(SignError::EntropyRequired)
    );
    let mut a = vec![0u8; 256];
    let mut b = vec![0u8; 256];
    key.sign(b"m", Some(&[1; 32]), &mut a).unwrap();
    key.sign(b"m", Some(&[2; 32]), &mut b).unwrap();
    assert_ne!(a, b);
}

#[test]
fn key_and_alg_bind_each_other() {
    assert_eq!(
        SigningKey::from_pem_or_der(&data("p256.sec1.pem"), None, Some(alg::RS256)).unwrap_err(),
        SignError::AlgMismatch
    );
    assert_eq!(
        SigningKey::from_pem_or_der(&data("rsa2048.spki.pem"), None, None).unwrap_err(),
        SignError::Key(keys::KeyFormatError::Unsupported)
    );
    assert!(SigningKey::from_pem_or_der(
        b"-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n",
        None,
        None
    )
    .is_err());
}

#[test]
fn private_jwks_import() {
    let key = SigningKey::ec(Some(b"e"), tokenguard::Curve::P256, &[0x11; 32]).unwrap();
    let jwk = key.public_jwk().unwrap();
    let d = tokenguard_tests::b64(&[0x11; 32]);
    let pj = format!(r#"{{"kty":"EC","crv":"P-256","kid":"e","d":"{d}"}}"#);
    let from_jwk = SigningKey::from_jwk(pj.as_bytes()).unwrap();
    assert_eq!(from_jwk.alg(), alg::ES256);
    check(&from_jwk, &jwk);
    let oct = format!(
        r#"{{"kty":"oct","kid":"h","alg":"HS384","k":"{}"}}"#,
        tokenguard_tests::b64(&[3; 48])
    );
    let h = SigningKey::from_jwk(oct.as_bytes()).unwrap();
    assert_eq!(h.alg(), alg::HS384);
    let ed = format!(
        r#"{{"kty":"OKP","crv":"Ed25519","d":"{}"}}"#,
        tokenguard_tests::b64(&[4; 32])
    );
    let ed = SigningKey::from_jwk(ed.as_bytes()).unwrap();
    assert_eq!(ed.alg(), alg::EDDSA);
    // With its public member: it must be the key's own.
    let mut buf = [0u8; 256];
    let public: serde_json::Value =
        serde_json::from_str(ed.public_jwk().unwrap().to_json(&mut buf, false).unwrap()).unwrap();
    let x = public["x"].as_str().unwrap();
    let d = tokenguard_tests::b64(&[4; 32]);
    let with_x = format!(r#"{{"kty":"OKP","crv":"Ed25519","d":"{d}","x":"{x}"}}"#);
    assert_eq!(
        SigningKey::from_jwk(with_x.as_bytes()).unwrap().alg(),
        alg::EDDSA
    );
    let other_x = format!(
        r#"{{"kty":"OKP","crv":"Ed25519","d":"{d}","x":"{}"}}"#,
        tokenguard_tests::b64(&[9; 32])
    );
    assert_eq!(
        SigningKey::from_jwk(other_x.as_bytes()).unwrap_err(),
        SignError::KeyRejected(tokenguard::KeyError::KeyMismatch)
    );
}

#[test]
fn zitadel_assertion_verifies_with_the_zitadel_checks() {
    let kf: serde_json::Value =
        serde_json::from_slice(&data("zitadel-serviceaccount.json")).unwrap();
    let key = SigningKey::from_pem_or_der(
        kf["key"].as_str().unwrap().as_bytes(),
        Some(kf["keyId"].as_str().unwrap().as_bytes()),
        None,
    )
    .unwrap();
    let user = kf["userId"].as_str().unwrap();
    let issuer = "https://tokenguard.zitadel.cloud";
    let now = 1_700_000_000;
    let claims =
        presets::zitadel_service_user(user, issuer, presets::Timing::new(now, 3600)).unwrap();
    let mut buf = vec![0u8; 2048];
    let jwt = encode(&key, Some("JWT"), &claims, None, &mut buf)
        .unwrap()
        .to_owned();
    let header: serde_json::Value =
        serde_json::from_slice(&tokenguard_tests::unb64(jwt.split('.').next().unwrap())).unwrap();
    assert_eq!(
        header,
        serde_json::json!({"alg": "RS256", "typ": "JWT", "kid": "181828078849229057"})
    );
    let v = Validation::new(Expect::One(user), Expect::One(issuer))
        .subject(user)
        .leeway(1);
    let mut work = vec![0u8; jwt.len()];
    let t = tokenguard::verify_jwt::<Ring, _>(
        &key.public_jwk().unwrap(),
        jwt.as_bytes(),
        &v,
        now,
        &mut work,
    )
    .unwrap();
    let c = t.claims();
    assert!(c.iat().unwrap() <= now);
    assert!(c.exp().unwrap() - c.iat().unwrap() <= 3600);
    assert!(c.aud().unwrap().contains(issuer));
}

#[test]
fn hardware_signers_plug_in() {
    /// A stand-in for a secure element: it signs with a key it never exposes.
    struct Element(SigningKey);
    impl Signer for Element {
        fn alg(&self) -> Algorithm {
            alg::ES256
        }
        fn kid(&self) -> Option<&[u8]> {
            Some(b"se-slot-0")
        }
        fn signature_len(&self) -> usize {
            64
        }
        fn sign(
            &self,
            msg: &[u8],
            entropy: Option<&[u8]>,
            out: &mut [u8],
        ) -> Result<usize, SignError> {
            self.0.sign(msg, entropy, out)
        }
    }
    let se = Element(SigningKey::ec(None, tokenguard::Curve::P256, &[0x22; 32]).unwrap());
    let c = Claims {
        iss: Some("d"),
        aud: Aud::One("a"),
        exp: Some(2_000_000_000),
        ..Claims::EMPTY
    };
    let mut buf = [0u8; 400];
    let jwt = encode(&se, None, &c, None, &mut buf).unwrap().to_owned();
    // The verifier knows the element's public key under its kid.
    let jwk =
        se.0.clone()
            .with_kid(b"se-slot-0")
            .unwrap()
            .public_jwk()
            .unwrap();
    let v = Validation::new(Expect::One("d"), Expect::One("a"));
    let mut work = [0u8; 400];
    let t =
        tokenguard::verify_jwt::<RustCrypto, _>(&jwk, jwt.as_bytes(), &v, 1_900_000_000, &mut work)
            .unwrap();
    assert!(t.header().kid().unwrap().eq_str("se-slot-0"));
    assert_eq!(t.alg(), alg::ES256);
}
