//! The word loops of tokenguard's fixed-size Montgomery arithmetic: products, squares and
//! reductions over little-endian word slices (`n.len()` words, the modulus' length), and the
//! final subtraction, compared for public values ([`mont_mul`], [`mont_square`]) or masked
//! for secret ones ([`mont_mul_ct`], [`mont_square_ct`]: no branch and no memory index
//! depends on the values); and [`div_rem_small`], a 64-bit division by a 16-bit divisor
//! that does not link the software 64-bit division on 32-bit targets.
//!
//! A crate of its own because Cargo sets the optimisation level per crate: a firmware built
//! for size (`opt-level = "s"`) builds this crate at `opt-level = 2`, and its loops keep their
//! speed (at `"s"` they cost an RSA-2048 verification 26 % more instructions on Cortex-M4).
//! The entry points are `#[inline(never)]` so they are compiled here, at this crate's level,
//! not inlined into a size-optimised caller. The API serves `tokenguard` and changes with it.
//!
//! Every loop runs over iterators or checked slices: no input can make it panic; slices of
//! the wrong length give a wrong number, never a fault.
#![no_std]
#![allow(clippy::cast_possible_truncation)] // limb arithmetic truncates on purpose

pub mod f25519;

/// A machine word of a multi-precision number (`u64` on 64-bit targets, `u32` otherwise).
#[cfg(target_pointer_width = "64")]
pub type Limb = u64;
/// Twice a [`Limb`]: a product of two words plus two words fits.
#[cfg(target_pointer_width = "64")]
pub type Wide = u128;
/// A machine word of a multi-precision number (`u64` on 64-bit targets, `u32` otherwise).
#[cfg(not(target_pointer_width = "64"))]
pub type Limb = u32;
/// Twice a [`Limb`]: a product of two words plus two words fits.
#[cfg(not(target_pointer_width = "64"))]
pub type Wide = u64;

/// Bits per limb.
pub const W: u32 = Limb::BITS;

/// `row += x * y` (as many words as both have), returning the carry out. Four words per
/// iteration keep the UMAAL chain tight.
#[inline(always)]
pub fn mac_row(row: &mut [Limb], x: &[Limb], y: Limb) -> Limb {
    let k = row.len().min(x.len());
    let (row, x) = (
        row.get_mut(..k).unwrap_or(&mut []),
        x.get(..k).unwrap_or(&[]),
    );
    let (r4, r_rest) = row.as_chunks_mut::<4>();
    let (x4, x_rest) = x.as_chunks::<4>();
    let mut c: Limb = 0;
    let yw = Wide::from(y);
    for ([r0, r1, r2, r3], [x0, x1, x2, x3]) in r4.iter_mut().zip(x4) {
        let s = Wide::from(*r0) + Wide::from(*x0) * yw + Wide::from(c);
        *r0 = s as Limb;
        let s = Wide::from(*r1) + Wide::from(*x1) * yw + (s >> W);
        *r1 = s as Limb;
        let s = Wide::from(*r2) + Wide::from(*x2) * yw + (s >> W);
        *r2 = s as Limb;
        let s = Wide::from(*r3) + Wide::from(*x3) * yw + (s >> W);
        *r3 = s as Limb;
        c = (s >> W) as Limb;
    }
    for (rj, &xj) in r_rest.iter_mut().zip(x_rest) {
        let s = Wide::from(*rj) + Wide::from(xj) * Wide::from(y) + Wide::from(c);
        *rj = s as Limb;
        c = (s >> W) as Limb;
    }
    c
}

/// Montgomery reduction of the `2 len`-word `p` (`len = n.len()`) in place, a word of `m` at
/// a time from word `from` on (with `top` pending at word `from + len`): afterwards
/// `p[len..2 len]` plus the returned carry (weight `2^(2 len W)`) is `p / R` (not yet below
/// `n`).
pub fn reduce_rows(p: &mut [Limb], n: &[Limb], n0: Limb, from: usize, top: Limb) -> Limb {
    let len = n.len();
    let mut top_carry = top;
    for i in from..len {
        let m = p.get(i).copied().unwrap_or(0).wrapping_mul(n0);
        let Some(row) = p.get_mut(i..i + len) else {
            break;
        };
        let c = mac_row(row, n, m);
        if let Some(next) = p.get_mut(i + len) {
            let s = Wide::from(*next) + Wide::from(c) + Wide::from(top_carry);
            *next = s as Limb;
            top_carry = (s >> W) as Limb;
        }
    }
    top_carry
}

/// As [`reduce_rows`], two words of `m` per pass over `p`: `m_i n` and `m_(i+1) n` (one word
/// up) are added in one sweep with two carry chains, as [`mont_mul`] does, so each word
/// of `p` is loaded and stored once per two digits. Under V8 every such access is a
/// linear-memory load or store, bounds-checked inside Envoy; this is the wasm32 path.
/// (Measured: a generic `K`-chain version is slower at `K = 2` and at `K = 4`.)
pub fn reduce_two_rows(p: &mut [Limb], n: &[Limb], n0: Limb) -> Limb {
    let len = n.len();
    let (Some(&n_0), Some(&n_1), Some(&n_top)) = (n.first(), n.get(1), n.last()) else {
        return reduce_rows(p, n, n0, 0, 0);
    };
    let mut top_carry: Limb = 0;
    let mut i = 0;
    while i + 1 < len {
        let Some(row) = p.get_mut(i..i + len + 2) else {
            break;
        };
        let (Some(&r0), Some(&r1)) = (row.first(), row.get(1)) else {
            break;
        };
        // Words 0 and 1: m0 zeroes word 0, m1 zeroes word 1 (after m0's contribution).
        let m0 = r0.wrapping_mul(n0);
        let s = Wide::from(r0) + Wide::from(m0) * Wide::from(n_0);
        let mut c1 = (s >> W) as Limb;
        let s = Wide::from(r1) + Wide::from(m0) * Wide::from(n_1) + Wide::from(c1);
        c1 = (s >> W) as Limb;
        let m1 = (s as Limb).wrapping_mul(n0);
        let s2 = Wide::from(s as Limb) + Wide::from(m1) * Wide::from(n_0);
        let mut c2 = (s2 >> W) as Limb;
        // Words 2..len: m0 n_j and m1 n_(j-1), n_(j-1) carried from the previous word.
        let body = row.get_mut(2..len).unwrap_or(&mut []);
        let mut prev = n_1;
        for (r, &a) in body.iter_mut().zip(n.get(2..).unwrap_or(&[])) {
            let s = Wide::from(*r) + Wide::from(m0) * Wide::from(a) + Wide::from(c1);
            let s2 = Wide::from(s as Limb) + Wide::from(m1) * Wide::from(prev) + Wide::from(c2);
            *r = s2 as Limb;
            c1 = (s >> W) as Limb;
            c2 = (s2 >> W) as Limb;
            prev = a;
        }
        // Word len: the carry pending from the previous pass and m1 n_(len-1); word len+1
        // takes the carries out.
        if let Some(r) = row.get_mut(len) {
            let s = Wide::from(*r) + Wide::from(c1) + Wide::from(top_carry);
            let s2 = Wide::from(s as Limb) + Wide::from(m1) * Wide::from(n_top) + Wide::from(c2);
            *r = s2 as Limb;
            let out = (s >> W) + (s2 >> W);
            if let Some(r) = row.get_mut(len + 1) {
                let s3 = Wide::from(*r) + out;
                *r = s3 as Limb;
                top_carry = (s3 >> W) as Limb;
            }
        }
        i += 2;
    }
    // An odd word count: the last digit alone.
    reduce_rows(p, n, n0, i, top_carry)
}

/// The off-diagonal products `a_i a_j` (`i < j`, rows `from..`) added into `p` (zero above
/// row `from`'s start), a row per pass.
pub fn cross_rows(p: &mut [Limb], a: &[Limb], from: usize) {
    let len = a.len();
    for (i, &ai) in a.iter().enumerate().skip(from) {
        let Some(row) = p.get_mut(2 * i + 1..i + len) else {
            break;
        };
        let c = mac_row(row, a.get(i + 1..).unwrap_or(&[]), ai);
        if let Some(top) = p.get_mut(i + len) {
            *top = c;
        }
    }
}

/// As [`cross_rows`], rows `i` and `i + 1` in one pass with two carry chains (the wasm32
/// path, see [`reduce_two_rows`]).
pub fn cross_two_rows(p: &mut [Limb], a: &[Limb]) {
    let len = a.len();
    let mut i = 0;
    // Row i + 1 must have a product (a_(i+1) a_(i+2)), so i + 2 < len.
    while i + 2 < len {
        let (Some(&x), Some(&y), Some(&a1), Some(&a2), Some(&a_top)) =
            (a.get(i), a.get(i + 1), a.get(i + 1), a.get(i + 2), a.last())
        else {
            break;
        };
        let Some(row) = p.get_mut(2 * i + 1..i + len + 2) else {
            break;
        };
        // Positions 2i+1 and 2i+2: x a_(i+1), x a_(i+2).
        let (Some(&w0), Some(&w1)) = (row.first(), row.get(1)) else {
            break;
        };
        let s = Wide::from(w0) + Wide::from(x) * Wide::from(a1);
        let s1 = Wide::from(w1) + Wide::from(x) * Wide::from(a2) + (s >> W);
        if let Some(w) = row.get_mut(..2) {
            w.copy_from_slice(&[s as Limb, s1 as Limb]);
        }
        let mut c1 = (s1 >> W) as Limb;
        let mut c2: Limb = 0;
        // Positions i+k for k in i+3..len: x a_k + y a_(k-1).
        let body = row.get_mut(2..len - i - 1).unwrap_or(&mut []);
        let mut prev = a2;
        for (r, &u) in body.iter_mut().zip(a.get(i + 3..).unwrap_or(&[])) {
            let s = Wide::from(*r) + Wide::from(x) * Wide::from(u) + Wide::from(c1);
            let s2 = Wide::from(s as Limb) + Wide::from(y) * Wide::from(prev) + Wide::from(c2);
            *r = s2 as Limb;
            c1 = (s >> W) as Limb;
            c2 = (s2 >> W) as Limb;
            prev = u;
        }
        // Position i+len: y a_(len-1) and both carries (fresh words from here up).
        let s2 = Wide::from(c1) + Wide::from(y) * Wide::from(a_top) + Wide::from(c2);
        if let Some(w) = row.get_mut(len - i - 1..len - i + 1) {
            w.copy_from_slice(&[s2 as Limb, (s2 >> W) as Limb]);
        }
        i += 2;
    }
    cross_rows(p, a, i);
}

/// Whether `a < b` (equal lengths, most significant word last); variable time.
pub fn lt(a: &[Limb], b: &[Limb]) -> bool {
    for (x, y) in a.iter().rev().zip(b.iter().rev()) {
        if x != y {
            return x < y;
        }
    }
    false
}

/// `a -= b` over the words both have; returns the borrow out.
pub fn sub_in_place(a: &mut [Limb], b: &[Limb]) -> bool {
    let mut borrow = false;
    for (x, &y) in a.iter_mut().zip(b) {
        let (d1, b1) = x.overflowing_sub(y);
        let (d2, b2) = d1.overflowing_sub(Limb::from(borrow));
        *x = d2;
        borrow = b1 | b2;
    }
    borrow
}

/// The final step of a Montgomery operation: `t - n` if `t + top 2^(W len) >= n` (`t < 2n`).
/// With `CT` the subtraction is always computed and applied through a mask, so neither the
/// comparison nor the branch depends on the values (secret operands); without, it compares
/// first (public operands, faster).
#[inline(always)]
fn finish<const CT: bool>(t: &mut [Limb], top: Limb, n: &[Limb]) {
    if CT {
        // Pass 1: the borrow of t - n, nothing stored.
        let mut borrow: Limb = 0;
        for (&x, &y) in t.iter().zip(n) {
            let (d1, b1) = x.overflowing_sub(y);
            let (_, b2) = d1.overflowing_sub(borrow);
            borrow = Limb::from(b1 | b2);
        }
        let need = (top | (borrow ^ 1)) & 1;
        let mask = core::hint::black_box(need.wrapping_neg());
        // Pass 2: t - (n & mask).
        let mut borrow: Limb = 0;
        for (x, &y) in t.iter_mut().zip(n) {
            let (d1, b1) = x.overflowing_sub(y & mask);
            let (d2, b2) = d1.overflowing_sub(borrow);
            *x = d2;
            borrow = Limb::from(b1 | b2);
        }
    } else if top != 0 || !lt(t, n) {
        sub_in_place(t, n);
    }
}

/// `a += b` over the words both have; returns the carry out.
pub fn add_in_place(a: &mut [Limb], b: &[Limb]) -> bool {
    let mut carry = false;
    for (x, &y) in a.iter_mut().zip(b) {
        let (s1, c1) = x.overflowing_add(y);
        let (s2, c2) = s1.overflowing_add(Limb::from(carry));
        *x = s2;
        carry = c1 | c2;
    }
    carry
}

/// `(x / d, x % d)` for a divisor of 16 bits, by four 32-bit divisions (base-2^16 long
/// division). On 32-bit targets a `u64` division calls the compiler's software routine
/// (`__aeabi_uldivmod`, about 900 bytes on Cortex-M4); the engine and the device divide
/// 64-bit times and numbers only by small constants (10, 1000), so they use this and the
/// routine is not linked. A divisor of 0 is taken as 1.
pub fn div_rem_small(x: u64, d: u16) -> (u64, u16) {
    let d = u32::from(d.max(1));
    let (mut q, mut r) = (0u64, 0u32);
    for shift in [48u32, 32, 16, 0] {
        // r < d < 2^16, so the partial dividend fits in 32 bits.
        let cur = (r << 16) | ((x >> shift) as u32 & 0xFFFF);
        q = (q << 16) | u64::from(cur / d);
        r = cur % d;
    }
    (q, r as u16)
}

/// `out = a b` (schoolbook, a row of [`mac_row`] per word of `a`; `out` at least `a.len() +
/// b.len()` words). Row `i` sets word `i + b.len()`, so only the words below `b.len()` and
/// above the product are zeroed first.
pub fn mul_wide(a: &[Limb], b: &[Limb], out: &mut [Limb]) {
    let k = b.len();
    zero_low(out, k);
    if let Some(tail) = out.get_mut(a.len() + k..) {
        tail.fill(0);
    }
    for (i, &ai) in a.iter().enumerate() {
        let c = mac_row(out.get_mut(i..i + k).unwrap_or(&mut []), b, ai);
        if let Some(top) = out.get_mut(i + k) {
            *top = c;
        }
    }
}

/// Zeroes the first `len` words of `p`.
#[inline(always)]
fn zero_low(p: &mut [Limb], len: usize) {
    if let Some(low) = p.get_mut(..len) {
        low.fill(0);
    }
}

/// `out = p / R mod n` for the `2 len`-word `p < n R` (`p` is overwritten), finished with
/// the masked subtraction when `CT`: the reduction every product and square ends with.
#[inline(always)]
fn reduce_into<const CT: bool>(out: &mut [Limb], p: &mut [Limb], n: &[Limb], n0: Limb) {
    #[cfg(target_arch = "wasm32")]
    let top_carry = reduce_two_rows(p, n, n0);
    #[cfg(not(target_arch = "wasm32"))]
    let top_carry = reduce_rows(p, n, n0, 0, 0);
    for (o, &x) in out.iter_mut().zip(p.get(n.len()..).unwrap_or(&[])) {
        *o = x;
    }
    finish::<CT>(out, top_carry, n);
}

/// Montgomery reduction in constant time: `out = wide / R mod n` for a value of `2 len`
/// words below `n R` (`wide` is overwritten; `out` has `len` words).
#[inline(never)]
pub fn mont_reduce_ct(out: &mut [Limb], wide: &mut [Limb], n: &[Limb], n0: Limb) {
    let len = n.len();
    if let (Some(p), Some(out)) = (wide.get_mut(..2 * len), out.get_mut(..len)) {
        reduce_into::<true>(out, p, n, n0);
    }
}

/// The final subtraction for public values: `t - n` if `t + top 2^(W len) >= n`.
#[inline(never)]
pub fn finish_public(t: &mut [Limb], top: Limb, n: &[Limb]) {
    finish::<false>(t, top, n);
}

/// The final subtraction for secret values: always computed, applied through a mask.
#[inline(never)]
pub fn finish_ct(t: &mut [Limb], top: Limb, n: &[Limb]) {
    finish::<true>(t, top, n);
}

/// Montgomery product `a b / R mod n` (`R = 2^(W len)`, `len = n.len()`, `n` odd, `a, b <
/// n`) into `out`, with `n0 = -n^-1 mod 2^W`; `wide` is a buffer of `2 len` words. The full
/// product a row at a time ([`mac_row`], four words per iteration), then the word-by-word
/// reduction ([`reduce_rows`]): two tight multiply-accumulate loops instead of one with four
/// operand streams (measured on Cortex-M4: 3.5 instructions per word and pass against 13.5
/// for the interleaved form; on wasm32 the interleaved form is faster and is used).
/// Variable time in the final subtraction only (public values).
#[inline(never)]
pub fn mont_mul(out: &mut [Limb], wide: &mut [Limb], a: &[Limb], b: &[Limb], n: &[Limb], n0: Limb) {
    mont_mul_with::<false>(out, wide, a, b, n, n0);
}

/// [`mont_mul`] in constant time (masked final subtraction), for secret operands.
#[inline(never)]
pub fn mont_mul_ct(
    out: &mut [Limb],
    wide: &mut [Limb],
    a: &[Limb],
    b: &[Limb],
    n: &[Limb],
    n0: Limb,
) {
    mont_mul_with::<true>(out, wide, a, b, n, n0);
}

#[inline(always)]
fn mont_mul_with<const CT: bool>(
    out: &mut [Limb],
    wide: &mut [Limb],
    a: &[Limb],
    b: &[Limb],
    n: &[Limb],
    n0: Limb,
) {
    let len = n.len();
    let (Some(a), Some(b), Some(p), Some(out)) = (
        a.get(..len),
        b.get(..len),
        wide.get_mut(..2 * len),
        out.get_mut(..len),
    ) else {
        return;
    };
    #[cfg(target_arch = "wasm32")]
    {
        let (t, top_carry) = interleaved_rows(p, a, b, n, n0);
        for (o, &x) in out.iter_mut().zip(t) {
            *o = x;
        }
        finish::<CT>(out, top_carry, n);
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        mul_wide(a, b, p);
        reduce_into::<CT>(out, p, n, n0);
    }
}

/// The Montgomery product's rows for wasm32: each row adds `a b_i` and `m n` in one pass with
/// two carry chains and shifts a word down, two words per iteration, reading the accumulator
/// from one half of `p` and writing the next into the other (measured in V8: faster there
/// than the two separate passes, where on Cortex-M4 it is the other way round). Returns the
/// `len` words of `a b / R` (not yet below `n`) and the carry above them.
#[cfg(target_arch = "wasm32")]
fn interleaved_rows<'p>(
    p: &'p mut [Limb],
    a: &[Limb],
    b: &[Limb],
    n: &[Limb],
    n0: Limb,
) -> (&'p [Limb], Limb) {
    let len = n.len();
    let (Some(&n_first), Some(a_rest), Some(n_rest)) = (n.first(), a.get(1..len), n.get(1..))
    else {
        return (&[], 0);
    };
    let a_first = a.first().copied().unwrap_or(0);
    let (lo, hi) = p.split_at_mut(len);
    lo.fill(0);
    let (mut cur, mut next) = (lo, hi);
    let mut t_hi: Limb = 0;
    for &bi in b.iter().take(len) {
        let t0 = cur.first().copied().unwrap_or(0);
        let s = Wide::from(t0) + Wide::from(a_first) * Wide::from(bi);
        let m = (s as Limb).wrapping_mul(n0);
        let s2 = Wide::from(s as Limb) + Wide::from(m) * Wide::from(n_first);
        let mut c1 = (s >> W) as Limb;
        let mut c2 = (s2 >> W) as Limb;
        let src = cur.get(1..len).unwrap_or(&[]);
        let dst = next.get_mut(..len - 1).unwrap_or(&mut []);
        let (d2, d_rest) = dst.as_chunks_mut::<2>();
        let (t2, t_rest) = src.as_chunks::<2>();
        let (a2, a_tail) = a_rest.as_chunks::<2>();
        let (n2, n_tail) = n_rest.as_chunks::<2>();
        for (((d, t), av), nv) in d2.iter_mut().zip(t2).zip(a2).zip(n2) {
            let s = Wide::from(t[0]) + Wide::from(av[0]) * Wide::from(bi) + Wide::from(c1);
            let s2 = Wide::from(s as Limb) + Wide::from(m) * Wide::from(nv[0]) + Wide::from(c2);
            d[0] = s2 as Limb;
            let (h1, h2) = ((s >> W) as Limb, (s2 >> W) as Limb);
            let s3 = Wide::from(t[1]) + Wide::from(av[1]) * Wide::from(bi) + Wide::from(h1);
            let s4 = Wide::from(s3 as Limb) + Wide::from(m) * Wide::from(nv[1]) + Wide::from(h2);
            d[1] = s4 as Limb;
            c1 = (s3 >> W) as Limb;
            c2 = (s4 >> W) as Limb;
        }
        for (((d, &tj), &aj), &nj) in d_rest.iter_mut().zip(t_rest).zip(a_tail).zip(n_tail) {
            let s = Wide::from(tj) + Wide::from(aj) * Wide::from(bi) + Wide::from(c1);
            c1 = (s >> W) as Limb;
            let s2 = Wide::from(s as Limb) + Wide::from(m) * Wide::from(nj) + Wide::from(c2);
            c2 = (s2 >> W) as Limb;
            *d = s2 as Limb;
        }
        let s = Wide::from(t_hi) + Wide::from(c1) + Wide::from(c2);
        if let Some(top) = next.get_mut(len - 1) {
            *top = s as Limb;
        }
        t_hi = (s >> W) as Limb;
        core::mem::swap(&mut cur, &mut next);
    }
    (cur, t_hi)
}

/// Montgomery square `a^2 / R mod n` (as [`mont_mul`]) into `out`; `wide` is a buffer of
/// `2 len` words. The off-diagonal products once, doubled, plus the squares (about half the
/// multiplications of [`mont_mul`]), then a separate word-by-word reduction. On wasm32 both
/// passes take two rows at a time ([`cross_two_rows`], [`reduce_two_rows`]).
#[inline(never)]
pub fn mont_square(out: &mut [Limb], wide: &mut [Limb], a: &[Limb], n: &[Limb], n0: Limb) {
    mont_square_with::<false>(out, wide, a, n, n0);
}

/// [`mont_square`] in constant time (masked final subtraction), for secret operands.
#[inline(never)]
pub fn mont_square_ct(out: &mut [Limb], wide: &mut [Limb], a: &[Limb], n: &[Limb], n0: Limb) {
    mont_square_with::<true>(out, wide, a, n, n0);
}

#[inline(always)]
fn mont_square_with<const CT: bool>(
    out: &mut [Limb],
    wide: &mut [Limb],
    a: &[Limb],
    n: &[Limb],
    n0: Limb,
) {
    let len = n.len();
    let (Some(a), Some(p), Some(out)) = (a.get(..len), wide.get_mut(..2 * len), out.get_mut(..len))
    else {
        return;
    };
    // The cross-product rows set each word above the first `len` before reading it.
    zero_low(p, len);
    // Off-diagonal products a_i a_j (i < j) into p.
    #[cfg(target_arch = "wasm32")]
    cross_two_rows(p, a);
    #[cfg(not(target_arch = "wasm32"))]
    cross_rows(p, a, 0);
    // Double, then add the squares a_i^2 at p[2i].
    let mut carry: Limb = 0;
    for x in p.iter_mut() {
        let nc = *x >> (W - 1);
        *x = (*x << 1) | carry;
        carry = nc;
    }
    let mut c: Limb = 0;
    for (pair, &ai) in p.chunks_exact_mut(2).zip(a) {
        if let [lo, hi] = pair {
            let sq = Wide::from(ai) * Wide::from(ai);
            let s = Wide::from(*lo) + (sq & Wide::from(Limb::MAX)) + Wide::from(c);
            *lo = s as Limb;
            let s2 = Wide::from(*hi) + (sq >> W) + (s >> W);
            *hi = s2 as Limb;
            c = (s2 >> W) as Limb;
        }
    }
    // Montgomery reduction of the 2len-word product.
    reduce_into::<CT>(out, p, n, n0);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `x^-1 mod 2^W` for odd `x` (Newton's iteration), negated: the `n0` of a modulus.
    fn n0_of(n: Limb) -> Limb {
        let mut inv: Limb = 1;
        for _ in 0..7 {
            inv = inv.wrapping_mul((2 as Limb).wrapping_sub(n.wrapping_mul(inv)));
        }
        inv.wrapping_neg()
    }

    /// Products and squares of moduli of one word up to 128 bits against `u128` arithmetic,
    /// both final subtractions.
    #[test]
    fn products_and_squares_match_u128() {
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for len in 1..=(128 / W) as usize {
            // The top bit below 2^127, so the reference's doublings fit in a u128.
            let bits = (W as usize * len).min(127);
            for _ in 0..300 {
                let mask = if bits >= 128 {
                    u128::MAX
                } else {
                    (1u128 << bits) - 1
                };
                let n = ((u128::from(next()) << 64 | u128::from(next())) & mask)
                    | 1
                    | (1 << (bits - 1));
                let a = (u128::from(next()) << 64 | u128::from(next())) % n;
                let b = (u128::from(next()) << 64 | u128::from(next())) % n;
                let to = |v: u128| -> [Limb; 4] {
                    let mut out = [0 as Limb; 4];
                    for (i, o) in out.iter_mut().enumerate() {
                        *o = u32::try_from(i)
                            .ok()
                            .and_then(|i| v.checked_shr(W * i))
                            .map_or(0, |x| x as Limb);
                    }
                    out
                };
                let from = |v: &[Limb]| {
                    v.iter()
                        .rev()
                        .fold(0u128, |acc, &x| (acc << W) | u128::from(x))
                };
                let (nl, al, bl) = (to(n), to(a), to(b));
                let nl = &nl[..len];
                let n0 = n0_of(nl[0]);
                // a b / R mod n, by u128 arithmetic: a b R^-1 with R = 2^(W len).
                let mulmod = |x: u128, y: u128| -> u128 {
                    let mut acc = 0u128;
                    for i in (0..128).rev() {
                        acc = (acc << 1) % n;
                        if x >> i & 1 == 1 {
                            acc = (acc + y) % n;
                        }
                    }
                    acc
                };
                let half = n.div_ceil(2); // 2^-1 mod n
                let mut r_inv = 1u128;
                for _ in 0..W as usize * len {
                    r_inv = mulmod(r_inv, half);
                }
                let want_mul = mulmod(mulmod(a, b), r_inv);
                let want_sq = mulmod(mulmod(a, a), r_inv);
                let (mut out, mut wide) = ([0 as Limb; 4], [0 as Limb; 8]);
                mont_mul(&mut out, &mut wide, &al, &bl, nl, n0);
                assert_eq!(from(&out[..len]), want_mul);
                mont_mul_ct(&mut out, &mut wide, &al, &bl, nl, n0);
                assert_eq!(from(&out[..len]), want_mul);
                mont_square(&mut out, &mut wide, &al, nl, n0);
                assert_eq!(from(&out[..len]), want_sq);
                mont_square_ct(&mut out, &mut wide, &al, nl, n0);
                assert_eq!(from(&out[..len]), want_sq);
            }
        }
    }

    /// The base-2^16 long division against `u64`'s own, at the edges and at random.
    #[test]
    fn small_divisions_match_u64() {
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let mut values = [
            0,
            1,
            9,
            10,
            999,
            1000,
            65_535,
            65_536,
            u64::MAX,
            u64::MAX - 1,
        ]
        .to_vec();
        for _ in 0..2000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            values.push(state >> (state % 64));
        }
        for &x in &values {
            for d in [1u16, 2, 3, 7, 10, 1000, 4093, 65_535] {
                assert_eq!(
                    div_rem_small(x, d),
                    (x / u64::from(d), (x % u64::from(d)) as u16)
                );
            }
        }
        assert_eq!(div_rem_small(12345, 0), (12345, 0));
    }

    /// Buffers of the wrong length give no panic (and no answer to rely on).
    #[test]
    fn short_buffers_do_not_panic() {
        let n = [0xFFFF_FFFBu32 as Limb, 1];
        let mut out = [0 as Limb; 1];
        let mut scratch = [0 as Limb; 1];
        mont_mul(&mut out, &mut scratch, &[1], &[1], &n, 1);
        mont_square_ct(&mut out, &mut scratch, &[1, 2], &n, 1);
        mont_mul_ct(&mut [], &mut [], &[], &[], &[], 1);
        assert_eq!(out, [0]);
    }
}
