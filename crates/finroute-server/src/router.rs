//! `finroute.v1.FinancingRouter`: every RPC has one handler shape
//! ([`RouterService::handle`]: count the call in flight, read the tenant
//! and the caller's deadline, run the operation, map its error).
//! RouteFinancing's stages are in `router/route.rs` (admit, prepare, fan
//! out, finalize) and `router/record.rs` (record), StreamOffers in
//! `router/stream.rs`; AcceptOffer claims and waits for the relay;
//! GetApplication, FileAppeal, GetAppeal and GetKeyFacts are here (the
//! key facts themselves are built in `keyfacts.rs`). ReviewService is in
//! `review.rs`, field checks in `validate.rs` (see docs/architecture.md).

mod late;
mod record;
mod route;
mod stream;
mod wire;

pub(crate) use wire::RouteFront;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use finroute_adapters::convert as c;
use finroute_core::PricingPolicy;
use finroute_proto::v1 as pb;
use finroute_store::{
    AcceptanceClaim, AcceptanceRecord, AcceptanceState, ClaimOutcome, NewAppeal, OfferRecord,
    Store, StoreError,
};
use prost::Message;
use sha2::{Digest, Sha256};
use tokio::time::Instant;
use tonic::{Request, Response, Status};

use crate::accept::Relay;
use crate::auth::caller_of;
use crate::convert::RequestDefaults;
use crate::convert::{appeal_pb, appeal_reason_name};
use crate::deadline;
use crate::drain::{CallGuard, InFlight};
use crate::error::{Precondition, Resource, Reused, RouterError};
use crate::fanout::Registry;
use crate::keyfacts;
use crate::metrics::Metrics;
use crate::odds::OddsLearner;
use crate::validate::{check_id, check_optional_id, check_text, violation};

/// Settings the router service needs from config.
#[derive(Debug, Clone)]
pub struct RouterSettings {
    pub policy: PricingPolicy,
    pub defaults: RequestDefaults,
    /// Deadline when the caller sends none.
    pub default_deadline: Duration,
    /// Kept back from the deadline to price, store and reply.
    pub reply_margin: Duration,
    /// How long AcceptOffer waits for the partner when the caller sends no
    /// deadline.
    pub accept_wait: Duration,
    /// Routing calls in flight at most (process-wide).
    pub max_in_flight_routes: usize,
    /// The `[platform]` operator as the platform party, if named.
    pub platform: Option<finroute_core::Party>,
    /// The lenders' partner name-lists (reloaded while the router runs).
    pub partner_lists: Arc<crate::partner_lists::PartnerLists>,
    /// Channels' volume agreements (`[[quotas]]`).
    pub quotas: Arc<crate::quota::Quotas>,
    /// The routing rules (`[[routing.rules]]` and the defaults).
    pub rules: Arc<crate::rules::RuleSet>,
    /// Channel calls kept past their reply at once (late work); 0 = none.
    pub max_late_calls: usize,
}

/// The FinancingRouter service. Cheap to clone.
#[derive(Debug, Clone)]
pub struct RouterService {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    registry: Registry,
    store: Store,
    relay: Relay,
    odds: OddsLearner,
    settings: RouterSettings,
    /// How long the work after the fan-out has been taking.
    tail: TailTracker,
    /// Calls in flight, for the shutdown drain.
    in_flight: InFlight,
    metrics: Arc<Metrics>,
    /// One permit per routing call in flight, taken inside the request
    /// (never in a tower layer, where an idle connection would hold one).
    routes: Arc<tokio::sync::Semaphore>,
    /// One permit per channel call kept past its reply (`router/late.rs`).
    late_permits: Arc<tokio::sync::Semaphore>,
}

impl RouterService {
    pub fn new(
        registry: Registry,
        store: Store,
        relay: Relay,
        odds: OddsLearner,
        settings: RouterSettings,
        in_flight: InFlight,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                registry,
                store,
                relay,
                odds,
                routes: Arc::new(tokio::sync::Semaphore::new(settings.max_in_flight_routes)),
                late_permits: Arc::new(tokio::sync::Semaphore::new(settings.max_late_calls)),
                tail: TailTracker::default(),
                in_flight,
                metrics,
                settings,
            }),
        }
    }

    /// Calls of the router's routing methods in flight now.
    pub fn routes_in_flight(&self) -> usize {
        self.inner
            .settings
            .max_in_flight_routes
            .saturating_sub(self.inner.routes.available_permits())
    }

    /// The one handler shape of every FinancingRouter RPC: counts the call
    /// in flight, reads the caller's tenant and deadline, hands the message
    /// to `op` and maps its error to a status (`impl From<RouterError> for
    /// Status`).
    async fn handle<M, T, F, Fut>(&self, request: Request<M>, op: F) -> Result<Response<T>, Status>
    where
        F: FnOnce(Call<M>) -> Fut,
        Fut: Future<Output = Result<T, RouterError>>,
    {
        let caller = caller_of(&request);
        let call = Call {
            guard: self.inner.in_flight.guard(),
            tenant: caller.tenant,
            key_id: caller.key_id,
            timeout: deadline::caller_timeout(request.metadata()),
            message: request.into_inner(),
        };
        Ok(Response::new(op(call).await?))
    }
}

/// GetApplication's BASIC view: every offer (late ones too) without its
/// schedule and disclosures.
fn basic_view(app: &mut pb::Application) {
    let late = app.late_offers.iter_mut().filter_map(|l| l.offer.as_mut());
    for offer in app.offers.iter_mut().chain(late) {
        offer.schedule = Vec::new();
        offer.disclosures = Vec::new();
    }
}

/// One RPC call as its operation receives it. The call counts in flight
/// (for the shutdown drain) while `guard` lives: operations take the
/// `Call` by value, and StreamOffers moves the guard into the task that
/// sends its events.
pub(crate) struct Call<M> {
    guard: CallGuard,
    /// The caller's tenant (from its API key).
    tenant: String,
    /// The id of the caller's API key (safe to log; `open` without auth).
    key_id: String,
    /// The deadline the caller sent (`grpc-timeout`), if any.
    timeout: Option<Duration>,
    message: M,
}

/// A decaying maximum of the time from the end of the fan-out to the reply
/// (price, rank, explain, encode, commit), so the reply margin grows when
/// the router is loaded: many calls whose channels time out together all
/// need the CPU and the store at the same moment. The margin used is
/// `max(routing.reply_margin_ms, 2 x this)`, at most 250 ms.
#[derive(Debug, Default)]
struct TailTracker {
    /// Microseconds.
    tail_us: std::sync::atomic::AtomicU64,
}

impl TailTracker {
    const CAP: Duration = Duration::from_millis(250);

    fn observe(&self, took: Duration) {
        use std::sync::atomic::Ordering;
        let took = took.as_micros().min(u128::from(u64::MAX)) as u64;
        let _ = self
            .tail_us
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |old| {
                // Decays by 1/256 per call: a burst is remembered for
                // about a thousand calls, not for ever.
                Some(took.max(old - old / 256))
            });
    }

    fn margin(&self, configured: Duration) -> Duration {
        let tail = Duration::from_micros(self.tail_us.load(std::sync::atomic::Ordering::Relaxed));
        // Twice the tail: the reply still has to be encoded, sent and
        // read after the part measured here.
        configured.max((tail * 2).min(Self::CAP))
    }
}

/// FileAppeal's fields: the application and optional channel ids, a known
/// reason (its store name is returned), the details text and the optional
/// idempotency key.
fn check_appeal_request(msg: &pb::FileAppealRequest) -> Result<&'static str, RouterError> {
    let mut v = Vec::new();
    check_id(&mut v, "application_id", &msg.application_id);
    check_optional_id(&mut v, "adapter_id", &msg.adapter_id);
    let reason = pb::AppealReason::try_from(msg.reason)
        .ok()
        .and_then(appeal_reason_name);
    if reason.is_none() {
        v.push(c::Violation {
            field: "reason".into(),
            description: "one of APPEAL_REASON_INCOME_CHANGED, APPEAL_REASON_DATA_ERROR, APPEAL_REASON_LINE_REDUCED_UNFAIRLY, APPEAL_REASON_OTHER".into(),
        });
    }
    check_text(&mut v, "details", &msg.details);
    check_optional_id(&mut v, "idempotency_key", &msg.idempotency_key);
    reason
        .filter(|_| v.is_empty())
        .ok_or(RouterError::Invalid(v))
}

/// A new appeal's id. With an idempotency key it is derived from the key
/// (and the tenant), so a retry collides with the first filing on the
/// primary key.
fn appeal_id(tenant: &str, idempotency_key: &str) -> String {
    if idempotency_key.is_empty() {
        return format!("apl_{}", uuid::Uuid::now_v7().simple());
    }
    let mut h = Sha256::new();
    h.update(tenant.as_bytes());
    h.update([0]);
    h.update(idempotency_key.as_bytes());
    format!("apl_k{}", &hex::encode(h.finalize())[..32])
}

/// sha256 over the fields that make two AcceptOffer calls the same call.
fn accept_fingerprint(offer_id: &str, applicant_id: &str) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(offer_id.as_bytes());
    h.update([0]);
    h.update(applicant_id.as_bytes());
    h.finalize().to_vec()
}

fn acceptance_status_pb(s: AcceptanceState) -> pb::AcceptanceStatus {
    match s {
        AcceptanceState::Pending => pb::AcceptanceStatus::Pending,
        AcceptanceState::Accepted => pb::AcceptanceStatus::Accepted,
        AcceptanceState::Declined => pb::AcceptanceStatus::Declined,
    }
}

fn accept_response(r: &AcceptanceRecord) -> pb::AcceptOfferResponse {
    pb::AcceptOfferResponse {
        acceptance_id: r.acceptance_id.clone(),
        status: acceptance_status_pb(r.status) as i32,
        partner_reference: r.partner_reference.clone(),
        detail: match r.status {
            AcceptanceState::Pending => {
                "the partner has not answered yet; retry with the same idempotency_key for the final answer".into()
            }
            _ => r.detail.clone(),
        },
    }
}

pub(crate) fn acceptance_pb(r: &AcceptanceRecord) -> pb::Acceptance {
    pb::Acceptance {
        offer_id: r.offer_id.clone(),
        acceptance_id: r.acceptance_id.clone(),
        status: acceptance_status_pb(r.status) as i32,
        partner_reference: r.partner_reference.clone(),
        accepted_at: match r.status {
            AcceptanceState::Accepted => r.completed_at_ms.map(c::timestamp_from_millis),
            _ => None,
        },
        outcomes: Vec::new(),
        current_outcome: None,
    }
}

/// [`acceptance_pb`] with the outcomes its partner reported (`events`:
/// any acceptances', each one's in order).
pub(crate) fn acceptance_with_outcomes(
    r: &AcceptanceRecord,
    events: &[finroute_store::OutcomeEvent],
) -> pb::Acceptance {
    let mut a = acceptance_pb(r);
    a.outcomes = events
        .iter()
        .filter(|e| e.acceptance_id == r.acceptance_id)
        .map(crate::outcomes::outcome_pb)
        .collect();
    a.current_outcome = a.outcomes.last().cloned();
    a
}

pub(crate) fn unix_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[tonic::async_trait]
impl pb::financing_router_server::FinancingRouter for RouterService {
    async fn route_financing(
        &self,
        request: Request<pb::RouteFinancingRequest>,
    ) -> Result<Response<pb::RouteFinancingResponse>, Status> {
        // The server sends RouteFinancing's encoded answer as it is
        // (`RouteFront`, router/wire.rs); this path, which decodes it
        // again, serves only a bare `FinancingRouterServer`.
        self.handle(request, |call| async move {
            let encoded = self.route_op(call).await?;
            pb::RouteFinancingResponse::decode(encoded)
                .map_err(|e| RouterError::Internal(format!("response undecodable: {e}")))
        })
        .await
    }

    type StreamOffersStream = stream::EventStream;

    async fn stream_offers(
        &self,
        request: Request<pb::RouteFinancingRequest>,
    ) -> Result<Response<Self::StreamOffersStream>, Status> {
        self.handle(request, |call| self.stream_op(call)).await
    }

    async fn accept_offer(
        &self,
        request: Request<pb::AcceptOfferRequest>,
    ) -> Result<Response<pb::AcceptOfferResponse>, Status> {
        self.handle(request, |call| self.accept_offer_op(call))
            .await
    }

    async fn get_application(
        &self,
        request: Request<pb::GetApplicationRequest>,
    ) -> Result<Response<pb::Application>, Status> {
        self.handle(request, |call| self.get_application_op(call))
            .await
    }

    async fn file_appeal(
        &self,
        request: Request<pb::FileAppealRequest>,
    ) -> Result<Response<pb::Appeal>, Status> {
        self.handle(request, |call| self.file_appeal_op(call)).await
    }

    async fn get_appeal(
        &self,
        request: Request<pb::GetAppealRequest>,
    ) -> Result<Response<pb::Appeal>, Status> {
        self.handle(request, |call| self.get_appeal_op(call)).await
    }

    async fn get_key_facts(
        &self,
        request: Request<pb::GetKeyFactsRequest>,
    ) -> Result<Response<pb::KeyFacts>, Status> {
        self.handle(request, |call| self.get_key_facts_op(call))
            .await
    }
}

impl RouterService {
    /// AcceptOffer: waits for the partner until the caller's deadline less
    /// the reply margin, or `acceptance.wait_ms`.
    async fn accept_offer_op(
        &self,
        call: Call<pb::AcceptOfferRequest>,
    ) -> Result<pb::AcceptOfferResponse, RouterError> {
        let s = &self.inner.settings;
        let wait = match call.timeout {
            Some(t) => t.saturating_sub(s.reply_margin),
            None => s.accept_wait,
        };
        let deadline = Instant::now() + wait;
        self.accept(call.message, &call.tenant, deadline).await
    }

    /// GetApplication: the stored answer with its acceptances and appeals.
    async fn get_application_op(
        &self,
        call: Call<pb::GetApplicationRequest>,
    ) -> Result<pb::Application, RouterError> {
        let tenant = call.tenant;
        let id = &call.message.application_id;
        let mut v = Vec::new();
        check_id(&mut v, "application_id", id);
        let view = pb::ApplicationView::try_from(call.message.view);
        if view.is_err() {
            v.push(c::Violation {
                field: "view".into(),
                description:
                    "must be APPLICATION_VIEW_BASIC or APPLICATION_VIEW_FULL (or unset: FULL)"
                        .into(),
            });
        }
        if !v.is_empty() {
            return Err(RouterError::Invalid(v));
        }
        let stored = self
            .inner
            .store
            .get_application(&tenant, id)
            .await
            .map_err(RouterError::from)?
            .ok_or_else(|| RouterError::NotFound(Resource::Application))?;
        // Application shares field numbers 1..=8 with RouteFinancingResponse,
        // so the stored answer decodes as the application directly.
        let mut app = pb::Application::decode(stored.response.as_slice())
            .map_err(|e| RouterError::Internal(format!("stored response undecodable: {e}")))?;
        let store = &self.inner.store;
        let outcomes = store
            .outcomes_of_application(&tenant, id)
            .await
            .map_err(RouterError::from)?;
        app.acceptances = store
            .acceptances_of_application(&tenant, id)
            .await
            .map_err(RouterError::from)?
            .iter()
            .map(|a| acceptance_with_outcomes(a, &outcomes))
            .collect();
        app.appeals = store
            .appeals_of_application(&tenant, id)
            .await
            .map_err(RouterError::from)?
            .iter()
            .map(appeal_pb)
            .collect();
        app.late_offers = late_offers_pb(store, &tenant, id).await?;
        if view == Ok(pb::ApplicationView::Basic) {
            basic_view(&mut app);
        }
        Ok(app)
    }

    /// GetKeyFacts: the facts of one of the tenant's offers (another
    /// tenant's answers as unknown), in the request's locale or, when it
    /// sends none, the locale the offer was routed in.
    async fn get_key_facts_op(
        &self,
        call: Call<pb::GetKeyFactsRequest>,
    ) -> Result<pb::KeyFacts, RouterError> {
        let tenant = call.tenant;
        let msg = call.message;
        let mut v = Vec::new();
        check_id(&mut v, "offer_id", &msg.offer_id);
        if !v.is_empty() {
            return Err(RouterError::Invalid(v));
        }
        let store = &self.inner.store;
        let offer = store
            .get_offer(&tenant, &msg.offer_id)
            .await?
            .ok_or(RouterError::NotFound(Resource::Offer))?;
        let stored = store
            .get_application(&tenant, &offer.application_id)
            .await?
            .ok_or(RouterError::NotFound(Resource::Offer))?;
        let routed = pb::RouteFinancingResponse::decode(stored.response.as_slice())
            .map_err(|e| RouterError::Internal(format!("stored response undecodable: {e}")))?;
        let late;
        let shown = match routed.offers.iter().find(|o| o.offer_id == msg.offer_id) {
            Some(o) => o,
            None => {
                late = late_offers_pb(store, &tenant, &offer.application_id).await?;
                late.iter()
                    .filter_map(|l| l.offer.as_ref())
                    .find(|o| o.offer_id == msg.offer_id)
                    .ok_or_else(|| {
                        RouterError::Internal("offer missing from its stored answer".into())
                    })?
            }
        };
        let locale = keyfacts::resolve_locale(&msg.locale, keyfacts::routed_locale(&routed));
        keyfacts::key_facts(&routed.application_id, shown, locale).map_err(RouterError::Internal)
    }

    /// FileAppeal.
    async fn file_appeal_op(
        &self,
        call: Call<pb::FileAppealRequest>,
    ) -> Result<pb::Appeal, RouterError> {
        self.file(call.message, &call.tenant, &call.key_id).await
    }

    /// GetAppeal.
    async fn get_appeal_op(
        &self,
        call: Call<pb::GetAppealRequest>,
    ) -> Result<pb::Appeal, RouterError> {
        let tenant = call.tenant;
        let id = &call.message.appeal_id;
        let mut v = Vec::new();
        check_id(&mut v, "appeal_id", id);
        if !v.is_empty() {
            return Err(RouterError::Invalid(v));
        }
        let appeal = self
            .inner
            .store
            .get_appeal(&tenant, id)
            .await
            .map_err(RouterError::from)?
            .ok_or_else(|| RouterError::NotFound(Resource::Appeal))?;
        Ok(appeal_pb(&appeal))
    }
}

impl RouterService {
    /// AcceptOffer: claim, let the relay drive, wait for the answer.
    async fn accept(
        &self,
        msg: pb::AcceptOfferRequest,
        tenant: &str,
        deadline: Instant,
    ) -> Result<pb::AcceptOfferResponse, RouterError> {
        let mut v = Vec::new();
        check_id(&mut v, "offer_id", &msg.offer_id);
        check_id(&mut v, "idempotency_key", &msg.idempotency_key);
        check_id(&mut v, "applicant_id", &msg.applicant_id);
        if !v.is_empty() {
            return Err(RouterError::Invalid(v));
        }
        let fingerprint = accept_fingerprint(&msg.offer_id, &msg.applicant_id);
        // A key seen before: its acceptance, whatever happened since (the
        // offer may have expired after it was accepted).
        if let Some(existing) = self
            .inner
            .store
            .find_acceptance_by_key(tenant, &msg.idempotency_key)
            .await?
        {
            return self.answer_existing(existing, &fingerprint, deadline).await;
        }
        let now = unix_millis();
        let offer = self.acceptable_offer(&msg, tenant, now).await?;
        let claim = AcceptanceClaim {
            acceptance_id: format!("acc_{}", uuid::Uuid::now_v7().simple()),
            tenant: tenant.into(),
            idempotency_key: msg.idempotency_key.clone(),
            offer_id: offer.offer_id.clone(),
            application_id: offer.application_id.clone(),
            adapter_id: offer.adapter_id.clone(),
            partner_offer_ref: offer.partner_offer_ref.clone(),
            applicant_id: msg.applicant_id.clone(),
            fingerprint: fingerprint.clone(),
            now_ms: now,
        };
        match self.claim(claim).await? {
            ClaimOutcome::Created(r) => {
                tracing::info!(
                    acceptance_id = %r.acceptance_id,
                    offer_id = %r.offer_id,
                    adapter = %r.adapter_id,
                    "acceptance claimed"
                );
                self.answer_existing(r, &fingerprint, deadline).await
            }
            ClaimOutcome::Existing(r) => self.answer_existing(r, &fingerprint, deadline).await,
            ClaimOutcome::OfferTaken(_) => Err(RouterError::FailedPrecondition(
                Precondition::OfferAlreadyAccepted,
            )),
        }
    }

    /// The offer `msg` names, if this applicant may accept it now: it
    /// exists for the tenant, belongs to the applicant (another applicant's
    /// offer answers as an unknown id), has not expired, and its channel is
    /// configured and takes acceptances.
    async fn acceptable_offer(
        &self,
        msg: &pb::AcceptOfferRequest,
        tenant: &str,
        now: i64,
    ) -> Result<OfferRecord, RouterError> {
        let store = &self.inner.store;
        let offer = store
            .get_offer(tenant, &msg.offer_id)
            .await?
            .ok_or(RouterError::NotFound(Resource::Offer))?;
        let application = store
            .get_application(tenant, &offer.application_id)
            .await?
            .ok_or(RouterError::NotFound(Resource::Offer))?;
        if application.applicant_id != msg.applicant_id {
            return Err(RouterError::NotFound(Resource::OfferOfAnotherApplicant));
        }
        if offer.expires_at_ms <= now {
            return Err(RouterError::FailedPrecondition(Precondition::OfferExpired));
        }
        if let Some(newer) = store
            .applicant_changed_since(tenant, &offer.application_id)
            .await?
        {
            return Err(RouterError::FailedPrecondition(Precondition::OfferStale(
                newer,
            )));
        }
        match self.inner.registry.get(&offer.adapter_id) {
            None => Err(RouterError::FailedPrecondition(
                Precondition::ChannelNotConfigured,
            )),
            Some(ch) if ch.description().is_some_and(|d| !d.supports_accept) => Err(
                RouterError::FailedPrecondition(Precondition::ChannelTakesNoAcceptance),
            ),
            Some(_) => Ok(offer),
        }
    }

    /// Inserts the acceptance and its outbox row and hands a new one to the
    /// relay. Spawned: a caller that goes away mid-claim must not leave the
    /// claim half done, and a committed claim must reach the relay.
    async fn claim(&self, claim: AcceptanceClaim) -> Result<ClaimOutcome, RouterError> {
        let relay = self.inner.relay.clone();
        let store = self.inner.store.clone();
        let claimed = tokio::spawn(async move {
            let outcome = store.claim_acceptance(claim).await;
            if let Ok(ClaimOutcome::Created(r)) = &outcome {
                relay.drive_now(r.acceptance_id.clone());
            }
            outcome
        })
        .await
        .map_err(|e| RouterError::Internal(format!("claim task failed: {e}")))??;
        Ok(claimed)
    }

    /// The answer for a key already claimed: ALREADY_EXISTS if it was for
    /// another offer or applicant, else its state once final or at the
    /// deadline.
    async fn answer_existing(
        &self,
        r: AcceptanceRecord,
        fingerprint: &[u8],
        deadline: Instant,
    ) -> Result<pb::AcceptOfferResponse, RouterError> {
        if r.fingerprint != fingerprint {
            return Err(RouterError::AlreadyExists(Reused::AcceptanceKey));
        }
        if r.status != AcceptanceState::Pending {
            return Ok(accept_response(&r));
        }
        // At shutdown's cut the caller hears PENDING at once (the next
        // start's relay finishes the acceptance; a retry of the key gets it).
        let last = tokio::select! {
            last = self.inner.relay.wait_final(&r.tenant, &r.acceptance_id, deadline) => {
                last?.unwrap_or(r)
            }
            () = self.inner.in_flight.cut_short() => r,
        };
        Ok(accept_response(&last))
    }

    /// FileAppeal: checks the request, that the application has a refusal
    /// to contest, and files the appeal once per idempotency key.
    async fn file(
        &self,
        msg: pb::FileAppealRequest,
        tenant: &str,
        key_id: &str,
    ) -> Result<pb::Appeal, RouterError> {
        let reason = check_appeal_request(&msg)?;
        self.check_contestable(&msg, tenant).await?;
        let appeal_id = appeal_id(tenant, &msg.idempotency_key);
        let filed = self
            .inner
            .store
            .file_appeal(NewAppeal {
                appeal_id: appeal_id.clone(),
                tenant: tenant.into(),
                application_id: msg.application_id.clone(),
                adapter_id: msg.adapter_id.clone(),
                reason: reason.into(),
                details: msg.details.clone(),
                now_ms: unix_millis(),
                filed_by: key_id.into(),
            })
            .await;
        let appeal = match filed {
            Ok(appeal) => appeal,
            Err(StoreError::NotFound) => {
                return Err(RouterError::NotFound(Resource::Application));
            }
            Err(StoreError::Duplicate { .. }) if !msg.idempotency_key.is_empty() => {
                return self.refiled(&msg, tenant, &appeal_id, reason).await;
            }
            Err(e) => return Err(e.into()),
        };
        tracing::info!(
            appeal_id = %appeal.appeal_id,
            application_id = %appeal.application_id,
            adapter = %appeal.adapter_id,
            reason,
            "appeal filed"
        );
        Ok(appeal_pb(&appeal))
    }

    /// The application exists and has the refusal the appeal contests: the
    /// primary line's (no `adapter_id`) or one of its channels'.
    async fn check_contestable(
        &self,
        msg: &pb::FileAppealRequest,
        tenant: &str,
    ) -> Result<(), RouterError> {
        let stored = self
            .inner
            .store
            .get_application(tenant, &msg.application_id)
            .await?
            .ok_or(RouterError::NotFound(Resource::Application))?;
        let routed = pb::RouteFinancingResponse::decode(stored.response.as_slice())
            .map_err(|e| RouterError::Internal(format!("stored response undecodable: {e}")))?;
        if msg.adapter_id.is_empty() {
            if !routed.primary_decision.as_ref().is_some_and(|p| p.refused) {
                return Err(RouterError::FailedPrecondition(
                    Precondition::NoPrimaryRefusal,
                ));
            }
        } else if !routed
            .channel_reports
            .iter()
            .any(|r| r.adapter_id == msg.adapter_id)
        {
            return Err(violation(
                "adapter_id",
                "not a channel of this application (see its channel_reports)",
            ));
        }
        Ok(())
    }

    /// A filing whose idempotency key was used before: the appeal as it is
    /// now if it is the same filing, ALREADY_EXISTS if not.
    async fn refiled(
        &self,
        msg: &pb::FileAppealRequest,
        tenant: &str,
        appeal_id: &str,
        reason: &str,
    ) -> Result<pb::Appeal, RouterError> {
        let existing = self
            .inner
            .store
            .get_appeal(tenant, appeal_id)
            .await?
            .ok_or_else(|| RouterError::Internal("appeal id taken by no appeal".into()))?;
        let same = existing.application_id == msg.application_id
            && existing.adapter_id == msg.adapter_id
            && existing.reason == reason
            && existing.details == msg.details;
        if !same {
            return Err(RouterError::AlreadyExists(Reused::AppealKey));
        }
        Ok(appeal_pb(&existing))
    }
}

/// The application's late offers, as GetApplication shows them.
async fn late_offers_pb(
    store: &Store,
    tenant: &str,
    application_id: &str,
) -> Result<Vec<pb::LateOffer>, RouterError> {
    store
        .late_offers(tenant, application_id)
        .await?
        .into_iter()
        .map(|l| {
            let offer = pb::Offer::decode(l.wire.as_slice()).map_err(|e| {
                RouterError::Internal(format!("stored late offer undecodable: {e}"))
            })?;
            Ok(pb::LateOffer {
                offer: Some(offer),
                arrived_at: Some(c::timestamp_from_millis(l.arrived_at_ms)),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reply_margin_follows_the_tail_of_the_work_after_the_fanout() {
        let t = TailTracker::default();
        let configured = Duration::from_millis(30);
        assert_eq!(t.margin(configured), configured);
        t.observe(Duration::from_millis(60));
        assert_eq!(t.margin(configured), Duration::from_millis(120));
        // Decays back towards the configured margin.
        for _ in 0..1_000 {
            t.observe(Duration::from_millis(1));
        }
        assert_eq!(t.margin(configured), configured);
        t.observe(Duration::from_secs(5));
        assert_eq!(t.margin(configured), TailTracker::CAP);
    }
}
