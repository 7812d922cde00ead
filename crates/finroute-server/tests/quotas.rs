//! Volume agreements (`[[quotas]]`): a channel at its daily quota is not
//! called on the next request and is reported QUOTA_EXHAUSTED, naming the
//! limit; the usage shows in the metrics; a confirmed acceptance closes a
//! channel with an acceptance limit; and the counters are shared, so a
//! second replica on the same PostgreSQL database sees the quota used up.

#![allow(clippy::unwrap_used)]

use finroute_proto::v1 as pb;
use finroute_server::Config;
use finroute_server::config::QuotaConfig;
use finroute_testkit::{
    Behaviour, FakePartner, PgSchema, TestRouter, config_with, partner_offer, refused_borrower,
};

async fn partner() -> FakePartner {
    FakePartner::start(
        Behaviour::Offers(vec![partner_offer("P-1", 600_000, 1_100, 0.7)]),
        vec![],
    )
    .await
}

fn quota(adapter: &str) -> QuotaConfig {
    QuotaConfig {
        adapter: adapter.into(),
        quotes_per_day: None,
        quotes_per_month: None,
        acceptances_per_day: None,
        acceptances_per_month: None,
        lent_minor_per_day: None,
        lent_minor_per_month: None,
    }
}

fn config(p: &FakePartner, q: QuotaConfig) -> Config {
    let mut c = config_with(vec![p.spec("bank-a", 500)]);
    c.quotas = vec![q];
    c
}

/// Routes once; the bank-a report.
async fn route(router: &TestRouter) -> (pb::ChannelReport, Vec<pb::Offer>) {
    let r = router
        .client()
        .await
        .route_financing(refused_borrower())
        .await
        .unwrap()
        .into_inner();
    let report = r
        .channel_reports
        .iter()
        .find(|c| c.adapter_id == "bank-a")
        .unwrap()
        .clone();
    let offers = r
        .offers
        .into_iter()
        .filter(|o| o.adapter_id == "bank-a")
        .collect();
    (report, offers)
}

const EXHAUSTED: i32 = pb::ChannelStatus::QuotaExhausted as i32;

#[tokio::test]
async fn a_channel_at_its_daily_quota_is_not_called() {
    let p = partner().await;
    let mut q = quota("bank-a");
    q.quotes_per_day = Some(2);
    q.quotes_per_month = Some(100);
    let router = TestRouter::start(config(&p, q)).await;
    for _ in 0..2 {
        let (report, offers) = route(&router).await;
        assert_eq!(report.status, pb::ChannelStatus::Ok as i32, "{report:?}");
        assert_eq!(offers.len(), 1);
    }
    let (report, offers) = route(&router).await;
    assert_eq!(report.status, EXHAUSTED, "{report:?}");
    assert!(
        report.detail.contains("2 quotes per day"),
        "{}",
        report.detail
    );
    assert!(offers.is_empty());
    assert_eq!(
        p.quotes().len(),
        2,
        "the partner was not called a third time"
    );
    let m = router.scrape().await;
    assert!(
        m.contains("finroute_channel_quota_limit{channel=\"bank-a\",limit=\"quotes_per_day\"} 2"),
        "{m}"
    );
    assert!(
        m.contains("finroute_channel_quota_used{channel=\"bank-a\",limit=\"quotes_per_day\"} 2"),
        "{m}"
    );
    assert!(
        m.contains("finroute_channel_calls_total{channel=\"bank-a\",status=\"quota_exhausted\"} 1"),
        "{m}"
    );
    router.stop().await.unwrap();
}

#[tokio::test]
async fn a_confirmed_acceptance_uses_up_an_acceptance_quota() {
    let p = partner().await;
    let mut q = quota("bank-a");
    q.acceptances_per_day = Some(1);
    let router = TestRouter::start(config(&p, q)).await;
    let (_, offers) = route(&router).await;
    let offer = offers.first().unwrap();
    // The offer already shown is accepted, whatever the quota.
    let accepted = router
        .client()
        .await
        .accept_offer(pb::AcceptOfferRequest {
            offer_id: offer.offer_id.clone(),
            idempotency_key: "quota-accept-1".into(),
            applicant_id: refused_borrower().applicant.unwrap().applicant_id,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(accepted.status, pb::AcceptanceStatus::Accepted as i32);
    // The relay counts the acceptance just after storing it final, and
    // AcceptOffer may answer from the stored state in between: wait for
    // the count (docs/config.md, `[[quotas]]`).
    let used = "finroute_channel_quota_used{channel=\"bank-a\",limit=\"acceptances_per_day\"} 1";
    let started = tokio::time::Instant::now();
    while !router.scrape().await.contains(used) {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "the acceptance was not counted within 5 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let (report, _) = route(&router).await;
    assert_eq!(report.status, EXHAUSTED, "{report:?}");
    assert!(
        report.detail.contains("1 acceptances per day"),
        "{}",
        report.detail
    );
    assert_eq!(p.quotes().len(), 1);
    let m = router.scrape().await;
    assert!(
        m.contains(
            "finroute_channel_quota_used{channel=\"bank-a\",limit=\"acceptances_per_day\"} 1"
        ),
        "{m}"
    );
    router.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_share_the_quota_on_postgres() {
    let Some(pg) = PgSchema::create().await else {
        return;
    };
    let p = partner().await;
    let mut q = quota("bank-a");
    q.quotes_per_day = Some(3);
    let mut cfg = config(&p, q);
    cfg.store.url = pg.url.clone();
    let a = TestRouter::start(cfg.clone()).await;
    let b = TestRouter::start(cfg).await;
    for router in [&a, &a, &b] {
        assert_eq!(route(router).await.0.status, pb::ChannelStatus::Ok as i32);
    }
    // Replica b counted one, a two: the day's three are used up for both.
    for router in [&b, &a] {
        let (report, _) = route(router).await;
        assert_eq!(report.status, EXHAUSTED, "{report:?}");
    }
    assert_eq!(p.quotes().len(), 3);
    drop((a, b));
    pg.drop_schema().await;
}
