-- Public contact forms (issue 16): an org publishes a form under a random key; anyone may post
-- to it without logging in. Submissions land in upstream's unused `contact_form_submission`,
-- which gets the org column (and so the org_isolation policy) it lacked.

CREATE TABLE IF NOT EXISTS contact_form (
    id uuid PRIMARY KEY,
    org_id uuid NOT NULL REFERENCES organization (id) ON DELETE CASCADE,
    -- The public key in the form's URL: random, never the id.
    key varchar(64) NOT NULL UNIQUE,
    name varchar(255) NOT NULL,
    is_active boolean NOT NULL DEFAULT true,
    -- Also create a lead from each submission.
    create_lead boolean NOT NULL DEFAULT false,
    created_by_id uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS contact_form_org_idx ON contact_form (org_id, created_at DESC, id DESC);

-- Upstream never wrote it; rows an adopted database might hold have no org and stay invisible
-- (org_isolation admits no NULL org, and its WITH CHECK stops new ones), so none is deleted.
ALTER TABLE contact_form_submission
    ADD COLUMN IF NOT EXISTS org_id uuid REFERENCES organization (id) ON DELETE CASCADE,
    ADD COLUMN IF NOT EXISTS form_id uuid REFERENCES contact_form (id) ON DELETE SET NULL,
    ADD COLUMN IF NOT EXISTS lead_id uuid;
CREATE INDEX IF NOT EXISTS contact_form_submission_org_idx
    ON contact_form_submission (org_id, created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS contact_form_submission_ip_idx
    ON contact_form_submission (org_id, ip_address, created_at);

SELECT crm_enable_rls();

-- A public request knows only the key: it sets app.form_key in its transaction and sees that
-- one active form (to learn its org), nothing else. org_isolation is untouched.
DROP POLICY IF EXISTS public_form_key ON contact_form;
CREATE POLICY public_form_key ON contact_form FOR SELECT
    USING (is_active AND key = NULLIF(current_setting('app.form_key', true), ''));
