-- Issue 9: org admins act only on their own org's memberships.
--
-- An existing account is invited to an org, not added: the membership is created when its owner
-- accepts (POST /api/auth/invitations/accept/). One pending invitation per (org, user); the
-- link's token is never stored (it is an HMAC of the ids under SECRET_KEY, see auth::links).
CREATE TABLE IF NOT EXISTS org_invitation (
    id uuid PRIMARY KEY,
    org_id uuid NOT NULL REFERENCES organization (id) ON DELETE CASCADE,
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role text NOT NULL,
    is_organization_admin boolean NOT NULL DEFAULT false,
    has_sales_access boolean NOT NULL DEFAULT false,
    has_marketing_access boolean NOT NULL DEFAULT false,
    invited_by_id uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    accepted_at timestamptz
);
CREATE UNIQUE INDEX IF NOT EXISTS org_invitation_pending_idx
    ON org_invitation (org_id, user_id) WHERE accepted_at IS NULL;
CREATE INDEX IF NOT EXISTS org_invitation_user_idx ON org_invitation (user_id);
-- Besides the org policy (crm_enable_rls below), the invited user reads their own invitations
-- (GET /api/auth/invitations/ runs with app.current_user and no org).
DROP POLICY IF EXISTS invitee_read ON org_invitation;
CREATE POLICY invitee_read ON org_invitation FOR SELECT
    USING (user_id = NULLIF(current_setting('app.current_user', true), '')::uuid);

-- Tokens are revoked per membership: removing or deactivating a member invalidates the tokens
-- they hold for this org only (users.tokens_revoked_at still revokes everything: logout,
-- password change).
ALTER TABLE profile ADD COLUMN IF NOT EXISTS tokens_revoked_at timestamptz;

-- Registration with an address that has an account e-mails its owner, at most once an hour.
ALTER TABLE users ADD COLUMN IF NOT EXISTS account_notice_sent_at timestamptz;

SELECT crm_enable_rls();
