-- Contacts list: besides the tables 0032 already watches (contacts and their links, members,
-- teams, tags, the org), a page renders the accounts listing each contact and counts its tasks,
-- opportunities and cases: writes to those invalidate the cached pages too.
SELECT crm_cache_watch(t) FROM unnest(ARRAY[
    'accounts', 'accounts_contacts', 'task_contacts', 'opportunity_contacts', 'case_contacts']) t;
