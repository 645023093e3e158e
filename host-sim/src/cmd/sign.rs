//! `tokenguard-sim sign`: mint an assertion from a key file and a preset or claims. Accepts
//! zitadel-tools `key2jwt` flags (`-audience`, `-key`, `-issuer`, `-output`).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::{Args, ValueEnum};
use ring::rand::SecureRandom;
use tokenguard::assertion::{encode, presets, Aud, ClaimValue, Claims};
use tokenguard::sign::Signer;
use tokenguard::Algorithm;

use tokenguard_sim::keyfile::{self, Owner};
use tokenguard_sim::util::unix_now as now;

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
    /// Key file: a ZITADEL key file (JSON), a private JWK, PEM/DER (PKCS#1, PKCS#8, SEC1), an
    /// encrypted PKCS#8 PEM or a PKCS#12 keystore (.p12/.pfx; --password-env/--password-file,
    /// --alias); `-` reads it from standard input. Or a key in a PKCS#11 token (an HSM):
    /// `pkcs11:token=LABEL;object=LABEL?module-path=/path/module.so` (RFC 7512; the PIN from
    /// --pin-env, pin-source= or pin-value=), or in a TPM 2.0:
    /// `tpm:handle=0x81010001?tcti=device:/dev/tpmrm0` (built with the `tpm` feature); their
    /// kid defaults to the key's thumbprint.
    #[arg(long)]
    key: PathBuf,
    /// The PKCS#11 token's user PIN, or the TPM key's authorization value, from this
    /// environment variable.
    #[arg(long, value_name = "VAR")]
    pin_env: Option<String>,
    /// Preset (default: from a ZITADEL key file's type, otherwise plain).
    #[arg(long, value_enum)]
    preset: Option<Preset>,
    /// Audience: the issuer URL (ZITADEL), the instance URL (System API), the token endpoint
    /// (Auth0). Repeat it for an `aud` array (plain preset: an Auth0 API and its userinfo).
    #[arg(long, allow_hyphen_values = true)]
    audience: Vec<String>,
    /// iss (and sub): the user or client id when the key file does not say it.
    #[arg(long, allow_hyphen_values = true)]
    issuer: Option<String>,
    /// sub, when it differs from iss (plain preset only).
    #[arg(long, allow_hyphen_values = true)]
    subject: Option<String>,
    /// Key id for the header (default: the key file's keyId); `thumbprint` puts the key's RFC
    /// 7638 thumbprint there (the kid the mock IdP gives a client registered from a PEM).
    #[arg(long, allow_hyphen_values = true)]
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
    #[arg(long, allow_hyphen_values = true)]
    jti: Option<String>,
    /// Extra claim NAME=VALUE: VALUE is used as JSON when it is a JSON value (a number,
    /// `true`, `null`, `["read:a","write:b"]`, `{"k":1}`, `"42"` for the string 42), else as a
    /// plain string (`--claim scope=read write`).
    #[arg(long = "claim", value_name = "NAME=VALUE", allow_hyphen_values = true)]
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
    #[command(flatten)]
    secret: tokenguard_sim::keystore::SecretOpts,
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

fn preset_name(p: Preset) -> &'static str {
    match p {
        Preset::ZitadelUser => "zitadel-user",
        Preset::ZitadelApp => "zitadel-app",
        Preset::ZitadelSystem => "zitadel-system",
        Preset::Auth0 => "auth0",
        Preset::Plain => "plain",
    }
}

/// The latest `--now` (and `exp`) accepted: 9999-12-31T23:59:59Z, as verifiers bound
/// NumericDate.
const MAX_TIME: u64 = 253_402_300_799;

pub fn run(a: SignArgs) -> anyhow::Result<ExitCode> {
    for (flag, v) in [
        ("--issuer", a.issuer.as_deref()),
        ("--kid", a.kid.as_deref()),
        ("--typ", Some(a.typ.as_str())),
        ("--subject", a.subject.as_deref()),
        ("--jti", a.jti.as_deref()),
    ] {
        if v == Some("") {
            bail!("{flag} is empty: give it a value or leave the flag out");
        }
    }
    if a.audience.iter().any(String::is_empty) {
        bail!("--audience is empty: give the audience the token is for");
    }
    if a.audience.is_empty() {
        bail!("--audience is required (the issuer URL for ZITADEL, the instance URL for the System API, the token endpoint for Auth0)");
    }
    if a.now.is_some_and(|n| n > MAX_TIME) {
        bail!(
            "--now {} is after 9999-12-31 (unix {MAX_TIME}), the last NumericDate verifiers take",
            a.now.unwrap_or_default()
        );
    }
    if a.lifetime == Some(0) {
        bail!("--lifetime 0: a token would expire as it is issued; give the lifetime in seconds");
    }
    let alg = match &a.alg {
        Some(n) => Some(
            Algorithm::from_name(n.as_bytes())
                .with_context(|| format!("unknown algorithm {n:?}"))?,
        ),
        None => None,
    };
    let key_text = a.key.to_string_lossy().into_owned();
    if tokenguard_sim::hardware::HardwareKey::is_reference(&key_text) {
        let hw = tokenguard_sim::hardware::HardwareKey::open(
            &key_text,
            a.pin_env.as_deref(),
            alg,
            a.kid.as_deref().filter(|k| *k != "thumbprint"),
        )?;
        let key_id = hw.kid().map(|k| String::from_utf8_lossy(k).into_owned());
        return mint(&a, &hw, &Owner::Unknown, key_id.as_deref());
    }
    if a.pin_env.is_some() {
        bail!("--pin-env is for a key in hardware (--key pkcs11:... or tpm:...)");
    }
    let mut loaded = keyfile::load(&a.key, a.kid.as_deref(), alg, &a.secret)?;
    if a.kid.as_deref() == Some("thumbprint") {
        // The RFC 7638 thumbprint of the public key, as `jwk --kid thumbprint` and the mock
        // IdP (for a client registered from a PEM) compute it.
        let kid = keyfile::thumbprint_kid(
            &loaded
                .key
                .public_jwk()
                .map_err(|e| anyhow::anyhow!("{e}"))?,
        );
        loaded.key = loaded
            .key
            .with_kid(kid.as_bytes())
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        loaded.key_id = Some(kid);
    }
    mint(&a, &loaded.key, &loaded.owner, loaded.key_id.as_deref())
}

/// Mints the assertion `a` asks for with `key`, whose file named `owner` and `key_id`.
fn mint(
    a: &SignArgs,
    key: &dyn Signer,
    owner: &Owner,
    key_id: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let preset = a.preset.unwrap_or(match owner {
        Owner::ZitadelUser { .. } => Preset::ZitadelUser,
        Owner::ZitadelApp { .. } => Preset::ZitadelApp,
        Owner::Unknown => Preset::Plain,
    });
    match (owner, preset) {
        (Owner::ZitadelUser { .. }, Preset::ZitadelApp | Preset::Auth0) => bail!(
            "{}: a ZITADEL service-user key file (type serviceaccount) signs with --preset zitadel-user, not {}",
            tokenguard_sim::out::name(&a.key),
            preset_name(preset)
        ),
        (Owner::ZitadelApp { .. }, Preset::ZitadelUser | Preset::ZitadelSystem | Preset::Auth0) => bail!(
            "{}: a ZITADEL application key file (type application) signs with --preset zitadel-app, not {}",
            tokenguard_sim::out::name(&a.key),
            preset_name(preset)
        ),
        _ => {}
    }
    let file_id = match owner {
        Owner::ZitadelUser { user_id } => Some(user_id.as_str()),
        Owner::ZitadelApp { client_id, .. } => Some(client_id.as_str()),
        Owner::Unknown => None,
    };
    if let (Some(id), Some(i)) = (file_id, &a.issuer) {
        if id != i {
            eprintln!(
                "warning: --issuer {i:?} overrides the id {id:?} the key file names; ZITADEL checks iss = sub against the key's owner"
            );
        }
    }
    let who = match (owner, &a.issuer) {
        (_, Some(i)) => i.clone(),
        (Owner::ZitadelUser { user_id }, None) => user_id.clone(),
        (Owner::ZitadelApp { client_id, .. }, None) => client_id.clone(),
        (Owner::Unknown, None) => {
            bail!("--issuer is required: the key file names no user or client")
        }
    };
    let need_aud = || -> anyhow::Result<String> {
        match a.audience.as_slice() {
            [one] => Ok(one.clone()),
            _ => bail!(
                "--preset {} takes one --audience; an aud array is for --preset plain",
                preset_name(preset)
            ),
        }
    };
    let now = a.now.unwrap_or_else(now);
    let backdate = a.backdate.unwrap_or(if a.key2jwt { 0 } else { 5 });
    let default_life = match preset {
        Preset::Auth0 => 300,
        _ => 3600,
    };
    let lifetime = a.lifetime.unwrap_or(default_life);
    if backdate >= lifetime {
        bail!(
            "--backdate {backdate} is at least the lifetime ({lifetime} s): the token would be expired when it is minted"
        );
    }
    if now.saturating_sub(backdate).saturating_add(lifetime) > MAX_TIME {
        bail!("--now plus the lifetime is after 9999-12-31 (unix {MAX_TIME})");
    }
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
    let aud_list;
    let extra: Vec<(String, serde_json::Value)> = a
        .claims
        .iter()
        .map(|c| {
            let (k, v) = c
                .split_once('=')
                .with_context(|| format!("--claim {c:?}: expected NAME=VALUE"))?;
            if k.is_empty() {
                bail!("--claim {c:?}: the claim name is empty");
            }
            let value = match serde_json::from_str::<serde_json::Value>(v) {
                Ok(value) => value,
                // A number JSON cannot carry (1e999) is a mistake, not a string.
                Err(e)
                    if v.trim_start_matches('-')
                        .starts_with(|c: char| c.is_ascii_digit())
                        && v.chars().all(|c| c.is_ascii_digit() || "+-.eE".contains(c)) =>
                {
                    bail!("--claim {k}={v}: not a number JSON can carry ({e})")
                }
                Err(_) => serde_json::Value::String(v.into()),
            };
            Ok((k.to_string(), value))
        })
        .collect::<anyhow::Result<_>>()?;
    // Arrays, objects, null and non-integer numbers go out as the JSON text serde_json
    // writes for them (compact).
    let json_texts: Vec<String> = extra.iter().map(|(_, v)| v.to_string()).collect();
    let extra_values: Vec<(&str, ClaimValue<'_>)> = extra
        .iter()
        .zip(&json_texts)
        .map(|((k, v), text)| {
            (
                k.as_str(),
                match v {
                    serde_json::Value::Bool(b) => ClaimValue::Bool(*b),
                    serde_json::Value::Number(n) if n.as_i64().is_some() => {
                        ClaimValue::Int(n.as_i64().unwrap_or_default())
                    }
                    serde_json::Value::String(s) => ClaimValue::Str(s),
                    _ => ClaimValue::Json(text),
                },
            )
        })
        .collect();
    let timing = presets::Timing {
        now,
        backdate,
        lifetime,
    };
    let mut claims = match preset {
        Preset::ZitadelUser => {
            aud_value = need_aud()?;
            presets::zitadel_service_user(&who, &aud_value, timing)
        }
        Preset::ZitadelApp => {
            aud_value = need_aud()?;
            presets::zitadel_api_app(&who, &aud_value, timing)
        }
        Preset::ZitadelSystem => {
            aud_value = need_aud()?;
            if lifetime > 3600 {
                bail!("--lifetime {lifetime}: the System API accepts tokens of at most one hour (3600 s)");
            }
            presets::zitadel_system_api(&who, &aud_value, now, backdate).map(|c| Claims {
                exp: c.iat.map(|iat| iat + lifetime),
                ..c
            })
        }
        Preset::Auth0 => {
            aud_value = need_aud()?;
            let j = jti.as_deref().unwrap_or(&random_jti);
            presets::auth0_private_key_jwt(&who, &aud_value, j, timing)
        }
        Preset::Plain => {
            aud_list = a.audience.iter().map(String::as_str).collect::<Vec<_>>();
            let iat = now.saturating_sub(backdate);
            Ok(Claims {
                iss: Some(&who),
                sub: Some(a.subject.as_deref().unwrap_or(&who)),
                aud: match aud_list.as_slice() {
                    [one] => Aud::One(one),
                    many => Aud::Many(many),
                },
                iat: Some(iat),
                exp: Some(iat + lifetime),
                jti: jti.as_deref(),
                ..Claims::EMPTY
            })
        }
    }
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    if preset != Preset::Plain && a.subject.is_some() {
        bail!("--subject applies to the plain preset only (the provider presets set sub = iss)");
    }
    if matches!(preset, Preset::ZitadelUser | Preset::ZitadelApp) && key_id.is_none() {
        bail!("ZITADEL needs the key id in the header: use a ZITADEL key file or --kid");
    }
    claims.extra = &extra_values;
    let mut buf = vec![0u8; 16 * 1024];
    let jwt = encode(key, Some(&a.typ), &claims, Some(&entropy), &mut buf)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    match &a.output {
        Some(p) => std::fs::write(p, jwt).with_context(|| format!("writing {}", p.display()))?,
        None => tokenguard_sim::outln!("{jwt}"),
    }
    Ok(ExitCode::SUCCESS)
}
