//! JSON Web Keys for verification (RFC 7517, RFC 7518 §6, RFC 8037 §2), validated at import.
//!
//! A [`Jwk`] is always a usable public verification key (or an HMAC secret): every check is
//! done when it is built, so a bad key is found at import, never late. What it may verify is
//! bound by `kty`, `crv` and `alg` ([`Jwk::permits`]); `use` other than `sig` and `key_ops`
//! without `verify` are refused at import, as are weak keys and private members.

use crate::alg::Curve;
use crate::alg::{Algorithm, Family};
use crate::b64::{self, StreamDecoder};
use crate::crypto::Backend;
use crate::ec;
use crate::error::{Error, JsonError, KeyError};
use crate::json::{self, Value};
use crate::material::{KeyMaterial, SymmetricKey, MAX_OCT_LEN};
use crate::rsa::{RsaPublicKey, MAX_RSA_BYTES};
use zeroize::Zeroize;

/// Longest `kid` kept, in bytes (decoded). Longer key ids are refused at import.
pub const MAX_KID_LEN: usize = 64;
/// Depth limit used when parsing a single JWK document.
const JWK_MAX_DEPTH: u8 = 8;

/// A key id (`kid`, RFC 7517 §4.5): an opaque string, compared byte for byte.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Kid {
    bytes: [u8; MAX_KID_LEN],
    len: u8,
}

impl Kid {
    /// A key id from bytes.
    ///
    /// # Errors
    /// [`KeyError::KidTooLong`] beyond [`MAX_KID_LEN`] bytes.
    pub fn new(id: &[u8]) -> Result<Kid, KeyError> {
        let mut k = Kid {
            bytes: [0; MAX_KID_LEN],
            len: 0,
        };
        k.bytes
            .get_mut(..id.len())
            .ok_or(KeyError::KidTooLong)?
            .copy_from_slice(id);
        k.len = u8::try_from(id.len()).map_err(|_| KeyError::KidTooLong)?;
        Ok(k)
    }

    /// The id's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or(&[])
    }

    /// The id as text, if it is UTF-8 (it always is when it came from JSON).
    pub fn as_str(&self) -> Option<&str> {
        core::str::from_utf8(self.as_bytes()).ok()
    }
}

impl core::fmt::Debug for Kid {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.as_str() {
            Some(s) => write!(f, "{s:?}"),
            None => write!(f, "{:?}", self.as_bytes()),
        }
    }
}

/// The key type (`kty`, RFC 7518 §6.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum KeyType {
    /// `RSA`
    Rsa,
    /// `EC` (P-256, P-384; P-521 and secp256k1 with the `es512` / `es256k` features)
    Ec,
    /// `OKP` (Ed25519)
    Okp,
    /// `oct` (HMAC secret)
    Oct,
}

impl KeyType {
    /// The `kty` name.
    pub const fn name(self) -> &'static str {
        match self {
            KeyType::Rsa => "RSA",
            KeyType::Ec => "EC",
            KeyType::Okp => "OKP",
            KeyType::Oct => "oct",
        }
    }
}

/// A validated verification key with its binding (`kid`, `alg`).
#[derive(Clone)]
pub struct Jwk {
    kid: Option<Kid>,
    alg: Option<Algorithm>,
    material: KeyMaterial,
}

impl core::fmt::Debug for Jwk {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Jwk")
            .field("kid", &self.kid)
            .field("kty", &self.key_type())
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

impl Jwk {
    /// The one place a key is assembled.
    fn build(
        kid: Option<&[u8]>,
        alg: Option<Algorithm>,
        material: KeyMaterial,
    ) -> Result<Jwk, KeyError> {
        Ok(Jwk {
            kid: kid.map(Kid::new).transpose()?,
            alg,
            material,
        })
    }

    /// The validated key material, as a crypto backend sees it.
    pub fn material(&self) -> &KeyMaterial {
        &self.material
    }

    /// Parses and validates one JWK (a JSON object).
    ///
    /// ```
    /// # fn main() -> Result<(), tokenguard::KeyError> {
    /// let jwk = tokenguard::Jwk::from_json(br#"{"kty":"oct","kid":"k1","alg":"HS256",
    ///     "k":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"}"#)?;
    /// assert_eq!(jwk.kid().and_then(|k| k.as_str()), Some("k1"));
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// A [`KeyError`] saying what is wrong with the key.
    pub fn from_json(json: &[u8]) -> Result<Jwk, KeyError> {
        let mut c = JwkCollector::new();
        json::parse_object(json, JWK_MAX_DEPTH, |name, value| {
            c.member_name_bytes(name.bytes());
            match value {
                Value::Str(s) => {
                    c.string_start();
                    for b in s.bytes() {
                        c.string_byte(b);
                    }
                    c.string_end();
                }
                Value::Array(raw) => {
                    c.array_start();
                    for item in json::array_items(raw) {
                        match item.map_err(KeyError::Json)? {
                            Value::Str(s) => {
                                c.item_string_start();
                                for b in s.bytes() {
                                    c.item_string_byte(b);
                                }
                                c.item_string_end();
                            }
                            _ => c.item_other(),
                        }
                    }
                    c.array_end();
                }
                _ => c.other_value(),
            }
            Ok::<(), KeyError>(())
        })
        .map_err(|e| match e {
            KeyError::Json(j) => KeyError::Json(j),
            other => other,
        })?;
        c.finish()
    }

    /// An HMAC key (`kty: oct`) bound to `alg` (which must be HS256/384/512).
    ///
    /// # Errors
    /// [`KeyError::AlgMismatch`] for a non-HMAC `alg`; [`KeyError::SymmetricKeySize`] if the
    /// key is shorter than the hash output (RFC 7518 §3.2) or longer than [`MAX_OCT_LEN`].
    pub fn hmac(kid: Option<&[u8]>, key: &[u8], alg: Algorithm) -> Result<Jwk, KeyError> {
        let Family::Hmac(h) = alg.family() else {
            return Err(KeyError::AlgMismatch);
        };
        if key.len() < h.output_len() {
            return Err(KeyError::SymmetricKeySize);
        }
        Jwk::build(
            kid,
            Some(alg),
            KeyMaterial::Oct(SymmetricKey::new(key, Some(alg))?),
        )
    }

    /// An RSA public key from its big-endian modulus and exponent.
    ///
    /// # Errors
    /// As [`RsaPublicKey::from_components`]; [`KeyError::AlgMismatch`] for a non-RSA `alg`.
    pub fn rsa(
        kid: Option<&[u8]>,
        n: &[u8],
        e: &[u8],
        alg: Option<Algorithm>,
    ) -> Result<Jwk, KeyError> {
        if let Some(a) = alg {
            if !matches!(a.family(), Family::RsaPkcs1(_) | Family::RsaPss(_)) {
                return Err(KeyError::AlgMismatch);
            }
        }
        Jwk::build(
            kid,
            alg,
            KeyMaterial::Rsa(RsaPublicKey::from_components(n, e)?),
        )
    }

    /// An EC public key from its big-endian affine coordinates.
    ///
    /// # Errors
    /// [`KeyError::InvalidPoint`] off the curve; [`KeyError::AlgMismatch`] for another `alg`.
    pub fn ec(
        kid: Option<&[u8]>,
        curve: Curve,
        x: &[u8],
        y: &[u8],
        alg: Option<Algorithm>,
    ) -> Result<Jwk, KeyError> {
        if let Some(a) = alg {
            if a.family() != curve.family() {
                return Err(KeyError::AlgMismatch);
            }
        }
        ec::check_on_curve(curve, x, y)?;
        let mut point = [0u8; crate::alg::EC_POINT_MAX];
        point[0] = 4;
        let cl = curve.coord_len();
        crate::copy_exact(point.get_mut(1..1 + cl).ok_or(KeyError::InvalidPoint)?, x)
            .ok_or(KeyError::InvalidPoint)?;
        crate::copy_exact(
            point
                .get_mut(1 + cl..1 + 2 * cl)
                .ok_or(KeyError::InvalidPoint)?,
            y,
        )
        .ok_or(KeyError::InvalidPoint)?;
        Jwk::build(kid, alg, KeyMaterial::Ec { curve, point })
    }

    /// An Ed25519 public key.
    ///
    /// # Errors
    /// [`KeyError::SmallOrder`] for small-order or undecodable keys;
    /// [`KeyError::AlgMismatch`] for an `alg` other than `EdDSA` or `Ed25519`.
    pub fn ed25519(
        kid: Option<&[u8]>,
        pk: &[u8; 32],
        alg: Option<Algorithm>,
    ) -> Result<Jwk, KeyError> {
        if alg.is_some_and(|a| !matches!(a, Algorithm::EdDsa | Algorithm::Ed25519)) {
            return Err(KeyError::AlgMismatch);
        }
        ec::check_ed25519_key(pk)?;
        Jwk::build(kid, alg, KeyMaterial::Ed25519(*pk))
    }

    /// The key id, if any.
    pub fn kid(&self) -> Option<&Kid> {
        self.kid.as_ref()
    }

    /// The bound algorithm (`alg` member), if any.
    pub fn alg(&self) -> Option<Algorithm> {
        self.alg
    }

    /// The key type.
    pub fn key_type(&self) -> KeyType {
        match self.material {
            KeyMaterial::Rsa(_) => KeyType::Rsa,
            KeyMaterial::Ec { .. } => KeyType::Ec,
            KeyMaterial::Ed25519(_) => KeyType::Okp,
            KeyMaterial::Oct(_) => KeyType::Oct,
        }
    }

    /// Key size in bits (RSA modulus, curve size, or secret length).
    pub fn bits(&self) -> usize {
        match &self.material {
            KeyMaterial::Rsa(r) => r.bits(),
            KeyMaterial::Ec { curve, .. } => curve.coord_len() * 8,
            KeyMaterial::Ed25519(_) => 256,
            KeyMaterial::Oct(k) => k.bytes().len() * 8,
        }
    }

    /// Whether the key holds a secret (HMAC).
    pub fn is_symmetric(&self) -> bool {
        matches!(self.material, KeyMaterial::Oct(_))
    }

    /// Whether this key may verify `alg`: the key's type (and curve) fixes the algorithm
    /// family, and a bound `alg` must match exactly. The token never chooses the key type.
    ///
    /// # Errors
    /// [`Error::AlgNotAllowed`] when the key does not permit `alg`;
    /// [`Error::KeyRejected`] with [`KeyError::SymmetricKeySize`] when an HMAC key is shorter
    /// than the hash of `alg`.
    pub fn permits(&self, alg: Algorithm) -> Result<(), Error> {
        if self.alg.is_some_and(|a| a != alg) {
            return Err(Error::AlgNotAllowed);
        }
        let fits = match (alg.family(), &self.material) {
            (Family::Hmac(h), KeyMaterial::Oct(k)) => {
                if k.bytes().len() < h.output_len() {
                    return Err(Error::KeyRejected(KeyError::SymmetricKeySize));
                }
                true
            }
            (Family::RsaPkcs1(_) | Family::RsaPss(_), KeyMaterial::Rsa(_)) => true,
            (
                Family::EcdsaP256 | Family::EcdsaP384 | Family::EcdsaP521 | Family::EcdsaSecp256k1,
                KeyMaterial::Ec { curve, .. },
            ) => curve.family() == alg.family(),
            (Family::Ed25519, KeyMaterial::Ed25519(_)) => true,
            _ => false,
        };
        if fits {
            Ok(())
        } else {
            Err(Error::AlgNotAllowed)
        }
    }

    /// Verifies a raw signature over `msg` with this key under `alg` (the JWS signing input
    /// and the decoded signature), with backend `B`. The key's binding applies. A key on its
    /// own carries no backend state: `B` works from the material alone (a [`crate::KeySet`]
    /// keeps the state its backend prepared for each key).
    ///
    /// # Errors
    /// [`Error::AlgNotAllowed`] or [`Error::KeyRejected`] when the key does not permit `alg`;
    /// [`Error::BadSignature`] when the signature does not verify.
    pub fn verify_signature<B: Backend>(
        &self,
        alg: Algorithm,
        msg: &[u8],
        sig: &[u8],
    ) -> Result<(), Error> {
        if !B::ALGORITHMS.contains(alg) {
            return Err(Error::AlgNotAllowed);
        }
        self.permits(alg)?;
        crate::crypto::check_signature::<B>(&self.material, None, alg, msg, sig)
    }

    /// Whether two keys have the same material (kid and alg not compared).
    pub fn same_material(&self, other: &Jwk) -> bool {
        self.material == other.material
    }

    /// Same material, kid and alg.
    pub(crate) fn same_key(&self, other: &Jwk) -> bool {
        self.kid == other.kid && self.alg == other.alg && self.same_material(other)
    }

    /// Writes the key as JWK JSON (`kty`, `crv`, `kid`, `use: sig`, `alg` and the public
    /// members). An HMAC key's secret `k` is written only with `include_secret`; without it
    /// an `oct` key gives `None`, as does a buffer that is too small.
    pub fn to_json<'o>(&self, out: &'o mut [u8], include_secret: bool) -> Option<&'o str> {
        struct W<'o> {
            out: &'o mut [u8],
            n: usize,
        }
        impl W<'_> {
            fn raw(&mut self, b: &[u8]) -> Option<()> {
                self.out
                    .get_mut(self.n..self.n + b.len())?
                    .copy_from_slice(b);
                self.n += b.len();
                Some(())
            }
            fn text(&mut self, name: &str, v: &[u8]) -> Option<()> {
                self.raw(b",\"")?;
                self.raw(name.as_bytes())?;
                self.raw(b"\":\"")?;
                if !crate::json::write_escaped(v, |b| self.raw(b).is_some()) {
                    return None;
                }
                self.raw(b"\"")
            }
            fn b64(&mut self, name: &str, v: &[u8]) -> Option<()> {
                self.raw(b",\"")?;
                self.raw(name.as_bytes())?;
                self.raw(b"\":\"")?;
                let n = b64::encode(v, self.out.get_mut(self.n..)?).ok()?;
                self.n += n;
                self.raw(b"\"")
            }
        }
        let mut w = W { out, n: 0 };
        w.raw(b"{\"kty\":\"")?;
        w.raw(self.key_type().name().as_bytes())?;
        w.raw(b"\"")?;
        match &self.material {
            KeyMaterial::Ec { curve, .. } => w.text("crv", curve.name().as_bytes())?,
            KeyMaterial::Ed25519(_) => w.text("crv", b"Ed25519")?,
            _ => {}
        }
        if let Some(kid) = &self.kid {
            w.text("kid", kid.as_bytes())?;
        }
        w.text("use", b"sig")?;
        if let Some(a) = self.alg {
            w.text("alg", a.name().as_bytes())?;
        }
        match &self.material {
            KeyMaterial::Rsa(r) => {
                let mut nb = [0u8; MAX_RSA_BYTES];
                let n = r.modulus_be(&mut nb)?;
                w.b64("n", n)?;
                let mut eb = [0u8; 8];
                w.b64("e", r.exponent_be(&mut eb))?;
            }
            KeyMaterial::Ec { curve, point } => {
                let cl = curve.coord_len();
                w.b64("x", point.get(1..1 + cl)?)?;
                w.b64("y", point.get(1 + cl..1 + 2 * cl)?)?;
            }
            KeyMaterial::Ed25519(pk) => w.b64("x", pk)?,
            KeyMaterial::Oct(k) => {
                if !include_secret {
                    return None;
                }
                w.b64("k", k.bytes())?;
            }
        }
        w.raw(b"}")?;
        let W { out, n } = w;
        core::str::from_utf8(out.get(..n)?).ok()
    }

    /// The RFC 7638 JWK thumbprint (SHA-256 of the canonical required members).
    pub fn thumbprint<B: Backend>(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        let d = match &self.material {
            KeyMaterial::Rsa(r) => {
                let mut nb = [0u8; MAX_RSA_BYTES];
                let mut n64 = [0u8; b64::encoded_len(MAX_RSA_BYTES)];
                let n = r.modulus_be(&mut nb).unwrap_or(&[]);
                let nl = b64::encode(n, &mut n64).unwrap_or(0);
                let mut eb = [0u8; 8];
                let mut e64 = [0u8; 12];
                let el = b64::encode(r.exponent_be(&mut eb), &mut e64).unwrap_or(0);
                B::digest(
                    crate::alg::HashAlg::Sha256,
                    &[
                        b"{\"e\":\"",
                        e64.get(..el).unwrap_or(&[]),
                        b"\",\"kty\":\"RSA\",\"n\":\"",
                        n64.get(..nl).unwrap_or(&[]),
                        b"\"}",
                    ],
                )
            }
            KeyMaterial::Ec { curve, point } => {
                let cl = curve.coord_len();
                let mut x64 = [0u8; b64::encoded_len(66)];
                let mut y64 = [0u8; b64::encoded_len(66)];
                let xl = b64::encode(point.get(1..1 + cl).unwrap_or(&[]), &mut x64).unwrap_or(0);
                let yl = b64::encode(point.get(1 + cl..1 + 2 * cl).unwrap_or(&[]), &mut y64)
                    .unwrap_or(0);
                B::digest(
                    crate::alg::HashAlg::Sha256,
                    &[
                        b"{\"crv\":\"",
                        curve.name().as_bytes(),
                        b"\",\"kty\":\"EC\",\"x\":\"",
                        x64.get(..xl).unwrap_or(&[]),
                        b"\",\"y\":\"",
                        y64.get(..yl).unwrap_or(&[]),
                        b"\"}",
                    ],
                )
            }
            KeyMaterial::Ed25519(pk) => {
                let mut x64 = [0u8; 43];
                let xl = b64::encode(pk, &mut x64).unwrap_or(0);
                B::digest(
                    crate::alg::HashAlg::Sha256,
                    &[
                        b"{\"crv\":\"Ed25519\",\"kty\":\"OKP\",\"x\":\"",
                        x64.get(..xl).unwrap_or(&[]),
                        b"\"}",
                    ],
                )
            }
            KeyMaterial::Oct(k) => {
                let mut k64 = [0u8; b64::encoded_len(MAX_OCT_LEN)];
                let kl = b64::encode(k.bytes(), &mut k64).unwrap_or(0);
                let d = B::digest(
                    crate::alg::HashAlg::Sha256,
                    &[
                        b"{\"k\":\"",
                        k64.get(..kl).unwrap_or(&[]),
                        b"\",\"kty\":\"oct\"}",
                    ],
                );
                k64.zeroize();
                d
            }
        };
        if let Some(dst) = out.get_mut(..) {
            let src = d.as_ref();
            if src.len() == dst.len() {
                dst.copy_from_slice(src);
            }
        }
        out
    }
}

// ---------------------------------------------------------------------------------------
// The member collector: fed byte by byte from either the slice scanner (one JWK) or the
// streaming JWK Set parser, so both paths share every validation rule.

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

    fn member_name_bytes(&mut self, name: impl Iterator<Item = u8>) {
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

    /// Validates what was collected and builds the key.
    pub(crate) fn finish(&self) -> Result<Jwk, KeyError> {
        if let Some(e) = self.err {
            return Err(e);
        }
        if !self.has(Field::Kty) {
            return Err(KeyError::MissingMember);
        }
        let kty = match self.kty.get() {
            Some(b"RSA") => KeyType::Rsa,
            Some(b"EC") => KeyType::Ec,
            Some(b"OKP") => KeyType::Okp,
            Some(b"oct") => KeyType::Oct,
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
            Some(Algorithm::from_name(name).ok_or(KeyError::UnsupportedAlg)?)
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
                Jwk::ec(kid, curve, x, y, alg)
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

#[cfg(test)]
mod tests;
