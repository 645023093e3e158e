//! The critical path: full-token verification (split, base64url, JSON header and claims,
//! signature) against raw ring verifying the same signing input.
//!
//! Run: `cargo bench -p tokenguard-benches --bench verify` (reads keys from
//! `../shared/vectors`; set `TOKENGUARD_VECTORS` elsewhere).

use std::path::PathBuf;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use ring::rand::SystemRandom;
use ring::signature::{self, KeyPair};
use tokenguard::crypto::{Ring, RustCrypto};
use tokenguard::{Expect, Jwk, KeySet, Validation};

const NOW: u64 = 1_700_000_300;

/// About 300 bytes of claims with every registered claim.
fn claims() -> String {
    let c = r#"{"iss":"https://issuer.example.com/tenant/7f3c2a","sub":"device-0042@fleet.example.com","aud":["device-api","telemetry"],"exp":1700003600,"iat":1700000000,"nbf":1700000000,"jti":"7b1f6c2e-9a4d-4c1b-8e2f-3d5a6b7c8d9e","scope":"telemetry:write config:read","tenant":"acme-industrial","role":"sensor"}"#;
    c.to_owned()
}

fn b64(d: &[u8]) -> String {
    let mut out = vec![0u8; tokenguard::b64::encoded_len(d.len())];
    tokenguard::b64::encode(d, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

fn unb64(s: &str) -> Vec<u8> {
    let mut out = vec![0u8; s.len()];
    let n = tokenguard::b64::decode(s.as_bytes(), &mut out).unwrap();
    out.truncate(n);
    out
}

fn vectors() -> PathBuf {
    std::env::var("TOKENGUARD_VECTORS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/vectors"))
}

type RawVerify = Box<dyn Fn(&[u8], &[u8]) -> bool>;

struct Case {
    name: &'static str,
    token: String,
    keys: KeySet<4>,
    raw: RawVerify,
}

fn signing_input(alg: &str, kid: &str) -> String {
    let h = format!(r#"{{"alg":"{alg}","typ":"JWT","kid":"{kid}"}}"#);
    format!("{}.{}", b64(h.as_bytes()), b64(claims().as_bytes()))
}

fn split(token: &str) -> (&str, Vec<u8>) {
    let (input, sig) = token.rsplit_once('.').unwrap();
    (input, unb64(sig))
}

fn rs256() -> Case {
    // The Wycheproof JWS RS256 test key (2048 bits), read from ../shared/vectors.
    let text =
        std::fs::read_to_string(vectors().join("wycheproof/json_web_signature_test.json")).unwrap();
    let start = text
        .find(r#""comment" : "rs256""#)
        .or_else(|| text.find(r#""comment": "rs256""#))
        .unwrap();
    let field = |name: &str| -> Vec<u8> {
        let pat = format!(r#""{name}" : ""#);
        let pat2 = format!(r#""{name}": ""#);
        let at = text[start..]
            .find(&pat)
            .map(|i| i + pat.len())
            .or_else(|| text[start..].find(&pat2).map(|i| i + pat2.len()))
            .unwrap();
        let s = &text[start + at..];
        unb64(&s[..s.find('"').unwrap()])
    };
    let (n, e, d, p, q, dp, dq, qi) = (
        field("n"),
        field("e"),
        field("d"),
        field("p"),
        field("q"),
        field("dp"),
        field("dq"),
        field("qi"),
    );
    let pair = signature::RsaKeyPair::from_components(&ring::rsa::KeyPairComponents {
        public_key: ring::rsa::PublicKeyComponents { n: &n, e: &e },
        d: &d,
        p: &p,
        q: &q,
        dP: &dp,
        dQ: &dq,
        qInv: &qi,
    })
    .unwrap();
    let input = signing_input("RS256", "rsa");
    let mut sig = vec![0u8; pair.public().modulus_len()];
    pair.sign(
        &signature::RSA_PKCS1_SHA256,
        &SystemRandom::new(),
        input.as_bytes(),
        &mut sig,
    )
    .unwrap();
    let mut keys = KeySet::new();
    keys.insert(Jwk::rsa(Some(b"rsa"), &n, &e, Some(tokenguard::alg::RS256)).unwrap())
        .unwrap();
    let (nn, ee) = (n.clone(), e.clone());
    Case {
        name: "RS256",
        token: format!("{input}.{}", b64(&sig)),
        keys,
        raw: Box::new(move |m, s| {
            signature::RsaPublicKeyComponents { n: &nn, e: &ee }
                .verify(&signature::RSA_PKCS1_2048_8192_SHA256, m, s)
                .is_ok()
        }),
    }
}

fn es256() -> Case {
    let rng = SystemRandom::new();
    let a = &signature::ECDSA_P256_SHA256_FIXED_SIGNING;
    let pkcs8 = signature::EcdsaKeyPair::generate_pkcs8(a, &rng).unwrap();
    let pair = signature::EcdsaKeyPair::from_pkcs8(a, pkcs8.as_ref(), &rng).unwrap();
    let input = signing_input("ES256", "ec");
    let sig = pair.sign(&rng, input.as_bytes()).unwrap();
    let pk = pair.public_key().as_ref().to_vec();
    let mut keys = KeySet::new();
    keys.insert(
        Jwk::ec(
            Some(b"ec"),
            tokenguard::Curve::P256,
            &pk[1..33],
            &pk[33..],
            Some(tokenguard::alg::ES256),
        )
        .unwrap(),
    )
    .unwrap();
    Case {
        name: "ES256",
        token: format!("{input}.{}", b64(sig.as_ref())),
        keys,
        raw: Box::new(move |m, s| {
            signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, &pk)
                .verify(m, s)
                .is_ok()
        }),
    }
}

fn eddsa() -> Case {
    let pkcs8 = signature::Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
    let pair = signature::Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
    let input = signing_input("EdDSA", "ed");
    let sig = pair.sign(input.as_bytes());
    let pk: [u8; 32] = pair.public_key().as_ref().try_into().unwrap();
    let mut keys = KeySet::new();
    keys.insert(Jwk::ed25519(Some(b"ed"), &pk, Some(tokenguard::alg::EDDSA)).unwrap())
        .unwrap();
    Case {
        name: "EdDSA",
        token: format!("{input}.{}", b64(sig.as_ref())),
        keys,
        raw: Box::new(move |m, s| {
            signature::UnparsedPublicKey::new(&signature::ED25519, &pk)
                .verify(m, s)
                .is_ok()
        }),
    }
}

fn hs256() -> Case {
    let secret = [0x5au8; 32];
    let input = signing_input("HS256", "hs");
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &secret);
    let tag = ring::hmac::sign(&key, input.as_bytes());
    let mut keys = KeySet::new();
    keys.insert(Jwk::hmac(Some(b"hs"), &secret, tokenguard::alg::HS256).unwrap())
        .unwrap();
    Case {
        name: "HS256",
        token: format!("{input}.{}", b64(tag.as_ref())),
        keys,
        // The floor: ring's HMAC with the key prepared once, as ring users do.
        raw: Box::new(move |m, s| ring::hmac::verify(&key, m, s).is_ok()),
    }
}

fn bench(c: &mut Criterion) {
    let v = Validation::new(
        Expect::One("https://issuer.example.com/tenant/7f3c2a"),
        Expect::One("device-api"),
    );
    for case in [rs256(), es256(), eddsa(), hs256()] {
        let (input, sig) = split(&case.token);
        assert!(
            (case.raw)(input.as_bytes(), &sig),
            "{}: raw verify",
            case.name
        );
        let mut buf = vec![0u8; case.token.len()];
        case.keys
            .verify_with::<Ring>(case.token.as_bytes(), &v, NOW, &mut buf)
            .unwrap();
        case.keys
            .verify_with::<RustCrypto>(case.token.as_bytes(), &v, NOW, &mut buf)
            .unwrap();
        let mut g = c.benchmark_group(case.name);
        g.bench_function(BenchmarkId::new("raw-ring", "signing-input"), |b| {
            b.iter(|| assert!((case.raw)(std::hint::black_box(input.as_bytes()), &sig)))
        });
        g.bench_function(BenchmarkId::new("tokenguard-ring", "full-token"), |b| {
            b.iter(|| {
                case.keys
                    .verify_with::<Ring>(
                        std::hint::black_box(case.token.as_bytes()),
                        &v,
                        NOW,
                        &mut buf,
                    )
                    .is_ok()
            })
        });
        g.bench_function(
            BenchmarkId::new("tokenguard-rustcrypto", "full-token"),
            |b| {
                b.iter(|| {
                    case.keys
                        .verify_with::<RustCrypto>(
                            std::hint::black_box(case.token.as_bytes()),
                            &v,
                            NOW,
                            &mut buf,
                        )
                        .is_ok()
                })
            },
        );
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(40);
    targets = bench
}
criterion_main!(benches);
