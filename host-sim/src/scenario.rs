//! `tokenguard-sim scenario run FILE...`: scripted runs (TOML) of rotations, outages,
//! skewed clocks, replays and unknown-`kid` floods against the simulated device or the QEMU
//! firmware, with a table of expected against observed verdicts.
//!
//! ```toml
//! name = "key rotation"
//! [idp]                 # optional: max_age (600), skew (1), access_ttl (900)
//! max_age = 600
//!
//! [[step]]
//! action = "refresh"    # the host does what the device's cache asks
//! expect = "loaded:1"
//!
//! [[step]]
//! at = 120              # seconds after T0 (2026-01-01T00:00:00Z); or `advance = N`
//! action = "token"      # JWT-bearer grant with a device-minted assertion
//! name = "t1"
//! expect = "issued"
//! ```
//!
//! Actions and what they observe:
//!
//! | action | fields | observed |
//! |---|---|---|
//! | `refresh` | | `none` (no fetch due), `loaded:N`, `failed` |
//! | `state` | | freshness: `never`, `fresh`, `stale`, `expired` |
//! | `token` | `name`, `scope` | `issued` (kept as `name`) or the IdP's refusal code |
//! | `verify` | `token` | `accept` or the device's error code |
//! | `tamper` | `token` | the device's verdict on the token with an edited payload |
//! | `grant` | `preset` (`zitadel-user`, `auth0`), `jti`, `lifetime`, `audience` | `ok`, the IdP's refusal code, or `sign_refused` when the device will not mint it |
//! | `replay` | | the verdict on the last `grant`'s assertion sent again |
//! | `rotate` | | `rotated` |
//! | `outage` / `recover` | | `down` / `up` |
//! | `skew` | `seconds` | `ok` (the device's clock runs that far ahead of the IdP's) |
//! | `flood` | `count` | `key_not_found` when every token with an unknown `kid` got it |

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::flow::{self, b64, tamper_scope, Host, T0};
use crate::idp::{self, IdpConfig, CLIENT_ASSERTION};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub idp: IdpSetup,
    #[serde(rename = "step", default)]
    pub steps: Vec<Step>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdpSetup {
    pub max_age: Option<u64>,
    pub skew: Option<u32>,
    pub access_ttl: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Refresh,
    State,
    Token,
    Verify,
    Tamper,
    Grant,
    Replay,
    Rotate,
    Outage,
    Recover,
    Skew,
    Flood,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub action: Action,
    pub expect: String,
    /// Seconds after T0 (both clocks).
    pub at: Option<u64>,
    /// Seconds to move both clocks on.
    pub advance: Option<u64>,
    pub name: Option<String>,
    pub token: Option<String>,
    pub scope: Option<String>,
    pub preset: Option<String>,
    pub jti: Option<String>,
    pub lifetime: Option<u32>,
    pub audience: Option<String>,
    pub seconds: Option<i64>,
    pub count: Option<u32>,
    pub note: Option<String>,
}

/// Parses a scenario file.
///
/// # Errors
/// The file cannot be read, is not a valid scenario (TOML), or has no `[[step]]`.
pub fn load(path: &std::path::Path) -> anyhow::Result<Scenario> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let s: Scenario = toml::from_str(&text)
        .with_context(|| format!("{} is not a valid scenario", path.display()))?;
    if s.steps.is_empty() {
        bail!("{}: no [[step]]", path.display());
    }
    Ok(s)
}

struct Run {
    h: Host,
    tokens: std::collections::HashMap<String, String>,
    last_grant: Option<Vec<(String, String)>>,
    jti_counter: u32,
}

impl Run {
    fn token(&self, step: &Step) -> anyhow::Result<String> {
        let name = step.token.as_deref().context("this action needs `token`")?;
        self.tokens
            .get(name)
            .cloned()
            .with_context(|| format!("no token named {name:?} (issue it with action \"token\")"))
    }

    fn post_grant(&mut self, form: Vec<(String, String)>) -> anyhow::Result<String> {
        let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let r = self.h.post("/oauth/v2/token", &pairs)?;
        self.last_grant = Some(form);
        Ok(if r.0 == 200 {
            "ok".into()
        } else {
            flow::refusal_code(&r)
        })
    }

    fn step(&mut self, s: &Step) -> anyhow::Result<String> {
        if let Some(at) = s.at {
            self.h.set_time(T0 + at)?;
        }
        if let Some(d) = s.advance {
            self.h.set_time(self.h.now + d)?;
        }
        let issuer = self.h.idp.url.clone();
        Ok(match s.action {
            Action::Refresh => match self.h.refresh()? {
                None => "none".into(),
                Some((_, Ok(l))) => format!("loaded:{}", l.loaded),
                Some((_, Err(_))) => "failed".into(),
            },
            Action::State => {
                let (_, fresh, _, _) = self.h.dev.refresh_state()?;
                ["never", "fresh", "stale", "expired"]
                    .get(usize::from(fresh))
                    .unwrap_or(&"unknown")
                    .to_string()
            }
            Action::Token => match self.h.grant(s.scope.as_deref().unwrap_or("openid"))? {
                Ok(t) => {
                    self.tokens
                        .insert(s.name.clone().context("action \"token\" needs `name`")?, t);
                    "issued".into()
                }
                Err(code) => code,
            },
            Action::Verify => {
                let t = self.token(s)?;
                self.h.verify(&t)?.code().into()
            }
            Action::Tamper => {
                let t = tamper_scope(&self.token(s)?)?;
                self.h.verify(&t)?.code().into()
            }
            Action::Grant => {
                let preset = s.preset.as_deref().unwrap_or("zitadel-user");
                match preset {
                    "zitadel-user" => {
                        let aud = s.audience.clone().unwrap_or(issuer);
                        let Ok(a) = self.h.try_mint(
                            1,
                            s.lifetime.unwrap_or(3600),
                            5,
                            &aud,
                            s.jti.as_deref().unwrap_or(""),
                        )?
                        else {
                            return Ok("sign_refused".into());
                        };
                        self.post_grant(vec![
                            ("grant_type".into(), idp::JWT_BEARER.into()),
                            ("assertion".into(), a),
                        ])?
                    }
                    "auth0" => {
                        let aud = s
                            .audience
                            .clone()
                            .unwrap_or(format!("{issuer}/oauth/v2/token"));
                        self.jti_counter += 1;
                        let jti = s
                            .jti
                            .clone()
                            .unwrap_or(format!("scenario-jti-{}-{}", self.h.now, self.jti_counter));
                        let Ok(a) = self
                            .h
                            .try_mint(4, s.lifetime.unwrap_or(300), 5, &aud, &jti)?
                        else {
                            return Ok("sign_refused".into());
                        };
                        self.post_grant(vec![
                            ("grant_type".into(), "client_credentials".into()),
                            ("client_assertion_type".into(), CLIENT_ASSERTION.into()),
                            ("client_assertion".into(), a),
                        ])?
                    }
                    other => bail!("unknown preset {other:?} (zitadel-user, auth0)"),
                }
            }
            Action::Replay => {
                let form = self
                    .last_grant
                    .clone()
                    .context("\"replay\" needs an earlier \"grant\"")?;
                self.post_grant(form)?
            }
            Action::Rotate => {
                self.h.idp.with(|st| st.rotate())??;
                "rotated".into()
            }
            Action::Outage => {
                self.h.idp.with(|st| st.outage = true)?;
                "down".into()
            }
            Action::Recover => {
                self.h.idp.with(|st| st.outage = false)?;
                "up".into()
            }
            Action::Skew => {
                self.h.skew = s.seconds.context("action \"skew\" needs `seconds`")?;
                self.h.set_time(self.h.now)?;
                "ok".into()
            }
            Action::Flood => {
                let n = s.count.unwrap_or(20);
                let mut codes = std::collections::BTreeMap::<String, u32>::new();
                for i in 0..n {
                    let fake = format!(
                        "{}.{}.{}",
                        b64(
                            format!(r#"{{"alg":"ES256","typ":"at+jwt","kid":"flood-{i}"}}"#)
                                .as_bytes()
                        ),
                        b64(format!(
                            r#"{{"iss":"{issuer}","aud":"device-api","exp":{}}}"#,
                            self.h.now + 600
                        )
                        .as_bytes()),
                        b64(&[7u8; 64])
                    );
                    *codes
                        .entry(self.h.verify(&fake)?.code().into())
                        .or_default() += 1;
                }
                if codes.len() == 1 && codes.contains_key("key_not_found") {
                    "key_not_found".into()
                } else {
                    codes
                        .iter()
                        .map(|(k, v)| format!("{k}x{v}"))
                        .collect::<Vec<_>>()
                        .join(",")
                }
            }
        })
    }
}

pub struct Qemu(Child);

impl Drop for Qemu {
    fn drop(&mut self) {
        kill_group(&mut self.0);
    }
}

/// Kills a child started with [`in_own_group`] together with everything it started (QEMU
/// runs two levels down, under the runner script).
pub fn kill_group(child: &mut Child) {
    // `kill -s KILL -- -PGID`: without `--`, `-PGID` is not read as a process group.
    let _ = Command::new("kill")
        .args(["-s", "KILL", "--", &format!("-{}", child.id())])
        .status();
    let _ = child.kill();
    let _ = child.wait();
}

/// Starts `cmd` as the leader of a new process group, for [`kill_group`].
pub fn in_own_group(cmd: &mut Command) -> &mut Command {
    use std::os::unix::process::CommandExt;
    cmd.process_group(0)
}

/// Spawns a `device serve` or `device qemu` command (its `--listen` port may be 0) and reads
/// the address it bound from its first stdout line, `listening on ADDR`. The rest of its
/// stdout is drained in the background.
///
/// # Errors
/// The command cannot be spawned, its stdout cannot be read, or its first line is not
/// `listening on ADDR` (the device did not start).
pub fn spawn_listening(cmd: &mut Command) -> anyhow::Result<(Child, String)> {
    use std::io::{BufRead, BufReader};
    let mut child = cmd.stdout(Stdio::piped()).spawn()?;
    let mut out = BufReader::new(child.stdout.take().context("no stdout pipe")?);
    let mut line = String::new();
    out.read_line(&mut line)?;
    let Some(addr) = line.trim_end().strip_prefix("listening on ") else {
        let status = child.wait()?;
        bail!("the device did not start ({status}); its first line was {line:?}");
    };
    let addr = addr.to_string();
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    Ok((child, addr))
}

/// Boots the firmware in QEMU (through `device qemu`) and waits for it to answer.
///
/// # Errors
/// The current executable cannot be found or started, QEMU does not report its address (see
/// [`spawn_listening`]), or the firmware cannot be reached or does not answer `HELLO` or
/// `INFO`.
pub fn boot_qemu(elf: &std::path::Path) -> anyhow::Result<(Qemu, String)> {
    let mut cmd = Command::new(std::env::current_exe()?);
    in_own_group(&mut cmd)
        .args(["device", "qemu", "--listen", "127.0.0.1:0", "--elf"])
        .arg(elf)
        .stderr(Stdio::null());
    let (child, addr) = spawn_listening(&mut cmd)?;
    let q = Qemu(child);
    let mut c = crate::client::DeviceClient::connect(&addr, Duration::from_secs(30))?;
    c.info().context("the firmware did not answer INFO")?;
    Ok((q, addr))
}

/// Runs one scenario; returns one result object per step.
///
/// # Errors
/// The host cannot be set up ([`Host::setup`]) or a step cannot be carried out (the device
/// or IdP fails, or the step lacks a field its action needs). A step whose outcome differs
/// from its `expect` is not an error: its result says `"ok": false`.
pub fn run_one(
    sc: &Scenario,
    device: Option<&str>,
    progress: &mut dyn FnMut(usize, &Value),
) -> anyhow::Result<Vec<Value>> {
    let d = IdpConfig::default();
    let cfg = IdpConfig {
        max_age: sc.idp.max_age.unwrap_or(600),
        skew: sc.idp.skew.unwrap_or(d.skew),
        access_ttl: sc.idp.access_ttl.unwrap_or(d.access_ttl),
        ..d
    };
    let (h, _, _) = Host::setup(device, cfg)?;
    let mut run = Run {
        h,
        tokens: Default::default(),
        last_grant: None,
        jti_counter: 0,
    };
    let mut out = vec![];
    for (i, s) in sc.steps.iter().enumerate() {
        let observed = run
            .step(s)
            .with_context(|| format!("{}: step {} ({:?})", sc.name, i + 1, s.action))?;
        let v = json!({
            "id": format!("{}#{}", sc.name, i + 1),
            "step": i + 1,
            "t": run.h.now - T0,
            "action": format!("{:?}", s.action).to_lowercase(),
            "detail": s.token.clone().or(s.name.clone()).or(s.preset.clone()).unwrap_or_default(),
            "expected": s.expect,
            "actual": observed,
            "ok": observed == s.expect,
            "note": s.note.clone().unwrap_or_default(),
        });
        progress(i, &v);
        out.push(v);
    }
    Ok(out)
}
