//! ECDSA across the three backends on random keys, messages and corruptions: ring's and
//! AWS-LC's assembly against tokenguard's own P-384 arithmetic (and RustCrypto's `p256`) in
//! the pure-Rust backend. Every signature ring makes verifies everywhere; every corrupted one
//! (a flipped bit in `r || s` or in the message, `r` or `s` replaced by 0, n, n - 1 or all
//! ones, a signature from another key) gets the same verdict from all three.

use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{self, EcdsaKeyPair, KeyPair};
use tokenguard::crypto::{AwsLc, Ring, RustCrypto};
use tokenguard::{Algorithm, Curve, Error, Jwk};

const P256_N: &str = "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551";
const P384_N: &str = "ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973";

struct Case {
    curve: Curve,
    alg: Algorithm,
    signing: &'static signature::EcdsaSigningAlgorithm,
    n: &'static str,
}

fn key_pair(c: &Case, rng: &SystemRandom) -> (EcdsaKeyPair, Jwk) {
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(c.signing, rng).unwrap();
    let pair = EcdsaKeyPair::from_pkcs8(c.signing, pkcs8.as_ref(), rng).unwrap();
    let pk = pair.public_key().as_ref();
    let l = c.curve.coord_len();
    let jwk = Jwk::ec(None, c.curve, &pk[1..1 + l], &pk[1 + l..], Some(c.alg)).unwrap();
    (pair, jwk)
}

/// All three backends' verdicts; asserts they agree and returns the common one.
fn verdict(jwk: &Jwk, alg: Algorithm, msg: &[u8], sig: &[u8], what: &str) -> Result<(), Error> {
    let r = jwk.verify_signature::<Ring>(alg, msg, sig);
    let a = jwk.verify_signature::<AwsLc>(alg, msg, sig);
    let c = jwk.verify_signature::<RustCrypto>(alg, msg, sig);
    assert_eq!(r, a, "ring and aws-lc disagree: {what}");
    assert_eq!(r, c, "ring and rustcrypto disagree: {what}");
    r
}

#[test]
fn ecdsa_agrees_on_random_signatures_and_corruptions() {
    let rng = SystemRandom::new();
    let cases = [
        Case {
            curve: Curve::P256,
            alg: Algorithm::Es256,
            signing: &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            n: P256_N,
        },
        Case {
            curve: Curve::P384,
            alg: Algorithm::Es384,
            signing: &signature::ECDSA_P384_SHA384_FIXED_SIGNING,
            n: P384_N,
        },
    ];
    let mut accepted = 0;
    let mut refused = 0;
    for c in &cases {
        let l = c.curve.coord_len();
        let n = tokenguard_tests::hex(c.n);
        let mut n_minus_1 = n.clone();
        *n_minus_1.last_mut().unwrap() -= 1;
        let (_, other) = key_pair(c, &rng);
        for round in 0..40 {
            let (pair, jwk) = key_pair(c, &rng);
            let mut msg = vec![0u8; 1 + round * 7];
            rng.fill(&mut msg).unwrap();
            let sig = pair.sign(&rng, &msg).unwrap().as_ref().to_vec();
            let what = format!("{:?} round {round}", c.curve);
            assert_eq!(verdict(&jwk, c.alg, &msg, &sig, &what), Ok(()));
            accepted += 1;
            assert_eq!(
                verdict(&other, c.alg, &msg, &sig, &format!("{what}, other key")),
                Err(Error::BadSignature)
            );
            refused += 1;
            // One flipped bit, in the signature and in the message.
            let mut pos = [0u8; 2];
            rng.fill(&mut pos).unwrap();
            let bit = usize::from(u16::from_le_bytes(pos)) % (16 * l);
            let mut bad = sig.clone();
            bad[bit / 8] ^= 1 << (bit % 8);
            assert_eq!(
                verdict(&jwk, c.alg, &msg, &bad, &format!("{what}, sig bit {bit}")),
                Err(Error::BadSignature)
            );
            let mut m2 = msg.clone();
            m2[bit % msg.len()] ^= 0x80;
            assert_eq!(
                verdict(&jwk, c.alg, &m2, &sig, &format!("{what}, msg")),
                Err(Error::BadSignature)
            );
            refused += 2;
            // r or s replaced by the edge values of the scalar range.
            for (i, v) in [vec![0u8; l], n.clone(), n_minus_1.clone(), vec![0xff; l]]
                .iter()
                .enumerate()
            {
                for half in 0..2 {
                    let mut edge = sig.clone();
                    edge[half * l..(half + 1) * l].copy_from_slice(v);
                    let got = verdict(
                        &jwk,
                        c.alg,
                        &msg,
                        &edge,
                        &format!("{what}, edge {i} in half {half}"),
                    );
                    assert_eq!(got, Err(Error::BadSignature));
                    refused += 1;
                }
            }
        }
    }
    assert_eq!((accepted, refused), (80, 80 * 11));
}

/// ES512 and ES256K (ring has neither curve): AWS-LC against RustCrypto's `p521` and `k256`
/// in the pure-Rust backend, on signatures tokenguard makes from random keys, and on the same
/// corruptions as above. The high-S twin of every ES256K signature verifies on both.
#[test]
fn es512_and_es256k_agree_on_random_signatures_and_corruptions() {
    use tokenguard::sign::{Signer, SigningKey};
    let rng = SystemRandom::new();
    let cases = [
        (
            Curve::P521,
            Algorithm::Es512,
            "01fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409",
        ),
        (
            Curve::Secp256k1,
            Algorithm::Es256k,
            "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141",
        ),
    ];
    let two = |jwk: &Jwk, alg, msg: &[u8], sig: &[u8], what: &str| {
        let a = jwk.verify_signature::<AwsLc>(alg, msg, sig);
        let c = jwk.verify_signature::<RustCrypto>(alg, msg, sig);
        assert_eq!(a, c, "aws-lc and rustcrypto disagree: {what}");
        c
    };
    let key = |curve: Curve| loop {
        let mut d = vec![0u8; curve.coord_len()];
        rng.fill(&mut d).unwrap();
        if curve == Curve::P521 {
            d[0] &= 1;
        }
        if let Ok(k) = SigningKey::ec(None, curve, &d) {
            let jwk = k.public_jwk().unwrap();
            return (k, jwk);
        }
    };
    let mut checked = 0;
    for (curve, alg, n_hex) in cases {
        let l = curve.coord_len();
        let n = tokenguard_tests::hex(n_hex);
        let mut n_minus_1 = n.clone();
        *n_minus_1.last_mut().unwrap() -= 1;
        let (_, other) = key(curve);
        for round in 0..20 {
            let (k, jwk) = key(curve);
            let mut msg = vec![0u8; 1 + round * 7];
            rng.fill(&mut msg).unwrap();
            let mut entropy = [0u8; 32];
            rng.fill(&mut entropy).unwrap();
            let mut sig = vec![0u8; 2 * l];
            k.sign(&msg, Some(&entropy), &mut sig).unwrap();
            let what = format!("{curve:?} round {round}");
            assert_eq!(two(&jwk, alg, &msg, &sig, &what), Ok(()));
            assert_eq!(
                two(&other, alg, &msg, &sig, &format!("{what}, other key")),
                Err(Error::BadSignature)
            );
            if curve == Curve::Secp256k1 {
                // (r, n - s): the same signature with the other S.
                let mut high = sig.clone();
                let mut borrow = 0i16;
                for j in (0..l).rev() {
                    let d = i16::from(n[j]) - i16::from(sig[l + j]) - borrow;
                    high[l + j] = u8::try_from(d.rem_euclid(256)).unwrap();
                    borrow = i16::from(d < 0);
                }
                assert_eq!(
                    two(&jwk, alg, &msg, &high, &format!("{what}, high S")),
                    Ok(())
                );
            }
            let mut pos = [0u8; 2];
            rng.fill(&mut pos).unwrap();
            let bit = usize::from(u16::from_le_bytes(pos)) % (16 * l);
            let mut bad = sig.clone();
            bad[bit / 8] ^= 1 << (bit % 8);
            assert_eq!(
                two(&jwk, alg, &msg, &bad, &format!("{what}, sig bit {bit}")),
                Err(Error::BadSignature)
            );
            for (i, v) in [vec![0u8; l], n.clone(), n_minus_1.clone(), vec![0xff; l]]
                .iter()
                .enumerate()
            {
                for half in 0..2 {
                    let mut edge = sig.clone();
                    edge[half * l..(half + 1) * l].copy_from_slice(v);
                    assert_eq!(
                        two(&jwk, alg, &msg, &edge, &format!("{what}, edge {i}/{half}")),
                        Err(Error::BadSignature)
                    );
                }
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 40);
}
