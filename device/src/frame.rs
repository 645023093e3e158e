//! Framing for a byte stream: `COBS(payload || CRC-32(payload) as little-endian) || 0x00`.
//!
//! COBS (Cheshire & Baker, 1999) removes every zero byte from the frame body, so `0x00` marks
//! frame boundaries unambiguously and a receiver re-synchronizes on the next zero after any
//! corruption. CRC-32 is the IEEE 802.3 polynomial (reflected `0xEDB88320`, init and xor-out
//! `0xFFFFFFFF`), as in zlib and Ethernet. Both sides are no-heap: the decoder works in its
//! own fixed buffer, the encoder streams the frame out in pieces.

/// Bytes COBS may add to `n` bytes of input (one per 254, plus one), plus the delimiter.
pub const fn encoded_max(n: usize) -> usize {
    n + n / 254 + 2
}

/// CRC-32 (IEEE), 4 bits at a time with a 16-entry table.
pub fn crc32(parts: &[&[u8]]) -> u32 {
    #[expect(clippy::indexing_slicing, reason = "const-evaluated")]
    const T: [u32; 16] = {
        let mut t = [0u32; 16];
        let mut i = 0;
        let mut c0 = 0u32;
        while i < 16 {
            let mut c = c0;
            let mut k = 0;
            while k < 4 {
                c = if c & 1 != 0 {
                    (c >> 1) ^ 0xEDB8_8320
                } else {
                    c >> 1
                };
                k += 1;
            }
            t[i] = c;
            i += 1;
            c0 += 1;
        }
        t
    };
    let mut c = 0xFFFF_FFFFu32;
    for p in parts {
        for &b in *p {
            c ^= u32::from(b);
            c = (c >> 4) ^ T.get((c & 0xF) as usize).copied().unwrap_or(0);
            c = (c >> 4) ^ T.get((c & 0xF) as usize).copied().unwrap_or(0);
        }
    }
    !c
}

/// Encodes the concatenation of `parts` (plus its CRC) as one frame, handing the encoded
/// bytes to `emit` in pieces. Needs 255 bytes of stack, no output buffer.
pub fn encode(parts: &[&[u8]], mut emit: impl FnMut(&[u8])) {
    let crc = crc32(parts).to_le_bytes();
    // block[0] is the code byte; block[1..=len] the data since the last zero.
    let mut block = [0u8; 255];
    let mut len = 0usize;
    for p in parts.iter().copied().chain(core::iter::once(&crc[..])) {
        for &b in p {
            if b != 0 {
                len += 1;
                if let Some(slot) = block.get_mut(len) {
                    *slot = b;
                }
                if len < 254 {
                    continue;
                }
            }
            // A zero ends the block (the zero is implied); 254 data bytes fill it (code 0xFF).
            flush(&mut block, len, &mut emit);
            len = 0;
        }
    }
    flush(&mut block, len, &mut emit);
    emit(&[0]);
}

fn flush(block: &mut [u8; 255], len: usize, emit: &mut impl FnMut(&[u8])) {
    if let Some(code) = block.first_mut() {
        *code = u8::try_from(len + 1).unwrap_or(0xFF);
    }
    emit(block.get(..len + 1).unwrap_or(&[]));
}

/// Why a received frame was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum FrameError {
    /// Not valid COBS, too short for a CRC, or the CRC does not match.
    Corrupt,
    /// Longer than the receive buffer; skipped up to the next delimiter.
    TooLarge,
}

impl core::fmt::Display for FrameError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            FrameError::Corrupt => "corrupt frame (COBS or CRC-32)",
            FrameError::TooLarge => "frame longer than the receive buffer",
        })
    }
}

impl core::error::Error for FrameError {}

/// Collects bytes into frames in a fixed buffer of `B` bytes.
#[derive(Clone)]
pub struct FrameDecoder<const B: usize> {
    buf: [u8; B],
    len: usize,
    overflow: bool,
}

impl<const B: usize> Default for FrameDecoder<B> {
    fn default() -> Self {
        Self::new()
    }
}

/// One result of [`FrameDecoder::push`].
#[derive(Debug, PartialEq, Eq)]
pub enum Frame<'a> {
    /// A valid frame's payload (CRC removed).
    Payload(&'a [u8]),
    /// A bad frame, dropped.
    Error(FrameError),
}

impl<const B: usize> FrameDecoder<B> {
    /// An empty decoder.
    pub const fn new() -> Self {
        FrameDecoder {
            buf: [0; B],
            len: 0,
            overflow: false,
        }
    }

    /// Feeds one byte; at a delimiter returns the completed frame (empty frames, e.g. two
    /// zeros in a row, are ignored).
    pub fn push(&mut self, byte: u8) -> Option<Frame<'_>> {
        if byte != 0 {
            match self.buf.get_mut(self.len) {
                Some(slot) if !self.overflow => {
                    *slot = byte;
                    self.len += 1;
                }
                _ => self.overflow = true,
            }
            return None;
        }
        let (len, overflow) = (self.len, self.overflow);
        self.len = 0;
        self.overflow = false;
        if overflow {
            return Some(Frame::Error(FrameError::TooLarge));
        }
        if len == 0 {
            return None;
        }
        let body = self.buf.get_mut(..len)?;
        Some(match cobs_decode_in_place(body) {
            Some(n) if n >= 4 => {
                let (payload, crc) = body.split_at_checked(n - 4)?;
                let crc = crc.get(..4).and_then(|c| <[u8; 4]>::try_from(c).ok());
                if crc.map(u32::from_le_bytes) == Some(crc32(&[payload])) {
                    Frame::Payload(payload)
                } else {
                    Frame::Error(FrameError::Corrupt)
                }
            }
            _ => Frame::Error(FrameError::Corrupt),
        })
    }
}

/// Decodes COBS in place (no delimiter in `buf`); returns the decoded length.
fn cobs_decode_in_place(buf: &mut [u8]) -> Option<usize> {
    let mut read = 0usize;
    let mut write = 0usize;
    while read < buf.len() {
        let code = usize::from(*buf.get(read)?);
        if code == 0 {
            return None;
        }
        read += 1;
        for _ in 1..code {
            let b = *buf.get(read)?;
            if b == 0 {
                return None;
            }
            *buf.get_mut(write)? = b;
            write += 1;
            read += 1;
        }
        if code != 0xFF && read < buf.len() {
            *buf.get_mut(write)? = 0;
            write += 1;
        }
    }
    Some(write)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    #[test]
    fn frame_errors_are_errors_with_messages() {
        fn message<E: core::error::Error>(e: E) -> std::string::String {
            std::format!("{e}")
        }
        assert_eq!(
            message(FrameError::Corrupt),
            "corrupt frame (COBS or CRC-32)"
        );
        assert_eq!(
            message(FrameError::TooLarge),
            "frame longer than the receive buffer"
        );
    }

    fn enc(parts: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        encode(parts, |b| out.extend_from_slice(b));
        out
    }

    #[test]
    fn crc_check_value() {
        assert_eq!(crc32(&[b"123456789"]), 0xCBF4_3926);
        assert_eq!(crc32(&[b"1234", b"56789"]), 0xCBF4_3926);
    }

    #[test]
    fn round_trips_every_length_and_zero_pattern() {
        for len in [0usize, 1, 2, 253, 254, 255, 256, 508, 600, 1000] {
            for pattern in 0..3u8 {
                let payload: Vec<u8> = (0..len)
                    .map(|i| match pattern {
                        0 => 0,
                        1 => u8::try_from(i % 251).unwrap() + 1,
                        _ => u8::try_from(i * 7 % 256).unwrap(),
                    })
                    .collect();
                let frame = enc(&[&payload]);
                assert_eq!(*frame.last().unwrap(), 0);
                assert!(!frame[..frame.len() - 1].contains(&0));
                assert!(frame.len() <= encoded_max(len + 4));
                let mut d: FrameDecoder<1100> = FrameDecoder::new();
                let mut got = None;
                for &b in &frame {
                    if let Some(f) = d.push(b) {
                        got = Some(match f {
                            Frame::Payload(p) => Ok(p.to_vec()),
                            Frame::Error(e) => Err(e),
                        });
                    }
                }
                assert_eq!(got, Some(Ok(payload)), "len {len} pattern {pattern}");
            }
        }
    }

    #[test]
    fn corruption_and_overflow_are_reported_and_recovered() {
        let mut d: FrameDecoder<64> = FrameDecoder::new();
        let mut frame = enc(&[b"hello"]);
        frame[2] ^= 0x01;
        let mut seen = Vec::new();
        for &b in frame
            .iter()
            .chain(&[0u8, 0])
            .chain(&[0x42; 100])
            .chain(&[0])
            .chain(&enc(&[b"ok"]))
        {
            if let Some(f) = d.push(b) {
                seen.push(match f {
                    Frame::Payload(p) => Ok(p.to_vec()),
                    Frame::Error(e) => Err(e),
                });
            }
        }
        assert_eq!(
            seen,
            [
                Err(FrameError::Corrupt),
                Err(FrameError::TooLarge),
                Ok(b"ok".to_vec())
            ]
        );
    }
}
