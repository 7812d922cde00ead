//! A stale offer is not accepted: once the applicant is routed again with
//! other data (a new income, say), AcceptOffer on an offer of the earlier
//! application is FAILED_PRECONDITION `OFFER_STALE`, naming the later
//! application in the message; routing again with the same data leaves
//! earlier offers acceptable, and an expired offer stays `OFFER_EXPIRED`.

#![allow(clippy::unwrap_used)]

use finroute_proto::v1 as pb;
use finroute_testkit::{
    Behaviour, FakePartner, TestRouter, config_with, partner_offer, refused_borrower,
};
use tonic::Code;
use tonic_types::StatusExt;

async fn route(router: &TestRouter, req: pb::RouteFinancingRequest) -> pb::RouteFinancingResponse {
    router
        .client()
        .await
        .route_financing(req)
        .await
        .unwrap()
        .into_inner()
}

fn partner_offer_of(r: &pb::RouteFinancingResponse) -> pb::Offer {
    r.offers
        .iter()
        .find(|o| o.adapter_id == "bank-a")
        .unwrap()
        .clone()
}

async fn accept(
    router: &TestRouter,
    offer: &pb::Offer,
    key: &str,
) -> Result<pb::AcceptOfferResponse, tonic::Status> {
    router
        .client()
        .await
        .accept_offer(pb::AcceptOfferRequest {
            offer_id: offer.offer_id.clone(),
            idempotency_key: key.into(),
            applicant_id: refused_borrower().applicant.unwrap().applicant_id,
        })
        .await
        .map(|r| r.into_inner())
}

#[tokio::test]
async fn an_offer_made_on_data_that_changed_is_refused() {
    let p = FakePartner::start(
        Behaviour::Offers(vec![partner_offer("P-1", 600_000, 1_100, 0.7)]),
        vec![],
    )
    .await;
    let router = TestRouter::start(config_with(vec![p.spec("bank-a", 500)])).await;

    // Routed twice on the same data: the first offer stays acceptable.
    let first = route(&router, refused_borrower()).await;
    let again = route(&router, refused_borrower()).await;
    assert_ne!(first.application_id, again.application_id);

    // Then the applicant's income changes and they are routed again.
    let mut changed = refused_borrower();
    changed
        .applicant
        .as_mut()
        .unwrap()
        .monthly_income
        .as_mut()
        .unwrap()
        .amount_minor += 500_000;
    let latest = route(&router, changed).await;

    for old in [&first, &again] {
        let s = accept(
            &router,
            &partner_offer_of(old),
            &format!("stale-{}", old.application_id),
        )
        .await
        .unwrap_err();
        assert_eq!(s.code(), Code::FailedPrecondition, "{s:?}");
        let d = s.get_error_details();
        assert_eq!(d.error_info().unwrap().reason, "OFFER_STALE");
        assert!(s.message().contains(&latest.application_id), "{s:?}");
        assert!(!s.message().contains("2150000") && !s.message().contains("21 500"));
    }
    assert!(p.accepts().is_empty(), "the partner was not asked");

    // The latest application's offer is accepted.
    let ok = accept(&router, &partner_offer_of(&latest), "fresh-1")
        .await
        .unwrap();
    assert_eq!(ok.status, pb::AcceptanceStatus::Accepted as i32);
    router.stop().await.unwrap();
}
