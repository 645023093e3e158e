use super::*;
use std::vec::Vec;

fn members(input: &str, depth: u8) -> Result<Vec<(std::string::String, Value<'_>)>, JsonError> {
    let mut out = Vec::new();
    parse_object(input.as_bytes(), depth, |k, v| {
        let mut buf = [0u8; 64];
        out.push((k.decode_into(&mut buf).unwrap().into(), v));
        Ok::<(), JsonError>(())
    })?;
    Ok(out)
}

#[test]
fn parses_members_and_whitespace() {
    let m = members(
        "{ \"a\" : 1 ,\n\t\"b\":\"x\", \"c\":[1,{\"d\":null}], \"e\":true}",
        8,
    )
    .unwrap();
    assert_eq!(m.len(), 4);
    assert_eq!(m[0].1, Value::Num(b"1"));
    assert!(matches!(m[1].1, Value::Str(s) if s.eq_str("x")));
    assert_eq!(m[2].1, Value::Array(b"[1,{\"d\":null}]"));
    assert_eq!(m[3].1, Value::Bool(true));
    assert_eq!(members("{}", 8).unwrap().len(), 0);
}

#[test]
fn rejects_grammar_errors() {
    let cases: &[(&str, JsonError)] = &[
        ("", JsonError::Syntax),
        ("[]", JsonError::NotAnObject),
        ("\"x\"", JsonError::NotAnObject),
        ("{\"a\":1}x", JsonError::TrailingData),
        ("{\"a\":1}{}", JsonError::TrailingData),
        ("{\"a\":1,}", JsonError::Syntax),
        ("{'a':1}", JsonError::Syntax),
        ("{\"a\":1/*c*/}", JsonError::Syntax),
        ("{\"a\":01}", JsonError::Number),
        ("{\"a\":+1}", JsonError::Number),
        ("{\"a\":NaN}", JsonError::Number),
        ("{\"a\":Infinity}", JsonError::Number),
        ("{\"a\":1.}", JsonError::Number),
        ("{\"a\":1e}", JsonError::Number),
        ("{\"a\":\"\\ud834\"}", JsonError::Surrogate),
        ("{\"a\":\"\\udd1e\"}", JsonError::Surrogate),
        ("{\"a\":\"\\ud834\\u0041\"}", JsonError::Surrogate),
        ("{\"a\":\"\\x\"}", JsonError::Escape),
        ("{\"a\":\"\\u12\"}", JsonError::Escape),
        ("{\"a\":\"a\u{0}b\"}", JsonError::ControlCharacter),
        ("{\"a\":[1,]}", JsonError::Syntax),
        ("{\"a\":[1 2]}", JsonError::Syntax),
        ("{\"a\":{\"b\"}}", JsonError::Syntax),
        ("{\"a\":tru}", JsonError::Syntax),
        ("{\"a\":1", JsonError::Syntax),
        ("\u{feff}{}", JsonError::NotAnObject),
    ];
    for (input, want) in cases {
        assert_eq!(members(input, 8).unwrap_err(), *want, "{input:?}");
    }
    assert_eq!(
        parse_object::<JsonError>(b"{\"a\":\"\xc0\xaf\"}", 8, |_, _| Ok(())),
        Err(JsonError::Utf8)
    );
    assert_eq!(
        parse_object::<JsonError>(b"{\"a\":\"\xed\xa0\x80\"}", 8, |_, _| Ok(())),
        Err(JsonError::Utf8)
    );
}

#[test]
fn depth_is_bounded_without_recursion() {
    // Top object = depth 1: seven nested arrays reach depth 8.
    let ok = std::format!("{{\"x\":{}{}}}", "[".repeat(7), "]".repeat(7));
    assert!(members(&ok, 8).is_ok());
    let deep = std::format!("{{\"x\":{}{}}}", "[".repeat(8), "]".repeat(8));
    assert_eq!(members(&deep, 8).unwrap_err(), JsonError::Depth);
    let huge = std::format!("{{\"x\":{}{}}}", "[".repeat(100_000), "]".repeat(100_000));
    assert_eq!(members(&huge, 63).unwrap_err(), JsonError::Depth);
}

#[test]
fn escapes_decode_for_comparison() {
    let m = members(r#"{"\u0065xp":"a\"b\\c\/\u00e9\ud834\udd1e"}"#, 8).unwrap();
    assert_eq!(m[0].0, "exp");
    let Value::Str(s) = m[0].1 else { panic!() };
    assert!(s.has_escapes());
    assert!(s.eq_str("a\"b\\c/é𝄞"));
    assert!(!s.eq_str("a\"b\\c/é"));
    assert_eq!(s.decoded_len(), "a\"b\\c/é𝄞".len());
}

#[test]
fn array_items_iterate() {
    let items: Vec<_> = array_items(b"[ \"a\", 1, [2], {\"b\":3} ]")
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(items.len(), 4);
    assert_eq!(items[1], Value::Num(b"1"));
    assert_eq!(array_items(b"[]").count(), 0);
}

#[test]
fn numeric_dates() {
    let max = 253_402_300_799;
    assert_eq!(numeric_date(b"1700000600", max), Some(1_700_000_600));
    assert_eq!(numeric_date(b"1700000600.5", max), Some(1_700_000_600));
    assert_eq!(numeric_date(b"1.7000006e9", max), Some(1_700_000_600));
    assert_eq!(numeric_date(b"17000006E2", max), Some(1_700_000_600));
    assert_eq!(numeric_date(b"170000060000e-2", max), Some(1_700_000_600));
    assert_eq!(numeric_date(b"0", max), Some(0));
    assert_eq!(numeric_date(b"-0", max), Some(0));
    assert_eq!(numeric_date(b"0.9", max), Some(0));
    assert_eq!(numeric_date(b"-1", max), None);
    assert_eq!(numeric_date(b"-0.5", max), None);
    assert_eq!(numeric_date(b"253402300799", max), Some(max));
    assert_eq!(numeric_date(b"253402300800", max), None);
    assert_eq!(numeric_date(b"1e30", max), None);
    assert_eq!(numeric_date(b"1e400", max), None);
    assert_eq!(numeric_date(b"1e-400", max), Some(0));
    assert_eq!(numeric_date(b"18446744073709551616", max), None);
    assert_eq!(numeric_date(b"1000000000000000000000000000000", max), None);
}

/// The eight-at-a-time digit helpers agree with a byte-by-byte reading: every byte value in
/// every lane for the digit mask, every length 1..=19 and a digit or non-digit at each
/// position for the integer fast path.
#[test]
#[cfg(target_pointer_width = "64")] // the eight-byte digit scan is 64-bit only
fn digit_words_match_a_byte_reading() {
    for lane in 0..8 {
        for b in 0..=255u8 {
            let mut w = *b"01234567";
            w[lane] = b;
            let mask = super::non_digits(u64::from_le_bytes(w));
            for (i, &c) in w.iter().enumerate() {
                let flagged = mask >> (i * 8 + 7) & 1 == 1;
                assert_eq!(
                    flagged,
                    !c.is_ascii_digit(),
                    "lane {lane} byte {b:#x} at {i}"
                );
            }
            assert_eq!(mask & !0x8080_8080_8080_8080, 0);
        }
    }
    let digits = b"9876543210123456789";
    for len in 1..=19 {
        let s = &digits[..len];
        let want: u64 = core::str::from_utf8(s).unwrap().parse().unwrap();
        assert_eq!(super::plain_integer(s), Some(want), "{len}");
        assert_eq!(numeric_date(s, u64::MAX), Some(want));
        for at in 0..len {
            for bad in [b'.', b'e', b'/', b':', b'-', 0xB0] {
                let mut t = s.to_vec();
                t[at] = bad;
                assert_eq!(super::plain_integer(&t), None, "{len} {at} {bad}");
            }
        }
    }
    assert_eq!(super::plain_integer(b"99999999999999999999"), None);
    assert_eq!(
        super::plain_integer(b"9999999999999999999"),
        Some(9_999_999_999_999_999_999)
    );
    assert_eq!(super::plain_integer(b""), None);
    // The scanner's digit run stops at the first non-digit, with 8-byte words and without.
    for (text, run) in [
        (
            &br#"{"a":1234567890123,"b":1}"#[..],
            b"1234567890123" as &[u8],
        ),
        (br#"{"a":12345678}"#, b"12345678"),
        (br#"{"a":1}"#, b"1"),
        (br#"{"a":10.25e+3}"#, b"10.25e+3"),
    ] {
        let mut got = None;
        parse_object::<JsonError>(text, 4, |_, v| {
            got = got.or(Some(v));
            Ok(())
        })
        .unwrap();
        assert_eq!(got, Some(Value::Num(run)));
    }
}

/// UTF-8 is checked inside strings as the scanner meets it, instead of in a pass over the
/// whole text first: every one-byte edit of a text with multi-byte characters gives the same
/// result as checking the whole text up front, then scanning.
#[test]
fn utf8_checked_in_strings_matches_a_whole_text_check() {
    let base = "{\"name\":\"Zoë – 東京 😀\",\"k\":[\"ü\",{\"é\":true}],\"n\":1}".as_bytes();
    let reference = |input: &[u8]| -> Result<usize, JsonError> {
        if core::str::from_utf8(input).is_err() {
            return Err(JsonError::Utf8);
        }
        let mut n = 0;
        scan_object::<JsonError>(input, 8, |_, _| {
            n += 1;
            Ok(())
        })
        .map(|()| n)
    };
    let fast = |input: &[u8]| -> Result<usize, JsonError> {
        let mut n = 0;
        parse_object::<JsonError>(input, 8, |_, _| {
            n += 1;
            Ok(())
        })
        .map(|()| n)
    };
    assert_eq!(fast(base), Ok(3));
    let mut checked = 0;
    for pos in 0..base.len() {
        for b in [
            0x80, 0xBF, 0xC0, 0xC2, 0xE2, 0xED, 0xF0, 0xF4, 0xF5, 0xFF, b'"', b'a',
        ] {
            let mut input = base.to_vec();
            input[pos] = b;
            assert_eq!(fast(&input), reference(&input), "byte {b:#x} at {pos}");
            checked += 1;
        }
        // Truncated: the text cut inside a multi-byte character.
        assert_eq!(fast(&base[..pos]), reference(&base[..pos]), "cut at {pos}");
    }
    assert_eq!(checked, base.len() * 12);
    for (input, want) in [
        (&b"{\"a\":1}\xff"[..], JsonError::Utf8),
        (b"{\xff\"a\":1}", JsonError::Utf8),
        (b"{\"a\":\"\xe2\x82\"}", JsonError::Utf8),
        (b"{\"a\":\"\xf4\x90\x80\x80\"}", JsonError::Utf8),
        (b"{\"a\":\"\xe0\x80\xaf\"}", JsonError::Utf8),
    ] {
        assert_eq!(fast(input), Err(want), "{input:?}");
    }
}
