//! Keys that never leave hardware, behind one type: a PKCS#11 token (`pkcs11:` URIs,
//! [`crate::pkcs11`]) or a TPM 2.0 (`tpm:` references, [`crate::tpm`]). Each device makes the
//! raw signature ([`Device`]); [`HardwareKey`] checks its length and verifies it with the
//! key's public half before it is released.

use anyhow::anyhow;
use tokenguard::sign::{SignError, Signer};
use tokenguard::{Algorithm, DefaultBackend, Jwk};

use crate::pkcs11::{PinOpts, Pkcs11Signer};
use crate::tpm::TpmSigner;

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

/// A hardware-held key.
#[derive(Debug)]
pub enum HardwareKey {
    /// In a PKCS#11 token.
    Pkcs11(Box<Pkcs11Signer>),
    /// In a TPM 2.0.
    Tpm(Box<TpmSigner>),
}

impl HardwareKey {
    /// Whether `key` names a hardware key (`pkcs11:...` or `tpm:...`) rather than a file.
    pub fn is_reference(key: &str) -> bool {
        key.starts_with("pkcs11:") || key.starts_with("tpm:")
    }

    /// Opens the key `reference` names; `pin_env` names the variable holding the PKCS#11
    /// user PIN or the TPM key's authorization value. See [`Pkcs11Signer::open`] and
    /// [`TpmSigner::open`].
    ///
    /// # Errors
    /// Theirs; a reference that is neither kind.
    pub fn open(
        reference: &str,
        pin_env: Option<&str>,
        alg: Option<Algorithm>,
        kid: Option<&str>,
    ) -> anyhow::Result<HardwareKey> {
        if reference.starts_with("pkcs11:") {
            let opts = PinOpts {
                env: pin_env.map(str::to_owned),
            };
            Ok(HardwareKey::Pkcs11(Box::new(Pkcs11Signer::open(
                reference, &opts, alg, kid,
            )?)))
        } else if reference.starts_with("tpm:") {
            Ok(HardwareKey::Tpm(Box::new(TpmSigner::open(
                reference, pin_env, alg, kid,
            )?)))
        } else {
            anyhow::bail!("{reference:?} is not a hardware key reference (pkcs11:... or tpm:...)")
        }
    }

    /// The public key as a JWK, with the signer's `kid` and `alg`.
    pub fn public_jwk(&self) -> &Jwk {
        &self.device().info().public
    }

    fn device(&self) -> &dyn Device {
        match self {
            HardwareKey::Pkcs11(k) => k.as_ref(),
            HardwareKey::Tpm(k) => k.as_ref(),
        }
    }
}

impl Signer for HardwareKey {
    fn alg(&self) -> Algorithm {
        self.device().info().alg
    }

    fn kid(&self) -> Option<&[u8]> {
        Some(&self.device().info().kid)
    }

    fn signature_len(&self) -> usize {
        self.device().info().signature_len
    }

    /// The device's signature, released only if it has the algorithm's length and verifies
    /// with the public key read from the device.
    fn sign(
        &self,
        msg: &[u8],
        _entropy: Option<&[u8]>,
        out: &mut [u8],
    ) -> Result<usize, SignError> {
        let info = self.device().info();
        let sig = self.device().raw_sign(msg).map_err(|e| {
            eprintln!("error: {e}");
            SignError::Device
        })?;
        if sig.len() != info.signature_len {
            eprintln!(
                "error: {}: the device returned a {}-byte signature, {} expected",
                info.describe,
                sig.len(),
                info.signature_len
            );
            return Err(SignError::Device);
        }
        if info
            .public
            .verify_signature::<DefaultBackend>(info.alg, msg, &sig)
            .is_err()
        {
            eprintln!(
                "error: {}: the {} signature does not verify with the key's public half{}",
                info.describe,
                info.alg.name(),
                if info.alg.name().starts_with("PS") {
                    " (JWS requires a PSS salt as long as the hash, RFC 7518 3.5; a device using another salt length cannot make PS*: use RS*)"
                } else {
                    ""
                }
            );
            return Err(SignError::SelfCheckFailed);
        }
        let dst = out.get_mut(..sig.len()).ok_or(SignError::BufferTooSmall)?;
        dst.copy_from_slice(&sig);
        Ok(sig.len())
    }
}
