//! The `finroute` command line (`docs/config.md`, "Command line").
//!
//! Exit codes: 0 ok, 2 bad usage or bad config (the message names the
//! field), 1 anything else.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use finroute_conformance as conformance;
use finroute_server::Config;
use finroute_server::config::ConfigError;

mod client;
mod signal;

/// A multi-channel financing router: turns a refused draw into ranked, honestly priced offers.
#[derive(Debug, Parser)]
#[command(name = "finroute", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the router (the embedded default without --config).
    Serve {
        /// TOML config file; without it: SQLite `finroute.db`, built-in adapters, 127.0.0.1:50051.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Address to listen on (overrides `server.listen`); port 0 picks a free one.
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// Address of the Prometheus endpoint (overrides
        /// `server.metrics_listen`, default 127.0.0.1:9464); port 0 picks a
        /// free one, which the ready line names. Two routers on one machine
        /// need a different --listen and --metrics-listen each. An empty
        /// value (`--metrics-listen ''`) turns the endpoint off.
        #[arg(long, value_parser = metrics_listen_arg)]
        metrics_listen: Option<MetricsListen>,
        /// Address of the operators' web console (overrides
        /// `server.console_listen`, default off); port 0 picks a free one,
        /// which the ready line names. An empty value turns it off. It
        /// needs `[[auth.keys]]` with the operator role.
        #[arg(long, value_parser = console_listen_arg)]
        console_listen: Option<MetricsListen>,
    },
    /// Conformance kit: run the adapter contract checks against a live
    /// partner adapter and print a PASS/WARN/FAIL/SKIP table; exit 0 only
    /// when none fails (a WARN does not).
    CheckAdapter {
        /// The adapter's `http://host:port`, or `https://host:port` with --ca.
        #[arg(long)]
        endpoint: String,
        /// PEM file of the CA the adapter's certificate must chain to (for https://).
        #[arg(long)]
        ca: Option<PathBuf>,
        /// PEM client certificate, for an adapter that asks for one (mTLS); with --key.
        #[arg(long, requires = "key", requires = "ca")]
        cert: Option<PathBuf>,
        /// PEM private key of --cert.
        #[arg(long, requires = "cert")]
        key: Option<PathBuf>,
        /// The name the adapter's certificate must carry (default: the endpoint's host).
        #[arg(long, requires = "ca")]
        domain_name: Option<String>,
        /// Most time a Quote may take, in ms (the router's default channel timeout).
        #[arg(long, default_value_t = finroute_adapters::spec::DEFAULT_TIMEOUT_MS)]
        quote_budget_ms: u64,
        /// Most time a Describe, Accept or health call may take, in ms.
        #[arg(long, default_value_t = 5000)]
        call_budget_ms: u64,
    },
    /// Apply store migrations and exit.
    Migrate {
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Config file commands.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// API key commands.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Client: route a request file (protobuf JSON, as
    /// examples/grpcurl/*.json) through a running router and print the
    /// ranked offers, the explanation and the plan.
    Route {
        /// The RouteFinancingRequest as JSON (`-` reads stdin).
        file: PathBuf,
        /// Print the whole answer as protobuf JSON instead of the table.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        connection: client::Connection,
    },
    /// Client: accept an offer of an application.
    Accept {
        /// The application id (`app_...`) the offer belongs to.
        application_id: String,
        /// The offer id (`off_...`) to accept.
        offer_id: String,
        /// The applicant's id, as in the routed request.
        #[arg(long)]
        applicant: String,
        /// The same key again returns the first outcome (safe retries);
        /// without it a fresh one is made and printed.
        #[arg(long)]
        idempotency_key: Option<String>,
        /// Print the answer as protobuf JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        connection: client::Connection,
    },
    /// Client: file an appeal against an application's refusal.
    Appeal {
        /// The application id (`app_...`).
        application_id: String,
        /// income-changed, data-error, line-reduced-unfairly or other.
        #[arg(long, value_parser = client::appeal_reason)]
        reason: i32,
        /// The channel whose refusal is contested; empty = the primary line.
        #[arg(long, default_value = "")]
        adapter: String,
        /// The applicant's own words (at most 2 000 characters).
        #[arg(long, default_value = "")]
        details: String,
        /// The same key again returns the one appeal.
        #[arg(long)]
        idempotency_key: Option<String>,
        /// Print the answer as protobuf JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        connection: client::Connection,
    },
    /// Client: show an application (offers, plan, acceptances, appeals).
    Get {
        /// The application id (`app_...`).
        application_id: String,
        /// Print the answer as protobuf JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        connection: client::Connection,
    },
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Print a fresh random api key (give it to the caller, once) and the
    /// `[[auth.keys]]` entry with its sha256 to add to the router's config.
    New {
        /// The key's id in the config (named in logs and audit trails).
        #[arg(long, default_value = "key-1")]
        id: String,
        /// The tenant whose data the key reaches.
        #[arg(long, default_value = "default")]
        tenant: String,
        /// `router` (mobile backends), `operator` (reviewers) or `partner`
        /// (a lender reporting outcomes; needs --adapter-id).
        #[arg(long, default_value = "router", value_parser = ["router", "operator", "partner"])]
        role: String,
        /// With `--role partner`: the `[[adapters]]` id of the lender's channel.
        #[arg(long)]
        adapter_id: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Validate a config file and print every problem.
    Check { file: PathBuf },
    /// Print the effective config (the file, or the embedded default
    /// without one, with FINROUTE_* variables applied) as TOML, each key
    /// with where its value came from; secrets are shown as ***.
    Show { file: Option<PathBuf> },
}

/// mimalloc instead of the system allocator: a routed call allocates a few
/// hundred small objects (schedules, messages, strings), and glibc's malloc
/// and free were about a sixth of the router's CPU time under load
/// (BENCHMARKS.md, profile of RouteFinancing).
///
/// Built with mimalloc's `no_thp`: it does not ask Linux for transparent
/// huge pages on its arenas (`madvise(MADV_HUGEPAGE)`, which the common
/// `madvise` THP setting honours), so memory is resident in 4 KB pages,
/// not 2 MB ones: a few MB of heap had made 18 MB resident at start and
/// ~20 MB more at peak. On a host with THP set to `always` the kernel
/// still backs the arenas with huge pages; `MIMALLOC_ALLOW_THP=0` in the
/// environment turns them off for the process.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `--metrics-listen`: an address, or empty for no metrics endpoint.
#[derive(Debug, Clone, Copy)]
enum MetricsListen {
    At(SocketAddr),
    Off,
}

fn metrics_listen_arg(value: &str) -> Result<MetricsListen, String> {
    if value.trim().is_empty() {
        return Ok(MetricsListen::Off);
    }
    value
        .parse()
        .map(MetricsListen::At)
        .map_err(|e| format!("{e}: an address like 127.0.0.1:9464, or '' for no metrics"))
}

fn console_listen_arg(value: &str) -> Result<MetricsListen, String> {
    if value.trim().is_empty() {
        return Ok(MetricsListen::Off);
    }
    value
        .parse()
        .map(MetricsListen::At)
        .map_err(|e| format!("{e}: an address like 127.0.0.1:8080, or '' for no console"))
}

/// Exit code for bad usage or bad config.
const BAD_CONFIG: u8 = 2;

fn load(path: Option<&PathBuf>) -> Result<Config, ConfigError> {
    match path {
        Some(p) => Config::load(p),
        None => Config::embedded(),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        // Colours only for a person at a terminal, not in files and pipes.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        match cli.command {
            Command::Serve {
                config,
                listen,
                metrics_listen,
                console_listen,
            } => serve(config.as_ref(), listen, metrics_listen, console_listen).await,
            Command::CheckAdapter {
                endpoint,
                ca,
                cert,
                key,
                domain_name,
                quote_budget_ms,
                call_budget_ms,
            } => {
                let settings = conformance::Settings {
                    endpoint,
                    tls: ca.map(|ca_file| finroute_adapters::remote::TlsConfig {
                        ca_file,
                        cert_file: cert,
                        key_file: key,
                        domain_name,
                    }),
                    quote_budget: Duration::from_millis(quote_budget_ms),
                    call_budget: Duration::from_millis(call_budget_ms),
                };
                check_adapter(&settings).await
            }
            Command::Migrate { config } => migrate(config.as_ref()).await,
            Command::Config {
                command: ConfigCommand::Check { file },
            } => config_check(&file),
            Command::Config {
                command: ConfigCommand::Show { file },
            } => config_show(file.as_deref()),
            Command::Keys {
                command:
                    KeysCommand::New {
                        id,
                        tenant,
                        role,
                        adapter_id,
                    },
            } => {
                if (role == "partner") != adapter_id.is_some() {
                    eprintln!(
                        "finroute keys new: --adapter-id goes with --role partner, and only with it"
                    );
                    return ExitCode::from(2);
                }
                let (key, digest) = finroute_server::keys::new_key();
                println!("# The api key: give it to the caller now; it is not stored anywhere.");
                println!("{key}");
                println!();
                println!("# Add to the router's config (only the key's sha256 is kept):");
                print!(
                    "{}",
                    finroute_server::keys::config_entry(
                        &id,
                        &digest,
                        &tenant,
                        &role,
                        adapter_id.as_deref()
                    )
                );
                ExitCode::SUCCESS
            }
            command => match client_command(command).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => e.report(),
            },
        }
    })
}

/// The client subcommands against a running router.
async fn client_command(command: Command) -> Result<(), client::ClientError> {
    use finroute_proto::v1 as pb;
    match command {
        Command::Route {
            file,
            json,
            connection,
        } => {
            let request = client::read_route_request(&file)?;
            let applicant = request.applicant.as_ref().map(|a| a.applicant_id.clone());
            let answer = connection.connect().await?.route(request).await?;
            if json {
                client::out(&format!(
                    "{}\n",
                    client::to_json("finroute.v1.RouteFinancingResponse", &answer)?
                ));
            } else {
                client::out(&client::render(
                    &client::View::from(&answer),
                    applicant.as_deref(),
                ));
            }
        }
        Command::Accept {
            application_id,
            offer_id,
            applicant,
            idempotency_key,
            json,
            connection,
        } => {
            let mut client = connection.connect().await?;
            let application = client.get(&application_id).await?;
            if !application.offers.iter().any(|o| o.offer_id == offer_id) {
                return Err(client::ClientError::Usage(format!(
                    "offer {offer_id} is not one of application {application_id}'s offers (`finroute get {application_id}` lists them)"
                )));
            }
            let key = idempotency_key.unwrap_or_else(|| format!("cli-{}", uuid::Uuid::new_v4()));
            let answer = client
                .accept(pb::AcceptOfferRequest {
                    offer_id,
                    idempotency_key: key.clone(),
                    applicant_id: applicant,
                })
                .await?;
            if json {
                client::out(&format!(
                    "{}\n",
                    client::to_json("finroute.v1.AcceptOfferResponse", &answer)?
                ));
            } else {
                client::out(&client::render_acceptance(&answer, &key));
            }
        }
        Command::Appeal {
            application_id,
            reason,
            adapter,
            details,
            idempotency_key,
            json,
            connection,
        } => {
            let answer = connection
                .connect()
                .await?
                .appeal(pb::FileAppealRequest {
                    application_id,
                    adapter_id: adapter,
                    reason,
                    details,
                    idempotency_key: idempotency_key.unwrap_or_default(),
                })
                .await?;
            if json {
                client::out(&format!(
                    "{}\n",
                    client::to_json("finroute.v1.Appeal", &answer)?
                ));
            } else {
                client::out(&client::render_appeal(&answer));
            }
        }
        Command::Get {
            application_id,
            json,
            connection,
        } => {
            let answer = connection.connect().await?.get(&application_id).await?;
            if json {
                client::out(&format!(
                    "{}\n",
                    client::to_json("finroute.v1.Application", &answer)?
                ));
            } else {
                client::out(&client::render(&client::View::from(&answer), None));
                client::out(&client::render_history(&answer));
            }
        }
        _ => {
            return Err(client::ClientError::Usage("not a client subcommand".into()));
        }
    }
    Ok(())
}

/// `finroute config check FILE`: every problem `serve` would refuse the
/// file for, one per line (each names its key), or a one-line summary.
fn config_check(file: &std::path::Path) -> ExitCode {
    let config = match Config::load_unchecked(file) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(BAD_CONFIG);
        }
    };
    let problems = finroute_server::preflight(&config);
    if problems.is_empty() {
        println!(
            "{}: ok ({} adapters, store {})",
            file.display(),
            config.adapters.len(),
            redacted(&config.store.url)
        );
        return ExitCode::SUCCESS;
    }
    for p in &problems {
        eprintln!("error: {p}");
    }
    eprintln!(
        "{}: {} problem{}; `finroute serve` would refuse it",
        file.display(),
        problems.len(),
        if problems.len() == 1 { "" } else { "s" }
    );
    ExitCode::from(BAD_CONFIG)
}

/// `finroute config show [FILE]`.
fn config_show(file: Option<&std::path::Path>) -> ExitCode {
    use finroute_server::config::show;
    let shown = Config::process_vars().and_then(|vars| show::show(file, vars));
    match shown {
        Ok(shown) => {
            client::out(&format!(
                "# The effective config of {}: `# default`, `# file` or `# env VAR` says where each value came from.\n",
                file.map_or_else(
                    || "the embedded default".to_owned(),
                    |f| f.display().to_string()
                )
            ));
            client::out(&show::render(&shown));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(BAD_CONFIG)
        }
    }
}

async fn serve(
    config: Option<&PathBuf>,
    listen: Option<SocketAddr>,
    metrics_listen: Option<MetricsListen>,
    console_listen: Option<MetricsListen>,
) -> ExitCode {
    let mut config = match load(config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(BAD_CONFIG);
        }
    };
    if let Some(addr) = listen {
        config.server.listen = addr;
        // An open router may not move off loopback by a flag either.
        if let Err(e) = config.validate() {
            eprintln!("error: {e}");
            return ExitCode::from(BAD_CONFIG);
        }
    }
    match metrics_listen {
        Some(MetricsListen::At(addr)) => {
            config.server.metrics_listen = addr;
            config.server.metrics = true;
        }
        Some(MetricsListen::Off) => config.server.metrics = false,
        None => {}
    }
    match console_listen {
        Some(MetricsListen::At(addr)) => config.server.console_listen = Some(addr),
        Some(MetricsListen::Off) => config.server.console_listen = None,
        None => {}
    }
    if console_listen.is_some()
        && let Err(e) = config.validate()
    {
        eprintln!("error: {e}");
        return ExitCode::from(BAD_CONFIG);
    }
    let listener = match tokio::net::TcpListener::bind(config.server.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!(
                "error: {}",
                finroute_server::bind_error(
                    "calls",
                    config.server.listen,
                    "server.listen",
                    "--listen",
                    &e
                )
            );
            return ExitCode::FAILURE;
        }
    };
    match finroute_server::run(config, listener, signal::shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e @ finroute_server::ServeError::Config(_)) => {
            eprintln!("error: {e}");
            ExitCode::from(BAD_CONFIG)
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn check_adapter(settings: &conformance::Settings) -> ExitCode {
    match conformance::run(settings).await {
        Ok(report) => {
            println!("{report}");
            if report.passed() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e @ conformance::CheckError::Endpoint(_)) => {
            eprintln!("error: {e}");
            ExitCode::from(BAD_CONFIG)
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn migrate(config: Option<&PathBuf>) -> ExitCode {
    let config = match load(config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(BAD_CONFIG);
        }
    };
    match finroute_store::Store::migrate(&config.store.url).await {
        Ok(()) => {
            println!("migrations applied to {}", redacted(&config.store.url));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// A store URL fit to print: any `user:password@` is masked.
fn redacted(url: &str) -> String {
    finroute_server::config::show::redact_url(url)
}

#[cfg(test)]
mod tests {
    #[test]
    fn store_urls_are_printed_without_credentials() {
        assert_eq!(
            super::redacted("postgres://u:secret@db:5432/x"),
            "postgres://***@db:5432/x"
        );
        assert_eq!(
            super::redacted("sqlite://finroute.db"),
            "sqlite://finroute.db"
        );
    }
}
