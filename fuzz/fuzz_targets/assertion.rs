#![no_main]
//! See `tokenguard_fuzz::assertion` for the input format and the properties checked.

libfuzzer_sys::fuzz_target!(|data: &[u8]| tokenguard_fuzz::assertion::run(data));
