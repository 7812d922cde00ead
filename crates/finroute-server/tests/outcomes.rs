//! PartnerOutcomeService end to end over gRPC: a real router on 127.0.0.1:0
//! (SQLite, and PostgreSQL when `FINROUTE_TEST_DATABASE_URL` is set) with
//! two fake partners; the borrower's platform routes and accepts, then a
//! partner reports what became of the loans with its own key, and
//! GetApplication shows it.

#![allow(clippy::unwrap_used)]

use std::time::{SystemTime, UNIX_EPOCH};

use finroute_proto::v1 as pb;
use finroute_server::Config;
use finroute_server::config::ApiKeyConfig;
use finroute_testkit::{
    AcceptMode, Behaviour, FakePartner, PgSchema, TestRouter, config_with, partner_offer,
    refused_borrower, violated_fields, with_timeout,
};
use pb::financing_router_client::FinancingRouterClient;
use pb::partner_outcome_service_client::PartnerOutcomeServiceClient;
use pb::review_service_client::ReviewServiceClient;
use sha2::{Digest, Sha256};
use tonic::Code;
use tonic::transport::Channel;
use tonic_types::StatusExt;

const ROUTER_A: &str = "fr_test_tenant_a_router";
const BANK_A: &str = "fr_test_tenant_a_bank_a_partner";
const BANK_B: &str = "fr_test_tenant_a_bank_b_partner";
const BANK_A_OF_B: &str = "fr_test_tenant_b_bank_a_partner";
const OPS_A: &str = "fr_test_tenant_a_operator";

fn key(id: &str, secret: &str, tenant: &str, role: &str, adapter: Option<&str>) -> ApiKeyConfig {
    ApiKeyConfig {
        id: id.into(),
        sha256: hex::encode(Sha256::digest(secret.as_bytes())),
        tenant: tenant.into(),
        roles: vec![role.into()],
        rate_per_second: None,
        burst: None,
        adapter_id: adapter.map(str::to_owned),
    }
}

fn with_key<T>(msg: T, secret: &str) -> tonic::Request<T> {
    let mut r = with_timeout(msg, 10_000);
    r.metadata_mut()
        .insert("authorization", format!("Bearer {secret}").parse().unwrap());
    r
}

async fn partner() -> FakePartner {
    FakePartner::start_with(
        Behaviour::Offers(vec![
            partner_offer("P-1", 1_000_000, 1100, 0.7),
            partner_offer("P-2", 800_000, 1250, 0.8),
        ]),
        vec![],
        AcceptMode::Book,
    )
    .await
}

/// Two channels, a router key and partner keys: bank-a's and bank-b's of
/// tenant-a, and bank-a's of tenant-b.
fn config(a: &FakePartner, b: &FakePartner) -> Config {
    let mut c = config_with(vec![a.spec("bank-a", 2_000), b.spec("bank-b", 2_000)]);
    c.acceptance.partner_timeout_ms = 2_000;
    c.acceptance.poll_interval_ms = 50;
    c.auth.keys = vec![
        key("mobile-a", ROUTER_A, "tenant-a", "router", None),
        key("bank-a", BANK_A, "tenant-a", "partner", Some("bank-a")),
        key("bank-b", BANK_B, "tenant-a", "partner", Some("bank-b")),
        key(
            "bank-a-of-b",
            BANK_A_OF_B,
            "tenant-b",
            "partner",
            Some("bank-a"),
        ),
        key("ops-a", OPS_A, "tenant-a", "operator", None),
    ];
    c
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn at(ms: i64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: ms.div_euclid(1000),
        nanos: (ms.rem_euclid(1000) * 1_000_000) as i32,
    }
}

fn cny(amount_minor: i64) -> pb::Money {
    pb::Money {
        currency_code: "CNY".into(),
        amount_minor,
    }
}

fn funded(event_id: &str, occurred_ms: i64) -> pb::PartnerOutcome {
    pb::PartnerOutcome {
        event_id: event_id.into(),
        kind: pb::OutcomeKind::Funded as i32,
        occurred_at: Some(at(occurred_ms)),
        amount: Some(cny(1_000_000)),
        funded_on: "2026-12-01".into(),
        text: "paid out\u{0007} to the borrower's account".into(),
        ..Default::default()
    }
}

fn simple(event_id: &str, kind: pb::OutcomeKind, occurred_ms: i64) -> pb::PartnerOutcome {
    pb::PartnerOutcome {
        event_id: event_id.into(),
        kind: kind as i32,
        occurred_at: Some(at(occurred_ms)),
        ..Default::default()
    }
}

fn report(acceptance_id: &str, outcome: pb::PartnerOutcome) -> pb::ReportOutcomeRequest {
    pb::ReportOutcomeRequest {
        acceptance_id: acceptance_id.into(),
        outcome: Some(outcome),
    }
}

fn reason(s: &tonic::Status) -> String {
    s.get_error_details()
        .error_info()
        .map(|i| i.reason.clone())
        .unwrap_or_default()
}

/// Routes, accepts bank-a's two offers; returns the application id and
/// the two acceptance ids.
async fn route_and_accept(client: &mut FinancingRouterClient<Channel>) -> (String, String, String) {
    let r = client
        .route_financing(with_key(refused_borrower(), ROUTER_A))
        .await
        .unwrap()
        .into_inner();
    let mut ids = Vec::new();
    for reference in ["P-1", "P-2"] {
        let offer = r
            .offers
            .iter()
            .find(|o| o.adapter_id == "bank-a" && o.partner_offer_ref == reference)
            .unwrap_or_else(|| panic!("no bank-a offer {reference}: {:?}", r.channel_reports));
        let accepted = client
            .accept_offer(with_key(
                pb::AcceptOfferRequest {
                    offer_id: offer.offer_id.clone(),
                    idempotency_key: format!("tap-{reference}"),
                    applicant_id: "app-7f3a9c".into(),
                },
                ROUTER_A,
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(accepted.status, pb::AcceptanceStatus::Accepted as i32);
        ids.push(accepted.acceptance_id);
    }
    let second = ids.pop().unwrap();
    let first = ids.pop().unwrap();
    (r.application_id, first, second)
}

async fn the_partner_reports_and_get_application_shows_it(config: Config) {
    let router = TestRouter::start(config).await;
    let mut client = router.client().await;
    let mut outcomes = PartnerOutcomeServiceClient::new(router.channel().await);
    let (application_id, first, second) = route_and_accept(&mut client).await;
    let now = now_ms();

    // FUNDED: recorded, current.
    let r = outcomes
        .report_outcome(with_key(
            report(&first, funded("ev-funded", now - 60_000)),
            BANK_A,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(!r.duplicate);
    assert_eq!(r.history.len(), 1);
    let current = r.current.unwrap();
    assert_eq!(current.kind, pb::OutcomeKind::Funded as i32);
    assert_eq!(current.amount, Some(cny(1_000_000)));
    assert_eq!(
        current.text, "paid out to the borrower's account",
        "control characters are dropped"
    );

    // The same event again: a duplicate, nothing added.
    let r = outcomes
        .report_outcome(with_key(
            report(&first, funded("ev-funded", now - 60_000)),
            BANK_A,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(r.duplicate);
    assert_eq!(r.history.len(), 1);

    // The same id with other content: refused.
    let mut changed = funded("ev-funded", now - 60_000);
    changed.amount = Some(cny(900_000));
    let s = outcomes
        .report_outcome(with_key(report(&first, changed), BANK_A))
        .await
        .unwrap_err();
    assert_eq!(s.code(), Code::AlreadyExists, "{s:?}");
    assert_eq!(reason(&s), "OUTCOME_EVENT_ID_REUSED");

    // REPAID later, then an older IN_ARREARS arriving last: history in the
    // partner's order, REPAID stays current.
    outcomes
        .report_outcome(with_key(
            report(
                &first,
                simple("ev-repaid", pb::OutcomeKind::Repaid, now - 1_000),
            ),
            BANK_A,
        ))
        .await
        .unwrap();
    let mut arrears = simple("ev-arrears", pb::OutcomeKind::InArrears, now - 30_000);
    arrears.days_past_due = 12;
    arrears.amount = Some(cny(90_000));
    let r = outcomes
        .report_outcome(with_key(report(&first, arrears), BANK_A))
        .await
        .unwrap()
        .into_inner();
    assert!(!r.duplicate);
    let order: Vec<&str> = r.history.iter().map(|o| o.event_id.as_str()).collect();
    assert_eq!(order, ["ev-funded", "ev-arrears", "ev-repaid"]);
    assert_eq!(r.current.unwrap().event_id, "ev-repaid");

    // DECLINED_AFTER_REVIEW on the other acceptance, with a typed reason.
    let mut declined = simple("ev-declined", pb::OutcomeKind::DeclinedAfterReview, now);
    declined.decline_reason = pb::DeclineReason::DebtToIncome as i32;
    outcomes
        .report_outcome(with_key(report(&second, declined), BANK_A))
        .await
        .unwrap();

    // GetApplication shows both acceptances' outcomes, in order.
    let app = client
        .get_application(with_key(
            pb::GetApplicationRequest {
                application_id: application_id.clone(),
                ..Default::default()
            },
            ROUTER_A,
        ))
        .await
        .unwrap()
        .into_inner();
    let of = |id: &str| {
        app.acceptances
            .iter()
            .find(|a| a.acceptance_id == id)
            .unwrap()
            .clone()
    };
    let a1 = of(&first);
    let kinds: Vec<i32> = a1.outcomes.iter().map(|o| o.kind).collect();
    assert_eq!(
        kinds,
        [
            pb::OutcomeKind::Funded as i32,
            pb::OutcomeKind::InArrears as i32,
            pb::OutcomeKind::Repaid as i32
        ]
    );
    assert_eq!(a1.current_outcome.unwrap().event_id, "ev-repaid");
    let a2 = of(&second);
    assert_eq!(a2.outcomes.len(), 1);
    let d = a2.current_outcome.unwrap();
    assert_eq!(d.kind, pb::OutcomeKind::DeclinedAfterReview as i32);
    assert_eq!(d.decline_reason, pb::DeclineReason::DebtToIncome as i32);

    // The review desk's case shows them too.
    let appeal = client
        .file_appeal(with_key(
            pb::FileAppealRequest {
                application_id: application_id.clone(),
                adapter_id: String::new(),
                reason: pb::AppealReason::IncomeChanged as i32,
                details: "new job".into(),
                idempotency_key: String::new(),
            },
            ROUTER_A,
        ))
        .await
        .unwrap()
        .into_inner();
    let case = ReviewServiceClient::new(router.channel().await)
        .get_case(with_key(
            pb::GetCaseRequest {
                appeal_id: appeal.appeal_id,
            },
            OPS_A,
        ))
        .await
        .unwrap()
        .into_inner();
    let shown = case.application.unwrap();
    let in_case = shown
        .acceptances
        .iter()
        .find(|a| a.acceptance_id == first)
        .unwrap();
    assert_eq!(in_case.outcomes.len(), 3);

    // Another partner's key (bank-b, same tenant) and bank-a's key of
    // another tenant: NOT_FOUND, as for an unknown id.
    for secret in [BANK_B, BANK_A_OF_B] {
        let s = outcomes
            .report_outcome(with_key(
                report(&first, simple("ev-x", pb::OutcomeKind::Defaulted, now)),
                secret,
            ))
            .await
            .unwrap_err();
        assert_eq!(s.code(), Code::NotFound, "{s:?}");
        assert_eq!(reason(&s), "ACCEPTANCE_NOT_FOUND");
    }
    // A router key cannot report; a partner key cannot route or read.
    let s = outcomes
        .report_outcome(with_key(
            report(&first, simple("ev-y", pb::OutcomeKind::Defaulted, now)),
            ROUTER_A,
        ))
        .await
        .unwrap_err();
    assert_eq!(s.code(), Code::PermissionDenied, "{s:?}");
    assert_eq!(reason(&s), "ROLE_REQUIRED");
    let s = client
        .get_application(with_key(
            pb::GetApplicationRequest {
                application_id: application_id.clone(),
                ..Default::default()
            },
            BANK_A,
        ))
        .await
        .unwrap_err();
    assert_eq!(s.code(), Code::PermissionDenied, "{s:?}");

    // Bad input names the field; nothing was recorded by the refusals.
    let mut future = funded("ev-future", now + 10 * 60_000);
    future.funded_on = "2026-12-02".into();
    let s = outcomes
        .report_outcome(with_key(report(&first, future), BANK_A))
        .await
        .unwrap_err();
    assert_eq!(s.code(), Code::InvalidArgument, "{s:?}");
    assert_eq!(violated_fields(&s), ["outcome.occurred_at"]);
    let mut usd = funded("ev-usd", now);
    usd.amount = Some(pb::Money {
        currency_code: "USD".into(),
        amount_minor: 10,
    });
    let s = outcomes
        .report_outcome(with_key(report(&first, usd), BANK_A))
        .await
        .unwrap_err();
    assert_eq!(s.code(), Code::InvalidArgument, "{s:?}");
    assert!(
        s.message().contains("outcome.amount.currency_code"),
        "{s:?}"
    );

    // Counted once per recorded event, by channel and kind.
    let text = router.scrape().await;
    for (kind, n) in [
        ("FUNDED", 1),
        ("REPAID", 1),
        ("IN_ARREARS", 1),
        ("DECLINED_AFTER_REVIEW", 1),
    ] {
        let line =
            format!("finroute_partner_outcomes_total{{adapter=\"bank-a\",kind=\"{kind}\"}} {n}");
        assert!(text.contains(&line), "{line} not in\n{text}");
    }
    router.stop().await.unwrap();
}

#[tokio::test]
async fn a_partner_reports_outcomes_on_sqlite() {
    let (a, b) = (partner().await, partner().await);
    the_partner_reports_and_get_application_shows_it(config(&a, &b)).await;
}

#[tokio::test]
async fn a_partner_reports_outcomes_on_postgres() {
    let Some(pg) = PgSchema::create().await else {
        return;
    };
    let (a, b) = (partner().await, partner().await);
    let mut c = config(&a, &b);
    c.store.url = pg.url.clone();
    the_partner_reports_and_get_application_shows_it(c).await;
    pg.drop_schema().await;
}

/// Only an ACCEPTED acceptance takes outcomes: a DECLINED one answers
/// FAILED_PRECONDITION naming its status.
#[tokio::test]
async fn a_declined_acceptance_takes_no_outcome() {
    let a = FakePartner::start_with(
        Behaviour::Offers(vec![partner_offer("P-1", 1_000_000, 1100, 0.7)]),
        vec![],
        AcceptMode::Decline,
    )
    .await;
    let b = partner().await;
    let router = TestRouter::start(config(&a, &b)).await;
    let mut client = router.client().await;
    let r = client
        .route_financing(with_key(refused_borrower(), ROUTER_A))
        .await
        .unwrap()
        .into_inner();
    let offer = r.offers.iter().find(|o| o.adapter_id == "bank-a").unwrap();
    let declined = client
        .accept_offer(with_key(
            pb::AcceptOfferRequest {
                offer_id: offer.offer_id.clone(),
                idempotency_key: "tap-d".into(),
                applicant_id: "app-7f3a9c".into(),
            },
            ROUTER_A,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(declined.status, pb::AcceptanceStatus::Declined as i32);
    let mut outcomes = PartnerOutcomeServiceClient::new(router.channel().await);
    let s = outcomes
        .report_outcome(with_key(
            report(&declined.acceptance_id, funded("ev-1", now_ms())),
            BANK_A,
        ))
        .await
        .unwrap_err();
    assert_eq!(s.code(), Code::FailedPrecondition, "{s:?}");
    assert_eq!(reason(&s), "ACCEPTANCE_NOT_ACCEPTED");
    assert!(s.message().contains("DECLINED"), "{s:?}");
    router.stop().await.unwrap();
}
