//! `tokenguard-sim jwk`: make a JWK (or JWK Set) from a source, like API gateways' JWK
//! management: `--url` (fetch), `--json` (pasted), `--cert` (X.509), `--public-key` /
//! `--private-key` (PEM/DER), `--generate`. Private members only with `--include-private`.
//! `--use` and `--alg` are checked against RFC 7518's algorithm table for the key type.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{ArgGroup, Args, ValueEnum};
use serde_json::{json, Map, Value};
use tokenguard::keys::{self, PrivateKeyBytes};
use tokenguard::sign::SigningKey;
use tokenguard_sim::util::b64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Kty {
    #[value(name = "RSA")]
    Rsa,
    #[value(name = "EC")]
    Ec,
    #[value(name = "OKP")]
    Okp,
    #[value(name = "oct")]
    Oct,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Use {
    Sig,
    Enc,
}

/// How a shared secret is spelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SecretEncoding {
    Raw,
    Base64,
    Base64url,
    Hex,
}

/// The secret's bytes from its spelling.
fn decode_secret(text: &[u8], enc: SecretEncoding) -> anyhow::Result<Vec<u8>> {
    let t = text.trim_ascii();
    match enc {
        SecretEncoding::Raw => Ok(text.to_vec()),
        SecretEncoding::Hex => {
            if !t.len().is_multiple_of(2) {
                bail!("the hex secret has an odd number of digits");
            }
            t.chunks(2)
                .map(|p| {
                    std::str::from_utf8(p)
                        .ok()
                        .and_then(|s| u8::from_str_radix(s, 16).ok())
                        .context("the secret is not hex")
                })
                .collect()
        }
        SecretEncoding::Base64 | SecretEncoding::Base64url => {
            // Either alphabet, padded or not, to the engine's base64url.
            let url: Vec<u8> = t
                .iter()
                .filter(|&&c| c != b'=')
                .map(|&c| match c {
                    b'+' if enc == SecretEncoding::Base64 => b'-',
                    b'/' if enc == SecretEncoding::Base64 => b'_',
                    c => c,
                })
                .collect();
            let mut out = vec![0u8; url.len()];
            let n = tokenguard::b64::decode(&url, &mut out)
                .map_err(|_| anyhow::anyhow!("the secret is not {enc:?}"))?;
            out.truncate(n);
            Ok(out)
        }
    }
}

#[derive(Args, Debug)]
#[command(group(ArgGroup::new("source").required(true).args(["url", "json", "cert", "public_key", "private_key", "keystore", "secret_env", "secret_file", "generate", "key"])))]
pub struct JwkArgs {
    /// Fetch a JWK or JWK Set from a URL (pick one with --kid when it holds several).
    #[arg(long)]
    url: Option<String>,
    /// A pasted JWK or JWK Set (`@FILE` reads a file, `-` standard input).
    #[arg(long)]
    json: Option<String>,
    /// An X.509 certificate (PEM or DER): its public key (`-`: standard input).
    #[arg(long)]
    cert: Option<PathBuf>,
    /// A public key (PEM or DER SubjectPublicKeyInfo, or PKCS#1 RSA PUBLIC KEY; `-`: stdin).
    #[arg(long = "public-key")]
    public_key: Option<PathBuf>,
    /// A private key (PEM or DER PKCS#1, PKCS#8, SEC1; `-`: stdin); only its public part unless
    /// --include-private.
    #[arg(long = "private-key")]
    private_key: Option<PathBuf>,
    /// A PKCS#12 keystore (.p12/.pfx, the gateway's KEYSTORE source): the entry's key (its
    /// public part unless --include-private), the alias as kid unless --kid; the password
    /// from --password-env or --password-file, the entry from --alias.
    #[arg(long, value_name = "FILE")]
    keystore: Option<PathBuf>,
    #[command(flatten)]
    secret: tokenguard_sim::keystore::SecretOpts,
    /// A shared secret from this environment variable (Auth0's HS256 signing secret, for one)
    /// as an `oct` JWK; see --secret-encoding.
    #[arg(long, value_name = "VAR")]
    secret_env: Option<String>,
    /// A shared secret from this file (`-`: standard input) as an `oct` JWK; a final line
    /// break is not part of it.
    #[arg(long, value_name = "FILE")]
    secret_file: Option<PathBuf>,
    /// How --secret-env/--secret-file spell the secret: its bytes as they are (raw, the
    /// default, as Auth0 uses its signing secret), or base64, base64url, hex.
    #[arg(long, value_enum, default_value = "raw")]
    secret_encoding: SecretEncoding,
    /// Publish the certificate chain (--cert, --keystore) as `x5c`, with the leaf's
    /// `x5t#S256` (RFC 7517 §4.7, §4.9).
    #[arg(long)]
    x5c: bool,
    /// Generate a key of this type (case does not matter).
    #[arg(long, value_enum, ignore_case = true)]
    generate: Option<Kty>,
    /// Key id (selects from a set; sets it otherwise). `thumbprint` sets it to the key's RFC
    /// 7638 SHA-256 thumbprint.
    #[arg(long, allow_hyphen_values = true)]
    kid: Option<String>,
    /// Public key use.
    #[arg(long = "use", value_enum)]
    use_: Option<Use>,
    /// Algorithm (the IANA JOSE registry's exact name), checked against the key type and use.
    #[arg(long)]
    alg: Option<String>,
    /// Curve for --generate EC/OKP (P-256, P-384, Ed25519).
    #[arg(long)]
    crv: Option<String>,
    /// Size in bits for --generate RSA (2048, 3072, 4096) or oct (at least 256).
    #[arg(long)]
    size: Option<usize>,
    /// Output a JWK Set (`{"keys":[...]}`).
    #[arg(long)]
    set: bool,
    /// A key in a PKCS#11 token (an HSM): `pkcs11:token=LABEL;object=LABEL?module-path=...`
    /// (RFC 7512), or in a TPM 2.0: `tpm:handle=0x81010001?tcti=...`; its public key, with the kid `sign --key` puts in the header (the
    /// thumbprint unless --kid) and its algorithm (--alg for RSA: RS256 by default).
    #[arg(long, value_name = "URI")]
    key: Option<String>,
    /// The PKCS#11 token's user PIN, or the TPM key's authorization value, from this
    /// environment variable.
    #[arg(long, value_name = "VAR", requires = "key")]
    pin_env: Option<String>,
    /// Include private members (d, p, q, ...; the secret `k` of oct keys).
    #[arg(long)]
    include_private: bool,
    #[command(flatten)]
    limits: FetchLimits,
    /// Print the key's RFC 7638 thumbprint (SHA-256, base64url) instead of the JWK.
    #[arg(long)]
    thumbprint: bool,
    /// Write here instead of stdout.
    #[arg(long)]
    output: Option<PathBuf>,
}

/// Algorithms of the IANA JOSE registry for a key type and use, among the keys this tool reads:
/// RFC 7518 §3.1 and §4.1, RFC 8037 (EdDSA), RFC 8812 (ES256K), RFC 9864 (Ed25519);
/// RSA-OAEP-384 and RSA-OAEP-512 are IANA registrations (from W3C WebCrypto), not RFC 7518's.
pub fn registered(kty: &str, use_: Use) -> &'static [&'static str] {
    match (kty, use_) {
        ("RSA", Use::Sig) => &["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"],
        ("RSA", Use::Enc) => &[
            "RSA1_5",
            "RSA-OAEP",
            "RSA-OAEP-256",
            "RSA-OAEP-384",
            "RSA-OAEP-512",
        ],
        ("EC", Use::Sig) => &["ES256", "ES384", "ES512", "ES256K"],
        // X25519/X448 keys are not among the keys this tool reads, so OKP lists none for enc.
        ("EC", Use::Enc) => &[
            "ECDH-ES",
            "ECDH-ES+A128KW",
            "ECDH-ES+A192KW",
            "ECDH-ES+A256KW",
        ],
        ("OKP", Use::Sig) => &["EdDSA", "Ed25519"],
        ("oct", Use::Sig) => &["HS256", "HS384", "HS512"],
        ("oct", Use::Enc) => &[
            "A128KW",
            "A192KW",
            "A256KW",
            "A128GCMKW",
            "A192GCMKW",
            "A256GCMKW",
            "dir",
            "PBES2-HS256+A128KW",
            "PBES2-HS384+A192KW",
            "PBES2-HS512+A256KW",
        ],
        _ => &[],
    }
}

/// Checks `--use`/`--alg` against the key; returns the use to write, if any.
pub fn check_use_alg(
    jwk: &Map<String, Value>,
    use_: Option<Use>,
    alg: Option<&str>,
) -> anyhow::Result<Option<Use>> {
    let kty = jwk
        .get("kty")
        .and_then(Value::as_str)
        .context("JWK without kty")?;
    if kty == "OKP" && use_ == Some(Use::Enc) {
        bail!("an Ed25519 key only signs (RFC 8037 §3.1): use sig, or an X25519 key for ECDH-ES");
    }
    let Some(alg) = alg else { return Ok(use_) };
    if ["RSA", "EC", "OKP", "oct"]
        .iter()
        .any(|t| t.eq_ignore_ascii_case(alg))
    {
        bail!("{alg:?} is a key type, not an algorithm: --alg expects e.g. RS256, ES256, EdDSA, HS256, RSA-OAEP");
    }
    let uses: Vec<Use> = match use_ {
        Some(u) => vec![u],
        None => vec![Use::Sig, Use::Enc],
    };
    let Some(u) = uses
        .into_iter()
        .find(|u| registered(kty, *u).contains(&alg))
    else {
        let u = use_.unwrap_or(Use::Sig);
        // The registry's names are case-sensitive: `es256` or `DIR` is one letter-case away.
        if let Some(exact) = [Use::Sig, Use::Enc]
            .iter()
            .flat_map(|u| registered(kty, *u))
            .find(|n| **n != alg && n.eq_ignore_ascii_case(alg))
        {
            bail!("alg {alg:?} is not a registered name: JOSE algorithm names are case-sensitive; did you mean {exact}?");
        }
        bail!(
            "alg {alg} does not fit an {kty} key{}; expected one of {}",
            use_.map(|u| format!(" for use {}", if u == Use::Sig { "sig" } else { "enc" }))
                .unwrap_or_default(),
            registered(kty, u).join(", ")
        );
    };
    if kty == "EC" && u == Use::Sig {
        let crv = jwk.get("crv").and_then(Value::as_str).unwrap_or("");
        let want = match alg {
            "ES256" => "P-256",
            "ES384" => "P-384",
            "ES512" => "P-521",
            _ => "secp256k1",
        };
        if crv != want {
            bail!("alg {alg} needs curve {want}, the key is {crv}");
        }
    }
    if kty == "OKP" {
        let crv = jwk.get("crv").and_then(Value::as_str).unwrap_or("");
        if (u == Use::Sig) != crv.starts_with("Ed") {
            bail!("alg {alg} does not fit curve {crv}");
        }
    }
    Ok(Some(u))
}

fn read(p: &std::path::Path) -> anyhow::Result<Vec<u8>> {
    tokenguard_sim::out::read_input(p)
}

/// Connect and read timeouts and a response size limit for fetching a JWK (Set).
#[derive(Args, Debug, Clone, Copy)]
pub struct FetchLimits {
    /// Connect timeout, seconds.
    #[arg(long, default_value_t = 5)]
    connect_timeout: u64,
    /// Read timeout, seconds.
    #[arg(long, default_value_t = 10)]
    read_timeout: u64,
    /// Largest response accepted, bytes.
    #[arg(long, default_value_t = 1 << 20)]
    max_size: u64,
}

impl FetchLimits {
    /// Fetches `url` within these limits; the body and the `Cache-Control` value.
    pub fn fetch(&self, url: &str) -> anyhow::Result<(Vec<u8>, Option<String>)> {
        fetch(
            url,
            Duration::from_secs(self.connect_timeout),
            Duration::from_secs(self.read_timeout),
            self.max_size,
        )
    }
}

/// Fetches `url` with the timeouts and size limit.
pub fn fetch(
    url: &str,
    connect: Duration,
    read: Duration,
    max: u64,
) -> anyhow::Result<(Vec<u8>, Option<String>)> {
    if !url.contains("://") {
        bail!("{url} has no scheme: did you mean https://{url} (or http:// for a server on loopback)?");
    }
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_connect(Some(connect))
        .timeout_recv_response(Some(read))
        .timeout_recv_body(Some(read))
        .http_status_as_error(false)
        .build()
        .into();
    let mut resp = agent.get(url).call().map_err(|e| {
        let text = e.to_string();
        let tls = url.starts_with("https://")
            && [
                "tls",
                "TLS",
                "InvalidContentType",
                "corrupt message",
                "handshake",
            ]
            .iter()
            .any(|w| text.contains(w));
        if tls {
            anyhow::anyhow!(
                "fetching {url}: the server did not answer in TLS ({text}); if it serves plain \
                     HTTP (as `tokenguard-sim idp serve` does), use {}",
                url.replacen("https://", "http://", 1)
            )
        } else {
            anyhow::anyhow!("fetching {url}: {e}")
        }
    })?;
    let status = resp.status();
    if !status.is_success() {
        bail!("fetching {url}: HTTP {status}");
    }
    let cache = resp
        .headers()
        .get("cache-control")
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    let body = resp
        .body_mut()
        .with_config()
        .limit(max)
        .read_to_vec()
        .map_err(|e| match e {
            ureq::Error::BodyExceedsLimit(_) => {
                anyhow::anyhow!("fetching {url}: response larger than {max} bytes")
            }
            other => anyhow::anyhow!("fetching {url}: {other}"),
        })?;
    Ok((body, cache))
}

fn from_document(doc: &[u8], kid: Option<&str>) -> anyhow::Result<Map<String, Value>> {
    let v: Value = serde_json::from_slice(doc).context("not JSON")?;
    let keys: Vec<Map<String, Value>> = match v {
        Value::Object(o) if o.contains_key("keys") => o
            .get("keys")
            .and_then(Value::as_array)
            .context("\"keys\" is not an array")?
            .iter()
            .filter_map(|k| k.as_object().cloned())
            .collect(),
        Value::Object(o) => vec![o],
        _ => bail!("not a JWK or JWK Set"),
    };
    match kid {
        Some(k) => keys
            .into_iter()
            .find(|j| j.get("kid").and_then(Value::as_str) == Some(k))
            .with_context(|| format!("no key with kid {k:?}")),
        None if keys.len() == 1 => Ok(keys.into_iter().next().unwrap_or_default()),
        None if keys.is_empty() => bail!("the JWK Set is empty"),
        None => bail!("the JWK Set holds {} keys: pick one with --kid", keys.len()),
    }
}

fn public_members(jwk: &tokenguard::Jwk) -> anyhow::Result<Map<String, Value>> {
    let mut buf = vec![0u8; 2048];
    let text = jwk
        .to_json(&mut buf, true)
        .context("key does not serialize")?;
    let mut m: Map<String, Value> = serde_json::from_str(text)?;
    m.remove("use");
    m.remove("alg");
    m.remove("kid");
    Ok(m)
}

fn from_private(
    k: &PrivateKeyBytes<'_>,
    include_private: bool,
) -> anyhow::Result<Map<String, Value>> {
    let signer =
        SigningKey::from_private_bytes(k, None, None).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut m = public_members(&signer.public_jwk().map_err(|e| anyhow::anyhow!("{e}"))?)?;
    if include_private {
        match *k {
            PrivateKeyBytes::Rsa {
                d,
                p,
                q,
                dp,
                dq,
                qi,
                ..
            } => {
                for (name, v) in [
                    ("d", d),
                    ("p", p),
                    ("q", q),
                    ("dp", dp),
                    ("dq", dq),
                    ("qi", qi),
                ] {
                    m.insert(name.into(), b64(v).into());
                }
            }
            PrivateKeyBytes::Ec { d, .. } => {
                m.insert("d".into(), b64(d).into());
            }
            PrivateKeyBytes::Ed25519(seed) => {
                m.insert("d".into(), b64(seed).into());
            }
            ref other => bail!("cannot write the private members of {other:?}"),
        }
    }
    Ok(m)
}

fn generate(a: &JwkArgs, kty: Kty) -> anyhow::Result<Map<String, Value>> {
    use ring::rand::SecureRandom;
    use ring::signature::{EcdsaKeyPair, Ed25519KeyPair};
    let rng = ring::rand::SystemRandom::new();
    match (kty, a.size, a.crv.as_deref()) {
        (Kty::Ec | Kty::Okp, Some(size), _) => bail!(
            "--size {size} with --generate {kty:?}: the curve sets an EC or OKP key's size (--crv P-256, P-384, P-521, secp256k1, Ed25519)"
        ),
        (Kty::Rsa | Kty::Oct, _, Some(crv)) => bail!(
            "--crv {crv} with --generate {kty:?}: only EC and OKP keys have a curve (--size sets this key's)"
        ),
        _ => {}
    }
    if kty != Kty::Oct && !a.include_private {
        // A fresh key pair printed without its private half could never sign anything.
        bail!(
            "--generate makes a key pair, and only the private key can sign: add \
             --include-private (with --output FILE it is written readable by you only), then \
             derive the public JWK with `tokenguard-sim jwk --json @FILE` or \
             `jwk --private-key`"
        );
    }
    let pkcs8: Vec<u8> = match kty {
        Kty::Rsa => {
            use rsa::pkcs1::EncodeRsaPrivateKey;
            let bits = a.size.unwrap_or(2048);
            if ![2048, 3072, 4096].contains(&bits) {
                bail!("--size for RSA must be 2048, 3072 or 4096");
            }
            let key =
                rsa::PrivateKey::new(&mut rand::rng(), bits).map_err(|e| anyhow::anyhow!("{e}"))?;
            let der = key.to_pkcs1_der().map_err(|e| anyhow::anyhow!("{e}"))?;
            let k = keys::pkcs1_private(der.as_bytes()).map_err(|e| anyhow::anyhow!("{e}"))?;
            return from_private(&k, a.include_private);
        }
        Kty::Ec => {
            let alg = match a.crv.as_deref().unwrap_or("P-256") {
                "P-256" => &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                "P-384" => &ring::signature::ECDSA_P384_SHA384_FIXED_SIGNING,
                other => bail!("--crv {other}: EC keys are P-256 or P-384 here"),
            };
            EcdsaKeyPair::generate_pkcs8(alg, &rng)
                .map_err(|_| anyhow::anyhow!("key generation failed"))?
                .as_ref()
                .to_vec()
        }
        Kty::Okp => {
            if a.crv.as_deref().unwrap_or("Ed25519") != "Ed25519" {
                bail!("--crv: OKP keys are Ed25519 here");
            }
            Ed25519KeyPair::generate_pkcs8(&rng)
                .map_err(|_| anyhow::anyhow!("key generation failed"))?
                .as_ref()
                .to_vec()
        }
        Kty::Oct => {
            // The size follows the algorithm: an HMAC key as long as the hash output (RFC 7518
            // §3.2), a key-wrap or direct key exactly the cipher's key.
            let exact = match a.alg.as_deref() {
                Some("A128KW" | "A128GCMKW") => Some(128),
                Some("A192KW" | "A192GCMKW") => Some(192),
                Some("A256KW" | "A256GCMKW" | "dir") => Some(256),
                _ => None,
            };
            let min = match a.alg.as_deref() {
                Some("HS384") => 384,
                Some("HS512") => 512,
                _ => 256,
            };
            let bits = match (exact, a.size) {
                (Some(e), Some(s)) if s != e => bail!(
                    "--size {s}: {} keys are exactly {e} bits",
                    a.alg.as_deref().unwrap_or_default()
                ),
                (Some(e), _) => e,
                (None, s) => s.unwrap_or(min),
            };
            if exact.is_none() && (bits < min || !bits.is_multiple_of(8) || bits > 1024) {
                bail!(
                    "--size for {} must be a multiple of 8 from {min} to 1024 bits",
                    a.alg.as_deref().unwrap_or("an oct key")
                );
            }
            if !a.include_private {
                bail!("an oct key is a secret: pass --include-private to print it");
            }
            let mut k = vec![0u8; bits / 8];
            rng.fill(&mut k)
                .map_err(|_| anyhow::anyhow!("no system randomness"))?;
            let mut m = Map::new();
            m.insert("kty".into(), "oct".into());
            m.insert("k".into(), b64(&k).into());
            return Ok(m);
        }
    };
    let k = keys::pkcs8_private(&pkcs8).map_err(|e| anyhow::anyhow!("{e}"))?;
    from_private(&k, a.include_private)
}

/// A JWK read from JSON goes through the checks `verify` applies: its own `use`/`alg` pair
/// against RFC 7518's table (as flags are), and a signature key through the engine's import
/// (key type, base64url, RSA size and exponent, the EC point on its curve, HMAC length).
/// Encryption keys, which the engine never imports, get the structural checks: a known key
/// type and base64url members.
fn validate_document_key(jwk: &Map<String, Value>) -> anyhow::Result<()> {
    let kty = jwk
        .get("kty")
        .and_then(Value::as_str)
        .context("the JWK has no \"kty\"")?;
    if !["RSA", "EC", "OKP", "oct"].contains(&kty) {
        bail!("unknown key type {kty:?} (RSA, EC, OKP or oct)");
    }
    let use_ = match jwk.get("use").and_then(Value::as_str) {
        None => None,
        Some("sig") => Some(Use::Sig),
        Some("enc") => Some(Use::Enc),
        Some(other) => bail!("\"use\": {other:?} is neither sig nor enc"),
    };
    let alg = jwk.get("alg").and_then(Value::as_str);
    let use_ = check_use_alg(jwk, use_, alg).context("the JWK's own use and alg")?;
    if use_ == Some(Use::Enc) {
        for m in ["n", "e", "x", "y", "k", "d"] {
            if let Some(v) = jwk.get(m) {
                let s = v
                    .as_str()
                    .with_context(|| format!("{m:?} is not a string"))?;
                let mut out = vec![0u8; s.len()];
                tokenguard::b64::decode(s.as_bytes(), &mut out)
                    .map_err(|_| anyhow::anyhow!("{m:?} is not base64url"))?;
            }
        }
        return Ok(());
    }
    // The public part (and an oct key's k) through the engine, without private members.
    let mut public = jwk.clone();
    for m in ["d", "p", "q", "dp", "dq", "qi", "oth"] {
        public.remove(m);
    }
    let text = serde_json::to_string(&Value::Object(public))?;
    tokenguard::Jwk::from_json(text.as_bytes()).map_err(|e| anyhow::anyhow!("key refused: {e}"))?;
    Ok(())
}

/// `--kid` as a selector of a key in a set: none when it asks for the thumbprint.
fn select_kid(a: &JwkArgs) -> Option<&str> {
    a.kid.as_deref().filter(|k| *k != "thumbprint")
}

/// The RFC 7638 thumbprint: SHA-256 over the required members in lexicographic order, no
/// whitespace, base64url.
fn thumbprint(jwk: &Map<String, Value>) -> anyhow::Result<String> {
    let kty = jwk.get("kty").and_then(Value::as_str).unwrap_or_default();
    let members: &[&str] = match kty {
        "RSA" => &["e", "kty", "n"],
        "EC" => &["crv", "kty", "x", "y"],
        "OKP" => &["crv", "kty", "x"],
        "oct" => &["k", "kty"],
        other => bail!("no RFC 7638 thumbprint for key type {other:?}"),
    };
    let mut canon = Map::new();
    for m in members {
        let v = jwk
            .get(*m)
            .and_then(Value::as_str)
            .with_context(|| format!("the key has no {m:?} for its thumbprint"))?;
        canon.insert((*m).into(), v.into());
    }
    // serde_json's Map keeps keys sorted (no preserve_order feature): the RFC's order.
    let text = serde_json::to_string(&Value::Object(canon))?;
    Ok(b64(ring::digest::digest(
        &ring::digest::SHA256,
        text.as_bytes(),
    )
    .as_ref()))
}

/// The certificates of a PEM bundle (leaf first, as written) or of one DER certificate.
fn cert_chain(input: &[u8]) -> Vec<Vec<u8>> {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    let text = String::from_utf8_lossy(input);
    if !text.contains(BEGIN) {
        return vec![input.to_vec()];
    }
    text.split(BEGIN)
        .skip(1)
        .filter_map(|block| {
            let pem = format!("{BEGIN}{block}");
            let mut der = vec![0u8; pem.len()];
            let (_, d) = keys::pem_decode(pem.as_bytes(), &mut der).ok()?;
            Some(d.to_vec())
        })
        .collect()
}

pub fn run(a: JwkArgs) -> anyhow::Result<ExitCode> {
    // The certificate chain of a --cert or --keystore source, for --x5c.
    let mut chain: Vec<Vec<u8>> = Vec::new();
    let mut jwk: Map<String, Value> = if let Some(url) = &a.url {
        let (body, _) = a.limits.fetch(url)?;
        let jwk = from_document(&body, select_kid(&a)).with_context(|| url.clone())?;
        validate_document_key(&jwk).with_context(|| url.clone())?;
        jwk
    } else if let Some(j) = &a.json {
        let doc = match j.strip_prefix('@') {
            Some(path) => read(&PathBuf::from(path))?,
            None if j == "-" => read(&PathBuf::from("-"))?,
            None => j.as_bytes().to_vec(),
        };
        let jwk = from_document(&doc, select_kid(&a))?;
        validate_document_key(&jwk)?;
        jwk
    } else if let Some(p) = a.cert.as_ref().or(a.public_key.as_ref()) {
        let input = read(p)?;
        if a.cert.is_some() {
            chain = cert_chain(&input);
            if chain.len() > 1 {
                eprintln!(
                    "note: {} holds {} certificates: the JWK is the first one's key (the leaf){}",
                    tokenguard_sim::out::name(p),
                    chain.len(),
                    if a.x5c {
                        "; x5c carries the chain"
                    } else {
                        "; --x5c publishes the chain"
                    }
                );
            }
        }
        let mut scratch = vec![0u8; 16 * 1024];
        let pk = keys::public_key(&input, &mut scratch)
            .map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?;
        public_members(&pk.to_jwk(None, None).map_err(|e| {
            match tokenguard_sim::keyfile::rsa_size_problem(&tokenguard_sim::out::name(p), &input) {
                Some(why) => anyhow::anyhow!("{why}"),
                None => anyhow::anyhow!("{}: key refused: {e}", p.display()),
            }
        })?)?
    } else if a.secret_env.is_some() || a.secret_file.is_some() {
        let text = match (&a.secret_env, &a.secret_file) {
            (Some(var), _) => std::env::var_os(var)
                .with_context(|| format!("--secret-env {var}: the variable is not set"))?
                .into_encoded_bytes(),
            (None, Some(f)) => {
                let mut t = read(f)?;
                if t.ends_with(b"\n") {
                    t.pop();
                    if t.ends_with(b"\r") {
                        t.pop();
                    }
                }
                t
            }
            (None, None) => bail!("--secret-env or --secret-file is required"),
        };
        let secret = decode_secret(&text, a.secret_encoding)?;
        if secret.is_empty() {
            bail!("the secret is empty");
        }
        let mut m = Map::new();
        m.insert("kty".into(), "oct".into());
        m.insert("k".into(), b64(&secret).into());
        // As verify would import it: long enough for the algorithm (RFC 7518 §3.2).
        let mut probe = m.clone();
        if let Some(alg) = &a.alg {
            probe.insert("alg".into(), alg.clone().into());
        }
        tokenguard::Jwk::from_json(serde_json::to_string(&Value::Object(probe))?.as_bytes())
            .map_err(|e| {
                anyhow::anyhow!(
                    "the secret ({} bytes) is refused: {e}: HS256 needs at least 32 bytes, HS384 48, HS512 64 (RFC 7518 §3.2)",
                    secret.len()
                )
            })?;
        m
    } else if let Some(p) = &a.keystore {
        let bytes = read(p)?;
        let name = tokenguard_sim::out::name(p);
        let entry = tokenguard_sim::keystore::open_pkcs12(&name, &bytes, &a.secret)?;
        let k = keys::pkcs8_private(&entry.pkcs8)
            .map_err(|e| anyhow::anyhow!("{name}, entry {:?}: {e}", entry.alias))?;
        let mut m = from_private(&k, a.include_private)?;
        // The entry's certificate must carry the same key.
        if let Some(leaf) = entry.chain.first() {
            let pk = keys::certificate_public_key(leaf)
                .map_err(|e| anyhow::anyhow!("{name}: the entry's certificate: {e}"))?;
            let cert_key = public_members(
                &pk.to_jwk(None, None)
                    .map_err(|e| anyhow::anyhow!("{name}: the certificate's key: {e}"))?,
            )?;
            if cert_key.iter().any(|(k, v)| m.get(k) != Some(v)) {
                bail!(
                    "{name}: entry {:?}: the certificate is not for this key",
                    entry.alias
                );
            }
        }
        if a.kid.is_none() {
            m.insert("kid".into(), entry.alias.clone().into());
        }
        chain = entry.chain;
        m
    } else if let Some(p) = &a.private_key {
        let mut input = read(p)?;
        let name = tokenguard_sim::out::name(p);
        if tokenguard_sim::keystore::is_encrypted_pkcs8(&input) && a.secret.has_password() {
            input = tokenguard_sim::keystore::decrypt_pkcs8_pem(&name, &input, &a.secret)?;
        }
        // A ZITADEL key file: its PEM, and its keyId as the kid unless --kid says otherwise.
        let mut file_kid = None;
        if let Ok(v) = serde_json::from_slice::<Value>(&input) {
            if let (Some(pem), Some(id)) = (
                v.get("key").and_then(Value::as_str),
                v.get("keyId").and_then(Value::as_str),
            ) {
                file_kid = Some(id.to_owned());
                input = pem.as_bytes().to_vec();
            }
        }
        let mut scratch = vec![0u8; 16 * 1024];
        let k = keys::private_key(&input, &mut scratch).map_err(|e| {
            match tokenguard_sim::keyfile::explain_private(&name, &input) {
                Some(why) => anyhow::anyhow!("{why}"),
                None => anyhow::anyhow!("{name}: {e}"),
            }
        })?;
        let mut m = from_private(&k, a.include_private).map_err(|e| {
            tokenguard_sim::keyfile::rsa_size_problem(&name, &input)
                .map_or(e, |why| anyhow::anyhow!("{why}"))
        })?;
        if let (Some(id), None) = (file_kid, &a.kid) {
            m.insert("kid".into(), id.into());
        }
        m
    } else if let Some(uri) = &a.key {
        let alg = match &a.alg {
            Some(n) => Some(
                tokenguard::Algorithm::from_name(n.as_bytes())
                    .with_context(|| format!("unknown algorithm {n:?}"))?,
            ),
            None => None,
        };
        let kid = a.kid.as_deref().filter(|k| *k != "thumbprint");
        let hw = tokenguard_sim::hardware::HardwareKey::open(uri, a.pin_env.as_deref(), alg, kid)?;
        let mut m = public_members(hw.public_jwk())?;
        let hw_kid = hw
            .public_jwk()
            .kid()
            .and_then(|k| k.as_str())
            .unwrap_or_default()
            .to_owned();
        m.insert("kid".into(), hw_kid.into());
        if a.alg.is_none() {
            if let Some(alg) = hw.public_jwk().alg() {
                m.insert("alg".into(), alg.name().into());
            }
        }
        m
    } else if let Some(kty) = a.generate {
        generate(&a, kty)?
    } else {
        bail!("a source is required: --url, --json, --cert, --public-key, --private-key, --keystore, --secret-env, --secret-file, --key or --generate");
    };
    // From --url/--json: private members only if asked for.
    if !a.include_private {
        for m in ["d", "p", "q", "dp", "dq", "qi", "oth"] {
            jwk.remove(m);
        }
        if jwk.get("kty").and_then(Value::as_str) == Some("oct") {
            bail!("an oct key is a secret: pass --include-private to print it");
        }
    }
    if let Some(k) = &a.kid {
        if k == "thumbprint" {
            jwk.insert("kid".into(), thumbprint(&jwk)?.into());
        } else if a.url.is_none() && a.json.is_none() {
            jwk.insert("kid".into(), k.clone().into());
        }
    }
    if a.x5c {
        let Some(leaf) = chain.first() else {
            bail!("--x5c needs a certificate: use it with --cert or --keystore");
        };
        let certs: Vec<Value> = chain
            .iter()
            .map(|c| tokenguard_sim::keystore::base64_std(c).into())
            .collect();
        jwk.insert("x5c".into(), Value::Array(certs));
        jwk.insert(
            "x5t#S256".into(),
            b64(ring::digest::digest(&ring::digest::SHA256, leaf).as_ref()).into(),
        );
    }
    if a.thumbprint {
        tokenguard_sim::outln!("{}", thumbprint(&jwk)?);
        return Ok(ExitCode::SUCCESS);
    }
    let use_ = check_use_alg(&jwk, a.use_, a.alg.as_deref())?;
    if let Some(u) = use_ {
        jwk.insert(
            "use".into(),
            if u == Use::Sig { "sig" } else { "enc" }.into(),
        );
    }
    if let Some(alg) = &a.alg {
        jwk.insert("alg".into(), alg.clone().into());
    }
    // Private or secret members: the file is the owner's alone.
    let private = ["d", "k", "p", "q", "dp", "dq", "qi"]
        .iter()
        .any(|m| jwk.contains_key(*m));
    let out = if a.set {
        json!({ "keys": [Value::Object(jwk)] })
    } else {
        Value::Object(jwk)
    };
    let text = serde_json::to_string_pretty(&out)?;
    match &a.output {
        Some(p) => tokenguard_sim::out::write_file(p, (text + "\n").as_bytes(), private)?,
        None => tokenguard_sim::outln!("{text}"),
    }
    Ok(ExitCode::SUCCESS)
}
