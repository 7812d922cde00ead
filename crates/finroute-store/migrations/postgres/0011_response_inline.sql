-- finroute store, PostgreSQL: the stored response stays in the row.
-- The response blob (~3.5 KB, already LZ4-compressed by the store) was
-- above PostgreSQL's 2 KB TOAST threshold: every application insert also
-- tried pglz on it (in vain) and wrote it out of line (a TOAST row and its
-- index entry). EXTERNAL: never compressed by PostgreSQL; toast_tuple_target
-- 8160: a row is moved out of line only beyond ~8 KB. Measured: +10-15 %
-- RouteFinancing throughput on PostgreSQL (BENCHMARKS.md). Rows written
-- before read back as they are (a storage setting applies to new rows).
-- Keep in step with migrations/sqlite/0011_response_inline.sql.

ALTER TABLE applications ALTER COLUMN response SET STORAGE EXTERNAL;
ALTER TABLE applications SET (toast_tuple_target = 8160);
