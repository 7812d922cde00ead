//! The router's own accept loop and connection wrapper: what tonic, hyper
//! and h2 do not bound on a connection, bounded here.
//!
//! tonic 0.14's server loop `continue`s at once on an accept error (so
//! EMFILE spins a core), has no connection cap, and hyper has no HTTP/2
//! header-read or idle timeout (hyperium/hyper#2894, #1628); h2 has no
//! limit on control frames, so a WINDOW_UPDATE flood costs the router as
//! much CPU as the peer can send. So:
//!
//! * [`incoming`] accepts at most `server.max_connections` connections at
//!   once (at the cap it stops calling accept; the kernel's backlog holds
//!   the rest), and backs off from 10 ms doubling to 1 s when accept fails
//!   for want of file descriptors or memory, instead of spinning;
//! * [`Conn`] fails its reads (which ends hyper's connection) when no
//!   request started within `server.first_request_timeout_ms` of the
//!   accept (no preface, half a HEADERS block, a TLS client that never
//!   asks anything: the TLS handshake runs on top of this stream), or when
//!   no call has been in flight for `server.idle_timeout_ms`; and reads at
//!   most `server.connection_read_bytes_per_second` from its peer;
//! * [`TrackCallsLayer`] counts each call in flight on its connection (from
//!   the request's headers until its response body is dropped) and fails a
//!   request body that has not arrived `server.request_body_timeout_ms`
//!   after the headers.
//!
//! tonic's `max_connection_age` (+ grace), set in `server.rs`, bounds
//! every connection's life, one whose peer never reads its responses
//! included (h2 then stops reading it, so no read timer here can fire).

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::time::Instant;

use bytes::Bytes;
use futures::Stream;
use http_body::{Body as HttpBody, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Sleep;
use tonic::transport::server::{Connected, TcpConnectInfo};

use crate::config::ServerConfig;
use crate::error::{Reason, error_status};
use crate::metrics::{AcceptFailure, CloseReason, Metrics};

/// What bounds a connection, from `[server]`.
#[derive(Debug, Clone)]
pub struct ConnSettings {
    pub max_connections: usize,
    pub first_request_timeout: Duration,
    pub idle_timeout: Duration,
    /// Bytes per second read from one peer, sustained; 0: no limit.
    pub read_bytes_per_second: u64,
}

/// `server.max_connections` when the config leaves it out.
pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;
/// File descriptors kept back from connections when the cap is derived
/// from the open-file limit (store, partners, metrics, the runtime).
const RESERVED_FDS: u64 = 256;

impl ConnSettings {
    pub fn from_config(s: &ServerConfig) -> ConnSettings {
        let fd_limit = open_file_limit();
        let max_connections = match (s.max_connections, fd_limit) {
            (Some(n), Some(limit)) => {
                if n as u64 + RESERVED_FDS / 4 > limit {
                    tracing::warn!(
                        max_connections = n,
                        open_file_limit = limit,
                        "server.max_connections is above the open-file limit: accept will fail \
                         (and back off) before the cap is reached"
                    );
                }
                n
            }
            (Some(n), None) => n,
            (None, Some(limit)) => {
                let room =
                    usize::try_from(limit.saturating_sub(RESERVED_FDS)).unwrap_or(usize::MAX);
                DEFAULT_MAX_CONNECTIONS.min(room).max(16)
            }
            (None, None) => DEFAULT_MAX_CONNECTIONS,
        };
        ConnSettings {
            max_connections,
            first_request_timeout: Duration::from_millis(s.first_request_timeout_ms),
            idle_timeout: Duration::from_millis(s.idle_timeout_ms),
            read_bytes_per_second: s.connection_read_bytes_per_second,
        }
    }
}

/// The soft limit on open files of this process (Linux: /proc/self/limits).
pub fn open_file_limit() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The connections accepted on `listener`, as tonic's
/// `serve_with_incoming_shutdown` takes them. Never yields an error: those
/// are handled here. Dropping the stream closes the listener.
pub fn incoming(
    listener: TcpListener,
    settings: ConnSettings,
    metrics: Arc<Metrics>,
) -> impl Stream<Item = io::Result<Conn>> + Send {
    let acceptor = Acceptor {
        listener,
        permits: Arc::new(Semaphore::new(
            settings.max_connections.min(Semaphore::MAX_PERMITS),
        )),
        settings: Arc::new(settings),
        metrics,
        at_cap: false,
        backoff: MIN_BACKOFF,
        last_warn: None,
    };
    futures::stream::unfold(acceptor, |mut a| async move {
        let conn = a.next().await;
        Some((Ok(conn), a))
    })
}

const MIN_BACKOFF: Duration = Duration::from_millis(10);
const MAX_BACKOFF: Duration = Duration::from_secs(1);
/// At most one warning per this long while accept keeps failing.
const WARN_EVERY: Duration = Duration::from_secs(10);

struct Acceptor {
    listener: TcpListener,
    permits: Arc<Semaphore>,
    settings: Arc<ConnSettings>,
    metrics: Arc<Metrics>,
    /// In an episode of the cap being reached (logged once per episode).
    at_cap: bool,
    backoff: Duration,
    last_warn: Option<Instant>,
}

impl Acceptor {
    async fn next(&mut self) -> Conn {
        loop {
            let permit = match self.permits.clone().try_acquire_owned() {
                Ok(p) => {
                    self.at_cap = false;
                    p
                }
                Err(_) => {
                    if !self.at_cap {
                        self.at_cap = true;
                        self.metrics.connections.limit_reached();
                        tracing::warn!(
                            max_connections = self.settings.max_connections,
                            "server.max_connections reached: not accepting new connections until one closes"
                        );
                    }
                    match self.permits.clone().acquire_owned().await {
                        Ok(p) => p,
                        // The semaphore is never closed.
                        Err(_) => std::future::pending().await,
                    }
                }
            };
            match self.listener.accept().await {
                Ok((stream, _)) => {
                    if self.backoff > MIN_BACKOFF {
                        tracing::info!("accepting connections again");
                    }
                    self.backoff = MIN_BACKOFF;
                    self.last_warn = None;
                    // Without it Nagle holds every reply back ~40 ms.
                    if let Err(e) = stream.set_nodelay(true) {
                        tracing::debug!(error = %e, "cannot set TCP_NODELAY");
                    }
                    self.metrics.connections.opened();
                    return Conn::new(stream, permit, self.settings.clone(), self.metrics.clone());
                }
                // That one connection failed before it was accepted.
                Err(e) if per_connection(&e) => {
                    tracing::debug!(error = %e, "accept: connection lost before it was accepted");
                }
                Err(e) => {
                    drop(permit);
                    let failure = accept_failure(&e);
                    self.metrics.connections.accept_backoff(failure);
                    if self.last_warn.is_none_or(|t| t.elapsed() >= WARN_EVERY) {
                        self.last_warn = Some(Instant::now());
                        tracing::warn!(
                            error = %e,
                            backoff_ms = self.backoff.as_millis() as u64,
                            open_connections = self.settings.max_connections
                                - self.permits.available_permits(),
                            "accept failed: backing off (doubling up to 1 s) instead of retrying at once"
                        );
                    }
                    tokio::time::sleep(self.backoff).await;
                    self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }
}

/// Errors of one pending connection, not of the listener.
fn per_connection(e: &io::Error) -> bool {
    use io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionAborted
            | ConnectionReset
            | ConnectionRefused
            | BrokenPipe
            | Interrupted
            | WouldBlock
            | TimedOut
            | PermissionDenied
            | NetworkDown
            | NetworkUnreachable
            | HostUnreachable
    ) || e.raw_os_error() == Some(libc::EPROTO)
}

fn accept_failure(e: &io::Error) -> AcceptFailure {
    match e.raw_os_error() {
        Some(libc::EMFILE | libc::ENFILE) => AcceptFailure::FdLimit,
        Some(libc::ENOBUFS | libc::ENOMEM) => AcceptFailure::Memory,
        _ => AcceptFailure::Other,
    }
}

/// What a connection and the calls on it share.
#[derive(Debug)]
struct ConnShared {
    accepted: Instant,
    /// A request's headers have reached the services.
    started: AtomicBool,
    calls: AtomicUsize,
    /// When the last call ended, in ms after `accepted`.
    idle_since_ms: AtomicU64,
}

/// What tonic inserts into each request's extensions for a [`Conn`] (under
/// TLS as well, next to its `TlsConnectInfo`).
#[derive(Debug, Clone)]
pub struct ConnInfo {
    pub local_addr: Option<SocketAddr>,
    pub remote_addr: Option<SocketAddr>,
    shared: Arc<ConnShared>,
}

/// One call in flight on a connection; dropping it ends the call.
#[derive(Debug)]
pub struct CallGuard(Arc<ConnShared>);

impl ConnInfo {
    fn call_started(&self) -> CallGuard {
        self.shared.calls.fetch_add(1, Ordering::AcqRel);
        self.shared.started.store(true, Ordering::Release);
        CallGuard(self.shared.clone())
    }
}

impl Drop for CallGuard {
    fn drop(&mut self) {
        let ms = self.0.accepted.elapsed().as_millis() as u64;
        self.0.idle_since_ms.store(ms, Ordering::Release);
        self.0.calls.fetch_sub(1, Ordering::AcqRel);
    }
}

/// An accepted connection: the TCP stream, its slot under
/// `server.max_connections`, its timers and its read budget.
pub struct Conn {
    io: TcpStream,
    info: ConnInfo,
    settings: Arc<ConnSettings>,
    metrics: Arc<Metrics>,
    /// Fires at the next moment the connection may have to be closed.
    timer: Pin<Box<Sleep>>,
    /// Set once the connection has been failed: every later read says so.
    failed: Option<CloseReason>,
    budget: Option<ReadBudget>,
    _permit: OwnedSemaphorePermit,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn").field("info", &self.info).finish()
    }
}

impl Conn {
    fn new(
        io: TcpStream,
        permit: OwnedSemaphorePermit,
        settings: Arc<ConnSettings>,
        metrics: Arc<Metrics>,
    ) -> Conn {
        let accepted = Instant::now();
        let info = ConnInfo {
            local_addr: io.local_addr().ok(),
            remote_addr: io.peer_addr().ok(),
            shared: Arc::new(ConnShared {
                accepted,
                started: AtomicBool::new(false),
                calls: AtomicUsize::new(0),
                idle_since_ms: AtomicU64::new(0),
            }),
        };
        let first_check = settings.first_request_timeout.min(settings.idle_timeout);
        let timer = Box::pin(tokio::time::sleep_until(accepted + first_check));
        let budget = (settings.read_bytes_per_second > 0)
            .then(|| ReadBudget::new(settings.read_bytes_per_second, accepted));
        Conn {
            io,
            info,
            settings,
            metrics,
            timer,
            failed: None,
            budget,
            _permit: permit,
        }
    }

    /// The next moment to look again, or why the connection must close now.
    fn next_check(&self, now: Instant) -> Result<Instant, CloseReason> {
        let s = &self.info.shared;
        if !s.started.load(Ordering::Acquire) {
            let at = s.accepted + self.settings.first_request_timeout;
            // Looked at again within the idle timeout too, so a first
            // call that ends early does not leave the connection idle past it.
            return if now >= at {
                Err(CloseReason::FirstRequestTimeout)
            } else {
                Ok(at.min(now + self.settings.idle_timeout))
            };
        }
        if s.calls.load(Ordering::Acquire) > 0 {
            return Ok(now + self.settings.idle_timeout);
        }
        let idle_since =
            s.accepted + Duration::from_millis(s.idle_since_ms.load(Ordering::Acquire));
        let at = idle_since + self.settings.idle_timeout;
        if now >= at {
            Err(CloseReason::IdleTimeout)
        } else {
            Ok(at)
        }
    }

    /// Polls the timer; an error when the connection must close.
    fn poll_timer(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        if let Some(reason) = self.failed {
            return Err(reason.error());
        }
        while self.timer.as_mut().poll(cx).is_ready() {
            match self.next_check(Instant::now()) {
                Ok(at) => self.timer.as_mut().reset(at),
                Err(reason) => {
                    self.failed = Some(reason);
                    self.metrics.connections.closed(reason);
                    tracing::debug!(reason = reason.name(), "closing connection");
                    return Err(reason.error());
                }
            }
        }
        Ok(())
    }
}

impl CloseReason {
    fn error(self) -> io::Error {
        io::Error::new(
            io::ErrorKind::TimedOut,
            match self {
                CloseReason::FirstRequestTimeout => {
                    "no request within server.first_request_timeout_ms"
                }
                CloseReason::IdleTimeout => "no call for server.idle_timeout_ms",
            },
        )
    }
}

/// A token bucket on the bytes read from one peer: a quarter-second's
/// worth of burst, then the rate. When it runs dry the connection is not
/// read until enough has refilled for a read worth doing.
struct ReadBudget {
    per_second: f64,
    burst: f64,
    tokens: f64,
    refilled: Instant,
    wait: Option<Pin<Box<Sleep>>>,
    /// In a spell of the budget running dry (counted once per spell).
    throttled: bool,
}

impl ReadBudget {
    fn new(per_second: u64, now: Instant) -> ReadBudget {
        let per_second = per_second as f64;
        ReadBudget {
            per_second,
            burst: per_second / 4.0,
            tokens: per_second / 4.0,
            refilled: now,
            wait: None,
            throttled: false,
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.refilled).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.burst);
        self.refilled = now;
    }

    /// Ready when reading may go on; Pending (woken when it may) if not.
    fn poll_allow(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let now = Instant::now();
        self.refill(now);
        if self.tokens > 0.0 {
            if self.tokens >= self.burst {
                self.throttled = false;
            }
            self.wait = None;
            return Poll::Ready(());
        }
        // Wait until a twentieth of a second's worth is back: each read
        // after a wait is worth doing, and the wake-ups stay few.
        let need = -self.tokens + self.per_second / 20.0;
        let at = now + Duration::from_secs_f64(need / self.per_second);
        let wait = match &mut self.wait {
            Some(wait) => {
                wait.as_mut().reset(at);
                wait
            }
            None => self.wait.insert(Box::pin(tokio::time::sleep_until(at))),
        };
        if wait.as_mut().poll(cx).is_ready() {
            self.wait = None;
            return Poll::Ready(());
        }
        Poll::Pending
    }

    /// Counts `n` bytes read; true when that starts a throttled spell.
    fn spend(&mut self, n: usize) -> bool {
        self.tokens -= n as f64;
        if self.tokens <= 0.0 && !self.throttled {
            self.throttled = true;
            return true;
        }
        false
    }
}

impl AsyncRead for Conn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        this.poll_timer(cx)?;
        if let Some(budget) = &mut this.budget {
            ready!(budget.poll_allow(cx));
        }
        let before = buf.filled().len();
        ready!(Pin::new(&mut this.io).poll_read(cx, buf))?;
        if let Some(budget) = &mut this.budget
            && budget.spend(buf.filled().len() - before)
        {
            this.metrics.connections.throttled();
            tracing::debug!("connection read budget spent: reading it more slowly");
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.metrics.connections.dropped();
    }
}

impl Connected for Conn {
    type ConnectInfo = ConnInfo;

    fn connect_info(&self) -> ConnInfo {
        self.info.clone()
    }
}

/// The tower layer that counts calls on their connection and bounds the
/// time a request body may take.
#[derive(Debug, Clone)]
pub struct TrackCallsLayer {
    body_timeout: Duration,
    metrics: Arc<Metrics>,
}

impl TrackCallsLayer {
    pub fn new(body_timeout: Duration, metrics: Arc<Metrics>) -> TrackCallsLayer {
        TrackCallsLayer {
            body_timeout,
            metrics,
        }
    }
}

impl<S> tower::Layer<S> for TrackCallsLayer {
    type Service = TrackCalls<S>;

    fn layer(&self, inner: S) -> TrackCalls<S> {
        TrackCalls {
            inner,
            body_timeout: self.body_timeout,
            metrics: self.metrics.clone(),
        }
    }
}

/// See [`TrackCallsLayer`].
#[derive(Debug, Clone)]
pub struct TrackCalls<S> {
    inner: S,
    body_timeout: Duration,
    metrics: Arc<Metrics>,
}

type Request = http::Request<tonic::body::Body>;

impl<S, B> tower::Service<Request> for TrackCalls<S>
where
    S: tower::Service<Request, Response = http::Response<B>>,
{
    type Response = http::Response<Tracked<B>>;
    type Error = S::Error;
    type Future = TrackedFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request) -> Self::Future {
        let guard = req.extensions().get::<ConnInfo>().cloned().map(|info| {
            // What tonic's Request::remote_addr() looks for.
            req.extensions_mut().insert(TcpConnectInfo {
                local_addr: info.local_addr,
                remote_addr: info.remote_addr,
            });
            info.call_started()
        });
        // The reflection stream is a conversation: each message of it,
        // not the whole, must come within the bound.
        let per_message = req.uri().path().starts_with("/grpc.reflection.");
        let (timeout, metrics) = (self.body_timeout, self.metrics.clone());
        let req = req.map(|body| {
            if body.is_end_stream() {
                body
            } else {
                tonic::body::Body::new(TimedBody {
                    inner: body,
                    deadline: Instant::now() + timeout,
                    timeout,
                    per_message,
                    sleep: None,
                    done: false,
                    metrics,
                })
            }
        });
        TrackedFuture {
            inner: self.inner.call(req),
            guard,
        }
    }
}

pin_project_lite::pin_project! {
    /// The response future of [`TrackCalls`]: carries the call's guard into
    /// the response body.
    pub struct TrackedFuture<F> {
        #[pin]
        inner: F,
        guard: Option<CallGuard>,
    }
}

impl<F, B, E> Future for TrackedFuture<F>
where
    F: Future<Output = Result<http::Response<B>, E>>,
{
    type Output = Result<http::Response<Tracked<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let response = ready!(this.inner.poll(cx))?;
        let guard = this.guard.take();
        Poll::Ready(Ok(response.map(|inner| Tracked {
            inner,
            _guard: guard,
        })))
    }
}

pin_project_lite::pin_project! {
    /// A response body that ends its call when dropped.
    pub struct Tracked<B> {
        #[pin]
        inner: B,
        _guard: Option<CallGuard>,
    }
}

impl<B: HttpBody> HttpBody for Tracked<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        self.project().inner.poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A request body that fails with DEADLINE_EXCEEDED if it is not complete
/// by its deadline (or, `per_message`, if a frame does not follow the last
/// one within the timeout).
struct TimedBody {
    inner: tonic::body::Body,
    deadline: Instant,
    timeout: Duration,
    per_message: bool,
    sleep: Option<Pin<Box<Sleep>>>,
    done: bool,
    metrics: Arc<Metrics>,
}

impl HttpBody for TimedBody {
    type Data = Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, tonic::Status>>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if this.per_message {
                    this.deadline = Instant::now() + this.timeout;
                    if let Some(sleep) = &mut this.sleep {
                        sleep.as_mut().reset(this.deadline);
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(other) => {
                this.sleep = None;
                Poll::Ready(other)
            }
            Poll::Pending => {
                let deadline = this.deadline;
                let sleep = this
                    .sleep
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
                ready!(sleep.as_mut().poll(cx));
                this.done = true;
                this.sleep = None;
                this.metrics.connections.body_timed_out();
                Poll::Ready(Some(Err(error_status(
                    tonic::Code::DeadlineExceeded,
                    format!(
                        "the request body did not arrive within {} ms (server.request_body_timeout_ms)",
                        this.timeout.as_millis()
                    ),
                    Reason::RequestBodyTimeout,
                    &[],
                ))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_errors_of_one_connection_are_skipped_and_the_rest_back_off() {
        let os = io::Error::from_raw_os_error;
        assert!(per_connection(&os(libc::ECONNABORTED)));
        assert!(per_connection(&os(libc::EPROTO)));
        for e in [libc::EMFILE, libc::ENFILE, libc::ENOBUFS, libc::ENOMEM] {
            assert!(!per_connection(&os(e)), "{e}");
        }
        assert!(matches!(
            accept_failure(&os(libc::EMFILE)),
            AcceptFailure::FdLimit
        ));
        assert!(matches!(
            accept_failure(&os(libc::ENFILE)),
            AcceptFailure::FdLimit
        ));
        assert!(matches!(
            accept_failure(&os(libc::ENOMEM)),
            AcceptFailure::Memory
        ));
        assert!(matches!(
            accept_failure(&os(libc::EINVAL)),
            AcceptFailure::Other
        ));
    }

    #[test]
    fn the_read_budget_refills_at_its_rate_up_to_a_quarter_second() {
        let t0 = Instant::now();
        let mut b = ReadBudget::new(1_000_000, t0);
        assert_eq!(b.tokens, 250_000.0);
        assert!(!b.spend(200_000));
        assert!(b.spend(100_000), "running dry starts a spell");
        assert!(!b.spend(1), "once per spell");
        b.refill(t0 + Duration::from_millis(100));
        assert!((b.tokens - 49_999.0).abs() < 1.0, "{}", b.tokens);
        b.refill(t0 + Duration::from_secs(10));
        assert_eq!(b.tokens, 250_000.0, "capped at the burst");
    }

    #[test]
    fn the_open_file_limit_is_read_on_linux() {
        if cfg!(target_os = "linux") {
            assert!(open_file_limit().is_some_and(|n| n > 0));
        }
    }
}
