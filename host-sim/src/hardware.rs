//! Keys that never leave hardware, behind one type: a PKCS#11 token (`pkcs11:` URIs,
//! [`crate::pkcs11`]) or a TPM 2.0 (`tpm:` references, [`crate::tpm`]). Each device makes the
//! raw signature ([`Device`]); [`HardwareKey`] checks its length and verifies it with the
//! key's public half before it is released.

use tokenguard::sign::{SignError, Signer};
use tokenguard::{Algorithm, DefaultBackend, Jwk};

pub use crate::hw_device::{Device, KeyInfo};
use crate::pkcs11::{PinOpts, Pkcs11Signer};
use crate::tpm::TpmSigner;

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
