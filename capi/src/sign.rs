//! `tg_signer` and assertion minting: software keys, or a C callback for keys that live in
//! a secure element or an HSM.

use core::ffi::c_void;

use tokenguard::assertion::{self, presets, Claims};
use tokenguard::sign::{SignError, Signer, SigningKey};
use tokenguard::{Algorithm, Kid};

use crate::ffi::{self, Out, Stored};
use crate::tg_result;

/// Bytes of a `tg_signer` (checked at compile time).
pub const TG_SIGNER_SIZE: usize = 4096;
/// `TG_SIGNER_SIZE` in 64-bit words.
pub const TG_SIGNER_WORDS: usize = TG_SIGNER_SIZE / 8;
/// The longest signature any signer makes (RSA-4096), in bytes.
pub const TG_SIGNATURE_MAX: usize = 512;

/// Caller-owned storage for a signer: a software private key, or a callback into the C
/// program's secure element. `tg_signer_clear` wipes a software key. Not thread-safe.
#[repr(C)]
pub struct tg_signer {
    /// Storage only: the library reads and writes it; the program never does.
    pub _opaque: [u64; TG_SIGNER_WORDS],
}

const _: () = assert!(ffi::fits::<tg_signer, SignerInner>());

/// Signs `msg_len` bytes at `msg` (the JWS signing input) with the hardware key: writes the
/// raw JWS signature (for ECDSA `r || s`, not DER) to `sig`, which has room for `sig_cap`
/// bytes, sets `*sig_len`, and returns `TG_RESULT_OK`; any other result fails the mint
/// (`TG_RESULT_SIGN_FAILED`). `user_data` is the pointer given to `tg_signer_init_callback`.
pub type tg_sign_callback = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        msg: *const u8,
        msg_len: usize,
        sig: *mut u8,
        sig_cap: usize,
        sig_len: *mut usize,
    ) -> tg_result,
>;

/// A signer whose key the C program holds.
struct Callback {
    alg: Algorithm,
    kid: Option<Kid>,
    signature_len: usize,
    f: unsafe extern "C" fn(*mut c_void, *const u8, usize, *mut u8, usize, *mut usize) -> tg_result,
    user_data: *mut c_void,
}

impl Signer for Callback {
    fn alg(&self) -> Algorithm {
        self.alg
    }

    fn kid(&self) -> Option<&[u8]> {
        self.kid.as_ref().map(Kid::as_bytes)
    }

    fn signature_len(&self) -> usize {
        self.signature_len
    }

    fn sign(
        &self,
        msg: &[u8],
        _entropy: Option<&[u8]>,
        out: &mut [u8],
    ) -> Result<usize, SignError> {
        let cap = out.len().min(self.signature_len);
        let mut n = usize::MAX;
        // SAFETY: the callback was given by the C program with this contract: it reads
        // `msg_len` bytes at `msg`, writes at most `sig_cap` bytes at `sig` and one `size_t`
        // at `sig_len`; all three point into live Rust values for the call.
        let r = unsafe {
            (self.f)(
                self.user_data,
                msg.as_ptr(),
                msg.len(),
                out.as_mut_ptr(),
                cap,
                &mut n,
            )
        };
        if r != tg_result::Ok || n != self.signature_len || n > cap {
            return Err(SignError::Device);
        }
        Ok(n)
    }
}

#[expect(clippy::large_enum_variant, reason = "fixed-size storage, no heap")]
enum Kind {
    Key(SigningKey),
    Callback(Callback),
}

#[repr(C)]
pub(crate) struct SignerInner {
    magic: u64,
    kind: Kind,
}

// SAFETY: `repr(C)`, the marker first.
unsafe impl Stored for SignerInner {
    const MAGIC: u64 = 0x7467_5349_474e_5231; // "tgSIGNR1"
    type Storage = tg_signer;
}

impl SignerInner {
    fn signer(&self) -> &dyn Signer {
        match &self.kind {
            Kind::Key(k) => k,
            Kind::Callback(c) => c,
        }
    }
}

/// A preset's or the claims' rule (a lifetime out of range, an empty id, an instance URL
/// without its scheme) is the caller's argument: `invalid_argument`; anything else (the key,
/// the callback, PSS without a salt) is `sign_failed`.
fn sign_error(e: SignError) -> tg_result {
    match e {
        SignError::Claims(_) => tg_result::InvalidArgument,
        SignError::BufferTooSmall => tg_result::BufferTooSmall,
        _ => tg_result::SignFailed,
    }
}

/// Drops and wipes whatever initialised signer is at `signer` (a software key's secret is
/// zeroized by its drop; the storage is then overwritten with zeros).
///
/// # Safety
/// `signer` is non-NULL and aligned, pointing to writable `tg_signer` storage.
unsafe fn wipe(signer: *mut tg_signer) {
    // SAFETY: the caller's contract; `object` checks the marker before the drop.
    if let Ok(s) = unsafe { ffi::object::<SignerInner>(signer) } {
        // SAFETY: the marker says a `SignerInner` lives here; it is not used after the drop.
        unsafe { core::ptr::drop_in_place(s) };
    }
    let words = signer.cast::<u64>();
    for i in 0..TG_SIGNER_SIZE / 8 {
        // SAFETY: `i` words into the `tg_signer` storage, which is writable; volatile so the
        // wipe is not optimised away.
        unsafe { words.add(i).write_volatile(0) };
    }
}

unsafe fn install(signer: *mut tg_signer, kind: Kind) -> Result<(), tg_result> {
    if signer.is_null() {
        return Err(tg_result::NullArgument);
    }
    if !(signer as usize).is_multiple_of(core::mem::align_of::<SignerInner>()) {
        return Err(tg_result::InvalidArgument);
    }
    // SAFETY: non-NULL and aligned; the caller's contract gives writable storage.
    unsafe { wipe(signer) };
    // SAFETY: the caller's contract.
    unsafe {
        ffi::init(signer, || SignerInner {
            magic: SignerInner::MAGIC,
            kind,
        })
    }
    .map(|_| ())
}

/// Initialises `signer` with a private key in JWK form (`kty` RSA, EC, OKP or oct, with the
/// private members; its `alg` and `kid` are used). Secrets are wiped from the library's
/// scratch; the caller wipes its own copy of `json`.
///
/// # Safety
/// `signer` is NULL or points to writable `tg_signer` storage; `json` to `len` readable
/// bytes.
#[no_mangle]
pub unsafe extern "C" fn tg_signer_init_jwk(
    signer: *mut tg_signer,
    json: *const u8,
    len: usize,
) -> tg_result {
    ffi::run(|| {
        // SAFETY: the caller's contract.
        let json = unsafe { ffi::bytes(json, len) }?;
        let key = SigningKey::from_jwk(json).map_err(sign_error)?;
        // SAFETY: the caller's contract.
        unsafe { install(signer, Kind::Key(key)) }
    })
}

/// Initialises `signer` with a private key in PEM (PKCS#8, SEC 1 or PKCS#1) or DER, with the
/// key id `kid` (NULL for none) and the algorithm `alg` (`TG_ALG_*`, or 255 for the key's
/// default: RS256, ES256/ES384 by curve, EdDSA).
///
/// # Safety
/// `signer` is NULL or points to writable `tg_signer` storage; `key` to `key_len` readable
/// bytes; `kid` is NULL or points to `kid_len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn tg_signer_init_pem(
    signer: *mut tg_signer,
    key: *const u8,
    key_len: usize,
    kid: *const u8,
    kid_len: usize,
    alg: u8,
) -> tg_result {
    ffi::run(|| {
        // SAFETY: the caller's contract.
        let key = unsafe { ffi::bytes(key, key_len) }?;
        // SAFETY: the caller's contract.
        let kid = unsafe { ffi::opt_bytes(kid, kid_len) }?;
        let alg = match alg {
            0xFF => None,
            c => Some(tokenguard_device::alg_from_code(c).ok_or(tg_result::InvalidArgument)?),
        };
        let k = SigningKey::from_pem_or_der(key, kid, alg).map_err(sign_error)?;
        // SAFETY: the caller's contract.
        unsafe { install(signer, Kind::Key(k)) }
    })
}

/// Initialises `signer` with a callback that signs with a key the C program holds (a secure
/// element, an HSM): `alg` (`TG_ALG_*`) and the exact `signature_len` of its signatures (64
/// for ES256, 96 for ES384, 64 for EdDSA, the modulus length for RSA, the hash length for
/// HMAC), the key id `kid` (NULL for none), and `user_data`, handed back on every call.
///
/// # Safety
/// `signer` is NULL or points to writable `tg_signer` storage; `kid` is NULL or points to
/// `kid_len` readable bytes; `callback` follows the `tg_sign_callback` contract for as long
/// as the signer is used.
#[no_mangle]
pub unsafe extern "C" fn tg_signer_init_callback(
    signer: *mut tg_signer,
    alg: u8,
    kid: *const u8,
    kid_len: usize,
    signature_len: usize,
    callback: tg_sign_callback,
    user_data: *mut c_void,
) -> tg_result {
    ffi::run(|| {
        let f = callback.ok_or(tg_result::NullArgument)?;
        // SAFETY: the caller's contract.
        let kid = unsafe { ffi::opt_bytes(kid, kid_len) }?;
        let alg = tokenguard_device::alg_from_code(alg).ok_or(tg_result::InvalidArgument)?;
        let fixed = alg.signature_len();
        let ok_len = match fixed {
            Some(n) => signature_len == n,
            // RSA: the modulus length, 2048 to 4096 bits.
            None => (256..=TG_SIGNATURE_MAX).contains(&signature_len),
        };
        if !ok_len {
            return Err(tg_result::InvalidArgument);
        }
        let kid = kid
            .map(Kid::new)
            .transpose()
            .map_err(|_| tg_result::InvalidArgument)?;
        let c = Callback {
            alg,
            kid,
            signature_len,
            f,
            user_data,
        };
        // SAFETY: the caller's contract.
        unsafe { install(signer, Kind::Callback(c)) }
    })
}

/// Wipes `signer`: a software key's secret is zeroized, and the storage is no longer
/// initialised. Clearing a cleared or never initialised signer is fine.
///
/// # Safety
/// `signer` is NULL or points to writable `tg_signer` storage.
#[no_mangle]
pub unsafe extern "C" fn tg_signer_clear(signer: *mut tg_signer) -> tg_result {
    ffi::run(|| {
        if signer.is_null() {
            return Err(tg_result::NullArgument);
        }
        if !(signer as usize).is_multiple_of(core::mem::align_of::<SignerInner>()) {
            return Err(tg_result::InvalidArgument);
        }
        // SAFETY: non-NULL, aligned, writable (the caller's contract).
        unsafe { wipe(signer) };
        Ok(())
    })
}

/// The signer's algorithm (`TG_ALG_*`).
///
/// # Safety
/// `signer` points to an initialised `tg_signer`; `alg` is writable.
#[no_mangle]
pub unsafe extern "C" fn tg_signer_alg(signer: *const tg_signer, alg: *mut u8) -> tg_result {
    ffi::run(|| {
        // SAFETY: the caller's contract.
        let s = unsafe { ffi::object_ref::<SignerInner>(signer) }?;
        let out = Out::new(alg)?;
        // SAFETY: the caller's contract.
        unsafe { out.set(s.signer().alg() as u8) };
        Ok(())
    })
}

/// The public JWK of a software signer (with its `kid` and `alg`), NUL-terminated, into
/// `out`; its length without the NUL goes to `*written`. `TG_RESULT_UNSUPPORTED` for a
/// callback signer or an HMAC key (whose JWK is the secret).
///
/// # Safety
/// `signer` points to an initialised `tg_signer`; `out` to `out_len` writable bytes;
/// `written` is writable.
#[no_mangle]
pub unsafe extern "C" fn tg_signer_public_jwk(
    signer: *const tg_signer,
    out: *mut u8,
    out_len: usize,
    written: *mut usize,
) -> tg_result {
    ffi::run(|| {
        // SAFETY: the caller's contract.
        let s = unsafe { ffi::object_ref::<SignerInner>(signer) }?;
        // SAFETY: the caller's contract.
        let buf = unsafe { ffi::buffer(out, out_len) }?;
        let w = Out::new(written)?;
        let Kind::Key(k) = &s.kind else {
            return Err(tg_result::Unsupported);
        };
        let jwk = k.public_jwk().map_err(|_| tg_result::SignFailed)?;
        if jwk.is_symmetric() {
            return Err(tg_result::Unsupported);
        }
        let room = buf.len().checked_sub(1).ok_or(tg_result::BufferTooSmall)?;
        let (text, _) = buf.split_at_mut(room);
        let n = jwk
            .to_json(text, false)
            .ok_or(tg_result::BufferTooSmall)?
            .len();
        *buf.get_mut(n).ok_or(tg_result::BufferTooSmall)? = 0;
        // SAFETY: the caller's contract.
        unsafe { w.set(n) };
        Ok(())
    })
}

/// Mints `claims` with `signer` into the C buffer, NUL-terminated.
///
/// # Safety
/// `signer`, `entropy`, `out`, `written`: as for the `tg_assertion_*` functions.
unsafe fn mint(
    signer: *const tg_signer,
    claims: &Claims<'_>,
    entropy: Option<&[u8]>,
    out: *mut u8,
    out_len: usize,
    written: *mut usize,
) -> Result<(), tg_result> {
    // SAFETY: the caller's contract.
    let s = unsafe { ffi::object_ref::<SignerInner>(signer) }?;
    // SAFETY: the caller's contract.
    let buf = unsafe { ffi::buffer(out, out_len) }?;
    let w = Out::new(written)?;
    let room = buf.len().checked_sub(1).ok_or(tg_result::BufferTooSmall)?;
    let (text, _) = buf.split_at_mut(room);
    let n = assertion::encode(s.signer(), Some("JWT"), claims, entropy, text)
        .map_err(sign_error)?
        .len();
    *buf.get_mut(n).ok_or(tg_result::BufferTooSmall)? = 0;
    // SAFETY: the caller's contract.
    unsafe { w.set(n) };
    Ok(())
}

/// Mints a ZITADEL service-user assertion (RFC 7523 JWT-bearer grant): `iss` = `sub` =
/// `user_id`, `aud` = `issuer` (the instance URL), `iat` = `now` − 5 s, `exp` = `iat` +
/// `lifetime` (1 to 3600 s, else `TG_RESULT_INVALID_ARGUMENT`, as for an empty id). The JWT
/// goes to `out`, NUL-terminated, its length without the
/// NUL to `*written`. `entropy` (may be NULL) hedges ECDSA/EdDSA nonces and is the salt PSS
/// needs (32, 48 or 64 bytes).
///
/// # Safety
/// `signer` points to an initialised `tg_signer`; each string to its length of readable
/// bytes; `entropy` is NULL or points to `entropy_len` readable bytes; `out` to `out_len`
/// writable bytes; `written` is writable.
#[no_mangle]
pub unsafe extern "C" fn tg_assertion_zitadel_service_user(
    signer: *const tg_signer,
    user_id: *const u8,
    user_id_len: usize,
    issuer: *const u8,
    issuer_len: usize,
    now: u64,
    lifetime: u64,
    entropy: *const u8,
    entropy_len: usize,
    out: *mut u8,
    out_len: usize,
    written: *mut usize,
) -> tg_result {
    // SAFETY: the caller's contract, passed on.
    unsafe {
        zitadel_preset(
            presets::zitadel_service_user,
            signer,
            (user_id, user_id_len),
            (issuer, issuer_len),
            presets::Timing::new(now, lifetime),
            (entropy, entropy_len),
            (out, out_len, written),
        )
    }
}

/// The two ZITADEL presets that take an id, the issuer and a timing: `preset` makes the
/// claims, the rest is as their C functions document.
///
/// # Safety
/// As `tg_assertion_zitadel_service_user`.
unsafe fn zitadel_preset(
    preset: for<'a> fn(&'a str, &'a str, presets::Timing) -> Result<Claims<'a>, SignError>,
    signer: *const tg_signer,
    id: (*const u8, usize),
    issuer: (*const u8, usize),
    timing: presets::Timing,
    entropy: (*const u8, usize),
    out: (*mut u8, usize, *mut usize),
) -> tg_result {
    ffi::run(|| {
        // SAFETY: the caller's contract.
        let (id, iss, entropy) = unsafe {
            (
                ffi::text(id.0, id.1)?,
                ffi::text(issuer.0, issuer.1)?,
                ffi::opt_bytes(entropy.0, entropy.1)?,
            )
        };
        let claims = preset(id, iss, timing).map_err(sign_error)?;
        // SAFETY: the caller's contract.
        unsafe { mint(signer, &claims, entropy, out.0, out.1, out.2) }
    })
}

/// Mints a ZITADEL API-application `client_assertion` (RFC 7523 §2.2, for introspection):
/// `iss` = `sub` = `client_id`, `aud` = `issuer`; otherwise as
/// `tg_assertion_zitadel_service_user`.
///
/// # Safety
/// As `tg_assertion_zitadel_service_user`.
#[no_mangle]
pub unsafe extern "C" fn tg_assertion_zitadel_api_app(
    signer: *const tg_signer,
    client_id: *const u8,
    client_id_len: usize,
    issuer: *const u8,
    issuer_len: usize,
    now: u64,
    lifetime: u64,
    entropy: *const u8,
    entropy_len: usize,
    out: *mut u8,
    out_len: usize,
    written: *mut usize,
) -> tg_result {
    // SAFETY: the caller's contract, passed on.
    unsafe {
        zitadel_preset(
            presets::zitadel_api_app,
            signer,
            (client_id, client_id_len),
            (issuer, issuer_len),
            presets::Timing::new(now, lifetime),
            (entropy, entropy_len),
            (out, out_len, written),
        )
    }
}

/// Mints a ZITADEL System API self-signed JWT: `iss` = `sub` = `user_id` (the system user),
/// `aud` = `instance_url` exactly as the instance is reached (with its scheme), `iat` =
/// `now` − 5 s, one hour of lifetime (an instance URL without `https://` or `http://` is
/// `TG_RESULT_INVALID_ARGUMENT`). Output as `tg_assertion_zitadel_service_user`.
///
/// # Safety
/// As `tg_assertion_zitadel_service_user`.
#[no_mangle]
pub unsafe extern "C" fn tg_assertion_zitadel_system_api(
    signer: *const tg_signer,
    user_id: *const u8,
    user_id_len: usize,
    instance_url: *const u8,
    instance_url_len: usize,
    now: u64,
    entropy: *const u8,
    entropy_len: usize,
    out: *mut u8,
    out_len: usize,
    written: *mut usize,
) -> tg_result {
    ffi::run(|| {
        // SAFETY: the caller's contract.
        let (user, url, entropy) = unsafe {
            (
                ffi::text(user_id, user_id_len)?,
                ffi::text(instance_url, instance_url_len)?,
                ffi::opt_bytes(entropy, entropy_len)?,
            )
        };
        let claims = presets::zitadel_system_api(user, url, now, 5).map_err(sign_error)?;
        // SAFETY: the caller's contract.
        unsafe { mint(signer, &claims, entropy, out, out_len, written) }
    })
}

/// Mints an Auth0 `private_key_jwt` client assertion: `iss` = `sub` = `client_id`, `aud` =
/// `token_endpoint` (`https://TENANT/oauth/token`; plain http only on a loopback host), the
/// unique `jti` (fresh for every assertion), lifetime 1 to 300 s (else
/// `TG_RESULT_INVALID_ARGUMENT`, as for an empty `jti` or a non-https endpoint). Output as
/// `tg_assertion_zitadel_service_user`.
///
/// # Safety
/// As `tg_assertion_zitadel_service_user`.
#[no_mangle]
pub unsafe extern "C" fn tg_assertion_auth0_private_key_jwt(
    signer: *const tg_signer,
    client_id: *const u8,
    client_id_len: usize,
    token_endpoint: *const u8,
    token_endpoint_len: usize,
    jti: *const u8,
    jti_len: usize,
    now: u64,
    lifetime: u64,
    entropy: *const u8,
    entropy_len: usize,
    out: *mut u8,
    out_len: usize,
    written: *mut usize,
) -> tg_result {
    ffi::run(|| {
        // SAFETY: the caller's contract.
        let (client, endpoint, jti, entropy) = unsafe {
            (
                ffi::text(client_id, client_id_len)?,
                ffi::text(token_endpoint, token_endpoint_len)?,
                ffi::text(jti, jti_len)?,
                ffi::opt_bytes(entropy, entropy_len)?,
            )
        };
        let t = presets::Timing::new(now, lifetime);
        let claims =
            presets::auth0_private_key_jwt(client, endpoint, jti, t).map_err(sign_error)?;
        // SAFETY: the caller's contract.
        unsafe { mint(signer, &claims, entropy, out, out_len, written) }
    })
}
