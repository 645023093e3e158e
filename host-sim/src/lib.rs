#![allow(missing_docs)] // a tool crate; the public items are documented where it matters
//! `tokenguard-sim` as a library: what the commands share and the tests drive (the device
//! protocol client, the simulated device, the flows, the mock identity provider, key files
//! and output helpers). The commands themselves live in the binary (`src/cmd/`).

pub mod client;
pub mod device;
pub mod flow;
pub mod hardware;
pub mod hw_device;
pub mod idp;
pub mod keyfile;
pub mod keystore;
pub mod out;
pub mod pkcs11;
pub mod scenario;
pub mod tpm;
pub mod util;

/// The crypto backend the host tools verify with, named explicitly (the engine's default is
/// its pure-Rust backend): each primitive from the fastest library built, AWS-LC's keys
/// parsed once when they enter a key set. The simulated device keeps the engine's default,
/// the pure-Rust backend the firmware runs.
pub type Engine = tokenguard::crypto::Fastest;

/// A key set for [`Engine`].
pub type Keys<const N: usize> = tokenguard::KeySet<N, Engine>;
