-- finroute store, PostgreSQL: offer risk bands, acceptances with their outbox
-- and outcomes, appeals with their history. Keep in step with
-- migrations/sqlite/0002_acceptances_appeals.sql (same tables, columns,
-- constraint and index names; only the types differ).
-- See docs/reliability.md, "Exactly-once acceptance" (exactly once across
-- retries, replicas and crashes).

-- The applicant's coarse risk band when the offer was made (for the
-- outcome counts); '' for offers recorded before this migration.
ALTER TABLE offers ADD COLUMN risk_band TEXT NOT NULL DEFAULT '';

-- One row per accepted offer and idempotency key. Transaction 1 inserts it
-- PENDING with its outbox row; transaction 2 stores the partner's answer.
CREATE TABLE acceptances (
    acceptance_id     TEXT    NOT NULL,
    tenant            TEXT    NOT NULL,
    idempotency_key   TEXT    NOT NULL,
    offer_id          TEXT    NOT NULL,
    application_id    TEXT    NOT NULL,
    adapter_id        TEXT    NOT NULL,
    partner_offer_ref TEXT    NOT NULL,
    -- Pseudonymous applicant id (never a name, phone or national id).
    applicant_id      TEXT    NOT NULL,
    -- Hash of the claiming request: same key + different request is a conflict.
    fingerprint       BYTEA   NOT NULL,
    status            TEXT    NOT NULL,
    partner_reference TEXT    NOT NULL DEFAULT '',
    detail            TEXT    NOT NULL DEFAULT '',
    -- Attempts made; while the outbox row exists, its count is the current one.
    attempts          INTEGER NOT NULL DEFAULT 0,
    created_at_ms     BIGINT  NOT NULL,
    completed_at_ms   BIGINT,
    CONSTRAINT acceptances_pkey PRIMARY KEY (acceptance_id),
    -- One acceptance per idempotency key of a tenant.
    CONSTRAINT acceptances_tenant_idempotency_key_key UNIQUE (tenant, idempotency_key),
    CONSTRAINT acceptances_status_check CHECK (status IN ('PENDING', 'ACCEPTED', 'DECLINED')),
    -- Only an offer of the same tenant.
    CONSTRAINT acceptances_offer_fkey FOREIGN KEY (offer_id, tenant)
        REFERENCES offers (offer_id, tenant),
    CONSTRAINT acceptances_application_fkey FOREIGN KEY (application_id, tenant)
        REFERENCES applications (application_id, tenant)
);

-- At most one live acceptance per offer; a DECLINED one frees the offer.
CREATE UNIQUE INDEX acceptances_live_offer_key
    ON acceptances (offer_id) WHERE status IN ('PENDING', 'ACCEPTED');

-- GetApplication lists an application's acceptances, oldest first.
CREATE INDEX acceptances_application_idx ON acceptances (application_id, created_at_ms);

-- The relay's work queue: one row per PENDING acceptance, deleted by the
-- transaction that stores the final answer.
CREATE TABLE acceptance_outbox (
    acceptance_id   TEXT    NOT NULL,
    -- Who holds the lease ('' = nobody); a lease ends at lease_until_ms.
    lease_owner     TEXT    NOT NULL DEFAULT '',
    lease_until_ms  BIGINT  NOT NULL DEFAULT 0,
    -- Not to be tried before this (backoff after a failed attempt).
    next_attempt_ms BIGINT  NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    -- The kind of the last failure (never personal data).
    last_error      TEXT    NOT NULL DEFAULT '',
    CONSTRAINT acceptance_outbox_pkey PRIMARY KEY (acceptance_id),
    CONSTRAINT acceptance_outbox_acceptance_fkey FOREIGN KEY (acceptance_id)
        REFERENCES acceptances (acceptance_id)
);

CREATE INDEX acceptance_outbox_due_idx ON acceptance_outbox (next_attempt_ms, acceptance_id);

-- One row per final acceptance, for the approval-odds model. No personal
-- data, and no foreign key: outcomes are meant to outlive acceptances
-- removed by retention.
CREATE TABLE acceptance_outcomes (
    acceptance_id TEXT   NOT NULL,
    tenant        TEXT   NOT NULL,
    adapter_id    TEXT   NOT NULL,
    product_kind  TEXT   NOT NULL,
    risk_band     TEXT   NOT NULL,
    status        TEXT   NOT NULL,
    decided_at_ms BIGINT NOT NULL,
    CONSTRAINT acceptance_outcomes_pkey PRIMARY KEY (acceptance_id),
    CONSTRAINT acceptance_outcomes_status_check CHECK (status IN ('ACCEPTED', 'DECLINED'))
);

CREATE INDEX acceptance_outcomes_group_idx
    ON acceptance_outcomes (adapter_id, product_kind, risk_band);

-- Appeals of a decision on an application.
CREATE TABLE appeals (
    appeal_id       TEXT   NOT NULL,
    tenant          TEXT   NOT NULL,
    application_id  TEXT   NOT NULL,
    -- The channel appealed; '' = the primary line.
    adapter_id      TEXT   NOT NULL DEFAULT '',
    -- AppealReason enum name.
    reason          TEXT   NOT NULL,
    -- The applicant's words: may hold personal data, never logged.
    details         TEXT   NOT NULL,
    status          TEXT   NOT NULL,
    filed_at_ms     BIGINT NOT NULL,
    resolved_at_ms  BIGINT,
    resolution_note TEXT   NOT NULL DEFAULT '',
    CONSTRAINT appeals_pkey PRIMARY KEY (appeal_id),
    CONSTRAINT appeals_status_check
        CHECK (status IN ('OPEN', 'IN_REVIEW', 'UPHELD', 'OVERTURNED')),
    CONSTRAINT appeals_application_fkey FOREIGN KEY (application_id, tenant)
        REFERENCES applications (application_id, tenant)
);

-- GetApplication lists an application's appeals, oldest first.
CREATE INDEX appeals_application_idx ON appeals (application_id, filed_at_ms);
-- ListAppeals: keyset pagination over (filed_at_ms, appeal_id), all
-- statuses or one.
CREATE INDEX appeals_tenant_filed_idx ON appeals (tenant, filed_at_ms, appeal_id);
CREATE INDEX appeals_tenant_status_filed_idx
    ON appeals (tenant, status, filed_at_ms, appeal_id);

-- Each state an appeal entered, numbered 1, 2, ... per appeal.
CREATE TABLE appeal_events (
    appeal_id TEXT    NOT NULL,
    seq       INTEGER NOT NULL,
    status    TEXT    NOT NULL,
    at_ms     BIGINT  NOT NULL,
    -- The operator's note ('' on filing).
    note      TEXT    NOT NULL,
    CONSTRAINT appeal_events_pkey PRIMARY KEY (appeal_id, seq),
    CONSTRAINT appeal_events_status_check
        CHECK (status IN ('OPEN', 'IN_REVIEW', 'UPHELD', 'OVERTURNED')),
    CONSTRAINT appeal_events_appeal_fkey FOREIGN KEY (appeal_id) REFERENCES appeals (appeal_id)
);
