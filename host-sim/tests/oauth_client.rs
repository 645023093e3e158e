//! A real OAuth client library (Python Authlib, installed by peers/install.sh) obtains
//! tokens from the mock IdP with tokenguard-minted assertions (JWT-bearer grant, and
//! client_credentials with private_key_jwt); the access tokens then verify in tokenguard.
//! Run by `cargo xtask ci` with `--ignored`.

use serde_json::Value;
use tokenguard::assertion::{encode, presets};
use tokenguard::sign::SigningKey;
use tokenguard::{Expect, KeySet, Validation};
use tokenguard_sim::idp::{ClientKind, Idp, IdpConfig};
use tokenguard_tests::peers;

/// RFC 8037 A.1.
const D: &str = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A";
const X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn client(args: &[&str]) -> Result<Value, String> {
    let o = peers::python("oauth_client.py", args);
    if o.status.success() {
        Ok(serde_json::from_slice(&o.stdout).unwrap())
    } else {
        Err(String::from_utf8_lossy(&o.stderr).trim().to_owned())
    }
}

fn verify_access_token(idp: &Idp, token: &str) -> Value {
    let jwks = idp.with(|s| s.jwks().to_string()).unwrap();
    let mut set: KeySet<4> = KeySet::new();
    set.load_jwks(jwks.as_bytes(), &mut |_| {}).unwrap();
    let v = Validation::new(Expect::One(&idp.url), Expect::One("device-api")).typ("at+jwt");
    let mut buf = vec![0u8; token.len()];
    let t = set.verify(token.as_bytes(), &v, now(), &mut buf).unwrap();
    serde_json::from_str(t.claims_json()).unwrap()
}

#[test]
#[ignore = "needs Authlib: peers/install.sh (cargo xtask ci runs it)"]
fn authlib_gets_tokens_with_tokenguard_assertions() {
    let idp = Idp::start("127.0.0.1:0", IdpConfig::default()).unwrap();
    let public = format!(r#"{{"kty":"OKP","crv":"Ed25519","kid":"k1","x":"{X}"}}"#);
    idp.with(|s| {
        s.register("service-user-1", ClientKind::ServiceUser, &public)
            .unwrap();
        s.register("auth0-app-1", ClientKind::Auth0App, &public)
            .unwrap();
    })
    .unwrap();
    let key = SigningKey::from_jwk(
        format!(r#"{{"kty":"OKP","crv":"Ed25519","kid":"k1","d":"{D}","x":"{X}"}}"#).as_bytes(),
    )
    .unwrap();
    let endpoint = format!("{}/oauth/v2/token", idp.url);
    let mut buf = vec![0u8; 2048];

    // ZITADEL service user: JWT-bearer grant.
    let claims = presets::zitadel_service_user(
        "service-user-1",
        &idp.url,
        presets::Timing::new(now(), 3600),
    )
    .unwrap();
    let assertion = encode(&key, Some("JWT"), &claims, None, &mut buf)
        .unwrap()
        .to_owned();
    let token = client(&["jwt-bearer", &endpoint, &assertion, "openid profile"]).unwrap();
    assert_eq!(token["token_type"], "Bearer");
    assert_eq!(token["scope"], "openid profile");
    let c = verify_access_token(&idp, token["access_token"].as_str().unwrap());
    assert_eq!(c["sub"], "service-user-1");
    assert_eq!(c["scope"], "openid profile");

    // Auth0 private_key_jwt: client_credentials with our client assertion; replay refused.
    let claims = presets::auth0_private_key_jwt(
        "auth0-app-1",
        &endpoint,
        "authlib-jti-1",
        presets::Timing::new(now(), 300),
    )
    .unwrap();
    let assertion = encode(&key, Some("JWT"), &claims, None, &mut buf)
        .unwrap()
        .to_owned();
    let token = client(&["private-key-jwt", &endpoint, "auth0-app-1", &assertion]).unwrap();
    let c = verify_access_token(&idp, token["access_token"].as_str().unwrap());
    assert_eq!(c["client_id"], "auth0-app-1");
    let err = client(&["private-key-jwt", &endpoint, "auth0-app-1", &assertion]).unwrap_err();
    assert!(err.starts_with("invalid_client: replayed"), "{err}");
    // A client_id that does not match the assertion is refused.
    let claims = presets::auth0_private_key_jwt(
        "auth0-app-1",
        &endpoint,
        "authlib-jti-2",
        presets::Timing::new(now(), 300),
    )
    .unwrap();
    let assertion = encode(&key, Some("JWT"), &claims, None, &mut buf)
        .unwrap()
        .to_owned();
    let err = client(&["private-key-jwt", &endpoint, "someone-else", &assertion]).unwrap_err();
    assert!(
        err.starts_with("invalid_client: client_id does not match"),
        "{err}"
    );
}
