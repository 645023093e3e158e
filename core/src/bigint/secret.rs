//! Constant-time arithmetic on secret values, for RSA-CRT signing.
//!
//! The rules: no branch and no memory index depends on a secret value; loop counts depend
//! only on public lengths (the prime's limb count, the exponent's byte length, which is the
//! prime's). The Montgomery products are [`Modulus::mul`] and [`Modulus::square`] with their
//! final subtraction masked (`finish::<true>`); table lookups read every entry and keep one
//! through a mask ([`subtle`]); divisions are bit-serial with masked subtractions.
//! Cortex-M4's `UMULL`/`UMAAL` take the same cycles for every operand, as do x86-64's and
//! AArch64's multiplies.

use subtle::{ConditionallySelectable, ConstantTimeEq};
use zeroize::Zeroize;

use super::{finish, one, sub_in_place, Limb, Modulus, Wide, W};

/// Window width of the exponentiation: 16-entry tables.
const WINDOW: usize = 4;

impl<const L: usize> Modulus<L> {
    /// A secret odd modulus (an RSA prime) from big-endian bytes: as
    /// [`Modulus::from_be_bytes`], with `R^2 mod n` computed in constant time.
    pub(crate) fn from_secret_be_bytes(bytes: &[u8]) -> Option<Self> {
        let mut m = Self::ZERO;
        m.set_be_bytes::<true>(bytes).then_some(m)
    }

    /// The modulus' limbs in use (secret for a prime).
    pub(crate) fn value(&self) -> &[Limb] {
        self.nl()
    }

    /// Constant-time Montgomery product `a b / R mod n`.
    #[inline(never)]
    pub(crate) fn mul_ct(&self, a: &[Limb; L], b: &[Limb; L]) -> [Limb; L] {
        self.mul_with::<true>(a, b)
    }

    /// Constant-time Montgomery square `a^2 / R mod n`.
    #[inline(never)]
    pub(crate) fn square_ct(&self, a: &[Limb; L]) -> [Limb; L] {
        self.square_with::<true>(a)
    }

    /// `R mod n`, the Montgomery form of 1.
    pub(crate) fn one_mont(&self) -> [Limb; L] {
        self.mul_ct(&one(), &self.rr)
    }

    /// `R^3 mod n`, the constant [`Self::wide_to_mont_ct`] takes.
    pub(crate) fn r3_ct(&self) -> [Limb; L] {
        self.mul_ct(&self.rr, &self.rr)
    }

    /// Out of Montgomery form, in constant time.
    pub(crate) fn to_normal_ct(&self, a: &[Limb; L]) -> [Limb; L] {
        self.mul_ct(a, &one())
    }

    /// `t R mod n`, the Montgomery form of a value of up to `2 len` limbs with `t < n R` (a
    /// ciphertext below `p q` reduced by the prime `p` when `q < R`), in constant time:
    /// Montgomery reduction (`t / R`), then a product with `r3` ([`Self::r3_ct`]). No
    /// division.
    pub(crate) fn wide_to_mont_ct(&self, t: &[Limb], r3: &[Limb; L]) -> [Limb; L] {
        let len = self.len;
        let mut wide = [[0 as Limb; L]; 2];
        let p = wide.as_flattened_mut();
        if let Some(dst) = p.get_mut(..2 * len) {
            for (d, &s) in dst.iter_mut().zip(t) {
                *d = s;
            }
        }
        let mut out = [0 as Limb; L];
        tokenguard_limbs::mont_reduce_ct(&mut out, p, self.nl(), self.n0);
        p.zeroize();
        let t_m = self.mul_ct(&out, r3);
        out.zeroize();
        t_m
    }

    /// `a - b mod n` for `a, b < n`, in constant time.
    pub(crate) fn sub_ct(&self, a: &[Limb; L], b: &[Limb; L]) -> [Limb; L] {
        let mut t = *a;
        let borrow = Limb::from(sub_in_place(t.get_mut(..self.len).unwrap_or(&mut []), b));
        let mask = core::hint::black_box(borrow.wrapping_neg());
        let mut carry: Limb = 0;
        for (x, &y) in t.iter_mut().zip(self.nl()) {
            let s = Wide::from(*x) + Wide::from(y & mask) + Wide::from(carry);
            *x = s as Limb;
            carry = (s >> W) as Limb;
        }
        t
    }

    /// `base^e mod n` in Montgomery form in and out, for a secret exponent `e` (big-endian;
    /// its byte length is public: pad it to the modulus' length). Fixed 4-bit windows: every
    /// window costs four squarings and one product with a table entry read in constant time,
    /// whatever its bits.
    pub(crate) fn pow_secret(&self, base_m: &[Limb; L], e: &[u8]) -> [Limb; L] {
        let mut table = [[0 as Limb; L]; 1 << WINDOW];
        let one = self.one_mont();
        if let Some(t) = table.get_mut(0) {
            *t = one;
        }
        for i in 1..table.len() {
            let prev = table.get(i - 1).copied().unwrap_or(one);
            if let Some(t) = table.get_mut(i) {
                *t = self.mul_ct(&prev, base_m);
            }
        }
        let mut acc = one;
        for &byte in e {
            for nibble in [byte >> 4, byte & 0x0F] {
                for _ in 0..WINDOW {
                    acc = self.square_ct(&acc);
                }
                let mut entry = select(&table, nibble);
                acc = self.mul_ct(&acc, &entry);
                entry.zeroize();
            }
        }
        table.as_flattened_mut().zeroize();
        acc
    }

    /// Wipes the modulus and its constants (a prime).
    pub(crate) fn wipe(&mut self) {
        self.n.zeroize();
        self.rr.zeroize();
        self.n0.zeroize();
    }
}

/// `table[idx]`, reading every entry (no secret-dependent address).
fn select<const L: usize, const N: usize>(table: &[[Limb; L]; N], idx: u8) -> [Limb; L] {
    let mut out = [0 as Limb; L];
    for (i, row) in table.iter().enumerate() {
        let hit = (i as u8).ct_eq(&idx);
        for (o, x) in out.iter_mut().zip(row) {
            o.conditional_assign(x, hit);
        }
    }
    out
}

/// `out = a b`, schoolbook (the same rows as the Montgomery product's).
pub(crate) use tokenguard_limbs::mul_wide;

/// `a += b` over all of `a` (the carry runs to `a`'s top; it is dropped beyond). Returns
/// the carry out.
pub(crate) fn add_into(a: &mut [Limb], b: &[Limb]) -> Limb {
    let mut carry: Limb = 0;
    let mut b = b.iter();
    for x in a.iter_mut() {
        let y = b.next().copied().unwrap_or(0);
        let s = Wide::from(*x) + Wide::from(y) + Wide::from(carry);
        *x = s as Limb;
        carry = (s >> W) as Limb;
    }
    carry
}

/// `out = x mod m` for any non-zero `m` (even too: `p - 1`), bit-serially from `x`'s top
/// bit with a masked subtraction per bit: constant-time in `x` and `m`. `out` has `m`'s
/// length.
pub(crate) fn rem_ct(x: &[Limb], m: &[Limb], out: &mut [Limb]) {
    out.fill(0);
    for &word in x.iter().rev() {
        for bit in (0..W).rev() {
            // out = 2 out + bit (< 2m), then out - m if out >= m.
            let mut carry = (word >> bit) & 1;
            for o in out.iter_mut() {
                let next = *o >> (W - 1);
                *o = (*o << 1) | carry;
                carry = next;
            }
            finish::<true>(out, carry, m);
        }
    }
}

/// Whether `a == b` limb for limb over the longer length, in constant time.
pub(crate) fn equals(a: &[Limb], b: &[Limb]) -> bool {
    let mut diff: Limb = 0;
    for i in 0..a.len().max(b.len()) {
        diff |= a.get(i).copied().unwrap_or(0) ^ b.get(i).copied().unwrap_or(0);
    }
    bool::from(diff.ct_eq(&0))
}

#[cfg(test)]
mod tests {
    use super::super::limbs_from_be;
    use super::*;

    const L: usize = 4096 / super::super::LIMB_BITS;

    fn limbs(v: u128) -> [Limb; L] {
        limbs_from_be(&v.to_be_bytes(), 16 / super::super::LIMB_BYTES).unwrap()
    }

    fn pow_ref(b: u128, e: u128, n: u128) -> u128 {
        let mul = |a: u128, b: u128| -> u128 {
            let mut r = 0u128;
            for i in (0..128).rev() {
                r = (r << 1) % n;
                if (b >> i) & 1 == 1 {
                    r = (r + a) % n;
                }
            }
            r
        };
        let mut acc = 1u128 % n;
        for i in (0..128).rev() {
            acc = mul(acc, acc);
            if (e >> i) & 1 == 1 {
                acc = mul(acc, b);
            }
        }
        acc
    }

    /// The constant-time operations give the variable-time ones' results, on a 127-bit
    /// modulus against u128 arithmetic, with exponents of every shape (zero, one, all ones,
    /// leading zero bytes).
    #[test]
    fn secret_operations_match_the_reference() {
        let n: u128 = (1u128 << 126) + 0x1234_5678_9abc_def1;
        let m = Modulus::<L>::from_secret_be_bytes(&n.to_be_bytes()).unwrap();
        assert_eq!(m, Modulus::<L>::from_be_bytes(&n.to_be_bytes()).unwrap());
        let a = 0x0123_4567_89ab_cdef_0011_2233_4455_6677u128 % n;
        let b = 0x7766_5544_3322_1100_fedc_ba98_7654_3210u128 % n;
        let (am, bm) = (m.to_mont(&limbs(a)), m.to_mont(&limbs(b)));
        assert_eq!(m.mul_ct(&am, &bm), m.mul(&am, &bm));
        assert_eq!(m.square_ct(&am), m.square(&am));
        assert_eq!(m.to_normal_ct(&am), limbs(a));
        assert_eq!(m.to_normal_ct(&m.one_mont()), limbs(1));
        assert_eq!(m.to_normal_ct(&m.sub_ct(&am, &bm)), limbs((a + n - b) % n));
        assert_eq!(m.to_normal_ct(&m.sub_ct(&bm, &am)), limbs((b + n - a) % n));
        // A wide value below n R: reduce, then times R^3, is its Montgomery form.
        let wide: [Limb; 8] = limbs_from_be(&[0x5Au8; 31], 8).unwrap();
        let t_m = m.wide_to_mont_ct(&wide, &m.r3_ct());
        let mut want = [0 as Limb; L];
        rem_ct(&wide, m.value(), &mut want[..m.limbs()]);
        assert_eq!(m.to_normal_ct(&t_m), want);
        for e in [
            0u128,
            1,
            2,
            15,
            16,
            0xFFFF_FFFF_FFFF_FFFF_FFFF_FFFF_FFFF_FFFF,
            0x00FF_0000_0000_0000_0000_0000_0000_0001,
            n - 2,
        ] {
            let got = m.to_normal_ct(&m.pow_secret(&am, &e.to_be_bytes()));
            assert_eq!(got, limbs(pow_ref(a, e, n)), "e = {e:#x}");
        }
    }

    /// Welch's t-statistic of two samples, after dropping the values above the combined
    /// 90th percentile (interrupts and migrations land in the tail; dudect crops too).
    fn welch_t(a: &[f64], b: &[f64]) -> f64 {
        let mut all: std::vec::Vec<f64> = a.iter().chain(b).copied().collect();
        all.sort_by(f64::total_cmp);
        let cut = all[all.len() * 9 / 10];
        let stats = |x: &[f64]| {
            let kept: std::vec::Vec<f64> = x.iter().copied().filter(|&v| v <= cut).collect();
            let n = kept.len() as f64;
            let mean = kept.iter().sum::<f64>() / n;
            let var = kept.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
            (mean, var, n)
        };
        let ((m0, v0, n0), (m1, v1, n1)) = (stats(a), stats(b));
        (m0 - m1) / (v0 / n0 + v1 / n1).sqrt()
    }

    /// dudect-style test (Reparaz, Balasch, Verbauwhede, "Dude, is my code constant time?",
    /// 2017) of the RSA-CRT exponentiation: the time of `pow_secret` modulo a 1024-bit odd
    /// modulus (an RSA-2048 prime's size) with a fixed low-weight exponent against fresh random
    /// exponents, the classes interleaved at random; Welch's |t| must stay below 4.5. The same
    /// harness on the variable-time `pow_mont_be` must see the leak (|t| far above 4.5), so a
    /// harness that cannot see anything fails. `TOKENGUARD_DUDECT_N` sets the measurements per
    /// class (default 2000; `cargo xtask dudect` runs 50 000).
    #[test]
    fn dudect_secret_exponentiation_is_constant_time() {
        use std::time::Instant;
        let per_class: usize = std::env::var("TOKENGUARD_DUDECT_N")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(2000);
        let mut rnd = super::super::tests::xorshift(0xD1B5_4A32_D192_ED03);
        let mut nb = [0u8; 128];
        for b in nb.iter_mut() {
            *b = rnd() as u8;
        }
        nb[0] |= 0x80;
        nb[127] |= 1;
        let m = Modulus::<L>::from_secret_be_bytes(&nb).unwrap();
        let mut base = [0 as Limb; L];
        for x in base.iter_mut().take(m.limbs() - 1) {
            *x = rnd() as Limb;
        }
        let base_m = m.mul_ct(&base, &m.rr);
        let mut fixed = [0u8; 128];
        fixed[127] = 1;
        let measure = |secret: bool| -> (std::vec::Vec<f64>, std::vec::Vec<f64>) {
            let mut rnd = rnd;
            let (mut c0, mut c1) = (std::vec::Vec::new(), std::vec::Vec::new());
            while c0.len() < per_class || c1.len() < per_class {
                let class = rnd() & 1;
                let mut e = fixed;
                if class == 1 {
                    for b in e.iter_mut() {
                        *b = rnd() as u8;
                    }
                }
                let t = Instant::now();
                let r = if secret {
                    m.pow_secret(core::hint::black_box(&base_m), core::hint::black_box(&e))
                } else {
                    m.pow_mont_be(core::hint::black_box(&base_m), core::hint::black_box(&e))
                };
                let dt = t.elapsed().as_nanos() as f64;
                core::hint::black_box(r);
                if class == 0 {
                    c0.push(dt);
                } else {
                    c1.push(dt);
                }
            }
            (c0, c1)
        };
        let (a, b) = measure(true);
        let t_secret = welch_t(&a, &b);
        let (a, b) = measure(false);
        let t_leaky = welch_t(&a, &b);
        std::println!(
            "dudect: |t| = {:.2} constant-time, {:.1} variable-time control",
            t_secret.abs(),
            t_leaky.abs()
        );
        assert!(
            t_leaky.abs() > 20.0,
            "the harness does not see the variable-time control leak: |t| = {t_leaky}"
        );
        assert!(
            t_secret.abs() < 4.5,
            "pow_secret's time depends on the exponent: |t| = {t_secret}"
        );
    }

    /// Remainders against u128 arithmetic, for even and odd moduli, and the helpers.
    #[test]
    fn remainders_products_and_comparisons() {
        for (x, m) in [
            (u128::MAX, 3u128),
            (u128::MAX, 1u128 << 100),
            (
                0x1234_5678_9abc_def0_1234_5678_9abc_def0u128,
                0xFFFF_FFFF_0000_0001u128,
            ),
            (5, 7),
            (7, 7),
            (0, 9),
            (1u128 << 127, (1u128 << 64) - 2),
        ] {
            let ml = limbs(m);
            let len = (128 - m.leading_zeros() as usize).div_ceil(super::super::LIMB_BITS);
            let mut out = [0 as Limb; L];
            rem_ct(&limbs(x), &ml[..len], &mut out[..len]);
            assert_eq!(out, limbs(x % m), "{x:#x} mod {m:#x}");
        }
        let (a, b) = (0xFFFF_FFFF_FFFF_FFFFu128, 0xFFFF_FFFF_FFFF_FFFEu128);
        let mut prod = [0 as Limb; L];
        let k = 8 / super::super::LIMB_BYTES;
        mul_wide(&limbs(a)[..k], &limbs(b)[..k], &mut prod[..2 * k]);
        assert_eq!(prod, limbs(a * b));
        let mut sum = limbs(u128::MAX >> 1);
        assert_eq!(add_into(&mut sum[..2 * k], &limbs(1)[..k]), 0);
        assert_eq!(sum, limbs(1u128 << 127));
        assert!(equals(&limbs(1), &[1]) && !equals(&limbs(1 << 70), &[0]));
        assert!(equals(&limbs(99)[..4], &limbs(99)) && !equals(&limbs(99), &limbs(98)));
        let table = [limbs(10), limbs(11), limbs(12)];
        assert_eq!(select(&table, 2), limbs(12));
        assert_eq!(select(&table, 7), [0 as Limb; L]);
    }
}
