//! What the filter decides, without Envoy: the token's place in the request, the verdict
//! with the engine's codes, the key set shared by all of Envoy's VMs (one record in shared
//! data, loaded whole or not at all), and when a fetch is due. The proxy-wasm glue
//! (`filter.rs`) only moves bytes between this and the host.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;

use tokenguard::{AlgSet, ClaimRef, Error, Expect, Freshness, JwkCache, ReplayCache, Validation};

use crate::config::{Checked, TokenSource};

/// Keys per VM cache.
pub const CACHE_KEYS: usize = 16;
/// One-time tokens tracked per VM with replay protection on.
pub const REPLAY_ENTRIES: usize = 1024;

/// A verified token remembered: until `exp`, with what it forwards.
#[derive(Debug, Clone)]
struct Remembered {
    exp: u64,
    jti: Option<Vec<u8>>,
    headers: Vec<(String, String)>,
}

/// The verified-token cache: the token's bytes hashed (SipHash with fixed keys: only
/// verified tokens are inserted, so its keys are not attacker-chosen) and compared whole on
/// a hit. Emptied whenever the key set changes, so an entry never outlives its key.
#[derive(Debug, Default)]
struct TokenCache {
    map: HashMap<
        Box<[u8]>,
        Remembered,
        BuildHasherDefault<std::collections::hash_map::DefaultHasher>,
    >,
    max: usize,
}

impl TokenCache {
    fn get(&self, token: &[u8], now: u64) -> Option<&Remembered> {
        // An empty (or disabled) cache answers without hashing the token: SipHash over a
        // 600-byte RS256 token is 2-3 us in V8.
        if self.map.is_empty() {
            return None;
        }
        self.map.get(token).filter(|r| now < r.exp)
    }

    fn insert(&mut self, token: &[u8], r: Remembered, now: u64) {
        if self.max == 0 {
            return;
        }
        if self.map.len() >= self.max {
            self.map.retain(|_, v| now < v.exp);
        }
        if self.map.len() >= self.max {
            // Bounded: when every entry is live, start over.
            self.map.clear();
        }
        self.map.insert(token.into(), r);
    }
}

/// Shared-data key of the key-set record ([`Record`]).
pub const KEY_RECORD: &str = "tokenguard.jwks";
/// Shared-data key of the record's generation alone (what requests poll: a few bytes).
pub const KEY_GENERATION: &str = "tokenguard.jwks.generation";
/// Shared-data key of the fetch schedule ([`FetchState`]).
pub const KEY_FETCH: &str = "tokenguard.fetch";

/// What the filter does with a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The path needs no token.
    Skipped,
    /// Verified: forward, with these request headers set.
    Accepted {
        /// `(header, value)` for each configured claim the token has.
        headers: Vec<(String, String)>,
    },
    /// No token: 401 with a bare `WWW-Authenticate: Bearer` challenge (RFC 6750 3.1).
    Missing,
    /// A token that fails: 401 `invalid_token` with the engine's code.
    Rejected {
        /// The engine's stable code (`expired`, `bad_signature`, ...).
        code: &'static str,
        /// The token named a `kid` the key set does not have: a refetch may be due.
        kid_missed: bool,
    },
    /// No usable key set (never loaded, or past its stale window): 503.
    Unavailable {
        /// `no_key_set` or `key_set_expired`.
        reason: &'static str,
    },
}

impl Verdict {
    /// The HTTP status the verdict answers with (`None`: the request goes on).
    pub fn status(&self) -> Option<u32> {
        match self {
            Verdict::Skipped | Verdict::Accepted { .. } => None,
            Verdict::Missing | Verdict::Rejected { .. } => Some(401),
            Verdict::Unavailable { .. } => Some(503),
        }
    }

    /// The `WWW-Authenticate` header of a 401 (RFC 6750 3): `Bearer` alone when no token
    /// was sent, else `Bearer error="invalid_token", error_description="<code>"`.
    pub fn www_authenticate(&self) -> Option<String> {
        match self {
            Verdict::Missing => Some("Bearer".into()),
            Verdict::Rejected { code, .. } => Some(format!(
                "Bearer error=\"invalid_token\", error_description=\"{code}\""
            )),
            _ => None,
        }
    }

    /// The counter this verdict adds to (`accepted`, `rejected.<code>`, ...).
    pub fn counter(&self) -> String {
        match self {
            Verdict::Skipped => "skipped".into(),
            Verdict::Accepted { .. } => "accepted".into(),
            Verdict::Missing => "rejected.missing_token".into(),
            Verdict::Rejected { code, .. } => format!("rejected.{code}"),
            Verdict::Unavailable { reason } => format!("unavailable.{reason}"),
        }
    }
}

/// The token from the configured place: `Authorization: Bearer <token>` (scheme matched
/// without regard to case, RFC 7235), a header's whole value, or a cookie. `None` when
/// absent or empty.
pub fn extract_token<'h>(
    source: &TokenSource,
    header: &dyn Fn(&str) -> Option<&'h str>,
) -> Option<&'h str> {
    let t = match source {
        TokenSource::Bearer => {
            let v = header("authorization")?.trim();
            let (scheme, rest) = v.split_once(' ')?;
            if !scheme.eq_ignore_ascii_case("bearer") {
                return None;
            }
            rest.trim()
        }
        TokenSource::Header(name) => header(name)?.trim(),
        TokenSource::Cookie(name) => header("cookie")?.split(';').find_map(|c| {
            let (k, v) = c.trim().split_once('=')?;
            (k == name).then_some(v.trim())
        })?,
    };
    (!t.is_empty()).then_some(t)
}

/// `max-age` of a `Cache-Control` value, unless `no-store`/`no-cache` (then 0).
pub fn max_age(cache_control: Option<&str>) -> Option<u64> {
    let cc = cache_control?;
    let mut age = None;
    for d in cc.split(',') {
        let d = d.trim();
        let (k, v) = d.split_once('=').unwrap_or((d, ""));
        if k.eq_ignore_ascii_case("no-store") || k.eq_ignore_ascii_case("no-cache") {
            return Some(0);
        }
        if k.eq_ignore_ascii_case("max-age") {
            age = v.trim_matches('"').parse::<u64>().ok();
        }
    }
    age
}

/// The key-set record in shared data: `tgjwks1 <generation> <fetched_at> <max_age|-> \n`
/// then the JWK Set as fetched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record<'a> {
    /// Increases with every accepted document.
    pub generation: u64,
    /// When it was fetched (unix seconds): the lifetime counts from then in every VM.
    pub fetched_at: u64,
    /// The response's `max-age`.
    pub max_age: Option<u64>,
    /// The document.
    pub doc: &'a [u8],
}

impl<'a> Record<'a> {
    /// Serialises the record.
    pub fn encode(&self) -> Vec<u8> {
        let age = self.max_age.map_or("-".to_owned(), |a| a.to_string());
        let mut out =
            format!("tgjwks1 {} {} {age}\n", self.generation, self.fetched_at).into_bytes();
        out.extend_from_slice(self.doc);
        out
    }

    /// Parses a record.
    pub fn decode(bytes: &'a [u8]) -> Option<Record<'a>> {
        let nl = bytes.iter().position(|&b| b == b'\n')?;
        let head = std::str::from_utf8(&bytes[..nl]).ok()?;
        let mut it = head.split(' ');
        if it.next()? != "tgjwks1" {
            return None;
        }
        let generation = it.next()?.parse().ok()?;
        let fetched_at = it.next()?.parse().ok()?;
        let max_age = match it.next()? {
            "-" => None,
            a => Some(a.parse().ok()?),
        };
        Some(Record {
            generation,
            fetched_at,
            max_age,
            doc: &bytes[nl + 1..],
        })
    }
}

/// The fetch schedule all VMs share: `tgfetch1 <last_attempt> <last_failure|0>
/// <inflight_until> <kid_miss_at|0>`. A VM claims a fetch by writing it with the
/// compare-and-swap token it read, so one fetch runs at a time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FetchState {
    /// When the last fetch started (0: never).
    pub last_attempt: u64,
    /// When the last fetch failed (0: the last one succeeded, or none yet).
    pub last_failure: u64,
    /// A fetch in flight until then (its timeout).
    pub inflight_until: u64,
    /// The last time a request named an unknown `kid` (0: none pending).
    pub kid_miss_at: u64,
}

impl FetchState {
    /// Serialises it.
    pub fn encode(&self) -> Vec<u8> {
        format!(
            "tgfetch1 {} {} {} {}",
            self.last_attempt, self.last_failure, self.inflight_until, self.kid_miss_at
        )
        .into_bytes()
    }

    /// Parses it (a missing or unreadable state is the initial one).
    pub fn decode(bytes: Option<&[u8]>) -> FetchState {
        let parse = || -> Option<FetchState> {
            let s = std::str::from_utf8(bytes?).ok()?;
            let mut it = s.split(' ');
            if it.next()? != "tgfetch1" {
                return None;
            }
            let mut n = || it.next()?.parse::<u64>().ok();
            Some(FetchState {
                last_attempt: n()?,
                last_failure: n()?,
                inflight_until: n()?,
                kid_miss_at: n()?,
            })
        };
        parse().unwrap_or_default()
    }
}

/// Why a fetch is due now, if one is: the engine's refresh rules over the shared state
/// (nothing loaded yet, the set's lifetime over, an unknown `kid` after the rate limit,
/// a retry after a failure), never while another VM's fetch is in flight. `expires_at` is
/// when the loaded set's lifetime ends ([`Engine::expires_at`]; `None`: nothing loaded).
pub fn fetch_due(
    state: &FetchState,
    expires_at: Option<u64>,
    policy: &tokenguard::RefreshPolicy,
    now: u64,
) -> Option<&'static str> {
    if state.inflight_until > now {
        return None;
    }
    let since_attempt = now.saturating_sub(state.last_attempt);
    let retry_due = state.last_attempt == 0 || since_attempt >= policy.retry_after;
    let Some(expires) = expires_at else {
        return retry_due.then_some(if state.last_attempt == 0 {
            "initial"
        } else {
            "retry"
        });
    };
    if now >= expires {
        let attempted_since = state.last_attempt >= expires;
        return if !attempted_since {
            Some("expired")
        } else {
            retry_due.then_some("retry")
        };
    }
    if state.kid_miss_at > state.last_attempt && since_attempt >= policy.unknown_kid_interval {
        return Some("unknown_kid");
    }
    None
}

/// One VM's engine: the configuration and its copy of the shared key set.
#[derive(Debug)]
pub struct Engine {
    cfg: Checked,
    cache: JwkCache<CACHE_KEYS>,
    generation: u64,
    tokens: TokenCache,
    replay: Option<Box<ReplayCache<REPLAY_ENTRIES>>>,
    hits: u64,
}

impl Engine {
    /// An engine with no keys yet.
    pub fn new(cfg: Checked) -> Engine {
        let policy = cfg.config.refresh.policy();
        let tokens = TokenCache {
            map: HashMap::default(),
            max: cfg.config.token_cache.max_entries,
        };
        let replay = cfg
            .config
            .replay
            .enabled
            .then(|| Box::new(ReplayCache::new(cfg.config.leeway)));
        Engine {
            cfg,
            cache: JwkCache::new(policy),
            generation: 0,
            tokens,
            replay,
            hits: 0,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Checked {
        &self.cfg
    }

    /// The generation of the record loaded (0: none).
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Loads a fetched JWK Set under the update rule (all or nothing: a malformed document,
    /// or one without a usable key, leaves the keys as they were).
    ///
    /// # Errors
    /// The engine's refusal, as its code and message.
    pub fn load(
        &mut self,
        doc: &[u8],
        fetched_at: u64,
        max_age: Option<u64>,
    ) -> Result<usize, String> {
        self.cache.fetch_started(fetched_at);
        match self.cache.load_jwks(doc, fetched_at, max_age, &mut |_| {}) {
            Ok(report) => {
                // A new key set: nothing verified under the old one is reused.
                self.tokens.map.clear();
                Ok(usize::from(report.loaded))
            }
            Err(e) => Err(format!("{e}")),
        }
    }

    /// Takes the shared record if it is newer than the one loaded.
    ///
    /// # Errors
    /// The record cannot be read, or the engine refuses its document (it was accepted by
    /// the VM that fetched it, so only a different configuration can do that).
    pub fn sync(&mut self, bytes: &[u8]) -> Result<bool, String> {
        let r = Record::decode(bytes).ok_or("the shared key-set record is unreadable")?;
        if r.generation <= self.generation {
            return Ok(false);
        }
        self.load(r.doc, r.fetched_at, r.max_age)?;
        self.generation = r.generation;
        Ok(true)
    }

    /// When the loaded key set's lifetime ends (its fetch time plus the response's
    /// `max-age` under the refresh policy's bounds, as the engine's cache counts it); `None`
    /// before any set was loaded.
    pub fn expires_at(&self) -> Option<u64> {
        match self.cache.freshness(0) {
            Freshness::NeverLoaded => None,
            _ => Some(self.cache.expires_at()),
        }
    }

    /// Records that this VM's copy is the record of `generation` (after [`Engine::load`] of
    /// a document this VM fetched and published).
    pub fn set_generation(&mut self, generation: u64) {
        self.generation = generation;
    }

    /// The one request header the token is read from (`authorization`, the configured
    /// header, or `cookie`): the glue fetches only it and `:path`.
    pub fn token_header(&self) -> &str {
        match &self.cfg.config.token {
            TokenSource::Bearer => "authorization",
            TokenSource::Header(h) => h,
            TokenSource::Cookie(_) => "cookie",
        }
    }

    /// Verified-token cache hits so far.
    pub fn cache_hits(&self) -> u64 {
        self.hits
    }

    /// The verdict on a request with path `path` and headers `header` at `now`.
    pub fn check<'h>(
        &mut self,
        path: &str,
        header: &dyn Fn(&str) -> Option<&'h str>,
        now: u64,
    ) -> Verdict {
        let c = &self.cfg.config;
        let path_only = path.split('?').next().unwrap_or(path);
        if c.skip_paths
            .iter()
            .any(|p| path_only.starts_with(p.as_str()))
        {
            return Verdict::Skipped;
        }
        match self.cache.freshness(now) {
            Freshness::NeverLoaded => {
                return Verdict::Unavailable {
                    reason: "no_key_set",
                }
            }
            Freshness::Expired => {
                return Verdict::Unavailable {
                    reason: "key_set_expired",
                }
            }
            _ => {}
        }
        let Some(token) = extract_token(&c.token, header) else {
            return Verdict::Missing;
        };
        if let Some(r) = self.tokens.get(token.as_bytes(), now) {
            let r = r.clone();
            if let (Some(seen), Some(jti)) = (self.replay.as_mut(), r.jti.as_deref()) {
                if let Err(e) = seen.check_and_record(jti, r.exp, now) {
                    return Verdict::Rejected {
                        code: e.code(),
                        kid_missed: false,
                    };
                }
            }
            self.hits += 1;
            return Verdict::Accepted { headers: r.headers };
        }
        let issuers: Vec<&str> = c.issuers.iter().map(String::as_str).collect();
        let audiences: Vec<&str> = c.audiences.iter().map(String::as_str).collect();
        let policy = Validation::new(Expect::AnyOf(&issuers), Expect::AnyOf(&audiences))
            .algorithms(AlgSet::from_slice(&self.cfg.algorithms))
            .leeway(c.leeway);
        let mut buf = vec![0u8; token.len()];
        let verified = match self.cache.verify(token.as_bytes(), &policy, now, &mut buf) {
            Ok(v) => v,
            Err(e) => {
                return Verdict::Rejected {
                    code: e.code(),
                    kid_missed: e == Error::KeyNotFound && self.cache.unknown_kid_pending(),
                }
            }
        };
        for name in &c.required_claims {
            if !matches!(verified.claim(name), Ok(Some(v)) if v != ClaimRef::Null) {
                return Verdict::Rejected {
                    code: "missing_claim",
                    kid_missed: false,
                };
            }
        }
        let mut jti = None;
        if let Some(seen) = self.replay.as_mut() {
            if let Err(e) = seen.check_token(&verified, now) {
                return Verdict::Rejected {
                    code: e.code(),
                    kid_missed: false,
                };
            }
            let mut b = [0u8; 64];
            jti = verified
                .claims()
                .jti()
                .and_then(|j| j.decode_into(&mut b).map(|s| s.as_bytes().to_vec()));
        }
        let mut headers = vec![];
        for f in &c.forward_claims {
            if let Ok(Some(v)) = verified.claim(&f.claim) {
                if let Some(text) = header_value(&v) {
                    headers.push((f.header.clone(), text));
                }
            }
        }
        // Remembered until exp (+ leeway, as the verifier counts it); tokens without exp
        // are not cached.
        if let Some(exp) = verified.claims().exp() {
            let until = exp.saturating_add(u64::from(c.leeway));
            self.tokens.insert(
                token.as_bytes(),
                Remembered {
                    exp: until,
                    jti,
                    headers: headers.clone(),
                },
                now,
            );
        }
        Verdict::Accepted { headers }
    }
}

/// A claim as a header value: strings decoded, numbers and booleans as written, arrays and
/// objects as their JSON text; `None` for `null` and for anything with a control character
/// (it could split the header).
fn header_value(v: &ClaimRef<'_>) -> Option<String> {
    let text = match v {
        ClaimRef::Str(s) => {
            let mut out = vec![0u8; s.raw().len()];
            s.decode_into(&mut out)?.to_owned()
        }
        ClaimRef::Num(raw) | ClaimRef::Array(raw) | ClaimRef::Object(raw) => {
            String::from_utf8(raw.to_vec()).ok()?
        }
        ClaimRef::Bool(b) => b.to_string(),
        _ => return None,
    };
    (!text.chars().any(char::is_control)).then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse;

    fn headers<'a>(list: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<&'a str> {
        move |name: &str| list.iter().find(|(k, _)| *k == name).map(|(_, v)| *v)
    }

    #[test]
    fn tokens_are_found_where_configured() {
        let h = [
            ("authorization", "bEaReR  abc.def.ghi "),
            ("x-token", "t1"),
            ("cookie", "a=1; session=s.t.u; b=2"),
        ];
        let f = headers(&h);
        assert_eq!(extract_token(&TokenSource::Bearer, &f), Some("abc.def.ghi"));
        assert_eq!(
            extract_token(&TokenSource::Header("x-token".into()), &f),
            Some("t1")
        );
        assert_eq!(
            extract_token(&TokenSource::Cookie("session".into()), &f),
            Some("s.t.u")
        );
        assert_eq!(extract_token(&TokenSource::Cookie("nope".into()), &f), None);
        let basic = [("authorization", "Basic dXNlcjpwYXNz")];
        assert_eq!(extract_token(&TokenSource::Bearer, &headers(&basic)), None);
        let empty = [("authorization", "Bearer ")];
        assert_eq!(extract_token(&TokenSource::Bearer, &headers(&empty)), None);
    }

    #[test]
    fn cache_control() {
        assert_eq!(max_age(Some("public, max-age=300")), Some(300));
        assert_eq!(max_age(Some("max-age=\"60\"")), Some(60));
        assert_eq!(max_age(Some("no-store")), Some(0));
        assert_eq!(max_age(Some("public")), None);
        assert_eq!(max_age(None), None);
    }

    #[test]
    fn records_round_trip() {
        let r = Record {
            generation: 7,
            fetched_at: 1_700_000_000,
            max_age: Some(300),
            doc: br#"{"keys":[]}"#,
        };
        let bytes = r.encode();
        assert_eq!(Record::decode(&bytes), Some(r));
        let r = Record {
            max_age: None,
            ..Record::decode(&bytes).unwrap()
        };
        assert_eq!(Record::decode(&r.encode()).unwrap().max_age, None);
        assert_eq!(Record::decode(b"garbage"), None);
        let f = FetchState {
            last_attempt: 5,
            last_failure: 0,
            inflight_until: 10,
            kid_miss_at: 3,
        };
        assert_eq!(FetchState::decode(Some(&f.encode())), f);
        assert_eq!(FetchState::decode(None), FetchState::default());
        assert_eq!(FetchState::decode(Some(b"x")), FetchState::default());
    }

    #[test]
    fn the_fetch_schedule() {
        let p = tokenguard::RefreshPolicy {
            default_max_age: 3600,
            min_max_age: 10,
            max_max_age: 86_400,
            retry_after: 30,
            unknown_kid_interval: 60,
            stale_for: 3600,
        };
        let none = FetchState::default();
        assert_eq!(fetch_due(&none, None, &p, 1000), Some("initial"));
        let inflight = FetchState {
            last_attempt: 1000,
            inflight_until: 1005,
            ..none
        };
        assert_eq!(fetch_due(&inflight, None, &p, 1001), None);
        let failed = FetchState {
            last_attempt: 1000,
            last_failure: 1000,
            ..none
        };
        assert_eq!(fetch_due(&failed, None, &p, 1029), None);
        assert_eq!(fetch_due(&failed, None, &p, 1030), Some("retry"));
        // A set fetched at 1000 with max-age 300.
        let rec = Some(1300);
        let ok = FetchState {
            last_attempt: 1000,
            ..none
        };
        assert_eq!(fetch_due(&ok, rec, &p, 1299), None);
        assert_eq!(fetch_due(&ok, rec, &p, 1300), Some("expired"));
        // After a failed refresh past expiry: retry after retry_after.
        let after = FetchState {
            last_attempt: 1300,
            last_failure: 1300,
            ..none
        };
        assert_eq!(fetch_due(&after, rec, &p, 1310), None);
        assert_eq!(fetch_due(&after, rec, &p, 1330), Some("retry"));
        // Unknown kid: rate-limited from the last attempt.
        let miss = FetchState {
            last_attempt: 1000,
            kid_miss_at: 1020,
            ..none
        };
        assert_eq!(fetch_due(&miss, rec, &p, 1059), None);
        assert_eq!(fetch_due(&miss, rec, &p, 1060), Some("unknown_kid"));
    }

    const CFG: &str = r#"{"issuers":["https://idp"],"audiences":["api"],"jwks":{"cluster":"idp","path":"/keys"},
        "forward_claims":[{"claim":"sub","header":"x-jwt-sub"},{"claim":"n","header":"x-jwt-n"}],
        "skip_paths":["/healthz"],"required_claims":["sub"]}"#;

    /// An engine on [`CFG`] with `members` (JSON members, each followed by a comma) added.
    fn engine_with(members: &str) -> Engine {
        let cfg = CFG.replace(r#""skip_paths""#, &format!(r#"{members}"skip_paths""#));
        Engine::new(parse(cfg.as_bytes()).unwrap())
    }

    #[test]
    fn no_key_set_means_503_and_a_refused_set_changes_nothing() {
        let mut e = engine_with("");
        let h = [("authorization", "Bearer a.b.c")];
        assert_eq!(
            e.check("/x", &headers(&h), 1000),
            Verdict::Unavailable {
                reason: "no_key_set"
            }
        );
        assert_eq!(
            e.check("/healthz?full=1", &headers(&h), 1000),
            Verdict::Skipped
        );
        // Valid JSON with no usable key is refused whole.
        assert!(e.load(br#"{"keys":[]}"#, 1000, None).is_err());
        assert!(e.load(b"{", 1000, None).is_err());
        assert_eq!(e.check("/x", &headers(&h), 1000).status(), Some(503));
    }

    mod with_tokens {
        use super::*;
        use tokenguard::assertion::{encode, Aud, ClaimValue, Claims};
        use tokenguard::sign::SigningKey;
        use tokenguard::Curve;

        const D: [u8; 32] = [7u8; 32];
        const NOW: u64 = 1_700_000_000;

        fn key(kid: &str) -> SigningKey {
            SigningKey::ec(Some(kid.as_bytes()), Curve::P256, &D).unwrap()
        }

        fn jwks(k: &SigningKey) -> Vec<u8> {
            let mut buf = [0u8; 1024];
            let jwk = k.public_jwk().unwrap();
            format!("{{\"keys\":[{}]}}", jwk.to_json(&mut buf, false).unwrap()).into_bytes()
        }

        fn token(k: &SigningKey, aud: &str, exp: u64, extra: &[(&str, ClaimValue<'_>)]) -> String {
            let claims = Claims {
                iss: Some("https://idp"),
                sub: Some("device-7"),
                aud: Aud::One(aud),
                iat: Some(NOW - 10),
                exp: Some(exp),
                extra,
                ..Claims::EMPTY
            };
            let mut out = [0u8; 2048];
            encode(k, Some("JWT"), &claims, None, &mut out)
                .unwrap()
                .to_owned()
        }

        #[test]
        fn verdicts_with_the_engines_codes() {
            let mut e = engine_with("");
            let k = key("k1");
            assert_eq!(e.load(&jwks(&k), NOW - 100, Some(600)), Ok(1));
            let check = |e: &mut Engine, t: &str| {
                let auth = format!("Bearer {t}");
                let h = [("authorization", auth.as_str())];
                let v = e.check("/api", &headers(&h), NOW);
                v
            };
            let good = token(&k, "api", NOW + 300, &[("n", ClaimValue::Int(42))]);
            assert_eq!(
                check(&mut e, &good),
                Verdict::Accepted {
                    headers: vec![
                        ("x-jwt-sub".into(), "device-7".into()),
                        ("x-jwt-n".into(), "42".into())
                    ]
                }
            );
            let rejected = |code| Verdict::Rejected {
                code,
                kid_missed: false,
            };
            assert_eq!(
                check(&mut e, &token(&k, "api", NOW - 1, &[])),
                rejected("expired")
            );
            assert_eq!(
                check(&mut e, &token(&k, "other", NOW + 300, &[])),
                rejected("wrong_audience")
            );
            // One signature character changed (not the last, whose low bits must be zero).
            let mut tampered = good.clone().into_bytes();
            let i = tampered.len() - 10;
            tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
            let tampered = String::from_utf8(tampered).unwrap();
            assert_eq!(check(&mut e, &tampered), rejected("bad_signature"));
            let unknown = token(&key("k9"), "api", NOW + 300, &[]);
            assert_eq!(
                check(&mut e, &unknown),
                Verdict::Rejected {
                    code: "key_not_found",
                    kid_missed: true
                }
            );
            // alg none: eyJhbGciOiJub25lIn0 = {"alg":"none"}; with no signature the token is
            // malformed (as in the attack corpus), with one the algorithm is unknown.
            let payload = good.split('.').nth(1).unwrap();
            let none = format!("eyJhbGciOiJub25lIn0.{payload}.");
            assert_eq!(check(&mut e, &none), rejected("malformed"));
            let none = format!("eyJhbGciOiJub25lIn0.{payload}.AAAA");
            assert_eq!(check(&mut e, &none), rejected("unsupported_alg"));
            assert_eq!(e.check("/api", &headers(&[]), NOW), Verdict::Missing);
            assert_eq!(Verdict::Missing.www_authenticate().unwrap(), "Bearer");
            assert_eq!(
                rejected("expired").www_authenticate().unwrap(),
                "Bearer error=\"invalid_token\", error_description=\"expired\""
            );
            // A refused update keeps the keys.
            assert!(e.load(br#"{"keys":[]}"#, NOW, Some(600)).is_err());
            assert!(matches!(check(&mut e, &good), Verdict::Accepted { .. }));
            // Past the stale window (600 s lifetime + 3600 s): 503.
            let h = format!("Bearer {good}");
            let hs = [("authorization", h.as_str())];
            assert_eq!(
                e.check("/api", &headers(&hs), NOW - 100 + 600 + 3600),
                Verdict::Unavailable {
                    reason: "key_set_expired"
                }
            );
        }

        #[test]
        fn the_lifetime_the_schedule_counts() {
            let mut e = engine_with(r#""refresh":{"min_interval":10},"#);
            assert_eq!(e.expires_at(), None);
            let k = key("k1");
            e.load(&jwks(&k), 1000, Some(300)).unwrap();
            assert_eq!(e.expires_at(), Some(1300));
            // max-age below the minimum interval is raised to it.
            e.load(&jwks(&k), 1000, Some(1)).unwrap();
            assert_eq!(e.expires_at(), Some(1010));
            // A refused set changes nothing.
            assert!(e.load(br#"{"keys":[]}"#, 2000, Some(300)).is_err());
            assert_eq!(e.expires_at(), Some(1010));
        }

        #[test]
        fn vms_share_one_record() {
            let k = key("k1");
            let doc = jwks(&k);
            let rec = Record {
                generation: 3,
                fetched_at: NOW,
                max_age: Some(300),
                doc: &doc,
            }
            .encode();
            let mut e = engine_with("");
            assert_eq!(e.sync(&rec), Ok(true));
            assert_eq!(e.sync(&rec), Ok(false));
            assert_eq!(e.generation(), 3);
            let good = token(&k, "api", NOW + 300, &[]);
            let auth = format!("Bearer {good}");
            let h = [("authorization", auth.as_str())];
            assert!(matches!(
                e.check("/", &headers(&h), NOW),
                Verdict::Accepted { .. }
            ));
            assert!(e.sync(b"nonsense").is_err());
        }

        #[test]
        fn a_missing_required_claim_and_unsafe_header_values() {
            let cfg = CFG.replace(
                r#""required_claims":["sub"]"#,
                r#""required_claims":["tenant"]"#,
            );
            let mut e = Engine::new(parse(cfg.as_bytes()).unwrap());
            let k = key("k1");
            e.load(&jwks(&k), NOW, None).unwrap();
            let t = token(&k, "api", NOW + 60, &[]);
            let auth = format!("Bearer {t}");
            let h = [("authorization", auth.as_str())];
            assert_eq!(
                e.check("/", &headers(&h), NOW),
                Verdict::Rejected {
                    code: "missing_claim",
                    kid_missed: false
                }
            );
            assert_eq!(header_value(&ClaimRef::Bool(true)).as_deref(), Some("true"));
            assert_eq!(header_value(&ClaimRef::Null), None);
        }

        #[test]
        fn the_verified_token_cache() {
            let mut e = engine_with("");
            let k = key("k1");
            e.load(&jwks(&k), NOW, Some(600)).unwrap();
            let t = token(&k, "api", NOW + 100, &[]);
            let auth = format!("Bearer {t}");
            let h = [("authorization", auth.as_str())];
            let first = e.check("/", &headers(&h), NOW);
            assert!(matches!(first, Verdict::Accepted { .. }));
            assert_eq!(e.cache_hits(), 0);
            // Presented again: the same verdict and headers, from the cache.
            assert_eq!(e.check("/", &headers(&h), NOW + 1), first);
            assert_eq!(e.cache_hits(), 1);
            // Until exp only.
            assert_eq!(
                e.check("/", &headers(&h), NOW + 100),
                Verdict::Rejected {
                    code: "expired",
                    kid_missed: false
                }
            );
            assert_eq!(e.cache_hits(), 1);
            // A new key set without the token's key: the cache does not outlive it.
            let t2 = token(&k, "api", NOW + 500, &[]);
            let auth2 = format!("Bearer {t2}");
            let h2 = [("authorization", auth2.as_str())];
            assert!(matches!(
                e.check("/", &headers(&h2), NOW),
                Verdict::Accepted { .. }
            ));
            assert!(matches!(
                e.check("/", &headers(&h2), NOW),
                Verdict::Accepted { .. }
            ));
            assert_eq!(e.cache_hits(), 2);
            e.load(&jwks(&key("k2")), NOW + 10, Some(600)).unwrap();
            assert_eq!(
                e.check("/", &headers(&h2), NOW + 11),
                Verdict::Rejected {
                    code: "key_not_found",
                    kid_missed: true
                }
            );
            assert_eq!(e.cache_hits(), 2);
        }

        #[test]
        fn a_bounded_cache() {
            let mut e = engine_with(r#""token_cache":{"max_entries":2},"#);
            let k = key("k1");
            e.load(&jwks(&k), NOW, Some(600)).unwrap();
            for i in 0..5 {
                let t = token(&k, "api", NOW + 100 + i, &[]);
                let auth = format!("Bearer {t}");
                let h = [("authorization", auth.as_str())];
                assert!(matches!(
                    e.check("/", &headers(&h), NOW),
                    Verdict::Accepted { .. }
                ));
                assert!(e.tokens.map.len() <= 2);
            }
        }

        #[test]
        fn one_time_tokens_with_replay_protection() {
            let mut e = engine_with(r#""replay":{"enabled":true},"#);
            let k = key("k1");
            e.load(&jwks(&k), NOW, Some(600)).unwrap();
            let claims = Claims {
                iss: Some("https://idp"),
                sub: Some("device-7"),
                aud: Aud::One("api"),
                exp: Some(NOW + 100),
                jti: Some("once-1"),
                ..Claims::EMPTY
            };
            let mut out = [0u8; 2048];
            let t = encode(&k, Some("JWT"), &claims, None, &mut out).unwrap();
            let auth = format!("Bearer {t}");
            let h = [("authorization", auth.as_str())];
            assert!(matches!(
                e.check("/", &headers(&h), NOW),
                Verdict::Accepted { .. }
            ));
            // Again (from the verified-token cache, which does not skip the replay check).
            let replayed = Verdict::Rejected {
                code: "replayed",
                kid_missed: false,
            };
            assert_eq!(e.check("/", &headers(&h), NOW + 1), replayed);
            assert_eq!(e.check("/", &headers(&h), NOW + 2), replayed);
            // Without jti a one-time token cannot be protected.
            let t = token(&k, "api", NOW + 100, &[]);
            let auth = format!("Bearer {t}");
            let h = [("authorization", auth.as_str())];
            assert_eq!(
                e.check("/", &headers(&h), NOW),
                Verdict::Rejected {
                    code: "missing_claim",
                    kid_missed: false
                }
            );
        }
    }
}
