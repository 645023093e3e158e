//! `assertion`: `tokenguard::assertion::encode` with an HMAC `SigningKey` on arbitrary
//! claims (any Unicode, control characters, quotes; integers; booleans; extra claim names,
//! including registered and repeated ones), decoded with `arbitrary`.
//!
//! Properties:
//! - Errors only from the documented set: `Claims` exactly when an extra claim repeats a
//!   registered name or another extra name; otherwise a large buffer gives a token.
//! - Never a truncated token: a buffer one or more bytes short of the token is
//!   `BufferTooSmall`; exactly the token's length gives the same token.
//! - The output is a compact JWS of three base64url segments whose header and payload
//!   serde_json reads as exactly the values given (escaping is right), nothing more.
//! - tokenguard verifies it with the signer's public JWK: accepted when the time claims hold
//!   at the chosen `now`, `expired` when `exp` has passed, `invalid_claim` (the first in
//!   document order) for a NumericDate beyond year 9999; the verified claims are the payload.

use arbitrary::{Arbitrary, Unstructured};
use serde_json::{json, Map, Value};
use tokenguard::assertion::{encode, Aud, ClaimValue, Claims};
use tokenguard::crypto::RustCrypto;
use tokenguard::sign::{SignError, SigningKey};
use tokenguard::{alg, Claim, Error, Expect, Validation, MAX_NUMERIC_DATE};

#[derive(Arbitrary, Debug)]
enum AudIn {
    None,
    One(String),
    Many(Vec<String>),
}

#[derive(Arbitrary, Debug)]
enum Val {
    Str(String),
    Int(i64),
    Bool(bool),
}

/// A NumericDate: mostly in range, sometimes anything.
#[derive(Arbitrary, Debug, Clone, Copy)]
enum Time {
    Near(u32),
    Any(u64),
}

impl Time {
    fn get(self) -> u64 {
        match self {
            Time::Near(t) => u64::from(t) + 1_600_000_000,
            Time::Any(t) => t,
        }
    }
}

#[derive(Arbitrary, Debug)]
struct Input {
    alg: u8,
    kid: Option<String>,
    typ: Option<String>,
    iss: Option<String>,
    sub: Option<String>,
    aud: AudIn,
    iat: Option<Time>,
    nbf: Option<Time>,
    exp: Option<Time>,
    jti: Option<String>,
    extra: Vec<(String, Val)>,
    short: u8,
}

const REGISTERED: [&str; 7] = ["iss", "sub", "aud", "iat", "nbf", "exp", "jti"];

/// Runs one input.
pub fn run(data: &[u8]) {
    let Ok(inp) = Input::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    let a = [alg::HS256, alg::HS384, alg::HS512][usize::from(inp.alg % 3)];
    let mut secret = [0u8; 64];
    secret[..32].copy_from_slice(&crate::HS1_SECRET);
    secret[32..].copy_from_slice(&crate::HS1_SECRET);
    let key = match SigningKey::hmac(inp.kid.as_deref().map(str::as_bytes), &secret, a) {
        Ok(k) => k,
        Err(e) => {
            let len = inp.kid.as_ref().map_or(0, String::len);
            assert!(len > tokenguard::MAX_KID_LEN, "HMAC key refused: {e:?}");
            return;
        }
    };
    let aud_many: Vec<&str> = match &inp.aud {
        AudIn::Many(v) => v.iter().map(String::as_str).collect(),
        _ => Vec::new(),
    };
    let extra: Vec<(&str, ClaimValue<'_>)> = inp
        .extra
        .iter()
        .map(|(n, v)| {
            (
                n.as_str(),
                match v {
                    Val::Str(s) => ClaimValue::Str(s),
                    Val::Int(i) => ClaimValue::Int(*i),
                    Val::Bool(b) => ClaimValue::Bool(*b),
                },
            )
        })
        .collect();
    let t = |x: Option<Time>| x.map(Time::get);
    let claims = Claims {
        iss: inp.iss.as_deref(),
        sub: inp.sub.as_deref(),
        aud: match &inp.aud {
            AudIn::None => Aud::None,
            AudIn::One(s) => Aud::One(s),
            AudIn::Many(_) => Aud::Many(&aud_many),
        },
        iat: t(inp.iat),
        nbf: t(inp.nbf),
        exp: t(inp.exp),
        jti: inp.jti.as_deref(),
        extra: &extra,
    };
    let names_clash = extra
        .iter()
        .enumerate()
        .any(|(i, (n, _))| REGISTERED.contains(n) || extra.iter().skip(i + 1).any(|(m, _)| m == n));

    // A buffer big enough for anything: every byte escaped as \u00XX, then base64url.
    let input_len: usize = data.len() + 64;
    let mut big = vec![0u8; (input_len * 6 + 512) * 4 / 3 + 256];
    let r = encode(&key, inp.typ.as_deref(), &claims, None, &mut big);
    let tok = match r {
        Err(SignError::Claims(_)) if names_clash => return,
        Ok(_) if names_clash => panic!("repeated claim names accepted"),
        Ok(tok) => tok.to_owned(),
        Err(e) => panic!("undocumented error {e:?}"),
    };
    // Exact-size and short buffers.
    let mut exact = vec![0u8; tok.len()];
    assert_eq!(
        encode(&key, inp.typ.as_deref(), &claims, None, &mut exact),
        Ok(tok.as_str())
    );
    let short = tok.len().saturating_sub(1 + usize::from(inp.short));
    let mut small = vec![0u8; short];
    assert_eq!(
        encode(&key, inp.typ.as_deref(), &claims, None, &mut small),
        Err(SignError::BufferTooSmall)
    );

    // Structure and JSON content.
    let parts: Vec<&str> = tok.split('.').collect();
    assert_eq!(parts.len(), 3, "{tok}");
    let dec = |s: &str| crate::unb64(s.as_bytes()).expect("canonical base64url");
    let header: Value = serde_json::from_slice(&dec(parts[0])).expect("header is JSON");
    let payload_bytes = dec(parts[1]);
    let payload: Value = serde_json::from_slice(&payload_bytes).expect("payload is JSON");
    let mut h = Map::new();
    h.insert("alg".into(), json!(a.name()));
    if let Some(typ) = &inp.typ {
        h.insert("typ".into(), json!(typ));
    }
    if let Some(kid) = &inp.kid {
        h.insert("kid".into(), json!(kid));
    }
    assert_eq!(header, Value::Object(h), "header");
    let mut p = Map::new();
    for (n, v) in [("iss", &inp.iss), ("sub", &inp.sub), ("jti", &inp.jti)] {
        if let Some(v) = v {
            p.insert(n.into(), json!(v));
        }
    }
    match &inp.aud {
        AudIn::None => {}
        AudIn::One(s) => {
            p.insert("aud".into(), json!(s));
        }
        AudIn::Many(v) => {
            p.insert("aud".into(), json!(v));
        }
    }
    for (n, v) in [
        ("iat", claims.iat),
        ("nbf", claims.nbf),
        ("exp", claims.exp),
    ] {
        if let Some(v) = v {
            p.insert(n.into(), json!(v));
        }
    }
    for (n, v) in &inp.extra {
        let v = match v {
            Val::Str(s) => json!(s),
            Val::Int(i) => json!(i),
            Val::Bool(b) => json!(b),
        };
        p.insert(n.clone(), v);
    }
    assert_eq!(payload, Value::Object(p), "payload");

    // Verification.
    let jwk = key.public_jwk().expect("HMAC public JWK");
    let v = Validation::new(Expect::Ignore, Expect::Ignore)
        .allow_missing_exp()
        .allow_missing_kid(true)
        .max_token_len(usize::MAX)
        .max_depth(8);
    let first_bad = [
        (claims.iat, Claim::Iat),
        (claims.nbf, Claim::Nbf),
        (claims.exp, Claim::Exp),
    ]
    .into_iter()
    .find(|(t, _)| t.is_some_and(|t| t > MAX_NUMERIC_DATE))
    .map(|(_, c)| c);
    let now = claims.nbf.unwrap_or(0).max(claims.iat.unwrap_or(0));
    let mut buf = vec![0u8; tok.len()];
    let r = tokenguard::verify_jwt::<RustCrypto, _>(&jwk, tok.as_bytes(), &v, now, &mut buf);
    match first_bad {
        Some(c) => assert_eq!(r.err(), Some(Error::InvalidClaim(c)), "{tok}"),
        None => {
            if claims.exp.is_some_and(|e| now >= e + 60) {
                assert_eq!(r.err(), Some(Error::Expired), "{tok}");
            } else {
                let t = r.unwrap_or_else(|e| panic!("own token refused: {e:?} {tok}"));
                assert_eq!(t.claims_json().as_bytes(), payload_bytes.as_slice());
                assert_eq!(t.alg(), a);
            }
        }
    }
}
