//! A [`Signer`](tokenguard::sign::Signer) whose private key stays in a TPM 2.0, named by a key reference:
//!
//! ```text
//! tpm:handle=0x81010001?tcti=swtpm:host=127.0.0.1,port=2321
//! ```
//!
//! Path attributes (`;`-separated): `handle`, the key's persistent handle (`0x81000000` to
//! `0x81FFFFFF`, where `tpm2_evictcontrol` puts a key). Query attributes (`&`-separated,
//! percent-encoded): `tcti`, the TSS TCTI configuration (`device:/dev/tpmrm0`,
//! `swtpm:host=127.0.0.1,port=2321`, `mssim:...`, `tabrmd:`; else the `TPM2TOOLS_TCTI`
//! environment variable, else `device:/dev/tpmrm0`); `pin-value` and `pin-source` (a file),
//! the key's authorization value if it has one (`tpm2_create -p`); `--pin-env` gives it from
//! an environment variable.
//!
//! ES256 and ES384 sign with TPM2_Sign and the ECDSA scheme over the SHA-256/384 digest of
//! the signing input; the TPM returns `r` and `s` as separate numbers, which become JWS's
//! fixed-length `r‖s` ([`fixed_r_s`]). RS256/384/512 use the RSASSA scheme, PS256/384/512
//! RSASSA-PSS. A key created with a scheme (`tpm2_create -G ecc256:ecdsa-sha256`) signs only
//! with it; a key without one (`-G rsa2048`) takes the scheme `--alg` names. The public key is
//! read from the TPM (TPM2_ReadPublic) to build the JWK, and every signature is verified with
//! it before it is released.
//!
//! The TPM support needs the TSS 2.0 libraries (tpm2-tss) and the crate feature `tpm`; a
//! build without it parses the reference and says how to get it.

use anyhow::{anyhow, bail};
#[cfg(feature = "tpm")]
pub use imp::TpmSigner;

/// The first and last persistent handles (TPM 2.0 Part 2, 7.2: `TPM_HT_PERSISTENT`).
pub const PERSISTENT_FIRST: u32 = 0x8100_0000;
/// See [`PERSISTENT_FIRST`].
pub const PERSISTENT_LAST: u32 = 0x81FF_FFFF;

/// A parsed `tpm:` key reference.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyRef {
    /// The key's persistent handle.
    pub handle: u32,
    /// The TCTI configuration, if the reference names one.
    pub tcti: Option<String>,
    /// `pin-value`: the key's authorization value.
    pub pin_value: Option<String>,
    /// `pin-source`: a file holding it.
    pub pin_source: Option<String>,
}

fn pct_text(s: &str) -> anyhow::Result<String> {
    crate::hw_device::pct_text(s, "TPM key reference")
}

/// Parses a `tpm:` key reference.
///
/// # Errors
/// Not a `tpm:` reference, an unknown or repeated attribute, a handle that is not a
/// persistent one.
pub fn parse_ref(text: &str) -> anyhow::Result<KeyRef> {
    let rest = text
        .strip_prefix("tpm:")
        .ok_or_else(|| anyhow!("a TPM key reference starts with tpm: ({text:?})"))?;
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let mut r = KeyRef::default();
    let mut handle = None;
    for attr in path.split(';').filter(|a| !a.is_empty()) {
        let (k, v) = attr
            .split_once('=')
            .ok_or_else(|| anyhow!("TPM key reference: {attr:?} is not name=value"))?;
        match k {
            "handle" => {
                if handle.is_some() {
                    bail!("TPM key reference: handle given twice");
                }
                let v = pct_text(v)?;
                let n = match v.strip_prefix("0x").or(v.strip_prefix("0X")) {
                    Some(h) => u32::from_str_radix(h, 16),
                    None => v.parse::<u32>(),
                }
                .map_err(|_| anyhow!("TPM key reference: handle={v} is not a number"))?;
                if !(PERSISTENT_FIRST..=PERSISTENT_LAST).contains(&n) {
                    bail!(
                        "TPM key reference: handle={v} is not a persistent handle \
                         (0x81000000 to 0x81FFFFFF; tpm2_evictcontrol makes a key persistent)"
                    );
                }
                handle = Some(n);
            }
            _ => bail!("TPM key reference: unknown attribute {k:?} (handle=0x81...)"),
        }
    }
    for attr in query.split('&').filter(|a| !a.is_empty()) {
        let (k, v) = attr
            .split_once('=')
            .ok_or_else(|| anyhow!("TPM key reference: {attr:?} is not name=value"))?;
        let slot = match k {
            "tcti" => &mut r.tcti,
            "pin-value" => &mut r.pin_value,
            "pin-source" => &mut r.pin_source,
            _ => bail!(
                "TPM key reference: unknown query attribute {k:?} (tcti, pin-value, pin-source)"
            ),
        };
        if slot.is_some() {
            bail!("TPM key reference: {k} given twice");
        }
        *slot = Some(pct_text(v)?);
    }
    r.handle = handle
        .ok_or_else(|| anyhow!("TPM key reference: name the key with handle=0x81...: {text:?}"))?;
    Ok(r)
}

/// The key's authorization value: `--pin-env`, else `pin-value`, else `pin-source`.
///
/// # Errors
/// The variable is not set or the file cannot be read.
pub fn auth_value(r: &KeyRef, pin_env: Option<&str>) -> anyhow::Result<Option<String>> {
    crate::hw_device::secret(pin_env, r.pin_value.as_deref(), r.pin_source.as_deref())
}

/// The TCTI to use: the reference's, else `TPM2TOOLS_TCTI`, else the kernel's resource
/// manager.
pub fn tcti_conf(r: &KeyRef) -> String {
    r.tcti
        .clone()
        .or_else(|| {
            std::env::var("TPM2TOOLS_TCTI")
                .ok()
                .filter(|t| !t.is_empty())
        })
        .unwrap_or_else(|| "device:/dev/tpmrm0".to_owned())
}

/// An ECDSA signature's `r` and `s`, as the TPM returns them (big-endian numbers whose
/// leading zero bytes a TPM may or may not keep), as JWS's fixed-length `r‖s`: each left-padded
/// to `n` bytes (32 for P-256, 48 for P-384).
///
/// # Errors
/// A value longer than `n` once its leading zeros are dropped, or zero.
pub fn fixed_r_s(r: &[u8], s: &[u8], n: usize) -> anyhow::Result<Vec<u8>> {
    let mut out = vec![0u8; 2 * n];
    for (i, (name, v)) in [("r", r), ("s", s)].into_iter().enumerate() {
        let first = v.iter().position(|&b| b != 0).unwrap_or(v.len());
        let v = &v[first..];
        if v.is_empty() {
            bail!("the TPM's signature has {name} = 0");
        }
        if v.len() > n {
            bail!(
                "the TPM's signature has a {}-byte {name}; a {n}-byte curve's is at most {n}",
                v.len()
            );
        }
        out[i * n + n - v.len()..(i + 1) * n].copy_from_slice(v);
    }
    Ok(out)
}

/// Without the `tpm` feature: the reference is checked, then the build is explained.
#[cfg(not(feature = "tpm"))]
#[derive(Debug)]
pub struct TpmSigner {
    _never: std::convert::Infallible,
}

#[cfg(not(feature = "tpm"))]
impl TpmSigner {
    /// Always fails: this build has no TPM support.
    ///
    /// # Errors
    /// Always: the reference's error if it is malformed, else that the feature is missing.
    pub fn open(
        key_ref: &str,
        _pin_env: Option<&str>,
        _alg: Option<tokenguard::Algorithm>,
        _kid: Option<&str>,
    ) -> anyhow::Result<TpmSigner> {
        parse_ref(key_ref)?;
        bail!(
            "this tokenguard-sim was built without TPM support: build it with `--features tpm` \
             (it needs the TSS 2.0 libraries, Debian's libtss2-dev)"
        )
    }
}

#[cfg(not(feature = "tpm"))]
impl crate::hw_device::Device for TpmSigner {
    fn info(&self) -> &crate::hw_device::KeyInfo {
        match self._never {}
    }
    fn raw_sign(&self, _msg: &[u8]) -> anyhow::Result<Vec<u8>> {
        match self._never {}
    }
}

#[cfg(feature = "tpm")]
mod imp {
    use std::cell::RefCell;
    use std::str::FromStr;

    use anyhow::{anyhow, bail};
    use tokenguard::{Algorithm, Curve, Jwk};
    use tss_esapi::constants::tss::{TPM2_RH_NULL, TPM2_ST_HASHCHECK};
    use tss_esapi::constants::{CapabilityType, Tss2ResponseCodeKind as Kind};
    use tss_esapi::handles::{KeyHandle, ObjectHandle, PersistentTpmHandle, TpmHandle};
    use tss_esapi::interface_types::algorithm::HashingAlgorithm;
    use tss_esapi::interface_types::ecc::EccCurve;
    use tss_esapi::interface_types::session_handles::AuthSession;
    use tss_esapi::structures::{
        Auth, CapabilityData, Digest, EccScheme, HashScheme, HashcheckTicket, Public, RsaScheme,
        Signature, SignatureScheme,
    };
    use tss_esapi::tcti_ldr::TctiNameConf;
    use tss_esapi::tss2_esys::TPMT_TK_HASHCHECK;
    use tss_esapi::Context;

    use super::{auth_value, fixed_r_s, parse_ref, tcti_conf};
    use crate::hw_device::{Device, KeyInfo};

    /// A key in a TPM 2.0, signing through it.
    pub struct TpmSigner {
        ctx: RefCell<Context>,
        key: KeyHandle,
        info: KeyInfo,
    }

    impl std::fmt::Debug for TpmSigner {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("TpmSigner")
                .field("key", &self.info.describe)
                .field("alg", &self.info.alg)
                .finish_non_exhaustive()
        }
    }

    /// What kind of TPM response code an error carries, if it is one.
    fn tpm_rc(e: &tss_esapi::Error) -> Option<Kind> {
        match e {
            tss_esapi::Error::Tss2Error(rc) => rc.kind(),
            tss_esapi::Error::WrapperError(_) => None,
        }
    }

    fn explain(e: &tss_esapi::Error, describe: &str, step: &str) -> anyhow::Error {
        match tpm_rc(e) {
            Some(Kind::AuthFail | Kind::BadAuth) => anyhow!(
                "{describe}: wrong authorization value (the key's password: --pin-env, pin-value or pin-source)"
            ),
            Some(Kind::Lockout) => anyhow!(
                "{describe}: the TPM is in dictionary-attack lockout after failed authorizations; wait, or clear it (tpm2_dictionarylockout -c)"
            ),
            Some(Kind::Attributes | Kind::Key) => anyhow!("{describe}: the key may not sign ({step}: {e})"),
            Some(Kind::Scheme) => anyhow!("{describe}: the key's scheme does not allow this algorithm ({step}: {e})"),
            _ => anyhow!("{describe}: {step}: {e}"),
        }
    }

    fn persistent_handles(ctx: &mut Context) -> Vec<String> {
        match ctx.get_capability(CapabilityType::Handles, super::PERSISTENT_FIRST, 64) {
            Ok((CapabilityData::Handles(list), _)) => list
                .iter()
                .map(|h| format!("0x{:08x}", u32::from(*h)))
                .collect(),
            _ => vec![],
        }
    }

    fn hash_of(alg: Algorithm) -> (HashingAlgorithm, &'static ring::digest::Algorithm) {
        match &alg.name()[2..] {
            "384" => (HashingAlgorithm::Sha384, &ring::digest::SHA384),
            "512" => (HashingAlgorithm::Sha512, &ring::digest::SHA512),
            _ => (HashingAlgorithm::Sha256, &ring::digest::SHA256),
        }
    }

    fn hash_name(h: HashingAlgorithm) -> &'static str {
        match h {
            HashingAlgorithm::Sha256 => "256",
            HashingAlgorithm::Sha384 => "384",
            HashingAlgorithm::Sha512 => "512",
            _ => "?",
        }
    }

    impl TpmSigner {
        /// Opens the key `key_ref` names (see the module docs). `alg` chooses among the
        /// algorithms the key can use (an RSA key without a scheme: RS256 by default); `kid`
        /// is the header's key id (default: the RFC 7638 thumbprint of the public key, what
        /// `jwk --key` prints).
        ///
        /// # Errors
        /// The TCTI cannot reach a TPM, no key is at the handle (the message lists the
        /// persistent handles there), the key cannot make `alg` (type, curve or scheme), or
        /// it may not sign (not a signing key, or a restricted one).
        pub fn open(
            key_ref: &str,
            pin_env: Option<&str>,
            alg: Option<Algorithm>,
            kid: Option<&str>,
        ) -> anyhow::Result<TpmSigner> {
            let r = parse_ref(key_ref)?;
            let auth = auth_value(&r, pin_env)?;
            let tcti = tcti_conf(&r);
            let describe = format!("TPM key 0x{:08x}", r.handle);
            let conf = TctiNameConf::from_str(&tcti)
                .map_err(|e| anyhow!("TCTI {tcti:?} is not a TCTI configuration: {e}"))?;
            let mut ctx = Context::new(conf)
                .map_err(|e| anyhow!("cannot reach the TPM through TCTI {tcti:?}: {e}"))?;
            let handle =
                PersistentTpmHandle::new(r.handle).map_err(|e| anyhow!("{describe}: {e}"))?;
            let obj: ObjectHandle = match ctx.tr_from_tpm_public(TpmHandle::Persistent(handle)) {
                Ok(o) => o,
                Err(e) if tpm_rc(&e) == Some(Kind::Handle) => {
                    let there = persistent_handles(&mut ctx);
                    bail!(
                        "{describe}: no key at this handle; the TPM's persistent handles: {}",
                        if there.is_empty() {
                            "none".to_owned()
                        } else {
                            there.join(", ")
                        }
                    );
                }
                Err(e) => return Err(explain(&e, &describe, "reading the handle")),
            };
            let key = KeyHandle::from(obj);
            if let Some(a) = &auth {
                let v = Auth::try_from(a.as_bytes().to_vec()).map_err(|_| {
                    anyhow!("{describe}: the authorization value is longer than the TPM takes")
                })?;
                ctx.tr_set_auth(obj, v)
                    .map_err(|e| explain(&e, &describe, "setting the authorization"))?;
            }
            let (public, _, _) = ctx
                .read_public(key)
                .map_err(|e| explain(&e, &describe, "TPM2_ReadPublic"))?;
            let (attrs, anon, alg) = match public {
                Public::Ecc {
                    object_attributes,
                    parameters,
                    unique,
                    ..
                } => {
                    let (curve, want) = match parameters.ecc_curve() {
                        EccCurve::NistP256 => (Curve::P256, tokenguard::alg::ES256),
                        EccCurve::NistP384 => (Curve::P384, tokenguard::alg::ES384),
                        other => bail!(
                            "{describe}: an ECC key on {other:?}; JWS signs with P-256 (ES256) or P-384 (ES384)"
                        ),
                    };
                    let alg = alg.unwrap_or(want);
                    if alg != want {
                        bail!(
                            "{describe} is a {} key: it signs {}, not {}",
                            curve.name(),
                            want.name(),
                            alg.name()
                        );
                    }
                    match parameters.ecc_scheme() {
                        EccScheme::Null => {}
                        EccScheme::EcDsa(h) if h.hashing_algorithm() == hash_of(alg).0 => {}
                        other => bail!(
                            "{describe} was created for the scheme {other:?}; {} needs ECDSA with SHA-{}",
                            alg.name(),
                            &alg.name()[2..]
                        ),
                    }
                    let c = curve.coord_len();
                    let x = fixed(unique.x().value(), c, &describe)?;
                    let y = fixed(unique.y().value(), c, &describe)?;
                    (
                        object_attributes,
                        Jwk::ec(None, curve, &x, &y, Some(alg)),
                        alg,
                    )
                }
                Public::Rsa {
                    object_attributes,
                    parameters,
                    unique,
                    ..
                } => {
                    let scheme_alg = match parameters.rsa_scheme() {
                        RsaScheme::Null => None,
                        RsaScheme::RsaSsa(h) => {
                            Some(format!("RS{}", hash_name(h.hashing_algorithm())))
                        }
                        RsaScheme::RsaPss(h) => {
                            Some(format!("PS{}", hash_name(h.hashing_algorithm())))
                        }
                        other => {
                            bail!("{describe} is an RSA key for {other:?}, not for signatures")
                        }
                    };
                    let alg = match (alg, &scheme_alg) {
                        (Some(a), Some(s)) if a.name() != s => bail!(
                            "{describe} was created for {s}; it cannot sign {}",
                            a.name()
                        ),
                        (Some(a), _) => a,
                        (None, Some(s)) => Algorithm::from_name(s.as_bytes()).ok_or_else(|| {
                            anyhow!("{describe}: scheme {s} is not a JWS algorithm")
                        })?,
                        (None, None) => tokenguard::alg::RS256,
                    };
                    if !matches!(
                        alg.name(),
                        "RS256" | "RS384" | "RS512" | "PS256" | "PS384" | "PS512"
                    ) {
                        bail!(
                            "{describe} is an RSA key: it signs RS256/384/512 or PS256/384/512, not {}",
                            alg.name()
                        );
                    }
                    let n = unique.value().to_vec();
                    let e = match parameters.exponent().value() {
                        0 => 65537u32, // TPM 2.0 Part 2, 12.2.3.5: 0 means 2^16 + 1
                        e => e,
                    };
                    let e = e.to_be_bytes();
                    let first = e.iter().position(|&b| b != 0).unwrap_or(3);
                    let e = e[first..].to_vec();
                    (object_attributes, Jwk::rsa(None, &n, &e, Some(alg)), alg)
                }
                _ => bail!("{describe} is not an RSA or ECC key: it cannot sign a JWS"),
            };
            if !attrs.sign_encrypt() {
                bail!("{describe}: the key may not sign (its sign attribute is clear)");
            }
            if attrs.restricted() {
                bail!(
                    "{describe}: a restricted key (an attestation key) signs only digests the TPM \
                     made itself; create an unrestricted signing key (tpm2_create without -a restricted)"
                );
            }
            let anon = anon.map_err(|e| anyhow!("{describe}: the public key is refused: {e}"))?;
            Ok(TpmSigner {
                ctx: RefCell::new(ctx),
                key,
                info: KeyInfo::new(anon, kid, alg, describe)?,
            })
        }

        fn tpm_sign(&self, msg: &[u8]) -> anyhow::Result<Vec<u8>> {
            let (hash, ring_hash) = hash_of(self.info.alg);
            let digest = Digest::try_from(ring::digest::digest(ring_hash, msg).as_ref().to_vec())
                .map_err(|e| anyhow!("{}: {e}", self.info.describe))?;
            let hash_scheme = HashScheme::new(hash);
            let scheme = match &self.info.alg.name()[..2] {
                "ES" => SignatureScheme::EcDsa { hash_scheme },
                "PS" => SignatureScheme::RsaPss { hash_scheme },
                _ => SignatureScheme::RsaSsa { hash_scheme },
            };
            let ticket: HashcheckTicket = TPMT_TK_HASHCHECK {
                tag: TPM2_ST_HASHCHECK,
                hierarchy: TPM2_RH_NULL,
                digest: Default::default(),
            }
            .try_into()
            .map_err(|e| anyhow!("{}: {e}", self.info.describe))?;
            let mut ctx = self.ctx.borrow_mut();
            let sig = ctx
                .execute_with_session(Some(AuthSession::Password), |c| {
                    c.sign(self.key, digest, scheme, ticket)
                })
                .map_err(|e| explain(&e, &self.info.describe, "TPM2_Sign"))?;
            match sig {
                Signature::EcDsa(s) => fixed_r_s(
                    s.signature_r().value(),
                    s.signature_s().value(),
                    self.info.signature_len / 2,
                ),
                Signature::RsaSsa(s) | Signature::RsaPss(s) => {
                    let v = s.signature().value();
                    // An RSA signature is as long as the modulus (RFC 8017 I2OSP).
                    let mut out = vec![0u8; self.info.signature_len];
                    let at = self
                        .info
                        .signature_len
                        .checked_sub(v.len())
                        .ok_or_else(|| {
                            anyhow!("{}: the TPM's signature is too long", self.info.describe)
                        })?;
                    out[at..].copy_from_slice(v);
                    Ok(out)
                }
                other => bail!(
                    "{}: the TPM returned a {:?} signature",
                    self.info.describe,
                    other.algorithm()
                ),
            }
        }
    }

    fn fixed(v: &[u8], n: usize, describe: &str) -> anyhow::Result<Vec<u8>> {
        let first = v.iter().position(|&b| b != 0).unwrap_or(v.len());
        let v = &v[first..];
        if v.len() > n {
            bail!("{describe}: a public coordinate longer than the curve's");
        }
        let mut out = vec![0u8; n];
        out[n - v.len()..].copy_from_slice(v);
        Ok(out)
    }

    impl Device for TpmSigner {
        fn info(&self) -> &KeyInfo {
            &self.info
        }

        fn raw_sign(&self, msg: &[u8]) -> anyhow::Result<Vec<u8>> {
            self.tpm_sign(msg)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_key_references() {
        let r =
            parse_ref("tpm:handle=0x81010001?tcti=swtpm:host=127.0.0.1,port=2321&pin-value=a%20b")
                .unwrap();
        assert_eq!(r.handle, 0x8101_0001);
        assert_eq!(r.tcti.as_deref(), Some("swtpm:host=127.0.0.1,port=2321"));
        assert_eq!(r.pin_value.as_deref(), Some("a b"));
        assert_eq!(
            parse_ref("tpm:handle=2164326401").unwrap().handle,
            0x8101_0001
        );
        let err = |s: &str| parse_ref(s).unwrap_err().to_string();
        assert_eq!(
            err("tpm:"),
            "TPM key reference: name the key with handle=0x81...: \"tpm:\""
        );
        assert!(err("tpm:handle=0x80000001").contains("is not a persistent handle"));
        assert!(err("tpm:handle=zz").contains("handle=zz is not a number"));
        assert!(err("tpm:handle=0x81000001;handle=0x81000002").contains("handle given twice"));
        assert!(err("tpm:object=k").contains("unknown attribute \"object\""));
        assert!(err("tpm:handle=0x81000001?module-path=x").contains("unknown query attribute"));
        assert!(err("pkcs11:object=k").contains("starts with tpm:"));
    }

    #[test]
    fn tcti_defaults() {
        let r = parse_ref("tpm:handle=0x81000001?tcti=mssim:port=1").unwrap();
        assert_eq!(tcti_conf(&r), "mssim:port=1");
    }

    #[test]
    fn r_and_s_become_fixed_length() {
        let full = [0x11u8; 32];
        let out = fixed_r_s(&full, &full, 32).unwrap();
        assert_eq!(out, vec![0x11; 64]);
        // A TPM that drops leading zeros: r is 31 bytes, s is 30.
        let r = [0x7fu8; 31];
        let s = [0x01u8; 30];
        let out = fixed_r_s(&r, &s, 32).unwrap();
        assert_eq!(out[0], 0);
        assert_eq!(&out[1..32], &r);
        assert_eq!(&out[32..34], &[0, 0]);
        assert_eq!(&out[34..], &s);
        // One that keeps a sign byte (DER style): 33 bytes with a leading zero.
        let mut r33 = vec![0u8];
        r33.extend_from_slice(&[0x80u8; 32]);
        let out = fixed_r_s(&r33, &full, 32).unwrap();
        assert_eq!(&out[..32], &[0x80u8; 32]);
        // P-384.
        let out = fixed_r_s(&[1], &[2], 48).unwrap();
        assert_eq!(out.len(), 96);
        assert_eq!((out[47], out[95]), (1, 2));
        assert_eq!(out.iter().filter(|&&b| b != 0).count(), 2);
        // Refused: too long, zero.
        assert_eq!(
            fixed_r_s(&[1u8; 33], &full, 32).unwrap_err().to_string(),
            "the TPM's signature has a 33-byte r; a 32-byte curve's is at most 32"
        );
        assert_eq!(
            fixed_r_s(&full, &[0, 0], 32).unwrap_err().to_string(),
            "the TPM's signature has s = 0"
        );
        assert_eq!(
            fixed_r_s(&[], &full, 32).unwrap_err().to_string(),
            "the TPM's signature has r = 0"
        );
    }
}
