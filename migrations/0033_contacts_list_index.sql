-- The lead list's contact lookup (the org's newest 1,000 contacts) and the contacts list read
-- contacts newest first: straight from this index instead of sorting the org's contacts.
CREATE INDEX IF NOT EXISTS contacts_org_created_id_idx ON contacts (org_id, created_at DESC, id);
