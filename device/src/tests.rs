use super::*;
use std::vec::Vec;
use tokenguard::alg;

type Dev = Device<4, 1024>;

struct Harness {
    dev: Dev,
    seq: u8,
    now_ms: u64,
}

impl Harness {
    fn new() -> Harness {
        Harness {
            dev: Device::new(RefreshPolicy::DEFAULT),
            seq: 0,
            now_ms: 5_000,
        }
    }

    fn raw(&mut self, bytes: &[u8]) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        self.dev
            .feed(bytes, self.now_ms, &mut |b| out.extend_from_slice(b));
        let mut d: FrameDecoder<2048> = FrameDecoder::new();
        out.iter()
            .filter_map(|&b| match d.push(b) {
                Some(Frame::Payload(p)) => Some(p.to_vec()),
                Some(Frame::Error(e)) => panic!("device sent a bad frame: {e:?}"),
                None => None,
            })
            .collect()
    }

    /// Sends one request; returns (status, body).
    fn call(&mut self, c: u8, body: &[u8]) -> (u8, Vec<u8>) {
        self.seq = self.seq.wrapping_add(1);
        let mut req = Vec::new();
        frame::encode(&[&[c, self.seq], body], |b| req.extend_from_slice(b));
        let replies = self.raw(&req);
        assert_eq!(replies.len(), 1);
        let r = &replies[0];
        assert_eq!((r[0], r[1]), (c | 0x80, self.seq));
        (r[2], r[3..].to_vec())
    }
}

const HS_JWK: &str =
    r#"{"kty":"oct","kid":"hs-1","alg":"HS256","k":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"}"#;
const TOKEN: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6ImhzLTEifQ.eyJpc3MiOiJodHRwczovL2lzc3Vlci5leGFtcGxlIiwiYXVkIjoiZGV2aWNlLTEiLCJzdWIiOiJ1MSIsImlhdCI6MTcwMDAwMDAwMCwibmJmIjoxNzAwMDAwMDAwLCJleHAiOjE3MDAwMDA2MDAsImp0aSI6ImotMSJ9.xxcJsXfFWu_v_RJX_C89rXkbAzfZ_kmmbaY-64E-3gg";

fn policy(h: &mut Harness) {
    let mut buf = [0u8; 300];
    let body = policy_body(
        &mut buf,
        0,
        0,
        AlgSet::ALL,
        60,
        0,
        "https://issuer.example",
        "device-1",
        "",
        "",
    )
    .unwrap()
    .to_vec();
    assert_eq!(h.call(cmd::SET_POLICY, &body).0, status::OK);
}

fn verify(h: &mut Harness, token: &str) -> (u8, Vec<u8>) {
    let mut body = std::vec![0u8];
    body.extend_from_slice(token.as_bytes());
    h.call(cmd::VERIFY, &body)
}

#[test]
fn info_time_and_unknown_commands() {
    let mut h = Harness::new();
    let (s, body) = h.call(cmd::INFO, &[]);
    assert_eq!(s, status::OK);
    assert_eq!(body[0], proto::PROTOCOL_VERSION);
    assert_eq!(h.call(cmd::GET_TIME, &[]).0, status::NO_TIME);
    assert_eq!(
        h.call(cmd::SET_TIME, &1_700_000_300u64.to_le_bytes()).0,
        status::OK
    );
    h.now_ms += 2_500;
    assert_eq!(
        h.call(cmd::GET_TIME, &[]),
        (status::OK, 1_700_000_302u64.to_le_bytes().to_vec())
    );
    assert_eq!(h.call(0x77, &[]).0, status::UNKNOWN_COMMAND);
    assert_eq!(h.call(cmd::SET_TIME, &[1, 2]).0, status::BAD_REQUEST);
    #[cfg(feature = "signing")]
    assert_eq!(
        h.call(cmd::SIGN, &[]).0,
        status::NOT_FOUND,
        "no signing key yet"
    );
    #[cfg(not(feature = "signing"))]
    assert_eq!(h.call(cmd::SIGN, &[]).0, status::UNSUPPORTED);
}

#[test]
fn load_verify_and_reject_with_exact_codes() {
    let mut h = Harness::new();
    h.call(cmd::SET_TIME, &1_700_000_300u64.to_le_bytes());
    assert_eq!(verify(&mut h, TOKEN).0, status::NOT_FOUND, "no policy yet");
    policy(&mut h);
    assert_eq!(
        verify(&mut h, TOKEN).0,
        proto::token_status(&tokenguard::Error::KeyNotFound)
    );
    let mut load = std::vec![0u8];
    load.extend_from_slice(HS_JWK.as_bytes());
    assert_eq!(h.call(cmd::LOAD_JWK, &load), (status::OK, std::vec![1]));
    let (s, body) = verify(&mut h, TOKEN);
    assert_eq!(s, status::OK);
    assert_eq!(alg_from_code(body[0]), Some(alg::HS256));
    assert!(core::str::from_utf8(&body[1..])
        .unwrap()
        .contains("\"sub\":\"u1\""));
    let expired = verify(&mut h, &TOKEN.replace("xxcJ", "xxcK")).0;
    assert_eq!(proto::token_code(expired), Some("bad_signature"));
    // A weak key is refused with its reason; the loaded key stays.
    let mut weak = std::vec![0u8];
    weak.extend_from_slice(br#"{"kty":"oct","kid":"w","alg":"HS256","k":"AAEC"}"#);
    assert_eq!(
        h.call(cmd::LOAD_JWK, &weak),
        (
            status::KEY_REFUSED,
            std::vec![proto::key_error_code(
                tokenguard::KeyError::SymmetricKeySize
            )]
        )
    );
    assert_eq!(verify(&mut h, TOKEN).0, status::OK);
}

#[test]
fn jwks_streams_in_chunks_and_failed_updates_keep_old_keys() {
    let mut h = Harness::new();
    h.call(cmd::SET_TIME, &1_700_000_300u64.to_le_bytes());
    policy(&mut h);
    let doc =
        std::format!(r#"{{"keys":[{HS_JWK},{{"kty":"RSA","kid":"weak","n":"AQAB","e":"AQAB"}}]}}"#);
    assert_eq!(h.call(cmd::JWKS_BEGIN, &600u32.to_le_bytes()).0, status::OK);
    for chunk in doc.as_bytes().chunks(7) {
        assert_eq!(h.call(cmd::JWKS_CHUNK, chunk).0, status::OK);
    }
    let (s, body) = h.call(cmd::JWKS_END, &[]);
    assert_eq!(s, status::OK);
    // loaded 1, unchanged 0, skipped 1, removed 0, one skip record (index 1, RsaModulus).
    assert_eq!(&body[..8], &[1, 0, 0, 0, 1, 0, 0, 0]);
    assert_eq!(
        &body[8..],
        &[
            1,
            1,
            0,
            proto::key_error_code(tokenguard::KeyError::RsaModulus)
        ]
    );
    assert_eq!(verify(&mut h, TOKEN).0, status::OK);
    // A broken update: refused, and the old key still verifies.
    h.call(cmd::JWKS_BEGIN, &u32::MAX.to_le_bytes());
    let (s, body) = h.call(cmd::JWKS_CHUNK, br#"{"keys":[{"kty":"oct",,"#);
    assert_eq!((s, body), (status::JWKS_REFUSED, std::vec![0]));
    assert_eq!(h.call(cmd::JWKS_END, &[]).0, status::NO_UPDATE);
    assert_eq!(verify(&mut h, TOKEN).0, status::OK);
    // An update abandoned by FETCH_FAILED keeps the keys too.
    h.call(cmd::JWKS_BEGIN, &u32::MAX.to_le_bytes());
    h.call(cmd::JWKS_CHUNK, br#"{"keys":["#);
    assert_eq!(h.call(cmd::FETCH_FAILED, &[]).0, status::OK);
    assert_eq!(verify(&mut h, TOKEN).0, status::OK);
    let (s, body) = h.call(cmd::LIST_KEYS, &[0]);
    assert_eq!(s, status::OK);
    assert_eq!(&body[..3], &[1, 0xFF, 1]);
    assert_eq!(&body[3..9], &[4, b'h', b's', b'-', b'1', 3]);
    assert_eq!(h.call(cmd::REMOVE_KEY, b"hs-1").0, status::OK);
    assert_eq!(h.call(cmd::REMOVE_KEY, b"hs-1").0, status::NOT_FOUND);
}

#[test]
fn bad_frames_get_error_frames_and_the_device_keeps_serving() {
    let mut h = Harness::new();
    h.call(cmd::SET_TIME, &1_700_000_300u64.to_le_bytes());
    policy(&mut h);
    let mut load = std::vec![0u8];
    load.extend_from_slice(HS_JWK.as_bytes());
    h.call(cmd::LOAD_JWK, &load);
    // Corrupt CRC.
    let mut req = Vec::new();
    frame::encode(&[&[cmd::INFO, 1]], |b| req.extend_from_slice(b));
    req[1] ^= 0x40;
    assert_eq!(
        h.raw(&req),
        [std::vec![cmd::FRAME_ERROR, 0, status::BAD_FRAME]]
    );
    // Garbage between frames, an oversized frame, a truncated frame then a good one.
    let mut stream = std::vec![0x13u8, 0x37, 0];
    stream.extend(core::iter::repeat_n(0x55u8, 3000));
    stream.push(0);
    let mut good = Vec::new();
    frame::encode(&[&[cmd::INFO, 9]], |b| good.extend_from_slice(b));
    stream.extend_from_slice(&good[..good.len() / 2]);
    stream.push(0);
    stream.extend_from_slice(&good);
    let replies = h.raw(&stream);
    assert_eq!(replies.len(), 4);
    assert_eq!(replies[0], [cmd::FRAME_ERROR, 0, status::BAD_FRAME]);
    assert_eq!(replies[1], [cmd::FRAME_ERROR, 0, status::FRAME_TOO_LARGE]);
    assert_eq!(replies[2], [cmd::FRAME_ERROR, 0, status::BAD_FRAME]);
    assert_eq!(&replies[3][..3], &[cmd::INFO | 0x80, 9, status::OK]);
    // A frame too short for cmd+seq.
    let mut short = Vec::new();
    frame::encode(&[&[cmd::INFO]], |b| short.extend_from_slice(b));
    assert_eq!(
        h.raw(&short),
        [std::vec![cmd::FRAME_ERROR, 0, status::BAD_REQUEST]]
    );
    // Nothing was lost.
    assert_eq!(verify(&mut h, TOKEN).0, status::OK);
    let (s, st) = h.call(cmd::STATS, &[]);
    assert_eq!(s, status::OK);
    let u32_at = |i: usize| u32::from_le_bytes(st[i * 4..i * 4 + 4].try_into().unwrap());
    assert_eq!(u32_at(0), 1, "accepted");
    assert_eq!(
        u32_at(22),
        4,
        "bad frames: crc, garbage, oversized, truncated"
    );
}

#[test]
fn refresh_state_reports_what_is_due() {
    let mut h = Harness::new();
    assert_eq!(h.call(cmd::REFRESH_STATE, &[]).0, status::NO_TIME);
    h.call(cmd::SET_TIME, &1_700_000_000u64.to_le_bytes());
    let (s, b) = h.call(cmd::REFRESH_STATE, &[]);
    assert_eq!(
        (s, b[0], b[1]),
        (status::OK, 1, 0),
        "initial fetch due, never loaded"
    );
    h.call(cmd::JWKS_BEGIN, &120u32.to_le_bytes());
    h.call(
        cmd::JWKS_CHUNK,
        std::format!(r#"{{"keys":[{HS_JWK}]}}"#).as_bytes(),
    );
    assert_eq!(h.call(cmd::JWKS_END, &[]).0, status::OK);
    let (_, b) = h.call(cmd::REFRESH_STATE, &[]);
    assert_eq!((b[0], b[1]), (0, 1));
    assert_eq!(
        u64::from_le_bytes(b[2..10].try_into().unwrap()),
        1_700_000_120
    );
    h.now_ms += 121_000;
    let (_, b) = h.call(cmd::REFRESH_STATE, &[]);
    assert_eq!((b[0], b[1]), (2, 2), "expired: fetch due, keys stale");
    // The host's HTTP fetch fails before any JWKS_BEGIN: that attempt counts, so the next
    // one waits for the retry interval (30 s) instead of hammering a down IdP.
    assert_eq!(h.call(cmd::FETCH_FAILED, &[]).0, status::OK);
    let (_, b) = h.call(cmd::REFRESH_STATE, &[]);
    assert_eq!((b[0], b[1]), (0, 2), "no fetch right after a failure");
    h.now_ms += 29_000;
    assert_eq!(h.call(cmd::REFRESH_STATE, &[]).1[0], 0);
    h.now_ms += 1_000;
    assert_eq!(
        h.call(cmd::REFRESH_STATE, &[]).1[0],
        4,
        "retry due after 30 s"
    );
}

#[cfg(feature = "signing")]
#[test]
fn signs_assertions_with_the_device_key() {
    let mut h = Harness::new();
    let mut dbuf = [0u8; 64];
    let n = tokenguard::b64::encode(&[0x31; 32], &mut dbuf).unwrap();
    let jwk = std::format!(
        r#"{{"kty":"EC","crv":"P-256","kid":"181828078849229057","d":"{}"}}"#,
        core::str::from_utf8(&dbuf[..n]).unwrap()
    );
    assert_eq!(
        h.call(cmd::SET_SIGNING_KEY, jwk.as_bytes()),
        (status::OK, std::vec![alg::ES256 as u8])
    );
    let mut body = std::vec![1u8];
    body.extend_from_slice(&3600u32.to_le_bytes());
    body.extend_from_slice(&2u16.to_le_bytes());
    body.push(0); // no entropy: deterministic RFC 6979
    for s in ["181828061098934529", "https://zitadel.example", ""] {
        body.push(u8::try_from(s.len()).unwrap());
        body.extend_from_slice(s.as_bytes());
    }
    assert_eq!(h.call(cmd::SIGN, &body).0, status::NO_TIME);
    h.call(cmd::SET_TIME, &1_700_000_000u64.to_le_bytes());
    let (s, jwt) = h.call(cmd::SIGN, &body);
    assert_eq!(s, status::OK);
    let jwt = core::str::from_utf8(&jwt).unwrap();
    let key = tokenguard::sign::SigningKey::ec(
        Some(b"181828078849229057"),
        tokenguard::Curve::P256,
        &[0x31; 32],
    )
    .unwrap();
    let v = tokenguard::Validation::new(
        tokenguard::Expect::One("181828061098934529"),
        tokenguard::Expect::One("https://zitadel.example"),
    )
    .subject("181828061098934529");
    let mut work = [0u8; 1024];
    let t = tokenguard::verify_jwt::<tokenguard::crypto::RustCrypto, _>(
        &key.public_jwk().unwrap(),
        jwt.as_bytes(),
        &v,
        1_700_000_000,
        &mut work,
    )
    .unwrap();
    assert_eq!(
        (t.claims().iat(), t.claims().exp()),
        (Some(1_699_999_998), Some(1_700_003_598))
    );
    // A lifetime over an hour breaks the ZITADEL preset.
    body[1..5].copy_from_slice(&3601u32.to_le_bytes());
    assert_eq!(h.call(cmd::SIGN, &body).0, status::BAD_REQUEST);
}

#[cfg(feature = "signing")]
#[test]
fn a_token_too_long_for_a_reply_frame_is_full() {
    // Found by the device_proto fuzz target (fuzz/regressions/device_proto/): the token was
    // written into the whole frame buffer, so a 1012..1024-byte token made a reply longer
    // than MAX_PAYLOAD that the host could not receive.
    let mut h = Harness::new();
    h.call(cmd::SET_TIME, &1_700_000_000u64.to_le_bytes());
    let jwk = r#"{"kty":"oct","kid":"k","alg":"HS256","k":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"}"#;
    assert_eq!(h.call(cmd::SET_SIGNING_KEY, jwk.as_bytes()).0, status::OK);
    let sign = |h: &mut Harness, sub: usize| {
        let mut body = std::vec![0u8];
        body.extend_from_slice(&300u32.to_le_bytes());
        body.extend_from_slice(&0u16.to_le_bytes());
        body.push(0);
        for f in [&"s".repeat(sub), &"a".repeat(255), &"j".repeat(255)] {
            body.push(u8::try_from(f.len()).unwrap());
            body.extend_from_slice(f.as_bytes());
        }
        h.call(cmd::SIGN, &body)
    };
    // The longest token that fits is returned whole; one more subject byte is FULL.
    let mut longest = 0;
    for sub in 0..=80 {
        let (s, tok) = sign(&mut h, sub);
        assert!(
            tok.len() + 3 <= Dev::MAX_PAYLOAD,
            "reply of {} bytes",
            tok.len() + 3
        );
        match s {
            status::OK => longest = tok.len(),
            status::FULL => {}
            other => panic!("status {other:#x}"),
        }
    }
    assert!(
        longest > 900 && longest <= Dev::MAX_PAYLOAD - 3,
        "{longest}"
    );
    assert_eq!(sign(&mut h, 80).0, status::FULL);
    // The device keeps serving.
    assert_eq!(h.call(cmd::INFO, &[]).0, status::OK);
}

fn u32_at(b: &[u8], i: usize) -> u32 {
    u32::from_le_bytes(b[i * 4..i * 4 + 4].try_into().unwrap())
}

fn hs_key(kid: &str, fill: u8) -> std::string::String {
    let mut b = [0u8; 43];
    let n = tokenguard::b64::encode(&[fill; 32], &mut b).unwrap();
    std::format!(
        r#"{{"kty":"oct","kid":"{kid}","alg":"HS256","k":"{}"}}"#,
        core::str::from_utf8(&b[..n]).unwrap()
    )
}

fn stream_jwks(h: &mut Harness, doc: &str) -> (u8, Vec<u8>) {
    assert_eq!(h.call(cmd::JWKS_BEGIN, &600u32.to_le_bytes()).0, status::OK);
    for chunk in doc.as_bytes().chunks(100) {
        assert_eq!(h.call(cmd::JWKS_CHUNK, chunk).0, status::OK);
    }
    h.call(cmd::JWKS_END, &[])
}

#[test]
fn a_refused_set_keeps_the_old_keys_and_says_why() {
    let mut h = Harness::new();
    h.call(cmd::SET_TIME, &1_700_000_300u64.to_le_bytes());
    policy(&mut h);
    let (s, _) = stream_jwks(&mut h, &std::format!(r#"{{"keys":[{HS_JWK}]}}"#));
    assert_eq!(s, status::OK);
    // An empty set: code 5, needed 0, free 3, loaded/unchanged/skipped/removed 0, no skips.
    let (s, body) = stream_jwks(&mut h, r#"{"keys":[]}"#);
    assert_eq!(
        (s, body),
        (
            status::JWKS_REFUSED,
            std::vec![5, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        )
    );
    assert_eq!(h.call(cmd::LIST_KEYS, &[]).0, status::BAD_REQUEST);
    assert_eq!(verify(&mut h, TOKEN).0, status::OK);
    // A set whose only key is unusable: code 5 and the skip record (index 0, RsaModulus).
    let (s, body) = stream_jwks(
        &mut h,
        r#"{"keys":[{"kty":"RSA","kid":"weak","n":"AQAB","e":"AQAB"}]}"#,
    );
    assert_eq!(s, status::JWKS_REFUSED);
    assert_eq!(&body[..5], &[5, 0, 0, 3, 0]);
    assert_eq!(&body[5..13], &[0, 0, 0, 0, 1, 0, 0, 0], "skipped 1");
    assert_eq!(
        &body[13..],
        &[
            1,
            0,
            0,
            proto::key_error_code(tokenguard::KeyError::RsaModulus)
        ]
    );
    // Five new keys for three free slots (one holds hs-1): code 6, needed 5, free 3.
    let five: Vec<_> = (0..5)
        .map(|i| hs_key(&std::format!("n{i}"), i + 1))
        .collect();
    let (s, body) = stream_jwks(&mut h, &std::format!(r#"{{"keys":[{}]}}"#, five.join(",")));
    assert_eq!(s, status::JWKS_REFUSED);
    assert_eq!(&body[..5], &[6, 5, 0, 3, 0]);
    assert_eq!(
        &body[5..13],
        &[3, 0, 0, 0, 2, 0, 0, 0],
        "3 found a slot, 2 did not"
    );
    assert_eq!(verify(&mut h, TOKEN).0, status::OK);
    let (_, keys) = h.call(cmd::LIST_KEYS, &[0]);
    assert_eq!(&keys[..3], &[1, 0xFF, 1], "only hs-1, staged keys released");
    // Three refusals, counted as failed fetches; the cache retries.
    let (_, st) = h.call(cmd::STATS, &[]);
    assert_eq!(u32_at(&st, 20), 3, "fetch failures");
    assert_eq!(
        u32_at(&st[2..], 24),
        3,
        "updates refused (after keys u8, slots u8)"
    );
    let (_, b) = h.call(cmd::REFRESH_STATE, &[]);
    assert_eq!(
        (b[0], b[1]),
        (0, 1),
        "still fresh; no fetch right after a failure"
    );
    h.now_ms += 30_000;
    assert_eq!(
        h.call(cmd::REFRESH_STATE, &[]).1[0],
        0,
        "fresh keys: no retry"
    );
}

#[test]
fn load_jwk_says_a_pinned_key_holds_the_kid() {
    let mut h = Harness::new();
    let mut pin = std::vec![proto::load_flags::PINNED];
    pin.extend_from_slice(HS_JWK.as_bytes());
    assert_eq!(h.call(cmd::LOAD_JWK, &pin), (status::OK, std::vec![1]));
    let mut load = std::vec![0u8];
    load.extend_from_slice(hs_key("hs-1", 7).as_bytes());
    assert_eq!(
        h.call(cmd::LOAD_JWK, &load),
        (
            status::KEY_REFUSED,
            std::vec![proto::key_error_code(tokenguard::KeyError::KidPinned)]
        )
    );
    for i in 0..3 {
        let mut load = std::vec![0u8];
        load.extend_from_slice(hs_key(&std::format!("k{i}"), i + 1).as_bytes());
        assert_eq!(h.call(cmd::LOAD_JWK, &load).0, status::OK);
    }
    let mut load = std::vec![0u8];
    load.extend_from_slice(hs_key("k9", 9).as_bytes());
    assert_eq!(h.call(cmd::LOAD_JWK, &load), (status::FULL, std::vec![]));
}

#[test]
fn requests_outside_the_command_range_are_frame_errors() {
    let mut h = Harness::new();
    for c in [0x00u8, 0x7F, 0x80, 0xC1, 0xFF] {
        let mut req = Vec::new();
        frame::encode(&[&[c, 9]], |b| req.extend_from_slice(b));
        assert_eq!(
            h.raw(&req),
            [std::vec![cmd::FRAME_ERROR, 0, status::UNKNOWN_COMMAND]],
            "cmd {c:#x}"
        );
    }
    // An unknown command inside the range is answered as itself.
    assert_eq!(h.call(0x7E, &[]), (status::UNKNOWN_COMMAND, std::vec![]));
}

#[test]
fn the_largest_payload_is_1015_bytes() {
    assert_eq!(Dev::MAX_PAYLOAD, 1015);
    let mut h = Harness::new();
    for (len, want) in [(1015usize, true), (1016, false)] {
        // A HELLO-sized nonce would be refused; LOAD_JWK with a padded body answers
        // whatever the JSON is, so the frame itself is what is tested. No zero bytes: the
        // most COBS overhead.
        let mut body = std::vec![0x01u8];
        body.resize(len - 2, b' ');
        let mut req = Vec::new();
        frame::encode(&[&[cmd::LOAD_JWK, 3], &body], |b| req.extend_from_slice(b));
        let replies = h.raw(&req);
        if want {
            assert_eq!(&replies[0][..2], &[cmd::LOAD_JWK | 0x80, 3], "{len}");
        } else {
            assert_eq!(
                replies,
                [std::vec![cmd::FRAME_ERROR, 0, status::FRAME_TOO_LARGE]],
                "{len}"
            );
        }
    }
}

#[test]
fn links_keep_their_frames_and_transfers_apart() {
    let mut dev: Dev = Device::new(RefreshPolicy::DEFAULT);
    let (mut a, mut b) = (Link::<1024>::new(1), Link::<1024>::new(2));
    let send = |dev: &mut Dev, l: &mut Link<1024>, c: u8, body: &[u8]| {
        let mut req = Vec::new();
        frame::encode(&[&[c, 1], body], |x| req.extend_from_slice(x));
        let mut out = Vec::new();
        dev.feed_link(l, &req, 0, &mut |x| out.extend_from_slice(x));
        let mut d: FrameDecoder<2048> = FrameDecoder::new();
        let replies: Vec<Vec<u8>> = out
            .iter()
            .filter_map(|&x| match d.push(x) {
                Some(Frame::Payload(p)) => Some(p.to_vec()),
                _ => None,
            })
            .collect();
        assert_eq!(replies.len(), 1);
        (replies[0][2], replies[0][3..].to_vec())
    };
    // Half a frame on link 1 does not disturb link 2.
    let mut half = Vec::new();
    frame::encode(&[&[cmd::INFO, 5]], |x| half.extend_from_slice(x));
    dev.feed_link(&mut a, &half[..2], 0, &mut |_| {
        panic!("no reply to half a frame")
    });
    assert_eq!(send(&mut dev, &mut b, cmd::INFO, &[]).0, status::OK);
    // Link 1's update is its own: link 2 cannot feed or finish it.
    let doc = std::format!(r#"{{"keys":[{HS_JWK}]}}"#);
    let mut a = Link::<1024>::new(1);
    assert_eq!(
        send(&mut dev, &mut a, cmd::JWKS_BEGIN, &[0xFF; 4]).0,
        status::OK
    );
    assert_eq!(
        send(&mut dev, &mut b, cmd::JWKS_CHUNK, doc.as_bytes()).0,
        status::NO_UPDATE
    );
    assert_eq!(
        send(&mut dev, &mut b, cmd::JWKS_END, &[]).0,
        status::NO_UPDATE
    );
    assert_eq!(
        send(&mut dev, &mut a, cmd::JWKS_CHUNK, doc.as_bytes()).0,
        status::OK
    );
    // Link 1 goes away mid-update: nothing is committed, and a later chunk is refused.
    dev.link_closed(1);
    assert_eq!(
        send(&mut dev, &mut a, cmd::JWKS_END, &[]).0,
        status::NO_UPDATE
    );
    assert!(dev.cache().keys().is_empty());
    // HELLO echoes its nonce and abandons the link's own transfer only.
    assert_eq!(
        send(&mut dev, &mut a, cmd::JWKS_BEGIN, &[0xFF; 4]).0,
        status::OK
    );
    assert_eq!(
        send(&mut dev, &mut b, cmd::HELLO, b"nonce-2"),
        (status::OK, b"nonce-2".to_vec())
    );
    assert_eq!(
        send(&mut dev, &mut a, cmd::JWKS_CHUNK, doc.as_bytes()).0,
        status::OK
    );
    assert_eq!(send(&mut dev, &mut a, cmd::HELLO, b"n").0, status::OK);
    assert_eq!(
        send(&mut dev, &mut a, cmd::JWKS_END, &[]).0,
        status::NO_UPDATE
    );
    assert_eq!(
        send(&mut dev, &mut a, cmd::HELLO, &[7; 33]).0,
        status::BAD_REQUEST
    );
    assert!(dev.cache().keys().is_empty());
}

#[cfg(feature = "signing")]
mod signing_key_upload {
    use super::*;
    use std::string::String;

    fn b64(b: &[u8]) -> String {
        let mut out = std::vec![0u8; tokenguard::b64::encoded_len(b.len())];
        let n = tokenguard::b64::encode(b, &mut out).unwrap();
        String::from_utf8(out[..n].to_vec()).unwrap()
    }

    /// The repository's RSA-2048 test key as a private JWK with its CRT members.
    pub(super) fn rsa_jwk(kid: &str, alg: &str) -> String {
        let pem = include_bytes!("../../tests/data/rsa2048.pkcs8.pem");
        let mut scratch = [0u8; 4096];
        let tokenguard::keys::PrivateKeyBytes::Rsa {
            n,
            e,
            d,
            p,
            q,
            dp,
            dq,
            qi,
        } = tokenguard::keys::private_key(pem, &mut scratch).unwrap()
        else {
            panic!("an RSA key")
        };
        std::format!(
            r#"{{"kty":"RSA","kid":"{kid}","alg":"{alg}","n":"{}","e":"{}","d":"{}","p":"{}","q":"{}","dp":"{}","dq":"{}","qi":"{}"}}"#,
            b64(n),
            b64(e),
            b64(d),
            b64(p),
            b64(q),
            b64(dp),
            b64(dq),
            b64(qi)
        )
    }

    fn sign_body(entropy: &[u8]) -> Vec<u8> {
        let mut body = std::vec![0u8];
        body.extend_from_slice(&300u32.to_le_bytes());
        body.extend_from_slice(&0u16.to_le_bytes());
        for f in [entropy, b"dev-1", b"https://api.example", b""] {
            body.push(u8::try_from(f.len()).unwrap());
            body.extend_from_slice(f);
        }
        body
    }

    fn upload(h: &mut Harness, jwk: &str, chunk: usize) -> (u8, Vec<u8>) {
        assert_eq!(h.call(cmd::SIGNING_KEY_BEGIN, &[]).0, status::OK);
        for c in jwk.as_bytes().chunks(chunk) {
            let (s, b) = h.call(cmd::SIGNING_KEY_CHUNK, c);
            if s != status::OK {
                return (s, b);
            }
        }
        h.call(cmd::SIGNING_KEY_END, &[])
    }

    #[test]
    fn rsa_keys_arrive_in_chunks_and_sign() {
        let mut h = Harness::new();
        h.call(cmd::SET_TIME, &1_700_000_000u64.to_le_bytes());
        for (alg, entropy) in [(alg::RS256, &[][..]), (alg::PS256, &[0x5a; 32][..])] {
            let jwk = rsa_jwk("rsa-1", alg.name());
            assert!(jwk.len() > Dev::MAX_PAYLOAD, "{} bytes", jwk.len());
            assert_eq!(
                upload(&mut h, &jwk, 500),
                (status::OK, std::vec![alg as u8])
            );
            let (s, tok) = h.call(cmd::SIGN, &sign_body(entropy));
            assert_eq!(s, status::OK, "{alg:?}");
            let key = tokenguard::sign::SigningKey::from_jwk(jwk.as_bytes()).unwrap();
            let v = tokenguard::Validation::new(
                tokenguard::Expect::One("dev-1"),
                tokenguard::Expect::One("https://api.example"),
            );
            let mut work = [0u8; 1024];
            let t = tokenguard::verify_jwt::<tokenguard::crypto::RustCrypto, _>(
                &key.public_jwk().unwrap(),
                &tok,
                &v,
                1_700_000_000,
                &mut work,
            )
            .unwrap();
            assert_eq!(t.alg(), alg);
        }
    }

    #[test]
    fn refused_or_interrupted_uploads_keep_the_old_key() {
        let mut h = Harness::new();
        h.call(cmd::SET_TIME, &1_700_000_000u64.to_le_bytes());
        let first = hs_key("first", 1).replace(r#""alg""#, r#""use":"sig","alg""#);
        assert_eq!(h.call(cmd::SET_SIGNING_KEY, first.as_bytes()).0, status::OK);
        let code = |e| std::vec![proto::key_error_code(e)];
        // SET_SIGNING_KEY keeps the reason.
        for (jwk, why) in [
            (
                r#"{"kty":"EC","crv":"P-256"}"#,
                tokenguard::KeyError::MissingMember,
            ),
            (
                r#"{"kty":"EC","crv":"P-192","d":"AA"}"#,
                tokenguard::KeyError::UnsupportedCurve,
            ),
            (
                r#"{"kty":"oct","alg":"HS256","k":"AAEC"}"#,
                tokenguard::KeyError::SymmetricKeySize,
            ),
            (
                r#"{"kty":"RSA","n":"AQAB","e":"AQAB","d":"AQ","p":"AQ","q":"AQ","dp":"AQ","dq":"AQ","qi":"AQ"}"#,
                tokenguard::KeyError::RsaModulus,
            ),
            (
                r#"{"kty":"oct","alg":"HS256","k":"A","k":"B"}"#,
                tokenguard::KeyError::DuplicateMember,
            ),
        ] {
            assert_eq!(
                h.call(cmd::SET_SIGNING_KEY, jwk.as_bytes()),
                (status::KEY_REFUSED, code(why)),
                "{jwk}"
            );
        }
        // A key whose kid is too long is refused and not installed.
        let long = hs_key(&"k".repeat(65), 2);
        assert_eq!(
            h.call(cmd::SET_SIGNING_KEY, long.as_bytes()),
            (status::KEY_REFUSED, code(tokenguard::KeyError::KidTooLong))
        );
        // A chunked upload with an inconsistent CRT member is refused whole.
        let jwk = rsa_jwk("rsa-bad", "RS256");
        let qi = jwk.find(r#""qi":""#).unwrap() + 6;
        let mut bad = jwk.clone();
        bad.replace_range(
            qi..qi + 4,
            if &jwk[qi..qi + 4] == "AAAA" {
                "BBBB"
            } else {
                "AAAA"
            },
        );
        let (s, _) = upload(&mut h, &bad, 300);
        assert_eq!(s, status::KEY_REFUSED);
        // A JSON error mid-upload ends the transfer.
        assert_eq!(h.call(cmd::SIGNING_KEY_BEGIN, &[]).0, status::OK);
        assert_eq!(
            h.call(cmd::SIGNING_KEY_CHUNK, b"{\"kty\":,"),
            (
                status::KEY_REFUSED,
                code(tokenguard::KeyError::Json(tokenguard::JsonError::Syntax))
            )
        );
        assert_eq!(h.call(cmd::SIGNING_KEY_END, &[]).0, status::NO_UPDATE);
        // An upload abandoned by a JWK Set update never installs.
        assert_eq!(h.call(cmd::SIGNING_KEY_BEGIN, &[]).0, status::OK);
        assert_eq!(
            h.call(cmd::SIGNING_KEY_CHUNK, &jwk.as_bytes()[..900]).0,
            status::OK
        );
        assert_eq!(h.call(cmd::JWKS_BEGIN, &[0xFF; 4]).0, status::OK);
        assert_eq!(
            h.call(cmd::SIGNING_KEY_CHUNK, &jwk.as_bytes()[900..]).0,
            status::NO_UPDATE
        );
        // The first key still signs, with its kid.
        let (s, tok) = h.call(cmd::SIGN, &sign_body(b""));
        assert_eq!(s, status::OK);
        let head = tok.split(|&b| b == b'.').next().unwrap();
        let mut hdr = [0u8; 128];
        let n = tokenguard::b64::decode(head, &mut hdr).unwrap();
        assert_eq!(
            core::str::from_utf8(&hdr[..n]).unwrap(),
            r#"{"alg":"HS256","typ":"JWT","kid":"first"}"#
        );
    }
}
