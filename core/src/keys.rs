//! Key import from PEM and DER without a heap: PKCS#1 RSA (`RSA PRIVATE KEY`, ZITADEL's
//! format), PKCS#8 (`PRIVATE KEY`), SEC1 EC (`EC PRIVATE KEY`), SubjectPublicKeyInfo
//! (`PUBLIC KEY`, `RSA PUBLIC KEY`) and the public key of an X.509 certificate
//! (`CERTIFICATE`). A small bounded DER reader (definite lengths only, no recursion on
//! input) borrows from the caller's bytes.

use core::fmt;

/// Why a key document could not be read.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum KeyFormatError {
    /// Not PEM (no `-----BEGIN` line, mismatched END, bad base64).
    Pem,
    /// Not valid DER, or not the expected structure.
    Der,
    /// A key type or curve this engine does not support.
    Unsupported,
    /// The output buffer is too small.
    BufferTooSmall,
    /// The key material is invalid (e.g. a scalar out of range).
    InvalidKey,
}

impl fmt::Display for KeyFormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KeyFormatError::Pem => "not a PEM document",
            KeyFormatError::Der => "not valid DER for the expected key structure",
            KeyFormatError::Unsupported => "unsupported key type or curve",
            KeyFormatError::BufferTooSmall => "output buffer too small",
            KeyFormatError::InvalidKey => "invalid key material",
        })
    }
}

impl core::error::Error for KeyFormatError {}

/// The label of a PEM block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum PemLabel {
    /// `RSA PRIVATE KEY` (PKCS#1).
    RsaPrivateKey,
    /// `PRIVATE KEY` (PKCS#8).
    PrivateKey,
    /// `EC PRIVATE KEY` (SEC1).
    EcPrivateKey,
    /// `PUBLIC KEY` (SubjectPublicKeyInfo).
    PublicKey,
    /// `RSA PUBLIC KEY` (PKCS#1).
    RsaPublicKey,
    /// `CERTIFICATE` (X.509).
    Certificate,
}

const LABELS: [(&[u8], PemLabel); 6] = [
    (b"RSA PRIVATE KEY", PemLabel::RsaPrivateKey),
    (b"PRIVATE KEY", PemLabel::PrivateKey),
    (b"EC PRIVATE KEY", PemLabel::EcPrivateKey),
    (b"PUBLIC KEY", PemLabel::PublicKey),
    (b"RSA PUBLIC KEY", PemLabel::RsaPublicKey),
    (b"CERTIFICATE", PemLabel::Certificate),
];

fn std_b64(c: u8) -> Option<u8> {
    match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

/// Decodes the first PEM block of `pem` into `out`, returning its label and DER bytes.
///
/// # Errors
/// [`KeyFormatError::Pem`] for anything but one well-formed block with a known label;
/// [`KeyFormatError::BufferTooSmall`].
pub fn pem_decode<'o>(
    pem: &[u8],
    out: &'o mut [u8],
) -> Result<(PemLabel, &'o [u8]), KeyFormatError> {
    let text = core::str::from_utf8(pem).map_err(|_| KeyFormatError::Pem)?;
    let begin = text.find("-----BEGIN ").ok_or(KeyFormatError::Pem)?;
    let rest = text.get(begin + 11..).ok_or(KeyFormatError::Pem)?;
    let label_end = rest.find("-----").ok_or(KeyFormatError::Pem)?;
    let label = rest.get(..label_end).ok_or(KeyFormatError::Pem)?;
    let body_start = label_end + 5;
    let body_and_end = rest.get(body_start..).ok_or(KeyFormatError::Pem)?;
    let end = body_and_end.find("-----END ").ok_or(KeyFormatError::Pem)?;
    let body = body_and_end.get(..end).ok_or(KeyFormatError::Pem)?;
    let after = body_and_end.get(end + 9..).ok_or(KeyFormatError::Pem)?;
    if !after.starts_with(label) || after.get(label.len()..label.len() + 5) != Some("-----") {
        return Err(KeyFormatError::Pem);
    }
    let label = LABELS
        .iter()
        .find(|(l, _)| *l == label.as_bytes())
        .map(|(_, k)| *k)
        .ok_or(KeyFormatError::Pem)?;
    // Standard base64 with padding; line breaks and spaces between groups are ignored.
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    let mut n = 0usize;
    let mut pad = 0usize;
    for &c in body.as_bytes() {
        if c.is_ascii_whitespace() {
            continue;
        }
        if c == b'=' {
            pad += 1;
            continue;
        }
        if pad > 0 {
            return Err(KeyFormatError::Pem);
        }
        let v = std_b64(c).ok_or(KeyFormatError::Pem)?;
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            let [.., byte] = (acc >> bits).to_be_bytes();
            *out.get_mut(n).ok_or(KeyFormatError::BufferTooSmall)? = byte;
            n += 1;
        }
    }
    if pad > 2 {
        return Err(KeyFormatError::Pem);
    }
    Ok((label, out.get(..n).ok_or(KeyFormatError::BufferTooSmall)?))
}

/// A minimal DER reader.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Der<'a> {
    b: &'a [u8],
}

pub(crate) const SEQUENCE: u8 = 0x30;
pub(crate) const INTEGER: u8 = 0x02;
pub(crate) const BIT_STRING: u8 = 0x03;
pub(crate) const OCTET_STRING: u8 = 0x04;
pub(crate) const OID: u8 = 0x06;

impl<'a> Der<'a> {
    pub(crate) fn new(b: &'a [u8]) -> Self {
        Der { b }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.b.is_empty()
    }

    pub(crate) fn peek_tag(&self) -> Option<u8> {
        self.b.first().copied()
    }

    /// Reads one element: `(tag, contents)`.
    pub(crate) fn any(&mut self) -> Result<(u8, &'a [u8]), KeyFormatError> {
        let (&tag, rest) = self.b.split_first().ok_or(KeyFormatError::Der)?;
        let (&l0, rest) = rest.split_first().ok_or(KeyFormatError::Der)?;
        let (len, rest) = if l0 < 0x80 {
            (usize::from(l0), rest)
        } else {
            let n = usize::from(l0 & 0x7F);
            if n == 0 || n > 3 {
                return Err(KeyFormatError::Der);
            }
            let (lb, rest) = rest.split_at_checked(n).ok_or(KeyFormatError::Der)?;
            let len = lb.iter().fold(0usize, |a, &b| (a << 8) | usize::from(b));
            if len < 0x80 || lb.first() == Some(&0) {
                return Err(KeyFormatError::Der); // not the shortest length encoding
            }
            (len, rest)
        };
        let (v, rest) = rest.split_at_checked(len).ok_or(KeyFormatError::Der)?;
        self.b = rest;
        Ok((tag, v))
    }

    pub(crate) fn expect(&mut self, tag: u8) -> Result<&'a [u8], KeyFormatError> {
        match self.any()? {
            (t, v) if t == tag => Ok(v),
            _ => Err(KeyFormatError::Der),
        }
    }

    pub(crate) fn sequence(&mut self) -> Result<Der<'a>, KeyFormatError> {
        self.expect(SEQUENCE).map(Der::new)
    }

    /// A non-negative INTEGER as minimal big-endian bytes (a leading sign zero removed).
    pub(crate) fn uint(&mut self) -> Result<&'a [u8], KeyFormatError> {
        let v = self.expect(INTEGER)?;
        match v {
            [] => Err(KeyFormatError::Der),
            [0] => Ok(&[]),
            [0, rest @ ..] if rest.first().is_some_and(|b| b & 0x80 != 0) => Ok(rest),
            [0, ..] => Err(KeyFormatError::Der),
            [b, ..] if b & 0x80 != 0 => Err(KeyFormatError::Der), // negative
            _ => Ok(v),
        }
    }

    /// The contents of a BIT STRING with no unused bits.
    pub(crate) fn bit_string(&mut self) -> Result<&'a [u8], KeyFormatError> {
        match self.expect(BIT_STRING)? {
            [0, rest @ ..] => Ok(rest),
            _ => Err(KeyFormatError::Der),
        }
    }
}

/// OIDs (DER contents).
pub(crate) mod oid {
    pub const RSA: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01];
    pub const EC: &[u8] = &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01];
    pub const P256: &[u8] = &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07];
    pub const P384: &[u8] = &[0x2B, 0x81, 0x04, 0x00, 0x22];
    #[cfg(feature = "es512")]
    pub const P521: &[u8] = &[0x2B, 0x81, 0x04, 0x00, 0x23];
    #[cfg(feature = "es256k")]
    pub const SECP256K1: &[u8] = &[0x2B, 0x81, 0x04, 0x00, 0x0A];
    pub const ED25519: &[u8] = &[0x2B, 0x65, 0x70];
}

/// A public key read from SPKI, PKCS#1 or a certificate (borrowed from the input).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PublicKeyBytes<'a> {
    /// RSA modulus and exponent (big-endian, minimal).
    Rsa {
        /// Modulus.
        n: &'a [u8],
        /// Public exponent.
        e: &'a [u8],
    },
    /// EC point `04 || x || y`.
    Ec {
        /// The curve.
        curve: crate::Curve,
        /// Uncompressed SEC1 point.
        point: &'a [u8],
    },
    /// Ed25519 public key.
    Ed25519(&'a [u8; 32]),
}

impl PublicKeyBytes<'_> {
    /// The verification key, with an optional `kid` and `alg` binding.
    ///
    /// # Errors
    /// Any [`crate::KeyError`] from validation.
    pub fn to_jwk(
        &self,
        kid: Option<&[u8]>,
        alg: Option<crate::Algorithm>,
    ) -> Result<crate::Jwk, crate::KeyError> {
        match *self {
            PublicKeyBytes::Rsa { n, e } => crate::Jwk::rsa(kid, n, e, alg),
            PublicKeyBytes::Ec { curve, point } => {
                let cl = curve.coord_len();
                match point.split_first() {
                    Some((4, xy)) if xy.len() == 2 * cl => {
                        let (x, y) = xy.split_at(cl);
                        crate::Jwk::ec(kid, curve, x, y, alg)
                    }
                    _ => Err(crate::KeyError::InvalidPoint),
                }
            }
            PublicKeyBytes::Ed25519(pk) => crate::Jwk::ed25519(kid, pk, alg),
        }
    }
}

fn rsa_public(der: &[u8]) -> Result<PublicKeyBytes<'_>, KeyFormatError> {
    let mut s = Der::new(der).sequence()?;
    let n = s.uint()?;
    let e = s.uint()?;
    if !s.is_empty() {
        return Err(KeyFormatError::Der);
    }
    Ok(PublicKeyBytes::Rsa { n, e })
}

/// Reads a DER SubjectPublicKeyInfo (RFC 5280 §4.1.2.7).
///
/// # Errors
/// [`KeyFormatError::Der`] or [`KeyFormatError::Unsupported`].
pub fn spki(der: &[u8]) -> Result<PublicKeyBytes<'_>, KeyFormatError> {
    let mut outer = Der::new(der);
    let mut s = outer.sequence()?;
    if !outer.is_empty() {
        return Err(KeyFormatError::Der);
    }
    spki_fields(&mut s)
}

fn spki_fields<'a>(s: &mut Der<'a>) -> Result<PublicKeyBytes<'a>, KeyFormatError> {
    let mut alg = s.sequence()?;
    let id = alg.expect(OID)?;
    let key = s.bit_string()?;
    if id == oid::RSA {
        rsa_public(key)
    } else if id == oid::EC {
        let curve = named_curve(alg.expect(OID)?)?;
        Ok(PublicKeyBytes::Ec { curve, point: key })
    } else if id == oid::ED25519 {
        Ok(PublicKeyBytes::Ed25519(
            key.try_into().map_err(|_| KeyFormatError::Der)?,
        ))
    } else {
        Err(KeyFormatError::Unsupported)
    }
}

/// The subject public key of a DER X.509 certificate (not validated as a certificate:
/// no chain, dates or signature are checked; the key is what the caller decided to trust).
///
/// # Errors
/// [`KeyFormatError::Der`] or [`KeyFormatError::Unsupported`].
pub fn certificate_public_key(der: &[u8]) -> Result<PublicKeyBytes<'_>, KeyFormatError> {
    let mut cert = Der::new(der).sequence()?;
    let mut tbs = cert.sequence()?;
    if tbs.peek_tag() == Some(0xA0) {
        tbs.any()?; // [0] version
    }
    tbs.expect(INTEGER)?; // serial
    tbs.sequence()?; // signature algorithm
    tbs.sequence()?; // issuer
    tbs.sequence()?; // validity
    tbs.sequence()?; // subject
    let mut spki = tbs.sequence()?;
    spki_fields(&mut spki)
}

/// Private key components read from PKCS#1, PKCS#8 or SEC1 (borrowed from the input).
#[derive(Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PrivateKeyBytes<'a> {
    /// RSA with its CRT parameters (big-endian, minimal).
    Rsa {
        /// Modulus.
        n: &'a [u8],
        /// Public exponent.
        e: &'a [u8],
        /// Private exponent.
        d: &'a [u8],
        /// First prime.
        p: &'a [u8],
        /// Second prime.
        q: &'a [u8],
        /// `d mod (p - 1)`.
        dp: &'a [u8],
        /// `d mod (q - 1)`.
        dq: &'a [u8],
        /// `q^-1 mod p`.
        qi: &'a [u8],
    },
    /// An EC private scalar.
    Ec {
        /// The curve.
        curve: crate::Curve,
        /// The scalar (big-endian, the curve's length).
        d: &'a [u8],
    },
    /// An Ed25519 seed.
    Ed25519(&'a [u8; 32]),
}

impl core::fmt::Debug for PrivateKeyBytes<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            PrivateKeyBytes::Rsa { .. } => "PrivateKeyBytes::Rsa(..)",
            PrivateKeyBytes::Ec { .. } => "PrivateKeyBytes::Ec(..)",
            PrivateKeyBytes::Ed25519(_) => "PrivateKeyBytes::Ed25519(..)",
        })
    }
}

/// Reads a PKCS#1 `RSAPrivateKey` (RFC 8017 §A.1.2; two primes only).
///
/// # Errors
/// [`KeyFormatError`].
pub fn pkcs1_private(der: &[u8]) -> Result<PrivateKeyBytes<'_>, KeyFormatError> {
    let mut s = Der::new(der).sequence()?;
    if s.uint()? != b"" {
        return Err(KeyFormatError::Unsupported); // multi-prime
    }
    Ok(PrivateKeyBytes::Rsa {
        n: s.uint()?,
        e: s.uint()?,
        d: s.uint()?,
        p: s.uint()?,
        q: s.uint()?,
        dp: s.uint()?,
        dq: s.uint()?,
        qi: s.uint()?,
    })
}

/// The curve of a named-curve OID, if this build handles it.
fn named_curve(c: &[u8]) -> Result<crate::Curve, KeyFormatError> {
    match c {
        c if c == oid::P256 => Ok(crate::Curve::P256),
        c if c == oid::P384 => Ok(crate::Curve::P384),
        #[cfg(feature = "es512")]
        c if c == oid::P521 => Ok(crate::Curve::P521),
        #[cfg(feature = "es256k")]
        c if c == oid::SECP256K1 => Ok(crate::Curve::Secp256k1),
        _ => Err(KeyFormatError::Unsupported),
    }
}

/// Reads a SEC1 `ECPrivateKey` (RFC 5915); `curve` comes from PKCS#8 when wrapped.
///
/// # Errors
/// [`KeyFormatError`].
pub fn sec1_private(
    der: &[u8],
    curve: Option<crate::Curve>,
) -> Result<PrivateKeyBytes<'_>, KeyFormatError> {
    let mut s = Der::new(der).sequence()?;
    if s.uint()? != [1] {
        return Err(KeyFormatError::Der);
    }
    let d = s.expect(OCTET_STRING)?;
    let mut curve = curve;
    if s.peek_tag() == Some(0xA0) {
        let (_, params) = s.any()?;
        curve = Some(named_curve(Der::new(params).expect(OID)?)?);
    }
    let curve = curve
        .or(match d.len() {
            // A SEC 1 key without its curve: P-256 for 32 bytes (secp256k1 keys name theirs).
            32 => Some(crate::Curve::P256),
            48 => Some(crate::Curve::P384),
            #[cfg(feature = "es512")]
            66 => Some(crate::Curve::P521),
            _ => None,
        })
        .ok_or(KeyFormatError::Unsupported)?;
    Ok(PrivateKeyBytes::Ec { curve, d })
}

/// Reads a PKCS#8 `PrivateKeyInfo` (RFC 5208 / RFC 5958) holding RSA, EC or Ed25519.
///
/// # Errors
/// [`KeyFormatError`].
pub fn pkcs8_private(der: &[u8]) -> Result<PrivateKeyBytes<'_>, KeyFormatError> {
    let mut s = Der::new(der).sequence()?;
    let version = s.uint()?;
    if version != b"" && version != [1] {
        return Err(KeyFormatError::Der);
    }
    let mut alg = s.sequence()?;
    let id = alg.expect(OID)?;
    let inner = s.expect(OCTET_STRING)?;
    if id == oid::RSA {
        pkcs1_private(inner)
    } else if id == oid::EC {
        let curve = named_curve(alg.expect(OID)?)?;
        sec1_private(inner, Some(curve))
    } else if id == oid::ED25519 {
        let seed = Der::new(inner).expect(OCTET_STRING)?;
        Ok(PrivateKeyBytes::Ed25519(
            seed.try_into().map_err(|_| KeyFormatError::Der)?,
        ))
    } else {
        Err(KeyFormatError::Unsupported)
    }
}

/// Reads a private key from PEM (`RSA PRIVATE KEY`, `PRIVATE KEY`, `EC PRIVATE KEY`) or DER
/// (PKCS#8, PKCS#1 or SEC1, tried in that order). `scratch` receives a PEM's DER.
///
/// # Errors
/// [`KeyFormatError`].
pub fn private_key<'s>(
    input: &'s [u8],
    scratch: &'s mut [u8],
) -> Result<PrivateKeyBytes<'s>, KeyFormatError> {
    let trimmed = input.trim_ascii_start();
    if trimmed.starts_with(b"-----BEGIN") {
        let (label, der) = pem_decode(trimmed, scratch)?;
        return match label {
            PemLabel::RsaPrivateKey => pkcs1_private(der),
            PemLabel::PrivateKey => pkcs8_private(der),
            PemLabel::EcPrivateKey => sec1_private(der, None),
            _ => Err(KeyFormatError::Unsupported),
        };
    }
    pkcs8_private(input)
        .or_else(|_| pkcs1_private(input))
        .or_else(|_| sec1_private(input, None))
}

/// Reads a public key from PEM or DER: SPKI, PKCS#1 `RSA PUBLIC KEY`, or a certificate.
/// `scratch` receives the decoded DER of a PEM input.
///
/// # Errors
/// [`KeyFormatError`].
pub fn public_key<'s>(
    input: &'s [u8],
    scratch: &'s mut [u8],
) -> Result<PublicKeyBytes<'s>, KeyFormatError> {
    let trimmed = input.trim_ascii_start();
    if trimmed.starts_with(b"-----BEGIN") {
        let (label, der) = pem_decode(trimmed, scratch)?;
        return match label {
            PemLabel::PublicKey => spki(der),
            PemLabel::RsaPublicKey => rsa_public(der),
            PemLabel::Certificate => certificate_public_key(der),
            _ => Err(KeyFormatError::Unsupported),
        };
    }
    spki(input)
        .or_else(|_| certificate_public_key(input))
        .or_else(|_| rsa_public(input))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_lengths_are_strict() {
        // Long form for a short length is refused.
        assert_eq!(
            Der::new(&[0x04, 0x81, 0x01, 0xAA]).any(),
            Err(KeyFormatError::Der)
        );
        assert_eq!(Der::new(&[0x04, 0x01, 0xAA]).any(), Ok((0x04, &[0xAA][..])));
        assert_eq!(
            Der::new(&[0x04, 0x05, 0xAA]).any(),
            Err(KeyFormatError::Der)
        );
        // Integers: sign byte stripped, negative and padded refused.
        assert_eq!(Der::new(&[0x02, 0x02, 0x00, 0x80]).uint(), Ok(&[0x80][..]));
        assert_eq!(
            Der::new(&[0x02, 0x02, 0x00, 0x10]).uint(),
            Err(KeyFormatError::Der)
        );
        assert_eq!(
            Der::new(&[0x02, 0x01, 0x80]).uint(),
            Err(KeyFormatError::Der)
        );
    }

    #[test]
    fn pem_round_trip() {
        let pem = b"-----BEGIN PUBLIC KEY-----\nAAEC\nAw==\n-----END PUBLIC KEY-----\n";
        let mut out = [0u8; 16];
        let (l, der) = pem_decode(pem, &mut out).unwrap();
        assert_eq!(l, PemLabel::PublicKey);
        assert_eq!(der, &[0, 1, 2, 3]);
        let bad = b"-----BEGIN PUBLIC KEY-----\nAAEC\n-----END PRIVATE KEY-----\n";
        assert_eq!(pem_decode(bad, &mut out), Err(KeyFormatError::Pem));
    }
}
