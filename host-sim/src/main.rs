//! `tokenguard-sim`: the command-line tool testers use with tokenguard.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cmd;

use cmd::{demo, device, idp, jwk, jwks, scenario, sign, verify};

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
    Verify(verify::VerifyArgs),
    /// The end-to-end demo: mint, verify, rotate keys, survive an outage; no external services.
    Demo(demo::DemoArgs),
    /// The device: simulated (`serve`) or the firmware in QEMU (`qemu`), over TCP.
    Device(device::DeviceArgs),
    /// Mint a JWT assertion (ZITADEL, Auth0 presets; accepts key2jwt's -audience/-key/-issuer/-output).
    Sign(sign::SignArgs),
    /// Make a JWK or JWK Set from a URL, JSON, certificate, public or private key, or generate one.
    Jwk(jwk::JwkArgs),
    /// The mock identity provider over HTTP on loopback.
    Idp(idp::IdpCmd),
    /// Fetch a JWK Set into a file or a device, honouring max-age.
    Jwks(jwks::JwksArgs),
    /// Run scripted scenarios (TOML): rotations, outages, skew, replays, unknown-kid floods.
    Scenario(scenario::ScenarioArgs),
}

/// Edit distance between two short ASCII words.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// A single-dash word (`-audiance=X`, `-kid`) that clap would read as a cluster of short
/// flags: refuse it with the long option it most likely means.
fn single_dash_typo(args: &[String]) -> Option<String> {
    use clap::CommandFactory;
    let cmd = Cli::command();
    let sub = cmd.find_subcommand(args.get(1)?)?;
    let longs: Vec<String> = sub
        .get_subcommands()
        .flat_map(|s| s.get_arguments())
        .chain(sub.get_arguments())
        .filter_map(|a| a.get_long().map(String::from))
        .collect();
    // Long options that take a value: the word after one is its value.
    let with_value: Vec<String> = sub
        .get_subcommands()
        .flat_map(|s| s.get_arguments())
        .chain(sub.get_arguments())
        .filter(|a| a.get_action().takes_values())
        .filter_map(|a| a.get_long().map(String::from))
        .collect();
    for (i, arg) in args.iter().enumerate().skip(2) {
        // The value of the option before it (`--kid -6ab…`, a thumbprint), not an option.
        if args[i - 1]
            .strip_prefix("--")
            .is_some_and(|name| with_value.iter().any(|l| l == name))
        {
            continue;
        }
        let Some(word) = arg.strip_prefix('-') else {
            continue;
        };
        if word.starts_with('-')
            || word.len() < 2
            || !word.starts_with(|c: char| c.is_ascii_alphabetic())
        {
            continue;
        }
        let name = word.split('=').next().unwrap_or(word);
        if name.len() < 3 {
            continue;
        }
        let best = longs
            .iter()
            .map(|l| (distance(name, l), l))
            .min_by_key(|(d, _)| *d)
            .filter(|(d, _)| *d <= 3);
        return Some(match best {
            Some((_, l)) => format!("{arg}: options take two dashes; did you mean --{l}?"),
            None => format!("{arg}: options take two dashes (--{name}); see --help"),
        });
    }
    None
}

fn main() -> ExitCode {
    let args = sign::translate_key2jwt(std::env::args().collect());
    if let Some(msg) = single_dash_typo(&args) {
        eprintln!("error: {msg}");
        return ExitCode::from(2);
    }
    let cli = Cli::parse_from(args);
    let r = match cli.cmd {
        Cmd::Verify(a) => verify::run(a),
        Cmd::Demo(a) => demo::run(a),
        Cmd::Device(a) => device::run(a),
        Cmd::Sign(a) => sign::run(a),
        Cmd::Jwk(a) => jwk::run(a),
        Cmd::Idp(a) => idp::run(a),
        Cmd::Jwks(a) => jwks::run(a),
        Cmd::Scenario(a) => scenario::run(a),
    };
    match r {
        Ok(code) => code,
        // The reader of stdout went away (`| head -1`): end quietly, as a tool stopped by
        // SIGPIPE does.
        Err(e) if tokenguard_sim::out::is_closed_pipe(&e) => {
            ExitCode::from(tokenguard_sim::out::CLOSED)
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
