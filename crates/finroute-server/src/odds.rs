//! The approval-odds book of this replica: rebuilt from the store's
//! outcomes (so every replica, and a restarted one, learns from all of
//! them), every `odds.refresh_ms` and right after this replica records an
//! outcome. Routing reads the current book without waiting.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use finroute_core::{Learning, OddsBook, OddsInputs, OddsModel, Outcome};
use finroute_store::{Store, StoreError};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::gauge::ConstGauge;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// Cheap to clone.
#[derive(Clone)]
pub struct OddsLearner {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    model: OddsModel,
    learning: Learning,
    refresh: Duration,
    book: RwLock<Arc<OddsBook>>,
    wake: Notify,
}

impl std::fmt::Debug for OddsLearner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OddsLearner")
            .field("refresh", &self.inner.refresh)
            .finish_non_exhaustive()
    }
}

impl OddsLearner {
    /// An empty book (the configured blend) until the first refresh.
    pub fn new(store: Store, model: OddsModel, learning: Learning, refresh: Duration) -> Self {
        Self {
            inner: Arc::new(Inner {
                book: RwLock::new(Arc::new(OddsBook::empty(&model))),
                store,
                model,
                learning,
                refresh,
                wake: Notify::new(),
            }),
        }
    }

    /// The current book.
    pub fn book(&self) -> Arc<OddsBook> {
        match self.inner.book.read() {
            Ok(b) => b.clone(),
            // A panic while swapping an Arc cannot leave it half-written.
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Rebuilds the book from the store.
    pub async fn refresh(&self) -> Result<(), StoreError> {
        let per_adapter = u32::try_from(self.inner.learning.window).unwrap_or(u32::MAX);
        let rows = self.inner.store.recent_outcomes(per_adapter).await?;
        let outcomes: Vec<Outcome> = rows
            .into_iter()
            .map(|r| Outcome {
                adapter_id: r.adapter_id,
                risk_band: r.risk_band,
                approved: r.accepted,
                inputs: OddsInputs {
                    prior: r.prior_odds,
                    partner: r.partner_odds,
                },
            })
            .collect();
        let book = Arc::new(OddsBook::learn(
            &self.inner.model,
            &self.inner.learning,
            &outcomes,
        ));
        match self.inner.book.write() {
            Ok(mut b) => *b = book,
            Err(poisoned) => *poisoned.into_inner() = book,
        }
        Ok(())
    }

    /// This replica recorded an outcome: learn from it soon.
    pub fn outcome_recorded(&self) {
        self.inner.wake.notify_one();
    }

    /// Refreshes every `refresh` and when woken, until the store closes.
    pub fn spawn(&self) -> JoinHandle<()> {
        let learner = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = tokio::time::sleep(learner.inner.refresh) => {}
                    () = learner.inner.wake.notified() => {}
                }
                match learner.refresh().await {
                    Ok(()) => {}
                    Err(StoreError::Closed) => break,
                    Err(e) => tracing::warn!(error = %e, "odds: reading outcomes failed"),
                }
            }
        })
    }
}

/// What the book learned, per adapter with outcomes, read at scrape time:
/// outcomes read, their (weighted) approval rate and the trust in the
/// partner's own estimates.
impl Collector for OddsLearner {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let book = self.book();
        let mut adapters: Vec<_> = book.adapters().collect();
        adapters.sort_by(|a, b| a.0.cmp(b.0));
        let labels: Vec<_> = adapters
            .iter()
            .map(|(id, _)| crate::metrics::ChannelLabels {
                channel: (*id).to_owned(),
            })
            .collect();
        {
            let mut family = encoder.encode_descriptor(
                "finroute_odds_outcomes",
                "Final acceptance outcomes the odds model learned from (the newest, up to odds.window).",
                None,
                MetricType::Gauge,
            )?;
            for ((_, a), l) in adapters.iter().zip(&labels) {
                let n = i64::try_from(a.outcomes).unwrap_or(i64::MAX);
                ConstGauge::new(n).encode(family.encode_family(l)?)?;
            }
        }
        for (name, help, trust) in [
            (
                "finroute_odds_approval_rate",
                "Recency-weighted approval rate of those outcomes.",
                false,
            ),
            (
                "finroute_odds_partner_trust",
                "Trust in the partner's own approval estimates, from their measured calibration (1 = calibrated).",
                true,
            ),
        ] {
            let mut family = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
            for ((_, a), l) in adapters.iter().zip(&labels) {
                let value = if trust {
                    a.partner_trust
                } else {
                    a.approval_rate
                };
                ConstGauge::new(value).encode(family.encode_family(l)?)?;
            }
        }
        Ok(())
    }
}
