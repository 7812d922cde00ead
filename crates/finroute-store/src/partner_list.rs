//! Partner name-lists: each lender's published list of the platforms and
//! guarantors it works with, one row per (lender, version), append-only
//! (`migrations/*/0004_partner_lists.sql`). A version is written once and
//! never overwritten: writing it again with the same content changes
//! nothing, with other content is refused. The store keeps the entries as
//! the JSON text the router gives it and compares it byte for byte, so the
//! router writes it canonically (sorted, without duplicates).

use sqlx::{ColumnIndex, Decode, Row, Type};

/// One version of a lender's partner name-list as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartnerListRecord {
    /// The lender's registration id (or legal name when it has none).
    pub lender: String,
    /// The lender's name for this version.
    pub version: String,
    /// From when the version is in force, ms since the Unix epoch.
    pub effective_from_ms: i64,
    /// The entries, as JSON text (`{"platforms":[..],"guarantors":[..]}`).
    pub entries: String,
    /// When the version was first stored, ms since the Unix epoch (on a
    /// write that finds the version already stored, the stored time stays).
    pub loaded_at_ms: i64,
}

/// What writing a version did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartnerListWrite {
    /// The version was new and is now stored.
    Inserted,
    /// The version was already stored with the same date and entries.
    Unchanged,
}

pub(crate) const INSERT_PARTNER_LIST: &str = "INSERT INTO partner_lists \
     (lender, version, effective_from_ms, entries, loaded_at_ms) VALUES ($1, $2, $3, $4, $5) \
     ON CONFLICT (lender, version) DO NOTHING";

pub(crate) const GET_PARTNER_LIST: &str = "SELECT lender, version, effective_from_ms, entries, \
     loaded_at_ms FROM partner_lists WHERE lender = $1 AND version = $2";

pub(crate) const ALL_PARTNER_LISTS: &str = "SELECT lender, version, effective_from_ms, entries, \
     loaded_at_ms FROM partner_lists";

/// Decodes a row of the column list above.
pub(crate) fn partner_list<R: Row>(row: &R) -> Result<PartnerListRecord, sqlx::Error>
where
    usize: ColumnIndex<R>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
{
    Ok(PartnerListRecord {
        lender: row.try_get(0)?,
        version: row.try_get(1)?,
        effective_from_ms: row.try_get(2)?,
        entries: row.try_get(3)?,
        loaded_at_ms: row.try_get(4)?,
    })
}
