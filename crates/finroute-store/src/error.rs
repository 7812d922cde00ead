//! The store's error type, the mapping from sqlx errors to it, its
//! [`StoreErrorKind`], and the copy of a batch-wide error handed to every
//! caller in a failed group commit.
//!
//! Errors are classified by what the caller can do about them, from the
//! database's own codes: PostgreSQL's SQLSTATE by class (the first two
//! characters; see the PostgreSQL manual, appendix A "Error Codes") and
//! SQLite's result codes by primary code (the low byte of the extended
//! code). A PostgreSQL SQLSTATE is five characters; SQLite's codes, as sqlx
//! reports them, are decimal numbers below 10 000, so the two never mix.
//!
//! | kind | PostgreSQL | SQLite | other |
//! |---|---|---|---|
//! | duplicate | 23505 | CONSTRAINT_UNIQUE, _PRIMARYKEY | |
//! | rejected (this record) | class 22 (data exception: 22021 a NUL or bad UTF-8, 22P02, 22001, 22003, ...), class 23 but 23505 (foreign key, not null, check, exclusion) | other CONSTRAINT, TOOBIG, MISMATCH, RANGE | encode errors, a NUL refused before the database |
//! | unavailable (retry) | class 08 (connection), 40 (serialization, deadlock), 57 (shutdown, cancel), 53 but 53100, 25006 (read-only: a standby after failover) | BUSY, LOCKED, CANTOPEN, NOMEM | I/O, TLS, pool timed out or closed, worker crashed, store closed |
//! | full | 53100 disk_full | FULL | |
//! | other | the rest | the rest (IOERR, CORRUPT, READONLY, ...) | protocol, decode, migration |
//!
//! No message carries row data: sqlx's `Display` for database errors is the
//! server's primary message only (PostgreSQL's `DETAIL`, which quotes key
//! values, is left out), and our `Debug` prints the same text instead of
//! sqlx's field dump.

use std::borrow::Cow;
use std::error::Error as StdError;
use std::fmt;

use sqlx::error::{DatabaseError, ErrorKind};

/// Errors of [`Store`](crate::Store) calls.
#[derive(thiserror::Error)]
pub enum StoreError {
    /// The store was closed (or its writer stopped); nothing was written.
    #[error("the store is closed")]
    Closed,
    /// A unique constraint rejected the record: nothing of it was written.
    #[error("duplicate {key}")]
    Duplicate {
        /// Which key collided.
        key: DuplicateKey,
    },
    /// The record's own content cannot be stored: a value the database
    /// refuses (PostgreSQL text cannot hold a NUL character; a data
    /// exception, SQLSTATE class 22), or a constraint other than a unique
    /// key (a foreign key naming another tenant's row, a check). Nothing
    /// of the record was written, and the same record will fail the same
    /// way: do not retry it. Other records of its group commit are not
    /// affected. Neither field carries a value.
    #[error("record rejected: {reason}{}", field_suffix(*.field))]
    Rejected {
        /// The field at fault when the store knows it (`applicant_id`,
        /// `offers.partner_offer_ref`, `details`, ...: the name in the
        /// record type, with `offers.` or `channel_reports.` for child
        /// rows), `None` when only the database knows.
        field: Option<&'static str>,
        /// What is wrong with it, in words.
        reason: &'static str,
    },
    /// Any other database failure; [`StoreError::kind`] says which. For a
    /// commit that failed on a lost connection the outcome is unknown: the
    /// record may be stored.
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    /// Applying migrations failed.
    #[error("migration failed: {0}")]
    Migrate(#[source] sqlx::migrate::MigrateError),
    /// The row the call names does not exist for this tenant (an unknown
    /// acceptance, an offer or application of another tenant, ...).
    #[error("not found")]
    NotFound,
    /// An argument the store cannot act on (e.g. completing an acceptance
    /// as PENDING); the text names the argument, never a value.
    #[error("invalid argument: {0}")]
    InvalidArgument(&'static str),
    /// The URL is not `sqlite:...` or `postgres://...`, or does not parse.
    /// The text names the problem, never the URL (it may hold a password).
    #[error("invalid store url: {0}")]
    InvalidUrl(String),
}

impl fmt::Debug for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Closed => f.write_str("Closed"),
            StoreError::Duplicate { key } => f.debug_struct("Duplicate").field("key", key).finish(),
            StoreError::Rejected { field, reason } => f
                .debug_struct("Rejected")
                .field("field", field)
                .field("reason", reason)
                .finish(),
            // sqlx's Debug dumps every field of a database error, PostgreSQL's
            // DETAIL ("Key (..)=(..) already exists") included: print Display.
            StoreError::Database(e) => write!(f, "Database({e})"),
            StoreError::Migrate(e) => write!(f, "Migrate({e})"),
            StoreError::NotFound => f.write_str("NotFound"),
            StoreError::InvalidArgument(why) => {
                f.debug_tuple("InvalidArgument").field(why).finish()
            }
            StoreError::InvalidUrl(why) => f.debug_tuple("InvalidUrl").field(why).finish(),
        }
    }
}

fn field_suffix(field: Option<&'static str>) -> String {
    field.map(|f| format!(" ({f})")).unwrap_or_default()
}

/// What kind of failure a [`StoreError`] is: what a caller can do about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StoreErrorKind {
    /// This record's content cannot be stored ([`StoreError::Rejected`]):
    /// the same call fails the same way, do not retry.
    Rejected,
    /// A unique key collided ([`StoreError::Duplicate`]).
    Duplicate,
    /// No such row ([`StoreError::NotFound`]).
    NotFound,
    /// An argument the store cannot act on ([`StoreError::InvalidArgument`]).
    InvalidArgument,
    /// The database cannot be reached or is shutting down (connection lost
    /// or refused, pool timed out, the store closed, a serialization
    /// failure or deadlock): a retry later may succeed.
    Unavailable,
    /// The database is out of disk space (PostgreSQL 53100, SQLITE_FULL):
    /// nothing is written until an operator frees space.
    Full,
    /// Anything else: a bug, a damaged database, a failed migration, a bad
    /// URL.
    Other,
}

impl StoreErrorKind {
    /// A stable upper-case name, for logs and metrics labels.
    pub fn name(self) -> &'static str {
        match self {
            StoreErrorKind::Rejected => "REJECTED",
            StoreErrorKind::Duplicate => "DUPLICATE",
            StoreErrorKind::NotFound => "NOT_FOUND",
            StoreErrorKind::InvalidArgument => "INVALID_ARGUMENT",
            StoreErrorKind::Unavailable => "UNAVAILABLE",
            StoreErrorKind::Full => "FULL",
            StoreErrorKind::Other => "OTHER",
        }
    }
}

impl StoreError {
    /// What kind of failure this is.
    pub fn kind(&self) -> StoreErrorKind {
        match self {
            StoreError::Closed => StoreErrorKind::Unavailable,
            StoreError::Duplicate { .. } => StoreErrorKind::Duplicate,
            StoreError::Rejected { .. } => StoreErrorKind::Rejected,
            StoreError::Database(e) => match classify(e) {
                Class::Duplicate => StoreErrorKind::Duplicate,
                Class::Rejected(_) => StoreErrorKind::Rejected,
                Class::Unavailable => StoreErrorKind::Unavailable,
                Class::Full => StoreErrorKind::Full,
                Class::Other => StoreErrorKind::Other,
            },
            StoreError::Migrate(m) => match m {
                sqlx::migrate::MigrateError::Execute(e) => match classify(e) {
                    Class::Unavailable => StoreErrorKind::Unavailable,
                    Class::Full => StoreErrorKind::Full,
                    _ => StoreErrorKind::Other,
                },
                _ => StoreErrorKind::Other,
            },
            StoreError::NotFound => StoreErrorKind::NotFound,
            StoreError::InvalidArgument(_) => StoreErrorKind::InvalidArgument,
            StoreError::InvalidUrl(_) => StoreErrorKind::Other,
        }
    }

    /// Whether a later retry of the same call may succeed
    /// ([`StoreErrorKind::Unavailable`]).
    pub fn is_transient(&self) -> bool {
        self.kind() == StoreErrorKind::Unavailable
    }
}

/// The classes of [`classify`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    Duplicate,
    /// This record's content; the reason in words.
    Rejected(&'static str),
    Unavailable,
    Full,
    Other,
}

const DATA_EXCEPTION: &str = "a value the database cannot store (a NUL character, invalid text, \
                              a number out of range)";
const CONSTRAINT: &str = "the record breaks a constraint (a reference to a missing row or \
                          another tenant's, a check)";
const ENCODE: &str = "a value could not be encoded for the database";

/// Classifies a sqlx error; see the module documentation for the table.
pub(crate) fn classify(e: &sqlx::Error) -> Class {
    match e {
        sqlx::Error::Database(db) => classify_database(db.as_ref()),
        sqlx::Error::Encode(_) | sqlx::Error::InvalidArgument(_) => Class::Rejected(ENCODE),
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::BeginFailed => Class::Unavailable,
        _ => Class::Other,
    }
}

fn classify_database(db: &dyn DatabaseError) -> Class {
    if db.is_unique_violation() {
        return Class::Duplicate;
    }
    let Some(code) = db.code() else {
        return Class::Other;
    };
    // SQLSTATEs are five characters; SQLite's extended codes stay below
    // 10 000 (four digits at most).
    match code.parse::<i32>() {
        Ok(extended) if code.len() < 5 => classify_sqlite(extended),
        _ => classify_sqlstate(&code),
    }
}

/// PostgreSQL, by SQLSTATE class (and a few codes).
fn classify_sqlstate(code: &str) -> Class {
    match (code.get(..2), code) {
        (_, "23505") => Class::Duplicate,
        (_, "53100") => Class::Full,
        (_, "25006") => Class::Unavailable,
        (Some("22"), _) => Class::Rejected(DATA_EXCEPTION),
        (Some("23"), _) => Class::Rejected(CONSTRAINT),
        (Some("08" | "40" | "53" | "57"), _) => Class::Unavailable,
        _ => Class::Other,
    }
}

/// SQLite, by primary result code (<https://www.sqlite.org/rescode.html>).
fn classify_sqlite(extended: i32) -> Class {
    const BUSY: i32 = 5;
    const LOCKED: i32 = 6;
    const NOMEM: i32 = 7;
    const FULL: i32 = 13;
    const CANTOPEN: i32 = 14;
    const TOOBIG: i32 = 18;
    const CONSTRAINT_CODE: i32 = 19;
    const MISMATCH: i32 = 20;
    const RANGE: i32 = 25;
    const CONSTRAINT_PRIMARYKEY: i32 = 1555;
    const CONSTRAINT_UNIQUE: i32 = 2067;
    match (extended & 0xff, extended) {
        (_, CONSTRAINT_PRIMARYKEY | CONSTRAINT_UNIQUE) => Class::Duplicate,
        (CONSTRAINT_CODE, _) => Class::Rejected(CONSTRAINT),
        (TOOBIG | MISMATCH | RANGE, _) => Class::Rejected(DATA_EXCEPTION),
        (FULL, _) => Class::Full,
        (BUSY | LOCKED | NOMEM | CANTOPEN, _) => Class::Unavailable,
        _ => Class::Other,
    }
}

/// The key a [`StoreError::Duplicate`] collided on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DuplicateKey {
    /// Another application has this `application_id`.
    ApplicationId,
    /// The tenant already has an application with this non-empty `request_id`.
    RequestId,
    /// Another offer has one of this record's `offer_id`s.
    OfferId,
    /// This (lender, version) of a partner name-list is stored with other
    /// content (versions are never overwritten).
    PartnerListVersion,
    /// This partner outcome event id of the acceptance is stored with
    /// other content (events are never overwritten).
    OutcomeEventId,
    /// Another unique constraint (e.g. two channel reports at one position).
    Other,
}

impl fmt::Display for DuplicateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DuplicateKey::ApplicationId => "application_id",
            DuplicateKey::RequestId => "(tenant, request_id)",
            DuplicateKey::OfferId => "offer_id",
            DuplicateKey::PartnerListVersion => "(lender, version) of a partner list",
            DuplicateKey::OutcomeEventId => "event_id of the acceptance's outcomes",
            DuplicateKey::Other => "key",
        })
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Duplicate {
                key: duplicate_key(db.as_ref()),
            },
            sqlx::Error::PoolClosed => StoreError::Closed,
            other => match classify(&other) {
                Class::Rejected(reason) => StoreError::Rejected {
                    field: None,
                    reason,
                },
                _ => StoreError::Database(other),
            },
        }
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        StoreError::Migrate(e)
    }
}

/// Names the key of a unique violation. PostgreSQL reports the constraint
/// (or unique index) name; SQLite only says "UNIQUE constraint failed:
/// table.col, ..." in the message. Names are those of the migrations.
fn duplicate_key(db: &dyn DatabaseError) -> DuplicateKey {
    if let Some(constraint) = db.constraint() {
        return match constraint {
            "applications_pkey" | "applications_id_tenant_key" => DuplicateKey::ApplicationId,
            "applications_tenant_request_id_key" => DuplicateKey::RequestId,
            "offers_pkey" | "offers_id_tenant_key" => DuplicateKey::OfferId,
            _ => DuplicateKey::Other,
        };
    }
    let message = db.message();
    let columns = message
        .strip_prefix("UNIQUE constraint failed: ")
        .unwrap_or_default();
    match columns {
        // A repeated id also repeats (id, tenant) when the tenant is the
        // same; either index may report it.
        "applications.application_id" | "applications.application_id, applications.tenant" => {
            DuplicateKey::ApplicationId
        }
        "applications.tenant, applications.request_id" => DuplicateKey::RequestId,
        "offers.offer_id" | "offers.offer_id, offers.tenant" => DuplicateKey::OfferId,
        _ => DuplicateKey::Other,
    }
}

/// Whether `e` was caused by one record's content (a duplicate key, another
/// constraint, a value the database refuses: see [`classify`]), as opposed
/// to a failure of the connection or the database as a whole. Only these
/// send a batch to the record-by-record path, where the record alone fails.
///
/// PostgreSQL data exceptions (SQLSTATE class 22, e.g. 22021 for a NUL in
/// text) are record errors: before they were counted as batch failures, so
/// one such record failed every caller of its group commit.
pub(crate) fn is_record_error(e: &sqlx::Error) -> bool {
    matches!(classify(e), Class::Duplicate | Class::Rejected(_))
}

/// The error of a call refused because the last ping found the database
/// unreachable (kind `Unavailable`).
pub(crate) fn unreachable() -> sqlx::Error {
    sqlx::Error::Io(std::io::Error::new(
        std::io::ErrorKind::NotConnected,
        "the database is unreachable (the last health ping failed)",
    ))
}

/// A copy of `e` for the second and later callers of a batch that failed as
/// a whole (`sqlx::Error` is not `Clone`). Keeps the variant where it
/// carries meaning (I/O kind, pool state, database code and kind).
pub(crate) fn replicate(e: &sqlx::Error) -> sqlx::Error {
    match e {
        sqlx::Error::Io(io) => sqlx::Error::Io(std::io::Error::new(io.kind(), io.to_string())),
        sqlx::Error::PoolTimedOut => sqlx::Error::PoolTimedOut,
        sqlx::Error::PoolClosed => sqlx::Error::PoolClosed,
        sqlx::Error::WorkerCrashed => sqlx::Error::WorkerCrashed,
        sqlx::Error::Database(db) => {
            sqlx::Error::Database(Box::new(CopiedDatabaseError::of(db.as_ref())))
        }
        other => sqlx::Error::Protocol(other.to_string()),
    }
}

/// A database error copied from another (message, code, constraint, kind).
#[derive(Debug)]
struct CopiedDatabaseError {
    message: String,
    code: Option<String>,
    constraint: Option<String>,
    kind: ErrorKind,
}

impl CopiedDatabaseError {
    fn of(db: &dyn DatabaseError) -> Self {
        let kind = match db.kind() {
            ErrorKind::UniqueViolation => ErrorKind::UniqueViolation,
            ErrorKind::ForeignKeyViolation => ErrorKind::ForeignKeyViolation,
            ErrorKind::NotNullViolation => ErrorKind::NotNullViolation,
            ErrorKind::CheckViolation => ErrorKind::CheckViolation,
            ErrorKind::ExclusionViolation => ErrorKind::ExclusionViolation,
            _ => ErrorKind::Other,
        };
        CopiedDatabaseError {
            message: db.message().to_owned(),
            code: db.code().map(Cow::into_owned),
            constraint: db.constraint().map(str::to_owned),
            kind,
        }
    }
}

impl fmt::Display for CopiedDatabaseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl StdError for CopiedDatabaseError {}

impl DatabaseError for CopiedDatabaseError {
    fn message(&self) -> &str {
        &self.message
    }

    fn code(&self) -> Option<Cow<'_, str>> {
        self.code.as_deref().map(Cow::Borrowed)
    }

    fn as_error(&self) -> &(dyn StdError + Send + Sync + 'static) {
        self
    }

    fn as_error_mut(&mut self) -> &mut (dyn StdError + Send + Sync + 'static) {
        self
    }

    fn into_error(self: Box<Self>) -> Box<dyn StdError + Send + Sync + 'static> {
        self
    }

    fn constraint(&self) -> Option<&str> {
        self.constraint.as_deref()
    }

    fn kind(&self) -> ErrorKind {
        match self.kind {
            ErrorKind::UniqueViolation => ErrorKind::UniqueViolation,
            ErrorKind::ForeignKeyViolation => ErrorKind::ForeignKeyViolation,
            ErrorKind::NotNullViolation => ErrorKind::NotNullViolation,
            ErrorKind::CheckViolation => ErrorKind::CheckViolation,
            ErrorKind::ExclusionViolation => ErrorKind::ExclusionViolation,
            _ => ErrorKind::Other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replicated_io_error_keeps_kind_and_text() {
        let original = sqlx::Error::Io(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "peer reset",
        ));
        match replicate(&original) {
            sqlx::Error::Io(io) => {
                assert_eq!(io.kind(), std::io::ErrorKind::ConnectionReset);
                assert_eq!(io.to_string(), "peer reset");
            }
            other => panic!("expected Io, got {other:?}"),
        }
    }

    #[test]
    fn copied_unique_violation_still_maps_to_duplicate() {
        let copy = CopiedDatabaseError {
            message: "UNIQUE constraint failed: applications.tenant, applications.request_id"
                .into(),
            code: Some("2067".into()),
            constraint: None,
            kind: ErrorKind::UniqueViolation,
        };
        let again = replicate(&sqlx::Error::Database(Box::new(copy)));
        assert!(is_record_error(&again));
        match StoreError::from(again) {
            StoreError::Duplicate { key } => assert_eq!(key, DuplicateKey::RequestId),
            other => panic!("expected Duplicate, got {other:?}"),
        }
    }

    fn db_error(code: &str, kind: ErrorKind) -> sqlx::Error {
        sqlx::Error::Database(Box::new(CopiedDatabaseError {
            message: "m".into(),
            code: Some(code.into()),
            constraint: None,
            kind,
        }))
    }

    #[test]
    fn sqlstates_classify_by_class() {
        for (code, class) in [
            ("22021", Class::Rejected(DATA_EXCEPTION)),
            ("22P02", Class::Rejected(DATA_EXCEPTION)),
            ("22001", Class::Rejected(DATA_EXCEPTION)),
            ("22003", Class::Rejected(DATA_EXCEPTION)),
            ("23503", Class::Rejected(CONSTRAINT)),
            ("23514", Class::Rejected(CONSTRAINT)),
            ("08006", Class::Unavailable),
            ("57P01", Class::Unavailable),
            ("40001", Class::Unavailable),
            ("40P01", Class::Unavailable),
            ("53300", Class::Unavailable),
            ("25006", Class::Unavailable),
            ("53100", Class::Full),
            ("42P01", Class::Other),
            ("XX000", Class::Other),
            // SQLite, extended codes.
            ("13", Class::Full),
            ("5", Class::Unavailable),
            ("261", Class::Unavailable),          // BUSY_RECOVERY
            ("787", Class::Rejected(CONSTRAINT)), // CONSTRAINT_FOREIGNKEY
            ("18", Class::Rejected(DATA_EXCEPTION)),
            ("266", Class::Other), // IOERR_READ
            ("11", Class::Other),  // CORRUPT
        ] {
            assert_eq!(classify(&db_error(code, ErrorKind::Other)), class, "{code}");
        }
        assert_eq!(
            classify(&db_error("23505", ErrorKind::UniqueViolation)),
            Class::Duplicate
        );
        assert_eq!(
            classify(&db_error("2067", ErrorKind::UniqueViolation)),
            Class::Duplicate
        );
    }

    #[test]
    fn a_nul_from_postgres_is_a_record_error_and_rejected() {
        let e = db_error("22021", ErrorKind::Other);
        assert!(is_record_error(&e));
        // A copy (second caller of a failed batch) classifies the same.
        assert!(is_record_error(&replicate(&e)));
        let e = StoreError::from(e);
        assert!(
            matches!(e, StoreError::Rejected { field: None, .. }),
            "{e:?}"
        );
        assert_eq!(e.kind(), StoreErrorKind::Rejected);
    }

    #[test]
    fn kinds_of_connection_and_disk_failures() {
        let io = StoreError::from(sqlx::Error::Io(std::io::Error::from(
            std::io::ErrorKind::ConnectionRefused,
        )));
        assert_eq!(io.kind(), StoreErrorKind::Unavailable);
        assert!(io.is_transient());
        assert_eq!(
            StoreError::from(sqlx::Error::PoolTimedOut).kind(),
            StoreErrorKind::Unavailable
        );
        assert_eq!(StoreError::Closed.kind(), StoreErrorKind::Unavailable);
        let full = StoreError::from(db_error("13", ErrorKind::Other));
        assert_eq!(full.kind(), StoreErrorKind::Full);
        assert!(!full.is_transient());
        assert_eq!(
            StoreError::from(db_error("53100", ErrorKind::Other)).kind(),
            StoreErrorKind::Full
        );
        assert_eq!(
            StoreError::from(sqlx::Error::Protocol("x".into())).kind(),
            StoreErrorKind::Other
        );
    }

    #[test]
    fn pool_closed_is_closed_and_io_is_database() {
        assert!(matches!(
            StoreError::from(sqlx::Error::PoolClosed),
            StoreError::Closed
        ));
        let io = sqlx::Error::Io(std::io::Error::other("x"));
        assert!(!is_record_error(&io));
        assert!(matches!(StoreError::from(io), StoreError::Database(_)));
    }
}
