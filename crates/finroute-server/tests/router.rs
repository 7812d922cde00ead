//! The router end to end: a real server on 127.0.0.1:0, called over gRPC
//! with a tonic client, with partners as real gRPC servers on loopback.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::time::Duration;

use finroute_proto::v1 as pb;
use finroute_testkit::{
    Behaviour, FakePartner, TestRouter, builtin_specs, config_with, partner_offer,
    refused_borrower, violated_fields, with_timeout,
};
use pb::ApplicantField;
use prost::Message;
use tokio_stream::StreamExt;
use tonic::Code;

#[tokio::test]
async fn embedded_default_answers_a_refused_borrower_with_three_kinds_of_offer() {
    let router = TestRouter::embedded().await;
    let mut client = router.client().await;
    let r = client
        .route_financing(refused_borrower())
        .await
        .unwrap()
        .into_inner();

    assert!(r.application_id.starts_with("app_"));
    assert!(!r.partial);
    assert!(r.offers.len() >= 3, "{} offers", r.offers.len());
    let kinds: BTreeSet<i32> = r.offers.iter().map(|o| o.product_kind).collect();
    for k in [
        pb::ProductKind::SecuredLoan,
        pb::ProductKind::Installment,
        pb::ProductKind::PartnerLoan,
    ] {
        assert!(kinds.contains(&(k as i32)), "missing {k:?}");
    }
    for (i, o) in r.offers.iter().enumerate() {
        assert_eq!(o.rank, i as i32 + 1, "ranked 1..n in order");
        assert_eq!(
            o.schedule.len(),
            o.term_months as usize,
            "one row per month"
        );
        assert!(o.apr_bps > 0 && o.approval_odds > 0.0 && o.approval_odds <= 1.0);
        assert!(!o.offer_id.is_empty() && !o.rank_reasons.is_empty());
        let repaid: i64 = o
            .schedule
            .iter()
            .map(|row| row.principal.as_ref().unwrap().amount_minor)
            .sum();
        assert_eq!(
            repaid,
            o.principal.as_ref().unwrap().amount_minor,
            "schedule repays the principal"
        );
    }
    let ids: BTreeSet<&str> = r.offers.iter().map(|o| o.offer_id.as_str()).collect();
    assert_eq!(ids.len(), r.offers.len(), "offer ids are unique");
    assert_eq!(r.channel_reports.len(), 3, "one report per adapter");
    assert!(
        r.channel_reports
            .iter()
            .all(|c| c.status == pb::ChannelStatus::Ok as i32),
        "{:?}",
        r.channel_reports
    );
    let explanation = r.explanation.unwrap();
    assert_eq!(
        explanation.factors.len(),
        2,
        "one factor per refusal reason"
    );
    assert!(!explanation.suggestions.is_empty());
    let plan = r.plan.unwrap();
    assert!(!plan.offer_ids.is_empty() && plan.approval_probability > 0.0);
    router.stop().await.unwrap();
}

#[tokio::test]
async fn stream_offers_emits_reports_and_offers_then_the_final_answer() {
    let router = TestRouter::embedded().await;
    let mut client = router.client().await;
    let mut stream = client
        .stream_offers(refused_borrower())
        .await
        .unwrap()
        .into_inner();
    let (mut reports, mut offers, mut last) = (0, 0, None);
    while let Some(event) = stream.next().await {
        match event.unwrap().event.unwrap() {
            pb::route_event::Event::ChannelReport(_) => reports += 1,
            pb::route_event::Event::Offer(_) => {
                assert!(last.is_none(), "offers come before the final answer");
                offers += 1
            }
            pb::route_event::Event::FinalResponse(r) => last = Some(r),
        }
    }
    let last = last.expect("a final response");
    assert_eq!(reports, 3);
    assert!(
        offers >= last.offers.len(),
        "every final offer was streamed first"
    );
    // The final answer is stored like RouteFinancing's.
    let app = client
        .get_application(pb::GetApplicationRequest {
            application_id: last.application_id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(app.offers, last.offers);
}

#[tokio::test]
async fn get_application_returns_what_was_routed_and_not_found_otherwise() {
    let router = TestRouter::embedded().await;
    let mut client = router.client().await;
    let routed = client
        .route_financing(refused_borrower())
        .await
        .unwrap()
        .into_inner();
    let app = client
        .get_application(pb::GetApplicationRequest {
            application_id: routed.application_id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(app.application_id, routed.application_id);
    assert_eq!(app.offers, routed.offers);
    assert_eq!(app.channel_reports, routed.channel_reports);
    assert_eq!(app.explanation, routed.explanation);
    assert_eq!(app.plan, routed.plan);
    let view = |view: pb::ApplicationView| pb::GetApplicationRequest {
        application_id: routed.application_id.clone(),
        view: view as i32,
    };
    // FULL is the unset view: every offer as sent.
    let full = client
        .get_application(view(pb::ApplicationView::Full))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(full, app);
    // BASIC: the same without schedules and disclosures.
    let basic = client
        .get_application(view(pb::ApplicationView::Basic))
        .await
        .unwrap()
        .into_inner();
    assert!(routed.offers.iter().all(|o| !o.schedule.is_empty()));
    assert!(routed.offers.iter().any(|o| !o.disclosures.is_empty()));
    let mut expected = app.clone();
    for o in &mut expected.offers {
        o.schedule.clear();
        o.disclosures.clear();
    }
    assert_eq!(basic, expected);
    // The schedules and disclosures are ~40 % of the bytes (9.9 -> 5.7 KB).
    assert!(
        basic.encoded_len() * 3 < app.encoded_len() * 2,
        "{} vs {}",
        basic.encoded_len(),
        app.encoded_len()
    );
    let mut unknown = view(pb::ApplicationView::Basic);
    unknown.view = 9;
    let bad = client.get_application(unknown).await.unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert_eq!(violated_fields(&bad), ["view"]);
    let missing = client
        .get_application(pb::GetApplicationRequest {
            application_id: "app_nope".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
}

#[tokio::test]
async fn invalid_requests_name_each_bad_field() {
    let router = TestRouter::embedded().await;
    let mut client = router.client().await;
    let mut req = refused_borrower();
    req.requested_amount.as_mut().unwrap().amount_minor = -5;
    req.min_term_months = 24;
    req.max_term_months = 6;
    let a = req.applicant.as_mut().unwrap();
    a.applicant_id.clear();
    a.credit_score = Some(1200);
    a.collateral[0]
        .appraised_value
        .as_mut()
        .unwrap()
        .currency_code = "yuan".into();
    let status = client.route_financing(req).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let fields: BTreeSet<String> = violated_fields(&status).into_iter().collect();
    for want in [
        "requested_amount.amount_minor",
        "max_term_months",
        "applicant.applicant_id",
        "applicant.credit_score",
        "applicant.collateral[0].appraised_value.currency_code",
    ] {
        assert!(fields.contains(want), "{want} not in {fields:?}");
    }
    assert!(
        !status.message().contains("1200"),
        "no personal values in errors: {}",
        status.message()
    );
}

#[tokio::test]
async fn a_remote_partner_receives_only_its_required_fields() {
    let partner = FakePartner::start(
        Behaviour::Offers(vec![partner_offer("p-1", 1_000_000, 1100, 0.7)]),
        vec![ApplicantField::CreditScore, ApplicantField::Employment],
    )
    .await;
    let router = TestRouter::start(config_with(vec![partner.spec("bank-a", 500)])).await;
    let mut client = router.client().await;
    let r = client
        .route_financing(refused_borrower())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.offers.len(), 1);
    assert_eq!(
        r.offers[0].adapter_id, "bank-a",
        "offers carry the config id"
    );
    assert_eq!(r.offers[0].partner_offer_ref, "p-1");

    let quotes = partner.quotes();
    assert_eq!(quotes.len(), 1);
    let a = quotes[0].applicant.clone().unwrap();
    assert_eq!(a.applicant_id, "app-7f3a9c");
    assert!(a.consent.is_some());
    assert_eq!(a.credit_score, Some(688));
    assert_eq!(a.employment, pb::EmploymentType::Employed as i32);
    assert!(a.region.is_empty(), "region not declared");
    assert!(
        a.monthly_income.is_none()
            && a.monthly_debt_payments.is_none()
            && a.income_volatility.is_none()
    );
    assert!(a.collateral.is_empty(), "collateral not declared");
}

#[tokio::test]
async fn without_consent_a_partner_is_not_called() {
    let partner = FakePartner::start(
        Behaviour::Offers(vec![partner_offer("p-1", 1_000_000, 1100, 0.7)]),
        vec![ApplicantField::CreditScore],
    )
    .await;
    let mut adapters = builtin_specs();
    adapters.push(partner.spec("bank-a", 500));
    let router = TestRouter::start(config_with(adapters)).await;
    let mut client = router.client().await;

    let mut req = refused_borrower();
    req.applicant
        .as_mut()
        .unwrap()
        .consent
        .as_mut()
        .unwrap()
        .share_with_partners = false;
    let r = client.route_financing(req).await.unwrap().into_inner();
    let status = |id: &str| {
        r.channel_reports
            .iter()
            .find(|c| c.adapter_id == id)
            .unwrap()
            .status
    };
    assert_eq!(status("bank-a"), pb::ChannelStatus::NoConsent as i32);
    assert_eq!(
        status("partner-sim"),
        pb::ChannelStatus::NoConsent as i32,
        "the simulated partner is a partner too"
    );
    assert_eq!(
        status("secured"),
        pb::ChannelStatus::Ok as i32,
        "the platform's own products still answer"
    );
    assert!(r.offers.iter().all(|o| o.adapter_id != "bank-a"));

    // Consent naming other recipients does not cover bank-a either.
    let mut req = refused_borrower();
    req.applicant
        .as_mut()
        .unwrap()
        .consent
        .as_mut()
        .unwrap()
        .recipients = vec!["partner-sim".into()];
    let r = client.route_financing(req).await.unwrap().into_inner();
    let bank = r
        .channel_reports
        .iter()
        .find(|c| c.adapter_id == "bank-a")
        .unwrap();
    assert_eq!(bank.status, pb::ChannelStatus::NoConsent as i32);
    let sim = r
        .channel_reports
        .iter()
        .find(|c| c.adapter_id == "partner-sim")
        .unwrap();
    assert_eq!(sim.status, pb::ChannelStatus::Ok as i32);

    assert!(
        partner.quotes().is_empty(),
        "the partner received nothing at all"
    );
}

#[tokio::test]
async fn a_hung_partner_costs_only_its_own_channel_within_the_callers_deadline() {
    let hung = FakePartner::start(Behaviour::Hung, vec![ApplicantField::CreditScore]).await;
    let mut adapters = builtin_specs();
    adapters.push(hung.spec("bank-hung", 10_000));
    let router = TestRouter::start(config_with(adapters)).await;
    let mut client = router.client().await;
    let started = tokio::time::Instant::now();
    let r = client
        .route_financing(with_timeout(refused_borrower(), 700))
        .await
        .unwrap()
        .into_inner();
    let elapsed = started.elapsed();
    assert!(
        elapsed < Duration::from_millis(700),
        "answered in {elapsed:?}: {:?}",
        r.channel_reports
    );
    assert!(r.partial, "{:?}", r.channel_reports);
    let hung_report = r
        .channel_reports
        .iter()
        .find(|c| c.adapter_id == "bank-hung")
        .unwrap();
    assert_eq!(hung_report.status, pb::ChannelStatus::Timeout as i32);
    assert!(
        r.offers.len() >= 3,
        "the healthy channels' offers still arrive"
    );
}

#[tokio::test]
async fn a_failing_partner_is_reported_as_error() {
    let failing = FakePartner::start(Behaviour::Errors(Code::Unavailable), vec![]).await;
    let router = TestRouter::start(config_with(vec![failing.spec("bank-down", 500)])).await;
    let mut client = router.client().await;
    let r = client
        .route_financing(refused_borrower())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.channel_reports[0].status, pb::ChannelStatus::Error as i32);
    assert!(r.offers.is_empty() && !r.partial);
}

#[tokio::test]
async fn garbage_offers_are_rejected_one_by_one_with_reasons() {
    let mut wrong_currency = partner_offer("p-usd", 1_000_000, 1100, 0.7);
    wrong_currency.principal.as_mut().unwrap().currency_code = "USD".into();
    let mut bad_prob = partner_offer("p-nan", 1_000_000, 1100, 0.7);
    bad_prob.approval_probability = f64::NAN;
    let mut bad_term = partner_offer("p-term", 1_000_000, 1100, 0.7);
    bad_term.term_months = 0;
    let mut bad_code = partner_offer("p-code", 1_000_000, 1100, 0.7);
    bad_code.principal.as_mut().unwrap().currency_code = "??".into();
    let good = partner_offer("p-good", 1_000_000, 1100, 0.7);
    let partner = FakePartner::start(
        Behaviour::Offers(vec![wrong_currency, bad_prob, bad_term, bad_code, good]),
        vec![ApplicantField::CreditScore],
    )
    .await;
    let router = TestRouter::start(config_with(vec![partner.spec("bank-x", 500)])).await;
    let mut client = router.client().await;
    let r = client
        .route_financing(refused_borrower())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.offers.len(), 1);
    assert_eq!(r.offers[0].partner_offer_ref, "p-good");
    let report = &r.channel_reports[0];
    assert_eq!(report.status, pb::ChannelStatus::Ok as i32);
    assert_eq!((report.offers_returned, report.offers_rejected), (5, 4));
    for reference in ["p-usd", "p-nan", "p-term", "p-code"] {
        assert!(
            report.detail.contains(reference),
            "{reference} not named in {:?}",
            report.detail
        );
    }
}

#[tokio::test]
async fn the_example_partner_bank_plugs_in_as_a_remote_channel() {
    let addr = partner_bank::spawn(
        partner_bank::Settings::default(),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let mut adapters = builtin_specs();
    adapters.push(finroute_testkit::remote_spec(
        "partner-bank",
        &format!("http://{addr}"),
        500,
    ));
    let router = TestRouter::start(config_with(adapters)).await;
    let mut client = router.client().await;
    let r = client
        .route_financing(refused_borrower())
        .await
        .unwrap()
        .into_inner();
    let bank: Vec<_> = r
        .offers
        .iter()
        .filter(|o| o.adapter_id == "partner-bank")
        .collect();
    assert_eq!(bank.len(), 2, "12 and 24 months within 6..=24");
    assert!(
        bank.iter()
            .all(|o| o.product_kind == pb::ProductKind::PartnerLoan as i32)
    );
}

#[tokio::test]
async fn a_repeated_request_id_returns_the_stored_answer() {
    let router = TestRouter::embedded().await;
    let mut client = router.client().await;
    let mut req = refused_borrower();
    req.request_id = "req-42".into();
    let first = client
        .route_financing(req.clone())
        .await
        .unwrap()
        .into_inner();
    let again = client
        .route_financing(req.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first, again);
    req.requested_amount.as_mut().unwrap().amount_minor += 100;
    let clash = client.route_financing(req).await.unwrap_err();
    assert_eq!(clash.code(), Code::AlreadyExists);
}

#[tokio::test]
async fn reflection_v1alpha_lists_every_service_for_grpcurl() {
    use tonic_reflection::pb::v1alpha::ServerReflectionRequest;
    use tonic_reflection::pb::v1alpha::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1alpha::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1alpha::server_reflection_response::MessageResponse;

    let router = TestRouter::embedded().await;
    let mut client = ServerReflectionClient::new(router.channel().await);
    let req = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut replies = client
        .server_reflection_info(tokio_stream::iter(vec![req]))
        .await
        .unwrap()
        .into_inner();
    let reply = replies.next().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = reply.message_response else {
        panic!("list services")
    };
    let names: BTreeSet<String> = list.service.into_iter().map(|s| s.name).collect();
    for want in [
        "finroute.v1.FinancingRouter",
        "finroute.v1.ReviewService",
        "grpc.health.v1.Health",
    ] {
        assert!(names.contains(want), "{want} not in {names:?}");
    }
}

#[tokio::test]
async fn the_router_recomputes_apr_and_enforces_the_regions_rate_cap() {
    // The "7.2 % a year" installment ad: 0.60 %/month flat fee over 12 months.
    let mut flat = partner_offer("p-flat", 1_000_000, 720, 0.7);
    flat.repayment_method = pb::RepaymentMethod::FlatFeeInstallment as i32;
    flat.monthly_fee_rate_bps = 60;
    flat.nominal_rate_bps = 0;
    // 30 % a year for a CN-31 borrower: above the 2400 bp cap.
    let usurious = partner_offer("p-3000", 1_000_000, 3000, 0.9);
    let partner = FakePartner::start(
        Behaviour::Offers(vec![flat, usurious]),
        vec![ApplicantField::CreditScore],
    )
    .await;
    let router = TestRouter::start(config_with(vec![partner.spec("bank-ad", 500)])).await;
    let mut client = router.client().await;
    let r = client
        .route_financing(refused_borrower())
        .await
        .unwrap()
        .into_inner();

    assert_eq!(r.offers.len(), 1, "{:?}", r.channel_reports);
    let o = &r.offers[0];
    assert_eq!(o.partner_offer_ref, "p-flat");
    assert_eq!(o.stated_apr_bps, 720);
    assert_eq!(o.apr_bps, 1303, "the true APR of the cash flows");
    assert!(
        o.warnings
            .contains(&(pb::OfferWarning::StatedAprUnderstated as i32))
    );
    let report = &r.channel_reports[0];
    assert_eq!((report.offers_returned, report.offers_rejected), (2, 1));
    assert!(report.detail.contains("p-3000"), "{}", report.detail);
}
