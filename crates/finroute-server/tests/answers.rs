//! Partners answer more than yes or no (issue 18), end to end: a real
//! router on 127.0.0.1:0 and fake partners on loopback that decline with a
//! typed reason, make counter-offers and conditional offers; requests that
//! exclude or pick channels; the expected decision time of each offer.

#![allow(clippy::unwrap_used)]

use finroute_proto::v1 as pb;
use finroute_server::Config;
use finroute_testkit::{
    AcceptMode, Behaviour, FakePartner, TestRouter, conditional_offer, config_with, counter_offer,
    decline, fake_description, partner_offer, refused_borrower, report_of, violated_fields,
};
use tonic::Code;

use pb::AdjustedTerm as Adj;
use pb::ApplicantField as Field;
use pb::DeclineReason as Why;

/// A partner that advertises APRs from `apr_from_bps` (0: none).
async fn partner_advertising(behaviour: Behaviour, apr_from_bps: i32) -> FakePartner {
    let description = pb::AdapterDescription {
        advertised_apr_from_bps: apr_from_bps,
        ..fake_description(vec![])
    };
    FakePartner::start_described(behaviour, description, AcceptMode::Book).await
}

fn config(partners: &[(&FakePartner, &str)]) -> Config {
    config_with(partners.iter().map(|(p, id)| p.spec(id, 2_000)).collect())
}

/// The README's borrower asking for 10 000 CNY over exactly 12 months.
fn twelve_months(locale: &str) -> pb::RouteFinancingRequest {
    pb::RouteFinancingRequest {
        min_term_months: 12,
        max_term_months: 12,
        locale: locale.into(),
        ..refused_borrower()
    }
}

async fn route(router: &TestRouter, req: pb::RouteFinancingRequest) -> pb::RouteFinancingResponse {
    let mut client = router.client().await;
    client.route_financing(req).await.unwrap().into_inner()
}

fn suggestion(r: &pb::RouteFinancingResponse, kind: pb::SuggestionKind) -> Vec<&pb::Suggestion> {
    let e = r.explanation.as_ref().unwrap();
    e.suggestions
        .iter()
        .filter(|s| s.kind == kind as i32)
        .collect()
}

#[tokio::test]
async fn partners_missing_data_lead_to_a_suggestion_naming_the_fields_and_the_rate() {
    let missing = decline(Why::MissingData, &[Field::Employment, Field::MonthlyIncome]);
    let a = partner_advertising(Behaviour::Declines(missing), 0).await;
    let b = partner_advertising(
        Behaviour::Declines(pb::PartnerDecline {
            text: "payslips needed".into(),
            ..decline(Why::IncomeUnverified, &[])
        }),
        1_120,
    )
    .await;
    let c = partner_advertising(Behaviour::Declines(decline(Why::Capacity, &[])), 900).await;
    let router = TestRouter::start(config(&[(&a, "bank-a"), (&b, "bank-b"), (&c, "bank-c")])).await;

    let r = route(&router, twelve_months("en")).await;
    assert!(r.offers.is_empty());
    // Each report carries the typed decline; the text stays the partner's.
    let report = report_of(&r, "bank-a");
    assert_eq!(report.status, pb::ChannelStatus::NoOffer as i32);
    let d = report.decline.as_ref().unwrap();
    assert_eq!(d.reason, Why::MissingData as i32);
    assert_eq!(
        d.missing_fields,
        [Field::MonthlyIncome as i32, Field::Employment as i32]
    );
    let d = report_of(&r, "bank-b").decline.as_ref().unwrap();
    assert_eq!(
        (d.reason, d.text.as_str()),
        (Why::IncomeUnverified as i32, "payslips needed")
    );

    // One factor per partner reason, naming the channels.
    let e = r.explanation.as_ref().unwrap();
    let partner_factors: Vec<(i32, Vec<&str>)> = (e.factors.iter())
        .filter(|f| f.partner_reason != 0)
        .map(|f| {
            assert_eq!(f.reason, 0, "{f:?}");
            (
                f.partner_reason,
                f.adapter_ids.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    assert_eq!(
        partner_factors,
        [
            (Why::IncomeUnverified as i32, vec!["bank-b"]),
            (Why::MissingData as i32, vec!["bank-a"]),
            (Why::Capacity as i32, vec!["bank-c"]),
        ]
    );

    // The data partners asked for, with the lowest rate the askers advertise
    // (bank-c advertises a lower one but asked for nothing).
    let provide = suggestion(&r, pb::SuggestionKind::ProvideData);
    assert_eq!(provide.len(), 1, "{:?}", e.suggestions);
    let s = provide[0];
    assert_eq!(
        s.missing_fields,
        [Field::MonthlyIncome as i32, Field::Employment as i32]
    );
    assert_eq!(s.adapter_ids, ["bank-a", "bank-b"]);
    assert_eq!(s.apr_from_bps, 1_120);
    assert_eq!(
        s.text,
        "2 partners (bank-a, bank-b) need proof of income, your monthly income and your \
         employment: provide them to unlock offers from APR (12 × monthly IRR) 11.20 %"
    );

    let zh = route(&router, twelve_months("zh-CN")).await;
    let s = suggestion(&zh, pb::SuggestionKind::ProvideData)[0];
    assert_eq!(
        s.text,
        "2 家合作机构（bank-a、bank-b）需要您提供收入证明、月收入、就业情况：补充后可获得其报价，年化利率（单利）11.20% 起"
    );
}

#[tokio::test]
async fn a_counter_offer_is_ranked_and_explained_as_adjusted() {
    // bank-a: 8 000 over 18 months instead of 10 000 over 12; bank-b: as asked.
    let a = FakePartner::start(
        Behaviour::Offers(vec![counter_offer(
            "A-1",
            800_000,
            18,
            1_000,
            &[Adj::Term],
            Why::DebtToIncome,
        )]),
        vec![],
    )
    .await;
    let b = FakePartner::start(
        Behaviour::Offers(vec![
            partner_offer("B-1", 1_000_000, 1_400, 0.7),
            // Not marked adjusted: a term outside the request is refused.
            pb::PartnerOffer {
                term_months: 18,
                ..partner_offer("B-2", 800_000, 1_000, 0.7)
            },
        ]),
        vec![],
    )
    .await;
    let router = TestRouter::start(config(&[(&a, "bank-a"), (&b, "bank-b")])).await;

    let r = route(&router, twelve_months("en")).await;
    assert_eq!(r.offers.len(), 2, "{:?}", r.channel_reports);
    let counter = r.offers.iter().find(|o| o.adapter_id == "bank-a").unwrap();
    let plain = r.offers.iter().find(|o| o.adapter_id == "bank-b").unwrap();
    // Ranked like any offer: the cheaper counter-offer first (BALANCED).
    assert_eq!((counter.rank, plain.rank), (1, 2));
    assert_eq!(counter.term_months, 18);
    let adjustment = counter.adjustment.as_ref().unwrap();
    // The partner said TERM; the router saw the smaller amount too.
    assert_eq!(adjustment.changed, [Adj::Amount as i32, Adj::Term as i32]);
    assert_eq!(adjustment.reason, Why::DebtToIncome as i32);
    assert!(plain.adjustment.is_none());
    let b_report = report_of(&r, "bank-b");
    assert_eq!(b_report.rejections.len(), 1, "{b_report:?}");
    assert_eq!(
        (
            b_report.rejections[0].partner_offer_ref.as_str(),
            b_report.rejections[0].reason.as_str()
        ),
        ("B-2", "TERM_OUT_OF_RANGE")
    );

    let counters = suggestion(&r, pb::SuggestionKind::CounterOffer);
    assert_eq!(counters.len(), 1);
    let s = counters[0];
    assert_eq!(s.offer_id, counter.offer_id);
    assert_eq!(
        (s.amount.as_ref().unwrap().amount_minor, s.term_months),
        (800_000, 18)
    );
    assert_eq!(
        s.text,
        "bank-a offers 8 000 CNY over 18 months instead of 10 000 CNY over 12 months"
    );
    let zh = route(&router, twelve_months("zh-CN")).await;
    assert_eq!(
        suggestion(&zh, pb::SuggestionKind::CounterOffer)[0].text,
        "bank-a 可提供 8 000 CNY、期限 18 个月（原申请 10 000 CNY、12 个月）"
    );
}

#[tokio::test]
async fn a_conditional_offer_shows_its_conditions() {
    let a = FakePartner::start(
        Behaviour::Offers(vec![
            conditional_offer(
                "C-1",
                1_000_000,
                1_100,
                &[
                    (pb::ConditionKind::ProofOfIncome, "last 3 payslips"),
                    (pb::ConditionKind::BankStatements, ""),
                ],
            ),
            // CONDITIONAL with no condition: refused, naming the field.
            conditional_offer("C-2", 1_000_000, 1_100, &[]),
        ]),
        vec![],
    )
    .await;
    let router = TestRouter::start(config(&[(&a, "bank-a")])).await;
    let r = route(&router, twelve_months("en")).await;
    assert_eq!(r.offers.len(), 1, "{:?}", r.channel_reports);
    let o = &r.offers[0];
    assert_eq!(o.qualification, pb::Qualification::Conditional as i32);
    let conditions: Vec<(i32, &str)> = (o.conditions.iter())
        .map(|c| (c.kind, c.description.as_str()))
        .collect();
    assert_eq!(
        conditions,
        [
            (pb::ConditionKind::ProofOfIncome as i32, "last 3 payslips"),
            (pb::ConditionKind::BankStatements as i32, ""),
        ]
    );
    let rejection = &report_of(&r, "bank-a").rejections[0];
    assert_eq!(
        (
            rejection.partner_offer_ref.as_str(),
            rejection.field.as_str()
        ),
        ("C-2", "conditions")
    );
}

#[tokio::test]
async fn excluded_channels_are_not_called_and_reported_excluded() {
    let offers = || Behaviour::Offers(vec![partner_offer("P-1", 1_000_000, 1_200, 0.7)]);
    let a = FakePartner::start(offers(), vec![]).await;
    let b = FakePartner::start(offers(), vec![]).await;
    let router = TestRouter::start(config(&[(&a, "bank-a"), (&b, "bank-b")])).await;

    // Excluding bank-a (and an id the router does not know: ignored).
    let r = route(
        &router,
        pb::RouteFinancingRequest {
            exclude_adapter_ids: vec!["bank-a".into(), "bank-gone".into()],
            ..refused_borrower()
        },
    )
    .await;
    assert!(a.quotes().is_empty(), "an excluded partner was called");
    assert_eq!(b.quotes().len(), 1);
    let report = report_of(&r, "bank-a");
    assert_eq!(report.status, pb::ChannelStatus::Excluded as i32);
    assert!(report.decline.is_none() && report.recipients.is_empty());
    assert!(r.offers.iter().all(|o| o.adapter_id == "bank-b"));
    assert_eq!(report_of(&r, "bank-b").status, pb::ChannelStatus::Ok as i32);

    // Only bank-a: bank-b is left out.
    let r = route(
        &router,
        pb::RouteFinancingRequest {
            only_adapter_ids: vec!["bank-a".into()],
            ..refused_borrower()
        },
    )
    .await;
    assert_eq!((a.quotes().len(), b.quotes().len()), (1, 1));
    assert_eq!(
        report_of(&r, "bank-b").status,
        pb::ChannelStatus::Excluded as i32
    );

    // Both lists: refused, naming the field; nobody called.
    let mut client = router.client().await;
    let status = client
        .route_financing(pb::RouteFinancingRequest {
            exclude_adapter_ids: vec!["bank-a".into()],
            only_adapter_ids: vec!["bank-b".into()],
            ..refused_borrower()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(violated_fields(&status), ["only_adapter_ids"]);
    // A malformed id is named too.
    let status = client
        .route_financing(pb::RouteFinancingRequest {
            exclude_adapter_ids: vec!["bank a\n".into()],
            ..refused_borrower()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(violated_fields(&status), ["exclude_adapter_ids[0]"]);
    assert_eq!((a.quotes().len(), b.quotes().len()), (1, 1));
}

#[tokio::test]
async fn answers_from_a_newer_partner_with_unknown_values_are_tolerated() {
    // Enum numbers this router does not know, everywhere an answer has one.
    let mut offer = partner_offer("N-1", 800_000, 1_200, 0.7);
    offer.qualification = 77;
    offer.adjustment = Some(pb::OfferAdjustment {
        changed: vec![55],
        reason: 66,
        text: "\u{1b}[2Jnewer".into(),
    });
    offer.conditions = vec![pb::OfferCondition {
        kind: 88,
        description: "something new".into(),
    }];
    let offering = FakePartner::start(Behaviour::Offers(vec![offer]), vec![]).await;
    let declining = FakePartner::start(
        Behaviour::Reply(pb::QuoteResponse {
            offers: vec![],
            decline_reason: "new reason".into(),
            decline: Some(pb::PartnerDecline {
                reason: 99,
                missing_fields: vec![42, Field::Region as i32],
                text: String::new(),
            }),
        }),
        vec![],
    )
    .await;
    let router = TestRouter::start(config(&[(&offering, "bank-n"), (&declining, "bank-d")])).await;
    let r = route(&router, twelve_months("en")).await;

    let o = &r.offers[0];
    assert_eq!(o.qualification, pb::Qualification::PreQualified as i32);
    let a = o.adjustment.as_ref().unwrap();
    // The unknown change is dropped, the amount change seen; the reason is OTHER.
    assert_eq!(a.changed, [Adj::Amount as i32]);
    assert_eq!(a.reason, Why::Other as i32);
    // Untrusted text is cleaned like every partner text: no control characters.
    assert!(
        a.text.ends_with("newer") && !a.text.contains('\u{1b}'),
        "{:?}",
        a.text
    );
    assert_eq!(o.conditions[0].kind, pb::ConditionKind::Other as i32);

    let d = report_of(&r, "bank-d").decline.as_ref().unwrap();
    assert_eq!(d.reason, Why::Other as i32);
    assert_eq!(d.missing_fields, [Field::Region as i32]);
    assert_eq!(d.text, "new reason");
    // An untyped no is reported, not turned into a factor.
    let e = r.explanation.as_ref().unwrap();
    assert!(e.factors.iter().all(|f| f.partner_reason == 0), "{e:?}");
}

#[tokio::test]
async fn each_offer_expects_the_channels_measured_decision_time_after_a_prior() {
    let a = FakePartner::start(
        Behaviour::Numbered(vec![partner_offer("P", 1_000_000, 1_200, 0.7)]),
        vec![],
    )
    .await;
    let router = TestRouter::start(config(&[(&a, "bank-a")])).await;
    let mut client = router.client().await;
    let prior = pb_duration_ms(
        route(&router, twelve_months("en")).await.offers[0]
            .expected_decision_time
            .as_ref()
            .unwrap(),
    );
    assert_eq!(prior, 3_600_000, "the partner-loan prior");
    for i in 0..finroute_server::decision::MIN_OBSERVATIONS {
        let r = route(&router, twelve_months("en")).await;
        let accepted = client
            .accept_offer(pb::AcceptOfferRequest {
                offer_id: r.offers[0].offer_id.clone(),
                idempotency_key: format!("k-{i}"),
                applicant_id: "app-7f3a9c".into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(accepted.status, pb::AcceptanceStatus::Accepted as i32);
    }
    let learned = pb_duration_ms(
        route(&router, twelve_months("en")).await.offers[0]
            .expected_decision_time
            .as_ref()
            .unwrap(),
    );
    // The fake partner books at once: seconds at most, not the hour's prior.
    assert!(learned < 10_000, "{learned} ms");
}

fn pb_duration_ms(d: &prost_types::Duration) -> i64 {
    d.seconds * 1000 + i64::from(d.nanos / 1_000_000)
}
