//! The outbox of events pushed to the platform (`docs/webhooks.md`).
//!
//! An event is inserted by [`Ops::enqueue_event`](crate::ops::Ops) in the
//! transaction of the state change it reports: an acceptance becoming final
//! ([`Store::complete_acceptance`](crate::Store::complete_acceptance)), an
//! appeal decided. So an event exists exactly when its change committed,
//! once. A delivery worker leases due events, POSTs them, and marks them
//! delivered ([`Store::ack_event`](crate::Store::ack_event)) or gives the
//! lease back with a backoff ([`Store::release_event`](crate::Store::release_event)).
//!
//! Order per application: events are numbered 1, 2, ... per (tenant,
//! application) and only the oldest undelivered event of an application is
//! ever leased, so event n+1 is not sent before event n was acknowledged.

use std::fmt;

use sqlx::{ColumnIndex, Decode, Row, Type};

use crate::acceptance::TextLen;

/// `kind` of the event an acceptance leaves when it becomes final.
pub const ACCEPTANCE_FINAL: &str = "acceptance.final";
/// `kind` of the event an appeal leaves when it is decided.
pub const APPEAL_DECIDED: &str = "appeal.decided";

/// `kind` of the event a late offer leaves when it is stored.
pub const LATE_OFFER: &str = "offer.late";
/// `kind` of the event a partner's outcome report leaves when recorded.
pub const PARTNER_OUTCOME: &str = "acceptance.outcome";

/// An event to enqueue.
#[derive(Clone, PartialEq, Eq)]
pub struct NewEvent {
    /// The tenant whose webhook receives it.
    pub tenant: String,
    /// The application it is about (the unit of ordering).
    pub application_id: String,
    /// The event type, e.g. [`ACCEPTANCE_FINAL`].
    pub kind: String,
    /// A JSON object: ids and statuses only, never personal data.
    pub payload: String,
    /// When the change happened, unix milliseconds; also when the event is
    /// first due.
    pub now_ms: i64,
}

impl fmt::Debug for NewEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewEvent")
            .field("tenant", &self.tenant)
            .field("application_id", &self.application_id)
            .field("kind", &self.kind)
            .field("payload", &TextLen(&self.payload))
            .field("now_ms", &self.now_ms)
            .finish()
    }
}

/// An event as leased for delivery.
#[derive(Clone, PartialEq, Eq)]
pub struct EventRecord {
    /// UUID; the receiver deduplicates on it.
    pub event_id: String,
    /// The tenant whose webhook receives it.
    pub tenant: String,
    /// The application it is about.
    pub application_id: String,
    /// 1, 2, ... per (tenant, application).
    pub seq: i64,
    /// The event type.
    pub kind: String,
    /// The JSON object stored with it.
    pub payload: String,
    /// When the change happened, unix milliseconds.
    pub created_at_ms: i64,
    /// Leases taken so far, this one included.
    pub attempts: i32,
}

impl fmt::Debug for EventRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventRecord")
            .field("event_id", &self.event_id)
            .field("tenant", &self.tenant)
            .field("application_id", &self.application_id)
            .field("seq", &self.seq)
            .field("kind", &self.kind)
            .field("payload", &TextLen(&self.payload))
            .field("created_at_ms", &self.created_at_ms)
            .field("attempts", &self.attempts)
            .finish()
    }
}

/// Undelivered events, for the backlog gauges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EventBacklog {
    /// Events not acknowledged yet.
    pub count: i64,
    /// When the oldest of them happened, unix milliseconds.
    pub oldest_created_at_ms: Option<i64>,
}

/// PostgreSQL: `$1` application_id, `$2` tenant. Taken before numbering an
/// event, so concurrent enqueues of one application wait for each other
/// (held to the end of the transaction).
pub(crate) const PG_LOCK_APPLICATION: &str = "\
    SELECT 1 FROM applications WHERE application_id = $1 AND tenant = $2 FOR NO KEY UPDATE";

/// `$1` event_id, `$2` tenant, `$3` application_id, `$4` kind, `$5`
/// payload, `$6` created_at_ms (also the first due time). The number is
/// the application's next (the application is locked first on
/// PostgreSQL; the unique constraint stays as the backstop).
pub(crate) const INSERT_EVENT: &str = "\
    INSERT INTO webhook_events (event_id, tenant, application_id, seq, kind, payload, \
                                created_at_ms, next_attempt_ms) \
    SELECT $1, $2, $3, COALESCE(MAX(seq), 0) + 1, $4, $5, $6, $6 \
    FROM webhook_events WHERE tenant = $2 AND application_id = $3";

/// What a lease returns, in [`event`]'s order (SQLite's `RETURNING` names
/// the updated table's columns unqualified).
const SQLITE_RETURNING: &str = "RETURNING event_id, tenant, application_id, seq, kind, \
    payload, created_at_ms, attempts";

/// The same on PostgreSQL, where `due` also has an `event_id`.
const PG_RETURNING: &str = "RETURNING e.event_id, e.tenant, e.application_id, e.seq, e.kind, \
    e.payload, e.created_at_ms, e.attempts";

/// The due heads: undelivered, due, not leased, and the oldest undelivered
/// event of their application. `$2` now_ms, `$4` limit.
const DUE_HEADS: &str = "\
    SELECT h.event_id FROM webhook_events h \
    WHERE h.delivered_at_ms IS NULL AND h.next_attempt_ms <= $2 AND h.lease_until_ms <= $2 \
      AND NOT EXISTS (SELECT 1 FROM webhook_events p \
                      WHERE p.tenant = h.tenant AND p.application_id = h.application_id \
                        AND p.delivered_at_ms IS NULL AND p.seq < h.seq) \
    ORDER BY h.next_attempt_ms, h.event_id LIMIT $4";

/// SQLite: `$1` owner, `$2` now_ms, `$3` lease_until_ms, `$4` limit; under
/// `BEGIN IMMEDIATE` no other writer interleaves.
pub(crate) static SQLITE_LEASE_EVENTS: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| {
        format!(
            "UPDATE webhook_events \
             SET lease_owner = $1, lease_until_ms = $3, attempts = attempts + 1 \
             WHERE event_id IN ({DUE_HEADS}) {SQLITE_RETURNING}"
        )
    });

/// PostgreSQL: the same, the heads locked with `SKIP LOCKED` so that
/// replicas leasing at once take disjoint rows.
pub(crate) static PG_LEASE_EVENTS: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "WITH due AS ({DUE_HEADS} FOR UPDATE OF h SKIP LOCKED) \
         UPDATE webhook_events e \
         SET lease_owner = $1, lease_until_ms = $3, attempts = e.attempts + 1 \
         FROM due WHERE e.event_id = due.event_id {PG_RETURNING}"
    )
});

/// `$1` event_id, `$2` delivered_at_ms, `$3` note (how it ended).
pub(crate) const ACK_EVENT: &str = "\
    UPDATE webhook_events \
    SET delivered_at_ms = $2, lease_owner = '', lease_until_ms = 0, last_error = $3 \
    WHERE event_id = $1 AND delivered_at_ms IS NULL";

/// `$1` event_id, `$2` owner, `$3` next_attempt_ms, `$4` last_error.
pub(crate) const RELEASE_EVENT: &str = "\
    UPDATE webhook_events \
    SET lease_owner = '', lease_until_ms = 0, next_attempt_ms = $3, last_error = $4 \
    WHERE event_id = $1 AND lease_owner = $2 AND delivered_at_ms IS NULL";

/// Count and oldest creation time of undelivered events.
pub(crate) const EVENT_BACKLOG: &str = "\
    SELECT COUNT(*), MIN(created_at_ms) FROM webhook_events WHERE delivered_at_ms IS NULL";

/// `$1` tenant: every event of the tenant, delivered or not, oldest
/// first (for tests and tools).
pub(crate) const EVENTS_OF_TENANT: &str = "\
    SELECT e.event_id, e.tenant, e.application_id, e.seq, e.kind, e.payload, e.created_at_ms, \
           e.attempts \
    FROM webhook_events e WHERE e.tenant = $1 \
    ORDER BY e.created_at_ms, e.application_id, e.seq";

/// Decodes an [`EventRecord`] from the columns of [`SQLITE_RETURNING`].
pub(crate) fn event<R>(row: &R) -> Result<EventRecord, sqlx::Error>
where
    R: Row,
    usize: ColumnIndex<R>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i32: Decode<'r, R::Database> + Type<R::Database>,
{
    Ok(EventRecord {
        event_id: row.try_get(0)?,
        tenant: row.try_get(1)?,
        application_id: row.try_get(2)?,
        seq: row.try_get(3)?,
        kind: row.try_get(4)?,
        payload: row.try_get(5)?,
        created_at_ms: row.try_get(6)?,
        attempts: row.try_get(7)?,
    })
}

/// The payload of [`ACCEPTANCE_FINAL`]: ids and the final status.
pub(crate) fn acceptance_payload(r: &crate::AcceptanceRecord) -> String {
    serde_json::json!({
        "acceptance_id": r.acceptance_id,
        "offer_id": r.offer_id,
        "adapter_id": r.adapter_id,
        "status": r.status.as_str(),
    })
    .to_string()
}

/// The payload of [`APPEAL_DECIDED`]: ids, the decision and its reason
/// code (never the applicant's words or the operator's note).
pub(crate) fn appeal_payload(r: &crate::AppealRecord) -> String {
    serde_json::json!({
        "appeal_id": r.appeal_id,
        "adapter_id": r.adapter_id,
        "decision": r.status.as_str(),
        "reason_code": r.resolution_reason_code,
    })
    .to_string()
}

/// The payload of [`LATE_OFFER`]: the offer's ids and terms (no
/// applicant data), and when it arrived.
pub(crate) fn late_offer_payload(l: &crate::LateOfferRecord) -> String {
    let o = &l.offer;
    serde_json::json!({
        "offer_id": o.offer_id,
        "adapter_id": o.adapter_id,
        "product_kind": o.product_kind,
        "currency": o.currency,
        "principal_minor": o.principal_minor,
        "term_months": o.term_months,
        "apr_bps": o.apr_bps,
        "expires_at_ms": o.expires_at_ms,
        "arrived_at_ms": l.arrived_at_ms,
    })
    .to_string()
}

/// The payload of [`PARTNER_OUTCOME`]: ids, the kind, its amount or
/// reason, and the partner's time (never the partner's free text).
pub(crate) fn outcome_payload(e: &crate::outcome::OutcomeEvent) -> String {
    serde_json::json!({
        "acceptance_id": e.acceptance_id,
        "adapter_id": e.adapter_id,
        "partner_event_id": e.event_id,
        "kind": e.kind.as_str(),
        "occurred_at_ms": e.occurred_at_ms,
        "amount_minor": e.amount_minor,
        "currency": e.currency,
        "funded_on": e.funded_on,
        "decline_reason": e.decline_reason,
        "days_past_due": e.days_past_due,
    })
    .to_string()
}

/// A new event id: UUID v7 (time-ordered, so ids sort roughly by creation).
pub(crate) fn new_event_id() -> String {
    uuid::Uuid::now_v7().to_string()
}
