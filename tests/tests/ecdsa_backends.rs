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
