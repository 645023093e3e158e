//! Typed claims read escaped strings exactly as tokenguard's own checks do (found by the
//! claims_typed fuzz target: fuzz/regressions/claims_typed/).

use serde::Deserialize;
use tokenguard::{Expect, Jwk, KeySet, Validation};
use tokenguard_tests::mint;

const KEY: [u8; 32] = [7; 32];

fn token(payload: &str) -> String {
    mint::hs256(&KEY, r#"{"alg":"HS256","kid":"k"}"#, payload)
}

fn keys() -> KeySet<1> {
    let mut k = KeySet::new();
    k.insert(Jwk::hmac(Some(b"k"), &KEY, tokenguard::alg::HS256).unwrap())
        .unwrap();
    k
}

/// Verifies `t` under `v` at the tests' time and hands the verified token to `check`.
fn with_verified<R>(
    t: &str,
    v: &Validation<'_>,
    check: impl FnOnce(tokenguard::VerifiedToken<'_>) -> R,
) -> R {
    let mut buf = vec![0u8; t.len()];
    check(keys().verify(t.as_bytes(), v, NOW, &mut buf).unwrap())
}

const NOW: u64 = 1_700_000_000;

#[derive(Deserialize, Debug, PartialEq)]
struct Owned {
    iss: String,
    sub: String,
    note: String,
}

#[derive(Deserialize, Debug)]
#[allow(dead_code)]
struct Borrowed<'a> {
    sub: &'a str,
}

#[test]
fn escaped_strings_are_unescaped_or_refused_never_raw() {
    let t = token(
        r#"{"iss":"https:\/\/issuer.example","aud":"d","sub":"\u0061dmin","note":"a\\b \"q\" \u00e9","exp":1700000600}"#,
    );
    let v = Validation::new(Expect::One("https://issuer.example"), Expect::One("d"));
    // tokenguard's own issuer check reads the unescaped value.
    with_verified(&t, &v, |verified| {
        let c: Owned = verified.deserialize().unwrap();
        assert_eq!(
            c,
            Owned {
                iss: "https://issuer.example".into(),
                sub: "admin".into(),
                note: "a\\b \"q\" \u{e9}".into(),
            }
        );
        // An escaped string cannot be borrowed from the token: an error, not the raw text.
        assert!(verified.deserialize::<Borrowed>().is_err());
        // A scratch too small for the unescaped text is an error.
        let mut tiny = [0u8; 4];
        assert_eq!(
            verified.deserialize_with::<Owned>(&mut tiny).unwrap_err(),
            serde_json_core::de::Error::EscapedStringIsTooLong
        );
    });
}

#[test]
fn surrogate_pair_escapes_are_refused_by_the_typed_view() {
    // serde-json-core does not decode `\uD83D\uDE00` pairs: an error, never raw text
    // (tokenguard's own checks decode them; `claims_json()` has the text for a std parser).
    let t = token(r#"{"iss":"i","aud":"d","sub":"x","note":"\ud83d\ude00","exp":1700000600}"#);
    let v = Validation::new(Expect::One("i"), Expect::One("d"));
    with_verified(&t, &v, |verified| {
        assert_eq!(
            verified.deserialize::<Owned>().unwrap_err(),
            serde_json_core::de::Error::InvalidEscapeSequence
        );
    });
}

#[test]
fn plain_strings_still_borrow() {
    let t = token(r#"{"iss":"i","aud":"d","sub":"plain","exp":1700000600}"#);
    let v = Validation::new(Expect::One("i"), Expect::One("d"));
    with_verified(&t, &v, |verified| {
        let b: Borrowed = verified.deserialize().unwrap();
        assert_eq!(b.sub, "plain");
    });
}

#[test]
fn claims_json_is_the_signed_text_with_multibyte_characters() {
    // The payload becomes a `str` only when asked for; the scanner's in-string UTF-8 check is
    // what makes that conversion total. Two-, three- and four-byte characters, raw.
    let payload =
        r#"{"iss":"i","aud":"d","exp":1700000600,"name":"Zoë 東京 🚀","k":["ü",{"x":"€"}]}"#;
    let t = token(payload);
    let v = Validation::new(Expect::One("i"), Expect::One("d"));
    with_verified(&t, &v, |verified| {
        assert_eq!(verified.claims_json(), payload);
    });
    // An invalid sequence inside a string is refused by the scan, before any conversion.
    let bad = mint::hs256(
        &KEY,
        br#"{"alg":"HS256","kid":"k"}"#,
        b"{\"iss\":\"i\",\"aud\":\"d\",\"exp\":1700000600,\"n\":\"\xe6\x9d\"}",
    );
    let mut buf = vec![0u8; bad.len()];
    assert_eq!(
        keys()
            .verify(bad.as_bytes(), &v, NOW, &mut buf)
            .unwrap_err(),
        tokenguard::Error::Malformed(tokenguard::Malformed::Json(tokenguard::JsonError::Utf8))
    );
}
