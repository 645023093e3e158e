//! `jwk_parse`: `Jwk::from_json` on arbitrary bytes (seeds: JWK objects).
//!
//! Properties, for every accepted key:
//! - `to_json` (secret included) writes it, and that text parses back to the same key:
//!   same `kid`, `alg`, key type, size and material (`same_material`); writing the re-parsed
//!   key gives the same text (serialization is a fixed point).
//! - Without the secret, an `oct` key is not written and every other key is written the
//!   same as with it (public keys have nothing secret).
//! - The RFC 7638 thumbprint is the same with both backends and after the round trip.
//! - No private key was accepted: when serde_json reads the input as an object and the key
//!   is asymmetric, it has none of `d`, `p`, `q`, `dp`, `dq`, `qi`, `oth`.

use tokenguard::crypto::{Ring, RustCrypto};
use tokenguard::{Jwk, KeyType};

/// Runs one input.
pub fn run(data: &[u8]) {
    let Ok(j) = Jwk::from_json(data) else {
        return;
    };
    let mut out = vec![0u8; 4096];
    let text = j
        .to_json(&mut out, true)
        .expect("an accepted key serializes")
        .to_owned();
    let j2 = Jwk::from_json(text.as_bytes())
        .unwrap_or_else(|e| panic!("own output refused ({e:?}): {text}"));
    assert!(
        crate::same_key(&j, &j2),
        "round trip changed the key: {text}"
    );
    assert_eq!(j.bits(), j2.bits());
    let mut out2 = vec![0u8; 4096];
    assert_eq!(j2.to_json(&mut out2, true), Some(text.as_str()));
    let mut out3 = vec![0u8; 4096];
    match j.key_type() {
        KeyType::Oct => assert_eq!(j.to_json(&mut out3, false), None),
        _ => assert_eq!(j.to_json(&mut out3, false), Some(text.as_str())),
    }
    let t = j.thumbprint::<Ring>();
    assert_eq!(
        t,
        j.thumbprint::<RustCrypto>(),
        "thumbprints differ by backend"
    );
    assert_eq!(
        t,
        j2.thumbprint::<Ring>(),
        "thumbprint changed by the round trip"
    );

    if j.key_type() == KeyType::Oct {
        return;
    }
    if let Ok(serde_json::Value::Object(m)) = serde_json::from_slice::<serde_json::Value>(data) {
        for private in ["d", "p", "q", "dp", "dq", "qi", "oth"] {
            assert!(
                !m.contains_key(private),
                "accepted a private member {private:?}"
            );
        }
    }
}
