//! The client subcommands against a real `finroute serve` (the embedded
//! default in a temporary directory): `finroute route` on the example
//! request files, then `accept` on a printed offer, `get` and `appeal`.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::PathBuf;
use std::process::{Command, Output};

use common::RouterProcess;

fn example(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/grpcurl")
        .join(name)
}

/// `finroute ARGS --endpoint ADDR`, with no FINROUTE_* from the caller's shell.
fn finroute(endpoint: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_finroute"))
        .args(args)
        .args(["--endpoint", endpoint])
        .env_remove("FINROUTE_ENDPOINT")
        .env_remove("FINROUTE_KEY")
        .output()
        .unwrap()
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The table's data rows: the lines after the header up to the first blank line.
fn rows<'a>(stdout: &'a str, header_start: &str) -> Vec<Vec<&'a str>> {
    stdout
        .lines()
        .skip_while(|l| !l.starts_with(header_start))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .map(|l| l.split_whitespace().collect())
        .collect()
}

fn start() -> (tempfile::TempDir, RouterProcess) {
    let dir = tempfile::tempdir().unwrap();
    let router = RouterProcess::start_in(
        dir.path(),
        &["--listen", "127.0.0.1:0", "--metrics-listen", ""],
    );
    (dir, router)
}

#[test]
fn route_prints_a_ranked_table_and_an_offer_can_be_accepted() {
    let (_dir, router) = start();
    let endpoint = router.addr.to_string();
    let file = example("route_financing.json");
    let out = finroute(&endpoint, &["route", file.to_str().unwrap()]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("rank  channel"),
        "the header names the columns: {stdout}"
    );
    for column in ["principal", "term", "APR", "stated APR", "odds", "warnings"] {
        assert!(stdout.contains(column), "{column} missing: {stdout}");
    }
    let table = rows(&stdout, "rank");
    assert!(table.len() >= 2, "several offers: {stdout}");
    for (i, row) in table.iter().enumerate() {
        assert_eq!(row[0], (i + 1).to_string(), "ranked 1, 2, ...: {stdout}");
        assert!(row.iter().any(|c| c.ends_with('%')), "a rate: {stdout}");
        assert!(row.contains(&"CNY"), "principal in CNY: {stdout}");
        assert!(
            row.last().unwrap().starts_with("off_"),
            "offer id last: {stdout}"
        );
    }
    assert!(stdout.contains("\nPlan\n"), "{stdout}");
    assert!(stdout.contains("\nWhy the line was refused\n"), "{stdout}");
    let application = stdout
        .lines()
        .find_map(|l| l.strip_prefix("Application: "))
        .unwrap()
        .to_owned();
    assert!(application.starts_with("app_"), "{application}");
    // The printed next command names the application, the best offer and the applicant.
    let next = stdout
        .lines()
        .find(|l| l.starts_with("finroute accept "))
        .unwrap();
    let offer = *table[0].last().unwrap();
    assert_eq!(
        next,
        format!("finroute accept {application} {offer} --applicant app-7f3a9c")
    );

    // Accept the second-ranked offer, twice with the same key: one outcome.
    let offer = *table[1].last().unwrap();
    let accept = [
        "accept",
        &application,
        offer,
        "--applicant",
        "app-7f3a9c",
        "--idempotency-key",
        "cli-test-1",
    ];
    let first = finroute(&endpoint, &accept);
    let (a1, e1) = text(&first);
    assert!(first.status.success(), "{a1}\n{e1}");
    assert!(a1.contains("acceptance_id: "), "{a1}");
    assert!(a1.contains("status: "), "{a1}");
    let again = finroute(&endpoint, &accept);
    let (a2, _) = text(&again);
    assert_eq!(a1, a2, "the same key gives the same outcome");

    // The wrong applicant: NOT_FOUND, on one line with the code.
    let wrong = finroute(
        &endpoint,
        &["accept", &application, offer, "--applicant", "someone-else"],
    );
    let (_, err) = text(&wrong);
    assert!(!wrong.status.success());
    assert!(err.starts_with("error: NOT_FOUND: "), "{err}");

    // An offer id from elsewhere is refused before any call.
    let stray = finroute(
        &endpoint,
        &[
            "accept",
            &application,
            "off_nope",
            "--applicant",
            "app-7f3a9c",
        ],
    );
    let (_, err) = text(&stray);
    assert_eq!(stray.status.code(), Some(2), "{err}");
    assert!(err.contains("not one of application"), "{err}");

    // get shows the application with its acceptance.
    let got = finroute(&endpoint, &["get", &application]);
    let (g, ge) = text(&got);
    assert!(got.status.success(), "{ge}");
    assert!(g.contains(&format!("Application: {application}")), "{g}");
    assert!(g.contains("\nAcceptances\n"), "{g}");
    assert!(g.contains(offer), "{g}");

    // appeal files one; --json prints protobuf JSON.
    let appeal = finroute(
        &endpoint,
        &[
            "appeal",
            &application,
            "--reason",
            "income-changed",
            "--details",
            "new job",
            "--json",
        ],
    );
    let (j, je) = text(&appeal);
    assert!(appeal.status.success(), "{je}");
    assert!(j.contains("\"appeal_id\": \"apl_"), "{j}");
    assert!(j.contains("APPEAL_REASON_INCOME_CHANGED"), "{j}");
}

#[test]
fn route_in_zh_cn_prints_chinese_headings_and_json_on_request() {
    let (_dir, router) = start();
    let endpoint = router.addr.to_string();
    let file = example("route_financing_zh.json");
    let out = finroute(&endpoint, &["route", file.to_str().unwrap()]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    for heading in [
        "申请编号: app_",
        "\n报价\n",
        "排名",
        "\n申请计划\n",
        "\n拒绝原因\n",
    ] {
        assert!(stdout.contains(heading), "{heading} missing: {stdout}");
    }
    assert!(!rows(&stdout, "排名").is_empty(), "{stdout}");

    let out = finroute(&endpoint, &["route", file.to_str().unwrap(), "--json"]);
    let (json, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(json.trim_start().starts_with('{'), "{json}");
    assert!(json.contains("\"locale\": \"zh-CN\""), "{json}");
    assert!(json.contains("\"offers\": ["), "{json}");
}

#[test]
fn errors_print_the_code_and_each_bad_field() {
    let (_dir, router) = start();
    let endpoint = router.addr.to_string();
    let file = example("route_financing_invalid.json");
    let out = finroute(&endpoint, &["route", file.to_str().unwrap()]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert!(stderr.starts_with("error: INVALID_ARGUMENT: "), "{stderr}");
    assert!(
        stderr.lines().filter(|l| l.starts_with("  field ")).count() >= 2,
        "one line per bad field: {stderr}"
    );
}

#[test]
fn a_dead_endpoint_or_a_bad_file_is_one_clear_line() {
    // A port nothing listens on: bind one, note it, close it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let file = example("route_financing.json");
    let out = finroute(&port.to_string(), &["route", file.to_str().unwrap()]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.starts_with("error: cannot reach the router at http://"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, r#"{"min_term_months": "six"}"#).unwrap();
    let out = finroute(&port.to_string(), &["route", bad.to_str().unwrap()]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("bad.json"), "{stderr}");
}
