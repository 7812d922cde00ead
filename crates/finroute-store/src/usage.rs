//! Channel usage against volume agreements (`migrations/*/0006_channel_usage.sql`):
//! per channel and period (a UTC day or month), the quotes asked, the
//! acceptances confirmed and the principal lent, in one row that every
//! replica updates. A quote is *reserved*: the row is incremented only
//! while every counter of every period is under its limit, in one
//! transaction, so two replicas racing for the last quote of the day
//! cannot both get it.

use sqlx::{ColumnIndex, Decode, Row, Type};

/// The counters of one channel in one period.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub quotes: i64,
    pub acceptances: i64,
    pub lent_minor: i64,
}

/// Limits of one period (`i64::MAX` where there is none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeriodLimit {
    /// `day:YYYY-MM-DD` or `month:YYYY-MM`.
    pub period: String,
    pub limit: Usage,
}

/// What a quote reservation found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reservation {
    /// Counted; the usage of each period after it, in the order asked.
    Reserved(Vec<Usage>),
    /// A counter of `period` is at its limit; nothing was counted. The
    /// usage of that period as it stands.
    AtLimit { period: String, usage: Usage },
}

pub(crate) const ENSURE_USAGE: &str = "INSERT INTO channel_usage \
     (adapter_id, period, quotes, acceptances, lent_minor) VALUES ($1, $2, 0, 0, 0) \
     ON CONFLICT (adapter_id, period) DO NOTHING";

pub(crate) const RESERVE_QUOTE: &str = "UPDATE channel_usage SET quotes = quotes + 1 \
     WHERE adapter_id = $1 AND period = $2 AND quotes < $3 AND acceptances < $4 \
     AND lent_minor < $5 RETURNING quotes, acceptances, lent_minor";

pub(crate) const COUNT_ACCEPTANCE: &str = "UPDATE channel_usage \
     SET acceptances = acceptances + 1, lent_minor = lent_minor + $3 \
     WHERE adapter_id = $1 AND period = $2 RETURNING quotes, acceptances, lent_minor";

pub(crate) const GET_USAGE: &str = "SELECT quotes, acceptances, lent_minor FROM channel_usage \
     WHERE adapter_id = $1 AND period = $2";

/// Decodes `quotes, acceptances, lent_minor`.
pub(crate) fn usage<R: Row>(row: &R) -> Result<Usage, sqlx::Error>
where
    usize: ColumnIndex<R>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
{
    Ok(Usage {
        quotes: row.try_get(0)?,
        acceptances: row.try_get(1)?,
        lent_minor: row.try_get(2)?,
    })
}
