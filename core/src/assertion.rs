//! Minting JWT assertions into the caller's buffer, no heap: header and claims are written as
//! JSON straight into a base64url encoder over the output, the signing input is signed by a
//! [`Signer`], and the signature is appended. A buffer that is too small is an error, never a
//! truncated token.
//!
//! [`presets`] encode each identity provider's rules (ZITADEL service users, API apps and the
//! System API; Auth0 `private_key_jwt`) so a device cannot get them wrong, with clock-robust
//! `iat`: never ahead of the caller's clock.

use crate::b64;
use crate::sign::{SignError, Signer};

/// The audience claim to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aud<'a> {
    /// No `aud`.
    None,
    /// `"aud": "x"`.
    One(&'a str),
    /// `"aud": ["x", "y"]`.
    Many(&'a [&'a str]),
}

/// An extra claim value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ClaimValue<'a> {
    /// A string.
    Str(&'a str),
    /// An integer.
    Int(i64),
    /// A boolean.
    Bool(bool),
    /// Any JSON value, written as it is given (an array, an object, `null`, a number with a
    /// fraction): Auth0's `permissions` array, for one. It must be exactly one JSON value
    /// nested at most 8 deep, or [`encode`] refuses the claims.
    Json(&'a str),
}

/// The claims of an assertion (RFC 7519 §4.1 plus extras).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Claims<'a> {
    /// `iss`
    pub iss: Option<&'a str>,
    /// `sub`
    pub sub: Option<&'a str>,
    /// `aud`
    pub aud: Aud<'a>,
    /// `iat`
    pub iat: Option<u64>,
    /// `nbf`
    pub nbf: Option<u64>,
    /// `exp`
    pub exp: Option<u64>,
    /// `jti`
    pub jti: Option<&'a str>,
    /// More claims, written after the registered ones (names must not repeat them).
    pub extra: &'a [(&'a str, ClaimValue<'a>)],
}

impl Claims<'_> {
    /// No claims at all.
    pub const EMPTY: Claims<'static> = Claims {
        iss: None,
        sub: None,
        aud: Aud::None,
        iat: None,
        nbf: None,
        exp: None,
        jti: None,
        extra: &[],
    };
}

const REGISTERED: [&str; 7] = ["iss", "sub", "aud", "iat", "nbf", "exp", "jti"];

/// base64url encoder writing into a slice as bytes arrive.
struct B64Out<'o> {
    out: &'o mut [u8],
    pos: usize,
    acc: u32,
    n: u8,
    overflow: bool,
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

impl B64Out<'_> {
    fn put(&mut self, c: u8) {
        match self.out.get_mut(self.pos) {
            Some(slot) => {
                *slot = c;
                self.pos += 1;
            }
            None => self.overflow = true,
        }
    }

    fn sym(v: u32) -> u8 {
        ALPHABET.get((v & 63) as usize).copied().unwrap_or(b'A')
    }

    fn byte(&mut self, b: u8) {
        self.acc = (self.acc << 8) | u32::from(b);
        self.n += 1;
        if self.n == 3 {
            let w = self.acc;
            self.put(Self::sym(w >> 18));
            self.put(Self::sym(w >> 12));
            self.put(Self::sym(w >> 6));
            self.put(Self::sym(w));
            self.acc = 0;
            self.n = 0;
        }
    }

    fn bytes(&mut self, d: &[u8]) {
        for &b in d {
            self.byte(b);
        }
    }

    /// Flushes the last group (no padding).
    fn end(&mut self) {
        match self.n {
            1 => {
                let w = self.acc << 16;
                self.put(Self::sym(w >> 18));
                self.put(Self::sym(w >> 12));
            }
            2 => {
                let w = self.acc << 8;
                self.put(Self::sym(w >> 18));
                self.put(Self::sym(w >> 12));
                self.put(Self::sym(w >> 6));
            }
            _ => {}
        }
        self.acc = 0;
        self.n = 0;
    }

    fn string(&mut self, s: &str) {
        self.byte(b'"');
        crate::json::write_escaped(s.as_bytes(), |b| {
            self.bytes(b);
            true
        });
        self.byte(b'"');
    }

    fn uint(&mut self, mut v: u64) {
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        loop {
            i -= 1;
            let (q, r) = tokenguard_limbs::div_rem_small(v, 10);
            if let Some(d) = digits.get_mut(i) {
                *d = b'0' + u8::try_from(r).unwrap_or(0);
            }
            v = q;
            if v == 0 || i == 0 {
                break;
            }
        }
        self.bytes(digits.get(i..).unwrap_or(&[]));
    }

    fn int(&mut self, v: i64) {
        if v < 0 {
            self.byte(b'-');
        }
        self.uint(v.unsigned_abs());
    }
}

/// Writes `"name":` with a leading comma when needed.
fn member(w: &mut B64Out<'_>, first: &mut bool, name: &str) {
    if !*first {
        w.byte(b',');
    }
    *first = false;
    w.string(name);
    w.byte(b':');
}

/// Mints a compact JWS: header `{"alg", "typ"?, "kid"?}` from the signer, the claims, the
/// signature. Returns the token as text inside `out`.
///
/// ```
/// use tokenguard::assertion::{encode, Aud, Claims};
/// use tokenguard::sign::SigningKey;
/// let key = SigningKey::ed25519(Some(b"k1"), &[7u8; 32]).unwrap();
/// let claims = Claims { iss: Some("dev"), sub: Some("dev"), aud: Aud::One("https://idp"),
///                       iat: Some(1_700_000_000), exp: Some(1_700_000_300), ..Claims::EMPTY };
/// let mut buf = [0u8; 512];
/// let jwt = encode(&key, Some("JWT"), &claims, None, &mut buf).unwrap();
/// assert_eq!(jwt.split('.').count(), 3);
/// ```
///
/// # Errors
/// [`SignError::BufferTooSmall`] (never a truncated token), [`SignError::Claims`] for an
/// extra claim that repeats a registered name or whose [`ClaimValue::Json`] is not one JSON
/// value, or the signer's error.
pub fn encode<'o, S: Signer + ?Sized>(
    signer: &S,
    typ: Option<&str>,
    claims: &Claims<'_>,
    entropy: Option<&[u8]>,
    out: &'o mut [u8],
) -> Result<&'o str, SignError> {
    if claims.extra.iter().any(|(n, _)| REGISTERED.contains(n)) {
        return Err(SignError::Claims(
            "an extra claim repeats a registered claim name",
        ));
    }
    for (i, (n, _)) in claims.extra.iter().enumerate() {
        if claims.extra.iter().skip(i + 1).any(|(m, _)| m == n) {
            return Err(SignError::Claims("an extra claim name repeats"));
        }
    }
    for (_, v) in claims.extra {
        if let ClaimValue::Json(j) = v {
            crate::json::validate_value(j, 8).map_err(|_| {
                SignError::Claims("an extra claim's JSON value is not one JSON value")
            })?;
        }
    }
    let mut w = B64Out {
        out,
        pos: 0,
        acc: 0,
        n: 0,
        overflow: false,
    };
    // Header.
    w.byte(b'{');
    let mut first = true;
    member(&mut w, &mut first, "alg");
    w.string(signer.alg().name());
    if let Some(t) = typ {
        member(&mut w, &mut first, "typ");
        w.string(t);
    }
    if let Some(kid) = signer.kid() {
        member(&mut w, &mut first, "kid");
        w.string(core::str::from_utf8(kid).map_err(|_| SignError::Claims("kid is not UTF-8"))?);
    }
    w.byte(b'}');
    w.end();
    w.put(b'.');
    // Claims.
    w.byte(b'{');
    let mut first = true;
    let strings = [("iss", claims.iss), ("sub", claims.sub)];
    for (name, v) in strings {
        if let Some(v) = v {
            member(&mut w, &mut first, name);
            w.string(v);
        }
    }
    match claims.aud {
        Aud::None => {}
        Aud::One(a) => {
            member(&mut w, &mut first, "aud");
            w.string(a);
        }
        Aud::Many(list) => {
            member(&mut w, &mut first, "aud");
            w.byte(b'[');
            for (i, a) in list.iter().enumerate() {
                if i > 0 {
                    w.byte(b',');
                }
                w.string(a);
            }
            w.byte(b']');
        }
    }
    for (name, v) in [
        ("iat", claims.iat),
        ("nbf", claims.nbf),
        ("exp", claims.exp),
    ] {
        if let Some(v) = v {
            member(&mut w, &mut first, name);
            w.uint(v);
        }
    }
    if let Some(j) = claims.jti {
        member(&mut w, &mut first, "jti");
        w.string(j);
    }
    for (name, v) in claims.extra {
        member(&mut w, &mut first, name);
        match v {
            ClaimValue::Str(s) => w.string(s),
            ClaimValue::Int(i) => w.int(*i),
            ClaimValue::Bool(b) => w.bytes(if *b { b"true" } else { b"false" }),
            ClaimValue::Json(j) => w.bytes(j.trim_ascii().as_bytes()),
        }
    }
    w.byte(b'}');
    w.end();
    if w.overflow {
        return Err(SignError::BufferTooSmall);
    }
    let input_len = w.pos;
    let out = w.out;
    let mut sig = [0u8; crate::MAX_RSA_BYTES];
    let sig_len = signer.sign(
        out.get(..input_len).ok_or(SignError::BufferTooSmall)?,
        entropy,
        &mut sig,
    )?;
    let sig = sig.get(..sig_len).ok_or(SignError::BufferTooSmall)?;
    let dot = out.get_mut(input_len).ok_or(SignError::BufferTooSmall)?;
    *dot = b'.';
    let tail = out
        .get_mut(input_len + 1..)
        .ok_or(SignError::BufferTooSmall)?;
    let n = b64::encode(sig, tail).map_err(|_| SignError::BufferTooSmall)?;
    let total = input_len + 1 + n;
    core::str::from_utf8(out.get(..total).ok_or(SignError::BufferTooSmall)?)
        .map_err(|_| SignError::Claims("token is not text"))
}

/// Provider presets: claims that follow each identity provider's rules.
pub mod presets {
    use super::{Aud, Claims};
    use crate::sign::SignError;

    /// When an assertion is minted: the caller's clock and how far to backdate `iat`.
    ///
    /// ZITADEL rejects an `iat` more than about a second in the future and device clocks
    /// drift: `iat = now - backdate` is never ahead of the caller's clock.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Timing {
        /// The caller's clock, unix seconds.
        pub now: u64,
        /// Seconds to backdate `iat` (and `nbf`); covers the device clock running ahead.
        pub backdate: u64,
        /// Lifetime from `iat` to `exp`, seconds.
        pub lifetime: u64,
    }

    impl Timing {
        /// `now`, backdated 5 seconds, with a lifetime of `lifetime` seconds.
        pub const fn new(now: u64, lifetime: u64) -> Timing {
            Timing {
                now,
                backdate: 5,
                lifetime,
            }
        }

        fn iat(&self) -> u64 {
            self.now.saturating_sub(self.backdate)
        }

        fn check(&self, max_lifetime: u64, rule: &'static str) -> Result<(u64, u64), SignError> {
            if self.lifetime == 0 || self.lifetime > max_lifetime {
                return Err(SignError::Claims(rule));
            }
            let iat = self.iat();
            Ok((iat, iat.saturating_add(self.lifetime)))
        }
    }

    /// ZITADEL service user, JWT-bearer grant (RFC 7523): `iss` = `sub` = the user id,
    /// `aud` = the issuer URL (ZITADEL checks that `aud` contains it), lifetime at most one
    /// hour. The signer's `kid` must be the key id from the key file.
    ///
    /// # Errors
    /// [`SignError::Claims`] for a lifetime over one hour or empty ids.
    pub fn zitadel_service_user<'a>(
        user_id: &'a str,
        issuer: &'a str,
        t: Timing,
    ) -> Result<Claims<'a>, SignError> {
        if user_id.is_empty() || issuer.is_empty() {
            return Err(SignError::Claims(
                "ZITADEL needs the user id and the issuer URL",
            ));
        }
        let (iat, exp) = t.check(3600, "ZITADEL assertions live at most one hour")?;
        Ok(Claims {
            iss: Some(user_id),
            sub: Some(user_id),
            aud: Aud::One(issuer),
            iat: Some(iat),
            exp: Some(exp),
            ..Claims::EMPTY
        })
    }

    /// ZITADEL API application, `client_assertion` for introspection (RFC 7523 §2.2):
    /// `iss` = `sub` = the client id, `aud` = the issuer URL, lifetime at most one hour.
    ///
    /// # Errors
    /// [`SignError::Claims`].
    pub fn zitadel_api_app<'a>(
        client_id: &'a str,
        issuer: &'a str,
        t: Timing,
    ) -> Result<Claims<'a>, SignError> {
        if client_id.is_empty() || issuer.is_empty() {
            return Err(SignError::Claims(
                "ZITADEL needs the client id and the issuer URL",
            ));
        }
        let (iat, exp) = t.check(3600, "ZITADEL assertions live at most one hour")?;
        Ok(Claims {
            iss: Some(client_id),
            sub: Some(client_id),
            aud: Aud::One(issuer),
            iat: Some(iat),
            exp: Some(exp),
            ..Claims::EMPTY
        })
    }

    /// ZITADEL System API self-signed JWT: `iss` = `sub` = the configured system user id,
    /// `aud` = the instance URL exactly as the instance is reached (scheme and port
    /// included), `iat` = now (backdated), `exp` = `iat` + one hour.
    ///
    /// # Errors
    /// [`SignError::Claims`] when the instance URL has no scheme.
    pub fn zitadel_system_api<'a>(
        user_id: &'a str,
        instance_url: &'a str,
        now: u64,
        backdate: u64,
    ) -> Result<Claims<'a>, SignError> {
        if user_id.is_empty() {
            return Err(SignError::Claims("the System API needs the system user id"));
        }
        if !(instance_url.starts_with("https://") || instance_url.starts_with("http://")) {
            return Err(SignError::Claims(
                "the System API audience is the instance URL with its scheme",
            ));
        }
        let t = Timing {
            now,
            backdate,
            lifetime: 3600,
        };
        let (iat, exp) = t.check(3600, "System API tokens live one hour")?;
        Ok(Claims {
            iss: Some(user_id),
            sub: Some(user_id),
            aud: Aud::One(instance_url),
            iat: Some(iat),
            exp: Some(exp),
            ..Claims::EMPTY
        })
    }

    /// Auth0 `private_key_jwt` client assertion: `iss` = `sub` = the client id, `aud` = the
    /// tenant's token endpoint (`https://TENANT/oauth/token`), a unique `jti`, lifetime at
    /// most five minutes.
    ///
    /// # Errors
    /// [`SignError::Claims`] for a missing `jti`, a lifetime over five minutes, or an
    /// audience that is not an https token endpoint (plain http only on a loopback host:
    /// `localhost`, `127.x.x.x`, `[::1]`, for local mocks).
    pub fn auth0_private_key_jwt<'a>(
        client_id: &'a str,
        token_endpoint: &'a str,
        jti: &'a str,
        t: Timing,
    ) -> Result<Claims<'a>, SignError> {
        if jti.is_empty() {
            return Err(SignError::Claims("Auth0 requires a unique jti"));
        }
        if client_id.is_empty()
            || !(token_endpoint.starts_with("https://") || is_loopback_http(token_endpoint))
        {
            return Err(SignError::Claims(
                "Auth0 needs the client id and the https token endpoint",
            ));
        }
        let (iat, exp) = t.check(300, "Auth0 client assertions live at most five minutes")?;
        Ok(Claims {
            iss: Some(client_id),
            sub: Some(client_id),
            aud: Aud::One(token_endpoint),
            iat: Some(iat),
            exp: Some(exp),
            jti: Some(jti),
            ..Claims::EMPTY
        })
    }

    /// `http://` on a loopback host (a local mock of the provider; real tenants are https).
    fn is_loopback_http(url: &str) -> bool {
        let Some(rest) = url.strip_prefix("http://") else {
            return false;
        };
        let host_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let authority = rest.get(..host_end).unwrap_or("");
        let host = match authority.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or(""),
            None => authority.split(':').next().unwrap_or(""),
        };
        let loopback_v4 = host.starts_with("127.")
            && host.split('.').count() == 4
            && host
                .split('.')
                .all(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()));
        host == "localhost" || host == "::1" || loopback_v4
    }

    /// A 32-character hex `jti` from 16 bytes of caller randomness.
    pub fn jti_from_entropy(random: &[u8; 16]) -> [u8; 32] {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut out = [0u8; 32];
        for (pair, b) in out.chunks_exact_mut(2).zip(random) {
            if let [hi, lo] = pair {
                *hi = HEX.get(usize::from(b >> 4)).copied().unwrap_or(b'0');
                *lo = HEX.get(usize::from(b & 15)).copied().unwrap_or(b'0');
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::presets::*;
    use super::*;
    use crate::crypto::RustCrypto;
    use crate::sign::SigningKey;
    use crate::{Expect, Validation};

    #[test]
    fn json_claim_values_are_written_as_given_and_checked() {
        let key = SigningKey::hmac(Some(b"k"), &[5; 32], crate::alg::HS256).unwrap();
        let extra = [
            (
                "permissions",
                ClaimValue::Json(r#" ["read:a", "write:b"] "#),
            ),
            ("ctx", ClaimValue::Json(r#"{"n":null,"f":1.5}"#)),
            ("none", ClaimValue::Json("null")),
            ("ratio", ClaimValue::Json("0.25")),
        ];
        let c = Claims {
            iss: Some("iss"),
            aud: Aud::One("a"),
            exp: Some(2_000_000_000),
            extra: &extra,
            ..Claims::EMPTY
        };
        let mut buf = [0u8; 600];
        let tok = std::string::String::from(encode(&key, None, &c, None, &mut buf).unwrap());
        let jwk = key.public_jwk().unwrap();
        let v = Validation::new(Expect::One("iss"), Expect::One("a"));
        let mut work = [0u8; 600];
        let t =
            crate::verify_jwt::<RustCrypto, _>(&jwk, tok.as_bytes(), &v, 1_900_000_000, &mut work)
                .unwrap();
        assert_eq!(
            t.claims_json(),
            r#"{"iss":"iss","aud":"a","exp":2000000000,"permissions":["read:a", "write:b"],"ctx":{"n":null,"f":1.5},"none":null,"ratio":0.25}"#
        );
        for bad in ["", "[1,", "1 2", "{\"a\":}", "nul", "[[[[[[[[[[1]]]]]]]]]]"] {
            let extra = [("x", ClaimValue::Json(bad))];
            assert_eq!(
                encode(&key, None, &Claims { extra: &extra, ..c }, None, &mut buf),
                Err(SignError::Claims(
                    "an extra claim's JSON value is not one JSON value"
                )),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn escapes_and_round_trips_through_the_verifier() {
        let key = SigningKey::hmac(Some(b"k\"1"), &[5; 32], crate::alg::HS256).unwrap();
        let extra = [
            (
                "note",
                ClaimValue::Str("quote \" backslash \\ nl \n ctl \u{1} é 𝄞"),
            ),
            ("n", ClaimValue::Int(-42)),
            ("ok", ClaimValue::Bool(true)),
        ];
        let c = Claims {
            iss: Some("iss"),
            aud: Aud::Many(&["a", "b"]),
            exp: Some(2_000_000_000),
            jti: Some("j"),
            extra: &extra,
            ..Claims::EMPTY
        };
        let mut buf = [0u8; 600];
        let tok = std::string::String::from(encode(&key, Some("JWT"), &c, None, &mut buf).unwrap());
        let jwk = key.public_jwk().unwrap();
        let v = Validation::new(Expect::One("iss"), Expect::One("b"));
        let mut work = [0u8; 600];
        let t =
            crate::verify_jwt::<RustCrypto, _>(&jwk, tok.as_bytes(), &v, 1_900_000_000, &mut work)
                .unwrap();
        assert_eq!(
            t.claims_json(),
            r#"{"iss":"iss","aud":["a","b"],"exp":2000000000,"jti":"j","note":"quote \" backslash \\ nl \n ctl \u0001 é 𝄞","n":-42,"ok":true}"#
        );
        assert!(t.header().kid().unwrap().eq_str("k\"1"));
        // Too small: an error at every size, never a partial token.
        for size in [0, 10, 60, tok.len() - 1] {
            let mut small = std::vec![0u8; size];
            assert_eq!(
                encode(&key, Some("JWT"), &c, None, &mut small),
                Err(SignError::BufferTooSmall),
                "{size}"
            );
        }
        let dup = [("iss", ClaimValue::Bool(true))];
        assert!(matches!(
            encode(
                &key,
                None,
                &Claims {
                    extra: &dup,
                    ..Claims::EMPTY
                },
                None,
                &mut buf
            ),
            Err(SignError::Claims(_))
        ));
    }

    #[test]
    fn presets_enforce_provider_rules() {
        let t = Timing {
            now: 1_700_000_000,
            backdate: 2,
            lifetime: 3600,
        };
        let c = zitadel_service_user("u1", "https://zitadel.example", t).unwrap();
        assert_eq!(
            (c.iss, c.sub, c.aud, c.iat, c.exp),
            (
                Some("u1"),
                Some("u1"),
                Aud::One("https://zitadel.example"),
                Some(1_699_999_998),
                Some(1_700_003_598)
            )
        );
        assert!(zitadel_service_user(
            "u1",
            "https://z",
            Timing {
                lifetime: 3601,
                ..t
            }
        )
        .is_err());
        assert!(zitadel_api_app("c1", "https://z", t).is_ok());
        let s = zitadel_system_api("sys", "http://localhost:8080", 1_700_000_000, 0).unwrap();
        assert_eq!(
            (s.iat, s.exp, s.aud),
            (
                Some(1_700_000_000),
                Some(1_700_003_600),
                Aud::One("http://localhost:8080")
            )
        );
        assert!(zitadel_system_api("sys", "localhost:8080", 1, 0).is_err());
        let five = Timing { lifetime: 300, ..t };
        assert!(auth0_private_key_jwt("cid", "https://t.auth0.com/oauth/token", "", five).is_err());
        assert!(auth0_private_key_jwt(
            "cid",
            "https://t.auth0.com/oauth/token",
            "j",
            Timing { lifetime: 301, ..t }
        )
        .is_err());
        let a = auth0_private_key_jwt("cid", "https://t.auth0.com/oauth/token", "j", five).unwrap();
        assert_eq!(a.exp.unwrap() - a.iat.unwrap(), 300);
        assert!(a.iat.unwrap() <= t.now);
        assert_eq!(&jti_from_entropy(&[0xab; 16])[..4], b"abab");
        // Plain http only for a loopback mock.
        let endpoint_ok = |u: &str| auth0_private_key_jwt("cid", u, "j", five).is_ok();
        assert!(endpoint_ok("http://127.0.0.1:8080/oauth/v2/token"));
        assert!(endpoint_ok("http://localhost/oauth/token"));
        assert!(endpoint_ok("http://[::1]:9000/oauth/token"));
        assert!(!endpoint_ok("http://t.auth0.com/oauth/token"));
        assert!(!endpoint_ok("http://localhost.evil.example/oauth/token"));
        assert!(!endpoint_ok("http://127.0.0.1.evil.example/x"));
        assert!(!endpoint_ok("t.auth0.com/oauth/token"));
    }
}
