//! What the hardware signers (the PKCS#11 and TPM modules) share, below them: a key's
//! description ([`KeyInfo`]), the [`Device`] trait each implements, percent-decoding of key
//! references, and where a PIN or authorization value comes from.

use anyhow::anyhow;
use tokenguard::{Algorithm, Jwk};

/// Percent-decodes `s` (RFC 3986); `what` names the reference in messages.
///
/// # Errors
/// A `%` not followed by two hex digits.
pub fn pct_decode(s: &str, what: &str) -> anyhow::Result<Vec<u8>> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s
                .get(i + 1..i + 3)
                .ok_or_else(|| anyhow!("{what}: a `%` not followed by two hex digits in {s:?}"))?;
            let v = u8::from_str_radix(hex, 16)
                .map_err(|_| anyhow!("{what}: `%{hex}` is not a hex byte in {s:?}"))?;
            out.push(v);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Ok(out)
}

/// Percent-decodes `s` into text.
///
/// # Errors
/// As [`pct_decode`]; not UTF-8 once decoded.
pub fn pct_text(s: &str, what: &str) -> anyhow::Result<String> {
    String::from_utf8(pct_decode(s, what)?).map_err(|_| anyhow!("{what}: {s:?} is not UTF-8"))
}

/// A PIN or authorization value: from the environment variable `env` (`--pin-env`), else
/// the reference's `pin-value`, else the file its `pin-source` names (a path or `file:` URI;
/// trailing newlines dropped); `None` if none is given.
///
/// # Errors
/// The variable is not set; the file cannot be read.
pub fn secret(
    env: Option<&str>,
    value: Option<&str>,
    source: Option<&str>,
) -> anyhow::Result<Option<String>> {
    if let Some(var) = env {
        let v =
            std::env::var(var).map_err(|_| anyhow!("--pin-env {var}: the variable is not set"))?;
        return Ok(Some(v));
    }
    if let Some(v) = value {
        return Ok(Some(v.to_owned()));
    }
    if let Some(src) = source {
        let path = std::path::PathBuf::from(
            src.strip_prefix("file://")
                .or(src.strip_prefix("file:"))
                .unwrap_or(src),
        );
        let text = std::fs::read_to_string(&path)
            .map_err(|e| anyhow!("pin-source {}: cannot read it: {e}", path.display()))?;
        return Ok(Some(text.trim_end_matches(['\n', '\r']).to_owned()));
    }
    Ok(None)
}

/// What a hardware key is: its algorithm, key id, public key and signature length.
#[derive(Debug)]
pub struct KeyInfo {
    /// The JWS algorithm it signs.
    pub alg: Algorithm,
    /// The header's key id.
    pub kid: Vec<u8>,
    /// The public key, with `kid` and `alg`.
    pub public: Jwk,
    /// The exact signature length.
    pub signature_len: usize,
    /// What the key is, for messages: `TPM key 0x81010001`, `token "dev", object "k1"`.
    pub describe: String,
}

impl KeyInfo {
    /// From the public key read from the device (bound to `alg`, without a key id): `kid` is
    /// the given one, else the key's RFC 7638 thumbprint (what `jwk --key` prints).
    ///
    /// # Errors
    /// A key id the JWK refuses.
    pub fn new(
        public: Jwk,
        kid: Option<&str>,
        alg: Algorithm,
        describe: String,
    ) -> anyhow::Result<KeyInfo> {
        let kid = kid.map_or_else(|| crate::keyfile::thumbprint_kid(&public), str::to_owned);
        let public = public
            .with_kid(Some(kid.as_bytes()))
            .map_err(|e| anyhow!("{describe}: the key id {kid:?}: {e}"))?;
        let signature_len = alg.signature_len().unwrap_or(public.bits() / 8);
        Ok(KeyInfo {
            alg,
            kid: kid.into_bytes(),
            public,
            signature_len,
            describe,
        })
    }
}

/// A device holding a private key.
pub trait Device {
    /// What the key is.
    fn info(&self) -> &KeyInfo;
    /// The device's signature over the JWS signing input `msg`, in JWS's format (unchecked).
    ///
    /// # Errors
    /// The device's refusal, with the reason.
    fn raw_sign(&self, msg: &[u8]) -> anyhow::Result<Vec<u8>>;
}
