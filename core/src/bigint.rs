//! Fixed-size Montgomery arithmetic in safe Rust. The public API is for *public* values (RSA
//! verification, curve-membership checks at key import) and is not constant-time, by design:
//! the inputs are public keys and signatures. The constant-time operations for secret values
//! (RSA-CRT signing) are in [`secret`]: the same products with the final subtraction masked.
//!
//! A [`Modulus`] holds its Montgomery constants (`-n^-1 mod 2^w` and `R^2 mod n`), computed
//! once when a key is imported, so a verification pays only for the exponentiation. Numbers
//! are little-endian limb arrays of a fixed capacity `L` with a runtime length, so one type
//! serves 2048-, 3072- and 4096-bit moduli without a heap.
//!
//! The word-by-word (CIOS) multiply is written with iterators so bounds checks vanish and no
//! path can panic.

#![allow(clippy::cast_possible_truncation)] // limb arithmetic truncates on purpose

pub use tokenguard_limbs::Limb;
#[cfg(feature = "signing")]
use tokenguard_limbs::Wide;
use tokenguard_limbs::{add_in_place, lt, sub_in_place, W};

/// Bits per limb.
pub const LIMB_BITS: usize = Limb::BITS as usize;
/// Bytes per limb.
pub const LIMB_BYTES: usize = LIMB_BITS / 8;

/// An odd modulus `n > 1` of up to `L` limbs, with its Montgomery constants.
#[derive(Clone, PartialEq, Eq)]
pub struct Modulus<const L: usize> {
    n: [Limb; L],
    rr: [Limb; L],
    n0: Limb,
    len: usize,
    bits: usize,
}

impl<const L: usize> core::fmt::Debug for Modulus<L> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Modulus({} bits)", self.bits)
    }
}

/// The number 1 in `L` limbs.
fn one<const L: usize>() -> [Limb; L] {
    let mut one = [0 as Limb; L];
    if let Some(l) = one.first_mut() {
        *l = 1;
    }
    one
}

/// Big-endian bytes to little-endian limbs (`len` limbs). `None` if it does not fit.
pub fn limbs_from_be<const L: usize>(bytes: &[u8], len: usize) -> Option<[Limb; L]> {
    let mut out = [0 as Limb; L];
    limbs_from_be_into(&mut out, bytes, len).then_some(out)
}

/// [`limbs_from_be`] into `out` (a 512-byte key is built where it will stay); `false` (and
/// `out` unspecified) when it does not fit.
fn limbs_from_be_into<const L: usize>(out: &mut [Limb; L], bytes: &[u8], len: usize) -> bool {
    if len > L || bytes.len() > len * LIMB_BYTES {
        return false;
    }
    *out = [0; L];
    for (i, &b) in bytes.iter().rev().enumerate() {
        let Some(limb) = out.get_mut(i / LIMB_BYTES) else {
            return false;
        };
        *limb |= Limb::from(b) << (8 * (i % LIMB_BYTES));
    }
    true
}

/// `out = a^2 / R mod n` ([`tokenguard_limbs::mont_square`]), its final subtraction
/// constant-time with `CT`; `wide` is the double-width scratch.
#[inline(always)]
fn mont_square_into<const CT: bool>(
    out: &mut [Limb],
    wide: &mut [Limb],
    a: &[Limb],
    n: &[Limb],
    n0: Limb,
) {
    if CT {
        tokenguard_limbs::mont_square_ct(out, wide, a, n, n0);
    } else {
        tokenguard_limbs::mont_square(out, wide, a, n, n0);
    }
}

/// Little-endian limbs to big-endian bytes filling `out` exactly (high bytes dropped if
/// `out` is shorter than the limbs).
pub fn limbs_to_be(limbs: &[Limb], out: &mut [u8]) {
    // A limb at a time from the least significant end (the ring backend converts the modulus
    // on every RSA verification); the last chunk is the partial most significant limb.
    let mut limbs = limbs.iter().copied();
    for chunk in out.rchunks_mut(LIMB_BYTES) {
        let b = limbs.next().unwrap_or(0).to_be_bytes();
        if let Ok(whole) = <&mut [u8; LIMB_BYTES]>::try_from(&mut *chunk) {
            *whole = b;
        } else if let Some(src) = b.get(LIMB_BYTES - chunk.len()..) {
            chunk.copy_from_slice(src);
        }
    }
}

/// The final step of a Montgomery operation, `t - n` if `t + top 2^(W len) >= n`: masked
/// (constant-time, [`tokenguard_limbs::finish_ct`]) with `CT`, compared first without.
fn finish<const CT: bool>(t: &mut [Limb], top: Limb, n: &[Limb]) {
    if CT {
        tokenguard_limbs::finish_ct(t, top, n);
    } else {
        tokenguard_limbs::finish_public(t, top, n);
    }
}

fn bit_len(limbs: &[Limb]) -> usize {
    for (i, &l) in limbs.iter().enumerate().rev() {
        if l != 0 {
            return i * LIMB_BITS + (LIMB_BITS - l.leading_zeros() as usize);
        }
    }
    0
}

impl<const L: usize> Modulus<L> {
    /// Builds a modulus from big-endian bytes. `None` unless odd, greater than one, and
    /// within `L` limbs.
    pub fn from_be_bytes(bytes: &[u8]) -> Option<Self> {
        let mut m = Self::ZERO;
        m.set_be_bytes::<false>(bytes).then_some(m)
    }

    /// No modulus yet (zero): what [`Self::set_be_bytes`] fills in.
    pub(crate) const ZERO: Self = Modulus {
        n: [0; L],
        rr: [0; L],
        n0: 0,
        len: 0,
        bits: 0,
    };

    /// Builds the modulus in place (an RSA key's 2 x 256 bytes are written once, where they
    /// stay, instead of being returned through a chain of values); `false`, and `self` left
    /// unusable, unless odd, greater than one and within `L` limbs. With `CT`, `R^2 mod n`
    /// is computed in constant time (a secret modulus: an RSA prime).
    pub(crate) fn set_be_bytes<const CT: bool>(&mut self, bytes: &[u8]) -> bool {
        let len = bytes.len().div_ceil(LIMB_BYTES);
        self.len = 0;
        if len == 0 || !limbs_from_be_into(&mut self.n, bytes, len) {
            return false;
        }
        let Some(nl) = self.n.get(..len) else {
            return false;
        };
        let (Some(&n_low), Some(&n_top)) = (nl.first(), nl.last()) else {
            return false;
        };
        let bits = bit_len(nl);
        // The top limb must be non-zero so that `len` is the true length.
        if n_low & 1 == 0 || bits <= 1 || n_top == 0 {
            return false;
        }
        // -n^-1 mod 2^W by Newton's iteration (each step doubles the correct low bits).
        let mut inv: Limb = n_low; // correct to 3 bits for odd n
        for _ in 0..6 {
            inv = inv.wrapping_mul((2 as Limb).wrapping_sub(n_low.wrapping_mul(inv)));
        }
        self.n0 = inv.wrapping_neg();
        self.len = len;
        self.bits = bits;
        self.set_rr::<CT>();
        true
    }

    /// Bit length of the modulus.
    pub fn bits(&self) -> usize {
        self.bits
    }

    /// Byte length of the modulus.
    pub fn byte_len(&self) -> usize {
        self.bits.div_ceil(8)
    }

    /// Limbs in use.
    pub fn limbs(&self) -> usize {
        self.len
    }

    fn nl(&self) -> &[Limb] {
        self.n.get(..self.len).unwrap_or(&[])
    }

    /// The modulus as big-endian bytes (exactly [`Self::byte_len`] long) into `out`.
    pub fn to_be_bytes<'o>(&self, out: &'o mut [u8]) -> Option<&'o [u8]> {
        let out = out.get_mut(..self.byte_len())?;
        limbs_to_be(self.nl(), out);
        Some(out)
    }

    /// Whether `a < n`.
    pub fn is_reduced(&self, a: &[Limb; L]) -> bool {
        lt(a.get(..self.len).unwrap_or(&[]), self.nl())
            && a.get(self.len..).unwrap_or(&[]).iter().all(|&x| x == 0)
    }

    /// `2a mod n` for `a < n`.
    fn double<const CT: bool>(&self, a: &mut [Limb; L]) {
        let len = self.len;
        let mut carry: Limb = 0;
        for x in a.iter_mut().take(len) {
            let nc = *x >> (W - 1);
            *x = (*x << 1) | carry;
            carry = nc;
        }
        let al = a.get_mut(..len).unwrap_or(&mut []);
        finish::<CT>(al, carry, self.n.get(..len).unwrap_or(&[]));
    }

    fn set_rr<const CT: bool>(&mut self) {
        let total = self.len * LIMB_BITS;
        // x = 2^(bits-1) < n, then doublings up to R mod n = 2^total mod n.
        let mut x = [0 as Limb; L];
        let top = self.bits - 1;
        if let Some(l) = x.get_mut(top / LIMB_BITS) {
            *l = 1 << (top % LIMB_BITS);
        }
        for _ in top..total {
            self.double::<CT>(&mut x);
        }
        // total = a * 2^s: reach 2^a * R by doubling, then square s times in Montgomery
        // form (mont(2^c R)^2 = 2^(2c) R) to get 2^total * R = R^2 mod n.
        let s = total.trailing_zeros();
        let a = total >> s;
        for _ in 0..a {
            self.double::<CT>(&mut x);
        }
        // The squares land in `rr` (no result on the stack), each copied back as the next
        // one's input.
        let mut wide = [[0 as Limb; L]; 2];
        let p = wide.as_flattened_mut();
        let n = self.n.get(..self.len).unwrap_or(&[]);
        for _ in 0..s {
            mont_square_into::<CT>(&mut self.rr, p, &x, n, self.n0);
            x = self.rr;
        }
        if s == 0 {
            self.rr = x;
        }
    }

    /// Montgomery product `a * b / R mod n` for `a, b < n`: the full product, then the
    /// word-by-word reduction ([`tokenguard_limbs::mont_mul`]). Each inner loop is one
    /// multiply-accumulate chain (UMAAL on Cortex-M4).
    #[inline(never)] // one copy, called (inlining it grows every caller by ~0.6 KB)
    pub fn mul(&self, a: &[Limb; L], b: &[Limb; L]) -> [Limb; L] {
        self.mul_with::<false>(a, b)
    }

    /// [`Self::mul`], its final subtraction constant-time with `CT`.
    #[inline(always)]
    fn mul_with<const CT: bool>(&self, a: &[Limb; L], b: &[Limb; L]) -> [Limb; L] {
        let mut out = [0 as Limb; L];
        let mut wide = [[0 as Limb; L]; 2];
        let p = wide.as_flattened_mut();
        if CT {
            tokenguard_limbs::mont_mul_ct(&mut out, p, a, b, self.nl(), self.n0);
        } else {
            tokenguard_limbs::mont_mul(&mut out, p, a, b, self.nl(), self.n0);
        }
        out
    }

    /// Montgomery square `a^2 / R mod n` for `a < n`: the off-diagonal products once, doubled,
    /// plus the squares (about half the multiplications of [`Self::mul`]), then a separate
    /// word-by-word reduction. Each inner loop is one multiply-accumulate chain (UMAAL).
    #[inline(never)] // one copy, called (inlining it grows every caller by ~0.6 KB)
    pub fn square(&self, a: &[Limb; L]) -> [Limb; L] {
        self.square_with::<false>(a)
    }

    /// [`Self::square`], its final subtraction constant-time with `CT`.
    #[inline(always)]
    fn square_with<const CT: bool>(&self, a: &[Limb; L]) -> [Limb; L] {
        let mut out = [0 as Limb; L];
        let mut wide = [[0 as Limb; L]; 2];
        mont_square_into::<CT>(&mut out, wide.as_flattened_mut(), a, self.nl(), self.n0);
        out
    }

    /// Into Montgomery form: `a R mod n`.
    pub fn to_mont(&self, a: &[Limb; L]) -> [Limb; L] {
        self.mul(a, &self.rr)
    }

    /// Out of Montgomery form: `a / R mod n`.
    pub fn to_normal(&self, a: &[Limb; L]) -> [Limb; L] {
        self.mul(a, &one())
    }

    /// `base^e mod n` for a public exponent (variable time), `base < n`, normal form.
    ///
    /// The last multiplication by the base takes it in normal form (`x R * b / R = x b`),
    /// which leaves the result in normal form and saves the conversion out (one of the three
    /// full products for e = 65537).
    pub fn pow_u64(&self, base: &[Limb; L], e: u64) -> [Limb; L] {
        if e == 0 {
            return one();
        }
        let bm = self.to_mont(base);
        let mut acc = bm;
        let top = 63 - e.leading_zeros();
        for i in (0..top).rev() {
            acc = self.square(&acc);
            if (e >> i) & 1 == 1 {
                if i == 0 {
                    return self.mul(&acc, base);
                }
                acc = self.mul(&acc, &bm);
            }
        }
        self.to_normal(&acc)
    }

    /// `base^e mod n` with a big-endian byte exponent, in Montgomery form in and out (the
    /// pure-Rust backend's curve arithmetic).
    #[cfg_attr(not(feature = "rustcrypto"), allow(dead_code))]
    pub fn pow_mont_be(&self, base_m: &[Limb; L], e: &[u8]) -> [Limb; L] {
        let mut acc = self.to_mont(&one());
        for &byte in e {
            for i in (0..8).rev() {
                // `mul`, not `square`: for the few-limb moduli this serves (curves), the
                // separate reduction of `square` costs more than it saves (measured: ES384
                // 23.5 M instructions with `mul`, 24.3 M with `square`).
                acc = self.mul(&acc, &acc);
                if (byte >> i) & 1 == 1 {
                    acc = self.mul(&acc, base_m);
                }
            }
        }
        acc
    }

    /// `a + b mod n` for `a, b < n`.
    pub fn add(&self, a: &[Limb; L], b: &[Limb; L]) -> [Limb; L] {
        let mut t = *a;
        let tl = t.get_mut(..self.len).unwrap_or(&mut []);
        let carry = add_in_place(tl, b);
        if carry || !lt(tl, self.nl()) {
            sub_in_place(tl, self.nl());
        }
        t
    }

    /// `a - b mod n` for `a, b < n`.
    pub fn sub(&self, a: &[Limb; L], b: &[Limb; L]) -> [Limb; L] {
        let mut t = *a;
        let tl = t.get_mut(..self.len).unwrap_or(&mut []);
        if sub_in_place(tl, b) {
            add_in_place(tl, self.nl());
        }
        t
    }
}

#[cfg(feature = "signing")]
pub(crate) mod secret;

#[cfg(test)]
mod tests {
    use super::*;
    use tokenguard_limbs::{cross_rows, cross_two_rows, reduce_rows, reduce_two_rows};

    const L: usize = 4096 / LIMB_BITS;

    /// A xorshift64 generator: reproducible operands for the tests.
    pub(crate) fn xorshift(mut state: u64) -> impl FnMut() -> u64 + Copy {
        move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        }
    }

    fn num(v: u128) -> [Limb; L] {
        limbs_from_be(&v.to_be_bytes(), 16 / LIMB_BYTES).unwrap()
    }

    /// Limbs to big-endian bytes at every output length (whole and partial top limbs,
    /// shorter and longer than the limbs hold), against a byte-at-a-time reference.
    #[test]
    fn limbs_to_be_matches_bytewise() {
        let limbs: std::vec::Vec<Limb> = (0..9u32)
            .map(|i| {
                (0..LIMB_BYTES).fold(0, |a, j| {
                    (a << 8) | Limb::from(((i * 31 + j as u32 * 7) & 0xFF) as u8)
                })
            })
            .collect();
        for n in 0..(limbs.len() + 2) * LIMB_BYTES {
            let mut want = std::vec![0u8; n];
            for (i, o) in want.iter_mut().enumerate() {
                let pos = n - 1 - i;
                let limb = limbs.get(pos / LIMB_BYTES).copied().unwrap_or(0);
                *o = (limb >> (8 * (pos % LIMB_BYTES))) as u8;
            }
            let mut got = std::vec![0xAAu8; n];
            limbs_to_be(&limbs, &mut got);
            assert_eq!(got, want, "length {n}");
            // And back, for the lengths the limbs can hold.
            if n <= limbs.len() * LIMB_BYTES && n > 0 {
                let back: [Limb; 16] = limbs_from_be(&got, 16).unwrap();
                let mut again = std::vec![0u8; n];
                limbs_to_be(&back, &mut again);
                assert_eq!(again, got, "round trip at {n}");
            }
        }
    }

    #[test]
    fn small_modulus_matches_u128() {
        // A 97-bit odd modulus: compare with u128 arithmetic.
        let n: u128 = (1u128 << 96) + 12345 * 2 + 1;
        let m = Modulus::<L>::from_be_bytes(&n.to_be_bytes()[3..]).unwrap();
        assert_eq!(m.bits(), 97);
        let a = 0x1234_5678_9abc_def0_1234_5678u128 % n;
        let b = 0x0fed_cba9_8765_4321_0fed_cba9u128 % n;
        let am = m.to_mont(&num(a));
        let bm = m.to_mont(&num(b));
        let prod = m.to_normal(&m.mul(&am, &bm));
        // a*b mod n via shift-and-add in u128.
        let mut expect: u128 = 0;
        for i in (0..128).rev() {
            expect = (expect << 1) % n;
            if (b >> i) & 1 == 1 {
                expect = (expect + a) % n;
            }
        }
        assert_eq!(prod, num(expect));
        assert_eq!(m.square(&am), m.mul(&am, &am));
        assert_eq!(m.square(&bm), m.mul(&bm, &bm));
        assert_eq!(m.add(&num(a), &num(b)), num((a + b) % n));
        assert_eq!(m.sub(&num(a), &num(b)), num((a + n - b) % n));
        // Fermat-like check of pow: a^3.
        let cube = m.pow_u64(&num(a), 3);
        let sq = m.to_normal(&m.mul(&am, &am));
        let sqm = m.to_mont(&sq);
        assert_eq!(cube, m.to_normal(&m.mul(&sqm, &am)));
    }

    /// The two-digits-per-pass reduction and cross products (the wasm32 path) agree with the
    /// one-digit ones on moduli of every length from one limb to 4096 bits (odd and even limb
    /// counts), for random operands and the extremes (0, 1, n - 1); the square agrees with the
    /// product; and `pow_u64` with its fused last product agrees with square-and-multiply
    /// written out.
    #[test]
    fn two_row_passes_match_one_row_passes() {
        let mut rnd = xorshift(0x9E37_79B9_7F4A_7C15);
        for bytes in [1usize, 3, 8, 9, 17, 32, 48, 64, 65, 128, 255, 256, 384, 512] {
            let mut nb: std::vec::Vec<u8> = (0..bytes).map(|_| rnd() as u8).collect();
            nb[0] |= 0x80;
            if bytes == 1 {
                nb[0] |= 0x03;
            }
            *nb.last_mut().unwrap() |= 1;
            let m = Modulus::<L>::from_be_bytes(&nb).unwrap();
            let n: [Limb; L] = limbs_from_be(&nb, m.limbs()).unwrap();
            let mut n_minus_1 = n;
            n_minus_1[0] -= 1;
            let mut one = [0 as Limb; L];
            one[0] = 1;
            let reduce = |v: [Limb; L]| -> [Limb; L] {
                // Random limbs below the top limb, the top limb below n's: v < n.
                let mut v = v;
                for x in v.iter_mut().skip(m.limbs()) {
                    *x = 0;
                }
                let top = m.limbs() - 1;
                v[top] %= n[top].max(1);
                v
            };
            let mut samples = std::vec![[0 as Limb; L], one, n_minus_1];
            for _ in 0..6 {
                let mut v = [0 as Limb; L];
                for x in v.iter_mut() {
                    *x = rnd() as Limb;
                }
                samples.push(reduce(v));
            }
            for a in &samples {
                assert_eq!(m.square(a), m.mul(a, a), "square, {bytes} bytes");
                // Both reductions of the same double-width product.
                let mut p1 = [[0 as Limb; L]; 2];
                for (i, x) in p1
                    .as_flattened_mut()
                    .iter_mut()
                    .take(2 * m.limbs())
                    .enumerate()
                {
                    *x = a[i % m.limbs()] ^ (i as Limb);
                }
                let mut p2 = p1;
                let (f1, f2) = (p1.as_flattened_mut(), p2.as_flattened_mut());
                let nl = &n[..m.limbs()];
                let c1 = reduce_rows(&mut f1[..2 * m.limbs()], nl, m.n0, 0, 0);
                let c2 = reduce_two_rows(&mut f2[..2 * m.limbs()], nl, m.n0);
                let upper = m.limbs()..2 * m.limbs();
                assert_eq!(
                    (c1, &f1[upper.clone()]),
                    (c2, &f2[upper]),
                    "reduce, {bytes} bytes"
                );
                let (mut q1, mut q2) = ([[0 as Limb; L]; 2], [[0 as Limb; L]; 2]);
                cross_rows(q1.as_flattened_mut(), &a[..m.limbs()], 0);
                cross_two_rows(q2.as_flattened_mut(), &a[..m.limbs()]);
                assert_eq!(q1, q2, "cross products, {bytes} bytes");
                for b in &samples {
                    assert_eq!(m.mul(a, b), m.mul(b, a), "mul, {bytes} bytes");
                }
                for e in [1u64, 2, 3, 17, 65537, 0xFFFF_FFFF] {
                    let am = m.to_mont(a);
                    let mut acc = m.to_mont(&one);
                    for i in (0..64).rev() {
                        acc = m.mul(&acc, &acc);
                        if (e >> i) & 1 == 1 {
                            acc = m.mul(&acc, &am);
                        }
                    }
                    assert_eq!(
                        m.pow_u64(a, e),
                        m.to_normal(&acc),
                        "pow e={e}, {bytes} bytes"
                    );
                }
            }
        }
    }

    #[test]
    fn rejects_even_and_tiny() {
        assert!(Modulus::<L>::from_be_bytes(&[0x10, 0x00]).is_none());
        assert!(Modulus::<L>::from_be_bytes(&[0x01]).is_none());
        assert!(Modulus::<L>::from_be_bytes(&[]).is_none());
    }

    #[test]
    fn bytes_round_trip() {
        let bytes: std::vec::Vec<u8> = (1..=255u8).collect();
        let limbs: [Limb; L] = limbs_from_be(&bytes, 255usize.div_ceil(LIMB_BYTES)).unwrap();
        let mut out = [0u8; 255];
        limbs_to_be(&limbs, &mut out);
        assert_eq!(&out[..], &bytes[..]);
    }
}
