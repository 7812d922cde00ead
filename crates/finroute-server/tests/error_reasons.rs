//! Errors machines can read (AIP-193), over gRPC against a real router on
//! 127.0.0.1:0: every error path of every FinancingRouter and
//! ReviewService RPC, and of the interceptors in front of them, carries a
//! `google.rpc.ErrorInfo` with the domain `finroute.v1` and the reason of
//! that path (`finroute_server::error::Reason`), and a
//! `google.rpc.LocalizedMessage` in the caller's locale when it sent one
//! (the request's `locale` field, or `accept-language`): checked in zh-CN
//! for at least one path of each RPC. Codes and messages are those the
//! other tests assert; store failures' reasons are checked by the store
//! tests (store_reject, store_outage, store_full_disk).

#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::time::Duration;

use finroute_core::Locale;
use finroute_proto::v1 as pb;
use finroute_server::Config;
use finroute_server::config::ApiKeyConfig;
use finroute_server::error::Reason;
use finroute_testkit::{
    Behaviour, FakePartner, TestRouter, cny, config_with, partner_offer, refused_borrower,
    with_timeout,
};
use pb::financing_router_client::FinancingRouterClient;
use pb::review_service_client::ReviewServiceClient;
use sha2::{Digest, Sha256};
use tonic::transport::Channel;
use tonic::{Code, Status};
use tonic_types::StatusExt;

/// Asserts the code, the domain and the reason; returns the metadata.
#[track_caller]
fn check(s: &Status, code: Code, reason: Reason) -> HashMap<String, String> {
    assert_eq!(s.code(), code, "{s:?}");
    let info = s
        .get_error_details()
        .error_info()
        .cloned()
        .unwrap_or_else(|| panic!("no ErrorInfo: {s:?}"));
    assert_eq!(info.domain, "finroute.v1", "{s:?}");
    assert_eq!(info.reason, reason.as_str(), "{s:?}");
    info.metadata
}

/// As [`check`], and the `field` metadata names `field`.
#[track_caller]
fn check_field(s: &Status, code: Code, reason: Reason, field: &str) {
    let metadata = check(s, code, reason);
    assert_eq!(
        metadata.get("field").map(String::as_str),
        Some(field),
        "{s:?}"
    );
}

/// The LocalizedMessage is the reason's text in `locale`.
#[track_caller]
fn localized(s: &Status, locale: Locale) {
    let info = s.get_error_details().error_info().cloned().unwrap();
    let reason = Reason::parse(&info.reason).unwrap();
    let m = s
        .get_error_details()
        .localized_message()
        .cloned()
        .unwrap_or_else(|| panic!("no LocalizedMessage: {s:?}"));
    let tag = match locale {
        Locale::En => "en",
        Locale::ZhCn => "zh-CN",
    };
    assert_eq!(m.locale, tag, "{s:?}");
    assert_eq!(m.message, reason.text(locale), "{s:?}");
}

#[track_caller]
fn zh(s: &Status) {
    localized(s, Locale::ZhCn);
}

#[track_caller]
fn not_localized(s: &Status) {
    assert!(
        s.get_error_details().localized_message().is_none(),
        "no locale sent, no LocalizedMessage: {s:?}"
    );
}

/// `msg` with `accept-language: <lang>`.
fn lang<T>(msg: T, lang: &str) -> tonic::Request<T> {
    let mut r = tonic::Request::new(msg);
    r.metadata_mut()
        .insert("accept-language", lang.parse().unwrap());
    r
}

fn in_zh(mut r: pb::RouteFinancingRequest) -> pb::RouteFinancingRequest {
    r.locale = "zh-CN".into();
    r
}

async fn partner() -> FakePartner {
    FakePartner::start(
        Behaviour::Offers(vec![
            partner_offer("P-1", 1_000_000, 1100, 0.7),
            partner_offer("P-2", 800_000, 1250, 0.8),
        ]),
        vec![],
    )
    .await
}

fn config(p: &FakePartner) -> Config {
    let mut c = config_with(vec![p.spec("bank-a", 500)]);
    c.acceptance.partner_timeout_ms = 1_000;
    c.acceptance.poll_interval_ms = 50;
    c
}

/// Routes the README's borrower (or `req`): the response.
async fn route(
    client: &mut FinancingRouterClient<Channel>,
    req: pb::RouteFinancingRequest,
) -> pb::RouteFinancingResponse {
    client.route_financing(req).await.unwrap().into_inner()
}

fn offer_of(r: &pb::RouteFinancingResponse, reference: &str) -> pb::Offer {
    r.offers
        .iter()
        .find(|o| o.partner_offer_ref == reference)
        .unwrap_or_else(|| panic!("no offer {reference}: {:?}", r.channel_reports))
        .clone()
}

fn accept_req(offer: &pb::Offer, key: &str) -> pb::AcceptOfferRequest {
    pb::AcceptOfferRequest {
        offer_id: offer.offer_id.clone(),
        idempotency_key: key.into(),
        applicant_id: "app-7f3a9c".into(),
    }
}

async fn stream_err(
    client: &mut FinancingRouterClient<Channel>,
    req: impl tonic::IntoRequest<pb::RouteFinancingRequest>,
) -> Status {
    match client.stream_offers(req).await {
        Err(s) => s,
        Ok(stream) => {
            let mut stream = stream.into_inner();
            loop {
                match stream.message().await {
                    Err(s) => return s,
                    Ok(Some(_)) => {}
                    Ok(None) => panic!("the stream ended without an error"),
                }
            }
        }
    }
}

#[tokio::test]
async fn route_financing_and_stream_offers() {
    let p = partner().await;
    let router = TestRouter::start(config(&p)).await;
    let mut client = router.client().await;

    // INVALID_FIELD, the field named; zh-CN from the request's locale.
    // The test kit's borrower says `locale: "en"`; these say nothing.
    let mut bad = refused_borrower();
    bad.locale = String::new();
    bad.requested_amount = Some(cny(-5));
    let s = client
        .route_financing(in_zh(bad.clone()))
        .await
        .unwrap_err();
    check_field(
        &s,
        Code::InvalidArgument,
        Reason::InvalidField,
        "requested_amount.amount_minor",
    );
    zh(&s);
    // No locale sent: no LocalizedMessage.
    let s = client.route_financing(bad.clone()).await.unwrap_err();
    check(&s, Code::InvalidArgument, Reason::InvalidField);
    not_localized(&s);
    // accept-language when the message has no locale; the field wins.
    let s = client
        .route_financing(lang(bad.clone(), "zh-CN,zh;q=0.9"))
        .await
        .unwrap_err();
    zh(&s);
    let mut en = bad.clone();
    en.locale = "en".into();
    let s = client.route_financing(lang(en, "zh-CN")).await.unwrap_err();
    localized(&s, Locale::En);
    // An unsupported locale falls back to en: errors are told in en, and
    // a valid request is answered in en, saying so.
    let mut fr = bad.clone();
    fr.locale = "fr".into();
    let s = client.route_financing(fr).await.unwrap_err();
    localized(&s, Locale::En);
    let mut tw = bad.clone();
    tw.locale = "zh-TW".into();
    let s = client.route_financing(tw).await.unwrap_err();
    localized(&s, Locale::En);
    let mut xx = refused_borrower();
    xx.locale = "xx-YY".into();
    let answer = route(&mut client, xx).await;
    assert_eq!(answer.locale, "en");

    // REQUEST_ID_REUSED.
    let mut first = refused_borrower();
    first.locale = String::new();
    first.request_id = "req-errors-1".into();
    route(&mut client, first.clone()).await;
    let mut other = first.clone();
    other.requested_amount = Some(cny(2_000_000));
    let s = client
        .route_financing(in_zh(other.clone()))
        .await
        .unwrap_err();
    check_field(
        &s,
        Code::AlreadyExists,
        Reason::RequestIdReused,
        "request_id",
    );
    zh(&s);

    // StreamOffers: the same paths.
    let s = stream_err(&mut client, in_zh(bad.clone())).await;
    check_field(
        &s,
        Code::InvalidArgument,
        Reason::InvalidField,
        "requested_amount.amount_minor",
    );
    zh(&s);
    let s = stream_err(&mut client, lang(other.clone(), "zh-Hans-CN")).await;
    check_field(
        &s,
        Code::AlreadyExists,
        Reason::RequestIdReused,
        "request_id",
    );
    zh(&s);
    let s = stream_err(&mut client, other).await;
    check(&s, Code::AlreadyExists, Reason::RequestIdReused);
    not_localized(&s);
}

#[tokio::test]
async fn routing_calls_over_the_limit_are_overloaded() {
    let hung = FakePartner::start(Behaviour::Hung, vec![]).await;
    let mut config = config_with(vec![hung.spec("hung", 5_000)]);
    config.server.max_in_flight_routes = 1;
    let router = TestRouter::start(config).await;
    let client = router.client().await;
    let mut busy = client.clone();
    let holder = tokio::spawn(async move {
        busy.route_financing(with_timeout(refused_borrower(), 1_500))
            .await
    });
    let mut client = client.clone();
    // Let the first call take the one permit.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut shed = None;
    for _ in 0..100 {
        match client.route_financing(in_zh(refused_borrower())).await {
            Err(s) => {
                shed = Some(s);
                break;
            }
            Ok(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
    let s = shed.expect("a call shed while the other holds the one permit");
    check(&s, Code::ResourceExhausted, Reason::Overloaded);
    zh(&s);
    let s = stream_err(&mut client, in_zh(refused_borrower())).await;
    check(&s, Code::ResourceExhausted, Reason::Overloaded);
    zh(&s);
    holder.await.unwrap().unwrap();
}

#[tokio::test]
async fn accept_offer() {
    let p = partner().await;
    let router = TestRouter::start(config(&p)).await;
    let mut client = router.client().await;
    let routed = route(&mut client, refused_borrower()).await;
    let (offer, other) = (offer_of(&routed, "P-1"), offer_of(&routed, "P-2"));

    let s = client
        .accept_offer(lang(pb::AcceptOfferRequest::default(), "zh-CN"))
        .await
        .unwrap_err();
    check_field(&s, Code::InvalidArgument, Reason::InvalidField, "offer_id");
    zh(&s);

    let mut unknown = accept_req(&offer, "key-x");
    unknown.offer_id = "off_nope".into();
    let s = client
        .accept_offer(lang(unknown, "zh-CN"))
        .await
        .unwrap_err();
    check_field(&s, Code::NotFound, Reason::OfferNotFound, "offer_id");
    zh(&s);
    let mut stranger = accept_req(&other, "key-y");
    stranger.applicant_id = "someone-else".into();
    let s = client.accept_offer(stranger).await.unwrap_err();
    check_field(&s, Code::NotFound, Reason::OfferNotFound, "offer_id");
    not_localized(&s);

    client
        .accept_offer(accept_req(&offer, "key-a"))
        .await
        .unwrap();
    let s = client
        .accept_offer(lang(accept_req(&other, "key-a"), "zh"))
        .await
        .unwrap_err();
    check_field(
        &s,
        Code::AlreadyExists,
        Reason::IdempotencyKeyReused,
        "idempotency_key",
    );
    zh(&s);
    let s = client
        .accept_offer(lang(accept_req(&offer, "key-b"), "fr-FR"))
        .await
        .unwrap_err();
    check_field(
        &s,
        Code::FailedPrecondition,
        Reason::OfferAlreadyAccepted,
        "offer_id",
    );
    // An unsupported accept-language falls back to en.
    localized(&s, Locale::En);
}

#[tokio::test]
async fn accept_offer_on_an_expired_offer() {
    let mut short = partner_offer("P-1", 1_000_000, 1100, 0.7);
    short.valid_for = Some(prost_types::Duration {
        seconds: 0,
        nanos: 300_000_000,
    });
    let p = FakePartner::start(Behaviour::Offers(vec![short]), vec![]).await;
    let router = TestRouter::start(config(&p)).await;
    let mut client = router.client().await;
    let offer = offer_of(&route(&mut client, refused_borrower()).await, "P-1");
    tokio::time::sleep(Duration::from_millis(400)).await;
    let s = client
        .accept_offer(lang(accept_req(&offer, "late"), "zh-CN"))
        .await
        .unwrap_err();
    check_field(
        &s,
        Code::FailedPrecondition,
        Reason::OfferExpired,
        "offer_id",
    );
    zh(&s);
}

/// A partner that describes itself as taking no acceptances.
#[derive(Clone)]
struct NoAccept;

#[tonic::async_trait]
impl pb::financing_adapter_server::FinancingAdapter for NoAccept {
    async fn describe(
        &self,
        _: tonic::Request<pb::DescribeRequest>,
    ) -> Result<tonic::Response<pb::AdapterDescription>, Status> {
        Ok(tonic::Response::new(pb::AdapterDescription {
            adapter_id: "no-accept".into(),
            display_name: "Apply directly".into(),
            product_kinds: vec![pb::ProductKind::PartnerLoan as i32],
            currencies: vec!["CNY".into()],
            min_amount: Some(cny(10_000)),
            max_amount: Some(cny(100_000_000)),
            min_term_months: 1,
            max_term_months: 60,
            required_fields: vec![],
            supports_accept: false,
            parties: vec![finroute_testkit::fake_lender()],
            advertised_apr_from_bps: 0,
        }))
    }

    async fn quote(
        &self,
        _: tonic::Request<pb::QuoteRequest>,
    ) -> Result<tonic::Response<pb::QuoteResponse>, Status> {
        Ok(tonic::Response::new(pb::QuoteResponse {
            offers: vec![partner_offer("D-1", 1_000_000, 1100, 0.7)],
            ..Default::default()
        }))
    }

    async fn accept(
        &self,
        _: tonic::Request<pb::AcceptRequest>,
    ) -> Result<tonic::Response<pb::AcceptResponse>, Status> {
        Err(Status::unimplemented("apply directly"))
    }
}

#[tokio::test]
async fn accept_offer_on_a_channel_gone_or_taking_no_acceptances() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (_, health) = tonic_health::server::health_reporter();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(health)
            .add_service(pb::financing_adapter_server::FinancingAdapterServer::new(
                NoAccept,
            ))
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
    );
    let p = partner().await;
    let dir = tempfile::tempdir().unwrap();
    let mut first = config_with(vec![
        p.spec("bank-a", 500),
        finroute_testkit::remote_spec("no-accept", &format!("http://{addr}"), 500),
    ]);
    first.store.url = format!("sqlite://{}", dir.path().join("shared.db").display());
    let router = TestRouter::start(first.clone()).await;
    let mut client = router.client().await;
    let routed = route(&mut client, refused_borrower()).await;
    let direct = offer_of(&routed, "D-1");
    let gone = offer_of(&routed, "P-1");
    let s = client
        .accept_offer(lang(accept_req(&direct, "k-1"), "zh-CN"))
        .await
        .unwrap_err();
    check_field(
        &s,
        Code::FailedPrecondition,
        Reason::ChannelTakesNoAcceptance,
        "offer_id",
    );
    zh(&s);
    router.stop().await.unwrap();

    // The same store, bank-a no longer configured.
    let mut second = first;
    second.adapters.retain(|a| a.id != "bank-a");
    let router = TestRouter::start(second).await;
    let mut client = router.client().await;
    let s = client
        .accept_offer(lang(accept_req(&gone, "k-2"), "zh-CN"))
        .await
        .unwrap_err();
    check_field(
        &s,
        Code::FailedPrecondition,
        Reason::ChannelNotConfigured,
        "offer_id",
    );
    zh(&s);
}

#[tokio::test]
async fn applications_appeals_and_review() {
    let p = partner().await;
    let router = TestRouter::start(config(&p)).await;
    let mut client = router.client().await;
    let mut review = ReviewServiceClient::new(router.channel().await);
    let refused = route(&mut client, refused_borrower()).await;
    let mut unrefused = refused_borrower();
    unrefused.primary_decision = None;
    let plain = route(&mut client, unrefused).await;

    // GetApplication.
    let s = client
        .get_application(lang(pb::GetApplicationRequest::default(), "zh-CN"))
        .await
        .unwrap_err();
    check_field(
        &s,
        Code::InvalidArgument,
        Reason::InvalidField,
        "application_id",
    );
    zh(&s);
    let s = client
        .get_application(lang(
            pb::GetApplicationRequest {
                application_id: "app_nope".into(),
                ..Default::default()
            },
            "zh-CN",
        ))
        .await
        .unwrap_err();
    check_field(
        &s,
        Code::NotFound,
        Reason::ApplicationNotFound,
        "application_id",
    );
    zh(&s);

    // FileAppeal.
    let appeal =
        |application_id: &str, adapter_id: &str, key: &str, details: &str| pb::FileAppealRequest {
            application_id: application_id.into(),
            adapter_id: adapter_id.into(),
            reason: pb::AppealReason::IncomeChanged as i32,
            details: details.into(),
            idempotency_key: key.into(),
        };
    let s = client
        .file_appeal(lang(pb::FileAppealRequest::default(), "zh-CN"))
        .await
        .unwrap_err();
    check_field(
        &s,
        Code::InvalidArgument,
        Reason::InvalidField,
        "application_id",
    );
    zh(&s);
    let s = client
        .file_appeal(appeal(&refused.application_id, "bank-zzz", "", "x"))
        .await
        .unwrap_err();
    check_field(
        &s,
        Code::InvalidArgument,
        Reason::InvalidField,
        "adapter_id",
    );
    let s = client
        .file_appeal(lang(appeal("app_nope", "", "", "x"), "zh-CN"))
        .await
        .unwrap_err();
    check_field(
        &s,
        Code::NotFound,
        Reason::ApplicationNotFound,
        "application_id",
    );
    zh(&s);
    let s = client
        .file_appeal(lang(appeal(&plain.application_id, "", "", "x"), "zh-CN"))
        .await
        .unwrap_err();
    check_field(
        &s,
        Code::FailedPrecondition,
        Reason::NoPrimaryRefusal,
        "adapter_id",
    );
    zh(&s);
    let filed = client
        .file_appeal(appeal(&refused.application_id, "", "ap-1", "new payslips"))
        .await
        .unwrap()
        .into_inner();
    let s = client
        .file_appeal(lang(
            appeal(&refused.application_id, "", "ap-1", "other words"),
            "zh-CN",
        ))
        .await
        .unwrap_err();
    check_field(
        &s,
        Code::AlreadyExists,
        Reason::IdempotencyKeyReused,
        "idempotency_key",
    );
    zh(&s);

    // GetAppeal.
    let s = client
        .get_appeal(lang(pb::GetAppealRequest::default(), "zh-CN"))
        .await
        .unwrap_err();
    check_field(&s, Code::InvalidArgument, Reason::InvalidField, "appeal_id");
    zh(&s);
    let s = client
        .get_appeal(lang(
            pb::GetAppealRequest {
                appeal_id: "apl_nope".into(),
            },
            "zh-CN",
        ))
        .await
        .unwrap_err();
    check_field(&s, Code::NotFound, Reason::AppealNotFound, "appeal_id");
    zh(&s);

    // GetKeyFacts: the request's locale field, else accept-language.
    let s = client
        .get_key_facts(lang(pb::GetKeyFactsRequest::default(), "zh-CN"))
        .await
        .unwrap_err();
    check_field(&s, Code::InvalidArgument, Reason::InvalidField, "offer_id");
    zh(&s);
    let s = client
        .get_key_facts(pb::GetKeyFactsRequest {
            offer_id: "off_nope".into(),
            locale: "zh-CN".into(),
        })
        .await
        .unwrap_err();
    check_field(&s, Code::NotFound, Reason::OfferNotFound, "offer_id");
    zh(&s);

    // ListAppeals.
    let list = |status: i32, page_size: i32, page_token: &str| pb::ListAppealsRequest {
        status,
        page_size,
        page_token: page_token.into(),
        ..Default::default()
    };
    let s = review
        .list_appeals(lang(list(99, 0, ""), "zh-CN"))
        .await
        .unwrap_err();
    check_field(&s, Code::InvalidArgument, Reason::InvalidField, "status");
    zh(&s);
    let s = review.list_appeals(list(0, -1, "")).await.unwrap_err();
    check_field(&s, Code::InvalidArgument, Reason::InvalidField, "page_size");
    not_localized(&s);
    let s = review
        .list_appeals(list(0, 0, "not-a-token"))
        .await
        .unwrap_err();
    check_field(
        &s,
        Code::InvalidArgument,
        Reason::InvalidField,
        "page_token",
    );

    // ResolveAppeal.
    let resolve = |appeal_id: &str, note: &str| pb::ResolveAppealRequest {
        appeal_id: appeal_id.into(),
        decision: pb::AppealDecision::Upheld as i32,
        note: note.into(),
        reason_code: pb::DecisionReason::Other as i32,
    };
    let s = review
        .resolve_appeal(lang(pb::ResolveAppealRequest::default(), "zh-CN"))
        .await
        .unwrap_err();
    check_field(&s, Code::InvalidArgument, Reason::InvalidField, "appeal_id");
    zh(&s);
    let s = review
        .resolve_appeal(lang(resolve("apl_nope", "n"), "zh-CN"))
        .await
        .unwrap_err();
    check_field(&s, Code::NotFound, Reason::AppealNotFound, "appeal_id");
    zh(&s);
    review
        .resolve_appeal(resolve(&filed.appeal_id, "checked"))
        .await
        .unwrap();
    let s = review
        .resolve_appeal(lang(resolve(&filed.appeal_id, "again"), "zh-CN"))
        .await
        .unwrap_err();
    check_field(
        &s,
        Code::FailedPrecondition,
        Reason::AppealAlreadyResolved,
        "appeal_id",
    );
    zh(&s);
}

/// ListAppeals page tokens are useless to another tenant and another
/// filter, and readable by no one.
#[tokio::test]
async fn page_tokens_are_bound_to_tenant_and_filter() {
    const OPS_A: &str = "ops-a-secret";
    const OPS_B: &str = "ops-b-secret";
    const APP_A: &str = "app-a-secret";
    let p = partner().await;
    let mut config = config(&p);
    config.auth.keys = vec![
        key("ops-a", OPS_A, "tenant-a", &["operator"]),
        key("ops-b", OPS_B, "tenant-b", &["operator"]),
        key("app-a", APP_A, "tenant-a", &["router"]),
    ];
    let router = TestRouter::start(config).await;
    let mut client = router.client().await;
    let mut review = ReviewServiceClient::new(router.channel().await);
    let routed = client
        .route_financing(with_key(refused_borrower(), APP_A))
        .await
        .unwrap()
        .into_inner();
    for i in 0..3 {
        client
            .file_appeal(with_key(
                pb::FileAppealRequest {
                    application_id: routed.application_id.clone(),
                    reason: pb::AppealReason::DataError as i32,
                    details: format!("appeal {i}"),
                    ..Default::default()
                },
                APP_A,
            ))
            .await
            .unwrap();
    }
    let list = |status: i32, token: &str| pb::ListAppealsRequest {
        status,
        page_size: 1,
        page_token: token.into(),
        ..Default::default()
    };
    let page = review
        .list_appeals(with_key(list(0, ""), OPS_A))
        .await
        .unwrap()
        .into_inner();
    let token = page.next_page_token;
    assert!(!token.is_empty());
    assert!(
        !token.contains(&page.appeals[0].appeal_id),
        "the token does not show the cursor"
    );
    // Its tenant and filter: the next page.
    let next = review
        .list_appeals(with_key(list(0, &token), OPS_A))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(next.appeals.len(), 1);
    assert_ne!(next.appeals[0].appeal_id, page.appeals[0].appeal_id);
    // Another tenant, another filter: refused.
    for (req, secret) in [(list(0, &token), OPS_B), (list(1, &token), OPS_A)] {
        let s = review
            .list_appeals(with_key(req, secret))
            .await
            .unwrap_err();
        check_field(
            &s,
            Code::InvalidArgument,
            Reason::InvalidField,
            "page_token",
        );
    }
}

fn key(id: &str, secret: &str, tenant: &str, roles: &[&str]) -> ApiKeyConfig {
    ApiKeyConfig {
        id: id.into(),
        sha256: hex::encode(Sha256::digest(secret.as_bytes())),
        tenant: tenant.into(),
        roles: roles.iter().map(|r| r.to_string()).collect(),
        rate_per_second: None,
        burst: None,
        adapter_id: None,
    }
}

fn with_key<T>(msg: T, secret: &str) -> tonic::Request<T> {
    let mut r = tonic::Request::new(msg);
    r.metadata_mut()
        .insert("authorization", format!("Bearer {secret}").parse().unwrap());
    r
}

/// `msg` with `accept-language: zh-CN` and `authorization: <auth>` (none
/// if `None`).
fn zh_call<T>(msg: T, auth: Option<&str>) -> tonic::Request<T> {
    let mut r = lang(msg, "zh-CN");
    if let Some(a) = auth {
        r.metadata_mut().insert("authorization", a.parse().unwrap());
    }
    r
}

/// Calls every RPC of both services with [`zh_call`]: their outcomes.
async fn call_all(
    router: &TestRouter,
    auth: Option<&str>,
) -> Vec<(&'static str, Result<(), Status>)> {
    let mut client = router.client().await;
    let mut review = ReviewServiceClient::new(router.channel().await);
    vec![
        (
            "RouteFinancing",
            client
                .route_financing(zh_call(refused_borrower(), auth))
                .await
                .map(drop),
        ),
        (
            "StreamOffers",
            client
                .stream_offers(zh_call(refused_borrower(), auth))
                .await
                .map(drop),
        ),
        (
            "AcceptOffer",
            client
                .accept_offer(zh_call(pb::AcceptOfferRequest::default(), auth))
                .await
                .map(drop),
        ),
        (
            "GetApplication",
            client
                .get_application(zh_call(pb::GetApplicationRequest::default(), auth))
                .await
                .map(drop),
        ),
        (
            "FileAppeal",
            client
                .file_appeal(zh_call(pb::FileAppealRequest::default(), auth))
                .await
                .map(drop),
        ),
        (
            "GetAppeal",
            client
                .get_appeal(zh_call(pb::GetAppealRequest::default(), auth))
                .await
                .map(drop),
        ),
        (
            "GetKeyFacts",
            client
                .get_key_facts(zh_call(pb::GetKeyFactsRequest::default(), auth))
                .await
                .map(drop),
        ),
        (
            "ListAppeals",
            review
                .list_appeals(zh_call(pb::ListAppealsRequest::default(), auth))
                .await
                .map(drop),
        ),
        (
            "ResolveAppeal",
            review
                .resolve_appeal(zh_call(pb::ResolveAppealRequest::default(), auth))
                .await
                .map(drop),
        ),
    ]
}

const ROUTER_RPCS: [&str; 7] = [
    "RouteFinancing",
    "StreamOffers",
    "AcceptOffer",
    "GetApplication",
    "FileAppeal",
    "GetAppeal",
    "GetKeyFacts",
];

#[tokio::test]
async fn authentication_roles_and_rate_limits_on_every_rpc() {
    const ROUTER_KEY: &str = "router-secret";
    const OPS_KEY: &str = "ops-secret";
    let p = partner().await;
    let mut config = config(&p);
    config.auth.keys = vec![
        key("app", ROUTER_KEY, "tenant-a", &["router"]),
        key("ops", OPS_KEY, "tenant-a", &["operator"]),
    ];
    let router = TestRouter::start(config).await;

    for (auth, reason) in [
        (None, Reason::ApiKeyMissing),
        (Some("Basic abc"), Reason::ApiKeyMalformed),
        (Some("Bearer not-a-key"), Reason::ApiKeyUnknown),
    ] {
        let all = call_all(&router, auth).await;
        assert_eq!(all.len(), 9);
        for (rpc, r) in all {
            let s = r.expect_err(rpc);
            assert_eq!(
                s.get_error_details().error_info().map(|i| i.reason.clone()),
                Some(reason.as_str().to_owned()),
                "{rpc}: {s:?}"
            );
            check(&s, Code::Unauthenticated, reason);
            zh(&s);
        }
    }
    // Each key on the other service: ROLE_REQUIRED naming the role.
    for (rpc, r) in call_all(&router, Some(&format!("Bearer {ROUTER_KEY}"))).await {
        if !ROUTER_RPCS.contains(&rpc) {
            let s = r.expect_err(rpc);
            let m = check(&s, Code::PermissionDenied, Reason::RoleRequired);
            assert_eq!(m.get("role").map(String::as_str), Some("operator"), "{rpc}");
            zh(&s);
        }
    }
    for (rpc, r) in call_all(&router, Some(&format!("Bearer {OPS_KEY}"))).await {
        if ROUTER_RPCS.contains(&rpc) {
            let s = r.expect_err(rpc);
            let m = check(&s, Code::PermissionDenied, Reason::RoleRequired);
            assert_eq!(m.get("role").map(String::as_str), Some("router"), "{rpc}");
            zh(&s);
        }
    }
}

#[tokio::test]
async fn rate_limited_keys_on_both_services() {
    const SLOW: &str = "slow-secret";
    let p = partner().await;
    let mut config = config(&p);
    let mut slow = key("slow", SLOW, "tenant-a", &["router", "operator"]);
    slow.rate_per_second = Some(1);
    slow.burst = Some(1);
    config.auth.keys = vec![slow];
    let router = TestRouter::start(config).await;
    // The first call takes the burst; the other eight are limited.
    let all = call_all(&router, Some(&format!("Bearer {SLOW}"))).await;
    let limited: Vec<&Status> = all
        .iter()
        .filter_map(|(_, r)| r.as_ref().err())
        .filter(|s| s.code() == Code::ResourceExhausted)
        .collect();
    assert!(limited.len() >= 7, "{all:?}");
    for s in limited {
        let m = check(s, Code::ResourceExhausted, Reason::RateLimited);
        assert_eq!(m.get("rate_per_second").map(String::as_str), Some("1"));
        zh(s);
    }
}

/// A request body that never arrives: DEADLINE_EXCEEDED with
/// REQUEST_BODY_TIMEOUT, localized by accept-language.
#[tokio::test]
async fn a_request_body_that_never_arrives() {
    let mut config = Config::default();
    config.server.request_body_timeout_ms = 200;
    let router = TestRouter::start(config).await;
    let tcp = tokio::net::TcpStream::connect(router.addr).await.unwrap();
    let (client, conn) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let mut client = client.ready().await.unwrap();
    let req = http::Request::post(format!(
        "http://{}/finroute.v1.FinancingRouter/GetAppeal",
        router.addr
    ))
    .header("content-type", "application/grpc")
    .header("te", "trailers")
    .header("accept-language", "zh-CN")
    .body(())
    .unwrap();
    let (resp, _never_sent) = client.send_request(req, false).unwrap();
    let resp = tokio::time::timeout(Duration::from_secs(5), resp)
        .await
        .expect("answered")
        .unwrap();
    let status = match Status::from_header_map(resp.headers()) {
        Some(s) => s,
        None => {
            let mut body = resp.into_body();
            while let Some(chunk) = body.data().await {
                let chunk = chunk.unwrap();
                let _ = body.flow_control().release_capacity(chunk.len());
            }
            Status::from_header_map(&body.trailers().await.unwrap().unwrap()).unwrap()
        }
    };
    check(&status, Code::DeadlineExceeded, Reason::RequestBodyTimeout);
    zh(&status);
}
