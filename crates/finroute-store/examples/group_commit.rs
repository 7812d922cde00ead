//! Measures group-commit throughput: N concurrent `record_application`
//! calls (each an application with 3 offers, 3 channel reports and a 2 KiB
//! response), all awaited, then the records/s and the batches it took.
//!
//! ```text
//! cargo run --release -p finroute-store --example group_commit -- [N] [URL] [full]
//! ```
//!
//! N defaults to 10 000; URL (`-` for the default) to a SQLite file in a
//! temporary directory; `full` sets SQLite `synchronous=FULL`. A PostgreSQL
//! URL is used through a schema created for the run and dropped after it,
//! so the database is left as it was.

use std::error::Error;

use finroute_store::{
    ApplicationRecord, Backend, ChannelReportRecord, OfferRecord, Store, StoreOptions,
};
use sqlx::{AssertSqlSafe, Connection, PgConnection};
use tokio::task::JoinSet;
use tokio::time::Instant;

fn record(i: usize) -> ApplicationRecord {
    let application_id = format!("app-{i:08}");
    let offers = (0..3)
        .map(|k| OfferRecord {
            offer_id: format!("offer-{i:08}-{k}"),
            application_id: application_id.clone(),
            tenant: "bench".into(),
            adapter_id: format!("adapter-{k}"),
            partner_offer_ref: format!("ref-{i}-{k}"),
            product_kind: "INSTALLMENT".into(),
            currency: "CNY".into(),
            principal_minor: 1_000_000,
            term_months: 12,
            apr_bps: 1_800,
            approval_odds: 0.42,
            rank: k,
            expires_at_ms: 1_900_000_000_000,
            risk_band: "B".into(),
            prior_odds: Some(0.7),
            partner_odds: None,
        })
        .collect();
    let channel_reports = (0..3)
        .map(|k| ChannelReportRecord {
            adapter_id: format!("adapter-{k}"),
            product_kind: "INSTALLMENT".into(),
            status: "OK".into(),
            latency_ms: 40,
            offers_returned: 1,
            offers_rejected: 0,
            detail: String::new(),
        })
        .collect();
    ApplicationRecord {
        application_id,
        tenant: "bench".into(),
        request_id: format!("req-{i:08}"),
        request_fingerprint: vec![7; 32],
        applicant_fingerprint: vec![5; 32],
        applicant_id: format!("applicant-{i}"),
        created_at_ms: 1_700_000_000_000 + i as i64,
        partial: false,
        response: vec![0x5A; 2048].into(),
        offers,
        channel_reports,
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let n: usize = args
        .next()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(10_000);
    let dir = tempfile::tempdir()?;
    let (url, pg_schema) = match args.next() {
        Some(url) if url.starts_with("postgres") => {
            let schema = format!("finroute_bench_{}", uuid::Uuid::new_v4().simple());
            admin(&url, &format!("CREATE SCHEMA {schema}")).await?;
            let separator = if url.contains('?') { '&' } else { '?' };
            let scoped = format!("{url}{separator}options[search_path]={schema}");
            (scoped, Some((url, schema)))
        }
        Some(url) if url != "-" => (url, None),
        _ => (
            format!("sqlite://{}", dir.path().join("bench.db").display()),
            None,
        ),
    };
    let opts = StoreOptions {
        sqlite_synchronous_full: args.next().as_deref() == Some("full"),
        ..StoreOptions::default()
    };
    let store = Store::connect_with(&url, opts.clone()).await?;
    let records: Vec<ApplicationRecord> = (0..n).map(record).collect();

    let started = Instant::now();
    let mut tasks = JoinSet::new();
    for app in records {
        let store = store.clone();
        tasks.spawn(async move { store.record_application(app).await });
    }
    while let Some(joined) = tasks.join_next().await {
        joined??;
    }
    let elapsed = started.elapsed();
    let stats = store.stats();
    store.close().await;

    if let Some((admin_url, schema)) = pg_schema {
        admin(&admin_url, &format!("DROP SCHEMA {schema} CASCADE")).await?;
    }

    let setting = match (store.backend(), opts.sqlite_synchronous_full) {
        (Backend::Postgres, _) => "",
        (Backend::Sqlite, false) => ", synchronous=NORMAL",
        (Backend::Sqlite, true) => ", synchronous=FULL",
    };
    println!(
        "{}{setting}: {n} concurrent records in {:.3} s = {:.0} records/s; \
         {} group commits, {:.1} records per commit",
        store.backend(),
        elapsed.as_secs_f64(),
        n as f64 / elapsed.as_secs_f64(),
        stats.batches,
        stats.records as f64 / stats.batches.max(1) as f64,
    );
    Ok(())
}

/// Runs one statement on its own connection.
async fn admin(url: &str, sql: &str) -> Result<(), Box<dyn Error>> {
    let mut conn = PgConnection::connect(url).await?;
    sqlx::query(AssertSqlSafe(sql)).execute(&mut conn).await?;
    conn.close().await?;
    Ok(())
}
