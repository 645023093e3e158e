//! Link-time proof that the device cannot panic on input (`cargo xtask fw-panic-check`).
//!
//! Built with `--features panic-check`, the panic handler calls a symbol that is defined
//! nowhere, so this image links only if the optimizer proved every panic unreachable. It is
//! the device firmware (frames, every command, the JWK cache and JWK Set streaming, JSON,
//! base64url, header and claims policy) verifying every algorithm on the device's own backend
//! (the default, RustCrypto): HS256/384/512 on the compact SHA-2, RS256/384/512 and
//! PS256/384/512 on tokenguard's own RSA arithmetic, ES384 and EdDSA on its own curve
//! arithmetic, ES256 through the P256-Cortex-M4 assembly.

#![no_std]
#![no_main]

use core::mem::MaybeUninit;
use core::ptr::addr_of_mut;

use cortex_m_rt::entry;
use embedded_io::{Read, Write};
use tokenguard::RefreshPolicy;
use tokenguard_device::{Clock, Device};
use tokenguard_firmware::{self as board, SysTickClock, Uart};

#[link_section = ".uninit.DEVICE"]
static mut DEVICE: MaybeUninit<Device<8, 1024>> = MaybeUninit::uninit();

#[entry]
fn main() -> ! {
    let Some(cp) = cortex_m::Peripherals::take() else {
        board::exit(1)
    };
    let mut clock = SysTickClock::start(cp.SYST);
    // SAFETY: the only UART0 handle in this program.
    let mut uart = unsafe { Uart::uart0() };
    // SAFETY: DEVICE is only touched here, from the single thread of `main`, and is written
    // before it is read.
    let dev = unsafe { (*addr_of_mut!(DEVICE)).write(Device::new(RefreshPolicy::DEFAULT)) };
    let mut buf = [0u8; 64];
    loop {
        let Ok(n) = uart.read(&mut buf);
        let now = clock.now_millis();
        dev.feed(buf.get(..n).unwrap_or(&[]), now, &mut |out| {
            let _ = uart.write_all(out);
        });
    }
}
