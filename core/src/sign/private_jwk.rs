//! A private JWK (RFC 7517 §4, RFC 7518 §6.2.2 and §6.3.2) read as a stream: the document
//! may arrive in chunks of any size (a device's signing-key upload, frame by frame) and is
//! decoded as it comes, into fixed buffers, with no copy of the JSON text. A one-piece key
//! ([`SigningKey::from_jwk`]) goes through the same reader.
//!
//! Rules: the document is one JSON object; `kty` is required; known members (`kty`, `kid`,
//! `alg`, `use`, `crv`, `n`, `e`, `d`, `p`, `q`, `dp`, `dq`, `qi`, `k`) must be strings and
//! may appear once; `use`, when present, must be `sig`; `oth` (multi-prime RSA) is not
//! supported; other members are skipped. Every refusal names its reason as a
//! [`KeyError`] inside [`SignError::KeyRejected`].

use super::{SignError, SigningKey};
use crate::alg::Algorithm;
use crate::error::{JsonError, KeyError};
use crate::json::{Lexer, Sink};
use crate::jwk::collector::{Bytes, Text};
use crate::keys::KeyFormatError;
use crate::rsa::MAX_RSA_BYTES;
use crate::MAX_KID_LEN;

/// Nesting limit for a private JWK document (unknown members may hold arrays or objects).
const MAX_DEPTH: u8 = 8;
/// An RSA prime and its CRT values are at most half the modulus.
const HALF: usize = MAX_RSA_BYTES / 2;
/// The longest EC public coordinate.
const MAX_COORD: usize = crate::alg::EC_COORD_MAX;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Member {
    Kty,
    Kid,
    Alg,
    Use,
    Crv,
    N,
    E,
    X,
    Y,
    D,
    P,
    Q,
    Dp,
    Dq,
    Qi,
    K,
    Oth,
    Unknown,
}

impl Member {
    fn from_name(name: Option<&[u8]>) -> Member {
        match name {
            Some(b"kty") => Member::Kty,
            Some(b"kid") => Member::Kid,
            Some(b"alg") => Member::Alg,
            Some(b"use") => Member::Use,
            Some(b"crv") => Member::Crv,
            Some(b"n") => Member::N,
            Some(b"e") => Member::E,
            Some(b"x") => Member::X,
            Some(b"y") => Member::Y,
            Some(b"d") => Member::D,
            Some(b"p") => Member::P,
            Some(b"q") => Member::Q,
            Some(b"dp") => Member::Dp,
            Some(b"dq") => Member::Dq,
            Some(b"qi") => Member::Qi,
            Some(b"k") => Member::K,
            Some(b"oth") => Member::Oth,
            _ => Member::Unknown,
        }
    }

    fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

struct Members {
    kty: Text<8>,
    kid: Text<MAX_KID_LEN>,
    alg: Text<16>,
    use_: Text<8>,
    crv: Text<16>,
    n: Bytes<MAX_RSA_BYTES>,
    e: Bytes<8>,
    /// EC and OKP public members, checked against the key derived from `d`.
    x: Bytes<MAX_COORD>,
    y: Bytes<MAX_COORD>,
    /// The private scalar (EC, OKP) or exponent (RSA: checked against `dp` and `dq`;
    /// RSA-CRT signs with `p`, `q`, `dp`, `dq`, `qi`).
    d: Bytes<MAX_RSA_BYTES>,
    p: Bytes<HALF>,
    q: Bytes<HALF>,
    dp: Bytes<HALF>,
    dq: Bytes<HALF>,
    qi: Bytes<HALF>,
    k: Bytes<{ crate::MAX_OCT_LEN }>,
    name: Text<4>,
    current: Member,
    seen: u32,
    err: Option<KeyError>,
}

impl Members {
    fn fail(&mut self, e: KeyError) {
        if self.err.is_none() {
            self.err = Some(e);
        }
    }

    fn bytes(&mut self, m: Member) -> Option<&mut dyn ByteSink> {
        Some(match m {
            Member::N => &mut self.n,
            Member::E => &mut self.e,
            Member::X => &mut self.x,
            Member::Y => &mut self.y,
            Member::D => &mut self.d,
            Member::P => &mut self.p,
            Member::Q => &mut self.q,
            Member::Dp => &mut self.dp,
            Member::Dq => &mut self.dq,
            Member::Qi => &mut self.qi,
            Member::K => &mut self.k,
            _ => return None,
        })
    }

    fn has(&self, m: Member) -> bool {
        self.seen & m.bit() != 0
    }
}

/// A base64url member decoded as it streams in.
trait ByteSink {
    fn push(&mut self, c: u8);
    fn end(&mut self);
}

impl<const N: usize> ByteSink for Bytes<N> {
    fn push(&mut self, c: u8) {
        Bytes::push(self, c);
    }
    fn end(&mut self) {
        Bytes::end(self);
    }
}

impl Sink for Members {
    fn container_start(&mut self, is_object: bool, depth: u8) {
        match depth {
            1 if !is_object => self.fail(KeyError::Json(JsonError::NotAnObject)),
            2 => {
                if self.current == Member::Oth {
                    self.fail(KeyError::UnsupportedKeyType);
                } else if self.current != Member::Unknown {
                    self.fail(KeyError::InvalidMember);
                }
                self.current = Member::Unknown;
            }
            _ => {}
        }
    }

    fn container_end(&mut self, _is_object: bool, _depth: u8) {}

    fn key_start(&mut self, depth: u8) {
        self.name.clear();
        self.current = Member::Unknown;
        if depth != 1 {
            // Names inside unknown members are not ours: mark the buffer full so they
            // match nothing.
            for _ in 0..5 {
                self.name.push(0);
            }
        }
    }

    fn key_byte(&mut self, b: u8) {
        self.name.push(b);
    }

    fn key_end(&mut self) {
        let m = Member::from_name(self.name.get());
        if m != Member::Unknown {
            if self.has(m) {
                self.fail(KeyError::DuplicateMember);
            }
            self.seen |= m.bit();
        }
        self.current = m;
    }

    fn string_start(&mut self, depth: u8) {
        match depth {
            0 => self.fail(KeyError::Json(JsonError::NotAnObject)),
            1 if self.current == Member::Oth => self.fail(KeyError::UnsupportedKeyType),
            1 => {}
            _ => self.current = Member::Unknown,
        }
    }

    fn string_byte(&mut self, b: u8) {
        let m = self.current;
        match m {
            Member::Kty => self.kty.push(b),
            Member::Kid => self.kid.push(b),
            Member::Alg => self.alg.push(b),
            Member::Use => self.use_.push(b),
            Member::Crv => self.crv.push(b),
            _ => {
                if let Some(f) = self.bytes(m) {
                    f.push(b);
                }
            }
        }
    }

    fn string_end(&mut self) {
        let m = self.current;
        if let Some(f) = self.bytes(m) {
            f.end();
        }
        self.current = Member::Unknown;
    }

    fn scalar(&mut self, depth: u8) {
        match depth {
            0 => self.fail(KeyError::Json(JsonError::NotAnObject)),
            1 if self.current == Member::Oth => self.fail(KeyError::UnsupportedKeyType),
            1 if self.current != Member::Unknown => self.fail(KeyError::InvalidMember),
            _ => {}
        }
        if depth == 1 {
            self.current = Member::Unknown;
        }
    }
}

/// Reads a private JWK in chunks and builds the [`SigningKey`] it holds.
///
/// ```
/// use tokenguard::sign::PrivateJwkParser;
/// let jwk = br#"{"kty":"OKP","crv":"Ed25519","kid":"k1",
///   "d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A",
///   "x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#;
/// let mut p = PrivateJwkParser::new();
/// for chunk in jwk.chunks(7) {
///     p.feed(chunk).unwrap();
/// }
/// let key = p.finish().unwrap();
/// assert_eq!(tokenguard::sign::Signer::alg(&key), tokenguard::alg::EDDSA);
/// ```
pub struct PrivateJwkParser {
    lexer: Lexer,
    m: Members,
}

impl Default for PrivateJwkParser {
    fn default() -> Self {
        Self::new()
    }
}

impl core::fmt::Debug for PrivateJwkParser {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PrivateJwkParser")
            .field("error", &self.m.err)
            .finish_non_exhaustive()
    }
}

impl Drop for PrivateJwkParser {
    fn drop(&mut self) {
        let m = &mut self.m;
        m.d.wipe();
        m.p.wipe();
        m.q.wipe();
        m.dp.wipe();
        m.dq.wipe();
        m.qi.wipe();
        m.k.wipe();
    }
}

impl PrivateJwkParser {
    /// A reader at the start of a document.
    pub const fn new() -> Self {
        PrivateJwkParser {
            lexer: Lexer::new(MAX_DEPTH),
            m: Members {
                kty: Text::new(),
                kid: Text::new(),
                alg: Text::new(),
                use_: Text::new(),
                crv: Text::new(),
                n: Bytes::new(),
                e: Bytes::new(),
                x: Bytes::new(),
                y: Bytes::new(),
                d: Bytes::new(),
                p: Bytes::new(),
                q: Bytes::new(),
                dp: Bytes::new(),
                dq: Bytes::new(),
                qi: Bytes::new(),
                k: Bytes::new(),
                name: Text::new(),
                current: Member::Unknown,
                seen: 0,
                err: None,
            },
        }
    }

    /// Feeds the next chunk.
    ///
    /// # Errors
    /// [`SignError::KeyRejected`] with [`KeyError::Json`] on a grammar error (every later
    /// call fails the same way).
    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), SignError> {
        self.lexer
            .feed(chunk, &mut self.m)
            .map_err(|e| SignError::KeyRejected(KeyError::Json(e)))
    }

    /// Ends the document and builds the key.
    ///
    /// # Errors
    /// [`SignError::KeyRejected`] with the reason ([`KeyError::MissingMember`],
    /// [`KeyError::InvalidMember`], [`KeyError::UnsupportedCurve`], [`KeyError::RsaModulus`],
    /// [`KeyError::SymmetricKeySize`], ...), or [`SignError::AlgMismatch`] when `alg` does
    /// not fit the key.
    pub fn finish(&mut self) -> Result<SigningKey, SignError> {
        let rejected = SignError::KeyRejected;
        match self.lexer.finish(&mut self.m) {
            Ok(()) => {}
            Err(e) => return Err(rejected(KeyError::Json(e))),
        }
        let m = &self.m;
        if let Some(e) = m.err {
            return Err(rejected(e));
        }
        if !m.has(Member::Kty) {
            return Err(rejected(KeyError::MissingMember));
        }
        if m.has(Member::Use) && m.use_.get() != Some(b"sig") {
            return Err(rejected(KeyError::WrongUse));
        }
        let kid = if m.has(Member::Kid) {
            Some(m.kid.get().ok_or(rejected(KeyError::KidTooLong))?)
        } else {
            None
        };
        let alg = if m.has(Member::Alg) {
            let name = m.alg.get().unwrap_or(&[]);
            Some(Algorithm::from_name(name).ok_or(rejected(KeyError::UnsupportedAlg))?)
        } else {
            None
        };
        let need = |b: &dyn Fn(&Members) -> bool, mem: Member| {
            if !m.has(mem) {
                Err(rejected(KeyError::MissingMember))
            } else if b(m) {
                Err(rejected(KeyError::InvalidMember))
            } else {
                Ok(())
            }
        };
        let key = match m.kty.get() {
            Some(b"oct") => {
                need(&|m| m.k.invalid(), Member::K)?;
                let k = m.k.value().ok_or(rejected(KeyError::SymmetricKeySize))?;
                let alg = alg.ok_or(rejected(KeyError::MissingMember))?;
                SigningKey::hmac(kid, k, alg)?
            }
            Some(b"EC") => {
                if !m.has(Member::Crv) {
                    return Err(rejected(KeyError::MissingMember));
                }
                let curve = m
                    .crv
                    .get()
                    .and_then(crate::Curve::from_name)
                    .ok_or(rejected(KeyError::UnsupportedCurve))?;
                need(&|m| m.d.value().is_none(), Member::D)?;
                let d = m.d.value().unwrap_or(&[]);
                if d.len() != curve.coord_len() {
                    return Err(rejected(KeyError::InvalidMember));
                }
                // A curve this build cannot sign with (P-384 without `es384-signing`) is
                // unsupported, not malformed.
                SigningKey::ec(kid, curve, d).map_err(|e| match e {
                    SignError::Key(KeyFormatError::Unsupported) => {
                        rejected(KeyError::UnsupportedCurve)
                    }
                    _ => rejected(KeyError::InvalidMember),
                })?
            }
            Some(b"OKP") => {
                match m.crv.get() {
                    Some(b"Ed25519") => {}
                    _ if !m.has(Member::Crv) => return Err(rejected(KeyError::MissingMember)),
                    _ => return Err(rejected(KeyError::UnsupportedCurve)),
                }
                need(&|m| m.d.value().is_none(), Member::D)?;
                let seed: &[u8; 32] =
                    m.d.value()
                        .and_then(|d| d.try_into().ok())
                        .ok_or(rejected(KeyError::InvalidMember))?;
                SigningKey::ed25519(kid, seed)?
            }
            Some(b"RSA") => {
                need(&|m| m.n.invalid(), Member::N)?;
                need(&|m| m.e.invalid(), Member::E)?;
                need(&|m| m.d.invalid(), Member::D)?;
                for mem in [Member::P, Member::Q, Member::Dp, Member::Dq, Member::Qi] {
                    need(&|_| false, mem)?;
                }
                let n = m.n.value().ok_or(rejected(KeyError::RsaModulus))?;
                let e = m.e.value().ok_or(rejected(KeyError::RsaExponent))?;
                let crt = [&m.p, &m.q, &m.dp, &m.dq, &m.qi];
                if m.d.overflowed() || crt.iter().any(|b| b.invalid() || b.overflowed()) {
                    return Err(rejected(KeyError::InvalidMember));
                }
                let d = m.d.value().unwrap_or(&[]);
                let [p, q, dp, dq, qi] = crt.map(|b| b.value().unwrap_or(&[]));
                // The modulus is checked first, with its own reason (size, ROCA); then the
                // primes and CRT values must be those of the modulus, and `d` theirs.
                let key =
                    SigningKey::rsa(kid, alg.unwrap_or(Algorithm::Rs256), n, e, p, q, dp, dq, qi)
                        .map_err(|e| match e {
                        SignError::Key(_) => rejected(KeyError::InvalidMember),
                        other => other,
                    })?;
                if !super::rsa_d_matches(d, p, q, dp, dq) {
                    return Err(rejected(KeyError::KeyMismatch));
                }
                key
            }
            _ => return Err(rejected(KeyError::UnsupportedKeyType)),
        };
        // The public members, when given, must be the key's own (a JWK whose `x`/`y`
        // belong to another key would publish a key that cannot verify what this signs).
        fn public<'a>(
            m: &Members,
            b: &'a Bytes<MAX_COORD>,
            mem: Member,
        ) -> Result<Option<&'a [u8]>, SignError> {
            if !m.has(mem) {
                return Ok(None);
            }
            b.value()
                .map(Some)
                .ok_or(SignError::KeyRejected(KeyError::InvalidMember))
        }
        if !key.public_matches(public(m, &m.x, Member::X)?, public(m, &m.y, Member::Y)?) {
            return Err(rejected(KeyError::KeyMismatch));
        }
        match alg {
            Some(a) if a != super::Signer::alg(&key) => key.with_alg(a),
            _ => Ok(key),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alg;

    fn read(json: &[u8], chunk: usize) -> Result<SigningKey, SignError> {
        let mut p = PrivateJwkParser::new();
        for c in json.chunks(chunk) {
            p.feed(c)?;
        }
        p.finish()
    }

    const ED: &[u8] = br#"{"kty":"OKP","crv":"Ed25519","kid":"e1","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","key_ops":["sign"],"ext":{"a":[1,{"kty":"x"}]}}"#;

    #[test]
    fn reads_in_chunks_of_any_size() {
        for chunk in [1, 2, 3, 7, 64, 1000] {
            let k = read(ED, chunk).unwrap();
            assert_eq!(super::super::Signer::alg(&k), alg::EDDSA);
            assert_eq!(super::super::Signer::kid(&k), Some(&b"e1"[..]));
        }
    }

    #[test]
    fn keeps_the_reason() {
        let r = |j: &str| read(j.as_bytes(), 5).unwrap_err();
        let rej = SignError::KeyRejected;
        assert_eq!(
            r(r#"{"crv":"Ed25519","d":"AA"}"#),
            rej(KeyError::MissingMember)
        );
        assert_eq!(
            r(r#"{"kty":"OKP","crv":"Ed448","d":"AA"}"#),
            rej(KeyError::UnsupportedCurve)
        );
        assert_eq!(
            r(r#"{"kty":"OKP","crv":"Ed25519","d":"AA"}"#),
            rej(KeyError::InvalidMember)
        );
        assert_eq!(
            r(r#"{"kty":"OKP","crv":"Ed25519","d":"A*"}"#),
            rej(KeyError::InvalidMember)
        );
        assert_eq!(
            r(r#"{"kty":"OKP","crv":"Ed25519"}"#),
            rej(KeyError::MissingMember)
        );
        assert_eq!(
            r(r#"{"kty":"OKP","kty":"OKP"}"#),
            rej(KeyError::DuplicateMember)
        );
        assert_eq!(r(r#"{"kty":7}"#), rej(KeyError::InvalidMember));
        assert_eq!(r(r#"{"kty":"XYZ"}"#), rej(KeyError::UnsupportedKeyType));
        assert_eq!(
            r(r#"{"kty":"RSA","oth":[]}"#),
            rej(KeyError::UnsupportedKeyType)
        );
        assert_eq!(
            r(r#"{"kty":"oct","k":"AAAA","alg":"HS256"}"#),
            rej(KeyError::SymmetricKeySize)
        );
        assert_eq!(
            r(r#"{"kty":"oct","k":"AAAA"}"#),
            rej(KeyError::MissingMember)
        );
        assert_eq!(
            r(r#"{"kty":"oct","alg":"HS999","k":"AAAA"}"#),
            rej(KeyError::UnsupportedAlg)
        );
        assert_eq!(
            r(r#"{"kty":"EC","crv":"P-256","use":"enc","d":"AA"}"#),
            rej(KeyError::WrongUse)
        );
        assert_eq!(r(r#"["kty"]"#), rej(KeyError::Json(JsonError::NotAnObject)));
        assert!(matches!(
            r(r#"{"kty":"OKP""#),
            SignError::KeyRejected(KeyError::Json(_))
        ));
        let long = std::format!(
            r#"{{"kty":"OKP","crv":"Ed25519","kid":"{}","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"}}"#,
            "k".repeat(65)
        );
        assert_eq!(r(&long), rej(KeyError::KidTooLong));
        assert_eq!(
            r(
                r#"{"kty":"OKP","crv":"Ed25519","alg":"ES256","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"}"#
            ),
            SignError::AlgMismatch
        );
    }

    #[test]
    fn members_that_do_not_belong_together_are_refused() {
        let rej = SignError::KeyRejected(KeyError::KeyMismatch);
        // The Ed25519 key above with another key's x.
        let other_x = std::string::String::from_utf8(ED.to_vec())
            .unwrap()
            .replace(
                "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
                "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            );
        assert_eq!(read(other_x.as_bytes(), 9).unwrap_err(), rej);
        // A P-256 key with its own x and y is taken; one bit of y flipped is refused.
        let d = [0x31u8; 32];
        let k = SigningKey::ec(None, crate::Curve::P256, &d).unwrap();
        let mut buf = [0u8; 512];
        let public = k.public_jwk().unwrap();
        let json = public.to_json(&mut buf, false).unwrap();
        let mut b = [0u8; 43];
        let n = crate::b64::encode(&d, &mut b).unwrap();
        let d64 = core::str::from_utf8(&b[..n]).unwrap();
        let good = std::format!(r#"{},"d":"{d64}"}}"#, json.trim_end_matches('}'));
        assert!(read(good.as_bytes(), 11).is_ok(), "{good}");
        let y = good.find(r#""y":""#).unwrap() + 5;
        let mut bad = good.clone();
        let flipped = if &good[y..y + 1] == "A" { "B" } else { "A" };
        bad.replace_range(y..y + 1, flipped);
        assert_eq!(read(bad.as_bytes(), 11).unwrap_err(), rej);
    }

    #[test]
    fn hmac_key_with_alg() {
        let k = read(
            br#"{"kty":"oct","alg":"HS384","k":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4v"}"#,
            4,
        )
        .unwrap();
        assert_eq!(super::super::Signer::alg(&k), alg::HS384);
    }
}
