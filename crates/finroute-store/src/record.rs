//! The rows the store keeps: what the router hands in ([`ApplicationRecord`]
//! with its [`OfferRecord`]s and [`ChannelReportRecord`]s) and what it reads
//! back ([`StoredApplication`]).
//!
//! The response blob's `Debug` prints its length only: it is the encoded wire
//! response and may carry applicant data.

use std::fmt;

/// One routed application, written in a single group commit with its offers
/// and channel reports.
#[derive(Clone, PartialEq)]
pub struct ApplicationRecord {
    /// Router-assigned id, unique across tenants.
    pub application_id: String,
    /// The tenant (API client) the application belongs to.
    pub tenant: String,
    /// The caller's request id; empty when the caller sent none. Unique per
    /// tenant when non-empty.
    pub request_id: String,
    /// sha256 of the canonical request; opaque to the store.
    pub request_fingerprint: Vec<u8>,
    /// Pseudonymous applicant id.
    pub applicant_id: String,
    /// Digest of the applicant data the application was routed on
    /// (opaque to the store; empty: unknown). AcceptOffer compares it with
    /// the applicant's later applications.
    pub applicant_fingerprint: Vec<u8>,
    /// Creation time, unix milliseconds.
    pub created_at_ms: i64,
    /// Whether some channels did not answer in time.
    pub partial: bool,
    /// The encoded wire response (protobuf bytes); opaque to the store.
    /// Shared bytes: the router sends the same buffer on the wire.
    pub response: bytes::Bytes,
    /// The offers shown; each must name this application and tenant (the
    /// schema's foreign key rejects anything else).
    pub offers: Vec<OfferRecord>,
    /// One report per channel, stored in this order.
    pub channel_reports: Vec<ChannelReportRecord>,
}

impl fmt::Debug for ApplicationRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApplicationRecord")
            .field("application_id", &self.application_id)
            .field("tenant", &self.tenant)
            .field("request_id", &self.request_id)
            .field("request_fingerprint", &BlobLen(&self.request_fingerprint))
            .field("applicant_id", &self.applicant_id)
            .field(
                "applicant_fingerprint",
                &BlobLen(&self.applicant_fingerprint),
            )
            .field("created_at_ms", &self.created_at_ms)
            .field("partial", &self.partial)
            .field("response", &BlobLen(&self.response))
            .field("offers", &self.offers)
            .field("channel_reports", &self.channel_reports)
            .finish()
    }
}

/// An application as read back (without offers and reports: the response
/// blob already carries what the caller was told).
#[derive(Clone, PartialEq)]
pub struct StoredApplication {
    /// Router-assigned id.
    pub application_id: String,
    /// Owning tenant.
    pub tenant: String,
    /// The caller's request id, empty if none.
    pub request_id: String,
    /// sha256 of the canonical request.
    pub request_fingerprint: Vec<u8>,
    /// Pseudonymous applicant id.
    pub applicant_id: String,
    /// Creation time, unix milliseconds.
    pub created_at_ms: i64,
    /// The encoded wire response, byte for byte as recorded.
    pub response: Vec<u8>,
}

impl fmt::Debug for StoredApplication {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredApplication")
            .field("application_id", &self.application_id)
            .field("tenant", &self.tenant)
            .field("request_id", &self.request_id)
            .field("request_fingerprint", &BlobLen(&self.request_fingerprint))
            .field("applicant_id", &self.applicant_id)
            .field("created_at_ms", &self.created_at_ms)
            .field("response", &BlobLen(&self.response))
            .finish()
    }
}

/// One offer of an application.
#[derive(Debug, Clone, PartialEq)]
pub struct OfferRecord {
    /// Router-assigned id, unique across tenants.
    pub offer_id: String,
    /// The application it belongs to.
    pub application_id: String,
    /// Owning tenant (same as the application's).
    pub tenant: String,
    /// The adapter that quoted it.
    pub adapter_id: String,
    /// The partner's own reference for the offer.
    pub partner_offer_ref: String,
    /// Product kind, as the core names it.
    pub product_kind: String,
    /// ISO 4217 currency code.
    pub currency: String,
    /// Principal in minor units.
    pub principal_minor: i64,
    /// Term in months.
    pub term_months: i32,
    /// APR in basis points.
    pub apr_bps: i32,
    /// Estimated approval probability in [0, 1].
    pub approval_odds: f64,
    /// Position in the ranked list, 0 first.
    pub rank: i32,
    /// Expiry, unix milliseconds.
    pub expires_at_ms: i64,
    /// The applicant's coarse risk band when the offer was made, as the
    /// server names it; feeds the outcome counts. '' for offers recorded
    /// before bands were stored.
    pub risk_band: String,
    /// The odds model's feature prior for this offer (`None`: not recorded).
    pub prior_odds: Option<f64>,
    /// The partner's own approval estimate, when it sent one.
    pub partner_odds: Option<f64>,
}

/// An offer that arrived after the reply (a late offer): its row, when it
/// arrived, and the encoded wire offer GetApplication shows.
#[derive(Clone, PartialEq)]
pub struct LateOfferRecord {
    pub offer: OfferRecord,
    /// Unix milliseconds.
    pub arrived_at_ms: i64,
    /// The encoded wire `Offer`, opaque to the store.
    pub wire: Vec<u8>,
}

impl std::fmt::Debug for LateOfferRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LateOfferRecord")
            .field("offer", &self.offer)
            .field("arrived_at_ms", &self.arrived_at_ms)
            .field("wire", &BlobLen(&self.wire))
            .finish()
    }
}

/// A late offer as read back: when it arrived and the wire offer.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredLateOffer {
    pub arrived_at_ms: i64,
    pub wire: Vec<u8>,
}

impl std::fmt::Debug for StoredLateOffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredLateOffer")
            .field("arrived_at_ms", &self.arrived_at_ms)
            .field("wire", &BlobLen(&self.wire))
            .finish()
    }
}

/// What one channel (adapter x product kind) did for an application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelReportRecord {
    /// The adapter.
    pub adapter_id: String,
    /// The product kind asked for.
    pub product_kind: String,
    /// Outcome (OK, TIMEOUT, ERROR, ...), as the server names it.
    pub status: String,
    /// Time the channel took, milliseconds.
    pub latency_ms: i64,
    /// Offers the channel returned.
    pub offers_returned: i32,
    /// Offers rejected by validation.
    pub offers_rejected: i32,
    /// Human-readable detail (never personal data).
    pub detail: String,
}

/// `Debug` for an opaque blob: its length only.
pub(crate) struct BlobLen<'a>(pub(crate) &'a [u8]);

impl fmt::Debug for BlobLen<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{} bytes>", self.0.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_prints_blob_lengths_only() {
        let stored = StoredApplication {
            application_id: "app-1".into(),
            tenant: "t".into(),
            request_id: String::new(),
            request_fingerprint: vec![0xAB; 32],
            applicant_id: "p".into(),
            created_at_ms: 1,
            response: b"secret-applicant-bytes".to_vec(),
        };
        let text = format!("{stored:?}");
        assert!(text.contains("<22 bytes>"), "{text}");
        assert!(text.contains("<32 bytes>"), "{text}");
        assert!(!text.contains("secret"), "{text}");
        assert!(!text.contains("171"), "fingerprint bytes leaked: {text}");
    }
}
