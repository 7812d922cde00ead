//! The SIGKILL loop (issue 14, fault matrix (a)): a client keeps routing
//! and accepting, each acceptance on a fresh offer with its own
//! idempotency key, while a killer SIGKILLs the `finroute` process every
//! 0.5–1 s (at random) and restarts it on the same store, on a new port.
//! The client retries each key through UNAVAILABLE, broken connections and
//! PENDING until it has a final answer. The partner is a fake in this test
//! process (outside the killed router), idempotent on its key, recording
//! every call and every booking.
//!
//! At the end, for every key: exactly one acceptance, ACCEPTED, in the
//! store and in GetApplication, with the answer the client got; and the
//! partner holds exactly one booking per acceptance (it may have been
//! called more than once with the same key). 0 lost, 0 doubled, 0 stuck.
//!
//! `FINROUTE_SIGKILL_ACCEPTS` sets the number of acceptances per backend
//! (default 20, for the test suite); `bench/sigkill_accept.sh` runs 200.
//! `FINROUTE_SIGKILL_SEED` replays a run's kill times.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::RouterProcess;
use finroute_proto::v1 as pb;
use finroute_store::{AcceptanceState, Store};
use finroute_testkit::{
    AcceptMode, Behaviour, FakePartner, PgSchema, partner_offer, refused_borrower,
};
use pb::financing_router_client::FinancingRouterClient;
use tonic::Code;
use tonic::transport::Channel;

/// A key with no final answer after this long is stuck.
const STUCK_AFTER: Duration = Duration::from_secs(60);

fn accepts_wanted() -> usize {
    match std::env::var("FINROUTE_SIGKILL_ACCEPTS") {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("FINROUTE_SIGKILL_ACCEPTS={v:?} is not a count")),
        Err(_) => 20,
    }
}

/// xorshift64*: the kill times, reproducible from the printed seed.
struct Rng(u64);

impl Rng {
    fn seeded() -> (Rng, u64) {
        let seed = match std::env::var("FINROUTE_SIGKILL_SEED") {
            Ok(v) => v
                .parse()
                .unwrap_or_else(|_| panic!("FINROUTE_SIGKILL_SEED={v:?} is not a u64")),
            Err(_) => std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64,
        };
        (Rng(seed | 1), seed)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in [lo, hi) milliseconds.
    fn millis(&mut self, lo: u64, hi: u64) -> Duration {
        Duration::from_millis(lo + self.next() % (hi - lo))
    }
}

fn write_config(dir: &Path, store_url: &str, partner: &FakePartner) -> PathBuf {
    // A short partner budget keeps a dead process's lease short (budget +
    // 1 s), so a row it held is re-driven soon after the restart.
    let text = format!(
        r#"
[server]
metrics_listen = "127.0.0.1:0"

[store]
url = "{store_url}"

[acceptance]
partner_timeout_ms = 1000
poll_interval_ms = 100
max_backoff_ms = 1000

[[adapters]]
id = "bank-a"
kind = "remote"
endpoint = "http://{}"
timeout_ms = 1000
"#,
        partner.addr
    );
    let path = dir.join("finroute.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Where the router listens now (each restart picks a new port).
type Current = Arc<Mutex<SocketAddr>>;

/// The killer: every 0.5–1 s of uptime, SIGKILL and restart on the same
/// store, until `done`. Returns the live router and the number of kills.
fn killer(
    config: PathBuf,
    first: RouterProcess,
    current: Current,
    done: Arc<AtomicBool>,
    failed: Arc<Mutex<Option<String>>>,
    mut rng: Rng,
) -> (Option<RouterProcess>, u32) {
    let mut router = first;
    let mut kills = 0;
    loop {
        let up = Instant::now();
        let life = rng.millis(500, 1_000);
        while up.elapsed() < life {
            if done.load(Ordering::SeqCst) {
                return (Some(router), kills);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        router.kill();
        kills += 1;
        router = match RouterProcess::try_start(&config) {
            Ok(r) => r,
            Err(e) => {
                *failed.lock().unwrap() = Some(format!("restart {kills}: {e}"));
                done.store(true, Ordering::SeqCst);
                return (None, kills);
            }
        };
        *current.lock().unwrap() = router.addr;
    }
}

/// A routed application and its bank-a offer.
#[derive(Debug)]
struct Routed {
    application_id: String,
    offer_id: String,
    /// The partner's reference of the offer (unique per quote).
    partner_offer_ref: String,
}

/// What the client saw for one key.
#[derive(Debug)]
enum Outcome {
    Accepted {
        routed: Routed,
        acceptance_id: String,
        partner_reference: String,
    },
    /// A final answer other than ACCEPTED (status or error code).
    Other(String),
    /// No final answer within [`STUCK_AFTER`].
    Stuck,
}

#[derive(Debug, Default)]
struct Tally {
    /// Calls that failed and were retried, by code.
    retried: BTreeMap<String, u32>,
    /// PENDING answers (retried with the same key).
    pending: u32,
    /// Routes retried because the answer had no bank-a offer.
    no_offer: u32,
}

fn retryable(code: Code) -> bool {
    matches!(
        code,
        Code::Unavailable
            | Code::Unknown
            | Code::Cancelled
            | Code::DeadlineExceeded
            | Code::Aborted
            | Code::ResourceExhausted
    )
}

/// A client for wherever the router is now (connected on first use).
fn client_now(current: &Current) -> FinancingRouterClient<Channel> {
    let addr = *current.lock().unwrap();
    let channel = Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect_timeout(Duration::from_millis(500))
        .connect_lazy();
    FinancingRouterClient::new(channel)
}

/// After a failed call: a moment for the restart, then a fresh client.
async fn reconnect(current: &Current) -> FinancingRouterClient<Channel> {
    tokio::time::sleep(Duration::from_millis(20)).await;
    client_now(current)
}

/// Route until an answer holds a bank-a offer; None if stuck past `until`.
async fn route(
    client: &mut FinancingRouterClient<Channel>,
    current: &Current,
    tally: &mut Tally,
    until: Instant,
) -> Result<Routed, Outcome> {
    loop {
        if Instant::now() >= until {
            return Err(Outcome::Stuck);
        }
        let mut req = tonic::Request::new(refused_borrower());
        req.set_timeout(Duration::from_millis(2_000));
        let answer = tokio::time::timeout(Duration::from_secs(3), client.route_financing(req))
            .await
            .unwrap_or_else(|_| Err(tonic::Status::deadline_exceeded("client-side timeout")));
        match answer {
            Ok(r) => {
                let r = r.into_inner();
                match r.offers.iter().find(|o| o.adapter_id == "bank-a") {
                    Some(o) => {
                        return Ok(Routed {
                            application_id: r.application_id,
                            offer_id: o.offer_id.clone(),
                            partner_offer_ref: o.partner_offer_ref.clone(),
                        });
                    }
                    None => {
                        tally.no_offer += 1;
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
            }
            Err(s) if retryable(s.code()) => {
                *tally
                    .retried
                    .entry(format!("route {:?}", s.code()))
                    .or_default() += 1;
                *client = reconnect(current).await;
            }
            Err(s) => return Err(Outcome::Other(format!("route: {:?}", s.code()))),
        }
    }
}

/// Accept `offer_id` under `key`, retrying the same key until final.
async fn accept(
    client: &mut FinancingRouterClient<Channel>,
    current: &Current,
    tally: &mut Tally,
    routed: Routed,
    key: &str,
    until: Instant,
) -> Outcome {
    loop {
        if Instant::now() >= until {
            return Outcome::Stuck;
        }
        let mut req = tonic::Request::new(pb::AcceptOfferRequest {
            offer_id: routed.offer_id.clone(),
            idempotency_key: key.into(),
            applicant_id: "app-7f3a9c".into(),
        });
        req.set_timeout(Duration::from_millis(1_000));
        let answer = tokio::time::timeout(Duration::from_secs(2), client.accept_offer(req))
            .await
            .unwrap_or_else(|_| Err(tonic::Status::deadline_exceeded("client-side timeout")));
        match answer {
            Ok(r) => {
                let r = r.into_inner();
                match pb::AcceptanceStatus::try_from(r.status) {
                    Ok(pb::AcceptanceStatus::Accepted) => {
                        return Outcome::Accepted {
                            routed,
                            acceptance_id: r.acceptance_id,
                            partner_reference: r.partner_reference,
                        };
                    }
                    Ok(pb::AcceptanceStatus::Pending) => tally.pending += 1,
                    other => return Outcome::Other(format!("accept answered {other:?}")),
                }
            }
            Err(s) if retryable(s.code()) => {
                *tally
                    .retried
                    .entry(format!("accept {:?}", s.code()))
                    .or_default() += 1;
                *client = reconnect(current).await;
            }
            Err(s) => return Outcome::Other(format!("accept: {:?} {}", s.code(), s.message())),
        }
    }
}

async fn sigkill_loop(backend: &str, store_url: &str, dir: &Path) {
    let n = accepts_wanted();
    let (rng, seed) = Rng::seeded();
    // A partner that books on receipt and answers 100 ms later: kills
    // often land between its booking and the router hearing of it.
    let partner = FakePartner::start_with(
        Behaviour::Numbered(vec![partner_offer("P", 1_000_000, 1100, 0.7)]),
        vec![],
        AcceptMode::BookThenDelay(Duration::from_millis(100)),
    )
    .await;
    let config = write_config(dir, store_url, &partner);
    let started = Instant::now();
    let first = RouterProcess::start(&config);
    let current: Current = Arc::new(Mutex::new(first.addr));
    let done = Arc::new(AtomicBool::new(false));
    let failed = Arc::new(Mutex::new(None));
    let killer = {
        let (config, current, done, failed) = (
            config.clone(),
            current.clone(),
            done.clone(),
            failed.clone(),
        );
        std::thread::spawn(move || killer(config, first, current, done, failed, rng))
    };

    let mut tally = Tally::default();
    let mut outcomes: Vec<(String, Outcome)> = Vec::with_capacity(n);
    let mut client = client_now(&current);
    for i in 0..n {
        if done.load(Ordering::SeqCst) {
            break; // the killer could not restart the router
        }
        let key = format!("sigkill-{i}");
        let until = Instant::now() + STUCK_AFTER;
        let outcome = match route(&mut client, &current, &mut tally, until).await {
            Ok(routed) => accept(&mut client, &current, &mut tally, routed, &key, until).await,
            Err(outcome) => outcome,
        };
        outcomes.push((key, outcome));
    }
    done.store(true, Ordering::SeqCst);
    let (router, kills) = killer.join().unwrap();
    let loop_elapsed = started.elapsed();
    if let Some(e) = failed.lock().unwrap().take() {
        panic!("the killer could not restart the router: {e}");
    }
    let router = router.unwrap();
    assert_eq!(outcomes.len(), n);

    // What went wrong, by kind. lost: an acceptance the client was told
    // of that the store, GetApplication or the partner does not have.
    // doubled: more than one acceptance for a key, more than one booking
    // for an acceptance, or a booking for an offer no key accepted. wrong:
    // present once but not as the client was told (another id, status or
    // reference). stuck: no final answer in time, or left open in the store.
    let mut lost = Vec::new();
    let mut doubled = Vec::new();
    let mut wrong = Vec::new();
    let mut stuck = Vec::new();
    let mut other = Vec::new();

    // The API's view: each key's application shows its one acceptance.
    let mut client = client_now(&current);
    let mut accepted = Vec::new();
    for (key, outcome) in &outcomes {
        match outcome {
            Outcome::Accepted {
                routed,
                acceptance_id,
                partner_reference,
            } => {
                let app = client
                    .get_application(pb::GetApplicationRequest {
                        application_id: routed.application_id.clone(),
                        ..Default::default()
                    })
                    .await
                    .unwrap()
                    .into_inner();
                match app.acceptances.as_slice() {
                    [a] if a.acceptance_id == *acceptance_id
                        && a.status == pb::AcceptanceStatus::Accepted as i32
                        && a.partner_reference == *partner_reference => {}
                    [] => lost.push(format!("{key}: GetApplication shows no acceptance")),
                    [a] => wrong.push(format!("{key}: GetApplication shows {a:?}")),
                    many => doubled.push(format!("{key}: {} acceptances", many.len())),
                }
                accepted.push((key, routed, acceptance_id, partner_reference));
            }
            Outcome::Stuck => stuck.push(key.clone()),
            Outcome::Other(what) => other.push(format!("{key}: {what}")),
        }
    }
    assert!(router.terminate().success(), "SIGTERM exits 0");

    // The store's view: the key's one acceptance; nothing open; exactly as
    // many final acceptances as keys accepted.
    let store = Store::connect(store_url).await.unwrap();
    for (key, _, acceptance_id, reference) in &accepted {
        let row = store
            .find_acceptance_by_key(finroute_server::auth::OPEN_TENANT, key)
            .await
            .unwrap();
        match row {
            Some(r)
                if r.acceptance_id == **acceptance_id
                    && r.status == AcceptanceState::Accepted
                    && r.partner_reference == **reference => {}
            Some(r) => wrong.push(format!("{key}: stored as {:?}", r.status)),
            None => lost.push(format!("{key}: no acceptance stored")),
        }
    }
    let open = store.open_acceptances().await.unwrap();
    let finals: u64 = store
        .outcome_counts()
        .await
        .unwrap()
        .iter()
        .map(|c| c.accepted + c.declined)
        .sum();
    store.close().await;
    if finals > accepted.len() as u64 {
        doubled.push(format!(
            "the store holds {finals} final acceptances for {} keys",
            accepted.len()
        ));
    }

    // The partner's view: each offer the client accepted booked once,
    // under the acceptance id, with the reference the client was told.
    let booked = partner.booked();
    let calls = partner.accepts();
    let offer_of_key: BTreeMap<&str, &str> = calls
        .iter()
        .map(|c| (c.idempotency_key.as_str(), c.partner_offer_ref.as_str()))
        .collect();
    let mut bookings_of_offer: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for k in booked.keys() {
        let offer = offer_of_key.get(k.as_str()).copied().unwrap_or("?");
        bookings_of_offer.entry(offer).or_default().push(k);
    }
    for (key, routed, acceptance_id, reference) in &accepted {
        match bookings_of_offer
            .remove(routed.partner_offer_ref.as_str())
            .unwrap_or_default()
            .as_slice()
        {
            [] => lost.push(format!("{key}: no booking at the partner")),
            [k] if *k == acceptance_id.as_str() && booked[*k] == **reference => {}
            [_] => wrong.push(format!(
                "{key}: booked under another key or reference than the client was told"
            )),
            many => doubled.push(format!("{key}: {} bookings at the partner", many.len())),
        }
    }
    for (offer, keys) in &bookings_of_offer {
        doubled.push(format!(
            "{} bookings for offer {offer}, which no key accepted",
            keys.len()
        ));
    }
    let mut calls_per_key: BTreeMap<&str, usize> = BTreeMap::new();
    for c in &calls {
        *calls_per_key.entry(c.idempotency_key.as_str()).or_default() += 1;
    }
    let redriven = calls_per_key.values().filter(|&&c| c > 1).count();
    let retried: u32 = tally.retried.values().sum();

    println!(
        "sigkill loop ({backend}): accepted {}/{n}, lost {}, doubled {}, stuck {}, wrong {}, \
         other {}, kills {kills}, elapsed {:.1} s; partner: {} bookings, {} calls, {redriven} \
         keys called more than once; client: {retried} retried calls {:?}, {} PENDING answers, \
         {} routes without the partner's offer; store: {finals} final acceptances, {open} open; \
         seed {seed}",
        accepted.len(),
        lost.len(),
        doubled.len(),
        stuck.len() as u64 + open,
        wrong.len(),
        other.len(),
        loop_elapsed.as_secs_f64(),
        booked.len(),
        calls.len(),
        tally.retried,
        tally.pending,
        tally.no_offer,
    );
    assert!(lost.is_empty(), "lost: {lost:#?}");
    assert!(doubled.is_empty(), "doubled: {doubled:#?}");
    assert!(wrong.is_empty(), "not as the client was told: {wrong:#?}");
    assert!(stuck.is_empty(), "stuck keys (seed {seed}): {stuck:?}");
    assert_eq!(open, 0, "acceptances left unfinished in the store");
    assert!(other.is_empty(), "unexpected final answers: {other:#?}");
    assert_eq!(accepted.len(), n, "every key accepted");
    assert_eq!(
        finals, n as u64,
        "one final acceptance in the store per key"
    );
    assert_eq!(booked.len(), n, "one booking at the partner per key");
    assert!(kills > 0, "the router was killed at least once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_every_half_second_accepts_each_key_once_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("finroute.db").display());
    sigkill_loop("sqlite", &url, dir.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_every_half_second_accepts_each_key_once_on_postgres() {
    let Some(pg) = PgSchema::create().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    sigkill_loop("postgres", &pg.url, dir.path()).await;
    pg.drop_schema().await;
}
