//! JSON Web Keys for verification (RFC 7517, RFC 7518 §6, RFC 8037 §2), validated at import.
//!
//! A [`Jwk`] is always a usable public verification key (or an HMAC secret): every check is
//! done when it is built, so a bad key is found at import, never late. What it may verify is
//! bound by `kty`, `crv` and `alg` ([`Jwk::permits`]); `use` other than `sig` and `key_ops`
//! without `verify` are refused at import, as are weak keys and private members.

use crate::alg::Curve;
use crate::alg::{Algorithm, AnyAlgorithm, Family, KeyFilter};
use crate::b64;
use crate::crypto::Backend;
use crate::ec;
use crate::error::{Error, KeyError};
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
    /// The one place a key is assembled. Inlined: each caller builds its key in the value it
    /// returns (called, its key material was a second copy in every caller's frame, 0.3-0.4 KB).
    #[inline(always)]
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
        Self::from_json_for::<AnyAlgorithm>(json)
    }

    /// As [`Jwk::from_json`], keeping only a key that one of `K`'s algorithms can verify
    /// with (a backend `B` as `K` keeps what `B` verifies): any other is refused as its type,
    /// curve or `alg` is unsupported, and a build whose `K` leaves out a key type does not
    /// link the code that imports it.
    ///
    /// ```
    /// use tokenguard::{alg, AlgSet, Jwk, KeyError, KeyFilter};
    /// struct Rs256Only;
    /// impl KeyFilter for Rs256Only {
    ///     const ACCEPTS: AlgSet = AlgSet::from_slice(&[alg::RS256]);
    /// }
    /// let hmac = br#"{"kty":"oct","k":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"}"#;
    /// assert!(Jwk::from_json(hmac).is_ok());
    /// assert_eq!(
    ///     Jwk::from_json_for::<Rs256Only>(hmac).unwrap_err(),
    ///     KeyError::UnsupportedKeyType
    /// );
    /// ```
    ///
    /// # Errors
    /// A [`KeyError`] saying what is wrong with the key: [`KeyError::UnsupportedKeyType`],
    /// [`KeyError::UnsupportedCurve`] or [`KeyError::UnsupportedAlg`] for a key `K` cannot
    /// use.
    pub fn from_json_for<K: KeyFilter>(json: &[u8]) -> Result<Jwk, KeyError> {
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
        c.finish::<K>()
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
        // Built in place: the key's 512 bytes are written once, in the value returned (a
        // chain of returned values kept 5 KB of copies on the stack).
        let mut jwk = Jwk {
            kid: kid.map(Kid::new).transpose()?,
            alg,
            material: KeyMaterial::Rsa(RsaPublicKey::ZERO),
        };
        if let KeyMaterial::Rsa(k) = &mut jwk.material {
            k.set_components(n, e)?;
        }
        Ok(jwk)
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
        Self::ec_for::<AnyAlgorithm>(kid, curve, x, y, alg)
    }

    /// As [`Jwk::ec`], for a curve `K` keeps ([`KeyError::UnsupportedCurve`] for another).
    pub(crate) fn ec_for<K: KeyFilter>(
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
        ec::check_on_curve_for::<K>(curve, x, y)?;
        Self::ec_checked(kid, curve, x, y, alg)
    }

    /// The key of a point already checked. A function of its own: the key it builds is not
    /// on the stack while the point is checked (the P-384 check's frame alone is 0.9 KB).
    #[inline(never)]
    fn ec_checked(
        kid: Option<&[u8]>,
        curve: Curve,
        x: &[u8],
        y: &[u8],
        alg: Option<Algorithm>,
    ) -> Result<Jwk, KeyError> {
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

    /// The same key with another key id (`None` removes it): a key made from its components,
    /// named after its RFC 7638 thumbprint once that is known.
    ///
    /// ```
    /// # use tokenguard::{alg, Jwk};
    /// let x = [0x11u8; 32];
    /// let key = Jwk::ed25519(None, &x, Some(alg::EDDSA)).unwrap();
    /// let named = key.with_kid(Some(b"device-1")).unwrap();
    /// assert_eq!(named.kid().unwrap().as_bytes(), b"device-1");
    /// assert!(named.same_material(&Jwk::ed25519(None, &x, None).unwrap()));
    /// ```
    ///
    /// # Errors
    /// [`KeyError`] for a key id [`Kid::new`] refuses (too long).
    pub fn with_kid(self, kid: Option<&[u8]>) -> Result<Jwk, KeyError> {
        Jwk::build(kid, self.alg, self.material)
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

// The member collector: fed byte by byte from either the slice scanner (one JWK) or the
// streaming JWK Set parser, so both paths share every validation rule.
pub(crate) mod collector;
pub(crate) use collector::JwkCollector;

#[cfg(test)]
mod tests;
