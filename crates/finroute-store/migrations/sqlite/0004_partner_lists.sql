-- finroute store, SQLite: each lender's published list of the platforms and
-- guarantors it works with, every version kept (docs/disclosure.md,
-- "Partner name-lists"). Append-only: a (lender, version) is written once
-- and never updated; a newer version supersedes from its effective date.
-- Keep in step with migrations/postgres/0004_partner_lists.sql (only the
-- types differ).

CREATE TABLE partner_lists (
    -- The lender's registration id (or legal name when it has none).
    lender            TEXT    NOT NULL,
    -- The lender's name for this version of its list.
    version           TEXT    NOT NULL,
    -- From when the version is in force, ms since the Unix epoch (UTC).
    effective_from_ms INTEGER NOT NULL,
    -- JSON: {"platforms": [keys], "guarantors": [keys]}, sorted.
    entries           TEXT    NOT NULL,
    -- When this router first stored the version, ms since the Unix epoch.
    loaded_at_ms      INTEGER NOT NULL,
    CONSTRAINT partner_lists_pkey PRIMARY KEY (lender, version)
);
