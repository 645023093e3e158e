//! The filter's configuration: JSON in the Envoy config (`configuration.value`). Unknown
//! members are refused, so a misspelt option fails Envoy's config load instead of being
//! ignored.

use serde::Deserialize;
use tokenguard::{Algorithm, RefreshPolicy};

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Accepted `iss` values (at least one).
    pub issuers: Vec<String>,
    /// Accepted `aud` values (at least one; a token's `aud` must contain one of them).
    pub audiences: Vec<String>,
    /// Accepted algorithms (default: every asymmetric algorithm the engine has).
    #[serde(default)]
    pub algorithms: Vec<String>,
    /// Where the JWK Set comes from.
    pub jwks: JwksSource,
    /// Refresh policy (seconds).
    #[serde(default)]
    pub refresh: Refresh,
    /// Leeway for `exp`, `nbf` and `iat`, in seconds (at most 600).
    #[serde(default = "default_leeway")]
    pub leeway: u32,
    /// Claims a token must have besides `exp` (for example `sub`, `jti`).
    #[serde(default)]
    pub required_claims: Vec<String>,
    /// Claims forwarded to the upstream as request headers: claim name to header name.
    /// Incoming headers of those names are always removed first.
    #[serde(default)]
    pub forward_claims: Vec<Forward>,
    /// Where the token is read.
    #[serde(default)]
    pub token: TokenSource,
    /// Path prefixes that need no token (health checks, public assets).
    #[serde(default)]
    pub skip_paths: Vec<String>,
    /// How often each VM looks at the shared key set and the fetch schedule (ms).
    #[serde(default = "default_tick")]
    pub tick_ms: u64,
    /// The verified-token cache.
    #[serde(default)]
    pub token_cache: TokenCache,
    /// Replay protection for one-time tokens.
    #[serde(default)]
    pub replay: Replay,
}

/// The verified-token cache: a token seen and verified before, still within its `exp` and
/// under the same key set, is accepted with a hash and a lookup.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TokenCache {
    /// Entries per VM (0: no cache). Each holds the token and the forwarded headers.
    pub max_entries: usize,
}

impl Default for TokenCache {
    fn default() -> Self {
        TokenCache { max_entries: 1024 }
    }
}

/// Replay protection: each `jti` accepted once while its token lives (`jti` and `exp`
/// become required). Per VM: Envoy's worker VMs do not share it, so a token replayed to
/// another worker thread is not caught.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Replay {
    /// On or off (off by default: access tokens are presented many times).
    pub enabled: bool,
}

/// The JWKS upstream.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwksSource {
    /// The Envoy cluster serving it.
    pub cluster: String,
    /// The request path (`/oauth/v2/keys`, `/.well-known/jwks.json`).
    pub path: String,
    /// The `:authority` sent (default: the cluster name).
    #[serde(default)]
    pub authority: Option<String>,
    /// Request timeout (ms).
    #[serde(default = "default_timeout")]
    pub timeout_ms: u64,
}

/// Refresh timing, as the engine's [`RefreshPolicy`].
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Refresh {
    /// Lifetime when the response has no `Cache-Control: max-age`.
    pub default_max_age: u64,
    /// The shortest lifetime honoured (the minimum interval between scheduled fetches).
    pub min_interval: u64,
    /// The longest lifetime honoured.
    pub max_max_age: u64,
    /// Wait after a failed fetch.
    pub retry_after: u64,
    /// Minimum time between refetches an unknown `kid` triggers.
    pub unknown_kid_interval: u64,
    /// How long keys past their lifetime are still used while fetches fail.
    pub stale_for: u64,
}

impl Default for Refresh {
    fn default() -> Self {
        let p = RefreshPolicy::DEFAULT;
        Refresh {
            default_max_age: p.default_max_age,
            min_interval: p.min_max_age,
            max_max_age: p.max_max_age,
            retry_after: p.retry_after,
            unknown_kid_interval: p.unknown_kid_interval,
            stale_for: p.stale_for,
        }
    }
}

impl Refresh {
    /// As the engine's policy.
    pub fn policy(&self) -> RefreshPolicy {
        RefreshPolicy {
            default_max_age: self.default_max_age,
            min_max_age: self.min_interval,
            max_max_age: self.max_max_age,
            retry_after: self.retry_after,
            unknown_kid_interval: self.unknown_kid_interval,
            stale_for: self.stale_for,
        }
    }
}

/// One forwarded claim.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Forward {
    /// The claim.
    pub claim: String,
    /// The request header it becomes.
    pub header: String,
}

/// Where the token is.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum TokenSource {
    /// `Authorization: Bearer <token>` (the default).
    #[default]
    Bearer,
    /// The whole value of this request header.
    Header(String),
    /// This cookie.
    Cookie(String),
}

fn default_leeway() -> u32 {
    0
}
fn default_tick() -> u64 {
    1000
}
fn default_timeout() -> u64 {
    5000
}

/// A checked configuration: the algorithms resolved.
#[derive(Debug, Clone)]
pub struct Checked {
    /// The configuration as given.
    pub config: Config,
    /// The accepted algorithms.
    pub algorithms: Vec<Algorithm>,
}

/// Parses and checks the configuration.
///
/// # Errors
/// Malformed JSON, an unknown member, no issuer or audience, an unknown or symmetric
/// algorithm, a leeway over 600 s, a zero tick or timeout, a header name that is not
/// lower-case token characters.
pub fn parse(json: &[u8]) -> Result<Checked, String> {
    let config: Config = serde_json::from_slice(json).map_err(|e| format!("configuration: {e}"))?;
    if config.issuers.is_empty() || config.issuers.iter().any(String::is_empty) {
        return Err("configuration: `issuers` must name at least one issuer".into());
    }
    if config.audiences.is_empty() || config.audiences.iter().any(String::is_empty) {
        return Err("configuration: `audiences` must name at least one audience".into());
    }
    if config.leeway > 600 {
        return Err(format!(
            "configuration: `leeway` {} is over 600 seconds",
            config.leeway
        ));
    }
    if config.token_cache.max_entries > 1_000_000 {
        return Err("configuration: `token_cache.max_entries` is over 1000000".into());
    }
    if config.tick_ms == 0 || config.jwks.timeout_ms == 0 {
        return Err("configuration: `tick_ms` and `jwks.timeout_ms` must be positive".into());
    }
    if config.jwks.cluster.is_empty() || !config.jwks.path.starts_with('/') {
        return Err(
            "configuration: `jwks` needs a `cluster` and a `path` starting with `/`".into(),
        );
    }
    let algorithms = if config.algorithms.is_empty() {
        Algorithm::ALL
            .iter()
            .copied()
            .filter(|a| !a.name().starts_with("HS"))
            .collect()
    } else {
        let mut v = vec![];
        for name in &config.algorithms {
            let a = Algorithm::from_name(name.as_bytes())
                .ok_or_else(|| format!("configuration: unknown algorithm {name:?}"))?;
            if a.name().starts_with("HS") {
                return Err(format!(
                    "configuration: {name} needs a shared secret; a gateway verifies with public keys"
                ));
            }
            v.push(a);
        }
        v
    };
    for f in &config.forward_claims {
        let ok = !f.header.is_empty()
            && f.header
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if !ok || f.header.starts_with(':') {
            return Err(format!(
                "configuration: forwarded header {:?} must be lower-case letters, digits, - and _",
                f.header
            ));
        }
    }
    Ok(Checked { config, algorithms })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: &str = r#"{"issuers":["https://idp"],"audiences":["api"],"jwks":{"cluster":"idp","path":"/keys"}}"#;

    #[test]
    fn defaults() {
        let c = parse(MIN.as_bytes()).unwrap();
        assert_eq!(c.config.token, TokenSource::Bearer);
        assert_eq!(c.config.tick_ms, 1000);
        assert_eq!(c.config.leeway, 0);
        assert_eq!(c.config.refresh.policy(), RefreshPolicy::DEFAULT);
        assert!(c.algorithms.contains(&tokenguard::alg::ES256));
        assert!(c.algorithms.contains(&tokenguard::alg::RS256));
        assert!(!c.algorithms.contains(&tokenguard::alg::HS256));
    }

    #[test]
    fn full() {
        let c = parse(
            br#"{"issuers":["a","b"],"audiences":["api"],"algorithms":["ES256","EdDSA"],
            "jwks":{"cluster":"idp","path":"/keys","authority":"idp.example","timeout_ms":2000},
            "refresh":{"min_interval":5,"stale_for":30},"leeway":30,"required_claims":["sub"],
            "forward_claims":[{"claim":"sub","header":"x-jwt-sub"}],"token":{"cookie":"session"},
            "skip_paths":["/healthz"],"tick_ms":250}"#,
        )
        .unwrap();
        assert_eq!(
            c.algorithms,
            vec![tokenguard::alg::ES256, tokenguard::alg::EDDSA]
        );
        assert_eq!(c.config.token, TokenSource::Cookie("session".into()));
        assert_eq!(c.config.refresh.min_interval, 5);
        assert_eq!(c.config.refresh.retry_after, 30);
    }

    #[test]
    fn refusals() {
        let err = |s: &str| parse(s.as_bytes()).unwrap_err();
        assert!(
            err(r#"{"issuers":[],"audiences":["a"],"jwks":{"cluster":"c","path":"/k"}}"#)
                .contains("`issuers` must name")
        );
        assert!(err(
            r#"{"issuers":["i"],"audiences":["a"],"jwks":{"cluster":"c","path":"/k"},"leway":3}"#
        )
        .contains("unknown field `leway`"));
        assert!(err(r#"{"issuers":["i"],"audiences":["a"],"jwks":{"cluster":"c","path":"/k"},"algorithms":["HS256"]}"#)
            .contains("needs a shared secret"));
        assert!(err(r#"{"issuers":["i"],"audiences":["a"],"jwks":{"cluster":"c","path":"/k"},"algorithms":["none"]}"#)
            .contains("unknown algorithm \"none\""));
        assert!(
            err(r#"{"issuers":["i"],"audiences":["a"],"jwks":{"cluster":"c","path":"k"}}"#)
                .contains("starting with `/`")
        );
        assert!(err(r#"{"issuers":["i"],"audiences":["a"],"jwks":{"cluster":"c","path":"/k"},"forward_claims":[{"claim":"sub","header":"X Sub"}]}"#)
            .contains("must be lower-case"));
        assert!(err("{").starts_with("configuration: "));
    }
}
