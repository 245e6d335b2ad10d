-- Token revocation: every JWT of a user issued at or before this instant (whole seconds, as `iat`)
-- is rejected. Set by logout, password change, deactivation and membership removal.
ALTER TABLE users ADD COLUMN IF NOT EXISTS tokens_revoked_at timestamp with time zone;

-- Profiles are looked up by (user, org) on every request.
CREATE INDEX IF NOT EXISTS profile_user_org_active_idx ON profile (user_id, org_id) WHERE is_active;
