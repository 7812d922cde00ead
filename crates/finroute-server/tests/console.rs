//! The operators' console over real HTTP on a real socket (docs/console.md):
//! sign-in with operator keys only, the cookie's flags, the security
//! headers, CSRF and cross-origin refusals, the queue, claiming, a
//! four-eyes overturn refused to its proposer and approved by another
//! operator, the audit trail, the channels page's charts, and no
//! applicant data in the URLs the pages link to.
//!
//! The same flows in a real browser are in `console_browser.rs`.

#![allow(clippy::unwrap_used)]

mod console_common;

use console_common::*;
use finroute_proto::v1 as pb;

#[tokio::test]
async fn sign_in_takes_operator_keys_only_and_sets_a_strict_cookie() {
    let desk = Desk::start().await;
    let http = Http::new(desk.console());

    // Every page is behind sign-in.
    let r = http.get("/queue", None).await;
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), Some("/login"));

    let login = http.get("/login", None).await;
    assert_eq!(login.status, 200);
    for (h, v) in [
        ("content-security-policy", "default-src 'none'"),
        ("x-frame-options", "DENY"),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "same-origin"),
        ("cache-control", "no-store"),
    ] {
        assert!(
            login.header(h).is_some_and(|x| x.contains(v)),
            "{h}: {:?}",
            login.header(h)
        );
    }
    assert!(login.body.contains("script-src") || !login.body.contains("<script>"));
    assert!(!login.body.contains("<script>"), "no inline script");
    assert!(!login.body.contains("style="), "no inline style");
    let token_cookie = login.set_cookie("finroute_console_login").unwrap();
    assert!(token_cookie.contains("HttpOnly") && token_cookie.contains("SameSite=Strict"));
    assert!(!token_cookie.contains("Secure"), "plain HTTP: not Secure");
    let token = login.hidden("login_token").unwrap();

    // A wrong key, a key without the operator role, a missing token.
    let r = http.login(&token, "fr_live_nobody", &token).await;
    assert_eq!(r.status, 200);
    assert!(r.body.contains("not a key of this router"), "{}", r.body);
    let r = http.login(&token, MOBILE, &token).await;
    assert!(r.body.contains("lacks the operator role"), "{}", r.body);
    let r = http.login(&token, OPS_A, "forged").await;
    assert!(r.body.contains("form expired"), "{}", r.body);
    assert!(r.set_cookie("finroute_console").is_none());

    // An operator key: a session cookie, HttpOnly and SameSite=Strict.
    let r = http.login(&token, OPS_A, &token).await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.header("location"), Some("/queue"));
    let session = r.set_cookie("finroute_console").unwrap();
    assert!(session.contains("HttpOnly"), "{session}");
    assert!(session.contains("SameSite=Strict"), "{session}");
    assert!(session.contains("Path=/"), "{session}");
    let cookie = cookie_pair(&session);
    assert!(!cookie.contains(OPS_A), "the key is not the session id");
    let q = http.get("/queue", Some(&cookie)).await;
    assert_eq!(q.status, 200);
    assert!(q.body.contains("ops-a"), "the operator is named");

    // Sign-out needs the CSRF token too, and ends the session.
    let csrf = q.hidden("csrf").unwrap();
    let r = http
        .post("/logout", Some(&cookie), &[("csrf", &csrf)])
        .await;
    assert_eq!(r.status, 303);
    assert_eq!(http.get("/queue", Some(&cookie)).await.status, 303);
    desk.stop().await;
}

#[tokio::test]
async fn operators_work_a_case_and_four_eyes_hold_in_the_console() {
    let desk = Desk::start().await;
    let appeal = desk.file_appeal("idem-console-1").await;
    let id = appeal.appeal_id.clone();
    let http = Http::new(desk.console());
    let a = http.sign_in(OPS_A).await;
    let b = http.sign_in(OPS_B).await;

    // The queue lists the appeal, unclaimed, with a claim button and its
    // SLA clock; the applicant's text is not on the queue.
    let q = http.get("/queue?view=unclaimed", Some(&a.cookie)).await;
    assert!(
        q.body.contains(&format!("data-appeal=\"{id}\"")),
        "{}",
        q.body
    );
    assert!(q.body.contains("class=\"claim\""));
    assert!(q.body.contains("data-due="));
    assert!(!q.body.contains(DETAILS));

    // A claim without the CSRF token, or from another origin, is refused.
    let path = format!("/cases/{id}/claim");
    let r = http.post(&path, Some(&a.cookie), &[("csrf", "nope")]).await;
    assert_eq!(r.status, 403);
    let r = http
        .post_with(
            &path,
            Some(&a.cookie),
            &[("csrf", &a.csrf)],
            &[("origin", "http://evil.example")],
        )
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(desk.case(&id).await.appeal.unwrap().assignee, "");

    // Claimed by A; B's claim is refused naming A's key id.
    let r = http
        .post(&path, Some(&a.cookie), &[("csrf", &a.csrf)])
        .await;
    assert_eq!(r.status, 303);
    assert_eq!(desk.case(&id).await.appeal.unwrap().assignee, "ops-a");
    let r = http
        .post(&path, Some(&b.cookie), &[("csrf", &b.csrf)])
        .await;
    assert_eq!(r.status, 303);
    let page = http.get(&format!("/cases/{id}"), Some(&b.cookie)).await;
    assert!(
        page.body.contains("id=\"flash\" class=\"flash bad\""),
        "{}",
        page.body
    );
    assert!(page.body.contains("ops-a"), "the holder is named");

    // The case shows what a reviewer needs: the appeal text, the refusal,
    // the channel reports and the audit trail.
    let page = http.get(&format!("/cases/{id}"), Some(&a.cookie)).await;
    assert!(page.body.contains(DETAILS));
    assert!(page.body.contains("id=\"reports\""));
    assert!(page.body.contains("bank-a"));
    assert!(page.body.contains("id=\"audit\""));
    assert!(
        page.body.contains("id=\"decide-form\""),
        "A holds it: A may decide"
    );
    // The offers with their APRs and the lender's expected decision time
    // (a partner loan's prior: an hour).
    assert!(page.body.contains("id=\"offers\""), "{}", page.body);
    assert!(page.body.contains("Decides in") && page.body.contains("1h 00m"));

    // A proposes an overturn (four eyes), then cannot approve it.
    let r = http
        .post(
            &format!("/cases/{id}/decide"),
            Some(&a.cookie),
            &[
                ("csrf", &a.csrf),
                ("decision", "overturned"),
                (
                    "reason_code",
                    &(pb::DecisionReason::NewEvidence as i32).to_string(),
                ),
                ("note", "payslips show the new salary"),
            ],
        )
        .await;
    assert_eq!(r.status, 303);
    let appeal = desk.case(&id).await.appeal.unwrap();
    assert_eq!(appeal.pending_decision, pb::AppealStatus::Overturned as i32);
    assert_eq!(appeal.proposed_by, "ops-a");
    let r = http
        .post(
            &format!("/cases/{id}/approve"),
            Some(&a.cookie),
            &[("csrf", &a.csrf), ("note", "")],
        )
        .await;
    assert_eq!(r.status, 303);
    let page = http.get(&format!("/cases/{id}"), Some(&a.cookie)).await;
    assert!(page.body.contains("FailedPrecondition"), "{}", page.body);
    assert!(
        page.body
            .contains("A second, different operator must approve"),
        "{}",
        page.body
    );
    assert_eq!(
        desk.case(&id).await.appeal.unwrap().status,
        pb::AppealStatus::InReview as i32
    );

    // B approves: overturned, decided by B.
    let r = http
        .post(
            &format!("/cases/{id}/approve"),
            Some(&b.cookie),
            &[("csrf", &b.csrf), ("note", "agreed")],
        )
        .await;
    assert_eq!(r.status, 303);
    let appeal = desk.case(&id).await.appeal.unwrap();
    assert_eq!(appeal.status, pb::AppealStatus::Overturned as i32);
    assert_eq!(appeal.resolved_by, "ops-b");

    // The audit trail page lists every step in order with the key ids.
    let audit = http
        .get(&format!("/cases/{id}/audit"), Some(&b.cookie))
        .await;
    assert_eq!(audit.status, 200);
    let kinds: Vec<&str> = audit
        .body
        .match_indices("data-kind=\"")
        .map(|(i, m)| {
            let rest = &audit.body[i + m.len()..];
            &rest[..rest.find('"').unwrap()]
        })
        .collect();
    assert_eq!(
        kinds,
        ["filed", "claimed", "proposed", "approved"],
        "{}",
        audit.body
    );
    for actor in ["desk-mobile", "ops-a", "ops-b"] {
        assert!(audit.body.contains(actor), "{actor}");
    }

    // The links a page carries name appeals by id only.
    for href in page.hrefs() {
        assert!(
            !href.contains("salary") && !href.contains("23456"),
            "{href}"
        );
    }
    desk.stop().await;
}

#[tokio::test]
async fn the_channels_page_draws_the_last_hour_and_pages_speak_chinese() {
    let desk = Desk::start().await;
    desk.file_appeal("idem-console-2").await;
    let http = Http::new(desk.console());
    let a = http.sign_in(OPS_A).await;
    let page = http.get("/channels", Some(&a.cookie)).await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("data-channel=\"bank-a\""),
        "{}",
        page.body
    );
    assert_eq!(
        page.body.matches("<svg").count(),
        6,
        "three charts per channel"
    );
    assert!(page.body.contains("data-channel=\"bank-down\""));
    assert!(
        page.body.contains("<rect class=\"s3\""),
        "a failed call is drawn"
    );
    assert!(
        page.body.contains("<rect class=\"s0\""),
        "an ok call is drawn"
    );

    // The language link sets a cookie; pages then read in Chinese.
    let r = http
        .get("/lang?to=zh-CN&back=%2Fchannels", Some(&a.cookie))
        .await;
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), Some("/channels"));
    let lang = cookie_pair(&r.set_cookie("finroute_lang").unwrap());
    let both = format!("{}; {lang}", a.cookie);
    let zh = http.get("/channels", Some(&both)).await;
    assert!(zh.body.contains("lang=\"zh-CN\""));
    assert!(zh.body.contains("熔断器"), "{}", zh.body);
    let zh = http.get("/queue", Some(&both)).await;
    assert!(zh.body.contains("审核队列") && zh.body.contains("认领"));
    // An open redirect is not possible through the language link.
    let r = http
        .get(
            "/lang?to=en&back=https%3A%2F%2Fevil.example",
            Some(&a.cookie),
        )
        .await;
    assert_eq!(r.header("location"), Some("/queue"));
    let r = http.get("/lang?to=en&back=%2F%2Fevil.example", None).await;
    assert_eq!(r.header("location"), Some("/queue"));

    // Assets are served from the binary; anything else is a 404.
    let css = http.get("/assets/console.css", None).await;
    assert_eq!(css.status, 200);
    assert!(css.header("content-type").unwrap().starts_with("text/css"));
    assert_eq!(http.get("/nothing-here", None).await.status, 404);
    desk.stop().await;
}

#[tokio::test]
async fn a_breached_appeal_shows_how_long_overdue_it_is() {
    let desk = Desk::start().await;
    let old = desk.file_appeal("idem-sla-old").await.appeal_id;
    let http = Http::new(desk.console());
    let a = http.sign_in(OPS_A).await;
    let q = http.get("/queue?view=breached", Some(&a.cookie)).await;
    assert!(
        q.body.contains("id=\"queue-empty\""),
        "nothing breached yet"
    );
    // Four days on (an income-changed appeal's SLA is three days), it is
    // breached by a day, in every view.
    desk.clock
        .advance(std::time::Duration::from_secs(4 * 86_400));
    for view in ["all", "breached"] {
        let q = http
            .get(&format!("/queue?view={view}"), Some(&a.cookie))
            .await;
        assert!(q.body.contains(&old), "{view}: {}", q.body);
        assert!(q.body.contains("class=\"sla over\""), "{}", q.body);
        assert!(q.body.contains("overdue 1d 0h"), "{}", q.body);
    }
    desk.stop().await;
}

#[tokio::test]
async fn a_console_needs_operator_keys() {
    let mut config = finroute_server::Config::default();
    config.server.console_listen = Some("127.0.0.1:0".parse().unwrap());
    let e = config.validate().unwrap_err().to_string();
    assert!(e.contains("server.console_listen"), "{e}");
    assert!(e.contains("operator"), "{e}");
    // Off by default, and empty means off in a file.
    assert_eq!(
        finroute_server::Config::default().server.console_listen,
        None
    );
    let c: finroute_server::Config = toml::from_str("[server]\nconsole_listen = \"\"\n").unwrap();
    assert_eq!(c.server.console_listen, None);
}
