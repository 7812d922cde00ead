//! Acceptances of offers, their outbox, and the outcomes they leave for the
//! approval-odds model (`docs/reliability.md`, "Exactly-once acceptance").
//!
//! Transaction 1 ([`Store::claim_acceptance`](crate::Store::claim_acceptance))
//! inserts the acceptance (PENDING) and its outbox row; a relay leases
//! outbox rows, calls the partner, and transaction 2
//! ([`Store::complete_acceptance`](crate::Store::complete_acceptance)) stores
//! the answer, deletes the outbox row and records an outcome.
//!
//! The schema guarantees what retries, replicas and crashes must not break:
//! one acceptance per `(tenant, idempotency_key)`, at most one live (PENDING
//! or ACCEPTED) acceptance per offer, and an acceptance only of an offer of
//! the same tenant.
//!
//! `Debug` of these types prints blob and free-text lengths only.

use std::fmt;
use std::sync::LazyLock;

use sqlx::{ColumnIndex, Decode, Row, Type};

use crate::read::select;
use crate::record::BlobLen;

/// Where an acceptance stands. Stored as `PENDING`, `ACCEPTED`, `DECLINED`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AcceptanceState {
    /// Claimed; the partner's answer is not stored yet.
    Pending,
    /// The partner accepted (final).
    Accepted,
    /// The partner declined (final); the offer is free for another key.
    Declined,
}

impl AcceptanceState {
    /// The stored name: `"PENDING"`, `"ACCEPTED"` or `"DECLINED"`.
    pub fn as_str(self) -> &'static str {
        match self {
            AcceptanceState::Pending => "PENDING",
            AcceptanceState::Accepted => "ACCEPTED",
            AcceptanceState::Declined => "DECLINED",
        }
    }

    /// The state a stored name stands for.
    pub(crate) fn parse(name: &str) -> Option<AcceptanceState> {
        match name {
            "PENDING" => Some(AcceptanceState::Pending),
            "ACCEPTED" => Some(AcceptanceState::Accepted),
            "DECLINED" => Some(AcceptanceState::Declined),
            _ => None,
        }
    }
}

impl fmt::Display for AcceptanceState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What [`Store::claim_acceptance`](crate::Store::claim_acceptance) inserts:
/// an acceptance of one offer under the tenant's idempotency key.
#[derive(Clone, PartialEq, Eq)]
pub struct AcceptanceClaim {
    /// Caller-generated id, unique across tenants; also the partner's
    /// idempotency key is derived from it.
    pub acceptance_id: String,
    /// The tenant (API client).
    pub tenant: String,
    /// The caller's idempotency key; one acceptance per (tenant, key).
    pub idempotency_key: String,
    /// The offer accepted; must be an offer of `tenant`.
    pub offer_id: String,
    /// The offer's application.
    pub application_id: String,
    /// The adapter that made the offer (and will be called).
    pub adapter_id: String,
    /// The partner's reference of the offer.
    pub partner_offer_ref: String,
    /// Pseudonymous applicant id.
    pub applicant_id: String,
    /// Hash of the request, to tell a retry from a different request with
    /// the same key; opaque to the store.
    pub fingerprint: Vec<u8>,
    /// Claim time, unix milliseconds; also when the relay may first try.
    pub now_ms: i64,
}

impl fmt::Debug for AcceptanceClaim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AcceptanceClaim")
            .field("acceptance_id", &self.acceptance_id)
            .field("tenant", &self.tenant)
            .field("idempotency_key", &self.idempotency_key)
            .field("offer_id", &self.offer_id)
            .field("application_id", &self.application_id)
            .field("adapter_id", &self.adapter_id)
            .field("partner_offer_ref", &self.partner_offer_ref)
            .field("applicant_id", &self.applicant_id)
            .field("fingerprint", &BlobLen(&self.fingerprint))
            .field("now_ms", &self.now_ms)
            .finish()
    }
}

/// An acceptance as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct AcceptanceRecord {
    /// Caller-generated id.
    pub acceptance_id: String,
    /// Owning tenant.
    pub tenant: String,
    /// The idempotency key it was claimed under.
    pub idempotency_key: String,
    /// The offer accepted.
    pub offer_id: String,
    /// The offer's application.
    pub application_id: String,
    /// The adapter called.
    pub adapter_id: String,
    /// The partner's reference of the offer.
    pub partner_offer_ref: String,
    /// Pseudonymous applicant id.
    pub applicant_id: String,
    /// Hash of the claiming request.
    pub fingerprint: Vec<u8>,
    /// PENDING until the partner's answer is stored.
    pub status: AcceptanceState,
    /// The partner's reference of the acceptance; empty while PENDING.
    pub partner_reference: String,
    /// The partner's detail text; empty while PENDING.
    pub detail: String,
    /// Leases taken so far (attempts to call the partner).
    pub attempts: i32,
    /// Claim time, unix milliseconds.
    pub created_at_ms: i64,
    /// When the final answer was stored; `None` while PENDING.
    pub completed_at_ms: Option<i64>,
}

impl fmt::Debug for AcceptanceRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AcceptanceRecord")
            .field("acceptance_id", &self.acceptance_id)
            .field("tenant", &self.tenant)
            .field("idempotency_key", &self.idempotency_key)
            .field("offer_id", &self.offer_id)
            .field("application_id", &self.application_id)
            .field("adapter_id", &self.adapter_id)
            .field("partner_offer_ref", &self.partner_offer_ref)
            .field("applicant_id", &self.applicant_id)
            .field("fingerprint", &BlobLen(&self.fingerprint))
            .field("status", &self.status)
            .field("partner_reference", &self.partner_reference)
            .field("detail", &TextLen(&self.detail))
            .field("attempts", &self.attempts)
            .field("created_at_ms", &self.created_at_ms)
            .field("completed_at_ms", &self.completed_at_ms)
            .finish()
    }
}

/// What [`Store::claim_acceptance`](crate::Store::claim_acceptance) found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimOutcome {
    /// The claim was stored (with its outbox row): this caller drives it.
    Created(AcceptanceRecord),
    /// The tenant already used this idempotency key: its acceptance, which
    /// may name another offer (compare the offer and fingerprint).
    Existing(AcceptanceRecord),
    /// Another key holds a live (PENDING or ACCEPTED) acceptance of this
    /// offer: that acceptance.
    OfferTaken(AcceptanceRecord),
}

/// Outcomes of one (adapter, product kind, risk band), for the
/// approval-odds model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutcomeCount {
    /// The adapter.
    pub adapter_id: String,
    /// The offer's product kind.
    pub product_kind: String,
    /// The offer's risk band ('' for offers recorded without one).
    pub risk_band: String,
    /// Acceptances the partner accepted.
    pub accepted: u64,
    /// Acceptances the partner declined.
    pub declined: u64,
}

/// One final acceptance with what its odds were made from (no personal data).
#[derive(Debug, Clone, PartialEq)]
pub struct OutcomeRecord {
    /// The adapter.
    pub adapter_id: String,
    /// The offer's risk band.
    pub risk_band: String,
    /// ACCEPTED by the partner (else DECLINED).
    pub accepted: bool,
    /// The odds model's feature prior when the offer was shown.
    pub prior_odds: f64,
    /// The partner's own estimate, if it sent one.
    pub partner_odds: Option<f64>,
}

/// `Debug` for free text: its length in characters only.
pub(crate) struct TextLen<'a>(pub(crate) &'a str);

impl fmt::Debug for TextLen<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{} chars>", self.0.chars().count())
    }
}

/// The columns of an [`AcceptanceRecord`], as [`acceptance`] decodes them,
/// from [`ACCEPTANCE_FROM`]. The attempt count lives in the outbox row while
/// there is one (leases touch only the outbox) and is copied to the
/// acceptance when it completes.
pub(crate) const ACCEPTANCE_COLUMNS: &str = "a.acceptance_id, a.tenant, a.idempotency_key, \
    a.offer_id, a.application_id, a.adapter_id, a.partner_offer_ref, a.applicant_id, \
    a.fingerprint, a.status, a.partner_reference, a.detail, COALESCE(o.attempts, a.attempts), \
    a.created_at_ms, a.completed_at_ms";

/// What [`ACCEPTANCE_COLUMNS`] are read from.
pub(crate) const ACCEPTANCE_FROM: &str =
    "acceptances a LEFT JOIN acceptance_outbox o ON o.acceptance_id = a.acceptance_id";

/// The acceptance read followed by `tail` (a `WHERE`, and an order).
fn select_acceptance(tail: &str) -> String {
    select(ACCEPTANCE_COLUMNS, ACCEPTANCE_FROM, tail)
}

/// `$1` acceptance_id, `$2` tenant.
pub(crate) static GET_ACCEPTANCE: LazyLock<String> =
    LazyLock::new(|| select_acceptance("WHERE a.acceptance_id = $1 AND a.tenant = $2"));

/// `$1` acceptance_id (any tenant: for the relay, which works by id).
pub(crate) static ACCEPTANCE_BY_ID: LazyLock<String> =
    LazyLock::new(|| select_acceptance("WHERE a.acceptance_id = $1"));

/// PostgreSQL only (SQLite has no arrays): `$1` text[] of acceptance ids.
pub(crate) static ACCEPTANCES_BY_IDS: LazyLock<String> =
    LazyLock::new(|| select_acceptance("WHERE a.acceptance_id = ANY($1::text[])"));

/// `$1` tenant, `$2` idempotency_key.
pub(crate) static FIND_ACCEPTANCE_BY_KEY: LazyLock<String> =
    LazyLock::new(|| select_acceptance("WHERE a.tenant = $1 AND a.idempotency_key = $2"));

/// `$1` offer_id, `$2` tenant. The status term matches the partial unique
/// index, so there is at most one row.
pub(crate) static LIVE_ACCEPTANCE_OF_OFFER: LazyLock<String> = LazyLock::new(|| {
    select_acceptance(
        "WHERE a.offer_id = $1 AND a.tenant = $2 AND a.status IN ('PENDING', 'ACCEPTED')",
    )
});

/// `$1` application_id, `$2` tenant; oldest first.
pub(crate) static ACCEPTANCES_OF_APPLICATION: LazyLock<String> = LazyLock::new(|| {
    select_acceptance(
        "WHERE a.application_id = $1 AND a.tenant = $2 ORDER BY a.created_at_ms, a.acceptance_id",
    )
});

/// Transaction 1, first statement. `$1` acceptance_id, `$2` tenant, `$3`
/// idempotency_key, `$4` offer_id, `$5` application_id, `$6` adapter_id,
/// `$7` partner_offer_ref, `$8` applicant_id, `$9` fingerprint, `$10`
/// created_at_ms. Inserts nothing (and returns no row) when the offer is
/// not the tenant's or a unique constraint (key, live offer, id) holds
/// another row; on PostgreSQL it first waits for a concurrent insert of
/// the same key or offer to commit or roll back. The `WHERE` also keeps
/// SQLite's parser from reading `ON CONFLICT` as a join constraint.
pub(crate) const INSERT_ACCEPTANCE: &str = "\
    INSERT INTO acceptances (acceptance_id, tenant, idempotency_key, offer_id, application_id, \
                             adapter_id, partner_offer_ref, applicant_id, fingerprint, status, \
                             created_at_ms) \
    SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, 'PENDING', $10 \
    FROM offers WHERE offer_id = $4 AND tenant = $2 \
    ON CONFLICT DO NOTHING \
    RETURNING acceptance_id";

/// `$1` acceptance_id, `$2` next_attempt_ms.
pub(crate) const INSERT_OUTBOX: &str =
    "INSERT INTO acceptance_outbox (acceptance_id, next_attempt_ms) VALUES ($1, $2)";

/// `$1` offer_id, `$2` tenant.
pub(crate) const OFFER_EXISTS: &str = "SELECT 1 FROM offers WHERE offer_id = $1 AND tenant = $2";

/// `$1` acceptance_id, `$2` owner, `$3` now_ms, `$4` lease_until_ms. Leases
/// the row unless another owner holds an unexpired lease.
pub(crate) const LEASE_ONE: &str = "\
    UPDATE acceptance_outbox \
    SET lease_owner = $2, lease_until_ms = $4, attempts = attempts + 1 \
    WHERE acceptance_id = $1 AND (lease_until_ms <= $3 OR lease_owner = $2)";

/// SQLite: `$1` owner, `$2` now_ms, `$3` lease_until_ms, `$4` limit. The
/// whole statement runs under `BEGIN IMMEDIATE`, so no other writer
/// interleaves.
pub(crate) const SQLITE_LEASE_DUE: &str = "\
    UPDATE acceptance_outbox \
    SET lease_owner = $1, lease_until_ms = $3, attempts = attempts + 1 \
    WHERE acceptance_id IN ( \
        SELECT acceptance_id FROM acceptance_outbox \
        WHERE next_attempt_ms <= $2 AND lease_until_ms <= $2 \
        ORDER BY next_attempt_ms, acceptance_id LIMIT $4) \
    RETURNING acceptance_id, next_attempt_ms";

/// PostgreSQL: the same, the due rows locked with `SKIP LOCKED` so that two
/// replicas leasing at once take disjoint rows (a row another transaction
/// is leasing or completing is skipped, not waited for; a row leased since
/// this statement's snapshot is re-checked against the condition).
pub(crate) const PG_LEASE_DUE: &str = "\
    WITH due AS ( \
        SELECT acceptance_id FROM acceptance_outbox \
        WHERE next_attempt_ms <= $2 AND lease_until_ms <= $2 \
        ORDER BY next_attempt_ms, acceptance_id LIMIT $4 \
        FOR UPDATE SKIP LOCKED) \
    UPDATE acceptance_outbox o \
    SET lease_owner = $1, lease_until_ms = $3, attempts = o.attempts + 1 \
    FROM due WHERE o.acceptance_id = due.acceptance_id \
    RETURNING o.acceptance_id, o.next_attempt_ms";

/// `$1` acceptance_id, `$2` owner, `$3` next_attempt_ms, `$4` last_error.
pub(crate) const RELEASE: &str = "\
    UPDATE acceptance_outbox \
    SET lease_owner = '', lease_until_ms = 0, next_attempt_ms = $3, last_error = $4 \
    WHERE acceptance_id = $1 AND lease_owner = $2";

/// Transaction 2, first statement (the outbox row is locked before the
/// acceptance, in the order leases lock them). `$1` acceptance_id.
pub(crate) const DELETE_OUTBOX: &str =
    "DELETE FROM acceptance_outbox WHERE acceptance_id = $1 RETURNING attempts";

/// `$1` acceptance_id, `$2` status, `$3` partner_reference, `$4` detail,
/// `$5` completed_at_ms, `$6` attempts (NULL: keep). Only a PENDING row
/// changes; on PostgreSQL a concurrent completion is waited for and the
/// condition re-checked.
pub(crate) const COMPLETE: &str = "\
    UPDATE acceptances \
    SET status = $2, partner_reference = $3, detail = $4, completed_at_ms = $5, \
        attempts = COALESCE($6, attempts) \
    WHERE acceptance_id = $1 AND status = 'PENDING'";

/// `$1` acceptance_id: its outcome, from the (just completed) acceptance
/// and its offer.
pub(crate) const INSERT_OUTCOME: &str = "\
    INSERT INTO acceptance_outcomes (acceptance_id, tenant, adapter_id, product_kind, risk_band, \
                                     status, decided_at_ms, prior_odds, partner_odds) \
    SELECT a.acceptance_id, a.tenant, a.adapter_id, f.product_kind, f.risk_band, a.status, \
           a.completed_at_ms, f.prior_odds, f.partner_odds \
    FROM acceptances a JOIN offers f ON f.offer_id = a.offer_id AND f.tenant = a.tenant \
    WHERE a.acceptance_id = $1";

/// Outbox rows remaining.
pub(crate) const COUNT_OUTBOX: &str = "SELECT COUNT(*) FROM acceptance_outbox";

/// Outcome counts, grouped and ordered.
/// An outcome's truth for the odds model: the partner's final credit
/// decision when it reported one (FUNDED: approved; DECLINED_AFTER_REVIEW:
/// declined, whatever Accept said), else the status Accept returned.
macro_rules! final_status {
    () => {
        "CASE WHEN credit_decision = 'FUNDED' THEN 'ACCEPTED' \
              WHEN credit_decision = 'DECLINED_AFTER_REVIEW' THEN 'DECLINED' \
              ELSE status END"
    };
}

pub(crate) const OUTCOME_COUNTS: &str = concat!(
    "SELECT adapter_id, product_kind, risk_band, \
            SUM(CASE WHEN final_status = 'ACCEPTED' THEN 1 ELSE 0 END), \
            SUM(CASE WHEN final_status = 'DECLINED' THEN 1 ELSE 0 END) \
     FROM (SELECT adapter_id, product_kind, risk_band, ",
    final_status!(),
    " AS final_status FROM acceptance_outcomes) outcomes \
     GROUP BY adapter_id, product_kind, risk_band \
     ORDER BY adapter_id, product_kind, risk_band"
);

/// Each adapter's newest `$1` outcomes that carry the odds inputs, newest
/// first within each adapter; the status is the final credit decision when
/// the partner reported one.
pub(crate) const RECENT_OUTCOMES: &str = concat!(
    "SELECT adapter_id, risk_band, final_status, prior_odds, partner_odds FROM ( \
        SELECT adapter_id, risk_band, ",
    final_status!(),
    " AS final_status, prior_odds, partner_odds, \
               ROW_NUMBER() OVER (PARTITION BY adapter_id \
                                  ORDER BY decided_at_ms DESC, acceptance_id DESC) AS age \
        FROM acceptance_outcomes WHERE prior_odds IS NOT NULL) recent \
    WHERE age <= $1 \
    ORDER BY adapter_id, age"
);

/// A decoding error naming the column and the problem, never the value.
pub(crate) fn bad_column(column: &str, what: &'static str) -> sqlx::Error {
    sqlx::Error::ColumnDecode {
        index: column.to_owned(),
        source: what.into(),
    }
}

/// Decodes a row of [`ACCEPTANCE_COLUMNS`].
pub(crate) fn acceptance<R>(row: &R) -> Result<AcceptanceRecord, sqlx::Error>
where
    R: Row,
    usize: ColumnIndex<R>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> Vec<u8>: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i32: Decode<'r, R::Database> + Type<R::Database>,
{
    let status: String = row.try_get(9)?;
    Ok(AcceptanceRecord {
        acceptance_id: row.try_get(0)?,
        tenant: row.try_get(1)?,
        idempotency_key: row.try_get(2)?,
        offer_id: row.try_get(3)?,
        application_id: row.try_get(4)?,
        adapter_id: row.try_get(5)?,
        partner_offer_ref: row.try_get(6)?,
        applicant_id: row.try_get(7)?,
        fingerprint: row.try_get(8)?,
        status: AcceptanceState::parse(&status)
            .ok_or_else(|| bad_column("status", "unknown acceptance status"))?,
        partner_reference: row.try_get(10)?,
        detail: row.try_get(11)?,
        attempts: row.try_get(12)?,
        created_at_ms: row.try_get(13)?,
        completed_at_ms: row.try_get(14)?,
    })
}

/// Decodes a row of [`OUTCOME_COUNTS`].
pub(crate) fn outcome_count<R>(row: &R) -> Result<OutcomeCount, sqlx::Error>
where
    R: Row,
    usize: ColumnIndex<R>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
{
    let count = |i: usize, name: &str| -> Result<u64, sqlx::Error> {
        let n: i64 = row.try_get(i)?;
        u64::try_from(n).map_err(|_| bad_column(name, "negative count"))
    };
    Ok(OutcomeCount {
        adapter_id: row.try_get(0)?,
        product_kind: row.try_get(1)?,
        risk_band: row.try_get(2)?,
        accepted: count(3, "accepted")?,
        declined: count(4, "declined")?,
    })
}

/// Decodes a row of [`RECENT_OUTCOMES`].
pub(crate) fn outcome_record<R>(row: &R) -> Result<OutcomeRecord, sqlx::Error>
where
    R: Row,
    usize: ColumnIndex<R>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> f64: Decode<'r, R::Database> + Type<R::Database>,
{
    let status: String = row.try_get(2)?;
    let accepted = match status.as_str() {
        "ACCEPTED" => true,
        "DECLINED" => false,
        _ => return Err(bad_column("status", "unknown outcome status")),
    };
    Ok(OutcomeRecord {
        adapter_id: row.try_get(0)?,
        risk_band: row.try_get(1)?,
        accepted,
        prior_odds: row.try_get(3)?,
        partner_odds: row.try_get::<Option<f64>, _>(4)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_round_trip() {
        for s in [
            AcceptanceState::Pending,
            AcceptanceState::Accepted,
            AcceptanceState::Declined,
        ] {
            assert_eq!(AcceptanceState::parse(s.as_str()), Some(s));
        }
        assert_eq!(AcceptanceState::parse("pending"), None);
    }

    #[test]
    fn debug_hides_fingerprint_and_detail() {
        let r = AcceptanceRecord {
            acceptance_id: "acc".into(),
            tenant: "t".into(),
            idempotency_key: "k".into(),
            offer_id: "o".into(),
            application_id: "a".into(),
            adapter_id: "ad".into(),
            partner_offer_ref: "ref".into(),
            applicant_id: "p".into(),
            fingerprint: vec![0xAB; 32],
            status: AcceptanceState::Declined,
            partner_reference: String::new(),
            detail: "secret partner text".into(),
            attempts: 1,
            created_at_ms: 1,
            completed_at_ms: Some(2),
        };
        let text = format!("{r:?}");
        assert!(text.contains("<32 bytes>"), "{text}");
        assert!(text.contains("<19 chars>"), "{text}");
        assert!(!text.contains("secret"), "{text}");
        assert!(!text.contains("171"), "{text}");
    }
}
