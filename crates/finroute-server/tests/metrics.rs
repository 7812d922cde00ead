//! The `/metrics` contract operators' dashboards and alerts rely on: every
//! series the router has always exposed, with its type, label names, label
//! values and histogram buckets, scraped from a real router over HTTP and
//! parsed as Prometheus text exposition (version 0.0.4).

#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};

use finroute_testkit::{TestRouter, builtin_specs, refused_borrower, with_timeout};

/// The upper bounds of every latency histogram, as `le` label values.
const BUCKETS: [&str; 13] = [
    "0.001", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "0.75", "1", "2.5", "10",
    "+Inf",
];
const STATUSES: [&str; 11] = [
    "ok",
    "no_offer",
    "timeout",
    "error",
    "circuit_open",
    "ineligible",
    "no_consent",
    "excluded",
    "quota_exhausted",
    "skipped_by_rule",
    "not_needed",
];

/// A parsed scrape: the families' declared types, and every sample by its
/// series (name and sorted labels).
struct Scrape {
    types: BTreeMap<String, String>,
    helps: BTreeSet<String>,
    samples: BTreeMap<String, f64>,
}

/// `name{a="x",b="y"}` with the labels in the given order.
fn series(name: &str, labels: &[(&str, &str)]) -> String {
    if labels.is_empty() {
        return name.to_owned();
    }
    let inner: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    format!("{name}{{{}}}", inner.join(","))
}

/// Parses the body of the scrape; fails on any line that is not a comment,
/// a blank or a `series value` sample, on a sample whose family was not
/// declared by a `# TYPE` line before it, and on a series seen twice.
fn parse(body: &str) -> Scrape {
    let mut s = Scrape {
        types: BTreeMap::new(),
        helps: BTreeSet::new(),
        samples: BTreeMap::new(),
    };
    for line in body.lines() {
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            assert!(
                s.types.insert(name.to_owned(), kind.to_owned()).is_none(),
                "{name} declared twice"
            );
            continue;
        }
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap();
            assert!(!help.trim().is_empty(), "{name} has no help");
            assert!(!help.ends_with(".."), "{name}: {help}");
            s.helps.insert(name.to_owned());
            continue;
        }
        assert!(!line.starts_with('#'), "unexpected comment {line:?}");
        let (series, value) = line.rsplit_once(' ').unwrap();
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            v => v.parse().unwrap_or_else(|e| panic!("{line:?}: {e}")),
        };
        let name = series.split('{').next().unwrap();
        let family = [name, name.trim_end_matches("_bucket")]
            .into_iter()
            .chain(name.strip_suffix("_sum"))
            .chain(name.strip_suffix("_count"))
            .find(|f| s.types.contains_key(*f))
            .unwrap_or_else(|| panic!("{line:?} has no # TYPE before it"));
        if family != name {
            assert_eq!(s.types[family], "histogram", "{line:?}");
        }
        assert!(
            s.samples.insert(series.to_owned(), value).is_none(),
            "{series} appears twice"
        );
    }
    s
}

impl Scrape {
    fn family(&self, name: &str, kind: &str) {
        assert_eq!(
            self.types.get(name).map(String::as_str),
            Some(kind),
            "the type of {name}"
        );
        assert!(self.helps.contains(name), "{name} has no # HELP");
    }

    fn sample(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let key = series(name, labels);
        *self
            .samples
            .get(&key)
            .unwrap_or_else(|| panic!("missing series {key}"))
    }

    /// A histogram: every bucket, cumulative, `+Inf` equal to `_count`.
    fn histogram(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.family(name, "histogram");
        let mut last = 0.0;
        for le in BUCKETS {
            let mut with_le = labels.to_vec();
            with_le.push(("le", le));
            let n = self.sample(&format!("{name}_bucket"), &with_le);
            assert!(n >= last, "{name} buckets are not cumulative at le={le}");
            last = n;
        }
        let count = self.sample(&format!("{name}_count"), labels);
        assert_eq!(last, count, "{name}: +Inf bucket vs _count");
        let sum = self.sample(&format!("{name}_sum"), labels);
        assert!(sum >= 0.0 && sum.is_finite(), "{name}_sum = {sum}");
        count
    }

    /// Every sample of `family` (its own name, or its histogram parts).
    fn series_of(&self, family: &str) -> Vec<&str> {
        self.samples
            .keys()
            .filter(|k| {
                let name = k.split('{').next().unwrap_or_default();
                name == family
                    || [
                        format!("{family}_bucket"),
                        format!("{family}_sum"),
                        format!("{family}_count"),
                    ]
                    .iter()
                    .any(|n| n == name)
            })
            .map(String::as_str)
            .collect()
    }
}

/// Every documented series exists with its type, label names and values,
/// and buckets; nothing else is exposed; the content type is the one
/// Prometheus expects for the text format.
#[tokio::test]
async fn every_documented_series_is_scraped_with_its_type_labels_and_buckets() {
    let router = TestRouter::embedded().await;
    let mut client = router.client().await;
    client
        .route_financing(with_timeout(refused_borrower(), 2_000))
        .await
        .unwrap();
    let mut bad = refused_borrower();
    bad.requested_amount = None;
    client.route_financing(bad).await.unwrap_err();

    let raw = router.scrape().await;
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let content_type = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-type").then(|| v.trim())
        })
        .unwrap_or_else(|| panic!("no content-type in {head}"));
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    let s = parse(body);

    let channels: Vec<String> = builtin_specs().into_iter().map(|c| c.id).collect();
    assert!(!channels.is_empty());
    s.family("finroute_channel_calls_total", "counter");
    s.family("finroute_channel_offers_returned_total", "counter");
    s.family("finroute_channel_offers_rejected_total", "counter");
    s.family("finroute_channel_circuit_state", "gauge");
    s.family("finroute_channel_in_flight", "gauge");
    for ch in &channels {
        let c = ch.as_str();
        let mut calls = 0.0;
        for status in STATUSES {
            calls += s.sample(
                "finroute_channel_calls_total",
                &[("channel", c), ("status", status)],
            );
        }
        assert_eq!(calls, 1.0, "{c}: one report per routed application");
        let called = s.histogram("finroute_channel_latency_seconds", &[("channel", c)]);
        assert!(called <= 1.0, "{c}");
        s.sample("finroute_channel_offers_returned_total", &[("channel", c)]);
        s.sample("finroute_channel_offers_rejected_total", &[("channel", c)]);
        assert_eq!(
            s.sample("finroute_channel_circuit_state", &[("channel", c)]),
            0.0
        );
        assert_eq!(
            s.sample("finroute_channel_in_flight", &[("channel", c)]),
            0.0
        );
    }
    // Exactly the configured channels and statuses, nothing more.
    assert_eq!(
        s.series_of("finroute_channel_calls_total").len(),
        channels.len() * STATUSES.len()
    );
    assert_eq!(
        s.series_of("finroute_channel_latency_seconds").len(),
        channels.len() * (BUCKETS.len() + 2)
    );

    s.family("finroute_routes_total", "counter");
    for (outcome, n) in [
        ("ok", 1.0),
        ("stored", 0.0),
        ("invalid", 1.0),
        ("shed", 0.0),
        ("failed", 0.0),
    ] {
        assert_eq!(
            s.sample("finroute_routes_total", &[("outcome", outcome)]),
            n,
            "{outcome}"
        );
    }
    assert_eq!(s.series_of("finroute_routes_total").len(), 5);
    assert_eq!(s.histogram("finroute_route_latency_seconds", &[]), 1.0);
    s.family("finroute_routes_in_flight", "gauge");
    assert_eq!(s.sample("finroute_routes_in_flight", &[]), 0.0);
    s.family("finroute_acceptances_total", "counter");
    for status in ["accepted", "declined"] {
        assert_eq!(
            s.sample("finroute_acceptances_total", &[("status", status)]),
            0.0
        );
    }
    s.family("finroute_acceptance_retries_total", "counter");
    s.sample("finroute_acceptance_retries_total", &[]);
    assert_eq!(s.histogram("finroute_store_commit_seconds", &[]), 1.0);
    s.family("finroute_partner_outcomes_total", "counter");
    assert_eq!(
        s.sample(
            "finroute_partner_outcomes_total",
            &[("adapter", "partner-sim"), ("kind", "FUNDED")]
        ),
        0.0
    );

    // Webhook deliveries (tests/webhooks.rs checks the values; the
    // per-tenant finroute_webhook_deliveries_total shows once a tenant has
    // a [[webhooks]] entry or an event was settled).
    s.family("finroute_webhook_retries_total", "counter");
    assert_eq!(s.sample("finroute_webhook_retries_total", &[]), 0.0);
    s.family("finroute_webhook_backlog", "gauge");
    assert_eq!(s.sample("finroute_webhook_backlog", &[]), 0.0);
    s.family("finroute_webhook_backlog_age_seconds", "gauge");
    assert_eq!(s.sample("finroute_webhook_backlog_age_seconds", &[]), 0.0);

    s.family("finroute_connections_open", "gauge");
    assert!(s.sample("finroute_connections_open", &[]) >= 1.0);
    s.family("finroute_connections_accepted_total", "counter");
    assert!(s.sample("finroute_connections_accepted_total", &[]) >= 1.0);
    s.family("finroute_connections_limit_reached_total", "counter");
    s.sample("finroute_connections_limit_reached_total", &[]);
    s.family("finroute_accept_backoffs_total", "counter");
    for reason in ["fd_limit", "memory", "other"] {
        s.sample("finroute_accept_backoffs_total", &[("reason", reason)]);
    }
    s.family("finroute_connections_closed_total", "counter");
    for reason in ["first_request_timeout", "idle_timeout"] {
        s.sample("finroute_connections_closed_total", &[("reason", reason)]);
    }
    s.family("finroute_connections_throttled_total", "counter");
    s.sample("finroute_connections_throttled_total", &[]);
    s.family("finroute_request_body_timeouts_total", "counter");
    s.sample("finroute_request_body_timeouts_total", &[]);

    // What the odds model learned: declared always, one series per channel
    // with outcomes (none yet here; tests/odds.rs checks the values).
    for name in [
        "finroute_odds_outcomes",
        "finroute_odds_approval_rate",
        "finroute_odds_partner_trust",
    ] {
        s.family(name, "gauge");
    }

    // Nothing undocumented slipped in.
    let documented: BTreeSet<&str> = [
        "finroute_channel_calls_total",
        "finroute_channel_latency_seconds",
        "finroute_channel_offers_returned_total",
        "finroute_channel_offers_rejected_total",
        "finroute_channel_circuit_state",
        "finroute_channel_in_flight",
        // Declared even without [[quotas]] (no samples then).
        "finroute_channel_quota_limit",
        "finroute_channel_quota_used",
        "finroute_routes_total",
        "finroute_route_latency_seconds",
        "finroute_routes_in_flight",
        "finroute_acceptances_total",
        "finroute_acceptance_retries_total",
        "finroute_store_commit_seconds",
        "finroute_late_calls_total",
        "finroute_late_offers_total",
        "finroute_late_calls_in_flight",
        // One series per channel and kind, at 0 until a partner reports
        // (tests/outcomes.rs checks the counts).
        "finroute_partner_outcomes_total",
        "finroute_webhook_retries_total",
        "finroute_webhook_backlog",
        "finroute_webhook_backlog_age_seconds",
        "finroute_connections_open",
        "finroute_connections_accepted_total",
        "finroute_connections_limit_reached_total",
        "finroute_accept_backoffs_total",
        "finroute_connections_closed_total",
        "finroute_connections_throttled_total",
        "finroute_request_body_timeouts_total",
        "finroute_odds_outcomes",
        "finroute_odds_approval_rate",
        "finroute_odds_partner_trust",
    ]
    .into();
    let declared: BTreeSet<&str> = s.types.keys().map(String::as_str).collect();
    assert_eq!(declared, documented);
    router.stop().await.unwrap();
}

/// Anything but `GET /metrics` is a 404 that says where to look.
#[tokio::test]
async fn other_paths_are_not_found() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let router = TestRouter::embedded().await;
    let mut s = tokio::net::TcpStream::connect(router.metrics_addr)
        .await
        .unwrap();
    s.write_all(b"GET /other HTTP/1.1\r\nhost: test\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).await.unwrap();
    assert!(text.starts_with("HTTP/1.1 404"), "{text}");
    assert!(text.contains("/metrics"), "{text}");
    router.stop().await.unwrap();
}

/// A scraper stuck half-way through its request neither blocks scrapes
/// nor holds up the router's shutdown.
#[tokio::test]
async fn a_half_sent_scrape_does_not_hold_up_the_shutdown() {
    use tokio::io::AsyncWriteExt;
    let router = TestRouter::embedded().await;
    let mut stuck = tokio::net::TcpStream::connect(router.metrics_addr)
        .await
        .unwrap();
    stuck.write_all(b"GET /metr").await.unwrap();
    assert!(router.scrape().await.contains("finroute_routes_total"));
    // The endpoint would keep that connection for its whole life (10 s);
    // `run` gives it 100 ms once the drain is over.
    tokio::time::timeout(std::time::Duration::from_secs(3), router.stop())
        .await
        .expect("run returned within 3 s")
        .unwrap();
    drop(stuck);
}
