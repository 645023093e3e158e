//! Seed corpora from the committed seeds (`fuzz/seeds/`), the negative corpus, the
//! Wycheproof and RFC 7520 files, all read in place (nothing third-party is copied into the
//! repository; the seeds land in `target/`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// What one JSON file yields.
#[derive(Default)]
struct Found {
    tokens: Vec<String>,
    jwks: Vec<String>,
    sets: Vec<String>,
}

/// Walks JSON text without a parser: string values that look like compact JWS, leaf
/// objects with a `kty` member (JWKs) and objects with a `keys` member (JWK Sets).
fn scan(text: &[u8], f: &mut Found) {
    let mut stack: Vec<(usize, bool)> = Vec::new();
    let mut i = 0;
    while i < text.len() {
        match text[i] {
            b'"' => {
                let start = i + 1;
                let mut j = start;
                let mut escaped = false;
                while j < text.len() && text[j] != b'"' {
                    if text[j] == b'\\' {
                        escaped = true;
                        j += 1;
                    }
                    j += 1;
                }
                let s = &text[start..j.min(text.len())];
                if !escaped && looks_like_jws(s) {
                    f.tokens.push(String::from_utf8_lossy(s).into_owned());
                }
                i = j + 1;
                continue;
            }
            b'{' => {
                if let Some(top) = stack.last_mut() {
                    top.1 = true;
                }
                stack.push((i, false));
            }
            b'}' => {
                if let Some((start, nested)) = stack.pop() {
                    let obj = String::from_utf8_lossy(&text[start..=i]).into_owned();
                    if !nested && obj.contains("\"kty\"") {
                        f.jwks.push(obj);
                    } else if obj.contains("\"keys\"") && obj.contains("\"kty\"") {
                        f.sets.push(obj);
                    }
                }
            }
            _ => {}
        }
        i += 1;
    }
}

fn looks_like_jws(s: &[u8]) -> bool {
    s.len() >= 10
        && s.starts_with(b"eyJ")
        && s.iter().filter(|&&c| c == b'.').count() == 2
        && s.iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

/// Strict-enough base64url decoding for seeds.
fn unb64(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits).to_le_bytes()[0]); // the low 8 bits: the next byte
        }
    }
    Some(out)
}

fn fnv(b: &[u8]) -> u64 {
    b.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &x| {
        (h ^ u64::from(x)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn put(dir: &Path, data: &[u8]) -> Result<(), String> {
    std::fs::write(dir.join(format!("{:016x}", fnv(data))), data)
        .map_err(|e| format!("{}: {e}", dir.display()))
}

fn json_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            json_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "json") {
            out.push(p);
        }
    }
}

/// A `device_proto` request: `tag len:u16 body` (tag = index into its KNOWN table).
fn req(out: &mut Vec<u8>, tag: u8, body: &[u8]) {
    out.push(tag);
    let len = u16::try_from(body.len())
        .expect("a request body fits the u16 length field (seed bodies are at most 1000 bytes)");
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(body);
}
const INFO: u8 = 0;
const SET_TIME: u8 = 1;
const GET_TIME: u8 = 2;
const LOAD_JWK: u8 = 3;
const JWKS_BEGIN: u8 = 4;
const JWKS_CHUNK: u8 = 5;
const JWKS_END: u8 = 6;
const REMOVE_KEY: u8 = 7;
const LIST_KEYS: u8 = 8;
const FETCH_FAILED: u8 = 9;
const REFRESH_STATE: u8 = 10;
const VERIFY: u8 = 12;
const SIGN: u8 = 13;
const STATS: u8 = 15;

fn sign_body(preset: u8, sub: &str, aud: &str, jti: &str) -> Vec<u8> {
    let mut b = vec![preset];
    b.extend_from_slice(&300u32.to_le_bytes());
    b.extend_from_slice(&5u16.to_le_bytes());
    for s in ["", sub, aud, jti] {
        b.push(u8::try_from(s.len()).expect("sign fields are short constants"));
        b.extend_from_slice(s.as_bytes());
    }
    b
}

/// Builds `out/<target>/` for every target; returns the seed count per target.
pub fn build(root: &Path, vectors: &Path, out: &Path) -> Result<Vec<(String, usize)>, String> {
    let _ = std::fs::remove_dir_all(out);
    let targets = [
        "verify",
        "jwk_parse",
        "jwks_stream",
        "claims_typed",
        "device_proto",
        "assertion",
    ];
    for t in targets {
        std::fs::create_dir_all(out.join(t)).map_err(|e| e.to_string())?;
    }
    let dir = |t: &str| out.join(t);
    let mut f = Found::default();
    let mut files = Vec::new();
    json_files(vectors, &mut files);
    if files.is_empty() {
        return Err(format!("no JSON vectors under {}", vectors.display()));
    }
    for p in &files {
        let text = std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()))?;
        let before = f.jwks.len();
        scan(&text, &mut f);
        // Each file's keys also make one JWK Set.
        if f.jwks.len() > before {
            f.sets
                .push(format!(r#"{{"keys":[{}]}}"#, f.jwks[before..].join(",")));
        }
    }
    // Our own committed seeds (tokens minted with our test keys, see fuzz/seeds/mint.sh).
    let own = root.join("fuzz/seeds");
    for t in targets {
        if let Ok(rd) = std::fs::read_dir(own.join(t)) {
            for e in rd.flatten() {
                let data = std::fs::read(e.path()).map_err(|e| e.to_string())?;
                if t == "verify" {
                    f.tokens
                        .push(String::from_utf8_lossy(&data).trim().to_owned());
                } else {
                    put(&dir(t), &data)?;
                }
            }
        }
    }
    let tokens: BTreeSet<String> = f.tokens.into_iter().collect();
    let jwks: BTreeSet<String> = f.jwks.into_iter().collect();
    let sets: BTreeSet<String> = f.sets.into_iter().collect();
    for t in &tokens {
        put(&dir("verify"), t.as_bytes())?;
        if let Some(p) = t.split('.').nth(1).and_then(unb64) {
            put(&dir("claims_typed"), &p)?;
        }
        if t.len() < 1000 {
            for slot in [0u8, 1] {
                let mut body = vec![slot];
                body.extend_from_slice(t.as_bytes());
                let mut s = Vec::new();
                req(&mut s, VERIFY, &body);
                put(&dir("device_proto"), &s)?;
            }
        }
    }
    for j in &jwks {
        put(&dir("jwk_parse"), j.as_bytes())?;
    }
    for (i, s) in sets.iter().enumerate() {
        // h = 0: one byte at a time; h = 3: chunks of 1, 7 and 64 bytes; bit 7 set:
        // mixed key sets allowed.
        for head in [&[0u8][..], &[3, 1, 7, 64], &[0x81, 13]] {
            if head[0] == 0 && s.len() > 2000 {
                continue;
            }
            let mut seed = head.to_vec();
            seed.extend_from_slice(s.as_bytes());
            put(&dir("jwks_stream"), &seed)?;
        }
        // A device session that streams this set in two chunks.
        if s.len() < 900 {
            let mut d = Vec::new();
            req(&mut d, JWKS_BEGIN, &600u32.to_le_bytes());
            let half = s.len() / 2;
            req(&mut d, JWKS_CHUNK, &s.as_bytes()[..half]);
            req(&mut d, JWKS_CHUNK, &s.as_bytes()[half..]);
            req(&mut d, JWKS_END, &[]);
            req(&mut d, LIST_KEYS, &[0]);
            put(&dir("device_proto"), &d)?;
        }
        let _ = i;
    }
    // A session touching every command once.
    let mut d = Vec::new();
    req(&mut d, INFO, &[]);
    req(&mut d, GET_TIME, &[]);
    req(&mut d, LIST_KEYS, &[0]);
    req(&mut d, STATS, &[]);
    req(&mut d, REFRESH_STATE, &[]);
    d.extend_from_slice(&[0xFE, 0xA0, 0x0F]); // 4000 s later: the key set is stale
    req(&mut d, REFRESH_STATE, &[]);
    req(&mut d, FETCH_FAILED, &[]);
    req(&mut d, REMOVE_KEY, b"ec-1");
    req(&mut d, REMOVE_KEY, b"hs-1");
    if let Some(j) = jwks.iter().find(|j| j.len() < 600) {
        let mut body = vec![0u8];
        body.extend_from_slice(j.as_bytes());
        req(&mut d, LOAD_JWK, &body);
    }
    for (p, aud) in [
        (0u8, "https://idp.example"),
        (1, "https://zitadel.example"),
        (2, "https://zitadel.example"),
        (3, "https://zitadel.example:8080"),
        (4, "https://tenant.auth0.com/oauth/token"),
    ] {
        req(&mut d, SIGN, &sign_body(p, "device-7", aud, "jti-1"));
    }
    req(&mut d, SET_TIME, &1_700_000_000u64.to_le_bytes());
    d.extend_from_slice(&[0xFF, 5, 0x02, 0x41, 0x00, 0x01, 0x00]); // raw bytes
    d.extend_from_slice(&[0xFD, 3, 0x40, INFO, 0, 0]); // a corrupted INFO
    req(&mut d, STATS, &[]);
    put(&dir("device_proto"), &d)?;
    let mut counts = Vec::new();
    for t in targets {
        let n = std::fs::read_dir(dir(t)).map(|r| r.count()).unwrap_or(0);
        counts.push((t.to_string(), n));
    }
    Ok(counts)
}
