-- Opportunities list pages: the default order (newest first, id as tie-break) straight from an
-- index at any org size; line items of a page in display order.
CREATE INDEX IF NOT EXISTS opportunity_org_created_id_idx ON opportunity (org_id, created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS opportunity_line_item_opp_order_idx
    ON opportunity_line_item (opportunity_id, "order", created_at, id);

-- The response cache (migration 0032): the opportunities list renders the opportunity, its links,
-- its line items (with their products), accounts, contacts, tasks (counted) and tags.
SELECT crm_cache_watch(t) FROM unnest(ARRAY[
    'opportunity', 'opportunity_assigned_to', 'opportunity_teams', 'opportunity_tags',
    'opportunity_contacts', 'opportunity_line_item', 'product', 'accounts', 'task']) t;

-- The unfiltered admin list reads its count from `row_counts` (migration 0111).
SELECT crm_count_rows('opportunity');

-- Django's `timesince` + " ago" (the opportunity's `created_on_arrow`): at most two adjacent
-- units, a no-break space inside each, "0 minutes ago" under a minute. Same text as
-- `common::activity::humanize`.
CREATE OR REPLACE FUNCTION crm_timesince(t timestamptz) RETURNS text
LANGUAGE sql STABLE AS $fn$
    WITH s AS (SELECT greatest(0, floor(extract(epoch FROM now() - t)))::bigint AS s),
    u(i, size, unit) AS (VALUES (1, 31536000::bigint, 'year'), (2, 2592000, 'month'), (3, 604800, 'week'),
                                (4, 86400, 'day'), (5, 3600, 'hour'), (6, 60, 'minute')),
    f AS (SELECT u.i, u.size, u.unit, s.s / u.size AS n, s.s - (s.s / u.size) * u.size AS rest
          FROM u, s WHERE s.s / u.size > 0 ORDER BY u.i LIMIT 1)
    SELECT coalesce(
        (SELECT f.n || E'\u00a0' || f.unit || CASE WHEN f.n = 1 THEN '' ELSE 's' END
                || coalesce((SELECT ', ' || (f.rest / u2.size) || E'\u00a0' || u2.unit
                                    || CASE WHEN f.rest / u2.size = 1 THEN '' ELSE 's' END
                             FROM u u2 WHERE u2.i = f.i + 1 AND f.rest / u2.size > 0), '')
         FROM f),
        E'0\u00a0minutes') || ' ago'
$fn$;

-- Comments and attachments of opportunities use this content type.
INSERT INTO django_content_type (app_label, model) VALUES ('opportunity', 'opportunity')
ON CONFLICT (app_label, model) DO NOTHING;

SELECT crm_enable_rls();
