//! The fan-out stage: every eligible channel is asked concurrently, each
//! under `min(its timeout, the caller's deadline - reply margin)`, and each
//! answer is priced as it arrives.
//!
//! [`Fanout::run`] admits each channel (`Fanout::admit`: the request's
//! filter, eligibility, consent), asks the routing rules (`crate::rules`)
//! whether and in which tier to call it, then calls the tiers one after the
//! other (a later one only while the earlier ones made too few offers),
//! each channel past its breaker (`Fanout::admit_breaker`) through its call stack
//! (`Fanout::channel_stack` in `fanout/stack.rs`: tower layers for the
//! deadline, the in-flight limit, the breaker's verdict, the retry budget
//! and the metrics), whose last step is the report and price stage
//! (`Fanout::report`, `Fanout::price` in `fanout/price.rs`).
//!
//! Channel calls are futures polled by one `FuturesUnordered` inside the
//! request's task, not spawned tasks: when the deadline passes or the caller
//! goes away, dropping them cancels every partner call at once (the remote
//! client sends RST_STREAM), and nothing outlives the request.

mod price;
mod stack;

use std::sync::{Arc, RwLock};
use std::time::Duration;

use crate::breaker::{Admission, Breaker, BreakerSettings, BreakerState};
use crate::drain::InFlight;
use crate::metrics::ChannelMetrics;
use crate::partner_lists::ListIndex;
use crate::quota::{Quotas, QuoteCheck};
use crate::rules::{ChannelFacts, RuleSet, Verdict};
use finroute_adapters::spec::{AdapterSpec, BuildError};
use finroute_adapters::{Adapter, AdapterError, Description};
use finroute_core::{
    ChannelReport, ChannelStatus, ChannelTerms, FinancingRequest, OddsBook, Offer, Party,
    PricingPolicy, ProductKind, Rejection, UnixMillis, disclosure::lender_of,
};
use futures::StreamExt;
use futures::future::{AbortHandle, Aborted, BoxFuture, abortable};
use futures::stream::FuturesUnordered;
use tokio::sync::{Semaphore, mpsc};
use tokio::time::Instant;
use tower::retry::budget::TpsBudget;
use tracing::Instrument;

pub(crate) use price::{MAX_DETAIL, error_detail, quote_detail};
use stack::ChannelCall;

/// One configured channel: the adapter, its limits and what it declared.
pub struct Channel {
    /// The config id.
    pub id: String,
    /// Most time one quote may take.
    pub timeout: Duration,
    /// How long after the reply a call still working may go on.
    pub late_window: Duration,
    adapter: Arc<dyn Adapter>,
    /// Filled by `Describe` at start-up (or on first use if the partner was down).
    /// A std lock: it is held for a clone, never across an await.
    description: RwLock<Option<Arc<Described>>>,
    in_flight: Arc<Semaphore>,
    max_in_flight: usize,
    /// Ejects the channel after repeated failures.
    breaker: Breaker,
    /// Quote retries allowed: about 20 % of recent calls (tower's budget).
    retry_budget: TpsBudget,
    /// This channel's metric series.
    metrics: ChannelMetrics,
    /// How long the channel takes from acceptance to final answer.
    decisions: crate::decision::DecisionClock,
}

/// A description and the terms derived from it.
#[derive(Debug)]
struct Described {
    description: Description,
    terms: ChannelTerms,
}

impl std::fmt::Debug for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Channel")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl Channel {
    fn new(spec: &AdapterSpec, adapter: Arc<dyn Adapter>, breaker: BreakerSettings) -> Self {
        Self {
            id: spec.id.clone(),
            timeout: Duration::from_millis(spec.timeout_ms),
            late_window: Duration::from_millis(spec.late_window_ms),
            adapter,
            description: RwLock::new(None),
            in_flight: Arc::new(Semaphore::new(spec.max_in_flight)),
            max_in_flight: spec.max_in_flight,
            breaker: Breaker::new(breaker),
            retry_budget: TpsBudget::new(Duration::from_secs(10), 1, 0.2),
            metrics: ChannelMetrics::default(),
            decisions: Default::default(),
        }
    }

    /// The channel's decision-time estimate (the acceptance relay feeds it).
    pub fn decisions(&self) -> &crate::decision::DecisionClock {
        &self.decisions
    }

    /// This channel's metric series.
    pub fn metrics(&self) -> &ChannelMetrics {
        &self.metrics
    }

    /// The circuit breaker's state now.
    pub fn breaker_state(&self) -> BreakerState {
        self.breaker.state(Instant::now())
    }

    /// Quotes in flight now.
    pub fn in_flight(&self) -> usize {
        self.max_in_flight
            .saturating_sub(self.in_flight.available_permits())
    }

    /// The adapter behind the channel (AcceptOffer calls it).
    pub fn adapter(&self) -> &Arc<dyn Adapter> {
        &self.adapter
    }

    /// The cached description, if the adapter has described itself.
    pub fn description(&self) -> Option<Description> {
        self.cached().map(|d| d.description.clone())
    }

    fn cached(&self) -> Option<Arc<Described>> {
        self.description.read().ok().and_then(|g| g.clone())
    }

    /// Calls `Describe` and caches the answer.
    pub async fn describe(&self) -> Result<(), AdapterError> {
        let description = self.adapter.describe().await?;
        let terms = description.terms(&self.id);
        if let Ok(mut g) = self.description.write() {
            *g = Some(Arc::new(Described { description, terms }));
        }
        Ok(())
    }
}

/// Every configured channel, in config order.
#[derive(Debug, Clone)]
pub struct Registry {
    channels: Arc<Vec<Arc<Channel>>>,
}

impl Registry {
    /// Builds every adapter of the config.
    pub fn build(specs: &[AdapterSpec], breaker: BreakerSettings) -> Result<Registry, BuildError> {
        let channels = specs
            .iter()
            .map(|s| Ok(Arc::new(Channel::new(s, s.build()?, breaker))))
            .collect::<Result<Vec<_>, BuildError>>()?;
        Ok(Registry {
            channels: Arc::new(channels),
        })
    }

    /// A registry over already built adapters (tests drive the fan-out
    /// with in-process adapters, on tokio's paused clock).
    pub fn from_adapters(
        adapters: Vec<(AdapterSpec, Arc<dyn Adapter>)>,
        breaker: BreakerSettings,
    ) -> Registry {
        let channels = adapters
            .into_iter()
            .map(|(s, a)| Arc::new(Channel::new(&s, a, breaker)))
            .collect();
        Registry {
            channels: Arc::new(channels),
        }
    }

    /// The channels.
    pub fn channels(&self) -> &[Arc<Channel>] {
        &self.channels
    }

    /// The channel with config id `id`.
    pub fn get(&self, id: &str) -> Option<&Arc<Channel>> {
        self.channels.iter().find(|c| c.id == id)
    }

    /// Describes every channel concurrently; a partner that is down is
    /// logged and described again on first use. Returns how many succeeded.
    pub async fn describe_all(&self) -> usize {
        let mut ok = 0;
        let mut calls: FuturesUnordered<_> = self
            .channels
            .iter()
            .map(|c| async move {
                (
                    c,
                    tokio::time::timeout(Duration::from_secs(5), c.describe()).await,
                )
            })
            .collect();
        while let Some((c, r)) = calls.next().await {
            match r {
                Ok(Ok(())) => {
                    ok += 1;
                    tracing::info!(adapter = %c.id, "adapter described");
                }
                Ok(Err(e)) => {
                    tracing::warn!(adapter = %c.id, error = %e, "describe failed; will retry on first use")
                }
                Err(_) => {
                    tracing::warn!(adapter = %c.id, "describe timed out; will retry on first use")
                }
            }
        }
        ok
    }
}

/// Something that happened during a fan-out, for StreamOffers.
#[derive(Debug, Clone)]
pub enum FanoutEvent {
    Report(ChannelReport),
    Offer(Box<Offer>),
}

/// Everything a fan-out produced.
#[derive(Debug, Default)]
pub struct FanoutResult {
    pub offers: Vec<Offer>,
    pub reports: Vec<ChannelReport>,
    pub rejections: Vec<Rejection>,
    /// True when a channel did not answer in time.
    pub partial: bool,
}

/// Who lends and with whom (docs/disclosure.md): what the fan-out names
/// as parties of every offer and checks each offer against.
#[derive(Debug, Clone, Default)]
pub struct Disclosure {
    /// The router's operator (`[platform]`) as the platform party, if named.
    pub platform: Option<Party>,
    /// The lenders' partner name-lists in force.
    pub lists: Arc<ListIndex>,
    /// Whether an offer whose lender has no list is refused
    /// (`compliance.require_partner_list`).
    pub require_list: bool,
}

/// What one fan-out needs to know.
pub struct Fanout<'a> {
    pub registry: &'a Registry,
    pub request: &'a FinancingRequest,
    pub policy: &'a PricingPolicy,
    /// What outcomes taught about each channel's approval odds.
    pub odds: &'a OddsBook,
    /// Used as the quote-id prefix; offers get `<application_id>` based ids.
    pub application_id: &'a str,
    /// When every channel must have answered (caller's deadline - reply margin).
    pub channel_deadline: Instant,
    /// Completes when the router's shutdown cuts calls short: channels
    /// still working then are reported as timed out, as at the deadline.
    pub cut: &'a InFlight,
    pub now_ms: UnixMillis,
    /// The platform party and the partner name-lists.
    pub disclosure: &'a Disclosure,
    /// Channels' volume agreements (`[[quotas]]`), if any.
    pub quotas: Option<&'a Quotas>,
    /// The routing rules (`crate::rules`); `None` calls every channel in
    /// one tier.
    pub rules: Option<&'a RuleSet>,
    /// Whether channels may go on past the reply for their late window
    /// ([`Fanout::run_until_reply`]); false cuts every call at
    /// `channel_deadline` ([`Fanout::run`]).
    pub late: bool,
}

impl Fanout<'_> {
    /// Runs the fan-out, sending events as they happen when `events` is given.
    ///
    /// Traced as one `route` span per application with a `channel` span per
    /// channel called (ids only, never applicant data), so every log line
    /// of a fan-out names the application and the channel it concerns.
    pub async fn run(self, events: Option<&mpsc::Sender<FanoutEvent>>) -> FanoutResult {
        let span = tracing::info_span!("route", application_id = %self.application_id);
        self.run_traced(events).instrument(span).await.0
    }

    /// Runs the fan-out until every channel answered or `channel_deadline`
    /// passed (with `late` set): the result for the reply, and the calls
    /// still working then ([`Pending`], reported TIMEOUT with
    /// `late_pending`), which the caller may go on polling after the reply.
    pub async fn run_until_reply(
        &self,
        events: Option<&mpsc::Sender<FanoutEvent>>,
    ) -> (FanoutResult, Pending<'_>) {
        let span = tracing::info_span!("route", application_id = %self.application_id);
        self.run_traced(events).instrument(span).await
    }

    async fn run_traced(
        &self,
        events: Option<&mpsc::Sender<FanoutEvent>>,
    ) -> (FanoutResult, Pending<'_>) {
        let mut result = FanoutResult::default();
        let started = Instant::now();
        // Which channels may be called, and in which tier (the routing
        // rules, `crate::rules`); the others are reported at once.
        let mut tiers: [Vec<Placed<'_>>; 3] = Default::default();
        for (index, channel) in self.registry.channels().iter().enumerate() {
            let placed = self.admit(channel).and_then(|()| {
                let verdict = self.verdict(channel);
                match verdict.tier() {
                    Some(tier) => Ok((tier, verdict.rule().map(str::to_owned))),
                    None => Err(skip_report(
                        channel,
                        ChannelStatus::SkippedByRule,
                        format!(
                            "not called: routing rule {:?} leaves it out for this refusal",
                            verdict.rule().unwrap_or_default()
                        ),
                    )),
                }
            });
            match placed {
                Ok((tier, rule)) => tiers[tier].push((index, channel, rule)),
                Err(report) => self.skipped(channel, &mut result, *report, events).await,
            }
        }
        let min_offers = self.rules.map_or(1, |r| r.tier_min_offers) as usize;
        // The rule that ordered the tiers, once a tier has been called.
        let mut first_rule: Option<String> = None;
        let mut called = false;
        let mut pending = Pending::default();
        // With late work, the reply is due at the channels' deadline
        // whatever the calls still do; without, every call ends by then.
        let reply_due = tokio::time::sleep_until(self.channel_deadline);
        tokio::pin!(reply_due);
        let mut replied = false;
        for tier in tiers {
            if replied {
                for (_, channel, _) in tier {
                    let report = skip_report(
                        channel,
                        ChannelStatus::Timeout,
                        "not called: the reply was due before its tier's turn".into(),
                    );
                    self.skipped(channel, &mut result, *report, events).await;
                }
                continue;
            }
            if called && result.offers.len() >= min_offers {
                for (_, channel, rule) in tier {
                    let rule = rule.or_else(|| first_rule.clone()).unwrap_or_default();
                    let detail = format!(
                        "not called: routing rule {rule:?} ordered the channels in tiers, and \
                         earlier tiers made {} valid offer(s) (routing.tier_min_offers = {min_offers})",
                        result.offers.len()
                    );
                    let report = skip_report(channel, ChannelStatus::NotNeeded, detail);
                    self.skipped(channel, &mut result, *report, events).await;
                }
                continue;
            }
            for (index, channel, rule) in tier {
                if first_rule.is_none() {
                    first_rule = rule;
                }
                called = true;
                match self.admit_breaker(channel) {
                    Ok(probe) => pending.push(index, self.call(index, channel, probe)),
                    Err(report) => self.skipped(channel, &mut result, *report, events).await,
                }
            }
            loop {
                let next = if self.late {
                    tokio::select! {
                        biased;
                        next = pending.next() => next,
                        () = &mut reply_due => { replied = true; break; }
                    }
                } else {
                    pending.next().await
                };
                let Some(mut done) = next else { break };
                if done.report.status == ChannelStatus::Timeout {
                    result.partial = true;
                }
                emit(events, FanoutEvent::Report(done.report.clone())).await;
                for offer in &done.offers {
                    emit(events, FanoutEvent::Offer(Box::new(offer.clone()))).await;
                }
                result.reports.push(done.report);
                result.offers.append(&mut done.offers);
                result.rejections.append(&mut done.rejections);
            }
            if replied {
                // The calls still working: reported now, and going on
                // for their late window if they have one.
                for index in pending.indices() {
                    let channel = &self.registry.channels()[index];
                    let late = !channel.late_window.is_zero();
                    let detail = if late {
                        format!(
                            "no answer by the reply; still working for up to {} ms more: \
                             its offers, if any, join the application as late offers",
                            channel.late_window.as_millis()
                        )
                    } else {
                        pending.abort(index);
                        "no answer by the reply (late_window_ms = 0: cut)".to_owned()
                    };
                    let mut report = *skip_report(channel, ChannelStatus::Timeout, detail);
                    report.latency_ms = self
                        .channel_deadline
                        .saturating_duration_since(started)
                        .as_millis() as u64;
                    report.late_pending = late;
                    result.partial = true;
                    emit(events, FanoutEvent::Report(report.clone())).await;
                    result.reports.push(report);
                }
            }
        }
        // Reports in config order, whatever order channels finished in.
        let order = |id: &str| self.registry.channels().iter().position(|c| c.id == id);
        result.reports.sort_by_key(|r| order(&r.adapter_id));
        (result, pending)
    }

    /// A channel that is not called: counted, streamed and reported.
    async fn skipped(
        &self,
        channel: &Channel,
        result: &mut FanoutResult,
        report: ChannelReport,
        events: Option<&mpsc::Sender<FanoutEvent>>,
    ) {
        channel.metrics.record(&report);
        emit(events, FanoutEvent::Report(report.clone())).await;
        result.reports.push(report);
    }

    /// What the routing rules decide for `channel` on this request.
    fn verdict(&self, channel: &Channel) -> Verdict {
        let Some(rules) = self.rules else {
            return Verdict::Call;
        };
        let cached = channel.cached();
        rules.verdict(
            self.request,
            ChannelFacts {
                id: &channel.id,
                kind: channel.adapter.product_kind(),
                required_fields: cached
                    .as_ref()
                    .map(|d| d.description.required_fields.as_slice()),
            },
        )
    }

    /// Decides whether `channel` may be called on this request (the
    /// request's filter, eligibility, consent, the described terms); if
    /// not, the report saying why. No side effect: the breaker is asked
    /// only when the channel's tier is called ([`Self::admit_breaker`]).
    fn admit(&self, channel: &Channel) -> Result<(), Box<ChannelReport>> {
        let skip = |status, detail: &str| skip_report(channel, status, detail.to_owned());
        if !self.request.channels.allows(&channel.id) {
            return Err(skip(
                ChannelStatus::Excluded,
                "left out by the request's exclude_adapter_ids or only_adapter_ids; it was not called",
            ));
        }
        if let Some(detail) = self.ineligible(channel) {
            return Err(skip(ChannelStatus::Ineligible, detail));
        }
        if channel.adapter.is_partner() && !self.request.applicant.consent.covers(&channel.id) {
            return Err(skip(
                ChannelStatus::NoConsent,
                "the applicant has not consented to share data with this partner; it was not called",
            ));
        }
        let cached = channel.cached();
        if channel.adapter.is_partner()
            && let Some(d) = &cached
            && !consents_to(self.request, d)
        {
            return Err(skip(ChannelStatus::NoConsent, NOT_NAMED));
        }
        if let Some(detail) = cached.and_then(|d| outside_terms(self.request, &d)) {
            return Err(skip(ChannelStatus::Ineligible, detail));
        }
        Ok(())
    }

    /// The breaker's verdict on calling `channel` now: whether the call is
    /// its half-open probe, or the CIRCUIT_OPEN report.
    fn admit_breaker(&self, channel: &Channel) -> Result<bool, Box<ChannelReport>> {
        match channel.breaker.admit(Instant::now()) {
            Admission::Call => Ok(false),
            Admission::Probe => {
                tracing::info!(adapter = %channel.id, "circuit half-open: probing");
                Ok(true)
            }
            Admission::Refused { retry_in } => Err(skip_report(
                channel,
                ChannelStatus::CircuitOpen,
                format!(
                    "ejected after repeated failures; not called (next probe in {} ms)",
                    retry_in.as_millis()
                ),
            )),
        }
    }

    /// Why a channel of a kind the caller did not ask for is not called.
    fn ineligible(&self, channel: &Channel) -> Option<&'static str> {
        let kinds = &self.request.product_kinds;
        let kind = channel.adapter.product_kind();
        (!kinds.is_empty() && !kinds.contains(&kind)).then_some("product kind not requested")
    }

    /// One admitted channel through its call stack, traced as a `channel`
    /// span: describe if needed, minimise, quote, price.
    async fn call(&self, index: usize, channel: &Channel, probe: bool) -> ChannelDone {
        if let Some(quotas) = self.quotas.filter(|q| q.limited(&channel.id)) {
            // Counted before the call, within the channel's deadline.
            let check = tokio::time::timeout_at(
                self.channel_deadline,
                quotas.reserve_quote(&channel.id, self.now_ms),
            )
            .await
            .unwrap_or_else(|_| {
                QuoteCheck::Failed(
                    "the channel's quota could not be counted in time; not called".into(),
                )
            });
            let skipped = match check {
                QuoteCheck::Call => None,
                QuoteCheck::AtLimit(detail) => Some((ChannelStatus::QuotaExhausted, detail)),
                QuoteCheck::Failed(detail) => Some((ChannelStatus::Error, detail)),
            };
            if let Some((status, detail)) = skipped {
                if probe {
                    channel.breaker.on_abandoned_probe(Instant::now());
                }
                let report = *skip_report(channel, status, detail);
                channel.metrics.record(&report);
                return ChannelDone {
                    report,
                    offers: Vec::new(),
                    rejections: Vec::new(),
                };
            }
        }
        let call = ChannelCall {
            request: self.request,
            quote_id: format!("{}-{index}", self.application_id),
        };
        let span = tracing::info_span!("channel", adapter = %channel.id);
        let started = Instant::now();
        match self
            .channel_stack(index, channel, probe, call)
            .instrument(span)
            .await
        {
            Ok(done) => done,
            // Every ending is a report (`Fanout::report`); an error could
            // only be a layer not ready, and every layer always is.
            Err(e) => self.report(index, channel, started, started, Err(e)),
        }
    }
}

/// The report of a channel that was not called.
fn skip_report(channel: &Channel, status: ChannelStatus, detail: String) -> Box<ChannelReport> {
    Box::new(ChannelReport {
        adapter_id: channel.id.clone(),
        product_kind: channel.adapter.product_kind(),
        status,
        latency_ms: 0,
        offers_returned: 0,
        offers_rejected: 0,
        detail,
        recipients: Vec::new(),
        rejections: Vec::new(),
        advertised_apr_from_bps: None,
        decline: None,
        late_pending: false,
    })
}

/// The report of a partner whose lender the consent does not name.
pub(crate) const NOT_NAMED: &str = "the applicant's consent does not name this partner's lender \
     of record as a recipient; it was not called";

/// Whether the applicant's consent names the described channel's lender
/// of record (true when the consent names no recipient by name).
fn consents_to(req: &FinancingRequest, d: &Described) -> bool {
    req.applicant
        .consent
        .names(lender_of(&d.description.parties))
}

/// Why a described channel cannot serve the request (currency, terms,
/// amount, product kinds), if it cannot.
fn outside_terms(req: &FinancingRequest, d: &Described) -> Option<&'static str> {
    let d = &d.description;
    if !d.currencies.contains(&req.currency()) {
        return Some("currency not served");
    }
    if req.max_term_months < d.min_term_months || req.min_term_months > d.max_term_months {
        return Some("no term in the requested range");
    }
    if let Some(min) = d.min_amount
        && min.currency == req.currency()
        && req.requested_amount.amount_minor < min.amount_minor
    {
        return Some("amount below the channel's minimum");
    }
    if d.product_kinds
        .iter()
        .all(|k| *k == ProductKind::PrimaryCreditLine)
    {
        return Some("primary line only");
    }
    None
}

/// A channel placed in a tier: its config index, the channel, and the
/// rule that placed it (if one did).
type Placed<'a> = (usize, &'a Arc<Channel>, Option<String>);

/// What one channel's call came to: its report, priced offers and rejections.
#[derive(Debug)]
pub struct ChannelDone {
    report: ChannelReport,
    /// The channel's valid offers, priced.
    pub offers: Vec<Offer>,
    rejections: Vec<Rejection>,
}

impl ChannelDone {
    /// How the call ended.
    pub fn report(&self) -> &ChannelReport {
        &self.report
    }
}

/// A channel call, tagged with the channel's index, that can be aborted.
type TaggedCall<'a> = BoxFuture<'a, (usize, Result<ChannelDone, Aborted>)>;

/// The channel calls of a fan-out still working: polled until the reply,
/// then (late work) until each answers, its late window ends, or it is
/// aborted. Dropping it cancels every call.
#[derive(Default)]
pub struct Pending<'a> {
    calls: FuturesUnordered<TaggedCall<'a>>,
    /// Each call still running, by channel index.
    handles: std::collections::BTreeMap<usize, AbortHandle>,
}

impl std::fmt::Debug for Pending<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending")
            .field("channels", &self.handles.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl<'a> Pending<'a> {
    fn push(&mut self, index: usize, call: impl Future<Output = ChannelDone> + Send + 'a) {
        let (call, handle) = abortable(call);
        self.handles.insert(index, handle);
        self.calls
            .push(Box::pin(async move { (index, call.await) }));
    }

    /// The next call to end (an aborted one is skipped); `None` when none
    /// is left.
    pub async fn next(&mut self) -> Option<ChannelDone> {
        while let Some((index, done)) = self.calls.next().await {
            self.handles.remove(&index);
            if let Ok(done) = done {
                return Some(done);
            }
        }
        None
    }

    /// Indices (in the registry) of the channels still working.
    pub fn indices(&self) -> Vec<usize> {
        self.handles.keys().copied().collect()
    }

    /// Whether no call is left.
    pub fn is_empty(&self) -> bool {
        self.handles.is_empty()
    }

    /// Cancels the call of channel `index` (its partner call is dropped).
    pub fn abort(&mut self, index: usize) {
        if let Some(h) = self.handles.get(&index) {
            h.abort();
        }
    }
}

async fn emit(events: Option<&mpsc::Sender<FanoutEvent>>, e: FanoutEvent) {
    if let Some(tx) = events {
        // A caller that went away stops listening; routing still completes and is stored.
        let _ = tx.send(e).await;
    }
}
