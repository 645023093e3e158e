//! The P-256 signing key. On Cortex-M4/M33 builds with the `p256-cortex-m4` feature it signs
//! with P256-Cortex-M4's constant-time assembly (the code the verifier already links), the
//! nonce from RFC 6979 ([`NonceGen`]), so the signatures are the same bytes RustCrypto's
//! deterministic ECDSA makes; elsewhere it is RustCrypto's `p256::ecdsa::SigningKey`.

use zeroize::Zeroize;

use crate::ec::P256_N as N;

/// RFC 6979 (section 3.2) deterministic nonces for P-256 with HMAC-SHA-256, with optional
/// additional data (section 3.6) appended after `h1` as RustCrypto's `rfc6979` does. Each
/// [`NonceGen::next`] is the next candidate `k` (big-endian); the signer rejects `k = 0`,
/// `k >= n`, `r = 0` and `s = 0` and asks again, which is the RFC's retry.
#[cfg_attr(
    not(any(test, all(feature = "p256-cortex-m4", target_arch = "arm"))),
    allow(dead_code)
)]
pub(crate) struct NonceGen {
    k: [u8; 32],
    v: [u8; 32],
    started: bool,
}

/// HMAC-SHA-256 of the concatenated `parts` under `key`.
#[cfg_attr(
    not(any(test, all(feature = "p256-cortex-m4", target_arch = "arm"))),
    allow(dead_code)
)]
fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    #[cfg(feature = "compact-sha256")]
    {
        crate::sha256_compact::HmacSha256::new(key).tag_parts(parts)
    }
    #[cfg(not(feature = "compact-sha256"))]
    {
        use hmac::{KeyInit, Mac};
        let mut out = [0u8; 32];
        if let Ok(mut m) = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(key) {
            for p in parts {
                m.update(p);
            }
            out.copy_from_slice(&m.finalize().into_bytes());
        }
        out
    }
}

#[cfg_attr(
    not(any(test, all(feature = "p256-cortex-m4", target_arch = "arm"))),
    allow(dead_code)
)]
impl NonceGen {
    /// The generator for private scalar `x` and message hash `hash` (both 32 bytes,
    /// big-endian; `hash` is reduced mod n here, the RFC's `bits2octets`).
    pub(crate) fn new(x: &[u8; 32], hash: &[u8; 32], extra: &[u8]) -> Self {
        let h1 = reduce_mod_n(hash);
        let mut k = [0u8; 32];
        let mut v = [1u8; 32];
        k = hmac(&k, &[&v, &[0], x, &h1, extra]);
        v = hmac(&k, &[&v]);
        k = hmac(&k, &[&v, &[1], x, &h1, extra]);
        v = hmac(&k, &[&v]);
        NonceGen {
            k,
            v,
            started: false,
        }
    }

    /// The next candidate nonce, big-endian.
    pub(crate) fn next(&mut self) -> [u8; 32] {
        if self.started {
            self.k = hmac(&self.k, &[&self.v, &[0]]);
            self.v = hmac(&self.k, &[&self.v]);
        }
        self.started = true;
        self.v = hmac(&self.k, &[&self.v]);
        self.v
    }
}

impl Drop for NonceGen {
    fn drop(&mut self) {
        self.k.zeroize();
        self.v.zeroize();
    }
}

/// `h mod n` for a 256-bit `h` (`h < 2n`, so one subtraction). The hash is public.
#[cfg_attr(
    not(any(test, all(feature = "p256-cortex-m4", target_arch = "arm"))),
    allow(dead_code)
)]
fn reduce_mod_n(h: &[u8; 32]) -> [u8; 32] {
    if h < &N {
        return *h;
    }
    let mut out = [0u8; 32];
    let mut borrow = 0u16;
    for ((o, &a), &b) in out.iter_mut().zip(h).zip(&N).rev() {
        let d = u16::from(a).wrapping_sub(u16::from(b)).wrapping_sub(borrow);
        *o = d.to_le_bytes()[0];
        borrow = (d >> 15) & 1;
    }
    out
}

/// A P-256 private key with its public point.
#[cfg(all(feature = "p256-cortex-m4", target_arch = "arm"))]
#[derive(Clone)]
pub(crate) struct P256Key {
    d: [u8; 32],
    public: [u8; 64],
}

#[cfg(all(feature = "p256-cortex-m4", target_arch = "arm"))]
impl P256Key {
    /// From the private scalar (big-endian; 24 to 32 bytes, left-padded, as RustCrypto's
    /// `from_slice` takes it). `None` unless in `[1, n-1]`.
    pub(crate) fn from_slice(d: &[u8]) -> Option<Self> {
        if d.len() < 24 || d.len() > 32 {
            return None;
        }
        let mut scalar = [0u8; 32];
        scalar.get_mut(32 - d.len()..)?.copy_from_slice(d);
        let Ok(mut sk) = p256_cortex_m4::SecretKey::from_bytes(scalar) else {
            scalar.zeroize();
            return None;
        };
        let pk = sk.public_key();
        sk.zeroize();
        let mut public = [0u8; 64];
        public.copy_from_slice(&pk.to_untagged_bytes());
        Some(P256Key { d: scalar, public })
    }

    /// The public point, `x || y` (big-endian).
    pub(crate) fn public_xy(&self) -> [u8; 64] {
        self.public
    }

    /// The signature `r || s` of the SHA-256 hash `z`: RFC 6979's nonce with `extra` as its
    /// additional data, the scalar multiplication and the rest in P256-Cortex-M4's
    /// constant-time assembly.
    pub(crate) fn sign_prehash(&self, z: &[u8; 32], extra: &[u8]) -> Option<[u8; 64]> {
        let mut sk = p256_cortex_m4::SecretKey::from_bytes(self.d).ok()?;
        let mut nonces = NonceGen::new(&self.d, z, extra);
        let sig = sk.sign_prehashed(z, NonceRng(&mut nonces));
        sk.zeroize();
        Some(sig.to_untagged_bytes())
    }
}

#[cfg(all(feature = "p256-cortex-m4", target_arch = "arm"))]
impl Drop for P256Key {
    fn drop(&mut self) {
        self.d.zeroize();
    }
}

/// The nonce source P256-Cortex-M4 draws `k` from: each fill is the next RFC 6979 candidate,
/// as the little-endian words the assembly reads.
#[cfg(all(feature = "p256-cortex-m4", target_arch = "arm"))]
struct NonceRng<'a>(&'a mut NonceGen);

#[cfg(all(feature = "p256-cortex-m4", target_arch = "arm"))]
impl rand_core::RngCore for NonceRng<'_> {
    fn next_u32(&mut self) -> u32 {
        rand_core::impls::next_u32_via_fill(self)
    }

    fn next_u64(&mut self) -> u64 {
        rand_core::impls::next_u64_via_fill(self)
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        let mut k = self.0.next();
        for (d, s) in dest.iter_mut().zip(k.iter().rev()) {
            *d = *s;
        }
        k.zeroize();
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

#[cfg(all(feature = "p256-cortex-m4", target_arch = "arm"))]
impl rand_core::CryptoRng for NonceRng<'_> {}

/// A P-256 private key: RustCrypto's deterministic ECDSA.
#[cfg(not(all(feature = "p256-cortex-m4", target_arch = "arm")))]
#[derive(Clone)]
pub(crate) struct P256Key(p256::ecdsa::SigningKey);

#[cfg(not(all(feature = "p256-cortex-m4", target_arch = "arm")))]
impl P256Key {
    /// From the private scalar (big-endian). `None` unless in `[1, n-1]`.
    pub(crate) fn from_slice(d: &[u8]) -> Option<Self> {
        p256::ecdsa::SigningKey::from_slice(d).ok().map(P256Key)
    }

    /// The public point, `x || y` (big-endian).
    pub(crate) fn public_xy(&self) -> [u8; 64] {
        let point = self.0.verifying_key().to_sec1_point(false);
        let mut out = [0u8; 64];
        if let Some(xy) = point.as_bytes().get(1..65) {
            out.copy_from_slice(xy);
        }
        out
    }

    /// The signature `r || s` of the SHA-256 hash `z` (RFC 6979, `extra` as its additional
    /// data).
    pub(crate) fn sign_prehash(&self, z: &[u8; 32], extra: &[u8]) -> Option<[u8; 64]> {
        let (sig, _) = ecdsa::hazmat::sign_prehashed_rfc6979::<p256::NistP256, sha2::Sha256>(
            self.0.as_nonzero_scalar(),
            z,
            extra,
        );
        let mut out = [0u8; 64];
        out.copy_from_slice(&sig.to_bytes());
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ec::hex32;

    fn sha256(m: &[u8]) -> [u8; 32] {
        use sha2::Digest;
        sha2::Sha256::digest(m).into()
    }

    /// RFC 6979 A.2.5 (P-256, SHA-256): the nonces for "sample" and "test".
    #[test]
    fn rfc6979_a25_nonces() {
        let x = hex32("c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721");
        for (msg, k) in [
            (
                "sample",
                "a6e3c57dd01abe90086538398355dd4c3b17aa873382b0f24d6129493d8aad60",
            ),
            (
                "test",
                "d16b6ae827f17175e040871a1c7ec3500192c4c92677336ec2537acaee0008e0",
            ),
        ] {
            let mut g = NonceGen::new(&x, &sha256(msg.as_bytes()), &[]);
            assert_eq!(g.next(), hex32(k), "{msg}");
        }
    }

    /// The retry path (k out of range) follows the RFC: K = HMAC(V || 0), V = HMAC(V), then
    /// a new V; checked against the construction written out.
    #[test]
    fn retries_follow_the_rfc() {
        let x = [0x42u8; 32];
        let h = sha256(b"retry");
        let mut g = NonceGen::new(&x, &h, b"extra");
        let first = g.next();
        let (k, v) = (g.k, g.v);
        assert_eq!(v, first);
        let k2 = hmac(&k, &[&v, &[0]]);
        let v2 = hmac(&k2, &[&v]);
        let v3 = hmac(&k2, &[&v2]);
        assert_eq!(g.next(), v3);
    }

    /// `bits2octets`: a hash at or above n is reduced once.
    #[test]
    fn hash_reduced_mod_n() {
        assert_eq!(reduce_mod_n(&N), [0u8; 32]);
        let mut above = N;
        above[31] += 5;
        let mut five = [0u8; 32];
        five[31] = 5;
        assert_eq!(reduce_mod_n(&above), five);
        let max = [0xFFu8; 32];
        let want = hex32("00000000ffffffff00000000000000004319055258e8617b0c46353d039cdaae");
        assert_eq!(reduce_mod_n(&max), want);
        assert_eq!(reduce_mod_n(&five), five);
    }

    /// The nonce this module derives is the one RustCrypto's deterministic ECDSA uses: the
    /// signature's r is x(kG) mod n for it.
    #[test]
    fn same_nonce_as_rustcrypto() {
        use p256::elliptic_curve::sec1::ToSec1Point;
        use p256::elliptic_curve::PrimeField;
        for (fill, extra) in [(0x11u8, &b""[..]), (0x12, b"hedge")] {
            let x = [fill; 32];
            let z = sha256(b"nonce check");
            let key = P256Key::from_slice(&x).unwrap();
            let sig = key.sign_prehash(&z, extra).unwrap();
            let k = NonceGen::new(&x, &z, extra).next();
            let k = p256::Scalar::from_repr(k.into()).unwrap();
            let r_point = (p256::ProjectivePoint::GENERATOR * k).to_affine();
            let point = r_point.to_sec1_point(false);
            let r = reduce_mod_n(point.as_bytes()[1..33].try_into().unwrap());
            assert_eq!(&sig[..32], &r[..], "extra {extra:?}");
        }
    }
}
