//! Approval odds, first version: a logistic feature model gives a prior, and
//! the partner's own estimate, when it sends one, is blended in.
//!
//! Blending is in log-odds space, `w x logit(partner) + (1 - w) x logit(model)`
//! with `w = OddsModel::partner_weight` (default 0.7): the partner runs the
//! underwriting and knows its own rules, the model only sees a few features,
//! but a partner's number is a claim nobody has calibrated yet, so it never
//! fully replaces the prior. The source is then `BLENDED`; `PARTNER` only
//! when the weight is configured to 1 (full trust). A later version learns
//! the weight per adapter from outcomes (ranking.md section 2).
//!
//! Every estimate is clamped to `[0.01, 0.99]`: no offer is certain, and no
//! offer is worth ranking as hopeless on a model this coarse.

use crate::domain::{Applicant, EmploymentType, OddsSource};
use crate::money::Money;

/// Lowest odds ever reported.
pub const MIN_ODDS: f64 = 0.01;
/// Highest odds ever reported.
pub const MAX_ODDS: f64 = 0.99;

/// An approval-odds estimate and where it came from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OddsEstimate {
    /// Probability of approval, in `[MIN_ODDS, MAX_ODDS]`.
    pub odds: f64,
    /// `Model` without a partner estimate, else `Blended` (`Partner` only at full trust).
    pub source: OddsSource,
}

/// Coefficients of the logistic feature model (log-odds units). A missing
/// feature contributes 0: each feature is centred on a typical applicant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OddsModel {
    /// Log-odds of a typical applicant with no known features (0.8 -> 69 %).
    pub intercept: f64,
    /// Credit score at which the score term is 0.
    pub score_center: f64,
    /// Per 100 points of credit score above `score_center` (scores clamp to 300..=950).
    pub score_per_100: f64,
    /// Debt-to-income after the loan at which the DTI term is 0.
    pub dti_center: f64,
    /// Per unit of DTI above `dti_center` (DTI clamps to `dti_cap`).
    pub dti_coefficient: f64,
    /// Highest DTI the model reads (an infinite DTI is read as this).
    pub dti_cap: f64,
    /// Per unit of income volatility (coefficient of variation, clamped to 0..=1).
    pub volatility_coefficient: f64,
    /// Per unit of collateral cover (collateral value / principal) above 1,
    /// for offers that need collateral; cover clamps to `0..=collateral_cap`.
    pub collateral_coefficient: f64,
    /// Most collateral cover that still helps.
    pub collateral_cap: f64,
    /// Log-odds for salaried employment.
    pub employed: f64,
    /// Log-odds for self-employment (the reference: 0 by default).
    pub self_employed: f64,
    /// Log-odds for freelancing (income volatility has its own term).
    pub freelance: f64,
    /// Log-odds for students.
    pub student: f64,
    /// Log-odds for retirees (pensions are steady: 0 by default).
    pub retired: f64,
    /// Log-odds for the unemployed.
    pub unemployed: f64,
    /// Weight of the partner's estimate in the blend (`0..=1`; 1 = trust it fully).
    pub partner_weight: f64,
}

impl Default for OddsModel {
    fn default() -> Self {
        Self {
            intercept: 0.8,
            score_center: 650.0,
            score_per_100: 0.9,
            dti_center: 0.35,
            dti_coefficient: -4.0,
            dti_cap: 2.0,
            volatility_coefficient: -1.5,
            collateral_coefficient: 2.0,
            collateral_cap: 1.5,
            employed: 0.3,
            self_employed: 0.0,
            freelance: -0.2,
            student: -0.6,
            retired: 0.0,
            unemployed: -1.5,
            partner_weight: 0.7,
        }
    }
}

impl OddsModel {
    /// The model's log-odds for `applicant` with this loan's DTI and collateral
    /// cover. Missing or non-finite features are neutral (0).
    pub fn log_odds(
        &self,
        applicant: &Applicant,
        debt_to_income: Option<f64>,
        collateral_cover: Option<f64>,
    ) -> f64 {
        let mut z = self.intercept;
        if let Some(score) = applicant.credit_score {
            let score = f64::from(score.clamp(300, 950));
            z += self.score_per_100 * (score - self.score_center) / 100.0;
        }
        if let Some(dti) = debt_to_income.filter(|d| !d.is_nan()) {
            z += self.dti_coefficient * (dti.clamp(0.0, self.dti_cap) - self.dti_center);
        }
        if let Some(v) = applicant.income_volatility.filter(|v| v.is_finite()) {
            z += self.volatility_coefficient * v.clamp(0.0, 1.0);
        }
        if let Some(cover) = collateral_cover.filter(|c| !c.is_nan()) {
            z += self.collateral_coefficient * (cover.clamp(0.0, self.collateral_cap) - 1.0);
        }
        z += match applicant.employment {
            None => 0.0,
            Some(EmploymentType::Employed) => self.employed,
            Some(EmploymentType::SelfEmployed) => self.self_employed,
            Some(EmploymentType::Freelance) => self.freelance,
            Some(EmploymentType::Student) => self.student,
            Some(EmploymentType::Retired) => self.retired,
            Some(EmploymentType::Unemployed) => self.unemployed,
        };
        if z.is_finite() { z } else { 0.0 }
    }

    /// The odds of approval: the model's prior, blended with the partner's
    /// estimate when it is a probability (NaN or out-of-range estimates are
    /// ignored here; pricing rejects such offers before asking).
    pub fn estimate(
        &self,
        applicant: &Applicant,
        debt_to_income: Option<f64>,
        partner_probability: Option<f64>,
        collateral_cover: Option<f64>,
    ) -> OddsEstimate {
        let prior = self.log_odds(applicant, debt_to_income, collateral_cover);
        let partner = partner_probability.filter(|p| (0.0..=1.0).contains(p));
        let weight = if self.partner_weight.is_nan() {
            0.0
        } else {
            self.partner_weight.clamp(0.0, 1.0)
        };
        match partner {
            None => OddsEstimate {
                odds: clamp_odds(logistic(prior)),
                source: OddsSource::Model,
            },
            Some(p) if weight >= 1.0 => OddsEstimate {
                odds: clamp_odds(p),
                source: OddsSource::Partner,
            },
            Some(p) => {
                let z = weight * logit(clamp_odds(p)) + (1.0 - weight) * prior;
                OddsEstimate {
                    odds: clamp_odds(logistic(z)),
                    source: OddsSource::Blended,
                }
            }
        }
    }
}

/// [`OddsModel::estimate`] with the default model.
pub fn estimate_odds(
    applicant: &Applicant,
    debt_to_income: Option<f64>,
    partner_probability: Option<f64>,
    collateral_cover: Option<f64>,
) -> OddsEstimate {
    OddsModel::default().estimate(
        applicant,
        debt_to_income,
        partner_probability,
        collateral_cover,
    )
}

/// Collateral cover of a loan of `principal`: the applicant's unencumbered
/// collateral in the principal's currency over the principal. `None` when
/// the applicant shared no collateral in that currency: unknown, so neutral
/// (an empty list may mean "not shared" as well as "none").
pub(crate) fn collateral_cover(applicant: &Applicant, principal: Money) -> Option<f64> {
    let mut any = false;
    let mut value: i128 = 0;
    for c in &applicant.collateral {
        if c.appraised_value.currency != principal.currency {
            continue;
        }
        any = true;
        if !c.encumbered {
            value += i128::from(c.appraised_value.amount_minor.max(0));
        }
    }
    if !any || principal.amount_minor <= 0 {
        return None;
    }
    Some(value as f64 / principal.amount_minor as f64)
}

/// `odds` moved by `delta` in log-odds space, clamped: how what-if scenarios
/// (a smaller amount, a longer term) carry a feature change over to an
/// estimate that may include the partner's view.
pub(crate) fn shift_odds(odds: f64, delta: f64) -> f64 {
    if !delta.is_finite() {
        return clamp_odds(odds);
    }
    clamp_odds(logistic(logit(clamp_odds(odds)) + delta))
}

/// Clamps to `[MIN_ODDS, MAX_ODDS]`; NaN becomes `MIN_ODDS`.
pub(crate) fn clamp_odds(p: f64) -> f64 {
    if p.is_nan() {
        MIN_ODDS
    } else {
        p.clamp(MIN_ODDS, MAX_ODDS)
    }
}

fn logistic(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

fn logit(p: f64) -> f64 {
    (p / (1.0 - p)).ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn applicant(score: Option<i32>, employment: Option<EmploymentType>) -> Applicant {
        Applicant {
            credit_score: score,
            employment,
            ..Applicant::default()
        }
    }

    #[test]
    fn no_features_gives_the_intercept() {
        let e = estimate_odds(&Applicant::default(), None, None, None);
        assert_eq!(e.source, OddsSource::Model);
        assert!((e.odds - logistic(0.8)).abs() < 1e-12);
    }

    #[test]
    fn features_move_odds_the_right_way() {
        let base = applicant(Some(650), Some(EmploymentType::Employed));
        let good = applicant(Some(800), Some(EmploymentType::Employed));
        let jobless = applicant(Some(650), Some(EmploymentType::Unemployed));
        let o = |a: &Applicant, dti: Option<f64>, cover: Option<f64>| {
            estimate_odds(a, dti, None, cover).odds
        };
        assert!(o(&good, None, None) > o(&base, None, None));
        assert!(o(&jobless, None, None) < o(&base, None, None));
        assert!(o(&base, Some(0.6), None) < o(&base, Some(0.2), None));
        assert!(o(&base, None, Some(1.2)) > o(&base, None, Some(0.0)));
        let volatile = Applicant {
            income_volatility: Some(0.4),
            ..base.clone()
        };
        assert!(o(&volatile, None, None) < o(&base, None, None));
    }

    #[test]
    fn blends_with_partner_in_log_odds() {
        let a = Applicant::default();
        let e = estimate_odds(&a, None, Some(0.9), None);
        assert_eq!(e.source, OddsSource::Blended);
        let expected = logistic(0.7 * logit(0.9) + 0.3 * 0.8);
        assert!((e.odds - expected).abs() < 1e-12);
        let trusting = OddsModel {
            partner_weight: 1.0,
            ..OddsModel::default()
        };
        let e = trusting.estimate(&a, None, Some(0.9), None);
        assert_eq!((e.odds, e.source), (0.9, OddsSource::Partner));
    }

    #[test]
    fn always_inside_the_clamp() {
        let a = applicant(Some(i32::MIN), Some(EmploymentType::Unemployed));
        for (dti, p, cover) in [
            (Some(f64::INFINITY), Some(0.0), Some(0.0)),
            (Some(f64::NAN), Some(1.0), Some(f64::INFINITY)),
            (Some(-5.0), Some(f64::NAN), Some(f64::NAN)),
            (None, Some(7.0), None),
        ] {
            let e = estimate_odds(&a, dti, p, cover);
            assert!((MIN_ODDS..=MAX_ODDS).contains(&e.odds), "{e:?}");
        }
        let strong = applicant(Some(950), Some(EmploymentType::Employed));
        let e = estimate_odds(&strong, Some(0.0), Some(1.0), Some(9.0));
        assert_eq!(e.odds, MAX_ODDS);
    }

    #[test]
    fn shift_moves_in_log_odds() {
        assert!((shift_odds(0.5, 0.0) - 0.5).abs() < 1e-12);
        assert!(shift_odds(0.5, 1.0) > 0.7);
        assert_eq!(shift_odds(0.5, f64::NAN), 0.5);
    }
}
