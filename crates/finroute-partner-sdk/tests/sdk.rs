//! The SDK as a partner uses it: a `Partner` served with `serve` on a real
//! loopback port, called over gRPC with the generated client as the router
//! would. Health, reflection, request checks, idempotent Accept under
//! concurrency, and a graceful shutdown with a call in flight.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use finroute_partner_sdk::{
    AcceptOutcome, AcceptRequest, AcceptStatus, AdjustedTerm, ApplicantField, Condition,
    ConditionKind, Currency, DeclineReason, Description, Money, OfferAnswer, Partner, PartnerError,
    PartnerOffer, ProductKind, Qualification, Quote, QuoteRequest, RepaymentMethod,
};
use finroute_proto::v1 as pb;
use pb::financing_adapter_client::FinancingAdapterClient;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::transport::Channel;

/// A small partner that counts its accept calls and can be slowed down.
#[derive(Clone, Default)]
struct Counting {
    accepts: Arc<AtomicUsize>,
    quote_delay: Duration,
    accept_delay: Duration,
}

fn cny() -> Currency {
    Currency::parse("CNY").unwrap()
}

impl Partner for Counting {
    async fn describe(&self) -> Result<Description, PartnerError> {
        Ok(Description {
            adapter_id: "counting".into(),
            display_name: "Counting bank".into(),
            product_kinds: vec![ProductKind::PartnerLoan],
            currencies: vec![cny()],
            min_amount: Some(Money::new(cny(), 100_000)),
            max_amount: Some(Money::new(cny(), 10_000_000)),
            min_term_months: 12,
            max_term_months: 12,
            required_fields: vec![],
            supports_accept: true,
            parties: Vec::new(),
            advertised_apr_from_bps: None,
        })
    }

    async fn quote(&self, q: QuoteRequest) -> Result<Quote, PartnerError> {
        tokio::time::sleep(self.quote_delay).await;
        if q.quote_id.starts_with("missing") {
            return Ok(Quote::missing_data(
                vec![ApplicantField::MonthlyIncome],
                "income needed",
            ));
        }
        let offer = PartnerOffer {
            partner_offer_ref: format!("c-{}", q.quote_id),
            product_kind: Some(ProductKind::PartnerLoan),
            product_name: "Loan".into(),
            principal: q.requested_amount,
            term_months: 12,
            repayment_method: Some(RepaymentMethod::EqualInstallment),
            qualification: Qualification::PreQualified,
            stated_apr_bps: 1200,
            nominal_rate_bps: 1200,
            monthly_fee_rate_bps: 0,
            upfront_fee: None,
            schedule: vec![],
            approval_probability: Some(0.5),
            valid_for_ms: 60_000,
            requires_collateral: false,
            disclosures: vec![],
            charges: Vec::new(),
            parties: Vec::new(),
            promotion: None,
            adjustment: None,
            conditions: Vec::new(),
        };
        if q.quote_id.starts_with("counter") {
            let offer = offer
                .counter_offer(&[AdjustedTerm::Rate], DeclineReason::CreditScore, "")
                .on_conditions(vec![Condition {
                    kind: ConditionKind::ProofOfIncome,
                    description: "payslips".into(),
                }]);
            return Ok(Quote::offers(vec![offer]));
        }
        Ok(Quote::offers(vec![offer]))
    }

    async fn accept(&self, r: AcceptRequest) -> Result<AcceptOutcome, PartnerError> {
        if !r.partner_offer_ref.starts_with("c-") {
            return Err(PartnerError::UnknownOffer(r.partner_offer_ref));
        }
        let n = self.accepts.fetch_add(1, Ordering::SeqCst) + 1;
        tokio::time::sleep(self.accept_delay).await;
        Ok(AcceptOutcome {
            status: AcceptStatus::Accepted,
            partner_reference: format!("REF-{n}"),
            detail: String::new(),
        })
    }
}

struct Served {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    handle: JoinHandle<Result<(), finroute_partner_sdk::ServeError>>,
}

async fn start(partner: Counting) -> Served {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    let handle = tokio::spawn(finroute_partner_sdk::serve(partner, listener, async {
        let _ = rx.await;
    }));
    Served {
        addr,
        stop: Some(tx),
        handle,
    }
}

impl Served {
    async fn channel(&self) -> Channel {
        Channel::from_shared(format!("http://{}", self.addr))
            .unwrap()
            .connect()
            .await
            .unwrap()
    }

    async fn client(&self) -> FinancingAdapterClient<Channel> {
        FinancingAdapterClient::new(self.channel().await)
    }
}

fn quote_request(quote_id: &str) -> pb::QuoteRequest {
    pb::QuoteRequest {
        quote_id: quote_id.into(),
        applicant: Some(pb::Applicant {
            applicant_id: "app-1".into(),
            ..Default::default()
        }),
        requested_amount: Some(pb::Money {
            currency_code: "CNY".into(),
            amount_minor: 1_000_000,
        }),
        min_term_months: 6,
        max_term_months: 24,
        purpose: 0,
        locale: String::new(),
    }
}

async fn health_status(channel: Channel, service: &str) -> i32 {
    let mut h = tonic_health::pb::health_client::HealthClient::new(channel);
    h.check(tonic_health::pb::HealthCheckRequest {
        service: service.into(),
    })
    .await
    .unwrap()
    .into_inner()
    .status
}

#[tokio::test]
async fn health_and_both_reflection_versions_list_exactly_the_served_services() {
    let served = start(Counting::default()).await;
    let ch = served.channel().await;
    for service in ["", "finroute.v1.FinancingAdapter"] {
        assert_eq!(health_status(ch.clone(), service).await, 1, "{service:?}");
    }
    let want: BTreeSet<String> = [
        "finroute.v1.FinancingAdapter",
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
    ]
    .map(String::from)
    .into();

    assert_eq!(list_services!(v1, ch.clone()), want, "v1");
    assert_eq!(list_services!(v1alpha, ch), want, "v1alpha");
}

/// The services reflection `$version` lists on `$channel`.
macro_rules! list_services {
    ($version:ident, $channel:expr) => {{
        use tokio_stream::StreamExt;
        use tonic_reflection::pb::$version::ServerReflectionRequest;
        use tonic_reflection::pb::$version::server_reflection_client::ServerReflectionClient;
        use tonic_reflection::pb::$version::server_reflection_request::MessageRequest;
        use tonic_reflection::pb::$version::server_reflection_response::MessageResponse;
        let req = ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        };
        let mut replies = ServerReflectionClient::new($channel)
            .server_reflection_info(tokio_stream::iter(vec![req]))
            .await
            .unwrap()
            .into_inner();
        let reply = replies.next().await.unwrap().unwrap();
        let Some(MessageResponse::ListServicesResponse(list)) = reply.message_response else {
            panic!("list services")
        };
        list.service
            .into_iter()
            .map(|s| s.name)
            .collect::<BTreeSet<String>>()
    }};
}
use list_services;

#[tokio::test]
async fn typed_declines_counter_offers_and_conditions_reach_the_wire() {
    let served = start(Counting::default()).await;
    let mut c = served.client().await;
    let q = c
        .quote(quote_request("missing-1"))
        .await
        .unwrap()
        .into_inner();
    assert!(q.offers.is_empty());
    assert_eq!(q.decline_reason, "income needed");
    let d = q.decline.unwrap();
    assert_eq!(d.reason, pb::DeclineReason::MissingData as i32);
    assert_eq!(d.missing_fields, [pb::ApplicantField::MonthlyIncome as i32]);

    let q = c
        .quote(quote_request("counter-1"))
        .await
        .unwrap()
        .into_inner();
    let o = &q.offers[0];
    assert_eq!(o.qualification, pb::Qualification::Conditional as i32);
    let a = o.adjustment.as_ref().unwrap();
    assert_eq!(
        (a.changed.as_slice(), a.reason),
        (
            &[pb::AdjustedTerm::Rate as i32][..],
            pb::DeclineReason::CreditScore as i32
        )
    );
    assert_eq!(
        (o.conditions[0].kind, o.conditions[0].description.as_str()),
        (pb::ConditionKind::ProofOfIncome as i32, "payslips")
    );
}

#[tokio::test]
async fn quotes_are_converted_both_ways_and_bad_requests_name_their_fields() {
    let served = start(Counting::default()).await;
    let mut c = served.client().await;
    let d = c
        .describe(pb::DescribeRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(d.currencies, ["CNY"]);
    assert_eq!(d.product_kinds, [pb::ProductKind::PartnerLoan as i32]);

    let q = c.quote(quote_request("q-1")).await.unwrap().into_inner();
    assert_eq!(q.offers.len(), 1);
    let o = &q.offers[0];
    assert_eq!(o.partner_offer_ref, "c-q-1");
    assert_eq!(o.principal.as_ref().unwrap().amount_minor, 1_000_000);
    assert_eq!(o.valid_for.unwrap().seconds, 60);

    let mut bad = quote_request("q-2");
    bad.requested_amount = None;
    bad.applicant.as_mut().unwrap().credit_score = Some(2000);
    let s = c.quote(bad).await.unwrap_err();
    assert_eq!(s.code(), tonic::Code::InvalidArgument);
    use tonic_types::StatusExt;
    let fields: Vec<String> = s
        .get_error_details()
        .bad_request()
        .unwrap()
        .field_violations
        .iter()
        .map(|v| v.field.clone())
        .collect();
    assert_eq!(fields, ["applicant.credit_score", "requested_amount"]);
    // The score itself is never echoed.
    assert!(!s.message().contains("2000"), "{}", s.message());
}

#[tokio::test]
async fn concurrent_accepts_with_one_key_book_once_and_get_one_answer() {
    let partner = Counting {
        accept_delay: Duration::from_millis(100),
        ..Default::default()
    };
    let accepts = partner.accepts.clone();
    let served = start(partner).await;
    let client = served.client().await;
    let calls = (0..16).map(|_| {
        let mut c = client.clone();
        async move {
            c.accept(pb::AcceptRequest {
                partner_offer_ref: "c-q-1".into(),
                idempotency_key: "key-1".into(),
                applicant_id: "app-1".into(),
            })
            .await
            .map(|r| r.into_inner())
        }
    });
    let answers = futures::future::join_all(calls).await;
    for a in &answers {
        let a = a.as_ref().unwrap();
        assert_eq!(a.status, pb::AcceptanceStatus::Accepted as i32);
        assert_eq!(a.partner_reference, "REF-1");
    }
    assert_eq!(accepts.load(Ordering::SeqCst), 1, "the partner booked once");

    let mut c = client.clone();
    // Same key, another offer: ALREADY_EXISTS; another key, same offer: FAILED_PRECONDITION.
    let s = c
        .accept(pb::AcceptRequest {
            partner_offer_ref: "c-q-2".into(),
            idempotency_key: "key-1".into(),
            applicant_id: "app-1".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(s.code(), tonic::Code::AlreadyExists);
    let s = c
        .accept(pb::AcceptRequest {
            partner_offer_ref: "c-q-1".into(),
            idempotency_key: "key-2".into(),
            applicant_id: "app-1".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(s.code(), tonic::Code::FailedPrecondition);
    // An unknown reference: the partner's NOT_FOUND; a missing key: INVALID_ARGUMENT.
    let s = c
        .accept(pb::AcceptRequest {
            partner_offer_ref: "zzz".into(),
            idempotency_key: "key-3".into(),
            applicant_id: "app-1".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(s.code(), tonic::Code::NotFound);
    let s = c
        .accept(pb::AcceptRequest {
            partner_offer_ref: "c-q-1".into(),
            idempotency_key: String::new(),
            applicant_id: "app-1".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(s.code(), tonic::Code::InvalidArgument);
    assert_eq!(accepts.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn shutdown_reports_not_serving_and_finishes_the_call_in_flight() {
    let served = start(Counting {
        quote_delay: Duration::from_millis(300),
        ..Default::default()
    })
    .await;
    let ch = served.channel().await;
    // A health watcher sees the flip to NOT_SERVING (new streams are
    // refused once the server sends GOAWAY, so a Check could not).
    let mut watch = tonic_health::pb::health_client::HealthClient::new(ch.clone())
        .watch(tonic_health::pb::HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(watch.message().await.unwrap().unwrap().status, 1);
    let mut c = FinancingAdapterClient::new(ch);
    let in_flight = tokio::spawn(async move { c.quote(quote_request("slow")).await });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let Served {
        addr,
        mut stop,
        handle,
        ..
    } = served;
    stop.take().unwrap().send(()).unwrap();
    assert_eq!(
        watch.message().await.unwrap().unwrap().status,
        2,
        "NOT_SERVING"
    );
    let answer = in_flight.await.unwrap().unwrap().into_inner();
    assert_eq!(answer.offers.len(), 1, "the call in flight was answered");
    let stopped = tokio::time::timeout(Duration::from_secs(2), handle).await;
    assert!(matches!(stopped, Ok(Ok(Ok(())))), "serve returned");
    // And the port is closed.
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}
