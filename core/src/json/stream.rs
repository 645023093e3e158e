//! A push JSON lexer fed one byte at a time, for documents that arrive in chunks (a JWK Set
//! over a UART or a socket). Constant memory: no buffering of values, nesting tracked with a
//! bit stack up to a depth limit. It checks the same grammar as the slice scanner (UTF-8,
//! escapes and surrogate pairs, control characters, numbers, a single top-level value) and
//! hands string contents, decoded, to a [`Sink`] byte by byte.

use crate::error::JsonError;

/// Receives the lexer's events. `depth` is the number of open containers: for a container
/// start it includes the new container; for keys and values, it is the enclosing depth.
pub(crate) trait Sink {
    fn container_start(&mut self, is_object: bool, depth: u8);
    fn container_end(&mut self, is_object: bool, depth: u8);
    fn key_start(&mut self, depth: u8);
    fn key_byte(&mut self, b: u8);
    fn key_end(&mut self);
    fn string_start(&mut self, depth: u8);
    fn string_byte(&mut self, b: u8);
    fn string_end(&mut self);
    /// A number, `true`, `false` or `null` ended.
    fn scalar(&mut self, depth: u8);
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum State {
    /// Before the top-level value.
    Start,
    /// A value is expected (after `:` or `,` in an array).
    Value,
    /// After `[`: a value or `]`.
    ValueOrEnd,
    /// After `{`: a key or `}`.
    KeyOrEnd,
    /// After `,` in an object: a key.
    Key,
    /// After a key: `:`.
    Colon,
    /// After a value: `,` or a closing bracket.
    After,
    InString,
    InNumber,
    InLiteral,
    Done,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Esc {
    None,
    Backslash,
    Hex { n: u8, acc: u32, hi: Option<u32> },
    NeedBackslash(u32),
    NeedU(u32),
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Num {
    Minus,
    Zero,
    Int,
    Dot,
    Frac,
    E,
    ESign,
    Exp,
}

/// The lexer state; see the module notes.
#[derive(Clone, Debug)]
pub(crate) struct Lexer {
    state: State,
    stack: u64,
    depth: u8,
    max_depth: u8,
    in_key: bool,
    esc: Esc,
    utf8_need: u8,
    utf8_lo: u8,
    utf8_hi: u8,
    num: Num,
    lit: &'static [u8],
    lit_pos: u8,
    failed: Option<JsonError>,
}

impl Lexer {
    pub(crate) const fn new(max_depth: u8) -> Self {
        Lexer {
            state: State::Start,
            stack: 0,
            depth: 0,
            max_depth: if max_depth > super::MAX_DEPTH_LIMIT {
                super::MAX_DEPTH_LIMIT
            } else {
                max_depth
            },
            in_key: false,
            esc: Esc::None,
            utf8_need: 0,
            utf8_lo: 0,
            utf8_hi: 0,
            num: Num::Zero,
            lit: b"",
            lit_pos: 0,
            failed: None,
        }
    }

    /// Whether the top-level value is complete.
    pub(crate) fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// The end of input: the document must be complete.
    pub(crate) fn finish<S: Sink>(&mut self, sink: &mut S) -> Result<(), JsonError> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        if self.state == State::InNumber && self.depth == 0 {
            self.end_number(sink)?;
        }
        if self.state == State::Done {
            Ok(())
        } else {
            Err(JsonError::Syntax)
        }
    }

    /// Feeds a chunk. After an error every later call returns the same error.
    pub(crate) fn feed<S: Sink>(&mut self, chunk: &[u8], sink: &mut S) -> Result<(), JsonError> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        for &c in chunk {
            if let Err(e) = self.byte(c, sink) {
                self.failed = Some(e);
                return Err(e);
            }
        }
        Ok(())
    }

    fn is_ws(c: u8) -> bool {
        matches!(c, b' ' | b'\t' | b'\n' | b'\r')
    }

    fn top_is_object(&self) -> bool {
        self.stack & (1u64 << self.depth) != 0
    }

    fn after_value(&mut self) {
        self.state = if self.depth == 0 {
            State::Done
        } else {
            State::After
        };
    }

    fn byte<S: Sink>(&mut self, c: u8, sink: &mut S) -> Result<(), JsonError> {
        match self.state {
            State::InString => self.string_byte(c, sink),
            State::InNumber => {
                if self.number_byte(c)? {
                    Ok(())
                } else {
                    self.end_number(sink)?;
                    self.byte(c, sink)
                }
            }
            State::InLiteral => {
                if self.lit.get(usize::from(self.lit_pos)) != Some(&c) {
                    return Err(JsonError::Syntax);
                }
                self.lit_pos += 1;
                if usize::from(self.lit_pos) == self.lit.len() {
                    sink.scalar(self.depth);
                    self.after_value();
                }
                Ok(())
            }
            _ if Self::is_ws(c) => Ok(()),
            State::Done => Err(JsonError::TrailingData),
            State::Start | State::Value => self.value_start(c, sink),
            State::ValueOrEnd => {
                if c == b']' {
                    self.close(false, sink)
                } else {
                    self.value_start(c, sink)
                }
            }
            State::KeyOrEnd | State::Key => {
                if c == b'}' && self.state == State::KeyOrEnd {
                    self.close(true, sink)
                } else if c == b'"' {
                    self.in_key = true;
                    self.esc = Esc::None;
                    sink.key_start(self.depth);
                    self.state = State::InString;
                    Ok(())
                } else {
                    Err(JsonError::Syntax)
                }
            }
            State::Colon => {
                if c == b':' {
                    self.state = State::Value;
                    Ok(())
                } else {
                    Err(JsonError::Syntax)
                }
            }
            State::After => match c {
                b',' => {
                    self.state = if self.top_is_object() {
                        State::Key
                    } else {
                        State::Value
                    };
                    Ok(())
                }
                b'}' if self.top_is_object() => self.close(true, sink),
                b']' if !self.top_is_object() => self.close(false, sink),
                _ => Err(JsonError::Syntax),
            },
        }
    }

    fn close<S: Sink>(&mut self, is_object: bool, sink: &mut S) -> Result<(), JsonError> {
        sink.container_end(is_object, self.depth);
        self.depth = self.depth.checked_sub(1).ok_or(JsonError::Syntax)?;
        self.after_value();
        Ok(())
    }

    fn value_start<S: Sink>(&mut self, c: u8, sink: &mut S) -> Result<(), JsonError> {
        match c {
            b'{' | b'[' => {
                let d = self.depth + 1;
                if d > self.max_depth {
                    return Err(JsonError::Depth);
                }
                self.depth = d;
                let is_obj = c == b'{';
                if is_obj {
                    self.stack |= 1u64 << d;
                } else {
                    self.stack &= !(1u64 << d);
                }
                sink.container_start(is_obj, d);
                self.state = if is_obj {
                    State::KeyOrEnd
                } else {
                    State::ValueOrEnd
                };
                Ok(())
            }
            b'"' => {
                self.in_key = false;
                self.esc = Esc::None;
                sink.string_start(self.depth);
                self.state = State::InString;
                Ok(())
            }
            b'-' => {
                self.num = Num::Minus;
                self.state = State::InNumber;
                Ok(())
            }
            b'0' => {
                self.num = Num::Zero;
                self.state = State::InNumber;
                Ok(())
            }
            b'1'..=b'9' => {
                self.num = Num::Int;
                self.state = State::InNumber;
                Ok(())
            }
            b't' | b'f' | b'n' => {
                self.lit = match c {
                    b't' => b"true",
                    b'f' => b"false",
                    _ => b"null",
                };
                self.lit_pos = 1;
                self.state = State::InLiteral;
                Ok(())
            }
            b'N' | b'I' | b'+' | b'.' => Err(JsonError::Number),
            _ => Err(JsonError::Syntax),
        }
    }

    /// Consumes a number byte; `Ok(false)` when `c` ends the number (not consumed).
    fn number_byte(&mut self, c: u8) -> Result<bool, JsonError> {
        let digit = c.is_ascii_digit();
        self.num = match (self.num, c) {
            (Num::Minus, b'0') => Num::Zero,
            (Num::Minus, _) if digit => Num::Int,
            (Num::Minus, _) => return Err(JsonError::Number),
            (Num::Zero, _) if digit => return Err(JsonError::Number),
            (Num::Int, _) if digit => Num::Int,
            (Num::Zero | Num::Int, b'.') => Num::Dot,
            (Num::Zero | Num::Int | Num::Frac, b'e' | b'E') => Num::E,
            (Num::Dot | Num::Frac, _) if digit => Num::Frac,
            (Num::Dot, _) => return Err(JsonError::Number),
            (Num::E, b'+' | b'-') => Num::ESign,
            (Num::E | Num::ESign | Num::Exp, _) if digit => Num::Exp,
            (Num::E | Num::ESign, _) => return Err(JsonError::Number),
            _ => return Ok(false),
        };
        Ok(true)
    }

    fn end_number<S: Sink>(&mut self, sink: &mut S) -> Result<(), JsonError> {
        if !matches!(self.num, Num::Zero | Num::Int | Num::Frac | Num::Exp) {
            return Err(JsonError::Number);
        }
        sink.scalar(self.depth);
        self.after_value();
        Ok(())
    }

    fn emit<S: Sink>(&self, b: u8, sink: &mut S) {
        if self.in_key {
            sink.key_byte(b);
        } else {
            sink.string_byte(b);
        }
    }

    fn emit_cp<S: Sink>(&self, cp: u32, sink: &mut S) -> Result<(), JsonError> {
        let ch = char::from_u32(cp).ok_or(JsonError::Surrogate)?;
        let mut buf = [0u8; 4];
        for &b in ch.encode_utf8(&mut buf).as_bytes() {
            self.emit(b, sink);
        }
        Ok(())
    }

    fn string_byte<S: Sink>(&mut self, c: u8, sink: &mut S) -> Result<(), JsonError> {
        match self.esc {
            Esc::None => {
                if self.utf8_need > 0 {
                    if c < self.utf8_lo || c > self.utf8_hi {
                        return Err(JsonError::Utf8);
                    }
                    self.utf8_need -= 1;
                    self.utf8_lo = 0x80;
                    self.utf8_hi = 0xBF;
                    self.emit(c, sink);
                    return Ok(());
                }
                match c {
                    b'"' => {
                        if self.in_key {
                            sink.key_end();
                            self.state = State::Colon;
                        } else {
                            sink.string_end();
                            self.after_value();
                        }
                    }
                    b'\\' => self.esc = Esc::Backslash,
                    0x00..=0x1F => return Err(JsonError::ControlCharacter),
                    0x20..=0x7F => self.emit(c, sink),
                    _ => {
                        let (need, lo, hi) = match c {
                            0xC2..=0xDF => (1, 0x80, 0xBF),
                            0xE0 => (2, 0xA0, 0xBF),
                            0xE1..=0xEC | 0xEE..=0xEF => (2, 0x80, 0xBF),
                            0xED => (2, 0x80, 0x9F),
                            0xF0 => (3, 0x90, 0xBF),
                            0xF1..=0xF3 => (3, 0x80, 0xBF),
                            0xF4 => (3, 0x80, 0x8F),
                            _ => return Err(JsonError::Utf8),
                        };
                        self.utf8_need = need;
                        self.utf8_lo = lo;
                        self.utf8_hi = hi;
                        self.emit(c, sink);
                    }
                }
                Ok(())
            }
            Esc::Backslash => {
                if c == b'u' {
                    self.esc = Esc::Hex {
                        n: 0,
                        acc: 0,
                        hi: None,
                    };
                    return Ok(());
                }
                let b = super::unescape(c).ok_or(JsonError::Escape)?;
                self.esc = Esc::None;
                self.emit(b, sink);
                Ok(())
            }
            Esc::Hex { n, acc, hi } => {
                let d = match c {
                    b'0'..=b'9' => c - b'0',
                    b'a'..=b'f' => c - b'a' + 10,
                    b'A'..=b'F' => c - b'A' + 10,
                    _ => return Err(JsonError::Escape),
                };
                let acc = (acc << 4) | u32::from(d);
                if n < 3 {
                    self.esc = Esc::Hex { n: n + 1, acc, hi };
                    return Ok(());
                }
                match (hi, acc) {
                    (None, 0xD800..=0xDBFF) => {
                        self.esc = Esc::NeedBackslash(acc);
                        Ok(())
                    }
                    (None, 0xDC00..=0xDFFF) => Err(JsonError::Surrogate),
                    (None, cp) => {
                        self.esc = Esc::None;
                        self.emit_cp(cp, sink)
                    }
                    (Some(h), 0xDC00..=0xDFFF) => {
                        self.esc = Esc::None;
                        self.emit_cp(0x10000 + ((h - 0xD800) << 10) + (acc - 0xDC00), sink)
                    }
                    (Some(_), _) => Err(JsonError::Surrogate),
                }
            }
            Esc::NeedBackslash(h) => {
                if c == b'\\' {
                    self.esc = Esc::NeedU(h);
                    Ok(())
                } else {
                    Err(JsonError::Surrogate)
                }
            }
            Esc::NeedU(h) => {
                if c == b'u' {
                    self.esc = Esc::Hex {
                        n: 0,
                        acc: 0,
                        hi: Some(h),
                    };
                    Ok(())
                } else {
                    Err(JsonError::Surrogate)
                }
            }
        }
    }
}
