//! The router's Prometheus metrics, served by axum at `GET /metrics` on
//! `server.metrics_listen`.
//!
//! The series are `prometheus-client` counters, gauges and histograms with
//! typed label sets, updated on the request path without locks (counters
//! and gauges are atomics; a label set is looked up once, when the series
//! is made, not per increment). Values that already live elsewhere are read
//! at scrape time by collectors: each channel's breaker state and quotes in
//! flight ([`ChannelCollector`]), the routing calls in flight
//! ([`GaugeFn`]), what the odds model learned
//! ([`crate::odds::OddsLearner`]).
//!
//! The exposition is the Prometheus text format 0.0.4
//! (`text/plain; version=0.0.4`), byte for byte the names, types, labels
//! and bucket bounds operators' dashboards have always read, and accepted
//! by every Prometheus version (OpenMetrics would rename counter families
//! in `# TYPE` lines and needs its own content type).
//!
//! Labels are channel ids, statuses, outcomes and reasons only: never an
//! applicant id or any personal value.

use std::fmt::Write as _;
use std::future::Future as _;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use finroute_core::{ChannelReport, ChannelStatus};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{
    DescriptorEncoder, EncodeLabelSet, EncodeLabelValue, EncodeMetric, LabelValueEncoder,
    prometheus_text,
};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry as MetricRegistry;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use crate::convert::channel_status_name;
use crate::fanout::Registry;
use crate::recent::{Minute, Recent, minute_now};

/// Upper bounds of the latency buckets, in seconds (1 ms to 10 s).
pub const BUCKETS_SECONDS: [f64; 12] = [
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 10.0,
];

/// A latency histogram with [`BUCKETS_SECONDS`].
fn latency_histogram() -> Histogram {
    Histogram::new(BUCKETS_SECONDS)
}

/// Writes a fixed label value (an enum's wire name).
fn label(encoder: &mut LabelValueEncoder, value: &str) -> Result<(), std::fmt::Error> {
    encoder.write_str(value)
}

/// A counter per value of a fixed label, made up front: every value is
/// exposed (at 0 until counted) and counting is one atomic add.
#[derive(Debug)]
struct Counters<S> {
    family: Family<S, Counter>,
    each: Vec<Counter>,
}

impl<S: Clone + std::hash::Hash + Eq + EncodeLabelSet + std::fmt::Debug + Send + Sync + 'static>
    Counters<S>
{
    fn new(label_sets: impl IntoIterator<Item = S>) -> Self {
        let family = Family::<S, Counter>::default();
        let each = label_sets
            .into_iter()
            .map(|s| family.get_or_create_owned(&s))
            .collect();
        Counters { family, each }
    }

    fn inc(&self, i: usize) {
        if let Some(c) = self.each.get(i) {
            c.inc();
        }
    }
}

// -- label sets -------------------------------------------------------------

/// `{channel}`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ChannelLabels {
    /// The channel's config id.
    pub channel: String,
}

/// `{channel, status}` of `finroute_channel_calls_total`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ChannelCallLabels {
    /// The channel's config id.
    pub channel: String,
    /// The report's status.
    pub status: StatusLabel,
}

/// A channel report's status as a label value (`ok`, `no_offer`, ...).
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub struct StatusLabel(pub ChannelStatus);

impl EncodeLabelValue for StatusLabel {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        label(encoder, channel_status_name(self.0))
    }
}

/// `{outcome}` of `finroute_routes_total`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    /// How the routing call ended.
    pub outcome: RouteOutcome,
}

/// `{status}` of `finroute_acceptances_total`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AcceptanceLabels {
    /// `accepted` or `declined`.
    pub status: AcceptanceStatus,
}

/// `{adapter, kind}` of `finroute_partner_outcomes_total`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PartnerOutcomeLabels {
    /// The channel's config id (the reporting partner key's `adapter_id`).
    pub adapter: String,
    /// The outcome kind, e.g. `FUNDED`.
    pub kind: String,
}

/// How an acceptance finished.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub enum AcceptanceStatus {
    Accepted,
    Declined,
}

impl EncodeLabelValue for AcceptanceStatus {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        label(
            encoder,
            match self {
                AcceptanceStatus::Accepted => "accepted",
                AcceptanceStatus::Declined => "declined",
            },
        )
    }
}

/// `{reason}` of `finroute_accept_backoffs_total`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BackoffLabels {
    /// Why accept failed.
    pub reason: AcceptFailure,
}

/// `{reason}` of `finroute_connections_closed_total`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CloseLabels {
    /// Which timeout closed the connection.
    pub reason: CloseReason,
}

// -- channels ---------------------------------------------------------------

const STATUSES: [ChannelStatus; 11] = [
    ChannelStatus::Ok,
    ChannelStatus::NoOffer,
    ChannelStatus::Timeout,
    ChannelStatus::Error,
    ChannelStatus::CircuitOpen,
    ChannelStatus::Ineligible,
    ChannelStatus::NoConsent,
    ChannelStatus::Excluded,
    ChannelStatus::QuotaExhausted,
    ChannelStatus::SkippedByRule,
    ChannelStatus::NotNeeded,
];

fn status_index(s: ChannelStatus) -> usize {
    STATUSES.iter().position(|x| *x == s).unwrap_or(0)
}

/// One channel's series, owned by its `fanout::Channel` and exposed, with
/// the channel's id as label, by [`ChannelCollector`].
#[derive(Debug)]
pub struct ChannelMetrics {
    calls: [Counter; STATUSES.len()],
    latency: Histogram,
    offers_returned: Counter,
    offers_rejected: Counter,
    /// The last hour, minute by minute (the console's charts).
    recent: Recent,
}

impl Default for ChannelMetrics {
    fn default() -> Self {
        ChannelMetrics {
            calls: Default::default(),
            latency: latency_histogram(),
            offers_returned: Counter::default(),
            offers_rejected: Counter::default(),
            recent: Recent::default(),
        }
    }
}

impl ChannelMetrics {
    /// Counts one channel report of a fan-out.
    pub fn record(&self, r: &ChannelReport) {
        self.calls[status_index(r.status)].inc();
        // Channels that were not called have no latency to speak of.
        let called = !matches!(
            r.status,
            ChannelStatus::CircuitOpen
                | ChannelStatus::Ineligible
                | ChannelStatus::NoConsent
                | ChannelStatus::Excluded
                | ChannelStatus::QuotaExhausted
                | ChannelStatus::SkippedByRule
                | ChannelStatus::NotNeeded
        );
        if called {
            self.latency
                .observe(Duration::from_millis(r.latency_ms).as_secs_f64());
        }
        self.offers_returned.inc_by(u64::from(r.offers_returned));
        self.offers_rejected.inc_by(u64::from(r.offers_rejected));
        self.recent
            .report(minute_now(), r.status, called.then_some(r.latency_ms));
    }

    /// Counts an acceptance of this channel's offer that the partner
    /// finished (confirmed or declined).
    pub fn acceptance_finished(&self, accepted: bool) {
        self.recent.acceptance(minute_now(), accepted);
    }

    /// The last hour of this channel, minute by minute, oldest first.
    pub fn last_hour(&self) -> Vec<Minute> {
        self.recent.hour(minute_now())
    }
}

/// The per-channel families, read from the channels at scrape time (in
/// config order): their counters and latency, breaker state, quotes in
/// flight.
#[derive(Debug)]
pub struct ChannelCollector(Registry);

impl ChannelCollector {
    /// Exposes every channel of `channels`.
    pub fn new(channels: Registry) -> Self {
        ChannelCollector(channels)
    }
}

impl Collector for ChannelCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let channels = self.0.channels();
        let labels: Vec<ChannelLabels> = channels
            .iter()
            .map(|c| ChannelLabels {
                channel: c.id.clone(),
            })
            .collect();
        {
            let mut family = encoder.encode_descriptor(
                "finroute_channel_calls",
                "Channel reports by status (one per channel per routed application).",
                None,
                MetricType::Counter,
            )?;
            for (ch, l) in channels.iter().zip(&labels) {
                for (status, counter) in STATUSES.iter().zip(&ch.metrics().calls) {
                    let set = ChannelCallLabels {
                        channel: l.channel.clone(),
                        status: StatusLabel(*status),
                    };
                    counter.encode(family.encode_family(&set)?)?;
                }
            }
        }
        {
            let mut family = encoder.encode_descriptor(
                "finroute_channel_latency_seconds",
                "Time a called channel took to answer or time out.",
                None,
                MetricType::Histogram,
            )?;
            for (ch, l) in channels.iter().zip(&labels) {
                ch.metrics().latency.encode(family.encode_family(l)?)?;
            }
        }
        for (name, help, returned) in [
            (
                "finroute_channel_offers_returned",
                "Offers a channel returned.",
                true,
            ),
            (
                "finroute_channel_offers_rejected",
                "Offers rejected by validation, pricing or rate caps.",
                false,
            ),
        ] {
            let mut family = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
            for (ch, l) in channels.iter().zip(&labels) {
                let m = ch.metrics();
                let counter = if returned {
                    &m.offers_returned
                } else {
                    &m.offers_rejected
                };
                counter.encode(family.encode_family(l)?)?;
            }
        }
        {
            let mut family = encoder.encode_descriptor(
                "finroute_channel_circuit_state",
                "Circuit breaker: 0 closed, 1 open, 2 half-open.",
                None,
                MetricType::Gauge,
            )?;
            for (ch, l) in channels.iter().zip(&labels) {
                ConstGauge::new(ch.breaker_state().as_gauge()).encode(family.encode_family(l)?)?;
            }
        }
        let mut family = encoder.encode_descriptor(
            "finroute_channel_in_flight",
            "Quotes in flight per channel.",
            None,
            MetricType::Gauge,
        )?;
        for (ch, l) in channels.iter().zip(&labels) {
            let n = i64::try_from(ch.in_flight()).unwrap_or(i64::MAX);
            ConstGauge::new(n).encode(family.encode_family(l)?)?;
        }
        Ok(())
    }
}

/// A gauge without labels whose value is read at scrape time.
pub struct GaugeFn {
    name: &'static str,
    help: &'static str,
    read: Box<dyn Fn() -> i64 + Send + Sync>,
}

impl GaugeFn {
    /// `help` is the `# HELP` text as is (end it with a period).
    pub fn new(
        name: &'static str,
        help: &'static str,
        read: impl Fn() -> i64 + Send + Sync + 'static,
    ) -> Self {
        GaugeFn {
            name,
            help,
            read: Box::new(read),
        }
    }
}

impl std::fmt::Debug for GaugeFn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GaugeFn").field("name", &self.name).finish()
    }
}

impl Collector for GaugeFn {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let gauge = ConstGauge::new((self.read)());
        gauge.encode(encoder.encode_descriptor(self.name, self.help, None, gauge.metric_type())?)
    }
}

// -- connections ------------------------------------------------------------

/// Why accept failed and the accept loop backed off.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub enum AcceptFailure {
    /// EMFILE/ENFILE: the open-file limit of the process or the system.
    FdLimit,
    /// ENOBUFS/ENOMEM.
    Memory,
    Other,
}

const ACCEPT_FAILURES: [AcceptFailure; 3] = [
    AcceptFailure::FdLimit,
    AcceptFailure::Memory,
    AcceptFailure::Other,
];

impl EncodeLabelValue for AcceptFailure {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        label(
            encoder,
            match self {
                AcceptFailure::FdLimit => "fd_limit",
                AcceptFailure::Memory => "memory",
                AcceptFailure::Other => "other",
            },
        )
    }
}

/// How a channel call still working at the reply (late work) ended.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub enum LateResult {
    /// Answered within its late window with offers, stored as late offers.
    Offers,
    /// Answered within its late window without an offer.
    NoOffer,
    /// Timed out or failed within its late window.
    Failed,
    /// Not kept: `routing.max_late_calls` were already running.
    Limit,
    /// Cut by the router's shutdown.
    Shutdown,
    /// Answered with offers, but the application was never stored (the
    /// caller went away or the record failed): dropped.
    Discarded,
}

const LATE_RESULTS: [LateResult; 6] = [
    LateResult::Offers,
    LateResult::NoOffer,
    LateResult::Failed,
    LateResult::Limit,
    LateResult::Shutdown,
    LateResult::Discarded,
];

/// `{result}` of `finroute_late_calls_total`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LateLabels {
    pub result: LateResult,
}

impl EncodeLabelValue for LateResult {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        label(
            encoder,
            match self {
                LateResult::Offers => "offers",
                LateResult::NoOffer => "no_offer",
                LateResult::Failed => "failed",
                LateResult::Limit => "limit",
                LateResult::Shutdown => "shutdown",
                LateResult::Discarded => "discarded",
            },
        )
    }
}

/// Why the router closed a connection itself.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub enum CloseReason {
    /// No request within `server.first_request_timeout_ms` of the accept.
    FirstRequestTimeout,
    /// No call in flight for `server.idle_timeout_ms`.
    IdleTimeout,
}

const CLOSE_REASONS: [CloseReason; 2] =
    [CloseReason::FirstRequestTimeout, CloseReason::IdleTimeout];

impl CloseReason {
    pub fn name(self) -> &'static str {
        match self {
            CloseReason::FirstRequestTimeout => "first_request_timeout",
            CloseReason::IdleTimeout => "idle_timeout",
        }
    }
}

impl EncodeLabelValue for CloseReason {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        label(encoder, self.name())
    }
}

/// The gRPC port's connections (`listener.rs`).
#[derive(Debug)]
pub struct ConnectionMetrics {
    open: Gauge,
    accepted: Counter,
    limit_reached: Counter,
    accept_backoffs: Counters<BackoffLabels>,
    closed: Counters<CloseLabels>,
    throttled: Counter,
    body_timeouts: Counter,
}

impl Default for ConnectionMetrics {
    fn default() -> Self {
        ConnectionMetrics {
            open: Gauge::default(),
            accepted: Counter::default(),
            limit_reached: Counter::default(),
            accept_backoffs: Counters::new(ACCEPT_FAILURES.map(|reason| BackoffLabels { reason })),
            closed: Counters::new(CLOSE_REASONS.map(|reason| CloseLabels { reason })),
            throttled: Counter::default(),
            body_timeouts: Counter::default(),
        }
    }
}

impl ConnectionMetrics {
    pub fn opened(&self) {
        self.open.inc();
        self.accepted.inc();
    }

    pub fn dropped(&self) {
        self.open.dec();
    }

    pub fn limit_reached(&self) {
        self.limit_reached.inc();
    }

    pub fn accept_backoff(&self, why: AcceptFailure) {
        self.accept_backoffs.inc(why as usize);
    }

    pub fn closed(&self, why: CloseReason) {
        self.closed.inc(why as usize);
    }

    pub fn throttled(&self) {
        self.throttled.inc();
    }

    pub fn body_timed_out(&self) {
        self.body_timeouts.inc();
    }

    fn register(&self, r: &mut MetricRegistry) {
        r.register(
            "finroute_connections_open",
            "Connections open on the gRPC port",
            self.open.clone(),
        );
        r.register(
            "finroute_connections_accepted",
            "Connections accepted on the gRPC port",
            self.accepted.clone(),
        );
        r.register(
            "finroute_connections_limit_reached",
            "Times server.max_connections was reached (and accepting paused until a connection closed)",
            self.limit_reached.clone(),
        );
        r.register(
            "finroute_accept_backoffs",
            "Accept failures of the gRPC port the accept loop backed off from, by cause",
            self.accept_backoffs.family.clone(),
        );
        r.register(
            "finroute_connections_closed",
            "Connections the router closed for a timeout, by which",
            self.closed.family.clone(),
        );
        r.register(
            "finroute_connections_throttled",
            "Times a connection spent its read budget (server.connection_read_bytes_per_second) and was read more slowly",
            self.throttled.clone(),
        );
        r.register(
            "finroute_request_body_timeouts",
            "Calls failed because the request body did not arrive within server.request_body_timeout_ms",
            self.body_timeouts.clone(),
        );
    }
}

// -- router-wide ------------------------------------------------------------

/// How a routing call ended, for `finroute_routes_total`.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub enum RouteOutcome {
    Ok,
    Stored,
    Invalid,
    Shed,
    Failed,
}

const ROUTE_OUTCOMES: [RouteOutcome; 5] = [
    RouteOutcome::Ok,
    RouteOutcome::Stored,
    RouteOutcome::Invalid,
    RouteOutcome::Shed,
    RouteOutcome::Failed,
];

impl EncodeLabelValue for RouteOutcome {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        label(
            encoder,
            match self {
                RouteOutcome::Ok => "ok",
                RouteOutcome::Stored => "stored",
                RouteOutcome::Invalid => "invalid",
                RouteOutcome::Shed => "shed",
                RouteOutcome::Failed => "failed",
            },
        )
    }
}

/// Router-wide series.
#[derive(Debug)]
pub struct Metrics {
    /// The gRPC port's connections.
    pub connections: ConnectionMetrics,
    /// Routing calls answered, by outcome: ok, stored (request_id
    /// replay), invalid, shed, failed.
    routes: Counters<OutcomeLabels>,
    route_latency: Histogram,
    /// Acceptances finished: accepted, declined.
    acceptances: Counters<AcceptanceLabels>,
    /// Partner Accept attempts that failed and will be retried.
    acceptance_retries: Counter,
    store_commit: Histogram,
    /// Channel calls kept past the reply, by how they ended.
    late_calls: Counters<LateLabels>,
    /// Late offers stored.
    late_offers: Counter,
    /// Channel calls working past the reply now.
    late_in_flight: Gauge,
    /// Partner outcome events recorded (duplicates not counted), by
    /// channel and kind: the channels are configured ids, so the series
    /// are bounded.
    partner_outcomes: Family<PartnerOutcomeLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            connections: ConnectionMetrics::default(),
            routes: Counters::new(ROUTE_OUTCOMES.map(|outcome| OutcomeLabels { outcome })),
            route_latency: latency_histogram(),
            acceptances: Counters::new(
                [AcceptanceStatus::Accepted, AcceptanceStatus::Declined]
                    .map(|status| AcceptanceLabels { status }),
            ),
            acceptance_retries: Counter::default(),
            store_commit: latency_histogram(),
            late_calls: Counters::new(LATE_RESULTS.map(|result| LateLabels { result })),
            late_offers: Counter::default(),
            late_in_flight: Gauge::default(),
            partner_outcomes: Family::default(),
        }
    }
}

impl Metrics {
    pub fn route(&self, outcome: RouteOutcome, took: Duration) {
        self.routes.inc(outcome as usize);
        if matches!(outcome, RouteOutcome::Ok) {
            self.route_latency.observe(took.as_secs_f64());
        }
    }

    pub fn acceptance_finished(&self, accepted: bool) {
        self.acceptances.inc(usize::from(!accepted));
    }

    /// Makes the outcome series of `adapters` (each kind, at 0), so a
    /// dashboard sees every channel's before its first report.
    pub fn partner_outcome_series<'a>(&self, adapters: impl IntoIterator<Item = &'a str>) {
        for adapter in adapters {
            for kind in finroute_store::OutcomeKind::ALL {
                drop(self.partner_outcomes.get_or_create(&PartnerOutcomeLabels {
                    adapter: adapter.to_owned(),
                    kind: kind.as_str().to_owned(),
                }));
            }
        }
    }

    /// One partner outcome event recorded.
    pub fn partner_outcome(&self, adapter: &str, kind: &str) {
        self.partner_outcomes
            .get_or_create(&PartnerOutcomeLabels {
                adapter: adapter.to_owned(),
                kind: kind.to_owned(),
            })
            .inc();
    }

    pub fn acceptance_retry(&self) {
        self.acceptance_retries.inc();
    }

    pub fn store_commit(&self, took: Duration) {
        self.store_commit.observe(took.as_secs_f64());
    }

    /// A late call ended (`n` of them: a shutdown cuts several at once).
    pub fn late_call(&self, result: LateResult, n: usize) {
        if let Some(i) = LATE_RESULTS.iter().position(|r| *r == result) {
            for _ in 0..n {
                self.late_calls.inc(i);
            }
        }
    }

    /// Late offers stored.
    pub fn late_offers(&self, n: usize) {
        self.late_offers.inc_by(n as u64);
    }

    /// Late calls running now, moved by `delta`.
    pub fn late_in_flight(&self, delta: i64) {
        self.late_in_flight.inc_by(delta);
    }

    /// Adds these series to `r` (shared, not copied: later counts show).
    pub fn register(&self, r: &mut MetricRegistry) {
        r.register(
            "finroute_routes",
            "Routing calls by outcome",
            self.routes.family.clone(),
        );
        r.register(
            "finroute_route_latency_seconds",
            "Routing calls answered with offers, receipt to reply",
            self.route_latency.clone(),
        );
        r.register(
            "finroute_acceptances",
            "Acceptances finished, by status",
            self.acceptances.family.clone(),
        );
        r.register(
            "finroute_acceptance_retries",
            "Partner Accept attempts that failed and are retried with the same key",
            self.acceptance_retries.clone(),
        );
        r.register(
            "finroute_partner_outcomes",
            "Outcomes partners reported for acceptances (PartnerOutcomeService), by channel and kind",
            self.partner_outcomes.clone(),
        );
        r.register(
            "finroute_store_commit_seconds",
            "Time to commit a routed application before its reply",
            self.store_commit.clone(),
        );
        r.register(
            "finroute_late_calls",
            "Channel calls still working at the reply and kept for their late window, by how they ended",
            self.late_calls.family.clone(),
        );
        r.register(
            "finroute_late_offers",
            "Offers that arrived after the reply and were stored with their application",
            self.late_offers.clone(),
        );
        r.register(
            "finroute_late_calls_in_flight",
            "Channel calls working past the reply now",
            self.late_in_flight.clone(),
        );
        self.connections.register(r);
    }
}

/// Renders `registry` as Prometheus text.
pub fn render(registry: &MetricRegistry) -> Result<String, std::fmt::Error> {
    let mut text = String::with_capacity(16 * 1024);
    prometheus_text::encode(&mut text, registry)?;
    Ok(text)
}

async fn scrape(registry: Arc<MetricRegistry>) -> Response {
    match render(&registry) {
        Ok(text) => (
            [(header::CONTENT_TYPE, prometheus_text::CONTENT_TYPE)],
            text,
        )
            .into_response(),
        Err(_) => {
            tracing::warn!("metrics: rendering the exposition failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// How long a connection to the metrics port may live: far more than a
/// scrape takes; a client that sends nothing (or dribbles its request) is
/// closed at this bound, not held for ever.
pub const CONNECTION_LIFE: Duration = Duration::from_secs(10);

/// A connection whose reads fail once its life is over (writes in
/// progress are not cut; the next read ends the connection).
pub struct Bounded<T> {
    io: T,
    end: Pin<Box<tokio::time::Sleep>>,
}

impl<T> Bounded<T> {
    /// `io`, readable for `life` from now.
    pub fn new(io: T, life: Duration) -> Self {
        Bounded {
            io,
            end: Box::pin(tokio::time::sleep(life)),
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Bounded<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.end.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "metrics connection lived its bound",
            )));
        }
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Bounded<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// A listener for axum whose every connection is [`Bounded`] by a life
/// ([`CONNECTION_LIFE`] on the metrics port); accept failures (EMFILE...)
/// are logged and retried after 50 ms.
pub(crate) struct BoundedListener {
    listener: TcpListener,
    life: Duration,
}

impl BoundedListener {
    pub(crate) fn with_life(listener: TcpListener, life: Duration) -> Self {
        BoundedListener { listener, life }
    }
}

impl axum::serve::Listener for BoundedListener {
    type Io = Bounded<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.listener.accept().await {
                Ok((stream, addr)) => {
                    let _ = stream.set_nodelay(true);
                    return (Bounded::new(stream, self.life), addr);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.listener.local_addr()
    }
}

/// Serves `GET /metrics` (anything else is a 404) on `listener` until
/// `stop` is cancelled; then it stops accepting, closes idle connections
/// and returns once the scrapes being answered are done.
pub async fn serve(
    listener: TcpListener,
    registry: Arc<MetricRegistry>,
    stop: CancellationToken,
) -> io::Result<()> {
    let app = axum::Router::new()
        .route(
            "/metrics",
            axum::routing::get(move || scrape(registry.clone())),
        )
        .fallback(|| async { (StatusCode::NOT_FOUND, "not found: try /metrics\n") });
    axum::serve(BoundedListener::with_life(listener, CONNECTION_LIFE), app)
        .with_graceful_shutdown(stop.cancelled_owned())
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_are_cumulative_with_sum_and_count() {
        let family = Family::<ChannelLabels, Histogram>::new_with_constructor(latency_histogram);
        let h = family.get_or_create_owned(&ChannelLabels {
            channel: "a".into(),
        });
        h.observe(Duration::from_millis(3).as_secs_f64());
        h.observe(Duration::from_millis(40).as_secs_f64());
        h.observe(Duration::from_secs(60).as_secs_f64());
        let mut r = MetricRegistry::default();
        r.register("x", "X", family);
        let out = render(&r).expect("render");
        assert!(
            out.contains("x_bucket{channel=\"a\",le=\"0.005\"} 1\n"),
            "{out}"
        );
        assert!(
            out.contains("x_bucket{channel=\"a\",le=\"0.05\"} 2\n"),
            "{out}"
        );
        assert!(
            out.contains("x_bucket{channel=\"a\",le=\"10\"} 2\n"),
            "{out}"
        );
        assert!(
            out.contains("x_bucket{channel=\"a\",le=\"+Inf\"} 3\n"),
            "{out}"
        );
        assert!(out.contains("x_count{channel=\"a\"} 3\n"), "{out}");
        assert!(out.contains("x_sum{channel=\"a\"} 60.043\n"), "{out}");
    }

    /// Every bound renders as the `le` value it always had.
    #[test]
    fn bucket_bounds_render_as_before() {
        let h = latency_histogram();
        let mut r = MetricRegistry::default();
        r.register("x", "X", h);
        let out = render(&r).expect("render");
        for le in [
            "0.001", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "0.75", "1", "2.5",
            "10", "+Inf",
        ] {
            assert!(
                out.contains(&format!("x_bucket{{le=\"{le}\"}} 0\n")),
                "{out}"
            );
        }
    }

    /// A connection is readable for its life, then its reads fail (and
    /// hyper closes it); writes are not cut.
    #[tokio::test(start_paused = true)]
    async fn a_bounded_connection_stops_reading_at_its_bound() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (near, mut far) = tokio::io::duplex(64);
        let mut conn = Bounded::new(near, Duration::from_secs(10));
        far.write_all(b"GET").await.expect("write");
        let mut buf = [0u8; 3];
        conn.read_exact(&mut buf)
            .await
            .expect("read before the bound");
        assert_eq!(&buf, b"GET");
        let t = tokio::time::Instant::now();
        let e = conn
            .read(&mut buf)
            .await
            .expect_err("a read past the bound");
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        assert_eq!(t.elapsed(), Duration::from_secs(10));
        conn.write_all(b"ok").await.expect("writes still go");
    }
}
