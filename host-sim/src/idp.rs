//! The mock identity provider: real HTTP on loopback (tiny_http), ZITADEL- and Auth0-shaped
//! endpoints, every assertion verified by tokenguard.
//!
//! | Path | What |
//! |---|---|
//! | `GET /.well-known/openid-configuration` | discovery |
//! | `GET /oauth/v2/keys`, `GET /.well-known/jwks.json` | the JWK Set, `Cache-Control: max-age`; 503 during an outage |
//! | `POST /oauth/v2/token` | `urn:ietf:params:oauth:grant-type:jwt-bearer` (ZITADEL service user) and `client_credentials` with `private_key_jwt` (Auth0) |
//! | `POST /oauth/v2/introspect` | RFC 7662 with a `client_assertion` (ZITADEL API app) |
//! | `POST /admin/rotate`, `/admin/outage`, `/admin/clock`, `/admin/clients`; `GET /admin/state` | test control |

use std::collections::HashMap;
use std::io::Read;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::util::unix_now as system_now;
use crate::Keys;
use anyhow::{anyhow, Context};
use clap::Args;
use ring::rand::SecureRandom;
use serde_json::{json, Value};
use tokenguard::assertion::{encode, Aud, ClaimValue, Claims};
use tokenguard::sign::SigningKey;
use tokenguard::JsonStr;
use tokenguard::{keys, AlgSet, Algorithm, Error, Expect, Jwk, Validation};

/// `grant_type` of the JWT-bearer grant (RFC 7523).
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// `client_assertion_type` of `private_key_jwt` (RFC 7523 §2.2).
pub const CLIENT_ASSERTION: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// Registered client keys the IdP can hold.
const CLIENT_KEYS: usize = 64;
/// Largest request body read.
const MAX_BODY: u64 = 64 * 1024;

/// What kind of client a registered key belongs to (decides which endpoint accepts it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientKind {
    /// ZITADEL service user: JWT-bearer grant.
    ServiceUser,
    /// ZITADEL API app: introspection `client_assertion`.
    ApiApp,
    /// Auth0 application: `client_credentials` with `private_key_jwt`.
    Auth0App,
    /// ZITADEL System API user: self-signed JWTs as Bearer tokens on `/system/v1/`.
    SystemUser,
}

/// Auth0's limit on an API's token lifetime (30 days).
pub const AUTH0_MAX_TTL: u64 = 2_592_000;
/// The project id the mock gives ZITADEL's own project (`...:project:id:zitadel:aud`).
pub const ZITADEL_PROJECT_ID: &str = "zitadel-project";

/// IdP settings.
#[derive(Debug, Clone)]
pub struct IdpConfig {
    /// `max-age` of the JWK Set response, seconds.
    pub max_age: u64,
    /// Allowed clock skew for assertions' `iat`/`nbf`/`exp` (ZITADEL allows about 1 s).
    pub skew: u32,
    /// Lifetime of issued access tokens, seconds.
    pub access_ttl: u64,
    /// `aud` of issued access tokens.
    pub api_audience: String,
    /// Published signing keys kept after a rotation (the newest signs).
    pub keep_keys: usize,
    /// Auth0 APIs (identifiers) `client_credentials` may ask for with `audience`; their
    /// tokens are Auth0-shaped and RS256-signed.
    pub apis: Vec<String>,
    /// Lifetime of Auth0 API tokens, seconds (Auth0's default 86400, at most 30 days).
    pub api_ttl: u64,
}

impl Default for IdpConfig {
    fn default() -> Self {
        IdpConfig {
            max_age: 600,
            skew: 1,
            access_ttl: 900,
            api_audience: "device-api".into(),
            keep_keys: 2,
            apis: Vec::new(),
            api_ttl: 86_400,
        }
    }
}

struct IdpKey {
    kid: String,
    key: SigningKey,
    jwk: Value,
}

impl IdpKey {
    /// An RSA-2048 RS256 key, as Auth0 signs its access tokens.
    fn generate_rsa(kid: &str) -> anyhow::Result<IdpKey> {
        use rsa::pkcs1::EncodeRsaPrivateKey;
        let rsa = rsa::PrivateKey::new(&mut rand::rng(), 2048).map_err(|e| anyhow!("{e}"))?;
        let der = rsa.to_pkcs1_der().map_err(|e| anyhow!("{e}"))?;
        let k = keys::pkcs1_private(der.as_bytes()).map_err(|e| anyhow!("{e}"))?;
        let key = SigningKey::from_private_bytes(&k, Some(kid.as_bytes()), Some(Algorithm::Rs256))
            .map_err(|e| anyhow!("{e}"))?;
        Self::with_key(kid, key)
    }

    fn with_key(kid: &str, key: SigningKey) -> anyhow::Result<IdpKey> {
        let mut buf = [0u8; 2048];
        let text = key
            .public_jwk()
            .map_err(|e| anyhow!("{e}"))?
            .to_json(&mut buf, false)
            .context("JWK does not serialize")?
            .to_owned();
        let mut jwk: Value = serde_json::from_str(&text)?;
        jwk["use"] = "sig".into();
        Ok(IdpKey {
            kid: kid.into(),
            key,
            jwk,
        })
    }

    fn generate(kid: &str) -> anyhow::Result<IdpKey> {
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = ring::signature::EcdsaKeyPair::generate_pkcs8(
            &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            &rng,
        )
        .map_err(|_| anyhow!("key generation failed"))?;
        let k = keys::pkcs8_private(pkcs8.as_ref()).map_err(|e| anyhow!("{e}"))?;
        let key = SigningKey::from_private_bytes(&k, Some(kid.as_bytes()), Some(Algorithm::Es256))
            .map_err(|e| anyhow!("{e}"))?;
        Self::with_key(kid, key)
    }
}

/// Everything the IdP knows; behind a mutex, shared with the HTTP thread.
pub struct IdpState {
    /// Base URL (`http://127.0.0.1:PORT`), the `iss` of issued tokens.
    pub issuer: String,
    cfg: IdpConfig,
    keys: Vec<IdpKey>,
    /// The RS256 key of Auth0 API tokens (only with `apis`).
    auth0_key: Option<IdpKey>,
    next_key: u32,
    /// JWKS answers 503 while set.
    pub outage: bool,
    /// Simulated clock (unix seconds); `None` follows the system clock.
    pub sim_now: Option<u64>,
    /// Added to the clock (negative: behind).
    pub offset: i64,
    clients: Keys<CLIENT_KEYS>,
    owners: HashMap<String, Vec<(String, ClientKind)>>,
    replay: tokenguard::ReplayCache<1024>,
    issued: u64,
    /// Counters: JWKS served, JWKS refused (outage), tokens issued, requests refused.
    pub counters: [u64; 4],
}

fn text(j: JsonStr<'_>) -> String {
    String::from_utf8_lossy(&j.bytes().collect::<Vec<u8>>()).into_owned()
}

/// An OAuth error reply: `(HTTP status, error, description)`.
type Refusal = (u16, &'static str, String);

fn refuse(status: u16, error: &'static str, e: impl std::fmt::Display) -> Refusal {
    (status, error, e.to_string())
}

fn token_error(error: &'static str, e: &Error) -> Refusal {
    (400, error, format!("{}: {e}", e.code()))
}

impl IdpState {
    fn new(issuer: String, cfg: IdpConfig) -> anyhow::Result<IdpState> {
        let skew = cfg.skew;
        let mut s = IdpState {
            issuer,
            cfg,
            keys: vec![],
            auth0_key: None,
            next_key: 1,
            outage: false,
            sim_now: None,
            offset: 0,
            clients: Keys::new(),
            owners: HashMap::new(),
            replay: tokenguard::ReplayCache::new(skew),
            issued: 0,
            counters: [0; 4],
        };
        s.clients.allow_mixed_key_types(true);
        s.rotate()?;
        if !s.cfg.apis.is_empty() {
            s.auth0_key = Some(IdpKey::generate_rsa("auth0-rs256-1")?);
        }
        Ok(s)
    }

    /// The IdP's clock.
    pub fn now(&self) -> u64 {
        let base = self.sim_now.unwrap_or_else(system_now);
        base.saturating_add_signed(self.offset)
    }

    /// Publishes a new signing key (kid `idp-key-N`) and signs with it from now on; keeps
    /// the previous `keep_keys - 1` keys published. Returns the new kid.
    ///
    /// # Errors
    /// Generating the new P-256 key or serializing its public JWK fails.
    pub fn rotate(&mut self) -> anyhow::Result<String> {
        let kid = format!("idp-key-{}", self.next_key);
        self.next_key += 1;
        self.keys.push(IdpKey::generate(&kid)?);
        let keep = self.cfg.keep_keys.max(1);
        if self.keys.len() > keep {
            let drop = self.keys.len() - keep;
            self.keys.drain(..drop);
        }
        Ok(kid)
    }

    /// The published JWK Set.
    pub fn jwks(&self) -> Value {
        let keys = self.keys.iter().chain(&self.auth0_key);
        json!({ "keys": keys.map(|k| k.jwk.clone()).collect::<Vec<_>>() })
    }

    /// The kid that signs now.
    pub fn current_kid(&self) -> Option<&str> {
        self.keys.last().map(|k| k.kid.as_str())
    }

    /// Registers a client's public JWK (it must have a `kid`).
    ///
    /// # Errors
    /// The key is refused or has no `kid`, its `kid` is registered with another key, or the
    /// client registry is full.
    pub fn register(&mut self, client_id: &str, kind: ClientKind, jwk: &str) -> anyhow::Result<()> {
        let k = Jwk::from_json(jwk.as_bytes()).map_err(|e| anyhow!("client key refused: {e}"))?;
        let kid = k
            .kid()
            .and_then(|k| k.as_str())
            .context("client key needs a kid")?
            .to_owned();
        match self.clients.get(kid.as_bytes()) {
            Some(old) if old.same_material(&k) => {}
            Some(_) => anyhow::bail!("kid {kid} is registered with another key"),
            None => self
                .clients
                .pin(k)
                .map_err(|_| anyhow!("client registry full"))?,
        }
        let owners = self.owners.entry(kid).or_default();
        owners.retain(|(_, k)| *k != kind);
        owners.push((client_id.into(), kind));
        Ok(())
    }

    /// Verifies a client's assertion: the key by `kid`, `iss` = `sub` = the key's owner,
    /// `aud` contains `audience`, `iat` required and not ahead beyond the skew, `exp`
    /// within `max_life` of `iat`; a `jti` (required when `need_jti`) is used once.
    fn check_assertion(
        &mut self,
        assertion: &str,
        kind: ClientKind,
        audience: &str,
        max_life: u64,
        need_jti: bool,
        error: &'static str,
    ) -> Result<String, Refusal> {
        let now = self.now();
        let v = Validation::new(Expect::Ignore, Expect::One(audience))
            .algorithms(AlgSet::ASYMMETRIC)
            .leeway(self.cfg.skew);
        let mut buf = vec![0u8; assertion.len()];
        let t = self
            .clients
            .verify(assertion.as_bytes(), &v, now, &mut buf)
            .map_err(|e| token_error(error, &e))?;
        let kid = t.header().kid().map(text).unwrap_or_default();
        let owner = self
            .owners
            .get(&kid)
            .and_then(|o| o.iter().find(|(_, k)| *k == kind))
            .map(|(o, _)| o.clone())
            .ok_or_else(|| {
                refuse(
                    400,
                    error,
                    format!("key_not_found: key {kid} is not registered for this grant"),
                )
            })?;
        let c = t.claims();
        let iss = c.iss().map(text);
        let sub = c.sub().map(text);
        if iss.as_deref() != Some(owner.as_str()) {
            return Err(refuse(
                400,
                error,
                format!("wrong_issuer: iss must be {owner} (the key's owner)"),
            ));
        }
        if sub != iss {
            return Err(refuse(400, error, "wrong_subject: sub must equal iss"));
        }
        let iat = c
            .iat()
            .ok_or_else(|| token_error(error, &Error::MissingClaim(tokenguard::Claim::Iat)))?;
        let exp = c.exp().unwrap_or(0);
        if exp.saturating_sub(iat) > max_life {
            return Err(refuse(
                400,
                error,
                format!("invalid_claim: exp is more than {max_life} s after iat"),
            ));
        }
        match c.jti() {
            Some(_) => self
                .replay
                .check_token(&t, now)
                .map_err(|e| token_error(error, &e))?,
            None if need_jti => {
                return Err(token_error(
                    error,
                    &Error::MissingClaim(tokenguard::Claim::Jti),
                ));
            }
            None => {}
        }
        Ok(owner)
    }

    fn access_token(
        &mut self,
        sub: &str,
        client_id: &str,
        scope: &str,
        extra_aud: &[String],
    ) -> anyhow::Result<String> {
        let now = self.now();
        self.issued += 1;
        let jti = format!("at-{}", self.issued);
        let key = self.keys.last().context("no signing key")?;
        let extra = [
            ("scope", ClaimValue::Str(scope)),
            ("client_id", ClaimValue::Str(client_id)),
        ];
        let mut auds: Vec<&str> = vec![&self.cfg.api_audience];
        auds.extend(extra_aud.iter().map(String::as_str));
        let claims = Claims {
            iss: Some(&self.issuer),
            sub: Some(sub),
            aud: match auds.as_slice() {
                [one] => Aud::One(one),
                many => Aud::Many(many),
            },
            iat: Some(now),
            nbf: None,
            exp: Some(now + self.cfg.access_ttl),
            jti: Some(&jti),
            extra: &extra,
        };
        let mut entropy = [0u8; 32];
        ring::rand::SystemRandom::new()
            .fill(&mut entropy)
            .map_err(|_| anyhow!("no randomness"))?;
        let mut buf = vec![0u8; 4096];
        let t = encode(&key.key, Some("at+jwt"), &claims, Some(&entropy), &mut buf)
            .map_err(|e| anyhow!("{e}"))?;
        self.counters[2] += 1;
        Ok(t.to_owned())
    }

    /// An Auth0-shaped access token for a registered API: `iss` with the trailing slash,
    /// `sub` = `CLIENT@clients`, `aud` = the API, `azp`, `gty`, `scope` and `permissions`
    /// (the granted scopes, as RBAC's "Add Permissions in the Access Token" puts them),
    /// RS256 with `kid`, typ `JWT`.
    fn auth0_token(&mut self, client_id: &str, api: &str, scope: &str) -> anyhow::Result<String> {
        let now = self.now();
        let key = self.auth0_key.as_ref().context("no Auth0 signing key")?;
        let iss = format!("{}/", self.issuer);
        let sub = format!("{client_id}@clients");
        let permissions: Vec<&str> = scope.split_whitespace().collect();
        let permissions = serde_json::to_string(&permissions)?;
        let mut extra = vec![
            ("azp", ClaimValue::Str(client_id)),
            ("gty", ClaimValue::Str("client-credentials")),
        ];
        if !scope.is_empty() {
            extra.push(("scope", ClaimValue::Str(scope)));
        }
        extra.push(("permissions", ClaimValue::Json(&permissions)));
        let claims = Claims {
            iss: Some(&iss),
            sub: Some(&sub),
            aud: Aud::One(api),
            iat: Some(now),
            nbf: None,
            exp: Some(now + self.cfg.api_ttl),
            jti: None,
            extra: &extra,
        };
        let mut buf = vec![0u8; 4096];
        let t =
            encode(&key.key, Some("JWT"), &claims, None, &mut buf).map_err(|e| anyhow!("{e}"))?;
        self.counters[2] += 1;
        Ok(t.to_owned())
    }

    /// `aud` additions a ZITADEL JWT-bearer `scope` asks for: each
    /// `urn:zitadel:iam:org:project:id:{projectId}:aud` adds that project, and
    /// `...:project:id:zitadel:aud` ZITADEL's own.
    fn zitadel_scope_audiences(scope: &str) -> Vec<String> {
        scope
            .split_whitespace()
            .filter_map(|s| {
                s.strip_prefix("urn:zitadel:iam:org:project:id:")?
                    .strip_suffix(":aud")
            })
            .filter(|id| !id.is_empty())
            .map(|id| {
                if id == "zitadel" {
                    ZITADEL_PROJECT_ID.to_owned()
                } else {
                    id.to_owned()
                }
            })
            .collect()
    }

    /// The System API (`/system/v1/...`): a Bearer JWT self-signed by a registered system
    /// user, with ZITADEL's checks: `aud` = the instance URL, `iss` = `sub` = the user, at
    /// most one hour between `iat` and `exp`.
    fn system_api(&mut self, authorization: Option<&str>, path: &str) -> Result<Value, Refusal> {
        let token = authorization
            .and_then(|h| h.strip_prefix("Bearer "))
            .ok_or_else(|| refuse(401, "unauthenticated", "a Bearer token is required"))?;
        let instance = self.issuer.clone();
        let segment = |i: usize| crate::util::segment_json(token, i);
        let has_kid = segment(0).is_some_and(|h| h.get("kid").is_some());
        if has_kid {
            let user = self
                .check_assertion(
                    token,
                    ClientKind::SystemUser,
                    &instance,
                    3600,
                    false,
                    "unauthenticated",
                )
                .map_err(|(_, e, d)| (401, e, d))?;
            return Ok(json!({"ok": true, "system_user": user, "path": path}));
        }
        // ZITADEL's own tooling (key2jwt) mints System API tokens without `kid`: the keys tried
        // are the ones registered for the user the (still unverified) `iss` names, and the
        // token must then verify under one of them with `iss` = `sub` = that user.
        let claimed = segment(1)
            .and_then(|c| c.get("iss").and_then(Value::as_str).map(String::from))
            .ok_or_else(|| refuse(401, "unauthenticated", "missing_claim: iss"))?;
        let mut set: Keys<8> = Keys::new();
        set.allow_mixed_key_types(true);
        for (kid, owners) in &self.owners {
            if owners
                .iter()
                .any(|(o, k)| *o == claimed && *k == ClientKind::SystemUser)
            {
                if let Some(j) = self.clients.get(kid.as_bytes()) {
                    let _ = set.insert(j.clone());
                }
            }
        }
        let v = Validation::new(Expect::One(&claimed), Expect::One(&instance))
            .algorithms(AlgSet::ASYMMETRIC)
            .leeway(self.cfg.skew)
            .allow_missing_kid(true)
            .max_lifetime(3600);
        let mut buf = vec![0u8; token.len()];
        let t = set
            .verify(token.as_bytes(), &v, self.now(), &mut buf)
            .map_err(|e| (401, "unauthenticated", format!("{}: {e}", e.code())))?;
        if t.claims().sub().map(text).as_deref() != Some(claimed.as_str()) {
            return Err(refuse(
                401,
                "unauthenticated",
                "wrong_subject: sub must equal iss",
            ));
        }
        Ok(json!({"ok": true, "system_user": claimed, "path": path}))
    }

    fn token_endpoint(&mut self, form: &HashMap<String, String>) -> Result<Value, Refusal> {
        let get = |k: &str| form.get(k).map(String::as_str);
        match get("grant_type") {
            Some(JWT_BEARER) => {
                let a = get("assertion")
                    .ok_or_else(|| refuse(400, "invalid_request", "assertion missing"))?;
                let issuer = self.issuer.clone();
                let user = self.check_assertion(
                    a,
                    ClientKind::ServiceUser,
                    &issuer,
                    3600,
                    false,
                    "invalid_grant",
                )?;
                let scope = get("scope").unwrap_or("openid");
                let auds = Self::zitadel_scope_audiences(scope);
                let at = self
                    .access_token(&user, &user, scope, &auds)
                    .map_err(|e| refuse(500, "server_error", e))?;
                Ok(
                    json!({"access_token": at, "token_type": "Bearer", "expires_in": self.cfg.access_ttl, "scope": scope}),
                )
            }
            Some("client_credentials") => {
                if get("client_assertion_type") != Some(CLIENT_ASSERTION) {
                    return Err(refuse(
                        400,
                        "invalid_client",
                        "client_assertion_type must be jwt-bearer",
                    ));
                }
                let a = get("client_assertion")
                    .ok_or_else(|| refuse(400, "invalid_client", "client_assertion missing"))?;
                let endpoint = format!("{}/oauth/v2/token", self.issuer);
                let client = self.check_assertion(
                    a,
                    ClientKind::Auth0App,
                    &endpoint,
                    300,
                    true,
                    "invalid_client",
                )?;
                if get("client_id").is_some_and(|c| c != client) {
                    return Err(refuse(
                        400,
                        "invalid_client",
                        "client_id does not match the assertion",
                    ));
                }
                // Auth0: `audience` names one of the tenant's APIs; an unknown one is refused
                // the way Auth0 refuses it.
                if let Some(api) = get("audience") {
                    if !self.cfg.apis.iter().any(|a| a == api) {
                        return Err((403, "access_denied", format!("Service not found: {api}")));
                    }
                    let scope = get("scope").unwrap_or_default();
                    let at = self
                        .auth0_token(&client, api, scope)
                        .map_err(|e| refuse(500, "server_error", e))?;
                    let mut out = json!({"access_token": at, "token_type": "Bearer", "expires_in": self.cfg.api_ttl});
                    if !scope.is_empty() {
                        out["scope"] = scope.into();
                    }
                    return Ok(out);
                }
                let at = self
                    .access_token(&client, &client, "telemetry:write", &[])
                    .map_err(|e| refuse(500, "server_error", e))?;
                Ok(
                    json!({"access_token": at, "token_type": "Bearer", "expires_in": self.cfg.access_ttl}),
                )
            }
            Some(other) => Err(refuse(400, "unsupported_grant_type", other)),
            None => Err(refuse(400, "invalid_request", "grant_type missing")),
        }
    }

    fn introspect(&mut self, form: &HashMap<String, String>) -> Result<Value, Refusal> {
        let get = |k: &str| form.get(k).map(String::as_str);
        if get("client_assertion_type") != Some(CLIENT_ASSERTION) {
            return Err(refuse(
                401,
                "invalid_client",
                "client_assertion_type must be jwt-bearer",
            ));
        }
        let a = get("client_assertion")
            .ok_or_else(|| refuse(401, "invalid_client", "client_assertion missing"))?;
        let issuer = self.issuer.clone();
        self.check_assertion(
            a,
            ClientKind::ApiApp,
            &issuer,
            3600,
            false,
            "invalid_client",
        )
        .map_err(|(_, e, d)| (401, e, d))?;
        let token = get("token").ok_or_else(|| refuse(400, "invalid_request", "token missing"))?;
        let mut own: Keys<4> = Keys::new();
        for k in &self.keys {
            if let Ok(j) = Jwk::from_json(k.jwk.to_string().as_bytes()) {
                let _ = own.insert(j);
            }
        }
        let v = Validation::new(Expect::One(&issuer), Expect::Ignore)
            .typ("at+jwt")
            .leeway(0);
        let mut buf = vec![0u8; token.len()];
        Ok(
            match own.verify(token.as_bytes(), &v, self.now(), &mut buf) {
                Ok(t) => {
                    let mut claims: Value =
                        serde_json::from_str(t.claims_json()).unwrap_or_else(|_| json!({}));
                    claims["active"] = true.into();
                    claims
                }
                Err(e) => json!({"active": false, "reason": e.code()}),
            },
        )
    }

    fn state(&self) -> Value {
        json!({
            "issuer": self.issuer, "now": self.now(), "outage": self.outage,
            "kids": self.keys.iter().map(|k| k.kid.clone()).collect::<Vec<_>>(),
            "jwks_served": self.counters[0], "jwks_refused": self.counters[1],
            "tokens_issued": self.counters[2], "refused": self.counters[3],
        })
    }

    fn admin(
        &mut self,
        path: &str,
        form: &HashMap<String, String>,
        body: &str,
    ) -> Result<Value, Refusal> {
        let bad = |e: &dyn std::fmt::Display| refuse(400, "invalid_request", e);
        match path {
            "/admin/rotate" => {
                let kid = self.rotate().map_err(|e| refuse(500, "server_error", e))?;
                Ok(json!({"kid": kid}))
            }
            "/admin/outage" => {
                self.outage = form.get("on").map(String::as_str) != Some("false");
                Ok(json!({"outage": self.outage}))
            }
            "/admin/clock" => {
                if let Some(n) = form.get("now") {
                    self.sim_now = Some(n.parse().map_err(|e| bad(&e))?);
                }
                if let Some(o) = form.get("offset") {
                    self.offset = o.parse().map_err(|e| bad(&e))?;
                }
                if form.get("system").is_some() {
                    self.sim_now = None;
                }
                Ok(json!({"now": self.now()}))
            }
            "/admin/clients" => {
                let v: Value = serde_json::from_str(body).map_err(|e| bad(&e))?;
                let id = v["client_id"]
                    .as_str()
                    .ok_or_else(|| bad(&"client_id missing"))?;
                let kind = match v["kind"].as_str().unwrap_or("service_user") {
                    "service_user" => ClientKind::ServiceUser,
                    "api_app" => ClientKind::ApiApp,
                    "auth0_app" => ClientKind::Auth0App,
                    "system_user" => ClientKind::SystemUser,
                    k => return Err(bad(&format!("unknown kind {k}"))),
                };
                self.register(id, kind, &v["jwk"].to_string())
                    .map_err(|e| bad(&e))?;
                Ok(json!({"registered": id}))
            }
            _ => Err(refuse(404, "not_found", path)),
        }
    }
}

/// A running IdP; dropping it stops the server.
pub struct Idp {
    /// The shared state (tests and the demo drive rotation, outages and the clock here).
    pub state: Arc<Mutex<IdpState>>,
    server: Arc<tiny_http::Server>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
}

impl Drop for Idp {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn respond(req: tiny_http::Request, status: u16, body: &Value, extra: &[(&str, String)]) {
    let mut r = tiny_http::Response::from_string(body.to_string()).with_status_code(status);
    let mut headers = vec![("Content-Type", "application/json".to_string())];
    headers.extend(extra.iter().map(|(k, v)| (*k, v.clone())));
    for (k, v) in headers {
        if let Ok(h) = tiny_http::Header::from_bytes(k.as_bytes(), v.as_bytes()) {
            r.add_header(h);
        }
    }
    let _ = req.respond(r);
}

fn handle(state: &Mutex<IdpState>, mut req: tiny_http::Request) {
    let path = req.url().split('?').next().unwrap_or("").to_owned();
    let authorization = req
        .headers()
        .iter()
        .find(|h| h.field.equiv("Authorization"))
        .map(|h| h.value.as_str().to_owned());
    let query = req
        .url()
        .split_once('?')
        .map(|(_, q)| q.to_owned())
        .unwrap_or_default();
    let mut body = String::new();
    if req
        .as_reader()
        .take(MAX_BODY)
        .read_to_string(&mut body)
        .is_err()
    {
        return respond(
            req,
            400,
            &json!({"error": "invalid_request", "error_description": "body is not UTF-8"}),
            &[],
        );
    }
    let mut form: HashMap<String, String> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    if !body.starts_with('{') {
        form.extend(form_urlencoded::parse(body.as_bytes()).into_owned());
    }
    let Ok(mut s) = state.lock() else {
        return respond(req, 500, &json!({"error": "server_error"}), &[]);
    };
    let get = *req.method() == tiny_http::Method::Get;
    let result = match (get, path.as_str()) {
        (true, "/.well-known/openid-configuration") => {
            let i = &s.issuer;
            Ok(json!({
                "issuer": i,
                "jwks_uri": format!("{i}/oauth/v2/keys"),
                "token_endpoint": format!("{i}/oauth/v2/token"),
                "introspection_endpoint": format!("{i}/oauth/v2/introspect"),
                "grant_types_supported": [JWT_BEARER, "client_credentials"],
                "response_types_supported": ["token"],
                "subject_types_supported": ["public"],
                "scopes_supported": ["openid", "urn:zitadel:iam:org:project:id:zitadel:aud"],
                "token_endpoint_auth_methods_supported": ["private_key_jwt"],
                "token_endpoint_auth_signing_alg_values_supported":
                    ["RS256","RS384","RS512","PS256","PS384","PS512","ES256","ES384","EdDSA","Ed25519"],
                "id_token_signing_alg_values_supported": ["ES256"],
            }))
        }
        (true, "/oauth/v2/keys" | "/.well-known/jwks.json") => {
            if s.outage {
                s.counters[1] += 1;
                Err(refuse(
                    503,
                    "temporarily_unavailable",
                    "JWKS outage (simulated)",
                ))
            } else {
                s.counters[0] += 1;
                let max_age = s.cfg.max_age;
                return respond(
                    req,
                    200,
                    &s.jwks(),
                    &[("Cache-Control", format!("public, max-age={max_age}"))],
                );
            }
        }
        (true, "/admin/state") => Ok(s.state()),
        (false, "/oauth/v2/token") => s.token_endpoint(&form),
        (false, "/oauth/v2/introspect") => s.introspect(&form),
        (false, p) if p.starts_with("/admin/") => s.admin(p, &form, &body),
        (_, p) if p.starts_with("/system/v1/") => s.system_api(authorization.as_deref(), p),
        _ => Err(refuse(404, "not_found", &path)),
    };
    match result {
        Ok(v) => respond(req, 200, &v, &[("Cache-Control", "no-store".into())]),
        Err((status, error, description)) => {
            s.counters[3] += 1;
            respond(
                req,
                status,
                &json!({"error": error, "error_description": description}),
                &[],
            )
        }
    }
}

impl Idp {
    /// Starts the IdP on `addr` (e.g. `127.0.0.1:0` for any free port).
    ///
    /// # Errors
    /// `addr` cannot be bound or is not an IP address, the IdP's keys cannot be generated,
    /// or the server thread cannot be spawned.
    pub fn start(addr: &str, cfg: IdpConfig) -> anyhow::Result<Idp> {
        let server = tiny_http::Server::http(addr).map_err(|e| anyhow!("binding {addr}: {e}"))?;
        let bound = server.server_addr().to_ip().context("not an IP listener")?;
        let url = format!("http://{bound}");
        let state = Arc::new(Mutex::new(IdpState::new(url.clone(), cfg)?));
        let server = Arc::new(server);
        let (srv, st) = (server.clone(), state.clone());
        let thread = std::thread::Builder::new()
            .name("idp".into())
            .spawn(move || {
                for req in srv.incoming_requests() {
                    handle(&st, req);
                }
            })?;
        Ok(Idp {
            state,
            server,
            thread: Some(thread),
            url,
        })
    }

    /// Runs `f` on the state.
    ///
    /// # Errors
    /// The state's mutex is poisoned (a thread panicked holding it).
    pub fn with<T>(&self, f: impl FnOnce(&mut IdpState) -> T) -> anyhow::Result<T> {
        let mut s = self
            .state
            .lock()
            .map_err(|_| anyhow!("IdP state poisoned"))?;
        Ok(f(&mut s))
    }
}

/// An HTTP client with short timeouts, for talking to the IdP.
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_connect(Some(Duration::from_secs(5)))
        .timeout_recv_response(Some(Duration::from_secs(10)))
        .http_status_as_error(false)
        .build()
        .into()
}

/// POSTs a form; returns `(status, JSON body)`.
///
/// # Errors
/// The request fails (no connection, a timeout) or its body cannot be read (over the size
/// limit, not UTF-8). With an [`agent`], an HTTP error status is a reply, not an error; a
/// body that is not JSON comes back as a JSON string.
pub fn post_form(
    agent: &ureq::Agent,
    url: &str,
    form: &[(&str, &str)],
) -> anyhow::Result<(u16, Value)> {
    let mut r = agent
        .post(url)
        .send_form(form.iter().copied())
        .map_err(|e| anyhow!("POST {url}: {e}"))?;
    let status = r.status().as_u16();
    let body = r
        .body_mut()
        .with_config()
        .limit(MAX_BODY)
        .read_to_string()
        .map_err(|e| anyhow!("POST {url}: {e}"))?;
    Ok((
        status,
        serde_json::from_str(&body).unwrap_or(Value::String(body)),
    ))
}

/// `max-age` from a `Cache-Control` value.
pub fn max_age(cache_control: Option<&str>) -> Option<u64> {
    cache_control?
        .split(',')
        .find_map(|d| d.trim().strip_prefix("max-age=")?.trim().parse().ok())
}

#[derive(Args, Debug)]
pub struct IdpArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: String,
    /// `max-age` of the JWK Set, seconds.
    #[arg(long, default_value_t = 600)]
    max_age: u64,
    /// Allowed clock skew for assertions, seconds.
    #[arg(long, default_value_t = 1)]
    skew: u32,
    /// Rotate the signing key every SECS seconds.
    #[arg(long, value_name = "SECS")]
    rotate_every: Option<u64>,
    /// Take the JWKS down every SECS seconds (for --outage-for seconds).
    #[arg(long, value_name = "SECS")]
    outage_every: Option<u64>,
    /// Length of each scheduled outage, seconds.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    outage_for: u64,
    /// Register a client key: KIND:CLIENT_ID:FILE (KIND: service_user, api_app, auth0_app;
    /// FILE: a JWK, a JWK Set (every key), a PEM public key (kid: its RFC 7638 thumbprint,
    /// printed at start) or a ZITADEL key file (kid: its keyId)).
    #[arg(long = "client", value_name = "KIND:ID:FILE")]
    clients: Vec<String>,
    /// An Auth0 API identifier `client_credentials` may name as `audience` (repeatable); its
    /// tokens are Auth0-shaped (iss with a trailing slash, sub CLIENT@clients, azp, gty,
    /// scope, permissions) and RS256-signed with a kid. Another audience is refused
    /// (`access_denied`, "Service not found").
    #[arg(long = "api", value_name = "IDENTIFIER")]
    apis: Vec<String>,
    /// Lifetime of Auth0 API tokens, seconds (Auth0: 86400 by default, at most 2592000).
    #[arg(long, value_name = "SECS", default_value_t = 86_400)]
    api_ttl: u64,
    /// A ZITADEL System API user: NAME:FILE (FILE as for --client); its self-signed JWTs are
    /// accepted as Bearer tokens on `/system/v1/...` (aud = the instance URL, iss = sub = NAME,
    /// at most 1 h).
    #[arg(long = "system-user", value_name = "NAME:FILE")]
    system_users: Vec<String>,
}

/// The public JWKs (JSON) in a client's key file: a JWK, a JWK Set, a PEM public key (kid: its
/// RFC 7638 thumbprint) or a ZITADEL key file (the public part of its key, kid: its keyId).
///
/// # Errors
/// The file cannot be read; a file starting with `{` is not JSON; a ZITADEL key file's
/// private key cannot be read; any other file is not a PEM or DER public key; or a key is
/// refused or does not serialize as a JWK.
pub fn client_jwks(file: &str) -> anyhow::Result<Vec<String>> {
    let bytes = std::fs::read(file).with_context(|| format!("reading {file}"))?;
    let text = String::from_utf8_lossy(&bytes);
    let trimmed = text.trim_start();
    let public_jwk = |pk: keys::PublicKeyBytes<'_>, kid: &str| -> anyhow::Result<String> {
        let jwk = pk
            .to_jwk(Some(kid.as_bytes()), None)
            .map_err(|e| anyhow!("{file}: key refused: {e}"))?;
        let mut buf = vec![0u8; 2048];
        Ok(jwk
            .to_json(&mut buf, false)
            .context("JWK does not serialize")?
            .to_owned())
    };
    if trimmed.starts_with('{') {
        let v: Value =
            serde_json::from_str(trimmed).with_context(|| format!("{file} is not JSON"))?;
        if let (Some(pem), Some(kid)) = (v["key"].as_str(), v["keyId"].as_str()) {
            // A ZITADEL key file holds the private key: register its public part.
            let mut scratch = vec![0u8; 8192];
            let private = keys::private_key(pem.as_bytes(), &mut scratch)
                .map_err(|e| anyhow!("{file}: {e}"))?;
            let signer = SigningKey::from_private_bytes(&private, Some(kid.as_bytes()), None)
                .map_err(|e| anyhow!("{file}: {e}"))?;
            let mut buf = vec![0u8; 2048];
            let jwk = signer.public_jwk().map_err(|e| anyhow!("{file}: {e}"))?;
            return Ok(vec![jwk
                .to_json(&mut buf, false)
                .context("JWK does not serialize")?
                .to_owned()]);
        }
        if let Some(keys) = v["keys"].as_array() {
            return Ok(keys.iter().map(Value::to_string).collect());
        }
        return Ok(vec![v.to_string()]);
    }
    let mut scratch = vec![0u8; 8192];
    let pk = keys::public_key(&bytes, &mut scratch).map_err(|e| anyhow!("{file}: {e}"))?;
    let unbound = pk
        .to_jwk(None, None)
        .map_err(|e| anyhow!("{file}: key refused: {e}"))?;
    let kid = crate::keyfile::thumbprint_kid(&unbound);
    Ok(vec![public_jwk(pk, &kid)?])
}

fn kid_of(jwk: &str) -> String {
    serde_json::from_str::<Value>(jwk)
        .ok()
        .and_then(|v| v["kid"].as_str().map(String::from))
        .unwrap_or_else(|| "(no kid)".into())
}

/// `tokenguard-sim idp serve`.
///
/// # Errors
/// `--rotate-every` or `--outage-every` is 0, `--outage-for` is not shorter than
/// `--outage-every`, or `--api-ttl` is outside 1 s to 30 days; the IdP cannot start; a
/// `--system-user` or `--client` is malformed or its key file cannot be read or registered;
/// or, once serving, a key rotation fails or the IdP's state is poisoned. Otherwise it
/// serves until the process is stopped.
pub fn serve(a: IdpArgs) -> anyhow::Result<()> {
    if a.rotate_every == Some(0) {
        anyhow::bail!("--rotate-every 0: give the rotation period in seconds (or leave it out)");
    }
    if a.outage_every == Some(0) {
        anyhow::bail!("--outage-every 0: give the period in seconds (or leave it out)");
    }
    if let Some(every) = a.outage_every {
        if a.outage_for >= every {
            anyhow::bail!(
                "--outage-for {} is not shorter than --outage-every {every}: the JWKS would never come back",
                a.outage_for
            );
        }
    }
    if a.api_ttl == 0 || a.api_ttl > AUTH0_MAX_TTL {
        anyhow::bail!(
            "--api-ttl {}: Auth0 API tokens live 1 s to {AUTH0_MAX_TTL} s (30 days)",
            a.api_ttl
        );
    }
    let cfg = IdpConfig {
        max_age: a.max_age,
        skew: a.skew,
        apis: a.apis.clone(),
        api_ttl: a.api_ttl,
        ..IdpConfig::default()
    };
    let idp = Idp::start(&a.listen, cfg)?;
    for u in &a.system_users {
        let (name, file) = u
            .split_once(':')
            .with_context(|| format!("--system-user {u:?}: expected NAME:FILE"))?;
        for jwk in client_jwks(file)? {
            idp.with(|s| s.register(name, ClientKind::SystemUser, &jwk))??;
            eprintln!("system user {name}: key {}", kid_of(&jwk));
        }
    }
    for c in &a.clients {
        let mut parts = c.splitn(3, ':');
        let (Some(kind), Some(id), Some(file)) = (parts.next(), parts.next(), parts.next()) else {
            anyhow::bail!("--client {c:?}: expected KIND:CLIENT_ID:JWK_FILE");
        };
        let kind = match kind {
            "service_user" => ClientKind::ServiceUser,
            "api_app" => ClientKind::ApiApp,
            "auth0_app" => ClientKind::Auth0App,
            k => anyhow::bail!("--client: unknown kind {k} (service_user, api_app, auth0_app)"),
        };
        for jwk in client_jwks(file)? {
            idp.with(|s| s.register(id, kind, &jwk))??;
            eprintln!("client {id}: key {}", kid_of(&jwk));
        }
    }
    // Scripts that pass `--listen 127.0.0.1:0` read the bound address here, as from
    // `device serve`.
    crate::outln!(
        "listening on {}",
        idp.url.strip_prefix("http://").unwrap_or(&idp.url)
    );
    eprintln!(
        "mock IdP on {} (issuer {0}); JWKS at {0}/oauth/v2/keys; Ctrl-C stops",
        idp.url
    );
    let start = std::time::Instant::now();
    let mut last_rotation = 0u64;
    loop {
        std::thread::sleep(Duration::from_millis(250));
        let t = start.elapsed().as_secs();
        if let Some(every) = a.rotate_every.filter(|e| *e > 0) {
            if t >= last_rotation + every {
                last_rotation = t;
                let kid = idp.with(|s| s.rotate())??;
                eprintln!("[{t:>5} s] rotated: signing with {kid}");
            }
        }
        if let Some(every) = a.outage_every.filter(|e| *e > 0) {
            let down = t >= every && (t % every) < a.outage_for;
            let was = idp.with(|s| std::mem::replace(&mut s.outage, down))?;
            if was != down {
                eprintln!(
                    "[{t:>5} s] JWKS {}",
                    if down { "outage begins" } else { "back" }
                );
            }
        }
    }
}
