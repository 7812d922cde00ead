-- finroute store, SQLite: late offers. A channel still working when the
-- router replied may answer within its late window; its offers are stored
-- against the application as rows of `offers` (so AcceptOffer finds them
-- like any other) with the time they arrived and the wire offer shown by
-- GetApplication. NULL for the offers of the reply.
-- Keep in step with migrations/postgres/0010_late_offers.sql.

ALTER TABLE offers ADD COLUMN arrived_late_at_ms INTEGER;
ALTER TABLE offers ADD COLUMN late_offer BLOB;
