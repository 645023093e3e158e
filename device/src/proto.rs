//! Message layout of the device protocol (see `docs/protocol.md`). Shared by the device and
//! by host-side clients, so both ends use the same numbers.
//!
//! Request payload: `cmd u8 | seq u8 | body`. Response payload: `cmd|0x80 u8 | seq u8 |
//! status u8 | body`. A frame that cannot be read is answered with `cmd = 0xFF, seq = 0`.
//! Integers are little-endian.

/// Protocol version reported by `INFO` (2: `HELLO`, the signing-key upload, refused JWK
/// Sets, request commands limited to `0x01..=0x7E`).
pub const PROTOCOL_VERSION: u8 = 2;
/// Policy slots on a device.
pub const POLICY_SLOTS: usize = 4;
/// Longest `iss` / `aud` a device policy holds.
pub const POLICY_STR_MAX: usize = 128;
/// Longest `sub` / `typ` a device policy holds.
pub const POLICY_SHORT_MAX: usize = 48;

/// Request commands.
#[expect(
    missing_docs,
    reason = "the numbers are documented in the table of docs/protocol.md"
)]
pub mod cmd {
    pub const INFO: u8 = 0x01;
    pub const SET_TIME: u8 = 0x02;
    pub const GET_TIME: u8 = 0x03;
    /// Starts a session on the link: echoes its body (up to [`super::HELLO_MAX`] bytes) and
    /// abandons a transfer (JWK Set update, signing-key upload) this link left unfinished.
    pub const HELLO: u8 = 0x04;
    pub const LOAD_JWK: u8 = 0x10;
    pub const JWKS_BEGIN: u8 = 0x11;
    pub const JWKS_CHUNK: u8 = 0x12;
    pub const JWKS_END: u8 = 0x13;
    pub const REMOVE_KEY: u8 = 0x14;
    pub const LIST_KEYS: u8 = 0x15;
    pub const FETCH_FAILED: u8 = 0x16;
    pub const REFRESH_STATE: u8 = 0x17;
    pub const SET_POLICY: u8 = 0x20;
    pub const VERIFY: u8 = 0x21;
    pub const SIGN: u8 = 0x30;
    pub const SET_SIGNING_KEY: u8 = 0x31;
    pub const SIGNING_KEY_BEGIN: u8 = 0x32;
    pub const SIGNING_KEY_CHUNK: u8 = 0x33;
    pub const SIGNING_KEY_END: u8 = 0x34;
    pub const STATS: u8 = 0x40;
    /// Response to a frame that could not be read as a request (`seq` 0). Requests use
    /// `0x01..=0x7E`, so no response to a request (`cmd | 0x80`) is ever `0xFF`.
    pub const FRAME_ERROR: u8 = 0xFF;
    /// The highest request command number.
    pub const LAST: u8 = 0x7E;
}

/// Longest `HELLO` body (the nonce echoed back).
pub const HELLO_MAX: usize = 32;

/// Largest payload that fits a frame buffer of `frame` bytes: COBS adds one byte per 254
/// (and one more), the CRC four, the delimiter is not stored.
pub const fn max_payload(frame: usize) -> usize {
    let mut n = frame;
    while n > 0 {
        let l = n + 4;
        if l + 1 + l / 254 <= frame {
            return n;
        }
        n -= 1;
    }
    0
}

/// Response status byte.
#[expect(
    missing_docs,
    reason = "the numbers are documented in the table of docs/protocol.md"
)]
pub mod status {
    pub const OK: u8 = 0x00;
    /// `0x01..=0x12`: the token was rejected; `status - 1` is `Error::code_number()`.
    pub const TOKEN_REJECTED_BASE: u8 = 0x01;
    /// Body: one byte, the `KeyError` code (see [`super::key_error_code`]).
    pub const KEY_REFUSED: u8 = 0x20;
    /// Body: one byte, the `JwksError` code (see [`super::jwks_error_code`]).
    pub const JWKS_REFUSED: u8 = 0x21;
    pub const BAD_FRAME: u8 = 0x30;
    pub const FRAME_TOO_LARGE: u8 = 0x31;
    pub const UNKNOWN_COMMAND: u8 = 0x32;
    pub const BAD_REQUEST: u8 = 0x33;
    pub const NOT_FOUND: u8 = 0x34;
    pub const NO_UPDATE: u8 = 0x35;
    pub const FULL: u8 = 0x36;
    pub const UNSUPPORTED: u8 = 0x37;
    pub const NO_TIME: u8 = 0x38;
}

/// Policy flag bits (`SET_POLICY`).
#[expect(
    missing_docs,
    reason = "the numbers are documented in the table of docs/protocol.md"
)]
pub mod policy_flags {
    pub const ALLOW_MISSING_EXP: u8 = 0x01;
    pub const ALLOW_MISSING_KID: u8 = 0x02;
    pub const IGNORE_ISS: u8 = 0x04;
    pub const IGNORE_AUD: u8 = 0x08;
}

/// `LOAD_JWK` flag bits.
#[expect(
    missing_docs,
    reason = "the numbers are documented in the table of docs/protocol.md"
)]
pub mod load_flags {
    pub const PINNED: u8 = 0x01;
}

use tokenguard::{Error, JwksError, KeyError};

/// The status byte for a rejected token.
pub const fn token_status(e: &Error) -> u8 {
    status::TOKEN_REJECTED_BASE + e.code_number()
}

/// The stable code of a token-rejection status, if it is one.
pub fn token_code(status: u8) -> Option<&'static str> {
    let i = status.checked_sub(status::TOKEN_REJECTED_BASE)?;
    Error::CODES.get(usize::from(i)).copied()
}

const KEY_ERRORS: [KeyError; 24] = [
    KeyError::Json(tokenguard::JsonError::Syntax),
    KeyError::InvalidMember,
    KeyError::DuplicateMember,
    KeyError::MissingMember,
    KeyError::UnsupportedKeyType,
    KeyError::UnsupportedCurve,
    KeyError::UnsupportedAlg,
    KeyError::AlgMismatch,
    KeyError::WrongUse,
    KeyError::WrongKeyOps,
    KeyError::RsaModulus,
    KeyError::RsaExponent,
    KeyError::RsaRoca,
    KeyError::InvalidPoint,
    KeyError::SmallOrder,
    KeyError::SymmetricKeySize,
    KeyError::PrivateKey,
    KeyError::KidTooLong,
    KeyError::Stale,
    KeyError::NoSpace,
    KeyError::DuplicateKid,
    KeyError::MixedKeySet,
    KeyError::KidPinned,
    KeyError::KeyMismatch,
];

/// A one-byte code for a [`KeyError`] (JSON errors share code 0).
pub fn key_error_code(e: KeyError) -> u8 {
    let e = match e {
        KeyError::Json(_) => KeyError::Json(tokenguard::JsonError::Syntax),
        other => other,
    };
    KEY_ERRORS
        .iter()
        .position(|k| *k == e)
        .and_then(|i| u8::try_from(i).ok())
        .unwrap_or(0xFF)
}

/// The [`KeyError`] for a code from [`key_error_code`].
pub fn key_error_from_code(c: u8) -> Option<KeyError> {
    KEY_ERRORS.get(usize::from(c)).copied()
}

/// A one-byte code for a [`JwksError`] (`0xFF` for a kind this protocol version has no code
/// for; the engine's enum is `#[non_exhaustive]`).
pub fn jwks_error_code(e: JwksError) -> u8 {
    match e {
        JwksError::Json(_) => 0,
        JwksError::NotAKeySet => 1,
        JwksError::Incomplete => 2,
        JwksError::PrivateKeyInSet => 3,
        JwksError::NotStarted => 4,
        JwksError::Refused(r) => match r.outcome {
            tokenguard::UpdateOutcome::NoSpace { .. } => 6,
            _ => 5,
        },
        _ => 0xFF,
    }
}

/// Little-endian reader over a request body; every read is checked.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    b: &'a [u8],
}

impl<'a> Reader<'a> {
    /// Reads from `b`.
    pub fn new(b: &'a [u8]) -> Self {
        Reader { b }
    }
    /// `n` bytes.
    pub fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.b.len() {
            return None;
        }
        let (h, t) = self.b.split_at_checked(n)?;
        self.b = t;
        Some(h)
    }
    /// One byte.
    pub fn u8(&mut self) -> Option<u8> {
        self.bytes(1).and_then(|b| b.first().copied())
    }
    /// A little-endian `u16`.
    pub fn u16(&mut self) -> Option<u16> {
        self.bytes(2)
            .and_then(|b| b.try_into().ok())
            .map(u16::from_le_bytes)
    }
    /// A little-endian `u32`.
    pub fn u32(&mut self) -> Option<u32> {
        self.bytes(4)
            .and_then(|b| b.try_into().ok())
            .map(u32::from_le_bytes)
    }
    /// A little-endian `u64`.
    pub fn u64(&mut self) -> Option<u64> {
        self.bytes(8)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_le_bytes)
    }
    /// A string prefixed by its length (one byte).
    pub fn str8(&mut self) -> Option<&'a [u8]> {
        let n = self.u8()?;
        self.bytes(usize::from(n))
    }
    /// What is left.
    pub fn rest(self) -> &'a [u8] {
        self.b
    }
}

/// Little-endian writer into a fixed buffer; overflow is remembered, never a panic.
#[derive(Debug)]
pub struct Writer<'a> {
    b: &'a mut [u8],
    len: usize,
    overflow: bool,
}

impl<'a> Writer<'a> {
    /// Writes into `b`.
    pub fn new(b: &'a mut [u8]) -> Self {
        Writer {
            b,
            len: 0,
            overflow: false,
        }
    }
    /// Appends bytes.
    pub fn bytes(&mut self, d: &[u8]) -> &mut Self {
        match self.b.get_mut(self.len..self.len + d.len()) {
            Some(dst) => {
                dst.copy_from_slice(d);
                self.len += d.len();
            }
            None => self.overflow = true,
        }
        self
    }
    /// Appends one byte.
    pub fn u8(&mut self, v: u8) -> &mut Self {
        self.bytes(&[v])
    }
    /// Appends a little-endian `u16`.
    pub fn u16(&mut self, v: u16) -> &mut Self {
        self.bytes(&v.to_le_bytes())
    }
    /// Appends a little-endian `u32`.
    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.bytes(&v.to_le_bytes())
    }
    /// Appends a little-endian `u64`.
    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.bytes(&v.to_le_bytes())
    }
    /// Appends a string with a one-byte length prefix (truncation is an overflow).
    pub fn str8(&mut self, s: &[u8]) -> &mut Self {
        match u8::try_from(s.len()) {
            Ok(n) => self.u8(n).bytes(s),
            Err(_) => {
                self.overflow = true;
                self
            }
        }
    }
    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.len
    }
    /// Whether nothing was written.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// Whether a write did not fit.
    pub fn overflowed(&self) -> bool {
        self.overflow
    }
    /// The bytes written.
    pub fn done(self) -> Option<&'a [u8]> {
        if self.overflow {
            None
        } else {
            let Writer { b, len, .. } = self;
            b.get(..len)
        }
    }
}
