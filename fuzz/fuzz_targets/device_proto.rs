#![no_main]
//! See `tokenguard_fuzz::device_proto` for the input format and the properties checked.

libfuzzer_sys::fuzz_target!(|data: &[u8]| tokenguard_fuzz::device_proto::run(data));
