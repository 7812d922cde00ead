//! One channel's call stack: tower layers composed in one visible chain,
//! [`Fanout::channel_stack`], built for each call (every layer borrows the
//! channel and holds that call's deadline and probe flag, so building one
//! is a few moves, no allocation).
//!
//! From the outside in:
//!
//! | layer | does |
//! |---|---|
//! | [`MetricsLayer`] | counts every report in the channel's metric series |
//! | `map_result` -> [`Fanout::report`] | turns how the call ended into the channel's report; an answered quote goes to the `price` stage |
//! | [`CutShortLayer`] | the router's shutdown cut ends the call (reported as timed out, no breaker verdict) |
//! | [`BreakerLayer`] | records the breaker's verdict; a probe dropped without one is handed back |
//! | [`DeadlineLayer`] | `min(channel timeout, caller's deadline - reply margin)`; no time left means not called |
//! | [`InFlightLimitLayer`] | the channel's `max_in_flight`, fail-fast (try-acquire, never queued) |
//! | [`DescribeLayer`] | describes the channel on first use, minimises the applicant to its `required_fields` |
//! | tower's `RetryLayer` + [`QuoteRetry`] | one retry on UNAVAILABLE, with 20 ms left, within the channel's `TpsBudget` |
//! | [`QuoteService`] | the adapter's Quote, with the time left as its budget |
//!
//! tower's own `Timeout` and `ConcurrencyLimit` do not fit: the deadline is
//! an instant per call (not a duration per service) and must not count
//! against the breaker when it has already passed, and the limit must
//! refuse at once rather than wait. Nothing here spawns: the stack's
//! future is polled in the request's `FuturesUnordered`, so dropping it
//! cancels the partner call.

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use finroute_adapters::{Adapter, AdapterError, QuoteOutcome, QuoteRequest};
use finroute_core::FinancingRequest;
use futures::FutureExt;
use futures::future::{self, BoxFuture, Either, Map, Ready};
use tokio::sync::Semaphore;
use tokio::time::error::Elapsed;
use tokio::time::{Instant, Timeout};
use tower::retry::budget::{Budget, TpsBudget};
use tower::retry::{Policy, RetryLayer};
use tower::{Layer, Service, ServiceBuilder, ServiceExt};

use super::{Channel, ChannelDone, Described, Fanout};
use crate::breaker::{Breaker, Transition};
use crate::drain::InFlight;
use crate::metrics::ChannelMetrics;

/// Least time left for a Quote retry to be worth it.
const MIN_RETRY_TIME: Duration = Duration::from_millis(20);

/// One channel's call as it enters the stack.
#[derive(Debug, Clone)]
pub(super) struct ChannelCall<'a> {
    /// The request being routed (the applicant is minimised further in).
    pub(super) request: &'a FinancingRequest,
    /// Router-issued id of this quote.
    pub(super) quote_id: String,
}

/// An answered quote and the description it was asked under.
#[derive(Debug)]
pub(super) struct Quoted {
    pub(super) outcome: QuoteOutcome,
    pub(super) described: Arc<Described>,
}

/// Why a channel's call ended without a quote.
#[derive(Debug)]
pub(super) enum CallError {
    /// The deadline had passed before the call began: not called.
    NoTimeLeft,
    /// The channel's in-flight limit (`max`) was reached: not called.
    LimitReached { max: usize },
    /// No answer before the deadline.
    Elapsed,
    /// The router's shutdown cut the call short.
    CutShort,
    /// Described on first use, the partner's lender of record is not named
    /// by the applicant's consent: not quoted.
    NotConsented,
    /// Describe or Quote failed.
    Adapter(AdapterError),
}

impl CallError {
    /// Whether the breaker hears of it: the channel was called and failed.
    fn is_failure(&self) -> bool {
        matches!(self, CallError::Elapsed | CallError::Adapter(_))
    }
}

impl From<AdapterError> for CallError {
    fn from(e: AdapterError) -> Self {
        CallError::Adapter(e)
    }
}

impl<'f> Fanout<'f> {
    /// The per-channel call stack: deadline, concurrency limit, breaker,
    /// retry budget and metrics as tower layers, outermost first, around
    /// the adapter's Quote, built for `call` and sent it. `probe` says
    /// whether this call is the breaker's half-open probe (decided by
    /// `Fanout::admit`).
    pub(super) fn channel_stack<'s>(
        &'s self,
        index: usize,
        channel: &'s Channel,
        probe: bool,
        call: ChannelCall<'s>,
    ) -> BoxFuture<'s, Result<ChannelDone, CallError>> {
        let started = Instant::now();
        // With late work a call may go on past the reply for the channel's
        // late window; never longer than the channel's own timeout.
        let reply_by = if self.late {
            self.channel_deadline + channel.late_window
        } else {
            self.channel_deadline
        };
        let deadline = (started + channel.timeout).min(reply_by);
        let stack = ServiceBuilder::new()
            .layer(MetricsLayer(&channel.metrics))
            .map_result(move |r| {
                Ok::<_, CallError>(self.report(index, channel, started, deadline, r))
            })
            .layer(CutShortLayer(self.cut))
            .layer(BreakerLayer {
                breaker: &channel.breaker,
                adapter: &channel.id,
                probe,
            })
            .layer(DeadlineLayer(deadline))
            .layer(InFlightLimitLayer {
                permits: &channel.in_flight,
                max: channel.max_in_flight,
            })
            .layer(DescribeLayer(channel))
            .layer(RetryLayer::new(QuoteRetry {
                budget: &channel.retry_budget,
                adapter: &channel.id,
                deadline,
                deposited: false,
            }))
            .service(QuoteService {
                adapter: channel.adapter.as_ref(),
                deadline,
            });
        Box::pin(stack.oneshot(call))
    }
}

/// Counts each report of a called channel in its metric series.
#[derive(Debug, Clone, Copy)]
pub(super) struct MetricsLayer<'a>(&'a ChannelMetrics);

/// [`MetricsLayer`]'s service.
#[derive(Debug, Clone)]
pub(super) struct Metered<'a, S> {
    metrics: &'a ChannelMetrics,
    inner: S,
}

impl<'a, S> Layer<S> for MetricsLayer<'a> {
    type Service = Metered<'a, S>;
    fn layer(&self, inner: S) -> Self::Service {
        Metered {
            metrics: self.0,
            inner,
        }
    }
}

impl<'a, R, S> Service<R> for Metered<'a, S>
where
    S: Service<R, Response = ChannelDone>,
    S::Future: Send + 'a,
{
    type Response = ChannelDone;
    type Error = S::Error;
    type Future = BoxFuture<'a, Result<ChannelDone, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: R) -> Self::Future {
        let (metrics, call) = (self.metrics, self.inner.call(req));
        Box::pin(async move {
            let done = call.await;
            if let Ok(d) = &done {
                metrics.record(&d.report);
            }
            done
        })
    }
}

/// Ends the call when the router's shutdown cuts calls short
/// ([`InFlight::cut_short`]): the channel counts as not answered.
#[derive(Debug, Clone, Copy)]
pub(super) struct CutShortLayer<'a>(&'a InFlight);

/// [`CutShortLayer`]'s service.
#[derive(Debug, Clone)]
pub(super) struct CutShort<'a, S> {
    cut: &'a InFlight,
    inner: S,
}

impl<'a, S> Layer<S> for CutShortLayer<'a> {
    type Service = CutShort<'a, S>;
    fn layer(&self, inner: S) -> Self::Service {
        CutShort { cut: self.0, inner }
    }
}

impl<'a, R, S> Service<R> for CutShort<'a, S>
where
    S: Service<R, Error = CallError>,
    S::Future: Send + 'a,
{
    type Response = S::Response;
    type Error = CallError;
    type Future = BoxFuture<'a, Result<S::Response, CallError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), CallError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: R) -> Self::Future {
        let (cut, call) = (self.cut.cut_short(), self.inner.call(req));
        Box::pin(async move {
            // Biased: a call that has already ended (not called, or
            // answered) says so even after the cut.
            tokio::select! {
                biased;
                done = call => done,
                () = cut => Err(CallError::CutShort),
            }
        })
    }
}

/// Records the breaker's verdict on a called channel: success, or failure
/// on an error or no answer in time. A call that ends without a verdict
/// (not called, cut short, or dropped) hands a half-open probe back.
#[derive(Debug, Clone, Copy)]
pub(super) struct BreakerLayer<'a> {
    breaker: &'a Breaker,
    adapter: &'a str,
    probe: bool,
}

/// [`BreakerLayer`]'s service.
#[derive(Debug, Clone)]
pub(super) struct Breakered<'a, S> {
    layer: BreakerLayer<'a>,
    inner: S,
}

impl<'a, S> Layer<S> for BreakerLayer<'a> {
    type Service = Breakered<'a, S>;
    fn layer(&self, inner: S) -> Self::Service {
        Breakered {
            layer: *self,
            inner,
        }
    }
}

impl<'a, R, S> Service<R> for Breakered<'a, S>
where
    S: Service<R, Error = CallError>,
    S::Future: Send + 'a,
{
    type Response = S::Response;
    type Error = CallError;
    type Future = BoxFuture<'a, Result<S::Response, CallError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), CallError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: R) -> Self::Future {
        let BreakerLayer {
            breaker,
            adapter,
            probe,
        } = self.layer;
        // Armed before the call: dropping the future hands the probe back.
        let guard = ProbeGuard {
            breaker,
            armed: probe,
        };
        let call = self.inner.call(req);
        Box::pin(async move {
            let mut guard = guard;
            let done = call.await;
            let transition = match &done {
                Ok(_) => breaker.on_success(probe),
                Err(e) if e.is_failure() => breaker.on_failure(Instant::now(), probe),
                Err(_) => return done,
            };
            guard.armed = false;
            log_transition(adapter, transition);
            done
        })
    }
}

fn log_transition(adapter: &str, transition: Option<Transition>) {
    match transition {
        Some(Transition::Opened { for_ }) => tracing::warn!(
            adapter = %adapter,
            open_ms = for_.as_millis() as u64,
            "circuit opened: channel ejected after repeated failures"
        ),
        Some(Transition::Closed) => {
            tracing::info!(adapter = %adapter, "circuit closed: channel recovered")
        }
        None => {}
    }
}

/// Hands a probe back if its call ends without a verdict.
struct ProbeGuard<'a> {
    breaker: &'a Breaker,
    armed: bool,
}

impl Drop for ProbeGuard<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.breaker.on_abandoned_probe(Instant::now());
        }
    }
}

/// The call's deadline: not called when it has passed already
/// ([`CallError::NoTimeLeft`]), ended at it otherwise ([`CallError::Elapsed`]).
#[derive(Debug, Clone, Copy)]
pub(super) struct DeadlineLayer(Instant);

/// [`DeadlineLayer`]'s service.
#[derive(Debug, Clone)]
pub(super) struct Deadline<S> {
    deadline: Instant,
    inner: S,
}

impl<S> Layer<S> for DeadlineLayer {
    type Service = Deadline<S>;
    fn layer(&self, inner: S) -> Self::Service {
        Deadline {
            deadline: self.0,
            inner,
        }
    }
}

/// What [`Deadline`] returns: at once, or the inner call under its timer.
type DeadlineFuture<F, T> = Either<
    Ready<Result<T, CallError>>,
    Map<Timeout<F>, fn(Result<Result<T, CallError>, Elapsed>) -> Result<T, CallError>>,
>;

impl<R, S> Service<R> for Deadline<S>
where
    S: Service<R, Error = CallError>,
{
    type Response = S::Response;
    type Error = CallError;
    type Future = DeadlineFuture<S::Future, S::Response>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), CallError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: R) -> Self::Future {
        if self.deadline <= Instant::now() {
            return Either::Left(future::ready(Err(CallError::NoTimeLeft)));
        }
        let timed = tokio::time::timeout_at(self.deadline, self.inner.call(req));
        Either::Right(timed.map(elapsed_or::<S::Response> as fn(_) -> _))
    }
}

/// The inner call's result, or [`CallError::Elapsed`] when its timer ran out.
fn elapsed_or<T>(timed: Result<Result<T, CallError>, Elapsed>) -> Result<T, CallError> {
    timed.unwrap_or(Err(CallError::Elapsed))
}

/// The channel's `max_in_flight`: a permit is taken at once or the call
/// fails with [`CallError::LimitReached`]; it is never queued.
#[derive(Debug, Clone, Copy)]
pub(super) struct InFlightLimitLayer<'a> {
    permits: &'a Arc<Semaphore>,
    max: usize,
}

/// [`InFlightLimitLayer`]'s service.
#[derive(Debug, Clone)]
pub(super) struct InFlightLimit<'a, S> {
    layer: InFlightLimitLayer<'a>,
    inner: S,
}

impl<'a, S> Layer<S> for InFlightLimitLayer<'a> {
    type Service = InFlightLimit<'a, S>;
    fn layer(&self, inner: S) -> Self::Service {
        InFlightLimit {
            layer: *self,
            inner,
        }
    }
}

impl<'a, R, S> Service<R> for InFlightLimit<'a, S>
where
    S: Service<R>,
    S::Error: Into<CallError>,
    S::Future: Send + 'a,
    S::Response: Send + 'a,
{
    type Response = S::Response;
    type Error = CallError;
    type Future = BoxFuture<'a, Result<S::Response, CallError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), CallError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: R) -> Self::Future {
        let Ok(permit) = self.layer.permits.clone().try_acquire_owned() else {
            let max = self.layer.max;
            return Box::pin(std::future::ready(Err(CallError::LimitReached { max })));
        };
        let call = self.inner.call(req);
        Box::pin(async move {
            let done = call.await.map_err(Into::into);
            drop(permit);
            done
        })
    }
}

/// Describes the channel if it has not described itself yet, and turns the
/// call into the Quote the channel is sent: for a partner, the applicant
/// minimised to the channel's `required_fields`.
#[derive(Debug, Clone, Copy)]
pub(super) struct DescribeLayer<'a>(&'a Channel);

/// [`DescribeLayer`]'s service.
#[derive(Debug, Clone)]
pub(super) struct Describe<'a, S> {
    channel: &'a Channel,
    inner: S,
}

impl<'a, S> Layer<S> for DescribeLayer<'a> {
    type Service = Describe<'a, S>;
    fn layer(&self, inner: S) -> Self::Service {
        Describe {
            channel: self.0,
            inner,
        }
    }
}

impl<'a, S> Service<ChannelCall<'a>> for Describe<'a, S>
where
    S: Service<QuoteRequest, Response = QuoteOutcome, Error = AdapterError> + Clone + Send + 'a,
    S::Future: Send,
{
    type Response = Quoted;
    type Error = CallError;
    type Future = BoxFuture<'a, Result<Quoted, CallError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), CallError>> {
        self.inner.poll_ready(cx).map_err(CallError::Adapter)
    }

    fn call(&mut self, call: ChannelCall<'a>) -> Self::Future {
        let channel = self.channel;
        // The clone is what is called; `self.inner` was made ready.
        let inner = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, inner);
        Box::pin(async move {
            let described = match channel.cached() {
                Some(d) => d,
                None => {
                    channel.describe().await?;
                    channel
                        .cached()
                        .ok_or_else(|| AdapterError::Malformed("description vanished".into()))?
                }
            };
            let request = call.request;
            // The consent names its recipients: a partner whose lender it
            // does not name gets nothing (checked here too for a channel
            // described only now).
            if channel.adapter.is_partner() && !super::consents_to(request, &described) {
                return Err(CallError::NotConsented);
            }
            let applicant = if channel.adapter.is_partner() {
                let required = &described.description.required_fields;
                request.applicant.minimised(required)
            } else {
                request.applicant.clone()
            };
            let quote = QuoteRequest {
                quote_id: call.quote_id,
                applicant,
                requested_amount: request.requested_amount,
                min_term_months: request.min_term_months,
                max_term_months: request.max_term_months,
                purpose: request.purpose,
                locale: request.locale,
                // Set by `QuoteService` when it sends the Quote.
                budget: Duration::ZERO,
            };
            let outcome = inner.oneshot(quote).await?;
            Ok(Quoted { outcome, described })
        })
    }
}

/// The Quote retry policy. A Quote is a soft pull with no effect: retried
/// at most once, only on UNAVAILABLE (the partner did not take it), only
/// with at least [`MIN_RETRY_TIME`] left and within the channel's retry
/// budget (about 20 % of recent calls, tower's `TpsBudget`, which every
/// first attempt deposits into). Never hedged.
#[derive(Debug, Clone)]
pub(super) struct QuoteRetry<'a> {
    budget: &'a TpsBudget,
    adapter: &'a str,
    deadline: Instant,
    /// Whether the first attempt has deposited into the budget.
    deposited: bool,
}

impl Policy<QuoteRequest, QuoteOutcome, AdapterError> for QuoteRetry<'_> {
    type Future = std::future::Ready<()>;

    fn retry(
        &mut self,
        _req: &mut QuoteRequest,
        result: &mut Result<QuoteOutcome, AdapterError>,
    ) -> Option<Self::Future> {
        let unavailable = matches!(
            result,
            Err(AdapterError::Rpc {
                code: tonic::Code::Unavailable,
                ..
            })
        );
        let left = self.deadline.saturating_duration_since(Instant::now());
        if unavailable && left >= MIN_RETRY_TIME && self.budget.withdraw() {
            tracing::debug!(adapter = %self.adapter, "quote UNAVAILABLE; retrying once");
            return Some(std::future::ready(()));
        }
        None
    }

    fn clone_request(&mut self, req: &QuoteRequest) -> Option<QuoteRequest> {
        // Called before the first attempt (keep a copy to retry with) and
        // before the retry (none: there is no second retry).
        if self.deposited {
            return None;
        }
        self.deposited = true;
        self.budget.deposit();
        Some(req.clone())
    }
}

/// The adapter's Quote, sent with the time left until the deadline as its
/// budget (a remote partner hears it as `grpc-timeout`).
#[derive(Clone, Copy)]
pub(super) struct QuoteService<'a> {
    adapter: &'a dyn Adapter,
    deadline: Instant,
}

impl<'a> Service<QuoteRequest> for QuoteService<'a> {
    type Response = QuoteOutcome;
    type Error = AdapterError;
    type Future = BoxFuture<'a, Result<QuoteOutcome, AdapterError>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), AdapterError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut quote: QuoteRequest) -> Self::Future {
        quote.budget = self.deadline.saturating_duration_since(Instant::now());
        self.adapter.quote(quote)
    }
}
