//! How numbers read in human texts: rates in basis points and odds as
//! percentages.
//!
//! A [`Percent`] is a locale-free number (a value and its decimals); it is
//! what a [`crate::catalog::Message`] carries. Only when a catalog writes it
//! does it get the locale's percent sign ([`Percent::with_suffix`]):
//! English puts a space before `%` ("13.03 %", as the design texts do),
//! Chinese does not ("13.03%"). The sign is part of each locale's catalog
//! (`catalog::percent_suffix`), not of this module.

use std::fmt;

use crate::catalog;
use crate::domain::Locale;

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
