-- Background jobs, schedules and the e-mail ledger.
--
-- These are infrastructure tables, read by workers across every org, so they carry no `org_id`
-- column and get no RLS policy (crm_rls_targets() keys on a column named `org_id`). A job's org is
-- `tenant_org_id`; the worker runs the job inside a transaction with app.current_org set to it,
-- so everything the job touches in org tables is still bound by RLS.

CREATE TABLE IF NOT EXISTS jobs (
    id uuid PRIMARY KEY,
    tenant_org_id uuid,
    kind text NOT NULL,
    payload jsonb NOT NULL,
    status text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'done', 'failed')),
    attempts integer NOT NULL DEFAULT 0,
    max_attempts integer NOT NULL DEFAULT 5,
    run_at timestamptz NOT NULL DEFAULT now(),
    -- Lease: a running job whose lease ran out (worker killed) is taken again by another worker.
    locked_until timestamptz,
    locked_by text,
    last_error text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz
);
-- What workers scan: only unfinished jobs, in run order.
CREATE INDEX IF NOT EXISTS jobs_pending_idx ON jobs (run_at) WHERE status IN ('queued', 'running');
CREATE INDEX IF NOT EXISTS jobs_failed_idx ON jobs (updated_at) WHERE status = 'failed';
CREATE INDEX IF NOT EXISTS jobs_done_idx ON jobs (finished_at) WHERE status = 'done';

-- One row per schedule; a worker fires it by moving next_run_at forward under a row lock, so a
-- period fires once however many workers run.
CREATE TABLE IF NOT EXISTS job_schedules (
    name text PRIMARY KEY,
    cron text NOT NULL,
    next_run_at timestamptz NOT NULL,
    last_run_at timestamptz
);

-- Every e-mail handed to a transport. `outbox` transport: this row IS the e-mail. `smtp`: the
-- record that the server accepted it (bodies left empty: they may hold reset links), so a
-- retried job does not send a second copy.
CREATE TABLE IF NOT EXISTS mail_outbox (
    id uuid PRIMARY KEY,
    idempotency_key text NOT NULL UNIQUE,
    tenant_org_id uuid,
    job_id uuid,
    transport text NOT NULL,
    from_addr text NOT NULL,
    to_addr text NOT NULL,
    subject text NOT NULL,
    text_body text NOT NULL,
    html_body text NOT NULL,
    message_id text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS mail_outbox_created_idx ON mail_outbox (created_at);

-- Password reset: only a SHA-256 of the token is stored; used_at makes it single-use.
CREATE TABLE IF NOT EXISTS password_reset_token (
    token_hash text PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at timestamptz
);
CREATE INDEX IF NOT EXISTS password_reset_token_user_idx ON password_reset_token (user_id);
