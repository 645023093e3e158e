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

use core::cell::Cell;

use crate::claims::Validation;
use crate::crypto::{Backend, DefaultBackend};
use crate::error::{Error, JwksError, KeyError};
use crate::json::JsonStr;
use crate::jwk::{Jwk, Kid};
use crate::jwks::{JwksParser, KeyOutcome, SkippedKey};
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
        /// Usable keys of the new set that are not already held unchanged.
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

    #[allow(clippy::result_large_err)]
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
    #[allow(clippy::result_large_err)] // hands the key back, heapless-style
    pub fn insert(&mut self, jwk: Jwk) -> Result<(), (Jwk, KeyError)> {
        self.put(jwk, false)
    }

    /// Adds a pinned key: JWK Set updates never remove or replace it. It replaces any key
    /// with its `kid`, pinned or not.
    ///
    /// # Errors
    /// Hands the key back with [`KeyError::NoSpace`] when the set is full.
    #[allow(clippy::result_large_err)] // hands the key back, heapless-style
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

    /// Loads a whole JWK Set document atomically; `on_event` hears about every key.
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
        jwk: Jwk,
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
            e.state == SlotState::Active && !e.pinned && !e.in_update && e.jwk.same_key(&jwk)
        }) {
            e.in_update = true;
            e.index = index;
            return Ok(());
        }
        match self.slots.iter_mut().find(|s| s.is_none()) {
            Some(slot) => {
                *slot = Some(Entry {
                    prepared: B::prepare(jwk.material(), jwk.alg()),
                    jwk,
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
                needed: usable.saturating_sub(unchanged).saturating_add(no_space),
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

/// An atomic JWK Set update in progress: feed chunks, then [`JwksUpdate::finish`]. Dropping
/// it unfinished (or any error) leaves the previous keys exactly as they were.
pub struct JwksUpdate<'a, const N: usize, B: Backend = DefaultBackend> {
    set: &'a mut KeySet<N, B>,
    pending: PendingUpdate,
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
    const fn new() -> Self {
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

    /// Feeds the next chunk of the document into `set`'s staging area.
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
        if self.done {
            return Err(JwksError::NotStarted);
        }
        let report = &mut self.report;
        let no_space = &mut self.no_space;
        let kids = &mut self.kids;
        let r = self.parser.feed(chunk, &mut |o| match o {
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

#[cfg(test)]
mod tests;
