//! `tokenguard-sim verify`: the contract in DESIGN.md.
//!
//! Exit codes: 0 accepted (claims JSON on stdout) or every batch line answered; 1 rejected
//! (`error: <code>: <message>` on stderr); 2 usage or I/O error.

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::Args;
use tokenguard::{AlgSet, Algorithm, Expect, UpdateEvent, Validation};
use tokenguard_sim::util::unix_now as now_secs;
use tokenguard_sim::Keys;

/// Keys the CLI can hold (the contract asks for at least 16).
pub const CLI_KEYS: usize = 64;

#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// JWK Set (or single JWK) file, `-` for standard input. Unusable keys are skipped with a
    /// warning.
    #[arg(long, value_name = "FILE")]
    jwks: PathBuf,
    /// Expected issuer (exact match).
    #[arg(long, value_name = "ISS", required_unless_present = "no_iss")]
    iss: Option<String>,
    /// Expected audience (exact match; `aud` may be a string or an array).
    #[arg(long, value_name = "AUD", required_unless_present = "no_aud")]
    aud: Option<String>,
    /// Weakens a check: accept any issuer (`Expect::Ignore`), instead of --iss.
    #[arg(long, conflicts_with = "iss")]
    no_iss: bool,
    /// Weakens a check: accept any audience (`Expect::Ignore`), instead of --aud.
    #[arg(long, conflicts_with = "aud")]
    no_aud: bool,
    /// Weakens a check: accept tokens without `exp` (they never expire).
    #[arg(long)]
    allow_missing_exp: bool,
    /// Refuse tokens whose `iat` is older than this (`iat` becomes required).
    #[arg(long, value_name = "SECS")]
    max_age: Option<u64>,
    /// Refuse tokens whose lifetime `exp - iat` is longer than this (Auth0's cap is 2592000,
    /// 30 days; `iat` and `exp` become required).
    #[arg(long, value_name = "SECS")]
    max_lifetime: Option<u64>,
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
    #[arg(long, value_name = "DEPTH", default_value_t = tokenguard::DEFAULT_MAX_DEPTH,
          value_parser = clap::value_parser!(u8).range(1..=63))]
    max_depth: u8,
    /// One compact token per line (`-`: standard input); exactly one JSON line per input line on stdout, in order
    /// (`{"ok":true,"claims":{...}}` with the claims compact, or `{"ok":false,"error":"<code>"}`;
    /// a blank line is `malformed`; only the line terminator is stripped). Exit 0 once every
    /// line is answered, whatever the verdicts.
    #[arg(long, value_name = "FILE", conflicts_with = "token")]
    batch: Option<PathBuf>,
    /// Threads verifying a --batch (default: the available cores, at most 16). The answers
    /// keep the input order whatever the number; `--jobs 1` verifies on one thread.
    #[arg(long, value_name = "N",
          value_parser = clap::value_parser!(u16).range(1..=256))]
    jobs: Option<u16>,
    /// The token, or `-` to read it from stdin.
    #[arg(value_name = "TOKEN", required_unless_present = "batch")]
    token: Option<String>,
}

/// Loads a JWKS or JWK file into a key set, warning on stderr for each skipped key.
pub fn load_keys(path: &std::path::Path, keys: &mut Keys<CLI_KEYS>) -> anyhow::Result<usize> {
    let text = tokenguard_sim::out::read_input(path)?;
    let doc: serde_json::Value = serde_json::from_slice(&text)
        .with_context(|| format!("{} is not JSON", tokenguard_sim::out::name(path)))?;
    // The file is the tester's own configuration: symmetric and asymmetric keys may mix
    // (each key still verifies only its own algorithm family).
    keys.allow_mixed_key_types(true);
    if doc.get("keys").is_some() {
        let mut warn = |e: UpdateEvent| {
            if let UpdateEvent::Skipped(s) = e {
                let kid = s.kid.as_ref().and_then(|k| k.as_str()).unwrap_or("-");
                eprintln!(
                    "warning: key #{} (kid {kid}) skipped: {}{}",
                    s.index,
                    s.reason,
                    tokenguard_sim::keyfile::short_secret_hint(s.reason)
                );
            }
        };
        let report = keys
            .load_jwks(&text, &mut warn)
            .map_err(|e| anyhow::anyhow!("{}: {e}", tokenguard_sim::out::name(path)))?;
        Ok(usize::from(report.loaded))
    } else {
        let jwk = tokenguard::Jwk::from_json(&text).map_err(|e| {
            anyhow::anyhow!(
                "{}: key refused: {e}{}",
                tokenguard_sim::out::name(path),
                tokenguard_sim::keyfile::short_secret_hint(e)
            )
        })?;
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

/// The policy the flags describe; `relaxed` drops the issuer, audience and `typ` checks (to
/// read, from a token whose signature verified, what it holds instead).
fn policy(args: &VerifyArgs, algs: AlgSet, relaxed: bool) -> Validation<'_> {
    fn expect(want: Option<&str>, relaxed: bool) -> Expect<'_> {
        match want {
            Some(w) if !relaxed => Expect::One(w),
            _ => Expect::Ignore,
        }
    }
    let mut v = Validation::new(
        expect(args.iss.as_deref(), relaxed),
        expect(args.aud.as_deref(), relaxed),
    )
    .leeway(args.leeway)
    .algorithms(algs)
    .max_token_len(args.max_len)
    .max_depth(args.max_depth)
    .allow_missing_kid(!args.require_kid);
    if args.allow_missing_exp {
        v = v.allow_missing_exp();
    }
    if let Some(s) = args.max_age {
        v = v.max_age(s);
    }
    if let Some(s) = args.max_lifetime {
        v = v.max_lifetime(s);
    }
    match &args.typ {
        Some(t) if !relaxed => v.typ(t),
        _ => v,
    }
}

/// What a user can act on after a rejection: the expected and the actual issuer, audience or
/// type (read only when the token's signature verified under the relaxed policy), and hints
/// for a `Bearer ` prefix, a file name given as the token, a missing `kid`.
fn explain(
    args: &VerifyArgs,
    keys: &Keys<CLI_KEYS>,
    algs: AlgSet,
    token: &str,
    now: u64,
    e: tokenguard::Error,
) -> Vec<String> {
    use tokenguard::Error as E;
    let mut out = Vec::new();
    if matches!(e, E::WrongIssuer | E::WrongAudience | E::WrongType) {
        let mut buf = vec![0u8; token.len()];
        if keys
            .verify(token.as_bytes(), &policy(args, algs, true), now, &mut buf)
            .is_ok()
        {
            let show = |v: Option<&serde_json::Value>| {
                v.map_or_else(|| "nothing".to_owned(), |v| v.to_string())
            };
            let claims = tokenguard_sim::flow::segment_json(token, 1);
            let header = tokenguard_sim::flow::segment_json(token, 0);
            match e {
                E::WrongIssuer => out.push(format!(
                    "expected issuer {:?}, the token has {}",
                    args.iss.as_deref().unwrap_or_default(),
                    show(claims.as_ref().and_then(|c| c.get("iss")))
                )),
                E::WrongAudience => out.push(format!(
                    "expected audience {:?}, the token has {}",
                    args.aud.as_deref().unwrap_or_default(),
                    show(claims.as_ref().and_then(|c| c.get("aud")))
                )),
                _ => out.push(format!(
                    "expected typ {:?}, the token has {}",
                    args.typ.as_deref().unwrap_or_default(),
                    show(header.as_ref().and_then(|h| h.get("typ")))
                )),
            }
        }
    }
    let trimmed = token.trim_start();
    if trimmed.len() > 7 && trimmed[..7].eq_ignore_ascii_case("bearer ") {
        out.push(
            "hint: that is an Authorization header value: pass the token without `Bearer `".into(),
        );
    } else if matches!(e, E::Malformed(_)) && std::path::Path::new(token).is_file() {
        out.push(format!(
            "hint: {token} is a file, not a token: pass `-` and redirect it (`- < {token}`)"
        ));
    }
    if e == E::KeyNotFound
        && args.require_kid
        && tokenguard_sim::flow::segment_json(token, 0).is_some_and(|h| h.get("kid").is_none())
    {
        out.push("the token has no kid, and --require-kid refuses such tokens".into());
    }
    out
}

/// Upper bound of the default `--jobs` (the available cores, at most this many).
const MAX_JOBS: usize = 16;
/// Lines a batch worker takes at once when more are already waiting (never waits to fill it).
const CHUNK: usize = 64;

/// The answer line for one batch input line (`tok` without its terminator).
fn answer<const N: usize>(
    keys: &Keys<N>,
    v: &Validation<'_>,
    now: u64,
    tok: &[u8],
    buf: &mut Vec<u8>,
    out: &mut Vec<u8>,
) {
    buf.clear();
    buf.resize(tok.len(), 0);
    match keys.verify(tok, v, now, buf) {
        Ok(t) => {
            out.extend_from_slice(br#"{"ok":true,"claims":"#);
            compact_json(t.claims_json().as_bytes(), out);
            out.extend_from_slice(b"}\n");
        }
        Err(e) => {
            out.extend_from_slice(br#"{"ok":false,"error":""#);
            out.extend_from_slice(e.code().as_bytes());
            out.extend_from_slice(b"\"}\n");
        }
    }
}

/// One batch line without its terminator: only `\n` and a `\r` before it are removed.
/// Whitespace inside a line is part of the token (and makes it malformed), never trimmed;
/// lines are bytes, so one that is not UTF-8 is a malformed token, not the end of the batch.
fn strip_terminator(line: &[u8]) -> &[u8] {
    let tok = line.strip_suffix(b"\n").unwrap_or(line);
    tok.strip_suffix(b"\r").unwrap_or(tok)
}

/// Whether a whole line is already read and buffered: reading it then cannot block.
fn whole_line_waiting<R>(input: &std::io::BufReader<R>) -> bool {
    input.buffer().contains(&b'\n')
}

/// `--jobs 1`: read, verify and answer one line at a time on this thread.
fn batch_sequential<R: std::io::Read, const N: usize>(
    keys: &Keys<N>,
    v: &Validation<'_>,
    now: u64,
    mut input: std::io::BufReader<R>,
    name: &str,
) -> anyhow::Result<()> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let (mut buf, mut line_out, mut line) = (Vec::new(), Vec::new(), Vec::new());
    loop {
        // Answers go out before the command waits for more input, so a program feeding
        // tokens through a pipe gets each answer without closing its end.
        if !whole_line_waiting(&input) {
            out.flush()?;
        }
        line.clear();
        if input
            .read_until(b'\n', &mut line)
            .with_context(|| format!("reading {name}"))?
            == 0
        {
            break;
        }
        line_out.clear();
        answer(
            keys,
            v,
            now,
            strip_terminator(&line),
            &mut buf,
            &mut line_out,
        );
        out.write_all(&line_out)?;
    }
    out.flush()?;
    Ok(())
}

/// `--jobs N` (N > 1): this thread reads lines and hands them out in chunks of what is
/// already waiting (at most [`CHUNK`], never waiting to fill one), `N` workers verify them,
/// and a writer puts the answers back in input order. The writer flushes whenever the next
/// answer is not ready yet, so a program feeding a pipe gets each answer without closing its
/// end, as with `--jobs 1`. A closed stdout stops the readers and workers.
fn batch_parallel<R: std::io::Read, const N: usize>(
    keys: &Keys<N>,
    v: &Validation<'_>,
    now: u64,
    mut input: std::io::BufReader<R>,
    name: &str,
    jobs: usize,
) -> anyhow::Result<()>
where
    Keys<N>: Sync,
{
    use std::sync::{mpsc, Arc, Mutex};
    // Bounded: a fast reader never holds more than a few chunks per worker in memory.
    let (work_tx, work_rx) = mpsc::sync_channel::<(u64, Vec<Vec<u8>>)>(jobs * 2);
    let (done_tx, done_rx) = mpsc::sync_channel::<(u64, Vec<u8>)>(jobs * 4);
    // Only the workers hold the queue's receiving end: once they have all stopped (stdout
    // closed), the reader's next send fails instead of waiting forever.
    let work_rx = Arc::new(Mutex::new(work_rx));
    std::thread::scope(|s| -> anyhow::Result<()> {
        for _ in 0..jobs {
            let done_tx = done_tx.clone();
            let work_rx = Arc::clone(&work_rx);
            s.spawn(move || {
                let mut buf = Vec::new();
                loop {
                    // The lock is held only while taking one chunk off the queue.
                    let next = work_rx.lock().map(|rx| rx.recv());
                    let Ok(Ok((seq, lines))) = next else { return };
                    let mut out = Vec::with_capacity(lines.len() * 128);
                    for line in &lines {
                        answer(keys, v, now, strip_terminator(line), &mut buf, &mut out);
                    }
                    if done_tx.send((seq, out)).is_err() {
                        return;
                    }
                }
            });
        }
        drop((done_tx, work_rx));
        let writer = s.spawn(move || -> std::io::Result<()> {
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            let mut pending = std::collections::BTreeMap::new();
            let mut next = 0u64;
            loop {
                let (seq, bytes) = match done_rx.try_recv() {
                    Ok(x) => x,
                    Err(mpsc::TryRecvError::Empty) => {
                        out.flush()?;
                        match done_rx.recv() {
                            Ok(x) => x,
                            Err(_) => break,
                        }
                    }
                    Err(mpsc::TryRecvError::Disconnected) => break,
                };
                pending.insert(seq, bytes);
                while let Some(bytes) = pending.remove(&next) {
                    out.write_all(&bytes)?;
                    next += 1;
                }
            }
            out.flush()
        });
        let mut read = || -> anyhow::Result<()> {
            let mut seq = 0u64;
            loop {
                let mut lines = Vec::new();
                loop {
                    let mut line = Vec::new();
                    if input
                        .read_until(b'\n', &mut line)
                        .with_context(|| format!("reading {name}"))?
                        == 0
                    {
                        break;
                    }
                    lines.push(line);
                    // Hand out what is here before waiting for more input.
                    if lines.len() == CHUNK || !whole_line_waiting(&input) {
                        break;
                    }
                }
                if lines.is_empty() {
                    return Ok(());
                }
                if work_tx.send((seq, lines)).is_err() {
                    // Every worker has stopped: stdout is closed; the writer says so.
                    return Ok(());
                }
                seq += 1;
            }
        };
        let read_result = read();
        drop(work_tx);
        let write_result = writer
            .join()
            .map_err(|_| anyhow::anyhow!("the batch writer stopped"))?;
        // A closed stdout is the error to report (exit 141), before any read error.
        write_result?;
        read_result
    })
}

/// Runs the command; returns the process exit code.
pub fn run(args: VerifyArgs) -> anyhow::Result<ExitCode> {
    if args.leeway > tokenguard::MAX_LEEWAY {
        bail!(
            "--leeway must be at most {} seconds",
            tokenguard::MAX_LEEWAY
        );
    }
    if args.jobs.is_some() && args.batch.is_none() {
        bail!("--jobs applies to --batch only (one TOKEN is verified on one thread)");
    }
    let mut keys: Box<Keys<CLI_KEYS>> = Box::default();
    let loaded = load_keys(&args.jwks, &mut keys)?;
    if loaded == 0 {
        eprintln!("warning: no usable key in {}", args.jwks.display());
    }
    let algs = parse_algs(&args.algs)?;
    let v = policy(&args, algs, false);
    let now = args.now.unwrap_or_else(now_secs);

    if let Some(batch) = &args.batch {
        let f: Box<dyn std::io::Read> = if batch.as_os_str() == "-" {
            // Claims stdin the same way the other `-` arguments do (one reader only).
            tokenguard_sim::out::claim_stdin()?;
            Box::new(std::io::stdin())
        } else {
            Box::new(
                std::fs::File::open(batch)
                    .with_context(|| format!("opening {}", batch.display()))?,
            )
        };
        let input = std::io::BufReader::new(f);
        let jobs = match args.jobs {
            Some(n) => usize::from(n),
            None => std::thread::available_parallelism().map_or(1, |n| n.get().min(MAX_JOBS)),
        };
        let name = batch.display().to_string();
        if jobs <= 1 {
            batch_sequential(&keys, &v, now, input, &name)?;
        } else {
            batch_parallel(&keys, &v, now, input, &name, jobs)?;
        }
        return Ok(ExitCode::SUCCESS);
    }

    let token = match args.token.as_deref() {
        Some("-") => {
            let bytes = tokenguard_sim::out::read_input(std::path::Path::new("-"))?;
            let s = String::from_utf8(bytes).context("the token on standard input is not UTF-8")?;
            let t = s.strip_suffix('\n').unwrap_or(&s);
            t.strip_suffix('\r').unwrap_or(t).to_owned()
        }
        Some(t) => t.to_owned(),
        None => bail!("a TOKEN, `-` or --batch FILE is required"),
    };
    let mut buf = vec![0u8; token.len()];
    match keys.verify(token.as_bytes(), &v, now, &mut buf) {
        Ok(t) => {
            tokenguard_sim::outln!("{}", t.claims_json());
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("error: {}: {e}", e.code());
            for line in explain(&args, &keys, algs, &token, now, e) {
                eprintln!("{line}");
            }
            Ok(ExitCode::FAILURE)
        }
    }
}
