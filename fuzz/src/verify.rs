//! `verify`: the whole input is a compact token (seeds are plain token text), verified
//! against seven keys (HS256, ES256, EdDSA, RSA-2048, ES384, ES512, ES256K) under two
//! policies.
//!
//! Properties:
//! - Backend differential: `verify_jwt::<Ring>` and `verify_jwt::<RustCrypto>` give the same
//!   result (same claims JSON, algorithm and `kid` when accepted; the same `Error` when
//!   not), except that ring refuses the algorithms it does not declare (ES512, ES256K) with
//!   `alg_not_allowed`; `Fastest` (RustCrypto's HMAC, P-521 and secp256k1, ring's other
//!   primitives) gives RustCrypto's result every time. The runs also use different buffer
//!   sizes (exactly the token's length, and twice that), so the result must not depend on
//!   the buffer once it holds the token.
//! - An accepted token satisfies the policy when re-checked here from its claims (`exp`
//!   present and in the future with leeway, `iss`, `aud`, `sub`, `typ`, allowed algorithm).
//! - An accepted token also passes `verify_jws` with the same payload, and
//!   `dangerous::decode_unverified` reads the same header algorithm and claims.

use tokenguard::crypto::{Fastest, Ring, RustCrypto};
use tokenguard::Backend;
use tokenguard::{alg, AlgSet, Error, Expect, KeySet, Validation};

use crate::{keys, AUD, ISS, NOW};

/// The corpus policy (`jwt-negative-vectors.json` meta): leeway 60 s, 4 KiB, depth 8,
/// tokens without `kid` tried against the keys that fit.
fn corpus_policy() -> Validation<'static> {
    Validation::new(Expect::One(ISS), Expect::One(AUD))
        .leeway(60)
        .max_token_len(4096)
        .max_depth(8)
        .allow_missing_kid(true)
}

/// A stricter one: asymmetric algorithms only, `typ: JWT`, `sub: u1`, max age 10 min, no
/// leeway, `kid` required.
fn strict_policy() -> Validation<'static> {
    Validation::new(
        Expect::AnyOf(&[ISS, "https://other.example"]),
        Expect::One(AUD),
    )
    .algorithms(AlgSet::from_slice(&[
        alg::RS256,
        alg::PS256,
        alg::ES256,
        alg::ES384,
        alg::EDDSA,
    ]))
    .leeway(0)
    .typ("JWT")
    .subject("u1")
    .max_age(600)
}

/// What an accepted token is compared on.
#[derive(Debug, PartialEq)]
struct Accepted {
    claims: String,
    alg: tokenguard::Algorithm,
    kid: Option<Vec<u8>>,
}

fn once<B: tokenguard::Backend>(
    set: &KeySet<7>,
    token: &[u8],
    v: &Validation<'_>,
    buf_len: usize,
) -> Result<Accepted, Error> {
    let mut buf = vec![0u8; buf_len];
    tokenguard::verify_jwt::<B, _>(set, token, v, NOW, &mut buf).map(|t| Accepted {
        claims: t.claims_json().to_owned(),
        alg: t.alg(),
        kid: t.header().kid().map(|k| k.bytes().collect()),
    })
}

/// Runs one input.
pub fn run(token: &[u8]) {
    let set = keys();
    let limits = [4096, tokenguard::DEFAULT_MAX_TOKEN_LEN];
    for ((strict, v), limit) in [(false, corpus_policy()), (true, strict_policy())]
        .into_iter()
        .zip(limits)
    {
        let a = once::<Ring>(set, token, &v, token.len());
        let b = once::<RustCrypto>(set, token, &v, 2 * token.len() + 64);
        let f = once::<Fastest>(set, token, &v, token.len() + 1);
        assert_eq!(
            f,
            b,
            "Fastest and RustCrypto (or buffer sizes) disagree, strict={strict}, token={:?}",
            String::from_utf8_lossy(token)
        );
        let ring_lacks = header_alg(token).is_some_and(|a| !Ring::ALGORITHMS.contains(a));
        if ring_lacks && a != b {
            assert_eq!(
                a,
                Err(Error::AlgNotAllowed),
                "ring on an algorithm it lacks"
            );
        } else {
            assert_eq!(
                a,
                b,
                "backends (or buffer sizes) disagree, strict={strict}, token={:?}",
                String::from_utf8_lossy(token)
            );
        }
        let a = b;
        segments_rule(token, limit, &a);
        if let Ok(acc) = a {
            accepted_is_consistent(set, token, &v, strict, &acc);
        }
    }
}

/// The `alg` the token's header names, read here without the engine.
fn header_alg(token: &[u8]) -> Option<tokenguard::Algorithm> {
    let head = token.split(|&c| c == b'.').next()?;
    let mut buf = vec![0u8; head.len()];
    let n = tokenguard::b64::decode(head, &mut buf).ok()?;
    let v: serde_json::Value = serde_json::from_slice(buf.get(..n)?).ok()?;
    tokenguard::Algorithm::from_name(v.get("alg")?.as_str()?.as_bytes())
}

/// The verifier splits at the first and last dot and leaves any dot in between to the
/// payload's base64url decoding; whatever else is wrong, the outcome must be the definition's:
/// `malformed: segments` exactly when the token is not three segments with a non-empty header
/// and signature (or a JWT with an empty payload), once it is within the length limit.
fn segments_rule(token: &[u8], limit: usize, got: &Result<Accepted, Error>) {
    if token.len() > limit {
        return;
    }
    let parts: Vec<&[u8]> = token.split(|&c| c == b'.').collect();
    let well_formed = parts.len() == 3 && parts.iter().all(|p| !p.is_empty());
    let segments = Error::Malformed(tokenguard::Malformed::Segments);
    assert_eq!(
        got.as_ref().err() == Some(&segments),
        !well_formed,
        "segments error and the token's shape disagree: {:?}",
        String::from_utf8_lossy(token)
    );
}

fn accepted_is_consistent(
    set: &KeySet<7>,
    token: &[u8],
    v: &Validation<'_>,
    strict: bool,
    acc: &Accepted,
) {
    let mut buf = vec![0u8; token.len()];
    let t = tokenguard::verify_jwt::<RustCrypto, _>(set, token, v, NOW, &mut buf)
        .expect("accepted a moment ago");
    let c = t.claims();
    let leeway = if strict { 0 } else { 60 };
    let exp = c.exp().expect("exp is required");
    assert!(NOW < exp + leeway, "accepted an expired token");
    if let Some(nbf) = c.nbf() {
        assert!(nbf <= NOW + leeway, "accepted before nbf");
    }
    if let Some(iat) = c.iat() {
        assert!(iat <= NOW + leeway, "accepted iat in the future");
    }
    assert!(c.iss().expect("iss").eq_str(ISS), "wrong iss accepted");
    assert!(c.aud().expect("aud").contains(AUD), "wrong aud accepted");
    if strict {
        assert!(c.sub().expect("sub").eq_str("u1"), "wrong sub accepted");
        assert!(
            NOW <= c.iat().expect("iat (max age)") + 600,
            "accepted beyond max age"
        );
        assert!(t.header().kid().is_some(), "accepted without kid");
        assert!(
            matches!(
                acc.alg,
                alg::RS256 | alg::PS256 | alg::ES256 | alg::ES384 | alg::EDDSA
            ),
            "algorithm outside the allow-list"
        );
        // RFC 7515 §4.1.9: case-insensitive, `application/` optional.
        let typ: String =
            String::from_utf8(t.header().typ().expect("typ checked").bytes().collect())
                .expect("JSON strings are UTF-8")
                .to_ascii_lowercase();
        assert!(
            typ == "jwt" || typ == "application/jwt",
            "typ {typ:?} accepted as JWT"
        );
    }
    // The payload through verify_jws is the same text.
    let mut buf2 = vec![0u8; token.len()];
    let jws = tokenguard::verify_jws::<Fastest, _>(set, token, v, &mut buf2)
        .expect("a verified JWT is a verified JWS");
    assert_eq!(jws.payload(), acc.claims.as_bytes());
    // Reading it without verification sees the same thing.
    let mut buf3 = vec![0u8; token.len()];
    let u = tokenguard::dangerous::decode_unverified(token, 8, &mut buf3)
        .expect("a verified token decodes");
    assert_eq!(u.header_unverified().alg(), acc.alg);
    assert_eq!(u.payload_unverified(), acc.claims.as_bytes());
    let uc = u.claims_unverified();
    assert_eq!((uc.exp(), uc.nbf(), uc.iat()), (c.exp(), c.nbf(), c.iat()));
}
