-- finroute store, SQLite: routed applications, their offers and channel reports.
-- Keep in step with migrations/postgres/0001_applications.sql (same tables,
-- columns, constraint and index names; only the types differ).

-- One row per routed application. `response` is the encoded wire response,
-- opaque to the store, replayed for request_id retries and GetApplication.
CREATE TABLE applications (
    application_id      TEXT    NOT NULL,
    tenant              TEXT    NOT NULL,
    -- The caller's request id; '' when the caller sent none.
    request_id          TEXT    NOT NULL DEFAULT '',
    -- sha256 of the canonical request: same request_id + different body is a conflict.
    request_fingerprint BLOB    NOT NULL,
    -- Pseudonymous applicant id (never a name, phone or national id).
    applicant_id        TEXT    NOT NULL,
    created_at_ms       INTEGER NOT NULL,
    partial             INTEGER NOT NULL CHECK (partial IN (0, 1)),
    response            BLOB    NOT NULL,
    CONSTRAINT applications_pkey PRIMARY KEY (application_id),
    -- Target of the composite foreign keys below: a child row can never name
    -- an application of another tenant.
    CONSTRAINT applications_id_tenant_key UNIQUE (application_id, tenant)
) STRICT;

-- request_id idempotency: one application per (tenant, non-empty request_id).
CREATE UNIQUE INDEX applications_tenant_request_id_key
    ON applications (tenant, request_id) WHERE request_id <> '';

-- Listing a tenant's applications by time (ReviewService).
CREATE INDEX applications_tenant_created_idx ON applications (tenant, created_at_ms);

-- One row per offer shown to the applicant. `tenant` is repeated so that
-- AcceptOffer can look an offer up by (tenant, offer_id) alone, and so that
-- acceptances can reference (offer_id, tenant).
CREATE TABLE offers (
    offer_id          TEXT    NOT NULL,
    application_id    TEXT    NOT NULL,
    tenant            TEXT    NOT NULL,
    adapter_id        TEXT    NOT NULL,
    partner_offer_ref TEXT    NOT NULL,
    product_kind      TEXT    NOT NULL,
    currency          TEXT    NOT NULL,
    principal_minor   INTEGER NOT NULL,
    term_months       INTEGER NOT NULL,
    apr_bps           INTEGER NOT NULL,
    approval_odds     REAL    NOT NULL,
    rank              INTEGER NOT NULL,
    expires_at_ms     INTEGER NOT NULL,
    CONSTRAINT offers_pkey PRIMARY KEY (offer_id),
    CONSTRAINT offers_id_tenant_key UNIQUE (offer_id, tenant),
    CONSTRAINT offers_application_fkey FOREIGN KEY (application_id, tenant)
        REFERENCES applications (application_id, tenant)
) STRICT;

CREATE INDEX offers_application_idx ON offers (application_id, rank);

-- What each channel (adapter x product kind) did for an application, in the
-- order of the response.
CREATE TABLE channel_reports (
    application_id  TEXT    NOT NULL,
    position        INTEGER NOT NULL,
    adapter_id      TEXT    NOT NULL,
    product_kind    TEXT    NOT NULL,
    status          TEXT    NOT NULL,
    latency_ms      INTEGER NOT NULL,
    offers_returned INTEGER NOT NULL,
    offers_rejected INTEGER NOT NULL,
    detail          TEXT    NOT NULL,
    CONSTRAINT channel_reports_pkey PRIMARY KEY (application_id, position),
    CONSTRAINT channel_reports_application_fkey FOREIGN KEY (application_id)
        REFERENCES applications (application_id)
) STRICT;
