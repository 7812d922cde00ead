//! Why a partner offer is not shown: every offer the router drops is a
//! `Rejection` with a reason, the field at fault and a short message, so it
//! can be counted in the channel report and explained; never a silent drop.

use std::fmt;

use crate::domain::Offer;

/// The class of problem that kept an offer from the borrower.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RejectReason {
    /// A field is missing, unknown or out of its domain (kind, method,
    /// negative rate or fee, probability outside [0, 1], empty reference).
    InvalidField,
    /// Principal or upfront fee in a currency other than the requested one.
    CurrencyMismatch,
    /// Principal not positive, above the request, or outside the channel's amounts.
    AmountOutOfRange,
    /// Term outside the request's or the channel's range.
    TermOutOfRange,
    /// The schedule does not repay the principal, or is malformed.
    ScheduleInconsistent,
    /// The offer's validity had already ended.
    Expired,
    /// No APR can be computed (amounts or rates beyond representable ranges).
    Unpriceable,
    /// The computed APR is above the applicant's region's rate cap.
    AboveRateCap,
    /// Debt-to-income after the loan is above the affordability hard limit.
    Unaffordable,
    /// A charge is malformed (kind, payee, timing, amount or rate), or a
    /// required party is missing.
    InvalidCharge,
    /// The (lender, platform, guarantor) of the offer is not on the
    /// lender's partner name-list in force.
    NotOnPartnerList,
    /// The applicant's consent does not name the offer's lender.
    LenderNotConsented,
}

impl RejectReason {
    /// A stable lower-snake name for logs and metrics labels.
    pub fn as_str(&self) -> &'static str {
        match self {
            RejectReason::InvalidField => "invalid_field",
            RejectReason::CurrencyMismatch => "currency_mismatch",
            RejectReason::AmountOutOfRange => "amount_out_of_range",
            RejectReason::TermOutOfRange => "term_out_of_range",
            RejectReason::ScheduleInconsistent => "schedule_inconsistent",
            RejectReason::Expired => "expired",
            RejectReason::Unpriceable => "unpriceable",
            RejectReason::AboveRateCap => "above_rate_cap",
            RejectReason::Unaffordable => "unaffordable",
            RejectReason::InvalidCharge => "invalid_charge",
            RejectReason::NotOnPartnerList => "not_on_partner_list",
            RejectReason::LenderNotConsented => "lender_not_consented",
        }
    }

    /// The stable UPPER_SNAKE code channel reports carry
    /// (`OfferRejection.reason`), e.g. `NOT_ON_PARTNER_LIST`.
    pub fn code(&self) -> String {
        self.as_str().to_ascii_uppercase()
    }
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A partner offer that will not be shown, and why.
///
/// `message` speaks of the offer's terms only (they are not personal data);
/// the applicant's income, score and collateral never appear in it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("offer {}: {message}", display_ref(partner_offer_ref))]
pub struct Rejection {
    /// The partner's reference for the offer (may be empty when that was the fault).
    pub partner_offer_ref: String,
    /// The class of problem.
    pub reason: RejectReason,
    /// The `PartnerOffer` field at fault, e.g. `schedule[3].principal`.
    pub field: String,
    /// What is wrong, starting with the field: `term_months 48 outside 3..=24`.
    pub message: String,
    /// The offer as priced, when it was priced before being rejected (rate
    /// cap, affordability), so explanations can use its numbers.
    pub priced: Option<Box<Offer>>,
}

fn display_ref(r: &str) -> &str {
    if r.is_empty() { "(no ref)" } else { r }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_short() {
        let r = Rejection {
            partner_offer_ref: "P-3".into(),
            reason: RejectReason::TermOutOfRange,
            field: "term_months".into(),
            message: "term_months 48 outside 3..=24".into(),
            priced: None,
        };
        assert_eq!(r.to_string(), "offer P-3: term_months 48 outside 3..=24");
        let r = Rejection {
            partner_offer_ref: String::new(),
            reason: RejectReason::InvalidField,
            field: "partner_offer_ref".into(),
            message: "partner_offer_ref is empty".into(),
            priced: None,
        };
        assert_eq!(r.to_string(), "offer (no ref): partner_offer_ref is empty");
        assert_eq!(RejectReason::AboveRateCap.to_string(), "above_rate_cap");
    }
}
