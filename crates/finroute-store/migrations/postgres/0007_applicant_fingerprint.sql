-- finroute store, PostgreSQL: each application keeps a digest of the
-- applicant data it was routed on, so AcceptOffer can refuse an offer whose
-- applicant has since been routed again with other data (a stale offer).
-- Rows stored before this migration have an empty digest: never stale.
-- Keep in step with migrations/sqlite/0007_applicant_fingerprint.sql.

ALTER TABLE applications ADD COLUMN applicant_fingerprint BYTEA NOT NULL DEFAULT '\x';

CREATE INDEX applications_tenant_applicant_idx
    ON applications (tenant, applicant_id, created_at_ms);
