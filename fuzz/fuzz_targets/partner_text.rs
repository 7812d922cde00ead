#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| finroute_server::fuzzing::partner_text(data));
