//! Hostile text and values from partners and callers: one party's bad input
//! fails only its own channel or its own call, with the field named, and
//! nothing unsafe is kept or echoed. A real router on 127.0.0.1:0.

#![allow(clippy::unwrap_used)]

use finroute_core::text::is_unsafe;
use finroute_proto::v1 as pb;
use finroute_testkit::{
    Behaviour, FakePartner, TestRouter, builtin_specs, cny, config_with, partner_offer,
    refused_borrower, report_of, status_of, violated_fields, with_timeout,
};
use tonic::Code;

fn clean_text(s: &str) -> bool {
    !s.chars().any(is_unsafe)
}

async fn router_with(partner: &FakePartner) -> TestRouter {
    let mut specs = builtin_specs();
    specs.retain(|s| s.id != "partner-sim");
    specs.push(partner.spec("hostile", 2_000));
    TestRouter::start(config_with(specs)).await
}

/// A partner whose error carries 600 bytes of Chinese (3-byte characters,
/// cut at byte 200 used to panic mid-character), an ANSI escape and a NUL:
/// its own channel is ERROR with a short, clean detail, and the caller gets
/// the other channels' offers.
#[tokio::test]
async fn a_partner_error_in_long_chinese_text_fails_only_its_own_channel() {
    let message = format!(
        "\u{1b}[1m{}\u{0}\u{202E}",
        "合作方系统繁忙，请稍后再试。".repeat(15)
    );
    assert!(message.len() > 600);
    let partner = FakePartner::start(Behaviour::ErrorsWith(Code::Internal, message), vec![]).await;
    let router = router_with(&partner).await;
    let mut client = router.client().await;
    for _ in 0..3 {
        let r = client
            .route_financing(with_timeout(refused_borrower(), 2_000))
            .await
            .expect("answered with the other channels' offers")
            .into_inner();
        assert!(!r.offers.is_empty());
        assert_eq!(status_of(&r, "hostile"), pb::ChannelStatus::Error);
        let detail = &report_of(&r, "hostile").detail;
        assert!(detail.len() <= 300, "{} bytes", detail.len());
        assert!(detail.contains("合作方"), "{detail}");
        assert!(clean_text(detail), "{detail:?}");
    }
}

/// Offers and declines full of hostile text: every text kept is clean and
/// bounded; an offer whose reference is not a valid id is rejected alone.
#[tokio::test]
async fn hostile_partner_texts_are_cleaned_and_bounded() {
    let mut good = partner_offer("H-1", 1_000_000, 1100, 0.8);
    good.product_name = format!("贷款\u{1b}[2J\u{0}{}", "长".repeat(200));
    good.disclosures = vec![
        "利率\u{202E}gnp.exe".into(),
        format!("{}\u{7}", "披露".repeat(2_000)),
    ];
    let mut bad_ref = partner_offer("H-2\u{0}", 1_000_000, 1100, 0.8);
    bad_ref.term_months = 24;
    let partner = FakePartner::start(
        Behaviour::Reply(pb::QuoteResponse {
            offers: vec![good, bad_ref],
            decline_reason: format!("\u{1b}]0;pwned\u{7}{}", "拒绝".repeat(300)),
            decline: None,
        }),
        vec![],
    )
    .await;
    let router = router_with(&partner).await;
    let mut client = router.client().await;
    let r = client
        .route_financing(with_timeout(refused_borrower(), 2_000))
        .await
        .unwrap()
        .into_inner();
    let ours: Vec<_> = r
        .offers
        .iter()
        .filter(|o| o.adapter_id == "hostile")
        .collect();
    assert_eq!(ours.len(), 1, "the offer with a valid reference is kept");
    let offer = ours[0];
    assert!(
        offer.product_name.starts_with("贷款"),
        "{}",
        offer.product_name
    );
    assert!(offer.product_name.len() <= 200);
    for text in std::iter::once(&offer.product_name).chain(&offer.disclosures) {
        assert!(clean_text(text), "{text:?}");
        assert!(text.len() <= 4096);
    }
    let report = report_of(&r, "hostile");
    assert!(clean_text(&report.detail), "{:?}", report.detail);
    assert!(report.detail.len() <= 600, "{}", report.detail.len());
    assert_eq!(report.offers_rejected, 1, "{report:?}");
    // What was kept is what was stored.
    let stored = client
        .get_application(pb::GetApplicationRequest {
            application_id: r.application_id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(stored.offers.len(), r.offers.len());
}

fn with_applicant(f: impl FnOnce(&mut pb::Applicant)) -> pb::RouteFinancingRequest {
    let mut r = refused_borrower();
    f(r.applicant.as_mut().unwrap());
    r
}

/// Ids, amounts, regions and consent that used to be accepted: each refused
/// with INVALID_ARGUMENT naming exactly its field, on the embedded store.
#[tokio::test]
async fn every_validation_gap_is_a_named_field_violation() {
    let router = TestRouter::embedded().await;
    let mut client = router.client().await;
    let far_future = prost_types::Timestamp {
        seconds: 4_102_444_800, // 2100-01-01
        nanos: 0,
    };
    let cases: Vec<(&str, pb::RouteFinancingRequest)> = vec![
        (
            "applicant.applicant_id",
            with_applicant(|a| a.applicant_id = "app\u{0}7f".into()),
        ),
        (
            "applicant.applicant_id",
            with_applicant(|a| a.applicant_id = "app\u{1b}[31m".into()),
        ),
        (
            "applicant.applicant_id",
            with_applicant(|a| a.applicant_id = "app\u{202E}fc".into()),
        ),
        ("request_id", {
            let mut r = refused_borrower();
            r.request_id = "req\u{0}1".into();
            r
        }),
        ("requested_amount.amount_minor", {
            let mut r = refused_borrower();
            r.requested_amount = Some(cny(i64::MAX));
            r
        }),
        (
            "applicant.monthly_income.amount_minor",
            with_applicant(|a| a.monthly_income = Some(cny(i64::MAX))),
        ),
        (
            "applicant.collateral[0].appraised_value.amount_minor",
            with_applicant(|a| a.collateral[0].appraised_value = Some(cny(i64::MAX))),
        ),
        ("primary_decision.displayed_line.amount_minor", {
            let mut r = refused_borrower();
            r.primary_decision.as_mut().unwrap().displayed_line = Some(cny(-100));
            r
        }),
        ("primary_decision.drawable_amount.amount_minor", {
            let mut r = refused_borrower();
            r.primary_decision.as_mut().unwrap().drawable_amount = Some(cny(-100));
            r
        }),
        (
            "applicant.region",
            with_applicant(|a| a.region = "CN\u{0}31".into()),
        ),
        (
            "applicant.region",
            with_applicant(|a| a.region = "not a region".into()),
        ),
        (
            "applicant.consent.given_at",
            with_applicant(|a| a.consent.as_mut().unwrap().given_at = Some(far_future)),
        ),
        (
            "applicant.consent.recipients[0]",
            with_applicant(|a| a.consent.as_mut().unwrap().recipients = vec!["x".repeat(10_000)]),
        ),
        (
            "applicant.consent.recipients[1]",
            with_applicant(|a| {
                a.consent.as_mut().unwrap().recipients = vec!["ok".into(), "bad\u{0}".into()]
            }),
        ),
        (
            "applicant.consent.consent_version",
            with_applicant(|a| a.consent.as_mut().unwrap().consent_version = "v\u{1b}1".into()),
        ),
    ];
    for (field, request) in cases {
        let s = client
            .route_financing(with_timeout(request, 2_000))
            .await
            .expect_err(field);
        assert_eq!(s.code(), Code::InvalidArgument, "{field}: {s:?}");
        assert_eq!(violated_fields(&s), vec![field.to_owned()], "{s:?}");
        assert!(
            clean_text(s.message()),
            "{field}: the message echoes no unsafe text"
        );
    }
    // The limits are not off by one: the largest amount and a subdivision pass.
    let mut r = refused_borrower();
    r.requested_amount = Some(cny(finroute_core::money::MAX_AMOUNT_MINOR));
    r.applicant.as_mut().unwrap().region = "CN-BJ".into();
    client
        .route_financing(with_timeout(r, 2_000))
        .await
        .expect("the largest amount and a letter subdivision are valid");
}

/// A NUL or escape in AcceptOffer's ids, FileAppeal's fields and
/// ResolveAppeal's note is refused with the field named: nothing reaches
/// the store, so both backends agree.
#[tokio::test]
async fn accept_and_appeal_refuse_control_characters_naming_the_field() {
    let router = TestRouter::embedded().await;
    let mut client = router.client().await;
    let routed = client
        .route_financing(with_timeout(refused_borrower(), 2_000))
        .await
        .unwrap()
        .into_inner();
    let offer = &routed.offers[0];
    for (field, key, applicant) in [
        ("idempotency_key", "tap\u{0}42", "app-7f3a9c"),
        ("idempotency_key", "tap 42", "app-7f3a9c"),
        ("applicant_id", "tap-42", "app\u{1b}[0m"),
    ] {
        let s = client
            .accept_offer(pb::AcceptOfferRequest {
                offer_id: offer.offer_id.clone(),
                idempotency_key: key.into(),
                applicant_id: applicant.into(),
            })
            .await
            .expect_err(field);
        assert_eq!(s.code(), Code::InvalidArgument);
        assert_eq!(violated_fields(&s), vec![field.to_owned()], "{s:?}");
    }
    let appeal = |details: &str, key: &str| pb::FileAppealRequest {
        application_id: routed.application_id.clone(),
        adapter_id: String::new(),
        reason: pb::AppealReason::IncomeChanged as i32,
        details: details.into(),
        idempotency_key: key.into(),
    };
    for (field, request) in [
        ("details", appeal("new job\u{0}", "")),
        ("details", appeal("\u{1b}[2Jnew job", "")),
        ("idempotency_key", appeal("new job", "k\u{0}")),
    ] {
        let s = client.file_appeal(request).await.expect_err(field);
        assert_eq!(s.code(), Code::InvalidArgument);
        assert_eq!(violated_fields(&s), vec![field.to_owned()], "{s:?}");
    }
    // Newlines are fine in free text.
    let filed = client
        .file_appeal(appeal("新工作\n自三月起", "k-1"))
        .await
        .unwrap()
        .into_inner();
    let mut review = pb::review_service_client::ReviewServiceClient::new(router.channel().await);
    let s = review
        .resolve_appeal(pb::ResolveAppealRequest {
            appeal_id: filed.appeal_id.clone(),
            decision: pb::AppealDecision::Upheld as i32,
            note: "checked\u{0}".into(),
            reason_code: pb::DecisionReason::Other as i32,
        })
        .await
        .expect_err("NUL in the note");
    assert_eq!(violated_fields(&s), vec!["note".to_owned()], "{s:?}");
}
