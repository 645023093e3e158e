//! `tokenguard-sim demo`: the IoT flow end to end, on one machine, no external services.
//!
//! A mock identity provider (real HTTP on loopback, [`tokenguard_sim::idp`]) and a simulated device
//! (the device protocol over TCP on loopback, the same logic the firmware runs) walk the
//! flow: the device mints a ZITADEL service-user assertion with its own key, the IdP
//! verifies it with tokenguard and issues an ES256 access token, the device's API side
//! verifies that token through its JWKS cache; then a key rotation, an Auth0-style
//! `private_key_jwt` with replay protection, clock skew, and a JWKS outage served from
//! stale keys within the window and refused after it. The clocks are simulated (set on the
//! device with `SET_TIME`, on the IdP through its admin state) so the hour-long outage takes
//! no time. Each step states what should happen, checks what did, and the command exits 1
//! if anything surprised it.

use clap::Args;
use serde_json::{json, Value};
use std::process::ExitCode;

use tokenguard_sim::flow::{access_token, b64, loaded, reply, tamper_scope, Host, T0};
use tokenguard_sim::idp::{IdpConfig, CLIENT_ASSERTION};

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Print only failures and the summary.
    #[arg(long)]
    quiet: bool,
    /// Print the result as JSON (steps with their verdicts) instead of the narrative.
    #[arg(long)]
    json: bool,
    /// Use a running device (`tokenguard-sim device serve|qemu`) at this address instead of
    /// starting a simulated one.
    #[arg(long, value_name = "HOST:PORT")]
    device: Option<String>,
}

struct Narrator {
    quiet: bool,
    json: bool,
    section: String,
    steps: Vec<Value>,
    failures: u32,
}

impl Narrator {
    fn say(&mut self, s: &str) {
        if s.trim_start()
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_digit())
        {
            self.section = s.trim().to_owned();
        }
        if !self.quiet && !self.json {
            tokenguard_sim::outln!("{s}");
        }
    }

    fn check(&mut self, what: &str, ok: bool, detail: &str) {
        if !ok {
            self.failures += 1;
        }
        // A stable id: the section's number and the check's place in it ("3.2").
        let number = self
            .section
            .split('.')
            .next()
            .unwrap_or_default()
            .to_owned();
        let place = self
            .steps
            .iter()
            .filter(|s| s["section"] == self.section.as_str())
            .count()
            + 1;
        self.steps.push(json!({
            "id": format!("{number}.{place}"),
            "section": self.section,
            "expected": what,
            "actual": detail,
            "ok": ok,
        }));
        if self.json {
            return;
        }
        if ok && !self.quiet {
            // The verdict is shown once: not again when the statement already names it.
            let d = if detail.is_empty() || what.contains(&format!("({detail})")) {
                String::new()
            } else {
                format!(" ({detail})")
            };
            tokenguard_sim::outln!("  [ok]   {what}{d}");
        } else if !ok {
            tokenguard_sim::outln!("  [FAIL] {what}: {detail}");
        }
    }
}

pub fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    let mut n = Narrator {
        quiet: args.quiet,
        json: args.json,
        section: String::new(),
        steps: vec![],
        failures: 0,
    };
    let cfg = IdpConfig {
        max_age: 600,
        skew: 1,
        access_ttl: 7200,
        ..IdpConfig::default()
    };
    let (mut h, info, dev_addr) = Host::setup(args.device.as_deref(), cfg)?;
    let issuer = h.idp.url.clone();

    n.say("tokenguard demo: a device, its identity provider, key rotation, replay, skew and an outage");
    n.say(&format!(
        "IdP (HTTP) at {issuer}; device (device protocol over TCP) at {dev_addr}"
    ));
    n.say("(simulated clocks from 2026-01-01T00:00:00Z; every verdict comes from tokenguard)\n");
    n.say(&format!(
        "device: tokenguard {} ({} key slots), Ed25519 signing key registered at the IdP\n",
        info.version, info.key_capacity
    ));

    n.say("1. The device's cache asks for the IdP's JWKS; the host fetches it over HTTP");
    let r = h.refresh()?;
    n.check(
        "initial fetch: 1 key loaded, max-age 600 from Cache-Control",
        matches!(&r, Some((1, Ok(l))) if l.loaded == 1),
        &loaded(&r),
    );
    let (_, _, expires, _) = h.dev.refresh_state()?;
    n.check(
        "the set expires after max-age",
        expires == T0 + 600,
        &format!("expires at T0+{}", expires.saturating_sub(T0)),
    );

    n.say("\n2. JWT-bearer grant (ZITADEL service user): the device signs, the IdP verifies");
    let r = h.bearer_grant(&issuer, Some("openid"))?;
    n.check(
        "IdP accepted the assertion (kid, iss = sub, aud = issuer, iat, exp <= 1 h)",
        r.0 == 200,
        &reply(&r),
    );
    let access = access_token(&r, "from the first grant")?;
    let r = h.bearer_grant("https://other.example", None)?;
    n.check(
        "an assertion for another audience is refused (wrong_audience)",
        r.0 == 400
            && r.1["error_description"]
                .as_str()
                .is_some_and(|d| d.starts_with("wrong_audience")),
        &reply(&r),
    );

    n.say("\n3. The device's API side verifies the access token through its JWKS cache");
    let v = h.verify(&access)?;
    n.check(
        "access token accepted (ES256, typ at+jwt)",
        v.code() == "accept",
        v.code(),
    );
    let v = h.verify(&tamper_scope(&access)?)?;
    n.check(
        "the same token with an edited scope is refused (bad_signature)",
        v.code() == "bad_signature",
        v.code(),
    );

    n.say("\n4. Clock skew: the device's clock runs 2 minutes fast");
    h.skew = 120;
    h.set_time(h.now)?;
    let r = h.bearer_grant(&issuer, None)?;
    n.check(
        "IdP refuses an iat 115 s in its future (issued_in_future)",
        r.0 == 400
            && r.1["error_description"]
                .as_str()
                .is_some_and(|d| d.starts_with("issued_in_future")),
        &reply(&r),
    );
    h.skew = 0;
    h.set_time(h.now)?;
    n.check(
        "after the device resynchronises its clock the grant works again",
        h.bearer_grant(&issuer, None)?.0 == 200,
        "",
    );

    n.say("\n5. Auth0-style private_key_jwt: a unique jti, used once");
    let endpoint = format!("{issuer}/oauth/v2/token");
    let jti = format!("jti-{}", h.now);
    let a = h.mint(4, 300, 5, &endpoint, &jti)?;
    let form = [
        ("grant_type", "client_credentials"),
        ("client_assertion_type", CLIENT_ASSERTION),
        ("client_assertion", a.as_str()),
    ];
    let r = h.post("/oauth/v2/token", &form)?;
    n.check(
        "client_credentials with the device's client assertion accepted",
        r.0 == 200,
        &reply(&r),
    );
    let r = h.post("/oauth/v2/token", &form)?;
    n.check(
        "the same assertion sent again is refused (replayed)",
        r.0 == 400
            && r.1["error_description"]
                .as_str()
                .is_some_and(|d| d.starts_with("replayed")),
        &reply(&r),
    );

    n.say("\n6. Key rotation: the IdP publishes a new key and signs with it");
    h.set_time(T0 + 120)?;
    let kid = h.idp.with(|s| s.rotate())??;
    let rotated = access_token(&h.bearer_grant(&issuer, Some("openid"))?, "after rotation")?;
    let v = h.verify(&rotated)?;
    let (_, _, _, pending) = h.dev.refresh_state()?;
    n.check(
        &format!("token under the unknown kid {kid} refused (key_not_found), refetch requested"),
        v.code() == "key_not_found" && pending,
        v.code(),
    );
    let r = h.refresh()?;
    n.check(
        "unknown-kid refetch (rate-limited: the last fetch was 120 s ago) loads both keys",
        matches!(&r, Some((3, Ok(l))) if l.loaded == 2),
        &loaded(&r),
    );
    let v = h.verify(&rotated)?;
    n.check(
        "token under the new key accepted",
        v.code() == "accept",
        v.code(),
    );
    let v = h.verify(&access)?;
    n.check(
        "token under the old key still accepted (both published)",
        v.code() == "accept",
        v.code(),
    );
    let mut flood = 0;
    for i in 0..20 {
        let fake = format!(
            "{}.{}.{}",
            b64(format!(r#"{{"alg":"ES256","typ":"at+jwt","kid":"flood-{i}"}}"#).as_bytes()),
            b64(br#"{"iss":"x","aud":"device-api","exp":9999999999}"#),
            b64(&[7u8; 64])
        );
        if h.verify(&fake)?.code() == "key_not_found" {
            flood += 1;
        }
    }
    let r = h.refresh()?;
    n.check(
        "20 tokens with unknown kids: all refused, no fetch within the 60 s interval",
        flood == 20 && r.is_none(),
        &format!("{flood} key_not_found, {}", loaded(&r)),
    );

    n.say("\n7. JWKS outage: the set expires while the IdP's JWKS endpoint is down");
    h.idp.with(|s| s.outage = true)?;
    let (_, _, expires, _) = h.dev.refresh_state()?;
    h.set_time(expires)?;
    let r = h.refresh()?;
    n.check(
        "expiry asks for a fetch, which fails (HTTP 503)",
        matches!(&r, Some((2, Err(_)))),
        &loaded(&r),
    );
    let during = access_token(
        &h.bearer_grant(&issuer, Some("openid"))?,
        "during the outage",
    )?;
    h.set_time(expires + 1800)?;
    let v = h.verify(&during)?;
    let (_, fresh, _, _) = h.dev.refresh_state()?;
    n.check(
        "30 min later: stale keys keep serving (stale window 1 h)",
        v.code() == "accept" && fresh == 2,
        &format!(
            "{}, keys {}",
            v.code(),
            tokenguard_sim::flow::freshness(fresh)
        ),
    );
    let r = h.refresh()?;
    n.check(
        "retries continue (every 30 s) while the IdP is down",
        matches!(&r, Some((4, Err(_)))),
        &loaded(&r),
    );
    h.set_time(expires + 3601)?;
    let v = h.verify(&during)?;
    n.check(
        "past the stale window fetched keys are refused (key_rejected)",
        v.code() == "key_rejected",
        v.code(),
    );

    n.say("\n8. The IdP recovers");
    h.idp.with(|s| s.outage = false)?;
    let r = h.refresh()?;
    n.check(
        "the retry loads the set again",
        matches!(&r, Some((4, Ok(l))) if l.loaded == 2),
        &loaded(&r),
    );
    let v = h.verify(&during)?;
    n.check(
        "the token issued during the outage is accepted again",
        v.code() == "accept",
        v.code(),
    );
    let fresh_token = access_token(&h.bearer_grant(&issuer, Some("openid"))?, "after recovery")?;
    let v = h.verify(&fresh_token)?;
    n.check(
        "a new access token is accepted",
        v.code() == "accept",
        v.code(),
    );
    h.set_time(h.now + 7300)?;
    let r = h.refresh()?;
    n.check(
        "two hours later the expired set is fetched again",
        matches!(&r, Some((2, Ok(_)))),
        &loaded(&r),
    );
    let v = h.verify(&fresh_token)?;
    n.check(
        "and the access token has expired (expired)",
        v.code() == "expired",
        v.code(),
    );

    let st = h.dev.stats()?;
    let idp_state = h.idp.with(|s| s.counters)?;
    let total = n.steps.len();
    if args.json {
        tokenguard_sim::outln!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "passed": n.failures == 0, "checks": total, "failures": n.failures, "steps": n.steps,
                "device": {"accepted": st.accepted, "rejected": st.rejected.iter().sum::<u32>(), "fetches": st.fetches, "fetch_failures": st.fetch_failures},
                "idp": {"jwks_served": idp_state[0], "jwks_refused": idp_state[1], "tokens_issued": idp_state[2], "refused": idp_state[3]},
            }))?
        );
    } else {
        use tokenguard_sim::flow::plural;
        n.say(&format!(
            "\ndevice: {} accepted, {} rejected, {} ({} failed); IdP: {} served, {} refused, {} issued, {} refused",
            st.accepted,
            st.rejected.iter().sum::<u32>(),
            plural(st.fetches, "fetch").replace("fetchs", "fetches"),
            st.fetch_failures,
            plural(idp_state[0], "JWKS response"),
            idp_state[1],
            plural(idp_state[2], "token"),
            plural(idp_state[3], "request")
        ));
        if n.failures == 0 {
            tokenguard_sim::outln!("demo passed: {}", plural(total as u64, "check"));
        } else {
            tokenguard_sim::outln!(
                "demo FAILED: {} of {}",
                n.failures,
                plural(total as u64, "check")
            );
        }
    }
    Ok(if n.failures == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
