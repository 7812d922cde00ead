//! The router's shutdown signal: what `finroute serve` passes to
//! [`finroute_server::run`] as its `shutdown` future. The router's own, not
//! the partner SDK's: the two processes stop on the same signals today, but
//! neither side's shutdown policy should change because the other's did.

/// Completes on the first SIGINT (ctrl-c) or, on Unix, SIGTERM (what
/// systemd, Kubernetes and `docker stop` send). A signal that cannot be
/// listened for is ignored, not fatal: the other one still stops the router.
pub(crate) async fn shutdown_signal() {
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
