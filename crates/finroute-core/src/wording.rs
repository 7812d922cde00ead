//! How numbers read in human texts: rates in basis points and odds as
//! percentages.
//!
//! A [`Percent`] is a locale-free number (a value and its decimals); it is
//! what a [`crate::catalog::Message`] carries. Only when a catalog writes it
//! does it get the locale's percent sign ([`Percent::with_suffix`]):
//! English puts a space before `%` ("13.03 %", as the design texts do),
//! Chinese does not ("13.03%"). The sign is part of each locale's catalog
//! (`catalog::percent_suffix`), not of this module.
//!
//! The disclosure texts (rate labels, cost lines, key facts) are public
//! here so that pricing and the server write them the same way:
//! [`apr_label`], [`ear_label`], [`rate_labels`], [`cost_line_text`] and
//! [`fact_text`] for any [`Fact`].

use std::fmt;

use crate::catalog;
pub use crate::catalog::Fact;
use crate::disclosure::{CostLine, RateLabels};
use crate::domain::Locale;

/// The comprehensive APR with how it is computed, in `locale`:
/// "APR (12 × monthly IRR) 29.41 %" or "年化利率（单利）29.41%".
pub fn apr_label(bps: i32, locale: Locale) -> String {
    fact_text(&Fact::AprLabel { apr_bps: bps }, locale)
}

/// The effective annual rate with how it is computed, in `locale`:
/// "effective annual rate 33.52 %" or "年化利率（复利，IRR）33.52%".
pub fn ear_label(bps: i32, locale: Locale) -> String {
    fact_text(&Fact::EarLabel { ear_bps: bps }, locale)
}

/// Both labels of an offer's rates, in `locale`.
pub fn rate_labels(apr_bps: i32, ear_bps: i32, locale: Locale) -> RateLabels {
    RateLabels {
        apr: apr_label(apr_bps, locale),
        effective_annual_rate: ear_label(ear_bps, locale),
    }
}

/// One cost line in plain words, in `locale`, from its numbers (its
/// `text` is not read): "interest 13.00 %", "guarantee fee (Example
/// Guarantee Co.) +16.53 %"; a declinable line is marked optional ("可选").
pub fn cost_line_text(line: &CostLine, locale: Locale) -> String {
    fact_text(&Fact::CostLine(line), locale)
}

/// Any disclosure text in `locale`.
pub fn fact_text(fact: &Fact<'_>, locale: Locale) -> String {
    catalog::render_fact(fact, locale)
}

/// A percentage ready to be written into a text, without an intermediate
/// `String` (ranking writes several per offer). Locale-free: see
/// [`Percent::with_suffix`] and [`Percent::in_locale`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Percent {
    /// In units of `10^-decimals` percent.
    value: i64,
    decimals: u8,
}

impl Percent {
    /// A rate in basis points as a percentage with two decimals (`13.03`).
    /// Fractions of a basis point are rounded; non-finite values read as 0.
    pub(crate) fn rate(bps: f64) -> Self {
        let value = if bps.is_finite() {
            bps.round().clamp(i64::MIN as f64, i64::MAX as f64) as i64
        } else {
            0
        };
        Self { value, decimals: 2 }
    }

    /// [`Percent::rate`] for whole basis points.
    pub(crate) fn rate_bps(bps: i32) -> Self {
        Self {
            value: i64::from(bps),
            decimals: 2,
        }
    }

    /// A probability as a whole percentage (`85`). Never shows 100 for a
    /// probability below 1, nor 0 for one above 0.
    pub(crate) fn odds(p: f64) -> Self {
        let p = if p.is_nan() { 0.0 } else { p.clamp(0.0, 1.0) };
        let mut value = (p * 100.0).round() as i64;
        if p < 1.0 {
            value = value.min(99);
        }
        if p > 0.0 {
            value = value.max(1);
        }
        Self { value, decimals: 0 }
    }

    /// The percentage followed by `suffix` (a locale's percent sign), as `Display`.
    pub(crate) fn with_suffix(self, suffix: &'static str) -> ShownPercent {
        ShownPercent {
            percent: self,
            suffix,
        }
    }

    /// The percentage with `locale`'s percent sign, as `Display`.
    pub(crate) fn in_locale(self, locale: Locale) -> ShownPercent {
        self.with_suffix(catalog::percent_suffix(locale))
    }
}

/// A [`Percent`] with its percent sign: writes `13.03 %` or `13.03%`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ShownPercent {
    percent: Percent,
    suffix: &'static str,
}

impl fmt::Display for ShownPercent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Percent { value, decimals } = self.percent;
        let suffix = self.suffix;
        let sign = if value < 0 { "-" } else { "" };
        let abs = value.unsigned_abs();
        if decimals == 0 {
            write!(f, "{sign}{abs}{suffix}")
        } else {
            let scale = 10u64.pow(u32::from(decimals));
            let width = usize::from(decimals);
            write!(f, "{sign}{}.{:0width$}{suffix}", abs / scale, abs % scale)
        }
    }
}

/// [`Percent::rate`] in `locale`: `13.03 %`. (Texts go through the
/// catalogs; only the tests write a fractional rate directly.)
#[cfg(test)]
pub(crate) fn rate(bps: f64, locale: Locale) -> ShownPercent {
    Percent::rate(bps).in_locale(locale)
}

/// [`Percent::rate_bps`] in `locale`.
pub(crate) fn rate_bps(bps: i32, locale: Locale) -> ShownPercent {
    Percent::rate_bps(bps).in_locale(locale)
}

/// [`Percent::odds`] in `locale`: `85 %`.
pub(crate) fn odds(p: f64, locale: Locale) -> ShownPercent {
    Percent::odds(p).in_locale(locale)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::disclosure::{ChargeKind, ChargeTiming, PartyRole, Promotion};
    use crate::domain::RepaymentMethod;
    use crate::money::{Currency, Money};

    fn cny(minor: i64) -> Money {
        Money::new(Currency::parse("CNY").expect("valid code"), minor)
    }

    fn line(kind: ChargeKind, payee: &str, share: i32, declinable: bool) -> CostLine {
        CostLine {
            kind,
            payee: PartyRole::Guarantor,
            payee_name: payee.into(),
            timing: Some(ChargeTiming::PerPeriodAmount),
            total: cny(165_300),
            apr_share_bps: share,
            declinable,
            text: "ignored".into(),
        }
    }

    #[test]
    fn rate_labels_name_their_method_in_each_locale() {
        assert_eq!(
            apr_label(2941, Locale::En),
            "APR (12 × monthly IRR) 29.41 %"
        );
        assert_eq!(ear_label(3352, Locale::En), "effective annual rate 33.52 %");
        assert_eq!(apr_label(2941, Locale::ZhCn), "年化利率（单利）29.41%");
        assert_eq!(ear_label(3352, Locale::ZhCn), "年化利率（复利，IRR）33.52%");
        let l = rate_labels(1303, 1384, Locale::ZhCn);
        assert!(l.apr.contains("13.03%") && l.effective_annual_rate.contains("13.84%"));
    }

    #[test]
    fn cost_lines_in_each_locale() {
        let interest = line(ChargeKind::Interest, "", 1300, false);
        assert_eq!(cost_line_text(&interest, Locale::En), "interest 13.00 %");
        assert_eq!(cost_line_text(&interest, Locale::ZhCn), "利息 13.00%");
        let fee = line(
            ChargeKind::GuaranteeFee,
            "Example Guarantee Co.",
            1653,
            false,
        );
        assert_eq!(
            cost_line_text(&fee, Locale::En),
            "guarantee fee (Example Guarantee Co.) +16.53 %"
        );
        assert_eq!(
            cost_line_text(&fee, Locale::ZhCn),
            "担保费（Example Guarantee Co.）+16.53%"
        );
        let optional = line(ChargeKind::Membership, "", 200, true);
        assert_eq!(
            cost_line_text(&optional, Locale::En),
            "membership package +2.00 % if taken (optional)"
        );
        assert_eq!(
            cost_line_text(&optional, Locale::ZhCn),
            "会员权益费+2.00%（可选）"
        );
    }

    /// Every key-facts line in both locales: the numbers and names it
    /// carries appear in each, amounts with two decimals and the currency.
    #[test]
    fn key_facts_lines_in_each_locale() {
        let fee = line(ChargeKind::ServiceFee, "Example Platform Ltd.", 155, false);
        let promo = Promotion {
            interest_free_days: 30,
            discounted_rate_bps: 900,
            discounted_periods: 3,
            waived_charges: vec![ChargeKind::ServiceFee],
            waiver_periods: 2,
            description: "spring offer".into(),
            ..Promotion::default()
        };
        // 2026-12-13 09:05 UTC.
        let at = 1_797_152_700_000;
        let cases: Vec<(Fact<'_>, Vec<&str>)> = vec![
            (Fact::Title { offer_id: "off_1" }, vec!["off_1"]),
            (Fact::Product { name: "Car loan" }, vec!["Car loan"]),
            (
                Fact::Party {
                    role: PartyRole::Lender,
                    legal_name: "Example Bank",
                    registration_id: "91310000XX",
                    contact: "95555",
                },
                vec!["Example Bank", "91310000XX", "95555"],
            ),
            (Fact::NoLender, vec![]),
            (Fact::Principal(cny(1_000_000)), vec!["10 000.00 CNY"]),
            (Fact::Disbursed(cny(995_050)), vec!["9 950.50 CNY"]),
            (Fact::Term { months: 12 }, vec!["12"]),
            (Fact::Method(RepaymentMethod::EqualInstallment), vec![]),
            (
                Fact::Payments {
                    count: 12,
                    first: cny(87_300),
                    last: cny(87_295),
                },
                vec!["12", "873.00 CNY", "872.95 CNY"],
            ),
            (Fact::TotalRepaid(cny(1_047_600)), vec!["10 476.00 CNY"]),
            (
                Fact::Cost { line: &fee },
                vec!["Example Platform Ltd.", "1.55", "1 653.00 CNY"],
            ),
            (Fact::TotalCost(cny(52_550)), vec!["525.50 CNY"]),
            (
                Fact::Promotion(&promo),
                vec!["30", "9.00", "3", "2", "spring offer"],
            ),
            (
                Fact::PromotionEnds { at },
                vec!["2026", "12", "13", "09:05"],
            ),
            (Fact::PostPromotionRate { rate_bps: 1800 }, vec!["18.00"]),
            (Fact::ValidUntil { at }, vec!["2026", "09:05"]),
            (
                Fact::Complaints {
                    lender: Some(("Example Bank", "95555")),
                    platform: Some(("Example Platform", "400-000")),
                },
                vec!["Example Bank", "95555", "Example Platform", "400-000"],
            ),
            (
                Fact::Complaints {
                    lender: None,
                    platform: None,
                },
                vec![],
            ),
            (Fact::Disclosure { text: "Read me" }, vec!["Read me"]),
        ];
        let cjk = |c: char| matches!(c, '\u{4E00}'..='\u{9FFF}');
        for (fact, args) in cases {
            let en = fact_text(&fact, Locale::En);
            let zh = fact_text(&fact, Locale::ZhCn);
            assert!(!en.chars().any(cjk), "{en}");
            assert!(zh.chars().any(cjk), "{zh}");
            assert!(!zh.contains(" %"), "{zh}");
            for a in args {
                assert!(en.contains(a), "{a:?} missing in {en}");
                assert!(zh.contains(a), "{a:?} missing in {zh}");
            }
        }
        assert!(
            fact_text(
                &Fact::Complaints {
                    lender: None,
                    platform: None
                },
                Locale::En
            )
            .contains("FileAppeal")
        );
        assert!(
            fact_text(
                &Fact::Complaints {
                    lender: None,
                    platform: None
                },
                Locale::ZhCn
            )
            .contains("可通过申诉渠道提出申诉")
        );
        assert_eq!(
            fact_text(&Fact::ValidUntil { at }, Locale::En),
            "Valid until: 2026-12-13 09:05 UTC"
        );
        assert_eq!(
            fact_text(&Fact::ValidUntil { at: 0 }, Locale::ZhCn),
            "有效期至：1970年1月1日 00:00（协调世界时）"
        );
    }

    #[test]
    fn rates_and_odds_per_locale() {
        assert_eq!(rate_bps(1303, Locale::En).to_string(), "13.03 %");
        assert_eq!(rate_bps(1303, Locale::ZhCn).to_string(), "13.03%");
        assert_eq!(rate(-50.0, Locale::En).to_string(), "-0.50 %");
        assert_eq!(rate(1357.89, Locale::En).to_string(), "13.58 %");
        assert_eq!(rate(f64::NAN, Locale::En).to_string(), "0.00 %");
        assert_eq!(rate_bps(i32::MIN, Locale::En).to_string(), "-21474836.48 %");
        assert_eq!(odds(0.854, Locale::En).to_string(), "85 %");
        assert_eq!(odds(0.8, Locale::ZhCn).to_string(), "80%");
        assert_eq!(odds(0.998, Locale::En).to_string(), "99 %");
        assert_eq!(odds(0.001, Locale::En).to_string(), "1 %");
        assert_eq!(odds(1.0, Locale::En).to_string(), "100 %");
        assert_eq!(odds(f64::NAN, Locale::En).to_string(), "0 %");
    }
}
