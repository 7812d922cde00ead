//! Benchmark support, for `bench/*.sh`:
//!
//! - `finroute-bench body <route|quote|health> FILE`: writes one gRPC-framed
//!   request body (1-byte compression flag, 4-byte big-endian length,
//!   protobuf) for h2load's `-d`, so the load generator sends real calls.
//! - `finroute-bench partner <hung|offers> PORT`: runs a partner adapter on
//!   127.0.0.1:PORT until killed: one that never answers a quote, or one
//!   that answers at once with two offers.

use std::process::ExitCode;

use finroute_testkit::{Behaviour, FakePartner, partner_offer};
use prost::Message;

const USAGE: &str = "usage: finroute-bench body <route|quote|health> FILE | finroute-bench partner <hung|offers> PORT";

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

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    match (
        args.get(1).map(String::as_str),
        args.get(2).map(String::as_str),
        args.get(3).map(String::as_str),
    ) {
        (Some("body"), Some(kind), Some(path)) => body(kind, path),
        (Some("partner"), Some(kind), Some(port)) => partner(kind, port),
        _ => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}
