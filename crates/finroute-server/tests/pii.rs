//! Personal data never reaches a log line: a full run (route with a remote
//! partner, stream, accept, appeal, invalid and unauthenticated calls) with
//! every log of every crate captured at TRACE, then searched for the
//! request's personal values and the api key. In a test binary of its own:
//! it installs the process-wide subscriber.

#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::sync::{Arc, Mutex};

use finroute_proto::v1 as pb;
use finroute_server::config::ApiKeyConfig;
use finroute_testkit::{
    Behaviour, FakePartner, TestRouter, cny, config_with, partner_offer, refused_borrower,
};
use sha2::{Digest, Sha256};
use tokio_stream::StreamExt;

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

const KEY: &str = "fr_live_9f8e7d6c5b4a39281706";

fn with_key<T>(msg: T) -> tonic::Request<T> {
    let mut r = tonic::Request::new(msg);
    r.metadata_mut()
        .insert("authorization", format!("Bearer {KEY}").parse().unwrap());
    r
}

#[tokio::test]
async fn no_personal_value_or_key_reaches_the_logs_even_at_trace() {
    let capture = Capture::default();
    let writer = capture.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();

    // Distinctive personal values, so a hit cannot be a coincidence.
    let mut req = refused_borrower();
    let applicant = req.applicant.as_mut().unwrap();
    applicant.monthly_income = Some(cny(2_345_678));
    applicant.monthly_debt_payments = Some(cny(456_789));
    applicant.credit_score = Some(617);
    applicant.collateral[0].appraised_value = Some(cny(9_876_543));
    applicant.region = "CN-31".into();
    let details = "my employer Zhangjiang Widgets raised my pay";

    let partner = FakePartner::start(
        Behaviour::Offers(vec![partner_offer("P-1", 1_000_000, 1100, 0.7)]),
        vec![
            pb::ApplicantField::MonthlyIncome,
            pb::ApplicantField::CreditScore,
            pb::ApplicantField::Collateral,
        ],
    )
    .await;
    let mut config = config_with(vec![partner.spec("bank-a", 500)]);
    config.auth.keys = vec![ApiKeyConfig {
        id: "mobile".into(),
        sha256: hex::encode(Sha256::digest(KEY.as_bytes())),
        tenant: "platform-a".into(),
        roles: vec!["router".into(), "operator".into()],
        rate_per_second: None,
        burst: None,
        adapter_id: None,
    }];
    let router = TestRouter::start(config).await;
    let mut client = router.client().await;

    let r = client
        .route_financing(with_key(req.clone()))
        .await
        .unwrap()
        .into_inner();
    let mut stream = client
        .stream_offers(with_key(req.clone()))
        .await
        .unwrap()
        .into_inner();
    while let Some(e) = stream.next().await {
        e.unwrap();
    }
    let offer = r.offers.iter().find(|o| o.adapter_id == "bank-a").unwrap();
    client
        .accept_offer(with_key(pb::AcceptOfferRequest {
            offer_id: offer.offer_id.clone(),
            idempotency_key: "tap".into(),
            applicant_id: "app-7f3a9c".into(),
        }))
        .await
        .unwrap();
    client
        .file_appeal(with_key(pb::FileAppealRequest {
            application_id: r.application_id.clone(),
            adapter_id: String::new(),
            reason: pb::AppealReason::IncomeChanged as i32,
            details: details.into(),
            idempotency_key: String::new(),
        }))
        .await
        .unwrap();
    // Failures log too: an invalid request and a wrong key.
    let mut bad = req.clone();
    bad.requested_amount = Some(cny(-5));
    client.route_financing(with_key(bad)).await.unwrap_err();
    // A region with street detail is refused (regions are ISO 3166-2), and
    // the refusal does not log the value either.
    let mut detailed = req.clone();
    detailed.applicant.as_mut().unwrap().region = "CN-31-PUDONG-77".into();
    let refused = client
        .route_financing(with_key(detailed))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    assert!(!refused.message().contains("PUDONG"));
    let mut wrong = tonic::Request::new(req);
    wrong
        .metadata_mut()
        .insert("authorization", "Bearer not-the-key".parse().unwrap());
    client.route_financing(wrong).await.unwrap_err();
    router.stop().await.unwrap();

    let logs = String::from_utf8_lossy(&capture.0.lock().unwrap()).into_owned();
    assert!(
        logs.len() > 10_000,
        "the capture works: {} bytes",
        logs.len()
    );
    assert!(logs.contains("application routed"));
    for secret in [
        "2345678",
        "23456.78",
        "456789",
        "4567.89",
        "9876543",
        "98765.43",
        "617",
        "PUDONG",
        "Zhangjiang",
        KEY,
        &hex::encode(Sha256::digest(KEY.as_bytes())),
        "not-the-key",
    ] {
        // Numbers match as whole numbers (h2's window sizes contain "617").
        let numeric = secret.chars().all(|c| c.is_ascii_digit() || c == '.');
        let hits: Vec<&str> = logs
            .lines()
            .filter(|l| {
                if numeric {
                    l.split(|c: char| !c.is_ascii_digit() && c != '.')
                        .any(|t| t == secret)
                } else {
                    l.contains(secret)
                }
            })
            .take(3)
            .collect();
        assert!(hits.is_empty(), "{secret:?} in the logs: {hits:#?}");
    }
}
