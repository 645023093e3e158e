//! `tokenguard-sim device serve` (the simulated device over TCP) and `device qemu` (the real
//! firmware in QEMU, its UART bridged to TCP). Both speak the same protocol on a TCP port.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
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
        /// Address to listen on; port 0 picks a free one. The bound address is the first
        /// line on stdout: `listening on ADDR`.
        #[arg(long, default_value = "127.0.0.1:4444")]
        listen: String,
        /// Key slots: 8 (the firmware's), 16, 32 or 64.
        #[arg(long, default_value_t = FIRMWARE_KEYS)]
        keys: usize,
    },
    /// Boots the firmware in QEMU (mps2-an386) with its UART on a TCP port.
    Qemu {
        /// Address of the TCP server bridged to the UART; port 0 picks a free one. The bound
        /// address is the first line on stdout: `listening on ADDR`.
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
            announce(l.local_addr()?)?;
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
    let mut out = Vec::new();
    one_client_at_a_time(
        listener,
        |_| Ok(()),
        |s, bytes| {
            out.clear();
            let now = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
            dev.feed_with::<RustCrypto>(bytes, now, &mut |b| out.extend_from_slice(b));
            Ok(out.is_empty() || s.write_all(&out).is_ok())
        },
    )
}

/// Accepts TCP clients one at a time. `connected` hears of each client (`Some`) and of its
/// leaving (`None`); `chunk` gets every chunk the client sends, with the client for replies,
/// and returns `false` to hang up on it. An `Err` from either stops serving.
fn one_client_at_a_time(
    listener: TcpListener,
    mut connected: impl FnMut(Option<&TcpStream>) -> anyhow::Result<()>,
    mut chunk: impl FnMut(&mut TcpStream, &[u8]) -> anyhow::Result<bool>,
) -> anyhow::Result<i32> {
    for conn in listener.incoming() {
        let mut s = match conn {
            Ok(s) => s,
            Err(e) => {
                eprintln!("accept failed: {e}");
                continue;
            }
        };
        let _ = s.set_nodelay(true);
        connected(Some(&s))?;
        let mut buf = [0u8; 1024];
        loop {
            let n = match s.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if !chunk(&mut s, &buf[..n])? {
                break;
            }
        }
        connected(None)?;
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
    // This process owns the TCP port (so `--listen 127.0.0.1:0` gets a port nobody else
    // can take); QEMU's UART is a Unix socket that only this bridge connects to.
    let listener = TcpListener::bind(listen).with_context(|| format!("binding {listen}"))?;
    let sock = std::env::temp_dir().join(format!(
        "tokenguard-uart-{}-{}.sock",
        std::process::id(),
        listener.local_addr()?.port()
    ));
    let _ = std::fs::remove_file(&sock);
    let runner = repo_root().join("firmware/qemu-run.sh");
    let mut child = Command::new(&runner)
        .arg(&elf)
        .env(
            "TOKENGUARD_UART",
            format!("unix:{},server=on,wait=off", sock.display()),
        )
        .stdin(Stdio::null())
        // defmt log lines go to stderr: stdout carries only the `listening on` line.
        .stdout(std::io::stderr())
        .spawn()
        .with_context(|| format!("starting {}", runner.display()))?;
    let deadline = Instant::now() + Duration::from_secs(20);
    let uart = loop {
        if let Ok(s) = UnixStream::connect(&sock) {
            break s;
        }
        if let Some(status) = child.try_wait()? {
            bail!("QEMU exited early: {status}");
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            bail!("QEMU did not open its UART socket {}", sock.display());
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    // Connected: the path is no longer needed, and removing it now leaves nothing behind
    // even when this process is killed.
    let _ = std::fs::remove_file(&sock);
    let addr = listener.local_addr()?;
    announce(addr)?;
    eprintln!("firmware running in QEMU; UART0 on {addr}");
    bridge(listener, uart, child)
}

/// Prints `listening on ADDR` as the first line on stdout, so scripts and tests can pass
/// `--listen 127.0.0.1:0` and read the port that was bound.
fn announce(addr: SocketAddr) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "listening on {addr}")?;
    out.flush()?;
    Ok(())
}

/// Serves TCP clients one at a time over the one UART connection: bytes from the device go
/// to whichever client is connected (and are dropped while none is), like a serial line.
fn bridge(listener: TcpListener, uart: UnixStream, mut child: Child) -> anyhow::Result<i32> {
    let current: Arc<Mutex<Option<TcpStream>>> = Arc::new(Mutex::new(None));
    let mut from_device = uart.try_clone()?;
    let to_client = Arc::clone(&current);
    std::thread::spawn(move || {
        let mut buf = [0u8; 1024];
        loop {
            let n = match from_device.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let mut guard = to_client.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(c) = guard.as_mut() {
                if c.write_all(&buf[..n]).is_err() {
                    *guard = None;
                }
            }
        }
        // QEMU closed the UART: it has exited (or is exiting); report its status.
        let code = child.wait().map(|s| s.code().unwrap_or(1)).unwrap_or(1);
        eprintln!("QEMU exited ({code})");
        std::process::exit(code);
    });
    let mut to_device = uart;
    one_client_at_a_time(
        listener,
        |client| {
            let client = match client {
                Some(c) => {
                    // A client that stops reading must not stall the device's output for
                    // the next one.
                    let _ = c.set_write_timeout(Some(Duration::from_secs(5)));
                    Some(c.try_clone()?)
                }
                None => None,
            };
            *current.lock().unwrap_or_else(|e| e.into_inner()) = client;
            Ok(())
        },
        |_, bytes| {
            to_device.write_all(bytes).context("writing to the UART")?;
            Ok(true)
        },
    )
}
