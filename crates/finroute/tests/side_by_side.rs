//! Two `finroute serve` on one machine, each on the embedded default in
//! its own directory, with only `--listen` and `--metrics-listen` changed;
//! and the message when a port is taken.

#![allow(clippy::unwrap_used)]

mod common;

use std::process::{Command, Stdio};

use common::RouterProcess;

#[tokio::test]
async fn two_routers_run_side_by_side_with_only_the_ports_changed() {
    let (a_dir, b_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let serve = ["--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0"];
    let a = RouterProcess::start_in(a_dir.path(), &serve);
    let b = RouterProcess::start_in(b_dir.path(), &serve);
    assert_ne!(a.addr, b.addr);
    for router in [&a, &b] {
        let mut client = router.client().await;
        let answer = client
            .route_financing(finroute_testkit::refused_borrower())
            .await
            .expect("each router routes")
            .into_inner();
        assert!(!answer.offers.is_empty());
        let metrics = router
            .metrics
            .expect("the ready line names the metrics address");
        let body = reqwest_free_get(metrics).await;
        assert!(
            body.contains("finroute_routes_total{outcome=\"ok\"} 1"),
            "{body}"
        );
    }
}

#[tokio::test]
async fn an_empty_metrics_listen_turns_the_endpoint_off() {
    let dir = tempfile::tempdir().unwrap();
    let router = RouterProcess::start_in(
        dir.path(),
        &["--listen", "127.0.0.1:0", "--metrics-listen", ""],
    );
    assert_eq!(router.metrics, None, "no metrics address in the ready line");
    let mut client = router.client().await;
    let answer = client
        .route_financing(finroute_testkit::refused_borrower())
        .await
        .expect("routes without metrics")
        .into_inner();
    assert!(!answer.offers.is_empty());
}

#[tokio::test]
async fn a_taken_metrics_port_names_the_flag_and_another_finroute() {
    let dir = tempfile::tempdir().unwrap();
    let first = RouterProcess::start_in(
        dir.path(),
        &["--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0"],
    );
    let taken = first.metrics.expect("metrics address").to_string();
    let other = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_finroute"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--metrics-listen",
            &taken,
        ])
        .current_dir(other.path())
        .stdout(Stdio::null())
        .output()
        .expect("run finroute");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    for needle in [
        "cannot listen for metrics on",
        "server.metrics_listen",
        "--metrics-listen",
        "FINROUTE_SERVER_METRICS_LISTEN",
        "another finroute",
    ] {
        assert!(err.contains(needle), "{needle} missing from: {err}");
    }
}

/// `GET /metrics` over a plain TCP socket (HTTP/1.0, so the server closes).
async fn reqwest_free_get(addr: std::net::SocketAddr) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    s.write_all(b"GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    let mut body = String::new();
    s.read_to_string(&mut body).await.expect("read");
    body
}
