-- Comments and attachments name their record through django_content_type (upstream's generic
-- relation). A database Django migrated has these rows; a fresh one gets them here, with the
-- same (app_label, model) pairs, so the ids keep working either way.
INSERT INTO django_content_type (app_label, model) VALUES
    ('leads', 'lead'),
    ('accounts', 'account'),
    ('contacts', 'contact'),
    ('opportunity', 'opportunity'),
    ('cases', 'case'),
    ('tasks', 'task'),
    ('invoices', 'invoice'),
    ('common', 'document')
ON CONFLICT (app_label, model) DO NOTHING;

-- Document lists filter by org and status and sort by date.
CREATE INDEX IF NOT EXISTS document_org_status_created_idx ON document (org_id, status, created_at DESC);
