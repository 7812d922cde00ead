//! Replays the committed fuzz corpus (`fuzz/seeds/<target>/*`) and any
//! crash artifacts kept as regressions through the same entry points the
//! fuzz targets use, so `cargo test` keeps what fuzzing found fixed.

use std::path::Path;

use finroute_server::fuzzing;

fn replay(target: &str, run: fn(&[u8])) -> usize {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let mut n = 0;
    for dir in [
        root.join("seeds").join(target),
        root.join("regressions").join(target),
    ] {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            if let Ok(data) = std::fs::read(e.path()) {
                run(&data);
                n += 1;
            }
        }
    }
    n
}

#[test]
fn the_fuzz_corpus_replays_without_a_panic() {
    let total = replay("route_request", fuzzing::route_request)
        + replay("quote_response", fuzzing::quote_response)
        + replay("grpc_timeout", fuzzing::grpc_timeout)
        + replay("config_text", fuzzing::config_text)
        + replay("irr", fuzzing::irr)
        + replay("partner_text", fuzzing::partner_text);
    assert!(total > 0, "the seeds are committed under fuzz/seeds");
}
