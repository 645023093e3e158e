//! The field of Curve25519, integers modulo `p = 2^255 - 19`, on eight 32-bit words (little
//! endian) on every target: the arithmetic under tokenguard's Ed25519.
//!
//! An element is any 256-bit value; it stands for its residue mod `p`. Every operation takes
//! and returns such values (not necessarily below `p`): `2^256 = 38 mod p` folds a carry
//! out of the top word back into the bottom one. [`canonical`] gives the unique
//! representative below `p`, for encoding and comparison.
//!
//! Constant time: no branch and no memory index depends on a value (carries are folded by
//! multiplying them in, the final reduction is masked). Cortex-M4's `UMULL`/`UMAAL` take the
//! same cycles for every operand.

#![allow(clippy::needless_range_loop)] // word loops over fixed arrays, indices known in range

/// A field element: eight little-endian 32-bit words, any 256-bit value.
pub type Fe = [u32; 8];

/// `p = 2^255 - 19`.
const P: Fe = [
    0xFFFF_FFED,
    0xFFFF_FFFF,
    0xFFFF_FFFF,
    0xFFFF_FFFF,
    0xFFFF_FFFF,
    0xFFFF_FFFF,
    0xFFFF_FFFF,
    0x7FFF_FFFF,
];

/// `a b mod p` (not fully reduced): the schoolbook product a row at a time (the
/// multiply-accumulate chains Cortex-M4's `UMAAL` does in one instruction), then the fold.
#[inline(never)]
#[must_use]
pub fn mul(a: &Fe, b: &Fe) -> Fe {
    let mut t = [0u32; 16];
    // Row 0 sets the low words, the others accumulate onto them.
    let mut c = 0u64;
    for j in 0..8 {
        let v = u64::from(a[0]) * u64::from(b[j]) + c;
        t[j] = v as u32;
        c = v >> 32;
    }
    t[8] = c as u32;
    for i in 1..8 {
        let ai = a[i];
        let mut c = 0u64;
        for j in 0..8 {
            let v = u64::from(t[i + j]) + u64::from(ai) * u64::from(b[j]) + c;
            t[i + j] = v as u32;
            c = v >> 32;
        }
        t[i + 8] = c as u32;
    }
    fold(&t)
}

/// `a^2 mod p` (not fully reduced): [`mul`] of `a` by itself. A dedicated square (the 28
/// cross products once, doubled) measured 378 instructions on Cortex-M4 against the
/// product's 400, for 1.1 KB more flash: not kept.
#[inline(always)]
#[must_use]
pub fn square(a: &Fe) -> Fe {
    mul(a, a)
}

/// `lo + 2^256 hi mod p` for a 512-bit `t`: `lo + 38 hi`, then the carry folded.
#[inline(always)]
fn fold(t: &[u32; 16]) -> Fe {
    let mut r = [0u32; 8];
    let mut c = 0u64;
    for i in 0..8 {
        let v = u64::from(t[i]) + 38 * u64::from(t[i + 8]) + c;
        r[i] = v as u32;
        c = v >> 32;
    }
    add_carry(&mut r, c);
    r
}

/// `r + 2^256 c mod p` for `c < 39` (`2^256 = 38 mod p`): add `38 c`; a carry out of that
/// leaves `r` below `38 * 39`, so one more 38 fits.
#[inline(always)]
fn add_carry(r: &mut Fe, c: u64) {
    let mut v = c * 38;
    for w in r.iter_mut() {
        v += u64::from(*w);
        *w = v as u32;
        v >>= 32;
    }
    r[0] = r[0].wrapping_add((v as u32) * 38);
}

/// `a - b` over the eight words, and the borrow out (0 or 1).
#[inline(always)]
fn sub_words(a: &Fe, b: &Fe) -> (Fe, u64) {
    let mut r = [0u32; 8];
    let mut borrow = 0u64;
    for i in 0..8 {
        let v = u64::from(a[i])
            .wrapping_sub(u64::from(b[i]))
            .wrapping_sub(borrow);
        r[i] = v as u32;
        borrow = v >> 63;
    }
    (r, borrow)
}

/// `a + b mod p` (not fully reduced).
#[inline(never)]
#[must_use]
pub fn add(a: &Fe, b: &Fe) -> Fe {
    let mut r = [0u32; 8];
    let mut c = 0u64;
    for i in 0..8 {
        let v = u64::from(a[i]) + u64::from(b[i]) + c;
        r[i] = v as u32;
        c = v >> 32;
    }
    add_carry(&mut r, c);
    r
}

/// `a - b mod p` (not fully reduced).
#[inline(never)]
#[must_use]
pub fn sub(a: &Fe, b: &Fe) -> Fe {
    let (mut r, borrow) = sub_words(a, b);
    // A borrow means r is 2^256 too large: subtract 38. A second borrow leaves r at least
    // 2^256 - 38, so the last 38 cannot borrow.
    let mut sub = borrow * 38;
    for w in &mut r {
        let v = u64::from(*w).wrapping_sub(sub);
        *w = v as u32;
        sub = v >> 63;
    }
    r[0] = r[0].wrapping_sub((sub as u32) * 38);
    r
}

/// `-a mod p` (not fully reduced).
#[must_use]
pub fn neg(a: &Fe) -> Fe {
    sub(&[0; 8], a)
}

/// The representative of `a` below `p`: `a` is below `2^256 = 2p + 38`, so `p` is
/// subtracted (through a mask) at most twice.
#[must_use]
pub fn canonical(a: &Fe) -> Fe {
    let mut r = *a;
    for _ in 0..2 {
        let (d, borrow) = sub_words(&r, &P);
        // Keep d unless the subtraction borrowed (r < p).
        let keep_r = (borrow as u32).wrapping_neg();
        for i in 0..8 {
            r[i] = (r[i] & keep_r) | (d[i] & !keep_r);
        }
    }
    r
}

/// The 32 little-endian bytes of `a`'s canonical representative.
#[must_use]
pub fn to_bytes(a: &Fe) -> [u8; 32] {
    let c = canonical(a);
    let mut out = [0u8; 32];
    for (chunk, w) in out.chunks_exact_mut(4).zip(c) {
        chunk.copy_from_slice(&w.to_le_bytes());
    }
    out
}

/// The element of 32 little-endian bytes (all 256 bits taken; callers mask what they must).
#[must_use]
pub fn from_bytes(b: &[u8; 32]) -> Fe {
    let mut r = [0u32; 8];
    for (w, chunk) in r.iter_mut().zip(b.chunks_exact(4)) {
        *w = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
    }
    r
}

/// Whether `a = 0 mod p` (constant time).
#[must_use]
pub fn is_zero(a: &Fe) -> bool {
    let c = canonical(a);
    c.iter().fold(0, |acc, &w| acc | w) == 0
}

/// `a^(2^k)`.
fn square_n(a: &Fe, k: u32) -> Fe {
    let mut r = *a;
    for _ in 0..k {
        r = square(&r);
    }
    r
}

/// The addition chain to `a^(2^250 - 1)` after its first squaring, one step per row: square
/// the running power this many times, multiply by the saved power in this slot, save the
/// result in that slot (9: not saved). Slots: 0 `a`, 1 `a^2`, 2 `a^9`, 3 `a^11`, then the
/// powers `2^n - 1` for n = 5 (4), 10 (5), 20 (6), 50 (7), 100 (8). A loop over a table
/// instead of 21 calls written out: about 600 bytes less flash, the same operations.
const CHAIN: [(u8, u8, u8); 10] = [
    (2, 0, 2),   // a^9
    (0, 1, 3),   // a^11
    (1, 2, 4),   // 2^5 - 1
    (5, 4, 5),   // 2^10 - 1
    (10, 5, 6),  // 2^20 - 1
    (20, 6, 9),  // 2^40 - 1
    (10, 5, 7),  // 2^50 - 1
    (50, 7, 8),  // 2^100 - 1
    (100, 8, 9), // 2^200 - 1
    (50, 7, 9),  // 2^250 - 1
];

/// `(a^(2^250 - 1), a^11)`, the common head of inversion and the square-root power.
#[inline(never)]
fn pow_2_250_1(a: &Fe) -> (Fe, Fe) {
    let mut saved = [*a; 9];
    let mut x = square(a);
    saved[1] = x;
    for &(k, m, to) in &CHAIN {
        x = square_n(&x, u32::from(k));
        if let Some(f) = saved.get(usize::from(m)) {
            x = mul(&x, f);
        }
        if let Some(slot) = saved.get_mut(usize::from(to)) {
            *slot = x;
        }
    }
    (x, saved[3])
}

/// `a^-1 = a^(p - 2)` (`0` for `0`): 254 squarings and 11 products, constant time.
#[must_use]
pub fn invert(a: &Fe) -> Fe {
    let (e250, a11) = pow_2_250_1(a);
    mul(&square_n(&e250, 5), &a11)
}

/// `a^((p - 5) / 8) = a^(2^252 - 3)`, the power behind square roots mod `p`.
#[must_use]
pub fn pow_p58(a: &Fe) -> Fe {
    let (e250, _) = pow_2_250_1(a);
    mul(&square_n(&e250, 2), a)
}

/// Keeps `a` if `choice` is 0, takes `b` if it is 1 (constant time; `choice` must be 0 or 1).
#[must_use]
pub fn select(a: &Fe, b: &Fe, choice: u32) -> Fe {
    let mask = choice.wrapping_neg();
    let mut r = *a;
    for (x, &y) in r.iter_mut().zip(b) {
        *x ^= (*x ^ y) & mask;
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `x mod p` for a 512-bit `x` (16 words), bit-serially: the slow reference.
    fn reference_mod(x: &[u32; 16]) -> Fe {
        let mut p9 = [0u32; 9];
        p9[..8].copy_from_slice(&P);
        let mut r = [0u32; 9];
        for i in (0..512).rev() {
            let bit = (x[i / 32] >> (i % 32)) & 1;
            let mut carry = bit;
            for w in &mut r {
                let next = *w >> 31;
                *w = (*w << 1) | carry;
                carry = next;
            }
            // r < 2p: subtract p once if r >= p.
            let ge = (0..9)
                .rev()
                .find(|&k| r[k] != p9[k])
                .is_none_or(|k| r[k] > p9[k]);
            if ge {
                let mut borrow = 0u64;
                for k in 0..9 {
                    let v = u64::from(r[k])
                        .wrapping_sub(u64::from(p9[k]))
                        .wrapping_sub(borrow);
                    r[k] = v as u32;
                    borrow = v >> 63;
                }
            }
        }
        let mut out = [0u32; 8];
        out.copy_from_slice(&r[..8]);
        out
    }

    fn wide(lo: &Fe, hi: &Fe) -> [u32; 16] {
        let mut t = [0u32; 16];
        t[..8].copy_from_slice(lo);
        t[8..].copy_from_slice(hi);
        t
    }

    fn product(a: &Fe, b: &Fe) -> [u32; 16] {
        let mut t = [0u64; 17];
        for i in 0..8 {
            for j in 0..8 {
                let v = u64::from(a[i]) * u64::from(b[j]);
                t[i + j] += v & 0xFFFF_FFFF;
                t[i + j + 1] += v >> 32;
            }
        }
        let mut out = [0u32; 16];
        let mut c = 0u64;
        for k in 0..16 {
            let v = t[k] + c;
            out[k] = v as u32;
            c = v >> 32;
        }
        out
    }

    fn values() -> impl Iterator<Item = Fe> {
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let edges: [Fe; 6] = [
            [0; 8],
            [1, 0, 0, 0, 0, 0, 0, 0],
            [u32::MAX; 8],
            // p, p - 1, p + 1
            [
                0xFFFF_FFED,
                u32::MAX,
                u32::MAX,
                u32::MAX,
                u32::MAX,
                u32::MAX,
                u32::MAX,
                0x7FFF_FFFF,
            ],
            [
                0xFFFF_FFEC,
                u32::MAX,
                u32::MAX,
                u32::MAX,
                u32::MAX,
                u32::MAX,
                u32::MAX,
                0x7FFF_FFFF,
            ],
            [
                0xFFFF_FFEE,
                u32::MAX,
                u32::MAX,
                u32::MAX,
                u32::MAX,
                u32::MAX,
                u32::MAX,
                0x7FFF_FFFF,
            ],
        ];
        let random = (0..400).map(move |_| {
            let mut a = [0u32; 8];
            for w in &mut a {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                *w = (state >> 16) as u32;
            }
            a
        });
        edges.into_iter().chain(random)
    }

    #[test]
    fn arithmetic_matches_the_reference() {
        let mut all = [[0u32; 8]; 406];
        for (slot, v) in all.iter_mut().zip(values()) {
            *slot = v;
        }
        for (k, a) in all.iter().enumerate() {
            let b = &all[(k * 7 + 3) % all.len()];
            let want_mul = reference_mod(&product(a, b));
            assert_eq!(canonical(&mul(a, b)), want_mul, "{a:x?} * {b:x?}");
            assert_eq!(
                canonical(&square(a)),
                reference_mod(&product(a, a)),
                "{a:x?}^2"
            );
            // a + b and a - b through the reference: a + b = (a + b) with carry; a - b + 2p.
            let mut sum = [0u32; 16];
            let mut c = 0u64;
            for i in 0..8 {
                let v = u64::from(a[i]) + u64::from(b[i]) + c;
                sum[i] = v as u32;
                c = v >> 32;
            }
            sum[8] = c as u32;
            assert_eq!(canonical(&add(a, b)), reference_mod(&sum));
            let d = sub(a, b);
            assert_eq!(canonical(&add(&d, b)), reference_mod(&wide(a, &[0; 8])));
            assert_eq!(canonical(&add(&neg(a), a)), [0; 8]);
            assert_eq!(canonical(a), reference_mod(&wide(a, &[0; 8])));
            assert_eq!(from_bytes(&to_bytes(a)), canonical(a));
            let zero = reference_mod(&wide(a, &[0; 8])) == [0; 8];
            assert_eq!(is_zero(a), zero);
            if !zero {
                assert_eq!(canonical(&mul(a, &invert(a))), [1, 0, 0, 0, 0, 0, 0, 0]);
            }
            assert_eq!(select(a, b, 0), *a);
            assert_eq!(select(a, b, 1), *b);
        }
    }

    /// `pow_p58` gives square roots: for a square `u = x^2`, `u^((p+3)/8) = u pow_p58(u)` is
    /// a root of `u` or of `-u`.
    #[test]
    fn square_roots() {
        for x in values().take(60) {
            let u = square(&x);
            let r = mul(&u, &pow_p58(&u));
            let r2 = canonical(&square(&r));
            assert!(r2 == canonical(&u) || r2 == canonical(&neg(&u)), "{x:x?}");
        }
    }
}
