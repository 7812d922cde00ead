//! `finroute.v1.FinancingRouter`: every routing handler reads
//! validate -> fan out -> price and rank (core) -> store -> reply.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use finroute_adapters::convert as c;
use finroute_core::{FinancingRequest, PricingPolicy};
use finroute_proto::v1 as pb;
use finroute_store::{ApplicationRecord, ChannelReportRecord, OfferRecord, Store, StoreError};
use prost::Message;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use crate::convert::{self, RequestDefaults};
use crate::deadline;
use crate::error::RouterError;
use crate::fanout::{Fanout, FanoutEvent, Registry};

/// The tenant of every call until caller authentication lands.
pub const DEFAULT_TENANT: &str = "default";

/// Settings the router service needs from config.
#[derive(Debug, Clone)]
pub struct RouterSettings {
    pub policy: PricingPolicy,
    pub defaults: RequestDefaults,
    /// Deadline when the caller sends none.
    pub default_deadline: Duration,
    /// Kept back from the deadline to price, store and reply.
    pub reply_margin: Duration,
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
    settings: RouterSettings,
}

/// A validated request, or the stored answer to a repeated `request_id`.
enum Prepared {
    Route {
        request: Box<FinancingRequest>,
        fingerprint: Vec<u8>,
        deadline: Instant,
    },
    Stored(Box<pb::RouteFinancingResponse>),
}

impl RouterService {
    pub fn new(registry: Registry, store: Store, settings: RouterSettings) -> Self {
        Self {
            inner: Arc::new(Inner {
                registry,
                store,
                settings,
            }),
        }
    }

    /// Validates, computes the deadline, and answers repeats of a `request_id`.
    async fn prepare(
        &self,
        request: &Request<pb::RouteFinancingRequest>,
    ) -> Result<Prepared, RouterError> {
        let s = &self.inner.settings;
        let timeout = deadline::caller_timeout(request.metadata()).unwrap_or(s.default_deadline);
        let deadline = Instant::now() + timeout;
        let msg = request.get_ref();
        let domain = convert::financing_request_from_pb(msg, s.defaults)?;
        let fingerprint = Sha256::digest(msg.encode_to_vec()).to_vec();
        if !domain.request_id.is_empty()
            && let Some(stored) = self.stored_answer(&domain.request_id, &fingerprint).await?
        {
            return Ok(Prepared::Stored(Box::new(stored)));
        }
        Ok(Prepared::Route {
            request: Box::new(domain),
            fingerprint,
            deadline,
        })
    }

    /// The stored answer for `request_id`, or ALREADY_EXISTS when its body differs.
    async fn stored_answer(
        &self,
        request_id: &str,
        fingerprint: &[u8],
    ) -> Result<Option<pb::RouteFinancingResponse>, RouterError> {
        let Some(app) = self
            .inner
            .store
            .find_by_request_id(DEFAULT_TENANT, request_id)
            .await?
        else {
            return Ok(None);
        };
        if app.request_fingerprint != fingerprint {
            return Err(RouterError::AlreadyExists(
                "request_id was already used with a different request body".into(),
            ));
        }
        pb::RouteFinancingResponse::decode(app.response.as_slice())
            .map(Some)
            .map_err(|e| RouterError::Internal(format!("stored response undecodable: {e}")))
    }

    /// Fans out, prices, ranks, stores and returns the answer.
    async fn route(
        &self,
        request: FinancingRequest,
        fingerprint: Vec<u8>,
        deadline: Instant,
        events: Option<&mpsc::Sender<FanoutEvent>>,
    ) -> Result<pb::RouteFinancingResponse, RouterError> {
        let s = &self.inner.settings;
        let application_id = format!("app_{}", uuid::Uuid::now_v7().simple());
        let now_ms = unix_millis();
        let channel_deadline = deadline
            .checked_sub(s.reply_margin)
            .unwrap_or_else(Instant::now);
        let fanout = Fanout {
            registry: &self.inner.registry,
            request: &request,
            policy: &s.policy,
            application_id: &application_id,
            channel_deadline,
            now_ms,
        }
        .run(events)
        .await;
        let finalized = finroute_core::finalize(
            &request,
            &s.policy,
            fanout.offers,
            &fanout.reports,
            &fanout.rejections,
        );
        let response = pb::RouteFinancingResponse {
            application_id: application_id.clone(),
            primary_decision: request
                .primary_decision
                .as_ref()
                .map(convert::primary_decision_to_pb),
            explanation: Some(convert::explanation_to_pb(&finalized.explanation)),
            offers: finalized.offers.iter().map(convert::offer_to_pb).collect(),
            channel_reports: fanout.reports.iter().map(convert::report_to_pb).collect(),
            plan: Some(convert::plan_to_pb(&finalized.plan)),
            partial: fanout.partial,
            created_at: Some(c::timestamp_from_millis(now_ms)),
        };
        let record = ApplicationRecord {
            application_id: application_id.clone(),
            tenant: DEFAULT_TENANT.into(),
            request_id: request.request_id.clone(),
            request_fingerprint: fingerprint.clone(),
            applicant_id: request.applicant.applicant_id.clone(),
            created_at_ms: now_ms,
            partial: fanout.partial,
            response: response.encode_to_vec(),
            offers: finalized
                .offers
                .iter()
                .map(|o| OfferRecord {
                    offer_id: o.offer_id.clone(),
                    application_id: application_id.clone(),
                    tenant: DEFAULT_TENANT.into(),
                    adapter_id: o.adapter_id.clone(),
                    partner_offer_ref: o.partner_offer_ref.clone(),
                    product_kind: convert::product_kind_name(o.product_kind).into(),
                    currency: o.principal.currency.as_str().into(),
                    principal_minor: o.principal.amount_minor,
                    term_months: o.term_months as i32,
                    apr_bps: o.apr_bps,
                    approval_odds: o.approval_odds,
                    rank: o.rank as i32,
                    expires_at_ms: o.expires_at,
                })
                .collect(),
            channel_reports: fanout
                .reports
                .iter()
                .map(|r| ChannelReportRecord {
                    adapter_id: r.adapter_id.clone(),
                    product_kind: convert::product_kind_name(r.product_kind).into(),
                    status: convert::channel_status_name(r.status).into(),
                    latency_ms: r.latency_ms as i64,
                    offers_returned: r.offers_returned as i32,
                    offers_rejected: r.offers_rejected as i32,
                    detail: r.detail.clone(),
                })
                .collect(),
        };
        match self.inner.store.record_application(record).await {
            Ok(()) => {}
            // Two calls raced on one request_id: the first one stored wins.
            Err(StoreError::Duplicate { .. }) if !request.request_id.is_empty() => {
                if let Some(stored) = self
                    .stored_answer(&request.request_id, &fingerprint)
                    .await?
                {
                    return Ok(stored);
                }
                return Err(RouterError::Internal(
                    "duplicate without a stored application".into(),
                ));
            }
            Err(e) => return Err(e.into()),
        }
        tracing::info!(
            application_id = %application_id,
            offers = response.offers.len(),
            partial = response.partial,
            "application routed"
        );
        Ok(response)
    }
}

fn unix_millis() -> i64 {
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
        match self.prepare(&request).await? {
            Prepared::Stored(r) => Ok(Response::new(*r)),
            Prepared::Route {
                request,
                fingerprint,
                deadline,
            } => Ok(Response::new(
                self.route(*request, fingerprint, deadline, None).await?,
            )),
        }
    }

    type StreamOffersStream = ReceiverStream<Result<pb::RouteEvent, Status>>;

    async fn stream_offers(
        &self,
        request: Request<pb::RouteFinancingRequest>,
    ) -> Result<Response<Self::StreamOffersStream>, Status> {
        use pb::route_event::Event;
        let prepared = self.prepare(&request).await?;
        let (out_tx, out_rx) = mpsc::channel::<Result<pb::RouteEvent, Status>>(32);
        let service = self.clone();
        // Spawned so the routing finishes and is stored even if the caller
        // stops reading; it ends when the fan-out does (bounded by the deadline).
        tokio::spawn(async move {
            let result = match prepared {
                Prepared::Stored(r) => Ok(*r),
                Prepared::Route {
                    request,
                    fingerprint,
                    deadline,
                } => {
                    let (ev_tx, mut ev_rx) = mpsc::channel::<FanoutEvent>(32);
                    let forward_tx = out_tx.clone();
                    let forward = async move {
                        while let Some(e) = ev_rx.recv().await {
                            let event = match e {
                                FanoutEvent::Report(r) => {
                                    Event::ChannelReport(convert::report_to_pb(&r))
                                }
                                FanoutEvent::Offer(o) => Event::Offer(convert::offer_to_pb(&o)),
                            };
                            let _ = forward_tx
                                .send(Ok(pb::RouteEvent { event: Some(event) }))
                                .await;
                        }
                    };
                    let route = async move {
                        service
                            .route(*request, fingerprint, deadline, Some(&ev_tx))
                            .await
                    };
                    let (result, ()) = tokio::join!(route, forward);
                    result
                }
            };
            let last = match result {
                Ok(r) => Ok(pb::RouteEvent {
                    event: Some(Event::FinalResponse(r)),
                }),
                Err(e) => Err(Status::from(e)),
            };
            let _ = out_tx.send(last).await;
        });
        Ok(Response::new(ReceiverStream::new(out_rx)))
    }

    async fn accept_offer(
        &self,
        _request: Request<pb::AcceptOfferRequest>,
    ) -> Result<Response<pb::AcceptOfferResponse>, Status> {
        Err(RouterError::Unimplemented(
            "AcceptOffer is not implemented yet: exactly-once acceptance lands with the acceptance milestone",
        )
        .into())
    }

    async fn get_application(
        &self,
        request: Request<pb::GetApplicationRequest>,
    ) -> Result<Response<pb::Application>, Status> {
        let id = &request.get_ref().application_id;
        if id.is_empty() || id.len() > c::MAX_ID_LEN {
            return Err(RouterError::Invalid(vec![c::Violation {
                field: "application_id".into(),
                description: "required, at most 128 bytes".into(),
            }])
            .into());
        }
        let stored = self
            .inner
            .store
            .get_application(DEFAULT_TENANT, id)
            .await
            .map_err(RouterError::from)?
            .ok_or_else(|| RouterError::NotFound("application".into()))?;
        // Application shares field numbers 1..=8 with RouteFinancingResponse,
        // so the stored answer decodes as the application directly.
        let app = pb::Application::decode(stored.response.as_slice())
            .map_err(|e| RouterError::Internal(format!("stored response undecodable: {e}")))?;
        Ok(Response::new(app))
    }

    async fn file_appeal(
        &self,
        _request: Request<pb::FileAppealRequest>,
    ) -> Result<Response<pb::Appeal>, Status> {
        Err(RouterError::Unimplemented(
            "FileAppeal is not implemented yet: appeals land with the acceptance and review milestone",
        )
        .into())
    }

    async fn get_appeal(
        &self,
        _request: Request<pb::GetAppealRequest>,
    ) -> Result<Response<pb::Appeal>, Status> {
        Err(RouterError::Unimplemented(
            "GetAppeal is not implemented yet: appeals land with the acceptance and review milestone",
        )
        .into())
    }
}

/// `finroute.v1.ReviewService`, for operators.
#[derive(Debug, Clone, Default)]
pub struct ReviewService;

#[tonic::async_trait]
impl pb::review_service_server::ReviewService for ReviewService {
    async fn list_appeals(
        &self,
        _request: Request<pb::ListAppealsRequest>,
    ) -> Result<Response<pb::ListAppealsResponse>, Status> {
        Err(RouterError::Unimplemented(
            "ListAppeals is not implemented yet: manual review lands with the acceptance and review milestone",
        )
        .into())
    }

    async fn resolve_appeal(
        &self,
        _request: Request<pb::ResolveAppealRequest>,
    ) -> Result<Response<pb::Appeal>, Status> {
        Err(RouterError::Unimplemented(
            "ResolveAppeal is not implemented yet: manual review lands with the acceptance and review milestone",
        )
        .into())
    }
}
