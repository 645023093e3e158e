//! A host-side client for the device protocol (std I/O): the simulated device and the QEMU
//! firmware speak the same frames, so tests and tools drive either through this.

use std::io::{Read, Write};

use anyhow::{bail, Context};
use tokenguard::{AlgSet, Algorithm};
use tokenguard_device::frame::{self, Frame, FrameDecoder};
use tokenguard_device::{policy_body, proto};

/// What a verification returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Accepted, with the algorithm and the claims JSON.
    Accepted { alg: Algorithm, claims: String },
    /// Rejected with a stable error code.
    Rejected(&'static str),
}

impl Verdict {
    /// `"accept"` or the error code.
    pub fn code(&self) -> &'static str {
        match self {
            Verdict::Accepted { .. } => "accept",
            Verdict::Rejected(c) => c,
        }
    }
}

/// A device policy for `SET_POLICY`.
#[derive(Debug, Clone)]
pub struct Policy {
    pub slot: u8,
    pub issuer: Option<String>,
    pub audience: Option<String>,
    pub subject: String,
    pub typ: String,
    pub algs: AlgSet,
    pub leeway: u16,
    pub max_age: u32,
    pub allow_missing_kid: bool,
    pub allow_missing_exp: bool,
}

impl Policy {
    pub fn new(slot: u8, issuer: &str, audience: &str) -> Policy {
        Policy {
            slot,
            issuer: Some(issuer.into()),
            audience: Some(audience.into()),
            subject: String::new(),
            typ: String::new(),
            algs: AlgSet::ALL,
            leeway: 60,
            max_age: 0,
            allow_missing_kid: false,
            allow_missing_exp: false,
        }
    }
}

/// A JWK Set load result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadReport {
    /// Usable keys in the set (new ones and [`Self::unchanged`] ones together).
    pub loaded: u16,
    /// Of `loaded`, keys the device already held unchanged.
    pub unchanged: u16,
    pub skipped: u16,
    pub removed: u16,
    /// `(index in the keys array, reason)` for the first skipped keys.
    pub skips: Vec<(u16, tokenguard::KeyError)>,
}

impl LoadReport {
    fn read(r: &mut proto::Reader<'_>) -> anyhow::Result<LoadReport> {
        let bad = || anyhow::anyhow!("short JWKS_END reply");
        let mut report = LoadReport {
            loaded: r.u16().ok_or_else(bad)?,
            unchanged: r.u16().ok_or_else(bad)?,
            skipped: r.u16().ok_or_else(bad)?,
            removed: r.u16().ok_or_else(bad)?,
            skips: vec![],
        };
        let n = r.u8().ok_or_else(bad)?;
        for _ in 0..n {
            let i = r.u16().ok_or_else(bad)?;
            let code = r.u8().ok_or_else(bad)?;
            report.skips.push((
                i,
                proto::key_error_from_code(code).context("unknown key error")?,
            ));
        }
        Ok(report)
    }
}

/// Why a device refused a JWK Set (`JWKS_REFUSED`); its old keys stay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwksRefusal {
    /// 0 not JSON, 1 not a key set, 2 incomplete, 3 private keys in the set, 4 no update,
    /// 5 no usable key, 6 more new keys than free slots.
    pub code: u8,
    /// For code 6: the free slots the document needs, and the slots free when the update
    /// began (docs/protocol.md).
    pub needed: u16,
    pub free: u16,
    /// For codes 5 and 6: what the set held.
    pub report: Option<LoadReport>,
}

impl std::fmt::Display for JwksRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.code {
            0 => f.write_str("the JWK Set is not valid JSON"),
            1 => f.write_str("not a JWK Set (an object with a keys array)"),
            2 => f.write_str("the JWK Set document ended early"),
            3 => f.write_str("the JWK Set holds private keys; the whole set was refused"),
            4 => f.write_str("no update in progress (another client started one)"),
            5 => f.write_str("the JWK Set holds no usable key"),
            6 => write!(
                f,
                "the JWK Set does not fit: it needs {} free slots and {} are free",
                self.needed, self.free
            ),
            c => write!(f, "the JWK Set was refused (code {c})"),
        }
    }
}

/// A frame from the device: `(cmd, seq, status, body)`.
pub type RawFrame = (u8, u8, u8, Vec<u8>);

/// One `LIST_KEYS` entry: `(kid, kty code, alg, bits, pinned)`.
pub type KeyEntry = (String, u8, Option<Algorithm>, u16, bool);

/// Counters from `STATS`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceStats {
    pub accepted: u32,
    pub rejected: Vec<u32>,
    pub fetches: u32,
    pub fetch_failures: u32,
    pub frames: u32,
    pub bad_frames: u32,
    pub keys: u8,
    pub capacity: u8,
    pub peak_stack: u32,
    pub updates_refused: u32,
}

/// Device information from `INFO`.
#[derive(Debug, Clone)]
pub struct DeviceInfo {
    pub protocol: u8,
    pub version: String,
    pub algorithms: AlgSet,
    pub key_capacity: u8,
    pub max_payload: u16,
    pub policy_slots: u8,
    pub max_rsa_bits: u16,
    pub clock_set: bool,
}

/// The client; `S` is a TCP stream to `device serve` or to QEMU's UART.
pub struct DeviceClient<S: Read + Write> {
    io: S,
    seq: u8,
    dec: FrameDecoder<4096>,
}

impl DeviceClient<std::net::TcpStream> {
    /// Connects to `device serve` or `device qemu` at `addr` and starts a session
    /// ([`Self::hello`]); replies wait at most `timeout`.
    ///
    /// # Errors
    /// The connection fails, the read timeout cannot be set, or the session does not start
    /// ([`Self::hello`]).
    pub fn connect(addr: &str, timeout: std::time::Duration) -> anyhow::Result<Self> {
        let s = std::net::TcpStream::connect(addr)
            .with_context(|| format!("connecting to the device at {addr}"))?;
        s.set_read_timeout(Some(timeout))?;
        let _ = s.set_nodelay(true);
        let mut c = DeviceClient::new(s);
        c.hello()?;
        Ok(c)
    }
}

impl<S: Read + Write> DeviceClient<S> {
    /// A client on an open stream; call [`Self::hello`] before the first request when the
    /// device may hold bytes or replies from an earlier host (a serial line).
    pub fn new(io: S) -> Self {
        DeviceClient {
            io,
            seq: 0,
            dec: FrameDecoder::new(),
        }
    }

    /// Starts a session: sends a lone delimiter (ending any frame an earlier host left half
    /// sent) and `HELLO` with a fresh nonce, then drops everything the device sends until
    /// the reply carrying that nonce. Replies to an earlier host's requests come before it
    /// (the device answers in order), so none can be taken for an answer to this client.
    ///
    /// # Errors
    /// No randomness for the nonce; writing to or reading from the device fails, times out
    /// or finds the connection closed; or no reply carrying the nonce comes within 10 000
    /// frames.
    pub fn hello(&mut self) -> anyhow::Result<()> {
        let mut nonce = [0u8; 8];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut nonce)
            .map_err(|_| anyhow::anyhow!("no randomness"))?;
        self.seq = nonce[0];
        let mut out = vec![0u8];
        frame::encode(&[&[proto::cmd::HELLO, self.seq], &nonce], |b| {
            out.extend_from_slice(b)
        });
        self.send_raw(&out)?;
        for _ in 0..10_000 {
            match self.read_frame_or_error()? {
                Some((c, seq, status, body))
                    if c == proto::cmd::HELLO | 0x80
                        && seq == self.seq
                        && status == proto::status::OK
                        && body == nonce =>
                {
                    return Ok(());
                }
                _ => {}
            }
        }
        bail!("the device did not answer HELLO")
    }

    /// The next frame, or `None` for a frame that did not decode.
    fn read_frame_or_error(&mut self) -> anyhow::Result<Option<RawFrame>> {
        let mut b = [0u8; 1];
        loop {
            let n = self.io.read(&mut b).context("reading from the device")?;
            if n == 0 {
                bail!("the device closed the connection");
            }
            match self.dec.push(b[0]) {
                Some(Frame::Payload(p)) if p.len() >= 3 => {
                    return Ok(Some((p[0], p[1], p[2], p[3..].to_vec())));
                }
                Some(_) => return Ok(None),
                None => {}
            }
        }
    }

    /// Sends raw bytes (to exercise bad input).
    ///
    /// # Errors
    /// Writing to or flushing the stream fails.
    pub fn send_raw(&mut self, bytes: &[u8]) -> anyhow::Result<()> {
        self.io.write_all(bytes)?;
        self.io.flush()?;
        Ok(())
    }

    /// Reads the next frame the device sends (`(cmd, seq, status, body)`).
    ///
    /// # Errors
    /// Reading fails or times out, the device closes the connection, or what it sent does
    /// not decode as a frame of at least `cmd`, `seq` and `status`.
    pub fn read_frame(&mut self) -> anyhow::Result<RawFrame> {
        self.read_frame_or_error()?
            .context("bad or short frame from the device")
    }

    /// One request, one response; returns (status, body).
    ///
    /// # Errors
    /// Sending or reading fails (see [`Self::read_frame`]), or the device answers with a
    /// `FRAME_ERROR`. A status other than OK is not an error: it is returned.
    pub fn call(&mut self, cmd: u8, body: &[u8]) -> anyhow::Result<(u8, Vec<u8>)> {
        self.seq = self.seq.wrapping_add(1);
        let mut out = Vec::new();
        frame::encode(&[&[cmd, self.seq], body], |b| out.extend_from_slice(b));
        self.send_raw(&out)?;
        loop {
            let (c, seq, status, body) = self.read_frame()?;
            if c == proto::cmd::FRAME_ERROR {
                bail!("device reported a frame error (status {status:#x})");
            }
            if c == cmd | 0x80 && seq == self.seq {
                return Ok((status, body));
            }
        }
    }

    fn ok(&mut self, cmd: u8, body: &[u8]) -> anyhow::Result<Vec<u8>> {
        let (s, b) = self.call(cmd, body)?;
        if s != proto::status::OK {
            bail!("command {cmd:#04x} failed with status {s:#04x}");
        }
        Ok(b)
    }

    /// The device's `INFO`: protocol, version, algorithms and limits.
    ///
    /// # Errors
    /// The exchange fails ([`Self::call`]), the device answers with a status other than OK,
    /// or the reply is short.
    pub fn info(&mut self) -> anyhow::Result<DeviceInfo> {
        let b = self.ok(proto::cmd::INFO, &[])?;
        let mut r = proto::Reader::new(&b);
        let bad = || anyhow::anyhow!("short INFO reply");
        Ok(DeviceInfo {
            protocol: r.u8().ok_or_else(bad)?,
            version: String::from_utf8_lossy(r.str8().ok_or_else(bad)?).into_owned(),
            algorithms: AlgSet::from_bits(r.u16().ok_or_else(bad)?),
            key_capacity: r.u8().ok_or_else(bad)?,
            max_payload: r.u16().ok_or_else(bad)?,
            policy_slots: r.u8().ok_or_else(bad)?,
            max_rsa_bits: r.u16().ok_or_else(bad)?,
            clock_set: r.u8().ok_or_else(bad)? != 0,
        })
    }

    /// Sets the device's clock to `unix` (seconds).
    ///
    /// # Errors
    /// The exchange fails ([`Self::call`]) or the device answers with a status other than
    /// OK.
    pub fn set_time(&mut self, unix: u64) -> anyhow::Result<()> {
        self.ok(proto::cmd::SET_TIME, &unix.to_le_bytes())
            .map(|_| ())
    }

    /// Writes `p` to its policy slot (`SET_POLICY`).
    ///
    /// # Errors
    /// The policy's strings do not fit in one request, the exchange fails ([`Self::call`]),
    /// or the device answers with a status other than OK.
    pub fn set_policy(&mut self, p: &Policy) -> anyhow::Result<()> {
        let mut flags = 0u8;
        if p.issuer.is_none() {
            flags |= proto::policy_flags::IGNORE_ISS;
        }
        if p.audience.is_none() {
            flags |= proto::policy_flags::IGNORE_AUD;
        }
        if p.allow_missing_kid {
            flags |= proto::policy_flags::ALLOW_MISSING_KID;
        }
        if p.allow_missing_exp {
            flags |= proto::policy_flags::ALLOW_MISSING_EXP;
        }
        let mut buf = [0u8; 512];
        let body = policy_body(
            &mut buf,
            p.slot,
            flags,
            p.algs,
            p.leeway,
            p.max_age,
            p.issuer.as_deref().unwrap_or(""),
            p.audience.as_deref().unwrap_or(""),
            &p.subject,
            &p.typ,
        )
        .context("policy strings too long")?
        .to_vec();
        self.ok(proto::cmd::SET_POLICY, &body).map(|_| ())
    }

    /// Loads one JWK; `Err` carries the device's reason.
    ///
    /// # Errors
    /// The exchange fails ([`Self::call`]), the device answers with a status other than OK
    /// and `KEY_REFUSED`, or its refusal carries an unknown key error code. A refused key
    /// is `Ok(Err(_))`.
    pub fn load_jwk(
        &mut self,
        json: &str,
        pinned: bool,
    ) -> anyhow::Result<Result<u8, tokenguard::KeyError>> {
        let mut body = vec![if pinned { proto::load_flags::PINNED } else { 0 }];
        body.extend_from_slice(json.as_bytes());
        let (s, b) = self.call(proto::cmd::LOAD_JWK, &body)?;
        match s {
            proto::status::OK => Ok(Ok(b.first().copied().unwrap_or(0))),
            proto::status::KEY_REFUSED => {
                let code = b.first().copied().unwrap_or(0xFF);
                Ok(Err(
                    proto::key_error_from_code(code).context("unknown key error code")?
                ))
            }
            other => bail!("LOAD_JWK failed with status {other:#04x}"),
        }
    }

    /// Streams a JWK Set in `chunk`-byte frames; `Ok(Err(why))` if the device refused it
    /// (its old keys stay).
    ///
    /// # Errors
    /// As [`Self::load_jwks_at`].
    pub fn load_jwks(
        &mut self,
        doc: &[u8],
        chunk: usize,
        max_age: Option<u32>,
    ) -> anyhow::Result<Result<LoadReport, JwksRefusal>> {
        self.load_jwks_at(doc, chunk, max_age, None)
    }

    /// As [`Self::load_jwks`]; with `now`, `SET_TIME` is sent just before `JWKS_END` so the
    /// set is stamped with that time however long the chunks took (simulated clocks).
    ///
    /// # Errors
    /// An exchange fails ([`Self::call`]); `JWKS_BEGIN` or `SET_TIME` is answered with a
    /// status other than OK; a chunk or `JWKS_END` is answered with a status other than OK,
    /// `JWKS_REFUSED` and `NO_UPDATE`; or a reply is short or carries an unknown key error
    /// code. A refused set is `Ok(Err(_))`.
    pub fn load_jwks_at(
        &mut self,
        doc: &[u8],
        chunk: usize,
        max_age: Option<u32>,
        now: Option<u64>,
    ) -> anyhow::Result<Result<LoadReport, JwksRefusal>> {
        self.ok(
            proto::cmd::JWKS_BEGIN,
            &max_age.unwrap_or(u32::MAX).to_le_bytes(),
        )?;
        for c in doc.chunks(chunk.max(1)) {
            let (s, b) = self.call(proto::cmd::JWKS_CHUNK, c)?;
            if s == proto::status::JWKS_REFUSED || s == proto::status::NO_UPDATE {
                return Ok(Err(Self::refusal(s, &b)?));
            }
            if s != proto::status::OK {
                bail!("JWKS_CHUNK failed with status {s:#04x}");
            }
        }
        if let Some(t) = now {
            self.set_time(t)?;
        }
        let (s, b) = self.call(proto::cmd::JWKS_END, &[])?;
        if s == proto::status::JWKS_REFUSED || s == proto::status::NO_UPDATE {
            return Ok(Err(Self::refusal(s, &b)?));
        }
        if s != proto::status::OK {
            bail!("JWKS_END failed with status {s:#04x}");
        }
        Ok(Ok(LoadReport::read(&mut proto::Reader::new(&b))?))
    }

    fn refusal(status: u8, b: &[u8]) -> anyhow::Result<JwksRefusal> {
        if status == proto::status::NO_UPDATE {
            return Ok(JwksRefusal {
                code: 4,
                needed: 0,
                free: 0,
                report: None,
            });
        }
        let mut r = proto::Reader::new(b);
        let code = r.u8().unwrap_or(0xFF);
        let mut refusal = JwksRefusal {
            code,
            needed: 0,
            free: 0,
            report: None,
        };
        if code == 5 || code == 6 {
            let bad = || anyhow::anyhow!("short JWKS_REFUSED reply");
            refusal.needed = r.u16().ok_or_else(bad)?;
            refusal.free = r.u16().ok_or_else(bad)?;
            refusal.report = Some(LoadReport::read(&mut r)?);
        }
        Ok(refusal)
    }

    /// Tells the device that fetching its JWK Set failed (`FETCH_FAILED`).
    ///
    /// # Errors
    /// The exchange fails ([`Self::call`]) or the device answers with a status other than
    /// OK.
    pub fn fetch_failed(&mut self) -> anyhow::Result<()> {
        self.ok(proto::cmd::FETCH_FAILED, &[]).map(|_| ())
    }

    /// `(due reason, freshness, expires_at, unknown kid pending)`.
    ///
    /// # Errors
    /// The exchange fails ([`Self::call`]), the device answers with a status other than OK,
    /// or the reply is short.
    pub fn refresh_state(&mut self) -> anyhow::Result<(u8, u8, u64, bool)> {
        let b = self.ok(proto::cmd::REFRESH_STATE, &[])?;
        let mut r = proto::Reader::new(&b);
        let bad = || anyhow::anyhow!("short REFRESH_STATE reply");
        Ok((
            r.u8().ok_or_else(bad)?,
            r.u8().ok_or_else(bad)?,
            r.u64().ok_or_else(bad)?,
            r.u8().ok_or_else(bad)? != 0,
        ))
    }

    /// Removes the key `kid`; `false` when the device answers with a status other than OK.
    ///
    /// # Errors
    /// Only when the exchange fails ([`Self::call`]).
    pub fn remove_key(&mut self, kid: &str) -> anyhow::Result<bool> {
        let (s, _) = self.call(proto::cmd::REMOVE_KEY, kid.as_bytes())?;
        Ok(s == proto::status::OK)
    }

    /// `(kid, kty code, alg, bits, pinned)` for every key.
    ///
    /// # Errors
    /// An exchange fails ([`Self::call`]), the device answers with a status other than OK,
    /// or a reply is short.
    pub fn list_keys(&mut self) -> anyhow::Result<Vec<KeyEntry>> {
        let mut out = vec![];
        let mut start = 0u8;
        loop {
            let b = self.ok(proto::cmd::LIST_KEYS, &[start])?;
            let mut r = proto::Reader::new(&b);
            let bad = || anyhow::anyhow!("short LIST_KEYS reply");
            let _total = r.u8().ok_or_else(bad)?;
            let next = r.u8().ok_or_else(bad)?;
            let count = r.u8().ok_or_else(bad)?;
            for _ in 0..count {
                let kid = String::from_utf8_lossy(r.str8().ok_or_else(bad)?).into_owned();
                let kty = r.u8().ok_or_else(bad)?;
                let alg = tokenguard_device::alg_from_code(r.u8().ok_or_else(bad)?);
                let bits = r.u16().ok_or_else(bad)?;
                let pinned = r.u8().ok_or_else(bad)? != 0;
                out.push((kid, kty, alg, bits, pinned));
            }
            if next == 0xFF {
                return Ok(out);
            }
            start = next;
        }
    }

    /// Verifies `token` under policy slot `slot`: the accepted algorithm and claims, or the
    /// rejection's code.
    ///
    /// # Errors
    /// The exchange fails ([`Self::call`]), an accepting reply names no known algorithm or
    /// carries claims that are not UTF-8, or the status is neither OK nor a token error.
    pub fn verify(&mut self, slot: u8, token: &str) -> anyhow::Result<Verdict> {
        let mut body = vec![slot];
        body.extend_from_slice(token.as_bytes());
        let (s, b) = self.call(proto::cmd::VERIFY, &body)?;
        if s == proto::status::OK {
            let alg = b
                .first()
                .and_then(|&c| tokenguard_device::alg_from_code(c))
                .context("no alg in reply")?;
            let claims = String::from_utf8(b[1..].to_vec()).context("claims not UTF-8")?;
            return Ok(Verdict::Accepted { alg, claims });
        }
        match proto::token_code(s) {
            Some(code) => Ok(Verdict::Rejected(code)),
            None => bail!("VERIFY failed with status {s:#04x}"),
        }
    }

    /// Installs the device's signing key (a private JWK); returns the key's algorithm.
    /// A key too long for one frame (RSA with its CRT members) is uploaded in chunks
    /// (`SIGNING_KEY_BEGIN`/`_CHUNK`/`_END`). A refused key leaves the old one in place.
    ///
    /// # Errors
    /// The exchange fails ([`Self::call`]), the device refuses the key (with its reason
    /// when it gave a known one) or answers with any other status but OK, or the reply
    /// names no known algorithm.
    pub fn set_signing_key(&mut self, jwk: &str) -> anyhow::Result<Algorithm> {
        let refused = |s: u8, b: &[u8]| match s {
            proto::status::KEY_REFUSED => {
                let why = b.first().and_then(|&c| proto::key_error_from_code(c));
                match why {
                    Some(e) => anyhow::anyhow!("the device refused the signing key: {e}"),
                    None => anyhow::anyhow!("the device refused the signing key"),
                }
            }
            s => anyhow::anyhow!("setting the signing key failed with status {s:#04x}"),
        };
        let (s, b) = if jwk.len() + 2 <= 1000 {
            self.call(proto::cmd::SET_SIGNING_KEY, jwk.as_bytes())?
        } else {
            let (s, b) = self.call(proto::cmd::SIGNING_KEY_BEGIN, &[])?;
            if s != proto::status::OK {
                return Err(refused(s, &b));
            }
            for c in jwk.as_bytes().chunks(512) {
                let (s, b) = self.call(proto::cmd::SIGNING_KEY_CHUNK, c)?;
                if s != proto::status::OK {
                    return Err(refused(s, &b));
                }
            }
            self.call(proto::cmd::SIGNING_KEY_END, &[])?
        };
        if s != proto::status::OK {
            return Err(refused(s, &b));
        }
        b.first()
            .and_then(|&c| tokenguard_device::alg_from_code(c))
            .context("no alg in reply")
    }

    /// Asks the device to mint an assertion. `preset`: 0 plain, 1 ZITADEL service user,
    /// 2 ZITADEL API app, 3 ZITADEL System API, 4 Auth0 `private_key_jwt`.
    ///
    /// # Errors
    /// A field is longer than 255 bytes, the exchange fails ([`Self::call`]), or the token
    /// is not UTF-8. The device's refusal is `Ok(Err(status))`.
    #[allow(clippy::too_many_arguments)]
    pub fn sign(
        &mut self,
        preset: u8,
        lifetime: u32,
        backdate: u16,
        entropy: &[u8],
        subject: &str,
        audience: &str,
        jti: &str,
    ) -> anyhow::Result<Result<String, u8>> {
        let mut body = vec![preset];
        body.extend_from_slice(&lifetime.to_le_bytes());
        body.extend_from_slice(&backdate.to_le_bytes());
        for f in [
            entropy,
            subject.as_bytes(),
            audience.as_bytes(),
            jti.as_bytes(),
        ] {
            body.push(u8::try_from(f.len()).context("field too long")?);
            body.extend_from_slice(f);
        }
        let (s, b) = self.call(proto::cmd::SIGN, &body)?;
        if s == proto::status::OK {
            Ok(Ok(String::from_utf8(b).context("token is not text")?))
        } else {
            Ok(Err(s))
        }
    }

    /// The device's counters (`STATS`).
    ///
    /// # Errors
    /// The exchange fails ([`Self::call`]), the device answers with a status other than OK,
    /// or the reply is short.
    pub fn stats(&mut self) -> anyhow::Result<DeviceStats> {
        let b = self.ok(proto::cmd::STATS, &[])?;
        let mut r = proto::Reader::new(&b);
        let bad = || anyhow::anyhow!("short STATS reply");
        let accepted = r.u32().ok_or_else(bad)?;
        let mut rejected = vec![];
        for _ in 0..18 {
            rejected.push(r.u32().ok_or_else(bad)?);
        }
        Ok(DeviceStats {
            accepted,
            rejected,
            fetches: r.u32().ok_or_else(bad)?,
            fetch_failures: r.u32().ok_or_else(bad)?,
            frames: r.u32().ok_or_else(bad)?,
            bad_frames: r.u32().ok_or_else(bad)?,
            keys: r.u8().ok_or_else(bad)?,
            capacity: r.u8().ok_or_else(bad)?,
            peak_stack: r.u32().ok_or_else(bad)?,
            updates_refused: r.u32().ok_or_else(bad)?,
        })
    }
}
