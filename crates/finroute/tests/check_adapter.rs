//! `finroute check-adapter --endpoint URL` as a partner runs it: a separate
//! process against adapters served on loopback by this test. Exit 0 and a
//! table of PASS rows for the SDK's example bank; exit 1 with the failed
//! checks named for a partner that sends garbage; exit 2 for bad usage.

#![allow(clippy::unwrap_used)]

use std::process::{Command, Output};

use finroute_proto::v1 as pb;
use finroute_testkit::{Behaviour, FakePartner, partner_offer};

/// Runs the binary on its own thread (it blocks) and returns its output.
async fn check_adapter(args: &[&str]) -> Output {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_finroute"))
            .arg("check-adapter")
            .args(&args)
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_bank_passes_and_the_exit_code_is_0() {
    let addr = partner_bank::spawn(
        partner_bank::Settings::default(),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let out = check_adapter(&["--endpoint", &format!("http://{addr}")]).await;
    let table = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{table}");
    for check in [
        "health",
        "describe",
        "describe.parties",
        "quote.latency",
        "quote.offers",
        "quote.apr",
        "quote.narrow",
        "accept.idempotent",
        "accept.unknown_offer",
    ] {
        assert!(
            table
                .lines()
                .any(|l| l.starts_with("PASS") && l.contains(check)),
            "{check} did not pass:\n{table}"
        );
    }
    assert!(table.contains("9 checks: 9 passed, 0 failed"), "{table}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partner_sending_garbage_fails_with_exit_1_and_the_checks_named() {
    let mut odds = partner_offer("bad-odds", 1_000_000, 1200, 0.8);
    odds.approval_probability = 7.0;
    let p = FakePartner::start(
        Behaviour::Offers(vec![odds]),
        vec![pb::ApplicantField::CreditScore],
    )
    .await;
    let out = check_adapter(&["--endpoint", &format!("http://{}", p.addr)]).await;
    let table = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{table}");
    let offers = table.lines().find(|l| l.contains("quote.offers")).unwrap();
    assert!(offers.starts_with("FAIL"), "{table}");
    assert!(
        offers.contains("offer bad-odds: approval_probability 7 outside [0, 1]"),
        "{table}"
    );
    assert!(table.contains("(failed: "), "{table}");
    // The kit's applicant reached the partner minimised, as from the router.
    let q = &p.quotes()[0];
    let a = q.applicant.as_ref().unwrap();
    assert!(
        a.credit_score.is_some() && a.monthly_income.is_none(),
        "{a:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_usage_is_exit_2() {
    let out = check_adapter(&["--endpoint", "localhost:50061"]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("http://host:port"));
    let out = check_adapter(&[]).await;
    assert_eq!(out.status.code(), Some(2), "clap: --endpoint is required");
}
