-- Cases and solutions (issue 12). The tables, their join tables and RLS come from 0001/0002
-- (`crm_enable_rls` covers "case", solution and every join table between them).

-- SLA breach e-mails go out once per breach: the scheduled check (`case_sla` job) stamps the
-- breach it mailed about, and never mails a stamped breach again.
ALTER TABLE "case" ADD COLUMN IF NOT EXISTS sla_first_response_breach_notified_at timestamptz;
ALTER TABLE "case" ADD COLUMN IF NOT EXISTS sla_resolution_breach_notified_at timestamptz;

-- The list in its default order (newest first, id as tie-break) straight from an index.
CREATE INDEX IF NOT EXISTS case_org_created_id_idx ON "case" (org_id, created_at DESC, id DESC);
-- The SLA check reads only open cases with a breach not yet mailed.
CREATE INDEX IF NOT EXISTS case_sla_open_idx ON "case" (org_id, created_at)
    WHERE resolved_at IS NULL
      AND (sla_first_response_breach_notified_at IS NULL OR sla_resolution_breach_notified_at IS NULL);
CREATE INDEX IF NOT EXISTS solution_org_created_idx ON solution (org_id, created_at DESC, id DESC);

-- The response cache (0032): the cases list renders cases, their links, their comments and the
-- accounts and contacts lookups.
SELECT crm_cache_watch(t) FROM unnest(ARRAY[
    'case', 'case_assigned_to', 'case_teams', 'case_tags', 'case_contacts', 'comment',
    'accounts', 'accounts_assigned_to', 'accounts_teams', 'solution', 'solution_cases']) t;

-- An admin's unfiltered list reads the count from `row_counts` (0111).
SELECT crm_count_rows('case');

INSERT INTO django_content_type (app_label, model) VALUES ('cases', 'case')
ON CONFLICT (app_label, model) DO NOTHING;
