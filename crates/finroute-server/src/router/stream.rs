//! StreamOffers: the RouteFinancing stages with the reply streamed: each
//! channel report and offer as it arrives, the same response last.

use finroute_proto::v1 as pb;
use pb::route_event::Event;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Status;

use super::route::{Prepared, failed_outcome};
use super::{Call, RouterService};
use crate::convert;
use crate::error::RouterError;
use crate::fanout::FanoutEvent;
use crate::metrics::RouteOutcome;

/// What StreamOffers sends.
pub(super) type EventStream = ReceiverStream<Result<pb::RouteEvent, Status>>;

impl RouterService {
    /// StreamOffers: admitted and prepared before the stream opens; the
    /// rest runs in a spawned task so the routing finishes and is stored
    /// even if the caller stops reading (it ends when the fan-out does,
    /// bounded by the deadline). The call counts in flight until its last
    /// event is handed over.
    pub(super) async fn stream_op(
        &self,
        call: Call<pb::RouteFinancingRequest>,
    ) -> Result<EventStream, RouterError> {
        let started = Instant::now();
        let admitted = match self.admit_route() {
            Ok(permit) => self.prepare(&call).await.map(|p| (permit, p)),
            Err(e) => Err(e),
        };
        let (permit, prepared) = admitted.inspect_err(|e| {
            (self.inner.metrics).route(failed_outcome(e), started.elapsed());
        })?;
        let (out_tx, out_rx) = mpsc::channel::<Result<pb::RouteEvent, Status>>(32);
        let service = self.clone();
        let in_flight = call.guard;
        tokio::spawn(async move {
            let (_in_flight, _permit) = (in_flight, permit);
            let result = service.route_streamed(prepared, &out_tx).await;
            let result = result.map(|r| (r, RouteOutcome::Ok));
            service.count_route(&result, started);
            let last = match result {
                Ok((r, _)) => Ok(pb::RouteEvent {
                    event: Some(Event::FinalResponse(r)),
                }),
                Err(e) => Err(Status::from(e)),
            };
            let _ = out_tx.send(last).await;
        });
        Ok(ReceiverStream::new(out_rx))
    }

    /// Routes `prepared`, sending each fan-out event to `out` as it happens.
    async fn route_streamed(
        &self,
        prepared: Prepared,
        out: &mpsc::Sender<Result<pb::RouteEvent, Status>>,
    ) -> Result<pb::RouteFinancingResponse, RouterError> {
        let routing = match prepared {
            Prepared::Stored(r) => return Ok(r.message),
            Prepared::Route(r) => r,
        };
        let (ev_tx, ev_rx) = mpsc::channel::<FanoutEvent>(32);
        // The route owns the sender: forwarding ends when the route does.
        let route = async move { self.route(*routing, Some(&ev_tx)).await.map(|a| a.message) };
        let (result, ()) = tokio::join!(route, forward(ev_rx, out.clone()));
        result
    }
}

/// Sends each fan-out event to the caller as a `RouteEvent`; a caller that
/// went away stops listening and routing still completes.
async fn forward(
    mut events: mpsc::Receiver<FanoutEvent>,
    out: mpsc::Sender<Result<pb::RouteEvent, Status>>,
) {
    while let Some(e) = events.recv().await {
        let event = match e {
            FanoutEvent::Report(r) => Event::ChannelReport(convert::report_to_pb(&r)),
            FanoutEvent::Offer(o) => Event::Offer(convert::offer_to_pb(&o)),
        };
        let _ = out.send(Ok(pb::RouteEvent { event: Some(event) })).await;
    }
}
