#![no_main]
//! See `tokenguard_fuzz::verify` for the input format and the properties checked.

libfuzzer_sys::fuzz_target!(|data: &[u8]| tokenguard_fuzz::verify::run(data));
