//! A [`Signer`] for a Microchip ATECC608-class secure element over `embedded-hal` 1.0 I2C:
//! ES256 with the private key in a slot of the element, `no_std`, no heap.
//!
//! ```no_run
//! # use tokenguard::assertion::{encode, presets};
//! # use tokenguard_atecc::Atecc608;
//! # fn demo<I: embedded_hal::i2c::I2c, D: embedded_hal::delay::DelayNs>(i2c: I, delay: D) {
//! let se = Atecc608::new(i2c, delay, Atecc608::<I, D>::DEFAULT_ADDRESS, 0, Some(b"device-key-1")).unwrap();
//! let jwk = se.public_jwk().unwrap(); // register this with the identity provider
//! let t = presets::Timing::new(1_700_000_000, 300);
//! let claims = presets::zitadel_service_user("318438939318438939", "https://zitadel.example", t).unwrap();
//! let mut buf = [0u8; 512];
//! let jwt = encode(&se, Some("JWT"), &claims, None, &mut buf).unwrap();
//! # }
//! ```
//!
//! Protocol (ATECC608 datasheet, I2C): a command packet is written to word address 0x03 as
//! `count, opcode, param1, param2 (LE u16), data..., CRC-16 (LE)`, where `count` covers the
//! whole packet; after the command's execution time the response is read after a write of
//! word address 0x00: `count, data..., CRC-16`. A 4-byte response is a status: 0x00 success,
//! anything else an error ([`Error::Status`]). The CRC is CRC-16 with polynomial 0x8005,
//! input bits reflected, initial value 0. Each operation wakes the element (a write to its
//! address while it sleeps, then the 4-byte wake response `04 11 33 43`) and ends by putting
//! it in idle (word address 0x02), which keeps the message digest buffer but lets the
//! watchdog restart.
//!
//! Signing: `SHA-256(signing input)` goes into the message digest buffer with `Nonce`
//! (mode 0x43: pass-through, 32 bytes, target the message digest buffer), then `Sign` (mode
//! 0xA0: external message from the message digest buffer) with the slot returns `r‖s`, JWS's
//! format. The public key comes from `GenKey` mode 0x00 (`x‖y`).

#![no_std]
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use core::cell::RefCell;

use embedded_hal::delay::DelayNs;
use embedded_hal::i2c::I2c;
use tokenguard::alg::HashAlg;
use tokenguard::crypto::RustCrypto;
use tokenguard::sign::{SignError, Signer};
use tokenguard::{Algorithm, Backend, Curve, Jwk, Kid};

/// What went wrong talking to the element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The I2C bus failed (a NAK after every retry, an arbitration loss, ...).
    Bus,
    /// The element did not answer the wake token with `04 11 33 43` (status 0x07 instead of
    /// 0x11: its self test failed).
    Wake,
    /// A response's CRC-16 does not match (noise on the bus).
    Crc,
    /// A response of an unexpected length.
    Length,
    /// The element answered with this status byte: 0x01 verify/checkmac miscompare, 0x03
    /// parse error, 0x05 ECC fault, 0x07 self-test error, 0x08 health-test error, 0x0F
    /// execution error (for `Sign`: the slot does not allow it), 0x11 after wake, 0xEE
    /// watchdog about to expire, 0xFF the element saw a CRC or communication error.
    Status(u8),
    /// The key id is longer than `tokenguard::MAX_KID_LEN`, or the slot is above 15.
    Argument,
    /// The slot's public key is not a valid P-256 point.
    PublicKey,
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Error::Bus => f.write_str("I2C bus error"),
            Error::Wake => f.write_str("the secure element did not wake"),
            Error::Crc => f.write_str("CRC error in the secure element's response"),
            Error::Length => f.write_str("a response of an unexpected length"),
            Error::Status(s) => write!(f, "the secure element answered status 0x{s:02x}"),
            Error::Argument => f.write_str("slot above 15 or key id too long"),
            Error::PublicKey => f.write_str("the slot's public key is not a valid P-256 point"),
        }
    }
}

impl core::error::Error for Error {}

/// CRC-16 of ATECC packets: polynomial 0x8005, input bits reflected, initial value 0, output
/// not reflected (sent little-endian).
pub fn crc16(data: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &byte in data {
        for bit in 0..8 {
            let data_bit = (byte >> bit) & 1;
            let crc_bit = u8::from(crc >> 15 != 0);
            crc <<= 1;
            if data_bit != crc_bit {
                crc ^= 0x8005;
            }
        }
    }
    crc
}

const WORD_RESET: u8 = 0x00;
const WORD_IDLE: u8 = 0x02;
const WORD_COMMAND: u8 = 0x03;
const WAKE_OK: [u8; 4] = [0x04, 0x11, 0x33, 0x43];
const OP_NONCE: u8 = 0x16;
const OP_SIGN: u8 = 0x41;
const OP_GENKEY: u8 = 0x40;
const NONCE_PASSTHROUGH_MSGDIGBUF: u8 = 0x43;
const SIGN_EXTERNAL_MSGDIGBUF: u8 = 0xA0;
const GENKEY_PUBLIC: u8 = 0x00;
/// Maximum execution times, milliseconds (datasheet, default clock divider).
const EXEC_NONCE_MS: u32 = 20;
const EXEC_SIGN_MS: u32 = 115;
const EXEC_GENKEY_MS: u32 = 115;
const WAKE_DELAY_US: u32 = 1500;
/// Reads of the wake response and of a response tried this often (the element NAKs while
/// busy).
const RETRIES: usize = 20;

/// An ATECC608 on an I2C bus, signing ES256 with the key in `slot`.
pub struct Atecc608<I, D> {
    bus: RefCell<(I, D)>,
    address: u8,
    slot: u8,
    kid: Option<Kid>,
}

impl<I: I2c, D: DelayNs> Atecc608<I, D> {
    /// The element's default 7-bit address (0xC0 >> 1).
    pub const DEFAULT_ADDRESS: u8 = 0x60;

    /// The element at `address` with its private key in `slot` (0-15); `kid` is the key id
    /// the assertions' header carries.
    ///
    /// # Errors
    /// [`Error::Argument`] for a slot above 15 or a key id longer than 64 bytes.
    pub fn new(i2c: I, delay: D, address: u8, slot: u8, kid: Option<&[u8]>) -> Result<Self, Error> {
        if slot > 15 {
            return Err(Error::Argument);
        }
        let kid = kid.map(Kid::new).transpose().map_err(|_| Error::Argument)?;
        Ok(Atecc608 {
            bus: RefCell::new((i2c, delay)),
            address,
            slot,
            kid,
        })
    }

    /// Gives the bus and the delay back.
    pub fn release(self) -> (I, D) {
        self.bus.into_inner()
    }

    /// The slot's public key, `x‖y` (`GenKey` computing it from the private key).
    ///
    /// # Errors
    /// Any [`Error`] of the exchange.
    pub fn public_key(&self) -> Result<[u8; 64], Error> {
        let mut bus = self.bus.try_borrow_mut().map_err(|_| Error::Bus)?;
        let (i2c, delay) = &mut *bus;
        let mut out = [0u8; 64];
        let r = (|| {
            wake(i2c, delay, self.address)?;
            let n = command(
                i2c,
                delay,
                self.address,
                OP_GENKEY,
                GENKEY_PUBLIC,
                u16::from(self.slot),
                &[],
                EXEC_GENKEY_MS,
                &mut out,
            )?;
            if n != out.len() {
                return Err(Error::Length);
            }
            Ok(())
        })();
        let idle = idle(i2c, self.address);
        r?;
        idle?;
        Ok(out)
    }

    /// The slot's public key as a JWK bound to ES256, with the signer's key id.
    ///
    /// # Errors
    /// Any [`Error`] of the exchange; [`Error::PublicKey`] if the point is not on P-256.
    pub fn public_jwk(&self) -> Result<Jwk, Error> {
        let xy = self.public_key()?;
        let (x, y) = xy.split_at(32);
        Jwk::ec(
            self.kid.as_ref().map(Kid::as_bytes),
            Curve::P256,
            x,
            y,
            Some(tokenguard::alg::ES256),
        )
        .map_err(|_| Error::PublicKey)
    }

    /// Signs a 32-byte digest with the slot's key: `r‖s`.
    ///
    /// # Errors
    /// Any [`Error`] of the exchange.
    pub fn sign_digest(&self, digest: &[u8; 32]) -> Result<[u8; 64], Error> {
        let mut bus = self.bus.try_borrow_mut().map_err(|_| Error::Bus)?;
        let (i2c, delay) = &mut *bus;
        let mut sig = [0u8; 64];
        let r = (|| {
            wake(i2c, delay, self.address)?;
            let mut status = [0u8; 1];
            let n = command(
                i2c,
                delay,
                self.address,
                OP_NONCE,
                NONCE_PASSTHROUGH_MSGDIGBUF,
                0,
                digest,
                EXEC_NONCE_MS,
                &mut status,
            )?;
            if n != 1 || status != [0] {
                return Err(Error::Status(status[0]));
            }
            let n = command(
                i2c,
                delay,
                self.address,
                OP_SIGN,
                SIGN_EXTERNAL_MSGDIGBUF,
                u16::from(self.slot),
                &[],
                EXEC_SIGN_MS,
                &mut sig,
            )?;
            if n != sig.len() {
                return Err(Error::Length);
            }
            Ok(())
        })();
        let idle = idle(i2c, self.address);
        r?;
        idle?;
        Ok(sig)
    }
}

fn wake<I: I2c, D: DelayNs>(i2c: &mut I, delay: &mut D, address: u8) -> Result<(), Error> {
    // The wake token: the element, asleep, NAKs this write; the low period wakes it.
    let _ = i2c.write(address, &[0x00]);
    delay.delay_us(WAKE_DELAY_US);
    let mut resp = [0u8; 4];
    let mut ok = false;
    for _ in 0..RETRIES {
        if i2c.read(address, &mut resp).is_ok() {
            ok = true;
            break;
        }
    }
    if !ok {
        return Err(Error::Bus);
    }
    if resp == WAKE_OK {
        Ok(())
    } else {
        Err(Error::Wake)
    }
}

fn idle<I: I2c>(i2c: &mut I, address: u8) -> Result<(), Error> {
    i2c.write(address, &[WORD_IDLE]).map_err(|_| Error::Bus)
}

/// Sends a command and reads its response into `out`: the data's length, or the error its
/// status says.
#[expect(
    clippy::too_many_arguments,
    reason = "a command packet's fields, spelled out"
)]
fn command<I: I2c, D: DelayNs>(
    i2c: &mut I,
    delay: &mut D,
    address: u8,
    opcode: u8,
    param1: u8,
    param2: u16,
    data: &[u8],
    exec_ms: u32,
    out: &mut [u8],
) -> Result<usize, Error> {
    // word address, count, opcode, p1, p2 (2), data (at most 32 here), crc (2)
    let mut packet = [0u8; 1 + 7 + 32];
    let count = 7 + data.len();
    let count_u8 = u8::try_from(count).map_err(|_| Error::Argument)?;
    let body = packet.get_mut(..1 + count).ok_or(Error::Argument)?;
    let [p2_lo, p2_hi] = param2.to_le_bytes();
    let head = [WORD_COMMAND, count_u8, opcode, param1, p2_lo, p2_hi];
    for (d, s) in body.iter_mut().zip(head.iter().chain(data)) {
        *d = *s;
    }
    let crc = crc16(body.get(1..count - 1).ok_or(Error::Argument)?);
    let [c_lo, c_hi] = crc.to_le_bytes();
    if let Some([a, b]) = body.get_mut(count - 1..=count) {
        *a = c_lo;
        *b = c_hi;
    }
    i2c.write(address, body).map_err(|_| Error::Bus)?;
    delay.delay_ms(exec_ms);
    read_response(i2c, address, out)
}

fn read_response<I: I2c>(i2c: &mut I, address: u8, out: &mut [u8]) -> Result<usize, Error> {
    let mut addressed = false;
    for _ in 0..RETRIES {
        if i2c.write(address, &[WORD_RESET]).is_ok() {
            addressed = true;
            break;
        }
    }
    if !addressed {
        return Err(Error::Bus);
    }
    // count (1) + data (at most 64) + crc (2)
    let mut resp = [0u8; 67];
    let head = resp.get_mut(..2).ok_or(Error::Length)?;
    i2c.read(address, head).map_err(|_| Error::Bus)?;
    let count = usize::from(resp.first().copied().unwrap_or(0));
    if !(4..=resp.len()).contains(&count) {
        return Err(Error::Length);
    }
    let rest = resp.get_mut(2..count).ok_or(Error::Length)?;
    i2c.read(address, rest).map_err(|_| Error::Bus)?;
    let packet = resp.get(..count).ok_or(Error::Length)?;
    let (body, crc) = packet.split_at(count - 2);
    if crc != crc16(body).to_le_bytes() {
        return Err(Error::Crc);
    }
    let data = body.get(1..).ok_or(Error::Length)?;
    if count == 4 {
        // A status (or a one-byte result, such as Nonce's success).
        let status = data.first().copied().ok_or(Error::Length)?;
        if status != 0 || out.len() != 1 {
            return Err(Error::Status(status));
        }
    }
    let dst = out.get_mut(..data.len()).ok_or(Error::Length)?;
    dst.copy_from_slice(data);
    Ok(data.len())
}

impl<I: I2c, D: DelayNs> Signer for Atecc608<I, D> {
    fn alg(&self) -> Algorithm {
        tokenguard::alg::ES256
    }

    fn kid(&self) -> Option<&[u8]> {
        self.kid.as_ref().map(Kid::as_bytes)
    }

    fn signature_len(&self) -> usize {
        64
    }

    fn sign(
        &self,
        msg: &[u8],
        _entropy: Option<&[u8]>,
        out: &mut [u8],
    ) -> Result<usize, SignError> {
        let d = RustCrypto::digest(HashAlg::Sha256, &[msg]);
        let digest: [u8; 32] = d.as_ref().try_into().map_err(|_| SignError::Device)?;
        let sig = self.sign_digest(&digest).map_err(|_| SignError::Device)?;
        let dst = out.get_mut(..64).ok_or(SignError::BufferTooSmall)?;
        dst.copy_from_slice(&sig);
        Ok(64)
    }
}
