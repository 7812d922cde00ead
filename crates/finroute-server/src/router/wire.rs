//! RouteFinancing on the wire: its response is encoded once, by the route
//! stage (the bytes the store keeps), and sent as those bytes.
//!
//! tonic's generated service takes a message and encodes it again on the
//! way out; for the ~8 KB routing answer that second encoding was ~5 % of
//! the router's CPU (BENCHMARKS.md). [`RouteFront`] sits in front of the
//! generated `FinancingRouterServer`: the RouteFinancing path is served by
//! tonic's own `Grpc::unary` with [`EncodedCodec`] (the request decoded by
//! tonic's prost decoder as before, the answer's bytes copied into the
//! frame as they are), every other path goes to the generated service.
//! Message-size limits, and the interceptor (keys, store gate) wrapped
//! around the front, apply as before.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{BufMut, Bytes};
use finroute_proto::v1 as pb;
use tonic::body::Body;
use tonic::codec::{Codec, EncodeBuf, Encoder};
use tonic::server::{Grpc, NamedService, UnaryService};
use tonic::{Request, Response, Status};

use super::RouterService;

/// The path served here.
pub(crate) const ROUTE_PATH: &str = "/finroute.v1.FinancingRouter/RouteFinancing";

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// A codec whose messages out are already encoded; requests in are decoded
/// by tonic's prost decoder.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct EncodedCodec;

/// Writes already-encoded message bytes into the frame.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct EncodedEncoder;

impl Encoder for EncodedEncoder {
    type Item = Bytes;
    type Error = Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Codec for EncodedCodec {
    type Encode = Bytes;
    type Decode = pb::RouteFinancingRequest;
    type Encoder = EncodedEncoder;
    type Decoder = tonic_prost::ProstDecoder<pb::RouteFinancingRequest>;

    fn encoder(&mut self) -> EncodedEncoder {
        EncodedEncoder
    }

    fn decoder(&mut self) -> Self::Decoder {
        tonic_prost::ProstDecoder::default()
    }
}

/// RouteFinancing as a tonic unary service answering with encoded bytes.
#[derive(Clone)]
struct RouteFinancing(RouterService);

impl UnaryService<pb::RouteFinancingRequest> for RouteFinancing {
    type Response = Bytes;
    type Future = BoxFuture<Result<Response<Bytes>, Status>>;

    fn call(&mut self, request: Request<pb::RouteFinancingRequest>) -> Self::Future {
        let router = self.0.clone();
        Box::pin(async move { router.handle(request, |call| router.route_op(call)).await })
    }
}

/// The generated `FinancingRouter` service with RouteFinancing served in
/// front of it (see the module docs).
#[derive(Clone)]
pub(crate) struct RouteFront<S> {
    inner: S,
    router: RouterService,
    max_decoding: usize,
    max_encoding: usize,
}

impl<S> RouteFront<S> {
    /// `inner` is the generated server for `router`, with the same limits.
    pub(crate) fn new(
        inner: S,
        router: RouterService,
        max_decoding: usize,
        max_encoding: usize,
    ) -> Self {
        RouteFront {
            inner,
            router,
            max_decoding,
            max_encoding,
        }
    }
}

impl<S> NamedService for RouteFront<S> {
    const NAME: &'static str = "finroute.v1.FinancingRouter";
}

impl<S, B> tower::Service<http::Request<B>> for RouteFront<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<Body>, Error = Infallible>,
    S::Future: Send + 'static,
    B: http_body::Body + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>> + Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Result<http::Response<Body>, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        if req.uri().path() != ROUTE_PATH {
            return Box::pin(self.inner.call(req));
        }
        let service = RouteFinancing(self.router.clone());
        let mut grpc = Grpc::new(EncodedCodec)
            .max_decoding_message_size(self.max_decoding)
            .max_encoding_message_size(self.max_encoding);
        Box::pin(async move { Ok(grpc.unary(service, req).await) })
    }
}
