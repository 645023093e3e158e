//! Replay protection: a fixed-capacity cache of the `jti` (RFC 7519 §4.1.7) of accepted
//! tokens ([`ReplayCache`]). No heap, no clock inside: the caller passes `now`.
//!
//! An entry is kept while its token could still verify (until `exp + leeway`), so a replay
//! inside the token's lifetime is always caught. When every slot holds such an entry the
//! cache fails closed: new tokens are refused (`replayed`, [`ReplayError::Full`]) rather than
//! an unexpired entry forgotten and its replay admitted.

use core::fmt;

use crate::claims::DEFAULT_LEEWAY;
use crate::error::{Claim, Error, ReplayError};
use crate::verify::VerifiedToken;

/// One slot: a `jti` (inline bytes + length; length 0 means free) and its token's `exp`.
#[derive(Clone, Copy)]
struct Entry<const L: usize> {
    jti: [u8; L],
    len: usize,
    exp: u64,
}

impl<const L: usize> Entry<L> {
    const FREE: Self = Entry {
        jti: [0; L],
        len: 0,
        exp: 0,
    };

    fn is_free(&self) -> bool {
        self.len == 0
    }

    fn jti(&self) -> &[u8] {
        self.jti.get(..self.len).unwrap_or(&[])
    }

    /// Whether the entry must still be kept: its token may verify until `exp + leeway`.
    fn is_live(&self, now: u64, leeway: u64) -> bool {
        !self.is_free() && now <= self.exp.saturating_add(leeway)
    }
}

/// A fixed-capacity replay cache: `N` entries, each a `jti` of up to `L` bytes and the
/// token's `exp`. For a device refusing a replayed command or grant, and for an identity
/// provider refusing a reused client assertion (RFC 7523 §3: `jti` single use).
///
/// Rules:
/// - A token is accepted once per `jti`. Its entry is kept while the token could still
///   verify: while `now <= exp + leeway` (one second past the verifier's last accepting
///   second, `now < exp + leeway`). Use the same leeway as the [`crate::Validation`]
///   (`ReplayCache::new(policy.leeway_secs())`) or a larger one.
/// - A new `jti` goes into a free slot, else into the expired slot with the oldest `exp`.
///   When every slot is live the token is refused with [`ReplayError::Full`] (code
///   `replayed`): the cache never forgets an unexpired entry to make room. Size `N` for the
///   number of tokens accepted within one token lifetime plus leeway.
/// - After `exp + leeway` the `jti` is forgotten: a replay of that token is then refused as
///   [`Error::Expired`] (by the verifier and by this cache), and a *new* token reusing the
///   `jti` with a later `exp` is accepted.
/// - `jti` values are compared as exact bytes (decoded from JSON by
///   [`ReplayCache::check_token`]). An empty `jti`, or one longer than `L` bytes, is
///   [`Error::InvalidClaim`]`(`[`Claim::Jti`]`)`: never truncated, never stored.
///
/// Memory: about `N * (L + 16)` bytes.
///
/// An identity provider's token endpoint refusing a client assertion presented twice:
///
/// ```
/// use tokenguard::{Error, Expect, Jwk, KeySet, ReplayCache, ReplayError, Validation};
///
/// let mut keys: KeySet<1> = KeySet::new();
/// keys.insert(Jwk::from_json(br#"{"kty":"oct","kid":"hs-1","alg":"HS256",
///     "k":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"}"#).unwrap()).unwrap();
/// let policy = Validation::new(Expect::One("https://issuer.example"), Expect::One("device-1"));
/// // Up to 256 assertions live at once, jti up to 64 bytes; same leeway as the policy.
/// let mut seen: ReplayCache<256> = ReplayCache::new(policy.leeway_secs());
///
/// // A client assertion with "jti":"j-1" and "exp":1700000600.
/// let assertion = b"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6ImhzLTEifQ.eyJpc3MiOiJodHRwczovL2lzc3Vlci5leGFtcGxlIiwiYXVkIjoiZGV2aWNlLTEiLCJzdWIiOiJ1MSIsImlhdCI6MTcwMDAwMDAwMCwibmJmIjoxNzAwMDAwMDAwLCJleHAiOjE3MDAwMDA2MDAsImp0aSI6ImotMSJ9.xxcJsXfFWu_v_RJX_C89rXkbAzfZ_kmmbaY-64E-3gg";
/// let mut buf = [0u8; 512];
///
/// let now = 1_700_000_300;
/// let token = keys.verify(assertion, &policy, now, &mut buf).unwrap();
/// assert_eq!(seen.check_token(&token, now), Ok(())); // first use: accepted
///
/// // The same assertion again: the signature still verifies, the replay check refuses it.
/// let token = keys.verify(assertion, &policy, now + 10, &mut buf).unwrap();
/// let err = seen.check_token(&token, now + 10).unwrap_err();
/// assert_eq!(err, Error::Replayed(ReplayError::Seen));
/// assert_eq!(err.code(), "replayed");
/// assert_eq!(seen.len(now + 10), 1);
/// ```
#[derive(Clone)]
pub struct ReplayCache<const N: usize, const L: usize = 64> {
    entries: [Entry<L>; N],
    leeway: u32,
}

impl<const N: usize, const L: usize> Default for ReplayCache<N, L> {
    /// A cache with [`DEFAULT_LEEWAY`], the [`crate::Validation`] default.
    fn default() -> Self {
        Self::new(DEFAULT_LEEWAY)
    }
}

impl<const N: usize, const L: usize> fmt::Debug for ReplayCache<N, L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReplayCache")
            .field("capacity", &N)
            .field("max_jti_len", &L)
            .field("leeway", &self.leeway)
            .field(
                "occupied",
                &self.entries.iter().filter(|e| !e.is_free()).count(),
            )
            .finish()
    }
}

impl<const N: usize, const L: usize> ReplayCache<N, L> {
    /// An empty cache. `leeway` (seconds) is how long past `exp` an entry is kept: use the
    /// verifier's leeway ([`crate::Validation::leeway_secs`]) or more.
    pub const fn new(leeway: u32) -> Self {
        ReplayCache {
            entries: [Entry::FREE; N],
            leeway,
        }
    }

    /// The leeway in effect, in seconds.
    pub const fn leeway(&self) -> u32 {
        self.leeway
    }

    /// The number of slots, `N`.
    pub const fn capacity(&self) -> usize {
        N
    }

    /// The number of entries still live at `now` (their token may still verify).
    pub fn len(&self, now: u64) -> usize {
        let leeway = u64::from(self.leeway);
        self.entries
            .iter()
            .filter(|e| e.is_live(now, leeway))
            .count()
    }

    /// Whether no entry is live at `now`.
    pub fn is_empty(&self, now: u64) -> bool {
        self.len(now) == 0
    }

    /// Whether every slot is live at `now`: a new `jti` would be refused with
    /// [`ReplayError::Full`]. Always true when `N` is 0.
    pub fn is_full(&self, now: u64) -> bool {
        self.reusable_slot(now).is_none()
    }

    /// Forgets every entry (e.g. after the signing keys were replaced, so that no token
    /// accepted before can verify again).
    pub fn clear(&mut self) {
        // Slot by slot: no `N`-entry temporary on a small stack.
        for e in &mut self.entries {
            *e = Entry::FREE;
        }
    }

    /// Records `jti` (exact bytes) for a token expiring at `exp`, or refuses it.
    ///
    /// Call it after the token verified (its signature and claims), with the same `now`.
    ///
    /// ```
    /// use tokenguard::{Error, ReplayCache, ReplayError};
    /// let mut seen: ReplayCache<1, 16> = ReplayCache::new(0);
    /// assert_eq!(seen.check_and_record(b"a", 100, 50), Ok(()));
    /// assert_eq!(seen.check_and_record(b"a", 100, 51), Err(Error::Replayed(ReplayError::Seen)));
    /// assert_eq!(seen.check_and_record(b"b", 100, 52), Err(Error::Replayed(ReplayError::Full)));
    /// assert_eq!(seen.check_and_record(b"b", 200, 101), Ok(())); // "a" has expired
    /// ```
    ///
    /// # Errors
    /// In this order:
    /// - [`Error::InvalidClaim`]`(`[`Claim::Jti`]`)`: `jti` is empty or longer than `L` bytes;
    /// - [`Error::Expired`]: `now >= exp + leeway`, the token is past its lifetime (as the
    ///   verifier with this leeway decides) and the cache could not protect it;
    /// - [`Error::Replayed`]`(`[`ReplayError::Seen`]`)`: a live entry has the same `jti`;
    /// - [`Error::Replayed`]`(`[`ReplayError::Full`]`)`: every slot is live; nothing was
    ///   evicted.
    ///
    /// On error the cache is unchanged.
    pub fn check_and_record(&mut self, jti: &[u8], exp: u64, now: u64) -> Result<(), Error> {
        if jti.is_empty() || jti.len() > L {
            return Err(Error::InvalidClaim(Claim::Jti));
        }
        let leeway = u64::from(self.leeway);
        if now >= exp.saturating_add(leeway) {
            return Err(Error::Expired);
        }
        if self
            .entries
            .iter()
            .any(|e| e.is_live(now, leeway) && e.jti() == jti)
        {
            return Err(ReplayError::Seen.into());
        }
        let i = self.reusable_slot(now).ok_or(ReplayError::Full)?;
        let e = self.entries.get_mut(i).ok_or(ReplayError::Full)?;
        *e = Entry::FREE;
        for (d, s) in e.jti.iter_mut().zip(jti) {
            *d = *s;
        }
        e.len = jti.len();
        e.exp = exp;
        Ok(())
    }

    /// [`Self::check_and_record`] for a verified JWT: its `jti` (decoded from JSON) and `exp`.
    ///
    /// # Errors
    /// [`Error::MissingClaim`]`(`[`Claim::Jti`]`)` without `jti`,
    /// [`Error::MissingClaim`]`(`[`Claim::Exp`]`)` without `exp` (a token without `exp`
    /// could be replayed forever: it cannot be protected by a bounded cache), then as
    /// [`Self::check_and_record`].
    pub fn check_token(&mut self, token: &VerifiedToken<'_>, now: u64) -> Result<(), Error> {
        let claims = token.claims();
        let jti = claims.jti().ok_or(Error::MissingClaim(Claim::Jti))?;
        let exp = claims.exp().ok_or(Error::MissingClaim(Claim::Exp))?;
        let mut buf = [0u8; L];
        let jti = jti
            .decode_into(&mut buf)
            .ok_or(Error::InvalidClaim(Claim::Jti))?;
        self.check_and_record(jti.as_bytes(), exp, now)
    }

    /// The slot a new entry may take at `now`: a free one, else the expired entry with the
    /// oldest `exp`; `None` when every slot is live.
    fn reusable_slot(&self, now: u64) -> Option<usize> {
        let leeway = u64::from(self.leeway);
        let mut oldest: Option<(usize, u64)> = None;
        for (i, e) in self.entries.iter().enumerate() {
            if e.is_free() {
                return Some(i);
            }
            if !e.is_live(now, leeway) && oldest.is_none_or(|(_, exp)| e.exp < exp) {
                oldest = Some((i, e.exp));
            }
        }
        oldest.map(|(i, _)| i)
    }
}

#[cfg(test)]
mod tests;
