//! Crypto backends. The verification API above them never changes; a backend is a type that
//! implements [`Backend`], named by the key set (`KeySet<N, B>`) or per call
//! (`verify_with::<B>`), else [`DefaultBackend`]: [`RustCrypto`] whenever it is built, so
//! turning on another backend's feature never changes what the default does.
//!
//! - [`RustCrypto`] (feature `rustcrypto`): pure Rust, no heap. RSA runs on this crate's own
//!   fixed-size Montgomery arithmetic with the constants cached in the key.
//! - [`Ring`] (feature `ring`): ring's assembly for hosts. ring's RSA verification allocates
//!   inside ring and recomputes the key's Montgomery constants on every call.
//! - [`AwsLc`] (feature `aws-lc`): AWS-LC through aws-lc-rs for hosts, with every key parsed
//!   once when it is imported (RSA's Montgomery setup included); allocates inside AWS-LC.
//! - [`Fastest`]: each primitive from the fastest of the backends built (AWS-LC for RSA,
//!   ECDSA and Ed25519, the pure-Rust HMAC with its cached key state), measured by
//!   `cargo xtask bench`. Never the default: hosts that want it name it (`KeySet<N, Fastest>`),
//!   as the project's host tools do.
//!
//! Both backends see the same pre-checked inputs (signature lengths, Ed25519 `S < L` and
//! small-order `R`, keys validated at import), so they give the same verdict on every input;
//! the test suite checks this on every vector.
//!
//! A hardware accelerator plugs in the same way: implement [`Backend`], delegating what the
//! hardware does not cover to one of the software backends. What a backend keeps per key (a
//! parsed key, a key handle) is its [`Backend::KeyState`]: a [`crate::KeySet`] built for
//! it (`KeySet<N, MyBackend>`) prepares that state once per key and hands it back on every
//! verification. The backend sees the validated [`crate::KeyMaterial`], never the key's
//! container.

use crate::alg::{Algorithm, Family, HashAlg};
use crate::error::Unspecified;
use crate::material::{KeyMaterial, SymmetricKey};
use crate::rsa::{RsaPadding, RsaPublicKey};

#[cfg(feature = "aws-lc")]
mod aws_lc_backend;
#[cfg(any(feature = "ring", feature = "aws-lc", feature = "rustcrypto"))]
mod fastest;
#[cfg(feature = "ring")]
mod ring_backend;
#[cfg(feature = "rustcrypto")]
mod rustcrypto_backend;
#[cfg(all(feature = "rustcrypto", any(feature = "compact-sha512", test)))]
pub(crate) mod sha512_compact;

#[cfg(feature = "aws-lc")]
pub use aws_lc_backend::{AwsLc, AwsLcKeyState};
#[cfg(any(feature = "ring", feature = "aws-lc", feature = "rustcrypto"))]
pub use fastest::Fastest;
#[cfg(feature = "ring")]
pub use ring_backend::{Ring, RingKeyState};
#[cfg(feature = "rustcrypto")]
pub use rustcrypto_backend::RustCrypto;

/// The backend used when none is named: the pure-Rust [`RustCrypto`] whenever it is built
/// (feature `rustcrypto`, on by default). Turning on `ring` or `aws-lc` next to it never
/// changes what the default does; a program that wants them names them
/// (`KeySet<N, Fastest>`, `verify_with::<AwsLc>`).
#[cfg(feature = "rustcrypto")]
pub type DefaultBackend = RustCrypto;
/// The backend used when none is named: the only one built.
#[cfg(all(feature = "ring", not(feature = "aws-lc"), not(feature = "rustcrypto")))]
pub type DefaultBackend = Ring;
/// The backend used when none is named: the only one built.
#[cfg(all(feature = "aws-lc", not(feature = "ring"), not(feature = "rustcrypto")))]
pub type DefaultBackend = AwsLc;
/// With `ring` and `aws-lc` both built and `rustcrypto` not, no backend is the default (as
/// rustls does with two providers): [`Unchosen`] verifies nothing, so every token is refused
/// (`alg_not_allowed`) until the program names one.
#[cfg(all(feature = "ring", feature = "aws-lc", not(feature = "rustcrypto")))]
pub type DefaultBackend = Unchosen;

/// The default when two host backends are built without the pure-Rust one: it verifies no
/// algorithm (every token is `alg_not_allowed`), so the choice stays explicit. Name
/// [`Ring`], [`AwsLc`] or [`Fastest`] instead.
#[cfg(all(feature = "ring", feature = "aws-lc", not(feature = "rustcrypto")))]
#[derive(Debug, Clone, Copy, Default)]
pub struct Unchosen;

#[cfg(all(feature = "ring", feature = "aws-lc", not(feature = "rustcrypto")))]
impl Backend for Unchosen {
    type KeyState = ();
    const ALGORITHMS: crate::AlgSet = crate::AlgSet::from_bits(0);

    /// Hashing is not a verification choice: AWS-LC's (key thumbprints use it).
    fn digest(alg: HashAlg, parts: &[&[u8]]) -> Digest {
        AwsLc::digest(alg, parts)
    }

    fn hmac_verify(_: HashAlg, _: &[u8], _: &[u8], _: &[u8]) -> Result<(), Unspecified> {
        Err(Unspecified)
    }

    fn ecdsa_verify(_: Curve, _: &[u8], _: &[u8], _: &[u8]) -> Result<(), Unspecified> {
        Err(Unspecified)
    }

    fn ed25519_verify(_: &[u8; 32], _: &[u8], _: &[u8; 64]) -> Result<(), Unspecified> {
        Err(Unspecified)
    }

    fn rsa_verify(_: &RsaPublicKey, _: RsaPadding, _: &[u8], _: &[u8]) -> Result<(), Unspecified> {
        Err(Unspecified)
    }
}

pub use crate::alg::{Curve, Digest, BUILD_ALGORITHMS, EC_COORD_MAX, EC_POINT_MAX};

impl<B: Backend> crate::alg::KeyFilter for B {
    const ACCEPTS: crate::AlgSet = B::ALGORITHMS;
}

/// The primitives the engine needs. All inputs are public except HMAC keys; every check
/// that does not depend on the backend (lengths, ranges, key validity) is done before a
/// backend is called.
pub trait Backend {
    /// What this backend keeps for each key of a [`crate::KeySet`] built for it (its second
    /// type parameter): a parsed key, an HMAC key schedule. `()` when it keeps nothing.
    type KeyState: Clone + Default + 'static;

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

    /// HMAC verification with an imported key. The default calls [`Backend::hmac_verify`];
    /// the pure-Rust backend uses the HS256 state the key keeps.
    ///
    /// # Errors
    /// [`Unspecified`] if the tag does not match.
    fn hmac_verify_key(
        alg: HashAlg,
        key: &SymmetricKey,
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

    /// This backend's state for a key entering a [`crate::KeySet`] built for it, bound to
    /// `alg` (the key's `alg`, `None` when it has none). Called once per key, when it is
    /// inserted or when a JWK Set update stages it; it cannot fail (a key the backend cannot
    /// prepare gets a state that says so, and its verifications take the per-type methods).
    /// The default keeps nothing.
    fn prepare(key: &KeyMaterial, alg: Option<Algorithm>) -> Self::KeyState {
        let _ = (key, alg);
        Self::KeyState::default()
    }

    /// Verification with the state [`Backend::prepare`] made for `key`, tried before the
    /// per-type methods above (after the same pre-checks). `None` when the state does not
    /// cover this key and `alg`: the per-type method runs. The default has none.
    ///
    /// # Errors
    /// `Some(Err(Unspecified))` if the signature does not verify.
    fn verify_prepared(
        key: &KeyMaterial,
        state: &Self::KeyState,
        alg: Algorithm,
        msg: &[u8],
        sig: &[u8],
    ) -> Option<Result<(), Unspecified>> {
        let _ = (key, state, alg, msg, sig);
        None
    }
}

/// `B`'s state for a key, when `state` is of `B`'s kind: the key set was built for `B`, or
/// for a backend keeping the same state (as [`Fastest`] and the backend it routes to do).
/// A set built for another backend gives `None`, and `B` works from the material alone.
pub(crate) fn state_for<B: Backend, S: 'static>(state: &S) -> Option<&B::KeyState> {
    (state as &dyn core::any::Any).downcast_ref::<B::KeyState>()
}

/// Checks one signature with one key's material under `alg`, with the state `B` prepared
/// for it if there is some: the crypto layer's single entry, used by the token pipeline and
/// by [`crate::Jwk::verify_signature`]. The caller has checked that `B` verifies `alg` and
/// that the key's binding permits it.
pub(crate) fn check_signature<B: Backend>(
    key: &KeyMaterial,
    state: Option<&B::KeyState>,
    alg: Algorithm,
    msg: &[u8],
    sig: &[u8],
) -> Result<(), crate::Error> {
    // Each arm's pre-checks (lengths, Ed25519's `S` and `R`) come first; then the backend's
    // prepared state for the key, if it has some, else its per-type method.
    let prepared = || state.and_then(|st| B::verify_prepared(key, st, alg, msg, sig));
    let r = match (alg.family(), key) {
        (Family::Hmac(h), KeyMaterial::Oct(k)) if sig.len() == h.output_len() => {
            prepared().unwrap_or_else(|| B::hmac_verify_key(h, k, msg, sig))
        }
        (Family::RsaPkcs1(h), KeyMaterial::Rsa(r)) if sig.len() == r.modulus_len() => {
            prepared().unwrap_or_else(|| B::rsa_verify(r, RsaPadding::Pkcs1(h), msg, sig))
        }
        (Family::RsaPss(h), KeyMaterial::Rsa(r)) if sig.len() == r.modulus_len() => {
            prepared().unwrap_or_else(|| B::rsa_verify(r, RsaPadding::Pss(h), msg, sig))
        }
        (
            Family::EcdsaP256 | Family::EcdsaP384 | Family::EcdsaP521 | Family::EcdsaSecp256k1,
            KeyMaterial::Ec { curve, point },
        ) if sig.len() == 2 * curve.coord_len() => {
            let plen = 1 + 2 * curve.coord_len();
            prepared().unwrap_or_else(|| {
                B::ecdsa_verify(*curve, point.get(..plen).unwrap_or(&[]), msg, sig)
            })
        }
        (Family::Ed25519, KeyMaterial::Ed25519(pk)) => match <&[u8; 64]>::try_from(sig) {
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

/// With `ring` and `aws-lc` built and `rustcrypto` not, the default backend verifies nothing:
/// a good token is `alg_not_allowed` until a backend is named, and names work.
#[cfg(all(
    test,
    feature = "ring",
    feature = "aws-lc",
    not(feature = "rustcrypto")
))]
mod unchosen_tests {
    use super::{AwsLc, DefaultBackend, Ring, Unchosen};
    use crate::{alg, Error, Expect, Jwk, KeySet, Validation};

    #[test]
    fn no_default_backend_with_two_host_backends() {
        assert_eq!(
            core::any::TypeId::of::<DefaultBackend>(),
            core::any::TypeId::of::<Unchosen>()
        );
        let key = [7u8; 32];
        let mut keys: KeySet<2> = KeySet::new();
        keys.insert(Jwk::hmac(Some(b"k"), &key, alg::HS256).unwrap())
            .unwrap();
        // {"alg":"HS256","kid":"k"} . {"iss":"i","aud":"a","exp":2000000000}
        let input = "eyJhbGciOiJIUzI1NiIsImtpZCI6ImsifQ.eyJpc3MiOiJpIiwiYXVkIjoiYSIsImV4cCI6MjAwMDAwMDAwMH0";
        let tag = ring::hmac::sign(
            &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key),
            input.as_bytes(),
        );
        let mut sig = [0u8; 64];
        let n = crate::b64::encode(tag.as_ref(), &mut sig).unwrap();
        let token = std::format!("{input}.{}", core::str::from_utf8(&sig[..n]).unwrap());
        let v = Validation::new(Expect::One("i"), Expect::One("a"));
        let mut buf = [0u8; 256];
        assert_eq!(
            keys.verify(token.as_bytes(), &v, 1_900_000_000, &mut buf)
                .unwrap_err(),
            Error::AlgNotAllowed
        );
        assert!(keys
            .verify_with::<Ring>(token.as_bytes(), &v, 1_900_000_000, &mut buf)
            .is_ok());
        assert!(keys
            .verify_with::<AwsLc>(token.as_bytes(), &v, 1_900_000_000, &mut buf)
            .is_ok());
    }
}
