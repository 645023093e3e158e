//! `tokenguard-sim idp serve`: the mock identity provider over HTTP on loopback. The provider
//! itself (endpoints, clients, rotation, outages) is the library's `tokenguard_sim::idp`.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use tokenguard_sim::idp;

#[derive(Args, Debug)]
pub struct IdpCmd {
    #[command(subcommand)]
    cmd: IdpSub,
}

#[derive(Subcommand, Debug)]
enum IdpSub {
    /// Serve discovery, JWKS, token and introspection endpoints (Ctrl-C stops).
    Serve(idp::IdpArgs),
}

pub fn run(a: IdpCmd) -> anyhow::Result<ExitCode> {
    match a.cmd {
        IdpSub::Serve(args) => idp::serve(args).map(|()| ExitCode::SUCCESS),
    }
}
