//! On-target suites (defmt-test, in QEMU): every algorithm's fixture verifies; tampered
//! tokens, wrong policies and unknown keys are rejected with the exact code; JWK Sets
//! stream in chunks atomically.

#![no_std]
#![no_main]

use tokenguard::{Expect, Jwk, KeySet, Validation};
use tokenguard_firmware::fixtures::{AUDIENCE, FIXTURES, ISSUER};

fn policy() -> Validation<'static> {
    Validation::new(Expect::One(ISSUER), Expect::One(AUDIENCE))
}

fn keys() -> KeySet<12> {
    let mut k = KeySet::new();
    for (_, jwk, _) in FIXTURES {
        assert!(k.insert(Jwk::from_json(jwk.as_bytes()).unwrap()).is_ok());
    }
    k
}

#[defmt_test::tests]
mod tests {
    use super::{keys, policy};
    use tokenguard::crypto::RustCrypto;
    use tokenguard::{Error, Expect, KeySet, UpdateEvent, Validation};
    use tokenguard_firmware::fixtures::{FIXTURES, ISSUER, JWKS, NOW};

    /// P-256 keys are checked at import by the P256-Cortex-M4 assembly on this target (the
    /// host build uses the engine's own arithmetic): the generator imports; a `y` one bit
    /// off and an `x` equal to p are `InvalidPoint`.
    #[test]
    fn p256_points_off_the_curve_are_refused() {
        use tokenguard::{Jwk, KeyError};
        const X: &str = "axfR8uEsQkf4vOblY6RA8ncDfYEt6zOg9KE5RdiYwpY";
        const Y: &str = "T-NC4v4af5uO5-tKfA-eFivOM1drMV7Oy7ZAaDe_UfU";
        const Y_OFF: &str = "T-NC4v4af5uO5-tKfA-eFivOM1drMV7Oy7ZAaDe_UfQ";
        const P: &str = "_____wAAAAEAAAAAAAAAAAAAAAD_______________8";
        let jwk = |x: &str, y: &str, out: &mut [u8; 160]| -> usize {
            let parts: [&[u8]; 5] = [
                br#"{"kty":"EC","crv":"P-256","x":""#,
                x.as_bytes(),
                br#"","y":""#,
                y.as_bytes(),
                br#""}"#,
            ];
            let mut n = 0;
            for p in parts {
                out[n..n + p.len()].copy_from_slice(p);
                n += p.len();
            }
            n
        };
        let mut buf = [0u8; 160];
        let n = jwk(X, Y, &mut buf);
        defmt::assert!(Jwk::from_json(&buf[..n]).is_ok());
        let n = jwk(X, Y_OFF, &mut buf);
        defmt::assert_eq!(
            Jwk::from_json(&buf[..n]).err(),
            Some(KeyError::InvalidPoint)
        );
        let n = jwk(P, Y, &mut buf);
        defmt::assert_eq!(
            Jwk::from_json(&buf[..n]).err(),
            Some(KeyError::InvalidPoint)
        );
    }

    #[test]
    fn every_algorithm_verifies() {
        let k = keys();
        let mut buf = [0u8; 1024];
        for (alg, _, token) in FIXTURES {
            let t = k.verify_with::<RustCrypto>(token.as_bytes(), &policy(), NOW, &mut buf);
            defmt::assert!(t.is_ok(), "{} failed: {}", alg, t.err());
            let t = t.unwrap();
            defmt::assert_eq!(t.alg().name(), alg);
            defmt::assert!(t
                .claims()
                .sub()
                .unwrap()
                .eq_str("device-0042@fleet.example.com"));
        }
    }

    #[test]
    fn tampered_tokens_fail_with_bad_signature() {
        let k = keys();
        let mut buf = [0u8; 1024];
        let mut tok = [0u8; 1024];
        for (alg, _, token) in FIXTURES {
            let t = &mut tok[..token.len()];
            t.copy_from_slice(token.as_bytes());
            // Flip one character of the signature's first byte.
            let i = token.rfind('.').unwrap() + 1;
            t[i] = if t[i] == b'A' { b'B' } else { b'A' };
            let r = k.verify_with::<RustCrypto>(t, &policy(), NOW, &mut buf);
            defmt::assert_eq!(r.err(), Some(Error::BadSignature), "{}", alg);
        }
    }

    #[test]
    fn policy_and_key_errors_are_exact() {
        let k = keys();
        let mut buf = [0u8; 1024];
        let (_, _, token) = FIXTURES[9];
        let wrong_aud = Validation::new(Expect::One(ISSUER), Expect::One("other"));
        defmt::assert_eq!(
            k.verify_with::<RustCrypto>(token.as_bytes(), &wrong_aud, NOW, &mut buf)
                .err(),
            Some(Error::WrongAudience)
        );
        defmt::assert_eq!(
            k.verify_with::<RustCrypto>(token.as_bytes(), &policy(), 4_102_444_900, &mut buf)
                .err(),
            Some(Error::Expired)
        );
        let empty: KeySet<1> = KeySet::new();
        defmt::assert_eq!(
            empty
                .verify_with::<RustCrypto>(token.as_bytes(), &policy(), NOW, &mut buf)
                .err(),
            Some(Error::KeyNotFound)
        );
        let rs_only =
            policy().algorithms(tokenguard::AlgSet::from_slice(&[tokenguard::alg::RS256]));
        defmt::assert_eq!(
            k.verify_with::<RustCrypto>(token.as_bytes(), &rs_only, NOW, &mut buf)
                .err(),
            Some(Error::AlgNotAllowed)
        );
    }

    #[test]
    fn jwks_streams_in_small_chunks_atomically() {
        let mut k: KeySet<12> = KeySet::new();
        k.allow_mixed_key_types(true);
        let mut u = k.begin_update();
        let mut loaded = 0;
        for chunk in JWKS.as_bytes().chunks(13) {
            u.feed(chunk, &mut |_| {}).unwrap();
        }
        let r = u.finish(&mut |e| {
            if let UpdateEvent::Loaded { .. } = e {
                loaded += 1;
            }
        });
        defmt::assert_eq!(r.unwrap().loaded, 12);
        defmt::assert_eq!(loaded, 12);
        // A broken document leaves the 12 keys in place.
        let bad = k.load_jwks(&JWKS.as_bytes()[..JWKS.len() - 2], &mut |_| {});
        defmt::assert!(bad.is_err());
        defmt::assert_eq!(k.len(), 12);
    }
}
