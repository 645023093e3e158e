//! Password-protected key sources: PKCS#12 keystores (`.p12`, `.pfx`: an API gateway's
//! KEYSTORE source, `openssl pkcs12 -export`, `keytool -storetype pkcs12`) read with the
//! `p12-keystore` crate (PBES2/AES, OpenSSL 3's and keytool's default, and the legacy
//! 3DES/RC2 of `openssl pkcs12 -export -legacy`), and encrypted PKCS#8 PEM (`ENCRYPTED
//! PRIVATE KEY`, PBES2) read with RustCrypto's `pkcs8`. Java's own JKS/JCEKS formats are
//! refused with the `keytool` command that converts them.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::Args;

/// Where a password comes from, and which keystore entry to take.
#[derive(Args, Debug, Clone, Default)]
pub struct SecretOpts {
    /// Read the keystore or key password from this environment variable.
    #[arg(long, value_name = "VAR")]
    pub password_env: Option<String>,
    /// Read the keystore or key password from this file (its first line).
    #[arg(long, value_name = "FILE", conflicts_with = "password_env")]
    pub password_file: Option<PathBuf>,
    /// The keystore entry (its alias, the PKCS#12 friendly name); needed when the keystore
    /// holds more than one key.
    #[arg(long)]
    pub alias: Option<String>,
}

impl SecretOpts {
    /// Whether a password was given (`--password-env` or `--password-file`).
    pub fn has_password(&self) -> bool {
        self.password_env.is_some() || self.password_file.is_some()
    }

    /// The password, or an error saying how to give it.
    ///
    /// # Errors
    /// No password flag, an unset variable, an unreadable file.
    pub fn password(&self, what: &str) -> anyhow::Result<String> {
        if let Some(var) = &self.password_env {
            return std::env::var(var)
                .with_context(|| format!("--password-env {var}: the variable is not set"));
        }
        if let Some(file) = &self.password_file {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("--password-file {}", file.display()))?;
            return Ok(text.lines().next().unwrap_or_default().to_owned());
        }
        bail!(
            "{what} is password-protected: give the password with --password-env VAR or \
             --password-file FILE (never on the command line, where other users can read it)"
        )
    }
}

/// A private key taken from a keystore: PKCS#8 DER and the certificate chain (DER, leaf
/// first).
pub struct Entry {
    pub alias: String,
    pub pkcs8: Vec<u8>,
    pub chain: Vec<Vec<u8>>,
}

/// Java's proprietary keystore formats, by their magic number.
pub fn java_keystore(bytes: &[u8]) -> Option<&'static str> {
    match bytes.get(..4) {
        Some([0xFE, 0xED, 0xFE, 0xED]) => Some("JKS"),
        Some([0xCE, 0xCE, 0xCE, 0xCE]) => Some("JCEKS"),
        _ => None,
    }
}

/// Refuses a JKS/JCEKS file with the command that converts it.
///
/// # Errors
/// Always, for a Java keystore.
pub fn refuse_java_keystore(name: &str, bytes: &[u8]) -> anyhow::Result<()> {
    if let Some(kind) = java_keystore(bytes) {
        bail!(
            "{name} is a Java {kind} keystore, a format only Java reads: convert it to PKCS#12 \
             with `keytool -importkeystore -srckeystore {name} -srcstoretype {} -destkeystore \
             keystore.p12 -deststoretype pkcs12` and use keystore.p12",
            kind.to_ascii_lowercase()
        );
    }
    Ok(())
}

/// Whether `bytes` look like a PKCS#12 PFX (RFC 7292: `SEQUENCE { INTEGER 3, ... }`), or the
/// file is named `.p12`/`.pfx`.
pub fn is_pkcs12(path: &Path, bytes: &[u8]) -> bool {
    let by_name = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("p12") || e.eq_ignore_ascii_case("pfx"));
    let body = match bytes {
        [0x30, 0x80, rest @ ..] => rest,
        [0x30, l, rest @ ..] if *l < 0x80 => rest,
        [0x30, l, rest @ ..] if (0x81..=0x84).contains(l) => {
            rest.get(usize::from(l - 0x80)..).unwrap_or_default()
        }
        _ => return by_name,
    };
    by_name || body.starts_with(&[0x02, 0x01, 0x03])
}

/// Opens a PKCS#12 keystore and takes one private key entry.
///
/// # Errors
/// A missing or wrong password, a damaged file, no key, an unknown or missing alias (the
/// message lists the aliases).
pub fn open_pkcs12(name: &str, bytes: &[u8], opts: &SecretOpts) -> anyhow::Result<Entry> {
    use p12_keystore::{KeyStore, KeyStoreEntry, Pkcs12ImportPolicy};
    refuse_java_keystore(name, bytes)?;
    let password = opts.password(&format!("the keystore {name}"))?;
    let ks = KeyStore::from_pkcs12(bytes, &password, Pkcs12ImportPolicy::Relaxed).map_err(|e| {
        anyhow::anyhow!(
            "{name}: the keystore does not open: wrong password, or not a PKCS#12 file ({e})"
        )
    })?;
    let mut aliases: Vec<String> = Vec::new();
    let mut keys = Vec::new();
    for (alias, entry) in ks.entries() {
        aliases.push(alias.clone());
        if let KeyStoreEntry::PrivateKeyChain(chain) = entry {
            keys.push((alias.clone(), chain));
        }
    }
    aliases.sort();
    let list = aliases.join(", ");
    let (alias, chain) = match (&opts.alias, keys.len()) {
        (Some(want), _) => keys.into_iter().find(|(a, _)| a == want).with_context(|| {
            format!("{name}: no private key entry with alias {want:?}; its entries: {list}")
        })?,
        (None, 1) => keys.remove(0),
        (None, 0) => bail!("{name}: the keystore holds no private key (entries: {list})"),
        (None, n) => {
            bail!("{name}: the keystore holds {n} private keys: pick one with --alias ({list})")
        }
    };
    Ok(Entry {
        alias,
        pkcs8: chain.key().as_der().to_vec(),
        chain: chain.certs().iter().map(|c| c.as_der().to_vec()).collect(),
    })
}

/// Decrypts an `ENCRYPTED PRIVATE KEY` PEM (PKCS#8 with PBES2) to PKCS#8 DER.
///
/// # Errors
/// No password, a wrong password, an encryption scheme `pkcs8` does not read.
pub fn decrypt_pkcs8_pem(name: &str, pem: &[u8], opts: &SecretOpts) -> anyhow::Result<Vec<u8>> {
    let (label, der) = pem_rfc7468::decode_vec(pem.trim_ascii())
        .map_err(|e| anyhow::anyhow!("{name}: not a PEM document ({e})"))?;
    if label != "ENCRYPTED PRIVATE KEY" {
        bail!("{name}: a PEM {label:?}, where ENCRYPTED PRIVATE KEY was expected");
    }
    let password = opts.password(&format!("{name} (an encrypted PKCS#8 key)"))?;
    let info = pkcs8::EncryptedPrivateKeyInfoRef::try_from(&*der)
        .map_err(|e| anyhow::anyhow!("{name}: not an encrypted PKCS#8 key ({e})"))?;
    let plain = info.decrypt(password.as_bytes()).map_err(|e| {
        anyhow::anyhow!(
            "{name}: does not decrypt: wrong password, or a scheme other than PBES2 ({e})"
        )
    })?;
    Ok(plain.as_bytes().to_vec())
}

/// Whether a PEM text is an encrypted PKCS#8 key.
pub fn is_encrypted_pkcs8(bytes: &[u8]) -> bool {
    String::from_utf8_lossy(bytes).contains("-----BEGIN ENCRYPTED PRIVATE KEY-----")
}

/// Standard base64 with padding (RFC 4648 §4), as `x5c` carries certificates (RFC 7517
/// §4.7).
pub fn base64_std(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(A[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_std_matches_rfc4648_vectors() {
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64_std(i.as_bytes()), o);
        }
        assert_eq!(base64_std(&[0xfb, 0xff]), "+/8=");
    }

    #[test]
    fn recognises_pfx_and_java_keystores() {
        assert!(is_pkcs12(
            Path::new("x.bin"),
            &[0x30, 0x82, 0x01, 0x00, 0x02, 0x01, 0x03]
        ));
        assert!(!is_pkcs12(
            Path::new("x.der"),
            &[0x30, 0x82, 0x01, 0x00, 0x02, 0x01, 0x00]
        ));
        assert!(is_pkcs12(Path::new("x.PFX"), b"anything"));
        assert_eq!(java_keystore(&[0xFE, 0xED, 0xFE, 0xED, 0]), Some("JKS"));
        assert_eq!(java_keystore(&[0xCE, 0xCE, 0xCE, 0xCE]), Some("JCEKS"));
        assert_eq!(java_keystore(b"0\x82"), None);
    }
}
