-- The audit chain (scale-out 4.4). Columns and encodings are SQLite's
-- (src/state/audit.rs SCHEMA): `at` and `body` stay TEXT because the hash
-- covers the stored text (TIMESTAMPTZ or JSONB would change it), so rows copy
-- verbatim between backends and verify alike on both.
-- `at` is COLLATE "C": the `at >= from AND at < to` filters compare bytes, as
-- SQLite's BINARY does, whatever the database's collation.
CREATE TABLE audit_events (
    seq          BIGINT PRIMARY KEY,
    at           TEXT COLLATE "C" NOT NULL,
    kind         TEXT NOT NULL,
    run_id       TEXT,
    carrier      TEXT,
    house_bill   TEXT,
    entry_number TEXT,
    body         TEXT NOT NULL,
    prev_hash    TEXT NOT NULL,
    hash         TEXT NOT NULL
);
CREATE INDEX audit_by_house_bill ON audit_events (house_bill);
CREATE INDEX audit_by_entry ON audit_events (entry_number);
CREATE INDEX audit_by_run ON audit_events (run_id);
CREATE INDEX audit_by_time ON audit_events (at);
-- File receipts by the file's SHA-256 (`audit_receipts`; SQLite scans with
-- json_extract). The expression must match the query's exactly.
CREATE INDEX audit_receipts_by_sha ON audit_events ((body::jsonb ->> 'sha256'))
    WHERE kind IN ('file.received', 'file.received_again', 'file.duplicate');

-- The chain's head, one row: every append locks it (FOR UPDATE) first, so
-- appenders on all replicas serialise, and since `seq` is not a SEQUENCE a
-- rolled-back append leaves no gap.
CREATE TABLE audit_head (
    one  BOOLEAN PRIMARY KEY DEFAULT true CHECK (one),
    seq  BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (one, seq, hash)
VALUES (true, 0, '0000000000000000000000000000000000000000000000000000000000000000');

-- Exact texts (job files, policies) kept once under their digest.
CREATE TABLE audit_blobs (
    digest  TEXT PRIMARY KEY,
    kind    TEXT NOT NULL,
    name    TEXT NOT NULL,
    sha256  TEXT NOT NULL,
    content TEXT NOT NULL,
    at      TEXT NOT NULL
);

-- Append-only, as SQLite's triggers (an owner can disable them; the chain
-- still gives an edit away).
CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS
$$ BEGIN RAISE EXCEPTION 'the audit trail is append-only'; END $$;
CREATE TRIGGER audit_events_no_change BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_head_kept BEFORE TRUNCATE OR DELETE ON audit_head
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
