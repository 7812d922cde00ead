//! The one mapping from router errors to gRPC statuses. Validation errors
//! carry `google.rpc.BadRequest` field violations; internal errors send a
//! generic message and log the cause once (never personal data).

use finroute_adapters::convert::Violation;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, FieldViolation, StatusExt};

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
            RouterError::Store(e) => {
                tracing::error!(error = %e, "store failure");
                Status::unavailable("the router's store is unavailable; retry")
            }
            RouterError::Internal(m) => {
                tracing::error!(error = %m, "internal error");
                Status::internal("internal error")
            }
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
}
