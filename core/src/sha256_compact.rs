//! A compact SHA-256 (FIPS 180-4 §6.2): the 64 rounds in a loop and a 16-word rolling message
//! schedule, under 1 KB of code instead of sha2's unrolled ~7 KB on Cortex-M4, and an HMAC
//! with the key's inner and outer blocks absorbed once. For microcontrollers (feature
//! `compact-sha256`); checked against sha2 and hmac in the tests, and by every SHA-256 vector of
//! the suite (HMAC, RSA, PSS, ECDSA).

use zeroize::Zeroize;

const K: [u32; 64] = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
];

const IV: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

/// SHA-256 state.
#[derive(Clone)]
pub struct Sha256 {
    h: [u32; 8],
    buf: [u8; 64],
    fill: usize,
    total: u64,
}

impl Default for Sha256 {
    fn default() -> Self {
        Self::new()
    }
}

impl Sha256 {
    /// A fresh hash.
    pub const fn new() -> Self {
        Sha256 {
            h: IV,
            buf: [0; 64],
            fill: 0,
            total: 0,
        }
    }

    /// One block: the rounds eight at a time with the working variables renamed instead of
    /// shifted (a plain loop spent a third of its instructions moving them), the message
    /// schedule a 16-word ring.
    #[expect(
        clippy::indexing_slicing,
        reason = "constant indices into 8-word arrays; `& 15` into 16"
    )]
    fn compress(h: &mut [u32; 8], block: &[u8; 64]) {
        macro_rules! round {
            ($a:ident, $b:ident, $c:ident, $d:ident, $e:ident, $f:ident, $g:ident, $h:ident,
             $k:expr, $w:expr) => {{
                let t1 = $h
                    .wrapping_add($e.rotate_right(6) ^ $e.rotate_right(11) ^ $e.rotate_right(25))
                    .wrapping_add(($e & $f) ^ (!$e & $g))
                    .wrapping_add($k)
                    .wrapping_add($w);
                let t2 = ($a.rotate_right(2) ^ $a.rotate_right(13) ^ $a.rotate_right(22))
                    .wrapping_add(($a & $b) ^ ($a & $c) ^ ($b & $c));
                $d = $d.wrapping_add(t1);
                $h = t1.wrapping_add(t2);
            }};
        }
        let mut w = [0u32; 16];
        for (wi, c) in w.iter_mut().zip(block.chunks_exact(4)) {
            let mut b = [0u8; 4];
            b.copy_from_slice(c);
            *wi = u32::from_be_bytes(b);
        }
        let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut hh] = *h;
        for (j, k) in K.chunks_exact(8).enumerate() {
            let mut ws = [0u32; 8];
            for (i, x) in ws.iter_mut().enumerate() {
                let t = 8 * j + i;
                if t >= 16 {
                    let w15 = w[(t + 1) & 15];
                    let w2 = w[(t + 14) & 15];
                    let s0 = w15.rotate_right(7) ^ w15.rotate_right(18) ^ (w15 >> 3);
                    let s1 = w2.rotate_right(17) ^ w2.rotate_right(19) ^ (w2 >> 10);
                    w[t & 15] = w[t & 15]
                        .wrapping_add(s0)
                        .wrapping_add(w[(t + 9) & 15])
                        .wrapping_add(s1);
                }
                *x = w[t & 15];
            }
            let (Ok(k), ws) = (<&[u32; 8]>::try_from(k), ws) else {
                return;
            };
            round!(a, b, c, d, e, f, g, hh, k[0], ws[0]);
            round!(hh, a, b, c, d, e, f, g, k[1], ws[1]);
            round!(g, hh, a, b, c, d, e, f, k[2], ws[2]);
            round!(f, g, hh, a, b, c, d, e, k[3], ws[3]);
            round!(e, f, g, hh, a, b, c, d, k[4], ws[4]);
            round!(d, e, f, g, hh, a, b, c, k[5], ws[5]);
            round!(c, d, e, f, g, hh, a, b, k[6], ws[6]);
            round!(b, c, d, e, f, g, hh, a, k[7], ws[7]);
        }
        for (x, v) in h.iter_mut().zip([a, b, c, d, e, f, g, hh]) {
            *x = x.wrapping_add(v);
        }
    }

    /// Absorbs data; whole blocks are compressed straight from `data`.
    pub fn update(&mut self, mut data: &[u8]) {
        self.total = self.total.wrapping_add(data.len() as u64);
        if self.fill > 0 {
            let take = (64 - self.fill).min(data.len());
            let (now, rest) = data.split_at(take);
            if let Some(dst) = self.buf.get_mut(self.fill..self.fill + take) {
                dst.copy_from_slice(now);
            }
            self.fill += take;
            data = rest;
            if self.fill < 64 {
                return;
            }
            Self::compress(&mut self.h, &self.buf);
            self.fill = 0;
        }
        let mut blocks = data.chunks_exact(64);
        for b in &mut blocks {
            if let Ok(b) = <&[u8; 64]>::try_from(b) {
                Self::compress(&mut self.h, b);
            }
        }
        let rest = blocks.remainder();
        if let Some(dst) = self.buf.get_mut(..rest.len()) {
            dst.copy_from_slice(rest);
        }
        self.fill = rest.len();
    }

    /// Pads and returns the digest.
    pub fn finish(mut self) -> [u8; 32] {
        let bits = self.total.wrapping_mul(8);
        // Padding: 0x80, zeros up to 56 mod 64, the 64-bit length (not counted in `total`).
        let pad_len = if self.fill < 56 {
            56 - self.fill
        } else {
            120 - self.fill
        };
        let mut pad = [0u8; 72];
        if let Some(first) = pad.first_mut() {
            *first = 0x80;
        }
        if let Some(len) = pad.get_mut(pad_len..pad_len + 8) {
            len.copy_from_slice(&bits.to_be_bytes());
        }
        self.update(pad.get(..pad_len + 8).unwrap_or(&[]));
        let mut out = [0u8; 32];
        for (o, x) in out.chunks_exact_mut(4).zip(self.h) {
            o.copy_from_slice(&x.to_be_bytes());
        }
        self.h.zeroize();
        self.buf.zeroize();
        out
    }
}

/// HMAC-SHA-256 (RFC 2104) with the key absorbed: the hash states after the inner and the
/// outer key block, so a verification starts from them (two compressions saved per call).
/// Zeroized when dropped.
#[derive(Clone)]
pub struct HmacSha256 {
    inner: [u32; 8],
    outer: [u32; 8],
}

impl HmacSha256 {
    /// Absorbs `key` (hashed first when longer than a block).
    pub fn new(key: &[u8]) -> Self {
        let mut k = [0u8; 64];
        if key.len() > 64 {
            let mut h = Sha256::new();
            h.update(key);
            let d = h.finish();
            if let Some(dst) = k.get_mut(..32) {
                dst.copy_from_slice(&d);
            }
        } else if let Some(dst) = k.get_mut(..key.len()) {
            dst.copy_from_slice(key);
        }
        let mut pad = [0u8; 64];
        let mut state = |x: u8| {
            for (p, &b) in pad.iter_mut().zip(&k) {
                *p = b ^ x;
            }
            let mut h = IV;
            Sha256::compress(&mut h, &pad);
            h
        };
        let (inner, outer) = (state(0x36), state(0x5c));
        k.zeroize();
        pad.zeroize();
        HmacSha256 { inner, outer }
    }

    /// The tag of `msg`.
    pub fn tag(&self, msg: &[u8]) -> [u8; 32] {
        self.tag_parts(&[msg])
    }

    /// The tag of the concatenation of `parts`.
    pub fn tag_parts(&self, parts: &[&[u8]]) -> [u8; 32] {
        let resume = |h: [u32; 8]| Sha256 {
            h,
            buf: [0; 64],
            fill: 0,
            total: 64,
        };
        let mut i = resume(self.inner);
        for p in parts {
            i.update(p);
        }
        let ih = i.finish();
        let mut o = resume(self.outer);
        o.update(&ih);
        o.finish()
    }

    /// Whether `tag` is the tag of `msg`: full length, compared in constant time.
    pub fn verify(&self, msg: &[u8], tag: &[u8]) -> bool {
        use subtle::ConstantTimeEq;
        let mut mac = self.tag(msg);
        let ok = mac.len() == tag.len() && bool::from(mac.ct_eq(tag));
        mac.zeroize();
        ok
    }
}

impl Drop for HmacSha256 {
    fn drop(&mut self) {
        self.inner.zeroize();
        self.outer.zeroize();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_sha2_at_every_length_and_split() {
        use sha2::Digest;
        let data: std::vec::Vec<u8> = (0..400u32).map(|i| (i * 31 + 7).to_le_bytes()[0]).collect();
        for len in 0..data.len() {
            let want = sha2::Sha256::digest(&data[..len]);
            for cut in [0, len / 3, len.saturating_sub(1), len] {
                let mut ours = Sha256::new();
                ours.update(&data[..cut]);
                ours.update(&data[cut..len]);
                assert_eq!(&ours.finish()[..], &want[..], "len {len} cut {cut}");
            }
        }
        let mut h = Sha256::new();
        h.update(b"abc");
        assert_eq!(
            h.finish(),
            [
                0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde, 0x5d, 0xae,
                0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61,
                0xf2, 0x00, 0x15, 0xad
            ]
        );
    }

    #[test]
    fn hmac_matches_the_hmac_crate() {
        use hmac::{KeyInit, Mac};
        for klen in [0usize, 20, 32, 63, 64, 65, 200] {
            let key: std::vec::Vec<u8> = (0..klen).map(|i| i.to_le_bytes()[0]).collect();
            let h = HmacSha256::new(&key);
            for mlen in [0usize, 1, 55, 56, 64, 300] {
                let msg: std::vec::Vec<u8> = (0..mlen).map(|i| (i * 7).to_le_bytes()[0]).collect();
                let mut m = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(&key).unwrap();
                m.update(&msg);
                let want = m.finalize().into_bytes();
                assert_eq!(&h.tag(&msg)[..], &want[..], "key {klen} msg {mlen}");
                assert!(h.verify(&msg, &want));
                assert!(!h.verify(&msg, &want[..31]));
                let mut bad = want;
                bad[mlen % 32] ^= 1;
                assert!(!h.verify(&msg, &bad));
            }
        }
    }
}
