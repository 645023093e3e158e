//! `tg_claims`: the claims of a verified token, read by name.

use tokenguard::{ClaimRef, VerifiedToken};

use crate::ffi::{self, Out};
use crate::policy::{
    TG_CLAIM_AUD, TG_CLAIM_EXP, TG_CLAIM_IAT, TG_CLAIM_ISS, TG_CLAIM_JTI, TG_CLAIM_NBF,
    TG_CLAIM_SUB,
};
use crate::tg_result;

const CLAIMS_MARKER: u64 = 0x7467_434c_4149_4d31; // "tgCLAIM1"

/// The claims of a verified token (`tg_cache_verify` fills it in). The numeric registered
/// claims are fields; strings, private claims and `aud` are read by name with
/// `tg_claims_get_str`, `tg_claims_get_int`, `tg_claims_get_bool` and
/// `tg_claims_has_audience`. `payload` points into the work buffer given to the verify call:
/// the view is valid while that buffer is unchanged. Read the fields; do not write them. A
/// view no verify call filled in (zeroed, say) makes the getters answer
/// `TG_RESULT_NOT_INITIALIZED`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct tg_claims {
    /// Set by the verify call; the getters check it.
    pub marker: u64,
    /// The verified algorithm (`TG_ALG_*`).
    pub alg: u8,
    /// Whether the token has `exp`.
    pub has_exp: bool,
    /// Whether the token has `nbf`.
    pub has_nbf: bool,
    /// Whether the token has `iat`.
    pub has_iat: bool,
    /// `exp`, unix seconds (fractions floored), when `has_exp`.
    pub exp: u64,
    /// `nbf`, when `has_nbf`.
    pub nbf: u64,
    /// `iat`, when `has_iat`.
    pub iat: u64,
    /// The claims JSON text as signed (UTF-8, not NUL-terminated), inside the work buffer.
    pub payload: *const u8,
    /// Length of `payload` in bytes.
    pub payload_len: usize,
}

/// The view of a verified token; `missing_claim` when one of the `required` claims is absent.
pub(crate) fn view(t: &VerifiedToken<'_>, required: u32) -> Result<tg_claims, tg_result> {
    let c = t.claims();
    let present = [
        (TG_CLAIM_ISS, c.iss().is_some()),
        (TG_CLAIM_SUB, c.sub().is_some()),
        (TG_CLAIM_AUD, c.aud().is_some()),
        (TG_CLAIM_EXP, c.exp().is_some()),
        (TG_CLAIM_NBF, c.nbf().is_some()),
        (TG_CLAIM_IAT, c.iat().is_some()),
        (TG_CLAIM_JTI, c.jti().is_some()),
    ];
    if present.iter().any(|(bit, has)| required & bit != 0 && !has) {
        return Err(tg_result::MissingClaim);
    }
    let payload = t.claims_json().as_bytes();
    Ok(tg_claims {
        marker: CLAIMS_MARKER,
        alg: t.alg() as u8,
        has_exp: c.exp().is_some(),
        has_nbf: c.nbf().is_some(),
        has_iat: c.iat().is_some(),
        exp: c.exp().unwrap_or(0),
        nbf: c.nbf().unwrap_or(0),
        iat: c.iat().unwrap_or(0),
        payload: payload.as_ptr(),
        payload_len: payload.len(),
    })
}

/// The claim `name` of the view behind `claims`.
///
/// # Safety
/// `claims` is NULL or points to a `tg_claims` a verify call filled in, whose work buffer is
/// unchanged; `name` to `name_len` readable bytes.
pub(crate) unsafe fn find<'a>(
    claims: *const tg_claims,
    name: *const u8,
    name_len: usize,
) -> Result<ClaimRef<'a>, tg_result> {
    if claims.is_null() {
        return Err(tg_result::NullArgument);
    }
    // SAFETY: non-NULL, points to a `tg_claims` (the caller's contract).
    let c = unsafe { &*claims };
    if c.marker != CLAIMS_MARKER || c.payload.is_null() {
        return Err(tg_result::NotInitialized);
    }
    // SAFETY: the caller's contract.
    let name = unsafe { ffi::text(name, name_len) }?;
    // SAFETY: a verify call set `payload` and `payload_len` to the claims text in the work
    // buffer, which the caller keeps unchanged.
    let json = unsafe { ffi::bytes(c.payload, c.payload_len) }?;
    ClaimRef::find(json, name)?.ok_or(tg_result::NotFound)
}

/// Copies the string claim `name` (registered or private), unescaped and NUL-terminated,
/// into `out` (`out_len` bytes: at least the string's length plus one, else
/// `TG_RESULT_BUFFER_TOO_SMALL`); its length without the NUL goes to `*written`.
/// `TG_RESULT_NOT_FOUND` without such a claim, `TG_RESULT_CLAIM_TYPE` when it is no string.
///
/// # Safety
/// `claims` points to a filled-in `tg_claims` whose work buffer is unchanged; `name` to
/// `name_len` readable bytes; `out` to `out_len` writable bytes; `written` is writable.
#[no_mangle]
pub unsafe extern "C" fn tg_claims_get_str(
    claims: *const tg_claims,
    name: *const u8,
    name_len: usize,
    out: *mut u8,
    out_len: usize,
    written: *mut usize,
) -> tg_result {
    ffi::run(|| {
        // SAFETY: the caller's contract.
        let v = unsafe { find(claims, name, name_len) }?;
        // SAFETY: the caller's contract.
        let buf = unsafe { ffi::buffer(out, out_len) }?;
        let w = Out::new(written)?;
        let s = v.as_json_str().ok_or(tg_result::ClaimType)?;
        let n = s.decoded_len();
        let (text, nul) = buf
            .split_at_mut_checked(n)
            .ok_or(tg_result::BufferTooSmall)?;
        let first = nul.first_mut().ok_or(tg_result::BufferTooSmall)?;
        s.decode_into(text).ok_or(tg_result::ClaimType)?;
        *first = 0;
        // SAFETY: the caller's contract.
        unsafe { w.set(n) };
        Ok(())
    })
}

/// The integer claim `name` (written without fraction or exponent, within `int64_t`).
/// `TG_RESULT_NOT_FOUND` without such a claim, `TG_RESULT_CLAIM_TYPE` for any other value.
///
/// # Safety
/// As `tg_claims_get_str`; `value` is writable.
#[no_mangle]
pub unsafe extern "C" fn tg_claims_get_int(
    claims: *const tg_claims,
    name: *const u8,
    name_len: usize,
    value: *mut i64,
) -> tg_result {
    ffi::run(|| {
        // SAFETY: the caller's contract.
        let v = unsafe { find(claims, name, name_len) }?;
        let out = Out::new(value)?;
        let n = v.as_i64().ok_or(tg_result::ClaimType)?;
        // SAFETY: the caller's contract.
        unsafe { out.set(n) };
        Ok(())
    })
}

/// The boolean claim `name`. `TG_RESULT_NOT_FOUND` without such a claim,
/// `TG_RESULT_CLAIM_TYPE` when it is not `true` or `false`.
///
/// # Safety
/// As `tg_claims_get_str`; `value` is writable.
#[no_mangle]
pub unsafe extern "C" fn tg_claims_get_bool(
    claims: *const tg_claims,
    name: *const u8,
    name_len: usize,
    value: *mut bool,
) -> tg_result {
    ffi::run(|| {
        // SAFETY: the caller's contract.
        let v = unsafe { find(claims, name, name_len) }?;
        let out = Out::new(value)?;
        let b = v.as_bool().ok_or(tg_result::ClaimType)?;
        // SAFETY: the caller's contract.
        unsafe { out.set(b) };
        Ok(())
    })
}

/// Whether the token's `aud` (a string, or an array of strings) contains `audience`.
/// `TG_RESULT_NOT_FOUND` when the token has no `aud`.
///
/// # Safety
/// As `tg_claims_get_str`, with `audience` and `len`; `contains` is writable.
#[no_mangle]
pub unsafe extern "C" fn tg_claims_has_audience(
    claims: *const tg_claims,
    audience: *const u8,
    len: usize,
    contains: *mut bool,
) -> tg_result {
    ffi::run(|| {
        // SAFETY: the caller's contract (the name is a literal).
        let v = unsafe { find(claims, b"aud".as_ptr(), 3) }?;
        // SAFETY: the caller's contract.
        let want = unsafe { ffi::text(audience, len) }?;
        let out = Out::new(contains)?;
        let has = match v {
            ClaimRef::Str(s) => s.eq_str(want),
            ClaimRef::Array(raw) => tokenguard::Audience::Many(raw).contains(want),
            _ => return Err(tg_result::ClaimType),
        };
        // SAFETY: the caller's contract.
        unsafe { out.set(has) };
        Ok(())
    })
}
