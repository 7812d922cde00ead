//! `finroute.v1.ReviewService`: operators list the appeals queue and
//! resolve appeals. Scoped to the caller's tenant like every call; the
//! operator role is checked by the auth interceptor before a handler runs.
//!
//! ListAppeals page tokens ([`PageTokens`]) are sealed (AIP-158): opaque,
//! unforgeable, and bound to the tenant and the status filter they were
//! issued for.
//!
//! The workflow (docs/api.md, "The review workflow"): ClaimAppeal,
//! ReleaseAppeal, ResolveAppeal (which only proposes an overturn under
//! `review.four_eyes`), ApproveDecision, RejectDecision, GetCase. The
//! caller's API key id is the operator's identity in claims and in the
//! audit trail; every step is one store transaction
//! ([`Store::appeal_step`]).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use finroute_adapters::convert as c;
use finroute_core::text;
use finroute_proto::v1 as pb;
use finroute_store::{
    AppealCursor, AppealEvent, AppealRecord, AppealState, AppealStep, StepOutcome, StepRefusal,
    Store,
};
use prost::Message;
use tonic::{Request, Response, Status};

use crate::auth::caller_of;
use crate::clock::Clock;
use crate::config::ReviewConfig;
use crate::convert::{appeal_pb, appeal_state_pb};
use crate::drain::InFlight;
use crate::error::{Precondition, Resource, RouterError};
use crate::validate::{check_id, check_text, violation};

/// ListAppeals page size when the caller says 0, and the most it may ask.
const DEFAULT_PAGE: u32 = 50;
const MAX_PAGE: u32 = 500;

/// The size of the secret that seals ListAppeals page tokens.
pub const PAGE_TOKEN_SECRET_LEN: usize = 32;

/// A fresh random page-token secret, for a router configured without
/// one: its tokens then die with the process and do not work on another
/// replica.
pub fn random_page_token_secret() -> [u8; PAGE_TOKEN_SECRET_LEN] {
    XChaCha20Poly1305::generate_key(&mut OsRng).into()
}

/// ListAppeals page tokens (AIP-158): the cursor (`filed_at_ms`,
/// `appeal_id`) sealed with XChaCha20-Poly1305 under the router's secret,
/// the tenant and the status filter bound in as associated data. A client
/// cannot read, forge or alter one, and one issued to another tenant or
/// for another filter does not open.
///
/// Token: URL-safe base64 (no padding) of `1` (the version), a random
/// 24-byte nonce, and the sealed `filed_at_ms` (8 bytes, big-endian)
/// followed by the appeal id.
#[derive(Clone)]
pub struct PageTokens {
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for PageTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PageTokens(<secret>)")
    }
}

const TOKEN_VERSION: u8 = 1;
const NONCE_LEN: usize = 24;
/// Longer tokens are refused before any decoding.
const MAX_TOKEN_LEN: usize = 600;

impl PageTokens {
    pub fn new(secret: &[u8; PAGE_TOKEN_SECRET_LEN]) -> PageTokens {
        PageTokens {
            cipher: XChaCha20Poly1305::new(secret.into()),
        }
    }

    /// What the token is bound to besides the secret.
    fn binding(tenant: &str, status: i32) -> Vec<u8> {
        let mut aad = Vec::with_capacity(40 + tenant.len());
        aad.extend_from_slice(b"finroute.v1.ListAppeals\0");
        aad.extend_from_slice(&(tenant.len() as u64).to_be_bytes());
        aad.extend_from_slice(tenant.as_bytes());
        aad.extend_from_slice(&status.to_be_bytes());
        aad
    }

    /// The token for the page after `cursor`, for `tenant` and `status`.
    fn encode(
        &self,
        tenant: &str,
        status: i32,
        cursor: &AppealCursor,
    ) -> Result<String, RouterError> {
        let mut plain = Vec::with_capacity(8 + cursor.appeal_id.len());
        plain.extend_from_slice(&cursor.filed_at_ms.to_be_bytes());
        plain.extend_from_slice(cursor.appeal_id.as_bytes());
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let aad = Self::binding(tenant, status);
        let sealed = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: &plain,
                    aad: &aad,
                },
            )
            .map_err(|_| RouterError::Internal("page token: sealing failed".into()))?;
        let mut raw = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
        raw.push(TOKEN_VERSION);
        raw.extend_from_slice(&nonce);
        raw.extend_from_slice(&sealed);
        Ok(URL_SAFE_NO_PAD.encode(raw))
    }

    /// The cursor of a token this router issued for `tenant` and `status`,
    /// or `None`.
    fn decode(&self, token: &str, tenant: &str, status: i32) -> Option<AppealCursor> {
        if token.len() > MAX_TOKEN_LEN {
            return None;
        }
        let raw = URL_SAFE_NO_PAD.decode(token).ok()?;
        let (&version, rest) = raw.split_first()?;
        if version != TOKEN_VERSION {
            return None;
        }
        let (nonce, sealed) = rest.split_first_chunk::<NONCE_LEN>()?;
        let aad = Self::binding(tenant, status);
        let plain = self
            .cipher
            .decrypt(
                &XNonce::from(*nonce),
                Payload {
                    msg: sealed,
                    aad: &aad,
                },
            )
            .ok()?;
        let (filed_at, appeal_id) = plain.split_first_chunk::<8>()?;
        let appeal_id = String::from_utf8(appeal_id.to_vec()).ok()?;
        text::check_id(&appeal_id, c::MAX_ID_LEN).ok()?;
        Some(AppealCursor {
            filed_at_ms: i64::from_be_bytes(*filed_at),
            appeal_id,
        })
    }
}

/// The most undecided appeals a queue view (filter or SLA order) reads.
const MAX_QUEUE: u32 = 5_000;

/// `finroute.v1.ReviewService`, for operators.
#[derive(Debug, Clone)]
pub struct ReviewService {
    store: Store,
    in_flight: InFlight,
    page_tokens: PageTokens,
    settings: ReviewConfig,
    /// Claim lapses and SLAs are measured on it.
    clock: Clock,
}

/// The stored name of a decision reason (`"NEW_EVIDENCE"`), or `None` for
/// UNSPECIFIED and unknown values.
fn decision_reason_name(code: i32) -> Option<&'static str> {
    match pb::DecisionReason::try_from(code).ok()? {
        pb::DecisionReason::Unspecified => None,
        r => r.as_str_name().strip_prefix("DECISION_REASON_"),
    }
}

/// The wire value of a stored decision reason name ('' = UNSPECIFIED).
fn decision_reason_pb(name: &str) -> i32 {
    pb::DecisionReason::from_str_name(&format!("DECISION_REASON_{name}"))
        .unwrap_or(pb::DecisionReason::Unspecified) as i32
}

/// An appeal as operators see it at `now_ms`: with the workflow's fields
/// (a lapsed claim shows as unclaimed) and its SLA.
pub(crate) fn appeal_view(a: &AppealRecord, now_ms: i64, settings: &ReviewConfig) -> pb::Appeal {
    let lapse = i64::try_from(settings.claim_lapse_ms).unwrap_or(i64::MAX);
    let sla = i64::try_from(settings.sla.for_reason(&a.reason)).unwrap_or(i64::MAX);
    let due = a.filed_at_ms.saturating_add(sla);
    let holder = a.holder(now_ms, lapse);
    let mut p = appeal_pb(a);
    p.filed_by = a.filed_by.clone();
    p.assignee = holder.unwrap_or_default().to_owned();
    p.claimed_at = holder.and(a.claimed_at_ms).map(c::timestamp_from_millis);
    p.pending_decision = a
        .pending_decision
        .map_or(pb::AppealStatus::Unspecified, appeal_state_pb) as i32;
    p.proposed_by = a.proposed_by.clone();
    p.pending_reason_code = decision_reason_pb(&a.pending_reason_code);
    p.pending_note = a.pending_note.clone();
    p.resolution_reason_code = decision_reason_pb(&a.resolution_reason_code);
    p.resolved_by = a.resolved_by.clone();
    p.sla_due_at = Some(c::timestamp_from_millis(due));
    p.sla_breached = !a.status.is_final() && now_ms >= due;
    p
}

/// One audit event on the wire.
fn event_pb(e: &AppealEvent) -> pb::AppealEvent {
    pb::AppealEvent {
        seq: e.seq,
        kind: pb::AppealEventKind::from_str_name(&format!("APPEAL_EVENT_KIND_{}", e.kind.as_str()))
            .unwrap_or(pb::AppealEventKind::Unspecified) as i32,
        actor: e.actor.clone(),
        at: Some(c::timestamp_from_millis(e.at_ms)),
        from_status: e
            .from_status
            .map_or(pb::AppealStatus::Unspecified, appeal_state_pb) as i32,
        to_status: appeal_state_pb(e.status) as i32,
        reason_code: decision_reason_pb(&e.reason_code),
        note: e.note.clone(),
    }
}

/// The error of a refused workflow step.
fn refused(why: StepRefusal) -> RouterError {
    RouterError::FailedPrecondition(match why {
        StepRefusal::AlreadyDecided => Precondition::AppealAlreadyResolved,
        StepRefusal::ClaimedByOther(holder) => Precondition::AppealClaimedByOther(holder),
        StepRefusal::NotClaimedByYou => Precondition::AppealNotClaimed,
        StepRefusal::ProposalPending => Precondition::DecisionPendingApproval,
        StepRefusal::NoProposal => Precondition::NoPendingDecision,
        StepRefusal::SameOperator(role) => Precondition::FourEyesRequired(role),
    })
}

/// A required note: present, and text the router takes.
fn required_note(v: &mut Vec<c::Violation>, note: &str, what: &str) {
    if note.trim().is_empty() {
        v.push(c::Violation {
            field: "note".into(),
            description: format!("required ({what})"),
        });
    } else {
        check_text(v, "note", note);
    }
}

impl ReviewService {
    /// `page_token_secret` seals ListAppeals page tokens: the same on every
    /// replica (and across restarts) for tokens to work there. `settings`:
    /// `[review]` (claim lapse, four eyes, SLAs).
    pub fn new(
        store: Store,
        in_flight: InFlight,
        page_token_secret: &[u8; PAGE_TOKEN_SECRET_LEN],
        settings: ReviewConfig,
    ) -> Self {
        Self {
            store,
            in_flight,
            page_tokens: PageTokens::new(page_token_secret),
            settings,
            clock: Clock::system(),
        }
    }

    /// The same service measuring time on `clock`.
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The clock claim lapses and SLAs are measured on.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    fn lapse_ms(&self) -> i64 {
        i64::try_from(self.settings.claim_lapse_ms).unwrap_or(i64::MAX)
    }

    /// Runs one workflow step by operator `actor` on a checked appeal id.
    async fn step(
        &self,
        tenant: &str,
        appeal_id: &str,
        step: AppealStep,
        actor: &str,
    ) -> Result<pb::Appeal, RouterError> {
        let now = self.clock.now_ms();
        let kind = match &step {
            AppealStep::Claim => "claim",
            AppealStep::Release => "release",
            AppealStep::Decide {
                needs_approval: true,
                ..
            } => "proposal",
            AppealStep::Decide { .. } => "decision",
            AppealStep::Approve { .. } => "approval",
            AppealStep::Reject { .. } => "rejection",
        };
        match self
            .store
            .appeal_step(tenant, appeal_id, step, actor, now, self.lapse_ms())
            .await?
        {
            StepOutcome::Done(a) => {
                tracing::info!(
                    appeal_id = %a.appeal_id,
                    operator = %actor,
                    step = kind,
                    status = a.status.as_str(),
                    "appeal workflow step"
                );
                Ok(appeal_view(&a, now, &self.settings))
            }
            StepOutcome::Refused(why, _) => Err(refused(why)),
            StepOutcome::NotFound => Err(RouterError::NotFound(Resource::Appeal)),
        }
    }

    /// Checks an appeal id alone.
    fn checked_id(appeal_id: &str) -> Result<(), RouterError> {
        let mut v = Vec::new();
        check_id(&mut v, "appeal_id", appeal_id);
        if v.is_empty() {
            Ok(())
        } else {
            Err(RouterError::Invalid(v))
        }
    }

    async fn case(
        &self,
        appeal_id: &str,
        tenant: &str,
    ) -> Result<pb::GetCaseResponse, RouterError> {
        Self::checked_id(appeal_id)?;
        let now = self.clock.now_ms();
        let a = self
            .store
            .get_appeal(tenant, appeal_id)
            .await?
            .ok_or(RouterError::NotFound(Resource::Appeal))?;
        let stored = self
            .store
            .get_application(tenant, &a.application_id)
            .await?
            .ok_or(RouterError::NotFound(Resource::Application))?;
        // Application shares field numbers 1..=8 with RouteFinancingResponse,
        // so the stored answer decodes as the application directly.
        let mut app = pb::Application::decode(stored.response.as_slice())
            .map_err(|e| RouterError::Internal(format!("stored response undecodable: {e}")))?;
        let outcomes = self
            .store
            .outcomes_of_application(tenant, &a.application_id)
            .await?;
        app.acceptances = self
            .store
            .acceptances_of_application(tenant, &a.application_id)
            .await?
            .iter()
            .map(|x| crate::router::acceptance_with_outcomes(x, &outcomes))
            .collect();
        let appeals = self
            .store
            .appeals_of_application(tenant, &a.application_id)
            .await?;
        app.appeals = appeals
            .iter()
            .map(|x| appeal_view(x, now, &self.settings))
            .collect();
        let earlier_appeals = appeals
            .iter()
            .filter(|x| {
                (x.filed_at_ms, x.appeal_id.as_str()) < (a.filed_at_ms, a.appeal_id.as_str())
            })
            .map(|x| appeal_view(x, now, &self.settings))
            .collect();
        let events = self
            .store
            .appeal_history(tenant, appeal_id)
            .await?
            .iter()
            .map(event_pb)
            .collect();
        Ok(pb::GetCaseResponse {
            appeal: Some(appeal_view(&a, now, &self.settings)),
            application: Some(app),
            earlier_appeals,
            events,
        })
    }

    /// A queue view: the undecided appeals filtered by `queue` (and
    /// `status`), in SLA order when asked; one page, no token.
    async fn queue(
        &self,
        msg: &pb::ListAppealsRequest,
        tenant: &str,
        key_id: &str,
        status: Option<AppealState>,
        size: u32,
    ) -> Result<pb::ListAppealsResponse, RouterError> {
        let queue = pb::AppealQueue::try_from(msg.queue)
            .map_err(|_| violation("queue", "unknown AppealQueue"))?;
        if !msg.page_token.is_empty() {
            return Err(violation(
                "page_token",
                "a queue filter or the SLA order answers one page; no token",
            ));
        }
        let now = self.clock.now_ms();
        let lapse = self.lapse_ms();
        let rows = self.store.undecided_appeals(tenant, MAX_QUEUE).await?;
        let mut views: Vec<(bool, i64, &AppealRecord)> = rows
            .iter()
            .filter(|a| status.is_none_or(|s| a.status == s))
            .map(|a| {
                let sla =
                    i64::try_from(self.settings.sla.for_reason(&a.reason)).unwrap_or(i64::MAX);
                (now >= a.filed_at_ms.saturating_add(sla), a.filed_at_ms, a)
            })
            .filter(|(breached, _, a)| match queue {
                pb::AppealQueue::Unspecified => true,
                pb::AppealQueue::Unclaimed => a.holder(now, lapse).is_none(),
                pb::AppealQueue::Mine => a.holder(now, lapse) == Some(key_id),
                pb::AppealQueue::Breached => *breached,
            })
            .collect();
        if msg.order == pb::AppealOrder::Sla as i32 {
            // Breached first, then oldest (filing order is kept within).
            views.sort_by_key(|(breached, _, _)| !*breached);
        }
        Ok(pb::ListAppealsResponse {
            appeals: views
                .iter()
                .take(size as usize)
                .map(|(_, _, a)| appeal_view(a, now, &self.settings))
                .collect(),
            next_page_token: String::new(),
        })
    }

    async fn list(
        &self,
        msg: &pb::ListAppealsRequest,
        tenant: &str,
        key_id: &str,
    ) -> Result<pb::ListAppealsResponse, RouterError> {
        let status = match pb::AppealStatus::try_from(msg.status) {
            Ok(pb::AppealStatus::Unspecified) => None,
            Ok(pb::AppealStatus::Open) => Some(AppealState::Open),
            Ok(pb::AppealStatus::InReview) => Some(AppealState::InReview),
            Ok(pb::AppealStatus::Upheld) => Some(AppealState::Upheld),
            Ok(pb::AppealStatus::Overturned) => Some(AppealState::Overturned),
            Err(_) => return Err(violation("status", "unknown AppealStatus")),
        };
        let size = match msg.page_size {
            0 => DEFAULT_PAGE,
            n if n < 0 => return Err(violation("page_size", "must not be negative")),
            n => (n as u32).min(MAX_PAGE),
        };
        let order = pb::AppealOrder::try_from(msg.order)
            .map_err(|_| violation("order", "unknown AppealOrder"))?;
        if msg.queue != 0 || order != pb::AppealOrder::Unspecified {
            return self.queue(msg, tenant, key_id, status, size).await;
        }
        let now = self.clock.now_ms();
        let after = if msg.page_token.is_empty() {
            None
        } else {
            Some(
                self.page_tokens
                    .decode(&msg.page_token, tenant, msg.status)
                    .ok_or_else(|| {
                        violation(
                            "page_token",
                            "not a token from a previous ListAppeals with the same status filter",
                        )
                    })?,
            )
        };
        let mut rows = self
            .store
            .list_appeals(tenant, status, after.as_ref(), size + 1)
            .await?;
        let mut next_page_token = String::new();
        if rows.len() > size as usize {
            rows.truncate(size as usize);
            if let Some(a) = rows.last() {
                let cursor = AppealCursor {
                    filed_at_ms: a.filed_at_ms,
                    appeal_id: a.appeal_id.clone(),
                };
                next_page_token = self.page_tokens.encode(tenant, msg.status, &cursor)?;
            }
        }
        Ok(pb::ListAppealsResponse {
            appeals: rows
                .iter()
                .map(|a| appeal_view(a, now, &self.settings))
                .collect(),
            next_page_token,
        })
    }

    async fn resolve(
        &self,
        msg: pb::ResolveAppealRequest,
        tenant: &str,
        key_id: &str,
    ) -> Result<pb::Appeal, RouterError> {
        let mut v = Vec::new();
        check_id(&mut v, "appeal_id", &msg.appeal_id);
        let decision = match pb::AppealDecision::try_from(msg.decision) {
            Ok(pb::AppealDecision::Upheld) => Some(AppealState::Upheld),
            Ok(pb::AppealDecision::Overturned) => Some(AppealState::Overturned),
            _ => None,
        };
        if decision.is_none() {
            v.push(c::Violation {
                field: "decision".into(),
                description: "one of APPEAL_DECISION_UPHELD, APPEAL_DECISION_OVERTURNED".into(),
            });
        }
        let reason_code = decision_reason_name(msg.reason_code);
        if reason_code.is_none() {
            v.push(c::Violation {
                field: "reason_code".into(),
                description: "required: a DecisionReason other than UNSPECIFIED (docs/api.md)"
                    .into(),
            });
        }
        required_note(&mut v, &msg.note, "the reason for the decision");
        let (Some(decision), Some(reason_code)) = (decision, reason_code) else {
            return Err(RouterError::Invalid(v));
        };
        if !v.is_empty() {
            return Err(RouterError::Invalid(v));
        }
        let step = AppealStep::Decide {
            decision,
            reason_code: reason_code.into(),
            note: msg.note,
            needs_approval: self.settings.four_eyes && decision == AppealState::Overturned,
        };
        self.step(tenant, &msg.appeal_id, step, key_id).await
    }

    async fn approve(
        &self,
        msg: pb::ApproveDecisionRequest,
        tenant: &str,
        key_id: &str,
    ) -> Result<pb::Appeal, RouterError> {
        let mut v = Vec::new();
        check_id(&mut v, "appeal_id", &msg.appeal_id);
        if !msg.note.is_empty() {
            check_text(&mut v, "note", &msg.note);
        }
        if !v.is_empty() {
            return Err(RouterError::Invalid(v));
        }
        let step = AppealStep::Approve { note: msg.note };
        self.step(tenant, &msg.appeal_id, step, key_id).await
    }

    async fn reject(
        &self,
        msg: pb::RejectDecisionRequest,
        tenant: &str,
        key_id: &str,
    ) -> Result<pb::Appeal, RouterError> {
        let mut v = Vec::new();
        check_id(&mut v, "appeal_id", &msg.appeal_id);
        required_note(&mut v, &msg.note, "why the proposal is rejected");
        if !v.is_empty() {
            return Err(RouterError::Invalid(v));
        }
        let step = AppealStep::Reject { note: msg.note };
        self.step(tenant, &msg.appeal_id, step, key_id).await
    }
}

#[tonic::async_trait]
impl pb::review_service_server::ReviewService for ReviewService {
    async fn list_appeals(
        &self,
        request: Request<pb::ListAppealsRequest>,
    ) -> Result<Response<pb::ListAppealsResponse>, Status> {
        let _call = self.in_flight.guard();
        let caller = caller_of(&request);
        Ok(Response::new(
            self.list(request.get_ref(), &caller.tenant, &caller.key_id)
                .await?,
        ))
    }

    async fn resolve_appeal(
        &self,
        request: Request<pb::ResolveAppealRequest>,
    ) -> Result<Response<pb::Appeal>, Status> {
        let _call = self.in_flight.guard();
        let caller = caller_of(&request);
        Ok(Response::new(
            self.resolve(request.into_inner(), &caller.tenant, &caller.key_id)
                .await?,
        ))
    }

    async fn claim_appeal(
        &self,
        request: Request<pb::ClaimAppealRequest>,
    ) -> Result<Response<pb::ClaimAppealResponse>, Status> {
        let _call = self.in_flight.guard();
        let caller = caller_of(&request);
        let id = &request.get_ref().appeal_id;
        Self::checked_id(id)?;
        let appeal = self
            .step(&caller.tenant, id, AppealStep::Claim, &caller.key_id)
            .await?;
        Ok(Response::new(pb::ClaimAppealResponse {
            appeal: Some(appeal),
        }))
    }

    async fn release_appeal(
        &self,
        request: Request<pb::ReleaseAppealRequest>,
    ) -> Result<Response<pb::ReleaseAppealResponse>, Status> {
        let _call = self.in_flight.guard();
        let caller = caller_of(&request);
        let id = &request.get_ref().appeal_id;
        Self::checked_id(id)?;
        let appeal = self
            .step(&caller.tenant, id, AppealStep::Release, &caller.key_id)
            .await?;
        Ok(Response::new(pb::ReleaseAppealResponse {
            appeal: Some(appeal),
        }))
    }

    async fn get_case(
        &self,
        request: Request<pb::GetCaseRequest>,
    ) -> Result<Response<pb::GetCaseResponse>, Status> {
        let _call = self.in_flight.guard();
        let caller = caller_of(&request);
        Ok(Response::new(
            self.case(&request.get_ref().appeal_id, &caller.tenant)
                .await?,
        ))
    }

    async fn approve_decision(
        &self,
        request: Request<pb::ApproveDecisionRequest>,
    ) -> Result<Response<pb::ApproveDecisionResponse>, Status> {
        let _call = self.in_flight.guard();
        let caller = caller_of(&request);
        let appeal = self
            .approve(request.into_inner(), &caller.tenant, &caller.key_id)
            .await?;
        Ok(Response::new(pb::ApproveDecisionResponse {
            appeal: Some(appeal),
        }))
    }

    async fn reject_decision(
        &self,
        request: Request<pb::RejectDecisionRequest>,
    ) -> Result<Response<pb::RejectDecisionResponse>, Status> {
        let _call = self.in_flight.guard();
        let caller = caller_of(&request);
        let appeal = self
            .reject(request.into_inner(), &caller.tenant, &caller.key_id)
            .await?;
        Ok(Response::new(pb::RejectDecisionResponse {
            appeal: Some(appeal),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cursor() -> AppealCursor {
        AppealCursor {
            filed_at_ms: 1_800_000_000_123,
            appeal_id: "apl_0193.x".into(),
        }
    }

    #[test]
    fn page_tokens_round_trip_for_their_tenant_and_filter_only() {
        let tokens = PageTokens::new(&[7; 32]);
        let t = tokens.encode("tenant-a", 1, &cursor()).expect("sealed");
        assert_eq!(tokens.decode(&t, "tenant-a", 1), Some(cursor()));
        // Another filter, another tenant, another secret: useless.
        assert_eq!(tokens.decode(&t, "tenant-a", 0), None);
        assert_eq!(tokens.decode(&t, "tenant-b", 1), None);
        assert_eq!(tokens.decode(&t, "tenant-a1", 1), None);
        assert_eq!(PageTokens::new(&[8; 32]).decode(&t, "tenant-a", 1), None);
        // Two tokens for the same cursor differ (random nonce).
        let again = tokens.encode("tenant-a", 1, &cursor()).expect("sealed");
        assert_ne!(t, again);
        assert_eq!(tokens.decode(&again, "tenant-a", 1), Some(cursor()));
    }

    #[test]
    fn page_tokens_cannot_be_read_or_altered() {
        let tokens = PageTokens::new(&[7; 32]);
        let t = tokens.encode("tenant-a", 1, &cursor()).expect("sealed");
        assert!(
            t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        let raw = URL_SAFE_NO_PAD.decode(&t).expect("base64");
        let has = |needle: &[u8]| raw.windows(needle.len()).any(|w| w == needle);
        assert!(!has(b"apl_0193.x"), "the appeal id is not readable");
        assert!(!has(&cursor().filed_at_ms.to_be_bytes()), "nor the time");
        assert!(!has(b"tenant-a"), "nor the tenant");
        // Every single-bit change is refused.
        for i in 0..raw.len() {
            for bit in 0..8 {
                let mut bad = raw.clone();
                bad[i] ^= 1 << bit;
                let bad = URL_SAFE_NO_PAD.encode(&bad);
                assert_eq!(
                    tokens.decode(&bad, "tenant-a", 1),
                    None,
                    "byte {i} bit {bit}"
                );
            }
        }
        for garbage in ["", "zz", "abc", "AQ", &"A".repeat(601), "djEuMS4xLmFwbA"] {
            assert_eq!(tokens.decode(garbage, "tenant-a", 1), None, "{garbage}");
        }
        // The old readable hex format is refused.
        let old = hex::encode("v1.1.1800000000123.apl_0193.x");
        assert_eq!(tokens.decode(&old, "tenant-a", 1), None);
    }

    #[test]
    fn random_secrets_differ() {
        assert_ne!(random_page_token_secret(), random_page_token_secret());
    }
}
