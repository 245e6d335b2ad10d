-- Lead imports run as background jobs (POST /api/leads/upload/ with more rows than answer at
-- once): the uploaded file waits here for the worker, which reports progress and, at the end,
-- the outcome and the per-row errors in the same row. The file is cleared when the job ends.
CREATE TABLE IF NOT EXISTS lead_import (
    id uuid PRIMARY KEY,
    org_id uuid NOT NULL REFERENCES organization (id) ON DELETE CASCADE,
    -- Who uploaded it: the leads' creator and the activity's actor.
    created_by_id uuid REFERENCES users (id) ON DELETE SET NULL,
    profile_id uuid,
    job_id uuid,
    file_name text NOT NULL DEFAULT '',
    format text NOT NULL CHECK (format IN ('csv', 'xlsx')),
    file bytea,
    status text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'done', 'failed')),
    total integer NOT NULL DEFAULT 0,
    processed integer NOT NULL DEFAULT 0,
    created integer NOT NULL DEFAULT 0,
    failed integer NOT NULL DEFAULT 0,
    message text NOT NULL DEFAULT '',
    -- [{"row": <line>, "errors": {"field": ["message"]}}], ordered by row.
    rows jsonb NOT NULL DEFAULT '[]',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz
);
CREATE INDEX IF NOT EXISTS lead_import_org_created_idx ON lead_import (org_id, created_at DESC);

SELECT crm_enable_rls();
