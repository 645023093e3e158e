//! Strict base64url without padding (RFC 4648 §5, as JOSE requires in RFC 7515 §2).
//!
//! Only the canonical encoding is accepted: no `=`, no `+` or `/`, no whitespace, no length
//! that is 1 modulo 4, and the unused trailing bits of the last character must be zero (a
//! second spelling of the same bytes is an attack surface: Wycheproof JWS tcId 374).

/// Why base64url decoding failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum B64Error {
    /// Not canonical unpadded base64url.
    Invalid,
    /// The output buffer is too small.
    OutputTooSmall,
}

impl core::fmt::Display for B64Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            B64Error::Invalid => "not canonical unpadded base64url",
            B64Error::OutputTooSmall => "output buffer too small for the decoded bytes",
        })
    }
}

impl core::error::Error for B64Error {}

const INVALID: u8 = 0xFF;

#[expect(
    clippy::indexing_slicing,
    clippy::cast_possible_truncation,
    reason = "const-evaluated; `i < 64` and `u8 as usize < 256`"
)]
const fn build_table() -> [u8; 256] {
    let mut t = [INVALID; 256];
    let alphabet = ALPHABET;
    let mut i = 0;
    while i < 64 {
        t[alphabet[i] as usize] = i as u8;
        i += 1;
    }
    t
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
static DECODE: [u8; 256] = build_table();

#[inline(always)]
#[expect(clippy::indexing_slicing, reason = "a u8 index into a 256-entry table")]
fn val(c: u8) -> u8 {
    DECODE[usize::from(c)]
}

#[cfg(target_pointer_width = "64")]
const BAD: u32 = 0x8000_0000;

#[cfg(target_pointer_width = "64")]
#[expect(
    clippy::indexing_slicing,
    clippy::cast_possible_truncation,
    reason = "const-evaluated; `i < 64`"
)]
const fn shifted(shift: u32) -> [u32; 256] {
    let mut t = [BAD; 256];
    let mut i = 0;
    while i < 64 {
        t[ALPHABET[i] as usize] = (i as u32) << shift;
        i += 1;
    }
    t
}

#[cfg(target_pointer_width = "64")]
static SHIFTED: [[u32; 256]; 4] = [shifted(18), shifted(12), shifted(6), shifted(0)];

/// The decoded length of `encoded_len` characters, or `None` when no canonical encoding has
/// that length (`len % 4 == 1`).
pub const fn decoded_len(encoded_len: usize) -> Option<usize> {
    let full = (encoded_len / 4) * 3;
    match encoded_len % 4 {
        0 => Some(full),
        2 => Some(full + 1),
        3 => Some(full + 2),
        _ => None,
    }
}

/// The encoded length of `len` bytes (no padding).
pub const fn encoded_len(len: usize) -> usize {
    (len / 3) * 4
        + match len % 3 {
            0 => 0,
            1 => 2,
            _ => 3,
        }
}

/// Decodes `input` into the front of `out`, returning the decoded length.
///
/// On an error, the front of `out` may hold partly decoded bytes.
///
/// # Errors
/// [`B64Error::Invalid`] for anything but canonical unpadded base64url;
/// [`B64Error::OutputTooSmall`] when `out` cannot hold the result.
pub fn decode(input: &[u8], out: &mut [u8]) -> Result<usize, B64Error> {
    let n = decoded_len(input.len()).ok_or(B64Error::Invalid)?;
    let out = out.get_mut(..n).ok_or(B64Error::OutputTooSmall)?;
    let full = input.len() / 4 * 4;
    let (Some((body, tail)), Some((obody, otail))) = (
        input.split_at_checked(full),
        out.split_at_mut_checked(full / 4 * 3),
    ) else {
        return Err(B64Error::Invalid);
    };
    // The validity of every full group is gathered and checked once, after the loop: no
    // branch per group on the (always valid) fast path.
    if !decode_groups(body, obody) {
        return Err(B64Error::Invalid);
    }
    match (tail, otail) {
        ([], []) => {}
        ([a, b], [o0]) => {
            let (a, b) = (val(*a), val(*b));
            // The last character carries 2 data bits: its low 4 bits must be zero.
            if (a | b) & 0xC0 != 0 || b & 0x0F != 0 {
                return Err(B64Error::Invalid);
            }
            *o0 = (a << 2) | (b >> 4);
        }
        ([a, b, c], [o0, o1]) => {
            let (a, b, c) = (val(*a), val(*b), val(*c));
            // The last character carries 4 data bits: its low 2 bits must be zero.
            if (a | b | c) & 0xC0 != 0 || c & 0x03 != 0 {
                return Err(B64Error::Invalid);
            }
            *o0 = (a << 2) | (b >> 4);
            *o1 = (b << 4) | (c >> 2);
        }
        _ => return Err(B64Error::Invalid),
    }
    Ok(n)
}

/// Decodes whole groups (`input.len()` a multiple of 4, `out` three quarters of it); `false`
/// when any character is outside the alphabet. Eight characters to six bytes per step.
#[cfg(target_pointer_width = "64")]
fn decode_groups(input: &[u8], out: &mut [u8]) -> bool {
    decode_groups_wide(input, out)
}

#[cfg(not(target_pointer_width = "64"))]
fn decode_groups(input: &[u8], out: &mut [u8]) -> bool {
    decode_groups_narrow(input, out)
}

#[cfg(target_pointer_width = "64")]
fn decode_groups_wide(input: &[u8], out: &mut [u8]) -> bool {
    let mut bad = 0u32;
    let mut ins = input.chunks_exact(8);
    let mut at = 0;
    for c in &mut ins {
        let Ok(c) = <&[u8; 8]>::try_from(c) else {
            return false;
        };
        let hi = quad_bits(c[0], c[1], c[2], c[3]);
        let lo = quad_bits(c[4], c[5], c[6], c[7]);
        bad |= hi | lo;
        let bytes = (((u64::from(hi) << 24) | u64::from(lo)) << 16).to_be_bytes();
        let rest = out.get_mut(at..).unwrap_or_default();
        // One eight-byte store while there is room (its last two bytes are overwritten by
        // the next step), six bytes on the last step.
        if let Some(o) = rest.first_chunk_mut::<8>() {
            *o = bytes;
        } else if let (Some(o), Some(b)) = (rest.first_chunk_mut::<6>(), bytes.first_chunk()) {
            *o = *b;
        }
        at += 6;
    }
    if let ([a, b, c, d], Some(o)) = (
        ins.remainder(),
        out.get_mut(at..).and_then(<[u8]>::first_chunk_mut::<3>),
    ) {
        let w = quad_bits(*a, *b, *c, *d);
        bad |= w;
        let [_, x, y, z] = w.to_be_bytes();
        *o = [x, y, z];
    }
    bad & BAD == 0
}

/// Four characters' 24 bits, with [`BAD`] set when one is outside the alphabet. Four
/// pre-shifted tables (4 KiB, on 64-bit hosts only) make this four loads and three ORs.
#[cfg(target_pointer_width = "64")]
#[inline(always)]
#[expect(clippy::indexing_slicing, reason = "u8 indices into 256-entry tables")]
fn quad_bits(a: u8, b: u8, c: u8, d: u8) -> u32 {
    SHIFTED[0][usize::from(a)]
        | SHIFTED[1][usize::from(b)]
        | SHIFTED[2][usize::from(c)]
        | SHIFTED[3][usize::from(d)]
}

/// As the 64-bit version, with the 256-byte table (flash is what counts on a
/// microcontroller).
#[cfg(any(not(target_pointer_width = "64"), test))]
fn decode_groups_narrow(input: &[u8], out: &mut [u8]) -> bool {
    let mut bad = 0u8;
    for (c, o) in input.chunks_exact(4).zip(out.chunks_exact_mut(3)) {
        if let ([a, b, c, d], [o0, o1, o2]) = (c, o) {
            let (a, b, c, d) = (val(*a), val(*b), val(*c), val(*d));
            bad |= a | b | c | d;
            *o0 = (a << 2) | (b >> 4);
            *o1 = (b << 4) | (c >> 2);
            *o2 = (c << 6) | d;
        }
    }
    bad & 0xC0 == 0
}

/// Checks that `input` is canonical unpadded base64url without decoding it anywhere.
pub fn is_canonical(input: &[u8]) -> bool {
    if decoded_len(input.len()).is_none() {
        return false;
    }
    if input.iter().any(|&c| val(c) == INVALID) {
        return false;
    }
    match input.len() % 4 {
        2 => input.last().is_some_and(|&c| val(c) & 0x0F == 0),
        3 => input.last().is_some_and(|&c| val(c) & 0x03 == 0),
        _ => true,
    }
}

/// Encodes `input` into the front of `out`, returning the encoded length.
///
/// # Errors
/// [`B64Error::OutputTooSmall`] when `out` cannot hold the result.
pub fn encode(input: &[u8], out: &mut [u8]) -> Result<usize, B64Error> {
    let n = encoded_len(input.len());
    let out = out.get_mut(..n).ok_or(B64Error::OutputTooSmall)?;
    let mut chunks = input.chunks_exact(3);
    let mut outs = out.chunks_exact_mut(4);
    for (c, o) in (&mut chunks).zip(&mut outs) {
        if let ([a, b, cc], [o0, o1, o2, o3]) = (c, o) {
            let w = (u32::from(*a) << 16) | (u32::from(*b) << 8) | u32::from(*cc);
            *o0 = sym(w >> 18);
            *o1 = sym(w >> 12);
            *o2 = sym(w >> 6);
            *o3 = sym(w);
        }
    }
    match (chunks.remainder(), outs.into_remainder()) {
        ([a], [o0, o1]) => {
            let w = u32::from(*a) << 16;
            *o0 = sym(w >> 18);
            *o1 = sym(w >> 12);
        }
        ([a, b], [o0, o1, o2]) => {
            let w = (u32::from(*a) << 16) | (u32::from(*b) << 8);
            *o0 = sym(w >> 18);
            *o1 = sym(w >> 12);
            *o2 = sym(w >> 6);
        }
        _ => {}
    }
    Ok(n)
}

#[inline(always)]
fn sym(w: u32) -> u8 {
    // `w & 63` is always a valid index into the 64-byte alphabet.
    ALPHABET.get((w & 63) as usize).copied().unwrap_or(b'A')
}

/// A base64url decoder fed one character at a time (for values that arrive in chunks).
#[derive(Debug, Clone, Copy, Default)]
pub struct StreamDecoder {
    acc: u32,
    pending: u8,
    invalid: bool,
}

impl StreamDecoder {
    /// A fresh decoder.
    pub const fn new() -> Self {
        StreamDecoder {
            acc: 0,
            pending: 0,
            invalid: false,
        }
    }

    /// Feeds one character; calls `emit` for each completed byte.
    pub fn push(&mut self, c: u8, mut emit: impl FnMut(u8)) {
        let v = val(c);
        if v == INVALID {
            self.invalid = true;
            return;
        }
        self.acc = (self.acc << 6) | u32::from(v);
        self.pending += 1;
        if self.pending == 4 {
            let [_, x, y, z] = self.acc.to_be_bytes();
            emit(x);
            emit(y);
            emit(z);
            self.acc = 0;
            self.pending = 0;
        }
    }

    /// Ends the value: emits the last bytes and reports whether the whole value was canonical.
    ///
    /// # Errors
    /// [`B64Error::Invalid`] when the value was not canonical unpadded base64url (a bad
    /// character, a length that leaves one character over, or bits set past the data).
    pub fn finish(self, mut emit: impl FnMut(u8)) -> Result<(), B64Error> {
        if self.invalid {
            return Err(B64Error::Invalid);
        }
        match self.pending {
            0 => Ok(()),
            2 => {
                if self.acc & 0x0F != 0 {
                    return Err(B64Error::Invalid);
                }
                let [.., b] = (self.acc >> 4).to_be_bytes();
                emit(b);
                Ok(())
            }
            3 => {
                if self.acc & 0x03 != 0 {
                    return Err(B64Error::Invalid);
                }
                let [.., hi, lo] = (self.acc >> 2).to_be_bytes();
                emit(hi);
                emit(lo);
                Ok(())
            }
            _ => Err(B64Error::Invalid),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(s: &str) -> Result<std::vec::Vec<u8>, B64Error> {
        let mut out = [0u8; 64];
        let n = decode(s.as_bytes(), &mut out)?;
        Ok(out[..n].to_vec())
    }

    #[test]
    fn decodes_canonical() {
        assert_eq!(dec("").unwrap(), b"");
        assert_eq!(dec("Zm9v").unwrap(), b"foo");
        assert_eq!(dec("Zm8").unwrap(), b"fo");
        assert_eq!(dec("Zg").unwrap(), b"f");
        assert_eq!(dec("-_-_").unwrap(), [0xfb, 0xff, 0xbf]);
    }

    #[test]
    fn rejects_non_canonical() {
        for bad in [
            "Zg==", "Zm9v=", "Zh", "Zm9", "Z", "Zm9vY", "+/+/", "Zm 9", "Zm9v\n", "Zm.v",
        ] {
            assert_eq!(dec(bad), Err(B64Error::Invalid), "{bad}");
            assert!(!is_canonical(bad.as_bytes()), "{bad}");
        }
    }

    #[test]
    fn output_too_small() {
        let mut out = [0u8; 2];
        assert_eq!(decode(b"Zm9v", &mut out), Err(B64Error::OutputTooSmall));
    }

    #[test]
    fn round_trips_and_streams() {
        let data: std::vec::Vec<u8> = (0..=255u8).collect();
        for len in 0..data.len() {
            let mut enc = [0u8; 400];
            let n = encode(&data[..len], &mut enc).unwrap();
            assert_eq!(n, encoded_len(len));
            assert!(is_canonical(&enc[..n]));
            assert_eq!(dec_vec(&enc[..n]), &data[..len]);
            let mut s = StreamDecoder::new();
            let mut got = std::vec::Vec::new();
            for &c in &enc[..n] {
                s.push(c, |b| got.push(b));
            }
            s.finish(|b| got.push(b)).unwrap();
            assert_eq!(got, &data[..len]);
        }
    }

    fn dec_vec(s: &[u8]) -> std::vec::Vec<u8> {
        let mut out = std::vec![0u8; s.len()];
        let n = decode(s, &mut out).unwrap();
        out.truncate(n);
        out
    }

    /// The 64-bit and the microcontroller group decoders agree on every byte value at every
    /// position of a group, valid or not.
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn wide_and_narrow_groups_agree() {
        let data: std::vec::Vec<u8> = (0..=255u8).cycle().take(3 * 40).collect();
        let mut enc = [0u8; 160];
        let n = encode(&data, &mut enc).unwrap();
        for len in (0..=n).step_by(4) {
            for pos in 0..len {
                for c in [b'A', b'_', b'-', b'=', b'+', b'/', b'.', 0x80, 0xFF] {
                    let mut input = enc;
                    input[pos] = c;
                    let (mut a, mut b) = ([0u8; 120], [0u8; 120]);
                    let wide = decode_groups_wide(&input[..len], &mut a[..len / 4 * 3]);
                    let narrow = decode_groups_narrow(&input[..len], &mut b[..len / 4 * 3]);
                    assert_eq!(wide, narrow, "len {len} pos {pos} char {c:#x}");
                    assert_eq!(wide, val(c) != INVALID, "len {len} pos {pos} char {c:#x}");
                    if wide {
                        assert_eq!(a, b, "len {len} pos {pos}");
                    }
                }
            }
        }
    }

    #[test]
    fn stream_rejects_trailing_bits() {
        let mut s = StreamDecoder::new();
        for &c in b"Zh" {
            s.push(c, |_| {});
        }
        assert_eq!(s.finish(|_| {}), Err(B64Error::Invalid));
    }
}
