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

use std::process::ExitCode;

use finroute_testkit::{Behaviour, FakePartner, partner_offer};
use prost::Message;

const USAGE: &str = "usage: finroute-bench body <route|quote|health> FILE | finroute-bench partner <hung|offers> PORT | finroute-bench pg <create|drop> URL SCHEMA";

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
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start a runtime: {e}");
            return ExitCode::FAILURE;
        }
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
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start a runtime: {e}");
            return ExitCode::FAILURE;
        }
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

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    match (
        args.get(1).map(String::as_str),
        args.get(2).map(String::as_str),
        args.get(3).map(String::as_str),
    ) {
        (Some("body"), Some(kind), Some(path)) => body(kind, path),
        (Some("partner"), Some(kind), Some(port)) => partner(kind, port),
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
