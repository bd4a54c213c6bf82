#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sscard_fuzz_bodies::fcp(data));
