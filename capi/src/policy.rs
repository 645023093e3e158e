//! `tg_policy`: what a token must satisfy besides its signature.

use tokenguard::{AlgSet, Expect, Validation};

use crate::ffi::{self, Stored};
use crate::tg_result;

/// Bytes of a `tg_policy` (checked at compile time).
pub const TG_POLICY_SIZE: usize = 1024;
/// `TG_POLICY_SIZE` in 64-bit words.
pub const TG_POLICY_WORDS: usize = TG_POLICY_SIZE / 8;
/// The longest issuer, audience or subject a policy holds, in bytes.
pub const TG_POLICY_STR_MAX: usize = 128;
/// The most audiences a policy accepts (a token must name one of them).
pub const TG_POLICY_MAX_AUDIENCES: usize = 4;
/// The longest `typ` a policy holds, in bytes.
pub const TG_POLICY_TYP_MAX: usize = 32;

/// Caller-owned storage for a validation policy. `tg_policy_init` it, name the issuer and
/// audiences (or ignore them explicitly), then pass it to `tg_cache_verify`. A policy is
/// only read by verification: several threads may verify with one policy.
#[repr(C)]
pub struct tg_policy {
    /// Storage only: the library reads and writes it; the program never does.
    pub _opaque: [u64; TG_POLICY_WORDS],
}

const _: () = assert!(ffi::fits::<tg_policy, PolicyInner>());

/// Policy flag: a token without `exp` is accepted.
pub const TG_POLICY_ALLOW_MISSING_EXP: u32 = 0x01;
/// Policy flag: a token without `kid` is tried against every key that fits its `alg`
/// (without the flag such a token is `TG_RESULT_KEY_NOT_FOUND`).
pub const TG_POLICY_ALLOW_MISSING_KID: u32 = 0x02;
/// Policy flag: `iss` is not checked (an explicit decision).
pub const TG_POLICY_IGNORE_ISSUER: u32 = 0x04;
/// Policy flag: `aud` is not checked (an explicit decision).
pub const TG_POLICY_IGNORE_AUDIENCE: u32 = 0x08;
const FLAGS: u32 = 0x0F;

/// Algorithm code: HS256 (codes are the device protocol's; bit `1 << code` in a mask).
pub const TG_ALG_HS256: u8 = 0;
/// Algorithm code: HS384.
pub const TG_ALG_HS384: u8 = 1;
/// Algorithm code: HS512.
pub const TG_ALG_HS512: u8 = 2;
/// Algorithm code: RS256.
pub const TG_ALG_RS256: u8 = 3;
/// Algorithm code: RS384.
pub const TG_ALG_RS384: u8 = 4;
/// Algorithm code: RS512.
pub const TG_ALG_RS512: u8 = 5;
/// Algorithm code: PS256.
pub const TG_ALG_PS256: u8 = 6;
/// Algorithm code: PS384.
pub const TG_ALG_PS384: u8 = 7;
/// Algorithm code: PS512.
pub const TG_ALG_PS512: u8 = 8;
/// Algorithm code: ES256.
pub const TG_ALG_ES256: u8 = 9;
/// Algorithm code: ES384.
pub const TG_ALG_ES384: u8 = 10;
/// Algorithm code: EdDSA.
pub const TG_ALG_EDDSA: u8 = 11;
/// Algorithm code: Ed25519 (RFC 9864's fully-specified name).
pub const TG_ALG_ED25519: u8 = 12;
/// Algorithm code: ES512 (verified only by a library built with the `es512` feature).
pub const TG_ALG_ES512: u8 = 13;
/// Algorithm code: ES256K (verified only by a library built with the `es256k` feature).
pub const TG_ALG_ES256K: u8 = 14;
/// Every algorithm code, as a mask.
pub const TG_ALGS_ALL: u32 = 0x7FFF;

/// Required-claim bit: `iss`.
pub const TG_CLAIM_ISS: u32 = 0x01;
/// Required-claim bit: `sub`.
pub const TG_CLAIM_SUB: u32 = 0x02;
/// Required-claim bit: `aud`.
pub const TG_CLAIM_AUD: u32 = 0x04;
/// Required-claim bit: `exp` (required by default; see `TG_POLICY_ALLOW_MISSING_EXP`).
pub const TG_CLAIM_EXP: u32 = 0x08;
/// Required-claim bit: `nbf`.
pub const TG_CLAIM_NBF: u32 = 0x10;
/// Required-claim bit: `iat`.
pub const TG_CLAIM_IAT: u32 = 0x20;
/// Required-claim bit: `jti`.
pub const TG_CLAIM_JTI: u32 = 0x40;
const CLAIMS: u32 = 0x7F;

/// A string slot of a policy.
#[derive(Clone, Copy)]
struct Slot<const N: usize> {
    bytes: [u8; N],
    len: usize,
}

impl<const N: usize> Slot<N> {
    const EMPTY: Self = Slot {
        bytes: [0; N],
        len: 0,
    };

    fn new(s: &str) -> Result<Self, tg_result> {
        let mut slot = Self::EMPTY;
        if s.len() > N {
            return Err(tg_result::InvalidArgument);
        }
        for (d, c) in slot.bytes.iter_mut().zip(s.as_bytes()) {
            *d = *c;
        }
        slot.len = s.len();
        Ok(slot)
    }

    fn as_str(&self) -> &str {
        // The bytes were a `str` when stored.
        core::str::from_utf8(self.bytes.get(..self.len).unwrap_or(&[])).unwrap_or("")
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Check {
    Unset,
    Set,
    Ignore,
}

#[repr(C)]
pub(crate) struct PolicyInner {
    magic: u64,
    issuer: Slot<TG_POLICY_STR_MAX>,
    issuer_check: Check,
    audiences: [Slot<TG_POLICY_STR_MAX>; TG_POLICY_MAX_AUDIENCES],
    audience_count: usize,
    audience_ignored: bool,
    subject: Option<Slot<TG_POLICY_STR_MAX>>,
    typ: Option<Slot<TG_POLICY_TYP_MAX>>,
    algorithms: AlgSet,
    leeway: u32,
    max_age: Option<u64>,
    max_lifetime: Option<u64>,
    flags: u32,
    required: u32,
    max_token_len: usize,
    max_depth: u8,
}

// SAFETY: `repr(C)`, the marker first.
unsafe impl Stored for PolicyInner {
    const MAGIC: u64 = 0x7467_504f_4c49_4331; // "tgPOLIC1"
    type Storage = tg_policy;
}

/// The strings of a policy, borrowed for one verification.
pub(crate) struct Borrowed<'a> {
    p: &'a PolicyInner,
    audiences: [&'a str; TG_POLICY_MAX_AUDIENCES],
}

impl<'a> Borrowed<'a> {
    /// The engine's policy.
    pub(crate) fn build(&'a self) -> Validation<'a> {
        let p = self.p;
        let iss = match p.issuer_check {
            Check::Set => Expect::One(p.issuer.as_str()),
            _ => Expect::Ignore,
        };
        let aud = if p.audience_ignored {
            Expect::Ignore
        } else {
            Expect::AnyOf(self.audiences.get(..p.audience_count).unwrap_or(&[]))
        };
        let mut v = Validation::new(iss, aud)
            .algorithms(p.algorithms)
            .max_token_len(p.max_token_len)
            .max_depth(p.max_depth)
            .leeway(p.leeway)
            .allow_missing_kid(p.flags & TG_POLICY_ALLOW_MISSING_KID != 0);
        if p.flags & TG_POLICY_ALLOW_MISSING_EXP != 0 {
            v = v.allow_missing_exp();
        }
        if let Some(s) = &p.subject {
            v = v.subject(s.as_str());
        }
        if let Some(t) = &p.typ {
            v = v.typ(t.as_str());
        }
        if let Some(a) = p.max_age {
            v = v.max_age(a);
        }
        if let Some(l) = p.max_lifetime {
            v = v.max_lifetime(l);
        }
        v
    }
}

impl PolicyInner {
    /// The policy for a verification; for a JWT (`claims`), `policy_incomplete` unless the
    /// issuer and the audience are each named or ignored.
    pub(crate) fn validation(&self, claims: bool) -> Result<Borrowed<'_>, tg_result> {
        let aud_decided = self.audience_ignored || self.audience_count > 0;
        if claims && (self.issuer_check == Check::Unset || !aud_decided) {
            return Err(tg_result::PolicyIncomplete);
        }
        let mut audiences = [""; TG_POLICY_MAX_AUDIENCES];
        for (d, s) in audiences.iter_mut().zip(&self.audiences) {
            *d = s.as_str();
        }
        Ok(Borrowed { p: self, audiences })
    }

    /// The required-claim mask (`TG_CLAIM_*`).
    pub(crate) fn required(&self) -> u32 {
        self.required
    }
}

/// Initialises `policy`: no issuer and no audience yet (verification answers
/// `TG_RESULT_POLICY_INCOMPLETE` until each is named or ignored), every algorithm the key
/// allows, `exp` required, leeway 60 s, a `kid` required in the header, tokens up to 8192
/// bytes, JSON nested at most 16 deep.
///
/// # Safety
/// `policy` is NULL or points to writable `tg_policy` storage.
#[no_mangle]
pub unsafe extern "C" fn tg_policy_init(policy: *mut tg_policy) -> tg_result {
    ffi::run(|| {
        let make = || PolicyInner {
            magic: PolicyInner::MAGIC,
            issuer: Slot::EMPTY,
            issuer_check: Check::Unset,
            audiences: [Slot::EMPTY; TG_POLICY_MAX_AUDIENCES],
            audience_count: 0,
            audience_ignored: false,
            subject: None,
            typ: None,
            algorithms: AlgSet::ALL,
            leeway: tokenguard::DEFAULT_LEEWAY,
            max_age: None,
            max_lifetime: None,
            flags: 0,
            required: 0,
            max_token_len: tokenguard::DEFAULT_MAX_TOKEN_LEN,
            max_depth: tokenguard::DEFAULT_MAX_DEPTH,
        };
        // SAFETY: the caller's contract.
        unsafe { ffi::init(policy, make) }.map(|_| ())
    })
}

/// Applies `f` to the initialised policy behind `policy`.
///
/// # Safety
/// `policy` is NULL or points to a `tg_policy` nothing else uses during the call.
unsafe fn with(
    policy: *mut tg_policy,
    f: impl FnOnce(&mut PolicyInner) -> Result<(), tg_result>,
) -> tg_result {
    ffi::run(|| {
        // SAFETY: the caller's contract.
        let p = unsafe { ffi::object::<PolicyInner>(policy) }?;
        f(p)
    })
}

/// The expected issuer (`iss` must equal it). Replaces an earlier one and clears
/// `TG_POLICY_IGNORE_ISSUER`. At most `TG_POLICY_STR_MAX` bytes of UTF-8.
///
/// # Safety
/// `policy` points to an initialised `tg_policy`; `issuer` to `len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn tg_policy_set_issuer(
    policy: *mut tg_policy,
    issuer: *const u8,
    len: usize,
) -> tg_result {
    // SAFETY: the caller's contract.
    unsafe {
        with(policy, |p| {
            let s = ffi::text(issuer, len)?;
            p.issuer = Slot::new(s)?;
            p.issuer_check = Check::Set;
            Ok(())
        })
    }
}

/// Adds an accepted audience (a token's `aud` must contain one of them); clears
/// `TG_POLICY_IGNORE_AUDIENCE`. `TG_RESULT_FULL` past `TG_POLICY_MAX_AUDIENCES`.
///
/// # Safety
/// `policy` points to an initialised `tg_policy`; `audience` to `len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn tg_policy_add_audience(
    policy: *mut tg_policy,
    audience: *const u8,
    len: usize,
) -> tg_result {
    // SAFETY: the caller's contract.
    unsafe {
        with(policy, |p| {
            let s = ffi::text(audience, len)?;
            let slot = Slot::new(s)?;
            let free = p
                .audiences
                .get_mut(p.audience_count)
                .ok_or(tg_result::Full)?;
            *free = slot;
            p.audience_count += 1;
            p.audience_ignored = false;
            Ok(())
        })
    }
}

/// The expected subject (`sub` must equal it).
///
/// # Safety
/// `policy` points to an initialised `tg_policy`; `subject` to `len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn tg_policy_set_subject(
    policy: *mut tg_policy,
    subject: *const u8,
    len: usize,
) -> tg_result {
    // SAFETY: the caller's contract.
    unsafe {
        with(policy, |p| {
            p.subject = Some(Slot::new(ffi::text(subject, len)?)?);
            Ok(())
        })
    }
}

/// The expected header `typ` (compared as a media type: `JWT` matches `application/jwt`),
/// at most `TG_POLICY_TYP_MAX` bytes.
///
/// # Safety
/// `policy` points to an initialised `tg_policy`; `typ` to `len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn tg_policy_set_typ(
    policy: *mut tg_policy,
    typ: *const u8,
    len: usize,
) -> tg_result {
    // SAFETY: the caller's contract.
    unsafe {
        with(policy, |p| {
            p.typ = Some(Slot::new(ffi::text(typ, len)?)?);
            Ok(())
        })
    }
}

/// The accepted algorithms: a mask of `1 << TG_ALG_*` bits (`TG_ALGS_ALL` for all). The key's
/// own binding applies on top. `TG_RESULT_INVALID_ARGUMENT` for an empty mask or unknown bits.
///
/// # Safety
/// `policy` points to an initialised `tg_policy`.
#[no_mangle]
pub unsafe extern "C" fn tg_policy_set_algorithms(policy: *mut tg_policy, mask: u32) -> tg_result {
    // SAFETY: the caller's contract.
    unsafe {
        with(policy, |p| {
            if mask == 0 || mask & !TG_ALGS_ALL != 0 {
                return Err(tg_result::InvalidArgument);
            }
            let bits = u16::try_from(mask).map_err(|_| tg_result::InvalidArgument)?;
            p.algorithms = AlgSet::from_bits(bits);
            Ok(())
        })
    }
}

/// Leeway for `exp`, `nbf` and `iat`, seconds (at most 600, else
/// `TG_RESULT_INVALID_ARGUMENT`).
///
/// # Safety
/// `policy` points to an initialised `tg_policy`.
#[no_mangle]
pub unsafe extern "C" fn tg_policy_set_leeway(policy: *mut tg_policy, seconds: u32) -> tg_result {
    // SAFETY: the caller's contract.
    unsafe {
        with(policy, |p| {
            if seconds > tokenguard::MAX_LEEWAY {
                return Err(tg_result::InvalidArgument);
            }
            p.leeway = seconds;
            Ok(())
        })
    }
}

/// The oldest accepted token, seconds since its `iat` (which becomes required); 0 turns the
/// check off.
///
/// # Safety
/// `policy` points to an initialised `tg_policy`.
#[no_mangle]
pub unsafe extern "C" fn tg_policy_set_max_age(policy: *mut tg_policy, seconds: u64) -> tg_result {
    // SAFETY: the caller's contract.
    unsafe {
        with(policy, |p| {
            p.max_age = (seconds != 0).then_some(seconds);
            Ok(())
        })
    }
}

/// The longest accepted lifetime, `exp − iat` seconds; 0 turns the check off.
///
/// # Safety
/// `policy` points to an initialised `tg_policy`.
#[no_mangle]
pub unsafe extern "C" fn tg_policy_set_max_lifetime(
    policy: *mut tg_policy,
    seconds: u64,
) -> tg_result {
    // SAFETY: the caller's contract.
    unsafe {
        with(policy, |p| {
            p.max_lifetime = (seconds != 0).then_some(seconds);
            Ok(())
        })
    }
}

/// Sets the `TG_POLICY_*` flags (replacing the earlier ones). `TG_POLICY_IGNORE_ISSUER` and
/// `TG_POLICY_IGNORE_AUDIENCE` forget a named issuer or audiences.
///
/// # Safety
/// `policy` points to an initialised `tg_policy`.
#[no_mangle]
pub unsafe extern "C" fn tg_policy_set_flags(policy: *mut tg_policy, flags: u32) -> tg_result {
    // SAFETY: the caller's contract.
    unsafe {
        with(policy, |p| {
            if flags & !FLAGS != 0 {
                return Err(tg_result::InvalidArgument);
            }
            if flags & TG_POLICY_IGNORE_ISSUER != 0 {
                p.issuer_check = Check::Ignore;
            } else if p.issuer_check == Check::Ignore {
                p.issuer_check = Check::Unset;
            }
            if flags & TG_POLICY_IGNORE_AUDIENCE != 0 {
                p.audience_ignored = true;
                p.audience_count = 0;
            } else {
                p.audience_ignored = false;
            }
            p.flags = flags;
            Ok(())
        })
    }
}

/// Claims a token must carry (a mask of `TG_CLAIM_*`), on top of `exp` (required unless
/// `TG_POLICY_ALLOW_MISSING_EXP`): a token without one is `TG_RESULT_MISSING_CLAIM`.
///
/// # Safety
/// `policy` points to an initialised `tg_policy`.
#[no_mangle]
pub unsafe extern "C" fn tg_policy_require_claims(policy: *mut tg_policy, mask: u32) -> tg_result {
    // SAFETY: the caller's contract.
    unsafe {
        with(policy, |p| {
            if mask & !CLAIMS != 0 {
                return Err(tg_result::InvalidArgument);
            }
            p.required = mask;
            Ok(())
        })
    }
}

/// Limits: the longest accepted token in bytes (1 to 65536; longer is `too_large`) and the
/// deepest JSON nesting in header and claims (1 to 63, the top-level object counting as 1;
/// deeper is `malformed`).
///
/// # Safety
/// `policy` points to an initialised `tg_policy`.
#[no_mangle]
pub unsafe extern "C" fn tg_policy_set_limits(
    policy: *mut tg_policy,
    max_token_len: usize,
    max_depth: u8,
) -> tg_result {
    // SAFETY: the caller's contract.
    unsafe {
        with(policy, |p| {
            if !(1..=65_536).contains(&max_token_len) || !(1..=63).contains(&max_depth) {
                return Err(tg_result::InvalidArgument);
            }
            p.max_token_len = max_token_len;
            p.max_depth = max_depth;
            Ok(())
        })
    }
}
