//! The critical path: compact JWS split, strict base64url, header policy, key selection,
//! signature, then (for JWTs) claims.
//!
//! Order, so that cheap structural checks come first and claims are only read from an
//! authenticated payload: length limit, three segments, base64url of all three, header JSON
//! and policy, algorithm allow-list, `typ`, key selection and binding, signature, payload
//! JSON, claims.

use crate::alg::Algorithm;
use crate::b64::{self, B64Error};
use crate::claims::{self, RegisteredClaims, Validation};
use crate::crypto::Backend;
use crate::error::{Error, HeaderError, Malformed};
use crate::header::{self, Header};
use crate::json::JsonStr;
use crate::jwk::Jwk;
use crate::rsa::MAX_RSA_BYTES;

/// Where verification finds keys. Implemented by [`crate::KeySet`], [`crate::JwkCache`], a
/// single [`Jwk`] and a slice of keys.
pub trait KeySource {
    /// What the source keeps next to each key: the [`crate::Backend::KeyState`] of the
    /// backend a key set was built for, `()` for keys on their own. A verification uses it
    /// when its backend keeps this kind of state, else works from the key material alone.
    type State: 'static;

    /// The usable key whose `kid` equals `kid` exactly, with its state.
    ///
    /// # Errors
    /// [`Error::KeyNotFound`] when there is none; a source may also refuse a key it holds
    /// (e.g. [`Error::KeyRejected`] for a stale key set).
    fn find(&self, kid: JsonStr<'_>) -> Result<(&Jwk, &Self::State), Error>;
    /// Calls `f` on every usable key (with its state) until it returns `false` (for tokens
    /// without `kid`, when the policy allows them).
    fn for_each_key(&self, f: &mut dyn FnMut(&Jwk, &Self::State) -> bool);
}

impl KeySource for Jwk {
    type State = ();
    fn find(&self, kid: JsonStr<'_>) -> Result<(&Jwk, &()), Error> {
        self.kid()
            .filter(|k| kid.eq_bytes(k.as_bytes()))
            .map(|_| (self, &()))
            .ok_or(Error::KeyNotFound)
    }
    fn for_each_key(&self, f: &mut dyn FnMut(&Jwk, &()) -> bool) {
        f(self, &());
    }
}

impl KeySource for [Jwk] {
    type State = ();
    fn find(&self, kid: JsonStr<'_>) -> Result<(&Jwk, &()), Error> {
        self.iter()
            .find(|k| k.kid().is_some_and(|id| kid.eq_bytes(id.as_bytes())))
            .map(|k| (k, &()))
            .ok_or(Error::KeyNotFound)
    }
    fn for_each_key(&self, f: &mut dyn FnMut(&Jwk, &()) -> bool) {
        for k in self {
            if !f(k, &()) {
                return;
            }
        }
    }
}

/// A JWS whose signature verified; the payload may be any bytes.
#[derive(Debug, Clone, Copy)]
pub struct VerifiedJws<'b> {
    header: Header<'b>,
    payload: &'b [u8],
}

impl<'b> VerifiedJws<'b> {
    /// The header.
    pub fn header(&self) -> &Header<'b> {
        &self.header
    }
    /// The decoded payload.
    pub fn payload(&self) -> &'b [u8] {
        self.payload
    }
}

/// A JWT whose signature and claims verified. Claims are only reachable from here.
#[derive(Debug, Clone, Copy)]
pub struct VerifiedToken<'b> {
    header: Header<'b>,
    /// Valid UTF-8: the claims scanner checks every string, and refuses any other byte
    /// above 0x7F, so the text is turned into a `str` only when asked for.
    payload: &'b [u8],
    claims: RegisteredClaims<'b>,
}

impl<'b> VerifiedToken<'b> {
    /// The header (algorithm, `kid`, `typ`).
    pub fn header(&self) -> &Header<'b> {
        &self.header
    }
    /// The verified algorithm.
    pub fn alg(&self) -> Algorithm {
        self.header.alg()
    }
    /// The registered claims, typed.
    pub fn claims(&self) -> &RegisteredClaims<'b> {
        &self.claims
    }
    /// The claims JSON text, as signed. Verification checked it is UTF-8 while scanning it;
    /// the `str` is made here, on request (a pass over the text), not on every verify.
    pub fn claims_json(&self) -> &'b str {
        // Cannot fail (see `payload`); an empty text would be the answer if it could.
        core::str::from_utf8(self.payload).unwrap_or_default()
    }

    /// The claim `name` (registered or private), as it stands in the payload; `None` when
    /// the token has no such claim.
    ///
    /// ```
    /// # use tokenguard::{Expect, Jwk, KeySet, Validation};
    /// # let mut keys: KeySet<1> = KeySet::new();
    /// # keys.insert(Jwk::from_json(br#"{"kty":"oct","kid":"hs-1","alg":"HS256","k":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"}"#).unwrap()).unwrap();
    /// # let token = b"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6ImhzLTEifQ.eyJpc3MiOiJodHRwczovL2lzc3Vlci5leGFtcGxlIiwiYXVkIjoiZGV2aWNlLTEiLCJzdWIiOiJ1MSIsImlhdCI6MTcwMDAwMDAwMCwibmJmIjoxNzAwMDAwMDAwLCJleHAiOjE3MDAwMDA2MDAsImp0aSI6ImotMSJ9.xxcJsXfFWu_v_RJX_C89rXkbAzfZ_kmmbaY-64E-3gg";
    /// # let v = Validation::new(Expect::One("https://issuer.example"), Expect::One("device-1"));
    /// # let mut buf = [0u8; 512];
    /// let t = keys.verify(token, &v, 1_700_000_300, &mut buf).unwrap();
    /// assert_eq!(t.claim("exp").unwrap().and_then(|c| c.as_i64()), Some(1_700_000_600));
    /// assert!(t.claim("sub").unwrap().and_then(|c| c.as_json_str()).is_some_and(|s| s.eq_str("u1")));
    /// assert_eq!(t.claim("scope").unwrap(), None);
    /// ```
    ///
    /// # Errors
    /// `malformed` (duplicate member) when the payload has the name twice.
    pub fn claim(&self, name: &str) -> Result<Option<crate::ClaimRef<'b>>, Error> {
        claims::find(self.payload, name)
    }

    /// Deserializes the claims into the caller's type with serde-json-core (no heap).
    ///
    /// Strings are unescaped, exactly as tokenguard's own claim checks read them: a `&str`
    /// field borrows a string without escapes from the token and is an error for a string
    /// with escapes (which cannot be borrowed), an owned string type (e.g.
    /// `heapless::String<N>`) receives the unescaped text. Each escaped string is unescaped
    /// in a 256-byte scratch on the stack; [`Self::deserialize_with`] takes a larger one.
    /// serde-json-core does not decode `\uD83D\uDE00`-style surrogate pairs: such a string
    /// is an error here (tokenguard's own checks decode them; [`Self::claims_json`] has the
    /// text for a full JSON parser).
    ///
    /// ```
    /// # use tokenguard::{alg, Expect, Jwk, KeySet, Validation};
    /// #[derive(serde::Deserialize)]
    /// struct Claims<'a> {
    ///     sub: &'a str,
    ///     exp: u64,
    /// }
    /// # let mut keys: KeySet<1> = KeySet::new();
    /// # keys.insert(Jwk::from_json(br#"{"kty":"oct","kid":"hs-1","alg":"HS256","k":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"}"#).unwrap()).unwrap();
    /// # let token = b"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6ImhzLTEifQ.eyJpc3MiOiJodHRwczovL2lzc3Vlci5leGFtcGxlIiwiYXVkIjoiZGV2aWNlLTEiLCJzdWIiOiJ1MSIsImlhdCI6MTcwMDAwMDAwMCwibmJmIjoxNzAwMDAwMDAwLCJleHAiOjE3MDAwMDA2MDAsImp0aSI6ImotMSJ9.xxcJsXfFWu_v_RJX_C89rXkbAzfZ_kmmbaY-64E-3gg";
    /// let v = Validation::new(Expect::One("https://issuer.example"), Expect::One("device-1"));
    /// let mut buf = [0u8; 512];
    /// let t = keys.verify(token, &v, 1_700_000_300, &mut buf).unwrap();
    /// let c: Claims = t.deserialize().unwrap();
    /// assert_eq!((c.sub, c.exp), ("u1", 1_700_000_600));
    /// ```
    ///
    /// # Errors
    /// serde-json-core's error when the claims do not fit `T`.
    #[cfg(feature = "serde")]
    pub fn deserialize<T: serde::Deserialize<'b>>(&self) -> Result<T, serde_json_core::de::Error> {
        let mut scratch = [0u8; 256];
        self.deserialize_with(&mut scratch)
    }

    /// As [`Self::deserialize`], unescaping each escaped string in `scratch`.
    ///
    /// # Errors
    /// serde-json-core's error when the claims do not fit `T`, or `EscapedStringIsTooLong`
    /// when an unescaped string does not fit `scratch`.
    #[cfg(feature = "serde")]
    pub fn deserialize_with<T: serde::Deserialize<'b>>(
        &self,
        scratch: &mut [u8],
    ) -> Result<T, serde_json_core::de::Error> {
        serde_json_core::from_str_escaped(self.claims_json(), scratch).map(|(t, _)| t)
    }
}

#[derive(Clone, Copy)]
pub(crate) struct Parts<'t> {
    pub(crate) signing_input: &'t [u8],
    pub(crate) header_b64: &'t [u8],
    pub(crate) payload_b64: &'t [u8],
    pub(crate) sig_b64: &'t [u8],
}

/// Splits a compact serialization into exactly three segments (header and signature
/// non-empty).
pub(crate) fn split(token: &[u8]) -> Result<Parts<'_>, Error> {
    let d1 = find_dot(token, 0).ok_or(Malformed::Segments)?;
    let d2 = find_dot(token, d1 + 1).ok_or(Malformed::Segments)?;
    if find_dot(token, d2 + 1).is_some() {
        return Err(Malformed::Segments.into());
    }
    parts_at(token, d1, d2)
}

/// The parts around the dots at `d1 < d2` (header and signature non-empty).
fn parts_at(token: &[u8], d1: usize, d2: usize) -> Result<Parts<'_>, Error> {
    let header_b64 = token.get(..d1).ok_or(Malformed::Segments)?;
    let payload_b64 = token.get(d1 + 1..d2).ok_or(Malformed::Segments)?;
    let sig_b64 = token.get(d2 + 1..).ok_or(Malformed::Segments)?;
    let signing_input = token.get(..d2).ok_or(Malformed::Segments)?;
    if header_b64.is_empty() || sig_b64.is_empty() {
        return Err(Malformed::Segments.into());
    }
    Ok(Parts {
        signing_input,
        header_b64,
        payload_b64,
        sig_b64,
    })
}

/// The outer parts of a compact serialization: the header up to the first `.`, the signature
/// after the last one. A `.` between them (four or more segments) is left to the payload's
/// base64url decoding, which refuses it, so the payload is searched once instead of twice;
/// [`jws_inner`] then reports `Segments`, the error [`split`] gives.
fn split_outer(token: &[u8]) -> Result<Parts<'_>, Error> {
    let d1 = find_dot(token, 0).ok_or(Malformed::Segments)?;
    let d2 = rfind_dot(token).ok_or(Malformed::Segments)?;
    if d2 == d1 {
        return Err(Malformed::Segments.into());
    }
    parts_at(token, d1, d2)
}

/// Position of the last `.`, a word at a time from the end.
fn rfind_dot(b: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const LOW7: u64 = 0x7F7F_7F7F_7F7F_7F7F;
    let mut chunks = b.rchunks_exact(8);
    let mut end = b.len();
    for c in &mut chunks {
        end -= 8;
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        let x = u64::from_le_bytes(w) ^ (ONES * u64::from(b'.'));
        // Exact for every byte (no borrow between bytes): the high bit of each zero byte.
        let zero = !(((x & LOW7) + LOW7) | x | LOW7);
        if zero != 0 {
            return Some(end + 7 - (zero.leading_zeros() / 8) as usize);
        }
    }
    chunks.remainder().iter().rposition(|&c| c == b'.')
}

/// Position of the first `.` at or after `from`, sixteen bytes (two words) at a time.
fn find_dot(b: &[u8], from: usize) -> Option<usize> {
    let rest = b.get(from..)?;
    let mut chunks = rest.chunks_exact(16);
    let mut base = from;
    for c in &mut chunks {
        let (lo, hi) = c.split_at(8);
        let (lo, hi) = (dots(lo), dots(hi));
        if lo | hi != 0 {
            let at = if lo != 0 {
                lo.trailing_zeros() / 8
            } else {
                8 + hi.trailing_zeros() / 8
            };
            return Some(base + at as usize);
        }
        base += 16;
    }
    chunks
        .remainder()
        .iter()
        .position(|&c| c == b'.')
        .map(|p| base + p)
}

/// The high bit of each byte of an eight-byte word that is a `.` (exact for the lowest one).
#[inline(always)]
fn dots(c: &[u8]) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut w = [0u8; 8];
    if let Some(src) = c.get(..8) {
        w.copy_from_slice(src);
    }
    let x = u64::from_le_bytes(w) ^ (ONES * u64::from(b'.'));
    x.wrapping_sub(ONES) & !x & HIGH
}

/// Decodes base64url into `out`: non-canonical input is `malformed`, canonical input that
/// does not fit is `too_large`. The one mapping of base64url errors, for the verifier and
/// `dangerous::decode_unverified`.
pub(crate) fn b64_into(input: &[u8], out: &mut [u8]) -> Result<usize, Error> {
    b64::decode(input, out).map_err(|e| match e {
        B64Error::Invalid => Error::Malformed(Malformed::Base64),
        B64Error::OutputTooSmall => {
            if b64::is_canonical(input) {
                Error::TooLarge
            } else {
                Error::Malformed(Malformed::Base64)
            }
        }
    })
}

const MAX_SIG: usize = if MAX_RSA_BYTES > 96 {
    MAX_RSA_BYTES
} else {
    96
};

/// Verifies a compact JWS (any payload) against `keys`, decoding header and payload into
/// `buf`. The claims are not looked at; the header policy and algorithm list apply.
///
/// # Errors
/// Any [`Error`] but the claim errors.
pub fn verify_jws<'b, B: Backend, K: KeySource + ?Sized>(
    keys: &K,
    token: &[u8],
    v: &Validation<'_>,
    buf: &'b mut [u8],
) -> Result<VerifiedJws<'b>, Error> {
    jws_inner::<B, K>(keys, token, v, buf, false)
}

fn jws_inner<'b, B: Backend, K: KeySource + ?Sized>(
    keys: &K,
    token: &[u8],
    v: &Validation<'_>,
    buf: &'b mut [u8],
    jwt: bool,
) -> Result<VerifiedJws<'b>, Error> {
    if token.len() > v.max_token_len {
        return Err(Error::TooLarge);
    }
    let parts = split_outer(token)?;
    jws_parts::<B, K>(keys, parts, v, buf, jwt).map_err(|e| {
        if parts.payload_b64.contains(&b'.') {
            Malformed::Segments.into()
        } else {
            e
        }
    })
}

/// [`jws_inner`] after the split; an error for a payload holding a `.` is replaced.
fn jws_parts<'b, B: Backend, K: KeySource + ?Sized>(
    keys: &K,
    parts: Parts<'_>,
    v: &Validation<'_>,
    buf: &'b mut [u8],
    jwt: bool,
) -> Result<VerifiedJws<'b>, Error> {
    if jwt && parts.payload_b64.is_empty() {
        // A JWT's payload is a JSON object: an empty one is structurally wrong.
        return Err(Malformed::Segments.into());
    }
    // Header, payload and signature are decoded into the caller's buffer, in that order
    // (their decoded lengths add up to less than the token's length).
    let h_max = b64::decoded_len(parts.header_b64.len()).ok_or(Malformed::Base64)?;
    let p_max = b64::decoded_len(parts.payload_b64.len()).ok_or(Malformed::Base64)?;
    let (hbuf, rest) = buf.split_at_mut(h_max.min(buf.len()));
    let (pbuf, sbuf) = rest.split_at_mut(p_max.min(rest.len()));
    let hlen = b64_into(parts.header_b64, hbuf)?;
    let plen = b64_into(parts.payload_b64, pbuf)?;
    // A signature longer than any key's is refused without decoding (after the header
    // checks, so the error order does not depend on it).
    let s_max = b64::decoded_len(parts.sig_b64.len()).ok_or(Malformed::Base64)?;
    let sig_len = if s_max > MAX_SIG {
        if !b64::is_canonical(parts.sig_b64) {
            return Err(Malformed::Base64.into());
        }
        None
    } else {
        Some(b64_into(parts.sig_b64, sbuf)?)
    };
    let sbuf: &[u8] = sbuf;
    let hbuf: &'b [u8] = hbuf;
    let pbuf: &'b [u8] = pbuf;
    let hjson = hbuf.get(..hlen).ok_or(Error::TooLarge)?;
    let payload = pbuf.get(..plen).ok_or(Error::TooLarge)?;
    let header = header::parse(hjson, v.max_depth)?;
    let alg = header.alg();
    if !v.algorithms.contains(alg) || !B::ALGORITHMS.contains(alg) {
        return Err(Error::AlgNotAllowed);
    }
    if let Some(want) = v.typ {
        match header.typ() {
            Some(t) if header::media_type_matches(t, want) => {}
            _ => return Err(Error::WrongType),
        }
    }
    let sig = match sig_len {
        Some(n) => sbuf.get(..n).ok_or(Error::BadSignature)?,
        None => &[][..],
    };
    let too_long = sig_len.is_none();
    match header.kid() {
        Some(kid) => {
            let (key, state) = keys.find(kid)?;
            key.permits(alg)?;
            if too_long {
                return Err(Error::BadSignature);
            }
            let state = crate::crypto::state_for::<B, K::State>(state);
            crate::crypto::check_signature::<B>(
                key.material(),
                state,
                alg,
                parts.signing_input,
                sig,
            )?;
        }
        None => {
            if !v.allow_missing_kid {
                return Err(Error::KeyNotFound);
            }
            // Try only keys whose type and binding fit alg; the first that verifies wins.
            let mut result = Err(Error::KeyNotFound);
            keys.for_each_key(&mut |key, state| {
                if key.permits(alg).is_err() {
                    return true;
                }
                if too_long {
                    result = Err(Error::BadSignature);
                    return false;
                }
                let state = crate::crypto::state_for::<B, K::State>(state);
                let input = parts.signing_input;
                match crate::crypto::check_signature::<B>(key.material(), state, alg, input, sig) {
                    Ok(()) => {
                        result = Ok(());
                        false
                    }
                    Err(e) => {
                        result = Err(e);
                        true
                    }
                }
            });
            result?;
        }
    }
    Ok(VerifiedJws { header, payload })
}

/// Verifies a compact JWT against `keys` at time `now` (unix seconds): the JWS checks, then
/// the payload as a JSON object of claims, validated by `v`.
///
/// # Errors
/// The first failing check's [`Error`].
pub fn verify_jwt<'b, B: Backend, K: KeySource + ?Sized>(
    keys: &K,
    token: &[u8],
    v: &Validation<'_>,
    now: u64,
    buf: &'b mut [u8],
) -> Result<VerifiedToken<'b>, Error> {
    let jws = jws_inner::<B, K>(keys, token, v, buf, true)?;
    if jws
        .header
        .cty()
        .is_some_and(|c| header::media_type_matches(c, "JWT"))
    {
        return Err(HeaderError::NestedJwt.into());
    }
    // `claims::parse` checks UTF-8 as it scans, so the payload is text once it succeeds.
    let claims = claims::parse(jws.payload, v.max_depth)?;
    claims::validate(&claims, v, now)?;
    Ok(VerifiedToken {
        header: jws.header,
        payload: jws.payload,
        claims,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The word-at-a-time search finds the first dot at every position and alignment, with
    /// other dots and high bytes around it, and nothing when there is none.
    #[test]
    fn find_dot_matches_a_plain_search() {
        for len in 0..70usize {
            for from in 0..=len {
                for first in from..len {
                    let mut b: std::vec::Vec<u8> = (0..len)
                        .map(|i| b'A' + u8::try_from(i % 26).unwrap())
                        .collect();
                    b[first] = b'.';
                    if first + 3 < len {
                        b[first + 3] = b'.';
                    }
                    if first > from {
                        b[first - 1] = 0xAE; // '.' with the high bit set
                    }
                    let plain = b[from..].iter().position(|&c| c == b'.').map(|p| p + from);
                    assert_eq!(find_dot(&b, from), plain, "len {len} from {from}");
                }
                let none: std::vec::Vec<u8> = std::vec![b'-'; len];
                assert_eq!(find_dot(&none, from), None);
            }
        }
        assert_eq!(find_dot(b"a.b", 4), None);
    }

    /// The search from the end finds the last dot at every position, with `/` (one bit from
    /// `.`) and high bytes around it, and nothing when there is none.
    #[test]
    fn rfind_dot_matches_a_plain_search() {
        for len in 0..40usize {
            for last in 0..len {
                for other in [None, Some(0), Some(last / 2)] {
                    let mut b: std::vec::Vec<u8> = (0..len)
                        .map(|i| b'A' + u8::try_from(i % 26).unwrap())
                        .collect();
                    if let Some(o) = other {
                        b[o] = b'.';
                    }
                    b[last] = b'.';
                    for (after, c) in b.iter_mut().enumerate().skip(last + 1) {
                        *c = if after % 2 == 0 { b'/' } else { 0xAE };
                    }
                    let plain = b.iter().rposition(|&c| c == b'.');
                    assert_eq!(rfind_dot(&b), plain, "len {len} last {last}");
                    assert_eq!(plain, Some(last));
                }
            }
            let none: std::vec::Vec<u8> = std::vec![b'/'; len];
            assert_eq!(rfind_dot(&none), None);
        }
    }

    /// Splitting at the first and last dot, with the payload's dots found by its decoding,
    /// gives the exact error of the three-segment split for every token with two to six
    /// segments, whatever else is wrong with it.
    #[test]
    fn outer_split_reports_segments_like_split() {
        use crate::{alg, Expect, Jwk, KeySet};
        let mut keys: KeySet<1> = KeySet::new();
        keys.insert(Jwk::hmac(Some(b"k"), &[7; 32], alg::HS256).unwrap())
            .unwrap();
        let v = Validation::new(Expect::Ignore, Expect::Ignore);
        let seg = [
            "",
            "e30",
            "eyJhbGciOiJIUzI1NiIsImtpZCI6ImsifQ",
            "!!",
            "AAAA",
        ];
        let mut buf = [0u8; 256];
        for n in 1..=6usize {
            for pick in 0..seg.len().pow(u32::try_from(n).unwrap()).min(400) {
                let parts: std::vec::Vec<&str> = (0..n)
                    .map(|i| seg[pick / seg.len().pow(u32::try_from(i).unwrap()) % seg.len()])
                    .collect();
                let token = parts.join(".");
                let got = verify_jwt::<crate::crypto::DefaultBackend, _>(
                    &keys,
                    token.as_bytes(),
                    &v,
                    0,
                    &mut buf,
                );
                let got = got.err();
                // The reference: the exact three-segment split first, then the same steps.
                let mut buf2 = [0u8; 256];
                let want = match split(token.as_bytes()) {
                    Err(e) => Some(e),
                    Ok(p) => {
                        jws_parts::<crate::crypto::DefaultBackend, _>(&keys, p, &v, &mut buf2, true)
                            .err()
                            .or_else(|| got.filter(|e| *e != Malformed::Segments.into()))
                    }
                };
                assert_eq!(got, want, "{token}");
            }
        }
    }
}
