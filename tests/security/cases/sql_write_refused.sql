-- Writes are refused with a clear error; the dataset is read-only anyway.
-- status: runtime_error
-- args: --data {{DEMO}}/ledger.sqlite
-- stderr-has: not allowed
DELETE FROM gl_entries;
