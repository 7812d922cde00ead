//! Starting and stopping the router: `run(config, listener, shutdown)`.
//! `main` binds and passes ctrl-c; tests bind `127.0.0.1:0`.
//!
//! Health reports NOT_SERVING until the store is migrated and the adapters
//! are described, and again from the first moment of shutdown; the drain of
//! calls in flight is bounded (hyper's graceful shutdown alone can hang).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use finroute_proto::v1 as pb;
use finroute_store::Store;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tonic::transport::{Certificate, Identity, Server, ServerTlsConfig};
use tonic_health::ServingStatus;

use crate::accept::{Relay, RelaySettings};
use crate::auth::{Authenticator, Need};
use crate::clock::Clock;
use crate::config::Config;
use crate::convert::RequestDefaults;
use crate::drain::InFlight;
use crate::error_layer::ErrorDetailsLayer;
use crate::fanout::Registry;
use crate::listener::{ConnSettings, TrackCallsLayer};
use crate::metrics::{self, ChannelCollector, GaugeFn, Metrics};
use crate::odds::OddsLearner;
use crate::outcomes::OutcomeService;
use crate::partner_lists::PartnerLists;
use crate::review::ReviewService;
use crate::router::{RouterService, RouterSettings};
use crate::store_health::{StoreHealth, WatchSettings};
use tonic::service::interceptor::InterceptedService;

/// The message for an address the router could not bind: the setting,
/// the `finroute serve` flag and the environment variable that move it,
/// and, when the address is taken, whether another finroute holds it.
pub fn bind_error(
    what: &str,
    addr: SocketAddr,
    key: &str,
    flag: &str,
    e: &std::io::Error,
) -> String {
    let var = format!("FINROUTE_{}", key.replace('.', "_").to_ascii_uppercase());
    let mut m = format!(
        "cannot listen for {what} on {addr}: {e}; set {key} in the config, {flag} on \
         `finroute serve` or {var} (port 0 picks a free port)"
    );
    if e.kind() == std::io::ErrorKind::AddrInUse {
        m.push_str("; is another finroute (or another program) already using this port?");
    }
    m
}

/// Why the router could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("store: {0}")]
    Store(#[from] finroute_store::StoreError),
    #[error("{0}")]
    Adapter(#[from] finroute_adapters::spec::BuildError),
    #[error("reflection: {0}")]
    Reflection(String),
    #[error("transport: {0}")]
    Transport(#[from] tonic::transport::Error),
    #[error("listener: {0}")]
    Io(#[from] std::io::Error),
    #[error("config: {0}")]
    Config(crate::config::ConfigError),
    #[error("{}", bind_error("metrics", *.0, "server.metrics_listen", "--metrics-listen", .1))]
    Metrics(SocketAddr, std::io::Error),
    #[error("{}", bind_error("the console", *.0, "server.console_listen", "--console-listen", .1))]
    Console(SocketAddr, std::io::Error),
}

/// How long the metrics endpoint may take, once the drain is over, to
/// finish the scrapes it is answering (a connection stuck half-way through
/// its request is dropped).
const METRICS_STOP: Duration = Duration::from_millis(100);

const ROUTER: &str = "finroute.v1.FinancingRouter";
const REVIEW: &str = "finroute.v1.ReviewService";
const OUTCOMES: &str = "finroute.v1.PartnerOutcomeService";
/// The health names that follow the store's reachability.
const STORE_BOUND: [&str; 4] = ["", ROUTER, REVIEW, OUTCOMES];
/// Every service on the router's port, as reflection lists them.
const SERVED: [&str; 6] = [
    ROUTER,
    REVIEW,
    OUTCOMES,
    "grpc.health.v1.Health",
    "grpc.reflection.v1.ServerReflection",
    "grpc.reflection.v1alpha.ServerReflection",
];

/// The rustls server config from `[server.tls]`, files read and checked
/// now (a bad file stops the start with its key named).
fn tls_config(tls: &crate::config::ServerTlsConfig) -> Result<ServerTlsConfig, ServeError> {
    let read = |key: &str, path: &std::path::Path| {
        std::fs::read(path).map_err(|e| {
            ServeError::Config(crate::config::ConfigError::Invalid {
                key: format!("server.tls.{key}"),
                message: format!("cannot read {}: {e}", path.display()),
            })
        })
    };
    let cert = read("cert_file", &tls.cert_file)?;
    let key = read("key_file", &tls.key_file)?;
    let mut config = ServerTlsConfig::new()
        .identity(Identity::from_pem(cert, key))
        .timeout(Duration::from_millis(tls.handshake_timeout_ms));
    if let Some(ca) = &tls.client_ca_file {
        // One bundle: client_ca_root replaces, it does not add.
        config = config.client_ca_root(Certificate::from_pem(read("client_ca_file", ca)?));
    }
    Ok(config)
}

/// Every check `run` makes of `config` before it opens the store or binds
/// a port, each problem naming its key: the config's own rules, the
/// adapters (an endpoint written without `http://`...), the api keys, the
/// TLS files and the partner-lists file. `finroute config check` prints
/// them all; `run` refuses to start on the first, before anything is
/// written (a refused start leaves no `finroute.db` behind).
pub fn preflight(config: &Config) -> Vec<ServeError> {
    let mut problems = Vec::new();
    if let Err(e) = config.validate() {
        problems.push(ServeError::Config(e));
    }
    for spec in &config.adapters {
        if let Err(e) = spec.build() {
            problems.push(ServeError::Adapter(e));
        }
    }
    if let Err(e) = Authenticator::from_config(&config.auth) {
        problems.push(ServeError::Config(e));
    }
    if let Some(tls) = &config.server.tls
        && let Err(e) = tls_config(tls)
    {
        problems.push(e);
    }
    if let Some(path) = &config.compliance.partner_lists_file {
        let read = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))
            .and_then(|text| crate::partner_lists::parse_file(&text).map(|_| ()));
        if let Err(message) = read {
            problems.push(ServeError::Config(crate::config::ConfigError::Invalid {
                key: "compliance.partner_lists_file".into(),
                message,
            }));
        }
    }
    // `validate` checks some of the same (the api keys): each problem once.
    let mut seen = std::collections::HashSet::new();
    problems.retain(|p| seen.insert(p.to_string()));
    problems
}

/// Runs the router on `listener` until `shutdown` completes, then drains
/// (bounded by `server.shutdown_grace_ms`) and flushes the store.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    run_with_clock(config, listener, shutdown, Clock::system()).await
}

/// [`run`] with the review desk's claim lapses and SLAs measured on
/// `clock` (tests move a [`Clock::manual`] forward instead of sleeping).
pub async fn run_with_clock(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
    clock: Clock,
) -> Result<(), ServeError> {
    let addr: SocketAddr = listener.local_addr()?;
    let (health, health_service) = tonic_health::server::health_reporter();
    for name in ["", ROUTER, REVIEW, OUTCOMES] {
        health
            .set_service_status(name, ServingStatus::NotServing)
            .await;
    }

    // Nothing is written before the config is known to be usable.
    if let Some(problem) = preflight(&config).into_iter().next() {
        return Err(problem);
    }
    let store = Store::connect(&config.store.url).await?;
    // A list file that cannot be loaded refuses the start, naming the entry.
    let partner_lists = PartnerLists::start(
        store.clone(),
        config.compliance.partner_lists_file.clone(),
        config.compliance.require_partner_list,
    )
    .await
    .map_err(|e| {
        ServeError::Config(crate::config::ConfigError::Invalid {
            key: "compliance.partner_lists_file".into(),
            message: e.to_string(),
        })
    })?;
    let registry = Registry::build(&config.adapters, config.breaker_settings())?;
    let described = registry.describe_all().await;

    let quotas = Arc::new(crate::quota::Quotas::new(store.clone(), &config.quotas));
    let settings = RouterSettings {
        policy: config.pricing_policy(),
        defaults: RequestDefaults {
            strategy: config.routing.strategy,
            max_offers: config.routing.max_offers,
        },
        default_deadline: Duration::from_millis(config.routing.deadline_ms),
        reply_margin: Duration::from_millis(config.routing.reply_margin_ms),
        accept_wait: Duration::from_millis(config.acceptance.wait_ms),
        max_in_flight_routes: config.server.max_in_flight_routes,
        platform: config.platform.party(finroute_core::PartyRole::Platform),
        partner_lists: partner_lists.clone(),
        quotas: quotas.clone(),
        rules: Arc::new(config.routing.rule_set()),
        max_late_calls: config.routing.max_late_calls as usize,
    };
    // The relay resumes acceptances a previous run left unfinished before
    // the port opens.
    let metrics = Arc::new(Metrics::default());
    metrics.partner_outcome_series(config.adapters.iter().map(|a| a.id.as_str()));
    // The odds book is learned before the port opens, so a restarted
    // replica shows what the outcomes taught from its first call.
    let odds = OddsLearner::new(
        store.clone(),
        config.odds.model,
        config.odds.learning,
        Duration::from_millis(config.odds.refresh_ms),
    );
    if let Err(e) = odds.refresh().await {
        tracing::warn!(error = %e, "odds: reading outcomes failed; starting without history");
    }
    let odds_task = odds.spawn();
    let relay = Relay::new(
        store.clone(),
        registry.clone(),
        RelaySettings {
            partner_timeout: Duration::from_millis(config.acceptance.partner_timeout_ms),
            poll_interval: Duration::from_millis(config.acceptance.poll_interval_ms),
            max_backoff: Duration::from_millis(config.acceptance.max_backoff_ms),
        },
        metrics.clone(),
        odds.clone(),
        quotas.clone(),
    );
    let relay_task = relay.spawn_poller();
    // Events to the platform: resumes what a previous run left undelivered.
    let webhook_metrics = crate::webhook::WebhookMetrics::default();
    let webhooks = crate::webhook::Webhooks::new(
        store.clone(),
        &config.webhooks,
        &config.events,
        webhook_metrics.clone(),
    )
    .map_err(ServeError::Config)?;
    let webhooks_task = webhooks.spawn();
    // Reloads the partner lists on SIGHUP and when the file changes; stops
    // on every way out of `run`.
    let lists_stop = tokio_util::sync::CancellationToken::new();
    let _stop_lists = lists_stop.clone().drop_guard();
    let lists_task = partner_lists.spawn_watch(
        Duration::from_millis(config.compliance.partner_lists_poll_ms),
        lists_stop.clone(),
    );
    // Calls of the router's own services in flight (health and reflection
    // are not waited for).
    let in_flight = InFlight::default();
    let router = RouterService::new(
        registry.clone(),
        store.clone(),
        relay,
        odds.clone(),
        settings,
        in_flight.clone(),
        metrics.clone(),
    );
    // `server.metrics = false` (or `--metrics-listen ''`): no endpoint.
    let metrics_listener = if config.server.metrics {
        let l = TcpListener::bind(config.server.metrics_listen)
            .await
            .map_err(|e| ServeError::Metrics(config.server.metrics_listen, e))?;
        Some(l)
    } else {
        None
    };
    let metrics_addr = match &metrics_listener {
        Some(l) => format!("http://{}/metrics", l.local_addr()?),
        None => "off (server.metrics = false)".to_owned(),
    };
    let conn_metrics = metrics.clone();
    // One registry: the router-wide series, and what is read at scrape
    // time from the channels, the router and the odds book.
    let mut exposition = prometheus_client::registry::Registry::default();
    metrics.register(&mut exposition);
    webhook_metrics.register(&mut exposition);
    exposition.register_collector(Box::new(ChannelCollector::new(registry.clone())));
    exposition.register_collector(Box::new({
        let router = router.clone();
        GaugeFn::new(
            "finroute_routes_in_flight",
            "Routing calls in flight.",
            move || i64::try_from(router.routes_in_flight()).unwrap_or(i64::MAX),
        )
    }));
    exposition.register_collector(Box::new(odds.clone()));
    exposition.register_collector(Box::new(quotas.clone()));
    let metrics_stop = tokio_util::sync::CancellationToken::new();
    // Stops the endpoint on every way out of `run`, errors included.
    let _stop_metrics = metrics_stop.clone().drop_guard();
    let mut metrics_task = metrics_listener.map(|listener| {
        tokio::spawn(metrics::serve(
            listener,
            Arc::new(exposition),
            metrics_stop.clone(),
        ))
    });
    let max_in = config.server.max_request_bytes;
    let max_out = config.server.max_response_bytes;
    let auth = Authenticator::from_config(&config.auth).map_err(ServeError::Config)?;
    auth.check_listen(addr, config.auth.allow_open)
        .map_err(ServeError::Config)?;
    // ListAppeals page tokens are sealed with this secret: the configured
    // one, else a random one per start, so tokens do not survive a restart
    // or work on another replica (docs/api.md, ListAppeals).
    let page_token_secret = config
        .review
        .page_token_secret()
        .unwrap_or_else(crate::review::random_page_token_secret);
    // While the store is unreachable every call is refused at once.
    let store_health = StoreHealth::new();
    let router = InterceptedService::new(
        crate::router::RouteFront::new(
            pb::financing_router_server::FinancingRouterServer::new(router.clone())
                .max_decoding_message_size(max_in)
                .max_encoding_message_size(max_out),
            router,
            max_in,
            max_out,
        ),
        store_health.gate(auth.interceptor(Need::Router)),
    );
    let review_service = ReviewService::new(
        store.clone(),
        in_flight.clone(),
        &page_token_secret,
        config.review.clone(),
    )
    .with_clock(clock);
    // The console (server.console_listen): the same review service, for
    // operators signed in with their keys, on its own port.
    let console_stop = tokio_util::sync::CancellationToken::new();
    let _stop_console = console_stop.clone().drop_guard();
    let (console_task, console_addr) = match config.server.console_listen {
        None => (None, crate::console::describe(None, false)),
        Some(at) => {
            let listener = TcpListener::bind(at)
                .await
                .map_err(|e| ServeError::Console(at, e))?;
            let bound = listener.local_addr()?;
            let tls = match &config.server.tls {
                Some(t) => Some(
                    crate::console::tls_config(&t.cert_file, &t.key_file).map_err(|message| {
                        ServeError::Config(crate::config::ConfigError::Invalid {
                            key: "server.tls".into(),
                            message,
                        })
                    })?,
                ),
                None => None,
            };
            let secure = tls.is_some();
            let console = crate::console::Console::new(
                review_service.clone(),
                registry.clone(),
                auth.clone(),
                config.review.clone(),
                secure,
            );
            let task = tokio::spawn(crate::console::serve(
                listener,
                tls,
                console,
                console_stop.clone(),
            ));
            (Some(task), crate::console::describe(Some(bound), secure))
        }
    };
    let review = InterceptedService::new(
        pb::review_service_server::ReviewServiceServer::new(review_service)
            .max_decoding_message_size(max_in)
            .max_encoding_message_size(max_out),
        store_health.gate(auth.interceptor(Need::Operator)),
    );
    // Partners report outcomes on the same port, with their own keys
    // (role `partner`, one channel each).
    let outcomes =
        InterceptedService::new(
            pb::partner_outcome_service_server::PartnerOutcomeServiceServer::new(
                OutcomeService::new(store.clone(), in_flight.clone(), metrics.clone()),
            )
            .max_decoding_message_size(max_in)
            .max_encoding_message_size(max_out),
            store_health.gate(auth.interceptor(Need::Partner)),
        );

    // Both reflection versions list exactly the services this port serves
    // (not the FinancingAdapter contract, which partners implement).
    let reflection = || {
        let mut b = tonic_reflection::server::Builder::configure()
            .include_reflection_service(false)
            .register_encoded_file_descriptor_set(finroute_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            // google.rpc.BadRequest & co, so grpcurl can print error details.
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

    for name in ["", ROUTER, REVIEW, OUTCOMES] {
        health
            .set_service_status(name, ServingStatus::Serving)
            .await;
    }
    store_health
        .start(
            store.clone(),
            health.clone(),
            &STORE_BOUND,
            WatchSettings::default(),
        )
        .await;
    tracing::info!(
        %addr,
        tls = match &config.server.tls {
            None => "off (plaintext h2c)",
            Some(t) if t.client_ca_file.is_some() => "on, client certificates required",
            Some(_) => "on",
        },
        store = store.backend().name(),
        adapters = config.adapters.len(),
        described,
        metrics = %metrics_addr,
        console = %console_addr,
        auth = %if auth.is_open() {
            "none: no [[auth.keys]] configured, open to any caller (run on loopback only)"
                .to_owned()
        } else {
            format!(
                "{} api keys configured, one required on every call (authorization: Bearer)",
                auth.key_count()
            )
        },
        "finroute ready: listening on {addr}"
    );

    // Shutdown: mark NOT_SERVING first, stop accepting, then bound the drain.
    let draining = Arc::new(Notify::new());
    let signal = {
        let health = health.clone();
        let draining = draining.clone();
        let store_health = store_health.clone();
        async move {
            shutdown.await;
            tracing::info!("shutdown requested: draining calls in flight");
            // Before NOT_SERVING: the watcher must not report SERVING again.
            store_health.stop().await;
            for name in ["", ROUTER, REVIEW, OUTCOMES] {
                health
                    .set_service_status(name, ServingStatus::NotServing)
                    .await;
            }
            draining.notify_one();
        }
    };
    let grace = Duration::from_millis(config.server.shutdown_grace_ms);
    let conn_settings = ConnSettings::from_config(&config.server);
    tracing::info!(
        max_connections = conn_settings.max_connections,
        first_request_timeout_ms = config.server.first_request_timeout_ms,
        idle_timeout_ms = config.server.idle_timeout_ms,
        request_body_timeout_ms = config.server.request_body_timeout_ms,
        max_connection_age_ms = config.server.max_connection_age_ms,
        connection_read_bytes_per_second = config.server.connection_read_bytes_per_second,
        "connection limits"
    );
    let mut builder = Server::builder();
    if let Some(tls) = &config.server.tls {
        builder = builder
            .tls_config(tls_config(tls)?)
            .map_err(ServeError::Transport)?;
    }
    let serve = builder
        .max_concurrent_streams(config.server.max_concurrent_streams)
        .http2_max_pending_accept_reset_streams(Some(256))
        .http2_max_local_error_reset_streams(Some(1024))
        .http2_max_header_list_size(16 * 1024)
        .http2_keepalive_interval(Some(Duration::from_secs(60)))
        .http2_keepalive_timeout(Some(Duration::from_secs(20)))
        .concurrency_limit_per_connection(config.server.concurrency_limit_per_connection)
        .load_shed(true)
        // The hard bound on any connection's life: GOAWAY at the age, closed
        // whatever is in flight after the grace (clients reconnect).
        .max_connection_age(Duration::from_millis(config.server.max_connection_age_ms))
        .max_connection_age_grace(Duration::from_millis(
            config.server.max_connection_age_grace_ms,
        ))
        .layer(TrackCallsLayer::new(
            Duration::from_millis(config.server.request_body_timeout_ms),
            conn_metrics.clone(),
        ))
        // ErrorInfo and LocalizedMessage on every error of our services.
        .layer(ErrorDetailsLayer)
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(router)
        .add_service(review)
        .add_service(outcomes)
        // Our accept loop (listener.rs): the connection cap, accept backoff,
        // TCP_NODELAY, and the first-request, idle and read-budget bounds.
        .serve_with_incoming_shutdown(
            crate::listener::incoming(listener, conn_settings, conn_metrics),
            signal,
        );
    // The drain ends when the last call in flight is answered (idle client
    // connections do not hold it up), or at the bound.
    let bounded_drain = async {
        draining.notified().await;
        // Let calls whose headers were already read reach the counter.
        tokio::time::sleep(Duration::from_millis(20)).await;
        // Near the bound, the calls still running are cut short: they
        // answer with what they have (partial routes, PENDING acceptances)
        // in the time left instead of being dropped unanswered.
        let all = in_flight.drain(grace).await;
        // The last replies are handed to hyper when their call ends: give
        // it a moment to write them before the connections are dropped.
        tokio::time::sleep(Duration::from_millis(50)).await;
        all
    };
    tokio::select! {
        r = serve => r?,
        all_answered = bounded_drain => if all_answered {
            tracing::info!("drained: every call in flight was answered");
        } else {
            tracing::warn!(
                grace_ms = grace.as_millis() as u64,
                in_flight = in_flight.count(),
                "drain bound reached; stopping with calls in flight"
            );
        },
    }
    // Acceptances in flight at the partner are left leased: the next start
    // (or another replica) re-drives them with the same key.
    relay_task.abort();
    // A delivery cut short here is sent again once its lease runs out (the
    // receiver deduplicates on the event id).
    webhooks_task.abort();
    odds_task.abort();
    lists_stop.cancel();
    if let Some(task) = lists_task {
        task.abort();
    }
    console_stop.cancel();
    if let Some(mut task) = console_task
        && tokio::time::timeout(METRICS_STOP, &mut task).await.is_err()
    {
        task.abort();
    }
    // The metrics endpoint served the drain; now it stops accepting and
    // closes its idle connections.
    metrics_stop.cancel();
    if let Some(task) = metrics_task.as_mut()
        && tokio::time::timeout(METRICS_STOP, &mut *task)
            .await
            .is_err()
    {
        task.abort();
    }
    store.close().await;
    tracing::info!("finroute stopped");
    Ok(())
}
