//! Every case of `../shared/vectors/jwt-negative-vectors.json`, with its exact outcome (the
//! stable error code) on both backends, under the corpus' own policy block (now, skew 60 s,
//! expected iss/aud, exp required, max token length 4096, JSON depth 8). Tokens without
//! `kid` are tried against the configured key (`allow_missing_kid`), since many cases carry
//! none.
//!
//! Policy decisions (`expect: policy`, `reject-or-*`), pinned here and in docs/attacks.md:
//! - `ecdsa-highS`: accepted (high-S is mathematically valid; Wycheproof agrees). Never key
//!   replay protection on signature bytes.
//! - `exp-float`: accepted; fractional NumericDates are floored (like Tink).
//! - `typ-unexpected`: accepted when the policy sets no `typ`; `wrong_type` when it expects
//!   `JWT` (tested below).
//! - `b64-true`: rejected (`malformed`): any `b64` member is refused in a JWT.
//! - `hdr-jku-validsig`: rejected (`malformed`): `jwk`/`jku`/`x5u`/`x5c` are refused even
//!   when the signature is valid under a configured key.
//!
//! Corpus inconsistency: `exp-now` (exp = now) is marked `reject`, yet `ctl-exp-edge`
//! (exp = now - 59, "within skew") is marked `accept`; with the corpus' 60 s skew the later
//! `exp-now` must be accepted too. We accept it under skew 60 and show it is `expired` with
//! leeway 0 (RFC 7519 §4.1.4: now must be before exp).
//!
//! `json-deep-5000` is 13527 bytes, so the 4096-byte limit rejects it (`too_large`) before
//! its depth is seen; with a larger limit it is `malformed` (depth), tested below.

use tokenguard::{Error, JsonError, Malformed};
use tokenguard_tests::corpus::Corpus;
use tokenguard_tests::verify_both;

const EXPECTED: &[(&str, &str)] = &[
    ("ctl-hs256", "accept"),
    ("ctl-es256", "accept"),
    ("ctl-aud-array", "accept"),
    ("ctl-exp-edge", "accept"),
    ("alg-none-0", "malformed"),
    ("alg-none-1", "malformed"),
    ("alg-none-2", "malformed"),
    ("alg-none-3", "malformed"),
    ("alg-none-4", "malformed"),
    ("alg-none-5", "malformed"),
    ("alg-none-sig", "unsupported_alg"),
    ("alg-bad-0", "malformed"),
    ("alg-bad-1", "unsupported_alg"),
    ("alg-bad-2", "malformed"),
    ("alg-bad-3", "malformed"),
    ("alg-bad-4", "unsupported_alg"),
    ("alg-bad-5", "unsupported_alg"),
    ("alg-bad-6", "unsupported_alg"),
    ("confusion-sec1", "alg_not_allowed"),
    ("confusion-spki-der", "alg_not_allowed"),
    ("confusion-spki-pem", "alg_not_allowed"),
    ("confusion-jwk-json", "alg_not_allowed"),
    ("confusion-x-coord", "alg_not_allowed"),
    ("confusion-kid-swap", "alg_not_allowed"),
    ("ecdsa-r0s0", "bad_signature"),
    ("ecdsa-r0s1", "bad_signature"),
    ("ecdsa-rns1", "bad_signature"),
    ("ecdsa-r1sn", "bad_signature"),
    ("ecdsa-rnsn", "bad_signature"),
    ("ecdsa-der", "bad_signature"),
    ("ecdsa-65", "bad_signature"),
    ("ecdsa-63", "bad_signature"),
    ("ecdsa-highS", "accept"),
    ("ecdsa-s+n", "bad_signature"),
    ("hdr-jwk", "malformed"),
    ("hdr-jku", "malformed"),
    ("hdr-x5u", "malformed"),
    ("hdr-x5c", "malformed"),
    ("hdr-jku-validsig", "malformed"),
    ("kid-0", "key_not_found"),
    ("kid-1", "key_not_found"),
    ("kid-2", "key_not_found"),
    ("kid-3", "key_not_found"),
    ("kid-4", "malformed"),
    ("kid-5", "malformed"),
    ("kid-6", "key_not_found"),
    ("crit-unknown", "crit_unsupported"),
    ("crit-empty", "crit_unsupported"),
    ("crit-registered", "crit_unsupported"),
    ("crit-notarray", "crit_unsupported"),
    ("b64-false-crit", "malformed"),
    ("b64-false-nocrit", "malformed"),
    ("b64-true", "malformed"),
    ("aud-0", "wrong_audience"),
    ("aud-1", "wrong_audience"),
    ("aud-2", "wrong_audience"),
    ("aud-3", "wrong_audience"),
    ("aud-4", "invalid_claim"),
    ("aud-5", "invalid_claim"),
    ("aud-6", "invalid_claim"),
    ("aud-7", "missing_claim"),
    ("aud-8", "wrong_audience"),
    ("iss-0", "wrong_issuer"),
    ("iss-1", "wrong_issuer"),
    ("iss-2", "wrong_issuer"),
    ("iss-3", "invalid_claim"),
    ("iss-4", "missing_claim"),
    ("exp-string", "invalid_claim"),
    ("exp-neg", "invalid_claim"),
    ("exp-huge", "invalid_claim"),
    ("exp-2^64", "invalid_claim"),
    ("exp-bool", "invalid_claim"),
    ("exp-null", "invalid_claim"),
    ("exp-array", "invalid_claim"),
    ("exp-missing", "missing_claim"),
    ("exp-now", "accept"),
    ("exp-past", "expired"),
    ("nbf-future", "not_yet_valid"),
    ("nbf-string", "invalid_claim"),
    ("iat-string", "invalid_claim"),
    ("exp-253402300800", "invalid_claim"),
    ("exp-1e30", "invalid_claim"),
    ("exp-NaN", "malformed"),
    ("exp-Infinity", "malformed"),
    ("exp-leading0", "malformed"),
    ("exp-plus", "malformed"),
    ("exp-1e400", "invalid_claim"),
    ("exp-float", "accept"),
    ("dup-exp", "malformed"),
    ("dup-escaped", "malformed"),
    ("dup-aud", "malformed"),
    ("dup-alg-hdr", "malformed"),
    ("json-trailing-garbage", "malformed"),
    ("json-two-objects", "malformed"),
    ("json-trailing-comma", "malformed"),
    ("json-comment", "malformed"),
    ("json-single-quote", "malformed"),
    ("json-bom", "malformed"),
    ("json-hdr-array", "malformed"),
    ("json-hdr-string", "malformed"),
    ("json-hdr-empty", "malformed"),
    ("json-lone-surrogate", "malformed"),
    ("json-nul-in-string", "malformed"),
    ("json-utf8-overlong", "malformed"),
    ("json-utf8-invalid", "malformed"),
    ("json-utf8-surrogate-enc", "malformed"),
    ("json-deep-5000", "too_large"),
    ("json-deep-9", "malformed"),
    ("struct-two-parts", "malformed"),
    ("struct-four-parts", "malformed"),
    ("struct-trailing-dot", "malformed"),
    ("struct-leading-dot", "malformed"),
    ("struct-empty-hdr", "malformed"),
    ("struct-empty-payload", "malformed"),
    ("struct-empty-sig", "malformed"),
    ("struct-pad-sig", "malformed"),
    ("struct-pad-sig2", "malformed"),
    ("struct-pad-hdr", "malformed"),
    ("struct-space-lead", "malformed"),
    ("struct-space-trail", "malformed"),
    ("struct-newline", "malformed"),
    ("struct-tab", "malformed"),
    ("struct-std-alphabet", "malformed"),
    ("struct-invalid-char", "malformed"),
    ("struct-len-mod4-1", "bad_signature"),
    ("struct-json-serialization", "malformed"),
    ("struct-five-part-jwe", "malformed"),
    ("b64-trailing-bits", "malformed"),
    ("hs-trunc16", "bad_signature"),
    ("hs-empty", "malformed"),
    ("hs-33", "bad_signature"),
    ("typ-unexpected", "accept"),
    ("typ-nonstring", "malformed"),
    ("enc-in-jws", "malformed"),
    ("zip-in-jws", "malformed"),
    ("cty-jwt-nested", "malformed"),
    ("oversize-dots", "too_large"),
    ("oversize-valid", "too_large"),
];

#[test]
fn every_case_has_its_exact_outcome() {
    let corpus = Corpus::new();
    let (v, now) = corpus.policy();
    let cases = corpus.doc["cases"].as_array().unwrap();
    assert_eq!(cases.len(), EXPECTED.len(), "every case is listed");
    for (c, (id, want)) in cases.iter().zip(EXPECTED) {
        assert_eq!(
            c["id"].as_str().unwrap(),
            *id,
            "table order follows the corpus"
        );
        let set = corpus.keys_for(c["key"].as_str().unwrap());
        let got = match verify_both(&set, c["token"].as_str().unwrap(), &v, now) {
            Ok(_) => "accept",
            Err(e) => e.code(),
        };
        assert_eq!(got, *want, "{id}: {}", c["why"]);
        // Every case the corpus marks `reject` is rejected, except the documented exp-now.
        if c["expect"] == "reject" && *id != "exp-now" {
            assert_ne!(got, "accept", "{id}");
        }
        if c["expect"] == "accept" {
            assert_eq!(got, "accept", "{id}");
        }
    }
}

#[test]
fn exp_now_is_expired_without_leeway() {
    let corpus = Corpus::new();
    let (v, now) = corpus.policy();
    let (set, tok) = corpus.case("exp-now");
    assert_eq!(
        verify_both(&set, &tok, &v.leeway(0), now),
        Err(Error::Expired)
    );
    let (set, tok) = corpus.case("ctl-exp-edge");
    assert_eq!(
        verify_both(&set, &tok, &v.leeway(0), now),
        Err(Error::Expired)
    );
}

#[test]
fn typ_is_checked_when_the_policy_asks() {
    let corpus = Corpus::new();
    let (v, now) = corpus.policy();
    let (set, tok) = corpus.case("typ-unexpected");
    assert_eq!(
        verify_both(&set, &tok, &v.typ("JWT"), now),
        Err(Error::WrongType)
    );
    assert!(verify_both(&set, &tok, &v.typ("at+jwt"), now).is_ok());
    let (set, tok) = corpus.case("ctl-hs256");
    assert!(verify_both(&set, &tok, &v.typ("JWT"), now).is_ok());
}

#[test]
fn deep_nesting_is_a_depth_error_when_size_allows() {
    let corpus = Corpus::new();
    let (v, now) = corpus.policy();
    let (set, tok) = corpus.case("json-deep-5000");
    assert_eq!(
        verify_both(&set, &tok, &v.max_token_len(20_000), now),
        Err(Error::Malformed(Malformed::Json(JsonError::Depth)))
    );
}

#[test]
fn kidless_tokens_need_the_policy() {
    let corpus = Corpus::new();
    let (v, now) = corpus.policy();
    let (set, tok) = corpus.case("typ-unexpected");
    assert_eq!(
        verify_both(&set, &tok, &v.allow_missing_kid(false), now),
        Err(Error::KeyNotFound)
    );
}
