//! A webhook receiver on 127.0.0.1:0 for the events the router pushes
//! (`docs/webhooks.md`): checks each request's signature, answers 500 to
//! the first `fail_first` requests and then 200 (after an optional delay),
//! and logs every request it answered.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use finroute_server::webhook::{EVENT_ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// One request the receiver answered.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The `Finroute-Event-Id` header.
    pub event_id: String,
    /// The body, parsed.
    pub body: serde_json::Value,
    /// The signature header matched the body, timestamp and secret, and
    /// the body's `event_id` matched the header.
    pub signature_ok: bool,
    /// Answered 2xx.
    pub acknowledged: bool,
}

impl Delivery {
    /// `application_id` of the body.
    pub fn application_id(&self) -> &str {
        self.body["application_id"].as_str().unwrap_or_default()
    }

    /// `sequence` of the body.
    pub fn sequence(&self) -> i64 {
        self.body["sequence"].as_i64().unwrap_or_default()
    }

    /// `type` of the body.
    pub fn kind(&self) -> &str {
        self.body["type"].as_str().unwrap_or_default()
    }
}

struct Receiver {
    secret: Vec<u8>,
    received: std::sync::atomic::AtomicUsize,
    fail_first: Mutex<usize>,
    delay: Mutex<Duration>,
    log: Mutex<Vec<Delivery>>,
}

/// The receiver; stops when dropped.
pub struct WebhookReceiver {
    addr: SocketAddr,
    state: Arc<Receiver>,
    task: JoinHandle<()>,
}

impl Drop for WebhookReceiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn hook(State(r): State<Arc<Receiver>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    r.received.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let event_id = header(EVENT_ID_HEADER);
    let timestamp: i64 = header(TIMESTAMP_HEADER).parse().unwrap_or(-1);
    let parsed: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let signature_ok = header(SIGNATURE_HEADER) == sign(&r.secret, timestamp, &body)
        && parsed["event_id"].as_str() == Some(event_id.as_str());
    let fail = {
        let mut n = r.fail_first.lock().unwrap_or_else(|e| e.into_inner());
        let fail = *n > 0;
        *n = n.saturating_sub(1);
        fail
    };
    if !fail {
        let delay = *r.delay.lock().unwrap_or_else(|e| e.into_inner());
        tokio::time::sleep(delay).await;
    }
    r.log
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(Delivery {
            event_id,
            body: parsed,
            signature_ok,
            acknowledged: !fail,
        });
    if fail {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::NO_CONTENT
    }
}

impl WebhookReceiver {
    /// Starts a receiver checking signatures with `secret` that answers
    /// 500 to its first `fail_first` requests.
    pub async fn start(secret: &str, fail_first: usize) -> WebhookReceiver {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the webhook receiver");
        let addr = listener.local_addr().expect("receiver address");
        let state = Arc::new(Receiver {
            secret: secret.as_bytes().to_vec(),
            received: Default::default(),
            fail_first: Mutex::new(fail_first),
            delay: Mutex::new(Duration::ZERO),
            log: Mutex::new(Vec::new()),
        });
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(hook))
            .with_state(state.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        WebhookReceiver { addr, state, task }
    }

    /// The url to configure: `http://127.0.0.1:port/hook`.
    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    /// How long a 2xx answer is held back (a slow receiver).
    pub fn set_delay(&self, delay: Duration) {
        *self.state.delay.lock().unwrap_or_else(|e| e.into_inner()) = delay;
    }

    /// Requests received so far (answered or not).
    pub fn received(&self) -> usize {
        self.state
            .received
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Every request answered, in the order answered.
    pub fn log(&self) -> Vec<Delivery> {
        self.state
            .log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The acknowledged events after dedup by event id: the first
    /// acknowledged delivery of each, in the order acknowledged.
    pub fn events(&self) -> Vec<Delivery> {
        let mut seen = std::collections::HashSet::new();
        self.log()
            .into_iter()
            .filter(|d| d.acknowledged && seen.insert(d.event_id.clone()))
            .collect()
    }

    /// Waits until `n` distinct events were acknowledged (panics after
    /// `within`); returns them as [`events`](Self::events) does.
    pub async fn wait_for(&self, n: usize, within: Duration) -> Vec<Delivery> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let events = self.events();
            if events.len() >= n {
                return events;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{} of {n} events acknowledged within {within:?}: {:?}",
                events.len(),
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Checks what the router promises: every request signed; after dedup
    /// every event once; per application the sequence 1, 2, ... in order,
    /// and no event sent before the one ahead of it was acknowledged.
    pub fn check_order_and_signatures(&self) {
        let log = self.log();
        for d in &log {
            assert!(d.signature_ok, "bad signature: {d:?}");
        }
        let mut acked: std::collections::HashMap<String, i64> = Default::default();
        for d in &log {
            let app = d.application_id().to_owned();
            let last = acked.get(&app).copied().unwrap_or(0);
            assert!(
                d.sequence() <= last + 1,
                "event {} of {app} sent before {} was acknowledged: {log:?}",
                d.sequence(),
                last + 1
            );
            if d.acknowledged && d.sequence() == last + 1 {
                acked.insert(app, d.sequence());
            }
        }
        let mut per_app: std::collections::HashMap<String, Vec<i64>> = Default::default();
        for d in self.events() {
            per_app
                .entry(d.application_id().to_owned())
                .or_default()
                .push(d.sequence());
        }
        for (app, seqs) in per_app {
            let expected: Vec<i64> = (1..=seqs.len() as i64).collect();
            assert_eq!(seqs, expected, "events of {app} after dedup");
        }
    }
}
