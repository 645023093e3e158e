//! Shared fixtures for the benches (`benches/verify.rs`, `benches/throughput.rs`): one token
//! per algorithm, all over the same ~300 bytes of claims, with the key material each
//! implementation needs and ring's raw signature check of the same signing input (the floor).
//!
//! Keys: the Wycheproof JWS RS256 key (2048 bits, from `../shared/vectors`; set
//! `TOKENGUARD_VECTORS` elsewhere), our own test keys in `tests/data` (RSA 4096 for
//! RS256-4096, RSA 2048 for PS256, P-521 for ES512, secp256k1 for ES256K, the last two signed
//! by tokenguard's own signer as ring has neither curve), and fresh ring keys for ES256, ES384,
//! EdDSA.

mod groups;

use std::path::PathBuf;
use std::sync::OnceLock;

use ring::rand::SystemRandom;
use ring::signature::{self, KeyPair};
use tokenguard::crypto::{Fastest, Ring};
use tokenguard::{alg, AlgSet, Algorithm, Curve, Expect, Jwk, KeySet, Validation};

/// The expected issuer.
pub const ISS: &str = "https://issuer.example.com/tenant/7f3c2a";
/// The expected audience (one of the token's two).
pub const AUD: &str = "device-api";

/// Unix time when the process started: the tokens' `iat`/`nbf` (and `exp` an hour later), so
/// peers that read the system clock themselves accept them.
pub fn now() -> u64 {
    static NOW: OnceLock<u64> = OnceLock::new();
    *NOW.get_or_init(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(1_700_000_000)
    })
}

/// About 300 bytes of claims with every registered claim.
pub fn claims() -> String {
    claims_with_jti("7b1f6c2e-9a4d-4c1b-8e2f-3d5a6b7c8d9e")
}

/// The same claims with another `jti` (the whole-process runs mint one token per line).
pub fn claims_with_jti(jti: &str) -> String {
    let t = now();
    format!(
        r#"{{"iss":"{ISS}","sub":"device-0042@fleet.example.com","aud":["{AUD}","telemetry"],"exp":{},"iat":{t},"nbf":{t},"jti":"{jti}","scope":"telemetry:write config:read","tenant":"acme-industrial","role":"sensor"}}"#,
        t + 3600
    )
}

/// base64url without padding.
pub fn b64(d: &[u8]) -> String {
    let mut out = vec![0u8; tokenguard::b64::encoded_len(d.len())];
    let n = tokenguard::b64::encode(d, &mut out).expect("b64 encode");
    out.truncate(n);
    String::from_utf8(out).expect("ascii")
}

/// Decodes base64url.
pub fn unb64(s: &str) -> Vec<u8> {
    let mut out = vec![0u8; s.len()];
    let n = tokenguard::b64::decode(s.as_bytes(), &mut out).expect("b64 decode");
    out.truncate(n);
    out
}

/// The shared test vectors (`../shared/vectors` or `$TOKENGUARD_VECTORS`).
pub fn vectors() -> PathBuf {
    std::env::var("TOKENGUARD_VECTORS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/vectors"))
}

/// Our own test keys (`tests/data`).
pub fn test_data() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/data")
}

fn read_json(path: PathBuf) -> serde_json::Value {
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (set TOKENGUARD_VECTORS)", path.display()));
    serde_json::from_str(&text).expect("json")
}

/// The public key in the shape each implementation wants it.
#[derive(Clone, Debug)]
pub enum PublicKey {
    /// RSA modulus and exponent, big-endian.
    Rsa {
        /// Modulus.
        n: Vec<u8>,
        /// Public exponent.
        e: Vec<u8>,
    },
    /// EC affine coordinates, big-endian.
    Ec {
        /// P-256 or P-384.
        curve: Curve,
        /// x.
        x: Vec<u8>,
        /// y.
        y: Vec<u8>,
    },
    /// Ed25519 public key.
    Ed25519([u8; 32]),
    /// HMAC secret.
    Oct(Vec<u8>),
}

impl PublicKey {
    /// Uncompressed SEC1 point `04 || x || y` of an EC key.
    pub fn sec1(&self) -> Vec<u8> {
        match self {
            PublicKey::Ec { x, y, .. } => [&[4u8][..], x, y].concat(),
            _ => panic!("not an EC key"),
        }
    }

    /// The key as a public JWK (RFC 7517) with this `kid` and `alg`.
    pub fn jwk_json(&self, kid: &str, alg: &str) -> String {
        match self {
            PublicKey::Rsa { n, e } => format!(
                r#"{{"kty":"RSA","use":"sig","alg":"{alg}","kid":"{kid}","n":"{}","e":"{}"}}"#,
                b64(n),
                b64(e)
            ),
            PublicKey::Ec { curve, x, y } => format!(
                r#"{{"kty":"EC","use":"sig","alg":"{alg}","kid":"{kid}","crv":"{}","x":"{}","y":"{}"}}"#,
                curve.name(),
                b64(x),
                b64(y)
            ),
            PublicKey::Ed25519(pk) => format!(
                r#"{{"kty":"OKP","use":"sig","alg":"{alg}","kid":"{kid}","crv":"Ed25519","x":"{}"}}"#,
                b64(pk)
            ),
            PublicKey::Oct(k) => format!(
                r#"{{"kty":"oct","alg":"{alg}","kid":"{kid}","k":"{}"}}"#,
                b64(k)
            ),
        }
    }
}

/// ring verifying a signing input and signature: the floor every row is compared with.
pub type RawVerify = Box<dyn Fn(&[u8], &[u8]) -> bool + Send + Sync>;

/// Signs claims (JSON text) into a compact token under the fixture's header and key.
pub type Mint = Box<dyn Fn(&str) -> String + Send + Sync>;

/// One algorithm's token and keys.
pub struct Fixture {
    /// Bench group name: one of [`GROUPS`].
    pub name: &'static str,
    /// The JOSE algorithm.
    pub alg: Algorithm,
    /// Its JOSE name.
    pub alg_name: &'static str,
    /// The compact token.
    pub token: String,
    /// The token's `kid`.
    pub kid: &'static str,
    /// tokenguard's key set holding the key (bound to `alg`), built for [`Fastest`]: it keeps
    /// AWS-LC's parsed key, which `Fastest` and `AwsLc` both use.
    pub keys: KeySet<4, Fastest>,
    /// The same key in a set built for ring (which keeps ring's HMAC key schedule).
    pub ring_keys: KeySet<4, Ring>,
    /// The raw key material.
    pub key: PublicKey,
    /// ring's check of the signing input (`None` where ring lacks the algorithm: ES512,
    /// ES256K).
    pub raw: Option<RawVerify>,
    /// Mints more tokens like `token` (same header and key), for the whole-process runs.
    pub mint: Mint,
}

impl Fixture {
    /// The signing input and the decoded signature.
    pub fn split(&self) -> (&str, Vec<u8>) {
        let (input, sig) = self.token.rsplit_once('.').expect("compact token");
        (input, unb64(sig))
    }

    /// tokenguard's policy, equivalent to the peers': issuer, audience, `exp` required, this
    /// algorithm only (the key is bound to it as well).
    pub fn validation(&self) -> Validation<'static> {
        Validation::new(Expect::One(ISS), Expect::One(AUD))
            .algorithms(AlgSet::from_slice(&[self.alg]))
    }
}

fn signing_input_for(alg: &str, kid: &str, claims: &str) -> String {
    let h = format!(r#"{{"alg":"{alg}","typ":"JWT","kid":"{kid}"}}"#);
    format!("{}.{}", b64(h.as_bytes()), b64(claims.as_bytes()))
}

fn keyset(jwk: Jwk) -> KeySet<4, Fastest> {
    let mut keys = KeySet::new();
    keys.insert(jwk).expect("insert");
    keys
}

/// The keys of `keys` in a set built for ring.
fn ring_set(keys: &KeySet<4, Fastest>) -> KeySet<4, Ring> {
    let mut out = KeySet::new();
    for (k, _) in keys.iter() {
        out.insert(k.clone()).expect("insert");
    }
    out
}

fn rsa_fixture(
    name: &'static str,
    alg: Algorithm,
    alg_name: &'static str,
    pair: signature::RsaKeyPair,
    padding: &'static dyn signature::RsaEncoding,
    verify: &'static signature::RsaParameters,
) -> Fixture {
    let public: ring::rsa::PublicKeyComponents<Vec<u8>> = pair.public().into();
    let (n, e) = (public.n.clone(), public.e.clone());
    let kid = "rsa";
    let mint: Mint = Box::new(move |claims| {
        let input = signing_input_for(alg_name, kid, claims);
        let mut sig = vec![0u8; pair.public().modulus_len()];
        pair.sign(padding, &SystemRandom::new(), input.as_bytes(), &mut sig)
            .expect("sign");
        format!("{input}.{}", b64(&sig))
    });
    let keys = keyset(Jwk::rsa(Some(kid.as_bytes()), &n, &e, Some(alg)).expect("rsa jwk"));
    let (nn, ee) = (n.clone(), e.clone());
    Fixture {
        name,
        alg,
        alg_name,
        token: mint(&claims()),
        kid,
        ring_keys: ring_set(&keys),
        keys,
        key: PublicKey::Rsa { n, e },
        raw: Some(Box::new(move |m, s| {
            signature::RsaPublicKeyComponents { n: &nn, e: &ee }
                .verify(verify, m, s)
                .is_ok()
        })),
        mint,
    }
}

/// The Wycheproof JWS RS256 test key (2048 bits) as a ring key pair, with its `n`/`e`.
fn wycheproof_rs256() -> signature::RsaKeyPair {
    let doc = read_json(vectors().join("wycheproof/json_web_signature_test.json"));
    let jwk = doc["testGroups"]
        .as_array()
        .expect("testGroups")
        .iter()
        .find(|g| g["comment"] == "rs256")
        .map(|g| &g["private"])
        .expect("the rs256 group");
    let f = |k: &str| unb64(jwk[k].as_str().expect("field"));
    let (n, e, d, p, q, dp, dq, qi) = (
        f("n"),
        f("e"),
        f("d"),
        f("p"),
        f("q"),
        f("dp"),
        f("dq"),
        f("qi"),
    );
    signature::RsaKeyPair::from_components(&ring::rsa::KeyPairComponents {
        public_key: ring::rsa::PublicKeyComponents { n: &n, e: &e },
        d: &d,
        p: &p,
        q: &q,
        dP: &dp,
        dQ: &dq,
        qInv: &qi,
    })
    .expect("wycheproof rs256 key")
}

/// A PKCS#8 PEM private key from `tests/data` as a ring RSA key pair.
fn pkcs8_rsa(file: &str) -> signature::RsaKeyPair {
    let pem = std::fs::read(test_data().join(file)).expect("test key");
    let mut der = vec![0u8; pem.len()];
    let (_, der) = tokenguard::keys::pem_decode(&pem, &mut der).expect("pem");
    signature::RsaKeyPair::from_pkcs8(der).expect("pkcs8 rsa")
}

fn ec_fixture(
    name: &'static str,
    alg: Algorithm,
    alg_name: &'static str,
    curve: Curve,
    signing: &'static signature::EcdsaSigningAlgorithm,
    verify: &'static signature::EcdsaVerificationAlgorithm,
) -> Fixture {
    let rng = SystemRandom::new();
    let pkcs8 = signature::EcdsaKeyPair::generate_pkcs8(signing, &rng).expect("ec keygen");
    let pair = signature::EcdsaKeyPair::from_pkcs8(signing, pkcs8.as_ref(), &rng).expect("ec");
    let kid = "ec";
    let pk = pair.public_key().as_ref().to_vec();
    let mint: Mint = Box::new(move |claims| {
        let input = signing_input_for(alg_name, kid, claims);
        let sig = pair.sign(&rng, input.as_bytes()).expect("ec sign");
        format!("{input}.{}", b64(sig.as_ref()))
    });
    let cl = (pk.len() - 1) / 2;
    let (x, y) = (pk[1..1 + cl].to_vec(), pk[1 + cl..].to_vec());
    let keys = keyset(Jwk::ec(Some(kid.as_bytes()), curve, &x, &y, Some(alg)).expect("ec jwk"));
    Fixture {
        name,
        alg,
        alg_name,
        token: mint(&claims()),
        kid,
        ring_keys: ring_set(&keys),
        keys,
        key: PublicKey::Ec { curve, x, y },
        raw: Some(Box::new(move |m, s| {
            signature::UnparsedPublicKey::new(verify, &pk)
                .verify(m, s)
                .is_ok()
        })),
        mint,
    }
}

fn eddsa() -> Fixture {
    let pkcs8 = signature::Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).expect("keygen");
    let pair = signature::Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).expect("ed25519");
    let kid = "ed";
    let pk: [u8; 32] = pair.public_key().as_ref().try_into().expect("32 bytes");
    let mint: Mint = Box::new(move |claims| {
        let input = signing_input_for("EdDSA", kid, claims);
        format!("{input}.{}", b64(pair.sign(input.as_bytes()).as_ref()))
    });
    let keys = keyset(Jwk::ed25519(Some(kid.as_bytes()), &pk, Some(alg::EDDSA)).expect("jwk"));
    Fixture {
        name: "EdDSA",
        alg: alg::EDDSA,
        alg_name: "EdDSA",
        token: mint(&claims()),
        kid,
        ring_keys: ring_set(&keys),
        keys,
        key: PublicKey::Ed25519(pk),
        raw: Some(Box::new(move |m, s| {
            signature::UnparsedPublicKey::new(&signature::ED25519, &pk)
                .verify(m, s)
                .is_ok()
        })),
        mint,
    }
}

fn hs256() -> Fixture {
    let secret = vec![0x5au8; 32];
    let kid = "hs";
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &secret);
    let signer = key.clone();
    let mint: Mint = Box::new(move |claims| {
        let input = signing_input_for("HS256", kid, claims);
        let tag = ring::hmac::sign(&signer, input.as_bytes());
        format!("{input}.{}", b64(tag.as_ref()))
    });
    let keys = keyset(Jwk::hmac(Some(kid.as_bytes()), &secret, alg::HS256).expect("jwk"));
    Fixture {
        name: "HS256",
        alg: alg::HS256,
        alg_name: "HS256",
        token: mint(&claims()),
        kid,
        ring_keys: ring_set(&keys),
        keys,
        key: PublicKey::Oct(secret),
        // The floor: ring's HMAC with the key prepared once, as ring users do.
        raw: Some(Box::new(move |m, s| ring::hmac::verify(&key, m, s).is_ok())),
        mint,
    }
}

/// A curve ring does not have (P-521, secp256k1): our test key from `tests/data`, signed by
/// tokenguard's own signer (RFC 6979 nonces); no ring floor.
fn tg_ec_fixture(
    name: &'static str,
    alg: Algorithm,
    alg_name: &'static str,
    file: &str,
) -> Fixture {
    use tokenguard::sign::{Signer, SigningKey};
    let dir = test_data();
    let private = std::fs::read(dir.join(format!("{file}.pkcs8.pem"))).expect("test key");
    let public = std::fs::read(dir.join(format!("{file}.spki.pem"))).expect("test key");
    let kid = "ec";
    let signer = SigningKey::from_pem_or_der(&private, Some(kid.as_bytes()), Some(alg))
        .expect("signing key");
    let mut scratch = vec![0u8; public.len()];
    let (curve, point) = match tokenguard::keys::public_key(&public, &mut scratch) {
        Ok(tokenguard::keys::PublicKeyBytes::Ec { curve, point }) => (curve, point.to_vec()),
        other => panic!("{file}: not an EC public key: {other:?}"),
    };
    let cl = (point.len() - 1) / 2;
    let (x, y) = (point[1..1 + cl].to_vec(), point[1 + cl..].to_vec());
    let mint: Mint = Box::new(move |claims| {
        let input = signing_input_for(alg_name, kid, claims);
        let mut sig = vec![0u8; signer.signature_len()];
        let n = signer.sign(input.as_bytes(), None, &mut sig).expect("sign");
        format!("{input}.{}", b64(&sig[..n]))
    });
    let keys = keyset(Jwk::ec(Some(kid.as_bytes()), curve, &x, &y, Some(alg)).expect("ec jwk"));
    Fixture {
        name,
        alg,
        alg_name,
        token: mint(&claims()),
        kid,
        ring_keys: ring_set(&keys),
        keys,
        key: PublicKey::Ec { curve, x, y },
        raw: None,
        mint,
    }
}

/// One fixture by group name.
pub fn fixture(name: &str) -> Fixture {
    match name {
        "RS256" => rsa_fixture(
            "RS256",
            alg::RS256,
            "RS256",
            wycheproof_rs256(),
            &signature::RSA_PKCS1_SHA256,
            &signature::RSA_PKCS1_2048_8192_SHA256,
        ),
        "RS256-4096" => rsa_fixture(
            "RS256-4096",
            alg::RS256,
            "RS256",
            pkcs8_rsa("rsa4096.pkcs8.pem"),
            &signature::RSA_PKCS1_SHA256,
            &signature::RSA_PKCS1_2048_8192_SHA256,
        ),
        "PS256" => rsa_fixture(
            "PS256",
            alg::PS256,
            "PS256",
            pkcs8_rsa("rsa2048.pkcs8.pem"),
            &signature::RSA_PSS_SHA256,
            &signature::RSA_PSS_2048_8192_SHA256,
        ),
        "ES256" => ec_fixture(
            "ES256",
            alg::ES256,
            "ES256",
            Curve::P256,
            &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            &signature::ECDSA_P256_SHA256_FIXED,
        ),
        "ES384" => ec_fixture(
            "ES384",
            alg::ES384,
            "ES384",
            Curve::P384,
            &signature::ECDSA_P384_SHA384_FIXED_SIGNING,
            &signature::ECDSA_P384_SHA384_FIXED,
        ),
        "ES512" => tg_ec_fixture("ES512", Algorithm::Es512, "ES512", "p521"),
        "ES256K" => tg_ec_fixture("ES256K", Algorithm::Es256k, "ES256K", "secp256k1"),
        "EdDSA" => eddsa(),
        "HS256" => hs256(),
        other => panic!("no fixture {other}"),
    }
}

pub use groups::GROUPS;

/// A 10-key JWK Set shaped like Google's or Auth0's: eight RSA-2048 signing keys and two
/// P-256 keys, each with `kid`, `use` and `alg`. The RSA moduli are distinct public keys from
/// the Wycheproof files and our own test key; the EC keys come from the Wycheproof ECDSA file.
pub fn jwks_10() -> String {
    let mut rsa: Vec<(String, String)> = Vec::new();
    let dir = vectors().join("wycheproof");
    for file in [
        "rsa_signature_2048_sha256_test.json",
        "rsa_signature_2048_sha384_test.json",
        "rsa_signature_2048_sha512_test.json",
        "rsa_pss_2048_sha256_mgf1_32_test.json",
        "rsa_pss_2048_sha384_mgf1_48_test.json",
    ] {
        let doc = read_json(dir.join(file));
        for g in doc["testGroups"].as_array().expect("testGroups") {
            let jwk = if g["keyJwk"].is_object() {
                &g["keyJwk"]
            } else {
                &g["publicKeyJwk"]
            };
            if let (Some(n), Some(e)) = (jwk["n"].as_str(), jwk["e"].as_str()) {
                if unb64(n).len() == 256 && !rsa.iter().any(|(m, _)| m == n) {
                    rsa.push((n.to_owned(), e.to_owned()));
                }
            }
        }
    }
    for pair in [wycheproof_rs256(), pkcs8_rsa("rsa2048.pkcs8.pem")] {
        let public: ring::rsa::PublicKeyComponents<Vec<u8>> = pair.public().into();
        let n = b64(&public.n);
        if !rsa.iter().any(|(m, _)| *m == n) {
            rsa.push((n, b64(&public.e)));
        }
    }
    assert!(rsa.len() >= 8, "only {} distinct RSA-2048 keys", rsa.len());
    let doc = read_json(dir.join("ecdsa_secp256r1_sha256_p1363_test.json"));
    let mut ec: Vec<(String, String)> = Vec::new();
    for g in doc["testGroups"].as_array().expect("testGroups") {
        let jwk = &g["publicKeyJwk"];
        if let (Some(x), Some(y)) = (jwk["x"].as_str(), jwk["y"].as_str()) {
            if !ec.iter().any(|(a, _)| a == x) {
                ec.push((x.to_owned(), y.to_owned()));
            }
        }
    }
    assert!(ec.len() >= 2, "only {} distinct P-256 keys", ec.len());
    let mut keys: Vec<String> = rsa
        .iter()
        .take(8)
        .enumerate()
        .map(|(i, (n, e))| {
            format!(
                r#"{{"kty":"RSA","use":"sig","alg":"RS256","kid":"{:040x}","n":"{n}","e":"{e}"}}"#,
                0x5eed_0000_u64 + i as u64
            )
        })
        .collect();
    for (i, (x, y)) in ec.iter().take(2).enumerate() {
        // Auth0/Google put the EC keys among the RSA ones.
        keys.insert(
            3 + 3 * i,
            format!(
                r#"{{"kty":"EC","use":"sig","alg":"ES256","kid":"ec-{i:02}","crv":"P-256","x":"{x}","y":"{y}"}}"#
            ),
        );
    }
    format!(r#"{{"keys":[{}]}}"#, keys.join(","))
}

/// A full 32-key set (`oct` keys `key-00` … `key-31`) for the `kid` lookup bench.
pub fn full_keyset() -> KeySet<32, Fastest> {
    let mut set = KeySet::new();
    for i in 0..32u8 {
        let kid = format!("key-{i:02}");
        set.insert(Jwk::hmac(Some(kid.as_bytes()), &[i; 32], alg::HS256).expect("jwk"))
            .expect("room");
    }
    assert!(set.is_full());
    set
}
