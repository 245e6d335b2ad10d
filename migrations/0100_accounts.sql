-- Accounts list pages: each section (active / inactive) in the default order (newest first, id as
-- tie-break) and in the frontend's `ordering=name`, straight from an index at any org size.
CREATE INDEX IF NOT EXISTS accounts_org_active_created_idx ON accounts (org_id, is_active, created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS accounts_org_active_name_idx ON accounts (org_id, is_active, name, id);
-- The account's e-mails on its detail page; an e-mail's log rows for the sending job.
CREATE INDEX IF NOT EXISTS emaillogs_email_idx ON "emailLogs" (email_id);

-- The response cache (migration 0032): the accounts list renders accounts and their links, and the
-- opportunities, cases and tasks that point at them.
SELECT crm_cache_watch(t) FROM unnest(ARRAY[
    'accounts', 'accounts_assigned_to', 'accounts_teams', 'accounts_tags', 'accounts_contacts',
    'opportunity', 'case', 'task']) t;

-- Comments and attachments of accounts use this content type.
INSERT INTO django_content_type (app_label, model) VALUES ('accounts', 'account')
ON CONFLICT (app_label, model) DO NOTHING;
