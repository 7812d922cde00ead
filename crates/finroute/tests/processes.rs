//! The `finroute` binary as operators run it: separate router processes,
//! killed with SIGKILL mid-acceptance and restarted on the same database,
//! or two replicas sharing one PostgreSQL database. The partner is a fake
//! gRPC server in this test process, idempotent on the key, counting every
//! call and every booking.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::time::Duration;

use common::RouterProcess;
use finroute_proto::v1 as pb;
use finroute_testkit::{
    AcceptMode, Behaviour, FakePartner, PgSchema, partner_offer, refused_borrower,
};
use pb::financing_router_client::FinancingRouterClient;
use tonic::transport::Channel;

fn write_config(dir: &Path, store_url: &str, partner: &FakePartner) -> std::path::PathBuf {
    let text = format!(
        r#"
[server]
metrics_listen = "127.0.0.1:0"

[store]
url = "{store_url}"

[acceptance]
partner_timeout_ms = 2000
poll_interval_ms = 100

[[adapters]]
id = "bank-a"
kind = "remote"
endpoint = "http://{}"
timeout_ms = 500
"#,
        partner.addr
    );
    let path = dir.join("finroute.toml");
    std::fs::write(&path, text).unwrap();
    path
}

async fn route(client: &mut FinancingRouterClient<Channel>) -> (String, pb::Offer) {
    let r = client
        .route_financing(refused_borrower())
        .await
        .unwrap()
        .into_inner();
    let offer = r
        .offers
        .iter()
        .find(|o| o.adapter_id == "bank-a")
        .unwrap_or_else(|| panic!("no bank-a offer: {:?}", r.channel_reports))
        .clone();
    (r.application_id, offer)
}

fn accept(offer: &pb::Offer, key: &str, timeout_ms: u64) -> tonic::Request<pb::AcceptOfferRequest> {
    let mut r = tonic::Request::new(pb::AcceptOfferRequest {
        offer_id: offer.offer_id.clone(),
        idempotency_key: key.into(),
        applicant_id: "app-7f3a9c".into(),
    });
    r.set_timeout(Duration::from_millis(timeout_ms));
    r
}

/// Route, start an acceptance at a partner that takes 1.5 s, SIGKILL the
/// router while the partner call is in flight, restart on the same
/// database, retry: ACCEPTED, one booking at the partner, visible in
/// GetApplication.
async fn killed_mid_accept(store_url: &str, dir: &Path) {
    let partner = FakePartner::start_with(
        Behaviour::Offers(vec![partner_offer("P-1", 1_000_000, 1100, 0.7)]),
        vec![],
        AcceptMode::Delay(Duration::from_millis(1_500)),
    )
    .await;
    let config = write_config(dir, store_url, &partner);

    let first = RouterProcess::start(&config);
    let mut client = first.client().await;
    let (application_id, offer) = route(&mut client).await;
    let mut c = client.clone();
    let req = accept(&offer, "tap-crash", 5_000);
    let call = tokio::spawn(async move { c.accept_offer(req).await });
    // Wait until the partner has the call, then kill the router mid-call.
    for _ in 0..200 {
        if !partner.accepts().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(partner.accepts().len(), 1, "the partner call is in flight");
    first.kill();
    assert!(call.await.unwrap().is_err(), "the caller lost its router");

    let second = RouterProcess::start(&config);
    let mut client = second.client().await;
    let answer = client
        .accept_offer(accept(&offer, "tap-crash", 10_000))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        answer.status,
        pb::AcceptanceStatus::Accepted as i32,
        "{answer:?}"
    );
    let booked = partner.booked();
    assert_eq!(booked.len(), 1, "exactly one acceptance at the partner");
    assert_eq!(
        booked.get(&answer.acceptance_id),
        Some(&answer.partner_reference)
    );
    assert!(
        partner
            .accepts()
            .iter()
            .all(|a| a.idempotency_key == answer.acceptance_id),
        "every attempt carried the same key"
    );
    let app = client
        .get_application(pb::GetApplicationRequest {
            application_id,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(app.acceptances.len(), 1);
    assert_eq!(
        app.acceptances[0].status,
        pb::AcceptanceStatus::Accepted as i32
    );
    assert!(second.terminate().success(), "SIGTERM exits 0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_accept_then_restart_accepts_once_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("finroute.db").display());
    killed_mid_accept(&url, dir.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_accept_then_restart_accepts_once_on_postgres() {
    let Some(pg) = PgSchema::create().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    killed_mid_accept(&pg.url, dir.path()).await;
    pg.drop_schema().await;
}

/// Two router processes on one PostgreSQL database; 32 concurrent retries
/// of one tap, half to each: one partner call, 32 identical answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_router_processes_on_one_postgres_database_accept_once() {
    let Some(pg) = PgSchema::create().await else {
        return;
    };
    let partner = FakePartner::start_with(
        Behaviour::Offers(vec![partner_offer("P-1", 1_000_000, 1100, 0.7)]),
        vec![],
        AcceptMode::Delay(Duration::from_millis(100)),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &pg.url, &partner);
    let a = RouterProcess::start(&config);
    let b = RouterProcess::start(&config);
    let mut ca = a.client().await;
    let cb = b.client().await;
    let (_, offer) = route(&mut ca).await;

    let calls = (0..32).map(|i| {
        let mut c = if i % 2 == 0 { ca.clone() } else { cb.clone() };
        let req = accept(&offer, "tap-2", 5_000);
        tokio::spawn(async move { c.accept_offer(req).await })
    });
    let answers: Vec<pb::AcceptOfferResponse> = futures::future::join_all(calls)
        .await
        .into_iter()
        .map(|r| r.unwrap().unwrap().into_inner())
        .collect();
    assert_eq!(answers[0].status, pb::AcceptanceStatus::Accepted as i32);
    assert!(
        answers.iter().all(|x| x == &answers[0]),
        "32 identical answers"
    );
    assert_eq!(partner.accepts().len(), 1, "one partner call");
    assert_eq!(partner.booked().len(), 1);
    assert!(a.terminate().success());
    assert!(b.terminate().success());
    pg.drop_schema().await;
}
