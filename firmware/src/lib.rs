//! Board support for tokenguard on QEMU's mps2-an386 (ARM MPS2 FPGA image AN386:
//! Cortex-M4F, 25 MHz): a CMSDK APB UART driver implementing embedded-io, a millisecond
//! clock on SysTick, the CMSDK TIMER0 as a tick counter for benchmarks, stack painting,
//! and a panic handler that reports through defmt and ends the QEMU run.
//!
//! This crate is the only place with `unsafe`: memory-mapped registers and the stack
//! region, each access with its invariant next to it.

#![no_std]

use core::convert::Infallible;
use core::ptr::{read_volatile, write_volatile};
use core::sync::atomic::{AtomicU32, Ordering};

#[cfg(not(feature = "panic-check"))]
use defmt_semihosting as _;

/// The panic-check image logs nothing: the semihosting logger has panics of its own
/// (re-entrancy assertions) that are not tokenguard's.
#[cfg(feature = "panic-check")]
#[defmt::global_logger]
struct NullLogger;

// SAFETY: a logger that does nothing is trivially sound.
#[cfg(feature = "panic-check")]
unsafe impl defmt::Logger for NullLogger {
    fn acquire() {}
    unsafe fn flush() {}
    unsafe fn release() {}
    unsafe fn write(_bytes: &[u8]) {}
}

pub mod fixtures;

/// Core clock of the AN386 image (SysTick and the CMSDK timers run at it).
pub const CORE_HZ: u32 = 25_000_000;
/// `cargo xtask fw-bench` runs QEMU with `-icount shift=7`: every instruction takes 128 ns of
/// virtual time, 3.2 ticks of the 25 MHz timer, so a tick count converts to an exact
/// instruction count (see [`instructions`]).
pub const ICOUNT_SHIFT: u32 = 7;

/// Instructions executed in `ticks` ticks of [`Ticks`] under `-icount shift=7`.
///
/// Two timer reads `n` instructions apart differ by more than `3.2n - 1` and less than
/// `3.2n + 1` ticks, so rounding `ticks * 40 ns / 128 ns` gives exactly `n`.
pub fn instructions(ticks: u32) -> u32 {
    let ns = u64::from(ticks) * u64::from(1_000_000_000 / CORE_HZ);
    let per_insn = 1u64 << ICOUNT_SHIFT;
    u32::try_from((ns + per_insn / 2) / per_insn).unwrap_or(u32::MAX)
}

/// CMSDK APB UART (UART0 of mps2-an386 is at 0x4000_4000).
pub struct Uart {
    base: usize,
}

const UART0: usize = 0x4000_4000;
const UART_DATA: usize = 0x00;
const UART_STATE: usize = 0x04;
const UART_CTRL: usize = 0x08;
const UART_INTCLEAR: usize = 0x0C;
const UART_BAUDDIV: usize = 0x10;
const STATE_TX_FULL: u32 = 1 << 0;
const STATE_RX_FULL: u32 = 1 << 1;
/// CTRL: TX enable, RX enable, RX interrupt enable.
const CTRL_TX_RX_RXINT: u32 = 0b1011;
/// UART0's receive interrupt on the AN386 image (IRQ 0; its transmit interrupt is IRQ 1).
const UART0_RX_IRQ: u32 = 0;
/// NVIC interrupt set-enable register 0.
const NVIC_ISER0: usize = 0xE000_E100;

impl Uart {
    /// UART0 of the AN386 image, enabled for TX and RX, with its receive interrupt on so
    /// that [`embedded_io::Read::read`] sleeps (`wfi`) until a byte arrives instead of
    /// polling: under QEMU, polling holds the emulator's I/O lock and lets bytes in at
    /// about 4 ms each.
    ///
    /// # Safety
    /// Only one `Uart` for a given base address may exist (it owns the registers).
    pub unsafe fn uart0() -> Self {
        let u = Uart { base: UART0 };
        u.write_reg(UART_BAUDDIV, 16);
        u.write_reg(UART_CTRL, CTRL_TX_RX_RXINT);
        // SAFETY: NVIC ISER0 is write-1-to-enable; enabling IRQ 0 only lets UART0's receive
        // interrupt run `DefaultHandler`, which acknowledges it.
        unsafe { write_volatile(NVIC_ISER0 as *mut u32, 1 << UART0_RX_IRQ) };
        u
    }

    fn read_reg(&self, off: usize) -> u32 {
        // SAFETY: `base + off` is a CMSDK UART register of this board (owned by `self`);
        // volatile, aligned 32-bit accesses are how the peripheral is driven.
        unsafe { read_volatile((self.base + off) as *const u32) }
    }

    fn write_reg(&self, off: usize, v: u32) {
        // SAFETY: as in `read_reg`.
        unsafe { write_volatile((self.base + off) as *mut u32, v) }
    }

    /// A received byte, if one is waiting.
    pub fn try_read(&mut self) -> Option<u8> {
        if self.read_reg(UART_STATE) & STATE_RX_FULL != 0 {
            let [byte, ..] = self.read_reg(UART_DATA).to_le_bytes();
            Some(byte)
        } else {
            None
        }
    }

    /// Sends one byte, waiting for room.
    pub fn write_byte(&mut self, b: u8) {
        while self.read_reg(UART_STATE) & STATE_TX_FULL != 0 {}
        self.write_reg(UART_DATA, u32::from(b));
    }
}

impl embedded_io::ErrorType for Uart {
    type Error = Infallible;
}

impl embedded_io::Read for Uart {
    /// Blocks until at least one byte arrives, then returns what is waiting.
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Infallible> {
        if buf.is_empty() {
            return Ok(0);
        }
        let mut n = 0;
        while n == 0 {
            while let Some(b) = self.try_read() {
                if let Some(slot) = buf.get_mut(n) {
                    *slot = b;
                    n += 1;
                }
                if n == buf.len() {
                    break;
                }
            }
            if n == 0 {
                // Sleep until the receive interrupt (or the 1 kHz SysTick, which bounds the
                // wait if a byte landed between the check above and this instruction).
                cortex_m::asm::wfi();
            }
        }
        Ok(n)
    }
}

impl embedded_io::Write for Uart {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Infallible> {
        for &b in buf {
            self.write_byte(b);
        }
        Ok(buf.len())
    }

    fn write_all(&mut self, buf: &[u8]) -> Result<(), Infallible> {
        // Overridden: the default loop panics if `write` returns `Ok(0)`, which this UART
        // never does, but the optimizer cannot see that.
        for &b in buf {
            self.write_byte(b);
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), Infallible> {
        Ok(())
    }
}

static MILLIS: AtomicU32 = AtomicU32::new(0);

/// A millisecond clock on SysTick (1 kHz interrupt).
pub struct SysTickClock {
    last: u32,
    high: u64,
}

impl SysTickClock {
    /// Starts SysTick at 1 kHz from the core clock.
    pub fn start(mut syst: cortex_m::peripheral::SYST) -> Self {
        use cortex_m::peripheral::syst::SystClkSource;
        syst.set_clock_source(SystClkSource::Core);
        syst.set_reload(CORE_HZ / 1000 - 1);
        syst.clear_current();
        syst.enable_interrupt();
        syst.enable_counter();
        SysTickClock { last: 0, high: 0 }
    }
}

impl tokenguard_device::Clock for SysTickClock {
    fn now_millis(&mut self) -> u64 {
        let now = MILLIS.load(Ordering::Relaxed);
        if now < self.last {
            self.high += 1 << 32;
        }
        self.last = now;
        self.high | u64::from(now)
    }
}

#[cortex_m_rt::exception]
fn SysTick() {
    MILLIS.fetch_add(1, Ordering::Relaxed);
}

/// The CMSDK TIMER0 (0x4000_0000) as a free-running 32-bit down-counter at 25 MHz.
pub struct Ticks;

const TIMER0: usize = 0x4000_0000;

impl Ticks {
    /// Starts TIMER0 from 0xFFFF_FFFF, counting down, no interrupt.
    pub fn start() -> Self {
        // SAFETY: TIMER0's CTRL (+0) and RELOAD (+8) registers; this program is the only
        // user of TIMER0.
        unsafe {
            write_volatile((TIMER0 + 0x8) as *mut u32, u32::MAX);
            write_volatile((TIMER0 + 0x4) as *mut u32, u32::MAX);
            write_volatile(TIMER0 as *mut u32, 1);
        }
        Ticks
    }

    /// Ticks elapsed since start (wraps after 171 s).
    pub fn now(&self) -> u32 {
        // SAFETY: TIMER0's VALUE register (+4), read-only use.
        u32::MAX - unsafe { read_volatile((TIMER0 + 0x4) as *const u32) }
    }
}

extern "C" {
    static mut _stack_start: u32;
    static mut __sheap: u32;
}

const PAINT: u32 = 0xC0FF_EE55;

/// Fills the unused stack (from the end of static RAM up to 256 bytes below the current
/// stack pointer) with a pattern, for [`stack_peak`]. Returns the stack in use now, to
/// subtract from a later peak.
#[inline(never)]
pub fn paint_stack() -> u32 {
    let sp = cortex_m::register::msp::read() as usize;
    // `__sheap` (cortex-m-rt) is the end of .bss/.data, the start of the free region.
    let bottom = core::ptr::addr_of!(__sheap) as usize;
    let limit = sp.saturating_sub(256);
    let mut p = bottom;
    while p + 4 <= limit {
        // SAFETY: [bottom, sp - 256) is free RAM between static data and the live stack.
        unsafe { write_volatile(p as *mut u32, PAINT) };
        p += 4;
    }
    let top = core::ptr::addr_of!(_stack_start) as usize;
    u32::try_from(top - sp).unwrap_or(u32::MAX)
}

/// Bytes of stack used so far (since the last [`paint_stack`]): the distance from the stack
/// top to the lowest word that no longer holds the pattern.
pub fn stack_peak() -> u32 {
    let bottom = core::ptr::addr_of!(__sheap) as usize;
    let top = core::ptr::addr_of!(_stack_start) as usize;
    let mut p = bottom;
    // SAFETY: reading painted free RAM below the live stack.
    while p < top && unsafe { read_volatile(p as *const u32) } == PAINT {
        p += 4;
    }
    u32::try_from(top - p).unwrap_or(u32::MAX)
}

/// Size of static RAM (`.data` + `.bss`) in bytes.
pub fn static_ram() -> u32 {
    let end = core::ptr::addr_of!(__sheap) as usize;
    u32::try_from(end - 0x2000_0000).unwrap_or(u32::MAX)
}

/// Ends the QEMU run with `code` (semihosting).
pub fn exit(code: i32) -> ! {
    semihosting::process::exit(code)
}

/// With `panic-check`, the panic handler calls a symbol that exists nowhere: the image links
/// only if the optimizer proved every panic unreachable (`cargo xtask fw-panic-check`).
/// (Built with `--cfg tokenguard_panic_analyze` the handler is defined, so the image links and
/// the remaining panic sites can be listed from its disassembly.)
#[cfg(all(feature = "panic-check", not(tokenguard_panic_analyze)))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    extern "C" {
        fn tokenguard_panic_is_reachable() -> !;
    }
    // SAFETY: never runs: the symbol is undefined, so an image in which this is reachable
    // does not link.
    unsafe { tokenguard_panic_is_reachable() }
}

#[cfg(all(feature = "panic-check", tokenguard_panic_analyze))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    exit(101)
}

#[cfg(not(feature = "panic-check"))]
#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    // The location only: formatting the message would pull core::fmt into every image.
    match info.location() {
        Some(l) => defmt::error!("panic at {=str}:{=u32}", l.file(), l.line()),
        None => defmt::error!("panic"),
    }
    exit(101)
}

/// The device part of the vector table: IRQ 0, UART0's receive interrupt, the only one the
/// firmware enables ([`Uart::uart0`]). cortex-m-rt's default table has 240 entries, all
/// `DefaultHandler`: 956 bytes of flash for interrupts that are never enabled.
#[link_section = ".vector_table.interrupts"]
#[no_mangle]
pub static __INTERRUPTS: [unsafe extern "C" fn(); 1] = [DefaultHandler];

extern "C" {
    fn DefaultHandler();
}

/// Device interrupts: only UART0's receive interrupt is enabled; acknowledging it is all
/// there is to do (the byte is read by [`Uart::read`], which the interrupt woke).
#[cortex_m_rt::exception]
unsafe fn DefaultHandler(_irqn: i16) {
    // SAFETY: UART0's INTCLEAR register, write-1-to-clear; clearing the receive interrupt
    // does not touch the received byte.
    unsafe { write_volatile((UART0 + UART_INTCLEAR) as *mut u32, STATE_RX_FULL) };
}

#[cortex_m_rt::exception]
unsafe fn HardFault(frame: &cortex_m_rt::ExceptionFrame) -> ! {
    defmt::error!("HardFault at pc={=u32:#x}", frame.pc());
    exit(102)
}

defmt::timestamp!("{=u32:ms}", MILLIS.load(Ordering::Relaxed));

/// A backend for a verification-only device that needs ES256 and RS256 and nothing else (the
/// firmware's `es256-rs256` feature): SHA-256, P256-Cortex-M4 and tokenguard's RSA. It
/// declares those two algorithms ([`tokenguard::Backend::ALGORITHMS`]), so every other one
/// is refused with `alg_not_allowed` (and left out of `INFO`), and the code behind them is
/// never reached: the linker drops Ed25519, P-384, SHA-384/512 and HMAC.
pub struct Es256Rs256;

impl tokenguard::Backend for Es256Rs256 {
    type KeyState = ();
    const ALGORITHMS: tokenguard::AlgSet =
        tokenguard::AlgSet::from_slice(&[tokenguard::alg::RS256, tokenguard::alg::ES256]);

    fn digest(alg: tokenguard::alg::HashAlg, parts: &[&[u8]]) -> tokenguard::crypto::Digest {
        match alg {
            tokenguard::alg::HashAlg::Sha256 => {
                <tokenguard::crypto::RustCrypto as tokenguard::Backend>::digest(alg, parts)
            }
            // Only RS384/512, PS384/512, HS384/512 and ES384 hash with these, and this
            // backend refuses them before any hashing: an empty digest never matches.
            _ => tokenguard::crypto::Digest::new([0; 64], 0),
        }
    }

    fn hmac_verify(
        _: tokenguard::alg::HashAlg,
        _: &[u8],
        _: &[u8],
        _: &[u8],
    ) -> Result<(), tokenguard::Unspecified> {
        Err(tokenguard::Unspecified)
    }

    fn ecdsa_verify(
        curve: tokenguard::Curve,
        point: &[u8],
        msg: &[u8],
        sig: &[u8],
    ) -> Result<(), tokenguard::Unspecified> {
        match curve {
            tokenguard::Curve::P256 => {
                <tokenguard::crypto::RustCrypto as tokenguard::Backend>::ecdsa_verify(
                    curve, point, msg, sig,
                )
            }
            _ => Err(tokenguard::Unspecified),
        }
    }

    fn ed25519_verify(_: &[u8; 32], _: &[u8], _: &[u8; 64]) -> Result<(), tokenguard::Unspecified> {
        Err(tokenguard::Unspecified)
    }
}

// Flash: compiler-builtins' memory routines take 1.3 KB (its `memcpy` alone 730 bytes, each
// EABI entry point a body of its own under LTO). These are the device's own: a copy or fill a
// word at a time when the addresses allow it, else a byte at a time, every EABI entry point
// an alias or a register shuffle in front of them. Assembly, not Rust: the compiler turns a
// Rust loop that copies or fills back into a call to these very routines.
core::arch::global_asm!(
    ".section .text.tokenguard_mem,\"ax\",%progbits",
    ".thumb",
    ".syntax unified",
    // memcpy(dest, src, n) -> dest; the EABI copies return nothing.
    ".global memcpy",
    ".global __aeabi_memcpy",
    ".global __aeabi_memcpy4",
    ".global __aeabi_memcpy8",
    ".thumb_func",
    "memcpy:",
    ".thumb_func",
    "__aeabi_memcpy:",
    "orr r3, r0, r1",
    "lsls r3, r3, #30",
    "bne 3f",
    ".thumb_func",
    "__aeabi_memcpy4:",
    ".thumb_func",
    "__aeabi_memcpy8:",
    "mov r12, r0",
    "subs r2, r2, #4",
    "bcc 2f",
    "1:",
    "ldr r3, [r1], #4",
    "str r3, [r12], #4",
    "subs r2, r2, #4",
    "bcs 1b",
    "2:",
    "adds r2, r2, #4",
    "b 4f",
    "3:",
    "mov r12, r0",
    "4:",
    "cbz r2, 6f",
    "5:",
    "ldrb r3, [r1], #1",
    "strb r3, [r12], #1",
    "subs r2, r2, #1",
    "bne 5b",
    "6:",
    "bx lr",
    // memset(dest, c, n) -> dest; __aeabi_memset*(dest, n, c); __aeabi_memclr*(dest, n).
    ".global memset",
    ".global __aeabi_memset",
    ".global __aeabi_memset4",
    ".global __aeabi_memset8",
    ".global __aeabi_memclr",
    ".global __aeabi_memclr4",
    ".global __aeabi_memclr8",
    ".thumb_func",
    "__aeabi_memclr:",
    ".thumb_func",
    "__aeabi_memclr4:",
    ".thumb_func",
    "__aeabi_memclr8:",
    "mov r2, r1",
    "movs r1, #0",
    "b memset",
    ".thumb_func",
    "__aeabi_memset:",
    ".thumb_func",
    "__aeabi_memset4:",
    ".thumb_func",
    "__aeabi_memset8:",
    "mov r3, r1",
    "mov r1, r2",
    "mov r2, r3",
    ".thumb_func",
    "memset:",
    "mov r12, r0",
    "uxtb r1, r1",
    "orr r1, r1, r1, lsl #8",
    "orr r1, r1, r1, lsl #16",
    "lsls r3, r0, #30",
    "bne 4f",
    "subs r2, r2, #4",
    "bcc 2f",
    "1:",
    "str r1, [r12], #4",
    "subs r2, r2, #4",
    "bcs 1b",
    "2:",
    "adds r2, r2, #4",
    "4:",
    "cbz r2, 6f",
    "5:",
    "strb r1, [r12], #1",
    "subs r2, r2, #1",
    "bne 5b",
    "6:",
    "bx lr",
);
