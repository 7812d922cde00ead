//! Test support: a real router started on `127.0.0.1:0` with its own SQLite
//! file, fake partners (real gRPC servers on loopback) named by behaviour
//! and recording what they received, and request fixtures.

#![allow(clippy::unwrap_used)]

pub mod h2raw;
pub mod webhook;

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
    /// Where `GET /metrics` is served.
    pub metrics_addr: SocketAddr,
    /// Where the console is served, when `server.console_listen` was set
    /// (port 0 there: a free port picked here).
    pub console_addr: Option<SocketAddr>,
    shutdown: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<Result<(), finroute_server::ServeError>>>,
    _dir: tempfile::TempDir,
}

impl TestRouter {
    /// Starts `config` with a fresh SQLite file and waits until health says SERVING.
    pub async fn start(config: Config) -> TestRouter {
        Self::start_with_clock(config, finroute_server::clock::Clock::system()).await
    }

    /// [`TestRouter::start`] with the review desk on `clock` (a
    /// [`finroute_server::clock::Clock::manual`] the test moves forward).
    pub async fn start_with_clock(
        mut config: Config,
        clock: finroute_server::clock::Clock,
    ) -> TestRouter {
        let dir = tempfile::tempdir().expect("temp dir");
        if config.store.url == Config::default().store.url {
            config.store.url = format!("sqlite://{}", dir.path().join("finroute.db").display());
        }
        if config.server.metrics_listen == Config::default().server.metrics_listen {
            // A free port (bound, read, released): routers in parallel tests
            // must not fight over the default one.
            let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
            config.server.metrics_listen = probe.local_addr().expect("bound address");
        }
        let metrics_addr = config.server.metrics_listen;
        if let Some(at) = config.server.console_listen.as_mut()
            && at.port() == 0
        {
            let probe = std::net::TcpListener::bind(*at).expect("bind loopback");
            *at = probe.local_addr().expect("bound address");
        }
        let console_addr = config.server.console_listen;
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("bound address");
        let (tx, rx) = oneshot::channel::<()>();
        let handle = tokio::spawn(finroute_server::run_with_clock(
            config,
            listener,
            async {
                let _ = rx.await;
            },
            clock,
        ));
        let mut router = TestRouter {
            addr,
            metrics_addr,
            console_addr,
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

    /// The text of `GET /metrics`.
    pub async fn scrape(&self) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut s = tokio::net::TcpStream::connect(self.metrics_addr)
            .await
            .expect("connect to the metrics port");
        s.write_all(b"GET /metrics HTTP/1.1\r\nhost: test\r\nconnection: close\r\n\r\n")
            .await
            .expect("send the scrape");
        let mut text = String::new();
        s.read_to_string(&mut text).await.expect("read the scrape");
        assert!(text.starts_with("HTTP/1.1 200"), "{text}");
        text
    }

    /// A raw channel to the router (health, reflection, review).
    pub async fn channel(&self) -> Channel {
        Channel::from_shared(self.url())
            .expect("valid url")
            .connect()
            .await
            .expect("connect")
    }

    async fn wait_serving(&mut self) {
        use tonic_health::pb::health_client::HealthClient;
        // Up to 60 s: a router starting on a loaded 2-core machine (CI
        // building and testing at once) has been seen to take over 20. A
        // router that stopped (a start error) fails at once instead.
        let give_up = std::time::Instant::now() + Duration::from_secs(60);
        while std::time::Instant::now() < give_up {
            if let Some(handle) = self.handle.take_if(|h| h.is_finished()) {
                let ended = handle.await;
                panic!("the router stopped before it was SERVING: {ended:?}");
            }
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
    /// Odd-numbered calls (1st, 3rd, ...) fail with this code, the others
    /// answer with these offers: a partner failing half the time.
    Alternate(tonic::Code, Vec<pb::PartnerOffer>),
    /// Answers with this error code and message (hostile text, say).
    ErrorsWith(tonic::Code, String),
    /// Answers with exactly this reply.
    Reply(pb::QuoteResponse),
    /// Answers with these offers, each `partner_offer_ref` suffixed with
    /// `-N` for the N-th quote (from 1): every quote's offers are told
    /// apart, so each booking names the one offer it is for.
    Numbered(Vec<pb::PartnerOffer>),
    /// Declines with this typed reason (and its text as `decline_reason`).
    Declines(pb::PartnerDecline),
}

/// What a fake partner does with an `Accept`. Every mode but
/// [`AcceptMode::BooksEveryCall`] is idempotent on the key as the contract
/// demands: a key it has booked gets the same answer again, and books
/// nothing new.
#[derive(Debug, Clone)]
pub enum AcceptMode {
    /// Books at once.
    Book,
    /// Books after a delay (the booking happens when the delay is over).
    Delay(Duration),
    /// Books at once, answers after a delay: a router that dies in the
    /// meantime never hears of a booking the partner made.
    BookThenDelay(Duration),
    /// Books, then answers UNAVAILABLE for the first `n` calls (a partner
    /// that applied the acceptance and then failed to say so).
    BookThenUnavailable(usize),
    /// Declines.
    Decline,
    /// The n-th new key (from 0) is booked if `pattern[n % len]`, else
    /// declined: a partner with a known approval rate.
    Pattern(Vec<bool>),
    /// Breaks the contract: books anew on every call, so one key gets a
    /// new partner reference each time (for `check-adapter`'s tests).
    BooksEveryCall,
}

/// A partner's gRPC FinancingAdapter server on loopback that records every request.
#[derive(Clone)]
pub struct FakePartner {
    pub addr: SocketAddr,
    behaviour: Arc<Mutex<Behaviour>>,
    description: Arc<Mutex<pb::AdapterDescription>>,
    timeouts: Arc<Mutex<Vec<Option<Duration>>>>,
    /// The `grpc-timeout` each accept carried.
    accept_timeouts: Arc<Mutex<Vec<Option<Duration>>>>,
    quotes: Arc<Mutex<Vec<pb::QuoteRequest>>>,
    accepts: Arc<Mutex<Vec<pb::AcceptRequest>>>,
    booked: Arc<Mutex<std::collections::BTreeMap<String, String>>>,
}

#[derive(Clone)]
struct FakeService {
    /// Pattern mode: each key's decision (true = book).
    decided: Arc<Mutex<std::collections::HashMap<String, bool>>>,
    behaviour: Arc<Mutex<Behaviour>>,
    /// The `grpc-timeout` each quote carried.
    timeouts: Arc<Mutex<Vec<Option<Duration>>>>,
    /// The `grpc-timeout` each accept carried.
    accept_timeouts: Arc<Mutex<Vec<Option<Duration>>>>,
    accept_mode: AcceptMode,
    description: Arc<Mutex<pb::AdapterDescription>>,
    quotes: Arc<Mutex<Vec<pb::QuoteRequest>>>,
    accepts: Arc<Mutex<Vec<pb::AcceptRequest>>>,
    /// Idempotency key -> partner reference, one entry per effect.
    booked: Arc<Mutex<std::collections::BTreeMap<String, String>>>,
}

#[tonic::async_trait]
impl pb::financing_adapter_server::FinancingAdapter for FakeService {
    async fn describe(
        &self,
        _r: Request<pb::DescribeRequest>,
    ) -> Result<Response<pb::AdapterDescription>, Status> {
        Ok(Response::new(self.description.lock().unwrap().clone()))
    }

    async fn quote(
        &self,
        r: Request<pb::QuoteRequest>,
    ) -> Result<Response<pb::QuoteResponse>, Status> {
        self.timeouts
            .lock()
            .unwrap()
            .push(finroute_server::deadline::caller_timeout(r.metadata()));
        let n = {
            let mut quotes = self.quotes.lock().unwrap();
            quotes.push(r.into_inner());
            quotes.len()
        };
        let behaviour = self.behaviour.lock().unwrap().clone();
        match &behaviour {
            Behaviour::Alternate(code, _) if n % 2 == 1 => {
                Err(Status::new(*code, "fake partner: every other call fails"))
            }
            Behaviour::Alternate(_, o) => Ok(Response::new(pb::QuoteResponse {
                offers: o.clone(),
                decline_reason: String::new(),
                decline: None,
            })),
            Behaviour::Offers(o) => Ok(Response::new(pb::QuoteResponse {
                offers: o.clone(),
                decline_reason: String::new(),
                decline: None,
            })),
            Behaviour::Declines(d) => Ok(Response::new(pb::QuoteResponse {
                offers: Vec::new(),
                decline_reason: d.text.clone(),
                decline: Some(d.clone()),
            })),
            Behaviour::Numbered(o) => Ok(Response::new(pb::QuoteResponse {
                offers: o
                    .iter()
                    .map(|offer| pb::PartnerOffer {
                        partner_offer_ref: format!("{}-{n}", offer.partner_offer_ref),
                        ..offer.clone()
                    })
                    .collect(),
                decline_reason: String::new(),
                decline: None,
            })),
            Behaviour::Hung => std::future::pending().await,
            Behaviour::Errors(code) => Err(Status::new(*code, "fake partner failure")),
            Behaviour::ErrorsWith(code, message) => Err(Status::new(*code, message.clone())),
            Behaviour::Reply(reply) => Ok(Response::new(reply.clone())),
            Behaviour::Slow(d, o) => {
                tokio::time::sleep(*d).await;
                Ok(Response::new(pb::QuoteResponse {
                    offers: o.clone(),
                    decline_reason: String::new(),
                    decline: None,
                }))
            }
        }
    }

    async fn accept(
        &self,
        r: Request<pb::AcceptRequest>,
    ) -> Result<Response<pb::AcceptResponse>, Status> {
        self.accept_timeouts
            .lock()
            .unwrap()
            .push(finroute_server::deadline::caller_timeout(r.metadata()));
        let r = r.into_inner();
        let key = r.idempotency_key.clone();
        let calls = {
            let mut accepts = self.accepts.lock().unwrap();
            accepts.push(r);
            accepts.len()
        };
        if let AcceptMode::Delay(d) = self.accept_mode {
            tokio::time::sleep(d).await;
        }
        let declined = match &self.accept_mode {
            AcceptMode::Decline => true,
            AcceptMode::Pattern(pattern) if !pattern.is_empty() => {
                let mut decided = self.decided.lock().unwrap();
                let n = decided.len();
                !*decided
                    .entry(key.clone())
                    .or_insert(pattern[n % pattern.len()])
            }
            _ => false,
        };
        if declined {
            return Ok(Response::new(pb::AcceptResponse {
                status: pb::AcceptanceStatus::Declined as i32,
                partner_reference: String::new(),
                detail: "declined by the fake partner".into(),
            }));
        }
        let reference = {
            let mut booked = self.booked.lock().unwrap();
            let n = booked.len() + 1;
            if let AcceptMode::BooksEveryCall = self.accept_mode {
                let reference = format!("FAKE-{n:04}");
                booked.insert(format!("{key}#{n}"), reference.clone());
                reference
            } else {
                booked
                    .entry(key)
                    .or_insert_with(|| format!("FAKE-{n:04}"))
                    .clone()
            }
        };
        if let AcceptMode::BookThenDelay(d) = self.accept_mode {
            tokio::time::sleep(d).await;
        }
        if let AcceptMode::BookThenUnavailable(n) = self.accept_mode
            && calls <= n
        {
            return Err(Status::unavailable(
                "fake partner: booked, then lost the reply",
            ));
        }
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
        Self::start_with(behaviour, required_fields, AcceptMode::Book).await
    }

    /// [`FakePartner::start`] with a chosen way of answering `Accept`.
    pub async fn start_with(
        behaviour: Behaviour,
        required_fields: Vec<pb::ApplicantField>,
        accept_mode: AcceptMode,
    ) -> FakePartner {
        Self::start_full(0, behaviour, required_fields, accept_mode, None).await
    }

    /// A partner serving TLS with this certificate and key (PEM), and
    /// requiring client certificates from `client_ca` (PEM) if given.
    pub async fn start_tls(
        behaviour: Behaviour,
        cert_pem: String,
        key_pem: String,
        client_ca: Option<String>,
    ) -> FakePartner {
        let mut tls = tonic::transport::ServerTlsConfig::new()
            .identity(tonic::transport::Identity::from_pem(cert_pem, key_pem));
        if let Some(ca) = client_ca {
            tls = tls.client_ca_root(tonic::transport::Certificate::from_pem(ca));
        }
        Self::start_full(0, behaviour, vec![], AcceptMode::Book, Some(tls)).await
    }

    /// [`FakePartner::start`] on a chosen loopback port (0: any).
    pub async fn start_on(
        port: u16,
        behaviour: Behaviour,
        required_fields: Vec<pb::ApplicantField>,
    ) -> FakePartner {
        Self::start_full(port, behaviour, required_fields, AcceptMode::Book, None).await
    }

    /// [`FakePartner::start_with`] answering `Describe` with `description`
    /// (start from [`fake_description`] and change what the test needs,
    /// e.g. its parties).
    pub async fn start_described(
        behaviour: Behaviour,
        description: pb::AdapterDescription,
        accept_mode: AcceptMode,
    ) -> FakePartner {
        Self::start_full_described(0, behaviour, description, accept_mode, None).await
    }

    async fn start_full(
        port: u16,
        behaviour: Behaviour,
        required_fields: Vec<pb::ApplicantField>,
        accept_mode: AcceptMode,
        tls: Option<tonic::transport::ServerTlsConfig>,
    ) -> FakePartner {
        let description = fake_description(required_fields);
        Self::start_full_described(port, behaviour, description, accept_mode, tls).await
    }

    async fn start_full_described(
        port: u16,
        behaviour: Behaviour,
        description: pb::AdapterDescription,
        accept_mode: AcceptMode,
        tls: Option<tonic::transport::ServerTlsConfig>,
    ) -> FakePartner {
        let booked = Arc::new(Mutex::new(std::collections::BTreeMap::new()));
        let quotes = Arc::new(Mutex::new(Vec::new()));
        let accepts = Arc::new(Mutex::new(Vec::new()));
        let description = Arc::new(Mutex::new(description));
        let behaviour = Arc::new(Mutex::new(behaviour));
        let timeouts = Arc::new(Mutex::new(Vec::new()));
        let accept_timeouts = Arc::new(Mutex::new(Vec::new()));
        let service = FakeService {
            behaviour: behaviour.clone(),
            timeouts: timeouts.clone(),
            accept_timeouts: accept_timeouts.clone(),
            accept_mode,
            booked: booked.clone(),
            decided: Default::default(),
            description: description.clone(),
            quotes: quotes.clone(),
            accepts: accepts.clone(),
        };
        let listener = TcpListener::bind(("127.0.0.1", port)).await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let mut builder = tonic::transport::Server::builder();
        if let Some(tls) = tls {
            builder = builder.tls_config(tls).expect("valid partner TLS config");
        }
        // Adapters serve health (api.md); SERVING for "" from the start.
        let (_, health) = tonic_health::server::health_reporter();
        tokio::spawn(
            builder
                .add_service(health)
                .add_service(pb::financing_adapter_server::FinancingAdapterServer::new(
                    service,
                ))
                .serve_with_incoming(
                    tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true)),
                ),
        );
        FakePartner {
            addr,
            behaviour,
            description,
            timeouts,
            accept_timeouts,
            quotes,
            accepts,
            booked,
        }
    }

    /// Changes the parties the partner's next Describe names (by default
    /// its lender of record, [`fake_lender`]).
    pub fn set_description_parties(&self, parties: Vec<pb::Party>) {
        self.description.lock().unwrap().parties = parties;
    }

    /// Changes what the partner does with the next quotes.
    pub fn set_behaviour(&self, behaviour: Behaviour) {
        *self.behaviour.lock().unwrap() = behaviour;
    }

    /// The `grpc-timeout` every quote carried (None: no deadline sent).
    pub fn quote_timeouts(&self) -> Vec<Option<Duration>> {
        self.timeouts.lock().unwrap().clone()
    }

    /// The `grpc-timeout` of every accept received, in order.
    pub fn accept_timeouts(&self) -> Vec<Option<Duration>> {
        self.accept_timeouts.lock().unwrap().clone()
    }

    /// Acceptances booked: idempotency key -> partner reference. One entry
    /// per effect, however many calls carried the key.
    pub fn booked(&self) -> std::collections::BTreeMap<String, String> {
        self.booked.lock().unwrap().clone()
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

/// What a [`FakePartner`] answers to `Describe` by default: partner loans
/// in CNY, 100 to 1 000 000 CNY, 1..=60 months, `required_fields`, Accept
/// supported, the lender of record [`fake_lender`].
pub fn fake_description(required_fields: Vec<pb::ApplicantField>) -> pb::AdapterDescription {
    pb::AdapterDescription {
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
        parties: vec![fake_lender()],
        advertised_apr_from_bps: 0,
    }
}

/// The registration id of the lender of record every fake partner describes.
pub const FAKE_LENDER_ID: &str = "91310000FAKELEND0X";

/// The lender of record every fake partner describes.
pub fn fake_lender() -> pb::Party {
    pb::Party {
        role: pb::PartyRole::Lender as i32,
        legal_name: "Fake Lender Bank Co., Ltd.".into(),
        registration_id: FAKE_LENDER_ID.into(),
        contact: "+86 400 000 0000".into(),
        lender_type: pb::LenderType::Bank as i32,
    }
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

/// A typed decline: `reason` with these missing fields and no text.
pub fn decline(reason: pb::DeclineReason, missing: &[pb::ApplicantField]) -> pb::PartnerDecline {
    pb::PartnerDecline {
        reason: reason as i32,
        missing_fields: missing.iter().map(|f| *f as i32).collect(),
        text: String::new(),
    }
}

/// A counter-offer: [`partner_offer`] over `term_months`, marked adjusted
/// (`changed`, for `reason`).
pub fn counter_offer(
    reference: &str,
    principal: i64,
    term_months: i32,
    rate_bps: i32,
    changed: &[pb::AdjustedTerm],
    reason: pb::DeclineReason,
) -> pb::PartnerOffer {
    pb::PartnerOffer {
        term_months,
        adjustment: Some(pb::OfferAdjustment {
            changed: changed.iter().map(|c| *c as i32).collect(),
            reason: reason as i32,
            text: String::new(),
        }),
        ..partner_offer(reference, principal, rate_bps, 0.7)
    }
}

/// A CONDITIONAL [`partner_offer`] with these conditions.
pub fn conditional_offer(
    reference: &str,
    principal: i64,
    rate_bps: i32,
    conditions: &[(pb::ConditionKind, &str)],
) -> pb::PartnerOffer {
    pb::PartnerOffer {
        qualification: pb::Qualification::Conditional as i32,
        conditions: conditions
            .iter()
            .map(|(kind, text)| pb::OfferCondition {
                kind: *kind as i32,
                description: (*text).into(),
            })
            .collect(),
        ..partner_offer(reference, principal, rate_bps, 0.7)
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
                named_recipients: Vec::new(),
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
        exclude_adapter_ids: Vec::new(),
        only_adapter_ids: Vec::new(),
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

/// The variable naming the PostgreSQL test database (set by `.ci/run`).
pub const PG_URL_VAR: &str = "FINROUTE_TEST_DATABASE_URL";

/// A fresh schema of the PostgreSQL test database, dropped with the guard.
pub struct PgSchema {
    /// A store URL whose connections use only this schema.
    pub url: String,
    admin_url: String,
    schema: String,
}

impl PgSchema {
    /// A new schema, or `None` (with a line saying so) when
    /// `FINROUTE_TEST_DATABASE_URL` is unset. Set and unreachable: panics,
    /// so CI fails rather than skips.
    pub async fn create() -> Option<PgSchema> {
        use sqlx::{AssertSqlSafe, Connection, PgConnection};
        let Ok(admin_url) = std::env::var(PG_URL_VAR) else {
            // On the process's stderr, past the test harness's capture
            // (which swallows `eprintln!` of a passing test): a skip must
            // be seen.
            use std::io::Write;
            let thread = std::thread::current();
            let test = thread.name().unwrap_or("this test");
            let _ = writeln!(
                std::io::stderr().lock(),
                "skipped: PostgreSQL part of {test} ({PG_URL_VAR} is not set)"
            );
            return None;
        };
        let schema = format!("finroute_it_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::connect(&admin_url)
            .await
            .unwrap_or_else(|e| panic!("{PG_URL_VAR} is set but PostgreSQL is unreachable: {e}"));
        sqlx::query(AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .execute(&mut admin)
            .await
            .expect("create the test schema");
        let _ = admin.close().await;
        let separator = if admin_url.contains('?') { '&' } else { '?' };
        Some(PgSchema {
            url: format!("{admin_url}{separator}options[search_path]={schema}"),
            admin_url,
            schema,
        })
    }

    /// The `host:port` of the database server (port 5432 when the URL
    /// names none), for a [`CuttableProxy`] in front of it.
    pub fn server_addr(&self) -> SocketAddr {
        use std::net::ToSocketAddrs;
        let (authority, _) = split_authority(&self.url);
        let host_port = authority.rsplit('@').next().unwrap_or(authority);
        let host_port = if host_port.contains(':') {
            host_port.to_owned()
        } else {
            format!("{host_port}:5432")
        };
        host_port
            .to_socket_addrs()
            .expect("resolve the database host")
            .next()
            .expect("an address for the database host")
    }

    /// [`PgSchema::url`] with the server replaced by `addr` (a proxy's).
    pub fn url_via(&self, addr: SocketAddr) -> String {
        let (authority, start) = split_authority(&self.url);
        let user = authority
            .rfind('@')
            .map(|i| &authority[..=i])
            .unwrap_or_default();
        format!(
            "{}{user}{addr}{}",
            &self.url[..start],
            &self.url[start + authority.len()..]
        )
    }

    /// Drops the schema (call at the end of the test).
    pub async fn drop_schema(self) {
        use sqlx::{AssertSqlSafe, Connection, PgConnection};
        if let Ok(mut admin) = PgConnection::connect(&self.admin_url).await {
            let _ = sqlx::query(AssertSqlSafe(format!(
                "DROP SCHEMA {} CASCADE",
                self.schema
            )))
            .execute(&mut admin)
            .await;
            let _ = admin.close().await;
        }
    }
}

/// The authority (`user@host:port`) of a URL and where it starts.
fn split_authority(url: &str) -> (&str, usize) {
    let start = url.find("://").map_or(0, |i| i + 3);
    let rest = &url[start..];
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    (&rest[..end], start)
}

/// A TCP proxy on loopback in front of `upstream` that a test can cut and
/// restore, for "the database goes away and comes back".
///
/// [`CuttableProxy::cut`] closes every proxied connection (both sides) and
/// stops listening, so new connections are refused (ECONNREFUSED, as from
/// a stopped server); [`CuttableProxy::restore`] listens again on the same
/// port.
pub struct CuttableProxy {
    addr: SocketAddr,
    upstream: SocketAddr,
    state: Arc<ProxyState>,
}

struct ProxyState {
    /// Bumped by every cut: connections of an older generation end.
    generation: tokio::sync::watch::Sender<u64>,
    accept_task: Mutex<Option<JoinHandle<()>>>,
    connections: std::sync::atomic::AtomicUsize,
}

impl CuttableProxy {
    /// Listens on `127.0.0.1:0` and forwards to `upstream`.
    pub async fn start(upstream: SocketAddr) -> CuttableProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy address");
        let (generation, _) = tokio::sync::watch::channel(0);
        let proxy = CuttableProxy {
            addr,
            upstream,
            state: Arc::new(ProxyState {
                generation,
                accept_task: Mutex::new(None),
                connections: std::sync::atomic::AtomicUsize::new(0),
            }),
        };
        proxy.serve(listener);
        proxy
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Connections accepted so far (all generations).
    pub fn connections(&self) -> usize {
        self.state
            .connections
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Closes every connection and refuses new ones until [`restore`](Self::restore).
    pub fn cut(&self) {
        if let Some(task) = self.state.accept_task.lock().unwrap().take() {
            task.abort(); // drops the listener
        }
        self.state.generation.send_modify(|g| *g += 1);
    }

    /// Accepts connections again, on the same port.
    pub async fn restore(&self) {
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket.set_reuseaddr(true).expect("SO_REUSEADDR");
        let mut tries = 0;
        let listener = loop {
            // The aborted accept task may not have dropped its listener yet.
            match socket.bind(self.addr) {
                Ok(()) => break socket.listen(128).expect("listen"),
                Err(e) if tries < 100 => {
                    tries += 1;
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                Err(e) => panic!("rebind the proxy port {}: {e}", self.addr),
            }
        };
        self.serve(listener);
    }

    fn serve(&self, listener: TcpListener) {
        let state = self.state.clone();
        let upstream = self.upstream;
        // Every connection this listener accepts belongs to the generation
        // it was opened in, and ends with it (even one accepted in the
        // moment between a cut and the listener's drop).
        let born = *state.generation.borrow();
        let task = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                state
                    .connections
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let mut cut = state.generation.subscribe();
                tokio::spawn(async move {
                    let proxied = async {
                        let mut server = tokio::net::TcpStream::connect(upstream).await?;
                        let _ = client.set_nodelay(true);
                        let _ = server.set_nodelay(true);
                        tokio::io::copy_bidirectional(&mut client, &mut server).await
                    };
                    tokio::select! {
                        _ = proxied => {}
                        _ = cut.wait_for(|g| *g != born) => {}
                    }
                    // Dropping both sockets closes them.
                });
            }
        });
        *self.state.accept_task.lock().unwrap() = Some(task);
    }
}

impl Drop for CuttableProxy {
    fn drop(&mut self) {
        self.cut();
    }
}

/// How a misbehaving "partner" port treats every connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortMisbehaviour {
    /// Accepts and never sends a byte (holds the socket).
    Silent,
    /// Accepts and closes at once.
    Reset,
    /// Accepts, writes bytes that are not HTTP/2, closes.
    Garbage,
}

/// A TCP port on loopback that misbehaves as told, for fault injection.
pub async fn misbehaving_port(how: PortMisbehaviour) -> SocketAddr {
    use tokio::io::AsyncWriteExt;
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((mut socket, _)) = listener.accept().await {
            match how {
                PortMisbehaviour::Silent => held.push(socket),
                PortMisbehaviour::Reset => {
                    let _ = socket.set_zero_linger();
                    drop(socket);
                }
                PortMisbehaviour::Garbage => {
                    let _ = socket
                        .write_all(b"HTTP/1.1 418 I'm a teapot\r\n\r\n\x00\xff\xfe garbage")
                        .await;
                    drop(socket);
                }
            }
        }
    });
    addr
}

/// A request carrying a `grpc-timeout` of `ms` milliseconds.
pub fn with_timeout<T>(msg: T, ms: u64) -> tonic::Request<T> {
    let mut r = tonic::Request::new(msg);
    r.set_timeout(Duration::from_millis(ms));
    r
}

/// The channel report of adapter `id` in an answer (panics if absent).
pub fn report_of<'a>(r: &'a pb::RouteFinancingResponse, id: &str) -> &'a pb::ChannelReport {
    r.channel_reports
        .iter()
        .find(|c| c.adapter_id == id)
        .unwrap_or_else(|| panic!("no report for {id}"))
}

/// The fields a refused call named (its BadRequest's field violations, in
/// order; none without a BadRequest).
pub fn violated_fields(s: &Status) -> Vec<String> {
    use tonic_types::StatusExt;
    s.get_details_bad_request()
        .map(|b| b.field_violations.into_iter().map(|v| v.field).collect())
        .unwrap_or_default()
}

/// The status of adapter `id`'s channel in an answer.
pub fn status_of(r: &pb::RouteFinancingResponse, id: &str) -> pb::ChannelStatus {
    pb::ChannelStatus::try_from(report_of(r, id).status).expect("a known ChannelStatus")
}
