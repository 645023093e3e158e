#![allow(missing_docs)] // a tool crate; the public items are documented where it matters
//! `tokenguard-sim` as a library: the device protocol client and the simulated device, for
//! integration tests and tools.

pub mod client;
pub mod demo;
pub mod device_cmd;
pub mod flow;
pub mod idp;
pub mod jwk_cmd;
pub mod jwks_cmd;
pub mod keyfile;
pub mod keystore;
pub mod out;
pub mod scenario;
pub mod sign_cmd;
