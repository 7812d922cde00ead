//! The operators' web console (docs/console.md): the review desk in a
//! browser, served by `finroute serve` on `server.console_listen` (off
//! when empty).
//!
//! - **One service.** Every page and form calls the same
//!   [`ReviewService`] methods as gRPC, in process, as the signed-in
//!   operator: the claim, the four-eyes rule and the audit trail are the
//!   service's, never the page's.
//! - **Sign-in** with an operator api key, checked once by the router's
//!   [`Authenticator`]; then a session cookie (HttpOnly, SameSite=Strict,
//!   Secure under TLS; [`session`]).
//! - **CSRF**: every form carries the session's token, compared in
//!   constant time; a cross-site `Origin` or `Sec-Fetch-Site` is refused
//!   too. The sign-in form has its own token in a short-lived cookie.
//! - **Headers**: a content-security-policy allowing this origin's own
//!   stylesheet and script only (no inline code, no other origin), no
//!   framing, no referrer to other sites, no caching.
//! - **Privacy**: URLs carry appeal ids only; the applicant's text is on
//!   the case page's body and never logged.
//! - **Offline**: the stylesheet and the script are compiled into the
//!   binary ([`assets`]); charts are SVG drawn on the server ([`chart`]).
//! - **Languages**: en and zh-CN ([`text`]), from a cookie the language
//!   link sets, else the browser's `Accept-Language`.

mod chart;
mod pages;
pub mod session;
mod text;
mod tls;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use finroute_core::Locale;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::auth::Authenticator;
use crate::config::ReviewConfig;
use crate::fanout::Registry;
use crate::review::ReviewService;
use session::Sessions;

pub use tls::tls_config;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "finroute_console";
/// The sign-in form's token cookie.
pub const LOGIN_COOKIE: &str = "finroute_console_login";
/// The language cookie (`en` or `zh-CN`; not a secret).
pub const LANG_COOKIE: &str = "finroute_lang";

/// The content-security-policy of every response.
pub const CSP: &str = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; \
                       form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Largest form body taken (a note is at most a few thousand characters).
const MAX_BODY: usize = 32 * 1024;

/// What the console's handlers share.
pub struct Console {
    pub(crate) review: ReviewService,
    pub(crate) registry: Registry,
    pub(crate) auth: Authenticator,
    pub(crate) sessions: Sessions,
    pub(crate) settings: ReviewConfig,
    /// Served over TLS: cookies are `Secure`, HSTS is sent.
    pub(crate) secure: bool,
}

impl std::fmt::Debug for Console {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Console")
            .field("secure", &self.secure)
            .finish_non_exhaustive()
    }
}

impl Console {
    pub fn new(
        review: ReviewService,
        registry: Registry,
        auth: Authenticator,
        settings: ReviewConfig,
        secure: bool,
    ) -> Arc<Console> {
        Arc::new(Console {
            review,
            registry,
            auth,
            sessions: Sessions::default(),
            settings,
            secure,
        })
    }

    /// A cookie header value: HttpOnly, SameSite=Strict, Secure under TLS.
    pub(crate) fn cookie(
        &self,
        name: &str,
        value: &str,
        path: &str,
        max_age: Option<u64>,
    ) -> String {
        let mut c = format!("{name}={value}; Path={path}; HttpOnly; SameSite=Strict");
        if let Some(age) = max_age {
            c.push_str(&format!("; Max-Age={age}"));
        }
        if self.secure {
            c.push_str("; Secure");
        }
        c
    }
}

/// The console's routes.
pub fn app(console: Arc<Console>) -> Router {
    let secure = console.secure;
    Router::new()
        .route("/", get(pages::home))
        .route("/login", get(pages::login_page).post(pages::login))
        .route("/logout", post(pages::logout))
        .route("/lang", get(pages::lang))
        .route("/queue", get(pages::queue))
        .route("/cases/{id}", get(pages::case))
        .route("/cases/{id}/audit", get(pages::audit))
        .route("/cases/{id}/claim", post(pages::claim))
        .route("/cases/{id}/release", post(pages::release))
        .route("/cases/{id}/decide", post(pages::decide))
        .route("/cases/{id}/approve", post(pages::approve))
        .route("/cases/{id}/reject", post(pages::reject))
        .route("/channels", get(pages::channels))
        .route("/assets/console.css", get(assets::css))
        .route("/assets/console.js", get(assets::js))
        .fallback(pages::not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(axum::middleware::map_response(
            move |r: Response| async move { security_headers(r, secure) },
        ))
        .with_state(console)
}

/// Adds the security headers to every response.
fn security_headers(mut r: Response, secure: bool) -> Response {
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // Not `no-referrer`: under it browsers send `Origin: null` on the
    // console's own forms, and the origin check needs the real one.
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    if secure {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    r
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub(crate) fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

/// The page language: the language cookie, else the first language of
/// `Accept-Language` (Chinese of any region reads zh-CN), else en.
pub(crate) fn locale(headers: &HeaderMap) -> Locale {
    if let Some(tag) = cookie_value(headers, LANG_COOKIE) {
        return Locale::negotiate(tag);
    }
    let first = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(|t| {
            t.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    if first == "zh" || first.starts_with("zh-") {
        Locale::ZhCn
    } else {
        Locale::En
    }
}

/// Whether a state-changing request comes from this console's own pages:
/// a browser's `Sec-Fetch-Site` (when sent) is `same-origin` (or `none`,
/// typed by the user), and an `Origin` (when sent) names the host the
/// request was sent to.
pub(crate) fn same_origin(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok())
        && site != "same-origin"
        && site != "none"
    {
        return false;
    }
    match headers.get(header::ORIGIN).map(|v| v.to_str()) {
        None => true,
        Some(Err(_)) => false,
        Some(Ok(origin)) => {
            let host = headers
                .get(header::HOST)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            let bare = origin
                .strip_prefix("https://")
                .or_else(|| origin.strip_prefix("http://"))
                .unwrap_or("");
            !host.is_empty() && bare == host
        }
    }
}

/// Serves the console on `listener` (TLS when `tls` is set) until `stop`
/// is cancelled.
pub async fn serve(
    listener: TcpListener,
    tls: Option<Arc<tokio_rustls::rustls::ServerConfig>>,
    console: Arc<Console>,
    stop: CancellationToken,
) -> std::io::Result<()> {
    let app = app(console);
    match tls {
        None => {
            axum::serve(
                crate::metrics::BoundedListener::with_life(listener, tls::CONNECTION_LIFE),
                app,
            )
            .with_graceful_shutdown(stop.cancelled_owned())
            .await
        }
        Some(config) => {
            axum::serve(tls::TlsListener::start(listener, config, stop.clone()), app)
                .with_graceful_shutdown(stop.cancelled_owned())
                .await
        }
    }
}

/// The address line of the ready log.
pub fn describe(addr: Option<SocketAddr>, secure: bool) -> String {
    match addr {
        Some(a) if secure => format!("https://{a}/"),
        Some(a) => format!("http://{a}/"),
        None => "off (server.console_listen is empty)".into(),
    }
}

/// 404 and other plain answers.
pub(crate) fn plain(status: StatusCode, text: &'static str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        text,
    )
        .into_response()
}

mod assets {
    //! The stylesheet and the script, compiled in.
    use axum::http::header;
    use axum::response::IntoResponse;

    pub const CSS: &str = include_str!("../../assets/console/console.css");
    pub const JS: &str = include_str!("../../assets/console/console.js");

    pub async fn css() -> impl IntoResponse {
        ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], CSS)
    }

    pub async fn js() -> impl IntoResponse {
        (
            [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
            JS,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn cookies_are_found_by_exact_name() {
        let h = headers(&[
            ("cookie", "a=1; finroute_console_login=x"),
            ("cookie", "finroute_console=abc"),
        ]);
        assert_eq!(cookie_value(&h, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie_value(&h, LOGIN_COOKIE), Some("x"));
        assert_eq!(cookie_value(&h, "b"), None);
    }

    #[test]
    fn the_language_comes_from_the_cookie_then_the_browser() {
        assert_eq!(locale(&headers(&[])), Locale::En);
        assert_eq!(
            locale(&headers(&[("accept-language", "zh-TW,zh;q=0.9,en;q=0.5")])),
            Locale::ZhCn
        );
        assert_eq!(
            locale(&headers(&[("accept-language", "fr-FR,zh;q=0.1")])),
            Locale::En
        );
        assert_eq!(
            locale(&headers(&[
                ("accept-language", "zh-CN"),
                ("cookie", "finroute_lang=en")
            ])),
            Locale::En
        );
    }

    #[test]
    fn cross_site_requests_are_refused() {
        assert!(same_origin(&headers(&[])));
        assert!(same_origin(&headers(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "http://127.0.0.1:8080"),
            ("sec-fetch-site", "same-origin"),
        ])));
        assert!(!same_origin(&headers(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "http://evil.example"),
        ])));
        assert!(!same_origin(&headers(&[("sec-fetch-site", "cross-site")])));
        assert!(!same_origin(&headers(&[("sec-fetch-site", "same-site")])));
        assert!(!same_origin(&headers(&[("origin", "null")])));
    }
}
