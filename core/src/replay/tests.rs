use super::*;

const SEEN: Error = Error::Replayed(ReplayError::Seen);
const FULL: Error = Error::Replayed(ReplayError::Full);
const BAD_JTI: Error = Error::InvalidClaim(Claim::Jti);

fn slot_jtis<const N: usize, const L: usize>(c: &ReplayCache<N, L>) -> std::vec::Vec<&[u8]> {
    c.entries.iter().map(Entry::jti).collect()
}

#[test]
fn first_use_accepted_replay_refused() {
    let mut c: ReplayCache<4> = ReplayCache::new(60);
    assert_eq!(c.check_and_record(b"j-1", 1_000, 900), Ok(()));
    assert_eq!(c.check_and_record(b"j-1", 1_000, 900), Err(SEEN));
    assert_eq!(c.check_and_record(b"j-1", 1_000, 901), Err(SEEN));
    // A replay with another exp is still the same jti.
    assert_eq!(c.check_and_record(b"j-1", 5_000, 902), Err(SEEN));
    // Exact bytes: prefixes, extensions and case variants are other ids.
    assert_eq!(c.check_and_record(b"j-", 1_000, 903), Ok(()));
    assert_eq!(c.check_and_record(b"j-12", 1_000, 903), Ok(()));
    assert_eq!(c.check_and_record(b"J-1", 1_000, 903), Ok(()));
    assert_eq!(c.len(903), 4);
    assert_eq!(c.check_and_record(b"J-1", 1_000, 904), Err(SEEN));
    assert_eq!(SEEN.code(), "replayed");
    assert_eq!(FULL.code(), "replayed");
    assert_eq!(SEEN.code_number(), 17);
}

#[test]
fn replay_after_exp_within_leeway_still_refused() {
    let mut c: ReplayCache<1> = ReplayCache::new(60);
    assert_eq!(c.check_and_record(b"a", 1_000, 900), Ok(()));
    assert_eq!(c.check_and_record(b"a", 1_000, 1_000), Err(SEEN)); // at exp
    assert_eq!(c.check_and_record(b"a", 1_000, 1_059), Err(SEEN)); // last accepting second
                                                                   // From exp + leeway on, the verifier (and this cache) call that token expired...
    assert_eq!(c.check_and_record(b"a", 1_000, 1_060), Err(Error::Expired));
    // ...and the entry is still kept for that second: the same jti with a later exp is refused.
    assert_eq!(c.check_and_record(b"a", 2_000, 1_060), Err(SEEN));
    assert_eq!(c.len(1_060), 1);
    assert!(c.is_full(1_060));
}

#[test]
fn after_exp_plus_leeway_slot_reused_and_jti_accepted_again() {
    let mut c: ReplayCache<1> = ReplayCache::new(60);
    assert_eq!(c.check_and_record(b"a", 1_000, 900), Ok(()));
    assert_eq!(c.len(1_061), 0);
    assert!(!c.is_full(1_061));
    // The old token itself is expired (the verifier refuses it too).
    assert_eq!(c.check_and_record(b"a", 1_000, 1_061), Err(Error::Expired));
    // A new token reusing the jti is accepted into the reused slot.
    assert_eq!(c.check_and_record(b"a", 2_000, 1_061), Ok(()));
    assert_eq!(slot_jtis(&c), [b"a".as_slice()]);
    assert_eq!(c.check_and_record(b"a", 2_000, 1_062), Err(SEEN));
    assert_eq!(c.check_and_record(b"b", 2_000, 1_062), Err(FULL));
}

#[test]
fn full_cache_refuses_new_jti_and_keeps_live_entries() {
    let mut c: ReplayCache<2, 8> = ReplayCache::new(0);
    assert_eq!(c.check_and_record(b"a", 100, 10), Ok(()));
    assert!(!c.is_full(10));
    assert_eq!(c.check_and_record(b"b", 200, 10), Ok(()));
    assert!(c.is_full(10));
    assert_eq!(c.check_and_record(b"c", 300, 11), Err(FULL));
    assert_eq!(c.check_and_record(b"c", 300, 100), Err(FULL)); // "a" live through now == exp
    assert_eq!(slot_jtis(&c), [b"a".as_slice(), b"b"]);
    // Nothing was evicted: both replays are still caught.
    assert_eq!(c.check_and_record(b"a", 100, 12), Err(SEEN));
    assert_eq!(c.check_and_record(b"b", 200, 12), Err(SEEN));
    assert_eq!(c.len(12), 2);
    // Once "a" has expired its slot takes "c"; "b" is still protected.
    assert!(!c.is_full(101));
    assert_eq!(c.check_and_record(b"c", 300, 101), Ok(()));
    assert_eq!(slot_jtis(&c), [b"c".as_slice(), b"b"]);
    assert_eq!(c.check_and_record(b"b", 200, 102), Err(SEEN));
    assert_eq!(c.check_and_record(b"d", 300, 102), Err(FULL));
}

#[test]
fn eviction_takes_free_slot_then_oldest_expired() {
    let mut c: ReplayCache<4, 8> = ReplayCache::new(0);
    assert_eq!(c.check_and_record(b"a", 100, 10), Ok(()));
    assert_eq!(c.check_and_record(b"b", 50, 10), Ok(()));
    assert_eq!(c.check_and_record(b"c", 300, 10), Ok(()));
    // "a" and "b" have expired, but a free slot is used first.
    assert_eq!(c.check_and_record(b"d", 500, 120), Ok(()));
    assert_eq!(slot_jtis(&c), [b"a".as_slice(), b"b", b"c", b"d"]);
    // Then the expired entry with the oldest exp ("b", 50), then "a" (100).
    assert_eq!(c.check_and_record(b"e", 500, 120), Ok(()));
    assert_eq!(slot_jtis(&c), [b"a".as_slice(), b"e", b"c", b"d"]);
    assert_eq!(c.check_and_record(b"f", 500, 120), Ok(()));
    assert_eq!(slot_jtis(&c), [b"f".as_slice(), b"e", b"c", b"d"]);
    // Every slot live now: the live "c" (exp 300) is never taken.
    assert_eq!(c.check_and_record(b"g", 500, 120), Err(FULL));
    assert_eq!(c.check_and_record(b"c", 300, 121), Err(SEEN));
    assert_eq!(c.len(120), 4);
}

#[test]
fn jti_length_limits() {
    let mut c: ReplayCache<4, 8> = ReplayCache::new(0);
    assert_eq!(c.check_and_record(b"12345678", 100, 10), Ok(()));
    assert_eq!(c.check_and_record(b"12345678", 100, 10), Err(SEEN));
    assert_eq!(c.check_and_record(b"123456789", 100, 10), Err(BAD_JTI));
    assert_eq!(c.check_and_record(b"", 100, 10), Err(BAD_JTI));
    // The refused ids were neither stored nor truncated: only the first one is there.
    assert_eq!(c.len(10), 1);
    assert_eq!(slot_jtis(&c), [b"12345678".as_slice(), b"", b"", b""]);
    // The default L is 64.
    let mut d: ReplayCache<1> = ReplayCache::default();
    assert_eq!(d.check_and_record(&[b'x'; 65], 100, 10), Err(BAD_JTI));
    assert_eq!(d.check_and_record(&[b'x'; 64], 100, 10), Ok(()));
    // L = 0 accepts no jti at all.
    let mut z: ReplayCache<1, 0> = ReplayCache::new(0);
    assert_eq!(z.check_and_record(b"a", 100, 10), Err(BAD_JTI));
}

#[test]
fn expired_token_is_refused_and_not_recorded() {
    let mut c: ReplayCache<2> = ReplayCache::new(30);
    assert_eq!(c.check_and_record(b"a", 100, 130), Err(Error::Expired));
    assert_eq!(c.check_and_record(b"a", 100, u64::MAX), Err(Error::Expired));
    assert_eq!(c.check_and_record(b"a", 100, 129), Ok(()));
    assert_eq!(c.len(129), 1);
    // exp near the end of time saturates instead of overflowing: never expires.
    assert_eq!(c.check_and_record(b"m", u64::MAX, u64::MAX - 1), Ok(()));
    assert_eq!(c.len(u64::MAX), 1);
    assert!(!c.is_full(u64::MAX));
}

#[test]
fn zero_capacity_refuses_everything_as_full() {
    let mut c: ReplayCache<0> = ReplayCache::new(60);
    assert_eq!(c.capacity(), 0);
    assert!(c.is_full(0));
    assert!(c.is_empty(0));
    assert_eq!(c.len(0), 0);
    assert_eq!(c.check_and_record(b"a", 100, 10), Err(FULL));
    c.clear();
    assert_eq!(c.check_and_record(b"a", 100, 10), Err(FULL));
}

#[test]
fn accessors_clear_and_debug() {
    let mut c: ReplayCache<3, 16> = ReplayCache::default();
    assert_eq!(c.leeway(), DEFAULT_LEEWAY);
    assert_eq!(c.capacity(), 3);
    assert!(c.is_empty(0));
    assert_eq!(c.check_and_record(b"a", 100, 10), Ok(()));
    assert_eq!(c.check_and_record(b"b", 100, 10), Ok(()));
    assert_eq!(c.len(10), 2);
    assert!(!c.is_empty(10));
    assert_eq!(
        std::format!("{c:?}"),
        "ReplayCache { capacity: 3, max_jti_len: 16, leeway: 60, occupied: 2 }"
    );
    c.clear();
    assert_eq!(c.len(10), 0);
    assert_eq!(c.check_and_record(b"a", 100, 11), Ok(()));
    assert_eq!(
        std::format!("{}", Error::Replayed(ReplayError::Full)),
        "token refused by the replay check: replay cache is full of unexpired token ids; new tokens are refused until one expires"
    );
    assert_eq!(
        std::format!("{SEEN}"),
        "token refused by the replay check: token id (jti) was already used"
    );
    const C: ReplayCache<2, 4> = ReplayCache::new(5);
    assert_eq!(C.leeway(), 5);
}

#[cfg(feature = "rustcrypto")]
mod tokens {
    use super::*;
    use crate::{alg, Expect, Jwk, KeySet, Validation};
    use std::string::String;

    const KEY: [u8; 32] = [7; 32];
    const NOW: u64 = 1_700_000_000;

    fn hs256(payload: &str) -> String {
        use hmac::{KeyInit, Mac};
        let enc = |b: &[u8]| {
            let mut out = std::vec![0u8; crate::b64::encoded_len(b.len())];
            crate::b64::encode(b, &mut out).unwrap();
            String::from_utf8(out).unwrap()
        };
        let input = std::format!(
            "{}.{}",
            enc(br#"{"alg":"HS256","kid":"k"}"#),
            enc(payload.as_bytes())
        );
        let mut m = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(&KEY).unwrap();
        m.update(input.as_bytes());
        std::format!("{input}.{}", enc(&m.finalize().into_bytes()))
    }

    /// Verifies `payload` as a token and runs it through `cache` at `now`.
    fn check<const N: usize, const L: usize>(
        cache: &mut ReplayCache<N, L>,
        payload: &str,
        now: u64,
    ) -> Result<(), Error> {
        let mut keys: KeySet<1> = KeySet::new();
        keys.insert(Jwk::hmac(Some(b"k"), &KEY, alg::HS256).unwrap())
            .unwrap();
        let v = Validation::new(Expect::Ignore, Expect::Ignore).allow_missing_exp();
        let token = hs256(payload);
        let mut buf = [0u8; 512];
        let t = keys.verify(token.as_bytes(), &v, now, &mut buf).unwrap();
        cache.check_token(&t, now)
    }

    #[test]
    fn check_token_records_jti_and_exp() {
        let mut c: ReplayCache<4, 8> = ReplayCache::new(60);
        let p = r#"{"jti":"j-1","exp":1700000600}"#;
        assert_eq!(check(&mut c, p, NOW), Ok(()));
        assert_eq!(check(&mut c, p, NOW + 1), Err(SEEN));
        assert_eq!(
            c.check_and_record(b"j-1", 1_700_000_600, NOW + 2),
            Err(SEEN)
        );
        // The entry carries the token's exp: kept through exp + leeway, gone after.
        assert_eq!(c.len(1_700_000_660), 1);
        assert_eq!(c.len(1_700_000_661), 0);
        // Escapes are decoded: "j\u002d1" is "j-1".
        assert_eq!(
            check(&mut c, r#"{"jti":"j\u002d1","exp":1700000600}"#, NOW + 3),
            Err(SEEN)
        );
        assert_eq!(
            check(&mut c, r#"{"jti":"\u00e9t\u00e9","exp":1700000600}"#, NOW),
            Ok(())
        );
        assert_eq!(
            slot_jtis(&c),
            [b"j-1".as_slice(), "été".as_bytes(), b"", b""]
        );
    }

    #[test]
    fn check_token_requires_jti_and_exp() {
        let mut c: ReplayCache<4, 8> = ReplayCache::new(60);
        assert_eq!(
            check(&mut c, r#"{"exp":1700000600}"#, NOW),
            Err(Error::MissingClaim(Claim::Jti))
        );
        assert_eq!(
            check(&mut c, r#"{"jti":"j-1"}"#, NOW),
            Err(Error::MissingClaim(Claim::Exp))
        );
        assert_eq!(
            check(&mut c, r#"{"sub":"s"}"#, NOW),
            Err(Error::MissingClaim(Claim::Jti))
        );
        assert_eq!(
            check(&mut c, r#"{"jti":"","exp":1700000600}"#, NOW),
            Err(BAD_JTI)
        );
        assert_eq!(
            check(&mut c, r#"{"jti":"123456789","exp":1700000600}"#, NOW),
            Err(BAD_JTI)
        );
        // 8 bytes decoded (from 13 raw) fits L = 8; 9 decoded bytes do not.
        assert_eq!(
            check(&mut c, r#"{"jti":"1234567\u0038","exp":1700000600}"#, NOW),
            Ok(())
        );
        assert_eq!(
            check(&mut c, r#"{"jti":"1234567\u00e9","exp":1700000600}"#, NOW),
            Err(BAD_JTI)
        );
        assert_eq!(c.len(NOW), 1);
        assert_eq!(slot_jtis(&c), [b"12345678".as_slice(), b"", b"", b""]);
    }
}
