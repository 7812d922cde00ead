//! Connection-level abuse of the router's gRPC port (issue 14, fault matrix
//! (d)): sockets that never send the HTTP/2 preface or stop half-way
//! through a HEADERS block, requests whose body never arrives, idle
//! connections, more connections than `server.max_connections`, and a
//! WINDOW_UPDATE flood on a closed stream. Raw frames over a TcpStream or
//! the `h2` crate as a client, against the real router on 127.0.0.1:0; in
//! every case a legitimate client's calls still succeed.
//!
//! Timeouts are short (hundreds of ms) and real (sockets do not mix with
//! paused time); the bounds asserted leave room for a loaded 2-core box.

#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tokio::time::Instant;

use finroute_server::Config;
use finroute_server::config::ServerConfig;
use finroute_testkit::{TestRouter, refused_borrower};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

use finroute_testkit::h2raw::{
    HEADERS, PREFACE, SETTINGS, WindowUpdateFlood, frame, grpc_request_block,
};

fn fd_count() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

async fn start(tune: impl FnOnce(&mut ServerConfig)) -> TestRouter {
    let mut config = Config::default();
    tune(&mut config.server);
    TestRouter::start(config).await
}

/// One Health/Check on `channel`, and how long it took.
async fn check(channel: &Channel) -> Result<Duration, tonic::Status> {
    let t = Instant::now();
    HealthClient::new(channel.clone())
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await?;
    Ok(t.elapsed())
}

/// A RouteFinancing call on a fresh connection succeeds.
async fn routes(router: &TestRouter) {
    let r = router
        .client()
        .await
        .route_financing(refused_borrower())
        .await
        .unwrap()
        .into_inner();
    assert!(!r.offers.is_empty(), "{:?}", r.channel_reports);
}

/// Reads (discarding what the server sends: SETTINGS, GOAWAY) until EOF or
/// a reset: whether that happened within `within`.
async fn closed_within(s: &mut TcpStream, within: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => {}
        }
    }
}

/// How many of `sockets` the server closed within `within` (checked together).
async fn count_closed(sockets: &mut [TcpStream], within: Duration) -> usize {
    let checks = sockets.iter_mut().map(|s| closed_within(s, within));
    futures::future::join_all(checks)
        .await
        .into_iter()
        .filter(|c| *c)
        .count()
}

async fn connect_many(addr: SocketAddr, n: usize) -> Vec<TcpStream> {
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        v.push(TcpStream::connect(addr).await.unwrap());
    }
    v
}

/// A numeric sample of the scrape, by its full name with labels.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| {
        l.strip_prefix(series)?
            .strip_prefix(' ')?
            .trim()
            .parse()
            .ok()
    })
}

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The log of this test binary (every test's router), from the first call on.
fn logs() -> Capture {
    static CAPTURE: OnceLock<Capture> = OnceLock::new();
    CAPTURE
        .get_or_init(|| {
            let capture = Capture::default();
            let writer = capture.clone();
            let _ = tracing_subscriber::fmt()
                .with_max_level(tracing::Level::INFO)
                .with_ansi(false)
                .with_writer(move || writer.clone())
                .try_init();
            capture
        })
        .clone()
}

impl Capture {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// 200 sockets that never send the preface hold no file descriptor of the
/// router past `server.first_request_timeout_ms`; a legitimate client is
/// served meanwhile.
#[tokio::test]
async fn sockets_that_never_send_the_preface_are_closed_after_the_first_request_timeout() {
    let router = start(|s| s.first_request_timeout_ms = 400).await;
    let legit = router.channel().await;
    check(&legit).await.unwrap();
    let base = fd_count();
    let mut silent = connect_many(router.addr, 200).await;
    // Both ends of each socket live in this process until the router
    // closes its end.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let held_before = fd_count().saturating_sub(base + 200);

    let took = check(&legit).await.unwrap();
    assert!(took < Duration::from_secs(2), "served in {took:?}");
    routes(&router).await;

    let closed = count_closed(&mut silent, Duration::from_millis(3_000)).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let held_after = fd_count().saturating_sub(base + 200);
    eprintln!(
        "silent sockets: router held {held_before} fds with 200 connected, {held_after} after the timeout; {closed}/200 closed by the router"
    );
    assert_eq!(closed, 200, "every silent socket was closed by the router");
    assert!(held_after <= 4, "router fds left: {held_after}");
    check(&legit).await.unwrap();
}

/// The preface, SETTINGS and a HEADERS frame without END_HEADERS (the
/// CONTINUATION never comes): closed after the first-request timeout.
#[tokio::test]
async fn half_a_headers_block_is_closed_after_the_first_request_timeout() {
    let router = start(|s| s.first_request_timeout_ms = 400).await;
    let legit = router.channel().await;
    let block = grpc_request_block("/grpc.health.v1.Health/Check");
    let mut half = Vec::new();
    for _ in 0..50 {
        let mut s = TcpStream::connect(router.addr).await.unwrap();
        let mut bytes = PREFACE.to_vec();
        bytes.extend(frame(SETTINGS, 0, 0, &[]));
        bytes.extend(frame(HEADERS, 0, 1, &block[..block.len() / 2]));
        s.write_all(&bytes).await.unwrap();
        half.push(s);
    }
    let t = Instant::now();
    check(&legit).await.unwrap();
    let closed = count_closed(&mut half, Duration::from_millis(3_000)).await;
    eprintln!(
        "half HEADERS blocks: {closed}/50 closed by the router within {:?}",
        t.elapsed()
    );
    assert_eq!(closed, 50);
    check(&legit).await.unwrap();
}

/// The status of a gRPC response: from trailers-only headers, or from the
/// trailers after the body.
async fn grpc_status(resp: http::Response<h2::RecvStream>) -> Option<i32> {
    let parse = |h: &http::HeaderMap| {
        h.get("grpc-status")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
    };
    if let Some(code) = parse(resp.headers()) {
        return Some(code);
    }
    let mut body = resp.into_body();
    while let Some(chunk) = body.data().await {
        let chunk = chunk.ok()?;
        let _ = body.flow_control().release_capacity(chunk.len());
    }
    parse(&body.trailers().await.ok()??)
}

fn grpc_request(addr: SocketAddr, path: &str) -> http::Request<()> {
    http::Request::post(format!("http://{addr}{path}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(())
        .unwrap()
}

/// A raw HTTP/2 connection (the `h2` crate); the task driving it ends when
/// the router closes the connection.
async fn h2_connect(
    addr: SocketAddr,
) -> (
    h2::client::SendRequest<bytes::Bytes>,
    tokio::task::JoinHandle<()>,
) {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (client, conn) = h2::client::handshake(tcp).await.unwrap();
    let driver = tokio::spawn(async move {
        let _ = conn.await;
    });
    (client.ready().await.unwrap(), driver)
}

/// A complete Health/Check on a raw connection: its grpc-status.
async fn h2_check(client: &mut h2::client::SendRequest<bytes::Bytes>, addr: SocketAddr) -> i32 {
    let (resp, mut body) = client
        .send_request(grpc_request(addr, "/grpc.health.v1.Health/Check"), false)
        .unwrap();
    // An empty HealthCheckRequest, gRPC-framed.
    body.send_data(bytes::Bytes::from_static(&[0, 0, 0, 0, 0]), true)
        .unwrap();
    let resp = tokio::time::timeout(Duration::from_secs(5), resp)
        .await
        .expect("an answer")
        .unwrap();
    grpc_status(resp).await.unwrap()
}

/// HEADERS without END_STREAM and no DATA: the call ends with
/// DEADLINE_EXCEEDED after `server.request_body_timeout_ms`, and the same
/// connection still serves the next call.
#[tokio::test]
async fn a_request_whose_body_never_arrives_fails_after_the_body_timeout() {
    let router = start(|s| s.request_body_timeout_ms = 300).await;
    let (mut client, _driver) = h2_connect(router.addr).await;
    let t = Instant::now();
    let (resp, _body_never_sent) = client
        .send_request(
            grpc_request(router.addr, "/grpc.health.v1.Health/Check"),
            false,
        )
        .unwrap();
    let resp = tokio::time::timeout(Duration::from_secs(5), resp).await;
    let took = t.elapsed();
    eprintln!(
        "request body never sent: answered after {took:?} ({})",
        if resp.is_ok() {
            "answered"
        } else {
            "no answer"
        }
    );
    let resp = resp
        .expect("the router answers a call whose body never arrives")
        .unwrap();
    assert!(took >= Duration::from_millis(250), "{took:?}");
    assert_eq!(
        grpc_status(resp).await,
        Some(tonic::Code::DeadlineExceeded as i32)
    );
    // The connection and other clients are fine.
    let mut client = client.ready().await.unwrap();
    assert_eq!(h2_check(&mut client, router.addr).await, 0);
    check(&router.channel().await).await.unwrap();
}

/// A connection with no call in flight is closed after
/// `server.idle_timeout_ms`; one with a call in flight (a Health/Watch
/// stream) is not, until that call ends.
#[tokio::test]
async fn idle_connections_are_closed_and_busy_ones_are_not() {
    let router = start(|s| {
        s.idle_timeout_ms = 500;
        s.first_request_timeout_ms = 5_000;
    })
    .await;
    // One call, then nothing.
    let (mut client, driver) = h2_connect(router.addr).await;
    assert_eq!(h2_check(&mut client, router.addr).await, 0);
    let idle_from = Instant::now();
    let closed = tokio::time::timeout(Duration::from_secs(4), driver).await;
    let idle_for = idle_from.elapsed();
    eprintln!(
        "idle connection: {} after {idle_for:?}",
        if closed.is_ok() {
            "closed"
        } else {
            "still open"
        }
    );
    assert!(closed.is_ok(), "the idle connection was closed");
    assert!(idle_for >= Duration::from_millis(400), "{idle_for:?}");

    // A Watch stream keeps its connection busy past the idle timeout.
    let (mut client, mut driver) = h2_connect(router.addr).await;
    let (resp, mut body) = client
        .send_request(
            grpc_request(router.addr, "/grpc.health.v1.Health/Watch"),
            false,
        )
        .unwrap();
    body.send_data(bytes::Bytes::from_static(&[0, 0, 0, 0, 0]), true)
        .unwrap();
    let resp = resp.await.unwrap();
    assert_eq!(resp.status(), 200);
    let mut watch = resp.into_body();
    assert!(watch.data().await.is_some(), "the first Watch message");
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert!(
        !driver.is_finished(),
        "a connection with a call in flight is not idle"
    );
    // Both halves gone: the client resets the stream, the call ends.
    drop((watch, body));
    let t = Instant::now();
    assert!(
        tokio::time::timeout(Duration::from_secs(4), &mut driver)
            .await
            .is_ok(),
        "closed once the call ended and the idle timeout passed"
    );
    assert!(
        t.elapsed() >= Duration::from_millis(400),
        "{:?}",
        t.elapsed()
    );
    check(&router.channel().await).await.unwrap();
}

/// With `server.max_connections = 20`, 20 silent sockets hold every slot:
/// the 21st client waits (the gauge shows 20, the limit is counted and
/// logged) and is served once the first-request timeout frees them.
#[tokio::test]
async fn at_max_connections_the_next_client_waits_for_a_free_slot() {
    let logs = logs();
    let router = start(|s| {
        s.max_connections = Some(20);
        s.first_request_timeout_ms = 1_000;
    })
    .await;
    // The start-up health checks' connections are gone first.
    let deadline = Instant::now() + Duration::from_secs(5);
    while sample(&router.scrape().await, "finroute_connections_open") != Some(0.0) {
        assert!(Instant::now() < deadline, "{}", router.scrape().await);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut silent = connect_many(router.addr, 20).await;
    tokio::time::sleep(Duration::from_millis(150)).await;
    let text = router.scrape().await;
    assert_eq!(
        sample(&text, "finroute_connections_open"),
        Some(20.0),
        "{text}"
    );

    let url = router.url();
    let t = Instant::now();
    let legit = tokio::spawn(async move {
        let channel = Channel::from_shared(url).unwrap().connect().await.unwrap();
        check(&channel).await
    });
    tokio::time::sleep(Duration::from_millis(400)).await;
    let waited = !legit.is_finished();
    let served = tokio::time::timeout(Duration::from_secs(6), legit).await;
    let took = t.elapsed();
    eprintln!(
        "21st client at max_connections = 20: {} after {took:?}",
        match &served {
            Ok(Ok(Ok(_))) => "served",
            _ => "not served",
        }
    );
    assert!(waited, "the 21st client waited for a slot");
    served.unwrap().unwrap().unwrap();
    let text = router.scrape().await;
    assert!(
        sample(&text, "finroute_connections_limit_reached_total").unwrap_or(0.0) >= 1.0,
        "{text}"
    );
    assert!(
        logs.text().contains("server.max_connections reached"),
        "{}",
        logs.text()
    );
    assert_eq!(count_closed(&mut silent, Duration::from_secs(3)).await, 20);
}

/// Sequential Health/Check calls on `channel` for `d`: sorted latencies and
/// failures.
async fn legit_load(channel: &Channel, d: Duration) -> (Vec<Duration>, usize) {
    let end = Instant::now() + d;
    let mut took = Vec::new();
    let mut failed = 0;
    while Instant::now() < end {
        match check(channel).await {
            Ok(t) => took.push(t),
            Err(_) => failed += 1,
        }
    }
    took.sort();
    (took, failed)
}

fn quantile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

/// One connection floods WINDOW_UPDATE frames on a closed stream as fast as
/// the router reads them: the router reads it no faster than
/// `server.connection_read_bytes_per_second`, and another client's calls
/// all succeed meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_window_update_flood_is_throttled_and_other_clients_are_served() {
    // A budget this debug build's h2 can outrun (it parses ~1.4 MB/s of
    // WINDOW_UPDATE frames unthrottled), far above what the calls need.
    let budget = 262_144;
    let router = start(|s| s.connection_read_bytes_per_second = budget).await;
    let channel = router.channel().await;
    let (quiet, quiet_failed) = legit_load(&channel, Duration::from_secs(1)).await;
    assert_eq!(quiet_failed, 0);

    // The flooder: stream 1 opened and ended (a call without a message),
    // then WINDOW_UPDATE frames for it, as fast as the socket takes them.
    let flood = WindowUpdateFlood::start(router.addr);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let w0 = flood.written();
    let t0 = Instant::now();
    let (flooded, failed) = legit_load(&channel, Duration::from_secs(2)).await;
    let flood_secs = t0.elapsed().as_secs_f64();
    let w1 = flood.written();
    // The flood ran to the end: the router neither closed the flooder's
    // connection (it is throttled, not refused) nor was sent broken frames.
    flood.stop().unwrap();
    let rate = (w1 - w0) as f64 / flood_secs;
    let p99 = quantile(&flooded, 0.99);
    eprintln!(
        "WINDOW_UPDATE flood: {:.1} MB/s = {:.0}k frames/s read from the flooder (budget {budget} B/s); \
         Health/Check quiet p50 {:?} p99 {:?} ({} calls/s), flooded p50 {:?} p99 {:?} ({} calls/s), {failed} failed",
        rate / 1e6,
        rate / 13.0 / 1e3,
        quantile(&quiet, 0.5),
        quantile(&quiet, 0.99),
        quiet.len(),
        quantile(&flooded, 0.5),
        p99,
        (flooded.len() as f64 / flood_secs) as u64,
    );
    assert_eq!(failed, 0, "every legitimate call succeeded");
    assert!(!flooded.is_empty());
    assert!(
        rate <= budget as f64 * 1.5 + 1e6,
        "the flooder was read at {rate:.0} B/s, over the budget of {budget} B/s"
    );
    assert!(p99 < Duration::from_millis(500), "p99 {p99:?}");
    routes(&router).await;
}
