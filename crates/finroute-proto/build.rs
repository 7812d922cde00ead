//! Compiles `proto/finroute/v1/*.proto` with protox (pure Rust, no system
//! `protoc`) and hands the descriptor set to tonic-prost-build; the same
//! descriptor set is written to OUT_DIR for server reflection.

use std::path::PathBuf;

use prost::Message;

/// Messages that carry personal data: their derived `Debug` is skipped and a
/// masking one is written in `src/lib.rs`, so `?request` never logs PII.
const MASKED: &[&str] = &[
    ".finroute.v1.Applicant",
    ".finroute.v1.Collateral",
    ".finroute.v1.FileAppealRequest",
    ".finroute.v1.Appeal",
    ".finroute.v1.AppealEvent",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("../../proto");
    let files = [
        "types.proto",
        "router.proto",
        "review.proto",
        "adapter.proto",
    ]
    .map(|f| root.join("finroute/v1").join(f));
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
    }
    let fds = protox::compile(&files, [&root])?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out.join("finroute_descriptor.bin"), fds.encode_to_vec())?;
    tonic_prost_build::configure()
        .skip_debug(MASKED.iter().copied())
        .compile_fds(fds)?;
    Ok(())
}
