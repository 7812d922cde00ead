//! What partners report of the loans booked through the router, after the
//! acceptance: funded, declined after review, withdrawn, repaid, in
//! arrears, defaulted (`PartnerOutcomeService.ReportOutcome`).
//!
//! One row per event, keyed by the partner's event id within the
//! acceptance (`(tenant, acceptance_id, event_id)`), never updated: the same
//! event again is a [`OutcomeWrite::Duplicate`], the same id with other
//! content is refused ([`DuplicateKey::OutcomeEventId`]). Each event is
//! numbered in arrival order (`seq`, from the acceptance's
//! `outcome_events` counter, bumped under the acceptance's row lock); an
//! acceptance's outcomes are ordered by the partner's `occurred_at_ms`, then
//! `seq`, so an event that arrives late takes its place in the history
//! without becoming the current one.
//!
//! For the approval-odds model, each report also keeps the partner's final
//! credit decision (the latest FUNDED or DECLINED_AFTER_REVIEW event) in
//! `acceptance_outcomes.credit_decision`, beside the acceptance's own
//! ACCEPTED status ([`Store::credit_decision`](crate::Store::credit_decision)
//! reads it; [`OutcomeRecord`](crate::OutcomeRecord) does not carry it yet).
//!
//! [`DuplicateKey::OutcomeEventId`]: crate::DuplicateKey::OutcomeEventId

use std::fmt;

use sqlx::{ColumnIndex, Decode, Row, Type};

use crate::acceptance::{TextLen, bad_column};

/// What a partner reported. Stored as its upper-case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutcomeKind {
    /// Approved and funded (amount and date).
    Funded,
    /// Declined after the partner's full review (typed reason).
    DeclinedAfterReview,
    /// The borrower withdrew.
    Withdrawn,
    /// Repaid in full.
    Repaid,
    /// Payments overdue.
    InArrears,
    /// Defaulted.
    Defaulted,
}

impl OutcomeKind {
    /// Every kind.
    pub const ALL: [OutcomeKind; 6] = [
        OutcomeKind::Funded,
        OutcomeKind::DeclinedAfterReview,
        OutcomeKind::Withdrawn,
        OutcomeKind::Repaid,
        OutcomeKind::InArrears,
        OutcomeKind::Defaulted,
    ];

    /// The stored name, e.g. `"FUNDED"`.
    pub fn as_str(self) -> &'static str {
        match self {
            OutcomeKind::Funded => "FUNDED",
            OutcomeKind::DeclinedAfterReview => "DECLINED_AFTER_REVIEW",
            OutcomeKind::Withdrawn => "WITHDRAWN",
            OutcomeKind::Repaid => "REPAID",
            OutcomeKind::InArrears => "IN_ARREARS",
            OutcomeKind::Defaulted => "DEFAULTED",
        }
    }

    /// The kind a stored name stands for.
    pub fn parse(name: &str) -> Option<OutcomeKind> {
        OutcomeKind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// Whether this is the partner's final credit decision (what the
    /// approval-odds model will take as the truth of an acceptance).
    pub fn is_credit_decision(self) -> bool {
        matches!(self, OutcomeKind::Funded | OutcomeKind::DeclinedAfterReview)
    }
}

impl fmt::Display for OutcomeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One outcome event of one acceptance, as reported and as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct OutcomeEvent {
    /// The acceptance's tenant.
    pub tenant: String,
    /// The acceptance.
    pub acceptance_id: String,
    /// The partner's id of the event.
    pub event_id: String,
    /// The channel that reported it (the acceptance's adapter).
    pub adapter_id: String,
    /// What happened.
    pub kind: OutcomeKind,
    /// When it happened, by the partner's clock, unix milliseconds.
    pub occurred_at_ms: i64,
    /// When the router recorded it, unix milliseconds (the first report's
    /// time: a duplicate does not change it).
    pub received_at_ms: i64,
    /// Amount in minor units; 0 when the kind carries none.
    pub amount_minor: i64,
    /// ISO 4217 code of `amount_minor`; '' when none.
    pub currency: String,
    /// `YYYY-MM-DD` for FUNDED, else ''.
    pub funded_on: String,
    /// The DeclineReason code for DECLINED_AFTER_REVIEW, else ''.
    pub decline_reason: String,
    /// Days past due for IN_ARREARS, else 0.
    pub days_past_due: i64,
    /// The partner's words, cleaned by the caller.
    pub text: String,
    /// Arrival order within the acceptance (1, 2, ...); set by the store.
    pub seq: i64,
}

impl OutcomeEvent {
    /// Whether `other` reports the same event: every field the partner
    /// sent is equal (not the arrival time nor number).
    pub fn same_content(&self, other: &OutcomeEvent) -> bool {
        self.tenant == other.tenant
            && self.acceptance_id == other.acceptance_id
            && self.event_id == other.event_id
            && self.adapter_id == other.adapter_id
            && self.kind == other.kind
            && self.occurred_at_ms == other.occurred_at_ms
            && self.amount_minor == other.amount_minor
            && self.currency == other.currency
            && self.funded_on == other.funded_on
            && self.decline_reason == other.decline_reason
            && self.days_past_due == other.days_past_due
            && self.text == other.text
    }
}

impl fmt::Debug for OutcomeEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutcomeEvent")
            .field("tenant", &self.tenant)
            .field("acceptance_id", &self.acceptance_id)
            .field("event_id", &self.event_id)
            .field("adapter_id", &self.adapter_id)
            .field("kind", &self.kind)
            .field("occurred_at_ms", &self.occurred_at_ms)
            .field("received_at_ms", &self.received_at_ms)
            .field("amount_minor", &self.amount_minor)
            .field("currency", &self.currency)
            .field("funded_on", &self.funded_on)
            .field("decline_reason", &self.decline_reason)
            .field("days_past_due", &self.days_past_due)
            .field("text", &TextLen(&self.text))
            .field("seq", &self.seq)
            .finish()
    }
}

/// What [`Store::report_outcome`](crate::Store::report_outcome) did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutcomeWrite {
    /// The event was stored; the acceptance's outcomes after it, in order.
    Recorded(Vec<OutcomeEvent>),
    /// The same event was stored before; nothing changed. The
    /// acceptance's outcomes, in order.
    Duplicate(Vec<OutcomeEvent>),
}

impl OutcomeWrite {
    /// The acceptance's outcomes, in the partner's order (then arrival).
    pub fn history(&self) -> &[OutcomeEvent] {
        match self {
            OutcomeWrite::Recorded(h) | OutcomeWrite::Duplicate(h) => h,
        }
    }
}

const OUTCOME_COLUMNS: &str = "tenant, acceptance_id, event_id, adapter_id, kind, occurred_at_ms, \
    received_at_ms, amount_minor, currency, funded_on, decline_reason, days_past_due, text, seq";

/// `$1` acceptance_id, `$2` tenant, `$3` adapter_id: counts one more event
/// of an ACCEPTED acceptance of this tenant and adapter, and returns its
/// number; no row when the acceptance is not one. On PostgreSQL the row
/// lock it takes orders concurrent reports of one acceptance.
pub(crate) const BUMP_EVENTS: &str = "\
    UPDATE acceptances SET outcome_events = outcome_events + 1 \
    WHERE acceptance_id = $1 AND tenant = $2 AND adapter_id = $3 AND status = 'ACCEPTED' \
    RETURNING outcome_events";

/// `$1`..`$14` in [`OUTCOME_COLUMNS`] order. Nothing is inserted (and no
/// row returned) when the event id is taken.
pub(crate) const INSERT_OUTCOME_EVENT: &str = "\
    INSERT INTO partner_outcomes (tenant, acceptance_id, event_id, adapter_id, kind, \
        occurred_at_ms, received_at_ms, amount_minor, currency, funded_on, decline_reason, \
        days_past_due, text, seq) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
    ON CONFLICT DO NOTHING \
    RETURNING seq";

/// `$1` tenant, `$2` acceptance_id, `$3` event_id.
pub(crate) static GET_OUTCOME_EVENT: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "SELECT {OUTCOME_COLUMNS} FROM partner_outcomes \
             WHERE tenant = $1 AND acceptance_id = $2 AND event_id = $3"
    )
});

/// `$1` tenant, `$2` acceptance_id: its outcomes in order.
pub(crate) static OUTCOMES_OF_ACCEPTANCE: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| {
        format!(
            "SELECT {OUTCOME_COLUMNS} FROM partner_outcomes \
             WHERE tenant = $1 AND acceptance_id = $2 ORDER BY occurred_at_ms, seq"
        )
    });

/// `$1` tenant, `$2` application_id: the outcomes of every acceptance of
/// the application, each acceptance's in order.
pub(crate) static OUTCOMES_OF_APPLICATION: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| {
        format!(
            "SELECT {OUTCOME_COLUMNS} FROM partner_outcomes \
             WHERE tenant = $1 AND acceptance_id IN ( \
                 SELECT acceptance_id FROM acceptances WHERE tenant = $1 AND application_id = $2) \
             ORDER BY acceptance_id, occurred_at_ms, seq"
        )
    });

/// `$1` acceptance_id: the partner's latest credit decision into the
/// acceptance's outcome for the odds model.
pub(crate) const SET_CREDIT_DECISION: &str = "\
    UPDATE acceptance_outcomes SET credit_decision = ( \
        SELECT kind FROM partner_outcomes \
        WHERE acceptance_id = $1 AND kind IN ('FUNDED', 'DECLINED_AFTER_REVIEW') \
        ORDER BY occurred_at_ms DESC, seq DESC LIMIT 1) \
    WHERE acceptance_id = $1";

/// `$1` acceptance_id: the credit decision kept for the odds model (no
/// row: no outcome recorded for the acceptance; NULL: none reported).
pub(crate) const GET_CREDIT_DECISION: &str =
    "SELECT credit_decision FROM acceptance_outcomes WHERE acceptance_id = $1";

/// Decodes a row of [`OUTCOME_COLUMNS`].
pub(crate) fn outcome_event<R>(row: &R) -> Result<OutcomeEvent, sqlx::Error>
where
    R: Row,
    usize: ColumnIndex<R>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
{
    let kind: String = row.try_get(4)?;
    Ok(OutcomeEvent {
        tenant: row.try_get(0)?,
        acceptance_id: row.try_get(1)?,
        event_id: row.try_get(2)?,
        adapter_id: row.try_get(3)?,
        kind: OutcomeKind::parse(&kind)
            .ok_or_else(|| bad_column("kind", "unknown outcome kind"))?,
        occurred_at_ms: row.try_get(5)?,
        received_at_ms: row.try_get(6)?,
        amount_minor: row.try_get(7)?,
        currency: row.try_get(8)?,
        funded_on: row.try_get(9)?,
        decline_reason: row.try_get(10)?,
        days_past_due: row.try_get(11)?,
        text: row.try_get(12)?,
        seq: row.try_get(13)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip() {
        for k in OutcomeKind::ALL {
            assert_eq!(OutcomeKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(OutcomeKind::parse("funded"), None);
        assert!(OutcomeKind::Funded.is_credit_decision());
        assert!(!OutcomeKind::Repaid.is_credit_decision());
    }
}
