//! The review desk over gRPC (docs/api.md, "The review workflow"): two
//! operators race to claim one appeal, a lapsed claim is claimable again,
//! four eyes on an overturn (the proposer and the filer cannot approve, a
//! different operator can), and the audit trail of the case lists every
//! step in order with the key ids. On SQLite, and on PostgreSQL with two
//! router replicas sharing the database.
//!
//! The lapse is measured on the review desk's clock, which these routers
//! take as a manual clock ([`Clock::manual`]): the test moves it past
//! `review.claim_lapse_ms` instead of sleeping (both replicas share it).

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use finroute_proto::v1 as pb;
use finroute_server::Config;
use finroute_server::clock::Clock;
use finroute_server::config::ApiKeyConfig;
use finroute_testkit::{
    Behaviour, FakePartner, PgSchema, TestRouter, config_with, partner_offer, refused_borrower,
};
use pb::financing_router_client::FinancingRouterClient;
use pb::review_service_client::ReviewServiceClient;
use sha2::{Digest, Sha256};
use tonic::transport::Channel;
use tonic::{Code, Status};
use tonic_types::StatusExt;

/// The platform's backend: files appeals, and also has the operator role
/// (so that its approval reaches the four-eyes check).
const FILER: &str = "fr_live_filer_key";
const OPS_1: &str = "fr_live_ops_1_key";
const OPS_2: &str = "fr_live_ops_2_key";
/// Thirty minutes, as in production: the test moves the clock, not the time.
const LAPSE_MS: u64 = 1_800_000;

fn key(id: &str, secret: &str, roles: &[&str]) -> ApiKeyConfig {
    ApiKeyConfig {
        id: id.into(),
        sha256: hex::encode(Sha256::digest(secret.as_bytes())),
        tenant: "platform-a".into(),
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

fn config(p: &FakePartner) -> Config {
    let mut config = config_with(vec![p.spec("bank-a", 500)]);
    config.auth.keys = vec![
        key("desk-filer", FILER, &["router", "operator"]),
        key("ops-1", OPS_1, &["operator"]),
        key("ops-2", OPS_2, &["operator"]),
    ];
    config.review.claim_lapse_ms = LAPSE_MS;
    config
}

fn reason(s: &Status) -> String {
    s.get_error_details()
        .error_info()
        .map(|i| i.reason.clone())
        .unwrap_or_default()
}

fn refused_with(s: &Status, why: &str) {
    assert_eq!(s.code(), Code::FailedPrecondition, "{s:?}");
    assert_eq!(reason(s), why, "{s:?}");
}

const DETAILS: &str = "我的收入已提高 salary 23456";

/// A refused application and an appeal of it, filed by the filer key.
async fn file(client: &mut FinancingRouterClient<Channel>, idem: &str) -> pb::Appeal {
    let app = client
        .route_financing(with_key(refused_borrower(), FILER))
        .await
        .unwrap()
        .into_inner();
    client
        .file_appeal(with_key(
            pb::FileAppealRequest {
                application_id: app.application_id.clone(),
                adapter_id: String::new(),
                reason: pb::AppealReason::IncomeChanged as i32,
                details: DETAILS.into(),
                idempotency_key: idem.into(),
            },
            FILER,
        ))
        .await
        .unwrap()
        .into_inner()
}

async fn claim(
    review: &mut ReviewServiceClient<Channel>,
    id: &str,
    secret: &str,
) -> Result<pb::Appeal, Status> {
    review
        .claim_appeal(with_key(
            pb::ClaimAppealRequest {
                appeal_id: id.into(),
            },
            secret,
        ))
        .await
        .map(|r| r.into_inner().appeal.unwrap())
}

async fn approve(
    review: &mut ReviewServiceClient<Channel>,
    id: &str,
    secret: &str,
) -> Result<pb::Appeal, Status> {
    review
        .approve_decision(with_key(
            pb::ApproveDecisionRequest {
                appeal_id: id.into(),
                note: "agreed".into(),
            },
            secret,
        ))
        .await
        .map(|r| r.into_inner().appeal.unwrap())
}

async fn case(review: &mut ReviewServiceClient<Channel>, id: &str) -> pb::GetCaseResponse {
    review
        .get_case(with_key(
            pb::GetCaseRequest {
                appeal_id: id.into(),
            },
            OPS_1,
        ))
        .await
        .unwrap()
        .into_inner()
}

/// (kind, actor, from, to) of each event of a case.
fn trail(c: &pb::GetCaseResponse) -> Vec<(pb::AppealEventKind, String, i32, i32)> {
    c.events
        .iter()
        .map(|e| (e.kind(), e.actor.clone(), e.from_status, e.to_status))
        .collect()
}

/// The whole desk: `r1` and `r2` are the review clients two operators use
/// (two replicas on PostgreSQL, one router on SQLite).
async fn review_desk(
    mut client: FinancingRouterClient<Channel>,
    r1: ReviewServiceClient<Channel>,
    r2: ReviewServiceClient<Channel>,
    clock: Clock,
) {
    use pb::AppealEventKind as K;
    use pb::AppealStatus as S;
    let (open, in_review, overturned) = (S::Open as i32, S::InReview as i32, S::Overturned as i32);
    let (mut r1, mut r2) = (r1, r2);

    // Two reviewers race to claim one appeal: one wins, the other is told
    // who holds it (by key id, never personal data).
    let filed = file(&mut client, "race").await;
    assert_eq!(
        filed.assignee, "",
        "the router's answer has no workflow fields"
    );
    let id = filed.appeal_id.clone();
    let (mut a, mut b) = (r1.clone(), r2.clone());
    let (c1, c2) = tokio::join!(claim(&mut a, &id, OPS_1), claim(&mut b, &id, OPS_2));
    let (winner, loser, won, lost) = match (c1, c2) {
        (Ok(w), Err(l)) => (OPS_1, OPS_2, w, l),
        (Err(l), Ok(w)) => (OPS_2, OPS_1, w, l),
        other => panic!("expected one claim to win: {other:?}"),
    };
    let (winner_id, loser_id) = if winner == OPS_1 {
        ("ops-1", "ops-2")
    } else {
        ("ops-2", "ops-1")
    };
    assert_eq!(won.status, in_review);
    assert_eq!(won.assignee, winner_id);
    assert!(won.claimed_at.is_some());
    refused_with(&lost, "APPEAL_CLAIMED_BY_OTHER");
    assert!(lost.message().contains(winner_id), "{lost:?}");
    assert!(!lost.message().contains("23456"), "{lost:?}");

    // The queue views: the winner's "mine", nobody's "unclaimed".
    let list = |queue: pb::AppealQueue, secret: &str| {
        with_key(
            pb::ListAppealsRequest {
                queue: queue as i32,
                order: pb::AppealOrder::Sla as i32,
                ..Default::default()
            },
            secret,
        )
    };
    let mine = r1
        .list_appeals(list(pb::AppealQueue::Mine, winner))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(mine.appeals.len(), 1);
    assert_eq!(mine.appeals[0].appeal_id, id);
    assert!(!mine.appeals[0].sla_breached);
    assert!(mine.appeals[0].sla_due_at.is_some());
    let theirs = r1
        .list_appeals(list(pb::AppealQueue::Mine, loser))
        .await
        .unwrap()
        .into_inner();
    assert!(theirs.appeals.is_empty());
    let unclaimed = r1
        .list_appeals(list(pb::AppealQueue::Unclaimed, loser))
        .await
        .unwrap()
        .into_inner();
    assert!(unclaimed.appeals.iter().all(|a| a.appeal_id != id));

    // A decision needs a reason code.
    let propose = |reason_code: i32| {
        with_key(
            pb::ResolveAppealRequest {
                appeal_id: id.clone(),
                decision: pb::AppealDecision::Overturned as i32,
                note: "payslips show the new income".into(),
                reason_code,
            },
            winner,
        )
    };
    let s = r1.resolve_appeal(propose(0)).await.unwrap_err();
    assert_eq!(s.code(), Code::InvalidArgument);
    // Four eyes (the default): the overturn is only proposed.
    let proposed = r1
        .resolve_appeal(propose(pb::DecisionReason::NewEvidence as i32))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(proposed.status, in_review);
    assert_eq!(proposed.pending_decision, overturned);
    assert_eq!(proposed.proposed_by, winner_id);
    assert_eq!(
        proposed.pending_reason_code,
        pb::DecisionReason::NewEvidence as i32
    );
    // The proposer cannot approve; nor can the key that filed the appeal.
    let s = approve(&mut r1, &id, winner).await.unwrap_err();
    refused_with(&s, "FOUR_EYES_REQUIRED");
    let s = approve(&mut r2, &id, FILER).await.unwrap_err();
    refused_with(&s, "FOUR_EYES_REQUIRED");
    // A different operator may reject it; the proposer proposes again.
    let rejected = r2
        .reject_decision(with_key(
            pb::RejectDecisionRequest {
                appeal_id: id.clone(),
                note: "ask for bank statements".into(),
            },
            loser,
        ))
        .await
        .unwrap()
        .into_inner()
        .appeal
        .unwrap();
    assert_eq!(rejected.pending_decision, 0);
    assert_eq!(rejected.status, in_review);
    let s = approve(&mut r2, &id, loser).await.unwrap_err();
    refused_with(&s, "NO_PENDING_DECISION");
    r1.resolve_appeal(propose(pb::DecisionReason::NewEvidence as i32))
        .await
        .unwrap();
    // A different operator can approve.
    let decided = approve(&mut r2, &id, loser).await.unwrap();
    assert_eq!(decided.status, overturned);
    assert_eq!(decided.resolved_by, loser_id);
    assert_eq!(
        decided.resolution_reason_code,
        pb::DecisionReason::NewEvidence as i32
    );
    assert_eq!(decided.resolution_note, "payslips show the new income");
    let s = claim(&mut r1, &id, winner).await.unwrap_err();
    refused_with(&s, "APPEAL_ALREADY_RESOLVED");

    // The case: the appeal with the applicant's text, the application as
    // answered, and every step in order with the key ids.
    let c = case(&mut r1, &id).await;
    let appeal = c.appeal.clone().unwrap();
    assert_eq!(appeal.details, DETAILS);
    assert_eq!(appeal.status, overturned);
    let app = c.application.clone().unwrap();
    assert_eq!(app.application_id, filed.application_id);
    assert_eq!(app.appeals.len(), 1);
    assert!(c.earlier_appeals.is_empty());
    assert_eq!(
        trail(&c),
        [
            (K::Filed, "desk-filer".into(), 0, open),
            (K::Claimed, winner_id.into(), open, in_review),
            (K::Proposed, winner_id.into(), in_review, in_review),
            (K::Rejected, loser_id.into(), in_review, in_review),
            (K::Proposed, winner_id.into(), in_review, in_review),
            (K::Approved, loser_id.into(), in_review, overturned),
        ]
    );
    assert_eq!(c.events[3].note, "ask for bank statements");
    let seqs: Vec<i64> = c.events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, [1, 2, 3, 4, 5, 6]);
    assert_eq!(
        c.events[2].reason_code,
        pb::DecisionReason::NewEvidence as i32
    );

    // A lapsed claim is claimable again; the lapse is in the trail.
    let second = file(&mut client, "lapse").await;
    let id2 = second.appeal_id.clone();
    claim(&mut r1, &id2, OPS_1).await.unwrap();
    let s = claim(&mut r2, &id2, OPS_2).await.unwrap_err();
    refused_with(&s, "APPEAL_CLAIMED_BY_OTHER");
    // Still held a minute before the lapse (real time passes too, a few
    // milliseconds); claimable once the lapse is over.
    clock.advance(Duration::from_millis(LAPSE_MS - 60_000));
    let s = claim(&mut r2, &id2, OPS_2).await.unwrap_err();
    refused_with(&s, "APPEAL_CLAIMED_BY_OTHER");
    clock.advance(Duration::from_millis(60_000));
    let retaken = claim(&mut r2, &id2, OPS_2).await.unwrap();
    assert_eq!(retaken.assignee, "ops-2");
    // ops-1 no longer holds it: its release is refused; ops-2's works.
    let release = |secret: &str| {
        with_key(
            pb::ReleaseAppealRequest {
                appeal_id: id2.clone(),
            },
            secret,
        )
    };
    let s = r1.release_appeal(release(OPS_1)).await.unwrap_err();
    refused_with(&s, "APPEAL_NOT_CLAIMED");
    let released = r2
        .release_appeal(release(OPS_2))
        .await
        .unwrap()
        .into_inner()
        .appeal
        .unwrap();
    assert_eq!(released.assignee, "");
    let c2 = case(&mut r1, &id2).await;
    assert_eq!(
        trail(&c2),
        [
            (K::Filed, "desk-filer".into(), 0, open),
            (K::Claimed, "ops-1".into(), open, in_review),
            (K::Lapsed, "ops-1".into(), in_review, in_review),
            (K::Claimed, "ops-2".into(), in_review, in_review),
            (K::Released, "ops-2".into(), in_review, in_review),
        ]
    );
}

async fn partner() -> FakePartner {
    FakePartner::start(
        Behaviour::Offers(vec![partner_offer("P-1", 1_000_000, 1100, 0.7)]),
        vec![],
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn review_desk_on_sqlite() {
    let p = partner().await;
    let clock = Clock::manual();
    let router = TestRouter::start_with_clock(config(&p), clock.clone()).await;
    let r1 = ReviewServiceClient::new(router.channel().await);
    let r2 = ReviewServiceClient::new(router.channel().await);
    review_desk(router.client().await, r1, r2, clock).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn review_desk_on_postgres_with_two_replicas() {
    let Some(pg) = PgSchema::create().await else {
        return;
    };
    let p = partner().await;
    let mut cfg = config(&p);
    cfg.store.url = pg.url.clone();
    let clock = Clock::manual();
    let a = TestRouter::start_with_clock(cfg.clone(), clock.clone()).await;
    let b = TestRouter::start_with_clock(cfg, clock.clone()).await;
    let r1 = ReviewServiceClient::new(a.channel().await);
    let r2 = ReviewServiceClient::new(b.channel().await);
    review_desk(a.client().await, r1, r2, clock).await;
    drop((a, b));
    pg.drop_schema().await;
}
