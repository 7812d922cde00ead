//! Untrusted text: the one place that decides what a string from a partner
//! or a caller may contain before the router keeps, logs or echoes it.
//!
//! Two kinds of text come in:
//!
//! - **Identifiers** (applicant, request, offer, application and appeal ids,
//!   idempotency keys, consent recipients and versions, partner references).
//!   They are compared, stored as keys and written into logs, so they are
//!   checked, never altered: [`check_id`] accepts 1..=[`MAX_ID_LEN`] bytes of
//!   visible ASCII (`!` to `~`, no space). Both store backends then hold the
//!   same bytes (PostgreSQL refuses NUL in text; SQLite would keep it).
//! - **Free text** (decline reasons, partner error messages, product names,
//!   disclosures, a caller's appeal details). From a partner it is
//!   [`clean`]ed: unsafe characters removed and the rest cut on a character
//!   boundary, because one partner's bad text must never fail a routing call.
//!   From a caller it is checked by [`check_text`], so the caller learns
//!   which field to fix.
//!
//! Unsafe characters ([`is_unsafe`]) are the C0 and C1 controls and DEL
//! (NUL and ANSI escapes among them), the bidirectional embeddings,
//! overrides and isolates that can reorder what a reviewer reads
//! (U+202A..=U+202E, U+2066..=U+2069), the invisible marks and separators
//! (U+200B..=U+200F, U+2028, U+2029, U+FEFF) and the non-characters
//! U+FFFE/U+FFFF.

/// Longest identifier accepted, in bytes.
pub const MAX_ID_LEN: usize = 128;

/// Appended when [`clean`] cut the text.
pub const ELLIPSIS: char = '…';

/// Whether `c` is never kept from untrusted text (see the module doc).
pub fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{200B}'..='\u{200F}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2066}'..='\u{2069}'
                | '\u{FEFF}'
                | '\u{FFFE}'
                | '\u{FFFF}'
        )
}

/// `s` with unsafe characters dropped (a tab, newline or carriage return
/// becomes a space, so words stay apart), leading and trailing whitespace
/// trimmed, and at most `max_bytes` bytes long: text that does not fit is
/// cut on a character boundary and ends with [`ELLIPSIS`] (which counts
/// towards `max_bytes`). Never panics, whatever `s` and `max_bytes` are.
pub fn clean(s: &str, max_bytes: usize) -> String {
    let filtered: String = s
        .chars()
        .filter_map(|c| match c {
            '\t' | '\n' | '\r' => Some(' '),
            c if is_unsafe(c) => None,
            c => Some(c),
        })
        .collect();
    let mut out = filtered.trim().to_owned();
    if out.len() <= max_bytes {
        return out;
    }
    // Cut on a character boundary, leaving room for the ellipsis.
    let mut end = max_bytes.saturating_sub(ELLIPSIS.len_utf8());
    while !out.is_char_boundary(end) {
        end -= 1;
    }
    out.truncate(end);
    let kept = out.trim_end().len();
    out.truncate(kept);
    if max_bytes >= ELLIPSIS.len_utf8() {
        out.push(ELLIPSIS);
    }
    out
}

/// What is wrong with an identifier or a caller's text. The `Display` text
/// is written for the field violation that names the field; it never
/// quotes the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    /// Empty where a value is required.
    #[error("required")]
    Empty,
    /// Longer than allowed.
    #[error("at most {0} bytes")]
    TooLong(usize),
    /// An identifier with a byte outside visible ASCII.
    #[error("visible ASCII only (no spaces, control characters or non-ASCII letters)")]
    NotVisibleAscii,
    /// Free text with a control character, an escape or a bidi override.
    #[error("must not contain control characters, escapes, bidi overrides or invisible marks")]
    UnsafeCharacter,
}

/// Checks a required identifier: 1..=`max_bytes` bytes of visible ASCII.
pub fn check_id(s: &str, max_bytes: usize) -> Result<(), TextError> {
    if s.is_empty() {
        return Err(TextError::Empty);
    }
    check_optional_id(s, max_bytes)
}

/// Checks an optional identifier: empty, or as [`check_id`].
pub fn check_optional_id(s: &str, max_bytes: usize) -> Result<(), TextError> {
    if s.len() > max_bytes {
        return Err(TextError::TooLong(max_bytes));
    }
    if !s.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(TextError::NotVisibleAscii);
    }
    Ok(())
}

/// Checks a caller's free text: at most `max_bytes` bytes, no unsafe
/// character except newlines and tabs (a note may have paragraphs).
pub fn check_text(s: &str, max_bytes: usize) -> Result<(), TextError> {
    if s.len() > max_bytes {
        return Err(TextError::TooLong(max_bytes));
    }
    if s.chars().any(|c| is_unsafe(c) && !matches!(c, '\n' | '\t')) {
        return Err(TextError::UnsafeCharacter);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn cuts_multibyte_text_on_a_character_boundary() {
        // The partner message that used to panic: 3-byte characters past 200 bytes.
        let s = "合作方系统繁忙，请稍后再试".repeat(10);
        let c = clean(&s, 200);
        assert!(c.len() <= 200, "{}", c.len());
        assert!(c.ends_with(ELLIPSIS));
        assert!(s.starts_with(c.trim_end_matches(ELLIPSIS)));
    }

    #[test]
    fn strips_controls_escapes_and_bidi() {
        assert_eq!(clean("a\u{0}b\u{1b}[31mc", 100), "ab[31mc");
        assert_eq!(clean("evil\u{202E}txt.exe", 100), "eviltxt.exe");
        assert_eq!(clean("line\none\ttwo", 100), "line one two");
        assert_eq!(clean("\u{200B}\u{FEFF}x\u{2066}", 100), "x");
        assert_eq!(clean("  padded  ", 100), "padded");
        assert_eq!(clean("", 0), "");
        assert_eq!(clean("abc", 0), "");
        assert_eq!(clean("abcd", 3), "…");
        assert_eq!(clean("abcd", 2), "");
        assert_eq!(clean("abcd", 4), "abcd");
        assert_eq!(clean("abcde", 4), "a…");
    }

    #[test]
    fn ids_are_visible_ascii() {
        assert_eq!(check_id("app-7f3a9c", MAX_ID_LEN), Ok(()));
        assert_eq!(check_id("", MAX_ID_LEN), Err(TextError::Empty));
        assert_eq!(check_optional_id("", MAX_ID_LEN), Ok(()));
        for bad in ["a\0b", "a b", "a\u{1b}[0m", "申请人", "x\u{202E}", "tab\t"] {
            assert_eq!(
                check_id(bad, MAX_ID_LEN),
                Err(TextError::NotVisibleAscii),
                "{bad:?}"
            );
        }
        assert_eq!(
            check_id(&"a".repeat(129), MAX_ID_LEN),
            Err(TextError::TooLong(128))
        );
    }

    #[test]
    fn caller_text_keeps_newlines_and_refuses_controls() {
        assert_eq!(check_text("新工作\n自三月起", 100), Ok(()));
        assert_eq!(check_text("a\0", 100), Err(TextError::UnsafeCharacter));
        assert_eq!(
            check_text("\u{1b}[2J", 100),
            Err(TextError::UnsafeCharacter)
        );
        assert_eq!(check_text("\u{202E}", 100), Err(TextError::UnsafeCharacter));
        assert_eq!(check_text("abc", 2), Err(TextError::TooLong(2)));
    }

    #[test]
    fn messages_never_quote_the_value() {
        for e in [
            TextError::Empty,
            TextError::TooLong(9),
            TextError::NotVisibleAscii,
            TextError::UnsafeCharacter,
        ] {
            assert!(!e.to_string().contains("secret"));
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Whatever the text and the limit: no panic, within the limit,
        /// nothing unsafe kept, and what is kept is the input's own text in
        /// order (a prefix of the input with unsafe characters dropped).
        #[test]
        fn clean_is_bounded_safe_and_faithful(s in any::<String>(), max in 0usize..300) {
            let c = clean(&s, max);
            prop_assert!(c.len() <= max);
            prop_assert!(!c.chars().any(is_unsafe));
            let kept: String = s
                .chars()
                .filter_map(|ch| match ch {
                    '\t' | '\n' | '\r' => Some(' '),
                    ch if is_unsafe(ch) => None,
                    ch => Some(ch),
                })
                .collect();
            let kept = kept.trim();
            let body = c.strip_suffix(ELLIPSIS).unwrap_or(&c);
            prop_assert!(kept.starts_with(body), "{:?} is not a prefix of {:?}", body, kept);
            // Text that fits is kept whole.
            if kept.len() <= max {
                prop_assert_eq!(c.as_str(), kept);
            }
        }

        /// Cleaning is idempotent: clean text comes back unchanged.
        #[test]
        fn clean_is_idempotent(s in any::<String>(), max in 0usize..300) {
            let once = clean(&s, max);
            prop_assert_eq!(clean(&once, max), once.clone());
        }

        /// An id that passes is safe to log and store on every backend.
        #[test]
        fn accepted_ids_hold_no_unsafe_or_non_ascii(s in any::<String>()) {
            if check_id(&s, MAX_ID_LEN).is_ok() {
                prop_assert!(!s.is_empty() && s.len() <= MAX_ID_LEN);
                prop_assert!(s.bytes().all(|b| (0x21..=0x7e).contains(&b)));
            }
        }

        /// Accepted caller text has no NUL and no escape.
        #[test]
        fn accepted_text_has_no_nul_or_escape(s in any::<String>()) {
            if check_text(&s, 4096).is_ok() {
                prop_assert!(!s.contains(['\0', '\x1b']), "unsafe text accepted");
            }
        }
    }
}
