//! Late offers (issue 19, item 1), end to end: a real router on
//! 127.0.0.1:0 and fake partners on loopback. A partner still working at
//! the caller's deadline goes on for its late window; its offer joins the
//! application (GetApplication `late_offers`) and is acceptable, while the
//! reply was on time and said the channel was pending. A shutdown stops
//! the late work at once and keeps what had arrived.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use tokio::time::Instant;

use finroute_proto::v1 as pb;
use finroute_server::Config;
use finroute_testkit::{
    Behaviour, FakePartner, TestRouter, config_with, partner_offer, refused_borrower, report_of,
};

/// A partner answering with one offer after `delay`.
async fn slow(delay: Duration, reference: &str) -> FakePartner {
    let offer = partner_offer(reference, 1_000_000, 1_300, 0.6);
    FakePartner::start(Behaviour::Slow(delay, vec![offer]), vec![]).await
}

/// RouteFinancing with a caller deadline of `deadline`.
async fn route(router: &TestRouter, deadline: Duration) -> pb::RouteFinancingResponse {
    let mut request = tonic::Request::new(refused_borrower());
    request.set_timeout(deadline);
    let mut client = router.client().await;
    client.route_financing(request).await.unwrap().into_inner()
}

async fn application(router: &TestRouter, id: &str) -> pb::Application {
    let mut client = router.client().await;
    client
        .get_application(pb::GetApplicationRequest {
            application_id: id.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
}

/// GetApplication until it shows `n` late offers (at most 5 s).
async fn late_offers(router: &TestRouter, id: &str, n: usize) -> pb::Application {
    let until = Instant::now() + Duration::from_secs(5);
    loop {
        let app = application(router, id).await;
        if app.late_offers.len() >= n || Instant::now() > until {
            return app;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_partner_answering_after_the_deadline_leaves_an_acceptable_late_offer() {
    let late = slow(Duration::from_millis(1_000), "LATE-1").await;
    let fast = slow(Duration::ZERO, "FAST-1").await;
    // The partner's own timeout (2 s) allows the answer; the caller's
    // deadline (300 ms) does not.
    let router = TestRouter::start(config_with(vec![
        late.spec("bank-late", 2_000),
        fast.spec("bank-fast", 2_000),
    ]))
    .await;

    let started = Instant::now();
    let r = route(&router, Duration::from_millis(300)).await;
    let took = started.elapsed();
    assert!(took < Duration::from_millis(700), "the reply took {took:?}");
    assert!(r.partial);
    let pending = report_of(&r, "bank-late");
    assert_eq!(pending.status, pb::ChannelStatus::Timeout as i32);
    assert!(pending.late_pending, "{pending:?}");
    assert!(pending.detail.contains("late offers"), "{}", pending.detail);
    let answered = report_of(&r, "bank-fast");
    assert!(!answered.late_pending);
    assert!(r.offers.iter().all(|o| o.adapter_id == "bank-fast"));
    // The late partner was given its whole budget: its own 2 s timeout
    // (the late window would have allowed more), not the caller's 300 ms.
    let budget = late.quote_timeouts()[0].unwrap();
    assert!(budget > Duration::from_millis(1_500), "{budget:?}");

    let app = late_offers(&router, &r.application_id, 1).await;
    assert_eq!(app.late_offers.len(), 1, "{:?}", app.late_offers);
    let l = &app.late_offers[0];
    let offer = l.offer.as_ref().unwrap();
    assert_eq!(offer.adapter_id, "bank-late");
    assert_eq!(offer.partner_offer_ref, "LATE-1");
    assert!(offer.apr_bps > 0, "priced like any offer");
    let arrived = l.arrived_at.as_ref().unwrap();
    let created = app.created_at.as_ref().unwrap();
    let after_ms = (arrived.seconds - created.seconds) * 1_000
        + i64::from(arrived.nanos - created.nanos) / 1_000_000;
    assert!(
        (700..3_000).contains(&after_ms),
        "arrived {after_ms} ms after the application"
    );
    // The reply's offers are unchanged.
    assert_eq!(app.offers, r.offers);

    // Key facts and acceptance work on it as on any offer.
    let mut client = router.client().await;
    let facts = client
        .get_key_facts(pb::GetKeyFactsRequest {
            offer_id: offer.offer_id.clone(),
            locale: "en".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(facts.text.contains(&offer.offer_id), "{}", facts.text);
    let accepted = client
        .accept_offer(pb::AcceptOfferRequest {
            offer_id: offer.offer_id.clone(),
            idempotency_key: "late-accept-1".into(),
            applicant_id: refused_borrower().applicant.unwrap().applicant_id,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(accepted.status, pb::AcceptanceStatus::Accepted as i32);
    assert_eq!(late.accepts().len(), 1);

    let metrics = router.scrape().await;
    assert!(
        metrics.contains("finroute_late_calls_total{result=\"offers\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("finroute_late_offers_total 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn without_a_late_window_the_call_is_cut_at_the_reply() {
    let late = slow(Duration::from_millis(600), "LATE-1").await;
    let mut spec = late.spec("bank-late", 2_000);
    spec.late_window_ms = 0;
    let router = TestRouter::start(config_with(vec![spec])).await;
    let r = route(&router, Duration::from_millis(300)).await;
    let report = report_of(&r, "bank-late");
    assert_eq!(report.status, pb::ChannelStatus::Timeout as i32);
    assert!(!report.late_pending);
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert!(
        application(&router, &r.application_id)
            .await
            .late_offers
            .is_empty()
    );

    // routing.max_late_calls = 0 turns late work off router-wide.
    let mut config = config_with(vec![late.spec("bank-late", 2_000)]);
    config.routing.max_late_calls = 0;
    let router = TestRouter::start(config).await;
    let r = route(&router, Duration::from_millis(300)).await;
    assert!(!report_of(&r, "bank-late").late_pending);
}

#[tokio::test]
async fn a_shutdown_stops_late_work_and_keeps_what_had_arrived() {
    let early = slow(Duration::from_millis(500), "EARLY-LATE").await;
    let hung = FakePartner::start(Behaviour::Hung, vec![]).await;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("late.db").display());
    let config = || Config {
        store: finroute_server::config::StoreConfig { url: url.clone() },
        ..config_with(vec![
            early.spec("bank-early", 5_000),
            hung.spec("bank-hung", 5_000),
        ])
    };
    let router = TestRouter::start(config()).await;
    let r = route(&router, Duration::from_millis(300)).await;
    assert!(report_of(&r, "bank-early").late_pending);
    assert!(report_of(&r, "bank-hung").late_pending);
    let app = late_offers(&router, &r.application_id, 1).await;
    assert_eq!(app.late_offers.len(), 1);

    // bank-hung would be kept 3 s more (its late window): the shutdown
    // does not wait for it.
    let stopping = Instant::now();
    router.stop().await.unwrap();
    assert!(
        stopping.elapsed() < Duration::from_secs(2),
        "stop took {:?}",
        stopping.elapsed()
    );

    let router = TestRouter::start(config()).await;
    let app = application(&router, &r.application_id).await;
    let refs: Vec<&str> = (app.late_offers.iter())
        .map(|l| l.offer.as_ref().unwrap().partner_offer_ref.as_str())
        .collect();
    assert_eq!(refs, ["EARLY-LATE"]);
}

/// StreamOffers with a partner still working at the deadline: the stream
/// ends with the final response on time (late work holds no stream open),
/// and the late offer still joins the application.
#[tokio::test]
async fn stream_offers_ends_on_time_while_a_partner_is_late() {
    use tokio_stream::StreamExt;
    let late = slow(Duration::from_millis(1_000), "LATE-1").await;
    let router = TestRouter::start(config_with(vec![late.spec("bank-late", 2_000)])).await;
    let mut request = tonic::Request::new(refused_borrower());
    request.set_timeout(Duration::from_millis(300));
    let started = Instant::now();
    let mut client = router.client().await;
    let mut stream = client.stream_offers(request).await.unwrap().into_inner();
    let mut last = None;
    while let Some(event) = stream.next().await {
        last = event.unwrap().event;
    }
    let took = started.elapsed();
    assert!(
        took < Duration::from_millis(700),
        "the stream took {took:?}"
    );
    let Some(pb::route_event::Event::FinalResponse(r)) = last else {
        panic!("no final response: {last:?}");
    };
    assert!(report_of(&r, "bank-late").late_pending);
    let app = late_offers(&router, &r.application_id, 1).await;
    assert_eq!(app.late_offers.len(), 1);
}
