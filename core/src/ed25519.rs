//! Ed25519 (RFC 8032) on tokenguard's own arithmetic: the field of `tokenguard_limbs::f25519`
//! (eight 32-bit words, built at `opt-level = 2` in size-optimised firmware), points in
//! extended twisted Edwards coordinates with the unified formulas of Hisil, Wong, Carter and
//! Dawson (complete for Ed25519), and scalars mod the group order `L` on the engine's
//! multi-precision words.
//!
//! - Verification (public values, variable time): `[k](-A) + [s]B` by interleaved signed
//!   4-bit windows over both scalars (odd multiples of `A` and of `B` built per call, no
//!   table in flash), then the cofactored check that `[k](-A) + [s]B - R` has small order;
//!   `s < L`, canonical encodings, and `A` and `R` not of small order are required. These are
//!   the rules ed25519-compact applied before (the same Wycheproof and RFC 8032 outcomes).
//! - Signing and key derivation (secret scalars, constant time): `[r]B` by a 4-tooth comb, 64
//!   doublings and 64 additions of a point read from a 16-entry table (1.5 KB of flash) by a
//!   masked scan of every entry; scalars reduced mod `L` by Montgomery reductions with the
//!   masked final subtraction. No branch and no memory index depends on a secret.

use tokenguard_limbs::f25519::{self as f, Fe};

use crate::alg::Digest;

use crate::bigint::{limbs_from_be, limbs_to_be, Limb, LIMB_BYTES};
use crate::ec::{ed25519_scalar_is_canonical, ED_L_LE};

/// SHA-512 of the concatenation of its parts: the backend's, passed in (this module sits
/// below the backends).
pub(crate) type Sha512 = fn(&[&[u8]]) -> Digest;

/// The curve constant `d = -121665 / 121666`.
const D: Fe = [
    0x1359_78a3,
    0x75eb_4dca,
    0x4141_d8ab,
    0x0070_0a4d,
    0x7779_e898,
    0x8cc7_4079,
    0x2b6f_fe73,
    0x5203_6cee,
];
/// `2 d`.
const D2: Fe = [
    0x26b2_f159,
    0xebd6_9b94,
    0x8283_b156,
    0x00e0_149a,
    0xeef3_d130,
    0x198e_80f2,
    0x56df_fce7,
    0x2406_d9dc,
];
/// A square root of `-1`.
const SQRT_M1: Fe = [
    0x4a0e_a0b0,
    0xc4ee_1b27,
    0xad2f_e478,
    0x2f43_1806,
    0x3dfb_d7a7,
    0x2b4d_0099,
    0x4fc1_df0b,
    0x2b83_2480,
];
/// The base point's coordinates (RFC 8032 §5.1).
const BASE_X: Fe = [
    0x8f25_d51a,
    0xc956_2d60,
    0x9525_a7b2,
    0x692c_c760,
    0xfdd6_dc5c,
    0xc0a4_e231,
    0xcd6e_53fe,
    0x2169_36d3,
];
const BASE_Y: Fe = [
    0x6666_6658,
    0x6666_6666,
    0x6666_6666,
    0x6666_6666,
    0x6666_6666,
    0x6666_6666,
    0x6666_6666,
    0x6666_6666,
];
const ONE: Fe = [1, 0, 0, 0, 0, 0, 0, 0];
const ZERO: Fe = [0; 8];

/// A point `(X : Y : Z : T)` with `x = X/Z`, `y = Y/Z`, `x y = T/Z`.
#[derive(Clone, Copy)]
struct P3 {
    x: Fe,
    y: Fe,
    z: Fe,
    t: Fe,
}

/// A point without `T`: what a doubling needs.
#[derive(Clone, Copy)]
struct P2 {
    x: Fe,
    y: Fe,
    z: Fe,
}

/// A sum or double before its last products: `x = X/Z`, `y = Y/T`.
struct P1 {
    x: Fe,
    y: Fe,
    z: Fe,
    t: Fe,
}

/// A point ready to be added: `(Y + X, Y - X, Z, 2 d T)`.
#[derive(Clone, Copy)]
struct Cached {
    ypx: Fe,
    ymx: Fe,
    z: Fe,
    t2d: Fe,
}

impl Cached {
    /// A placeholder for a table about to be filled.
    const ZERO: Cached = Cached {
        ypx: ZERO,
        ymx: ZERO,
        z: ZERO,
        t2d: ZERO,
    };
}

/// An affine point ready to be added: `(y + x, y - x, 2 d x y)`.
#[cfg(feature = "signing")]
#[derive(Clone, Copy)]
struct Niels {
    ypx: Fe,
    ymx: Fe,
    xy2d: Fe,
}

impl P2 {
    const IDENTITY: P2 = P2 {
        x: ZERO,
        y: ONE,
        z: ONE,
    };

    /// `2 P`: 4 squarings.
    fn dbl(&self) -> P1 {
        let xx = f::square(&self.x);
        let yy = f::square(&self.y);
        let zz = f::square(&self.z);
        let b = f::add(&zz, &zz);
        let aa = f::square(&f::add(&self.x, &self.y));
        let y = f::add(&yy, &xx);
        let z = f::sub(&yy, &xx);
        P1 {
            x: f::sub(&aa, &y),
            y,
            z,
            t: f::sub(&b, &z),
        }
    }
}

impl P1 {
    fn to_p2(&self) -> P2 {
        P2 {
            x: f::mul(&self.x, &self.t),
            y: f::mul(&self.y, &self.z),
            z: f::mul(&self.z, &self.t),
        }
    }

    fn to_p3(&self) -> P3 {
        P3 {
            x: f::mul(&self.x, &self.t),
            y: f::mul(&self.y, &self.z),
            z: f::mul(&self.z, &self.t),
            t: f::mul(&self.x, &self.y),
        }
    }
}

impl P3 {
    fn to_p2(self) -> P2 {
        P2 {
            x: self.x,
            y: self.y,
            z: self.z,
        }
    }

    fn to_cached(self) -> Cached {
        Cached {
            ypx: f::add(&self.y, &self.x),
            ymx: f::sub(&self.y, &self.x),
            z: self.z,
            t2d: f::mul(&self.t, &D2),
        }
    }

    fn neg(&self) -> P3 {
        P3 {
            x: f::neg(&self.x),
            y: self.y,
            z: self.z,
            t: f::neg(&self.t),
        }
    }

    /// `P + Q` (`sub`: `P - Q`): 4 products.
    fn add_cached(&self, q: &Cached, sub: bool) -> P1 {
        let (qp, qm) = if sub {
            (&q.ymx, &q.ypx)
        } else {
            (&q.ypx, &q.ymx)
        };
        let a = f::mul(&f::add(&self.y, &self.x), qp);
        let b = f::mul(&f::sub(&self.y, &self.x), qm);
        let c = f::mul(&q.t2d, &self.t);
        let zz = f::mul(&self.z, &q.z);
        let d = f::add(&zz, &zz);
        let (z, t) = if sub {
            (f::sub(&d, &c), f::add(&d, &c))
        } else {
            (f::add(&d, &c), f::sub(&d, &c))
        };
        P1 {
            x: f::sub(&a, &b),
            y: f::add(&a, &b),
            z,
            t,
        }
    }

    /// `P + Q` for an affine `Q`: 3 products.
    #[cfg(feature = "signing")]
    fn add_niels(&self, q: &Niels) -> P1 {
        let a = f::mul(&f::add(&self.y, &self.x), &q.ypx);
        let b = f::mul(&f::sub(&self.y, &self.x), &q.ymx);
        let c = f::mul(&q.xy2d, &self.t);
        let d = f::add(&self.z, &self.z);
        P1 {
            x: f::sub(&a, &b),
            y: f::add(&a, &b),
            z: f::add(&d, &c),
            t: f::sub(&d, &c),
        }
    }

    /// Whether the point's order divides 8 (`[4]P` has `x = 0`; in the completed form `x =
    /// X / Z` with `Z` never 0, so `X` alone decides).
    fn has_small_order(&self) -> bool {
        let p4 = self.to_p2().dbl().to_p2().dbl();
        f::is_zero(&p4.x)
    }

    /// The 32-byte encoding: `y` with the sign of `x` in the top bit.
    #[cfg(feature = "signing")]
    fn encode(&self) -> [u8; 32] {
        let zi = f::invert(&self.z);
        let x = f::to_bytes(&f::mul(&self.x, &zi));
        let mut y = f::to_bytes(&f::mul(&self.y, &zi));
        if let (Some(top), Some(&x0)) = (y.last_mut(), x.first()) {
            *top |= (x0 & 1) << 7;
        }
        y
    }
}

/// Decodes a point (RFC 8032 §5.1.3): `None` for `y >= p`, a `y` with no `x`, or `x = 0`
/// with the sign bit set. Variable time (public keys and signatures).
fn decode(bytes: &[u8; 32]) -> Option<P3> {
    let sign = bytes.last().map_or(0, |b| b >> 7);
    let mut yb = *bytes;
    if let Some(top) = yb.last_mut() {
        *top &= 0x7f;
    }
    let y = f::from_bytes(&yb);
    if f::canonical(&y) != y {
        return None;
    }
    // x^2 = u / v with u = y^2 - 1, v = d y^2 + 1; x = u (u v)^((p - 5) / 8) is a root of
    // u / v, of -u / v (then times sqrt(-1)), or neither (no point).
    let yy = f::square(&y);
    let u = f::sub(&yy, &ONE);
    let v = f::add(&f::mul(&yy, &D), &ONE);
    let mut x = f::mul(&f::pow_p58(&f::mul(&u, &v)), &u);
    let vxx = f::mul(&v, &f::square(&x));
    if !f::is_zero(&f::sub(&vxx, &u)) {
        if !f::is_zero(&f::add(&vxx, &u)) {
            return None;
        }
        x = f::mul(&x, &SQRT_M1);
    }
    let x_bytes = f::to_bytes(&x);
    let x_odd = x_bytes.first().map_or(0, |b| b & 1);
    if x_bytes == [0; 32] && sign == 1 {
        return None;
    }
    if x_odd != sign {
        x = f::neg(&x);
    }
    Some(P3 {
        x,
        y,
        z: ONE,
        t: f::mul(&x, &y),
    })
}

const SC_LIMBS: usize = 32 / LIMB_BYTES;

/// Little-endian bytes (up to 64) to limbs.
fn le_limbs<const N: usize>(le: &[u8]) -> [Limb; N] {
    let mut be = [0u8; 64];
    let n = le.len().min(64);
    for (d, s) in be.iter_mut().zip(le.get(..n).unwrap_or(&[]).iter().rev()) {
        *d = *s;
    }
    limbs_from_be(be.get(..n).unwrap_or(&[]), N).unwrap_or([0; N])
}

/// `R^3 mod L` for `R = 2^256`, little-endian (Python: `pow(2, 768, L)`).
const R3_MOD_L: [u8; 32] = [
    0xdb, 0xa2, 0x83, 0x7b, 0x68, 0x49, 0x9e, 0x2a, 0xec, 0xf3, 0xf7, 0xae, 0xe6, 0x24, 0x83, 0x27,
    0x65, 0x5b, 0xec, 0x04, 0x6c, 0xdc, 0x65, 0x80, 0xc7, 0xce, 0x99, 0x35, 0x77, 0x0b, 0x53, 0x0e,
];

/// 32 little-endian bytes to limbs at compile time.
#[expect(clippy::indexing_slicing, reason = "const-evaluated")]
const fn const_limbs(le: &[u8; 32]) -> [Limb; SC_LIMBS] {
    let mut out = [0 as Limb; SC_LIMBS];
    let mut i = 0;
    while i < 32 {
        out[i / LIMB_BYTES] |= (le[i] as Limb) << (8 * (i % LIMB_BYTES));
        i += 1;
    }
    out
}

/// `L`, `R^3 mod L` and `-L^-1 mod 2^W` in words, computed by the compiler.
const L_LIMBS: [Limb; SC_LIMBS] = const_limbs(&ED_L_LE);
const R3_LIMBS: [Limb; SC_LIMBS] = const_limbs(&R3_MOD_L);
const L_N0: Limb = {
    // Newton's iteration: each step doubles the correct low bits of L^-1 mod 2^W.
    let n_low = L_LIMBS[0];
    let mut inv: Limb = n_low;
    let mut i = 0;
    while i < 6 {
        inv = inv.wrapping_mul((2 as Limb).wrapping_sub(n_low.wrapping_mul(inv)));
        i += 1;
    }
    inv.wrapping_neg()
};

/// `x mod L` as 32 little-endian bytes, for `x` of up to 64 little-endian bytes; constant
/// time (a nonce is secret). With `x = xh R + xl` (`R = 2^256`), Montgomery reductions
/// (`REDC(t) = t / R mod L`) give `c = REDC(REDC(xl)) + REDC(xh) = x / R^2 mod L`, and one
/// Montgomery product with `R^3 mod L` gives `c R^2 = x mod L`: four word-loop passes, no
/// division. With `SECRET` (a nonce, a signature's `s`) the intermediate words are wiped;
/// the verifier's `k` is public.
fn reduce_mod_l<const SECRET: bool>(x: &[u8]) -> [u8; 32] {
    use tokenguard_limbs::{finish_ct, mont_mul_ct, mont_reduce_ct};
    let (n, n0) = (&L_LIMBS, L_N0);
    let x: [Limb; 2 * SC_LIMBS] = le_limbs(x);
    let (xl, xh) = x.split_at(SC_LIMBS);
    let mut wide = [0 as Limb; 2 * SC_LIMBS];
    let redc = |t: &[Limb], wide: &mut [Limb; 2 * SC_LIMBS]| -> [Limb; SC_LIMBS] {
        wide.fill(0);
        crate::copy_prefix(wide, t);
        let mut out = [0 as Limb; SC_LIMBS];
        mont_reduce_ct(&mut out, wide, n, n0);
        out
    };
    let mut lo = redc(xl, &mut wide);
    lo = redc(&lo, &mut wide);
    let mut hi = redc(xh, &mut wide);
    // lo + hi < 2 L: add, then the masked subtraction.
    let carry = Limb::from(tokenguard_limbs::add_in_place(&mut lo, &hi));
    finish_ct(&mut lo, carry, n);
    let mut r = [0 as Limb; SC_LIMBS];
    mont_mul_ct(&mut r, &mut wide, &lo, &R3_LIMBS, n, n0);
    let mut out = [0u8; 32];
    limbs_to_be(&r, &mut out);
    out.reverse();
    if SECRET {
        zeroize::Zeroize::zeroize(&mut r);
        zeroize::Zeroize::zeroize(&mut lo);
        zeroize::Zeroize::zeroize(&mut hi);
        zeroize::Zeroize::zeroize(&mut wide);
    }
    out
}

/// The base point.
fn base() -> P3 {
    P3 {
        x: BASE_X,
        y: BASE_Y,
        z: ONE,
        t: f::mul(&BASE_X, &BASE_Y),
    }
}

/// Bit `i` of a little-endian scalar (0 beyond its 256 bits). The position is public; the
/// signer reads secret bits through it without a secret index.
fn bit(s: &[u8; 32], i: usize) -> u32 {
    s.get(i / 8).map_or(0, |b| u32::from(b >> (i % 8)) & 1)
}

/// Width of the verifier's signed windows: odd digits in `[-7, 7]`, tables of 4 points per
/// scalar, 1 KB of stack for both. 5-bit windows took 2 KB; 4-bit ones cost at most 20 k
/// more instructions per verification (1.544 M -> 1.564 M on Cortex-M4).
const NAF_W: usize = 4;
/// Odd multiples per table: `P, 3P, ..., (2^(W-1) - 1)P`.
const NAF_TABLE: usize = 1 << (NAF_W - 2);
// A digit is kept in a nibble (`naf_into`, `nibble`): wider windows need another layout.
const _: () = assert!(NAF_W == 4);

/// Signed `NAF_W`-bit windows of a scalar below `2^255`, written into one nibble of each
/// byte of `naf` (bits `shift..shift + 4`; both scalars share the 256 bytes): odd digits in
/// `[-(2^(W-1) - 1), 2^(W-1) - 1]`, each followed by at least `W - 1` zeros (position `i`
/// has weight `2^i`). Read back with [`nibble`].
fn naf_into(s: &[u8; 32], naf: &mut [u8; 256], shift: u32) {
    const HALF: u32 = 1 << (NAF_W - 1);
    let mut carry = 0u32;
    let mut pos = 0usize;
    while pos < 256 {
        let window = carry + (0..NAF_W).fold(0, |acc, k| acc | (bit(s, pos + k) << k));
        if window & 1 == 0 {
            pos += 1;
            continue;
        }
        // The digit in two's complement on 4 bits: `window` or `window - 2^W`.
        carry = u32::from(window >= HALF);
        if let Some(n) = naf.get_mut(pos) {
            *n |= ((window & 0xF) as u8) << shift;
        }
        pos += NAF_W;
    }
}

/// The signed digit in bits `shift..shift + 4` of `b`.
fn nibble(b: u8, shift: u32) -> i8 {
    ((b >> shift) << 4).cast_signed() >> 4
}

/// `P, 3P, 5P, ...`, ready to be added, written into `table` (built where it is used:
/// returning it kept a second copy on the stack).
fn odd_multiples(p: &P3, table: &mut [Cached; NAF_TABLE]) {
    let p2 = p.to_p2().dbl().to_p3();
    let mut prev = p.to_cached();
    let [first, rest @ ..] = table;
    *first = prev;
    for slot in rest {
        prev = p2.add_cached(&prev, false).to_p3().to_cached();
        *slot = prev;
    }
}

/// `[a]P + [b]B` in variable time (public scalars below `2^255`).
fn double_mul_vartime(a: &[u8; 32], p: &P3, b: &[u8; 32]) -> P3 {
    // Both scalars' digits, 4 bits each (256 bytes of stack, not 512).
    let mut digits = [0u8; 256];
    naf_into(a, &mut digits, 0);
    naf_into(b, &mut digits, 4);
    let mut at = [Cached::ZERO; NAF_TABLE];
    let mut bt = [Cached::ZERO; NAF_TABLE];
    odd_multiples(p, &mut at);
    odd_multiples(&base(), &mut bt);
    let top = digits.iter().rposition(|&d| d != 0);
    let Some(top) = top else {
        return P3 {
            x: ZERO,
            y: ONE,
            z: ONE,
            t: ZERO,
        };
    };
    let mut r = P2::IDENTITY;
    let mut i = top;
    loop {
        let mut t = r.dbl();
        let both = digits.get(i).copied().unwrap_or(0);
        for (shift, table) in [(0, &at), (4, &bt)] {
            let d = nibble(both, shift);
            if d != 0 {
                let idx = usize::from(d.unsigned_abs() / 2);
                if let Some(q) = table.get(idx) {
                    t = t.to_p3().add_cached(q, d < 0);
                }
            }
        }
        if i == 0 {
            return t.to_p3();
        }
        r = t.to_p2();
        i -= 1;
    }
}

/// Verifies an Ed25519 signature (RFC 8032 §5.1.7, cofactored): `s < L`; `A` and `R` decode
/// and are not of small order; `[s]B - [k]A - R` has small order, `k = SHA-512(R || A || M)
/// mod L`.
pub(crate) fn verify(pk: &[u8; 32], msg: &[u8], sig: &[u8; 64], sha512: Sha512) -> bool {
    let (r_bytes, s_bytes) = sig.split_at(32);
    let (Ok(r_bytes), Ok(s)) = (
        <&[u8; 32]>::try_from(r_bytes),
        <&[u8; 32]>::try_from(s_bytes),
    ) else {
        return false;
    };
    if !ed25519_scalar_is_canonical(s) {
        return false;
    }
    let (Some(a), Some(r)) = (decode(pk), decode(r_bytes)) else {
        return false;
    };
    if a.has_small_order() || r.has_small_order() {
        return false;
    }
    let h = sha512(&[r_bytes, pk, msg]);
    let k = reduce_mod_l::<false>(h.as_ref());
    let sum = double_mul_vartime(&k, &a.neg(), s);
    sum.add_cached(&r.neg().to_cached(), false)
        .to_p3()
        .has_small_order()
}

/// The comb's table: entry `j` is `sum of 2^(64 i) B over the bits i of j` (`j < 16`), as
/// `(y + x, y - x, 2 d x y)`; computed with Python's integers, checked by a test against
/// this module's own arithmetic.
#[cfg(feature = "signing")]
#[rustfmt::skip]
static COMB: [[Fe; 3]; 16] = [
    [[0x0000_0001, 0x0000_0000, 0x0000_0000, 0x0000_0000, 0x0000_0000, 0x0000_0000, 0x0000_0000, 0x0000_0000], [0x0000_0001, 0x0000_0000, 0x0000_0000, 0x0000_0000, 0x0000_0000, 0x0000_0000, 0x0000_0000, 0x0000_0000], [0x0000_0000, 0x0000_0000, 0x0000_0000, 0x0000_0000, 0x0000_0000, 0x0000_0000, 0x0000_0000, 0x0000_0000]],
    [[0xf58c_3b85, 0x2fbc_93c6, 0xfb8c_0e19, 0xcf93_2dc6, 0x643d_42c2, 0x270b_4898, 0x33d4_ba65, 0x07cf_9d3a], [0xd740_913e, 0x9d10_3905, 0xd140_beb3, 0xfd39_9f05, 0x688f_8a09, 0xa5c1_8434, 0x98f8_1267, 0x44fd_2f92], [0x877a_aa68, 0xabc9_1205, 0xccaa_c49e, 0x26d9_e823, 0xdd43_598c, 0x5a1b_7dcb, 0x9f0c_65a8, 0x6f11_7b68]],
    [[0x77d1_f515, 0xcd2a_65e7, 0x8faa_60f1, 0x5489_9187, 0xdabc_06e5, 0xb1b7_3bbc, 0xa97c_c9fb, 0x6548_78cb], [0x8df6_b0fe, 0x5113_8ec7, 0xe575_f51b, 0x5397_da89, 0x717a_f1b9, 0x0920_7a1d, 0x2b20_d650, 0x2102_fdba], [0x055c_e6a1, 0x969e_e405, 0x1251_ad29, 0x36bc_a768, 0xaa7d_a415, 0x3a1a_f517, 0x29ec_b2ba, 0x0ad7_25db]],
    [[0x601e_59e8, 0x0055_c585, 0x6648_0e60, 0x8793_342b, 0xfe45_e44c, 0x3e14_aad0, 0x4813_cf2b, 0x26ea_d8e6], [0x9c84_62a4, 0xcb75_b8b6, 0x67d3_1cd7, 0x2dd8_6fc5, 0x8813_42f6, 0xcd19_72ec, 0x0fc1_2f2f, 0x0975_b597], [0xda5b_a743, 0x63cf_2303, 0x52f1_ba6e, 0x04bf_9d81, 0xaa73_67da, 0x3337_90d0, 0x9df6_c5ea, 0x5346_7047]],
    [[0xacad_8ea2, 0x583b_04bf, 0x148b_e884, 0x29b7_43e8, 0x0810_c5db, 0x2b1e_583b, 0x8eb3_bbaa, 0x2b54_49e5], [0xeb3d_be47, 0x5f3a_7562, 0x8ebd_a0b8, 0xf7ea_3854, 0x4574_7299, 0x00c3_e531, 0x1627_d551, 0x1304_e9e7], [0x6adc_9cfe, 0x7898_14d2, 0x8b48_dd0b, 0x3c1b_ab3f, 0xf979_c60a, 0xda0f_e1ff, 0x7c2d_d693, 0x4468_de2d]],
    [[0xe3bc_6748, 0x2118_278d, 0xd0b2_0ef7, 0xe71f_fd60, 0xc67b_b198, 0xf551_be51, 0xd054_3d4d, 0x26a1_3664], [0x13a3_39ee, 0x2952_2d3b, 0x6cd8_9529, 0x8552_2550, 0xacf4_f0f1, 0xdfea_3ad4, 0x7942_742e, 0x49d7_6bba], [0x8d56_e61d, 0x14fa_4233, 0xc351_299a, 0x191d_3946, 0xa7ad_b185, 0x247d_576d, 0xa8fc_edc2, 0x4e1f_afe3]],
    [[0x236a_044c, 0x15e7_053d, 0x3b8d_87e3, 0x3cdd_bcb1, 0xd321_a828, 0x5199_60d2, 0x0fc5_bba4, 0x4e55_9a0f], [0x9c12_701c, 0xfe00_e876, 0x039c_3b5f, 0x95dc_dc0a, 0x0c02_eb1b, 0xc169_454b, 0x5f87_530c, 0x7270_21d3], [0x27df_241e, 0xa571_0407, 0xb290_0d36, 0xdf45_efaa, 0x60a6_9ade, 0xfe6e_db5c, 0x07bb_c01d, 0x64fc_b730]],
    [[0x6fd3_90ca, 0x38ef_58cc, 0x171a_98fc, 0xef78_6575, 0xc442_d65f, 0x8850_b78f, 0x6fd0_86ef, 0x6f34_c66d], [0x3898_dc04, 0x93f3_cbb4, 0x4307_b727, 0x0791_ffb2, 0xce34_981d, 0xd7bd_8096, 0x8b84_9f6d, 0x0b59_8b8e], [0x0cc2_f689, 0x11cf_c18a, 0xb529_ce2a, 0x8111_4607, 0xc00b_5940, 0x0a9b_c046, 0xb1ac_66c8, 0x4121_28b0]],
    [[0xc80c_1ac0, 0xa66d_cc9d, 0x1b38_a436, 0x97a0_5cf4, 0x95db_d7c6, 0xa7eb_f3be, 0x8d7e_7dab, 0x7da0_b8f6], [0x3856_75a6, 0xef78_2014, 0xaafd_a9e8, 0xa264_9f30, 0x5cdf_a8cb, 0x4cd1_eb50, 0x1d4d_c0b3, 0x4611_5aba], [0xc3b5_da76, 0xd40f_1953, 0x2111_9e9b, 0x1dac_6f73, 0xfeb2_5960, 0x03cc_6021, 0x8367_4b4b, 0x5a5f_887e]],
    [[0x0ca2_c1f4, 0x0a8d_6018, 0xcc68_df40, 0x815e_b0db, 0xb82f_4e99, 0xd7e6_7a47, 0x607f_15c0, 0x45a0_2890], [0xfd41_f184, 0xfef3_66d1, 0x01cf_e11e, 0x8b69_4a11, 0x0150_a74d, 0x4b39_e15e, 0x6ad3_51ba, 0x4013_f03d], [0x6ee0_65cc, 0xbd02_82dc, 0x224a_e646, 0x36b9_94fd, 0xfebc_e874, 0x534e_9ad8, 0xd9f0_6e4f, 0x4822_55c1]],
    [[0x71ce_f800, 0x3c03_eacf, 0xca8a_febb, 0x9036_7544, 0x6a29_c477, 0x383f_ea28, 0xbc65_5462, 0x4e85_93b0], [0xa3e5_638c, 0x12de_114a, 0x29c4_f20d, 0xba2a_4aa9, 0x7b8b_13a3, 0x56b0_d29d, 0x7b9b_7944, 0x6bb9_1a49], [0xc5e7_d206, 0x2a49_e646, 0x9263_c445, 0xb13e_f9cd, 0xedab_529e, 0x50ab_6ce8, 0xb0eb_e39b, 0x20cf_7d79]],
    [[0x8ae7_5c48, 0xcbd2_8f4e, 0x4400_0b60, 0x3cde_0291, 0x98bc_2170, 0x373b_b9c8, 0x9f57_0886, 0x7c11_8853], [0xf0fe_7dca, 0x7db4_939d, 0xcba9_51ce, 0xf50e_b90f, 0x357e_1d1d, 0x098b_e61c, 0x8899_469d, 0x0235_6237], [0xe15a_4c03, 0x20f6_effa, 0x3c77_8e05, 0x2f47_0a94, 0xfc99_de67, 0x79f5_0a03, 0xd106_1483, 0x38d2_0188]],
    [[0x0e63_15df, 0x23e8_11ad, 0xe2ae_b290, 0x0b65_0d05, 0xa75d_586c, 0xb7ba_0f59, 0x5e1f_4dee, 0x043e_edd4], [0xc707_3217, 0xf6c1_47f2, 0xf3af_d20c, 0xc651_b919, 0x7041_f802, 0x258f_dbfd, 0x4f45_073e, 0x173c_4fa9], [0x928d_f9c4, 0x3d71_ea60, 0x3373_562d, 0x5b7e_7806, 0xa295_52b2, 0xd9b0_514c, 0x993c_c472, 0x1e2a_7024]],
    [[0xd45c_811f, 0x601a_0fbc, 0x92ec_0803, 0x24b7_bc7d, 0x17d2_407f, 0xa0ca_e62b, 0x0622_5b26, 0x5fcb_43ee], [0x3509_fba4, 0x3105_09b9, 0x0563_1b75, 0x0d8d_b376, 0x5240_1c87, 0x97de_ccba, 0x11b2_e773, 0x0446_49f4], [0x9598_215f, 0x0c0d_24ad, 0xcc36_628c, 0x1b7f_9026, 0x7016_dcea, 0x338e_2f55, 0x5cc0_e58f, 0x0c8a_1bfa]],
    [[0x681d_104c, 0x8de7_03b5, 0x1263_cb45, 0x3d2f_7a59, 0x1ce5_6c63, 0xae71_0c17, 0xfcc3_e6ca, 0x6b85_7c7e], [0x8b28_01c0, 0x79d2_56b4, 0x3c40_0fc4, 0x7e9f_beac, 0x4733_ba41, 0xa751_ab1d, 0xdd41_8aca, 0x09de_2bf5], [0xeff0_687f, 0x3bf1_0ff3, 0xf1e3_7ba2, 0x5eba_ea34, 0x1d66_034d, 0xe49e_6126, 0xc3b2_42ca, 0x5b46_6e2a]],
    [[0x47fb_b842, 0x137e_eb67, 0x6081_1a8b, 0x79df_5c75, 0x71f8_c89a, 0x5a2b_a76f, 0x3bc8_ffc2, 0x0995_2a56], [0xdc7e_f83c, 0xa2a8_cb4b, 0x5f93_c226, 0x96b5_c6fa, 0x0664_e3a5, 0xd4eb_eb1b, 0xe5c6_cf2f, 0x409b_4adc], [0x8343_50c4, 0x44d5_3db9, 0xa5f5_05b4, 0x8929_9305, 0x5949_ff2f, 0xfb22_faa2, 0x0465_7d64, 0x69b9_68a7]],
];

/// `[s]B` in constant time for a scalar below `2^256`: 64 rounds of a doubling and the
/// addition of the table entry the four bits `s[c], s[64 + c], s[128 + c], s[192 + c]`
/// select, read by a masked scan of all 16 entries.
#[cfg(feature = "signing")]
fn base_mul(s: &[u8; 32]) -> P3 {
    let mut q = P2::IDENTITY;
    let mut c = 64;
    loop {
        c -= 1;
        let idx = bit(s, c) | bit(s, 64 + c) << 1 | bit(s, 128 + c) << 2 | bit(s, 192 + c) << 3;
        let mut e = Niels {
            ypx: ONE,
            ymx: ONE,
            xy2d: ZERO,
        };
        for (j, entry) in (0u32..).zip(COMB.iter()) {
            // 1 when j == idx, without a branch: (j ^ idx) - 1 borrows only from 0.
            let hit = ((j ^ idx).wrapping_sub(1) >> 31) & 1;
            let [ypx, ymx, xy2d] = entry;
            e.ypx = f::select(&e.ypx, ypx, hit);
            e.ymx = f::select(&e.ymx, ymx, hit);
            e.xy2d = f::select(&e.xy2d, xy2d, hit);
        }
        let sum = q.dbl().to_p3().add_niels(&e);
        if c == 0 {
            return sum.to_p3();
        }
        q = sum.to_p2();
    }
}

/// An Ed25519 signing key: the clamped secret scalar and the nonce prefix (SHA-512 of the
/// seed, RFC 8032 §5.1.5), and the public key. Wiped on drop.
#[cfg(feature = "signing")]
#[derive(Clone)]
pub(crate) struct SecretKey {
    scalar: [u8; 32],
    prefix: [u8; 32],
    /// The public key `[scalar]B`, encoded.
    pub(crate) pk: [u8; 32],
}

#[cfg(feature = "signing")]
impl Drop for SecretKey {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.scalar.zeroize();
        self.prefix.zeroize();
    }
}

#[cfg(feature = "signing")]
impl SecretKey {
    /// The key of a 32-byte seed.
    pub(crate) fn from_seed(seed: &[u8; 32], sha512: Sha512) -> SecretKey {
        let h = sha512(&[seed]);
        let mut key = SecretKey {
            scalar: [0; 32],
            prefix: [0; 32],
            pk: [0; 32],
        };
        let (lo, hi) = h.as_ref().split_at(32.min(h.as_ref().len()));
        crate::copy_prefix(&mut key.scalar, lo);
        crate::copy_prefix(&mut key.prefix, hi);
        if let Some(b) = key.scalar.first_mut() {
            *b &= 248;
        }
        if let Some(b) = key.scalar.last_mut() {
            *b = (*b & 63) | 64;
        }
        key.pk = base_mul(&key.scalar).encode();
        key
    }

    /// The signature of `msg` (RFC 8032 §5.1.6). With `noise`, the nonce is hedged: `r =
    /// SHA-512(noise || scalar || prefix || M)` instead of `SHA-512(prefix || M)`; either
    /// verifies the same way.
    pub(crate) fn sign(&self, msg: &[u8], noise: Option<&[u8]>, sha512: Sha512) -> [u8; 64] {
        use zeroize::Zeroize;
        let nonce_hash = match noise {
            Some(n) => sha512(&[n, &self.scalar, &self.prefix, msg]),
            None => sha512(&[&self.prefix, msg]),
        };
        let mut r = reduce_mod_l::<true>(nonce_hash.as_ref());
        let big_r = base_mul(&r).encode();
        let h = sha512(&[&big_r, &self.pk, msg]);
        let k = reduce_mod_l::<false>(h.as_ref());
        // s = k a + r mod L.
        let ka: [Limb; SC_LIMBS] = le_limbs(&k);
        let mut a: [Limb; SC_LIMBS] = le_limbs(&self.scalar);
        let mut rl: [Limb; SC_LIMBS] = le_limbs(&r);
        let mut wide = [0 as Limb; 2 * SC_LIMBS];
        tokenguard_limbs::mul_wide(&ka, &a, &mut wide);
        crate::bigint::secret::add_into(&mut wide, &rl);
        let mut wide_le = [0u8; 64];
        limbs_to_be(&wide, &mut wide_le);
        wide_le.reverse();
        let s = reduce_mod_l::<true>(&wide_le);
        a.zeroize();
        rl.zeroize();
        r.zeroize();
        wide.zeroize();
        wide_le.zeroize();
        let mut sig = [0u8; 64];
        let (sr, ss) = sig.split_at_mut(32);
        sr.copy_from_slice(&big_r);
        ss.copy_from_slice(&s);
        sig
    }
}

#[cfg(all(test, feature = "signing"))]
mod tests {
    use super::*;

    fn sha512(parts: &[&[u8]]) -> Digest {
        use crate::crypto::{Backend, RustCrypto};
        RustCrypto::digest(crate::alg::HashAlg::Sha512, parts)
    }
    use std::vec::Vec;

    fn xorshift(mut state: u64) -> impl FnMut() -> u8 {
        move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_le_bytes()[3]
        }
    }

    fn hex<const N: usize>(s: &str) -> [u8; N] {
        let mut out = [0u8; N];
        for (i, o) in out.iter_mut().enumerate() {
            *o = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap();
        }
        out
    }

    fn affine(p: &P3) -> (Fe, Fe) {
        let zi = f::invert(&p.z);
        (
            f::canonical(&f::mul(&p.x, &zi)),
            f::canonical(&f::mul(&p.y, &zi)),
        )
    }

    /// Every comb entry is the sum it claims to be, computed here by doublings and
    /// additions of the base point.
    #[test]
    fn comb_table_is_the_sums_of_base_point_powers() {
        let mut powers = [base(); 4];
        for i in 1..4 {
            let mut p = powers[i - 1];
            for _ in 0..64 {
                p = p.to_p2().dbl().to_p3();
            }
            powers[i] = p;
        }
        for (j, entry) in COMB.iter().enumerate() {
            let mut sum = P3 {
                x: ZERO,
                y: ONE,
                z: ONE,
                t: ZERO,
            };
            for (i, p) in powers.iter().enumerate() {
                if j >> i & 1 == 1 {
                    sum = sum.add_cached(&p.to_cached(), false).to_p3();
                }
            }
            let (x, y) = affine(&sum);
            assert_eq!(
                f::canonical(&entry[0]),
                f::canonical(&f::add(&y, &x)),
                "entry {j}"
            );
            assert_eq!(
                f::canonical(&entry[1]),
                f::canonical(&f::sub(&y, &x)),
                "entry {j}"
            );
            let xy2d = f::mul(&f::mul(&x, &y), &D2);
            assert_eq!(f::canonical(&entry[2]), f::canonical(&xy2d), "entry {j}");
        }
    }

    #[test]
    fn constants() {
        // d = -121665 / 121666, sqrt(-1)^2 = -1, the base point on the curve.
        let n121666 = [121_666, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(
            f::canonical(&f::mul(&D, &n121666)),
            f::canonical(&f::neg(&[121_665, 0, 0, 0, 0, 0, 0, 0]))
        );
        assert_eq!(f::canonical(&f::add(&D, &D)), f::canonical(&D2));
        assert_eq!(
            f::canonical(&f::square(&SQRT_M1)),
            f::canonical(&f::neg(&ONE))
        );
        let (xx, yy) = (f::square(&BASE_X), f::square(&BASE_Y));
        let lhs = f::sub(&yy, &xx);
        let rhs = f::add(&ONE, &f::mul(&D, &f::mul(&xx, &yy)));
        assert_eq!(f::canonical(&lhs), f::canonical(&rhs));
        // B encodes as RFC 8032's 0x58 0x66...; it decodes back to itself.
        let enc = base().encode();
        assert_eq!(
            enc,
            hex::<32>("5866666666666666666666666666666666666666666666666666666666666666")
        );
        assert_eq!(affine(&decode(&enc).unwrap()), affine(&base()));
    }

    /// RFC 8032 §7.1, tests 1 and 3.
    #[test]
    fn rfc8032_vectors() {
        for (seed, pk, msg, sig) in [
            (
                "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
                "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
                "",
                "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
            ),
            (
                "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
                "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
                "af82",
                "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
            ),
        ] {
            let key = SecretKey::from_seed(&hex::<32>(seed), sha512);
            assert_eq!(key.pk, hex::<32>(pk));
            let msg: Vec<u8> = (0..msg.len() / 2)
                .map(|i| u8::from_str_radix(&msg[2 * i..2 * i + 2], 16).unwrap())
                .collect();
            let sig = hex::<64>(sig);
            assert_eq!(key.sign(&msg, None, sha512), sig);
            assert!(verify(&key.pk, &msg, &sig, sha512));
        }
    }

    /// Keys, signatures and verdicts against ed25519-compact, on random seeds and messages
    /// of 0 to 300 bytes; tampered signatures fail both.
    #[test]
    fn matches_ed25519_compact() {
        let mut next = xorshift(0x0DDB_1A5E_5BAD_5EED);
        for round in 0..40 {
            let seed: [u8; 32] = core::array::from_fn(|_| next());
            let msg: Vec<u8> = (0..(round * 37) % 301).map(|_| next()).collect();
            let ours = SecretKey::from_seed(&seed, sha512);
            let theirs = ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::new(seed));
            assert_eq!(ours.pk, *theirs.pk, "public key, round {round}");
            let sig = ours.sign(&msg, None, sha512);
            assert_eq!(sig, *theirs.sk.sign(&msg, None), "signature, round {round}");
            assert!(verify(&ours.pk, &msg, &sig, sha512));
            let noise: [u8; 16] = core::array::from_fn(|_| next());
            let hedged = ours.sign(&msg, Some(&noise), sha512);
            assert_ne!(hedged, sig);
            assert!(theirs
                .pk
                .verify(&msg, &ed25519_compact::Signature::new(hedged))
                .is_ok());
            assert!(verify(&ours.pk, &msg, &hedged, sha512));
            for flip in [0usize, 17, 31, 32, 45, 63] {
                let mut bad = sig;
                bad[flip] ^= 1 << (round % 8);
                let compact = theirs
                    .pk
                    .verify(&msg, &ed25519_compact::Signature::new(bad));
                assert!(
                    !verify(&ours.pk, &msg, &bad, sha512),
                    "round {round}, byte {flip}"
                );
                assert!(compact.is_err());
            }
            if let Some(first) = msg.first() {
                let mut other = msg.clone();
                other[0] = first ^ 0x80;
                assert!(!verify(&ours.pk, &other, &sig, sha512));
            }
        }
    }

    /// Public keys: the small-order points (and their non-canonical encodings), `y >= p`,
    /// `x = 0` with the sign bit, and a `y` with no `x` are refused; real keys pass.
    #[test]
    fn public_key_checks() {
        let small = [
            "0100000000000000000000000000000000000000000000000000000000000000",
            "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
            "0000000000000000000000000000000000000000000000000000000000000080",
            "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
            "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
            "0000000000000000000000000000000000000000000000000000000000000000",
            "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        ];
        // Each decodes to a point of small order, or not at all (non-canonical).
        for s in small {
            assert!(
                decode(&hex::<32>(s)).is_none_or(|p| p.has_small_order()),
                "{s}"
            );
        }
        // y = 2 has no x (2^2 - 1 over 4 d + 1 is not a square).
        assert!(decode(&hex::<32>(
            "0200000000000000000000000000000000000000000000000000000000000000"
        ))
        .is_none());
        let mut next = xorshift(7);
        for _ in 0..10 {
            let seed: [u8; 32] = core::array::from_fn(|_| next());
            let pk = SecretKey::from_seed(&seed, sha512).pk;
            assert!(decode(&pk).is_some_and(|p| !p.has_small_order()));
            assert!(crate::ec::check_ed25519_key(&pk).is_ok());
        }
    }

    /// Scalars: `L - 1` is canonical, `L` and above are not; reduction mod `L` agrees with
    /// `x = q L + r`.
    #[test]
    fn scalars() {
        // L = 2^252 + 27742317777372353535851937790883648493 (RFC 8032 §5.1).
        let l_be = hex::<32>("1000000000000000000000000000000014def9dea2f79cd65812631a5cf5d3ed");
        let mut l_le = l_be;
        l_le.reverse();
        assert_eq!(l_le, ED_L_LE);
        assert!(!ed25519_scalar_is_canonical(&l_le));
        let mut below = l_le;
        below[0] -= 1;
        assert!(ed25519_scalar_is_canonical(&below));
        assert_eq!(reduce_mod_l::<true>(&l_le), [0; 32]);
        let mut l_plus_5 = l_le;
        l_plus_5[0] += 5;
        let mut five = [0u8; 32];
        five[0] = 5;
        assert_eq!(reduce_mod_l::<true>(&l_plus_5), five);
        // 2^512 - 1 mod L, from Python: (2**512 - 1) % L.
        let all = [0xFFu8; 64];
        let mut want =
            hex::<32>("0399411b7c309a3dceec73d217f5be65d00e1ba768859347a40611e3449c0f00");
        want.reverse();
        assert_eq!(reduce_mod_l::<true>(&all), want);
        // Random values of 0 to 64 bytes against the bit-serial remainder.
        let l: [Limb; SC_LIMBS] = limbs_from_be(&l_be, SC_LIMBS).unwrap();
        let mut next = xorshift(99);
        for len in 0..=64 {
            for _ in 0..20 {
                let x: Vec<u8> = (0..len).map(|_| next()).collect();
                let wide: [Limb; 2 * SC_LIMBS] = le_limbs(&x);
                let mut r = [0 as Limb; SC_LIMBS];
                crate::bigint::secret::rem_ct(&wide, &l, &mut r);
                let mut want = [0u8; 32];
                limbs_to_be(&r, &mut want);
                want.reverse();
                assert_eq!(reduce_mod_l::<true>(&x), want, "{x:02x?}");
            }
        }
    }
}
