//! The store health watcher: is the database reachable now?
//!
//! Every [`WatchSettings::interval`] the watcher pings the store
//! ([`Store::ping`]: `SELECT 1` on a connection outside the pool, reopened
//! when it was lost), bounded by [`WatchSettings::timeout`]. One failed
//! ping of kind UNAVAILABLE (its reconnect included) marks the store down;
//! one that succeeds marks it up again. While it is down:
//!
//! - gRPC health reports NOT_SERVING for `""` and the router's services, so
//!   load balancers send callers elsewhere;
//! - every call of those services is refused at admission with UNAVAILABLE
//!   and ErrorInfo reason `STORE_UNAVAILABLE` ([`StoreHealth::gate`]), at
//!   once, instead of fanning out to partners and then waiting for a pool
//!   connection that cannot be had.
//!
//! Calls already running when the database goes away fail on their broken
//! connection, or after the store's acquire timeout (2 s) for those that
//! were waiting for one. Nothing needs a restart: the pool replaces its
//! dead connections once the database is back, and the watcher's next good
//! ping opens the gate and reports SERVING again.
//!
//! On shutdown the watcher is stopped first ([`StoreHealth::stop`]), so it
//! cannot report SERVING over the shutdown's NOT_SERVING.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use finroute_store::{Store, StoreError};
use tokio::sync::Mutex;
use tokio::task::JoinHandle;
use tonic::{Code, Request, Status};
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

use crate::error::{Reason, error_status};

/// How often and how patiently the watcher pings.
#[derive(Debug, Clone, Copy)]
pub struct WatchSettings {
    /// Time between pings.
    pub interval: Duration,
    /// A ping taking longer than this counts as failed.
    pub timeout: Duration,
}

impl Default for WatchSettings {
    fn default() -> Self {
        WatchSettings {
            interval: Duration::from_millis(500),
            timeout: Duration::from_secs(1),
        }
    }
}

/// The watcher's verdict, shared with the admission gate.
#[derive(Clone, Debug)]
pub struct StoreHealth {
    up: Arc<AtomicBool>,
    task: Arc<Mutex<Option<JoinHandle<()>>>>,
}

impl StoreHealth {
    /// A verdict of "up", not watching yet (so that the gate can be built
    /// before the port opens, and the watcher started once health says
    /// SERVING).
    pub fn new() -> StoreHealth {
        StoreHealth {
            up: Arc::new(AtomicBool::new(true)),
            task: Arc::new(Mutex::new(None)),
        }
    }

    /// Starts watching `store`; `services` are the health names to flip.
    /// The store counts as up until a ping says otherwise. A second start
    /// replaces the first watcher.
    pub async fn start(
        &self,
        store: Store,
        health: HealthReporter,
        services: &'static [&'static str],
        settings: WatchSettings,
    ) {
        let task = tokio::spawn(watch(store, health, services, settings, self.up.clone()));
        if let Some(old) = self.task.lock().await.replace(task) {
            old.abort();
        }
    }

    /// Whether the last ping reached the database.
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Acquire)
    }

    /// Stops the watcher and waits until it has stopped: it reports nothing
    /// after this returns. Idempotent.
    pub async fn stop(&self) {
        if let Some(task) = self.task.lock().await.take() {
            task.abort();
            let _ = task.await;
        }
    }

    /// `inner` (the services' interceptor, e.g. authentication) preceded
    /// by nothing and followed by the store check: a call that passes
    /// `inner` is refused with UNAVAILABLE (`STORE_UNAVAILABLE`) while the
    /// store is down.
    pub fn gate<I>(
        &self,
        mut inner: I,
    ) -> impl FnMut(Request<()>) -> Result<Request<()>, Status> + Clone + use<I>
    where
        I: FnMut(Request<()>) -> Result<Request<()>, Status> + Clone,
    {
        let up = self.up.clone();
        move |req: Request<()>| {
            let req = inner(req)?;
            if up.load(Ordering::Acquire) {
                Ok(req)
            } else {
                Err(unavailable())
            }
        }
    }
}

impl Default for StoreHealth {
    fn default() -> Self {
        StoreHealth::new()
    }
}

/// The status of a call refused while the store is down.
fn unavailable() -> Status {
    error_status(
        Code::Unavailable,
        "the router's store is unreachable; retry with backoff",
        Reason::StoreUnavailable,
        &[],
    )
}

async fn watch(
    store: Store,
    health: HealthReporter,
    services: &'static [&'static str],
    settings: WatchSettings,
    up: Arc<AtomicBool>,
) {
    let mut ticks = tokio::time::interval(settings.interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut down_since: Option<tokio::time::Instant> = None;
    loop {
        ticks.tick().await;
        // The store keeps the verdict (its calls fail fast on it too): only
        // an unreachable database closes the gate; any other failure (a
        // damaged file, a full disk) leaves reads and other writes possible.
        if let Err(e) = store.ping(settings.timeout).await {
            if matches!(e, StoreError::Closed) {
                return; // shutdown's business, not an outage
            }
            if down_since.is_none() {
                tracing::warn!(error = %e, kind = e.kind().name(), "store ping failed");
            }
        }
        let reachable = store.is_reachable();
        if !reachable && down_since.is_none() {
            tracing::warn!("store unreachable: refusing calls, health NOT_SERVING");
        }
        match (reachable, down_since) {
            (false, None) => {
                down_since = Some(tokio::time::Instant::now());
                up.store(false, Ordering::Release);
                for name in services {
                    health
                        .set_service_status(*name, ServingStatus::NotServing)
                        .await;
                }
            }
            (true, Some(since)) => {
                down_since = None;
                for name in services {
                    health
                        .set_service_status(*name, ServingStatus::Serving)
                        .await;
                }
                up.store(true, Ordering::Release);
                tracing::info!(
                    down_ms = since.elapsed().as_millis() as u64,
                    "store reachable again: serving"
                );
            }
            _ => {}
        }
    }
}
