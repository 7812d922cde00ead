-- finroute store, PostgreSQL: the review desk's workflow on
-- appeals (docs/api.md, "The review workflow"): who filed an appeal, who
-- holds it and since when, a proposed decision awaiting a second operator,
-- and an append-only audit trail of every step with the operator's key id.
-- Keep in step with migrations/sqlite/0005_appeal_workflow.sql (only the
-- types and the append-only triggers' syntax differ).

-- The key id of the router-role key that filed the appeal ('' = filed
-- before this migration).
ALTER TABLE appeals ADD COLUMN filed_by TEXT NOT NULL DEFAULT '';
-- The operator key id holding the appeal ('' = unclaimed); a claim older
-- than review.claim_lapse_ms counts as unclaimed.
ALTER TABLE appeals ADD COLUMN assignee TEXT NOT NULL DEFAULT '';
ALTER TABLE appeals ADD COLUMN claimed_at_ms BIGINT;
-- A proposed decision awaiting approval by another operator ('' = none),
-- who proposed it, its reason code and note.
ALTER TABLE appeals ADD COLUMN pending_decision TEXT NOT NULL DEFAULT '';
ALTER TABLE appeals ADD COLUMN proposed_by TEXT NOT NULL DEFAULT '';
ALTER TABLE appeals ADD COLUMN pending_reason_code TEXT NOT NULL DEFAULT '';
ALTER TABLE appeals ADD COLUMN pending_note TEXT NOT NULL DEFAULT '';
-- The decision's reason code and the operator key id that made it final.
ALTER TABLE appeals ADD COLUMN resolution_reason_code TEXT NOT NULL DEFAULT '';
ALTER TABLE appeals ADD COLUMN resolved_by TEXT NOT NULL DEFAULT '';

-- Each event now says who (operator key id; for FILED the filing key id),
-- what (kind), from which state (status is the state entered) and the
-- decision's reason code.
ALTER TABLE appeal_events ADD COLUMN actor TEXT NOT NULL DEFAULT '';
ALTER TABLE appeal_events ADD COLUMN kind TEXT NOT NULL DEFAULT '';
ALTER TABLE appeal_events ADD COLUMN from_status TEXT NOT NULL DEFAULT '';
ALTER TABLE appeal_events ADD COLUMN reason_code TEXT NOT NULL DEFAULT '';

-- Events written before this migration get their kind from the state
-- they entered.
UPDATE appeal_events SET kind = CASE status
    WHEN 'OPEN' THEN 'FILED'
    WHEN 'IN_REVIEW' THEN 'REVIEW_STARTED'
    ELSE 'RESOLVED' END;

-- The audit trail is append-only: no statement may change or remove an
-- event.
CREATE FUNCTION appeal_events_append_only() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'appeal_events is append-only';
END
$$;
CREATE TRIGGER appeal_events_no_update BEFORE UPDATE ON appeal_events
    FOR EACH ROW EXECUTE FUNCTION appeal_events_append_only();
CREATE TRIGGER appeal_events_no_delete BEFORE DELETE ON appeal_events
    FOR EACH ROW EXECUTE FUNCTION appeal_events_append_only();
