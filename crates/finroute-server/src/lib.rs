//! finroute-server: the router's gRPC surface.
//!
//! [`server::run`] wires config, store, adapters, health, reflection and
//! the tonic services together; [`router`] holds the handlers and the
//! stages of a routed call (admit, prepare, fan out, finalize, record,
//! reply); [`fanout`] asks every channel concurrently under the caller's
//! deadline, each through its tower layer chain, and prices each answer;
//! [`convert`] and [`error`] are the edges to the wire. docs/architecture.md
//! walks one call through them.

pub mod accept;
pub mod auth;
pub mod breaker;
pub mod clock;
pub mod config;
pub mod console;
pub mod convert;
pub mod deadline;
pub mod decision;
pub mod drain;
pub mod error;
pub mod error_layer;
pub mod fanout;
#[doc(hidden)]
pub mod fuzzing;
pub(crate) mod keyfacts;
pub mod keys;
pub mod listener;
pub mod metrics;
pub mod odds;
pub mod outcomes;
pub mod partner_lists;
pub mod quota;
pub mod recent;
pub mod review;
pub mod router;
pub mod rules;
pub mod server;
pub mod store_health;
pub(crate) mod validate;
pub mod webhook;

pub use config::Config;
pub use server::{ServeError, bind_error, preflight, run, run_with_clock};
