//! The console's words in English and Simplified Chinese. Every label a
//! page shows is here, so a page cannot be half translated: a new label is
//! a new field, and both tables must fill it.

use finroute_core::Locale;
use finroute_proto::v1 as pb;

/// One language's labels.
#[derive(Debug)]
pub struct Text {
    pub lang: &'static str,
    pub other_lang: &'static str,
    pub other_lang_name: &'static str,
    pub title: &'static str,
    pub nav_queue: &'static str,
    pub nav_channels: &'static str,
    pub sign_out: &'static str,
    pub signed_in_as: &'static str,
    pub sign_in: &'static str,
    pub key_label: &'static str,
    pub sign_in_hint: &'static str,
    pub sign_in_failed: &'static str,
    pub sign_in_not_operator: &'static str,
    pub form_expired: &'static str,
    pub view_all: &'static str,
    pub view_unclaimed: &'static str,
    pub view_mine: &'static str,
    pub view_breached: &'static str,
    pub col_appeal: &'static str,
    pub col_reason: &'static str,
    pub col_status: &'static str,
    pub col_assignee: &'static str,
    pub col_filed: &'static str,
    pub col_sla: &'static str,
    pub col_action: &'static str,
    pub claim: &'static str,
    pub open: &'static str,
    pub queue_empty: &'static str,
    pub queue_note: &'static str,
    pub sla_left: &'static str,
    pub sla_overdue: &'static str,
    pub awaiting_approval: &'static str,
    pub case: &'static str,
    pub appeal_text: &'static str,
    pub application: &'static str,
    pub channel_contested: &'static str,
    pub filed_by: &'static str,
    pub refusal: &'static str,
    pub refused: &'static str,
    pub not_refused: &'static str,
    pub displayed_line: &'static str,
    pub drawable: &'static str,
    pub factors: &'static str,
    pub suggestions: &'static str,
    pub channel_reports: &'static str,
    pub offers: &'static str,
    pub no_offers: &'static str,
    pub earlier_appeals: &'static str,
    pub none: &'static str,
    pub audit_trail: &'static str,
    pub audit_page: &'static str,
    pub back_to_case: &'static str,
    pub decide: &'static str,
    pub decision: &'static str,
    pub uphold: &'static str,
    pub overturn: &'static str,
    pub reason_code: &'static str,
    pub note: &'static str,
    pub submit: &'static str,
    pub release: &'static str,
    pub approve: &'static str,
    pub reject: &'static str,
    pub proposal: &'static str,
    pub proposed_by: &'static str,
    pub four_eyes_hint: &'static str,
    pub claim_to_decide: &'static str,
    pub decided: &'static str,
    pub resolved_by: &'static str,
    pub col_channel: &'static str,
    pub col_kind: &'static str,
    pub col_product: &'static str,
    pub col_principal: &'static str,
    pub col_term: &'static str,
    pub col_apr: &'static str,
    pub col_stated: &'static str,
    pub col_odds: &'static str,
    pub col_rank: &'static str,
    pub col_latency: &'static str,
    pub col_offers: &'static str,
    pub col_detail: &'static str,
    pub months: &'static str,
    pub col_time: &'static str,
    pub col_operator: &'static str,
    pub col_event: &'static str,
    pub col_transition: &'static str,
    pub col_note: &'static str,
    pub channels: &'static str,
    pub channels_note: &'static str,
    pub chart_calls: &'static str,
    pub chart_latency: &'static str,
    pub chart_approval: &'static str,
    pub breaker: &'static str,
    pub in_flight: &'static str,
    pub calls_hour: &'static str,
    pub approval_hour: &'static str,
    pub no_calls: &'static str,
    pub minutes_ago: &'static str,
    pub now: &'static str,
    pub done: &'static str,
    pub not_found: &'static str,
}

pub const EN: Text = Text {
    lang: "en",
    other_lang: "zh-CN",
    other_lang_name: "中文",
    title: "finroute review desk",
    nav_queue: "Queue",
    nav_channels: "Channels",
    sign_out: "Sign out",
    signed_in_as: "Operator",
    sign_in: "Sign in",
    key_label: "Operator API key",
    sign_in_hint: "Sign in with your own operator key: your key id is your name in claims and in the audit trail. The key is not kept in the browser; the session ends after 30 minutes without activity.",
    sign_in_failed: "That key is not a key of this router.",
    sign_in_not_operator: "That key lacks the operator role.",
    form_expired: "The form expired; please try again.",
    view_all: "All open",
    view_unclaimed: "Unclaimed",
    view_mine: "Mine",
    view_breached: "SLA breached",
    col_appeal: "Appeal",
    col_reason: "Reason",
    col_status: "Status",
    col_assignee: "Assignee",
    col_filed: "Filed",
    col_sla: "SLA",
    col_action: "Action",
    claim: "Claim",
    open: "Open",
    queue_empty: "No appeals in this view.",
    queue_note: "Breached first, then oldest. Times are UTC.",
    sla_left: "left",
    sla_overdue: "overdue",
    awaiting_approval: "awaiting approval",
    case: "Case",
    appeal_text: "The applicant's appeal",
    application: "Application",
    channel_contested: "Contested channel",
    filed_by: "Filed by",
    refusal: "The refusal",
    refused: "Refused",
    not_refused: "Not refused",
    displayed_line: "Displayed line",
    drawable: "Drawable",
    factors: "Refusal factors",
    suggestions: "Suggestions",
    channel_reports: "Channel reports",
    offers: "Offers",
    no_offers: "No offers were made.",
    earlier_appeals: "Earlier appeals of this application",
    none: "None.",
    audit_trail: "Audit trail",
    audit_page: "Audit trail page",
    back_to_case: "Back to the case",
    decide: "Decide",
    decision: "Decision",
    uphold: "Uphold: the refusal stands",
    overturn: "Overturn the refusal",
    reason_code: "Reason code",
    note: "Note",
    submit: "Submit",
    release: "Release",
    approve: "Approve",
    reject: "Reject",
    proposal: "Proposed decision awaiting a second operator",
    proposed_by: "Proposed by",
    four_eyes_hint: "Overturning needs the approval of a second operator (four eyes); the filer, the proposer and the approver must differ.",
    claim_to_decide: "Claim the appeal to decide it.",
    decided: "Decided",
    resolved_by: "Decided by",
    col_channel: "Channel",
    col_kind: "Kind",
    col_product: "Product",
    col_principal: "Principal",
    col_term: "Term",
    col_apr: "APR (all costs)",
    col_stated: "Stated APR",
    col_odds: "Approval odds",
    col_rank: "Rank",
    col_latency: "Latency",
    col_offers: "Offers",
    col_detail: "Detail",
    months: "months",
    col_time: "Time (UTC)",
    col_operator: "Operator",
    col_event: "Event",
    col_transition: "From → to",
    col_note: "Note",
    channels: "Channels",
    channels_note: "The last hour, minute by minute, as this router measured it since it started (each replica shows its own calls).",
    chart_calls: "Calls by status",
    chart_latency: "Latency, p50 and p95 (ms)",
    chart_approval: "Approval rate of acceptances",
    breaker: "Circuit breaker",
    in_flight: "In flight",
    calls_hour: "Calls in the hour",
    approval_hour: "Approved in the hour",
    no_calls: "No calls in the last hour.",
    minutes_ago: "60 min ago",
    now: "now",
    done: "Done.",
    not_found: "Not found.",
};

pub const ZH: Text = Text {
    lang: "zh-CN",
    other_lang: "en",
    other_lang_name: "English",
    title: "finroute 人工审核台",
    nav_queue: "审核队列",
    nav_channels: "渠道",
    sign_out: "退出",
    signed_in_as: "审核员",
    sign_in: "登录",
    key_label: "审核员 API 密钥",
    sign_in_hint: "请使用您本人的审核员密钥登录：密钥编号即您在认领和审计记录中的身份。浏览器不保存密钥；30 分钟无操作后会话结束。",
    sign_in_failed: "该密钥不是本路由器的密钥。",
    sign_in_not_operator: "该密钥没有审核员（operator）角色。",
    form_expired: "表单已过期，请重试。",
    view_all: "全部待处理",
    view_unclaimed: "未认领",
    view_mine: "我的",
    view_breached: "已超时",
    col_appeal: "申诉",
    col_reason: "申诉原因",
    col_status: "状态",
    col_assignee: "处理人",
    col_filed: "提交时间",
    col_sla: "时限",
    col_action: "操作",
    claim: "认领",
    open: "打开",
    queue_empty: "该视图下没有申诉。",
    queue_note: "已超时的排在前面，其余按提交时间先后。时间为 UTC。",
    sla_left: "剩余",
    sla_overdue: "已超时",
    awaiting_approval: "待批准",
    case: "案件",
    appeal_text: "申请人的申诉内容",
    application: "申请",
    channel_contested: "被申诉的渠道",
    filed_by: "提交方",
    refusal: "拒绝决定",
    refused: "已拒绝",
    not_refused: "未拒绝",
    displayed_line: "展示额度",
    drawable: "可提取额度",
    factors: "拒绝因素",
    suggestions: "建议",
    channel_reports: "渠道报告",
    offers: "报价",
    no_offers: "没有报价。",
    earlier_appeals: "本申请的历史申诉",
    none: "无。",
    audit_trail: "审计记录",
    audit_page: "审计记录页",
    back_to_case: "返回案件",
    decide: "作出决定",
    decision: "决定",
    uphold: "维持：拒绝决定不变",
    overturn: "推翻拒绝决定",
    reason_code: "原因代码",
    note: "备注",
    submit: "提交",
    release: "释放",
    approve: "批准",
    reject: "驳回",
    proposal: "待另一位审核员批准的处理决定",
    proposed_by: "提议人",
    four_eyes_hint: "推翻原决定须由另一位审核员批准（双人复核）；提交人、提议人和批准人必须互不相同。",
    claim_to_decide: "认领该申诉后才能作出决定。",
    decided: "已处理",
    resolved_by: "处理人",
    col_channel: "渠道",
    col_kind: "类型",
    col_product: "产品",
    col_principal: "本金",
    col_term: "期限",
    col_apr: "综合年化利率",
    col_stated: "名义年化利率",
    col_odds: "通过概率",
    col_rank: "排名",
    col_latency: "耗时",
    col_offers: "报价数",
    col_detail: "说明",
    months: "个月",
    col_time: "时间（UTC）",
    col_operator: "操作人",
    col_event: "事件",
    col_transition: "状态变化",
    col_note: "备注",
    channels: "渠道",
    channels_note: "近一小时逐分钟的数据，为本路由器自启动以来的测量（每个副本只显示自己的调用）。",
    chart_calls: "调用（按状态）",
    chart_latency: "耗时 p50 与 p95（毫秒）",
    chart_approval: "接受申请的批准率",
    breaker: "熔断器",
    in_flight: "进行中",
    calls_hour: "近一小时调用",
    approval_hour: "近一小时批准",
    no_calls: "近一小时没有调用。",
    minutes_ago: "60 分钟前",
    now: "现在",
    done: "已完成。",
    not_found: "未找到。",
};

/// The labels of `locale`.
pub fn text(locale: Locale) -> &'static Text {
    match locale {
        Locale::En => &EN,
        Locale::ZhCn => &ZH,
    }
}

/// An appeal status's name.
pub fn appeal_status(locale: Locale, s: i32) -> &'static str {
    let zh = locale == Locale::ZhCn;
    match pb::AppealStatus::try_from(s).unwrap_or(pb::AppealStatus::Unspecified) {
        pb::AppealStatus::Open => pick(zh, "open", "待处理"),
        pb::AppealStatus::InReview => pick(zh, "in review", "审核中"),
        pb::AppealStatus::Upheld => pick(zh, "upheld", "已维持"),
        pb::AppealStatus::Overturned => pick(zh, "overturned", "已推翻"),
        pb::AppealStatus::Unspecified => "",
    }
}

/// An appeal reason's name.
pub fn appeal_reason(locale: Locale, r: i32) -> &'static str {
    let zh = locale == Locale::ZhCn;
    match pb::AppealReason::try_from(r).unwrap_or(pb::AppealReason::Unspecified) {
        pb::AppealReason::IncomeChanged => pick(zh, "income changed", "收入发生变化"),
        pb::AppealReason::DataError => pick(zh, "data error", "数据有误"),
        pb::AppealReason::LineReducedUnfairly => {
            pick(zh, "line reduced unfairly", "额度被不当降低")
        }
        pb::AppealReason::Other | pb::AppealReason::Unspecified => pick(zh, "other", "其他"),
    }
}

/// The decision reasons an operator may pick, with their names.
pub fn decision_reasons(locale: Locale) -> Vec<(i32, &'static str)> {
    [
        pb::DecisionReason::NewEvidence,
        pb::DecisionReason::DataCorrected,
        pb::DecisionReason::PolicyAppliedCorrectly,
        pb::DecisionReason::InsufficientEvidence,
        pb::DecisionReason::PolicyMisapplied,
        pb::DecisionReason::Other,
    ]
    .into_iter()
    .map(|r| (r as i32, decision_reason(locale, r as i32)))
    .collect()
}

/// A decision reason's name ('' for none).
pub fn decision_reason(locale: Locale, r: i32) -> &'static str {
    let zh = locale == Locale::ZhCn;
    match pb::DecisionReason::try_from(r).unwrap_or(pb::DecisionReason::Unspecified) {
        pb::DecisionReason::NewEvidence => pick(zh, "new evidence", "有新证据"),
        pb::DecisionReason::DataCorrected => pick(zh, "data corrected", "数据已更正"),
        pb::DecisionReason::PolicyAppliedCorrectly => {
            pick(zh, "policy applied correctly", "政策适用正确")
        }
        pb::DecisionReason::InsufficientEvidence => pick(zh, "insufficient evidence", "证据不足"),
        pb::DecisionReason::PolicyMisapplied => pick(zh, "policy misapplied", "政策适用有误"),
        pb::DecisionReason::Other => pick(zh, "other", "其他"),
        pb::DecisionReason::Unspecified => "",
    }
}

/// An audit event kind's name.
pub fn event_kind(locale: Locale, k: i32) -> &'static str {
    let zh = locale == Locale::ZhCn;
    match pb::AppealEventKind::try_from(k).unwrap_or(pb::AppealEventKind::Unspecified) {
        pb::AppealEventKind::Filed => pick(zh, "filed", "提交申诉"),
        pb::AppealEventKind::ReviewStarted => pick(zh, "review started", "开始审核"),
        pb::AppealEventKind::Claimed => pick(zh, "claimed", "认领"),
        pb::AppealEventKind::Released => pick(zh, "released", "释放"),
        pb::AppealEventKind::Lapsed => pick(zh, "claim lapsed", "认领过期"),
        pb::AppealEventKind::Proposed => pick(zh, "decision proposed", "提议决定"),
        pb::AppealEventKind::Approved => pick(zh, "proposal approved", "批准提议"),
        pb::AppealEventKind::Rejected => pick(zh, "proposal rejected", "驳回提议"),
        pb::AppealEventKind::Resolved => pick(zh, "decided", "作出决定"),
        pb::AppealEventKind::Unspecified => pick(zh, "other", "其他"),
    }
}

/// A channel report status's name.
pub fn channel_status(locale: Locale, s: finroute_core::ChannelStatus) -> &'static str {
    use finroute_core::ChannelStatus as S;
    let zh = locale == Locale::ZhCn;
    match s {
        S::Ok => pick(zh, "ok", "成功"),
        S::NoOffer => pick(zh, "no offer", "无报价"),
        S::Timeout => pick(zh, "timeout", "超时"),
        S::Error => pick(zh, "error", "错误"),
        S::CircuitOpen => pick(zh, "circuit open", "熔断中"),
        S::Ineligible => pick(zh, "ineligible", "不符合条件"),
        S::NoConsent => pick(zh, "no consent", "未获授权"),
    }
}

fn pick(zh: bool, en: &'static str, zh_text: &'static str) -> &'static str {
    if zh { zh_text } else { en }
}

/// A wire channel status's name ('' for an unknown value).
pub fn channel_status_pb(locale: Locale, s: i32) -> &'static str {
    use finroute_core::ChannelStatus as S;
    let core = match pb::ChannelStatus::try_from(s) {
        Ok(pb::ChannelStatus::Ok) => S::Ok,
        Ok(pb::ChannelStatus::NoOffer) => S::NoOffer,
        Ok(pb::ChannelStatus::Timeout) => S::Timeout,
        Ok(pb::ChannelStatus::Error) => S::Error,
        Ok(pb::ChannelStatus::CircuitOpen) => S::CircuitOpen,
        Ok(pb::ChannelStatus::Ineligible) => S::Ineligible,
        Ok(pb::ChannelStatus::NoConsent) => S::NoConsent,
        _ => return "",
    };
    channel_status(locale, core)
}
