//! The tokenguard device: the request/response protocol over UART0, time from SysTick.
//! `cargo run --release` boots it in QEMU with UART0 on 127.0.0.1:4444 (see qemu-run.sh).

#![no_std]
#![no_main]

use cortex_m_rt::entry;
use embedded_io::{Read, Write};
use tokenguard::RefreshPolicy;
use tokenguard_device::{Clock, Device};
use tokenguard_firmware::{self as board, SysTickClock, Uart};

/// Key slots and frame size: the same limits the simulator uses (`device serve`).
pub const KEYS: usize = 8;
pub const FRAME: usize = 1024;

#[entry]
fn main() -> ! {
    board::paint_stack();
    let Some(cp) = cortex_m::Peripherals::take() else {
        board::exit(1)
    };
    let mut clock = SysTickClock::start(cp.SYST);
    // SAFETY: the only UART0 handle in this program.
    let mut uart = unsafe { Uart::uart0() };
    // The device lives in this frame, which never returns: built in place, it is counted
    // once, in the stack figure (a static would be built on the stack and copied, and
    // cost its size twice).
    let mut device: Device<KEYS, FRAME> = Device::new(RefreshPolicy::DEFAULT);
    let dev = &mut device;
    defmt::info!(
        "tokenguard device: {} key slots, payloads up to {} bytes, static RAM {} bytes",
        KEYS,
        Device::<KEYS, FRAME>::MAX_PAYLOAD,
        board::static_ram()
    );
    let mut buf = [0u8; 64];
    loop {
        let Ok(n) = uart.read(&mut buf);
        let now = clock.now_millis();
        let bytes = buf.get(..n).unwrap_or(&[]);
        let mut send = |out: &[u8]| {
            let _ = uart.write_all(out);
        };
        #[cfg(feature = "es256-rs256")]
        dev.feed_with::<board::Es256Rs256>(bytes, now, &mut send);
        #[cfg(not(feature = "es256-rs256"))]
        dev.feed(bytes, now, &mut send);
        dev.set_peak_stack(board::stack_peak());
    }
}
