//! Webhook delivery across a SIGKILL: the `finroute` binary on a SQLite
//! file, and on PostgreSQL when `FINROUTE_TEST_DATABASE_URL` is set,
//! pushes three events (two acceptances, an appeal decided) to a receiver
//! that fails its first 3 deliveries and then answers slowly; the router is
//! SIGKILLed while a delivery is in flight and restarted on the same store.
//! Every event arrives, once after dedup by event id, in order per
//! application, with valid signatures (docs/webhooks.md).

#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::RouterProcess;
use finroute_proto::v1 as pb;
use finroute_testkit::webhook::WebhookReceiver;
use finroute_testkit::{
    AcceptMode, Behaviour, FakePartner, PgSchema, partner_offer, refused_borrower,
};
use pb::financing_router_client::FinancingRouterClient;
use pb::review_service_client::ReviewServiceClient;
use tonic::transport::Channel;

const SECRET: &str = "whsec-sigkill-0123456789";

fn write_config(
    dir: &Path,
    store_url: &str,
    partner: &FakePartner,
    receiver: &WebhookReceiver,
) -> PathBuf {
    let text = format!(
        r#"
[server]
metrics_listen = "127.0.0.1:0"

[store]
url = "{store_url}"

[acceptance]
partner_timeout_ms = 1000
poll_interval_ms = 100

[review]
four_eyes = false

[events]
poll_interval_ms = 50

[[webhooks]]
tenant = "default"
url = "{url}"
secret = "{SECRET}"
timeout_ms = 2000
backoff_initial_ms = 20
backoff_max_ms = 200

[[adapters]]
id = "bank-a"
kind = "remote"
endpoint = "http://{partner}"
timeout_ms = 1000
"#,
        url = receiver.url(),
        partner = partner.addr,
    );
    let path = dir.join("finroute.toml");
    std::fs::write(&path, text).unwrap();
    path
}

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_arrives_once_in_order_across_a_sigkill_mid_delivery_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("finroute.db").display());
    across_a_sigkill(dir.path(), &url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_arrives_once_in_order_across_a_sigkill_mid_delivery_postgres() {
    let Some(pg) = PgSchema::create().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    across_a_sigkill(dir.path(), &pg.url).await;
    pg.drop_schema().await;
}

async fn across_a_sigkill(dir: &Path, store_url: &str) {
    let partner = FakePartner::start_with(
        Behaviour::Offers(vec![partner_offer("P-1", 1_000_000, 1100, 0.7)]),
        vec![],
        AcceptMode::Book,
    )
    .await;
    let receiver = WebhookReceiver::start(SECRET, 3).await;
    // Slow acknowledgements: a kill lands while one is in flight.
    receiver.set_delay(Duration::from_millis(700));
    let config = write_config(dir, store_url, &partner, &receiver);

    let router = RouterProcess::start(&config);
    let mut client = router.client().await;
    let first = route_and_accept(&mut client, "key-1").await;
    let appeal = client
        .file_appeal(pb::FileAppealRequest {
            application_id: first.clone(),
            adapter_id: "bank-a".into(),
            reason: pb::AppealReason::IncomeChanged as i32,
            details: "my income rose in March".into(),
            idempotency_key: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let channel = Channel::from_shared(format!("http://{}", router.addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    ReviewServiceClient::new(channel)
        .resolve_appeal(pb::ResolveAppealRequest {
            appeal_id: appeal.appeal_id.clone(),
            decision: pb::AppealDecision::Upheld as i32,
            note: "checked".into(),
            reason_code: pb::DecisionReason::Other as i32,
        })
        .await
        .unwrap();
    let second = route_and_accept(&mut client, "key-2").await;

    // 3 refused, then the 4th request (the first that is held) or later.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while receiver.received() < 4 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{:?}",
            receiver.log()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // A delivery is in flight (received, not answered): kill now.
    assert!(
        receiver.received() > receiver.log().len(),
        "{:?}",
        receiver.log()
    );
    router.kill();
    let acknowledged_before = receiver.events().len();
    assert!(acknowledged_before < 3, "{:?}", receiver.log());

    let restarted = RouterProcess::start(&config);
    let events = receiver.wait_for(3, Duration::from_secs(30)).await;
    receiver.check_order_and_signatures();
    assert_eq!(events.len(), 3, "{events:?}");
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
    restarted.kill();
}
