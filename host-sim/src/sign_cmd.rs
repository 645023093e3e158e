//! `tokenguard-sim sign`: mint an assertion from a key file and a preset or claims. Accepts
//! zitadel-tools `key2jwt` flags (`-audience`, `-key`, `-issuer`, `-output`).

use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::{Args, ValueEnum};
use ring::rand::SecureRandom;
use tokenguard::assertion::{encode, presets, Aud, ClaimValue, Claims};
use tokenguard::Algorithm;

use crate::keyfile::{self, Owner};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Preset {
    /// ZITADEL service user, JWT-bearer grant: iss = sub = user id, aud = issuer URL.
    ZitadelUser,
    /// ZITADEL API app `client_assertion`: iss = sub = client id, aud = issuer URL.
    ZitadelApp,
    /// ZITADEL System API: iss = sub = system user, aud = instance URL, one hour.
    ZitadelSystem,
    /// Auth0 `private_key_jwt`: iss = sub = client id, aud = token endpoint, jti, ≤ 5 min.
    Auth0,
    /// iss = sub = --issuer, aud = --audience, your claims.
    Plain,
}

#[derive(Args, Debug)]
pub struct SignArgs {
    /// Key file: a ZITADEL key file (JSON), a private JWK, or PEM/DER (PKCS#1, PKCS#8, SEC1).
    #[arg(long)]
    key: PathBuf,
    /// Preset (default: from a ZITADEL key file's type, otherwise plain).
    #[arg(long, value_enum)]
    preset: Option<Preset>,
    /// Audience: the issuer URL (ZITADEL), the instance URL (System API), the token endpoint (Auth0).
    #[arg(long)]
    audience: Option<String>,
    /// iss (and sub): the user or client id when the key file does not say it.
    #[arg(long)]
    issuer: Option<String>,
    /// sub, when it differs from iss (plain preset only).
    #[arg(long)]
    subject: Option<String>,
    /// Key id for the header (default: the key file's keyId).
    #[arg(long)]
    kid: Option<String>,
    /// Algorithm (RSA keys: RS256 by default; PS256/384/512, RS384/512 possible).
    #[arg(long)]
    alg: Option<String>,
    /// Lifetime in seconds (default 3600; Auth0 300).
    #[arg(long)]
    lifetime: Option<u64>,
    /// Seconds to backdate iat (default 5; 0 with key2jwt flags, like key2jwt).
    #[arg(long)]
    backdate: Option<u64>,
    /// jti (Auth0: a random one by default).
    #[arg(long)]
    jti: Option<String>,
    /// Extra claim NAME=VALUE (VALUE as JSON number or boolean if it is one, else a string).
    #[arg(long = "claim", value_name = "NAME=VALUE")]
    claims: Vec<String>,
    /// Header typ.
    #[arg(long, default_value = "JWT")]
    typ: String,
    /// The clock, unix seconds (default: now).
    #[arg(long)]
    now: Option<u64>,
    /// Write the JWT here instead of stdout.
    #[arg(long)]
    output: Option<PathBuf>,
    /// Set when key2jwt-style single-dash flags were used.
    #[arg(long, hide = true)]
    key2jwt: bool,
}

/// Rewrites zitadel-tools key2jwt flags (`-audience X`, `-key=X`, ...) to ours.
pub fn translate_key2jwt(args: Vec<String>) -> Vec<String> {
    if args.get(1).map(String::as_str) != Some("sign") {
        return args;
    }
    let mut out = vec![];
    let mut used = false;
    for a in args {
        let mapped = ["audience", "key", "issuer", "output"]
            .iter()
            .find_map(|f| {
                let single = format!("-{f}");
                if a == single {
                    Some(format!("--{f}"))
                } else {
                    a.strip_prefix(&format!("{single}="))
                        .map(|v| format!("--{f}={v}"))
                }
            });
        match mapped {
            Some(m) => {
                used = true;
                out.push(m);
            }
            None => out.push(a),
        }
    }
    if used {
        out.push("--key2jwt".into());
    }
    out
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

pub fn run(a: SignArgs) -> anyhow::Result<i32> {
    let alg = match &a.alg {
        Some(n) => Some(
            Algorithm::from_name(n.as_bytes())
                .with_context(|| format!("unknown algorithm {n:?}"))?,
        ),
        None => None,
    };
    let loaded = keyfile::load(&a.key, a.kid.as_deref(), alg)?;
    let preset = a.preset.unwrap_or(match loaded.owner {
        Owner::ZitadelUser { .. } => Preset::ZitadelUser,
        Owner::ZitadelApp { .. } => Preset::ZitadelApp,
        Owner::Unknown => Preset::Plain,
    });
    let who = match (&loaded.owner, &a.issuer) {
        (_, Some(i)) => i.clone(),
        (Owner::ZitadelUser { user_id }, None) => user_id.clone(),
        (Owner::ZitadelApp { client_id, .. }, None) => client_id.clone(),
        (Owner::Unknown, None) => {
            bail!("--issuer is required: the key file names no user or client")
        }
    };
    let audience = a.audience.clone();
    let need_aud = || {
        audience
            .clone()
            .context("--audience is required for this preset")
    };
    let now = a.now.unwrap_or_else(now);
    let backdate = a.backdate.unwrap_or(if a.key2jwt { 0 } else { 5 });
    let rng = ring::rand::SystemRandom::new();
    let mut entropy = [0u8; 64];
    rng.fill(&mut entropy)
        .map_err(|_| anyhow::anyhow!("no system randomness"))?;
    let mut jti_buf = [0u8; 16];
    rng.fill(&mut jti_buf)
        .map_err(|_| anyhow::anyhow!("no system randomness"))?;
    let random_jti = String::from_utf8(presets::jti_from_entropy(&jti_buf).to_vec())?;
    let jti = a.jti.clone();
    let aud_value;
    let extra: Vec<(String, serde_json::Value)> = a
        .claims
        .iter()
        .map(|c| {
            let (k, v) = c
                .split_once('=')
                .with_context(|| format!("--claim {c:?}: expected NAME=VALUE"))?;
            let value = match serde_json::from_str::<serde_json::Value>(v) {
                Ok(n @ serde_json::Value::Number(_)) | Ok(n @ serde_json::Value::Bool(_)) => n,
                _ => serde_json::Value::String(v.into()),
            };
            Ok((k.to_string(), value))
        })
        .collect::<anyhow::Result<_>>()?;
    let extra_values: Vec<(&str, ClaimValue<'_>)> = extra
        .iter()
        .map(|(k, v)| {
            Ok((
                k.as_str(),
                match v {
                    serde_json::Value::Bool(b) => ClaimValue::Bool(*b),
                    serde_json::Value::Number(n) => {
                        ClaimValue::Int(n.as_i64().context("only integer numbers")?)
                    }
                    serde_json::Value::String(s) => ClaimValue::Str(s),
                    _ => bail!("unsupported claim value"),
                },
            ))
        })
        .collect::<anyhow::Result<_>>()?;
    let timing = |default_life: u64| presets::Timing {
        now,
        backdate,
        lifetime: a.lifetime.unwrap_or(default_life),
    };
    let mut claims = match preset {
        Preset::ZitadelUser => {
            aud_value = need_aud()?;
            presets::zitadel_service_user(&who, &aud_value, timing(3600))
        }
        Preset::ZitadelApp => {
            aud_value = need_aud()?;
            presets::zitadel_api_app(&who, &aud_value, timing(3600))
        }
        Preset::ZitadelSystem => {
            aud_value = need_aud()?;
            presets::zitadel_system_api(&who, &aud_value, now, backdate)
        }
        Preset::Auth0 => {
            aud_value = need_aud()?;
            let j = jti.as_deref().unwrap_or(&random_jti);
            presets::auth0_private_key_jwt(&who, &aud_value, j, timing(300))
        }
        Preset::Plain => {
            aud_value = audience.clone().unwrap_or_default();
            let iat = now.saturating_sub(backdate);
            Ok(Claims {
                iss: Some(&who),
                sub: Some(a.subject.as_deref().unwrap_or(&who)),
                aud: if aud_value.is_empty() {
                    Aud::None
                } else {
                    Aud::One(&aud_value)
                },
                iat: Some(iat),
                exp: Some(iat + a.lifetime.unwrap_or(3600)),
                jti: jti.as_deref(),
                ..Claims::EMPTY
            })
        }
    }
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    if preset != Preset::Plain && a.subject.is_some() {
        bail!("--subject applies to the plain preset only (the provider presets set sub = iss)");
    }
    if matches!(preset, Preset::ZitadelUser | Preset::ZitadelApp) && loaded.key_id.is_none() {
        bail!("ZITADEL needs the key id in the header: use a ZITADEL key file or --kid");
    }
    claims.extra = &extra_values;
    let mut buf = vec![0u8; 16 * 1024];
    let jwt = encode(&loaded.key, Some(&a.typ), &claims, Some(&entropy), &mut buf)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    match &a.output {
        Some(p) => std::fs::write(p, jwt).with_context(|| format!("writing {}", p.display()))?,
        None => println!("{jwt}"),
    }
    Ok(0)
}
