//! The SDK's public surface stays the contract and the domain: its normal
//! dependencies name no router crate (adapters, server, store, testkit,
//! conformance). Partners pull in the SDK, and everything it depends on
//! becomes theirs to build, audit and keep compatible with.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;

/// The finroute crates the SDK may depend on.
const ALLOWED: [&str; 3] = ["finroute-core", "finroute-proto", "finroute-wire"];

#[test]
fn the_sdk_depends_on_proto_core_and_wire_only() {
    let manifest: toml::Table = include_str!("../Cargo.toml").parse().unwrap();
    let mut finroute = BTreeSet::new();
    // Target-specific dependency tables count too.
    let mut tables = vec![manifest.get("dependencies").cloned()];
    if let Some(targets) = manifest.get("target").and_then(|t| t.as_table()) {
        for t in targets.values() {
            tables.push(t.get("dependencies").cloned());
        }
    }
    for deps in tables.into_iter().flatten() {
        for name in deps.as_table().unwrap().keys() {
            if name.starts_with("finroute") {
                finroute.insert(name.clone());
            }
        }
    }
    let allowed: BTreeSet<String> = ALLOWED.iter().map(|s| s.to_string()).collect();
    assert!(
        finroute.is_subset(&allowed),
        "the SDK depends on router crates: {:?}",
        finroute.difference(&allowed).collect::<Vec<_>>()
    );
    // The check reads the real manifest: it sees the crates the SDK needs.
    assert!(finroute.contains("finroute-core") && finroute.contains("finroute-proto"));
}
