-- Row-level security, stronger than upstream's:
--  * every table with an org_id column (profile and security_audit_log included) gets ONE policy
--    `org_isolation` with the NULLIF fail-safe on both USING and WITH CHECK (no context, no rows);
--  * every join table between org-scoped tables is protected through its two parents: a link row is
--    visible and insertable only when BOTH linked rows belong to the current org, so a foreign-org
--    id can never be linked even though foreign keys ignore RLS;
--  * profile rows are also visible to their own user (app.current_user), so login and org listing
--    work before an org is chosen; writes still need the org context.
-- The context is always set per transaction: set_config('app.current_org', <uuid>, true).
-- `bottlecrm rls enable` / `rls disable` call the same functions; later migrations that add
-- org-scoped tables end with `SELECT crm_enable_rls();`.

-- What is protected and how: one row per table. kind = 'org' (has org_id) or 'join'.
CREATE OR REPLACE FUNCTION crm_rls_targets()
RETURNS TABLE (table_name text, kind text, columns text[], parents text[])
LANGUAGE sql STABLE AS $fn$
    WITH org_tables AS (
        SELECT c.oid, c.relname::text AS relname
        FROM pg_class c
        JOIN pg_namespace ns ON ns.oid = c.relnamespace
        JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'org_id' AND NOT a.attisdropped
        WHERE ns.nspname = 'public' AND c.relkind = 'r'
    ),
    join_fks AS (
        SELECT con.conrelid, a.attname::text AS col, parent.relname AS parent
        FROM pg_constraint con
        JOIN pg_class t ON t.oid = con.conrelid
        JOIN pg_namespace ns ON ns.oid = t.relnamespace
        JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = con.conkey[1]
        LEFT JOIN org_tables parent ON parent.oid = con.confrelid
        WHERE con.contype = 'f' AND ns.nspname = 'public' AND t.relkind = 'r'
          AND con.conrelid NOT IN (SELECT oid FROM org_tables)
    )
    SELECT relname, 'org', ARRAY['org_id'], ARRAY[]::text[] FROM org_tables
    UNION ALL
    SELECT t.relname::text, 'join', array_agg(f.col ORDER BY f.col), array_agg(f.parent ORDER BY f.col)
    FROM join_fks f JOIN pg_class t ON t.oid = f.conrelid
    GROUP BY t.relname
    HAVING count(*) = 2 AND bool_and(f.parent IS NOT NULL)
    ORDER BY 1
$fn$;

CREATE OR REPLACE FUNCTION crm_enable_rls() RETURNS integer
LANGUAGE plpgsql AS $fn$
DECLARE
    t record;
    n integer := 0;
    org_ctx constant text := $e$NULLIF(current_setting('app.current_org', true), '')::uuid$e$;
    user_ctx constant text := $e$NULLIF(current_setting('app.current_user', true), '')::uuid$e$;
    cond text;
BEGIN
    PERFORM set_config('client_min_messages', 'warning', true);
    FOR t IN SELECT * FROM crm_rls_targets() LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t.table_name);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t.table_name);
        EXECUTE format('DROP POLICY IF EXISTS org_isolation ON %I', t.table_name);
        EXECUTE format('DROP POLICY IF EXISTS org_insert_check ON %I', t.table_name);
        IF t.kind = 'org' AND t.table_name = 'profile' THEN
            EXECUTE format(
                'CREATE POLICY org_isolation ON %I FOR ALL USING (org_id = %s OR user_id = %s) WITH CHECK (org_id = %s)',
                t.table_name, org_ctx, user_ctx, org_ctx);
        ELSIF t.kind = 'org' THEN
            EXECUTE format(
                'CREATE POLICY org_isolation ON %I FOR ALL USING (org_id = %s) WITH CHECK (org_id = %s)',
                t.table_name, org_ctx, org_ctx);
        ELSE
            cond := format(
                'EXISTS (SELECT 1 FROM %I p WHERE p.id = %I AND p.org_id = %s) AND EXISTS (SELECT 1 FROM %I p WHERE p.id = %I AND p.org_id = %s)',
                t.parents[1], t.columns[1], org_ctx, t.parents[2], t.columns[2], org_ctx);
            EXECUTE format('CREATE POLICY org_isolation ON %I FOR ALL USING (%s) WITH CHECK (%s)',
                t.table_name, cond, cond);
        END IF;
        n := n + 1;
    END LOOP;
    RETURN n;
END
$fn$;

CREATE OR REPLACE FUNCTION crm_disable_rls() RETURNS integer
LANGUAGE plpgsql AS $fn$
DECLARE
    t record;
    n integer := 0;
BEGIN
    PERFORM set_config('client_min_messages', 'warning', true);
    FOR t IN SELECT * FROM crm_rls_targets() LOOP
        EXECUTE format('DROP POLICY IF EXISTS org_isolation ON %I', t.table_name);
        EXECUTE format('DROP POLICY IF EXISTS org_insert_check ON %I', t.table_name);
        EXECUTE format('ALTER TABLE %I NO FORCE ROW LEVEL SECURITY', t.table_name);
        EXECUTE format('ALTER TABLE %I DISABLE ROW LEVEL SECURITY', t.table_name);
        n := n + 1;
    END LOOP;
    RETURN n;
END
$fn$;

SELECT crm_enable_rls();
