//! Prometheus text metrics on `server.metrics_listen` (`GET /metrics`).
//!
//! Counters and histograms are plain atomics, updated on the request path
//! without locks; the text is rendered at scrape time, reading circuit
//! breaker states and in-flight counts from the registry as they are then.
//! Labels are channel ids, statuses and gRPC code names only: never an
//! applicant id or any personal value.

use std::convert::Infallible;
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use finroute_core::{ChannelReport, ChannelStatus};
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;

use crate::convert::channel_status_name;
use crate::fanout::Registry;

/// Upper bounds of the latency buckets, in milliseconds.
const BUCKETS_MS: [u64; 12] = [1, 5, 10, 25, 50, 100, 250, 500, 750, 1_000, 2_500, 10_000];

/// A latency histogram in the Prometheus sense (cumulative at render).
#[derive(Debug, Default)]
pub struct Histogram {
    buckets: [AtomicU64; BUCKETS_MS.len()],
    count: AtomicU64,
    sum_us: AtomicU64,
}

impl Histogram {
    pub fn observe(&self, d: Duration) {
        let ms = d.as_millis();
        if let Some(i) = BUCKETS_MS.iter().position(|b| ms <= u128::from(*b)) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_us.fetch_add(
            d.as_micros().min(u128::from(u64::MAX)) as u64,
            Ordering::Relaxed,
        );
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        let mut cumulative = 0;
        for (i, b) in BUCKETS_MS.iter().enumerate() {
            cumulative += self.buckets[i].load(Ordering::Relaxed);
            let le = *b as f64 / 1000.0;
            let _ = writeln!(
                out,
                "{name}_bucket{{{labels}{sep}le=\"{le}\"}} {cumulative}"
            );
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {count}");
        let sum = self.sum_us.load(Ordering::Relaxed) as f64 / 1e6;
        let braced = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let _ = writeln!(out, "{name}_sum{braced} {sum}");
        let _ = writeln!(out, "{name}_count{braced} {count}");
    }
}

const STATUSES: [ChannelStatus; 7] = [
    ChannelStatus::Ok,
    ChannelStatus::NoOffer,
    ChannelStatus::Timeout,
    ChannelStatus::Error,
    ChannelStatus::CircuitOpen,
    ChannelStatus::Ineligible,
    ChannelStatus::NoConsent,
];

fn status_index(s: ChannelStatus) -> usize {
    STATUSES.iter().position(|x| *x == s).unwrap_or(0)
}

/// One channel's series.
#[derive(Debug, Default)]
pub struct ChannelMetrics {
    calls: [AtomicU64; STATUSES.len()],
    latency: Histogram,
    offers_returned: AtomicU64,
    offers_rejected: AtomicU64,
}

impl ChannelMetrics {
    /// Counts one channel report of a fan-out.
    pub fn record(&self, r: &ChannelReport) {
        self.calls[status_index(r.status)].fetch_add(1, Ordering::Relaxed);
        // Channels that were not called have no latency to speak of.
        if !matches!(
            r.status,
            ChannelStatus::CircuitOpen | ChannelStatus::Ineligible | ChannelStatus::NoConsent
        ) {
            self.latency.observe(Duration::from_millis(r.latency_ms));
        }
        self.offers_returned
            .fetch_add(u64::from(r.offers_returned), Ordering::Relaxed);
        self.offers_rejected
            .fetch_add(u64::from(r.offers_rejected), Ordering::Relaxed);
    }
}

/// Why accept failed and the accept loop backed off.
#[derive(Debug, Clone, Copy)]
pub enum AcceptFailure {
    /// EMFILE/ENFILE: the open-file limit of the process or the system.
    FdLimit,
    /// ENOBUFS/ENOMEM.
    Memory,
    Other,
}

const ACCEPT_FAILURES: [&str; 3] = ["fd_limit", "memory", "other"];

/// Why the router closed a connection itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// No request within `server.first_request_timeout_ms` of the accept.
    FirstRequestTimeout,
    /// No call in flight for `server.idle_timeout_ms`.
    IdleTimeout,
}

const CLOSE_REASONS: [&str; 2] = ["first_request_timeout", "idle_timeout"];

impl CloseReason {
    pub fn name(self) -> &'static str {
        CLOSE_REASONS[self as usize]
    }
}

/// The gRPC port's connections (`listener.rs`).
#[derive(Debug, Default)]
pub struct ConnectionMetrics {
    open: AtomicU64,
    accepted: AtomicU64,
    limit_reached: AtomicU64,
    accept_backoffs: [AtomicU64; ACCEPT_FAILURES.len()],
    closed: [AtomicU64; CLOSE_REASONS.len()],
    throttled: AtomicU64,
    body_timeouts: AtomicU64,
}

impl ConnectionMetrics {
    pub fn opened(&self) {
        self.open.fetch_add(1, Ordering::Relaxed);
        self.accepted.fetch_add(1, Ordering::Relaxed);
    }

    pub fn dropped(&self) {
        self.open.fetch_sub(1, Ordering::Relaxed);
    }

    pub fn limit_reached(&self) {
        self.limit_reached.fetch_add(1, Ordering::Relaxed);
    }

    pub fn accept_backoff(&self, why: AcceptFailure) {
        self.accept_backoffs[why as usize].fetch_add(1, Ordering::Relaxed);
    }

    pub fn closed(&self, why: CloseReason) {
        self.closed[why as usize].fetch_add(1, Ordering::Relaxed);
    }

    pub fn throttled(&self) {
        self.throttled.fetch_add(1, Ordering::Relaxed);
    }

    pub fn body_timed_out(&self) {
        self.body_timeouts.fetch_add(1, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "# HELP finroute_connections_open Connections open on the gRPC port.\n# TYPE finroute_connections_open gauge\nfinroute_connections_open {}",
            self.open.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP finroute_connections_accepted_total Connections accepted on the gRPC port.\n# TYPE finroute_connections_accepted_total counter\nfinroute_connections_accepted_total {}",
            self.accepted.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP finroute_connections_limit_reached_total Times server.max_connections was reached (and accepting paused until a connection closed).\n# TYPE finroute_connections_limit_reached_total counter\nfinroute_connections_limit_reached_total {}",
            self.limit_reached.load(Ordering::Relaxed)
        );
        out.push_str("# HELP finroute_accept_backoffs_total Accept failures of the gRPC port the accept loop backed off from, by cause.\n# TYPE finroute_accept_backoffs_total counter\n");
        for (i, name) in ACCEPT_FAILURES.iter().enumerate() {
            let _ = writeln!(
                out,
                "finroute_accept_backoffs_total{{reason=\"{name}\"}} {}",
                self.accept_backoffs[i].load(Ordering::Relaxed)
            );
        }
        out.push_str("# HELP finroute_connections_closed_total Connections the router closed for a timeout, by which.\n# TYPE finroute_connections_closed_total counter\n");
        for (i, name) in CLOSE_REASONS.iter().enumerate() {
            let _ = writeln!(
                out,
                "finroute_connections_closed_total{{reason=\"{name}\"}} {}",
                self.closed[i].load(Ordering::Relaxed)
            );
        }
        let _ = writeln!(
            out,
            "# HELP finroute_connections_throttled_total Times a connection spent its read budget (server.connection_read_bytes_per_second) and was read more slowly.\n# TYPE finroute_connections_throttled_total counter\nfinroute_connections_throttled_total {}",
            self.throttled.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP finroute_request_body_timeouts_total Calls failed because the request body did not arrive within server.request_body_timeout_ms.\n# TYPE finroute_request_body_timeouts_total counter\nfinroute_request_body_timeouts_total {}",
            self.body_timeouts.load(Ordering::Relaxed)
        );
    }
}

/// Router-wide series.
#[derive(Debug, Default)]
pub struct Metrics {
    /// The gRPC port's connections.
    pub connections: ConnectionMetrics,
    /// Routing calls answered, by outcome: ok, stored (request_id
    /// replay), invalid, shed, failed.
    routes: [AtomicU64; 5],
    route_latency: Histogram,
    /// Acceptances finished: accepted, declined.
    acceptances: [AtomicU64; 2],
    /// Partner Accept attempts that failed and will be retried.
    acceptance_retries: AtomicU64,
    store_commit: Histogram,
}

/// How a routing call ended, for `finroute_routes_total`.
#[derive(Debug, Clone, Copy)]
pub enum RouteOutcome {
    Ok,
    Stored,
    Invalid,
    Shed,
    Failed,
}

const ROUTE_OUTCOMES: [&str; 5] = ["ok", "stored", "invalid", "shed", "failed"];

impl Metrics {
    pub fn route(&self, outcome: RouteOutcome, took: Duration) {
        self.routes[outcome as usize].fetch_add(1, Ordering::Relaxed);
        if matches!(outcome, RouteOutcome::Ok) {
            self.route_latency.observe(took);
        }
    }

    pub fn acceptance_finished(&self, accepted: bool) {
        self.acceptances[usize::from(!accepted)].fetch_add(1, Ordering::Relaxed);
    }

    pub fn acceptance_retry(&self) {
        self.acceptance_retries.fetch_add(1, Ordering::Relaxed);
    }

    pub fn store_commit(&self, took: Duration) {
        self.store_commit.observe(took);
    }

    /// The whole exposition text.
    pub fn render(&self, registry: &Registry, routes_in_flight: usize) -> String {
        let mut out = String::with_capacity(8 * 1024);
        out.push_str("# HELP finroute_channel_calls_total Channel reports by status (one per channel per routed application).\n# TYPE finroute_channel_calls_total counter\n");
        for ch in registry.channels() {
            for (i, s) in STATUSES.iter().enumerate() {
                let n = ch.metrics().calls[i].load(Ordering::Relaxed);
                let _ = writeln!(
                    out,
                    "finroute_channel_calls_total{{channel=\"{}\",status=\"{}\"}} {n}",
                    ch.id,
                    channel_status_name(*s)
                );
            }
        }
        out.push_str("# HELP finroute_channel_latency_seconds Time a called channel took to answer or time out.\n# TYPE finroute_channel_latency_seconds histogram\n");
        for ch in registry.channels() {
            ch.metrics().latency.render(
                &mut out,
                "finroute_channel_latency_seconds",
                &format!("channel=\"{}\"", ch.id),
            );
        }
        for (name, help, pick) in [
            (
                "finroute_channel_offers_returned_total",
                "Offers a channel returned.",
                0,
            ),
            (
                "finroute_channel_offers_rejected_total",
                "Offers rejected by validation, pricing or rate caps.",
                1,
            ),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for ch in registry.channels() {
                let m = ch.metrics();
                let n = if pick == 0 {
                    &m.offers_returned
                } else {
                    &m.offers_rejected
                };
                let _ = writeln!(
                    out,
                    "{name}{{channel=\"{}\"}} {}",
                    ch.id,
                    n.load(Ordering::Relaxed)
                );
            }
        }
        out.push_str("# HELP finroute_channel_circuit_state Circuit breaker: 0 closed, 1 open, 2 half-open.\n# TYPE finroute_channel_circuit_state gauge\n");
        for ch in registry.channels() {
            let _ = writeln!(
                out,
                "finroute_channel_circuit_state{{channel=\"{}\"}} {}",
                ch.id,
                ch.breaker_state().as_gauge()
            );
        }
        out.push_str("# HELP finroute_channel_in_flight Quotes in flight per channel.\n# TYPE finroute_channel_in_flight gauge\n");
        for ch in registry.channels() {
            let _ = writeln!(
                out,
                "finroute_channel_in_flight{{channel=\"{}\"}} {}",
                ch.id,
                ch.in_flight()
            );
        }
        out.push_str("# HELP finroute_routes_total Routing calls by outcome.\n# TYPE finroute_routes_total counter\n");
        for (i, name) in ROUTE_OUTCOMES.iter().enumerate() {
            let _ = writeln!(
                out,
                "finroute_routes_total{{outcome=\"{name}\"}} {}",
                self.routes[i].load(Ordering::Relaxed)
            );
        }
        out.push_str("# HELP finroute_route_latency_seconds Routing calls answered with offers, receipt to reply.\n# TYPE finroute_route_latency_seconds histogram\n");
        self.route_latency
            .render(&mut out, "finroute_route_latency_seconds", "");
        let _ = writeln!(
            out,
            "# HELP finroute_routes_in_flight Routing calls in flight.\n# TYPE finroute_routes_in_flight gauge\nfinroute_routes_in_flight {routes_in_flight}"
        );
        out.push_str("# HELP finroute_acceptances_total Acceptances finished, by status.\n# TYPE finroute_acceptances_total counter\n");
        for (i, name) in ["accepted", "declined"].iter().enumerate() {
            let _ = writeln!(
                out,
                "finroute_acceptances_total{{status=\"{name}\"}} {}",
                self.acceptances[i].load(Ordering::Relaxed)
            );
        }
        let _ = writeln!(
            out,
            "# HELP finroute_acceptance_retries_total Partner Accept attempts that failed and are retried with the same key.\n# TYPE finroute_acceptance_retries_total counter\nfinroute_acceptance_retries_total {}",
            self.acceptance_retries.load(Ordering::Relaxed)
        );
        out.push_str("# HELP finroute_store_commit_seconds Time to commit a routed application before its reply.\n# TYPE finroute_store_commit_seconds histogram\n");
        self.store_commit
            .render(&mut out, "finroute_store_commit_seconds", "");
        self.connections.render(&mut out);
        out
    }
}

/// Serves `GET /metrics` on `listener` until the task is aborted.
pub async fn serve(
    listener: TcpListener,
    render: Arc<dyn Fn() -> String + Send + Sync>,
) -> std::io::Result<()> {
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "metrics: accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let render = render.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                let render = render.clone();
                async move {
                    let response = if req.uri().path() == "/metrics" {
                        hyper::Response::builder()
                            .header("content-type", "text/plain; version=0.0.4")
                            .body(Full::new(Bytes::from(render())))
                    } else {
                        hyper::Response::builder()
                            .status(404)
                            .body(Full::new(Bytes::from_static(b"not found: try /metrics\n")))
                    };
                    Ok::<_, Infallible>(response.unwrap_or_default())
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(5))
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_are_cumulative_with_sum_and_count() {
        let h = Histogram::default();
        h.observe(Duration::from_millis(3));
        h.observe(Duration::from_millis(40));
        h.observe(Duration::from_secs(60));
        let mut out = String::new();
        h.render(&mut out, "x", "channel=\"a\"");
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
}
