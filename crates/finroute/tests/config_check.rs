//! `finroute config check FILE` as an operator runs it: human-readable
//! durations in the file, `FINROUTE_<SECTION>_<KEY>` variables of every
//! section applied, and a misspelt or unparsable variable refused by name
//! with exit code 2; every problem `serve` would refuse the file for is
//! printed, and a refused `serve` writes nothing.

use std::process::{Command, Output};

/// Runs `finroute config check` on `text` with `vars` set.
fn check(text: &str, vars: &[(&str, &str)]) -> Output {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("finroute.toml");
    std::fs::write(&file, text).expect("config written");
    // The TLS files FILE names, relative to the working directory (their
    // content is read, not parsed, before the port opens).
    for name in ["server.pem", "server.key"] {
        std::fs::write(dir.path().join(name), "pem").expect("file written");
    }
    let mut command = Command::new(env!("CARGO_BIN_EXE_finroute"));
    command.current_dir(dir.path());
    command.arg("config").arg("check").arg(&file);
    // Only this test's config variables: none inherited from the shell.
    for (name, _) in std::env::vars_os() {
        if name.to_str().is_some_and(|n| n.starts_with("FINROUTE_")) {
            command.env_remove(name);
        }
    }
    command.envs(vars.iter().copied());
    command.output().expect("finroute runs")
}

const FILE: &str = r#"
[server]
shutdown_grace = "5s"

[server.tls]
cert_file = "server.pem"
key_file = "server.key"
handshake_timeout = "2s"

[odds]
refresh = "2s"
"#;

#[test]
fn human_durations_and_variables_of_every_section_are_accepted() {
    let out = check(
        FILE,
        &[
            ("FINROUTE_STORE_URL", "sqlite://from-env.db"),
            ("FINROUTE_SERVER_SHUTDOWN_GRACE_MS", "7000"),
            ("FINROUTE_ODDS_PARTNER_WEIGHT", "0.5"),
            ("FINROUTE_AUTH_DEFAULT_BURST", "10"),
            ("FINROUTE_ROUTING_DEADLINE", "900ms"),
            ("FINROUTE_TEST_NOT_CONFIG", "ignored"),
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("store sqlite://from-env.db"), "{stdout}");
}

#[test]
fn bad_variables_and_values_are_refused_by_name_with_exit_2() {
    for (var, value, says) in [
        ("FINROUTE_ODDS_WEIGHT", "0.5", "no such config key"),
        ("FINROUTE_SERVER_SHUTDOWN_GRACE_MS", "soon", "soon"),
        ("FINROUTE_ODDS_PARTNER_WEIGHT", "1.5", "odds.partner_weight"),
        ("FINROUTE_ROUTING_DEADLINE", "a while", "duration"),
    ] {
        let out = check(FILE, &[(var, value)]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{var}={value}: {stderr}");
        assert!(stderr.contains(says), "{var}={value}: {stderr}");
        if says != "odds.partner_weight" {
            assert!(stderr.contains(var), "{var}={value}: {stderr}");
        }
    }
    let out = check(
        "[server]\nshutdown_grace = \"5s\"\nshutdown_grace_ms = 5000\n",
        &[],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("server.shutdown_grace and server.shutdown_grace_ms"),
        "{stderr}"
    );
}

#[test]
fn the_store_password_is_masked() {
    let out = check(
        "",
        &[(
            "FINROUTE_STORE_URL",
            "postgres://finroute:s3cret@db:5432/finroute",
        )],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(!stdout.contains("s3cret"), "{stdout}");
    assert!(stdout.contains("db:5432/finroute"), "{stdout}");
}

/// An endpoint without `http://`, a key hash that is not one and a missing
/// partner-lists file: three problems `serve` refuses, all printed.
const BROKEN: &str = r#"
[compliance]
partner_lists_file = "no-such-lists.toml"

[[adapters]]
id = "bank"
kind = "remote"
endpoint = "127.0.0.1:50061"

[[auth.keys]]
id = "k"
sha256 = "not-a-hash"
tenant = "t"
roles = ["router"]
"#;

#[test]
fn every_problem_serve_would_refuse_is_printed() {
    let out = check(BROKEN, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    for says in [
        "adapters",
        "auth.keys[0].sha256",
        "compliance.partner_lists_file",
        "3 problems",
    ] {
        assert!(stderr.contains(says), "{says}: {stderr}");
    }
}

#[test]
fn a_refused_serve_leaves_no_database_behind() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("finroute.toml");
    std::fs::write(&file, BROKEN).expect("config written");
    let mut command = Command::new(env!("CARGO_BIN_EXE_finroute"));
    command
        .current_dir(dir.path())
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--metrics-listen",
            "127.0.0.1:0",
        ])
        .arg("--config")
        .arg(&file);
    for (name, _) in std::env::vars_os() {
        if name.to_str().is_some_and(|n| n.starts_with("FINROUTE_")) {
            command.env_remove(name);
        }
    }
    let out = command.output().expect("finroute runs");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .expect("dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != "finroute.toml")
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// Every distinct problem `validate` and `preflight` report, one file
/// each: `config check` exits 2 and names the key and the rule.
#[test]
fn each_validation_error_is_reported_with_its_key() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "[review]\npage_token_secret = \"abc\"",
            "review.page_token_secret",
            "64 hex digits",
        ),
        (
            "[review]\nclaim_lapse_ms = 0",
            "review.claim_lapse_ms",
            "1..=604800000",
        ),
        (
            "[server]\nconsole_listen = \"127.0.0.1:0\"",
            "server.console_listen",
            "roles = [\"operator\"]",
        ),
        (
            "[[routing.rules]]\nid = \"r\"\nreasons = [\"insufficient_history\"]\naction = \"skip\"",
            "routing.rules[0].action",
            "kinds, adapters or requiring",
        ),
        (
            "[[routing.rules]]\nid = \"r\"\nadapters = [\"nobody\"]\naction = \"skip\"",
            "routing.rules[0].adapters",
            "no [[adapters]] entry",
        ),
        (
            "[[routing.rules]]\nid = \"r\"\nkinds = [\"installment\"]\naction = \"skip\"\n[[routing.rules]]\nid = \"r\"\nkinds = [\"secured_loan\"]\naction = \"defer\"",
            "routing.rules[1].id",
            "ids are unique",
        ),
        (
            "[[routing.rules]]\nid = \"r\"\nhas = [\"region\"]\nlacks = [\"region\"]\nkinds = [\"installment\"]\naction = \"skip\"",
            "routing.rules[0].lacks",
            "could never apply",
        ),
        (
            "[routing]\ntier_min_offers = 0",
            "routing.tier_min_offers",
            "1..=100",
        ),
        (
            "[[quotas]]\nadapter = \"nobody\"\nquotes_per_day = 1",
            "quotas[0].adapter",
            "no [[adapters]] entry",
        ),
        (
            "[[auth.keys]]\nid = \"p\"\nsha256 = \"0000000000000000000000000000000000000000000000000000000000000000\"\ntenant = \"t\"\nroles = [\"partner\"]",
            "auth.keys[0].adapter_id",
            "required with the partner role",
        ),
        (
            "[[auth.keys]]\nid = \"p\"\nsha256 = \"0000000000000000000000000000000000000000000000000000000000000000\"\ntenant = \"t\"\nroles = [\"router\"]\nadapter_id = \"partner-sim\"",
            "auth.keys[0].adapter_id",
            "only with the partner role",
        ),
        (
            "[[auth.keys]]\nid = \"p\"\nsha256 = \"0000000000000000000000000000000000000000000000000000000000000000\"\ntenant = \"t\"\nroles = [\"partner\", \"router\"]\nadapter_id = \"partner-sim\"",
            "auth.keys[0].roles",
            "partner role only",
        ),
        (
            "[[auth.keys]]\nid = \"p\"\nsha256 = \"0000000000000000000000000000000000000000000000000000000000000000\"\ntenant = \"t\"\nroles = [\"partner\"]\nadapter_id = \"nobody\"",
            "auth.keys[0].adapter_id",
            "no [[adapters]] entry",
        ),
        (
            "[[quotas]]\nadapter = \"secured\"",
            "quotas[0]",
            "at least one limit",
        ),
        (
            "[[quotas]]\nadapter = \"secured\"\nquotes_per_day = 1\n[[quotas]]\nadapter = \"secured\"\nquotes_per_month = 1",
            "quotas[1].adapter",
            "one per channel",
        ),
        (
            "[[webhooks]]\ntenant = \"t\"\nurl = \"http://platform.example/hook\"\nsecret = \"0123456789abcdef0123\"\n",
            "webhooks[0].url",
            "only to a loopback host",
        ),
        (
            "[[webhooks]]\ntenant = \"t\"\nurl = \"ftp://platform.example/hook\"\nsecret = \"0123456789abcdef0123\"\n",
            "webhooks[0].url",
            "must start with https://",
        ),
        (
            "[[webhooks]]\ntenant = \"t\"\nurl = \"https://platform.example/hook\"\n",
            "webhooks[0].secret",
            "set secret or secret_env",
        ),
        (
            "[[webhooks]]\ntenant = \"t\"\nurl = \"https://platform.example/hook\"\nsecret = \"0123456789abcdef0123\"\nsecret_env = \"X\"\n",
            "webhooks[0].secret",
            "not both",
        ),
        (
            "[[webhooks]]\ntenant = \"t\"\nurl = \"https://platform.example/hook\"\nsecret = \"short\"\n",
            "webhooks[0].secret",
            "at least 16 bytes",
        ),
        (
            "[[webhooks]]\ntenant = \"t\"\nurl = \"https://platform.example/hook\"\nsecret_env = \"FINROUTE_TEST_UNSET_WEBHOOK_SECRET\"\n",
            "webhooks[0].secret",
            "is not set",
        ),
        (
            "[[webhooks]]\ntenant = \"t\"\nurl = \"https://platform.example/hook\"\nsecret = \"0123456789abcdef0123\"\n[[webhooks]]\ntenant = \"t\"\nurl = \"https://platform.example/hook\"\nsecret = \"0123456789abcdef0123\"\n",
            "webhooks[1].tenant",
            "one per tenant",
        ),
        (
            "[[webhooks]]\ntenant = \"\"\nurl = \"https://platform.example/hook\"\nsecret = \"0123456789abcdef0123\"\n",
            "webhooks[0].tenant",
            "at most 64 bytes",
        ),
        (
            "[[webhooks]]\ntenant = \"t\"\nurl = \"https://platform.example/hook\"\nsecret = \"0123456789abcdef0123\"\ntimeout_ms = 0\n",
            "webhooks[0].timeout_ms",
            "1..=60000",
        ),
        (
            "[[webhooks]]\ntenant = \"t\"\nurl = \"https://platform.example/hook\"\nsecret = \"0123456789abcdef0123\"\nbackoff_initial_ms = 5000\nbackoff_max_ms = 1000\n",
            "webhooks[0].backoff_initial_ms",
            "at most backoff_max_ms",
        ),
        (
            "[[webhooks]]\ntenant = \"t\"\nurl = \"https://platform.example/hook\"\nsecret = \"0123456789abcdef0123\"\nbackoff_max_ms = 100000000\n",
            "webhooks[0].backoff_max_ms",
            "1 day",
        ),
        (
            "[events]\npoll_interval_ms = 0",
            "events.poll_interval_ms",
            "1..=60000",
        ),
        (
            "[review.sla]\nincome_changed_ms = 0",
            "review.sla.income_changed_ms",
            "a year",
        ),
        (
            "[review.sla]\ndata_error_ms = 0",
            "review.sla.data_error_ms",
            "a year",
        ),
        (
            "[review.sla]\nline_reduced_unfairly_ms = 0",
            "review.sla.line_reduced_unfairly_ms",
            "a year",
        ),
        (
            "[review.sla]\nother_ms = 0",
            "review.sla.other_ms",
            "a year",
        ),
        (
            "[routing]\ndeadline_ms = 0",
            "routing.deadline_ms",
            "1..=60000",
        ),
        (
            "[routing]\nreply_margin_ms = 800",
            "routing.reply_margin_ms",
            "below routing.deadline_ms",
        ),
        (
            "[routing]\ninquiry_cost_bps = 10001",
            "routing.inquiry_cost_bps",
            "0..=10000",
        ),
        ("[routing]\nmax_offers = 0", "routing.max_offers", "1..=100"),
        (
            "[routing]\naffordability_hard_limit = 0.0",
            "routing.affordability_hard_limit",
            "(0, 2]",
        ),
        (
            "[server]\nmax_in_flight_routes = 0",
            "server.max_in_flight_routes",
            "at least 1",
        ),
        (
            "[server]\nmax_connections = 0",
            "server.max_connections",
            "at least 1",
        ),
        (
            "[server]\nfirst_request_timeout_ms = 0",
            "server.first_request_timeout_ms",
            "1..=3600000",
        ),
        (
            "[server]\nidle_timeout_ms = 0",
            "server.idle_timeout_ms",
            "1..=86400000",
        ),
        (
            "[server]\nrequest_body_timeout_ms = 0",
            "server.request_body_timeout_ms",
            "1..=3600000",
        ),
        (
            "[server]\nmax_connection_age_ms = 0",
            "server.max_connection_age_ms",
            "1..=604800000",
        ),
        (
            "[server]\nmax_connection_age_grace_ms = 0",
            "server.max_connection_age_grace_ms",
            "1..=86400000",
        ),
        (
            "[server]\nconnection_read_bytes_per_second = 10",
            "server.connection_read_bytes_per_second",
            "at least 65536",
        ),
        (
            "[server]\nmax_request_bytes = 10",
            "server.max_request_bytes",
            "at least 1024",
        ),
        (
            "[[compliance.rate_caps]]\nregion_prefix = \"CN\"\nmax_apr_bps = 0",
            "compliance.rate_caps[0].max_apr_bps",
            "must be positive",
        ),
        (
            "[compliance]\npartner_lists_poll_ms = 1",
            "compliance.partner_lists_poll_ms",
            "100..=3600000",
        ),
        (
            "[compliance]\npartner_lists_file = \"\"",
            "compliance.partner_lists_file",
            "must name a file",
        ),
        (
            "[compliance]\npartner_lists_file = \"missing-lists.toml\"",
            "compliance.partner_lists_file",
            "cannot read missing-lists.toml",
        ),
        (
            "[platform]\ncontact = \"400-000-0000\"",
            "platform.legal_name",
            "must be set when",
        ),
        (
            "[routing]\nbreaker_failure_threshold = 0",
            "routing.breaker_failure_threshold",
            "at least 1",
        ),
        (
            "[routing]\nbreaker_open_ms = 70000",
            "routing.breaker_open_ms",
            "routing.breaker_max_open_ms",
        ),
        (
            "[acceptance]\npartner_timeout_ms = 0",
            "acceptance.partner_timeout_ms",
            "1..=120000",
        ),
        (
            "[acceptance]\nwait_ms = 60001",
            "acceptance.wait_ms",
            "0..=60000",
        ),
        (
            "[acceptance]\npoll_interval_ms = 1",
            "acceptance.poll_interval_ms",
            "10..=60000",
        ),
        (
            "[acceptance]\nmax_backoff_ms = 1",
            "acceptance.max_backoff_ms",
            "100..=3600000",
        ),
        ("[odds]\npartner_weight = 2.0", "odds.partner_weight", ""),
        (
            "[[adapters]]\nid = \"a\"\nkind = \"partner_sim\"\n[[adapters]]\nid = \"a\"\nkind = \"partner_sim\"",
            "adapters[a].id",
            "duplicate id",
        ),
        (
            "adapters = []",
            "adapters",
            "at least one adapter is needed",
        ),
        (
            "[[adapters]]\nid = \"p\"\nkind = \"remote\"\nendpoint = \"127.0.0.1:1\"",
            "endpoint",
            "http://host:port",
        ),
        (
            "[[auth.keys]]\nid = \"k\"\nsha256 = \"xyz\"\ntenant = \"t\"\nroles = [\"router\"]",
            "sha256",
            "",
        ),
        ("[server]\nlisten = \"0.0.0.0:50051\"", "allow_open", ""),
        (
            "[server.tls]\ncert_file = \"missing.pem\"\nkey_file = \"server.key\"",
            "missing.pem",
            "",
        ),
    ];
    let mut failures = Vec::new();
    for (text, key, rule) in cases {
        let out = check(text, &[]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        if out.status.code() != Some(2) || !stderr.contains(key) || !stderr.contains(rule) {
            failures.push(format!(
                "{text:?}: exit {:?}, want {key:?} and {rule:?} in: {stderr}",
                out.status.code()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
