//! JWT claims (RFC 7519 §4.1) and their validation policy, deny by default (like Tink's
//! `JwtValidator`): issuer and audience are either expected values or explicitly ignored,
//! `exp` is required unless explicitly allowed to be absent, time claims are checked with a
//! bounded leeway, and a claim of the wrong JSON type is an error, never "absent".

use crate::alg::AlgSet;
use crate::error::{Claim, Error, JsonError, Malformed};
use crate::json::{self, JsonStr, Value};

/// The largest NumericDate accepted (9999-12-31T23:59:59Z).
pub const MAX_NUMERIC_DATE: u64 = 253_402_300_799;
/// The largest leeway a policy may set, in seconds (10 minutes).
pub const MAX_LEEWAY: u32 = 600;
/// Default leeway for `exp`, `nbf` and `iat`, in seconds.
pub const DEFAULT_LEEWAY: u32 = 60;
/// Default maximum token length in bytes.
pub const DEFAULT_MAX_TOKEN_LEN: usize = 8192;
/// Default JSON nesting limit (the top-level object counts as 1).
pub const DEFAULT_MAX_DEPTH: u8 = 16;

/// An expected value for `iss` or `aud`, or an explicit decision not to check it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect<'a> {
    /// Do not check this claim (a deliberate choice, spelled out).
    Ignore,
    /// Exactly this value.
    One(&'a str),
    /// Any one of these values.
    AnyOf(&'a [&'a str]),
}

impl Expect<'_> {
    fn matches(&self, s: JsonStr<'_>) -> bool {
        match self {
            Expect::Ignore => true,
            Expect::One(v) => s.eq_str(v),
            Expect::AnyOf(vs) => vs.iter().any(|v| s.eq_str(v)),
        }
    }
}

/// What a token must satisfy besides its signature.
///
/// ```
/// use tokenguard::{alg, AlgSet, Expect, Validation};
/// let v = Validation::new(Expect::One("https://issuer.example"), Expect::One("device-1"))
///     .algorithms(AlgSet::from_slice(&[alg::ES256, alg::RS256]))
///     .leeway(30);
/// assert_eq!(v.leeway_secs(), 30);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Validation<'a> {
    pub(crate) issuer: Expect<'a>,
    pub(crate) audience: Expect<'a>,
    pub(crate) subject: Option<&'a str>,
    pub(crate) typ: Option<&'a str>,
    pub(crate) algorithms: AlgSet,
    pub(crate) leeway: u32,
    pub(crate) require_exp: bool,
    pub(crate) max_age: Option<u64>,
    pub(crate) max_lifetime: Option<u64>,
    pub(crate) max_token_len: usize,
    pub(crate) max_depth: u8,
    pub(crate) allow_missing_kid: bool,
}

impl<'a> Validation<'a> {
    /// A policy expecting `issuer` and `audience` (use [`Expect::Ignore`] to skip either,
    /// explicitly). Defaults: every algorithm the selected key permits, `exp` required,
    /// leeway 60 s, tokens up to 8 KiB, JSON depth 16, a `kid` required in the header.
    pub const fn new(issuer: Expect<'a>, audience: Expect<'a>) -> Self {
        Validation {
            issuer,
            audience,
            subject: None,
            typ: None,
            algorithms: AlgSet::ALL,
            leeway: DEFAULT_LEEWAY,
            require_exp: true,
            max_age: None,
            max_lifetime: None,
            max_token_len: DEFAULT_MAX_TOKEN_LEN,
            max_depth: DEFAULT_MAX_DEPTH,
            allow_missing_kid: false,
        }
    }

    /// Only these algorithms (the key still has to permit them).
    #[must_use]
    pub const fn algorithms(mut self, algs: AlgSet) -> Self {
        self.algorithms = algs;
        self
    }

    /// Leeway for `exp`, `nbf`, `iat` in seconds, capped at [`MAX_LEEWAY`].
    #[must_use]
    pub const fn leeway(mut self, secs: u32) -> Self {
        self.leeway = if secs > MAX_LEEWAY { MAX_LEEWAY } else { secs };
        self
    }

    /// The leeway in effect.
    pub const fn leeway_secs(&self) -> u32 {
        self.leeway
    }

    /// Require `sub` to equal this value.
    #[must_use]
    pub const fn subject(mut self, sub: &'a str) -> Self {
        self.subject = Some(sub);
        self
    }

    /// Require the header `typ` to be this media type (RFC 8725 §3.11 explicit typing).
    #[must_use]
    pub const fn typ(mut self, typ: &'a str) -> Self {
        self.typ = Some(typ);
        self
    }

    /// Accept tokens without `exp` (an explicit, visible choice).
    #[must_use]
    pub const fn allow_missing_exp(mut self) -> Self {
        self.require_exp = false;
        self
    }

    /// Reject tokens whose `iat` is older than `secs` (`iat` then becomes required).
    #[must_use]
    pub const fn max_age(mut self, secs: u64) -> Self {
        self.max_age = Some(secs);
        self
    }

    /// Reject tokens whose lifetime `exp - iat` is longer than `secs` (Auth0 caps access
    /// tokens at 30 days, ZITADEL's System API at 1 hour); `iat` and `exp` then become
    /// required, and a longer lifetime is `invalid_claim` on `exp`.
    #[must_use]
    pub const fn max_lifetime(mut self, secs: u64) -> Self {
        self.max_lifetime = Some(secs);
        self
    }

    /// Maximum token length in bytes (checked before anything else).
    #[must_use]
    pub const fn max_token_len(mut self, len: usize) -> Self {
        self.max_token_len = len;
        self
    }

    /// JSON nesting limit (top-level object = 1; at most 63).
    #[must_use]
    pub const fn max_depth(mut self, depth: u8) -> Self {
        self.max_depth = if depth > json::MAX_DEPTH_LIMIT {
            json::MAX_DEPTH_LIMIT
        } else {
            depth
        };
        self
    }

    /// Let tokens without `kid` be tried against the keys whose type and `alg` fit the
    /// header's `alg` (by default a `kid` is required).
    #[must_use]
    pub const fn allow_missing_kid(mut self, allow: bool) -> Self {
        self.allow_missing_kid = allow;
        self
    }
}

/// The audience claim: one string or an array of strings (RFC 7519 §4.1.3).
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Audience<'a> {
    /// `"aud": "x"`
    One(JsonStr<'a>),
    /// `"aud": ["x", "y"]` (raw array text, every element checked to be a string)
    Many(&'a [u8]),
}

impl<'a> Audience<'a> {
    /// The audience values.
    pub fn iter(&self) -> impl Iterator<Item = JsonStr<'a>> + 'a {
        let (one, many) = match *self {
            Audience::One(s) => (Some(s), None),
            Audience::Many(raw) => (None, Some(json::array_items(raw))),
        };
        one.into_iter()
            .chain(many.into_iter().flatten().filter_map(|v| match v {
                Ok(Value::Str(s)) => Some(s),
                _ => None,
            }))
    }

    /// Whether `value` is one of the audiences.
    pub fn contains(&self, value: &str) -> bool {
        self.any(|s| s.eq_str(value))
    }

    fn any(&self, mut f: impl FnMut(JsonStr<'a>) -> bool) -> bool {
        match *self {
            Audience::One(s) => f(s),
            Audience::Many(raw) => {
                json::array_items(raw).any(|v| matches!(v, Ok(Value::Str(s)) if f(s)))
            }
        }
    }
}

/// The registered claims of a verified token, typed.
#[derive(Debug, Clone, Copy, Default)]
#[non_exhaustive]
pub struct RegisteredClaims<'a> {
    iss: Option<JsonStr<'a>>,
    sub: Option<JsonStr<'a>>,
    aud: Option<Audience<'a>>,
    exp: Option<u64>,
    nbf: Option<u64>,
    iat: Option<u64>,
    jti: Option<JsonStr<'a>>,
}

impl<'a> RegisteredClaims<'a> {
    /// `iss`
    pub fn iss(&self) -> Option<JsonStr<'a>> {
        self.iss
    }
    /// `sub`
    pub fn sub(&self) -> Option<JsonStr<'a>> {
        self.sub
    }
    /// `aud`
    pub fn aud(&self) -> Option<Audience<'a>> {
        self.aud
    }
    /// `exp` (seconds, fractions floored)
    pub fn exp(&self) -> Option<u64> {
        self.exp
    }
    /// `nbf` (seconds, fractions floored)
    pub fn nbf(&self) -> Option<u64> {
        self.nbf
    }
    /// `iat` (seconds, fractions floored)
    pub fn iat(&self) -> Option<u64> {
        self.iat
    }
    /// `jti`
    pub fn jti(&self) -> Option<JsonStr<'a>> {
        self.jti
    }
}

/// One claim of a verified token, found by name ([`crate::VerifiedToken::claim`]): the JSON
/// value as it stands in the payload (strings undecoded, numbers and containers as raw text).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClaimRef<'a> {
    /// A string (decode it with [`JsonStr::decode_into`] or compare with [`JsonStr::eq_str`]).
    Str(JsonStr<'a>),
    /// A number, its raw (grammar-checked) text.
    Num(&'a [u8]),
    /// `true` or `false`.
    Bool(bool),
    /// `null`.
    Null,
    /// An array, raw text including the brackets.
    Array(&'a [u8]),
    /// An object, raw text including the braces.
    Object(&'a [u8]),
}

impl<'a> ClaimRef<'a> {
    /// The value as an `i64` if it is a number written as an integer (an optional `-` and
    /// digits, no fraction or exponent) that fits; `None` for anything else.
    ///
    /// ```
    /// # use tokenguard::ClaimRef;
    /// assert_eq!(ClaimRef::Num(b"-42").as_i64(), Some(-42));
    /// assert_eq!(ClaimRef::Num(b"4.2").as_i64(), None);
    /// assert_eq!(ClaimRef::Num(b"9223372036854775808").as_i64(), None);
    /// ```
    pub fn as_i64(&self) -> Option<i64> {
        let ClaimRef::Num(raw) = *self else {
            return None;
        };
        let (neg, digits) = match raw.split_first() {
            Some((b'-', rest)) => (true, rest),
            _ => (false, raw),
        };
        if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        // Magnitudes are accumulated negatively so i64::MIN fits.
        let mut v: i64 = 0;
        for &d in digits {
            v = v.checked_mul(10)?.checked_sub(i64::from(d - b'0'))?;
        }
        if neg {
            Some(v)
        } else {
            v.checked_neg()
        }
    }

    /// The value if it is `true` or `false`.
    pub fn as_bool(&self) -> Option<bool> {
        match *self {
            ClaimRef::Bool(b) => Some(b),
            _ => None,
        }
    }

    /// The value if it is a string.
    pub fn as_json_str(&self) -> Option<JsonStr<'a>> {
        match *self {
            ClaimRef::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The member `name` of a claims text (a verified token's
    /// [`crate::VerifiedToken::claims_json`], kept by the caller), or `None`. The text is
    /// scanned in full, so any input is safe.
    ///
    /// # Errors
    /// `malformed` when the text is not one JSON object, or has `name` twice.
    pub fn find(claims_json: &'a [u8], name: &str) -> Result<Option<ClaimRef<'a>>, Error> {
        find(claims_json, name)
    }
}

/// The member `name` of a claims object (already scanned and known valid), or `None`;
/// `malformed` (duplicate member) when the name appears twice: a token never gets to choose
/// which of two values a reader sees.
pub(crate) fn find<'a>(json: &'a [u8], name: &str) -> Result<Option<ClaimRef<'a>>, Error> {
    let mut found: Option<ClaimRef<'_>> = None;
    let mut twice = false;
    json::parse_object(json, json::MAX_DEPTH_LIMIT, |n, v| {
        if n.eq_str(name) {
            twice |= found.is_some();
            found = Some(match v {
                Value::Str(s) => ClaimRef::Str(s),
                Value::Num(r) => ClaimRef::Num(r),
                Value::Bool(b) => ClaimRef::Bool(b),
                Value::Null => ClaimRef::Null,
                Value::Array(r) => ClaimRef::Array(r),
                Value::Object(r) => ClaimRef::Object(r),
            });
        }
        Ok::<(), JsonError>(())
    })?;
    if twice {
        return Err(Malformed::DuplicateMember.into());
    }
    Ok(found)
}

const CLAIMS: [(&[u8], Claim); 7] = [
    (b"iss", Claim::Iss),
    (b"sub", Claim::Sub),
    (b"aud", Claim::Aud),
    (b"exp", Claim::Exp),
    (b"nbf", Claim::Nbf),
    (b"iat", Claim::Iat),
    (b"jti", Claim::Jti),
];

/// The index in [`CLAIMS`] of a member name, if it is a registered claim. Names without
/// escapes (all but hostile ones) are matched by a `match` on their bytes, which compiles to a
/// length test and word compares instead of a `memcmp` call per registered name.
fn claim_index(name: JsonStr<'_>) -> Option<usize> {
    if name.has_escapes() {
        return CLAIMS.iter().position(|(n, _)| name.eq_bytes(n));
    }
    match name.raw() {
        b"iss" => Some(0),
        b"sub" => Some(1),
        b"aud" => Some(2),
        b"exp" => Some(3),
        b"nbf" => Some(4),
        b"iat" => Some(5),
        b"jti" => Some(6),
        _ => None,
    }
}

/// Parses the payload's registered claims, checking their types.
///
/// # Errors
/// `malformed` for bad JSON or a repeated registered claim; `invalid_claim` for a
/// registered claim of the wrong type or range.
pub fn parse(json: &[u8], max_depth: u8) -> Result<RegisteredClaims<'_>, Error> {
    let mut c = RegisteredClaims::default();
    let mut seen: u8 = 0;
    let mut dup = false;
    let mut invalid: Option<Claim> = None;
    json::parse_object(json, max_depth, |name, v| {
        let Some(i) = claim_index(name) else {
            return Ok(());
        };
        let bit = 1u8 << i;
        if seen & bit != 0 {
            dup = true;
        }
        seen |= bit;
        let claim = CLAIMS.get(i).map_or(Claim::Jti, |(_, c)| *c);
        let mut bad = || {
            if invalid.is_none() {
                invalid = Some(claim);
            }
        };
        match (claim, v) {
            (Claim::Iss, Value::Str(s)) => c.iss = Some(s),
            (Claim::Sub, Value::Str(s)) => c.sub = Some(s),
            (Claim::Jti, Value::Str(s)) => c.jti = Some(s),
            (Claim::Aud, Value::Str(s)) => c.aud = Some(Audience::One(s)),
            (Claim::Aud, Value::Array(raw)) => {
                if json::array_items(raw).all(|v| matches!(v, Ok(Value::Str(_)))) {
                    c.aud = Some(Audience::Many(raw));
                } else {
                    bad();
                }
            }
            (Claim::Exp | Claim::Nbf | Claim::Iat, Value::Num(raw)) => {
                match json::numeric_date(raw, MAX_NUMERIC_DATE) {
                    Some(t) => match claim {
                        Claim::Exp => c.exp = Some(t),
                        Claim::Nbf => c.nbf = Some(t),
                        _ => c.iat = Some(t),
                    },
                    None => bad(),
                }
            }
            _ => bad(),
        }
        Ok::<(), JsonError>(())
    })?;
    if dup {
        return Err(Malformed::DuplicateMember.into());
    }
    if let Some(claim) = invalid {
        return Err(Error::InvalidClaim(claim));
    }
    Ok(c)
}

/// Checks parsed claims against the policy at time `now` (unix seconds).
///
/// Order: `exp`, `nbf`, `iat`, maximum age, maximum lifetime, `iss`, `aud`, `sub`.
///
/// # Errors
/// The first failing check's error.
pub fn validate(c: &RegisteredClaims<'_>, v: &Validation<'_>, now: u64) -> Result<(), Error> {
    let leeway = u64::from(v.leeway);
    match c.exp {
        Some(exp) if now >= exp.saturating_add(leeway) => return Err(Error::Expired),
        None if v.require_exp => return Err(Error::MissingClaim(Claim::Exp)),
        _ => {}
    }
    if let Some(nbf) = c.nbf {
        if nbf > now.saturating_add(leeway) {
            return Err(Error::NotYetValid);
        }
    }
    if let Some(iat) = c.iat {
        if iat > now.saturating_add(leeway) {
            return Err(Error::IssuedInFuture);
        }
    }
    if let Some(max_age) = v.max_age {
        let iat = c.iat.ok_or(Error::MissingClaim(Claim::Iat))?;
        if now > iat.saturating_add(max_age).saturating_add(leeway) {
            return Err(Error::Expired);
        }
    }
    if let Some(max) = v.max_lifetime {
        let iat = c.iat.ok_or(Error::MissingClaim(Claim::Iat))?;
        let exp = c.exp.ok_or(Error::MissingClaim(Claim::Exp))?;
        if exp.saturating_sub(iat) > max {
            return Err(Error::InvalidClaim(Claim::Exp));
        }
    }
    if v.issuer != Expect::Ignore {
        let iss = c.iss.ok_or(Error::MissingClaim(Claim::Iss))?;
        if !v.issuer.matches(iss) {
            return Err(Error::WrongIssuer);
        }
    }
    if v.audience != Expect::Ignore {
        let aud = c.aud.ok_or(Error::MissingClaim(Claim::Aud))?;
        if !aud.any(|a| v.audience.matches(a)) {
            return Err(Error::WrongAudience);
        }
    }
    if let Some(sub) = v.subject {
        let s = c.sub.ok_or(Error::MissingClaim(Claim::Sub))?;
        if !s.eq_str(sub) {
            return Err(Error::WrongSubject);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
