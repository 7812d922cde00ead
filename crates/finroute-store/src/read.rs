//! The reads of applications and offers, and the decoding of their rows.
//! One text per statement for both backends (SQLite accepts PostgreSQL's
//! `$n` placeholders); each table's column list is one const, in the order
//! its decoder reads the columns.
//!
//! Every read names the tenant: another tenant's row is simply not found.

use std::sync::LazyLock;

use sqlx::{ColumnIndex, Decode, Row, Type};

use crate::acceptance::bad_column;
use crate::record::{OfferRecord, StoredApplication};

/// `SELECT {columns} FROM {from} {tail}`: how every read is spelled, so
/// that each table's column list exists once. Built once per statement (a
/// `LazyLock` static), so each statement is one `&'static str` for sqlx's
/// statement cache.
pub(crate) fn select(columns: &str, from: &str, tail: &str) -> String {
    format!("SELECT {columns} FROM {from} {tail}")
}

/// The columns of a [`StoredApplication`], as [`application`] decodes them.
pub(crate) const APPLICATION_COLUMNS: &str = "application_id, tenant, request_id, \
    request_fingerprint, applicant_id, created_at_ms, response";

/// The columns of an [`OfferRecord`], as [`offer`] decodes them.
pub(crate) const OFFER_COLUMNS: &str = "offer_id, application_id, tenant, adapter_id, \
    partner_offer_ref, product_kind, currency, principal_minor, term_months, apr_bps, \
    approval_odds, rank, expires_at_ms, risk_band, prior_odds, partner_odds";

/// `$1` application_id, `$2` tenant.
pub(crate) static GET_APPLICATION: LazyLock<String> = LazyLock::new(|| {
    select(
        APPLICATION_COLUMNS,
        "applications",
        "WHERE application_id = $1 AND tenant = $2",
    )
});

/// `$1` tenant, `$2` request_id. The `request_id <> ''` term lets both
/// planners use the partial unique index.
pub(crate) static FIND_BY_REQUEST_ID: LazyLock<String> = LazyLock::new(|| {
    select(
        APPLICATION_COLUMNS,
        "applications",
        "WHERE tenant = $1 AND request_id = $2 AND request_id <> ''",
    )
});

/// `$1` offer_id, `$2` tenant.
pub(crate) static GET_OFFER: LazyLock<String> = LazyLock::new(|| {
    select(
        OFFER_COLUMNS,
        "offers",
        "WHERE offer_id = $1 AND tenant = $2",
    )
});

/// The latest application of the same applicant routed after `$1` (of
/// tenant `$2`): its id and applicant digest, and `$1`'s digest.
pub(crate) const LATEST_LATER_APPLICATION: &str = "SELECT n.application_id, \
     n.applicant_fingerprint, o.applicant_fingerprint FROM applications o \
     JOIN applications n ON n.tenant = o.tenant AND n.applicant_id = o.applicant_id \
     AND n.created_at_ms > o.created_at_ms \
     WHERE o.application_id = $1 AND o.tenant = $2 \
     ORDER BY n.created_at_ms DESC, n.application_id DESC LIMIT 1";

/// Decodes a row of [`GET_APPLICATION`] or [`FIND_BY_REQUEST_ID`].
pub(crate) fn application<R>(row: &R) -> Result<StoredApplication, sqlx::Error>
where
    R: Row,
    usize: ColumnIndex<R>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> Vec<u8>: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
{
    Ok(StoredApplication {
        application_id: row.try_get(0)?,
        tenant: row.try_get(1)?,
        request_id: row.try_get(2)?,
        request_fingerprint: row.try_get(3)?,
        applicant_id: row.try_get(4)?,
        created_at_ms: row.try_get(5)?,
        response: crate::blob::unpack(row.try_get(6)?)
            .map_err(|what| bad_column("response", what))?,
    })
}

/// Decodes a row of [`GET_OFFER`].
pub(crate) fn offer<R>(row: &R) -> Result<OfferRecord, sqlx::Error>
where
    R: Row,
    usize: ColumnIndex<R>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i32: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> f64: Decode<'r, R::Database> + Type<R::Database>,
{
    Ok(OfferRecord {
        offer_id: row.try_get(0)?,
        application_id: row.try_get(1)?,
        tenant: row.try_get(2)?,
        adapter_id: row.try_get(3)?,
        partner_offer_ref: row.try_get(4)?,
        product_kind: row.try_get(5)?,
        currency: row.try_get(6)?,
        principal_minor: row.try_get(7)?,
        term_months: row.try_get(8)?,
        apr_bps: row.try_get(9)?,
        approval_odds: row.try_get(10)?,
        rank: row.try_get(11)?,
        expires_at_ms: row.try_get(12)?,
        risk_band: row.try_get(13)?,
        prior_odds: row.try_get::<Option<f64>, _>(14)?,
        partner_odds: row.try_get::<Option<f64>, _>(15)?,
    })
}
