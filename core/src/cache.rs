//! Fixed-capacity key storage ([`KeySet`]) and the JWK cache with its refresh state machine
//! ([`JwkCache`]). No I/O and no clock inside: the cache *decides* when a fetch is due, the
//! caller fetches, feeds the bytes and reports the outcome, passing `now` every time.
//!
//! JWK Set updates are atomic and never leave less than they found: new keys are staged in
//! free slots while the old set keeps serving, and the new set replaces the old only when
//! the document is complete and valid, holds at least one usable key, and every usable key
//! in it found a slot. Otherwise the whole update is refused ([`JwksError::Refused`]) and
//! the old set stays in force. Keys the new set shares with the old (same kid, alg and
//! material) keep their slot, so a rotation needs free slots only for the keys that
//! changed: `pinned + old keys + changed keys <= N`. Pinned keys are never removed by an
//! update.

use crate::claims::Validation;
use crate::crypto::{Backend, DefaultBackend};
use crate::error::{Error, JwksError, KeyError};
use crate::json::JsonStr;
use crate::jwk::{Jwk, Kid};
use crate::jwks::SkippedKey;
use crate::verify::{self, KeySource, VerifiedToken};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum SlotState {
    Active,
    Staged,
}

#[derive(Clone)]
struct Entry<S> {
    jwk: Jwk,
    /// The set's backend's state for this key ([`Backend::prepare`]).
    prepared: S,
    pinned: bool,
    state: SlotState,
    /// In the set being loaded (an unchanged active key, or a staged one).
    in_update: bool,
    /// Dropped at commit, and why (duplicate kid, mixed key types).
    drop_on_commit: Option<KeyError>,
    index: u16,
}

/// A fixed-capacity set of verification keys, looked up by `kid`, with the per-key state of
/// backend `B` ([`Backend::KeyState`], prepared once when a key enters the set).
///
/// ```
/// use tokenguard::{alg, Jwk, KeySet};
/// let mut keys: KeySet<4> = KeySet::new();
/// keys.insert(Jwk::hmac(Some(b"k1"), &[7u8; 32], alg::HS256).unwrap()).unwrap();
/// assert_eq!(keys.len(), 1);
/// assert!(keys.get(b"k1").is_some());
/// ```
pub struct KeySet<const N: usize, B: Backend = DefaultBackend> {
    slots: [Option<Entry<B::KeyState>>; N],
    allow_mixed: bool,
}

impl<const N: usize, B: Backend> Clone for KeySet<N, B> {
    fn clone(&self) -> Self {
        KeySet {
            slots: self.slots.clone(),
            allow_mixed: self.allow_mixed,
        }
    }
}

impl<const N: usize, B: Backend> Default for KeySet<N, B> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize, B: Backend> core::fmt::Debug for KeySet<N, B> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_list().entries(self.iter().map(|(k, _)| k)).finish()
    }
}

/// Counts of a finished JWK Set update.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub struct UpdateReport {
    /// Usable keys in the new set (new ones and [`Self::unchanged`] ones together). In a
    /// refused update: the usable keys that found a slot.
    pub loaded: u16,
    /// Of [`Self::loaded`], keys that were already present unchanged (they keep their slot).
    pub unchanged: u16,
    /// Keys skipped (reported one by one through the event callback).
    pub skipped: u16,
    /// Old keys removed because the new set no longer has them (0 when refused).
    pub removed: u16,
    /// Whether the set replaced the old one, or why not.
    pub outcome: UpdateOutcome,
}

/// How a complete, valid JWK Set document was taken.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum UpdateOutcome {
    /// The new set replaced the old one.
    #[default]
    Replaced,
    /// Refused: the set holds no usable key (empty, or every key skipped). The old set stays.
    NoUsableKey,
    /// Refused: more keys need a slot than are free. The old set stays. A rotation needs
    /// `needed` free slots while the old set still holds its own.
    NoSpace {
        /// Free slots this document needs to be taken: one for each of its keys not already
        /// held unchanged that was staged or found no slot. A key dropped at the end (a
        /// `kid` used twice, a mixed set) counts when it held a slot while the document
        /// streamed, so `needed > free` always, and a cache with `needed` free slots takes
        /// the document.
        needed: u16,
        /// Slots free when the update began.
        free: u16,
    },
}

impl UpdateReport {
    /// Whether the new set replaced the old one.
    pub fn replaced(&self) -> bool {
        self.outcome == UpdateOutcome::Replaced
    }
}

/// One key's fate during an update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum UpdateEvent {
    /// The key is in the new set.
    Loaded {
        /// Position in the `keys` array.
        index: u16,
        /// Its `kid`.
        kid: Option<Kid>,
    },
    /// The key was skipped.
    Skipped(SkippedKey),
}

impl<const N: usize, B: Backend> KeySet<N, B> {
    /// An empty set.
    pub const fn new() -> Self {
        KeySet {
            slots: [const { None }; N],
            allow_mixed: false,
        }
    }

    /// Whether a JWK Set update may hold symmetric (`oct`) keys next to asymmetric ones.
    /// By default such `oct` keys are skipped ([`KeyError::MixedKeySet`]).
    pub fn allow_mixed_key_types(&mut self, allow: bool) {
        self.allow_mixed = allow;
    }

    /// How many keys fit.
    pub const fn capacity(&self) -> usize {
        N
    }

    /// Keys in use (active).
    pub fn len(&self) -> usize {
        self.active().count()
    }

    /// Whether there is no active key.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether no slot is free.
    pub fn is_full(&self) -> bool {
        self.slots.iter().all(Option::is_some)
    }

    fn active(&self) -> impl Iterator<Item = &Entry<B::KeyState>> {
        self.slots
            .iter()
            .flatten()
            .filter(|e| e.state == SlotState::Active)
    }

    /// Active keys with their pinned flag.
    pub fn iter(&self) -> impl Iterator<Item = (&Jwk, bool)> {
        self.active().map(|e| (&e.jwk, e.pinned))
    }

    /// The active key with this exact `kid`.
    pub fn get(&self, kid: &[u8]) -> Option<&Jwk> {
        self.active()
            .find(|e| e.jwk.kid().is_some_and(|k| k.as_bytes() == kid))
            .map(|e| &e.jwk)
    }

    #[expect(
        clippy::result_large_err,
        reason = "hands the key back, heapless-style"
    )]
    // One copy, called: inlined, the entry it builds and the key it hands back sat in each
    // caller's stack frame (LOAD_JWK's on the device: 2,128 -> 1,528 bytes).
    #[inline(never)]
    fn put(&mut self, jwk: Jwk, pinned: bool) -> Result<(), (Jwk, KeyError)> {
        if let Some(kid) = jwk.kid() {
            let same =
                self.slots.iter_mut().flatten().find(|e| {
                    e.state == SlotState::Active && e.jwk.kid().is_some_and(|k| k == kid)
                });
            if let Some(e) = same {
                if e.pinned && !pinned {
                    return Err((jwk, KeyError::KidPinned));
                }
                e.prepared = B::prepare(jwk.material(), jwk.alg());
                e.jwk = jwk;
                e.pinned = pinned;
                return Ok(());
            }
        }
        match self.slots.iter_mut().find(|s| s.is_none()) {
            Some(slot) => {
                *slot = Some(Entry {
                    prepared: B::prepare(jwk.material(), jwk.alg()),
                    jwk,
                    pinned,
                    state: SlotState::Active,
                    in_update: false,
                    drop_on_commit: None,
                    index: 0,
                });
                Ok(())
            }
            None => Err((jwk, KeyError::NoSpace)),
        }
    }

    /// Adds a key, replacing an unpinned key with the same `kid`.
    ///
    /// # Errors
    /// Hands the key back with the reason: [`KeyError::NoSpace`] when the set is full,
    /// [`KeyError::KidPinned`] when a pinned key has its `kid`.
    #[expect(
        clippy::result_large_err,
        reason = "hands the key back, heapless-style"
    )]
    pub fn insert(&mut self, jwk: Jwk) -> Result<(), (Jwk, KeyError)> {
        self.put(jwk, false)
    }

    /// Adds a pinned key: JWK Set updates never remove or replace it. It replaces any key
    /// with its `kid`, pinned or not.
    ///
    /// # Errors
    /// Hands the key back with [`KeyError::NoSpace`] when the set is full.
    #[expect(
        clippy::result_large_err,
        reason = "hands the key back, heapless-style"
    )]
    pub fn pin(&mut self, jwk: Jwk) -> Result<(), (Jwk, KeyError)> {
        self.put(jwk, true)
    }

    /// Removes the key with this `kid` (pinned or not).
    pub fn remove(&mut self, kid: &[u8]) -> Option<Jwk> {
        let slot = self.slots.iter_mut().find(|s| {
            s.as_ref().is_some_and(|e| {
                e.state == SlotState::Active && e.jwk.kid().is_some_and(|k| k.as_bytes() == kid)
            })
        })?;
        slot.take().map(|e| e.jwk)
    }

    /// Removes every unpinned key.
    pub fn clear_unpinned(&mut self) {
        for s in &mut self.slots {
            if s.as_ref().is_some_and(|e| !e.pinned) {
                *s = None;
            }
        }
    }

    /// Starts an atomic JWK Set update (see the module docs).
    pub fn begin_update(&mut self) -> JwksUpdate<'_, N, B> {
        let pending = self.begin_pending();
        JwksUpdate { set: self, pending }
    }

    /// Starts an atomic update whose state the caller keeps (see [`PendingUpdate`]).
    /// Any update in progress is abandoned.
    pub fn begin_pending(&mut self) -> PendingUpdate {
        self.abort_update();
        PendingUpdate::new()
    }

    /// Loads a whole JWK Set document atomically; `on_event` hears about every key. Keys
    /// that `B` cannot verify with are skipped ([`crate::KeyFilter`]).
    ///
    /// # Errors
    /// A [`JwksError`] when the document is refused (the previous keys stay):
    /// [`JwksError::Refused`] for a valid set with no usable key or with more new keys than
    /// free slots.
    pub fn load_jwks(
        &mut self,
        doc: &[u8],
        on_event: &mut impl FnMut(UpdateEvent),
    ) -> Result<UpdateReport, JwksError> {
        let mut u = self.begin_update();
        u.feed(doc, on_event)?;
        u.finish(on_event)
    }

    fn abort_update(&mut self) {
        for s in &mut self.slots {
            match s {
                Some(e) if e.state == SlotState::Staged => *s = None,
                Some(e) => {
                    e.in_update = false;
                    e.drop_on_commit = None;
                }
                None => {}
            }
        }
    }

    /// Marks the update's key with this `kid` (if any) to be dropped as a duplicate.
    fn poison(&mut self, kid: &Kid) {
        for e in self.slots.iter_mut().flatten() {
            if e.in_update && !e.pinned && e.jwk.kid() == Some(kid) {
                e.drop_on_commit = Some(KeyError::DuplicateKid);
            }
        }
    }

    /// Stages a key of the update; `Err` with the reason it was skipped (already reported).
    fn stage(
        &mut self,
        jwk: &Jwk,
        index: u16,
        on_event: &mut impl FnMut(UpdateEvent),
    ) -> Result<(), KeyError> {
        let kid = jwk.kid().copied();
        if let Some(kid) = kid {
            // A kid used twice within the new set: both keys are ambiguous; drop both.
            let clash = self
                .slots
                .iter_mut()
                .flatten()
                .find(|e| (e.in_update || e.pinned) && e.jwk.kid().is_some_and(|k| *k == kid));
            if let Some(e) = clash {
                let reason = if e.in_update {
                    e.drop_on_commit = Some(KeyError::DuplicateKid);
                    KeyError::DuplicateKid
                } else {
                    KeyError::KidPinned
                };
                on_event(UpdateEvent::Skipped(SkippedKey {
                    index,
                    kid: Some(kid),
                    reason,
                }));
                return Err(reason);
            }
        }
        if let Some(e) = self.slots.iter_mut().flatten().find(|e| {
            e.state == SlotState::Active && !e.pinned && !e.in_update && e.jwk.same_key(jwk)
        }) {
            e.in_update = true;
            e.index = index;
            return Ok(());
        }
        match self.slots.iter_mut().find(|s| s.is_none()) {
            Some(slot) => {
                *slot = Some(Entry {
                    prepared: B::prepare(jwk.material(), jwk.alg()),
                    jwk: jwk.clone(),
                    pinned: false,
                    state: SlotState::Staged,
                    in_update: true,
                    drop_on_commit: None,
                    index,
                });
                Ok(())
            }
            None => {
                on_event(UpdateEvent::Skipped(SkippedKey {
                    index,
                    kid,
                    reason: KeyError::NoSpace,
                }));
                Err(KeyError::NoSpace)
            }
        }
    }

    /// Replaces the old set with the staged one, or refuses the update when the new set
    /// holds no usable key or some usable key found no slot (`no_space` of them); reports
    /// every key of the new set in document order (loaded, or dropped with its reason).
    fn commit(
        &mut self,
        mut report: UpdateReport,
        no_space: u16,
        on_event: &mut impl FnMut(UpdateEvent),
    ) -> Result<UpdateReport, JwksError> {
        let live = |e: &Entry<B::KeyState>| e.in_update && e.drop_on_commit.is_none() && !e.pinned;
        let has_sym = self
            .slots
            .iter()
            .flatten()
            .any(|e| live(e) && e.jwk.is_symmetric());
        let has_asym = self
            .slots
            .iter()
            .flatten()
            .any(|e| live(e) && !e.jwk.is_symmetric());
        if has_sym && has_asym && !self.allow_mixed {
            for e in self.slots.iter_mut().flatten() {
                if live(e) && e.jwk.is_symmetric() {
                    e.drop_on_commit = Some(KeyError::MixedKeySet);
                }
            }
        }
        let count = |f: &dyn Fn(&Entry<B::KeyState>) -> bool| {
            let n = self.slots.iter().flatten().filter(|e| f(e)).count();
            u16::try_from(n).unwrap_or(u16::MAX)
        };
        let usable = count(&|e| live(e));
        let unchanged = count(&|e| live(e) && e.state == SlotState::Active);
        let staged = count(&|e| e.state == SlotState::Staged);
        let empty =
            u16::try_from(self.slots.iter().filter(|s| s.is_none()).count()).unwrap_or(u16::MAX);
        report.outcome = if no_space > 0 {
            UpdateOutcome::NoSpace {
                // Every staged key held a slot while the document streamed, the ones
                // dropped at the end too: with fewer free slots a key found none.
                needed: staged.saturating_add(no_space),
                free: empty.saturating_add(staged),
            }
        } else if usable == 0 {
            UpdateOutcome::NoUsableKey
        } else {
            UpdateOutcome::Replaced
        };
        let replace = report.replaced();
        // Events in document order (selection by index; N is small).
        let mut last: Option<u16> = None;
        loop {
            let next = self
                .slots
                .iter()
                .flatten()
                .filter(|e| e.in_update && !e.pinned && last.is_none_or(|l| e.index > l))
                .min_by_key(|e| e.index);
            let Some(e) = next else { break };
            last = Some(e.index);
            let kid = e.jwk.kid().copied();
            match e.drop_on_commit {
                None if replace => on_event(UpdateEvent::Loaded {
                    index: e.index,
                    kid,
                }),
                None => {}
                Some(reason) => {
                    report.skipped = report.skipped.saturating_add(1);
                    on_event(UpdateEvent::Skipped(SkippedKey {
                        index: e.index,
                        kid,
                        reason,
                    }));
                }
            }
        }
        report.loaded = usable;
        report.unchanged = unchanged;
        if !replace {
            self.abort_update();
            return Err(JwksError::Refused(report));
        }
        let mut removed = 0u16;
        for s in &mut self.slots {
            let Some(e) = s else { continue };
            if e.pinned {
                e.in_update = false;
                continue;
            }
            if e.in_update && e.drop_on_commit.is_none() {
                e.state = SlotState::Active;
                e.in_update = false;
            } else {
                if e.state == SlotState::Active {
                    removed += 1;
                }
                *s = None;
            }
        }
        report.removed = removed;
        Ok(report)
    }

    /// Verifies a JWT against the active keys with the set's backend `B`.
    ///
    /// # Errors
    /// The first failing check's [`Error`].
    pub fn verify<'b>(
        &self,
        token: &[u8],
        v: &Validation<'_>,
        now: u64,
        buf: &'b mut [u8],
    ) -> Result<VerifiedToken<'b>, Error> {
        self.verify_with::<B>(token, v, now, buf)
    }

    /// Verifies a JWT against the active keys with backend `V`. `V` uses the state the
    /// set's backend prepared for each key when it keeps the same kind of state (`V` is the
    /// set's backend, or [`crate::crypto::Fastest`] and the backend it routes to), else
    /// works from the key material alone, with the same verdicts.
    ///
    /// # Errors
    /// The first failing check's [`Error`].
    pub fn verify_with<'b, V: Backend>(
        &self,
        token: &[u8],
        v: &Validation<'_>,
        now: u64,
        buf: &'b mut [u8],
    ) -> Result<VerifiedToken<'b>, Error> {
        verify::verify_jwt::<V, Self>(self, token, v, now, buf)
    }
}

impl<const N: usize, B: Backend> KeySource for KeySet<N, B> {
    type State = B::KeyState;

    fn find(&self, kid: JsonStr<'_>) -> Result<(&Jwk, &B::KeyState), Error> {
        self.active()
            .find(|e| e.jwk.kid().is_some_and(|k| kid.eq_bytes(k.as_bytes())))
            .map(|e| (&e.jwk, &e.prepared))
            .ok_or(Error::KeyNotFound)
    }

    fn for_each_key(&self, f: &mut dyn FnMut(&Jwk, &B::KeyState) -> bool) {
        for e in self.active() {
            if !f(&e.jwk, &e.prepared) {
                return;
            }
        }
    }
}

mod refresh;
mod update;
pub use refresh::{FetchReason, Freshness, JwkCache, RefreshPolicy, Stats};
pub use update::{JwksUpdate, PendingUpdate};

#[cfg(test)]
mod tests;
