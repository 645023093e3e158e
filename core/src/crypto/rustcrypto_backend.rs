//! The pure-Rust backend: RustCrypto `sha2`, `hmac` and `p256`; RSA and P-384
//! ([`crate::ecdsa_vartime`]) on this crate's fixed-size Montgomery arithmetic, Ed25519
//! ([`crate::ed25519`]) on its own field arithmetic. No heap anywhere.

use super::{Backend, Curve, Digest};
use crate::alg::HashAlg;
use crate::error::Unspecified;

/// Pure Rust, heap-free (the microcontroller backend).
#[derive(Debug, Clone, Copy, Default)]
pub struct RustCrypto;

#[cfg(not(all(feature = "compact-sha256", feature = "compact-sha512")))]
fn finish<D: sha2::Digest>(h: D) -> Digest {
    let out = h.finalize();
    let src: &[u8] = out.as_ref();
    let mut bytes = [0u8; 64];
    if let Some(dst) = bytes.get_mut(..src.len()) {
        dst.copy_from_slice(src);
    }
    Digest::new(bytes, src.len())
}

#[cfg(not(all(feature = "compact-sha256", feature = "compact-sha512")))]
#[inline(never)]
fn hash_parts<D: sha2::Digest>(parts: &[&[u8]]) -> Digest {
    let mut h = D::new();
    for p in parts {
        h.update(p);
    }
    finish(h)
}

#[cfg(feature = "compact-sha512")]
#[inline(never)]
fn compact_parts(sha384: bool, parts: &[&[u8]]) -> Digest {
    let mut h = if sha384 {
        super::sha512_compact::Sha512::new384()
    } else {
        super::sha512_compact::Sha512::new512()
    };
    for p in parts {
        h.update(p);
    }
    let (d, n) = h.finish();
    Digest::new(d, n)
}

#[cfg(feature = "compact-sha256")]
#[inline(never)]
fn compact256_parts(parts: &[&[u8]]) -> Digest {
    let mut h = crate::sha256_compact::Sha256::new();
    for p in parts {
        h.update(p);
    }
    let mut bytes = [0u8; 64];
    if let Some(dst) = bytes.get_mut(..32) {
        dst.copy_from_slice(&h.finish());
    }
    Digest::new(bytes, 32)
}

#[cfg(not(all(feature = "compact-sha256", feature = "compact-sha512")))]
#[inline(never)]
fn hmac_check<M: hmac::Mac + hmac::KeyInit>(
    key: &[u8],
    msg: &[u8],
    tag: &[u8],
) -> Result<(), Unspecified> {
    let mut m = <M as hmac::KeyInit>::new_from_slice(key).map_err(|_| Unspecified)?;
    hmac::Mac::update(&mut m, msg);
    // `verify_slice` compares in constant time (subtle) and fails on a length mismatch.
    hmac::Mac::verify_slice(m, tag).map_err(|_| Unspecified)
}

impl Backend for RustCrypto {
    /// Nothing: RSA's Montgomery constants and the HS256 state are kept in the key material.
    type KeyState = ();

    const ALGORITHMS: crate::AlgSet = super::BUILD_ALGORITHMS;

    fn digest(alg: HashAlg, parts: &[&[u8]]) -> Digest {
        match alg {
            #[cfg(not(feature = "compact-sha256"))]
            HashAlg::Sha256 => hash_parts::<sha2::Sha256>(parts),
            #[cfg(feature = "compact-sha256")]
            HashAlg::Sha256 => compact256_parts(parts),
            #[cfg(not(feature = "compact-sha512"))]
            HashAlg::Sha384 => hash_parts::<sha2::Sha384>(parts),
            #[cfg(not(feature = "compact-sha512"))]
            HashAlg::Sha512 => hash_parts::<sha2::Sha512>(parts),
            #[cfg(feature = "compact-sha512")]
            HashAlg::Sha384 | HashAlg::Sha512 => compact_parts(alg == HashAlg::Sha384, parts),
        }
    }

    fn hmac_verify(alg: HashAlg, key: &[u8], msg: &[u8], tag: &[u8]) -> Result<(), Unspecified> {
        match alg {
            #[cfg(not(feature = "compact-sha256"))]
            HashAlg::Sha256 => hmac_check::<hmac::Hmac<sha2::Sha256>>(key, msg, tag),
            #[cfg(feature = "compact-sha256")]
            HashAlg::Sha256 => {
                if crate::sha256_compact::HmacSha256::new(key).verify(msg, tag) {
                    Ok(())
                } else {
                    Err(Unspecified)
                }
            }
            #[cfg(not(feature = "compact-sha512"))]
            HashAlg::Sha384 => hmac_check::<hmac::Hmac<sha2::Sha384>>(key, msg, tag),
            #[cfg(not(feature = "compact-sha512"))]
            HashAlg::Sha512 => hmac_check::<hmac::Hmac<sha2::Sha512>>(key, msg, tag),
            #[cfg(feature = "compact-sha512")]
            HashAlg::Sha384 | HashAlg::Sha512 => {
                if super::sha512_compact::hmac_verify(alg == HashAlg::Sha384, key, msg, tag) {
                    Ok(())
                } else {
                    Err(Unspecified)
                }
            }
        }
    }

    // Out of line: its HMAC states (two SHA-512 ones for HS384/512) stay out of the frame of
    // every signature check.
    #[inline(never)]
    fn hmac_verify_key(
        alg: HashAlg,
        key: &crate::SymmetricKey,
        msg: &[u8],
        tag: &[u8],
    ) -> Result<(), Unspecified> {
        match (alg, key.hs256_state()) {
            // The inner and outer key blocks were hashed at import: two compressions saved.
            #[cfg(not(feature = "compact-sha256"))]
            (HashAlg::Sha256, Some(state)) => {
                let mut m = state.clone();
                hmac::Mac::update(&mut m, msg);
                hmac::Mac::verify_slice(m, tag).map_err(|_| Unspecified)
            }
            #[cfg(feature = "compact-sha256")]
            (HashAlg::Sha256, Some(state)) => {
                if state.verify(msg, tag) {
                    Ok(())
                } else {
                    Err(Unspecified)
                }
            }
            _ => Self::hmac_verify(alg, key.bytes(), msg, tag),
        }
    }

    fn ecdsa_verify(curve: Curve, point: &[u8], msg: &[u8], sig: &[u8]) -> Result<(), Unspecified> {
        match curve {
            Curve::P256 => ecdsa_p256(point, msg, sig),
            Curve::P384 => ecdsa_p384(point, msg, sig),
            #[cfg(feature = "es512")]
            Curve::P521 => ecdsa_p521(point, msg, sig),
            #[cfg(feature = "es256k")]
            Curve::Secp256k1 => ecdsa_secp256k1(point, msg, sig),
            #[allow(unreachable_patterns)] // no key of a curve left out of the build exists
            _ => Err(Unspecified),
        }
    }

    #[inline(never)]
    fn ed25519_verify(pk: &[u8; 32], msg: &[u8], sig: &[u8; 64]) -> Result<(), Unspecified> {
        if crate::ed25519::verify(pk, msg, sig, |parts| {
            RustCrypto::digest(HashAlg::Sha512, parts)
        }) {
            Ok(())
        } else {
            Err(Unspecified)
        }
    }
}

// Each curve out of line: only the curve in use pays for its stack frame.

/// P256-Cortex-M4 (assembly): checks r, s in [1, n-1] and the point on the curve itself.
#[cfg(all(feature = "p256-cortex-m4", target_arch = "arm"))]
#[inline(never)]
fn ecdsa_p256(point: &[u8], msg: &[u8], sig: &[u8]) -> Result<(), Unspecified> {
    let pk = p256_cortex_m4::PublicKey::from_untagged_bytes(point.get(1..).unwrap_or(&[]))
        .map_err(|_| Unspecified)?;
    let sig = p256_cortex_m4::Signature::from_untagged_bytes(sig).map_err(|_| Unspecified)?;
    let digest = RustCrypto::digest(HashAlg::Sha256, &[msg]);
    // A fixed 32-byte array: the crate indexes the hash's first byte, and only a length the
    // compiler sees can drop that bounds check (and the panic path with it).
    let mut h = [0u8; 32];
    crate::copy_prefix(&mut h, digest.as_ref());
    if pk.verify_prehashed(&h, &sig) {
        Ok(())
    } else {
        Err(Unspecified)
    }
}

#[cfg(not(all(feature = "p256-cortex-m4", target_arch = "arm")))]
#[inline(never)]
fn ecdsa_p256(point: &[u8], msg: &[u8], sig: &[u8]) -> Result<(), Unspecified> {
    use p256::ecdsa::{signature::hazmat::PrehashVerifier, Signature, VerifyingKey};
    let vk = VerifyingKey::from_sec1_bytes(point).map_err(|_| Unspecified)?;
    let s = Signature::from_slice(sig).map_err(|_| Unspecified)?;
    let h = RustCrypto::digest(HashAlg::Sha256, &[msg]);
    vk.verify_prehash(h.as_ref(), &s).map_err(|_| Unspecified)
}

/// This crate's own ECDSA on its Montgomery arithmetic ([`crate::ecdsa_vartime`]): about a third of
/// the flash and of the Cortex-M4 instructions of RustCrypto's `p384`.
#[inline(never)]
fn ecdsa_p384(point: &[u8], msg: &[u8], sig: &[u8]) -> Result<(), Unspecified> {
    // Hashed by this backend (the compact SHA-384 on microcontrollers).
    let h = RustCrypto::digest(HashAlg::Sha384, &[msg]);
    crate::ecdsa_vartime::verify(Curve::P384, point, h.as_ref(), sig)
}

/// ES512 through RustCrypto `p521` (SHA-512 is shorter than the 521-bit order: the prehash
/// is taken as the leftmost bits, as SEC 1 §4.1.4 says).
#[cfg(feature = "es512")]
#[inline(never)]
fn ecdsa_p521(point: &[u8], msg: &[u8], sig: &[u8]) -> Result<(), Unspecified> {
    use p521::ecdsa::{signature::hazmat::PrehashVerifier, Signature, VerifyingKey};
    let vk = VerifyingKey::from_sec1_bytes(point).map_err(|_| Unspecified)?;
    let s = Signature::from_slice(sig).map_err(|_| Unspecified)?;
    let h = RustCrypto::digest(HashAlg::Sha512, &[msg]);
    vk.verify_prehash(h.as_ref(), &s).map_err(|_| Unspecified)
}

/// ES256K through RustCrypto `k256`. `k256` refuses high-S signatures (Bitcoin's rule);
/// JOSE does not (RFC 8812 says nothing of it, and every other verifier accepts them), so a
/// high `s` is replaced by `n - s`, the same signature, before verifying.
#[cfg(feature = "es256k")]
#[inline(never)]
fn ecdsa_secp256k1(point: &[u8], msg: &[u8], sig: &[u8]) -> Result<(), Unspecified> {
    use k256::ecdsa::{signature::hazmat::PrehashVerifier, Signature, VerifyingKey};
    let vk = VerifyingKey::from_sec1_bytes(point).map_err(|_| Unspecified)?;
    let s = Signature::from_slice(sig).map_err(|_| Unspecified)?;
    let s = s.normalize_s();
    let h = RustCrypto::digest(HashAlg::Sha256, &[msg]);
    vk.verify_prehash(h.as_ref(), &s).map_err(|_| Unspecified)
}
