//! `tokenguard-sim`: the command-line tool testers use with tokenguard.

use clap::{Parser, Subcommand};

mod verify_cmd;

use tokenguard_sim::{demo, device_cmd, idp, jwk_cmd, jwks_cmd, scenario, sign_cmd};

#[derive(Parser, Debug)]
#[command(
    name = "tokenguard-sim",
    version,
    about = "tokenguard's simulator and tools for testers"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Verify a JWT against a JWK Set (exit 0 accepted, 1 rejected, 2 usage/I-O error).
    Verify(verify_cmd::VerifyArgs),
    /// The end-to-end demo: mint, verify, rotate keys, survive an outage; no external services.
    Demo(demo::DemoArgs),
    /// The device: simulated (`serve`) or the firmware in QEMU (`qemu`), over TCP.
    Device(device_cmd::DeviceArgs),
    /// Mint a JWT assertion (ZITADEL, Auth0 presets; accepts key2jwt's -audience/-key/-issuer/-output).
    Sign(sign_cmd::SignArgs),
    /// Make a JWK or JWK Set from a URL, JSON, certificate, public or private key, or generate one.
    Jwk(jwk_cmd::JwkArgs),
    /// The mock identity provider over HTTP on loopback.
    Idp(IdpCmd),
    /// Fetch a JWK Set into a file or a device, honouring max-age.
    Jwks(jwks_cmd::JwksArgs),
    /// Run scripted scenarios (TOML): rotations, outages, skew, replays, unknown-kid floods.
    Scenario(scenario::ScenarioArgs),
}

#[derive(clap::Args, Debug)]
struct IdpCmd {
    #[command(subcommand)]
    cmd: IdpSub,
}

#[derive(Subcommand, Debug)]
enum IdpSub {
    /// Serve discovery, JWKS, token and introspection endpoints (Ctrl-C stops).
    Serve(idp::IdpArgs),
}

fn main() {
    let cli = Cli::parse_from(sign_cmd::translate_key2jwt(std::env::args().collect()));
    let r = match cli.cmd {
        Cmd::Verify(a) => verify_cmd::run(a),
        Cmd::Demo(a) => demo::run(a),
        Cmd::Device(a) => device_cmd::run(a),
        Cmd::Sign(a) => sign_cmd::run(a),
        Cmd::Jwk(a) => jwk_cmd::run(a),
        Cmd::Idp(IdpCmd {
            cmd: IdpSub::Serve(a),
        }) => idp::serve(a),
        Cmd::Jwks(a) => jwks_cmd::run(a),
        Cmd::Scenario(a) => scenario::run(a),
    };
    match r {
        Ok(code) => std::process::exit(code),
        // The reader of stdout went away (`| head -1`): end quietly, as a tool stopped by
        // SIGPIPE does.
        Err(e) if tokenguard_sim::out::is_closed_pipe(&e) => {
            std::process::exit(tokenguard_sim::out::CLOSED)
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::exit(2);
        }
    }
}
