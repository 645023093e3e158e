//! RFC 7520 §4 (JOSE cookbook) signatures, on both backends, and RFC 7638 thumbprints.

use tokenguard::crypto::RustCrypto;
use tokenguard::{Expect, Jwk, Validation};
use tokenguard_tests::{b64, load, verify_jws_both};

#[test]
fn cookbook_signatures() {
    let doc = load("rfc7520/jws_rfc7520.json");
    let payload = doc["payload"].as_str().unwrap().as_bytes().to_vec();
    let v = Validation::new(Expect::Ignore, Expect::Ignore);
    let mut verified = Vec::new();
    for t in doc["tests"].as_array().unwrap() {
        let key_json = load(&format!("rfc7520/{}", t["public_key"].as_str().unwrap()));
        let name = t["name"].as_str().unwrap();
        let compact = t["compact"].as_str().unwrap();
        let key = Jwk::from_json(key_json.to_string().as_bytes()).unwrap();
        assert_eq!(
            verify_jws_both(&key, compact, &v),
            Ok(payload.clone()),
            "{name}"
        );
        // One flipped signature bit fails.
        let mut bad = compact.to_owned();
        let last = bad.pop().unwrap();
        bad.push(if last == 'A' { 'B' } else { 'A' });
        assert!(verify_jws_both(&key, &bad, &v).is_err(), "{name}");
        verified.push(t["protected"]["alg"].as_str().unwrap().to_owned());
    }
    // §4.1 RS256, §4.2 PS384, §4.3 ES512 (P-521), §4.4 HS256.
    assert_eq!(verified, ["RS256", "PS384", "ES512", "HS256"]);
}

#[test]
fn rfc7638_thumbprint_matches_published_kid() {
    // The Ed25519 fixture's kid is its RFC 7638 thumbprint.
    let j = load("rfc7520/okp-ed25519-public.json");
    let key = Jwk::from_json(j.to_string().as_bytes()).unwrap();
    let t = key.thumbprint::<RustCrypto>();
    assert_eq!(b64(&t), j["kid"].as_str().unwrap());
    let t2 = key.thumbprint::<tokenguard::crypto::Ring>();
    assert_eq!(t, t2);
}
