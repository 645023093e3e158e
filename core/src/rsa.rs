//! RSA public keys and signature verification (RFC 8017 §8.1.2 PSS, §8.2.2 PKCS#1 v1.5) over
//! the fixed-size Montgomery arithmetic of [`crate::bigint`], no heap.
//!
//! Key rules follow ring's: modulus 2048 bits up to [`MAX_RSA_BITS`], odd, minimally encoded;
//! exponent odd, at least 3, below 2^33. Keys with the ROCA fingerprint (CVE-2017-15361) are
//! refused. PKCS#1 v1.5 is checked by building the expected encoding and comparing it whole,
//! never by parsing the padding (Bleichenbacher's e=3 forgery needs a parser to fool).

use crate::alg::Digest;
use crate::alg::HashAlg;
use crate::bigint::{limbs_from_be, limbs_to_be, Modulus, LIMB_BITS};
use crate::error::{KeyError, Unspecified};

/// Largest RSA modulus accepted, in bits (4096 with the `rsa-4096` feature, else 2048).
#[cfg(feature = "rsa-4096")]
pub const MAX_RSA_BITS: usize = 4096;
/// Largest RSA modulus accepted, in bits (4096 with the `rsa-4096` feature, else 2048).
#[cfg(not(feature = "rsa-4096"))]
pub const MAX_RSA_BITS: usize = 2048;
/// Smallest RSA modulus accepted, in bits.
pub const MIN_RSA_BITS: usize = 2048;
/// Largest RSA modulus (and signature) in bytes.
pub const MAX_RSA_BYTES: usize = MAX_RSA_BITS / 8;
const RSA_LIMBS: usize = MAX_RSA_BITS / LIMB_BITS;
const MAX_E: u64 = (1 << 33) - 1;

/// RSA signature padding with its hash (the salt length of PSS is the hash length, RFC 7518
/// §3.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum RsaPadding {
    /// RSASSA-PKCS1-v1_5.
    Pkcs1(HashAlg),
    /// RSASSA-PSS, MGF1 with the same hash, salt length = hash length.
    Pss(HashAlg),
}

/// A validated RSA public key with its Montgomery constants precomputed.
#[derive(Clone, PartialEq, Eq)]
pub struct RsaPublicKey {
    n: Modulus<RSA_LIMBS>,
    e: u64,
}

impl core::fmt::Debug for RsaPublicKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "RsaPublicKey({} bits, e={})", self.n.bits(), self.e)
    }
}

impl RsaPublicKey {
    /// Validates `n` and `e` (big-endian, minimal) and precomputes the Montgomery constants.
    ///
    /// # Errors
    /// [`KeyError::RsaModulus`], [`KeyError::RsaExponent`] or [`KeyError::RsaRoca`].
    pub fn from_components(n: &[u8], e: &[u8]) -> Result<Self, KeyError> {
        let mut k = Self::ZERO;
        k.set_components(n, e)?;
        Ok(k)
    }

    /// No key yet: what [`Self::set_components`] fills in.
    pub(crate) const ZERO: Self = RsaPublicKey {
        n: Modulus::ZERO,
        e: 0,
    };

    /// [`Self::from_components`] in place: the key is built where it will stay (a JWK's
    /// import writes its 512 bytes once). On `Err`, `self` is not a usable key.
    pub(crate) fn set_components(&mut self, n: &[u8], e: &[u8]) -> Result<(), KeyError> {
        self.e = 0;
        if n.first().is_none_or(|&b| b == 0) || n.len() > MAX_RSA_BYTES {
            return Err(KeyError::RsaModulus);
        }
        let m = &mut self.n;
        if !m.set_be_bytes::<false>(n) {
            return Err(KeyError::RsaModulus);
        }
        if m.bits() < MIN_RSA_BITS || m.bits() > MAX_RSA_BITS {
            return Err(KeyError::RsaModulus);
        }
        if e.first().is_none_or(|&b| b == 0) || e.len() > 5 {
            return Err(KeyError::RsaExponent);
        }
        let e_val = e.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
        if e_val < 3 || e_val & 1 == 0 || e_val > MAX_E {
            return Err(KeyError::RsaExponent);
        }
        if has_roca_fingerprint(n) {
            return Err(KeyError::RsaRoca);
        }
        self.e = e_val;
        Ok(())
    }

    /// Modulus size in bits.
    pub fn bits(&self) -> usize {
        self.n.bits()
    }

    /// Modulus (and signature) size in bytes.
    pub fn modulus_len(&self) -> usize {
        self.n.byte_len()
    }

    /// The public exponent.
    pub fn exponent(&self) -> u64 {
        self.e
    }

    /// The public exponent as minimal big-endian bytes (as JWK `e` and DER carry it), written
    /// into `out`.
    pub fn exponent_be<'o>(&self, out: &'o mut [u8; 8]) -> &'o [u8] {
        *out = self.e.to_be_bytes();
        let skip = out.iter().take_while(|&&b| b == 0).count();
        out.get(skip..).unwrap_or(&[])
    }

    /// The modulus as minimal big-endian bytes, written into `out`.
    pub fn modulus_be<'o>(&self, out: &'o mut [u8]) -> Option<&'o [u8]> {
        self.n.to_be_bytes(out)
    }
}

/// PKCS#1 DigestInfo prefixes (RFC 8017 §9.2 note 1).
pub(crate) fn digest_info_prefix(h: HashAlg) -> &'static [u8] {
    match h {
        HashAlg::Sha256 => &[
            0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x01, 0x05, 0x00, 0x04, 0x20,
        ],
        HashAlg::Sha384 => &[
            0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x02, 0x05, 0x00, 0x04, 0x30,
        ],
        HashAlg::Sha512 => &[
            0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x03, 0x05, 0x00, 0x04, 0x40,
        ],
    }
}

/// RSAVP1 then the padding check, with `digest` as the hash provider.
#[inline(never)]
pub(crate) fn verify_with_digest(
    key: &RsaPublicKey,
    padding: RsaPadding,
    msg: &[u8],
    sig: &[u8],
    digest: fn(HashAlg, &[&[u8]]) -> Digest,
) -> Result<(), Unspecified> {
    let k = key.n.byte_len();
    if sig.len() != k {
        return Err(Unspecified);
    }
    let s = limbs_from_be::<RSA_LIMBS>(sig, key.n.limbs()).ok_or(Unspecified)?;
    if !key.n.is_reduced(&s) {
        return Err(Unspecified);
    }
    let m = key.n.pow_u64(&s, key.e);
    let mut em_buf = [0u8; MAX_RSA_BYTES];
    let em = em_buf.get_mut(..k).ok_or(Unspecified)?;
    limbs_to_be(&m, em);
    match padding {
        RsaPadding::Pkcs1(h) => pkcs1_check(em, h, msg, digest),
        RsaPadding::Pss(h) => pss_check(em, key.n.bits(), h, msg, digest),
    }
}

/// EMSA-PKCS1-v1_5 (RFC 8017 §9.2): build `00 01 FF.. 00 || DigestInfo || H` and compare.
fn pkcs1_check(
    em: &[u8],
    h: HashAlg,
    msg: &[u8],
    digest: fn(HashAlg, &[&[u8]]) -> Digest,
) -> Result<(), Unspecified> {
    let k = em.len();
    let prefix = digest_info_prefix(h);
    let t_len = prefix.len() + h.output_len();
    if k < t_len + 11 {
        return Err(Unspecified);
    }
    let hash = digest(h, &[msg]);
    let mut expected = [0u8; MAX_RSA_BYTES];
    let exp = expected.get_mut(..k).ok_or(Unspecified)?;
    let ps_end = k - t_len - 1;
    for (i, b) in exp.iter_mut().enumerate() {
        *b = match i {
            0 => 0x00,
            1 => 0x01,
            _ if i < ps_end => 0xFF,
            _ => 0x00,
        };
    }
    crate::copy_exact(
        exp.get_mut(ps_end + 1..ps_end + 1 + prefix.len())
            .ok_or(Unspecified)?,
        prefix,
    )
    .ok_or(Unspecified)?;
    crate::copy_exact(
        exp.get_mut(k.checked_sub(h.output_len()).ok_or(Unspecified)?..)
            .ok_or(Unspecified)?,
        hash.as_ref(),
    )
    .ok_or(Unspecified)?;
    if exp == em {
        Ok(())
    } else {
        Err(Unspecified)
    }
}

/// EMSA-PSS-VERIFY (RFC 8017 §9.1.2) with sLen = hLen.
fn pss_check(
    em_full: &mut [u8],
    mod_bits: usize,
    h: HashAlg,
    msg: &[u8],
    digest: fn(HashAlg, &[&[u8]]) -> Digest,
) -> Result<(), Unspecified> {
    let em_bits = mod_bits - 1;
    let em_len = em_bits.div_ceil(8);
    let h_len = h.output_len();
    let s_len = h_len;
    // I2OSP(m, emLen): when emLen < k the extra leading byte must be zero.
    let skip = em_full.len().checked_sub(em_len).ok_or(Unspecified)?;
    let (lead, em) = em_full.split_at_mut_checked(skip).ok_or(Unspecified)?;
    if lead.iter().any(|&b| b != 0) {
        return Err(Unspecified);
    }
    if em_len < h_len + s_len + 2 {
        return Err(Unspecified);
    }
    let (masked_db, rest) = em
        .split_at_mut_checked(em_len - h_len - 1)
        .ok_or(Unspecified)?;
    let (hh, tail) = rest.split_at_checked(h_len).ok_or(Unspecified)?;
    if tail != [0xbc] {
        return Err(Unspecified);
    }
    let top_bits = 8 * em_len - em_bits; // 0..=7 bits that must be zero
    let top_mask: u8 = 0xFF >> top_bits;
    if masked_db.first().is_none_or(|&b| b & !top_mask != 0) {
        return Err(Unspecified);
    }
    // DB = maskedDB xor MGF1(H, emLen - hLen - 1)
    for (counter, chunk) in (0u32..).zip(masked_db.chunks_mut(h_len)) {
        let c = counter.to_be_bytes();
        let mask = digest(h, &[hh, &c]);
        for (d, m) in chunk.iter_mut().zip(mask.as_ref()) {
            *d ^= m;
        }
    }
    if let Some(b) = masked_db.first_mut() {
        *b &= top_mask;
    }
    let db = &*masked_db;
    let ps_len = em_len - h_len - s_len - 2;
    let (ps, rest) = db.split_at_checked(ps_len).ok_or(Unspecified)?;
    if ps.iter().any(|&b| b != 0) {
        return Err(Unspecified);
    }
    let (one, salt) = rest.split_first().ok_or(Unspecified)?;
    if *one != 0x01 || salt.len() != s_len {
        return Err(Unspecified);
    }
    let m_hash = digest(h, &[msg]);
    let h2 = digest(h, &[&[0u8; 8], m_hash.as_ref(), salt]);
    if h2.as_ref() == hh {
        Ok(())
    } else {
        Err(Unspecified)
    }
}

/// ROCA (CVE-2017-15361) fingerprint: for each small prime p, `n mod p` lies in the subgroup
/// generated by 65537. A random modulus passes all 38 tests with negligible probability.
fn has_roca_fingerprint(n: &[u8]) -> bool {
    const PRIMES: [u32; 38] = [
        3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89,
        97, 101, 103, 107, 109, 113, 127, 131, 137, 139, 149, 151, 157, 163, 167,
    ];
    for prime in PRIMES {
        let Some(p) = core::num::NonZeroU32::new(prime) else {
            continue;
        };
        let r = n
            .iter()
            .fold(0u32, |acc, &b| (acc * 256 + u32::from(b)) % p);
        if r == 0 {
            return false;
        }
        let g = 65537 % p;
        let mut x = 1u32;
        let mut found = false;
        for _ in 0..prime {
            if x == r {
                found = true;
                break;
            }
            x = (x * g) % p;
            if x == 1 {
                break;
            }
        }
        if !found {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_bad_components() {
        let mut n = [0xC5u8; 256];
        n[255] |= 1;
        let ok_e = [1, 0, 1];
        assert!(RsaPublicKey::from_components(&n, &ok_e).is_ok());
        // Leading zero octet.
        let mut n0 = [0u8; 257];
        n0[1..].copy_from_slice(&n);
        assert_eq!(
            RsaPublicKey::from_components(&n0, &ok_e).unwrap_err(),
            KeyError::RsaModulus
        );
        // 1024 bits.
        assert_eq!(
            RsaPublicKey::from_components(&n[..128], &ok_e).unwrap_err(),
            KeyError::RsaModulus
        );
        // Even.
        let mut ne = n;
        ne[255] &= 0xFE;
        assert_eq!(
            RsaPublicKey::from_components(&ne, &ok_e).unwrap_err(),
            KeyError::RsaModulus
        );
        for e in [
            &[1u8][..],
            &[2],
            &[0, 3],
            &[2, 0, 0, 0, 1],
            &[1, 0, 0, 0, 0, 1],
            &[],
        ] {
            assert_eq!(
                RsaPublicKey::from_components(&n, e).unwrap_err(),
                KeyError::RsaExponent,
                "{e:?}"
            );
        }
        assert!(RsaPublicKey::from_components(&n, &[3]).is_ok());
        assert!(RsaPublicKey::from_components(&n, &[1, 0xFF, 0xFF, 0xFF, 0xFF]).is_ok());
    }

    #[test]
    fn roca_generator_residues() {
        // 65537^k is in the subgroup by construction for every prime; 2 is not for p=11
        // (65537 = 10 mod 11 generates {1, 10}).
        assert!(!has_roca_fingerprint(&[2]));
        let mut v = [0u8; 3];
        v.copy_from_slice(&[1, 0, 1]);
        assert!(has_roca_fingerprint(&v));
    }
}
