//! The conformance checks against partners that break the contract: real
//! gRPC servers on loopback (the test kit's fake partners) that send garbage
//! offers, hang, understate their APR or book twice for one key. Each must
//! fail the check that names its fault, and only the checks it breaks.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use finroute_conformance::{self as conformance, Report, Settings, Verdict};
use finroute_proto::v1 as pb;
use finroute_testkit::{AcceptMode, Behaviour, FakePartner, cny, partner_offer};

async fn check(partner: &FakePartner) -> Report {
    let report = conformance::run(&Settings::new(format!("http://{}", partner.addr)))
        .await
        .unwrap();
    // Printed for whoever reads a failing test.
    println!("{report}");
    report
}

fn detail<'a>(r: &'a Report, name: &str) -> &'a str {
    &r.get(name).unwrap().detail
}

fn good_offers() -> Vec<pb::PartnerOffer> {
    vec![
        partner_offer("g-1", 1_000_000, 1200, 0.8),
        partner_offer("g-2", 500_000, 1300, 0.7),
    ]
}

#[tokio::test]
async fn a_fake_that_ignores_the_request_fails_exactly_the_checks_it_breaks() {
    // The fake sends 12-month offers whatever the terms asked for, and
    // books any reference it is sent.
    let p = FakePartner::start(Behaviour::Offers(good_offers()), vec![]).await;
    let r = check(&p).await;
    assert_eq!(r.failed(), ["quote.narrow", "accept.unknown_offer"], "{r}");
    assert!(
        detail(&r, "quote.narrow").contains("offer g-1: term_months 12 outside 1..=1"),
        "{r}"
    );
    assert!(
        detail(&r, "accept.unknown_offer").contains("never issued"),
        "{r}"
    );
    // One key, one booking, whatever the concurrency.
    assert_eq!(p.booked().len(), 2, "the valid offer and the unknown one");
}

#[tokio::test]
async fn garbage_offers_fail_validation_with_each_offer_named() {
    let mut usd = partner_offer("bad-usd", 1_000_000, 1200, 0.8);
    usd.principal = Some(pb::Money {
        currency_code: "USD".into(),
        amount_minor: 1_000_000,
    });
    let odds = partner_offer("bad-odds", 1_000_000, 1200, 1.5);
    let mut term = partner_offer("bad-term", 1_000_000, 1200, 0.8);
    term.term_months = 0;
    let mut schedule = partner_offer("bad-schedule", 1_000_000, 1200, 0.8);
    schedule.schedule = (1..=12)
        .map(|period| pb::Installment {
            period,
            principal: Some(cny(10)),
            interest: Some(cny(10)),
            fee: Some(cny(0)),
        })
        .collect();
    let mut code = partner_offer("bad-code", 1_000_000, 1200, 0.8);
    code.principal = Some(pb::Money {
        currency_code: "yuan".into(),
        amount_minor: 1,
    });
    let too_much = partner_offer("bad-amount", 999_999_999, 1200, 0.8);
    let p = FakePartner::start(
        Behaviour::Offers(vec![
            partner_offer("ok-1", 1_000_000, 1200, 0.8),
            usd,
            odds,
            term,
            schedule,
            code,
            too_much,
        ]),
        vec![],
    )
    .await;
    let r = check(&p).await;
    assert!(r.failed().contains(&"quote.offers"), "{r}");
    let d = detail(&r, "quote.offers");
    for (reference, why) in [
        ("bad-usd", "currency USD is not the requested CNY"),
        ("bad-odds", "approval_probability 1.5 outside [0, 1]"),
        ("bad-term", "term_months 0"),
        ("bad-schedule", "schedule repays"),
        ("bad-code", "principal.currency_code"),
        ("bad-amount", "above the requested"),
    ] {
        assert!(d.contains(reference), "{reference} not named in {d}");
        assert!(d.contains(why), "{why:?} not in {d}");
    }
    assert!(!d.contains("ok-1"), "the good offer is not blamed: {d}");
    // The narrow request gets the same garbage, and fails too.
    assert_eq!(r.get("quote.narrow").unwrap().verdict, Verdict::Fail);
}

#[tokio::test]
async fn a_hung_partner_fails_the_latency_budget() {
    let p = FakePartner::start(Behaviour::Hung, vec![]).await;
    let started = tokio::time::Instant::now();
    let r = check(&p).await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the kit does not hang with the partner"
    );
    assert_eq!(r.get("describe").unwrap().verdict, Verdict::Pass, "{r}");
    assert_eq!(r.get("health").unwrap().verdict, Verdict::Pass, "{r}");
    assert!(
        detail(&r, "quote.latency").contains("no answer within 300 ms"),
        "{r}"
    );
    assert!(r.failed().contains(&"quote.latency"), "{r}");
}

#[tokio::test]
async fn a_slow_partner_fails_a_tight_budget_and_passes_a_loose_one() {
    let p = FakePartner::start(
        Behaviour::Slow(Duration::from_millis(150), good_offers()),
        vec![],
    )
    .await;
    let endpoint = format!("http://{}", p.addr);
    let tight = Settings {
        quote_budget: Duration::from_millis(50),
        ..Settings::new(endpoint.clone())
    };
    let r = conformance::run(&tight).await.unwrap();
    assert_eq!(
        r.get("quote.latency").unwrap().verdict,
        Verdict::Fail,
        "{r}"
    );
    let r = conformance::run(&Settings::new(endpoint)).await.unwrap();
    assert_eq!(
        r.get("quote.latency").unwrap().verdict,
        Verdict::Pass,
        "{r}"
    );
}

#[tokio::test]
async fn booking_twice_for_one_key_fails_idempotency() {
    let p = FakePartner::start_with(
        Behaviour::Offers(good_offers()),
        vec![],
        AcceptMode::BooksEveryCall,
    )
    .await;
    let r = check(&p).await;
    assert!(r.failed().contains(&"accept.idempotent"), "{r}");
    let d = detail(&r, "accept.idempotent");
    assert!(d.contains("one idempotency key, different answers"), "{d}");
    assert!(d.contains("FAKE-"), "{d}");
}

#[tokio::test]
async fn an_understated_apr_fails_the_apr_check() {
    // The "7.2 % a year" flat-fee installment: its cash flows give ~13 %.
    let mut flat = partner_offer("flat", 1_000_000, 720, 0.7);
    flat.repayment_method = pb::RepaymentMethod::FlatFeeInstallment as i32;
    flat.monthly_fee_rate_bps = 60;
    flat.nominal_rate_bps = 0;
    let p = FakePartner::start(Behaviour::Offers(vec![flat]), vec![]).await;
    let r = check(&p).await;
    assert_eq!(r.get("quote.offers").unwrap().verdict, Verdict::Pass, "{r}");
    assert_eq!(r.get("quote.apr").unwrap().verdict, Verdict::Fail, "{r}");
    assert!(
        detail(&r, "quote.apr").contains("\"flat\" states 7.20 %"),
        "{r}"
    );
}

#[tokio::test]
async fn a_partner_without_offers_or_without_a_port_fails() {
    let p = FakePartner::start(Behaviour::Offers(vec![]), vec![]).await;
    let r = check(&p).await;
    assert!(r.failed().contains(&"quote.offers"), "{r}");
    assert!(
        detail(&r, "quote.offers").contains("no offer to check"),
        "{r}"
    );
    assert!(r.failed().contains(&"accept.idempotent"), "{r}");

    // Nothing listens on port 1: every check fails, none hangs.
    let r = conformance::run(&Settings::new("http://127.0.0.1:1"))
        .await
        .unwrap();
    assert_eq!(r.failed().len(), r.checks.len(), "{r}");

    let e = conformance::run(&Settings::new("127.0.0.1:1"))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("http://host:port"), "{e}");
}
