//! The filter's decision path timed outside Envoy: the same `Engine::check` the filter runs,
//! natively and compiled to wasm32-wasip1 under Node's V8, so the cost inside Envoy can be
//! split into the engine's (here) and Envoy's (the rest). `cargo xtask gateway-bench` runs it
//! both ways.
//!
//! ```text
//! cargo run --release --example verify_bench
//! cargo build --release --example verify_bench --target wasm32-wasip1  # then node (WASI)
//! ```
//!
//! `VERIFY_BENCH_ALG=RS256` runs one algorithm only and `VERIFY_BENCH_SCALE=10` runs ten
//! times the iterations, `VERIFY_BENCH_CACHE=off` (or `on`) runs without (with) the
//! verified-token cache only; for a profiler (`node --cpu-prof`, `perf record`).

use std::time::Instant;

use tokenguard::assertion::{encode, Aud, Claims};
use tokenguard::sign::SigningKey;
use tokenguard::Curve;
use tokenguard_proxy_wasm::config::parse;
use tokenguard_proxy_wasm::engine::{Engine, Verdict};

const RSA_PEM: &[u8] = include_bytes!("../../../tests/data/rsa2048.pkcs8.pem");

fn main() {
    let now = 1_800_000_000u64;
    let keys = [
        (
            "ES256",
            SigningKey::ec(Some(b"es"), Curve::P256, &[7u8; 32]).unwrap(),
        ),
        (
            "RS256",
            SigningKey::from_pem_or_der(RSA_PEM, Some(b"rs"), Some(tokenguard::alg::RS256))
                .unwrap(),
        ),
        (
            "EdDSA",
            SigningKey::ed25519(Some(b"ed"), &[9u8; 32]).unwrap(),
        ),
    ];
    let mut jwks = String::from("{\"keys\":[");
    for (i, (_, k)) in keys.iter().enumerate() {
        let mut buf = [0u8; 2048];
        if i > 0 {
            jwks.push(',');
        }
        jwks.push_str(k.public_jwk().unwrap().to_json(&mut buf, false).unwrap());
    }
    jwks.push_str("]}");
    let target = if cfg!(target_arch = "wasm32") {
        "wasm32 (V8)"
    } else {
        "native"
    };
    let only = std::env::var("VERIFY_BENCH_ALG").ok();
    let scale: u32 = std::env::var("VERIFY_BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let caches: &[usize] = match std::env::var("VERIFY_BENCH_CACHE").as_deref() {
        Ok("off") => &[0],
        Ok("on") => &[1024],
        _ => &[0, 1024],
    };
    for &cache in caches {
        let cfg = format!(
            r#"{{"issuers":["https://bench"],"audiences":["api"],"jwks":{{"cluster":"c","path":"/k"}},"token_cache":{{"max_entries":{cache}}}}}"#
        );
        let mut engine = Engine::new(parse(cfg.as_bytes()).unwrap());
        engine.load(jwks.as_bytes(), now, Some(3600)).unwrap();
        for (alg, key) in &keys {
            if only.as_deref().is_some_and(|o| o != *alg) {
                continue;
            }
            let claims = Claims {
                iss: Some("https://bench"),
                sub: Some("device-1"),
                aud: Aud::One("api"),
                iat: Some(now),
                exp: Some(now + 3600),
                ..Claims::EMPTY
            };
            let mut out = [0u8; 2048];
            let token = encode(key, Some("JWT"), &claims, None, &mut out).unwrap();
            let auth = format!("Bearer {token}");
            let header = |name: &str| (name == "authorization").then_some(auth.as_str());
            let n = scale
                * if cache > 0 {
                    20_000
                } else if *alg == "ES256" {
                    200
                } else {
                    1000
                };
            // Warm up (and, with the cache, fill it).
            for _ in 0..10 {
                assert!(matches!(
                    engine.check("/", &header, now),
                    Verdict::Accepted { .. }
                ));
            }
            let t = Instant::now();
            for _ in 0..n {
                assert!(matches!(
                    engine.check("/", &header, now),
                    Verdict::Accepted { .. }
                ));
            }
            let us = t.elapsed().as_secs_f64() * 1e6 / f64::from(n);
            let what = if cache > 0 { "cache hit" } else { "verify" };
            println!("{target} {alg} {what}: {us:.2} us");
        }
    }
}
