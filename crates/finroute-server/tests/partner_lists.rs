//! Parties, consent and partner name-lists end to end (docs/disclosure.md):
//! a real router on 127.0.0.1:0 with a fake partner on loopback whose
//! Describe names its lender of record and whose offer names a guarantor.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use finroute_proto::v1 as pb;
use finroute_server::config::PlatformConfig;
use finroute_testkit::{
    Behaviour, FAKE_LENDER_ID, FakePartner, TestRouter, config_with, partner_offer,
    refused_borrower, report_of, violated_fields,
};
use tonic::Code;

const PLATFORM_ID: &str = "91310000PLATFORM01";
const GUARANTOR_ID: &str = "91310000GUARANT01";

fn guarantor() -> pb::Party {
    pb::Party {
        role: pb::PartyRole::Guarantor as i32,
        legal_name: "Guarantee Co., Ltd.".into(),
        registration_id: GUARANTOR_ID.into(),
        contact: "+86 400 111 1111".into(),
        lender_type: 0,
    }
}

/// A partner loan naming a guarantor (the lender comes from Describe).
fn guaranteed_offer() -> pb::PartnerOffer {
    pb::PartnerOffer {
        parties: vec![guarantor()],
        ..partner_offer("G-1", 1_000_000, 1_200, 0.7)
    }
}

/// One `[[lists]]` entry of the fake lender's list.
fn list(version: &str, effective_from: &str, guarantors: &[&str]) -> String {
    format!(
        "[[lists]]\nlender = {FAKE_LENDER_ID:?}\nversion = {version:?}\n\
         effective_from = {effective_from:?}\nplatforms = [{PLATFORM_ID:?}]\n\
         guarantors = {guarantors:?}\n\n"
    )
}

async fn router_with(partner: &FakePartner, file: &std::path::Path) -> TestRouter {
    let mut config = config_with(vec![partner.spec("bank-a", 2_000)]);
    config.platform = PlatformConfig {
        legal_name: "Router Platform Co., Ltd.".into(),
        registration_id: PLATFORM_ID.into(),
        contact: "+86 400 222 2222".into(),
    };
    config.compliance.partner_lists_file = Some(file.to_owned());
    config.compliance.partner_lists_poll_ms = 100;
    TestRouter::start(config).await
}

#[tokio::test]
async fn an_offer_off_the_list_is_dropped_until_a_new_version_lists_its_guarantor() {
    let partner = FakePartner::start(Behaviour::Offers(vec![guaranteed_offer()]), vec![]).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("lists.toml");
    // v1 (in force) omits the guarantor; a version dated far ahead that
    // would list it is not in force yet.
    let v1 = list("2020-01", "2020-01-01", &[]);
    let future = list("2999-01", "2999-01-01T00:00:00Z", &[GUARANTOR_ID]);
    std::fs::write(&file, format!("{v1}{future}")).unwrap();
    let router = router_with(&partner, &file).await;
    let mut client = router.client().await;

    let r = client
        .route_financing(refused_borrower())
        .await
        .unwrap()
        .into_inner();
    assert!(r.offers.is_empty(), "{:?}", r.offers);
    let report = report_of(&r, "bank-a");
    assert_eq!(report.status, pb::ChannelStatus::NoOffer as i32);
    assert_eq!((report.offers_returned, report.offers_rejected), (1, 1));
    assert_eq!(report.rejections.len(), 1, "{:?}", report.rejections);
    let rejection = &report.rejections[0];
    assert_eq!(rejection.reason, "NOT_ON_PARTNER_LIST");
    assert_eq!(rejection.partner_offer_ref, "G-1");
    assert_eq!(rejection.field, "parties");
    assert!(
        rejection.message.contains(GUARANTOR_ID) && rejection.message.contains("2020-01"),
        "{}",
        rejection.message
    );
    // The partner received the applicant's data: its lender and the
    // platform are the recipients the report names.
    let recipients: Vec<_> = (report.recipients.iter())
        .map(|p| (p.role, p.registration_id.as_str()))
        .collect();
    assert_eq!(
        recipients,
        [
            (pb::PartyRole::Lender as i32, FAKE_LENDER_ID),
            (pb::PartyRole::Platform as i32, PLATFORM_ID)
        ]
    );

    // A new version, in force from a later date that has passed, lists the
    // guarantor: the file is reloaded on change.
    let v2 = list("2021-01", "2021-01-01", &[GUARANTOR_ID]);
    std::fs::write(&file, format!("{v1}{future}{v2}")).unwrap();
    let mut shown = None;
    for _ in 0..100 {
        let r = client
            .route_financing(refused_borrower())
            .await
            .unwrap()
            .into_inner();
        if !r.offers.is_empty() {
            shown = Some(r);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let r = shown.expect("the offer is shown once the new version is loaded");
    assert_eq!(r.offers.len(), 1);
    assert!(report_of(&r, "bank-a").rejections.is_empty());
    let check = r.offers[0].partner_list.clone().expect("checked");
    assert_eq!(
        (check.lender.as_str(), check.version.as_str()),
        (FAKE_LENDER_ID, "2021-01")
    );
    assert_eq!(check.effective_from.map(|t| t.seconds), Some(1_609_459_200));
    let roles: Vec<_> = r.offers[0].parties.iter().map(|p| p.role).collect();
    assert_eq!(
        roles,
        [
            pb::PartyRole::Lender as i32,
            pb::PartyRole::Platform as i32,
            pb::PartyRole::Guarantor as i32
        ]
    );

    // GetApplication shows the version the offer was checked against.
    let app = client
        .get_application(pb::GetApplicationRequest {
            application_id: r.application_id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let stored = app.offers[0].partner_list.clone().expect("stored check");
    assert_eq!(stored.version, "2021-01");
    router.stop().await.unwrap();
}

#[tokio::test]
async fn a_reload_that_would_change_a_loaded_version_keeps_the_lists_in_force() {
    let partner = FakePartner::start(Behaviour::Offers(vec![guaranteed_offer()]), vec![]).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("lists.toml");
    std::fs::write(&file, list("2020-01", "2020-01-01", &[GUARANTOR_ID])).unwrap();
    let router = router_with(&partner, &file).await;
    let mut client = router.client().await;
    let r = client
        .route_financing(refused_borrower())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.offers.len(), 1);
    // The same version with other content: refused, the loaded one stays
    // (versions are never overwritten). A broken file likewise.
    std::fs::write(&file, list("2020-01", "2020-01-01", &[])).unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    let r = client
        .route_financing(refused_borrower())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.offers.len(), 1, "{:?}", report_of(&r, "bank-a"));
    assert_eq!(
        r.offers[0]
            .partner_list
            .as_ref()
            .map(|c| c.version.as_str()),
        Some("2020-01")
    );
    std::fs::write(&file, "[[lists]]\nlender = 3\n").unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    let r = client
        .route_financing(refused_borrower())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.offers.len(), 1);
    router.stop().await.unwrap();
}

#[tokio::test]
async fn a_bad_list_file_refuses_the_start_naming_the_entry() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("lists.toml");
    std::fs::write(
        &file,
        "[[lists]]\nlender = \"L\"\nversion = \"v\"\neffective_from = \"someday\"\n",
    )
    .unwrap();
    let mut config = config_with(finroute_testkit::builtin_specs());
    config.compliance.partner_lists_file = Some(file);
    config.store.url = format!("sqlite://{}", dir.path().join("f.db").display());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let e = finroute_server::run(config, listener, std::future::pending())
        .await
        .expect_err("refused");
    let text = e.to_string();
    assert!(
        text.contains("compliance.partner_lists_file") && text.contains("lists[0].effective_from"),
        "{text}"
    );
}

#[tokio::test]
async fn a_partner_whose_lender_the_consent_does_not_name_is_not_called() {
    let partner = FakePartner::start(Behaviour::Offers(vec![guaranteed_offer()]), vec![]).await;
    let router = TestRouter::start(config_with(vec![partner.spec("bank-a", 2_000)])).await;
    let mut client = router.client().await;
    let named = |name: &str, id: &str| pb::Party {
        role: pb::PartyRole::Lender as i32,
        legal_name: name.into(),
        registration_id: id.into(),
        ..Default::default()
    };
    let mut request = refused_borrower();
    let consent = request
        .applicant
        .as_mut()
        .unwrap()
        .consent
        .as_mut()
        .unwrap();
    consent.named_recipients = vec![named("Another Bank", "91310000ANOTHER001")];
    let r = client
        .route_financing(request.clone())
        .await
        .unwrap()
        .into_inner();
    let report = report_of(&r, "bank-a");
    assert_eq!(report.status, pb::ChannelStatus::NoConsent as i32);
    assert!(report.detail.contains("does not name"), "{}", report.detail);
    assert!(report.recipients.is_empty());
    assert!(r.offers.is_empty());
    assert!(partner.quotes().is_empty(), "the partner was called");

    // Naming the partner's lender (by registration id) lets it be called.
    let consent = request
        .applicant
        .as_mut()
        .unwrap()
        .consent
        .as_mut()
        .unwrap();
    consent.named_recipients = vec![named("Fake Lender Bank", FAKE_LENDER_ID)];
    let r = client
        .route_financing(request.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.offers.len(), 1, "{:?}", report_of(&r, "bank-a"));
    assert_eq!(partner.quotes().len(), 1);

    // A named recipient without a legal name is refused, naming it.
    let consent = request
        .applicant
        .as_mut()
        .unwrap()
        .consent
        .as_mut()
        .unwrap();
    consent
        .named_recipients
        .push(named("", "91310000NONAME0001"));
    let status = client.route_financing(request).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(
        violated_fields(&status),
        ["applicant.consent.named_recipients[1]"]
    );
    router.stop().await.unwrap();
}

#[tokio::test]
async fn an_offer_whose_own_lender_the_consent_does_not_name_is_rejected() {
    // The partner's Describe lender is consented to, but the offer names
    // another lender of record.
    let other = pb::Party {
        role: pb::PartyRole::Lender as i32,
        legal_name: "Other Trust Co.".into(),
        registration_id: "91310000OTHERTR001".into(),
        ..Default::default()
    };
    let offer = pb::PartnerOffer {
        parties: vec![other],
        ..partner_offer("O-1", 1_000_000, 1_200, 0.7)
    };
    let partner = FakePartner::start(Behaviour::Offers(vec![offer]), vec![]).await;
    let router = TestRouter::start(config_with(vec![partner.spec("bank-a", 2_000)])).await;
    let mut client = router.client().await;
    let mut request = refused_borrower();
    let consent = request
        .applicant
        .as_mut()
        .unwrap()
        .consent
        .as_mut()
        .unwrap();
    consent.named_recipients = vec![finroute_testkit::fake_lender()];
    let r = client.route_financing(request).await.unwrap().into_inner();
    assert!(r.offers.is_empty());
    let report = report_of(&r, "bank-a");
    let reasons: Vec<_> = report
        .rejections
        .iter()
        .map(|r| r.reason.as_str())
        .collect();
    assert_eq!(reasons, ["LENDER_NOT_CONSENTED"]);
    router.stop().await.unwrap();
}

#[tokio::test]
async fn a_partner_that_names_no_lender_has_its_offers_rejected() {
    let partner = FakePartner::start(Behaviour::Offers(vec![guaranteed_offer()]), vec![]).await;
    partner.set_description_parties(Vec::new());
    let router = TestRouter::start(config_with(vec![partner.spec("bank-a", 2_000)])).await;
    let mut client = router.client().await;
    let r = client
        .route_financing(refused_borrower())
        .await
        .unwrap()
        .into_inner();
    assert!(r.offers.is_empty());
    let report = report_of(&r, "bank-a");
    assert_eq!(report.rejections.len(), 1);
    assert_eq!(report.rejections[0].reason, "INVALID_FIELD");
    assert_eq!(report.rejections[0].field, "parties");
    assert!(report.rejections[0].message.contains("no lender of record"));
    router.stop().await.unwrap();
}

#[tokio::test]
async fn a_partner_that_timed_out_still_names_who_received_the_data() {
    let partner = FakePartner::start(Behaviour::Hung, vec![]).await;
    let router = TestRouter::start(config_with(vec![partner.spec("bank-a", 200)])).await;
    let mut client = router.client().await;
    let r = client
        .route_financing(refused_borrower())
        .await
        .unwrap()
        .into_inner();
    let report = report_of(&r, "bank-a");
    assert_eq!(report.status, pb::ChannelStatus::Timeout as i32);
    assert_eq!(partner.quotes().len(), 1);
    let ids: Vec<_> = report
        .recipients
        .iter()
        .map(|p| p.registration_id.as_str())
        .collect();
    assert_eq!(ids, [FAKE_LENDER_ID]);
    router.stop().await.unwrap();
}

#[tokio::test]
async fn built_in_channels_lend_as_the_platform_when_they_name_no_lender() {
    let config = finroute_server::Config {
        platform: PlatformConfig {
            legal_name: "Router Platform Co., Ltd.".into(),
            registration_id: PLATFORM_ID.into(),
            contact: String::new(),
        },
        ..finroute_server::Config::default()
    };
    let router = TestRouter::start(config).await;
    let mut client = router.client().await;
    let r = client
        .route_financing(refused_borrower())
        .await
        .unwrap()
        .into_inner();
    let builtin: Vec<_> = (r.offers.iter())
        .filter(|o| o.adapter_id == "secured" || o.adapter_id == "installment")
        .collect();
    assert!(!builtin.is_empty(), "{:?}", r.channel_reports);
    for o in builtin {
        let parties: Vec<_> = (o.parties.iter())
            .map(|p| (p.role, p.registration_id.as_str()))
            .collect();
        assert_eq!(
            parties,
            [
                (pb::PartyRole::Lender as i32, PLATFORM_ID),
                (pb::PartyRole::Platform as i32, PLATFORM_ID)
            ],
            "{}",
            o.adapter_id
        );
    }
    // The simulated partner names its own lender; only it received data.
    assert!(r.offers.iter().any(|o| o.adapter_id == "partner-sim"));
    assert!(report_of(&r, "secured").recipients.is_empty());
    let sim = report_of(&r, "partner-sim");
    let roles: Vec<_> = sim.recipients.iter().map(|p| p.role).collect();
    assert_eq!(
        roles,
        [pb::PartyRole::Lender as i32, pb::PartyRole::Platform as i32]
    );
    router.stop().await.unwrap();
}
