//! Key material: what a crypto backend sees of a key. A [`KeyMaterial`] is built only by
//! this crate, after every import check (RSA modulus size and exponent, EC point on its
//! curve, Ed25519 point not of small order, HMAC key length), so a backend can rely on it.
//! It knows nothing of `kid`, `alg` or `use`: those belong to the [`crate::Jwk`] around it.

use crate::alg::{Algorithm, Curve, EC_POINT_MAX};
use crate::error::KeyError;
use crate::rsa::RsaPublicKey;
use zeroize::Zeroize;

/// Longest symmetric (`oct`) key, in bytes.
pub const MAX_OCT_LEN: usize = 128;

/// HMAC-SHA-256 with the key absorbed, kept in an HS256-capable key.
#[cfg(all(feature = "rustcrypto", not(feature = "compact-sha256")))]
pub(crate) type Hs256State = hmac::Hmac<sha2::Sha256>;
/// HMAC-SHA-256 with the key absorbed, kept in an HS256-capable key.
#[cfg(all(feature = "rustcrypto", feature = "compact-sha256"))]
pub(crate) type Hs256State = crate::sha256_compact::HmacSha256;

/// The HS256 state of a key (inner and outer key blocks hashed once).
#[cfg(feature = "rustcrypto")]
fn hs256_state(key: &[u8]) -> Option<Hs256State> {
    #[cfg(not(feature = "compact-sha256"))]
    return <hmac::Hmac<sha2::Sha256> as hmac::KeyInit>::new_from_slice(key).ok();
    #[cfg(feature = "compact-sha256")]
    return Some(crate::sha256_compact::HmacSha256::new(key));
}

/// An HMAC secret; zeroized when dropped. With the pure-Rust HMAC built (feature
/// `rustcrypto`), an HS256-capable key also keeps the HMAC-SHA-256 state with the key
/// absorbed, so a verification saves two compressions. That state is part of the material
/// on purpose: it shares the storage of the largest key type (an RSA modulus), so a key slot
/// does not grow by it.
#[derive(Clone)]
pub struct SymmetricKey {
    k: [u8; MAX_OCT_LEN],
    len: u8,
    /// HMAC-SHA-256 with the key absorbed (zeroized on drop), for HS256-capable keys.
    #[cfg(feature = "rustcrypto")]
    hs256: Option<Hs256State>,
}

impl SymmetricKey {
    /// A key of 1 to [`MAX_OCT_LEN`] bytes, for `alg` (`None`: any HMAC algorithm).
    pub(crate) fn new(k: &[u8], alg: Option<Algorithm>) -> Result<Self, KeyError> {
        let mut s = SymmetricKey {
            k: [0; MAX_OCT_LEN],
            len: 0,
            #[cfg(feature = "rustcrypto")]
            hs256: None,
        };
        s.k.get_mut(..k.len())
            .ok_or(KeyError::SymmetricKeySize)?
            .copy_from_slice(k);
        s.len = u8::try_from(k.len()).map_err(|_| KeyError::SymmetricKeySize)?;
        #[cfg(feature = "rustcrypto")]
        if alg.is_none_or(|a| a == Algorithm::Hs256) {
            s.hs256 = hs256_state(k);
        }
        #[cfg(not(feature = "rustcrypto"))]
        let _ = alg;
        Ok(s)
    }

    /// HMAC-SHA-256 with the key already absorbed, if this key can verify HS256.
    #[cfg(feature = "rustcrypto")]
    pub(crate) fn hs256_state(&self) -> Option<&Hs256State> {
        self.hs256.as_ref()
    }

    /// The secret. A backend that keeps its own HMAC state builds it from these bytes in
    /// [`crate::Backend::prepare`].
    pub fn bytes(&self) -> &[u8] {
        self.k.get(..usize::from(self.len)).unwrap_or(&[])
    }
}

impl PartialEq for SymmetricKey {
    fn eq(&self, other: &Self) -> bool {
        use subtle::ConstantTimeEq;
        self.len == other.len && bool::from(self.bytes().ct_eq(other.bytes()))
    }
}

impl Drop for SymmetricKey {
    fn drop(&mut self) {
        self.k.zeroize();
    }
}

impl core::fmt::Debug for SymmetricKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SymmetricKey")
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

/// The validated material of a key, as a crypto backend sees it. Fixed-size storage on
/// purpose: every variant fits the largest key, so a key slot holds any key without a heap.
/// This crate builds one after the import checks, and takes none from outside: every
/// [`crate::Jwk`] is built from key bytes it validates, so a backend can rely on the checks.
#[derive(Clone, PartialEq)]
#[expect(clippy::large_enum_variant, reason = "fixed-size slots are the point")]
#[non_exhaustive]
pub enum KeyMaterial {
    /// An RSA public key (2048 bits up to [`crate::MAX_RSA_BITS`]).
    Rsa(RsaPublicKey),
    /// An EC public key.
    Ec {
        /// The curve.
        curve: Curve,
        /// Uncompressed SEC1 point `04 || x || y` (validated on the curve) in the first
        /// `1 + 2 * curve.coord_len()` bytes; see [`KeyMaterial::sec1_point`].
        point: [u8; EC_POINT_MAX],
    },
    /// An Ed25519 public key (not of small order).
    Ed25519([u8; 32]),
    /// An HMAC secret.
    Oct(SymmetricKey),
}

impl KeyMaterial {
    /// The uncompressed SEC1 point (`04 || x || y`) of an EC key, with its curve.
    pub fn sec1_point(&self) -> Option<(Curve, &[u8])> {
        match self {
            KeyMaterial::Ec { curve, point } => {
                Some((*curve, point.get(..1 + 2 * curve.coord_len())?))
            }
            _ => None,
        }
    }
}

impl core::fmt::Debug for KeyMaterial {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            KeyMaterial::Rsa(r) => write!(f, "Rsa({} bits)", r.bits()),
            KeyMaterial::Ec { curve, .. } => write!(f, "Ec({})", curve.name()),
            KeyMaterial::Ed25519(_) => f.write_str("Ed25519"),
            KeyMaterial::Oct(k) => write!(f, "Oct({} bytes)", k.bytes().len()),
        }
    }
}
