//! `finroute-bench body <route|health> FILE`: writes one gRPC-framed request
//! body (1-byte compression flag, 4-byte big-endian length, protobuf) for
//! h2load's `-d`, so the load generator sends real RouteFinancing calls.

use std::process::ExitCode;

use prost::Message;

fn framed(msg: &impl Message) -> Vec<u8> {
    let body = msg.encode_to_vec();
    let mut out = Vec::with_capacity(body.len() + 5);
    out.push(0);
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(&body);
    out
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let (Some(kind), Some(path)) = (args.get(2), args.get(3)) else {
        eprintln!("usage: finroute-bench body <route|health> FILE");
        return ExitCode::from(2);
    };
    if args.get(1).map(String::as_str) != Some("body") {
        eprintln!("usage: finroute-bench body <route|health> FILE");
        return ExitCode::from(2);
    }
    let bytes = match kind.as_str() {
        "route" => framed(&finroute_testkit::refused_borrower()),
        // grpc.health.v1.HealthCheckRequest { service: "" } encodes to nothing.
        "health" => vec![0, 0, 0, 0, 0],
        _ => {
            eprintln!("unknown body {kind:?}: route or health");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = std::fs::write(path, bytes) {
        eprintln!("cannot write {path}: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
