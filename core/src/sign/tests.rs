use super::*;
use crate::alg;

fn unhex(s: &str) -> std::vec::Vec<u8> {
    let s: std::string::String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn rfc6979_p256_deterministic() {
    // RFC 6979 A.2.5 (P-256, SHA-256, message "sample").
    let d = unhex("c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721");
    let k = SigningKey::ec(None, crate::Curve::P256, &d).unwrap();
    let mut sig = [0u8; 64];
    assert_eq!(k.sign(b"sample", None, &mut sig), Ok(64));
    assert_eq!(
        sig.to_vec(),
        unhex("efd48b2aacb6a8fd1140dd9cd45e81d69d2c877b56aaf991c34d0ea84eaf3716 f7cb1c942d657c41d436c7a1b6e29f65f3e900dbb9aff4064dc4ab2f843acda8")
    );
    let mut again = [0u8; 64];
    k.sign(b"sample", None, &mut again).unwrap();
    assert_eq!(sig, again, "deterministic without entropy");
    // RFC 6979 A.2.5, message "test".
    k.sign(b"test", None, &mut sig).unwrap();
    assert_eq!(
        sig.to_vec(),
        unhex("f1abb023518351cd71d881567b1ea663ed3efcf6c5132b354f28d3b0b7d38367 019f4113742a2b14bd25926b49c649155f267e60d3814b4c0cc84250e46f0083")
    );
    // Hedged: different with entropy, and still valid.
    let mut hedged = [0u8; 64];
    k.sign(b"test", Some(&[7u8; 32]), &mut hedged).unwrap();
    assert_ne!(hedged, sig);
    let jwk = k.public_jwk().unwrap();
    assert_eq!(
        jwk.verify_signature::<RustCrypto>(alg::ES256, b"test", &hedged),
        Ok(())
    );
}

#[test]
fn every_software_algorithm_round_trips() {
    let ec = SigningKey::ec(Some(b"ec"), crate::Curve::P256, &[0x42; 32]).unwrap();
    let ed = SigningKey::ed25519(Some(b"ed"), &[9; 32]).unwrap();
    let hs = SigningKey::hmac(Some(b"hs"), &[1; 64], alg::HS512).unwrap();
    let hs256 = SigningKey::hmac(Some(b"hs"), &[2; 32], alg::HS256).unwrap();
    #[allow(unused_mut)]
    let mut keys = std::vec![ec, ed, hs, hs256];
    #[cfg(feature = "es384-signing")]
    keys.push(SigningKey::ec(Some(b"ec"), crate::Curve::P384, &[0x42; 48]).unwrap());
    // Without ES384 signing built in, a P-384 key is refused as unsupported, not mis-signed,
    // and as an unsupported curve from a private JWK.
    #[cfg(not(feature = "es384-signing"))]
    {
        assert!(matches!(
            SigningKey::ec(Some(b"ec"), crate::Curve::P384, &[0x42; 48]),
            Err(SignError::Key(crate::keys::KeyFormatError::Unsupported))
        ));
        let d = "QkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJC";
        let jwk = std::format!(r#"{{"kty":"EC","crv":"P-384","d":"{d}"}}"#);
        assert!(matches!(
            SigningKey::from_jwk(jwk.as_bytes()),
            Err(SignError::KeyRejected(crate::KeyError::UnsupportedCurve))
        ));
    }
    #[cfg(feature = "es512")]
    {
        let mut d = [0x42; 66];
        d[0] = 1; // below the P-521 order
        keys.push(SigningKey::ec(Some(b"p521"), crate::Curve::P521, &d).unwrap());
    }
    #[cfg(feature = "es256k")]
    keys.push(SigningKey::ec(Some(b"k1"), crate::Curve::Secp256k1, &[0x42; 32]).unwrap());
    for k in keys {
        let k = k.with_self_check(true);
        let mut sig = [0u8; 132];
        let n = k.sign(b"msg", Some(&[3u8; 64]), &mut sig).unwrap();
        assert_eq!(n, k.signature_len());
        let jwk = k.public_jwk().unwrap();
        assert_eq!(
            jwk.verify_signature::<RustCrypto>(k.alg(), b"msg", &sig[..n]),
            Ok(()),
            "{:?}",
            k.alg()
        );
        assert_eq!(
            jwk.verify_signature::<RustCrypto>(k.alg(), b"msh", &sig[..n]),
            Err(crate::Error::BadSignature)
        );
        let mut small = [0u8; 10];
        assert_eq!(
            k.sign(b"msg", None, &mut small),
            Err(SignError::BufferTooSmall)
        );
    }
    assert_eq!(
        SigningKey::hmac(None, &[1; 31], alg::HS256).unwrap_err(),
        SignError::KeyRejected(crate::KeyError::SymmetricKeySize)
    );
    assert_eq!(
        SigningKey::hmac(None, &[1; 32], alg::ES256).unwrap_err(),
        SignError::AlgMismatch
    );
}

/// ES256K signatures are made low-S (what Bitcoin-lineage verifiers require); verification
/// accepts both halves, like every other ECDSA verifier in JOSE.
#[cfg(feature = "es256k")]
#[test]
fn es256k_signs_low_s_and_verifies_high_s() {
    let k = SigningKey::ec(None, crate::Curve::Secp256k1, &[0x17; 32]).unwrap();
    let jwk = k.public_jwk().unwrap();
    // n / 2 for secp256k1.
    let half = unhex("7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0");
    let n = unhex("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141");
    for i in 0u8..16 {
        let msg = [i; 9];
        let mut sig = [0u8; 64];
        k.sign(&msg, Some(&[i; 32]), &mut sig).unwrap();
        assert!(sig[32..] <= half[..], "high S made");
        // n - s: the same signature with a high S.
        let mut high = sig;
        let mut borrow = 0i16;
        for j in (0..32).rev() {
            let d = i16::from(n[j]) - i16::from(sig[32 + j]) - borrow;
            high[32 + j] = u8::try_from(d.rem_euclid(256)).unwrap();
            borrow = i16::from(d < 0);
        }
        assert!(high[32..] > half[..]);
        assert_eq!(
            jwk.verify_signature::<RustCrypto>(alg::ES256K, &msg, &sig),
            Ok(())
        );
        assert_eq!(
            jwk.verify_signature::<RustCrypto>(alg::ES256K, &msg, &high),
            Ok(())
        );
    }
}
