//! The per-channel call stack (`Fanout::channel_stack`) keeps what the
//! hand-written call did, on tokio's paused clock with in-process
//! channels: the in-flight limit refuses at once and is no breaker
//! verdict; a half-open probe cut short by shutdown is handed back; a
//! Quote is retried once on UNAVAILABLE, and only with 20 ms left.

#![allow(clippy::unwrap_used)]

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use finroute_adapters::spec::{AdapterKind, AdapterSpec};
use finroute_adapters::{
    AcceptOutcome, AcceptRequest, Adapter, AdapterError, Description, QuoteOutcome, QuoteRequest,
};
use finroute_core::{
    ChannelReport, ChannelStatus, Currency, FinancingRequest, OddsBook, OddsModel, PricingPolicy,
    ProductKind, Strategy,
};
use finroute_server::breaker::{BreakerSettings, BreakerState};
use finroute_server::convert::{RequestDefaults, financing_request_from_pb};
use finroute_server::drain::InFlight;
use finroute_server::fanout::{Disclosure, Fanout, FanoutResult, Registry};
use finroute_testkit::{partner_offer, refused_borrower};
use tokio::time::Instant;

/// What one Quote does.
#[derive(Debug, Clone, Copy)]
enum Step {
    Fail(tonic::Code),
    Hang,
    AnswerAfter(Duration),
}

/// A partner in this process that plays its steps in order (the last
/// one for ever) and counts its Quotes.
struct Scripted {
    steps: Mutex<VecDeque<Step>>,
    quotes: AtomicUsize,
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
            // A partner names its lender of record, or its offers are refused.
            parties: vec![finroute_core::Party {
                role: finroute_core::PartyRole::Lender,
                legal_name: "Scripted Lender".into(),
                registration_id: String::new(),
                contact: String::new(),
                lender_type: None,
            }],
            advertised_apr_from_bps: None,
        })
    }

    async fn quote(&self, _req: QuoteRequest) -> Result<QuoteOutcome, AdapterError> {
        self.quotes.fetch_add(1, Ordering::SeqCst);
        let step = {
            let mut steps = self.steps.lock().unwrap();
            if steps.len() > 1 {
                steps.pop_front().unwrap()
            } else {
                *steps.front().unwrap()
            }
        };
        match step {
            Step::Fail(code) => Err(AdapterError::Rpc {
                code,
                message: "scripted".into(),
            }),
            Step::Hang => std::future::pending().await,
            Step::AnswerAfter(delay) => {
                tokio::time::sleep(delay).await;
                let offer = partner_offer("G-1", 1_000_000, 1100, 0.8);
                Ok(QuoteOutcome {
                    offers: vec![
                        finroute_adapters::convert::partner_offer_from_pb(&offer).unwrap(),
                    ],
                    ..Default::default()
                })
            }
        }
    }

    async fn accept(&self, _req: AcceptRequest) -> Result<AcceptOutcome, AdapterError> {
        Err(AdapterError::Unsupported("no accept".into()))
    }
}

struct Setup {
    registry: Registry,
    partner: Arc<Scripted>,
    request: FinancingRequest,
    policy: PricingPolicy,
    odds: OddsBook,
    cut: InFlight,
}

async fn setup(steps: &[Step], timeout_ms: u64, max_in_flight: usize) -> Setup {
    let partner = Arc::new(Scripted {
        steps: Mutex::new(steps.iter().copied().collect()),
        quotes: AtomicUsize::new(0),
    });
    let spec = AdapterSpec {
        id: "scripted".into(),
        timeout_ms,
        max_in_flight,
        late_window_ms: 0,
        kind: AdapterKind::PartnerSim(Default::default()),
    };
    let breaker = BreakerSettings {
        failure_threshold: 1,
        base_open: Duration::from_secs(1),
        max_open: Duration::from_secs(60),
    };
    let registry =
        Registry::from_adapters(vec![(spec, partner.clone() as Arc<dyn Adapter>)], breaker);
    assert_eq!(registry.describe_all().await, 1);
    let defaults = RequestDefaults {
        strategy: Strategy::Balanced,
        max_offers: 10,
    };
    Setup {
        registry,
        partner,
        request: financing_request_from_pb(&refused_borrower(), defaults).unwrap(),
        policy: PricingPolicy::default(),
        odds: OddsBook::empty(&OddsModel::default()),
        cut: InFlight::default(),
    }
}

impl Setup {
    async fn route(&self, id: &str) -> FanoutResult {
        Fanout {
            registry: &self.registry,
            request: &self.request,
            policy: &self.policy,
            odds: &self.odds,
            application_id: id,
            channel_deadline: Instant::now() + Duration::from_secs(5),
            cut: &self.cut,
            now_ms: 1_790_000_000_000,
            disclosure: &Disclosure::default(),
            quotas: None,
            rules: None,
            late: false,
        }
        .run(None)
        .await
    }

    fn state(&self) -> BreakerState {
        self.registry.channels()[0].breaker_state()
    }

    fn quotes(&self) -> usize {
        self.partner.quotes.load(Ordering::SeqCst)
    }
}

fn only(r: &FanoutResult) -> &ChannelReport {
    assert_eq!(r.reports.len(), 1, "{:?}", r.reports);
    &r.reports[0]
}

#[tokio::test(start_paused = true)]
async fn the_in_flight_limit_refuses_at_once_and_is_no_breaker_verdict() {
    let s = setup(&[Step::AnswerAfter(Duration::from_millis(300))], 1_000, 1).await;
    let first = s.route("app_a");
    let second = async {
        // The first call holds the only permit by now.
        tokio::time::sleep(Duration::from_millis(10)).await;
        let started = Instant::now();
        let r = s.route("app_b").await;
        // Refused at once: no queueing behind the first call.
        assert_eq!(started.elapsed(), Duration::ZERO);
        // Threshold 1, yet the breaker heard nothing.
        assert_eq!(s.state(), BreakerState::Closed);
        r
    };
    let (first, second) = tokio::join!(first, second);
    assert_eq!(only(&first).status, ChannelStatus::Ok);
    let refused = only(&second);
    assert_eq!(refused.status, ChannelStatus::Error);
    assert_eq!(refused.detail, "in-flight limit of 1 calls reached");
    assert_eq!(refused.latency_ms, 0);
    assert_eq!(s.quotes(), 1);
    assert_eq!(s.registry.channels()[0].in_flight(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_probe_cut_short_by_shutdown_is_handed_back() {
    let s = setup(&[Step::Fail(tonic::Code::Internal), Step::Hang], 2_000, 10).await;
    // One failure opens the breaker (threshold 1) for a second.
    assert_eq!(only(&s.route("app_a").await).status, ChannelStatus::Error);
    assert_eq!(s.state(), BreakerState::Open);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let probe = s.route("app_b");
    let cut = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        s.cut.cut();
    };
    let (r, ()) = tokio::join!(probe, cut);
    let report = only(&r);
    assert_eq!(report.status, ChannelStatus::Timeout);
    assert_eq!(report.detail, "cut short: the router is shutting down");
    assert_eq!(report.latency_ms, 100);
    // No verdict: the probe is handed back, the next call probes (not
    // refused as if a probe were still out).
    assert_eq!(s.state(), BreakerState::HalfOpen);
    let next = s.route("app_c").await;
    assert_ne!(only(&next).status, ChannelStatus::CircuitOpen);
    assert_eq!(s.quotes(), 3);
}

#[tokio::test(start_paused = true)]
async fn unavailable_is_retried_once_with_time_left() {
    let s = setup(
        &[
            Step::Fail(tonic::Code::Unavailable),
            Step::AnswerAfter(Duration::from_millis(5)),
        ],
        1_000,
        10,
    )
    .await;
    let r = s.route("app_a").await;
    assert_eq!(only(&r).status, ChannelStatus::Ok, "{:?}", r.reports);
    assert_eq!(s.quotes(), 2);
    assert_eq!(r.offers.len(), 1);
}

#[tokio::test(start_paused = true)]
async fn unavailable_is_not_retried_twice_nor_without_20_ms_left() {
    let always = [Step::Fail(tonic::Code::Unavailable)];
    let s = setup(&always, 1_000, 10).await;
    assert_eq!(only(&s.route("app_a").await).status, ChannelStatus::Error);
    assert_eq!(s.quotes(), 2, "one retry, not two");

    let s = setup(&always, 15, 10).await;
    assert_eq!(only(&s.route("app_b").await).status, ChannelStatus::Error);
    assert_eq!(s.quotes(), 1, "15 ms budget: no retry");

    let other = [Step::Fail(tonic::Code::Internal)];
    let s = setup(&other, 1_000, 10).await;
    assert_eq!(only(&s.route("app_c").await).status, ChannelStatus::Error);
    assert_eq!(s.quotes(), 1, "only UNAVAILABLE is retried");
}
