//! `tg_replay`: one-time use of tokens by `jti`.

use tokenguard::ReplayCache;

use crate::ffi::{self, Stored};
use crate::{tg_claims, tg_result};

/// How many live `jti`s a `tg_replay` remembers.
pub const TG_REPLAY_ENTRIES: usize = 32;
/// The longest `jti` a `tg_replay` stores, in bytes (a longer one is `invalid_claim`).
pub const TG_REPLAY_JTI_MAX: usize = 64;
/// Bytes of a `tg_replay` (checked at compile time).
pub const TG_REPLAY_SIZE: usize = 2624;
/// `TG_REPLAY_SIZE` in 64-bit words.
pub const TG_REPLAY_WORDS: usize = TG_REPLAY_SIZE / 8;

/// Caller-owned storage for a replay cache: the `jti` of each accepted token until its `exp`
/// (plus leeway) has passed. Full of live entries, it refuses new tokens (`replayed`) rather
/// than forget one. Not thread-safe.
#[repr(C)]
pub struct tg_replay {
    /// Storage only: the library reads and writes it; the program never does.
    pub _opaque: [u64; TG_REPLAY_WORDS],
}

const _: () = assert!(ffi::fits::<tg_replay, ReplayInner>());

#[repr(C)]
pub(crate) struct ReplayInner {
    magic: u64,
    cache: ReplayCache<TG_REPLAY_ENTRIES, TG_REPLAY_JTI_MAX>,
}

// SAFETY: `repr(C)`, the marker first.
unsafe impl Stored for ReplayInner {
    const MAGIC: u64 = 0x7467_5245_504c_4131; // "tgREPLA1"
    type Storage = tg_replay;
}

/// Initialises `replay`, empty; `leeway` (seconds, use the policy's) keeps entries that long
/// past their `exp`.
///
/// # Safety
/// `replay` is NULL or points to writable `tg_replay` storage.
#[no_mangle]
pub unsafe extern "C" fn tg_replay_init(replay: *mut tg_replay, leeway: u32) -> tg_result {
    ffi::run(|| {
        if leeway > tokenguard::MAX_LEEWAY {
            return Err(tg_result::InvalidArgument);
        }
        // SAFETY: the caller's contract.
        unsafe {
            ffi::init(replay, || ReplayInner {
                magic: ReplayInner::MAGIC,
                cache: ReplayCache::new(leeway),
            })
        }
        .map(|_| ())
    })
}

/// Records the verified token's `jti` at `now`, or refuses it: `TG_RESULT_MISSING_CLAIM`
/// without `jti` or `exp`, `TG_RESULT_INVALID_CLAIM` for an empty or too long `jti`,
/// `TG_RESULT_EXPIRED` past `exp` plus leeway, `TG_RESULT_REPLAYED` when the `jti` is live
/// in the cache or the cache is full of live entries. On error nothing is recorded.
///
/// # Safety
/// `replay` points to an initialised `tg_replay`; `claims` to a `tg_claims` a verify call
/// filled in, whose work buffer is unchanged.
#[no_mangle]
pub unsafe extern "C" fn tg_replay_check(
    replay: *mut tg_replay,
    claims: *const tg_claims,
    now: u64,
) -> tg_result {
    ffi::run(|| {
        // SAFETY: the caller's contract.
        let r = unsafe { ffi::object::<ReplayInner>(replay) }?;
        // SAFETY: the caller's contract.
        let jti = match unsafe { crate::claims::find(claims, b"jti".as_ptr(), 3) } {
            Ok(v) => v,
            Err(tg_result::NotFound) => return Err(tg_result::MissingClaim),
            Err(e) => return Err(e),
        };
        // SAFETY: `find` checked `claims`.
        let c = unsafe { &*claims };
        if !c.has_exp {
            return Err(tg_result::MissingClaim);
        }
        let s = jti.as_json_str().ok_or(tg_result::InvalidClaim)?;
        let mut buf = [0u8; TG_REPLAY_JTI_MAX];
        let id = s.decode_into(&mut buf).ok_or(tg_result::InvalidClaim)?;
        r.cache.check_and_record(id.as_bytes(), c.exp, now)?;
        Ok(())
    })
}

/// The number of live entries at `now`.
///
/// # Safety
/// `replay` points to an initialised `tg_replay`; `count` is writable.
#[no_mangle]
pub unsafe extern "C" fn tg_replay_len(
    replay: *const tg_replay,
    now: u64,
    count: *mut usize,
) -> tg_result {
    ffi::run(|| {
        // SAFETY: the caller's contract.
        let r = unsafe { ffi::object_ref::<ReplayInner>(replay) }?;
        let out = ffi::Out::new(count)?;
        // SAFETY: the caller's contract.
        unsafe { out.set(r.cache.len(now)) };
        Ok(())
    })
}
