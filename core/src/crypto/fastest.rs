//! [`Fastest`]: every primitive from the fastest library compiled in, as `cargo xtask bench`
//! measures them on x86-64 (docs/benchmarks.md): AWS-LC for RSA, ECDSA and Ed25519 (its keys
//! parsed once, when they enter a key set built for `Fastest`), else ring, else the pure-Rust backend; the pure-Rust HMAC (each
//! key's HS256 state cached at import) for HS*; P-521, which ring lacks, from AWS-LC or else
//! RustCrypto's `p521`; secp256k1 from RustCrypto's `k256` (about 3x faster than AWS-LC's
//! generic curve code: 81 µs against 246 µs per token in `cargo xtask bench`) or else
//! AWS-LC. With one backend compiled in, it is that one.

use super::{Backend, Curve, Digest};
use crate::alg::{Algorithm, Family, HashAlg};
use crate::error::Unspecified;
use crate::material::{KeyMaterial, SymmetricKey};
use crate::rsa::{RsaPadding, RsaPublicKey};

/// RSA, P-256, P-384 and Ed25519.
#[cfg(feature = "aws-lc")]
type Asym = super::AwsLc;
/// RSA, P-256, P-384 and Ed25519.
#[cfg(all(feature = "ring", not(feature = "aws-lc")))]
type Asym = super::Ring;
/// RSA, P-256, P-384 and Ed25519.
#[cfg(all(feature = "rustcrypto", not(any(feature = "ring", feature = "aws-lc"))))]
type Asym = super::RustCrypto;

/// HMAC.
#[cfg(feature = "rustcrypto")]
type Mac = super::RustCrypto;
/// HMAC.
#[cfg(not(feature = "rustcrypto"))]
type Mac = Asym;

/// P-521.
#[cfg(feature = "aws-lc")]
type P521 = super::AwsLc;
/// P-521.
#[cfg(all(feature = "rustcrypto", not(feature = "aws-lc")))]
type P521 = super::RustCrypto;
/// P-521.
#[cfg(not(any(feature = "rustcrypto", feature = "aws-lc")))]
type P521 = Asym;

/// secp256k1.
#[cfg(feature = "rustcrypto")]
type K256 = super::RustCrypto;
/// secp256k1.
#[cfg(all(feature = "aws-lc", not(feature = "rustcrypto")))]
type K256 = super::AwsLc;
/// secp256k1.
#[cfg(not(any(feature = "rustcrypto", feature = "aws-lc")))]
type K256 = Asym;

/// The fastest backend compiled in, primitive by primitive (see the module docs); the
/// default ([`super::DefaultBackend`]) when more than one backend is built.
#[derive(Debug, Clone, Copy, Default)]
pub struct Fastest;

const fn bit(a: Algorithm) -> u16 {
    1 << (a as u8)
}

impl Backend for Fastest {
    /// The state of the backend it sends RSA, P-256, P-384 and Ed25519 to (aws-lc's parsed
    /// keys when it is built): a set built for [`Fastest`] serves that backend's calls too.
    type KeyState = <Asym as Backend>::KeyState;

    /// What the engines it routes to verify.
    const ALGORITHMS: crate::AlgSet = crate::AlgSet::from_bits(
        (<Asym as Backend>::ALGORITHMS.bits()
            & !(bit(crate::alg::ES512) | bit(crate::alg::ES256K)))
            | (<P521 as Backend>::ALGORITHMS.bits() & bit(crate::alg::ES512))
            | (<K256 as Backend>::ALGORITHMS.bits() & bit(crate::alg::ES256K))
            | (<Mac as Backend>::ALGORITHMS.bits()
                & (bit(crate::alg::HS256) | bit(crate::alg::HS384) | bit(crate::alg::HS512))),
    );

    fn digest(alg: HashAlg, parts: &[&[u8]]) -> Digest {
        Asym::digest(alg, parts)
    }

    fn hmac_verify(alg: HashAlg, key: &[u8], msg: &[u8], tag: &[u8]) -> Result<(), Unspecified> {
        Mac::hmac_verify(alg, key, msg, tag)
    }

    fn hmac_verify_key(
        alg: HashAlg,
        key: &SymmetricKey,
        msg: &[u8],
        tag: &[u8],
    ) -> Result<(), Unspecified> {
        Mac::hmac_verify_key(alg, key, msg, tag)
    }

    fn ecdsa_verify(curve: Curve, point: &[u8], msg: &[u8], sig: &[u8]) -> Result<(), Unspecified> {
        match curve {
            Curve::P521 => P521::ecdsa_verify(curve, point, msg, sig),
            Curve::Secp256k1 => K256::ecdsa_verify(curve, point, msg, sig),
            Curve::P256 | Curve::P384 => Asym::ecdsa_verify(curve, point, msg, sig),
        }
    }

    fn ed25519_verify(pk: &[u8; 32], msg: &[u8], sig: &[u8; 64]) -> Result<(), Unspecified> {
        Asym::ed25519_verify(pk, msg, sig)
    }

    fn rsa_verify(
        key: &RsaPublicKey,
        padding: RsaPadding,
        msg: &[u8],
        sig: &[u8],
    ) -> Result<(), Unspecified> {
        Asym::rsa_verify(key, padding, msg, sig)
    }

    fn prepare(key: &KeyMaterial, alg: Option<Algorithm>) -> Self::KeyState {
        Asym::prepare(key, alg)
    }

    fn verify_prepared(
        key: &KeyMaterial,
        state: &Self::KeyState,
        alg: Algorithm,
        msg: &[u8],
        sig: &[u8],
    ) -> Option<Result<(), Unspecified>> {
        // P-521 and secp256k1 may go to a backend keeping another kind of state: it sees the
        // state only if it is its own.
        match alg.family() {
            // HMAC through `hmac_verify_key` (the cached pure-Rust state).
            Family::Hmac(_) => None,
            Family::EcdsaP521 => {
                P521::verify_prepared(key, super::state_for::<P521, _>(state)?, alg, msg, sig)
            }
            Family::EcdsaSecp256k1 => {
                K256::verify_prepared(key, super::state_for::<K256, _>(state)?, alg, msg, sig)
            }
            _ => Asym::verify_prepared(key, state, alg, msg, sig),
        }
    }
}
