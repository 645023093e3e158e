//! `claims_typed`: the input is a JWT payload (seeds: the corpus tokens' claims). It is
//! read three ways: tokenguard's registered claims (through `dangerous::decode_unverified`,
//! the public way to run `claims::parse`), serde_json, and serde-json-core into a typed
//! struct; then signed with `hs-1` and verified, and the verified payload deserialized with
//! `VerifiedToken::deserialize`.
//!
//! Properties:
//! - No panic in any of the parsers.
//! - When tokenguard and serde_json both accept the payload they agree on every registered
//!   claim: `exp`/`nbf`/`iat` present exactly when serde_json has a number there (an integer
//!   literal gives the same value), `iss`/`sub`/`jti` the same decoded string, `aud` the
//!   same string or list of strings.
//! - When tokenguard and the typed struct both accept, the typed integers and (unescaped)
//!   strings equal tokenguard's.
//! - Verification of the signed payload accepts exactly when the unverified read does and
//!   the time claims hold at the chosen `now`; the verified claims JSON is the payload, and
//!   `deserialize` agrees with serde-json-core on the same text.

use serde::Deserialize;
use serde_json::Value;
use tokenguard::crypto::RustCrypto;
use tokenguard::JsonStr;
use tokenguard::{Audience, Error, Expect, Validation};

use crate::{jwk, mint_hs256, HS1};

/// A typical application claims struct (borrowed strings: an escaped string is an error,
/// it cannot be borrowed once unescaped).
#[derive(Debug, Deserialize, PartialEq)]
struct Typed<'a> {
    iss: Option<&'a str>,
    sub: Option<&'a str>,
    exp: Option<u64>,
    nbf: Option<u64>,
    iat: Option<u64>,
    jti: Option<&'a str>,
    scope: Option<&'a str>,
}

fn decoded(s: JsonStr<'_>) -> Vec<u8> {
    s.bytes().collect()
}

/// Runs one input.
pub fn run(payload: &[u8]) {
    // The header is fixed; the unverified decoder needs a whole token.
    let token = mint_hs256(r#"{"alg":"HS256","kid":"hs-1"}"#, payload);
    let mut buf = vec![0u8; token.len()];
    let tg = tokenguard::dangerous::decode_unverified(token.as_bytes(), 16, &mut buf)
        .map(|u| *u.claims_unverified());
    // As `VerifiedToken::deserialize` reads it: escaped strings unescaped (so a borrowed
    // field cannot take one), never passed through raw.
    let mut scratch = [0u8; 256];
    let typed =
        serde_json_core::from_slice_escaped::<Typed<'_>>(payload, &mut scratch).map(|(t, _)| t);

    if let (Ok(c), Ok(Value::Object(m))) = (&tg, serde_json::from_slice::<Value>(payload)) {
        for (name, got) in [("exp", c.exp()), ("nbf", c.nbf()), ("iat", c.iat())] {
            match m.get(name) {
                None => assert_eq!(got, None, "{name} invented"),
                Some(v) => {
                    assert!(v.is_number(), "{name} accepted as a non-number: {v}");
                    assert!(got.is_some(), "{name} lost");
                    if let Some(n) = v.as_u64() {
                        assert_eq!(got, Some(n), "{name} value");
                    }
                }
            }
        }
        for (name, got) in [("iss", c.iss()), ("sub", c.sub()), ("jti", c.jti())] {
            match (m.get(name), got) {
                (None, None) => {}
                (Some(Value::String(s)), Some(g)) => {
                    assert_eq!(decoded(g), s.as_bytes(), "{name} decoded differently")
                }
                (v, g) => panic!("{name}: serde_json {v:?}, tokenguard {g:?}"),
            }
        }
        match (m.get("aud"), c.aud()) {
            (None, None) => {}
            (Some(Value::String(s)), Some(Audience::One(g))) => {
                assert_eq!(decoded(g), s.as_bytes(), "aud decoded differently")
            }
            (Some(Value::Array(items)), Some(a @ Audience::Many(_))) => {
                let ours: Vec<Vec<u8>> = a.iter().map(decoded).collect();
                let theirs: Vec<Vec<u8>> = items
                    .iter()
                    .map(|v| match v {
                        Value::String(s) => s.as_bytes().to_vec(),
                        other => panic!("aud item {other} accepted"),
                    })
                    .collect();
                assert_eq!(ours, theirs, "aud list");
            }
            (v, g) => panic!("aud: serde_json {v:?}, tokenguard {g:?}"),
        }
    }

    if let (Ok(c), Ok(t)) = (&tg, &typed) {
        for (name, ours, theirs) in [
            ("exp", c.exp(), t.exp),
            ("nbf", c.nbf(), t.nbf),
            ("iat", c.iat(), t.iat),
        ] {
            if theirs.is_some() {
                assert_eq!(ours, theirs, "{name}: typed and registered differ");
            }
        }
        for (name, ours, theirs) in [
            ("iss", c.iss(), t.iss),
            ("sub", c.sub(), t.sub),
            ("jti", c.jti(), t.jti),
        ] {
            if let Some(s) = theirs {
                assert!(
                    ours.is_some_and(|o| o.eq_str(s)),
                    "{name}: typed and registered differ"
                );
            }
        }
    }

    // Signed and verified: accepted exactly when the unverified read is, given the time
    // claims hold at `now` (chosen at nbf/iat, leeway 60).
    let key = jwk(HS1);
    let (now, time_ok) = match &tg {
        Ok(c) => {
            let now = c.nbf().unwrap_or(0).max(c.iat().unwrap_or(0));
            (now, c.exp().is_none_or(|e| now < e.saturating_add(60)))
        }
        Err(_) => (0, false),
    };
    let v = Validation::new(Expect::Ignore, Expect::Ignore)
        .allow_missing_exp()
        .max_token_len(usize::MAX)
        .max_depth(16);
    let mut vbuf = vec![0u8; token.len()];
    let r = tokenguard::verify_jwt::<RustCrypto, _>(&key, token.as_bytes(), &v, now, &mut vbuf);
    match (&tg, &r) {
        // A JWT's payload must not be empty (a structural error before any JSON).
        _ if payload.is_empty() => assert_eq!(
            r.err(),
            Some(Error::Malformed(tokenguard::Malformed::Segments))
        ),
        (Ok(_), Ok(_)) => assert!(time_ok, "verified a token whose time claims fail"),
        (Ok(_), Err(Error::Expired)) => assert!(!time_ok, "expired at {now}"),
        (Err(e1), Err(e2)) => assert_eq!(e1, e2, "verify and decode_unverified differ"),
        (a, b) => panic!("decode_unverified {a:?} but verify {b:?}"),
    }
    if let Ok(t) = r {
        assert!(!payload.is_empty());
        assert_eq!(t.claims_json().as_bytes(), payload);
        let d: Result<Typed<'_>, _> = t.deserialize();
        assert_eq!(d.ok(), typed.ok());
    }
}
