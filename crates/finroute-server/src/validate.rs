//! Checks of the router's own request fields that the wire conversions do
//! not cover (ids of AcceptOffer, FileAppeal, ResolveAppeal, GetApplication
//! and GetAppeal; free text), each failure a field violation naming the
//! field. The rules themselves are `finroute_core::text`'s.

use finroute_adapters::convert as c;
use finroute_core::text;

use crate::error::RouterError;

/// Longest free text an applicant or operator may attach.
pub(crate) const MAX_TEXT: usize = 2_000;

pub(crate) fn violation(field: &str, description: &str) -> RouterError {
    RouterError::Invalid(vec![c::Violation {
        field: field.into(),
        description: description.into(),
    }])
}

/// Checks a required id field: 1..=128 bytes of visible ASCII
/// (`finroute_core::text::check_id`).
pub(crate) fn check_id(violations: &mut Vec<c::Violation>, field: &str, value: &str) {
    if let Err(e) = text::check_id(value, c::MAX_ID_LEN) {
        violations.push(c::Violation {
            field: field.into(),
            description: e.to_string(),
        });
    }
}

/// Checks an optional id field: empty, or as [`check_id`].
pub(crate) fn check_optional_id(violations: &mut Vec<c::Violation>, field: &str, value: &str) {
    if !value.is_empty() {
        check_id(violations, field, value);
    }
}

/// Checks a caller's free text: at most [`MAX_TEXT`] characters, no
/// control characters but newlines and tabs.
pub(crate) fn check_text(violations: &mut Vec<c::Violation>, field: &str, value: &str) {
    let problem = if value.chars().count() > MAX_TEXT {
        Some(format!("at most {MAX_TEXT} characters"))
    } else {
        text::check_text(value, usize::MAX)
            .err()
            .map(|e| e.to_string())
    };
    if let Some(description) = problem {
        violations.push(c::Violation {
            field: field.into(),
            description,
        });
    }
}
