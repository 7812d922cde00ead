#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| finroute_server::fuzzing::quote_response(data));
