//! `Ed25519`, the fully-specified JOSE name of RFC 9864 §2.2, next to the polymorphic
//! `EdDSA`: both verify with an Ed25519 key on every backend; a key whose `alg` names one
//! accepts that name only (the key binds its algorithm, like `RS256` and `PS256`), a key
//! without `alg` accepts both; signing emits the name asked for.

use tokenguard::assertion::{encode, Claims};
use tokenguard::sign::{Signer, SigningKey};
use tokenguard::{alg, Algorithm, Error, Expect, Jwk, KeySet, Validation};
use tokenguard_tests::verify_both;

const NOW: u64 = 1_767_225_600;
const SEED: [u8; 32] = [0x42; 32];

fn token(name: Algorithm) -> String {
    let key = SigningKey::ed25519(Some(b"ed"), &SEED)
        .unwrap()
        .with_alg(name)
        .unwrap();
    let claims = Claims {
        iss: Some("i"),
        aud: tokenguard::assertion::Aud::One("a"),
        exp: Some(NOW + 60),
        ..Claims::EMPTY
    };
    let mut buf = [0u8; 1024];
    encode(&key, None, &claims, None, &mut buf)
        .unwrap()
        .to_owned()
}

fn set(alg: Option<Algorithm>) -> KeySet<1> {
    let key = SigningKey::ed25519(Some(b"ed"), &SEED).unwrap();
    let mut buf = [0u8; 512];
    let mut jwk: serde_json::Value =
        serde_json::from_str(key.public_jwk().unwrap().to_json(&mut buf, false).unwrap()).unwrap();
    match alg {
        Some(a) => jwk["alg"] = a.name().into(),
        None => {
            jwk.as_object_mut().unwrap().remove("alg");
        }
    }
    let mut s = KeySet::new();
    s.insert(Jwk::from_json(jwk.to_string().as_bytes()).unwrap())
        .unwrap();
    s
}

fn verdict(keys: &KeySet<1>, tok: &str) -> Result<(), Error> {
    let v = Validation::new(Expect::One("i"), Expect::One("a"));
    verify_both(keys, tok, &v, NOW).map(|_| ())
}

#[test]
fn ed25519_is_the_name_it_is_signed_with() {
    let t = token(alg::ED25519);
    let head = t.split('.').next().unwrap();
    let head = String::from_utf8(tokenguard_tests::unb64(head)).unwrap();
    assert_eq!(head, r#"{"alg":"Ed25519","kid":"ed"}"#);
    let key = SigningKey::ed25519(None, &SEED)
        .unwrap()
        .with_alg(alg::ED25519)
        .unwrap();
    assert_eq!(key.alg(), alg::ED25519);
    assert_eq!(
        key.public_jwk().unwrap().alg(),
        Some(alg::ED25519),
        "the public JWK names the algorithm the key signs with"
    );
}

#[test]
fn a_key_binds_its_name_and_a_key_without_alg_takes_both() {
    let (eddsa, ed25519) = (token(alg::EDDSA), token(alg::ED25519));
    let any = set(None);
    assert_eq!(verdict(&any, &eddsa), Ok(()));
    assert_eq!(verdict(&any, &ed25519), Ok(()));
    let named = set(Some(alg::ED25519));
    assert_eq!(verdict(&named, &ed25519), Ok(()));
    assert_eq!(verdict(&named, &eddsa), Err(Error::AlgNotAllowed));
    let legacy = set(Some(alg::EDDSA));
    assert_eq!(verdict(&legacy, &eddsa), Ok(()));
    assert_eq!(verdict(&legacy, &ed25519), Err(Error::AlgNotAllowed));
    // A policy can allow one name and not the other.
    let v = Validation::new(Expect::One("i"), Expect::One("a"))
        .algorithms(tokenguard::AlgSet::from_slice(&[alg::EDDSA]));
    assert_eq!(
        verify_both(&any, &ed25519, &v, NOW).map(|_| ()),
        Err(Error::AlgNotAllowed)
    );
}

#[test]
fn ed25519_is_not_a_name_for_other_keys() {
    assert_eq!(
        Jwk::from_json(
            br#"{"kty":"EC","crv":"P-256","alg":"Ed25519","x":"YP7UuiVanTHJYet0xjVtaMBJuJI7Yfps5mliLmDyn7Y","y":"eQP-EAi4vJmkGunpVii8ZPLxsgwtfp9Rd6PClNRGIpk"}"#
        )
        .unwrap_err(),
        tokenguard::KeyError::AlgMismatch
    );
    assert_eq!(
        SigningKey::ec(None, tokenguard::Curve::P256, &[0x11; 32])
            .unwrap()
            .with_alg(alg::ED25519)
            .unwrap_err(),
        tokenguard::sign::SignError::AlgMismatch
    );
}
