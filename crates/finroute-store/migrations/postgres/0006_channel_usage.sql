-- finroute store, PostgreSQL: each channel's use against its volume agreement
-- with the platform ([[quotas]] in the router's config): quotes asked,
-- acceptances confirmed and principal lent, per UTC day and month, shared
-- by every replica. Keep in step with migrations/sqlite/0006_channel_usage.sql.

CREATE TABLE channel_usage (
    -- The channel's config id.
    adapter_id  TEXT    NOT NULL,
    -- 'day:YYYY-MM-DD' or 'month:YYYY-MM' (UTC).
    period      TEXT    NOT NULL,
    -- Quotes the router asked the channel for.
    quotes      BIGINT  NOT NULL DEFAULT 0,
    -- Acceptances the partner confirmed.
    acceptances BIGINT  NOT NULL DEFAULT 0,
    -- Principal of those acceptances, in minor units.
    lent_minor  BIGINT  NOT NULL DEFAULT 0,
    PRIMARY KEY (adapter_id, period)
);
