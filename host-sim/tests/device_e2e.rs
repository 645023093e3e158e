//! The device protocol end to end over TCP: the simulated device, and (with `--ignored`,
//! run by `cargo xtask ci` after building the firmware) the real firmware in QEMU, which
//! must give identical verdicts and error codes.

use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tokenguard::sign::Signer;
use tokenguard_sim::client::{DeviceClient, Policy, Verdict};
use tokenguard_tests::mint;

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        // QEMU runs two levels below `device qemu`: kill the whole process group.
        tokenguard_sim::scenario::kill_group(&mut self.0);
    }
}

/// A client with its session started (`HELLO`).
fn connect(addr: &str) -> DeviceClient<TcpStream> {
    DeviceClient::connect(addr, Duration::from_secs(30)).unwrap()
}

/// A bare TCP stream, for clients that do things the Rust client never does.
fn raw(addr: &str) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s
}

/// Starts `tokenguard-sim device ...` on a port it picks itself (`--listen 127.0.0.1:0`), so
/// tests running side by side cannot be handed the same port.
fn start_device(args: &[&str]) -> (Proc, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tokenguard-sim"));
    tokenguard_sim::scenario::in_own_group(&mut cmd)
        .arg("device")
        .args(args)
        .args(["--listen", "127.0.0.1:0"])
        .stderr(Stdio::null());
    let (child, addr) = tokenguard_sim::scenario::spawn_listening(&mut cmd).unwrap();
    (Proc(child), addr)
}

fn start_sim() -> (Proc, DeviceClient<TcpStream>) {
    let (p, addr) = start_device(&["serve"]);
    (p, connect(&addr))
}

fn start_qemu() -> (Proc, DeviceClient<TcpStream>) {
    let (p, addr) = start_qemu_addr();
    // The firmware may still be booting; the INFO round trip in the callers waits for it.
    (p, connect(&addr))
}

fn start_qemu_addr() -> (Proc, String) {
    let elf = std::env::var("TOKENGUARD_FIRMWARE_ELF")
        .expect("TOKENGUARD_FIRMWARE_ELF must name the built firmware (cargo xtask ci sets it)");
    start_qemu_elf(&elf)
}

fn start_qemu_elf(elf: &str) -> (Proc, String) {
    start_device(&["qemu", "--elf", elf])
}

const ISS: &str = "https://issuer.example";
const AUD: &str = "device-1";
const NOW: u64 = 1_700_000_300;

/// The same script against any device; returns (step, verdict code) pairs.
fn script(c: &mut DeviceClient<TcpStream>) -> Vec<(String, String)> {
    let mut out = vec![];
    let info = c.info().unwrap();
    assert_eq!(info.key_capacity, 8);
    assert_eq!(info.protocol, 2);
    c.set_time(NOW).unwrap();
    c.set_policy(&Policy::new(0, ISS, AUD)).unwrap();
    let mut strict = Policy::new(1, ISS, AUD);
    strict.typ = "at+jwt".into();
    c.set_policy(&strict).unwrap();

    let es = mint::Es256::generate();
    let ed = mint::Ed25519::generate();
    let jwks = format!(
        r#"{{"keys":[{},{},{{"kty":"RSA","kid":"weak","n":"AQAB","e":"AQAB"}},{{"kty":"oct","kid":"enc","use":"enc","k":"AAAA"}}]}}"#,
        es.jwk("es"),
        ed.jwk("ed")
    );
    let report = c
        .load_jwks(jwks.as_bytes(), 61, Some(600))
        .unwrap()
        .unwrap();
    out.push((
        "jwks".into(),
        format!("{}/{}/{:?}", report.loaded, report.skipped, report.skips),
    ));
    let hs_key = [7u8; 32];
    let hs_jwk = format!(
        r#"{{"kty":"oct","kid":"hs","alg":"HS256","k":"{}"}}"#,
        tokenguard_tests::b64(&hs_key)
    );
    out.push((
        "load hs".into(),
        format!("{:?}", c.load_jwk(&hs_jwk, true).unwrap()),
    ));
    out.push((
        "load weak".into(),
        format!(
            "{:?}",
            c.load_jwk(r#"{"kty":"oct","k":"AAEC"}"#, false).unwrap()
        ),
    ));

    let claims = format!(
        r#"{{"iss":"{ISS}","aud":"{AUD}","sub":"dev","exp":{},"iat":{}}}"#,
        NOW + 300,
        NOW - 5
    );
    let expired = format!(r#"{{"iss":"{ISS}","aud":"{AUD}","exp":{}}}"#, NOW - 100);
    let wrong_aud = format!(r#"{{"iss":"{ISS}","aud":"other","exp":{}}}"#, NOW + 300);
    let tokens: Vec<(&str, u8, String)> = vec![
        (
            "es256 ok",
            0,
            es.sign(r#"{"alg":"ES256","kid":"es"}"#, &claims),
        ),
        (
            "eddsa ok",
            0,
            ed.sign(r#"{"alg":"EdDSA","kid":"ed"}"#, &claims),
        ),
        (
            "hs256 ok",
            0,
            mint::hs256(&hs_key, r#"{"alg":"HS256","kid":"hs"}"#, &claims),
        ),
        (
            "typ required",
            1,
            es.sign(r#"{"alg":"ES256","kid":"es","typ":"JWT"}"#, &claims),
        ),
        (
            "typ ok",
            1,
            es.sign(r#"{"alg":"ES256","kid":"es","typ":"at+jwt"}"#, &claims),
        ),
        (
            "expired",
            0,
            es.sign(r#"{"alg":"ES256","kid":"es"}"#, &expired),
        ),
        (
            "wrong aud",
            0,
            ed.sign(r#"{"alg":"EdDSA","kid":"ed"}"#, &wrong_aud),
        ),
        (
            "unknown kid",
            0,
            es.sign(r#"{"alg":"ES256","kid":"nope"}"#, &claims),
        ),
        (
            "confusion",
            0,
            mint::hs256(
                b"not the key, just bytes!!!!!!!!!",
                r#"{"alg":"HS256","kid":"es"}"#,
                &claims,
            ),
        ),
        (
            "crit",
            0,
            es.sign(r#"{"alg":"ES256","kid":"es","crit":["x"]}"#, &claims),
        ),
        (
            "none",
            0,
            format!("{}.", mint::signing_input(r#"{"alg":"none"}"#, &claims)),
        ),
        ("garbage", 0, "not.a.token".into()),
    ];
    // Change the signature's first character (ES256 signatures are 86 characters).
    let t0 = &tokens[0].2;
    let i = t0.rfind('.').unwrap() + 1;
    let first = if t0.as_bytes()[i] == b'A' { "B" } else { "A" };
    let tampered = format!("{}{first}{}", &t0[..i], &t0[i + 1..]);
    for (name, slot, tok) in tokens
        .iter()
        .map(|(n, s, t)| (n.to_string(), *s, t.clone()))
        .chain([("tampered".to_string(), 0, tampered)])
    {
        let v = c.verify(slot, &tok).unwrap();
        if let Verdict::Accepted { claims: got, .. } = &v {
            assert!(got.contains("\"sub\":\"dev\""), "{name}");
        }
        out.push((name, v.code().to_string()));
    }
    // Bad frames between requests: error frames, nothing lost.
    c.send_raw(&[0x13, 0x37, 0x00]).unwrap();
    let (cmd, _, status, _) = c.read_frame().unwrap();
    out.push(("garbage frame".into(), format!("{cmd:#x}/{status:#x}")));
    out.push((
        "after garbage".into(),
        c.verify(0, &tokens[0].2).unwrap().code().into(),
    ));
    // A refused JWK Set update keeps the keys.
    out.push((
        "bad jwks".into(),
        format!(
            "{:?}",
            c.load_jwks(br#"{"keys":[{"kty":"EC",,}]}"#, 10, None)
                .unwrap()
        ),
    ));
    out.push((
        "after bad jwks".into(),
        c.verify(0, &tokens[1].2).unwrap().code().into(),
    ));
    // A complete but empty set is refused too: the device keeps what it has.
    out.push((
        "empty jwks".into(),
        format!("{:?}", c.load_jwks(br#"{"keys":[]}"#, 5, None).unwrap()),
    ));
    out.push((
        "after empty jwks".into(),
        c.verify(0, &tokens[0].2).unwrap().code().into(),
    ));
    // An RSA-2048 signing key with its CRT members is longer than a frame: it is uploaded
    // in chunks, and both RS256 and PS256 assertions verify.
    let mut algs = vec![];
    for alg in [tokenguard::Algorithm::Rs256, tokenguard::Algorithm::Ps256] {
        let jwk = tokenguard_tests::keys::key(alg).private.to_string();
        assert!(jwk.len() > 1015, "{} bytes", jwk.len());
        let got = c.set_signing_key(&jwk).unwrap();
        c.set_time(NOW).unwrap();
        let jwt = c
            .sign(0, 300, 0, &[0x5a; 32], "dev", "https://api.example", "")
            .unwrap()
            .unwrap();
        let signer = tokenguard::sign::SigningKey::from_jwk(jwk.as_bytes()).unwrap();
        let v = tokenguard::Validation::new(
            tokenguard::Expect::One("dev"),
            tokenguard::Expect::One("https://api.example"),
        );
        let mut work = vec![0u8; jwt.len()];
        tokenguard::verify_jwt::<tokenguard::crypto::Ring, _>(
            &signer.public_jwk().unwrap(),
            jwt.as_bytes(),
            &v,
            NOW,
            &mut work,
        )
        .unwrap();
        algs.push(got.name());
    }
    out.push(("rsa signing key".into(), algs.join(" ")));
    // The device's own key signs a ZITADEL assertion; deterministic ECDSA (no entropy)
    // gives the same token on the simulator and the firmware.
    let d = tokenguard_tests::b64(&[0x42; 32]);
    let alg = c
        .set_signing_key(&format!(
            r#"{{"kty":"EC","crv":"P-256","kid":"dev-key","d":"{d}"}}"#
        ))
        .unwrap();
    out.push(("signing key".into(), alg.name().into()));
    c.set_time(NOW).unwrap(); // both devices' clocks at the same second
    let jwt = c
        .sign(1, 3600, 2, &[], "user-1", "https://zitadel.example", "")
        .unwrap()
        .unwrap();
    out.push(("signed".into(), jwt.clone()));
    let signer =
        tokenguard::sign::SigningKey::ec(Some(b"dev-key"), tokenguard::Curve::P256, &[0x42; 32])
            .unwrap();
    let v = tokenguard::Validation::new(
        tokenguard::Expect::One("user-1"),
        tokenguard::Expect::One("https://zitadel.example"),
    )
    .subject("user-1");
    let mut work = vec![0u8; jwt.len()];
    let ok = tokenguard::verify_jwt::<tokenguard::crypto::Ring, _>(
        &signer.public_jwk().unwrap(),
        jwt.as_bytes(),
        &v,
        NOW,
        &mut work,
    )
    .is_ok();
    out.push(("signed verifies".into(), ok.to_string()));
    out.push((
        "sign too long".into(),
        format!(
            "{:?}",
            c.sign(1, 3601, 2, &[], "user-1", "https://zitadel.example", "")
                .unwrap()
        ),
    ));
    let keys = c.list_keys().unwrap();
    out.push((
        "keys".into(),
        format!(
            "{:?}",
            keys.iter().map(|k| (k.0.clone(), k.4)).collect::<Vec<_>>()
        ),
    ));
    let st = c.stats().unwrap();
    out.push((
        "stats".into(),
        format!(
            "ok={} rejected={} bad_frames={} updates_refused={}",
            st.accepted,
            st.rejected.iter().sum::<u32>(),
            st.bad_frames,
            st.updates_refused
        ),
    ));
    out
}

fn expected() -> Vec<(&'static str, &'static str)> {
    vec![
        ("es256 ok", "accept"),
        ("eddsa ok", "accept"),
        ("hs256 ok", "accept"),
        ("typ required", "wrong_type"),
        ("typ ok", "accept"),
        ("expired", "expired"),
        ("wrong aud", "wrong_audience"),
        ("unknown kid", "key_not_found"),
        ("confusion", "alg_not_allowed"),
        ("crit", "crit_unsupported"),
        ("none", "malformed"),
        ("garbage", "malformed"),
        ("tampered", "bad_signature"),
        ("after garbage", "accept"),
        ("after bad jwks", "accept"),
    ]
}

fn check(run: &[(String, String)]) {
    for (step, want) in expected() {
        let got = &run.iter().find(|(s, _)| s == step).unwrap().1;
        assert_eq!(got, want, "{step}");
    }
    let get = |k: &str| run.iter().find(|(s, _)| s == k).unwrap().1.clone();
    assert_eq!(get("jwks"), "2/2/[(2, RsaModulus), (3, WrongUse)]");
    assert_eq!(get("load hs"), "Ok(3)");
    assert_eq!(get("load weak"), "Err(SymmetricKeySize)");
    assert_eq!(get("garbage frame"), "0xff/0x30");
    assert_eq!(
        get("bad jwks"),
        "Err(JwksRefusal { code: 0, needed: 0, free: 0, report: None })"
    );
    assert_eq!(
        get("empty jwks"),
        "Err(JwksRefusal { code: 5, needed: 0, free: 5, report: Some(LoadReport { loaded: 0, unchanged: 0, skipped: 0, removed: 0, skips: [] }) })"
    );
    assert_eq!(get("after empty jwks"), "accept");
    assert_eq!(get("rsa signing key"), "RS256 PS256");
    assert_eq!(
        get("keys"),
        r#"[("es", false), ("ed", false), ("hs", true)]"#
    );
    assert_eq!(
        get("stats"),
        "ok=7 rejected=9 bad_frames=1 updates_refused=1"
    );
    assert_eq!(get("signing key"), "ES256");
    assert_eq!(get("signed verifies"), "true");
    assert_eq!(get("sign too long"), "Err(51)");
}

#[test]
fn simulated_device_serves_the_protocol() {
    let (_p, mut c) = start_sim();
    check(&script(&mut c));
}

/// One client loads a key and sets the clock and policy, then hangs up; the next client's
/// token verifies against that state: the device, not the connection, holds it.
fn state_survives_a_new_client(addr: &str) {
    let key = [9u8; 32];
    {
        let mut c = connect(addr);
        c.set_time(NOW).unwrap();
        c.set_policy(&Policy::new(2, ISS, AUD)).unwrap();
        let jwk = format!(
            r#"{{"kty":"oct","kid":"kept","alg":"HS256","k":"{}"}}"#,
            tokenguard_tests::b64(&key)
        );
        assert!(c.load_jwk(&jwk, false).unwrap().is_ok());
    }
    let mut c = connect(addr);
    let claims = format!(r#"{{"iss":"{ISS}","aud":"{AUD}","exp":{}}}"#, NOW + 60);
    let token = mint::hs256(&key, r#"{"alg":"HS256","kid":"kept"}"#, &claims);
    assert_eq!(c.verify(2, &token).unwrap().code(), "accept");
    let late = format!(r#"{{"iss":"{ISS}","aud":"{AUD}","exp":{}}}"#, NOW - 120);
    let token = mint::hs256(&key, r#"{"alg":"HS256","kid":"kept"}"#, &late);
    assert_eq!(c.verify(2, &token).unwrap().code(), "expired");
}

#[test]
fn simulated_device_keeps_its_state_across_clients() {
    let (_p, addr) = start_device(&["serve"]);
    state_survives_a_new_client(&addr);
}

#[test]
#[ignore = "needs QEMU and the firmware ELF (run by `cargo xtask ci`)"]
fn qemu_bridge_keeps_the_firmware_state_across_clients() {
    let (_q, addr) = start_qemu_addr();
    state_survives_a_new_client(&addr);
}

/// A port another process holds is a clear error at start-up, never a device that answers
/// on someone else's port.
#[test]
fn a_taken_port_is_a_start_up_error() {
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = held.local_addr().unwrap().to_string();
    let o = Command::new(env!("CARGO_BIN_EXE_tokenguard-sim"))
        .args(["device", "serve", "--listen", &addr])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    assert!(o.stdout.is_empty(), "{o:?}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains(&format!("binding {addr}")), "{err}");
}

#[test]
#[ignore = "needs QEMU and the firmware ELF (run by `cargo xtask ci`)"]
fn qemu_firmware_matches_the_simulator() {
    let (_s, mut sim) = start_sim();
    let (_q, mut fw) = start_qemu();
    // Same keys for both: the script generates fresh keys per run, so compare codes only.
    let a = script(&mut sim);
    let b = script(&mut fw);
    check(&b);
    assert_eq!(a, b, "firmware and simulator disagree");
}

/// `tokenguard-sim demo --json`, against a simulated device or the one at `device`.
fn demo_json(device: Option<&str>) -> serde_json::Value {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tokenguard-sim"));
    c.args(["demo", "--json"]);
    if let Some(d) = device {
        c.args(["--device", d]);
    }
    let o = c.output().unwrap();
    assert!(
        o.status.success(),
        "demo failed:\n{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
#[ignore = "needs QEMU and the firmware ELF (run by `cargo xtask ci`)"]
fn demo_gives_identical_verdicts_on_the_firmware() {
    let (_q, addr) = start_qemu_addr();
    {
        // Wait for the firmware to boot, then hand the UART to the demo.
        let mut c = connect(&addr);
        assert_eq!(c.info().unwrap().key_capacity, 8);
    }
    let fw = demo_json(Some(&addr));
    let sim = demo_json(None);
    assert_eq!(fw["passed"], true);
    assert_eq!(fw["checks"], 24);
    assert_eq!(
        fw["steps"], sim["steps"],
        "firmware and simulator verdicts differ"
    );
}

/// A token signed by one of the test keys (`tokenguard_tests::keys`).
fn signed(key: &tokenguard_tests::keys::Key, claims: &str) -> String {
    let header = format!(
        r#"{{"alg":"{}","kid":"{}"}}"#,
        key.alg.name(),
        key.public["kid"].as_str().unwrap()
    );
    let input = mint::signing_input(&header, claims);
    let mut sig = vec![0u8; 1024];
    let n = key
        .signer
        .sign(input.as_bytes(), Some(&[0x5a; 64]), &mut sig)
        .unwrap();
    format!("{input}.{}", tokenguard_tests::b64(&sig[..n]))
}

/// The ES256-and-RS256 firmware (`--no-default-features --features es256-rs256`, the
/// smallest image): `INFO` lists exactly those two algorithms, their keys load and their
/// tokens verify. A key for any other algorithm is refused at `LOAD_JWK` and skipped in a
/// JWK Set (the device could never verify with it), with the exact reason, and a token for
/// another algorithm is `alg_not_allowed` although the policy allows it.
#[test]
#[ignore = "needs QEMU and the es256-rs256 firmware ELF (run by `cargo xtask ci`)"]
fn es256_rs256_firmware_refuses_the_other_algorithms() {
    use tokenguard::{AlgSet, Algorithm, KeyError};
    let elf = std::env::var("TOKENGUARD_FIRMWARE_ES256_RS256_ELF").expect(
        "TOKENGUARD_FIRMWARE_ES256_RS256_ELF must name the es256-rs256 firmware (cargo xtask ci sets it)",
    );
    let (_q, addr) = start_qemu_elf(&elf);
    let mut c = connect(&addr);
    let info = c.info().unwrap();
    assert_eq!(
        info.algorithms,
        AlgSet::from_slice(&[Algorithm::Rs256, Algorithm::Es256])
    );
    c.set_time(NOW).unwrap();
    c.set_policy(&Policy::new(0, ISS, AUD)).unwrap();
    let claims = format!(
        r#"{{"iss":"{ISS}","aud":"{AUD}","sub":"dev","exp":{}}}"#,
        NOW + 300
    );
    let algs = [
        Algorithm::Rs256,
        Algorithm::Es256,
        Algorithm::Ps256,
        Algorithm::Hs256,
        Algorithm::Es384,
        Algorithm::EdDsa,
    ];
    let keys: Vec<_> = algs
        .iter()
        .map(|a| tokenguard_tests::keys::key(*a))
        .collect();
    let loads: Vec<_> = keys
        .iter()
        .map(|k| c.load_jwk(&k.public.to_string(), false).unwrap())
        .collect();
    assert_eq!(
        loads,
        [
            Ok(1),
            Ok(2),
            // An RSA key bound to PS256, an ES384 key: their `alg` is not this device's.
            Err(KeyError::UnsupportedAlg),
            Err(KeyError::UnsupportedKeyType),
            Err(KeyError::UnsupportedAlg),
            Err(KeyError::UnsupportedKeyType),
        ]
    );
    // Without `alg`, the P-384 key is refused for its curve.
    let mut p384 = keys[4].public.clone();
    p384.as_object_mut().unwrap().remove("alg");
    assert_eq!(
        c.load_jwk(&p384.to_string(), false).unwrap(),
        Err(KeyError::UnsupportedCurve)
    );
    // The same keys as a JWK Set: the two usable ones replace the set, the others are
    // skipped with the same reasons.
    let set =
        serde_json::json!({"keys": keys.iter().map(|k| k.public.clone()).collect::<Vec<_>>()});
    let report = c
        .load_jwks(set.to_string().as_bytes(), 200, None)
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            report.loaded,
            report.unchanged,
            report.skipped,
            report.removed
        ),
        (2, 2, 4, 0)
    );
    assert_eq!(
        report.skips,
        [
            (2, KeyError::UnsupportedAlg),
            (3, KeyError::UnsupportedKeyType),
            (4, KeyError::UnsupportedAlg),
            (5, KeyError::UnsupportedKeyType),
        ]
    );
    let seen: Vec<_> = keys
        .iter()
        .map(|k| {
            (
                k.alg.name(),
                c.verify(0, &signed(k, &claims)).unwrap().code(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("RS256", "accept"),
            ("ES256", "accept"),
            ("PS256", "alg_not_allowed"),
            ("HS256", "alg_not_allowed"),
            ("ES384", "alg_not_allowed"),
            ("EdDSA", "alg_not_allowed"),
        ]
    );
}

/// Client A sends 3 bytes of a frame and hangs up; client B, even a naive one that sends no
/// `HELLO` and no leading delimiter, gets the proper answer to its first request.
fn a_half_frame_does_not_reach_the_next_client(addr: &str, rounds: usize) {
    use std::io::Write;
    let mut info = Vec::new();
    tokenguard_device::frame::encode(&[&[0x01, 7]], |b| info.extend_from_slice(b));
    for round in 0..rounds {
        let mut a = raw(addr);
        a.write_all(&info[..3]).unwrap();
        drop(a);
        let mut b = DeviceClient::new(raw(addr));
        b.send_raw(&info).unwrap();
        let (cmd, seq, status, _) = b.read_frame().unwrap();
        assert_eq!((cmd, seq, status), (0x81, 7, 0), "round {round}");
    }
    // And the Rust client's own first request (HELLO, then INFO) after a half frame.
    let mut a = raw(addr);
    a.write_all(&info[..3]).unwrap();
    drop(a);
    assert_eq!(connect(addr).info().unwrap().protocol, 2);
}

#[test]
fn a_half_frame_does_not_reach_the_next_client_of_the_simulator() {
    let (_p, addr) = start_device(&["serve"]);
    a_half_frame_does_not_reach_the_next_client(&addr, 300);
}

#[test]
#[ignore = "needs QEMU and the firmware ELF (run by `cargo xtask ci`)"]
fn a_half_frame_does_not_reach_the_next_client_of_the_firmware() {
    let (_q, addr) = start_qemu_addr();
    connect(&addr).info().unwrap(); // booted
    a_half_frame_does_not_reach_the_next_client(&addr, 30);
}

/// Client A sends VERIFY (seq 1) with a good token and hangs up without reading; client B
/// sends VERIFY (seq 1) with a forged token and, like a naive client, takes the first reply
/// with that command and seq. It must be its own verdict, every time.
fn no_client_receives_another_clients_verdict(addr: &str, rounds: usize) {
    use std::io::Write;
    let key = [3u8; 32];
    {
        let mut c = connect(addr);
        c.set_time(NOW).unwrap();
        c.set_policy(&Policy::new(3, ISS, AUD)).unwrap();
        let jwk = format!(
            r#"{{"kty":"oct","kid":"race","alg":"HS256","k":"{}"}}"#,
            tokenguard_tests::b64(&key)
        );
        assert!(c.load_jwk(&jwk, false).unwrap().is_ok());
    }
    let claims = format!(r#"{{"iss":"{ISS}","aud":"{AUD}","exp":{}}}"#, NOW + 3600);
    let good = mint::hs256(&key, r#"{"alg":"HS256","kid":"race"}"#, &claims);
    let forged = mint::hs256(&[4u8; 32], r#"{"alg":"HS256","kid":"race"}"#, &claims);
    let verify = |token: &str| {
        let mut f = Vec::new();
        tokenguard_device::frame::encode(&[&[0x21, 1, 3], token.as_bytes()], |b| {
            f.extend_from_slice(b)
        });
        f
    };
    let (good, forged) = (verify(&good), verify(&forged));
    let mut accepted = 0;
    for _ in 0..rounds {
        let mut a = raw(addr);
        a.write_all(&good).unwrap();
        drop(a);
        let mut b = DeviceClient::new(raw(addr));
        b.send_raw(&forged).unwrap();
        let status = loop {
            let (cmd, seq, status, _) = b.read_frame().unwrap();
            if (cmd, seq) == (0xA1, 1) {
                break status;
            }
        };
        if status == 0 {
            accepted += 1;
        } else {
            assert_eq!(
                tokenguard_device::proto::token_code(status),
                Some("bad_signature")
            );
        }
    }
    assert_eq!(accepted, 0, "forged tokens accepted in {rounds} rounds");
}

#[test]
fn no_client_of_the_simulator_receives_another_clients_verdict() {
    let (_p, addr) = start_device(&["serve"]);
    no_client_receives_another_clients_verdict(&addr, 100);
}

#[test]
#[ignore = "needs QEMU and the firmware ELF (run by `cargo xtask ci`)"]
fn no_client_of_the_firmware_receives_another_clients_verdict() {
    let (_q, addr) = start_qemu_addr();
    no_client_receives_another_clients_verdict(&addr, 100);
}

/// The simulator serves clients concurrently: an idle client does not hold up the next.
#[test]
fn an_idle_client_does_not_block_the_simulator() {
    let (_p, addr) = start_device(&["serve"]);
    let mut idle = connect(&addr);
    let mut busy = connect(&addr);
    assert_eq!(busy.info().unwrap().protocol, 2);
    busy.set_time(NOW).unwrap();
    assert!(idle.info().unwrap().clock_set);
}

/// The QEMU bridge serves one client at a time; an idle one is disconnected after the idle
/// timeout so the next is served.
#[test]
#[ignore = "needs QEMU and the firmware ELF (run by `cargo xtask ci`)"]
fn an_idle_client_gives_up_the_firmware_after_the_timeout() {
    let elf = std::env::var("TOKENGUARD_FIRMWARE_ELF").unwrap();
    let (_q, addr) = start_device(&["qemu", "--elf", &elf, "--idle-timeout", "2"]);
    let mut idle = connect(&addr);
    idle.info().unwrap();
    let t = std::time::Instant::now();
    let mut next = connect(&addr);
    assert_eq!(next.info().unwrap().protocol, 2);
    let waited = t.elapsed();
    assert!(
        waited >= Duration::from_millis(1500) && waited < Duration::from_secs(15),
        "{waited:?}"
    );
    assert!(idle.info().is_err(), "the idle client was disconnected");
}

/// `(pid, command name)` of every process below `pid`.
fn descendants(pid: u32) -> Vec<(u32, String)> {
    let mut parent = std::collections::HashMap::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(p) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
            continue;
        };
        // `pid (comm) state ppid ...`; comm may hold spaces.
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let comm = stat[open + 1..close].to_string();
        let ppid: u32 = stat[close + 2..]
            .split(' ')
            .nth(1)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        parent.insert(p, (ppid, comm));
    }
    let mut out = vec![];
    let mut todo = vec![pid];
    while let Some(p) = todo.pop() {
        for (c, (pp, comm)) in &parent {
            if *pp == p {
                out.push((*c, comm.clone()));
                todo.push(*c);
            }
        }
    }
    out
}

/// SIGTERM (and SIGINT) on `device qemu` stops QEMU and defmt-print with it.
#[test]
#[ignore = "needs QEMU and the firmware ELF (run by `cargo xtask ci`)"]
fn stopping_device_qemu_leaves_nothing_running() {
    for signal in ["TERM", "INT"] {
        let (mut q, addr) = start_qemu_addr();
        connect(&addr).info().unwrap();
        let pid = q.0.id();
        let below = descendants(pid);
        let names: Vec<&str> = below.iter().map(|(_, n)| n.as_str()).collect();
        assert!(names.contains(&"qemu-system-arm"), "{names:?}");
        assert!(names.contains(&"defmt-print"), "{names:?}");
        let st = Command::new("kill")
            .args(["-s", signal, &pid.to_string()])
            .status()
            .unwrap();
        assert!(st.success());
        let status = q.0.wait().unwrap();
        assert!(!status.success(), "{signal}: {status:?}");
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let alive = |p: u32| {
            std::fs::read_to_string(format!("/proc/{p}/stat"))
                .map(|s| !s.contains(") Z "))
                .unwrap_or(false)
        };
        while below.iter().any(|(p, _)| alive(*p)) && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let left: Vec<_> = below.iter().filter(|(p, _)| alive(*p)).collect();
        assert!(left.is_empty(), "{signal}: still running: {left:?}");
    }
}
