-- finroute store, PostgreSQL: what each offer's approval odds were made from,
-- kept with its outcome, so the odds model (finroute-core odds.rs) can be
-- rebuilt from the store by every replica. Keep in step with
-- migrations/sqlite/0003_odds_inputs.sql (only the types differ).

-- The feature prior and the partner's own estimate (NULL: it sent none)
-- when the offer was shown. NULL prior: recorded before this migration.
ALTER TABLE offers ADD COLUMN prior_odds DOUBLE PRECISION;
ALTER TABLE offers ADD COLUMN partner_odds DOUBLE PRECISION;

ALTER TABLE acceptance_outcomes ADD COLUMN prior_odds DOUBLE PRECISION;
ALTER TABLE acceptance_outcomes ADD COLUMN partner_odds DOUBLE PRECISION;

-- The odds model reads each adapter's newest outcomes.
CREATE INDEX acceptance_outcomes_recent_idx
    ON acceptance_outcomes (adapter_id, decided_at_ms DESC, acceptance_id DESC);
