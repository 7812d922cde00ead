//! GetKeyFacts over the real server (127.0.0.1:0) on the embedded default's
//! channels: the structured facts match the offer as routed, the text
//! holds each fact in the locale, unknown and other tenants' offers are
//! NOT_FOUND, a bad id is INVALID_ARGUMENT naming `offer_id`, and an
//! unsupported locale falls back to English. Also: a zh-CN routing answer
//! of the embedded default holds no English word in its borrower texts.

#![allow(clippy::unwrap_used)]

use finroute_core::format_major;
use finroute_proto::v1 as pb;
use finroute_server::Config;
use finroute_server::config::ApiKeyConfig;
use finroute_testkit::{TestRouter, refused_borrower, violated_fields};
use sha2::{Digest, Sha256};
use tonic::Code;
use tonic_types::StatusExt;

const KEY_A: &str = "fr_live_tenant_a_router_key";
const KEY_B: &str = "fr_live_tenant_b_router_key";

fn key(id: &str, secret: &str, tenant: &str) -> ApiKeyConfig {
    ApiKeyConfig {
        id: id.into(),
        sha256: hex::encode(Sha256::digest(secret.as_bytes())),
        tenant: tenant.into(),
        roles: vec!["router".into()],
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

/// The embedded default's channels with two tenants.
async fn router() -> TestRouter {
    let mut config = Config::default();
    config.auth.keys = vec![
        key("mobile-a", KEY_A, "platform-a"),
        key("mobile-b", KEY_B, "platform-b"),
    ];
    TestRouter::start(config).await
}

fn facts(offer_id: &str, locale: &str) -> pb::GetKeyFactsRequest {
    pb::GetKeyFactsRequest {
        offer_id: offer_id.into(),
        locale: locale.into(),
    }
}

/// "10 000.00 CNY".
fn amount(m: &Option<pb::Money>) -> String {
    let m = m.as_ref().unwrap();
    format!("{} {}", format_major(m.amount_minor), m.currency_code)
}

fn payment(row: &pb::Installment) -> i64 {
    [&row.principal, &row.interest, &row.fee]
        .into_iter()
        .flatten()
        .map(|m| m.amount_minor)
        .sum()
}

fn pct(bps: i32, sep: &str) -> String {
    format!("{}.{:02}{sep}%", bps / 100, bps % 100)
}

/// Routes the README's borrower in `locale` for tenant A.
async fn route(router: &TestRouter, locale: &str) -> pb::RouteFinancingResponse {
    let mut client = router.client().await;
    let mut req = refused_borrower();
    req.locale = locale.into();
    client
        .route_financing(with_key(req, KEY_A))
        .await
        .unwrap()
        .into_inner()
}

#[tokio::test]
async fn key_facts_match_the_offer_in_english_and_chinese() {
    let router = router().await;
    let mut client = router.client().await;
    let routed = route(&router, "en").await;
    assert!(routed.offers.len() >= 3, "{:?}", routed.offers.len());

    for offer in &routed.offers {
        let k = client
            .get_key_facts(with_key(facts(&offer.offer_id, "en"), KEY_A))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(k.offer_id, offer.offer_id);
        assert_eq!(k.application_id, routed.application_id);
        assert_eq!(k.locale, "en");
        assert_eq!(k.product_name, offer.product_name);
        assert_eq!(k.parties, offer.parties);
        assert_eq!(k.principal, offer.principal);
        assert_eq!(k.disbursed, offer.disbursed);
        assert_eq!(k.term_months, offer.term_months);
        assert_eq!(k.repayment_method, offer.repayment_method);
        assert_eq!(k.payments as usize, offer.schedule.len());
        assert_eq!(k.first_payment, offer.first_payment);
        let last = payment(offer.schedule.last().unwrap());
        assert_eq!(k.last_payment.as_ref().unwrap().amount_minor, last);
        let repaid: i64 = offer.schedule.iter().map(payment).sum();
        assert_eq!(k.total_repaid.as_ref().unwrap().amount_minor, repaid);
        assert_eq!(k.apr_bps, offer.apr_bps);
        assert_eq!(k.effective_annual_rate_bps, offer.effective_annual_rate_bps);
        assert_eq!(k.total_cost, offer.total_cost);
        assert_eq!(k.expires_at, offer.expires_at);
        assert_eq!(k.disclosures, offer.disclosures);
        let labels = k.rate_labels.as_ref().unwrap();
        assert_eq!(
            labels.apr,
            format!("APR (12 × monthly IRR) {}", pct(offer.apr_bps, " "))
        );
        assert_eq!(
            labels.effective_annual_rate,
            format!(
                "effective annual rate {}",
                pct(offer.effective_annual_rate_bps, " ")
            )
        );
        let lines: Vec<&str> = k.text.lines().collect();
        for expected in [
            format!("Key facts of offer {}", offer.offer_id),
            format!("Product: {}", offer.product_name),
            format!("Amount lent: {}", amount(&offer.principal)),
            format!("You receive: {}", amount(&offer.disbursed)),
            format!("Term: {} months", offer.term_months),
            format!("Total repaid: {}", amount(&k.total_repaid)),
            format!("Total cost: {}", amount(&offer.total_cost)),
            labels.apr.clone(),
            labels.effective_annual_rate.clone(),
            k.complaints.clone(),
        ] {
            assert!(
                lines.contains(&expected.as_str()),
                "{expected:?} not a line of:\n{}",
                k.text
            );
        }
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("Payments: ") && l.contains(&amount(&offer.first_payment)))
        );
        assert!(lines.iter().any(|l| l.starts_with("Valid until: ")));
        for d in &offer.disclosures {
            assert!(lines.contains(&format!("Disclosure: {d}").as_str()));
        }
        assert!(k.complaints.contains("FileAppeal"));
    }

    // The same offer in Chinese: every label re-rendered from the numbers.
    let offer = &routed.offers[0];
    let k = client
        .get_key_facts(with_key(facts(&offer.offer_id, "zh-CN"), KEY_A))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(k.locale, "zh-CN");
    assert_eq!(k.apr_bps, offer.apr_bps);
    let labels = k.rate_labels.as_ref().unwrap();
    assert_eq!(
        labels.apr,
        format!("年化利率（单利）{}", pct(offer.apr_bps, ""))
    );
    assert_eq!(
        labels.effective_annual_rate,
        format!(
            "年化利率（复利，IRR）{}",
            pct(offer.effective_annual_rate_bps, "")
        )
    );
    let lines: Vec<&str> = k.text.lines().collect();
    for expected in [
        format!("借款金额：{}", amount(&offer.principal)),
        format!("实际到账：{}", amount(&offer.disbursed)),
        format!("期限：{} 个月", offer.term_months),
        format!("借款总成本：{}", amount(&offer.total_cost)),
        labels.apr.clone(),
    ] {
        assert!(
            lines.contains(&expected.as_str()),
            "{expected:?} not a line of:\n{}",
            k.text
        );
    }
    assert!(k.complaints.contains("可通过申诉渠道提出申诉"));

    // "fr" is not supported: English, not an error.
    let k = client
        .get_key_facts(with_key(facts(&offer.offer_id, "fr"), KEY_A))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(k.locale, "en");
    assert!(k.text.starts_with("Key facts of offer "));
}

#[tokio::test]
async fn without_a_locale_the_facts_speak_the_routing_requests_language() {
    let router = router().await;
    let mut client = router.client().await;
    let zh = route(&router, "zh-CN").await;
    let k = client
        .get_key_facts(with_key(facts(&zh.offers[0].offer_id, ""), KEY_A))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(k.locale, "zh-CN");
    assert_eq!(k.product_name, zh.offers[0].product_name);
    assert!(k.text.contains("关键信息"), "{}", k.text);
    let en = route(&router, "en").await;
    let k = client
        .get_key_facts(with_key(facts(&en.offers[0].offer_id, ""), KEY_A))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(k.locale, "en");
}

#[tokio::test]
async fn unknown_foreign_and_malformed_offer_ids() {
    let router = router().await;
    let mut client = router.client().await;
    let routed = route(&router, "en").await;
    let mine = &routed.offers[0].offer_id;

    let s = client
        .get_key_facts(with_key(facts("off_nope", "en"), KEY_A))
        .await
        .unwrap_err();
    assert_eq!(s.code(), Code::NotFound);
    let info = s.get_error_details();
    assert_eq!(
        info.error_info().map(|i| i.reason.as_str()),
        Some("OFFER_NOT_FOUND")
    );

    // Tenant B does not see tenant A's offer: the same answer as an unknown id.
    let s = client
        .get_key_facts(with_key(facts(mine, "en"), KEY_B))
        .await
        .unwrap_err();
    assert_eq!(s.code(), Code::NotFound);
    assert!(!s.message().contains(mine.as_str()));

    for bad in ["", "has space", &"x".repeat(200)] {
        let s = client
            .get_key_facts(with_key(facts(bad, "en"), KEY_A))
            .await
            .unwrap_err();
        assert_eq!(s.code(), Code::InvalidArgument, "{bad:?}");
        assert_eq!(violated_fields(&s), ["offer_id"], "{bad:?}");
    }

    // The error speaks the request's locale (the field wins over accept-language).
    let s = client
        .get_key_facts(with_key(facts("off_nope", "zh-CN"), KEY_A))
        .await
        .unwrap_err();
    let m = s.get_error_details().localized_message().cloned().unwrap();
    assert_eq!(m.locale, "zh-CN");
    assert!(
        m.message
            .chars()
            .any(|c| ('\u{4E00}'..='\u{9FFF}').contains(&c))
    );
    let mut r = with_key(facts("off_nope", "en"), KEY_A);
    r.metadata_mut()
        .insert("accept-language", "zh-CN".parse().unwrap());
    let s = client.get_key_facts(r).await.unwrap_err();
    let m = s.get_error_details().localized_message().cloned().unwrap();
    assert_eq!(m.locale, "en");

    // Without a key: UNAUTHENTICATED, like every FinancingRouter call.
    let s = client.get_key_facts(facts(mine, "en")).await.unwrap_err();
    assert_eq!(s.code(), Code::Unauthenticated);
}

/// Every borrower-facing text of a zh-CN answer of the embedded default,
/// with what may stay Latin removed (ids, currency codes, "IRR"), holds
/// no ASCII letter.
#[tokio::test]
async fn a_zh_cn_answer_of_the_embedded_default_is_chinese() {
    let router = TestRouter::embedded().await;
    let mut client = router.client().await;
    let mut req = refused_borrower();
    req.locale = "zh-CN".into();
    let routed = client.route_financing(req).await.unwrap().into_inner();
    assert!(routed.offers.len() >= 3);
    let kinds: std::collections::BTreeSet<i32> =
        routed.offers.iter().map(|o| o.product_kind).collect();
    assert_eq!(kinds.len(), 3, "secured, installment and partner offers");

    let mut texts: Vec<(String, String)> = Vec::new();
    let mut add = |what: String, text: &str| texts.push((what, text.to_owned()));
    for o in &routed.offers {
        add(format!("{} product_name", o.offer_id), &o.product_name);
        for d in &o.disclosures {
            add(format!("{} disclosure", o.offer_id), d);
        }
        for r in &o.rank_reasons {
            add(format!("{} rank reason", o.offer_id), r);
        }
        // Pricing writes these (empty until it does).
        for l in o.cost_breakdown.iter().filter(|l| !l.text.is_empty()) {
            add(format!("{} cost line", o.offer_id), &l.text);
        }
        if let Some(l) = o.rate_labels.as_ref().filter(|l| !l.apr.is_empty()) {
            add(format!("{} apr label", o.offer_id), &l.apr);
            add(
                format!("{} ear label", o.offer_id),
                &l.effective_annual_rate,
            );
        }
    }
    let explanation = routed.explanation.as_ref().unwrap();
    assert!(!explanation.factors.is_empty() && !explanation.suggestions.is_empty());
    for f in &explanation.factors {
        add("factor".into(), &f.text);
    }
    for s in &explanation.suggestions {
        add("suggestion".into(), &s.text);
    }
    add("plan".into(), &routed.plan.as_ref().unwrap().summary);

    let mut allowed: Vec<String> = vec!["CNY".into(), "IRR".into()];
    allowed.extend(routed.channel_reports.iter().map(|r| r.adapter_id.clone()));
    allowed.extend(routed.offers.iter().map(|o| o.offer_id.clone()));
    allowed.extend(routed.offers.iter().map(|o| o.adapter_id.clone()));
    // Registered legal names are proper names, not texts to translate.
    allowed.extend(
        (routed.offers.iter()).flat_map(|o| o.parties.iter().map(|p| p.legal_name.clone())),
    );
    // Longest first: "partner-sim" before a shorter id inside it.
    allowed.sort_by_key(|a| std::cmp::Reverse(a.len()));
    for (what, text) in &texts {
        assert!(!text.is_empty(), "{what} is empty");
        let mut rest = text.clone();
        for a in &allowed {
            rest = rest.replace(a.as_str(), "");
        }
        assert!(
            !rest.chars().any(|c| c.is_ascii_alphabetic()),
            "{what} is not all Chinese: {text:?}"
        );
    }
}
