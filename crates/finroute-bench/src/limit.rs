//! The limit rows of `bench/run.sh`: a bare service on the router's proto
//! that does, per RouteFinancing call, only the work no router can avoid,
//! so each routed row can be quoted as a share of it (issue 21):
//!
//! 1. decode the request (tonic's prost decoder, as the router);
//! 2. with partners given (the bare fan-out): call `Quote` on each of them
//!    concurrently over one HTTP/2 channel per partner, with the caller's
//!    applicant, amount and terms, and wait for every answer;
//! 3. make the durable record the router makes: the same stored bytes (the
//!    application row with the encoded response, one row per offer, one
//!    per channel report) through `finroute-store`'s group commit, on a
//!    fresh id;
//! 4. answer with a pre-built `RouteFinancingResponse` (the router's own
//!    answer to the same request, captured with `finroute-bench capture`),
//!    encoded on the way out as tonic encodes any message.
//!
//! What it leaves out is exactly the router's own work: validation, the
//! channels' pricing and checks, ranking, the plan, the explanation,
//! building the response, metrics and logs.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use finroute_proto::v1 as pb;
use finroute_store::{ApplicationRecord, ChannelReportRecord, OfferRecord, Store};
use prost::Message;
use tonic::body::Body;
use tonic::codec::{Codec, EncodeBuf, Encoder};
use tonic::server::{Grpc, NamedService, UnaryService};
use tonic::transport::Channel;
use tonic::{Request, Response, Status};

type BoxFuture<T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'static>>;

const ROUTE_PATH: &str = "/finroute.v1.FinancingRouter/RouteFinancing";
/// Each partner call's budget (the routers' `timeout_ms` in bench/run.sh).
const PARTNER_TIMEOUT: Duration = Duration::from_millis(300);

/// What every call shares.
struct State {
    store: Store,
    /// The answer sent to every call.
    response: Arc<pb::RouteFinancingResponse>,
    /// Its encoding, the bytes the router stores.
    encoded: prost::bytes::Bytes,
    /// The record of one call, ids filled in per call.
    template: ApplicationRecord,
    partners: Vec<pb::financing_adapter_client::FinancingAdapterClient<Channel>>,
    seq: AtomicU64,
    failed: AtomicU64,
}

impl State {
    /// The record for call number `n`: the template under fresh ids of
    /// the router's length (`app_` + 32 hex digits).
    fn record(&self, n: u64) -> ApplicationRecord {
        let id = format!("app_{n:032x}");
        let mut r = self.template.clone();
        r.application_id.clone_from(&id);
        r.response = self.encoded.clone();
        for (i, o) in r.offers.iter_mut().enumerate() {
            o.offer_id = format!("off_{n:030x}{i:02x}");
            o.application_id.clone_from(&id);
        }
        r
    }

    async fn fan_out(&self, request: &pb::RouteFinancingRequest, n: u64) -> Result<(), Status> {
        if self.partners.is_empty() {
            return Ok(());
        }
        let calls = self.partners.iter().enumerate().map(|(i, client)| {
            let quote = pb::QuoteRequest {
                quote_id: format!("q_{n:030x}{i:02x}"),
                applicant: request.applicant.clone(),
                requested_amount: request.requested_amount.clone(),
                min_term_months: request.min_term_months,
                max_term_months: request.max_term_months,
                purpose: request.purpose,
                locale: request.locale.clone(),
            };
            let mut client = client.clone();
            async move {
                let mut r = Request::new(quote);
                r.set_timeout(PARTNER_TIMEOUT);
                tokio::time::timeout(PARTNER_TIMEOUT, client.quote(r)).await
            }
        });
        for answer in futures::future::join_all(calls).await {
            match answer {
                Ok(Ok(_)) => {}
                Ok(Err(s)) => return Err(Status::unavailable(format!("partner: {}", s.message()))),
                Err(_) => return Err(Status::deadline_exceeded("partner did not answer")),
            }
        }
        Ok(())
    }
}

/// The RouteFinancing handler.
#[derive(Clone)]
struct Route(Arc<State>);

impl UnaryService<pb::RouteFinancingRequest> for Route {
    type Response = Arc<pb::RouteFinancingResponse>;
    type Future = BoxFuture<Result<Response<Self::Response>, Status>>;

    fn call(&mut self, request: Request<pb::RouteFinancingRequest>) -> Self::Future {
        let state = Arc::clone(&self.0);
        Box::pin(async move {
            let request = request.into_inner();
            let n = state.seq.fetch_add(1, Ordering::Relaxed);
            let done = async {
                state.fan_out(&request, n).await?;
                state
                    .store
                    .record_application(state.record(n))
                    .await
                    .map_err(|e| Status::internal(format!("store: {e}")))
            };
            if let Err(s) = done.await {
                // bench/run.sh counts these lines (h2load counts a gRPC
                // error as a 2xx): the 1st, 2nd, 4th, 8th... failure.
                let failed = state.failed.fetch_add(1, Ordering::Relaxed) + 1;
                if failed.is_power_of_two() {
                    eprintln!("limit call failed ({failed} so far): {}", s.message());
                }
                return Err(s);
            }
            Ok(Response::new(Arc::clone(&state.response)))
        })
    }
}

/// Decodes the request as tonic's prost codec does; encodes a shared
/// response message per call.
#[derive(Default)]
struct LimitCodec;

struct SharedEncoder;

impl Encoder for SharedEncoder {
    type Item = Arc<pb::RouteFinancingResponse>;
    type Error = Status;

    fn encode(&mut self, item: Self::Item, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        item.encode(dst)
            .map_err(|e| Status::internal(format!("encode: {e}")))
    }
}

impl Codec for LimitCodec {
    type Encode = Arc<pb::RouteFinancingResponse>;
    type Decode = pb::RouteFinancingRequest;
    type Encoder = SharedEncoder;
    type Decoder = tonic_prost::ProstDecoder<pb::RouteFinancingRequest>;

    fn encoder(&mut self) -> SharedEncoder {
        SharedEncoder
    }

    fn decoder(&mut self) -> Self::Decoder {
        tonic_prost::ProstDecoder::default()
    }
}

/// The service on the router's name: RouteFinancing, every other method
/// UNIMPLEMENTED.
#[derive(Clone)]
struct LimitServer(Arc<State>);

impl NamedService for LimitServer {
    const NAME: &'static str = "finroute.v1.FinancingRouter";
}

impl<B> tower::Service<http::Request<B>> for LimitServer
where
    B: http_body::Body + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>> + Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        if req.uri().path() != ROUTE_PATH {
            return Box::pin(async { Ok(Status::unimplemented("limit service").into_http()) });
        }
        let route = Route(Arc::clone(&self.0));
        Box::pin(async move {
            let mut grpc = Grpc::new(LimitCodec)
                .max_decoding_message_size(4 << 20)
                .max_encoding_message_size(16 << 20);
            Ok(grpc.unary(route, req).await)
        })
    }
}

/// The store's name of a proto enum value, as the router writes it:
/// `PRODUCT_KIND_SECURED_LOAN` -> `secured_loan`, `CHANNEL_STATUS_OK` -> `ok`.
fn enum_name<E>(name: Result<&str, E>) -> String {
    let name = name.unwrap_or("");
    let short = ["PRODUCT_KIND_", "CHANNEL_STATUS_"]
        .iter()
        .find_map(|p| name.strip_prefix(p))
        .unwrap_or(name);
    short.to_ascii_lowercase()
}

/// The record the router makes of `response`, ids to be filled in.
fn template(response: &pb::RouteFinancingResponse) -> ApplicationRecord {
    let tenant = "default".to_owned();
    let offers = (response.offers.iter())
        .map(|o| {
            let money = o.principal.clone().unwrap_or_default();
            OfferRecord {
                offer_id: String::new(),
                application_id: String::new(),
                tenant: tenant.clone(),
                adapter_id: o.adapter_id.clone(),
                partner_offer_ref: o.partner_offer_ref.clone(),
                product_kind: enum_name(
                    pb::ProductKind::try_from(o.product_kind).map(|k| k.as_str_name()),
                ),
                currency: money.currency_code,
                principal_minor: money.amount_minor,
                term_months: o.term_months,
                apr_bps: o.apr_bps,
                approval_odds: o.approval_odds,
                rank: o.rank,
                expires_at_ms: o
                    .expires_at
                    .as_ref()
                    .map_or(0, |t| t.seconds * 1000 + i64::from(t.nanos) / 1_000_000),
                risk_band: "C".into(),
                prior_odds: Some(o.approval_odds),
                partner_odds: None,
            }
        })
        .collect();
    let channel_reports = (response.channel_reports.iter())
        .map(|r| ChannelReportRecord {
            adapter_id: r.adapter_id.clone(),
            product_kind: enum_name(
                pb::ProductKind::try_from(r.product_kind).map(|k| k.as_str_name()),
            ),
            status: enum_name(pb::ChannelStatus::try_from(r.status).map(|k| k.as_str_name())),
            latency_ms: r
                .latency
                .as_ref()
                .map_or(0, |d| d.seconds * 1000 + i64::from(d.nanos) / 1_000_000),
            offers_returned: r.offers_returned,
            offers_rejected: r.offers_rejected,
            detail: r.detail.clone(),
        })
        .collect();
    ApplicationRecord {
        application_id: String::new(),
        tenant,
        request_id: String::new(),
        request_fingerprint: vec![0x5a; 32],
        applicant_id: "app-7f3a9c".into(),
        applicant_fingerprint: vec![0xa5; 32],
        created_at_ms: response.created_at.as_ref().map_or(0, |t| t.seconds * 1000),
        partial: response.partial,
        response: prost::bytes::Bytes::new(),
        offers,
        channel_reports,
    }
}

/// `finroute-bench limit STORE_URL RESPONSE_FILE [PARTNER_URL...]`.
/// Which response bytes the limit service stores (`--stored=`): what the
/// router stores, or a bound on what a smaller stored record could gain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stored {
    /// The encoded response as sent (what the router stores).
    Full,
    /// The response without each offer's schedule and disclosures (the
    /// size of GetApplication's BASIC view): about what a compact record
    /// that rebuilds them would store.
    Basic,
    /// No response bytes at all: the most any smaller record could gain.
    None,
}

impl Stored {
    /// The option's value, `None` for an unknown one.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "full" => Some(Self::Full),
            "basic" => Some(Self::Basic),
            "none" => Some(Self::None),
            _ => None,
        }
    }

    fn bytes(self, response: &pb::RouteFinancingResponse, encoded: Vec<u8>) -> prost::bytes::Bytes {
        match self {
            Self::Full => encoded.into(),
            Self::Basic => {
                let mut r = response.clone();
                for o in &mut r.offers {
                    o.schedule.clear();
                    o.disclosures.clear();
                }
                r.encode_to_vec().into()
            }
            Self::None => prost::bytes::Bytes::new(),
        }
    }
}

pub fn run(store_url: &str, response_file: &str, partners: &[String], stored: Stored) -> ExitCode {
    let encoded = match std::fs::read(response_file) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("cannot read {response_file}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let response = match pb::RouteFinancingResponse::decode(encoded.as_slice()) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{response_file} is not a RouteFinancingResponse: {e}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = match crate::runtime(tokio::runtime::Builder::new_multi_thread()) {
        Ok(r) => r,
        Err(code) => return code,
    };
    runtime.block_on(async move {
        let store = match Store::connect(store_url).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("store {store_url}: {e}");
                return ExitCode::FAILURE;
            }
        };
        let mut clients = Vec::new();
        for url in partners {
            match Channel::from_shared(url.clone()) {
                Ok(e) => clients.push(pb::financing_adapter_client::FinancingAdapterClient::new(
                    e.tcp_nodelay(true).connect_lazy(),
                )),
                Err(e) => {
                    eprintln!("partner {url}: {e}");
                    return ExitCode::from(2);
                }
            }
        }
        let state = Arc::new(State {
            store,
            template: template(&response),
            encoded: stored.bytes(&response, encoded),
            partners: clients,
            response: Arc::new(response),
            seq: AtomicU64::new(1),
            failed: AtomicU64::new(0),
        });
        let listener =
            match tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await {
                Ok(l) => l,
                Err(e) => {
                    eprintln!("cannot listen: {e}");
                    return ExitCode::FAILURE;
                }
            };
        match listener.local_addr() {
            Ok(a) => eprintln!("limit ready: listening on {a}"),
            Err(e) => {
                eprintln!("cannot listen: {e}");
                return ExitCode::FAILURE;
            }
        }
        let incoming =
            tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
        let served = tonic::transport::Server::builder()
            .add_service(LimitServer(state))
            .serve_with_incoming(incoming)
            .await;
        match served {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("serve: {e}");
                ExitCode::FAILURE
            }
        }
    })
}

/// `finroute-bench capture ADDR FILE`: calls RouteFinancing on the router
/// at ADDR with the benchmark's request and writes the encoded answer.
pub fn capture(addr: &str, path: &str) -> ExitCode {
    let runtime = match crate::runtime(tokio::runtime::Builder::new_current_thread()) {
        Ok(r) => r,
        Err(code) => return code,
    };
    runtime.block_on(async move {
        let channel = match Channel::from_shared(format!("http://{addr}")) {
            Ok(e) => match e.connect().await {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("connect {addr}: {e}");
                    return ExitCode::FAILURE;
                }
            },
            Err(e) => {
                eprintln!("{addr}: {e}");
                return ExitCode::from(2);
            }
        };
        let mut client = pb::financing_router_client::FinancingRouterClient::new(channel);
        match client
            .route_financing(finroute_testkit::refused_borrower())
            .await
        {
            Ok(r) => match std::fs::write(path, r.into_inner().encode_to_vec()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("cannot write {path}: {e}");
                    ExitCode::FAILURE
                }
            },
            Err(s) => {
                eprintln!("RouteFinancing: {s:?}");
                ExitCode::FAILURE
            }
        }
    })
}
