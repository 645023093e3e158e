//! `tokenguard-sim device serve` (the simulated device over TCP) and `device qemu` (the real
//! firmware in QEMU, its UART bridged to TCP). Both speak the same protocol on a TCP port.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use tokenguard::crypto::RustCrypto;
use tokenguard::device::Device;
use tokenguard::RefreshPolicy;

/// Frame size of the device (the firmware's, see firmware/src/bin/device.rs).
pub const FRAME: usize = 1024;
/// Key slots of the firmware image.
pub const FIRMWARE_KEYS: usize = 8;

#[derive(Args, Debug)]
pub struct DeviceArgs {
    #[command(subcommand)]
    cmd: DeviceCmd,
}

#[derive(Subcommand, Debug)]
enum DeviceCmd {
    /// The simulated device (tokenguard's device logic, pure-Rust backend like the firmware).
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:4444")]
        listen: String,
        /// Key slots: 8 (the firmware's), 16, 32 or 64.
        #[arg(long, default_value_t = FIRMWARE_KEYS)]
        keys: usize,
    },
    /// Boots the firmware in QEMU (mps2-an386) with its UART on a TCP port.
    Qemu {
        /// Address for the UART's TCP server.
        #[arg(long, default_value = "127.0.0.1:4444")]
        listen: String,
        /// The firmware ELF (default: firmware/target/thumbv7em-none-eabihf/release/tokenguard-firmware).
        #[arg(long)]
        elf: Option<PathBuf>,
    },
}

pub fn run(args: DeviceArgs) -> anyhow::Result<i32> {
    match args.cmd {
        DeviceCmd::Serve { listen, keys } => {
            let l = TcpListener::bind(&listen).with_context(|| format!("binding {listen}"))?;
            eprintln!(
                "simulated device on {} ({keys} key slots, {FRAME}-byte frames)",
                l.local_addr()?
            );
            match keys {
                8 => serve::<8>(l),
                16 => serve::<16>(l),
                32 => serve::<32>(l),
                64 => serve::<64>(l),
                _ => bail!("--keys must be 8, 16, 32 or 64"),
            }
        }
        DeviceCmd::Qemu { listen, elf } => qemu(&listen, elf),
    }
}

/// Serves one connection at a time; the device keeps its state across connections, like
/// the firmware across host reconnects.
pub fn serve<const K: usize>(listener: TcpListener) -> anyhow::Result<i32> {
    let mut dev: Box<Device<K, FRAME>> = Box::new(Device::new(RefreshPolicy::DEFAULT));
    let start = Instant::now();
    for conn in listener.incoming() {
        let mut s = match conn {
            Ok(s) => s,
            Err(e) => {
                eprintln!("accept failed: {e}");
                continue;
            }
        };
        let _ = s.set_nodelay(true);
        let mut buf = [0u8; 512];
        loop {
            let n = match s.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let mut out = Vec::new();
            let now = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
            dev.feed_with::<RustCrypto>(&buf[..n], now, &mut |b| out.extend_from_slice(b));
            if !out.is_empty() && s.write_all(&out).is_err() {
                break;
            }
        }
    }
    Ok(0)
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn qemu(listen: &str, elf: Option<PathBuf>) -> anyhow::Result<i32> {
    let elf = elf.unwrap_or_else(|| {
        repo_root().join("firmware/target/thumbv7em-none-eabihf/release/tokenguard-firmware")
    });
    if !elf.exists() {
        bail!(
            "{} not found: build it with `cargo build --release` in firmware/ (or `cargo xtask fw-build`)",
            elf.display()
        );
    }
    let runner = repo_root().join("firmware/qemu-run.sh");
    let mut child = Command::new(&runner)
        .arg(&elf)
        .env(
            "TOKENGUARD_UART",
            format!("tcp:{listen},server=on,wait=off"),
        )
        .stdin(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {}", runner.display()))?;
    // Wait for QEMU's UART port to accept connections.
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(listen).is_err() {
        if Instant::now() > deadline {
            let _ = child.kill();
            bail!("QEMU did not open {listen}");
        }
        if let Some(status) = child.try_wait()? {
            bail!("QEMU exited early: {status}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    eprintln!("firmware running in QEMU; UART0 on {listen}");
    let status = child.wait()?;
    Ok(status.code().unwrap_or(1))
}
