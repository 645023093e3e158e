//! JWS algorithms (RFC 7518 §3, RFC 8037 §3.1) and what key each one needs.
//!
//! One value per parameter set, like ring's `ECDSA_P256_SHA256_FIXED`: `alg::RS256`, ...

use core::fmt;

/// A JWS signature algorithm this engine implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[expect(
    missing_docs,
    reason = "the variants are the JOSE names, documented by `name()`"
)]
#[repr(u8)]
#[non_exhaustive]
pub enum Algorithm {
    Hs256 = 0,
    Hs384 = 1,
    Hs512 = 2,
    Rs256 = 3,
    Rs384 = 4,
    Rs512 = 5,
    Ps256 = 6,
    Ps384 = 7,
    Ps512 = 8,
    Es256 = 9,
    Es384 = 10,
    EdDsa = 11,
    Ed25519 = 12,
    Es512 = 13,
    Es256k = 14,
}

/// HMAC with SHA-256 (RFC 7518 §3.2).
pub const HS256: Algorithm = Algorithm::Hs256;
/// HMAC with SHA-384 (RFC 7518 §3.2).
pub const HS384: Algorithm = Algorithm::Hs384;
/// HMAC with SHA-512 (RFC 7518 §3.2).
pub const HS512: Algorithm = Algorithm::Hs512;
/// RSASSA-PKCS1-v1_5 with SHA-256 (RFC 7518 §3.3).
pub const RS256: Algorithm = Algorithm::Rs256;
/// RSASSA-PKCS1-v1_5 with SHA-384 (RFC 7518 §3.3).
pub const RS384: Algorithm = Algorithm::Rs384;
/// RSASSA-PKCS1-v1_5 with SHA-512 (RFC 7518 §3.3).
pub const RS512: Algorithm = Algorithm::Rs512;
/// RSASSA-PSS with SHA-256, MGF1 SHA-256, salt length 32 (RFC 7518 §3.5).
pub const PS256: Algorithm = Algorithm::Ps256;
/// RSASSA-PSS with SHA-384, MGF1 SHA-384, salt length 48 (RFC 7518 §3.5).
pub const PS384: Algorithm = Algorithm::Ps384;
/// RSASSA-PSS with SHA-512, MGF1 SHA-512, salt length 64 (RFC 7518 §3.5).
pub const PS512: Algorithm = Algorithm::Ps512;
/// ECDSA P-256 with SHA-256, raw `r || s` (RFC 7518 §3.4).
pub const ES256: Algorithm = Algorithm::Es256;
/// ECDSA P-384 with SHA-384, raw `r || s` (RFC 7518 §3.4).
pub const ES384: Algorithm = Algorithm::Es384;
/// Ed25519 (RFC 8037 §3.1).
pub const EDDSA: Algorithm = Algorithm::EdDsa;
/// Ed25519 by its fully-specified name (RFC 9864 §2.2): the same signature as `EdDSA` with an
/// Ed25519 key, named without depending on the key.
pub const ED25519: Algorithm = Algorithm::Ed25519;
/// ECDSA P-521 with SHA-512, raw `r || s` of 132 bytes (RFC 7518 §3.4). Verified and signed
/// with the `es512` feature.
pub const ES512: Algorithm = Algorithm::Es512;
/// ECDSA secp256k1 with SHA-256, raw `r || s` (RFC 8812 §3.2). Verified and signed with the
/// `es256k` feature.
pub const ES256K: Algorithm = Algorithm::Es256k;

/// SHA-2 variants used by the algorithms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[expect(missing_docs, reason = "each variant is the SHA-2 function it names")]
#[non_exhaustive]
pub enum HashAlg {
    Sha256,
    Sha384,
    Sha512,
}

impl HashAlg {
    /// Output length in bytes.
    pub const fn output_len(self) -> usize {
        match self {
            HashAlg::Sha256 => 32,
            HashAlg::Sha384 => 48,
            HashAlg::Sha512 => 64,
        }
    }
}

/// The key family an algorithm needs. A token never chooses it: it follows from the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Family {
    /// `oct` keys.
    Hmac(HashAlg),
    /// RSA keys, PKCS#1 v1.5 padding.
    RsaPkcs1(HashAlg),
    /// RSA keys, PSS padding (salt length = hash length).
    RsaPss(HashAlg),
    /// EC P-256 keys.
    EcdsaP256,
    /// EC P-384 keys.
    EcdsaP384,
    /// EC P-521 keys.
    EcdsaP521,
    /// EC secp256k1 keys.
    EcdsaSecp256k1,
    /// OKP Ed25519 keys.
    Ed25519,
}

impl Algorithm {
    /// Every algorithm, in a fixed order.
    pub const ALL: [Algorithm; 15] = [
        HS256, HS384, HS512, RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, EDDSA,
        ED25519, ES512, ES256K,
    ];

    /// The registered `alg` name.
    pub const fn name(self) -> &'static str {
        match self {
            Algorithm::Hs256 => "HS256",
            Algorithm::Hs384 => "HS384",
            Algorithm::Hs512 => "HS512",
            Algorithm::Rs256 => "RS256",
            Algorithm::Rs384 => "RS384",
            Algorithm::Rs512 => "RS512",
            Algorithm::Ps256 => "PS256",
            Algorithm::Ps384 => "PS384",
            Algorithm::Ps512 => "PS512",
            Algorithm::Es256 => "ES256",
            Algorithm::Es384 => "ES384",
            Algorithm::EdDsa => "EdDSA",
            Algorithm::Ed25519 => "Ed25519",
            Algorithm::Es512 => "ES512",
            Algorithm::Es256k => "ES256K",
        }
    }

    /// Looks up an `alg` value by exact, case-sensitive name (RFC 7515 §4.1.1). `ES512` and
    /// `ES256K` are found only with the `es512` / `es256k` features.
    /// A `match` on the bytes: one length test and a word compare, not a compare per name.
    pub fn from_name(name: &[u8]) -> Option<Algorithm> {
        Some(match name {
            b"HS256" => HS256,
            b"HS384" => HS384,
            b"HS512" => HS512,
            b"RS256" => RS256,
            b"RS384" => RS384,
            b"RS512" => RS512,
            b"PS256" => PS256,
            b"PS384" => PS384,
            b"PS512" => PS512,
            b"ES256" => ES256,
            b"ES384" => ES384,
            b"EdDSA" => EDDSA,
            b"Ed25519" => ED25519,
            // Known only to builds that verify them: elsewhere they are unsupported, like
            // any other algorithm this build does not implement.
            #[cfg(feature = "es512")]
            b"ES512" => ES512,
            #[cfg(feature = "es256k")]
            b"ES256K" => ES256K,
            _ => return None,
        })
    }

    /// The key family and hash.
    pub const fn family(self) -> Family {
        match self {
            Algorithm::Hs256 => Family::Hmac(HashAlg::Sha256),
            Algorithm::Hs384 => Family::Hmac(HashAlg::Sha384),
            Algorithm::Hs512 => Family::Hmac(HashAlg::Sha512),
            Algorithm::Rs256 => Family::RsaPkcs1(HashAlg::Sha256),
            Algorithm::Rs384 => Family::RsaPkcs1(HashAlg::Sha384),
            Algorithm::Rs512 => Family::RsaPkcs1(HashAlg::Sha512),
            Algorithm::Ps256 => Family::RsaPss(HashAlg::Sha256),
            Algorithm::Ps384 => Family::RsaPss(HashAlg::Sha384),
            Algorithm::Ps512 => Family::RsaPss(HashAlg::Sha512),
            Algorithm::Es256 => Family::EcdsaP256,
            Algorithm::Es384 => Family::EcdsaP384,
            Algorithm::EdDsa | Algorithm::Ed25519 => Family::Ed25519,
            Algorithm::Es512 => Family::EcdsaP521,
            Algorithm::Es256k => Family::EcdsaSecp256k1,
        }
    }

    /// The exact signature length for fixed-size algorithms (`None` for RSA: modulus length).
    pub const fn signature_len(self) -> Option<usize> {
        match self.family() {
            Family::Hmac(h) => Some(h.output_len()),
            Family::EcdsaP256 => Some(64),
            Family::EcdsaP384 => Some(96),
            Family::EcdsaP521 => Some(132),
            Family::EcdsaSecp256k1 => Some(64),
            Family::Ed25519 => Some(64),
            Family::RsaPkcs1(_) | Family::RsaPss(_) => None,
        }
    }

    const fn bit(self) -> u16 {
        1 << (self as u8)
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Whether an `alg` value is `none` in any case spelling (never accepted).
pub fn is_none_alg(name: &[u8]) -> bool {
    name.eq_ignore_ascii_case(b"none")
}

/// A set of algorithms (the policy's allow-list).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct AlgSet(u16);

impl AlgSet {
    /// No algorithm.
    pub const EMPTY: AlgSet = AlgSet(0);
    /// Every algorithm the engine implements.
    pub const ALL: AlgSet = AlgSet((1 << 15) - 1);
    /// Asymmetric algorithms only (RS*, PS*, ES*, EdDSA, Ed25519).
    pub const ASYMMETRIC: AlgSet = AlgSet(Self::ALL.0 & !0b111);

    /// A set from a list.
    #[expect(clippy::indexing_slicing, reason = "`i < algs.len()`")]
    pub const fn from_slice(algs: &[Algorithm]) -> AlgSet {
        let mut bits = 0u16;
        let mut i = 0;
        while i < algs.len() {
            bits |= algs[i].bit();
            i += 1;
        }
        AlgSet(bits)
    }

    /// This set plus `alg`.
    #[must_use]
    pub const fn with(self, alg: Algorithm) -> AlgSet {
        AlgSet(self.0 | alg.bit())
    }

    /// Whether `alg` is in the set.
    pub const fn contains(self, alg: Algorithm) -> bool {
        self.0 & alg.bit() != 0
    }

    /// Whether the two sets share an algorithm.
    pub const fn intersects(self, other: AlgSet) -> bool {
        self.0 & other.0 != 0
    }

    /// Whether the set is empty.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The members, in [`Algorithm::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = Algorithm> {
        Algorithm::ALL
            .into_iter()
            .filter(move |a| self.contains(*a))
    }

    /// The raw bit mask (bit i = `Algorithm::ALL[i]`), for wire formats.
    pub const fn bits(self) -> u16 {
        self.0
    }

    /// From a raw bit mask; unknown bits are dropped.
    pub const fn from_bits(bits: u16) -> AlgSet {
        AlgSet(bits & Self::ALL.0)
    }
}

/// The algorithms a key is imported for: a JWK whose type, curve or `alg` fits none of them
/// is refused at import ([`crate::Jwk::from_json_for`], the updates of a [`crate::KeySet`],
/// the device's `LOAD_JWK` and `JWKS_*`), so these keep no key they could not verify with,
/// and a small build does not link the import of the key types it leaves out. Every
/// [`crate::Backend`] is one, accepting its [`crate::Backend::ALGORITHMS`]; [`AnyAlgorithm`]
/// accepts all.
pub trait KeyFilter {
    /// The algorithms accepted.
    const ACCEPTS: AlgSet;
}

/// The [`KeyFilter`] that accepts every algorithm ([`crate::Jwk::from_json`],
/// [`crate::JwksParser::feed`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct AnyAlgorithm;

impl KeyFilter for AnyAlgorithm {
    const ACCEPTS: AlgSet = AlgSet::ALL;
}

// Value types every layer above uses (curves, digests, sizes): defined here, at the bottom,
// so the key, curve and RSA code never has to import the crypto layer for them.

/// Elliptic curves for ECDSA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Curve {
    /// NIST P-256 (secp256r1).
    P256,
    /// NIST P-384 (secp384r1).
    P384,
    /// NIST P-521 (secp521r1), for ES512 (the `es512` feature).
    P521,
    /// SEC 2 secp256k1, for ES256K (RFC 8812; the `es256k` feature).
    Secp256k1,
}

impl Curve {
    /// Coordinate (and scalar) length in bytes.
    pub const fn coord_len(self) -> usize {
        match self {
            Curve::P256 | Curve::Secp256k1 => 32,
            Curve::P384 => 48,
            Curve::P521 => 66,
        }
    }

    /// The JWK `crv` name (RFC 7518 §6.2.1.1, RFC 8812 §3.1).
    pub const fn name(self) -> &'static str {
        match self {
            Curve::P256 => "P-256",
            Curve::P384 => "P-384",
            Curve::P521 => "P-521",
            Curve::Secp256k1 => "secp256k1",
        }
    }

    /// The curve of a JWK `crv` name, if this build handles it (P-521 needs the `es512`
    /// feature, secp256k1 `es256k`).
    pub fn from_name(name: &[u8]) -> Option<Curve> {
        match name {
            b"P-256" => Some(Curve::P256),
            b"P-384" => Some(Curve::P384),
            #[cfg(feature = "es512")]
            b"P-521" => Some(Curve::P521),
            #[cfg(feature = "es256k")]
            b"secp256k1" => Some(Curve::Secp256k1),
            _ => None,
        }
    }

    /// The ECDSA algorithm family keys on this curve belong to.
    pub const fn family(self) -> Family {
        use Family;
        match self {
            Curve::P256 => Family::EcdsaP256,
            Curve::P384 => Family::EcdsaP384,
            Curve::P521 => Family::EcdsaP521,
            Curve::Secp256k1 => Family::EcdsaSecp256k1,
        }
    }
}

/// Every algorithm whose keys this build can import: all but ES512 without the `es512`
/// feature and ES256K without `es256k`. Backends that verify everything declare this.
pub const BUILD_ALGORITHMS: crate::AlgSet = {
    let all = crate::AlgSet::ALL.bits();
    let es512 = if cfg!(feature = "es512") {
        0
    } else {
        1 << (ES512 as u8)
    };
    let es256k = if cfg!(feature = "es256k") {
        0
    } else {
        1 << (ES256K as u8)
    };
    crate::AlgSet::from_bits(all & !es512 & !es256k)
};

/// The longest uncompressed SEC1 point of a curve this build handles (`04 || x || y`).
#[cfg(feature = "es512")]
pub const EC_POINT_MAX: usize = 1 + 2 * 66;
/// The longest uncompressed SEC1 point of a curve this build handles (`04 || x || y`).
#[cfg(not(feature = "es512"))]
pub const EC_POINT_MAX: usize = 1 + 2 * 48;
/// The longest EC coordinate (and private scalar) of a curve this build handles.
pub const EC_COORD_MAX: usize = (EC_POINT_MAX - 1) / 2;

/// A SHA-2 digest (up to 64 bytes).
#[derive(Clone, Copy)]
pub struct Digest {
    bytes: [u8; 64],
    len: usize,
}

impl Digest {
    /// Wraps the first `len` bytes of `bytes`.
    pub fn new(bytes: [u8; 64], len: usize) -> Self {
        Digest {
            bytes,
            len: len.min(64),
        }
    }
}

impl AsRef<[u8]> for Digest {
    fn as_ref(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or(&[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_exactly() {
        for a in Algorithm::ALL {
            let built = (a != ES512 || cfg!(feature = "es512"))
                && (a != ES256K || cfg!(feature = "es256k"));
            let want = if built { Some(a) } else { None };
            assert_eq!(Algorithm::from_name(a.name().as_bytes()), want, "{a}");
        }
        assert_eq!(Algorithm::from_name(b"hs256"), None);
        assert_eq!(Algorithm::from_name(b"HS256 "), None);
        assert_eq!(Algorithm::from_name(b"HS256\0"), None);
        assert_eq!(Algorithm::from_name(b"ES521"), None);
        assert_eq!(Algorithm::from_name(b"ES256k"), None);
        assert!(is_none_alg(b"nOnE"));
        assert!(!is_none_alg(b" none"));
    }

    #[test]
    fn sets() {
        let s = AlgSet::from_slice(&[RS256, ES256]);
        assert!(s.contains(RS256) && s.contains(ES256) && !s.contains(HS256));
        assert_eq!(s.iter().count(), 2);
        assert!(!AlgSet::ASYMMETRIC.contains(HS512));
        assert!(AlgSet::ASYMMETRIC.contains(EDDSA));
        assert!(AlgSet::ASYMMETRIC.contains(ED25519));
        assert_eq!(ED25519.family(), EDDSA.family());
        assert_eq!(Algorithm::from_name(b"Ed25519"), Some(ED25519));
        assert_eq!(Algorithm::from_name(b"ED25519"), None);
        assert_eq!(AlgSet::from_bits(0xFFFF), AlgSet::ALL);
    }
}
