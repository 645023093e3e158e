//! Signing: the [`Signer`] seam and software signers ([`SigningKey`]) for ES256/ES384
//! (RFC 6979 deterministic nonces, hedged with caller entropy when given), EdDSA, HS256/384/512,
//! RS256/384/512 and PS256/384/512 (RSA-CRT on this crate's fixed-size Montgomery arithmetic,
//! constant-time for the private operation, no heap). Secrets are zeroized when a key is dropped.
//!
//! A signer's algorithm and key id are part of it, so a JWS header can never claim an
//! algorithm the key does not use. Keys in a secure element or an HSM implement [`Signer`]
//! themselves.
//!
//! Randomness: this crate has no RNG. PSS needs a salt as long as the hash (32, 48 or 64
//! bytes) from the caller (`entropy`); ECDSA and EdDSA are deterministic without it and
//! hedged with it (recommended on hardware exposed to fault injection).

use core::fmt;

use zeroize::Zeroize;

use crate::alg::{Algorithm, Family, HashAlg};
use crate::bigint::{limbs_from_be, limbs_to_be, secret, Limb, Modulus, LIMB_BITS, LIMB_BYTES};
use crate::crypto::{Backend, RustCrypto};
use crate::jwk::{Jwk, Kid};
use crate::keys::{self, KeyFormatError};
use crate::rsa::{RsaPublicKey, MAX_RSA_BYTES};

mod p256_key;
mod private_jwk;

use p256_key::P256Key;
pub use private_jwk::PrivateJwkParser;

/// Why signing failed.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum SignError {
    /// The output buffer is too small (nothing is truncated).
    BufferTooSmall,
    /// The algorithm needs caller entropy (PSS salt) and none, or too little, was given.
    EntropyRequired,
    /// The requested algorithm does not fit the key.
    AlgMismatch,
    /// Verify-after-sign failed: the signature was withheld (possible fault).
    SelfCheckFailed,
    /// The key is invalid or not supported.
    Key(KeyFormatError),
    /// The key was refused by a JWK or key validation rule (the reason is kept: a short
    /// HMAC secret, an RSA modulus out of range, a missing member, ...).
    KeyRejected(crate::KeyError),
    /// A claim or preset rule was broken (the message says which).
    Claims(&'static str),
    /// The signer (hardware) failed.
    Device,
}

impl fmt::Display for SignError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignError::BufferTooSmall => f.write_str("output buffer too small"),
            SignError::EntropyRequired => {
                f.write_str("this algorithm needs caller entropy (a hash-length PSS salt)")
            }
            SignError::AlgMismatch => f.write_str("algorithm does not fit the key"),
            SignError::SelfCheckFailed => {
                f.write_str("signature failed verify-after-sign and was withheld")
            }
            SignError::Key(k) => write!(f, "key: {k}"),
            SignError::KeyRejected(k) => write!(f, "key refused: {k}"),
            SignError::Claims(m) => write!(f, "claims: {m}"),
            SignError::Device => f.write_str("signing device failed"),
        }
    }
}

impl core::error::Error for SignError {}

impl From<KeyFormatError> for SignError {
    fn from(k: KeyFormatError) -> Self {
        SignError::Key(k)
    }
}

/// Anything that signs JWS signing input: a software key, a secure element, an HSM.
pub trait Signer {
    /// The JWS algorithm of every signature this signer makes.
    fn alg(&self) -> Algorithm;
    /// The key id to put in the header, if any.
    fn kid(&self) -> Option<&[u8]>;
    /// The exact signature length.
    fn signature_len(&self) -> usize;
    /// Signs `msg` (the JWS signing input) into `out`, returning the signature length.
    /// `entropy` is fresh randomness from the caller, if it has some.
    ///
    /// # Errors
    /// [`SignError`].
    fn sign(&self, msg: &[u8], entropy: Option<&[u8]>, out: &mut [u8]) -> Result<usize, SignError>;
}

/// Limbs of an RSA prime (half the largest modulus) and of a modulus.
const PRIME_LIMBS: usize = crate::rsa::MAX_RSA_BITS / 2 / LIMB_BITS;
const FULL_LIMBS: usize = 2 * PRIME_LIMBS;
/// Bytes of an RSA prime at most.
const PRIME_BYTES: usize = MAX_RSA_BYTES / 2;
type Prime = Modulus<PRIME_LIMBS>;

/// `x - 1` for an odd `x` (a prime), as limbs.
fn minus_one(x: &[Limb]) -> [Limb; PRIME_LIMBS] {
    let mut out = [0 as Limb; PRIME_LIMBS];
    crate::copy_prefix(&mut out, x);
    if let Some(low) = out.first_mut() {
        *low &= !1;
    }
    out
}

/// Whether `a b mod m == 1` (`a`, `b` of up to a prime's limbs, `m` non-zero), in constant
/// time.
fn product_is_one_mod(a: &[Limb], b: &[Limb], m: &[Limb]) -> bool {
    let mut prod = [0 as Limb; FULL_LIMBS + 1];
    let k = a.len() + b.len();
    let Some(p) = prod.get_mut(..k) else {
        return false;
    };
    secret::mul_wide(a, b, p);
    let mut r = [0 as Limb; PRIME_LIMBS];
    let rl = r.get_mut(..m.len()).unwrap_or(&mut []);
    secret::rem_ct(p, m, rl);
    let one = secret::equals(rl, &[1]);
    prod.zeroize();
    r.zeroize();
    one
}

/// Whether the private exponent `d` (big-endian) is the one behind `dp` and `dq`:
/// `d mod (p−1) = dp` and `d mod (q−1) = dq` (RFC 8017 §3.2). A key whose `d` does not
/// belong to its CRT values is refused, though signing uses only the CRT values.
pub(crate) fn rsa_d_matches(d: &[u8], p: &[u8], q: &[u8], dp: &[u8], dq: &[u8]) -> bool {
    let full = |b: &[u8]| limbs_from_be::<FULL_LIMBS>(b, FULL_LIMBS);
    let (Some(mut d), Some(p), Some(q), Some(mut dp), Some(mut dq)) =
        (full(d), full(p), full(q), full(dp), full(dq))
    else {
        return false;
    };
    let len = |x: &[Limb]| x.iter().rposition(|&w| w != 0).map_or(0, |i| i + 1);
    let matches = |prime: &[Limb; FULL_LIMBS], want: &[Limb]| {
        let n = len(prime);
        if n == 0 || n > PRIME_LIMBS || prime.first().is_none_or(|w| w & 1 == 0) {
            return false;
        }
        let m = minus_one(prime.get(..n).unwrap_or(&[]));
        let mut r = [0 as Limb; PRIME_LIMBS];
        let rl = r.get_mut(..n).unwrap_or(&mut []);
        secret::rem_ct(&d, m.get(..n).unwrap_or(&[]), rl);
        let ok = secret::equals(rl, want);
        r.zeroize();
        ok
    };
    let ok = matches(&p, &dp) && matches(&q, &dq);
    d.zeroize();
    dp.zeroize();
    dq.zeroize();
    ok
}

/// An RSA private key for RSA-CRT signing, on this crate's Montgomery arithmetic with the
/// constant-time operations of [`crate::bigint::secret`]: no branch or memory index depends
/// on the primes, the exponents or the message.
#[derive(Clone)]
struct RsaPrivate {
    public: RsaPublicKey,
    p: Prime,
    q: Prime,
    /// `dp`, `dq` left-padded to the primes' byte length (public), so the exponentiation's
    /// length does not tell their leading zeros.
    dp: [u8; PRIME_BYTES],
    dq: [u8; PRIME_BYTES],
    /// `qinv R mod p`.
    qinv_m: [Limb; PRIME_LIMBS],
    /// `R^3 mod p` and `R^3 mod q`: a value below `p q` reduced, then multiplied by one of
    /// these, is in Montgomery form.
    r3_p: [Limb; PRIME_LIMBS],
    r3_q: [Limb; PRIME_LIMBS],
}

impl Drop for RsaPrivate {
    fn drop(&mut self) {
        self.p.wipe();
        self.q.wipe();
        self.dp.zeroize();
        self.dq.zeroize();
        self.qinv_m.zeroize();
        self.r3_p.zeroize();
        self.r3_q.zeroize();
    }
}

impl RsaPrivate {
    #[expect(
        clippy::many_single_char_names,
        reason = "the RSA CRT members by their RFC 8017 names"
    )]
    fn new(
        n: &[u8],
        e: &[u8],
        p: &[u8],
        q: &[u8],
        dp: &[u8],
        dq: &[u8],
        qinv: &[u8],
    ) -> Result<Self, SignError> {
        let public = RsaPublicKey::from_components(n, e).map_err(SignError::KeyRejected)?;
        let prime = |b: &[u8]| {
            if b.len() > PRIME_BYTES {
                return Err(SignError::Key(KeyFormatError::Unsupported));
            }
            Prime::from_secret_be_bytes(b).ok_or(SignError::Key(KeyFormatError::InvalidKey))
        };
        let (pm, qm) = (prime(p)?, prime(q)?);
        // Equal limb counts: a ciphertext below p q is then below p R and q R, which the
        // reduction needs (every RSA key generator makes primes of equal length).
        if pm.limbs() != qm.limbs() || pm.byte_len() != qm.byte_len() {
            return Err(SignError::Key(KeyFormatError::Unsupported));
        }
        // p * q must be n.
        let k = pm.limbs();
        let mut pq = [0 as Limb; FULL_LIMBS];
        secret::mul_wide(
            pm.value(),
            qm.value(),
            pq.get_mut(..2 * k).unwrap_or(&mut []),
        );
        let mut nb = [0u8; MAX_RSA_BYTES];
        let nl = public
            .modulus_be(&mut nb)
            .ok_or(KeyFormatError::InvalidKey)?;
        let n_limbs =
            limbs_from_be::<FULL_LIMBS>(nl, FULL_LIMBS).ok_or(KeyFormatError::InvalidKey)?;
        if !secret::equals(&pq, &n_limbs) {
            pq.zeroize();
            return Err(SignError::KeyRejected(crate::KeyError::KeyMismatch));
        }
        pq.zeroize();
        // The CRT members must belong to p and q (a wrong one would sign garbage):
        // e·dp ≡ 1 (mod p−1), e·dq ≡ 1 (mod q−1), qi·q ≡ 1 (mod p).
        let plen = pm.byte_len();
        let padded = |x: &[u8]| -> Result<[u8; PRIME_BYTES], SignError> {
            let mut out = [0u8; PRIME_BYTES];
            let start = plen
                .checked_sub(x.len())
                .ok_or(SignError::KeyRejected(crate::KeyError::KeyMismatch))?;
            out.get_mut(start..plen)
                .ok_or(SignError::Key(KeyFormatError::InvalidKey))?
                .copy_from_slice(x);
            Ok(out)
        };
        let (dpb, dqb, qib) = (padded(dp)?, padded(dq)?, padded(qinv)?);
        let limbs = |b: &[u8; PRIME_BYTES]| {
            limbs_from_be::<PRIME_LIMBS>(b.get(..plen).unwrap_or(&[]), PRIME_LIMBS)
        };
        let (Some(mut dpl), Some(mut dql), Some(mut qil)) = (limbs(&dpb), limbs(&dqb), limbs(&qib))
        else {
            return Err(SignError::Key(KeyFormatError::InvalidKey));
        };
        let mut eb = [0u8; 8];
        let el = limbs_from_be::<PRIME_LIMBS>(public.exponent_be(&mut eb), PRIME_LIMBS)
            .ok_or(KeyFormatError::InvalidKey)?;
        let e_len = 8usize.div_ceil(LIMB_BYTES);
        let (e_l, dp_l, dq_l, qi_l) = (
            el.get(..e_len).unwrap_or(&[]),
            dpl.get(..k).unwrap_or(&[]),
            dql.get(..k).unwrap_or(&[]),
            qil.get(..k).unwrap_or(&[]),
        );
        let pm1 = minus_one(pm.value());
        let qm1 = minus_one(qm.value());
        let consistent = product_is_one_mod(e_l, dp_l, pm1.get(..k).unwrap_or(&[]))
            && product_is_one_mod(e_l, dq_l, qm1.get(..k).unwrap_or(&[]))
            && product_is_one_mod(qi_l, qm.value(), pm.value());
        if !consistent {
            dpl.zeroize();
            dql.zeroize();
            qil.zeroize();
            return Err(SignError::KeyRejected(crate::KeyError::KeyMismatch));
        }
        let r3_p = pm.r3_ct();
        let r3_q = qm.r3_ct();
        let qinv_m = pm.wide_to_mont_ct(qi_l, &r3_p);
        dpl.zeroize();
        dql.zeroize();
        qil.zeroize();
        Ok(RsaPrivate {
            public,
            p: pm,
            q: qm,
            dp: dpb,
            dq: dqb,
            qinv_m,
            r3_p,
            r3_q,
        })
    }

    /// `m^d mod n` by CRT (Garner), constant-time in the key and the message:
    /// `m1 = c^dp mod p`, `m2 = c^dq mod q`, `h = qinv (m1 - m2) mod p`, `s = m2 + h q`.
    fn private_op(&self, m: &[u8], out: &mut [u8]) -> Result<(), SignError> {
        let (p, q) = (&self.p, &self.q);
        let k = p.limbs();
        let plen = p.byte_len();
        let mut c = limbs_from_be::<FULL_LIMBS>(m, FULL_LIMBS).ok_or(SignError::BufferTooSmall)?;
        let cl = c.get(..2 * k).unwrap_or(&[]);
        let mut cp = p.wide_to_mont_ct(cl, &self.r3_p);
        let mut cq = q.wide_to_mont_ct(cl, &self.r3_q);
        let (dp, dq) = (
            self.dp.get(..plen).unwrap_or(&[]),
            self.dq.get(..plen).unwrap_or(&[]),
        );
        let mut m1 = p.pow_secret(&cp, dp);
        let mut m2 = q.to_normal_ct(&q.pow_secret(&cq, dq));
        let mut m2p = p.wide_to_mont_ct(m2.get(..k).unwrap_or(&[]), &self.r3_p);
        let mut diff = p.sub_ct(&m1, &m2p);
        let mut h = p.to_normal_ct(&p.mul_ct(&diff, &self.qinv_m));
        let mut s = [0 as Limb; FULL_LIMBS];
        let sl = s.get_mut(..2 * k).unwrap_or(&mut []);
        secret::mul_wide(h.get(..k).unwrap_or(&[]), q.value(), sl);
        secret::add_into(sl, m2.get(..k).unwrap_or(&[]));
        let len = self.public.modulus_len();
        let dst = out.get_mut(..len).ok_or(SignError::BufferTooSmall)?;
        limbs_to_be(&s, dst);
        for x in [
            &mut cp, &mut cq, &mut m1, &mut m2, &mut m2p, &mut diff, &mut h,
        ] {
            x.zeroize();
        }
        c.zeroize();
        s.zeroize();
        Ok(())
    }
}

#[derive(Clone)]
#[expect(clippy::large_enum_variant, reason = "fixed-size storage, no heap")]
enum Secret {
    Hmac {
        key: [u8; crate::MAX_OCT_LEN],
        len: usize,
    },
    P256(P256Key),
    #[cfg(feature = "es384-signing")]
    P384(p384::ecdsa::SigningKey),
    #[cfg(feature = "es512")]
    P521(p521::ecdsa::SigningKey),
    #[cfg(feature = "es256k")]
    K256(k256::ecdsa::SigningKey),
    Ed25519(crate::ed25519::SecretKey),
    Rsa(RsaPrivate),
}

impl Drop for Secret {
    fn drop(&mut self) {
        if let Secret::Hmac { key, .. } = self {
            key.zeroize();
        }
        // RustCrypto ECDSA signing keys and Ed25519 secret keys wipe themselves on drop;
        // RsaPrivate zeroizes its primes and exponents.
    }
}

/// The SHA-512 Ed25519 signing hashes with (the pure-Rust backend's: the compact one on
/// microcontrollers).
fn ed25519_sha512(parts: &[&[u8]]) -> crate::alg::Digest {
    RustCrypto::digest(HashAlg::Sha512, parts)
}

/// An uncompressed SEC 1 point (`04 || x || y`) in a buffer for the longest curve.
struct EcPoint([u8; crate::alg::EC_POINT_MAX]);

impl EcPoint {
    /// `(x, y)` for `curve`.
    fn coordinates(&self, curve: crate::Curve) -> (&[u8], &[u8]) {
        let c = curve.coord_len();
        (
            self.0.get(1..1 + c).unwrap_or(&[]),
            self.0.get(1 + c..1 + 2 * c).unwrap_or(&[]),
        )
    }
}

/// A software signing key with its algorithm and key id.
#[derive(Clone)]
pub struct SigningKey {
    kid: Option<Kid>,
    alg: Algorithm,
    secret: Secret,
    self_check: bool,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

fn fits(alg: Algorithm, secret: &Secret) -> bool {
    match (alg.family(), secret) {
        (Family::Hmac(_), Secret::Hmac { .. })
        | (Family::EcdsaP256, Secret::P256(_))
        | (Family::Ed25519, Secret::Ed25519(_))
        | (Family::RsaPkcs1(_) | Family::RsaPss(_), Secret::Rsa(_)) => true,
        #[cfg(feature = "es384-signing")]
        (Family::EcdsaP384, Secret::P384(_)) => true,
        #[cfg(feature = "es512")]
        (Family::EcdsaP521, Secret::P521(_)) => true,
        #[cfg(feature = "es256k")]
        (Family::EcdsaSecp256k1, Secret::K256(_)) => true,
        _ => false,
    }
}

impl SigningKey {
    fn new(kid: Option<&[u8]>, alg: Algorithm, secret: Secret) -> Result<Self, SignError> {
        if !fits(alg, &secret) {
            return Err(SignError::AlgMismatch);
        }
        if let (Family::Hmac(h), Secret::Hmac { len, .. }) = (alg.family(), &secret) {
            if *len < h.output_len() {
                return Err(SignError::KeyRejected(crate::KeyError::SymmetricKeySize));
            }
        }
        let kid = kid
            .map(Kid::new)
            .transpose()
            .map_err(SignError::KeyRejected)?;
        Ok(SigningKey {
            kid,
            alg,
            secret,
            self_check: false,
        })
    }

    /// An HMAC key (at least as long as the hash output, RFC 7518 §3.2).
    ///
    /// # Errors
    /// [`SignError::AlgMismatch`] or [`SignError::Key`].
    pub fn hmac(kid: Option<&[u8]>, key: &[u8], alg: Algorithm) -> Result<Self, SignError> {
        let mut k = [0u8; crate::MAX_OCT_LEN];
        k.get_mut(..key.len())
            .ok_or(SignError::KeyRejected(crate::KeyError::SymmetricKeySize))?
            .copy_from_slice(key);
        Self::new(
            kid,
            alg,
            Secret::Hmac {
                key: k,
                len: key.len(),
            },
        )
    }

    /// An EC key from its private scalar (big-endian, the curve's length).
    ///
    /// # Errors
    /// [`SignError::Key`] for a scalar out of range.
    pub fn ec(kid: Option<&[u8]>, curve: crate::Curve, d: &[u8]) -> Result<Self, SignError> {
        let bad = SignError::Key(KeyFormatError::InvalidKey);
        match curve {
            crate::Curve::P256 => {
                let k = P256Key::from_slice(d).ok_or(bad)?;
                Self::new(kid, Algorithm::Es256, Secret::P256(k))
            }
            #[cfg(feature = "es384-signing")]
            crate::Curve::P384 => {
                let k = p384::ecdsa::SigningKey::from_slice(d).map_err(|_| bad)?;
                Self::new(kid, Algorithm::Es384, Secret::P384(k))
            }
            #[cfg(feature = "es512")]
            crate::Curve::P521 => {
                let k = p521::ecdsa::SigningKey::from_slice(d).map_err(|_| bad)?;
                Self::new(kid, Algorithm::Es512, Secret::P521(k))
            }
            #[cfg(feature = "es256k")]
            crate::Curve::Secp256k1 => {
                let k = k256::ecdsa::SigningKey::from_slice(d).map_err(|_| bad)?;
                Self::new(kid, Algorithm::Es256k, Secret::K256(k))
            }
            #[allow(unreachable_patterns)] // curves left out of the build
            _ => Err(SignError::Key(KeyFormatError::Unsupported)),
        }
    }

    /// An Ed25519 key from its 32-byte seed.
    ///
    /// # Errors
    /// Never in practice (kept for a uniform API).
    pub fn ed25519(kid: Option<&[u8]>, seed: &[u8; 32]) -> Result<Self, SignError> {
        let key = crate::ed25519::SecretKey::from_seed(seed, ed25519_sha512);
        Self::new(kid, Algorithm::EdDsa, Secret::Ed25519(key))
    }

    /// An RSA key from its CRT components (big-endian), for `alg` in RS*/PS*.
    ///
    /// # Errors
    /// [`SignError::Key`] when the components are inconsistent (p·q ≠ n) or too large.
    #[expect(
        clippy::too_many_arguments,
        reason = "the RSA CRT members by their RFC 8017 names"
    )]
    pub fn rsa(
        kid: Option<&[u8]>,
        alg: Algorithm,
        n: &[u8],
        e: &[u8],
        p: &[u8],
        q: &[u8],
        dp: &[u8],
        dq: &[u8],
        qinv: &[u8],
    ) -> Result<Self, SignError> {
        Self::new(
            kid,
            alg,
            Secret::Rsa(RsaPrivate::new(n, e, p, q, dp, dq, qinv)?),
        )
    }

    /// Reads a private key from PEM (`RSA PRIVATE KEY`, `PRIVATE KEY`, `EC PRIVATE KEY`) or
    /// DER (PKCS#8, PKCS#1, SEC1). `alg` picks the algorithm for RSA keys (RS256 if `None`);
    /// EC and Ed25519 keys fix their own.
    ///
    /// # Errors
    /// [`SignError::Key`], or [`SignError::AlgMismatch`] when `alg` does not fit the key.
    pub fn from_pem_or_der(
        input: &[u8],
        kid: Option<&[u8]>,
        alg: Option<Algorithm>,
    ) -> Result<Self, SignError> {
        let mut scratch = [0u8; 4096];
        let key = keys::private_key(input, &mut scratch)
            .map_err(SignError::Key)
            .and_then(|k| Self::from_private_bytes(&k, kid, alg));
        scratch.zeroize();
        key
    }

    /// A signing key from parsed private components (see [`keys::private_key`]).
    ///
    /// # Errors
    /// [`SignError::Key`], or [`SignError::AlgMismatch`] when `alg` does not fit the key.
    pub fn from_private_bytes(
        k: &keys::PrivateKeyBytes<'_>,
        kid: Option<&[u8]>,
        alg: Option<Algorithm>,
    ) -> Result<Self, SignError> {
        let key = match *k {
            keys::PrivateKeyBytes::Rsa {
                n,
                e,
                p,
                q,
                dp,
                dq,
                qi,
                ..
            } => Self::rsa(kid, alg.unwrap_or(Algorithm::Rs256), n, e, p, q, dp, dq, qi)?,
            keys::PrivateKeyBytes::Ec { curve, d } => Self::ec(kid, curve, d)?,
            keys::PrivateKeyBytes::Ed25519(seed) => Self::ed25519(kid, seed)?,
        };
        match alg {
            // Another algorithm of the key's family (PS256 for an RSA key, `Ed25519` for
            // an Ed25519 key); anything else is `AlgMismatch`.
            Some(a) if a != key.alg => key.with_alg(a),
            _ => Ok(key),
        }
    }

    /// Reads a private JWK (`d`, and for RSA the CRT members `p`, `q`, `dp`, `dq`, `qi`);
    /// see [`PrivateJwkParser`] for the rules and for keys that arrive in chunks.
    ///
    /// # Errors
    /// [`SignError::KeyRejected`] with the reason, or [`SignError::AlgMismatch`].
    pub fn from_jwk(json: &[u8]) -> Result<Self, SignError> {
        let mut p = PrivateJwkParser::new();
        p.feed(json)?;
        p.finish()
    }

    /// Turns verify-after-sign on: every signature is checked with the public key before
    /// it is released (a fault-injection defence; costs one verification).
    #[must_use]
    pub fn with_self_check(mut self, on: bool) -> Self {
        self.self_check = on;
        self
    }

    /// Uses `alg` (same key family, e.g. PS256 for an RSA key) and returns the key.
    ///
    /// # Errors
    /// [`SignError::AlgMismatch`].
    pub fn with_alg(mut self, alg: Algorithm) -> Result<Self, SignError> {
        if !fits(alg, &self.secret) {
            return Err(SignError::AlgMismatch);
        }
        self.alg = alg;
        Ok(self)
    }

    /// Sets the key id.
    ///
    /// # Errors
    /// [`SignError::Key`] for a kid longer than [`crate::MAX_KID_LEN`].
    pub fn with_kid(mut self, kid: &[u8]) -> Result<Self, SignError> {
        self.kid = Some(Kid::new(kid).map_err(|_| SignError::Key(KeyFormatError::InvalidKey))?);
        Ok(self)
    }

    /// The public verification key (the secret itself for HMAC), bound to this key's
    /// algorithm and kid.
    ///
    /// # Errors
    /// [`crate::KeyError`] if the public key fails validation (it should not).
    pub fn public_jwk(&self) -> Result<Jwk, crate::KeyError> {
        let kid = self.kid.as_ref().map(Kid::as_bytes);
        let alg = Some(self.alg);
        match &self.secret {
            Secret::Hmac { key, len } => Jwk::hmac(kid, key.get(..*len).unwrap_or(&[]), self.alg),
            Secret::Ed25519(pair) => Jwk::ed25519(kid, &pair.pk, alg),
            Secret::Rsa(r) => {
                let mut nb = [0u8; MAX_RSA_BYTES];
                let n = r.public.modulus_be(&mut nb).unwrap_or(&[]);
                let mut eb = [0u8; 8];
                Jwk::rsa(kid, n, r.public.exponent_be(&mut eb), alg)
            }
            _ => {
                let (curve, point) = self.ec_public().ok_or(crate::KeyError::InvalidPoint)?;
                let (x, y) = point.coordinates(curve);
                Jwk::ec(kid, curve, x, y, alg)
            }
        }
    }

    /// The curve and uncompressed public point of an EC key.
    fn ec_public(&self) -> Option<(crate::Curve, EcPoint)> {
        let mut out = EcPoint([0; crate::alg::EC_POINT_MAX]);
        let mut put = |b: &[u8]| crate::copy_exact(out.0.get_mut(..b.len())?, b);
        let curve = match &self.secret {
            Secret::P256(k) => {
                put(&[0x04])?;
                crate::copy_exact(out.0.get_mut(1..65)?, &k.public_xy())?;
                crate::Curve::P256
            }
            #[cfg(feature = "es384-signing")]
            Secret::P384(k) => {
                put(k.verifying_key().to_sec1_point(false).as_bytes())?;
                crate::Curve::P384
            }
            #[cfg(feature = "es512")]
            Secret::P521(k) => {
                put(k.verifying_key().to_sec1_point(false).as_bytes())?;
                crate::Curve::P521
            }
            #[cfg(feature = "es256k")]
            Secret::K256(k) => {
                put(k.verifying_key().to_sec1_point(false).as_bytes())?;
                crate::Curve::Secp256k1
            }
            _ => return None,
        };
        Some((curve, out))
    }

    /// Whether the public members a private JWK carried (`x`, and `y` for EC) are this
    /// key's public key: an absent member matches.
    pub(crate) fn public_matches(&self, x: Option<&[u8]>, y: Option<&[u8]>) -> bool {
        let same = |want: Option<&[u8]>, got: Option<&[u8]>| want.is_none() || want == got;
        if let Some((curve, point)) = self.ec_public() {
            let (px, py) = point.coordinates(curve);
            return same(x, Some(px)) && same(y, Some(py));
        }
        match &self.secret {
            Secret::Ed25519(pair) => same(x, Some(&pair.pk[..])) && y.is_none(),
            _ => x.is_none() && y.is_none(),
        }
    }

    fn sign_raw(
        &self,
        msg: &[u8],
        entropy: Option<&[u8]>,
        out: &mut [u8],
    ) -> Result<usize, SignError> {
        let len = self.signature_len();
        let out = out.get_mut(..len).ok_or(SignError::BufferTooSmall)?;
        match (&self.secret, self.alg.family()) {
            (Secret::Hmac { key, len: kl }, Family::Hmac(h)) => {
                hmac_sign(h, key.get(..*kl).unwrap_or(&[]), msg, out);
            }
            (Secret::P256(k), Family::EcdsaP256) => {
                let z = RustCrypto::digest(HashAlg::Sha256, &[msg]);
                let z: &[u8; 32] = z.as_ref().try_into().map_err(|_| SignError::AlgMismatch)?;
                let sig = k
                    .sign_prehash(z, entropy.unwrap_or(&[]))
                    .ok_or(SignError::Key(KeyFormatError::InvalidKey))?;
                crate::copy_exact(out, &sig).ok_or(SignError::BufferTooSmall)?;
            }
            #[cfg(feature = "es384-signing")]
            (Secret::P384(k), Family::EcdsaP384) => {
                let z = RustCrypto::digest(HashAlg::Sha384, &[msg]);
                let (sig, _) = ecdsa::hazmat::sign_prehashed_rfc6979::<p384::NistP384, sha2::Sha384>(
                    k.as_nonzero_scalar(),
                    z.as_ref(),
                    entropy.unwrap_or(&[]),
                );
                crate::copy_exact(out, &sig.to_bytes()).ok_or(SignError::BufferTooSmall)?;
            }
            #[cfg(feature = "es512")]
            (Secret::P521(k), Family::EcdsaP521) => {
                let z = RustCrypto::digest(HashAlg::Sha512, &[msg]);
                let (sig, _) = ecdsa::hazmat::sign_prehashed_rfc6979::<p521::NistP521, sha2::Sha512>(
                    k.as_nonzero_scalar(),
                    z.as_ref(),
                    entropy.unwrap_or(&[]),
                );
                crate::copy_exact(out, &sig.to_bytes()).ok_or(SignError::BufferTooSmall)?;
            }
            #[cfg(feature = "es256k")]
            (Secret::K256(k), Family::EcdsaSecp256k1) => {
                let z = RustCrypto::digest(HashAlg::Sha256, &[msg]);
                let (sig, _) = ecdsa::hazmat::sign_prehashed_rfc6979::<k256::Secp256k1, sha2::Sha256>(
                    k.as_nonzero_scalar(),
                    z.as_ref(),
                    entropy.unwrap_or(&[]),
                );
                // Low S, as secp256k1 verifiers from Bitcoin's lineage require.
                crate::copy_exact(out, &sig.normalize_s().to_bytes())
                    .ok_or(SignError::BufferTooSmall)?;
            }
            (Secret::Ed25519(pair), Family::Ed25519) => {
                // 16 bytes of entropy hedge the nonce.
                let noise = entropy.and_then(|e| e.get(..16));
                crate::copy_exact(out, &pair.sign(msg, noise, ed25519_sha512))
                    .ok_or(SignError::BufferTooSmall)?;
            }
            (Secret::Rsa(r), Family::RsaPkcs1(h)) => {
                let mut em = [0u8; MAX_RSA_BYTES];
                let em = em.get_mut(..len).ok_or(SignError::BufferTooSmall)?;
                pkcs1_encode(h, msg, em)?;
                r.private_op(em, out)?;
            }
            (Secret::Rsa(r), Family::RsaPss(h)) => {
                let salt = entropy
                    .and_then(|e| e.get(..h.output_len()))
                    .ok_or(SignError::EntropyRequired)?;
                let mut em = [0u8; MAX_RSA_BYTES];
                let em = em.get_mut(..len).ok_or(SignError::BufferTooSmall)?;
                pss_encode(h, msg, salt, r.public.bits(), em)?;
                r.private_op(em, out)?;
            }
            _ => return Err(SignError::AlgMismatch),
        }
        Ok(len)
    }
}

impl Signer for SigningKey {
    fn alg(&self) -> Algorithm {
        self.alg
    }

    fn kid(&self) -> Option<&[u8]> {
        self.kid.as_ref().map(Kid::as_bytes)
    }

    fn signature_len(&self) -> usize {
        match &self.secret {
            Secret::Rsa(r) => r.public.modulus_len(),
            _ => self.alg.signature_len().unwrap_or(0),
        }
    }

    fn sign(&self, msg: &[u8], entropy: Option<&[u8]>, out: &mut [u8]) -> Result<usize, SignError> {
        let n = self.sign_raw(msg, entropy, out)?;
        if self.self_check {
            let jwk = self.public_jwk().map_err(|_| SignError::SelfCheckFailed)?;
            let sig = out.get(..n).ok_or(SignError::SelfCheckFailed)?;
            if jwk
                .verify_signature::<RustCrypto>(self.alg, msg, sig)
                .is_err()
            {
                if let Some(o) = out.get_mut(..n) {
                    o.zeroize();
                }
                return Err(SignError::SelfCheckFailed);
            }
        }
        Ok(n)
    }
}

fn hmac_sign(h: HashAlg, key: &[u8], msg: &[u8], out: &mut [u8]) {
    #[allow(unused_imports, reason = "every hash may be the compact one")]
    use hmac::{KeyInit, Mac};
    #[allow(dead_code, reason = "every hash may be the compact one")]
    fn run<M: Mac + KeyInit>(key: &[u8], msg: &[u8], out: &mut [u8]) {
        if let Ok(mut m) = <M as KeyInit>::new_from_slice(key) {
            m.update(msg);
            let tag = m.finalize().into_bytes();
            let t: &[u8] = tag.as_ref();
            if t.len() == out.len() {
                out.copy_from_slice(t);
            }
        }
    }
    match h {
        #[cfg(not(feature = "compact-sha256"))]
        HashAlg::Sha256 => run::<hmac::Hmac<sha2::Sha256>>(key, msg, out),
        #[cfg(feature = "compact-sha256")]
        HashAlg::Sha256 => {
            let mut tag = crate::sha256_compact::HmacSha256::new(key).tag(msg);
            if out.len() == tag.len() {
                out.copy_from_slice(&tag);
            }
            tag.zeroize();
        }
        #[cfg(not(feature = "compact-sha512"))]
        HashAlg::Sha384 => run::<hmac::Hmac<sha2::Sha384>>(key, msg, out),
        #[cfg(not(feature = "compact-sha512"))]
        HashAlg::Sha512 => run::<hmac::Hmac<sha2::Sha512>>(key, msg, out),
        #[cfg(feature = "compact-sha512")]
        HashAlg::Sha384 | HashAlg::Sha512 => {
            let (mac, n) = crate::crypto::sha512_compact::hmac(h == HashAlg::Sha384, key, msg);
            if let (Some(src), true) = (mac.get(..n), n == out.len()) {
                out.copy_from_slice(src);
            }
        }
    }
}

/// EMSA-PKCS1-v1_5 (RFC 8017 §9.2) into `em` (the modulus length).
fn pkcs1_encode(h: HashAlg, msg: &[u8], em: &mut [u8]) -> Result<(), SignError> {
    let prefix = crate::rsa::digest_info_prefix(h);
    let t_len = prefix.len() + h.output_len();
    let k = em.len();
    if k < t_len + 11 {
        return Err(SignError::Key(KeyFormatError::InvalidKey));
    }
    let hash = RustCrypto::digest(h, &[msg]);
    let ps_end = k - t_len - 1;
    for (i, b) in em.iter_mut().enumerate() {
        *b = match i {
            0 => 0,
            1 => 1,
            _ if i < ps_end => 0xFF,
            _ => 0,
        };
    }
    let prefix_at = em
        .get_mut(ps_end + 1..ps_end + 1 + prefix.len())
        .ok_or(SignError::BufferTooSmall)?;
    crate::copy_exact(prefix_at, prefix).ok_or(SignError::BufferTooSmall)?;
    let hash_at = em
        .get_mut(k - h.output_len()..)
        .ok_or(SignError::BufferTooSmall)?;
    crate::copy_exact(hash_at, hash.as_ref()).ok_or(SignError::BufferTooSmall)?;
    Ok(())
}

/// EMSA-PSS-ENCODE (RFC 8017 §9.1.1), salt length = hash length, into `em_full` (the
/// modulus length; a leading zero byte when modBits − 1 is a multiple of 8).
fn pss_encode(
    h: HashAlg,
    msg: &[u8],
    salt: &[u8],
    mod_bits: usize,
    em_full: &mut [u8],
) -> Result<(), SignError> {
    let em_bits = mod_bits - 1;
    let em_len = em_bits.div_ceil(8);
    let h_len = h.output_len();
    let skip = em_full
        .len()
        .checked_sub(em_len)
        .ok_or(SignError::BufferTooSmall)?;
    let (lead, em) = em_full
        .split_at_mut_checked(skip)
        .ok_or(SignError::BufferTooSmall)?;
    lead.fill(0);
    if em_len < 2 * h_len + 2 {
        return Err(SignError::Key(KeyFormatError::InvalidKey));
    }
    let m_hash = RustCrypto::digest(h, &[msg]);
    let hh = RustCrypto::digest(h, &[&[0u8; 8], m_hash.as_ref(), salt]);
    let db_len = em_len - h_len - 1;
    let (db, rest) = em
        .split_at_mut_checked(db_len)
        .ok_or(SignError::BufferTooSmall)?;
    // DB = PS (zeros) || 0x01 || salt
    db.fill(0);
    let one = db_len - h_len - 1;
    *db.get_mut(one).ok_or(SignError::BufferTooSmall)? = 1;
    let salt_at = db.get_mut(one + 1..).ok_or(SignError::BufferTooSmall)?;
    crate::copy_exact(salt_at, salt).ok_or(SignError::BufferTooSmall)?;
    for (counter, chunk) in (0u32..).zip(db.chunks_mut(h_len)) {
        let mask = RustCrypto::digest(h, &[hh.as_ref(), &counter.to_be_bytes()]);
        for (d, m) in chunk.iter_mut().zip(mask.as_ref()) {
            *d ^= m;
        }
    }
    let top_bits = 8 * em_len - em_bits;
    if let Some(b) = db.first_mut() {
        *b &= 0xFF >> top_bits;
    }
    let (hpart, tail) = rest
        .split_at_mut_checked(h_len)
        .ok_or(SignError::BufferTooSmall)?;
    crate::copy_exact(hpart, hh.as_ref()).ok_or(SignError::BufferTooSmall)?;
    *tail.first_mut().ok_or(SignError::BufferTooSmall)? = 0xbc;
    Ok(())
}

#[cfg(test)]
mod tests;
