//! `tg_cache`: the key set with its refresh state, JWK Set streaming, and verification.

use tokenguard::{
    FetchReason, Freshness, JwkCache, JwksError, KeyError, PendingUpdate, RefreshPolicy,
    UpdateEvent, UpdateOutcome,
};
use tokenguard_device::proto;

use crate::ffi::{self, Out, Stored};
use crate::{tg_claims, tg_policy, tg_result, PolicyInner, TG_MAX_KEYS, TG_MAX_KID_LEN};

/// Bytes of a `tg_cache` (32-bit and 64-bit targets alike; checked at compile time).
pub const TG_CACHE_SIZE: usize = 11264;
/// `TG_CACHE_SIZE` in 64-bit words.
pub const TG_CACHE_WORDS: usize = TG_CACHE_SIZE / 8;

/// Caller-owned storage for a key set with its refresh state. Declare one (static, or
/// wherever it outlives its use), then `tg_cache_init` it. Not thread-safe: one caller at a
/// time.
#[repr(C)]
pub struct tg_cache {
    /// Storage only: the library reads and writes it; the program never does.
    pub _opaque: [u64; TG_CACHE_WORDS],
}

const _: () = assert!(ffi::fits::<tg_cache, CacheInner>());

/// The refresh policy of a cache, in seconds (`tg_refresh_policy_default` fills in the
/// defaults: max-age 3600 when the response has none, clamped to 60..86400, a retry 30 s
/// after a failure, unknown-`kid` refetches at most once a minute, stale keys served for an
/// hour).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct tg_refresh_policy {
    /// Lifetime of a fetched set when the response gave no max-age.
    pub default_max_age: u64,
    /// A max-age below this is raised to it.
    pub min_max_age: u64,
    /// A max-age above this is lowered to it.
    pub max_max_age: u64,
    /// Wait after a failed fetch before the next.
    pub retry_after: u64,
    /// Minimum time between refetches asked for by an unknown `kid`.
    pub unknown_kid_interval: u64,
    /// How long expired keys keep being served while fetches fail.
    pub stale_for: u64,
}

impl From<RefreshPolicy> for tg_refresh_policy {
    fn from(p: RefreshPolicy) -> Self {
        tg_refresh_policy {
            default_max_age: p.default_max_age,
            min_max_age: p.min_max_age,
            max_max_age: p.max_max_age,
            retry_after: p.retry_after,
            unknown_kid_interval: p.unknown_kid_interval,
            stale_for: p.stale_for,
        }
    }
}

/// A work buffer of this many bytes holds any token a policy with the default limits accepts
/// (tokens up to 8192 bytes; the verify calls need at least the token's length).
pub const TG_WORK_SIZE: usize = 8192;
const _: () = assert!(TG_WORK_SIZE == tokenguard::DEFAULT_MAX_TOKEN_LEN);

/// `max_age` for `tg_cache_jwks_begin`: the response set no max-age.
pub const TG_NO_MAX_AGE: u64 = u64::MAX;

/// `tg_cache_load_jwk` flag: the key is pinned (JWK Set updates never replace or remove it).
pub const TG_LOAD_PINNED: u32 = 1;

/// `tg_cache_poll`: no fetch is due.
pub const TG_FETCH_NONE: u32 = 0;
/// `tg_cache_poll`: nothing was ever loaded.
pub const TG_FETCH_INITIAL: u32 = 1;
/// `tg_cache_poll`: the key set's lifetime is over.
pub const TG_FETCH_EXPIRED: u32 = 2;
/// `tg_cache_poll`: a token named an unknown `kid` (rate-limited).
pub const TG_FETCH_UNKNOWN_KID: u32 = 3;
/// `tg_cache_poll`: a fetch is due (nothing loaded yet, or the set expired), the last attempt
/// failed, and `retry_after` has passed since it. While the set is fresh, a failed fetch (an
/// unknown-`kid` refetch, a refused update) makes nothing due: the keys in force are fine.
pub const TG_FETCH_RETRY: u32 = 4;

/// `tg_cache_freshness`: no JWK Set was ever loaded.
pub const TG_FRESHNESS_NEVER_LOADED: u32 = 0;
/// `tg_cache_freshness`: within the set's lifetime.
pub const TG_FRESHNESS_FRESH: u32 = 1;
/// `tg_cache_freshness`: expired, still served (stale window).
pub const TG_FRESHNESS_STALE: u32 = 2;
/// `tg_cache_freshness`: past the stale window: fetched keys are refused (`key_rejected`).
pub const TG_FRESHNESS_EXPIRED: u32 = 3;

/// How many skipped keys a `tg_jwks_report` lists.
pub const TG_SKIP_LOG: usize = 8;

/// What a JWK Set update did (`tg_cache_jwks_chunk`, `tg_cache_jwks_end`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct tg_jwks_report {
    /// Usable keys in the new set: new, changed and unchanged ones together (a rotation from
    /// {k1, k2} to {k1, k3} reports 2 loaded, 1 unchanged, 1 removed). In a refused update:
    /// the usable keys that found a slot.
    pub loaded: u16,
    /// Of `loaded`, keys already present and unchanged (they keep their slot).
    pub unchanged: u16,
    /// Keys skipped (unsupported, invalid, no slot, ...).
    pub skipped: u16,
    /// Old keys the new set removed.
    pub removed: u16,
    /// With `TG_RESULT_JWKS_REFUSED`: why (docs/protocol.md's `JWKS_REFUSED` codes: 0 JSON
    /// error, 1 not a key set, 2 incomplete, 3 private keys in the set, 5 no usable key, 6 no
    /// space); 0 otherwise.
    pub refusal: u8,
    /// With refusal 6: how many free slots the document needs (every new key staged, one
    /// later dropped as a duplicate `kid` included, plus those that found no slot), and how
    /// many were free when the update began.
    pub needed: u16,
    /// See `needed`.
    pub free: u16,
    /// Skipped keys listed below (at most `TG_SKIP_LOG`; `skipped` counts them all).
    pub skips_logged: u8,
    /// The index of each listed skipped key in the set's `keys` array.
    pub skip_index: [u16; TG_SKIP_LOG],
    /// Its key error code (docs/protocol.md).
    pub skip_reason: [u8; TG_SKIP_LOG],
}

impl tg_jwks_report {
    const EMPTY: tg_jwks_report = tg_jwks_report {
        loaded: 0,
        unchanged: 0,
        skipped: 0,
        removed: 0,
        refusal: 0,
        needed: 0,
        free: 0,
        skips_logged: 0,
        skip_index: [0; TG_SKIP_LOG],
        skip_reason: [0; TG_SKIP_LOG],
    };
}

/// One key of the cache (`tg_cache_key_info`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct tg_key_info {
    /// The key id (not NUL-terminated), `kid_len` bytes.
    pub kid: [u8; TG_MAX_KID_LEN],
    /// Length of `kid`; 0 for a key without one.
    pub kid_len: u8,
    /// Key type: 0 RSA, 1 EC, 2 OKP, 3 oct, 255 another.
    pub kty: u8,
    /// The algorithm code the key is bound to (`TG_ALG_*`), 255 for none.
    pub alg: u8,
    /// Pinned (1) or fetched (0).
    pub pinned: u8,
    /// Key size in bits.
    pub bits: u16,
}

/// Verification counters (`tg_cache_stats`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct tg_stats {
    /// Tokens accepted.
    pub accepted: u32,
    /// Tokens rejected, by engine code number (`tg_result` minus one).
    pub rejected: [u32; 18],
    /// Fetches started.
    pub fetches: u32,
    /// Fetches that failed (refused updates included).
    pub fetch_failures: u32,
    /// Of those, complete JWK Sets refused (no usable key, or no space).
    pub updates_refused: u32,
}

/// A JWK Set update in progress.
struct Update {
    pending: PendingUpdate,
    max_age: Option<u64>,
    log: Log,
}

/// The skipped keys of an update, as the report lists them.
#[derive(Clone, Copy)]
struct Log {
    count: u16,
    index: [u16; TG_SKIP_LOG],
    reason: [u8; TG_SKIP_LOG],
}

impl Log {
    const EMPTY: Log = Log {
        count: 0,
        index: [0; TG_SKIP_LOG],
        reason: [0; TG_SKIP_LOG],
    };

    fn record(&mut self, e: UpdateEvent) {
        if let UpdateEvent::Skipped(s) = e {
            let i = usize::from(self.count);
            if let (Some(x), Some(r)) = (self.index.get_mut(i), self.reason.get_mut(i)) {
                *x = s.index;
                *r = proto::key_error_code(s.reason);
            }
            self.count = self.count.saturating_add(1);
        }
    }

    fn into_report(self) -> tg_jwks_report {
        let n = u8::try_from(usize::from(self.count).min(TG_SKIP_LOG)).unwrap_or(0);
        tg_jwks_report {
            skips_logged: n,
            skip_index: self.index,
            skip_reason: self.reason,
            skipped: self.count,
            ..tg_jwks_report::EMPTY
        }
    }
}

#[repr(C)]
pub(crate) struct CacheInner {
    magic: u64,
    cache: JwkCache<TG_MAX_KEYS, crate::Engine>,
    update: Option<Update>,
}

// SAFETY: `repr(C)`, the marker first.
unsafe impl Stored for CacheInner {
    const MAGIC: u64 = 0x7467_4341_4348_4531; // "tgCACHE1"
    type Storage = tg_cache;
}

impl CacheInner {
    /// Ends an update in progress without counting anything; whether there was one.
    fn abandon(&mut self) -> bool {
        match self.update.take() {
            Some(mut u) => {
                u.pending.abort(self.cache.keys_mut());
                true
            }
            None => false,
        }
    }
}

/// Writes the default refresh policy to `out`.
///
/// # Safety
/// `out` is NULL or points to a writable `tg_refresh_policy`.
#[no_mangle]
pub unsafe extern "C" fn tg_refresh_policy_default(out: *mut tg_refresh_policy) -> tg_result {
    ffi::run(|| {
        let out = Out::new(out)?;
        // SAFETY: the caller's contract.
        unsafe { out.set(RefreshPolicy::DEFAULT.into()) };
        Ok(())
    })
}

/// Initialises `cache`, empty, with the refresh policy `policy` (NULL: the defaults).
/// Initialising an initialised cache empties it.
///
/// # Safety
/// `cache` is NULL or points to writable `tg_cache` storage; `policy` is NULL or points to
/// a `tg_refresh_policy`.
#[no_mangle]
pub unsafe extern "C" fn tg_cache_init(
    cache: *mut tg_cache,
    policy: *const tg_refresh_policy,
) -> tg_result {
    ffi::run(|| {
        let p = if policy.is_null() {
            RefreshPolicy::DEFAULT
        } else {
            // SAFETY: non-NULL, and points to a policy (the caller's contract).
            let p = unsafe { &*policy };
            RefreshPolicy {
                default_max_age: p.default_max_age,
                min_max_age: p.min_max_age,
                max_max_age: p.max_max_age,
                retry_after: p.retry_after,
                unknown_kid_interval: p.unknown_kid_interval,
                stale_for: p.stale_for,
            }
        };
        if p.min_max_age > p.max_max_age {
            return Err(tg_result::InvalidArgument);
        }
        // SAFETY: the caller's contract.
        unsafe {
            ffi::init(cache, || CacheInner {
                magic: CacheInner::MAGIC,
                cache: JwkCache::new(p),
                update: None,
            })
        }
        .map(|_| ())
    })
}

/// Loads one JWK (JSON text, `json_len` bytes). `flags`: `TG_LOAD_PINNED` or 0.
/// `TG_RESULT_KEY_REFUSED` with the key error code in `*key_error` (if not NULL) when the key
/// is refused, `TG_RESULT_FULL` when every slot is taken; the keys are then unchanged.
///
/// # Safety
/// `cache` points to an initialised `tg_cache`; `json` to `json_len` readable bytes;
/// `key_error` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn tg_cache_load_jwk(
    cache: *mut tg_cache,
    json: *const u8,
    json_len: usize,
    flags: u32,
    key_error: *mut u8,
) -> tg_result {
    ffi::run(|| {
        // SAFETY: the caller's contract.
        let c = unsafe { ffi::object::<CacheInner>(cache) }?;
        // SAFETY: the caller's contract.
        let json = unsafe { ffi::bytes(json, json_len) }?;
        if flags & !TG_LOAD_PINNED != 0 {
            return Err(tg_result::InvalidArgument);
        }
        let refused = |e: KeyError| {
            if let Some(o) = Out::optional(key_error) {
                // SAFETY: the caller's contract.
                unsafe { o.set(proto::key_error_code(e)) };
            }
            tg_result::KeyRefused
        };
        let jwk = tokenguard::Jwk::from_json(json).map_err(refused)?;
        let keys = c.cache.keys_mut();
        let r = if flags & TG_LOAD_PINNED != 0 {
            keys.pin(jwk)
        } else {
            keys.insert(jwk)
        };
        match r {
            Ok(()) => Ok(()),
            Err((_, KeyError::NoSpace)) => Err(tg_result::Full),
            Err((_, e)) => Err(refused(e)),
        }
    })
}

/// Removes the key with this `kid` (pinned or fetched). `TG_RESULT_NOT_FOUND` if none has it.
///
/// # Safety
/// `cache` points to an initialised `tg_cache`; `kid` to `kid_len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn tg_cache_remove_key(
    cache: *mut tg_cache,
    kid: *const u8,
    kid_len: usize,
) -> tg_result {
    ffi::run(|| {
        // SAFETY: the caller's contract.
        let c = unsafe { ffi::object::<CacheInner>(cache) }?;
        // SAFETY: the caller's contract.
        let kid = unsafe { ffi::bytes(kid, kid_len) }?;
        c.cache
            .keys_mut()
            .remove(kid)
            .map(|_| ())
            .ok_or(tg_result::NotFound)
    })
}

/// The number of keys in force.
///
/// # Safety
/// `cache` points to an initialised `tg_cache`; `count` is writable.
#[no_mangle]
pub unsafe extern "C" fn tg_cache_key_count(
    cache: *const tg_cache,
    count: *mut usize,
) -> tg_result {
    ffi::run(|| {
        // SAFETY: the caller's contract.
        let c = unsafe { ffi::object_ref::<CacheInner>(cache) }?;
        let out = Out::new(count)?;
        // SAFETY: the caller's contract.
        unsafe { out.set(c.cache.keys().len()) };
        Ok(())
    })
}

/// The key at `index` (0 to count − 1, in slot order). `TG_RESULT_NOT_FOUND` past the end.
///
/// # Safety
/// `cache` points to an initialised `tg_cache`; `info` is writable.
#[no_mangle]
pub unsafe extern "C" fn tg_cache_key_info(
    cache: *const tg_cache,
    index: usize,
    info: *mut tg_key_info,
) -> tg_result {
    ffi::run(|| {
        // SAFETY: the caller's contract.
        let c = unsafe { ffi::object_ref::<CacheInner>(cache) }?;
        let out = Out::new(info)?;
        let (k, pinned) = c
            .cache
            .keys()
            .iter()
            .nth(index)
            .ok_or(tg_result::NotFound)?;
        let mut kid = [0u8; TG_MAX_KID_LEN];
        let id = k.kid().map_or(&[][..], |id| id.as_bytes());
        for (d, s) in kid.iter_mut().zip(id) {
            *d = *s;
        }
        let kty = match k.key_type() {
            tokenguard::KeyType::Rsa => 0,
            tokenguard::KeyType::Ec => 1,
            tokenguard::KeyType::Okp => 2,
            tokenguard::KeyType::Oct => 3,
            _ => 0xFF,
        };
        let v = tg_key_info {
            kid,
            kid_len: u8::try_from(id.len()).unwrap_or(0),
            kty,
            alg: k.alg().map_or(0xFF, |a| a as u8),
            pinned: u8::from(pinned),
            bits: u16::try_from(k.bits()).unwrap_or(u16::MAX),
        };
        // SAFETY: the caller's contract.
        unsafe { out.set(v) };
        Ok(())
    })
}

/// What to fetch next at `now` (unix seconds): `TG_FETCH_NONE` or a `TG_FETCH_*` reason.
///
/// # Safety
/// `cache` points to an initialised `tg_cache`; `reason` is writable.
#[no_mangle]
pub unsafe extern "C" fn tg_cache_poll(
    cache: *const tg_cache,
    now: u64,
    reason: *mut u32,
) -> tg_result {
    ffi::run(|| {
        // SAFETY: the caller's contract.
        let c = unsafe { ffi::object_ref::<CacheInner>(cache) }?;
        let out = Out::new(reason)?;
        let r = match c.cache.poll(now) {
            None => TG_FETCH_NONE,
            Some(FetchReason::Initial) => TG_FETCH_INITIAL,
            Some(FetchReason::Expired) => TG_FETCH_EXPIRED,
            Some(FetchReason::UnknownKid) => TG_FETCH_UNKNOWN_KID,
            Some(_) => TG_FETCH_RETRY,
        };
        // SAFETY: the caller's contract.
        unsafe { out.set(r) };
        Ok(())
    })
}

/// How trustworthy the fetched keys are at `now`: a `TG_FRESHNESS_*` value.
///
/// # Safety
/// `cache` points to an initialised `tg_cache`; `freshness` is writable.
#[no_mangle]
pub unsafe extern "C" fn tg_cache_freshness(
    cache: *const tg_cache,
    now: u64,
    freshness: *mut u32,
) -> tg_result {
    ffi::run(|| {
        // SAFETY: the caller's contract.
        let c = unsafe { ffi::object_ref::<CacheInner>(cache) }?;
        let out = Out::new(freshness)?;
        let f = match c.cache.freshness(now) {
            Freshness::NeverLoaded => TG_FRESHNESS_NEVER_LOADED,
            Freshness::Fresh => TG_FRESHNESS_FRESH,
            Freshness::Stale => TG_FRESHNESS_STALE,
            _ => TG_FRESHNESS_EXPIRED,
        };
        // SAFETY: the caller's contract.
        unsafe { out.set(f) };
        Ok(())
    })
}

/// Records that a fetch of the JWK Set starts at `now` (call it when the HTTP request goes
/// out, before `tg_cache_jwks_begin`).
///
/// # Safety
/// `cache` points to an initialised `tg_cache`.
#[no_mangle]
pub unsafe extern "C" fn tg_cache_fetch_started(cache: *mut tg_cache, now: u64) -> tg_result {
    ffi::run(|| {
        // SAFETY: the caller's contract.
        let c = unsafe { ffi::object::<CacheInner>(cache) }?;
        c.cache.fetch_started(now);
        Ok(())
    })
}

/// Records that the fetch failed at `now` (network error, HTTP status): an update in
/// progress is abandoned (the keys stay as they were) and the retry interval starts (see
/// `TG_FETCH_RETRY`: a retry is due only while a fetch is due at all).
///
/// # Safety
/// `cache` points to an initialised `tg_cache`.
#[no_mangle]
pub unsafe extern "C" fn tg_cache_fetch_failed(cache: *mut tg_cache, now: u64) -> tg_result {
    ffi::run(|| {
        // SAFETY: the caller's contract.
        let c = unsafe { ffi::object::<CacheInner>(cache) }?;
        c.abandon();
        c.cache.fetch_failed(now);
        Ok(())
    })
}

/// Starts streaming a JWK Set document (the fetch's response body) into the cache;
/// `max_age` is the response's max-age in seconds, or `TG_NO_MAX_AGE`. An update already in
/// progress is abandoned. Nothing changes in the keys in force until `tg_cache_jwks_end`
/// accepts the whole document.
///
/// # Safety
/// `cache` points to an initialised `tg_cache`.
#[no_mangle]
pub unsafe extern "C" fn tg_cache_jwks_begin(cache: *mut tg_cache, max_age: u64) -> tg_result {
    ffi::run(|| {
        // SAFETY: the caller's contract.
        let c = unsafe { ffi::object::<CacheInner>(cache) }?;
        c.abandon();
        let pending = c.cache.keys_mut().begin_pending();
        c.update = Some(Update {
            pending,
            max_age: (max_age != TG_NO_MAX_AGE).then_some(max_age),
            log: Log::EMPTY,
        });
        Ok(())
    })
}

/// Feeds the next `len` bytes of the document (any split, any size, 0 included).
/// `TG_RESULT_JWKS_REFUSED` on a JSON grammar error in the bytes seen so far (refusal 0): the
/// update is over (counted as a failed fetch at `now`), the keys in force unchanged. Every
/// other refusal (not a key set, incomplete, private keys, no usable key, no space) comes
/// from `tg_cache_jwks_end`. `report` (may be NULL) gets the skipped keys so far, or the
/// refusal.
///
/// # Safety
/// `cache` points to an initialised `tg_cache`; `chunk` to `len` readable bytes; `report`
/// is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn tg_cache_jwks_chunk(
    cache: *mut tg_cache,
    now: u64,
    chunk: *const u8,
    len: usize,
    report: *mut tg_jwks_report,
) -> tg_result {
    ffi::run(|| {
        // SAFETY: the caller's contract.
        let c = unsafe { ffi::object::<CacheInner>(cache) }?;
        // SAFETY: the caller's contract.
        let chunk = unsafe { ffi::bytes(chunk, len) }?;
        let report = Out::optional(report);
        let mut u = c.update.take().ok_or(tg_result::NoUpdate)?;
        let Update { pending, log, .. } = &mut u;
        match pending.feed(c.cache.keys_mut(), chunk, &mut |e| log.record(e)) {
            Ok(()) => {
                if let Some(o) = report {
                    // SAFETY: the caller's contract.
                    unsafe { o.set(u.log.into_report()) };
                }
                c.update = Some(u);
                Ok(())
            }
            Err(e) => {
                c.cache.fetch_failed(now);
                if let Some(o) = report {
                    let mut r = u.log.into_report();
                    r.refusal = proto::jwks_error_code(e);
                    // SAFETY: the caller's contract.
                    unsafe { o.set(r) };
                }
                Err(tg_result::JwksRefused)
            }
        }
    })
}

/// Ends the document. On `TG_RESULT_OK` the new set is in force (pinned keys stay) and the
/// cache is fresh for the max-age given to `tg_cache_jwks_begin`. `TG_RESULT_JWKS_REFUSED`
/// when the document is incomplete or invalid, holds no usable key, or more new keys than
/// there are free slots: the old keys stay in force and it counts as a failed fetch at `now`.
/// `report` (may be NULL) says what happened either way.
///
/// # Safety
/// `cache` points to an initialised `tg_cache`; `report` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn tg_cache_jwks_end(
    cache: *mut tg_cache,
    now: u64,
    report: *mut tg_jwks_report,
) -> tg_result {
    ffi::run(|| {
        // SAFETY: the caller's contract.
        let c = unsafe { ffi::object::<CacheInner>(cache) }?;
        let report = Out::optional(report);
        let mut u = c.update.take().ok_or(tg_result::NoUpdate)?;
        let Update {
            pending,
            log,
            max_age,
        } = &mut u;
        let result = pending.finish(c.cache.keys_mut(), &mut |e| log.record(e));
        c.cache.update_finished(now, *max_age, &result);
        let mut r = u.log.into_report();
        let (code, rep) = match result {
            Ok(rep) => (Ok(()), Some(rep)),
            Err(e @ JwksError::Refused(rep)) => {
                r.refusal = proto::jwks_error_code(e);
                match rep.outcome {
                    UpdateOutcome::NoSpace { needed, free } => {
                        r.needed = needed;
                        r.free = free;
                    }
                    _ => {
                        let used = c.cache.keys().len();
                        r.free = u16::try_from(TG_MAX_KEYS.saturating_sub(used)).unwrap_or(0);
                    }
                }
                (Err(tg_result::JwksRefused), Some(rep))
            }
            Err(e) => {
                r.refusal = proto::jwks_error_code(e);
                (Err(tg_result::JwksRefused), None)
            }
        };
        if let Some(rep) = rep {
            r.loaded = rep.loaded;
            r.unchanged = rep.unchanged;
            r.skipped = rep.skipped;
            r.removed = rep.removed;
        }
        if let Some(o) = report {
            // SAFETY: the caller's contract.
            unsafe { o.set(r) };
        }
        code
    })
}

/// Abandons the update in progress without counting a failure (the keys stay as they
/// were). `TG_RESULT_NO_UPDATE` if none is in progress.
///
/// # Safety
/// `cache` points to an initialised `tg_cache`.
#[no_mangle]
pub unsafe extern "C" fn tg_cache_jwks_abort(cache: *mut tg_cache) -> tg_result {
    ffi::run(|| {
        // SAFETY: the caller's contract.
        let c = unsafe { ffi::object::<CacheInner>(cache) }?;
        if c.abandon() {
            Ok(())
        } else {
            Err(tg_result::NoUpdate)
        }
    })
}

/// The verification and fetch counters.
///
/// # Safety
/// `cache` points to an initialised `tg_cache`; `stats` is writable.
#[no_mangle]
pub unsafe extern "C" fn tg_cache_stats(cache: *const tg_cache, stats: *mut tg_stats) -> tg_result {
    ffi::run(|| {
        // SAFETY: the caller's contract.
        let c = unsafe { ffi::object_ref::<CacheInner>(cache) }?;
        let out = Out::new(stats)?;
        let s = c.cache.stats();
        let v = tg_stats {
            accepted: s.accepted,
            rejected: s.rejected,
            fetches: s.fetches,
            fetch_failures: s.fetch_failures,
            updates_refused: s.updates_refused,
        };
        // SAFETY: the caller's contract.
        unsafe { out.set(v) };
        Ok(())
    })
}

/// Verifies the JWT `token` (`token_len` bytes, compact serialization) at `now` (unix
/// seconds) against the cache's keys and `policy`. `work` is scratch for the decoded header,
/// payload and signature: at least `token_len` bytes (else `TG_RESULT_BUFFER_TOO_SMALL`).
/// On `TG_RESULT_OK`, `*claims` describes the verified claims, which live in `work`: keep
/// `work` unchanged while you read them. Any other result is the token's verdict (or an
/// interface error) and `*claims` is not written.
///
/// # Safety
/// `cache` points to an initialised `tg_cache`, `policy` to an initialised `tg_policy`;
/// `token` to `token_len` readable bytes; `work` to `work_len` writable bytes not
/// overlapping `token`; `claims` is writable.
#[no_mangle]
pub unsafe extern "C" fn tg_cache_verify(
    cache: *mut tg_cache,
    policy: *const tg_policy,
    token: *const u8,
    token_len: usize,
    now: u64,
    work: *mut u8,
    work_len: usize,
    claims: *mut tg_claims,
) -> tg_result {
    ffi::run(|| {
        // SAFETY: the caller's contract.
        let c = unsafe { ffi::object::<CacheInner>(cache) }?;
        // SAFETY: the caller's contract.
        let p = unsafe { ffi::object_ref::<PolicyInner>(policy) }?;
        // SAFETY: the caller's contract.
        let token = unsafe { ffi::bytes(token, token_len) }?;
        // SAFETY: the caller's contract.
        let work = unsafe { ffi::buffer(work, work_len) }?;
        let out = Out::new(claims)?;
        if work.len() < token.len() {
            return Err(tg_result::BufferTooSmall);
        }
        let v = p.validation(true)?;
        let t = c.cache.verify(token, &v.build(), now, work)?;
        let view = crate::claims::view(&t, p.required())?;
        // SAFETY: the caller's contract.
        unsafe { out.set(view) };
        Ok(())
    })
}

/// Verifies a compact JWS with any payload (not read as claims: only the policy's
/// algorithms, `typ`, `kid` and length rules apply, so the policy need not name or ignore an
/// issuer and audience) against the cache's keys at `now`. `work` as for
/// `tg_cache_verify`. On `TG_RESULT_OK`, `*payload` and `*payload_len` give the verified
/// payload, inside `work`.
///
/// # Safety
/// As `tg_cache_verify`; `payload` and `payload_len` are writable.
#[no_mangle]
pub unsafe extern "C" fn tg_cache_verify_jws(
    cache: *mut tg_cache,
    policy: *const tg_policy,
    token: *const u8,
    token_len: usize,
    now: u64,
    work: *mut u8,
    work_len: usize,
    payload: *mut *const u8,
    payload_len: *mut usize,
) -> tg_result {
    ffi::run(|| {
        // SAFETY: the caller's contract.
        let c = unsafe { ffi::object::<CacheInner>(cache) }?;
        // SAFETY: the caller's contract.
        let p = unsafe { ffi::object_ref::<PolicyInner>(policy) }?;
        // SAFETY: the caller's contract.
        let token = unsafe { ffi::bytes(token, token_len) }?;
        // SAFETY: the caller's contract.
        let work = unsafe { ffi::buffer(work, work_len) }?;
        let (out_p, out_len) = (Out::new(payload)?, Out::new(payload_len)?);
        if work.len() < token.len() {
            return Err(tg_result::BufferTooSmall);
        }
        let v = p.validation(false)?;
        let t = c.cache.verify_jws(token, &v.build(), now, work)?;
        let body = t.payload();
        // SAFETY: the caller's contract.
        unsafe {
            out_p.set(body.as_ptr());
            out_len.set(body.len());
        }
        Ok(())
    })
}
