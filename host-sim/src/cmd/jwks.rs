//! `tokenguard-sim jwks fetch`: a JWK Set from a URL into a file or a device, honouring
//! `Cache-Control: max-age`, with timeouts and a size limit.

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand};
use tokenguard::RefreshPolicy;

use tokenguard_sim::client::DeviceClient;
use tokenguard_sim::idp;

#[derive(Args, Debug)]
pub struct JwksArgs {
    #[command(subcommand)]
    cmd: JwksCmd,
}

#[derive(Subcommand, Debug)]
enum JwksCmd {
    /// Fetch a JWK Set (checked by tokenguard) into a file or a device.
    Fetch(FetchArgs),
}

#[derive(Args, Debug)]
#[command(group(clap::ArgGroup::new("target").required(true).multiple(true).args(["output", "device"])))]
pub struct FetchArgs {
    /// The JWK Set URL (e.g. https://TENANT/.well-known/jwks.json, ZITADEL's /oauth/v2/keys).
    url: String,
    /// Write the set to this file (atomically; a set with no usable key never replaces it).
    #[arg(long)]
    output: Option<PathBuf>,
    /// Stream the set into a device (`device serve` or `device qemu`) at HOST:PORT.
    #[arg(long, value_name = "HOST:PORT")]
    device: Option<String>,
    /// Keep going: fetch again when max-age runs out (clamped to 60 s..1 day, default 1 h
    /// without one), retrying every 30 s after a failure.
    #[arg(long)]
    watch: bool,
    /// Stop watching after this many fetches (0: never).
    #[arg(long, default_value_t = 0)]
    count: u32,
    #[command(flatten)]
    limits: super::jwk::FetchLimits,
    /// Print one JSON object per fetch.
    #[arg(long)]
    json: bool,
}

/// A set that was fetched but must not replace what the file or the device holds (exit 1).
#[derive(Debug)]
struct Refused(String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

/// One fetch: `(keys usable, keys skipped, max-age)`.
fn once(
    a: &FetchArgs,
    dev: &mut Option<DeviceClient<TcpStream>>,
) -> anyhow::Result<(usize, usize, Option<u64>)> {
    let (body, cc) = a.limits.fetch(&a.url)?;
    let max_age = idp::max_age(cc.as_deref());
    // Check the set with tokenguard before handing it on: a set with no usable key (or not
    // a set at all) never replaces a good one, in the file or on the device.
    let mut set: tokenguard_sim::Keys<64> = tokenguard_sim::Keys::new();
    set.allow_mixed_key_types(true);
    let mut skipped = 0;
    let keep = match (&a.output, &a.device) {
        (Some(p), Some(d)) => format!("{} and the device at {d} keep", p.display()),
        (Some(p), None) => format!("{} keeps", p.display()),
        (None, Some(d)) => format!("the device at {d} keeps"),
        (None, None) => "nothing changes:".into(),
    };
    let report = set
        .load_jwks(&body, &mut |e| {
            if let tokenguard::UpdateEvent::Skipped(s) = e {
                skipped += 1;
                eprintln!("warning: key #{} skipped: {}", s.index, s.reason);
            }
        })
        .map_err(|e| {
            Refused(format!(
                "{}: not a usable JWK Set: {e}; {keep} its keys",
                a.url
            ))
        })?;
    if let Some(d) = dev.as_mut() {
        let age = max_age.and_then(|m| u32::try_from(m).ok());
        match d.load_jwks(&body, 512, age)? {
            Ok(r) => {
                if r.loaded != report.loaded {
                    eprintln!(
                        "note: the device took {} of the {} usable keys (its key types or limits differ)",
                        r.loaded, report.loaded
                    );
                }
                let keys = |n: u16| {
                    if n == 1 {
                        "1 key".into()
                    } else {
                        format!("{n} keys")
                    }
                };
                eprintln!(
                    "device: {} in force ({} unchanged, {} removed, {} skipped)",
                    keys(r.loaded),
                    r.unchanged,
                    r.removed,
                    r.skipped
                );
            }
            Err(why) => {
                return Err(Refused(format!(
                    "the device refused the set: {why}; its old keys stay"
                ))
                .into())
            }
        }
    }
    if let Some(p) = &a.output {
        tokenguard_sim::out::write_file(p, &body, false)?;
    }
    Ok((usize::from(report.loaded), skipped, max_age))
}

pub fn run(args: JwksArgs) -> anyhow::Result<ExitCode> {
    let JwksCmd::Fetch(a) = args.cmd;
    let mut dev = match &a.device {
        Some(addr) => {
            let mut d = DeviceClient::connect(addr, Duration::from_secs(30))?;
            let now = tokenguard_sim::util::unix_now();
            if !d.info()?.clock_set {
                d.set_time(now)?;
            }
            Some(d)
        }
        None => None,
    };
    let p = RefreshPolicy::DEFAULT;
    let mut fetches = 0u32;
    loop {
        fetches += 1;
        let wait = match once(&a, &mut dev) {
            Ok((keys, skipped, max_age)) => {
                let next = max_age
                    .unwrap_or(p.default_max_age)
                    .clamp(p.min_max_age, p.max_max_age);
                if a.json {
                    tokenguard_sim::outln!(
                        "{}",
                        serde_json::json!({"ok": true, "keys": keys, "skipped": skipped, "max_age": max_age, "next_fetch_in": next})
                    );
                } else {
                    eprintln!(
                        "fetched {}: {keys} keys ({skipped} skipped), max-age {}; next fetch in {next} s",
                        a.url,
                        max_age.map_or("absent".into(), |m| m.to_string())
                    );
                }
                next
            }
            Err(e) if a.watch => {
                if let Some(d) = dev.as_mut() {
                    d.fetch_failed()?;
                }
                if a.json {
                    tokenguard_sim::outln!(
                        "{}",
                        serde_json::json!({"ok": false, "error": format!("{e:#}"), "next_fetch_in": p.retry_after})
                    );
                } else {
                    eprintln!(
                        "fetch failed: {e:#}; the old keys stay; retry in {} s",
                        p.retry_after
                    );
                }
                p.retry_after
            }
            Err(e) => {
                if e.is::<Refused>() {
                    eprintln!("error: {e:#}");
                    return Ok(ExitCode::FAILURE);
                }
                return Err(e);
            }
        };
        if !a.watch || (a.count > 0 && fetches >= a.count) {
            return Ok(ExitCode::SUCCESS);
        }
        std::thread::sleep(Duration::from_secs(wait));
    }
}
