//! The console in a real browser: Debian's Chromium, headless, driven
//! over WebDriver by chromedriver. Two operators sign in with their keys,
//! claim an appeal from the queue, propose an overturn, see the four-eyes
//! rule refuse the proposer's own approval, approve as the other
//! operator, read the audit trail, switch to Chinese, and look at the
//! channels page. Screenshots of the queue, the case and the channels
//! page are written to `target/tmp/console-screenshots/` for people to
//! look at.
//!
//! Needs `FINROUTE_TEST_CHROMEDRIVER` (the chromedriver binary, e.g.
//! `/usr/bin/chromedriver`; `.ci/run` installs Debian's `chromium` and
//! `chromium-driver` and sets it); unset, the test says it is skipped.
//! `FINROUTE_TEST_CHROMIUM` names the browser (default `/usr/bin/chromium`).

#![allow(clippy::unwrap_used)]

mod console_common;

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use console_common::*;
use fantoccini::{Client, ClientBuilder, Locator};

/// chromedriver on a free port, killed on drop.
struct Driver {
    child: std::process::Child,
    port: u16,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    async fn start(binary: &str) -> Driver {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = std::process::Command::new(binary)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {binary}: {e}"));
        // Killed and waited for on drop, a failed start included.
        let driver = Driver { child, port };
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return driver;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("chromedriver did not listen on {port}");
    }

    async fn browser(&self) -> Client {
        let chromium =
            std::env::var("FINROUTE_TEST_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({
                "binary": chromium,
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--window-size=1360,1000",
                    "--lang=en-US",
                ],
            }),
        );
        ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .unwrap()
    }
}

fn shots() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("console-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn shot(c: &Client, name: &str) {
    let png = c.screenshot().await.unwrap();
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
    let path = shots().join(name);
    std::fs::write(&path, png).unwrap();
    eprintln!("screenshot: {}", path.display());
}

/// The text of the element `css`, waiting (up to 10 s) for it to exist on
/// a page that has finished loading (a click may still be navigating).
async fn text(c: &Client, css: &str) -> String {
    let mut last = String::new();
    for _ in 0..100 {
        if let Ok(e) = c.find(Locator::Css(css)).await {
            match e.text().await {
                Ok(t) => return t,
                Err(err) => last = err.to_string(),
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{css}: not found ({last})");
}

/// Clicks the element `css` once it exists (retrying a stale one).
async fn click(c: &Client, css: &str) {
    let mut last = String::new();
    for _ in 0..100 {
        if let Ok(e) = c.find(Locator::Css(css)).await {
            match e.click().await {
                Ok(()) => return,
                Err(err) => last = err.to_string(),
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{css}: cannot click ({last})");
}

/// Waits until the element `css` reads `needle` (the page may still be
/// the one before a click's navigation); its text then.
async fn wait_text(c: &Client, css: &str, needle: &str) -> String {
    let mut seen = String::new();
    for _ in 0..100 {
        if let Ok(e) = c.find(Locator::Css(css)).await
            && let Ok(t) = e.text().await
        {
            if t.contains(needle) {
                return t;
            }
            seen = t;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{css} never read {needle:?} (last: {seen:?})");
}

/// Waits until the page's `h1` contains `what`.
async fn on_page(c: &Client, what: &str) {
    for _ in 0..100 {
        if text(c, "h1").await.contains(what) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("never reached the page {what}");
}

async fn sign_in(c: &Client, base: &str, key: &str, id: &str) {
    c.goto(&format!("{base}/login")).await.unwrap();
    c.find(Locator::Css("#key"))
        .await
        .unwrap()
        .send_keys(key)
        .await
        .unwrap();
    click(c, "#sign-in").await;
    assert_eq!(text(c, "#operator").await, id);
}

#[tokio::test]
async fn operators_work_the_queue_in_a_real_browser() {
    let Ok(chromedriver) = std::env::var("FINROUTE_TEST_CHROMEDRIVER") else {
        use std::io::Write as _;
        let _ = writeln!(
            std::io::stderr(),
            "skipped: operators_work_the_queue_in_a_real_browser needs FINROUTE_TEST_CHROMEDRIVER \
             (apt-get install chromium chromium-driver; FINROUTE_TEST_CHROMEDRIVER=/usr/bin/chromedriver)"
        );
        return;
    };
    let desk = Desk::start().await;
    let appeal = desk.file_appeal("idem-browser-1").await;
    let other = desk.file_appeal("idem-browser-2").await;
    let id = appeal.appeal_id.clone();
    let base = format!("http://{}", desk.console());
    let driver = Driver::start(&chromedriver).await;
    let c = driver.browser().await;

    // Operator A signs in and sees the queue with both appeals.
    sign_in(&c, &base, OPS_A, "ops-a").await;
    let queue = text(&c, "#queue").await;
    assert!(
        queue.contains(&id) && queue.contains(&other.appeal_id),
        "{queue}"
    );
    // The SLA clock is kept by the page's own script (the CSP allows it).
    let sla = text(&c, &format!("tr[data-appeal='{id}'] .sla")).await;
    assert!(sla.contains("left"), "{sla}");
    shot(&c, "queue.png").await;

    // A claims from the queue, then opens the case.
    click(&c, &format!("tr[data-appeal='{id}'] button.claim")).await;
    wait_text(&c, "#flash", "Done").await;
    on_page(&c, "Queue").await;
    wait_text(&c, &format!("tr[data-appeal='{id}'] .assignee"), "ops-a").await;
    click(&c, &format!("tr[data-appeal='{id}'] a.case-link")).await;
    on_page(&c, "Case").await;
    assert!(text(&c, "#appeal-text").await.contains("salary 23456"));

    // A proposes an overturn with a reason code and a note.
    click(&c, "#decision-overturned").await;
    c.find(Locator::Css("#reason_code"))
        .await
        .unwrap()
        .select_by_value("1")
        .await
        .unwrap();
    c.find(Locator::Css("#note"))
        .await
        .unwrap()
        .send_keys("payslips show the new salary")
        .await
        .unwrap();
    click(&c, "#decide").await;
    wait_text(&c, "#proposed-by", "ops-a").await;

    // The four-eyes rule refuses A's own approval.
    click(&c, "#approve").await;
    wait_text(&c, "#flash", "A second, different operator must approve").await;
    assert!(c.find(Locator::Css("#resolved-by")).await.is_err());
    shot(&c, "case.png").await;
    click(&c, "#sign-out").await;
    // Signed out: the sign-in form again.
    text(&c, "#sign-in").await;
    assert!(c.find(Locator::Css("#operator")).await.is_err());

    // B approves: the appeal is overturned, decided by B.
    sign_in(&c, &base, OPS_B, "ops-b").await;
    c.goto(&format!("{base}/cases/{id}")).await.unwrap();
    c.find(Locator::Css("#approve-note"))
        .await
        .unwrap()
        .send_keys("agreed")
        .await
        .unwrap();
    click(&c, "#approve").await;
    wait_text(&c, "#case-status", "overturned").await;
    assert_eq!(text(&c, "#resolved-by").await, "ops-b");

    // The audit trail names every step and who took it, in order.
    click(&c, "#audit-link").await;
    on_page(&c, "Audit trail").await;
    let rows = c.find_all(Locator::Css("#audit tbody tr")).await.unwrap();
    let mut kinds = Vec::new();
    for r in &rows {
        kinds.push(r.attr("data-kind").await.unwrap().unwrap_or_default());
    }
    assert_eq!(kinds, ["filed", "claimed", "proposed", "approved"]);
    let audit = text(&c, "#audit").await;
    for actor in ["desk-mobile", "ops-a", "ops-b"] {
        assert!(audit.contains(actor), "{actor}: {audit}");
    }

    // The channels page, with its charts: a few more routed calls first.
    for i in 0..4 {
        desk.file_appeal(&format!("idem-browser-more-{i}")).await;
    }
    click(&c, "#nav-channels").await;
    on_page(&c, "Channels").await;
    let card = text(&c, "section[data-channel='bank-a']").await;
    assert!(card.contains("bank-a"), "{card}");
    let charts = c
        .find_all(Locator::Css("section[data-channel='bank-a'] svg.chart"))
        .await
        .unwrap();
    assert_eq!(charts.len(), 3);
    let down = text(&c, "section[data-channel='bank-down']").await;
    assert!(down.contains("6"), "six calls failed: {down}");
    shot(&c, "channels.png").await;

    // In Chinese.
    click(&c, "#lang").await;
    on_page(&c, "渠道").await;
    click(&c, "#nav-queue").await;
    on_page(&c, "审核队列").await;
    shot(&c, "queue-zh-CN.png").await;

    c.close().await.unwrap();
    drop(driver);
    desk.stop().await;
}
