//! Differential testing against real implementations: a randomized corpus (every algorithm,
//! random claim and header shapes, random mutations of the compact form) verified by
//! tokenguard (both backends) and by PyJWT, jwcrypto and node `jose` under the same policy.
//! Every disagreement must be a documented deliberate difference (docs/differential.md);
//! anything else fails the test. Run by `cargo xtask ci` with `--ignored`; the summary is
//! written to `target/differential-summary.json`.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};
use tokenguard::sign::Signer;
use tokenguard::{AlgSet, Expect, KeySet, Validation};
use tokenguard_tests::keys::{all_keys, Key};
use tokenguard_tests::{b64, peers, verify_both};

const NOW: u64 = 1_767_225_600;
/// Tokens per algorithm.
const PER_ALG: usize = 250;

/// xorshift64*: a fixed seed, so every run checks the same corpus.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    /// True with probability `pct` percent.
    fn pct(&mut self, pct: u64) -> bool {
        self.below(100) < pct
    }
}

struct Case {
    token: String,
    key: usize,
    /// What the generator did (used to explain disagreements).
    tags: BTreeSet<&'static str>,
}

/// Builds a JSON object from members given as raw JSON text, keeping order and duplicates.
fn object(members: &[(String, String)]) -> String {
    let body: Vec<String> = members
        .iter()
        .map(|(k, v)| format!("{}:{v}", json!(k)))
        .collect();
    format!("{{{}}}", body.join(","))
}

fn header(rng: &mut Rng, k: &Key, tags: &mut BTreeSet<&'static str>) -> String {
    let alg = k.alg.name();
    let kid = k.public["kid"].as_str().unwrap_or("");
    let mut m: Vec<(String, String)> = vec![("alg".into(), json!(alg).to_string())];
    if rng.pct(80) {
        m.push(("typ".into(), json!("JWT").to_string()));
    }
    match rng.below(100) {
        0..=4 => {
            tags.insert("kid-absent");
        }
        5..=9 => {
            m.push(("kid".into(), json!("someone-else").to_string()));
            tags.insert("kid-other");
        }
        10..=11 => {
            m.push(("kid".into(), "7".into()));
            tags.insert("kid-not-string");
        }
        _ => m.push(("kid".into(), json!(kid).to_string())),
    }
    match rng.below(100) {
        0..=2 => {
            m.push(("crit".into(), r#"["exp"]"#.into()));
            tags.insert("crit");
        }
        3..=4 => {
            m.push(("b64".into(), "false".into()));
            m.push(("crit".into(), r#"["b64"]"#.into()));
            tags.insert("b64");
        }
        5..=7 => {
            m.push(("jwk".into(), k.public.to_string()));
            tags.insert("header-jwk");
        }
        8..=10 => {
            m.push(("alg".into(), json!(alg).to_string()));
            tags.insert("duplicate-member");
        }
        11..=15 => m.push(("x5t".into(), json!("abc").to_string())),
        16..=17 => {
            m[0].1 = json!(alg.to_lowercase()).to_string();
            tags.insert("alg-case");
        }
        18..=19 => {
            m.push(("cty".into(), json!("JWT").to_string()));
            tags.insert("cty-jwt");
        }
        _ => {}
    }
    object(&m)
}

fn payload(rng: &mut Rng, tags: &mut BTreeSet<&'static str>) -> String {
    let mut m: Vec<(String, String)> = vec![];
    match rng.below(100) {
        0..=84 => m.push(("iss".into(), json!("iss-1").to_string())),
        85..=89 => m.push(("iss".into(), json!("iss-2").to_string())),
        90..=94 => {}
        _ => {
            m.push(("iss".into(), "1".into()));
            tags.insert("iss-not-string");
        }
    }
    match rng.below(100) {
        0..=59 => m.push(("aud".into(), json!("aud-1").to_string())),
        60..=79 => m.push(("aud".into(), json!(["x", "aud-1"]).to_string())),
        80..=87 => m.push(("aud".into(), json!(["x"]).to_string())),
        88..=92 => {}
        93..=96 => m.push(("aud".into(), json!("AUD-1").to_string())),
        _ => {
            m.push(("aud".into(), "[]".into()));
            tags.insert("aud-empty-array");
        }
    }
    let exp = NOW + 600;
    match rng.below(100) {
        0..=69 => m.push(("exp".into(), exp.to_string())),
        70..=79 => m.push(("exp".into(), (NOW - 10).to_string())),
        80..=83 => {
            m.push(("exp".into(), json!(exp.to_string()).to_string()));
            tags.insert("exp-string");
        }
        84..=87 => {
            m.push(("exp".into(), format!("{exp}.5")));
            tags.insert("exp-fraction");
        }
        88..=89 => {
            m.push(("exp".into(), format!("{NOW}.5")));
            tags.insert("exp-fraction-now");
        }
        90..=94 => {
            tags.insert("exp-absent");
        }
        95..=96 => {
            m.push(("exp".into(), "null".into()));
            tags.insert("exp-null");
        }
        97 => {
            m.push(("exp".into(), "1e20".into()));
            tags.insert("exp-exponent");
        }
        _ => {
            m.push(("exp".into(), exp.to_string()));
            m.push(("exp".into(), (NOW - 10).to_string()));
            tags.insert("duplicate-member");
        }
    }
    match rng.below(100) {
        0..=59 => {}
        60..=79 => m.push(("nbf".into(), (NOW - 5).to_string())),
        80..=89 => m.push(("nbf".into(), (NOW + 100).to_string())),
        _ => {
            m.push(("nbf".into(), json!((NOW - 5).to_string()).to_string()));
            tags.insert("nbf-string");
        }
    }
    match rng.below(100) {
        0..=59 => m.push(("iat".into(), (NOW - 5).to_string())),
        60..=79 => {}
        80..=89 => {
            m.push(("iat".into(), (NOW + 100).to_string()));
            tags.insert("iat-future");
        }
        _ => {
            m.push(("iat".into(), json!("yesterday").to_string()));
            tags.insert("iat-not-number");
        }
    }
    match rng.below(100) {
        0..=49 => m.push(("sub".into(), json!("subject-1").to_string())),
        50..=89 => {}
        _ => {
            m.push(("sub".into(), "42".into()));
            tags.insert("sub-not-string");
        }
    }
    if rng.pct(50) {
        m.push(("jti".into(), json!(format!("j-{}", rng.next())).to_string()));
    }
    if rng.pct(30) {
        m.push((
            "scope".into(),
            json!("a \"b\" \\ \u{e9}\u{1F511}").to_string(),
        ));
    }
    if rng.pct(20) {
        m.push(("nested".into(), r#"{"a":[1,2,{"b":null}],"c":true}"#.into()));
    }
    if rng.pct(3) {
        m.push(("esc".into(), r#""\ud83d\ude00 ok""#.into()));
    }
    if rng.pct(2) {
        m.push(("lone".into(), r#""\ud800""#.into()));
        tags.insert("lone-surrogate");
    }
    let mut text = object(&m);
    if rng.pct(2) {
        text = format!(" {text}\n");
        tags.insert("json-whitespace");
    }
    text
}

/// Lenient base64url decoding (ignores trailing bits and padding), as some peers do.
fn lenient(s: &str) -> Option<Vec<u8>> {
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = vec![];
    for c in s.trim_end_matches('=').bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            _ => return None,
        };
        bits = (bits << 6) | u32::from(v);
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n).to_le_bytes()[0]); // the low 8 bits: the next byte
        }
    }
    Some(out)
}

fn mutate(rng: &mut Rng, token: &str, tags: &mut BTreeSet<&'static str>) -> String {
    let mut parts: Vec<String> = token.split('.').map(String::from).collect();
    let seg = usize::try_from(rng.below(3)).unwrap();
    let original = parts[seg].clone();
    match rng.below(10) {
        0..=3 => {
            // Flip one bit of one character.
            let mut b = parts[seg].clone().into_bytes();
            if !b.is_empty() {
                let i = usize::try_from(rng.below(b.len() as u64)).unwrap();
                b[i] ^= 1 << rng.below(7);
                parts[seg] = String::from_utf8_lossy(&b).into_owned();
            }
        }
        4 => {
            parts[seg].push('=');
            tags.insert("padding");
        }
        5 => {
            parts[seg] = parts[seg].replace('-', "+").replace('_', "/");
            if parts[seg] != original {
                tags.insert("std-alphabet");
            }
        }
        6 => {
            parts[2].pop();
        }
        7 => parts[2].clear(),
        8 => {
            parts.push(parts[2].clone());
            tags.insert("four-segments");
        }
        _ => {
            let len = parts[seg].len();
            let i = usize::try_from(rng.below(len.max(1) as u64)).unwrap();
            parts[seg].insert(i.min(len), ' ');
            tags.insert("whitespace");
        }
    }
    if parts[seg] != original
        && lenient(&parts[seg]).is_some()
        && lenient(&parts[seg]) == lenient(&original)
    {
        tags.insert("noncanonical-same-bytes");
    }
    if parts[seg] != original {
        tags.insert("mutated");
    }
    parts.join(".")
}

fn corpus(keys: &[Key]) -> Vec<Case> {
    let mut rng = Rng(0x7106_E9A8_D5EE_D001);
    let mut out = vec![];
    for i in 0..keys.len() * PER_ALG {
        let ki = i % keys.len();
        let k = &keys[ki];
        let mut tags = BTreeSet::new();
        let h = header(&mut rng, k, &mut tags);
        let p = payload(&mut rng, &mut tags);
        let input = format!("{}.{}", b64(h.as_bytes()), b64(p.as_bytes()));
        let mut sig = vec![0u8; 1024];
        let n = k
            .signer
            .sign(input.as_bytes(), Some(&[0x33; 64]), &mut sig)
            .unwrap();
        let mut token = format!("{input}.{}", b64(&sig[..n]));
        if rng.pct(40) {
            token = mutate(&mut rng, &token, &mut tags);
        }
        out.push(Case {
            token,
            key: ki,
            tags,
        });
    }
    out
}

/// `(peer, direction)` -> the generator tags that explain it. `tg-rejects` means tokenguard
/// refused a token the peer accepted; `tg-accepts` the opposite. See docs/differential.md.
fn deliberate(peer: &str, tokenguard_rejects: bool) -> &'static [&'static str] {
    match (peer, tokenguard_rejects) {
        // We refuse what peers let through.
        (_, true) => &[
            "duplicate-member", // RFC 7515 §5.2 / RFC 7519 §4: we refuse duplicate members
            "crit",             // we understand no crit extension
            "b64",              // RFC 7797 unencoded payloads are refused
            "header-jwk",       // a header carrying a key is refused outright
            "kid-other",        // kid selects the key: an unknown kid is key_not_found
            "kid-not-string",   // kid must be a string
            "noncanonical-same-bytes", // canonical base64url only
            "padding",          // no '=' padding
            "std-alphabet",     // no '+' or '/'
            "whitespace",       // no whitespace inside segments
            "exp-string",       // NumericDate must be a JSON number
            "exp-exponent",     // 1e20: we refuse exponent forms above u64 time
            "exp-fraction-now", // NumericDate fractions are floored: exp = now + 0.5 is expired
            "nbf-string",
            "iat-future", // iat ahead of now is issued_in_future
            "iat-not-number",
            "aud-empty-array", // an empty aud array never matches; some peers treat it as absent
            "exp-null",
            "cty-jwt",        // nested JWTs are refused
            "lone-surrogate", // invalid Unicode in JSON strings is refused
            "iss-not-string",
            "sub-not-string",
            "four-segments",
        ],
        // Peers refuse what we accept.
        (_, false) => &[
            "sub-not-string",   // PyJWT and jwcrypto require a string sub even when unchecked
            "kid-not-string",   // PyJWT requires a string kid
            "exp-fraction-now", // PyJWT truncates fractional times: exp = now + 0.5 is expired there
            "iat-not-number",
            "nbf-string",
            "exp-null", // PyJWT treats null as absent (require fails)
            "json-whitespace",
        ],
    }
}

#[test]
#[ignore = "needs the peers: peers/install.sh (cargo xtask ci runs it)"]
fn verdicts_agree_with_pyjwt_jwcrypto_and_jose() {
    let keys = all_keys();
    let cases = corpus(&keys);
    assert_eq!(cases.len(), 12 * PER_ALG);
    // tokenguard: one key (the case's), its algorithm only, same policy as the peers.
    let mut ours = vec![];
    for c in &cases {
        let k = &keys[c.key];
        let mut set: KeySet<1> = KeySet::new();
        set.insert(tokenguard::Jwk::from_json(k.public.to_string().as_bytes()).unwrap())
            .unwrap();
        let v = Validation::new(Expect::One("iss-1"), Expect::One("aud-1"))
            .algorithms(AlgSet::from_slice(&[k.alg]))
            .leeway(0)
            .allow_missing_kid(true);
        ours.push(
            verify_both(&set, &c.token, &v, NOW)
                .map(|_| ())
                .map_err(|e| e.code()),
        );
    }
    let requests: Vec<Value> = cases
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let k = &keys[c.key];
            json!({"name": i.to_string(), "token": c.token, "jwk": k.public, "alg": k.alg.name(),
                   "iss": "iss-1", "aud": "aud-1", "sub": null, "now": NOW, "require": ["exp"], "leeway": 0})
        })
        .collect();
    let mut summary = json!({"cases": cases.len(), "tokenguard_accepted": ours.iter().filter(|r| r.is_ok()).count()});
    let mut unexplained = vec![];
    for peer in peers::ALL {
        let out = peers::run(peer, "verify", &json!({ "cases": requests }));
        let results = out["results"].as_array().unwrap();
        assert_eq!(results.len(), cases.len());
        let (mut agree, mut accepted) = (0, 0);
        let mut differences: BTreeMap<String, usize> = BTreeMap::new();
        for ((c, r), mine) in cases.iter().zip(results).zip(&ours) {
            let theirs = r["ok"] == true;
            accepted += usize::from(theirs);
            if theirs == mine.is_ok() {
                agree += 1;
                continue;
            }
            let tg_rejects = mine.is_err();
            let why: Vec<&&str> = deliberate(peer, tg_rejects)
                .iter()
                .filter(|t| c.tags.contains(**t))
                .collect();
            match why.first() {
                Some(t) => {
                    let dir = if tg_rejects {
                        "tokenguard rejects"
                    } else {
                        "peer rejects"
                    };
                    *differences.entry(format!("{dir}: {t}")).or_default() += 1;
                }
                None => unexplained.push(format!(
                    "{peer}: tokenguard {:?}, {peer} {} ({}), tags {:?}, alg {}, token {}",
                    mine,
                    if theirs { "accepts" } else { "rejects" },
                    r["error"],
                    c.tags,
                    keys[c.key].alg.name(),
                    c.token
                )),
            }
        }
        summary[peer] =
            json!({"accepted": accepted, "agree": agree, "deliberate_differences": differences});
    }
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target/differential-summary.json");
    std::fs::write(&path, serde_json::to_string_pretty(&summary).unwrap()).unwrap();
    println!("{}", serde_json::to_string_pretty(&summary).unwrap());
    assert!(
        unexplained.is_empty(),
        "{} unexplained disagreements:\n{}",
        unexplained.len(),
        unexplained
            .iter()
            .take(30)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}
