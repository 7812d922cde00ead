//! The refusal reason picks the channels (issue 18, item 3), end to end: a
//! real router on 127.0.0.1:0 with fake partners on loopback and the
//! built-in channels. Default rules skip score partners on a thin file,
//! call secured channels first for a low score with collateral, and call
//! partners last on application velocity; an operator's rule comes first;
//! `routing.default_rules = false` calls everything as before.

#![allow(clippy::unwrap_used)]

use finroute_adapters::spec::AdapterSpec;
use finroute_proto::v1 as pb;
use finroute_server::Config;
use finroute_testkit::{
    Behaviour, FakePartner, TestRouter, config_with, partner_offer, refused_borrower, report_of,
};

use pb::ApplicantField as Field;
use pb::ChannelStatus as S;
use pb::RefusalReason as R;

/// A partner with one offer that declares `required` fields.
async fn partner(required: Vec<Field>) -> FakePartner {
    let offer = partner_offer("p-1", 1_000_000, 1_400, 0.6);
    FakePartner::start(Behaviour::Offers(vec![offer]), required).await
}

/// The embedded default's channel `id`.
fn built_in(id: &str) -> AdapterSpec {
    AdapterSpec::embedded_default()
        .into_iter()
        .find(|s| s.id == id)
        .unwrap()
}

/// The README's borrower, refused for `reasons`.
fn refused_for(reasons: &[R]) -> pb::RouteFinancingRequest {
    let mut req = refused_borrower();
    req.primary_decision.as_mut().unwrap().reasons = reasons.iter().map(|r| *r as i32).collect();
    req
}

async fn route(router: &TestRouter, req: pb::RouteFinancingRequest) -> pb::RouteFinancingResponse {
    let mut client = router.client().await;
    client.route_financing(req).await.unwrap().into_inner()
}

fn status(r: &pb::RouteFinancingResponse, id: &str) -> S {
    S::try_from(report_of(r, id).status).unwrap()
}

fn offers_of(r: &pb::RouteFinancingResponse, id: &str) -> usize {
    r.offers.iter().filter(|o| o.adapter_id == id).count()
}

#[tokio::test]
async fn a_thin_file_skips_partners_that_require_a_score() {
    let scored = partner(vec![Field::CreditScore, Field::MonthlyIncome]).await;
    let unscored = partner(vec![Field::MonthlyIncome]).await;
    // The built-in secured channel reads the score too, but is no partner.
    let specs = vec![
        built_in("secured"),
        scored.spec("scored", 2_000),
        unscored.spec("unscored", 2_000),
    ];
    let router = TestRouter::start(config_with(specs.clone())).await;

    let r = route(&router, refused_for(&[R::InsufficientHistory])).await;
    assert_eq!(status(&r, "scored"), S::SkippedByRule);
    let detail = &report_of(&r, "scored").detail;
    assert!(
        detail.contains("\"thin-file-skips-score-partners\""),
        "{detail}"
    );
    assert!(scored.quotes().is_empty(), "a skipped partner gets no data");
    assert_eq!(status(&r, "unscored"), S::Ok);
    assert_eq!(offers_of(&r, "unscored"), 1);
    assert_eq!(status(&r, "secured"), S::Ok);
    assert!(!r.partial);

    // Another reason: both are called.
    let r = route(&router, refused_for(&[R::DebtToIncomeTooHigh])).await;
    assert_eq!(status(&r, "scored"), S::Ok);
    assert_eq!(scored.quotes().len(), 1);

    // The defaults turned off: the thin file reaches both.
    let mut config = config_with(specs);
    config.routing.default_rules = false;
    let router = TestRouter::start(config).await;
    let r = route(&router, refused_for(&[R::InsufficientHistory])).await;
    assert_eq!(status(&r, "scored"), S::Ok);
    assert_eq!(status(&r, "unscored"), S::Ok);
    drop(router);

    // The metrics count the skip.
    let router = TestRouter::start(config_with(vec![scored.spec("scored", 2_000)])).await;
    route(&router, refused_for(&[R::InsufficientHistory])).await;
    let metrics = router.scrape().await;
    assert!(
        metrics.contains(
            "finroute_channel_calls_total{channel=\"scored\",status=\"skipped_by_rule\"} 1"
        ),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_low_score_with_collateral_calls_secured_channels_first() {
    let bank = partner(vec![Field::CreditScore]).await;
    let specs = vec![built_in("secured"), bank.spec("bank-a", 2_000)];
    let router = TestRouter::start(config_with(specs)).await;
    let low_score = || refused_for(&[R::CreditScoreBelowThreshold]);

    // The secured channel answers with offers: the partner is not needed.
    let r = route(&router, low_score()).await;
    assert_eq!(status(&r, "secured"), S::Ok);
    assert!(offers_of(&r, "secured") >= 1);
    assert_eq!(status(&r, "bank-a"), S::NotNeeded);
    let detail = &report_of(&r, "bank-a").detail;
    assert!(
        detail.contains("\"low-score-with-collateral-prefers-secured\"")
            && detail.contains("routing.tier_min_offers = 1"),
        "{detail}"
    );
    assert!(bank.quotes().is_empty());
    // The explanation and plan are made of what was called.
    assert!(r.offers.iter().all(|o| o.adapter_id == "secured"));

    // Collateral already pledged: the rule does not apply; both called.
    let mut pledged = low_score();
    for c in &mut pledged.applicant.as_mut().unwrap().collateral {
        c.encumbered = true;
    }
    let r = route(&router, pledged).await;
    assert_eq!(status(&r, "bank-a"), S::Ok);
    assert_eq!(bank.quotes().len(), 1);
}

#[tokio::test]
async fn velocity_calls_partners_only_when_in_house_products_make_no_offer() {
    let bank = partner(vec![]).await;
    let specs = vec![built_in("installment"), bank.spec("bank-a", 2_000)];
    let router = TestRouter::start(config_with(specs)).await;

    let r = route(&router, refused_for(&[R::ApplicationVelocity])).await;
    assert!(offers_of(&r, "installment") >= 1, "{:?}", r.channel_reports);
    assert_eq!(status(&r, "bank-a"), S::NotNeeded);
    assert!(bank.quotes().is_empty());

    // The in-house channel left out by the caller: the deferred tier runs.
    let mut req = refused_for(&[R::ApplicationVelocity]);
    req.exclude_adapter_ids = vec!["installment".into()];
    let r = route(&router, req).await;
    assert_eq!(status(&r, "installment"), S::Excluded);
    assert_eq!(status(&r, "bank-a"), S::Ok);
    assert_eq!(offers_of(&r, "bank-a"), 1);
    assert_eq!(bank.quotes().len(), 1);
}

#[tokio::test]
async fn an_operators_rule_from_the_config_file_comes_before_the_defaults() {
    let a = partner(vec![Field::CreditScore]).await;
    let b = partner(vec![]).await;
    let text = format!(
        r#"
[routing]
tier_min_offers = 2

[[routing.rules]]
id = "thin-file-still-asks-bank-a"
reasons = ["insufficient_history"]
adapters = ["bank-a"]
action = "prefer"

[[routing.rules]]
id = "no-bank-b-on-dti"
reasons = ["debt_to_income_too_high"]
lacks = ["employment"]
adapters = ["bank-b"]
action = "skip"

[[adapters]]
id = "bank-a"
kind = "remote"
endpoint = "http://{}"
timeout_ms = 2000

[[adapters]]
id = "bank-b"
kind = "remote"
endpoint = "http://{}"
timeout_ms = 2000
"#,
        a.addr, b.addr
    );
    let config = Config::parse(&text).unwrap();
    config.validate().unwrap();
    let router = TestRouter::start(config).await;

    // The operator's prefer rule wins over the default skip: bank-a is
    // called first, and with one offer (< 2) bank-b is called too.
    let r = route(&router, refused_for(&[R::InsufficientHistory])).await;
    assert_eq!(status(&r, "bank-a"), S::Ok);
    assert_eq!(status(&r, "bank-b"), S::Ok);

    // `lacks` holds (no employment given): bank-b is skipped.
    let mut req = refused_for(&[R::DebtToIncomeTooHigh]);
    req.applicant.as_mut().unwrap().employment = 0;
    let r = route(&router, req).await;
    assert_eq!(status(&r, "bank-b"), S::SkippedByRule);
    assert!(
        report_of(&r, "bank-b")
            .detail
            .contains("\"no-bank-b-on-dti\"")
    );
    assert_eq!(status(&r, "bank-a"), S::Ok);
    // Employment given: called.
    let r = route(&router, refused_for(&[R::DebtToIncomeTooHigh])).await;
    assert_eq!(status(&r, "bank-b"), S::Ok);
}
