-- finroute store, PostgreSQL: what partners report of the loans booked through
-- the router (PartnerOutcomeService.ReportOutcome; docs/api.md, "Service
-- `finroute.v1.PartnerOutcomeService`"). Keep in step with
-- migrations/sqlite/0008_partner_outcomes.sql (same tables, columns,
-- constraint and index names; only the types differ).

-- Outcome events recorded for the acceptance so far (the last one's
-- arrival number). Bumping it takes the acceptance's row lock, so two
-- reports of one acceptance are numbered one after the other.
ALTER TABLE acceptances ADD COLUMN outcome_events BIGINT NOT NULL DEFAULT 0;

-- One row per event a partner reported, never updated.
CREATE TABLE partner_outcomes (
    tenant          TEXT    NOT NULL,
    acceptance_id   TEXT    NOT NULL,
    -- The partner's id of the event: reporting it again is idempotent.
    event_id        TEXT    NOT NULL,
    -- The channel that reported it (the acceptance's).
    adapter_id      TEXT    NOT NULL,
    -- Arrival order within the acceptance, 1, 2, ...
    seq             BIGINT  NOT NULL,
    kind            TEXT    NOT NULL,
    -- The partner's time of the event: outcomes are ordered by it.
    occurred_at_ms  BIGINT  NOT NULL,
    received_at_ms  BIGINT  NOT NULL,
    -- 0 and '' when the kind carries no amount.
    amount_minor    BIGINT  NOT NULL DEFAULT 0,
    currency        TEXT    NOT NULL DEFAULT '',
    -- YYYY-MM-DD (FUNDED), else ''.
    funded_on       TEXT    NOT NULL DEFAULT '',
    -- DeclineReason code (DECLINED_AFTER_REVIEW), else ''.
    decline_reason  TEXT    NOT NULL DEFAULT '',
    days_past_due   BIGINT  NOT NULL DEFAULT 0,
    -- The partner's words, cleaned; never personal data.
    text            TEXT    NOT NULL DEFAULT '',
    CONSTRAINT partner_outcomes_pkey PRIMARY KEY (tenant, acceptance_id, event_id),
    CONSTRAINT partner_outcomes_seq_key UNIQUE (acceptance_id, seq),
    CONSTRAINT partner_outcomes_kind_check CHECK (kind IN ('FUNDED', 'DECLINED_AFTER_REVIEW',
        'WITHDRAWN', 'REPAID', 'IN_ARREARS', 'DEFAULTED')),
    CONSTRAINT partner_outcomes_acceptance_fkey FOREIGN KEY (acceptance_id)
        REFERENCES acceptances (acceptance_id)
);

-- An acceptance's outcomes in the partner's order, then arrival order.
CREATE INDEX partner_outcomes_order_idx
    ON partner_outcomes (acceptance_id, occurred_at_ms, seq);

-- The partner's final credit decision on the acceptance, for the
-- approval-odds model: FUNDED or DECLINED_AFTER_REVIEW (the latest such
-- event by the partner's time), NULL while the partner has reported none.
ALTER TABLE acceptance_outcomes ADD COLUMN credit_decision TEXT;
