-- finroute store, PostgreSQL: the outbox of events pushed to the platform's
-- webhooks. Keep in step with migrations/sqlite/0009_webhook_events.sql
-- (same tables, columns, constraint and index names; only the types differ).
-- See docs/webhooks.md.

-- One row per event, inserted in the transaction of the state change it
-- reports (so an event exists if and only if the change committed). Rows
-- stay after delivery (delivered_at_ms set) as the record of what was sent.
CREATE TABLE webhook_events (
    -- UUID (v7, time-ordered); the receiver deduplicates on it.
    event_id        TEXT    NOT NULL,
    tenant          TEXT    NOT NULL,
    application_id  TEXT    NOT NULL,
    -- 1, 2, ... per (tenant, application): the delivery order.
    seq             BIGINT  NOT NULL,
    -- The event type, e.g. 'acceptance.final', 'appeal.decided'.
    kind            TEXT    NOT NULL,
    -- JSON object: ids and statuses only, never personal data.
    payload         TEXT    NOT NULL,
    created_at_ms   BIGINT  NOT NULL,
    -- Not to be tried before this (backoff after a failed delivery).
    next_attempt_ms BIGINT  NOT NULL,
    -- Who holds the lease ('' = nobody); a lease ends at lease_until_ms.
    lease_owner     TEXT    NOT NULL DEFAULT '',
    lease_until_ms  BIGINT  NOT NULL DEFAULT 0,
    attempts        INTEGER NOT NULL DEFAULT 0,
    -- The kind of the last failure, or how it ended (never personal data).
    last_error      TEXT    NOT NULL DEFAULT '',
    -- When the receiver acknowledged it (2xx); NULL while undelivered.
    delivered_at_ms BIGINT,
    CONSTRAINT webhook_events_pkey PRIMARY KEY (event_id),
    CONSTRAINT webhook_events_application_seq_key UNIQUE (tenant, application_id, seq)
);

-- The delivery worker's work queue: undelivered events, earliest due first.
CREATE INDEX webhook_events_due_idx ON webhook_events (next_attempt_ms, event_id)
    WHERE delivered_at_ms IS NULL;
