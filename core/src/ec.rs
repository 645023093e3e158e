//! Public-key checks done once, at import, with the same code whatever the backend:
//! P-256/P-384 points on the curve (invalid-curve attacks), Ed25519 keys canonical, decodable
//! and not of small order (RFC 8032 §5.1.3; the identity key admits forged signatures in
//! verifiers such as ring's and salty's), and Ed25519 signature pre-checks (`S < L`, `R` not
//! of small order).

use crate::alg::{self, AnyAlgorithm, Curve, KeyFilter};
use crate::bigint::{limbs_from_be, Limb, Modulus, LIMB_BITS};
use crate::error::KeyError;

const EC_LIMBS: usize = 384 / LIMB_BITS;

pub(crate) const P256_P: [u8; 32] =
    hex32("ffffffff00000001000000000000000000000000ffffffffffffffffffffffff");
/// The order of P-256.
pub(crate) const P256_N: [u8; 32] =
    hex32("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551");
// Only the engine's own P-256 check uses it; the device's is the assembly's.
#[cfg(any(test, not(all(feature = "p256-cortex-m4", target_arch = "arm"))))]
const P256_B: [u8; 32] = hex32("5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604b");
pub(crate) const P384_P: [u8; 48] = hex48(
    "fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffff",
);
pub(crate) const P384_B: [u8; 48] = hex48(
    "b3312fa7e23ee7e4988e056be3f82d19181d9c6efe8141120314088f5013875ac656398d8a2ed19d2a85c8edd3ec2aef",
);
const ED_P: [u8; 32] = hex32("7fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffed");
const ED_D: [u8; 32] = hex32("52036cee2b6ffe738cc740797779e89800700a4d4141d8ab75eb4dca135978a3");
/// (p - 1) / 2 (Euler's criterion), big-endian.
const ED_P_HALF: [u8; 32] =
    hex32("3ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff6");
/// The group order L of Ed25519, little-endian (as scalars are encoded).
#[expect(clippy::indexing_slicing, reason = "const-evaluated")]
pub(crate) const ED_L_LE: [u8; 32] = {
    let be = hex32("1000000000000000000000000000000014def9dea2f79cd65812631a5cf5d3ed");
    let mut le = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        le[i] = be[31 - i];
        i += 1;
    }
    le
};

const fn hexval(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => 0,
    }
}

#[expect(clippy::indexing_slicing, reason = "const-evaluated")]
pub(crate) const fn hex32(s: &str) -> [u8; 32] {
    let b = s.as_bytes();
    let mut out = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        out[i] = (hexval(b[2 * i]) << 4) | hexval(b[2 * i + 1]);
        i += 1;
    }
    out
}

#[expect(clippy::indexing_slicing, reason = "const-evaluated")]
pub(crate) const fn hex48(s: &str) -> [u8; 48] {
    let b = s.as_bytes();
    let mut out = [0u8; 48];
    let mut i = 0;
    while i < 48 {
        out[i] = (hexval(b[2 * i]) << 4) | hexval(b[2 * i + 1]);
        i += 1;
    }
    out
}

type Fe = [Limb; EC_LIMBS];

fn fe(m: &Modulus<EC_LIMBS>, bytes: &[u8]) -> Option<Fe> {
    let v: Fe = limbs_from_be(bytes, m.limbs())?;
    if m.is_reduced(&v) {
        Some(v)
    } else {
        None
    }
}

/// Checks that `(x, y)` (big-endian coordinates of the curve's exact length) is on the curve
/// with both coordinates below p: this module's arithmetic for P-256 and P-384 (P-256 by the
/// P256-Cortex-M4 assembly on the device), RustCrypto's point decoding for P-521 (`es512`)
/// and secp256k1 (`es256k`).
///
/// # Errors
/// [`KeyError::InvalidPoint`] when it is not.
pub fn check_on_curve(curve: Curve, x: &[u8], y: &[u8]) -> Result<(), KeyError> {
    check_on_curve_for::<AnyAlgorithm>(curve, x, y)
}

/// As [`check_on_curve`] for a key `K` keeps: a curve whose algorithm `K` leaves out is
/// [`KeyError::UnsupportedCurve`], and its check is not compiled in.
///
/// # Errors
/// [`KeyError::UnsupportedCurve`] for a curve `K` leaves out; [`KeyError::InvalidPoint`]
/// for a point that is not on the curve.
pub(crate) fn check_on_curve_for<K: KeyFilter>(
    curve: Curve,
    x: &[u8],
    y: &[u8],
) -> Result<(), KeyError> {
    let accepts = |a| K::ACCEPTS.contains(a);
    let on = match curve {
        Curve::P256 if accepts(alg::ES256) => p256_on_curve(x, y),
        Curve::P384 if accepts(alg::ES384) => on_curve(&P384_P, &P384_B, x, y),
        Curve::P521 if accepts(alg::ES512) => p521_on_curve(x, y),
        Curve::Secp256k1 if accepts(alg::ES256K) => secp256k1_on_curve(x, y),
        _ => return Err(KeyError::UnsupportedCurve),
    };
    if on {
        Ok(())
    } else {
        Err(KeyError::InvalidPoint)
    }
}

/// P-256 through the P256-Cortex-M4 assembly the device verifies with (both coordinates
/// below p and `y^2 = x^3 - 3x + b`): the same check as this module's arithmetic, without
/// linking that arithmetic into a device that has no other curve.
#[cfg(all(feature = "p256-cortex-m4", target_arch = "arm"))]
#[inline(never)] // stack: its buffers only while it runs, not in the P-384 check's frame too
fn p256_on_curve(x: &[u8], y: &[u8]) -> bool {
    let mut xy = [0u8; 64];
    let (ox, oy) = xy.split_at_mut(32);
    crate::copy_exact(ox, x).is_some()
        && crate::copy_exact(oy, y).is_some()
        && p256_cortex_m4::PublicKey::from_untagged_bytes(&xy).is_ok()
}

#[cfg(not(all(feature = "p256-cortex-m4", target_arch = "arm")))]
fn p256_on_curve(x: &[u8], y: &[u8]) -> bool {
    on_curve(&P256_P, &P256_B, x, y)
}

/// Whether `(x, y)` is on the NIST curve `y^2 = x^3 - 3x + b` over the prime `p` (P-256 or
/// P-384, this module's arithmetic), both coordinates of `p`'s length and below it.
#[inline(never)] // stack: see `p256_on_curve`
fn on_curve(p: &[u8], b: &[u8], x: &[u8], y: &[u8]) -> bool {
    if x.len() != p.len() || y.len() != p.len() {
        return false;
    }
    let Some(m) = Modulus::<EC_LIMBS>::from_be_bytes(p) else {
        return false;
    };
    let (Some(x), Some(y), Some(b)) = (fe(&m, x), fe(&m, y), fe(&m, b)) else {
        return false;
    };
    let (xm, ym, bm) = (m.to_mont(&x), m.to_mont(&y), m.to_mont(&b));
    let lhs = m.mul(&ym, &ym);
    let x3 = m.mul(&m.mul(&xm, &xm), &xm);
    let three_x = m.add(&m.add(&xm, &xm), &xm);
    let rhs = m.add(&m.sub(&x3, &three_x), &bm);
    lhs == rhs
}

/// `04 || x || y` for a RustCrypto decoder, `None` if a coordinate has the wrong length.
#[cfg(any(feature = "es512", feature = "es256k"))]
fn sec1_uncompressed<const N: usize>(x: &[u8], y: &[u8], out: &mut [u8; N]) -> Option<()> {
    let c = (N - 1) / 2;
    if x.len() != c || y.len() != c {
        return None;
    }
    let (tag, xy) = out.split_first_mut()?;
    *tag = 4;
    let (ox, oy) = xy.split_at_mut(c);
    ox.copy_from_slice(x);
    oy.copy_from_slice(y);
    Some(())
}

/// P-521 through RustCrypto `p521`: both coordinates below p and the point on the curve.
#[cfg(feature = "es512")]
#[inline(never)]
fn p521_on_curve(x: &[u8], y: &[u8]) -> bool {
    let mut p = [0u8; 133];
    sec1_uncompressed(x, y, &mut p).is_some() && p521::PublicKey::from_sec1_bytes(&p).is_ok()
}

#[cfg(not(feature = "es512"))]
fn p521_on_curve(_x: &[u8], _y: &[u8]) -> bool {
    false
}

/// secp256k1 through RustCrypto `k256`.
#[cfg(feature = "es256k")]
#[inline(never)]
fn secp256k1_on_curve(x: &[u8], y: &[u8]) -> bool {
    let mut p = [0u8; 65];
    sec1_uncompressed(x, y, &mut p).is_some() && k256::PublicKey::from_sec1_bytes(&p).is_ok()
}

#[cfg(not(feature = "es256k"))]
fn secp256k1_on_curve(_x: &[u8], _y: &[u8]) -> bool {
    false
}

/// Encodings of the Ed25519 points of small order (libsodium's list, compared on the low
/// 255 bits so both sign-bit variants match).
const SMALL_ORDER: [[u8; 32]; 7] = [
    // 0 (order 4)
    [0; 32],
    // 1 (order 1: the identity)
    {
        let mut a = [0u8; 32];
        a[0] = 1;
        a
    },
    // order 8
    [
        0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef, 0x98,
        0xf0, 0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53,
        0xfc, 0x05,
    ],
    // order 8
    [
        0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10, 0x67,
        0x0f, 0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac,
        0x03, 0x7a,
    ],
    // p - 1 (order 2)
    {
        let mut a = [0xffu8; 32];
        a[0] = 0xec;
        a[31] = 0x7f;
        a
    },
    // p (non-canonical 0, order 4)
    {
        let mut a = [0xffu8; 32];
        a[0] = 0xed;
        a[31] = 0x7f;
        a
    },
    // p + 1 (non-canonical 1, order 1)
    {
        let mut a = [0xffu8; 32];
        a[0] = 0xee;
        a[31] = 0x7f;
        a
    },
];

/// Whether an encoded Ed25519 point is of small order (sign bit ignored).
pub fn ed25519_has_small_order(p: &[u8; 32]) -> bool {
    SMALL_ORDER.iter().any(|s| {
        let (head, last) = (p.get(..31), p.get(31).map(|b| b & 0x7f));
        head == s.get(..31) && last == s.get(31).copied()
    })
}

/// Whether `s` (little-endian) is below the group order L.
pub fn ed25519_scalar_is_canonical(s: &[u8]) -> bool {
    for (a, l) in s.iter().rev().zip(ED_L_LE.iter().rev()) {
        if a != l {
            return a < l;
        }
    }
    false
}

/// Checks an Ed25519 public key: canonical `y < p`, decodable (a square root exists, and
/// `x = 0` only with the sign bit clear), and not of small order.
///
/// # Errors
/// [`KeyError::SmallOrder`] for any key that fails (the identity and the other small-order
/// points are the ones that matter: they admit forged signatures).
pub fn check_ed25519_key(pk: &[u8; 32]) -> Result<(), KeyError> {
    if ed25519_key_is_valid(pk) {
        Ok(())
    } else {
        Err(KeyError::SmallOrder)
    }
}

/// On the engine's generic Montgomery arithmetic (the P-256 point check's, linked in every
/// image), not on the Ed25519 module's field: an image that verifies no EdDSA still imports
/// Ed25519 keys, and keeps this check without the Ed25519 code.
fn ed25519_key_is_valid(pk: &[u8; 32]) -> bool {
    if ed25519_has_small_order(pk) {
        return false;
    }
    let mut y_be = [0u8; 32];
    for (d, s) in y_be.iter_mut().zip(pk.iter().rev()) {
        *d = *s;
    }
    let sign = y_be[0] >> 7;
    y_be[0] &= 0x7f;
    let Some(m) = Modulus::<EC_LIMBS>::from_be_bytes(&ED_P) else {
        return false;
    };
    let (Some(y), Some(d)) = (fe(&m, &y_be), fe(&m, &ED_D)) else {
        return false;
    };
    let mut one = [0 as Limb; EC_LIMBS];
    one[0] = 1;
    let (ym, dm, onem) = (m.to_mont(&y), m.to_mont(&d), m.to_mont(&one));
    let y2 = m.mul(&ym, &ym);
    let u = m.sub(&y2, &onem);
    let v = m.add(&m.mul(&dm, &y2), &onem);
    let zero = [0 as Limb; EC_LIMBS];
    if u == zero {
        // x = 0: valid only with the sign bit clear (and such points are of small order).
        return sign == 0;
    }
    // u / v is a square iff u v is (v is never 0: -1 / d is not a square): one power.
    let chi = m.pow_mont_be(&m.mul(&u, &v), &ED_P_HALF);
    chi == onem
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> std::vec::Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn p256_generator_is_on_curve() {
        let gx = unhex("6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296");
        let gy = unhex("4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5");
        assert!(on_curve(&P256_P, &P256_B, &gx, &gy));
        let mut bad = gy.clone();
        bad[31] ^= 1;
        assert!(!on_curve(&P256_P, &P256_B, &gx, &bad));
        assert!(!on_curve(&P256_P, &P256_B, &P256_P, &gy));
        assert!(!on_curve(&P256_P, &P256_B, &gx[1..], &gy));
    }

    #[test]
    fn p384_generator_is_on_curve() {
        let gx = unhex("aa87ca22be8b05378eb1c71ef320ad746e1d3b628ba79b9859f741e082542a385502f25dbf55296c3a545e3872760ab7");
        let gy = unhex("3617de4a96262c6f5d9e98bf9292dc29f8f41dbd289a147ce9da3113b5f0b8c00a60b1ce1d7e819d7a431d7c90ea0e5f");
        assert!(on_curve(&P384_P, &P384_B, &gx, &gy));
        let mut bad = gx.clone();
        bad[0] ^= 1;
        assert!(!on_curve(&P384_P, &P384_B, &bad, &gy));
    }

    #[test]
    fn ed25519_keys() {
        // RFC 8032 §7.1 test 1 public key.
        let pk: [u8; 32] =
            unhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
                .try_into()
                .unwrap();
        assert!(ed25519_key_is_valid(&pk));
        for s in SMALL_ORDER {
            assert!(!ed25519_key_is_valid(&s));
            let mut signed = s;
            signed[31] |= 0x80;
            assert!(!ed25519_key_is_valid(&signed));
        }
        // y = p - 2 + ... non-canonical y >= p.
        let mut noncanon = [0xffu8; 32];
        noncanon[0] = 0xf0;
        noncanon[31] = 0x7f;
        assert!(!ed25519_key_is_valid(&noncanon));
        // y = 2 is not on the curve (x^2 = 3 / (4d + 1) is a non-residue).
        let mut two = [0u8; 32];
        two[0] = 2;
        assert!(!ed25519_key_is_valid(&two));
    }

    #[test]
    fn scalar_bound() {
        assert!(ed25519_scalar_is_canonical(&[0; 32]));
        assert!(!ed25519_scalar_is_canonical(&ED_L_LE));
        let mut below = ED_L_LE;
        below[0] -= 1;
        assert!(ed25519_scalar_is_canonical(&below));
        assert!(!ed25519_scalar_is_canonical(&[0xff; 32]));
    }
}
