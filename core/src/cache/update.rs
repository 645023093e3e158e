//! A JWK Set update in progress: the streaming parser feeds each key to the set's staging
//! area ([`KeySet`]'s `stage`), and the end of the document commits or refuses the whole set.

use super::{KeySet, UpdateEvent, UpdateOutcome, UpdateReport};
use crate::alg::KeyFilter;
use crate::crypto::{Backend, DefaultBackend};
use crate::error::{JwksError, KeyError};
use crate::jwk::Kid;
use crate::jwks::{JwksParser, KeyOutcome, SkippedKey};

/// An atomic JWK Set update in progress: feed chunks, then [`JwksUpdate::finish`]. Dropping
/// it unfinished (or any error) leaves the previous keys exactly as they were.
pub struct JwksUpdate<'a, const N: usize, B: Backend = DefaultBackend> {
    pub(super) set: &'a mut KeySet<N, B>,
    pub(super) pending: PendingUpdate,
}

impl<const N: usize, B: Backend> core::fmt::Debug for JwksUpdate<'_, N, B> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("JwksUpdate")
            .field("pending", &self.pending)
            .finish_non_exhaustive()
    }
}

impl<const N: usize, B: Backend> JwksUpdate<'_, N, B> {
    /// Feeds the next chunk of the document.
    ///
    /// # Errors
    /// [`JwksError::Json`] on a grammar error; the update is then void.
    pub fn feed(
        &mut self,
        chunk: &[u8],
        on_event: &mut impl FnMut(UpdateEvent),
    ) -> Result<(), JwksError> {
        self.pending.feed(self.set, chunk, on_event)
    }

    /// Ends the document; on success the new set replaces the old.
    ///
    /// # Errors
    /// A [`JwksError`]; the previous keys then stay in place.
    pub fn finish(
        mut self,
        on_event: &mut impl FnMut(UpdateEvent),
    ) -> Result<UpdateReport, JwksError> {
        self.pending.finish(self.set, on_event)
    }
}

impl<const N: usize, B: Backend> Drop for JwksUpdate<'_, N, B> {
    fn drop(&mut self) {
        self.pending.abort(self.set);
    }
}

/// The state of an update that outlives a borrow of its [`KeySet`] (a device receiving a
/// JWK Set over several frames keeps one of these next to its keys). Start it with
/// [`KeySet::begin_pending`] and pass the same set to every call.
pub struct PendingUpdate {
    parser: JwksParser,
    report: UpdateReport,
    /// Usable keys skipped for want of a slot (any refuses the update).
    no_space: u16,
    done: bool,
    kids: KidTracker,
}

impl core::fmt::Debug for PendingUpdate {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PendingUpdate")
            .field("report", &self.report)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

/// Remembers the `kid`s met in an update (64-bit hashes, the first 64 keys), so a `kid`
/// used twice is caught even when one of the two keys was refused.
struct KidTracker {
    hashes: [u64; 64],
    len: usize,
}

impl KidTracker {
    const fn new() -> Self {
        KidTracker {
            hashes: [0; 64],
            len: 0,
        }
    }

    fn hash(kid: &Kid) -> u64 {
        // FNV-1a, 64-bit.
        kid.as_bytes()
            .iter()
            .fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
                (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
            })
    }

    /// Records `kid`; returns whether it was already seen.
    fn seen_before(&mut self, kid: &Kid) -> bool {
        let h = Self::hash(kid);
        let known = self.hashes.get(..self.len).unwrap_or(&[]).contains(&h);
        if !known {
            if let Some(slot) = self.hashes.get_mut(self.len) {
                *slot = h;
                self.len += 1;
            }
        }
        known
    }
}

impl PendingUpdate {
    pub(super) const fn new() -> Self {
        PendingUpdate {
            parser: JwksParser::new(),
            report: UpdateReport {
                loaded: 0,
                unchanged: 0,
                skipped: 0,
                removed: 0,
                outcome: UpdateOutcome::Replaced,
            },
            no_space: 0,
            done: false,
            kids: KidTracker::new(),
        }
    }

    /// Whether the update already finished or failed.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Feeds the next chunk of the document into `set`'s staging area. A key that none of
    /// the set's backend's algorithms ([`Backend::ALGORITHMS`]) can use is skipped, with the
    /// reason [`crate::Jwk::from_json_for`] gives.
    ///
    /// # Errors
    /// [`JwksError::Json`] on a grammar error (the update is then void and the staged keys
    /// are released); [`JwksError::NotStarted`] after the update ended.
    pub fn feed<const N: usize, B: Backend>(
        &mut self,
        set: &mut KeySet<N, B>,
        chunk: &[u8],
        on_event: &mut impl FnMut(UpdateEvent),
    ) -> Result<(), JwksError> {
        self.feed_for::<B, N, B>(set, chunk, on_event)
    }

    /// As [`Self::feed`], keeping only keys that one of `K`'s algorithms can use (a
    /// [`Self::feed`] keeps what the set's own backend verifies); the others are skipped
    /// as [`crate::Jwk::from_json_for`] refuses them. A device whose cache is built for one
    /// backend and verifies with a smaller one passes the smaller one here.
    ///
    /// # Errors
    /// As [`Self::feed`].
    pub fn feed_for<K: KeyFilter, const N: usize, B: Backend>(
        &mut self,
        set: &mut KeySet<N, B>,
        chunk: &[u8],
        on_event: &mut impl FnMut(UpdateEvent),
    ) -> Result<(), JwksError> {
        if self.done {
            return Err(JwksError::NotStarted);
        }
        let report = &mut self.report;
        let no_space = &mut self.no_space;
        let kids = &mut self.kids;
        let r = self.parser.feed_for::<K>(chunk, &mut |o| match o {
            KeyOutcome::Parsed { index, jwk } => {
                let dup = jwk.kid().is_some_and(|k| kids.seen_before(k));
                if dup {
                    if let Some(kid) = jwk.kid() {
                        set.poison(kid);
                    }
                    report.skipped = report.skipped.saturating_add(1);
                    on_event(UpdateEvent::Skipped(SkippedKey {
                        index,
                        kid: jwk.kid().copied(),
                        reason: KeyError::DuplicateKid,
                    }));
                } else if let Err(reason) = set.stage(jwk, index, on_event) {
                    report.skipped = report.skipped.saturating_add(1);
                    if reason == KeyError::NoSpace {
                        *no_space = no_space.saturating_add(1);
                    }
                }
            }
            KeyOutcome::Skipped(s) => {
                if let Some(kid) = &s.kid {
                    if kids.seen_before(kid) {
                        set.poison(kid);
                    }
                }
                report.skipped = report.skipped.saturating_add(1);
                on_event(UpdateEvent::Skipped(s));
            }
        });
        if r.is_err() {
            self.abort(set);
        }
        r
    }

    /// Releases the staged keys; the previous set stays as it was.
    pub fn abort<const N: usize, B: Backend>(&mut self, set: &mut KeySet<N, B>) {
        if !self.done {
            set.abort_update();
            self.done = true;
        }
    }

    /// Ends the document; on success the new set replaces the old in `set`.
    ///
    /// # Errors
    /// A [`JwksError`]; the previous keys then stay in place. [`JwksError::Refused`] when
    /// the document is valid but its set holds no usable key or does not fit.
    pub fn finish<const N: usize, B: Backend>(
        &mut self,
        set: &mut KeySet<N, B>,
        on_event: &mut impl FnMut(UpdateEvent),
    ) -> Result<UpdateReport, JwksError> {
        if self.done {
            return Err(JwksError::NotStarted);
        }
        let mut sink = |o: KeyOutcome| {
            if let KeyOutcome::Skipped(s) = o {
                on_event(UpdateEvent::Skipped(s));
            }
        };
        match self.parser.finish(&mut sink) {
            Ok(()) => {
                self.done = true;
                set.commit(self.report, self.no_space, on_event)
            }
            Err(e) => {
                self.abort(set);
                Err(e)
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
