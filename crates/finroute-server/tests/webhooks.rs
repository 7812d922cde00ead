//! Events pushed to the platform's webhook, end to end: a real router on
//! 127.0.0.1:0 (SQLite, and PostgreSQL when `FINROUTE_TEST_DATABASE_URL`
//! is set), a fake partner, and a webhook receiver that fails its first 3
//! deliveries. Every event arrives once after dedup by event id, in order
//! per application, with a valid signature.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use finroute_proto::v1 as pb;
use finroute_server::Config;
use finroute_server::config::WebhookConfig;
use finroute_testkit::webhook::WebhookReceiver;
use finroute_testkit::{
    AcceptMode, Behaviour, FakePartner, PgSchema, TestRouter, config_with, partner_offer,
    refused_borrower,
};
use pb::financing_router_client::FinancingRouterClient;
use pb::review_service_client::ReviewServiceClient;
use tonic::transport::Channel;

const SECRET: &str = "whsec-test-0123456789abcdef";

async fn partner() -> FakePartner {
    FakePartner::start_with(
        Behaviour::Offers(vec![partner_offer("P-1", 1_000_000, 1100, 0.7)]),
        vec![],
        AcceptMode::Book,
    )
    .await
}

/// A router config with `partner` and a webhook for the open tenant
/// (`default`), with short timings.
fn config(partner: &FakePartner, receiver: &WebhookReceiver) -> Config {
    let mut c = config_with(vec![partner.spec("bank-a", 500)]);
    c.acceptance.partner_timeout_ms = 1_000;
    c.acceptance.poll_interval_ms = 50;
    // One key files and decides (the open router's).
    c.review.four_eyes = false;
    c.events.poll_interval_ms = 20;
    c.webhooks = vec![WebhookConfig {
        tenant: "default".into(),
        url: receiver.url(),
        secret: Some(SECRET.into()),
        secret_env: None,
        ca_file: None,
        timeout_ms: 2_000,
        backoff_initial_ms: 20,
        backoff_max_ms: 100,
    }];
    c
}

/// Routes, accepts the offer (ACCEPTED); returns the application id.
async fn route_and_accept(client: &mut FinancingRouterClient<Channel>, key: &str) -> String {
    let r = client
        .route_financing(refused_borrower())
        .await
        .unwrap()
        .into_inner();
    let offer = r.offers.iter().find(|o| o.adapter_id == "bank-a").unwrap();
    let answer = client
        .accept_offer(pb::AcceptOfferRequest {
            offer_id: offer.offer_id.clone(),
            idempotency_key: key.into(),
            applicant_id: "app-7f3a9c".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(answer.status, pb::AcceptanceStatus::Accepted as i32);
    r.application_id
}

/// Files an appeal on `application_id` and decides it (OVERTURNED).
async fn appeal_decided(router: &TestRouter, application_id: &str) -> String {
    let mut client = router.client().await;
    let appeal = client
        .file_appeal(pb::FileAppealRequest {
            application_id: application_id.into(),
            adapter_id: "bank-a".into(),
            reason: pb::AppealReason::IncomeChanged as i32,
            details: "my income rose in March".into(),
            idempotency_key: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let mut review = ReviewServiceClient::new(router.channel().await);
    review
        .resolve_appeal(pb::ResolveAppealRequest {
            appeal_id: appeal.appeal_id.clone(),
            decision: pb::AppealDecision::Overturned as i32,
            note: "payslips confirm the new income".into(),
            reason_code: pb::DecisionReason::Other as i32,
        })
        .await
        .unwrap();
    appeal.appeal_id
}

async fn every_event_once_in_order(mut config: Config, receiver: &WebhookReceiver) {
    config.events.poll_interval_ms = 20;
    let router = TestRouter::start(config).await;
    let mut client = router.client().await;
    let first = route_and_accept(&mut client, "key-1").await;
    let appeal_id = appeal_decided(&router, &first).await;
    let second = route_and_accept(&mut client, "key-2").await;

    let events = receiver.wait_for(3, Duration::from_secs(20)).await;
    receiver.check_order_and_signatures();
    assert_eq!(events.len(), 3, "{events:?}");
    // The first 3 requests failed, and were retried.
    let log = receiver.log();
    assert!(log.iter().take(3).all(|d| !d.acknowledged), "{log:?}");
    let of = |app: &str| -> Vec<(i64, String)> {
        events
            .iter()
            .filter(|d| d.application_id() == app)
            .map(|d| (d.sequence(), d.kind().to_owned()))
            .collect()
    };
    assert_eq!(
        of(&first),
        [
            (1, "acceptance.final".to_owned()),
            (2, "appeal.decided".to_owned())
        ]
    );
    assert_eq!(of(&second), [(1, "acceptance.final".to_owned())]);
    let decided = events
        .iter()
        .find(|d| d.kind() == "appeal.decided")
        .unwrap();
    assert_eq!(decided.body["data"]["appeal_id"], appeal_id.as_str());
    assert_eq!(decided.body["data"]["decision"], "OVERTURNED");
    assert_eq!(decided.body["tenant"], "default");
    // No personal data: the applicant's words and the operator's note stay
    // out of every body.
    for d in &log {
        let text = d.body.to_string();
        assert!(
            !text.contains("income") && !text.contains("payslips"),
            "{text}"
        );
        assert!(!text.contains("app-7f3a9c"), "{text}");
    }
    let accepted = events
        .iter()
        .find(|d| d.application_id() == second)
        .unwrap();
    assert_eq!(accepted.body["data"]["status"], "ACCEPTED");

    // Operators see it.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let text = router.scrape().await;
        let backlog_empty = text.lines().any(|l| l == "finroute_webhook_backlog 0");
        if backlog_empty {
            assert!(
                text.contains(
                    "finroute_webhook_deliveries_total{tenant=\"default\",result=\"delivered\"} 3"
                ),
                "{text}"
            );
            assert!(
                text.contains(
                    "finroute_webhook_deliveries_total{tenant=\"default\",result=\"failed\"} 3"
                ),
                "{text}"
            );
            assert!(text.contains("finroute_webhook_retries_total 3"), "{text}");
            assert!(
                text.contains("finroute_webhook_backlog_age_seconds 0"),
                "{text}"
            );
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{text}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    router.stop().await.unwrap();
}

#[tokio::test]
async fn a_receiver_failing_3_times_gets_every_event_once_in_order_sqlite() {
    let p = partner().await;
    let receiver = WebhookReceiver::start(SECRET, 3).await;
    every_event_once_in_order(config(&p, &receiver), &receiver).await;
}

#[tokio::test]
async fn a_receiver_failing_3_times_gets_every_event_once_in_order_postgres() {
    let Some(pg) = PgSchema::create().await else {
        return;
    };
    let p = partner().await;
    let receiver = WebhookReceiver::start(SECRET, 3).await;
    let mut c = config(&p, &receiver);
    c.store.url = pg.url.clone();
    every_event_once_in_order(c, &receiver).await;
    pg.drop_schema().await;
}

#[tokio::test]
async fn events_of_a_tenant_without_a_webhook_are_settled_not_sent() {
    let p = partner().await;
    let receiver = WebhookReceiver::start(SECRET, 0).await;
    let mut c = config(&p, &receiver);
    c.webhooks[0].tenant = "someone-else".into();
    let router = TestRouter::start(c).await;
    let mut client = router.client().await;
    route_and_accept(&mut client, "key-1").await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let text = router.scrape().await;
        if text
            .contains("finroute_webhook_deliveries_total{tenant=\"default\",result=\"skipped\"} 1")
        {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{text}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(receiver.log().is_empty());
    router.stop().await.unwrap();
}
