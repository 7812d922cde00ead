//! The console's pages and forms. Each handler finds the session, calls
//! the review service as the signed-in operator, and renders a template
//! (`templates/console/`); each form answers with a redirect and a
//! one-shot message (post/redirect/get), so reloading a page never
//! repeats a step.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use finroute_core::Locale;
use finroute_proto::v1 as pb;
use finroute_proto::v1::review_service_server::ReviewService as _;
use serde::Deserialize;
use tonic::{Request, Status};
use tonic_types::StatusExt as _;

use super::session::{Current, Flash, LIFETIME, random_token, same_secret};
use super::text::{self, Text};
use super::{Console, LANG_COOKIE, LOGIN_COOKIE, SESSION_COOKIE, chart, cookie_value, locale};
use crate::auth::Caller;
use crate::error::Reason;
use crate::recent::{MINUTES, STATUSES};

type St = State<Arc<Console>>;

// -- the frame of every page -------------------------------------------------

/// What the layout needs.
pub struct Frame {
    pub t: &'static Text,
    pub operator: Option<String>,
    pub csrf: String,
    pub flash: Option<Flash>,
    /// The language link (this page in the other language).
    pub lang_href: String,
}

fn frame(locale: Locale, current: Option<&Current>, back: &str) -> Frame {
    let t = text::text(locale);
    Frame {
        t,
        operator: current.map(|c| c.caller.key_id.clone()),
        csrf: current.map(|c| c.csrf.clone()).unwrap_or_default(),
        flash: current.and_then(|c| c.flash.clone()),
        lang_href: format!("/lang?to={}&back={}", t.other_lang, encode(back)),
    }
}

/// Percent-encodes what a local path may hold for a query value.
fn encode(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for c in path.chars() {
        match c {
            'A'..='Z' | 'a'..='z' | '0'..='9' | '-' | '_' | '.' | '~' | '/' => out.push(c),
            c => {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    out.push_str(&format!("%{b:02X}"));
                }
            }
        }
    }
    out
}

fn render(t: impl Template) -> Response {
    match t.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "console: a page failed to render");
            super::plain(StatusCode::INTERNAL_SERVER_ERROR, "internal error\n")
        }
    }
}

/// The live session of the request, if any.
fn session(c: &Console, headers: &HeaderMap) -> Option<Current> {
    cookie_value(headers, SESSION_COOKIE).and_then(|id| c.sessions.current(id))
}

fn to_login() -> Response {
    Redirect::to("/login").into_response()
}

/// A request to the review service as `caller`, in process.
fn as_operator<T>(caller: &Caller, msg: T) -> Request<T> {
    let mut r = Request::new(msg);
    r.extensions_mut().insert(caller.clone());
    r
}

/// A refused step, for the operator: the reason in the page's language,
/// then the service's own message (which names the field or the holder).
fn refusal(locale: Locale, s: &Status) -> String {
    let reason = s
        .get_error_details()
        .error_info()
        .and_then(|i| Reason::ALL.iter().find(|r| r.as_str() == i.reason).copied());
    let mut out = match reason {
        Some(r) => format!("{} ", r.text(locale)),
        None => String::new(),
    };
    out.push_str(&format!("({:?}: {})", s.code(), s.message()));
    out
}

// -- time and numbers --------------------------------------------------------

fn ms_of(ts: &Option<prost_types::Timestamp>) -> Option<i64> {
    ts.as_ref()
        .map(|t| t.seconds.saturating_mul(1000) + i64::from(t.nanos / 1_000_000))
}

/// `2026-12-06 12:05:30` (UTC).
fn when(ts: &Option<prost_types::Timestamp>) -> String {
    let Some(ms) = ms_of(ts) else {
        return String::new();
    };
    let Ok(secs) = u64::try_from(ms / 1000) else {
        return String::new();
    };
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs);
    humantime::format_rfc3339_seconds(t)
        .to_string()
        .replace('T', " ")
        .trim_end_matches('Z')
        .to_owned()
}

/// `3h 05m`, `12m`, `40s`.
fn span(ms: i64) -> String {
    let s = ms.abs() / 1000;
    let (d, h, m) = (s / 86_400, (s / 3600) % 24, (s / 60) % 60);
    if d > 0 {
        format!("{d}d {h}h")
    } else if h > 0 {
        format!("{h}h {m:02}m")
    } else if m > 0 {
        format!("{m}m")
    } else {
        format!("{s}s")
    }
}

fn money(m: &Option<pb::Money>) -> String {
    match m {
        None => String::new(),
        Some(m) => {
            let sign = if m.amount_minor < 0 { "-" } else { "" };
            let a = m.amount_minor.unsigned_abs();
            let units = (a / 100).to_string();
            // Thousands separated by a thin space, as the explanations do.
            let mut grouped = String::new();
            for (i, ch) in units.chars().enumerate() {
                if i > 0 && (units.len() - i) % 3 == 0 {
                    grouped.push(',');
                }
                grouped.push(ch);
            }
            format!("{sign}{grouped}.{:02} {}", a % 100, m.currency_code)
        }
    }
}

fn bps(b: i32) -> String {
    if b == 0 {
        return "—".into();
    }
    format!("{}.{:02} %", b / 100, (b % 100).abs())
}

fn percent(p: f64) -> String {
    if p.is_finite() {
        format!("{:.0} %", p * 100.0)
    } else {
        String::new()
    }
}

// -- sign-in -----------------------------------------------------------------

#[derive(Template)]
#[template(path = "console/login.html")]
struct LoginPage {
    p: Frame,
    login_token: String,
    error: Option<&'static str>,
}

pub async fn home(State(c): St, headers: HeaderMap) -> Response {
    if session(&c, &headers).is_some() {
        Redirect::to("/queue").into_response()
    } else {
        to_login()
    }
}

fn login_form(c: &Console, locale: Locale, error: Option<&'static str>) -> Response {
    let token = random_token();
    let mut r = render(LoginPage {
        p: frame(locale, None, "/login"),
        login_token: token.clone(),
        error,
    });
    if let Ok(v) = c.cookie(LOGIN_COOKIE, &token, "/login", Some(600)).parse() {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

pub async fn login_page(State(c): St, headers: HeaderMap) -> Response {
    if session(&c, &headers).is_some() {
        return Redirect::to("/queue").into_response();
    }
    let l = locale(&headers);
    login_form(&c, l, None)
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    key: String,
    #[serde(default)]
    login_token: String,
}

pub async fn login(State(c): St, headers: HeaderMap, Form(f): Form<LoginForm>) -> Response {
    let l = locale(&headers);
    let t = text::text(l);
    let expected = cookie_value(&headers, LOGIN_COOKIE).unwrap_or("");
    if !super::same_origin(&headers)
        || expected.is_empty()
        || !same_secret(expected, &f.login_token)
    {
        return login_form(&c, l, Some(t.form_expired));
    }
    // The key is checked like a gRPC call's (rate limit included); it is
    // never logged or kept.
    let caller = match c
        .auth
        .authenticate(Some(&format!("Bearer {}", f.key.trim())))
    {
        Ok(caller) => caller,
        Err(_) => {
            tracing::warn!("console: sign-in refused (unknown key)");
            return login_form(&c, l, Some(t.sign_in_failed));
        }
    };
    if !caller.roles.operator {
        tracing::warn!(key = %caller.key_id, "console: sign-in refused (no operator role)");
        return login_form(&c, l, Some(t.sign_in_not_operator));
    }
    tracing::info!(operator = %caller.key_id, "console: operator signed in");
    let id = c.sessions.start(caller);
    let mut r = Redirect::to("/queue").into_response();
    let h = r.headers_mut();
    if let Ok(v) = c
        .cookie(SESSION_COOKIE, &id, "/", Some(LIFETIME.as_secs()))
        .parse()
    {
        h.append(header::SET_COOKIE, v);
    }
    if let Ok(v) = c.cookie(LOGIN_COOKIE, "", "/login", Some(0)).parse() {
        h.append(header::SET_COOKIE, v);
    }
    r
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

pub async fn logout(State(c): St, headers: HeaderMap, Form(f): Form<CsrfForm>) -> Response {
    if let Some(cur) = session(&c, &headers)
        && super::same_origin(&headers)
        && same_secret(&cur.csrf, &f.csrf)
    {
        tracing::info!(operator = %cur.caller.key_id, "console: operator signed out");
        c.sessions.end(&cur.id);
    }
    let mut r = to_login();
    if let Ok(v) = c.cookie(SESSION_COOKIE, "", "/", Some(0)).parse() {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

#[derive(Deserialize)]
pub struct LangQuery {
    #[serde(default)]
    to: String,
    #[serde(default)]
    back: String,
}

/// Sets the language cookie and returns to `back` (a local path only).
pub async fn lang(State(c): St, Query(q): Query<LangQuery>) -> Response {
    let l = Locale::negotiate(&q.to);
    let local = q.back.starts_with('/')
        && !q.back.starts_with("//")
        && !q.back.contains('\\')
        && !q.back.chars().any(char::is_control);
    let back = if local { q.back.as_str() } else { "/queue" };
    let mut r = Redirect::to(back).into_response();
    if let Ok(v) = c
        .cookie(LANG_COOKIE, l.tag(), "/", Some(365 * 24 * 3600))
        .parse()
    {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

pub async fn not_found(headers: HeaderMap) -> Response {
    let t = text::text(locale(&headers));
    (StatusCode::NOT_FOUND, t.not_found).into_response()
}

// -- the queue ---------------------------------------------------------------

struct ViewLink {
    key: &'static str,
    label: &'static str,
    current: bool,
}

struct QueueRow {
    id: String,
    reason: &'static str,
    status: &'static str,
    pending: bool,
    assignee: String,
    filed: String,
    due_ms: i64,
    sla: String,
    breached: bool,
    claimable: bool,
}

#[derive(Template)]
#[template(path = "console/queue.html")]
struct QueuePage {
    p: Frame,
    views: Vec<ViewLink>,
    rows: Vec<QueueRow>,
}

#[derive(Deserialize)]
pub struct QueueQuery {
    #[serde(default)]
    view: String,
}

/// The SLA cell: time left, or overdue by.
fn sla_text(t: &Text, due_ms: i64, now: i64) -> String {
    if now >= due_ms {
        format!("{} {}", t.sla_overdue, span(now - due_ms))
    } else {
        format!("{} {}", span(due_ms - now), t.sla_left)
    }
}

pub async fn queue(State(c): St, headers: HeaderMap, Query(q): Query<QueueQuery>) -> Response {
    let Some(cur) = session(&c, &headers) else {
        return to_login();
    };
    let l = locale(&headers);
    let t = text::text(l);
    let (view, queue) = match q.view.as_str() {
        "unclaimed" => ("unclaimed", pb::AppealQueue::Unclaimed),
        "mine" => ("mine", pb::AppealQueue::Mine),
        "breached" => ("breached", pb::AppealQueue::Breached),
        _ => ("all", pb::AppealQueue::Unspecified),
    };
    let msg = pb::ListAppealsRequest {
        queue: queue as i32,
        order: pb::AppealOrder::Sla as i32,
        page_size: 500,
        ..Default::default()
    };
    let mut p = frame(l, Some(&cur), &format!("/queue?view={view}"));
    let rows = match c.review.list_appeals(as_operator(&cur.caller, msg)).await {
        Ok(r) => r.into_inner().appeals,
        Err(s) => {
            p.flash = Some(Flash {
                ok: false,
                text: refusal(l, &s),
            });
            Vec::new()
        }
    };
    let now = c.review.clock().now_ms();
    let rows = rows
        .into_iter()
        .map(|a| {
            let due_ms = ms_of(&a.sla_due_at).unwrap_or(i64::MAX);
            QueueRow {
                reason: text::appeal_reason(l, a.reason),
                status: text::appeal_status(l, a.status),
                pending: a.pending_decision != 0,
                claimable: a.assignee.is_empty(),
                assignee: a.assignee,
                filed: when(&a.filed_at),
                sla: sla_text(t, due_ms, now),
                breached: a.sla_breached,
                due_ms,
                id: a.appeal_id,
            }
        })
        .collect();
    let views = [
        ("all", t.view_all),
        ("unclaimed", t.view_unclaimed),
        ("mine", t.view_mine),
        ("breached", t.view_breached),
    ]
    .into_iter()
    .map(|(key, label)| ViewLink {
        key,
        label,
        current: key == view,
    })
    .collect();
    render(QueuePage { p, views, rows })
}

// -- the case ----------------------------------------------------------------

struct AppealView {
    id: String,
    application_id: String,
    adapter_id: String,
    reason: &'static str,
    details: String,
    status: &'static str,
    filed_by: String,
    filed: String,
    assignee: String,
    claimed: String,
    sla: String,
    breached: bool,
    pending: Option<PendingView>,
    resolution: Option<ResolutionView>,
}

struct PendingView {
    decision: &'static str,
    by: String,
    reason: &'static str,
    note: String,
}

struct ResolutionView {
    reason: &'static str,
    note: String,
    by: String,
    at: String,
}

struct EventRow {
    seq: i64,
    at: String,
    actor: String,
    kind: &'static str,
    kind_key: String,
    from: &'static str,
    to: &'static str,
    reason: &'static str,
    note: String,
}

struct ReportRow {
    channel: String,
    kind: &'static str,
    status: &'static str,
    latency: String,
    offers: String,
    detail: String,
}

struct OfferRow {
    rank: i32,
    channel: String,
    product: String,
    principal: String,
    term: i32,
    apr: String,
    stated: String,
    odds: String,
    /// The lender's expected time to decide after acceptance.
    decides_in: String,
    /// A counter-offer or a conditional approval: what to know.
    note: String,
}

struct EarlierRow {
    id: String,
    status: &'static str,
    reason: &'static str,
    filed: String,
    note: String,
}

struct RefusalView {
    refused: bool,
    displayed_line: String,
    drawable: String,
    factors: Vec<String>,
    suggestions: Vec<String>,
}

#[derive(Template)]
#[template(path = "console/case.html")]
struct CasePage {
    p: Frame,
    a: AppealView,
    mine: bool,
    claimable: bool,
    can_decide: bool,
    four_eyes: bool,
    reasons: Vec<(i32, &'static str)>,
    refusal: RefusalView,
    reports: Vec<ReportRow>,
    offers: Vec<OfferRow>,
    earlier: Vec<EarlierRow>,
    events: Vec<EventRow>,
}

#[derive(Template)]
#[template(path = "console/audit.html")]
struct AuditPage {
    p: Frame,
    id: String,
    status: &'static str,
    events: Vec<EventRow>,
}

fn product_kind(l: Locale, k: i32) -> &'static str {
    let zh = l == Locale::ZhCn;
    match pb::ProductKind::try_from(k).unwrap_or(pb::ProductKind::Unspecified) {
        pb::ProductKind::PrimaryCreditLine => {
            if zh {
                "主额度"
            } else {
                "primary line"
            }
        }
        pb::ProductKind::SecuredLoan => {
            if zh {
                "抵押贷款"
            } else {
                "secured loan"
            }
        }
        pb::ProductKind::Installment => {
            if zh {
                "分期"
            } else {
                "installment"
            }
        }
        pb::ProductKind::PartnerLoan => {
            if zh {
                "合作机构贷款"
            } else {
                "partner loan"
            }
        }
        pb::ProductKind::Unspecified => "",
    }
}

/// A counter-offer's changes and a conditional approval's conditions, in
/// the partner's words (cleaned by the router).
fn offer_note(t: &Text, o: &pb::Offer) -> String {
    let mut parts = Vec::new();
    if let Some(a) = &o.adjustment {
        let mut s = t.counter_offer.to_owned();
        if !a.text.is_empty() {
            s.push_str(": ");
            s.push_str(&a.text);
        }
        parts.push(s);
    }
    let conditions: Vec<&str> = o
        .conditions
        .iter()
        .map(|c| c.description.as_str())
        .filter(|c| !c.is_empty())
        .collect();
    if !o.conditions.is_empty() {
        let mut s = t.conditional.to_owned();
        if !conditions.is_empty() {
            s.push_str(": ");
            s.push_str(&conditions.join("; "));
        }
        parts.push(s);
    }
    parts.join(" · ")
}

fn events(l: Locale, events: &[pb::AppealEvent]) -> Vec<EventRow> {
    events
        .iter()
        .map(|e| EventRow {
            seq: e.seq,
            at: when(&e.at),
            actor: e.actor.clone(),
            kind: text::event_kind(l, e.kind),
            kind_key: pb::AppealEventKind::try_from(e.kind)
                .map(|k| {
                    k.as_str_name()
                        .trim_start_matches("APPEAL_EVENT_KIND_")
                        .to_ascii_lowercase()
                })
                .unwrap_or_default(),
            from: text::appeal_status(l, e.from_status),
            to: text::appeal_status(l, e.to_status),
            reason: text::decision_reason(l, e.reason_code),
            note: e.note.clone(),
        })
        .collect()
}

async fn get_case(c: &Console, cur: &Current, id: &str) -> Result<pb::GetCaseResponse, Status> {
    let msg = pb::GetCaseRequest {
        appeal_id: id.to_owned(),
    };
    c.review
        .get_case(as_operator(&cur.caller, msg))
        .await
        .map(|r| r.into_inner())
}

/// A case that could not be read: back to the queue with why.
fn case_refused(c: &Console, cur: &Current, l: Locale, s: &Status) -> Response {
    c.sessions.flash(
        &cur.id,
        Flash {
            ok: false,
            text: refusal(l, s),
        },
    );
    Redirect::to("/queue").into_response()
}

pub async fn case(State(c): St, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let Some(cur) = session(&c, &headers) else {
        return to_login();
    };
    let l = locale(&headers);
    let t = text::text(l);
    let case = match get_case(&c, &cur, &id).await {
        Ok(case) => case,
        Err(s) => return case_refused(&c, &cur, l, &s),
    };
    let a = case.appeal.unwrap_or_default();
    let app = case.application.unwrap_or_default();
    let now = c.review.clock().now_ms();
    let due_ms = ms_of(&a.sla_due_at).unwrap_or(i64::MAX);
    let decided = matches!(
        pb::AppealStatus::try_from(a.status),
        Ok(pb::AppealStatus::Upheld | pb::AppealStatus::Overturned)
    );
    let me = &cur.caller.key_id;
    let mine = !a.assignee.is_empty() && &a.assignee == me;
    let pending = (a.pending_decision != 0).then(|| PendingView {
        decision: text::appeal_status(l, a.pending_decision),
        by: a.proposed_by.clone(),
        reason: text::decision_reason(l, a.pending_reason_code),
        note: a.pending_note.clone(),
    });
    let resolution = decided.then(|| ResolutionView {
        reason: text::decision_reason(l, a.resolution_reason_code),
        note: a.resolution_note.clone(),
        by: a.resolved_by.clone(),
        at: when(&a.resolved_at),
    });
    let view = AppealView {
        id: a.appeal_id.clone(),
        application_id: a.application_id.clone(),
        adapter_id: if a.adapter_id.is_empty() {
            product_kind(l, pb::ProductKind::PrimaryCreditLine as i32).to_owned()
        } else {
            a.adapter_id.clone()
        },
        reason: text::appeal_reason(l, a.reason),
        details: a.details.clone(),
        status: text::appeal_status(l, a.status),
        filed_by: a.filed_by.clone(),
        filed: when(&a.filed_at),
        assignee: a.assignee.clone(),
        claimed: when(&a.claimed_at),
        sla: if decided {
            String::new()
        } else {
            sla_text(t, due_ms, now)
        },
        breached: a.sla_breached,
        pending,
        resolution,
    };
    let primary = app.primary_decision.unwrap_or_default();
    let explanation = app.explanation.unwrap_or_default();
    let refusal = RefusalView {
        refused: primary.refused,
        displayed_line: money(&primary.displayed_line),
        drawable: money(&primary.drawable_amount),
        factors: explanation.factors.iter().map(|f| f.text.clone()).collect(),
        suggestions: explanation
            .suggestions
            .iter()
            .map(|s| s.text.clone())
            .collect(),
    };
    let reports = app
        .channel_reports
        .iter()
        .map(|r| ReportRow {
            channel: r.adapter_id.clone(),
            kind: product_kind(l, r.product_kind),
            status: text::channel_status_pb(l, r.status),
            latency: r
                .latency
                .as_ref()
                .map(|d| format!("{} ms", d.seconds * 1000 + i64::from(d.nanos / 1_000_000)))
                .unwrap_or_default(),
            offers: format!("{} / {}", r.offers_returned, r.offers_rejected),
            detail: r.detail.clone(),
        })
        .collect();
    let offers = app
        .offers
        .iter()
        .map(|o| OfferRow {
            rank: o.rank,
            channel: o.adapter_id.clone(),
            product: o.product_name.clone(),
            principal: money(&o.principal),
            term: o.term_months,
            apr: bps(o.apr_bps),
            stated: bps(o.stated_apr_bps),
            odds: percent(o.approval_odds),
            decides_in: o
                .expected_decision_time
                .as_ref()
                .map(|d| span(d.seconds.saturating_mul(1000)))
                .unwrap_or_default(),
            note: offer_note(t, o),
        })
        .collect();
    let earlier = case
        .earlier_appeals
        .iter()
        .map(|e| EarlierRow {
            id: e.appeal_id.clone(),
            status: text::appeal_status(l, e.status),
            reason: text::appeal_reason(l, e.reason),
            filed: when(&e.filed_at),
            note: e.resolution_note.clone(),
        })
        .collect();
    let page = CasePage {
        p: frame(l, Some(&cur), &format!("/cases/{}", a.appeal_id)),
        mine,
        claimable: !decided && a.assignee.is_empty(),
        can_decide: mine && view.pending.is_none() && !decided,
        four_eyes: c.settings.four_eyes,
        reasons: text::decision_reasons(l),
        a: view,
        refusal,
        reports,
        offers,
        earlier,
        events: events(l, &case.events),
    };
    render(page)
}

pub async fn audit(State(c): St, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let Some(cur) = session(&c, &headers) else {
        return to_login();
    };
    let l = locale(&headers);
    let case = match get_case(&c, &cur, &id).await {
        Ok(case) => case,
        Err(s) => return case_refused(&c, &cur, l, &s),
    };
    let a = case.appeal.unwrap_or_default();
    render(AuditPage {
        p: frame(l, Some(&cur), &format!("/cases/{}/audit", a.appeal_id)),
        status: text::appeal_status(l, a.status),
        id: a.appeal_id,
        events: events(l, &case.events),
    })
}

// -- the forms ---------------------------------------------------------------

#[derive(Deserialize)]
pub struct StepForm {
    #[serde(default)]
    csrf: String,
    /// `queue`: return to the queue rather than the case.
    #[serde(default)]
    back: String,
    #[serde(default)]
    decision: String,
    #[serde(default)]
    reason_code: String,
    #[serde(default)]
    note: String,
}

/// The session of a form post whose CSRF token and origin check out;
/// otherwise the response to send.
fn form_session(c: &Console, headers: &HeaderMap, csrf: &str) -> Result<Current, Box<Response>> {
    let Some(cur) = session(c, headers) else {
        return Err(Box::new(to_login()));
    };
    if !super::same_origin(headers) || !same_secret(&cur.csrf, csrf) {
        tracing::warn!(operator = %cur.caller.key_id, "console: form refused (CSRF token or origin)");
        let t = text::text(locale(headers));
        return Err(Box::new(
            (StatusCode::FORBIDDEN, t.form_expired).into_response(),
        ));
    }
    Ok(cur)
}

/// Runs one workflow step and goes back with its outcome.
async fn step<F, Fut>(c: &Console, headers: &HeaderMap, id: &str, f: &StepForm, run: F) -> Response
where
    F: FnOnce(Caller) -> Fut,
    Fut: std::future::Future<Output = Result<(), Status>>,
{
    let cur = match form_session(c, headers, &f.csrf) {
        Ok(cur) => cur,
        Err(r) => return *r,
    };
    let l = locale(headers);
    let flash = match run(cur.caller.clone()).await {
        Ok(()) => Flash {
            ok: true,
            text: text::text(l).done.into(),
        },
        Err(s) => Flash {
            ok: false,
            text: refusal(l, &s),
        },
    };
    c.sessions.flash(&cur.id, flash);
    let back = if f.back == "queue" {
        "/queue".to_owned()
    } else {
        format!("/cases/{}", encode(id))
    };
    Redirect::to(&back).into_response()
}

pub async fn claim(
    State(c): St,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(f): Form<StepForm>,
) -> Response {
    let review = c.review.clone();
    let appeal_id = id.clone();
    step(&c, &headers, &id, &f, |caller| async move {
        let msg = pb::ClaimAppealRequest { appeal_id };
        review
            .claim_appeal(as_operator(&caller, msg))
            .await
            .map(drop)
    })
    .await
}

pub async fn release(
    State(c): St,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(f): Form<StepForm>,
) -> Response {
    let review = c.review.clone();
    let appeal_id = id.clone();
    step(&c, &headers, &id, &f, |caller| async move {
        let msg = pb::ReleaseAppealRequest { appeal_id };
        review
            .release_appeal(as_operator(&caller, msg))
            .await
            .map(drop)
    })
    .await
}

pub async fn decide(
    State(c): St,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(f): Form<StepForm>,
) -> Response {
    let review = c.review.clone();
    let msg = pb::ResolveAppealRequest {
        appeal_id: id.clone(),
        decision: match f.decision.as_str() {
            "upheld" => pb::AppealDecision::Upheld as i32,
            "overturned" => pb::AppealDecision::Overturned as i32,
            _ => 0,
        },
        reason_code: f.reason_code.parse().unwrap_or(0),
        note: f.note.clone(),
    };
    step(&c, &headers, &id, &f, |caller| async move {
        review
            .resolve_appeal(as_operator(&caller, msg))
            .await
            .map(drop)
    })
    .await
}

pub async fn approve(
    State(c): St,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(f): Form<StepForm>,
) -> Response {
    let review = c.review.clone();
    let msg = pb::ApproveDecisionRequest {
        appeal_id: id.clone(),
        note: f.note.clone(),
    };
    step(&c, &headers, &id, &f, |caller| async move {
        review
            .approve_decision(as_operator(&caller, msg))
            .await
            .map(drop)
    })
    .await
}

pub async fn reject(
    State(c): St,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(f): Form<StepForm>,
) -> Response {
    let review = c.review.clone();
    let msg = pb::RejectDecisionRequest {
        appeal_id: id.clone(),
        note: f.note.clone(),
    };
    step(&c, &headers, &id, &f, |caller| async move {
        review
            .reject_decision(as_operator(&caller, msg))
            .await
            .map(drop)
    })
    .await
}

// -- the channels ------------------------------------------------------------

struct Legend {
    class: String,
    label: &'static str,
}

struct ChannelCard {
    id: String,
    name: String,
    breaker: &'static str,
    breaker_class: &'static str,
    in_flight: usize,
    calls: u32,
    approval: String,
    calls_svg: String,
    latency_svg: String,
    approval_svg: String,
}

#[derive(Template)]
#[template(path = "console/channels.html")]
struct ChannelsPage {
    p: Frame,
    legend: Vec<Legend>,
    cards: Vec<ChannelCard>,
}

pub async fn channels(State(c): St, headers: HeaderMap) -> Response {
    let Some(cur) = session(&c, &headers) else {
        return to_login();
    };
    let l = locale(&headers);
    let t = text::text(l);
    let zh = l == Locale::ZhCn;
    let cards = c
        .registry
        .channels()
        .iter()
        .map(|ch| {
            let hour = ch.metrics().last_hour();
            let calls: u32 = hour.iter().map(|m| m.total_calls()).sum();
            let (acc, dec) = hour
                .iter()
                .fold((0u32, 0u32), |(a, d), m| (a + m.accepted, d + m.declined));
            let approval = if acc + dec == 0 {
                "—".to_owned()
            } else {
                format!(
                    "{acc} / {} ({})",
                    acc + dec,
                    percent(f64::from(acc) / f64::from(acc + dec))
                )
            };
            let (breaker, breaker_class) = match ch.breaker_state().as_gauge() {
                0 => (if zh { "闭合（正常）" } else { "closed" }, "ok"),
                1 => (
                    if zh {
                        "断开（暂停调用）"
                    } else {
                        "open"
                    },
                    "bad",
                ),
                _ => (
                    if zh {
                        "半开（试探中）"
                    } else {
                        "half-open"
                    },
                    "warn",
                ),
            };
            let p50 = hour
                .iter()
                .map(|m| m.latency_quantile_ms(0.5).map(|v| v as f64))
                .collect();
            let p95 = hour
                .iter()
                .map(|m| m.latency_quantile_ms(0.95).map(|v| v as f64))
                .collect();
            let rate = hour
                .iter()
                .map(|m| m.approval_rate().map(|r| r * 100.0))
                .collect();
            ChannelCard {
                name: ch
                    .description()
                    .map(|d| d.display_name)
                    .filter(|n| !n.is_empty())
                    .unwrap_or_else(|| ch.id.clone()),
                id: ch.id.clone(),
                breaker,
                breaker_class,
                in_flight: ch.in_flight(),
                calls,
                approval,
                calls_svg: chart::calls_by_status(&hour, t.chart_calls, t.minutes_ago, t.now),
                latency_svg: chart::lines(
                    &[p50, p95],
                    None,
                    "",
                    t.chart_latency,
                    t.minutes_ago,
                    t.now,
                ),
                approval_svg: chart::lines(
                    &[rate],
                    Some(100.0),
                    " %",
                    t.chart_approval,
                    t.minutes_ago,
                    t.now,
                ),
            }
        })
        .collect();
    let legend = STATUSES
        .iter()
        .enumerate()
        .map(|(i, s)| Legend {
            class: format!("s{i}"),
            label: text::channel_status(l, *s),
        })
        .collect();
    debug_assert_eq!(MINUTES, 60);
    render(ChannelsPage {
        p: frame(l, Some(&cur), "/channels"),
        legend,
        cards,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_as_people_write_them() {
        let m = |a| {
            Some(pb::Money {
                currency_code: "CNY".into(),
                amount_minor: a,
            })
        };
        assert_eq!(money(&m(1_000_000)), "10,000.00 CNY");
        assert_eq!(money(&m(5)), "0.05 CNY");
        assert_eq!(money(&m(-123_456_789)), "-1,234,567.89 CNY");
        assert_eq!(money(&None), "");
        assert_eq!(bps(1234), "12.34 %");
        assert_eq!(bps(0), "—");
        assert_eq!(percent(0.675), "68 %");
        assert_eq!(span(3 * 3600 * 1000 + 5 * 60 * 1000), "3h 05m");
        assert_eq!(span(-40_000), "40s");
        assert_eq!(span(2 * 86_400_000 + 3_600_000), "2d 1h");
    }

    #[test]
    fn times_are_utc_to_the_second() {
        let ts = Some(prost_types::Timestamp {
            seconds: 1_796_558_730,
            nanos: 0,
        });
        assert_eq!(when(&ts), "2026-12-06 12:05:30");
        assert_eq!(when(&None), "");
    }

    #[test]
    fn back_paths_are_encoded_for_a_query() {
        assert_eq!(encode("/queue?view=mine"), "/queue%3Fview%3Dmine");
        assert_eq!(encode("/cases/apl_1.a"), "/cases/apl_1.a");
    }
}
