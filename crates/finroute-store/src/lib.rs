//! The durable store of finroute.
//!
//! Every routed application is recorded, with its offers and channel
//! reports, before the router replies; `GetApplication`, request_id
//! idempotency and `AcceptOffer` read them back. Acceptances (with their
//! outbox, for exactly-once partner calls across retries, replicas and
//! crashes) and appeals are kept alongside. Two backends behind
//! one [`Store`]: SQLite (embedded, one replica) and PostgreSQL (several
//! replicas), chosen by the URL, with the same schema in
//! `migrations/sqlite/` and `migrations/postgres/`.
//!
//! Applications are group-committed by one writer task (see the `writer`
//! module): a caller waits until its record is committed, and one commit
//! serves as many records as arrived while the previous one ran.
//! Acceptance and appeal writes are single-row conditional transactions
//! straight on the pool (see the `ops` module).
//!
//! ```no_run
//! # async fn demo() -> Result<(), finroute_store::StoreError> {
//! let store = finroute_store::Store::connect("sqlite://finroute.db").await?;
//! let app = store.get_application("tenant-a", "app-1").await?;
//! store.close().await;
//! # Ok(()) }
//! ```

mod acceptance;
mod appeal;
mod blob;
mod error;
mod ops;
mod options;
mod postgres;
mod read;
mod record;
mod sqlite;
mod store;
mod text;
mod writer;

pub use acceptance::{
    AcceptanceClaim, AcceptanceRecord, AcceptanceState, ClaimOutcome, OutcomeCount, OutcomeRecord,
};
pub use appeal::{AppealCursor, AppealEvent, AppealRecord, AppealState, NewAppeal, ResolveOutcome};
pub use error::{DuplicateKey, StoreError, StoreErrorKind};
pub use options::{Backend, StoreOptions};
pub use record::{ApplicationRecord, ChannelReportRecord, OfferRecord, StoredApplication};
pub use store::{Store, StoreStats};
