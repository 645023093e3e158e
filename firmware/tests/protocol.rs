//! On-target suites: the device protocol end to end inside the firmware (frames in, frames
//! out), including bad input that must not cost any loaded key.

#![no_std]
#![no_main]

use tokenguard_firmware as _;

use tokenguard_device::frame::{self, Frame, FrameDecoder};
use tokenguard_device::Device;

pub type Dev = Device<8, 1024>;

pub struct Io {
    pub out: [u8; 1200],
    pub len: usize,
}

pub fn call(dev: &mut Dev, io: &mut Io, parts: &[&[u8]]) -> ([u8; 4], usize) {
    let mut req = [0u8; 1200];
    let mut n = 0;
    frame::encode(parts, |b| {
        req[n..n + b.len()].copy_from_slice(b);
        n += b.len();
    });
    io.len = 0;
    let (out, len) = (&mut io.out, &mut io.len);
    dev.feed(&req[..n], 1000, &mut |b| {
        out[*len..*len + b.len()].copy_from_slice(b);
        *len += b.len();
    });
    let mut d: FrameDecoder<1200> = FrameDecoder::new();
    let mut head = [0u8; 4];
    let mut body_len = 0;
    for &b in &io.out[..io.len] {
        if let Some(Frame::Payload(p)) = d.push(b) {
            head[..p.len().min(4)].copy_from_slice(&p[..p.len().min(4)]);
            body_len = p.len();
        }
    }
    (head, body_len)
}

#[defmt_test::tests]
mod tests {
    use super::{call, Dev, Io};
    use tokenguard::{AlgSet, RefreshPolicy};
    use tokenguard_device::{policy_body, proto, Device};
    use tokenguard_firmware::fixtures::{AUDIENCE, FIXTURES, ISSUER, NOW};

    #[init]
    fn init() -> (Dev, Io) {
        (
            Device::new(RefreshPolicy::DEFAULT),
            Io {
                out: [0; 1200],
                len: 0,
            },
        )
    }

    #[test]
    fn verify_over_frames(state: &mut (Dev, Io)) {
        let (dev, io) = state;
        let (h, _) = call(dev, io, &[&[proto::cmd::SET_TIME, 1], &NOW.to_le_bytes()]);
        defmt::assert_eq!(h[2], proto::status::OK);
        let mut pol = [0u8; 300];
        let body =
            policy_body(&mut pol, 0, 0, AlgSet::ALL, 60, 0, ISSUER, AUDIENCE, "", "").unwrap();
        defmt::assert_eq!(
            call(dev, io, &[&[proto::cmd::SET_POLICY, 2], body]).0[2],
            proto::status::OK
        );
        for (i, (_, jwk, token)) in FIXTURES.iter().enumerate().skip(3).take(8) {
            let (h, _) = call(dev, io, &[&[proto::cmd::LOAD_JWK, 3, 0], jwk.as_bytes()]);
            defmt::assert_eq!(h[2], proto::status::OK, "load {}", i);
            let (h, len) = call(dev, io, &[&[proto::cmd::VERIFY, 4, 0], token.as_bytes()]);
            defmt::assert_eq!(h[2], proto::status::OK, "verify {}", i);
            defmt::assert!(len > 100);
            // Remove it again: keys stay within the 8 slots.
            let kid_at = jwk.find("\"kid\":\"").unwrap() + 7;
            let kid = &jwk[kid_at..kid_at + jwk[kid_at..].find('"').unwrap()];
            defmt::assert_eq!(
                call(dev, io, &[&[proto::cmd::REMOVE_KEY, 5], kid.as_bytes()]).0[2],
                proto::status::OK
            );
        }
    }

    #[test]
    fn bad_frames_cost_nothing(state: &mut (Dev, Io)) {
        let (dev, io) = state;
        let (_, jwk, token) = FIXTURES[9];
        defmt::assert_eq!(
            call(dev, io, &[&[proto::cmd::LOAD_JWK, 6, 0], jwk.as_bytes()]).0[2],
            proto::status::OK
        );
        // Garbage and an oversized run of bytes, then a good request.
        io.len = 0;
        let mut sink = |_: &[u8]| {};
        dev.feed(&[0x13, 0x37, 0x00], 2000, &mut sink);
        for _ in 0..30 {
            dev.feed(&[0x55; 64], 2000, &mut sink);
        }
        dev.feed(&[0], 2000, &mut sink);
        defmt::assert_eq!(
            call(dev, io, &[&[0x7E, 7]]).0[2],
            proto::status::UNKNOWN_COMMAND
        );
        let (h, _) = call(dev, io, &[&[proto::cmd::VERIFY, 8, 0], token.as_bytes()]);
        defmt::assert_eq!(h[2], proto::status::OK);
        defmt::assert_eq!(dev.stats().bad_frames, 2);
    }
}
