#![no_main]
//! See `tokenguard_fuzz::jwks_stream` for the input format and the properties checked.

libfuzzer_sys::fuzz_target!(|data: &[u8]| tokenguard_fuzz::jwks_stream::run(data));
