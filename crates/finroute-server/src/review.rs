//! `finroute.v1.ReviewService`: operators list the appeals queue and
//! resolve appeals. Scoped to the caller's tenant like every call; the
//! operator role is checked by the auth interceptor before a handler runs.
//!
//! ListAppeals page tokens (`encode_page_token`, `decode_page_token`) bind
//! the status filter they were issued for.

use finroute_adapters::convert as c;
use finroute_core::text;
use finroute_proto::v1 as pb;
use finroute_store::{AppealCursor, AppealState, ResolveOutcome, Store};
use tonic::{Request, Response, Status};

use crate::auth::caller_of;
use crate::convert::appeal_pb;
use crate::drain::InFlight;
use crate::error::{Precondition, Resource, RouterError};
use crate::router::unix_millis;
use crate::validate::{check_id, check_text, violation};

/// ListAppeals page size when the caller says 0, and the most it may ask.
const DEFAULT_PAGE: u32 = 50;
const MAX_PAGE: u32 = 500;

/// ListAppeals page tokens: opaque to clients, `v1.<status>.<filed_at_ms>.<appeal_id>`
/// in hex, so a token is only valid with the filter it was issued for.
fn encode_page_token(status: i32, cursor: &AppealCursor) -> String {
    hex::encode(format!(
        "v1.{status}.{}.{}",
        cursor.filed_at_ms, cursor.appeal_id
    ))
}

fn decode_page_token(token: &str, status: i32) -> Option<AppealCursor> {
    if token.len() > 600 {
        return None;
    }
    let raw = String::from_utf8(hex::decode(token).ok()?).ok()?;
    let mut parts = raw.splitn(4, '.');
    if parts.next()? != "v1" || parts.next()?.parse::<i32>().ok()? != status {
        return None;
    }
    let filed_at_ms = parts.next()?.parse().ok()?;
    let appeal_id = parts.next()?.to_owned();
    text::check_id(&appeal_id, c::MAX_ID_LEN).ok()?;
    Some(AppealCursor {
        filed_at_ms,
        appeal_id,
    })
}

/// `finroute.v1.ReviewService`, for operators.
#[derive(Debug, Clone)]
pub struct ReviewService {
    store: Store,
    in_flight: InFlight,
}

impl ReviewService {
    pub fn new(store: Store, in_flight: InFlight) -> Self {
        Self { store, in_flight }
    }

    async fn list(
        &self,
        msg: &pb::ListAppealsRequest,
        tenant: &str,
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
        let after = if msg.page_token.is_empty() {
            None
        } else {
            Some(
                decode_page_token(&msg.page_token, msg.status).ok_or_else(|| {
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
        let next_page_token = if rows.len() > size as usize {
            rows.truncate(size as usize);
            rows.last()
                .map(|a| {
                    encode_page_token(
                        msg.status,
                        &AppealCursor {
                            filed_at_ms: a.filed_at_ms,
                            appeal_id: a.appeal_id.clone(),
                        },
                    )
                })
                .unwrap_or_default()
        } else {
            String::new()
        };
        Ok(pb::ListAppealsResponse {
            appeals: rows.iter().map(appeal_pb).collect(),
            next_page_token,
        })
    }

    async fn resolve(
        &self,
        msg: pb::ResolveAppealRequest,
        tenant: &str,
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
                description: "one of UPHELD, OVERTURNED".into(),
            });
        }
        if msg.note.trim().is_empty() {
            v.push(c::Violation {
                field: "note".into(),
                description: "required (the reason for the decision)".into(),
            });
        } else {
            check_text(&mut v, "note", &msg.note);
        }
        let Some(decision) = decision.filter(|_| v.is_empty()) else {
            return Err(RouterError::Invalid(v));
        };
        match self
            .store
            .resolve_appeal(tenant, &msg.appeal_id, decision, &msg.note, unix_millis())
            .await?
        {
            ResolveOutcome::Resolved(a) => {
                tracing::info!(
                    appeal_id = %a.appeal_id,
                    status = a.status.as_str(),
                    "appeal resolved"
                );
                Ok(appeal_pb(&a))
            }
            ResolveOutcome::AlreadyResolved(_) => Err(RouterError::FailedPrecondition(
                Precondition::AppealAlreadyResolved,
            )),
            ResolveOutcome::NotFound => Err(RouterError::NotFound(Resource::Appeal)),
        }
    }
}

#[tonic::async_trait]
impl pb::review_service_server::ReviewService for ReviewService {
    async fn list_appeals(
        &self,
        request: Request<pb::ListAppealsRequest>,
    ) -> Result<Response<pb::ListAppealsResponse>, Status> {
        let _call = self.in_flight.guard();
        let tenant = caller_of(&request).tenant;
        Ok(Response::new(self.list(request.get_ref(), &tenant).await?))
    }

    async fn resolve_appeal(
        &self,
        request: Request<pb::ResolveAppealRequest>,
    ) -> Result<Response<pb::Appeal>, Status> {
        let _call = self.in_flight.guard();
        let tenant = caller_of(&request).tenant;
        Ok(Response::new(
            self.resolve(request.into_inner(), &tenant).await?,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_tokens_round_trip_and_bind_the_filter() {
        let cursor = AppealCursor {
            filed_at_ms: 1_800_000_000_123,
            appeal_id: "apl_0193.x".into(),
        };
        let t = encode_page_token(1, &cursor);
        assert_eq!(decode_page_token(&t, 1), Some(cursor));
        assert_eq!(decode_page_token(&t, 0), None);
        assert_eq!(decode_page_token("zz", 0), None);
        assert_eq!(decode_page_token("abc", 0), None);
        assert_eq!(decode_page_token("", 0), None);
        assert_eq!(decode_page_token(&"ff".repeat(10), 0), None);
    }
}
