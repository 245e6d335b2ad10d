-- Tasks list pages: newest first (id as tie-break) and by due date, straight from an index at any
-- org size; the daily reminder reads the open tasks due up to today.
CREATE INDEX IF NOT EXISTS task_org_created_idx ON task (org_id, created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS task_org_due_idx ON task (org_id, due_date, id) WHERE due_date IS NOT NULL;
-- Title uniqueness is checked case-insensitively per org on every write.
CREATE INDEX IF NOT EXISTS task_org_title_idx ON task (org_id, lower(title));

-- The response cache (migration 0032): a tasks page renders tasks, their links and the records
-- they point at (accounts, opportunities, cases, leads are watched by 0032/0100 already).
SELECT crm_cache_watch(t) FROM unnest(ARRAY[
    'task', 'task_assigned_to', 'task_teams', 'task_tags', 'task_contacts']) t;

-- An admin's unfiltered `tasks_count` reads the per-org counter (migration 0111).
SELECT crm_count_rows('task');

-- The daily reminder: one row per task, assignee and day it was sent for, so a second run on
-- the same day (another worker, a retry, a restart) e-mails nobody twice.
CREATE TABLE IF NOT EXISTS task_reminder (
    org_id uuid NOT NULL REFERENCES organization (id) ON DELETE CASCADE,
    task_id uuid NOT NULL REFERENCES task (id) ON DELETE CASCADE,
    profile_id uuid NOT NULL REFERENCES profile (id) ON DELETE CASCADE,
    day date NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (task_id, profile_id, day)
);
CREATE INDEX IF NOT EXISTS task_reminder_org_day_idx ON task_reminder (org_id, day);

-- Comments and attachments of tasks use this content type.
INSERT INTO django_content_type (app_label, model) VALUES ('tasks', 'task')
ON CONFLICT (app_label, model) DO NOTHING;

SELECT crm_enable_rls();
