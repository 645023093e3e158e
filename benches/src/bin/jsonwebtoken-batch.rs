//! The `tokenguard-sim verify --batch` contract built on jsonwebtoken (`aws_lc_rs` provider),
//! as a user of that crate would write it: the peer `cargo xtask bench` times whole processes
//! against. It also mints the token files both commands read.
//!
//! ```text
//! jsonwebtoken-batch mint GROUP N DIR
//!     DIR/jwks.json (the fixture's public key) and DIR/tokens.txt (N tokens of bench group
//!     GROUP, one per line, distinct `jti`, valid for an hour)
//! jsonwebtoken-batch verify --jwks FILE --iss ISS --aud AUD --alg ALG --batch FILE
//!     one JSON line per input line: {"ok":true,"claims":{...}} or
//!     {"ok":false,"error":"<kind>"}; exit 0, or 2 on a usage or I/O error
//! ```
//!
//! Same policy as `tokenguard-sim verify` with those flags: issuer and audience exact, `exp`
//! required, `nbf` checked, leeway 0, the one algorithm, the key chosen by `kid` from the set.
//! The keys are parsed once, at start, as a long-running verifier would keep them.

use std::collections::HashMap;
use std::io::{BufRead, BufWriter, Write};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};

fn usage() -> ! {
    eprintln!(
        "usage: jsonwebtoken-batch mint GROUP N DIR\n       \
         jsonwebtoken-batch verify --jwks FILE --iss ISS --aud AUD --alg ALG --batch FILE"
    );
    std::process::exit(2)
}

fn fail(what: &str, e: impl std::fmt::Display) -> ! {
    eprintln!("error: {what}: {e}");
    std::process::exit(2)
}

fn mint(group: &str, n: usize, dir: &std::path::Path) {
    let f = tokenguard_benches::fixture(group);
    std::fs::create_dir_all(dir).unwrap_or_else(|e| fail("creating the directory", e));
    let jwks = format!(r#"{{"keys":[{}]}}"#, f.key.jwk_json(f.kid, f.alg_name));
    std::fs::write(dir.join("jwks.json"), jwks).unwrap_or_else(|e| fail("jwks.json", e));
    let mut out = String::new();
    for i in 0..n {
        let claims = tokenguard_benches::claims_with_jti(&format!("batch-{i:08}"));
        out.push_str(&(f.mint)(&claims));
        out.push('\n');
    }
    std::fs::write(dir.join("tokens.txt"), out).unwrap_or_else(|e| fail("tokens.txt", e));
}

fn verify(args: &[String]) {
    let mut opt: HashMap<&str, &str> = HashMap::new();
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let name = match flag.as_str() {
            "--jwks" | "--iss" | "--aud" | "--alg" | "--batch" => flag.as_str(),
            _ => usage(),
        };
        opt.insert(name, it.next().unwrap_or_else(|| usage()));
    }
    let get = |k: &str| *opt.get(k).unwrap_or_else(|| usage());
    let alg: Algorithm = get("--alg").parse().unwrap_or_else(|e| fail("--alg", e));
    let text = std::fs::read_to_string(get("--jwks")).unwrap_or_else(|e| fail("--jwks", e));
    let set: JwkSet = serde_json::from_str(&text).unwrap_or_else(|e| fail("--jwks", e));
    let keys: HashMap<String, DecodingKey> = set
        .keys
        .iter()
        .filter_map(|k| Some((k.common.key_id.clone()?, DecodingKey::from_jwk(k).ok()?)))
        .collect();
    let mut v = Validation::new(alg);
    v.set_issuer(&[get("--iss")]);
    v.set_audience(&[get("--aud")]);
    v.validate_nbf = true;
    v.leeway = 0;

    let input = std::fs::File::open(get("--batch")).unwrap_or_else(|e| fail("--batch", e));
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    for line in std::io::BufReader::new(input).lines() {
        let line = line.unwrap_or_else(|e| fail("reading --batch", e));
        let token = line.strip_suffix('\r').unwrap_or(&line);
        let verdict = jsonwebtoken::decode_header(token).and_then(|h| {
            let key = h
                .kid
                .as_deref()
                .and_then(|kid| keys.get(kid))
                .ok_or(jsonwebtoken::errors::ErrorKind::InvalidToken)?;
            jsonwebtoken::decode::<serde_json::Value>(token, key, &v)
        });
        let written = match verdict {
            Ok(data) => writeln!(out, r#"{{"ok":true,"claims":{}}}"#, data.claims),
            Err(e) => {
                let kind = format!("{:?}", e.kind()).replace(['"', '\\'], "'");
                writeln!(out, r#"{{"ok":false,"error":"{kind}"}}"#)
            }
        };
        written.unwrap_or_else(|e| fail("writing", e));
    }
    out.flush().unwrap_or_else(|e| fail("writing", e));
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("mint") if args.len() == 4 => {
            let n = args[2].parse().unwrap_or_else(|_| usage());
            mint(&args[1], n, std::path::Path::new(&args[3]));
        }
        Some("verify") => verify(&args[1..]),
        _ => usage(),
    }
}
