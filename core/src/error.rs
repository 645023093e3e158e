//! Errors: one small `Copy` enum per layer, and the top-level [`Error`] whose variants map
//! one-to-one to the stable codes of the command-line contract (`Error::code`).

use core::fmt;

/// Why a token was rejected. Each variant is one stable, snake_case code ([`Error::code`]).
///
/// Signature failures are opaque on purpose ([`Error::BadSignature`] carries no detail).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Error {
    /// `malformed`: not a well-formed compact JWS/JWT (structure, base64url, JSON, header types).
    Malformed(Malformed),
    /// `too_large`: the token, or its decoded parts, exceed the configured limits or buffer.
    TooLarge,
    /// `unsupported_alg`: `alg` names no algorithm this engine implements (`none` included).
    UnsupportedAlg,
    /// `alg_not_allowed`: the algorithm is known but the policy or the selected key forbids it.
    AlgNotAllowed,
    /// `key_not_found`: no key in the set matches the token's `kid` (or fits a kid-less token).
    KeyNotFound,
    /// `key_rejected`: a key exists but must not be used (weak, stale key set, ...).
    KeyRejected(KeyError),
    /// `bad_signature`: the signature does not verify. Deliberately without detail.
    BadSignature,
    /// `expired`: `exp` is at or before now (minus leeway), or the token is older than the
    /// policy's maximum age.
    Expired,
    /// `not_yet_valid`: `nbf` is after now (plus leeway).
    NotYetValid,
    /// `issued_in_future`: `iat` is after now (plus leeway).
    IssuedInFuture,
    /// `wrong_issuer`: `iss` is not the expected issuer.
    WrongIssuer,
    /// `wrong_audience`: `aud` does not contain the expected audience.
    WrongAudience,
    /// `wrong_subject`: `sub` is not the expected subject.
    WrongSubject,
    /// `wrong_type`: the header `typ` is not the expected type.
    WrongType,
    /// `missing_claim`: a required claim is absent.
    MissingClaim(Claim),
    /// `invalid_claim`: a registered claim has the wrong JSON type or an out-of-range value.
    InvalidClaim(Claim),
    /// `crit_unsupported`: the header has `crit`; this engine understands no extension.
    CritUnsupported,
    /// `replayed`: the token's `jti` was seen before, or the replay cache is full of unexpired
    /// entries and refuses new tokens rather than forget one (see [`crate::ReplayCache`]).
    Replayed(ReplayError),
}

impl Error {
    /// Every stable code, in the order of the variants.
    pub const CODES: [&'static str; 18] = [
        "malformed",
        "too_large",
        "unsupported_alg",
        "alg_not_allowed",
        "key_not_found",
        "key_rejected",
        "bad_signature",
        "expired",
        "not_yet_valid",
        "issued_in_future",
        "wrong_issuer",
        "wrong_audience",
        "wrong_subject",
        "wrong_type",
        "missing_claim",
        "invalid_claim",
        "crit_unsupported",
        "replayed",
    ];

    /// The stable snake_case code of this error (the CLI and device protocol use it):
    /// [`Error::CODES`] at [`Error::code_number`], the one table of codes.
    pub const fn code(&self) -> &'static str {
        let n = self.code_number() as usize;
        if n < Self::CODES.len() {
            #[expect(clippy::indexing_slicing, reason = "n < CODES.len(), checked above")]
            Self::CODES[n]
        } else {
            "malformed"
        }
    }

    /// A small stable number for the code (index into [`Error::CODES`]); used on the wire.
    pub const fn code_number(&self) -> u8 {
        match self {
            Error::Malformed(_) => 0,
            Error::TooLarge => 1,
            Error::UnsupportedAlg => 2,
            Error::AlgNotAllowed => 3,
            Error::KeyNotFound => 4,
            Error::KeyRejected(_) => 5,
            Error::BadSignature => 6,
            Error::Expired => 7,
            Error::NotYetValid => 8,
            Error::IssuedInFuture => 9,
            Error::WrongIssuer => 10,
            Error::WrongAudience => 11,
            Error::WrongSubject => 12,
            Error::WrongType => 13,
            Error::MissingClaim(_) => 14,
            Error::InvalidClaim(_) => 15,
            Error::CritUnsupported => 16,
            Error::Replayed(_) => 17,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Malformed(m) => write!(f, "malformed token: {m}"),
            Error::TooLarge => f.write_str("token exceeds the configured size limit or buffer"),
            Error::UnsupportedAlg => f.write_str("the header's alg is not a supported algorithm"),
            Error::AlgNotAllowed => {
                f.write_str("the algorithm is not allowed by the policy or by the selected key")
            }
            Error::KeyNotFound => f.write_str("no key in the key set matches the token"),
            Error::KeyRejected(k) => write!(f, "key rejected: {k}"),
            Error::BadSignature => f.write_str("signature does not verify"),
            Error::Expired => f.write_str("token has expired (exp, or older than the maximum age)"),
            Error::NotYetValid => f.write_str("token is not valid yet (nbf)"),
            Error::IssuedInFuture => f.write_str("token issued in the future (iat)"),
            Error::WrongIssuer => f.write_str("issuer (iss) is not the expected one"),
            Error::WrongAudience => f.write_str("audience (aud) does not contain the expected one"),
            Error::WrongSubject => f.write_str("subject (sub) is not the expected one"),
            Error::WrongType => f.write_str("header typ is not the expected type"),
            Error::MissingClaim(c) => write!(f, "required claim {c} is missing"),
            Error::InvalidClaim(c) => write!(f, "claim {c} has the wrong type or range"),
            Error::CritUnsupported => {
                f.write_str("header has crit: no critical extension is understood")
            }
            Error::Replayed(r) => write!(f, "token refused by the replay check: {r}"),
        }
    }
}

impl core::error::Error for Error {}

/// What is malformed in a token.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Malformed {
    /// Not exactly three `.`-separated segments, or an empty header, payload or signature.
    Segments,
    /// A segment is not canonical unpadded base64url (RFC 7515 §2, RFC 4648 §5).
    Base64,
    /// Header or payload is not a valid JSON object (RFC 8259).
    Json(JsonError),
    /// A registered header parameter or claim name occurs twice (RFC 7515 §4, RFC 7519 §4).
    DuplicateMember,
    /// A header parameter has the wrong type or is not acceptable.
    Header(HeaderError),
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Malformed::Segments => {
                f.write_str("expected three non-empty base64url segments separated by '.'")
            }
            Malformed::Base64 => f.write_str("segment is not canonical unpadded base64url"),
            Malformed::Json(j) => write!(f, "invalid JSON: {j}"),
            Malformed::DuplicateMember => f.write_str("duplicate registered member name"),
            Malformed::Header(h) => write!(f, "header: {h}"),
        }
    }
}

impl core::error::Error for Malformed {}

impl From<Malformed> for Error {
    fn from(m: Malformed) -> Self {
        Error::Malformed(m)
    }
}

impl From<JsonError> for Error {
    fn from(j: JsonError) -> Self {
        Error::Malformed(Malformed::Json(j))
    }
}

impl From<HeaderError> for Error {
    fn from(h: HeaderError) -> Self {
        Error::Malformed(Malformed::Header(h))
    }
}

/// JSON grammar errors (RFC 8259), found by the bounded, non-recursive scanners.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum JsonError {
    /// Unexpected byte or end of input.
    Syntax,
    /// Bytes are not valid UTF-8.
    Utf8,
    /// Invalid escape sequence in a string.
    Escape,
    /// A `\u` escape is a lone or misordered UTF-16 surrogate.
    Surrogate,
    /// An unescaped control character (U+0000..U+001F) inside a string.
    ControlCharacter,
    /// Nesting deeper than the configured limit.
    Depth,
    /// Data after the top-level value.
    TrailingData,
    /// The top-level value is not an object.
    NotAnObject,
    /// A number is not a valid JSON number (leading zeros, `+`, `NaN`, ...).
    Number,
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            JsonError::Syntax => "unexpected character or end of input",
            JsonError::Utf8 => "not valid UTF-8",
            JsonError::Escape => "invalid string escape",
            JsonError::Surrogate => "lone or misordered UTF-16 surrogate escape",
            JsonError::ControlCharacter => "unescaped control character in string",
            JsonError::Depth => "nesting exceeds the depth limit",
            JsonError::TrailingData => "data after the top-level value",
            JsonError::NotAnObject => "top-level value is not an object",
            JsonError::Number => "invalid number",
        })
    }
}

impl core::error::Error for JsonError {}

/// A JOSE header parameter that is missing, mistyped or refused (RFC 7515 §4.1).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum HeaderError {
    /// `alg` is absent.
    AlgMissing,
    /// `alg` is not a string.
    AlgType,
    /// `kid` is not a string.
    KidType,
    /// `typ` is not a string.
    TypType,
    /// `cty` is not a string.
    CtyType,
    /// `jwk`, `jku`, `x5u` or `x5c`: keys are never taken from the token.
    EmbeddedKey,
    /// `b64` (RFC 7797 unencoded payload) is never accepted for JWTs.
    Unencoded,
    /// `zip` (compression) is never supported.
    Compression,
    /// `enc`: a JWE header parameter in a JWS.
    Encryption,
    /// `cty: JWT`: nested JWTs are not processed.
    NestedJwt,
}

impl fmt::Display for HeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HeaderError::AlgMissing => "alg is missing",
            HeaderError::AlgType => "alg is not a string",
            HeaderError::KidType => "kid is not a string",
            HeaderError::TypType => "typ is not a string",
            HeaderError::CtyType => "cty is not a string",
            HeaderError::EmbeddedKey => {
                "header carries a key or key URL (jwk/jku/x5u/x5c); keys never come from the token"
            }
            HeaderError::Unencoded => "b64 (unencoded payload) is not accepted",
            HeaderError::Compression => "zip (compression) is not supported",
            HeaderError::Encryption => "enc is a JWE parameter; this is a JWS",
            HeaderError::NestedJwt => "cty JWT: nested tokens are not processed",
        })
    }
}

impl core::error::Error for HeaderError {}

/// A registered claim (RFC 7519 §4.1), named in claim errors.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Claim {
    /// `iss`
    Iss,
    /// `sub`
    Sub,
    /// `aud`
    Aud,
    /// `exp`
    Exp,
    /// `nbf`
    Nbf,
    /// `iat`
    Iat,
    /// `jti`
    Jti,
}

impl Claim {
    /// The claim's JSON member name.
    pub const fn name(&self) -> &'static str {
        match self {
            Claim::Iss => "iss",
            Claim::Sub => "sub",
            Claim::Aud => "aud",
            Claim::Exp => "exp",
            Claim::Nbf => "nbf",
            Claim::Iat => "iat",
            Claim::Jti => "jti",
        }
    }
}

impl fmt::Display for Claim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why the replay check ([`crate::ReplayCache`]) refused a token; both are the code
/// `replayed`.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ReplayError {
    /// An unexpired token with the same `jti` was already accepted.
    Seen,
    /// Every slot holds an unexpired `jti`: the new token is refused rather than let an
    /// entry go early and admit its replay.
    Full,
}

impl fmt::Display for ReplayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ReplayError::Seen => "token id (jti) was already used",
            ReplayError::Full => {
                "replay cache is full of unexpired token ids; new tokens are refused until one expires"
            }
        })
    }
}

impl core::error::Error for ReplayError {}

impl From<ReplayError> for Error {
    fn from(r: ReplayError) -> Self {
        Error::Replayed(r)
    }
}

/// Why a JWK is refused (at import, or at use).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum KeyError {
    /// The JWK is not valid JSON, or not an object.
    Json(JsonError),
    /// A member has the wrong JSON type or is not canonical base64url.
    InvalidMember,
    /// A member name occurs twice.
    DuplicateMember,
    /// A required member (`kty`, `n`, `e`, `crv`, `x`, `y`, `k`) is absent.
    MissingMember,
    /// `kty` is not `RSA`, `EC`, `OKP` or `oct`.
    UnsupportedKeyType,
    /// `crv` is not `P-256`, `P-384`, `Ed25519`, or with the `es512` / `es256k` features
    /// `P-521` / `secp256k1`.
    UnsupportedCurve,
    /// `alg` is not a JWS algorithm this engine implements (e.g. `RSA-OAEP`, `ES521`).
    UnsupportedAlg,
    /// `alg` does not fit the key type or curve.
    AlgMismatch,
    /// `use` is present and is not `sig`.
    WrongUse,
    /// `key_ops` is present and does not contain `verify`.
    WrongKeyOps,
    /// RSA modulus outside 2048..=max bits, even, or with leading zero octets.
    RsaModulus,
    /// RSA public exponent not odd, below 3, or above 2^33 - 1.
    RsaExponent,
    /// RSA modulus carries the ROCA (CVE-2017-15361) fingerprint.
    RsaRoca,
    /// EC point is not on the curve (or coordinates out of range or of the wrong length).
    InvalidPoint,
    /// Ed25519 public key of small order (the identity among them), or not canonical.
    SmallOrder,
    /// Symmetric key shorter than the hash output of its algorithm (RFC 7518 §3.2), or too long.
    SymmetricKeySize,
    /// A private key member (`d`, `p`, ...) where a public key is expected.
    PrivateKey,
    /// `kid` longer than [`crate::MAX_KID_LEN`] bytes.
    KidTooLong,
    /// The key set has expired and the stale-serving window is over.
    Stale,
    /// The key set has no room for this key.
    NoSpace,
    /// Another key in the same set has the same `kid`.
    DuplicateKid,
    /// A symmetric (`oct`) key in a set that also holds asymmetric keys: secrets do not
    /// belong in a published key set, and mixing is the precondition of key confusion
    /// (Wycheproof `MixedKeySet`).
    MixedKeySet,
    /// A pinned key holds this `kid`: only removing the pinned key (or pinning the new
    /// one) replaces it.
    KidPinned,
    /// The key's members do not belong together: a private key's public members (`x`,
    /// `y`) or `d` do not match its private scalar or primes, or its CRT values are not
    /// those of its primes.
    KeyMismatch,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::Json(j) => write!(f, "JWK is not valid JSON: {j}"),
            KeyError::InvalidMember => {
                f.write_str("a member has the wrong type or is not canonical base64url")
            }
            KeyError::DuplicateMember => f.write_str("duplicate member name"),
            KeyError::MissingMember => f.write_str("a required member is missing"),
            KeyError::UnsupportedKeyType => f.write_str("unsupported kty"),
            KeyError::UnsupportedCurve => f.write_str("unsupported crv"),
            KeyError::UnsupportedAlg => f.write_str("alg is not a supported JWS algorithm"),
            KeyError::AlgMismatch => f.write_str("alg does not fit the key type or curve"),
            KeyError::WrongUse => f.write_str("use is not sig"),
            KeyError::WrongKeyOps => f.write_str("key_ops does not allow verify"),
            KeyError::RsaModulus => {
                f.write_str("RSA modulus size out of range, even, or not minimally encoded")
            }
            KeyError::RsaExponent => f.write_str("RSA exponent must be odd, >= 3 and < 2^33"),
            KeyError::RsaRoca => f.write_str("RSA modulus has the ROCA fingerprint"),
            KeyError::InvalidPoint => f.write_str("EC point is not on the curve"),
            KeyError::SmallOrder => {
                f.write_str("Ed25519 key is of small order or not canonically encoded")
            }
            KeyError::SymmetricKeySize => {
                f.write_str("symmetric key shorter than the hash output (or too long)")
            }
            KeyError::PrivateKey => {
                f.write_str("private key material where a public key is expected")
            }
            KeyError::KidTooLong => f.write_str("kid is too long"),
            KeyError::Stale => f.write_str("key set expired and the stale window is over"),
            KeyError::NoSpace => f.write_str("no room left in the key set"),
            KeyError::DuplicateKid => f.write_str("another key in the set has the same kid"),
            KeyError::MixedKeySet => {
                f.write_str("symmetric key in a set that also holds asymmetric keys")
            }
            KeyError::KidPinned => f.write_str("a pinned key holds this kid"),
            KeyError::KeyMismatch => f.write_str("the key's members do not belong together"),
        }
    }
}

impl core::error::Error for KeyError {}

impl From<KeyError> for Error {
    fn from(k: KeyError) -> Self {
        Error::KeyRejected(k)
    }
}

/// Why a whole JWK Set update was refused (the previous set stays in place).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum JwksError {
    /// The document is not valid JSON.
    Json(JsonError),
    /// The document is not an object with a `keys` array.
    NotAKeySet,
    /// The document ended before the top-level object closed.
    Incomplete,
    /// The set holds asymmetric private keys: the publisher leaked them; trust none.
    PrivateKeyInSet,
    /// An update was finished or fed without being started, or after it ended.
    NotStarted,
    /// The document was complete and valid, but the set it holds would leave the cache
    /// with less than it has: no usable key at all, or more new keys than free slots. The
    /// report says which ([`crate::UpdateOutcome`]) and counts what the set held; nothing
    /// was changed.
    Refused(crate::UpdateReport),
}

impl fmt::Display for JwksError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JwksError::Json(j) => write!(f, "JWK Set is not valid JSON: {j}"),
            JwksError::NotAKeySet => f.write_str("not a JWK Set (object with a keys array)"),
            JwksError::Incomplete => f.write_str("JWK Set document ended early"),
            JwksError::PrivateKeyInSet => {
                f.write_str("JWK Set contains private asymmetric keys; whole set refused")
            }
            JwksError::NotStarted => f.write_str("no update in progress"),
            JwksError::Refused(r) => match r.outcome {
                crate::UpdateOutcome::NoSpace { needed, free } => write!(
                    f,
                    "JWK Set refused: it needs {needed} free slots and {free} are free; \
                     the old keys stay"
                ),
                _ => f.write_str("JWK Set refused: it holds no usable key; the old keys stay"),
            },
        }
    }
}

impl core::error::Error for JwksError {}

impl From<JsonError> for JwksError {
    fn from(j: JsonError) -> Self {
        JwksError::Json(j)
    }
}

/// The opaque failure of a cryptographic primitive (like ring's `Unspecified`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Unspecified;

impl fmt::Display for Unspecified {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("cryptographic operation failed")
    }
}

impl core::error::Error for Unspecified {}

#[cfg(test)]
mod error_trait_tests {
    /// Every public error type is a `core::error::Error` with a message.
    #[test]
    fn every_public_error_is_an_error_with_a_message() {
        fn message<E: core::error::Error>(e: E) -> std::string::String {
            std::format!("{e}")
        }
        assert_eq!(
            message(super::Malformed::Base64),
            std::format!("{}", super::Malformed::Base64)
        );
        assert!(!message(super::JsonError::Syntax).is_empty());
        assert!(!message(super::HeaderError::AlgMissing).is_empty());
        assert_eq!(
            message(crate::b64::B64Error::Invalid),
            "not canonical unpadded base64url"
        );
        assert_eq!(
            message(crate::b64::B64Error::OutputTooSmall),
            "output buffer too small for the decoded bytes"
        );
    }
}

#[cfg(test)]
mod code_tests {
    use super::*;

    /// One variant of each code, in the order of [`Error::CODES`].
    const ONE_OF_EACH: [Error; 18] = [
        Error::Malformed(Malformed::Base64),
        Error::TooLarge,
        Error::UnsupportedAlg,
        Error::AlgNotAllowed,
        Error::KeyNotFound,
        Error::KeyRejected(KeyError::Stale),
        Error::BadSignature,
        Error::Expired,
        Error::NotYetValid,
        Error::IssuedInFuture,
        Error::WrongIssuer,
        Error::WrongAudience,
        Error::WrongSubject,
        Error::WrongType,
        Error::MissingClaim(Claim::Exp),
        Error::InvalidClaim(Claim::Exp),
        Error::CritUnsupported,
        Error::Replayed(ReplayError::Seen),
    ];

    /// `code_number` counts up in the order of `CODES`, and `code` reads the table there.
    #[test]
    fn code_and_number_come_from_the_one_table() {
        for (i, e) in ONE_OF_EACH.iter().enumerate() {
            assert_eq!(usize::from(e.code_number()), i);
            assert_eq!(e.code(), Error::CODES[i]);
        }
        assert_eq!(Error::KeyNotFound.code(), "key_not_found");
        assert_eq!(Error::Replayed(ReplayError::Seen).code(), "replayed");
    }
}
