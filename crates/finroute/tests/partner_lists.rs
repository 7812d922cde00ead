//! The `finroute` binary reloads its partner name-lists on SIGHUP, and the
//! versions it loaded survive a restart on the same database (the file no
//! longer listing one does not withdraw it).

#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::time::Duration;

use common::RouterProcess;
use finroute_proto::v1 as pb;
use finroute_testkit::{
    Behaviour, FAKE_LENDER_ID, FakePartner, partner_offer, refused_borrower, report_of,
};

const GUARANTOR_ID: &str = "91310000GUARANT01";

fn list(version: &str, effective_from: &str, guarantors: &[&str]) -> String {
    format!(
        "[[lists]]\nlender = {FAKE_LENDER_ID:?}\nversion = {version:?}\n\
         effective_from = {effective_from:?}\nguarantors = {guarantors:?}\n\n"
    )
}

fn write_config(dir: &Path, partner: &FakePartner, lists: &Path) -> std::path::PathBuf {
    let text = format!(
        r#"
[server]
metrics_listen = "127.0.0.1:0"

[store]
url = "sqlite://{}"

[compliance]
partner_lists_file = {:?}
# An hour: only SIGHUP reloads within the test.
partner_lists_poll_ms = 3600000

[[adapters]]
id = "bank-a"
kind = "remote"
endpoint = "http://{}"
timeout_ms = 2000
"#,
        dir.join("finroute.db").display(),
        lists.display().to_string(),
        partner.addr
    );
    let path = dir.join("finroute.toml");
    std::fs::write(&path, text).unwrap();
    path
}

async fn route(router: &RouterProcess) -> pb::RouteFinancingResponse {
    let mut client = router.client().await;
    client
        .route_financing(refused_borrower())
        .await
        .unwrap()
        .into_inner()
}

#[tokio::test]
async fn sighup_reloads_the_lists_and_loaded_versions_survive_a_restart() {
    let offer = pb::PartnerOffer {
        parties: vec![pb::Party {
            role: pb::PartyRole::Guarantor as i32,
            legal_name: "Guarantee Co., Ltd.".into(),
            registration_id: GUARANTOR_ID.into(),
            ..Default::default()
        }],
        ..partner_offer("G-1", 1_000_000, 1_200, 0.7)
    };
    let partner = FakePartner::start(Behaviour::Offers(vec![offer]), vec![]).await;
    let dir = tempfile::tempdir().unwrap();
    let lists = dir.path().join("lists.toml");
    let v1 = list("2020-01", "2020-01-01", &[]);
    std::fs::write(&lists, &v1).unwrap();
    let config = write_config(dir.path(), &partner, &lists);
    let router = RouterProcess::start(&config);

    let r = route(&router).await;
    assert!(r.offers.is_empty());
    let reasons: Vec<_> = (report_of(&r, "bank-a").rejections.iter())
        .map(|x| x.reason.clone())
        .collect();
    assert_eq!(reasons, ["NOT_ON_PARTNER_LIST"]);

    let v2 = list("2021-01", "2021-01-01", &[GUARANTOR_ID]);
    std::fs::write(&lists, format!("{v1}{v2}")).unwrap();
    // Not polled within the hour: still dropped until SIGHUP.
    assert!(route(&router).await.offers.is_empty());
    router.hangup();
    let mut version = None;
    for _ in 0..100 {
        let r = route(&router).await;
        if let Some(o) = r.offers.first() {
            version = o.partner_list.as_ref().map(|c| c.version.clone());
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(version.as_deref(), Some("2021-01"));
    assert!(router.terminate().success());

    // Restarted with a file that lists only v1: v2 stays in force, from the store.
    std::fs::write(&lists, &v1).unwrap();
    let router = RouterProcess::start(&config);
    let r = route(&router).await;
    assert_eq!(
        r.offers
            .first()
            .and_then(|o| o.partner_list.as_ref())
            .map(|c| c.version.as_str()),
        Some("2021-01"),
        "{:?}",
        r.channel_reports
    );
    assert!(router.terminate().success());
}
