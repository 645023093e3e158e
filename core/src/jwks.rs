//! Streaming JWK Set parsing (RFC 7517 §5): feed the document in chunks of any size, get each
//! key as soon as its object closes, with constant memory (one key's members at a time;
//! `x5c` chains and other unknown members are validated and skipped, never buffered).
//!
//! Set-level rules: the document must be an object with a `keys` array. A set that holds
//! asymmetric *private* keys is refused whole (the publisher leaked them; Wycheproof
//! `MixedKeySet`). Unusable keys are skipped with a reason; the rest load.

use crate::alg::{AnyAlgorithm, KeyFilter};
use crate::error::{JsonError, JwksError, KeyError};
use crate::json::{Lexer, Sink};
use crate::jwk::{Jwk, JwkCollector, Kid};
use core::marker::PhantomData;

/// Nesting limit for JWK Set documents (set / keys / key / member / item = 5).
const JWKS_MAX_DEPTH: u8 = 16;

/// What happened to one key of the set.
#[derive(Debug)]
#[non_exhaustive]
pub enum KeyOutcome<'a> {
    /// The key parsed and validated (whether it fits the cache is decided by the caller).
    Parsed {
        /// Position in the `keys` array.
        index: u16,
        /// The key, lent for the call (copy it where it will stay: a key is about 600 bytes,
        /// and every copy on the way is stack a small device does not have).
        jwk: &'a Jwk,
    },
    /// The key was skipped.
    Skipped(SkippedKey),
}

/// A key of the set that was not loaded, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct SkippedKey {
    /// Position in the `keys` array (0-based).
    pub index: u16,
    /// Its `kid`, when it had a readable one.
    pub kid: Option<Kid>,
    /// Why it was skipped.
    pub reason: KeyError,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum StrTarget {
    None,
    TopKey,
    Member,
    MemberName,
    Item,
}

struct State {
    top_key: [u8; 5],
    top_key_len: usize,
    top_is_keys: bool,
    keys_seen: bool,
    not_a_set: bool,
    in_keys: bool,
    in_key: bool,
    member_is_array: bool,
    private_seen: bool,
    index: u16,
    target: StrTarget,
    collector: JwkCollector,
}

/// A streaming JWK Set parser.
pub struct JwksParser {
    lexer: Lexer,
    st: State,
}

impl Default for JwksParser {
    fn default() -> Self {
        Self::new()
    }
}

impl core::fmt::Debug for JwksParser {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("JwksParser")
            .field("keys_so_far", &self.st.index)
            .finish_non_exhaustive()
    }
}

/// The parser's state bound to a callback, with the [`KeyFilter`] its keys pass.
struct Bound<'a, K, F: FnMut(KeyOutcome<'_>)> {
    st: &'a mut State,
    out: &'a mut F,
    filter: PhantomData<K>,
}

impl<K: KeyFilter, F: FnMut(KeyOutcome<'_>)> Sink for Bound<'_, K, F> {
    fn container_start(&mut self, is_object: bool, depth: u8) {
        let st = &mut *self.st;
        match depth {
            1 if !is_object => st.not_a_set = true,
            2 if st.top_is_keys => {
                if is_object {
                    st.not_a_set = true;
                } else {
                    st.in_keys = true;
                }
            }
            3 if st.in_keys => {
                let index = st.index;
                st.index = st.index.saturating_add(1);
                if is_object {
                    st.in_key = true;
                    st.collector = JwkCollector::new();
                } else {
                    (self.out)(KeyOutcome::Skipped(SkippedKey {
                        index,
                        kid: None,
                        reason: KeyError::Json(JsonError::NotAnObject),
                    }));
                }
            }
            4 if st.in_key => {
                if is_object {
                    st.collector.other_value();
                    st.member_is_array = false;
                } else {
                    st.collector.array_start();
                    st.member_is_array = true;
                }
            }
            5 if st.in_key && st.member_is_array => st.collector.item_other(),
            _ => {}
        }
    }

    fn container_end(&mut self, _is_object: bool, depth: u8) {
        let st = &mut *self.st;
        match depth {
            2 if st.in_keys => st.in_keys = false,
            3 if st.in_key => {
                st.in_key = false;
                let index = st.index.saturating_sub(1);
                if st.collector.has_private() {
                    st.private_seen = true;
                }
                match st.collector.finish::<K>() {
                    Ok(jwk) => (self.out)(KeyOutcome::Parsed { index, jwk: &jwk }),
                    Err(reason) => (self.out)(KeyOutcome::Skipped(SkippedKey {
                        index,
                        kid: st.collector.kid(),
                        reason,
                    })),
                }
            }
            4 if st.in_key && st.member_is_array => {
                st.collector.array_end();
                st.member_is_array = false;
            }
            _ => {}
        }
    }

    fn key_start(&mut self, depth: u8) {
        let st = &mut *self.st;
        st.target = match depth {
            1 => {
                st.top_key_len = 0;
                StrTarget::TopKey
            }
            3 if st.in_key => {
                st.collector.member_name_start();
                StrTarget::MemberName
            }
            _ => StrTarget::None,
        };
    }

    fn key_byte(&mut self, b: u8) {
        let st = &mut *self.st;
        match st.target {
            StrTarget::TopKey => {
                if let Some(slot) = st.top_key.get_mut(st.top_key_len) {
                    *slot = b;
                }
                st.top_key_len = st.top_key_len.saturating_add(1);
            }
            StrTarget::MemberName => st.collector.member_name_byte(b),
            _ => {}
        }
    }

    fn key_end(&mut self) {
        let st = &mut *self.st;
        match st.target {
            StrTarget::TopKey => {
                st.top_is_keys = st.top_key_len == 4 && st.top_key.get(..4) == Some(b"keys");
                if st.top_is_keys {
                    if st.keys_seen {
                        st.not_a_set = true;
                    }
                    st.keys_seen = true;
                }
            }
            StrTarget::MemberName => st.collector.member_name_end(),
            _ => {}
        }
        st.target = StrTarget::None;
    }

    fn string_start(&mut self, depth: u8) {
        let st = &mut *self.st;
        st.target = StrTarget::None;
        match depth {
            0 => st.not_a_set = true,
            1 if st.top_is_keys => st.not_a_set = true,
            2 if st.in_keys => {
                let index = st.index;
                st.index = st.index.saturating_add(1);
                (self.out)(KeyOutcome::Skipped(SkippedKey {
                    index,
                    kid: None,
                    reason: KeyError::Json(JsonError::NotAnObject),
                }));
            }
            3 if st.in_key => {
                st.collector.string_start();
                st.target = StrTarget::Member;
            }
            4 if st.in_key && st.member_is_array => {
                st.collector.item_string_start();
                st.target = StrTarget::Item;
            }
            _ => {}
        }
    }

    fn string_byte(&mut self, b: u8) {
        match self.st.target {
            StrTarget::Member => self.st.collector.string_byte(b),
            StrTarget::Item => self.st.collector.item_string_byte(b),
            _ => {}
        }
    }

    fn string_end(&mut self) {
        match self.st.target {
            StrTarget::Member => self.st.collector.string_end(),
            StrTarget::Item => self.st.collector.item_string_end(),
            _ => {}
        }
        self.st.target = StrTarget::None;
    }

    fn scalar(&mut self, depth: u8) {
        let st = &mut *self.st;
        match depth {
            0 => st.not_a_set = true,
            1 if st.top_is_keys => st.not_a_set = true,
            2 if st.in_keys => {
                let index = st.index;
                st.index = st.index.saturating_add(1);
                (self.out)(KeyOutcome::Skipped(SkippedKey {
                    index,
                    kid: None,
                    reason: KeyError::Json(JsonError::NotAnObject),
                }));
            }
            3 if st.in_key => st.collector.other_value(),
            4 if st.in_key && st.member_is_array => st.collector.item_other(),
            _ => {}
        }
    }
}

impl JwksParser {
    /// A parser at the start of a document.
    pub const fn new() -> Self {
        JwksParser {
            lexer: Lexer::new(JWKS_MAX_DEPTH),
            st: State {
                top_key: [0; 5],
                top_key_len: 0,
                top_is_keys: false,
                keys_seen: false,
                not_a_set: false,
                in_keys: false,
                in_key: false,
                member_is_array: false,
                private_seen: false,
                index: 0,
                target: StrTarget::None,
                collector: JwkCollector::new(),
            },
        }
    }

    /// Feeds the next chunk; `out` receives each key as its object closes.
    ///
    /// # Errors
    /// [`JwksError::Json`] on a grammar error (every later call fails the same way).
    pub fn feed(
        &mut self,
        chunk: &[u8],
        out: &mut impl FnMut(KeyOutcome<'_>),
    ) -> Result<(), JwksError> {
        self.feed_for::<AnyAlgorithm>(chunk, out)
    }

    /// As [`Self::feed`], passing on only keys that one of `K`'s algorithms can use: the
    /// others are skipped as [`Jwk::from_json_for`] refuses them.
    ///
    /// # Errors
    /// As [`Self::feed`].
    pub fn feed_for<K: KeyFilter>(
        &mut self,
        chunk: &[u8],
        out: &mut impl FnMut(KeyOutcome<'_>),
    ) -> Result<(), JwksError> {
        let mut b = Bound::<K, _> {
            st: &mut self.st,
            out,
            filter: PhantomData,
        };
        self.lexer.feed(chunk, &mut b).map_err(JwksError::Json)
    }

    /// Ends the document and reports whether the set as a whole is acceptable.
    ///
    /// # Errors
    /// [`JwksError::Incomplete`] if the document did not end, [`JwksError::NotAKeySet`] if it
    /// is not an object with a `keys` array, [`JwksError::PrivateKeyInSet`] if any key
    /// carried private asymmetric members.
    pub fn finish(&mut self, out: &mut impl FnMut(KeyOutcome<'_>)) -> Result<(), JwksError> {
        let done = self.lexer.is_done();
        // The document's last byte went through `feed`: no key object closes here.
        let mut b = Bound::<AnyAlgorithm, _> {
            st: &mut self.st,
            out,
            filter: PhantomData,
        };
        match self.lexer.finish(&mut b) {
            Ok(()) => {}
            Err(JsonError::Syntax) if !done => return Err(JwksError::Incomplete),
            Err(e) => return Err(JwksError::Json(e)),
        }
        if self.st.not_a_set || !self.st.keys_seen {
            return Err(JwksError::NotAKeySet);
        }
        if self.st.private_seen {
            return Err(JwksError::PrivateKeyInSet);
        }
        Ok(())
    }

    /// Keys (array elements) seen so far.
    pub fn keys_seen(&self) -> u16 {
        self.st.index
    }
}
