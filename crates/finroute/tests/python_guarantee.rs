//! Issue 16 end to end, with a partner that is not written in Rust: a real
//! `finroute serve` process routes to `examples/python_partner/partner.py`
//! (grpcio, stubs generated from `proto/` alone) started with
//! `--guarantee-fee`. Its guaranteed offer is a 12-month 13 % annuity plus a
//! guarantee fee of 0.75 % of the principal a month, paid to a guarantor it
//! names, stated as 13 %.
//!
//! - With a partner name-list that omits the guarantor, the offer is
//!   dropped, and the channel report says NOT_ON_PARTNER_LIST.
//! - After a new list version naming the guarantor is written and the
//!   router gets SIGHUP, the offer is shown: its APR is the IRR of the
//!   schedule it comes with (computed here independently), the schedule's
//!   fee column is the guarantee fee, the breakdown has the interest and the
//!   guarantee fee and their shares add up to the APR, it is flagged
//!   STATED_APR_UNDERSTATED, it names the lender and the guarantor, and
//!   GetApplication names the list version.
//! - For an applicant in CN-31 (a 24 % cap) the same offer (about 28.6 %)
//!   is rejected ABOVE_RATE_CAP with that figure.
//!
//! The partner needs Python 3 with grpcio, grpcio-tools and
//! grpcio-health-checking (`examples/python_partner/requirements.txt`).
//! `FINROUTE_TEST_PYTHON` names that interpreter (CI sets it to its venv's:
//! then the test fails, never skips, when the partner cannot run); unset,
//! `python3` is used when it has grpcio, and the test prints `skipped:`
//! and passes when it has not.

#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::RouterProcess;
use finroute_proto::v1 as pb;
use finroute_testkit::{cny, refused_borrower};

/// The Python partner's parties (examples/python_partner/partner.py).
const LENDER_ID: &str = "91310000MA1FL4XQ3T";
const PLATFORM_ID: &str = "91310000MA1FL5PL8K";
const GUARANTOR_ID: &str = "91310000MA1FL6GT2B";
const GUARANTOR_NAME: &str = "Python Example Financing Guarantee Co., Ltd.";
/// 10 000 CNY, in fen.
const PRINCIPAL: i64 = 1_000_000;
/// 0.75 % of the principal, every month.
const MONTHLY_FEE: i64 = 7_500;

/// The interpreter to run the partner with, or `None` (skip) when
/// `FINROUTE_TEST_PYTHON` is unset and `python3` lacks grpcio.
fn python() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("FINROUTE_TEST_PYTHON") {
        return Some(PathBuf::from(p));
    }
    let has_grpc = Command::new("python3")
        .args([
            "-c",
            "import grpc, grpc_tools, grpc_health.v1.health  # noqa",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    has_grpc.then(|| PathBuf::from("python3"))
}

/// `partner.py --guarantee-fee` as a child process.
struct PythonPartner {
    child: Child,
    addr: SocketAddr,
}

impl PythonPartner {
    fn start(python: &Path, log: &Path) -> PythonPartner {
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/python_partner/partner.py");
        let mut child = Command::new(python)
            .arg(&script)
            .args(["--listen", "127.0.0.1:0", "--guarantee-fee"])
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(log).unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", python.display()));
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(i) = line.find("listening on ") {
                    let _ = tx.send(line[i + "listening on ".len()..].trim().to_owned());
                }
            }
        });
        // Dropped on a failed start: the child is killed.
        let mut partner = PythonPartner {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        };
        let addr = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| {
                panic!(
                    "the python partner printed no ready line within 60 s:\n{}",
                    std::fs::read_to_string(log).unwrap_or_default()
                )
            });
        partner.addr = addr.parse().unwrap();
        partner
    }
}

impl Drop for PythonPartner {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One version of the Python lender's partner name-list.
fn write_lists(path: &Path, version: &str, guarantors: &[&str]) {
    let guarantors: Vec<String> = guarantors.iter().map(|g| format!("{g:?}")).collect();
    let text = format!(
        r#"# The Python lender's partner name-list (written by python_guarantee.rs).
[[lists]]
lender = "{LENDER_ID}"
version = "{version}"
effective_from = "2026-01-01T00:00:00Z"
platforms = ["{PLATFORM_ID}"]
guarantors = [{}]
"#,
        guarantors.join(", ")
    );
    // Written whole then renamed: the router never reads half a file.
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

fn write_config(dir: &Path, partner: SocketAddr, lists: &Path) -> PathBuf {
    let store = dir.join("finroute.db");
    let text = format!(
        r#"
[store]
url = "sqlite://{}"

# The default rate caps hold mainland China (CN-31 too) at 2400 bp.
[compliance]
partner_lists_file = "{}"

[[adapters]]
id = "python-bank"
kind = "remote"
endpoint = "http://{partner}"
timeout_ms = 2000
"#,
        store.display(),
        lists.display()
    );
    let path = dir.join("finroute.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// The README's borrower asking for 10 000 CNY over 6..=24 months from
/// `region`, with time for a Python partner.
fn request(region: &str) -> pb::RouteFinancingRequest {
    let mut r = refused_borrower();
    r.applicant.as_mut().unwrap().region = region.into();
    r.requested_amount = Some(cny(PRINCIPAL));
    r
}

async fn route(router: &RouterProcess, region: &str) -> pb::RouteFinancingResponse {
    let mut client = router.client().await;
    let mut req = tonic::Request::new(request(region));
    req.set_timeout(Duration::from_secs(10));
    client.route_financing(req).await.unwrap().into_inner()
}

fn is_guaranteed(reference: &str) -> bool {
    reference.ends_with("-12-gf")
}

fn guaranteed_offer(r: &pb::RouteFinancingResponse) -> Option<&pb::Offer> {
    r.offers
        .iter()
        .find(|o| is_guaranteed(&o.partner_offer_ref))
}

fn rejection(r: &pb::RouteFinancingResponse) -> Option<&pb::OfferRejection> {
    r.channel_reports
        .iter()
        .filter(|c| c.adapter_id == "python-bank")
        .flat_map(|c| &c.rejections)
        .find(|x| is_guaranteed(&x.partner_offer_ref))
}

fn minor(m: &Option<pb::Money>) -> i64 {
    m.as_ref().map_or(0, |m| m.amount_minor)
}

/// 12 x the monthly IRR of receiving `disbursed` and paying `payments` at
/// the end of each month, in bp, by bisection: not the router's solver.
fn irr_apr_bps(disbursed: i64, payments: &[i64]) -> f64 {
    let npv = |i: f64| {
        payments
            .iter()
            .enumerate()
            .map(|(k, p)| *p as f64 / (1.0 + i).powi(k as i32 + 1))
            .sum::<f64>()
            - disbursed as f64
    };
    let (mut lo, mut hi) = (0.0_f64, 1.0_f64);
    for _ in 0..200 {
        let mid = (lo + hi) / 2.0;
        if npv(mid) > 0.0 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    (lo + hi) / 2.0 * 12.0 * 10_000.0
}

fn percent(bps: i32) -> String {
    format!("{}.{:02} %", bps / 100, bps % 100)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_python_partners_guarantee_fee_is_priced_listed_and_capped() {
    let Some(python) = python() else {
        // Past the harness's capture, so a plain `cargo test` shows it.
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "skipped: python_guarantee: no python3 with grpcio (set FINROUTE_TEST_PYTHON to a venv's python with examples/python_partner/requirements.txt)"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let partner = PythonPartner::start(&python, &dir.path().join("partner.log"));
    let lists = dir.path().join("partner_lists.toml");
    write_lists(&lists, "2026-12-v1", &[]);
    let router = RouterProcess::try_start(&write_config(dir.path(), partner.addr, &lists))
        .unwrap_or_else(|e| {
            panic!(
                "{e}: set FINROUTE_TEST_ECHO_LOGS=1 to see the router's log (does it know compliance.partner_lists_file?)"
            )
        });

    // 1. The list in force omits the guarantor: the offer is dropped, with
    //    the reason, and the partner's other offers are still shown.
    let r = route(&router, "HK").await;
    assert!(guaranteed_offer(&r).is_none(), "{:#?}", r.offers);
    let dropped = rejection(&r).unwrap_or_else(|| panic!("{:#?}", r.channel_reports));
    assert_eq!(dropped.reason, "NOT_ON_PARTNER_LIST", "{dropped:?}");
    assert!(
        r.offers.iter().any(|o| o.adapter_id == "python-bank"),
        "the unguaranteed offers are on the list: {:#?}",
        r.channel_reports
    );

    // 2. A new version names the guarantor; SIGHUP reloads it (an mtime
    //    check would too: whichever comes first).
    write_lists(&lists, "2026-12-v2", &[GUARANTOR_ID]);
    router.signal("HUP");
    let mut shown = None;
    for _ in 0..50 {
        let r = route(&router, "HK").await;
        if guaranteed_offer(&r).is_some() {
            shown = Some(r);
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let r = shown.expect("the guaranteed offer is shown within 10 s of the new list version");
    let offer = guaranteed_offer(&r).unwrap();
    // The figures, for whoever reads the test's output (--nocapture).
    eprintln!(
        "guaranteed offer {}: principal {} disbursed {} first payment {} total cost {}; \
         apr_bps {} (stated {}), effective {}; labels {:?}; warnings {:?}",
        offer.offer_id,
        minor(&offer.principal),
        minor(&offer.disbursed),
        minor(&offer.first_payment),
        minor(&offer.total_cost),
        offer.apr_bps,
        offer.stated_apr_bps,
        offer.effective_annual_rate_bps,
        offer.rate_labels,
        offer.warnings,
    );
    for line in &offer.cost_breakdown {
        eprintln!(
            "  line: {} (total {}, share {} bp)",
            line.text,
            minor(&line.total),
            line.apr_share_bps
        );
    }
    for p in &offer.parties {
        eprintln!(
            "  party: role {} {} {} {}",
            p.role, p.legal_name, p.registration_id, p.contact
        );
    }
    eprintln!("  partner list: {:?}", offer.partner_list);

    // The schedule: 12 months, the guarantee fee in the fee column.
    assert_eq!(offer.term_months, 12);
    assert_eq!(minor(&offer.principal), PRINCIPAL);
    assert_eq!(offer.schedule.len(), 12, "{:#?}", offer.schedule);
    for row in &offer.schedule {
        assert_eq!(minor(&row.fee), MONTHLY_FEE, "period {}", row.period);
    }
    let repaid: i64 = offer.schedule.iter().map(|r| minor(&r.principal)).sum();
    assert_eq!(repaid, PRINCIPAL);

    // The APR is the IRR of those cash flows, fee included: about 28.6 %,
    // not the 13 % stated.
    let payments: Vec<i64> = offer
        .schedule
        .iter()
        .map(|r| minor(&r.principal) + minor(&r.interest) + minor(&r.fee))
        .collect();
    let expected = irr_apr_bps(minor(&offer.disbursed), &payments);
    assert!(
        (f64::from(offer.apr_bps) - expected).abs() <= 1.0,
        "apr_bps {} vs the IRR of the schedule {expected:.2}",
        offer.apr_bps
    );
    assert!((2_800..2_950).contains(&offer.apr_bps), "{}", offer.apr_bps);
    assert_eq!(offer.stated_apr_bps, 1300);
    assert!(
        offer
            .warnings
            .contains(&(pb::OfferWarning::StatedAprUnderstated as i32)),
        "{:?}",
        offer.warnings
    );

    // The breakdown: interest (~13 %) and the guarantee fee, adding up.
    let line = |kind: pb::ChargeKind| {
        offer
            .cost_breakdown
            .iter()
            .find(|l| l.kind == kind as i32)
            .unwrap_or_else(|| panic!("no {kind:?} line: {:#?}", offer.cost_breakdown))
    };
    let interest = line(pb::ChargeKind::Interest);
    assert!(
        (1_295..=1_305).contains(&interest.apr_share_bps),
        "{interest:?}"
    );
    let fee = line(pb::ChargeKind::GuaranteeFee);
    assert_eq!(fee.payee, pb::PartyRole::Guarantor as i32, "{fee:?}");
    assert_eq!(fee.payee_name, GUARANTOR_NAME, "{fee:?}");
    assert_eq!(minor(&fee.total), 12 * MONTHLY_FEE, "{fee:?}");
    let shares: i32 = offer
        .cost_breakdown
        .iter()
        .filter(|l| !l.declinable)
        .map(|l| l.apr_share_bps)
        .sum();
    assert_eq!(shares, offer.apr_bps, "{:#?}", offer.cost_breakdown);

    // Both parties: the lender from Describe, the guarantor from the offer.
    let party = |role: pb::PartyRole, id: &str| {
        offer
            .parties
            .iter()
            .any(|p| p.role == role as i32 && p.registration_id == id)
    };
    assert!(
        party(pb::PartyRole::Lender, LENDER_ID),
        "{:#?}",
        offer.parties
    );
    assert!(
        party(pb::PartyRole::Guarantor, GUARANTOR_ID),
        "{:#?}",
        offer.parties
    );

    // The list version it was checked against, as shown and as stored.
    let checked = offer.partner_list.as_ref().expect("partner_list");
    assert_eq!(checked.version, "2026-12-v2");
    assert_eq!(checked.lender, LENDER_ID);
    let mut client = router.client().await;
    let stored = client
        .get_application(pb::GetApplicationRequest {
            application_id: r.application_id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let again = stored
        .offers
        .iter()
        .find(|o| o.partner_offer_ref == offer.partner_offer_ref)
        .unwrap_or_else(|| panic!("{:#?}", stored.offers));
    assert_eq!(
        again.partner_list.as_ref().map(|p| p.version.as_str()),
        Some("2026-12-v2")
    );

    // 3. In CN-31 the comprehensive APR is above the 24 % cap.
    let capped = route(&router, "CN-31").await;
    assert!(guaranteed_offer(&capped).is_none(), "{:#?}", capped.offers);
    let above = rejection(&capped).unwrap_or_else(|| panic!("{:#?}", capped.channel_reports));
    assert_eq!(above.reason, "ABOVE_RATE_CAP", "{above:?}");
    assert!(
        above.message.contains(&percent(offer.apr_bps)),
        "the comprehensive {} in {above:?}",
        percent(offer.apr_bps)
    );
    drop(partner);
}
