#![no_main]
//! See `tokenguard_fuzz::jwk_parse` for the input format and the properties checked.

libfuzzer_sys::fuzz_target!(|data: &[u8]| tokenguard_fuzz::jwk_parse::run(data));
