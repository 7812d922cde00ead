//! [`ErrorDetailsLayer`]: the tower layer that finishes every error status
//! the router's own services (FinancingRouter, ReviewService,
//! PartnerOutcomeService) send, from
//! whichever part made it (a handler, an interceptor, the request-body
//! timeout, tonic's codec):
//!
//! - a status without a `google.rpc.ErrorInfo` (the transport's: a message
//!   over the size limit, an unknown method, a body that is not protobuf)
//!   gets one with the reason of its code ([`Reason::of_code`]);
//! - when the caller sent a locale, a `google.rpc.LocalizedMessage` in it
//!   ([`Reason::text`]): RouteFinancing's, StreamOffers' and GetKeyFacts'
//!   `locale` field, else the standard `accept-language` metadata. Unsupported locales
//!   fall back to `en`; a caller that sent none gets no LocalizedMessage.
//!
//! Errors refused before the request body is read (authentication, rate
//! limit, the store-health gate) only see `accept-language`. Statuses that
//! tonic makes outside the service stack (its per-connection load shedding,
//! an expired `grpc-timeout`) pass no layer and carry no details.
//!
//! The status's code, message and other details are left as they are.

use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, ready};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use bytes::{Buf, Bytes, BytesMut};
use finroute_core::Locale;
use finroute_proto::v1 as pb;
use http::{HeaderMap, HeaderValue};
use http_body::{Body as HttpBody, Frame, SizeHint};
use prost::Message;
use tonic::{Code, Status};
use tonic_types::pb as rpc;

use crate::error::{ERROR_DOMAIN, Reason, locale_tag};

const GRPC_STATUS: &str = "grpc-status";
const GRPC_STATUS_DETAILS: &str = "grpc-status-details-bin";
const ERROR_INFO_URL: &str = "type.googleapis.com/google.rpc.ErrorInfo";
const LOCALIZED_MESSAGE_URL: &str = "type.googleapis.com/google.rpc.LocalizedMessage";

/// The services whose errors the layer finishes.
const SERVICES: [&str; 3] = [
    "/finroute.v1.FinancingRouter/",
    "/finroute.v1.ReviewService/",
    "/finroute.v1.PartnerOutcomeService/",
];
/// The methods whose request carries a `locale` field, and how to read it
/// from the request message.
const LOCALE_IN_BODY: [(&str, ReadLocale); 3] = [
    (
        "/finroute.v1.FinancingRouter/RouteFinancing",
        routing_locale,
    ),
    ("/finroute.v1.FinancingRouter/StreamOffers", routing_locale),
    ("/finroute.v1.FinancingRouter/GetKeyFacts", key_facts_locale),
];

/// Reads the `locale` field of one encoded request message.
type ReadLocale = fn(&[u8]) -> Option<String>;

fn routing_locale(message: &[u8]) -> Option<String> {
    pb::RouteFinancingRequest::decode(message)
        .ok()
        .map(|m| m.locale)
}

fn key_facts_locale(message: &[u8]) -> Option<String> {
    pb::GetKeyFactsRequest::decode(message)
        .ok()
        .map(|m| m.locale)
}
/// A request larger than this is not searched for its locale.
const MAX_TAPPED: usize = 1 << 20;

/// See the module documentation.
#[derive(Debug, Clone, Copy, Default)]
pub struct ErrorDetailsLayer;

impl<S> tower::Layer<S> for ErrorDetailsLayer {
    type Service = ErrorDetailsService<S>;

    fn layer(&self, inner: S) -> ErrorDetailsService<S> {
        ErrorDetailsService { inner }
    }
}

/// See [`ErrorDetailsLayer`].
#[derive(Debug, Clone)]
pub struct ErrorDetailsService<S> {
    inner: S,
}

type Request = http::Request<tonic::body::Body>;

impl<S, B> tower::Service<Request> for ErrorDetailsService<S>
where
    S: tower::Service<Request, Response = http::Response<B>>,
{
    type Response = http::Response<Finished<B>>;
    type Error = S::Error;
    type Future = FinishFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let path = req.uri().path();
        if !SERVICES.iter().any(|s| path.starts_with(s)) {
            return FinishFuture {
                inner: self.inner.call(req),
                locale: None,
            };
        }
        let locale = CallLocale {
            header: req
                .headers()
                .get_all("accept-language")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .find_map(accept_language),
            body: Arc::new(OnceLock::new()),
        };
        let read = LOCALE_IN_BODY
            .iter()
            .find(|(method, _)| *method == path)
            .map(|(_, read)| *read);
        let req = if let Some(read) = read {
            let slot = locale.body.clone();
            req.map(|body| {
                tonic::body::Body::new(LocaleTap {
                    inner: body,
                    buf: BytesMut::new(),
                    slot,
                    read,
                })
            })
        } else {
            req
        };
        FinishFuture {
            inner: self.inner.call(req),
            locale: Some(locale),
        }
    }
}

/// The locale a call's errors speak, as far as the caller said one.
#[derive(Debug, Clone)]
struct CallLocale {
    /// From `accept-language`.
    header: Option<Locale>,
    /// From the request message's `locale`, once read (`None` inside: the
    /// message has none).
    body: Arc<OnceLock<Option<Locale>>>,
}

impl CallLocale {
    fn get(&self) -> Option<Locale> {
        self.body.get().copied().flatten().or(self.header)
    }
}

/// The first supported language of an `accept-language` value by its
/// quality (`zh-CN,zh;q=0.9,en;q=0.8`), `en` when it names none we have,
/// `None` when it is empty.
pub fn accept_language(value: &str) -> Option<Locale> {
    let mut ranges: Vec<(u16, &str)> = value
        .split(',')
        .filter_map(|part| {
            let mut it = part.split(';');
            let tag = it.next()?.trim();
            if tag.is_empty() {
                return None;
            }
            let q = it
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            Some(((q.clamp(0.0, 1.0) * 1000.0) as u16, tag))
        })
        .collect();
    if ranges.is_empty() {
        return None;
    }
    // Stable: equal qualities keep the caller's order.
    ranges.sort_by_key(|r| std::cmp::Reverse(r.0));
    Some(
        ranges
            .iter()
            .filter(|(q, _)| *q > 0)
            .find_map(|(_, tag)| Locale::parse(tag))
            .unwrap_or(Locale::En),
    )
}

/// The locale a request message's `locale` field asks for: `None` when
/// empty, else the answer's own fallback ([`Locale::negotiate`]).
fn body_locale(tag: &str) -> Option<Locale> {
    if tag.is_empty() {
        None
    } else {
        Some(Locale::negotiate(tag))
    }
}

/// A request body that passes through unchanged and reads the `locale` of
/// the (one) request message in it on the way.
struct LocaleTap {
    inner: tonic::body::Body,
    buf: BytesMut,
    slot: Arc<OnceLock<Option<Locale>>>,
    /// How this method's message carries its locale.
    read: ReadLocale,
}

impl LocaleTap {
    fn feed(&mut self, data: &Bytes) {
        if self.slot.get().is_some() {
            return;
        }
        self.buf.extend_from_slice(data);
        if self.buf.len() < 5 {
            return;
        }
        let compressed = self.buf[0] != 0;
        let len = (&self.buf[1..5]).get_u32() as usize;
        if compressed || len > MAX_TAPPED {
            self.give_up();
            return;
        }
        if self.buf.len() >= 5 + len {
            let locale = (self.read)(&self.buf[5..5 + len]).and_then(|tag| body_locale(&tag));
            let _ = self.slot.set(locale);
            self.buf = BytesMut::new();
        }
    }

    fn give_up(&mut self) {
        let _ = self.slot.set(None);
        self.buf = BytesMut::new();
    }
}

impl HttpBody for LocaleTap {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        let this = &mut *self;
        let frame = ready!(Pin::new(&mut this.inner).poll_frame(cx));
        match &frame {
            Some(Ok(f)) => {
                if let Some(data) = f.data_ref() {
                    this.feed(data);
                }
            }
            _ => this.give_up(),
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

pin_project_lite::pin_project! {
    /// The response future of [`ErrorDetailsService`].
    pub struct FinishFuture<F> {
        #[pin]
        inner: F,
        locale: Option<CallLocale>,
    }
}

impl<F, B, E> std::future::Future for FinishFuture<F>
where
    F: std::future::Future<Output = Result<http::Response<B>, E>>,
{
    type Output = Result<http::Response<Finished<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut response = ready!(this.inner.poll(cx))?;
        let locale = this.locale.take();
        if let Some(l) = &locale {
            // A trailers-only response: the status is in the headers.
            finish(response.headers_mut(), l.get());
        }
        Poll::Ready(Ok(response.map(|inner| Finished { inner, locale })))
    }
}

pin_project_lite::pin_project! {
    /// A response body whose trailing status is finished like the headers'.
    pub struct Finished<B> {
        #[pin]
        inner: B,
        locale: Option<CallLocale>,
    }
}

impl<B: HttpBody> HttpBody for Finished<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let mut frame = ready!(this.inner.poll_frame(cx));
        if let (Some(Ok(f)), Some(locale)) = (&mut frame, this.locale.as_ref())
            && let Some(trailers) = f.trailers_mut()
        {
            finish(trailers, locale.get());
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

fn any<M: Message>(type_url: &str, m: &M) -> prost_types::Any {
    prost_types::Any {
        type_url: type_url.into(),
        value: m.encode_to_vec(),
    }
}

/// Adds the missing ErrorInfo and, for `locale`, the LocalizedMessage to
/// the status in `headers` (a response's headers or trailers), if it is an
/// error.
fn finish(headers: &mut HeaderMap, locale: Option<Locale>) {
    let Some(code) = headers
        .get(GRPC_STATUS)
        .map(|v| Code::from_bytes(v.as_bytes()))
    else {
        return;
    };
    if code == Code::Ok {
        return;
    }
    let mut status = match headers.get(GRPC_STATUS_DETAILS) {
        Some(v) => {
            let text = v.as_bytes();
            let raw = STANDARD_NO_PAD
                .decode(text)
                .or_else(|_| STANDARD.decode(text));
            match raw
                .ok()
                .and_then(|raw| rpc::Status::decode(raw.as_slice()).ok())
            {
                Some(s) => s,
                // Not ours to repair.
                None => return,
            }
        }
        // No details: read the message back (no details header, so this
        // decodes nothing that could fail).
        None => rpc::Status {
            code: code as i32,
            message: Status::from_header_map(headers)
                .map(|s| s.message().to_owned())
                .unwrap_or_default(),
            details: Vec::new(),
        },
    };
    let info = status
        .details
        .iter()
        .find(|a| a.type_url == ERROR_INFO_URL)
        .and_then(|a| rpc::ErrorInfo::decode(a.value.as_slice()).ok());
    let reason = match info {
        Some(info) if info.domain == ERROR_DOMAIN => Reason::parse(&info.reason),
        Some(_) => None,
        None => {
            let reason = Reason::of_code(code);
            status.details.push(any(
                ERROR_INFO_URL,
                &rpc::ErrorInfo {
                    reason: reason.as_str().into(),
                    domain: ERROR_DOMAIN.into(),
                    metadata: Default::default(),
                },
            ));
            Some(reason)
        }
    };
    if let (Some(locale), Some(reason)) = (locale, reason)
        && !status
            .details
            .iter()
            .any(|a| a.type_url == LOCALIZED_MESSAGE_URL)
    {
        status.details.push(any(
            LOCALIZED_MESSAGE_URL,
            &rpc::LocalizedMessage {
                locale: locale_tag(locale).into(),
                message: reason.text(locale).into(),
            },
        ));
    }
    let encoded = STANDARD_NO_PAD.encode(status.encode_to_vec());
    if let Ok(v) = HeaderValue::from_str(&encoded) {
        headers.insert(GRPC_STATUS_DETAILS, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic_types::StatusExt;

    #[test]
    fn accept_language_picks_the_best_supported_range() {
        assert_eq!(accept_language("zh-CN"), Some(Locale::ZhCn));
        assert_eq!(
            accept_language("zh-CN,zh;q=0.9,en;q=0.8"),
            Some(Locale::ZhCn)
        );
        assert_eq!(
            accept_language("en;q=0.5, zh-Hans;q=0.9"),
            Some(Locale::ZhCn)
        );
        assert_eq!(accept_language("fr-FR, zh;q=0.1"), Some(Locale::ZhCn));
        assert_eq!(accept_language("en-GB"), Some(Locale::En));
        assert_eq!(
            accept_language("fr-FR"),
            Some(Locale::En),
            "unsupported: en"
        );
        assert_eq!(accept_language("zh-TW"), Some(Locale::En));
        assert_eq!(accept_language("*"), Some(Locale::En));
        assert_eq!(
            accept_language("zh;q=0, fr"),
            Some(Locale::En),
            "q=0 is a refusal"
        );
        assert_eq!(accept_language(""), None);
        assert_eq!(accept_language(" , "), None);
    }

    fn headers_of(status: &Status) -> HeaderMap {
        let mut h = HeaderMap::new();
        status.add_header(&mut h).expect("valid headers");
        h
    }

    #[test]
    fn a_status_without_details_gets_an_error_info_and_a_localized_message() {
        let mut h = headers_of(&Status::out_of_range("message 5 000 bytes > limit"));
        finish(&mut h, Some(Locale::ZhCn));
        let s = Status::from_header_map(&h).expect("status");
        assert_eq!(s.code(), Code::OutOfRange);
        assert_eq!(s.message(), "message 5 000 bytes > limit");
        let d = s.get_error_details();
        let info = d.error_info().expect("ErrorInfo");
        assert_eq!(
            (info.reason.as_str(), info.domain.as_str()),
            ("MESSAGE_TOO_LARGE", ERROR_DOMAIN)
        );
        let m = d.localized_message().expect("LocalizedMessage");
        assert_eq!(m.locale, "zh-CN");
        assert_eq!(m.message, Reason::MessageTooLarge.text(Locale::ZhCn));
    }

    #[test]
    fn existing_details_are_kept_and_no_locale_means_no_localized_message() {
        let original: Status =
            crate::error::RouterError::Invalid(vec![finroute_adapters::convert::Violation {
                field: "requested_amount".into(),
                description: "must be positive".into(),
            }])
            .into();
        let mut h = headers_of(&original);
        finish(&mut h, None);
        let s = Status::from_header_map(&h).expect("status");
        assert_eq!(s.message(), original.message());
        let d = s.get_error_details();
        assert_eq!(d.error_info().expect("kept").reason, "INVALID_FIELD");
        assert!(d.bad_request().is_some(), "kept");
        assert!(d.localized_message().is_none());

        finish(&mut h, Some(Locale::En));
        let d = Status::from_header_map(&h)
            .expect("status")
            .get_error_details();
        assert_eq!(d.bad_request().expect("kept").field_violations.len(), 1);
        assert_eq!(
            d.localized_message().expect("en").message,
            Reason::InvalidField.text(Locale::En)
        );
    }

    #[test]
    fn ok_statuses_are_untouched() {
        let mut h = HeaderMap::new();
        h.insert(GRPC_STATUS, HeaderValue::from_static("0"));
        let before = h.clone();
        finish(&mut h, Some(Locale::ZhCn));
        assert_eq!(h, before);
        let mut h = HeaderMap::new();
        finish(&mut h, Some(Locale::ZhCn));
        assert!(h.is_empty());
    }
}
