//! Shared helpers for the integration tests: the one vector loader (third-party data is read
//! from `../shared/vectors`, never copied into the repository), hex/base64url, a token
//! minter for tests, and the two-backend verifier that asserts both backends agree.

#![allow(missing_docs, clippy::missing_panics_doc, clippy::new_without_default)]

use std::path::PathBuf;

use tokenguard::crypto::{AwsLc, Ring, RustCrypto};
use tokenguard::{Error, KeySource, Validation};

/// `../shared/vectors` next to the repository (override with `TOKENGUARD_VECTORS`).
pub fn vectors_dir() -> PathBuf {
    if let Ok(p) = std::env::var("TOKENGUARD_VECTORS") {
        return PathBuf::from(p);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/vectors")
}

/// Reads and parses a JSON vector file under the vectors directory.
pub fn load(rel: &str) -> serde_json::Value {
    let path = vectors_dir().join(rel);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read test vectors {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn hex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

pub fn b64(data: &[u8]) -> String {
    let mut out = vec![0u8; tokenguard::b64::encoded_len(data.len())];
    let n = tokenguard::b64::encode(data, &mut out).unwrap();
    out.truncate(n);
    String::from_utf8(out).unwrap()
}

pub fn unb64(s: &str) -> Vec<u8> {
    let mut out = vec![0u8; s.len()];
    let n = tokenguard::b64::decode(s.as_bytes(), &mut out).unwrap();
    out.truncate(n);
    out
}

/// Strips leading zero bytes (ASN.1-style integers to minimal big-endian).
pub fn minimal(b: &[u8]) -> &[u8] {
    let skip = b.iter().take_while(|&&x| x == 0).count();
    &b[skip..]
}

/// Left-pads or strips a big-endian integer to exactly `len` bytes (None if it is longer).
pub fn fixed(b: &[u8], len: usize) -> Option<Vec<u8>> {
    let m = minimal(b);
    if m.len() > len {
        return None;
    }
    let mut out = vec![0u8; len - m.len()];
    out.extend_from_slice(m);
    Some(out)
}

/// An outcome comparable across backends: the accepted claims JSON, or the error.
pub type Outcome = Result<String, Error>;

/// The `alg` a token's header names, if it names a known one (read without verifying).
pub fn token_alg(token: &str) -> Option<tokenguard::Algorithm> {
    let head = token.split('.').next()?;
    let mut buf = vec![0u8; head.len()];
    let n = tokenguard::b64::decode(head.as_bytes(), &mut buf).ok()?;
    let v: serde_json::Value = serde_json::from_slice(&buf[..n]).ok()?;
    tokenguard::Algorithm::from_name(v.get("alg")?.as_str()?.as_bytes())
}

/// Ring's verdict, which must be `alg_not_allowed` for an algorithm it does not declare
/// (ES512, ES256K); `true` when it should be compared with the others.
fn ring_comparable<T: core::fmt::Debug>(token: &str, ring: &Result<T, Error>) -> bool {
    match token_alg(token) {
        Some(a) if !<Ring as tokenguard::Backend>::ALGORITHMS.contains(a) => {
            assert!(
                matches!(ring, Err(Error::AlgNotAllowed) | Err(Error::Malformed(_))),
                "ring verified {a:?}, which it does not declare: {ring:?}"
            );
            false
        }
        _ => true,
    }
}

/// Verifies a JWT with every backend (ring, aws-lc, rustcrypto), asserts they agree exactly
/// (ring on the algorithms it declares), returns the outcome.
///
/// # Errors
/// The [`Error`] the backends agree on when the token does not verify with `keys` under `v`
/// at `now`.
pub fn verify_both<K: KeySource + ?Sized>(
    keys: &K,
    token: &str,
    v: &Validation<'_>,
    now: u64,
) -> Outcome {
    let mut b1 = vec![0u8; token.len() + 16];
    let mut b2 = vec![0u8; token.len() + 16];
    let r = tokenguard::verify_jwt::<Ring, K>(keys, token.as_bytes(), v, now, &mut b1)
        .map(|t| t.claims_json().to_owned());
    let c = tokenguard::verify_jwt::<RustCrypto, K>(keys, token.as_bytes(), v, now, &mut b2)
        .map(|t| t.claims_json().to_owned());
    if ring_comparable(token, &r) {
        assert_eq!(r, c, "ring and rustcrypto disagree on {token}");
    }
    let a = tokenguard::verify_jwt::<AwsLc, K>(keys, token.as_bytes(), v, now, &mut b2)
        .map(|t| t.claims_json().to_owned());
    assert_eq!(c, a, "rustcrypto and aws-lc disagree on {token}");
    c
}

/// Verifies a JWS (any payload) with every backend, asserts they agree, returns the payload.
///
/// # Errors
/// The [`Error`] the backends agree on when the JWS does not verify with `keys` under `v`.
pub fn verify_jws_both<K: KeySource + ?Sized>(
    keys: &K,
    token: &str,
    v: &Validation<'_>,
) -> Result<Vec<u8>, Error> {
    let mut b1 = vec![0u8; token.len() + 16];
    let mut b2 = vec![0u8; token.len() + 16];
    let r = tokenguard::verify_jws::<Ring, K>(keys, token.as_bytes(), v, &mut b1)
        .map(|t| t.payload().to_vec());
    let c = tokenguard::verify_jws::<RustCrypto, K>(keys, token.as_bytes(), v, &mut b2)
        .map(|t| t.payload().to_vec());
    if ring_comparable(token, &r) {
        assert_eq!(r, c, "ring and rustcrypto disagree on {token}");
    }
    let a = tokenguard::verify_jws::<AwsLc, K>(keys, token.as_bytes(), v, &mut b2)
        .map(|t| t.payload().to_vec());
    assert_eq!(c, a, "rustcrypto and aws-lc disagree on {token}");
    c
}

/// Test-only token minting with ring (the signing API of tokenguard has its own tests).
pub mod mint {
    use super::b64;
    use ring::rand::SystemRandom;
    use ring::signature::{self, KeyPair};

    /// `b64(header).b64(payload)`; header and payload need not be UTF-8.
    pub fn signing_input(header: impl AsRef<[u8]>, payload: impl AsRef<[u8]>) -> String {
        format!("{}.{}", b64(header.as_ref()), b64(payload.as_ref()))
    }

    pub fn hs256(key: &[u8], header: impl AsRef<[u8]>, payload: impl AsRef<[u8]>) -> String {
        let input = signing_input(header, payload);
        let tag = ring::hmac::sign(
            &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key),
            input.as_bytes(),
        );
        format!("{input}.{}", b64(tag.as_ref()))
    }

    /// A P-256 key pair; returns the JWK members x, y and a signer.
    pub struct Es256 {
        pair: signature::EcdsaKeyPair,
    }

    impl Es256 {
        pub fn generate() -> Es256 {
            let rng = SystemRandom::new();
            let pkcs8 = signature::EcdsaKeyPair::generate_pkcs8(
                &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                &rng,
            )
            .unwrap();
            Es256 {
                pair: signature::EcdsaKeyPair::from_pkcs8(
                    &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                    pkcs8.as_ref(),
                    &rng,
                )
                .unwrap(),
            }
        }
        pub fn jwk(&self, kid: &str) -> String {
            let pk = self.pair.public_key().as_ref();
            format!(
                r#"{{"kty":"EC","crv":"P-256","kid":"{kid}","alg":"ES256","x":"{}","y":"{}"}}"#,
                b64(&pk[1..33]),
                b64(&pk[33..65])
            )
        }
        pub fn sign(&self, header: &str, payload: &str) -> String {
            let input = signing_input(header, payload);
            let sig = self
                .pair
                .sign(&SystemRandom::new(), input.as_bytes())
                .unwrap();
            format!("{input}.{}", b64(sig.as_ref()))
        }
    }

    pub struct Ed25519 {
        pair: signature::Ed25519KeyPair,
    }

    impl Ed25519 {
        pub fn generate() -> Ed25519 {
            let pkcs8 = signature::Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
            Ed25519 {
                pair: signature::Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap(),
            }
        }
        pub fn jwk(&self, kid: &str) -> String {
            format!(
                r#"{{"kty":"OKP","crv":"Ed25519","kid":"{kid}","x":"{}"}}"#,
                b64(self.pair.public_key().as_ref())
            )
        }
        pub fn sign(&self, header: &str, payload: &str) -> String {
            let input = signing_input(header, payload);
            format!("{input}.{}", b64(self.pair.sign(input.as_bytes()).as_ref()))
        }
    }
}

/// `jwt-negative-vectors.json`: keys, policy, and cases by id.
pub mod corpus {
    use super::{load, verify_both};
    use tokenguard::{Expect, Jwk, KeySet, Validation};

    /// The team's negative JWT corpus with its policy block.
    pub struct Corpus {
        pub doc: serde_json::Value,
    }

    impl Corpus {
        pub fn new() -> Corpus {
            Corpus {
                doc: load("jwt-negative-vectors.json"),
            }
        }

        pub fn policy(&self) -> (Validation<'static>, u64) {
            let p = &self.doc["meta"]["policy"];
            let iss: &'static str = Box::leak(
                p["expected_iss"]
                    .as_str()
                    .unwrap()
                    .to_owned()
                    .into_boxed_str(),
            );
            let aud: &'static str = Box::leak(
                p["expected_aud"]
                    .as_str()
                    .unwrap()
                    .to_owned()
                    .into_boxed_str(),
            );
            assert_eq!(p["require_exp"], true);
            let v = Validation::new(Expect::One(iss), Expect::One(aud))
                .leeway(u32::try_from(p["skew_s"].as_u64().unwrap()).unwrap())
                .max_token_len(usize::try_from(p["max_token_len"].as_u64().unwrap()).unwrap())
                .max_depth(u8::try_from(p["max_json_depth"].as_u64().unwrap()).unwrap())
                .allow_missing_kid(true);
            (v, p["now"].as_u64().unwrap())
        }

        pub fn keys_for(&self, spec: &str) -> KeySet<4> {
            let mut set: KeySet<4> = KeySet::new();
            for k in spec.split(['+', ' ']) {
                if let Some(j) = self.doc["meta"]["keys"].get(k) {
                    set.insert(Jwk::from_json(j.to_string().as_bytes()).unwrap())
                        .unwrap();
                }
            }
            assert!(!set.is_empty(), "no key for {spec}");
            set
        }

        pub fn case(&self, id: &str) -> (KeySet<4>, String) {
            let c = self.doc["cases"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["id"] == id)
                .unwrap();
            (
                self.keys_for(c["key"].as_str().unwrap()),
                c["token"].as_str().unwrap().to_owned(),
            )
        }
    }

    /// The outcome code of case `id` under the corpus policy ("accept" or an error code).
    pub fn code(id: &str) -> &'static str {
        let c = Corpus::new();
        let (v, now) = c.policy();
        let (set, tok) = c.case(id);
        match verify_both(&set, &tok, &v, now) {
            Ok(_) => "accept",
            Err(e) => e.code(),
        }
    }
}

/// The interop peers (PyJWT, jwcrypto, node `jose`) installed by `peers/install.sh`.
pub mod peers {
    use std::io::Write;
    use std::path::PathBuf;
    use std::process::{Command, Stdio};

    /// The peers' names.
    pub const ALL: [&str; 3] = ["pyjwt", "jwcrypto", "jose"];

    fn repo() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
    }

    /// Where the peers are installed: `TOKENGUARD_PEERS`, else `target/peers`. Panics with
    /// the install command when they are missing (the tests using them are `#[ignore]`d and
    /// run by `cargo xtask ci` after installing them).
    pub fn dir() -> PathBuf {
        installed().unwrap_or_else(|| {
            panic!(
                "interop peers not installed in {}: run peers/install.sh",
                location().display()
            )
        })
    }

    /// Where the peers are expected (`TOKENGUARD_PEERS`, else `target/peers`).
    fn location() -> PathBuf {
        // A relative TOKENGUARD_PEERS is relative to the repository root.
        std::env::var_os("TOKENGUARD_PEERS")
            .map(|p| repo().join(p))
            .unwrap_or_else(|| repo().join("target/peers"))
    }

    /// [`dir`] if the peers are installed there, else `None` (for tests that skip without
    /// them).
    pub fn installed() -> Option<PathBuf> {
        let d = location();
        (d.join("python").is_dir() && d.join("node/node_modules/jose").is_dir()).then_some(d)
    }

    /// Runs a Python script of `peers/` with the installed packages.
    pub fn python(script: &str, args: &[&str]) -> std::process::Output {
        Command::new("python3")
            .env("PYTHONPATH", dir().join("python"))
            .arg(repo().join("peers").join(script))
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("starting {script}: {e}"))
    }

    /// Runs `peer` in `mode` (`verify` or `mint`) on `input` (the JSON contract in
    /// peers/README.md) and returns its output.
    pub fn run(peer: &str, mode: &str, input: &serde_json::Value) -> serde_json::Value {
        let d = dir();
        let mut cmd = match peer {
            "jose" => {
                let mut c = Command::new("node");
                c.arg(repo().join("peers/peer.mjs"))
                    .arg(d.join("node/node_modules"))
                    .arg(mode);
                c
            }
            _ => {
                let mut c = Command::new("python3");
                c.env("PYTHONPATH", d.join("python"))
                    .arg(repo().join("peers/peer.py"))
                    .arg(peer)
                    .arg(mode);
                c
            }
        };
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {peer}: {e}"));
        let body = input.to_string();
        let mut stdin = child.stdin.take().expect("stdin");
        let writer = std::thread::spawn(move || stdin.write_all(body.as_bytes()));
        let out = child.wait_with_output().expect("peer output");
        writer.join().expect("writer").expect("writing to the peer");
        assert!(
            out.status.success(),
            "{peer} {mode} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{peer} output: {e}"))
    }
}

/// Signing keys for every algorithm (interop and differential tests).
pub mod keys {
    use serde_json::{json, Value};
    use tokenguard::keys::{self, PrivateKeyBytes};
    use tokenguard::sign::SigningKey;
    use tokenguard::Algorithm;

    use crate::b64;

    /// A signing key with its private and public JWKs (kid `kid-<ALG>`).
    pub struct Key {
        pub alg: Algorithm,
        pub signer: SigningKey,
        pub private: Value,
        pub public: Value,
    }

    pub fn data(name: &str) -> Vec<u8> {
        std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("data")
                .join(name),
        )
        .unwrap()
    }

    /// The key for `alg`: our own test keys from tests/data; a fixed 64-byte HMAC secret.
    pub fn key(alg: Algorithm) -> Key {
        let kid = format!("kid-{}", alg.name());
        if matches!(alg.family(), tokenguard::alg::Family::Hmac(_)) {
            let secret: Vec<u8> = (0..64u8)
                .map(|i| i.wrapping_mul(37).wrapping_add(11))
                .collect();
            let signer = SigningKey::hmac(Some(kid.as_bytes()), &secret, alg).unwrap();
            let jwk = json!({"kty": "oct", "kid": kid, "alg": alg.name(), "k": b64(&secret)});
            return Key {
                alg,
                signer,
                private: jwk.clone(),
                public: jwk,
            };
        }
        let file = match alg {
            Algorithm::Es256 => "p256.pkcs8.pem",
            Algorithm::Es384 => "p384.sec1.pem",
            Algorithm::Es512 => "p521.pkcs8.pem",
            Algorithm::Es256k => "secp256k1.pkcs8.pem",
            Algorithm::EdDsa | Algorithm::Ed25519 => "ed25519.pkcs8.pem",
            _ => "rsa2048.pkcs8.pem",
        };
        let input = data(file);
        let mut scratch = vec![0u8; 8192];
        let k = keys::private_key(&input, &mut scratch).unwrap();
        let signer = SigningKey::from_private_bytes(&k, Some(kid.as_bytes()), Some(alg)).unwrap();
        let mut buf = vec![0u8; 2048];
        let mut public: Value = serde_json::from_str(
            signer
                .public_jwk()
                .unwrap()
                .to_json(&mut buf, false)
                .unwrap(),
        )
        .unwrap();
        public["kid"] = kid.clone().into();
        public["alg"] = alg.name().into();
        let mut private = public.clone();
        match k {
            PrivateKeyBytes::Rsa {
                d,
                p,
                q,
                dp,
                dq,
                qi,
                ..
            } => {
                for (m, v) in [
                    ("d", d),
                    ("p", p),
                    ("q", q),
                    ("dp", dp),
                    ("dq", dq),
                    ("qi", qi),
                ] {
                    private[m] = b64(v).into();
                }
            }
            PrivateKeyBytes::Ec { d, .. } => private["d"] = b64(d).into(),
            PrivateKeyBytes::Ed25519(seed) => private["d"] = b64(seed).into(),
            other => panic!("no private JWK form for {other:?}"),
        }
        Key {
            alg,
            signer,
            private,
            public,
        }
    }

    /// The algorithms every peer (PyJWT, jwcrypto, node `jose`) implements.
    pub const COMMON: [Algorithm; 12] = {
        let mut out = [Algorithm::Hs256; 12];
        let mut i = 0;
        while i < 12 {
            out[i] = Algorithm::ALL[i];
            i += 1;
        }
        out
    };

    /// One key per algorithm every peer implements ([`COMMON`], in `Algorithm::ALL` order).
    pub fn all_keys() -> Vec<Key> {
        COMMON.iter().map(|a| key(*a)).collect()
    }
}
