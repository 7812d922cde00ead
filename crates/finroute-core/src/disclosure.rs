//! Who lends and what every charge costs: the parties to a loan, its typed
//! charges, promotions, the cost breakdown shown with an offer, and the
//! partner name-list an offer was checked against (`docs/disclosure.md`).

use crate::domain::UnixMillis;
use crate::money::Money;

/// A party's part in a loan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum PartyRole {
    /// The lender of record: whose money it is and who the borrower owes.
    Lender,
    /// The platform operator that shows or routes the loan.
    Platform,
    /// A guarantor that guarantees the loan.
    Guarantor,
    /// An insurer of the loan.
    Insurer,
    /// Anyone else paid by the borrower.
    Other,
}

/// What kind of institution a lender is (rate caps may differ by type).
/// With the `serde` feature it is spelt `bank`, `consumer_finance`,
/// `microlender` or `other` (config `compliance.rate_caps[].lender_types`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum LenderType {
    /// A licensed commercial bank.
    Bank,
    /// A licensed consumer-finance company.
    ConsumerFinance,
    /// A microlender (small-loan company, online microlender).
    Microlender,
    /// Any other kind of lender, or not given.
    #[default]
    Other,
}

/// A party to a loan, named as disclosure rules require.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Party {
    /// The party's part in the loan.
    pub role: PartyRole,
    /// Registered legal name.
    pub legal_name: String,
    /// Official registration id (e.g. the unified social credit code); may be empty.
    #[cfg_attr(feature = "serde", serde(default))]
    pub registration_id: String,
    /// How a borrower reaches the party (service phone, web or postal address).
    #[cfg_attr(feature = "serde", serde(default))]
    pub contact: String,
    /// For the lender of record: what kind of institution it is.
    #[cfg_attr(feature = "serde", serde(default))]
    pub lender_type: Option<LenderType>,
}

impl Party {
    /// A party with its role, legal name and registration id, no contact
    /// and no lender type.
    pub fn new(role: PartyRole, legal_name: &str, registration_id: &str) -> Party {
        Party {
            role,
            legal_name: legal_name.to_owned(),
            registration_id: registration_id.to_owned(),
            contact: String::new(),
            lender_type: None,
        }
    }

    /// The key a partner name-list or a consent matches this party by: its
    /// registration id, or its legal name when it has none.
    pub fn key(&self) -> &str {
        if self.registration_id.is_empty() {
            &self.legal_name
        } else {
            &self.registration_id
        }
    }

    /// Whether `other` is the same institution (same registration id when
    /// both have one, else the same legal name).
    pub fn same_as(&self, other: &Party) -> bool {
        if !self.registration_id.is_empty() && !other.registration_id.is_empty() {
            self.registration_id == other.registration_id
        } else {
            self.legal_name == other.legal_name
        }
    }
}

/// The lender of record among `parties`, if named.
pub fn lender_of(parties: &[Party]) -> Option<&Party> {
    parties.iter().find(|p| p.role == PartyRole::Lender)
}

/// `own` with every role it lacks taken from `defaults` (an offer's
/// parties over its channel's), lender first, then platform, guarantor,
/// insurer, other; order within a role kept.
pub fn merge_parties(own: &[Party], defaults: &[Party]) -> Vec<Party> {
    let mut merged: Vec<Party> = own.to_vec();
    for d in defaults {
        if !own.iter().any(|p| p.role == d.role) {
            merged.push(d.clone());
        }
    }
    merged.sort_by_key(|p| p.role);
    merged
}

/// What a charge is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ChargeKind {
    /// The schedule's interest (only in a breakdown, never a partner charge).
    Interest,
    /// A service or platform fee.
    ServiceFee,
    /// A guarantee fee.
    GuaranteeFee,
    /// An insurance premium.
    InsurancePremium,
    /// A membership or "rights" package sold with the loan.
    Membership,
    /// An arrangement or handling fee.
    ArrangementFee,
    /// Anything else.
    Other,
}

/// When and how a charge is paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChargeTiming {
    /// `amount`, kept back from the principal at disbursement.
    DeductedAtDisbursement,
    /// `amount`, paid by the borrower at disbursement.
    PaidAtDisbursement,
    /// `amount` with every installment.
    PerPeriodAmount,
    /// `period_rate_bps` of the original principal with every installment.
    PerPeriodRateOnPrincipal,
    /// `period_rate_bps` of the balance outstanding at the start of each period.
    PerPeriodRateOnBalance,
    /// `amount` with the last installment.
    AtEnd,
}

impl ChargeTiming {
    /// Whether the charge is an amount (else a per-period rate).
    pub fn is_amount(self) -> bool {
        !matches!(
            self,
            ChargeTiming::PerPeriodRateOnPrincipal | ChargeTiming::PerPeriodRateOnBalance
        )
    }
}

/// One charge of an offer besides interest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Charge {
    /// `None` when the partner sent an unknown or unspecified kind (refused).
    pub kind: Option<ChargeKind>,
    /// `None` when unknown or unspecified (refused).
    pub payee: Option<PartyRole>,
    /// The payee's legal name.
    pub payee_name: String,
    /// `None` when unknown or unspecified (refused).
    pub timing: Option<ChargeTiming>,
    /// The amount, for amount timings (in minor units of the offer's currency).
    pub amount: Option<Money>,
    /// The rate per period in bp, for rate timings.
    pub period_rate_bps: i32,
    /// The borrower may decline it: left out of the APR and the schedule.
    pub declinable: bool,
    /// A short description shown with the charge.
    pub description: String,
}

/// A promotion: the schedule and APR are what the borrower pays with it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Promotion {
    /// No interest for this many days from disbursement (30 days a month).
    pub interest_free_days: u32,
    /// No interest for this many first periods (adds to the days).
    pub interest_free_periods: u32,
    /// The annual rate instead of the nominal one during `discounted_periods`.
    pub discounted_rate_bps: i32,
    /// How many first periods the discounted rate applies to.
    pub discounted_periods: u32,
    /// Charges of these kinds are waived for the first `waiver_periods`.
    pub waived_charges: Vec<ChargeKind>,
    /// How many first periods the waiver covers; 0 = the whole loan.
    pub waiver_periods: u32,
    /// A short description shown with the promotion.
    pub description: String,
}

impl Promotion {
    /// Whether the promotion changes nothing.
    pub fn is_empty(&self) -> bool {
        self.interest_free_days == 0
            && self.interest_free_periods == 0
            && self.discounted_periods == 0
            && self.waived_charges.is_empty()
    }

    /// How many days from disbursement the promotion lasts (30 days a
    /// month), `None` when it covers the whole loan (a whole-loan waiver).
    pub fn days(&self, term_months: u32) -> Option<u64> {
        let waiver = if self.waived_charges.is_empty() {
            0
        } else if self.waiver_periods == 0 {
            return None;
        } else {
            u64::from(self.waiver_periods) * 30
        };
        let free = u64::from(self.interest_free_days) + u64::from(self.interest_free_periods) * 30;
        let discounted = u64::from(self.discounted_periods) * 30;
        Some(
            free.max(discounted)
                .max(waiver)
                .min(u64::from(term_months) * 30),
        )
    }

    /// When the promotion ends, for a loan disbursed at `now` (`None`: it
    /// lasts the whole loan).
    pub fn ends_at(&self, now: UnixMillis, term_months: u32) -> Option<UnixMillis> {
        let days = self.days(term_months)?;
        Some(now.saturating_add((days as i64).saturating_mul(86_400_000)))
    }
}

/// One line of a shown offer's cost breakdown.
#[derive(Debug, Clone, PartialEq)]
pub struct CostLine {
    /// `Interest` for the schedule's interest, else the charge's kind.
    pub kind: ChargeKind,
    /// Who is paid.
    pub payee: PartyRole,
    /// The payee's legal name, when known.
    pub payee_name: String,
    /// When and how it is paid (`None` for interest).
    pub timing: Option<ChargeTiming>,
    /// Everything paid under this line over the whole loan.
    pub total: Money,
    /// What the line adds to the APR in bp (for a declinable charge: what
    /// it would add if taken).
    pub apr_share_bps: i32,
    /// The borrower may decline it.
    pub declinable: bool,
    /// The line in plain words, in the request's locale.
    pub text: String,
}

/// Which partner name-list an offer was checked against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartnerListCheck {
    /// The lender the list belongs to (registration id or legal name).
    pub lender: String,
    /// The version in force when the offer was priced.
    pub version: String,
    /// From when that version is in force.
    pub effective_from: UnixMillis,
}

/// How each rate figure is computed, in words.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RateLabels {
    /// The APR with its method.
    pub apr: String,
    /// The effective annual rate with its method.
    pub effective_annual_rate: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn party(role: PartyRole, name: &str, id: &str) -> Party {
        Party::new(role, name, id)
    }

    #[test]
    fn offer_parties_replace_the_channel_roles_they_name() {
        let channel = vec![
            party(PartyRole::Platform, "P", ""),
            party(PartyRole::Lender, "L", "1"),
        ];
        let own = vec![party(PartyRole::Guarantor, "G", "2")];
        let merged = merge_parties(&own, &channel);
        let names: Vec<_> = merged.iter().map(|p| p.legal_name.as_str()).collect();
        assert_eq!(names, ["L", "P", "G"]);
        let own = vec![party(PartyRole::Lender, "L2", "3")];
        let merged = merge_parties(&own, &channel);
        assert_eq!(lender_of(&merged).map(|p| p.key()), Some("3"));
    }

    #[test]
    fn parties_match_by_registration_id_else_by_name() {
        let a = party(PartyRole::Lender, "A Bank", "91310000");
        assert!(a.same_as(&party(PartyRole::Lender, "A Bank Ltd", "91310000")));
        assert!(!a.same_as(&party(PartyRole::Lender, "A Bank", "91310001")));
        assert!(a.same_as(&party(PartyRole::Lender, "A Bank", "")));
        assert_eq!(party(PartyRole::Lender, "N", "").key(), "N");
    }

    #[test]
    fn a_promotion_ends_after_its_longest_part() {
        let p = Promotion {
            interest_free_days: 30,
            ..Promotion::default()
        };
        assert_eq!(p.ends_at(0, 12), Some(30 * 86_400_000));
        let p = Promotion {
            discounted_periods: 3,
            interest_free_days: 10,
            ..Promotion::default()
        };
        assert_eq!(p.days(12), Some(90));
        let p = Promotion {
            waived_charges: vec![ChargeKind::ServiceFee],
            ..Promotion::default()
        };
        assert_eq!(p.days(12), None);
        assert!(Promotion::default().is_empty());
    }
}
