use super::*;
use crate::alg;
use crate::{AlgSet, Algorithm, Expect};
use std::string::String;
use std::vec::Vec;

const K1: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
const K2: &str = "AQECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";

fn oct(kid: &str, k: &str) -> String {
    std::format!(r#"{{"kty":"oct","kid":"{kid}","alg":"HS256","k":"{k}"}}"#)
}

fn set(keys: &[String]) -> String {
    std::format!(r#"{{"keys":[{}]}}"#, keys.join(","))
}

fn kids<const N: usize, B: Backend>(s: &KeySet<N, B>) -> Vec<String> {
    let mut v: Vec<String> = s
        .iter()
        .map(|(k, _)| k.kid().and_then(|k| k.as_str()).unwrap_or("").into())
        .collect();
    v.sort();
    v
}

fn events() -> (Vec<UpdateEvent>, impl FnMut(UpdateEvent)) {
    (Vec::new(), |_| {})
}

#[test]
fn insert_pin_remove() {
    let mut s: KeySet<2> = KeySet::new();
    assert_eq!(s.capacity(), 2);
    s.pin(Jwk::hmac(Some(b"p"), &[1; 32], alg::HS256).unwrap())
        .unwrap();
    s.insert(Jwk::hmac(Some(b"a"), &[2; 32], alg::HS256).unwrap())
        .unwrap();
    assert!(s.is_full());
    let back = s
        .insert(Jwk::hmac(Some(b"b"), &[3; 32], alg::HS256).unwrap())
        .unwrap_err();
    assert_eq!(back.0.kid().unwrap().as_bytes(), b"b");
    assert_eq!(back.1, KeyError::NoSpace);
    // Same kid replaces an unpinned key; a pinned key is not replaced by insert.
    s.insert(Jwk::hmac(Some(b"a"), &[4; 32], alg::HS256).unwrap())
        .unwrap();
    let back = s
        .insert(Jwk::hmac(Some(b"p"), &[5; 32], alg::HS256).unwrap())
        .unwrap_err();
    assert_eq!(back.1, KeyError::KidPinned);
    assert!(s.remove(b"a").is_some());
    assert_eq!(kids(&s), ["p"]);
    s.clear_unpinned();
    assert_eq!(kids(&s), ["p"]);
}

#[test]
fn jwks_update_is_atomic() {
    let mut s: KeySet<4> = KeySet::new();
    let (_, mut ev) = events();
    s.load_jwks(set(&[oct("a", K1), oct("b", K2)]).as_bytes(), &mut ev)
        .unwrap();
    assert_eq!(kids(&s), ["a", "b"]);
    // Broken document: nothing changes.
    let bad = set(&[oct("c", K1)]).replace("]}", "");
    assert_eq!(
        s.load_jwks(bad.as_bytes(), &mut ev),
        Err(JwksError::Incomplete)
    );
    assert_eq!(kids(&s), ["a", "b"]);
    assert_eq!(
        s.load_jwks(br#"{"keys":[{"kty":"oct",}]}"#, &mut ev),
        Err(JwksError::Json(crate::JsonError::Syntax))
    );
    assert_eq!(kids(&s), ["a", "b"]);
    assert_eq!(
        s.load_jwks(br#"{"kees":[]}"#, &mut ev),
        Err(JwksError::NotAKeySet)
    );
    assert_eq!(
        s.load_jwks(br#"{"keys":{}}"#, &mut ev),
        Err(JwksError::NotAKeySet)
    );
    assert_eq!(kids(&s), ["a", "b"]);
    // Dropping an unfinished update leaves the keys as they were.
    {
        let mut u = s.begin_update();
        u.feed(set(&[oct("z", K1)]).as_bytes(), &mut ev).unwrap();
    }
    assert_eq!(kids(&s), ["a", "b"]);
    // A rotation keeps the shared key and swaps the other.
    let r = s
        .load_jwks(set(&[oct("b", K2), oct("c", K1)]).as_bytes(), &mut ev)
        .unwrap();
    assert_eq!(
        r,
        UpdateReport {
            loaded: 2,
            unchanged: 1,
            skipped: 0,
            removed: 1,
            outcome: UpdateOutcome::Replaced,
        }
    );
    assert_eq!(kids(&s), ["b", "c"]);
}

#[test]
fn skips_with_reasons_and_no_space() {
    let mut s: KeySet<3> = KeySet::new();
    let mut seen = Vec::new();
    let doc = set(&[
        oct("a", K1),
        r#"{"kty":"oct","kid":"short","alg":"HS256","k":"AAEC"}"#.into(),
        r#"{"kty":"RSA","kid":"enc","use":"enc","n":"AQAB","e":"AQAB"}"#.into(),
        "7".into(),
        oct("b", K2),
        oct("b", K1),
        oct("c", K1),
        oct("d", K2),
        oct("e", K2),
    ]);
    let old = set(&[oct("old", K1)]);
    s.load_jwks(old.as_bytes(), &mut |_| {}).unwrap();
    let r = s.load_jwks(doc.as_bytes(), &mut |e| seen.push(e));
    let Err(JwksError::Refused(r)) = r else {
        panic!("a set that does not fit is refused: {r:?}")
    };
    let mut skipped: Vec<(u16, KeyError)> = seen
        .iter()
        .filter_map(|e| match e {
            UpdateEvent::Skipped(s) => Some((s.index, s.reason)),
            _ => None,
        })
        .collect();
    skipped.sort_by_key(|s| s.0);
    assert_eq!(
        skipped,
        [
            (1, KeyError::SymmetricKeySize),
            (2, KeyError::WrongUse),
            (3, KeyError::Json(crate::JsonError::NotAnObject)),
            (4, KeyError::DuplicateKid),
            (5, KeyError::DuplicateKid),
            // The refused duplicate holds its staging slot until the commit.
            (6, KeyError::NoSpace),
            (7, KeyError::NoSpace),
            (8, KeyError::NoSpace),
        ]
    );
    // The old key holds one of 3 slots; a and the first "b" took the 2 free ones, c, d
    // and e found none: the document needs 5 free slots (the duplicate is dropped only at
    // the end).
    assert_eq!(r.outcome, UpdateOutcome::NoSpace { needed: 5, free: 2 });
    assert_eq!((r.loaded, r.unchanged, r.removed), (1, 0, 0));
    assert!(!seen.iter().any(|e| matches!(e, UpdateEvent::Loaded { .. })));
    assert_eq!(kids(&s), ["old"]);
    // The same keys without the two that did not fit replace the old set.
    let fits = set(&[oct("a", K1), "7".into(), oct("c", K1)]);
    let r = s.load_jwks(fits.as_bytes(), &mut |_| {}).unwrap();
    assert_eq!((r.loaded, r.skipped, r.removed), (2, 1, 1));
    assert_eq!(kids(&s), ["a", "c"]);
}

#[test]
fn a_key_dropped_late_still_counts_in_needed() {
    // 3 free slots: "d", "x" and "y" take them, "z" finds none, and only then does a
    // second "d" drop the first. With 3 free slots the document can never be taken, so it
    // must not read "needs 3, 3 free": it needs 4 (found by the `jwks_stream` fuzzer).
    let mut s: KeySet<4> = KeySet::new();
    s.load_jwks(set(&[oct("old", K2)]).as_bytes(), &mut |_| {})
        .unwrap();
    let doc = set(&[
        oct("d", K1),
        oct("x", K1),
        oct("y", K1),
        oct("z", K1),
        oct("d", K2),
    ]);
    let Err(JwksError::Refused(r)) = s.load_jwks(doc.as_bytes(), &mut |_| {}) else {
        panic!("refused")
    };
    assert_eq!(r.outcome, UpdateOutcome::NoSpace { needed: 4, free: 3 });
    assert_eq!((r.loaded, r.skipped, r.removed), (2, 3, 0));
    assert_eq!(kids(&s), ["old"]);
    // With 4 free slots the same document is taken, without the two "d" keys.
    let mut s: KeySet<5> = KeySet::new();
    s.load_jwks(set(&[oct("old", K2)]).as_bytes(), &mut |_| {})
        .unwrap();
    let r = s.load_jwks(doc.as_bytes(), &mut |_| {}).unwrap();
    assert_eq!((r.loaded, r.skipped, r.removed), (3, 2, 1));
    assert_eq!(kids(&s), ["x", "y", "z"]);
}

const RSA_1024: &str = r#"{"kty":"RSA","kid":"weak","n":"xPb1xhUhj_ydZBq9kPio6967waW9Um8s1wH_c96ani96Xg1l1AF4abFhNShcH6U2fw0dK8b2RhazriP9eftMyO7kyv0rUTKMQekErtQXM8yPkkwB4itsDemjbnd5CAsLv3NdjcmoNpZIldfemZmUyNppnNcqX1Ogt4aHfnksAGE","e":"AQAB"}"#;
const OFF_CURVE: &str = r#"{"kty":"EC","crv":"P-256","kid":"off","x":"YP7UuiVanTHJYet0xjVtaMBJuJI7Yfps5mliLmDyn7Y","y":"eQP-EAi4vJmkGunpVii8ZPLxsgwtfp9Rd6PClNRGIpo"}"#;

#[test]
fn a_set_with_no_usable_key_leaves_the_old_set() {
    let mut s: KeySet<8> = KeySet::new();
    s.pin(Jwk::hmac(Some(b"pin"), &[9; 32], alg::HS256).unwrap())
        .unwrap();
    let old = set(&[oct("a", K1), oct("b", K2)]);
    s.load_jwks(old.as_bytes(), &mut |_| {}).unwrap();
    let docs = [
        String::from(r#"{"keys":[]}"#),
        set(&[r#"{"kty":"oct","kid":"short","alg":"HS256","k":"AAEC"}"#.into()]),
        set(&[OFF_CURVE.into()]),
        set(&["7".into(), r#"{"kty":"FOO"}"#.into()]),
        // A key whose kid a pinned key holds is not usable either.
        set(&[oct("pin", K1)]),
        set(&[RSA_1024.into()]),
    ];
    for doc in docs {
        let mut loaded = 0;
        let r = s.load_jwks(doc.as_bytes(), &mut |e| {
            loaded += usize::from(matches!(e, UpdateEvent::Loaded { .. }))
        });
        let Err(JwksError::Refused(r)) = r else {
            panic!("{doc}: {r:?}")
        };
        assert_eq!(r.outcome, UpdateOutcome::NoUsableKey, "{doc}");
        assert_eq!((r.loaded, r.removed, loaded), (0, 0, 0), "{doc}");
        assert_eq!(kids(&s), ["a", "b", "pin"], "{doc}");
    }
}

#[test]
fn a_set_larger_than_the_free_slots_is_refused() {
    // 4 old keys in 8 slots; a 10-key set cannot be staged next to them.
    let mut s: KeySet<8> = KeySet::new();
    let key = |i: usize| {
        let mut k = [0u8; 32];
        k[0] = u8::try_from(i).unwrap();
        let mut b = [0u8; 43];
        let n = crate::b64::encode(&k, &mut b).unwrap();
        oct(
            &std::format!("k{i}"),
            core::str::from_utf8(&b[..n]).unwrap(),
        )
    };
    let old: Vec<String> = (0..4).map(key).collect();
    s.load_jwks(set(&old).as_bytes(), &mut |_| {}).unwrap();
    let ten: Vec<String> = (10..20).map(key).collect();
    let Err(JwksError::Refused(r)) = s.load_jwks(set(&ten).as_bytes(), &mut |_| {}) else {
        panic!("refused")
    };
    assert_eq!(
        r.outcome,
        UpdateOutcome::NoSpace {
            needed: 10,
            free: 4
        }
    );
    assert_eq!(kids(&s), ["k0", "k1", "k2", "k3"]);
    // A pinned key and 4 old keys leave 3 free slots: a rotation to 4 new keys is refused.
    s.pin(Jwk::hmac(Some(b"pin"), &[9; 32], alg::HS256).unwrap())
        .unwrap();
    let four: Vec<String> = (10..14).map(key).collect();
    let Err(JwksError::Refused(r)) = s.load_jwks(set(&four).as_bytes(), &mut |_| {}) else {
        panic!("refused")
    };
    assert_eq!(r.outcome, UpdateOutcome::NoSpace { needed: 4, free: 3 });
    assert_eq!(kids(&s), ["k0", "k1", "k2", "k3", "pin"]);
    // Keeping two of the old keys, the rotation needs only 2 new slots: it fits, and the
    // kept keys keep their slot.
    let rot: Vec<String> = [2, 3, 10, 11].into_iter().map(key).collect();
    let r = s.load_jwks(set(&rot).as_bytes(), &mut |_| {}).unwrap();
    assert_eq!(
        (r.loaded, r.unchanged, r.removed, r.outcome),
        (4, 2, 2, UpdateOutcome::Replaced)
    );
    assert_eq!(kids(&s), ["k10", "k11", "k2", "k3", "pin"]);
}

/// Shorter windows than the defaults, for the refresh tests: 10-minute sets, 30 s retries,
/// 5 minutes of stale serving.
const SHORT: RefreshPolicy = RefreshPolicy {
    default_max_age: 600,
    min_max_age: 60,
    max_max_age: 3600,
    retry_after: 30,
    unknown_kid_interval: 60,
    stale_for: 300,
};

#[test]
fn a_refused_set_is_a_failed_fetch() {
    let mut c: JwkCache<4> = JwkCache::new(SHORT);
    let t0 = 1_000_000;
    c.fetch_started(t0);
    c.load_jwks(set(&[oct("a", K1)]).as_bytes(), t0, None, &mut |_| {})
        .unwrap();
    let t1 = t0 + 600;
    assert_eq!(c.poll(t1), Some(FetchReason::Expired));
    c.fetch_started(t1);
    let r = c.load_jwks(br#"{"keys":[]}"#, t1, Some(3600), &mut |_| {});
    assert!(matches!(r, Err(JwksError::Refused(_))));
    assert_eq!(kids(c.keys()), ["a"]);
    assert_eq!(c.last_failure(), Some(t1));
    assert_eq!(c.stats().fetch_failures, 1);
    assert_eq!(c.stats().updates_refused, 1);
    // Served stale, retried after retry_after, refused once the stale window is over.
    assert_eq!(c.freshness(t1 + 1), Freshness::Stale);
    assert_eq!(c.poll(t1 + 29), None);
    assert_eq!(c.poll(t1 + 30), Some(FetchReason::Retry));
    assert_eq!(c.freshness(t1 + 300), Freshness::Expired);
    // A streamed refusal, recorded through update_finished, counts the same.
    let mut u = c.begin_update();
    u.feed(br#"{"keys":[]}"#, &mut |_| {}).unwrap();
    let r = u.finish(&mut |_| {});
    c.update_finished(t1 + 40, None, &r);
    assert_eq!(c.stats().updates_refused, 2);
    assert_eq!(c.last_failure(), Some(t1 + 40));
}

#[test]
fn mixed_symmetric_and_asymmetric_sets() {
    let ec = r#"{"kty":"EC","crv":"P-256","kid":"ec","x":"YP7UuiVanTHJYet0xjVtaMBJuJI7Yfps5mliLmDyn7Y","y":"eQP-EAi4vJmkGunpVii8ZPLxsgwtfp9Rd6PClNRGIpk"}"#;
    let doc = set(&[oct("a", K1), ec.into()]);
    let mut s: KeySet<4> = KeySet::new();
    let mut seen = Vec::new();
    let r = s.load_jwks(doc.as_bytes(), &mut |e| seen.push(e)).unwrap();
    assert_eq!(kids(&s), ["ec"]);
    assert_eq!(r.skipped, 1);
    assert!(seen.contains(&UpdateEvent::Skipped(SkippedKey {
        index: 0,
        kid: Some(Kid::new(b"a").unwrap()),
        reason: KeyError::MixedKeySet
    })));
    let mut s: KeySet<4> = KeySet::new();
    s.allow_mixed_key_types(true);
    s.load_jwks(doc.as_bytes(), &mut |_| {}).unwrap();
    assert_eq!(kids(&s), ["a", "ec"]);
}

#[test]
fn private_keys_refuse_the_set() {
    let mut s: KeySet<4> = KeySet::new();
    let (_, mut ev) = events();
    s.load_jwks(set(&[oct("a", K1)]).as_bytes(), &mut ev)
        .unwrap();
    let doc = set(&[
        oct("b", K1),
        r#"{"kty":"EC","crv":"P-256","x":"AA","y":"AA","d":"AA"}"#.into(),
    ]);
    assert_eq!(
        s.load_jwks(doc.as_bytes(), &mut ev),
        Err(JwksError::PrivateKeyInSet)
    );
    assert_eq!(kids(&s), ["a"]);
}

#[test]
fn streams_in_any_chunk_size() {
    let doc = set(&[oct("a", K1), oct("b", K2), r#"{"kty":"oct","kid":"x5","x5c":["MIIB\u0041", "abc"],"alg":"HS256","k":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8","ext":{"nested":[1,2,{"k":"v"}]}}"#.into()]);
    for chunk in [1usize, 2, 3, 7, 64, 10_000] {
        let mut s: KeySet<4> = KeySet::new();
        let mut u = s.begin_update();
        for c in doc.as_bytes().chunks(chunk) {
            u.feed(c, &mut |_| {}).unwrap();
        }
        let r = u.finish(&mut |_| {}).unwrap();
        assert_eq!(r.loaded, 3, "chunk {chunk}");
        assert_eq!(kids(&s), ["a", "b", "x5"]);
    }
}

#[cfg(feature = "rustcrypto")]
fn hs256_token(kid: &str, key: &[u8], payload: &str) -> String {
    use hmac::{KeyInit, Mac};
    let h = std::format!(r#"{{"alg":"HS256","kid":"{kid}"}}"#);
    let enc = |b: &[u8]| {
        let mut out = std::vec![0u8; crate::b64::encoded_len(b.len())];
        crate::b64::encode(b, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    };
    let input = std::format!("{}.{}", enc(h.as_bytes()), enc(payload.as_bytes()));
    let mut m = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(key).unwrap();
    m.update(input.as_bytes());
    let tag = m.finalize().into_bytes();
    std::format!("{input}.{}", enc(&tag))
}

#[cfg(feature = "rustcrypto")]
#[test]
fn refresh_state_machine_and_stale_window() {
    let mut c: JwkCache<4> = JwkCache::new(SHORT);
    let t0 = 1_700_000_000;
    assert_eq!(c.poll(t0), Some(FetchReason::Initial));
    c.fetch_started(t0);
    assert_eq!(c.poll(t0 + 1), None);
    c.fetch_failed(t0 + 2);
    assert_eq!(c.poll(t0 + 10), None);
    assert_eq!(c.poll(t0 + 30), Some(FetchReason::Retry));
    c.fetch_started(t0 + 30);
    let key = [
        0u8, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24,
        25, 26, 27, 28, 29, 30, 31,
    ];
    c.load_jwks(
        set(&[oct("a", K1)]).as_bytes(),
        t0 + 31,
        Some(10),
        &mut |_| {},
    )
    .unwrap();
    // max-age below the minimum is raised to 60.
    assert_eq!(c.expires_at(), t0 + 91);
    assert_eq!(c.freshness(t0 + 90), Freshness::Fresh);
    assert_eq!(c.poll(t0 + 90), None);

    let v = Validation::new(crate::claims::Expect::Ignore, crate::claims::Expect::Ignore)
        .allow_missing_exp();
    let tok = hs256_token("a", &key, "{}");
    let mut buf = [0u8; 256];
    assert!(c.verify(tok.as_bytes(), &v, t0 + 40, &mut buf).is_ok());

    // Unknown kid: a refetch becomes due, rate-limited from the last attempt.
    let unknown = hs256_token("zz", &key, "{}");
    assert_eq!(
        c.verify(unknown.as_bytes(), &v, t0 + 50, &mut buf)
            .unwrap_err(),
        Error::KeyNotFound
    );
    assert!(c.unknown_kid_pending());
    assert_eq!(c.poll(t0 + 50), None);
    assert_eq!(c.poll(t0 + 89), None);
    assert_eq!(c.poll(t0 + 90), Some(FetchReason::UnknownKid));

    // Expiry: the fetch is due; while it fails, keys are served stale for 300 s.
    assert_eq!(c.poll(t0 + 91), Some(FetchReason::Expired));
    c.fetch_started(t0 + 91);
    c.fetch_failed(t0 + 92);
    assert_eq!(c.freshness(t0 + 200), Freshness::Stale);
    assert!(c.verify(tok.as_bytes(), &v, t0 + 200, &mut buf).is_ok());
    assert_eq!(c.poll(t0 + 100), None);
    assert_eq!(c.poll(t0 + 121), Some(FetchReason::Retry));
    assert_eq!(c.freshness(t0 + 391), Freshness::Expired);
    assert_eq!(
        c.verify(tok.as_bytes(), &v, t0 + 391, &mut buf)
            .unwrap_err(),
        Error::KeyRejected(KeyError::Stale)
    );
    // Pinned keys keep working.
    c.keys_mut()
        .pin(Jwk::hmac(Some(b"pin"), &key, alg::HS256).unwrap())
        .unwrap();
    let pinned = hs256_token("pin", &key, "{}");
    assert!(c.verify(pinned.as_bytes(), &v, t0 + 391, &mut buf).is_ok());
    assert_eq!(c.stats().accepted, 3);
    assert_eq!(
        c.stats().rejected[usize::from(Error::KeyNotFound.code_number())],
        1
    );
    assert_eq!(
        c.stats().rejected[usize::from(Error::KeyRejected(KeyError::Stale).code_number())],
        1
    );
    // A later successful fetch makes keys fresh again.
    c.load_jwks(set(&[oct("a", K1)]).as_bytes(), t0 + 400, None, &mut |_| {})
        .unwrap();
    assert_eq!(c.freshness(t0 + 401), Freshness::Fresh);
    assert_eq!(c.expires_at(), t0 + 1000);
}

#[cfg(feature = "rustcrypto")]
#[test]
fn cache_verify_jws_follows_the_cache_rules_and_leaves_the_counters() {
    let mut c: JwkCache<4> = JwkCache::new(SHORT);
    let t0 = 1_700_000_000;
    c.fetch_started(t0);
    c.load_jwks(set(&[oct("a", K1)]).as_bytes(), t0, Some(60), &mut |_| {})
        .unwrap();
    let key: [u8; 32] = core::array::from_fn(|i| u8::try_from(i).unwrap());
    let v = Validation::new(crate::claims::Expect::Ignore, crate::claims::Expect::Ignore);
    // Any payload: not read as claims.
    let tok = hs256_token("a", &key, "not json at all");
    let mut buf = [0u8; 256];
    let jws = c.verify_jws(tok.as_bytes(), &v, t0 + 10, &mut buf).unwrap();
    assert_eq!(jws.payload(), b"not json at all");
    // Past the stale window the fetched key is refused, as for JWTs.
    assert_eq!(c.freshness(t0 + 60 + 301), Freshness::Expired);
    assert_eq!(
        c.verify_jws(tok.as_bytes(), &v, t0 + 361, &mut buf)
            .map(|_| ())
            .unwrap_err(),
        Error::KeyRejected(KeyError::Stale)
    );
    // An unknown kid asks for a refetch.
    let unknown = hs256_token("zz", &key, "x");
    assert_eq!(
        c.verify_jws(unknown.as_bytes(), &v, t0 + 20, &mut buf)
            .map(|_| ())
            .unwrap_err(),
        Error::KeyNotFound
    );
    assert!(c.unknown_kid_pending());
    // JWS verifications are not JWT verdicts: the counters are untouched.
    assert_eq!(c.stats().accepted, 0);
    assert!(c.stats().rejected.iter().all(|n| *n == 0));
}

/// A backend that verifies HS384 only (delegating to RustCrypto).
#[cfg(feature = "rustcrypto")]
struct OnlyHs384;

#[cfg(feature = "rustcrypto")]
impl crate::Backend for OnlyHs384 {
    type KeyState = ();
    const ALGORITHMS: AlgSet = AlgSet::from_slice(&[Algorithm::Hs384]);
    fn digest(alg: crate::alg::HashAlg, parts: &[&[u8]]) -> crate::crypto::Digest {
        crate::crypto::RustCrypto::digest(alg, parts)
    }
    fn hmac_verify(
        alg: crate::alg::HashAlg,
        key: &[u8],
        msg: &[u8],
        tag: &[u8],
    ) -> Result<(), crate::Unspecified> {
        crate::crypto::RustCrypto::hmac_verify(alg, key, msg, tag)
    }
    fn ecdsa_verify(
        _: crate::Curve,
        _: &[u8],
        _: &[u8],
        _: &[u8],
    ) -> Result<(), crate::Unspecified> {
        Err(crate::Unspecified)
    }
    fn ed25519_verify(_: &[u8; 32], _: &[u8], _: &[u8; 64]) -> Result<(), crate::Unspecified> {
        Err(crate::Unspecified)
    }
}

/// A token whose algorithm the backend leaves out is `alg_not_allowed`, even when the policy
/// allows it and the signature is good; the same token verifies on a full backend.
#[cfg(feature = "rustcrypto")]
#[test]
fn backend_algorithm_set_is_enforced() {
    let key = [9u8; 32];
    let mut keys: KeySet<2> = KeySet::new();
    keys.insert(Jwk::hmac(Some(b"a"), &key, Algorithm::Hs256).unwrap())
        .unwrap();
    let tok = hs256_token("a", &key, r#"{"iss":"iss","aud":"aud","exp":1700000600}"#);
    let v = Validation::new(Expect::One("iss"), Expect::One("aud"));
    let mut buf = [0u8; 512];
    assert!(keys
        .verify_with::<crate::crypto::RustCrypto>(tok.as_bytes(), &v, 1_700_000_300, &mut buf)
        .is_ok());
    assert_eq!(
        keys.verify_with::<OnlyHs384>(tok.as_bytes(), &v, 1_700_000_300, &mut buf)
            .unwrap_err(),
        Error::AlgNotAllowed
    );
    let jwk = keys.get(b"a").unwrap();
    let (input, sig) = tok.rsplit_once('.').unwrap();
    let mut tag = [0u8; 32];
    assert_eq!(crate::b64::decode(sig.as_bytes(), &mut tag), Ok(32));
    assert_eq!(
        jwk.verify_signature::<crate::crypto::RustCrypto>(Algorithm::Hs256, input.as_bytes(), &tag),
        Ok(())
    );
    assert_eq!(
        jwk.verify_signature::<OnlyHs384>(Algorithm::Hs256, input.as_bytes(), &tag),
        Err(Error::AlgNotAllowed)
    );
}

/// A set built for a backend keeps only keys that backend can verify with: the others are
/// skipped with the reason their type, curve or `alg` gives, and the rest of the set loads.
#[cfg(feature = "rustcrypto")]
#[test]
fn an_update_skips_keys_its_backend_cannot_use() {
    let mut s: KeySet<4, OnlyHs384> = KeySet::new();
    let doc = set(&[
        oct("hs256", K1),
        // No `alg` and 48 bytes: it suits HS384.
        r#"{"kty":"oct","kid":"any","k":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4v"}"#.into(),
        r#"{"kty":"RSA","kid":"r","n":"AQAB","e":"AQAB"}"#.into(),
        r#"{"kty":"EC","kid":"e","crv":"P-256","x":"AA","y":"AA"}"#.into(),
        r#"{"kty":"OKP","kid":"o","crv":"Ed25519","x":"AA"}"#.into(),
        r#"{"kty":"oct","kid":"hs384","alg":"HS384","k":"AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyAhIiMkJSYnKCkqKywtLi8w"}"#.into(),
    ]);
    let mut seen = Vec::new();
    let r = s.load_jwks(doc.as_bytes(), &mut |e| seen.push(e)).unwrap();
    assert_eq!((r.loaded, r.skipped), (2, 4));
    assert_eq!(kids(&s), ["any", "hs384"]);
    let skipped: Vec<(u16, KeyError)> = seen
        .iter()
        .filter_map(|e| match e {
            UpdateEvent::Skipped(s) => Some((s.index, s.reason)),
            _ => None,
        })
        .collect();
    assert_eq!(
        skipped,
        [
            (0, KeyError::UnsupportedAlg),
            (2, KeyError::UnsupportedKeyType),
            (3, KeyError::UnsupportedKeyType),
            (4, KeyError::UnsupportedKeyType),
        ]
    );
    // A set of nothing but such keys is refused whole, and the keys stay.
    let r = s.load_jwks(set(&[oct("hs256", K1)]).as_bytes(), &mut |_| {});
    assert!(matches!(r, Err(JwksError::Refused(_))), "{r:?}");
    assert_eq!(kids(&s), ["any", "hs384"]);
}

/// The filter of a single key's import: a curve outside it is `UnsupportedCurve`, its
/// `alg` outside it `UnsupportedAlg`; the same keys import without a filter.
#[test]
fn a_key_filter_refuses_curves_and_algs_outside_it() {
    struct Es256Only;
    impl crate::KeyFilter for Es256Only {
        const ACCEPTS: AlgSet = AlgSet::from_slice(&[Algorithm::Es256]);
    }
    // A valid P-384 point (the generator).
    let p384 = r#"{"kty":"EC","crv":"P-384","x":"qofKIr6LBTeOscce8yCtdG4dO2KLp5uYWfdB4IJUKjhVAvJdv1UpbDpUXjhydgq3","y":"NhfeSpYmLG9dnpi_kpLcKfj0Hb0omhR86doxE7XwuMAKYLHOHX6BnXpDHXyQ6g5f"}"#;
    assert!(Jwk::from_json(p384.as_bytes()).is_ok());
    assert_eq!(
        Jwk::from_json_for::<Es256Only>(p384.as_bytes()).unwrap_err(),
        KeyError::UnsupportedCurve
    );
    let with_alg = p384.replace(r#""kty":"EC","#, r#""kty":"EC","alg":"ES384","#);
    assert!(Jwk::from_json(with_alg.as_bytes()).is_ok());
    assert_eq!(
        Jwk::from_json_for::<Es256Only>(with_alg.as_bytes()).unwrap_err(),
        KeyError::UnsupportedAlg
    );
    assert_eq!(
        Jwk::from_json_for::<Es256Only>(oct("k", K1).as_bytes()).unwrap_err(),
        KeyError::UnsupportedKeyType
    );
}
