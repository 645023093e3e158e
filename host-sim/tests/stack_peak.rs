//! The firmware's true RAM peak: every protocol command at its largest frames and keys,
//! driven over the wire into one firmware image booted in QEMU, then `STATS` reads the
//! stack high-water mark the firmware keeps by stack painting since boot (the device
//! itself lives in `main`'s frame, so the figure counts it too). `cargo xtask fw-bench`
//! runs this for each image and publishes static RAM + this peak in docs/firmware.md.
//!
//! `TOKENGUARD_STACK_ELF` names the image; `TOKENGUARD_STACK_SIGNING=1` when it has the
//! SIGN command. Prints `stack-peak bytes=N` for the xtask to read.

use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use tokenguard::Algorithm;
use tokenguard_sim::client::{DeviceClient, Policy};
use tokenguard_tests::keys::key;
use tokenguard_tests::{b64, mint};

const NOW: u64 = 1_767_225_600;
const ISS: &str = "https://issuer.example";
const AUD: &str = "device-1";

/// A token for `alg` whose claims pad it to about `len` bytes.
fn token(alg: Algorithm, len: usize) -> String {
    let k = key(alg);
    let header = format!(
        r#"{{"alg":"{}","kid":"{}"}}"#,
        alg.name(),
        k.public["kid"].as_str().unwrap()
    );
    let mint = |pad: usize| {
        let claims = format!(
            r#"{{"iss":"{ISS}","aud":"{AUD}","exp":{},"pad":"{}"}}"#,
            NOW + 600,
            "p".repeat(pad)
        );
        let input = mint::signing_input(&header, &claims);
        let mut sig = vec![0u8; 1024];
        let n =
            tokenguard::sign::Signer::sign(&k.signer, input.as_bytes(), Some(&[7; 64]), &mut sig)
                .unwrap();
        format!("{input}.{}", b64(&sig[..n]))
    };
    let bare = mint(0).len();
    mint(len.saturating_sub(bare) * 3 / 4)
}

fn public(alg: Algorithm, kid: &str) -> String {
    let mut j: Value = key(alg).public;
    j["kid"] = kid.into();
    j.to_string()
}

#[test]
#[ignore = "needs QEMU and a firmware ELF in TOKENGUARD_STACK_ELF (run by `cargo xtask fw-bench`)"]
fn firmware_stack_peak_over_every_command() {
    let elf = std::env::var("TOKENGUARD_STACK_ELF").expect("TOKENGUARD_STACK_ELF");
    let signing = std::env::var("TOKENGUARD_STACK_SIGNING").is_ok_and(|v| v == "1");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tokenguard-sim"));
    tokenguard_sim::scenario::in_own_group(&mut cmd)
        .args(["device", "qemu", "--listen", "127.0.0.1:0", "--elf", &elf])
        .stderr(Stdio::null());
    let (mut child, addr) = tokenguard_sim::scenario::spawn_listening(&mut cmd).unwrap();
    let mut c = DeviceClient::connect(&addr, Duration::from_secs(60)).unwrap();
    let info = c.info().unwrap();
    // The high-water mark after each phase, to name the phase that sets the peak.
    let mut phases: Vec<(String, u32)> = vec![];
    let mut mark = |c: &mut DeviceClient<_>, what: &str| {
        phases.push((what.to_string(), c.stats().unwrap().peak_stack));
    };
    mark(&mut c, "boot");
    c.set_time(NOW).unwrap();
    // Four policies, three with the longest strings a slot holds.
    c.set_policy(&Policy::new(0, ISS, AUD)).unwrap();
    for slot in 1..4 {
        let mut p = Policy::new(slot, &"i".repeat(128), &"a".repeat(128));
        p.subject = "s".repeat(48);
        p.typ = "t".repeat(48);
        p.leeway = 300;
        p.max_age = 3600;
        c.set_policy(&p).unwrap();
    }
    // One key of each kind by LOAD_JWK (RSA-2048 is the largest the firmware takes), then
    // every algorithm the image verifies with tokens near the largest frame.
    let algs: Vec<Algorithm> = Algorithm::ALL
        .into_iter()
        .filter(|a| info.algorithms.contains(*a))
        .collect();
    let mut verdicts = vec![];
    for batch in algs.chunks(usize::from(info.key_capacity)) {
        for a in batch {
            c.load_jwk(&public(*a, &format!("kid-{}", a.name())), false)
                .unwrap()
                .unwrap();
        }
        c.list_keys().unwrap();
        for a in batch {
            for slot in [0u8, 1] {
                verdicts.push(c.verify(slot, &token(*a, 990)).unwrap().code());
            }
        }
        for a in batch {
            assert!(c.remove_key(&format!("kid-{}", a.name())).unwrap());
        }
    }
    assert!(
        verdicts.iter().step_by(2).all(|v| *v == "accept"),
        "{verdicts:?}"
    );
    mark(&mut c, "policies, LOAD_JWK and VERIFY of every algorithm");
    for a in algs.iter().take(usize::from(info.key_capacity)) {
        c.load_jwk(&public(*a, &format!("kid-{}", a.name())), false)
            .unwrap()
            .unwrap();
    }
    // A JWK Set of 8 RSA-2048 keys streamed in the largest chunks: refused while the slots
    // are in use, loaded once they are free; then a rotation that does not fit.
    let rsa: Vec<String> = (0..8)
        .map(|i| public(Algorithm::Rs256, &format!("rsa-{i}")))
        .collect();
    let doc = format!(r#"{{"keys":[{}]}}"#, rsa.join(","));
    assert!(c
        .load_jwks(doc.as_bytes(), 1000, Some(600))
        .unwrap()
        .is_err());
    for a in algs.iter().take(usize::from(info.key_capacity)) {
        assert!(c.remove_key(&format!("kid-{}", a.name())).unwrap());
    }
    let r = c
        .load_jwks(doc.as_bytes(), 1000, Some(600))
        .unwrap()
        .unwrap();
    assert_eq!(r.loaded, 8);
    c.refresh_state().unwrap();
    c.verify(0, &token(Algorithm::Rs256, 990)).unwrap();
    c.fetch_failed().unwrap();
    mark(&mut c, "JWK Set of 8 RSA-2048 keys");
    // Bad frames: corrupt, oversized.
    c.send_raw(&[0x13, 0x37, 0x00]).unwrap();
    c.read_frame().unwrap();
    let mut big = vec![0x55u8; 1500];
    big.push(0);
    c.send_raw(&big).unwrap();
    c.read_frame().unwrap();
    if signing {
        // Every kind of signing key (RSA-2048 through the chunked upload), each signing an
        // assertion with the longest subject and audience that still fit a frame.
        for a in [
            Algorithm::Rs256,
            Algorithm::Ps512,
            Algorithm::Es256,
            Algorithm::Es384,
            Algorithm::EdDsa,
            Algorithm::Hs512,
        ] {
            let installed = c.set_signing_key(&key(a).private.to_string());
            if a == Algorithm::Es384 {
                // The default firmware image signs without P-384 (its `es384-signing` feature
                // is off): the key is refused, with the key error, and nothing is lost.
                assert_eq!(
                    installed.unwrap_err().to_string(),
                    "the device refused the signing key: unsupported crv"
                );
                continue;
            }
            installed.unwrap();
            mark(&mut c, &format!("{} signing key", a.name()));
            for (sub, aud) in [(200, 200), (255, 255)] {
                c.sign(0, 300, 0, &[9; 64], &"s".repeat(sub), &"a".repeat(aud), "j")
                    .unwrap()
                    .ok();
            }
            mark(&mut c, &format!("{} SIGN", a.name()));
        }
    }
    c.info().unwrap();
    let peak = c.stats().unwrap().peak_stack;
    tokenguard_sim::scenario::kill_group(&mut child);
    assert!(peak > 0, "the firmware reports no stack figure");
    for (what, bytes) in &phases {
        println!("stack-peak after {what}: {bytes}");
    }
    println!("stack-peak bytes={peak} algorithms={}", algs.len());
}
