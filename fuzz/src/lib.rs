//! The harnesses behind the fuzz targets in `fuzz_targets/`: each target is one call to a
//! `run(data)` here. Every harness checks properties beyond "does not crash": backend
//! differentials, round trips, atomicity and protocol invariants (see each module).
//!
//! Keys are our own test keys: `hs-1` and `ec-1` from the team's negative corpus
//! (`jwt-negative-vectors.json` meta), `ed-1`, `rsa-1`, `ec384-1`, `ec521-1` and `k1-1` the
//! public halves of the keys in `tests/data/`.

#![allow(clippy::missing_panics_doc)]

pub mod assertion;
pub mod claims_typed;
pub mod device_proto;
pub mod jwk_parse;
pub mod jwks_stream;
pub mod verify;

use std::sync::OnceLock;

use tokenguard::{Jwk, KeySet};

/// HS256 secret of the negative corpus.
pub const HS1: &str = r#"{"kty":"oct","kid":"hs-1","alg":"HS256","use":"sig","k":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"}"#;
/// ES256 key of the negative corpus.
pub const EC1: &str = r#"{"kty":"EC","crv":"P-256","kid":"ec-1","alg":"ES256","use":"sig","x":"YP7UuiVanTHJYet0xjVtaMBJuJI7Yfps5mliLmDyn7Y","y":"eQP-EAi4vJmkGunpVii8ZPLxsgwtfp9Rd6PClNRGIpk"}"#;
/// Public half of `tests/data/ed25519.pkcs8.pem`.
pub const ED1: &str = r#"{"kty":"OKP","crv":"Ed25519","kid":"ed-1","alg":"EdDSA","x":"ZnRRjQoFpqExABbhBGyxrZ1_q2R7XOnl5YnY4Y-R4xQ"}"#;
/// Public half of `tests/data/rsa2048.pkcs8.pem`, without `alg` (RS* and PS* both allowed).
pub const RSA1: &str = r#"{"kty":"RSA","kid":"rsa-1","e":"AQAB","n":"3HnpkQ1OPpr0OpsIy1_Q0Cg1HIM_Lhu3L0a7BaJWOPoz-KMu1pDZFPlHlq7PNULnepZVAQFZVkyqRuXdj9DeNpeGyx6RWCNhu-tB4N-dVMEo7qsk8sMpebooIqQ_DR4mt2_pOTQIUp80YtcpunDvuEJV3_tCtSsFEiQ1CwKiI-K0T5OVSKQKd0vpaOvxrmPh159TLiDST98d7Ci0uLUnjgYH4ka70v4RXeRP86EU5PhtHHUgiEyczW4VSPJWTQFwk6sOOHsV3t84G9feyYSwadlkM9SzsF39HmTxwffL-nn5DWUokmbZ5EF3DBO6r7Y5BLCZc-EOor9ezBZdwgkKnw"}"#;

/// Public half of `tests/data/p384.sec1.pem` (ES384: tokenguard's own P-384 arithmetic in
/// the pure-Rust backend, against ring's).
pub const EC384: &str = r#"{"kty":"EC","crv":"P-384","kid":"ec384-1","alg":"ES384","x":"14oCUt3rubFOFHwbJIevH-8z_3UThpv1yrqQxiMRhPzoyDZnnecd1qwjwRTGxBQd","y":"LpDQvICTjqDbXLFcagg953AjduyubqDDO5GeDB1-V1XnMzgzLe6GvYHiPIdQ1wLg"}"#;

/// Public half of `tests/data/p521.pkcs8.pem` (ES512: RustCrypto `p521`).
pub const EC521: &str = r#"{"kty":"EC","crv":"P-521","kid":"ec521-1","alg":"ES512","x":"ANM3NaACwtTvfbAADJe-OKsszKMfFfSdMfCqgUeAQ1uiKmfZOBIgaw-2HOWXqD63ltyYRonLOnHgfC4DeF2YsX5L","y":"AMpiJz0Mj17v5-wq-YUen9otdyv_2hUTp5xTIuJzEOqlQjCKlWsU0zu8_I9Fh1W9QsH7cTWi1AGzF4jYJd4IFE2s"}"#;
/// Public half of `tests/data/secp256k1.pkcs8.pem` (ES256K: RustCrypto `k256`).
pub const K1: &str = r#"{"kty":"EC","crv":"secp256k1","kid":"k1-1","alg":"ES256K","x":"mecn3Wcpp2lw934uChVub0roOEdc2nWhPbLfhdbOET4","y":"WVSWEfSuVJ2hQ6N7_inkXhZRAzDXW5hhrnHQssfBzVY"}"#;

/// The corpus policy: issuer, audience, clock.
pub const ISS: &str = "https://issuer.example";
/// Expected audience.
pub const AUD: &str = "device-1";
/// The corpus's `now`.
pub const NOW: u64 = 1_700_000_300;

/// Parses one of the constants above.
pub fn jwk(json: &str) -> Jwk {
    Jwk::from_json(json.as_bytes()).expect("own test key")
}

/// The seven keys, parsed once per process.
pub fn keys() -> &'static KeySet<7> {
    static KEYS: OnceLock<KeySet<7>> = OnceLock::new();
    KEYS.get_or_init(|| {
        let mut set = KeySet::new();
        for j in [HS1, EC1, ED1, RSA1, EC384, EC521, K1] {
            set.insert(jwk(j)).expect("room for seven keys");
        }
        set
    })
}

/// A comparable view of a key set: (kid, pinned, key type, alg, bits) per active key, and
/// the keys themselves for material comparison.
pub fn snapshot<'a>(iter: impl Iterator<Item = (&'a Jwk, bool)>) -> Vec<(Jwk, bool)> {
    iter.map(|(k, p)| (k.clone(), p)).collect()
}

/// Whether two key snapshots hold the same keys (kid, alg, type, material, pinned) in the
/// same order.
pub fn same_keys(a: &[(Jwk, bool)], b: &[(Jwk, bool)]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|((x, xp), (y, yp))| xp == yp && same_key(x, y))
}

/// Same kid, alg, key type and material.
pub fn same_key(x: &Jwk, y: &Jwk) -> bool {
    x.kid() == y.kid() && x.alg() == y.alg() && x.key_type() == y.key_type() && x.same_material(y)
}

/// `kid`s of a snapshot, for messages.
pub fn kids(s: &[(Jwk, bool)]) -> Vec<String> {
    s.iter()
        .map(|(k, p)| {
            format!(
                "{}{}",
                k.kid().and_then(|i| i.as_str()).unwrap_or("<none>"),
                if *p { "(pinned)" } else { "" }
            )
        })
        .collect()
}

/// base64url without padding.
pub fn b64(data: &[u8]) -> String {
    let mut out = vec![0u8; tokenguard::b64::encoded_len(data.len())];
    let n = tokenguard::b64::encode(data, &mut out).expect("sized");
    out.truncate(n);
    String::from_utf8(out).expect("base64url is ASCII")
}

/// base64url (strict) to bytes.
pub fn unb64(s: &[u8]) -> Option<Vec<u8>> {
    let mut out = vec![0u8; s.len()];
    let n = tokenguard::b64::decode(s, &mut out).ok()?;
    out.truncate(n);
    Some(out)
}

/// The raw `hs-1` secret.
pub const HS1_SECRET: [u8; 32] = {
    let mut k = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        k[i] = i as u8;
        i += 1;
    }
    k
};

/// An HS256 token with `hs-1` over exactly `payload` (any bytes).
pub fn mint_hs256(header: &str, payload: &[u8]) -> String {
    let input = format!("{}.{}", b64(header.as_bytes()), b64(payload));
    let tag = ring::hmac::sign(
        &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &HS1_SECRET),
        input.as_bytes(),
    );
    format!("{input}.{}", b64(tag.as_ref()))
}
