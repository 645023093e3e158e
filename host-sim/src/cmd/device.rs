//! `tokenguard-sim device serve` (the simulated device over TCP) and `device qemu` (the real
//! firmware in QEMU, its UART bridged to TCP). Both speak the same protocol on a TCP port.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use tokenguard_device::frame::{self, Frame, FrameDecoder};
use tokenguard_device::proto;

use tokenguard_sim::device::{serve, FRAME};
use tokenguard_sim::scenario::{in_own_group, kill_group};

#[derive(Args, Debug)]
pub struct DeviceArgs {
    #[command(subcommand)]
    cmd: DeviceCmd,
}

#[derive(Subcommand, Debug)]
enum DeviceCmd {
    /// The simulated device (tokenguard's device logic, pure-Rust backend like the firmware).
    /// Clients are served concurrently over the one device state, each with its own frame
    /// receiver.
    Serve {
        /// Address to listen on; port 0 picks a free one. The bound address is the first
        /// line on stdout: `listening on ADDR`.
        #[arg(long, default_value = "127.0.0.1:4444")]
        listen: String,
        /// Key slots: 8 (the firmware's), 16, 32 or 64.
        #[arg(long, default_value_t = tokenguard_sim::device::FIRMWARE_KEYS)]
        keys: usize,
    },
    /// Boots the firmware in QEMU (mps2-an386) with its UART on a TCP port. Clients are
    /// served one at a time, like a serial line; each starts a fresh session on the device
    /// (nothing an earlier client sent or was sent reaches it). SIGINT and SIGTERM stop QEMU
    /// and defmt-print too.
    Qemu {
        /// Address of the TCP server bridged to the UART; port 0 picks a free one. The bound
        /// address is the first line on stdout: `listening on ADDR`.
        #[arg(long, default_value = "127.0.0.1:4444")]
        listen: String,
        /// The firmware ELF (default: firmware/target/thumbv7em-none-eabihf/release/tokenguard-firmware).
        #[arg(long)]
        elf: Option<PathBuf>,
        /// A client that sends nothing for this many seconds is disconnected, so the next
        /// one can be served (the UART serves one client at a time).
        #[arg(long, default_value_t = 30)]
        idle_timeout: u64,
    },
}

pub fn run(args: DeviceArgs) -> anyhow::Result<ExitCode> {
    match args.cmd {
        DeviceCmd::Serve { listen, keys } => {
            let l = TcpListener::bind(&listen).with_context(|| format!("binding {listen}"))?;
            announce(l.local_addr()?)?;
            eprintln!(
                "simulated device on {} ({keys} key slots, {FRAME}-byte frames)",
                l.local_addr()?
            );
            match keys {
                8 => serve::<8>(l)?,
                16 => serve::<16>(l)?,
                32 => serve::<32>(l)?,
                64 => serve::<64>(l)?,
                _ => bail!("--keys must be 8, 16, 32 or 64"),
            }
            Ok(ExitCode::SUCCESS)
        }
        DeviceCmd::Qemu {
            listen,
            elf,
            idle_timeout,
        } => qemu(&listen, elf, Duration::from_secs(idle_timeout.max(1))),
    }
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn qemu(listen: &str, elf: Option<PathBuf>, idle: Duration) -> anyhow::Result<ExitCode> {
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
    // QEMU and defmt-print run in a process group of their own, stopped as a whole when
    // this process is asked to stop.
    let child = in_own_group(
        Command::new(&runner)
            .arg(&elf)
            .env(
                "TOKENGUARD_UART",
                format!("unix:{},server=on,wait=off", sock.display()),
            )
            // The runner stops QEMU when this process is gone, even after a SIGKILL.
            .env("TOKENGUARD_WATCH_PID", std::process::id().to_string())
            .stdin(Stdio::null())
            // defmt log lines go to stderr: stdout carries only the `listening on` line.
            .stdout(std::io::stderr()),
    )
    .spawn()
    .with_context(|| format!("starting {}", runner.display()))?;
    let child = Arc::new(Mutex::new(child));
    let on_signal = Arc::clone(&child);
    ctrlc::set_handler(move || {
        let mut c = on_signal.lock().unwrap_or_else(|e| e.into_inner());
        kill_group(&mut c);
        std::process::exit(130);
    })
    .context("installing the SIGINT/SIGTERM handler")?;
    let stop = |child: &Arc<Mutex<Child>>| {
        kill_group(&mut child.lock().unwrap_or_else(|e| e.into_inner()))
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    let uart = loop {
        if let Ok(s) = UnixStream::connect(&sock) {
            break s;
        }
        let exited = child.lock().unwrap_or_else(|e| e.into_inner()).try_wait()?;
        if let Some(status) = exited {
            stop(&child);
            bail!("QEMU exited early: {status}");
        }
        if Instant::now() > deadline {
            stop(&child);
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
    let r = bridge(listener, uart, Arc::clone(&child), idle);
    stop(&child);
    r.map(|()| ExitCode::SUCCESS)
}

/// Prints `listening on ADDR` as the first line on stdout, so scripts and tests can pass
/// `--listen 127.0.0.1:0` and read the port that was bound.
fn announce(addr: SocketAddr) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "listening on {addr}")?;
    out.flush()?;
    Ok(())
}

/// What the UART reader does with the device's bytes.
struct Route {
    /// The client being served; bytes are dropped while there is none.
    client: Option<TcpStream>,
    /// The nonce of the `HELLO` that opened the current client's session: until its reply
    /// comes back, everything the device sends answers an earlier client and is dropped.
    barrier: Option<[u8; 8]>,
    dec: Box<FrameDecoder<4096>>,
}

/// The reply the firmware gives to the bridge's `HELLO` (seq 0) with `nonce`.
fn is_hello_reply(p: &[u8], nonce: &[u8; 8]) -> bool {
    p.len() == 3 + nonce.len()
        && p[..3] == [proto::cmd::HELLO | 0x80, 0, proto::status::OK]
        && p[3..] == nonce[..]
}

/// Serves TCP clients one at a time over the one UART connection, like a serial line, with
/// a session barrier between clients: on each new client the bridge ends any frame the last
/// one left half sent (a lone `0x00`) and sends `HELLO` with a fresh nonce; the device's
/// output is dropped until that `HELLO` is answered. The device answers in order, so every
/// reply to an earlier client comes before it: no client ever receives another's replies,
/// and a client's unfinished transfer is abandoned before the next client's first request.
fn bridge(
    listener: TcpListener,
    uart: UnixStream,
    child: Arc<Mutex<Child>>,
    idle: Duration,
) -> anyhow::Result<()> {
    let route = Arc::new(Mutex::new(Route {
        client: None,
        barrier: None,
        dec: Box::new(FrameDecoder::new()),
    }));
    let mut from_device = uart.try_clone()?;
    let reader = Arc::clone(&route);
    std::thread::spawn(move || {
        let mut buf = [0u8; 1024];
        loop {
            let n = match from_device.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let mut r = reader.lock().unwrap_or_else(|e| e.into_inner());
            let r = &mut *r;
            if r.client.is_none() {
                continue;
            }
            let mut from = 0;
            if let Some(nonce) = r.barrier {
                for (i, &b) in buf[..n].iter().enumerate() {
                    if let Some(Frame::Payload(p)) = r.dec.push(b) {
                        if is_hello_reply(p, &nonce) {
                            r.barrier = None;
                            from = i + 1;
                            break;
                        }
                    }
                }
                if r.barrier.is_some() {
                    continue;
                }
            }
            let failed = match r.client.as_mut() {
                Some(c) => c.write_all(&buf[from..n]).is_err(),
                None => false,
            };
            if failed {
                r.client = None;
            }
        }
        // QEMU closed the UART: it has exited (or is exiting); report its status.
        let code = child
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .wait()
            .map(|s| s.code().unwrap_or(1))
            .unwrap_or(1);
        eprintln!("QEMU exited ({code})");
        std::process::exit(code);
    });
    let mut to_device = uart;
    tokenguard_sim::util::accept_each(&listener, |mut s| {
        // A client that stops reading must not stall the device's output for the next one;
        // one that stops sending gives its turn up after `idle`.
        let _ = s.set_write_timeout(Some(Duration::from_secs(5)));
        let _ = s.set_read_timeout(Some(idle));
        let mut nonce = [0u8; 8];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut nonce)
            .map_err(|_| anyhow::anyhow!("no randomness"))?;
        {
            let mut r = route.lock().unwrap_or_else(|e| e.into_inner());
            r.client = Some(s.try_clone()?);
            r.barrier = Some(nonce);
            *r.dec = FrameDecoder::new();
        }
        let mut hello = vec![0u8];
        frame::encode(&[&[proto::cmd::HELLO, 0], &nonce], |b| {
            hello.extend_from_slice(b)
        });
        to_device.write_all(&hello).context("writing to the UART")?;
        let mut buf = [0u8; 1024];
        loop {
            let n = match s.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    eprintln!(
                        "client idle for {} s: disconnected, so the next one can be served",
                        idle.as_secs()
                    );
                    break;
                }
                Err(_) => break,
            };
            to_device
                .write_all(&buf[..n])
                .context("writing to the UART")?;
        }
        route.lock().unwrap_or_else(|e| e.into_inner()).client = None;
        Ok(())
    })
}
