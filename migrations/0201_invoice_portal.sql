-- Client portal (issue 14 item 6): a request without login presents a document's public token.
-- These policies let a transaction that set `app.portal_token` read exactly the invoice or
-- estimate whose enabled, unexpired link carries that token (knowing the 256-bit token is the
-- authorization), so the org is resolved under RLS without a privileged function; the handler
-- then sets that org's context for the rest of the request.
ALTER TABLE invoice ADD COLUMN IF NOT EXISTS public_link_expires_at timestamptz;
ALTER TABLE estimate ADD COLUMN IF NOT EXISTS public_link_expires_at timestamptz;

DROP POLICY IF EXISTS invoice_portal_lookup ON invoice;
CREATE POLICY invoice_portal_lookup ON invoice FOR SELECT
    USING (public_link_enabled AND public_token = NULLIF(current_setting('app.portal_token', true), '')
           AND (public_link_expires_at IS NULL OR public_link_expires_at > now()));
DROP POLICY IF EXISTS estimate_portal_lookup ON estimate;
CREATE POLICY estimate_portal_lookup ON estimate FOR SELECT
    USING (public_link_enabled AND public_token = NULLIF(current_setting('app.portal_token', true), '')
           AND (public_link_expires_at IS NULL OR public_link_expires_at > now()));
