//! Fault injection: partners that hang, fail, fail half the time, reset
//! connections, answer garbage or never answer, under a caller deadline;
//! the circuit breaker, the retry budget, load shedding and a graceful
//! shutdown with calls in flight. A real router on 127.0.0.1:0, real gRPC.

#![allow(clippy::unwrap_used)]

use std::time::Duration;
use tokio::time::Instant;

use finroute_proto::v1 as pb;
use finroute_server::Config;
use finroute_testkit::{
    Behaviour, FakePartner, PortMisbehaviour, TestRouter, builtin_specs, config_with,
    misbehaving_port, partner_offer, refused_borrower, remote_spec, report_of, status_of,
    with_timeout,
};
use tonic::Code;

fn good_offers() -> Vec<pb::PartnerOffer> {
    vec![partner_offer("G-1", 1_000_000, 1100, 0.8)]
}

#[tokio::test]
async fn with_every_partner_hung_the_built_in_offers_still_arrive() {
    let hung_a = FakePartner::start(Behaviour::Hung, vec![]).await;
    let hung_b = FakePartner::start(Behaviour::Hung, vec![]).await;
    let mut specs = builtin_specs();
    specs.retain(|s| s.id != "partner-sim");
    specs.push(hung_a.spec("hung-a", 5_000));
    specs.push(hung_b.spec("hung-b", 5_000));
    let router = TestRouter::start(config_with(specs)).await;
    let mut client = router.client().await;
    let t = Instant::now();
    let r = client
        .route_financing(with_timeout(refused_borrower(), 400))
        .await
        .unwrap()
        .into_inner();
    assert!(
        t.elapsed() < Duration::from_millis(420),
        "{:?}",
        t.elapsed()
    );
    assert!(r.partial);
    assert!(!r.offers.is_empty());
    assert!(r.offers.iter().all(|o| !o.adapter_id.starts_with("hung")));
    assert_eq!(status_of(&r, "hung-a"), pb::ChannelStatus::Timeout);
    assert_eq!(status_of(&r, "hung-b"), pb::ChannelStatus::Timeout);
}

/// No grpc-timeout from the caller: `routing.deadline_ms` bounds the call,
/// and each partner is sent a grpc-timeout within it (no late window here:
/// with one, the partner's budget runs on into it, tests/late_offers.rs).
#[tokio::test]
async fn without_a_caller_deadline_the_configured_one_applies_and_is_propagated() {
    let hung = FakePartner::start(Behaviour::Hung, vec![]).await;
    let good = FakePartner::start(Behaviour::Offers(good_offers()), vec![]).await;
    let no_late = |mut spec: finroute_adapters::spec::AdapterSpec| {
        spec.late_window_ms = 0;
        spec
    };
    let mut config = config_with(vec![
        no_late(hung.spec("hung", 5_000)),
        no_late(good.spec("good", 5_000)),
    ]);
    config.routing.deadline_ms = 300;
    let router = TestRouter::start(config).await;
    let mut client = router.client().await;
    let t = Instant::now();
    let r = client
        .route_financing(refused_borrower())
        .await
        .unwrap()
        .into_inner();
    let took = t.elapsed();
    assert!(took < Duration::from_millis(320), "{took:?}");
    assert!(took >= Duration::from_millis(250), "{took:?}");
    assert_eq!(status_of(&r, "hung"), pb::ChannelStatus::Timeout);
    for t in good
        .quote_timeouts()
        .into_iter()
        .chain(hung.quote_timeouts())
    {
        let t = t.expect("every partner call carries grpc-timeout");
        assert!(t <= Duration::from_millis(300 - 30), "{t:?}");
    }
}

#[tokio::test]
async fn the_callers_deadline_minus_the_margin_reaches_every_partner() {
    let good = FakePartner::start(Behaviour::Offers(good_offers()), vec![]).await;
    let mut spec = good.spec("good", 5_000);
    spec.late_window_ms = 0;
    let router = TestRouter::start(config_with(vec![spec])).await;
    let mut client = router.client().await;
    client
        .route_financing(with_timeout(refused_borrower(), 600))
        .await
        .unwrap();
    let sent = good.quote_timeouts();
    assert_eq!(sent.len(), 1);
    let t = sent[0].unwrap();
    assert!(
        t <= Duration::from_millis(570) && t >= Duration::from_millis(450),
        "{t:?}"
    );
}

/// A 5 ms deadline: a fast answer or DEADLINE_EXCEEDED, never a hang.
#[tokio::test]
async fn a_tiny_deadline_gets_a_fast_answer_never_a_hang() {
    let hung = FakePartner::start(Behaviour::Hung, vec![]).await;
    let mut specs = builtin_specs();
    specs.push(hung.spec("hung", 5_000));
    let router = TestRouter::start(config_with(specs)).await;
    let mut client = router.client().await;
    for _ in 0..20 {
        let t = Instant::now();
        let r = client
            .route_financing(with_timeout(refused_borrower(), 5))
            .await;
        assert!(
            t.elapsed() < Duration::from_millis(200),
            "{:?}",
            t.elapsed()
        );
        if let Err(s) = r {
            assert!(
                matches!(s.code(), Code::DeadlineExceeded | Code::Cancelled),
                "{s:?}"
            );
        }
    }
    // The router is healthy afterwards.
    client
        .route_financing(with_timeout(refused_borrower(), 700))
        .await
        .unwrap();
}

/// Ports that reset, answer garbage or never answer: each channel named
/// ERROR or TIMEOUT, the good partner's offers delivered.
#[tokio::test]
async fn resetting_garbage_and_silent_ports_cost_only_their_own_channel() {
    let good = FakePartner::start(Behaviour::Offers(good_offers()), vec![]).await;
    let reset = misbehaving_port(PortMisbehaviour::Reset).await;
    let garbage = misbehaving_port(PortMisbehaviour::Garbage).await;
    let silent = misbehaving_port(PortMisbehaviour::Silent).await;
    let refused = {
        // A port nobody listens on.
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let config = config_with(vec![
        good.spec("good", 400),
        remote_spec("reset", &format!("http://{reset}"), 400),
        remote_spec("garbage", &format!("http://{garbage}"), 400),
        remote_spec("silent", &format!("http://{silent}"), 400),
        remote_spec("refused", &format!("http://{refused}"), 400),
    ]);
    let router = TestRouter::start(config).await;
    let mut client = router.client().await;
    for _ in 0..3 {
        let t = Instant::now();
        let r = client
            .route_financing(with_timeout(refused_borrower(), 700))
            .await
            .unwrap()
            .into_inner();
        assert!(t.elapsed() < Duration::from_millis(700));
        assert_eq!(status_of(&r, "good"), pb::ChannelStatus::Ok);
        assert!(r.offers.iter().any(|o| o.adapter_id == "good"));
        for id in ["reset", "garbage", "refused"] {
            assert_eq!(status_of(&r, id), pb::ChannelStatus::Error, "{id}");
        }
        assert!(matches!(
            status_of(&r, "silent"),
            pb::ChannelStatus::Timeout | pb::ChannelStatus::Error
        ));
    }
}

/// Five consecutive failures open the circuit: the partner is then skipped
/// (CIRCUIT_OPEN, latency 0, no call); when it recovers, one probe after
/// the backoff closes the circuit and it is used again.
#[tokio::test]
async fn a_failing_partner_is_ejected_and_used_again_after_it_recovers() {
    let flaky = FakePartner::start(Behaviour::Errors(Code::Unavailable), vec![]).await;
    let slow_good = FakePartner::start(
        Behaviour::Slow(Duration::from_millis(20), good_offers()),
        vec![],
    )
    .await;
    let mut config = config_with(vec![flaky.spec("flaky", 300), slow_good.spec("good", 300)]);
    config.routing.breaker_open_ms = 300;
    let router = TestRouter::start(config).await;
    let mut client = router.client().await;
    let route = |c: &mut pb::financing_router_client::FinancingRouterClient<_>| {
        let mut c = c.clone();
        async move {
            c.route_financing(with_timeout(refused_borrower(), 700))
                .await
                .unwrap()
                .into_inner()
        }
    };
    for _ in 0..5 {
        let r = route(&mut client).await;
        assert_eq!(status_of(&r, "flaky"), pb::ChannelStatus::Error);
    }
    let calls_before = flaky.quotes().len();
    let r = route(&mut client).await;
    assert_eq!(status_of(&r, "flaky"), pb::ChannelStatus::CircuitOpen);
    let latency = report_of(&r, "flaky").latency.unwrap_or_default();
    assert_eq!((latency.seconds, latency.nanos), (0, 0));
    assert_eq!(status_of(&r, "good"), pb::ChannelStatus::Ok);
    assert_eq!(
        flaky.quotes().len(),
        calls_before,
        "an open circuit makes no call"
    );

    // Still failing at the first probe: open again, for longer (600 ms).
    tokio::time::sleep(Duration::from_millis(320)).await;
    let r = route(&mut client).await;
    assert_eq!(status_of(&r, "flaky"), pb::ChannelStatus::Error);
    let r = route(&mut client).await;
    assert_eq!(status_of(&r, "flaky"), pb::ChannelStatus::CircuitOpen);

    // Recovered: the next probe closes the circuit.
    flaky.set_behaviour(Behaviour::Offers(good_offers()));
    tokio::time::sleep(Duration::from_millis(620)).await;
    let r = route(&mut client).await;
    assert_eq!(status_of(&r, "flaky"), pb::ChannelStatus::Ok);
    let r = route(&mut client).await;
    assert_eq!(status_of(&r, "flaky"), pb::ChannelStatus::Ok);
}

/// A partner failing every other call with UNAVAILABLE: quotes are retried
/// once within a 20 % budget, so attempts stay within 1.2 x calls (plus the
/// budget's small reserve) and most routes still get its offers.
#[tokio::test]
async fn quote_retries_stay_within_the_budget() {
    let half = FakePartner::start(
        Behaviour::Alternate(Code::Unavailable, good_offers()),
        vec![],
    )
    .await;
    let mut config = config_with(vec![half.spec("half", 300)]);
    config.routing.breaker_failure_threshold = 1_000;
    let router = TestRouter::start(config).await;
    let mut client = router.client().await;
    let calls = 300;
    let mut ok = 0;
    let started = Instant::now();
    for _ in 0..calls {
        let r = client
            .route_financing(with_timeout(refused_borrower(), 700))
            .await
            .unwrap()
            .into_inner();
        if status_of(&r, "half") == pb::ChannelStatus::Ok {
            ok += 1;
        }
    }
    let attempts = half.quotes().len();
    // The budget: 20 % of calls, plus a reserve of 1 retry a second that
    // tower's 10 s window gives back each time it slides past (so a run
    // longer than 10 s on a loaded machine earns another 10).
    let windows = (started.elapsed().as_secs_f64() / 10.0).ceil().max(1.0);
    assert!(
        attempts as f64 <= calls as f64 * 1.2 + 10.0 * windows,
        "{attempts} attempts for {calls} calls in {windows} budget windows"
    );
    assert!(attempts > calls, "some calls were retried");
    assert!(
        ok > calls / 2,
        "retries recovered calls: {ok} of {calls} OK"
    );
}

/// Beyond `server.max_in_flight_routes`, calls are refused at once with
/// RESOURCE_EXHAUSTED; admitted calls still meet their deadline.
#[tokio::test]
async fn overload_is_shed_at_once_with_resource_exhausted() {
    let hung = FakePartner::start(Behaviour::Hung, vec![]).await;
    let mut config = config_with(vec![hung.spec("hung", 5_000)]);
    config.server.max_in_flight_routes = 4;
    let router = TestRouter::start(config).await;
    let client = router.client().await;
    let calls = (0..16).map(|_| {
        let mut c = client.clone();
        tokio::spawn(async move {
            let t = Instant::now();
            let r = c
                .route_financing(with_timeout(refused_borrower(), 500))
                .await;
            (t.elapsed(), r)
        })
    });
    let mut admitted = 0;
    let mut shed = 0;
    for done in futures::future::join_all(calls).await {
        let (took, r) = done.unwrap();
        match r {
            Ok(_) => {
                admitted += 1;
                assert!(took < Duration::from_millis(520), "{took:?}");
            }
            Err(s) => {
                assert_eq!(s.code(), Code::ResourceExhausted, "{s:?}");
                assert!(took < Duration::from_millis(100), "shed in {took:?}");
                shed += 1;
            }
        }
    }
    assert_eq!(admitted, 4);
    assert_eq!(shed, 12);
}

/// Shutdown with 20 calls in flight: every one answered, then `run` returns.
#[tokio::test]
async fn graceful_shutdown_answers_the_calls_in_flight() {
    let slow = FakePartner::start(
        Behaviour::Slow(Duration::from_millis(300), good_offers()),
        vec![],
    )
    .await;
    let router = TestRouter::start(config_with(vec![slow.spec("slow", 2_000)])).await;
    let client = router.client().await;
    let calls: Vec<_> = (0..20)
        .map(|_| {
            let mut c = client.clone();
            tokio::spawn(async move {
                c.route_financing(with_timeout(refused_borrower(), 2_000))
                    .await
            })
        })
        .collect();
    // Let the calls reach the partner, then stop.
    for _ in 0..100 {
        if slow.quotes().len() >= 20 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let t = Instant::now();
    router.stop().await.unwrap();
    assert!(t.elapsed() < Duration::from_secs(5));
    for c in calls {
        let r = c.await.unwrap().unwrap().into_inner();
        assert_eq!(status_of(&r, "slow"), pb::ChannelStatus::Ok);
    }
}

#[tokio::test]
async fn an_oversized_request_is_refused_and_the_router_stays_healthy() {
    let router = TestRouter::start(Config::default()).await;
    let mut client = router.client().await;
    let mut req = refused_borrower();
    req.request_id = "x".repeat(100_000);
    let s = client.route_financing(req).await.unwrap_err();
    assert!(
        matches!(
            s.code(),
            Code::OutOfRange | Code::ResourceExhausted | Code::InvalidArgument
        ),
        "{s:?}"
    );
    client
        .route_financing(with_timeout(refused_borrower(), 700))
        .await
        .unwrap();
}

/// `/metrics` after a few routes: per-channel calls by status, latency
/// histograms, offers, circuit state and routing outcomes, with the right
/// counts.
#[tokio::test]
async fn metrics_count_each_channel_and_show_an_open_circuit() {
    let good = FakePartner::start(Behaviour::Offers(good_offers()), vec![]).await;
    let failing = FakePartner::start(Behaviour::Errors(Code::Internal), vec![]).await;
    let mut config = config_with(vec![good.spec("good", 300), failing.spec("failing", 300)]);
    config.routing.breaker_failure_threshold = 2;
    config.routing.breaker_open_ms = 60_000;
    let router = TestRouter::start(config).await;
    let mut client = router.client().await;
    for _ in 0..3 {
        client
            .route_financing(with_timeout(refused_borrower(), 700))
            .await
            .unwrap();
    }
    let mut bad = refused_borrower();
    bad.requested_amount = None;
    client.route_financing(bad).await.unwrap_err();

    let text = router.scrape().await;
    for line in [
        "finroute_channel_calls_total{channel=\"good\",status=\"ok\"} 3",
        "finroute_channel_calls_total{channel=\"failing\",status=\"error\"} 2",
        "finroute_channel_calls_total{channel=\"failing\",status=\"circuit_open\"} 1",
        "finroute_channel_offers_returned_total{channel=\"good\"} 3",
        "finroute_channel_latency_seconds_count{channel=\"good\"} 3",
        "finroute_channel_latency_seconds_count{channel=\"failing\"} 2",
        "finroute_channel_circuit_state{channel=\"failing\"} 1",
        "finroute_channel_circuit_state{channel=\"good\"} 0",
        "finroute_routes_total{outcome=\"ok\"} 3",
        "finroute_routes_total{outcome=\"invalid\"} 1",
        "finroute_store_commit_seconds_count 3",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in:\n{text}"
        );
    }
    // No personal value of the request in any label or value.
    for secret in ["app-7f3a9c", "2150000", "9800000"] {
        assert!(!text.contains(secret), "{secret} leaked into /metrics");
    }
}

/// A partner answering 10 000 offers (a reply far over the 256 KiB limit):
/// its channel is ERROR, the others' offers arrive, the router stays up.
#[tokio::test]
async fn an_oversized_partner_reply_is_an_error_on_its_channel_only() {
    let flood: Vec<pb::PartnerOffer> = (0..10_000)
        .map(|i| partner_offer(&format!("F-{i}"), 1_000_000, 1100, 0.5))
        .collect();
    let huge = FakePartner::start(Behaviour::Offers(flood), vec![]).await;
    let good = FakePartner::start(Behaviour::Offers(good_offers()), vec![]).await;
    let router = TestRouter::start(config_with(vec![
        huge.spec("huge", 400),
        good.spec("good", 400),
    ]))
    .await;
    let mut client = router.client().await;
    let r = client
        .route_financing(with_timeout(refused_borrower(), 700))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(status_of(&r, "huge"), pb::ChannelStatus::Error);
    assert_eq!(status_of(&r, "good"), pb::ChannelStatus::Ok);
    assert!(r.offers.iter().all(|o| o.adapter_id == "good"));
}

/// Shutdown whose grace runs out with routing calls still waiting on a hung
/// partner: each is answered with what the other channels offered (partial,
/// the hung channel a TIMEOUT that says why), not UNAVAILABLE, and the
/// router stops within its bound.
#[tokio::test]
async fn shutdown_at_the_grace_limit_answers_routes_with_what_they_have() {
    let hung = FakePartner::start(Behaviour::Hung, vec![]).await;
    let mut specs = builtin_specs();
    specs.push(hung.spec("hung", 30_000));
    let mut config = config_with(specs);
    config.server.shutdown_grace_ms = 600;
    let router = TestRouter::start(config).await;
    let client = router.client().await;
    let calls: Vec<_> = (0..10)
        .map(|_| {
            let mut c = client.clone();
            tokio::spawn(async move {
                c.route_financing(with_timeout(refused_borrower(), 20_000))
                    .await
            })
        })
        .collect();
    for _ in 0..200 {
        if hung.quotes().len() >= 10 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        hung.quotes().len(),
        10,
        "every call reached the hung partner"
    );
    let t = Instant::now();
    router.stop().await.unwrap();
    let took = t.elapsed();
    assert!(took < Duration::from_millis(1_500), "{took:?}");
    for c in calls {
        let r = c
            .await
            .unwrap()
            .expect("answered with what it had, not UNAVAILABLE")
            .into_inner();
        assert!(r.partial);
        assert!(!r.offers.is_empty(), "the built-in channels' offers");
        assert_eq!(status_of(&r, "hung"), pb::ChannelStatus::Timeout);
        assert!(
            report_of(&r, "hung").detail.contains("shutting down"),
            "{:?}",
            report_of(&r, "hung").detail
        );
    }
}

/// An AcceptOffer waiting on a partner slower than the shutdown's grace is
/// answered PENDING at the cut (the acceptance stays leased for the next
/// start's relay), not UNAVAILABLE.
#[tokio::test]
async fn shutdown_at_the_grace_limit_answers_a_waiting_accept_pending() {
    let slow = FakePartner::start_with(
        Behaviour::Offers(good_offers()),
        vec![],
        finroute_testkit::AcceptMode::Delay(Duration::from_secs(10)),
    )
    .await;
    let mut config = config_with(vec![slow.spec("slow", 2_000)]);
    config.server.shutdown_grace_ms = 600;
    config.acceptance.partner_timeout_ms = 20_000;
    let router = TestRouter::start(config).await;
    let mut client = router.client().await;
    let r = client
        .route_financing(with_timeout(refused_borrower(), 2_000))
        .await
        .unwrap()
        .into_inner();
    let offer_id = r.offers[0].offer_id.clone();
    let waiting = tokio::spawn(async move {
        client
            .accept_offer(with_timeout(
                pb::AcceptOfferRequest {
                    offer_id,
                    idempotency_key: "tap-1".into(),
                    applicant_id: "app-7f3a9c".into(),
                },
                20_000,
            ))
            .await
    });
    for _ in 0..200 {
        if !slow.accepts().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(slow.accepts().len(), 1, "the partner has the acceptance");
    router.stop().await.unwrap();
    let answer = waiting
        .await
        .unwrap()
        .expect("answered, not UNAVAILABLE")
        .into_inner();
    assert_eq!(answer.status(), pb::AcceptanceStatus::Pending);
}
