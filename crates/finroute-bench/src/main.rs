//! Benchmark support, for `bench/*.sh`:
//!
//! - `finroute-bench body <route|quote|health> FILE`: writes one gRPC-framed
//!   request body (1-byte compression flag, 4-byte big-endian length,
//!   protobuf) for h2load's `-d`, so the load generator sends real calls.
//! - `finroute-bench partner <hung|offers> PORT`: runs a partner adapter on
//!   127.0.0.1:PORT until killed: one that never answers a quote, or one
//!   that answers at once with two offers.
//! - `finroute-bench pg <create|drop> URL SCHEMA`: creates (and prints the
//!   store URL whose connections use only that schema, through
//!   `options[search_path]`) or drops a PostgreSQL schema, so each run of
//!   `bench/run.sh` gets a fresh store without needing psql. Exits 1 when
//!   PostgreSQL cannot be reached within 5 s.
//! - `finroute-bench limit [--stored=full|basic|none] STORE_URL RESPONSE_FILE
//!   [PARTNER_URL...]`: the limit rows' bare service (`limit.rs`): per
//!   RouteFinancing call, decode, call the partners (if any), record the
//!   same stored bytes through the store's group commit, answer with the
//!   response in RESPONSE_FILE. `--stored=basic` stores the response
//!   without schedules and disclosures, `none` stores no response bytes:
//!   bounds on what a more compact stored record could gain.
//! - `finroute-bench capture ADDR FILE`: RouteFinancing on a router with
//!   the benchmark's request; writes the encoded answer to FILE.
//! - `finroute-bench flood ADDR SECONDS`: Health/Check on 4 connections
//!   (one call at a time each) for SECONDS quiet, then for SECONDS while
//!   one more connection floods WINDOW_UPDATE frames on a closed stream as
//!   fast as the router reads them; prints p50/p99 of both phases and the
//!   rate the flooder was read at (issue 14's WINDOW_UPDATE case).

use std::process::ExitCode;

mod limit;

use finroute_testkit::{Behaviour, FakePartner, partner_offer};
use prost::Message;

const USAGE: &str = "usage: finroute-bench body <route|quote|health> FILE | finroute-bench limit [--stored=full|basic|none] STORE_URL RESPONSE_FILE [PARTNER_URL...] | finroute-bench capture ADDR FILE | finroute-bench partner <hung|offers> PORT | finroute-bench pg <create|drop> URL SCHEMA | finroute-bench flood ADDR SECONDS";

fn framed(msg: &impl Message) -> Vec<u8> {
    let body = msg.encode_to_vec();
    let mut out = Vec::with_capacity(body.len() + 5);
    out.push(0);
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(&body);
    out
}

fn body(kind: &str, path: &str) -> ExitCode {
    let bytes = match kind {
        "route" => framed(&finroute_testkit::refused_borrower()),
        // A partner's answer (fuzz corpus seed for QuoteResponse).
        "quote" => framed(&finroute_proto::v1::QuoteResponse {
            offers: vec![
                partner_offer("B-1", 1_000_000, 1100, 0.8),
                partner_offer("B-2", 800_000, 1250, 0.7),
            ],
            decline_reason: String::new(),
            decline: None,
        }),
        // grpc.health.v1.HealthCheckRequest { service: "" } encodes to nothing.
        "health" => vec![0, 0, 0, 0, 0],
        _ => {
            eprintln!("unknown body {kind:?}: route, quote or health");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = std::fs::write(path, bytes) {
        eprintln!("cannot write {path}: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

fn partner(kind: &str, port: &str) -> ExitCode {
    let behaviour = match kind {
        "hung" => Behaviour::Hung,
        "offers" => Behaviour::Offers(vec![
            partner_offer("B-1", 1_000_000, 1100, 0.8),
            partner_offer("B-2", 800_000, 1250, 0.7),
        ]),
        _ => {
            eprintln!("unknown partner {kind:?}: hung or offers");
            return ExitCode::from(2);
        }
    };
    let Ok(port) = port.parse::<u16>() else {
        eprintln!("PORT must be a number, got {port:?}");
        return ExitCode::from(2);
    };
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.worker_threads(1);
    let runtime = match crate::runtime(builder) {
        Ok(r) => r,
        Err(code) => return code,
    };
    runtime.block_on(async move {
        let p = FakePartner::start_on(port, behaviour, vec![]).await;
        eprintln!("partner {kind} listening on {}", p.addr);
        std::future::pending::<()>().await;
    });
    ExitCode::SUCCESS
}

/// Creates or drops `schema` in the database at `url`.
fn pg(action: &str, url: &str, schema: &str) -> ExitCode {
    use sqlx::{AssertSqlSafe, Connection, PgConnection};
    // The name goes into SQL as is: letters, digits and underscores only.
    if schema.is_empty()
        || !schema
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        || schema.starts_with(|c: char| c.is_ascii_digit())
    {
        eprintln!("SCHEMA must be lower-case letters, digits and _, got {schema:?}");
        return ExitCode::from(2);
    }
    let sql = match action {
        "create" => format!("CREATE SCHEMA {schema}"),
        "drop" => format!("DROP SCHEMA IF EXISTS {schema} CASCADE"),
        _ => {
            eprintln!("unknown pg action {action:?}: create or drop");
            return ExitCode::from(2);
        }
    };
    let runtime = match crate::runtime(tokio::runtime::Builder::new_current_thread()) {
        Ok(r) => r,
        Err(code) => return code,
    };
    let done = runtime.block_on(async move {
        let connect = PgConnection::connect(url);
        let mut conn = match tokio::time::timeout(std::time::Duration::from_secs(5), connect).await
        {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => return Err(format!("cannot connect: {e}")),
            Err(_) => return Err("cannot connect: no answer within 5 s".to_owned()),
        };
        sqlx::query(AssertSqlSafe(sql))
            .execute(&mut conn)
            .await
            .map_err(|e| e.to_string())?;
        let _ = conn.close().await;
        Ok(())
    });
    match done {
        Ok(()) => {
            if action == "create" {
                let separator = if url.contains('?') { '&' } else { '?' };
                println!("{url}{separator}options[search_path]={schema}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("PostgreSQL: {e}");
            ExitCode::FAILURE
        }
    }
}

/// A tokio runtime from `builder` (timers and I/O on), or the exit code
/// after saying why it could not start.
fn runtime(mut builder: tokio::runtime::Builder) -> Result<tokio::runtime::Runtime, ExitCode> {
    builder.enable_all().build().map_err(|e| {
        eprintln!("cannot start a runtime: {e}");
        ExitCode::FAILURE
    })
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    match (
        args.get(1).map(String::as_str),
        args.get(2).map(String::as_str),
        args.get(3).map(String::as_str),
    ) {
        (Some("body"), Some(kind), Some(path)) => body(kind, path),
        (Some("partner"), Some(kind), Some(port)) => partner(kind, port),
        (Some("limit"), Some(flag), Some(url)) if flag.starts_with("--stored=") => {
            match (
                limit::Stored::parse(&flag["--stored=".len()..]),
                args.get(4),
            ) {
                (Some(stored), Some(file)) => limit::run(url, file, &args[5..], stored),
                _ => {
                    eprintln!("{USAGE}");
                    ExitCode::from(2)
                }
            }
        }
        (Some("limit"), Some(url), Some(file)) => {
            limit::run(url, file, &args[4..], limit::Stored::Full)
        }
        (Some("capture"), Some(addr), Some(file)) => limit::capture(addr, file),
        (Some("flood"), Some(addr), Some(secs)) => match (addr.parse(), secs.parse()) {
            (Ok(addr), Ok(secs)) => flood::run(addr, std::time::Duration::from_secs(secs)),
            _ => {
                eprintln!("{USAGE}");
                ExitCode::from(2)
            }
        },
        (Some("pg"), Some(action), Some(url)) => match args.get(4) {
            Some(schema) => pg(action, url, schema),
            None => {
                eprintln!("{USAGE}");
                ExitCode::from(2)
            }
        },
        _ => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}

mod flood {
    use std::net::SocketAddr;
    use std::process::ExitCode;
    use std::time::{Duration, Instant};

    use finroute_testkit::h2raw::WindowUpdateFlood;

    use tonic::transport::Channel;
    use tonic_health::pb::HealthCheckRequest;
    use tonic_health::pb::health_client::HealthClient;

    async fn load(channels: &[Channel], d: Duration) -> (Vec<Duration>, usize) {
        let end = Instant::now() + d;
        let loops = channels.iter().map(|ch| {
            let mut client = HealthClient::new(ch.clone());
            async move {
                let (mut took, mut failed) = (Vec::new(), 0);
                while Instant::now() < end {
                    let t = Instant::now();
                    let r = client
                        .check(HealthCheckRequest {
                            service: String::new(),
                        })
                        .await;
                    match r {
                        Ok(_) => took.push(t.elapsed()),
                        Err(_) => failed += 1,
                    }
                }
                (took, failed)
            }
        });
        let mut all = Vec::new();
        let mut failed = 0;
        for (t, f) in futures_join(loops).await {
            all.extend(t);
            failed += f;
        }
        all.sort();
        (all, failed)
    }

    async fn futures_join<F: std::future::Future + Send + 'static>(
        fs: impl Iterator<Item = F>,
    ) -> Vec<F::Output>
    where
        F::Output: Send,
    {
        let handles: Vec<_> = fs.map(tokio::spawn).collect();
        let mut out = Vec::new();
        for h in handles {
            if let Ok(o) = h.await {
                out.push(o);
            }
        }
        out
    }

    fn q(sorted: &[Duration], q: f64) -> Duration {
        if sorted.is_empty() {
            return Duration::ZERO;
        }
        sorted[((sorted.len() - 1) as f64 * q).round() as usize]
    }

    pub fn run(addr: SocketAddr, phase: Duration) -> ExitCode {
        let runtime = match crate::runtime(tokio::runtime::Builder::new_multi_thread()) {
            Ok(r) => r,
            Err(code) => return code,
        };
        runtime.block_on(async move {
            let mut channels = Vec::new();
            for _ in 0..4 {
                match Channel::from_shared(format!("http://{addr}")) {
                    Ok(e) => match e.connect().await {
                        Ok(c) => channels.push(c),
                        Err(e) => {
                            eprintln!("error: connect {addr}: {e}");
                            return ExitCode::FAILURE;
                        }
                    },
                    Err(e) => {
                        eprintln!("error: {e}");
                        return ExitCode::FAILURE;
                    }
                }
            }
            let (quiet, quiet_failed) = load(&channels, phase).await;
            let flood = WindowUpdateFlood::start(addr);
            tokio::time::sleep(Duration::from_millis(500)).await;
            let (w0, t0) = (flood.written(), Instant::now());
            let (flooded, flooded_failed) = load(&channels, phase).await;
            let secs = t0.elapsed().as_secs_f64();
            let w1 = flood.written();
            let ended = flood.stop();
            let rate = (w1 - w0) as f64 / secs;
            println!(
                "quiet:   {} calls ({:.0}/s), p50 {:?}, p99 {:?}, {quiet_failed} failed",
                quiet.len(),
                quiet.len() as f64 / phase.as_secs_f64(),
                q(&quiet, 0.5),
                q(&quiet, 0.99)
            );
            println!(
                "flooded: {} calls ({:.0}/s), p50 {:?}, p99 {:?}, {flooded_failed} failed",
                flooded.len(),
                flooded.len() as f64 / secs,
                q(&flooded, 0.5),
                q(&flooded, 0.99)
            );
            println!(
                "flooder: read at {:.1} MB/s = {:.2} M WINDOW_UPDATE frames/s ({:.0} M frames in {secs:.1} s){}",
                rate / 1e6,
                rate / 13.0 / 1e6,
                (w1 - w0) as f64 / 13.0 / 1e6,
                match ended {
                    Ok(()) => String::new(),
                    Err(e) => format!("; its connection ended: {e}"),
                }
            );
            ExitCode::SUCCESS
        })
    }
}
