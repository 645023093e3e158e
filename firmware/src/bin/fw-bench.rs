//! Deterministic cost of tokenguard on the Cortex-M4 model: run under `-icount shift=0`
//! (1 instruction = 1 ns of virtual time) and read TIMER0 at 25 MHz, so one tick is 40
//! instructions. Prints, per algorithm, instructions per full-token verify (split,
//! base64url, JSON, claims, signature), the key import cost, and peak stack per operation.
//! `cargo xtask fw-bench` runs it and writes docs/firmware.md.

#![no_std]
#![no_main]

use core::ptr::addr_of_mut;

use cortex_m_rt::entry;
use tokenguard::crypto::RustCrypto;
use tokenguard::{Expect, Jwk, KeySet, Validation};
use tokenguard_firmware::fixtures::{AUDIENCE, FIXTURES, HS256_SMALL, ISSUER, NOW};
use tokenguard_firmware::{self as board, Ticks, INSTRUCTIONS_PER_TICK};

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
            best * INSTRUCTIONS_PER_TICK,
            import * INSTRUCTIONS_PER_TICK,
            stack,
            import_stack
        );
    }
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
