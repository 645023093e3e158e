//! Result codes: the device protocol's status numbers, plus the C interface's own errors.

use core::ffi::{c_char, CStr};

use tokenguard::Error;

/// What a call did. `TG_RESULT_OK` is 0; a rejected token's code is its stable engine code
/// plus one (the device protocol's status byte: `TG_RESULT_MALFORMED` is 1, ...,
/// `TG_RESULT_REPLAYED` 18); key and key-set refusals and the state errors have the device
/// protocol's numbers too; the C interface's own errors start at 0x40.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum tg_result {
    /// Success.
    Ok = 0,
    /// `malformed`: not a compact JWS/JWT, bad base64url or JSON, a forbidden header member.
    Malformed = 1,
    /// `too_large`: the token or a part of it exceeds a limit.
    TooLarge = 2,
    /// `unsupported_alg`: the header's `alg` is unknown or not implemented.
    UnsupportedAlg = 3,
    /// `alg_not_allowed`: the policy or the key does not allow the token's `alg`.
    AlgNotAllowed = 4,
    /// `key_not_found`: no key has the token's `kid` (or no key fits a token without one).
    KeyNotFound = 5,
    /// `key_rejected`: the key may not be used (stale past the stale window, ...).
    KeyRejected = 6,
    /// `bad_signature`: the signature does not verify.
    BadSignature = 7,
    /// `expired`: `exp` is past (leeway included).
    Expired = 8,
    /// `not_yet_valid`: `nbf` is in the future (leeway included).
    NotYetValid = 9,
    /// `issued_in_future`: `iat` is in the future (leeway included).
    IssuedInFuture = 10,
    /// `wrong_issuer`
    WrongIssuer = 11,
    /// `wrong_audience`
    WrongAudience = 12,
    /// `wrong_subject`
    WrongSubject = 13,
    /// `wrong_type`: the header `typ` is not the policy's.
    WrongType = 14,
    /// `missing_claim`: a required claim is absent.
    MissingClaim = 15,
    /// `invalid_claim`: a registered claim has the wrong type or an out-of-range value.
    InvalidClaim = 16,
    /// `crit_unsupported`: the header has `crit`.
    CritUnsupported = 17,
    /// `replayed`: the `jti` was seen before, or the replay cache is full of live entries.
    Replayed = 18,
    /// A key was refused; the key error code (docs/protocol.md) says why.
    KeyRefused = 0x20,
    /// A JWK Set update was refused; the old keys stay in force.
    JwksRefused = 0x21,
    /// No such key (or index).
    NotFound = 0x34,
    /// A JWK Set chunk or end without an update in progress.
    NoUpdate = 0x35,
    /// No free slot (keys, audiences).
    Full = 0x36,
    /// The library was built without what this call needs.
    Unsupported = 0x37,
    /// A required pointer is NULL.
    NullArgument = 0x40,
    /// The object was not initialised with its `_init` function (or was cleared).
    NotInitialized = 0x41,
    /// An output or work buffer is too small; nothing was written.
    BufferTooSmall = 0x42,
    /// A string argument is not UTF-8.
    BadUtf8 = 0x43,
    /// An argument is out of range (an unknown algorithm code or flag, a misaligned object,
    /// a string longer than its slot, a minting lifetime or id a provider's rules refuse).
    InvalidArgument = 0x44,
    /// Signing failed: the key was refused or does not fit the algorithm, the signer callback
    /// failed or returned another length, PSS was given no salt.
    SignFailed = 0x45,
    /// The policy is incomplete: it neither names an issuer nor ignores it, or likewise for
    /// the audience.
    PolicyIncomplete = 0x46,
    /// The claim exists with another JSON type (or an integer out of range).
    ClaimType = 0x47,
}

/// The token verdicts in code-number order (`Error::code_number()`).
const TOKEN: [tg_result; 18] = [
    tg_result::Malformed,
    tg_result::TooLarge,
    tg_result::UnsupportedAlg,
    tg_result::AlgNotAllowed,
    tg_result::KeyNotFound,
    tg_result::KeyRejected,
    tg_result::BadSignature,
    tg_result::Expired,
    tg_result::NotYetValid,
    tg_result::IssuedInFuture,
    tg_result::WrongIssuer,
    tg_result::WrongAudience,
    tg_result::WrongSubject,
    tg_result::WrongType,
    tg_result::MissingClaim,
    tg_result::InvalidClaim,
    tg_result::CritUnsupported,
    tg_result::Replayed,
];

// One verdict per engine code, and the numbers are the device protocol's status bytes.
const _: () = assert!(TOKEN.len() == Error::CODES.len());

impl From<Error> for tg_result {
    fn from(e: Error) -> Self {
        TOKEN
            .get(usize::from(e.code_number()))
            .copied()
            .unwrap_or(tg_result::Malformed)
    }
}

/// Every code with its name, the one table behind [`tg_result_name`].
const NAMES: [(tg_result, &CStr); 33] = [
    (tg_result::Ok, c"ok"),
    (tg_result::Malformed, c"malformed"),
    (tg_result::TooLarge, c"too_large"),
    (tg_result::UnsupportedAlg, c"unsupported_alg"),
    (tg_result::AlgNotAllowed, c"alg_not_allowed"),
    (tg_result::KeyNotFound, c"key_not_found"),
    (tg_result::KeyRejected, c"key_rejected"),
    (tg_result::BadSignature, c"bad_signature"),
    (tg_result::Expired, c"expired"),
    (tg_result::NotYetValid, c"not_yet_valid"),
    (tg_result::IssuedInFuture, c"issued_in_future"),
    (tg_result::WrongIssuer, c"wrong_issuer"),
    (tg_result::WrongAudience, c"wrong_audience"),
    (tg_result::WrongSubject, c"wrong_subject"),
    (tg_result::WrongType, c"wrong_type"),
    (tg_result::MissingClaim, c"missing_claim"),
    (tg_result::InvalidClaim, c"invalid_claim"),
    (tg_result::CritUnsupported, c"crit_unsupported"),
    (tg_result::Replayed, c"replayed"),
    (tg_result::KeyRefused, c"key_refused"),
    (tg_result::JwksRefused, c"jwks_refused"),
    (tg_result::NotFound, c"not_found"),
    (tg_result::NoUpdate, c"no_update"),
    (tg_result::Full, c"full"),
    (tg_result::Unsupported, c"unsupported"),
    (tg_result::NullArgument, c"null_argument"),
    (tg_result::NotInitialized, c"not_initialized"),
    (tg_result::BufferTooSmall, c"buffer_too_small"),
    (tg_result::BadUtf8, c"bad_utf8"),
    (tg_result::InvalidArgument, c"invalid_argument"),
    (tg_result::SignFailed, c"sign_failed"),
    (tg_result::PolicyIncomplete, c"policy_incomplete"),
    (tg_result::ClaimType, c"claim_type"),
];

/// The stable snake_case name of a result code (`"ok"`, `"bad_signature"`, ...; the token
/// verdicts are the engine's codes), or `"unknown"` for a number that is no code. The string
/// is static and NUL-terminated.
#[no_mangle]
pub extern "C" fn tg_result_name(result: u32) -> *const c_char {
    NAMES
        .iter()
        .find(|(r, _)| *r as u32 == result)
        .map_or(c"unknown", |(_, n)| *n)
        .as_ptr()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_codes_are_the_engine_codes_plus_one() {
        for (i, code) in (0u32..).zip(Error::CODES) {
            let r = TOKEN[i as usize];
            assert_eq!(r as u32, i + 1);
            // SAFETY: `tg_result_name` returns a static NUL-terminated string.
            let name = unsafe { CStr::from_ptr(tg_result_name(r as u32)) };
            assert_eq!(name.to_str().unwrap(), code);
            assert_eq!(
                u32::from(tokenguard_device::proto::status::TOKEN_REJECTED_BASE) + i,
                r as u32
            );
        }
    }

    #[test]
    fn state_codes_are_the_device_protocol_status_bytes() {
        use tokenguard_device::proto::status;
        for (r, s) in [
            (tg_result::Ok, status::OK),
            (tg_result::KeyRefused, status::KEY_REFUSED),
            (tg_result::JwksRefused, status::JWKS_REFUSED),
            (tg_result::NotFound, status::NOT_FOUND),
            (tg_result::NoUpdate, status::NO_UPDATE),
            (tg_result::Full, status::FULL),
            (tg_result::Unsupported, status::UNSUPPORTED),
        ] {
            assert_eq!(r as u32, u32::from(s), "{r:?}");
        }
    }

    #[test]
    fn every_name_is_distinct_and_unknown_numbers_are_unknown() {
        let mut seen = std::collections::BTreeSet::new();
        for (r, n) in NAMES.iter() {
            assert!(seen.insert(n.to_str().unwrap()), "{r:?} named twice");
        }
        let name = |n: u32| {
            // SAFETY: `tg_result_name` returns a static NUL-terminated string.
            let s = unsafe { CStr::from_ptr(tg_result_name(n)) };
            s.to_str().unwrap()
        };
        assert_eq!(name(19), "unknown");
        assert_eq!(name(0xFFFF_FFFF), "unknown");
        assert_eq!(name(0x47), "claim_type");
    }
}
