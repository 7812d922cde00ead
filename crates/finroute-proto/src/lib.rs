//! The finroute v1 contract (`proto/finroute/v1/`), compiled to Rust.
//!
//! Everything generated lives in [`v1`]; [`FILE_DESCRIPTOR_SET`] feeds server
//! reflection. Messages carrying personal data get a masking `Debug` here
//! instead of prost's derived one, so logging a request never prints incomes,
//! scores or collateral values.

#![warn(unreachable_pub, missing_docs)]

/// Generated messages, enums, clients and servers of package `finroute.v1`.
///
/// Their doc lines are the comments in `proto/`: `missing_docs` holds here
/// too, so every new message, field and enum value needs a comment there.
/// Clippy's lints are off for code we do not write.
#[allow(clippy::all)]
pub mod v1 {
    tonic::include_proto!("finroute.v1");
}

/// Encoded `FileDescriptorSet` of the whole contract (for reflection).
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/finroute_descriptor.bin"));

mod masked {
    use std::fmt;

    use crate::v1::{Appeal, AppealEvent, Applicant, Collateral, FileAppealRequest};

    impl fmt::Debug for Applicant {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("Applicant")
                .field("applicant_id", &self.applicant_id)
                .field("region", &self.region)
                .finish_non_exhaustive()
        }
    }

    impl fmt::Debug for Collateral {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("Collateral")
                .field("kind", &self.kind)
                .finish_non_exhaustive()
        }
    }

    impl fmt::Debug for FileAppealRequest {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("FileAppealRequest")
                .field("application_id", &self.application_id)
                .field("adapter_id", &self.adapter_id)
                .field("reason", &self.reason)
                .finish_non_exhaustive()
        }
    }

    impl fmt::Debug for Appeal {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("Appeal")
                .field("appeal_id", &self.appeal_id)
                .field("application_id", &self.application_id)
                .field("status", &self.status)
                .finish_non_exhaustive()
        }
    }

    /// The operator's note may quote the applicant: its length only.
    impl fmt::Debug for AppealEvent {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("AppealEvent")
                .field("seq", &self.seq)
                .field("kind", &self.kind)
                .field("actor", &self.actor)
                .field("at", &self.at)
                .field("from_status", &self.from_status)
                .field("to_status", &self.to_status)
                .field("reason_code", &self.reason_code)
                .field("note_chars", &self.note.chars().count())
                .finish()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::v1::{Applicant, Money};

    #[test]
    fn applicant_debug_masks_personal_values() {
        let a = Applicant {
            applicant_id: "app-7".into(),
            credit_score: Some(612),
            monthly_income: Some(Money {
                currency_code: "CNY".into(),
                amount_minor: 1_234_567,
            }),
            ..Default::default()
        };
        let s = format!("{a:?}");
        assert!(s.contains("app-7"));
        assert!(!s.contains("612") && !s.contains("1234567"), "{s}");
    }

    #[test]
    fn appeal_event_debug_masks_the_note() {
        let e = super::v1::AppealEvent {
            actor: "ops-1".into(),
            note: "called 13800001111".into(),
            ..Default::default()
        };
        let s = format!("{e:?}");
        assert!(s.contains("ops-1"), "{s}");
        assert!(!s.contains("13800001111"), "{s}");
    }

    #[test]
    fn descriptor_set_is_embedded() {
        assert!(super::FILE_DESCRIPTOR_SET.len() > 1000);
    }
}
