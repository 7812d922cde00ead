//! The one mapping from router errors to gRPC statuses, and the one list of
//! error reasons (Google AIP-193).
//!
//! Every error status the router sends carries a `google.rpc.ErrorInfo`
//! with the domain [`ERROR_DOMAIN`] and a [`Reason`]: an UPPER_SNAKE code
//! a client can branch on without reading the message. Its metadata names
//! at most the request field at fault (`field`), the role missing (`role`)
//! or a configured limit, never a value the caller sent. Validation errors
//! also carry `google.rpc.BadRequest` field violations; internal errors
//! send a generic message and log the cause once (never personal data).
//! The `ErrorDetailsLayer` (`error_layer.rs`) adds a
//! `google.rpc.LocalizedMessage` in the caller's locale ([`Reason::text`]).
//!
//! Store errors map by their [`StoreErrorKind`]:
//!
//! | store error | code | reason |
//! |---|---|---|
//! | a caller's field the store cannot keep (a NUL in `request_id`, ...) | INVALID_ARGUMENT, with a BadRequest naming the field | `STORE_REJECTED_RECORD` |
//! | any other record content it cannot keep | INTERNAL | `STORE_REJECTED_RECORD` |
//! | unreachable (connection lost or refused, pool timed out, closed) | UNAVAILABLE | `STORE_UNAVAILABLE` |
//! | out of disk space | RESOURCE_EXHAUSTED | `STORE_FULL` |
//! | anything else | INTERNAL | `STORE_ERROR` |
//!
//! A full disk is RESOURCE_EXHAUSTED, not UNAVAILABLE: the gRPC status
//! code guide names "the entire file system is out of space" as its case,
//! and UNAVAILABLE tells clients (and retry policies that retry it
//! automatically) that a quick retry will do, which it will not until an
//! operator frees space. The router's load shedding is RESOURCE_EXHAUSTED
//! too; the reason tells the two apart. A rejected record is never
//! UNAVAILABLE: the same request fails the same way every time.
//!
//! Messages and details name fields and kinds, never values. The full
//! reason table, with what a client should do for each, is in
//! docs/api.md ("Errors").

use std::collections::HashMap;
use std::fmt;

use finroute_adapters::convert::Violation;
use finroute_core::Locale;
use finroute_store::{StoreError, StoreErrorKind};
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, FieldViolation, StatusExt};

/// The `google.rpc.ErrorInfo` domain of the router's errors.
pub const ERROR_DOMAIN: &str = "finroute.v1";

/// Why a call failed, as a client branches on it: the `reason` of the
/// `google.rpc.ErrorInfo` every error status carries. The one list; the
/// table in docs/api.md says for each the code, when, and what a client
/// should do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// INVALID_ARGUMENT: a request field breaks its rule (BadRequest names each).
    InvalidField,
    /// NOT_FOUND: no such offer for this tenant and applicant.
    OfferNotFound,
    /// NOT_FOUND: no such application for this tenant.
    ApplicationNotFound,
    /// NOT_FOUND: no such appeal for this tenant.
    AppealNotFound,
    /// NOT_FOUND: ReportOutcome on no acceptance of this tenant and channel.
    AcceptanceNotFound,
    /// FAILED_PRECONDITION: ReportOutcome on an acceptance that is not ACCEPTED.
    AcceptanceNotAccepted,
    /// ALREADY_EXISTS: ReportOutcome's `event_id` was used with other content.
    OutcomeEventIdReused,
    /// FAILED_PRECONDITION: the offer has expired.
    OfferExpired,
    /// FAILED_PRECONDITION: the offer was accepted under another idempotency key.
    OfferAlreadyAccepted,
    /// ALREADY_EXISTS: the `request_id` was used with a different body.
    RequestIdReused,
    /// ALREADY_EXISTS: the `idempotency_key` was used for another call.
    IdempotencyKeyReused,
    /// FAILED_PRECONDITION: the channel that made the offer is no longer configured.
    ChannelNotConfigured,
    /// FAILED_PRECONDITION: the channel takes no acceptances through the router.
    ChannelTakesNoAcceptance,
    /// FAILED_PRECONDITION: the appeal is already resolved.
    AppealAlreadyResolved,
    /// FAILED_PRECONDITION: another operator holds a live claim on the appeal.
    AppealClaimedByOther,
    /// FAILED_PRECONDITION: AcceptOffer on an offer whose applicant was
    /// routed again later with other applicant data.
    OfferStale,
    /// FAILED_PRECONDITION: ReleaseAppeal by a key that holds no live claim on it.
    AppealNotClaimed,
    /// FAILED_PRECONDITION: the filer, the proposer and the approver of a decision must be different keys.
    FourEyesRequired,
    /// FAILED_PRECONDITION: ResolveAppeal while a proposed decision awaits approval.
    DecisionPendingApproval,
    /// FAILED_PRECONDITION: ApproveDecision or RejectDecision with no proposed decision.
    NoPendingDecision,
    /// FAILED_PRECONDITION: no `adapter_id` and no refusal of the primary line.
    NoPrimaryRefusal,
    /// RESOURCE_EXHAUSTED: the router is at its limit of routing calls.
    Overloaded,
    /// RESOURCE_EXHAUSTED: the api key's rate limit.
    RateLimited,
    /// UNAUTHENTICATED: no `authorization` metadata.
    ApiKeyMissing,
    /// UNAUTHENTICATED: `authorization` is not `Bearer <api key>`.
    ApiKeyMalformed,
    /// UNAUTHENTICATED: no such api key.
    ApiKeyUnknown,
    /// PERMISSION_DENIED: the api key lacks the role the service needs.
    RoleRequired,
    /// DEADLINE_EXCEEDED: the request body did not arrive in time.
    RequestBodyTimeout,
    /// OUT_OF_RANGE: a message over the size limit (from the transport).
    MessageTooLarge,
    /// INVALID_ARGUMENT or INTERNAL: the store refused the record's content.
    StoreRejectedRecord,
    /// UNAVAILABLE: the store cannot be reached.
    StoreUnavailable,
    /// RESOURCE_EXHAUSTED: the store is out of disk space.
    StoreFull,
    /// INTERNAL: any other store failure.
    StoreError,
    /// UNIMPLEMENTED: no such method (or not built yet).
    Unimplemented,
    /// INTERNAL: anything else that is the router's fault.
    Internal,
}

impl Reason {
    /// Every reason, in the order of the documentation's table.
    pub const ALL: [Reason; 35] = [
        Reason::InvalidField,
        Reason::OfferNotFound,
        Reason::ApplicationNotFound,
        Reason::AppealNotFound,
        Reason::AcceptanceNotFound,
        Reason::OfferExpired,
        Reason::OfferAlreadyAccepted,
        Reason::OfferStale,
        Reason::RequestIdReused,
        Reason::IdempotencyKeyReused,
        Reason::OutcomeEventIdReused,
        Reason::AcceptanceNotAccepted,
        Reason::ChannelNotConfigured,
        Reason::ChannelTakesNoAcceptance,
        Reason::AppealAlreadyResolved,
        Reason::AppealClaimedByOther,
        Reason::AppealNotClaimed,
        Reason::FourEyesRequired,
        Reason::DecisionPendingApproval,
        Reason::NoPendingDecision,
        Reason::NoPrimaryRefusal,
        Reason::Overloaded,
        Reason::RateLimited,
        Reason::ApiKeyMissing,
        Reason::ApiKeyMalformed,
        Reason::ApiKeyUnknown,
        Reason::RoleRequired,
        Reason::RequestBodyTimeout,
        Reason::MessageTooLarge,
        Reason::StoreRejectedRecord,
        Reason::StoreUnavailable,
        Reason::StoreFull,
        Reason::StoreError,
        Reason::Unimplemented,
        Reason::Internal,
    ];

    /// The ErrorInfo `reason`: UPPER_SNAKE, stable, part of the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::InvalidField => "INVALID_FIELD",
            Reason::OfferNotFound => "OFFER_NOT_FOUND",
            Reason::ApplicationNotFound => "APPLICATION_NOT_FOUND",
            Reason::AppealNotFound => "APPEAL_NOT_FOUND",
            Reason::AcceptanceNotFound => "ACCEPTANCE_NOT_FOUND",
            Reason::AcceptanceNotAccepted => "ACCEPTANCE_NOT_ACCEPTED",
            Reason::OutcomeEventIdReused => "OUTCOME_EVENT_ID_REUSED",
            Reason::OfferExpired => "OFFER_EXPIRED",
            Reason::OfferStale => "OFFER_STALE",
            Reason::OfferAlreadyAccepted => "OFFER_ALREADY_ACCEPTED",
            Reason::RequestIdReused => "REQUEST_ID_REUSED",
            Reason::IdempotencyKeyReused => "IDEMPOTENCY_KEY_REUSED",
            Reason::ChannelNotConfigured => "CHANNEL_NOT_CONFIGURED",
            Reason::ChannelTakesNoAcceptance => "CHANNEL_TAKES_NO_ACCEPTANCE",
            Reason::AppealAlreadyResolved => "APPEAL_ALREADY_RESOLVED",
            Reason::AppealClaimedByOther => "APPEAL_CLAIMED_BY_OTHER",
            Reason::AppealNotClaimed => "APPEAL_NOT_CLAIMED",
            Reason::FourEyesRequired => "FOUR_EYES_REQUIRED",
            Reason::DecisionPendingApproval => "DECISION_PENDING_APPROVAL",
            Reason::NoPendingDecision => "NO_PENDING_DECISION",
            Reason::NoPrimaryRefusal => "NO_PRIMARY_REFUSAL",
            Reason::Overloaded => "OVERLOADED",
            Reason::RateLimited => "RATE_LIMITED",
            Reason::ApiKeyMissing => "API_KEY_MISSING",
            Reason::ApiKeyMalformed => "API_KEY_MALFORMED",
            Reason::ApiKeyUnknown => "API_KEY_UNKNOWN",
            Reason::RoleRequired => "ROLE_REQUIRED",
            Reason::RequestBodyTimeout => "REQUEST_BODY_TIMEOUT",
            Reason::MessageTooLarge => "MESSAGE_TOO_LARGE",
            Reason::StoreRejectedRecord => "STORE_REJECTED_RECORD",
            Reason::StoreUnavailable => "STORE_UNAVAILABLE",
            Reason::StoreFull => "STORE_FULL",
            Reason::StoreError => "STORE_ERROR",
            Reason::Unimplemented => "UNIMPLEMENTED",
            Reason::Internal => "INTERNAL",
        }
    }

    /// The reason named `s`, if it is one of ours.
    pub fn parse(s: &str) -> Option<Reason> {
        Reason::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// The reason of a status that carries no ErrorInfo (one the transport
    /// made: a message over the size limit, an unknown method, a body that
    /// is not protobuf).
    pub fn of_code(code: Code) -> Reason {
        match code {
            Code::OutOfRange => Reason::MessageTooLarge,
            Code::Unimplemented => Reason::Unimplemented,
            Code::DeadlineExceeded => Reason::RequestBodyTimeout,
            _ => Reason::Internal,
        }
    }

    /// The `google.rpc.LocalizedMessage` text: for the person in front of
    /// the client, in `locale`; names nothing the caller sent.
    pub fn text(self, locale: Locale) -> &'static str {
        let (en, zh) = match self {
            Reason::InvalidField => (
                "Some fields of the request are invalid; the error details name each one.",
                "请求中有字段不符合要求，错误详情列出了每个出错的字段。",
            ),
            Reason::OfferNotFound => ("The offer was not found.", "未找到该报价。"),
            Reason::ApplicationNotFound => ("The application was not found.", "未找到该申请。"),
            Reason::AppealNotFound => ("The appeal was not found.", "未找到该申诉。"),
            Reason::AcceptanceNotFound => ("The acceptance was not found.", "未找到该接受记录。"),
            Reason::AcceptanceNotAccepted => (
                "The acceptance has not been confirmed; outcomes can be reported only for confirmed acceptances.",
                "该接受尚未确认，只能为已确认的接受报告结果。",
            ),
            Reason::OutcomeEventIdReused => (
                "This event ID was already used for a different outcome.",
                "该事件编号已用于另一个内容不同的结果。",
            ),
            Reason::OfferExpired => (
                "The offer has expired; please ask for new offers.",
                "该报价已过期，请重新获取报价。",
            ),
            Reason::OfferAlreadyAccepted => (
                "The offer has already been accepted.",
                "该报价已被接受，不能再次接受。",
            ),
            Reason::OfferStale => (
                "Your details have changed since this offer was made; please ask for new offers.",
                "您的资料在此报价生成后已有变化，请重新获取报价。",
            ),
            Reason::RequestIdReused => (
                "This request ID was already used for a different request.",
                "该请求编号已用于另一个内容不同的请求。",
            ),
            Reason::IdempotencyKeyReused => (
                "This idempotency key was already used for a different request.",
                "该幂等键已用于另一个内容不同的请求。",
            ),
            Reason::ChannelNotConfigured => (
                "The institution that made this offer is no longer available; please ask for new offers.",
                "提供该报价的机构已不再可用，请重新获取报价。",
            ),
            Reason::ChannelTakesNoAcceptance => (
                "This offer cannot be accepted here; please apply with the institution directly.",
                "该报价无法在此接受，请直接向该机构申请。",
            ),
            Reason::AppealAlreadyResolved => (
                "The appeal has already been decided.",
                "该申诉已有处理结果。",
            ),
            Reason::AppealClaimedByOther => (
                "The appeal is being reviewed by another operator.",
                "该申诉正由其他审核员处理。",
            ),
            Reason::AppealNotClaimed => ("You do not hold this appeal.", "您未认领该申诉。"),
            Reason::FourEyesRequired => (
                "A second, different operator must approve this decision.",
                "该决定须由另一位审核员批准。",
            ),
            Reason::DecisionPendingApproval => (
                "A proposed decision is awaiting approval.",
                "已有待批准的处理决定。",
            ),
            Reason::NoPendingDecision => (
                "There is no proposed decision to approve or reject.",
                "没有待批准的处理决定。",
            ),
            Reason::NoPrimaryRefusal => (
                "This application has no refusal to appeal; please name the institution whose decision you contest.",
                "该申请中没有可申诉的拒绝决定，请指明您要申诉的机构。",
            ),
            Reason::Overloaded => (
                "The service is busy; please try again shortly.",
                "服务繁忙，请稍后重试。",
            ),
            Reason::RateLimited => (
                "Too many requests; please wait a moment and try again.",
                "请求过于频繁，请稍等片刻后重试。",
            ),
            Reason::ApiKeyMissing => ("No API key was sent.", "请求未携带 API 密钥。"),
            Reason::ApiKeyMalformed => (
                "The API key must be sent as \"Bearer <key>\".",
                "API 密钥格式不正确，应为“Bearer <密钥>”。",
            ),
            Reason::ApiKeyUnknown => ("The API key is not recognised.", "无法识别该 API 密钥。"),
            Reason::RoleRequired => (
                "This API key is not allowed to make this call.",
                "该 API 密钥无权执行此操作。",
            ),
            Reason::RequestBodyTimeout => (
                "The request took too long to arrive; please try again.",
                "请求数据传输超时，请重试。",
            ),
            Reason::MessageTooLarge => ("The message is too large.", "消息过大。"),
            Reason::StoreRejectedRecord => (
                "The request could not be saved as sent; sending it again will not help.",
                "该请求无法按原样保存，重复发送也不会成功。",
            ),
            Reason::StoreUnavailable => (
                "The service is temporarily unavailable; please try again shortly.",
                "服务暂时不可用，请稍后重试。",
            ),
            Reason::StoreFull => (
                "The service cannot save new data right now; please try again later.",
                "服务暂时无法保存新数据，请稍后再试。",
            ),
            Reason::Unimplemented => ("This operation is not available.", "暂不支持此操作。"),
            Reason::StoreError | Reason::Internal => {
                ("An internal error occurred.", "服务内部出错。")
            }
        };
        match locale {
            Locale::En => en,
            Locale::ZhCn => zh,
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The BCP 47 tag of `locale` as a `LocalizedMessage` carries it.
pub fn locale_tag(locale: Locale) -> &'static str {
    match locale {
        Locale::En => "en",
        Locale::ZhCn => "zh-CN",
    }
}

/// A resource a call names by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    Offer,
    /// ReportOutcome: no acceptance of the caller's tenant and channel
    /// (another tenant's or channel's is not told apart from none).
    Acceptance,
    /// AcceptOffer's offer exists but was routed for another applicant: the
    /// message says so (the caller's own tenant), and nothing about that
    /// applicant; the code and reason are an unknown offer's.
    OfferOfAnotherApplicant,
    Application,
    Appeal,
}

impl Resource {
    fn message(self) -> String {
        match self {
            Resource::OfferOfAnotherApplicant => "the offer exists but was routed for another \
                                                  applicant: applicant_id must be the one the \
                                                  application was routed for"
                .to_owned(),
            r => format!("{} not found", r.name()),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Resource::Offer | Resource::OfferOfAnotherApplicant => "offer",
            Resource::Application => "application",
            Resource::Appeal => "appeal",
            Resource::Acceptance => "acceptance",
        }
    }

    /// The request field that names it.
    fn field(self) -> &'static str {
        match self {
            Resource::Offer | Resource::OfferOfAnotherApplicant => "offer_id",
            Resource::Application => "application_id",
            Resource::Appeal => "appeal_id",
            Resource::Acceptance => "acceptance_id",
        }
    }

    fn reason(self) -> Reason {
        match self {
            Resource::Offer | Resource::OfferOfAnotherApplicant => Reason::OfferNotFound,
            Resource::Application => Reason::ApplicationNotFound,
            Resource::Appeal => Reason::AppealNotFound,
            Resource::Acceptance => Reason::AcceptanceNotFound,
        }
    }
}

/// A key reused for a different call (ALREADY_EXISTS).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reused {
    /// RouteFinancing/StreamOffers: `request_id` with a different body.
    RequestId,
    /// AcceptOffer: `idempotency_key` for another offer or applicant.
    AcceptanceKey,
    /// FileAppeal: `idempotency_key` for a different appeal.
    AppealKey,
    /// ReportOutcome: `outcome.event_id` for a different outcome.
    OutcomeEventId,
}

impl Reused {
    fn message(self) -> &'static str {
        match self {
            Reused::RequestId => "request_id was already used with a different request body",
            Reused::AcceptanceKey => {
                "idempotency_key was already used for another offer or applicant"
            }
            Reused::AppealKey => "idempotency_key was already used for a different appeal",
            Reused::OutcomeEventId => {
                "outcome.event_id was already reported for this acceptance with other content"
            }
        }
    }

    fn field(self) -> &'static str {
        match self {
            Reused::RequestId => "request_id",
            Reused::AcceptanceKey | Reused::AppealKey => "idempotency_key",
            Reused::OutcomeEventId => "outcome.event_id",
        }
    }

    fn reason(self) -> Reason {
        match self {
            Reused::RequestId => Reason::RequestIdReused,
            Reused::AcceptanceKey | Reused::AppealKey => Reason::IdempotencyKeyReused,
            Reused::OutcomeEventId => Reason::OutcomeEventIdReused,
        }
    }
}

impl fmt::Display for Reused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

/// A valid call the resource's state forbids (FAILED_PRECONDITION).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Precondition {
    OfferExpired,
    /// The applicant was routed again with other data: the later
    /// application's id (an id the caller already has, never personal data).
    OfferStale(String),
    OfferAlreadyAccepted,
    ChannelNotConfigured,
    ChannelTakesNoAcceptance,
    NoPrimaryRefusal,
    AppealAlreadyResolved,
    /// Another operator's live claim: their API key id (never personal
    /// data).
    AppealClaimedByOther(String),
    AppealNotClaimed,
    /// The role the caller already has on the appeal: `filer` or
    /// `proposer`.
    FourEyesRequired(&'static str),
    DecisionPendingApproval,
    NoPendingDecision,
    /// ReportOutcome on a PENDING or DECLINED acceptance: its status name.
    AcceptanceNotAccepted(&'static str),
}

impl Precondition {
    fn message(&self) -> std::borrow::Cow<'static, str> {
        match self {
            Precondition::AppealClaimedByOther(holder) => format!(
                "appeal_id: the appeal is claimed by operator key {holder:?}; wait for it to be released or to lapse"
            )
            .into(),
            Precondition::FourEyesRequired(role) => format!(
                "appeal_id: the filer, the proposer and the approver must be different keys; this key is the {role}"
            )
            .into(),
            Precondition::AcceptanceNotAccepted(status) => format!(
                "acceptance_id: the acceptance is {status}; outcomes are reported only for ACCEPTED acceptances"
            )
            .into(),
            Precondition::OfferStale(newer) => format!(
                "offer_id: the applicant's data changed since this offer was made (application {newer} was routed with other data); accept an offer of that application or route again"
            )
            .into(),
            other => other.static_message().into(),
        }
    }

    fn static_message(&self) -> &'static str {
        match self {
            Precondition::AppealClaimedByOther(_) => "appeal_id: claimed by another operator",
            Precondition::FourEyesRequired(_) => "appeal_id: a different operator must approve",
            Precondition::AppealNotClaimed => {
                "appeal_id: this key holds no live claim on the appeal"
            }
            Precondition::DecisionPendingApproval => {
                "appeal_id: a proposed decision awaits approval; approve or reject it first"
            }
            Precondition::NoPendingDecision => "appeal_id: no proposed decision awaits approval",
            Precondition::OfferExpired => {
                "offer_id: the offer has expired; route again for fresh offers"
            }
            Precondition::OfferStale(_) => {
                "offer_id: the applicant's data changed since this offer was made"
            }
            Precondition::OfferAlreadyAccepted => {
                "offer_id: the offer was already accepted under another idempotency_key"
            }
            Precondition::ChannelNotConfigured => {
                "offer_id: the channel that made this offer is no longer configured"
            }
            Precondition::ChannelTakesNoAcceptance => {
                "offer_id: this channel does not take acceptances through the router; apply with the institution directly"
            }
            Precondition::NoPrimaryRefusal => {
                "adapter_id: the application carries no refusal of the primary line; name the channel whose refusal is contested"
            }
            Precondition::AppealAlreadyResolved => "appeal_id: the appeal is already resolved",
            Precondition::AcceptanceNotAccepted(_) => {
                "acceptance_id: outcomes are reported only for ACCEPTED acceptances"
            }
        }
    }

    fn field(&self) -> &'static str {
        match self {
            Precondition::NoPrimaryRefusal => "adapter_id",
            Precondition::AcceptanceNotAccepted(_) => "acceptance_id",
            Precondition::AppealAlreadyResolved
            | Precondition::AppealClaimedByOther(_)
            | Precondition::AppealNotClaimed
            | Precondition::FourEyesRequired(_)
            | Precondition::DecisionPendingApproval
            | Precondition::NoPendingDecision => "appeal_id",
            _ => "offer_id",
        }
    }

    fn reason(&self) -> Reason {
        match self {
            Precondition::AppealClaimedByOther(_) => Reason::AppealClaimedByOther,
            Precondition::AppealNotClaimed => Reason::AppealNotClaimed,
            Precondition::FourEyesRequired(_) => Reason::FourEyesRequired,
            Precondition::DecisionPendingApproval => Reason::DecisionPendingApproval,
            Precondition::NoPendingDecision => Reason::NoPendingDecision,
            Precondition::OfferExpired => Reason::OfferExpired,
            Precondition::OfferStale(_) => Reason::OfferStale,
            Precondition::OfferAlreadyAccepted => Reason::OfferAlreadyAccepted,
            Precondition::ChannelNotConfigured => Reason::ChannelNotConfigured,
            Precondition::ChannelTakesNoAcceptance => Reason::ChannelTakesNoAcceptance,
            Precondition::NoPrimaryRefusal => Reason::NoPrimaryRefusal,
            Precondition::AppealAlreadyResolved => Reason::AppealAlreadyResolved,
            Precondition::AcceptanceNotAccepted(_) => Reason::AcceptanceNotAccepted,
        }
    }
}

impl fmt::Display for Precondition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

/// Why an RPC failed.
#[derive(Debug, thiserror::Error)]
pub enum RouterError {
    /// The request is malformed: each bad field named.
    #[error("invalid request: {}", summary(.0))]
    Invalid(Vec<Violation>),
    /// No such resource (for this tenant).
    #[error("{} not found", .0.name())]
    NotFound(Resource),
    /// A `request_id` or idempotency key reused for a different call.
    #[error("{0}")]
    AlreadyExists(Reused),
    /// The call is valid but the resource's state forbids it (expired
    /// offer, offer accepted under another key, appeal already resolved).
    #[error("{0}")]
    FailedPrecondition(Precondition),
    /// The router is at its limit: retry later, with backoff.
    #[error("{0}")]
    Overloaded(String),
    /// The method belongs to a later milestone.
    #[error("{0}")]
    Unimplemented(&'static str),
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] finroute_store::StoreError),
    /// Anything else that is our fault.
    #[error("internal: {0}")]
    Internal(String),
}

impl RouterError {
    /// The ErrorInfo reason this error is sent with.
    pub fn reason(&self) -> Reason {
        match self {
            RouterError::Invalid(_) => Reason::InvalidField,
            RouterError::NotFound(r) => r.reason(),
            RouterError::AlreadyExists(r) => r.reason(),
            RouterError::FailedPrecondition(p) => p.reason(),
            RouterError::Overloaded(_) => Reason::Overloaded,
            RouterError::Unimplemented(_) => Reason::Unimplemented,
            RouterError::Store(e) => store_reason(e),
            RouterError::Internal(_) => Reason::Internal,
        }
    }
}

fn summary(v: &[Violation]) -> String {
    v.iter()
        .map(|v| format!("{}: {}", v.field, v.description))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The ErrorInfo detail of `reason`, its metadata naming fields and
/// limits only (`metadata` pairs: key, value).
pub fn error_info(reason: Reason, metadata: &[(&str, &str)]) -> ErrorDetails {
    let metadata: HashMap<String, String> = metadata
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    ErrorDetails::with_error_info(reason.as_str(), ERROR_DOMAIN, metadata)
}

/// A status with `code`, `message` and an ErrorInfo of `reason`.
pub fn error_status(
    code: Code,
    message: impl Into<String>,
    reason: Reason,
    metadata: &[(&str, &str)],
) -> Status {
    Status::with_error_details(code, message, error_info(reason, metadata))
}

impl From<RouterError> for Status {
    fn from(e: RouterError) -> Status {
        match e {
            RouterError::Invalid(v) => {
                let message = format!("invalid request: {}", summary(&v));
                let first = v.first().map(|v| v.field.clone()).unwrap_or_default();
                let violations: Vec<FieldViolation> = v
                    .into_iter()
                    .map(|v| FieldViolation::new(v.field, v.description))
                    .collect();
                let mut details = error_info(Reason::InvalidField, &[("field", &first)]);
                details.set_bad_request(violations);
                Status::with_error_details(Code::InvalidArgument, message, details)
            }
            RouterError::NotFound(r) => error_status(
                Code::NotFound,
                r.message(),
                r.reason(),
                &[("field", r.field())],
            ),
            RouterError::AlreadyExists(r) => error_status(
                Code::AlreadyExists,
                r.message(),
                r.reason(),
                &[("field", r.field())],
            ),
            RouterError::FailedPrecondition(p) => error_status(
                Code::FailedPrecondition,
                p.message().into_owned(),
                p.reason(),
                &[("field", p.field())],
            ),
            RouterError::Overloaded(m) => {
                error_status(Code::ResourceExhausted, m, Reason::Overloaded, &[])
            }
            RouterError::Unimplemented(m) => {
                error_status(Code::Unimplemented, m, Reason::Unimplemented, &[])
            }
            RouterError::Store(e) => store_status(&e),
            RouterError::Internal(m) => {
                tracing::error!(error = %m, "internal error");
                error_status(Code::Internal, "internal error", Reason::Internal, &[])
            }
        }
    }
}

/// The request field a store record field comes from, for the fields a
/// caller sends (the others come from partners or the router itself).
fn caller_field(store_field: &str) -> Option<&'static str> {
    Some(match store_field {
        "request_id" => "request_id",
        "applicant_id" => "applicant.applicant_id",
        "idempotency_key" => "idempotency_key",
        "application_id" => "application_id",
        "adapter_id" => "adapter_id",
        "details" => "details",
        "note" => "note",
        _ => return None,
    })
}

/// The reason of a store failure, by its kind.
fn store_reason(e: &StoreError) -> Reason {
    match e.kind() {
        StoreErrorKind::Rejected => Reason::StoreRejectedRecord,
        StoreErrorKind::Unavailable => Reason::StoreUnavailable,
        StoreErrorKind::Full => Reason::StoreFull,
        _ => Reason::StoreError,
    }
}

/// The status of a store failure; see the module documentation.
pub fn store_status(e: &StoreError) -> Status {
    let kind = e.kind();
    let reason = store_reason(e);
    match (kind, e) {
        (StoreErrorKind::Rejected, StoreError::Rejected { field, reason: why }) => {
            tracing::warn!(field = field.unwrap_or(""), reason = %why, "store rejected a record");
            match field.and_then(caller_field) {
                Some(api_field) => {
                    let mut details = error_info(reason, &[("field", api_field)]);
                    details.add_bad_request_violation(api_field, *why);
                    Status::with_error_details(
                        Code::InvalidArgument,
                        format!("invalid request: {api_field}: {why}"),
                        details,
                    )
                }
                None => {
                    let field: &[(&str, &str)] = match field {
                        Some(f) => &[("field", f)],
                        None => &[],
                    };
                    error_status(
                        Code::Internal,
                        "the router could not store this request's record; the same request \
                         will fail again",
                        reason,
                        field,
                    )
                }
            }
        }
        (StoreErrorKind::Rejected, _) => {
            tracing::warn!(error = %e, "store rejected a record");
            error_status(
                Code::Internal,
                "the router could not store this request's record; the same request will fail \
                 again",
                reason,
                &[],
            )
        }
        (StoreErrorKind::Unavailable, _) => {
            tracing::warn!(error = %e, "store unavailable");
            error_status(
                Code::Unavailable,
                "the router's store is unavailable; retry with backoff",
                reason,
                &[],
            )
        }
        (StoreErrorKind::Full, _) => {
            tracing::error!(error = %e, "store out of disk space");
            error_status(
                Code::ResourceExhausted,
                "the router's store is out of disk space; retry after an operator frees space",
                reason,
                &[],
            )
        }
        _ => {
            tracing::error!(error = %e, kind = kind.name(), "store failure");
            error_status(Code::Internal, "internal error (store)", reason, &[])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_carries_bad_request_details() {
        let s: Status = RouterError::Invalid(vec![Violation {
            field: "requested_amount".into(),
            description: "must be positive".into(),
        }])
        .into();
        assert_eq!(s.code(), Code::InvalidArgument);
        let details = s.get_error_details();
        let br = details.bad_request().expect("bad request detail");
        assert_eq!(br.field_violations[0].field, "requested_amount");
    }

    fn reason_of(s: &Status) -> Reason {
        let info = s
            .get_error_details()
            .error_info()
            .cloned()
            .expect("ErrorInfo");
        assert_eq!(info.domain, ERROR_DOMAIN);
        Reason::parse(&info.reason).expect("one of ours")
    }

    #[test]
    fn store_errors_map_by_kind() {
        let s: Status = RouterError::Store(StoreError::Rejected {
            field: Some("applicant_id"),
            reason: "contains a NUL character, which the database cannot store",
        })
        .into();
        assert_eq!(s.code(), Code::InvalidArgument);
        assert_eq!(reason_of(&s), Reason::StoreRejectedRecord);
        let br = s
            .get_error_details()
            .bad_request()
            .cloned()
            .expect("BadRequest");
        assert_eq!(br.field_violations[0].field, "applicant.applicant_id");

        let s: Status = RouterError::Store(StoreError::Rejected {
            field: Some("offers.partner_offer_ref"),
            reason: "x",
        })
        .into();
        assert_eq!(s.code(), Code::Internal);
        assert_eq!(reason_of(&s), Reason::StoreRejectedRecord);

        let s: Status = RouterError::Store(StoreError::Closed).into();
        assert_eq!(s.code(), Code::Unavailable);
        assert_eq!(reason_of(&s), Reason::StoreUnavailable);

        let s: Status = RouterError::Store(StoreError::NotFound).into();
        assert_eq!(s.code(), Code::Internal);
        assert_eq!(reason_of(&s), Reason::StoreError);
    }

    #[test]
    fn reasons_are_one_documented_list() {
        let api = include_str!("../../../docs/api.md");
        let mut seen = std::collections::HashSet::new();
        for r in Reason::ALL {
            let name = r.as_str();
            assert!(seen.insert(name), "{name} twice");
            assert!(
                name.len() <= 63
                    && name.starts_with(|c: char| c.is_ascii_uppercase())
                    && name
                        .chars()
                        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'),
                "{name} is not UPPER_SNAKE"
            );
            assert_eq!(Reason::parse(name), Some(r));
            assert!(
                api.contains(&format!("| `{name}` |")),
                "{name} missing from docs/api.md"
            );
            assert!(!r.text(Locale::En).is_empty());
            assert!(
                r.text(Locale::ZhCn)
                    .chars()
                    .any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
                "{name}: the zh-CN text is Chinese"
            );
        }
        assert_eq!(Reason::parse("NOT_A_REASON"), None);
    }

    #[test]
    fn every_router_error_carries_its_reason() {
        let cases: Vec<(RouterError, Code, Reason, &str)> = vec![
            (
                RouterError::NotFound(Resource::Offer),
                Code::NotFound,
                Reason::OfferNotFound,
                "offer not found",
            ),
            (
                RouterError::NotFound(Resource::OfferOfAnotherApplicant),
                Code::NotFound,
                Reason::OfferNotFound,
                "the offer exists but was routed for another applicant: applicant_id must be the \
                 one the application was routed for",
            ),
            (
                RouterError::NotFound(Resource::Application),
                Code::NotFound,
                Reason::ApplicationNotFound,
                "application not found",
            ),
            (
                RouterError::NotFound(Resource::Appeal),
                Code::NotFound,
                Reason::AppealNotFound,
                "appeal not found",
            ),
            (
                RouterError::AlreadyExists(Reused::RequestId),
                Code::AlreadyExists,
                Reason::RequestIdReused,
                "request_id was already used with a different request body",
            ),
            (
                RouterError::AlreadyExists(Reused::AppealKey),
                Code::AlreadyExists,
                Reason::IdempotencyKeyReused,
                "idempotency_key was already used for a different appeal",
            ),
            (
                RouterError::FailedPrecondition(Precondition::OfferExpired),
                Code::FailedPrecondition,
                Reason::OfferExpired,
                "offer_id: the offer has expired; route again for fresh offers",
            ),
            (
                RouterError::FailedPrecondition(Precondition::AppealAlreadyResolved),
                Code::FailedPrecondition,
                Reason::AppealAlreadyResolved,
                "appeal_id: the appeal is already resolved",
            ),
            (
                RouterError::Overloaded("busy".into()),
                Code::ResourceExhausted,
                Reason::Overloaded,
                "busy",
            ),
            (
                RouterError::Unimplemented("later"),
                Code::Unimplemented,
                Reason::Unimplemented,
                "later",
            ),
            (
                RouterError::Internal("secret cause".into()),
                Code::Internal,
                Reason::Internal,
                "internal error",
            ),
        ];
        for (e, code, reason, message) in cases {
            assert_eq!(e.reason(), reason);
            let s: Status = e.into();
            assert_eq!((s.code(), s.message()), (code, message));
            assert_eq!(reason_of(&s), reason);
        }
    }
}
