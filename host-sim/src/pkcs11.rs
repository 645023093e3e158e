//! A [`Signer`](tokenguard::sign::Signer) whose private key stays in a PKCS#11 token (an HSM, a smart card, a
//! YubiHSM, SoftHSM), found by an RFC 7512 PKCS#11 URI:
//!
//! ```text
//! pkcs11:token=dev;object=zitadel-key?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=/run/pin
//! ```
//!
//! Path attributes: `token` (label), `object` (key label), `id` (CKA_ID, percent-encoded
//! bytes), `slot-id`, `manufacturer`, `model`, `serial`, `type` (`private` only). Query
//! attributes: `module-path` (the PKCS#11 library; else `TOKENGUARD_PKCS11_MODULE`),
//! `pin-value`, `pin-source` (a file holding the PIN, or `file:` URI). The PIN may also come
//! from an environment variable (`--pin-env`).
//!
//! ES256 and ES384 sign with `CKM_ECDSA` over the digest (the token returns the raw `r‖s` JWS
//! wants), EdDSA with `CKM_EDDSA`, RS256/384/512 with `CKM_SHA*_RSA_PKCS`, PS256/384/512 with
//! `CKM_SHA*_RSA_PKCS_PSS` and a salt as long as the hash. The private key is never read;
//! the public key is read from the token (its public key object, or the RSA private key's
//! modulus and exponent) to build the JWK, and every signature is verified with it before
//! it is released.

use std::fmt::Write as _;

use anyhow::{anyhow, bail};
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::eddsa::{EddsaParams, EddsaSignatureScheme};
use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsPssParams};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use tokenguard::{Algorithm, Curve, Jwk};

use crate::hw_device::{Device, KeyInfo};

/// A parsed RFC 7512 PKCS#11 URI (the attributes this tool uses).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Uri {
    /// `token`: the token label.
    pub token: Option<String>,
    /// `object`: the key's label.
    pub object: Option<String>,
    /// `id`: the key's CKA_ID.
    pub id: Option<Vec<u8>>,
    /// `slot-id`.
    pub slot_id: Option<u64>,
    /// `manufacturer`, `model`, `serial`: more token attributes to match.
    pub manufacturer: Option<String>,
    /// See `manufacturer`.
    pub model: Option<String>,
    /// See `manufacturer`.
    pub serial: Option<String>,
    /// `module-path`.
    pub module_path: Option<String>,
    /// `pin-value`.
    pub pin_value: Option<String>,
    /// `pin-source`.
    pub pin_source: Option<String>,
}

fn pct_decode(s: &str) -> anyhow::Result<Vec<u8>> {
    crate::hw_device::pct_decode(s, "PKCS#11 URI")
}

fn pct_text(s: &str) -> anyhow::Result<String> {
    crate::hw_device::pct_text(s, "PKCS#11 URI")
}

/// Parses `pkcs11:PATH[?QUERY]`.
///
/// # Errors
/// Not a `pkcs11:` URI, an attribute without `=`, given twice, unknown, or badly
/// percent-encoded.
pub fn parse_uri(uri: &str) -> anyhow::Result<Uri> {
    let rest = uri
        .strip_prefix("pkcs11:")
        .ok_or_else(|| anyhow!("not a PKCS#11 URI (it starts with `pkcs11:`): {uri:?}"))?;
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let mut u = Uri::default();
    let set = |slot: &mut Option<String>, name: &str, v: &str| -> anyhow::Result<()> {
        if slot.is_some() {
            bail!("PKCS#11 URI: `{name}` is given twice");
        }
        *slot = Some(pct_text(v)?);
        Ok(())
    };
    for attr in path.split(';').filter(|a| !a.is_empty()) {
        let (k, v) = attr
            .split_once('=')
            .ok_or_else(|| anyhow!("PKCS#11 URI: `{attr}` has no `=`"))?;
        match k {
            "token" => set(&mut u.token, k, v)?,
            "object" => set(&mut u.object, k, v)?,
            "manufacturer" => set(&mut u.manufacturer, k, v)?,
            "model" => set(&mut u.model, k, v)?,
            "serial" => set(&mut u.serial, k, v)?,
            "id" => {
                if u.id.is_some() {
                    bail!("PKCS#11 URI: `id` is given twice");
                }
                u.id = Some(pct_decode(v)?);
            }
            "slot-id" => {
                u.slot_id = Some(
                    v.parse()
                        .map_err(|_| anyhow!("PKCS#11 URI: slot-id {v:?} is not a number"))?,
                );
            }
            "type" => {
                if v != "private" {
                    bail!("PKCS#11 URI: type={v} names no signing key (use type=private, or leave it out)");
                }
            }
            _ => bail!(
                "PKCS#11 URI: unknown path attribute `{k}` (known: token, object, id, slot-id, manufacturer, model, serial, type)"
            ),
        }
    }
    for attr in query.split('&').filter(|a| !a.is_empty()) {
        let (k, v) = attr
            .split_once('=')
            .ok_or_else(|| anyhow!("PKCS#11 URI: `{attr}` has no `=`"))?;
        match k {
            "module-path" => set(&mut u.module_path, k, v)?,
            "pin-value" => set(&mut u.pin_value, k, v)?,
            "pin-source" => set(&mut u.pin_source, k, v)?,
            _ => bail!(
                "PKCS#11 URI: unknown query attribute `{k}` (known: module-path, pin-value, pin-source)"
            ),
        }
    }
    if u.object.is_none() && u.id.is_none() {
        bail!("PKCS#11 URI: name the key with object=LABEL or id=%01...: {uri:?}");
    }
    Ok(u)
}

/// Where the PIN comes from, besides the URI.
#[derive(Debug, Clone, Default)]
pub struct PinOpts {
    /// An environment variable holding the PIN.
    pub env: Option<String>,
}

fn pin(u: &Uri, opts: &PinOpts) -> anyhow::Result<Option<String>> {
    crate::hw_device::secret(
        opts.env.as_deref(),
        u.pin_value.as_deref(),
        u.pin_source.as_deref(),
    )
}

fn hex(b: &[u8]) -> String {
    b.iter().fold(String::new(), |mut s, x| {
        let _ = write!(s, "%{x:02x}");
        s
    })
}

/// A key in a PKCS#11 token, signing through it (the host tool uses it as a `HardwareKey`).
pub struct Pkcs11Signer {
    // The session is dropped before the context (field order).
    session: Session,
    _ctx: Pkcs11,
    key: ObjectHandle,
    info: KeyInfo,
}

impl std::fmt::Debug for Pkcs11Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkcs11Signer")
            .field("key", &self.info.describe)
            .field("alg", &self.info.alg)
            .finish_non_exhaustive()
    }
}

fn ck(what: &str, e: CkError) -> anyhow::Error {
    anyhow!("PKCS#11 {what}: {e}")
}

/// The token to use: the one the URI's attributes match, exactly one.
fn find_slot(ctx: &Pkcs11, u: &Uri) -> anyhow::Result<(Slot, String)> {
    let slots = ctx
        .get_slots_with_token()
        .map_err(|e| ck("C_GetSlotList", e))?;
    let mut found = vec![];
    let mut all = vec![];
    for s in slots {
        let info = ctx.get_token_info(s).map_err(|e| ck("C_GetTokenInfo", e))?;
        let label = info.label().trim_end().to_owned();
        all.push(format!("{label:?} (slot-id {})", s.id()));
        let ok = u.token.as_deref().is_none_or(|t| t == label)
            && u.slot_id.is_none_or(|id| id == s.id())
            && u.manufacturer
                .as_deref()
                .is_none_or(|m| m == info.manufacturer_id().trim_end())
            && u.model
                .as_deref()
                .is_none_or(|m| m == info.model().trim_end())
            && u.serial
                .as_deref()
                .is_none_or(|m| m == info.serial_number().trim_end());
        if ok {
            found.push((s, label));
        }
    }
    match found.len() {
        1 => Ok(found.remove(0)),
        0 if all.is_empty() => bail!("the PKCS#11 module has no token (initialise one first)"),
        0 => bail!(
            "no PKCS#11 token matches the URI; the module has: {}",
            all.join(", ")
        ),
        _ => bail!(
            "several PKCS#11 tokens match the URI; name one with token=LABEL: {}",
            all.join(", ")
        ),
    }
}

/// The curve named by CKA_EC_PARAMS (a DER OID, or a printable string for Ed25519).
fn curve_of(params: &[u8]) -> anyhow::Result<Option<Curve>> {
    const P256: &[u8] = &[0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07];
    const P384: &[u8] = &[0x06, 0x05, 0x2B, 0x81, 0x04, 0x00, 0x22];
    const ED25519_OID: &[u8] = &[0x06, 0x03, 0x2B, 0x65, 0x70];
    match params {
        P256 => Ok(Some(Curve::P256)),
        P384 => Ok(Some(Curve::P384)),
        ED25519_OID => Ok(None),
        p if p.len() > 2 && p[0] == 0x13 && &p[2..] == b"edwards25519" => Ok(None),
        _ => bail!(
            "the key's curve (EC params {}) is not P-256, P-384 or Ed25519",
            hex(params)
        ),
    }
}

/// The point inside CKA_EC_POINT: a DER OCTET STRING around it, or the bare point.
fn unwrap_point(p: &[u8]) -> &[u8] {
    match p {
        [0x04, len, rest @ ..] if usize::from(*len) == rest.len() && *len < 0x80 => rest,
        [0x04, 0x81, len, rest @ ..] if usize::from(*len) == rest.len() => rest,
        _ => p,
    }
}

impl Pkcs11Signer {
    /// Opens the key `uri` names. `alg` chooses among the algorithms the key can use (RSA:
    /// RS256 by default); `kid` is the header's key id (default: the RFC 7638 thumbprint of
    /// the public key, what `jwk` prints).
    ///
    /// # Errors
    /// The module cannot be loaded, no or several tokens or keys match (the message lists what
    /// is there), the PIN is wrong or missing, the key type cannot use `alg`, or the key may
    /// not sign.
    pub fn open(
        uri: &str,
        pin_opts: &PinOpts,
        alg: Option<Algorithm>,
        kid: Option<&str>,
    ) -> anyhow::Result<Pkcs11Signer> {
        let u = parse_uri(uri)?;
        let module = u
            .module_path
            .clone()
            .or_else(|| std::env::var("TOKENGUARD_PKCS11_MODULE").ok())
            .ok_or_else(|| {
                anyhow!("no PKCS#11 module: add module-path=/path/to/module.so to the URI's query, or set TOKENGUARD_PKCS11_MODULE")
            })?;
        if !std::path::Path::new(&module).exists() {
            bail!("PKCS#11 module {module}: no such file");
        }
        let ctx = Pkcs11::new(&module)
            .map_err(|e| anyhow!("PKCS#11 module {module}: cannot load it: {e}"))?;
        ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
            .map_err(|e| ck("C_Initialize", e))?;
        let (slot, token) = find_slot(&ctx, &u)?;
        let session = ctx
            .open_ro_session(slot)
            .map_err(|e| ck("C_OpenSession", e))?;
        let pin = pin(&u, pin_opts)?;
        if let Some(p) = &pin {
            match session.login(UserType::User, Some(&AuthPin::new(p.clone().into()))) {
                Ok(()) => {}
                Err(CkError::Pkcs11(RvError::PinIncorrect, _)) => {
                    bail!("wrong PIN for PKCS#11 token {token:?}")
                }
                Err(CkError::Pkcs11(RvError::PinLocked, _)) => {
                    bail!("the PIN of PKCS#11 token {token:?} is locked")
                }
                Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => {}
                Err(e) => return Err(ck("C_Login", e)),
            }
        }
        let mut template = vec![Attribute::Class(ObjectClass::PRIVATE_KEY)];
        if let Some(o) = &u.object {
            template.push(Attribute::Label(o.as_bytes().to_vec()));
        }
        if let Some(id) = &u.id {
            template.push(Attribute::Id(id.clone()));
        }
        let keys = session
            .find_objects(&template)
            .map_err(|e| ck("C_FindObjects", e))?;
        let key = match keys.as_slice() {
            [k] => *k,
            [] => {
                let there = list_keys(&session)?;
                let hint = if pin.is_none() {
                    " (private keys are visible only after login: give the PIN with --pin-env VAR, or pin-source/pin-value in the URI)"
                } else {
                    ""
                };
                bail!(
                    "no private key in PKCS#11 token {token:?} matches the URI{hint}; the token holds: {}",
                    if there.is_empty() { "no private key".to_owned() } else { there.join(", ") }
                )
            }
            _ => bail!(
                "several private keys in PKCS#11 token {token:?} match the URI; add id= or object=: {}",
                list_keys(&session)?.join(", ")
            ),
        };
        let attrs = session
            .get_attributes(
                key,
                &[
                    AttributeType::KeyType,
                    AttributeType::Sign,
                    AttributeType::Id,
                    AttributeType::Label,
                    AttributeType::Modulus,
                    AttributeType::PublicExponent,
                ],
            )
            .map_err(|e| ck("C_GetAttributeValue", e))?;
        let mut key_type = None;
        let (mut can_sign, mut id, mut label, mut n, mut e) = (true, vec![], vec![], None, None);
        for a in attrs {
            match a {
                Attribute::KeyType(t) => key_type = Some(t),
                Attribute::Sign(s) => can_sign = s,
                Attribute::Id(v) => id = v,
                Attribute::Label(v) => label = v,
                Attribute::Modulus(v) => n = Some(v),
                Attribute::PublicExponent(v) => e = Some(v),
                _ => {}
            }
        }
        let describe = format!(
            "PKCS#11 token {token:?}, key {:?} (id {})",
            String::from_utf8_lossy(&label),
            hex(&id)
        );
        if !can_sign {
            bail!("{describe} may not sign (CKA_SIGN is false)");
        }
        let key_type =
            key_type.ok_or_else(|| anyhow!("{describe}: the token does not say its key type"))?;
        let (public, alg) = if key_type == KeyType::RSA {
            let (Some(n), Some(e)) = (n, e) else {
                bail!("{describe}: the token does not give the RSA key's modulus and exponent")
            };
            let alg = alg.unwrap_or(tokenguard::alg::RS256);
            if !matches!(
                alg.name(),
                "RS256" | "RS384" | "RS512" | "PS256" | "PS384" | "PS512"
            ) {
                bail!(
                    "{describe} is an RSA key: it signs RS256/384/512 or PS256/384/512, not {}",
                    alg.name()
                );
            }
            let jwk = Jwk::rsa(None, &n, &e, Some(alg))
                .map_err(|e| anyhow!("{describe}: the public key is refused: {e}"))?;
            (jwk, alg)
        } else if key_type == KeyType::EC || key_type == KeyType::EC_EDWARDS {
            let (params, point) = public_point(&session, &id, &label, &describe)?;
            match curve_of(&params)? {
                Some(curve) => {
                    let want = if curve == Curve::P256 {
                        tokenguard::alg::ES256
                    } else {
                        tokenguard::alg::ES384
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
                    let pt = unwrap_point(&point);
                    let c = curve.coord_len();
                    let (x, y) = match pt {
                        [0x04, xy @ ..] if xy.len() == 2 * c => xy.split_at(c),
                        _ => bail!(
                            "{describe}: the public point is not an uncompressed {} point",
                            curve.name()
                        ),
                    };
                    let jwk = Jwk::ec(None, curve, x, y, Some(alg))
                        .map_err(|e| anyhow!("{describe}: the public key is refused: {e}"))?;
                    (jwk, alg)
                }
                None => {
                    let alg = alg.unwrap_or(tokenguard::alg::EDDSA);
                    if !matches!(alg.name(), "EdDSA" | "Ed25519") {
                        bail!(
                            "{describe} is an Ed25519 key: it signs EdDSA, not {}",
                            alg.name()
                        );
                    }
                    let pt = unwrap_point(&point);
                    let x: [u8; 32] = pt
                        .try_into()
                        .map_err(|_| anyhow!("{describe}: the public key is not 32 bytes"))?;
                    let jwk = Jwk::ed25519(None, &x, Some(alg))
                        .map_err(|e| anyhow!("{describe}: the public key is refused: {e}"))?;
                    (jwk, alg)
                }
            }
        } else {
            bail!("{describe}: key type {key_type} cannot sign a JWS (RSA, EC P-256/P-384 or Ed25519 can)");
        };
        Ok(Pkcs11Signer {
            session,
            _ctx: ctx,
            key,
            info: KeyInfo::new(public, kid, alg, describe)?,
        })
    }

    fn mechanism(&self) -> (Mechanism<'static>, Option<&'static ring::digest::Algorithm>) {
        let pss = |hash_alg, mgf, len: u64| PkcsPssParams {
            hash_alg,
            mgf,
            s_len: cryptoki::types::Ulong::new(len as _),
        };
        match self.info.alg.name() {
            "ES256" => (Mechanism::Ecdsa, Some(&ring::digest::SHA256)),
            "ES384" => (Mechanism::Ecdsa, Some(&ring::digest::SHA384)),
            "EdDSA" | "Ed25519" => (
                Mechanism::Eddsa(EddsaParams::new(EddsaSignatureScheme::Pure)),
                None,
            ),
            "RS384" => (Mechanism::Sha384RsaPkcs, None),
            "RS512" => (Mechanism::Sha512RsaPkcs, None),
            "PS256" => (
                Mechanism::Sha256RsaPkcsPss(pss(
                    MechanismType::SHA256,
                    PkcsMgfType::MGF1_SHA256,
                    32,
                )),
                None,
            ),
            "PS384" => (
                Mechanism::Sha384RsaPkcsPss(pss(
                    MechanismType::SHA384,
                    PkcsMgfType::MGF1_SHA384,
                    48,
                )),
                None,
            ),
            "PS512" => (
                Mechanism::Sha512RsaPkcsPss(pss(
                    MechanismType::SHA512,
                    PkcsMgfType::MGF1_SHA512,
                    64,
                )),
                None,
            ),
            _ => (Mechanism::Sha256RsaPkcs, None),
        }
    }
}

/// CKA_EC_PARAMS and CKA_EC_POINT of the public key object paired with a private key (same
/// CKA_ID, else same label).
fn public_point(
    session: &Session,
    id: &[u8],
    label: &[u8],
    describe: &str,
) -> anyhow::Result<(Vec<u8>, Vec<u8>)> {
    let mut candidates = vec![];
    if !id.is_empty() {
        candidates.push(vec![
            Attribute::Class(ObjectClass::PUBLIC_KEY),
            Attribute::Id(id.to_vec()),
        ]);
    }
    if !label.is_empty() {
        candidates.push(vec![
            Attribute::Class(ObjectClass::PUBLIC_KEY),
            Attribute::Label(label.to_vec()),
        ]);
    }
    for t in candidates {
        let found = session
            .find_objects(&t)
            .map_err(|e| ck("C_FindObjects", e))?;
        if let [pubkey] = found.as_slice() {
            let attrs = session
                .get_attributes(*pubkey, &[AttributeType::EcParams, AttributeType::EcPoint])
                .map_err(|e| ck("C_GetAttributeValue", e))?;
            let (mut params, mut point) = (None, None);
            for a in attrs {
                match a {
                    Attribute::EcParams(v) => params = Some(v),
                    Attribute::EcPoint(v) => point = Some(v),
                    _ => {}
                }
            }
            if let (Some(p), Some(q)) = (params, point) {
                return Ok((p, q));
            }
        }
    }
    bail!("{describe}: the token has no public key object with its id or label, so the public key cannot be read")
}

fn list_keys(session: &Session) -> anyhow::Result<Vec<String>> {
    let keys = session
        .find_objects(&[Attribute::Class(ObjectClass::PRIVATE_KEY)])
        .map_err(|e| ck("C_FindObjects", e))?;
    let mut out = vec![];
    for k in keys {
        let attrs = session
            .get_attributes(
                k,
                &[
                    AttributeType::Label,
                    AttributeType::Id,
                    AttributeType::KeyType,
                ],
            )
            .map_err(|e| ck("C_GetAttributeValue", e))?;
        let (mut label, mut id, mut kt) = (String::new(), String::new(), String::new());
        for a in attrs {
            match a {
                Attribute::Label(v) => label = String::from_utf8_lossy(&v).into_owned(),
                Attribute::Id(v) => id = hex(&v),
                Attribute::KeyType(t) => kt = t.to_string(),
                _ => {}
            }
        }
        out.push(format!("object={label};id={id} ({kt})"));
    }
    Ok(out)
}

impl Device for Pkcs11Signer {
    fn info(&self) -> &KeyInfo {
        &self.info
    }

    fn raw_sign(&self, msg: &[u8]) -> anyhow::Result<Vec<u8>> {
        let (mech, digest) = self.mechanism();
        let data = match digest {
            Some(d) => ring::digest::digest(d, msg).as_ref().to_vec(),
            None => msg.to_vec(),
        };
        self.session
            .sign(&mech, self.key, &data)
            .map_err(|e| anyhow!("{}: C_Sign: {e}", self.info.describe))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rfc7512_uris() {
        let u = parse_uri(
            "pkcs11:token=My%20Token;object=k1;id=%01%02?module-path=/m.so&pin-value=1234",
        )
        .unwrap();
        assert_eq!(u.token.as_deref(), Some("My Token"));
        assert_eq!(u.object.as_deref(), Some("k1"));
        assert_eq!(u.id.as_deref(), Some(&[1u8, 2][..]));
        assert_eq!(u.module_path.as_deref(), Some("/m.so"));
        assert_eq!(u.pin_value.as_deref(), Some("1234"));
        let u = parse_uri("pkcs11:id=%A0;type=private;slot-id=7?pin-source=file:/run/pin").unwrap();
        assert_eq!(u.slot_id, Some(7));
        assert_eq!(u.pin_source.as_deref(), Some("file:/run/pin"));
    }

    #[test]
    fn refuses_what_it_cannot_use() {
        for (bad, why) in [
            ("pkcs11:token=t", "name the key"),
            ("pkcs11:object=a;object=b", "twice"),
            (
                "pkcs11:object=a;colour=red",
                "unknown path attribute `colour`",
            ),
            ("pkcs11:object=a?pin=1", "unknown query attribute `pin`"),
            ("pkcs11:object=a%zz", "not a hex byte"),
            ("pkcs11:object=a%4", "two hex digits"),
            ("pkcs11:object=a;type=cert", "type=cert"),
            ("file:/x", "starts with `pkcs11:`"),
            ("pkcs11:object", "has no `=`"),
        ] {
            let e = parse_uri(bad).unwrap_err().to_string();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }

    #[test]
    fn reads_curves_and_points() {
        assert_eq!(
            curve_of(&[0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07]).unwrap(),
            Some(Curve::P256)
        );
        assert_eq!(
            curve_of(&[0x06, 0x05, 0x2B, 0x81, 0x04, 0x00, 0x22]).unwrap(),
            Some(Curve::P384)
        );
        let mut ed = vec![0x13, 12];
        ed.extend_from_slice(b"edwards25519");
        assert_eq!(curve_of(&ed).unwrap(), None);
        assert_eq!(curve_of(&[0x06, 0x03, 0x2B, 0x65, 0x70]).unwrap(), None);
        assert!(curve_of(&[0x06, 0x03, 0x2B, 0x65, 0x71]).is_err());
        assert_eq!(unwrap_point(&[0x04, 0x02, 0xAA, 0xBB]), &[0xAA, 0xBB]);
        assert_eq!(unwrap_point(&[0xAA, 0xBB]), &[0xAA, 0xBB]);
        let long: Vec<u8> = [0x04, 0x81, 0x81].into_iter().chain([7u8; 0x81]).collect();
        assert_eq!(unwrap_point(&long).len(), 0x81);
    }
}
