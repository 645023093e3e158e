//! The JOSE header (RFC 7515 §4.1) and its policy.
//!
//! - `alg` is required, a string, an exact case-sensitive match; `none` in any spelling is
//!   refused (`unsupported_alg`).
//! - `crit` is refused whatever it lists: no extension is understood (RFC 7515 §4.1.11).
//! - `b64` (RFC 7797), `zip` and `enc` are refused: a JWT is never unencoded, compressed or
//!   encrypted here.
//! - `jwk`, `jku`, `x5u`, `x5c` are refused: keys never come from the token (RFC 8725 §3.10).
//! - `kid` is an opaque string compared byte for byte; `typ` and `cty` must be strings.
//! - Registered parameter names may not repeat (escape-equivalent spellings included).

use crate::alg::{self, Algorithm};
use crate::error::{Error, HeaderError, JsonError, Malformed};
use crate::json::{self, JsonStr, Value};

/// The parsed header of a token.
#[derive(Debug, Clone, Copy)]
pub struct Header<'a> {
    alg: Algorithm,
    kid: Option<JsonStr<'a>>,
    typ: Option<JsonStr<'a>>,
    cty: Option<JsonStr<'a>>,
}

impl<'a> Header<'a> {
    /// The algorithm.
    pub fn alg(&self) -> Algorithm {
        self.alg
    }

    /// The key id.
    pub fn kid(&self) -> Option<JsonStr<'a>> {
        self.kid
    }

    /// The type (`typ`).
    pub fn typ(&self) -> Option<JsonStr<'a>> {
        self.typ
    }

    /// The content type (`cty`).
    pub fn cty(&self) -> Option<JsonStr<'a>> {
        self.cty
    }
}

const NAMES: [&[u8]; 14] = [
    b"alg",
    b"kid",
    b"typ",
    b"cty",
    b"crit",
    b"jwk",
    b"jku",
    b"x5u",
    b"x5c",
    b"x5t",
    b"x5t#S256",
    b"b64",
    b"zip",
    b"enc",
];

/// `a == b` in a `const fn`.
#[expect(clippy::indexing_slicing, reason = "`i < a.len() == b.len()`")]
const fn bytes_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// The index in [`NAMES`] of a member name, if it is one the policy looks at; names without
/// escapes are matched by a `match` on their bytes (no `memcmp` per name).
fn name_index(name: JsonStr<'_>) -> Option<usize> {
    if name.has_escapes() {
        return NAMES.iter().position(|n| name.eq_bytes(n));
    }
    match name.raw() {
        b"alg" => Some(0),
        b"kid" => Some(1),
        b"typ" => Some(2),
        b"cty" => Some(3),
        b"crit" => Some(4),
        b"jwk" => Some(5),
        b"jku" => Some(6),
        b"x5u" => Some(7),
        b"x5c" => Some(8),
        b"x5t" => Some(9),
        b"x5t#S256" => Some(10),
        b"b64" => Some(11),
        b"zip" => Some(12),
        b"enc" => Some(13),
        _ => None,
    }
}

/// Parses and checks a decoded header.
///
/// # Errors
/// `malformed`, `unsupported_alg` or `crit_unsupported` as described in the module docs.
pub fn parse(json: &[u8], max_depth: u8) -> Result<Header<'_>, Error> {
    let mut mask: u16 = 0;
    let mut dup = false;
    let mut alg_v: Option<Value<'_>> = None;
    let mut kid_v: Option<Value<'_>> = None;
    let mut typ_v: Option<Value<'_>> = None;
    let mut cty_v: Option<Value<'_>> = None;
    json::parse_object(json, max_depth, |name, v| {
        let Some(i) = name_index(name) else {
            return Ok(());
        };
        let bit = 1u16 << i;
        if mask & bit != 0 {
            dup = true;
        }
        mask |= bit;
        match i {
            0 => alg_v = Some(v),
            1 => kid_v = Some(v),
            2 => typ_v = Some(v),
            3 => cty_v = Some(v),
            _ => {}
        }
        Ok::<(), JsonError>(())
    })?;
    // The `NAMES` index of a name, as a bit of `mask`. Only ever evaluated at compile time,
    // where a name missing from `NAMES` fails the build.
    #[expect(clippy::panic, clippy::indexing_slicing, reason = "`i < NAMES.len()`")]
    const fn bit(name: &[u8]) -> u16 {
        let mut i = 0;
        while i < NAMES.len() {
            if bytes_eq(NAMES[i], name) {
                return 1 << i;
            }
            i += 1;
        }
        panic!("not a registered header parameter")
    }
    const CRIT: u16 = bit(b"crit");
    const B64: u16 = bit(b"b64");
    const ZIP: u16 = bit(b"zip");
    const ENC: u16 = bit(b"enc");
    const EMBEDDED_KEY: u16 = bit(b"jwk") | bit(b"jku") | bit(b"x5u") | bit(b"x5c");
    let has = |bits: u16| mask & bits != 0;
    if dup {
        return Err(Malformed::DuplicateMember.into());
    }
    let alg_s = match alg_v {
        None => return Err(HeaderError::AlgMissing.into()),
        Some(Value::Str(s)) => s,
        Some(_) => return Err(HeaderError::AlgType.into()),
    };
    if has(CRIT) {
        return Err(Error::CritUnsupported);
    }
    if has(B64) {
        return Err(HeaderError::Unencoded.into());
    }
    if has(ZIP) {
        return Err(HeaderError::Compression.into());
    }
    if has(ENC) {
        return Err(HeaderError::Encryption.into());
    }
    if has(EMBEDDED_KEY) {
        return Err(HeaderError::EmbeddedKey.into());
    }
    let mut buf = [0u8; 16];
    let name = match alg_s.as_str() {
        Some(plain) => Some(plain),
        None => alg_s.decode_into(&mut buf),
    };
    let alg = match name {
        Some(name) if alg::is_none_alg(name.as_bytes()) => return Err(Error::UnsupportedAlg),
        Some(name) => Algorithm::from_name(name.as_bytes()).ok_or(Error::UnsupportedAlg)?,
        None => return Err(Error::UnsupportedAlg),
    };
    fn string<'a>(v: Option<Value<'a>>, e: HeaderError) -> Result<Option<JsonStr<'a>>, Error> {
        match v {
            None => Ok(None),
            Some(Value::Str(s)) => Ok(Some(s)),
            Some(_) => Err(Error::from(e)),
        }
    }
    let kid = string(kid_v, HeaderError::KidType)?;
    let typ = string(typ_v, HeaderError::TypType)?;
    let cty = string(cty_v, HeaderError::CtyType)?;
    Ok(Header { alg, kid, typ, cty })
}

/// Media-type comparison for `typ`/`cty` (RFC 7515 §4.1.9): case-insensitive, and a value
/// with no `/` means the same as with `application/` in front of it (`JWT` is
/// `application/JWT`). Only then: `application/text/plain` is not `text/plain`, and `x/y`
/// is not `application/x/y`.
pub fn media_type_matches(actual: JsonStr<'_>, expected: &str) -> bool {
    let mut buf = [0u8; 128];
    let Some(a) = actual.decode_into(&mut buf) else {
        return false;
    };
    // Both sides in their short form: `application/` dropped where what follows has no `/`.
    let strip = |s: &'_ str| -> usize {
        const P: &str = "application/";
        let prefixed =
            s.len() >= P.len() && s.get(..P.len()).is_some_and(|h| h.eq_ignore_ascii_case(P));
        if prefixed && !s.bytes().skip(P.len()).any(|b| b == b'/') {
            P.len()
        } else {
            0
        }
    };
    let a = a.get(strip(a)..).unwrap_or("");
    let e = expected.get(strip(expected)..).unwrap_or("");
    a.eq_ignore_ascii_case(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(h: &str) -> Error {
        parse(h.as_bytes(), 8).unwrap_err()
    }

    /// The fast `match` on a name's bytes and the table agree on every name, and an escaped
    /// spelling of each is still found through the table.
    #[test]
    fn header_names_match_the_table() {
        for (i, name) in NAMES.iter().enumerate() {
            assert_eq!(name_index(JsonStr::from_raw(name, false)), Some(i));
            let mut esc = std::vec::Vec::from(&b"\\u00"[..]);
            esc.extend(std::format!("{:02x}", name[0]).bytes());
            esc.extend(&name[1..]);
            assert_eq!(name_index(JsonStr::from_raw(&esc, true)), Some(i));
        }
        for other in [&b"al"[..], b"algg", b"ALG", b"x5t#S25", b""] {
            assert_eq!(name_index(JsonStr::from_raw(other, false)), None);
        }
    }

    #[test]
    fn accepts_plain_headers() {
        let h = parse(br#"{"alg":"ES256","kid":"k1","typ":"JWT","x5t":"abc"}"#, 8).unwrap();
        assert_eq!(h.alg(), alg::ES256);
        assert!(h.kid().unwrap().eq_str("k1"));
        let h = parse(br#"{"\u0061lg":"HS256"}"#, 8).unwrap();
        assert_eq!(h.alg(), alg::HS256);
    }

    #[test]
    fn policy_errors() {
        assert_eq!(
            err(r#"{"typ":"JWT"}"#),
            Error::Malformed(Malformed::Header(HeaderError::AlgMissing))
        );
        assert_eq!(
            err(r#"{"alg":256}"#),
            Error::Malformed(Malformed::Header(HeaderError::AlgType))
        );
        assert_eq!(err(r#"{"alg":"none"}"#), Error::UnsupportedAlg);
        assert_eq!(err(r#"{"alg":"NoNe"}"#), Error::UnsupportedAlg);
        assert_eq!(err(r#"{"alg":"hs256"}"#), Error::UnsupportedAlg);
        assert_eq!(err(r#"{"alg":"HS256","crit":[]}"#), Error::CritUnsupported);
        assert_eq!(
            err(r#"{"alg":"HS256","b64":true}"#),
            Error::Malformed(Malformed::Header(HeaderError::Unencoded))
        );
        assert_eq!(
            err(r#"{"alg":"HS256","jku":"x"}"#),
            Error::Malformed(Malformed::Header(HeaderError::EmbeddedKey))
        );
        assert_eq!(
            err(r#"{"alg":"none","alg":"HS256"}"#),
            Error::Malformed(Malformed::DuplicateMember)
        );
        assert_eq!(
            err(r#"{"alg":"HS256","\u006bid":"a","kid":"b"}"#),
            Error::Malformed(Malformed::DuplicateMember)
        );
        assert_eq!(
            err(r#"{"alg":"HS256","kid":1}"#),
            Error::Malformed(Malformed::Header(HeaderError::KidType))
        );
        assert_eq!(
            err(r#"{"alg":"HS256","typ":1}"#),
            Error::Malformed(Malformed::Header(HeaderError::TypType))
        );
    }

    #[test]
    fn media_types() {
        let s = |x: &'static str| JsonStr::from_raw(x.as_bytes(), false);
        assert!(media_type_matches(s("JWT"), "jwt"));
        assert!(media_type_matches(s("application/at+jwt"), "at+JWT"));
        assert!(media_type_matches(s("at+jwt"), "application/at+jwt"));
        assert!(!media_type_matches(s("at+jwt"), "JWT"));
        // The prefix is implied only before a value with no other `/` (both directions).
        assert!(!media_type_matches(
            s("text/plain"),
            "application/text/plain"
        ));
        assert!(!media_type_matches(
            s("application/text/plain"),
            "text/plain"
        ));
        assert!(!media_type_matches(s("application/x/y"), "x/y"));
        assert!(!media_type_matches(s("x/y"), "application/x/y"));
        assert!(media_type_matches(s("Application/X/Y"), "application/x/y"));
        assert!(media_type_matches(s("text/plain"), "TEXT/plain"));
    }
}
