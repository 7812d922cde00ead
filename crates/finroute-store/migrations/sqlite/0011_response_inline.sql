-- finroute store, SQLite: nothing to change. PostgreSQL's 0011 keeps the
-- stored response in the row (no TOAST); SQLite stores a blob in its row
-- and overflow pages as it is. Kept so both backends number alike.
-- Keep in step with migrations/postgres/0011_response_inline.sql.

SELECT 1;
