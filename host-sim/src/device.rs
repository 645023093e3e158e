//! The simulated device served over TCP (`tokenguard-sim device serve`, the demo, the
//! scenarios and the tests): tokenguard's device logic with the pure-Rust backend, like the
//! firmware.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokenguard::crypto::RustCrypto;
use tokenguard::RefreshPolicy;
use tokenguard_device::{Device, Link};

/// Frame size of the device (the firmware's, see firmware/src/bin/device.rs).
pub const FRAME: usize = 1024;
/// Key slots of the firmware image.
pub const FIRMWARE_KEYS: usize = 8;

/// Serves every connection concurrently over one device state, like several hosts sharing
/// one device. Each connection has its own [`Link`]: its own frame receiver (a half-sent
/// frame stays with its connection) and its own transfers (a JWK Set update or key upload
/// it leaves unfinished is abandoned when it closes). Replies go only to the connection
/// that asked.
///
/// # Errors
/// The error of [`crate::util::accept_each`], which this never gives in practice: a failed
/// accept is reported and skipped, and an I/O error ends only its own connection.
pub fn serve<const K: usize>(listener: TcpListener) -> anyhow::Result<()> {
    let dev: Arc<Mutex<Box<Device<K, FRAME>>>> =
        Arc::new(Mutex::new(Box::new(Device::new(RefreshPolicy::DEFAULT))));
    let start = Instant::now();
    let ids = AtomicU32::new(1);
    crate::util::accept_each(&listener, |mut s| {
        let dev = Arc::clone(&dev);
        let id = ids.fetch_add(1, Ordering::Relaxed);
        std::thread::spawn(move || {
            let mut link: Box<Link<FRAME>> = Box::new(Link::new(id));
            let mut buf = [0u8; 1024];
            let mut out = Vec::new();
            loop {
                let n = match s.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                out.clear();
                let now = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
                dev.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .feed_link_with::<RustCrypto>(&mut link, &buf[..n], now, &mut |b| {
                        out.extend_from_slice(b)
                    });
                if !out.is_empty() && s.write_all(&out).is_err() {
                    break;
                }
            }
            dev.lock()
                .unwrap_or_else(|e| e.into_inner())
                .link_closed(id);
        });
        Ok(())
    })
}
