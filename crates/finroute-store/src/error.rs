//! The store's error type, the mapping from sqlx errors to it, and the copy
//! of a batch-wide error handed to every caller in a failed group commit.
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
    /// Any other database failure. For a commit that failed on a lost
    /// connection the outcome is unknown: the record may be stored.
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

/// The key a [`StoreError::Duplicate`] collided on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DuplicateKey {
    /// Another application has this `application_id`.
    ApplicationId,
    /// The tenant already has an application with this non-empty `request_id`.
    RequestId,
    /// Another offer has one of this record's `offer_id`s.
    OfferId,
    /// Another unique constraint (e.g. two channel reports at one position).
    Other,
}

impl fmt::Display for DuplicateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DuplicateKey::ApplicationId => "application_id",
            DuplicateKey::RequestId => "(tenant, request_id)",
            DuplicateKey::OfferId => "offer_id",
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
            other => StoreError::Database(other),
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

/// Whether `e` is a constraint violation caused by one record's content, as
/// opposed to a failure of the connection or the database as a whole. Only
/// these send a batch to the record-by-record path.
pub(crate) fn is_record_error(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => matches!(
            db.kind(),
            ErrorKind::UniqueViolation
                | ErrorKind::ForeignKeyViolation
                | ErrorKind::NotNullViolation
                | ErrorKind::CheckViolation
                | ErrorKind::ExclusionViolation
        ),
        // A value the driver could not encode belongs to one record too.
        sqlx::Error::Encode(_) | sqlx::Error::InvalidArgument(_) => true,
        _ => false,
    }
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
