//! `finroute.v1.ReviewService`: operators list the appeals queue and
//! resolve appeals. Scoped to the caller's tenant like every call; the
//! operator role is checked by the auth interceptor before a handler runs.
//!
//! ListAppeals page tokens ([`PageTokens`]) are sealed (AIP-158): opaque,
//! unforgeable, and bound to the tenant and the status filter they were
//! issued for.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
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

/// `finroute.v1.ReviewService`, for operators.
#[derive(Debug, Clone)]
pub struct ReviewService {
    store: Store,
    in_flight: InFlight,
    page_tokens: PageTokens,
}

impl ReviewService {
    /// `page_token_secret` seals ListAppeals page tokens: the same on every
    /// replica (and across restarts) for tokens to work there.
    pub fn new(
        store: Store,
        in_flight: InFlight,
        page_token_secret: &[u8; PAGE_TOKEN_SECRET_LEN],
    ) -> Self {
        Self {
            store,
            in_flight,
            page_tokens: PageTokens::new(page_token_secret),
        }
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
                description: "one of APPEAL_STATUS_UPHELD, APPEAL_STATUS_OVERTURNED".into(),
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
