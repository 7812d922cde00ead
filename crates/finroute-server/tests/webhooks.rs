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

/// An https receiver (TLS terminated here with a certificate of a CA made
/// in the test, trusted through `ca_file`): each connection answers one
/// request 204 and reports its signature header and body.
#[tokio::test]
async fn an_https_webhook_is_verified_against_its_ca_file_and_signed() {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio_rustls::rustls;
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("platform-ca.pem");
    std::fs::write(&ca_file, ca.pem()).unwrap();

    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from_pem_slice(leaf.pem().as_bytes()).unwrap()],
            PrivateKeyDer::from_pem_slice(key.serialize_pem().as_bytes()).unwrap(),
        )
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(server));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let (acceptor, tx) = (acceptor.clone(), tx.clone());
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                // Headers, then the body (Content-Length).
                loop {
                    let n = tls.read(&mut buf).await.unwrap();
                    if n == 0 {
                        return;
                    }
                    request.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&request).to_string();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let length: usize = text
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length: ")
                                    .map(str::to_owned)
                            })
                            .and_then(|v| v.trim().parse().ok())
                            .unwrap_or(0);
                        if request.len() >= end + 4 + length {
                            break;
                        }
                    }
                }
                tls.write_all(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n")
                    .await
                    .unwrap();
                let _ = tls.shutdown().await;
                let _ = tx.send(String::from_utf8_lossy(&request).to_string());
            });
        }
    });

    let p = partner().await;
    let mut c = config_with(vec![p.spec("bank-a", 500)]);
    c.acceptance.partner_timeout_ms = 1_000;
    c.acceptance.poll_interval_ms = 50;
    c.events.poll_interval_ms = 20;
    c.webhooks = vec![WebhookConfig {
        tenant: "default".into(),
        url: format!("https://localhost:{port}/events"),
        secret: Some(SECRET.into()),
        secret_env: None,
        ca_file: Some(ca_file),
        timeout_ms: 2_000,
        backoff_initial_ms: 20,
        backoff_max_ms: 100,
    }];
    let router = TestRouter::start(c).await;
    let mut client = router.client().await;
    let application_id = route_and_accept(&mut client, "key-1").await;
    let request = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(
        request.starts_with("POST /events HTTP/1.1\r\n"),
        "{request}"
    );
    let (head, body) = request.split_once("\r\n\r\n").unwrap();
    let header = |name: &str| {
        head.lines()
            .find_map(|l| {
                let (k, v) = l.split_once(": ")?;
                k.eq_ignore_ascii_case(name).then(|| v.to_owned())
            })
            .unwrap()
    };
    let timestamp: i64 = header("finroute-timestamp").parse().unwrap();
    assert_eq!(
        header("finroute-signature"),
        finroute_server::webhook::sign(SECRET.as_bytes(), timestamp, body.as_bytes())
    );
    let v: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(v["application_id"], application_id.as_str());
    assert_eq!(v["event_id"], header("finroute-event-id").as_str());
    router.stop().await.unwrap();
}

/// A late offer and a partner's outcome report leave their events too, in
/// order with the acceptance's: offer.late, acceptance.final,
/// acceptance.outcome.
#[tokio::test]
async fn late_offers_and_partner_outcomes_are_pushed_in_order() {
    let slow = FakePartner::start_with(
        Behaviour::Slow(
            Duration::from_millis(700),
            vec![partner_offer("LATE-1", 1_000_000, 1_200, 0.7)],
        ),
        vec![],
        AcceptMode::Book,
    )
    .await;
    let receiver = WebhookReceiver::start(SECRET, 1).await;
    let mut config = config(&slow, &receiver);
    config.adapters = vec![slow.spec("bank-late", 2_000)];
    let router = TestRouter::start(config).await;
    let mut client = router.client().await;

    let mut request = tonic::Request::new(refused_borrower());
    request.set_timeout(Duration::from_millis(300));
    let r = client.route_financing(request).await.unwrap().into_inner();
    assert!(r.offers.is_empty());
    let events = receiver.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(events[0].kind(), "offer.late");
    assert_eq!(events[0].application_id(), r.application_id);
    let late = &events[0].body["data"];
    assert_eq!(late["adapter_id"], "bank-late");
    let offer_id = late["offer_id"].as_str().unwrap().to_owned();

    let accepted = client
        .accept_offer(pb::AcceptOfferRequest {
            offer_id: offer_id.clone(),
            idempotency_key: "late-key".into(),
            applicant_id: "app-7f3a9c".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(accepted.status, pb::AcceptanceStatus::Accepted as i32);
    let mut outcomes = pb::partner_outcome_service_client::PartnerOutcomeServiceClient::new(
        router.channel().await,
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    outcomes
        .report_outcome(pb::ReportOutcomeRequest {
            acceptance_id: accepted.acceptance_id.clone(),
            outcome: Some(pb::PartnerOutcome {
                event_id: "bank-evt-1".into(),
                kind: pb::OutcomeKind::Funded as i32,
                occurred_at: Some(prost_types::Timestamp {
                    seconds: now.as_secs() as i64 - 60,
                    nanos: 0,
                }),
                amount: Some(pb::Money {
                    currency_code: "CNY".into(),
                    amount_minor: 1_000_000,
                }),
                funded_on: "2026-12-01".into(),
                ..Default::default()
            }),
        })
        .await
        .unwrap();

    let events = receiver.wait_for(3, Duration::from_secs(10)).await;
    receiver.check_order_and_signatures();
    let seen: Vec<(i64, &str)> = events.iter().map(|d| (d.sequence(), d.kind())).collect();
    assert_eq!(
        seen,
        [
            (1, "offer.late"),
            (2, "acceptance.final"),
            (3, "acceptance.outcome")
        ]
    );
    let funded = &events[2].body["data"];
    assert_eq!(funded["kind"], "FUNDED");
    assert_eq!(funded["acceptance_id"], accepted.acceptance_id.as_str());
    assert_eq!(funded["amount_minor"], 1_000_000);
    router.stop().await.unwrap();
}
