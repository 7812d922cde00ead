//! The client subcommands (`finroute route`, `accept`, `appeal`, `get`):
//! a person at a terminal talks to a running router without grpcurl.
//!
//! Request files are protobuf JSON, the same as `examples/grpcurl/*.json`;
//! they are read with the contract's own descriptors (`finroute-proto`'s
//! file descriptor set), so any field grpcurl takes is taken here.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use finroute_core::text::clean;
use finroute_proto::v1 as pb;
use pb::financing_router_client::FinancingRouterClient;
use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage, SerializeOptions};
use tonic::metadata::MetadataValue;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};
use tonic_types::StatusExt;

/// Where the router listens by default (the README's `serve`).
pub const DEFAULT_ENDPOINT: &str = "127.0.0.1:50051";

/// Longest text from the router printed in one cell or line, in bytes.
const MAX_TEXT: usize = 2000;

/// Writes `text` to stdout; a closed pipe (`finroute route ... | head`)
/// ends the output quietly instead of panicking as `print!` would.
pub fn out(text: &str) {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    let _ = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush());
}

/// How to reach the router; shared by every client subcommand.
#[derive(Debug, Args)]
pub struct Connection {
    /// The router's address: `host:port` (plain text), `http://host:port`
    /// or `https://host:port` (TLS; needs --ca).
    #[arg(long, env = "FINROUTE_ENDPOINT", default_value = DEFAULT_ENDPOINT)]
    pub endpoint: String,
    /// The api key (sent as `authorization: Bearer KEY`; never printed).
    /// Not needed by an open router (no `[[auth.keys]]`).
    #[arg(long, env = "FINROUTE_KEY", hide_env_values = true)]
    pub key: Option<String>,
    /// PEM file of the CA that signed the router's certificate (turns TLS on).
    #[arg(long)]
    pub ca: Option<PathBuf>,
    /// PEM client certificate, for a router that asks for one (mTLS); with --cert-key.
    #[arg(long, requires = "cert_key")]
    pub cert: Option<PathBuf>,
    /// PEM private key of --cert.
    #[arg(long, requires = "cert")]
    pub cert_key: Option<PathBuf>,
}

/// What went wrong in a client command, and its exit code.
#[derive(Debug)]
pub enum ClientError {
    /// Bad usage or a bad request file (exit 2).
    Usage(String),
    /// The router could not be reached (exit 1).
    Connect(String),
    /// The router answered with an error (exit 1).
    Rpc(tonic::Status),
}

impl ClientError {
    /// Prints the error to stderr and gives the exit code.
    pub fn report(&self) -> ExitCode {
        match self {
            ClientError::Usage(m) => {
                eprintln!("error: {m}");
                ExitCode::from(2)
            }
            ClientError::Connect(m) => {
                eprintln!("error: {m}");
                ExitCode::FAILURE
            }
            ClientError::Rpc(status) => {
                eprint!("{}", describe_status(status));
                ExitCode::FAILURE
            }
        }
    }
}

impl From<tonic::Status> for ClientError {
    fn from(s: tonic::Status) -> Self {
        ClientError::Rpc(s)
    }
}

/// The gRPC code's canonical name (`INVALID_ARGUMENT`).
fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code::*;
    match code {
        Ok => "OK",
        Cancelled => "CANCELLED",
        Unknown => "UNKNOWN",
        InvalidArgument => "INVALID_ARGUMENT",
        DeadlineExceeded => "DEADLINE_EXCEEDED",
        NotFound => "NOT_FOUND",
        AlreadyExists => "ALREADY_EXISTS",
        PermissionDenied => "PERMISSION_DENIED",
        ResourceExhausted => "RESOURCE_EXHAUSTED",
        FailedPrecondition => "FAILED_PRECONDITION",
        Aborted => "ABORTED",
        OutOfRange => "OUT_OF_RANGE",
        Unimplemented => "UNIMPLEMENTED",
        Internal => "INTERNAL",
        Unavailable => "UNAVAILABLE",
        DataLoss => "DATA_LOSS",
        Unauthenticated => "UNAUTHENTICATED",
    }
}

/// An error answer as lines: the code and message, the reason, then one
/// line per field violation.
pub fn describe_status(status: &tonic::Status) -> String {
    let mut out = format!(
        "error: {}: {}\n",
        code_name(status.code()),
        clean(status.message(), MAX_TEXT)
    );
    let details = status.get_error_details();
    if let Some(info) = details.error_info() {
        let _ = writeln!(out, "  reason: {}", clean(&info.reason, MAX_TEXT));
    }
    if let Some(bad) = details.bad_request() {
        for v in &bad.field_violations {
            let _ = writeln!(
                out,
                "  field {}: {}",
                clean(&v.field, MAX_TEXT),
                clean(&v.description, MAX_TEXT)
            );
        }
    }
    if let Some(pf) = details.precondition_failure() {
        for v in &pf.violations {
            let _ = writeln!(
                out,
                "  precondition {} {}: {}",
                clean(&v.r#type, MAX_TEXT),
                clean(&v.subject, MAX_TEXT),
                clean(&v.description, MAX_TEXT)
            );
        }
    }
    if let Some(retry) = details.retry_info()
        && let Some(delay) = retry.retry_delay
    {
        let _ = writeln!(out, "  retry after: {} ms", delay.as_millis());
    }
    out
}

fn read_file(path: &Path, what: &str) -> Result<Vec<u8>, ClientError> {
    std::fs::read(path)
        .map_err(|e| ClientError::Usage(format!("cannot read {what} {}: {e}", path.display())))
}

impl Connection {
    /// The URI to dial: a bare `host:port` gets `http://`, or `https://`
    /// when --ca is given.
    fn uri(&self) -> String {
        let e = self.endpoint.trim();
        if e.contains("://") {
            e.to_owned()
        } else if self.ca.is_some() {
            format!("https://{e}")
        } else {
            format!("http://{e}")
        }
    }

    /// A client on a connected channel.
    pub async fn connect(&self) -> Result<Client, ClientError> {
        let uri = self.uri();
        let mut endpoint = Endpoint::from_shared(uri.clone()).map_err(|e| {
            ClientError::Usage(format!(
                "--endpoint {:?} is not an address like {DEFAULT_ENDPOINT}: {e}",
                self.endpoint
            ))
        })?;
        let tls = uri.starts_with("https://");
        if tls {
            let Some(ca) = &self.ca else {
                return Err(ClientError::Usage(format!(
                    "--endpoint {uri} is https: give the CA of the router's certificate with --ca FILE"
                )));
            };
            let mut config = ClientTlsConfig::new()
                .ca_certificate(Certificate::from_pem(read_file(ca, "--ca")?));
            if let (Some(cert), Some(key)) = (&self.cert, &self.cert_key) {
                config = config.identity(Identity::from_pem(
                    read_file(cert, "--cert")?,
                    read_file(key, "--cert-key")?,
                ));
            }
            endpoint = endpoint
                .tls_config(config)
                .map_err(|e| ClientError::Usage(format!("TLS settings: {e}")))?;
        } else if self.ca.is_some() || self.cert.is_some() {
            return Err(ClientError::Usage(format!(
                "--ca/--cert need an https:// endpoint, not {uri}"
            )));
        }
        let authorization = match &self.key {
            None => None,
            Some(k) => Some(
                MetadataValue::try_from(format!("Bearer {}", k.trim())).map_err(|_| {
                    ClientError::Usage(
                        "--key (or FINROUTE_KEY) holds characters a header cannot carry".into(),
                    )
                })?,
            ),
        };
        let channel = endpoint
            .connect_timeout(std::time::Duration::from_secs(5))
            .connect()
            .await
            .map_err(|e| {
                let mut msg = format!("cannot reach the router at {uri}: {e}");
                let mut source = std::error::Error::source(&e);
                while let Some(s) = source {
                    let _ = write!(msg, ": {s}");
                    source = s.source();
                }
                msg.push_str(" (is `finroute serve` running there? --endpoint or FINROUTE_ENDPOINT name another address)");
                ClientError::Connect(msg)
            })?;
        Ok(Client {
            inner: FinancingRouterClient::new(channel),
            authorization,
        })
    }
}

/// A connected router client that adds the api key to each call.
pub struct Client {
    inner: FinancingRouterClient<Channel>,
    authorization: Option<MetadataValue<tonic::metadata::Ascii>>,
}

impl Client {
    fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        if let Some(a) = &self.authorization {
            request.metadata_mut().insert("authorization", a.clone());
        }
        request
    }

    /// RouteFinancing.
    pub async fn route(
        &mut self,
        r: pb::RouteFinancingRequest,
    ) -> Result<pb::RouteFinancingResponse, ClientError> {
        let req = self.request(r);
        Ok(self.inner.route_financing(req).await?.into_inner())
    }

    /// GetApplication.
    pub async fn get(&mut self, application_id: &str) -> Result<pb::Application, ClientError> {
        let req = self.request(pb::GetApplicationRequest {
            application_id: application_id.to_owned(),
            view: pb::ApplicationView::Full as i32,
        });
        Ok(self.inner.get_application(req).await?.into_inner())
    }

    /// AcceptOffer.
    pub async fn accept(
        &mut self,
        r: pb::AcceptOfferRequest,
    ) -> Result<pb::AcceptOfferResponse, ClientError> {
        let req = self.request(r);
        Ok(self.inner.accept_offer(req).await?.into_inner())
    }

    /// FileAppeal.
    pub async fn appeal(&mut self, r: pb::FileAppealRequest) -> Result<pb::Appeal, ClientError> {
        let req = self.request(r);
        Ok(self.inner.file_appeal(req).await?.into_inner())
    }
}

fn pool() -> Result<DescriptorPool, ClientError> {
    DescriptorPool::decode(finroute_proto::FILE_DESCRIPTOR_SET)
        .map_err(|e| ClientError::Usage(format!("the built-in contract descriptors: {e}")))
}

/// Parses protobuf JSON (grpcurl style: proto or JSON field names, enum
/// names, int64 as strings) into the generated message `T` named `full_name`.
pub fn from_json<T: Message + Default>(
    full_name: &str,
    json: &str,
    source: &str,
) -> Result<T, ClientError> {
    let pool = pool()?;
    let Some(desc) = pool.get_message_by_name(full_name) else {
        return Err(ClientError::Usage(format!(
            "{full_name} is not in the contract"
        )));
    };
    let mut de = serde_json::Deserializer::from_str(json);
    let message = DynamicMessage::deserialize(desc, &mut de)
        .and_then(|m| de.end().map(|()| m))
        .map_err(|e| ClientError::Usage(format!("{source}: not a {full_name} in JSON: {e}")))?;
    T::decode(message.encode_to_vec().as_slice())
        .map_err(|e| ClientError::Usage(format!("{source}: {e}")))
}

/// `message` as pretty protobuf JSON with the proto's field names (the
/// names the example files use).
pub fn to_json<T: Message>(full_name: &str, message: &T) -> Result<String, ClientError> {
    let pool = pool()?;
    let Some(desc) = pool.get_message_by_name(full_name) else {
        return Err(ClientError::Usage(format!(
            "{full_name} is not in the contract"
        )));
    };
    let dynamic = DynamicMessage::decode(desc, message.encode_to_vec().as_slice())
        .map_err(|e| ClientError::Usage(format!("{full_name}: {e}")))?;
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::pretty(&mut out);
    dynamic
        .serialize_with_options(
            &mut ser,
            &SerializeOptions::new().use_proto_field_name(true),
        )
        .map_err(|e| ClientError::Usage(format!("{full_name} as JSON: {e}")))?;
    String::from_utf8(out).map_err(|e| ClientError::Usage(format!("{full_name} as JSON: {e}")))
}

/// Reads a RouteFinancingRequest from a JSON file (`-` is stdin).
pub fn read_route_request(path: &Path) -> Result<pb::RouteFinancingRequest, ClientError> {
    let text = if path == Path::new("-") {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)
            .map_err(|e| ClientError::Usage(format!("cannot read stdin: {e}")))?;
        s
    } else {
        String::from_utf8(read_file(path, "request file")?)
            .map_err(|_| ClientError::Usage(format!("{} is not UTF-8 text", path.display())))?
    };
    from_json(
        "finroute.v1.RouteFinancingRequest",
        &text,
        &path.display().to_string(),
    )
}

/// The headings of the printed answer, in its locale.
struct Words {
    offers: &'static str,
    columns: [&'static str; 10],
    no_offers: &'static str,
    partial: &'static str,
    why: &'static str,
    suggestions: &'static str,
    plan: &'static str,
    plan_odds: &'static str,
    plan_apr: &'static str,
    application: &'static str,
    acceptances: &'static str,
    late_offers: &'static str,
    appeals: &'static str,
    next: &'static str,
}

const EN: Words = Words {
    offers: "Offers",
    columns: [
        "rank",
        "channel",
        "kind",
        "principal",
        "term",
        "APR",
        "stated APR",
        "odds",
        "warnings",
        "offer id",
    ],
    no_offers: "(no offers)",
    partial: "Some channels did not answer in time: the list is partial.",
    why: "Why the line was refused",
    suggestions: "What would help",
    plan: "Plan",
    plan_odds: "chance of at least one approval",
    plan_apr: "expected APR",
    application: "Application",
    acceptances: "Acceptances",
    late_offers: "Late offers (arrived after the reply; accept them like any other)",
    appeals: "Appeals",
    next: "Next",
};

const ZH: Words = Words {
    offers: "报价",
    columns: [
        "排名",
        "渠道",
        "类型",
        "本金",
        "期限",
        "年化利率",
        "宣称利率",
        "通过率",
        "提示",
        "报价编号",
    ],
    no_offers: "（无报价）",
    partial: "部分渠道未及时响应：列表不完整。",
    why: "拒绝原因",
    suggestions: "建议",
    plan: "申请计划",
    plan_odds: "至少一家通过的概率",
    plan_apr: "预期年化利率",
    application: "申请编号",
    acceptances: "已接受",
    late_offers: "迟到报价（答复后到达，可照常接受）",
    appeals: "申诉",
    next: "下一步",
};

fn words(locale: &str) -> &'static Words {
    if locale.eq_ignore_ascii_case("zh-CN") {
        &ZH
    } else {
        &EN
    }
}

/// The fields RouteFinancingResponse and Application share.
pub struct View<'a> {
    /// `application_id`.
    pub application_id: &'a str,
    /// `locale`.
    pub locale: &'a str,
    /// `offers`.
    pub offers: &'a [pb::Offer],
    /// `explanation`.
    pub explanation: Option<&'a pb::Explanation>,
    /// `plan`.
    pub plan: Option<&'a pb::ApplicationPlan>,
    /// `partial`.
    pub partial: bool,
}

impl<'a> From<&'a pb::RouteFinancingResponse> for View<'a> {
    fn from(r: &'a pb::RouteFinancingResponse) -> Self {
        View {
            application_id: &r.application_id,
            locale: &r.locale,
            offers: &r.offers,
            explanation: r.explanation.as_ref(),
            plan: r.plan.as_ref(),
            partial: r.partial,
        }
    }
}

impl<'a> From<&'a pb::Application> for View<'a> {
    fn from(r: &'a pb::Application) -> Self {
        View {
            application_id: &r.application_id,
            locale: &r.locale,
            offers: &r.offers,
            explanation: r.explanation.as_ref(),
            plan: r.plan.as_ref(),
            partial: r.partial,
        }
    }
}

fn money(m: Option<&pb::Money>) -> String {
    match m {
        Some(m) => format!(
            "{} {}",
            finroute_core::format_major(m.amount_minor),
            clean(&m.currency_code, 8)
        ),
        None => "-".into(),
    }
}

/// Basis points as a percentage with two decimals (`1234` -> `12.34%`).
pub fn percent_bps(bps: i32) -> String {
    let sign = if bps < 0 { "-" } else { "" };
    let abs = bps.unsigned_abs();
    format!("{sign}{}.{:02}%", abs / 100, abs % 100)
}

/// An enum value's name without its type prefix, lower case
/// (`PRODUCT_KIND_SECURED_LOAN` -> `secured_loan`).
fn short(name: &str, prefix: &str) -> String {
    name.strip_prefix(prefix)
        .unwrap_or(name)
        .to_ascii_lowercase()
}

fn enum_name<E: TryFrom<i32>>(value: i32, name: fn(&E) -> &'static str, prefix: &str) -> String {
    match E::try_from(value) {
        Ok(e) => short(name(&e), prefix),
        Err(_) => value.to_string(),
    }
}

/// Display width: CJK characters take two columns.
fn width(s: &str) -> usize {
    s.chars()
        .map(|c| match c as u32 {
            0x1100..=0x115F
            | 0x2E80..=0xA4CF
            | 0xAC00..=0xD7A3
            | 0xF900..=0xFAFF
            | 0xFF00..=0xFF60 => 2,
            _ => 1,
        })
        .sum()
}

fn table(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|i| {
            rows.iter()
                .filter_map(|r| r.get(i))
                .map(|c| width(c))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            line.push_str(cell);
            if i + 1 < row.len() {
                let pad = widths[i].saturating_sub(width(cell)) + 2;
                line.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// The answer for a person: the ranked table, the explanation, the plan
/// and the ids to type next, in the answer's locale.
pub fn render(view: &View<'_>, applicant_id: Option<&str>) -> String {
    let w = words(view.locale);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}: {}",
        w.application,
        clean(view.application_id, MAX_TEXT)
    );
    let _ = writeln!(out);
    let _ = writeln!(out, "{}", w.offers);
    if view.offers.is_empty() {
        let _ = writeln!(out, "{}", w.no_offers);
    } else {
        let mut rows = vec![
            w.columns
                .iter()
                .map(|c| (*c).to_owned())
                .collect::<Vec<_>>(),
        ];
        for o in view.offers {
            let warnings: Vec<String> = o
                .warnings
                .iter()
                .map(|v| {
                    enum_name::<pb::OfferWarning>(
                        *v,
                        pb::OfferWarning::as_str_name,
                        "OFFER_WARNING_",
                    )
                })
                .collect();
            rows.push(vec![
                o.rank.to_string(),
                clean(&o.adapter_id, 64),
                enum_name::<pb::ProductKind>(
                    o.product_kind,
                    pb::ProductKind::as_str_name,
                    "PRODUCT_KIND_",
                ),
                money(o.principal.as_ref()),
                format!("{} m", o.term_months),
                percent_bps(o.apr_bps),
                percent_bps(o.stated_apr_bps),
                format!("{:.0}%", (o.approval_odds * 100.0).clamp(0.0, 100.0)),
                if warnings.is_empty() {
                    "-".into()
                } else {
                    warnings.join(",")
                },
                clean(&o.offer_id, 128),
            ]);
        }
        out.push_str(&table(&rows));
    }
    if view.partial {
        let _ = writeln!(out, "{}", w.partial);
    }
    if let Some(e) = view.explanation {
        if !e.factors.is_empty() {
            let _ = writeln!(out, "\n{}", w.why);
            for f in &e.factors {
                let _ = writeln!(out, "- {}", clean(&f.text, MAX_TEXT));
            }
        }
        if !e.suggestions.is_empty() {
            let _ = writeln!(out, "\n{}", w.suggestions);
            for s in &e.suggestions {
                let _ = writeln!(out, "- {}", clean(&s.text, MAX_TEXT));
            }
        }
    }
    if let Some(p) = view.plan {
        let _ = writeln!(out, "\n{}", w.plan);
        if !p.summary.is_empty() {
            let _ = writeln!(out, "{}", clean(&p.summary, MAX_TEXT));
        }
        for (i, id) in p.offer_ids.iter().enumerate() {
            let _ = writeln!(out, "{}. {}", i + 1, clean(id, 128));
        }
        let _ = writeln!(
            out,
            "{}: {:.1}%  {}: {}",
            w.plan_odds,
            (p.approval_probability * 100.0).clamp(0.0, 100.0),
            w.plan_apr,
            percent_bps(p.expected_apr_bps)
        );
    }
    if let Some(first) = view.offers.first() {
        let _ = writeln!(out, "\n{}", w.next);
        let _ = writeln!(
            out,
            "finroute accept {} {} --applicant {}",
            clean(view.application_id, 128),
            clean(&first.offer_id, 128),
            applicant_id.map_or_else(|| "APPLICANT_ID".to_owned(), |a| clean(a, 128))
        );
    }
    out
}

/// Acceptances and appeals of an application, after [`render`].
pub fn render_history(app: &pb::Application) -> String {
    let w = words(&app.locale);
    let mut out = String::new();
    if !app.late_offers.is_empty() {
        let _ = writeln!(out, "\n{}", w.late_offers);
        for l in &app.late_offers {
            let Some(o) = l.offer.as_ref() else { continue };
            let _ = writeln!(
                out,
                "- {} {} {} m {} {}",
                clean(&o.adapter_id, 64),
                money(o.principal.as_ref()),
                o.term_months,
                percent_bps(o.apr_bps),
                clean(&o.offer_id, 128),
            );
        }
    }
    if !app.acceptances.is_empty() {
        let _ = writeln!(out, "\n{}", w.acceptances);
        for a in &app.acceptances {
            let _ = writeln!(
                out,
                "- {} {} {} {}",
                clean(&a.offer_id, 128),
                clean(&a.acceptance_id, 128),
                enum_name::<pb::AcceptanceStatus>(
                    a.status,
                    pb::AcceptanceStatus::as_str_name,
                    "ACCEPTANCE_STATUS_"
                ),
                clean(&a.partner_reference, 128)
            );
        }
    }
    if !app.appeals.is_empty() {
        let _ = writeln!(out, "\n{}", w.appeals);
        for a in &app.appeals {
            let _ = writeln!(
                out,
                "- {} {} {}",
                clean(&a.appeal_id, 128),
                enum_name::<pb::AppealReason>(
                    a.reason,
                    pb::AppealReason::as_str_name,
                    "APPEAL_REASON_"
                ),
                enum_name::<pb::AppealStatus>(
                    a.status,
                    pb::AppealStatus::as_str_name,
                    "APPEAL_STATUS_"
                ),
            );
        }
    }
    out
}

/// An acceptance's outcome as `key: value` lines.
pub fn render_acceptance(r: &pb::AcceptOfferResponse, idempotency_key: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "acceptance_id: {}", clean(&r.acceptance_id, 128));
    let _ = writeln!(
        out,
        "status: {}",
        enum_name::<pb::AcceptanceStatus>(
            r.status,
            pb::AcceptanceStatus::as_str_name,
            "ACCEPTANCE_STATUS_"
        )
    );
    if !r.partner_reference.is_empty() {
        let _ = writeln!(
            out,
            "partner_reference: {}",
            clean(&r.partner_reference, 128)
        );
    }
    if !r.detail.is_empty() {
        let _ = writeln!(out, "detail: {}", clean(&r.detail, MAX_TEXT));
    }
    let _ = writeln!(out, "idempotency_key: {}", clean(idempotency_key, 128));
    out
}

/// A filed appeal as `key: value` lines.
pub fn render_appeal(a: &pb::Appeal) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "appeal_id: {}", clean(&a.appeal_id, 128));
    let _ = writeln!(out, "application_id: {}", clean(&a.application_id, 128));
    if !a.adapter_id.is_empty() {
        let _ = writeln!(out, "adapter_id: {}", clean(&a.adapter_id, 128));
    }
    let _ = writeln!(
        out,
        "reason: {}",
        enum_name::<pb::AppealReason>(a.reason, pb::AppealReason::as_str_name, "APPEAL_REASON_")
    );
    let _ = writeln!(
        out,
        "status: {}",
        enum_name::<pb::AppealStatus>(a.status, pb::AppealStatus::as_str_name, "APPEAL_STATUS_")
    );
    out
}

/// `--reason` of `finroute appeal`: the AppealReason without its prefix,
/// in any case, `-` or `_`.
pub fn appeal_reason(value: &str) -> Result<i32, String> {
    let name = format!(
        "APPEAL_REASON_{}",
        value.trim().to_ascii_uppercase().replace('-', "_")
    );
    match pb::AppealReason::from_str_name(&name) {
        Some(r) if r != pb::AppealReason::Unspecified => Ok(r as i32),
        _ => Err("one of income-changed, data-error, line-reduced-unfairly, other".into()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn example_request_files_parse_with_the_contract_descriptors() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/grpcurl");
        let r = read_route_request(&dir.join("route_financing.json")).unwrap();
        let a = r.applicant.as_ref().unwrap();
        assert_eq!(a.applicant_id, "app-7f3a9c");
        assert_eq!(a.credit_score, Some(688));
        assert_eq!(r.requested_amount.as_ref().unwrap().amount_minor, 1_000_000);
        assert_eq!(r.purpose, pb::LoanPurpose::Consumption as i32);
        assert_eq!(r.locale, "en");
        let zh = read_route_request(&dir.join("route_financing_zh.json")).unwrap();
        assert_eq!(zh.locale, "zh-CN");
        let text = std::fs::read_to_string(dir.join("report_outcome.json")).unwrap();
        let o = from_json::<pb::ReportOutcomeRequest>(
            "finroute.v1.ReportOutcomeRequest",
            &text,
            "report_outcome.json",
        )
        .unwrap();
        let outcome = o.outcome.unwrap();
        assert_eq!(outcome.kind, pb::OutcomeKind::Funded as i32);
        assert_eq!(outcome.amount.unwrap().amount_minor, 1_000_000);
    }

    #[test]
    fn bad_json_names_the_file_and_the_problem() {
        let e = from_json::<pb::RouteFinancingRequest>(
            "finroute.v1.RouteFinancingRequest",
            r#"{"min_term_months": "six"}"#,
            "req.json",
        )
        .unwrap_err();
        let ClientError::Usage(m) = e else {
            panic!("not a usage error: {e:?}")
        };
        assert!(m.starts_with("req.json: "), "{m}");
        let e = from_json::<pb::RouteFinancingRequest>(
            "finroute.v1.RouteFinancingRequest",
            r#"{"no_such_field": 1}"#,
            "req.json",
        )
        .unwrap_err();
        assert!(format!("{e:?}").contains("no_such_field"), "{e:?}");
    }

    #[test]
    fn answers_print_back_as_protobuf_json() {
        let r = pb::AcceptOfferResponse {
            acceptance_id: "acc_1".into(),
            status: pb::AcceptanceStatus::Accepted as i32,
            ..Default::default()
        };
        let json = to_json("finroute.v1.AcceptOfferResponse", &r).unwrap();
        assert!(json.contains(r#""acceptance_id": "acc_1""#), "{json}");
        assert!(json.contains("ACCEPTANCE_STATUS_ACCEPTED"), "{json}");
    }

    #[test]
    fn rates_and_reasons_print_plainly() {
        assert_eq!(percent_bps(1234), "12.34%");
        assert_eq!(percent_bps(5), "0.05%");
        assert_eq!(percent_bps(-150), "-1.50%");
        assert_eq!(
            appeal_reason("income-changed"),
            Ok(pb::AppealReason::IncomeChanged as i32)
        );
        assert!(appeal_reason("unspecified").is_err());
        assert!(appeal_reason("bogus").is_err());
    }

    #[test]
    fn status_lines_name_code_and_fields_without_control_characters() {
        let details =
            tonic_types::ErrorDetails::with_bad_request(vec![tonic_types::FieldViolation::new(
                "applicant.credit_score",
                "must be 300..=850",
            )]);
        let status = tonic::Status::with_error_details(
            tonic::Code::InvalidArgument,
            "bad\u{1b}[31m request",
            details,
        );
        let text = describe_status(&status);
        assert!(
            text.starts_with("error: INVALID_ARGUMENT: bad[31m request\n"),
            "{text}"
        );
        assert!(
            text.contains("  field applicant.credit_score: must be 300..=850\n"),
            "{text}"
        );
    }

    #[test]
    fn zh_cn_answers_get_chinese_headings() {
        let r = pb::RouteFinancingResponse {
            application_id: "app_1".into(),
            locale: "zh-CN".into(),
            ..Default::default()
        };
        let text = render(&View::from(&r), None);
        assert!(text.contains("申请编号: app_1"), "{text}");
        assert!(text.contains("（无报价）"), "{text}");
        let r = pb::RouteFinancingResponse {
            locale: "en".into(),
            ..r
        };
        assert!(render(&View::from(&r), None).contains("(no offers)"));
    }
}

#[cfg(test)]
mod late_offer_tests {
    use super::*;

    #[test]
    fn history_lists_late_offers_in_the_answers_language() {
        let offer = pb::Offer {
            offer_id: "off_1-0-1".into(),
            adapter_id: "bank\u{7}-late".into(),
            principal: Some(pb::Money {
                currency_code: "CNY".into(),
                amount_minor: 1_000_000,
            }),
            term_months: 12,
            apr_bps: 1_234,
            ..Default::default()
        };
        let app = pb::Application {
            locale: "en".into(),
            late_offers: vec![pb::LateOffer {
                offer: Some(offer),
                arrived_at: None,
            }],
            ..Default::default()
        };
        let text = render_history(&app);
        assert!(text.contains("Late offers"), "{text}");
        assert!(
            text.contains("off_1-0-1") && text.contains("12 m"),
            "{text}"
        );
        assert!(
            !text.contains('\u{7}'),
            "control characters stripped: {text:?}"
        );
        let zh = render_history(&pb::Application {
            locale: "zh-CN".into(),
            ..app
        });
        assert!(zh.contains("迟到报价"), "{zh}");
    }
}
