//! A crypto backend defined outside the crate, as a hardware verifier would be: it keeps its
//! own per-key state in a `KeySet` built for it (`KeySet<N, Backend>`), prepared once when a
//! key enters the set (insertion or a JWK Set update) and handed to it on every verification.
//! Only public items are used: the `Backend` trait, `KeyMaterial`, `KeySet`, `JwkCache`.
//!
//! The test backend copies each EC key's SEC1 point and each HMAC secret into its state at
//! `prepare` and verifies from that copy only, counting both, so the tests can tell that the
//! state was prepared once per key, used by every verification, and dropped with the key.

use std::cell::Cell;

use tokenguard::alg::{Family, HashAlg};
use tokenguard::assertion::{encode, Aud, Claims};
use tokenguard::crypto::{Digest, RustCrypto};
use tokenguard::sign::SigningKey;
use tokenguard::{
    alg, Algorithm, Backend, Curve, Error, Expect, JwkCache, KeyMaterial, KeySet, RefreshPolicy,
    Unspecified, Validation,
};

thread_local! {
    /// `prepare` calls on this test's thread.
    static PREPARED: Cell<usize> = const { Cell::new(0) };
    /// Verifications that ran from the prepared state.
    static USED: Cell<usize> = const { Cell::new(0) };
}

fn prepared() -> usize {
    PREPARED.with(Cell::get)
}

fn used() -> usize {
    USED.with(Cell::get)
}

/// What the test backend keeps per key.
#[derive(Clone, Default, Debug)]
enum Copied {
    /// A key it keeps nothing for (RSA, Ed25519).
    #[default]
    Nothing,
    /// An EC key's curve and uncompressed point.
    Ec(Curve, Vec<u8>),
    /// An HMAC secret, bound to one hash.
    Hmac(HashAlg, Vec<u8>),
}

/// A backend outside the crate: ECDSA and HMAC from its own state, the rest delegated to the
/// pure-Rust backend.
struct Copying;

impl Backend for Copying {
    type KeyState = Copied;

    fn digest(alg: HashAlg, parts: &[&[u8]]) -> Digest {
        RustCrypto::digest(alg, parts)
    }

    fn hmac_verify(alg: HashAlg, key: &[u8], msg: &[u8], tag: &[u8]) -> Result<(), Unspecified> {
        RustCrypto::hmac_verify(alg, key, msg, tag)
    }

    fn ecdsa_verify(curve: Curve, point: &[u8], msg: &[u8], sig: &[u8]) -> Result<(), Unspecified> {
        RustCrypto::ecdsa_verify(curve, point, msg, sig)
    }

    fn ed25519_verify(pk: &[u8; 32], msg: &[u8], sig: &[u8; 64]) -> Result<(), Unspecified> {
        RustCrypto::ed25519_verify(pk, msg, sig)
    }

    fn prepare(key: &KeyMaterial, alg: Option<Algorithm>) -> Copied {
        PREPARED.with(|c| c.set(c.get() + 1));
        if let Some((curve, point)) = key.sec1_point() {
            return Copied::Ec(curve, point.to_vec());
        }
        match (key, alg.map(Algorithm::family)) {
            (KeyMaterial::Oct(k), Some(Family::Hmac(h))) => Copied::Hmac(h, k.bytes().to_vec()),
            _ => Copied::Nothing,
        }
    }

    fn verify_prepared(
        key: &KeyMaterial,
        state: &Copied,
        alg: Algorithm,
        msg: &[u8],
        sig: &[u8],
    ) -> Option<Result<(), Unspecified>> {
        let r = match state {
            Copied::Nothing => return None,
            Copied::Ec(curve, point) => {
                // The state belongs to this very key.
                assert_eq!(key.sec1_point(), Some((*curve, point.as_slice())));
                RustCrypto::ecdsa_verify(*curve, point, msg, sig)
            }
            Copied::Hmac(h, secret) if alg.family() == Family::Hmac(*h) => {
                RustCrypto::hmac_verify(*h, secret, msg, sig)
            }
            Copied::Hmac(..) => return None,
        };
        USED.with(|c| c.set(c.get() + 1));
        Some(r)
    }
}

const NOW: u64 = 1_700_000_000;

fn token(key: &SigningKey) -> String {
    let claims = Claims {
        iss: Some("https://idp.example"),
        aud: Aud::One("api"),
        exp: Some(NOW + 300),
        ..Claims::EMPTY
    };
    let mut buf = [0u8; 1024];
    encode(key, Some("JWT"), &claims, Some(&[9; 64]), &mut buf)
        .unwrap()
        .to_owned()
}

fn validation() -> Validation<'static> {
    Validation::new(Expect::One("https://idp.example"), Expect::One("api"))
}

fn es256() -> SigningKey {
    SigningKey::ec(Some(b"ec-1"), Curve::P256, &[0x11; 32]).unwrap()
}

fn hs256() -> SigningKey {
    SigningKey::hmac(Some(b"hs-1"), &[0x22; 32], alg::HS256).unwrap()
}

fn tampered(t: &str) -> String {
    let (head, sig) = t.rsplit_once('.').unwrap();
    let flip = if sig.starts_with('A') { "B" } else { "A" };
    format!("{head}.{flip}{}", &sig[1..])
}

#[test]
fn a_set_built_for_the_backend_prepares_each_key_once_and_verifies_from_that_state() {
    let mut keys: KeySet<4, Copying> = KeySet::new();
    keys.insert(es256().public_jwk().unwrap()).unwrap();
    keys.insert(hs256().public_jwk().unwrap()).unwrap();
    assert_eq!(prepared(), 2);

    let v = validation();
    let mut buf = [0u8; 1024];
    for (n, key) in [es256(), hs256()].iter().enumerate() {
        let t = token(key);
        // `verify` uses the set's own backend.
        assert!(keys.verify(t.as_bytes(), &v, NOW, &mut buf).is_ok());
        assert_eq!(used(), 2 * n + 1);
        assert_eq!(
            keys.verify(tampered(&t).as_bytes(), &v, NOW, &mut buf)
                .unwrap_err(),
            Error::BadSignature
        );
        assert_eq!(used(), 2 * n + 2);
    }
    // Verifying never prepares again.
    assert_eq!(prepared(), 2);
}

#[test]
fn another_backend_on_the_same_set_works_from_the_material_alone() {
    let mut keys: KeySet<2, Copying> = KeySet::new();
    keys.insert(es256().public_jwk().unwrap()).unwrap();
    let t = token(&es256());
    let v = validation();
    let mut buf = [0u8; 1024];
    // The pure-Rust backend keeps another kind of state (none): the same verdicts, and the
    // test backend's state is not touched.
    assert!(keys
        .verify_with::<RustCrypto>(t.as_bytes(), &v, NOW, &mut buf)
        .is_ok());
    assert_eq!(
        keys.verify_with::<RustCrypto>(tampered(&t).as_bytes(), &v, NOW, &mut buf)
            .unwrap_err(),
        Error::BadSignature
    );
    assert_eq!(used(), 0);
    // A key on its own carries no state either.
    let jwk = es256().public_jwk().unwrap();
    let (input, sig) = t.rsplit_once('.').unwrap();
    let sig = tokenguard_tests::unb64(sig);
    assert_eq!(
        jwk.verify_signature::<Copying>(Algorithm::Es256, input.as_bytes(), &sig),
        Ok(())
    );
    assert_eq!(used(), 0);
}

#[test]
fn a_jwk_set_update_prepares_the_new_keys_and_keeps_the_state_of_unchanged_ones() {
    let mut cache: JwkCache<4, Copying> = JwkCache::new(RefreshPolicy::default());
    let ec = es256().public_jwk().unwrap();
    let hs = hs256().public_jwk().unwrap();
    let jwk_json = |k: &tokenguard::Jwk| {
        let mut out = [0u8; 1024];
        k.to_json(&mut out, true).unwrap().to_owned()
    };
    let doc1 = format!(r#"{{"keys":[{}]}}"#, jwk_json(&ec));
    let report = cache
        .load_jwks(doc1.as_bytes(), NOW, None, &mut |_| {})
        .unwrap();
    assert_eq!(report.loaded, 1);
    assert_eq!(prepared(), 1);

    // A rotation that keeps the EC key and adds the HMAC key: only the new key is prepared.
    cache.keys_mut().allow_mixed_key_types(true);
    let doc2 = format!(r#"{{"keys":[{},{}]}}"#, jwk_json(&ec), jwk_json(&hs));
    let report = cache
        .load_jwks(doc2.as_bytes(), NOW, None, &mut |_| {})
        .unwrap();
    assert_eq!((report.loaded, report.unchanged), (2, 1));
    assert_eq!(prepared(), 2);

    let v = validation();
    let mut buf = [0u8; 1024];
    for key in [es256(), hs256()] {
        let t = token(&key);
        assert!(cache.verify(t.as_bytes(), &v, NOW, &mut buf).is_ok());
    }
    assert_eq!(used(), 2);

    // A refused update (no usable key) prepares nothing that stays, and the old keys serve.
    let before = prepared();
    assert!(cache
        .load_jwks(br#"{"keys":[]}"#, NOW, None, &mut |_| {})
        .is_err());
    assert_eq!(prepared(), before);
    assert!(cache
        .verify(token(&es256()).as_bytes(), &v, NOW, &mut buf)
        .is_ok());
    assert_eq!(used(), 3);

    // A key removed is gone with its state: its tokens find no key.
    assert!(cache.keys_mut().remove(b"ec-1").is_some());
    assert_eq!(
        cache
            .verify(token(&es256()).as_bytes(), &v, NOW, &mut buf)
            .unwrap_err(),
        Error::KeyNotFound
    );
    assert_eq!(used(), 3);
}

/// This crate builds the engine with ring, aws-lc and the pure-Rust backend: turning on the
/// host backends does not change the default, which stays the pure-Rust one (the key sets
/// the host tools want faster name `Fastest`).
#[test]
fn turning_on_host_backends_leaves_the_default_backend_pure_rust() {
    use std::any::TypeId;
    use tokenguard::crypto::{DefaultBackend, Fastest};
    assert_eq!(TypeId::of::<DefaultBackend>(), TypeId::of::<RustCrypto>());
    assert_eq!(
        TypeId::of::<KeySet<2>>(),
        TypeId::of::<KeySet<2, RustCrypto>>()
    );
    assert_ne!(
        TypeId::of::<KeySet<2>>(),
        TypeId::of::<KeySet<2, Fastest>>()
    );
}
