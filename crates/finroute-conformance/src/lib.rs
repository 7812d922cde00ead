//! finroute-conformance: the adapter contract checks behind `finroute
//! check-adapter`. Run them against a live `FinancingAdapter` (in any
//! language) and get a [`Report`] of PASS / FAIL / SKIP rows with the reason
//! for each.
//!
//! A partner can run them from its own Rust tests with this crate as a
//! dev-dependency, without the router and its store:
//! `finroute_conformance::run(&Settings::new("http://127.0.0.1:50061")).await`.
//! The kit is its own crate, not part of `finroute-partner-sdk`, because it
//! uses the router's partner client: the SDK depends on the contract and the
//! domain only.
//!
//! The partner is reached through the router's own client
//! ([`RemoteAdapter`]: the same reply size limit, `grpc-timeout`, decoding
//! of each offer), and every offer goes through the router's own validation
//! ([`finroute_core::price_offer`] against the terms the partner described,
//! exactly as the fan-out does): what passes here is what the router
//! accepts. A few checks go beyond what the router enforces (a description
//! whose amounts contradict each other, duplicate offer references); their
//! details say so.
//!
//! The checks, in the order they run:
//!
//! | check | passes when |
//! |---|---|
//! | `health` | `grpc.health.v1.Health/Check` answers SERVING for `""` or `finroute.v1.FinancingAdapter` |
//! | `describe` | `Describe` answers within the call budget and the router accepts the description; amounts positive, in a declared currency, min <= max; ids non-empty |
//! | `describe.parties` | `Describe` names the lender of record (a party with role LENDER and its legal name); WARN when its registration id is empty |
//! | `quote.latency` | `Quote` for the kit's applicant answers within the quote budget (the router's default channel timeout, 300 ms) |
//! | `quote.offers` | at least one offer, and every offer passes the router's validation: known kind and method, requested currency, principal positive and within the request and the channel's amounts, term within the request and the described range, probability in [0, 1], a schedule (when sent) that repays the principal, a priceable APR, a future expiry; references unique; every charge well-formed (known kind other than INTEREST, known payee, a payee name unless the payee is the lender, known timing, an amount in the principal's currency >= 0 for amount timings, `period_rate_bps` in 0..=10000 for rate timings, a guarantor or insurer payee named among the parties). A valid offer the router would not show to the kit's applicant (above the affordability limit, above a rate cap) is a WARN with the reason |
//! | `quote.apr` | no offer is flagged STATED_APR_UNDERSTATED by the router: its `stated_apr_bps` is not below the APR the router computes from its cash flows, every mandatory charge included, by more than the router's tolerance (10 bp) |
//! | `quote.narrow` | offers to a narrower request (half the amount, the shortest term) stay within it (declining is fine; WARN as in `quote.offers`) |
//! | `quote.answers` | the typed answers of both quotes (docs/api.md, "Partner answers"): a decline carries a reason of the taxonomy (WARN when untyped or unknown to the router, which reads it as OTHER, or MISSING_DATA without its fields); an adjusted offer says what changed (WARN when `changed` is empty) and why (WARN without a reason). PASS when there is nothing to check |
//! | `accept.idempotent` | the same idempotency key sent twice at once and once more gets one answer (status and partner reference); PENDING may precede a final answer; a concurrent duplicate may be refused with UNAVAILABLE or ABORTED |
//! | `accept.unknown_offer` | an offer reference never issued is refused with NOT_FOUND, FAILED_PRECONDITION or INVALID_ARGUMENT |
//!
//! A WARN is not a failure: the report passes. It says the partner kept
//! the contract but something deserves a look; in particular an offer
//! refused for the kit's synthetic applicant alone (its debt-to-income, its
//! region's cap) is the router protecting that applicant, not a fault of
//! the partner's.
//!
//! The accept checks book one acceptance (key prefix `check-adapter-`) of
//! the first valid offer: run the kit against a test deployment. They are
//! skipped when the description says `supports_accept: false`.
//!
//! The kit's applicant is synthetic (`applicant_id` `check-adapter`), and
//! the partner receives only the fields it declared, as from the router.

#![warn(unreachable_pub, missing_docs)]

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use finroute_adapters::remote::{self, RemoteAdapter};
use finroute_adapters::{
    AcceptOutcome, AcceptRequest, AcceptStatus, Adapter, AdapterError, Description, QuoteOutcome,
    QuoteRequest,
};
use finroute_core::disclosure::{lender_of, merge_parties};
use finroute_core::text;
use finroute_core::{
    Applicant, ChargeKind, ChargeTiming, Collateral, CollateralKind, Consent, EmploymentType,
    FinancingRequest, LoanPurpose, Locale, Money, Offer, OfferWarning, PartnerOffer, Party,
    PartyRole, PricingPolicy, RejectReason, Strategy,
};
use tokio::time::Instant;
use tonic::Code;

/// The router's default channel timeout: the quote budget unless told otherwise.
pub const DEFAULT_QUOTE_BUDGET: Duration =
    Duration::from_millis(finroute_adapters::spec::DEFAULT_TIMEOUT_MS);
/// Budget of a Describe, Accept or health call.
pub const DEFAULT_CALL_BUDGET: Duration = Duration::from_secs(5);
/// The id the kit names the channel by in validation messages.
const CHANNEL_ID: &str = "check-adapter";

/// What to check and how patiently.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `http://host:port` of the adapter, or `https://host:port` with `tls`.
    pub endpoint: String,
    /// For an `https://` endpoint: the CA the adapter's certificate must
    /// chain to and, for mTLS, the kit's client certificate and key.
    pub tls: Option<remote::TlsConfig>,
    /// Most time a Quote may take.
    pub quote_budget: Duration,
    /// Most time a Describe, Accept or health check may take.
    pub call_budget: Duration,
}

impl Settings {
    /// The default budgets for `endpoint`.
    pub fn new(endpoint: impl Into<String>) -> Self {
        Self {
            endpoint: endpoint.into(),
            tls: None,
            quote_budget: DEFAULT_QUOTE_BUDGET,
            call_budget: DEFAULT_CALL_BUDGET,
        }
    }
}

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The adapter did what the contract asks.
    Pass,
    /// The adapter broke the contract; the check's detail says how.
    Fail,
    /// Not applicable (e.g. accept checks of an adapter without Accept).
    Skip,
    /// The adapter keeps the contract, but something deserves a look: a
    /// recommended field left empty, or a valid offer the router would not
    /// show to the kit's particular applicant (affordability, a rate cap).
    /// Not a failure: the report still passes.
    Warn,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // pad, not write_str: the table aligns on the width given.
        f.pad(match self {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
            Verdict::Skip => "SKIP",
            Verdict::Warn => "WARN",
        })
    }
}

/// One row of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// Stable id: `health`, `describe`, `describe.parties`, `quote.latency`,
    /// `quote.offers`, `quote.apr`, `quote.narrow`, `quote.answers`,
    /// `accept.idempotent`, `accept.unknown_offer`.
    pub name: &'static str,
    /// Passed, failed, skipped, or passed with a warning.
    pub verdict: Verdict,
    /// What was seen; for a failure, why.
    pub detail: String,
}

/// Every check run against one adapter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The adapter checked, as given in [`Settings::endpoint`].
    pub endpoint: String,
    /// One row per check, in the order they ran (the module table's order).
    pub checks: Vec<Check>,
}

impl Report {
    /// True when no check failed.
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.verdict != Verdict::Fail)
    }

    /// The check named `name`, if it ran.
    pub fn get(&self, name: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.name == name)
    }

    /// The names of the failed checks.
    pub fn failed(&self) -> Vec<&'static str> {
        self.named(Verdict::Fail)
    }

    /// The names of the checks that passed with a warning.
    pub fn warned(&self) -> Vec<&'static str> {
        self.named(Verdict::Warn)
    }

    fn named(&self, verdict: Verdict) -> Vec<&'static str> {
        self.checks
            .iter()
            .filter(|c| c.verdict == verdict)
            .map(|c| c.name)
            .collect()
    }
}

impl fmt::Display for Report {
    /// The table `finroute check-adapter` prints.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let width = self
            .checks
            .iter()
            .map(|c| c.name.len())
            .max()
            .unwrap_or(5)
            .max(5);
        writeln!(f, "check-adapter {}", self.endpoint)?;
        writeln!(f, "{:<6}  {:<width$}  DETAIL", "RESULT", "CHECK")?;
        for c in &self.checks {
            writeln!(f, "{:<6}  {:<width$}  {}", c.verdict, c.name, c.detail)?;
        }
        let count = |v| self.checks.iter().filter(|c| c.verdict == v).count();
        write!(
            f,
            "{} checks: {} passed, {} failed, {} skipped",
            self.checks.len(),
            count(Verdict::Pass),
            count(Verdict::Fail),
            count(Verdict::Skip)
        )?;
        let warned = self.warned();
        if !warned.is_empty() {
            write!(f, ", {} warned", warned.len())?;
        }
        let failed = self.failed();
        if !failed.is_empty() {
            write!(f, " (failed: {})", failed.join(", "))?;
        }
        if !warned.is_empty() {
            write!(f, " (warned: {})", warned.join(", "))?;
        }
        Ok(())
    }
}

/// Why the checks could not start at all (bad usage, or nothing to check
/// at the endpoint): one clear line instead of a table of failures.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckError {
    /// The endpoint is not an `http://host:port` URL the client can use, or
    /// the TLS settings do not fit it.
    #[error("--endpoint: {0}")]
    Endpoint(String),
    /// No connection could be made (nothing listens, or TLS failed).
    #[error("{0}")]
    Unreachable(String),
    /// Something answers, but not the FinancingAdapter service.
    #[error("{0}")]
    NotAnAdapter(String),
}

/// The error and its causes on one line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let part = s.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = s.source();
    }
    text
}

/// Runs every check against `settings.endpoint`. An adapter that
/// misbehaves gives a report with failures; an endpoint with no adapter
/// behind it (nothing listening, or another gRPC service) gives an error.
pub async fn run(settings: &Settings) -> Result<Report, CheckError> {
    let https = settings.endpoint.starts_with("https://");
    if !https && !settings.endpoint.starts_with("http://") {
        return Err(CheckError::Endpoint(format!(
            "{:?} must be http://host:port, or https://host:port with --ca",
            settings.endpoint
        )));
    }
    if https && settings.tls.is_none() {
        return Err(CheckError::Endpoint(format!(
            "{:?} is https://: give the CA of the adapter's certificate with --ca FILE",
            settings.endpoint
        )));
    }
    if !https && settings.tls.is_some() {
        return Err(CheckError::Endpoint(format!(
            "{:?}: --ca, --cert and --key need an https:// endpoint",
            settings.endpoint
        )));
    }
    let config = remote::Config {
        endpoint: settings.endpoint.clone(),
        // More patient than the router's 200 ms: the kit may run from afar.
        connect_timeout_ms: 1000,
        keepalive_s: 300,
        tls: settings.tls.clone(),
    };
    let endpoint = remote::endpoint(&config).map_err(CheckError::Endpoint)?;
    let channel = match tokio::time::timeout(settings.call_budget, endpoint.connect()).await {
        Ok(Ok(channel)) => channel,
        Ok(Err(e)) => {
            return Err(CheckError::Unreachable(format!(
                "cannot connect to {} ({}): is the adapter running there{}?",
                settings.endpoint,
                text::clean(&chain(&e), 512),
                if https {
                    ", and does its certificate chain to --ca"
                } else {
                    ""
                }
            )));
        }
        Err(_) => {
            return Err(CheckError::Unreachable(format!(
                "cannot connect to {} within {} ms: is the adapter running there?",
                settings.endpoint,
                settings.call_budget.as_millis()
            )));
        }
    };
    let adapter = RemoteAdapter::from_channel(channel.clone());
    // One Describe first: a service without it is not an adapter at all,
    // and a table of eight failures would hide that.
    if let Ok(Err(AdapterError::Rpc {
        code: Code::Unimplemented,
        ..
    })) = tokio::time::timeout(settings.call_budget, adapter.describe()).await
    {
        return Err(CheckError::NotAnAdapter(format!(
            "{} answers gRPC but not finroute.v1.FinancingAdapter/Describe (UNIMPLEMENTED): this looks like a finroute router or another gRPC service, not an adapter",
            settings.endpoint
        )));
    }
    let kit = Kit {
        settings,
        adapter,
        channel,
    };
    let mut checks = vec![kit.health().await];
    let description = kit.describe(&mut checks).await;
    checks.push(match &description {
        Some(d) => describe_parties(d),
        None => fail("describe.parties", "not run: Describe failed"),
    });
    let valid_offer = match &description {
        Some(d) => kit.quotes(d, &mut checks).await,
        None => {
            for name in [
                "quote.latency",
                "quote.offers",
                "quote.apr",
                "quote.narrow",
                "quote.answers",
            ] {
                checks.push(fail(name, "not run: Describe failed"));
            }
            None
        }
    };
    match &description {
        Some(d) if !d.supports_accept => {
            for name in ["accept.idempotent", "accept.unknown_offer"] {
                checks.push(Check {
                    name,
                    verdict: Verdict::Skip,
                    detail: "supports_accept is false".into(),
                });
            }
        }
        _ => {
            checks.push(match &valid_offer {
                Some(reference) => kit.accept_idempotent(reference).await,
                None => fail(
                    "accept.idempotent",
                    "not run: no valid offer was quoted to accept",
                ),
            });
            checks.push(kit.accept_unknown_offer().await);
        }
    }
    Ok(Report {
        endpoint: settings.endpoint.clone(),
        checks,
    })
}

/// Longest detail of one check, in bytes.
const MAX_CHECK_DETAIL: usize = 4096;

fn pass(name: &'static str, detail: impl Into<String>) -> Check {
    Check {
        name,
        verdict: Verdict::Pass,
        // The partner's own text is in it: no escapes reach the terminal.
        detail: text::clean(&detail.into(), MAX_CHECK_DETAIL),
    }
}

fn fail(name: &'static str, detail: impl Into<String>) -> Check {
    Check {
        name,
        verdict: Verdict::Fail,
        // The partner's own text is in it: no escapes reach the terminal.
        detail: text::clean(&detail.into(), MAX_CHECK_DETAIL),
    }
}

fn warn(name: &'static str, detail: impl Into<String>) -> Check {
    Check {
        name,
        verdict: Verdict::Warn,
        // The partner's own text is in it: no escapes reach the terminal.
        detail: text::clean(&detail.into(), MAX_CHECK_DETAIL),
    }
}

/// A check's detail when valid offers would not be shown to the kit's
/// applicant: what passed, then why each was held back.
fn not_shown_detail(valid: &str, not_shown: &[String]) -> String {
    format!(
        "{valid}; the router would not show {} of them to the kit's applicant, which is about this applicant, not the contract: {}",
        not_shown.len(),
        not_shown.join("; ")
    )
}

/// What `quote.answers` found wrong or weak in one quote's typed answers
/// (empty findings: nothing to say); `checked` counts what it looked at.
#[derive(Debug, Default)]
struct AnswerFindings {
    checked: usize,
    warnings: Vec<String>,
}

/// Looks at a quote's typed answers: its decline when it made no offer,
/// and every adjusted offer.
fn typed_answers(outcome: &QuoteOutcome, into: &mut Vec<AnswerFindings>) {
    let mut f = AnswerFindings::default();
    if outcome.offers.is_empty() && outcome.malformed.is_empty() {
        f.checked += 1;
        match &outcome.decline {
            None => f.warnings.push(
                "a decline without a typed reason (QuoteResponse.decline): the router reads it as OTHER and cannot tell the borrower what would help".into(),
            ),
            Some(d) if d.untyped => f.warnings.push(
                "a decline reason the router does not know: read as OTHER".into(),
            ),
            Some(d) if d.reason == finroute_core::DeclineReason::MissingData
                && d.missing_fields.is_empty() =>
            {
                f.warnings.push(
                    "a MISSING_DATA decline without missing_fields: the borrower cannot be told what to provide".into(),
                )
            }
            Some(_) => {}
        }
    }
    for o in &outcome.offers {
        let Some(a) = &o.adjustment else { continue };
        f.checked += 1;
        if a.changed.is_empty() {
            f.warnings.push(format!(
                "offer {}: adjusted, but `changed` names no known change (AMOUNT, TERM or RATE)",
                o.partner_offer_ref
            ));
        }
        if a.reason.is_none() {
            f.warnings.push(format!(
                "offer {}: adjusted without a reason",
                o.partner_offer_ref
            ));
        }
    }
    into.push(f);
}

/// The `quote.answers` row over both quotes' findings.
fn answers_check(findings: &[AnswerFindings]) -> Check {
    const NAME: &str = "quote.answers";
    let checked: usize = findings.iter().map(|f| f.checked).sum();
    let mut warnings: Vec<&str> = Vec::new();
    for w in findings.iter().flat_map(|f| &f.warnings) {
        // Both quotes may say the same: once is enough.
        if !warnings.contains(&w.as_str()) {
            warnings.push(w);
        }
    }
    if checked == 0 {
        pass(NAME, "no decline or adjusted offer to check")
    } else if warnings.is_empty() {
        pass(
            NAME,
            format!(
                "{checked} typed answers (declines, adjusted offers) carry a known reason and say what changed"
            ),
        )
    } else {
        warn(NAME, warnings.join("; "))
    }
}

/// 12 random hex digits: enough to keep the kit's runs apart.
fn short_id() -> String {
    let mut id = uuid::Uuid::new_v4().simple().to_string();
    id.truncate(12);
    id
}

/// `1302` as `13.02 %`.
fn percent(bps: i32) -> String {
    format!("{}.{:02} %", bps / 100, (bps % 100).abs())
}

fn code_name(code: Code) -> String {
    format!("{code:?}").chars().fold(String::new(), |mut s, c| {
        if c.is_uppercase() && !s.is_empty() {
            s.push('_');
        }
        s.push(c.to_ascii_uppercase());
        s
    })
}

/// How an adapter call failed, in words.
fn failure(e: &AdapterError) -> String {
    match e {
        AdapterError::Rpc { code, message } => format!("answered {}: {message}", code_name(*code)),
        AdapterError::Timeout(budget) => format!("no answer within {} ms", budget.as_millis()),
        AdapterError::Malformed(m) => format!("malformed answer: {m}"),
        AdapterError::Unsupported(m) => m.clone(),
    }
}

/// The request one quote check sends and validates against.
struct Probe {
    /// What `price_offer` validates against.
    request: FinancingRequest,
    /// What goes on the wire (the applicant minimised to the declared fields).
    quote: QuoteRequest,
}

struct Kit<'a> {
    settings: &'a Settings,
    adapter: RemoteAdapter,
    /// The adapter's connection (the health check's client shares it).
    channel: tonic::transport::Channel,
}

impl Kit<'_> {
    async fn health(&self) -> Check {
        use tonic_health::pb::health_client::HealthClient;
        use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus};
        const NAME: &str = "health";
        let budget = self.settings.call_budget;
        let mut client = HealthClient::new(self.channel.clone());
        let mut seen = Vec::new();
        for service in ["", "finroute.v1.FinancingAdapter"] {
            let mut request = tonic::Request::new(HealthCheckRequest {
                service: service.into(),
            });
            request.set_timeout(budget);
            let shown = if service.is_empty() { "\"\"" } else { service };
            match tokio::time::timeout(budget, client.check(request)).await {
                Ok(Ok(r)) => {
                    let status = r.into_inner().status;
                    if status == ServingStatus::Serving as i32 {
                        return pass(NAME, format!("{shown}: SERVING"));
                    }
                    let name = ServingStatus::try_from(status)
                        .map(|s| s.as_str_name().to_owned())
                        .unwrap_or_else(|_| status.to_string());
                    seen.push(format!("{shown}: {name}"));
                }
                Ok(Err(s)) => {
                    seen.push(format!("{shown}: {} {}", code_name(s.code()), s.message()))
                }
                Err(_) => seen.push(format!(
                    "{shown}: no answer within {} ms",
                    budget.as_millis()
                )),
            }
        }
        fail(
            NAME,
            format!(
                "grpc.health.v1.Health does not report SERVING ({})",
                seen.join("; ")
            ),
        )
    }

    /// The `describe` check; the description when the router would accept it.
    async fn describe(&self, checks: &mut Vec<Check>) -> Option<Description> {
        const NAME: &str = "describe";
        // RemoteAdapter::describe is the router's call and its conversion
        // (finroute_adapters::convert::description_from_pb).
        let d = match tokio::time::timeout(self.settings.call_budget, self.adapter.describe()).await
        {
            Ok(Ok(d)) => d,
            Ok(Err(e)) => {
                checks.push(fail(NAME, failure(&e)));
                return None;
            }
            Err(_) => {
                checks.push(fail(
                    NAME,
                    format!(
                        "no answer within {} ms",
                        self.settings.call_budget.as_millis()
                    ),
                ));
                return None;
            }
        };
        let mut problems = Vec::new();
        if d.adapter_id.trim().is_empty() {
            problems.push("adapter_id is empty".to_owned());
        }
        if d.display_name.trim().is_empty() {
            problems.push("display_name is empty".to_owned());
        }
        for (field, m) in [("min_amount", d.min_amount), ("max_amount", d.max_amount)] {
            if let Some(m) = m {
                if m.amount_minor <= 0 {
                    problems.push(format!("{field} must be positive"));
                }
                if !d.currencies.contains(&m.currency) {
                    problems.push(format!(
                        "{field} is in {}, not a declared currency",
                        m.currency
                    ));
                }
            }
        }
        if let (Some(lo), Some(hi)) = (d.min_amount, d.max_amount)
            && lo.currency == hi.currency
            && lo.amount_minor > hi.amount_minor
        {
            problems.push("min_amount is above max_amount".to_owned());
        }
        if !problems.is_empty() {
            checks.push(fail(
                NAME,
                format!(
                    "{} (checked by the kit; the router would still load it)",
                    problems.join("; ")
                ),
            ));
            return None;
        }
        let amounts = match (d.min_amount, d.max_amount) {
            (Some(lo), Some(hi)) => format!("{}..{}", lo.display_major(), hi.display_major()),
            (Some(lo), None) => format!("from {}", lo.display_major()),
            (None, Some(hi)) => format!("up to {}", hi.display_major()),
            (None, None) => "any amount".to_owned(),
        };
        checks.push(pass(
            NAME,
            format!(
                "{:?}: {:?} in {:?}, {amounts}, {}..={} months, needs {:?}, accept {}",
                d.adapter_id,
                d.product_kinds,
                d.currencies,
                d.min_term_months,
                d.max_term_months,
                d.required_fields,
                if d.supports_accept { "yes" } else { "no" }
            ),
        ));
        Some(d)
    }

    /// The quote checks; the reference of the first valid offer.
    async fn quotes(&self, d: &Description, checks: &mut Vec<Check>) -> Option<String> {
        let Some(&currency) = d.currencies.first() else {
            // description_from_pb refuses an empty list; kept for safety.
            checks.push(fail("quote.latency", "not run: no currency described"));
            return None;
        };
        let clamp = |amount: i64| {
            let lo = d
                .min_amount
                .filter(|m| m.currency == currency)
                .map_or(1, |m| m.amount_minor);
            let hi = d
                .max_amount
                .filter(|m| m.currency == currency)
                .map_or(i64::MAX, |m| m.amount_minor);
            amount.clamp(lo, hi.max(lo))
        };
        // 50 000 in major units, within the described amounts.
        let amount = clamp(5_000_000);
        let full = self.probe(
            d,
            Money::new(currency, amount),
            d.min_term_months,
            d.max_term_months,
        );
        let started = Instant::now();
        let answer = self.adapter.quote(full.quote.clone()).await;
        let elapsed = started.elapsed();
        let outcome = match answer {
            Ok(o) => o,
            Err(e) => {
                checks.push(fail(
                    "quote.latency",
                    format!(
                        "{} (budget {} ms)",
                        failure(&e),
                        self.settings.quote_budget.as_millis()
                    ),
                ));
                for name in ["quote.offers", "quote.apr", "quote.narrow", "quote.answers"] {
                    checks.push(fail(name, "not run: Quote failed"));
                }
                return None;
            }
        };
        checks.push(pass(
            "quote.latency",
            format!(
                "answered in {} ms (budget {} ms) with {} offers",
                elapsed.as_millis(),
                self.settings.quote_budget.as_millis(),
                outcome.offers.len() + outcome.malformed.len()
            ),
        ));
        let decline = outcome.decline_reason.clone();
        let mut answers = Vec::new();
        typed_answers(&outcome, &mut answers);
        let Validated {
            priced,
            problems,
            not_shown,
        } = validate(&full.request, d, outcome);
        if !problems.is_empty() {
            let mut detail = problems.join("; ");
            if !not_shown.is_empty() {
                detail.push_str(&format!(
                    "; and, not a failure, not shown to the kit's applicant: {}",
                    not_shown.join("; ")
                ));
            }
            checks.push(fail("quote.offers", detail));
        } else if priced.is_empty() {
            checks.push(fail(
                "quote.offers",
                format!(
                    "no offer to check: the kit's applicant (score 780, steady income, a car as collateral) was declined ({decline:?}); return at least one offer for a request of {} over {}..={} months",
                    full.request.requested_amount.display_major(),
                    full.request.min_term_months,
                    full.request.max_term_months
                ),
            ));
        } else {
            let refs: Vec<_> = priced
                .iter()
                .map(|c| c.offer.partner_offer_ref.as_str())
                .collect();
            let valid = format!(
                "{} offers pass the router's validation: {refs:?}",
                priced.len()
            );
            checks.push(if not_shown.is_empty() {
                pass("quote.offers", valid)
            } else {
                warn("quote.offers", not_shown_detail(&valid, &not_shown))
            });
        }
        checks.push(stated_apr(&priced));

        // A narrower request: half the amount, the shortest term only.
        let narrow = self.probe(
            d,
            Money::new(currency, clamp(amount / 2)),
            d.min_term_months,
            d.min_term_months,
        );
        checks.push(match self.adapter.quote(narrow.quote.clone()).await {
            Err(e) => fail("quote.narrow", failure(&e)),
            Ok(outcome) => {
                let decline = outcome.decline_reason.clone();
                typed_answers(&outcome, &mut answers);
                let Validated {
                    priced: ok,
                    problems,
                    not_shown,
                } = validate(&narrow.request, d, outcome);
                if !problems.is_empty() {
                    fail("quote.narrow", problems.join("; "))
                } else if ok.is_empty() {
                    pass("quote.narrow", format!("declined ({decline:?}): allowed"))
                } else {
                    let within = format!(
                        "{} offers within {} and {} months",
                        ok.len(),
                        narrow.request.requested_amount.display_major(),
                        narrow.request.min_term_months
                    );
                    if not_shown.is_empty() {
                        pass("quote.narrow", within)
                    } else {
                        warn("quote.narrow", not_shown_detail(&within, &not_shown))
                    }
                }
            }
        });
        checks.push(answers_check(&answers));
        priced.first().map(|c| c.offer.partner_offer_ref.clone())
    }

    fn probe(&self, d: &Description, amount: Money, min_term: u32, max_term: u32) -> Probe {
        let applicant = kit_applicant(amount);
        let request = FinancingRequest {
            request_id: String::new(),
            applicant: applicant.clone(),
            requested_amount: amount,
            min_term_months: min_term,
            max_term_months: max_term,
            purpose: LoanPurpose::Consumption,
            primary_decision: None,
            strategy: Strategy::Balanced,
            product_kinds: Vec::new(),
            max_offers: 10,
            locale: Locale::En,
            channels: Default::default(),
        };
        let quote = QuoteRequest {
            quote_id: format!("ck-{}", short_id()),
            // The router's minimisation: exactly the declared fields.
            applicant: applicant.minimised(&d.required_fields),
            requested_amount: amount,
            min_term_months: min_term,
            max_term_months: max_term,
            purpose: LoanPurpose::Consumption,
            budget: self.settings.quote_budget,
            locale: Default::default(),
        };
        Probe { request, quote }
    }

    async fn accept(&self, reference: &str, key: &str) -> Result<AcceptOutcome, AdapterError> {
        let call = self.adapter.accept(AcceptRequest {
            partner_offer_ref: reference.to_owned(),
            idempotency_key: key.to_owned(),
            applicant_id: CHANNEL_ID.to_owned(),
            budget: Some(self.settings.call_budget),
        });
        match tokio::time::timeout(self.settings.call_budget, call).await {
            Ok(r) => r,
            Err(_) => Err(AdapterError::Timeout(self.settings.call_budget)),
        }
    }

    async fn accept_idempotent(&self, reference: &str) -> Check {
        const NAME: &str = "accept.idempotent";
        let key = format!("check-adapter-{}", short_id());
        let (a, b) = tokio::join!(self.accept(reference, &key), self.accept(reference, &key));
        let c = self.accept(reference, &key).await;
        let mut answers = Vec::new();
        for (i, r) in [a, b].into_iter().enumerate() {
            match r {
                Ok(o) => answers.push(o),
                // A partner may refuse a concurrent duplicate it is still booking.
                Err(AdapterError::Rpc {
                    code: Code::Unavailable | Code::Aborted,
                    ..
                }) => {}
                Err(e) => {
                    return fail(
                        NAME,
                        format!("concurrent call {} with one key: {}", i + 1, failure(&e)),
                    );
                }
            }
        }
        match c {
            Ok(o) => answers.push(o),
            Err(e) => return fail(NAME, format!("repeated call with the key: {}", failure(&e))),
        }
        let finals: Vec<&AcceptOutcome> = answers
            .iter()
            .filter(|o| o.status != AcceptStatus::Pending)
            .collect();
        let show = |o: &AcceptOutcome| format!("{:?} {:?}", o.status, o.partner_reference);
        match finals.first() {
            None => pass(
                NAME,
                format!("{} answers, all PENDING (allowed)", answers.len()),
            ),
            Some(first) => {
                if let Some(other) = finals.iter().find(|o| {
                    o.status != first.status || o.partner_reference != first.partner_reference
                }) {
                    fail(
                        NAME,
                        format!(
                            "one idempotency key, different answers: {} then {} (booked twice?)",
                            show(first),
                            show(other)
                        ),
                    )
                } else {
                    pass(
                        NAME,
                        format!(
                            "{} answers to one key (2 at once, 1 after), all {}",
                            answers.len(),
                            show(first)
                        ),
                    )
                }
            }
        }
    }

    async fn accept_unknown_offer(&self) -> Check {
        const NAME: &str = "accept.unknown_offer";
        let reference = format!("check-adapter-unknown-{}", short_id());
        let key = format!("check-adapter-{}", short_id());
        match self.accept(&reference, &key).await {
            Err(AdapterError::Rpc {
                code: code @ (Code::NotFound | Code::FailedPrecondition | Code::InvalidArgument),
                ..
            }) => pass(NAME, format!("refused with {}", code_name(code))),
            Err(e) => fail(
                NAME,
                format!(
                    "{}; expected NOT_FOUND, FAILED_PRECONDITION or INVALID_ARGUMENT",
                    failure(&e)
                ),
            ),
            Ok(o) => fail(
                NAME,
                format!(
                    "answered {:?} for a reference it never issued; expected NOT_FOUND, FAILED_PRECONDITION or INVALID_ARGUMENT",
                    o.status
                ),
            ),
        }
    }
}

/// What the router's validation made of one quote's offers.
struct Validated {
    /// The offers that are valid, applicant-specific rejections included.
    priced: Vec<Checked>,
    /// Contract failures, each naming its offer and field.
    problems: Vec<String>,
    /// Valid offers the router would not show to the kit's applicant
    /// (affordability, a rate cap), with the reason: warnings, not failures.
    not_shown: Vec<String>,
}

/// A valid offer as the router priced it, with its mandatory charges in words.
struct Checked {
    offer: Offer,
    mandatory: Vec<String>,
}

/// Whether a rejection is about the kit's particular applicant (its income,
/// its region's cap) rather than the partner's contract: a valid offer the
/// router would show to another applicant.
fn applicant_specific(reason: RejectReason) -> bool {
    matches!(
        reason,
        RejectReason::Unaffordable | RejectReason::AboveRateCap
    )
}

/// Every offer of `outcome` through the kit's charge checks and the
/// router's validation against `request` and the terms `d` declares.
fn validate(request: &FinancingRequest, d: &Description, outcome: QuoteOutcome) -> Validated {
    let mut problems: Vec<String> = outcome
        .malformed
        .iter()
        .map(|m| format!("offer {:?}: {}", m.partner_offer_ref, m.reason))
        .collect();
    let mut seen = std::collections::HashSet::new();
    for o in &outcome.offers {
        if !o.partner_offer_ref.is_empty() && !seen.insert(o.partner_offer_ref.clone()) {
            problems.push(format!(
                "offer {:?}: partner_offer_ref repeated in one quote (checked by the kit)",
                o.partner_offer_ref
            ));
        }
    }
    let terms = d.terms(CHANNEL_ID);
    let policy = PricingPolicy::default();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    let mut priced = Vec::new();
    let mut not_shown = Vec::new();
    for offer in outcome.offers {
        let parties = merge_parties(&offer.parties, &d.parties);
        let faults = charge_problems(&offer, &parties);
        if !faults.is_empty() {
            for f in faults {
                problems.push(format!("offer {:?}: {f}", offer.partner_offer_ref));
            }
            continue;
        }
        let mandatory = mandatory_charges(&offer);
        match finroute_core::price_offer(request, &terms, &policy, offer, now) {
            Ok(o) => priced.push(Checked {
                offer: o,
                mandatory,
            }),
            Err(r) if applicant_specific(r.reason) => {
                not_shown.push(format!("{r} ({})", r.reason.code()));
                if let Some(o) = r.priced {
                    priced.push(Checked {
                        offer: *o,
                        mandatory,
                    });
                }
            }
            Err(r) => problems.push(r.to_string()),
        }
    }
    Validated {
        priced,
        problems,
        not_shown,
    }
}

/// A party role as the proto spells it.
fn role_name(role: PartyRole) -> &'static str {
    match role {
        PartyRole::Lender => "LENDER",
        PartyRole::Platform => "PLATFORM",
        PartyRole::Guarantor => "GUARANTOR",
        PartyRole::Insurer => "INSURER",
        PartyRole::Other => "OTHER",
    }
}

/// A charge timing as the proto spells it.
fn timing_name(timing: ChargeTiming) -> &'static str {
    match timing {
        ChargeTiming::DeductedAtDisbursement => "DEDUCTED_AT_DISBURSEMENT",
        ChargeTiming::PaidAtDisbursement => "PAID_AT_DISBURSEMENT",
        ChargeTiming::PerPeriodAmount => "PER_PERIOD_AMOUNT",
        ChargeTiming::PerPeriodRateOnPrincipal => "PER_PERIOD_RATE_ON_PRINCIPAL",
        ChargeTiming::PerPeriodRateOnBalance => "PER_PERIOD_RATE_ON_BALANCE",
        ChargeTiming::AtEnd => "AT_END",
    }
}

/// Highest `period_rate_bps` a rate charge may have (100 % a period).
const MAX_PERIOD_RATE_BPS: i32 = 10_000;

/// What is wrong with `offer`'s charges, each starting with the field
/// (`charges[1].payee_name ...`); `parties` are the offer's merged with
/// Describe's, where a guarantor or insurer payee must be named.
fn charge_problems(offer: &PartnerOffer, parties: &[Party]) -> Vec<String> {
    let mut out = Vec::new();
    let currency = offer.principal.currency;
    for (i, c) in offer.charges.iter().enumerate() {
        let field = format!("charges[{i}]");
        match c.kind {
            None => out.push(format!(
                "{field}.kind is unspecified or unknown (SERVICE_FEE, GUARANTEE_FEE, INSURANCE_PREMIUM, MEMBERSHIP, ARRANGEMENT_FEE or OTHER)"
            )),
            Some(ChargeKind::Interest) => out.push(format!(
                "{field}.kind is INTEREST: interest is the schedule's (nominal_rate_bps), never a charge"
            )),
            Some(_) => {}
        }
        match c.payee {
            None => out.push(format!("{field}.payee is unspecified or unknown")),
            Some(PartyRole::Lender) => {}
            Some(role) if c.payee_name.trim().is_empty() => out.push(format!(
                "{field}.payee_name is empty: name the {} paid (required unless the payee is the lender)",
                role_name(role)
            )),
            Some(role @ (PartyRole::Guarantor | PartyRole::Insurer)) => {
                if !parties
                    .iter()
                    .any(|p| p.role == role && p.legal_name == c.payee_name)
                {
                    out.push(format!(
                        "{field}.payee_name {:?} is not a {} among the parties: name it in PartnerOffer.parties or AdapterDescription.parties",
                        c.payee_name,
                        role_name(role)
                    ));
                }
            }
            Some(_) => {}
        }
        match c.timing {
            None => out.push(format!("{field}.timing is unspecified or unknown")),
            Some(t) if t.is_amount() => match c.amount {
                None => out.push(format!(
                    "{field}.amount is required for timing {}",
                    timing_name(t)
                )),
                Some(m) if m.currency != currency => out.push(format!(
                    "{field}.amount is in {}, not the principal's {currency}",
                    m.currency
                )),
                Some(m) if m.amount_minor < 0 => {
                    out.push(format!("{field}.amount {} is negative", m.amount_minor))
                }
                Some(_) => {}
            },
            Some(t) => {
                if !(0..=MAX_PERIOD_RATE_BPS).contains(&c.period_rate_bps) {
                    out.push(format!(
                        "{field}.period_rate_bps {} outside 0..={MAX_PERIOD_RATE_BPS} (timing {})",
                        c.period_rate_bps,
                        timing_name(t)
                    ));
                }
            }
        }
    }
    out
}

/// The offer's mandatory costs besides interest, in words: the upfront
/// fee and every charge the borrower may not decline.
fn mandatory_charges(offer: &PartnerOffer) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(fee) = offer.upfront_fee.filter(|f| f.amount_minor > 0) {
        out.push(format!("upfront_fee {}", fee.display_major()));
    }
    for (i, c) in offer.charges.iter().enumerate() {
        if c.declinable {
            continue;
        }
        let kind = match c.kind {
            Some(ChargeKind::ServiceFee) => "service fee",
            Some(ChargeKind::GuaranteeFee) => "guarantee fee",
            Some(ChargeKind::InsurancePremium) => "insurance premium",
            Some(ChargeKind::Membership) => "membership",
            Some(ChargeKind::ArrangementFee) => "arrangement fee",
            _ => "charge",
        };
        let amount = |m: Option<Money>| m.map_or_else(|| "?".to_owned(), |m| m.display_major());
        let how = match c.timing {
            Some(ChargeTiming::DeductedAtDisbursement) => {
                format!("{} deducted at disbursement", amount(c.amount))
            }
            Some(ChargeTiming::PaidAtDisbursement) => {
                format!("{} paid at disbursement", amount(c.amount))
            }
            Some(ChargeTiming::PerPeriodAmount) => format!("{} a month", amount(c.amount)),
            Some(ChargeTiming::AtEnd) => format!("{} at the end", amount(c.amount)),
            Some(ChargeTiming::PerPeriodRateOnPrincipal) => {
                format!("{} of the principal a month", percent(c.period_rate_bps))
            }
            Some(ChargeTiming::PerPeriodRateOnBalance) => {
                format!("{} of the balance a month", percent(c.period_rate_bps))
            }
            None => String::new(),
        };
        let to = if c.payee_name.is_empty() {
            String::new()
        } else {
            format!(" to {}", c.payee_name)
        };
        out.push(
            format!("charges[{i}] {kind}{to} {how}")
                .trim_end()
                .to_owned(),
        );
    }
    out
}

/// The `describe.parties` check: Describe names the lender of record.
fn describe_parties(d: &Description) -> Check {
    const NAME: &str = "describe.parties";
    let Some(lender) = lender_of(&d.parties) else {
        return fail(
            NAME,
            "no lender of record: AdapterDescription.parties needs a Party with role PARTY_ROLE_LENDER and its legal_name (the router shows it with every offer)",
        );
    };
    let named: Vec<String> = d
        .parties
        .iter()
        .map(|p| {
            if p.registration_id.is_empty() {
                format!("{} {:?}", role_name(p.role), p.legal_name)
            } else {
                format!(
                    "{} {:?} ({})",
                    role_name(p.role),
                    p.legal_name,
                    p.registration_id
                )
            }
        })
        .collect();
    if lender.registration_id.trim().is_empty() {
        warn(
            NAME,
            format!(
                "{}; the lender of record has no registration_id (recommended: partner name-lists and consents match parties by it)",
                named.join(", ")
            ),
        )
    } else {
        pass(NAME, named.join(", "))
    }
}

/// The `quote.apr` check over the offers that passed validation: the
/// router's own STATED_APR_UNDERSTATED flag, so a stated APR that leaves a
/// mandatory charge out fails here.
fn stated_apr(priced: &[Checked]) -> Check {
    const NAME: &str = "quote.apr";
    if priced.is_empty() {
        return fail(NAME, "not run: no valid offer");
    }
    let tolerance = PricingPolicy::default().understatement_tolerance_bps;
    let mut under = Vec::new();
    let mut seen = Vec::new();
    for Checked {
        offer: o,
        mandatory,
    } in priced
    {
        if o.warnings.contains(&OfferWarning::StatedAprUnderstated) {
            let charges = if mandatory.is_empty() {
                "none besides interest".to_owned()
            } else {
                mandatory.join(", ")
            };
            under.push(format!(
                "offer {:?}: stated APR {} understates the comprehensive APR {} (mandatory charges: {charges})",
                o.partner_offer_ref,
                percent(o.stated_apr_bps),
                percent(o.apr_bps)
            ));
        } else {
            seen.push(format!(
                "{:?} states {}, cash flows give {}",
                o.partner_offer_ref,
                percent(o.stated_apr_bps),
                percent(o.apr_bps)
            ));
        }
    }
    if under.is_empty() {
        pass(NAME, seen.join("; "))
    } else {
        fail(
            NAME,
            format!(
                "the router flags STATED_APR_UNDERSTATED (stated more than {tolerance} bp below the APR of the cash flows, every mandatory charge included): {}",
                under.join("; ")
            ),
        )
    }
}

/// A synthetic, creditworthy applicant who consents to share everything;
/// the partner receives only the fields it declared.
fn kit_applicant(amount: Money) -> Applicant {
    let region = match amount.currency.as_str() {
        "CNY" => "CN-31",
        "USD" => "US-CA",
        "EUR" => "DE-BE",
        _ => "",
    };
    let major = |n: i64| Money::new(amount.currency, n * 100);
    Applicant {
        applicant_id: CHANNEL_ID.into(),
        region: region.into(),
        credit_score: Some(780),
        monthly_income: Some(major(30_000)),
        income_volatility: Some(0.1),
        monthly_debt_payments: Some(major(2_000)),
        employment: Some(EmploymentType::Employed),
        collateral: vec![Collateral {
            kind: CollateralKind::Vehicle,
            appraised_value: Money::new(
                amount.currency,
                amount
                    .amount_minor
                    .saturating_mul(2)
                    .max(major(100_000).amount_minor),
            ),
            encumbered: false,
        }],
        consent: Consent {
            share_with_partners: true,
            consent_version: CHANNEL_ID.into(),
            given_at: None,
            recipients: Vec::new(),
            named_recipients: Vec::new(),
        },
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use finroute_core::Charge;

    #[test]
    fn a_partner_text_in_a_check_cannot_reach_the_terminal_raw() {
        let c = fail(
            "health",
            "\u{1b}]0;owned\u{7}answered UNKNOWN: \u{1b}[2J合作方\u{0}",
        );
        assert_eq!(c.detail, "]0;ownedanswered UNKNOWN: [2J合作方");
        assert!(pass("describe", "x".repeat(10_000)).detail.len() <= MAX_CHECK_DETAIL);
    }

    #[test]
    fn code_names_are_the_grpc_names() {
        assert_eq!(code_name(Code::NotFound), "NOT_FOUND");
        assert_eq!(code_name(Code::FailedPrecondition), "FAILED_PRECONDITION");
        assert_eq!(code_name(Code::Ok), "OK");
    }

    #[test]
    fn percent_shows_two_decimals() {
        assert_eq!(percent(1302), "13.02 %");
        assert_eq!(percent(5), "0.05 %");
    }

    fn cny(minor: i64) -> Money {
        Money::new(finroute_core::Currency::parse("CNY").unwrap(), minor)
    }

    fn party(role: PartyRole, name: &str, id: &str) -> Party {
        Party::new(role, name, id)
    }

    fn guarantee(rate: i32) -> Charge {
        Charge {
            kind: Some(ChargeKind::GuaranteeFee),
            payee: Some(PartyRole::Guarantor),
            payee_name: "G Guarantee Co.".into(),
            timing: Some(ChargeTiming::PerPeriodRateOnPrincipal),
            amount: None,
            period_rate_bps: rate,
            declinable: false,
            description: String::new(),
        }
    }

    fn offer(charges: Vec<Charge>) -> PartnerOffer {
        PartnerOffer {
            partner_offer_ref: "o".into(),
            product_kind: Some(finroute_core::ProductKind::PartnerLoan),
            product_name: String::new(),
            principal: cny(1_000_000),
            term_months: 12,
            repayment_method: Some(finroute_core::RepaymentMethod::EqualInstallment),
            qualification: Default::default(),
            stated_apr_bps: 1300,
            nominal_rate_bps: 1300,
            monthly_fee_rate_bps: 0,
            upfront_fee: None,
            schedule: Vec::new(),
            approval_probability: None,
            valid_for_ms: 60_000,
            requires_collateral: false,
            disclosures: Vec::new(),
            charges,
            parties: Vec::new(),
            promotion: None,
            adjustment: None,
            conditions: Vec::new(),
        }
    }

    #[test]
    fn a_charge_to_the_lender_needs_no_name_a_guarantor_must_be_a_party() {
        let guarantor = party(PartyRole::Guarantor, "G Guarantee Co.", "9131");
        let ok = offer(vec![guarantee(75)]);
        assert!(charge_problems(&ok, std::slice::from_ref(&guarantor)).is_empty());
        // The same name under another role does not count.
        let p = charge_problems(&ok, &[party(PartyRole::Insurer, "G Guarantee Co.", "")]);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].starts_with("charges[0].payee_name \"G Guarantee Co.\" is not a GUARANTOR"));
        let to_lender = Charge {
            kind: Some(ChargeKind::ServiceFee),
            payee: Some(PartyRole::Lender),
            payee_name: String::new(),
            timing: Some(ChargeTiming::PerPeriodAmount),
            amount: Some(cny(1_000)),
            ..guarantee(0)
        };
        assert!(charge_problems(&offer(vec![to_lender.clone()]), &[]).is_empty());
        // A platform payee must be named, but need not be a party.
        let to_platform = Charge {
            payee: Some(PartyRole::Platform),
            ..to_lender
        };
        let p = charge_problems(&offer(vec![guarantee(75), to_platform]), &[guarantor]);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].starts_with("charges[1].payee_name is empty: name the PLATFORM"));
    }

    #[test]
    fn rate_bounds_are_inclusive() {
        let g = party(PartyRole::Guarantor, "G Guarantee Co.", "");
        for (rate, ok) in [(-1, false), (0, true), (10_000, true), (10_001, false)] {
            let p = charge_problems(&offer(vec![guarantee(rate)]), std::slice::from_ref(&g));
            assert_eq!(p.is_empty(), ok, "{rate}: {p:?}");
        }
    }

    #[test]
    fn mandatory_charges_leave_declinable_ones_out() {
        let mut o = offer(vec![
            guarantee(75),
            Charge {
                kind: Some(ChargeKind::InsurancePremium),
                payee: Some(PartyRole::Insurer),
                declinable: true,
                ..guarantee(10)
            },
        ]);
        o.upfront_fee = Some(cny(15_000));
        assert_eq!(
            mandatory_charges(&o),
            [
                "upfront_fee 150 CNY",
                "charges[0] guarantee fee to G Guarantee Co. 0.75 % of the principal a month"
            ]
        );
        assert!(mandatory_charges(&offer(vec![])).is_empty());
    }

    #[test]
    fn only_affordability_and_rate_caps_are_about_the_applicant() {
        assert!(applicant_specific(RejectReason::Unaffordable));
        assert!(applicant_specific(RejectReason::AboveRateCap));
        for r in [
            RejectReason::InvalidField,
            RejectReason::InvalidCharge,
            RejectReason::ScheduleInconsistent,
            RejectReason::NotOnPartnerList,
            RejectReason::Unpriceable,
        ] {
            assert!(!applicant_specific(r), "{r}");
        }
    }

    #[test]
    fn a_warning_passes_the_report_and_is_named_in_the_summary() {
        let r = Report {
            endpoint: "http://x".into(),
            checks: vec![pass("health", "ok"), warn("quote.offers", "not shown")],
        };
        assert!(r.passed());
        assert_eq!(r.warned(), ["quote.offers"]);
        let t = r.to_string();
        assert!(t.contains("WARN    quote.offers  not shown"), "{t}");
        assert!(
            t.ends_with("2 checks: 1 passed, 0 failed, 0 skipped, 1 warned (warned: quote.offers)"),
            "{t}"
        );
    }

    #[test]
    fn the_table_names_failed_checks() {
        let r = Report {
            endpoint: "http://x".into(),
            checks: vec![pass("health", "ok"), fail("quote.latency", "slow")],
        };
        assert!(!r.passed());
        let t = r.to_string();
        assert!(t.contains("FAIL    quote.latency  slow"), "{t}");
        assert!(
            t.ends_with("2 checks: 1 passed, 1 failed, 0 skipped (failed: quote.latency)"),
            "{t}"
        );
    }
}
