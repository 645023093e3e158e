use super::*;
use crate::alg;
use crate::error::JsonError;

const EC_X: &str = "YP7UuiVanTHJYet0xjVtaMBJuJI7Yfps5mliLmDyn7Y";
const EC_Y: &str = "eQP-EAi4vJmkGunpVii8ZPLxsgwtfp9Rd6PClNRGIpk";

fn ec_json(extra: &str) -> std::string::String {
    std::format!(r#"{{"kty":"EC","crv":"P-256","x":"{EC_X}","y":"{EC_Y}"{extra}}}"#)
}

#[test]
fn parses_ec_and_binds_alg() {
    let k =
        Jwk::from_json(ec_json(r#","kid":"ec-1","alg":"ES256","use":"sig""#).as_bytes()).unwrap();
    assert_eq!(k.key_type(), KeyType::Ec);
    assert_eq!(k.kid().unwrap().as_str(), Some("ec-1"));
    assert_eq!(k.permits(alg::ES256), Ok(()));
    assert_eq!(k.permits(alg::ES384), Err(Error::AlgNotAllowed));
    assert_eq!(k.permits(alg::HS256), Err(Error::AlgNotAllowed));
    assert_eq!(k.permits(alg::RS256), Err(Error::AlgNotAllowed));
}

#[test]
fn refuses_bad_keys_with_reasons() {
    let cases: &[(std::string::String, KeyError)] = &[
        (ec_json(r#","use":"enc""#), KeyError::WrongUse),
        (ec_json(r#","key_ops":["encrypt"]"#), KeyError::WrongKeyOps),
        (ec_json(r#","key_ops":"verify""#), KeyError::InvalidMember),
        (ec_json(r#","alg":"ES521""#), KeyError::UnsupportedAlg),
        // An algorithm for another curve (unknown to a build without it).
        (
            ec_json(r#","alg":"ES512""#),
            if cfg!(feature = "es512") {
                KeyError::AlgMismatch
            } else {
                KeyError::UnsupportedAlg
            },
        ),
        (
            ec_json(r#","alg":"ES256K""#),
            if cfg!(feature = "es256k") {
                KeyError::AlgMismatch
            } else {
                KeyError::UnsupportedAlg
            },
        ),
        (ec_json(r#","alg":"RS256""#), KeyError::AlgMismatch),
        (
            ec_json(r#","d":"yy49oPcINGK2ps0LmtxpB6UTEOiITghHBif6wDqmJ3c""#),
            KeyError::PrivateKey,
        ),
        (ec_json(r#","kid":1"#), KeyError::InvalidMember),
        (
            ec_json(r#","kid":"a","kid":"b""#),
            KeyError::DuplicateMember,
        ),
        (
            r#"{"kty":"EC","crv":"P-256","x":"AA","y":"AA"}"#.into(),
            KeyError::InvalidPoint,
        ),
        (
            r#"{"kty":"EC","crv":"P-192","x":"AA","y":"AA"}"#.into(),
            KeyError::UnsupportedCurve,
        ),
        (
            r#"{"kty":"EC","x":"AA","y":"AA"}"#.into(),
            KeyError::MissingMember,
        ),
        (r#"{"kty":"XYZ"}"#.into(), KeyError::UnsupportedKeyType),
        (r#"{"crv":"P-256"}"#.into(), KeyError::MissingMember),
        (r#"{"kty":"oct","k":""}"#.into(), KeyError::SymmetricKeySize),
        (
            r#"{"kty":"oct","alg":"HS384","k":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"}"#
                .into(),
            KeyError::SymmetricKeySize,
        ),
        (
            r#"{"kty":"oct","alg":"A256KW","k":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"}"#
                .into(),
            KeyError::UnsupportedAlg,
        ),
        (
            r#"{"kty":"oct","k":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="}"#.into(),
            KeyError::InvalidMember,
        ),
        (
            r#"{"kty":"OKP","crv":"X25519","x":"AA"}"#.into(),
            KeyError::UnsupportedCurve,
        ),
        (
            r#"{"kty":"OKP","crv":"Ed25519","x":"AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}"#
                .into(),
            KeyError::SmallOrder,
        ),
        (
            r#"{"kty":"RSA","n":"AQAB","e":"AQAB"}"#.into(),
            KeyError::RsaModulus,
        ),
        (
            std::format!(
                r#"{{"kty":"EC","crv":"P-256","x":"{EC_X}","y":"{EC_Y}","kid":"{}"}}"#,
                "k".repeat(65)
            ),
            KeyError::KidTooLong,
        ),
        ("[1]".into(), KeyError::Json(JsonError::NotAnObject)),
    ];
    for (json, want) in cases {
        assert_eq!(
            Jwk::from_json(json.as_bytes()).unwrap_err(),
            *want,
            "{json}"
        );
    }
}

#[test]
fn oct_keys_and_length_rules() {
    let k = Jwk::from_json(br#"{"kty":"oct","k":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"}"#)
        .unwrap();
    assert!(k.is_symmetric());
    assert_eq!(k.permits(alg::HS256), Ok(()));
    assert_eq!(
        k.permits(alg::HS384),
        Err(Error::KeyRejected(KeyError::SymmetricKeySize))
    );
    assert_eq!(
        Jwk::hmac(None, &[1; 31], alg::HS256).unwrap_err(),
        KeyError::SymmetricKeySize
    );
    assert_eq!(
        Jwk::hmac(None, &[1; 32], alg::ES256).unwrap_err(),
        KeyError::AlgMismatch
    );
}

#[cfg(feature = "rustcrypto")]
#[test]
fn rfc7638_thumbprint_example() {
    // RFC 7638 §3.1 example key and thumbprint.
    let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
    let json =
        std::format!(r#"{{"kty":"RSA","n":"{n}","e":"AQAB","alg":"RS256","kid":"2011-04-29"}}"#);
    let k = Jwk::from_json(json.as_bytes()).unwrap();
    let t = k.thumbprint::<crate::crypto::RustCrypto>();
    let mut enc = [0u8; 43];
    crate::b64::encode(&t, &mut enc).unwrap();
    assert_eq!(&enc, b"NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
}

#[test]
fn json_export_round_trips() {
    let k = Jwk::from_json(ec_json(r#","kid":"a\"b","alg":"ES256""#).as_bytes()).unwrap();
    let mut out = [0u8; 300];
    let j = k.to_json(&mut out, false).unwrap();
    assert_eq!(
        j,
        std::format!(
            r#"{{"kty":"EC","crv":"P-256","kid":"a\"b","use":"sig","alg":"ES256","x":"{EC_X}","y":"{EC_Y}"}}"#
        )
    );
    let back = Jwk::from_json(j.as_bytes()).unwrap();
    assert!(back.same_key(&k));
    let oct = Jwk::hmac(Some(b"h"), &[1; 32], alg::HS256).unwrap();
    assert!(oct.to_json(&mut out, false).is_none());
    let j = oct.to_json(&mut out, true).unwrap();
    assert!(Jwk::from_json(j.as_bytes()).unwrap().same_key(&oct));
    assert!(k.to_json(&mut [0u8; 20], false).is_none());
}

/// A `kid` with control characters is written with the same escapes as assertions use
/// (`\n`, `\t`, else `\u00XX`) and reads back as the same bytes.
#[test]
fn json_export_escapes_control_characters_like_the_assertion_writer() {
    let k = Jwk::hmac(Some(b"a\nb\t\x01\\"), &[1; 32], alg::HS256).unwrap();
    let mut out = [0u8; 300];
    let j = k.to_json(&mut out, true).unwrap();
    assert!(j.contains(r#""kid":"a\nb\t\u0001\\""#), "{j}");
    let back = Jwk::from_json(j.as_bytes()).unwrap();
    assert_eq!(back.kid().unwrap().as_bytes(), b"a\nb\t\x01\\");
    assert!(back.same_key(&k));
}
