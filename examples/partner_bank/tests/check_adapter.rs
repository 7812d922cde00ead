//! The example bank passes every conformance check `finroute check-adapter`
//! runs, served by the SDK on a real loopback port.

#![allow(clippy::unwrap_used)]

use finroute_conformance::{self as conformance, Settings, Verdict};

#[tokio::test]
async fn the_example_bank_passes_every_check() {
    let addr = partner_bank::spawn(
        partner_bank::Settings::default(),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let report = conformance::run(&Settings::new(format!("http://{addr}")))
        .await
        .unwrap();
    println!("{report}");
    assert!(report.passed(), "{report}");
    assert!(
        report.checks.iter().all(|c| c.verdict == Verdict::Pass),
        "nothing skipped: {report}"
    );
    assert_eq!(report.checks.len(), 10);
}
