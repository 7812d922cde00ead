//! The `finroute.v1.FinancingAdapter` service over a [`Partner`]: checks and
//! converts each request with the router's own conversions
//! (`finroute_wire`, which the router uses as `finroute_adapters::convert`),
//! calls the partner, converts the answer
//! back. Accept goes through the [`Ledger`].

use std::sync::Arc;

use finroute_core::{AcceptRequest, AcceptStatus};
use finroute_proto::v1 as pb;
use finroute_wire::{self as convert, MAX_ID_LEN, Violations};
use tonic::{Code, Request, Response, Status};
use tonic_types::{ErrorDetails, FieldViolation, StatusExt};

use crate::ledger::Ledger;
use crate::serve::InFlight;
use crate::{Partner, QuoteRequest};

/// The tonic service: one per server, cloned per connection.
pub(crate) struct AdapterService<P> {
    partner: Arc<P>,
    ledger: Ledger,
    in_flight: InFlight,
}

impl<P> AdapterService<P> {
    pub(crate) fn new(partner: P, in_flight: InFlight) -> Self {
        Self {
            partner: Arc::new(partner),
            ledger: Ledger::default(),
            in_flight,
        }
    }
}

/// `INVALID_ARGUMENT` with a `google.rpc.BadRequest` naming each field.
fn invalid(v: Violations) -> Status {
    let summary =
        v.0.iter()
            .map(|x| format!("{}: {}", x.field, x.description))
            .collect::<Vec<_>>()
            .join("; ");
    let violations: Vec<FieldViolation> =
        v.0.into_iter()
            .map(|x| FieldViolation::new(x.field, x.description))
            .collect();
    Status::with_error_details(
        Code::InvalidArgument,
        format!("invalid request: {summary}"),
        ErrorDetails::with_bad_request(violations),
    )
}

/// The domain quote request, or every bad field.
#[allow(clippy::result_large_err)]
fn quote_request_from_pb(q: &pb::QuoteRequest) -> Result<QuoteRequest, Status> {
    let mut v = Violations::default();
    if q.quote_id.len() > MAX_ID_LEN {
        v.add("quote_id", format!("at most {MAX_ID_LEN} bytes"));
    }
    let applicant = match &q.applicant {
        Some(a) => Some(convert::applicant_from_pb(a, "applicant", &mut v)),
        None => {
            v.add("applicant", "required");
            None
        }
    };
    let amount = match &q.requested_amount {
        Some(m) => convert::money_from_pb(m, "requested_amount", &mut v),
        None => {
            v.add("requested_amount", "required");
            None
        }
    };
    if let Some(m) = amount
        && m.amount_minor <= 0
    {
        v.add("requested_amount.amount_minor", "must be positive");
    }
    let min = u32::try_from(q.min_term_months).ok();
    let max = u32::try_from(q.max_term_months).ok();
    match (min, max) {
        (Some(lo), Some(hi)) if lo >= 1 && lo <= hi => {}
        _ => v.add(
            "min_term_months",
            "need 1 <= min_term_months <= max_term_months",
        ),
    }
    let purpose = convert::purpose_from_pb(q.purpose);
    if purpose.is_none() {
        v.add("purpose", format!("unknown LoanPurpose {}", q.purpose));
    }
    match (applicant, amount, min, max, purpose) {
        (Some(applicant), Some(requested_amount), Some(min), Some(max), Some(purpose))
            if v.is_empty() =>
        {
            Ok(QuoteRequest {
                quote_id: q.quote_id.clone(),
                applicant,
                requested_amount,
                min_term_months: min,
                max_term_months: max,
                purpose,
            })
        }
        _ => Err(invalid(v)),
    }
}

/// The domain accept request, or every bad field.
#[allow(clippy::result_large_err)]
fn accept_request_from_pb(r: pb::AcceptRequest) -> Result<AcceptRequest, Status> {
    let mut v = Violations::default();
    for (field, value) in [
        ("partner_offer_ref", &r.partner_offer_ref),
        ("idempotency_key", &r.idempotency_key),
    ] {
        if value.is_empty() {
            v.add(field, "required");
        } else if value.len() > MAX_ID_LEN {
            v.add(field, format!("at most {MAX_ID_LEN} bytes"));
        }
    }
    if r.applicant_id.len() > MAX_ID_LEN {
        v.add("applicant_id", format!("at most {MAX_ID_LEN} bytes"));
    }
    if !v.is_empty() {
        return Err(invalid(v));
    }
    Ok(AcceptRequest {
        partner_offer_ref: r.partner_offer_ref,
        idempotency_key: r.idempotency_key,
        applicant_id: r.applicant_id,
        budget: None,
    })
}

fn status_to_pb(s: AcceptStatus) -> i32 {
    match s {
        AcceptStatus::Accepted => pb::AcceptanceStatus::Accepted as i32,
        AcceptStatus::Declined => pb::AcceptanceStatus::Declined as i32,
        AcceptStatus::Pending => pb::AcceptanceStatus::Pending as i32,
    }
}

/// Logs a partner failure (the error's text only: the SDK never logs requests).
fn logged(call: &'static str, status: Status) -> Status {
    match status.code() {
        Code::Internal | Code::Unknown => {
            tracing::error!(call, code = ?status.code(), message = status.message(), "partner call failed")
        }
        _ => {
            tracing::debug!(call, code = ?status.code(), message = status.message(), "partner call refused")
        }
    }
    status
}

#[tonic::async_trait]
impl<P: Partner> pb::financing_adapter_server::FinancingAdapter for AdapterService<P> {
    async fn describe(
        &self,
        _request: Request<pb::DescribeRequest>,
    ) -> Result<Response<pb::AdapterDescription>, Status> {
        let _call = self.in_flight.guard();
        let d = self
            .partner
            .describe()
            .await
            .map_err(|e| logged("describe", e.into()))?;
        Ok(Response::new(convert::description_to_pb(&d)))
    }

    async fn quote(
        &self,
        request: Request<pb::QuoteRequest>,
    ) -> Result<Response<pb::QuoteResponse>, Status> {
        let _call = self.in_flight.guard();
        let q = quote_request_from_pb(request.get_ref())?;
        let quote = self
            .partner
            .quote(q)
            .await
            .map_err(|e| logged("quote", e.into()))?;
        Ok(Response::new(pb::QuoteResponse {
            offers: quote
                .offers
                .iter()
                .map(convert::partner_offer_to_pb)
                .collect(),
            decline: quote.decline.as_ref().map(convert::decline_to_pb),
            decline_reason: quote.decline_reason,
        }))
    }

    async fn accept(
        &self,
        request: Request<pb::AcceptRequest>,
    ) -> Result<Response<pb::AcceptResponse>, Status> {
        let _call = self.in_flight.guard();
        let r = accept_request_from_pb(request.into_inner())?;
        let partner = self.partner.clone();
        let outcome = self
            .ledger
            .accept(r, |r| async move { partner.accept(r).await })
            .await
            .map_err(|e| logged("accept", e))?;
        Ok(Response::new(pb::AcceptResponse {
            status: status_to_pb(outcome.status),
            partner_reference: outcome.partner_reference,
            detail: outcome.detail,
        }))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_bad_quote_request_names_every_field() {
        let q = pb::QuoteRequest {
            quote_id: "q".into(),
            applicant: None,
            requested_amount: Some(pb::Money {
                currency_code: "yuan".into(),
                amount_minor: 5,
            }),
            min_term_months: 12,
            max_term_months: 6,
            purpose: 99,
            locale: Default::default(),
        };
        let s = quote_request_from_pb(&q).unwrap_err();
        assert_eq!(s.code(), Code::InvalidArgument);
        let details = s.get_error_details();
        let fields: Vec<_> = details
            .bad_request()
            .unwrap()
            .field_violations
            .iter()
            .map(|f| f.field.clone())
            .collect();
        assert_eq!(
            fields,
            [
                "applicant",
                "requested_amount.currency_code",
                "min_term_months",
                "purpose"
            ]
        );
    }

    #[test]
    fn accept_needs_a_reference_and_a_key() {
        let s = accept_request_from_pb(pb::AcceptRequest::default()).unwrap_err();
        assert_eq!(s.code(), Code::InvalidArgument);
        assert!(s.message().contains("partner_offer_ref: required"), "{s:?}");
        assert!(s.message().contains("idempotency_key: required"), "{s:?}");
    }
}
