//! The device: tokenguard behind a request/response protocol on a byte stream (a UART, a
//! TCP socket), shared by the firmware and the host simulator so both behave the same.
//!
//! Frames are `COBS(payload || CRC-32) || 0x00` ([`frame`]); messages are laid out in
//! [`proto`] and documented in `docs/protocol.md`. The device holds a [`JwkCache`], named
//! verification policies, and a clock set by the host; it never does I/O of its own beyond
//! the stream: the host fetches JWK Sets and streams them in.
//!
//! Bad input never costs state: a corrupt, oversized or unknown frame gets an error
//! response and the device keeps serving; a failed JWK Set update leaves the old keys.
//!
//! ```
//! use tokenguard_device::{proto, Device};
//! let mut dev: Device<4, 1024> = Device::new(tokenguard::RefreshPolicy::DEFAULT);
//! let mut out = Vec::new();
//! let mut request = Vec::new();
//! tokenguard_device::frame::encode(&[&[proto::cmd::INFO, 7]], |b| request.extend_from_slice(b));
//! dev.feed(&request, 0, &mut |b| out.extend_from_slice(b));
//! let mut dec: tokenguard_device::frame::FrameDecoder<1024> = Default::default();
//! let reply = out.iter().find_map(|&b| match dec.push(b) {
//!     Some(tokenguard_device::frame::Frame::Payload(p)) => Some(p.to_vec()),
//!     _ => None,
//! }).unwrap();
//! assert_eq!(&reply[..3], &[proto::cmd::INFO | 0x80, 7, proto::status::OK]);
//! ```

#![no_std]
// On docs.rs: every feature-gated item says which feature it needs.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![warn(
    clippy::indexing_slicing,
    clippy::std_instead_of_core,
    clippy::alloc_instead_of_core
)]
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

#[cfg(test)]
extern crate std;

pub mod frame;
pub mod proto;

use frame::{Frame, FrameDecoder, FrameError};
use proto::{cmd, status, Reader, Writer, POLICY_SHORT_MAX, POLICY_SLOTS, POLICY_STR_MAX};
use tokenguard::crypto::{Backend, DefaultBackend};
use tokenguard::{AlgSet, Algorithm};
use tokenguard::{Expect, Validation};
use tokenguard::{
    FetchReason, Freshness, JwkCache, PendingUpdate, RefreshPolicy, UpdateEvent, UpdateOutcome,
};
use tokenguard::{Jwk, KeyType};
use tokenguard::{JwksError, KeyError};

/// A monotonic millisecond clock (SysTick, a hardware timer, `Instant`).
pub trait Clock {
    /// Milliseconds since an arbitrary start; never goes backwards.
    fn now_millis(&mut self) -> u64;
}

#[derive(Clone, Copy)]
struct Bounded<const N: usize> {
    b: [u8; N],
    len: u8,
}

impl<const N: usize> Bounded<N> {
    fn new(s: &[u8]) -> Option<Self> {
        let mut b = [0u8; N];
        b.get_mut(..s.len())?.copy_from_slice(s);
        core::str::from_utf8(s).ok()?;
        Some(Bounded {
            b,
            len: u8::try_from(s.len()).ok()?,
        })
    }
    fn as_str(&self) -> &str {
        core::str::from_utf8(self.b.get(..usize::from(self.len)).unwrap_or(&[])).unwrap_or("")
    }
}

#[derive(Clone, Copy)]
struct DevicePolicy {
    flags: u8,
    algs: AlgSet,
    leeway: u16,
    max_age: u32,
    iss: Bounded<POLICY_STR_MAX>,
    aud: Bounded<POLICY_STR_MAX>,
    sub: Bounded<POLICY_SHORT_MAX>,
    typ: Bounded<POLICY_SHORT_MAX>,
}

impl DevicePolicy {
    fn validation(&self, max_len: usize) -> Validation<'_> {
        let f = self.flags;
        let iss = if f & proto::policy_flags::IGNORE_ISS != 0 {
            Expect::Ignore
        } else {
            Expect::One(self.iss.as_str())
        };
        let aud = if f & proto::policy_flags::IGNORE_AUD != 0 {
            Expect::Ignore
        } else {
            Expect::One(self.aud.as_str())
        };
        let mut v = Validation::new(iss, aud)
            .algorithms(self.algs)
            .leeway(u32::from(self.leeway))
            .max_token_len(max_len)
            .allow_missing_kid(f & proto::policy_flags::ALLOW_MISSING_KID != 0);
        if f & proto::policy_flags::ALLOW_MISSING_EXP != 0 {
            v = v.allow_missing_exp();
        }
        if self.max_age != 0 {
            v = v.max_age(u64::from(self.max_age));
        }
        if self.sub.len != 0 {
            v = v.subject(self.sub.as_str());
        }
        if self.typ.len != 0 {
            v = v.typ(self.typ.as_str());
        }
        v
    }
}

/// Device counters beyond the cache's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct DeviceStats {
    /// Frames handled.
    pub frames: u32,
    /// Frames dropped (corrupt or oversized).
    pub bad_frames: u32,
    /// Peak stack use in bytes, when the firmware measures it (0 otherwise).
    pub peak_stack: u32,
}

/// How many skipped keys of the last JWK Set update are remembered for `JWKS_END`.
const SKIP_LOG: usize = 16;

/// The one multi-frame transfer a device runs at a time, and the link that started it.
/// Starting a transfer abandons the one in progress (its link's next chunk gets
/// `NO_UPDATE`); nothing is committed until the transfer's own end.
#[expect(
    clippy::large_enum_variant,
    reason = "fixed memory: the device holds exactly one"
)]
enum Transfer {
    None,
    Jwks {
        pending: PendingUpdate,
        max_age: Option<u64>,
    },
    #[cfg(feature = "signing")]
    SigningKey(tokenguard::sign::PrivateJwkParser),
}

struct State<const K: usize> {
    cache: JwkCache<K>,
    transfer: Transfer,
    /// The link that started [`State::transfer`].
    transfer_link: u32,
    skips: [(u16, u8); SKIP_LOG],
    skip_count: u16,
    policies: [Option<DevicePolicy>; POLICY_SLOTS],
    time: Option<(u64, u64)>,
    stats: DeviceStats,
    /// The device's own signing key (the private key never leaves the device).
    #[cfg(feature = "signing")]
    signer: Option<tokenguard::sign::SigningKey>,
}

/// A tokenguard device with `K` key slots and frames of up to `F` bytes (encoded).
pub struct Device<const K: usize, const F: usize> {
    rx: FrameDecoder<F>,
    work: [u8; F],
    st: State<K>,
}

/// The receiving side of one connection to a [`Device`], for hosts that serve several
/// connections over one device state (`tokenguard-sim device serve`): each connection
/// gets its own frame decoder, so a half-sent frame never reaches another connection, and
/// the transfers it starts belong to it. [`Device::feed`] uses the device's own link, id 0.
#[derive(Clone)]
pub struct Link<const F: usize> {
    rx: FrameDecoder<F>,
    id: u32,
}

impl<const F: usize> Link<F> {
    /// A link with this id (unique among the connections served; 0 is the device's own).
    pub const fn new(id: u32) -> Self {
        Link {
            rx: FrameDecoder::new(),
            id,
        }
    }

    /// The link's id.
    pub fn id(&self) -> u32 {
        self.id
    }
}

impl<const F: usize> core::fmt::Debug for Link<F> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Link").field("id", &self.id).finish()
    }
}

impl<const K: usize, const F: usize> core::fmt::Debug for Device<K, F> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Device")
            .field("keys", &K)
            .field("frame", &F)
            .finish_non_exhaustive()
    }
}

impl<const K: usize, const F: usize> Device<K, F> {
    /// Largest request or response payload (1015 bytes for 1024-byte frames).
    pub const MAX_PAYLOAD: usize = proto::max_payload(F);

    /// A device with no keys, no policies and no time.
    pub const fn new(policy: RefreshPolicy) -> Self {
        Device {
            rx: FrameDecoder::new(),
            work: [0; F],
            st: State {
                cache: JwkCache::new(policy),
                transfer: Transfer::None,
                transfer_link: 0,
                skips: [(0, 0); SKIP_LOG],
                skip_count: 0,
                policies: [None; POLICY_SLOTS],
                time: None,
                stats: DeviceStats {
                    frames: 0,
                    bad_frames: 0,
                    peak_stack: 0,
                },
                #[cfg(feature = "signing")]
                signer: None,
            },
        }
    }

    /// The key cache (read-only; changes go through the protocol).
    pub fn cache(&self) -> &JwkCache<K> {
        &self.st.cache
    }

    /// Device counters.
    pub fn stats(&self) -> DeviceStats {
        self.st.stats
    }

    /// Records the measured peak stack use (reported by `STATS`).
    pub fn set_peak_stack(&mut self, bytes: u32) {
        self.st.stats.peak_stack = bytes;
    }

    /// Feeds received bytes; each response frame is handed to `emit` (in pieces).
    pub fn feed(&mut self, bytes: &[u8], now_ms: u64, emit: &mut impl FnMut(&[u8])) {
        self.feed_with::<DefaultBackend>(bytes, now_ms, emit);
    }

    /// As [`Self::feed`], verifying with backend `B`.
    pub fn feed_with<B: Backend>(
        &mut self,
        bytes: &[u8],
        now_ms: u64,
        emit: &mut impl FnMut(&[u8]),
    ) {
        feed_frames::<B, K, F>(
            &mut self.st,
            &mut self.work,
            &mut self.rx,
            0,
            bytes,
            now_ms,
            emit,
        );
    }

    /// Feeds bytes received on `link` (one of several connections); replies for them go
    /// to `emit`, which should send them on that connection only.
    pub fn feed_link(
        &mut self,
        link: &mut Link<F>,
        bytes: &[u8],
        now_ms: u64,
        emit: &mut impl FnMut(&[u8]),
    ) {
        self.feed_link_with::<DefaultBackend>(link, bytes, now_ms, emit);
    }

    /// As [`Self::feed_link`], verifying with backend `B`.
    pub fn feed_link_with<B: Backend>(
        &mut self,
        link: &mut Link<F>,
        bytes: &[u8],
        now_ms: u64,
        emit: &mut impl FnMut(&[u8]),
    ) {
        feed_frames::<B, K, F>(
            &mut self.st,
            &mut self.work,
            &mut link.rx,
            link.id,
            bytes,
            now_ms,
            emit,
        );
    }

    /// The connection `link_id` closed: a transfer it left unfinished is abandoned (the
    /// old keys and the old signing key stay).
    pub fn link_closed(&mut self, link_id: u32) {
        abandon_transfer_of(&mut self.st, link_id);
    }

    /// Starts the device's own link afresh (a new host on the serial line): a half-received
    /// frame is dropped and a transfer the link left unfinished is abandoned. `HELLO` does
    /// the same from the wire.
    pub fn reset_link(&mut self) {
        self.rx = FrameDecoder::new();
        abandon_transfer_of(&mut self.st, 0);
    }

    /// Serves requests forever over a byte stream, with `clock` for time.
    ///
    /// # Errors
    /// The stream's error, when reading or writing fails.
    #[cfg(feature = "embedded-io")]
    pub fn serve<IO, C>(
        &mut self,
        io: &mut IO,
        clock: &mut C,
    ) -> Result<core::convert::Infallible, IO::Error>
    where
        IO: embedded_io::Read + embedded_io::Write,
        C: Clock,
    {
        let mut buf = [0u8; 64];
        loop {
            let n = io.read(&mut buf)?;
            let mut failed = None;
            let now = clock.now_millis();
            self.feed(buf.get(..n).unwrap_or(&[]), now, &mut |out| {
                if failed.is_none() {
                    if let Err(e) = io.write_all(out) {
                        failed = Some(e);
                    }
                }
            });
            if let Some(e) = failed {
                return Err(e);
            }
            io.flush()?;
        }
    }
}

fn feed_frames<B: Backend, const K: usize, const F: usize>(
    st: &mut State<K>,
    work: &mut [u8; F],
    rx: &mut FrameDecoder<F>,
    link: u32,
    bytes: &[u8],
    now_ms: u64,
    emit: &mut impl FnMut(&[u8]),
) {
    for &b in bytes {
        match rx.push(b) {
            None => {}
            Some(Frame::Payload(p)) => {
                st.stats.frames = st.stats.frames.saturating_add(1);
                handle::<B, K>(st, work, Device::<K, F>::MAX_PAYLOAD, link, p, now_ms, emit);
            }
            Some(Frame::Error(e)) => {
                st.stats.bad_frames = st.stats.bad_frames.saturating_add(1);
                let s = match e {
                    FrameError::Corrupt => status::BAD_FRAME,
                    FrameError::TooLarge => status::FRAME_TOO_LARGE,
                };
                frame::encode(&[&[cmd::FRAME_ERROR, 0, s]], &mut *emit);
            }
        }
    }
}

/// Abandons the transfer in progress if `link` started it.
fn abandon_transfer_of<const K: usize>(st: &mut State<K>, link: u32) {
    if st.transfer_link == link {
        abandon_transfer(st);
    }
}

/// Abandons the transfer in progress, whoever started it: staged keys are released.
fn abandon_transfer<const K: usize>(st: &mut State<K>) {
    if let Transfer::Jwks { pending, .. } = &mut st.transfer {
        pending.abort(st.cache.keys_mut());
    }
    st.transfer = Transfer::None;
}

fn now_secs<const K: usize>(st: &State<K>, now_ms: u64) -> Option<u64> {
    st.time.map(|(unix, at)| {
        // Not `/ 1000`: on Cortex-M a u64 division links a 900-byte software routine.
        unix.saturating_add(tokenguard_limbs::div_rem_small(now_ms.saturating_sub(at), 1000).0)
    })
}

fn reply(c: u8, seq: u8, s: u8, body: &[&[u8]], emit: &mut impl FnMut(&[u8])) {
    let head = [c | 0x80, seq, s];
    match body {
        [] => frame::encode(&[&head], emit),
        [a] => frame::encode(&[&head, a], emit),
        [a, b] => frame::encode(&[&head, a, b], emit),
        _ => frame::encode(&[&head, body.first().copied().unwrap_or(&[])], emit),
    }
}

/// The number of a value this protocol version has none for (the engine's enums are
/// `#[non_exhaustive]`: a newer engine may add one); docs/protocol.md.
const UNNUMBERED: u8 = 0xFF;

fn kty_code(t: KeyType) -> u8 {
    match t {
        KeyType::Rsa => 0,
        KeyType::Ec => 1,
        KeyType::Okp => 2,
        KeyType::Oct => 3,
        // A key type newer than this protocol (the engine's enums are non-exhaustive).
        _ => UNNUMBERED,
    }
}

mod commands;
use commands::handle;
pub use commands::{alg_from_code, policy_body};

#[cfg(test)]
mod tests;
