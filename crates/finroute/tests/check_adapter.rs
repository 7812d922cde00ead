//! `finroute check-adapter --endpoint URL` as a partner runs it: a separate
//! process against adapters served on loopback by this test. Exit 0 and a
//! table of PASS rows for the SDK's example bank; exit 1 with the failed
//! checks named for a partner that sends garbage; exit 2 for bad usage.

#![allow(clippy::unwrap_used)]

use std::process::{Command, Output};

use finroute_proto::v1 as pb;
use finroute_testkit::{AcceptMode, Behaviour, FakePartner, cny, fake_description, partner_offer};

/// Runs the binary on its own thread (it blocks) and returns its output.
async fn check_adapter(args: &[&str]) -> Output {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_finroute"))
            .arg("check-adapter")
            .args(&args)
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_bank_passes_and_the_exit_code_is_0() {
    let addr = partner_bank::spawn(
        partner_bank::Settings::default(),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let out = check_adapter(&["--endpoint", &format!("http://{addr}")]).await;
    let table = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{table}");
    for check in [
        "health",
        "describe",
        "describe.parties",
        "quote.latency",
        "quote.offers",
        "quote.apr",
        "quote.narrow",
        "quote.answers",
        "accept.idempotent",
        "accept.unknown_offer",
    ] {
        assert!(
            table
                .lines()
                .any(|l| l.starts_with("PASS") && l.contains(check)),
            "{check} did not pass:\n{table}"
        );
    }
    assert!(table.contains("10 checks: 10 passed, 0 failed"), "{table}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partner_sending_garbage_fails_with_exit_1_and_the_checks_named() {
    let mut odds = partner_offer("bad-odds", 1_000_000, 1200, 0.8);
    odds.approval_probability = 7.0;
    let p = FakePartner::start(
        Behaviour::Offers(vec![odds]),
        vec![pb::ApplicantField::CreditScore],
    )
    .await;
    let out = check_adapter(&["--endpoint", &format!("http://{}", p.addr)]).await;
    let table = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{table}");
    let offers = table.lines().find(|l| l.contains("quote.offers")).unwrap();
    assert!(offers.starts_with("FAIL"), "{table}");
    assert!(
        offers.contains("offer bad-odds: approval_probability 7 outside [0, 1]"),
        "{table}"
    );
    assert!(table.contains("(failed: "), "{table}");
    // The kit's applicant reached the partner minimised, as from the router.
    let q = &p.quotes()[0];
    let a = q.applicant.as_ref().unwrap();
    assert!(
        a.credit_score.is_some() && a.monthly_income.is_none(),
        "{a:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offer_only_the_kit_applicant_cannot_afford_warns_and_exits_0() {
    // 50 000 CNY over 3 months: debt-to-income 0.704 for the kit's
    // applicant, above the 0.70 limit; the offer itself is honest.
    let mut offer = partner_offer("three", 5_000_000, 1200, 0.8);
    offer.term_months = 3;
    let mut d = fake_description(vec![]);
    d.min_amount = Some(cny(5_000_000));
    d.max_amount = Some(cny(5_000_000));
    d.min_term_months = 3;
    d.max_term_months = 3;
    d.parties = vec![pb::Party {
        role: pb::PartyRole::Lender as i32,
        legal_name: "Fake Lender Co., Ltd.".into(),
        registration_id: "91310000MA1FL0000X".into(),
        contact: String::new(),
        lender_type: 0,
    }];
    // No Accept: the accept checks are skipped (the fake would book any
    // reference, failing accept.unknown_offer), so nothing fails.
    d.supports_accept = false;
    let p = FakePartner::start_described(Behaviour::Offers(vec![offer]), d, AcceptMode::Book).await;
    let out = check_adapter(&["--endpoint", &format!("http://{}", p.addr)]).await;
    let table = String::from_utf8_lossy(&out.stdout);
    let offers = table.lines().find(|l| l.contains("quote.offers")).unwrap();
    assert!(offers.starts_with("WARN"), "{table}");
    assert!(offers.contains("UNAFFORDABLE"), "{table}");
    assert!(
        table.contains(
            "10 checks: 6 passed, 0 failed, 2 skipped, 2 warned (warned: quote.offers, quote.narrow)"
        ),
        "{table}"
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "a WARN is not a failure: {table}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_usage_is_exit_2() {
    let out = check_adapter(&["--endpoint", "localhost:50061"]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("http://host:port"));
    let out = check_adapter(&[]).await;
    assert_eq!(out.status.code(), Some(2), "clap: --endpoint is required");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_listening_is_one_line_and_exit_1() {
    // A port nothing listens on: bind one, note it, close it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let endpoint = format!("http://{port}");
    let out = check_adapter(&["--endpoint", &endpoint]).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(out.stdout.is_empty(), "no table");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with(&format!("error: cannot connect to {endpoint} (")),
        "{stderr}"
    );
    assert!(stderr.contains("is the adapter running there?"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_router_is_not_an_adapter() {
    let router = finroute_testkit::TestRouter::embedded().await;
    let out = check_adapter(&["--endpoint", &router.url()]).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(out.stdout.is_empty(), "no table");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr
            .contains("this looks like a finroute router or another gRPC service, not an adapter"),
        "{stderr}"
    );
}

/// A CA made in the test, and leaf certificates it signs.
struct Ca {
    issuer: rcgen::CertifiedIssuer<'static, rcgen::KeyPair>,
}

impl Ca {
    fn new(name: &str) -> Ca {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        Ca {
            issuer: rcgen::CertifiedIssuer::self_signed(
                params,
                rcgen::KeyPair::generate().unwrap(),
            )
            .unwrap(),
        }
    }

    /// A leaf certificate for `names`, as (cert pem, key pem).
    fn leaf(&self, names: &[&str]) -> (String, String) {
        let key = rcgen::KeyPair::generate().unwrap();
        let params =
            rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_https_adapter_is_checked_over_mtls() {
    let dir = tempfile::tempdir().unwrap();
    let partner_ca = Ca::new("partner CA");
    let kit_ca = Ca::new("kit client CA");
    let (cert, key) = partner_ca.leaf(&["localhost"]);
    let offers = Behaviour::Offers(vec![partner_offer("P-1", 1_000_000, 1100, 0.7)]);
    let p = FakePartner::start_tls(offers, cert, key, Some(kit_ca.issuer.pem())).await;
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, partner_ca.issuer.pem()).unwrap();
    let (cert, key) = kit_ca.leaf(&["kit"]);
    let (cert_file, key_file) = (dir.path().join("kit.pem"), dir.path().join("kit.key"));
    std::fs::write(&cert_file, cert).unwrap();
    std::fs::write(&key_file, key).unwrap();
    let endpoint = format!("https://localhost:{}", p.addr.port());
    let ca = ca_file.to_str().unwrap();

    let out = check_adapter(&[
        "--endpoint",
        &endpoint,
        "--ca",
        ca,
        "--cert",
        cert_file.to_str().unwrap(),
        "--key",
        key_file.to_str().unwrap(),
    ])
    .await;
    let table = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    for check in ["health", "describe"] {
        assert!(
            table
                .lines()
                .any(|l| l.starts_with("PASS") && l.split_whitespace().nth(1) == Some(check)),
            "{check} did not pass over mTLS:\n{table}{stderr}"
        );
    }
    assert!(!p.quotes().is_empty(), "the partner was quoted over TLS");

    // Without the client certificate the partner refuses the handshake.
    let out = check_adapter(&["--endpoint", &endpoint, "--ca", ca]).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(out.stdout.is_empty() || String::from_utf8_lossy(&out.stdout).contains("FAIL"));

    // https without --ca is bad usage.
    let out = check_adapter(&["--endpoint", &endpoint]).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--ca"), "{stderr}");
}
