-- E-mails sent from CRM records (issue 16): org templates and the history of every message.
-- Both tables carry org_id and get the org_isolation policy from crm_enable_rls() below.

CREATE TABLE IF NOT EXISTS crm_email_template (
    id uuid PRIMARY KEY,
    org_id uuid NOT NULL REFERENCES organization (id) ON DELETE CASCADE,
    name varchar(255) NOT NULL,
    subject text NOT NULL DEFAULT '',
    body text NOT NULL DEFAULT '',
    -- Shared templates are managed by admins and offered to every member; personal ones only
    -- to their creator.
    is_shared boolean NOT NULL DEFAULT false,
    created_by_id uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS crm_email_template_org_idx ON crm_email_template (org_id, name, id);

-- One row per message. `subject`/`body` are what the sender wrote (placeholders included);
-- `rendered_*` is the full message as it left, filled in by the sending job.
CREATE TABLE IF NOT EXISTS crm_email (
    id uuid PRIMARY KEY,
    org_id uuid NOT NULL REFERENCES organization (id) ON DELETE CASCADE,
    record_type varchar(20) NOT NULL
        CHECK (record_type IN ('lead', 'contact', 'account', 'opportunity', 'case')),
    record_id uuid NOT NULL,
    thread_id uuid NOT NULL,
    in_reply_to_id uuid REFERENCES crm_email (id) ON DELETE SET NULL,
    from_email varchar(254) NOT NULL,
    to_addrs text[] NOT NULL DEFAULT '{}',
    cc_addrs text[] NOT NULL DEFAULT '{}',
    bcc_addrs text[] NOT NULL DEFAULT '{}',
    subject text NOT NULL DEFAULT '',
    body text NOT NULL DEFAULT '',
    template_id uuid REFERENCES crm_email_template (id) ON DELETE SET NULL,
    status varchar(10) NOT NULL CHECK (status IN ('draft', 'queued', 'sent', 'failed', 'bounced')),
    error text,
    scheduled_at timestamptz,
    sent_at timestamptz,
    message_id text,
    rendered_subject text,
    rendered_html text,
    rendered_text text,
    -- Placeholder values fixed at queue time (e.g. the contact an account e-mail goes to);
    -- NULL: the record's fields when the message is sent.
    context jsonb,
    -- An account e-mail's recipient row (`POST /api/accounts/<id>/create_mail/`), marked sent
    -- with this message.
    account_email_log_id uuid,
    created_by_id uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
-- A record's history, newest first; a thread; an org's outbox view.
CREATE INDEX IF NOT EXISTS crm_email_record_idx
    ON crm_email (org_id, record_type, record_id, created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS crm_email_thread_idx ON crm_email (thread_id, created_at, id);
CREATE INDEX IF NOT EXISTS crm_email_org_created_idx ON crm_email (org_id, created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS crm_email_account_log_idx ON crm_email (account_email_log_id)
    WHERE account_email_log_id IS NOT NULL;

-- Addresses and domains no e-mail of the org goes to (CRM e-mails and campaigns alike):
-- unsubscribed, bounced, or blocked by an admin. Values are stored lower-case.
CREATE TABLE IF NOT EXISTS email_suppression (
    id uuid PRIMARY KEY,
    org_id uuid NOT NULL REFERENCES organization (id) ON DELETE CASCADE,
    kind varchar(10) NOT NULL CHECK (kind IN ('address', 'domain')),
    value varchar(254) NOT NULL,
    reason varchar(20) NOT NULL CHECK (reason IN ('unsubscribed', 'bounced', 'blocked')),
    created_by_id uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (org_id, kind, value)
);

SELECT crm_enable_rls();
