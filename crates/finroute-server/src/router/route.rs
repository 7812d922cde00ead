//! RouteFinancing, stage by stage: [`RouterService::route_op`] runs
//! admit ([`RouterService::admit_route`]) -> prepare
//! ([`RouterService::prepare`]) -> [`RouterService::route`]: fan out
//! ([`RouterService::fan_out`], each channel priced as it answers) ->
//! finalize ([`RouterService::finalize`]) -> record
//! ([`RouterService::record`], `router/record.rs`) -> reply (the response
//! handed back to the handler; StreamOffers in `router/stream.rs`).

use bytes::Bytes;
use finroute_core::FinancingRequest;
use finroute_proto::v1 as pb;
use finroute_store::ApplicationRecord;
use prost::Message;
use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::{Call, RouterService, late, record, unix_millis};
use crate::convert;
use crate::error::{Reused, RouterError};
use crate::fanout::{Disclosure, Fanout, FanoutEvent, FanoutResult};
use crate::metrics::RouteOutcome;
use finroute_adapters::convert as c;

/// A validated request, or the stored answer to a repeated `request_id`.
pub(super) enum Prepared {
    Route(Box<Routing>),
    Stored(Box<Answer>),
}

/// A routing call's answer: the message, and its encoding, made once and
/// used for both the store and the wire (RouteFinancing sends these bytes
/// as they are, `router/wire.rs`).
pub(super) struct Answer {
    pub(super) message: pb::RouteFinancingResponse,
    pub(super) encoded: Bytes,
}

/// A validated request on its way through the stages.
pub(super) struct Routing {
    pub(super) request: FinancingRequest,
    pub(super) tenant: String,
    /// sha256 of the request message: a repeated `request_id` must match it.
    pub(super) fingerprint: Vec<u8>,
    /// sha256 of the applicant data the offers rest on (AcceptOffer refuses
    /// an offer whose applicant was routed again with other data).
    pub(super) applicant_fingerprint: Vec<u8>,
    /// The caller's deadline (or `routing.deadline_ms`).
    pub(super) deadline: Instant,
}

/// What the finalize stage produced: the response and the store's record
/// of it (its rows made from the domain values before the response took
/// them over; the response bytes added once encoded).
pub(super) struct Routed {
    pub(super) response: pb::RouteFinancingResponse,
    pub(super) record: ApplicationRecord,
}

impl RouterService {
    /// RouteFinancing: admit, prepare, route; the outcome counted in the
    /// metrics. The answer is the encoded response (sent as it is).
    pub(super) async fn route_op(
        &self,
        call: Call<pb::RouteFinancingRequest>,
    ) -> Result<Bytes, RouterError> {
        let started = Instant::now();
        let result = async {
            let _permit = self.admit_route()?;
            match self.prepare(&call).await? {
                Prepared::Stored(r) => Ok((r.encoded, RouteOutcome::Stored)),
                Prepared::Route(r) => Ok((self.route(*r, None).await?.encoded, RouteOutcome::Ok)),
            }
        }
        .await;
        self.count_route(&result, started);
        result.map(|(r, _)| r)
    }

    /// Counts a routing call's outcome in the metrics.
    pub(super) fn count_route<T>(
        &self,
        result: &Result<(T, RouteOutcome), RouterError>,
        started: Instant,
    ) {
        let outcome = match result {
            Ok((_, o)) => *o,
            Err(e) => failed_outcome(e),
        };
        self.inner.metrics.route(outcome, started.elapsed());
    }

    /// The admit stage: a permit of `server.max_in_flight_routes`, or
    /// RESOURCE_EXHAUSTED at once.
    pub(super) fn admit_route(&self) -> Result<tokio::sync::OwnedSemaphorePermit, RouterError> {
        self.inner.routes.clone().try_acquire_owned().map_err(|_| {
            tracing::warn!(
                limit = self.inner.settings.max_in_flight_routes,
                "routing call shed: in-flight limit reached"
            );
            RouterError::Overloaded(format!(
                "the router is at its limit of {} routing calls in flight; retry with backoff",
                self.inner.settings.max_in_flight_routes
            ))
        })
    }

    /// The prepare stage: the deadline, validation and conversion, and the
    /// stored answer to a repeated `request_id`.
    pub(super) async fn prepare(
        &self,
        call: &Call<pb::RouteFinancingRequest>,
    ) -> Result<Prepared, RouterError> {
        let s = &self.inner.settings;
        let deadline = Instant::now() + call.timeout.unwrap_or(s.default_deadline);
        let msg = &call.message;
        let domain = convert::financing_request_from_pb(msg, s.defaults)?;
        let fingerprint = Sha256::digest(msg.encode_to_vec()).to_vec();
        if !domain.request_id.is_empty()
            && let Some(stored) = self
                .stored_answer(&call.tenant, &domain.request_id, &fingerprint)
                .await?
        {
            return Ok(Prepared::Stored(Box::new(stored)));
        }
        Ok(Prepared::Route(Box::new(Routing {
            request: domain,
            tenant: call.tenant.clone(),
            fingerprint,
            applicant_fingerprint: applicant_fingerprint(msg),
            deadline,
        })))
    }

    /// The stored answer for `request_id` (the bytes sent the first time),
    /// or ALREADY_EXISTS when its body differs.
    pub(super) async fn stored_answer(
        &self,
        tenant: &str,
        request_id: &str,
        fingerprint: &[u8],
    ) -> Result<Option<Answer>, RouterError> {
        let Some(app) = self
            .inner
            .store
            .find_by_request_id(tenant, request_id)
            .await?
        else {
            return Ok(None);
        };
        if app.request_fingerprint != fingerprint {
            return Err(RouterError::AlreadyExists(Reused::RequestId));
        }
        let message = pb::RouteFinancingResponse::decode(app.response.as_slice())
            .map_err(|e| RouterError::Internal(format!("stored response undecodable: {e}")))?;
        Ok(Some(Answer {
            message,
            encoded: Bytes::from(app.response),
        }))
    }

    /// Fan out, finalize, record; the reply (sending `events` on the way
    /// for StreamOffers).
    pub(super) async fn route(
        &self,
        routing: Routing,
        events: Option<&mpsc::Sender<FanoutEvent>>,
    ) -> Result<Answer, RouterError> {
        let application_id = format!("app_{}", uuid::Uuid::now_v7().simple());
        let now_ms = unix_millis();
        let (fanout, recorded) = self
            .fan_out(&routing, &application_id, now_ms, events)
            .await?;
        let after_fanout = Instant::now();
        let Routed {
            response,
            mut record,
        } = self.finalize(&routing, application_id, now_ms, fanout);
        // Encoded once: these bytes are stored and sent.
        let encoded = Bytes::from(response.encode_to_vec());
        record.response = encoded.clone();
        // A lost request_id race answers with the winner's stored answer.
        if let Some(stored) = self.record(&routing, record).await? {
            return Ok(stored);
        }
        // Late offers may now be stored against the application.
        if let Some(recorded) = recorded {
            let _ = recorded.send(());
        }
        self.inner.tail.observe(after_fanout.elapsed());
        tracing::info!(
            application_id = %response.application_id,
            offers = response.offers.len(),
            partial = response.partial,
            "application routed"
        );
        Ok(Answer {
            message: response,
            encoded,
        })
    }

    /// The fan-out stage: every channel concurrently (in the routing
    /// rules' tiers), until the caller's deadline less the reply margin.
    ///
    /// When a channel has a late window (`late_window_ms`) and
    /// `routing.max_late_calls` is not 0, the fan-out runs in a task of its
    /// own: it hands the result over at the deadline and goes on with the
    /// calls still working (`router/late.rs`), whose offers are stored once
    /// the application is (the sender returned here says when). A caller
    /// that goes away before the reply still cancels every call.
    pub(super) async fn fan_out(
        &self,
        routing: &Routing,
        application_id: &str,
        now_ms: i64,
        events: Option<&mpsc::Sender<FanoutEvent>>,
    ) -> Result<(FanoutResult, Option<oneshot::Sender<()>>), RouterError> {
        let s = &self.inner.settings;
        let channel_deadline = (routing.deadline)
            .checked_sub(self.inner.tail.margin(s.reply_margin))
            .unwrap_or_else(Instant::now);
        let late = s.max_late_calls > 0
            && (self.inner.registry.channels().iter()).any(|c| !c.late_window.is_zero());
        if !late {
            let book = self.inner.odds.book();
            let disclosure = self.disclosure();
            let fanout = self.fanout(
                &routing.request,
                &book,
                &disclosure,
                application_id,
                channel_deadline,
                now_ms,
                false,
            );
            return Ok((fanout.run(events).await, None));
        }
        let (reply_tx, reply_rx) = oneshot::channel();
        let (recorded_tx, recorded_rx) = oneshot::channel();
        let job = late::LateJob {
            tenant: routing.tenant.clone(),
            application_id: application_id.to_owned(),
            risk_band: finroute_core::risk_band(routing.request.applicant.credit_score).to_owned(),
            recorded: recorded_rx,
        };
        let this = self.clone();
        let request = routing.request.clone();
        let events = events.cloned();
        // The task is a call in flight: a graceful drain waits for it (and
        // tells it to stop keeping channels, `InFlight::draining`).
        let guard = self.inner.in_flight.guard();
        tokio::spawn(async move {
            let _guard = guard;
            this.fan_out_task(request, job, channel_deadline, now_ms, events, reply_tx)
                .await;
        });
        let result = reply_rx
            .await
            .map_err(|_| RouterError::Internal("the fan-out task ended without a result".into()))?;
        Ok((result, Some(recorded_tx)))
    }

    /// The fan-out in its own task: the result to `reply` at the deadline,
    /// then the late work.
    async fn fan_out_task(
        self,
        request: FinancingRequest,
        job: late::LateJob,
        channel_deadline: Instant,
        now_ms: i64,
        events: Option<mpsc::Sender<FanoutEvent>>,
        mut reply: oneshot::Sender<FanoutResult>,
    ) {
        let book = self.inner.odds.book();
        let disclosure = self.disclosure();
        let application_id = job.application_id.clone();
        let fanout = self.fanout(
            &request,
            &book,
            &disclosure,
            &application_id,
            channel_deadline,
            now_ms,
            true,
        );
        let (result, pending) = tokio::select! {
            r = fanout.run_until_reply(events.as_ref()) => r,
            // The caller went away: dropping the fan-out cancels every call.
            () = reply.closed() => return,
        };
        // StreamOffers ends its stream when every event sender is gone:
        // late work sends none, so it must not hold one.
        drop(events);
        if reply.send(result).is_err() || pending.is_empty() {
            return;
        }
        self.late_work(pending, job).await;
    }

    /// The platform party and the partner name-lists in force.
    fn disclosure(&self) -> Disclosure {
        let s = &self.inner.settings;
        Disclosure {
            platform: s.platform.clone(),
            lists: s.partner_lists.index(),
            require_list: s.partner_lists.require,
        }
    }

    /// The fan-out of `request` with the router's channels and settings.
    #[allow(clippy::too_many_arguments)]
    fn fanout<'a>(
        &'a self,
        request: &'a FinancingRequest,
        odds: &'a finroute_core::OddsBook,
        disclosure: &'a Disclosure,
        application_id: &'a str,
        channel_deadline: Instant,
        now_ms: i64,
        late: bool,
    ) -> Fanout<'a> {
        let s = &self.inner.settings;
        Fanout {
            registry: &self.inner.registry,
            request,
            policy: &s.policy,
            odds,
            application_id,
            channel_deadline,
            cut: &self.inner.in_flight,
            now_ms,
            disclosure,
            quotas: Some(&s.quotas),
            rules: Some(&s.rules),
            late,
        }
    }

    /// The finalize stage: rank, plan and explain (`finroute_core::finalize`)
    /// in the request's locale; the response and its record.
    pub(super) fn finalize(
        &self,
        routing: &Routing,
        application_id: String,
        now_ms: i64,
        fanout: FanoutResult,
    ) -> Routed {
        let (request, policy) = (&routing.request, &self.inner.settings.policy);
        let (reports, rejections) = (fanout.reports, fanout.rejections);
        let finalized =
            finroute_core::finalize(request, policy, fanout.offers, &reports, &rejections);
        // The rows first: the response then takes the offers' values over
        // instead of copying them.
        let record = record::application_record(
            routing,
            &application_id,
            now_ms,
            fanout.partial,
            &finalized.offers,
            &reports,
        );
        let response = pb::RouteFinancingResponse {
            application_id,
            primary_decision: (request.primary_decision.as_ref())
                .map(convert::primary_decision_to_pb),
            explanation: Some(convert::explanation_to_pb(&finalized.explanation)),
            offers: (finalized.offers.into_iter())
                .map(convert::offer_into_pb)
                .collect(),
            channel_reports: reports.iter().map(convert::report_to_pb).collect(),
            plan: Some(convert::plan_to_pb(&finalized.plan)),
            partial: fanout.partial,
            created_at: Some(c::timestamp_from_millis(now_ms)),
            locale: request.locale.tag().to_owned(),
        };
        Routed { response, record }
    }
}

/// How a failed routing call is counted.
pub(super) fn failed_outcome(e: &RouterError) -> RouteOutcome {
    match e {
        RouterError::Invalid(_) | RouterError::AlreadyExists(_) => RouteOutcome::Invalid,
        RouterError::Overloaded(_) => RouteOutcome::Shed,
        _ => RouteOutcome::Failed,
    }
}

/// sha256 of the applicant data offers are made on: the applicant message
/// without its consent (who may receive the data is not the data) and the
/// primary line's decision. The same data routed again gives the same
/// digest; any change (income, debts, score, collateral, region...) another.
fn applicant_fingerprint(msg: &pb::RouteFinancingRequest) -> Vec<u8> {
    let mut applicant = msg.applicant.clone().unwrap_or_default();
    applicant.consent = None;
    let mut h = Sha256::new();
    h.update(b"finroute.applicant.v1\0");
    h.update(applicant.encode_to_vec());
    h.update(
        msg.primary_decision
            .as_ref()
            .map(|d| d.encode_to_vec())
            .unwrap_or_default(),
    );
    h.finalize().to_vec()
}
