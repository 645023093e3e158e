//! The streaming collector of one JWK's members: the JWK parser and the JWK Set parser feed
//! it member names and values as they arrive (no copy of the document), and `finish` checks
//! and builds the key.

use super::{Jwk, KeyType, Kid, MAX_KID_LEN};
use crate::alg::Curve;
use crate::alg::{self, AlgSet, Algorithm, KeyFilter};
use crate::b64::StreamDecoder;
use crate::error::{JsonError, KeyError};
use crate::material::{KeyMaterial, SymmetricKey, MAX_OCT_LEN};
use crate::rsa::MAX_RSA_BYTES;
use zeroize::Zeroize;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Field {
    Kty,
    Kid,
    Alg,
    Use,
    KeyOps,
    Crv,
    N,
    E,
    X,
    Y,
    K,
    Private,
    Unknown,
}

impl Field {
    fn from_name(name: &[u8]) -> Field {
        match name {
            b"kty" => Field::Kty,
            b"kid" => Field::Kid,
            b"alg" => Field::Alg,
            b"use" => Field::Use,
            b"key_ops" => Field::KeyOps,
            b"crv" => Field::Crv,
            b"n" => Field::N,
            b"e" => Field::E,
            b"x" => Field::X,
            b"y" => Field::Y,
            b"k" => Field::K,
            b"d" | b"p" | b"q" | b"dp" | b"dq" | b"qi" | b"oth" => Field::Private,
            _ => Field::Unknown,
        }
    }

    fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

/// A short text member (`kty`, `alg`, `kid`, ...).
#[derive(Clone, Copy)]
pub(crate) struct Text<const N: usize> {
    buf: [u8; N],
    len: usize,
    overflow: bool,
}

impl<const N: usize> Text<N> {
    pub(crate) const fn new() -> Self {
        Text {
            buf: [0; N],
            len: 0,
            overflow: false,
        }
    }
    pub(crate) fn push(&mut self, b: u8) {
        match self.buf.get_mut(self.len) {
            Some(slot) => {
                *slot = b;
                self.len += 1;
            }
            None => self.overflow = true,
        }
    }
    pub(crate) fn get(&self) -> Option<&[u8]> {
        if self.overflow {
            None
        } else {
            self.buf.get(..self.len)
        }
    }
    pub(crate) fn clear(&mut self) {
        self.len = 0;
        self.overflow = false;
    }
}

/// A base64url member decoded on the fly.
#[derive(Clone, Copy)]
pub(crate) struct Bytes<const N: usize> {
    buf: [u8; N],
    len: usize,
    overflow: bool,
    invalid: bool,
    dec: StreamDecoder,
}

impl<const N: usize> Bytes<N> {
    pub(crate) const fn new() -> Self {
        Bytes {
            buf: [0; N],
            len: 0,
            overflow: false,
            invalid: false,
            dec: StreamDecoder::new(),
        }
    }
    fn put(buf: &mut [u8; N], len: &mut usize, overflow: &mut bool, b: u8) {
        match buf.get_mut(*len) {
            Some(slot) => {
                *slot = b;
                *len += 1;
            }
            None => *overflow = true,
        }
    }
    pub(crate) fn push(&mut self, c: u8) {
        let (buf, len, overflow) = (&mut self.buf, &mut self.len, &mut self.overflow);
        self.dec.push(c, |b| Self::put(buf, len, overflow, b));
    }
    /// The decoded bytes, unless the value overflowed or was not canonical base64url.
    #[cfg(feature = "signing")]
    pub(crate) fn value(&self) -> Option<&[u8]> {
        if self.overflow || self.invalid {
            None
        } else {
            self.buf.get(..self.len)
        }
    }
    /// Whether the value was longer than the buffer.
    #[cfg(feature = "signing")]
    pub(crate) fn overflowed(&self) -> bool {
        self.overflow
    }
    /// Whether the value was not canonical base64url.
    #[cfg(feature = "signing")]
    pub(crate) fn invalid(&self) -> bool {
        self.invalid
    }
    /// Wipes the buffer (secret members).
    #[cfg(feature = "signing")]
    pub(crate) fn wipe(&mut self) {
        self.buf.zeroize();
        self.dec = StreamDecoder::new();
        self.len = 0;
    }
    pub(crate) fn end(&mut self) {
        let (buf, len, overflow) = (&mut self.buf, &mut self.len, &mut self.overflow);
        let dec = core::mem::take(&mut self.dec);
        if dec.finish(|b| Self::put(buf, len, overflow, b)).is_err() {
            self.invalid = true;
        }
    }
}

const OP_VERIFY: u8 = 1;

/// Collects one JWK object's members; see the module notes.
#[derive(Clone)]
pub(crate) struct JwkCollector {
    kty: Text<8>,
    kid: Text<MAX_KID_LEN>,
    alg: Text<16>,
    use_: Text<8>,
    crv: Text<16>,
    n: Bytes<MAX_RSA_BYTES>,
    e: Bytes<8>,
    x: Bytes<{ crate::alg::EC_COORD_MAX }>,
    y: Bytes<{ crate::alg::EC_COORD_MAX }>,
    k: Bytes<MAX_OCT_LEN>,
    op: Text<16>,
    ops: u8,
    seen: u16,
    name: Text<8>,
    current: Field,
    err: Option<KeyError>,
}

impl Drop for JwkCollector {
    fn drop(&mut self) {
        self.k.buf.zeroize();
    }
}

impl JwkCollector {
    pub(crate) const fn new() -> Self {
        JwkCollector {
            kty: Text::new(),
            kid: Text::new(),
            alg: Text::new(),
            use_: Text::new(),
            crv: Text::new(),
            n: Bytes::new(),
            e: Bytes::new(),
            x: Bytes::new(),
            y: Bytes::new(),
            k: Bytes::new(),
            op: Text::new(),
            ops: 0,
            seen: 0,
            name: Text::new(),
            current: Field::Unknown,
            err: None,
        }
    }

    fn fail(&mut self, e: KeyError) {
        if self.err.is_none() {
            self.err = Some(e);
        }
    }

    /// The kid collected so far (for skip reports).
    pub(crate) fn kid(&self) -> Option<Kid> {
        if self.seen & Field::Kid.bit() == 0 {
            return None;
        }
        self.kid.get().and_then(|k| Kid::new(k).ok())
    }

    /// Whether the key has private asymmetric members (`d`, ...).
    pub(crate) fn has_private(&self) -> bool {
        self.seen & Field::Private.bit() != 0 && !matches!(self.kty.get(), Some(b"oct"))
    }

    // --- member names, byte by byte (streaming) or whole (slice) ---

    pub(crate) fn member_name_start(&mut self) {
        self.name.clear();
    }

    pub(crate) fn member_name_byte(&mut self, b: u8) {
        self.name.push(b);
    }

    pub(crate) fn member_name_end(&mut self) {
        let f = match self.name.get() {
            Some(n) => Field::from_name(n),
            None => Field::Unknown,
        };
        if f != Field::Unknown && f != Field::Private && self.seen & f.bit() != 0 {
            self.fail(KeyError::DuplicateMember);
        }
        self.seen |= f.bit();
        self.current = f;
    }

    pub(super) fn member_name_bytes(&mut self, name: impl Iterator<Item = u8>) {
        self.member_name_start();
        for b in name {
            self.member_name_byte(b);
        }
        self.member_name_end();
    }

    // --- member values ---

    pub(crate) fn string_start(&mut self) {
        if self.current == Field::KeyOps {
            self.fail(KeyError::InvalidMember);
        }
    }

    pub(crate) fn string_byte(&mut self, b: u8) {
        match self.current {
            Field::Kty => self.kty.push(b),
            Field::Kid => self.kid.push(b),
            Field::Alg => self.alg.push(b),
            Field::Use => self.use_.push(b),
            Field::Crv => self.crv.push(b),
            Field::N => self.n.push(b),
            Field::E => self.e.push(b),
            Field::X => self.x.push(b),
            Field::Y => self.y.push(b),
            Field::K => self.k.push(b),
            Field::KeyOps | Field::Private | Field::Unknown => {}
        }
    }

    pub(crate) fn string_end(&mut self) {
        match self.current {
            Field::N => self.n.end(),
            Field::E => self.e.end(),
            Field::X => self.x.end(),
            Field::Y => self.y.end(),
            Field::K => self.k.end(),
            _ => {}
        }
        self.current = Field::Unknown;
    }

    /// A number, literal or object as a member value.
    pub(crate) fn other_value(&mut self) {
        if !matches!(self.current, Field::Unknown | Field::Private) {
            self.fail(KeyError::InvalidMember);
        }
        self.current = Field::Unknown;
    }

    /// An array as a member value; its items follow, then [`Self::array_end`].
    pub(crate) fn array_start(&mut self) {
        if !matches!(
            self.current,
            Field::Unknown | Field::Private | Field::KeyOps
        ) {
            self.fail(KeyError::InvalidMember);
        }
    }

    pub(crate) fn array_end(&mut self) {
        self.current = Field::Unknown;
    }

    pub(crate) fn item_string_start(&mut self) {
        self.op.clear();
    }

    pub(crate) fn item_string_byte(&mut self, b: u8) {
        if self.current == Field::KeyOps {
            self.op.push(b);
        }
    }

    pub(crate) fn item_string_end(&mut self) {
        if self.current == Field::KeyOps && self.op.get() == Some(b"verify") {
            self.ops |= OP_VERIFY;
        }
    }

    /// A non-string array item.
    pub(crate) fn item_other(&mut self) {
        if self.current == Field::KeyOps {
            self.fail(KeyError::InvalidMember);
        }
    }

    fn has(&self, f: Field) -> bool {
        self.seen & f.bit() != 0
    }

    /// Validates what was collected and builds the key, if one of `K`'s algorithms can use
    /// it. `K` is known when this is compiled: the import of a key type it leaves out is
    /// never reached, and the linker drops it.
    pub(crate) fn finish<K: KeyFilter>(&self) -> Result<Jwk, KeyError> {
        const RSA: AlgSet = AlgSet::from_slice(&[
            alg::RS256,
            alg::RS384,
            alg::RS512,
            alg::PS256,
            alg::PS384,
            alg::PS512,
        ]);
        const EC: AlgSet = AlgSet::from_slice(&[alg::ES256, alg::ES384, alg::ES512, alg::ES256K]);
        const OKP: AlgSet = AlgSet::from_slice(&[alg::EDDSA, alg::ED25519]);
        const OCT: AlgSet = AlgSet::from_slice(&[alg::HS256, alg::HS384, alg::HS512]);
        if let Some(e) = self.err {
            return Err(e);
        }
        if !self.has(Field::Kty) {
            return Err(KeyError::MissingMember);
        }
        let accepts = |family: AlgSet| K::ACCEPTS.intersects(family);
        let kty = match self.kty.get() {
            Some(b"RSA") if accepts(RSA) => KeyType::Rsa,
            Some(b"EC") if accepts(EC) => KeyType::Ec,
            Some(b"OKP") if accepts(OKP) => KeyType::Okp,
            Some(b"oct") if accepts(OCT) => KeyType::Oct,
            _ => return Err(KeyError::UnsupportedKeyType),
        };
        if self.has(Field::Use) && self.use_.get() != Some(b"sig") {
            return Err(KeyError::WrongUse);
        }
        if self.has(Field::KeyOps) && self.ops & OP_VERIFY == 0 {
            return Err(KeyError::WrongKeyOps);
        }
        let alg = if self.has(Field::Alg) {
            let name = self.alg.get().ok_or(KeyError::UnsupportedAlg)?;
            Some(
                Algorithm::from_name(name)
                    .filter(|a| K::ACCEPTS.contains(*a))
                    .ok_or(KeyError::UnsupportedAlg)?,
            )
        } else {
            None
        };
        if kty != KeyType::Oct && self.has(Field::Private) {
            return Err(KeyError::PrivateKey);
        }
        let kid = if self.has(Field::Kid) {
            Some(self.kid.get().ok_or(KeyError::KidTooLong)?)
        } else {
            None
        };
        let b64 = |f: Field, present: bool, invalid: bool, overflow: bool| {
            if !present {
                Err(KeyError::MissingMember)
            } else if invalid {
                Err(KeyError::InvalidMember)
            } else if overflow {
                Err(match f {
                    Field::N => KeyError::RsaModulus,
                    Field::E => KeyError::RsaExponent,
                    Field::K => KeyError::SymmetricKeySize,
                    _ => KeyError::InvalidPoint,
                })
            } else {
                Ok(())
            }
        };
        match kty {
            KeyType::Rsa => {
                b64(
                    Field::N,
                    self.has(Field::N),
                    self.n.invalid,
                    self.n.overflow,
                )?;
                b64(
                    Field::E,
                    self.has(Field::E),
                    self.e.invalid,
                    self.e.overflow,
                )?;
                let n = self.n.buf.get(..self.n.len).ok_or(KeyError::RsaModulus)?;
                let e = self.e.buf.get(..self.e.len).ok_or(KeyError::RsaExponent)?;
                Jwk::rsa(kid, n, e, alg)
            }
            KeyType::Ec => {
                if !self.has(Field::Crv) {
                    return Err(KeyError::MissingMember);
                }
                let curve = self
                    .crv
                    .get()
                    .and_then(Curve::from_name)
                    .ok_or(KeyError::UnsupportedCurve)?;
                b64(
                    Field::X,
                    self.has(Field::X),
                    self.x.invalid,
                    self.x.overflow,
                )?;
                b64(
                    Field::Y,
                    self.has(Field::Y),
                    self.y.invalid,
                    self.y.overflow,
                )?;
                let x = self.x.buf.get(..self.x.len).ok_or(KeyError::InvalidPoint)?;
                let y = self.y.buf.get(..self.y.len).ok_or(KeyError::InvalidPoint)?;
                Jwk::ec_for::<K>(kid, curve, x, y, alg)
            }
            KeyType::Okp => {
                match self.crv.get() {
                    _ if !self.has(Field::Crv) => return Err(KeyError::MissingMember),
                    Some(b"Ed25519") => {}
                    _ => return Err(KeyError::UnsupportedCurve),
                }
                b64(
                    Field::X,
                    self.has(Field::X),
                    self.x.invalid,
                    self.x.overflow,
                )?;
                let x: [u8; 32] = self
                    .x
                    .buf
                    .get(..self.x.len)
                    .and_then(|s| s.try_into().ok())
                    .ok_or(KeyError::InvalidPoint)?;
                Jwk::ed25519(kid, &x, alg)
            }
            KeyType::Oct => {
                b64(
                    Field::K,
                    self.has(Field::K),
                    self.k.invalid,
                    self.k.overflow,
                )?;
                let k = self
                    .k
                    .buf
                    .get(..self.k.len)
                    .ok_or(KeyError::SymmetricKeySize)?;
                match alg {
                    Some(a) => Jwk::hmac(kid, k, a),
                    None => {
                        // Without alg the key must at least suit HS256.
                        if k.len() < 32 {
                            return Err(KeyError::SymmetricKeySize);
                        }
                        Jwk::build(kid, None, KeyMaterial::Oct(SymmetricKey::new(k, None)?))
                    }
                }
            }
        }
    }
}

impl From<JsonError> for KeyError {
    fn from(j: JsonError) -> Self {
        KeyError::Json(j)
    }
}
