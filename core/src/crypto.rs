//! Crypto backends. The verification API above them never changes; a backend is a type that
//! implements [`Backend`], chosen per call (`verify_with::<B>`) or by default
//! ([`DefaultBackend`]: [`Fastest`] when several backends are built, else the one that is).
//!
//! - [`RustCrypto`] (feature `rustcrypto`): pure Rust, no heap. RSA runs on this crate's own
//!   fixed-size Montgomery arithmetic with the constants cached in the key.
//! - [`Ring`] (feature `ring`): ring's assembly for hosts. ring's RSA verification allocates
//!   inside ring and recomputes the key's Montgomery constants on every call.
//! - [`AwsLc`] (feature `aws-lc`): AWS-LC through aws-lc-rs for hosts, with every key parsed
//!   once when it is imported (RSA's Montgomery setup included); allocates inside AWS-LC.
//! - [`Fastest`]: each primitive from the fastest of the backends built (AWS-LC for RSA,
//!   ECDSA and Ed25519, the pure-Rust HMAC with its cached key state), measured by
//!   `cargo xtask bench`.
//!
//! Both backends see the same pre-checked inputs (signature lengths, Ed25519 `S < L` and
//! small-order `R`, keys validated at import), so they give the same verdict on every input;
//! the test suite checks this on every vector.
//!
//! A hardware accelerator plugs in the same way: implement [`Backend`], delegating what the
//! hardware does not cover to one of the software backends.

use crate::alg::{Algorithm, Family, HashAlg};
use crate::error::Unspecified;
use crate::jwk::{Jwk, Material};
use crate::rsa::{RsaPadding, RsaPublicKey};

#[cfg(feature = "aws-lc")]
mod aws_lc_backend;
#[cfg(any(feature = "ring", feature = "aws-lc", feature = "rustcrypto"))]
mod fastest;
#[cfg(feature = "ring")]
mod ring_backend;
#[cfg(feature = "rustcrypto")]
mod rustcrypto_backend;
#[cfg(all(feature = "rustcrypto", any(feature = "compact-sha256", test)))]
pub(crate) mod sha256_compact;
#[cfg(all(feature = "rustcrypto", any(feature = "compact-sha512", test)))]
pub(crate) mod sha512_compact;

#[cfg(feature = "aws-lc")]
pub use aws_lc_backend::AwsLc;
#[cfg(feature = "aws-lc")]
pub(crate) use aws_lc_backend::Prepared;
#[cfg(any(feature = "ring", feature = "aws-lc", feature = "rustcrypto"))]
pub use fastest::Fastest;
#[cfg(feature = "ring")]
pub(crate) use ring_backend::ring_hmac_key;
#[cfg(feature = "ring")]
pub use ring_backend::Ring;

/// Backend state prepared for a key at import; nothing without a backend that keeps some.
#[cfg(not(feature = "aws-lc"))]
#[derive(Clone, Default)]
pub(crate) struct Prepared;

#[cfg(not(feature = "aws-lc"))]
impl Prepared {
    pub(crate) fn new(_: &crate::jwk::Material, _: Option<Algorithm>) -> Self {
        Prepared
    }
}
#[cfg(feature = "rustcrypto")]
pub use rustcrypto_backend::RustCrypto;
#[cfg(feature = "rustcrypto")]
pub(crate) use rustcrypto_backend::{hs256_state, Hs256State};

/// The backend used when none is named: [`Fastest`] when several backends are built (each
/// primitive from the fastest of them), else the one that is.
#[cfg(any(
    all(feature = "ring", feature = "aws-lc"),
    all(feature = "ring", feature = "rustcrypto"),
    all(feature = "aws-lc", feature = "rustcrypto")
))]
pub type DefaultBackend = Fastest;
/// The backend used when none is named: [`Fastest`] when several backends are built, else
/// the one that is.
#[cfg(all(feature = "ring", not(feature = "aws-lc"), not(feature = "rustcrypto")))]
pub type DefaultBackend = Ring;
/// The backend used when none is named: [`Fastest`] when several backends are built, else
/// the one that is.
#[cfg(all(feature = "aws-lc", not(feature = "ring"), not(feature = "rustcrypto")))]
pub type DefaultBackend = AwsLc;
/// The backend used when none is named: [`Fastest`] when several backends are built, else
/// the one that is.
#[cfg(all(feature = "rustcrypto", not(feature = "ring"), not(feature = "aws-lc")))]
pub type DefaultBackend = RustCrypto;

pub use crate::alg::{Curve, Digest, BUILD_ALGORITHMS, EC_COORD_MAX, EC_POINT_MAX};

/// The primitives the engine needs. All inputs are public except HMAC keys; every check
/// that does not depend on the backend (lengths, ranges, key validity) is done before a
/// backend is called.
pub trait Backend {
    /// The algorithms this backend verifies: all of them unless a backend says otherwise. A
    /// token whose `alg` is outside this set is refused with `alg_not_allowed` right after
    /// the header is read, as if the policy left it out, and the device protocol reports
    /// this set in `INFO`. A backend for a small image (e.g. ES256 and RS256 only) lists
    /// what it keeps, and the code of the others is never reached, so the linker drops it.
    const ALGORITHMS: crate::AlgSet = BUILD_ALGORITHMS;

    /// SHA-2 over the concatenation of `parts`.
    fn digest(alg: HashAlg, parts: &[&[u8]]) -> Digest;

    /// HMAC verification with a constant-time comparison. `tag` has the full hash length.
    ///
    /// # Errors
    /// [`Unspecified`] if the tag does not match.
    fn hmac_verify(alg: HashAlg, key: &[u8], msg: &[u8], tag: &[u8]) -> Result<(), Unspecified>;

    /// HMAC verification with an imported key; backends that keep prepared key state
    /// override this. The default calls [`Backend::hmac_verify`].
    ///
    /// # Errors
    /// [`Unspecified`] if the tag does not match.
    fn hmac_verify_key(
        alg: HashAlg,
        key: &crate::jwk::SymmetricKey,
        msg: &[u8],
        tag: &[u8],
    ) -> Result<(), Unspecified> {
        Self::hmac_verify(alg, key.bytes(), msg, tag)
    }

    /// ECDSA verification; `point` is the uncompressed SEC1 point (`04 || x || y`, validated
    /// at import), `sig` is `r || s` of exactly twice the coordinate length.
    ///
    /// # Errors
    /// [`Unspecified`] if the signature does not verify.
    fn ecdsa_verify(curve: Curve, point: &[u8], msg: &[u8], sig: &[u8]) -> Result<(), Unspecified>;

    /// Ed25519 verification (RFC 8032 §5.1.7). The key is not of small order, `S < L` and
    /// `R` is not of small order (checked by the caller).
    ///
    /// # Errors
    /// [`Unspecified`] if the signature does not verify.
    fn ed25519_verify(pk: &[u8; 32], msg: &[u8], sig: &[u8; 64]) -> Result<(), Unspecified>;

    /// RSA verification. The default runs this crate's fixed-size Montgomery arithmetic with
    /// the key's cached constants, using [`Backend::digest`].
    ///
    /// # Errors
    /// [`Unspecified`] if the signature does not verify.
    fn rsa_verify(
        key: &RsaPublicKey,
        padding: RsaPadding,
        msg: &[u8],
        sig: &[u8],
    ) -> Result<(), Unspecified> {
        crate::rsa::verify_with_digest(key, padding, msg, sig, Self::digest)
    }

    /// Verification with state this backend prepared when `key` was imported, tried before
    /// the per-type methods above (after the same pre-checks). `None` when it has none for
    /// this key and `alg`: the per-type method runs. Only backends in this crate keep such
    /// state ([`AwsLc`]); the default has none.
    ///
    /// # Errors
    /// `Some(Err(Unspecified))` if the signature does not verify.
    fn verify_prepared(
        key: &Jwk,
        alg: Algorithm,
        msg: &[u8],
        sig: &[u8],
    ) -> Option<Result<(), Unspecified>> {
        let _ = (key, alg, msg, sig);
        None
    }
}

/// Checks one signature with one key under `alg`, after the key's binding allows it: the
/// crypto layer's single entry, used by the token pipeline and by [`Jwk::verify_signature`].
pub(crate) fn check_signature<B: Backend>(
    key: &Jwk,
    alg: Algorithm,
    msg: &[u8],
    sig: &[u8],
) -> Result<(), crate::Error> {
    if !B::ALGORITHMS.contains(alg) {
        return Err(crate::Error::AlgNotAllowed);
    }
    key.permits(alg)?;
    // Each arm's pre-checks (lengths, Ed25519's `S` and `R`) come first; then the backend's
    // prepared state for the key, if it has some, else its per-type method.
    let prepared = || B::verify_prepared(key, alg, msg, sig);
    let r = match (alg.family(), &key.material) {
        (Family::Hmac(h), Material::Oct(k)) if sig.len() == h.output_len() => {
            prepared().unwrap_or_else(|| B::hmac_verify_key(h, k, msg, sig))
        }
        (Family::RsaPkcs1(h), Material::Rsa(r)) if sig.len() == r.modulus_len() => {
            prepared().unwrap_or_else(|| B::rsa_verify(r, RsaPadding::Pkcs1(h), msg, sig))
        }
        (Family::RsaPss(h), Material::Rsa(r)) if sig.len() == r.modulus_len() => {
            prepared().unwrap_or_else(|| B::rsa_verify(r, RsaPadding::Pss(h), msg, sig))
        }
        (
            Family::EcdsaP256 | Family::EcdsaP384 | Family::EcdsaP521 | Family::EcdsaSecp256k1,
            Material::Ec { curve, point },
        ) if sig.len() == 2 * curve.coord_len() => {
            let plen = 1 + 2 * curve.coord_len();
            prepared().unwrap_or_else(|| {
                B::ecdsa_verify(*curve, point.get(..plen).unwrap_or(&[]), msg, sig)
            })
        }
        (Family::Ed25519, Material::Ed25519(pk)) => match <&[u8; 64]>::try_from(sig) {
            Ok(s64) => {
                let (r, s) = s64.split_at(32);
                let r32: Option<&[u8; 32]> = r.try_into().ok();
                if !crate::ec::ed25519_scalar_is_canonical(s)
                    || r32.is_none_or(crate::ec::ed25519_has_small_order)
                {
                    Err(Unspecified)
                } else {
                    prepared().unwrap_or_else(|| B::ed25519_verify(pk, msg, s64))
                }
            }
            Err(_) => Err(Unspecified),
        },
        _ => Err(Unspecified),
    };
    r.map_err(|_| crate::Error::BadSignature)
}
