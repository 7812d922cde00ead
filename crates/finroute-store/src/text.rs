//! Text the store can keep on both backends.
//!
//! PostgreSQL `text` cannot hold the NUL character (U+0000): a bind carrying
//! one fails with SQLSTATE 22021, while SQLite stores it. The store refuses
//! such text itself, before the database sees it, so both backends answer
//! the same ([`StoreError::Rejected`] naming the field) and a write never
//! takes a round trip to fail. Lookups by a key holding a NUL find nothing
//! (no such key can have been stored) instead of failing.
//!
//! The writer still treats a data exception from PostgreSQL as the one
//! record's error (see `error::is_record_error`), should anything else in a
//! record be refused there.

use crate::acceptance::AcceptanceClaim;
use crate::appeal::NewAppeal;
use crate::error::StoreError;
use crate::record::ApplicationRecord;

const NUL: &str = "contains a NUL character, which the database cannot store";

/// `Rejected` naming `field` if `value` holds a NUL.
pub(crate) fn storable(field: &'static str, value: &str) -> Result<(), StoreError> {
    if value.contains('\0') {
        Err(StoreError::Rejected {
            field: Some(field),
            reason: NUL,
        })
    } else {
        Ok(())
    }
}

/// Whether every key can exist in the store (none holds a NUL).
pub(crate) fn findable(keys: &[&str]) -> bool {
    keys.iter().all(|k| !k.contains('\0'))
}

/// Every text field of an application, its offers and its reports.
pub(crate) fn application(app: &ApplicationRecord) -> Result<(), StoreError> {
    storable("application_id", &app.application_id)?;
    storable("tenant", &app.tenant)?;
    storable("request_id", &app.request_id)?;
    storable("applicant_id", &app.applicant_id)?;
    for o in &app.offers {
        offer(o)?;
    }
    for r in &app.channel_reports {
        storable("channel_reports.adapter_id", &r.adapter_id)?;
        storable("channel_reports.product_kind", &r.product_kind)?;
        storable("channel_reports.status", &r.status)?;
        storable("channel_reports.detail", &r.detail)?;
    }
    Ok(())
}

/// Every text field of an offer row.
pub(crate) fn offer(o: &crate::OfferRecord) -> Result<(), StoreError> {
    storable("offers.offer_id", &o.offer_id)?;
    storable("offers.application_id", &o.application_id)?;
    storable("offers.tenant", &o.tenant)?;
    storable("offers.adapter_id", &o.adapter_id)?;
    storable("offers.partner_offer_ref", &o.partner_offer_ref)?;
    storable("offers.product_kind", &o.product_kind)?;
    storable("offers.currency", &o.currency)?;
    storable("offers.risk_band", &o.risk_band)
}

/// Every text field of an acceptance claim.
pub(crate) fn claim(c: &AcceptanceClaim) -> Result<(), StoreError> {
    storable("acceptance_id", &c.acceptance_id)?;
    storable("tenant", &c.tenant)?;
    storable("idempotency_key", &c.idempotency_key)?;
    storable("offer_id", &c.offer_id)?;
    storable("application_id", &c.application_id)?;
    storable("adapter_id", &c.adapter_id)?;
    storable("partner_offer_ref", &c.partner_offer_ref)?;
    storable("applicant_id", &c.applicant_id)
}

/// Every text field of a new appeal.
pub(crate) fn appeal(a: &NewAppeal) -> Result<(), StoreError> {
    storable("appeal_id", &a.appeal_id)?;
    storable("tenant", &a.tenant)?;
    storable("application_id", &a.application_id)?;
    storable("adapter_id", &a.adapter_id)?;
    storable("reason", &a.reason)?;
    storable("details", &a.details)?;
    storable("filed_by", &a.filed_by)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_is_refused_with_its_field_and_no_value() {
        let err = storable("details", "secret income 12345\0").expect_err("NUL");
        assert!(matches!(
            err,
            StoreError::Rejected {
                field: Some("details"),
                ..
            }
        ));
        let text = format!("{err} {err:?}");
        assert!(!text.contains("12345"), "{text}");
        assert!(text.contains("details"), "{text}");
        storable("details", "收入增加 — fine").expect("no NUL");
        assert!(findable(&["a", "b"]));
        assert!(!findable(&["a", "b\0"]));
    }
}
