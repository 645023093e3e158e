//! tokenguard on a Cortex-M4F, with no heap and no global allocator: loads a JWK Set and
//! verifies a token at start-up. (The device protocol over the UART comes with the firmware
//! issue; this image proves the engine links and runs without an allocator.)

#![no_std]
#![no_main]

use core::hint::black_box;
use cortex_m_rt::entry;
use tokenguard::crypto::RustCrypto;
use tokenguard::{Expect, KeySet, Validation};

const JWKS: &[u8] = br#"{"keys":[{"kty":"oct","kid":"hs-1","alg":"HS256","k":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"},{"kty":"EC","crv":"P-256","kid":"ec-1","alg":"ES256","x":"YP7UuiVanTHJYet0xjVtaMBJuJI7Yfps5mliLmDyn7Y","y":"eQP-EAi4vJmkGunpVii8ZPLxsgwtfp9Rd6PClNRGIpk"}]}"#;
const TOKEN: &[u8] = b"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6ImhzLTEifQ.eyJpc3MiOiJodHRwczovL2lzc3Vlci5leGFtcGxlIiwiYXVkIjoiZGV2aWNlLTEiLCJzdWIiOiJ1MSIsImlhdCI6MTcwMDAwMDAwMCwibmJmIjoxNzAwMDAwMDAwLCJleHAiOjE3MDAwMDA2MDAsImp0aSI6ImotMSJ9.xxcJsXfFWu_v_RJX_C89rXkbAzfZ_kmmbaY-64E-3gg";

static mut KEYS: KeySet<8> = KeySet::new();

#[entry]
fn main() -> ! {
    // SAFETY: the only access to KEYS, before any interrupt is enabled.
    let keys = unsafe { &mut *core::ptr::addr_of_mut!(KEYS) };
    let _ = keys.load_jwks(black_box(JWKS), &mut |_| {});
    let v = Validation::new(Expect::One("https://issuer.example"), Expect::One("device-1"));
    let mut buf = [0u8; 512];
    let ok = keys.verify_with::<RustCrypto>(black_box(TOKEN), &v, 1_700_000_300, &mut buf).is_ok();
    black_box(ok);
    loop {
        cortex_m::asm::wfi();
    }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    loop {
        cortex_m::asm::udf();
    }
}
