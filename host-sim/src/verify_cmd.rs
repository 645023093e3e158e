//! `tokenguard-sim verify`: the contract in DESIGN.md.
//!
//! Exit codes: 0 accepted (claims JSON on stdout) or every batch line answered; 1 rejected
//! (`error: <code>: <message>` on stderr); 2 usage or I/O error.

use std::io::{BufRead, Read, Write};
use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::Args;
use tokenguard::{AlgSet, Algorithm, Expect, KeySet, UpdateEvent, Validation};

/// Keys the CLI can hold (the contract asks for at least 16).
pub const CLI_KEYS: usize = 64;

#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// JWK Set (or single JWK) file. Unusable keys are skipped with a warning.
    #[arg(long, value_name = "FILE")]
    jwks: PathBuf,
    /// Expected issuer (exact match).
    #[arg(long, value_name = "ISS")]
    iss: String,
    /// Expected audience (exact match; `aud` may be a string or an array).
    #[arg(long, value_name = "AUD")]
    aud: String,
    /// Current time, unix seconds (default: the system clock).
    #[arg(long, value_name = "UNIX")]
    now: Option<u64>,
    /// Leeway for exp/nbf/iat in seconds (at most 600).
    #[arg(long, value_name = "SECS", default_value_t = 0)]
    leeway: u32,
    /// Allowed algorithm (repeatable; default: every algorithm the key allows).
    #[arg(long = "alg", value_name = "ALG")]
    algs: Vec<String>,
    /// Expected header typ (media type comparison).
    #[arg(long, value_name = "TYP")]
    typ: Option<String>,
    /// Refuse tokens without kid (by default they are tried against the keys that fit).
    #[arg(long)]
    require_kid: bool,
    /// Maximum token length in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = tokenguard::DEFAULT_MAX_TOKEN_LEN)]
    max_len: usize,
    /// JSON nesting limit (the top-level object counts as 1).
    #[arg(long, value_name = "DEPTH", default_value_t = tokenguard::DEFAULT_MAX_DEPTH)]
    max_depth: u8,
    /// One compact token per line; exactly one JSON line per input line on stdout, in order
    /// (`{"ok":true,"claims":{...}}` with the claims compact, or `{"ok":false,"error":"<code>"}`;
    /// a blank line is `malformed`; only the line terminator is stripped). Exit 0 once every
    /// line is answered, whatever the verdicts.
    #[arg(long, value_name = "FILE", conflicts_with = "token")]
    batch: Option<PathBuf>,
    /// The token, or `-` to read it from stdin.
    #[arg(value_name = "TOKEN", required_unless_present = "batch")]
    token: Option<String>,
}

/// Loads a JWKS or JWK file into a key set, warning on stderr for each skipped key.
pub fn load_keys(path: &PathBuf, keys: &mut KeySet<CLI_KEYS>) -> anyhow::Result<usize> {
    let text = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let doc: serde_json::Value =
        serde_json::from_slice(&text).with_context(|| format!("{} is not JSON", path.display()))?;
    // The file is the tester's own configuration: symmetric and asymmetric keys may mix
    // (each key still verifies only its own algorithm family).
    keys.allow_mixed_key_types(true);
    if doc.get("keys").is_some() {
        let mut warn = |e: UpdateEvent| {
            if let UpdateEvent::Skipped(s) = e {
                let kid = s.kid.as_ref().and_then(|k| k.as_str()).unwrap_or("-");
                eprintln!(
                    "warning: key #{} (kid {kid}) skipped: {}",
                    s.index, s.reason
                );
            }
        };
        let report = keys
            .load_jwks(&text, &mut warn)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        Ok(usize::from(report.loaded))
    } else {
        let jwk = tokenguard::Jwk::from_json(&text)
            .map_err(|e| anyhow::anyhow!("{}: key refused: {e}", path.display()))?;
        keys.insert(jwk)
            .map_err(|_| anyhow::anyhow!("key set full"))?;
        Ok(1)
    }
}

fn parse_algs(names: &[String]) -> anyhow::Result<AlgSet> {
    if names.is_empty() {
        return Ok(AlgSet::ALL);
    }
    let mut set = AlgSet::EMPTY;
    for n in names {
        match Algorithm::from_name(n.as_bytes()) {
            Some(a) => set = set.with(a),
            None => {
                let known: Vec<&str> = tokenguard::crypto::BUILD_ALGORITHMS
                    .iter()
                    .map(Algorithm::name)
                    .collect();
                bail!(
                    "unknown algorithm {n:?} (this build knows {})",
                    known.join(", ")
                )
            }
        }
    }
    Ok(set)
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Appends `json` (valid JSON text, as the engine accepted it) without the whitespace between
/// tokens, so a pretty-printed payload stays on one output line; strings are copied as they
/// are (a raw newline cannot occur inside a JSON string).
fn compact_json(json: &[u8], out: &mut Vec<u8>) {
    let (mut in_string, mut escaped) = (false, false);
    for &b in json {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
        } else if matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
            continue;
        } else if b == b'"' {
            in_string = true;
        }
        out.push(b);
    }
}

/// Runs the command; returns the process exit code.
pub fn run(args: VerifyArgs) -> anyhow::Result<i32> {
    if args.leeway > tokenguard::MAX_LEEWAY {
        bail!(
            "--leeway must be at most {} seconds",
            tokenguard::MAX_LEEWAY
        );
    }
    let mut keys: Box<KeySet<CLI_KEYS>> = Box::default();
    let loaded = load_keys(&args.jwks, &mut keys)?;
    if loaded == 0 {
        eprintln!("warning: no usable key in {}", args.jwks.display());
    }
    let mut v = Validation::new(Expect::One(&args.iss), Expect::One(&args.aud))
        .leeway(args.leeway)
        .algorithms(parse_algs(&args.algs)?)
        .max_token_len(args.max_len)
        .max_depth(args.max_depth)
        .allow_missing_kid(!args.require_kid);
    if let Some(t) = &args.typ {
        v = v.typ(t);
    }
    let now = args.now.unwrap_or_else(now_secs);

    if let Some(batch) = &args.batch {
        let f =
            std::fs::File::open(batch).with_context(|| format!("opening {}", batch.display()))?;
        let stdout = std::io::stdout();
        let mut out = std::io::BufWriter::new(stdout.lock());
        let mut buf = Vec::new();
        let mut line_out = Vec::new();
        for line in std::io::BufReader::new(f).lines() {
            let line = line.with_context(|| format!("reading {}", batch.display()))?;
            // Only the line terminator is removed: whitespace inside a line is part of the
            // token (and makes it malformed), never silently trimmed.
            let tok = line.strip_suffix('\r').unwrap_or(&line);
            buf.clear();
            buf.resize(tok.len(), 0);
            match keys.verify(tok.as_bytes(), &v, now, &mut buf) {
                Ok(t) => {
                    line_out.clear();
                    line_out.extend_from_slice(br#"{"ok":true,"claims":"#);
                    compact_json(t.claims_json().as_bytes(), &mut line_out);
                    line_out.extend_from_slice(b"}\n");
                    out.write_all(&line_out)?;
                }
                Err(e) => writeln!(out, r#"{{"ok":false,"error":"{}"}}"#, e.code())?,
            }
        }
        out.flush()?;
        return Ok(0);
    }

    let token = match args.token.as_deref() {
        Some("-") => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .context("reading the token from stdin")?;
            let t = s.strip_suffix('\n').unwrap_or(&s);
            t.strip_suffix('\r').unwrap_or(t).to_owned()
        }
        Some(t) => t.to_owned(),
        None => bail!("a TOKEN, `-` or --batch FILE is required"),
    };
    let mut buf = vec![0u8; token.len()];
    match keys.verify(token.as_bytes(), &v, now, &mut buf) {
        Ok(t) => {
            println!("{}", t.claims_json());
            Ok(0)
        }
        Err(e) => {
            eprintln!("error: {}: {e}", e.code());
            Ok(1)
        }
    }
}
