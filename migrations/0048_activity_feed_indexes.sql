-- Activity feeds (`/api/activities/`, the dashboard) read an org's newest rows, optionally of
-- one entity type, and for members who are not admins also one member's newest actions: each
-- is an index-ordered LIMIT scan, so its cost does not grow with the org's history. Activities
-- of the records a member may see are found through upstream's (entity_type, entity_id) index.
CREATE INDEX IF NOT EXISTS activity_org_recent_idx ON activity (org_id, created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS activity_org_type_recent_idx
    ON activity (org_id, entity_type, created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS activity_user_recent_idx ON activity (user_id, created_at DESC, id DESC);
