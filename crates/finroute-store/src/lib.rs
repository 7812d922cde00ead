//! The durable store of finroute.
//!
//! Every routed application is recorded, with its offers and channel
//! reports, before the router replies; `GetApplication`, request_id
//! idempotency and `AcceptOffer` read them back. Acceptances (with their
//! outbox, for exactly-once partner calls across retries, replicas and
//! crashes) and appeals are kept alongside, and so is the outbox of events
//! pushed to the platform's webhooks (`event`), each written in the
//! transaction of the change it reports. Two backends behind
//! one [`Store`]: SQLite (embedded, one replica) and PostgreSQL (several
//! replicas), chosen by the URL, with the same schema in
//! `migrations/sqlite/` and `migrations/postgres/`.
//!
//! How the code is laid out:
//!
//! - `store`: [`Store`], the public API; it checks arguments and runs
//!   each call on the open engine.
//! - `engine`: the `Engine` trait, all that differs between the backends
//!   (transactions, the writer's inserts, leasing due outbox rows, pings),
//!   implemented by `sqlite::SqliteDb` and `postgres::PgDb`.
//! - `ops`: `Ops`, every read and every acceptance and appeal operation,
//!   written once, generic over the engine.
//! - `writer`: the group-commit writer, generic over the engine: a caller
//!   waits until its record is committed, and one commit serves as many
//!   records as arrived while the previous one ran.
//! - `event`: the webhook event outbox's SQL, row types and payloads.
//! - `read`, `acceptance`, `appeal`: the SQL text (one column list per
//!   table), the row types and their decoding; `partner_list`: the
//!   lenders' partner name-lists, append-only; `usage`: channels' use
//!   against their volume agreements; `record`: what the router
//!   records; `outcome`: what partners report of booked loans after the
//!   acceptance; `error`: [`StoreError`] and its kinds; `text`, `blob`: what
//!   can be stored, and the compressed response.
//!
//! Acceptance and appeal writes are single-row conditional transactions
//! straight on the pool, not through the writer.
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
mod engine;
mod error;
mod event;
mod ops;
mod options;
mod outcome;
mod partner_list;
mod postgres;
mod read;
mod record;
mod reworded;
mod sqlite;
mod store;
mod text;
mod usage;
mod writer;

pub use acceptance::{
    AcceptanceClaim, AcceptanceRecord, AcceptanceState, ClaimOutcome, OutcomeCount, OutcomeRecord,
};
pub use appeal::{
    AppealCursor, AppealEvent, AppealEventKind, AppealRecord, AppealState, AppealStep, NewAppeal,
    ResolveOutcome, StepOutcome, StepRefusal,
};
pub use error::{DuplicateKey, StoreError, StoreErrorKind};
pub use event::{ACCEPTANCE_FINAL, APPEAL_DECIDED, EventBacklog, EventRecord, NewEvent};
pub use options::{Backend, StoreOptions};
pub use outcome::{OutcomeEvent, OutcomeKind, OutcomeWrite};
pub use partner_list::{PartnerListRecord, PartnerListWrite};
pub use record::{
    ApplicationRecord, ChannelReportRecord, LateOfferRecord, OfferRecord, StoredApplication,
    StoredLateOffer,
};
pub use store::{Store, StoreStats};
pub use usage::{PeriodLimit, Reservation, Usage};
