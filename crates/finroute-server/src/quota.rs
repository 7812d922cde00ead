//! Volume agreements (`[[quotas]]`, docs/config.md): per channel, limits on
//! quotes, confirmed acceptances and principal lent per UTC day and month,
//! counted in the store so every replica shares them.
//!
//! - A quote is reserved before the channel is called: the store counts it
//!   in the day and the month only while every counter of both is under
//!   its limit ([`Store::reserve_quote`]). A channel at a limit is not
//!   called and is reported `QUOTA_EXHAUSTED`, saying which limit.
//! - Acceptances and lent principal are counted when the partner confirms
//!   an acceptance. Offers already shown stay acceptable: a limit closes
//!   the channel to new quotes, it never breaks a borrower's accept; so a
//!   burst of accepts may pass the acceptance or amount limit by what was
//!   already on screen.
//! - If the store cannot count, the channel is not called (reported
//!   `ERROR`): an agreement is never exceeded by an outage.
//! - `finroute_channel_quota_used` and `finroute_channel_quota_limit`
//!   expose each limit and this replica's last reading of its counter.

use std::collections::HashMap;
use std::sync::Mutex;

use finroute_store::{PeriodLimit, Reservation, Store, Usage};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::gauge::ConstGauge;

use crate::config::QuotaConfig;

/// The two periods of a moment, `day:YYYY-MM-DD` and `month:YYYY-MM` (UTC).
pub fn periods(now_ms: i64) -> [String; 2] {
    let secs = u64::try_from(now_ms.max(0) / 1000).unwrap_or(0);
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs);
    let iso = humantime::format_rfc3339_seconds(t).to_string();
    let day = iso.get(..10).unwrap_or("1970-01-01");
    let month = iso.get(..7).unwrap_or("1970-01");
    [format!("day:{day}"), format!("month:{month}")]
}

/// What a reservation decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QuoteCheck {
    /// Not limited, or counted: call the channel.
    Call,
    /// At a limit: not called; the report's detail.
    AtLimit(String),
    /// The store could not count: not called; the report's detail.
    Failed(String),
}

/// `{channel, limit}` of the quota gauges.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QuotaLabels {
    channel: String,
    limit: String,
}

/// The configured agreements and the last counters read.
#[derive(Debug)]
pub struct Quotas {
    store: Store,
    limits: HashMap<String, QuotaConfig>,
    /// (channel, period kind) -> the counters last read by this replica.
    seen: Mutex<HashMap<(String, &'static str), Usage>>,
}

fn limit(v: Option<u64>) -> i64 {
    v.map_or(i64::MAX, |n| i64::try_from(n).unwrap_or(i64::MAX))
}

impl Quotas {
    pub fn new(store: Store, quotas: &[QuotaConfig]) -> Quotas {
        Quotas {
            store,
            limits: quotas
                .iter()
                .map(|q| (q.adapter.clone(), q.clone()))
                .collect(),
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// Whether `channel` has an agreement.
    pub fn limited(&self, channel: &str) -> bool {
        self.limits.contains_key(channel)
    }

    fn remember(&self, channel: &str, after: &[Usage]) {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        for (kind, usage) in ["day", "month"].into_iter().zip(after) {
            seen.insert((channel.to_owned(), kind), *usage);
        }
    }

    /// Reserves one quote of `channel` at `now_ms`.
    pub async fn reserve_quote(&self, channel: &str, now_ms: i64) -> QuoteCheck {
        let Some(q) = self.limits.get(channel) else {
            return QuoteCheck::Call;
        };
        let [day, month] = periods(now_ms);
        let limits = [
            PeriodLimit {
                period: day,
                limit: Usage {
                    quotes: limit(q.quotes_per_day),
                    acceptances: limit(q.acceptances_per_day),
                    lent_minor: limit(q.lent_minor_per_day),
                },
            },
            PeriodLimit {
                period: month,
                limit: Usage {
                    quotes: limit(q.quotes_per_month),
                    acceptances: limit(q.acceptances_per_month),
                    lent_minor: limit(q.lent_minor_per_month),
                },
            },
        ];
        match self.store.reserve_quote(channel, &limits).await {
            Ok(Reservation::Reserved(after)) => {
                self.remember(channel, &after);
                QuoteCheck::Call
            }
            Ok(Reservation::AtLimit { period, usage }) => {
                let kind = if period.starts_with("day:") {
                    "day"
                } else {
                    "month"
                };
                let l = if kind == "day" {
                    &limits[0].limit
                } else {
                    &limits[1].limit
                };
                let which = if usage.quotes >= l.quotes {
                    format!("{} quotes", l.quotes)
                } else if usage.acceptances >= l.acceptances {
                    format!("{} acceptances", l.acceptances)
                } else {
                    format!("{} lent (minor units)", l.lent_minor)
                };
                let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
                seen.insert((channel.to_owned(), kind), usage);
                QuoteCheck::AtLimit(format!(
                    "the channel's volume agreement is used up: {which} per {kind} ({period}); not called"
                ))
            }
            Err(e) => {
                tracing::warn!(adapter = %channel, error = %e, "quota: the store could not count a quote");
                QuoteCheck::Failed(
                    "the channel's quota could not be counted (store unavailable); not called"
                        .into(),
                )
            }
        }
    }

    /// Counts an acceptance the partner confirmed, of `principal_minor`.
    pub async fn acceptance_confirmed(&self, channel: &str, principal_minor: i64, now_ms: i64) {
        if !self.limited(channel) {
            return;
        }
        let periods = periods(now_ms);
        match self
            .store
            .count_acceptance(channel, &periods, principal_minor.max(0))
            .await
        {
            Ok(after) => self.remember(channel, &after),
            Err(e) => {
                tracing::warn!(adapter = %channel, error = %e, "quota: an acceptance could not be counted")
            }
        }
    }
}

impl Collector for Quotas {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let mut channels: Vec<&String> = self.limits.keys().collect();
        channels.sort();
        let rows = |q: &QuotaConfig| {
            [
                ("quotes_per_day", "day", q.quotes_per_day),
                ("quotes_per_month", "month", q.quotes_per_month),
                ("acceptances_per_day", "day", q.acceptances_per_day),
                ("acceptances_per_month", "month", q.acceptances_per_month),
                ("lent_minor_per_day", "day", q.lent_minor_per_day),
                ("lent_minor_per_month", "month", q.lent_minor_per_month),
            ]
        };
        {
            let mut family = encoder.encode_descriptor(
                "finroute_channel_quota_limit",
                "A channel's volume agreement limit ([[quotas]]).",
                None,
                MetricType::Gauge,
            )?;
            for ch in &channels {
                for (name, _, value) in rows(&self.limits[*ch]) {
                    if let Some(v) = value {
                        let l = QuotaLabels {
                            channel: (*ch).clone(),
                            limit: name.into(),
                        };
                        ConstGauge::new(i64::try_from(v).unwrap_or(i64::MAX))
                            .encode(family.encode_family(&l)?)?;
                    }
                }
            }
        }
        let mut family = encoder.encode_descriptor(
            "finroute_channel_quota_used",
            "Use of each limit in the current period, as this replica last read it from the store.",
            None,
            MetricType::Gauge,
        )?;
        for ch in &channels {
            for (name, kind, value) in rows(&self.limits[*ch]) {
                if value.is_none() {
                    continue;
                }
                let u = seen
                    .get(&((*ch).clone(), kind))
                    .copied()
                    .unwrap_or_default();
                let used = if name.starts_with("quotes") {
                    u.quotes
                } else if name.starts_with("acceptances") {
                    u.acceptances
                } else {
                    u.lent_minor
                };
                let l = QuotaLabels {
                    channel: (*ch).clone(),
                    limit: name.into(),
                };
                ConstGauge::new(used).encode(family.encode_family(&l)?)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_are_the_utc_day_and_month() {
        // 2026-12-31 23:59:59.999 UTC, then the next millisecond.
        let last = 1_798_761_599_999;
        assert_eq!(
            periods(last),
            ["day:2026-12-31".to_owned(), "month:2026-12".to_owned()]
        );
        assert_eq!(
            periods(last + 1),
            ["day:2027-01-01".to_owned(), "month:2027-01".to_owned()]
        );
        assert_eq!(periods(-5)[0], "day:1970-01-01");
    }
}
