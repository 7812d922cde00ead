//! The last hour of one channel, minute by minute: its reports by status,
//! how long its calls took, and how its acceptances ended. The console's
//! channels page draws it; the Prometheus series (cumulative since start)
//! stay the source for dashboards and alerts.
//!
//! Sixty one-minute buckets in a ring, keyed by the wall-clock minute
//! (Unix seconds / 60), so the charts read in the operators' time. A
//! bucket from an older hour is cleared when its slot is reused; a clock
//! that steps back only writes into (or reads) the bucket of that minute.

use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use finroute_core::ChannelStatus;

/// Minutes kept.
pub const MINUTES: usize = 60;

/// The statuses counted, in the order of [`Minute::calls`].
pub const STATUSES: [ChannelStatus; 11] = [
    ChannelStatus::Ok,
    ChannelStatus::NoOffer,
    ChannelStatus::Timeout,
    ChannelStatus::Error,
    ChannelStatus::CircuitOpen,
    ChannelStatus::Ineligible,
    ChannelStatus::NoConsent,
    ChannelStatus::Excluded,
    ChannelStatus::QuotaExhausted,
    ChannelStatus::SkippedByRule,
    ChannelStatus::NotNeeded,
];

/// Upper bounds of the latency buckets, in milliseconds; a last bucket
/// holds everything slower.
pub const LATENCY_BOUNDS_MS: [u64; 10] = [10, 25, 50, 100, 250, 500, 750, 1_000, 2_500, 10_000];

/// One minute of one channel.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Minute {
    /// The wall-clock minute (Unix seconds / 60); 0 = nothing recorded.
    pub minute: i64,
    /// Reports by status, in [`STATUSES`] order.
    pub calls: [u32; STATUSES.len()],
    /// Calls (channels actually asked) by latency bucket.
    pub latency: [u32; LATENCY_BOUNDS_MS.len() + 1],
    /// Acceptances the partner confirmed.
    pub accepted: u32,
    /// Acceptances the partner declined.
    pub declined: u32,
}

impl Minute {
    /// Reports of every status.
    pub fn total_calls(&self) -> u32 {
        self.calls.iter().sum()
    }

    /// The `q` quantile (0..=1) of the latency, as the upper bound of the
    /// bucket it falls in (the last bucket reads as its lower bound);
    /// `None` with no call timed.
    pub fn latency_quantile_ms(&self, q: f64) -> Option<u64> {
        let n: u32 = self.latency.iter().sum();
        if n == 0 {
            return None;
        }
        // The rank of the quantile, 1-based: the smallest rank whose share
        // of the calls reaches q.
        let rank = ((q.clamp(0.0, 1.0) * f64::from(n)).ceil() as u32).max(1);
        let mut seen = 0;
        for (i, count) in self.latency.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return Some(
                    LATENCY_BOUNDS_MS
                        .get(i)
                        .copied()
                        .unwrap_or(LATENCY_BOUNDS_MS[LATENCY_BOUNDS_MS.len() - 1]),
                );
            }
        }
        LATENCY_BOUNDS_MS.last().copied()
    }

    /// Accepted over finished acceptances; `None` when none finished.
    pub fn approval_rate(&self) -> Option<f64> {
        let n = self.accepted + self.declined;
        (n > 0).then(|| f64::from(self.accepted) / f64::from(n))
    }
}

/// The ring of one channel.
#[derive(Debug)]
pub struct Recent {
    ring: Mutex<[Minute; MINUTES]>,
}

impl Default for Recent {
    fn default() -> Self {
        Recent {
            ring: Mutex::new([Minute::default(); MINUTES]),
        }
    }
}

/// The wall-clock minute now.
pub fn minute_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| (d.as_secs() / 60) as i64)
}

fn slot(minute: i64) -> usize {
    minute.rem_euclid(MINUTES as i64) as usize
}

fn latency_bucket(ms: u64) -> usize {
    LATENCY_BOUNDS_MS
        .iter()
        .position(|b| ms <= *b)
        .unwrap_or(LATENCY_BOUNDS_MS.len())
}

impl Recent {
    /// Runs `f` on the bucket of `minute`, cleared first if it held an
    /// older minute.
    fn at(&self, minute: i64, f: impl FnOnce(&mut Minute)) {
        // A poisoned lock only means a panic elsewhere mid-update of plain
        // counters: keep counting.
        let mut ring = self.ring.lock().unwrap_or_else(|p| p.into_inner());
        let m = &mut ring[slot(minute)];
        if m.minute != minute {
            *m = Minute {
                minute,
                ..Minute::default()
            };
        }
        f(m);
    }

    /// Counts one channel report at `minute`; `latency_ms` is `None` for a
    /// channel that was not called.
    pub fn report(&self, minute: i64, status: ChannelStatus, latency_ms: Option<u64>) {
        let i = STATUSES.iter().position(|s| *s == status).unwrap_or(0);
        self.at(minute, |m| {
            m.calls[i] = m.calls[i].saturating_add(1);
            if let Some(ms) = latency_ms {
                let b = latency_bucket(ms);
                m.latency[b] = m.latency[b].saturating_add(1);
            }
        });
    }

    /// Counts one finished acceptance at `minute`.
    pub fn acceptance(&self, minute: i64, accepted: bool) {
        self.at(minute, |m| {
            if accepted {
                m.accepted = m.accepted.saturating_add(1);
            } else {
                m.declined = m.declined.saturating_add(1);
            }
        });
    }

    /// The hour up to `now` (minute), oldest first: always [`MINUTES`]
    /// entries, each with its `minute` set, empty where nothing happened.
    pub fn hour(&self, now: i64) -> Vec<Minute> {
        let ring = *self.ring.lock().unwrap_or_else(|p| p.into_inner());
        (0..MINUTES as i64)
            .map(|back| now - (MINUTES as i64 - 1) + back)
            .map(|minute| {
                let m = ring[slot(minute)];
                if m.minute == minute {
                    m
                } else {
                    Minute {
                        minute,
                        ..Minute::default()
                    }
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: i64 = 29_000_000; // a minute in 2025

    #[test]
    fn counts_land_in_their_minute_and_the_hour_reads_oldest_first() {
        let r = Recent::default();
        r.report(T, ChannelStatus::Ok, Some(40));
        r.report(T, ChannelStatus::Timeout, Some(800));
        r.report(T - 5, ChannelStatus::CircuitOpen, None);
        r.acceptance(T, true);
        r.acceptance(T, false);
        r.acceptance(T, true);
        let hour = r.hour(T);
        assert_eq!(hour.len(), MINUTES);
        assert_eq!(hour[0].minute, T - 59);
        let now = hour[MINUTES - 1];
        assert_eq!(now.minute, T);
        assert_eq!(now.calls[0], 1);
        assert_eq!(now.calls[2], 1);
        assert_eq!(now.total_calls(), 2);
        assert_eq!(now.latency.iter().sum::<u32>(), 2);
        assert_eq!((now.accepted, now.declined), (2, 1));
        assert_eq!(now.approval_rate(), Some(2.0 / 3.0));
        let earlier = hour[MINUTES - 6];
        assert_eq!(earlier.calls[4], 1);
        assert_eq!(
            earlier.latency.iter().sum::<u32>(),
            0,
            "not called: no latency"
        );
        assert_eq!(hour[MINUTES - 2].total_calls(), 0);
        assert_eq!(hour[MINUTES - 2].approval_rate(), None);
    }

    #[test]
    fn a_minute_an_hour_old_is_forgotten_when_its_slot_comes_round() {
        let r = Recent::default();
        r.report(T, ChannelStatus::Ok, Some(5));
        // An hour later the same slot holds the new minute only.
        r.report(T + 60, ChannelStatus::Error, Some(5));
        let hour = r.hour(T + 60);
        assert_eq!(hour[MINUTES - 1].calls[0], 0);
        assert_eq!(hour[MINUTES - 1].calls[3], 1);
        // Read an hour on, nothing of T shows.
        assert!(r.hour(T + 59).iter().all(|m| m.calls[0] == 0));
        // Read at T + 30 with T + 60 in the ring: T + 60 is not in that hour.
        assert!(r.hour(T + 30).iter().all(|m| m.total_calls() == 0));
    }

    #[test]
    fn latency_quantiles_read_the_bucket_bounds() {
        let r = Recent::default();
        for ms in [1, 2, 3, 4, 5, 6, 7, 8, 9, 300] {
            r.report(T, ChannelStatus::Ok, Some(ms));
        }
        let m = r.hour(T)[MINUTES - 1];
        assert_eq!(m.latency_quantile_ms(0.5), Some(10));
        assert_eq!(m.latency_quantile_ms(0.9), Some(10));
        assert_eq!(m.latency_quantile_ms(0.95), Some(500));
        assert_eq!(m.latency_quantile_ms(1.0), Some(500));
        r.report(T, ChannelStatus::Timeout, Some(60_000));
        let m = r.hour(T)[MINUTES - 1];
        assert_eq!(m.latency_quantile_ms(1.0), Some(10_000));
        assert_eq!(Minute::default().latency_quantile_ms(0.5), None);
    }
}
