//! The `ring` backend (hosts). ring's RSA allocates internally and re-derives the modulus'
//! Montgomery constants on every verification.

use super::{Backend, Curve, Digest};
use crate::alg::{Algorithm, Family, HashAlg};
use crate::error::Unspecified;
use crate::material::KeyMaterial;
use crate::rsa::{RsaPadding, RsaPublicKey, MAX_RSA_BYTES};
use ring::{digest, hmac, signature};

/// ring 0.17 (assembly-accelerated; hosts and Linux-class HSMs).
#[derive(Debug, Clone, Copy, Default)]
pub struct Ring;

fn digest_alg(alg: HashAlg) -> &'static digest::Algorithm {
    match alg {
        HashAlg::Sha256 => &digest::SHA256,
        HashAlg::Sha384 => &digest::SHA384,
        HashAlg::Sha512 => &digest::SHA512,
    }
}

fn hmac_alg(alg: HashAlg) -> hmac::Algorithm {
    match alg {
        HashAlg::Sha256 => hmac::HMAC_SHA256,
        HashAlg::Sha384 => hmac::HMAC_SHA384,
        HashAlg::Sha512 => hmac::HMAC_SHA512,
    }
}

/// What [`Ring`] keeps for a key of a set built for it: for an `oct` key bound to one HMAC
/// algorithm, ring's prepared key (inner and outer states computed once); nothing for
/// other keys (ring parses public keys on every call).
#[derive(Clone, Default)]
pub struct RingKeyState {
    hmac: Option<(HashAlg, hmac::Key)>,
}

impl core::fmt::Debug for RingKeyState {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RingKeyState")
            .field("hmac", &self.hmac.as_ref().map(|(h, _)| h))
            .finish()
    }
}

impl Backend for Ring {
    type KeyState = RingKeyState;

    /// Everything but ES512 and ES256K (ring has neither P-521 nor secp256k1).
    const ALGORITHMS: crate::AlgSet = crate::AlgSet::from_bits(
        super::BUILD_ALGORITHMS.bits()
            & !(1 << (crate::alg::ES512 as u8))
            & !(1 << (crate::alg::ES256K as u8)),
    );

    fn digest(alg: HashAlg, parts: &[&[u8]]) -> Digest {
        let mut ctx = digest::Context::new(digest_alg(alg));
        for p in parts {
            ctx.update(p);
        }
        let d = ctx.finish();
        let mut bytes = [0u8; 64];
        let src = d.as_ref();
        if let Some(dst) = bytes.get_mut(..src.len()) {
            dst.copy_from_slice(src);
        }
        Digest::new(bytes, src.len())
    }

    fn hmac_verify(alg: HashAlg, key: &[u8], msg: &[u8], tag: &[u8]) -> Result<(), Unspecified> {
        // ring compares in constant time and fails on a length mismatch.
        hmac::verify(&hmac::Key::new(hmac_alg(alg), key), msg, tag).map_err(|_| Unspecified)
    }

    fn prepare(key: &KeyMaterial, alg: Option<Algorithm>) -> RingKeyState {
        let hmac = match (key, alg.map(Algorithm::family)) {
            (KeyMaterial::Oct(k), Some(Family::Hmac(h))) => {
                Some((h, hmac::Key::new(hmac_alg(h), k.bytes())))
            }
            _ => None,
        };
        RingKeyState { hmac }
    }

    fn verify_prepared(
        _: &KeyMaterial,
        state: &RingKeyState,
        alg: Algorithm,
        msg: &[u8],
        sig: &[u8],
    ) -> Option<Result<(), Unspecified>> {
        match (&state.hmac, alg.family()) {
            (Some((h, k)), Family::Hmac(want)) if *h == want => {
                Some(hmac::verify(k, msg, sig).map_err(|_| Unspecified))
            }
            _ => None,
        }
    }

    fn ecdsa_verify(curve: Curve, point: &[u8], msg: &[u8], sig: &[u8]) -> Result<(), Unspecified> {
        let a = match curve {
            Curve::P256 => &signature::ECDSA_P256_SHA256_FIXED,
            Curve::P384 => &signature::ECDSA_P384_SHA384_FIXED,
            // Not in `ALGORITHMS`: refused before a backend is asked.
            Curve::P521 | Curve::Secp256k1 => return Err(Unspecified),
        };
        signature::UnparsedPublicKey::new(a, point)
            .verify(msg, sig)
            .map_err(|_| Unspecified)
    }

    fn ed25519_verify(pk: &[u8; 32], msg: &[u8], sig: &[u8; 64]) -> Result<(), Unspecified> {
        signature::UnparsedPublicKey::new(&signature::ED25519, pk)
            .verify(msg, sig)
            .map_err(|_| Unspecified)
    }

    fn rsa_verify(
        key: &RsaPublicKey,
        padding: RsaPadding,
        msg: &[u8],
        sig: &[u8],
    ) -> Result<(), Unspecified> {
        let params: &signature::RsaParameters = match padding {
            RsaPadding::Pkcs1(HashAlg::Sha256) => &signature::RSA_PKCS1_2048_8192_SHA256,
            RsaPadding::Pkcs1(HashAlg::Sha384) => &signature::RSA_PKCS1_2048_8192_SHA384,
            RsaPadding::Pkcs1(HashAlg::Sha512) => &signature::RSA_PKCS1_2048_8192_SHA512,
            RsaPadding::Pss(HashAlg::Sha256) => &signature::RSA_PSS_2048_8192_SHA256,
            RsaPadding::Pss(HashAlg::Sha384) => &signature::RSA_PSS_2048_8192_SHA384,
            RsaPadding::Pss(HashAlg::Sha512) => &signature::RSA_PSS_2048_8192_SHA512,
        };
        let mut n = [0u8; MAX_RSA_BYTES];
        let n = key.modulus_be(&mut n).ok_or(Unspecified)?;
        let mut e = [0u8; 8];
        let e = key.exponent_be(&mut e);
        signature::RsaPublicKeyComponents { n, e }
            .verify(params, msg, sig)
            .map_err(|_| Unspecified)
    }
}
