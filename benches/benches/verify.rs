//! The critical path, one criterion group per algorithm, all on the same token (~300 bytes of
//! claims with iss, sub, aud, exp, iat, nbf, jti):
//!
//! - `raw-ring`: ring verifying the signing input alone (the floor);
//! - `raw-aws-lc`: aws-lc-rs doing the same (the floor under jsonwebtoken's provider);
//! - `raw-aws-lc-parsed`: aws-lc-rs with the key parsed once (the floor under tokenguard's
//!   aws-lc backend);
//! - `tokenguard-ring`, `tokenguard-aws-lc`, `tokenguard-rustcrypto`: full-token verify with
//!   each backend; `tokenguard-fastest`: with `crypto::Fastest`, the default of hosts that build
//!   several backends (each primitive from the fastest one);
//! - `jsonwebtoken`, `jwt-simple`, `jwt-compact`: the peers' own full decode and validation,
//!   with equivalent checks (issuer, audience, `exp` and `nbf`, the algorithm pinned), where
//!   the peer has the algorithm (no peer here has ES512; jwt-simple alone has ES256K; ring has
//!   neither curve, so those groups have no `raw-ring`).
//!
//! Plus `jwks/load-10-keys` (JWK Set ingestion of a 10-key set) and `cache/get-last-of-32`
//! (a `kid` lookup in a full 32-key set). `TOKENGUARD_BENCH_REVERSE=1` runs everything in
//! reverse order (`cargo xtask bench` runs both orders and reports the spread).
//!
//! Run: `cargo bench -p tokenguard-benches --bench verify` (reads keys from
//! `../shared/vectors`; set `TOKENGUARD_VECTORS` elsewhere).

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use serde::Deserialize;
use tokenguard::crypto::{AwsLc, Fastest, Ring, RustCrypto};
use tokenguard::{Curve, KeySet};
use tokenguard_benches::{
    b64, fixture, full_keyset, jwks_10, now, Fixture, PublicKey, RawVerify, AUD, GROUPS, ISS,
};

/// A peer's full decode + validation of a token; `true` when accepted.
type PeerVerify = Box<dyn Fn(&str) -> bool>;

/// The registered claims, as a jsonwebtoken user deserializes them.
#[derive(Deserialize)]
#[allow(dead_code)]
struct Registered {
    iss: String,
    sub: String,
    aud: Vec<String>,
    exp: u64,
    iat: u64,
    nbf: u64,
    jti: String,
}

/// The claims jwt-compact leaves to the application (it types exp/nbf/iat itself).
#[derive(Deserialize)]
#[allow(dead_code)]
struct CompactCustom {
    iss: String,
    sub: String,
    aud: Vec<String>,
    jti: String,
}

/// aws-lc-rs (the crypto under jsonwebtoken's `aws_lc_rs` provider) checking the signing input
/// alone, with the same API shapes as the ring floor: the floor jsonwebtoken stands on.
fn aws_lc_raw(f: &Fixture) -> RawVerify {
    use aws_lc_rs::signature as s;
    match (&f.key, f.name) {
        (PublicKey::Rsa { n, e }, name) => {
            let (n, e) = (n.clone(), e.clone());
            let params = if name == "PS256" {
                &s::RSA_PSS_2048_8192_SHA256
            } else {
                &s::RSA_PKCS1_2048_8192_SHA256
            };
            Box::new(move |m, sig| {
                s::RsaPublicKeyComponents { n: &n, e: &e }
                    .verify(params, m, sig)
                    .is_ok()
            })
        }
        (key @ PublicKey::Ec { curve, .. }, _) => {
            let alg = match curve {
                Curve::P256 => &s::ECDSA_P256_SHA256_FIXED,
                Curve::P384 => &s::ECDSA_P384_SHA384_FIXED,
                Curve::P521 => &s::ECDSA_P521_SHA512_FIXED,
                Curve::Secp256k1 => &s::ECDSA_P256K1_SHA256_FIXED,
                other => unimplemented!("no aws-lc fixture for {other:?}"),
            };
            let pk = key.sec1();
            Box::new(move |m, sig| s::UnparsedPublicKey::new(alg, &pk).verify(m, sig).is_ok())
        }
        (PublicKey::Ed25519(pk), _) => {
            let pk = *pk;
            Box::new(move |m, sig| {
                s::UnparsedPublicKey::new(&s::ED25519, &pk)
                    .verify(m, sig)
                    .is_ok()
            })
        }
        (PublicKey::Oct(k), _) => {
            let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, k);
            Box::new(move |m, sig| aws_lc_rs::hmac::verify(&key, m, sig).is_ok())
        }
    }
}

/// A DER `RSAPublicKey` (RFC 8017 A.1.1) from big-endian `n` and `e`.
fn rsa_der(n: &[u8], e: &[u8]) -> Vec<u8> {
    fn len(out: &mut Vec<u8>, l: usize) {
        match l {
            0..=0x7f => out.push(u8::try_from(l).unwrap()),
            0x80..=0xff => out.extend([0x81, u8::try_from(l).unwrap()]),
            _ => {
                let [hi, lo] = u16::try_from(l)
                    .expect("DER length over two bytes")
                    .to_be_bytes();
                out.extend([0x82, hi, lo]);
            }
        }
    }
    fn int(v: &[u8]) -> Vec<u8> {
        let v = &v[v.iter().take_while(|&&b| b == 0).count()..];
        let mut body = Vec::new();
        if v.first().is_some_and(|&b| b & 0x80 != 0) {
            body.push(0);
        }
        body.extend_from_slice(v);
        let mut out = vec![0x02];
        len(&mut out, body.len());
        out.extend(body);
        out
    }
    let body = [int(n), int(e)].concat();
    let mut out = vec![0x30];
    len(&mut out, body.len());
    out.extend(body);
    out
}

/// aws-lc-rs with the key parsed once (`ParsedPublicKey`), as tokenguard's aws-lc backend
/// keeps it: the floor under `tokenguard-aws-lc`.
fn aws_lc_parsed(f: &Fixture) -> RawVerify {
    use aws_lc_rs::signature as s;
    let key = match (&f.key, f.name) {
        (PublicKey::Rsa { n, e }, name) => {
            let params = if name == "PS256" {
                &s::RSA_PSS_2048_8192_SHA256
            } else {
                &s::RSA_PKCS1_2048_8192_SHA256
            };
            s::ParsedPublicKey::new(params, rsa_der(n, e))
        }
        (key @ PublicKey::Ec { curve, .. }, _) => {
            let alg = match curve {
                Curve::P256 => &s::ECDSA_P256_SHA256_FIXED,
                Curve::P384 => &s::ECDSA_P384_SHA384_FIXED,
                Curve::P521 => &s::ECDSA_P521_SHA512_FIXED,
                Curve::Secp256k1 => &s::ECDSA_P256K1_SHA256_FIXED,
                other => unimplemented!("no aws-lc fixture for {other:?}"),
            };
            s::ParsedPublicKey::new(alg, key.sec1())
        }
        (PublicKey::Ed25519(pk), _) => s::ParsedPublicKey::new(&s::ED25519, pk),
        // HMAC: the key is prepared once in `aws_lc_raw` already.
        (PublicKey::Oct(_), _) => return aws_lc_raw(f),
    }
    .expect("aws-lc parses the fixture key");
    Box::new(move |m, sig| key.verify_sig(m, sig).is_ok())
}

/// jsonwebtoken: `None` where it lacks the algorithm (ES512, ES256K).
fn jsonwebtoken_verify(f: &Fixture) -> Option<PeerVerify> {
    use jsonwebtoken::{Algorithm as A, DecodingKey, Validation};
    let alg = match f.name {
        "RS256" | "RS256-4096" => A::RS256,
        "PS256" => A::PS256,
        "ES256" => A::ES256,
        "ES384" => A::ES384,
        "EdDSA" => A::EdDSA,
        "HS256" => A::HS256,
        _ => return None,
    };
    let key = match &f.key {
        PublicKey::Rsa { n, e } => DecodingKey::from_rsa_raw_components(n, e),
        PublicKey::Ec { x, y, .. } => {
            DecodingKey::from_ec_components(&b64(x), &b64(y)).expect("ec key")
        }
        PublicKey::Ed25519(pk) => DecodingKey::from_ed_components(&b64(pk)).expect("ed key"),
        PublicKey::Oct(k) => DecodingKey::from_secret(k).expect("hmac key"),
    };
    // Pinned to one algorithm; `exp` required (the default), `nbf` checked, leeway 60 s.
    let mut v = Validation::new(alg);
    v.set_issuer(&[ISS]);
    v.set_audience(&[AUD]);
    v.validate_nbf = true;
    Some(Box::new(move |t| {
        jsonwebtoken::decode::<Registered>(t, &key, &v).is_ok()
    }))
}

/// jwt-simple: `None` where it lacks the algorithm (ES512).
fn jwt_simple_verify(f: &Fixture) -> Option<PeerVerify> {
    use jwt_simple::prelude::*;
    let opts = VerificationOptions {
        allowed_issuers: Some(HashSet::from([ISS.to_string()])),
        allowed_audiences: Some(HashSet::from([AUD.to_string()])),
        ..Default::default()
    };
    // The key type pins the algorithm; `exp`/`nbf`/`iat` are checked against the clock.
    Some(match (&f.key, f.name) {
        (PublicKey::Rsa { n, e }, "PS256") => {
            let k = PS256PublicKey::from_components(n, e).expect("ps256 key");
            Box::new(move |t| {
                k.verify_token::<NoCustomClaims>(t, Some(opts.clone()))
                    .is_ok()
            })
        }
        (PublicKey::Rsa { n, e }, _) => {
            let k = RS256PublicKey::from_components(n, e).expect("rs256 key");
            Box::new(move |t| {
                k.verify_token::<NoCustomClaims>(t, Some(opts.clone()))
                    .is_ok()
            })
        }
        (
            key @ PublicKey::Ec {
                curve: Curve::P256, ..
            },
            _,
        ) => {
            let k = ES256PublicKey::from_bytes(&key.sec1()).expect("es256 key");
            Box::new(move |t| {
                k.verify_token::<NoCustomClaims>(t, Some(opts.clone()))
                    .is_ok()
            })
        }
        (
            key @ PublicKey::Ec {
                curve: Curve::P384, ..
            },
            _,
        ) => {
            let k = ES384PublicKey::from_bytes(&key.sec1()).expect("es384 key");
            Box::new(move |t| {
                k.verify_token::<NoCustomClaims>(t, Some(opts.clone()))
                    .is_ok()
            })
        }
        (
            key @ PublicKey::Ec {
                curve: Curve::Secp256k1,
                ..
            },
            _,
        ) => {
            let k = ES256kPublicKey::from_bytes(&key.sec1()).expect("es256k key");
            Box::new(move |t| {
                k.verify_token::<NoCustomClaims>(t, Some(opts.clone()))
                    .is_ok()
            })
        }
        (PublicKey::Ec { .. }, _) => return None,
        (PublicKey::Ed25519(pk), _) => {
            let k = Ed25519PublicKey::from_bytes(pk).expect("ed25519 key");
            Box::new(move |t| {
                k.verify_token::<NoCustomClaims>(t, Some(opts.clone()))
                    .is_ok()
            })
        }
        (PublicKey::Oct(s), _) => {
            let k = HS256Key::from_bytes(s);
            Box::new(move |t| {
                k.verify_token::<NoCustomClaims>(t, Some(opts.clone()))
                    .is_ok()
            })
        }
    })
}

/// jwt-compact: `None` where it lacks the algorithm (ES384, ES512; ES256K only through the
/// C library secp256k1, not built here).
fn jwt_compact_verify(f: &Fixture) -> Option<PeerVerify> {
    use jwt_compact::alg::{Ed25519, Es256, Hs256, Hs256Key, Rsa, RsaPublicKey};
    use jwt_compact::jwk::JsonWebKey;
    use jwt_compact::{Algorithm, AlgorithmExt, TimeOptions, Token, UntrustedToken};

    fn checked<A>(alg: A, key: A::VerifyingKey) -> PeerVerify
    where
        A: Algorithm + 'static,
        A::VerifyingKey: 'static,
    {
        let time = TimeOptions::default(); // leeway 60 s, the system clock
        Box::new(move |t| {
            let Ok(untrusted) = UntrustedToken::new(t) else {
                return false;
            };
            let Ok(token): Result<Token<CompactCustom>, _> =
                alg.validator::<CompactCustom>(&key).validate(&untrusted)
            else {
                return false;
            };
            let c = token.claims();
            c.validate_expiration(&time).is_ok()
                && c.validate_maturity(&time).is_ok()
                && c.custom.iss == ISS
                && c.custom.aud.iter().any(|a| a == AUD)
        })
    }

    let jwk_json = f.key.jwk_json(f.kid, f.alg_name);
    let jwk: JsonWebKey<'_> = serde_json::from_str(&jwk_json).expect("jwk");
    Some(match (&f.key, f.name) {
        (PublicKey::Rsa { .. }, name) => {
            let key = RsaPublicKey::try_from(&jwk).expect("rsa key");
            let alg = if name == "PS256" {
                Rsa::ps256()
            } else {
                Rsa::rs256()
            };
            checked(alg, key)
        }
        (
            PublicKey::Ec {
                curve: Curve::P256, ..
            },
            _,
        ) => {
            let key = <Es256 as Algorithm>::VerifyingKey::try_from(&jwk).expect("p256 key");
            checked(Es256, key)
        }
        (PublicKey::Ec { .. }, _) => return None,
        (PublicKey::Ed25519(_), _) => {
            let key = <Ed25519 as Algorithm>::VerifyingKey::try_from(&jwk).expect("ed key");
            checked(Ed25519, key)
        }
        (PublicKey::Oct(s), _) => checked(Hs256, Hs256Key::new(s)),
    })
}

fn reversed() -> bool {
    std::env::var("TOKENGUARD_BENCH_REVERSE").is_ok_and(|v| v == "1")
}

fn algorithms(c: &mut Criterion) {
    let mut groups: Vec<&str> = GROUPS.to_vec();
    if reversed() {
        groups.reverse();
    }
    let t0 = now();
    for name in groups {
        let f = fixture(name);
        let v = f.validation();
        let (input, sig) = f.split();
        let token = f.token.as_str();
        let mut buf = vec![0u8; token.len()];
        let tg_ring = |buf: &mut [u8]| {
            f.ring_keys
                .verify_with::<Ring>(black_box(token.as_bytes()), &v, t0, buf)
                .is_ok()
        };
        let tg_aws = |buf: &mut [u8]| {
            f.keys
                .verify_with::<AwsLc>(black_box(token.as_bytes()), &v, t0, buf)
                .is_ok()
        };
        let tg_rc = |buf: &mut [u8]| {
            f.keys
                .verify_with::<RustCrypto>(black_box(token.as_bytes()), &v, t0, buf)
                .is_ok()
        };
        let tg_fast = |buf: &mut [u8]| {
            f.keys
                .verify_with::<Fastest>(black_box(token.as_bytes()), &v, t0, buf)
                .is_ok()
        };
        // Every implementation accepts the token once before timing: no error path is timed.
        // ring has neither P-521 nor secp256k1: its backend refuses those keys.
        let ring_has = f.raw.is_some();
        if let Some(raw) = &f.raw {
            assert!(raw(input.as_bytes(), &sig), "{name}: raw ring");
        }
        assert_eq!(tg_ring(&mut buf), ring_has, "{name}: tokenguard (ring)");
        assert!(tg_rc(&mut buf), "{name}: tokenguard (rustcrypto)");
        assert!(tg_aws(&mut buf), "{name}: tokenguard (aws-lc)");
        assert!(tg_fast(&mut buf), "{name}: tokenguard (fastest)");
        let aws_raw = aws_lc_raw(&f);
        assert!(aws_raw(input.as_bytes(), &sig), "{name}: raw aws-lc");
        let aws_parsed = aws_lc_parsed(&f);
        assert!(
            aws_parsed(input.as_bytes(), &sig),
            "{name}: raw aws-lc, parsed key"
        );
        let peers: Vec<(&str, PeerVerify)> = [
            ("jsonwebtoken", jsonwebtoken_verify(&f)),
            ("jwt-simple", jwt_simple_verify(&f)),
            ("jwt-compact", jwt_compact_verify(&f)),
        ]
        .into_iter()
        .filter_map(|(n, p)| Some((n, p?)))
        .collect();
        for (peer, check) in &peers {
            assert!(check(token), "{name}: {peer} rejects the token");
        }

        let mut g = c.benchmark_group(name);
        let mut order: Vec<usize> = (0..7 + peers.len()).collect();
        if reversed() {
            order.reverse();
        }
        for i in order {
            match i {
                0 => match &f.raw {
                    Some(raw) => g.bench_function("raw-ring", |b| {
                        b.iter(|| assert!(raw(black_box(input.as_bytes()), &sig)))
                    }),
                    None => &mut g,
                },
                1 if ring_has => {
                    g.bench_function("tokenguard-ring", |b| b.iter(|| tg_ring(&mut buf)))
                }
                1 => &mut g,
                2 => g.bench_function("tokenguard-rustcrypto", |b| b.iter(|| tg_rc(&mut buf))),
                3 => g.bench_function("raw-aws-lc", |b| {
                    b.iter(|| assert!(aws_raw(black_box(input.as_bytes()), &sig)))
                }),
                4 => g.bench_function("tokenguard-aws-lc", |b| b.iter(|| tg_aws(&mut buf))),
                5 => g.bench_function("raw-aws-lc-parsed", |b| {
                    b.iter(|| assert!(aws_parsed(black_box(input.as_bytes()), &sig)))
                }),
                6 => g.bench_function("tokenguard-fastest", |b| b.iter(|| tg_fast(&mut buf))),
                i => {
                    let (peer, check) = &peers[i - 7];
                    g.bench_function(*peer, |b| b.iter(|| check(black_box(token))))
                }
            };
        }
        g.finish();
    }
}

fn jwks_and_cache(c: &mut Criterion) {
    let doc = jwks_10();
    // Built for `Fastest`, as the host tools use it: each RSA and EC key is also parsed by
    // AWS-LC, once, at load.
    let mut probe: KeySet<16, Fastest> = KeySet::new();
    let report = probe.load_jwks(doc.as_bytes(), &mut |_| {}).expect("jwks");
    assert_eq!(
        (report.loaded, report.skipped),
        (10, 0),
        "the 10-key set loads whole"
    );
    let mut g = c.benchmark_group("jwks");
    g.bench_function("load-10-keys", |b| {
        b.iter_batched_ref(
            KeySet::<16, Fastest>::new,
            |set| {
                set.load_jwks(black_box(doc.as_bytes()), &mut |_| {})
                    .is_ok()
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();

    let full = full_keyset();
    assert!(full.get(b"key-31").is_some());
    let mut g = c.benchmark_group("cache");
    g.bench_function("get-last-of-32", |b| {
        b.iter(|| full.get(black_box(b"key-31")).is_some())
    });
    g.finish();
}

fn all(c: &mut Criterion) {
    if reversed() {
        jwks_and_cache(c);
        algorithms(c);
    } else {
        algorithms(c);
        jwks_and_cache(c);
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30);
    targets = all
}
criterion_main!(benches);
