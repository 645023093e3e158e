//! The host around a device, shared by the demo and the scenarios: the device's TCP link,
//! the mock IdP, an HTTP client and the simulated clocks.

use std::net::{TcpListener, TcpStream};

use anyhow::{anyhow, Context};
use ring::rand::SecureRandom;
use ring::signature::{Ed25519KeyPair, KeyPair};
use serde_json::Value;
use tokenguard::AlgSet;

use crate::client::{DeviceClient, DeviceInfo, LoadReport, Policy, Verdict};
use crate::idp::{self, ClientKind, Idp, IdpConfig};

pub const DEVICE_ID: &str = "device-0042";
pub const DEVICE_KID: &str = "device-key-1";
pub const API_AUDIENCE: &str = "device-api";
/// 2026-01-01T00:00:00Z.
pub const T0: u64 = 1_767_225_600;

pub use crate::util::b64;

/// The host side of the device: its TCP link, the HTTP client and the simulated clock.
pub struct Host {
    pub dev: DeviceClient<TcpStream>,
    pub http: ureq::Agent,
    pub idp: Idp,
    pub now: u64,
    /// The device's clock minus the IdP's (a skewed device).
    pub skew: i64,
}

impl Host {
    /// Puts the device's clock back on the simulated time: the simulated clock stands still
    /// between steps, while a device counts real milliseconds from `SET_TIME` (the firmware
    /// in a loaded QEMU can take seconds over a JWK Set).
    fn sync(&mut self) -> anyhow::Result<()> {
        self.dev.set_time(self.now.saturating_add_signed(self.skew))
    }

    /// Moves the simulated clock on the device and the IdP.
    ///
    /// # Errors
    /// Setting the device's clock fails ([`DeviceClient::set_time`]) or the IdP's state is
    /// poisoned.
    pub fn set_time(&mut self, now: u64) -> anyhow::Result<()> {
        self.now = now;
        self.dev.set_time(now.saturating_add_signed(self.skew))?;
        self.idp.with(|s| s.sim_now = Some(now))
    }

    /// Does what the device's cache asks for: `None` if no fetch is due, else the reason
    /// (1 initial, 2 expired, 3 unknown kid, 4 retry) and the outcome.
    ///
    /// # Errors
    /// Syncing the device's clock, `REFRESH_STATE`, `FETCH_FAILED` or the JWK Set upload
    /// fails, or the GET gets no response or its body cannot be read (over 1 MiB). An HTTP
    /// status other than 200 and a refused set are `Ok(Some((due, Err(_))))`.
    pub fn refresh(&mut self) -> anyhow::Result<Option<(u8, Result<LoadReport, String>)>> {
        self.sync()?;
        let (due, ..) = self.dev.refresh_state()?;
        if due == 0 {
            return Ok(None);
        }
        let url = format!("{}/oauth/v2/keys", self.idp.url);
        let mut resp = self
            .http
            .get(&url)
            .call()
            .map_err(|e| anyhow!("GET {url}: {e}"))?;
        let status = resp.status().as_u16();
        if status != 200 {
            self.dev.fetch_failed()?;
            return Ok(Some((due, Err(format!("HTTP {status}")))));
        }
        let cc = resp
            .headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok())
            .map(String::from);
        let max_age = idp::max_age(cc.as_deref()).and_then(|m| u32::try_from(m).ok());
        let body = resp.body_mut().with_config().limit(1 << 20).read_to_vec()?;
        let r = self.dev.load_jwks_at(
            &body,
            200,
            max_age,
            Some(self.now.saturating_add_signed(self.skew)),
        )?;
        Ok(Some((due, r.map_err(|why| format!("JWKS refused: {why}")))))
    }

    /// The device mints an assertion; `preset` as in `SIGN`.
    ///
    /// # Errors
    /// As [`Host::try_mint`], and when the device refuses to sign (the message carries its
    /// status).
    pub fn mint(
        &mut self,
        preset: u8,
        lifetime: u32,
        backdate: u16,
        aud: &str,
        jti: &str,
    ) -> anyhow::Result<String> {
        self.try_mint(preset, lifetime, backdate, aud, jti)?
            .map_err(|s| anyhow!("device SIGN failed with status {s:#04x}"))
    }

    /// Like [`Host::mint`], with the device's refusal status as `Ok(Err(status))`.
    ///
    /// # Errors
    /// Syncing the device's clock fails, there is no randomness for the entropy, or the
    /// exchange fails ([`DeviceClient::sign`]).
    pub fn try_mint(
        &mut self,
        preset: u8,
        lifetime: u32,
        backdate: u16,
        aud: &str,
        jti: &str,
    ) -> anyhow::Result<Result<String, u8>> {
        self.sync()?;
        let mut entropy = [0u8; 32];
        ring::rand::SystemRandom::new()
            .fill(&mut entropy)
            .map_err(|_| anyhow!("no randomness"))?;
        self.dev
            .sign(preset, lifetime, backdate, &entropy, DEVICE_ID, aud, jti)
    }

    /// POSTs `form` to the IdP at `path`: `(status, JSON body)`.
    ///
    /// # Errors
    /// The request or reading its body fails ([`idp::post_form`]); an HTTP error status is
    /// a reply, not an error.
    pub fn post(&self, path: &str, form: &[(&str, &str)]) -> anyhow::Result<(u16, Value)> {
        idp::post_form(&self.http, &format!("{}{path}", self.idp.url), form)
    }

    /// Verifies `token` on the device under policy slot 0, its clock synced first.
    ///
    /// # Errors
    /// Syncing the clock or the exchange fails ([`DeviceClient::verify`]); a rejected token
    /// is `Ok(Verdict::Rejected(_))`.
    pub fn verify(&mut self, token: &str) -> anyhow::Result<Verdict> {
        self.sync()?;
        self.dev.verify(0, token)
    }
}

pub fn reply(r: &(u16, Value)) -> String {
    match r.1.get("error") {
        Some(e) => format!(
            "HTTP {} {}: {}",
            r.0,
            e.as_str().unwrap_or(""),
            r.1["error_description"].as_str().unwrap_or("")
        ),
        None => format!("HTTP {}", r.0),
    }
}

/// Why the device asked for a fetch (REFRESH_STATE's `fetch due`), in words.
pub fn fetch_reason(due: u8) -> &'static str {
    match due {
        0 => "no fetch due",
        1 => "initial fetch",
        2 => "the set expired",
        3 => "unknown kid",
        4 => "retry after a failed fetch",
        _ => "unknown reason",
    }
}

/// REFRESH_STATE's `freshness`, in words.
pub fn freshness(f: u8) -> &'static str {
    match f {
        0 => "never loaded",
        1 => "fresh",
        2 => "stale",
        3 => "expired",
        _ => "unknown",
    }
}

/// `n thing` or `n things`.
pub fn plural(n: impl Into<u64>, thing: &str) -> String {
    let n = n.into();
    format!("{n} {thing}{}", if n == 1 { "" } else { "s" })
}

pub fn loaded(r: &Option<(u8, Result<LoadReport, String>)>) -> String {
    match r {
        None => "no fetch due".into(),
        Some((due, Ok(l))) => format!("{}: {} loaded", fetch_reason(*due), plural(l.loaded, "key")),
        Some((due, Err(e))) => format!("{}: {e}", fetch_reason(*due)),
    }
}

pub use crate::util::segment_json;

/// Re-encodes the payload with a wider scope, keeping the original signature.
///
/// # Errors
/// The token has fewer than three segments, or its payload is not base64url or not UTF-8.
pub fn tamper_scope(token: &str) -> anyhow::Result<String> {
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s)) = (parts.next(), parts.next(), parts.next()) else {
        anyhow::bail!("not a JWS")
    };
    let mut raw = vec![0u8; p.len()];
    let len = tokenguard::b64::decode(p.as_bytes(), &mut raw).map_err(|_| anyhow!("payload"))?;
    raw.truncate(len);
    let edited = String::from_utf8(raw)?.replace("\"scope\":\"openid\"", "\"scope\":\"admin\"");
    Ok(format!("{h}.{}.{s}", b64(edited.as_bytes())))
}

/// Starts a simulated device on a loopback port (the firmware's 8 key slots).
///
/// # Errors
/// No loopback port can be bound or its address read, or the device thread cannot be
/// spawned.
pub fn start_device() -> anyhow::Result<String> {
    let l = TcpListener::bind("127.0.0.1:0")?;
    let addr = l.local_addr()?.to_string();
    std::thread::Builder::new()
        .name("device".into())
        .spawn(move || {
            let _ = crate::device::serve::<{ crate::device::FIRMWARE_KEYS }>(l);
        })?;
    Ok(addr)
}

impl Host {
    /// Starts the IdP, connects to the device at `device` (or starts a simulated one),
    /// gives the device an Ed25519 signing key registered at the IdP (ZITADEL service user
    /// and Auth0 app `DEVICE_ID`), sets policy slot 0 (the IdP's access tokens: `typ`
    /// at+jwt, asymmetric algorithms, 5 s leeway) and both clocks to `T0`.
    ///
    /// # Errors
    /// The IdP cannot start; the device cannot be started, reached or does not answer
    /// `HELLO`; generating the Ed25519 key fails; the device refuses the clock, `INFO`, the
    /// signing key or the policy; or the IdP refuses to register the device's key.
    pub fn setup(
        device: Option<&str>,
        cfg: IdpConfig,
    ) -> anyhow::Result<(Host, DeviceInfo, String)> {
        let idp = Idp::start("127.0.0.1:0", cfg)?;
        let addr = match device {
            Some(a) => a.to_owned(),
            None => start_device()?,
        };
        let mut h = Host {
            dev: DeviceClient::connect(&addr, std::time::Duration::from_secs(30))?,
            http: idp::agent(),
            idp,
            now: T0,
            skew: 0,
        };
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).map_err(|_| anyhow!("keygen"))?;
        let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8.as_ref())
            .map_err(|_| anyhow!("key"))?;
        let seed = pkcs8.as_ref().get(16..48).context("pkcs8 layout")?;
        let x = b64(pair.public_key().as_ref());
        let public = format!(
            r#"{{"kty":"OKP","crv":"Ed25519","kid":"{DEVICE_KID}","alg":"EdDSA","x":"{x}"}}"#
        );
        let private = format!(
            r#"{{"kty":"OKP","crv":"Ed25519","kid":"{DEVICE_KID}","alg":"EdDSA","x":"{x}","d":"{}"}}"#,
            b64(seed)
        );
        h.set_time(T0)?;
        let info = h.dev.info()?;
        h.dev.set_signing_key(&private)?;
        h.idp
            .with(|s| s.register(DEVICE_ID, ClientKind::ServiceUser, &public))??;
        h.idp
            .with(|s| s.register(DEVICE_ID, ClientKind::Auth0App, &public))??;
        let issuer = h.idp.url.clone();
        let mut policy = Policy::new(0, &issuer, API_AUDIENCE);
        policy.typ = "at+jwt".into();
        policy.algs = AlgSet::ASYMMETRIC;
        policy.leeway = 5;
        h.dev.set_policy(&policy)?;
        Ok((h, info, addr))
    }

    /// The device mints a ZITADEL service-user assertion for `aud` (one hour, `iat` backdated
    /// 5 s) and presents it in the JWT-bearer grant (with `scope` if given): the IdP's reply.
    ///
    /// # Errors
    /// The device cannot mint the assertion ([`Host::mint`]) or the POST fails
    /// ([`Host::post`]); the IdP's refusal is a reply, not an error.
    pub fn bearer_grant(&mut self, aud: &str, scope: Option<&str>) -> anyhow::Result<(u16, Value)> {
        let a = self.mint(1, 3600, 5, aud, "")?;
        let mut form = vec![("grant_type", idp::JWT_BEARER), ("assertion", a.as_str())];
        if let Some(s) = scope {
            form.push(("scope", s));
        }
        self.post("/oauth/v2/token", &form)
    }

    /// The JWT-bearer grant with an assertion the device mints (ZITADEL service user);
    /// `Ok(access token)` or `Err(the refusal's code)`.
    ///
    /// # Errors
    /// As [`Host::bearer_grant`]; a refused grant is `Ok(Err(code))`.
    pub fn grant(&mut self, scope: &str) -> anyhow::Result<Result<String, String>> {
        let issuer = self.idp.url.clone();
        let r = self.bearer_grant(&issuer, Some(scope))?;
        Ok(match r.1["access_token"].as_str() {
            Some(t) if r.0 == 200 => Ok(t.to_owned()),
            _ => Err(refusal_code(&r)),
        })
    }
}

/// The access token of a token endpoint's reply; `what` names the step in the error.
///
/// # Errors
/// The reply holds no `access_token` string; the message names `what` and the reply's
/// status and error.
pub fn access_token(r: &(u16, Value), what: &str) -> anyhow::Result<String> {
    r.1["access_token"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("no access token {what}: {}", reply(r)))
}

/// The tokenguard code at the start of an OAuth error description (`"expired: ..."`), else
/// the OAuth error.
pub fn refusal_code(r: &(u16, Value)) -> String {
    let d = r.1["error_description"].as_str().unwrap_or("");
    match d.split_once(':') {
        Some((code, _)) if !code.contains(' ') => code.to_owned(),
        _ => r.1["error"].as_str().unwrap_or("error").to_owned(),
    }
}
