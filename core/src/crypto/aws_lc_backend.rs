//! The `aws-lc` backend (hosts): AWS-LC through aws-lc-rs.
//!
//! What it adds over [`super::Ring`] is a key parsed once. When a key enters a
//! [`crate::KeySet`] built for this backend (or for [`super::Fastest`], which keeps the same
//! state) by insertion or a JWK Set update, its [`AwsLcKeyState`] is prepared: an aws-lc `ParsedPublicKey` for RSA, ECDSA and
//! Ed25519 keys, an HMAC key with its inner and outer states for `oct` keys. A verification
//! then skips the key parsing, and for RSA the Montgomery setup, which AWS-LC caches in the
//! parsed key after its first use (ring redoes it on every call). The prepared state is for
//! the key's `alg`, or for RS256 / HS256 when a key has none; any other algorithm such a key
//! is allowed to verify goes through the unprepared calls, with the same verdicts.
//!
//! AWS-LC allocates: the prepared state lives on the heap, owned by the key. This backend is
//! for hosts (it needs a C toolchain to build); microcontrollers use [`super::RustCrypto`].

use super::{Backend, Curve, Digest};
use crate::alg::{Algorithm, Family, HashAlg};
use crate::error::Unspecified;
use crate::material::KeyMaterial;
use crate::rsa::{RsaPadding, RsaPublicKey, MAX_RSA_BYTES};
use aws_lc_rs::{digest, hmac, signature};

extern crate alloc;
use alloc::boxed::Box;

/// AWS-LC through aws-lc-rs, with keys parsed once (hosts).
#[derive(Debug, Clone, Copy, Default)]
pub struct AwsLc;

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

fn rsa_params(padding: RsaPadding) -> &'static signature::RsaParameters {
    match padding {
        RsaPadding::Pkcs1(HashAlg::Sha256) => &signature::RSA_PKCS1_2048_8192_SHA256,
        RsaPadding::Pkcs1(HashAlg::Sha384) => &signature::RSA_PKCS1_2048_8192_SHA384,
        RsaPadding::Pkcs1(HashAlg::Sha512) => &signature::RSA_PKCS1_2048_8192_SHA512,
        RsaPadding::Pss(HashAlg::Sha256) => &signature::RSA_PSS_2048_8192_SHA256,
        RsaPadding::Pss(HashAlg::Sha384) => &signature::RSA_PSS_2048_8192_SHA384,
        RsaPadding::Pss(HashAlg::Sha512) => &signature::RSA_PSS_2048_8192_SHA512,
    }
}

fn ecdsa_alg(curve: Curve) -> &'static signature::EcdsaVerificationAlgorithm {
    match curve {
        Curve::P256 => &signature::ECDSA_P256_SHA256_FIXED,
        Curve::P384 => &signature::ECDSA_P384_SHA384_FIXED,
        Curve::P521 => &signature::ECDSA_P521_SHA512_FIXED,
        Curve::Secp256k1 => &signature::ECDSA_P256K1_SHA256_FIXED,
    }
}

/// A DER writer over a fixed buffer (no heap); `None` once it would overflow.
struct Der<'o> {
    out: &'o mut [u8],
    at: usize,
}

impl Der<'_> {
    fn byte(&mut self, b: u8) -> Option<()> {
        *self.out.get_mut(self.at)? = b;
        self.at += 1;
        Some(())
    }

    fn bytes(&mut self, b: &[u8]) -> Option<()> {
        self.out
            .get_mut(self.at..self.at + b.len())?
            .copy_from_slice(b);
        self.at += b.len();
        Some(())
    }

    /// A definite length (X.690 §8.1.3), short or long form up to 65535.
    fn len(&mut self, len: usize) -> Option<()> {
        match len {
            0..=0x7F => self.byte(u8::try_from(len).ok()?),
            0x80..=0xFF => {
                self.byte(0x81)?;
                self.byte(u8::try_from(len).ok()?)
            }
            _ => {
                let [hi, lo] = u16::try_from(len).ok()?.to_be_bytes();
                self.bytes(&[0x82, hi, lo])
            }
        }
    }

    /// The full encoded length of an INTEGER holding the unsigned minimal `v`.
    fn int_len(v: &[u8]) -> usize {
        let body = v.len() + usize::from(v.first().is_some_and(|&b| b & 0x80 != 0));
        1 + Self::len_len(body) + body
    }

    fn len_len(len: usize) -> usize {
        match len {
            0..=0x7F => 1,
            0x80..=0xFF => 2,
            _ => 3,
        }
    }

    /// An INTEGER from unsigned minimal big-endian bytes (a zero byte in front when the top
    /// bit is set, so it stays positive).
    fn uint(&mut self, v: &[u8]) -> Option<()> {
        let pad = v.first().is_some_and(|&b| b & 0x80 != 0);
        self.byte(0x02)?;
        self.len(v.len() + usize::from(pad))?;
        if pad {
            self.byte(0)?;
        }
        self.bytes(v)
    }
}

/// The key as a DER `RSAPublicKey` (RFC 8017 A.1.1), what aws-lc-rs parses.
fn rsa_public_key_der<'o>(key: &RsaPublicKey, out: &'o mut [u8]) -> Option<&'o [u8]> {
    let mut n = [0u8; MAX_RSA_BYTES];
    let n = key.modulus_be(&mut n)?;
    let mut e = [0u8; 8];
    let e = key.exponent_be(&mut e);
    let body = Der::int_len(n) + Der::int_len(e);
    let mut w = Der { out, at: 0 };
    w.byte(0x30)?;
    w.len(body)?;
    w.uint(n)?;
    w.uint(e)?;
    let at = w.at;
    w.out.get(..at)
}

/// What [`AwsLc`] keeps for a key of a set built for it: the key parsed by aws-lc-rs once
/// (see the module docs). Opaque.
#[derive(Clone, Default)]
pub struct AwsLcKeyState {
    inner: Option<Inner>,
}

impl core::fmt::Debug for AwsLcKeyState {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let what = match &self.inner {
            None => "none",
            Some(Inner::Public { .. }) => "public key",
            Some(Inner::Hmac { .. }) => "hmac key",
        };
        f.debug_tuple("AwsLcKeyState").field(&what).finish()
    }
}

#[derive(Clone)]
enum Inner {
    /// A parsed public key, bound by aws-lc-rs to one algorithm.
    Public {
        alg: Algorithm,
        key: signature::ParsedPublicKey,
    },
    /// An HMAC key for one hash (boxed: aws-lc-rs keeps its HMAC context, 1.2 KB, inline).
    Hmac { hash: HashAlg, key: Box<hmac::Key> },
}

impl AwsLcKeyState {
    /// Prepares `material` for `alg` (the key's binding), or for the most common algorithm of
    /// its type when it has none. Keys aws-lc-rs refuses get no state: their verifications
    /// take the unprepared path, which refuses them the same way.
    fn new(material: &KeyMaterial, alg: Option<Algorithm>) -> Self {
        let inner = match material {
            KeyMaterial::Rsa(r) => {
                let alg = alg.unwrap_or(Algorithm::Rs256);
                let padding = match alg.family() {
                    Family::RsaPkcs1(h) => Some(RsaPadding::Pkcs1(h)),
                    Family::RsaPss(h) => Some(RsaPadding::Pss(h)),
                    _ => None,
                };
                let mut buf = [0u8; MAX_RSA_BYTES + 32];
                padding
                    .zip(rsa_public_key_der(r, &mut buf))
                    .and_then(|(p, der)| {
                        let key = signature::ParsedPublicKey::new(rsa_params(p), der).ok()?;
                        Some(Inner::Public { alg, key })
                    })
            }
            KeyMaterial::Ec { curve, point } => {
                let alg = match curve {
                    Curve::P256 => Algorithm::Es256,
                    Curve::P384 => Algorithm::Es384,
                    Curve::P521 => Algorithm::Es512,
                    Curve::Secp256k1 => Algorithm::Es256k,
                };
                let plen = 1 + 2 * curve.coord_len();
                point.get(..plen).and_then(|p| {
                    let key = signature::ParsedPublicKey::new(ecdsa_alg(*curve), p).ok()?;
                    Some(Inner::Public { alg, key })
                })
            }
            KeyMaterial::Ed25519(pk) => signature::ParsedPublicKey::new(&signature::ED25519, pk)
                .ok()
                .map(|key| Inner::Public {
                    alg: Algorithm::EdDsa,
                    key,
                }),
            KeyMaterial::Oct(k) => {
                let hash = match alg.map(Algorithm::family) {
                    Some(Family::Hmac(h)) => h,
                    _ => HashAlg::Sha256,
                };
                Some(Inner::Hmac {
                    hash,
                    key: Box::new(hmac::Key::new(hmac_alg(hash), k.bytes())),
                })
            }
        };
        AwsLcKeyState { inner }
    }

    /// Whether state was prepared (for tests and `Debug`).
    #[cfg(test)]
    pub(crate) fn is_prepared(&self) -> bool {
        self.inner.is_some()
    }
}

impl Backend for AwsLc {
    type KeyState = AwsLcKeyState;

    fn prepare(key: &KeyMaterial, alg: Option<Algorithm>) -> AwsLcKeyState {
        AwsLcKeyState::new(key, alg)
    }

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
        // aws-lc-rs compares in constant time and fails on a length mismatch.
        hmac::verify(&hmac::Key::new(hmac_alg(alg), key), msg, tag).map_err(|_| Unspecified)
    }

    fn ecdsa_verify(curve: Curve, point: &[u8], msg: &[u8], sig: &[u8]) -> Result<(), Unspecified> {
        signature::UnparsedPublicKey::new(ecdsa_alg(curve), point)
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
        let mut n = [0u8; MAX_RSA_BYTES];
        let n = key.modulus_be(&mut n).ok_or(Unspecified)?;
        let mut e = [0u8; 8];
        let e = key.exponent_be(&mut e);
        signature::RsaPublicKeyComponents { n, e }
            .verify(rsa_params(padding), msg, sig)
            .map_err(|_| Unspecified)
    }

    fn verify_prepared(
        _: &KeyMaterial,
        state: &AwsLcKeyState,
        alg: Algorithm,
        msg: &[u8],
        sig: &[u8],
    ) -> Option<Result<(), Unspecified>> {
        match state.inner.as_ref()? {
            // The same family is the same operation on this key (the hash and padding are
            // part of it; `EdDSA` and `Ed25519` name one signature).
            Inner::Public { alg: a, key } if a.family() == alg.family() => {
                Some(key.verify_sig(msg, sig).map_err(|_| Unspecified))
            }
            Inner::Hmac { hash, key } if alg.family() == Family::Hmac(*hash) => {
                Some(hmac::verify(key, msg, sig).map_err(|_| Unspecified))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::signature::KeyPair;

    /// The DER writer's output is what aws-lc-rs parses, for short and long exponents and
    /// moduli with the top bit set (the zero pad) — checked by parsing it back.
    #[test]
    fn rsa_der_round_trips_through_aws_lc() {
        let pair =
            aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).expect("keygen");
        let comps: aws_lc_rs::rsa::PublicKeyComponents<std::vec::Vec<u8>> =
            pair.public_key().into();
        let key = RsaPublicKey::from_components(&comps.n, &comps.e).expect("key");
        let mut buf = [0u8; MAX_RSA_BYTES + 32];
        let der = rsa_public_key_der(&key, &mut buf).expect("der");
        assert_eq!(der, pair.public_key().as_ref());
        assert_eq!(der[0], 0x30);
        assert_eq!(der[4], 0x02);
    }

    /// The prepared path is the one taken for the key's own algorithm (and gives the
    /// verdict), and is skipped for any other one.
    #[test]
    fn prepared_state_is_used_for_the_bound_algorithm_only() {
        let k = [7u8; 48];
        let jwk = crate::Jwk::hmac(Some(b"h"), &k, Algorithm::Hs384).expect("key");
        let st = AwsLc::prepare(jwk.material(), jwk.alg());
        assert!(st.is_prepared());
        let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA384, &k), b"msg");
        let tag = tag.as_ref();
        assert_eq!(
            AwsLc::verify_prepared(jwk.material(), &st, Algorithm::Hs384, b"msg", tag),
            Some(Ok(()))
        );
        assert_eq!(
            AwsLc::verify_prepared(jwk.material(), &st, Algorithm::Hs384, b"msh", tag),
            Some(Err(Unspecified))
        );
        assert_eq!(
            AwsLc::verify_prepared(jwk.material(), &st, Algorithm::Hs256, b"msg", tag),
            None
        );
        assert_eq!(
            jwk.verify_signature::<AwsLc>(Algorithm::Hs384, b"msg", tag),
            Ok(())
        );

        let ed = crate::Jwk::from_json(
            br#"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#,
        )
        .expect("ed25519 key");
        let st = AwsLc::prepare(ed.material(), ed.alg());
        assert!(st.is_prepared());
        assert_eq!(
            AwsLc::verify_prepared(ed.material(), &st, Algorithm::Es256, b"m", &[0; 64]),
            None
        );
    }
}
