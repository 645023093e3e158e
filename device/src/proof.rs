//! The backend of the link-time panic-freedom proofs (the firmware's `panic-check` image and
//! the C library's `panic-check` build): RustCrypto's SHA-2 and HMAC, tokenguard's own RSA and
//! P-384 arithmetic, and no P-256 or Ed25519. The crates behind those two (p256,
//! p256-cortex-m4, ed25519-compact) keep bounds checks the optimizer cannot remove (see
//! docs/fuzzing.md), so they are outside the proofs; this backend refuses ES256 and EdDSA.

use tokenguard::alg::HashAlg;
use tokenguard::crypto::{Digest, RustCrypto};
use tokenguard::{Backend, Curve, SymmetricKey, Unspecified};

/// HS*, RS*, PS* and ES384 on code inside the panic-freedom proof; ES256 and EdDSA refused.
#[derive(Debug, Clone, Copy)]
pub struct NoCurves;

impl Backend for NoCurves {
    type KeyState = ();
    fn digest(alg: HashAlg, parts: &[&[u8]]) -> Digest {
        RustCrypto::digest(alg, parts)
    }

    fn hmac_verify(alg: HashAlg, key: &[u8], msg: &[u8], tag: &[u8]) -> Result<(), Unspecified> {
        RustCrypto::hmac_verify(alg, key, msg, tag)
    }

    fn hmac_verify_key(
        alg: HashAlg,
        key: &SymmetricKey,
        msg: &[u8],
        tag: &[u8],
    ) -> Result<(), Unspecified> {
        RustCrypto::hmac_verify_key(alg, key, msg, tag)
    }

    /// P-384 is tokenguard's own arithmetic (inside the proof); P-256 is not.
    fn ecdsa_verify(curve: Curve, point: &[u8], msg: &[u8], sig: &[u8]) -> Result<(), Unspecified> {
        match curve {
            Curve::P384 => RustCrypto::ecdsa_verify(curve, point, msg, sig),
            _ => Err(Unspecified),
        }
    }

    fn ed25519_verify(_: &[u8; 32], _: &[u8], _: &[u8; 64]) -> Result<(), Unspecified> {
        Err(Unspecified)
    }
}
