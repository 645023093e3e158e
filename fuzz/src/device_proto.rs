//! `device_proto`: a stream of requests for a `Device<8, 1024>` (the firmware's size) that
//! already holds a pinned key (`hs-1`), a loaded JWK Set (`ec-1`, `rsa-1`), the time, two
//! verification policies and an HS256 signing key. (No Ed25519 key in the setup: importing
//! one costs a field exponentiation, which made the setup 45 % of each run; the `verify`
//! target covers EdDSA.)
//!
//! Input: a sequence of operations.
//! - `0xFF n bytes[n]`: raw bytes on the wire (garbage, partial or stray frames).
//! - `0xFE s:u16`: the clock advances `s` seconds.
//! - `0xFD i x` then a request (below): the request's encoded frame with byte `i % len`
//!   XORed with `x | 1` (a corrupted frame).
//! - anything else, `tag len:u16 body[len]`: a well-formed request frame; the command is
//!   `KNOWN[tag % 20]` for `tag < 0x80`, else `tag` itself (not request commands: answered
//!   `FRAME_ERROR`/`UNKNOWN_COMMAND`); `seq` counts.
//!   Before a request the wire gets a `0x00`, so a partial frame from raw bytes ends first.
//!
//! Each operation is fed on its own, and checked:
//! - Every byte the device sends decodes as frames with a valid CRC that fit a 1024-byte
//!   receiver (`FrameDecoder<1024>`), each a response (`cmd | 0x80`) with a status byte.
//! - One reply per frame: the replies of a feed number exactly the increase of
//!   `stats.frames + stats.bad_frames`.
//! - A well-formed request gets exactly one reply, with its `cmd | 0x80` and `seq` (or
//!   `FRAME_ERROR`/`FRAME_TOO_LARGE` when its frame is longer than 1024 bytes).
//! - Keys change only through a successful key command: if the active keys (kid, alg,
//!   material, pinned) differ after a feed, some reply of that feed is an `OK` to
//!   `LOAD_JWK`, `JWKS_END` or `REMOVE_KEY`. For well-formed requests more exactly:
//!   `REMOVE_KEY` OK removes exactly the key with that kid; `LOAD_JWK` OK adds or replaces
//!   only the key of that kid; `JWKS_END` OK keeps every pinned key.
//! - Backend differential: a second device on `Fastest` (ring for RSA, ECDSA P-256/P-384 and
//!   Ed25519 in this build; the first device is on `RustCrypto`, like the firmware) fed the
//!   same bytes sends exactly the same bytes. (`Ring` alone would report a smaller algorithm
//!   set in `INFO`: it has no P-521 or secp256k1.)

use tokenguard::crypto::{Backend, Fastest, RustCrypto};
use tokenguard::{AlgSet, Jwk, RefreshPolicy};
use tokenguard_device::frame::{self, Frame, FrameDecoder};
use tokenguard_device::proto::{cmd, policy_flags, status};
use tokenguard_device::{policy_body, Device};

use crate::{kids, same_key, snapshot, AUD, EC1, HS1, ISS, NOW, RSA1};

const F: usize = 1024;
type Dev = Device<8, F>;

/// Commands a low tag picks.
const KNOWN: [u8; 20] = [
    cmd::HELLO,
    cmd::SIGNING_KEY_BEGIN,
    cmd::SIGNING_KEY_CHUNK,
    cmd::SIGNING_KEY_END,
    cmd::INFO,
    cmd::SET_TIME,
    cmd::GET_TIME,
    cmd::LOAD_JWK,
    cmd::JWKS_BEGIN,
    cmd::JWKS_CHUNK,
    cmd::JWKS_END,
    cmd::REMOVE_KEY,
    cmd::LIST_KEYS,
    cmd::FETCH_FAILED,
    cmd::REFRESH_STATE,
    cmd::SET_POLICY,
    cmd::VERIFY,
    cmd::SIGN,
    cmd::SET_SIGNING_KEY,
    cmd::STATS,
];

/// The device's own signing key (HS256, the `hs-1` secret).
const SIGNING_KEY: &str = r#"{"kty":"oct","kid":"dev-1","alg":"HS256","k":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"}"#;

fn encode(payload: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    frame::encode(payload, |b| out.extend_from_slice(b));
    out
}

/// The setup requests (all must succeed).
fn setup_requests() -> Vec<(u8, Vec<u8>)> {
    let mut p0 = [0u8; 300];
    let mut p1 = [0u8; 300];
    let corpus = policy_body(
        &mut p0,
        0,
        policy_flags::ALLOW_MISSING_KID,
        AlgSet::ALL,
        60,
        0,
        ISS,
        AUD,
        "",
        "",
    )
    .expect("fits")
    .to_vec();
    let strict = policy_body(
        &mut p1,
        1,
        0,
        AlgSet::ASYMMETRIC,
        0,
        600,
        ISS,
        AUD,
        "u1",
        "JWT",
    )
    .expect("fits")
    .to_vec();
    let mut load = vec![tokenguard_device::proto::load_flags::PINNED];
    load.extend_from_slice(HS1.as_bytes());
    let jwks = format!(r#"{{"keys":[{EC1},{RSA1}]}}"#);
    vec![
        (cmd::SET_TIME, NOW.to_le_bytes().to_vec()),
        (cmd::SET_POLICY, corpus),
        (cmd::SET_POLICY, strict),
        (cmd::LOAD_JWK, load),
        (cmd::JWKS_BEGIN, 600u32.to_le_bytes().to_vec()),
        (cmd::JWKS_CHUNK, jwks.into_bytes()),
        (cmd::JWKS_END, vec![]),
        (cmd::SET_SIGNING_KEY, SIGNING_KEY.as_bytes().to_vec()),
    ]
}

struct Pair {
    rc: Box<Dev>,
    ring: Box<Dev>,
    now_ms: u64,
    seq: u8,
}

/// Reply payloads of one feed.
struct Fed {
    replies: Vec<Vec<u8>>,
}

fn feed_one<B: Backend>(d: &mut Dev, bytes: &[u8], now_ms: u64) -> Vec<u8> {
    let mut out = Vec::new();
    d.feed_with::<B>(bytes, now_ms, &mut |b| out.extend_from_slice(b));
    out
}

impl Pair {
    fn feed(&mut self, bytes: &[u8]) -> Fed {
        let before = snapshot(self.rc.cache().keys().iter());
        let s0 = self.rc.stats();
        let out = feed_one::<RustCrypto>(&mut self.rc, bytes, self.now_ms);
        let out_ring = feed_one::<Fastest>(&mut self.ring, bytes, self.now_ms);
        assert!(
            out == out_ring,
            "RustCrypto and Fastest (ring) devices answered differently"
        );
        let s1 = self.rc.stats();
        // Decode everything the device sent.
        let mut dec: FrameDecoder<F> = FrameDecoder::new();
        let mut replies = Vec::new();
        for &b in &out {
            match dec.push(b) {
                None => {}
                Some(Frame::Payload(p)) => replies.push(p.to_vec()),
                Some(Frame::Error(e)) => panic!("device sent a bad frame: {e:?}"),
            }
        }
        assert!(out.last().is_none_or(|&b| b == 0), "reply not terminated");
        for r in &replies {
            assert!(r.len() >= 3 && r[0] & 0x80 != 0, "not a response: {r:?}");
            assert!(r.len() <= Dev::MAX_PAYLOAD, "reply over MAX_PAYLOAD");
        }
        let handled = (s1.frames - s0.frames) + (s1.bad_frames - s0.bad_frames);
        assert_eq!(handled as usize, replies.len(), "one reply per frame");
        let after = snapshot(self.rc.cache().keys().iter());
        if !crate::same_keys(&before, &after) {
            assert!(
                replies.iter().any(|r| r[2] == status::OK
                    && [cmd::LOAD_JWK, cmd::JWKS_END, cmd::REMOVE_KEY]
                        .iter()
                        .any(|&c| r[0] == c | 0x80)),
                "keys changed without a successful key command: {:?} -> {:?}",
                kids(&before),
                kids(&after)
            );
        }
        Fed { replies }
    }

    /// A well-formed request (or a corrupted one), with its checks.
    fn request(&mut self, c: u8, body: &[u8], corrupt: Option<(u8, u8)>) -> Vec<u8> {
        // End any partial frame left by raw bytes.
        self.feed(&[0]);
        let seq = self.seq;
        self.seq = self.seq.wrapping_add(1);
        let mut wire = encode(&[&[c, seq], body]);
        if let Some((i, x)) = corrupt {
            let n = wire.len() - 1;
            wire[usize::from(i) % n] ^= x | 1;
            // A zero byte may now split it; the rest is checked by `feed` alone.
            self.feed(&wire);
            return Vec::new();
        }
        let before = snapshot(self.rc.cache().keys().iter());
        let s0 = self.rc.stats();
        let fed = self.feed(&wire);
        let s1 = self.rc.stats();
        assert_eq!(fed.replies.len(), 1, "one reply per request");
        let r = fed.replies.into_iter().next().expect("one");
        if wire.len() - 1 > F {
            assert_eq!(r, [cmd::FRAME_ERROR, 0, status::FRAME_TOO_LARGE]);
            assert_eq!(s1.bad_frames, s0.bad_frames + 1);
            return r;
        }
        if c == 0 || c > cmd::LAST {
            // Not a request command: a frame error, which cannot pass for a response.
            assert_eq!(r, [cmd::FRAME_ERROR, 0, status::UNKNOWN_COMMAND]);
            assert!(crate::same_keys(
                &before,
                &snapshot(self.rc.cache().keys().iter())
            ));
            return r;
        }
        assert_eq!((r[0], r[1]), (c | 0x80, seq), "reply to another request");
        assert_eq!(s1.frames, s0.frames + 1);
        let after = snapshot(self.rc.cache().keys().iter());
        if r[2] == status::OK {
            match c {
                cmd::REMOVE_KEY => {
                    let mut expect = before.clone();
                    let i = expect
                        .iter()
                        .position(|(k, _)| k.kid().is_some_and(|id| id.as_bytes() == body))
                        .expect("REMOVE_KEY OK for a kid that was not there");
                    expect.remove(i);
                    assert!(crate::same_keys(&expect, &after), "REMOVE_KEY removed more");
                }
                cmd::LOAD_JWK => {
                    let new = Jwk::from_json(&body[1..]).expect("LOAD_JWK OK on a bad key");
                    assert!(
                        after.iter().any(|(k, _)| same_key(k, &new)),
                        "loaded key absent"
                    );
                    for (k, p) in &before {
                        if k.kid().is_none() || k.kid() != new.kid() {
                            assert!(
                                after.iter().any(|(x, q)| p == q && same_key(k, x)),
                                "LOAD_JWK changed another key"
                            );
                        }
                    }
                }
                cmd::JWKS_END => {
                    for (k, _) in before.iter().filter(|(_, p)| *p) {
                        assert!(
                            after.iter().any(|(x, q)| *q && same_key(k, x)),
                            "JWKS_END dropped a pinned key"
                        );
                    }
                    // A set that replaces the old one holds at least one usable key.
                    assert!(
                        after.iter().any(|(_, p)| !p),
                        "JWKS_END OK left no fetched key"
                    );
                }
                _ => {}
            }
        }
        r
    }
}

fn setup() -> Pair {
    let mut p = Pair {
        rc: Box::new(Dev::new(RefreshPolicy::DEFAULT)),
        ring: Box::new(Dev::new(RefreshPolicy::DEFAULT)),
        now_ms: 0,
        seq: 0,
    };
    for (c, body) in setup_requests() {
        let r = p.request(c, &body, None);
        assert_eq!(r[2], status::OK, "setup request {c:#x} failed: {r:?}");
    }
    assert_eq!(p.rc.cache().keys().len(), 3);
    p
}

struct Input<'a>(&'a [u8]);

impl<'a> Input<'a> {
    fn take(&mut self, n: usize) -> &'a [u8] {
        let (h, t) = self.0.split_at(n.min(self.0.len()));
        self.0 = t;
        h
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).first().copied()
    }
    fn u16(&mut self) -> u16 {
        let b = self.take(2);
        u16::from(b.first().copied().unwrap_or(0)) | u16::from(b.get(1).copied().unwrap_or(0)) << 8
    }
}

/// Runs one input.
pub fn run(data: &[u8]) {
    let mut p = setup();
    let mut d = Input(data);
    while let Some(tag) = d.u8() {
        match tag {
            0xFF => {
                let n = d.u8().unwrap_or(0);
                let raw = d.take(usize::from(n));
                p.feed(raw);
            }
            0xFE => p.now_ms += u64::from(d.u16()) * 1000,
            _ => {
                let (corrupt, tag) = if tag == 0xFD {
                    let (i, x) = (d.u8().unwrap_or(0), d.u8().unwrap_or(0));
                    match d.u8() {
                        Some(t) => (Some((i, x)), t),
                        None => break,
                    }
                } else {
                    (None, tag)
                };
                let c = if tag < 0x80 {
                    KNOWN[usize::from(tag) % KNOWN.len()]
                } else {
                    tag
                };
                let len = usize::from(d.u16());
                let body = d.take(len);
                p.request(c, body, corrupt);
            }
        }
    }
}
