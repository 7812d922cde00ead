//! AcceptOffer exactly once, and appeals, end to end over gRPC: a real
//! router on 127.0.0.1:0 (SQLite, and PostgreSQL when
//! `FINROUTE_TEST_DATABASE_URL` is set), fake partners on loopback that are
//! idempotent on the key and count every call and every booking.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use finroute_proto::v1 as pb;
use finroute_server::Config;
use finroute_testkit::{
    AcceptMode, Behaviour, FakePartner, PgSchema, TestRouter, config_with, partner_offer,
    refused_borrower, violated_fields, with_timeout,
};
use pb::financing_router_client::FinancingRouterClient;
use pb::review_service_client::ReviewServiceClient;
use tonic::Code;
use tonic::transport::Channel;
use tonic_types::StatusExt;

async fn partner(mode: AcceptMode) -> FakePartner {
    FakePartner::start_with(
        Behaviour::Offers(vec![
            partner_offer("P-1", 1_000_000, 1100, 0.7),
            partner_offer("P-2", 800_000, 1250, 0.8),
        ]),
        vec![],
        mode,
    )
    .await
}

/// A config routing to `partner` only, with short relay timings.
fn config(partner: &FakePartner) -> Config {
    let mut c = config_with(vec![partner.spec("bank-a", 500)]);
    c.acceptance.partner_timeout_ms = 1_000;
    c.acceptance.poll_interval_ms = 50;
    c
}

/// Routes the README's borrower; returns the application id and the offer
/// the partner made as `reference`.
async fn route(
    client: &mut FinancingRouterClient<Channel>,
    reference: &str,
) -> (String, pb::Offer) {
    let r = client
        .route_financing(refused_borrower())
        .await
        .unwrap()
        .into_inner();
    let offer = r
        .offers
        .iter()
        .find(|o| o.adapter_id == "bank-a" && o.partner_offer_ref == reference)
        .unwrap_or_else(|| panic!("no bank-a offer {reference}: {:?}", r.channel_reports))
        .clone();
    (r.application_id, offer)
}

fn accept_req(offer: &pb::Offer, key: &str) -> pb::AcceptOfferRequest {
    pb::AcceptOfferRequest {
        offer_id: offer.offer_id.clone(),
        idempotency_key: key.into(),
        applicant_id: "app-7f3a9c".into(),
    }
}

/// 32 concurrent calls with one key, split over `clients`: every answer
/// identical and ACCEPTED.
async fn race_one_key(
    clients: &[FinancingRouterClient<Channel>],
    offer: &pb::Offer,
    key: &str,
) -> pb::AcceptOfferResponse {
    let calls = (0..32).map(|i| {
        let mut c = clients[i % clients.len()].clone();
        let req = accept_req(offer, key);
        tokio::spawn(async move { c.accept_offer(with_timeout(req, 5_000)).await })
    });
    let answers: Vec<pb::AcceptOfferResponse> = futures::future::join_all(calls)
        .await
        .into_iter()
        .map(|r| r.unwrap().unwrap().into_inner())
        .collect();
    let first = answers[0].clone();
    assert_eq!(
        first.status,
        pb::AcceptanceStatus::Accepted as i32,
        "{first:?}"
    );
    assert!(first.acceptance_id.starts_with("acc_"));
    for a in &answers {
        assert_eq!(a, &first);
    }
    first
}

#[tokio::test]
async fn thirty_two_racing_retries_of_one_key_make_one_partner_call() {
    let p = partner(AcceptMode::Delay(Duration::from_millis(100))).await;
    let router = TestRouter::start(config(&p)).await;
    let mut client = router.client().await;
    let (application_id, offer) = route(&mut client, "P-1").await;

    let answer = race_one_key(&[client.clone()], &offer, "tap-1").await;
    assert_eq!(p.accepts().len(), 1, "one partner call");
    // The partner is told how long the router waits (acceptance.partner_timeout_ms).
    let sent = p.accept_timeouts()[0].unwrap();
    assert!(
        sent <= Duration::from_millis(1_000) && sent > Duration::from_millis(500),
        "{sent:?}"
    );
    let booked = p.booked();
    assert_eq!(booked.len(), 1);
    // The partner saw the router's stable key, not the client's.
    let (partner_key, reference) = booked.into_iter().next().unwrap();
    assert_eq!(partner_key, answer.acceptance_id);
    assert_eq!(answer.partner_reference, reference);

    // A later retry: the same answer, no new call.
    let again = client
        .accept_offer(accept_req(&offer, "tap-1"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again, answer);
    assert_eq!(p.accepts().len(), 1);

    // GetApplication shows the acceptance.
    let app = client
        .get_application(pb::GetApplicationRequest {
            application_id: application_id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(app.acceptances.len(), 1);
    let a = &app.acceptances[0];
    assert_eq!(a.offer_id, offer.offer_id);
    assert_eq!(a.acceptance_id, answer.acceptance_id);
    assert_eq!(a.status, pb::AcceptanceStatus::Accepted as i32);
    assert_eq!(a.partner_reference, answer.partner_reference);
    assert!(a.accepted_at.is_some());
}

#[tokio::test]
async fn conflicting_keys_offers_and_bad_requests_get_the_right_codes() {
    let p = partner(AcceptMode::Book).await;
    let router = TestRouter::start(config(&p)).await;
    let mut client = router.client().await;
    let (_, offer) = route(&mut client, "P-1").await;
    let (_, other) = route(&mut client, "P-2").await;

    client
        .accept_offer(accept_req(&offer, "key-a"))
        .await
        .unwrap();
    // Same key, another offer: ALREADY_EXISTS.
    let s = client
        .accept_offer(accept_req(&other, "key-a"))
        .await
        .unwrap_err();
    assert_eq!(s.code(), Code::AlreadyExists, "{s:?}");
    // Another key on the accepted offer: FAILED_PRECONDITION.
    let s = client
        .accept_offer(accept_req(&offer, "key-b"))
        .await
        .unwrap_err();
    assert_eq!(s.code(), Code::FailedPrecondition, "{s:?}");
    // Unknown offer, and someone else's offer: NOT_FOUND alike.
    let mut unknown = accept_req(&offer, "key-c");
    unknown.offer_id = "off_nope".into();
    let s = client.accept_offer(unknown).await.unwrap_err();
    assert_eq!(s.code(), Code::NotFound);
    let mut stranger = accept_req(&other, "key-d");
    stranger.applicant_id = "someone-else".into();
    let t = client.accept_offer(stranger).await.unwrap_err();
    assert_eq!(t.code(), Code::NotFound);
    // The same code, but the message says the offer is another applicant's
    // (and nothing about that applicant).
    assert_ne!(s.message(), t.message());
    assert!(t.message().contains("another applicant"), "{t:?}");
    assert!(!t.message().contains(&other.offer_id), "{t:?}");
    // Missing fields are named.
    let s = client
        .accept_offer(pb::AcceptOfferRequest::default())
        .await
        .unwrap_err();
    assert_eq!(s.code(), Code::InvalidArgument);
    assert_eq!(
        violated_fields(&s),
        ["offer_id", "idempotency_key", "applicant_id"]
    );
    assert_eq!(p.booked().len(), 1);
}

#[tokio::test]
async fn two_keys_racing_on_one_offer_get_one_acceptance() {
    let p = partner(AcceptMode::Delay(Duration::from_millis(50))).await;
    let router = TestRouter::start(config(&p)).await;
    let mut client = router.client().await;
    let (_, offer) = route(&mut client, "P-1").await;
    let (mut c1, mut c2) = (client.clone(), client.clone());
    let (r1, r2) = tokio::join!(
        c1.accept_offer(accept_req(&offer, "key-1")),
        c2.accept_offer(accept_req(&offer, "key-2")),
    );
    let mut codes = [
        r1.as_ref().map(|_| Code::Ok).unwrap_or_else(|s| s.code()),
        r2.as_ref().map(|_| Code::Ok).unwrap_or_else(|s| s.code()),
    ];
    codes.sort_by_key(|c| *c as i32);
    assert_eq!(codes, [Code::Ok, Code::FailedPrecondition]);
    assert_eq!(p.booked().len(), 1);
}

#[tokio::test]
async fn an_expired_offer_cannot_be_accepted() {
    let mut short = partner_offer("P-1", 1_000_000, 1100, 0.7);
    short.valid_for = Some(prost_types::Duration {
        seconds: 0,
        nanos: 300_000_000,
    });
    let p = FakePartner::start(Behaviour::Offers(vec![short]), vec![]).await;
    let router = TestRouter::start(config(&p)).await;
    let mut client = router.client().await;
    let (_, offer) = route(&mut client, "P-1").await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let s = client
        .accept_offer(accept_req(&offer, "late"))
        .await
        .unwrap_err();
    assert_eq!(s.code(), Code::FailedPrecondition);
    assert!(s.message().contains("expired"), "{}", s.message());
    assert!(p.accepts().is_empty());
}

#[tokio::test]
async fn a_partner_slower_than_the_deadline_gives_pending_then_the_final_answer() {
    let p = partner(AcceptMode::Delay(Duration::from_millis(600))).await;
    let router = TestRouter::start(config(&p)).await;
    let mut client = router.client().await;
    let (_, offer) = route(&mut client, "P-1").await;

    let first = client
        .accept_offer(with_timeout(accept_req(&offer, "slow"), 200))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.status, pb::AcceptanceStatus::Pending as i32);
    let last = client
        .accept_offer(with_timeout(accept_req(&offer, "slow"), 3_000))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(last.status, pb::AcceptanceStatus::Accepted as i32);
    assert_eq!(last.acceptance_id, first.acceptance_id);
    assert_eq!(p.booked().len(), 1);
    assert_eq!(p.accepts().len(), 1);
}

#[tokio::test]
async fn a_partner_that_books_then_fails_is_retried_with_the_same_key() {
    let p = partner(AcceptMode::BookThenUnavailable(2)).await;
    let router = TestRouter::start(config(&p)).await;
    let mut client = router.client().await;
    let (_, offer) = route(&mut client, "P-1").await;
    let r = client
        .accept_offer(with_timeout(accept_req(&offer, "flaky"), 5_000))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.status, pb::AcceptanceStatus::Accepted as i32, "{r:?}");
    let calls = p.accepts();
    assert_eq!(calls.len(), 3, "two failed attempts, then the answer");
    assert!(calls.iter().all(|c| c.idempotency_key == r.acceptance_id));
    assert_eq!(p.booked().len(), 1, "one effect");
}

#[tokio::test]
async fn an_acceptance_completes_even_when_the_caller_goes_away() {
    let p = partner(AcceptMode::Delay(Duration::from_millis(200))).await;
    let router = TestRouter::start(config(&p)).await;
    let mut client = router.client().await;
    let (application_id, offer) = route(&mut client, "P-1").await;
    {
        let mut c = client.clone();
        let call = c.accept_offer(accept_req(&offer, "gone"));
        // Give the request time to reach the router, then drop it.
        let _ = tokio::time::timeout(Duration::from_millis(30), call).await;
    }
    let mut status = 0;
    for _ in 0..100 {
        let app = client
            .get_application(pb::GetApplicationRequest {
                application_id: application_id.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        if let Some(a) = app.acceptances.first() {
            status = a.status;
            if status == pb::AcceptanceStatus::Accepted as i32 {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status, pb::AcceptanceStatus::Accepted as i32);
    assert_eq!(p.booked().len(), 1);
}

#[tokio::test]
async fn a_declined_acceptance_is_final_and_reported() {
    let p = partner(AcceptMode::Decline).await;
    let router = TestRouter::start(config(&p)).await;
    let mut client = router.client().await;
    let (_, offer) = route(&mut client, "P-1").await;
    let r = client
        .accept_offer(accept_req(&offer, "no"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.status, pb::AcceptanceStatus::Declined as i32);
    assert!(!r.detail.is_empty());
    assert_eq!(p.accepts().len(), 1);
}

/// Two routers ("replicas") on one PostgreSQL database, 32 racing retries
/// split across them: one partner call, 32 identical answers.
#[tokio::test]
async fn two_replicas_on_one_postgres_database_accept_once() {
    let Some(pg) = PgSchema::create().await else {
        return;
    };
    let p = partner(AcceptMode::Delay(Duration::from_millis(100))).await;
    let mut cfg = config(&p);
    cfg.store.url = pg.url.clone();
    let a = TestRouter::start(cfg.clone()).await;
    let b = TestRouter::start(cfg).await;
    let mut ca = a.client().await;
    let cb = b.client().await;
    let (application_id, offer) = route(&mut ca, "P-1").await;
    let answer = race_one_key(&[ca.clone(), cb.clone()], &offer, "tap-pg").await;
    assert_eq!(p.accepts().len(), 1, "one partner call across replicas");
    assert_eq!(p.booked().len(), 1);
    // Replica B sees what replica A routed and accepted.
    let mut cb = cb;
    let app = cb
        .get_application(pb::GetApplicationRequest {
            application_id,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(app.acceptances[0].acceptance_id, answer.acceptance_id);
    a.stop().await.unwrap();
    b.stop().await.unwrap();
    pg.drop_schema().await;
}

async fn file(
    client: &mut FinancingRouterClient<Channel>,
    application_id: &str,
    adapter_id: &str,
    reason: pb::AppealReason,
) -> Result<pb::Appeal, tonic::Status> {
    client
        .file_appeal(pb::FileAppealRequest {
            application_id: application_id.into(),
            adapter_id: adapter_id.into(),
            reason: reason as i32,
            details: "my income rose in March".into(),
            idempotency_key: String::new(),
        })
        .await
        .map(|r| r.into_inner())
}

#[tokio::test]
async fn a_retried_filing_with_its_idempotency_key_files_one_appeal() {
    let p = partner(AcceptMode::Book).await;
    let router = TestRouter::start(config(&p)).await;
    let mut client = router.client().await;
    let mut review = ReviewServiceClient::new(router.channel().await);
    let (application_id, _) = route(&mut client, "P-1").await;
    let req = |details: &str| pb::FileAppealRequest {
        application_id: application_id.clone(),
        adapter_id: "bank-a".into(),
        reason: pb::AppealReason::IncomeChanged as i32,
        details: details.into(),
        idempotency_key: "appeal-tap-1".into(),
    };
    // A flaky network: the same filing three times, two of them at once.
    let first = client.file_appeal(req("raise")).await.unwrap().into_inner();
    let (mut c1, mut c2) = (client.clone(), client.clone());
    let (a, b) = tokio::join!(c1.file_appeal(req("raise")), c2.file_appeal(req("raise")));
    for again in [a.unwrap().into_inner(), b.unwrap().into_inner()] {
        assert_eq!(again, first);
    }
    let open = review
        .list_appeals(pb::ListAppealsRequest {
            status: 0,
            page_size: 10,
            page_token: String::new(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(open.appeals.len(), 1, "one appeal filed");
    // The key with another request is refused, not a second appeal.
    let s = client.file_appeal(req("other text")).await.unwrap_err();
    assert_eq!(s.code(), Code::AlreadyExists, "{s:?}");
    // Without a key, every filing is a new appeal.
    let mut no_key = req("raise");
    no_key.idempotency_key.clear();
    let x = client
        .file_appeal(no_key.clone())
        .await
        .unwrap()
        .into_inner();
    let y = client.file_appeal(no_key).await.unwrap().into_inner();
    assert_ne!(x.appeal_id, y.appeal_id);
}

#[tokio::test]
async fn appeals_round_trip_through_filing_review_and_resolution() {
    let p = partner(AcceptMode::Book).await;
    // One operator decides alone here (the four-eyes flow: tests/review.rs).
    let mut cfg = config(&p);
    cfg.review.four_eyes = false;
    let router = TestRouter::start(cfg).await;
    let mut client = router.client().await;
    let mut review = ReviewServiceClient::new(router.channel().await);
    let (application_id, _) = route(&mut client, "P-1").await;

    // Seven appeals: the primary line and the partner channel.
    let mut filed = Vec::new();
    for i in 0..7 {
        let adapter = if i % 2 == 0 { "" } else { "bank-a" };
        let a = file(
            &mut client,
            &application_id,
            adapter,
            pb::AppealReason::IncomeChanged,
        )
        .await
        .unwrap();
        assert_eq!(a.status, pb::AppealStatus::Open as i32);
        assert_eq!(a.adapter_id, adapter);
        assert!(a.filed_at.is_some() && a.resolved_at.is_none());
        filed.push(a);
    }

    // Bad filings.
    let s = file(
        &mut client,
        &application_id,
        "",
        pb::AppealReason::Unspecified,
    )
    .await
    .unwrap_err();
    assert_eq!(s.code(), Code::InvalidArgument);
    assert_eq!(
        s.get_error_details()
            .bad_request()
            .unwrap()
            .field_violations[0]
            .field,
        "reason"
    );
    let s = file(
        &mut client,
        &application_id,
        "nobody",
        pb::AppealReason::Other,
    )
    .await
    .unwrap_err();
    assert_eq!(s.code(), Code::InvalidArgument);
    let s = file(&mut client, "app_unknown", "", pb::AppealReason::Other)
        .await
        .unwrap_err();
    assert_eq!(s.code(), Code::NotFound);

    // Pages of 3: 3 + 3 + 1, oldest first, no gaps or repeats.
    let mut seen = Vec::new();
    let mut token = String::new();
    let mut pages = Vec::new();
    loop {
        let page = review
            .list_appeals(pb::ListAppealsRequest {
                status: 0,
                page_size: 3,
                page_token: token.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        pages.push(page.appeals.len());
        seen.extend(page.appeals.into_iter().map(|a| a.appeal_id));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(pages, [3, 3, 1]);
    let expected: Vec<String> = filed.iter().map(|a| a.appeal_id.clone()).collect();
    assert_eq!(seen, expected);

    // A token is bound to its filter; garbage is named.
    let first = review
        .list_appeals(pb::ListAppealsRequest {
            status: 0,
            page_size: 3,
            page_token: String::new(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let s = review
        .list_appeals(pb::ListAppealsRequest {
            status: pb::AppealStatus::Open as i32,
            page_size: 3,
            page_token: first.next_page_token,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(s.code(), Code::InvalidArgument);
    let s = review
        .list_appeals(pb::ListAppealsRequest {
            status: 0,
            page_size: 3,
            page_token: "not-a-token".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        s.get_error_details()
            .bad_request()
            .unwrap()
            .field_violations[0]
            .field,
        "page_token"
    );

    // Resolve one; a second decision is refused.
    let target = &filed[2];
    let resolved = review
        .resolve_appeal(pb::ResolveAppealRequest {
            appeal_id: target.appeal_id.clone(),
            decision: pb::AppealDecision::Overturned as i32,
            note: "payslips confirm the new income".into(),
            reason_code: pb::DecisionReason::Other as i32,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(resolved.status, pb::AppealStatus::Overturned as i32);
    assert!(resolved.resolved_at.is_some());
    let s = review
        .resolve_appeal(pb::ResolveAppealRequest {
            appeal_id: target.appeal_id.clone(),
            decision: pb::AppealDecision::Upheld as i32,
            note: "second look".into(),
            reason_code: pb::DecisionReason::Other as i32,
        })
        .await
        .unwrap_err();
    assert_eq!(s.code(), Code::FailedPrecondition);
    let s = review
        .resolve_appeal(pb::ResolveAppealRequest {
            appeal_id: target.appeal_id.clone(),
            decision: 0,
            note: String::new(),
            reason_code: pb::DecisionReason::Other as i32,
        })
        .await
        .unwrap_err();
    assert_eq!(s.code(), Code::InvalidArgument);
    let s = review
        .resolve_appeal(pb::ResolveAppealRequest {
            appeal_id: "apl_unknown".into(),
            decision: pb::AppealDecision::Upheld as i32,
            note: "n".into(),
            reason_code: pb::DecisionReason::Other as i32,
        })
        .await
        .unwrap_err();
    assert_eq!(s.code(), Code::NotFound);

    // The borrower sees the resolution; the filters split the list.
    let got = client
        .get_appeal(pb::GetAppealRequest {
            appeal_id: target.appeal_id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    // The router's answer leaves out the operators' workflow fields.
    assert_eq!(
        got,
        pb::Appeal {
            filed_by: String::new(),
            assignee: String::new(),
            claimed_at: None,
            resolution_reason_code: 0,
            resolved_by: String::new(),
            sla_due_at: None,
            ..resolved.clone()
        }
    );
    assert_eq!(
        resolved.resolution_reason_code,
        pb::DecisionReason::Other as i32
    );
    assert_eq!(resolved.resolved_by, "open");
    assert_eq!(got.resolution_note, "payslips confirm the new income");
    let overturned = review
        .list_appeals(pb::ListAppealsRequest {
            status: pb::AppealStatus::Overturned as i32,
            page_size: 0,
            page_token: String::new(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(overturned.appeals, vec![resolved]);
    let open = review
        .list_appeals(pb::ListAppealsRequest {
            status: pb::AppealStatus::Open as i32,
            page_size: 0,
            page_token: String::new(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(open.appeals.len(), 6);

    let app = client
        .get_application(pb::GetApplicationRequest {
            application_id: application_id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(app.appeals.len(), 7);
}
