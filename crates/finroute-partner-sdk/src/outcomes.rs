//! Reporting what became of a booked loan to the router
//! (`finroute.v1.PartnerOutcomeService/ReportOutcome`): the partner is the
//! client here, with an api key of the `partner` role that names its
//! channel.

use std::time::{SystemTime, UNIX_EPOCH};

use finroute_core::{DeclineReason, Money};
use finroute_proto::v1 as pb;
use pb::partner_outcome_service_client::PartnerOutcomeServiceClient;
use tonic::metadata::MetadataValue;
use tonic::transport::Channel;

/// What happened to the loan of one acceptance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Approved and funded: the amount paid out, and the date
    /// (`YYYY-MM-DD`).
    Funded {
        /// The amount paid out, in the offer's currency.
        amount: Money,
        /// The funding date, `YYYY-MM-DD`.
        funded_on: String,
    },
    /// Declined after the full review, with the typed reason.
    DeclinedAfterReview(DeclineReason),
    /// The borrower withdrew before funding.
    Withdrawn,
    /// Repaid in full; optionally the total repaid.
    Repaid(Option<Money>),
    /// In arrears: days past due and the amount overdue.
    InArrears {
        /// Days past due (1..=36500).
        days_past_due: i32,
        /// The amount overdue.
        amount: Money,
    },
    /// Defaulted; optionally the amount written off.
    Defaulted(Option<Money>),
}

/// One outcome event, as reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutcomeEvent {
    /// Your id of the event: send the same event again with the same id
    /// (a retry is then answered `duplicate`, never recorded twice).
    pub event_id: String,
    /// When it happened, by your clock (events are ordered by it).
    pub occurred_at: SystemTime,
    /// What happened.
    pub outcome: Outcome,
    /// Optional words (never personal data).
    pub text: String,
}

/// What the router answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reported {
    /// The router already had this event (nothing changed).
    pub duplicate: bool,
    /// The event id of the acceptance's current outcome (the latest by
    /// `occurred_at`).
    pub current_event_id: String,
    /// How many outcomes the acceptance has.
    pub history_len: usize,
}

/// A client for `PartnerOutcomeService`, carrying the partner's api key.
#[derive(Debug, Clone)]
pub struct OutcomeReporter {
    client: PartnerOutcomeServiceClient<Channel>,
    authorization: Option<MetadataValue<tonic::metadata::Ascii>>,
}

impl OutcomeReporter {
    /// Connects to the router at `endpoint` (`http://host:port`); `api_key`
    /// is the key of the `partner` role the router's operator gave you
    /// (`None` for a router without keys, on loopback).
    pub async fn connect(
        endpoint: impl Into<String>,
        api_key: Option<&str>,
    ) -> Result<OutcomeReporter, tonic::Status> {
        let authorization = api_key
            .map(|k| {
                format!("Bearer {k}")
                    .parse::<MetadataValue<tonic::metadata::Ascii>>()
                    .map_err(|_| tonic::Status::invalid_argument("the api key is not ASCII"))
            })
            .transpose()?;
        let client = PartnerOutcomeServiceClient::connect(endpoint.into())
            .await
            .map_err(|e| tonic::Status::unavailable(format!("cannot reach the router: {e}")))?;
        Ok(OutcomeReporter {
            client,
            authorization,
        })
    }

    /// Reports `event` for the acceptance `acceptance_id` (the
    /// `idempotency_key` of the Accept call that booked the loan). Retrying
    /// after an error with the same event is safe.
    pub async fn report(
        &mut self,
        acceptance_id: &str,
        event: &OutcomeEvent,
    ) -> Result<Reported, tonic::Status> {
        let mut request = tonic::Request::new(report_request(acceptance_id, event));
        if let Some(a) = &self.authorization {
            request.metadata_mut().insert("authorization", a.clone());
        }
        let reply = self.client.report_outcome(request).await?.into_inner();
        Ok(Reported {
            duplicate: reply.duplicate,
            current_event_id: reply.current.map(|c| c.event_id).unwrap_or_default(),
            history_len: reply.history.len(),
        })
    }
}

/// The wire request for `event`.
pub fn report_request(acceptance_id: &str, event: &OutcomeEvent) -> pb::ReportOutcomeRequest {
    let ms = match event.occurred_at.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX),
    };
    let mut o = pb::PartnerOutcome {
        event_id: event.event_id.clone(),
        occurred_at: Some(finroute_wire::timestamp_from_millis(ms)),
        text: event.text.clone(),
        ..Default::default()
    };
    let (kind, amount) = match &event.outcome {
        Outcome::Funded { amount, funded_on } => {
            o.funded_on = funded_on.clone();
            (pb::OutcomeKind::Funded, Some(*amount))
        }
        Outcome::DeclinedAfterReview(reason) => {
            o.decline_reason = finroute_wire::decline_reason_to_pb(*reason);
            (pb::OutcomeKind::DeclinedAfterReview, None)
        }
        Outcome::Withdrawn => (pb::OutcomeKind::Withdrawn, None),
        Outcome::Repaid(amount) => (pb::OutcomeKind::Repaid, *amount),
        Outcome::InArrears {
            days_past_due,
            amount,
        } => {
            o.days_past_due = *days_past_due;
            (pb::OutcomeKind::InArrears, Some(*amount))
        }
        Outcome::Defaulted(amount) => (pb::OutcomeKind::Defaulted, *amount),
    };
    o.kind = kind as i32;
    o.amount = amount.map(finroute_wire::money_to_pb);
    pb::ReportOutcomeRequest {
        acceptance_id: acceptance_id.to_owned(),
        outcome: Some(o),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use finroute_core::Currency;

    #[test]
    fn each_outcome_fills_its_fields() {
        let cny = Currency::parse("CNY").unwrap();
        let at = UNIX_EPOCH + std::time::Duration::from_millis(1_800_000_000_123);
        let event = |outcome| OutcomeEvent {
            event_id: "ev".into(),
            occurred_at: at,
            outcome,
            text: String::new(),
        };
        let r = report_request(
            "acc-1",
            &event(Outcome::Funded {
                amount: Money::new(cny, 500_000),
                funded_on: "2027-01-15".into(),
            }),
        );
        assert_eq!(r.acceptance_id, "acc-1");
        let o = r.outcome.unwrap();
        assert_eq!(o.kind, pb::OutcomeKind::Funded as i32);
        assert_eq!(o.amount.map(|m| m.amount_minor), Some(500_000));
        assert_eq!(o.funded_on, "2027-01-15");
        assert_eq!(
            o.occurred_at,
            Some(finroute_wire::timestamp_from_millis(1_800_000_000_123))
        );
        let o = report_request(
            "acc-1",
            &event(Outcome::DeclinedAfterReview(DeclineReason::Capacity)),
        )
        .outcome
        .unwrap();
        assert_eq!(o.kind, pb::OutcomeKind::DeclinedAfterReview as i32);
        assert_eq!(o.decline_reason, pb::DeclineReason::Capacity as i32);
        assert!(o.amount.is_none());
        let o = report_request(
            "acc-1",
            &event(Outcome::InArrears {
                days_past_due: 12,
                amount: Money::new(cny, 9_000),
            }),
        )
        .outcome
        .unwrap();
        assert_eq!(o.days_past_due, 12);
        assert_eq!(o.kind, pb::OutcomeKind::InArrears as i32);
    }
}
