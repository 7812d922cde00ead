//! Caller authentication, roles and tenant isolation over gRPC: api keys
//! (stored as sha256 in config) mapping to tenants and roles.

#![allow(clippy::unwrap_used)]

use finroute_proto::v1 as pb;
use finroute_server::config::ApiKeyConfig;
use finroute_testkit::{
    Behaviour, FakePartner, TestRouter, config_with, partner_offer, refused_borrower,
};
use pb::review_service_client::ReviewServiceClient;
use sha2::{Digest, Sha256};
use tonic::Code;

const KEY_A: &str = "fr_live_tenant_a_router_key";
const KEY_B: &str = "fr_live_tenant_b_router_key";
const OPS_A: &str = "fr_live_tenant_a_operator_key";
const OPS_B: &str = "fr_live_tenant_b_operator_key";

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

async fn router() -> (TestRouter, FakePartner) {
    let p = FakePartner::start(
        Behaviour::Offers(vec![partner_offer("P-1", 1_000_000, 1100, 0.7)]),
        vec![],
    )
    .await;
    let mut config = config_with(vec![p.spec("bank-a", 500)]);
    config.auth.keys = vec![
        key("mobile-a", KEY_A, "platform-a", &["router"]),
        key("mobile-b", KEY_B, "platform-b", &["router"]),
        key("ops-a", OPS_A, "platform-a", &["operator"]),
        key("ops-b", OPS_B, "platform-b", &["operator"]),
    ];
    (TestRouter::start(config).await, p)
}

#[tokio::test]
async fn calls_without_a_valid_key_are_unauthenticated() {
    let (router, _p) = router().await;
    let mut client = router.client().await;
    let s = client
        .route_financing(refused_borrower())
        .await
        .unwrap_err();
    assert_eq!(s.code(), Code::Unauthenticated);
    let s = client
        .route_financing(with_key(refused_borrower(), "not-a-key"))
        .await
        .unwrap_err();
    assert_eq!(s.code(), Code::Unauthenticated);
    let mut basic = tonic::Request::new(refused_borrower());
    basic
        .metadata_mut()
        .insert("authorization", format!("Basic {KEY_A}").parse().unwrap());
    let s = client.route_financing(basic).await.unwrap_err();
    assert_eq!(s.code(), Code::Unauthenticated);
    assert!(!s.message().contains(KEY_A));
    // Health stays open (load balancers probe it without a key).
    let mut health = tonic_health::pb::health_client::HealthClient::new(router.channel().await);
    health
        .check(tonic_health::pb::HealthCheckRequest::default())
        .await
        .unwrap();
}

#[tokio::test]
async fn review_needs_the_operator_role_and_routing_the_router_role() {
    let (router, _p) = router().await;
    let mut review = ReviewServiceClient::new(router.channel().await);
    let s = review
        .list_appeals(with_key(pb::ListAppealsRequest::default(), KEY_A))
        .await
        .unwrap_err();
    assert_eq!(s.code(), Code::PermissionDenied);
    review
        .list_appeals(with_key(pb::ListAppealsRequest::default(), OPS_A))
        .await
        .unwrap();
    let mut client = router.client().await;
    let s = client
        .route_financing(with_key(refused_borrower(), OPS_A))
        .await
        .unwrap_err();
    assert_eq!(s.code(), Code::PermissionDenied);
}

#[tokio::test]
async fn another_tenants_ids_are_not_found() {
    let (router, _p) = router().await;
    let mut client = router.client().await;
    let mut req = refused_borrower();
    req.request_id = "same-id-in-both-tenants".into();
    let a = client
        .route_financing(with_key(req.clone(), KEY_A))
        .await
        .unwrap()
        .into_inner();
    // request_id is per tenant: B's identical id routes afresh.
    let b = client
        .route_financing(with_key(req, KEY_B))
        .await
        .unwrap()
        .into_inner();
    assert_ne!(a.application_id, b.application_id);

    let get = |id: &str| pb::GetApplicationRequest {
        application_id: id.into(),
        ..Default::default()
    };
    client
        .get_application(with_key(get(&a.application_id), KEY_A))
        .await
        .unwrap();
    let s = client
        .get_application(with_key(get(&a.application_id), KEY_B))
        .await
        .unwrap_err();
    assert_eq!(s.code(), Code::NotFound);

    let offer = a.offers.iter().find(|o| o.adapter_id == "bank-a").unwrap();
    let accept = pb::AcceptOfferRequest {
        offer_id: offer.offer_id.clone(),
        idempotency_key: "tap".into(),
        applicant_id: "app-7f3a9c".into(),
    };
    let s = client
        .accept_offer(with_key(accept.clone(), KEY_B))
        .await
        .unwrap_err();
    assert_eq!(s.code(), Code::NotFound);
    let ok = client
        .accept_offer(with_key(accept, KEY_A))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ok.status, pb::AcceptanceStatus::Accepted as i32);

    let appeal = client
        .file_appeal(with_key(
            pb::FileAppealRequest {
                application_id: a.application_id.clone(),
                adapter_id: String::new(),
                reason: pb::AppealReason::DataError as i32,
                details: String::new(),
                idempotency_key: "same-key-both-tenants".into(),
            },
            KEY_A,
        ))
        .await
        .unwrap()
        .into_inner();
    let s = client
        .file_appeal(with_key(
            pb::FileAppealRequest {
                application_id: a.application_id.clone(),
                adapter_id: String::new(),
                reason: pb::AppealReason::DataError as i32,
                details: String::new(),
                idempotency_key: "same-key-both-tenants".into(),
            },
            KEY_B,
        ))
        .await
        .unwrap_err();
    assert_eq!(s.code(), Code::NotFound);
    let s = client
        .get_appeal(with_key(
            pb::GetAppealRequest {
                appeal_id: appeal.appeal_id.clone(),
            },
            KEY_B,
        ))
        .await
        .unwrap_err();
    assert_eq!(s.code(), Code::NotFound);

    // Each tenant's operators see only their own queue.
    let mut review = ReviewServiceClient::new(router.channel().await);
    let list = |key: &str| with_key(pb::ListAppealsRequest::default(), key);
    let a_queue = review.list_appeals(list(OPS_A)).await.unwrap().into_inner();
    assert_eq!(a_queue.appeals.len(), 1);
    let b_queue = review.list_appeals(list(OPS_B)).await.unwrap().into_inner();
    assert!(b_queue.appeals.is_empty());
    let s = review
        .resolve_appeal(with_key(
            pb::ResolveAppealRequest {
                appeal_id: appeal.appeal_id.clone(),
                decision: pb::AppealDecision::Upheld as i32,
                note: "not ours".into(),
                reason_code: pb::DecisionReason::Other as i32,
            },
            OPS_B,
        ))
        .await
        .unwrap_err();
    assert_eq!(s.code(), Code::NotFound);
}

/// A key over its rate gets RESOURCE_EXHAUSTED; other keys are unaffected.
#[tokio::test]
async fn a_key_over_its_rate_limit_is_refused_and_others_are_not() {
    let (_r, p) = router().await;
    drop(_r);
    let mut config = config_with(vec![p.spec("bank-a", 500)]);
    let mut slow = key("batch", KEY_A, "platform-a", &["router"]);
    slow.rate_per_second = Some(1);
    slow.burst = Some(3);
    config.auth.keys = vec![slow, key("mobile-b", KEY_B, "platform-b", &["router"])];
    let router = TestRouter::start(config).await;
    let mut client = router.client().await;
    let get = || pb::GetApplicationRequest {
        application_id: "app_x".into(),
        ..Default::default()
    };
    let mut codes = Vec::new();
    for _ in 0..5 {
        let code = match client.get_application(with_key(get(), KEY_A)).await {
            Ok(_) => Code::Ok,
            Err(s) => s.code(),
        };
        codes.push(code);
    }
    assert_eq!(&codes[..3], [Code::NotFound; 3], "the burst is served");
    assert_eq!(codes[3], Code::ResourceExhausted, "{codes:?}");
    let s = client
        .get_application(with_key(get(), KEY_B))
        .await
        .unwrap_err();
    assert_eq!(s.code(), Code::NotFound, "another key is not limited");
}
