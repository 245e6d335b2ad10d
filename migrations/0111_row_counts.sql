-- Per-org row counts of a module's main table, kept by statement-level triggers, so an
-- unfiltered admin list answers its `*_count` without counting a million rows (what
-- `lead_counts` does for leads, for any table: `SELECT crm_count_rows('<table>')`). Each org's
-- count is spread over 16 shards (picked by backend pid) and summed on read, so concurrent inserts
-- in one org do not queue on one counter row.
CREATE TABLE IF NOT EXISTS row_counts (
    tbl text NOT NULL,
    org_id uuid NOT NULL REFERENCES organization (id) ON DELETE CASCADE,
    shard smallint NOT NULL,
    n bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (org_id, tbl, shard)
);

CREATE OR REPLACE FUNCTION crm_row_counts_bump(t text, o uuid, d bigint) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO row_counts AS rc (tbl, org_id, shard, n)
    SELECT t, o, pg_backend_pid() % 16, d
    WHERE d <> 0 AND EXISTS (SELECT 1 FROM organization WHERE id = o)
    ON CONFLICT (org_id, tbl, shard) DO UPDATE SET n = rc.n + EXCLUDED.n
$$;

CREATE OR REPLACE FUNCTION crm_row_counts_after_insert() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    PERFORM crm_row_counts_bump(TG_TABLE_NAME, org_id, count(*)) FROM new_rows GROUP BY org_id;
    RETURN NULL;
END $fn$;

CREATE OR REPLACE FUNCTION crm_row_counts_after_delete() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    PERFORM crm_row_counts_bump(TG_TABLE_NAME, org_id, -count(*)) FROM old_rows GROUP BY org_id;
    RETURN NULL;
END $fn$;

-- Counts `tbl` (a table with `org_id`) from now on, backfilling what it already holds.
CREATE OR REPLACE FUNCTION crm_count_rows(tbl text) RETURNS void
LANGUAGE plpgsql AS $fn$
BEGIN
    EXECUTE format('DROP TRIGGER IF EXISTS row_counts_ins ON %I', tbl);
    EXECUTE format('DROP TRIGGER IF EXISTS row_counts_del ON %I', tbl);
    EXECUTE format('CREATE TRIGGER row_counts_ins AFTER INSERT ON %I REFERENCING NEW TABLE AS new_rows
                    FOR EACH STATEMENT EXECUTE FUNCTION crm_row_counts_after_insert()', tbl);
    EXECUTE format('CREATE TRIGGER row_counts_del AFTER DELETE ON %I REFERENCING OLD TABLE AS old_rows
                    FOR EACH STATEMENT EXECUTE FUNCTION crm_row_counts_after_delete()', tbl);
    DELETE FROM row_counts WHERE row_counts.tbl = crm_count_rows.tbl;
    EXECUTE format('INSERT INTO row_counts (tbl, org_id, shard, n)
                    SELECT %L, org_id, 0, count(*) FROM %I GROUP BY org_id', tbl, tbl);
END
$fn$;

SELECT crm_count_rows('contacts');

SELECT crm_enable_rls();
