//! The mock IdP over real HTTP: discovery, JWKS with max-age and outages, the JWT-bearer
//! and `private_key_jwt` grants with ZITADEL's and Auth0's checks, introspection, and
//! `tokenguard-sim jwks fetch` against it.

use std::process::Command;

use serde_json::Value;
use tokenguard::assertion::{encode, presets, Aud, Claims};
use tokenguard::sign::SigningKey;
use tokenguard_sim::idp::{self, ClientKind, Idp, IdpConfig, CLIENT_ASSERTION, JWT_BEARER};

const NOW: u64 = 1_767_225_600;
/// RFC 8037 A.1 Ed25519 key.
const D: &str = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A";
const X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";

fn key(kid: &str) -> SigningKey {
    let jwk = format!(r#"{{"kty":"OKP","crv":"Ed25519","kid":"{kid}","d":"{D}","x":"{X}"}}"#);
    SigningKey::from_jwk(jwk.as_bytes()).unwrap()
}

fn public(kid: &str) -> String {
    format!(r#"{{"kty":"OKP","crv":"Ed25519","kid":"{kid}","alg":"EdDSA","x":"{X}"}}"#)
}

fn mint(k: &SigningKey, c: &Claims<'_>) -> String {
    let mut buf = vec![0u8; 2048];
    encode(k, Some("JWT"), c, None, &mut buf)
        .unwrap()
        .to_owned()
}

fn start() -> Idp {
    let idp = Idp::start("127.0.0.1:0", IdpConfig::default()).unwrap();
    idp.with(|s| {
        s.sim_now = Some(NOW);
        s.register("user-1", ClientKind::ServiceUser, &public("k-user"))
            .unwrap();
        s.register("app-1", ClientKind::ApiApp, &public("k-app"))
            .unwrap();
        s.register("auth0-client", ClientKind::Auth0App, &public("k-auth0"))
            .unwrap();
    })
    .unwrap();
    idp
}

fn grant(idp: &Idp, assertion: &str) -> (u16, Value) {
    idp::post_form(
        &idp::agent(),
        &format!("{}/oauth/v2/token", idp.url),
        &[("grant_type", JWT_BEARER), ("assertion", assertion)],
    )
    .unwrap()
}

fn description(r: &(u16, Value)) -> String {
    r.1["error_description"].as_str().unwrap_or("").to_owned()
}

#[test]
fn discovery_and_jwks_with_max_age_and_outage() {
    let idp = start();
    let http = idp::agent();
    let mut r = http
        .get(&format!("{}/.well-known/openid-configuration", idp.url))
        .call()
        .unwrap();
    let d: Value = serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap();
    assert_eq!(d["issuer"], idp.url);
    assert_eq!(d["jwks_uri"], format!("{}/oauth/v2/keys", idp.url));
    for path in ["/oauth/v2/keys", "/.well-known/jwks.json"] {
        let mut r = http.get(&format!("{}{path}", idp.url)).call().unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(
            r.headers().get("cache-control").unwrap().to_str().unwrap(),
            "public, max-age=600"
        );
        let set: Value = serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap();
        assert_eq!(set["keys"].as_array().unwrap().len(), 1);
        assert_eq!(set["keys"][0]["kid"], "idp-key-1");
        assert_eq!(set["keys"][0]["alg"], "ES256");
        assert!(set["keys"][0].get("d").is_none());
    }
    // Rotation keeps the previous key published; a second rotation drops the oldest.
    idp.with(|s| s.rotate().unwrap()).unwrap();
    idp.with(|s| s.rotate().unwrap()).unwrap();
    let kids: Vec<String> = idp
        .with(|s| {
            s.jwks()["keys"]
                .as_array()
                .unwrap()
                .iter()
                .map(|k| k["kid"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap();
    assert_eq!(kids, ["idp-key-2", "idp-key-3"]);
    // Outage through the admin endpoint.
    let (s, _) = idp::post_form(
        &http,
        &format!("{}/admin/outage", idp.url),
        &[("on", "true")],
    )
    .unwrap();
    assert_eq!(s, 200);
    assert_eq!(
        http.get(&format!("{}/oauth/v2/keys", idp.url))
            .call()
            .unwrap()
            .status(),
        503
    );
    idp::post_form(
        &http,
        &format!("{}/admin/outage", idp.url),
        &[("on", "false")],
    )
    .unwrap();
    assert_eq!(
        http.get(&format!("{}/oauth/v2/keys", idp.url))
            .call()
            .unwrap()
            .status(),
        200
    );
    assert_eq!(idp.with(|s| s.counters).unwrap()[..2], [3, 1]);
}

#[test]
fn jwt_bearer_grant_applies_zitadels_checks() {
    let idp = start();
    let iss = idp.url.clone();
    let k = key("k-user");
    let t = presets::Timing::new(NOW, 3600);
    let good = mint(
        &k,
        &presets::zitadel_service_user("user-1", &iss, t).unwrap(),
    );
    let r = grant(&idp, &good);
    assert_eq!(r.0, 200, "{r:?}");
    assert_eq!(r.1["token_type"], "Bearer");
    // The access token verifies against the published JWKS.
    let jwks = idp.with(|s| s.jwks().to_string()).unwrap();
    let mut set: tokenguard::KeySet<4> = tokenguard::KeySet::new();
    set.load_jwks(jwks.as_bytes(), &mut |_| {}).unwrap();
    let at = r.1["access_token"].as_str().unwrap();
    let v = tokenguard::Validation::new(
        tokenguard::Expect::One(&iss),
        tokenguard::Expect::One("device-api"),
    )
    .typ("at+jwt");
    let mut buf = vec![0u8; at.len()];
    let tok = set.verify(at.as_bytes(), &v, NOW, &mut buf).unwrap();
    assert_eq!(tok.claims().sub().unwrap().as_str(), Some("user-1"));

    let claims =
        |iss_: &'static str, sub: &'static str, aud: &'static str, iat: u64, exp: u64| Claims {
            iss: Some(iss_),
            sub: Some(sub),
            aud: Aud::One(aud),
            iat: Some(iat),
            exp: Some(exp),
            ..Claims::EMPTY
        };
    let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
    let aud = leak(iss.clone());
    for (c, want) in [
        (
            claims("user-1", "user-1", "https://elsewhere", NOW, NOW + 60),
            "wrong_audience",
        ),
        (
            claims("user-1", "someone", aud, NOW, NOW + 60),
            "wrong_subject",
        ),
        (
            claims("user-2", "user-2", aud, NOW, NOW + 60),
            "wrong_issuer",
        ),
        (
            claims("user-1", "user-1", aud, NOW + 5, NOW + 60),
            "issued_in_future",
        ),
        (
            claims("user-1", "user-1", aud, NOW, NOW + 3601),
            "invalid_claim",
        ),
        (
            claims("user-1", "user-1", aud, NOW - 100, NOW - 10),
            "expired",
        ),
    ] {
        let r = grant(&idp, &mint(&k, &c));
        assert_eq!(r.0, 400);
        assert_eq!(r.1["error"], "invalid_grant");
        assert!(description(&r).starts_with(want), "{want}: {r:?}");
    }
    // iat one second ahead is within ZITADEL's skew.
    assert_eq!(
        grant(
            &idp,
            &mint(&k, &claims("user-1", "user-1", aud, NOW + 1, NOW + 60))
        )
        .0,
        200
    );
    // An app key cannot use the service-user grant; an unknown kid is refused.
    let app = mint(&key("k-app"), &claims("app-1", "app-1", aud, NOW, NOW + 60));
    assert!(
        description(&grant(&idp, &app)).starts_with("key_not_found"),
        "{:?}",
        grant(&idp, &app)
    );
    let stranger = mint(
        &key("k-unknown"),
        &claims("user-1", "user-1", aud, NOW, NOW + 60),
    );
    assert!(description(&grant(&idp, &stranger)).starts_with("key_not_found"));
    // Malformed requests.
    let form = |f: &[(&str, &str)]| {
        idp::post_form(&idp::agent(), &format!("{}/oauth/v2/token", idp.url), f).unwrap()
    };
    assert_eq!(
        form(&[("grant_type", "password")]).1["error"],
        "unsupported_grant_type"
    );
    assert_eq!(
        form(&[("grant_type", JWT_BEARER)]).1["error"],
        "invalid_request"
    );
    assert!(description(&grant(&idp, "not.a.jwt")).starts_with("malformed"));
}

#[test]
fn private_key_jwt_needs_a_fresh_jti_and_introspection_needs_an_app_assertion() {
    let idp = start();
    let endpoint = format!("{}/oauth/v2/token", idp.url);
    let k = key("k-auth0");
    let t = presets::Timing::new(NOW, 300);
    let a = mint(
        &k,
        &presets::auth0_private_key_jwt("auth0-client", &endpoint, "jti-1", t).unwrap(),
    );
    let send = |a: &str| {
        idp::post_form(
            &idp::agent(),
            &endpoint,
            &[
                ("grant_type", "client_credentials"),
                ("client_assertion_type", CLIENT_ASSERTION),
                ("client_assertion", a),
            ],
        )
        .unwrap()
    };
    let r = send(&a);
    assert_eq!(r.0, 200, "{r:?}");
    let at = r.1["access_token"].as_str().unwrap().to_owned();
    let again = send(&a);
    assert_eq!(again.1["error"], "invalid_client");
    assert!(description(&again).starts_with("replayed"), "{again:?}");
    // A new jti works; no jti is refused; six minutes is too long.
    let b = mint(
        &k,
        &presets::auth0_private_key_jwt("auth0-client", &endpoint, "jti-2", t).unwrap(),
    );
    assert_eq!(send(&b).0, 200);
    let no_jti = mint(
        &k,
        &Claims {
            iss: Some("auth0-client"),
            sub: Some("auth0-client"),
            aud: Aud::One(&endpoint),
            iat: Some(NOW),
            exp: Some(NOW + 60),
            ..Claims::EMPTY
        },
    );
    assert!(
        description(&send(&no_jti)).starts_with("missing_claim"),
        "{:?}",
        send(&no_jti)
    );
    let long = mint(
        &k,
        &Claims {
            iss: Some("auth0-client"),
            sub: Some("auth0-client"),
            aud: Aud::One(&endpoint),
            iat: Some(NOW),
            exp: Some(NOW + 360),
            jti: Some("jti-3"),
            ..Claims::EMPTY
        },
    );
    assert!(
        description(&send(&long)).starts_with("invalid_claim"),
        "{:?}",
        send(&long)
    );

    // Introspection with a ZITADEL API-app assertion.
    let iss = idp.url.clone();
    let app = mint(
        &key("k-app"),
        &presets::zitadel_api_app("app-1", &iss, presets::Timing::new(NOW, 3600)).unwrap(),
    );
    let introspect = |assertion: &str, token: &str| {
        idp::post_form(
            &idp::agent(),
            &format!("{}/oauth/v2/introspect", idp.url),
            &[
                ("client_assertion_type", CLIENT_ASSERTION),
                ("client_assertion", assertion),
                ("token", token),
            ],
        )
        .unwrap()
    };
    let r = introspect(&app, &at);
    assert_eq!(r.0, 200, "{r:?}");
    assert_eq!(r.1["active"], true);
    assert_eq!(r.1["client_id"], "auth0-client");
    let r = introspect(&app, &format!("{at}x"));
    assert_eq!(r.1["active"], false);
    assert_eq!(r.1["reason"], "malformed");
    // The service user's key is not an API app's.
    let user_assertion = mint(
        &key("k-user"),
        &presets::zitadel_api_app("user-1", &iss, presets::Timing::new(NOW, 3600)).unwrap(),
    );
    assert_eq!(introspect(&user_assertion, &at).0, 401);
}

#[test]
fn jwks_fetch_into_a_file_and_a_device() {
    let idp = start();
    let dir = std::env::temp_dir().join(format!("tokenguard-idp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("jwks.json");
    let url = format!("{}/oauth/v2/keys", idp.url);
    let o = Command::new(env!("CARGO_BIN_EXE_tokenguard-sim"))
        .args([
            "jwks",
            "fetch",
            &url,
            "--output",
            out.to_str().unwrap(),
            "--json",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let line: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(line["keys"], 1);
    assert_eq!(line["max_age"], 600);
    assert_eq!(line["next_fetch_in"], 600);
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(saved["keys"][0]["kid"], "idp-key-1");

    // Into a simulated device over TCP.
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    std::thread::spawn(move || tokenguard_sim::device::serve::<8>(l));
    let o = Command::new(env!("CARGO_BIN_EXE_tokenguard-sim"))
        .args(["jwks", "fetch", &url, "--device", &addr])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains("device: 1 key in force (0 unchanged, 0 removed, 0 skipped)"),
        "{err}"
    );
    assert!(!err.contains("note:"), "{err}");
    // Fetched again: the same key, kept in its slot and counted once.
    let o = Command::new(env!("CARGO_BIN_EXE_tokenguard-sim"))
        .args(["jwks", "fetch", &url, "--device", &addr])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("device: 1 key in force (1 unchanged, 0 removed, 0 skipped)"),
        "{err}"
    );
    assert!(!err.contains("note:"), "{err}");
    let mut dev =
        tokenguard_sim::client::DeviceClient::connect(&addr, std::time::Duration::from_secs(10))
            .unwrap();
    let keys = dev.list_keys().unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].0, "idp-key-1");

    // An outage: a clear error, and the file keeps the last good set.
    idp.with(|s| s.outage = true).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_tokenguard-sim"))
        .args(["jwks", "fetch", &url, "--output", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("HTTP 503"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let kept: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(kept, saved);
    // Not a JWK Set: refused before it reaches the file.
    idp.with(|s| s.outage = false).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_tokenguard-sim"))
        .args([
            "jwks",
            "fetch",
            &format!("{}/.well-known/openid-configuration", idp.url),
            "--output",
            out.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("not a usable JWK Set"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(
        serde_json::from_str::<Value>(&std::fs::read_to_string(&out).unwrap()).unwrap(),
        saved
    );
}

/// Serves `body` as `application/json` to every request, on a loopback port.
fn serve_body(body: String) -> String {
    use std::io::{Read, Write};
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/jwks.json", l.local_addr().unwrap());
    std::thread::spawn(move || {
        for mut s in l.incoming().flatten() {
            let mut req = [0u8; 4096];
            let _ = s.read(&mut req);
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    url
}

/// A fetched set with no usable key (empty, or only unusable keys), or one larger than the
/// device's free slots, is refused with exit 1: the file and the device keep what they had.
#[test]
fn jwks_fetch_never_replaces_keys_with_an_unusable_set() {
    let idp = start();
    let good = format!("{}/oauth/v2/keys", idp.url);
    let dir = std::env::temp_dir().join(format!("tokenguard-refuse-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("jwks.json");
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    std::thread::spawn(move || tokenguard_sim::device::serve::<8>(l));
    let fetch = |url: &str| {
        Command::new(env!("CARGO_BIN_EXE_tokenguard-sim"))
            .args(["jwks", "fetch", url, "--output", out.to_str().unwrap()])
            .args(["--device", &addr])
            .output()
            .unwrap()
    };
    let o = fetch(&good);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let saved = std::fs::read(&out).unwrap();
    let device_keys = || {
        let mut dev = tokenguard_sim::client::DeviceClient::connect(
            &addr,
            std::time::Duration::from_secs(10),
        )
        .unwrap();
        dev.list_keys()
            .unwrap()
            .into_iter()
            .map(|k| k.0)
            .collect::<Vec<_>>()
    };
    assert_eq!(device_keys(), ["idp-key-1"]);
    let rsa_1024 = r#"{"kty":"RSA","kid":"weak","n":"xPb1xhUhj_ydZBq9kPio6967waW9Um8s1wH_c96ani96Xg1l1AF4abFhNShcH6U2fw0dK8b2RhazriP9eftMyO7kyv0rUTKMQekErtQXM8yPkkwB4itsDemjbnd5CAsLv3NdjcmoNpZIldfemZmUyNppnNcqX1Ogt4aHfnksAGE","e":"AQAB"}"#;
    let off_curve = r#"{"kty":"EC","crv":"P-256","kid":"off","x":"YP7UuiVanTHJYet0xjVtaMBJuJI7Yfps5mliLmDyn7Y","y":"eQP-EAi4vJmkGunpVii8ZPLxsgwtfp9Rd6PClNRGIpo"}"#;
    for (set, why) in [
        (r#"{"keys":[]}"#.to_string(), "holds no usable key"),
        (format!(r#"{{"keys":[{rsa_1024}]}}"#), "holds no usable key"),
        (
            format!(r#"{{"keys":[{off_curve}]}}"#),
            "holds no usable key",
        ),
    ] {
        let o = fetch(&serve_body(set.clone()));
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{set}: {err}");
        assert!(err.contains(why), "{set}: {err}");
        assert!(err.contains("keep"), "{set}: {err}");
        assert_eq!(std::fs::read(&out).unwrap(), saved, "{set}");
        assert_eq!(device_keys(), ["idp-key-1"], "{set}");
    }
    // Ten good keys: tokenguard's own check takes them, the 8-slot device (one slot in use)
    // cannot stage them next to its key: it refuses, and the file is not written either.
    let ten: Vec<String> = (0u8..10)
        .map(|i| {
            format!(
                r#"{{"kty":"oct","kid":"k{i}","alg":"HS256","k":"{}"}}"#,
                tokenguard_tests::b64(&[i + 1; 32])
            )
        })
        .collect();
    let o = fetch(&serve_body(format!(r#"{{"keys":[{}]}}"#, ten.join(","))));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("the device refused the set: the JWK Set does not fit: it needs 10 free slots and 7 are free"),
        "{err}"
    );
    assert_eq!(std::fs::read(&out).unwrap(), saved);
    assert_eq!(device_keys(), ["idp-key-1"]);
}

#[test]
fn demo_passes_as_json() {
    let o = Command::new(env!("CARGO_BIN_EXE_tokenguard-sim"))
        .args(["demo", "--json"])
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["passed"], true);
    assert_eq!(r["failures"], 0);
    assert_eq!(r["checks"], 24);
    assert!(r["steps"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["ok"] == true));
}

fn public_jwk_set(idp: &Idp) -> tokenguard::KeySet<8> {
    let mut r = idp::agent()
        .get(&format!("{}/oauth/v2/keys", idp.url))
        .call()
        .unwrap();
    let text = r.body_mut().read_to_string().unwrap();
    let mut set = tokenguard::KeySet::new();
    set.load_jwks(text.as_bytes(), &mut |_| {}).unwrap();
    set
}

fn claims_of(token: &str, i: usize) -> Value {
    let seg = token.split('.').nth(i).unwrap();
    let mut out = vec![0u8; seg.len()];
    let n = tokenguard::b64::decode(seg.as_bytes(), &mut out).unwrap();
    serde_json::from_slice(&out[..n]).unwrap()
}

/// Auth0's `client_credentials`: the `audience` names a registered API, whose token is
/// Auth0-shaped and RS256-signed with a kid; an unknown API is refused as Auth0 refuses it.
#[test]
fn auth0_apis_get_auth0_shaped_tokens() {
    let cfg = IdpConfig {
        apis: vec!["https://api.example.com/".into()],
        api_ttl: 7200,
        ..IdpConfig::default()
    };
    let idp = Idp::start("127.0.0.1:0", cfg).unwrap();
    idp.with(|s| {
        s.sim_now = Some(NOW);
        s.register("auth0-client", ClientKind::Auth0App, &public("k-auth0"))
            .unwrap();
    })
    .unwrap();
    let endpoint = format!("{}/oauth/v2/token", idp.url);
    let assertion = |jti: &str| {
        let c = presets::auth0_private_key_jwt(
            "auth0-client",
            &endpoint,
            jti,
            presets::Timing::new(NOW, 60),
        )
        .unwrap();
        mint(&key("k-auth0"), &c)
    };
    let ask = |jti: &str, audience: &str, scope: &str| {
        let a = assertion(jti);
        idp::post_form(
            &idp::agent(),
            &endpoint,
            &[
                ("grant_type", "client_credentials"),
                ("client_assertion_type", CLIENT_ASSERTION),
                ("client_assertion", &a),
                ("audience", audience),
                ("scope", scope),
            ],
        )
        .unwrap()
    };
    let (status, body) = ask(
        "j-1",
        "https://api.example.com/",
        "read:messages write:messages",
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["expires_in"], 7200);
    let at = body["access_token"].as_str().unwrap();
    let h = claims_of(at, 0);
    assert_eq!(
        (h["alg"].as_str(), h["kid"].as_str()),
        (Some("RS256"), Some("auth0-rs256-1"))
    );
    let c = claims_of(at, 1);
    assert_eq!(c["iss"], format!("{}/", idp.url));
    assert_eq!(c["sub"], "auth0-client@clients");
    assert_eq!(c["aud"], "https://api.example.com/");
    assert_eq!(c["azp"], "auth0-client");
    assert_eq!(c["gty"], "client-credentials");
    assert_eq!(c["scope"], "read:messages write:messages");
    assert_eq!(
        c["permissions"],
        serde_json::json!(["read:messages", "write:messages"])
    );
    assert_eq!(
        c["exp"].as_u64().unwrap() - c["iat"].as_u64().unwrap(),
        7200
    );
    // It verifies against the published JWK Set, as an Auth0 API would verify it.
    let iss = format!("{}/", idp.url);
    let v = tokenguard::Validation::new(
        tokenguard::Expect::One(&iss),
        tokenguard::Expect::One("https://api.example.com/"),
    )
    .algorithms(tokenguard::AlgSet::from_slice(&[tokenguard::alg::RS256]));
    let mut buf = vec![0u8; at.len()];
    public_jwk_set(&idp)
        .verify(at.as_bytes(), &v, NOW, &mut buf)
        .unwrap();
    // An API the tenant does not have.
    let (status, body) = ask("j-2", "https://other.example.com/", "");
    assert_eq!(status, 403);
    assert_eq!(body["error"], "access_denied");
    assert_eq!(
        body["error_description"],
        "Service not found: https://other.example.com/"
    );
}

/// ZITADEL's JWT-bearer `scope`: `urn:zitadel:iam:org:project:id:{id}:aud` adds the project
/// to `aud`, `...:id:zitadel:aud` ZITADEL's own project.
#[test]
fn zitadel_project_scopes_add_audiences() {
    let idp = start();
    let c =
        presets::zitadel_service_user("user-1", &idp.url, presets::Timing::new(NOW, 60)).unwrap();
    let a = mint(&key("k-user"), &c);
    let scope =
        "openid urn:zitadel:iam:org:project:id:2001:aud urn:zitadel:iam:org:project:id:zitadel:aud";
    let (status, body) = idp::post_form(
        &idp::agent(),
        &format!("{}/oauth/v2/token", idp.url),
        &[
            ("grant_type", JWT_BEARER),
            ("assertion", &a),
            ("scope", scope),
        ],
    )
    .unwrap();
    assert_eq!(status, 200, "{body}");
    let c = claims_of(body["access_token"].as_str().unwrap(), 1);
    assert_eq!(
        c["aud"],
        serde_json::json!(["device-api", "2001", idp::ZITADEL_PROJECT_ID])
    );
}

/// The System API: a system user's self-signed JWT is a Bearer token with ZITADEL's checks.
#[test]
fn system_api_users_sign_their_own_bearer_tokens() {
    let idp = start();
    idp.with(|s| {
        s.register("system-user-1", ClientKind::SystemUser, &public("k-sys"))
            .unwrap()
    })
    .unwrap();
    let url = format!("{}/system/v1/instances/_search", idp.url);
    let call = |token: &str| {
        let mut r = idp::agent()
            .post(&url)
            .header("Authorization", &format!("Bearer {token}"))
            .send("{}")
            .unwrap();
        let status = r.status().as_u16();
        let body: Value = serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap();
        (status, body)
    };
    let c = presets::zitadel_system_api("system-user-1", &idp.url, NOW, 5).unwrap();
    let (status, body) = call(&mint(&key("k-sys"), &c));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["system_user"], "system-user-1");
    // Another audience, another issuer, two hours: refused.
    let wrong_aud =
        presets::zitadel_system_api("system-user-1", "https://elsewhere.example", NOW, 5).unwrap();
    let (status, body) = call(&mint(&key("k-sys"), &wrong_aud));
    assert_eq!(status, 401, "{body}");
    assert!(description(&(status, body)).starts_with("wrong_audience"));
    let other = Claims {
        iss: Some("someone-else"),
        sub: Some("someone-else"),
        aud: Aud::One(&idp.url),
        iat: Some(NOW),
        exp: Some(NOW + 60),
        ..Claims::EMPTY
    };
    let (status, body) = call(&mint(&key("k-sys"), &other));
    assert_eq!(status, 401, "{body}");
    assert!(description(&(status, body)).starts_with("wrong_issuer"));
    let long = Claims {
        iss: Some("system-user-1"),
        sub: Some("system-user-1"),
        aud: Aud::One(&idp.url),
        iat: Some(NOW),
        exp: Some(NOW + 7200),
        ..Claims::EMPTY
    };
    let (status, body) = call(&mint(&key("k-sys"), &long));
    assert_eq!(status, 401, "{body}");
    assert!(description(&(status, body)).starts_with("invalid_claim"));
    // No token at all.
    let mut r = idp::agent().post(&url).send("{}").unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let body: Value = serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap();
    assert_eq!(body["error"], "unauthenticated");
}

/// Discovery lists what a client library looks for; `idp serve` refuses schedules that make
/// no sense and takes client keys in every form testers have.
#[test]
fn discovery_fields_schedules_and_client_key_forms() {
    let idp = start();
    let mut r = idp::agent()
        .get(&format!("{}/.well-known/openid-configuration", idp.url))
        .call()
        .unwrap();
    let d: Value = serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap();
    for field in [
        "response_types_supported",
        "subject_types_supported",
        "grant_types_supported",
        "token_endpoint_auth_methods_supported",
    ] {
        assert!(
            d[field].as_array().is_some_and(|a| !a.is_empty()),
            "{field}: {d}"
        );
    }
    let bin = env!("CARGO_BIN_EXE_tokenguard-sim");
    for (args, want) in [
        (vec!["--rotate-every", "0"], "--rotate-every 0"),
        (
            vec!["--outage-every", "10", "--outage-for", "10"],
            "is not shorter than --outage-every 10",
        ),
        (
            vec!["--api", "https://a/", "--api-ttl", "2592001"],
            "--api-ttl 2592001",
        ),
    ] {
        let out = Command::new(bin)
            .args(["idp", "serve", "--listen", "127.0.0.1:0"])
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(want), "{args:?}: {err}");
    }
    // Client key files: a JWK, a JWK Set, a PEM public key (kid = thumbprint), a ZITADEL
    // key file (kid = keyId).
    let dir = std::env::temp_dir().join(format!("tokenguard-idp-keys-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let write = |name: &str, text: &str| {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_owned()
    };
    let jwk = write("one.jwk", &public("k-one"));
    let set = write(
        "set.json",
        &format!(r#"{{"keys":[{},{}]}}"#, public("k-a"), public("k-b")),
    );
    let data = format!("{}/../tests/data", env!("CARGO_MANIFEST_DIR"));
    let pem = format!("{data}/p256.spki.pem");
    let zitadel = format!("{data}/zitadel-serviceaccount.json");
    let kf: Value = serde_json::from_str(&std::fs::read_to_string(&zitadel).unwrap()).unwrap();
    assert_eq!(idp::client_jwks(&jwk).unwrap().len(), 1);
    assert_eq!(idp::client_jwks(&set).unwrap().len(), 2);
    let from_pem: Value = serde_json::from_str(&idp::client_jwks(&pem).unwrap()[0]).unwrap();
    assert_eq!(from_pem["kty"], "EC");
    assert_eq!(
        from_pem["kid"].as_str().unwrap().len(),
        43,
        "RFC 7638 thumbprint"
    );
    let from_kf: Value = serde_json::from_str(&idp::client_jwks(&zitadel).unwrap()[0]).unwrap();
    assert_eq!(from_kf["kid"], kf["keyId"]);
    assert!(from_kf.get("d").is_none());
    for jwk in idp::client_jwks(&zitadel).unwrap() {
        idp.with(|s| s.register("kf-user", ClientKind::ServiceUser, &jwk))
            .unwrap()
            .unwrap();
    }
}

/// A System API token without `kid` (key2jwt makes them so) verifies under the keys of the
/// user its `iss` names, and only theirs.
#[test]
fn system_api_tokens_without_kid_use_the_named_users_keys() {
    let idp = start();
    idp.with(|s| {
        s.register("system-user-1", ClientKind::SystemUser, &public("k-sys"))
            .unwrap()
    })
    .unwrap();
    let kidless = |iss: &str| {
        let c = Claims {
            iss: Some(iss),
            sub: Some(iss),
            aud: Aud::One(&idp.url),
            iat: Some(NOW),
            exp: Some(NOW + 3600),
            ..Claims::EMPTY
        };
        let k = SigningKey::from_jwk(
            format!(r#"{{"kty":"OKP","crv":"Ed25519","d":"{D}","x":"{X}"}}"#).as_bytes(),
        )
        .unwrap();
        mint(&k, &c)
    };
    let call = |token: &str| {
        let mut r = idp::agent()
            .get(&format!("{}/system/v1/instances/_search", idp.url))
            .header("Authorization", &format!("Bearer {token}"))
            .call()
            .unwrap();
        let status = r.status().as_u16();
        let body: Value = serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap();
        (status, body)
    };
    let token = kidless("system-user-1");
    assert!(!token.split('.').next().unwrap().is_empty());
    let (status, body) = call(&token);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["system_user"], "system-user-1");
    // The same key, but an `iss` that names no system user (user-1 is a service user).
    let (status, body) = call(&kidless("user-1"));
    assert_eq!(status, 401, "{body}");
    assert!(description(&(status, body)).starts_with("key_not_found"));
}
