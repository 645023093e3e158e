//! Interop with real peers: assertions minted by tokenguard for every algorithm and every
//! preset verify in PyJWT, jwcrypto and node `jose` with the claims each provider checks;
//! tokens minted by those peers verify in tokenguard (both backends).
//!
//! The peers are installed by `peers/install.sh` (PyPI, npm); `cargo xtask ci` installs them
//! and runs these with `--ignored`.

use serde_json::{json, Value};
use tokenguard::assertion::{encode, presets, Aud, ClaimValue, Claims};
use tokenguard::{Algorithm, Expect, KeySet, Validation};
use tokenguard_tests::keys::{all_keys, Key};
use tokenguard_tests::{b64, peers, verify_both};

const NOW: u64 = 1_767_225_600;
const ISSUER: &str = "https://tokenguard-demo.zitadel.cloud";

/// `(preset, token, iss, aud, sub, required claims)`.
type Minted = (
    &'static str,
    String,
    String,
    String,
    String,
    Vec<&'static str>,
);

/// One tokenguard-minted token per preset.
fn minted(k: &Key) -> Vec<Minted> {
    let t = presets::Timing::new(NOW, 3600);
    let mut out = vec![];
    let mut buf = vec![0u8; 4096];
    let entropy = [0x42u8; 64];
    let mut push = |name: &'static str, c: Claims<'_>, aud: &str, require: Vec<&'static str>| {
        let token = encode(&k.signer, Some("JWT"), &c, Some(&entropy), &mut buf)
            .unwrap()
            .to_owned();
        let iss = c.iss.unwrap().to_owned();
        let sub = c.sub.unwrap().to_owned();
        out.push((name, token, iss, aud.to_owned(), sub, require));
    };
    push(
        "zitadel-user",
        presets::zitadel_service_user("181828061098934529", ISSUER, t).unwrap(),
        ISSUER,
        vec!["exp", "iat"],
    );
    push(
        "zitadel-app",
        presets::zitadel_api_app("181963751145079041@tokenguard", ISSUER, t).unwrap(),
        ISSUER,
        vec!["exp", "iat"],
    );
    let instance = "https://tokenguard.example.com:8443";
    push(
        "zitadel-system",
        presets::zitadel_system_api("system-user-1", instance, NOW, 5).unwrap(),
        instance,
        vec!["exp", "iat"],
    );
    let endpoint = "https://tokenguard.eu.auth0.com/oauth/token";
    let jti = format!("jti-{}", k.alg.name());
    push(
        "auth0",
        presets::auth0_private_key_jwt(
            "auth0-client-1",
            endpoint,
            &jti,
            presets::Timing::new(NOW, 300),
        )
        .unwrap(),
        endpoint,
        vec!["exp", "iat", "jti"],
    );
    let extra = [
        (
            "scope",
            ClaimValue::Str("read \"all\" \\ ünïcode \u{1F511}"),
        ),
        ("n", ClaimValue::Int(-42)),
        ("admin", ClaimValue::Bool(false)),
    ];
    push(
        "plain",
        Claims {
            iss: Some("device-0042"),
            sub: Some("sensor/7"),
            aud: Aud::Many(&["api-a", "api-b"]),
            iat: Some(NOW - 5),
            nbf: Some(NOW - 5),
            exp: Some(NOW + 600),
            jti: Some("j-1"),
            extra: &extra,
        },
        "api-b",
        vec!["exp", "iat", "nbf", "jti"],
    );
    out
}

#[test]
#[ignore = "needs the peers: peers/install.sh (cargo xtask ci runs it)"]
fn peers_verify_what_tokenguard_mints() {
    let keys = all_keys();
    let mut cases = vec![];
    for k in &keys {
        for (preset, token, iss, aud, sub, require) in minted(k) {
            let base = json!({
                "token": token, "jwk": k.public, "alg": k.alg.name(), "iss": iss, "sub": sub,
                "now": NOW + 1, "require": require, "leeway": 0,
            });
            let mut good = base.clone();
            good["name"] = format!("{}/{preset}", k.alg.name()).into();
            good["aud"] = aud.into();
            cases.push(good);
            // The peers must really check: the same token for another audience fails.
            let mut bad = base;
            bad["name"] = format!("{}/{preset}/wrong-aud", k.alg.name()).into();
            bad["aud"] = "https://someone-else.example".into();
            cases.push(bad);
        }
    }
    let n = cases.len();
    assert_eq!(n, 12 * 5 * 2);
    for peer in peers::ALL {
        let out = peers::run(peer, "verify", &json!({ "cases": cases }));
        let results = out["results"].as_array().unwrap();
        assert_eq!(results.len(), n, "{peer}");
        for (case, r) in cases.iter().zip(results) {
            let name = case["name"].as_str().unwrap();
            assert_eq!(r["name"], name);
            let expect_ok = !name.ends_with("/wrong-aud");
            assert_eq!(r["ok"], expect_ok, "{peer} on {name}: {}", r["error"]);
        }
    }
}

#[test]
#[ignore = "needs the peers: peers/install.sh (cargo xtask ci runs it)"]
fn tokenguard_verifies_what_peers_mint() {
    let keys = all_keys();
    let requests: Vec<Value> = keys
        .iter()
        .map(|k| {
            json!({
                "name": k.alg.name(), "alg": k.alg.name(), "jwk": k.private,
                "header": {"kid": k.public["kid"], "typ": "JWT"},
                "claims": {"iss": "peer-issuer", "sub": "peer-subject", "aud": ["tokenguard", "x"],
                           "iat": NOW, "nbf": NOW, "exp": NOW + 600, "jti": format!("p-{}", k.alg.name()),
                           "scope": "a b", "nested": {"deep": [1, 2, {"x": null}]}},
            })
        })
        .collect();
    let mut set: KeySet<16> = KeySet::new();
    set.allow_mixed_key_types(true);
    for k in &keys {
        set.insert(tokenguard::Jwk::from_json(k.public.to_string().as_bytes()).unwrap())
            .unwrap();
    }
    let v = Validation::new(Expect::One("peer-issuer"), Expect::One("tokenguard"))
        .subject("peer-subject");
    for peer in peers::ALL {
        let out = peers::run(peer, "mint", &json!({ "keys": requests }));
        let tokens = out["tokens"].as_array().unwrap();
        assert_eq!(tokens.len(), keys.len(), "{peer}");
        for (k, t) in keys.iter().zip(tokens) {
            let token = t["token"]
                .as_str()
                .unwrap_or_else(|| panic!("{peer} {}: {}", k.alg.name(), t["error"]));
            let claims = verify_both(&set, token, &v, NOW + 1)
                .unwrap_or_else(|e| panic!("{peer} {} token refused: {}", k.alg.name(), e.code()));
            let c: Value = serde_json::from_str(&claims).unwrap();
            assert_eq!(c["jti"], format!("p-{}", k.alg.name()));
            assert_eq!(c["nested"]["deep"][2]["x"], Value::Null);
            // Only under this algorithm: restricting the policy to another one refuses it.
            let other = if k.alg == Algorithm::Es256 {
                Algorithm::Es384
            } else {
                Algorithm::Es256
            };
            let strict = v.algorithms(tokenguard::AlgSet::from_slice(&[other]));
            assert_eq!(
                verify_both(&set, token, &strict, NOW + 1).map(|_| ()),
                Err(tokenguard::Error::AlgNotAllowed)
            );
            // A flipped payload byte is a bad signature, not anything else.
            let mut parts: Vec<String> = token.split('.').map(String::from).collect();
            let mut payload = tokenguard_tests::unb64(&parts[1]);
            let at = payload.iter().position(|&b| b == b'a').unwrap();
            payload[at] = b'b';
            parts[1] = b64(&payload);
            assert_eq!(
                verify_both(&set, &parts.join("."), &v, NOW + 1).map(|_| ()),
                Err(tokenguard::Error::BadSignature),
                "{peer} {}",
                k.alg.name()
            );
        }
    }
}

/// ES512, ES256K and `Ed25519` (RFC 9864) with each peer that has them, both ways: PyJWT
/// 2.15 has ES512 and ES256K, jwcrypto 1.6 all three, node `jose` 6 ES512 and `Ed25519`
/// (it dropped secp256k1). The ones a peer lacks are checked to be refused by it, so this
/// list is the peers' real support, not a guess.
#[test]
#[ignore = "needs the peers: peers/install.sh (cargo xtask ci runs it)"]
fn es512_es256k_and_ed25519_with_the_peers_that_have_them() {
    use tokenguard::alg::{ED25519, ES256K, ES512};
    let support: [(&str, &[Algorithm]); 3] = [
        ("pyjwt", &[ES512, ES256K]),
        ("jwcrypto", &[ES512, ES256K, ED25519]),
        ("jose", &[ES512, ED25519]),
    ];
    let keys: Vec<Key> = [ES512, ES256K, ED25519]
        .into_iter()
        .map(tokenguard_tests::keys::key)
        .collect();
    let mut set: KeySet<4> = KeySet::new();
    for k in &keys {
        set.insert(tokenguard::Jwk::from_json(k.public.to_string().as_bytes()).unwrap())
            .unwrap();
    }
    let v = Validation::new(Expect::One("peer-issuer"), Expect::One("tokenguard"));
    for (peer, has) in support {
        // tokenguard mints, the peer verifies.
        let cases: Vec<Value> = keys
            .iter()
            .map(|k| {
                let claims = Claims {
                    iss: Some("peer-issuer"),
                    sub: Some("s"),
                    aud: Aud::One("tokenguard"),
                    iat: Some(NOW),
                    exp: Some(NOW + 600),
                    ..Claims::EMPTY
                };
                let mut buf = vec![0u8; 2048];
                let token = encode(&k.signer, Some("JWT"), &claims, Some(&[7; 64]), &mut buf)
                    .unwrap()
                    .to_owned();
                json!({"name": k.alg.name(), "token": token, "jwk": k.public, "alg": k.alg.name(),
                       "iss": "peer-issuer", "aud": "tokenguard", "sub": "s", "now": NOW + 1,
                       "require": ["exp"], "leeway": 0})
            })
            .collect();
        let out = peers::run(peer, "verify", &json!({ "cases": cases }));
        for (k, r) in keys.iter().zip(out["results"].as_array().unwrap()) {
            assert_eq!(
                r["ok"],
                has.contains(&k.alg),
                "{peer} verifying tokenguard's {}: {}",
                k.alg.name(),
                r["error"]
            );
        }
        // The peer mints, tokenguard verifies (every backend that declares the algorithm).
        let requests: Vec<Value> = keys
            .iter()
            .map(|k| {
                json!({"name": k.alg.name(), "alg": k.alg.name(), "jwk": k.private,
                       "header": {"kid": k.public["kid"]},
                       "claims": {"iss": "peer-issuer", "aud": "tokenguard", "exp": NOW + 600}})
            })
            .collect();
        let out = peers::run(peer, "mint", &json!({ "keys": requests }));
        for (k, t) in keys.iter().zip(out["tokens"].as_array().unwrap()) {
            match t["token"].as_str() {
                Some(token) => {
                    assert!(has.contains(&k.alg), "{peer} minted {}", k.alg.name());
                    assert_eq!(
                        tokenguard_tests::token_alg(token),
                        Some(k.alg),
                        "{peer} named another algorithm"
                    );
                    assert!(
                        verify_both(&set, token, &v, NOW + 1).is_ok(),
                        "{peer} {} token refused",
                        k.alg.name()
                    );
                }
                None => assert!(
                    !has.contains(&k.alg),
                    "{peer} failed to mint {}: {}",
                    k.alg.name(),
                    t["error"]
                ),
            }
        }
    }
}
