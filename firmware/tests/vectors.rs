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
