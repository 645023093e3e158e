//! Variable-time ECDSA verification (SEC 1 §4.1.4) for P-256 and P-384 on this crate's fixed-size
//! Montgomery arithmetic ([`crate::bigint`]): the pure-Rust backend's P-384. (P-256 works too
//! and is tested; the backend keeps `p256-cortex-m4` and RustCrypto's `p256`, both faster.)
//!
//! Everything here is public (the key, the signature, the message hash), so the code is
//! variable-time: Jacobian coordinates with `a = -3`, one inversion at the end, and both
//! scalar multiplications done together (Shamir's trick, with `G + Q` precomputed). Compared
//! with RustCrypto's `p384` on the Cortex-M4 model it is about a third of the flash (no
//! generic curve stack, no second bignum library) and of the instructions; the firmware doc
//! has the figures. No heap, no recursion, a few hundred bytes of stack.

use crate::alg::Curve;
use crate::bigint::{limbs_from_be, Limb, Modulus, LIMB_BITS};
use crate::ec::{P256_N, P256_P, P384_P};
use crate::error::Unspecified;

const L: usize = 384 / LIMB_BITS;
type Fe = [Limb; L];

/// The curve's constants, big-endian.
struct Params {
    p: &'static [u8],
    n: &'static [u8],
    gx: &'static [u8],
    gy: &'static [u8],
}

const P256_GX: [u8; 32] =
    crate::ec::hex32("6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296");
const P256_GY: [u8; 32] =
    crate::ec::hex32("4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5");
const P384_N: [u8; 48] = crate::ec::hex48(
    "ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973",
);
const P384_GX: [u8; 48] = crate::ec::hex48(
    "aa87ca22be8b05378eb1c71ef320ad746e1d3b628ba79b9859f741e082542a385502f25dbf55296c3a545e3872760ab7",
);
const P384_GY: [u8; 48] = crate::ec::hex48(
    "3617de4a96262c6f5d9e98bf9292dc29f8f41dbd289a147ce9da3113b5f0b8c00a60b1ce1d7e819d7a431d7c90ea0e5f",
);

/// The curves this module's arithmetic covers (P-521 and secp256k1 go through RustCrypto).
fn params(curve: Curve) -> Option<Params> {
    match curve {
        Curve::P256 => Some(Params {
            p: &P256_P,
            n: &P256_N,
            gx: &P256_GX,
            gy: &P256_GY,
        }),
        Curve::P384 => Some(Params {
            p: &P384_P,
            n: &P384_N,
            gx: &P384_GX,
            gy: &P384_GY,
        }),
        Curve::P521 | Curve::Secp256k1 => None,
    }
}

/// `m - 2` for an odd modulus `m > 2` ending in a byte of at least 2 (true of every prime
/// and order here): the exponent of an inversion by Fermat's little theorem.
fn minus_two(m: &[u8], out: &mut [u8; 48]) -> Option<usize> {
    let dst = out.get_mut(..m.len())?;
    dst.copy_from_slice(m);
    let last = dst.last_mut()?;
    *last = last.checked_sub(2)?;
    Some(m.len())
}

fn is_zero(a: &Fe) -> bool {
    a.iter().all(|&l| l == 0)
}

/// A point in Jacobian coordinates, Montgomery form; `z = 0` is the point at infinity.
#[derive(Clone, Copy)]
struct Jac {
    x: Fe,
    y: Fe,
    z: Fe,
}

/// An affine point, Montgomery form.
#[derive(Clone, Copy)]
struct Aff {
    x: Fe,
    y: Fe,
}

struct Field {
    m: Modulus<L>,
    one: Fe,
}

impl Field {
    fn mul(&self, a: &Fe, b: &Fe) -> Fe {
        self.m.mul(a, b)
    }
    /// `mul(a, a)`: at 8 or 12 limbs, faster than [`Modulus::square`] (see `pow_mont_be`).
    fn sq(&self, a: &Fe) -> Fe {
        self.m.mul(a, a)
    }
    // Out of line: inlined, the dozen additions per point operation took ~5 KB of flash.
    #[inline(never)]
    fn add(&self, a: &Fe, b: &Fe) -> Fe {
        self.m.add(a, b)
    }
    #[inline(never)]
    fn sub(&self, a: &Fe, b: &Fe) -> Fe {
        self.m.sub(a, b)
    }
    fn dbl(&self, a: &Fe) -> Fe {
        self.add(a, a)
    }

    const fn infinity() -> Jac {
        Jac {
            x: [0; L],
            y: [0; L],
            z: [0; L],
        }
    }

    /// `2P` (dbl-2001-b, `a = -3`).
    fn double(&self, p: &Jac) -> Jac {
        if is_zero(&p.z) || is_zero(&p.y) {
            return Self::infinity();
        }
        let delta = self.sq(&p.z);
        let gamma = self.sq(&p.y);
        let beta = self.mul(&p.x, &gamma);
        let t = self.mul(&self.sub(&p.x, &delta), &self.add(&p.x, &delta));
        let alpha = self.add(&self.dbl(&t), &t);
        let beta4 = self.dbl(&self.dbl(&beta));
        let x3 = self.sub(&self.sq(&alpha), &self.dbl(&beta4));
        let yz = self.add(&p.y, &p.z);
        let z3 = self.sub(&self.sub(&self.sq(&yz), &gamma), &delta);
        let gamma2 = self.sq(&gamma);
        let gamma8 = self.dbl(&self.dbl(&self.dbl(&gamma2)));
        let y3 = self.sub(&self.mul(&alpha, &self.sub(&beta4, &x3)), &gamma8);
        Jac {
            x: x3,
            y: y3,
            z: z3,
        }
    }

    /// `P + Q` with `Q` affine (madd-2007-bl), with the doubling and inverse cases.
    fn add_affine(&self, p: &Jac, q: &Aff) -> Jac {
        if is_zero(&p.z) {
            return Jac {
                x: q.x,
                y: q.y,
                z: self.one,
            };
        }
        let z1z1 = self.sq(&p.z);
        let u2 = self.mul(&q.x, &z1z1);
        let s2 = self.mul(&q.y, &self.mul(&p.z, &z1z1));
        let h = self.sub(&u2, &p.x);
        let r = self.sub(&s2, &p.y);
        if is_zero(&h) {
            return if is_zero(&r) {
                self.double(p)
            } else {
                Self::infinity()
            };
        }
        let hh = self.sq(&h);
        let i = self.dbl(&self.dbl(&hh));
        let j = self.mul(&h, &i);
        let r2 = self.dbl(&r);
        let v = self.mul(&p.x, &i);
        let x3 = self.sub(&self.sub(&self.sq(&r2), &j), &self.dbl(&v));
        let y1j = self.mul(&p.y, &j);
        let y3 = self.sub(&self.mul(&r2, &self.sub(&v, &x3)), &self.dbl(&y1j));
        let zh = self.add(&p.z, &h);
        let z3 = self.sub(&self.sub(&self.sq(&zh), &z1z1), &hh);
        Jac {
            x: x3,
            y: y3,
            z: z3,
        }
    }

    /// The affine `(x, y)` of a finite point (Montgomery form), by one inversion.
    fn to_affine(&self, p: &Jac, p_minus_2: &[u8]) -> Aff {
        let zi = self.m.pow_mont_be(&p.z, p_minus_2);
        let zi2 = self.sq(&zi);
        Aff {
            x: self.mul(&p.x, &zi2),
            y: self.mul(&p.y, &self.mul(&zi2, &zi)),
        }
    }
}

/// A big-endian value below the modulus, or `None`.
fn reduced(m: &Modulus<L>, bytes: &[u8]) -> Option<Fe> {
    let v: Fe = limbs_from_be(bytes, m.limbs())?;
    m.is_reduced(&v).then_some(v)
}

fn bit(a: &Fe, i: usize) -> bool {
    a.get(i / LIMB_BITS)
        .is_some_and(|&l| (l >> (i % LIMB_BITS)) & 1 == 1)
}

/// Verifies `sig = r || s` (each exactly the curve's length) over the message hash `hash`
/// (exactly the curve's length: SHA-256 for P-256, SHA-384 for P-384, as JOSE pairs them)
/// under the uncompressed SEC 1 point `point` (`04 || x || y`).
///
/// # Errors
/// [`Unspecified`] for anything that does not verify, including `r` or `s` outside
/// `[1, n - 1]` and points off the curve.
pub(crate) fn verify(
    curve: Curve,
    point: &[u8],
    hash: &[u8],
    sig: &[u8],
) -> Result<(), Unspecified> {
    match verify_inner(curve, point, hash, sig) {
        Some(true) => Ok(()),
        Some(false) | None => Err(Unspecified),
    }
}

fn verify_inner(curve: Curve, point: &[u8], hash: &[u8], sig: &[u8]) -> Option<bool> {
    let c = curve.coord_len();
    let prm = params(curve)?;
    if hash.len() != c || sig.len() != 2 * c || point.len() != 1 + 2 * c {
        return Some(false);
    }
    let (tag, xy) = point.split_first()?;
    if *tag != 4 || crate::ec::check_on_curve(curve, xy.get(..c)?, xy.get(c..)?).is_err() {
        return Some(false);
    }
    let n = Modulus::<L>::from_be_bytes(prm.n)?;
    let (r_b, s_b) = sig.split_at_checked(c)?;
    let (Some(r), Some(s)) = (reduced(&n, r_b), reduced(&n, s_b)) else {
        return Some(false);
    };
    if is_zero(&r) || is_zero(&s) {
        return Some(false);
    }
    // e: the hash as an integer (its bit length is the order's), reduced once: e < 2n.
    let mut e: Fe = limbs_from_be(hash, n.limbs())?;
    if !n.is_reduced(&e) {
        let n_limbs: Fe = limbs_from_be(prm.n, n.limbs())?;
        e = n.sub(&e, &n_limbs);
    }
    // w = s^-1, u1 = e w, u2 = r w (mod n).
    let mut n2 = [0u8; 48];
    let n2_len = minus_two(prm.n, &mut n2)?;
    let n2 = n2.get(..n2_len)?;
    let w = n.pow_mont_be(&n.to_mont(&s), n2);
    let u1 = n.to_normal(&n.mul(&n.to_mont(&e), &w));
    let u2 = n.to_normal(&n.mul(&n.to_mont(&r), &w));

    let m = Modulus::<L>::from_be_bytes(prm.p)?;
    let mut one: Fe = [0; L];
    *one.first_mut()? = 1;
    let f = Field {
        one: m.to_mont(&one),
        m,
    };
    let mut p2 = [0u8; 48];
    let p2_len = minus_two(prm.p, &mut p2)?;
    let p2 = p2.get(..p2_len)?;
    let aff = |x: &[u8], y: &[u8]| -> Option<Aff> {
        Some(Aff {
            x: f.m.to_mont(&reduced(&f.m, x)?),
            y: f.m.to_mont(&reduced(&f.m, y)?),
        })
    };
    let g = aff(prm.gx, prm.gy)?;
    let q = aff(xy.get(..c)?, xy.get(c..)?)?;
    let gq = f.add_affine(
        &Jac {
            x: g.x,
            y: g.y,
            z: f.one,
        },
        &q,
    );
    let gq = (!is_zero(&gq.z)).then(|| f.to_affine(&gq, p2));

    // R = u1 G + u2 Q, both scalars at once from the top bit down.
    let mut acc = Field::infinity();
    for i in (0..n.bits()).rev() {
        acc = f.double(&acc);
        match (bit(&u1, i), bit(&u2, i)) {
            (true, false) => acc = f.add_affine(&acc, &g),
            (false, true) => acc = f.add_affine(&acc, &q),
            // G + Q is the point at infinity only when Q = -G: then nothing is added.
            (true, true) => {
                if let Some(gq) = &gq {
                    acc = f.add_affine(&acc, gq);
                }
            }
            (false, false) => {}
        }
    }
    if is_zero(&acc.z) {
        return Some(false);
    }
    // v = x(R) mod n; x < p < 2n, so one subtraction at most.
    let mut x = f.m.to_normal(&f.to_affine(&acc, p2).x);
    if !n.is_reduced(&x) {
        let n_limbs: Fe = limbs_from_be(prm.n, n.limbs())?;
        x = n.sub(&x, &n_limbs);
    }
    Some(x == r)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The generators are on their curves and the orders are what `n - 2` assumes.
    #[test]
    fn constants_are_consistent() {
        for curve in [Curve::P256, Curve::P384] {
            let prm = params(curve).unwrap();
            assert_eq!(crate::ec::check_on_curve(curve, prm.gx, prm.gy), Ok(()));
            let mut out = [0u8; 48];
            assert_eq!(minus_two(prm.n, &mut out), Some(curve.coord_len()));
            assert_eq!(minus_two(prm.p, &mut out), Some(curve.coord_len()));
        }
    }

    /// `n G` is the point at infinity and `(n - 1) G = -G`: checks the point arithmetic
    /// and the order together.
    #[test]
    fn order_times_generator_is_infinity() {
        for curve in [Curve::P256, Curve::P384] {
            let prm = params(curve).unwrap();
            let m = Modulus::<L>::from_be_bytes(prm.p).unwrap();
            let mut one: Fe = [0; L];
            one[0] = 1;
            let f = Field {
                one: m.to_mont(&one),
                m,
            };
            let g = Aff {
                x: f.m.to_mont(&reduced(&f.m, prm.gx).unwrap()),
                y: f.m.to_mont(&reduced(&f.m, prm.gy).unwrap()),
            };
            let nmod = Modulus::<L>::from_be_bytes(prm.n).unwrap();
            let n: Fe = limbs_from_be(prm.n, nmod.limbs()).unwrap();
            let mut acc = Field::infinity();
            let mut before_last = Field::infinity();
            for i in (0..nmod.bits()).rev() {
                acc = f.double(&acc);
                if bit(&n, i) {
                    if i == 0 {
                        before_last = acc;
                    }
                    acc = f.add_affine(&acc, &g);
                }
            }
            assert!(is_zero(&acc.z), "{curve:?}: n G is not infinity");
            let mut p2 = [0u8; 48];
            let len = minus_two(prm.p, &mut p2).unwrap();
            let a = f.to_affine(&before_last, &p2[..len]);
            assert_eq!(a.x, g.x, "{curve:?}: (n - 1) G has G's x");
            assert_eq!(f.add(&a.y, &g.y), [0; L], "{curve:?}: (n - 1) G = -G");
        }
    }

    /// Signatures made by RustCrypto's `p256` and `p384` (RFC 6979) over many hashes verify,
    /// and every one-bit change of the hash, `r`, `s` or the key's `y` is refused; RustCrypto
    /// agrees on each case.
    #[test]
    #[cfg(feature = "es384-signing")]
    fn agrees_with_rustcrypto_on_signatures_and_bit_flips() {
        use p256::ecdsa::signature::hazmat::{PrehashSigner, PrehashVerifier};
        fn check(curve: Curve, point: &[u8], hash: &[u8], sig: &[u8], theirs: bool) {
            assert_eq!(verify(curve, point, hash, sig).is_ok(), theirs, "{curve:?}");
        }
        for i in 0u8..12 {
            let d256 = [i.wrapping_add(1); 32];
            let sk = p256::ecdsa::SigningKey::from_slice(&d256).unwrap();
            let vk = *sk.verifying_key();
            let point = vk.to_sec1_point(false);
            let hash = [i.wrapping_mul(37); 32];
            let sig: p256::ecdsa::Signature = sk.sign_prehash(&hash).unwrap();
            let sig = sig.to_bytes();
            check(Curve::P256, point.as_bytes(), &hash, &sig, true);
            for bitpos in (0..512).step_by(37) {
                let mut bad = sig;
                bad[bitpos / 8] ^= 1 << (bitpos % 8);
                let theirs = p256::ecdsa::Signature::from_slice(&bad)
                    .map(|s| vk.verify_prehash(&hash, &s).is_ok())
                    .unwrap_or(false);
                check(Curve::P256, point.as_bytes(), &hash, &bad, theirs);
                assert!(!theirs);
            }
            let mut h2 = hash;
            h2[(i as usize) % 32] ^= 0x10;
            check(Curve::P256, point.as_bytes(), &h2, &sig, false);

            let d384 = [i.wrapping_add(3); 48];
            let sk = p384::ecdsa::SigningKey::from_slice(&d384).unwrap();
            let vk = *sk.verifying_key();
            let point = vk.to_sec1_point(false);
            let hash = [i.wrapping_mul(91); 48];
            let sig: p384::ecdsa::Signature = sk.sign_prehash(&hash).unwrap();
            let sig = sig.to_bytes();
            check(Curve::P384, point.as_bytes(), &hash, &sig, true);
            for bitpos in (0..768).step_by(53) {
                let mut bad = sig;
                bad[bitpos / 8] ^= 1 << (bitpos % 8);
                check(Curve::P384, point.as_bytes(), &hash, &bad, false);
            }
            let mut p = point.as_bytes().to_vec();
            p[96] ^= 1; // y changed: off the curve
            check(Curve::P384, &p, &hash, &sig, false);
            // Wrong lengths are refused, not read past.
            check(Curve::P384, point.as_bytes(), &hash[..32], &sig, false);
            check(Curve::P384, point.as_bytes(), &hash, &sig[..95], false);
        }
    }
}
