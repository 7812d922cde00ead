//! Test support: a real router started on `127.0.0.1:0` with its own SQLite
//! file, fake partners (real gRPC servers on loopback) named by behaviour
//! and recording what they received, and request fixtures.

#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use finroute_adapters::spec::{AdapterKind, AdapterSpec};
use finroute_proto::v1 as pb;
use finroute_server::Config;
use pb::financing_router_client::FinancingRouterClient;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::transport::Channel;
use tonic::{Request, Response, Status};

/// A router running in this process on a loopback port.
pub struct TestRouter {
    pub addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<Result<(), finroute_server::ServeError>>>,
    _dir: tempfile::TempDir,
}

impl TestRouter {
    /// Starts `config` with a fresh SQLite file and waits until health says SERVING.
    pub async fn start(mut config: Config) -> TestRouter {
        let dir = tempfile::tempdir().expect("temp dir");
        if config.store.url == Config::default().store.url {
            config.store.url = format!("sqlite://{}", dir.path().join("finroute.db").display());
        }
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("bound address");
        let (tx, rx) = oneshot::channel::<()>();
        let handle = tokio::spawn(finroute_server::run(config, listener, async {
            let _ = rx.await;
        }));
        let router = TestRouter {
            addr,
            shutdown: Some(tx),
            handle: Some(handle),
            _dir: dir,
        };
        router.wait_serving().await;
        router
    }

    /// The embedded default (built-in channels), on a fresh store.
    pub async fn embedded() -> TestRouter {
        Self::start(Config::default()).await
    }

    /// The `http://` URL of the router.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A connected FinancingRouter client.
    pub async fn client(&self) -> FinancingRouterClient<Channel> {
        FinancingRouterClient::connect(self.url())
            .await
            .expect("connect to router")
    }

    /// A raw channel to the router (health, reflection, review).
    pub async fn channel(&self) -> Channel {
        Channel::from_shared(self.url())
            .expect("valid url")
            .connect()
            .await
            .expect("connect")
    }

    async fn wait_serving(&self) {
        use tonic_health::pb::health_client::HealthClient;
        for _ in 0..200 {
            if let Ok(ch) = Channel::from_shared(self.url())
                .expect("valid url")
                .connect()
                .await
            {
                let mut h = HealthClient::new(ch);
                let r = h
                    .check(tonic_health::pb::HealthCheckRequest {
                        service: String::new(),
                    })
                    .await;
                if r.map(|r| r.into_inner().status == 1).unwrap_or(false) {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("router did not become SERVING");
    }

    /// Graceful shutdown; returns what `run` returned.
    pub async fn stop(mut self) -> Result<(), finroute_server::ServeError> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.handle
            .take()
            .expect("running")
            .await
            .expect("router task")
    }
}

impl Drop for TestRouter {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// What a fake partner does with a quote.
#[derive(Debug, Clone)]
pub enum Behaviour {
    /// Answers with these offers.
    Offers(Vec<pb::PartnerOffer>),
    /// Never answers.
    Hung,
    /// Answers with this error code.
    Errors(tonic::Code),
    /// Answers after a delay with these offers.
    Slow(Duration, Vec<pb::PartnerOffer>),
}

/// A partner's gRPC FinancingAdapter server on loopback that records every request.
#[derive(Clone)]
pub struct FakePartner {
    pub addr: SocketAddr,
    quotes: Arc<Mutex<Vec<pb::QuoteRequest>>>,
    accepts: Arc<Mutex<Vec<pb::AcceptRequest>>>,
}

#[derive(Clone)]
struct FakeService {
    behaviour: Behaviour,
    description: pb::AdapterDescription,
    quotes: Arc<Mutex<Vec<pb::QuoteRequest>>>,
    accepts: Arc<Mutex<Vec<pb::AcceptRequest>>>,
}

#[tonic::async_trait]
impl pb::financing_adapter_server::FinancingAdapter for FakeService {
    async fn describe(
        &self,
        _r: Request<pb::DescribeRequest>,
    ) -> Result<Response<pb::AdapterDescription>, Status> {
        Ok(Response::new(self.description.clone()))
    }

    async fn quote(
        &self,
        r: Request<pb::QuoteRequest>,
    ) -> Result<Response<pb::QuoteResponse>, Status> {
        self.quotes.lock().unwrap().push(r.into_inner());
        match &self.behaviour {
            Behaviour::Offers(o) => Ok(Response::new(pb::QuoteResponse {
                offers: o.clone(),
                decline_reason: String::new(),
            })),
            Behaviour::Hung => std::future::pending().await,
            Behaviour::Errors(code) => Err(Status::new(*code, "fake partner failure")),
            Behaviour::Slow(d, o) => {
                tokio::time::sleep(*d).await;
                Ok(Response::new(pb::QuoteResponse {
                    offers: o.clone(),
                    decline_reason: String::new(),
                }))
            }
        }
    }

    async fn accept(
        &self,
        r: Request<pb::AcceptRequest>,
    ) -> Result<Response<pb::AcceptResponse>, Status> {
        let r = r.into_inner();
        let reference = format!("FAKE-{}", r.idempotency_key);
        self.accepts.lock().unwrap().push(r);
        Ok(Response::new(pb::AcceptResponse {
            status: pb::AcceptanceStatus::Accepted as i32,
            partner_reference: reference,
            detail: String::new(),
        }))
    }
}

impl FakePartner {
    /// Starts a partner declaring `required_fields` and behaving as told.
    pub async fn start(
        behaviour: Behaviour,
        required_fields: Vec<pb::ApplicantField>,
    ) -> FakePartner {
        let quotes = Arc::new(Mutex::new(Vec::new()));
        let accepts = Arc::new(Mutex::new(Vec::new()));
        let description = pb::AdapterDescription {
            adapter_id: "fake".into(),
            display_name: "Fake partner".into(),
            product_kinds: vec![pb::ProductKind::PartnerLoan as i32],
            currencies: vec!["CNY".into()],
            min_amount: Some(cny(10_000)),
            max_amount: Some(cny(100_000_000)),
            min_term_months: 1,
            max_term_months: 60,
            required_fields: required_fields.into_iter().map(|f| f as i32).collect(),
            supports_accept: true,
        };
        let service = FakeService {
            behaviour,
            description,
            quotes: quotes.clone(),
            accepts: accepts.clone(),
        };
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(pb::financing_adapter_server::FinancingAdapterServer::new(
                    service,
                ))
                .serve_with_incoming(
                    tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true)),
                ),
        );
        FakePartner {
            addr,
            quotes,
            accepts,
        }
    }

    /// The quotes received so far.
    pub fn quotes(&self) -> Vec<pb::QuoteRequest> {
        self.quotes.lock().unwrap().clone()
    }

    /// The accepts received so far.
    pub fn accepts(&self) -> Vec<pb::AcceptRequest> {
        self.accepts.lock().unwrap().clone()
    }

    /// The `[[adapters]]` entry routing to this partner as `id`.
    pub fn spec(&self, id: &str, timeout_ms: u64) -> AdapterSpec {
        remote_spec(id, &format!("http://{}", self.addr), timeout_ms)
    }
}

/// A `kind = "remote"` entry.
pub fn remote_spec(id: &str, endpoint: &str, timeout_ms: u64) -> AdapterSpec {
    let text = format!(
        "id = {id:?}\nkind = \"remote\"\nendpoint = {endpoint:?}\ntimeout_ms = {timeout_ms}\n"
    );
    toml::from_str(&text).expect("valid remote entry")
}

/// Money in CNY minor units.
pub fn cny(n: i64) -> pb::Money {
    pb::Money {
        currency_code: "CNY".into(),
        amount_minor: n,
    }
}

/// A well-formed partner offer: 12-month annuity at `rate_bps`, probability `p`.
pub fn partner_offer(reference: &str, principal: i64, rate_bps: i32, p: f64) -> pb::PartnerOffer {
    pb::PartnerOffer {
        partner_offer_ref: reference.into(),
        product_kind: pb::ProductKind::PartnerLoan as i32,
        product_name: "Fake loan".into(),
        principal: Some(cny(principal)),
        term_months: 12,
        repayment_method: pb::RepaymentMethod::EqualInstallment as i32,
        qualification: pb::Qualification::PreQualified as i32,
        stated_apr_bps: rate_bps,
        nominal_rate_bps: rate_bps,
        approval_probability: p,
        valid_for: Some(prost_types::Duration {
            seconds: 3600,
            nanos: 0,
        }),
        ..Default::default()
    }
}

/// The README's borrower: refused on a dynamic line adjustment and DTI,
/// owns an unencumbered car, consents to share with partners.
pub fn refused_borrower() -> pb::RouteFinancingRequest {
    pb::RouteFinancingRequest {
        request_id: String::new(),
        applicant: Some(pb::Applicant {
            applicant_id: "app-7f3a9c".into(),
            region: "CN-31".into(),
            credit_score: Some(688),
            monthly_income: Some(cny(2_150_000)),
            income_volatility: Some(0.15),
            monthly_debt_payments: Some(cny(430_000)),
            employment: pb::EmploymentType::Employed as i32,
            collateral: vec![pb::Collateral {
                kind: pb::CollateralKind::Vehicle as i32,
                appraised_value: Some(cny(9_800_000)),
                encumbered: false,
            }],
            consent: Some(pb::Consent {
                share_with_partners: true,
                consent_version: "2026-01".into(),
                given_at: Some(prost_types::Timestamp {
                    seconds: 1_790_000_000,
                    nanos: 0,
                }),
                recipients: vec![],
            }),
        }),
        requested_amount: Some(cny(1_000_000)),
        min_term_months: 6,
        max_term_months: 24,
        purpose: pb::LoanPurpose::Consumption as i32,
        primary_decision: Some(pb::PrimaryDecision {
            refused: true,
            displayed_line: Some(cny(2_000_000)),
            drawable_amount: Some(cny(300_000)),
            reasons: vec![
                pb::RefusalReason::DynamicLineAdjustment as i32,
                pb::RefusalReason::DebtToIncomeTooHigh as i32,
            ],
        }),
        strategy: 0,
        product_kinds: vec![],
        max_offers: 0,
        locale: "en".into(),
    }
}

/// A config with the given channels only (and defaults elsewhere).
pub fn config_with(adapters: Vec<AdapterSpec>) -> Config {
    Config {
        adapters,
        ..Config::default()
    }
}

/// The built-in channels of the embedded default.
pub fn builtin_specs() -> Vec<AdapterSpec> {
    AdapterSpec::embedded_default()
}

/// Whether a spec is a built-in kind.
pub fn is_builtin(spec: &AdapterSpec) -> bool {
    !matches!(spec.kind, AdapterKind::Remote(_))
}
