// The crate's README is its documentation (and its examples are doctests) whenever the
// signing API it shows is built; leaner feature sets get a pointer to it.
#![cfg_attr(feature = "signing", doc = include_str!("../README.md"))]
#![cfg_attr(
    not(feature = "signing"),
    doc = "tokenguard: heap-free JWT verification for microcontrollers. See the crate's README.md (built with the `signing` feature, the README is this page and its examples run as doctests)."
)]
#![no_std]
// On docs.rs: every feature-gated item says which feature it needs.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![warn(
    clippy::indexing_slicing,
    clippy::std_instead_of_core,
    clippy::alloc_instead_of_core
)]
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

#[cfg(test)]
extern crate std;

#[cfg(not(any(feature = "ring", feature = "rustcrypto", feature = "aws-lc")))]
compile_error!(
    "tokenguard needs a crypto backend: enable feature `rustcrypto`, `ring` or `aws-lc`"
);

pub mod alg;
#[cfg(feature = "signing")]
pub mod assertion;
pub mod b64;
mod bigint;
mod cache;
mod claims;
pub mod crypto;
pub mod dangerous;
mod ec;
#[cfg(feature = "rustcrypto")]
mod ecdsa_vartime;
#[cfg(feature = "rustcrypto")]
mod ed25519;
mod error;
mod header;
mod json;
mod jwk;
mod jwks;
pub mod keys;
mod material;
mod replay;
mod rsa;
#[cfg(all(feature = "rustcrypto", any(feature = "compact-sha256", test)))]
mod sha256_compact;
#[cfg(feature = "signing")]
pub mod sign;
mod verify;

/// Copies `src` into `dst` when the lengths are equal (`None` otherwise): a
/// `copy_from_slice` that cannot panic.
pub(crate) fn copy_exact(dst: &mut [u8], src: &[u8]) -> Option<()> {
    if dst.len() != src.len() {
        return None;
    }
    copy_prefix(dst, src);
    Some(())
}

/// Copies as many elements as both slices hold; never panics.
pub(crate) fn copy_prefix<T: Copy>(dst: &mut [T], src: &[T]) {
    for (d, s) in dst.iter_mut().zip(src) {
        *d = *s;
    }
}

pub use alg::{AlgSet, Algorithm, AnyAlgorithm, KeyFilter};
pub use cache::{
    FetchReason, Freshness, JwkCache, JwksUpdate, KeySet, PendingUpdate, RefreshPolicy, Stats,
    UpdateEvent, UpdateOutcome, UpdateReport,
};
pub use claims::{
    Audience, ClaimRef, Expect, RegisteredClaims, Validation, DEFAULT_LEEWAY, DEFAULT_MAX_DEPTH,
    DEFAULT_MAX_TOKEN_LEN, MAX_LEEWAY, MAX_NUMERIC_DATE,
};
pub use crypto::{Backend, Curve, DefaultBackend};
pub use error::{
    Claim, Error, HeaderError, JsonError, JwksError, KeyError, Malformed, ReplayError, Unspecified,
};
pub use header::Header;
pub use json::{DecodedBytes, JsonStr};
pub use jwk::{Jwk, KeyType, Kid, MAX_KID_LEN};
pub use jwks::{JwksParser, KeyOutcome, SkippedKey};
pub use material::{KeyMaterial, SymmetricKey, MAX_OCT_LEN};
pub use replay::ReplayCache;
pub use rsa::{RsaPadding, RsaPublicKey, MAX_RSA_BITS, MAX_RSA_BYTES, MIN_RSA_BITS};
pub use verify::{verify_jws, verify_jwt, KeySource, VerifiedJws, VerifiedToken};

/// The crate version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
