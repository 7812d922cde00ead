//! Fault matrix (b): the store goes away and comes back. A real router on
//! 127.0.0.1:0 whose PostgreSQL (`FINROUTE_TEST_DATABASE_URL`; skipped when
//! unset) is reached through a [`CuttableProxy`]; the test cuts it under
//! load (every connection closed, new ones refused) and restores it.
//!
//! While it is down routes fail fast with UNAVAILABLE / `STORE_UNAVAILABLE`
//! and health reports NOT_SERVING; nothing accepted before the cut is lost
//! (PENDING acceptances are finished by the relay after the restore, with
//! one booking per key at the partner); the router recovers by itself.

#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use finroute_proto::v1 as pb;
use finroute_testkit::{
    AcceptMode, Behaviour, CuttableProxy, FakePartner, PgSchema, TestRouter, config_with,
    partner_offer, refused_borrower, with_timeout,
};
use pb::financing_router_client::FinancingRouterClient;
use tokio::time::Instant;
use tonic::Code;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;
use tonic_types::StatusExt;

/// One routing call of the load: when it started (since the test began),
/// how long it took, and how it ended.
#[derive(Debug, Clone)]
struct Call {
    started: Duration,
    took: Duration,
    outcome: Result<String, (Code, String)>,
}

fn reason(s: &tonic::Status) -> String {
    s.get_error_details()
        .error_info()
        .map(|i| i.reason.clone())
        .unwrap_or_default()
}

async fn serving(health: &mut HealthClient<Channel>, service: &str) -> bool {
    health
        .check(HealthCheckRequest {
            service: service.into(),
        })
        .await
        .map(|r| r.into_inner().status == 1)
        .unwrap_or(false)
}

/// Polls health every 10 ms until it reports `want` for every name;
/// returns how long that took.
async fn wait_health(health: &mut HealthClient<Channel>, want: bool, limit: Duration) -> Duration {
    let started = Instant::now();
    loop {
        let mut all = true;
        for name in [
            "",
            "finroute.v1.FinancingRouter",
            "finroute.v1.ReviewService",
        ] {
            all &= serving(health, name).await == want;
        }
        if all {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < limit,
            "health did not become {} within {limit:?}",
            if want { "SERVING" } else { "NOT_SERVING" }
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn accept_req(offer: &pb::Offer, key: &str) -> pb::AcceptOfferRequest {
    pb::AcceptOfferRequest {
        offer_id: offer.offer_id.clone(),
        idempotency_key: key.into(),
        applicant_id: "app-7f3a9c".into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_goes_away_and_comes_back() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let Some(schema) = PgSchema::create().await else {
        return;
    };
    let proxy = CuttableProxy::start(schema.server_addr()).await;
    let offers = Behaviour::Offers(vec![partner_offer("P-1", 1_000_000, 1100, 0.7)]);
    let fast = FakePartner::start_with(offers.clone(), vec![], AcceptMode::Book).await;
    // Slow to book: its acceptances are PENDING when the cut comes, and
    // booked at the partner while the store is away.
    let slow = FakePartner::start_with(
        offers,
        vec![],
        AcceptMode::Delay(Duration::from_millis(1_500)),
    )
    .await;
    let mut config = config_with(vec![
        fast.spec("bank-fast", 500),
        slow.spec("bank-slow", 500),
    ]);
    config.store.url = schema.url_via(proxy.addr());
    config.acceptance.partner_timeout_ms = 3_000;
    config.acceptance.poll_interval_ms = 50;
    let router = TestRouter::start(config).await;
    let mut client = router.client().await;
    let mut health = HealthClient::new(router.channel().await);

    // Before the cut: applications, one ACCEPTED and one PENDING acceptance
    // on each.
    let mut accepted = Vec::new();
    let mut pending = Vec::new();
    let mut first_application = String::new();
    for i in 0..6 {
        let r = client
            .route_financing(refused_borrower())
            .await
            .unwrap()
            .into_inner();
        let offer_of = |id: &str| {
            r.offers
                .iter()
                .find(|o| o.adapter_id == id)
                .unwrap_or_else(|| panic!("no {id} offer: {:?}", r.channel_reports))
                .clone()
        };
        let (fast_offer, slow_offer) = (offer_of("bank-fast"), offer_of("bank-slow"));
        first_application.clone_from(&r.application_id);
        let key = format!("fast-{i}");
        let a = client
            .accept_offer(with_timeout(accept_req(&fast_offer, &key), 3_000))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(a.status, pb::AcceptanceStatus::Accepted as i32, "{a:?}");
        accepted.push((fast_offer, key, a));
        let key = format!("slow-{i}");
        let p = client
            .accept_offer(with_timeout(accept_req(&slow_offer, &key), 100))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(p.status, pb::AcceptanceStatus::Pending as i32, "{p:?}");
        pending.push((slow_offer, key, p));
    }

    // Load: four callers routing back to back until told to stop.
    let epoch = Instant::now();
    let calls: Arc<Mutex<Vec<Call>>> = Arc::default();
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let mut load = Vec::new();
    for _ in 0..4 {
        let mut c: FinancingRouterClient<Channel> = client.clone();
        let calls = calls.clone();
        let mut stop = stop.clone();
        load.push(tokio::spawn(async move {
            loop {
                let started = Instant::now();
                let call = c.route_financing(with_timeout(refused_borrower(), 5_000));
                let result = tokio::select! {
                    r = call => r,
                    _ = stop.wait_for(|s| *s) => return,
                };
                let outcome = match result {
                    Ok(r) => Ok(r.into_inner().application_id),
                    Err(s) => Err((s.code(), reason(&s))),
                };
                calls.lock().unwrap().push(Call {
                    started: started - epoch,
                    took: started.elapsed(),
                    outcome,
                });
                tokio::time::sleep(Duration::from_millis(5)).await;
                if *stop.borrow() {
                    return;
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    // Cut.
    let cut_at = epoch.elapsed();
    proxy.cut();
    let detected = wait_health(&mut health, false, Duration::from_secs(3)).await;
    let detected_at = cut_at + detected;
    // Other methods are refused at once too.
    let t = Instant::now();
    let s = client
        .get_application(pb::GetApplicationRequest {
            application_id: first_application.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    let get_took = t.elapsed();
    assert_eq!(s.code(), Code::Unavailable, "{s:?}");
    assert_eq!(reason(&s), "STORE_UNAVAILABLE");
    // Not a multiple of the watcher's 500 ms: the restore does not fall
    // just after one of its pings.
    tokio::time::sleep(Duration::from_millis(2_750)).await;

    // Restore.
    let restored_at = epoch.elapsed();
    proxy.restore().await;
    let recovered = wait_health(&mut health, true, Duration::from_secs(5)).await;
    let serving_at = restored_at + recovered;
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    stop_tx.send_replace(true);
    for task in load {
        task.await.unwrap();
    }
    let calls = calls.lock().unwrap().clone();
    eprintln!(
        "cut {cut_at:?} detected {detected_at:?} restored {restored_at:?} serving {serving_at:?}"
    );
    for c in &calls {
        if c.started + c.took >= cut_at && c.started < serving_at + Duration::from_millis(100) {
            eprintln!("{c:?}");
        }
    }

    // Before the cut: every call succeeded.
    let before: Vec<&Call> = calls
        .iter()
        .filter(|c| c.started + c.took < cut_at)
        .collect();
    assert!(!before.is_empty());
    assert!(before.iter().all(|c| c.outcome.is_ok()), "{before:?}");

    // In the window between the cut and its detection: calls fail (or, if
    // their commit beat the cut, succeed), never hang past the pool's
    // acquire timeout, and a failure is always UNAVAILABLE.
    let window: Vec<&Call> = calls
        .iter()
        .filter(|c| c.started + c.took >= cut_at && c.started < detected_at)
        .collect();
    for c in &window {
        if let Err((code, why)) = &c.outcome {
            assert_eq!(*code, Code::Unavailable, "{c:?}");
            assert_eq!(why, "STORE_UNAVAILABLE", "{c:?}");
        }
        assert!(c.took < Duration::from_millis(2_600), "{c:?}");
    }
    let window_max = window.iter().map(|c| c.took).max().unwrap_or_default();

    // Down and detected: every call refused at once.
    let down: Vec<&Call> = calls
        .iter()
        .filter(|c| c.started >= detected_at && c.started + c.took < restored_at)
        .collect();
    assert!(down.len() > 20, "the load kept calling: {}", down.len());
    for c in &down {
        assert!(
            matches!(&c.outcome, Err((Code::Unavailable, why)) if why == "STORE_UNAVAILABLE"),
            "{c:?}"
        );
    }
    let mut down_took: Vec<Duration> = down.iter().map(|c| c.took).collect();
    down_took.sort();
    let down_p50 = down_took[down_took.len() / 2];
    let down_max = *down_took.last().unwrap();
    assert!(
        down_max < Duration::from_millis(100),
        "fail fast: {down_max:?}"
    );

    // Back: every call started after SERVING succeeds.
    let after: Vec<&Call> = calls.iter().filter(|c| c.started >= serving_at).collect();
    assert!(!after.is_empty());
    assert!(after.iter().all(|c| c.outcome.is_ok()), "{after:?}");
    let first_ok_after = calls
        .iter()
        .filter(|c| c.started >= restored_at && c.outcome.is_ok())
        .map(|c| c.started + c.took)
        .min()
        .unwrap();

    eprintln!(
        "store outage: cut at {cut_at:?}; NOT_SERVING after {detected:?}; calls in the \
         detection window: {} (slowest {window_max:?}); refused while down: {} (p50 \
         {down_p50:?}, max {down_max:?}); GetApplication refused in {get_took:?}; SERVING \
         {recovered:?} after the restore, first routed call {:?} after it; {} calls before, \
         {} after",
        window.len(),
        down.len(),
        first_ok_after - restored_at,
        before.len(),
        after.len(),
    );
    assert!(detected < Duration::from_millis(1_500), "{detected:?}");
    assert!(recovered < Duration::from_secs(2), "{recovered:?}");

    // Nothing answered OK is lost.
    for c in calls.iter().filter(|c| c.outcome.is_ok()) {
        let id = c.outcome.clone().unwrap();
        client
            .get_application(pb::GetApplicationRequest {
                application_id: id,
                ..Default::default()
            })
            .await
            .unwrap_or_else(|s| panic!("{c:?} answered OK but is not found: {s:?}"));
    }
    // ACCEPTED stays ACCEPTED, the same acceptance.
    for (offer, key, a) in &accepted {
        let again = client
            .accept_offer(with_timeout(accept_req(offer, key), 3_000))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(again.acceptance_id, a.acceptance_id);
        assert_eq!(again.status, pb::AcceptanceStatus::Accepted as i32);
        assert_eq!(again.partner_reference, a.partner_reference);
    }
    // PENDING is finished by the relay: ACCEPTED, the same acceptance.
    let finish_started = Instant::now();
    for (offer, key, p) in &pending {
        let mut last = None;
        for _ in 0..40 {
            let r = client
                .accept_offer(with_timeout(accept_req(offer, key), 3_000))
                .await
                .unwrap()
                .into_inner();
            assert_eq!(r.acceptance_id, p.acceptance_id);
            let done = r.status == pb::AcceptanceStatus::Accepted as i32;
            last = Some(r);
            if done {
                break;
            }
        }
        let last = last.unwrap();
        assert_eq!(
            last.status,
            pb::AcceptanceStatus::Accepted as i32,
            "{key} never finished: {last:?}"
        );
    }
    eprintln!(
        "store outage: the {} PENDING acceptances were final {:?} after the checks began",
        pending.len(),
        finish_started.elapsed()
    );
    // One booking per acceptance at each partner, whatever the retries.
    assert_eq!(fast.booked().len(), accepted.len());
    assert_eq!(slow.booked().len(), pending.len());

    router.stop().await.unwrap();
    schema.drop_schema().await;
}
