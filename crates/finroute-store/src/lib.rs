//! The durable store of finroute.
//!
//! Every routed application is recorded, with its offers and channel
//! reports, before the router replies; `GetApplication`, request_id
//! idempotency and (later) `AcceptOffer` read them back. Two backends behind
//! one [`Store`]: SQLite (embedded, one replica) and PostgreSQL (several
//! replicas), chosen by the URL, with the same schema in
//! `migrations/sqlite/` and `migrations/postgres/`.
//!
//! Writes are group-committed by one writer task (see the `writer` module):
//! a caller waits until its record is committed, and one commit serves as
//! many records as arrived while the previous one ran.
//!
//! ```no_run
//! # async fn demo() -> Result<(), finroute_store::StoreError> {
//! let store = finroute_store::Store::connect("sqlite://finroute.db").await?;
//! let app = store.get_application("tenant-a", "app-1").await?;
//! store.close().await;
//! # Ok(()) }
//! ```

mod error;
mod options;
mod postgres;
mod read;
mod record;
mod sqlite;
mod store;
mod writer;

pub use error::{DuplicateKey, StoreError};
pub use options::{Backend, StoreOptions};
pub use record::{ApplicationRecord, ChannelReportRecord, OfferRecord, StoredApplication};
pub use store::{Store, StoreStats};
