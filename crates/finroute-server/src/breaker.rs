//! Per-channel circuit breaker (outlier ejection): after `failure_threshold`
//! consecutive failures or timeouts a channel is ejected for a backoff that
//! doubles with every failed probe (from `base_open` up to `max_open`);
//! when it runs out one call at a time is let through as a probe; a
//! successful probe closes the breaker, a failed one opens it again for
//! longer. While open, the fan-out reports the channel `CIRCUIT_OPEN`
//! without calling it, at no latency cost.
//!
//! `Channel::balance_list` has no health or ejection (reliability.md #8), so
//! this is ours. Pure state machine over `tokio::time::Instant`: tested on
//! tokio's paused clock.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// Breaker tuning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerSettings {
    /// Consecutive failures that open the breaker.
    pub failure_threshold: u32,
    /// First ejection.
    pub base_open: Duration,
    /// Longest ejection.
    pub max_open: Duration,
}

impl Default for BreakerSettings {
    fn default() -> Self {
        Self {
            failure_threshold: 5,
            base_open: Duration::from_secs(1),
            max_open: Duration::from_secs(60),
        }
    }
}

/// The breaker's state, as metrics and logs name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    Closed,
    Open,
    HalfOpen,
}

impl BreakerState {
    pub fn as_str(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half_open",
        }
    }

    /// 0 closed, 1 open, 2 half-open (the metrics gauge).
    pub fn as_gauge(self) -> i64 {
        match self {
            BreakerState::Closed => 0,
            BreakerState::Open => 1,
            BreakerState::HalfOpen => 2,
        }
    }
}

#[derive(Debug)]
enum Mode {
    Closed {
        consecutive_failures: u32,
    },
    Open {
        until: Instant,
    },
    /// A probe is out; every other call is refused until it reports.
    HalfOpen,
}

#[derive(Debug)]
struct State {
    mode: Mode,
    /// Ejections since the breaker last closed: the backoff exponent.
    ejections: u32,
}

/// One channel's breaker.
#[derive(Debug)]
pub struct Breaker {
    settings: BreakerSettings,
    state: Mutex<State>,
}

/// Whether a call may go ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Closed: call.
    Call,
    /// Half-open: this call is the probe; report its outcome.
    Probe,
    /// Open (or a probe is out): do not call; ejected until about `retry_in`.
    Refused { retry_in: Duration },
}

/// What a call's outcome did to the breaker, when it changed state (for logs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    Opened { for_: Duration },
    Closed,
}

impl Breaker {
    pub fn new(settings: BreakerSettings) -> Self {
        Self {
            settings,
            state: Mutex::new(State {
                mode: Mode::Closed {
                    consecutive_failures: 0,
                },
                ejections: 0,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave the state torn (every
        // update is a single assignment): recover from poisoning.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn open_for(&self, ejections: u32) -> Duration {
        let factor = 1u32 << ejections.min(16);
        self.settings
            .base_open
            .saturating_mul(factor)
            .min(self.settings.max_open)
    }

    /// Asks to call the channel at `now`.
    pub fn admit(&self, now: Instant) -> Admission {
        let mut s = self.lock();
        match s.mode {
            Mode::Closed { .. } => Admission::Call,
            Mode::Open { until } if now >= until => {
                s.mode = Mode::HalfOpen;
                Admission::Probe
            }
            Mode::Open { until } => Admission::Refused {
                retry_in: until - now,
            },
            Mode::HalfOpen => Admission::Refused {
                retry_in: Duration::ZERO,
            },
        }
    }

    /// The call (or probe) succeeded.
    pub fn on_success(&self, probe: bool) -> Option<Transition> {
        let mut s = self.lock();
        match s.mode {
            Mode::HalfOpen if probe => {
                s.mode = Mode::Closed {
                    consecutive_failures: 0,
                };
                s.ejections = 0;
                Some(Transition::Closed)
            }
            Mode::Closed { .. } => {
                s.mode = Mode::Closed {
                    consecutive_failures: 0,
                };
                None
            }
            // A call admitted before the breaker opened: no news.
            _ => None,
        }
    }

    /// The call (or probe) failed or timed out at `now`.
    pub fn on_failure(&self, now: Instant, probe: bool) -> Option<Transition> {
        let mut s = self.lock();
        match s.mode {
            Mode::HalfOpen if probe => {
                let for_ = self.open_for(s.ejections);
                s.ejections = s.ejections.saturating_add(1);
                s.mode = Mode::Open { until: now + for_ };
                Some(Transition::Opened { for_ })
            }
            Mode::Closed {
                consecutive_failures,
            } => {
                let n = consecutive_failures.saturating_add(1);
                if n >= self.settings.failure_threshold {
                    let for_ = self.open_for(s.ejections);
                    s.ejections = s.ejections.saturating_add(1);
                    s.mode = Mode::Open { until: now + for_ };
                    Some(Transition::Opened { for_ })
                } else {
                    s.mode = Mode::Closed {
                        consecutive_failures: n,
                    };
                    None
                }
            }
            _ => None,
        }
    }

    /// A probe that ended without a verdict (its caller went away): let the
    /// next call probe instead.
    pub fn on_abandoned_probe(&self, now: Instant) {
        let mut s = self.lock();
        if let Mode::HalfOpen = s.mode {
            s.mode = Mode::Open { until: now };
        }
    }

    /// The state now (an expired ejection reads as half-open: the next
    /// call probes).
    pub fn state(&self, now: Instant) -> BreakerState {
        match self.lock().mode {
            Mode::Closed { .. } => BreakerState::Closed,
            Mode::Open { until } if now >= until => BreakerState::HalfOpen,
            Mode::Open { .. } => BreakerState::Open,
            Mode::HalfOpen => BreakerState::HalfOpen,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker() -> Breaker {
        Breaker::new(BreakerSettings {
            failure_threshold: 3,
            base_open: Duration::from_secs(1),
            max_open: Duration::from_secs(8),
        })
    }

    #[tokio::test(start_paused = true)]
    async fn opens_after_consecutive_failures_and_a_success_resets_the_count() {
        let b = breaker();
        let t = Instant::now();
        assert_eq!(b.admit(t), Admission::Call);
        assert_eq!(b.on_failure(t, false), None);
        assert_eq!(b.on_failure(t, false), None);
        b.on_success(false);
        assert_eq!(b.on_failure(t, false), None);
        assert_eq!(b.on_failure(t, false), None);
        assert_eq!(
            b.on_failure(t, false),
            Some(Transition::Opened {
                for_: Duration::from_secs(1)
            })
        );
        assert_eq!(b.state(t), BreakerState::Open);
        assert_eq!(
            b.admit(t + Duration::from_millis(400)),
            Admission::Refused {
                retry_in: Duration::from_millis(600)
            }
        );
    }

    /// The exact state sequence: fail 100 % (backoff 1, 2, 4, 8, 8 s, one
    /// probe per backoff), then recover and close.
    #[tokio::test(start_paused = true)]
    async fn fails_then_recovers_with_one_probe_per_growing_backoff() {
        let b = breaker();
        let mut now = Instant::now();
        for _ in 0..3 {
            b.admit(now);
            b.on_failure(now, false);
        }
        let mut seen = Vec::new();
        for expected in [2u64, 4, 8, 8] {
            // Not before the backoff runs out.
            assert!(matches!(
                b.admit(now + Duration::from_millis(999)),
                Admission::Refused { .. }
            ));
            tokio::time::advance(Duration::from_secs(expected / 2)).await;
            now = Instant::now();
            assert_eq!(b.state(now), BreakerState::HalfOpen);
            assert_eq!(b.admit(now), Admission::Probe);
            // Exactly one probe at a time.
            assert!(matches!(b.admit(now), Admission::Refused { .. }));
            let t = b.on_failure(now, true);
            seen.push(t);
            assert_eq!(
                t,
                Some(Transition::Opened {
                    for_: Duration::from_secs(expected)
                })
            );
            // Wait out the next half of the doubled backoff next round.
            tokio::time::advance(Duration::from_secs(expected / 2)).await;
            now = Instant::now();
        }
        assert_eq!(seen.len(), 4);
        tokio::time::advance(Duration::from_secs(8)).await;
        now = Instant::now();
        assert_eq!(b.admit(now), Admission::Probe);
        assert_eq!(b.on_success(true), Some(Transition::Closed));
        assert_eq!(b.state(now), BreakerState::Closed);
        assert_eq!(b.admit(now), Admission::Call);
        // Closed again with the backoff reset: the next ejection is 1 s.
        for _ in 0..2 {
            b.on_failure(now, false);
        }
        assert_eq!(
            b.on_failure(now, false),
            Some(Transition::Opened {
                for_: Duration::from_secs(1)
            })
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_abandoned_probe_lets_the_next_call_probe() {
        let b = breaker();
        let now = Instant::now();
        for _ in 0..3 {
            b.on_failure(now, false);
        }
        tokio::time::advance(Duration::from_secs(1)).await;
        let now = Instant::now();
        assert_eq!(b.admit(now), Admission::Probe);
        b.on_abandoned_probe(now);
        assert_eq!(b.admit(now), Admission::Probe);
    }

    #[tokio::test(start_paused = true)]
    async fn late_results_of_calls_admitted_before_the_ejection_change_nothing() {
        let b = breaker();
        let now = Instant::now();
        for _ in 0..3 {
            b.on_failure(now, false);
        }
        assert_eq!(b.on_success(false), None);
        assert_eq!(b.on_failure(now, false), None);
        assert_eq!(b.state(now), BreakerState::Open);
    }
}
