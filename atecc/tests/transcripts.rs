//! The ATECC608 signer against recorded I2C transcripts (`embedded-hal-mock`): every byte it
//! must send and what the element answers, for signing, reading the public key, and the
//! failures a bus and an element produce (a NAK on wake, a failed self test, a CRC error, a
//! watchdog about to expire, an execution error). No emulator of the element exists; the
//! signature bytes in the transcripts are what a software key with the same private scalar
//! makes (RFC 6979 is deterministic), so the resulting JWS verifies with the slot's public key.

use embedded_hal::i2c::ErrorKind;
use embedded_hal_mock::eh1::delay::NoopDelay;
use embedded_hal_mock::eh1::i2c::{Mock, Transaction as T};
use tokenguard::alg::HashAlg;
use tokenguard::assertion::{encode, presets};
use tokenguard::crypto::RustCrypto;
use tokenguard::sign::{SignError, Signer, SigningKey};
use tokenguard::{Backend, Curve, Expect, KeySet, Validation};
use tokenguard_atecc::{crc16, Atecc608, Error};

const ADDR: u8 = 0x60;
const SLOT: u8 = 2;
const KID: &[u8] = b"device-0042-se";
/// The private scalar the recorded signatures were made with (a test key; a real element
/// never reveals its key).
const D: [u8; 32] = [
    0xc9, 0xaf, 0xa9, 0xd8, 0x45, 0xba, 0x75, 0x16, 0x6b, 0x5c, 0x21, 0x57, 0x67, 0xb1, 0xd6, 0x93,
    0x4e, 0x50, 0xc3, 0xdb, 0x36, 0xe8, 0x9b, 0x12, 0x7b, 0x8a, 0x62, 0x2b, 0x12, 0x0f, 0x67, 0x21,
];

fn software_key() -> SigningKey {
    SigningKey::ec(Some(KID), Curve::P256, &D).unwrap()
}

/// `03 count opcode p1 p2(LE) data CRC(LE)`: a command packet at word address 0x03.
fn command(opcode: u8, p1: u8, p2: u16, data: &[u8]) -> Vec<u8> {
    let mut body = vec![u8::try_from(7 + data.len()).unwrap(), opcode, p1];
    body.extend_from_slice(&p2.to_le_bytes());
    body.extend_from_slice(data);
    let crc = crc16(&body);
    let mut p = vec![0x03];
    p.extend_from_slice(&body);
    p.extend_from_slice(&crc.to_le_bytes());
    p
}

/// `count data CRC(LE)`, read in two parts as the driver reads it (count and the first byte,
/// then the rest).
fn response(data: &[u8]) -> [T; 3] {
    let mut p = vec![u8::try_from(3 + data.len()).unwrap()];
    p.extend_from_slice(data);
    let crc = crc16(&p);
    p.extend_from_slice(&crc.to_le_bytes());
    [
        T::write(ADDR, vec![0x00]),
        T::read(ADDR, p[..2].to_vec()),
        T::read(ADDR, p[2..].to_vec()),
    ]
}

fn wake() -> [T; 2] {
    [
        T::write(ADDR, vec![0x00]).with_error(ErrorKind::NoAcknowledge(
            embedded_hal::i2c::NoAcknowledgeSource::Address,
        )),
        T::read(ADDR, vec![0x04, 0x11, 0x33, 0x43]),
    ]
}

fn idle() -> T {
    T::write(ADDR, vec![0x02])
}

fn sign_transcript(digest: &[u8; 32], sign_answer: &[u8]) -> Vec<T> {
    let mut t: Vec<T> = wake().into();
    t.push(T::write(ADDR, command(0x16, 0x43, 0, digest)));
    t.extend(response(&[0x00]));
    t.push(T::write(ADDR, command(0x41, 0xA0, u16::from(SLOT), &[])));
    t.extend(response(sign_answer));
    t.push(idle());
    t
}

fn public_key_transcript(xy: &[u8]) -> Vec<T> {
    let mut t: Vec<T> = wake().into();
    t.push(T::write(ADDR, command(0x40, 0x00, u16::from(SLOT), &[])));
    t.extend(response(xy));
    t.push(idle());
    t
}

fn claims_time() -> presets::Timing {
    presets::Timing::new(1_700_000_000, 300)
}

#[test]
fn crc16_is_the_elements() {
    // The wake response carries its own CRC: 04 11 | 33 43.
    assert_eq!(crc16(&[0x04, 0x11]).to_le_bytes(), [0x33, 0x43]);
    // The catalogue check value of CRC-16 with poly 0x8005, refin, init 0, no refout.
    assert_eq!(crc16(b"123456789"), 0xbcdd);
}

#[test]
fn reads_the_slots_public_key_as_an_es256_jwk() {
    let soft = software_key().public_jwk().unwrap();
    let mut buf = [0u8; 512];
    let json: serde_like::Jwk = serde_like::parse(soft.to_json(&mut buf, false).unwrap());
    let mut xy = json.x.clone();
    xy.extend_from_slice(&json.y);
    let mut i2c = Mock::new(&public_key_transcript(&xy));
    let se = Atecc608::new(i2c.clone(), NoopDelay, ADDR, SLOT, Some(KID)).unwrap();
    let jwk = se.public_jwk().unwrap();
    assert!(jwk.same_material(&soft));
    assert_eq!(jwk.kid().unwrap().as_bytes(), KID);
    assert_eq!(jwk.alg(), Some(tokenguard::alg::ES256));
    i2c.done();
}

#[test]
fn mints_a_zitadel_assertion_that_verifies_with_the_slots_key() {
    let soft = software_key();
    let claims = presets::zitadel_service_user(
        "318438939318438939",
        "https://zitadel.example",
        claims_time(),
    )
    .unwrap();
    // What the element must produce: the software key's token over the same input.
    let mut buf = [0u8; 1024];
    let expected = encode(&soft, Some("JWT"), &claims, None, &mut buf)
        .unwrap()
        .to_owned();
    let (input, sig_b64) = expected.rsplit_once('.').unwrap();
    let mut sig = [0u8; 64];
    assert_eq!(
        tokenguard::b64::decode(sig_b64.as_bytes(), &mut sig).unwrap(),
        64
    );
    let d = RustCrypto::digest(HashAlg::Sha256, &[input.as_bytes()]);
    let digest: [u8; 32] = d.as_ref().try_into().unwrap();

    let mut i2c = Mock::new(&sign_transcript(&digest, &sig));
    let se = Atecc608::new(i2c.clone(), NoopDelay, ADDR, SLOT, Some(KID)).unwrap();
    assert_eq!(se.signature_len(), 64);
    let mut out = [0u8; 1024];
    let token = encode(&se, Some("JWT"), &claims, None, &mut out).unwrap();
    assert_eq!(token, expected);
    i2c.done();

    // It verifies with the slot's public key, as the identity provider would check it.
    let mut keys: KeySet<1> = KeySet::new();
    keys.insert(soft.public_jwk().unwrap()).unwrap();
    let v = Validation::new(
        Expect::One("318438939318438939"),
        Expect::One("https://zitadel.example"),
    );
    let mut work = [0u8; 1024];
    keys.verify(token.as_bytes(), &v, 1_700_000_100, &mut work)
        .unwrap();

    // And in PyJWT and jwcrypto, with the JWK the element exports (GenKey's public key).
    let mut jwk_json = [0u8; 512];
    let soft_jwk = soft.public_jwk().unwrap();
    let parsed = serde_like::parse(soft_jwk.to_json(&mut jwk_json, false).unwrap());
    let mut xy = parsed.x.clone();
    xy.extend_from_slice(&parsed.y);
    let mut i2c = Mock::new(&public_key_transcript(&xy));
    let se = Atecc608::new(i2c.clone(), NoopDelay, ADDR, SLOT, Some(KID)).unwrap();
    let exported = se.public_jwk().unwrap();
    i2c.done();
    let exported = exported.to_json(&mut jwk_json, false).unwrap();
    python_peers_verify(exported, token);
}

/// Each interop peer (PyJWT, jwcrypto, node `jose`) verifies `token` with the JWK `jwk`
/// (the ZITADEL preset's iss and aud), through the peers' verify contract, when they are
/// installed (`peers/install.sh`); required with `TOKENGUARD_REQUIRE_PEERS=1` (what
/// `cargo xtask ci` sets once they are).
fn python_peers_verify(jwk: &str, token: &str) {
    use tokenguard_tests::peers;
    if peers::installed().is_none() {
        let why = "the interop peers (PyJWT, jwcrypto, jose) are not installed (peers/install.sh)";
        assert!(
            std::env::var("TOKENGUARD_REQUIRE_PEERS").as_deref() != Ok("1"),
            "{why}, but TOKENGUARD_REQUIRE_PEERS=1"
        );
        eprintln!("{why}: their check is skipped");
        return;
    }
    let jwk: serde_json::Value = serde_json::from_str(jwk).unwrap();
    assert_eq!(jwk["kid"], "device-0042-se");
    let case = serde_json::json!({"cases": [{"name": "atecc", "token": token, "jwk": jwk,
        "alg": "ES256", "iss": "318438939318438939", "aud": "https://zitadel.example",
        "sub": "318438939318438939", "now": 1_700_000_100u64, "require": [], "leeway": 0}]});
    for peer in peers::ALL {
        let out = peers::run(peer, "verify", &case);
        assert_eq!(
            out["results"][0]["ok"], true,
            "{peer}: {}",
            out["results"][0]["error"]
        );
    }
}

/// A failing exchange: the signer reports `SignError::Device`, `sign_digest` the reason, and
/// the element is put in idle either way.
fn failing(transcript: Vec<T>, want: Error) {
    let mut i2c = Mock::new(&transcript);
    let se = Atecc608::new(i2c.clone(), NoopDelay, ADDR, SLOT, Some(KID)).unwrap();
    assert_eq!(se.sign_digest(&[7u8; 32]), Err(want));
    i2c.done();
}

#[test]
fn bus_and_element_failures_are_errors_not_panics() {
    let digest = [7u8; 32];
    // Asleep and never answering: the wake write NAKs, then every read does.
    let mut t = vec![
        T::write(ADDR, vec![0x00]).with_error(ErrorKind::NoAcknowledge(
            embedded_hal::i2c::NoAcknowledgeSource::Address,
        )),
    ];
    for _ in 0..20 {
        t.push(T::read(ADDR, vec![0; 4]).with_error(ErrorKind::Other));
    }
    t.push(idle());
    failing(t, Error::Bus);

    // Its self test failed: status 0x07 instead of the wake status 0x11.
    let selftest = {
        let mut p = vec![0x04, 0x07];
        p.extend_from_slice(&crc16(&p).to_le_bytes());
        p
    };
    failing(
        vec![
            T::write(ADDR, vec![0x00]),
            T::read(ADDR, selftest.clone()),
            idle(),
        ],
        Error::Wake,
    );

    // A CRC error in the signature's response.
    let mut t = sign_transcript(&digest, &[0x55; 64]);
    let last_read = t.len() - 2;
    t[last_read] = T::read(ADDR, {
        let mut p = vec![0x55; 63];
        p.extend_from_slice(&[0x00, 0x00]);
        p
    });
    failing(t, Error::Crc);

    // The watchdog is about to expire (status 0xEE), and an execution error (0x0F: the slot
    // does not allow external signing).
    for status in [0xEE, 0x0F] {
        let mut t: Vec<T> = wake().into();
        t.push(T::write(ADDR, command(0x16, 0x43, 0, &digest)));
        t.extend(response(&[0x00]));
        t.push(T::write(ADDR, command(0x41, 0xA0, u16::from(SLOT), &[])));
        t.extend(response(&[status]));
        t.push(idle());
        failing(t, Error::Status(status));
    }

    // The Nonce refused (parse error 0x03): no Sign is sent.
    let mut t: Vec<T> = wake().into();
    t.push(T::write(ADDR, command(0x16, 0x43, 0, &digest)));
    t.extend(response(&[0x03]));
    t.push(idle());
    failing(t, Error::Status(0x03));

    // Through the Signer seam: the mint fails with SignError::Device, no token.
    let mut i2c = Mock::new(&[T::write(ADDR, vec![0x00]), T::read(ADDR, selftest), idle()]);
    let se = Atecc608::new(i2c.clone(), NoopDelay, ADDR, SLOT, Some(KID)).unwrap();
    let claims =
        presets::zitadel_service_user("u", "https://zitadel.example", claims_time()).unwrap();
    let mut out = [0u8; 1024];
    assert_eq!(
        encode(&se, Some("JWT"), &claims, None, &mut out),
        Err(SignError::Device)
    );
    i2c.done();
}

#[test]
fn arguments_are_checked() {
    let i2c = Mock::new(&[]);
    assert!(matches!(
        Atecc608::new(i2c.clone(), NoopDelay, ADDR, 16, None),
        Err(Error::Argument)
    ));
    assert!(matches!(
        Atecc608::new(i2c.clone(), NoopDelay, ADDR, 0, Some(&[b'k'; 65])),
        Err(Error::Argument)
    ));
    let mut i2c = i2c;
    i2c.done();
}

/// The x and y of a public EC JWK, without a JSON crate.
mod serde_like {
    pub struct Jwk {
        pub x: Vec<u8>,
        pub y: Vec<u8>,
    }

    fn member(json: &str, name: &str) -> Vec<u8> {
        let key = format!("\"{name}\":\"");
        let start = json.find(&key).unwrap() + key.len();
        let end = start + json[start..].find('"').unwrap();
        let text = &json[start..end];
        let mut out = vec![0u8; text.len()];
        let n = tokenguard::b64::decode(text.as_bytes(), &mut out).unwrap();
        out.truncate(n);
        out
    }

    pub fn parse(json: &str) -> Jwk {
        Jwk {
            x: member(json, "x"),
            y: member(json, "y"),
        }
    }
}
