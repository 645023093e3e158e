//! A bounded, non-recursive JSON scanner over a byte slice (RFC 8259), for JOSE headers and
//! JWT claims. It never allocates and never recurses: nesting is tracked with a counter and a
//! bit stack, so the depth limit bounds the work and no input can exhaust the stack.
//!
//! Strictness: the input must be valid UTF-8; strings may not contain raw control characters;
//! escapes are checked, including `\uXXXX` surrogate pairs (a lone surrogate is an error);
//! numbers follow the JSON grammar (no leading zeros, `+`, `NaN`, `Infinity`); nothing may
//! follow the top-level value.

use crate::error::JsonError;

mod stream;
pub(crate) use stream::{Lexer, Sink};

/// Hard ceiling for any configured depth (the bit stack holds 64 levels).
pub const MAX_DEPTH_LIMIT: u8 = 63;

/// A JSON string as it appears in the input, without its quotes, already validated.
///
/// Comparisons decode escapes, so `"\u0065xp"` equals `exp`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct JsonStr<'a> {
    raw: &'a [u8],
    escaped: bool,
}

impl core::fmt::Debug for JsonStr<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("\"")?;
        for c in core::str::from_utf8(self.raw)
            .unwrap_or("<invalid>")
            .chars()
        {
            write!(f, "{}", c.escape_debug())?;
        }
        f.write_str("\"")
    }
}

impl<'a> JsonStr<'a> {
    /// Wraps an already-validated raw string body.
    #[cfg(test)]
    pub(crate) const fn from_raw(raw: &'a [u8], escaped: bool) -> Self {
        JsonStr { raw, escaped }
    }

    /// The raw bytes between the quotes, escapes not decoded.
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }

    /// Whether the string contains escape sequences.
    pub fn has_escapes(&self) -> bool {
        self.escaped
    }

    /// The string as `&str` when it has no escapes (then the raw text is the value).
    pub fn as_str(&self) -> Option<&'a str> {
        if self.escaped {
            None
        } else {
            core::str::from_utf8(self.raw).ok()
        }
    }

    /// The decoded value, byte by byte (UTF-8).
    pub fn bytes(&self) -> DecodedBytes<'a> {
        DecodedBytes {
            raw: self.raw,
            pos: 0,
            buf: [0; 4],
            buf_len: 0,
            buf_pos: 0,
        }
    }

    /// Whether the decoded value equals `other` exactly (byte for byte).
    pub fn eq_bytes(&self, other: &[u8]) -> bool {
        if !self.escaped {
            return self.raw == other;
        }
        let mut it = self.bytes();
        for &b in other {
            if it.next() != Some(b) {
                return false;
            }
        }
        it.next().is_none()
    }

    /// Whether the decoded value equals `other`.
    pub fn eq_str(&self, other: &str) -> bool {
        self.eq_bytes(other.as_bytes())
    }

    /// The decoded length in bytes.
    pub fn decoded_len(&self) -> usize {
        if self.escaped {
            self.bytes().count()
        } else {
            self.raw.len()
        }
    }

    /// Decodes into `out`, returning the decoded text, or `None` if `out` is too small.
    pub fn decode_into<'o>(&self, out: &'o mut [u8]) -> Option<&'o str> {
        let mut n = 0usize;
        for b in self.bytes() {
            let slot = out.get_mut(n)?;
            *slot = b;
            n += 1;
        }
        core::str::from_utf8(out.get(..n)?).ok()
    }
}

/// Iterator over the decoded UTF-8 bytes of a [`JsonStr`].
#[derive(Clone)]
pub struct DecodedBytes<'a> {
    raw: &'a [u8],
    pos: usize,
    buf: [u8; 4],
    buf_len: u8,
    buf_pos: u8,
}

impl Iterator for DecodedBytes<'_> {
    type Item = u8;

    fn next(&mut self) -> Option<u8> {
        if self.buf_pos < self.buf_len {
            let b = self.buf.get(usize::from(self.buf_pos)).copied();
            self.buf_pos += 1;
            return b;
        }
        let b = *self.raw.get(self.pos)?;
        if b != b'\\' {
            self.pos += 1;
            return Some(b);
        }
        let e = *self.raw.get(self.pos + 1)?;
        self.pos += 2;
        if e != b'u' {
            return unescape(e);
        }
        let hi = hex4(self.raw.get(self.pos..self.pos + 4)?)?;
        self.pos += 4;
        let cp = if (0xD800..0xDC00).contains(&hi) {
            // Validated input: a low surrogate escape follows.
            let lo = hex4(self.raw.get(self.pos + 2..self.pos + 6)?)?;
            self.pos += 6;
            0x10000 + ((hi - 0xD800) << 10) + (lo.checked_sub(0xDC00)?)
        } else {
            hi
        };
        let c = char::from_u32(cp)?;
        let s = c.encode_utf8(&mut self.buf);
        self.buf_len = u8::try_from(s.len()).ok()?;
        self.buf_pos = 1;
        self.buf.first().copied()
    }
}

fn hex4(h: &[u8]) -> Option<u32> {
    let mut v = 0u32;
    for &c in h {
        let d = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            b'A'..=b'F' => c - b'A' + 10,
            _ => return None,
        };
        v = (v << 4) | u32::from(d);
    }
    if h.len() == 4 {
        Some(v)
    } else {
        None
    }
}

/// A member value, shallowly parsed. Containers are kept as raw (validated) text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Value<'a> {
    /// A string.
    Str(JsonStr<'a>),
    /// A number, as its raw (grammar-checked) text.
    Num(&'a [u8]),
    /// `true` or `false`.
    Bool(bool),
    /// `null`.
    Null,
    /// An array, raw text including the brackets.
    Array(&'a [u8]),
    /// An object, raw text including the braces.
    Object(&'a [u8]),
}

/// Scans a complete JSON text that must be one object, calling `on_member` for each top-level
/// member in order. `max_depth` counts the top-level object as depth 1.
///
/// # Errors
/// Any grammar error as [`JsonError`], or the first error `on_member` returns.
pub fn parse_object<'a, E: From<JsonError>>(
    input: &'a [u8],
    max_depth: u8,
    on_member: impl FnMut(JsonStr<'a>, Value<'a>) -> Result<(), E>,
) -> Result<(), E> {
    // Bytes above 0x7F are allowed only inside strings, where the scanner checks each UTF-8
    // sequence, so a text it accepts is valid UTF-8 without a separate pass over it. On an
    // error, invalid UTF-8 anywhere in the text is what is reported, as before any grammar
    // error (the order a whole-text check up front would give).
    let r = scan_object(input, max_depth, on_member);
    if r.is_err() && core::str::from_utf8(input).is_err() {
        return Err(JsonError::Utf8.into());
    }
    r
}

fn scan_object<'a, E: From<JsonError>>(
    input: &'a [u8],
    max_depth: u8,
    mut on_member: impl FnMut(JsonStr<'a>, Value<'a>) -> Result<(), E>,
) -> Result<(), E> {
    let max_depth = max_depth.min(MAX_DEPTH_LIMIT);
    if max_depth == 0 {
        return Err(JsonError::Depth.into());
    }
    let mut s = Scanner { b: input, i: 0 };
    s.ws();
    match s.peek() {
        Some(b'{') => s.i += 1,
        Some(_) => return Err(JsonError::NotAnObject.into()),
        None => return Err(JsonError::Syntax.into()),
    }
    s.ws();
    if s.peek() == Some(b'}') {
        s.i += 1;
    } else {
        loop {
            let key = s.string()?;
            s.ws();
            s.expect(b':')?;
            s.ws();
            let v = s.value(max_depth)?;
            on_member(key, v)?;
            s.ws();
            match s.next() {
                Some(b',') => s.ws(),
                Some(b'}') => break,
                _ => return Err(JsonError::Syntax.into()),
            }
        }
    }
    s.ws();
    if s.i != s.b.len() {
        return Err(JsonError::TrailingData.into());
    }
    Ok(())
}

/// The byte a one-character JSON escape stands for (`\n` is `n`, RFC 8259 §7); `None` for
/// `u` (four hex digits follow) and for characters that are no escape. The one table the
/// parsers read escapes with.
pub(crate) const fn unescape(e: u8) -> Option<u8> {
    match e {
        b'"' => Some(b'"'),
        b'\\' => Some(b'\\'),
        b'/' => Some(b'/'),
        b'b' => Some(0x08),
        b'f' => Some(0x0C),
        b'n' => Some(b'\n'),
        b'r' => Some(b'\r'),
        b't' => Some(b'\t'),
        _ => None,
    }
}

/// Writes `s` as the inside of a JSON string through `put`: `"` and `\` escaped, control
/// characters as their two-character escapes where RFC 8259 §7 has one (`\n`, `\t`, ...)
/// and `\u00XX` otherwise, every other byte as is (the input is UTF-8). The one string
/// writer of the JWK and assertion encoders. Stops at the first `false` from `put`.
pub(crate) fn write_escaped(s: &[u8], mut put: impl FnMut(&[u8]) -> bool) -> bool {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for &c in s {
        let ok = match c {
            b'"' => put(b"\\\""),
            b'\\' => put(b"\\\\"),
            b'\n' => put(b"\\n"),
            b'\r' => put(b"\\r"),
            b'\t' => put(b"\\t"),
            0x08 => put(b"\\b"),
            0x0C => put(b"\\f"),
            0..=0x1F => {
                let hi = HEX.get(usize::from(c >> 4)).copied().unwrap_or(b'0');
                let lo = HEX.get(usize::from(c & 15)).copied().unwrap_or(b'0');
                put(&[b'\\', b'u', b'0', b'0', hi, lo])
            }
            _ => put(&[c]),
        };
        if !ok {
            return false;
        }
    }
    true
}

/// Checks that `input` is exactly one JSON value of any type (surrounding whitespace
/// allowed), arrays and objects nested at most `max_depth` deep.
///
/// # Errors
/// Any grammar error as [`JsonError`].
#[cfg(feature = "signing")]
pub fn validate_value(input: &str, max_depth: u8) -> Result<(), JsonError> {
    let mut s = Scanner {
        b: input.as_bytes(),
        i: 0,
    };
    s.ws();
    s.value(max_depth.min(MAX_DEPTH_LIMIT))?;
    s.ws();
    if s.i != s.b.len() {
        return Err(JsonError::TrailingData);
    }
    Ok(())
}

/// Iterates the elements of a validated raw array (from [`Value::Array`]).
pub fn array_items(raw: &[u8]) -> ArrayItems<'_> {
    let mut s = Scanner { b: raw, i: 0 };
    s.ws();
    let mut done = s.next() != Some(b'[');
    s.ws();
    if s.peek() == Some(b']') {
        done = true;
    }
    ArrayItems { s, done }
}

/// Iterator over an array's elements; yields `Err` only for input that was not validated.
pub struct ArrayItems<'a> {
    s: Scanner<'a>,
    done: bool,
}

impl<'a> Iterator for ArrayItems<'a> {
    type Item = Result<Value<'a>, JsonError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        self.s.ws();
        let v = match self.s.value(MAX_DEPTH_LIMIT) {
            Ok(v) => v,
            Err(e) => {
                self.done = true;
                return Some(Err(e));
            }
        };
        self.s.ws();
        match self.s.next() {
            Some(b',') => {}
            Some(b']') => self.done = true,
            _ => {
                self.done = true;
                return Some(Err(JsonError::Syntax));
            }
        }
        Some(Ok(v))
    }
}

/// Length of the leading run of bytes that need no attention inside a string (anything but
/// `"`, `\\`, control characters and bytes above 0x7F), eight bytes at a time.
#[inline(always)]
fn plain_run(b: &[u8]) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut n = 0;
    let mut chunks = b.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        let x = u64::from_le_bytes(w);
        let quote = x ^ (ONES * u64::from(b'"'));
        let bslash = x ^ (ONES * u64::from(b'\\'));
        // A byte is "special" if it is zero after xor (quote, backslash) or below 0x20.
        let zero_q = quote.wrapping_sub(ONES) & !quote;
        let zero_b = bslash.wrapping_sub(ONES) & !bslash;
        let ctrl = x.wrapping_sub(ONES * 0x20) & !x;
        let hit = (zero_q | zero_b | ctrl | x) & HIGH;
        if hit != 0 {
            return n + (hit.trailing_zeros() / 8) as usize;
        }
        n += 8;
    }
    for &c in chunks.remainder() {
        if c == b'"' || c == b'\\' || !(0x20..0x80).contains(&c) {
            return n;
        }
        n += 1;
    }
    n
}

#[derive(Clone)]
struct Scanner<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Scanner<'a> {
    #[inline(always)]
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    #[inline(always)]
    fn next(&mut self) -> Option<u8> {
        let c = self.b.get(self.i).copied();
        self.i += 1;
        c
    }

    /// Skips whitespace. Every structural byte is above `' '`, so one compare settles the
    /// common case (compact JSON, no whitespace at all).
    #[inline(always)]
    fn ws(&mut self) {
        while let Some(&c) = self.b.get(self.i) {
            if c > b' ' || !matches!(c, b' ' | b'\t' | b'\n' | b'\r') {
                break;
            }
            self.i += 1;
        }
    }

    fn expect(&mut self, c: u8) -> Result<(), JsonError> {
        if self.next() == Some(c) {
            Ok(())
        } else {
            Err(JsonError::Syntax)
        }
    }

    /// A string starting at the opening quote; returns its body. Inlined on hosts: returned
    /// through memory, the result cost a store-forwarding stall per string (measured with
    /// `perf annotate` on `benches/examples/profile.rs`).
    #[cfg_attr(target_pointer_width = "64", inline(always))]
    fn string(&mut self) -> Result<JsonStr<'a>, JsonError> {
        self.expect(b'"')?;
        let start = self.i;
        let mut escaped = false;
        loop {
            self.i += plain_run(self.b.get(self.i..).unwrap_or(&[]));
            let c = self.next().ok_or(JsonError::Syntax)?;
            match c {
                b'"' => break,
                b'\\' => {
                    escaped = true;
                    self.escape()?;
                }
                0x80.. => self.utf8_char(c)?,
                _ => return Err(JsonError::ControlCharacter),
            }
        }
        let raw = self.b.get(start..self.i - 1).ok_or(JsonError::Syntax)?;
        Ok(JsonStr { raw, escaped })
    }

    /// After the lead byte `lead` (above 0x7F) of a UTF-8 sequence: the rest of one
    /// character, checked by `core::str::from_utf8` (overlong forms, surrogates and values
    /// above U+10FFFF are errors).
    fn utf8_char(&mut self, lead: u8) -> Result<(), JsonError> {
        let len = match lead {
            0xC2..=0xDF => 2,
            0xE0..=0xEF => 3,
            0xF0..=0xF4 => 4,
            _ => return Err(JsonError::Utf8),
        };
        let start = self.i.saturating_sub(1);
        let seq = self.b.get(start..start + len).ok_or(JsonError::Utf8)?;
        core::str::from_utf8(seq).map_err(|_| JsonError::Utf8)?;
        self.i = start + len;
        Ok(())
    }

    /// After a backslash: one escape (a surrogate pair counts as one).
    fn escape(&mut self) -> Result<(), JsonError> {
        match self.next().ok_or(JsonError::Syntax)? {
            b'u' => {
                let cp = self.hex4()?;
                match cp {
                    0xD800..=0xDBFF => {
                        if self.next() != Some(b'\\') || self.next() != Some(b'u') {
                            return Err(JsonError::Surrogate);
                        }
                        let lo = self.hex4()?;
                        if (0xDC00..=0xDFFF).contains(&lo) {
                            Ok(())
                        } else {
                            Err(JsonError::Surrogate)
                        }
                    }
                    0xDC00..=0xDFFF => Err(JsonError::Surrogate),
                    _ => Ok(()),
                }
            }
            e => unescape(e).map(|_| ()).ok_or(JsonError::Escape),
        }
    }

    fn hex4(&mut self) -> Result<u32, JsonError> {
        let h = self.b.get(self.i..self.i + 4).ok_or(JsonError::Escape)?;
        let v = hex4(h).ok_or(JsonError::Escape)?;
        self.i += 4;
        Ok(v)
    }

    /// Skips a run of ASCII digits, eight at a time while eight bytes remain on 64-bit
    /// hosts; a byte at a time on microcontrollers, where the word loop, inlined at each of
    /// `number`'s three digit runs, cost 580 bytes of flash for about 25 instructions per
    /// NumericDate.
    fn digits(&mut self) -> usize {
        let start = self.i;
        #[cfg(target_pointer_width = "64")]
        while let Some(w) = self.b.get(self.i..).and_then(<[u8]>::first_chunk::<8>) {
            let other = non_digits(u64::from_le_bytes(*w));
            if other != 0 {
                self.i += (other.trailing_zeros() / 8) as usize;
                return self.i - start;
            }
            self.i += 8;
        }
        while let Some(b'0'..=b'9') = self.peek() {
            self.i += 1;
        }
        self.i - start
    }

    fn number(&mut self) -> Result<&'a [u8], JsonError> {
        let start = self.i;
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.peek() {
            Some(b'0') => {
                self.i += 1;
                if let Some(b'0'..=b'9') = self.peek() {
                    return Err(JsonError::Number);
                }
            }
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(JsonError::Number),
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            if self.digits() == 0 {
                return Err(JsonError::Number);
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.i += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.i += 1;
            }
            if self.digits() == 0 {
                return Err(JsonError::Number);
            }
        }
        self.b.get(start..self.i).ok_or(JsonError::Number)
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), JsonError> {
        if self.b.get(self.i..self.i + word.len()) == Some(word) {
            self.i += word.len();
            Ok(())
        } else {
            Err(JsonError::Syntax)
        }
    }

    /// One value inside a container at depth 1; containers are skipped (validated) and
    /// returned raw. Inlined on hosts for the same reason as [`Self::string`].
    #[cfg_attr(target_pointer_width = "64", inline(always))]
    fn value(&mut self, max_depth: u8) -> Result<Value<'a>, JsonError> {
        match self.peek() {
            Some(b'"') => Ok(Value::Str(self.string()?)),
            Some(b'-' | b'0'..=b'9') => Ok(Value::Num(self.number()?)),
            Some(b't') => self.literal(b"true").map(|()| Value::Bool(true)),
            Some(b'f') => self.literal(b"false").map(|()| Value::Bool(false)),
            Some(b'n') => self.literal(b"null").map(|()| Value::Null),
            Some(c @ (b'[' | b'{')) => {
                let start = self.i;
                self.skip_container(max_depth)?;
                let raw = self.b.get(start..self.i).ok_or(JsonError::Syntax)?;
                Ok(if c == b'[' {
                    Value::Array(raw)
                } else {
                    Value::Object(raw)
                })
            }
            Some(b'N' | b'I' | b'+' | b'.') => Err(JsonError::Number),
            _ => Err(JsonError::Syntax),
        }
    }

    /// Skips a container nested at depth 2 (inside the top-level object), iteratively.
    fn skip_container(&mut self, max_depth: u8) -> Result<(), JsonError> {
        // Bit i of `stack` is 1 when level i is an object. `depth` counts the open containers
        // below the top-level object.
        let mut stack: u64 = 0;
        let mut depth: u8 = 0;
        'value: loop {
            // Expecting a value.
            self.ws();
            match self.peek() {
                Some(c @ (b'{' | b'[')) => {
                    self.i += 1;
                    depth += 1;
                    if depth.saturating_add(1) > max_depth {
                        return Err(JsonError::Depth);
                    }
                    let is_obj = c == b'{';
                    if is_obj {
                        stack |= 1u64 << depth;
                    } else {
                        stack &= !(1u64 << depth);
                    }
                    self.ws();
                    let close = if is_obj { b'}' } else { b']' };
                    if self.peek() == Some(close) {
                        self.i += 1;
                        depth -= 1;
                    } else {
                        if is_obj {
                            self.string()?;
                            self.ws();
                            self.expect(b':')?;
                        }
                        continue 'value;
                    }
                }
                Some(b'"') => {
                    self.string()?;
                }
                Some(b'-' | b'0'..=b'9') => {
                    self.number()?;
                }
                Some(b't') => self.literal(b"true")?,
                Some(b'f') => self.literal(b"false")?,
                Some(b'n') => self.literal(b"null")?,
                Some(b'N' | b'I' | b'+' | b'.') => return Err(JsonError::Number),
                _ => return Err(JsonError::Syntax),
            }
            // After a value: close containers or continue with the next element.
            loop {
                if depth == 0 {
                    return Ok(());
                }
                self.ws();
                let in_obj = stack & (1u64 << depth) != 0;
                match self.next() {
                    Some(b',') => {
                        if in_obj {
                            self.ws();
                            self.string()?;
                            self.ws();
                            self.expect(b':')?;
                        }
                        continue 'value;
                    }
                    Some(b'}') if in_obj => depth -= 1,
                    Some(b']') if !in_obj => depth -= 1,
                    _ => return Err(JsonError::Syntax),
                }
            }
        }
    }
}

/// Parses a JSON number as a NumericDate (RFC 7519 §2): non-negative, fractions floored,
/// exponents honoured; `None` if negative (and non-zero) or above `max`.
#[inline(never)] // one copy for exp, nbf, iat and max age
pub fn numeric_date(raw: &[u8], max: u64) -> Option<u64> {
    // Fast path: a plain integer (the common case).
    match plain_integer(raw) {
        Some(v) => (v <= max).then_some(v),
        None => numeric_date_general(raw, max),
    }
}

/// High bit set in every byte of `w` that is not an ASCII digit.
#[cfg(target_pointer_width = "64")]
#[inline(always)]
const fn non_digits(w: u64) -> u64 {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    const ONES: u64 = 0x0101_0101_0101_0101;
    let x = w & !HIGH;
    // Per 7-bit lane, without carries or borrows between lanes.
    let at_least_0 = (x | HIGH).wrapping_sub(ONES * 0x30) & HIGH;
    let above_9 = x.wrapping_add(ONES * 0x46) & HIGH;
    !(at_least_0 & !above_9 & !(w & HIGH)) & HIGH
}

/// The value of eight ASCII digits loaded little-endian (the first digit in the low byte).
/// Three multiplications instead of eight dependent multiply-adds.
#[cfg(target_pointer_width = "64")]
#[inline(always)]
const fn eight_digits(w: u64) -> u64 {
    let v = w.wrapping_sub(0x3030_3030_3030_3030);
    let v = (v.wrapping_mul(10) + (v >> 8)) & 0x00FF_00FF_00FF_00FF;
    let v = (v.wrapping_mul(100) + (v >> 16)) & 0x0000_FFFF_0000_FFFF;
    (v.wrapping_mul(10_000) + (v >> 32)) & 0xFFFF_FFFF
}

/// `raw` as an integer if it is 1 to 19 ASCII digits (no sign, fraction or exponent).
fn plain_integer(raw: &[u8]) -> Option<u64> {
    if raw.is_empty() || raw.len() > 19 {
        return None;
    }
    let mut v = 0u64;
    // Eight digits per step on 64-bit hosts; a digit at a time on microcontrollers, where the
    // 64-bit word arithmetic costs more flash (about 200 bytes) than it saves instructions.
    #[cfg(target_pointer_width = "64")]
    let raw = {
        let mut rest = raw;
        while let Some((head, tail)) = rest.split_first_chunk::<8>() {
            let w = u64::from_le_bytes(*head);
            if non_digits(w) != 0 {
                return None;
            }
            // At most 16 digits so far: no overflow.
            v = v * 100_000_000 + eight_digits(w);
            rest = tail;
        }
        rest
    };
    for &c in raw {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        // At most 19 digits: below 10^19 < 2^64.
        v = v * 10 + u64::from(d);
    }
    Some(v)
}

fn numeric_date_general(raw: &[u8], max: u64) -> Option<u64> {
    let (neg, rest) = match raw.split_first() {
        Some((b'-', r)) => (true, r),
        _ => (false, raw),
    };
    // Split mantissa and exponent.
    let epos = rest.iter().position(|&c| c == b'e' || c == b'E');
    let (mant, exp) = match epos {
        Some(p) => (rest.get(..p)?, rest.get(p + 1..)?),
        None => (rest, &[][..]),
    };
    let (int_part, frac_part) = match mant.iter().position(|&c| c == b'.') {
        Some(p) => (mant.get(..p)?, mant.get(p + 1..)?),
        None => (mant, &[][..]),
    };
    // Exponent, saturated (anything beyond +-1000 decides the result on its own).
    let mut e: i32 = 0;
    let (eneg, edigits) = match exp.split_first() {
        Some((b'-', r)) => (true, r),
        Some((b'+', r)) => (false, r),
        _ => (false, exp),
    };
    for &d in edigits {
        e = (e * 10 + i32::from(d - b'0')).min(10_000);
    }
    if eneg {
        e = -e;
    }
    // Value = digits(int_part ++ frac_part) * 10^(e - frac_len); floor it.
    // The integer part of the result has (int_len + e) leading digits of the digit string.
    let int_len = i32::try_from(int_part.len()).ok()?;
    let keep = int_len + e;
    let digits = int_part.iter().chain(frac_part.iter());
    let total = int_part.len() + frac_part.len();
    let all_zero = int_part.iter().chain(frac_part.iter()).all(|&d| d == b'0');
    if all_zero {
        return Some(0);
    }
    if neg {
        return None;
    }
    if keep <= 0 {
        return Some(0);
    }
    let keep = usize::try_from(keep).ok()?;
    let mut v: u64 = 0;
    for (i, &d) in digits.enumerate() {
        if i >= keep {
            break;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    // Pad with zeros when the exponent reaches past the digits.
    for _ in total..keep {
        v = v.checked_mul(10)?;
        if v > max {
            return None;
        }
    }
    if v > max {
        None
    } else {
        Some(v)
    }
}

#[cfg(test)]
mod tests;
