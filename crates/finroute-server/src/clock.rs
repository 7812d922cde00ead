//! The review desk's clock: wall-clock milliseconds, which a test can move
//! forward without sleeping (claim lapses and SLA breaches are hours in
//! production). The router runs on [`Clock::system`]; tests start it with
//! [`Clock::manual`] through `finroute_server::run_with_clock` and
//! [`Clock::advance`] it.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

/// Milliseconds since the Unix epoch, possibly moved forward.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    /// Added to the system time; `None`: the system time as is.
    offset_ms: Option<Arc<AtomicI64>>,
}

impl Clock {
    /// The system's wall clock.
    pub fn system() -> Clock {
        Clock { offset_ms: None }
    }

    /// The system's wall clock, which [`Clock::advance`] moves forward
    /// (every clone sees the move: two routers given clones share it).
    pub fn manual() -> Clock {
        Clock {
            offset_ms: Some(Arc::new(AtomicI64::new(0))),
        }
    }

    /// Now, in milliseconds since the Unix epoch.
    pub fn now_ms(&self) -> i64 {
        let offset = self
            .offset_ms
            .as_ref()
            .map_or(0, |o| o.load(Ordering::Relaxed));
        crate::router::unix_millis().saturating_add(offset)
    }

    /// Moves a manual clock forward by `by`; a system clock cannot be moved.
    pub fn advance(&self, by: Duration) {
        if let Some(o) = &self.offset_ms {
            let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
            o.fetch_add(ms, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_for_every_clone_and_the_system_one_does_not() {
        let c = Clock::manual();
        let seen = c.clone();
        let before = seen.now_ms();
        c.advance(Duration::from_secs(3600));
        assert!(seen.now_ms() >= before + 3_600_000);
        let s = Clock::system();
        let t = s.now_ms();
        s.advance(Duration::from_secs(3600));
        assert!(s.now_ms() < t + 3_600_000);
    }
}
