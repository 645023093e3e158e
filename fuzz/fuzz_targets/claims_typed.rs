#![no_main]
//! See `tokenguard_fuzz::claims_typed` for the input format and the properties checked.

libfuzzer_sys::fuzz_target!(|data: &[u8]| tokenguard_fuzz::claims_typed::run(data));
