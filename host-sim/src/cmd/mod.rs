//! One module per command, each with its clap arguments and `run`.

pub mod demo;
pub mod device;
pub mod idp;
pub mod jwk;
pub mod jwks;
pub mod scenario;
pub mod sign;
pub mod verify;
