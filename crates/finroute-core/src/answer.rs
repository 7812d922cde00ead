//! What a partner can say besides an offer or a bare no (issue 18): a typed
//! decline reason (with the applicant fields it missed), a counter-offer
//! that says what it changed from the request and why, and the conditions
//! of a conditional approval.
//!
//! The taxonomy is the contract's `DeclineReason` (docs/api.md, "Partner
//! answers"); a value from a newer partner that this router does not know
//! reads as [`DeclineReason::Other`], never as an error.

use crate::domain::ApplicantField;

/// Most missing fields, conditions or changes kept from one partner answer.
pub const MAX_ANSWER_ITEMS: usize = 16;
/// Longest partner text kept in a decline, adjustment or condition, in bytes.
pub const MAX_ANSWER_TEXT: usize = 200;

/// Why a partner declined, or adjusted an offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DeclineReason {
    /// The credit score is below the partner's threshold.
    CreditScore,
    /// Debt service would take too much of the income.
    DebtToIncome,
    /// The income could not be verified: proof of income would help.
    IncomeUnverified,
    /// Applicant data the partner needs is missing.
    MissingData,
    /// The amount is outside the partner's policy.
    OutsidePolicyAmount,
    /// The term is outside the partner's policy.
    OutsidePolicyTerm,
    /// The region is outside the partner's policy.
    OutsidePolicyRegion,
    /// The purpose is outside the partner's policy.
    OutsidePolicyPurpose,
    /// No capacity to lend now.
    Capacity,
    /// Anything else (or a reason this router does not know).
    Other,
}

impl DeclineReason {
    /// Every reason, in the contract's order.
    pub const ALL: [DeclineReason; 10] = [
        DeclineReason::CreditScore,
        DeclineReason::DebtToIncome,
        DeclineReason::IncomeUnverified,
        DeclineReason::MissingData,
        DeclineReason::OutsidePolicyAmount,
        DeclineReason::OutsidePolicyTerm,
        DeclineReason::OutsidePolicyRegion,
        DeclineReason::OutsidePolicyPurpose,
        DeclineReason::Capacity,
        DeclineReason::Other,
    ];

    /// The contract's name without its prefix (`MISSING_DATA`), for logs
    /// and the conformance kit.
    pub fn code(self) -> &'static str {
        match self {
            DeclineReason::CreditScore => "CREDIT_SCORE",
            DeclineReason::DebtToIncome => "DEBT_TO_INCOME",
            DeclineReason::IncomeUnverified => "INCOME_UNVERIFIED",
            DeclineReason::MissingData => "MISSING_DATA",
            DeclineReason::OutsidePolicyAmount => "OUTSIDE_POLICY_AMOUNT",
            DeclineReason::OutsidePolicyTerm => "OUTSIDE_POLICY_TERM",
            DeclineReason::OutsidePolicyRegion => "OUTSIDE_POLICY_REGION",
            DeclineReason::OutsidePolicyPurpose => "OUTSIDE_POLICY_PURPOSE",
            DeclineReason::Capacity => "CAPACITY",
            DeclineReason::Other => "OTHER",
        }
    }

    /// Whether the borrower can act on it by providing data or documents
    /// (the `PROVIDE_DATA` suggestion).
    pub fn asks_for_data(self) -> bool {
        matches!(
            self,
            DeclineReason::MissingData | DeclineReason::IncomeUnverified
        )
    }
}

/// A partner's typed reason for making no offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartnerDecline {
    /// Why.
    pub reason: DeclineReason,
    /// With `MissingData`: the fields the partner needs (deduplicated, in
    /// the contract's order).
    pub missing_fields: Vec<ApplicantField>,
    /// The partner's words, cleaned and cut; may be empty.
    pub text: String,
    /// True when the partner sent a reason this router does not know (read
    /// as `Other`), or none at all with its decline.
    pub untyped: bool,
}

/// What a counter-offer changed from the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AdjustedTerm {
    /// The amount is below the requested one.
    Amount,
    /// The term is not one the request asked for.
    Term,
    /// The rate is above what the partner would give as asked.
    Rate,
}

/// Marks an offer as a counter-offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Adjustment {
    /// What changed, as the partner said (deduplicated, sorted); pricing
    /// adds what it sees changed (a smaller amount, a term outside the
    /// request's range) when the partner left it out.
    pub changed: Vec<AdjustedTerm>,
    /// Why; `None` when the partner gave no reason.
    pub reason: Option<DeclineReason>,
    /// The partner's words, cleaned and cut; may be empty.
    pub text: String,
}

/// What a conditional approval asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ConditionKind {
    /// Payslips, tax statements.
    ProofOfIncome,
    /// Identity documents.
    ProofOfIdentity,
    /// Proof of address.
    ProofOfAddress,
    /// Recent bank statements.
    BankStatements,
    /// Confirmation of employment.
    EmploymentVerification,
    /// An appraisal of the collateral.
    CollateralAppraisal,
    /// A guarantor signs.
    Guarantor,
    /// Anything else (or a kind this router does not know).
    Other,
}

/// One condition of a conditional offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    /// What is asked for.
    pub kind: ConditionKind,
    /// The partner's words, cleaned and cut; may be empty.
    pub description: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_and_upper_snake() {
        let mut codes: Vec<&str> = DeclineReason::ALL.iter().map(|r| r.code()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), DeclineReason::ALL.len());
        assert!(
            codes
                .iter()
                .all(|c| c.bytes().all(|b| b.is_ascii_uppercase() || b == b'_'))
        );
    }

    #[test]
    fn only_data_reasons_ask_for_data() {
        let asking: Vec<_> = DeclineReason::ALL
            .iter()
            .filter(|r| r.asks_for_data())
            .collect();
        assert_eq!(
            asking,
            [
                &DeclineReason::IncomeUnverified,
                &DeclineReason::MissingData
            ]
        );
    }
}
