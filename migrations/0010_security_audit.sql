-- Security audit log writes, and unlinking a row from every join table.
--
-- security_audit_log.org_id is NULL-able (failed logins, refreshes of org-less tokens, invalid API
-- keys happen before any org is known), but the org_isolation policy only admits rows whose org_id
-- equals app.current_org, so a NULL-org row can never be inserted by the app role. Instead of
-- weakening the policy, every audit row is written by crm_audit_write(), a SECURITY DEFINER
-- function owned by the migrating role:
--   * a row naming an org is accepted only when that org is the transaction's app.current_org
--     (the app cannot forge audit rows into another tenant's log);
--   * a row with org_id NULL is accepted always; the extra INSERT policy below admits it only when
--     the inserting role is the table owner, i.e. only through this function. No tenant can read
--     NULL-org rows (org_isolation's USING), so they are for operators only.
-- Admins read their own org's rows through the normal policy.

CREATE OR REPLACE FUNCTION crm_audit_write(
    p_event_type text, p_user_id uuid, p_org_id uuid, p_description text, p_metadata jsonb,
    p_ip text, p_user_agent text, p_path text, p_method text, p_success boolean
) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $fn$
DECLARE
    ctx uuid := NULLIF(current_setting('app.current_org', true), '')::uuid;
    ip inet;
BEGIN
    IF p_org_id IS NOT NULL AND p_org_id IS DISTINCT FROM ctx THEN
        RAISE EXCEPTION 'audit row for org % outside its org context', p_org_id
            USING ERRCODE = '42501';
    END IF;
    BEGIN
        ip := p_ip::inet;
    EXCEPTION WHEN others THEN
        ip := NULL;
    END;
    INSERT INTO security_audit_log (created_at, updated_at, id, event_type, description, metadata,
                                    ip_address, user_agent, request_path, request_method, success,
                                    created_by_id, org_id, updated_by_id, user_id)
    VALUES (now(), now(), gen_random_uuid(), left(p_event_type, 50), coalesce(p_description, ''),
            coalesce(p_metadata, '{}'::jsonb), ip, left(coalesce(p_user_agent, ''), 500),
            left(coalesce(p_path, ''), 500), left(coalesce(p_method, ''), 10), p_success,
            p_user_id, p_org_id, p_user_id, p_user_id);
END
$fn$;

DROP POLICY IF EXISTS audit_orgless_insert ON security_audit_log;
CREATE POLICY audit_orgless_insert ON security_audit_log FOR INSERT
    WITH CHECK (org_id IS NULL AND current_user = (
        SELECT pg_get_userbyid(c.relowner) FROM pg_class c WHERE c.oid = 'public.security_audit_log'::regclass));

CREATE INDEX IF NOT EXISTS security_audit_log_org_created_idx
    ON security_audit_log (org_id, created_at DESC);

-- Deletes every join-table row that points at `parent_id` in `parent_table` (team deletion, member
-- removal): the upstream schema's foreign keys have no ON DELETE, Django cascaded in Python. Runs
-- as the caller, so RLS on the join tables still applies.
CREATE OR REPLACE FUNCTION crm_unlink(parent_table text, parent_id uuid) RETURNS integer
LANGUAGE plpgsql AS $fn$
DECLARE
    r record;
    n integer := 0;
    k integer;
BEGIN
    FOR r IN
        SELECT t.table_name, a.attname::text AS col
        FROM crm_rls_targets() t
        JOIN pg_constraint con ON con.conrelid = format('public.%I', t.table_name)::regclass
             AND con.contype = 'f' AND con.confrelid = format('public.%I', parent_table)::regclass
        JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = con.conkey[1]
        WHERE t.kind = 'join'
    LOOP
        EXECUTE format('DELETE FROM %I WHERE %I = $1', r.table_name, r.col) USING parent_id;
        GET DIAGNOSTICS k = ROW_COUNT;
        n := n + k;
    END LOOP;
    RETURN n;
END
$fn$;

-- How many orgs a user belongs to (any status). Profile rows of other orgs are hidden by RLS, so
-- the function looks through the user's own-rows window (app.current_user) for this one query
-- and puts the caller's setting back.
CREATE OR REPLACE FUNCTION crm_membership_count(p_user uuid) RETURNS bigint
LANGUAGE plpgsql AS $fn$
DECLARE
    prev text := coalesce(current_setting('app.current_user', true), '');
    n bigint;
BEGIN
    PERFORM set_config('app.current_user', p_user::text, true);
    SELECT count(*) INTO n FROM profile WHERE user_id = p_user;
    PERFORM set_config('app.current_user', prev, true);
    RETURN n;
END
$fn$;
