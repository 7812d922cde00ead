//! Approval odds (ranking.md section 2): a feature prior, the partner's own
//! estimate, and what each adapter's outcomes have taught us.
//!
//! - **Prior** ([`OddsModel::log_odds`]): a logistic model over credit score,
//!   debt-to-income after the loan, employment, income volatility and
//!   collateral cover, coefficients from config (`[odds]`).
//! - **Learning** ([`OddsBook::learn`]), per adapter, from its last
//!   [`Learning::window`] final acceptances (newest weigh most: weight
//!   `0.5^(age / half_life)`, age counted in outcomes, so a policy change is
//!   noticed within a bounded number of outcomes, not of days):
//!   1. the partner's *trust*: how well its own estimates matched what it
//!      then decided (debiased squared calibration error over 5 bins; a
//!      partner whose 95 % approve 3 in 10 gets almost none);
//!   2. the *blend*: `a + w_p x logit(partner) + w_m x logit(prior)`, fitted
//!      by ridge-penalised logistic regression whose penalty pulls towards
//!      `(0, w x trust, 1 - w x trust)` (`w` = `partner_weight`): with no
//!      history this is the configured blend, with history the weights are
//!      what the evidence supports (offers without a partner estimate get
//!      `a + b x logit(prior)`, pulled towards `(0, 1)`);
//!   3. per risk band, a **Beta posterior of approvals** whose prior mean is
//!      the blend's own average prediction for that band (strength
//!      [`Learning::band_strength`] pseudo-outcomes): it shifts the band's
//!      odds by `logit(posterior mean) - logit(blend mean)`.
//! - `odds_source` says which dominated: `PARTNER` when the partner's share
//!   of the blend weights is at least 3/4, `MODEL` (our prior and history)
//!   when it is at most 1/4 or there is no partner estimate, else `BLENDED`.
//!
//! The book is rebuilt from the store's outcomes (which keep the prior and
//! the partner's estimate each offer was shown with), so replicas and
//! restarts share it. Every estimate is clamped to `[0.01, 0.99]`: no offer
//! is certain, and no offer is worth ranking as hopeless on a model this coarse.

use std::collections::HashMap;

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
///
/// With the `serde` feature it is the `[odds]` config section's
/// coefficients, under the field names, each defaulting to
/// [`OddsModel::default`]'s. It does not refuse unknown keys itself
/// because the router's `[odds]` flattens it next to [`Learning`]; that
/// section refuses them.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(default)
)]
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

    /// What an estimate is made from: the prior for `applicant` with this
    /// loan's DTI and collateral cover, and the partner's estimate when it
    /// is a probability (NaN or out-of-range estimates are ignored here;
    /// pricing rejects such offers before asking).
    pub fn inputs(
        &self,
        applicant: &Applicant,
        debt_to_income: Option<f64>,
        partner_probability: Option<f64>,
        collateral_cover: Option<f64>,
    ) -> OddsInputs {
        OddsInputs {
            prior: clamp_odds(logistic(self.log_odds(
                applicant,
                debt_to_income,
                collateral_cover,
            ))),
            partner: partner_probability.filter(|p| (0.0..=1.0).contains(p)),
        }
    }

    /// The odds with no history: the prior, blended with the partner's
    /// estimate by `partner_weight` ([`OddsBook::estimate`] on an empty book).
    pub fn estimate(
        &self,
        applicant: &Applicant,
        debt_to_income: Option<f64>,
        partner_probability: Option<f64>,
        collateral_cover: Option<f64>,
    ) -> OddsEstimate {
        let inputs = self.inputs(
            applicant,
            debt_to_income,
            partner_probability,
            collateral_cover,
        );
        OddsBook::empty(self).estimate("", "", inputs)
    }

    /// `partner_weight`, NaN read as 0, clamped to `[0, 1]`.
    fn weight(&self) -> f64 {
        if self.partner_weight.is_nan() {
            0.0
        } else {
            self.partner_weight.clamp(0.0, 1.0)
        }
    }
}

/// What an estimate is made from; stored with each offer so that outcomes
/// can be replayed against what was known when the offer was shown.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct OddsInputs {
    /// The feature prior, in `[MIN_ODDS, MAX_ODDS]`.
    pub prior: f64,
    /// The partner's own estimate, in `[0, 1]`, when it sent one.
    pub partner: Option<f64>,
}

/// How the book learns (config `[odds]`; with the `serde` feature, like
/// [`OddsModel`], keys are the field names with [`Learning::default`]'s
/// values and unknown keys are left to the section that flattens it).
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(default)
)]
pub struct Learning {
    /// Outcomes per adapter read (the newest).
    pub window: usize,
    /// Age, in outcomes, at which an outcome counts half.
    pub half_life: f64,
    /// Ridge penalty pulling the blend weights to their prior (per unit of
    /// squared log-odds; about "this many outcomes' worth" of belief).
    pub ridge: f64,
    /// Pseudo-outcomes behind each band's Beta prior.
    pub band_strength: f64,
    /// Squared calibration error at which a partner's trust halves.
    pub trust_scale: f64,
}

impl Default for Learning {
    fn default() -> Self {
        Self {
            window: 600,
            half_life: 150.0,
            ridge: 2.0,
            band_strength: 100.0,
            trust_scale: 0.01,
        }
    }
}

/// One final acceptance, as the book learns from it.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The channel that made the offer (its config id).
    pub adapter_id: String,
    /// [`risk_band`] of the applicant.
    pub risk_band: String,
    /// ACCEPTED (true) or DECLINED by the partner.
    pub approved: bool,
    /// What the offer's odds were made from.
    pub inputs: OddsInputs,
}

/// What one adapter's outcomes taught.
#[derive(Debug, Clone, PartialEq)]
pub struct AdapterOdds {
    /// Outcomes read (at most the window).
    pub outcomes: usize,
    /// Their weighted approval rate.
    pub approval_rate: f64,
    /// Trust in the partner's own estimates, `(0, 1]` (1 without evidence).
    pub partner_trust: f64,
    /// `(a, w_p, w_m)` for offers with a partner estimate.
    pub with_partner: [f64; 3],
    /// `(a, b)` for offers without one.
    pub model_only: [f64; 2],
    /// Per risk band: the Beta posterior of approvals.
    pub bands: HashMap<String, BandPosterior>,
}

/// A band's Beta posterior and the log-odds shift it implies.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BandPosterior {
    /// Weighted approvals seen, plus the prior's pseudo-approvals
    /// (`band_strength` x the band's predicted mean).
    pub alpha: f64,
    /// Weighted declines seen, plus the prior's pseudo-declines.
    pub beta: f64,
    /// `logit(alpha / (alpha + beta)) - logit(blend mean)`.
    pub shift: f64,
}

/// Learned odds for every adapter with outcomes; adapters without use the
/// configured blend.
#[derive(Debug, Clone, PartialEq)]
pub struct OddsBook {
    default: AdapterOdds,
    adapters: HashMap<String, AdapterOdds>,
}

impl OddsBook {
    /// No history: every adapter gets the configured blend.
    pub fn empty(model: &OddsModel) -> Self {
        Self {
            default: AdapterOdds::unlearned(model.weight()),
            adapters: HashMap::new(),
        }
    }

    /// Learns from `outcomes`, given **newest first**.
    pub fn learn<'a>(
        model: &OddsModel,
        learning: &Learning,
        outcomes: impl IntoIterator<Item = &'a Outcome>,
    ) -> Self {
        let mut by_adapter: HashMap<&str, Vec<&Outcome>> = HashMap::new();
        for o in outcomes {
            let list = by_adapter.entry(o.adapter_id.as_str()).or_default();
            if list.len() < learning.window {
                list.push(o);
            }
        }
        let mut book = Self::empty(model);
        for (adapter, list) in by_adapter {
            let fit = AdapterOdds::learn(model.weight(), learning, &list);
            book.adapters.insert(adapter.to_owned(), fit);
        }
        book
    }

    /// Every adapter with outcomes and what the book learned of it.
    pub fn adapters(&self) -> impl Iterator<Item = (&str, &AdapterOdds)> {
        self.adapters.iter().map(|(id, a)| (id.as_str(), a))
    }

    /// What the book knows of `adapter_id`, if it has outcomes.
    pub fn adapter(&self, adapter_id: &str) -> Option<&AdapterOdds> {
        self.adapters.get(adapter_id)
    }

    /// The odds of an offer from `adapter_id` to an applicant in `risk_band`.
    pub fn estimate(&self, adapter_id: &str, risk_band: &str, inputs: OddsInputs) -> OddsEstimate {
        let fit = self.adapters.get(adapter_id).unwrap_or(&self.default);
        let (z, source) = fit.log_odds(inputs);
        let shift = fit.bands.get(risk_band).map_or(0.0, |b| b.shift);
        let z = z + shift;
        OddsEstimate {
            odds: clamp_odds(if z.is_finite() {
                logistic(z)
            } else {
                logistic(logit(inputs.prior))
            }),
            source,
        }
    }
}

impl AdapterOdds {
    fn unlearned(weight: f64) -> Self {
        Self {
            outcomes: 0,
            approval_rate: f64::NAN,
            partner_trust: 1.0,
            with_partner: [0.0, weight, 1.0 - weight],
            model_only: [0.0, 1.0],
            bands: HashMap::new(),
        }
    }

    /// The blend's log-odds (no band shift) and which part dominated.
    fn log_odds(&self, inputs: OddsInputs) -> (f64, OddsSource) {
        let zm = logit(clamp_odds(inputs.prior));
        match inputs.partner {
            None => {
                let [a, b] = self.model_only;
                (a + b * zm, OddsSource::Model)
            }
            Some(p) => {
                let [a, wp, wm] = self.with_partner;
                let z = a + wp * logit(clamp_odds(p)) + wm * zm;
                let (wp, wm) = (wp.max(0.0), wm.max(0.0));
                let share = if wp + wm > 0.0 { wp / (wp + wm) } else { 0.0 };
                let source = if share >= 0.75 {
                    OddsSource::Partner
                } else if share <= 0.25 {
                    OddsSource::Model
                } else {
                    OddsSource::Blended
                };
                (z, source)
            }
        }
    }

    fn learn(weight: f64, learning: &Learning, newest_first: &[&Outcome]) -> Self {
        let half_life = if learning.half_life > 0.0 {
            learning.half_life
        } else {
            f64::INFINITY
        };
        let weighted: Vec<(f64, &Outcome)> = newest_first
            .iter()
            .enumerate()
            .map(|(age, o)| (0.5f64.powf(age as f64 / half_life), *o))
            .collect();
        let total: f64 = weighted.iter().map(|(w, _)| w).sum();
        let approved: f64 = weighted
            .iter()
            .filter(|(_, o)| o.approved)
            .map(|(w, _)| w)
            .sum();

        let claims: Vec<(f64, f64, bool)> = weighted
            .iter()
            .filter_map(|(w, o)| o.inputs.partner.map(|p| (*w, p, o.approved)))
            .collect();
        let trust = partner_trust(&claims, learning.trust_scale);
        let y = |o: &Outcome| if o.approved { 1.0 } else { 0.0 };
        let zm = |o: &Outcome| logit(clamp_odds(o.inputs.prior));

        let prior_wp = weight * trust;
        let with_rows: Vec<([f64; 3], f64, f64)> = weighted
            .iter()
            .filter_map(|(w, o)| {
                let p = o.inputs.partner?;
                Some(([1.0, logit(clamp_odds(p)), zm(o)], y(o), *w))
            })
            .collect();
        // Each blend is chosen among nested candidates by BIC (in-sample
        // log-loss + ln(n)/2 per fitted parameter): the estimate as it stands, the
        // same shifted by a fitted intercept, and the full fit. Refitting
        // what is already calibrated only adds noise, so the simplest
        // candidate the evidence does not reject wins.
        let with_partner = if with_rows.is_empty() {
            [0.0, weight, 1.0 - weight]
        } else {
            let as_is = [0.0, 1.0, 0.0];
            choose(
                &with_rows,
                [
                    (as_is, 0.0),
                    (
                        ridge_logistic(as_is, [true, false, false], learning.ridge, &with_rows),
                        1.0,
                    ),
                    (
                        ridge_logistic(
                            [0.0, prior_wp, 1.0 - prior_wp],
                            [true; 3],
                            learning.ridge,
                            &with_rows,
                        ),
                        3.0,
                    ),
                ],
            )
        };
        let taken_as_is = !with_rows.is_empty() && with_partner == [0.0, 1.0, 0.0];
        let model_rows: Vec<([f64; 2], f64, f64)> = weighted
            .iter()
            .filter(|(_, o)| o.inputs.partner.is_none())
            .map(|(w, o)| ([1.0, zm(o)], y(o), *w))
            .collect();
        let model_only = if model_rows.is_empty() {
            [0.0, 1.0]
        } else {
            let as_is = [0.0, 1.0];
            choose(
                &model_rows,
                [
                    (as_is, 0.0),
                    (
                        ridge_logistic(as_is, [true, false], learning.ridge, &model_rows),
                        1.0,
                    ),
                    (
                        ridge_logistic(as_is, [true, true], learning.ridge, &model_rows),
                        2.0,
                    ),
                ],
            )
        };

        let mut fit = Self {
            outcomes: newest_first.len(),
            approval_rate: if total > 0.0 {
                approved / total
            } else {
                f64::NAN
            },
            partner_trust: trust,
            with_partner,
            model_only,
            bands: HashMap::new(),
        };
        // Per band: (sum of weights, of weighted predictions, of weighted approvals).
        let mut sums: HashMap<&str, (f64, f64, f64)> = HashMap::new();
        for (w, o) in &weighted {
            if taken_as_is && o.inputs.partner.is_some() {
                // Calibrated estimates are not second-guessed per band.
                continue;
            }
            let predicted = logistic(fit.log_odds(o.inputs).0);
            let s = sums.entry(o.risk_band.as_str()).or_default();
            s.0 += w;
            s.1 += w * predicted;
            s.2 += w * y(o);
        }
        let strength = learning.band_strength.max(0.0);
        for (band, (n, predicted, approvals)) in sums {
            if n <= 0.0 {
                continue;
            }
            let mean = clamp_odds(predicted / n);
            let alpha = strength * mean + approvals;
            let beta = strength * (1.0 - mean) + (n - approvals);
            let posterior = clamp_odds(alpha / (alpha + beta));
            let shift = logit(posterior) - logit(mean);
            if shift.is_finite() {
                fit.bands
                    .insert(band.to_owned(), BandPosterior { alpha, beta, shift });
            }
        }
        fit
    }
}

/// Trust in a partner's estimates from `(weight, estimate, approved)`:
/// `1 / (1 + rel / scale)`, where `rel` is the weighted squared gap between
/// estimate and approval rate over 5 bins of the estimate, each bin's gap
/// less the sampling noise expected of a calibrated partner (so a handful
/// of outcomes does not condemn an honest one).
fn partner_trust(claims: &[(f64, f64, bool)], scale: f64) -> f64 {
    const BINS: usize = 5;
    // Per bin: sum of weights, of squared weights, of weighted estimates, of weighted approvals.
    let mut bins = [(0.0f64, 0.0f64, 0.0f64, 0.0f64); BINS];
    for &(w, p, approved) in claims {
        let b = ((p * BINS as f64) as usize).min(BINS - 1);
        bins[b].0 += w;
        bins[b].1 += w * w;
        bins[b].2 += w * p;
        bins[b].3 += if approved { w } else { 0.0 };
    }
    let total: f64 = bins.iter().map(|b| b.0).sum();
    if total <= 0.0 {
        return 1.0;
    }
    let mut rel = 0.0;
    for (w, w2, wp, wy) in bins {
        if w <= 0.0 {
            continue;
        }
        let estimate = wp / w;
        let rate = wy / w;
        let effective_n = w * w / w2;
        let noise = estimate * (1.0 - estimate) / effective_n;
        rel += (w / total) * ((rate - estimate).powi(2) - noise).max(0.0);
    }
    if scale > 0.0 && rel.is_finite() {
        1.0 / (1.0 + rel / scale)
    } else {
        1.0
    }
}

/// Maximises the weighted log-likelihood of `rows` (features, outcome 0/1,
/// weight) less `ridge / 2 x |theta - start|^2` over the parameters marked
/// `free` (the others stay at `start`) by Newton's method. Returns `start`
/// when there are no rows or the iteration does not settle.
fn ridge_logistic<const K: usize>(
    start: [f64; K],
    free: [bool; K],
    ridge: f64,
    rows: &[([f64; K], f64, f64)],
) -> [f64; K] {
    if rows.is_empty() {
        return start;
    }
    let ridge = if ridge.is_finite() {
        ridge.max(1e-6)
    } else {
        1e-6
    };
    let mut theta = start;
    for _ in 0..50 {
        let mut gradient = [0.0; K];
        let mut hessian = [[0.0; K]; K];
        for k in 0..K {
            gradient[k] = -ridge * (theta[k] - start[k]);
            hessian[k][k] = ridge;
        }
        for (x, y, w) in rows {
            let z: f64 = x.iter().zip(&theta).map(|(a, b)| a * b).sum();
            let p = logistic(z);
            for i in 0..K {
                gradient[i] += w * (y - p) * x[i];
                for j in 0..K {
                    hessian[i][j] += w * p * (1.0 - p) * x[i] * x[j];
                }
            }
        }
        for k in (0..K).filter(|&k| !free[k]) {
            gradient[k] = 0.0;
            hessian[k] = [0.0; K];
            for row in hessian.iter_mut() {
                row[k] = 0.0;
            }
            hessian[k][k] = 1.0;
        }
        let Some(step) = solve(hessian, gradient) else {
            return start;
        };
        let mut largest = 0.0f64;
        for k in 0..K {
            theta[k] += step[k];
            largest = largest.max(step[k].abs());
        }
        if !theta.iter().all(|t| t.is_finite()) {
            return start;
        }
        if largest < 1e-9 {
            return theta;
        }
    }
    theta
}

/// The candidate with the least BIC: log-loss plus `ln(n) / 2` per fitted
/// parameter, `n` the effective number of (weighted) outcomes
/// (`(sum w)^2 / sum w^2`). The weighted log-loss is put on the same scale
/// (times `sum w / sum w^2`, so that its weights add up to `n`): the
/// likelihood and the penalty then count the same outcomes, and the choice
/// does not depend on how the weights are scaled. (Read on the weights'
/// own scale, about half of `n` with the default half-life and window, the
/// evidence was worth half as much as the penalty assumed, and a partner
/// whose estimates were off by a steady 0.03-0.05 kept being taken as it
/// stood.)
fn choose<const K: usize, const N: usize>(
    rows: &[([f64; K], f64, f64)],
    candidates: [([f64; K], f64); N],
) -> [f64; K] {
    let (sum, squares) = rows
        .iter()
        .fold((0.0, 0.0), |(s, q), (_, _, w)| (s + w, q + w * w));
    let (effective_n, scale): (f64, f64) = if squares > 0.0 && sum > 0.0 {
        (sum * sum / squares, sum / squares)
    } else {
        (1.0, 1.0)
    };
    let per_parameter = effective_n.max(1.0).ln() / 2.0;
    let mut best: Option<(f64, [f64; K])> = None;
    for (theta, parameters) in candidates {
        let score = scale * log_loss(rows, &theta) + parameters * per_parameter;
        if score.is_finite() && best.is_none_or(|(b, _)| score < b) {
            best = Some((score, theta));
        }
    }
    best.map_or(candidates[0].0, |(_, theta)| theta)
}

/// Weighted negative log-likelihood of `rows` under `theta`.
fn log_loss<const K: usize>(rows: &[([f64; K], f64, f64)], theta: &[f64; K]) -> f64 {
    rows.iter()
        .map(|(x, y, w)| {
            let z: f64 = x.iter().zip(theta).map(|(a, b)| a * b).sum();
            let p = clamp_odds(logistic(z));
            -w * (y * p.ln() + (1.0 - y) * (1.0 - p).ln())
        })
        .sum()
}

/// Solves `a x = b` (a symmetric positive definite) by Gaussian elimination
/// with partial pivoting; `None` when singular.
fn solve<const K: usize>(mut a: [[f64; K]; K], mut b: [f64; K]) -> Option<[f64; K]> {
    for col in 0..K {
        let pivot = (col..K).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[pivot][col].abs() < 1e-12 {
            return None;
        }
        a.swap(col, pivot);
        b.swap(col, pivot);
        for row in col + 1..K {
            let f = a[row][col] / a[col][col];
            let pivot_row = a[col];
            for (x, p) in a[row][col..].iter_mut().zip(&pivot_row[col..]) {
                *x -= f * p;
            }
            b[row] -= f * b[col];
        }
    }
    let mut x = [0.0; K];
    for row in (0..K).rev() {
        let mut s = b[row];
        for k in row + 1..K {
            s -= a[row][k] * x[k];
        }
        x[row] = s / a[row][row];
    }
    Some(x)
}

/// The applicant's risk band, as outcomes are grouped: a coarse bucket of
/// the credit score (never the score itself).
pub fn risk_band(credit_score: Option<i32>) -> &'static str {
    match credit_score {
        None => "UNSCORED",
        Some(s) if s >= 750 => "A",
        Some(s) if s >= 700 => "B",
        Some(s) if s >= 650 => "C",
        Some(s) if s >= 600 => "D",
        Some(_) => "E",
    }
}

/// Brier score and expected calibration error (10 equal-width bins) of
/// probability forecasts, accumulated one outcome at a time.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Calibration {
    n: u64,
    squared_error: f64,
    /// Per bin: count, sum of forecasts, approvals.
    bins: [(u64, f64, u64); 10],
}

impl Calibration {
    /// Counts forecast `p` (clamped to `[0, 1]`, NaN as 0) of an outcome.
    pub fn add(&mut self, p: f64, approved: bool) {
        let p = if p.is_nan() { 0.0 } else { p.clamp(0.0, 1.0) };
        let y = if approved { 1.0 } else { 0.0 };
        self.n += 1;
        self.squared_error += (p - y).powi(2);
        let bin = &mut self.bins[((p * 10.0) as usize).min(9)];
        bin.0 += 1;
        bin.1 += p;
        bin.2 += u64::from(approved);
    }

    /// Outcomes counted.
    pub fn count(&self) -> u64 {
        self.n
    }

    /// Mean squared error of the forecasts (NaN when empty).
    pub fn brier(&self) -> f64 {
        self.squared_error / self.n as f64
    }

    /// Sum over bins of (bin share) x |mean forecast - approval rate| (NaN when empty).
    pub fn ece(&self) -> f64 {
        if self.n == 0 {
            return f64::NAN;
        }
        let n = self.n as f64;
        self.bins
            .iter()
            .filter(|b| b.0 > 0)
            .map(|&(count, sum, approvals)| {
                let c = count as f64;
                (c / n) * (sum / c - approvals as f64 / c).abs()
            })
            .sum()
    }

    /// Mean forecast and approval rate (NaN when empty).
    pub fn means(&self) -> (f64, f64) {
        let n = self.n as f64;
        let forecast: f64 = self.bins.iter().map(|b| b.1).sum();
        let approvals: u64 = self.bins.iter().map(|b| b.2).sum();
        (forecast / n, approvals as f64 / n)
    }
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
        let e = OddsModel::default().estimate(&Applicant::default(), None, None, None);
        assert_eq!(e.source, OddsSource::Model);
        assert!((e.odds - logistic(0.8)).abs() < 1e-12);
    }

    #[test]
    fn features_move_odds_the_right_way() {
        let base = applicant(Some(650), Some(EmploymentType::Employed));
        let good = applicant(Some(800), Some(EmploymentType::Employed));
        let jobless = applicant(Some(650), Some(EmploymentType::Unemployed));
        let o = |a: &Applicant, dti: Option<f64>, cover: Option<f64>| {
            OddsModel::default().estimate(a, dti, None, cover).odds
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
        let e = OddsModel::default().estimate(&a, None, Some(0.9), None);
        assert_eq!(e.source, OddsSource::Blended);
        let expected = logistic(0.7 * logit(0.9) + 0.3 * 0.8);
        assert!((e.odds - expected).abs() < 1e-12);
        let trusting = OddsModel {
            partner_weight: 1.0,
            ..OddsModel::default()
        };
        let e = trusting.estimate(&a, None, Some(0.9), None);
        assert_eq!(e.source, OddsSource::Partner);
        assert!((e.odds - 0.9).abs() < 1e-12);
    }

    /// `n` outcomes for `adapter` in band "C" with prior 0.7, the partner
    /// claiming `claim`, approved when `approve(i)`; newest first.
    fn history(
        adapter: &str,
        n: usize,
        claim: Option<f64>,
        approve: impl Fn(usize) -> bool,
    ) -> Vec<Outcome> {
        (0..n)
            .map(|i| Outcome {
                adapter_id: adapter.into(),
                risk_band: "C".into(),
                approved: approve(i),
                inputs: OddsInputs {
                    prior: 0.7,
                    partner: claim,
                },
            })
            .collect()
    }

    fn shown(book: &OddsBook, adapter: &str, claim: Option<f64>) -> OddsEstimate {
        book.estimate(
            adapter,
            "C",
            OddsInputs {
                prior: 0.7,
                partner: claim,
            },
        )
    }

    #[test]
    fn an_over_claiming_partner_is_learned_and_loses_trust() {
        // Claims 95 %, approves 3 in 10: after 40 outcomes.
        let mut outcomes = history("bold", 40, Some(0.95), |i| i % 10 < 3);
        outcomes.extend(history("honest", 40, Some(0.6), |i| i % 10 < 6));
        let model = OddsModel::default();
        let book = OddsBook::learn(&model, &Learning::default(), &outcomes);
        let bold = shown(&book, "bold", Some(0.95));
        let honest = shown(&book, "honest", Some(0.6));
        assert!(bold.odds <= 0.40, "{bold:?}");
        assert_eq!(bold.source, OddsSource::Model);
        assert!(book.adapter("bold").is_some_and(|a| a.partner_trust < 0.05));
        assert!((0.5..=0.7).contains(&honest.odds), "{honest:?}");
        assert!(
            book.adapter("honest")
                .is_some_and(|a| a.partner_trust > 0.9)
        );
        // Before any outcome both were shown their blend with the prior.
        let empty = OddsBook::empty(&model);
        assert!(shown(&empty, "bold", Some(0.95)).odds > 0.85);
    }

    #[test]
    fn without_history_or_partner_estimate_the_prior_stands() {
        let book = OddsBook::learn(
            &OddsModel::default(),
            &Learning::default(),
            &history("a", 50, Some(0.9), |_| true),
        );
        let other = shown(&book, "unknown", None);
        assert!((other.odds - 0.7).abs() < 1e-12);
        assert_eq!(other.source, OddsSource::Model);
    }

    #[test]
    fn a_policy_change_is_noticed_within_the_window() {
        // Newest first: the last 300 (two half-lives) all declined, the 300
        // before approved: three quarters of the weight says "declines".
        let learning = Learning::default();
        let outcomes = history("bank", 600, None, |i| i >= 300);
        let book = OddsBook::learn(&OddsModel::default(), &learning, &outcomes);
        let after = shown(&book, "bank", None).odds;
        assert!((0.15..0.35).contains(&after), "{after}");
        // Outcomes beyond the window are not read.
        let mut old = history("bank", 600, None, |_| false);
        old.extend(history("bank", 600, None, |_| true));
        let book = OddsBook::learn(&OddsModel::default(), &learning, &old);
        assert_eq!(book.adapter("bank").map(|a| a.outcomes), Some(600));
        assert!(shown(&book, "bank", None).odds <= 0.02);
    }

    #[test]
    fn bands_learn_their_own_rate() {
        let mut outcomes = Vec::new();
        for i in 0..200 {
            let band = if i % 2 == 0 { "A" } else { "E" };
            outcomes.push(Outcome {
                adapter_id: "bank".into(),
                risk_band: band.into(),
                approved: band == "A" && i % 4 != 0 || band == "E" && i % 10 == 1,
                inputs: OddsInputs {
                    prior: 0.6,
                    partner: None,
                },
            });
        }
        // A weak band prior, so that 100 outcomes per band carry it.
        let learning = Learning {
            band_strength: 10.0,
            ..Learning::default()
        };
        let book = OddsBook::learn(&OddsModel::default(), &learning, &outcomes);
        let at = |band: &str| {
            let inputs = OddsInputs {
                prior: 0.6,
                partner: None,
            };
            book.estimate("bank", band, inputs).odds
        };
        // A: 50 of 100 approved... (i % 4 != 0 among even i: half); E: 1 in 5.
        assert!((at("A") - 0.5).abs() < 0.08, "{}", at("A"));
        assert!((at("E") - 0.2).abs() < 0.08, "{}", at("E"));
        // An unseen band gets the adapter's blend.
        assert!(at("B") > at("E") && at("B") < at("A"));
    }

    #[test]
    fn ridge_logistic_recovers_known_coefficients() {
        // Deterministic pseudo-random features; y drawn from a known rule.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let truth = [-0.5, 1.2, 0.4];
        let rows: Vec<([f64; 3], f64, f64)> = (0..20_000)
            .map(|_| {
                let x = [1.0, next() * 4.0 - 2.0, next() * 4.0 - 2.0];
                let z: f64 = x.iter().zip(&truth).map(|(a, b)| a * b).sum();
                let y = if next() < logistic(z) { 1.0 } else { 0.0 };
                (x, y, 1.0)
            })
            .collect();
        let fit = ridge_logistic([0.0, 0.0, 0.0], [true; 3], 1.0, &rows);
        for (f, t) in fit.iter().zip(truth) {
            assert!((f - t).abs() < 0.08, "{fit:?}");
        }
        assert_eq!(ridge_logistic([0.3, 0.7], [true; 2], 1.0, &[]), [0.3, 0.7]);
        // A fixed parameter stays put; the free one absorbs the rest.
        let fit = ridge_logistic([0.0, 0.0, 0.0], [true, true, false], 1.0, &rows);
        assert_eq!(fit[2], 0.0);
    }

    #[test]
    fn model_choice_does_not_depend_on_the_weights_scale() {
        // 400 outcomes at prior 0.7, 240 approved (60 %): a shift the
        // evidence supports whatever the weights' scale.
        let rows = |w: f64| -> Vec<([f64; 2], f64, f64)> {
            (0..400)
                .map(|i| ([1.0, logit(0.7)], if i % 200 < 120 { 1.0 } else { 0.0 }, w))
                .collect()
        };
        let pick = |rows: &[([f64; 2], f64, f64)]| {
            choose(
                rows,
                [
                    ([0.0, 1.0], 0.0),
                    (ridge_logistic([0.0, 1.0], [true, false], 2.0, rows), 1.0),
                ],
            )
        };
        let full = pick(&rows(1.0));
        assert!(full[0] < -0.1, "{full:?}");
        for w in [0.5, 0.25, 4.0] {
            // The same choice (the fit itself moves a little: the ridge
            // weighs more against lighter rows).
            let scaled = pick(&rows(w));
            assert!(
                (scaled[0] - full[0]).abs() < 0.05,
                "{w}: {scaled:?} vs {full:?}"
            );
        }
        // Calibrated outcomes (70 %) keep the estimate as it stands.
        let calibrated: Vec<([f64; 2], f64, f64)> = (0..400)
            .map(|i| ([1.0, logit(0.7)], if i % 10 < 7 { 1.0 } else { 0.0 }, 0.5))
            .collect();
        assert_eq!(pick(&calibrated), [0.0, 1.0]);
    }

    #[test]
    fn a_steady_gap_without_partner_estimates_is_learned() {
        // Exponential weights (half-life 150 over 600 outcomes) sum to
        // about half the effective count: the gap (prior 0.7, 63 % approved,
        // spread evenly over the window) must still be taken, not read as noise.
        let outcomes = history("coop", 600, None, |i| (i * 37) % 100 < 63);
        let book = OddsBook::learn(&OddsModel::default(), &Learning::default(), &outcomes);
        let fit = book.adapter("coop").map(|a| a.model_only);
        assert!(fit.is_some_and(|m| m != [0.0, 1.0]), "{fit:?}");
        let odds = shown(&book, "coop", None).odds;
        assert!((odds - 0.63).abs() < 0.03, "{odds}");
    }

    proptest::proptest! {
        /// Whatever the history, the learned odds stay finite and inside
        /// the clamp, and learning never panics.
        #[test]
        fn learned_odds_stay_bounded(
            history in proptest::collection::vec(
                (0u8..3, 0u8..3, proptest::bool::ANY, 0.0f64..=1.0, proptest::option::of(0.0f64..=1.0)),
                0..300,
            ),
            prior in 0.0f64..=1.0,
            partner in proptest::option::of(0.0f64..=1.0),
        ) {
            let outcomes: Vec<Outcome> = history
                .iter()
                .map(|&(adapter, band, approved, prior, partner)| Outcome {
                    adapter_id: format!("a{adapter}"),
                    risk_band: format!("b{band}"),
                    approved,
                    inputs: OddsInputs { prior, partner },
                })
                .collect();
            let book = OddsBook::learn(&OddsModel::default(), &Learning::default(), &outcomes);
            for adapter in ["a0", "a1", "a2", "new"] {
                for band in ["b0", "b1", "b2", "new"] {
                    let e = book.estimate(adapter, band, OddsInputs { prior, partner });
                    proptest::prop_assert!((MIN_ODDS..=MAX_ODDS).contains(&e.odds), "{e:?}");
                }
            }
        }
    }

    #[test]
    fn risk_bands_are_coarse() {
        assert_eq!(risk_band(None), "UNSCORED");
        assert_eq!(risk_band(Some(800)), "A");
        assert_eq!(risk_band(Some(700)), "B");
        assert_eq!(risk_band(Some(640)), "D");
        assert_eq!(risk_band(Some(300)), "E");
    }

    #[test]
    fn calibration_metrics() {
        let mut c = Calibration::default();
        assert!(c.brier().is_nan() && c.ece().is_nan());
        // Forecast 0.8 four times, 3 approved: bin gap 0.05.
        for approved in [true, true, true, false] {
            c.add(0.8, approved);
        }
        assert!((c.ece() - 0.05).abs() < 1e-12);
        assert!((c.brier() - (3.0 * 0.04 + 0.64) / 4.0).abs() < 1e-12);
        assert_eq!(c.count(), 4);
        c.add(f64::NAN, false);
        assert!((c.means().1 - 0.6).abs() < 1e-12);
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
            let e = OddsModel::default().estimate(&a, dti, p, cover);
            assert!((MIN_ODDS..=MAX_ODDS).contains(&e.odds), "{e:?}");
        }
        let strong = applicant(Some(950), Some(EmploymentType::Employed));
        let e = OddsModel::default().estimate(&strong, Some(0.0), Some(1.0), Some(9.0));
        assert_eq!(e.odds, MAX_ODDS);
    }

    #[test]
    fn shift_moves_in_log_odds() {
        assert!((shift_odds(0.5, 0.0) - 0.5).abs() < 1e-12);
        assert!(shift_odds(0.5, 1.0) > 0.7);
        assert_eq!(shift_odds(0.5, f64::NAN), 0.5);
    }
}
