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
    /// The key id of the caller that filed it ('' = unknown).
    pub filed_by: String,
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
            .field("filed_by", &self.filed_by)
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
    /// The key id that filed the appeal ('' = filed before it was kept).
    pub filed_by: String,
    /// The operator key id holding the appeal ('' = unclaimed). A claim
    /// older than the lapse time counts as unclaimed
    /// ([`AppealRecord::holder`]).
    pub assignee: String,
    /// When the current claim was made; `None` when unclaimed.
    pub claimed_at_ms: Option<i64>,
    /// A proposed decision awaiting a second operator's approval.
    pub pending_decision: Option<AppealState>,
    /// Who proposed it ('' = no proposal).
    pub proposed_by: String,
    /// The proposal's reason code ('' = no proposal).
    pub pending_reason_code: String,
    /// The proposal's note (free text; never logged).
    pub pending_note: String,
    /// The decision's reason code ('' until decided).
    pub resolution_reason_code: String,
    /// The operator key id that made the decision final ('' until then).
    pub resolved_by: String,
}

impl AppealRecord {
    /// The operator holding a live claim at `now_ms` (a claim lapses
    /// `lapse_ms` after it was made), if any.
    pub fn holder(&self, now_ms: i64, lapse_ms: i64) -> Option<&str> {
        let at = self.claimed_at_ms?;
        (!self.assignee.is_empty() && now_ms < at.saturating_add(lapse_ms))
            .then_some(self.assignee.as_str())
    }
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
            .field("filed_by", &self.filed_by)
            .field("assignee", &self.assignee)
            .field("claimed_at_ms", &self.claimed_at_ms)
            .field("pending_decision", &self.pending_decision)
            .field("proposed_by", &self.proposed_by)
            .field("pending_reason_code", &self.pending_reason_code)
            .field("pending_note", &TextLen(&self.pending_note))
            .field("resolution_reason_code", &self.resolution_reason_code)
            .field("resolved_by", &self.resolved_by)
            .finish()
    }
}

/// What an event of an appeal's audit trail records. Stored by
/// [`AppealEventKind::as_str`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AppealEventKind {
    /// The appeal was filed (actor: the filing key).
    Filed,
    /// OPEN -> IN_REVIEW without a claim ([`Store::start_review`](crate::Store::start_review)).
    ReviewStarted,
    /// An operator claimed the appeal.
    Claimed,
    /// The holder released the claim.
    Released,
    /// A claim ran out (actor: the operator whose claim lapsed); recorded
    /// when the appeal is next claimed or decided.
    Lapsed,
    /// An operator proposed a decision that needs a second operator.
    Proposed,
    /// A second operator approved the proposal (the decision is final).
    Approved,
    /// A second operator rejected the proposal (the appeal stays in review).
    Rejected,
    /// An operator decided the appeal (final).
    Resolved,
}

impl AppealEventKind {
    /// The stored name, e.g. `"CLAIMED"`.
    pub fn as_str(self) -> &'static str {
        match self {
            AppealEventKind::Filed => "FILED",
            AppealEventKind::ReviewStarted => "REVIEW_STARTED",
            AppealEventKind::Claimed => "CLAIMED",
            AppealEventKind::Released => "RELEASED",
            AppealEventKind::Lapsed => "LAPSED",
            AppealEventKind::Proposed => "PROPOSED",
            AppealEventKind::Approved => "APPROVED",
            AppealEventKind::Rejected => "REJECTED",
            AppealEventKind::Resolved => "RESOLVED",
        }
    }

    const ALL: [AppealEventKind; 9] = [
        AppealEventKind::Filed,
        AppealEventKind::ReviewStarted,
        AppealEventKind::Claimed,
        AppealEventKind::Released,
        AppealEventKind::Lapsed,
        AppealEventKind::Proposed,
        AppealEventKind::Approved,
        AppealEventKind::Rejected,
        AppealEventKind::Resolved,
    ];

    pub(crate) fn parse(name: &str) -> Option<AppealEventKind> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

/// One step of an appeal's history (its audit trail).
#[derive(Clone, PartialEq, Eq)]
pub struct AppealEvent {
    /// 1, 2, ... in order.
    pub seq: i64,
    /// What happened.
    pub kind: AppealEventKind,
    /// The state before (`None` on filing).
    pub from_status: Option<AppealState>,
    /// The state entered (or kept).
    pub status: AppealState,
    /// When, unix milliseconds.
    pub at_ms: i64,
    /// Who: the key id ('' for events written before key ids were kept).
    pub actor: String,
    /// The decision's reason code (proposals and decisions; else '').
    pub reason_code: String,
    /// The operator's note ('' on filing).
    pub note: String,
}

impl fmt::Debug for AppealEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppealEvent")
            .field("seq", &self.seq)
            .field("kind", &self.kind)
            .field("from_status", &self.from_status)
            .field("status", &self.status)
            .field("at_ms", &self.at_ms)
            .field("actor", &self.actor)
            .field("reason_code", &self.reason_code)
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
/// reason, `$6` details, `$7` filed_at_ms, `$8` filed_by. Inserts nothing
/// when the application is not the tenant's.
pub(crate) const INSERT_APPEAL: &str = "\
    INSERT INTO appeals (appeal_id, tenant, application_id, adapter_id, reason, details, status, \
                         filed_at_ms, filed_by) \
    SELECT $1, $2, $3, $4, $5, $6, 'OPEN', $7, $8 \
    FROM applications WHERE application_id = $3 AND tenant = $2";

/// `$1` appeal_id, `$2` status, `$3` at_ms, `$4` note, `$5` actor, `$6`
/// kind, `$7` from_status, `$8` reason_code. Events of one appeal are
/// numbered 1, 2, ...; callers insert only after changing the appeal row in
/// the same transaction (which serialises them per appeal). Events are
/// never updated or deleted (triggers refuse it).
pub(crate) const INSERT_APPEAL_EVENT: &str = "\
    INSERT INTO appeal_events (appeal_id, seq, status, at_ms, note, actor, kind, from_status, \
                               reason_code) \
    SELECT $1, COALESCE(MAX(seq), 0) + 1, $2, $3, $4, $5, $6, $7, $8 \
    FROM appeal_events WHERE appeal_id = $1";

/// The columns of an [`AppealRecord`], as [`appeal`] decodes them.
pub(crate) const APPEAL_COLUMNS: &str = "appeal_id, tenant, application_id, adapter_id, reason, \
    details, status, filed_at_ms, resolved_at_ms, resolution_note, filed_by, assignee, \
    claimed_at_ms, pending_decision, proposed_by, pending_reason_code, pending_note, \
    resolution_reason_code, resolved_by";

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

/// `$1` tenant, `$2` limit: the undecided appeals (OPEN, IN_REVIEW),
/// oldest first. Uses `appeals_tenant_status_filed_idx`.
pub(crate) static LIST_UNDECIDED: LazyLock<String> = LazyLock::new(|| {
    select_appeal(
        "WHERE tenant = $1 AND status IN ('OPEN', 'IN_REVIEW') \
         ORDER BY filed_at_ms, appeal_id LIMIT $2",
    )
});

/// `$1` appeal_id, `$2` tenant. Changes nothing; takes the row's write lock
/// (PostgreSQL) so a workflow step reads the appeal as no one else can
/// change it until it commits. SQLite's write transaction is exclusive
/// already.
pub(crate) const LOCK_APPEAL: &str =
    "UPDATE appeals SET status = status WHERE appeal_id = $1 AND tenant = $2";

/// `$1` appeal_id, `$2` tenant, `$3` status, `$4` assignee, `$5`
/// claimed_at_ms, `$6` pending_decision, `$7` proposed_by, `$8`
/// pending_reason_code, `$9` pending_note, `$10` resolved_at_ms, `$11`
/// resolution_note, `$12` resolution_reason_code, `$13` resolved_by. Run
/// only on a row locked by [`LOCK_APPEAL`] in the same transaction.
pub(crate) const WRITE_APPEAL_STEP: &str = "\
    UPDATE appeals SET status = $3, assignee = $4, claimed_at_ms = $5, pending_decision = $6, \
        proposed_by = $7, pending_reason_code = $8, pending_note = $9, resolved_at_ms = $10, \
        resolution_note = $11, resolution_reason_code = $12, resolved_by = $13 \
    WHERE appeal_id = $1 AND tenant = $2 AND status IN ('OPEN', 'IN_REVIEW')";

/// `$1` appeal_id, `$2` tenant; in order.
pub(crate) const APPEAL_HISTORY: &str = "\
    SELECT e.status, e.at_ms, e.note, CAST(e.seq AS BIGINT), e.kind, e.from_status, e.actor, e.reason_code \
    FROM appeal_events e JOIN appeals a ON a.appeal_id = e.appeal_id \
    WHERE e.appeal_id = $1 AND a.tenant = $2 \
    ORDER BY e.seq";

/// A step of the review workflow ([`Store::appeal_step`](crate::Store::appeal_step)),
/// taken by the operator `actor` (an API key id).
#[derive(Clone, PartialEq, Eq)]
pub enum AppealStep {
    /// Claim the appeal: it must be undecided and unclaimed, or its claim
    /// lapsed, or already the actor's (which renews it).
    Claim,
    /// Give up the actor's claim.
    Release,
    /// Decide (UPHELD or OVERTURNED) with a reason code and a note. With
    /// `needs_approval` the decision is only proposed, for another operator
    /// to approve or reject.
    Decide {
        /// UPHELD or OVERTURNED.
        decision: AppealState,
        /// A documented reason code (checked by the caller).
        reason_code: String,
        /// Free text (never logged).
        note: String,
        /// Four eyes: propose instead of deciding.
        needs_approval: bool,
    },
    /// Approve the pending proposal: it becomes the decision.
    Approve {
        /// Free text (never logged); may be empty.
        note: String,
    },
    /// Reject the pending proposal: the appeal stays in review.
    Reject {
        /// Free text (never logged).
        note: String,
    },
}

impl fmt::Debug for AppealStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AppealStep::Claim => f.write_str("Claim"),
            AppealStep::Release => f.write_str("Release"),
            AppealStep::Decide {
                decision,
                reason_code,
                note,
                needs_approval,
            } => f
                .debug_struct("Decide")
                .field("decision", decision)
                .field("reason_code", reason_code)
                .field("note", &TextLen(note))
                .field("needs_approval", needs_approval)
                .finish(),
            AppealStep::Approve { note } => f
                .debug_struct("Approve")
                .field("note", &TextLen(note))
                .finish(),
            AppealStep::Reject { note } => f
                .debug_struct("Reject")
                .field("note", &TextLen(note))
                .finish(),
        }
    }
}

/// Why a workflow step was refused. Names operators by key id only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepRefusal {
    /// The appeal is decided already.
    AlreadyDecided,
    /// Another operator holds a live claim: their key id.
    ClaimedByOther(String),
    /// Release: the actor holds no live claim on it.
    NotClaimedByYou,
    /// Decide: a proposal awaits approval; approve or reject it first.
    ProposalPending,
    /// Approve/Reject: there is no proposal.
    NoProposal,
    /// Four eyes: the filer, the proposer and the approver must be
    /// different keys; this actor already took part in that role.
    SameOperator(&'static str),
}

/// What [`Store::appeal_step`](crate::Store::appeal_step) found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepOutcome {
    /// Done: the appeal as it is now.
    Done(AppealRecord),
    /// Refused; the appeal is unchanged, as stored.
    Refused(StepRefusal, AppealRecord),
    /// No such appeal for this tenant.
    NotFound,
}

/// An event a step appends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NewEvent {
    pub(crate) kind: AppealEventKind,
    pub(crate) actor: String,
    pub(crate) from: AppealState,
    pub(crate) to: AppealState,
    pub(crate) reason_code: String,
    pub(crate) note: String,
}

/// What `step` by `actor` at `now_ms` does to `a` (claims lapse after
/// `lapse_ms`): the appeal after it and the events to append, or why not.
pub(crate) fn plan_step(
    a: &AppealRecord,
    step: &AppealStep,
    actor: &str,
    now_ms: i64,
    lapse_ms: i64,
) -> Result<(AppealRecord, Vec<NewEvent>), StepRefusal> {
    if a.status.is_final() {
        return Err(StepRefusal::AlreadyDecided);
    }
    let mut next = a.clone();
    let mut events = Vec::new();
    let event = |kind, actor: &str, from, to, reason_code: &str, note: &str| NewEvent {
        kind,
        actor: actor.to_owned(),
        from,
        to,
        reason_code: reason_code.to_owned(),
        note: note.to_owned(),
    };
    let holder = a.holder(now_ms, lapse_ms);
    // A claim that ran out, by someone else: recorded as lapsed before a
    // step that takes the appeal over.
    let lapsed = !a.assignee.is_empty() && holder.is_none() && a.assignee != actor;
    match step {
        AppealStep::Claim | AppealStep::Decide { .. } => {
            if let Some(h) = holder.filter(|h| *h != actor) {
                return Err(StepRefusal::ClaimedByOther(h.to_owned()));
            }
        }
        AppealStep::Release => {
            if holder != Some(actor) {
                return Err(StepRefusal::NotClaimedByYou);
            }
        }
        AppealStep::Approve { .. } | AppealStep::Reject { .. } => {
            if a.pending_decision.is_none() {
                return Err(StepRefusal::NoProposal);
            }
            if actor == a.proposed_by {
                return Err(StepRefusal::SameOperator("proposer"));
            }
            if actor == a.filed_by {
                return Err(StepRefusal::SameOperator("filer"));
            }
        }
    }
    let lapse_event = |events: &mut Vec<NewEvent>, next: &mut AppealRecord| {
        if lapsed {
            events.push(event(
                AppealEventKind::Lapsed,
                &a.assignee,
                a.status,
                a.status,
                "",
                "",
            ));
            next.assignee.clear();
            next.claimed_at_ms = None;
        }
    };
    match step {
        AppealStep::Claim => {
            lapse_event(&mut events, &mut next);
            next.status = AppealState::InReview;
            next.assignee = actor.to_owned();
            next.claimed_at_ms = Some(now_ms);
            events.push(event(
                AppealEventKind::Claimed,
                actor,
                a.status,
                AppealState::InReview,
                "",
                "",
            ));
        }
        AppealStep::Release => {
            next.assignee.clear();
            next.claimed_at_ms = None;
            events.push(event(
                AppealEventKind::Released,
                actor,
                a.status,
                a.status,
                "",
                "",
            ));
        }
        AppealStep::Decide {
            decision,
            reason_code,
            note,
            needs_approval,
        } => {
            if a.pending_decision.is_some() {
                return Err(StepRefusal::ProposalPending);
            }
            if *needs_approval && actor == a.filed_by {
                return Err(StepRefusal::SameOperator("filer"));
            }
            lapse_event(&mut events, &mut next);
            if *needs_approval {
                next.status = AppealState::InReview;
                next.pending_decision = Some(*decision);
                next.proposed_by = actor.to_owned();
                next.pending_reason_code = reason_code.clone();
                next.pending_note = note.clone();
                events.push(event(
                    AppealEventKind::Proposed,
                    actor,
                    a.status,
                    AppealState::InReview,
                    reason_code,
                    note,
                ));
            } else {
                next.status = *decision;
                next.resolved_at_ms = Some(now_ms);
                next.resolution_note = note.clone();
                next.resolution_reason_code = reason_code.clone();
                next.resolved_by = actor.to_owned();
                events.push(event(
                    AppealEventKind::Resolved,
                    actor,
                    a.status,
                    *decision,
                    reason_code,
                    note,
                ));
            }
        }
        AppealStep::Approve { note } => {
            let Some(decision) = a.pending_decision else {
                return Err(StepRefusal::NoProposal);
            };
            next.status = decision;
            next.resolved_at_ms = Some(now_ms);
            next.resolution_note = a.pending_note.clone();
            next.resolution_reason_code = a.pending_reason_code.clone();
            next.resolved_by = actor.to_owned();
            next.pending_decision = None;
            events.push(event(
                AppealEventKind::Approved,
                actor,
                a.status,
                decision,
                &a.pending_reason_code,
                note,
            ));
        }
        AppealStep::Reject { note } => {
            next.pending_decision = None;
            next.proposed_by.clear();
            next.pending_reason_code.clear();
            next.pending_note.clear();
            events.push(event(
                AppealEventKind::Rejected,
                actor,
                a.status,
                a.status,
                &a.pending_reason_code,
                note,
            ));
        }
    }
    Ok((next, events))
}

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
    let pending: String = row.try_get(13)?;
    let pending_decision = if pending.is_empty() {
        None
    } else {
        Some(state(&pending)?)
    };
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
        filed_by: row.try_get(10)?,
        assignee: row.try_get(11)?,
        claimed_at_ms: row.try_get(12)?,
        pending_decision,
        proposed_by: row.try_get(14)?,
        pending_reason_code: row.try_get(15)?,
        pending_note: row.try_get(16)?,
        resolution_reason_code: row.try_get(17)?,
        resolved_by: row.try_get(18)?,
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
    let kind: String = row.try_get(4)?;
    let from: String = row.try_get(5)?;
    Ok(AppealEvent {
        seq: row.try_get(3)?,
        kind: AppealEventKind::parse(&kind)
            .ok_or_else(|| bad_column("kind", "unknown appeal event kind"))?,
        from_status: if from.is_empty() {
            None
        } else {
            Some(state(&from)?)
        },
        status: state(&status)?,
        at_ms: row.try_get(1)?,
        actor: row.try_get(6)?,
        reason_code: row.try_get(7)?,
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

    fn open_appeal() -> AppealRecord {
        AppealRecord {
            appeal_id: "apl".into(),
            tenant: "t".into(),
            application_id: "app".into(),
            adapter_id: String::new(),
            reason: "OTHER".into(),
            details: String::new(),
            status: AppealState::Open,
            filed_at_ms: 0,
            resolved_at_ms: None,
            resolution_note: String::new(),
            filed_by: "filer".into(),
            assignee: String::new(),
            claimed_at_ms: None,
            pending_decision: None,
            proposed_by: String::new(),
            pending_reason_code: String::new(),
            pending_note: String::new(),
            resolution_reason_code: String::new(),
            resolved_by: String::new(),
        }
    }

    #[test]
    fn a_claim_holds_until_exactly_its_lapse() {
        let mut a = open_appeal();
        assert_eq!(a.holder(5, 10), None);
        a.assignee = "ops".into();
        a.claimed_at_ms = Some(100);
        assert_eq!(a.holder(109, 10), Some("ops"));
        assert_eq!(a.holder(110, 10), None);
        // A huge lapse does not overflow.
        assert_eq!(a.holder(i64::MAX - 1, i64::MAX), Some("ops"));
        assert_eq!(a.holder(i64::MAX, i64::MAX), None);
    }

    #[test]
    fn the_filer_cannot_propose_and_upholding_needs_no_second_operator() {
        let a = open_appeal();
        let decide = |needs_approval, decision| AppealStep::Decide {
            decision,
            reason_code: "OTHER".into(),
            note: "n".into(),
            needs_approval,
        };
        assert_eq!(
            plan_step(&a, &decide(true, AppealState::Overturned), "filer", 1, 10),
            Err(StepRefusal::SameOperator("filer"))
        );
        let (upheld, events) =
            plan_step(&a, &decide(false, AppealState::Upheld), "ops", 1, 10).expect("decided");
        assert_eq!(upheld.status, AppealState::Upheld);
        assert_eq!(upheld.resolved_by, "ops");
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].kind, AppealEventKind::Resolved);
        // Decided: every step is refused.
        for step in [AppealStep::Claim, AppealStep::Release] {
            assert_eq!(
                plan_step(&upheld, &step, "ops", 2, 10),
                Err(StepRefusal::AlreadyDecided)
            );
        }
    }

    #[test]
    fn event_kinds_round_trip() {
        for k in AppealEventKind::ALL {
            assert_eq!(AppealEventKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(AppealEventKind::parse(""), None);
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
            filed_by: "router-key".into(),
            assignee: "ops-a".into(),
            claimed_at_ms: Some(1),
            pending_decision: None,
            proposed_by: String::new(),
            pending_reason_code: String::new(),
            pending_note: "salary 777".into(),
            resolution_reason_code: "OTHER".into(),
            resolved_by: "ops-b".into(),
        };
        let text = format!("{a:?}");
        assert!(text.contains("<22 chars>"), "{text}");
        assert!(!text.contains("12345"), "{text}");
        assert!(!text.contains("555"), "{text}");
        assert!(!text.contains("777"), "{text}");
        let new = NewAppeal {
            appeal_id: "apl".into(),
            tenant: "t".into(),
            application_id: "app".into(),
            adapter_id: String::new(),
            reason: "OTHER".into(),
            details: "my new salary is 12345".into(),
            now_ms: 1,
            filed_by: "router-key".into(),
        };
        assert!(!format!("{new:?}").contains("12345"));
    }
}
