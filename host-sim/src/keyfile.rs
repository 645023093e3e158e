//! Reading signing keys from the files testers have: ZITADEL key files
//! (`{"type":"serviceaccount","keyId","key","userId"}` and
//! `{"type":"application","keyId","key","appId","clientId"}`), private JWKs, and PEM/DER
//! (PKCS#1, PKCS#8, SEC1).

use std::path::Path;

use anyhow::{bail, Context};
use tokenguard::sign::SigningKey;
use tokenguard::Algorithm;

/// What a key file said about its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// A ZITADEL service user (machine user).
    ZitadelUser { user_id: String },
    /// A ZITADEL API application.
    ZitadelApp { client_id: String, app_id: String },
    /// Nothing (PEM, DER or JWK).
    Unknown,
}

/// A loaded key: the signer, its owner, and the key id the file named.
pub struct LoadedKey {
    pub key: SigningKey,
    pub owner: Owner,
    pub key_id: Option<String>,
}

/// Loads a signing key from `path`; `kid` and `alg` override what the file says. A PKCS#12
/// keystore or an encrypted PKCS#8 PEM takes its password (and the entry's alias) from
/// `secret`.
///
/// # Errors
/// The file cannot be read; it is a Java keystore; a PKCS#12 keystore or encrypted PKCS#8
/// PEM cannot be opened with `secret`; a file starting with `{` is not JSON; a ZITADEL key
/// file lacks `key`, `keyId` or its owner's id, or has an unknown `type`; an `oct` JWK has
/// no `alg` and `alg` is `None`; or the key itself is refused (the message explains a
/// recognisable mistake) or does not take `kid` or `alg`.
pub fn load(
    path: &Path,
    kid: Option<&str>,
    alg: Option<Algorithm>,
    secret: &crate::keystore::SecretOpts,
) -> anyhow::Result<LoadedKey> {
    use crate::keystore;
    let bytes = crate::out::read_input(path)?;
    let name = crate::out::name(path);
    keystore::refuse_java_keystore(&name, &bytes)?;
    if keystore::is_pkcs12(path, &bytes) {
        let entry = keystore::open_pkcs12(&name, &bytes, secret)?;
        let kid = kid.unwrap_or(&entry.alias);
        let key = SigningKey::from_pem_or_der(&entry.pkcs8, Some(kid.as_bytes()), alg)
            .map_err(|e| anyhow::anyhow!("{name}, entry {:?}: {e}", entry.alias))?;
        return Ok(LoadedKey {
            key,
            owner: Owner::Unknown,
            key_id: Some(kid.to_owned()),
        });
    }
    if keystore::is_encrypted_pkcs8(&bytes) && secret.has_password() {
        let der = keystore::decrypt_pkcs8_pem(&name, &bytes, secret)?;
        let key = SigningKey::from_pem_or_der(&der, kid.map(str::as_bytes), alg)
            .map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
        return Ok(LoadedKey {
            key,
            owner: Owner::Unknown,
            key_id: kid.map(String::from),
        });
    }
    let text = std::str::from_utf8(&bytes).ok();
    if let Some(t) = text.map(str::trim_start).filter(|t| t.starts_with('{')) {
        let v: serde_json::Value = serde_json::from_str(t)
            .with_context(|| format!("{} is not JSON", crate::out::name(path)))?;
        if let Some(kind) = v.get("type").and_then(|t| t.as_str()) {
            let pem = v
                .get("key")
                .and_then(|k| k.as_str())
                .context("ZITADEL key file without \"key\"")?;
            let key_id = v
                .get("keyId")
                .and_then(|k| k.as_str())
                .context("ZITADEL key file without \"keyId\"")?;
            let owner = match kind {
                "serviceaccount" => Owner::ZitadelUser {
                    user_id: v.get("userId").and_then(|u| u.as_str()).context("service account key file without \"userId\"")?.into(),
                },
                "application" => Owner::ZitadelApp {
                    client_id: v.get("clientId").and_then(|u| u.as_str()).context("application key file without \"clientId\"")?.into(),
                    app_id: v.get("appId").and_then(|u| u.as_str()).unwrap_or_default().into(),
                },
                other => bail!("unknown ZITADEL key file type {other:?} (expected serviceaccount or application)"),
            };
            let kid = kid.unwrap_or(key_id);
            let key = SigningKey::from_pem_or_der(pem.as_bytes(), Some(kid.as_bytes()), alg)
                .map_err(|e| anyhow::anyhow!("{}: {e}", crate::out::name(path)))?;
            return Ok(LoadedKey {
                key,
                owner,
                key_id: Some(kid.into()),
            });
        }
        // A private JWK. An `oct` secret without `alg` (verify takes it for any HS*) signs
        // with the algorithm --alg names.
        let mut json = t.to_owned();
        if v.get("kty").and_then(|k| k.as_str()) == Some("oct") && v.get("alg").is_none() {
            let Some(a) = alg else {
                bail!(
                    "{}: an oct key without \"alg\": name the algorithm with --alg HS256, HS384 or HS512",
                    crate::out::name(path)
                );
            };
            let mut with_alg = v.clone();
            with_alg["alg"] = a.name().into();
            json = with_alg.to_string();
        }
        let key = SigningKey::from_jwk(json.as_bytes()).map_err(|e| {
            let hint = match e {
                tokenguard::sign::SignError::KeyRejected(k) => short_secret_hint(k),
                _ => "",
            };
            anyhow::anyhow!("{}: {e}{hint}", crate::out::name(path))
        })?;
        let key = match kid {
            Some(k) => key
                .with_kid(k.as_bytes())
                .map_err(|e| anyhow::anyhow!("{e}"))?,
            None => key,
        };
        let key = match alg {
            Some(a) => key.with_alg(a).map_err(|e| anyhow::anyhow!("{e}"))?,
            None => key,
        };
        let key_id = v
            .get("kid")
            .and_then(|k| k.as_str())
            .map(String::from)
            .or(kid.map(String::from));
        return Ok(LoadedKey {
            key,
            owner: Owner::Unknown,
            key_id,
        });
    }
    let key = SigningKey::from_pem_or_der(&bytes, kid.map(str::as_bytes), alg).map_err(|e| {
        match explain_private(&name, &bytes) {
            Some(why) => anyhow::anyhow!("{why}"),
            None => anyhow::anyhow!("{name}: {e}"),
        }
    })?;
    Ok(LoadedKey {
        key,
        owner: Owner::Unknown,
        key_id: kid.map(String::from),
    })
}

/// Why a file is not the private key PEM/DER a command wanted, in words a user can act on;
/// `None` when nothing recognisable is wrong (the parser's own error is then the message).
pub fn diagnose_private(name: &str, bytes: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(bytes);
    let t = text.trim();
    if t.is_empty() {
        return Some(format!(
            "{name} is empty: a private key (PEM or DER) was expected"
        ));
    }
    if bytes.starts_with(&[0xEF, 0xBB, 0xBF]) {
        return Some(format!(
            "{name} starts with a UTF-8 byte order mark: save it without one (for example \
             `sed -i '1s/^\\xEF\\xBB\\xBF//' {name}`)"
        ));
    }
    let has = |label: &str| t.contains(&format!("-----BEGIN {label}-----"));
    if has("CERTIFICATE") {
        return Some(format!(
            "{name} holds a certificate: signing needs the private key that belongs to it \
             (a certificate only gives the public key: `jwk --cert {name}`)"
        ));
    }
    if has("PUBLIC KEY") || has("RSA PUBLIC KEY") {
        return Some(format!(
            "{name} holds a public key: signing needs the private key (the public key gives a \
             JWK with `jwk --public-key {name}`)"
        ));
    }
    if has("ENCRYPTED PRIVATE KEY") {
        return Some(format!(
            "{name} is an encrypted PKCS#8 key: give its password with --password-env VAR or \
             --password-file FILE"
        ));
    }
    if t.contains("Proc-Type: 4,ENCRYPTED") {
        return Some(format!(
            "{name} is a traditional encrypted PEM (Proc-Type: 4,ENCRYPTED): convert it with \
             `openssl pkey -in {name} -out plain.pem` (it asks for the password)"
        ));
    }
    if t.starts_with("-----BEGIN") && t.contains("\\n") && !t.contains('\n') {
        return Some(format!(
            "{name} has its line breaks written as the two characters \\n (copied out of a JSON \
             string?): replace them with real line breaks, or give the JSON key file itself"
        ));
    }
    if t.starts_with('{') {
        return Some(format!(
            "{name} is JSON (a JWK or a ZITADEL key file), where PEM or DER was expected"
        ));
    }
    None
}

/// The modulus size of an RSA key in PEM (PKCS#8, PKCS#1, SPKI), when it is outside what
/// tokenguard takes: a message with the size and the allowed range.
pub fn rsa_size_problem(name: &str, input: &[u8]) -> Option<String> {
    use rsa::pkcs1::{DecodeRsaPrivateKey, DecodeRsaPublicKey};
    use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey};
    use rsa::traits::PublicKeyParts;
    let text = std::str::from_utf8(input).ok()?;
    let bits = rsa::PrivateKey::from_pkcs8_pem(text)
        .map(|k| k.size() * 8)
        .or_else(|_| rsa::PrivateKey::from_pkcs1_pem(text).map(|k| k.size() * 8))
        .or_else(|_| rsa::PublicKey::from_public_key_pem(text).map(|k| k.size() * 8))
        .or_else(|_| rsa::PublicKey::from_pkcs1_pem(text).map(|k| k.size() * 8))
        .ok()?;
    let (min, max) = (tokenguard::MIN_RSA_BITS, tokenguard::MAX_RSA_BITS);
    (bits < min || bits > max).then(|| {
        format!("{name}: an RSA key of {bits} bits; tokenguard takes {min} to {max} bits (NIST SP 800-131A: no less than 2048; above {max}, verification costs grow with no security need for JWTs)")
    })
}

/// Why a file is not a usable private key, when it says more than the parser's error: what
/// the file holds instead ([`diagnose_private`]) or an RSA size outside the range
/// ([`rsa_size_problem`]).
pub fn explain_private(name: &str, input: &[u8]) -> Option<String> {
    diagnose_private(name, input).or_else(|| rsa_size_problem(name, input))
}

/// For an HMAC secret refused as too short (RFC 7518 §3.2: at least the hash output, so the
/// `"secret"` of many test suites is refused): how to make a proper one.
pub fn short_secret_hint(e: tokenguard::KeyError) -> &'static str {
    if e == tokenguard::KeyError::SymmetricKeySize {
        " (HS256 needs at least 32 bytes, HS384 48, HS512 64, RFC 7518 §3.2; make one with \
         `tokenguard-sim jwk --generate oct --include-private --alg HS256`, or turn an \
         existing long secret into a JWK with `jwk --json`)"
    } else {
        ""
    }
}

/// A key's RFC 7638 thumbprint as base64url, the `kid` `--kid thumbprint` and the mock IdP
/// (for a client registered from a PEM) give it.
pub fn thumbprint_kid(jwk: &tokenguard::Jwk) -> String {
    let tp = jwk.thumbprint::<crate::Engine>();
    let mut kid = vec![0u8; tokenguard::b64::encoded_len(tp.len())];
    // 43 characters always fit the buffer sized for them.
    let n = tokenguard::b64::encode(&tp, &mut kid).unwrap_or(0);
    kid.truncate(n);
    String::from_utf8(kid).unwrap_or_default()
}
