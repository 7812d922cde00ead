//! `partner_bank --listen 127.0.0.1:50061`: run the example partner
//! (port 0 picks a free port; the ready line names it). SIGINT or SIGTERM
//! stops it gracefully.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;

/// An example partner institution implementing finroute's FinancingAdapter proto.
#[derive(Debug, Parser)]
struct Args {
    /// Address to serve on.
    #[arg(long, default_value = "127.0.0.1:50061")]
    listen: SocketAddr,
    /// The bank's own id, prefixed to its offer references.
    #[arg(long, default_value = "partner-bank")]
    bank_id: String,
    /// Nominal rate in bp for a 750+ score.
    #[arg(long, default_value_t = 720)]
    base_rate_bps: i32,
    /// Simulated processing time per quote, in ms.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    // Colours only on a terminal: a redirected log gets plain text.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let args = Args::parse();
    let settings = partner_bank::Settings {
        bank_id: args.bank_id,
        base_rate_bps: args.base_rate_bps,
        latency: Duration::from_millis(args.latency_ms),
        ..Default::default()
    };
    let listener = match tokio::net::TcpListener::bind(args.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: cannot listen on {}: {e}", args.listen);
            return std::process::ExitCode::FAILURE;
        }
    };
    let bound = listener.local_addr().unwrap_or(args.listen);
    tracing::info!("partner bank ready: listening on {bound}");
    match partner_bank::serve(settings, listener, finroute_partner_sdk::shutdown_signal()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
