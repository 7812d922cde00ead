//! The deadline under a hung partner, over 100 calls, on tokio's paused
//! clock: the fan-out with in-process channels (one answering at once, one
//! after 120 ms, one never), so the times asserted are exact and no
//! scheduler noise can make the test flaky. The same property over real
//! sockets, in a release build and under load, is measured by
//! `bench/faults.sh` (BENCHMARKS.md).

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use finroute_adapters::spec::{AdapterKind, AdapterSpec};
use finroute_adapters::{
    AcceptOutcome, AcceptRequest, Adapter, AdapterError, Description, QuoteOutcome, QuoteRequest,
};
use finroute_core::{
    ChannelStatus, Currency, OddsBook, OddsModel, PricingPolicy, ProductKind, Strategy,
};
use finroute_server::breaker::BreakerSettings;
use finroute_server::convert::{RequestDefaults, financing_request_from_pb};
use finroute_server::drain::InFlight;
use finroute_server::fanout::{Disclosure, Fanout, Registry};
use finroute_testkit::{partner_offer, refused_borrower};
use tokio::time::Instant;

/// A partner in this process: answers after `delay`, or never.
struct Scripted {
    delay: Option<Duration>,
}

#[async_trait::async_trait]
impl Adapter for Scripted {
    fn product_kind(&self) -> ProductKind {
        ProductKind::PartnerLoan
    }

    fn is_partner(&self) -> bool {
        true
    }

    async fn describe(&self) -> Result<Description, AdapterError> {
        Ok(Description {
            adapter_id: "scripted".into(),
            display_name: "Scripted partner".into(),
            product_kinds: vec![ProductKind::PartnerLoan],
            currencies: vec![Currency::parse("CNY").unwrap()],
            min_amount: None,
            max_amount: None,
            min_term_months: 1,
            max_term_months: 60,
            required_fields: vec![],
            supports_accept: false,
            parties: vec![finroute_core::Party {
                role: finroute_core::PartyRole::Lender,
                legal_name: "Slow Lender".into(),
                registration_id: String::new(),
                contact: String::new(),
                lender_type: None,
            }],
            advertised_apr_from_bps: None,
        })
    }

    async fn quote(&self, _req: QuoteRequest) -> Result<QuoteOutcome, AdapterError> {
        let Some(delay) = self.delay else {
            return std::future::pending().await;
        };
        tokio::time::sleep(delay).await;
        let offer = finroute_adapters::convert::partner_offer_from_pb(&partner_offer(
            "G-1", 1_000_000, 1100, 0.8,
        ))
        .unwrap();
        Ok(QuoteOutcome {
            offers: vec![offer],
            ..Default::default()
        })
    }

    async fn accept(&self, _req: AcceptRequest) -> Result<AcceptOutcome, AdapterError> {
        Err(AdapterError::Unsupported("no accept".into()))
    }
}

fn channel(id: &str, timeout_ms: u64, delay: Option<Duration>) -> (AdapterSpec, Arc<dyn Adapter>) {
    let spec = AdapterSpec {
        id: id.into(),
        timeout_ms,
        max_in_flight: 1_000,
        late_window_ms: 0,
        // Not built: the adapter is given.
        kind: AdapterKind::PartnerSim(Default::default()),
    };
    (spec, Arc::new(Scripted { delay }))
}

/// 1 of 3 partners hangs for good; D = 700 ms with a 50 ms reply margin;
/// 100 calls in waves of 5: every fan-out ends exactly at D - margin,
/// partial, with the hung channel TIMEOUT and both others' offers; none
/// waits a moment longer, whatever the hung partner does.
#[tokio::test(start_paused = true)]
async fn a_hung_partner_never_costs_the_deadline_over_100_calls() {
    let registry = Registry::from_adapters(
        vec![
            channel("good-a", 400, Some(Duration::ZERO)),
            channel("good-b", 400, Some(Duration::from_millis(120))),
            channel("hung", 10_000, None),
        ],
        // Keep the hung partner in every fan-out (the breaker has its own tests).
        BreakerSettings {
            failure_threshold: 10_000,
            ..BreakerSettings::default()
        },
    );
    assert_eq!(registry.describe_all().await, 3);
    let request = financing_request_from_pb(
        &refused_borrower(),
        RequestDefaults {
            strategy: Strategy::Balanced,
            max_offers: 10,
        },
    )
    .unwrap();
    let policy = PricingPolicy::default();
    let odds = OddsBook::empty(&OddsModel::default());
    let in_flight = InFlight::default();
    let deadline = Duration::from_millis(700);
    let margin = Duration::from_millis(50);

    let mut calls = 0;
    for wave in 0..20 {
        let runs = (0..5).map(|i| {
            let application_id = format!("app_{wave}_{i}");
            let (registry, request, policy, odds, in_flight) =
                (&registry, &request, &policy, &odds, &in_flight);
            async move {
                let started = Instant::now();
                let result = Fanout {
                    registry,
                    request,
                    policy,
                    odds,
                    application_id: &application_id,
                    channel_deadline: started + deadline - margin,
                    cut: in_flight,
                    now_ms: 1_790_000_000_000,
                    disclosure: &Disclosure::default(),
                    quotas: None,
                    rules: None,
                    late: false,
                }
                .run(None)
                .await;
                (started.elapsed(), result)
            }
        });
        for (took, r) in futures::future::join_all(runs).await {
            calls += 1;
            assert_eq!(took, deadline - margin, "the fan-out ends at D - margin");
            assert!(r.partial);
            let status = |id: &str| {
                r.reports
                    .iter()
                    .find(|rep| rep.adapter_id == id)
                    .map(|rep| rep.status)
            };
            assert_eq!(status("hung"), Some(ChannelStatus::Timeout));
            assert_eq!(status("good-a"), Some(ChannelStatus::Ok));
            assert_eq!(status("good-b"), Some(ChannelStatus::Ok));
            for id in ["good-a", "good-b"] {
                assert!(r.offers.iter().any(|o| o.adapter_id == id), "{id}");
            }
            let hung = r
                .reports
                .iter()
                .find(|rep| rep.adapter_id == "hung")
                .unwrap();
            assert_eq!(hung.latency_ms, 650);
        }
    }
    assert_eq!(calls, 100);
}

/// The same fan-out with no hung partner ends when the slowest channel
/// answers (120 ms), not at the deadline: the deadline is a bound, not a
/// wait.
#[tokio::test(start_paused = true)]
async fn without_a_hung_partner_the_fanout_ends_with_the_slowest_answer() {
    let registry = Registry::from_adapters(
        vec![
            channel("good-a", 400, Some(Duration::ZERO)),
            channel("good-b", 400, Some(Duration::from_millis(120))),
        ],
        BreakerSettings::default(),
    );
    registry.describe_all().await;
    let request = financing_request_from_pb(
        &refused_borrower(),
        RequestDefaults {
            strategy: Strategy::Balanced,
            max_offers: 10,
        },
    )
    .unwrap();
    let in_flight = InFlight::default();
    let started = Instant::now();
    let r = Fanout {
        registry: &registry,
        request: &request,
        policy: &PricingPolicy::default(),
        odds: &OddsBook::empty(&OddsModel::default()),
        application_id: "app_x",
        channel_deadline: started + Duration::from_millis(650),
        cut: &in_flight,
        now_ms: 1_790_000_000_000,
        disclosure: &Disclosure::default(),
        quotas: None,
        rules: None,
        late: false,
    }
    .run(None)
    .await;
    assert_eq!(started.elapsed(), Duration::from_millis(120));
    assert!(!r.partial);
    assert_eq!(r.offers.len(), 2);
}
