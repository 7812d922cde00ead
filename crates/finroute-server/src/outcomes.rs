//! `finroute.v1.PartnerOutcomeService`: partners report what became of the loans
//! booked through the router (docs/api.md, "Service
//! `finroute.v1.PartnerOutcomeService`").
//!
//! The caller is a key with the `partner` role, which names one channel
//! (`[[auth.keys]].adapter_id`) and one tenant: it reaches only the
//! ACCEPTED acceptances of offers that channel made to that tenant. An
//! acceptance of another tenant or another channel answers NOT_FOUND, as an
//! unknown id does, so a partner learns nothing of acceptances that are not
//! its own. Each event is stored once per `event_id` (the store keeps the
//! first; the same event again answers `duplicate`), and an acceptance's
//! outcomes are ordered by the partner's `occurred_at`, then arrival.
//!
//! Never logged: the partner's text and amounts.

use std::sync::Arc;

use finroute_adapters::convert as c;
use finroute_core::text;
use finroute_proto::v1 as pb;
use finroute_store::{
    AcceptanceState, DuplicateKey, OutcomeEvent, OutcomeKind, OutcomeWrite, Store, StoreError,
};
use tonic::{Request, Response, Status};

use crate::auth::caller_of;
use crate::drain::InFlight;
use crate::error::{Precondition, Resource, Reused, RouterError};
use crate::metrics::Metrics;
use crate::router::unix_millis;

/// How far ahead of the router's clock a partner's `occurred_at` may be.
pub const MAX_CLOCK_SKEW_MS: i64 = 5 * 60 * 1000;
/// Longest partner text kept, in bytes (longer text is cut, not refused).
pub const MAX_OUTCOME_TEXT: usize = 500;
/// Earliest `occurred_at` accepted: 2000-01-01T00:00:00Z.
const EARLIEST_MS: i64 = 946_684_800_000;
/// Most days past due accepted (a hundred years).
const MAX_DAYS_PAST_DUE: i32 = 36_500;

/// The PartnerOutcomeService service. Cheap to clone.
#[derive(Debug, Clone)]
pub struct OutcomeService {
    store: Store,
    in_flight: InFlight,
    metrics: Arc<Metrics>,
}

impl OutcomeService {
    pub fn new(store: Store, in_flight: InFlight, metrics: Arc<Metrics>) -> Self {
        OutcomeService {
            store,
            in_flight,
            metrics,
        }
    }

    async fn report(
        &self,
        tenant: &str,
        adapter: Option<&str>,
        msg: pb::ReportOutcomeRequest,
        now_ms: i64,
    ) -> Result<pb::ReportOutcomeResponse, RouterError> {
        let mut v = c::Violations::default();
        v.id("acceptance_id", &msg.acceptance_id);
        let Some(outcome) = msg.outcome.as_ref() else {
            v.add("outcome", "required");
            return Err(RouterError::Invalid(v.0));
        };
        let fields = check_outcome(outcome, now_ms, &mut v);
        if !v.is_empty() {
            return Err(RouterError::Invalid(v.0));
        }
        let Some(fields) = fields else {
            return Err(RouterError::Internal(
                "outcome checks passed without fields".into(),
            ));
        };
        let acceptance = self
            .store
            .get_acceptance(tenant, &msg.acceptance_id)
            .await?
            .filter(|a| adapter.is_none_or(|id| a.adapter_id == id))
            .ok_or(RouterError::NotFound(Resource::Acceptance))?;
        match acceptance.status {
            AcceptanceState::Accepted => {}
            other => {
                return Err(RouterError::FailedPrecondition(
                    Precondition::AcceptanceNotAccepted(other.as_str()),
                ));
            }
        }
        // The amount is in the currency the offer was made in.
        if let Some((_, currency)) = &fields.amount {
            let offer = self
                .store
                .get_offer(tenant, &acceptance.offer_id)
                .await?
                .ok_or_else(|| RouterError::Internal("accepted offer missing".into()))?;
            if *currency != offer.currency {
                return Err(RouterError::Invalid(vec![c::Violation {
                    field: "outcome.amount.currency_code".into(),
                    description: "must be the currency of the accepted offer".into(),
                }]));
            }
        }
        let (amount_minor, currency) = fields.amount.clone().unwrap_or_default();
        let event = OutcomeEvent {
            tenant: tenant.to_owned(),
            acceptance_id: acceptance.acceptance_id.clone(),
            event_id: outcome.event_id.clone(),
            adapter_id: acceptance.adapter_id.clone(),
            kind: fields.kind,
            occurred_at_ms: fields.occurred_at_ms,
            received_at_ms: now_ms,
            amount_minor,
            currency,
            funded_on: outcome.funded_on.clone(),
            decline_reason: fields.decline_reason.to_owned(),
            days_past_due: i64::from(outcome.days_past_due),
            text: text::clean(&outcome.text, MAX_OUTCOME_TEXT),
            seq: 0,
        };
        let written = match self.store.report_outcome(&event).await {
            Ok(w) => w,
            Err(StoreError::Duplicate {
                key: DuplicateKey::OutcomeEventId,
            }) => return Err(RouterError::AlreadyExists(Reused::OutcomeEventId)),
            // Between the read and the write the acceptance cannot stop
            // being ACCEPTED (a final state); NotFound means it is gone.
            Err(StoreError::NotFound) => return Err(RouterError::NotFound(Resource::Acceptance)),
            Err(e) => return Err(e.into()),
        };
        let duplicate = matches!(written, OutcomeWrite::Duplicate(_));
        if !duplicate {
            self.metrics
                .partner_outcome(&event.adapter_id, event.kind.as_str());
        }
        tracing::info!(
            acceptance_id = %event.acceptance_id,
            adapter = %event.adapter_id,
            kind = event.kind.as_str(),
            duplicate,
            "partner outcome reported"
        );
        let history: Vec<pb::PartnerOutcome> = written.history().iter().map(outcome_pb).collect();
        Ok(pb::ReportOutcomeResponse {
            duplicate,
            current: history.last().cloned(),
            history,
        })
    }
}

#[tonic::async_trait]
impl pb::partner_outcome_service_server::PartnerOutcomeService for OutcomeService {
    async fn report_outcome(
        &self,
        request: Request<pb::ReportOutcomeRequest>,
    ) -> Result<Response<pb::ReportOutcomeResponse>, Status> {
        let _guard = self.in_flight.guard();
        let caller = caller_of(&request);
        let reply = self
            .report(
                &caller.tenant,
                caller.adapter_id.as_deref(),
                request.into_inner(),
                unix_millis(),
            )
            .await?;
        Ok(Response::new(reply))
    }
}

/// What [`check_outcome`] read from a valid outcome.
#[derive(Debug, Clone, PartialEq)]
struct Fields {
    kind: OutcomeKind,
    occurred_at_ms: i64,
    /// Minor units and currency code, when the outcome carries an amount.
    amount: Option<(i64, String)>,
    /// The DeclineReason's wire name for DECLINED_AFTER_REVIEW, else "".
    decline_reason: &'static str,
}

/// Checks an outcome's fields against its kind; each problem is a
/// violation naming the field (`outcome.<field>`).
fn check_outcome(o: &pb::PartnerOutcome, now_ms: i64, v: &mut c::Violations) -> Option<Fields> {
    v.id("outcome.event_id", &o.event_id);
    let kind = match pb::OutcomeKind::try_from(o.kind) {
        Ok(pb::OutcomeKind::Funded) => Some(OutcomeKind::Funded),
        Ok(pb::OutcomeKind::DeclinedAfterReview) => Some(OutcomeKind::DeclinedAfterReview),
        Ok(pb::OutcomeKind::Withdrawn) => Some(OutcomeKind::Withdrawn),
        Ok(pb::OutcomeKind::Repaid) => Some(OutcomeKind::Repaid),
        Ok(pb::OutcomeKind::InArrears) => Some(OutcomeKind::InArrears),
        Ok(pb::OutcomeKind::Defaulted) => Some(OutcomeKind::Defaulted),
        Ok(pb::OutcomeKind::Unspecified) | Err(_) => {
            v.add(
                "outcome.kind",
                "one of FUNDED, DECLINED_AFTER_REVIEW, WITHDRAWN, REPAID, IN_ARREARS, DEFAULTED",
            );
            None
        }
    };
    let occurred_at_ms = match &o.occurred_at {
        None => {
            v.add("outcome.occurred_at", "required: when it happened");
            None
        }
        Some(t) if !(0..1_000_000_000).contains(&t.nanos) => {
            v.add("outcome.occurred_at", "nanos must be within 0..=999999999");
            None
        }
        Some(t) => {
            let ms = c::millis_from_timestamp(t);
            if ms < EARLIEST_MS {
                v.add("outcome.occurred_at", "must not be before 2000-01-01");
                None
            } else if ms > now_ms.saturating_add(MAX_CLOCK_SKEW_MS) {
                v.add(
                    "outcome.occurred_at",
                    "must not be more than 5 minutes ahead of the router's clock",
                );
                None
            } else {
                Some(ms)
            }
        }
    };
    let amount = match &o.amount {
        None => None,
        Some(m) => {
            let before = v.0.len();
            let money = c::money_from_pb(m, "outcome.amount", v);
            match money {
                Some(money) if money.amount_minor > 0 => {
                    Some((money.amount_minor, money.currency.as_str().to_owned()))
                }
                Some(_) => {
                    v.add("outcome.amount.amount_minor", "must be positive");
                    None
                }
                None => {
                    debug_assert!(v.0.len() > before);
                    None
                }
            }
        }
    };
    let kind = kind?;
    // What each kind carries, and nothing else.
    let wants_amount = match kind {
        OutcomeKind::Funded | OutcomeKind::InArrears => Some(true),
        OutcomeKind::Repaid | OutcomeKind::Defaulted => None,
        OutcomeKind::DeclinedAfterReview | OutcomeKind::Withdrawn => Some(false),
    };
    match (wants_amount, o.amount.is_some()) {
        (Some(true), false) => v.add("outcome.amount", format!("required with {kind}")),
        (Some(false), true) => v.add("outcome.amount", format!("not allowed with {kind}")),
        _ => {}
    }
    if kind == OutcomeKind::Funded {
        if !is_date(&o.funded_on) {
            v.add(
                "outcome.funded_on",
                "required with FUNDED: a date, YYYY-MM-DD",
            );
        }
    } else if !o.funded_on.is_empty() {
        v.add("outcome.funded_on", "only with FUNDED");
    }
    let decline_reason = if kind == OutcomeKind::DeclinedAfterReview {
        match o.decline_reason {
            0 => {
                v.add(
                    "outcome.decline_reason",
                    "required with DECLINED_AFTER_REVIEW (not UNSPECIFIED)",
                );
                ""
            }
            // A value this router does not know (from a newer partner)
            // reads as OTHER, as in quote answers.
            r => pb::DeclineReason::try_from(r)
                .unwrap_or(pb::DeclineReason::Other)
                .as_str_name(),
        }
    } else {
        if o.decline_reason != 0 {
            v.add("outcome.decline_reason", "only with DECLINED_AFTER_REVIEW");
        }
        ""
    };
    if kind == OutcomeKind::InArrears {
        if !(1..=MAX_DAYS_PAST_DUE).contains(&o.days_past_due) {
            v.add(
                "outcome.days_past_due",
                format!("required with IN_ARREARS: 1..={MAX_DAYS_PAST_DUE}"),
            );
        }
    } else if o.days_past_due != 0 {
        v.add("outcome.days_past_due", "only with IN_ARREARS");
    }
    Some(Fields {
        kind,
        occurred_at_ms: occurred_at_ms?,
        amount,
        decline_reason,
    })
}

/// Whether `s` is a calendar date `YYYY-MM-DD` (years 2000..=2999).
fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let part = s.get(r)?;
        if !part.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        part.parse().ok()
    };
    let (Some(y), Some(m), Some(d)) = (num(0..4), num(5..7), num(8..10)) else {
        return false;
    };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (2000..=2999).contains(&y) && (1..=days).contains(&d)
}

/// The wire form of a stored outcome event.
pub(crate) fn outcome_pb(e: &OutcomeEvent) -> pb::PartnerOutcome {
    let kind = match e.kind {
        OutcomeKind::Funded => pb::OutcomeKind::Funded,
        OutcomeKind::DeclinedAfterReview => pb::OutcomeKind::DeclinedAfterReview,
        OutcomeKind::Withdrawn => pb::OutcomeKind::Withdrawn,
        OutcomeKind::Repaid => pb::OutcomeKind::Repaid,
        OutcomeKind::InArrears => pb::OutcomeKind::InArrears,
        OutcomeKind::Defaulted => pb::OutcomeKind::Defaulted,
    };
    pb::PartnerOutcome {
        event_id: e.event_id.clone(),
        kind: kind as i32,
        occurred_at: Some(c::timestamp_from_millis(e.occurred_at_ms)),
        amount: (!e.currency.is_empty()).then(|| pb::Money {
            currency_code: e.currency.clone(),
            amount_minor: e.amount_minor,
        }),
        funded_on: e.funded_on.clone(),
        decline_reason: pb::DeclineReason::from_str_name(&e.decline_reason).map_or(0, |r| r as i32),
        text: e.text.clone(),
        days_past_due: i32::try_from(e.days_past_due).unwrap_or(i32::MAX),
        received_at: Some(c::timestamp_from_millis(e.received_at_ms)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000_000;

    fn funded() -> pb::PartnerOutcome {
        pb::PartnerOutcome {
            event_id: "ev-1".into(),
            kind: pb::OutcomeKind::Funded as i32,
            occurred_at: Some(c::timestamp_from_millis(NOW - 1000)),
            amount: Some(pb::Money {
                currency_code: "CNY".into(),
                amount_minor: 500_000,
            }),
            funded_on: "2027-01-15".into(),
            ..Default::default()
        }
    }

    fn fields_of(o: &pb::PartnerOutcome) -> Result<Fields, Vec<String>> {
        let mut v = c::Violations::default();
        let f = check_outcome(o, NOW, &mut v);
        if v.is_empty() {
            f.ok_or_else(Vec::new)
        } else {
            Err(v.0.into_iter().map(|v| v.field).collect())
        }
    }

    #[test]
    fn a_funded_outcome_is_read() {
        let f = fields_of(&funded()).expect("valid");
        assert_eq!(f.kind, OutcomeKind::Funded);
        assert_eq!(f.amount, Some((500_000, "CNY".into())));
        assert_eq!(f.occurred_at_ms, NOW - 1000);
    }

    #[test]
    fn each_bad_field_is_named() {
        type Change = Box<dyn Fn(&mut pb::PartnerOutcome)>;
        let cases: Vec<(Change, &str)> = vec![
            (Box::new(|o| o.event_id.clear()), "outcome.event_id"),
            (Box::new(|o| o.kind = 0), "outcome.kind"),
            (Box::new(|o| o.kind = 99), "outcome.kind"),
            (Box::new(|o| o.occurred_at = None), "outcome.occurred_at"),
            (
                Box::new(|o| o.occurred_at = Some(c::timestamp_from_millis(NOW + 301_000))),
                "outcome.occurred_at",
            ),
            (
                Box::new(|o| o.occurred_at = Some(c::timestamp_from_millis(0))),
                "outcome.occurred_at",
            ),
            (Box::new(|o| o.amount = None), "outcome.amount"),
            (
                Box::new(|o| {
                    if let Some(a) = o.amount.as_mut() {
                        a.amount_minor = 0;
                    }
                }),
                "outcome.amount.amount_minor",
            ),
            (
                Box::new(|o| {
                    if let Some(a) = o.amount.as_mut() {
                        a.currency_code = "yuan".into();
                    }
                }),
                "outcome.amount.currency_code",
            ),
            (
                Box::new(|o| o.funded_on = "2027-02-30".into()),
                "outcome.funded_on",
            ),
            (Box::new(|o| o.funded_on.clear()), "outcome.funded_on"),
            (Box::new(|o| o.decline_reason = 1), "outcome.decline_reason"),
            (Box::new(|o| o.days_past_due = 3), "outcome.days_past_due"),
        ];
        for (change, field) in cases {
            let mut o = funded();
            change(&mut o);
            let fields = fields_of(&o).expect_err(field);
            assert!(fields.iter().any(|f| f == field), "{field}: {fields:?}");
        }
    }

    #[test]
    fn declined_needs_a_reason_and_reads_unknown_ones_as_other() {
        let mut o = pb::PartnerOutcome {
            event_id: "ev-2".into(),
            kind: pb::OutcomeKind::DeclinedAfterReview as i32,
            occurred_at: Some(c::timestamp_from_millis(NOW)),
            ..Default::default()
        };
        assert_eq!(
            fields_of(&o).expect_err("no reason"),
            ["outcome.decline_reason"]
        );
        o.decline_reason = pb::DeclineReason::DebtToIncome as i32;
        assert_eq!(
            fields_of(&o).expect("valid").decline_reason,
            "DECLINE_REASON_DEBT_TO_INCOME"
        );
        o.decline_reason = 77;
        assert_eq!(
            fields_of(&o).expect("valid").decline_reason,
            "DECLINE_REASON_OTHER"
        );
    }

    #[test]
    fn in_arrears_needs_days_and_an_amount() {
        let mut o = pb::PartnerOutcome {
            event_id: "ev-3".into(),
            kind: pb::OutcomeKind::InArrears as i32,
            occurred_at: Some(c::timestamp_from_millis(NOW)),
            ..Default::default()
        };
        let mut fields = fields_of(&o).expect_err("missing");
        fields.sort();
        assert_eq!(fields, ["outcome.amount", "outcome.days_past_due"]);
        o.days_past_due = 31;
        o.amount = Some(pb::Money {
            currency_code: "CNY".into(),
            amount_minor: 12_000,
        });
        assert_eq!(fields_of(&o).expect("valid").kind, OutcomeKind::InArrears);
    }

    #[test]
    fn dates_are_calendar_dates() {
        for good in ["2024-02-29", "2027-12-31", "2000-01-01"] {
            assert!(is_date(good), "{good}");
        }
        for bad in [
            "",
            "2023-02-29",
            "2027-13-01",
            "2027-1-01",
            "27-01-01x",
            "２０２７-01-01",
            "1999-12-31",
        ] {
            assert!(!is_date(bad), "{bad}");
        }
    }

    #[test]
    fn stored_events_round_trip_to_the_wire() {
        let e = OutcomeEvent {
            tenant: "t".into(),
            acceptance_id: "acc".into(),
            event_id: "ev".into(),
            adapter_id: "bank".into(),
            kind: OutcomeKind::DeclinedAfterReview,
            occurred_at_ms: NOW,
            received_at_ms: NOW + 5,
            amount_minor: 0,
            currency: String::new(),
            funded_on: String::new(),
            decline_reason: "DECLINE_REASON_CAPACITY".into(),
            days_past_due: 0,
            text: "no".into(),
            seq: 1,
        };
        let p = outcome_pb(&e);
        assert_eq!(p.kind, pb::OutcomeKind::DeclinedAfterReview as i32);
        assert_eq!(p.decline_reason, pb::DeclineReason::Capacity as i32);
        assert!(p.amount.is_none());
        assert_eq!(p.received_at, Some(c::timestamp_from_millis(NOW + 5)));
    }
}
