use super::*;

const NOW: u64 = 1_700_000_300;

fn check(payload: &str, v: &Validation<'_>) -> Result<(), Error> {
    let c = parse(payload.as_bytes(), 8)?;
    validate(&c, v, NOW)
}

fn policy() -> Validation<'static> {
    Validation::new(Expect::One("iss"), Expect::One("aud"))
}

#[test]
fn accepts_and_reads_claims() {
    let c = parse(br#"{"iss":"iss","sub":"s","aud":["x","aud"],"exp":1700000600.9,"nbf":1,"iat":2,"jti":"j"}"#, 8).unwrap();
    assert_eq!(c.exp(), Some(1_700_000_600));
    assert!(c.aud().unwrap().contains("aud"));
    assert_eq!(c.aud().unwrap().iter().count(), 2);
    assert!(validate(&c, &policy(), NOW).is_ok());
}

#[test]
fn time_claims_with_leeway() {
    let v = policy();
    let p = |exp: u64| std::format!(r#"{{"iss":"iss","aud":"aud","exp":{exp}}}"#);
    assert_eq!(check(&p(NOW - 59), &v), Ok(()));
    assert_eq!(check(&p(NOW - 60), &v), Err(Error::Expired));
    assert_eq!(check(&p(NOW), &v.leeway(0)), Err(Error::Expired));
    assert_eq!(check(&p(NOW + 1), &v.leeway(0)), Ok(()));
    let nbf = |nbf: u64| {
        std::format!(
            r#"{{"iss":"iss","aud":"aud","exp":{},"nbf":{nbf}}}"#,
            NOW + 900
        )
    };
    assert_eq!(check(&nbf(NOW + 60), &v), Ok(()));
    assert_eq!(check(&nbf(NOW + 61), &v), Err(Error::NotYetValid));
    let iat = |iat: u64| {
        std::format!(
            r#"{{"iss":"iss","aud":"aud","exp":{},"iat":{iat}}}"#,
            NOW + 900
        )
    };
    assert_eq!(check(&iat(NOW + 61), &v), Err(Error::IssuedInFuture));
    assert_eq!(
        check(&iat(NOW - 1000), &v.max_age(500)),
        Err(Error::Expired)
    );
    assert_eq!(check(&iat(NOW - 400), &v.max_age(500)), Ok(()));
    assert_eq!(
        check(
            &std::format!(r#"{{"iss":"iss","aud":"aud","exp":{}}}"#, NOW + 9),
            &v.max_age(5)
        ),
        Err(Error::MissingClaim(Claim::Iat))
    );
    assert_eq!(v.leeway(100_000).leeway_secs(), MAX_LEEWAY);
}

#[test]
fn max_lifetime_bounds_exp_minus_iat() {
    let v = policy().max_lifetime(2_592_000); // Auth0's 30 days
    let p =
        |iat: u64, exp: u64| std::format!(r#"{{"iss":"iss","aud":"aud","iat":{iat},"exp":{exp}}}"#);
    assert_eq!(check(&p(NOW - 10, NOW - 10 + 2_592_000), &v), Ok(()));
    assert_eq!(
        check(&p(NOW - 10, NOW - 10 + 2_592_001), &v),
        Err(Error::InvalidClaim(Claim::Exp))
    );
    // exp before iat is a lifetime of zero, not a wrap-around.
    assert_eq!(check(&p(NOW + 50, NOW + 40), &v), Ok(()));
    assert_eq!(
        check(
            &std::format!(r#"{{"iss":"iss","aud":"aud","exp":{}}}"#, NOW + 9),
            &v
        ),
        Err(Error::MissingClaim(Claim::Iat))
    );
    assert_eq!(
        check(
            &std::format!(r#"{{"iss":"iss","aud":"aud","iat":{NOW}}}"#),
            &v.allow_missing_exp()
        ),
        Err(Error::MissingClaim(Claim::Exp))
    );
}

#[test]
fn deny_by_default() {
    let v = policy();
    assert_eq!(
        check(r#"{"iss":"iss","aud":"aud"}"#, &v),
        Err(Error::MissingClaim(Claim::Exp))
    );
    assert_eq!(
        check(r#"{"iss":"iss","aud":"aud"}"#, &v.allow_missing_exp()),
        Ok(())
    );
    assert_eq!(
        check(r#"{"aud":"aud","exp":2000000000}"#, &v),
        Err(Error::MissingClaim(Claim::Iss))
    );
    assert_eq!(
        check(r#"{"iss":"iss","exp":2000000000}"#, &v),
        Err(Error::MissingClaim(Claim::Aud))
    );
    assert_eq!(
        check(r#"{"iss":"ISS","aud":"aud","exp":2000000000}"#, &v),
        Err(Error::WrongIssuer)
    );
    assert_eq!(
        check(r#"{"iss":"iss","aud":[],"exp":2000000000}"#, &v),
        Err(Error::WrongAudience)
    );
    assert_eq!(
        check(
            r#"{"iss":"iss","aud":"aud","exp":2000000000}"#,
            &v.subject("s")
        ),
        Err(Error::MissingClaim(Claim::Sub))
    );
    assert_eq!(
        check(
            r#"{"iss":"iss","aud":"aud","sub":"t","exp":2000000000}"#,
            &v.subject("s")
        ),
        Err(Error::WrongSubject)
    );
    let ignore = Validation::new(Expect::Ignore, Expect::Ignore);
    assert_eq!(check(r#"{"exp":2000000000}"#, &ignore), Ok(()));
    let any = Validation::new(Expect::AnyOf(&["a", "b"]), Expect::AnyOf(&["c", "d"]));
    assert_eq!(
        check(r#"{"iss":"b","aud":["x","d"],"exp":2000000000}"#, &any),
        Ok(())
    );
}

#[test]
fn type_errors_are_invalid_claim() {
    let v = policy();
    for (p, c) in [
        (r#"{"iss":1,"aud":"aud","exp":2000000000}"#, Claim::Iss),
        (r#"{"iss":"iss","aud":[1],"exp":2000000000}"#, Claim::Aud),
        (
            r#"{"iss":"iss","aud":{"a":1},"exp":2000000000}"#,
            Claim::Aud,
        ),
        (
            r#"{"iss":"iss","aud":"aud","exp":"2000000000"}"#,
            Claim::Exp,
        ),
        (r#"{"iss":"iss","aud":"aud","exp":-1}"#, Claim::Exp),
        (r#"{"iss":"iss","aud":"aud","exp":1e30}"#, Claim::Exp),
        (r#"{"iss":"iss","aud":"aud","exp":null}"#, Claim::Exp),
        (
            r#"{"iss":"iss","aud":"aud","exp":2000000000,"nbf":true}"#,
            Claim::Nbf,
        ),
        (
            r#"{"iss":"iss","aud":"aud","exp":2000000000,"jti":5}"#,
            Claim::Jti,
        ),
    ] {
        assert_eq!(check(p, &v), Err(Error::InvalidClaim(c)), "{p}");
    }
    assert_eq!(
        check(r#"{"exp":1,"\u0065xp":2000000000}"#, &v),
        Err(Error::Malformed(Malformed::DuplicateMember))
    );
}

/// The fast `match` on a name's bytes and the table agree on every registered claim, and an
/// escaped spelling of each is still found through the table.
#[test]
fn claim_names_match_the_table() {
    for (i, (name, _)) in CLAIMS.iter().enumerate() {
        assert_eq!(claim_index(JsonStr::from_raw(name, false)), Some(i));
        let mut esc = std::vec::Vec::from(&b"\\u00"[..]);
        esc.extend(std::format!("{:02x}", name[0]).bytes());
        esc.extend(&name[1..]);
        assert_eq!(claim_index(JsonStr::from_raw(&esc, true)), Some(i));
    }
    for other in [&b"is"[..], b"isss", b"ISS", b"scope", b""] {
        assert_eq!(claim_index(JsonStr::from_raw(other, false)), None);
    }
}

#[test]
fn claim_ref_find_reads_any_member_and_refuses_a_name_twice() {
    use crate::ClaimRef;
    let json =
        br#"{"s":"a\"b","n":-12,"f":1.5,"b":false,"z":null,"a":[1],"o":{"x":1},"d":1,"d":2}"#;
    let s = ClaimRef::find(json, "s").unwrap().unwrap();
    let mut out = [0u8; 8];
    assert_eq!(s.as_json_str().unwrap().decode_into(&mut out), Some("a\"b"));
    assert_eq!(
        ClaimRef::find(json, "n").unwrap().unwrap().as_i64(),
        Some(-12)
    );
    assert_eq!(ClaimRef::find(json, "f").unwrap().unwrap().as_i64(), None);
    assert_eq!(
        ClaimRef::find(json, "b").unwrap().unwrap().as_bool(),
        Some(false)
    );
    assert_eq!(ClaimRef::find(json, "z").unwrap(), Some(ClaimRef::Null));
    assert_eq!(
        ClaimRef::find(json, "a").unwrap(),
        Some(ClaimRef::Array(b"[1]"))
    );
    assert_eq!(
        ClaimRef::find(json, "o").unwrap(),
        Some(ClaimRef::Object(br#"{"x":1}"#))
    );
    assert_eq!(ClaimRef::find(json, "missing").unwrap(), None);
    assert_eq!(
        ClaimRef::find(json, "d"),
        Err(Error::Malformed(Malformed::DuplicateMember))
    );
    // Not an object, or not JSON: malformed, whatever the name.
    assert!(matches!(
        ClaimRef::find(b"[1]", "a"),
        Err(Error::Malformed(_))
    ));
    assert!(matches!(
        ClaimRef::find(b"{\"a\":", "a"),
        Err(Error::Malformed(_))
    ));
    // i64's extremes.
    assert_eq!(
        ClaimRef::Num(b"-9223372036854775808").as_i64(),
        Some(i64::MIN)
    );
    assert_eq!(
        ClaimRef::Num(b"9223372036854775807").as_i64(),
        Some(i64::MAX)
    );
    assert_eq!(ClaimRef::Num(b"-").as_i64(), None);
}
