//! Deterministic cost of tokenguard on the Cortex-M4 model: run under `-icount shift=7`
//! (1 instruction = 128 ns of virtual time) and read TIMER0 at 25 MHz (3.2 ticks per
//! instruction), so every count is exact to the instruction. Prints, per algorithm, instructions per full-token verify (split,
//! base64url, JSON, claims, signature), the key import cost, and peak stack per operation;
//! with the `signing` feature, instructions per minted assertion (ES256, RS256, EdDSA).
//! `cargo xtask fw-bench` runs it and writes docs/firmware.md.

#![no_std]
#![no_main]

use core::ptr::addr_of_mut;

use cortex_m_rt::entry;
use tokenguard::crypto::RustCrypto;
use tokenguard::{Expect, Jwk, KeySet, Validation};
use tokenguard_firmware::fixtures::{AUDIENCE, FIXTURES, HS256_SMALL, ISSUER, NOW};
use tokenguard_firmware::{self as board, instructions, Ticks};

static mut KEYS: KeySet<1> = KeySet::new();

/// Kept out of line so its stack frame is below the painted mark, not in `main`'s.
#[inline(never)]
fn import(jwk: &str) -> Option<Jwk> {
    Jwk::from_json(core::hint::black_box(jwk.as_bytes())).ok()
}

#[inline(never)]
fn verify(keys: &KeySet<1>, token: &str, v: &Validation<'_>, buf: &mut [u8]) -> bool {
    keys.verify_with::<RustCrypto>(core::hint::black_box(token.as_bytes()), v, NOW, buf)
        .is_ok()
}

/// A signing key of `alg` (ES256, RS256 or EdDSA): fixed test keys (the RSA one is the
/// repository's `tests/data/rsa2048.pkcs8.der`).
///
/// `variant` 1 and 2 are other keys of the same kind (a scalar with a leading zero byte
/// among them) for ES256 and EdDSA; RS256 has one key and varies the message instead.
#[cfg(feature = "signing")]
#[inline(never)]
fn signing_key(alg: &str, variant: u8) -> Option<tokenguard::sign::SigningKey> {
    use tokenguard::sign::SigningKey;
    const RSA_DER: &[u8] = include_bytes!("../../../tests/data/rsa2048.pkcs8.der");
    let mut scalar = [[7u8; 32], [0x42u8; 32], [0xA5u8; 32]][usize::from(variant % 3)];
    if variant == 2 {
        scalar[0] = 0;
    }
    match alg {
        "ES256" => SigningKey::ec(Some(b"dev-es"), tokenguard::Curve::P256, &scalar).ok(),
        "RS256" => {
            SigningKey::from_pem_or_der(RSA_DER, Some(b"dev-rs"), Some(tokenguard::alg::RS256)).ok()
        }
        "EdDSA" => SigningKey::ed25519(Some(b"dev-ed"), &scalar).ok(),
        _ => None,
    }
}

/// `jti` values of one length: the RS256 constant-time check signs each.
#[cfg(feature = "signing")]
const JTI: [&str; 3] = ["a1b2c3d4e5f6", "zzzzzzzzzzzz", "000000000000"];

/// One whole assertion, as a device mints it: header and claims JSON, base64url, hash and
/// signature (RFC 7523 claims, 1-hour lifetime).
#[cfg(feature = "signing")]
#[inline(never)]
fn mint<'o>(key: &tokenguard::sign::SigningKey, jti: &str, out: &'o mut [u8]) -> Option<&'o str> {
    use tokenguard::assertion::{encode, Aud, Claims};
    let claims = Claims {
        iss: Some(ISSUER),
        sub: Some("device-0042"),
        aud: Aud::One(AUDIENCE),
        iat: Some(NOW),
        exp: Some(NOW + 3600),
        jti: Some(jti),
        ..Claims::EMPTY
    };
    encode(core::hint::black_box(key), Some("JWT"), &claims, None, out).ok()
}

/// Signing on the device: instructions per assertion (best of three), per assertion with the
/// self-check the SIGN command adds, building the key, and the stack each adds; every
/// assertion is verified by the device's own verifier.
#[cfg(feature = "signing")]
fn sign_bench(ticks: &Ticks, keys: &mut KeySet<1>, buf: &mut [u8; 1024]) {
    let v = Validation::new(Expect::One(ISSUER), Expect::One(AUDIENCE));
    for alg in ["ES256", "RS256", "EdDSA"] {
        let base = board::paint_stack();
        let t0 = ticks.now();
        let Some(key) = signing_key(alg, 0) else {
            defmt::error!("{}: signing key refused", alg);
            board::exit(1)
        };
        let key_insns = ticks.now().wrapping_sub(t0);
        let key_stack = board::stack_peak().saturating_sub(base);
        let mut best = u32::MAX;
        let mut stack = 0;
        let mut out = [0u8; 1024];
        let mut len = 0;
        for _ in 0..3 {
            let base = board::paint_stack();
            let t0 = ticks.now();
            let token = mint(&key, JTI[0], &mut out).map(str::len);
            let dt = ticks.now().wrapping_sub(t0);
            stack = stack.max(board::stack_peak().saturating_sub(base));
            let Some(n) = token else {
                defmt::error!("{}: signing failed", alg);
                board::exit(1)
            };
            len = n;
            best = best.min(dt);
        }
        // As the SIGN command signs: every signature verified before it leaves the device.
        let checked = key.clone().with_self_check(true);
        let t0 = ticks.now();
        if mint(&checked, JTI[0], &mut out).is_none() {
            defmt::error!("{}: self-checked signing failed", alg);
            board::exit(1);
        }
        let checked_insns = ticks.now().wrapping_sub(t0);
        drop(checked);
        keys.clear_unpinned();
        let public = key.public_jwk().ok();
        let token = out.get(..len).and_then(|t| core::str::from_utf8(t).ok());
        let verified = match (public, token) {
            (Some(jwk), Some(token)) => keys.insert(jwk).is_ok() && verify(keys, token, &v, buf),
            _ => false,
        };
        if !verified {
            defmt::error!("{}: the device's assertion does not verify", alg);
            board::exit(1);
        }
        // Constant time on the device: the same count for other keys (ES256, EdDSA) or other
        // messages (RS256); QEMU counts instructions exactly, so any branch on a secret or
        // message bit that changes the path shows as a spread.
        let (mut lo, mut hi) = (best, best);
        for variant in 1..3u8 {
            let other = if alg == "RS256" {
                None
            } else {
                signing_key(alg, variant)
            };
            let signer = other.as_ref().unwrap_or(&key);
            let jti = if alg == "RS256" {
                JTI[usize::from(variant)]
            } else {
                JTI[0]
            };
            let t0 = ticks.now();
            let ok = mint(signer, jti, &mut out).is_some();
            let dt = ticks.now().wrapping_sub(t0);
            if !ok {
                board::exit(1);
            }
            lo = lo.min(dt);
            hi = hi.max(dt);
        }
        defmt::info!(
            "fw-bench sign-alg={=str} sign_insns={=u32} ct_spread={=u32} checked_insns={=u32} key_insns={=u32} sign_stack={=u32} key_stack={=u32} token_len={=usize}",
            alg,
            instructions(best),
            instructions(hi) - instructions(lo),
            instructions(checked_insns),
            instructions(key_insns),
            stack,
            key_stack,
            len
        );
    }
}

#[entry]
fn main() -> ! {
    let ticks = Ticks::start();
    // SAFETY: single-threaded; the only reference to KEYS.
    let keys = unsafe { &mut *addr_of_mut!(KEYS) };
    let v = Validation::new(Expect::One(ISSUER), Expect::One(AUDIENCE));
    let mut buf = [0u8; 1024];
    defmt::info!("fw-bench static_ram={=u32}", board::static_ram());
    let small = ("HS256-300B", FIXTURES[0].1, HS256_SMALL);
    for (alg, jwk, token) in FIXTURES.into_iter().chain(core::iter::once(small)) {
        let base = board::paint_stack();
        let t0 = ticks.now();
        let Some(key) = import(jwk) else {
            defmt::error!("{}: key refused", alg);
            board::exit(1)
        };
        let import = ticks.now().wrapping_sub(t0);
        let import_stack = board::stack_peak().saturating_sub(base);
        keys.clear_unpinned();
        if keys.insert(key).is_err() {
            board::exit(1);
        }
        let mut best = u32::MAX;
        let mut stack = 0;
        for _ in 0..3 {
            let base = board::paint_stack();
            let t0 = ticks.now();
            let ok = verify(keys, token, &v, &mut buf);
            let dt = ticks.now().wrapping_sub(t0);
            stack = stack.max(board::stack_peak().saturating_sub(base));
            if !ok {
                defmt::error!("{}: token rejected", alg);
                board::exit(1);
            }
            best = best.min(dt);
        }
        defmt::info!(
            "fw-bench alg={=str} verify_insns={=u32} import_insns={=u32} verify_stack={=u32} import_stack={=u32}",
            alg,
            instructions(best),
            instructions(import),
            stack,
            import_stack
        );
    }
    #[cfg(feature = "signing")]
    sign_bench(&ticks, keys, &mut buf);
    // Where the device's static RAM goes (sizes on this target).
    {
        use core::mem::size_of;
        use tokenguard_device::Device;
        defmt::info!(
            "fw-bench sizes device={=usize} cache={=usize} jwk={=usize} pending={=usize}",
            size_of::<Device<8, 1024>>(),
            size_of::<tokenguard::JwkCache<8>>(),
            size_of::<tokenguard::Jwk>(),
            size_of::<tokenguard::PendingUpdate>()
        );
    }
    defmt::info!("fw-bench done");
    board::exit(0)
}
