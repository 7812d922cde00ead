//! What the console tests share: a router with a fake partner, three keys
//! (a mobile backend's, two operators') and its console on a free port;
//! a small HTTP/1.1 client over a real socket.

#![allow(dead_code, clippy::unwrap_used)]

use std::net::SocketAddr;

use finroute_proto::v1 as pb;
use finroute_server::Config;
use finroute_server::config::ApiKeyConfig;
use finroute_testkit::{
    Behaviour, FakePartner, TestRouter, config_with, partner_offer, refused_borrower,
};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub const MOBILE: &str = "fr_live_mobile_backend_key";
pub const OPS_A: &str = "fr_live_operator_a_key";
pub const OPS_B: &str = "fr_live_operator_b_key";
pub const DETAILS: &str = "我的收入已提高 salary 23456";

fn key(id: &str, secret: &str, roles: &[&str]) -> ApiKeyConfig {
    ApiKeyConfig {
        id: id.into(),
        sha256: hex::encode(Sha256::digest(secret.as_bytes())),
        tenant: "platform-a".into(),
        roles: roles.iter().map(|r| r.to_string()).collect(),
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

/// A router with its console, a partner, and the three keys.
pub struct Desk {
    pub router: TestRouter,
    pub partner: FakePartner,
    /// A partner that fails every quote (the channels page shows it).
    pub failing: FakePartner,
    /// The review desk's clock, which tests move forward.
    pub clock: finroute_server::clock::Clock,
}

impl Desk {
    pub async fn start() -> Desk {
        let partner = FakePartner::start(
            Behaviour::Offers(vec![partner_offer("ref-1", 800_000, 1_450, 0.6)]),
            vec![],
        )
        .await;
        let failing = FakePartner::start(Behaviour::Errors(tonic::Code::Unavailable), vec![]).await;
        let mut config: Config = config_with(vec![
            partner.spec("bank-a", 500),
            failing.spec("bank-down", 500),
        ]);
        config.auth.keys = vec![
            key("desk-mobile", MOBILE, &["router"]),
            key("ops-a", OPS_A, &["operator"]),
            key("ops-b", OPS_B, &["operator"]),
        ];
        config.server.console_listen = Some("127.0.0.1:0".parse().unwrap());
        let clock = finroute_server::clock::Clock::manual();
        let router = TestRouter::start_with_clock(config, clock.clone()).await;
        Desk {
            router,
            partner,
            failing,
            clock,
        }
    }

    pub fn console(&self) -> SocketAddr {
        self.router.console_addr.unwrap()
    }

    /// A refused application routed and appealed by the mobile backend.
    pub async fn file_appeal(&self, idem: &str) -> pb::Appeal {
        let mut client = self.router.client().await;
        let app = client
            .route_financing(with_key(refused_borrower(), MOBILE))
            .await
            .unwrap()
            .into_inner();
        client
            .file_appeal(with_key(
                pb::FileAppealRequest {
                    application_id: app.application_id.clone(),
                    adapter_id: String::new(),
                    reason: pb::AppealReason::IncomeChanged as i32,
                    details: DETAILS.into(),
                    idempotency_key: idem.into(),
                },
                MOBILE,
            ))
            .await
            .unwrap()
            .into_inner()
    }

    /// The case over gRPC, as operator A.
    pub async fn case(&self, id: &str) -> pb::GetCaseResponse {
        let mut review =
            pb::review_service_client::ReviewServiceClient::new(self.router.channel().await);
        review
            .get_case(with_key(
                pb::GetCaseRequest {
                    appeal_id: id.into(),
                },
                OPS_A,
            ))
            .await
            .unwrap()
            .into_inner()
    }

    pub async fn stop(self) {
        self.router.stop().await.unwrap();
    }
}

/// One HTTP answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The `Set-Cookie` header that sets `name`.
    pub fn set_cookie(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
            .map(|(_, v)| v.clone())
            .find(|v| v.starts_with(&format!("{name}=")))
    }

    /// The value of the first hidden input `name`.
    pub fn hidden(&self, name: &str) -> Option<String> {
        let at = self.body.find(&format!("name=\"{name}\" value=\""))?;
        let rest = &self.body[at + name.len() + 15..];
        Some(rest[..rest.find('"')?].to_owned())
    }

    /// Every `href` of the page.
    pub fn hrefs(&self) -> Vec<String> {
        self.body
            .match_indices("href=\"")
            .map(|(i, m)| {
                let rest = &self.body[i + m.len()..];
                rest[..rest.find('"').unwrap_or(0)].to_owned()
            })
            .collect()
    }
}

/// `name=value` of a `Set-Cookie` header.
pub fn cookie_pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap_or("").to_owned()
}

/// A signed-in operator.
pub struct Signed {
    pub cookie: String,
    pub csrf: String,
}

/// HTTP/1.1 over a fresh connection per request.
pub struct Http {
    addr: SocketAddr,
}

fn form(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

impl Http {
    pub fn new(addr: SocketAddr) -> Http {
        Http { addr }
    }

    async fn send(&self, request: String) -> Answer {
        let mut s = tokio::net::TcpStream::connect(self.addr).await.unwrap();
        s.write_all(request.as_bytes()).await.unwrap();
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).await.unwrap();
        let text = String::from_utf8_lossy(&raw).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        let mut lines = head.lines();
        let status = lines
            .next()
            .unwrap()
            .split(' ')
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
            .collect();
        Answer {
            status,
            headers,
            body: body.to_owned(),
        }
    }

    pub async fn get(&self, path: &str, cookie: Option<&str>) -> Answer {
        let cookie = cookie
            .map(|c| format!("Cookie: {c}\r\n"))
            .unwrap_or_default();
        self.send(format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\n{cookie}Connection: close\r\n\r\n",
            self.addr
        ))
        .await
    }

    pub async fn post(&self, path: &str, cookie: Option<&str>, fields: &[(&str, &str)]) -> Answer {
        self.post_with(path, cookie, fields, &[]).await
    }

    pub async fn post_with(
        &self,
        path: &str,
        cookie: Option<&str>,
        fields: &[(&str, &str)],
        extra: &[(&str, &str)],
    ) -> Answer {
        let body = form(fields);
        let cookie = cookie
            .map(|c| format!("Cookie: {c}\r\n"))
            .unwrap_or_default();
        let extra: String = extra.iter().map(|(k, v)| format!("{k}: {v}\r\n")).collect();
        self.send(format!(
            "POST {path} HTTP/1.1\r\nHost: {}\r\n{cookie}{extra}Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.addr,
            body.len()
        ))
        .await
    }

    /// Posts the sign-in form with `token` in the cookie and `field` in the form.
    pub async fn login(&self, token: &str, key: &str, field: &str) -> Answer {
        self.post(
            "/login",
            Some(&format!("finroute_console_login={token}")),
            &[("key", key), ("login_token", field)],
        )
        .await
    }

    /// Signs in with `key`: the session cookie and its CSRF token.
    pub async fn sign_in(&self, key: &str) -> Signed {
        let page = self.get("/login", None).await;
        let token = page.hidden("login_token").unwrap();
        let r = self.login(&token, key, &token).await;
        assert_eq!(r.status, 303, "{}", r.body);
        let cookie = cookie_pair(&r.set_cookie("finroute_console").unwrap());
        let q = self.get("/queue", Some(&cookie)).await;
        let csrf = q.hidden("csrf").unwrap();
        Signed { cookie, csrf }
    }
}
