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
//! | `quote.latency` | `Quote` for the kit's applicant answers within the quote budget (the router's default channel timeout, 300 ms) |
//! | `quote.offers` | at least one offer, and every offer passes the router's validation: known kind and method, requested currency, principal positive and within the request and the channel's amounts, term within the request and the described range, probability in [0, 1], a schedule (when sent) that repays the principal, a priceable APR, a future expiry; references unique |
//! | `quote.apr` | no offer's `stated_apr_bps` is below the APR the router computes from its cash flows by more than the router's tolerance (10 bp) |
//! | `quote.narrow` | offers to a narrower request (half the amount, the shortest term) stay within it (declining is fine) |
//! | `accept.idempotent` | the same idempotency key sent twice at once and once more gets one answer (status and partner reference); PENDING may precede a final answer; a concurrent duplicate may be refused with UNAVAILABLE or ABORTED |
//! | `accept.unknown_offer` | an offer reference never issued is refused with NOT_FOUND, FAILED_PRECONDITION or INVALID_ARGUMENT |
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
use finroute_core::text;
use finroute_core::{
    Applicant, Collateral, CollateralKind, Consent, EmploymentType, FinancingRequest, LoanPurpose,
    Locale, Money, Offer, OfferWarning, PricingPolicy, Strategy,
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
    /// `http://host:port` of the adapter.
    pub endpoint: String,
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
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // pad, not write_str: the table aligns on the width given.
        f.pad(match self {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
            Verdict::Skip => "SKIP",
        })
    }
}

/// One row of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// Stable id: `health`, `describe`, `quote.latency`, `quote.offers`,
    /// `quote.apr`, `quote.narrow`, `accept.idempotent`, `accept.unknown_offer`.
    pub name: &'static str,
    /// Passed, failed or skipped.
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
        self.checks
            .iter()
            .filter(|c| c.verdict == Verdict::Fail)
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
        let failed = self.failed();
        if !failed.is_empty() {
            write!(f, " (failed: {})", failed.join(", "))?;
        }
        Ok(())
    }
}

/// Why the checks could not start at all (bad usage, not a failed check).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckError {
    /// The endpoint is not an `http://host:port` URL the client can use.
    #[error("--endpoint: {0}")]
    Endpoint(String),
}

/// Runs every check against `settings.endpoint`. An adapter that is down
/// or misbehaves gives a report with failures, not an error.
pub async fn run(settings: &Settings) -> Result<Report, CheckError> {
    if !settings.endpoint.starts_with("http://") {
        return Err(CheckError::Endpoint(format!(
            "{:?} must be http://host:port (https:// is not supported by check-adapter yet)",
            settings.endpoint
        )));
    }
    let adapter = RemoteAdapter::build(&remote::Config {
        endpoint: settings.endpoint.clone(),
        // More patient than the router's 200 ms: the kit may run from afar.
        connect_timeout_ms: 1000,
        keepalive_s: 300,
        tls: None,
    })
    .map_err(CheckError::Endpoint)?;
    let kit = Kit { settings, adapter };
    let mut checks = vec![kit.health().await];
    let description = kit.describe(&mut checks).await;
    let valid_offer = match &description {
        Some(d) => kit.quotes(d, &mut checks).await,
        None => {
            for name in ["quote.latency", "quote.offers", "quote.apr", "quote.narrow"] {
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
}

impl Kit<'_> {
    async fn health(&self) -> Check {
        use tonic_health::pb::health_client::HealthClient;
        use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus};
        const NAME: &str = "health";
        let budget = self.settings.call_budget;
        let channel = match tonic::transport::Endpoint::from_shared(self.settings.endpoint.clone())
        {
            Ok(e) => e.connect_timeout(budget).connect_lazy(),
            Err(e) => return fail(NAME, format!("bad endpoint: {e}")),
        };
        let mut client = HealthClient::new(channel);
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
                for name in ["quote.offers", "quote.apr", "quote.narrow"] {
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
        let (priced, problems) = validate(&full.request, d, outcome);
        if !problems.is_empty() {
            checks.push(fail("quote.offers", problems.join("; ")));
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
                .map(|o| o.partner_offer_ref.as_str())
                .collect();
            checks.push(pass(
                "quote.offers",
                format!(
                    "{} offers pass the router's validation: {refs:?}",
                    priced.len()
                ),
            ));
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
                let (ok, problems) = validate(&narrow.request, d, outcome);
                if !problems.is_empty() {
                    fail("quote.narrow", problems.join("; "))
                } else if ok.is_empty() {
                    pass("quote.narrow", format!("declined ({decline:?}): allowed"))
                } else {
                    pass(
                        "quote.narrow",
                        format!(
                            "{} offers within {} and {} months",
                            ok.len(),
                            narrow.request.requested_amount.display_major(),
                            narrow.request.min_term_months
                        ),
                    )
                }
            }
        });
        priced.first().map(|o| o.partner_offer_ref.clone())
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

/// Every offer of `outcome` through the router's validation against
/// `request` and the terms `d` declares: the priced offers and the problems.
fn validate(
    request: &FinancingRequest,
    d: &Description,
    outcome: QuoteOutcome,
) -> (Vec<Offer>, Vec<String>) {
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
    for offer in outcome.offers {
        match finroute_core::price_offer(request, &terms, &policy, offer, now) {
            Ok(o) => priced.push(o),
            Err(r) => problems.push(r.to_string()),
        }
    }
    (priced, problems)
}

/// The `quote.apr` check over the offers that passed validation.
fn stated_apr(priced: &[Offer]) -> Check {
    const NAME: &str = "quote.apr";
    if priced.is_empty() {
        return fail(NAME, "not run: no valid offer");
    }
    let tolerance = PricingPolicy::default().understatement_tolerance_bps;
    let mut under = Vec::new();
    let mut seen = Vec::new();
    for o in priced {
        let line = format!(
            "{:?} states {}, cash flows give {}",
            o.partner_offer_ref,
            percent(o.stated_apr_bps),
            percent(o.apr_bps)
        );
        if o.warnings.contains(&OfferWarning::StatedAprUnderstated) {
            under.push(line);
        } else {
            seen.push(line);
        }
    }
    if under.is_empty() {
        pass(NAME, seen.join("; "))
    } else {
        fail(
            NAME,
            format!(
                "stated APR understated by more than {tolerance} bp (the router flags STATED_APR_UNDERSTATED): {}",
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
    use super::*;

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
