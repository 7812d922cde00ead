//! Money in integer minor units of one ISO 4217 currency. Never a float:
//! every amount the router shows or stores is an `i64` of fen or cents.

use std::fmt;

/// An ISO 4217 alphabetic currency code: three ASCII upper-case letters.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency([u8; 3]);

/// Why a currency code was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("currency code must be three upper-case letters (ISO 4217)")]
pub struct InvalidCurrency;

impl Currency {
    /// Parses a code such as `"CNY"`.
    pub fn parse(code: &str) -> Result<Self, InvalidCurrency> {
        let b = code.as_bytes();
        if b.len() == 3 && b.iter().all(u8::is_ascii_uppercase) {
            Ok(Self([b[0], b[1], b[2]]))
        } else {
            Err(InvalidCurrency)
        }
    }

    /// The code as a string slice.
    pub fn as_str(&self) -> &str {
        // Constructed only from three ASCII upper-case bytes.
        std::str::from_utf8(&self.0).unwrap_or("???")
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The largest amount, in minor units, that any money field of a request or
/// an offer may carry in either direction: 10^12 (ten billion yuan in fen).
/// Far above any consumer loan, income or collateral, and small enough that
/// a schedule's sums (amount x 600 periods x any rate) never overflow `i64`.
pub const MAX_AMOUNT_MINOR: i64 = 1_000_000_000_000;

/// An amount in minor units (fen, cents) of `currency`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Money {
    /// The ISO 4217 currency.
    pub currency: Currency,
    /// The amount in the currency's minor units (600000 CNY is 6 000.00 yuan).
    pub amount_minor: i64,
}

impl Money {
    /// `amount_minor` minor units of `currency`.
    pub fn new(currency: Currency, amount_minor: i64) -> Self {
        Self {
            currency,
            amount_minor,
        }
    }

    /// Zero in `currency`.
    pub fn zero(currency: Currency) -> Self {
        Self::new(currency, 0)
    }

    /// Formats as major units with two decimals and a thin grouping, e.g. `6 000.00 CNY`.
    /// Assumes two minor digits (CNY, USD, EUR); good enough for human texts.
    pub fn display_major(&self) -> String {
        let sign = if self.amount_minor < 0 { "-" } else { "" };
        let abs = self.amount_minor.unsigned_abs();
        let grouped = group_thousands(abs / 100);
        let minor = abs % 100;
        if minor == 0 {
            format!("{sign}{grouped} {}", self.currency)
        } else {
            format!("{sign}{grouped}.{minor:02} {}", self.currency)
        }
    }
}

/// Formats an amount of minor units as major units with two decimals and a
/// thin grouping, without a currency: `9 000.00`. For messages that know no
/// currency (schedule checks); texts for borrowers use [`Money::display_major`].
pub fn format_major(amount_minor: i64) -> String {
    let sign = if amount_minor < 0 { "-" } else { "" };
    let abs = amount_minor.unsigned_abs();
    format!("{sign}{}.{:02}", group_thousands(abs / 100), abs % 100)
}

/// `1234567` as `1 234 567`.
fn group_thousands(major: u64) -> String {
    let digits = major.to_string();
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(' ');
        }
        grouped.push(ch);
    }
    grouped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn currency_parses_only_iso_shape() {
        assert!(Currency::parse("CNY").is_ok());
        assert!(Currency::parse("cny").is_err());
        assert!(Currency::parse("CN").is_err());
        assert!(Currency::parse("CNYY").is_err());
        assert_eq!(
            Currency::parse("USD").map(|c| c.to_string()),
            Ok("USD".into())
        );
    }

    #[test]
    fn format_major_always_shows_two_decimals() {
        assert_eq!(format_major(900_000), "9 000.00");
        assert_eq!(format_major(-123_456_789), "-1 234 567.89");
        assert_eq!(format_major(5), "0.05");
        assert_eq!(format_major(i64::MIN), "-92 233 720 368 547 758.08");
    }

    #[test]
    fn display_major_groups_thousands() {
        let cny = Currency::parse("CNY").expect("valid code");
        assert_eq!(Money::new(cny, 600_000).display_major(), "6 000 CNY");
        assert_eq!(
            Money::new(cny, 123_456_789).display_major(),
            "1 234 567.89 CNY"
        );
        assert_eq!(Money::new(cny, 5).display_major(), "0.05 CNY");
    }
}
