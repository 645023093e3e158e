//! tokenguard in Envoy: a proxy-wasm HTTP filter that verifies JWTs with the same engine,
//! codes and key-cache rules as the devices. See `docs/gateway.md` in the repository.
//!
//! - [`config`]: the JSON configuration.
//! - [`engine`]: the decisions (token, verdict, shared key set, fetch schedule), testable on
//!   the host.
//! - `filter` (wasm only, feature `filter`, on by default): the proxy-wasm root and HTTP
//!   contexts.

pub mod config;
pub mod engine;

#[cfg(all(target_arch = "wasm32", feature = "filter"))]
mod filter;
