//! Serving a [`Partner`]: `serve(partner, listener, shutdown)`. The caller
//! binds (tests bind `127.0.0.1:0`) and passes the shutdown future (ctrl-c,
//! SIGTERM, a test's oneshot).
//!
//! On the port: `finroute.v1.FinancingAdapter`, `grpc.health.v1.Health` and
//! reflection v1 and v1alpha (grpcurl 1.8 and newer), listing exactly these
//! services. Shutdown marks health NOT_SERVING first, stops accepting
//! connections, then waits for the partner calls in flight, at most
//! [`SHUTDOWN_GRACE`] (hyper's graceful shutdown alone waits for every
//! client connection to close, which an idle client may never do).

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use finroute_proto::v1 as pb;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use tonic_health::ServingStatus;

use crate::Partner;
use crate::service::AdapterService;

/// The longest a shutdown waits for partner calls in flight.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Largest request accepted (the router's quotes are a few hundred bytes).
const MAX_REQUEST_BYTES: usize = 64 * 1024;

const ADAPTER: &str = "finroute.v1.FinancingAdapter";
/// Every service on the port, as reflection lists them.
const SERVED: [&str; 4] = [
    ADAPTER,
    "grpc.health.v1.Health",
    "grpc.reflection.v1.ServerReflection",
    "grpc.reflection.v1alpha.ServerReflection",
];

/// Why serving failed.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The reflection service could not be built from the descriptor sets
    /// (a build problem of the SDK, not of the partner).
    #[error("reflection: {0}")]
    Reflection(String),
    /// The gRPC server failed (e.g. the listener broke).
    #[error("transport: {0}")]
    Transport(#[from] tonic::transport::Error),
}

/// Serves `partner` on `listener` until `shutdown` completes, then drains
/// (see the module documentation). Returns once the server has stopped.
pub async fn serve<P: Partner>(
    partner: P,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let (health, health_service) = tonic_health::server::health_reporter();
    let in_flight = InFlight::default();
    let adapter = pb::financing_adapter_server::FinancingAdapterServer::new(AdapterService::new(
        partner,
        in_flight.clone(),
    ))
    .max_decoding_message_size(MAX_REQUEST_BYTES);

    let reflection = || {
        let mut b = tonic_reflection::server::Builder::configure()
            .include_reflection_service(false)
            .register_encoded_file_descriptor_set(finroute_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_types::pb::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(
                tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
            );
        for name in SERVED {
            b = b.with_service_name(name);
        }
        b
    };
    let reflection_v1 = reflection()
        .build_v1()
        .map_err(|e| ServeError::Reflection(e.to_string()))?;
    let reflection_v1alpha = reflection()
        .build_v1alpha()
        .map_err(|e| ServeError::Reflection(e.to_string()))?;

    for name in ["", ADAPTER] {
        health
            .set_service_status(name, ServingStatus::Serving)
            .await;
    }
    let draining = Arc::new(Notify::new());
    let signal = {
        let health = health.clone();
        let draining = draining.clone();
        async move {
            shutdown.await;
            tracing::info!("shutdown requested: draining partner calls in flight");
            for name in ["", ADAPTER] {
                health
                    .set_service_status(name, ServingStatus::NotServing)
                    .await;
            }
            draining.notify_one();
        }
    };
    let serve = Server::builder()
        .http2_keepalive_interval(Some(Duration::from_secs(60)))
        .http2_keepalive_timeout(Some(Duration::from_secs(20)))
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(adapter)
        // serve_with_incoming ignores the builder's tcp_nodelay: set it on
        // the incoming stream, or Nagle holds replies back ~40 ms.
        .serve_with_incoming_shutdown(TcpIncoming::from(listener).with_nodelay(Some(true)), signal);
    let bounded_drain = async {
        draining.notified().await;
        // Let calls whose headers were already read reach the counter.
        tokio::time::sleep(Duration::from_millis(20)).await;
        let all = tokio::time::timeout(SHUTDOWN_GRACE, in_flight.idle())
            .await
            .is_ok();
        // Give hyper a moment to write the last replies.
        tokio::time::sleep(Duration::from_millis(50)).await;
        all
    };
    tokio::select! {
        r = serve => r?,
        all_answered = bounded_drain => if all_answered {
            tracing::info!("drained: every partner call in flight was answered");
        } else {
            tracing::warn!(in_flight = in_flight.count(), "drain bound reached; stopping with calls in flight");
        },
    }
    Ok(())
}

/// The count of partner calls in flight. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub(crate) struct InFlight {
    inner: Arc<Counter>,
}

#[derive(Debug, Default)]
struct Counter {
    n: AtomicUsize,
    idle: Notify,
}

/// One call in flight; dropping it ends the call.
#[derive(Debug)]
pub(crate) struct CallGuard(Arc<Counter>);

impl Drop for CallGuard {
    fn drop(&mut self) {
        if self.0.n.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

impl InFlight {
    /// Counts one more call until the guard is dropped.
    pub(crate) fn guard(&self) -> CallGuard {
        self.inner.n.fetch_add(1, Ordering::AcqRel);
        CallGuard(self.inner.clone())
    }

    fn count(&self) -> usize {
        self.inner.n.load(Ordering::Acquire)
    }

    async fn idle(&self) {
        loop {
            let notified = self.inner.idle.notified();
            if self.count() == 0 {
                return;
            }
            notified.await;
        }
    }
}

/// Completes on SIGINT (ctrl-c) or, on Unix, SIGTERM: the usual `shutdown`
/// future for [`serve`] in a partner's `main`.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
