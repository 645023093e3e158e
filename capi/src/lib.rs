//! tokenguard for C: heap-free JWT verification against a fixed-memory JWK cache, claim
//! validation, a replay cache and assertion minting, behind a C ABI.
//!
//! The C program owns every object: it declares `tg_cache`, `tg_policy`, `tg_replay` and
//! `tg_signer` (their sizes are constants of the header, checked against the Rust types at
//! compile time), initialises each with its `_init` function, and passes pointers. Every
//! call checks each pointer for NULL and each object for its init marker; every fallible
//! call returns a [`tg_result`], and outputs are written only on success. Nothing is
//! allocated, there is no global state, and no panic is reachable (the `panic-check` feature
//! proves it at link time).
//!
//! The C reference is the generated header `include/tokenguard.h` and `docs/c-api.md`.

#![cfg_attr(not(test), no_std)]
#![expect(
    non_camel_case_types,
    reason = "C names: tg_result, tg_cache, ... as the header spells them"
)]
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
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

mod cache;
mod claims;
mod ffi;
mod policy;
mod replay;
mod result;
#[cfg(feature = "signing")]
mod sign;

pub use cache::*;
pub use claims::*;
pub use policy::*;
pub use replay::*;
pub use result::*;
#[cfg(feature = "signing")]
pub use sign::*;

use core::ffi::c_char;

/// The backend every cache verifies with: the default (RustCrypto), in the `panic-check`
/// build too (built with `cortex-m`, so ES256 is the P256-Cortex-M4 assembly, whose calls
/// keep no bounds check; RustCrypto's `p256` keeps some and is outside the proof).
pub(crate) type Engine = tokenguard::DefaultBackend;

#[cfg(all(feature = "panic-check", feature = "signing"))]
compile_error!(
    "the panic-freedom proof covers verification: build `panic-check` without `signing`"
);

/// The library's major version.
pub const TG_VERSION_MAJOR: u32 = 0;
/// The library's minor version.
pub const TG_VERSION_MINOR: u32 = 1;
/// The library's patch version.
pub const TG_VERSION_PATCH: u32 = 0;

/// The most keys a `tg_cache` holds (pinned and fetched together).
pub const TG_MAX_KEYS: usize = 8;
/// The longest key id, in bytes.
pub const TG_MAX_KID_LEN: usize = 64;
const _: () = assert!(TG_MAX_KID_LEN == tokenguard::MAX_KID_LEN);

// The version macros follow the crate's version.
const _: () = {
    let v = tokenguard_version_parts();
    assert!(v.0 == TG_VERSION_MAJOR && v.1 == TG_VERSION_MINOR && v.2 == TG_VERSION_PATCH);
};

#[expect(
    clippy::indexing_slicing,
    reason = "evaluated at compile time only: an out-of-range index is a build error"
)]
const fn tokenguard_version_parts() -> (u32, u32, u32) {
    let b = env!("CARGO_PKG_VERSION").as_bytes();
    let mut parts = [0u32; 3];
    let (mut i, mut p) = (0, 0);
    while i < b.len() && p < 3 {
        let c = b[i];
        if c == b'.' {
            p += 1;
        } else if c.is_ascii_digit() {
            parts[p] = parts[p] * 10 + (c - b'0') as u32;
        } else {
            break;
        }
        i += 1;
    }
    (parts[0], parts[1], parts[2])
}

/// The library version as a NUL-terminated string, e.g. `"0.1.0"`.
#[no_mangle]
pub extern "C" fn tg_version() -> *const c_char {
    const V: &core::ffi::CStr = match core::ffi::CStr::from_bytes_with_nul(
        concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes(),
    ) {
        Ok(c) => c,
        Err(_) => c"?",
    };
    V.as_ptr()
}

/// With `panic-check`, the panic handler calls a symbol that exists nowhere: a program
/// linking the library links only if the optimizer proved every panic unreachable.
#[cfg(all(not(test), feature = "panic-check", not(tokenguard_panic_analyze)))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    extern "C" {
        fn tokenguard_capi_panic_is_reachable() -> !;
    }
    // SAFETY: never runs: the symbol is undefined, so a program in which this is reachable
    // does not link.
    unsafe { tokenguard_capi_panic_is_reachable() }
}

/// No panic is reachable (see `panic-check`); were one reached, the program stops here: on
/// a hosted system through the C library's `abort`, on bare metal in a loop.
#[cfg(all(not(test), any(not(feature = "panic-check"), tokenguard_panic_analyze)))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    #[cfg(not(target_os = "none"))]
    {
        extern "C" {
            fn abort() -> !;
        }
        // SAFETY: `abort` from the C library takes no arguments and never returns.
        unsafe { abort() }
    }
    #[cfg(target_os = "none")]
    loop {
        core::hint::spin_loop();
    }
}

#[cfg(test)]
mod layout_tests {
    use core::mem::{align_of, size_of};

    /// The storage types are exactly their header constants, 8-byte aligned, so a C program's
    /// `sizeof` agrees with the header's numbers.
    #[test]
    fn storage_is_the_header_size_and_8_byte_aligned() {
        assert_eq!(size_of::<crate::tg_cache>(), crate::TG_CACHE_SIZE);
        assert_eq!(size_of::<crate::tg_policy>(), crate::TG_POLICY_SIZE);
        assert_eq!(size_of::<crate::tg_replay>(), crate::TG_REPLAY_SIZE);
        assert_eq!(size_of::<crate::tg_signer>(), crate::TG_SIGNER_SIZE);
        for a in [
            align_of::<crate::tg_cache>(),
            align_of::<crate::tg_policy>(),
            align_of::<crate::tg_replay>(),
            align_of::<crate::tg_signer>(),
        ] {
            assert_eq!(a, 8);
        }
    }
}
