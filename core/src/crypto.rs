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

use crate::alg::{Algorithm, HashAlg};
use crate::error::Unspecified;
use crate::jwk::Jwk;
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

/// Elliptic curves for ECDSA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Curve {
    /// NIST P-256 (secp256r1).
    P256,
    /// NIST P-384 (secp384r1).
    P384,
    /// NIST P-521 (secp521r1), for ES512 (the `es512` feature).
    P521,
    /// SEC 2 secp256k1, for ES256K (RFC 8812; the `es256k` feature).
    Secp256k1,
}

impl Curve {
    /// Coordinate (and scalar) length in bytes.
    pub const fn coord_len(self) -> usize {
        match self {
            Curve::P256 | Curve::Secp256k1 => 32,
            Curve::P384 => 48,
            Curve::P521 => 66,
        }
    }

    /// The JWK `crv` name (RFC 7518 §6.2.1.1, RFC 8812 §3.1).
    pub const fn name(self) -> &'static str {
        match self {
            Curve::P256 => "P-256",
            Curve::P384 => "P-384",
            Curve::P521 => "P-521",
            Curve::Secp256k1 => "secp256k1",
        }
    }

    /// The curve of a JWK `crv` name, if this build handles it (P-521 needs the `es512`
    /// feature, secp256k1 `es256k`).
    pub fn from_name(name: &[u8]) -> Option<Curve> {
        match name {
            b"P-256" => Some(Curve::P256),
            b"P-384" => Some(Curve::P384),
            #[cfg(feature = "es512")]
            b"P-521" => Some(Curve::P521),
            #[cfg(feature = "es256k")]
            b"secp256k1" => Some(Curve::Secp256k1),
            _ => None,
        }
    }

    /// The ECDSA algorithm family keys on this curve belong to.
    pub const fn family(self) -> crate::alg::Family {
        use crate::alg::Family;
        match self {
            Curve::P256 => Family::EcdsaP256,
            Curve::P384 => Family::EcdsaP384,
            Curve::P521 => Family::EcdsaP521,
            Curve::Secp256k1 => Family::EcdsaSecp256k1,
        }
    }
}

/// Every algorithm whose keys this build can import: all but ES512 without the `es512`
/// feature and ES256K without `es256k`. Backends that verify everything declare this.
pub const BUILD_ALGORITHMS: crate::AlgSet = {
    let all = crate::AlgSet::ALL.bits();
    let es512 = if cfg!(feature = "es512") {
        0
    } else {
        1 << (crate::alg::ES512 as u8)
    };
    let es256k = if cfg!(feature = "es256k") {
        0
    } else {
        1 << (crate::alg::ES256K as u8)
    };
    crate::AlgSet::from_bits(all & !es512 & !es256k)
};

/// The longest uncompressed SEC1 point of a curve this build handles (`04 || x || y`).
#[cfg(feature = "es512")]
pub const EC_POINT_MAX: usize = 1 + 2 * 66;
/// The longest uncompressed SEC1 point of a curve this build handles (`04 || x || y`).
#[cfg(not(feature = "es512"))]
pub const EC_POINT_MAX: usize = 1 + 2 * 48;
/// The longest EC coordinate (and private scalar) of a curve this build handles.
pub const EC_COORD_MAX: usize = (EC_POINT_MAX - 1) / 2;

/// A SHA-2 digest (up to 64 bytes).
#[derive(Clone, Copy)]
pub struct Digest {
    bytes: [u8; 64],
    len: usize,
}

impl Digest {
    /// Wraps the first `len` bytes of `bytes`.
    pub fn new(bytes: [u8; 64], len: usize) -> Self {
        Digest {
            bytes,
            len: len.min(64),
        }
    }
}

impl AsRef<[u8]> for Digest {
    fn as_ref(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or(&[])
    }
}

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
