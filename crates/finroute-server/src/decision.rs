//! How long a channel takes to decide an acceptance: each offer's
//! `expected_decision_time` (docs/api.md, "Expected decision time").
//!
//! The acceptance relay measures, per channel, the time from the claim
//! (`AcceptOffer`) to the partner's final answer (ACCEPTED or DECLINED,
//! however many PENDING answers and re-drives came between) and feeds it
//! here. Until a channel has [`MIN_OBSERVATIONS`] measurements, the
//! estimate is the prior of its product kind ([`prior_ms`]); from then on
//! it is an exponentially weighted moving average (weight [`ALPHA`] on the
//! newest), seeded with the mean of the first measurements. The estimate
//! is per process (each replica learns from the acceptances it drives).

use std::sync::Mutex;

use finroute_core::ProductKind;

/// Measurements needed before the channel's own figure replaces the prior.
pub const MIN_OBSERVATIONS: u32 = 5;
/// Weight of the newest measurement in the moving average.
pub const ALPHA: f64 = 0.2;

/// The prior decision time of a channel kind, in ms, before any
/// measurement: the platform's own products decide at once (1 s), a
/// partner loan in an hour, a secured loan (collateral to check) in a day.
pub fn prior_ms(kind: ProductKind) -> u64 {
    match kind {
        ProductKind::PrimaryCreditLine | ProductKind::Installment => 1_000,
        ProductKind::PartnerLoan => 3_600_000,
        ProductKind::SecuredLoan => 86_400_000,
    }
}

/// One channel's running estimate.
#[derive(Debug, Default)]
pub struct DecisionClock {
    state: Mutex<State>,
}

#[derive(Debug, Default, Clone, Copy)]
struct State {
    observations: u32,
    /// Sum of the first measurements, until there are enough.
    sum_ms: f64,
    /// The moving average once there are enough.
    average_ms: f64,
}

impl DecisionClock {
    /// Records one measured decision time.
    pub fn observe(&self, elapsed_ms: u64) {
        let Ok(mut s) = self.state.lock() else { return };
        let x = elapsed_ms as f64;
        s.observations = s.observations.saturating_add(1);
        if s.observations < MIN_OBSERVATIONS {
            s.sum_ms += x;
        } else if s.observations == MIN_OBSERVATIONS {
            s.average_ms = (s.sum_ms + x) / f64::from(MIN_OBSERVATIONS);
        } else {
            s.average_ms += ALPHA * (x - s.average_ms);
        }
    }

    /// The expected decision time in ms for a channel of `kind`.
    pub fn expected_ms(&self, kind: ProductKind) -> u64 {
        match self.state.lock() {
            Ok(s) if s.observations >= MIN_OBSERVATIONS => s.average_ms.round().max(0.0) as u64,
            _ => prior_ms(kind),
        }
    }

    /// How many measurements the estimate has seen.
    pub fn observations(&self) -> u32 {
        self.state.lock().map_or(0, |s| s.observations)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prior_holds_until_enough_measurements_then_the_average() {
        let c = DecisionClock::default();
        for _ in 0..MIN_OBSERVATIONS - 1 {
            c.observe(200);
            assert_eq!(c.expected_ms(ProductKind::PartnerLoan), 3_600_000);
        }
        c.observe(700);
        // Mean of 200, 200, 200, 200, 700.
        assert_eq!(c.expected_ms(ProductKind::PartnerLoan), 300);
        c.observe(1_300);
        // 300 + 0.2 * (1300 - 300).
        assert_eq!(c.expected_ms(ProductKind::PartnerLoan), 500);
        assert_eq!(c.observations(), MIN_OBSERVATIONS + 1);
    }

    #[test]
    fn priors_differ_by_kind() {
        let c = DecisionClock::default();
        assert!(c.expected_ms(ProductKind::Installment) < c.expected_ms(ProductKind::PartnerLoan));
        assert!(c.expected_ms(ProductKind::PartnerLoan) < c.expected_ms(ProductKind::SecuredLoan));
    }
}
