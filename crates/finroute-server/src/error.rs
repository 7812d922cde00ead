//! The one mapping from router errors to gRPC statuses. Validation errors
//! carry `google.rpc.BadRequest` field violations; internal errors send a
//! generic message and log the cause once (never personal data).
//!
//! Store errors map by their [`StoreErrorKind`], each with a
//! `google.rpc.ErrorInfo` (domain `finroute.v1`) whose reason a client can
//! branch on:
//!
//! | store error | code | reason |
//! |---|---|---|
//! | a caller's field the store cannot keep (a NUL in `request_id`, ...) | INVALID_ARGUMENT, with a BadRequest naming the field | `STORE_REJECTED_RECORD` |
//! | any other record content it cannot keep | INTERNAL | `STORE_REJECTED_RECORD` |
//! | unreachable (connection lost or refused, pool timed out, closed) | UNAVAILABLE | `STORE_UNAVAILABLE` |
//! | out of disk space | RESOURCE_EXHAUSTED | `STORE_FULL` |
//! | anything else | INTERNAL | `STORE_ERROR` |
//!
//! A full disk is RESOURCE_EXHAUSTED, not UNAVAILABLE: the gRPC status
//! code guide names "the entire file system is out of space" as its case,
//! and UNAVAILABLE tells clients (and retry policies that retry it
//! automatically) that a quick retry will do, which it will not until an
//! operator frees space. The router's load shedding is RESOURCE_EXHAUSTED
//! too; the reason tells the two apart. A rejected record is never
//! UNAVAILABLE: the same request fails the same way every time.
//!
//! Messages and details name fields and kinds, never values.

use std::collections::HashMap;

use finroute_adapters::convert::Violation;
use finroute_store::{StoreError, StoreErrorKind};
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, FieldViolation, StatusExt};

/// The `google.rpc.ErrorInfo` domain of the router's errors.
pub const ERROR_DOMAIN: &str = "finroute.v1";
/// ErrorInfo reason: the store refused the record's content.
pub const STORE_REJECTED_RECORD: &str = "STORE_REJECTED_RECORD";
/// ErrorInfo reason: the store cannot be reached; retry with backoff.
pub const STORE_UNAVAILABLE: &str = "STORE_UNAVAILABLE";
/// ErrorInfo reason: the store is out of disk space.
pub const STORE_FULL: &str = "STORE_FULL";
/// ErrorInfo reason: any other store failure.
pub const STORE_ERROR: &str = "STORE_ERROR";

/// Why an RPC failed.
#[derive(Debug, thiserror::Error)]
pub enum RouterError {
    /// The request is malformed: each bad field named.
    #[error("invalid request: {}", summary(.0))]
    Invalid(Vec<Violation>),
    /// No such resource (for this tenant).
    #[error("{0} not found")]
    NotFound(String),
    /// The same request_id was used with a different body.
    #[error("{0}")]
    AlreadyExists(String),
    /// The call is valid but the resource's state forbids it (expired
    /// offer, offer accepted under another key, appeal already resolved).
    #[error("{0}")]
    FailedPrecondition(String),
    /// The router is at its limit: retry later, with backoff.
    #[error("{0}")]
    Overloaded(String),
    /// The method belongs to a later milestone.
    #[error("{0}")]
    Unimplemented(&'static str),
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] finroute_store::StoreError),
    /// Anything else that is our fault.
    #[error("internal: {0}")]
    Internal(String),
}

fn summary(v: &[Violation]) -> String {
    v.iter()
        .map(|v| format!("{}: {}", v.field, v.description))
        .collect::<Vec<_>>()
        .join("; ")
}

impl From<RouterError> for Status {
    fn from(e: RouterError) -> Status {
        match e {
            RouterError::Invalid(v) => {
                let message = format!("invalid request: {}", summary(&v));
                let violations: Vec<FieldViolation> = v
                    .into_iter()
                    .map(|v| FieldViolation::new(v.field, v.description))
                    .collect();
                Status::with_error_details(
                    Code::InvalidArgument,
                    message,
                    ErrorDetails::with_bad_request(violations),
                )
            }
            RouterError::NotFound(what) => Status::not_found(format!("{what} not found")),
            RouterError::AlreadyExists(m) => Status::already_exists(m),
            RouterError::FailedPrecondition(m) => Status::failed_precondition(m),
            RouterError::Overloaded(m) => Status::resource_exhausted(m),
            RouterError::Unimplemented(m) => Status::unimplemented(m),
            RouterError::Store(e) => store_status(&e),
            RouterError::Internal(m) => {
                tracing::error!(error = %m, "internal error");
                Status::internal("internal error")
            }
        }
    }
}

/// The request field a store record field comes from, for the fields a
/// caller sends (the others come from partners or the router itself).
fn caller_field(store_field: &str) -> Option<&'static str> {
    Some(match store_field {
        "request_id" => "request_id",
        "applicant_id" => "applicant.applicant_id",
        "idempotency_key" => "idempotency_key",
        "application_id" => "application_id",
        "adapter_id" => "adapter_id",
        "details" => "details",
        "note" => "note",
        _ => return None,
    })
}

fn error_info(reason: &str, field: Option<&str>) -> ErrorDetails {
    let metadata: HashMap<String, String> = field
        .map(|f| HashMap::from([("field".to_owned(), f.to_owned())]))
        .unwrap_or_default();
    ErrorDetails::with_error_info(reason, ERROR_DOMAIN, metadata)
}

/// The status of a store failure; see the module documentation.
pub fn store_status(e: &StoreError) -> Status {
    let kind = e.kind();
    match (kind, e) {
        (StoreErrorKind::Rejected, StoreError::Rejected { field, reason }) => {
            tracing::warn!(field = field.unwrap_or(""), %reason, "store rejected a record");
            match field.and_then(caller_field) {
                Some(api_field) => {
                    let mut details = error_info(STORE_REJECTED_RECORD, Some(api_field));
                    details.add_bad_request_violation(api_field, *reason);
                    Status::with_error_details(
                        Code::InvalidArgument,
                        format!("invalid request: {api_field}: {reason}"),
                        details,
                    )
                }
                None => Status::with_error_details(
                    Code::Internal,
                    "the router could not store this request's record; the same request will \
                     fail again",
                    error_info(STORE_REJECTED_RECORD, *field),
                ),
            }
        }
        (StoreErrorKind::Rejected, _) => {
            tracing::warn!(error = %e, "store rejected a record");
            Status::with_error_details(
                Code::Internal,
                "the router could not store this request's record; the same request will fail \
                 again",
                error_info(STORE_REJECTED_RECORD, None),
            )
        }
        (StoreErrorKind::Unavailable, _) => {
            tracing::warn!(error = %e, "store unavailable");
            Status::with_error_details(
                Code::Unavailable,
                "the router's store is unavailable; retry with backoff",
                error_info(STORE_UNAVAILABLE, None),
            )
        }
        (StoreErrorKind::Full, _) => {
            tracing::error!(error = %e, "store out of disk space");
            Status::with_error_details(
                Code::ResourceExhausted,
                "the router's store is out of disk space; retry after an operator frees space",
                error_info(STORE_FULL, None),
            )
        }
        _ => {
            tracing::error!(error = %e, kind = kind.name(), "store failure");
            Status::with_error_details(
                Code::Internal,
                "internal error (store)",
                error_info(STORE_ERROR, None),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_carries_bad_request_details() {
        let s: Status = RouterError::Invalid(vec![Violation {
            field: "requested_amount".into(),
            description: "must be positive".into(),
        }])
        .into();
        assert_eq!(s.code(), Code::InvalidArgument);
        let details = s.get_error_details();
        let br = details.bad_request().expect("bad request detail");
        assert_eq!(br.field_violations[0].field, "requested_amount");
    }

    fn reason_of(s: &Status) -> String {
        let info = s
            .get_error_details()
            .error_info()
            .cloned()
            .expect("ErrorInfo");
        assert_eq!(info.domain, ERROR_DOMAIN);
        info.reason
    }

    #[test]
    fn store_errors_map_by_kind() {
        let s: Status = RouterError::Store(StoreError::Rejected {
            field: Some("applicant_id"),
            reason: "contains a NUL character, which the database cannot store",
        })
        .into();
        assert_eq!(s.code(), Code::InvalidArgument);
        assert_eq!(reason_of(&s), STORE_REJECTED_RECORD);
        let br = s
            .get_error_details()
            .bad_request()
            .cloned()
            .expect("BadRequest");
        assert_eq!(br.field_violations[0].field, "applicant.applicant_id");

        let s: Status = RouterError::Store(StoreError::Rejected {
            field: Some("offers.partner_offer_ref"),
            reason: "x",
        })
        .into();
        assert_eq!(s.code(), Code::Internal);
        assert_eq!(reason_of(&s), STORE_REJECTED_RECORD);

        let s: Status = RouterError::Store(StoreError::Closed).into();
        assert_eq!(s.code(), Code::Unavailable);
        assert_eq!(reason_of(&s), STORE_UNAVAILABLE);

        let s: Status = RouterError::Store(StoreError::NotFound).into();
        assert_eq!(s.code(), Code::Internal);
        assert_eq!(reason_of(&s), STORE_ERROR);
    }
}
