//! `tokenguard-sim demo`: the IoT flow end to end, on one machine, no external services.
//!
//! Everything runs against a simulated clock so the run is deterministic and quick: an
//! identity provider (IdP) with a rotating ES256 signing key and a JWKS endpoint that can be
//! taken down, and a device whose API side verifies access tokens through a `JwkCache`.
//! Each step states what should happen, checks what did, and the command exits 1 on the
//! first surprise.

use anyhow::Context;
use clap::Args;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair};
use tokenguard::{
    alg, AlgSet, Error, Expect, FetchReason, Freshness, Jwk, JwkCache, KeyError, KeySet,
    RefreshPolicy, Validation,
};

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Print only failures and the summary.
    #[arg(long)]
    quiet: bool,
}

const ISSUER: &str = "https://idp.tokenguard.test";
const API_AUDIENCE: &str = "device-api";
const DEVICE_ID: &str = "device-0042";

fn b64(data: &[u8]) -> String {
    let mut out = vec![0u8; tokenguard::b64::encoded_len(data.len())];
    let n = tokenguard::b64::encode(data, &mut out).unwrap_or(0);
    out.truncate(n);
    String::from_utf8(out).unwrap_or_default()
}

struct SigningKey {
    kid: String,
    pair: EcdsaKeyPair,
}

impl SigningKey {
    fn generate(kid: &str) -> anyhow::Result<SigningKey> {
        let rng = SystemRandom::new();
        let a = &signature::ECDSA_P256_SHA256_FIXED_SIGNING;
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(a, &rng).map_err(|_| anyhow::anyhow!("keygen"))?;
        let pair = EcdsaKeyPair::from_pkcs8(a, pkcs8.as_ref(), &rng)
            .map_err(|_| anyhow::anyhow!("key"))?;
        Ok(SigningKey {
            kid: kid.into(),
            pair,
        })
    }

    fn jwk(&self) -> String {
        let pk = self.pair.public_key().as_ref();
        format!(
            r#"{{"kty":"EC","crv":"P-256","use":"sig","alg":"ES256","kid":"{}","x":"{}","y":"{}"}}"#,
            self.kid,
            b64(pk.get(1..33).unwrap_or(&[])),
            b64(pk.get(33..65).unwrap_or(&[]))
        )
    }

    fn sign(&self, claims: &str) -> anyhow::Result<String> {
        let header = format!(r#"{{"alg":"ES256","typ":"at+jwt","kid":"{}"}}"#, self.kid);
        let input = format!("{}.{}", b64(header.as_bytes()), b64(claims.as_bytes()));
        let sig = self
            .pair
            .sign(&SystemRandom::new(), input.as_bytes())
            .map_err(|_| anyhow::anyhow!("sign"))?;
        Ok(format!("{input}.{}", b64(sig.as_ref())))
    }
}

/// The mock identity provider.
struct Idp {
    keys: Vec<SigningKey>,
    max_age: u64,
    outage: bool,
    /// The device's registered public key (for the JWT-bearer assertion).
    clients: KeySet<4>,
    issued: u32,
}

impl Idp {
    fn jwks(&self) -> Result<(String, u64), &'static str> {
        if self.outage {
            return Err("503 Service Unavailable");
        }
        let keys: Vec<String> = self.keys.iter().map(SigningKey::jwk).collect();
        Ok((format!(r#"{{"keys":[{}]}}"#, keys.join(",")), self.max_age))
    }

    fn current(&self) -> anyhow::Result<&SigningKey> {
        self.keys.last().context("IdP has no signing key")
    }

    /// Token endpoint, JWT-bearer grant: verifies the device's assertion with tokenguard
    /// (ZITADEL's checks: aud = issuer, iss = sub, iat not in the future, exp within 1 h).
    fn token(&mut self, assertion: &str, now: u64) -> Result<String, Error> {
        let v = Validation::new(Expect::One(DEVICE_ID), Expect::One(ISSUER))
            .subject(DEVICE_ID)
            .algorithms(AlgSet::from_slice(&[alg::EDDSA, alg::ES256, alg::RS256]))
            .leeway(1)
            .max_age(3600);
        let mut buf = vec![0u8; assertion.len()];
        let t = self
            .clients
            .verify(assertion.as_bytes(), &v, now, &mut buf)?;
        if let (Some(iat), Some(exp)) = (t.claims().iat(), t.claims().exp()) {
            if exp > iat + 3600 {
                return Err(Error::InvalidClaim(tokenguard::Claim::Exp));
            }
        }
        self.issued += 1;
        let claims = format!(
            r#"{{"iss":"{ISSUER}","sub":"{DEVICE_ID}","aud":"{API_AUDIENCE}","iat":{now},"exp":{},"jti":"at-{}","scope":"telemetry:write"}}"#,
            now + 900,
            self.issued
        );
        self.current()
            .and_then(|k| k.sign(&claims))
            .map_err(|_| Error::BadSignature)
    }
}

/// The device: an Ed25519 key of its own, and the API side's JWKS cache.
struct Device {
    key: Ed25519KeyPair,
    cache: JwkCache<8>,
}

impl Device {
    fn assertion(&self, now: u64) -> String {
        let header = r#"{"alg":"EdDSA","typ":"JWT","kid":"device-key-1"}"#;
        let claims = format!(
            r#"{{"iss":"{DEVICE_ID}","sub":"{DEVICE_ID}","aud":"{ISSUER}","iat":{},"exp":{}}}"#,
            now - 5,
            now + 300
        );
        let input = format!("{}.{}", b64(header.as_bytes()), b64(claims.as_bytes()));
        format!("{input}.{}", b64(self.key.sign(input.as_bytes()).as_ref()))
    }

    fn verify(&mut self, token: &str, now: u64) -> Result<String, Error> {
        let v = Validation::new(Expect::One(ISSUER), Expect::One(API_AUDIENCE))
            .typ("at+jwt")
            .algorithms(AlgSet::ASYMMETRIC);
        let mut buf = vec![0u8; token.len()];
        self.cache
            .verify(token.as_bytes(), &v, now, &mut buf)
            .map(|t| t.claims_json().to_owned())
    }

    /// Does what the cache asks for; returns what happened.
    fn refresh(&mut self, idp: &Idp, now: u64) -> Option<(FetchReason, Result<u16, String>)> {
        let reason = self.cache.poll(now)?;
        self.cache.fetch_started(now);
        let outcome = match idp.jwks() {
            Ok((doc, max_age)) => self
                .cache
                .load_jwks(doc.as_bytes(), now, Some(max_age), &mut |_| {})
                .map(|r| r.loaded)
                .map_err(|e| e.to_string()),
            Err(e) => {
                self.cache.fetch_failed(now);
                Err(e.to_string())
            }
        };
        Some((reason, outcome))
    }
}

struct Narrator {
    quiet: bool,
    step: u32,
    failures: u32,
}

impl Narrator {
    fn say(&self, s: &str) {
        if !self.quiet {
            println!("{s}");
        }
    }

    fn check(&mut self, what: &str, ok: bool, detail: &str) {
        self.step += 1;
        if ok {
            if !self.quiet {
                println!(
                    "  [ok]   {what}{}",
                    if detail.is_empty() {
                        String::new()
                    } else {
                        format!(" ({detail})")
                    }
                );
            }
        } else {
            self.failures += 1;
            println!("  [FAIL] {what}: {detail}");
        }
    }
}

/// Re-encodes the payload with a wider scope, keeping the original signature.
fn tamper_scope(token: &str) -> anyhow::Result<String> {
    let mut parts = token.split('.');
    let (h, p, s) = (parts.next(), parts.next(), parts.next());
    let (Some(h), Some(p), Some(s)) = (h, p, s) else {
        anyhow::bail!("not a JWS")
    };
    let mut raw = vec![0u8; p.len()];
    let len =
        tokenguard::b64::decode(p.as_bytes(), &mut raw).map_err(|_| anyhow::anyhow!("payload"))?;
    raw.truncate(len);
    let edited = String::from_utf8(raw)?.replace("telemetry:write", "admin:all");
    Ok(format!("{h}.{}.{s}", b64(edited.as_bytes())))
}

fn code(r: &Result<String, Error>) -> String {
    match r {
        Ok(_) => "accepted".into(),
        Err(e) => format!("rejected: {}", e.code()),
    }
}

pub fn run(args: DemoArgs) -> anyhow::Result<i32> {
    let mut n = Narrator {
        quiet: args.quiet,
        step: 0,
        failures: 0,
    };
    let mut now: u64 = 1_767_225_600; // simulated clock: 2026-01-01T00:00:00Z
    let policy = RefreshPolicy {
        stale_for: 1800,
        ..RefreshPolicy::DEFAULT
    };

    n.say("tokenguard demo: a device, its identity provider, key rotation and an outage");
    n.say("(simulated clock; every verdict below comes from tokenguard's verifier)\n");

    // Set-up.
    let rng = SystemRandom::new();
    let dev_pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).map_err(|_| anyhow::anyhow!("keygen"))?;
    let dev_key =
        Ed25519KeyPair::from_pkcs8(dev_pkcs8.as_ref()).map_err(|_| anyhow::anyhow!("key"))?;
    let dev_pub: [u8; 32] = dev_key
        .public_key()
        .as_ref()
        .try_into()
        .context("ed25519 key")?;
    let mut idp = Idp {
        keys: vec![SigningKey::generate("idp-2026-01")?],
        max_age: 600,
        outage: false,
        clients: KeySet::new(),
        issued: 0,
    };
    idp.clients
        .pin(
            Jwk::ed25519(Some(b"device-key-1"), &dev_pub, Some(alg::EDDSA))
                .map_err(|e| anyhow::anyhow!("{e}"))?,
        )
        .map_err(|_| anyhow::anyhow!("client registry full"))?;
    let mut dev = Device {
        key: dev_key,
        cache: JwkCache::new(policy),
    };

    n.say("1. The device fetches the IdP's JWKS (Cache-Control: max-age=600)");
    let r = dev.refresh(&idp, now);
    n.check(
        "cache asked for its initial fetch and loaded 1 key",
        matches!(r, Some((FetchReason::Initial, Ok(1)))),
        &format!("{r:?}"),
    );

    n.say("\n2. JWT-bearer grant: the device signs an assertion (EdDSA), the IdP verifies it");
    let assertion = dev.assertion(now);
    let access = idp.token(&assertion, now);
    n.check(
        "IdP accepted the assertion (aud = issuer, iss = sub, iat, exp <= 1 h)",
        access.is_ok(),
        &format!("{:?}", access.as_ref().err()),
    );
    let access = access.map_err(|e| anyhow::anyhow!("token endpoint: {e}"))?;
    let late = dev.assertion(now - 4000);
    let r = idp.token(&late, now);
    n.check(
        "IdP refuses an assertion issued more than 1 h ago",
        r == Err(Error::Expired),
        &format!("{:?}", r.err()),
    );

    n.say("\n3. The device's API verifies the ES256 access token through its JWKS cache");
    let r = dev.verify(&access, now + 1);
    n.check("access token accepted", r.is_ok(), &code(&r));
    let tampered = tamper_scope(&access)?;
    let r = dev.verify(&tampered, now + 1);
    n.check(
        "token with an edited scope rejected (bad_signature)",
        r == Err(Error::BadSignature),
        &code(&r),
    );

    n.say("\n4. Key rotation: the IdP publishes a new key and signs with it");
    now += 120;
    idp.keys.push(SigningKey::generate("idp-2026-02")?);
    let rotated = idp
        .token(&dev.assertion(now), now)
        .map_err(|e| anyhow::anyhow!("token endpoint: {e}"))?;
    let r = dev.verify(&rotated, now);
    n.check(
        "token under the unknown kid rejected (key_not_found) and a refetch requested",
        r == Err(Error::KeyNotFound) && dev.cache.unknown_kid_pending(),
        &code(&r),
    );
    let r = dev.refresh(&idp, now);
    n.check(
        "unknown-kid refetch is rate-limited (last fetch 120 s ago, minimum 60 s)",
        matches!(r, Some((FetchReason::UnknownKid, Ok(2)))),
        &format!("{r:?}"),
    );
    let r = dev.verify(&rotated, now);
    n.check("token under the new key accepted", r.is_ok(), &code(&r));
    let r = dev.verify(&access, now);
    n.check(
        "token under the old key still accepted (both keys published)",
        r.is_ok(),
        &code(&r),
    );
    let rogue = SigningKey::generate("idp-unknown")?.sign(&format!(
        r#"{{"iss":"{ISSUER}","aud":"{API_AUDIENCE}","exp":{}}}"#,
        now + 60
    ))?;
    let flood = dev.verify(&rogue, now + 1);
    let polled = dev.cache.poll(now + 1);
    n.check(
        "a flood of unknown kids does not trigger fetches within the interval",
        polled.is_none() && flood.is_err(),
        &format!("poll {polled:?}"),
    );

    n.say("\n5. JWKS outage: the set expires while the IdP is down");
    idp.outage = true;
    now = dev.cache.expires_at();
    let token = idp.current()?.sign(&format!(
        r#"{{"iss":"{ISSUER}","sub":"{DEVICE_ID}","aud":"{API_AUDIENCE}","iat":{now},"exp":{}}}"#,
        now + 3600
    ))?;
    let r = dev.refresh(&idp, now);
    n.check(
        "expiry triggers a fetch, which fails",
        matches!(&r, Some((FetchReason::Expired, Err(_)))),
        &format!("{r:?}"),
    );
    now += 600;
    let r = dev.verify(&token, now);
    n.check(
        "stale keys keep serving within the 30 min window",
        r.is_ok() && dev.cache.freshness(now) == Freshness::Stale,
        &format!("{}, {:?}", code(&r), dev.cache.freshness(now)),
    );
    let r = dev.refresh(&idp, now);
    n.check(
        "retries continue while the IdP is down",
        matches!(&r, Some((FetchReason::Retry, Err(_)))),
        &format!("{r:?}"),
    );
    now += 1300;
    let r = dev.verify(&token, now);
    n.check(
        "after the stale window, fetched keys are refused (key_rejected)",
        r == Err(Error::KeyRejected(KeyError::Stale)),
        &code(&r),
    );

    n.say("\n6. The IdP recovers");
    idp.outage = false;
    let r = dev.refresh(&idp, now);
    n.check(
        "the retry loads the set again",
        matches!(r, Some((FetchReason::Retry, Ok(2)))),
        &format!("{r:?}"),
    );
    let r = dev.verify(&token, now);
    n.check("the same token is accepted again", r.is_ok(), &code(&r));

    let st = dev.cache.stats();
    n.say(&format!(
        "\ndevice cache: {} accepted, {} rejected, {} fetches ({} failed)",
        st.accepted,
        st.rejected.iter().sum::<u32>(),
        st.fetches,
        st.fetch_failures
    ));
    if n.failures == 0 {
        println!("demo passed: {} checks", n.step);
        Ok(0)
    } else {
        println!("demo FAILED: {} of {} checks", n.failures, n.step);
        Ok(1)
    }
}
