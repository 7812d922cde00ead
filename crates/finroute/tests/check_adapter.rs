//! `finroute check-adapter --endpoint URL` as a partner runs it: a separate
//! process against adapters served on loopback by this test. Exit 0 and a
//! table of PASS rows for the SDK's example bank; exit 1 with the failed
//! checks named for a partner that sends garbage; exit 2 for bad usage.

#![allow(clippy::unwrap_used)]

use std::process::{Command, Output};

use finroute_proto::v1 as pb;
use finroute_testkit::{AcceptMode, Behaviour, FakePartner, cny, fake_description, partner_offer};

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
        "quote.answers",
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
    assert!(table.contains("10 checks: 10 passed, 0 failed"), "{table}");
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
async fn an_offer_only_the_kit_applicant_cannot_afford_warns_and_exits_0() {
    // 50 000 CNY over 3 months: debt-to-income 0.704 for the kit's
    // applicant, above the 0.70 limit; the offer itself is honest.
    let mut offer = partner_offer("three", 5_000_000, 1200, 0.8);
    offer.term_months = 3;
    let mut d = fake_description(vec![]);
    d.min_amount = Some(cny(5_000_000));
    d.max_amount = Some(cny(5_000_000));
    d.min_term_months = 3;
    d.max_term_months = 3;
    d.parties = vec![pb::Party {
        role: pb::PartyRole::Lender as i32,
        legal_name: "Fake Lender Co., Ltd.".into(),
        registration_id: "91310000MA1FL0000X".into(),
        contact: String::new(),
        lender_type: 0,
    }];
    // No Accept: the accept checks are skipped (the fake would book any
    // reference, failing accept.unknown_offer), so nothing fails.
    d.supports_accept = false;
    let p = FakePartner::start_described(Behaviour::Offers(vec![offer]), d, AcceptMode::Book).await;
    let out = check_adapter(&["--endpoint", &format!("http://{}", p.addr)]).await;
    let table = String::from_utf8_lossy(&out.stdout);
    let offers = table.lines().find(|l| l.contains("quote.offers")).unwrap();
    assert!(offers.starts_with("WARN"), "{table}");
    assert!(offers.contains("UNAFFORDABLE"), "{table}");
    assert!(
        table.contains(
            "10 checks: 6 passed, 0 failed, 2 skipped, 2 warned (warned: quote.offers, quote.narrow)"
        ),
        "{table}"
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "a WARN is not a failure: {table}"
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
