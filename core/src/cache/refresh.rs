//! The refresh state machine around a key set ([`JwkCache`]): when a fetch is due, how fresh
//! the fetched keys are, the counters; the caller fetches and passes `now` every time.

use core::cell::Cell;

use super::{JwksUpdate, KeySet, UpdateEvent, UpdateReport};
use crate::claims::Validation;
use crate::crypto::{Backend, DefaultBackend};
use crate::error::{Error, JwksError, KeyError};
use crate::json::JsonStr;
use crate::jwk::Jwk;
use crate::verify::{self, KeySource, VerifiedToken};

/// Refresh timing (seconds). The defaults follow common JWKS clients: an hour when the
/// response sets no `max-age`, at least a minute, at most a day; at most one unknown-`kid`
/// refetch per minute; retries 30 s after a failure; stale keys served for an hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct RefreshPolicy {
    /// Lifetime when the fetch reported no `max-age`.
    pub default_max_age: u64,
    /// A `max-age` below this is raised to it (minimum interval between scheduled fetches).
    pub min_max_age: u64,
    /// A `max-age` above this is lowered to it.
    pub max_max_age: u64,
    /// Wait after a failed fetch before trying again.
    pub retry_after: u64,
    /// Minimum time between refetches triggered by an unknown `kid`.
    pub unknown_kid_interval: u64,
    /// How long expired keys keep being served while fetches fail.
    pub stale_for: u64,
}

impl Default for RefreshPolicy {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl RefreshPolicy {
    /// The defaults described on the type.
    pub const DEFAULT: RefreshPolicy = RefreshPolicy {
        default_max_age: 3600,
        min_max_age: 60,
        max_max_age: 86_400,
        retry_after: 30,
        unknown_kid_interval: 60,
        stale_for: 3600,
    };
}

/// Why a fetch is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum FetchReason {
    /// Nothing was ever loaded.
    Initial,
    /// The key set's lifetime is over.
    Expired,
    /// A token named a `kid` the set does not have (rate-limited).
    UnknownKid,
    /// The last fetch failed; retrying.
    Retry,
}

/// How trustworthy the fetched keys are now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Freshness {
    /// No successful fetch yet (only pinned or inserted keys).
    NeverLoaded,
    /// Within the set's lifetime.
    Fresh,
    /// Expired but within the stale window: still served.
    Stale,
    /// Beyond the stale window: fetched keys are refused (`key_rejected`).
    Expired,
}

/// Verification counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub struct Stats {
    /// Tokens accepted.
    pub accepted: u32,
    /// Tokens rejected, by [`Error::code_number`].
    pub rejected: [u32; 18],
    /// Fetches started.
    pub fetches: u32,
    /// Fetches that failed (refused updates included).
    pub fetch_failures: u32,
    /// Of those, complete JWK Sets refused because they held no usable key or did not fit
    /// ([`JwksError::Refused`]).
    pub updates_refused: u32,
}

/// A [`KeySet`] with a refresh state machine and statistics.
///
/// ```
/// use tokenguard::{FetchReason, JwkCache, RefreshPolicy};
/// let mut cache: JwkCache<8> = JwkCache::new(RefreshPolicy::DEFAULT);
/// let now = 1_700_000_000;
/// assert_eq!(cache.poll(now), Some(FetchReason::Initial));
/// cache.fetch_started(now);
/// let doc = br#"{"keys":[{"kty":"oct","kid":"k","alg":"HS256","k":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"}]}"#;
/// let report = cache.load_jwks(doc, now, Some(600), &mut |_| {}).unwrap();
/// assert_eq!(report.loaded, 1);
/// assert_eq!(cache.poll(now + 599), None);
/// assert_eq!(cache.poll(now + 600), Some(FetchReason::Expired));
/// ```
#[derive(Clone, Debug)]
pub struct JwkCache<const N: usize, B: Backend = DefaultBackend> {
    keys: KeySet<N, B>,
    policy: RefreshPolicy,
    loaded_at: Option<u64>,
    expires_at: u64,
    last_attempt: Option<u64>,
    last_failure: Option<u64>,
    unknown_kid: bool,
    stats: Stats,
}

impl<const N: usize, B: Backend> JwkCache<N, B> {
    /// An empty cache.
    pub const fn new(policy: RefreshPolicy) -> Self {
        JwkCache {
            keys: KeySet::new(),
            policy,
            loaded_at: None,
            expires_at: 0,
            last_attempt: None,
            last_failure: None,
            unknown_kid: false,
            stats: Stats {
                accepted: 0,
                rejected: [0; 18],
                fetches: 0,
                fetch_failures: 0,
                updates_refused: 0,
            },
        }
    }

    /// The keys.
    pub fn keys(&self) -> &KeySet<N, B> {
        &self.keys
    }

    /// The keys, to insert or pin keys by hand.
    pub fn keys_mut(&mut self) -> &mut KeySet<N, B> {
        &mut self.keys
    }

    /// The refresh policy.
    pub fn policy(&self) -> &RefreshPolicy {
        &self.policy
    }

    /// Counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// When the current set expires (0 before the first load).
    pub fn expires_at(&self) -> u64 {
        self.expires_at
    }

    /// When the last fetch failed, if the latest outcome was a failure.
    pub fn last_failure(&self) -> Option<u64> {
        self.last_failure
    }

    /// Whether a token asked for an unknown `kid` since the last fetch.
    pub fn unknown_kid_pending(&self) -> bool {
        self.unknown_kid
    }

    /// The freshness of the fetched keys at `now`.
    pub fn freshness(&self, now: u64) -> Freshness {
        if self.loaded_at.is_none() {
            Freshness::NeverLoaded
        } else if now < self.expires_at {
            Freshness::Fresh
        } else if now < self.expires_at.saturating_add(self.policy.stale_for) {
            Freshness::Stale
        } else {
            Freshness::Expired
        }
    }

    fn since(&self, t: Option<u64>, now: u64) -> u64 {
        t.map_or(u64::MAX, |t| now.saturating_sub(t))
    }

    /// Whether a fetch is due now, and why. Never asks more often than the policy allows.
    pub fn poll(&self, now: u64) -> Option<FetchReason> {
        let since_attempt = self.since(self.last_attempt, now);
        let retry_due = since_attempt >= self.policy.retry_after;
        if self.loaded_at.is_none() {
            return match self.last_attempt {
                None => Some(FetchReason::Initial),
                Some(_) => retry_due.then_some(FetchReason::Retry),
            };
        }
        if now >= self.expires_at {
            let attempted_since_expiry = self.last_attempt.is_some_and(|t| t >= self.expires_at);
            return if !attempted_since_expiry {
                Some(FetchReason::Expired)
            } else {
                retry_due.then_some(FetchReason::Retry)
            };
        }
        if self.unknown_kid && since_attempt >= self.policy.unknown_kid_interval {
            return Some(FetchReason::UnknownKid);
        }
        None
    }

    /// Records that a fetch started (for rate limiting).
    pub fn fetch_started(&mut self, now: u64) {
        self.last_attempt = Some(now);
        self.stats.fetches = self.stats.fetches.saturating_add(1);
    }

    /// Records a failed fetch (network error, bad status, refused document). The keys stay.
    pub fn fetch_failed(&mut self, now: u64) {
        self.last_failure = Some(now);
        if self.last_attempt.is_none() {
            self.last_attempt = Some(now);
        }
        self.stats.fetch_failures = self.stats.fetch_failures.saturating_add(1);
    }

    /// Records a fetch whose JWK Set was refused whole ([`JwksError::Refused`]): a failed
    /// fetch (retry, stale window) that is also counted in [`Stats::updates_refused`].
    pub fn fetch_refused(&mut self, now: u64) {
        self.count_refused();
        self.fetch_failed(now);
    }

    /// Counts a refused JWK Set in [`Stats::updates_refused`] without touching the refresh
    /// state (for callers with no clock yet).
    pub fn count_refused(&mut self) {
        self.stats.updates_refused = self.stats.updates_refused.saturating_add(1);
    }

    /// Records the outcome of a finished update: success with `max_age`, a refused set, or
    /// another failure.
    pub fn update_finished(
        &mut self,
        now: u64,
        max_age: Option<u64>,
        result: &Result<UpdateReport, JwksError>,
    ) {
        match result {
            Ok(_) => self.fetch_succeeded(now, max_age),
            Err(JwksError::Refused(_)) => self.fetch_refused(now),
            Err(_) => self.fetch_failed(now),
        }
    }

    /// Records a successful load with the response's `max-age` (clamped by the policy).
    pub fn fetch_succeeded(&mut self, now: u64, max_age: Option<u64>) {
        let p = &self.policy;
        let age = max_age
            .unwrap_or(p.default_max_age)
            .min(p.max_max_age)
            .max(p.min_max_age);
        self.loaded_at = Some(now);
        self.expires_at = now.saturating_add(age);
        self.last_failure = None;
        self.unknown_kid = false;
        if self.last_attempt.is_none() {
            self.last_attempt = Some(now);
        }
    }

    /// Starts a streaming update; pass its result to [`Self::update_finished`].
    pub fn begin_update(&mut self) -> JwksUpdate<'_, N, B> {
        self.keys.begin_update()
    }

    /// Loads a whole document and records the outcome (success with `max_age`, or failure).
    ///
    /// # Errors
    /// A [`JwksError`]; the previous keys stay in place. A refused set
    /// ([`JwksError::Refused`]) counts as a failed fetch: the cache retries and serves the
    /// old keys through the stale window.
    pub fn load_jwks(
        &mut self,
        doc: &[u8],
        now: u64,
        max_age: Option<u64>,
        on_event: &mut impl FnMut(UpdateEvent),
    ) -> Result<UpdateReport, JwksError> {
        let r = self.keys.load_jwks(doc, on_event);
        self.update_finished(now, max_age, &r);
        r
    }

    /// Verifies a JWT with the cache's backend `B`, updating the refresh state and counters.
    ///
    /// # Errors
    /// The first failing check's [`Error`]; `key_rejected` (stale) for fetched keys used
    /// past the stale window.
    pub fn verify<'b>(
        &mut self,
        token: &[u8],
        v: &Validation<'_>,
        now: u64,
        buf: &'b mut [u8],
    ) -> Result<VerifiedToken<'b>, Error> {
        self.verify_with::<B>(token, v, now, buf)
    }

    /// As [`Self::verify`], with backend `V` (see [`KeySet::verify_with`] for the state it
    /// uses).
    ///
    /// # Errors
    /// As [`Self::verify`].
    pub fn verify_with<'b, V: Backend>(
        &mut self,
        token: &[u8],
        v: &Validation<'_>,
        now: u64,
        buf: &'b mut [u8],
    ) -> Result<VerifiedToken<'b>, Error> {
        let view = View {
            set: &self.keys,
            allow_fetched: self.freshness(now) != Freshness::Expired,
            kid_missed: Cell::new(false),
        };
        let r = verify::verify_jwt::<V, View<'_, N, B>>(&view, token, v, now, buf);
        if view.kid_missed.get() {
            self.unknown_kid = true;
        }
        match &r {
            Ok(_) => self.stats.accepted = self.stats.accepted.saturating_add(1),
            Err(e) => {
                if let Some(c) = self.stats.rejected.get_mut(usize::from(e.code_number())) {
                    *c = c.saturating_add(1);
                }
            }
        }
        r
    }

    /// Verifies a compact JWS (any payload, claims not looked at) against the cache's keys
    /// with backend `B`, as [`crate::verify_jws`] does, with the cache's rules: fetched keys
    /// are refused past the stale window and an unknown `kid` asks for a refetch. The
    /// counters are not touched (they count JWTs).
    ///
    /// # Errors
    /// Any [`Error`] but the claim errors.
    pub fn verify_jws<'b>(
        &mut self,
        token: &[u8],
        v: &Validation<'_>,
        now: u64,
        buf: &'b mut [u8],
    ) -> Result<crate::VerifiedJws<'b>, Error> {
        let view = View {
            set: &self.keys,
            allow_fetched: self.freshness(now) != Freshness::Expired,
            kid_missed: Cell::new(false),
        };
        let r = verify::verify_jws::<B, View<'_, N, B>>(&view, token, v, buf);
        if view.kid_missed.get() {
            self.unknown_kid = true;
        }
        r
    }
}

/// The cache's keys as seen by a verification: fetched keys are refused once stale.
struct View<'a, const N: usize, B: Backend> {
    set: &'a KeySet<N, B>,
    allow_fetched: bool,
    kid_missed: Cell<bool>,
}

impl<const N: usize, B: Backend> KeySource for View<'_, N, B> {
    type State = B::KeyState;

    fn find(&self, kid: JsonStr<'_>) -> Result<(&Jwk, &B::KeyState), Error> {
        let e = self
            .set
            .active()
            .find(|e| e.jwk.kid().is_some_and(|k| kid.eq_bytes(k.as_bytes())));
        match e {
            None => {
                self.kid_missed.set(true);
                Err(Error::KeyNotFound)
            }
            Some(e) if !e.pinned && !self.allow_fetched => Err(Error::KeyRejected(KeyError::Stale)),
            Some(e) => Ok((&e.jwk, &e.prepared)),
        }
    }

    fn for_each_key(&self, f: &mut dyn FnMut(&Jwk, &B::KeyState) -> bool) {
        for e in self.set.active() {
            if (e.pinned || self.allow_fetched) && !f(&e.jwk, &e.prepared) {
                return;
            }
        }
    }
}
