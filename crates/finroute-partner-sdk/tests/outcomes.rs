//! `OutcomeReporter` against a real router (open, on loopback): a booked
//! loan's FUNDED outcome is recorded once, a retry is a duplicate.

#![allow(clippy::unwrap_used)]

use std::time::{Duration, SystemTime};

use finroute_partner_sdk::{Currency, Money, Outcome, OutcomeEvent, OutcomeReporter};
use finroute_proto::v1 as pb;
use finroute_testkit::{
    AcceptMode, Behaviour, FakePartner, TestRouter, config_with, partner_offer, refused_borrower,
};

#[tokio::test]
async fn a_partner_reports_a_funded_loan_once() {
    let partner = FakePartner::start_with(
        Behaviour::Offers(vec![partner_offer("P-1", 1_000_000, 1100, 0.7)]),
        vec![],
        AcceptMode::Book,
    )
    .await;
    let router = TestRouter::start(config_with(vec![partner.spec("bank-a", 2_000)])).await;
    let mut client = router.client().await;
    let routed = client
        .route_financing(refused_borrower())
        .await
        .unwrap()
        .into_inner();
    let offer = routed
        .offers
        .iter()
        .find(|o| o.adapter_id == "bank-a")
        .unwrap();
    let accepted = client
        .accept_offer(pb::AcceptOfferRequest {
            offer_id: offer.offer_id.clone(),
            idempotency_key: "tap-1".into(),
            applicant_id: "app-7f3a9c".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(accepted.status, pb::AcceptanceStatus::Accepted as i32);

    let mut reporter = OutcomeReporter::connect(router.url(), None).await.unwrap();
    let event = OutcomeEvent {
        event_id: "disb-1".into(),
        occurred_at: SystemTime::now() - Duration::from_secs(60),
        outcome: Outcome::Funded {
            amount: Money::new(Currency::parse("CNY").unwrap(), 1_000_000),
            funded_on: "2026-12-01".into(),
        },
        text: String::new(),
    };
    let first = reporter
        .report(&accepted.acceptance_id, &event)
        .await
        .unwrap();
    assert!(!first.duplicate);
    assert_eq!(first.current_event_id, "disb-1");
    let again = reporter
        .report(&accepted.acceptance_id, &event)
        .await
        .unwrap();
    assert!(again.duplicate);
    assert_eq!(again.history_len, 1);
    let unknown = reporter.report("acc-nope", &event).await.unwrap_err();
    assert_eq!(unknown.code(), tonic::Code::NotFound);
    router.stop().await.unwrap();
}
