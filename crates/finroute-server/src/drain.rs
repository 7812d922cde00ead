//! The calls in flight, so a graceful shutdown ends as soon as the last
//! call is answered instead of waiting out its bound for idle client
//! connections (hyper's graceful shutdown waits for every connection to
//! close, and a client may keep an idle one open for ever).
//!
//! The count is a [`TaskTracker`]: the router's handlers take a
//! [`CallGuard`] each (a tracker token; StreamOffers keeps it until its
//! last event is handed over), and [`InFlight::drain`] closes the tracker
//! and waits for it. Not a tower layer around the whole server: that boxes
//! a future and wraps the body of every call, health checks included
//! (bench/run.sh showed Health/Check 35.8k vs 41.9k req/s with and without
//! it in one pair of runs, within this machine's noise), and health and
//! reflection calls need no drain.
//!
//! When the drain's bound is about to run out, [`InFlight::cut`] (a
//! [`CancellationToken`]) tells the calls still running to answer with what
//! they have: a routing call replies with the channels that answered
//! (partial, as at a deadline), an AcceptOffer with the acceptance's state
//! so far (PENDING: the relay of the next start finishes it).

use std::time::Duration;

use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};
use tokio_util::task::TaskTracker;
use tokio_util::task::task_tracker::TaskTrackerToken;

/// How long before the drain's bound the calls in flight are cut short
/// (at most a quarter of the bound): the time a cut routing call has to
/// rank what it has, store it and reply.
pub const CUT_MARGIN: Duration = Duration::from_millis(250);

/// The calls in flight. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct InFlight {
    calls: TaskTracker,
    cut: CancellationToken,
    /// Fired when the drain begins: late work (channels kept past their
    /// reply) stops at once, keeping what already arrived.
    draining: CancellationToken,
}

/// One call in flight; dropping it ends the call.
#[derive(Debug)]
pub struct CallGuard {
    _token: TaskTrackerToken,
}

impl InFlight {
    /// Counts one more call until the guard is dropped (also after the
    /// drain has begun: a call whose headers were read is answered).
    pub fn guard(&self) -> CallGuard {
        CallGuard {
            _token: self.calls.token(),
        }
    }

    /// Calls in flight now.
    pub fn count(&self) -> usize {
        self.calls.len()
    }

    /// Tells every call in flight, and every later one, to answer now with
    /// what it has.
    pub fn cut(&self) {
        self.cut.cancel();
    }

    /// Completes when the drain has begun (at once if it has): late work
    /// ends then, keeping what already arrived.
    pub fn draining(&self) -> WaitForCancellationFutureOwned {
        self.draining.clone().cancelled_owned()
    }

    /// Completes when [`InFlight::cut`] is called (at once if it was).
    pub fn cut_short(&self) -> WaitForCancellationFutureOwned {
        self.cut.clone().cancelled_owned()
    }

    /// Closes the tracker (the shutdown has begun) and returns once no call
    /// is in flight.
    pub async fn drained(&self) {
        self.draining.cancel();
        self.calls.close();
        self.calls.wait().await;
    }

    /// The bounded drain of a shutdown: waits for the calls in flight for
    /// at most `grace`; `grace - min(CUT_MARGIN, grace / 4)` into it, the
    /// calls still running are cut short and answer with what they have in
    /// the time left. True if every call was answered.
    pub async fn drain(&self, grace: Duration) -> bool {
        let cut_at = grace.saturating_sub(CUT_MARGIN.min(grace / 4));
        if tokio::time::timeout(cut_at, self.drained()).await.is_ok() {
            return true;
        }
        tracing::info!(
            in_flight = self.count(),
            "drain bound near: cutting the calls in flight short"
        );
        self.cut();
        tokio::time::timeout(grace - cut_at, self.drained())
            .await
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::time::Instant;

    #[tokio::test]
    async fn drained_waits_for_the_last_guard() {
        let f = InFlight::default();
        f.drained().await;
        let a = f.guard();
        let b = f.guard();
        assert_eq!(f.count(), 2);
        let waiter = tokio::spawn({
            let f = f.clone();
            async move { f.drained().await }
        });
        drop(a);
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        drop(b);
        waiter.await.expect("the waiter task");
        assert_eq!(f.count(), 0);
    }

    /// A call that answers when cut short ends the drain at the cut,
    /// `CUT_MARGIN` before the bound.
    #[tokio::test(start_paused = true)]
    async fn a_call_that_answers_when_cut_ends_the_drain_at_the_cut() {
        let f = InFlight::default();
        let call = f.guard();
        let cut = f.cut_short();
        tokio::spawn(async move {
            cut.await;
            drop(call);
        });
        let t = Instant::now();
        assert!(f.drain(Duration::from_secs(5)).await);
        assert_eq!(t.elapsed(), Duration::from_millis(4_750));
        assert_eq!(f.count(), 0);
    }

    /// A call that ignores the cut is given up on at the bound, not later.
    #[tokio::test(start_paused = true)]
    async fn a_call_that_ignores_the_cut_is_left_at_the_bound() {
        let f = InFlight::default();
        let _stuck = f.guard();
        let t = Instant::now();
        assert!(!f.drain(Duration::from_secs(5)).await);
        assert_eq!(t.elapsed(), Duration::from_secs(5));
        assert_eq!(f.count(), 1);
    }

    /// With no call in flight the drain ends at once; a short grace is cut
    /// a quarter before its end.
    #[tokio::test(start_paused = true)]
    async fn an_empty_drain_ends_at_once_and_a_short_grace_cuts_at_three_quarters() {
        let f = InFlight::default();
        let t = Instant::now();
        assert!(f.drain(Duration::from_secs(5)).await);
        assert_eq!(t.elapsed(), Duration::ZERO);

        let g = InFlight::default();
        let call = g.guard();
        let cut = g.cut_short();
        let cut_after = tokio::spawn(async move {
            let t = Instant::now();
            cut.await;
            drop(call);
            t.elapsed()
        });
        assert!(g.drain(Duration::from_millis(400)).await);
        assert_eq!(
            cut_after.await.expect("the call task"),
            Duration::from_millis(300)
        );
    }
}
