//! Appeals of a decision on an application, and their history
//! (`FileAppeal`, `GetAppeal`, ReviewService's `ListAppeals` and
//! `ResolveAppeal`).
//!
//! An appeal moves OPEN -> IN_REVIEW -> UPHELD | OVERTURNED (or straight
//! from OPEN to a decision); every move is one conditional `UPDATE`, so two
//! operators racing get one success and one "already resolved", and each
//! move appends an event in the same transaction.
//!
//! `details` (the applicant's own words) and operators' notes are free text
//! that may hold personal data: `Debug` prints their lengths only.

use std::fmt;
use std::sync::LazyLock;

use sqlx::{ColumnIndex, Decode, Row, Type};

use crate::acceptance::{TextLen, bad_column};
use crate::read::select;

/// Where an appeal stands. Stored as `OPEN`, `IN_REVIEW`, `UPHELD`,
/// `OVERTURNED`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AppealState {
    /// Filed, not yet looked at.
    Open,
    /// An operator is reviewing it.
    InReview,
    /// Decided: the original decision stands (final).
    Upheld,
    /// Decided: the original decision is reversed (final).
    Overturned,
}

impl AppealState {
    /// The stored name: `"OPEN"`, `"IN_REVIEW"`, `"UPHELD"` or `"OVERTURNED"`.
    pub fn as_str(self) -> &'static str {
        match self {
            AppealState::Open => "OPEN",
            AppealState::InReview => "IN_REVIEW",
            AppealState::Upheld => "UPHELD",
            AppealState::Overturned => "OVERTURNED",
        }
    }

    /// Whether this is a decision (UPHELD or OVERTURNED).
    pub fn is_final(self) -> bool {
        matches!(self, AppealState::Upheld | AppealState::Overturned)
    }

    /// The state a stored name stands for.
    pub(crate) fn parse(name: &str) -> Option<AppealState> {
        match name {
            "OPEN" => Some(AppealState::Open),
            "IN_REVIEW" => Some(AppealState::InReview),
            "UPHELD" => Some(AppealState::Upheld),
            "OVERTURNED" => Some(AppealState::Overturned),
            _ => None,
        }
    }
}

impl fmt::Display for AppealState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An appeal to file ([`Store::file_appeal`](crate::Store::file_appeal)).
#[derive(Clone, PartialEq, Eq)]
pub struct NewAppeal {
    /// Caller-generated id, unique across tenants.
    pub appeal_id: String,
    /// The tenant; the application must be this tenant's.
    pub tenant: String,
    /// The application appealed.
    pub application_id: String,
    /// The channel whose decision is appealed; '' = the primary line.
    pub adapter_id: String,
    /// The reason, as its enum name (e.g. `"INCOME_CHANGED"`).
    pub reason: String,
    /// The applicant's explanation (free text).
    pub details: String,
    /// Filing time, unix milliseconds.
    pub now_ms: i64,
}

impl fmt::Debug for NewAppeal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewAppeal")
            .field("appeal_id", &self.appeal_id)
            .field("tenant", &self.tenant)
            .field("application_id", &self.application_id)
            .field("adapter_id", &self.adapter_id)
            .field("reason", &self.reason)
            .field("details", &TextLen(&self.details))
            .field("now_ms", &self.now_ms)
            .finish()
    }
}

/// An appeal as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct AppealRecord {
    /// Caller-generated id.
    pub appeal_id: String,
    /// Owning tenant.
    pub tenant: String,
    /// The application appealed.
    pub application_id: String,
    /// The channel appealed; '' = the primary line.
    pub adapter_id: String,
    /// The reason's enum name.
    pub reason: String,
    /// The applicant's explanation (free text; never logged).
    pub details: String,
    /// Current state.
    pub status: AppealState,
    /// Filing time, unix milliseconds.
    pub filed_at_ms: i64,
    /// When it was decided; `None` until UPHELD or OVERTURNED.
    pub resolved_at_ms: Option<i64>,
    /// The deciding operator's note; empty until decided.
    pub resolution_note: String,
}

impl fmt::Debug for AppealRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppealRecord")
            .field("appeal_id", &self.appeal_id)
            .field("tenant", &self.tenant)
            .field("application_id", &self.application_id)
            .field("adapter_id", &self.adapter_id)
            .field("reason", &self.reason)
            .field("details", &TextLen(&self.details))
            .field("status", &self.status)
            .field("filed_at_ms", &self.filed_at_ms)
            .field("resolved_at_ms", &self.resolved_at_ms)
            .field("resolution_note", &TextLen(&self.resolution_note))
            .finish()
    }
}

/// One step of an appeal's history.
#[derive(Clone, PartialEq, Eq)]
pub struct AppealEvent {
    /// The state entered.
    pub status: AppealState,
    /// When, unix milliseconds.
    pub at_ms: i64,
    /// The operator's note ('' on filing).
    pub note: String,
}

impl fmt::Debug for AppealEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppealEvent")
            .field("status", &self.status)
            .field("at_ms", &self.at_ms)
            .field("note", &TextLen(&self.note))
            .finish()
    }
}

/// Where a page of [`Store::list_appeals`](crate::Store::list_appeals)
/// ended: the last appeal returned. The next page starts strictly after it
/// in (filed_at_ms, appeal_id) order.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AppealCursor {
    /// Filing time of the last appeal returned.
    pub filed_at_ms: i64,
    /// Its id.
    pub appeal_id: String,
}

/// What a state change of an appeal found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResolveOutcome {
    /// The change was made: the appeal as it is now.
    Resolved(AppealRecord),
    /// The appeal was not in a state that allows the change (already
    /// decided, or already in review): it is unchanged, as stored.
    AlreadyResolved(AppealRecord),
    /// No such appeal for this tenant.
    NotFound,
}

/// `$1` appeal_id, `$2` tenant, `$3` application_id, `$4` adapter_id, `$5`
/// reason, `$6` details, `$7` filed_at_ms. Inserts nothing when the
/// application is not the tenant's.
pub(crate) const INSERT_APPEAL: &str = "\
    INSERT INTO appeals (appeal_id, tenant, application_id, adapter_id, reason, details, status, \
                         filed_at_ms) \
    SELECT $1, $2, $3, $4, $5, $6, 'OPEN', $7 \
    FROM applications WHERE application_id = $3 AND tenant = $2";

/// `$1` appeal_id, `$2` status, `$3` at_ms, `$4` note. Events of one appeal
/// are numbered 1, 2, ...; callers insert only after changing the appeal
/// row in the same transaction (which serialises them per appeal).
pub(crate) const INSERT_APPEAL_EVENT: &str = "\
    INSERT INTO appeal_events (appeal_id, seq, status, at_ms, note) \
    SELECT $1, COALESCE(MAX(seq), 0) + 1, $2, $3, $4 \
    FROM appeal_events WHERE appeal_id = $1";

/// The columns of an [`AppealRecord`], as [`appeal`] decodes them.
pub(crate) const APPEAL_COLUMNS: &str = "appeal_id, tenant, application_id, adapter_id, reason, \
    details, status, filed_at_ms, resolved_at_ms, resolution_note";

/// The appeal read followed by `tail` (a `WHERE`, an order, a limit).
fn select_appeal(tail: &str) -> String {
    select(APPEAL_COLUMNS, "appeals", tail)
}

/// `$1` appeal_id, `$2` tenant.
pub(crate) static GET_APPEAL: LazyLock<String> =
    LazyLock::new(|| select_appeal("WHERE appeal_id = $1 AND tenant = $2"));

/// `$1` application_id, `$2` tenant; oldest first.
pub(crate) static APPEALS_OF_APPLICATION: LazyLock<String> = LazyLock::new(|| {
    select_appeal("WHERE application_id = $1 AND tenant = $2 ORDER BY filed_at_ms, appeal_id")
});

/// `$1` tenant, `$2` limit. Uses `appeals_tenant_filed_idx`.
pub(crate) static LIST_APPEALS: LazyLock<String> =
    LazyLock::new(|| select_appeal("WHERE tenant = $1 ORDER BY filed_at_ms, appeal_id LIMIT $2"));

/// `$1` tenant, `$2` limit, `$3` filed_at_ms, `$4` appeal_id of the cursor.
pub(crate) static LIST_APPEALS_AFTER: LazyLock<String> = LazyLock::new(|| {
    select_appeal(
        "WHERE tenant = $1 AND (filed_at_ms, appeal_id) > ($3, $4) \
         ORDER BY filed_at_ms, appeal_id LIMIT $2",
    )
});

/// `$1` tenant, `$2` limit, `$3` status. Uses
/// `appeals_tenant_status_filed_idx`.
pub(crate) static LIST_APPEALS_IN: LazyLock<String> = LazyLock::new(|| {
    select_appeal("WHERE tenant = $1 AND status = $3 ORDER BY filed_at_ms, appeal_id LIMIT $2")
});

/// `$1` tenant, `$2` limit, `$3` status, `$4` filed_at_ms, `$5` appeal_id
/// of the cursor.
pub(crate) static LIST_APPEALS_IN_AFTER: LazyLock<String> = LazyLock::new(|| {
    select_appeal(
        "WHERE tenant = $1 AND status = $3 AND (filed_at_ms, appeal_id) > ($4, $5) \
         ORDER BY filed_at_ms, appeal_id LIMIT $2",
    )
});

/// `$1` appeal_id, `$2` tenant. OPEN -> IN_REVIEW only.
pub(crate) const START_REVIEW: &str = "\
    UPDATE appeals SET status = 'IN_REVIEW' \
    WHERE appeal_id = $1 AND tenant = $2 AND status = 'OPEN'";

/// `$1` appeal_id, `$2` tenant, `$3` decision, `$4` resolved_at_ms, `$5`
/// note. From OPEN or IN_REVIEW only; on PostgreSQL a concurrent change is
/// waited for and the condition re-checked against it.
pub(crate) const RESOLVE: &str = "\
    UPDATE appeals SET status = $3, resolved_at_ms = $4, resolution_note = $5 \
    WHERE appeal_id = $1 AND tenant = $2 AND status IN ('OPEN', 'IN_REVIEW')";

/// `$1` appeal_id, `$2` tenant; in order.
pub(crate) const APPEAL_HISTORY: &str = "\
    SELECT e.status, e.at_ms, e.note \
    FROM appeal_events e JOIN appeals a ON a.appeal_id = e.appeal_id \
    WHERE e.appeal_id = $1 AND a.tenant = $2 \
    ORDER BY e.seq";

fn state(name: &str) -> Result<AppealState, sqlx::Error> {
    AppealState::parse(name).ok_or_else(|| bad_column("status", "unknown appeal status"))
}

/// Decodes a row of [`APPEAL_COLUMNS`].
pub(crate) fn appeal<R>(row: &R) -> Result<AppealRecord, sqlx::Error>
where
    R: Row,
    usize: ColumnIndex<R>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
{
    let status: String = row.try_get(6)?;
    Ok(AppealRecord {
        appeal_id: row.try_get(0)?,
        tenant: row.try_get(1)?,
        application_id: row.try_get(2)?,
        adapter_id: row.try_get(3)?,
        reason: row.try_get(4)?,
        details: row.try_get(5)?,
        status: state(&status)?,
        filed_at_ms: row.try_get(7)?,
        resolved_at_ms: row.try_get(8)?,
        resolution_note: row.try_get(9)?,
    })
}

/// Decodes a row of [`APPEAL_HISTORY`].
pub(crate) fn event<R>(row: &R) -> Result<AppealEvent, sqlx::Error>
where
    R: Row,
    usize: ColumnIndex<R>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
{
    let status: String = row.try_get(0)?;
    Ok(AppealEvent {
        status: state(&status)?,
        at_ms: row.try_get(1)?,
        note: row.try_get(2)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_round_trip() {
        for s in [
            AppealState::Open,
            AppealState::InReview,
            AppealState::Upheld,
            AppealState::Overturned,
        ] {
            assert_eq!(AppealState::parse(s.as_str()), Some(s));
            assert_eq!(s.is_final(), matches!(s.as_str(), "UPHELD" | "OVERTURNED"));
        }
        assert_eq!(AppealState::parse("open"), None);
    }

    #[test]
    fn debug_prints_free_text_lengths_only() {
        let a = AppealRecord {
            appeal_id: "apl".into(),
            tenant: "t".into(),
            application_id: "app".into(),
            adapter_id: String::new(),
            reason: "INCOME_CHANGED".into(),
            details: "my new salary is 12345".into(),
            status: AppealState::Upheld,
            filed_at_ms: 1,
            resolved_at_ms: Some(2),
            resolution_note: "called the applicant at 555".into(),
        };
        let text = format!("{a:?}");
        assert!(text.contains("<22 chars>"), "{text}");
        assert!(!text.contains("12345"), "{text}");
        assert!(!text.contains("555"), "{text}");
        let new = NewAppeal {
            appeal_id: "apl".into(),
            tenant: "t".into(),
            application_id: "app".into(),
            adapter_id: String::new(),
            reason: "OTHER".into(),
            details: "my new salary is 12345".into(),
            now_ms: 1,
        };
        assert!(!format!("{new:?}").contains("12345"));
    }
}
