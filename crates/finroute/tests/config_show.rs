//! `finroute config show [FILE]` as an operator runs it: every key of the
//! effective config with its source, secrets hidden.

use std::process::{Command, Output};

fn show(file: Option<&str>, vars: &[(&str, &str)]) -> Output {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut command = Command::new(env!("CARGO_BIN_EXE_finroute"));
    command.current_dir(dir.path()).args(["config", "show"]);
    if let Some(text) = file {
        let path = dir.path().join("finroute.toml");
        std::fs::write(&path, text).expect("config written");
        command.arg(&path);
    }
    for (name, _) in std::env::vars_os() {
        if name.to_str().is_some_and(|n| n.starts_with("FINROUTE_")) {
            command.env_remove(name);
        }
    }
    command.envs(vars.iter().copied());
    command.output().expect("finroute runs")
}

#[test]
fn every_key_says_where_its_value_came_from() {
    let out = show(
        Some(
            r#"
[store]
url = "postgres://finroute:s3cret-pw@db:5432/finroute"

[review]
page_token_secret = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
claim_lapse = "10m"
"#,
        ),
        &[("FINROUTE_SERVER_LISTEN", "127.0.0.1:6000")],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for line in [
        "listen = \"127.0.0.1:6000\"  # env FINROUTE_SERVER_LISTEN",
        "url = \"postgres://***@db:5432/finroute\"  # file",
        "page_token_secret = \"***\"  # file",
        "claim_lapse_ms = 600000  # file",
        "deadline_ms = 800  # default",
    ] {
        assert!(
            stdout.lines().any(|l| l == line),
            "{line} missing:\n{stdout}"
        );
    }
    assert!(!stdout.contains("s3cret-pw"), "{stdout}");
    assert!(!stdout.contains("00112233"), "{stdout}");
}

#[test]
fn without_a_file_it_shows_the_embedded_default_and_a_bad_variable_is_exit_2() {
    let out = show(None, &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(stdout.contains("the embedded default"), "{stdout}");
    assert!(
        stdout
            .lines()
            .any(|l| l == "url = \"sqlite://finroute.db\"  # default"),
        "{stdout}"
    );
    let out = show(None, &[("FINROUTE_ROUTING_DEADLNE_MS", "5")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("FINROUTE_ROUTING_DEADLNE_MS"));
}
