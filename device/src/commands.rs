//! The commands: [`handle`] reads one request and runs the function of its command, each
//! of which answers with exactly one response (docs/protocol.md has the wire format).

use super::*;

// Commands with locals of any size are `#[inline(never)]`: inlined here, all their frames
// were one frame, on the stack for every command (and in `main`'s frame on the firmware).
// Apart, only the running command's are (firmware boot stack 14,952 -> 12,320 bytes,
// `cargo xtask fw-bench`).
// `allow`, not `expect`: the lint fires in some feature and test configurations only.
#[allow(clippy::too_many_arguments)] // the request's parts and the device state, unpacked once
pub(super) fn handle<B: Backend, const K: usize>(
    st: &mut State<K>,
    work: &mut [u8],
    max_payload: usize,
    link: u32,
    payload: &[u8],
    now_ms: u64,
    emit: &mut impl FnMut(&[u8]),
) {
    let mut r = Reader::new(payload);
    let (Some(c), Some(seq)) = (r.u8(), r.u8()) else {
        return frame::encode(&[&[cmd::FRAME_ERROR, 0, status::BAD_REQUEST]], emit);
    };
    if c == 0 || c > cmd::LAST {
        // Not a request: its answer would look like a response to another command (or like
        // the frame-error marker itself).
        return frame::encode(&[&[cmd::FRAME_ERROR, 0, status::UNKNOWN_COMMAND]], emit);
    }
    let rq = Req {
        c,
        seq,
        body: r.rest(),
        link,
        now_ms,
        max_payload,
    };
    let emit: &mut dyn FnMut(&[u8]) = emit;
    match c {
        cmd::INFO => info::<B, K>(st, &rq, emit),
        cmd::HELLO => hello(st, &rq, emit),
        cmd::SET_TIME => set_time(st, &rq, emit),
        cmd::GET_TIME => get_time(st, &rq, emit),
        cmd::LOAD_JWK => load_jwk::<B, K>(st, &rq, emit),
        cmd::JWKS_BEGIN => jwks_begin(st, &rq, emit),
        cmd::JWKS_CHUNK | cmd::JWKS_END => jwks_chunk_or_end::<B, K>(st, &rq, emit),
        cmd::FETCH_FAILED => fetch_failed(st, &rq, emit),
        cmd::REFRESH_STATE => refresh_state(st, &rq, emit),
        cmd::REMOVE_KEY => remove_key(st, &rq, emit),
        cmd::LIST_KEYS => list_keys(st, work, &rq, emit),
        cmd::SET_POLICY => set_policy(st, &rq, emit),
        cmd::VERIFY => verify::<B, K>(st, work, &rq, emit),
        #[cfg(feature = "signing")]
        cmd::SET_SIGNING_KEY => set_signing_key(st, &rq, emit),
        #[cfg(feature = "signing")]
        cmd::SIGNING_KEY_BEGIN => signing_key_begin(st, &rq, emit),
        #[cfg(feature = "signing")]
        cmd::SIGNING_KEY_CHUNK | cmd::SIGNING_KEY_END => signing_key_chunk_or_end(st, &rq, emit),
        #[cfg(feature = "signing")]
        cmd::SIGN => sign(st, work, &rq, emit),
        #[cfg(not(feature = "signing"))]
        cmd::SIGN
        | cmd::SET_SIGNING_KEY
        | cmd::SIGNING_KEY_BEGIN
        | cmd::SIGNING_KEY_CHUNK
        | cmd::SIGNING_KEY_END => rq.fail(emit, status::UNSUPPORTED, &[]),
        cmd::STATS => stats(st, &rq, emit),
        _ => rq.fail(emit, status::UNKNOWN_COMMAND, &[]),
    }
}

/// One request: its command, sequence number and body, and where and when it came in.
#[derive(Clone, Copy)]
struct Req<'a> {
    c: u8,
    seq: u8,
    body: &'a [u8],
    link: u32,
    now_ms: u64,
    max_payload: usize,
}

impl Req<'_> {
    /// Replies `OK` with `b`.
    fn ok(&self, emit: &mut dyn FnMut(&[u8]), b: &[u8]) {
        self.answer(emit, status::OK, b);
    }
    /// Replies status `s` with `b`.
    fn fail(&self, emit: &mut dyn FnMut(&[u8]), s: u8, b: &[u8]) {
        self.answer(emit, s, b);
    }
    /// The one body of [`Self::ok`] and [`Self::fail`] (each had its own copy of the frame
    /// encoder, 0.4 KB).
    #[inline(never)]
    fn answer(&self, emit: &mut dyn FnMut(&[u8]), s: u8, b: &[u8]) {
        reply(self.c, self.seq, s, &[b], &mut |x| emit(x));
    }
}

/// `INFO`.
#[inline(never)] // stack: one command's locals at a time (see `handle`)
fn info<B: Backend, const K: usize>(st: &mut State<K>, rq: &Req<'_>, emit: &mut dyn FnMut(&[u8])) {
    let Req { max_payload, .. } = *rq;
    let mut buf = [0u8; 48];
    let mut w = Writer::new(&mut buf);
    w.u8(proto::PROTOCOL_VERSION)
        .str8(tokenguard::VERSION.as_bytes())
        .u16(B::ALGORITHMS.bits())
        .u8(u8::try_from(K).unwrap_or(u8::MAX))
        .u16(u16::try_from(max_payload).unwrap_or(u16::MAX))
        .u8(u8::try_from(POLICY_SLOTS).unwrap_or(0))
        .u16(u16::try_from(tokenguard::MAX_RSA_BITS).unwrap_or(0))
        .u8(u8::from(st.time.is_some()));
    rq.ok(emit, w.done().unwrap_or(&[]));
}

/// `HELLO`.
fn hello<const K: usize>(st: &mut State<K>, rq: &Req<'_>, emit: &mut dyn FnMut(&[u8])) {
    let Req { body, link, .. } = *rq;
    if body.len() > proto::HELLO_MAX {
        return rq.fail(emit, status::BAD_REQUEST, &[]);
    }
    abandon_transfer_of(st, link);
    rq.ok(emit, body);
}

/// `SET_TIME`.
fn set_time<const K: usize>(st: &mut State<K>, rq: &Req<'_>, emit: &mut dyn FnMut(&[u8])) {
    let Req { body, now_ms, .. } = *rq;
    match Reader::new(body).u64() {
        Some(t) => {
            st.time = Some((t, now_ms));
            rq.ok(emit, &[]);
        }
        None => rq.fail(emit, status::BAD_REQUEST, &[]),
    }
}

/// `GET_TIME`.
fn get_time<const K: usize>(st: &mut State<K>, rq: &Req<'_>, emit: &mut dyn FnMut(&[u8])) {
    let Req { now_ms, .. } = *rq;
    match now_secs(st, now_ms) {
        Some(t) => rq.ok(emit, &t.to_le_bytes()),
        None => rq.fail(emit, status::NO_TIME, &[]),
    }
}

/// `LOAD_JWK`.
#[inline(never)] // stack: one command's locals at a time (see `handle`)
fn load_jwk<B: Backend, const K: usize>(
    st: &mut State<K>,
    rq: &Req<'_>,
    emit: &mut dyn FnMut(&[u8]),
) {
    let Req { body, .. } = *rq;
    let mut r = Reader::new(body);
    let Some(flags) = r.u8() else {
        return rq.fail(emit, status::BAD_REQUEST, &[]);
    };
    // Only a key the verifying backend can use: the others would hold a slot for nothing.
    match Jwk::from_json_for::<B>(r.rest()) {
        Err(e) => rq.fail(emit, status::KEY_REFUSED, &[proto::key_error_code(e)]),
        Ok(jwk) => {
            let keys = st.cache.keys_mut();
            let res = if flags & proto::load_flags::PINNED != 0 {
                keys.pin(jwk)
            } else {
                keys.insert(jwk)
            };
            match res {
                Ok(()) => rq.ok(
                    emit,
                    &[u8::try_from(st.cache.keys().len()).unwrap_or(u8::MAX)],
                ),
                Err((_, KeyError::NoSpace)) => rq.fail(emit, status::FULL, &[]),
                Err((_, reason)) => {
                    rq.fail(emit, status::KEY_REFUSED, &[proto::key_error_code(reason)])
                }
            }
        }
    }
}

/// `JWKS_BEGIN`.
#[inline(never)] // stack: one command's locals at a time (see `handle`)
fn jwks_begin<const K: usize>(st: &mut State<K>, rq: &Req<'_>, emit: &mut dyn FnMut(&[u8])) {
    let Req {
        body, link, now_ms, ..
    } = *rq;
    let max_age = match Reader::new(body).u32() {
        Some(u32::MAX) => None,
        Some(a) => Some(u64::from(a)),
        None => return rq.fail(emit, status::BAD_REQUEST, &[]),
    };
    abandon_transfer(st);
    if let Some(t) = now_secs(st, now_ms) {
        st.cache.fetch_started(t);
    }
    st.transfer = Transfer::Jwks {
        pending: st.cache.keys_mut().begin_pending(),
        max_age,
    };
    st.transfer_link = link;
    st.skip_count = 0;
    rq.ok(emit, &[]);
}

/// `JWKS_CHUNK`, `JWKS_END`.
#[inline(never)] // stack: one command's locals at a time (see `handle`)
fn jwks_chunk_or_end<B: Backend, const K: usize>(
    st: &mut State<K>,
    rq: &Req<'_>,
    emit: &mut dyn FnMut(&[u8]),
) {
    let Req {
        c,
        body,
        link,
        now_ms,
        ..
    } = *rq;
    if st.transfer_link != link {
        return rq.fail(emit, status::NO_UPDATE, &[]);
    }
    let now = now_secs(st, now_ms);
    // The update is worked on where it lies (moving its 1.4 KB out and back cost as much
    // stack).
    let Transfer::Jwks { pending, max_age } = &mut st.transfer else {
        return rq.fail(emit, status::NO_UPDATE, &[]);
    };
    let max_age = *max_age;
    let (skips, count) = (&mut st.skips, &mut st.skip_count);
    let mut log = |e: UpdateEvent| {
        if let UpdateEvent::Skipped(s) = e {
            if let Some(slot) = skips.get_mut(usize::from(*count)) {
                *slot = (s.index, proto::key_error_code(s.reason));
            }
            *count = count.saturating_add(1);
        }
    };
    let keys = st.cache.keys_mut();
    if c == cmd::JWKS_CHUNK {
        // Keys the verifying backend cannot use are skipped, as `LOAD_JWK` refuses them.
        match pending.feed_for::<B, K, _>(keys, body, &mut log) {
            Ok(()) => rq.ok(emit, &st.skip_count.to_le_bytes()),
            Err(e) => {
                // The update is void (its staged keys are already released).
                st.transfer = Transfer::None;
                if let Some(t) = now {
                    st.cache.fetch_failed(t);
                }
                rq.fail(emit, status::JWKS_REFUSED, &[proto::jwks_error_code(e)]);
            }
        }
        return;
    }
    let result = pending.finish(keys, &mut log);
    st.transfer = Transfer::None;
    match now {
        Some(t) => st.cache.update_finished(t, max_age, &result),
        None if matches!(result, Err(JwksError::Refused(_))) => {
            st.cache.count_refused();
        }
        None => {}
    }
    let mut buf = [0u8; 5 + 9 + 3 * SKIP_LOG];
    let mut w = Writer::new(&mut buf);
    let (s, report) = match result {
        Ok(report) => (status::OK, report),
        Err(e @ JwksError::Refused(report)) => {
            let (needed, free) = match report.outcome {
                UpdateOutcome::NoSpace { needed, free } => (needed, free),
                _ => {
                    let in_use = st.cache.keys().len();
                    (0, u16::try_from(K.saturating_sub(in_use)).unwrap_or(0))
                }
            };
            w.u8(proto::jwks_error_code(e)).u16(needed).u16(free);
            (status::JWKS_REFUSED, report)
        }
        Err(e) => return rq.fail(emit, status::JWKS_REFUSED, &[proto::jwks_error_code(e)]),
    };
    w.u16(report.loaded)
        .u16(report.unchanged)
        .u16(report.skipped)
        .u16(report.removed);
    let logged = usize::from(st.skip_count).min(SKIP_LOG);
    w.u8(u8::try_from(logged).unwrap_or(0));
    for (i, code) in st.skips.iter().take(logged) {
        w.u16(*i).u8(*code);
    }
    rq.answer(emit, s, w.done().unwrap_or(&[]));
}

/// `FETCH_FAILED`.
#[inline(never)] // stack: one command's locals at a time (see `handle`)
fn fetch_failed<const K: usize>(st: &mut State<K>, rq: &Req<'_>, emit: &mut dyn FnMut(&[u8])) {
    let Req { now_ms, .. } = *rq;
    let begun = matches!(st.transfer, Transfer::Jwks { .. });
    if begun {
        abandon_transfer(st);
    }
    match now_secs(st, now_ms) {
        Some(t) => {
            // A fetch that failed before JWKS_BEGIN (network error, HTTP status)
            // is an attempt too: it starts the retry interval.
            if !begun {
                st.cache.fetch_started(t);
            }
            st.cache.fetch_failed(t);
            rq.ok(emit, &[]);
        }
        None => rq.fail(emit, status::NO_TIME, &[]),
    }
}

/// `REFRESH_STATE`.
#[inline(never)] // stack: one command's locals at a time (see `handle`)
fn refresh_state<const K: usize>(st: &mut State<K>, rq: &Req<'_>, emit: &mut dyn FnMut(&[u8])) {
    let Req { now_ms, .. } = *rq;
    let Some(t) = now_secs(st, now_ms) else {
        return rq.fail(emit, status::NO_TIME, &[]);
    };
    let reason = match st.cache.poll(t) {
        None => 0,
        Some(FetchReason::Initial) => 1,
        Some(FetchReason::Expired) => 2,
        Some(FetchReason::UnknownKid) => 3,
        Some(FetchReason::Retry) => 4,
        Some(_) => UNNUMBERED,
    };
    let fresh = match st.cache.freshness(t) {
        Freshness::NeverLoaded => 0,
        Freshness::Fresh => 1,
        Freshness::Stale => 2,
        Freshness::Expired => 3,
        _ => UNNUMBERED,
    };
    let mut buf = [0u8; 11];
    let mut w = Writer::new(&mut buf);
    w.u8(reason)
        .u8(fresh)
        .u64(st.cache.expires_at())
        .u8(u8::from(st.cache.unknown_kid_pending()));
    rq.ok(emit, w.done().unwrap_or(&[]));
}

/// `REMOVE_KEY`.
#[inline(never)] // stack: one command's locals at a time (see `handle`)
fn remove_key<const K: usize>(st: &mut State<K>, rq: &Req<'_>, emit: &mut dyn FnMut(&[u8])) {
    let Req { body, .. } = *rq;
    match st.cache.keys_mut().remove(body) {
        Some(_) => rq.ok(emit, &[]),
        None => rq.fail(emit, status::NOT_FOUND, &[]),
    }
}

/// `LIST_KEYS`.
#[inline(never)] // stack: one command's locals at a time (see `handle`)
fn list_keys<const K: usize>(
    st: &mut State<K>,
    work: &mut [u8],
    rq: &Req<'_>,
    emit: &mut dyn FnMut(&[u8]),
) {
    let Req {
        body, max_payload, ..
    } = *rq;
    let [start] = body else {
        return rq.fail(emit, status::BAD_REQUEST, &[]);
    };
    let start = usize::from(*start);
    let keys = st.cache.keys();
    let total = keys.len();
    let room = work.len().min(max_payload.saturating_sub(8));
    let mut w = Writer::new(work.get_mut(..room).unwrap_or(&mut []));
    w.u8(u8::try_from(total).unwrap_or(u8::MAX));
    let mut next = 0xFFu8;
    let mut count = 0u8;
    // Two passes over a fixed buffer: count what fits, then write.
    let mut used = 0usize;
    for (i, (k, _)) in keys.iter().enumerate().skip(start) {
        let kid_len = k.kid().map_or(0, |id| id.as_bytes().len());
        let need = 1 + kid_len + 5;
        if used + need + 3 > room {
            next = u8::try_from(i).unwrap_or(0xFF);
            break;
        }
        used += need;
        count = count.saturating_add(1);
    }
    w.u8(next).u8(count);
    for (k, pinned) in keys.iter().skip(start).take(usize::from(count)) {
        w.str8(k.kid().map_or(&[][..], |id| id.as_bytes()))
            .u8(kty_code(k.key_type()))
            .u8(k.alg().map_or(0xFF, |a| a as u8))
            .u16(u16::try_from(k.bits()).unwrap_or(u16::MAX))
            .u8(u8::from(pinned));
    }
    match w.done() {
        Some(b) => rq.ok(emit, b),
        None => rq.fail(emit, status::FULL, &[]),
    }
}

/// `SET_POLICY`.
#[inline(never)] // stack: one command's locals at a time (see `handle`)
fn set_policy<const K: usize>(st: &mut State<K>, rq: &Req<'_>, emit: &mut dyn FnMut(&[u8])) {
    let Req { body, .. } = *rq;
    match parse_policy(body) {
        Some((slot, p)) => match st.policies.get_mut(usize::from(slot)) {
            Some(s) => {
                *s = Some(p);
                rq.ok(emit, &[]);
            }
            None => rq.fail(emit, status::NOT_FOUND, &[]),
        },
        None => rq.fail(emit, status::BAD_REQUEST, &[]),
    }
}

/// `VERIFY`.
#[inline(never)] // stack: one command's locals at a time (see `handle`)
fn verify<B: Backend, const K: usize>(
    st: &mut State<K>,
    work: &mut [u8],
    rq: &Req<'_>,
    emit: &mut dyn FnMut(&[u8]),
) {
    let Req {
        c,
        seq,
        body,
        now_ms,
        max_payload,
        ..
    } = *rq;
    let mut r = Reader::new(body);
    let Some(slot) = r.u8() else {
        return rq.fail(emit, status::BAD_REQUEST, &[]);
    };
    let token = r.rest();
    // Borrowed, not copied (a policy is about 380 bytes).
    let Some(Some(policy)) = st.policies.get(usize::from(slot)) else {
        return rq.fail(emit, status::NOT_FOUND, &[]);
    };
    let Some(now) = now_secs(st, now_ms) else {
        return rq.fail(emit, status::NO_TIME, &[]);
    };
    let v = policy.validation(max_payload);
    match st.cache.verify_with::<B>(token, &v, now, work) {
        Ok(t) => {
            let alg = [t.alg() as u8];
            reply(
                c,
                seq,
                status::OK,
                &[&alg, t.claims_json().as_bytes()],
                &mut |x| emit(x),
            );
        }
        Err(e) => rq.fail(emit, proto::token_status(&e), &[]),
    }
}

#[cfg(feature = "signing")]
/// `SET_SIGNING_KEY`.
fn set_signing_key<const K: usize>(st: &mut State<K>, rq: &Req<'_>, emit: &mut dyn FnMut(&[u8])) {
    let Req { c, seq, body, .. } = *rq;
    let r = tokenguard::sign::SigningKey::from_jwk(body);
    install_signing_key(st, r, c, seq, emit);
}

#[cfg(feature = "signing")]
/// `SIGNING_KEY_BEGIN`.
fn signing_key_begin<const K: usize>(st: &mut State<K>, rq: &Req<'_>, emit: &mut dyn FnMut(&[u8])) {
    let Req { link, .. } = *rq;
    abandon_transfer(st);
    st.transfer = Transfer::SigningKey(tokenguard::sign::PrivateJwkParser::new());
    st.transfer_link = link;
    rq.ok(emit, &[]);
}

#[cfg(feature = "signing")]
/// `SIGNING_KEY_CHUNK`, `SIGNING_KEY_END`.
fn signing_key_chunk_or_end<const K: usize>(
    st: &mut State<K>,
    rq: &Req<'_>,
    emit: &mut dyn FnMut(&[u8]),
) {
    let Req {
        c, seq, body, link, ..
    } = *rq;
    let Transfer::SigningKey(p) = &mut st.transfer else {
        return rq.fail(emit, status::NO_UPDATE, &[]);
    };
    if st.transfer_link != link {
        return rq.fail(emit, status::NO_UPDATE, &[]);
    }
    if c == cmd::SIGNING_KEY_CHUNK {
        match p.feed(body) {
            Ok(()) => rq.ok(emit, &[]),
            Err(e) => {
                st.transfer = Transfer::None;
                rq.fail(emit, status::KEY_REFUSED, &[signing_key_error(e)]);
            }
        }
    } else {
        let r = p.finish();
        st.transfer = Transfer::None;
        install_signing_key(st, r, c, seq, emit);
    }
}

#[cfg(feature = "signing")]
/// `SIGN`.
fn sign<const K: usize>(
    st: &mut State<K>,
    work: &mut [u8],
    rq: &Req<'_>,
    emit: &mut dyn FnMut(&[u8]),
) {
    let Req {
        body,
        now_ms,
        max_payload,
        ..
    } = *rq;
    let Some(key) = st.signer.as_ref() else {
        return rq.fail(emit, status::NOT_FOUND, &[]);
    };
    let Some(now) = now_secs(st, now_ms) else {
        return rq.fail(emit, status::NO_TIME, &[]);
    };
    // The reply (3 header bytes and the token) must fit a frame: a longer token is
    // FULL, never a reply the host cannot receive.
    let cap = max_payload.saturating_sub(3).min(work.len());
    let (out, _) = work.split_at_mut(cap);
    match sign_request(key, body, now, out) {
        Ok(n) => rq.ok(emit, out.get(..n).unwrap_or(&[])),
        Err(s) => rq.fail(emit, s, &[]),
    }
}

/// `STATS`.
#[inline(never)] // stack: one command's locals at a time (see `handle`)
fn stats<const K: usize>(st: &mut State<K>, rq: &Req<'_>, emit: &mut dyn FnMut(&[u8])) {
    let s = st.cache.stats();
    let mut buf = [0u8; 4 * 25 + 2];
    let mut w = Writer::new(&mut buf);
    w.u32(s.accepted);
    for r in s.rejected {
        w.u32(r);
    }
    w.u32(s.fetches)
        .u32(s.fetch_failures)
        .u32(st.stats.frames)
        .u32(st.stats.bad_frames);
    w.u8(u8::try_from(st.cache.keys().len()).unwrap_or(u8::MAX))
        .u8(u8::try_from(K).unwrap_or(u8::MAX));
    w.u32(st.stats.peak_stack).u32(s.updates_refused);
    rq.ok(emit, w.done().unwrap_or(&[]));
}

/// The one-byte key error code of a refused signing key.
#[cfg(feature = "signing")]
fn signing_key_error(e: tokenguard::sign::SignError) -> u8 {
    use tokenguard::sign::SignError;
    proto::key_error_code(match e {
        SignError::KeyRejected(k) => k,
        SignError::AlgMismatch => KeyError::AlgMismatch,
        SignError::Key(tokenguard::keys::KeyFormatError::Unsupported) => {
            KeyError::UnsupportedKeyType
        }
        _ => KeyError::InvalidMember,
    })
}

/// Installs a signing key that parsed and whose public key validates; a refused key leaves
/// the old one in place.
#[cfg(feature = "signing")]
fn install_signing_key<const K: usize>(
    st: &mut State<K>,
    key: Result<tokenguard::sign::SigningKey, tokenguard::sign::SignError>,
    c: u8,
    seq: u8,
    emit: &mut dyn FnMut(&[u8]),
) {
    let checked = key.and_then(|k| match k.public_jwk() {
        Ok(_) => Ok(k),
        Err(e) => Err(tokenguard::sign::SignError::KeyRejected(e)),
    });
    match checked {
        Ok(k) => {
            let alg = tokenguard::sign::Signer::alg(&k) as u8;
            st.signer = Some(k.with_self_check(true));
            reply(c, seq, status::OK, &[&[alg]], &mut |x| emit(x));
        }
        Err(e) => reply(
            c,
            seq,
            status::KEY_REFUSED,
            &[&[signing_key_error(e)]],
            &mut |x| emit(x),
        ),
    }
}

/// `SIGN` body: preset u8, lifetime u32, backdate u16, entropy str8, subject str8,
/// audience str8, jti str8. Presets: 0 plain (`iss` = `sub` = subject), 1 ZITADEL service
/// user, 2 ZITADEL API app, 3 ZITADEL System API, 4 Auth0 `private_key_jwt`.
#[cfg(feature = "signing")]
fn sign_request(
    key: &tokenguard::sign::SigningKey,
    body: &[u8],
    now: u64,
    work: &mut [u8],
) -> Result<usize, u8> {
    use tokenguard::assertion::{encode, presets, Aud, Claims};
    let bad = status::BAD_REQUEST;
    let mut r = Reader::new(body);
    let preset = r.u8().ok_or(bad)?;
    let lifetime = u64::from(r.u32().ok_or(bad)?);
    let backdate = u64::from(r.u16().ok_or(bad)?);
    let entropy = r.str8().ok_or(bad)?;
    fn text(b: Option<&[u8]>) -> Result<&str, u8> {
        b.and_then(|b| core::str::from_utf8(b).ok())
            .ok_or(status::BAD_REQUEST)
    }
    let subject = text(r.str8())?;
    let audience = text(r.str8())?;
    let jti = text(r.str8())?;
    let t = presets::Timing {
        now,
        backdate,
        lifetime,
    };
    let claims = match preset {
        0 => {
            let iat = now.saturating_sub(backdate);
            Ok(Claims {
                iss: Some(subject),
                sub: Some(subject),
                aud: if audience.is_empty() {
                    Aud::None
                } else {
                    Aud::One(audience)
                },
                iat: Some(iat),
                exp: Some(iat.saturating_add(lifetime)),
                jti: if jti.is_empty() { None } else { Some(jti) },
                ..Claims::EMPTY
            })
        }
        1 => presets::zitadel_service_user(subject, audience, t),
        2 => presets::zitadel_api_app(subject, audience, t),
        3 => presets::zitadel_system_api(subject, audience, now, backdate),
        4 => presets::auth0_private_key_jwt(subject, audience, jti, t),
        _ => return Err(bad),
    }
    .map_err(|_| bad)?;
    let entropy = if entropy.is_empty() {
        None
    } else {
        Some(entropy)
    };
    let tok = encode(key, Some("JWT"), &claims, entropy, work).map_err(|e| match e {
        tokenguard::sign::SignError::BufferTooSmall => status::FULL,
        tokenguard::sign::SignError::EntropyRequired => bad,
        _ => status::UNSUPPORTED,
    })?;
    Ok(tok.len())
}

fn parse_policy(body: &[u8]) -> Option<(u8, DevicePolicy)> {
    let mut r = Reader::new(body);
    let slot = r.u8()?;
    let flags = r.u8()?;
    let algs = AlgSet::from_bits(r.u16()?);
    let leeway = r.u16()?;
    let max_age = r.u32()?;
    let iss = Bounded::new(r.str8()?)?;
    let aud = Bounded::new(r.str8()?)?;
    let sub = Bounded::new(r.str8()?)?;
    let typ = Bounded::new(r.str8()?)?;
    if !r.rest().is_empty() || algs.is_empty() {
        return None;
    }
    Some((
        slot,
        DevicePolicy {
            flags,
            algs,
            leeway,
            max_age,
            iss,
            aud,
            sub,
            typ,
        },
    ))
}

/// Builds a `SET_POLICY` body (for clients).
#[expect(
    clippy::too_many_arguments,
    reason = "the request's parts and the device state, unpacked once"
)]
pub fn policy_body<'b>(
    out: &'b mut [u8],
    slot: u8,
    flags: u8,
    algs: AlgSet,
    leeway: u16,
    max_age: u32,
    iss: &str,
    aud: &str,
    sub: &str,
    typ: &str,
) -> Option<&'b [u8]> {
    let mut w = Writer::new(out);
    w.u8(slot)
        .u8(flags)
        .u16(algs.bits())
        .u16(leeway)
        .u32(max_age);
    w.str8(iss.as_bytes())
        .str8(aud.as_bytes())
        .str8(sub.as_bytes())
        .str8(typ.as_bytes());
    w.done()
}

/// The algorithm of a `VERIFY` reply's first byte.
pub fn alg_from_code(c: u8) -> Option<Algorithm> {
    Algorithm::ALL.get(usize::from(c)).copied()
}
