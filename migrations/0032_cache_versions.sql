-- Data versions for the response cache (crate::cache). Every statement that writes a table whose
-- rows appear in a cached response bumps a counter of the org it wrote (the transaction's
-- `app.current_org`, which RLS makes the only org it can write); writes without an org context
-- (migrations, superuser scripts) and writes to `users` (a user belongs to several orgs) bump the
-- global scope, the nil UUID. A cached response is served only while
-- sum(counters of its org and of the global scope) is what it was when the response was built,
-- read in the request's own transaction, so no process ever serves a page older than what its
-- transaction can see, however many servers share the database.
--
-- Counters only grow, so a sum that did not change means no write committed in between. Each
-- scope's counter is spread over 16 shards (picked by backend pid), as `lead_counts`, so
-- concurrent writers in one org do not queue on one row until they commit. The table holds no
-- org data (counters only) and is not under RLS: any org's write can only cause cache misses.
CREATE TABLE IF NOT EXISTS cache_versions (
    scope uuid NOT NULL,
    shard smallint NOT NULL,
    n bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (scope, shard)
);

CREATE OR REPLACE FUNCTION crm_cache_bump(s uuid) RETURNS void
LANGUAGE plpgsql AS $fn$
BEGIN
    -- Once per scope and transaction: later statements of the same transaction commit together
    -- with the first bump. (set_config is undone with a rolled-back savepoint, like the bump.)
    IF current_setting('app.cache_bumped', true) IS NOT DISTINCT FROM s::text THEN
        RETURN;
    END IF;
    INSERT INTO cache_versions AS cv (scope, shard, n) VALUES (s, pg_backend_pid() % 16, 1)
    ON CONFLICT (scope, shard) DO UPDATE SET n = cv.n + 1;
    PERFORM set_config('app.cache_bumped', s::text, true);
END
$fn$;

CREATE OR REPLACE FUNCTION crm_cache_touch_org() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    PERFORM crm_cache_bump(coalesce(NULLIF(current_setting('app.current_org', true), '')::uuid,
                                    '00000000-0000-0000-0000-000000000000'));
    RETURN NULL;
END
$fn$;

CREATE OR REPLACE FUNCTION crm_cache_touch_global() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    PERFORM crm_cache_bump('00000000-0000-0000-0000-000000000000');
    RETURN NULL;
END
$fn$;

-- Watches a table: `global` for tables whose rows are shared by orgs.
CREATE OR REPLACE FUNCTION crm_cache_watch(tbl text, global boolean DEFAULT false) RETURNS void
LANGUAGE plpgsql AS $fn$
BEGIN
    EXECUTE format('DROP TRIGGER IF EXISTS cache_touch ON %I', tbl);
    EXECUTE format('CREATE TRIGGER cache_touch AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON %I
                    FOR EACH STATEMENT EXECUTE FUNCTION %s()',
                   tbl, CASE WHEN global THEN 'crm_cache_touch_global' ELSE 'crm_cache_touch_org' END);
END
$fn$;

-- What the lead list renders: leads and their links, members and their users, teams, tags,
-- contacts (nested objects and the lookup list) and the org itself.
SELECT crm_cache_watch(t) FROM unnest(ARRAY[
    'lead', 'lead_assigned_to', 'lead_teams', 'lead_tags', 'lead_contacts',
    'profile', 'teams', 'teams_users', 'tags',
    'contacts', 'contacts_assigned_to', 'contacts_teams', 'contacts_tags', 'organization']) t;
SELECT crm_cache_watch('users', true);
