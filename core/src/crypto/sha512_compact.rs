//! A compact SHA-384/SHA-512 (FIPS 180-4 §6.4): the 80 rounds in a loop and a 16-word
//! rolling message schedule, about 1 KB of code instead of sha2's unrolled ~26 KB. For
//! microcontrollers (feature `compact-sha512`); checked against sha2 and the NIST examples
//! in the tests, and by every SHA-384/512 vector of the suite (HMAC, RSA, PSS).

const K: [u64; 80] = [
    0x428a2f98d728ae22,
    0x7137449123ef65cd,
    0xb5c0fbcfec4d3b2f,
    0xe9b5dba58189dbbc,
    0x3956c25bf348b538,
    0x59f111f1b605d019,
    0x923f82a4af194f9b,
    0xab1c5ed5da6d8118,
    0xd807aa98a3030242,
    0x12835b0145706fbe,
    0x243185be4ee4b28c,
    0x550c7dc3d5ffb4e2,
    0x72be5d74f27b896f,
    0x80deb1fe3b1696b1,
    0x9bdc06a725c71235,
    0xc19bf174cf692694,
    0xe49b69c19ef14ad2,
    0xefbe4786384f25e3,
    0x0fc19dc68b8cd5b5,
    0x240ca1cc77ac9c65,
    0x2de92c6f592b0275,
    0x4a7484aa6ea6e483,
    0x5cb0a9dcbd41fbd4,
    0x76f988da831153b5,
    0x983e5152ee66dfab,
    0xa831c66d2db43210,
    0xb00327c898fb213f,
    0xbf597fc7beef0ee4,
    0xc6e00bf33da88fc2,
    0xd5a79147930aa725,
    0x06ca6351e003826f,
    0x142929670a0e6e70,
    0x27b70a8546d22ffc,
    0x2e1b21385c26c926,
    0x4d2c6dfc5ac42aed,
    0x53380d139d95b3df,
    0x650a73548baf63de,
    0x766a0abb3c77b2a8,
    0x81c2c92e47edaee6,
    0x92722c851482353b,
    0xa2bfe8a14cf10364,
    0xa81a664bbc423001,
    0xc24b8b70d0f89791,
    0xc76c51a30654be30,
    0xd192e819d6ef5218,
    0xd69906245565a910,
    0xf40e35855771202a,
    0x106aa07032bbd1b8,
    0x19a4c116b8d2d0c8,
    0x1e376c085141ab53,
    0x2748774cdf8eeb99,
    0x34b0bcb5e19b48a8,
    0x391c0cb3c5c95a63,
    0x4ed8aa4ae3418acb,
    0x5b9cca4f7763e373,
    0x682e6ff3d6b2b8a3,
    0x748f82ee5defb2fc,
    0x78a5636f43172f60,
    0x84c87814a1f0ab72,
    0x8cc702081a6439ec,
    0x90befffa23631e28,
    0xa4506cebde82bde9,
    0xbef9a3f7b2c67915,
    0xc67178f2e372532b,
    0xca273eceea26619c,
    0xd186b8c721c0c207,
    0xeada7dd6cde0eb1e,
    0xf57d4f7fee6ed178,
    0x06f067aa72176fba,
    0x0a637dc5a2c898a6,
    0x113f9804bef90dae,
    0x1b710b35131c471b,
    0x28db77f523047d84,
    0x32caab7b40c72493,
    0x3c9ebe0a15c9bebc,
    0x431d67c49c100d4c,
    0x4cc5d4becb3e42b6,
    0x597f299cfc657e2a,
    0x5fcb6fab3ad6faec,
    0x6c44198c4a475817,
];

const IV512: [u64; 8] = [
    0x6a09e667f3bcc908,
    0xbb67ae8584caa73b,
    0x3c6ef372fe94f82b,
    0xa54ff53a5f1d36f1,
    0x510e527fade682d1,
    0x9b05688c2b3e6c1f,
    0x1f83d9abfb41bd6b,
    0x5be0cd19137e2179,
];

const IV384: [u64; 8] = [
    0xcbbb9d5dc1059ed8,
    0x629a292a367cd507,
    0x9159015a3070dd17,
    0x152fecd8f70e5939,
    0x67332667ffc00b31,
    0x8eb44a8768581511,
    0xdb0c2e0d64f98fa7,
    0x47b5481dbefa4fa4,
];

/// SHA-512 or SHA-384 state.
#[derive(Clone)]
pub struct Sha512 {
    h: [u64; 8],
    buf: [u8; 128],
    fill: usize,
    total: u128,
    out_len: usize,
}

impl Sha512 {
    /// SHA-512.
    pub const fn new512() -> Self {
        Sha512 {
            h: IV512,
            buf: [0; 128],
            fill: 0,
            total: 0,
            out_len: 64,
        }
    }

    /// SHA-384.
    pub const fn new384() -> Self {
        Sha512 {
            h: IV384,
            buf: [0; 128],
            fill: 0,
            total: 0,
            out_len: 48,
        }
    }

    #[expect(
        clippy::indexing_slicing,
        reason = "every index is masked with `& 15` into a 16-word array"
    )]
    fn compress(h: &mut [u64; 8], block: &[u8; 128]) {
        let mut w = [0u64; 16];
        for (wi, c) in w.iter_mut().zip(block.chunks_exact(8)) {
            let mut b = [0u8; 8];
            b.copy_from_slice(c);
            *wi = u64::from_be_bytes(b);
        }
        let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut hh] = *h;
        for (t, &k) in K.iter().enumerate() {
            let wt = if t < 16 {
                w[t & 15]
            } else {
                let w15 = w[(t + 1) & 15];
                let w2 = w[(t + 14) & 15];
                let s0 = w15.rotate_right(1) ^ w15.rotate_right(8) ^ (w15 >> 7);
                let s1 = w2.rotate_right(19) ^ w2.rotate_right(61) ^ (w2 >> 6);
                let v = w[t & 15]
                    .wrapping_add(s0)
                    .wrapping_add(w[(t + 9) & 15])
                    .wrapping_add(s1);
                w[t & 15] = v;
                v
            };
            let s1 = e.rotate_right(14) ^ e.rotate_right(18) ^ e.rotate_right(41);
            let ch = (e & f) ^ (!e & g);
            let t1 = hh
                .wrapping_add(s1)
                .wrapping_add(ch)
                .wrapping_add(k)
                .wrapping_add(wt);
            let s0 = a.rotate_right(28) ^ a.rotate_right(34) ^ a.rotate_right(39);
            let maj = (a & b) ^ (a & c) ^ (b & c);
            let t2 = s0.wrapping_add(maj);
            hh = g;
            g = f;
            f = e;
            e = d.wrapping_add(t1);
            d = c;
            c = b;
            b = a;
            a = t1.wrapping_add(t2);
        }
        for (x, v) in h.iter_mut().zip([a, b, c, d, e, f, g, hh]) {
            *x = x.wrapping_add(v);
        }
    }

    /// Absorbs data.
    pub fn update(&mut self, mut data: &[u8]) {
        self.total = self.total.wrapping_add(data.len() as u128);
        while !data.is_empty() {
            let take = (128 - self.fill).min(data.len());
            let (now, rest) = data.split_at(take);
            if let Some(dst) = self.buf.get_mut(self.fill..self.fill + take) {
                dst.copy_from_slice(now);
            }
            self.fill += take;
            data = rest;
            if self.fill == 128 {
                Self::compress(&mut self.h, &self.buf);
                self.fill = 0;
            }
        }
    }

    /// Pads and returns the digest (64 or 48 bytes used of the 64 returned).
    pub fn finish(mut self) -> ([u8; 64], usize) {
        let bits = self.total.wrapping_mul(8);
        self.update(&[0x80]);
        // `update` counted the padding byte; the length field uses the message length.
        while self.fill != 112 {
            self.update(&[0]);
        }
        let mut len = [0u8; 16];
        len.copy_from_slice(&bits.to_be_bytes());
        self.update(&len);
        let mut out = [0u8; 64];
        for (o, x) in out.chunks_exact_mut(8).zip(self.h) {
            o.copy_from_slice(&x.to_be_bytes());
        }
        (out, self.out_len)
    }
}

/// HMAC (RFC 2104) over the compact SHA-384/512, with a constant-time tag comparison.
pub fn hmac_verify(sha384: bool, key: &[u8], msg: &[u8], tag: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    let (mac, n) = hmac(sha384, key, msg);
    let mac = mac.get(..n).unwrap_or(&[]);
    mac.len() == tag.len() && bool::from(mac.ct_eq(tag))
}

/// HMAC (RFC 2104) over the compact SHA-384/512: the tag (64 bytes, of which the first
/// 48 or 64 are used) and its length.
pub fn hmac(sha384: bool, key: &[u8], msg: &[u8]) -> ([u8; 64], usize) {
    let new = || {
        if sha384 {
            Sha512::new384()
        } else {
            Sha512::new512()
        }
    };
    let mut k = [0u8; 128];
    if key.len() > 128 {
        let mut h = new();
        h.update(key);
        let (d, n) = h.finish();
        if let (Some(dst), Some(src)) = (k.get_mut(..n), d.get(..n)) {
            dst.copy_from_slice(src);
        }
    } else if let Some(dst) = k.get_mut(..key.len()) {
        dst.copy_from_slice(key);
    }
    let mut pad = [0u8; 128];
    for (p, &b) in pad.iter_mut().zip(&k) {
        *p = b ^ 0x36;
    }
    let mut inner = new();
    inner.update(&pad);
    inner.update(msg);
    let (ih, n) = inner.finish();
    for (p, &b) in pad.iter_mut().zip(&k) {
        *p = b ^ 0x5c;
    }
    let mut outer = new();
    outer.update(&pad);
    outer.update(ih.get(..n).unwrap_or(&[]));
    let out = outer.finish();
    use zeroize::Zeroize;
    k.zeroize();
    pad.zeroize();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(d: &[u8]) -> std::string::String {
        d.iter().map(|b| std::format!("{b:02x}")).collect()
    }

    #[test]
    fn hmac_matches_the_hmac_crate() {
        use hmac::{KeyInit, Mac};
        for klen in [0usize, 20, 48, 64, 128, 129, 200] {
            let key: std::vec::Vec<u8> = (0..klen).map(|i| i.to_le_bytes()[0]).collect();
            let msg = b"message";
            let mut m = <hmac::Hmac<sha2::Sha512> as KeyInit>::new_from_slice(&key).unwrap();
            m.update(msg);
            let t512 = m.finalize().into_bytes();
            assert!(hmac_verify(false, &key, msg, &t512));
            let mut m = <hmac::Hmac<sha2::Sha384> as KeyInit>::new_from_slice(&key).unwrap();
            m.update(msg);
            let t384 = m.finalize().into_bytes();
            assert!(hmac_verify(true, &key, msg, &t384));
            assert!(!hmac_verify(true, &key, msg, &t384[..47]));
            assert!(!hmac_verify(false, &key, b"other", &t512));
        }
    }

    #[test]
    fn nist_examples() {
        let mut h = Sha512::new512();
        h.update(b"abc");
        let (d, n) = h.finish();
        assert_eq!(hex(&d[..n]), "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f");
        let mut h = Sha512::new384();
        h.update(b"abc");
        let (d, n) = h.finish();
        assert_eq!(hex(&d[..n]), "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7");
    }

    #[test]
    fn matches_sha2_at_every_length() {
        use sha2::Digest;
        let data: std::vec::Vec<u8> = (0..700u32).map(|i| (i * 31 + 7).to_le_bytes()[0]).collect();
        for len in 0..data.len() {
            for (mut ours, want) in [
                (
                    Sha512::new512(),
                    sha2::Sha512::digest(&data[..len]).to_vec(),
                ),
                (
                    Sha512::new384(),
                    sha2::Sha384::digest(&data[..len]).to_vec(),
                ),
            ] {
                // Feed in two uneven pieces.
                let cut = len / 3;
                ours.update(&data[..cut]);
                ours.update(&data[cut..len]);
                let (d, n) = ours.finish();
                assert_eq!(&d[..n], &want[..], "len {len}");
            }
        }
    }
}
